#!/bin/bash
# Nested test tier: boots real Debian guests under hvkvm (or QEMU, for comparison) inside the nested
# test host (QEMU TCG emulating an AMD CPU with SVM, running Debian's kernel with kvm-amd); the core
# scenarios, then the Hyper-V ones (scenarios/hyperv.sh; hvkvm only), run in one host boot.
#   tests/nested/run.sh [--inner hvkvm|qemu] [--verbose]
#     --inner    the inner VMM (default $INNER_VMM, else hvkvm = $HVKVM_BUILD/hvkvm, build/ by default)
#     --verbose  the inner guest's kernel logs to its console (no "quiet"): slower, more to read
# Environment: HVKVM_CACHE (images), HVKVM_BUILD (default build), NESTED_TIMEOUT (seconds per host
# boot, default 600), CASE_LIMIT (seconds per inner guest, default 240).
# Prints one "PASS nested/<name>" or "FAIL nested/<name>: <reason>" line per assertion. A failed
# run is retried once (the design's "a real bug fails twice"): both attempts are printed, the second
# one's results count; "nested: hyperv:" gives the Hyper-V cases' figures (guest clock drift against
# the nested host, exits hvkvm served in userspace). Logs: $HVKVM_BUILD/nested/attempt-N/ (serial.log:
# the host's serial output, each line prefixed with seconds since QEMU started; <case>.console.log:
# the inner guest's console); the run before keeps its logs in $HVKVM_BUILD/nested/previous/.
# NESTED_STALL: seconds without output after which the nested host is taken as frozen (default 120).
# HVKVM_BUILD must not be under /tmp: the host mounts its own /tmp over the copied binary.
# Exit status: 0 when all passed, 1 when something failed, 2 when it could not run.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

inner=${INNER_VMM:-hvkvm}
append=quiet
while [ $# -gt 0 ]; do
	case $1 in
	--inner) inner=${2-}; shift 2 ;;
	--inner=*) inner=${1#--inner=}; shift ;;
	--verbose) append=; shift ;;
	*) nested_die "unknown argument '$1' (usage: tests/nested/run.sh [--inner hvkvm|qemu] [--verbose])" ;;
	esac
done
case $inner in hvkvm | qemu) ;; *) nested_die "--inner takes hvkvm or qemu, not '$inner'" ;; esac

build=${HVKVM_BUILD:-$NESTED_ROOT/build}
out=$build/nested
hvkvm=
if [ "$inner" = hvkvm ]; then
	hvkvm=$build/hvkvm
	[ -x "$hvkvm" ] || nested_die "$hvkvm not found; build it first: meson setup build && meson compile -C build"
fi
mkdir -p "$out" || nested_die "cannot create $out"

# The Hyper-V scenarios' additions to the inner initramfs, under /guest-extra in the host: the msr
# driver (the guest writes HV_X64_MSR_RESET through /dev/cpu/0/msr). Sets NESTED_HV_PART.
nested_part_hv() {
	local ko=kernel/arch/x86/kernel/msr.ko key stage
	[ -f "$HVKVM_MODULES/$ko" ] || nested_die "no $HVKVM_MODULES/$ko"
	key=$({ sha256sum "$HVKVM_MODULES/$ko"; echo "$HVKVM_KVER"; } | sha256sum | cut -c1-16)
	NESTED_HV_PART=$NESTED_CACHE/hv-extra-$key.cpio
	[ -s "$NESTED_HV_PART" ] && return 0
	stage=$(mktemp -d "$NESTED_CACHE/stage.XXXXXX")
	mkdir -p "$stage/guest-extra/lib/modules/$HVKVM_KVER/${ko%/*}"
	cp "$HVKVM_MODULES/$ko" "$stage/guest-extra/lib/modules/$HVKVM_KVER/$ko"
	rm -f "$NESTED_CACHE"/hv-extra-*.cpio
	_nested_cpio "$stage" "$NESTED_HV_PART"
	rm -rf "$stage"
}

t0=${EPOCHREALTIME/./}
nested_images
parts=()
nested_part_guest
parts+=("$NESTED_GUEST_PART")
if [ "$inner" = hvkvm ]; then
	nested_part_hv
	parts+=("$NESTED_HV_PART")
fi
if [ "$inner" = qemu ]; then
	nested_part_qemu
	parts+=("$NESTED_QEMU_PART")
fi
echo "nested: images ready in $(((${EPOCHREALTIME/./} - t0) / 1000)) ms (cache $HVKVM_CACHE)"

# --- Assertions on one attempt's serial log ---------------------------------------------------

declare -a results
pass() { results+=("PASS nested/$1"); }
fail() { results+=("FAIL nested/$1: $2"); }

# host_line PATTERN: the text of the first "@@..." line of the host matching PATTERN
host_line() { grep -m1 -E "^[0-9.]+ $1" "$log" | cut -d' ' -f2-; }
kv() { # KEY LINE: the value of KEY=value in LINE
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"
}
mismatch() { # GOT WANT: why a check failed ($why: what went wrong with the case, if anything)
	if [ -n "$1" ]; then echo "got '$1', want $2"; else echo "no such line, want $2: $why"; fi
}
in_range() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }

# case_state NAME [panics]: its console in $dir/NAME.console.log (sets console), its begin, end
# and exit lines (begin, end, exitl), and why a missing line is missing (why; "panics": the guest's
# kernel panic is the case itself, not a reason).
case_state() {
	local name=$1 panics=${2-}
	console=$dir/$name.console.log
	grep -E "^[0-9.]+ @@g $name " "$log" | cut -d' ' -f5- >"$console"
	begin=$(host_line "@@case $name begin ")
	end=$(host_line "@@case $name end ")
	exitl=$(host_line "@@case $name exit ")
	why="the guest did not print it"
	if [ -z "$begin" ]; then
		why="the case never started (nested host: $host_state)"
	elif [ -z "$end" ]; then
		why="the case never ended (nested host: $host_state)"
	elif grep -qE "^[0-9.]+ @@case $name timeout" "$log"; then
		why="the inner guest was killed after ${CASE_LIMIT:-240} s"
	elif [ "$panics" != panics ] && grep -qE "^[0-9.]+ @@case $name panic" "$log"; then
		why="the inner guest's kernel panicked"
	fi
}

check_case() { # NAME CPUS CPUS_ONLINE INPUT
	local name=$1 cpus=$2 online=$3 input=$4 console begin end exitl why
	local v clock up0 up1
	case_state "$name"
	local -A got=()
	while IFS= read -r v; do
		case $v in
		"hvkvm-guest: init started"*) got[init]=1 ;;
		"cpus-online: "*) got[online]=${v#cpus-online: } ;;
		"nproc: "*) got[nproc]=${v#nproc: } ;;
		"memtotal-kb: "*) got[mem]=${v#memtotal-kb: } ;;
		"rtc-epoch: "*) got[rtc]=${v#rtc-epoch: } ;;
		"echo: "*) got[echo]=${v#echo: } ;;
		esac
	done <"$console"

	if [ -n "${got[init]-}" ]; then pass "$name/init-started"; else fail "$name/init-started" "$why"; fi
	if [ "${got[online]-}" = "$online" ]; then pass "$name/cpus-online"
	else fail "$name/cpus-online" "$(mismatch "${got[online]-}" "'$online'")"; fi
	if [ "${got[nproc]-}" = "$cpus" ]; then pass "$name/nproc"
	else fail "$name/nproc" "$(mismatch "${got[nproc]-}" "$cpus")"; fi
	# MemTotal of 512 MiB of RAM: the kernel keeps its own image and reservations out of it.
	if in_range "${got[mem]-}" $((524288 * 85 / 100)) 524288; then pass "$name/memtotal"
	else fail "$name/memtotal" "$(mismatch "${got[mem]-}" "85-100% of 524288 kB")"; fi
	clock=$(kv epoch "$(host_line "@@case $name clock ")")
	if [ -z "${got[rtc]-}" ]; then fail "$name/rtc-epoch" "$why"
	elif ! in_range "${got[rtc]}" $((clock - 120)) $((clock + 120)); then
		fail "$name/rtc-epoch" "guest ${got[rtc]}, nested host ${clock:-(no date)}: more than 120 s apart"
	elif ! in_range "${got[rtc]}" $((outer_start - 120)) $((outer_end + 120)); then
		fail "$name/rtc-epoch" "guest ${got[rtc]} is more than 120 s outside this machine's run $outer_start..$outer_end"
	else pass "$name/rtc-epoch"; fi
	if [ "${got[echo]-}" = "$input" ]; then pass "$name/stdin-echo"
	else fail "$name/stdin-echo" "$(mismatch "${got[echo]-}" "'$input'")"; fi
	v=$(kv status "$exitl")
	if [ "$v" = 0 ]; then pass "$name/exit-status"
	else fail "$name/exit-status" "$(mismatch "$v" 0)"; fi

	up0=$(kv up "$begin")
	up1=$(grep -m1 -E "^[0-9.]+ @@g $name [0-9.]+ hvkvm-guest: init started" "$log" | cut -d' ' -f4)
	timings+=" $name: init started $(since "$up0" "$up1")"
	timings+=", VMM exit $(since "$up0" "$(kv up "$exitl")") after VMM start;"
}

since() { # UPTIME0 UPTIME1: "N.N s" between them, or "never"
	if [ -n "$1" ] && [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f s", b - a }'
	else echo never; fi
}

check_attempt() {
	local ready done_l e
	ready=$(host_line "@@host ready ")
	done_l=$(host_line "@@host done ")
	if [ -n "$done_l" ]; then host_state="finished"
	elif [ "$NESTED_STALLED" = 1 ]; then host_state="frozen: no output for ${NESTED_STALL:-120} s"
	elif [ "$qemu_status" = 124 ]; then host_state="killed after $limit s"
	else host_state="stopped with QEMU status $qemu_status before the end"; fi
	timings="host ready $(since 0 "$(grep -m1 -E '^[0-9.]+ @@host ready ' "$log" | cut -d' ' -f1)") after QEMU start;"
	if [ -z "$ready" ]; then fail host-ready "the nested host never got ready ($host_state)"
	elif [ "$(kv kvm "$ready")" != yes ]; then fail host-ready "no /dev/kvm in the nested host (insmod kvm-amd failed?)"
	else pass host-ready; fi
	e=$(kv epoch "$ready")
	if [ -z "$e" ]; then fail host-clock "no date from the nested host"
	elif ! in_range "$e" $((outer_start - 120)) $((outer_end + 120)); then
		fail host-clock "nested host date $e is more than 120 s outside this machine's run $outer_start..$outer_end"
	else pass host-clock; fi
	check_case smp1-poweroff 1 0 hvkvm-echo-smp1-poweroff
	check_case smp4-reboot 4 0-3 hvkvm-echo-smp4-reboot
	if [ "$inner" = hvkvm ]; then
		check_hv_check
		check_hv_panic
		check_hv_off
	fi
	if [ -n "$done_l" ]; then pass host-done; else fail host-done "the scenario did not finish ($host_state)"; fi
}

# --- Assertions of the Hyper-V cases (scenarios/hyperv.sh) --------------------------------------

# hv_stats: "N M" from hvkvm's -v exit line (synthetic MSR accesses and hypercalls served in
# userspace), empty when there is none.
hv_stats() {
	sed -n 's/.*hv: info: userspace handled \([0-9]*\) synthetic MSR accesses.* and \([0-9]*\) hypercalls.*/\1 \2/p' \
		"$console" | head -n1
}

hv_userspace_check() { # NAME: the proof that hvkvm, not the host's KVM, served the TLFS
	local stats
	stats=$(hv_stats)
	if [ -n "$stats" ] && [ "${stats%% *}" -gt 0 ]; then
		pass "$1/userspace-path"
		hv_notes+=" $1: ${stats%% *} synthetic MSR accesses and ${stats#* } hypercalls served by hvkvm;"
	else fail "$1/userspace-path" "$(mismatch "$stats" "hvkvm's exit line with more than 0 synthetic MSR accesses")"; fi
}

hv_expect_line() { # CHECK REGEX WANT: a console line matching REGEX
	if grep -qE "$2" "$console"; then pass "$1"; else fail "$1" "$(mismatch "" "$3")"; fi
}

hv_expect_value() { # CHECK KEY WANT: the console's "KEY: value" equals WANT
	local v
	v=$(sed -n "s/^$2: //p" "$console" | head -n1)
	if [ "$v" = "$3" ]; then pass "$1"; else fail "$1" "$(mismatch "$v" "'$3'")"; fi
}

hv_expect_status() { # NAME STATUS
	local v
	v=$(kv status "$exitl")
	if [ "$v" = "$2" ]; then pass "$1/exit-status"; else fail "$1/exit-status" "$(mismatch "$v" "$2")"; fi
}

# Guest CLOCK_REALTIME against the nested host's over the two bursts of "hvtime" samples: the
# serial path only delays a line, so the smallest host-minus-guest offset of each burst is the
# best estimate; their difference is the drift. Prints "SAMPLES ELAPSED_S DRIFT_MS SPREAD_MS" (the
# spread: the largest range of offsets within a burst, i.e. the serial path's jitter).
hv_clock_drift() {
	grep -E "^[0-9.]+ @@case $1 stamp " "$log" | awk '
		{ host = substr($5, 6); b = $6; g = $8; off = host - g; n[b]++
		  if (!(b in min) || off < min[b]) min[b] = off
		  if (!(b in max) || off > max[b]) max[b] = off
		  if (!(b in first)) first[b] = g }
		END { if (n["A"] && n["B"])
			printf "%d %.1f %.2f %.1f\n", n["A"] + n["B"], first["B"] - first["A"],
				(min["B"] - min["A"]) * 1000,
				(max["A"] - min["A"] > max["B"] - min["B"] ? max["A"] - min["A"] : max["B"] - min["B"]) * 1000 }'
}

check_hv_check() {
	local name=hv-check console begin end exitl why drift
	case_state $name
	hv_expect_line $name/hyperv-detected "^hv-dmesg: .*Hypervisor detected: Microsoft Hyper-V" \
		"'Hypervisor detected: Microsoft Hyper-V' in dmesg"
	# CPUID 0x40000002 as hvkvm sets it (src/hv-enlight/cpuid.c): build 14393, version 10.0.
	hv_expect_line $name/host-build "^hv-dmesg: .*Hyper-V: Host Build 10\.0\.14393\." \
		"'Hyper-V: Host Build 10.0.14393.*' (hvkvm's CPUID) in dmesg"
	hv_expect_value $name/clocksource clocksource hyperv_clocksource_tsc_page
	hv_expect_value $name/nproc nproc 4
	hv_expect_value $name/cpus-online cpus-online 0-3
	# VMBus: hv_vmbus connects at the newest version and sees the test device's channel.
	hv_expect_line $name/vmbus-version "^hv-vmbus: .*Vmbus version:5\.3" \
		"hv_vmbus's 'Vmbus version:5.3' in dmesg"
	hv_expect_line $name/vmbus-device "^vmbus-device: \{8f6c1a2e-3d5b-4e7a-9c0d-5b1e2f3a4c6d\}" \
		"the test device's class id under /sys/bus/vmbus/devices"
	drift=$(hv_clock_drift $name)
	set -- $drift
	if [ -z "$drift" ]; then fail $name/clock-tracks-host "no hvtime samples in both bursts: $why"
	elif awk -v e="$2" -v d="$3" 'BEGIN { exit !(e >= 10 && d < 10 && d > -10) }'; then
		pass $name/clock-tracks-host
		hv_notes+=" guest clock vs nested host: ${3} ms over ${2} s ($1 samples, serial jitter ${4} ms);"
	else fail $name/clock-tracks-host "guest clock drifted ${3} ms from the nested host's over ${2} s (want < 10 ms over >= 10 s)"; fi
	hv_expect_line $name/reset-msr "hv: info: guest reset through HV_X64_MSR_RESET" \
		"hvkvm's 'guest reset through HV_X64_MSR_RESET' (-v)"
	hv_expect_status $name 0
	hv_userspace_check $name
	timings+=" $name: VMM exit $(since "$(kv up "$begin")" "$(kv up "$exitl")") after VMM start;"
}

check_hv_panic() {
	local name=hv-panic console begin end exitl why
	case_state $name panics
	hv_expect_line $name/crash-reported "^hvkvm: the guest reported a crash: P0 " \
		"hvkvm's 'the guest reported a crash' line"
	# The kernel's message (its kmsg dump, through CRASH_P3/P4) follows hvkvm's message line; the
	# console's own panic line comes before it.
	if awk '/^hvkvm: guest crash message: / { msg = 1 }
		msg && /Kernel panic - not syncing: sysrq triggered crash/ { found = 1 }
		END { exit !found }' "$console"; then
		pass $name/crash-message
	else fail $name/crash-message "$(mismatch "" "'Kernel panic - not syncing: sysrq triggered crash' in hvkvm's crash message")"; fi
	hv_expect_status $name 3
	hv_userspace_check $name
	timings+=" $name: VMM exit $(since "$(kv up "$begin")" "$(kv up "$exitl")") after VMM start;"
}

check_hv_off() {
	local name=hv-off console begin end exitl why
	case_state $name
	hv_expect_line $name/kvm-detected "^hv-dmesg: .*Hypervisor detected: KVM" \
		"'Hypervisor detected: KVM' in dmesg"
	if grep -q "Microsoft Hyper-V" "$console"; then fail $name/no-hyperv "the guest detected Hyper-V"
	elif grep -q "^clocksource: " "$console"; then pass $name/no-hyperv
	else fail $name/no-hyperv "$(mismatch "" "the guest's report: $why")"; fi
	hv_expect_value $name/clocksource clocksource kvm-clock
	hv_expect_status $name 0
	timings+=" $name: VMM exit $(since "$(kv up "$begin")" "$(kv up "$exitl")") after VMM start;"
}

# --- Attempts -------------------------------------------------------------------------------

limit=${NESTED_TIMEOUT:-600}
final=1
for attempt in 1 2; do
	dir=$out/attempt-$attempt
	if [ $attempt = 1 ] && [ -d "$dir" ]; then # keep the previous run's logs
		rm -rf "$out/previous" && mkdir -p "$out/previous" && mv "$out"/attempt-* "$out/previous/"
	fi
	rm -rf "$dir" && mkdir -p "$dir"
	scenario=$NESTED_ROOT/tests/nested/scenarios/core.sh
	if [ "$inner" = hvkvm ]; then # the Hyper-V cases need hvkvm's --hyperv and -v
		cat "$scenario" "$NESTED_ROOT/tests/nested/scenarios/hyperv.sh" >"$dir/scenario.sh"
		scenario=$dir/scenario.sh
	fi
	nested_part_run "$dir" "$scenario" "$hvkvm" \
		"INNER_APPEND=$append" "CASE_LIMIT=${CASE_LIMIT:-240}"
	nested_initrd "$dir/host.cpio" "${parts[@]}" "$NESTED_RUN_PART"
	rm -f "$NESTED_RUN_PART"
	log=$dir/serial.log
	echo "nested: attempt $attempt: booting the nested host (inner VMM: $inner, limit $limit s, log $log)"
	outer_start=$(date +%s)
	nested_boot "$log" "$limit" "$dir/host.cpio" "$inner"
	qemu_status=$?
	outer_end=$(date +%s)
	rm -f "$dir/host.cpio"
	results=()
	hv_notes=
	check_attempt
	echo "--- nested attempt $attempt (inner=$inner, $((outer_end - outer_start)) s, QEMU status $qemu_status)"
	printf '%s\n' "${results[@]}"
	echo "nested: timings: $timings"
	[ -z "$hv_notes" ] || echo "nested: hyperv:$hv_notes"
	nfail=$(printf '%s\n' "${results[@]}" | grep -c '^FAIL')
	npass=$(printf '%s\n' "${results[@]}" | grep -c '^PASS')
	if [ "$nfail" = 0 ]; then final=0; break; fi
	echo "nested: the last lines of $log:"
	tail -n 15 "$log" | sed 's/^/    /'
	[ $attempt = 1 ] && echo "nested: attempt 1 failed; retrying the whole nested run once"
done
echo "nested: $npass passed, $nfail failed"
exit $final
