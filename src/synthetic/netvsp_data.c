/* netvsp data path: NVSP SEND_RNDIS_PKT from the guest (control messages answered through the
 * receive buffer; data frames to the backend, zero-copy from the send buffer section or the
 * GPA-direct pages), frames from the backend into receive-buffer slots, and the guest's
 * completions that give the slots back. Linux netvsc.c (netvsc_send, netvsc_receive) and
 * netvsc_drv.c (netvsc_xmit) are the other side. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "synthetic/netvsp_internal.h"
#include "synthetic/netvsp_packet.h"
#include "synthetic/netvsp_rss.h"

#define PAGE 4096u

/* ---- Guest buffers ---- */

int netvsp_buf_map(struct netvsp *n, struct netvsp_buf *b, struct vmbus_gpadl *g, uint16_t id)
{
	uint32_t np = vmbus_gpadl_page_count(g);
	const uint64_t *pfns = vmbus_gpadl_pfns(g);

	memset(b, 0, sizeof(*b));
	if (np == 0 || np > UINT32_MAX / PAGE)
		goto fail;
	b->pages = malloc(np * sizeof(*b->pages));
	if (!b->pages)
		goto fail;
	for (uint32_t i = 0; i < np; i++) {
		b->pages[i] = guest_mem_ptr(n->mem, pfns[i] * PAGE, PAGE);
		if (!b->pages[i])
			goto fail;
	}
	b->gpadl = g;
	b->npages = np;
	b->size = np * PAGE;
	b->id = id;
	return 0;
fail:
	free(b->pages);
	b->pages = NULL;
	vmbus_gpadl_put(g);
	return -EFAULT;
}

void netvsp_buf_unmap(struct netvsp_buf *b)
{
	if (b->gpadl)
		vmbus_gpadl_put(b->gpadl);
	free(b->pages);
	memset(b, 0, sizeof(*b));
}

/* Callers keep [off, off + len) inside the buffer. */
static void buf_write(struct netvsp_buf *b, uint32_t off, const void *src, uint32_t len)
{
	const uint8_t *s = src;

	while (len) {
		uint32_t po = off % PAGE, chunk = PAGE - po < len ? PAGE - po : len;

		memcpy(b->pages[off / PAGE] + po, s, chunk);
		s += chunk;
		off += chunk;
		len -= chunk;
	}
}

/* ---- The bytes of one guest packet: a send-buffer section, then GPA-direct ranges ---- */

struct stream {
	struct {
		uint8_t *p;
		uint32_t len;
	} seg[NETVSP_STREAM_SEGS_MAX];
	unsigned n;
	uint32_t len;
};

static int stream_add(struct stream *st, uint8_t *p, uint32_t len)
{
	if (len == 0)
		return 0;
	if (st->len + (uint64_t)len > UINT32_MAX)
		return -E2BIG;
	if (st->n && st->seg[st->n - 1].p + st->seg[st->n - 1].len == p) {
		st->seg[st->n - 1].len += len;
	} else {
		if (st->n == NETVSP_STREAM_SEGS_MAX)
			return -E2BIG;
		st->seg[st->n].p = p;
		st->seg[st->n].len = len;
		st->n++;
	}
	st->len += len;
	return 0;
}

static int stream_from_buf(struct stream *st, const struct netvsp_buf *b, uint32_t off,
			   uint32_t len)
{
	if (off > b->size || len > b->size - off)
		return -EINVAL;
	while (len) {
		uint32_t po = off % PAGE, chunk = PAGE - po < len ? PAGE - po : len;
		int ret = stream_add(st, b->pages[off / PAGE] + po, chunk);

		if (ret < 0)
			return ret;
		off += chunk;
		len -= chunk;
	}
	return 0;
}

static int stream_from_gpa(struct stream *st, const struct guest_mem *mem,
			   const struct vmbus_packet *pkt)
{
	struct vmbus_packet_gpa_iter it;
	struct vmbus_packet_range r;

	vmbus_packet_gpa_iter_init(&it, pkt);
	while (vmbus_packet_gpa_iter_next(&it, &r)) {
		uint32_t off = r.byte_offset, left = r.byte_count;

		for (uint32_t k = 0; left && k < r.pfn_count; k++) {
			uint32_t chunk = PAGE - off < left ? PAGE - off : left;
			uint64_t pfn;
			uint8_t *p;
			int ret;

			memcpy(&pfn, &r.pfns[k], sizeof(pfn));
			p = pfn < (UINT64_MAX / PAGE) ? guest_mem_ptr(mem, pfn * PAGE + off, chunk)
						      : NULL;
			if (!p)
				return -EFAULT;
			ret = stream_add(st, p, chunk);
			if (ret < 0)
				return ret;
			left -= chunk;
			off = 0;
		}
		if (left)
			return -EINVAL;
	}
	return 0;
}

/* Callers keep [off, off + len) inside the stream. */
static void stream_copy(const struct stream *st, uint32_t off, uint32_t len, void *dst)
{
	uint8_t *d = dst;

	for (unsigned i = 0; i < st->n && len; i++) {
		uint32_t sl = st->seg[i].len;

		if (off >= sl) {
			off -= sl;
			continue;
		}
		uint32_t chunk = sl - off < len ? sl - off : len;

		memcpy(d, st->seg[i].p + off, chunk);
		d += chunk;
		len -= chunk;
		off = 0;
	}
}

/* iovecs (at most max) over [off, off + len); their count or -E2BIG. */
static int stream_iov(const struct stream *st, uint32_t off, uint32_t len, struct iovec *iov,
		      unsigned max)
{
	unsigned cnt = 0;

	for (unsigned i = 0; i < st->n && len; i++) {
		uint32_t sl = st->seg[i].len;

		if (off >= sl) {
			off -= sl;
			continue;
		}
		if (cnt == max)
			return -E2BIG;
		uint32_t chunk = sl - off < len ? sl - off : len;

		iov[cnt].iov_base = st->seg[i].p + off;
		iov[cnt].iov_len = chunk;
		cnt++;
		len -= chunk;
		off = 0;
	}
	return (int)cnt;
}

/* ---- Host -> guest through the receive buffer ---- */

/* Puts bytes (header then body) in a free slot and sends its transfer-page packet. The caller
 * checked a slot is free and the channel has room. */
static void deliver(struct netvsp *n, struct netvsp_chan *c, const void *hdr, uint32_t hdr_len,
		    const void *body, uint32_t body_len, uint32_t channel_type, bool *signal)
{
	struct netvsp_out o;
	uint32_t slot;

	if (netvsp_rxbuf_alloc(&n->rxbuf, &slot) < 0)
		return;
	buf_write(&n->recv, slot * n->rxbuf.sub_alloc, hdr, hdr_len);
	if (body_len)
		buf_write(&n->recv, slot * n->rxbuf.sub_alloc + hdr_len, body, body_len);
	memset(&o, 0, sizeof(o));
	o.kind = NETVSP_OUT_XFER;
	o.trans_id = netvsp_rxbuf_trans_id(&n->rxbuf, slot);
	o.slot = slot;
	o.byte_count = hdr_len + body_len;
	o.epoch = n->rxbuf.epoch;
	o.channel_type = channel_type;
	netvsp_emit(c, &o, signal);
}

void netvsp_try_link_indication(struct netvsp *n)
{
	struct netvsp_chan *c = netvsp_primary(n);
	uint8_t msg[32];
	bool signal = false;
	uint32_t len;

	if (!n->link_pending)
		return;
	if (!c || !c->open || !n->recv_ready || !n->rndis.initialized) {
		n->link_pending = false; /* the guest will ask for the media status */
		return;
	}
	if (n->rxbuf.nfree == 0 || !netvsp_room(c, 1))
		return; /* retried when a slot comes back */
	len = rndis_build_indicate_status(msg, n->rndis.link_up ? RNDIS_STATUS_MEDIA_CONNECT
								 : RNDIS_STATUS_MEDIA_DISCONNECT);
	deliver(n, c, msg, len, NULL, 0, NVSP_RMC_CONTROL, &signal);
	n->link_pending = false;
	if (signal)
		netvsp_signal(c);
}

void netvsp_handle_guest_completion(struct netvsp_chan *c, const struct vmbus_packet *pkt)
{
	struct netvsp *n = c->n;
	uint32_t type = 0;

	if (pkt->data_len >= 4)
		memcpy(&type, pkt->data, 4);
	if (type != NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE || !n->recv_ready ||
	    netvsp_rxbuf_complete(&n->rxbuf, pkt->trans_id) < 0) {
		n->stats.bad_completions++;
		log_guest_fault(TAG, "channel %u: completion 0x%llx (type %u) for no slot we lent",
				c->index, (unsigned long long)pkt->trans_id, type);
		return;
	}
	n->rx_wake = true;
}

/* Slots frames may not take: kept for control answers and link indications, whose guest
 * completions may sit in the ring behind the control request that needs a slot (openvmm keeps
 * 16 such buffers). */
static uint32_t control_reserve(const struct netvsp *n)
{
	uint32_t r = n->rxbuf.count / 4;

	if (r > 16)
		r = 16;
	return r == 0 && n->rxbuf.count > 1 ? 1 : r;
}

bool netvsp_receive(struct netvsp *n, unsigned queue, const struct virtio_net_hdr_v1 *vh,
		    uint8_t *frame, uint32_t len)
{
	struct netvsp_chan *c = netvsp_primary(n);
	struct netvsp_rx_info info;
	uint8_t hdr[NETVSP_RX_HEADER_MAX];
	uint32_t hdr_len, csum = 0;
	bool signal = false;

	(void)queue;
	if (n->destroying || !c || !c->open || c->broken || !n->recv_ready ||
	    !n->rndis.initialized || !n->rndis.link_up) {
		n->rndis.stats.rx_no_buffer++;
		return true;
	}
	if (!rndis_rx_accept(&n->rndis, frame, len)) {
		n->stats.rx_filtered++;
		return true;
	}
	if (len + NETVSP_RX_HEADER_MAX > n->rxbuf.sub_alloc ||
	    netvsp_rx_checksum(vh, frame, len, &n->rndis.offload, &csum) < 0) {
		n->rndis.stats.rx_errors++;
		log_guest_fault(TAG, "received frame of %u bytes (gso %u) dropped", len, vh->gso_type);
		return true;
	}
	memset(&info, 0, sizeof(info));
	info.has_csum = csum != 0;
	info.csum = csum;
	if (n->rndis.rss.enabled) {
		uint32_t hash, type;

		if (netvsp_rss_hash(n->rndis.rss.key, n->rndis.rss.hash_info, frame, len, &hash,
				    &type)) {
			struct netvsp_chan *t =
				n->chans[n->rndis.rss.table[hash % n->rndis.rss.table_len]];

			info.has_hash = true;
			info.hash = hash;
			info.hash_info = NDIS_HASH_FUNC_TOEPLITZ | type;
			if (t && t->open && !t->broken)
				c = t;
		}
	}
	if (n->rxbuf.nfree <= control_reserve(n) || !netvsp_room(c, 1)) {
		n->stats.rx_backpressure++;
		n->rx_blocked = true;
		return false;
	}
	hdr_len = netvsp_packet_build_rx(hdr, &info, len);
	deliver(n, c, hdr, hdr_len, frame, len, NVSP_RMC_DATA, &signal);
	rndis_count_rx(&n->rndis, frame, len);
	if (signal)
		netvsp_signal(c);
	return true;
}

/* ---- Guest -> host ---- */

static void req_finish(struct netvsp *n, struct netvsp_tx_req *r)
{
	struct netvsp_chan *c = r->c;

	if (r->prev)
		r->prev->next = r->next;
	else
		n->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	if (c->open && r->gen == c->gen) {
		c->tx_inflight--;
		if (r->want_completion) {
			bool signal = false;

			c->reserved--;
			netvsp_complete_rndis(c, r->trans_id, NVSP_STAT_SUCCESS, &signal);
			if (signal)
				netvsp_signal(c);
		}
		if (c->stalled)
			c->need_service = true;
	}
	free(r);
}

static void tx_done(struct tap_tx *tx, int res)
{
	struct netvsp_tx_frame *f = (struct netvsp_tx_frame *)tx;
	struct netvsp_tx_req *r = f->req;
	struct netvsp *n = r->c->n;

	if (res < 0) {
		n->rndis.stats.tx_errors++;
		log_guest_fault(TAG, "backend refused a %u-byte frame: %s", f->len, strerror(-res));
	} else {
		rndis_count_tx(&n->rndis, f->dst, f->len);
	}
	if (--r->pending == 0) {
		req_finish(n, r);
		netvsp_run(n);
	}
}

void netvsp_free_requests(struct netvsp *n)
{
	while (n->reqs) {
		struct netvsp_tx_req *r = n->reqs;

		n->reqs = r->next;
		free(r);
	}
}

/* Malformed, or not deliverable: counted, and completed with status if asked for. */
static int fail_packet(struct netvsp_chan *c, const struct vmbus_packet *pkt, uint32_t status,
		       bool *signal)
{
	if (pkt->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED)
		netvsp_complete_rndis(c, pkt->trans_id, status, signal);
	return 0;
}

static int control_msg(struct netvsp_chan *c, const struct vmbus_packet *pkt,
		       const struct stream *st, bool want, bool *signal)
{
	struct netvsp *n = c->n;
	uint8_t msg[RNDIS_CONTROL_MAX];
	uint8_t resp[RNDIS_RESPONSE_MAX];
	uint32_t len = st->len < sizeof(msg) ? st->len : sizeof(msg), rl;
	uint64_t bad = n->rndis.stats.bad_control;

	if (!n->recv_ready) {
		n->stats.nvsp_errors++;
		log_guest_fault(TAG, "RNDIS control message before the receive buffer");
		return fail_packet(c, pkt, NVSP_STAT_FAIL, signal);
	}
	if (n->rxbuf.nfree == 0 || !netvsp_room(c, want ? 2 : 1))
		return -EAGAIN;
	stream_copy(st, 0, len, msg);
	rl = rndis_control(&n->rndis, msg, len, resp, sizeof(resp));
	if (rl)
		deliver(n, c, resp, rl, NULL, 0, NVSP_RMC_CONTROL, signal);
	if (want)
		netvsp_complete_rndis(c, pkt->trans_id,
				      rl == 0 && n->rndis.stats.bad_control != bad
					      ? NVSP_STAT_INVALID_RNDIS_PKT : NVSP_STAT_SUCCESS,
				      signal);
	return 0;
}

/* Builds frame f of message m (at msg_off in the stream); false: the frame is dropped. */
static bool build_frame(struct netvsp *n, const struct stream *st, uint32_t msg_off,
			const struct netvsp_tx_msg *m, struct netvsp_tx_frame *f)
{
	uint8_t head[NETVSP_TX_HEAD_MAX];
	uint32_t fo = msg_off + m->data_offset;
	uint32_t ha = m->data_len < NETVSP_TX_HEAD_MAX ? m->data_len : NETVSP_TX_HEAD_MAX;
	unsigned cnt = 1;
	int ret;

	stream_copy(st, fo, ha, head);
	if (netvsp_tx_prepare(&m->meta, head, ha, m->data_len, &f->plan) < 0) {
		n->rndis.stats.tx_discards++;
		log_guest_fault(TAG, "frame with offloads we cannot do (csum 0x%x lso 0x%x) dropped",
				m->meta.csum, m->meta.lso);
		return false;
	}
	f->iov[0].iov_base = &f->plan.vh;
	f->iov[0].iov_len = sizeof(f->plan.vh);
	if (f->plan.head_len) {
		f->iov[1].iov_base = f->plan.head;
		f->iov[1].iov_len = f->plan.head_len;
		cnt++;
	}
	ret = stream_iov(st, fo + f->plan.consumed, f->plan.frame_len - f->plan.consumed,
			 f->iov + cnt, NETVSP_FRAME_IOV_MAX);
	if (ret < 0) {
		n->rndis.stats.tx_discards++;
		log_guest_fault(TAG, "frame in more than %u pieces dropped", NETVSP_FRAME_IOV_MAX);
		return false;
	}
	memcpy(f->dst, head, 6);
	f->len = f->plan.head_len + f->plan.frame_len - f->plan.consumed;
	f->tx.iov = f->iov;
	f->tx.iovcnt = cnt + (unsigned)ret;
	f->tx.done = tx_done;
	return true;
}

static int data_msg(struct netvsp_chan *c, const struct vmbus_packet *pkt,
		    const struct stream *st, bool want, bool *signal)
{
	struct netvsp *n = c->n;
	struct netvsp_tx_msg msgs[RNDIS_MAX_PACKETS_PER_MSG];
	uint32_t offs[RNDIS_MAX_PACKETS_PER_MSG];
	uint8_t head[NETVSP_TX_MSG_HEAD_MAX];
	struct netvsp_tx_req *r;
	unsigned nmsg = 0;
	uint32_t off = 0;

	if (c->tx_inflight >= NETVSP_TX_INFLIGHT_MAX)
		return -EAGAIN;
	while (off < st->len) {
		uint32_t avail = st->len - off;
		uint32_t hl = avail < sizeof(head) ? avail : sizeof(head);

		if (nmsg == RNDIS_MAX_PACKETS_PER_MSG) {
			n->rndis.stats.bad_packets++;
			log_guest_fault(TAG, "more than %u data messages in one packet",
					RNDIS_MAX_PACKETS_PER_MSG);
			return fail_packet(c, pkt, NVSP_STAT_INVALID_RNDIS_PKT, signal);
		}
		stream_copy(st, off, hl, head);
		if (netvsp_packet_parse(head, hl, avail, &msgs[nmsg]) < 0) {
			n->rndis.stats.bad_packets++;
			log_guest_fault(TAG, "malformed RNDIS data message dropped");
			return fail_packet(c, pkt, NVSP_STAT_INVALID_RNDIS_PKT, signal);
		}
		offs[nmsg] = off;
		off += msgs[nmsg].msg_len;
		nmsg++;
	}
	if (!n->rndis.initialized || !n->rndis.link_up) {
		n->rndis.stats.tx_discards += nmsg;
		return fail_packet(c, pkt, NVSP_STAT_SUCCESS, signal);
	}
	r = calloc(1, sizeof(*r) + nmsg * sizeof(r->frames[0]));
	if (!r) {
		n->rndis.stats.tx_discards += nmsg;
		return fail_packet(c, pkt, NVSP_STAT_SUCCESS, signal);
	}
	r->c = c;
	r->gen = c->gen;
	r->trans_id = pkt->trans_id;
	r->want_completion = want;
	r->nframes = nmsg;
	r->pending = 1; /* held while sending: a backend may complete at once */
	r->next = n->reqs;
	if (n->reqs)
		n->reqs->prev = r;
	n->reqs = r;
	c->tx_inflight++;
	if (want)
		c->reserved++;
	n->stats.tx_requests++;
	for (unsigned i = 0; i < nmsg; i++) {
		struct netvsp_tx_frame *f = &r->frames[i];

		f->req = r;
		if (!build_frame(n, st, offs[i], &msgs[i], f))
			continue;
		r->pending++;
		if (n->be.send(n->be.ctx, c->index % n->be.queues, &f->tx) < 0) {
			r->pending--;
			n->rndis.stats.tx_errors++;
		}
	}
	if (--r->pending == 0)
		req_finish(n, r);
	return 0;
}

int netvsp_handle_rndis(struct netvsp_chan *c, const struct vmbus_packet *pkt,
			const struct nvsp_message *m, bool *signal)
{
	struct netvsp *n = c->n;
	const struct nvsp_1_message_send_rndis_packet *rp = &m->msg.send_rndis_pkt;
	bool want = pkt->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED;
	struct stream st;
	uint32_t type;

	if (want && !netvsp_room(c, 1))
		return -EAGAIN;
	if (pkt->data_len < 4 + sizeof(*rp) || !n->nvsp_version) {
		n->stats.nvsp_errors++;
		log_guest_fault(TAG, "RNDIS packet too short or before INIT");
		return fail_packet(c, pkt, NVSP_STAT_FAIL, signal);
	}
	st.n = 0;
	st.len = 0;
	if (rp->send_buf_section_index != NETVSC_INVALID_INDEX) {
		if (!n->send_ready || rp->send_buf_section_index >= n->send_sections ||
		    rp->send_buf_section_size > NETVSC_SEND_SECTION_SIZE ||
		    stream_from_buf(&st, &n->send,
				    rp->send_buf_section_index * NETVSC_SEND_SECTION_SIZE,
				    rp->send_buf_section_size) < 0) {
			n->rndis.stats.bad_packets++;
			log_guest_fault(TAG, "send section %u (%u bytes) outside the send buffer",
					rp->send_buf_section_index, rp->send_buf_section_size);
			return fail_packet(c, pkt, NVSP_STAT_INVALID_RNDIS_PKT, signal);
		}
	}
	if (pkt->type == VM_PKT_DATA_USING_GPA_DIRECT && stream_from_gpa(&st, n->mem, pkt) < 0) {
		n->rndis.stats.bad_packets++;
		log_guest_fault(TAG, "GPA-direct ranges outside guest RAM or too fragmented");
		return fail_packet(c, pkt, NVSP_STAT_INVALID_RNDIS_PKT, signal);
	}
	if (st.len < 8) {
		n->rndis.stats.bad_packets++;
		log_guest_fault(TAG, "RNDIS packet of %u bytes", st.len);
		return fail_packet(c, pkt, NVSP_STAT_INVALID_RNDIS_PKT, signal);
	}
	stream_copy(&st, 0, 4, &type);
	if (type == RNDIS_MSG_PACKET)
		return data_msg(c, pkt, &st, want, signal);
	return control_msg(c, pkt, &st, want, signal);
}
