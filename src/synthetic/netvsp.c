/* netvsp device (see netvsp.h): VMBus glue, channels and subchannels, the drain of each
 * channel's inbound ring, and the outbound queue that holds packets while the guest's ring is
 * full (woken by the guest's pending-send-size signal). NVSP control is in netvsp_nvsp.c, the
 * data path in netvsp_data.c. */
#include "synthetic/netvsp_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Tap queues: one per channel up to this many (more queues cost buffers, not throughput, on
 * the two-core hosts this runs on). */
#define NETVSP_TAP_QUEUES 8u

struct netvsp_chan *netvsp_primary(const struct netvsp *n)
{
	return n->chans[0];
}

unsigned netvsp_open_channels(const struct netvsp *n)
{
	unsigned count = 0;

	for (unsigned i = 0; i < VRSS_CHANNEL_MAX; i++)
		if (n->chans[i] && n->chans[i]->open)
			count++;
	return count;
}

void netvsp_signal(struct netvsp_chan *c)
{
	if (c->open)
		vmbus_host_signal_guest(c->n->host, c->ch);
}

/* ---- Outbound packets ---- */

bool netvsp_room(const struct netvsp_chan *c, unsigned entries)
{
	return c->count + c->reserved + entries <= NETVSP_BACKLOG;
}

static uint32_t out_ring_bytes(const struct netvsp_out *o)
{
	if (o->kind == NETVSP_OUT_XFER)
		return vmbus_packet_ring_bytes(8 + sizeof(struct vmtransfer_page_range),
					       NVSP_MESSAGE_SIZE);
	return vmbus_packet_ring_bytes(0, o->len);
}

/* 0, -EAGAIN (no room), or another -errno (the packet can never go: dropped). */
static int write_out(struct netvsp_chan *c, const struct netvsp_out *o, bool *signal)
{
	bool sig = false;
	int ret;

	switch (o->kind) {
	case NETVSP_OUT_COMPLETION: {
		struct iovec iov = {(void *)o->payload, o->len};

		ret = vmbus_ring_write_completion(&c->out, o->trans_id, &iov, 1, &sig);
		break;
	}
	case NETVSP_OUT_INBAND: {
		struct iovec iov = {(void *)o->payload, o->len};

		ret = vmbus_ring_write(&c->out, VM_PKT_DATA_INBAND, 0, o->trans_id, &iov, 1, &sig);
		break;
	}
	default: {
		struct netvsp *n = c->n;
		struct nvsp_message m;
		struct vmtransfer_page_range range = {o->byte_count, o->slot * n->rxbuf.sub_alloc};
		struct vmbus_xfer_pages xp = {NETVSC_RECEIVE_BUFFER_ID, 0, 1, &range};
		struct iovec iov = {&m, sizeof(m)};

		/* The receive buffer was revoked or replaced since: the slot means nothing now. */
		if (!n->recv_ready || o->epoch != n->rxbuf.epoch)
			return -ESTALE;
		memset(&m, 0, sizeof(m));
		m.hdr.msg_type = NVSP_MSG1_TYPE_SEND_RNDIS_PKT;
		m.msg.send_rndis_pkt.channel_type = o->channel_type;
		m.msg.send_rndis_pkt.send_buf_section_index = NETVSC_INVALID_INDEX;
		ret = vmbus_ring_write_xfer_pages(&c->out, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
						  o->trans_id, &xp, &iov, 1, &sig);
		break;
	}
	}
	*signal |= sig;
	return ret;
}

static void drop_out(struct netvsp_chan *c, const struct netvsp_out *o, int err)
{
	struct netvsp *n = c->n;

	log_guest_fault(TAG, "channel %u: outbound packet dropped: %s", c->index, strerror(-err));
	if (o->kind == NETVSP_OUT_XFER && n->recv_ready && o->epoch == n->rxbuf.epoch) {
		netvsp_rxbuf_release(&n->rxbuf, o->slot);
		n->rx_wake = true;
	}
}

/* Writes queued packets in order until the ring is full; then asks the guest to signal when
 * the next one fits. */
static void flush(struct netvsp_chan *c, bool *signal)
{
	while (c->count) {
		struct netvsp_out *o = &c->backlog[c->head];
		int ret = write_out(c, o, signal);

		if (ret == -EAGAIN) {
			ret = vmbus_ring_set_pending_send(&c->out, out_ring_bytes(o));
			if (ret == 0)
				continue; /* space appeared meanwhile */
			if (ret == -EAGAIN)
				return;
		}
		if (ret < 0)
			drop_out(c, o, ret);
		c->head = (c->head + 1) % NETVSP_BACKLOG;
		c->count--;
		c->n->rx_wake = true;
	}
}

static void push(struct netvsp_chan *c, const struct netvsp_out *o)
{
	if (c->count >= NETVSP_BACKLOG) {
		/* Callers check room first; reaching this is a bug, not a guest fault. */
		log_error(TAG, "channel %u: outbound queue overflow", c->index);
		drop_out(c, o, -ENOBUFS);
		return;
	}
	c->backlog[(c->head + c->count) % NETVSP_BACKLOG] = *o;
	c->count++;
}

void netvsp_emit(struct netvsp_chan *c, const struct netvsp_out *o, bool *signal)
{
	int ret;

	if (!c->open) {
		drop_out(c, o, -ENOTCONN);
		return;
	}
	if (c->count) {
		push(c, o);
		return;
	}
	ret = write_out(c, o, signal);
	if (ret == -EAGAIN) {
		push(c, o);
		ret = vmbus_ring_set_pending_send(&c->out, out_ring_bytes(o));
		if (ret == 0)
			flush(c, signal);
		else if (ret != -EAGAIN)
			log_guest_fault(TAG, "channel %u: pending send size refused: %s", c->index,
					strerror(-ret));
	} else if (ret < 0) {
		drop_out(c, o, ret);
	}
}

void netvsp_complete(struct netvsp_chan *c, uint64_t trans_id, const struct nvsp_message *msg,
		     bool *signal)
{
	struct netvsp_out o;

	memset(&o, 0, sizeof(o));
	o.kind = NETVSP_OUT_COMPLETION;
	o.trans_id = trans_id;
	o.len = NVSP_MESSAGE_SIZE;
	memcpy(o.payload, msg, NVSP_MESSAGE_SIZE);
	netvsp_emit(c, &o, signal);
}

void netvsp_complete_rndis(struct netvsp_chan *c, uint64_t trans_id, uint32_t status,
			   bool *signal)
{
	struct nvsp_message m;

	memset(&m, 0, sizeof(m));
	m.hdr.msg_type = NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE;
	m.msg.send_rndis_pkt_complete.status = status;
	netvsp_complete(c, trans_id, &m, signal);
}

/* ---- Inbound packets ---- */

/* 0: taken; -EAGAIN: leave it for later. */
static int handle_packet(struct netvsp_chan *c, const struct vmbus_packet *pkt, bool *signal)
{
	struct nvsp_message m;

	if (pkt->type == VM_PKT_COMP) {
		netvsp_handle_guest_completion(c, pkt);
		return 0;
	}
	if (pkt->type != VM_PKT_DATA_INBAND && pkt->type != VM_PKT_DATA_USING_GPA_DIRECT) {
		c->n->stats.nvsp_errors++;
		log_guest_fault(TAG, "channel %u: unexpected packet type %u", c->index, pkt->type);
		return 0;
	}
	if (pkt->data_len < sizeof(struct nvsp_message_header)) {
		c->n->stats.nvsp_errors++;
		log_guest_fault(TAG, "channel %u: packet too short for an NVSP message", c->index);
		return 0;
	}
	memset(&m, 0, sizeof(m));
	memcpy(&m, pkt->data, pkt->data_len < sizeof(m) ? pkt->data_len : sizeof(m));
	if (m.hdr.msg_type == NVSP_MSG1_TYPE_SEND_RNDIS_PKT)
		return netvsp_handle_rndis(c, pkt, &m, signal);
	if (pkt->type != VM_PKT_DATA_INBAND || c->index != 0) {
		c->n->stats.nvsp_errors++;
		log_guest_fault(TAG, "channel %u: NVSP message %u not on the primary channel in band",
				c->index, m.hdr.msg_type);
		return 0;
	}
	return netvsp_handle_control(c, pkt, &m, signal);
}

/* Drains the inbound ring (the race-free pattern of ring.h), stopping at a packet that must
 * wait; the interrupt mask then stays set, and whatever frees the resource services the
 * channel again. */
static void service(struct netvsp_chan *c)
{
	bool signal = false;

	if (!c->open || c->broken)
		return;
	flush(c, &signal);
	c->stalled = false;
	vmbus_ring_mask_interrupts(&c->in);
	do {
		for (;;) {
			struct vmbus_packet pkt;
			int ret = vmbus_ring_peek(&c->in, &pkt, c->pkt, sizeof(c->pkt));

			if (ret == -EAGAIN)
				break;
			if (ret == -ENOBUFS) {
				c->n->stats.oversized_packets++;
				log_guest_fault(TAG, "channel %u: %u-byte packet dropped", c->index,
						pkt.len);
				vmbus_ring_consume(&c->in);
				continue;
			}
			if (ret < 0) {
				c->n->stats.ring_errors++;
				log_guest_fault(TAG, "channel %u: malformed ring; the channel stops",
						c->index);
				c->broken = true;
				break;
			}
			if (handle_packet(c, &pkt, &signal) == -EAGAIN) {
				c->stalled = true;
				break;
			}
			vmbus_ring_consume(&c->in);
			if (!c->open)
				break;
		}
		if (!c->open)
			return;
		signal |= vmbus_ring_commit_read(&c->in);
	} while (!c->stalled && !c->broken && vmbus_ring_unmask_interrupts(&c->in) &&
		 (vmbus_ring_mask_interrupts(&c->in), true));
	if (signal)
		netvsp_signal(c);
}

void netvsp_run(struct netvsp *n)
{
	bool again = true;

	if (n->running || n->destroying)
		return;
	n->running = true;
	while (again) {
		again = false;
		for (unsigned i = 0; i < VRSS_CHANNEL_MAX; i++) {
			struct netvsp_chan *c = n->chans[i];

			if (c && c->need_service) {
				c->need_service = false;
				service(c);
				again = true;
			}
		}
		if (n->rx_wake) {
			n->rx_wake = false;
			if (n->link_pending)
				netvsp_try_link_indication(n);
			if (!n->table_sent && n->subchannels) {
				bool signal = false;

				netvsp_send_table_if_ready(n, &signal);
				if (signal)
					netvsp_signal(n->chans[0]);
			}
			for (unsigned i = 0; i < VRSS_CHANNEL_MAX; i++) {
				struct netvsp_chan *c = n->chans[i];

				if (c && c->open && c->stalled) {
					c->need_service = true;
					again = true;
				}
			}
			if (n->rx_blocked && n->be.rx_resume) {
				n->rx_blocked = false;
				n->be.rx_resume(n->be.ctx);
			}
		}
	}
	n->running = false;
}

static void notify(void *opaque, struct vmbus_channel *ch)
{
	struct netvsp_chan *c = opaque;

	(void)ch;
	c->need_service = true;
	/* The guest read our ring: queued packets may fit now. */
	if (c->count)
		c->n->rx_wake = true;
	netvsp_run(c->n);
}

void netvsp_kick(struct netvsp *n, unsigned index)
{
	if (index < VRSS_CHANNEL_MAX && n->chans[index] && n->chans[index]->open)
		notify(n->chans[index], n->chans[index]->ch);
}

/* ---- VMBus device ---- */

static int dev_open(void *opaque, struct vmbus_channel *ch, const struct vmbus_open_request *req)
{
	struct netvsp *n = opaque;
	unsigned index = vmbus_channel_subchannel_index(ch);
	struct netvsp_chan *c;
	int ret;

	if (index >= VRSS_CHANNEL_MAX)
		return -EINVAL;
	c = n->chans[index];
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return -ENOMEM;
		c->backlog = calloc(NETVSP_BACKLOG, sizeof(*c->backlog));
		if (!c->backlog) {
			free(c);
			return -ENOMEM;
		}
		c->n = n;
		c->index = index;
		n->chans[index] = c;
	}
	if (c->open)
		return -EBUSY;
	ret = vmbus_ring_init_channel(&c->in, &c->out, n->mem, vmbus_gpadl_pfns(req->ring),
				      req->ring_pages, req->downstream_ring_offset);
	if (ret < 0)
		return ret;
	c->ch = ch;
	c->gen++;
	c->open = true;
	c->broken = c->stalled = c->need_service = false;
	c->tx_inflight = c->reserved = 0;
	c->head = c->count = 0;
	vmbus_host_set_notify(n->host, ch, notify, c);
	if (index > 0) {
		bool signal = false;

		netvsp_send_table_if_ready(n, &signal);
		if (signal)
			netvsp_signal(n->chans[0]);
	}
	return 0;
}

static void dev_close(void *opaque, struct vmbus_channel *ch)
{
	struct netvsp *n = opaque;
	unsigned index = vmbus_channel_subchannel_index(ch);
	struct netvsp_chan *c = index < VRSS_CHANNEL_MAX ? n->chans[index] : NULL;

	if (!c || !c->open)
		return;
	/* Slots of queued receive packets go back (the buffer itself stays for subchannels). */
	while (c->count) {
		drop_out(c, &c->backlog[c->head], -ENOTCONN);
		c->head = (c->head + 1) % NETVSP_BACKLOG;
		c->count--;
	}
	c->open = false;
	c->gen++; /* requests still at the backend complete into nothing */
	c->tx_inflight = c->reserved = 0;
	vmbus_ring_destroy(&c->in);
	vmbus_ring_destroy(&c->out);
	if (index == 0) {
		netvsp_nvsp_reset(n);
		n->rx_wake = true; /* frames the backend holds are dropped now, not kept */
		netvsp_run(n);
	}
}

static const struct vmbus_device_ops netvsp_ops = {.open = dev_open, .close = dev_close};

/* ---- Creation ---- */

int netvsp_create_with_backend(struct netvsp **out, struct vmbus_host *host,
			       const struct guest_mem *mem, unsigned nvps,
			       const struct netvsp_config *cfg, const struct netvsp_backend *be,
			       struct error *err)
{
	struct netvsp *n;
	unsigned channels = nvps < VRSS_CHANNEL_MAX ? nvps : VRSS_CHANNEL_MAX;
	unsigned mtu = cfg->mtu ? cfg->mtu : 1500;
	struct vmbus_device_desc desc;
	int ret;

	if (mtu < 68 || mtu > 65535 - 18)
		return error_set(err, EINVAL, "netvsp: MTU %u out of range (68 to 65517)", mtu);
	if (cfg->mac[0] & 1)
		return error_set(err, EINVAL, "netvsp: the MAC address is a group address");
	if (!be || !be->send || be->queues == 0)
		return error_set(err, EINVAL, "netvsp: no backend");
	n = calloc(1, sizeof(*n));
	if (!n)
		return error_set(err, ENOMEM, "out of memory");
	n->host = host;
	n->mem = mem;
	n->be = *be;
	n->max_subchannels = channels ? channels - 1 : 0;
	if (n->max_subchannels > VMBUS_MAX_SUBCHANNELS)
		n->max_subchannels = VMBUS_MAX_SUBCHANNELS;
	rndis_device_init(&n->rndis, cfg->mac, mtu, n->max_subchannels + 1, &be->caps);

	memset(&desc, 0, sizeof(desc));
	desc.if_type = NETVSP_CLASS_GUID;
	/* Stable per index: {1b8a4c52-7d0f-4e3b-9a61-0000xxxxxxxx}. */
	desc.if_instance = VMBUS_GUID(0x1b8a4c52, 0x7d0f, 0x4e3b, 0x9a, 0x61, 0x00, 0x00,
				      (uint8_t)(cfg->index >> 24), (uint8_t)(cfg->index >> 16),
				      (uint8_t)(cfg->index >> 8), (uint8_t)cfg->index);
	desc.max_subchannels = (uint16_t)n->max_subchannels;
	desc.name = "netvsp";
	desc.ops = &netvsp_ops;
	desc.opaque = n;
	ret = vmbus_server_add_device(vmbus_host_server(host), &desc, &n->dev);
	if (ret < 0) {
		free(n);
		return error_set(err, -ret, "cannot add the synthetic NIC to VMBus: %s",
				 strerror(-ret));
	}
	*out = n;
	return 0;
}

static int tap_send_adapter(void *ctx, unsigned queue, struct tap_tx *tx)
{
	return tap_send(ctx, queue, tx);
}

static void tap_resume_adapter(void *ctx)
{
	tap_rx_resume(ctx);
}

static bool tap_receive_adapter(void *opaque, unsigned queue, const struct virtio_net_hdr_v1 *vh,
				uint8_t *frame, uint32_t len)
{
	return netvsp_receive(opaque, queue, vh, frame, len);
}

int netvsp_create(struct netvsp **out, struct vmbus_host *host, const struct guest_mem *mem,
		  unsigned nvps, const struct netvsp_config *cfg, struct error *err)
{
	/* What a tap with a virtio header does: L4 checksums both ways (NEEDS_CSUM on write,
	 * DATA_VALID or a partial checksum we complete on read) and TCP segmentation on write.
	 * No IPv4 header checksum: the virtio header has none. */
	struct netvsp_backend be = {
		.send = tap_send_adapter, .rx_resume = tap_resume_adapter,
		.caps = {.tx_tcp4 = true, .tx_udp4 = true, .tx_tcp6 = true, .tx_udp6 = true,
			 .rx_tcp4 = true, .rx_udp4 = true, .rx_tcp6 = true, .rx_udp6 = true,
			 .lso4 = true, .lso6 = true},
	};
	const struct tap_rx_ops rx = {.receive = tap_receive_adapter};
	unsigned queues = nvps < NETVSP_TAP_QUEUES ? nvps : NETVSP_TAP_QUEUES;
	struct tap *tap;
	int ret;

	if (queues == 0)
		queues = 1;
	ret = tap_open(&tap, vmbus_host_loop(host), cfg->tap_name, queues, err);
	if (ret < 0)
		return ret;
	if (cfg->mtu) {
		ret = tap_set_mtu(tap, cfg->mtu, err);
		if (ret < 0)
			goto fail;
	}
	be.ctx = tap;
	be.queues = queues;
	ret = netvsp_create_with_backend(out, host, mem, nvps, cfg, &be, err);
	if (ret < 0)
		goto fail;
	(*out)->tap = tap;
	{
		struct tap_rx_ops r = rx;

		r.opaque = *out;
		tap_start(tap, &r);
	}
	return 0;
fail:
	tap_close(tap);
	return ret;
}

void netvsp_destroy(struct netvsp *n)
{
	if (!n)
		return;
	n->destroying = true;
	if (n->tap)
		tap_close(n->tap); /* write completions run: their requests are freed */
	for (unsigned i = 0; i < VRSS_CHANNEL_MAX; i++) {
		struct netvsp_chan *c = n->chans[i];

		if (c && c->open) {
			log_warn(TAG, "channel %u still open at destroy", i);
			c->open = false;
			vmbus_ring_destroy(&c->in);
			vmbus_ring_destroy(&c->out);
		}
	}
	netvsp_nvsp_reset(n);
	netvsp_free_requests(n);
	for (unsigned i = 0; i < VRSS_CHANNEL_MAX; i++) {
		if (n->chans[i]) {
			free(n->chans[i]->backlog);
			free(n->chans[i]);
		}
	}
	free(n);
}

void netvsp_set_link(struct netvsp *n, bool up)
{
	if (n->rndis.link_up == up)
		return;
	n->rndis.link_up = up;
	n->link_pending = true;
	netvsp_try_link_indication(n);
	netvsp_run(n);
}

void netvsp_get_stats(const struct netvsp *n, struct netvsp_stats *out)
{
	*out = n->stats;
	out->rndis = n->rndis.stats;
}

struct vmbus_device *netvsp_vmbus_device(const struct netvsp *n)
{
	return n->dev;
}
