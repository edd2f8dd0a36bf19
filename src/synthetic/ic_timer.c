/* io_uring timers for the integration components (see ic.h): one absolute CLOCK_MONOTONIC
 * timeout in the kernel per timer, cancelled with a timeout-remove when an earlier one is due. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "synthetic/ic.h"

#define TAG "ic"

#define container_of(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

uint64_t ic_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static void timer_submit(struct ic_timer *t, uint64_t at)
{
	struct io_uring_sqe *sqe = event_loop_get_sqe(t->loop, &t->op);

	if (!sqe) {
		log_error(TAG, "no io_uring submission entry for a timer");
		return;
	}
	t->ts.tv_sec = (long long)(at / 1000000000u);
	t->ts.tv_nsec = (long long)(at % 1000000000u);
	io_uring_prep_timeout(sqe, &t->ts, 0, IORING_TIMEOUT_ABS);
	t->user_data = sqe->user_data;
	t->armed_ns = at;
}

static void timer_cancel(struct ic_timer *t)
{
	struct io_uring_sqe *sqe;

	if (!t->armed_ns || t->cancelling)
		return;
	sqe = event_loop_get_sqe(t->loop, &t->cancel_op);
	if (!sqe)
		return; /* it expires at its time anyway */
	io_uring_prep_timeout_remove(sqe, t->user_data, 0);
	t->cancelling = true;
}

static void timer_expired(struct event_op *op, int res)
{
	struct ic_timer *t = container_of(op, struct ic_timer, op);

	t->armed_ns = 0;
	if (res != -ETIME && res != -ECANCELED && res != 0) {
		log_error(TAG, "timer failed: %s", strerror(-res));
		t->want_ns = 0; /* re-arming would fail the same way, and spin */
		return;
	}
	if (t->want_ns && ic_now_ns() >= t->want_ns) {
		t->want_ns = 0;
		t->fire(t); /* may arm again */
	} else if (t->want_ns) {
		timer_submit(t, t->want_ns); /* cancelled for an earlier deadline */
	}
}

static void timer_cancelled(struct event_op *op, int res)
{
	struct ic_timer *t = container_of(op, struct ic_timer, cancel_op);

	(void)res; /* -ENOENT: it had expired already; its own completion tells */
	t->cancelling = false;
}

void ic_timer_init(struct ic_timer *t, struct event_loop *loop, void (*fire)(struct ic_timer *t))
{
	memset(t, 0, sizeof(*t));
	t->loop = loop;
	t->fire = fire;
	t->op.complete = timer_expired;
	t->cancel_op.complete = timer_cancelled;
}

void ic_timer_arm_at(struct ic_timer *t, uint64_t deadline_ns)
{
	if (!deadline_ns)
		deadline_ns = 1;
	t->want_ns = deadline_ns;
	if (t->armed_ns) {
		if (t->armed_ns > deadline_ns)
			timer_cancel(t);
		return; /* expiring earlier than wanted just arms again */
	}
	timer_submit(t, deadline_ns);
}

void ic_timer_stop(struct ic_timer *t)
{
	t->want_ns = 0;
	timer_cancel(t);
}

bool ic_timer_busy(const struct ic_timer *t)
{
	return t->armed_ns || t->cancelling;
}

static bool timer_idle(void *arg)
{
	return !ic_timer_busy(arg);
}

void ic_timer_drain(struct ic_timer *t)
{
	ic_timer_stop(t);
	if (ic_timer_busy(t) && event_loop_run_until(t->loop, timer_idle, t) < 0)
		log_error(TAG, "event loop failed while a timer drained");
}
