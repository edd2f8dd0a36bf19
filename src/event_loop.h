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
 * poll revents; it must read what it can, the watch stays armed until event_loop_unwatch. */
struct event_watch {
	int fd;
	void (*ready)(struct event_watch *w, unsigned revents);
	bool armed;
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

/* Runs until event_loop_stop (which may come before the call: it is not lost), then consumes
 * the stop request. Returns 0 or -errno on a ring failure. */
int event_loop_run(struct event_loop *loop);
/* Any thread. */
void event_loop_stop(struct event_loop *loop);

#endif
