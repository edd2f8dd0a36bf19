#!/bin/bash
# Direct tier: the cost of a bare port-I/O exit round trip on this host's /dev/kvm, hvkvm against
# QEMU (-M pc, KVM), same guest (bench/pio/pio_exit.c: OUT to port 0x80, timed by the ACPI PM
# timer), alternating runs. Prints each run, the medians and the ratio.
#   bench/pio/run.sh [BUILD_DIR] [RUNS] [COUNT]
set -euo pipefail
build=${1:-build}
runs=${2:-5}
count=${3:-200000}
guest=$build/bench/pio/pio_exit.elf
[ -f "$guest" ] || { echo "bench/pio: $guest missing: build first" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null || { echo "bench/pio: qemu-system-x86_64 missing" >&2; exit 1; }

per_exit() { sed -n 's/^pio-exit: .* \([0-9]*\) ns each.*/\1/p' | head -n1; }

run_hvkvm() {
	timeout 120 "$build/hvkvm" run --kernel "$guest" --memory 64M --debug-exit 0xf4 \
		--cmdline "count=$count" </dev/null | per_exit || true
}

run_qemu() {
	timeout 120 qemu-system-x86_64 -accel kvm -M pc -m 64 -nodefaults -display none \
		-serial stdio -kernel "$guest" -append "count=$count" \
		-device isa-debug-exit,iobase=0xf4,iosize=4 </dev/null 2>/dev/null | per_exit || true
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

h=() q=()
for i in $(seq "$runs"); do
	hv=$(run_hvkvm); qv=$(run_qemu)
	[ -n "$hv" ] && [ -n "$qv" ] || { echo "bench/pio: run $i printed no result" >&2; exit 1; }
	echo "run $i: hvkvm ${hv} ns, qemu ${qv} ns"
	h+=("$hv") q+=("$qv")
done
hm=$(printf '%s\n' "${h[@]}" | median)
qm=$(printf '%s\n' "${q[@]}" | median)
echo "pio exit round trip, median of $runs x $count exits: hvkvm $hm ns, qemu -M pc $qm ns," \
	"ratio hvkvm/qemu $(awk -v a="$hm" -v b="$qm" 'BEGIN { printf "%.2f", a / b }')"
