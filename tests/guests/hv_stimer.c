/* Test guest: Hyper-V synthetic timers (TLFS v6.0b §12.5: STIMERx_CONFIG/COUNT, one-shot and
 * periodic, direct mode and message mode with HVMSG_TIMER_EXPIRED, disable). */
#include "guest.h"
#include "hyperv.h"
#include "io.h"
#include "smp.h"

/* Timing bounds hold on an idle host; on a busy one the VMM's threads may not be scheduled in
 * time, so each timing measurement gets up to TIMING_ATTEMPTS tries (every try is printed, and
 * "never early" must hold on all of them). */
#define TIMING_ATTEMPTS 5
#define VEC_DIRECT 0x32
#define VEC_MSG 0x30
#define SINT_TIMER 2
#define MS (HV_REF_HZ / 1000) /* reference-time units per millisecond */
#define ONESHOT_DELAY (50 * MS)
#define LATE_LIMIT (5 * MS)   /* "within a few ms" of the deadline */
#define PAST_LIMIT_US 20000   /* a deadline in the past: expiry within this */
#define PERIOD (10 * MS)
#define PERIODIC_WINDOW_US 200000
#define QUIET_US 100000
#define SETTLE_US 5000
#define MSG_PAYLOAD_SIZE 24

const char test_name[] = "hv_stimer";

static volatile uint64_t direct_first_ref;

static void direct_hook(unsigned vector)
{
	(void)vector;
	if (!direct_first_ref)
		direct_first_ref = hv_ref_time();
}

/* Message-mode expiries, copied out of the slot by the interrupt hook, which then acks. */
#define MAX_RECORDS 64
struct timer_msg {
	uint32_t type;
	uint8_t size;
	struct hv_timer_payload p;
	uint64_t seen_ref;
};
static struct timer_msg records[MAX_RECORDS];
static volatile unsigned n_records;

static void msg_hook(unsigned vector)
{
	struct hv_message *m = &hv_message_page()->slot[SINT_TIMER];

	(void)vector;
	while (m->type != HVMSG_NONE) {
		if (n_records < MAX_RECORDS) {
			struct timer_msg *r = &records[n_records];

			r->type = m->type;
			r->size = m->payload_size;
			memcpy(&r->p, (const void *)m->payload, sizeof(r->p));
			r->seen_ref = hv_ref_time();
			n_records++;
		}
		if (!hv_message_ack(SINT_TIMER))
			break;
	}
}

static bool records_at_least(void *arg)
{
	return n_records >= (unsigned)(uintptr_t)arg;
}

static void stop_all(void)
{
	for (unsigned t = 0; t < HV_STIMER_COUNT; t++)
		wrmsr(HV_MSR_STIMER_CONFIG(t), 0);
}

static int64_t us_after(uint64_t t, uint64_t deadline)
{
	return ((int64_t)t - (int64_t)deadline) / 10;
}

/* One direct-mode one-shot: what happened. */
struct shot {
	bool setup_ok;     /* auto-enable behaved, COUNT read back */
	bool fired;
	uint64_t deadline, at;
	uint32_t expiries; /* after a quiet period */
	uint64_t cfg_after;
};

static void shot_run(unsigned timer, bool auto_enable, struct shot *s)
{
	uint64_t vec_cfg = HV_STIMER_DIRECT | HV_STIMER_VECTOR(VEC_DIRECT);
	uint32_t n0 = hv_irq_count(VEC_DIRECT);

	memset(s, 0, sizeof(*s));
	s->setup_ok = true;
	direct_first_ref = 0;
	s->deadline = hv_ref_time() + ONESHOT_DELAY;
	if (auto_enable) {
		wrmsr(HV_MSR_STIMER_CONFIG(timer), vec_cfg | HV_STIMER_AUTO_ENABLE);
		s->setup_ok &= !(rdmsr(HV_MSR_STIMER_CONFIG(timer)) & HV_STIMER_ENABLE);
		wrmsr(HV_MSR_STIMER_COUNT(timer), s->deadline);
		s->setup_ok &= (rdmsr(HV_MSR_STIMER_CONFIG(timer)) & HV_STIMER_ENABLE) != 0;
	} else {
		wrmsr(HV_MSR_STIMER_COUNT(timer), s->deadline);
		wrmsr(HV_MSR_STIMER_CONFIG(timer), vec_cfg | HV_STIMER_ENABLE);
	}
	s->setup_ok &= rdmsr(HV_MSR_STIMER_COUNT(timer)) == s->deadline;
	s->fired = hv_wait_irqs(VEC_DIRECT, n0 + 1, 1000000);
	s->at = direct_first_ref;
	if (s->fired)
		hv_wait(NULL, NULL, QUIET_US);
	s->expiries = hv_irq_count(VEC_DIRECT) - n0;
	s->cfg_after = rdmsr(HV_MSR_STIMER_CONFIG(timer));
	wrmsr(HV_MSR_STIMER_CONFIG(timer), 0);
}

static void one_shot(unsigned timer, bool auto_enable)
{
	const char *how = auto_enable ? "auto-enabled by the COUNT write" : "enabled after COUNT";
	struct shot s;
	bool early = false, on_time = false;
	unsigned attempt;

	for (attempt = 1; attempt <= TIMING_ATTEMPTS; attempt++) {
		shot_run(timer, auto_enable, &s);
		if (!s.fired || !s.setup_ok)
			break;
		con_printf("timer %u one-shot, try %u: expired %ld us after the deadline\n", timer, attempt,
			   us_after(s.at, s.deadline));
		early |= s.at < s.deadline;
		on_time = s.at >= s.deadline && s.at - s.deadline < LATE_LIMIT;
		if (on_time || early)
			break;
	}
	if (auto_enable)
		check(s.setup_ok, "timer %u: CONFIG with AutoEnable alone stays disabled; the COUNT write "
				  "sets Enable; COUNT reads back", timer);
	else
		check(s.setup_ok, "timer %u: COUNT reads back the deadline", timer);
	if (!check(s.fired, "timer %u one-shot (%s): vector %#x fired", timer, how, VEC_DIRECT))
		return;
	check(!early, "timer %u: never before the deadline", timer);
	check(on_time, "timer %u: at most 5 ms late (%ld us after, try %u of at most %u)", timer,
	      us_after(s.at, s.deadline), attempt > TIMING_ATTEMPTS ? TIMING_ATTEMPTS : attempt,
	      TIMING_ATTEMPTS);
	check(s.expiries == 1, "timer %u: fired exactly once (%u)", timer, s.expiries);
	check(!(s.cfg_after & HV_STIMER_ENABLE),
	      "timer %u: a one-shot timer is disabled after expiry (%#lx)", timer, s.cfg_after);
}

static void one_shot_in_the_past(unsigned timer)
{
	uint64_t took = 0;
	bool fired = false;

	for (unsigned attempt = 1; attempt <= TIMING_ATTEMPTS; attempt++) {
		uint32_t n0 = hv_irq_count(VEC_DIRECT);
		uint64_t now = hv_ref_time(), enabled;

		direct_first_ref = 0;
		wrmsr(HV_MSR_STIMER_COUNT(timer), now > MS ? now - MS : 1);
		wrmsr(HV_MSR_STIMER_CONFIG(timer),
		      HV_STIMER_DIRECT | HV_STIMER_VECTOR(VEC_DIRECT) | HV_STIMER_ENABLE);
		enabled = hv_ref_time();
		fired = hv_wait_irqs(VEC_DIRECT, n0 + 1, 1000000);
		/* Reference time from enabling to the interrupt handler. */
		took = fired && direct_first_ref > enabled ? (direct_first_ref - enabled) / 10 : 0;
		wrmsr(HV_MSR_STIMER_CONFIG(timer), 0);
		hv_wait(NULL, NULL, SETTLE_US);
		con_printf("timer %u, deadline 1 ms ago, try %u: %s after %lu us\n", timer, attempt,
			   fired ? "expired" : "nothing", took);
		if (!fired || took < PAST_LIMIT_US)
			break;
	}
	check(fired && took < PAST_LIMIT_US, "timer %u: a deadline already past expires at once (%lu us)",
	      timer, took);
}

static void periodic_direct(unsigned timer)
{
	struct hv_clock c;
	uint32_t n1 = 0, n2;
	unsigned attempt;

	for (attempt = 1; attempt <= TIMING_ATTEMPTS; attempt++) {
		uint32_t n0 = hv_irq_count(VEC_DIRECT);
		uint64_t elapsed_us;

		wrmsr(HV_MSR_STIMER_COUNT(timer), PERIOD);
		hv_clock_start(&c);
		wrmsr(HV_MSR_STIMER_CONFIG(timer), HV_STIMER_PERIODIC | HV_STIMER_DIRECT |
							   HV_STIMER_VECTOR(VEC_DIRECT) | HV_STIMER_ENABLE);
		hv_wait(NULL, NULL, PERIODIC_WINDOW_US);
		elapsed_us = hv_clock_us(&c);
		n1 = hv_irq_count(VEC_DIRECT) - n0;
		wrmsr(HV_MSR_STIMER_CONFIG(timer), 0);
		con_printf("timer %u periodic, try %u: %u expiries in %lu us, period 10 ms\n", timer, attempt,
			   n1, elapsed_us);
		if (n1 >= 18 && n1 <= 22)
			break;
	}
	check(n1 >= 18 && n1 <= 22, "timer %u periodic 10 ms, direct: %u expiries in ~200 ms (want 18-22)",
	      timer, n1);

	hv_wait(NULL, NULL, SETTLE_US);
	n2 = hv_irq_count(VEC_DIRECT);
	hv_wait(NULL, NULL, QUIET_US);
	check(hv_irq_count(VEC_DIRECT) == n2, "timer %u: disabling stops it (%u more in 100 ms)", timer,
	      hv_irq_count(VEC_DIRECT) - n2);
}

static void message_one_shot(unsigned timer)
{
	uint64_t deadline = 0;
	bool got = false, on_time = false;
	unsigned attempt;

	for (attempt = 1; attempt <= TIMING_ATTEMPTS; attempt++) {
		n_records = 0;
		deadline = hv_ref_time() + 20 * MS;
		wrmsr(HV_MSR_STIMER_COUNT(timer), deadline);
		wrmsr(HV_MSR_STIMER_CONFIG(timer), HV_STIMER_SINT(SINT_TIMER) | HV_STIMER_ENABLE);
		got = hv_wait(records_at_least, (void *)1, 1000000);
		if (got)
			hv_wait(NULL, NULL, QUIET_US);
		wrmsr(HV_MSR_STIMER_CONFIG(timer), 0);
		if (!got)
			break;
		con_printf("timer %u message, try %u: seen %ld us after the deadline\n", timer, attempt,
			   us_after(records[0].seen_ref, deadline));
		on_time = records[0].seen_ref >= deadline && records[0].seen_ref - deadline < LATE_LIMIT;
		if (on_time)
			break;
	}
	if (!check(got, "timer %u, message mode: a message on SINT%u", timer, SINT_TIMER))
		return;
	const struct timer_msg *r = &records[0];

	check(r->type == HVMSG_TIMER_EXPIRED, "message type HVMSG_TIMER_EXPIRED (%#x)", r->type);
	check(r->size == MSG_PAYLOAD_SIZE, "payload size %u (want %u)", r->size, MSG_PAYLOAD_SIZE);
	check(r->p.timer_index == timer, "timer index %u (want %u)", r->p.timer_index, timer);
	check(r->p.expiration_time >= deadline && r->p.expiration_time < deadline + MS,
	      "expiration time %lu is the deadline %lu (%ld us after it)", r->p.expiration_time, deadline,
	      us_after(r->p.expiration_time, deadline));
	check(r->p.delivery_time >= r->p.expiration_time && r->p.delivery_time <= r->seen_ref,
	      "delivery time %lu between expiry and when the guest saw it (%lu)", r->p.delivery_time,
	      r->seen_ref);
	check(on_time, "message seen at most 5 ms after the deadline (%ld us, try %u of at most %u)",
	      us_after(r->seen_ref, deadline), attempt > TIMING_ATTEMPTS ? TIMING_ATTEMPTS : attempt,
	      TIMING_ATTEMPTS);
	check(n_records == 1, "one message for a one-shot timer (%u)", n_records);
}

static void message_periodic(unsigned timer)
{
	unsigned n;
	bool ok = true, steps_ok = true;

	n_records = 0;
	wrmsr(HV_MSR_STIMER_COUNT(timer), PERIOD);
	wrmsr(HV_MSR_STIMER_CONFIG(timer),
	      HV_STIMER_PERIODIC | HV_STIMER_SINT(SINT_TIMER) | HV_STIMER_ENABLE);
	check(hv_wait(records_at_least, (void *)5, 1000000), "timer %u periodic, message mode: 5 messages",
	      timer);
	wrmsr(HV_MSR_STIMER_CONFIG(timer), 0);
	hv_wait(NULL, NULL, SETTLE_US);
	n = n_records;
	for (unsigned i = 0; i < n && i < MAX_RECORDS; i++) {
		ok &= records[i].type == HVMSG_TIMER_EXPIRED && records[i].p.timer_index == timer;
		if (i > 0) {
			uint64_t step = records[i].p.expiration_time - records[i - 1].p.expiration_time;

			ok &= records[i].p.expiration_time > records[i - 1].p.expiration_time;
			/* Whole periods apart (a busy host may make the VMM skip some). */
			steps_ok &= step >= PERIOD - MS && (step + MS / 2) % PERIOD <= MS;
			if (i < 4)
				con_printf("timer %u message %u: expiration %lu us after the previous\n", timer,
					   i, step / 10);
		}
	}
	check(ok, "each is a timer-expired message for timer %u with a later expiration time", timer);
	check(steps_ok, "expiration times are whole periods apart");
	hv_wait(NULL, NULL, QUIET_US);
	check(n_records == n, "disabled: no more messages (%u more)", n_records - n);
}

void test_main(void)
{
	hv_require(HV_PRIV_SYNIC | HV_PRIV_STIMER | HV_PRIV_TIME_REF_COUNT);
	check(hv_misc_features() & HV_FEAT_STIMER_DIRECT,
	      "direct mode advertised (0x40000003 EDX bit 19)");
	hv_irq_init();
	hv_irq_install(VEC_DIRECT, direct_hook);
	hv_irq_install(VEC_MSG, msg_hook);
	check(hv_synic_enable(), "SynIC enabled");
	wrmsr(HV_MSR_SINT(SINT_TIMER), VEC_MSG);
	stop_all();

	/* A direct-mode vector below 16 is refused, as for an unmasked SINT. */
	check(hv_wrmsr_faults(HV_MSR_STIMER_CONFIG(0), HV_STIMER_DIRECT | HV_STIMER_VECTOR(5)),
	      "direct mode with vector 5 raises #GP");

	one_shot(0, false);
	one_shot(1, true);
	one_shot_in_the_past(2);
	periodic_direct(3);
	message_one_shot(1);
	message_periodic(2);
	stop_all();
}
