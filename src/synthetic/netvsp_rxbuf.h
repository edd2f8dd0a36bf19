/* Slot accounting for netvsp's receive buffer: the guest's NVSP receive buffer is one section
 * of equal sub-allocations (as openvmm and Hyper-V announce it); each frame or control answer
 * we deliver takes one, and it comes back only with the guest's SEND_RNDIS_PKT_COMPLETE for
 * the transaction id we sent it under (Linux netvsc_receive -> enq_receive_complete). Pure. */
#ifndef HVKVM_SYNTHETIC_NETVSP_RXBUF_H
#define HVKVM_SYNTHETIC_NETVSP_RXBUF_H

#include <stdint.h>

struct netvsp_rxbuf {
	uint32_t count;     /* sub-allocations */
	uint32_t sub_alloc; /* bytes each */
	uint32_t nfree;
	uint32_t *free;     /* stack of free slots */
	uint8_t *used;      /* 1 while the guest holds the slot */
	uint32_t epoch;     /* part of every transaction id: completions for an earlier buffer miss */
};

/* buf_size bytes cut into floor(buf_size / sub_alloc) slots. -EINVAL for no slot or sub_alloc
 * 0, -ENOMEM. */
__attribute__((warn_unused_result))
int netvsp_rxbuf_init(struct netvsp_rxbuf *rb, uint32_t buf_size, uint32_t sub_alloc,
		      uint32_t epoch);
void netvsp_rxbuf_destroy(struct netvsp_rxbuf *rb);

/* A free slot, now held by the guest until its completion: 0 or -ENOSPC. */
__attribute__((warn_unused_result))
int netvsp_rxbuf_alloc(struct netvsp_rxbuf *rb, uint32_t *slot);
/* The transaction id to send slot under. */
uint64_t netvsp_rxbuf_trans_id(const struct netvsp_rxbuf *rb, uint32_t slot);
/* The guest completed trans_id: its slot is free again. -ENOENT for an id of another epoch, a
 * slot out of range, or a slot not held (a duplicate completion). */
__attribute__((warn_unused_result))
int netvsp_rxbuf_complete(struct netvsp_rxbuf *rb, uint64_t trans_id);
/* Takes back a slot that never reached the guest. */
void netvsp_rxbuf_release(struct netvsp_rxbuf *rb, uint32_t slot);

#endif
