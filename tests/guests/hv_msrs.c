/* Test guest: Hyper-V synthetic MSRs (TLFS v6.0b §3.13 GUEST_OS_ID/HYPERCALL, §7.7 VP index,
 * runtime, assist page, §12.4 frequencies, TIME_REF_COUNT against the PM timer), unknown MSRs. */
#include "guest.h"
#include "hyperv.h"
#include "io.h"
#include "smp.h"
#include "timer.h"

#define RATE_WINDOW_US 200000
#define RATE_TOLERANCE_PERMILLE 10 /* 1% */
#define RUNTIME_WINDOW_US 20000

const char test_name[] = "hv_msrs";

static uint8_t assist_page[4096] __attribute__((aligned(4096)));

/* |measured - expected| <= expected * permille / 1000 */
static bool within(uint64_t measured, uint64_t expected, unsigned permille)
{
	uint64_t diff = measured > expected ? measured - expected : expected - measured;

	return diff * 1000 <= expected * permille;
}

static uint64_t read_tsc(void *ctx)
{
	(void)ctx;
	return rdtsc();
}

static uint64_t read_ref(void *ctx)
{
	(void)ctx;
	return hv_ref_time();
}

static void guest_os_id_and_hypercall(void)
{
	uint64_t page = (uint64_t)(uintptr_t)hv_hypercall_page, v = ~UINT64_C(0);
	int fault;

	fault = hv_rdmsr_probe(HV_MSR_GUEST_OS_ID, &v);
	check(fault == 0 && v == 0, "GUEST_OS_ID reads 0 at start (%#lx)", v);
	fault = hv_rdmsr_probe(HV_MSR_HYPERCALL, &v);
	check(fault == 0 && !(v & HV_PAGE_ENABLE), "HYPERCALL reads disabled at start (%#lx)", v);

	/* TLFS: the hypercall page cannot be enabled before the guest OS has identified itself. */
	fault = hv_wrmsr_probe(HV_MSR_HYPERCALL, page | HV_PAGE_ENABLE);
	check(fault == 0, "HYPERCALL enable while GUEST_OS_ID is 0: no fault (vector %d)", fault);
	v = rdmsr(HV_MSR_HYPERCALL);
	check(!(v & HV_PAGE_ENABLE), "... and it is ignored: HYPERCALL reads back disabled (%#lx)", v);
	check(hv_hypercall_page[0] == 0 && hv_hypercall_page[1] == 0,
	      "... and the page was not written (%02x %02x)", hv_hypercall_page[0], hv_hypercall_page[1]);

	fault = hv_wrmsr_probe(HV_MSR_GUEST_OS_ID, HV_GUEST_OS_ID_VALUE);
	v = rdmsr(HV_MSR_GUEST_OS_ID);
	check(fault == 0 && v == HV_GUEST_OS_ID_VALUE, "GUEST_OS_ID write/read back (%#lx)", v);

	fault = hv_wrmsr_probe(HV_MSR_HYPERCALL, page | HV_PAGE_ENABLE);
	v = rdmsr(HV_MSR_HYPERCALL);
	check(fault == 0 && (v & (HV_PAGE_MASK | HV_PAGE_ENABLE)) == (page | HV_PAGE_ENABLE),
	      "HYPERCALL enabled at GPA %#lx reads back %#lx", page, v);
	const uint8_t *p = hv_hypercall_page;

	con_printf("hypercall page: %02x %02x %02x %02x %02x %02x %02x %02x\n", p[0], p[1], p[2], p[3],
		   p[4], p[5], p[6], p[7]);
	check(p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa,
	      "hypercall page starts with ENDBR64 (f3 0f 1e fa)");
	check(hv_hypercall_init(), "hypercall set-up through the library");
}

static void vp_index(void)
{
	uint64_t v = ~UINT64_C(0);
	int fault = hv_rdmsr_probe(HV_MSR_VP_INDEX, &v);

	check(fault == 0 && v == lapic_id(),
	      "VP_INDEX %lu equals the APIC ID %u", v, lapic_id());
	check(hv_wrmsr_faults(HV_MSR_VP_INDEX, 5), "VP_INDEX is read-only (write raises #GP)");
}

static void unknown_msrs(void)
{
	static const uint32_t unknown[] = {
		0x40000004, 0x4000000f, 0x40000011, 0x4000001f, 0x40000024, 0x400000ff,
		0x40000106, 0x40000107, 0x40000108, 0x4000010f, 0x400001ff,
	};

	for (unsigned i = 0; i < ARRAY_SIZE(unknown); i++) {
		int r = hv_rdmsr_probe(unknown[i], NULL), w = hv_wrmsr_probe(unknown[i], 0);

		check(r == VEC_GP && w == VEC_GP, "unknown MSR %#x: read and write raise #GP (%d, %d)",
		      unknown[i], r, w);
	}
	check(hv_wrmsr_faults(HV_MSR_SVERSION, 1), "SVERSION is read-only (write raises #GP)");
	check(hv_wrmsr_faults(HV_MSR_TIME_REF_COUNT, 1), "TIME_REF_COUNT is read-only (write raises #GP)");
}

static void frequencies(void)
{
	uint64_t tsc_hz = 0, apic_hz = 0;
	int f1 = hv_rdmsr_probe(HV_MSR_TSC_FREQUENCY, &tsc_hz);
	int f2 = hv_rdmsr_probe(HV_MSR_APIC_FREQUENCY, &apic_hz);

	check(hv_privileges() & HV_PRIV_FREQUENCIES, "frequency MSRs are advertised (EAX bit 11)");
	check(f1 == 0 && tsc_hz > 0, "TSC_FREQUENCY is non-zero (%lu Hz)", tsc_hz);
	check(f2 == 0 && apic_hz > 0, "APIC_FREQUENCY is non-zero (%lu Hz)", apic_hz);
	check(hv_wrmsr_faults(HV_MSR_TSC_FREQUENCY, 1), "TSC_FREQUENCY is read-only (write raises #GP)");
	if (!tsc_hz || !timer_has_pm())
		return;

	/* The TSC ticks at the advertised rate (what Linux then trusts as TSC_KNOWN_FREQ). */
	uint64_t c0, c1, t0 = hv_sample(read_tsc, NULL, &c0);

	udelay(RATE_WINDOW_US);
	uint64_t t1 = hv_sample(read_tsc, NULL, &c1);
	uint64_t measured = (c1 - c0) * 1000000 / (t1 - t0);

	check(within(measured, tsc_hz, RATE_TOLERANCE_PERMILLE),
	      "TSC runs at TSC_FREQUENCY within 1%% (measured %lu Hz against the PM timer)", measured);
}

static void runtime(void)
{
	uint64_t r0 = ~UINT64_C(0), r1 = 0, t0, t1;

	check(hv_privileges() & HV_PRIV_VP_RUNTIME, "VP_RUNTIME is advertised (EAX bit 0)");
	if (hv_rdmsr_probe(HV_MSR_VP_RUNTIME, &r0)) {
		check(false, "VP_RUNTIME reads");
		return;
	}
	t0 = timer_now_us();
	udelay(RUNTIME_WINDOW_US);
	r1 = rdmsr(HV_MSR_VP_RUNTIME);
	t1 = timer_now_us();
	con_printf("vp runtime: %lu -> %lu (+%lu us) over %lu us of PM timer\n", r0, r1, (r1 - r0) / 10,
		   t1 - t0);
	check(r1 > r0, "VP_RUNTIME increases while the VP runs");
	/* 100 ns units; it cannot run for longer than wall time (1 ms of slack for the reads). */
	check((r1 - r0) / 10 <= (t1 - t0) + 1000, "VP_RUNTIME grew by no more than the time that passed");
}

static void reference_counter(void)
{
	uint64_t a, b, t0, t1, r0, r1;

	check(hv_privileges() & HV_PRIV_TIME_REF_COUNT, "TIME_REF_COUNT is advertised (EAX bit 1)");
	if (hv_rdmsr_probe(HV_MSR_TIME_REF_COUNT, &a)) {
		check(false, "TIME_REF_COUNT reads");
		return;
	}
	b = hv_ref_time();
	check(b >= a, "TIME_REF_COUNT does not go back (%lu, %lu)", a, b);
	if (!timer_has_pm())
		return;
	t0 = hv_sample(read_ref, NULL, &r0);
	udelay(RATE_WINDOW_US);
	t1 = hv_sample(read_ref, NULL, &r1);
	/* Expected: 10 counts per microsecond. */
	check(within(r1 - r0, (t1 - t0) * 10, RATE_TOLERANCE_PERMILLE),
	      "TIME_REF_COUNT advances at 10 MHz within 1%% (%lu counts in %lu us of PM timer)", r1 - r0,
	      t1 - t0);
}

static void vp_assist(void)
{
	uint64_t want = (uint64_t)(uintptr_t)assist_page | HV_PAGE_ENABLE, v = 0;
	int fault;

	check(hv_privileges() & HV_PRIV_APIC_MSRS, "VP assist page is advertised (EAX bit 4)");
	fault = hv_wrmsr_probe(HV_MSR_VP_ASSIST_PAGE, want);
	check(fault == 0, "VP_ASSIST_PAGE enable accepted (vector %d)", fault);
	fault = hv_rdmsr_probe(HV_MSR_VP_ASSIST_PAGE, &v);
	check(fault == 0 && v == want, "VP_ASSIST_PAGE reads back %#lx (%#lx)", want, v);
	check(hv_wrmsr_probe(HV_MSR_VP_ASSIST_PAGE, 0) == 0, "VP_ASSIST_PAGE disable accepted");
}

static void others(void)
{
	uint64_t v = ~UINT64_C(0);

	int fault = hv_rdmsr_probe(HV_MSR_REFERENCE_TSC, &v);

	check(fault == 0 && !(v & HV_PAGE_ENABLE), "REFERENCE_TSC reads disabled at start (%#lx)", v);
	fault = hv_rdmsr_probe(HV_MSR_SCONTROL, &v);
	check(fault == 0 && v == 0, "SCONTROL reads 0 (SynIC off) at start (%#lx)", v);
	for (unsigned i = 0; i < HV_SINT_COUNT; i++)
		if (hv_rdmsr_probe(HV_MSR_SINT(i), &v) || v != HV_SINT_MASKED) {
			check(false, "SINT%u reads masked (0x10000) at start (%#lx)", i, v);
			return;
		}
	check(true, "SINT0-15 read masked (0x10000) at start");
	for (unsigned i = 0; i < HV_STIMER_COUNT; i++)
		if (hv_rdmsr_probe(HV_MSR_STIMER_CONFIG(i), &v) || v != 0) {
			check(false, "STIMER%u_CONFIG reads 0 at start (%#lx)", i, v);
			return;
		}
	check(true, "STIMER0-3_CONFIG read 0 at start");
}

void test_main(void)
{
	hv_require(HV_PRIV_HYPERCALL | HV_PRIV_VP_INDEX);
	guest_os_id_and_hypercall();
	vp_index();
	unknown_msrs();
	frequencies();
	runtime();
	reference_counter();
	vp_assist();
	others();
}
