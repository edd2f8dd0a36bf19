# Inside the nested host for bench/storage/run.sh (after host-lib.sh): ROUNDS rounds, each running
# the fio jobs under hvkvm (storvsp), under QEMU (virtio-blk, aio=io_uring, cache=none) and on the
# host itself, all on /dev/vdb (the benchmark disk QEMU gives the nested host); the tools image is
# /dev/vda. Output: "@@bench VMM ROUND JOB IOPS KIB_PER_S" lines.
_initrd=$GUEST_INITRD
guest_initrd_plus /guest-extra /tmp/guest-bench.cpio.gz
CASE_LIMIT=${BENCH_LIMIT:-240}
# CPU ticks (utime + stime) of the VMM's main thread (hvkvm's event loop, QEMU's main loop, where
# both serve the disk) and of the whole process, from /proc.
vmm_ticks() {
	_p=$(cat "/tmp/bench-$_vmm-$_round.pid" 2>/dev/null)
	[ -n "$_p" ] && [ -r "/proc/$_p/stat" ] || { echo "0 0"; return; }
	_main=$(cut -d' ' -f14,15 "/proc/$_p/task/$_p/stat" | awk '{ print $1 + $2 }')
	_all=$(cut -d' ' -f14,15 "/proc/$_p/stat" | awk '{ print $1 + $2 }')
	echo "$_main $_all"
}
bench_hook() {
	case $1 in
	*"fio-result: "*)
		set -- $(echo "${1#*fio-result: }" | tr -d '\r')
		echo "@@bench $_vmm $_round $*"
		if [ "$_vmm" != host ]; then
			# per job: CPU seconds of the main thread and of the process (USER_HZ ticks)
			set -- "$1" $(vmm_ticks) $_ticks
			echo "@@bench-cpu $_vmm $_round $1 main=$(($2 - $4)) all=$(($3 - $5)) hz=$(getconf CLK_TCK 2>/dev/null || echo 100)"
			_ticks="$2 $3"
		fi
		;;
	*"fio-start"*) _ticks=$(vmm_ticks) ;;
	esac
}
CASE_HOOK=bench_hook
for _round in $(seq 1 "${ROUNDS:-3}"); do
	for _vmm in hvkvm qemu host; do
		case $_vmm in
		hvkvm)
			HVINNER=hvkvm HVKVM_EXTRA="--disk /dev/vdb --disk /dev/vda,readonly"
			run_case "bench-$_vmm-$_round" "$CASE_LIMIT" - 2 1024M exit \
				"console=ttyS0 quiet hvtest=hv hvtest-run=/bin/guest-fio hvtest-end=poweroff"
			;;
		qemu)
			HVINNER=qemu
			INNER_QEMU_ARGS="-drive file=/dev/vdb,if=virtio,format=raw,cache=none,aio=io_uring -drive file=/dev/vda,if=virtio,format=raw,readonly=on"
			run_case "bench-$_vmm-$_round" "$CASE_LIMIT" - 2 1024M exit \
				"console=ttyS0 quiet hvtest=hv hvtest-run=/bin/guest-fio hvtest-end=poweroff"
			;;
		host)
			echo "@@case bench-host-$_round begin"
			/guest-extra/bin/guest-fio /dev/vdb /dev/vda 2>&1 | while IFS= read -r _l; do bench_hook "$_l"; done
			echo "@@case bench-host-$_round end"
			;;
		esac
	done
done
GUEST_INITRD=$_initrd
