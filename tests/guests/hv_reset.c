/* Test guest: the Hyper-V RESET MSR 0x40000003 (TLFS v6.0b, partition reset): each boot checks it
 * finds the reset state of the Hyper-V MSRs, dirties them, then writes bit 0 of RESET. */
#include "guest.h"
#include "hyperv.h"
#include "io.h"
#include "timer.h"
#include "uart.h"

#define STILL_RUNNING_US 2000000

const char test_name[] = "hv_reset";

static uint8_t page[2][4096] __attribute__((aligned(4096)));

static void expect_reset_state(void)
{
	static const struct {
		uint32_t msr;
		uint64_t value;
		const char *name;
	} regs[] = {
		{ HV_MSR_GUEST_OS_ID, 0, "GUEST_OS_ID" },
		{ HV_MSR_HYPERCALL, 0, "HYPERCALL" },
		{ HV_MSR_SCONTROL, 0, "SCONTROL" },
		{ HV_MSR_SIMP, 0, "SIMP" },
		{ HV_MSR_SIEFP, 0, "SIEFP" },
		{ HV_MSR_SINT(2), HV_SINT_MASKED, "SINT2" },
		{ HV_MSR_STIMER_CONFIG(0), 0, "STIMER0_CONFIG" },
		{ HV_MSR_STIMER_COUNT(0), 0, "STIMER0_COUNT" },
		{ HV_MSR_REFERENCE_TSC, 0, "REFERENCE_TSC" },
	};

	for (unsigned i = 0; i < ARRAY_SIZE(regs); i++) {
		uint64_t v = ~UINT64_C(0);
		int fault = hv_rdmsr_probe(regs[i].msr, &v);

		check(fault == 0 && v == regs[i].value, "%s reads %#lx at boot (%#lx)", regs[i].name,
		      regs[i].value, v);
	}
}

static void dirty_state(void)
{
	hv_hypercall_init();
	wrmsr(HV_MSR_SIMP, (uint64_t)(uintptr_t)page[0] | HV_PAGE_ENABLE);
	wrmsr(HV_MSR_SIEFP, (uint64_t)(uintptr_t)page[1] | HV_PAGE_ENABLE);
	wrmsr(HV_MSR_SINT(2), 0x30);
	wrmsr(HV_MSR_SCONTROL, HV_SCONTROL_ENABLE);
	/* A far-off deadline: must not survive the reset. */
	wrmsr(HV_MSR_STIMER_COUNT(0), hv_ref_time() + 600 * HV_REF_HZ);
	wrmsr(HV_MSR_STIMER_CONFIG(0), HV_STIMER_SINT(2) | HV_STIMER_ENABLE);
	if (hv_privileges() & HV_PRIV_REFERENCE_TSC)
		wrmsr(HV_MSR_REFERENCE_TSC, (uint64_t)(uintptr_t)page[1] | HV_PAGE_ENABLE);
}

void test_main(void)
{
	uint64_t v = ~UINT64_C(0);

	hv_require(HV_PRIV_HYPERCALL | HV_PRIV_SYNIC | HV_PRIV_STIMER);
	check(hv_privileges() & HV_PRIV_RESET, "RESET MSR advertised (0x40000003 EAX bit 7)");
	int fault = hv_rdmsr_probe(HV_MSR_RESET, &v);

	check(fault == 0 && v == 0, "RESET reads 0 (%#lx)", v);
	expect_reset_state();
	check(hv_wrmsr_probe(HV_MSR_RESET, 0) == 0, "writing 0 to RESET does nothing");
	if (checks_failed())
		return;
	dirty_state();
	con_printf("hv_reset: writing 1 to the RESET MSR\n");
	uart_flush();
	wrmsr(HV_MSR_RESET, 1);
	udelay(STILL_RUNNING_US);
	guest_fail("still running %u s after the RESET MSR write", STILL_RUNNING_US / 1000000);
}
