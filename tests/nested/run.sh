#!/bin/bash
# Nested test tier: boots real Debian guests under hvkvm (or QEMU, for comparison) inside the nested
# test host (QEMU TCG emulating an AMD CPU with SVM, running Debian's kernel with kvm-amd); the core
# scenarios, then the Hyper-V ones (scenarios/hyperv.sh; hvkvm only), run in one host boot.
#   tests/nested/run.sh [--inner hvkvm|qemu] [--verbose]
#     --inner    the inner VMM (default $INNER_VMM, else hvkvm = $HVKVM_BUILD/hvkvm, build/ by default)
#     --verbose  the inner guest's kernel logs to its console (no "quiet"): slower, more to read
# Environment: HVKVM_CACHE (images), HVKVM_BUILD (default build), NESTED_TIMEOUT (seconds per host
# boot, default 600), CASE_LIMIT (seconds per inner guest, default 240).
# Prints one "PASS nested/<name>" or "FAIL nested/<name>: <reason>" line per assertion. The
# scenarios share one host boot; a scenario that fails runs once more in a later boot (the design's
# "a real bug fails twice"), and one the host died in runs again (see "Boots" below). Every boot's
# lines are printed indented, then each scenario's last run plainly (only those count for
# tests/run-all.sh). "nested: hyperv:" gives the Hyper-V cases' figures (guest clock drift against
# the nested host, exits hvkvm served in userspace). Logs: $HVKVM_BUILD/nested/boot-N/ (serial.log:
# the host's serial output, each line prefixed with seconds since QEMU started; <case>.console.log:
# the inner guest's console; qemu-debug.log: the CPU resets QEMU saw); the run before keeps its
# logs in $HVKVM_BUILD/nested/previous/.
# NESTED_ONLY="core vmbus": run only these scenarios (for development; CI runs them all).
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
# driver (the guest writes HV_X64_MSR_RESET through /dev/cpu/0/msr) and the guest halves of the
# scenarios (tests/nested/guest-bin, in /bin). Sets NESTED_HV_PART.
nested_part_hv() {
	local ko=kernel/arch/x86/kernel/msr.ko key stage bin=$NESTED_ROOT/tests/nested/guest-bin
	[ -f "$HVKVM_MODULES/$ko" ] || nested_die "no $HVKVM_MODULES/$ko"
	local daemons="/usr/sbin/hv_kvp_daemon /usr/sbin/hv_vss_daemon /usr/sbin/hv_fcopy_daemon"
	for f in $daemons; do [ -x "$f" ] || nested_die "$f not found (scripts/setup.sh installs hyperv-daemons)"; done
	key=$({ sha256sum "$HVKVM_MODULES/$ko" "$bin"/* $daemons; echo "$HVKVM_KVER"; } | sha256sum | cut -c1-16)
	NESTED_HV_PART=$NESTED_CACHE/hv-extra-$key.cpio
	[ -s "$NESTED_HV_PART" ] && return 0
	stage=$(mktemp -d "$NESTED_CACHE/stage.XXXXXX")
	mkdir -p "$stage/guest-extra/lib/modules/$HVKVM_KVER/${ko%/*}"
	cp "$HVKVM_MODULES/$ko" "$stage/guest-extra/lib/modules/$HVKVM_KVER/$ko"
	mkdir -p "$stage/guest-extra/bin" && cp -p "$bin"/* "$stage/guest-extra/bin/"
	_nested_copy_closure "$stage/guest-extra" $daemons
	mkdir -p "$stage/guest-extra/usr/libexec" && cp -r /usr/libexec/hypervkvpd "$stage/guest-extra/usr/libexec/"
	rm -f "$NESTED_CACHE"/hv-extra-*.cpio
	_nested_cpio "$stage" "$NESTED_HV_PART"
	rm -rf "$stage"
}

# The scenarios run in one host boot, in this order: scenarios/NAME.sh inside the host, then
# check_NAME from checks/NAME.sh on its output. Only core runs under QEMU (the rest need hvkvm).
scenarios=(core)
[ "$inner" = hvkvm ] && scenarios+=(hyperv vmbus storage ic net)
[ -z "${NESTED_ONLY-}" ] || read -ra scenarios <<<"$NESTED_ONLY"

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

# --- Assertions on one attempt's serial log (checks/) -----------------------------------------

. "$NESTED_ROOT/tests/nested/checks/lib.sh"
for sc in "${scenarios[@]}"; do
	. "$NESTED_ROOT/tests/nested/checks/$sc.sh"
done

# The host's own checks on one boot's log: ready, clock (the last boot's count).
check_host() {
	local ready e
	ready=$(host_line "@@host ready ")
	if [ -n "$(host_line "@@host done ")" ]; then host_state="finished"
	elif [ "$NESTED_STALLED" = 1 ]; then host_state="frozen: no output for ${NESTED_STALL:-120} s"
	elif [ "$qemu_status" = 124 ]; then host_state="killed after $limit s"
	else host_state="stopped with QEMU status $qemu_status before the end$(host_last_words)"; fi
	timings="host ready $(since 0 "$(grep -m1 -E '^[0-9.]+ @@host ready ' "$log" | cut -d' ' -f1)") after QEMU start;"
	if [ -z "$ready" ]; then fail host-ready "the nested host never got ready ($host_state)"
	elif [ "$(kv kvm "$ready")" != yes ]; then fail host-ready "no /dev/kvm in the nested host (insmod kvm-amd failed?)"
	else pass host-ready; fi
	e=$(kv epoch "$ready")
	if [ -z "$e" ]; then fail host-clock "no date from the nested host"
	elif ! in_range "$e" $((outer_start - 120)) $((outer_end + 120)); then
		fail host-clock "nested host date $e is more than 120 s outside this machine's run $outer_start..$outer_end"
	else pass host-clock; fi
}

# Why a host stopped early, as far as its log and QEMU's tell: the kernel's last alarm, or the
# CPU resets QEMU logged after the host was up (a triple fault of the nested host's kernel).
host_last_words() {
	local alarm resets
	alarm=$(grep -v ' @@[gc]' "$log" | grep -m1 -E 'Kernel panic|BUG:|Oops|general protection|Out of memory|@@host wedged' |
		cut -d' ' -f2- | cut -c1-120)
	# QEMU resets CPU 0 twice at power-on (creation, machine reset); only a machine reset, such as
	# a triple fault's, resets it again (the other CPUs take INITs while the kernel boots).
	resets=$(grep -c '^CPU Reset (CPU 0)' "$dir/qemu-debug.log" 2>/dev/null)
	resets=$((${resets:-0} - 2))
	if [ -n "$alarm" ]; then echo "; its kernel said: $alarm"
	elif grep -q '^Triple fault' "$dir/qemu-debug.log" 2>/dev/null; then
		# QEMU logs it (with -d cpu_reset) when the nested host's own kernel triple-faults;
		# with -no-reboot QEMU then exits 0 without a word on the console
		echo "; QEMU: the nested host's kernel triple-faulted"
	elif [ "$resets" -gt 0 ]; then
		# the state QEMU logged with the reset: where the CPU was
		local at
		at=$(awk '/^CPU Reset \(CPU 0\)/ { n++ } n == 3 && match($0, /[RE]IP=[0-9a-f]+/) { print substr($0, RSTART, RLENGTH); exit }' \
			"$dir/qemu-debug.log")
		echo "; QEMU reset its CPUs without a kernel message (a triple fault of the nested host's kernel?${at:+ CPU 0 at $at})"
	else echo "; no kernel message"; fi
}

# --- Boots -----------------------------------------------------------------------------------
# The scenarios run in one nested-host boot. A scenario that fails while the host stays up runs
# once more in a later boot (a real bug fails twice); one the host died in (or never reached: the
# platform's fault, not the scenario's) runs again without counting as a try. At most
# NESTED_BOOTS boots (default 4), and none starts after NESTED_BUDGET seconds (default 1200).
# Each scenario counts by its last run; host-ready/host-clock/host-done by the last boot.

limit=${NESTED_TIMEOUT:-600}
max_boots=${NESTED_BOOTS:-4}
budget=${NESTED_BUDGET:-1200}
run_t0=$(date +%s)
declare -A sc_results sc_tries sc_boot
pending=("${scenarios[@]}")
history=
boot=0
rm -rf "$out/previous" && mkdir -p "$out/previous"
mv "$out"/boot-* "$out/previous/" 2>/dev/null
while [ ${#pending[@]} -gt 0 ] && [ $boot -lt "$max_boots" ]; do
	if [ $boot -gt 0 ] && [ $(($(date +%s) - run_t0)) -ge "$budget" ]; then
		echo "nested: no boot $((boot + 1)): the ${budget} s budget is spent"
		break
	fi
	boot=$((boot + 1))
	dir=$out/boot-$boot
	rm -rf "$dir" && mkdir -p "$dir"
	scenario=$dir/scenario.sh
	for sc in "${pending[@]}"; do
		echo "echo \"@@scenario $sc begin up=\$(uptime_s)\""
		cat "$NESTED_ROOT/tests/nested/scenarios/$sc.sh"
		echo "echo \"@@scenario $sc end up=\$(uptime_s)\""
	done >"$scenario"
	nested_part_run "$dir" "$scenario" "$hvkvm" \
		"INNER_APPEND=$append" "CASE_LIMIT=${CASE_LIMIT:-240}" "NESTED_BOOT=$boot"
	nested_initrd "$dir/host.cpio" "${parts[@]}" "$NESTED_RUN_PART"
	rm -f "$NESTED_RUN_PART"
	log=$dir/serial.log
	echo "nested: boot $boot: ${pending[*]} (inner VMM: $inner, limit $limit s, log $log)"
	outer_start=$(date +%s)
	NESTED_QEMU_ARGS="${NESTED_QEMU_ARGS-} -d cpu_reset,guest_errors -D $dir/qemu-debug.log" \
		nested_boot "$log" "$limit" "$dir/host.cpio" "$inner"
	qemu_status=$?
	outer_end=$(date +%s)
	rm -f "$dir/host.cpio"
	# A case run twice (its guest panicked: host-lib.sh's retry) is judged by its last run.
	retried=$(sed -n 's/^[0-9.]* @@case \([^ ]*\) retry$/\1/p' "$dir/serial.log" | tr '\n' ' ')
	# Lines from its first begin up to its last begin go; what the scenario said about the case
	# before it first began (e.g. a host-side checksum) stays.
	awk -v retried=" $retried" '
		NR == FNR { if ($2 == "@@case" && $4 == "begin") { if (!($3 in first)) first[$3] = FNR; last[$3] = FNR }; next }
		($2 == "@@g" || $2 == "@@case") && index(retried, " " $3 " ") && FNR >= first[$3] && FNR < last[$3] { next }
		{ print }' "$dir/serial.log" "$dir/serial.log" >"$dir/serial.last.log"
	log=$dir/serial.last.log
	results=()
	hv_notes=
	check_host
	host_results=("${results[@]}")
	boot_lines=("${results[@]}")
	next=()
	for sc in "${pending[@]}"; do
		results=()
		"check_${sc//-/_}"
		sc_results[$sc]=$(printf '%s\n' "${results[@]}")
		sc_boot[$sc]=$boot
		boot_lines+=("${results[@]}")
		printf '%s\n' "${results[@]}" | grep -q '^FAIL' || continue
		if grep -qE "^[0-9.]+ @@scenario $sc end" "$log"; then
			sc_tries[$sc]=$((${sc_tries[$sc]:-0} + 1))
			[ "${sc_tries[$sc]}" -ge 2 ] || next+=("$sc")
		else
			next+=("$sc") # the host died first: not the scenario's try
		fi
	done
	done_l=$(host_line "@@host done ")
	if [ -n "$done_l" ]; then pass host-done; else fail host-done "the scenario did not finish ($host_state)"; fi
	host_results+=("${results[-1]}")
	boot_lines+=("${results[-1]}")
	echo "--- nested boot $boot (inner=$inner, $((outer_end - outer_start)) s, QEMU status $qemu_status, $host_state)"
	# Indented: only each scenario's last run (printed plainly below) counts for the suite.
	printf '    %s\n' "${boot_lines[@]}"
	echo "nested: timings: $timings"
	[ -z "$hv_notes" ] || echo "nested: hyperv:$hv_notes"
	[ -z "$retried" ] || echo "nested: run twice after an inner guest panic: $retried"
	history+="boot $boot ($host_state): ${pending[*]}; "
	if [ -z "$done_l" ]; then
		echo "nested: the last lines of $log:"
		tail -n 15 "$log" | sed 's/^/    /'
	fi
	pending=("${next[@]}")
	[ ${#pending[@]} = 0 ] || echo "nested: to run again in another boot: ${pending[*]}"
done

echo "--- nested: the results that count (each scenario's last run; $boot boot(s))"
results=("${host_results[@]:0:2}")
for sc in "${scenarios[@]}"; do
	[ -n "${sc_results[$sc]-}" ] || continue
	mapfile -t lines <<<"${sc_results[$sc]}"
	results+=("${lines[@]}")
done
if [ "${host_results[2]}" = "PASS nested/host-done" ] || [ $boot = 1 ]; then
	results+=("${host_results[2]}")
else
	results+=("FAIL nested/host-done: ${history%; }")
fi
[ $boot = 1 ] || [ "${host_results[2]}" != "PASS nested/host-done" ] || echo "nested: boots: ${history%; }"
printf '%s\n' "${results[@]}"
nfail=$(printf '%s\n' "${results[@]}" | grep -c '^FAIL')
npass=$(printf '%s\n' "${results[@]}" | grep -c '^PASS')
echo "nested: $npass passed, $nfail failed"
[ "$nfail" = 0 ]
