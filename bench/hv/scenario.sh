# Inside the nested test host (bench/hv/run.sh; helpers in tests/nested/host-lib.sh): the clock
# benchmark (/bin/hv-clockbench, added to the inner initramfs from /guest-extra) under each --hyperv
# set of HV_BENCH_SETS ("NAME=SET ..."), then the direct-tier benchmark guest on this host's KVM.
CASE_LIMIT=${CASE_LIMIT:-240}
_bench_initrd=$GUEST_INITRD
guest_initrd_plus /guest-extra /tmp/guest-bench.cpio.gz
for _set in $HV_BENCH_SETS; do
	HVKVM_EXTRA="-v --hyperv ${_set#*=}"
	run_case "clock-${_set%%=*}" "$CASE_LIMIT" - 1 512M exit \
		"console=ttyS0 $INNER_APPEND hvtest=hv hvtest-run=/bin/hv-clockbench hvtest-end=poweroff"
done
GUEST_INITRD=$_bench_initrd

if [ -f /hvbench/hv_bench.elf ]; then
	_bench_kernel=$GUEST_KERNEL
	GUEST_KERNEL=/hvbench/hv_bench.elf
	HVKVM_EXTRA="-v --debug-exit 0xf4"
	run_case exits "$CASE_LIMIT" - 1 64M exit "count=${HV_BENCH_COUNT:-2000} shots=${HV_BENCH_SHOTS:-200}"
	GUEST_KERNEL=$_bench_kernel
fi
