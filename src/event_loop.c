/* The VM's event loop on io_uring (see event_loop.h): multishot polls for watched descriptors,
 * an eventfd for work posted from other threads. Loop thread only, except post and stop. */
#include "event_loop.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define RING_ENTRIES 256
/* user_data of an event_op's CQE has bit 0 set; watches are (aligned) pointers with it clear. */
#define OP_TAG 1u

static void run_posted(struct event_loop *loop)
{
	struct event_work *list, *reversed = NULL;

	pthread_mutex_lock(&loop->lock);
	list = loop->posted;
	loop->posted = NULL;
	pthread_mutex_unlock(&loop->lock);
	/* Posted LIFO; run in the order posted. */
	while (list) {
		struct event_work *next = list->next;

		list->next = reversed;
		reversed = list;
		list = next;
	}
	while (reversed) {
		struct event_work *w = reversed;

		reversed = w->next;
		w->fn(w->arg);
		free(w);
	}
}

static void wake_ready(struct event_watch *w, unsigned revents)
{
	struct event_loop *loop =
		(struct event_loop *)((char *)w - offsetof(struct event_loop, wake_watch));
	uint64_t count;

	(void)revents;
	while (read(loop->wake_fd, &count, sizeof(count)) == sizeof(count))
		;
	run_posted(loop);
}

int event_loop_init(struct event_loop *loop)
{
	int ret;

	memset(loop, 0, sizeof(*loop));
	ret = io_uring_queue_init(RING_ENTRIES, &loop->ring, 0);
	if (ret < 0)
		return ret;
	loop->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->wake_fd < 0) {
		ret = -errno;
		goto err_ring;
	}
	pthread_mutex_init(&loop->lock, NULL);
	loop->wake_watch.fd = loop->wake_fd;
	loop->wake_watch.ready = wake_ready;
	ret = event_loop_watch(loop, &loop->wake_watch);
	if (ret < 0)
		goto err_fd;
	return 0;
err_fd:
	pthread_mutex_destroy(&loop->lock);
	close(loop->wake_fd);
err_ring:
	io_uring_queue_exit(&loop->ring);
	return ret;
}

void event_loop_destroy(struct event_loop *loop)
{
	struct event_work *w = loop->posted;

	while (w) {
		struct event_work *next = w->next;

		free(w);
		w = next;
	}
	io_uring_queue_exit(&loop->ring);
	close(loop->wake_fd);
	pthread_mutex_destroy(&loop->lock);
}

static struct io_uring_sqe *get_sqe(struct event_loop *loop)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);

	if (!sqe) {
		io_uring_submit(&loop->ring);
		sqe = io_uring_get_sqe(&loop->ring);
	}
	return sqe;
}

static int arm(struct event_loop *loop, struct event_watch *w)
{
	struct io_uring_sqe *sqe = get_sqe(loop);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_multishot(sqe, w->fd, POLLIN);
	io_uring_sqe_set_data(sqe, w);
	return 0;
}

int event_loop_watch(struct event_loop *loop, struct event_watch *w)
{
	int ret = arm(loop, w);

	if (ret == 0) {
		w->armed = true;
		io_uring_submit(&loop->ring);
	}
	return ret;
}

void event_loop_unwatch(struct event_loop *loop, struct event_watch *w)
{
	struct io_uring_sqe *sqe;

	if (!w->armed)
		return;
	w->armed = false;
	sqe = get_sqe(loop);
	if (!sqe)
		return;
	io_uring_prep_poll_remove(sqe, (__u64)(uintptr_t)w);
	io_uring_sqe_set_data(sqe, NULL);
	io_uring_submit(&loop->ring);
}

int event_loop_post(struct event_loop *loop, void (*fn)(void *arg), void *arg)
{
	struct event_work *w = malloc(sizeof(*w));
	uint64_t one = 1;

	if (!w)
		return -ENOMEM;
	w->fn = fn;
	w->arg = arg;
	pthread_mutex_lock(&loop->lock);
	w->next = loop->posted;
	loop->posted = w;
	pthread_mutex_unlock(&loop->lock);
	if (write(loop->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

void event_loop_stop(struct event_loop *loop)
{
	uint64_t one = 1;

	pthread_mutex_lock(&loop->lock);
	loop->stopping = true;
	pthread_mutex_unlock(&loop->lock);
	if (write(loop->wake_fd, &one, sizeof(one)) < 0) {
		/* The counter is non-zero already: the loop wakes anyway. */
	}
}

static bool stopping(struct event_loop *loop)
{
	bool s;

	pthread_mutex_lock(&loop->lock);
	s = loop->stopping;
	pthread_mutex_unlock(&loop->lock);
	return s;
}

struct io_uring_sqe *event_loop_get_sqe(struct event_loop *loop, struct event_op *op)
{
	struct io_uring_sqe *sqe = get_sqe(loop);

	if (sqe)
		io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)op | OP_TAG);
	return sqe;
}

void event_loop_submit(struct event_loop *loop)
{
	io_uring_submit(&loop->ring);
}

static void dispatch(struct event_loop *loop, struct io_uring_cqe *cqe)
{
	uint64_t data = io_uring_cqe_get_data64(cqe);
	struct event_watch *w = (struct event_watch *)(uintptr_t)data;
	int res = cqe->res;
	bool more = cqe->flags & IORING_CQE_F_MORE;

	if (data & OP_TAG) {
		struct event_op *op = (struct event_op *)(uintptr_t)(data & ~(uint64_t)OP_TAG);

		op->complete(op, res);
		return;
	}
	/* A cancelled poll belongs to an earlier unwatch (its owner may have let the watch go):
	 * not even read. */
	if (!w || res == -ECANCELED)
		return;
	if (res >= 0 && w->armed)
		w->ready(w, (unsigned)res);
	/* A multishot poll ends on error or overflow; keep it going while still wanted. */
	if (!more && w->armed && arm(loop, w) < 0)
		w->armed = false;
}

/* Submits, waits for at least one completion and dispatches what is there. */
static int turn(struct event_loop *loop)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	int ret = io_uring_submit_and_wait(&loop->ring, 1);

	if (ret < 0 && ret != -EINTR)
		return ret;
	/* A completion may queue new SQEs: they go out at the next turn. */
	io_uring_for_each_cqe(&loop->ring, head, cqe) {
		dispatch(loop, cqe);
		seen++;
	}
	io_uring_cq_advance(&loop->ring, seen);
	return 0;
}

int event_loop_run_until(struct event_loop *loop, bool (*done)(void *arg), void *arg)
{
	while (!done(arg)) {
		int ret = turn(loop);

		if (ret < 0)
			return ret;
	}
	return 0;
}

int event_loop_run(struct event_loop *loop)
{
	while (!stopping(loop)) {
		int ret = turn(loop);

		if (ret < 0)
			return ret;
	}
	/* The stop request is consumed: the next run goes on until the next stop. */
	pthread_mutex_lock(&loop->lock);
	loop->stopping = false;
	pthread_mutex_unlock(&loop->lock);
	return 0;
}
