#!/bin/bash
# Storage benchmark (nested tier): fio inside the same Debian guest (2 vCPUs, 1 GiB) on hvkvm's
# storvsp disk and on QEMU's virtio-blk (aio=io_uring, cache=none), both on the same 1 GiB disk
# (the nested host's /dev/vdb, backed by a file here), plus fio in the nested host on that disk as
# the physical reference. Jobs: 4k random read/write at queue depth 1 and 32, 1M sequential read
# and write (libaio, O_DIRECT, BENCH_RUNTIME s each, default 5). ROUNDS rounds (default 3),
# alternating hvkvm, QEMU, host; prints every result, the medians and the ratios.
#   bench/storage/run.sh [--rounds N] [--runtime S]
# Environment: HVKVM_BUILD (default build/), HVKVM_CACHE (images), NESTED_TIMEOUT (host boot limit).
# Table also in $HVKVM_BUILD/bench/storage/results.txt. Exit 0 when every VMM produced every job.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../../tests/nested/lib.sh"

rounds=3 runtime=${BENCH_RUNTIME:-5}
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=${2-}; shift 2 ;;
	--runtime) runtime=${2-}; shift 2 ;;
	*) nested_die "unknown argument '$1' (usage: bench/storage/run.sh [--rounds N] [--runtime S])" ;;
	esac
done
[[ $rounds =~ ^[1-9][0-9]*$ && $runtime =~ ^[1-9][0-9]*$ ]] || nested_die "--rounds and --runtime take numbers >= 1"
build=${HVKVM_BUILD:-$NESTED_ROOT/build}
out=$build/bench/storage
[ -x "$build/hvkvm" ] || nested_die "$build/hvkvm not found; build it first (scripts/setup.sh)"
mkdir -p "$out" && cp "$build/hvkvm" "$out/hvkvm" || nested_die "cannot prepare $out"

nested_images
nested_part_guest
nested_part_qemu
# The benchmark disk: 1 GiB of random data, a virtio disk of the nested host.
if [ ! -s "$out/disk.img" ]; then
	dd if=/dev/urandom of="$out/disk.img.tmp" bs=1M count=1024 status=none && mv "$out/disk.img.tmp" "$out/disk.img" ||
		nested_die "cannot write $out/disk.img"
fi
stage=$(mktemp -d "$out/stage.XXXXXX")
mkdir -p "$stage/guest-extra/bin" && install -m 755 "$here/guest-fio" "$stage/guest-extra/bin/guest-fio"
_nested_cpio "$stage" "$out/extra.cpio"
rm -rf "$stage"

header="bench/storage: hvkvm $(git -C "$NESTED_ROOT" rev-parse --short HEAD 2>/dev/null); $rounds rounds, ${runtime} s per job; this machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$header"
limit=${NESTED_TIMEOUT:-$((300 + rounds * 3 * (60 + 6 * (runtime + 3))))}
NESTED_BENCH_PARTS=("$NESTED_GUEST_PART" "$NESTED_QEMU_PART" "$out/extra.cpio")
NESTED_BENCH_ENV=("ROUNDS=$rounds" "BENCH_RUNTIME=$runtime")
NESTED_QEMU_ARGS="-drive file=$out/disk.img,if=virtio,format=raw,cache=none,aio=io_uring" \
	nested_bench_boots bench/storage "$out" "$here/scenario.sh" "$limit"

# "@@bench VMM ROUND JOB IOPS KIB"
results=$(cat "$out"/attempt-*/serial.log | sed -n 's/^[0-9.]* @@bench \([a-z]*\) \([0-9]*\) \([^ ]*\) \([0-9.]*\) \([0-9.]*\)$/\1 \2 \3 \4 \5/p')
[ -n "$results" ] || { echo "bench/storage: no results; see $out/attempt-*/serial.log" >&2; exit 2; }
report() {
	awk '
		function median(s,   n, v, i, j, t) {
			n = split(s, v, " ")
			for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
			return n == 0 ? 0 : (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2)
		}
		{ iops[$1, $3] = iops[$1, $3] " " $4; bw[$1, $3] = bw[$1, $3] " " $5; n[$1, $3]++
		  if (!($3 in seen)) { seen[$3] = 1; jobs[++nj] = $3 } }
		END {
			printf "%-18s %-6s %10s %10s %10s   %-14s %-14s\n", "job", "", "hvkvm", "qemu", "host", "hvkvm/qemu", "hvkvm/host"
			for (i = 1; i <= nj; i++) {
				j = jobs[i]
				h = median(iops["hvkvm", j]); q = median(iops["qemu", j]); p = median(iops["host", j])
				printf "%-18s %-6s %10.0f %10.0f %10.0f   %-14s %-14s\n", j, "IOPS", h, q, p,
					(q > 0 ? sprintf("%.2f", h / q) : "-"), (p > 0 ? sprintf("%.2f", h / p) : "-")
				h = median(bw["hvkvm", j]) / 1024; q = median(bw["qemu", j]) / 1024; p = median(bw["host", j]) / 1024
				printf "%-18s %-6s %10.1f %10.1f %10.1f   %-14s %-14s\n", "", "MiB/s", h, q, p,
					(q > 0 ? sprintf("%.2f", h / q) : "-"), (p > 0 ? sprintf("%.2f", h / p) : "-")
			}
		}' <<<"$results"
}
# "@@bench-cpu VMM ROUND JOB main=TICKS all=TICKS hz=HZ": the VMM's CPU time during each job.
cpu=$(cat "$out"/attempt-*/serial.log | sed -n 's/^[0-9.]* @@bench-cpu \([a-z]*\) \([0-9]*\) \([^ ]*\) main=\([0-9]*\) all=\([0-9]*\) hz=\([0-9]*\).*/\1 \3 \4 \5 \6/p')
cpu_report() {
	[ -n "$cpu" ] || return 0
	echo
	echo "VMM CPU per job (median seconds; main = the thread serving the disk: hvkvm's event loop, QEMU's main loop):"
	awk '
		function median(s,   n, v, i, j, t) {
			n = split(s, v, " ")
			for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
			return n == 0 ? 0 : (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2)
		}
		{ m[$1, $2] = m[$1, $2] " " $3 / $5; a[$1, $2] = a[$1, $2] " " $4 / $5
		  if (!($2 in seen)) { seen[$2] = 1; jobs[++nj] = $2 } }
		END {
			printf "%-18s %12s %12s %12s %12s\n", "job", "hvkvm main", "qemu main", "hvkvm all", "qemu all"
			for (i = 1; i <= nj; i++) {
				j = jobs[i]
				printf "%-18s %12.2f %12.2f %12.2f %12.2f\n", j, median(m["hvkvm", j]), median(m["qemu", j]),
					median(a["hvkvm", j]), median(a["qemu", j])
			}
		}' <<<"$cpu"
}
{ echo "$header"; echo; echo "runs (VMM round job IOPS KiB/s):"; echo "$results" | sed 's/^/  /'; echo; report; cpu_report; } >"$out/results.txt"
tail -n +2 "$out/results.txt"
for v in hvkvm qemu host; do
	[ "$(grep "^$v " <<<"$results" | cut -d' ' -f3 | sort -u | wc -l)" = 6 ] ||
		{ echo "bench/storage: $v: not every job produced a result" >&2; exit 1; }
done
exit 0
