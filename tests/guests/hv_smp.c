/* Test guest: Hyper-V per-VP state on several CPUs (TLFS v6.0b §7.7 VP index, §11 SynIC per VP):
 * every VP_INDEX is the APIC ID, and each VP's own SynIC receives its own echoes. */
#include "acpi.h"
#include "guest.h"
#include "hyperv.h"
#include "io.h"
#include "multiboot.h"
#include "smp.h"
#include "timer.h"

/* Cmdline: cpus=<N> (the runner's --cpus). */
#define VEC_MSG 0x30
#define VEC_EVT 0x31
#define SINT_MSG 2
#define ARRIVE_US 2000000
#define ALL_DONE_US 10000000
#define FLAG_BASE 8

const char test_name[] = "hv_smp";

static uint32_t finished;
static uint32_t passed_vps;

/* The whole per-VP sequence; returns whether every step worked. */
static bool vp_run(const char *who)
{
	uint32_t id = lapic_id();
	uint64_t vp = rdmsr(HV_MSR_VP_INDEX);
	uint8_t p[16];
	bool ok = true;

	ok &= check(vp == id, "%s: VP_INDEX %lu equals APIC ID %u", who, vp, id);
	hv_irq_init();
	ok &= check(hv_synic_enable(), "%s: SynIC enabled at its own pages", who);
	wrmsr(HV_MSR_SINT(SINT_MSG), VEC_MSG);
	wrmsr(HV_MSR_SINT(HV_TEST_EVENT_SINT), VEC_EVT);

	p[0] = SINT_MSG;
	for (unsigned i = 1; i < sizeof(p); i++)
		p[i] = (uint8_t)(id * 16 + i);
	ok &= check(hv_post_message(HV_TEST_CONN_MESSAGE, 0x5000 + id, p, sizeof(p)) == 0,
		    "%s: HvPostMessage to the echo", who);
	bool got = hv_wait_irqs(VEC_MSG, 1, ARRIVE_US);
	const struct hv_message *m = &hv_message_page()->slot[SINT_MSG];

	ok &= check(got, "%s: interrupt for its own echo", who);
	ok &= check(m->type == 0x5000 + id && m->payload_size == sizeof(p) && m->payload[1] == p[1] &&
			    m->payload[15] == p[15],
		    "%s: its slot holds its own message (type %#x, byte 1 %#x)", who, m->type, m->payload[1]);
	hv_message_ack(SINT_MSG);

	unsigned flag = FLAG_BASE + id;

	ok &= check(hv_signal_event(HV_TEST_CONN_EVENT, (uint16_t)flag, true) == 0,
		    "%s: HvSignalEvent flag %u", who, flag);
	got = hv_wait_irqs(VEC_EVT, 1, ARRIVE_US);
	ok &= check(got && hv_event_page()->slot[HV_TEST_EVENT_SINT].bits[0] == UINT64_C(1) << flag,
		    "%s: only flag %u set in its own SIEFP (%#lx)", who, flag,
		    hv_event_page()->slot[HV_TEST_EVENT_SINT].bits[0]);
	return ok;
}

static void ap_main(unsigned ticket)
{
	char who[16];

	fmt_snprintf(who, sizeof(who), "vp %u", lapic_id());
	(void)ticket;
	if (vp_run(who))
		__atomic_add_fetch(&passed_vps, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&finished, 1, __ATOMIC_SEQ_CST);
}

void test_main(void)
{
	uint32_t ids[MAX_CPUS], aps[MAX_CPUS], bsp = lapic_id();
	long want = cmdline_int("cpus", -1);
	int n = acpi_madt_cpus(ids, MAX_CPUS);
	unsigned n_aps = 0;

	hv_require(HV_PRIV_HYPERCALL | HV_PRIV_VP_INDEX | HV_PRIV_SYNIC);
	if (!check(n > 0 && n <= HV_MAX_CPUS, "MADT lists %d CPUs (at most %d)", n, HV_MAX_CPUS))
		return;
	if (want > 0)
		check(n == want, "MADT CPU count matches cpus=%ld", want);
	for (int i = 0; i < n; i++)
		if (ids[i] != bsp)
			aps[n_aps++] = ids[i];
	if (!check(hv_hypercall_init(), "hypercall page enabled (partition-wide)"))
		return;
	hv_irq_install(VEC_MSG, NULL);
	hv_irq_install(VEC_EVT, NULL);

	check(vp_run("vp 0 (BSP)"), "BSP done");

	check(smp_start_aps(aps, n_aps, ap_main) == 0, "INIT and SIPIs sent to %u APs", n_aps);
	uint64_t start = timer_now_us();

	while (__atomic_load_n(&finished, __ATOMIC_SEQ_CST) < n_aps &&
	       timer_now_us() - start < ALL_DONE_US)
		udelay(1000);
	check(finished == n_aps, "%u of %u APs finished", finished, n_aps);
	check(passed_vps == n_aps, "%u of %u APs passed every step", passed_vps, n_aps);

	/* Each VP saw exactly its own interrupts: one message, one event. */
	bool exact = true;

	for (int i = 0; i < n; i++) {
		uint32_t m = hv_irq_count_of(ids[i], VEC_MSG), e = hv_irq_count_of(ids[i], VEC_EVT);

		if (m != 1 || e != 1) {
			con_printf("vp %u: %u message and %u event interrupts\n", ids[i], m, e);
			exact = false;
		}
	}
	check(exact, "every VP got exactly one message and one event interrupt");
}
