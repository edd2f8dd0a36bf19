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
# run is retried once (the design's "a real bug fails twice"): both attempts are printed indented,
# then the last one's lines plainly (only those count for tests/run-all.sh). "nested: hyperv:" gives
# the Hyper-V cases' figures (guest clock drift against the nested host, exits hvkvm served in
# userspace). Logs: $HVKVM_BUILD/nested/attempt-N/ (serial.log:
# the host's serial output, each line prefixed with seconds since QEMU started; <case>.console.log:
# the inner guest's console); the run before keeps its logs in $HVKVM_BUILD/nested/previous/.
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
	for sc in "${scenarios[@]}"; do
		"check_${sc//-/_}"
	done
	if [ -n "$done_l" ]; then pass host-done; else fail host-done "the scenario did not finish ($host_state)"; fi
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
	scenario=$dir/scenario.sh
	for sc in "${scenarios[@]}"; do cat "$NESTED_ROOT/tests/nested/scenarios/$sc.sh"; done >"$scenario"
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
	check_attempt
	echo "--- nested attempt $attempt (inner=$inner, $((outer_end - outer_start)) s, QEMU status $qemu_status)"
	# Indented: only the last attempt's lines (printed plainly below) count for the suite.
	printf '    %s\n' "${results[@]}"
	echo "nested: timings: $timings"
	[ -z "$hv_notes" ] || echo "nested: hyperv:$hv_notes"
	[ -z "$retried" ] || echo "nested: run twice after an inner guest panic: $retried"
	nfail=$(printf '%s\n' "${results[@]}" | grep -c '^FAIL')
	npass=$(printf '%s\n' "${results[@]}" | grep -c '^PASS')
	if [ "$nfail" = 0 ]; then final=0; break; fi
	echo "nested: the last lines of $log:"
	tail -n 15 "$log" | sed 's/^/    /'
	[ $attempt = 1 ] && echo "nested: attempt 1 failed; retrying the whole nested run once"
done
echo "--- nested: the results that count (attempt $attempt)"
printf '%s\n' "${results[@]}"
echo "nested: $npass passed, $nfail failed"
exit $final
