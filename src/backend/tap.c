/* Tap backend (see tap.h): TUNSETIFF with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (| IFF_MULTI_QUEUE),
 * TUNSETVNETHDRSZ 12, TUNSETOFFLOAD; io_uring reads into per-queue buffers (completions come in
 * packet order: each read takes the queue's next packet when it runs, on the loop's task) and
 * writev for transmit. */
#include "backend/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define TAG "tap"

struct tap_queue;

struct tap_rxbuf {
	struct event_op op;
	struct tap_queue *q;
	uint8_t *data;
	uint32_t len;             /* bytes read, while held */
	bool inflight;
	bool held;
	struct tap_rxbuf *next;   /* held FIFO */
};

struct tap_queue {
	struct tap *t;
	unsigned index;
	int fd;
	bool stopped;             /* the receiver held a frame: no new reads */
	bool failed;              /* a read error: the device is gone */
	struct tap_rxbuf *held_head, *held_tail;
	struct tap_rxbuf bufs[TAP_RX_BUFFERS];
};

struct tap {
	struct event_loop *loop;
	char name[IFNAMSIZ];
	unsigned nqueues;
	bool created;
	bool started;
	bool closing;
	bool delivering;
	bool resume_pending;      /* tap_rx_resume came while a frame was being delivered */
	unsigned inflight;        /* reads, writes and cancels io_uring has */
	struct tap_rx_ops rx;
	struct event_op cancel_op;
	struct tap_queue queues[TAP_MAX_QUEUES];
};

static void read_done(struct event_op *op, int res);

static void submit_read(struct tap_queue *q, struct tap_rxbuf *b)
{
	struct tap *t = q->t;
	struct io_uring_sqe *sqe;

	if (t->closing || q->failed || b->inflight || b->held)
		return;
	sqe = event_loop_get_sqe(t->loop, &b->op);
	if (!sqe) {
		/* Retried at the next read completion or resume on this queue. */
		log_warn(TAG, "%s: no submission entry for a read", t->name);
		return;
	}
	io_uring_prep_read(sqe, q->fd, b->data, TAP_RX_BUF_SIZE, 0);
	b->inflight = true;
	t->inflight++;
}

static void refill(struct tap_queue *q)
{
	if (q->stopped || q->held_head)
		return;
	for (unsigned i = 0; i < TAP_RX_BUFFERS; i++)
		submit_read(q, &q->bufs[i]);
}

static void hold(struct tap_queue *q, struct tap_rxbuf *b)
{
	b->held = true;
	b->next = NULL;
	if (q->held_tail)
		q->held_tail->next = b;
	else
		q->held_head = b;
	q->held_tail = b;
}

static bool deliver(struct tap_queue *q, struct tap_rxbuf *b)
{
	struct tap *t = q->t;
	struct virtio_net_hdr_v1 vh;
	bool taken;

	memcpy(&vh, b->data, sizeof(vh));
	t->delivering = true;
	taken = t->rx.receive(t->rx.opaque, q->index, &vh, b->data + TAP_VNET_HDR_LEN,
			      b->len - TAP_VNET_HDR_LEN);
	t->delivering = false;
	return taken;
}

static void read_done(struct event_op *op, int res)
{
	struct tap_rxbuf *b = (struct tap_rxbuf *)((char *)op - offsetof(struct tap_rxbuf, op));
	struct tap_queue *q = b->q;
	struct tap *t = q->t;

	b->inflight = false;
	t->inflight--;
	if (t->closing || res == -ECANCELED)
		return;
	if (res < 0) {
		if (res == -EAGAIN || res == -EINTR) {
			submit_read(q, b);
			return;
		}
		/* The device went away (-EBADFD) or worse: reading again would spin. */
		log_error(TAG, "%s queue %u: read failed: %s; receive stops", t->name, q->index,
			  strerror(-res));
		q->failed = true;
		return;
	}
	if ((uint32_t)res < TAP_VNET_HDR_LEN + 14) {
		log_warn(TAG, "%s: short read of %d bytes dropped", t->name, res);
		submit_read(q, b);
		return;
	}
	b->len = (uint32_t)res;
	if (q->stopped || q->held_head) { /* keep order behind what is held */
		hold(q, b);
		return;
	}
	if (deliver(q, b)) {
		submit_read(q, b);
	} else {
		hold(q, b);
		q->stopped = true;
	}
	if (t->resume_pending) {
		t->resume_pending = false;
		tap_rx_resume(t);
	}
}

void tap_rx_resume(struct tap *t)
{
	if (!t->started || t->closing)
		return;
	if (t->delivering) {
		t->resume_pending = true; /* run once the current delivery returns */
		return;
	}
	do {
		t->resume_pending = false;
		for (unsigned i = 0; i < t->nqueues; i++) {
			struct tap_queue *q = &t->queues[i];

			q->stopped = false;
			while (q->held_head) {
				struct tap_rxbuf *b = q->held_head;

				if (!deliver(q, b)) {
					q->stopped = true;
					break;
				}
				q->held_head = b->next;
				if (!q->held_head)
					q->held_tail = NULL;
				b->held = false;
				submit_read(q, b);
			}
			refill(q);
		}
	} while (t->resume_pending);
}

void tap_start(struct tap *t, const struct tap_rx_ops *rx)
{
	t->rx = *rx;
	t->started = true;
	for (unsigned i = 0; i < t->nqueues; i++)
		refill(&t->queues[i]);
}

static void write_done(struct event_op *op, int res)
{
	struct tap_tx *tx = (struct tap_tx *)((char *)op - offsetof(struct tap_tx, op));

	tx->tap->inflight--;
	tx->done(tx, res);
}

int tap_send(struct tap *t, unsigned queue, struct tap_tx *tx)
{
	struct tap_queue *q = &t->queues[queue % t->nqueues];
	struct io_uring_sqe *sqe;

	if (t->closing)
		return -EBUSY;
	tx->op.complete = write_done;
	tx->tap = t;
	sqe = event_loop_get_sqe(t->loop, &tx->op);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_writev(sqe, q->fd, tx->iov, tx->iovcnt, 0);
	t->inflight++;
	return 0;
}

static int open_error(int e, const char *name, unsigned queues, bool existed, struct error *err)
{
	switch (e) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
		return error_set(err, e, "no /dev/net/tun: the tun module is not loaded or the device "
				 "node is missing");
	case EACCES:
		return error_set(err, e, "permission denied opening /dev/net/tun");
	case EPERM:
		return error_set(err, e, "not permitted to %s tap device %s (needs CAP_NET_ADMIN, or "
				 "the device belongs to another user)", existed ? "attach to" : "create",
				 name);
	case EINVAL:
		if (existed)
			return error_set(err, e, "%s is not a tap device%s", name,
					 queues > 1 ? " with multi-queue support"
						    : " (or it is a multi-queue one)");
		return error_set(err, e, "cannot create tap device %s: invalid request", name);
	case EBUSY:
		return error_set(err, e, "tap device %s is in use by another process", name);
	default:
		return error_set(err, e, "tap device %s: %s", name, strerror(e));
	}
}

static int open_queue(struct tap *t, struct tap_queue *q, const char *name, unsigned queues,
		      bool existed, struct error *err)
{
	struct ifreq ifr;
	int hdr = TAP_VNET_HDR_LEN;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return open_error(errno, name, queues, existed, err);
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (queues > 1 ? IFF_MULTI_QUEUE : 0);
	{
		const char *want = t->name[0] ? t->name : name;

		memcpy(ifr.ifr_name, want, strnlen(want, IFNAMSIZ - 1));
	}
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;

		close(fd);
		return open_error(e, name[0] ? name : "(new)", queues, existed, err);
	}
	memcpy(t->name, ifr.ifr_name, IFNAMSIZ);
	t->name[IFNAMSIZ - 1] = 0;
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 || ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM) < 0) {
		int e = errno;

		close(fd);
		return error_set(err, e, "tap device %s: cannot set the virtio header or offloads: %s",
				 t->name, strerror(e));
	}
	q->fd = fd;
	return 0;
}

int tap_open(struct tap **out, struct event_loop *loop, const char *name, unsigned queues,
	     struct error *err)
{
	struct tap *t;
	bool existed;
	int ret = 0;
	unsigned opened = 0;

	if (!name)
		name = "";
	if (queues == 0 || queues > TAP_MAX_QUEUES)
		return error_set(err, EINVAL, "tap: %u queues asked, 1 to %u possible", queues,
				 TAP_MAX_QUEUES);
	if (strlen(name) >= IFNAMSIZ)
		return error_set(err, EINVAL, "tap device name '%s' longer than %d characters", name,
				 IFNAMSIZ - 1);
	existed = name[0] && if_nametoindex(name) != 0;
	t = calloc(1, sizeof(*t));
	if (!t)
		return error_set(err, ENOMEM, "out of memory");
	t->loop = loop;
	t->nqueues = queues;
	t->cancel_op.complete = NULL;
	for (unsigned i = 0; i < queues; i++) {
		struct tap_queue *q = &t->queues[i];

		q->t = t;
		q->index = i;
		q->fd = -1;
		for (unsigned j = 0; j < TAP_RX_BUFFERS; j++) {
			q->bufs[j].q = q;
			q->bufs[j].op.complete = read_done;
			q->bufs[j].data = malloc(TAP_RX_BUF_SIZE);
			if (!q->bufs[j].data) {
				ret = error_set(err, ENOMEM, "out of memory");
				goto fail;
			}
		}
	}
	for (; opened < queues; opened++) {
		ret = open_queue(t, &t->queues[opened], name, queues, existed, err);
		if (ret < 0)
			goto fail;
	}
	t->created = !existed;
	log_info(TAG, "%s %s with %u queue%s", existed ? "attached to" : "created", t->name,
		 queues, queues > 1 ? "s" : "");
	*out = t;
	return 0;
fail:
	for (unsigned i = 0; i < queues; i++) {
		if (t->queues[i].fd >= 0)
			close(t->queues[i].fd);
		for (unsigned j = 0; j < TAP_RX_BUFFERS; j++)
			free(t->queues[i].bufs[j].data);
	}
	free(t);
	return ret;
}

static void cancel_done(struct event_op *op, int res)
{
	struct tap *t = (struct tap *)((char *)op - offsetof(struct tap, cancel_op));

	(void)res;
	t->inflight--;
}

static bool idle(void *arg)
{
	return ((struct tap *)arg)->inflight == 0;
}

void tap_close(struct tap *t)
{
	if (!t)
		return;
	t->closing = true;
	t->cancel_op.complete = cancel_done;
	for (unsigned i = 0; i < t->nqueues; i++) {
		struct io_uring_sqe *sqe = event_loop_get_sqe(t->loop, &t->cancel_op);

		if (!sqe) {
			log_error(TAG, "%s: cannot cancel the reads of queue %u", t->name, i);
			continue;
		}
		io_uring_prep_cancel_fd(sqe, t->queues[i].fd, IORING_ASYNC_CANCEL_ALL);
		t->inflight++;
	}
	event_loop_submit(t->loop);
	if (event_loop_run_until(t->loop, idle, t) < 0)
		log_error(TAG, "%s: event loop failed while closing", t->name);
	for (unsigned i = 0; i < t->nqueues; i++) {
		close(t->queues[i].fd);
		for (unsigned j = 0; j < TAP_RX_BUFFERS; j++)
			free(t->queues[i].bufs[j].data);
	}
	free(t);
}

const char *tap_name(const struct tap *t)
{
	return t->name;
}

unsigned tap_queue_count(const struct tap *t)
{
	return t->nqueues;
}

bool tap_created(const struct tap *t)
{
	return t->created;
}

int tap_set_mtu(struct tap *t, unsigned mtu, struct error *err)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = 0;

	if (s < 0)
		return error_set(err, errno, "tap %s: socket for SIOCSIFMTU: %s", t->name,
				 strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, t->name, IFNAMSIZ);
	ifr.ifr_mtu = (int)mtu;
	if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
		ret = error_set(err, errno, "tap %s: cannot set MTU %u: %s", t->name, mtu,
				strerror(errno));
	close(s);
	return ret;
}
