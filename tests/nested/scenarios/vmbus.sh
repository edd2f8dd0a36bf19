# VMBus scenarios of tests/nested/run.sh (hvkvm only): the guest's hv_vmbus against hvkvm's
# server with the echo test device. /guest-extra (run.sh: the msr driver and tests/nested/guest-bin)
# is added to the inner initramfs.
_vb_extra=${HVKVM_EXTRA-}
_vb_initrd=$GUEST_INITRD
[ -d /guest-extra ] && guest_initrd_plus /guest-extra /tmp/guest-vmbus.cpio.gz

# Unload and reload hv_vmbus (UNLOAD, then a new connection), then reboot with --on-reboot
# restart: the second boot connects again. Stopped when the second boot has listed its devices.
HVKVM_EXTRA="$_vb_extra --vmbus-test-device"
CASE_STOP="vmbus-connects:2"
run_case vmbus-cycle "$CASE_LIMIT" - 2 512M restart \
	"console=ttyS0 $INNER_APPEND hvtest=hv hvtest-run=/bin/hvtest-vmbus-cycle hvtest-end=reboot"
CASE_STOP=

# Rescind and hot add while the guest runs, driven from the control socket when the guest asks.
vmbus_hook() {
	case $1 in
	*"vmbus-request: "*)
		_req=$(echo "${1#*vmbus-request: }" | tr -d '\r') # the console's lines end in CR LF
		_out=$(hvkvm ctl vm-vmbus vmbus-test "$_req" 2>&1)
		_st=$?
		echo "@@case vmbus-hotplug ctl $_req: $_out status=$_st"
		;;
	esac
}
HVKVM_EXTRA="$_vb_extra --vmbus-test-device --name vm-vmbus"
CASE_HOOK=vmbus_hook
run_case vmbus-hotplug "$CASE_LIMIT" - 1 512M exit \
	"console=ttyS0 $INNER_APPEND hvtest=hv hvtest-run=/bin/hvtest-vmbus-hotplug hvtest-end=poweroff"
CASE_HOOK=

HVKVM_EXTRA=$_vb_extra
GUEST_INITRD=$_vb_initrd
