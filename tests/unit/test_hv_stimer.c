/* Unit tests for the synthetic timers: one-shot, periodic with missed periods skipped, lazy,
 * auto-enable, COUNT 0, SINT 0, direct versus message mode, deadline conversion between reference
 * time and host ns, pending expiry behind a busy slot or a closed SynIC, register checks. */
#include <string.h>

#include "test_hv_fake.h"

#define SIMP 0x10000ull
#define SIEFP 0x11000ull
#define SINT 2
#define VEC 0xf3
#define T0_NS 5000000000ull  /* host monotonic at the start of each test */
/* The deadline of a wait of d ns: rounded late by 0.05% plus one tick. */
#define LATE(d) ((d) + (d) / 2000 + 100)
#define CFG_MSG(sint) (((uint64_t)(sint) << 16))
#define CFG_DIRECT(vec) (HV_STIMER_DIRECT_MODE | ((uint64_t)(vec) << 4))

/* Guest TSC for reference time ref (100 ns units). */
static uint64_t tsc_at(uint64_t ref)
{
	return (uint64_t)((unsigned __int128)ref * FAKE_TSC_HZ / 10000000) + 1;
}

static struct fake_host *setup(unsigned nvps)
{
	struct fake_host *h = fake_setup(hv_features_default() | HV_FEATURE_BIT(HV_FEAT_STIMER) |
						 HV_FEATURE_BIT(HV_FEAT_STIMER_DIRECT),
					 nvps, FAKE_TSC_HZ);

	h->now_ns = T0_NS;
	h->tsc = tsc_at(1000000); /* guest reference time 0.1 s */
	return h;
}

static void advance(struct fake_host *h, uint64_t ns)
{
	h->now_ns += ns;
	h->tsc += (uint64_t)((unsigned __int128)ns * FAKE_TSC_HZ / 1000000000);
}

static uint64_t guest_ref(struct fake_host *h)
{
	return rdmsr_ok(h, 0, HV_X64_MSR_TIME_REF_COUNT);
}

static void check_timer_message(struct fake_host *h, unsigned vp_simp_sint, unsigned index,
				uint64_t expiration, uint64_t delivery)
{
	struct hv_message *m = fake_slot(h, SIMP, vp_simp_sint);
	struct hv_timer_message_payload pl;

	CHECK_EQ(m->header.message_type, HVMSG_TIMER_EXPIRED);
	CHECK_EQ(m->header.payload_size, sizeof(pl));
	memcpy(&pl, m->payload, sizeof(pl));
	CHECK_EQ(pl.timer_index, index);
	CHECK_EQ(pl.reserved, 0);
	CHECK_EQ(pl.expiration_time, expiration);
	CHECK_EQ(pl.delivery_time, delivery);
}

static void consume(struct fake_host *h, unsigned vp)
{
	struct hv_message *m = fake_slot(h, SIMP, SINT);

	m->header.message_type = HVMSG_NONE;
	if (m->header.message_flags & HV_MESSAGE_FLAG_PENDING)
		wrmsr_ok(h, vp, HV_X64_MSR_EOM, 0);
}

static void test_one_shot(void)
{
	struct fake_host *h = setup(1);
	uint64_t now_ref, changed;

	fake_enable_synic(h, 0, SIMP, SIEFP, SINT, VEC);
	now_ref = guest_ref(h);
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), UINT64_MAX);
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER0_CONFIG, HV_STIMER_AUTO_ENABLE | CFG_MSG(SINT));
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_STIMER0_CONFIG), HV_STIMER_AUTO_ENABLE | CFG_MSG(SINT));
	changed = h->timers_changed;
	/* Absolute expiry 1 ms from now: deadline in host ns is now + 1 ms, rounded late. */
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER0_COUNT, now_ref + 10000);
	CHECK(h->timers_changed > changed);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_STIMER0_CONFIG),
		 HV_STIMER_ENABLE | HV_STIMER_AUTO_ENABLE | CFG_MSG(SINT));
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_STIMER0_COUNT), now_ref + 10000);
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), T0_NS + LATE(1000000));
	hv_stimer_expire(h->p, T0_NS + LATE(1000000) - 1);
	CHECK_EQ(fake_slot(h, SIMP, SINT)->header.message_type, 0);
	CHECK_EQ(h->nirqs, 0);
	hv_stimer_expire(h->p, T0_NS + LATE(1000000) + 250);
	check_timer_message(h, SINT, 0, now_ref + 10000, now_ref + 10002);
	CHECK_EQ(h->nirqs, 1);
	CHECK_EQ(h->irqs[0].vector, VEC);
	/* A one-shot ends disabled. */
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_STIMER0_CONFIG) & HV_STIMER_ENABLE, 0);
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), UINT64_MAX);
	hv_stimer_expire(h->p, T0_NS + 10000000);
	CHECK_EQ(h->nirqs, 1);
	/* Expiry in the past: due at once. */
	consume(h, 0);
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER1_COUNT, 5);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_STIMER1_CONFIG), 0); /* no auto-enable on timer 1 */
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), UINT64_MAX);
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER1_CONFIG, HV_STIMER_ENABLE | CFG_MSG(SINT));
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), h->now_ns);
	hv_stimer_expire(h->p, h->now_ns);
	check_timer_message(h, SINT, 1, 5, 5);
	fake_teardown(h);
}

static void test_periodic(void)
{
	struct fake_host *h = setup(2);
	uint64_t ref0, d = T0_NS + LATE(1000000); /* first expiry; then every 1 ms of host time */

	fake_enable_synic(h, 1, SIMP, SIEFP, SINT, VEC);
	ref0 = rdmsr_ok(h, 1, HV_X64_MSR_TIME_REF_COUNT);
	wrmsr_ok(h, 1, HV_X64_MSR_STIMER2_COUNT, 10000); /* 1 ms period */
	wrmsr_ok(h, 1, HV_X64_MSR_STIMER2_CONFIG,
		 HV_STIMER_ENABLE | HV_STIMER_PERIODIC | HV_STIMER_LAZY | CFG_MSG(SINT));
	CHECK_EQ(rdmsr_ok(h, 1, HV_X64_MSR_STIMER2_CONFIG),
		 HV_STIMER_ENABLE | HV_STIMER_PERIODIC | HV_STIMER_LAZY | CFG_MSG(SINT));
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), d);
	hv_stimer_expire(h->p, d);
	check_timer_message(h, SINT, 2, ref0 + 10000, ref0 + 10000);
	CHECK_EQ(h->nirqs, 1);
	CHECK_EQ(h->irqs[0].apic_id, 1);
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), d + 1000000);
	/* Late by 2.5 periods: one message, the missed periods are skipped. */
	consume(h, 1);
	hv_stimer_expire(h->p, d + 3500000);
	check_timer_message(h, SINT, 2, ref0 + 20000, ref0 + 45000);
	CHECK_EQ(h->nirqs, 2);
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), d + 4000000);
	CHECK(rdmsr_ok(h, 1, HV_X64_MSR_STIMER2_CONFIG) & HV_STIMER_ENABLE); /* stays enabled */
	/* Slot still busy at the next expiry: the timer waits (not re-armed) and asks for EOM. */
	hv_stimer_expire(h->p, d + 4000000);
	CHECK_EQ(h->nirqs, 2);
	CHECK_EQ(fake_slot(h, SIMP, SINT)->header.message_flags, HV_MESSAGE_FLAG_PENDING);
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), UINT64_MAX);
	/* EOM 0.3 ms later: delivered then, re-armed at the next period boundary. */
	h->now_ns = d + 4300000;
	consume(h, 1);
	check_timer_message(h, SINT, 2, ref0 + 50000, ref0 + 53000);
	CHECK_EQ(h->nirqs, 3);
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), d + 5000000);
	/* COUNT 0 stops a periodic timer too. */
	wrmsr_ok(h, 1, HV_X64_MSR_STIMER2_COUNT, 0);
	CHECK_EQ(rdmsr_ok(h, 1, HV_X64_MSR_STIMER2_CONFIG) & HV_STIMER_ENABLE, 0);
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), UINT64_MAX);
	fake_teardown(h);
}

static void test_direct_mode(void)
{
	struct fake_host *h = setup(2);
	uint64_t ref = rdmsr_ok(h, 1, HV_X64_MSR_TIME_REF_COUNT);

	/* No SynIC needed for direct mode. */
	wrmsr_ok(h, 1, HV_X64_MSR_STIMER0_CONFIG,
		 HV_STIMER_ENABLE | HV_STIMER_AUTO_ENABLE | CFG_DIRECT(0xed));
	wrmsr_ok(h, 1, HV_X64_MSR_STIMER0_COUNT, ref + 500);
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), T0_NS + LATE(50000));
	hv_stimer_expire(h->p, T0_NS + 60000);
	CHECK_EQ(h->nirqs, 1);
	CHECK_EQ(h->irqs[0].apic_id, 1);
	CHECK_EQ(h->irqs[0].vector, 0xed);
	CHECK_EQ(fake_slot(h, SIMP, 0)->header.message_type, 0);
	CHECK_EQ(rdmsr_ok(h, 1, HV_X64_MSR_STIMER0_CONFIG) & HV_STIMER_ENABLE, 0);
	/* Re-armed by the next COUNT write (auto-enable), as Linux's clockevent does. */
	wrmsr_ok(h, 1, HV_X64_MSR_STIMER0_COUNT, ref + 1000);
	CHECK(rdmsr_ok(h, 1, HV_X64_MSR_STIMER0_CONFIG) & HV_STIMER_ENABLE);
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), T0_NS + LATE(100000));
	/* Periodic direct, due at the same time. */
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER3_COUNT, 1000);
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER3_CONFIG,
		 HV_STIMER_ENABLE | HV_STIMER_PERIODIC | CFG_DIRECT(0x40));
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), T0_NS + LATE(100000));
	hv_stimer_expire(h->p, T0_NS + LATE(100000));
	CHECK_EQ(h->nirqs, 3); /* both timers due */
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), T0_NS + LATE(100000) + 100000);
	hv_stimer_expire(h->p, T0_NS + LATE(100000) + 750000); /* 6.5 periods late: one interrupt */
	CHECK_EQ(h->nirqs, 4);
	CHECK_EQ(h->irqs[3].vector, 0x40);
	CHECK_EQ(h->irqs[3].apic_id, 0);
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), T0_NS + LATE(100000) + 800000);
	fake_teardown(h);
}

static void test_config_rules(void)
{
	struct fake_host *h = setup(1);

	/* Reserved bits, direct mode vector < 16. */
	CHECK_EQ(hv_msr_write(h->p, 0, HV_X64_MSR_STIMER0_CONFIG, 1ull << 20), -EPERM);
	CHECK_EQ(hv_msr_write(h->p, 0, HV_X64_MSR_STIMER0_CONFIG, 1ull << 13), -EPERM);
	CHECK_EQ(hv_msr_write(h->p, 0, HV_X64_MSR_STIMER0_CONFIG, CFG_DIRECT(15)), -EPERM);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_STIMER0_CONFIG), 0);
	/* SINT 0 in message mode: marked disabled at once. */
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER0_COUNT, 100000000);
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER0_CONFIG, HV_STIMER_ENABLE | HV_STIMER_AUTO_ENABLE);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_STIMER0_CONFIG), HV_STIMER_AUTO_ENABLE);
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER0_COUNT, 100000001);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_STIMER0_CONFIG), HV_STIMER_AUTO_ENABLE);
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), UINT64_MAX);
	/* Enabled with COUNT 0: not armed, and the enable bit stays until a COUNT arms it. */
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER1_CONFIG, HV_STIMER_ENABLE | CFG_MSG(SINT));
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_STIMER1_CONFIG), HV_STIMER_ENABLE | CFG_MSG(SINT));
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), UINT64_MAX);
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER1_COUNT, guest_ref(h) + 20);
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), T0_NS + LATE(2000));
	/* Writing COUNT 0 disables a one-shot regardless of auto-enable. */
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER1_COUNT, 0);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_STIMER1_CONFIG), CFG_MSG(SINT));
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), UINT64_MAX);
	/* Disabling through CONFIG disarms. */
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER1_CONFIG, HV_STIMER_ENABLE | CFG_MSG(SINT));
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER1_COUNT, guest_ref(h) + 20);
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER1_CONFIG, CFG_MSG(SINT));
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), UINT64_MAX);
	/* Earliest of several. */
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER2_CONFIG, HV_STIMER_AUTO_ENABLE | CFG_MSG(SINT));
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER3_CONFIG, HV_STIMER_AUTO_ENABLE | CFG_MSG(SINT));
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER2_COUNT, guest_ref(h) + 300);
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER3_COUNT, guest_ref(h) + 200);
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), T0_NS + LATE(20000));
	/* A deadline too far to express in host ns is "never". */
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER2_COUNT, UINT64_MAX);
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER3_COUNT, UINT64_MAX - 5);
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), UINT64_MAX);
	hv_stimer_expire(h->p, UINT64_MAX - 1);
	fake_teardown(h);
}

static void test_deadline_conversion(void)
{
	struct fake_host *h = setup(1);
	uint64_t ref;

	/* Host and guest clocks with an arbitrary offset: the deadline is relative to both. */
	advance(h, 123456789);
	h->now_ns += 777; /* host clock a little ahead of the guest's: does not matter */
	ref = guest_ref(h);
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER0_CONFIG, HV_STIMER_AUTO_ENABLE | CFG_MSG(SINT));
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER0_COUNT, ref + 37);
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), h->now_ns + LATE(3700));
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER0_COUNT, ref + 10000000); /* 1 s */
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), h->now_ns + LATE(1000000000));
	fake_teardown(h);
}

static void test_pending_until_synic(void)
{
	struct fake_host *h = setup(1);
	uint64_t ref = guest_ref(h);

	/* Fires before the SynIC is set up: kept pending, delivered once SINT 2 is open. */
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER0_CONFIG, HV_STIMER_AUTO_ENABLE | CFG_MSG(SINT));
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER0_COUNT, ref + 10);
	hv_stimer_expire(h->p, T0_NS + LATE(1000));
	CHECK_EQ(h->nirqs, 0);
	CHECK_EQ(hv_stimer_next_deadline_ns(h->p), UINT64_MAX);
	CHECK(rdmsr_ok(h, 0, HV_X64_MSR_STIMER0_CONFIG) & HV_STIMER_ENABLE);
	h->now_ns = T0_NS + 5000;
	wrmsr_ok(h, 0, HV_X64_MSR_SIMP, SIMP | 1);
	wrmsr_ok(h, 0, HV_X64_MSR_SIEFP, SIEFP | 1);
	wrmsr_ok(h, 0, HV_X64_MSR_SINT0 + SINT, VEC);
	CHECK_EQ(h->nirqs, 0); /* SCONTROL still off */
	wrmsr_ok(h, 0, HV_X64_MSR_SCONTROL, 1);
	CHECK_EQ(h->nirqs, 1);
	check_timer_message(h, SINT, 0, ref + 10, ref + 10 + (5000 - LATE(1000)) / 100);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_STIMER0_CONFIG) & HV_STIMER_ENABLE, 0);
	fake_teardown(h);
}

int main(void)
{
	test_one_shot();
	test_periodic();
	test_direct_mode();
	test_config_rules();
	test_deadline_conversion();
	test_pending_until_synic();
	return unit_done("test_hv_stimer");
}
