# Inside the nested host for bench/vmbus/run.sh (after host-lib.sh): ROUNDS boots of the Debian
# guest under hvkvm with the VMBus echo test device; the guest's ping module measures the
# channel. Output: "@@bench vmbus ROUND rtt_ns=N pps=N ..." lines.
_initrd=$GUEST_INITRD
guest_initrd_plus /guest-extra /tmp/guest-bench.cpio.gz
bench_hook() {
	case $1 in
	*"vmbus-result: "*) echo "@@bench vmbus $_round $(echo "${1#*vmbus-result: }" | tr -d '\r')" ;;
	esac
}
CASE_HOOK=bench_hook
HVKVM_EXTRA="--vmbus-test-device"
for _round in $(seq 1 "${ROUNDS:-3}"); do
	run_case "bench-vmbus-$_round" "${BENCH_LIMIT:-240}" - 2 512M exit \
		"console=ttyS0 quiet hvtest=hv hvtest-run=/bin/guest-ping hvtest-end=poweroff"
done
GUEST_INITRD=$_initrd
