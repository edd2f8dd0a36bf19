# Boot benchmark inside the nested test host (busybox sh, sourced by its /init; see bench/boot/run.sh):
# the same inner guest under each VMM in turn, timed and measured by /bin/boot-probe.
# From /hvtest/env: BENCH_VMMS (hvkvm hvkvm-hv qemu-microvm qemu-pc), BENCH_KERNELS (vmlinux bzImage),
# BENCH_RUNS, BENCH_WARMUP (rounds not counted), BENCH_IDLE (s), BENCH_LIMIT (s per run), BENCH_CMDLINE,
# BENCH_HYPERV (1: hvkvm has --hyperv; "hvkvm" runs with --hyperv off, "hvkvm-hv" with --hyperv on).
# Prints "@@bench NAME ..." per run (NAME = KERNEL/VMM/ROUND, ROUND w1.. for warm-ups), "@@g" lines.

bench_vmm() { # VMM KERNEL: the command line of one inner VMM
	_k=/guest/$2
	case $1 in
	hvkvm | hvkvm-hv)
		_hv=
		if [ "$BENCH_HYPERV" = 1 ]; then
			_hv="--hyperv off"
			[ "$1" = hvkvm-hv ] && _hv="--hyperv on"
		fi
		echo hvkvm run --kernel "$_k" --initrd /guest/guest.cpio.gz --memory 512M --cpus 1 \
			--serial stdio --on-reboot exit $_hv # split: two words or none
		;;
	qemu-microvm | qemu-pc)
		# microvm leaves out the CMOS RTC on KVM by default; Debian's rtc_cmos then spends ~4 s
		# (nested) probing the empty ports: give it one, as hvkvm and -M pc have.
		_m=pc
		[ "$1" = qemu-microvm ] && _m=microvm,rtc=on
		echo qemu-system-x86_64 -accel kvm -cpu host -M "$_m" -m 512 -smp 1 \
			-nodefaults -no-user-config -display none -vga none -serial stdio -no-reboot \
			-kernel "$_k" -initrd /guest/guest.cpio.gz
		;;
	esac
}

bench_run() { # VMM KERNEL ROUND
	echo "@@case bench $2/$1/$3 begin up=$(uptime_s)"
	# The command line has spaces: it goes last, after the word-split VMM command.
	# shellcheck disable=SC2046
	case $1 in
	hvkvm*) set -- "$2/$1/$3" $(bench_vmm "$1" "$2") --cmdline "$BENCH_CMDLINE" ;;
	*) set -- "$2/$1/$3" $(bench_vmm "$1" "$2") -append "$BENCH_CMDLINE" ;;
	esac
	_n=$1
	shift
	echo "@@case bench $_n cmd $*"
	boot-probe -n "$_n" -t "$BENCH_LIMIT" -i "$BENCH_IDLE" -s "bench-input" -- "$@" </dev/null
}

bench_rounds() { # KERNEL
	_nv=$(echo "$BENCH_VMMS" | wc -w)
	_r=0
	for _round in $(seq "$BENCH_WARMUP" | sed 's/^/w/') $(seq "$BENCH_RUNS"); do
		# Alternate the VMMs, and rotate which one goes first from round to round.
		_i=0
		while [ $_i -lt "$_nv" ]; do
			_v=$(echo "$BENCH_VMMS" | tr ' ' '\n' | sed -n "$(((_r + _i) % _nv + 1))p")
			bench_run "$_v" "$1" "$_round"
			_i=$((_i + 1))
		done
		_r=$((_r + 1))
	done
}

echo "@@case bench loadavg $(cat /proc/loadavg)"
for _kernel in $BENCH_KERNELS; do
	bench_rounds "$_kernel"
done
