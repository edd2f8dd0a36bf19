/* The VMM side of VMBus (see host.h): HvPostMessage on connections 1 and 4 feeds the server,
 * HvSignalEvent on a channel's connection id reaches its device, SynIC event flag = child relid
 * on SINT 2 signals the guest (Linux drivers/hv: connection.c, channel_mgmt.c). */
#include "vmbus/host.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv-enlight/tlfs.h"
#include "log.h"
#include "vmbus/protocol.h"

/* Per channel: who hears the guest's signals. Indexed by relid. */
struct channel_listener {
	struct vmbus_host *host;
	struct vmbus_channel *ch;
	vmbus_channel_notify_fn *fn;
	void *opaque;
	bool registered;
};

#define MAX_RELID 1024

struct vmbus_host {
	struct hv_partition *partition;
	struct vmbus_server *server;
	pthread_mutex_t lock;
	struct channel_listener listeners[MAX_RELID];
};

static uint16_t post(struct vmbus_host *h, unsigned vp, uint32_t conn, uint32_t type,
		     const void *payload, uint32_t size)
{
	uint16_t status;

	pthread_mutex_lock(&h->lock);
	status = vmbus_server_post_message(h->server, vp, conn, type, payload, size);
	pthread_mutex_unlock(&h->lock);
	return status;
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

static uint16_t channel_signalled(void *opaque, unsigned vp, uint16_t flag)
{
	struct channel_listener *l = opaque;

	(void)vp, (void)flag;
	pthread_mutex_lock(&l->host->lock);
	if (l->fn && l->ch && vmbus_channel_is_open(l->ch))
		l->fn(l->opaque, l->ch);
	pthread_mutex_unlock(&l->host->lock);
	return HV_STATUS_SUCCESS;
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
	const struct hv_connection_ops ops = {.signal_event = channel_signalled, .opaque = l};

	if (!l)
		return;
	l->host = h;
	l->ch = ch;
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

int vmbus_host_create(struct vmbus_host **out, struct hv_partition *p, const struct guest_mem *mem,
		      unsigned nvps, struct error *err)
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
	pthread_mutex_init(&h->lock, NULL);
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
	pthread_mutex_destroy(&h->lock);
	free(h);
	return ret;
}

void vmbus_host_destroy(struct vmbus_host *h)
{
	if (!h)
		return;
	hv_connection_unregister(h->partition, VMBUS_MESSAGE_CONNECTION_ID);
	hv_connection_unregister(h->partition, VMBUS_MESSAGE_CONNECTION_ID_4);
	pthread_mutex_lock(&h->lock);
	vmbus_server_destroy(h->server);
	pthread_mutex_unlock(&h->lock);
	pthread_mutex_destroy(&h->lock);
	free(h);
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
