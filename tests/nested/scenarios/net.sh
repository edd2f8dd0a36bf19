# Network scenarios of tests/nested/run.sh (hvkvm only): Debian's hv_netvsc on hvkvm's netvsp.
# hvkvm runs in a network namespace of its own (unshare -n) and creates tap device hvtap0 there;
# the host's side (10.0.0.1, busybox httpd, iperf3 from the tools image /dev/vda) runs in that
# namespace through nsenter, when the guest half (tests/nested/guest-bin/hvtest-net) asks.
_net_extra=${HVKVM_EXTRA-}
_net_initrd=$GUEST_INITRD
[ -d /guest-extra ] && guest_initrd_plus /guest-extra /tmp/guest-net.cpio.gz
mkdir -p /scratch /tools-host && mount -t tmpfs -o size=300m netscratch /scratch
mount -o ro /dev/vda /tools-host && mount --bind /dev /tools-host/dev && mount -t proc proc /tools-host/proc &&
	mount -t tmpfs tmp /tools-host/tmp # iperf3 keeps its buffers in /tmp
# The transfer size: 256 MiB each way passed (sha256 equal) in a test run, but the nested test
# host itself (TCG) crashes or freezes under that much sustained traffic more often than not;
# CI moves NET_TRANSFER_MIB (default 32) each way.
NET_TRANSFER_MIB=${NET_TRANSFER_MIB:-32}
dd if=/dev/urandom of=/scratch/big bs=1M count="$NET_TRANSFER_MIB" 2>/dev/null
echo "@@case net from-host-sha $(sha256sum </scratch/big | cut -d' ' -f1)"

net_in() { nsenter -t "$(cat /tmp/net.pid)" -n "$@"; }
net_hook() {
	case_request "$1" || return 0
	case $_req in
	setup)
		net_in chroot /tools-host /usr/bin/iperf3 -s -D >/tmp/iperf-server.out 2>&1
		echo "@@case net iperf-server status=$? $(head -n 3 /tmp/iperf-server.out | tr '\n' ' ')"
		net_in ip addr add 10.0.0.1/24 dev hvtap0 && net_in ip link set hvtap0 up &&
			net_in httpd -p 8080 -h /scratch
		;;
	ping-guest) net_in ping -c 3 -W 5 10.0.0.2 >/dev/null 2>&1 ;;
	fetch-from-guest)
		echo "@@case net to-host-sha $(net_in wget -q -O - http://10.0.0.2:8080/big | sha256sum | cut -d' ' -f1)"
		;;
	link-down) hvkvm ctl vm-net nic-link 0 down >/dev/null ;;
	link-up) hvkvm ctl vm-net nic-link 0 up >/dev/null ;;
	esac
	_st=$?
	echo "@@case net host $_req status=$_st"
	case_answer $_st
}
HVKVM_EXTRA="$_net_extra --name vm-net --net tap=hvtap0,mac=52:54:00:12:34:56,mtu=1500 --disk /dev/vda,readonly"
INNER_PREFIX="unshare -n"
CASE_HOOK=net_hook
# 2 vCPUs, one receive queue (channel) each: with 4 the 2-CPU nested host is overcommitted, and
# its kernel died under the transfers more often (in CI twice in a row).
run_case net "$CASE_LIMIT" - 2 1024M exit \
	"console=ttyS0 $INNER_APPEND hvtest=hv hvtest-run=/bin/hvtest-net hvtest-end=poweroff net-mib=$NET_TRANSFER_MIB"
CASE_HOOK=
INNER_PREFIX=
killall httpd iperf3 2>/dev/null # the host side's servers outlive the namespace's VMM
sleep 1
umount /tools-host/tmp /tools-host/proc /tools-host/dev /tools-host /scratch
HVKVM_EXTRA=$_net_extra
GUEST_INITRD=$_net_initrd
