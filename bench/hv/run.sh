#!/bin/bash
# Hyper-V benchmark: what hvkvm's userspace TLFS path costs, and the defaults it argues for.
# Direct tier (this machine's /dev/kvm, bench/hv/hv_bench.c under hvkvm --hyperv on): a null
# hypercall, a TIME_REF_COUNT read, a reference TSC page read, and the arming cost and arm-to-
# interrupt latency of a synthetic timer (direct and message mode) and of the in-kernel LAPIC timer
# (TSC-deadline, one-shot), against the floor of any userspace exit: a bare PIO exit. Nested tier
# (Debian's kernel in the nested test host, bench/hv/clock_bench.c): the clocksource and clockevent
# Linux picks, clock_gettime through the vDSO and the syscall, and how late a 100 us sleep wakes,
# under each --hyperv set; then the direct guest again, on the nested host's KVM.
#   bench/hv/run.sh [--runs N] [--no-direct] [--no-nested]
#     --runs  direct-tier runs (default 5): each figure is the median of the runs' medians
# Environment: HVKVM_BUILD (default build/; its hvkvm and bench/hv/hv_bench.elf), HVKVM_CACHE
# (images), NESTED_TIMEOUT (seconds for the nested host, default 600), BENCH_LIMIT (seconds per inner
# run, default 240). Logs: $HVKVM_BUILD/bench/hv/ (direct-N.log; nested attempt-N/serial.log).
# The nested host is retried once if it does not finish. Exit status: 0 all measured, 1 some
# figures missing, 2 it could not run.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../../tests/nested/lib.sh"

runs=5 direct=1 nested=1
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=${2-}; shift 2 ;;
	--no-direct) direct=0; shift ;;
	--no-nested) nested=0; shift ;;
	*) nested_die "unknown argument '$1' (usage: bench/hv/run.sh [--runs N] [--no-direct] [--no-nested])" ;;
	esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || nested_die "--runs takes a positive number"

build=${HVKVM_BUILD:-$NESTED_ROOT/build}
hvkvm=$build/hvkvm
guest=$build/bench/hv/hv_bench.elf
out=$build/bench/hv
[ -x "$hvkvm" ] && [ -f "$guest" ] ||
	nested_die "$hvkvm or $guest missing; build first: meson setup build && meson compile -C build"
mkdir -p "$out" || nested_die "cannot create $out"
status=0

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
field() { # NAME KEY FILE...: KEY's value on the "NAME n=..." result lines
	sed -n "s/.*-bench: $1 n=.* $2=\([0-9]*\).*/\1/p" "${@:3}"
}

# Prints "NAME median-us ratio-to-floor" for each figure of the direct benchmark in FILE...
direct_table() { # FLOOR_NAME FILE...
	local floor name m names
	floor=$(field "$1" median "${@:2}" | median)
	names=$(sed -n 's/.*hv-bench: \([a-z0-9-]*\) n=.*/\1/p' "${@:2}" | awk '!seen[$0]++')
	printf '  %-30s %10s %8s %10s\n' figure "median us" "x floor" "p90 us"
	for name in $names; do
		m=$(field "$name" median "${@:2}" | median)
		awk -v n="$name" -v m="$m" -v f="$floor" -v p="$(field "$name" p90 "${@:2}" | median)" \
			'BEGIN { printf "  %-30s %10.2f %8.2f %10.2f\n", n, m / 1000, f ? m / f : 0, p / 1000 }'
	done
}

# --- Direct tier ------------------------------------------------------------------------------
if [ $direct = 1 ]; then
	logs=()
	for i in $(seq "$runs"); do
		log=$out/direct-$i.log
		timeout 300 "$hvkvm" run --kernel "$guest" --memory 64M --debug-exit 0xf4 \
			--cmdline "count=20000 shots=1000" </dev/null >"$log" 2>&1
		st=$?
		if [ $st != 33 ]; then
			echo "bench/hv: direct run $i: status $st (want 33), see $log" >&2
			status=1
			continue
		fi
		logs+=("$log")
		echo "direct run $i: pio-exit $(field pio-exit median "$log") ns," \
			"null-hypercall $(field null-hypercall median "$log") ns," \
			"stimer-direct-fire-now $(field stimer-direct-fire-now median "$log") ns," \
			"lapic-tsc-deadline-fire-now $(field lapic-tsc-deadline-fire-now median "$log") ns"
	done
	if [ ${#logs[@]} -gt 0 ]; then
		echo "direct tier: this host's /dev/kvm, hvkvm --hyperv on, median of ${#logs[@]} runs" \
			"(per run: the median over 20000 exits or 1000 timer shots), x floor = / pio-exit:"
		direct_table pio-exit "${logs[@]}"
	fi
fi

# --- Nested tier ------------------------------------------------------------------------------
# --hyperv sets: NAME=SET (SET as hvkvm takes it).
sets="on=on no-stimer=-stimer,-stimer-direct no-time=-time,-stimer,-stimer-direct off=off"

nested_bench_part() { # the clock benchmark under /guest-extra, the direct guest under /hvbench
	local stage
	command -v gcc >/dev/null || nested_die "gcc not found; install it: apt-get install gcc libc6-dev"
	stage=$(mktemp -d "$out/stage.XXXXXX")
	mkdir -p "$stage/guest-extra/bin" "$stage/hvbench"
	gcc -static -O2 -Wall -Wextra -o "$stage/guest-extra/bin/hv-clockbench" "$here/clock_bench.c" ||
		nested_die "cannot build $here/clock_bench.c statically (needs libc6-dev's libc.a)"
	cp "$guest" "$stage/hvbench/hv_bench.elf"
	NESTED_BENCH_PART=$out/bench-part.cpio
	_nested_cpio "$stage" "$NESTED_BENCH_PART"
	rm -rf "$stage"
}

g_line() { # CASE PATTERN: the first console line of CASE matching PATTERN
	grep -m1 -E "^[0-9.]+ @@g $1 [0-9.]+ $2" "$log" | cut -d' ' -f5-
}

nested_table() {
	local set name cs ce v s sl ok=0
	printf '  %-11s %-28s %-19s %9s %11s %15s\n' set clocksource clockevent "vdso ns" "syscall ns" \
		"sleep 100us late"
	for set in $sets; do
		name=clock-${set%%=*}
		cs=$(g_line "$name" "clocksource: " | cut -d' ' -f2-)
		ce=$(g_line "$name" "clockevent: " | cut -d' ' -f2-)
		v=$(g_line "$name" "clock-bench: clock_gettime-vdso " | sed -n 's/.* median=\([0-9]*\).*/\1/p')
		s=$(g_line "$name" "clock-bench: clock_gettime-syscall " | sed -n 's/.* median=\([0-9]*\).*/\1/p')
		sl=$(g_line "$name" "clock-bench: sleep-" | sed -n 's/.* median=\([0-9]*\).*/\1/p')
		[ -n "$v" ] && [ -n "$s" ] && [ -n "$sl" ] && ok=$((ok + 1))
		printf '  %-11s %-28s %-19s %9s %11s %12s us\n' "${set%%=*}" "${cs:-?}" "${ce:-?}" "${v:-?}" \
			"${s:-?}" "$(awk -v x="${sl:-}" 'BEGIN { if (x == "") print "?"; else printf "%.0f", x / 1000 }')"
	done
	echo "  (--hyperv sets: ${sets// /; })"
	[ $ok = 4 ]
}

if [ $nested = 1 ]; then
	t0=${EPOCHREALTIME/./}
	nested_images
	nested_part_guest
	nested_bench_part
	echo "bench/hv: nested images ready in $(((${EPOCHREALTIME/./} - t0) / 1000)) ms"
	nested_ok=0
	for attempt in 1 2; do
		dir=$out/attempt-$attempt
		rm -rf "$dir" && mkdir -p "$dir"
		nested_part_run "$dir" "$here/scenario.sh" "$hvkvm" "INNER_APPEND=quiet" \
			"CASE_LIMIT=${BENCH_LIMIT:-240}" "HV_BENCH_SETS=$sets"
		nested_initrd "$dir/host.cpio" "$NESTED_GUEST_PART" "$NESTED_BENCH_PART" "$NESTED_RUN_PART"
		rm -f "$NESTED_RUN_PART"
		log=$dir/serial.log
		echo "bench/hv: nested attempt $attempt (log $log)"
		nested_boot "$log" "${NESTED_TIMEOUT:-600}" "$dir/host.cpio" hvkvm
		rm -f "$dir/host.cpio"
		if grep -qE '^[0-9.]+ @@host done ' "$log"; then
			nested_ok=1
			break
		fi
		echo "bench/hv: the nested host did not finish; last lines:" && tail -n 5 "$log" | sed 's/^/    /'
	done
	echo "nested tier: Debian's kernel, 1 vCPU, hvkvm in the nested test host (QEMU TCG + kvm-amd):"
	nested_table || status=1
	exits=$(grep -E "^[0-9.]+ @@g exits [0-9.]+ hv-bench: " "$log" | cut -d' ' -f5-)
	if [ -n "$exits" ]; then
		printf '%s\n' "$exits" >"$dir/exits.log"
		echo "the direct guest on the nested host's KVM (count=2000 shots=200), x floor = / pio-exit:"
		direct_table pio-exit "$dir/exits.log"
	else
		echo "bench/hv: no figures from the direct guest in the nested host" >&2
		status=1
	fi
	[ $nested_ok = 1 ] || status=1
fi
exit $status
