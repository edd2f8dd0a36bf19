#!/bin/bash
# VMBus benchmark (nested tier): one channel of hvkvm's echo test device (--vmbus-test-device),
# driven by a guest kernel module (bench/vmbus/guest, built here against Debian's headers for the
# guest kernel): round trip of one 64-byte in-band packet at a time, and packets per second with
# 64 in flight. The guest signals with HvSignalEvent (no monitor pages), which the hypercall
# page's doorbell turns into an in-kernel eventfd signal; each answer is a SynIC event. There is
# no peer: QEMU offers no VMBus device on a KVM without in-kernel Hyper-V, and none with an echo
# channel anywhere.
#   bench/vmbus/run.sh [--rounds N]
# Needs linux-headers-$HVKVM_KVER (apt-get install linux-headers-<guest kernel version>).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../../tests/nested/lib.sh"

rounds=3
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=${2-}; shift 2 ;;
	*) nested_die "unknown argument '$1' (usage: bench/vmbus/run.sh [--rounds N])" ;;
	esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || nested_die "--rounds takes a number >= 1"
build=${HVKVM_BUILD:-$NESTED_ROOT/build}
out=$build/bench/vmbus
[ -x "$build/hvkvm" ] || nested_die "$build/hvkvm not found; build it first (scripts/setup.sh)"
mkdir -p "$out" && cp "$build/hvkvm" "$out/hvkvm" || nested_die "cannot prepare $out"
nested_images
headers=/usr/src/linux-headers-$HVKVM_KVER
[ -d "$headers" ] || nested_die "no $headers: apt-get install linux-headers-$HVKVM_KVER"
rm -rf "$out/module" && cp -r "$here/guest" "$out/module" &&
	make -s -C "$headers" M="$out/module" modules >"$out/module.log" 2>&1 ||
	nested_die "building the guest module failed: see $out/module.log"
nested_part_guest
stage=$(mktemp -d "$out/stage.XXXXXX")
mkdir -p "$stage/guest-extra/bin" "$stage/guest-extra/lib/modules"
install -m 755 "$here/guest-ping" "$stage/guest-extra/bin/guest-ping"
cp "$out/module/hvkvm_vmbus_ping.ko" "$stage/guest-extra/lib/modules/"
_nested_cpio "$stage" "$out/extra.cpio"
rm -rf "$stage"

echo "bench/vmbus: hvkvm $(git -C "$NESTED_ROOT" rev-parse --short HEAD 2>/dev/null); $rounds rounds; this machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
NESTED_BENCH_PARTS=("$NESTED_GUEST_PART" "$out/extra.cpio")
NESTED_BENCH_ENV=("ROUNDS=$rounds")
nested_bench_boots bench/vmbus "$out" "$here/scenario.sh" "${NESTED_TIMEOUT:-$((200 + rounds * 120))}"
results=$(cat "$out"/attempt-*/serial.log | sed -n 's/^[0-9.]* @@bench vmbus \([0-9]*\) rtt_ns=\([0-9]*\) pps=\([0-9]*\).*/\1 \2 \3/p')
[ -n "$results" ] || { echo "bench/vmbus: no results; see $out/attempt-*/serial.log" >&2; exit 2; }
echo "$results" | awk '{ printf "round %s: round trip %.1f us, %d packets/s\n", $1, $2 / 1000, $3 }'
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
rtt=$(cut -d' ' -f2 <<<"$results" | median)
pps=$(cut -d' ' -f3 <<<"$results" | median)
echo "median of $(wc -l <<<"$results"): round trip $(awk -v r="$rtt" 'BEGIN { printf "%.1f", r / 1000 }') us, $pps packets/s (64 in flight)"
[ "$(wc -l <<<"$results")" = "$rounds" ]
