# Inside the nested host for bench/storage/run.sh (after host-lib.sh): ROUNDS rounds, each running
# the fio jobs under hvkvm (storvsp), under QEMU (virtio-blk, aio=io_uring, cache=none) and on the
# host itself, all on /dev/vdb (the benchmark disk QEMU gives the nested host); the tools image is
# /dev/vda. Output: "@@bench VMM ROUND JOB IOPS KIB_PER_S" lines.
_initrd=$GUEST_INITRD
guest_initrd_plus /guest-extra /tmp/guest-bench.cpio.gz
CASE_LIMIT=${BENCH_LIMIT:-240}
bench_hook() {
	case $1 in
	*"fio-result: "*)
		set -- $(echo "${1#*fio-result: }" | tr -d '\r')
		echo "@@bench $_vmm $_round $*"
		;;
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
