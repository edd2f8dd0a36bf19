#!/bin/bash
# Boot benchmark (nested tier): the same Debian guest (kernel, guest.cpio.gz, 1 vCPU, 512M) under hvkvm,
# QEMU -M microvm and QEMU -M pc, all on KVM inside one boot of the nested test host, alternating VMMs.
# Per run: ms from the VMM's start to the guest's "hvkvm-guest: init started" (the nested host's
# monotonic clock, bench/boot/boot_probe.c), and the VMM's VmRSS, VmHWM and Pss after the guest has
# sat idle at its prompt for a few seconds. Prints each run, the medians per VMM and the ratios.
# QEMU runs with -accel kvm -cpu host -nodefaults -serial stdio -no-reboot; -M microvm,rtc=on (its
# defaults otherwise: ACPI, PIC, PIT, ISA serial; without the RTC, Debian's kernel spends seconds
# probing for it) and -M pc. hvkvm: --serial stdio --on-reboot exit. The guest's command line:
# "console=ttyS0 quiet hvtest=check hvtest-end=poweroff" (tests/guest-init/init): it prints its first
# line, then waits at "ready-for-input" (the idle phase) for a line on its console, then powers off.
#   bench/boot/run.sh [--runs N] [--warmup N] [--idle S] [--kernels LIST] [--vmms LIST] [--verbose]
#     --runs     counted rounds (default 5); --warmup: rounds before them, printed, not counted (1)
#     --idle     seconds the guest sits idle before its memory is read (default 5)
#     --kernels  "vmlinux" (ELF, PVH entry) and/or "bzImage" (default "vmlinux bzImage")
#     --vmms     from hvkvm, hvkvm-hv, qemu-microvm, qemu-pc (default all; hvkvm-hv, i.e. hvkvm
#                --hyperv on, only when hvkvm has --hyperv; "hvkvm" then runs with --hyperv off)
#     --verbose  the inner kernel logs to its console (no "quiet"): to see where the time goes
# Environment: HVKVM_BUILD (default build/; its hvkvm is benchmarked), HVKVM_CACHE (images),
# NESTED_TIMEOUT (seconds for the host boot, default from the number of runs), BENCH_LIMIT (seconds
# per inner run, default 120). Logs: $HVKVM_BUILD/bench/boot/attempt-N/serial.log; the tables also
# go to $HVKVM_BUILD/bench/boot/results.txt. The nested host is retried once if it freezes or does
# not finish. Exit status: 0 all runs measured, 1 some runs failed, 2 it could not run.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../tests/nested/lib.sh
. "$here/../../tests/nested/lib.sh"

runs=5 warmup=1 idle=5 kernels="vmlinux bzImage" vmms="" quiet=quiet
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=${2-}; shift 2 ;;
	--warmup) warmup=${2-}; shift 2 ;;
	--idle) idle=${2-}; shift 2 ;;
	--kernels) kernels=${2-}; shift 2 ;;
	--vmms) vmms=${2-}; shift 2 ;;
	--verbose) quiet=; shift ;;
	*) nested_die "unknown argument '$1' (usage: bench/boot/run.sh [--runs N] [--warmup N] [--idle S] [--kernels LIST] [--vmms LIST] [--verbose])" ;;
	esac
done
for n in "$runs" "$warmup" "$idle"; do [[ $n =~ ^[0-9]+$ ]] || nested_die "not a number: '$n'"; done
[ "$runs" -ge 1 ] || nested_die "--runs must be at least 1"
for k in $kernels; do
	case $k in vmlinux | bzImage) ;; *) nested_die "--kernels takes vmlinux and bzImage, not '$k'" ;; esac
done

build=${HVKVM_BUILD:-$NESTED_ROOT/build}
out=$build/bench/boot
[ -x "$build/hvkvm" ] || nested_die "$build/hvkvm not found; build it first: meson setup build && meson compile -C build"
command -v gcc >/dev/null || nested_die "gcc not found; install it: apt-get install gcc libc6-dev"
mkdir -p "$out" || nested_die "cannot create $out"
# A copy: the binary under test stays the same for both attempts, whatever happens to the build.
cp "$build/hvkvm" "$out/hvkvm" || nested_die "cannot copy $build/hvkvm"
hyperv=0
"$out/hvkvm" run --help 2>&1 | grep -q -- '--hyperv' && hyperv=1
if [ -z "$vmms" ]; then
	vmms="hvkvm qemu-microvm qemu-pc"
	[ $hyperv = 1 ] && vmms="hvkvm hvkvm-hv qemu-microvm qemu-pc"
fi
for v in $vmms; do
	case $v in
	hvkvm | qemu-microvm | qemu-pc) ;;
	hvkvm-hv) [ $hyperv = 1 ] || nested_die "hvkvm-hv needs --hyperv, which $build/hvkvm does not have" ;;
	*) nested_die "--vmms takes hvkvm, hvkvm-hv, qemu-microvm and qemu-pc, not '$v'" ;;
	esac
done

gcc -static -O2 -Wall -o "$out/boot-probe" "$here/boot_probe.c" ||
	nested_die "cannot build $out/boot-probe (gcc -static needs libc6-dev)"
nested_images
nested_part_guest
nested_part_qemu
stage=$(mktemp -d "$out/stage.XXXXXX")
mkdir -p "$stage/bin" && cp "$out/boot-probe" "$stage/bin/boot-probe"
_nested_cpio "$stage" "$out/probe.cpio"
rm -rf "$stage"

cmdline="console=ttyS0${quiet:+ $quiet} hvtest=check hvtest-end=poweroff"
limit_run=${BENCH_LIMIT:-120}
nruns=$(($(wc -w <<<"$kernels") * (runs + warmup) * $(wc -w <<<"$vmms")))
limit=${NESTED_TIMEOUT:-$((120 + nruns * (40 + idle)))}
rev=$(git -C "$NESTED_ROOT" rev-parse --short HEAD 2>/dev/null)
[ -n "$(git -C "$NESTED_ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] && rev+=+dirty
header="bench/boot: hvkvm $rev$([ $hyperv = 1 ] && echo ", --hyperv available"); VMMs: $vmms; kernels: $kernels;"
header+=" $warmup warm-up + $runs counted rounds, idle $idle s; this machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$header"

# --- One attempt: the nested host's boot -------------------------------------------------------

attempt_ok() { grep -qE '^[0-9.]+ @@host done ' "$log"; }

for attempt in 1 2; do
	dir=$out/attempt-$attempt
	[ $attempt = 1 ] && rm -rf "$out"/attempt-*
	mkdir -p "$dir"
	nested_part_run "$dir" "$here/scenario.sh" "$out/hvkvm" \
		"BENCH_VMMS=$vmms" "BENCH_KERNELS=$kernels" "BENCH_RUNS=$runs" "BENCH_WARMUP=$warmup" \
		"BENCH_IDLE=$idle" "BENCH_LIMIT=$limit_run" "BENCH_CMDLINE=$cmdline" "BENCH_HYPERV=$hyperv"
	nested_initrd "$dir/host.cpio" "$NESTED_GUEST_PART" "$NESTED_QEMU_PART" "$out/probe.cpio" "$NESTED_RUN_PART"
	rm -f "$NESTED_RUN_PART"
	log=$dir/serial.log
	echo "bench/boot: attempt $attempt: booting the nested host for $nruns inner runs (limit $limit s, log $log)"
	t0=$(date +%s)
	nested_boot "$log" "$limit" "$dir/host.cpio" bench
	status=$?
	rm -f "$dir/host.cpio"
	echo "bench/boot: attempt $attempt: $(($(date +%s) - t0)) s, QEMU status $status$([ "$NESTED_STALLED" = 1 ] && echo ", frozen")"
	attempt_ok && break
	echo "bench/boot: the nested host did not finish; its last lines:"
	tail -n 10 "$log" | sed 's/^/    /'
done
grep -qE '^[0-9.]+ @@host ready .*kvm=yes' "$log" || { echo "bench/boot: no /dev/kvm in the nested host" >&2; exit 2; }

# --- Results -----------------------------------------------------------------------------------

# One line per run: NAME BOOT_MS RSS_KB HWM_KB PSS_KB END_MS STATUS
results=$(sed -n 's/^[0-9.]* @@bench \([^ ]*\) boot_ms=\(-*[0-9]*\) rss_kb=\(-*[0-9]*\) hwm_kb=\(-*[0-9]*\) pss_kb=\(-*[0-9]*\) end_ms=\(-*[0-9]*\) status=\(-*[0-9]*\)$/\1 \2 \3 \4 \5 \6 \7/p' "$log")
[ -n "$results" ] || { echo "bench/boot: no run finished; see $log" >&2; exit 2; }

report() { # the tables, from $results
	echo
	printf '%-26s %8s %9s %9s %9s %8s %s\n' run "boot ms" "RSS kB" "HWM kB" "Pss kB" "end ms" status
	while read -r name boot rss hwm pss end st; do
		note=
		[[ $name == */w* ]] && note="  (warm-up)"
		[ "$st" = 0 ] && [ "$boot" -ge 0 ] && [ "$rss" -ge 0 ] || note+="  FAILED"
		printf '%-26s %8s %9s %9s %9s %8s %s%s\n' "$name" "$boot" "$rss" "$hwm" "$pss" "$end" "$st" "$note"
	done <<<"$results"

	echo
	awk -v kernels="$kernels" -v vmms="$vmms" -v want="$runs" '
		function median(key, col,   n, i, j, t, v) {
			n = split(vals[key, col], v, " ")
			for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
			return n == 0 ? -1 : (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2)
		}
		function ratio(a, b) { return (a > 0 && b > 0) ? sprintf("%.2f", a / b) : "-" }
		{
			split($1, p, "/")
			if (p[3] ~ /^w/) next
			if ($7 != 0 || $2 < 0 || $3 < 0) next
			ok[p[1], p[2]]++
			for (c = 2; c <= 5; c++) vals[p[1], p[2], c] = vals[p[1], p[2], c] " " $c
		}
		END {
			nk = split(kernels, K, " "); nv = split(vmms, V, " ")
			printf "%-8s %-13s %5s %8s %9s %9s %9s\n", "kernel", "VMM", "runs", "boot ms", "RSS kB", "HWM kB", "Pss kB"
			for (i = 1; i <= nk; i++) for (j = 1; j <= nv; j++) {
				k = K[i]; v = V[j]
				for (c = 2; c <= 5; c++) m[k, v, c] = median(k SUBSEP v, c)
				printf "%-8s %-13s %2d/%-2d %8s %9s %9s %9s\n", k, v, ok[k, v], want, m[k, v, 2], m[k, v, 3], m[k, v, 4], m[k, v, 5]
			}
			print ""
			printf "%-8s %-27s %8s %9s %9s %9s\n", "kernel", "ratio of medians", "boot", "RSS", "HWM", "Pss"
			for (i = 1; i <= nk; i++) for (j = 1; j <= nv; j++) {
				if (V[j] !~ /^hvkvm/) continue
				for (b = 1; b <= nv; b++) {
					if (V[b] !~ /^qemu-/) continue
					k = K[i]; h = V[j]; q = V[b]
					printf "%-8s %-27s %8s %9s %9s %9s\n", k, h "/" q, ratio(m[k, h, 2], m[k, q, 2]),
						ratio(m[k, h, 3], m[k, q, 3]), ratio(m[k, h, 4], m[k, q, 4]), ratio(m[k, h, 5], m[k, q, 5])
				}
			}
		}' <<<"$results"
}
{ echo "$header"; report; } >"$out/results.txt"
tail -n +2 "$out/results.txt"

nfail=$(awk '$1 !~ /\/w[0-9]+$/ && ($7 != 0 || $2 < 0 || $3 < 0)' <<<"$results" | wc -l)
ndone=$(awk '$1 !~ /\/w[0-9]+$/' <<<"$results" | wc -l)
want=$((nruns - $(wc -w <<<"$kernels") * warmup * $(wc -w <<<"$vmms")))
echo
echo "bench/boot: $((ndone - nfail)) of $want counted runs measured (log $log, table $out/results.txt)"
[ "$nfail" = 0 ] && [ "$ndone" = "$want" ] && exit 0
exit 1
