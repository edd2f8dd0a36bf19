/* Host side of a VMBus channel's ring buffers over guest pages (layout and signalling as Linux
 * drivers/hv/ring_buffer.c and include/linux/hyperv.h struct hv_ring_buffer, seen from the host).
 *
 * A channel's ring GPADL is one list of guest pages. Pages [0, downstream_ringbuffer_pageoffset)
 * are the "upstream" ring, guest->host: the guest's outbound ring, our INBOUND ring. The rest is
 * the downstream ring, host->guest: our OUTBOUND ring. Each ring is a header page (struct
 * hv_ring_buffer) then data pages forming a circular buffer of (npages - 1) * 4096 bytes. Linux
 * maps the data pages twice to ignore wrap-around; here every copy wraps explicitly.
 *
 * All functions run on the channel's loop thread (one thread per ring); the guest is the only
 * other party, and everything it can write is read once, bounded and only then used. Signalling
 * rules are stated in ring.c. */
#ifndef HVKVM_VMBUS_RING_H
#define HVKVM_VMBUS_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "guest_mem.h"
#include "vmbus/packet.h"

#define VMBUS_RING_PAGE_SIZE 4096u
/* Host limit on one ring (header page included): 256 MiB of data. Linux asks for at most a few
 * MiB (netvsc's ring_size); indices are u32 either way. */
#define VMBUS_RING_MAX_PAGES 65536u

/* feature_bits bit 0: the ring's sender sets pending_send_sz on this ring when it waits for space,
 * and watches the pending_send_sz of the opposite ring when it reads. */
#define VMBUS_RING_FEAT_PENDING_SEND_SZ 1u

/* The header page. Not packed: every field is naturally aligned (asserted), so the words the
 * two sides share can be accessed atomically. */
struct hv_ring_buffer {
	uint32_t write_index;     /* byte offset into the data; written by the sender only */
	uint32_t read_index;      /* written by the receiver only */
	uint32_t interrupt_mask;  /* receiver: "I am draining, do not signal me" */
	uint32_t pending_send_sz; /* sender: "signal me when more than this many bytes are free" */
	uint32_t reserved1[12];
	uint32_t feature_bits;    /* VMBUS_RING_FEAT_*, owned by the sender */
	uint8_t reserved2[VMBUS_RING_PAGE_SIZE - 68];
};
_Static_assert(sizeof(struct hv_ring_buffer) == VMBUS_RING_PAGE_SIZE, "ring header is one page");
_Static_assert(offsetof(struct hv_ring_buffer, pending_send_sz) == 12, "pending_send_sz");
_Static_assert(offsetof(struct hv_ring_buffer, feature_bits) == 64, "feature_bits");

enum vmbus_ring_dir {
	VMBUS_RING_INBOUND,  /* guest -> host: we read */
	VMBUS_RING_OUTBOUND, /* host -> guest: we write */
};

struct vmbus_ring {
	enum vmbus_ring_dir dir;
	uint8_t **pages;            /* host address of each page; pages[0] is the header */
	struct hv_ring_buffer *hdr; /* pages[0]; guest memory: accessed with atomics only */
	uint32_t npages;
	uint32_t data_size;         /* (npages - 1) * 4096 */
	/* Inbound: next packet to read (the private read index), the read_index last published,
	 * ring bytes of the packet the last peek returned (0: none). Outbound: where the next
	 * packet goes (mirrors write_index; never read back from the guest), the pending_send_sz
	 * we asked for (0: none). */
	uint32_t priv_index;
	uint32_t pub_index;
	uint32_t peeked_len;
	uint32_t pending_send;
};

/* Maps one ring from its pages' PFNs: npages >= 2 and <= VMBUS_RING_MAX_PAGES (-EINVAL), every
 * page guest RAM (-EFAULT), the header's own index valid: < data size and 8-aligned (-EBADMSG).
 * Inbound adopts the header's read_index (the guest set it to 0 before opening); outbound adopts
 * write_index, sets feature bit 0 (we honour pending_send_sz) and clears pending_send_sz. -ENOMEM.
 * interrupt_mask is left as the guest set it (0: "signal me", right for an idle host). */
__attribute__((warn_unused_result))
int vmbus_ring_init(struct vmbus_ring *r, enum vmbus_ring_dir dir, const struct guest_mem *mem,
		    const uint64_t *pfns, unsigned npages);
/* Both rings of a channel from its ring GPADL and CHANNELMSG_OPENCHANNEL's
 * downstream_ringbuffer_pageoffset: in = pages [0, offset), out = [offset, npages). Needs at
 * least two pages on each side (-EINVAL). On failure neither ring needs destroying. */
__attribute__((warn_unused_result))
int vmbus_ring_init_channel(struct vmbus_ring *in, struct vmbus_ring *out,
			    const struct guest_mem *mem, const uint64_t *pfns, unsigned npages,
			    unsigned downstream_offset);
void vmbus_ring_destroy(struct vmbus_ring *r);

/* ---- Inbound (guest -> host) ----
 *
 * Copies the next packet into buf (8-byte aligned, -EINVAL) and parses the copy, never the ring
 * (vmbus_packet_parse: pkt's pointers point into buf). Returns 0; -EAGAIN if the ring is empty;
 * -ENOBUFS if buf_size < pkt->len (pkt->len is set, and vmbus_ring_consume() drops the packet if
 * the caller wants to); -EBADMSG if the ring is malformed: write_index out of range or
 * misaligned, less than a descriptor and trailer available, len8 beyond the available bytes
 * (trailer included), or vmbus_packet_parse's checks. A malformed ring is a guest bug we cannot
 * resynchronize from (packet boundaries are lost): the caller stops the channel. Peeking again
 * without consuming returns the same packet. */
__attribute__((warn_unused_result))
int vmbus_ring_peek(struct vmbus_ring *r, struct vmbus_packet *pkt, void *buf, size_t buf_size);
/* Steps the private read index past the packet the last peek returned (no-op if none). The guest
 * sees nothing until vmbus_ring_commit_read(). */
void vmbus_ring_consume(struct vmbus_ring *r);
/* Publishes the private read index as read_index, once per batch. Returns true if the guest must
 * be signalled: it advertised pending_send_sz (feature bit set on this ring), and the free space
 * went from <= pending_send_sz before this batch to > pending_send_sz now (Linux
 * hv_pkt_iter_close, host side). */
bool vmbus_ring_commit_read(struct vmbus_ring *r);

/* Interrupt mask of the inbound ring: while set, the guest does not signal new packets. The
 * race-free drain, which the guest side (hv_signal_on_write) relies on:
 *
 *	vmbus_ring_mask_interrupts(in);
 *	do {
 *		while (vmbus_ring_peek(in, &pkt, buf, size) == 0) {
 *			handle(&pkt);
 *			vmbus_ring_consume(in);
 *		}
 *		(stop the channel on -EBADMSG)
 *		if (vmbus_ring_commit_read(in)) signal the guest;
 *	} while (vmbus_ring_unmask_interrupts(in) && (vmbus_ring_mask_interrupts(in), true));
 *	sleep until the guest signals
 *
 * commit before unmasking: the guest signals only if it finds interrupt_mask 0 AND read_index
 * equal to where its packet starts, so both must be published before we look a last time. A
 * caller that stops after a budget of packets (fairness between channels) commits, keeps the
 * mask set and requeues itself on its loop instead of sleeping. */
void vmbus_ring_mask_interrupts(struct vmbus_ring *r);
/* Clears interrupt_mask, then looks again: true if unread data is in the ring (drain again
 * rather than sleep). Both are no-ops on an outbound ring (its mask is the guest's). */
bool vmbus_ring_unmask_interrupts(struct vmbus_ring *r);

/* ---- Outbound (host -> guest) ----
 *
 * Writes one packet: descriptor (type VM_PKT_DATA_INBAND or VM_PKT_COMP, flags 0 or
 * COMPLETION_REQUESTED, else -EINVAL), the iovecs' bytes, zero padding to 8, trailer; publishes
 * write_index. -EAGAIN: not enough space (the ring never fills completely: 8 bytes always stay
 * free so full != empty); -EMSGSIZE: the packet can never fit (beyond len8 or the ring);
 * -EBADMSG: the guest's read_index is out of range or misaligned. *need_signal: the guest must be
 * signalled (it has not masked interrupts and the ring was empty before this packet). A success
 * also withdraws a pending_send_sz we had set. */
__attribute__((warn_unused_result))
int vmbus_ring_write(struct vmbus_ring *r, uint16_t type, uint16_t flags, uint64_t trans_id,
		     const struct iovec *iov, unsigned iovcnt, bool *need_signal);
/* VM_PKT_COMP answering the guest packet with this trans_id. */
__attribute__((warn_unused_result))
int vmbus_ring_write_completion(struct vmbus_ring *r, uint64_t trans_id, const struct iovec *iov,
				unsigned iovcnt, bool *need_signal);

struct vmbus_xfer_pages {
	uint16_t pageset_id;  /* netvsc: NETVSC_RECEIVE_BUFFER_ID 0xCAFE */
	uint8_t sender_owns_set;
	uint32_t range_count;
	const struct vmtransfer_page_range *ranges;
};
/* VM_PKT_DATA_USING_XFER_PAGES: the xfer-page header and ranges, then the iovecs' bytes.
 * Returns as vmbus_ring_write. */
__attribute__((warn_unused_result))
int vmbus_ring_write_xfer_pages(struct vmbus_ring *r, uint16_t flags, uint64_t trans_id,
				const struct vmbus_xfer_pages *xp, const struct iovec *iov,
				unsigned iovcnt, bool *need_signal);

/* After a write's -EAGAIN: asks the guest to signal once more than size bytes are free, size
 * being the packet's vmbus_packet_ring_bytes(). Returns -EAGAIN: wait for the guest's signal,
 * then write again; 0: the guest freed the space meanwhile, write again now (the request is
 * withdrawn); -EMSGSIZE if size can never be free; -EBADMSG as vmbus_ring_write. size 0
 * withdraws a request (e.g. the backlog was dropped). */
__attribute__((warn_unused_result))
int vmbus_ring_set_pending_send(struct vmbus_ring *r, uint32_t size);

#endif
