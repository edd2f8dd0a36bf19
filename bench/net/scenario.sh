# Inside the nested host for bench/net/run.sh (after host-lib.sh): ROUNDS rounds of the guest's
# iperf3 and ping (bench/net/guest-net) under hvkvm (netvsp on tap hvtap0) and QEMU (virtio-net on
# tap qtap0, without vhost, and with vhost-net when the host has /dev/vhost-net). Each VMM runs in
# a network namespace of its own (unshare -n); its tap gets 10.0.0.1 there, with an iperf3 server
# from the tools image (/dev/vda). Output: "@@bench VMM ROUND JOB VALUE" lines.
_initrd=$GUEST_INITRD
guest_initrd_plus /guest-extra /tmp/guest-bench.cpio.gz
mkdir -p /tools-host && mount -o ro /dev/vda /tools-host && mount --bind /dev /tools-host/dev &&
	mount -t proc proc /tools-host/proc && mount -t tmpfs tmp /tools-host/tmp # iperf3's buffers
CASE_LIMIT=${BENCH_LIMIT:-240}
bench_in() { nsenter -t "$(cat "/tmp/bench-$_vmm-$_round.pid")" -n "$@"; }
bench_hook() {
	case $1 in
	*"bench-request: "*)
		_n=$(echo "${1#*bench-request: }" | tr -d '\r' | cut -d' ' -f1)
		bench_in ip addr add 10.0.0.1/24 dev "$_tap" && bench_in ip link set "$_tap" up &&
			bench_in chroot /tools-host /usr/bin/iperf3 -s -D >/dev/null 2>&1
		echo "bench-done $_n status=$?" >&3
		;;
	*"net-result: "*)
		set -- $(echo "${1#*net-result: }" | tr -d '\r')
		echo "@@bench $_vmm $_round $1 $2"
		;;
	esac
}
vmms="hvkvm qemu"
[ -c /dev/vhost-net ] && vmms="$vmms qemu-vhost"
CASE_HOOK=bench_hook
INNER_PREFIX="unshare -n"
cmdline="console=ttyS0 quiet hvtest=hv hvtest-run=/bin/guest-net hvtest-end=poweroff"
for _round in $(seq 1 "${ROUNDS:-3}"); do
	for _vmm in $vmms; do
		case $_vmm in
		hvkvm)
			_tap=hvtap0 HVINNER=hvkvm HVKVM_EXTRA="--net tap=hvtap0 --disk /dev/vda,readonly" ;;
		qemu | qemu-vhost)
			_tap=qtap0 HVINNER=qemu
			_vh=off; [ $_vmm = qemu-vhost ] && _vh=on
			INNER_QEMU_ARGS="-netdev tap,id=n0,ifname=qtap0,script=no,downscript=no,vhost=$_vh -device virtio-net-pci,netdev=n0,romfile= -drive file=/dev/vda,if=virtio,format=raw,readonly=on"
			;;
		esac
		run_case "bench-$_vmm-$_round" "$CASE_LIMIT" - 2 1024M exit "$cmdline"
	done
done
GUEST_INITRD=$_initrd
