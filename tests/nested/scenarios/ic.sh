# Integration-service scenarios of tests/nested/run.sh (hvkvm only): Debian's hv_utils and
# hyperv-daemons (in /guest-extra) against hvkvm's ICs, driven with 'hvkvm ctl' when the guest
# half (tests/nested/guest-bin/hvtest-ic) asks; the answer goes back on the guest's console.
_ic_extra=${HVKVM_EXTRA-}
_ic_initrd=$GUEST_INITRD
[ -d /guest-extra ] && guest_initrd_plus /guest-extra /tmp/guest-ic.cpio.gz
mkdir -p /scratch && mount -t tmpfs -o size=64m icscratch /scratch
dd if=/dev/urandom of=/scratch/ic-file bs=1k count=100 2>/dev/null
echo "@@case ic file $(sha256sum </scratch/ic-file | cut -d' ' -f1)"

ic_hook() {
	case_request "$1" || return 0
	_out=$(hvkvm ctl --json "$_ic_vm" $_req 2>&1)
	_st=$?
	echo "@@case $_ic_case ctl ${_req%% *}: $_out status=$_st"
	case_answer $_st
}
HVKVM_EXTRA="$_ic_extra --name vm-ic --net tap=ictap0,mac=52:54:00:ab:cd:01"
CASE_HOOK=ic_hook
_ic_case=ic _ic_vm=vm-ic
run_case ic "$CASE_LIMIT" - 2 512M exit \
	"console=ttyS0 $INNER_APPEND hvtest=hv hvtest-run=/bin/hvtest-ic hvtest-end=poweroff"

# A reboot asked for through the shutdown service: the guest's orderly reboot, and hvkvm
# (--on-reboot exit) ends with 0.
HVKVM_EXTRA="$_ic_extra --name vm-ic-reboot"
_ic_case=ic-reboot _ic_vm=vm-ic-reboot
run_case ic-reboot "$CASE_LIMIT" - 1 512M exit \
	"console=ttyS0 $INNER_APPEND hvtest=hv hvtest-run=/bin/hvtest-ic-reboot hvtest-end=poweroff"
CASE_HOOK=
umount /scratch
HVKVM_EXTRA=$_ic_extra
GUEST_INITRD=$_ic_initrd
