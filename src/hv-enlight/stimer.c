/* Synthetic timers (TLFS "Timers"): four per VP, one-shot or periodic, expiry as an
 * HVMSG_TIMER_EXPIRED message to a SINT or, in direct mode, as a plain APIC vector.
 *
 * Time bases: the guest writes reference time (100 ns since guest TSC 0); the event loop runs on
 * host CLOCK_MONOTONIC. A timer is armed on its VP's thread, where both clocks are read together
 * (guest TSC through the reference formula, host now_ns), so the deadline in host ns is relative
 * to the guest's view at that moment and no partition-wide offset is assumed; it is rounded late
 * (see wait_ns) so that the guest never sees its timer fire before its own clock says so. A periodic
 * timer re-arms at the next multiple of its period after now: missed periods are skipped, never
 * delivered in a burst (so "lazy" needs no behaviour of its own: it is stored and read back).
 * A message that finds its slot busy (or the SynIC closed) leaves the timer pending; EOM or a
 * SynIC change retries it, and a periodic timer is re-armed only once its message is in. */
#include <errno.h>
#include <string.h>

#include "hv-enlight/partition.h"

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	return (b && a > UINT64_MAX / b) ? UINT64_MAX : a * b;
}

static unsigned timer_sint(uint64_t config)
{
	return (unsigned)((config & HV_STIMER_SINTX_MASK) >> HV_STIMER_SINTX_SHIFT);
}

static bool is_direct(uint64_t config)
{
	return (config & HV_STIMER_DIRECT_MODE) != 0;
}

bool hv_stimer_waiting_on(const struct hv_vp *v, unsigned sint)
{
	for (unsigned i = 0; i < HV_SYNIC_STIMER_COUNT; i++) {
		const struct hv_stimer *t = &v->stimer[i];

		if (t->pending && !is_direct(t->config) && timer_sint(t->config) == sint)
			return true;
	}
	return false;
}

/* Host ns for a wait of ticks reference ticks, never short: the guest TSC and the host clock may
 * differ in rate by up to a few hundred ppm (NTP slew, TSC calibration), and an expiry the guest
 * sees before its deadline makes it re-arm at once. 0.05% late at most, plus one tick. */
static uint64_t wait_ns(uint64_t ticks)
{
	uint64_t ns = sat_mul(ticks, HV_NS_PER_REF_TICK);

	return sat_add(ns, ns / 2000 + HV_NS_PER_REF_TICK);
}

/* (Re)arms t from its registers, reading both clocks now (VP thread, v->lock held). */
static void arm(struct hv_partition *p, struct hv_vp *v, struct hv_stimer *t)
{
	uint64_t now_ns, now_ref;

	t->armed = false;
	t->pending = false;
	if (!(t->config & HV_STIMER_ENABLE) || t->count == 0)
		return;
	/* The guest's clock first, then the host's: the host instant is the later one, so the
	 * deadline errs late, not early. */
	now_ref = hv_ref_time_now(p, v->index);
	now_ns = p->ops.now_ns(p->ops.ctx);
	if (t->config & HV_STIMER_PERIODIC) {
		/* The first period begins when the timer is enabled. */
		t->deadline_ref = sat_add(now_ref, t->count);
		t->deadline_ns = sat_add(now_ns, wait_ns(t->count));
	} else {
		/* Absolute expiry; one in the past expires at once. */
		t->deadline_ref = t->count;
		t->deadline_ns = t->count > now_ref ? sat_add(now_ns, wait_ns(t->count - now_ref))
						    : now_ns;
	}
	t->armed = true;
}

/* The expiry of t has been delivered at now_ns: re-arm a periodic timer, end a one-shot. */
static void complete(struct hv_stimer *t, uint64_t now_ns)
{
	if (t->config & HV_STIMER_PERIODIC) {
		uint64_t period_ns = sat_mul(t->count, HV_NS_PER_REF_TICK);
		uint64_t k = now_ns >= t->deadline_ns ? (now_ns - t->deadline_ns) / period_ns + 1 : 1;

		t->deadline_ns = sat_add(t->deadline_ns, sat_mul(k, period_ns));
		t->deadline_ref = sat_add(t->deadline_ref, sat_mul(k, t->count));
		t->armed = true;
	} else {
		t->config &= ~HV_STIMER_ENABLE;
		t->armed = false;
	}
}

/* Posts the expiry message of timer idx; false if it has to wait. */
static bool send_message(struct hv_partition *p, struct hv_vp *v, unsigned idx, uint64_t now_ns,
			 struct hv_irqs *irqs)
{
	struct hv_stimer *t = &v->stimer[idx];
	struct hv_timer_message_payload pl = {
		.timer_index = idx,
		.expiration_time = t->deadline_ref,
		.delivery_time = sat_add(t->deadline_ref, now_ns > t->deadline_ns
				 ? (now_ns - t->deadline_ns) / HV_NS_PER_REF_TICK : 0),
	};
	struct hv_message msg;

	memset(&msg, 0, sizeof(msg));
	msg.header.message_type = HVMSG_TIMER_EXPIRED;
	msg.header.payload_size = sizeof(pl);
	memcpy(msg.payload, &pl, sizeof(pl));
	t->pending = false; /* not "another waiter" while we write it */
	if (hv_synic_deliver_locked(p, v, timer_sint(t->config), &msg, false, irqs) == 0)
		return true;
	t->pending = true;
	return false;
}

static void fire(struct hv_partition *p, struct hv_vp *v, unsigned idx, uint64_t now_ns,
		 struct hv_irqs *irqs)
{
	struct hv_stimer *t = &v->stimer[idx];

	t->armed = false;
	if (is_direct(t->config)) {
		hv_irqs_add(irqs, (uint8_t)((t->config & HV_STIMER_APIC_VECTOR_MASK) >>
					    HV_STIMER_APIC_VECTOR_SHIFT));
		complete(t, now_ns);
	} else if (send_message(p, v, idx, now_ns, irqs)) {
		complete(t, now_ns);
	}
}

bool hv_stimer_retry_pending_locked(struct hv_partition *p, struct hv_vp *v, uint64_t now_ns,
				    struct hv_irqs *irqs)
{
	bool changed = false;

	for (unsigned i = 0; i < HV_SYNIC_STIMER_COUNT; i++) {
		struct hv_stimer *t = &v->stimer[i];

		if (t->pending && send_message(p, v, i, now_ns, irqs)) {
			complete(t, now_ns);
			changed = true;
		}
	}
	return changed;
}

int hv_stimer_msr_read(struct hv_partition *p, struct hv_vp *v, uint32_t msr, uint64_t *value)
{
	unsigned off = msr - HV_X64_MSR_STIMER0_CONFIG;
	struct hv_stimer *t = &v->stimer[off / 2];

	(void)p;
	pthread_mutex_lock(&v->lock);
	*value = (off % 2) ? t->count : t->config;
	pthread_mutex_unlock(&v->lock);
	return 0;
}

int hv_stimer_msr_write(struct hv_partition *p, struct hv_vp *v, uint32_t msr, uint64_t value)
{
	unsigned off = msr - HV_X64_MSR_STIMER0_CONFIG;
	struct hv_stimer *t = &v->stimer[off / 2];
	bool is_count = off % 2;

	if (!is_count) {
		if (value & HV_STIMER_RESERVED_MASK)
			return -EPERM;
		if (is_direct(value) &&
		    (!hv_has(p, HV_FEAT_STIMER_DIRECT) ||
		     ((value & HV_STIMER_APIC_VECTOR_MASK) >> HV_STIMER_APIC_VECTOR_SHIFT) <
			     HV_SYNIC_FIRST_VALID_VECTOR))
			return -EPERM;
	}
	pthread_mutex_lock(&v->lock);
	if (is_count) {
		t->count = value;
		if (value == 0)
			t->config &= ~HV_STIMER_ENABLE; /* a zero count stops the timer */
		else if (t->config & HV_STIMER_AUTO_ENABLE)
			t->config |= HV_STIMER_ENABLE;
	} else {
		t->config = value;
	}
	/* A message-mode timer cannot be enabled on SINT 0: it is marked disabled at once. */
	if (!is_direct(t->config) && timer_sint(t->config) == 0)
		t->config &= ~HV_STIMER_ENABLE;
	arm(p, v, t);
	pthread_mutex_unlock(&v->lock);
	p->ops.timers_changed(p->ops.ctx);
	return 0;
}

uint64_t hv_stimer_next_deadline_ns(struct hv_partition *p)
{
	uint64_t next = HV_NO_DEADLINE;

	if (!hv_has(p, HV_FEAT_STIMER))
		return next;
	for (unsigned i = 0; i < p->cfg.nvps; i++) {
		struct hv_vp *v = &p->vps[i];

		pthread_mutex_lock(&v->lock);
		for (unsigned j = 0; j < HV_SYNIC_STIMER_COUNT; j++)
			if (v->stimer[j].armed && v->stimer[j].deadline_ns < next)
				next = v->stimer[j].deadline_ns;
		pthread_mutex_unlock(&v->lock);
	}
	return next;
}

void hv_stimer_expire(struct hv_partition *p, uint64_t now_ns)
{
	if (!hv_has(p, HV_FEAT_STIMER))
		return;
	for (unsigned i = 0; i < p->cfg.nvps; i++) {
		struct hv_vp *v = &p->vps[i];
		struct hv_irqs irqs = { { 0 } };

		pthread_mutex_lock(&v->lock);
		for (unsigned j = 0; j < HV_SYNIC_STIMER_COUNT; j++)
			if (v->stimer[j].armed && v->stimer[j].deadline_ns <= now_ns)
				fire(p, v, j, now_ns, &irqs);
		pthread_mutex_unlock(&v->lock);
		hv_irqs_send(p, i, &irqs);
	}
}
