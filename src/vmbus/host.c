/* The VMM side of VMBus (see host.h): HvPostMessage on connections 1 and 4 feeds the server,
 * HvSignalEvent on a channel's connection id reaches its device, SynIC event flag = child relid
 * on SINT 2 signals the guest (Linux drivers/hv: connection.c, channel_mgmt.c).
 *
 * The vCPU threads only queue: a message is copied into a FIFO, a signal sets the channel's bit
 * in a pending bitmap, and one drain job is posted to the event loop, which feeds the server and
 * the devices. The server and every device therefore live on the loop thread alone. A channel's
 * usual signal (fast HvSignalEvent, flag 0) does not even stop its vCPU: the hypercall page's
 * doorbell signals the channel's eventfd in the kernel (hv_connection_ops.has_doorbell), and the
 * loop reads it with an io_uring read that is always in flight while the channel is open. */
#include "vmbus/host.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hv-enlight/tlfs.h"
#include "log.h"
#include "vmbus/protocol.h"

/* A channel's doorbell eventfd and the read that waits on it (loop thread). */
struct doorbell {
	struct event_op read_op;
	int fd;               /* -1 until the channel's first open; kept for later opens */
	uint64_t count;       /* the read's buffer */
	bool reading;         /* read_op is in flight */
	bool closing;         /* teardown: do not read again */
};

/* Per channel: who hears the guest's signals. Indexed by relid. */
struct channel_listener {
	struct vmbus_host *host;
	struct vmbus_channel *ch;
	vmbus_channel_notify_fn *fn;
	void *opaque;
	bool registered;
	struct doorbell bell;
};

#define MAX_RELID 1024
#define PENDING_WORDS (MAX_RELID / 64)

/* A guest message waiting for the loop. */
struct queued_message {
	struct queued_message *next;
	unsigned vp;
	uint32_t connection_id;
	uint32_t type;
	uint32_t size;
	uint8_t payload[HV_MESSAGE_PAYLOAD_BYTE_COUNT];
};

struct vmbus_host {
	struct hv_partition *partition;
	struct event_loop *loop;
	struct vmbus_server *server;
	pthread_mutex_t queue_lock;      /* guards the message FIFO */
	struct queued_message *head, **tail;
	unsigned queued;
	_Atomic uint64_t pending[PENDING_WORDS]; /* signalled relids */
	atomic_bool drain_posted;
	struct channel_listener listeners[MAX_RELID];
};

/* Queued messages bound the memory a guest can make us hold before the loop catches up. */
#define MAX_QUEUED_MESSAGES 4096

static void drain(void *arg);

static void schedule_drain(struct vmbus_host *h)
{
	if (!atomic_exchange(&h->drain_posted, true) && event_loop_post(h->loop, drain, h) < 0) {
		atomic_store(&h->drain_posted, false);
		log_warn("vmbus", "cannot post to the event loop");
	}
}

static struct queued_message *dequeue(struct vmbus_host *h)
{
	struct queued_message *m;

	pthread_mutex_lock(&h->queue_lock);
	m = h->head;
	if (m) {
		h->head = m->next;
		if (!h->head)
			h->tail = &h->head;
		h->queued--;
	}
	pthread_mutex_unlock(&h->queue_lock);
	return m;
}

static void run_signals(struct vmbus_host *h)
{
	for (unsigned w = 0; w < PENDING_WORDS; w++) {
		uint64_t bits = atomic_exchange(&h->pending[w], 0);

		while (bits) {
			struct channel_listener *l = &h->listeners[w * 64 + __builtin_ctzll(bits)];

			bits &= bits - 1;
			if (l->fn && l->ch && vmbus_channel_is_open(l->ch))
				l->fn(l->opaque, l->ch);
		}
	}
}

/* Loop thread: messages first, in the order posted, then the channels' signals. */
static void drain(void *arg)
{
	struct vmbus_host *h = arg;
	struct queued_message *m;

	atomic_store(&h->drain_posted, false);
	while ((m = dequeue(h))) {
		vmbus_server_post_message(h->server, m->vp, m->connection_id, m->type, m->payload,
					  m->size);
		free(m);
	}
	run_signals(h);
}

static uint16_t post(struct vmbus_host *h, unsigned vp, uint32_t conn, uint32_t type,
		     const void *payload, uint32_t size)
{
	struct queued_message *m;

	if (size > HV_MESSAGE_PAYLOAD_BYTE_COUNT)
		return HV_STATUS_INVALID_PARAMETER;
	m = malloc(sizeof(*m));
	if (!m)
		return HV_STATUS_INSUFFICIENT_BUFFERS;
	m->next = NULL;
	m->vp = vp;
	m->connection_id = conn;
	m->type = type;
	m->size = size;
	memcpy(m->payload, payload, size);
	pthread_mutex_lock(&h->queue_lock);
	if (h->queued >= MAX_QUEUED_MESSAGES) {
		pthread_mutex_unlock(&h->queue_lock);
		free(m);
		return HV_STATUS_INSUFFICIENT_BUFFERS;
	}
	*h->tail = m;
	h->tail = &m->next;
	h->queued++;
	pthread_mutex_unlock(&h->queue_lock);
	schedule_drain(h);
	return HV_STATUS_SUCCESS;
}

static uint16_t post_on_1(void *opaque, unsigned vp, uint32_t type, const void *payload,
			  uint32_t size)
{
	return post(opaque, vp, VMBUS_MESSAGE_CONNECTION_ID, type, payload, size);
}

static uint16_t post_on_4(void *opaque, unsigned vp, uint32_t type, const void *payload,
			  uint32_t size)
{
	return post(opaque, vp, VMBUS_MESSAGE_CONNECTION_ID_4, type, payload, size);
}

/* vCPU thread: note the signal; the loop runs the device. */
static uint16_t channel_signalled(void *opaque, unsigned vp, uint16_t flag)
{
	struct channel_listener *l = opaque;
	struct vmbus_host *h = l->host;
	unsigned relid = (unsigned)(l - h->listeners);

	(void)vp, (void)flag;
	atomic_fetch_or(&h->pending[relid / 64], 1ull << (relid % 64));
	schedule_drain(h);
	return HV_STATUS_SUCCESS;
}

/* ---- Doorbells (loop thread) ---- */

static void doorbell_rang(struct event_op *op, int res);

static void doorbell_read(struct vmbus_host *h, struct channel_listener *l)
{
	struct io_uring_sqe *sqe;

	if (l->bell.reading || l->bell.closing || l->bell.fd < 0)
		return;
	sqe = event_loop_get_sqe(h->loop, &l->bell.read_op);
	if (!sqe) {
		/* the channel still works: its signals then come through the VMM's port handler */
		log_warn("vmbus", "channel %u: no room to wait on its doorbell",
			 (unsigned)(l - h->listeners));
		return;
	}
	io_uring_prep_read(sqe, l->bell.fd, &l->bell.count, sizeof(l->bell.count), 0);
	l->bell.reading = true;
}

static void doorbell_rang(struct event_op *op, int res)
{
	struct channel_listener *l =
		(struct channel_listener *)((char *)op - offsetof(struct channel_listener, bell.read_op));
	struct vmbus_host *h = l->host;

	l->bell.reading = false;
	if (l->bell.closing)
		return;
	if (res == (int)sizeof(uint64_t) && l->fn && l->ch && vmbus_channel_is_open(l->ch))
		l->fn(l->opaque, l->ch);
	if (res < 0 && res != -EINTR && res != -EAGAIN) {
		log_warn("vmbus", "channel %u: doorbell read failed: %s",
			 (unsigned)(l - h->listeners), strerror(-res));
		return;
	}
	doorbell_read(h, l);
}

/* Teardown: every read in flight completes (we ring the bell ourselves) before h goes. */
static bool doorbells_quiet(void *arg)
{
	struct vmbus_host *h = arg;

	for (unsigned i = 0; i < MAX_RELID; i++)
		if (h->listeners[i].bell.reading)
			return false;
	return true;
}

static void doorbells_close(struct vmbus_host *h)
{
	for (unsigned i = 0; i < MAX_RELID; i++) {
		struct doorbell *b = &h->listeners[i].bell;

		b->closing = true;
		if (b->reading && eventfd_write(b->fd, 1) < 0)
			log_warn("vmbus", "cannot wake a doorbell read: %s", strerror(errno));
	}
	event_loop_submit(h->loop);
	if (event_loop_run_until(h->loop, doorbells_quiet, h) < 0)
		log_warn("vmbus", "event loop failed while closing doorbells");
	for (unsigned i = 0; i < MAX_RELID; i++) {
		struct doorbell *b = &h->listeners[i].bell;

		if (b->fd >= 0)
			close(b->fd);
		b->fd = -1;
	}
}

static int send_to_guest(void *ctx, unsigned vp, unsigned sint, const void *msg, uint32_t size)
{
	struct vmbus_host *h = ctx;

	return hv_synic_post_message(h->partition, vp, sint, VMBUS_MESSAGE_TYPE, msg, size);
}

static struct channel_listener *listener(struct vmbus_host *h, struct vmbus_channel *ch)
{
	uint32_t relid = vmbus_channel_relid(ch);

	return relid < MAX_RELID ? &h->listeners[relid] : NULL;
}

static void channel_opened(void *ctx, struct vmbus_channel *ch)
{
	struct vmbus_host *h = ctx;
	struct channel_listener *l = listener(h, ch);
	struct hv_connection_ops ops = {.signal_event = channel_signalled, .opaque = l};

	if (!l)
		return;
	l->ch = ch;
	if (l->bell.fd < 0)
		l->bell.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->bell.fd >= 0) {
		ops.has_doorbell = true;
		ops.doorbell_fd = l->bell.fd;
		doorbell_read(h, l);
	}
	if (hv_connection_register(h->partition, vmbus_channel_connection_id(ch), &ops) == 0)
		l->registered = true;
	else
		log_warn("vmbus", "cannot listen on connection 0x%x",
			 vmbus_channel_connection_id(ch));
}

static void channel_closed(void *ctx, struct vmbus_channel *ch)
{
	struct vmbus_host *h = ctx;
	struct channel_listener *l = listener(h, ch);

	if (!l)
		return;
	if (l->registered)
		hv_connection_unregister(h->partition, vmbus_channel_connection_id(ch));
	/* The listener itself stays valid (a signal may be on its way on another vCPU); it is
	 * only told the channel is gone. */
	l->registered = false;
	l->ch = NULL;
	l->fn = NULL;
}

int vmbus_host_create(struct vmbus_host **out, struct hv_partition *p, struct event_loop *loop,
		      const struct guest_mem *mem, unsigned nvps, struct error *err)
{
	struct vmbus_host *h = calloc(1, sizeof(*h));
	int ret;

	if (!h)
		return error_set(err, ENOMEM, "out of memory");
	const struct vmbus_server_ops server_ops = {
		.send = send_to_guest,
		.channel_opened = channel_opened,
		.channel_closed = channel_closed,
		.ctx = h,
	};
	const struct hv_connection_ops c1 = {.post_message = post_on_1, .opaque = h};
	const struct hv_connection_ops c4 = {.post_message = post_on_4, .opaque = h};

	h->partition = p;
	h->loop = loop;
	h->tail = &h->head;
	for (unsigned i = 0; i < MAX_RELID; i++) {
		h->listeners[i].host = h;
		h->listeners[i].bell.read_op.complete = doorbell_rang;
		h->listeners[i].bell.fd = -1;
	}
	pthread_mutex_init(&h->queue_lock, NULL);
	ret = vmbus_server_create(&h->server, mem, &server_ops, nvps);
	if (ret < 0) {
		error_set(err, -ret, "cannot create the VMBus server: %s", strerror(-ret));
		goto fail;
	}
	ret = hv_connection_register(p, VMBUS_MESSAGE_CONNECTION_ID, &c1);
	if (ret == 0) {
		ret = hv_connection_register(p, VMBUS_MESSAGE_CONNECTION_ID_4, &c4);
		if (ret < 0)
			hv_connection_unregister(p, VMBUS_MESSAGE_CONNECTION_ID);
	}
	if (ret < 0) {
		error_set(err, -ret, "cannot register the VMBus message connections");
		vmbus_server_destroy(h->server);
		goto fail;
	}
	*out = h;
	return 0;
fail:
	pthread_mutex_destroy(&h->queue_lock);
	free(h);
	return ret;
}

static bool drained(void *arg)
{
	return !atomic_load(&((struct vmbus_host *)arg)->drain_posted);
}

void vmbus_host_destroy(struct vmbus_host *h)
{
	struct queued_message *m;

	if (!h)
		return;
	hv_connection_unregister(h->partition, VMBUS_MESSAGE_CONNECTION_ID);
	hv_connection_unregister(h->partition, VMBUS_MESSAGE_CONNECTION_ID_4);
	/* A drain job still queued on the loop refers to h: let it run (the loop is reused when
	 * the guest restarts). */
	if (event_loop_run_until(h->loop, drained, h) < 0)
		log_warn("vmbus", "event loop failed while draining");
	vmbus_server_destroy(h->server);
	doorbells_close(h);
	while ((m = dequeue(h)))
		free(m);
	pthread_mutex_destroy(&h->queue_lock);
	free(h);
}

struct event_loop *vmbus_host_loop(struct vmbus_host *h)
{
	return h->loop;
}

struct vmbus_server *vmbus_host_server(struct vmbus_host *h)
{
	return h->server;
}

void vmbus_host_set_notify(struct vmbus_host *h, struct vmbus_channel *ch,
			   vmbus_channel_notify_fn *fn, void *opaque)
{
	struct channel_listener *l = listener(h, ch);

	if (l) {
		l->fn = fn;
		l->opaque = opaque;
	}
}

void vmbus_host_signal_guest(struct vmbus_host *h, struct vmbus_channel *ch)
{
	unsigned vp, sint, flag;

	if (vmbus_channel_signal_target(ch, &vp, &sint, &flag) &&
	    hv_synic_signal_event(h->partition, vp, sint, flag) < 0)
		log_guest_fault("vmbus", "cannot signal channel %u", vmbus_channel_relid(ch));
}
