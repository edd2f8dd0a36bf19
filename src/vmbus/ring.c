/* VMBus ring buffers, host side (see ring.h), after Linux drivers/hv/ring_buffer.c.
 *
 * Signalling protocol. Each ring has one sender and one receiver; the sender owns write_index,
 * pending_send_sz and feature_bits, the receiver owns read_index and interrupt_mask.
 *  - New data: the sender writes the packet, publishes write_index (release), fences, and signals
 *    only if interrupt_mask is 0 and read_index equals where its packet started (the ring was
 *    empty). The receiver masks while it drains; at the end it publishes read_index, clears the
 *    mask, fences and looks at write_index once more. With a fence on both sides, either the
 *    receiver sees the new packet or the sender sees the ring empty and unmasked, and signals.
 *  - Free space: a blocked sender stores pending_send_sz (the bytes it needs), fences, and looks
 *    at read_index once more. The receiver publishes read_index, fences, reads pending_send_sz and
 *    signals only when the free space crosses it: <= pending before its batch, > pending after.
 *    Only a sender that set feature bit 0 on its ring uses pending_send_sz.
 * We are the receiver on the inbound ring and the sender on the outbound ring. Our own indices
 * live in struct vmbus_ring and are never read back from guest memory; the guest's index is read
 * once per operation and bounded (< data size, 8-aligned). The private read index moves per
 * packet and is published once per batch. */
#include "vmbus/ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PAGE VMBUS_RING_PAGE_SIZE
#define DESC_LEN ((uint32_t)sizeof(struct vmpacket_descriptor))

static bool index_ok(const struct vmbus_ring *r, uint32_t i)
{
	return i < r->data_size && i % 8 == 0;
}

/* Bytes from index `from` up to index `to` going forward (both < data_size). */
static uint32_t ring_dist(const struct vmbus_ring *r, uint32_t from, uint32_t to)
{
	return to >= from ? to - from : r->data_size - from + to;
}

static uint32_t ring_add(const struct vmbus_ring *r, uint32_t i, uint32_t n)
{
	i += n; /* i < data_size, n <= data_size, data_size <= 256 MiB: no overflow */
	return i >= r->data_size ? i - r->data_size : i;
}

/* Copies len bytes of ring data at off out, wrapping at the end. len <= data_size. */
static void copy_from_ring(const struct vmbus_ring *r, uint32_t off, void *dst, uint32_t len)
{
	uint8_t *d = dst;

	while (len) {
		uint32_t in_page = off % PAGE, chunk = PAGE - in_page;

		if (chunk > len)
			chunk = len;
		memcpy(d, r->pages[1 + off / PAGE] + in_page, chunk);
		d += chunk;
		len -= chunk;
		off = ring_add(r, off, chunk);
	}
}

/* Copies len bytes (zeros if src is NULL) into the ring at off; returns the index after them. */
static uint32_t copy_to_ring(const struct vmbus_ring *r, uint32_t off, const void *src, size_t len)
{
	const uint8_t *s = src;

	while (len) {
		uint32_t in_page = off % PAGE, chunk = PAGE - in_page;

		if (chunk > len)
			chunk = (uint32_t)len;
		if (s) {
			memcpy(r->pages[1 + off / PAGE] + in_page, s, chunk);
			s += chunk;
		} else {
			memset(r->pages[1 + off / PAGE] + in_page, 0, chunk);
		}
		len -= chunk;
		off = ring_add(r, off, chunk);
	}
	return off;
}

int vmbus_ring_init(struct vmbus_ring *r, enum vmbus_ring_dir dir, const struct guest_mem *mem,
		    const uint64_t *pfns, unsigned npages)
{
	uint32_t idx, *own;

	memset(r, 0, sizeof(*r));
	if (npages < 2 || npages > VMBUS_RING_MAX_PAGES)
		return -EINVAL;
	r->pages = calloc(npages, sizeof(*r->pages));
	if (!r->pages)
		return -ENOMEM;
	for (unsigned i = 0; i < npages; i++) {
		if (pfns[i] > UINT64_MAX / PAGE)
			goto fault;
		r->pages[i] = guest_mem_ptr(mem, pfns[i] * PAGE, PAGE);
		if (!r->pages[i])
			goto fault;
	}
	r->dir = dir;
	r->npages = npages;
	r->data_size = (npages - 1) * PAGE;
	r->hdr = (struct hv_ring_buffer *)r->pages[0];
	own = dir == VMBUS_RING_INBOUND ? &r->hdr->read_index : &r->hdr->write_index;
	/* no barrier: the guest set up the header before sending CHANNELMSG_OPENCHANNEL */
	idx = __atomic_load_n(own, __ATOMIC_RELAXED);
	if (!index_ok(r, idx)) {
		free(r->pages);
		memset(r, 0, sizeof(*r));
		return -EBADMSG;
	}
	r->priv_index = idx;
	r->pub_index = idx;
	if (dir == VMBUS_RING_OUTBOUND) {
		/* no barrier: the guest looks only after our CHANNELMSG_OPENCHANNEL_RESULT */
		__atomic_store_n(&r->hdr->pending_send_sz, 0, __ATOMIC_RELAXED);
		__atomic_fetch_or(&r->hdr->feature_bits, VMBUS_RING_FEAT_PENDING_SEND_SZ,
				  __ATOMIC_RELAXED);
	}
	return 0;
fault:
	free(r->pages);
	r->pages = NULL;
	return -EFAULT;
}

int vmbus_ring_init_channel(struct vmbus_ring *in, struct vmbus_ring *out,
			    const struct guest_mem *mem, const uint64_t *pfns, unsigned npages,
			    unsigned downstream_offset)
{
	int ret;

	if (downstream_offset < 2 || downstream_offset > npages || npages - downstream_offset < 2)
		return -EINVAL;
	ret = vmbus_ring_init(in, VMBUS_RING_INBOUND, mem, pfns, downstream_offset);
	if (ret)
		return ret;
	ret = vmbus_ring_init(out, VMBUS_RING_OUTBOUND, mem, pfns + downstream_offset,
			      npages - downstream_offset);
	if (ret)
		vmbus_ring_destroy(in);
	return ret;
}

void vmbus_ring_destroy(struct vmbus_ring *r)
{
	free(r->pages);
	memset(r, 0, sizeof(*r));
}

/* ---- Inbound ---- */

int vmbus_ring_peek(struct vmbus_ring *r, struct vmbus_packet *pkt, void *buf, size_t buf_size)
{
	struct vmpacket_descriptor d;
	uint32_t w, avail, len;
	int ret;

	memset(pkt, 0, sizeof(*pkt));
	r->peeked_len = 0;
	if (r->dir != VMBUS_RING_INBOUND || (uintptr_t)buf % 8)
		return -EINVAL;
	/* acquire: the packet bytes copied below were written before this index was published */
	w = __atomic_load_n(&r->hdr->write_index, __ATOMIC_ACQUIRE);
	if (!index_ok(r, w))
		return -EBADMSG;
	avail = ring_dist(r, r->priv_index, w);
	if (avail == 0)
		return -EAGAIN;
	/* the guest publishes whole packets only: descriptor, payload, trailer */
	if (avail < DESC_LEN + VMBUS_PKT_TRAILER)
		return -EBADMSG;
	copy_from_ring(r, r->priv_index, &d, DESC_LEN);
	len = d.len8 * 8u;
	if (len > avail - VMBUS_PKT_TRAILER || vmbus_packet_check_descriptor(&d))
		return -EBADMSG;
	if (len > buf_size) {
		pkt->type = d.type;
		pkt->flags = d.flags;
		pkt->trans_id = d.trans_id;
		pkt->len = len;
		r->peeked_len = len + VMBUS_PKT_TRAILER; /* the caller may drop it */
		return -ENOBUFS;
	}
	/* the descriptor we checked goes into the copy; the guest may rewrite the ring meanwhile */
	memcpy(buf, &d, DESC_LEN);
	copy_from_ring(r, ring_add(r, r->priv_index, DESC_LEN), (uint8_t *)buf + DESC_LEN,
		       len - DESC_LEN);
	ret = vmbus_packet_parse(buf, len, pkt);
	if (ret)
		return ret;
	r->peeked_len = len + VMBUS_PKT_TRAILER;
	return 0;
}

void vmbus_ring_consume(struct vmbus_ring *r)
{
	if (!r->peeked_len)
		return;
	r->priv_index = ring_add(r, r->priv_index, r->peeked_len);
	r->peeked_len = 0;
}

bool vmbus_ring_commit_read(struct vmbus_ring *r)
{
	uint32_t start = r->pub_index, pending, w, freed, free_now, free_before;

	if (r->dir != VMBUS_RING_INBOUND || r->priv_index == start)
		return false;
	/* release: our copies of the consumed packets are done before the guest reuses the space */
	__atomic_store_n(&r->hdr->read_index, r->priv_index, __ATOMIC_RELEASE);
	r->pub_index = r->priv_index;
	if (!(__atomic_load_n(&r->hdr->feature_bits, __ATOMIC_RELAXED) &
	      VMBUS_RING_FEAT_PENDING_SEND_SZ))
		return false; /* the guest polls a full ring */
	/* full barrier: read_index is visible before we sample pending_send_sz, else a guest that
	 * sets it and still sees the old read_index waits for a signal that never comes */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	/* acquire: write_index below is read after pending_send_sz (Linux's virt_rmb) */
	pending = __atomic_load_n(&r->hdr->pending_send_sz, __ATOMIC_ACQUIRE);
	if (!pending)
		return false;
	w = __atomic_load_n(&r->hdr->write_index, __ATOMIC_RELAXED);
	if (!index_ok(r, w))
		return false; /* the next peek reports it */
	free_now = r->data_size - ring_dist(r, r->pub_index, w);
	freed = ring_dist(r, start, r->pub_index);
	free_before = free_now > freed ? free_now - freed : 0;
	/* exactly pending bytes free is still "blocked": the sender never fills the ring */
	return free_before <= pending && free_now > pending;
}

void vmbus_ring_mask_interrupts(struct vmbus_ring *r)
{
	if (r->dir != VMBUS_RING_INBOUND)
		return;
	/* no barrier: the mask only saves signals; seen late, it costs one spurious signal */
	__atomic_store_n(&r->hdr->interrupt_mask, 1, __ATOMIC_RELAXED);
}

bool vmbus_ring_unmask_interrupts(struct vmbus_ring *r)
{
	uint32_t w;

	if (r->dir != VMBUS_RING_INBOUND)
		return false;
	__atomic_store_n(&r->hdr->interrupt_mask, 0, __ATOMIC_RELAXED);
	/* full barrier: the cleared mask (and read_index, committed before) are visible before we
	 * look at write_index; the guest stores write_index, fences, then reads both */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	w = __atomic_load_n(&r->hdr->write_index, __ATOMIC_RELAXED);
	return w != r->priv_index; /* a bad index counts as data: the next peek reports it */
}

/* ---- Outbound ---- */

/* Writes descriptor, ext (header extension, a multiple of 8), payload, padding and trailer. */
static int ring_write(struct vmbus_ring *r, uint16_t type, uint16_t flags, uint64_t trans_id,
		      const struct iovec *ext, unsigned extcnt, const struct iovec *iov,
		      unsigned iovcnt, bool *need_signal)
{
	struct vmpacket_descriptor d;
	uint64_t hdr_len = DESC_LEN, payload = 0, trailer;
	uint32_t len, total, rd, old, off;

	*need_signal = false;
	if (r->dir != VMBUS_RING_OUTBOUND || (flags & ~VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED))
		return -EINVAL;
	for (unsigned i = 0; i < extcnt; i++)
		hdr_len += ext[i].iov_len; /* host-built, bounded by the callers */
	for (unsigned i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > VMBUS_PKT_MAX_LEN - payload)
			return -EMSGSIZE;
		payload += iov[i].iov_len;
	}
	if (hdr_len % 8 || hdr_len + ((payload + 7) & ~7ull) > VMBUS_PKT_MAX_LEN)
		return -EMSGSIZE;
	len = (uint32_t)(hdr_len + ((payload + 7) & ~7ull));
	total = len + VMBUS_PKT_TRAILER;
	if (total >= r->data_size)
		return -EMSGSIZE;
	/* acquire: the guest is done reading the space read_index frees; our writes come after */
	rd = __atomic_load_n(&r->hdr->read_index, __ATOMIC_ACQUIRE);
	if (!index_ok(r, rd))
		return -EBADMSG;
	old = r->priv_index;
	/* keep at least 8 bytes free: a full ring would look empty (write_index == read_index) */
	if (total >= r->data_size - ring_dist(r, rd, old))
		return -EAGAIN;

	d = (struct vmpacket_descriptor){
		.type = type,
		.offset8 = (uint16_t)(hdr_len / 8),
		.len8 = (uint16_t)(len / 8),
		.flags = flags,
		.trans_id = trans_id,
	};
	off = copy_to_ring(r, old, &d, DESC_LEN);
	for (unsigned i = 0; i < extcnt; i++)
		off = copy_to_ring(r, off, ext[i].iov_base, ext[i].iov_len);
	for (unsigned i = 0; i < iovcnt; i++)
		off = copy_to_ring(r, off, iov[i].iov_base, iov[i].iov_len);
	off = copy_to_ring(r, off, NULL, (8 - payload % 8) % 8);
	trailer = (uint64_t)old << 32; /* where this packet starts, as Linux writes it */
	off = copy_to_ring(r, off, &trailer, sizeof(trailer));
	r->priv_index = off;
	/* release: the packet bytes are visible before the index that covers them */
	__atomic_store_n(&r->hdr->write_index, off, __ATOMIC_RELEASE);
	if (r->pending_send) {
		/* no barrier: a stale pending_send_sz costs at most one spurious signal */
		__atomic_store_n(&r->hdr->pending_send_sz, 0, __ATOMIC_RELAXED);
		r->pending_send = 0;
	}
	/* full barrier: write_index is visible before we read interrupt_mask and read_index; the
	 * guest (hv_end_read) clears the mask, fences, then reads write_index */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	/* acquire: interrupt_mask is read before read_index, as Linux orders them */
	if (__atomic_load_n(&r->hdr->interrupt_mask, __ATOMIC_ACQUIRE))
		return 0;
	*need_signal = __atomic_load_n(&r->hdr->read_index, __ATOMIC_RELAXED) == old;
	return 0;
}

int vmbus_ring_write(struct vmbus_ring *r, uint16_t type, uint16_t flags, uint64_t trans_id,
		     const struct iovec *iov, unsigned iovcnt, bool *need_signal)
{
	*need_signal = false;
	if (type != VM_PKT_DATA_INBAND && type != VM_PKT_COMP)
		return -EINVAL;
	return ring_write(r, type, flags, trans_id, NULL, 0, iov, iovcnt, need_signal);
}

int vmbus_ring_write_completion(struct vmbus_ring *r, uint64_t trans_id, const struct iovec *iov,
				unsigned iovcnt, bool *need_signal)
{
	return ring_write(r, VM_PKT_COMP, 0, trans_id, NULL, 0, iov, iovcnt, need_signal);
}

int vmbus_ring_write_xfer_pages(struct vmbus_ring *r, uint16_t flags, uint64_t trans_id,
				const struct vmbus_xfer_pages *xp, const struct iovec *iov,
				unsigned iovcnt, bool *need_signal)
{
	struct vmtransfer_page_packet_header h = {
		.xfer_pageset_id = xp->pageset_id,
		.sender_owns_set = xp->sender_owns_set,
		.range_cnt = xp->range_count,
	};
	const size_t fixed = sizeof(h) - DESC_LEN;
	struct iovec ext[2] = {
		{.iov_base = (uint8_t *)&h + DESC_LEN, .iov_len = fixed},
		{.iov_base = (void *)xp->ranges,
		 .iov_len = (size_t)xp->range_count * sizeof(struct vmtransfer_page_range)},
	};

	*need_signal = false;
	if (xp->range_count > (VMBUS_PKT_MAX_LEN - sizeof(h)) / sizeof(*xp->ranges))
		return -EMSGSIZE;
	return ring_write(r, VM_PKT_DATA_USING_XFER_PAGES, flags, trans_id, ext, 2, iov, iovcnt,
			  need_signal);
}

int vmbus_ring_set_pending_send(struct vmbus_ring *r, uint32_t size)
{
	uint32_t rd;

	if (r->dir != VMBUS_RING_OUTBOUND)
		return -EINVAL;
	if (size >= r->data_size)
		return -EMSGSIZE;
	/* relaxed: a request is fenced below; a withdrawal seen late costs one spurious signal */
	__atomic_store_n(&r->hdr->pending_send_sz, size, __ATOMIC_RELAXED);
	r->pending_send = size;
	if (!size)
		return 0;
	/* full barrier: pending_send_sz is visible before we look at read_index again; the guest
	 * publishes read_index, fences, then reads pending_send_sz (hv_pkt_iter_close) */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	rd = __atomic_load_n(&r->hdr->read_index, __ATOMIC_RELAXED);
	if (!index_ok(r, rd))
		return -EBADMSG;
	if (r->data_size - ring_dist(r, rd, r->priv_index) > size) {
		__atomic_store_n(&r->hdr->pending_send_sz, 0, __ATOMIC_RELAXED);
		r->pending_send = 0;
		return 0;
	}
	return -EAGAIN;
}
