#!/bin/bash
# Direct test tier: runs the freestanding test guests of tests/guests under hvkvm on this host's
# /dev/kvm (or under QEMU TCG with RUNNER=qemu, to cross-check the guests) and judges each run by
# its exit status and what it printed. One line per case: "PASS direct/<name>" or
# "FAIL direct/<name>: <reason>"; exits 0 when every case passed.
#
# usage: tests/direct/run.sh [build dir (default: build)] [case ...]
# env:   RUNNER=hvkvm|qemu  HVKVM=<binary>  QEMU=<binary>  TIMEOUT=<seconds per run, default 20>
# logs:  <build dir>/tests/direct/<runner>/<case>.out (serial, \r stripped) and .err (stderr)
#
# Guest exit codes (tests/guests/lib/layout.h): a guest that passes writes 0x10 to the debug-exit
# port 0xf4 -> status 33; one that fails writes 0x11 -> 35; debug_exit writes 42 -> 85.
# Poweroff and (with --on-reboot exit) reset end hvkvm with 0.

set -u

build=${1:-build}
[ $# -gt 0 ] && shift
runner=${RUNNER:-hvkvm}
timeout_s=${TIMEOUT:-20}
guests=$build/tests/guests
hvkvm=${HVKVM:-$build/hvkvm}
qemu=${QEMU:-qemu-system-x86_64}
logdir=$build/tests/direct/$runner

STATUS_PASS=33
MEMORY_MB=64
MODULE_SIZE=100000
# Longer than the 16550's 16-byte FIFO: the VMM must hold input back until the guest reads.
SERIAL_INPUT=hello-hvkvm-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789
LONG_LINE_LEN=300
LONG_LINE_ALPHABET=0123456789abcdefghijklmnopqrstuvwxyz
RESTART_WINDOW_S=10

all_cases="boot_modes boot_modes_noinitrd boot_modes_elf64 smp smp_1cpu smp_16 serial_io
	serial_io_late io_dispatch poweroff reset reset_acpi reset_restart triple_fault debug_exit"
# Hyper-V (TLFS) guests: hvkvm with the default Hyper-V set plus stimers, and its test connections (QEMU TCG has no Hyper-V,
# so with RUNNER=qemu only hv_cpuid_off runs; the others pass as skipped).
all_cases="$all_cases hv_cpuid hv_cpuid_off hv_msrs hv_hypercall hv_synic hv_stimer hv_tsc_page
	hv_crash hv_crash_restart hv_reset hv_reset_restart hv_smp"
cases=${*:-$all_cases}

case $runner in
hvkvm | qemu) ;;
*)
	echo "run.sh: RUNNER must be hvkvm or qemu" >&2
	exit 2
	;;
esac
mkdir -p "$logdir" || exit 2
module=$logdir/module.bin
# The module's byte i is i % 251 (boot_modes checks this pattern).
perl -e 'print pack("C*", map { $_ % 251 } 0 .. $ARGV[0] - 1)' "$MODULE_SIZE" >"$module" || exit 2
printf '%s\n' "$SERIAL_INPUT" >"$logdir/serial_input.txt"

# --- running one VM -------------------------------------------------------------------------
# vm_cmd fills the array "cmd" from: kernel, and the optional variables initrd, cmdline, cpus,
# on_reboot (exit|restart), and the arrays extra_qemu / extra_hvkvm (arguments for one runner only).
vm_cmd() {
	if [ "$runner" = hvkvm ]; then
		cmd=("$hvkvm" run --kernel "$kernel" --memory "${MEMORY_MB}M" --serial stdio --debug-exit 0xf4)
		[ -n "$initrd" ] && cmd+=(--initrd "$initrd")
		[ -n "$cmdline" ] && cmd+=(--cmdline "$cmdline")
		[ -n "$cpus" ] && cmd+=(--cpus "$cpus")
		[ -n "$on_reboot" ] && cmd+=(--on-reboot "$on_reboot")
		[ ${#extra_hvkvm[@]} -gt 0 ] && cmd+=("${extra_hvkvm[@]}")
	else
		cmd=("$qemu" -accel tcg -M pc -m "$MEMORY_MB" -kernel "$kernel"
			-device "isa-debug-exit,iobase=0xf4,iosize=4" -serial stdio -display none -monitor none)
		[ -n "$initrd" ] && cmd+=(-initrd "$initrd")
		[ -n "$cmdline" ] && cmd+=(-append "$cmdline")
		[ -n "$cpus" ] && cmd+=(-smp "$cpus")
		[ "$on_reboot" = exit ] && cmd+=(-no-reboot)
		[ ${#extra_qemu[@]} -gt 0 ] && cmd+=("${extra_qemu[@]}")
	fi
	return 0
}

# run_vm <case>: runs the VM with stdin from $stdin_file (default /dev/null; through a pipe
# after $stdin_delay seconds if set); sets status, out (serial output without \r) and err.
run_vm() {
	local name=$1
	vm_cmd
	out=$logdir/$name.out
	err=$logdir/$name.err
	printf '%q ' "${cmd[@]}" >"$logdir/$name.cmd"
	echo >>"$logdir/$name.cmd"
	if [ -n "$stdin_delay" ]; then
		{
			sleep "$stdin_delay"
			cat "$stdin_file"
		} | timeout -k 2 "$timeout_s" "${cmd[@]}" >"$out.raw" 2>"$err"
		status=${PIPESTATUS[1]}
	else
		timeout -k 2 "$timeout_s" "${cmd[@]}" <"${stdin_file:-/dev/null}" >"$out.raw" 2>"$err"
		status=$?
	fi
	tr -d '\r' <"$out.raw" >"$out"
	rm -f "$out.raw"
}

reset_vars() {
	kernel='' initrd='' cmdline='' cpus='' on_reboot='' stdin_file='' stdin_delay=''
	extra_qemu=()
	extra_hvkvm=()
}

# --- judging --------------------------------------------------------------------------------
reason=

fail() {
	reason="$*"
	return 1
}

# A short hint from the output: the first failed check, else the last line printed.
hint() {
	local line
	line=$(grep -m1 '^not ok' "$out" 2>/dev/null)
	[ -z "$line" ] && line=$(tail -n1 "$out" 2>/dev/null)
	[ -z "$line" ] && line=$(grep -v '^$' "$err" 2>/dev/null | tail -n1)
	printf '%s' "${line:-no output}" | cut -c1-200
}

want_status() {
	local want=$1
	[ "$status" -eq "$want" ] && return 0
	if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
		fail "timed out after ${timeout_s}s (last: $(hint))"
	else
		fail "exit status $status, want $want (last: $(hint))"
	fi
}

no_failed_checks() {
	local line
	line=$(grep -m1 '^not ok' "$out")
	[ -z "$line" ] || fail "$line"
}

has_line() {
	grep -qxF -- "$1" "$out" || fail "missing line '$1' (last: $(hint))"
}

banners() {
	grep -c "^hvkvm-test $1: start\$" "$out"
}

# --- cases ----------------------------------------------------------------------------------
boot_modes_common() {
	local name=$1 elf=$2 with_module=$3 shown want_cmdline
	kernel=$guests/$elf
	cmdline="hello=world mem_mb=$MEMORY_MB"
	if [ "$with_module" = yes ]; then
		initrd=$module
		cmdline="$cmdline module_size=$MODULE_SIZE"
	fi
	[ "$runner" = hvkvm ] && [ -d /sys/module/kvm_pvm ] && cmdline="$cmdline soft_int=0"
	want_cmdline=$cmdline
	run_vm "$name"
	want_status $STATUS_PASS || return 1
	no_failed_checks || return 1
	# Loaders may put the kernel's path first, as GRUB and QEMU do (and hvkvm, like QEMU).
	shown=$(sed -n "s/^cmdline: '\(.*\)'\$/\1/p" "$out")
	case $shown in
	"$want_cmdline" | "$kernel $want_cmdline") ;;
	*) fail "guest saw cmdline '$shown', want '$want_cmdline' or '$kernel $want_cmdline'" ;;
	esac
}

case_boot_modes() { boot_modes_common boot_modes boot_modes.elf yes; }
case_boot_modes_noinitrd() { boot_modes_common boot_modes_noinitrd boot_modes.elf no; }
case_boot_modes_elf64() { boot_modes_common boot_modes_elf64 boot_modes.elf64 yes; }

smp_common() {
	local name=$1 n=$2 aps
	kernel=$guests/smp.elf
	cpus=$n
	cmdline="cpus=$n"
	run_vm "$name"
	want_status $STATUS_PASS || return 1
	no_failed_checks || return 1
	aps=$(grep -c '^ok ap [0-9]*: APIC ID' "$out")
	[ "$aps" -eq $((n - 1)) ] || fail "$aps APs reported, want $((n - 1))"
}

case_smp() { smp_common smp 4; }
case_smp_1cpu() { smp_common smp_1cpu 1; }
case_smp_16() { smp_common smp_16 16; }

serial_io_common() {
	local name=$1 long
	kernel=$guests/serial_io.elf
	cmdline="input=$SERIAL_INPUT"
	run_vm "$name"
	want_status $STATUS_PASS || return 1
	no_failed_checks || return 1
	has_line "echo: $SERIAL_INPUT" || return 1
	long=$(awk -v n=$LONG_LINE_LEN -v a=$LONG_LINE_ALPHABET \
		'BEGIN { s = "long: "; for (i = 0; i < n; i++) s = s substr(a, i % length(a) + 1, 1); print s }')
	has_line "$long"
}

# Input already waiting at start, then input that arrives while the guest polls.
case_serial_io() {
	stdin_file=$logdir/serial_input.txt
	serial_io_common serial_io
}

case_serial_io_late() {
	stdin_file=$logdir/serial_input.txt
	stdin_delay=1
	serial_io_common serial_io_late
}

case_io_dispatch() {
	local shown guest host diff
	kernel=$guests/io_dispatch.elf
	# QEMU's TCG reads unbacked memory as 0, not all ones.
	[ "$runner" = qemu ] && cmdline="unbacked=0"
	run_vm io_dispatch
	want_status $STATUS_PASS || return 1
	no_failed_checks || return 1
	shown=$(sed -n 's/^rtc: \([0-9-]* [0-9:]*\)$/\1/p' "$out" | head -n1)
	[ -n "$shown" ] || fail "no 'rtc: YYYY-MM-DD HH:MM:SS' line" || return 1
	guest=$(date -u -d "$shown" +%s 2>/dev/null) || fail "unreadable RTC time '$shown'" || return 1
	host=$(date -u +%s)
	diff=$((host - guest))
	[ ${diff#-} -le 120 ] || fail "RTC says $shown UTC, host says $(date -u '+%F %T') (${diff}s apart)"
}

case_poweroff() {
	kernel=$guests/poweroff.elf
	run_vm poweroff
	want_status 0 || return 1
	no_failed_checks || return 1
	grep -q '^poweroff: writing' "$out" || fail "guest did not reach the poweroff write"
}

reset_common() {
	local name=$1 how=$2 n
	kernel=$guests/reset.elf
	cmdline=$how
	on_reboot='exit'
	run_vm "$name"
	if [ "$runner" = qemu ] && [ "$status" -eq $STATUS_PASS ] && grep -q '^reset: skip' "$out"; then
		return 0 # QEMU's i440FX FADT (revision 1) has no reset register
	fi
	want_status 0 || return 1
	no_failed_checks || return 1
	grep -q '^reset: resetting' "$out" || fail "guest did not reach the reset write" || return 1
	n=$(banners reset)
	[ "$n" -eq 1 ] || fail "guest started $n times, want once with --on-reboot exit"
}

case_reset() { reset_common reset reset; }
case_reset_acpi() { reset_common reset_acpi reset=acpi; }

# Default on-reboot (restart): the guest resets on every boot, so its start banner must show up
# again.
case_reset_restart() {
	kernel=$guests/reset.elf
	cmdline=reset
	run_until_restarted reset_restart reset
}

case_triple_fault() {
	kernel=$guests/triple_fault.elf
	if [ "$runner" = hvkvm ]; then
		run_vm triple_fault
		want_status 1 || return 1
		grep -q RIP "$err" || fail "no register dump (RIP) on stderr" || return 1
	else
		on_reboot='exit'
		extra_qemu=(-d "int,cpu_reset")
		run_vm triple_fault
		want_status 0 || return 1
		grep -q 'Triple fault' "$err" || fail "QEMU logged no triple fault" || return 1
	fi
	grep -q '^triple_fault: loading an empty IDT' "$out" || fail "guest did not reach the fault"
	! grep -q '^hvkvm-test triple_fault: \(PASS\|FAIL\)' "$out" || fail "guest survived the fault"
}

case_debug_exit() {
	kernel=$guests/debug_exit.elf
	run_vm debug_exit
	want_status 85 || return 1
	grep -q '^debug_exit: writing 42' "$out" || fail "guest did not print its line"
}

# --- Hyper-V (TLFS) cases -------------------------------------------------------------------
# The default set plus the synthetic timers, which the default leaves out (bench/hv: slower
# than the in-kernel LAPIC timer here) but these guests test.
HV_ARGS=(--hyperv +stimer,+stimer-direct --hyperv-test-connections)
# hvkvm's exit status when the guest reports a crash through the Hyper-V crash MSRs.
STATUS_GUEST_CRASH=3

# hv_setup <guest>: the common part; false (and the case passes as skipped) under QEMU.
hv_setup() {
	kernel=$guests/$1.elf
	extra_hvkvm=("${HV_ARGS[@]}")
	if [ "$runner" = qemu ]; then
		echo "skip: QEMU TCG has no Hyper-V" >"$logdir/$1.out"
		return 1
	fi
	return 0
}

hv_simple() {
	local name=$1
	hv_setup "$name" || return 0
	run_vm "$name"
	want_status $STATUS_PASS || return 1
	no_failed_checks
}

case_hv_cpuid() { hv_simple hv_cpuid; }
case_hv_msrs() { hv_simple hv_msrs; }
case_hv_hypercall() { hv_simple hv_hypercall; }
case_hv_synic() { hv_simple hv_synic; }
case_hv_stimer() { hv_simple hv_stimer; }
case_hv_tsc_page() { hv_simple hv_tsc_page; }

# --hyperv off: no Hyper-V leaves (also runs under QEMU TCG, which has none).
case_hv_cpuid_off() {
	kernel=$guests/hv_cpuid.elf
	cmdline=hv=off
	[ "$runner" = qemu ] && cmdline="hv=off msr_gp=0" # TCG reads unknown MSRs as 0
	extra_hvkvm=(--hyperv off)
	run_vm hv_cpuid_off
	want_status $STATUS_PASS || return 1
	no_failed_checks || return 1
	grep -q '^ok no "Microsoft Hv"' "$out" || fail "guest did not check for absent leaves"
}

# The guest reports a crash (P0-P2 0xc0ffee, 0xdecade, 0xfacade, message "hvkvm test panic");
# hvkvm prints them on stderr and ends with the crash status.
case_hv_crash() {
	local want
	hv_setup hv_crash || return 0
	run_vm hv_crash
	no_failed_checks || return 1
	grep -q '^hv_crash: reporting a crash' "$out" || fail "guest did not reach the crash report (last: $(hint))" || return 1
	want_status $STATUS_GUEST_CRASH || return 1
	grep -qF 'hvkvm test panic' "$err" || fail "crash message 'hvkvm test panic' not on stderr" || return 1
	for want in c0ffee decade facade; do
		grep -qi "$want" "$err" || fail "crash parameter 0x$want not on stderr" || return 1
	done
}

# RESET MSR bit 0 with --on-reboot exit: status 0 after one start.
case_hv_reset() {
	local n
	hv_setup hv_reset || return 0
	on_reboot=exit
	run_vm hv_reset
	want_status 0 || return 1
	no_failed_checks || return 1
	grep -q '^hv_reset: writing' "$out" || fail "guest did not reach the RESET write" || return 1
	n=$(banners hv_reset)
	[ "$n" -eq 1 ] || fail "guest started $n times, want once with --on-reboot exit"
}

# run_until_restarted <case> <guest>: runs the VM (kernel, cmdline, extra_hvkvm already set) until
# the guest has started three times, or for RESTART_WINDOW_S; it must have started at least twice.
run_until_restarted() {
	local name=$1 guest=$2 pid n=0 waited=0
	vm_cmd
	out=$logdir/$name.out
	err=$logdir/$name.err
	printf '%q ' "${cmd[@]}" >"$logdir/$name.cmd"
	: >"$out.raw"
	timeout -k 2 "$RESTART_WINDOW_S" "${cmd[@]}" </dev/null >"$out.raw" 2>"$err" &
	pid=$!
	while [ $waited -lt $((RESTART_WINDOW_S * 10)) ] && kill -0 $pid 2>/dev/null; do
		n=$(tr -d '\r' <"$out.raw" | grep -c "^hvkvm-test $guest: start\$")
		[ "$n" -ge 3 ] && break
		sleep 0.1
		waited=$((waited + 1))
	done
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
	status=$?
	tr -d '\r' <"$out.raw" >"$out"
	rm -f "$out.raw"
	no_failed_checks || return 1
	n=$(banners "$guest")
	[ "$n" -ge 2 ] || fail "guest started $n times in ${RESTART_WINDOW_S}s, want >= 2 (status $status, last: $(hint))"
}

# hv_restart_common <case> <guest> [hvkvm args]: the guest restarts itself (crash report with
# --on-crash restart, RESET MSR with the default --on-reboot restart).
hv_restart_common() {
	local name=$1 guest=$2
	shift 2
	hv_setup "$guest" || return 0
	extra_hvkvm+=("$@")
	run_until_restarted "$name" "$guest"
}

case_hv_crash_restart() { hv_restart_common hv_crash_restart hv_crash --on-crash restart; }
case_hv_reset_restart() { hv_restart_common hv_reset_restart hv_reset; }

case_hv_smp() {
	local n
	hv_setup hv_smp || return 0
	cpus=4
	cmdline="cpus=4"
	run_vm hv_smp
	want_status $STATUS_PASS || return 1
	no_failed_checks || return 1
	n=$(grep -c '^ok vp [0-9]*: VP_INDEX' "$out")
	[ "$n" -eq 3 ] || fail "$n APs reported their VP index, want 3"
}

# --- main -----------------------------------------------------------------------------------
prereq=
if [ "$runner" = hvkvm ]; then
	[ -x "$hvkvm" ] || prereq="no hvkvm binary at $hvkvm (meson compile -C $build)"
	[ -z "$prereq" ] && ! [ -w /dev/kvm ] && prereq="/dev/kvm is not accessible"
else
	command -v "$qemu" >/dev/null || prereq="no $qemu"
fi
[ -z "$prereq" ] && ! [ -r "$guests/boot_modes.elf" ] && prereq="no test guests in $guests (meson compile -C $build)"

failed=0
for c in $cases; do
	if ! declare -F "case_$c" >/dev/null; then
		echo "FAIL direct/$c: no such case (cases: $(xargs <<<"$all_cases"))"
		failed=$((failed + 1))
		continue
	fi
	if [ -n "$prereq" ]; then
		echo "FAIL direct/$c: $prereq"
		failed=$((failed + 1))
		continue
	fi
	reset_vars
	reason=
	if "case_$c"; then
		echo "PASS direct/$c"
	else
		echo "FAIL direct/$c: ${reason:-failed} [logs: $logdir/$c.*]"
		failed=$((failed + 1))
	fi
done
[ $failed -eq 0 ]
