/* storvsp channels: rings mapped at open, the inbound ring drained on guest signals (interrupts
 * masked meanwhile, as vmbus/ring.h prescribes), replies queued while the outbound ring is full
 * with pending_send_sz asking the guest to signal when it made room, and a bound on requests in
 * flight per channel beyond which the inbound ring is left unread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "synthetic/storvsp_internal.h"

static bool at_limit(const struct storvsp_chan *c)
{
	return c->inflight + c->queued >= STORVSP_MAX_INFLIGHT;
}

void storvsp_chan_kick(struct storvsp_chan *c)
{
	/* While draining, the drain's caller signals once at the end. */
	if (c->need_signal && c->ch && !c->draining) {
		c->need_signal = false;
		c->s->bus.signal_guest(c->s->bus.ctx, c->ch);
	}
}

static void drop_queue(struct storvsp_chan *c)
{
	while (c->q_head) {
		struct storvsp_reply *r = c->q_head;

		c->q_head = r->next;
		free(r);
	}
	c->q_tail = &c->q_head;
	c->queued = 0;
	c->enumerate_queued = false;
}

/* Writes queued replies in order until the ring is full; then asks for a signal once the first
 * one fits. */
static void flush(struct storvsp_chan *c)
{
	while (c->q_head) {
		struct storvsp_reply *r = c->q_head;
		struct iovec iov = { &r->pkt, r->len };
		bool sig = false;
		int ret;

		if (r->type == VM_PKT_COMP)
			ret = vmbus_ring_write_completion(&c->out, r->trans_id, &iov, 1, &sig);
		else
			ret = vmbus_ring_write(&c->out, r->type, 0, r->trans_id, &iov, 1, &sig);
		if (ret == -EAGAIN) {
			ret = vmbus_ring_set_pending_send(&c->out, vmbus_packet_ring_bytes(0, r->len));
			if (ret == 0)
				continue; /* the guest made room meanwhile */
			if (ret == -EAGAIN)
				return;   /* its signal brings us back */
		}
		if (ret < 0) {
			/* Only a guest that broke its own ring gets here: nothing can reach it. */
			log_guest_fault(c->s->name, "channel %u: outbound ring unusable (%s), %u replies lost",
					c->index, strerror(-ret), c->queued);
			drop_queue(c);
			return;
		}
		c->need_signal |= sig;
		if (r->type == VM_PKT_DATA_INBAND)
			c->enumerate_queued = false;
		c->q_head = r->next;
		if (!c->q_head)
			c->q_tail = &c->q_head;
		c->queued--;
		free(r);
	}
}

void storvsp_chan_send(struct storvsp_chan *c, uint16_t type, uint64_t trans_id,
		       const struct vstor_packet *pkt, uint32_t len)
{
	struct storvsp_reply *r;
	bool first;

	if (!c->ch)
		return; /* closed: the guest no longer waits for it */
	if (type == VM_PKT_DATA_INBAND && c->enumerate_queued)
		return; /* one rescan request waiting is as good as two */
	r = malloc(sizeof(*r));
	if (!r) {
		log_error(c->s->name, "out of memory: a reply to the guest is lost");
		return;
	}
	r->next = NULL;
	r->trans_id = trans_id;
	r->type = type;
	r->len = len;
	memcpy(&r->pkt, pkt, len);
	first = !c->q_head;
	*c->q_tail = r;
	c->q_tail = &r->next;
	c->queued++;
	if (type == VM_PKT_DATA_INBAND)
		c->enumerate_queued = true;
	/* Behind others it waits its turn; alone it goes out now (or arms pending_send_sz). */
	if (first)
		flush(c);
}

static void drain(struct storvsp_chan *c);

static void resume(struct storvsp_chan *c)
{
	if (c->throttled && !at_limit(c)) {
		c->throttled = false;
		drain(c);
	}
}

static void drain_ring(struct storvsp_chan *c);

static void drain(struct storvsp_chan *c)
{
	if (!c->ch || c->broken || c->draining)
		return;
	c->draining = true;
	drain_ring(c);
	c->draining = false;
}

static void drain_ring(struct storvsp_chan *c)
{
	vmbus_ring_mask_interrupts(&c->in);
	for (;;) {
		while (!at_limit(c)) {
			struct vmbus_packet pkt;
			int ret = vmbus_ring_peek(&c->in, &pkt, c->buf, sizeof(c->buf));

			if (ret == -EAGAIN)
				break;
			if (ret == -ENOBUFS) {
				log_guest_fault(c->s->name, "channel %u: packet of %u bytes refused",
						c->index, pkt.len);
				storvsp_protocol_error(c->s);
				if (pkt.type != VM_PKT_COMP &&
				    (pkt.flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED))
					storvsp_reply_status(c, pkt.trans_id, VMSCSI_REQUEST_SIZE_WIN8,
							     NT_STATUS_INVALID_PARAMETER);
				vmbus_ring_consume(&c->in);
				continue;
			}
			if (ret < 0) {
				/* Packet boundaries are lost: the channel stops reading (the guest
				 * sees its requests time out and resets the channel). */
				log_guest_fault(c->s->name, "channel %u: malformed inbound ring (%s)",
						c->index, strerror(-ret));
				storvsp_protocol_error(c->s);
				c->broken = true;
				break;
			}
			storvsp_handle_packet(c, &pkt);
			vmbus_ring_consume(&c->in);
		}
		if (vmbus_ring_commit_read(&c->in))
			c->need_signal = true;
		if (c->broken)
			return;
		if (at_limit(c)) {
			/* Interrupts stay masked; a finishing request resumes the drain. */
			c->throttled = true;
			return;
		}
		if (!vmbus_ring_unmask_interrupts(&c->in))
			return;
		vmbus_ring_mask_interrupts(&c->in);
	}
}

/* The guest signalled: it wrote requests, or read replies after we set pending_send_sz. */
static void notify(void *opaque, struct vmbus_channel *ch)
{
	struct storvsp_chan *c = opaque;

	(void)ch;
	flush(c);
	c->throttled = false;
	drain(c);
	storvsp_chan_kick(c);
}

bool storvsp_chan_request_done(struct storvsp_chan *c)
{
	struct storvsp *s = c->s;

	c->inflight--;
	if (!c->ch) {
		if (c->inflight == 0) {
			struct storvsp_chan **p = &s->zombies;

			while (*p && *p != c)
				p = &(*p)->next_zombie;
			if (*p)
				*p = c->next_zombie;
			free(c);
		}
		return false;
	}
	resume(c);
	return true;
}

int storvsp_chan_open(struct storvsp *s, struct vmbus_channel *ch,
		      const struct vmbus_open_request *req)
{
	struct storvsp_chan *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	ret = vmbus_ring_init_channel(&c->in, &c->out, s->mem, vmbus_gpadl_pfns(req->ring),
				      req->ring_pages, req->downstream_ring_offset);
	if (ret < 0) {
		log_guest_fault(s->name, "cannot map the rings of channel %u: %s",
				vmbus_channel_subchannel_index(ch), strerror(-ret));
		free(c);
		return ret;
	}
	c->s = s;
	c->ch = ch;
	c->index = vmbus_channel_subchannel_index(ch);
	c->q_tail = &c->q_head;
	vmbus_channel_set_data(ch, c);
	if (c->index == 0) {
		s->primary = c;
		s->state = STORVSP_STATE_BEGIN;
		s->version = 0;
	}
	s->bus.set_notify(s->bus.ctx, ch, notify, c);
	return 0;
}

void storvsp_chan_close(struct storvsp *s, struct vmbus_channel *ch)
{
	struct storvsp_chan *c = vmbus_channel_data(ch);

	if (!c)
		return;
	vmbus_channel_set_data(ch, NULL);
	s->bus.set_notify(s->bus.ctx, ch, NULL, NULL);
	if (c == s->primary) {
		s->primary = NULL;
		s->state = STORVSP_STATE_BEGIN; /* a reopened channel starts over */
		s->version = 0;
	}
	drop_queue(c);
	vmbus_ring_destroy(&c->in);
	vmbus_ring_destroy(&c->out);
	c->ch = NULL;
	if (c->inflight == 0) {
		free(c);
		return;
	}
	/* Requests still running complete into the void, then free c. */
	c->next_zombie = s->zombies;
	s->zombies = c;
}
