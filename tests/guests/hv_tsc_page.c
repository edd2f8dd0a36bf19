/* Test guest: the Hyper-V reference TSC page (TLFS v6.0b §12.7: REFERENCE_TSC MSR, TscSequence,
 * TscScale, TscOffset) against TIME_REF_COUNT and the PM timer. */
#include "guest.h"
#include "hyperv.h"
#include "io.h"
#include "timer.h"

#define ROUNDS 1000
#define RATE_WINDOW_US 200000
#define RATE_TOLERANCE_PERMILLE 10 /* 1% */
#define SEQUENCE_INVALID 0xffffffffu /* what Linux treats as "use the MSR" besides 0 */

const char test_name[] = "hv_tsc_page";

static uint8_t tsc_page[4096] __attribute__((aligned(4096)));

static struct hv_reference_tsc_page *page(void)
{
	return (struct hv_reference_tsc_page *)tsc_page;
}

static inline uint64_t rdtsc_ordered(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

/* Reference time = ((TSC * scale) >> 64) + offset, retried while the sequence changes. Returns
 * false if the page says it is invalid (sequence 0). */
static bool page_time(uint64_t *t)
{
	const struct hv_reference_tsc_page *p = page();
	uint32_t seq;
	uint64_t scale, tsc;
	int64_t offset;

	do {
		seq = p->sequence;
		__asm__ volatile("" ::: "memory");
		if (seq == 0)
			return false;
		scale = p->scale;
		offset = p->offset;
		tsc = rdtsc_ordered();
		__asm__ volatile("" ::: "memory");
	} while (p->sequence != seq);
	*t = (uint64_t)(((unsigned __int128)tsc * scale) >> 64) + (uint64_t)offset;
	return true;
}

static uint64_t read_page_time(void *ctx)
{
	uint64_t t = 0;

	(void)ctx;
	page_time(&t);
	return t;
}

void test_main(void)
{
	uint64_t want = (uint64_t)(uintptr_t)tsc_page | HV_PAGE_ENABLE, v;
	int fault;

	hv_require(HV_PRIV_TIME_REF_COUNT);
	check(hv_privileges() & HV_PRIV_REFERENCE_TSC, "reference TSC page advertised (EAX bit 9)");
	fault = hv_wrmsr_probe(HV_MSR_REFERENCE_TSC, want);
	v = rdmsr(HV_MSR_REFERENCE_TSC);
	check(fault == 0 && v == want, "REFERENCE_TSC enabled at %#lx reads back %#lx",
	      want & HV_PAGE_MASK, v);

	const struct hv_reference_tsc_page *p = page();

	con_printf("tsc page: sequence %#x scale %#lx offset %ld\n", p->sequence, p->scale, p->offset);
	if (!check(p->sequence != 0 && p->sequence != SEQUENCE_INVALID, "page sequence is valid (%#x)",
		   p->sequence))
		return;
	check(p->scale != 0, "TscScale is non-zero");

	/* TIME_REF_COUNT read between two page reads lies between them. */
	unsigned bad = 0, invalid = 0;
	int64_t worst_before = 0, worst_after = 0;

	for (unsigned i = 0; i < ROUNDS; i++) {
		uint64_t a, m, b;

		if (!page_time(&a)) {
			invalid++;
			continue;
		}
		m = hv_ref_time();
		if (!page_time(&b)) {
			invalid++;
			continue;
		}
		if (m < a || m > b) {
			bad++;
			if ((int64_t)(a - m) > worst_before)
				worst_before = (int64_t)(a - m);
			if ((int64_t)(m - b) > worst_after)
				worst_after = (int64_t)(m - b);
		}
	}
	check(invalid == 0, "page stayed valid through %u rounds (%u invalid reads)", ROUNDS, invalid);
	check(bad == 0,
	      "TIME_REF_COUNT lies between page-based reads before and after it, %u times (%u out; worst: "
	      "%ld units before, %ld after)",
	      ROUNDS, bad, worst_before, worst_after);

	/* Page time advances at 10 MHz against the PM timer. */
	uint64_t t0, t1, r0 = 0, r1 = 0;

	if (!timer_has_pm())
		return;
	t0 = hv_sample(read_page_time, NULL, &r0);
	udelay(RATE_WINDOW_US);
	t1 = hv_sample(read_page_time, NULL, &r1);
	uint64_t expect = (t1 - t0) * 10, got = r1 - r0;
	uint64_t diff = got > expect ? got - expect : expect - got;

	check(diff * 1000 <= expect * RATE_TOLERANCE_PERMILLE,
	      "page time advances at 10 MHz within 1%% (%lu units in %lu us of PM timer)", got, t1 - t0);

	/* Disabled: the MSR reads back disabled (the page's contents are then the guest's own). */
	wrmsr(HV_MSR_REFERENCE_TSC, 0);
	check(!(rdmsr(HV_MSR_REFERENCE_TSC) & HV_PAGE_ENABLE),
	      "REFERENCE_TSC disable reads back disabled");
}
