#!/bin/bash
# Network benchmark (nested tier): iperf3 TCP both ways and ping round trips from the same Debian
# guest (2 vCPUs, 1 GiB) on hvkvm's netvsp and on QEMU's virtio-net (without vhost, and with
# vhost-net where the nested host has it), each on a tap device in a network namespace of its own
# inside the nested test host, against an iperf3 server on the tap's host side. ROUNDS rounds
# (default 3), alternating VMMs; prints every result, the medians and the ratios.
#   bench/net/run.sh [--rounds N] [--runtime S]     (S: seconds per iperf3 direction, default 10)
# Environment: HVKVM_BUILD (default build/), HVKVM_CACHE (images), NESTED_TIMEOUT (host boot limit).
# Table also in $HVKVM_BUILD/bench/net/results.txt. Exit 0 when every VMM produced every result.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../../tests/nested/lib.sh"

rounds=3 runtime=${BENCH_RUNTIME:-10}
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=${2-}; shift 2 ;;
	--runtime) runtime=${2-}; shift 2 ;;
	*) nested_die "unknown argument '$1' (usage: bench/net/run.sh [--rounds N] [--runtime S])" ;;
	esac
done
[[ $rounds =~ ^[1-9][0-9]*$ && $runtime =~ ^[1-9][0-9]*$ ]] || nested_die "--rounds and --runtime take numbers >= 1"
build=${HVKVM_BUILD:-$NESTED_ROOT/build}
out=$build/bench/net
[ -x "$build/hvkvm" ] || nested_die "$build/hvkvm not found; build it first (scripts/setup.sh)"
mkdir -p "$out" && cp "$build/hvkvm" "$out/hvkvm" || nested_die "cannot prepare $out"

nested_images
nested_part_guest
nested_part_qemu
stage=$(mktemp -d "$out/stage.XXXXXX")
mkdir -p "$stage/guest-extra/bin" && install -m 755 "$here/guest-net" "$stage/guest-extra/bin/guest-net"
_nested_cpio "$stage" "$out/extra.cpio"
rm -rf "$stage"

header="bench/net: hvkvm $(git -C "$NESTED_ROOT" rev-parse --short HEAD 2>/dev/null); $rounds rounds, iperf3 ${runtime} s each way; this machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$header"
limit=${NESTED_TIMEOUT:-$((300 + rounds * 3 * (60 + 2 * runtime + 10)))}
NESTED_BENCH_PARTS=("$NESTED_GUEST_PART" "$NESTED_QEMU_PART" "$out/extra.cpio")
NESTED_BENCH_ENV=("ROUNDS=$rounds" "BENCH_RUNTIME=$runtime")
nested_bench_boots bench/net "$out" "$here/scenario.sh" "$limit"

# "@@bench VMM ROUND JOB VALUE"
results=$(cat "$out"/attempt-*/serial.log | sed -n 's/^[0-9.]* @@bench \([a-z-]*\) \([0-9]*\) \([^ ]*\) \([0-9.]*\)$/\1 \2 \3 \4/p')
[ -n "$results" ] || { echo "bench/net: no results; see $out/attempt-*/serial.log" >&2; exit 2; }
report() {
	awk '
		function median(s,   n, v, i, j, t) {
			n = split(s, v, " ")
			for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
			return n == 0 ? 0 : (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2)
		}
		{ val[$1, $3] = val[$1, $3] " " $4; if (!($1 in sv)) { sv[$1] = 1; vm[++nv] = $1 }
		  if (!($3 in sj)) { sj[$3] = 1; job[++nj] = $3 } }
		END {
			printf "%-14s", "job"; for (i = 1; i <= nv; i++) printf " %12s", vm[i]
			for (i = 2; i <= nv; i++) printf " %16s", "hvkvm/" vm[i]; print ""
			for (j = 1; j <= nj; j++) {
				printf "%-14s", job[j] (job[j] ~ /rtt/ ? " ms" : " Mb/s")
				for (i = 1; i <= nv; i++) { m[i] = median(val[vm[i], job[j]]); printf " %12.3f", m[i] }
				for (i = 2; i <= nv; i++) printf " %16s", (m[i] > 0 ? sprintf("%.2f", m[1] / m[i]) : "-")
				print ""
			}
			print "(throughput: higher is better; ping-rtt: lower is better, so a ratio below 1 favours hvkvm)"
		}' <<<"$results"
}
{ echo "$header"; echo; echo "runs (VMM round job value):"; echo "$results" | sed 's/^/  /'; echo; report; } >"$out/results.txt"
tail -n +2 "$out/results.txt"
for v in $(cut -d' ' -f1 <<<"$results" | sort -u); do
	[ "$(grep "^$v " <<<"$results" | cut -d' ' -f3 | sort -u | wc -l)" = 3 ] ||
		{ echo "bench/net: $v: not every result came" >&2; exit 1; }
done
exit 0
