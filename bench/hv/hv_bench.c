/* Benchmark guest: Hyper-V exits served by hvkvm (TLFS v6.0b §3 hypercalls, §12 timers) against a
 * bare PIO exit and the in-kernel LAPIC timer; RDTSC times. cmdline: count=N shots=N. */
#include "guest.h"
#include "hyperv.h"
#include "io.h"
#include "multiboot.h"
#include "smp.h"
#include "timer.h"

const char test_name[] = "hv_bench";

#define PIO_PORT 0x80       /* the POST port: served in userspace, value ignored */
#define BATCH 50            /* exits per timed sample */
#define VEC_STIMER 0x34
#define VEC_STIMER_MSG 0x35
#define VEC_LAPIC 0x36
#define SINT_TIMER 2
#define FUTURE_US 200       /* the "timer in the future" deadline */
#define MSR_TSC_DEADLINE 0x6e0u
#define CPUID1_ECX_TSC_DEADLINE (1u << 24)
#define LVT_MASKED 0x10000u
#define LVT_ONESHOT 0u
#define LVT_TSC_DEADLINE (2u << 17)
#define LAPIC_DIV_1 0xbu
#define MAX_SAMPLES 4096

static uint64_t samples[MAX_SAMPLES];
static uint64_t tsc_khz, apic_hz = 1000000000u;
static volatile uint64_t fired_tsc;
/* The whole page is the hypervisor's to write. */
static union {
	struct hv_reference_tsc_page hdr;
	uint8_t bytes[4096];
} tsc_page_mem __attribute__((aligned(4096)));
#define tsc_page (tsc_page_mem.hdr)

static uint64_t to_ns(uint64_t ticks)
{
	return ticks * 1000000u / tsc_khz;
}

static void sort(uint64_t *v, unsigned n)
{
	for (unsigned gap = n / 2; gap > 0; gap /= 2)
		for (unsigned i = gap; i < n; i++)
			for (unsigned j = i; j >= gap && v[j - gap] > v[j]; j -= gap) {
				uint64_t t = v[j];

				v[j] = v[j - gap];
				v[j - gap] = t;
			}
}

/* "hv-bench: NAME n=N mean=.. median=.. p90=.. min=.. ns" over v[0..n) (TSC ticks / div). */
static void report(const char *name, uint64_t *v, unsigned n, unsigned div)
{
	uint64_t sum = 0;

	sort(v, n);
	for (unsigned i = 0; i < n; i++)
		sum += v[i];
	con_printf("hv-bench: %s n=%u mean=%lu median=%lu p90=%lu min=%lu ns\n", name, n * div,
		   to_ns(sum / n) / div, to_ns(v[n / 2]) / div, to_ns(v[n * 9 / 10]) / div,
		   to_ns(v[0]) / div);
}

static unsigned batches(void)
{
	long n = cmdline_int("count", 20000) / BATCH;

	return n < 1 ? 1 : n > MAX_SAMPLES ? MAX_SAMPLES : (unsigned)n;
}

static unsigned shots(void)
{
	long n = cmdline_int("shots", 1000);

	return n < 1 ? 1 : n > MAX_SAMPLES ? MAX_SAMPLES : (unsigned)n;
}

/* --- exits ------------------------------------------------------------------------------------ */
static void op_rdtsc(void) { (void)rdtsc(); }
static void op_pio(void) { outb(PIO_PORT, 0); }
static void op_hypercall(void) { hv_hypercall(HV_CALL_NOTIFY_LONG_SPIN_WAIT | HV_CONTROL_FAST, 0, 0); }
static void op_ref_msr(void) { (void)hv_ref_time(); }

/* Reference time from the TSC page (no exit), and the TSC it was computed from. */
static uint64_t ref_page(uint64_t *tsc_out)
{
	uint32_t seq;
	uint64_t ref, tsc;

	do {
		seq = tsc_page.sequence;
		__asm__ volatile("" ::: "memory");
		tsc = rdtsc();
		ref = (uint64_t)(((unsigned __int128)tsc * tsc_page.scale) >> 64) +
		      (uint64_t)tsc_page.offset;
		__asm__ volatile("" ::: "memory");
	} while (tsc_page.sequence != seq);
	if (tsc_out)
		*tsc_out = tsc;
	return ref;
}

static void op_ref_page(void) { (void)ref_page(NULL); }

static void bench_op(const char *name, void (*op)(void))
{
	unsigned n = batches();

	for (unsigned i = 0; i < BATCH; i++) /* warm-up */
		op();
	for (unsigned b = 0; b < n; b++) {
		uint64_t t0 = rdtsc();

		for (unsigned i = 0; i < BATCH; i++)
			op();
		samples[b] = rdtsc() - t0;
	}
	report(name, samples, n, BATCH);
}

/* --- timers ----------------------------------------------------------------------------------- */
static void fired_hook(unsigned vector)
{
	(void)vector;
	fired_tsc = rdtsc();
}

static void message_hook(unsigned vector)
{
	fired_tsc = rdtsc();
	(void)vector;
	hv_message_ack(SINT_TIMER);
}

/* Halts with interrupts on until vector has fired once more than n0 (as Linux's idle does). */
static void wait_fired(unsigned vector, uint32_t n0)
{
	while (hv_irq_count(vector) == n0)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
}

/* An arm function programs its timer delay_ticks of TSC from now as Linux's clockevent drivers
 * do (reading the clock the deadline is based on, then one register write); delay 0 means a
 * deadline already past. It returns the TSC the deadline counts from. */
typedef uint64_t (*arm_fn)(uint64_t delay_ticks);

static uint64_t arm_stimer(uint64_t delay_ticks)
{
	uint64_t tsc = 0, count = 1; /* COUNT 1: long past, expires at once */

	if (delay_ticks)
		count = ref_page(&tsc) + delay_ticks * HV_REF_HZ / (tsc_khz * 1000);
	wrmsr(HV_MSR_STIMER_COUNT(0), count); /* AutoEnable: the COUNT write arms it */
	return tsc;
}

static uint64_t arm_tsc_deadline(uint64_t delay_ticks)
{
	uint64_t tsc = 0;

	if (delay_ticks)
		tsc = rdtsc();
	wrmsr(MSR_TSC_DEADLINE, delay_ticks ? tsc + delay_ticks : 1); /* 0 would disarm */
	return tsc;
}

static uint64_t arm_lapic_oneshot(uint64_t delay_ticks)
{
	uint64_t count = delay_ticks * apic_hz / (tsc_khz * 1000);

	lapic_write(LAPIC_TIMER_INIT, count ? (uint32_t)count : 1);
	return 0; /* counts from the write: the caller's TSC before it is the base */
}

static arm_fn arm_far_fn;

static void op_arm_far(void)
{
	(void)arm_far_fn(tsc_khz * 1000); /* 1 s away: re-armed before it is ever reached */
}

/* A timer: the arming cost (BATCH arms a sample), then shots arms each waited for halted: the
 * interrupt's time after the arm began (deadline already past) and after the deadline (FUTURE_US
 * away). */
static void bench_timer(const char *name, unsigned vector, arm_fn arm, void (*disarm)(void))
{
	unsigned n = shots();
	uint64_t delay = FUTURE_US * tsc_khz / 1000;
	char what[96];

	fmt_snprintf(what, sizeof(what), "%s-arm", name);
	arm_far_fn = arm;
	bench_op(what, op_arm_far);
	disarm();
	for (unsigned pass = 0; pass < 2; pass++) {
		uint64_t d = pass ? delay : 0;

		for (unsigned i = 0; i < n; i++) {
			uint32_t n0 = hv_irq_count(vector);
			uint64_t t0 = rdtsc(), base = arm(d);

			if (!base)
				base = t0;
			wait_fired(vector, n0);
			samples[i] = fired_tsc > base + d ? fired_tsc - base - d : 0;
		}
		if (!pass)
			fmt_snprintf(what, sizeof(what), "%s-fire-now", name);
		else
			fmt_snprintf(what, sizeof(what), "%s-late-%uus", name, FUTURE_US);
		report(what, samples, n, 1);
	}
}

static void disarm_stimer(void) { wrmsr(HV_MSR_STIMER_COUNT(0), 0); }
static void disarm_tsc_deadline(void) { wrmsr(MSR_TSC_DEADLINE, 0); }
static void disarm_lapic(void) { lapic_write(LAPIC_TIMER_INIT, 0); }

static void lapic_timer(uint32_t lvt)
{
	lapic_write(LAPIC_TIMER_INIT, 0);
	lapic_write(LAPIC_TIMER_DIV, LAPIC_DIV_1);
	lapic_write(LAPIC_LVT_TIMER, lvt);
}

/* --- set-up ----------------------------------------------------------------------------------- */
static void calibrate_tsc(void)
{
	uint64_t us0, t0, us;

	if (hv_privileges() & HV_PRIV_FREQUENCIES) {
		tsc_khz = rdmsr(HV_MSR_TSC_FREQUENCY) / 1000;
		apic_hz = rdmsr(HV_MSR_APIC_FREQUENCY);
		con_printf("hv-bench: TSC %lu kHz, APIC %lu Hz (frequency MSRs)\n", tsc_khz, apic_hz);
		return;
	}
	us0 = timer_now_us();
	t0 = rdtsc();
	udelay(200000);
	us = timer_now_us() - us0;
	tsc_khz = (rdtsc() - t0) * 1000 / us;
	con_printf("hv-bench: TSC %lu kHz (PM timer calibration)\n", tsc_khz);
}

void test_main(void)
{
	uint32_t a, b, c, d;

	hv_require(HV_PRIV_HYPERCALL | HV_PRIV_TIME_REF_COUNT | HV_PRIV_REFERENCE_TSC |
		   HV_PRIV_SYNIC | HV_PRIV_STIMER);
	calibrate_tsc();
	check(hv_hypercall_init(), "hypercall page enabled");
	wrmsr(HV_MSR_REFERENCE_TSC, (uint64_t)(uintptr_t)&tsc_page_mem | HV_PAGE_ENABLE);
	check(tsc_page.sequence != 0, "reference TSC page valid");

	bench_op("rdtsc", op_rdtsc);
	bench_op("pio-exit", op_pio);
	bench_op("null-hypercall", op_hypercall);
	bench_op("time-ref-count-rdmsr", op_ref_msr);
	bench_op("tsc-page-read", op_ref_page);

	hv_irq_init();
	hv_irq_install(VEC_STIMER, fired_hook);
	hv_irq_install(VEC_STIMER_MSG, message_hook);
	hv_irq_install(VEC_LAPIC, fired_hook);
	check(hv_synic_enable(), "SynIC enabled");
	wrmsr(HV_MSR_SINT(SINT_TIMER), VEC_STIMER_MSG);

	if (hv_misc_features() & HV_FEAT_STIMER_DIRECT) {
		wrmsr(HV_MSR_STIMER_CONFIG(0), HV_STIMER_DIRECT | HV_STIMER_VECTOR(VEC_STIMER) |
							HV_STIMER_AUTO_ENABLE);
		bench_timer("stimer-direct", VEC_STIMER, arm_stimer, disarm_stimer);
	}
	wrmsr(HV_MSR_STIMER_CONFIG(0), HV_STIMER_SINT(SINT_TIMER) | HV_STIMER_AUTO_ENABLE);
	bench_timer("stimer-message", VEC_STIMER_MSG, arm_stimer, disarm_stimer);
	wrmsr(HV_MSR_STIMER_CONFIG(0), 0);

	cpuid(1, 0, &a, &b, &c, &d);
	if (c & CPUID1_ECX_TSC_DEADLINE) {
		lapic_timer(LVT_TSC_DEADLINE | VEC_LAPIC);
		bench_timer("lapic-tsc-deadline", VEC_LAPIC, arm_tsc_deadline, disarm_tsc_deadline);
	} else {
		con_printf("hv-bench: no TSC-deadline mode (CPUID.1:ECX[24] clear)\n");
	}
	lapic_timer(LVT_ONESHOT | VEC_LAPIC);
	bench_timer("lapic-oneshot", VEC_LAPIC, arm_lapic_oneshot, disarm_lapic);
	lapic_timer(LVT_MASKED | HV_WAKE_VECTOR);
}
