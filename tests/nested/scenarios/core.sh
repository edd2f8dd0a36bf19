# Core scenarios of tests/nested/run.sh, run inside the nested test host (see host-lib.sh).
# INNER_APPEND (from /hvtest/env): extra inner kernel parameters, "quiet" unless asked otherwise.
CASE_LIMIT=${CASE_LIMIT:-240}

run_case smp1-poweroff "$CASE_LIMIT" "hvkvm-echo-smp1-poweroff" 1 512M restart \
	"console=ttyS0 $INNER_APPEND hvtest=check hvtest-end=poweroff"
run_case smp4-reboot "$CASE_LIMIT" "hvkvm-echo-smp4-reboot" 4 512M exit \
	"console=ttyS0 $INNER_APPEND hvtest=check hvtest-end=reboot"
