# Hyper-V scenarios of tests/nested/run.sh, run inside the nested test host after the core ones (see
# host-lib.sh): Debian's kernel on hvkvm's userspace TLFS path, on a KVM with Hyper-V of its own.
# /guest-extra (from run.sh: the msr driver) is added to the inner initramfs. hvkvm runs with -v:
# its exit statistics say how many synthetic MSR accesses and hypercalls userspace served.
CASE_LIMIT=${CASE_LIMIT:-240}
_hv_extra=${HVKVM_EXTRA-}
_hv_initrd=$GUEST_INITRD
[ -d /guest-extra ] && guest_initrd_plus /guest-extra /tmp/guest-hv.cpio.gz

# The default set on 4 vCPUs: what Linux detects, its clocksource, CLOCK_REALTIME against the
# host's over 10 s, then a reset through HV_X64_MSR_RESET (--on-reboot exit: status 0).
HVKVM_EXTRA="$_hv_extra -v --vmbus-test-device"
run_case hv-check "$CASE_LIMIT" - 4 512M exit \
	"console=ttyS0 $INNER_APPEND hvtest=hv hvtest-time=10 hvtest-end=hv-reset"

# A panic (sysrq c) reported through the crash MSRs with the kernel's message: status 3.
CASE_PANICS=1
run_case hv-panic "$CASE_LIMIT" - 1 512M exit \
	"console=ttyS0 $INNER_APPEND hvtest=hv hvtest-end=panic"
CASE_PANICS=

# The same kernel with no Hyper-V at all.
HVKVM_EXTRA="$_hv_extra -v --hyperv off"
run_case hv-off "$CASE_LIMIT" - 1 512M exit \
	"console=ttyS0 $INNER_APPEND hvtest=hv hvtest-end=poweroff"

HVKVM_EXTRA=$_hv_extra
GUEST_INITRD=$_hv_initrd
