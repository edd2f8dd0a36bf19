/* Test guest: Hyper-V guest crash reporting (TLFS v6.0b crash MSRs: CRASH_P0-P4, CRASH_CTL with
 * CrashNotify and CrashMessage); the runner checks what hvkvm reports. */
#include "guest.h"
#include "hyperv.h"
#include "io.h"
#include "timer.h"
#include "uart.h"

/* The runner looks for these on hvkvm's stderr. */
#define CRASH_P0 UINT64_C(0xc0ffee)
#define CRASH_P1 UINT64_C(0xdecade)
#define CRASH_P2 UINT64_C(0xfacade)
#define CRASH_STILL_RUNNING_US 2000000

const char test_name[] = "hv_crash";

static const char crash_message[] = "hvkvm test panic";

void test_main(void)
{
	uint64_t ctl = 0;

	hv_require(0);
	check(hv_misc_features() & HV_FEAT_CRASH_MSRS, "crash MSRs advertised (0x40000003 EDX bit 10)");
	int fault = hv_rdmsr_probe(HV_MSR_CRASH_CTL, &ctl);

	check(fault == 0, "CRASH_CTL reads (%#lx)", ctl);
	check(ctl & HV_CRASH_CTL_NOTIFY, "CRASH_CTL offers CrashNotify (bit 63)");
	check(ctl & HV_CRASH_CTL_NOTIFY_MSG, "CRASH_CTL offers CrashMessage (bit 62)");
	for (unsigned i = 0; i < 5; i++) {
		uint64_t v = ~UINT64_C(0);

		int f = hv_rdmsr_probe(HV_MSR_CRASH_P(i), &v);

		check(f == 0, "CRASH_P%u reads (%#lx)", i, v);
	}
	if (checks_failed())
		return;

	wrmsr(HV_MSR_CRASH_P(0), CRASH_P0);
	wrmsr(HV_MSR_CRASH_P(1), CRASH_P1);
	wrmsr(HV_MSR_CRASH_P(2), CRASH_P2);
	wrmsr(HV_MSR_CRASH_P(3), (uint64_t)(uintptr_t)crash_message);
	wrmsr(HV_MSR_CRASH_P(4), sizeof(crash_message) - 1);
	check(rdmsr(HV_MSR_CRASH_P(0)) == CRASH_P0, "CRASH_P0 reads back");
	con_printf("hv_crash: reporting a crash: P0-P2 %#lx %#lx %#lx, message '%s' at %p\n", CRASH_P0,
		   CRASH_P1, CRASH_P2, crash_message, (const void *)crash_message);
	uart_flush();
	wrmsr(HV_MSR_CRASH_CTL, HV_CRASH_CTL_NOTIFY | HV_CRASH_CTL_NOTIFY_MSG);
	udelay(CRASH_STILL_RUNNING_US);
	guest_fail("still running %u s after the crash notification", CRASH_STILL_RUNNING_US / 1000000);
}
