/* The VM's event loop on io_uring: file descriptors watched for input, work posted from other
 * threads (queue + eventfd), one-shot timers. Only the loop thread touches the ring. */
#ifndef HVKVM_EVENT_LOOP_H
#define HVKVM_EVENT_LOOP_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct event_loop;

/* A descriptor watched for readability (multishot poll). ready() runs on the loop thread with the
 * poll revents; it must read what it can, the watch stays armed until event_loop_unwatch. A
 * readiness completion already queued when unwatch is called still reads the watch (and sees it
 * disarmed): keep its memory until the loop has turned once more, or use one-shot operations
 * (event_loop_get_sqe) for short-lived descriptors, as the control socket does. */
struct event_watch {
	int fd;
	void (*ready)(struct event_watch *w, unsigned revents);
	bool armed;
};

/* An asynchronous io_uring operation: complete() runs on the loop thread with the CQE's result. */
struct event_op {
	void (*complete)(struct event_op *op, int res);
};

struct event_work {
	void (*fn)(void *arg);
	void *arg;
	struct event_work *next;
};

struct event_loop {
	struct io_uring ring;
	int wake_fd;               /* eventfd: posted work or stop */
	struct event_watch wake_watch;
	pthread_mutex_t lock;      /* guards posted and stopping */
	struct event_work *posted; /* LIFO, reversed when run */
	bool stopping;
};

__attribute__((warn_unused_result))
int event_loop_init(struct event_loop *loop);
void event_loop_destroy(struct event_loop *loop);

/* Loop thread (or before the loop runs). */
__attribute__((warn_unused_result))
int event_loop_watch(struct event_loop *loop, struct event_watch *w);
void event_loop_unwatch(struct event_loop *loop, struct event_watch *w);

/* Any thread: run fn(arg) on the loop thread soon. -ENOMEM if it cannot be queued. */
__attribute__((warn_unused_result))
int event_loop_post(struct event_loop *loop, void (*fn)(void *arg), void *arg);

/* Loop thread (or after event_loop_run returned, from the thread that ran it): an SQE for one
 * operation whose completion calls op->complete(op, res); the caller preps it (io_uring_prep_*)
 * and must not change its user_data. Submitted at the loop's next wait (or event_loop_submit).
 * NULL when the submission queue stays full. */
struct io_uring_sqe *event_loop_get_sqe(struct event_loop *loop, struct event_op *op);
void event_loop_submit(struct event_loop *loop);
/* Loop thread, or after event_loop_run returned: handle completions (operations, watches,
 * posted work) until done(arg) is true; for draining in-flight I/O at teardown. 0 or -errno. */
int event_loop_run_until(struct event_loop *loop, bool (*done)(void *arg), void *arg);

/* Runs until event_loop_stop (which may come before the call: it is not lost), then consumes
 * the stop request. Returns 0 or -errno on a ring failure. */
int event_loop_run(struct event_loop *loop);
/* Any thread. */
void event_loop_stop(struct event_loop *loop);

#endif
