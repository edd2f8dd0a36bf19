/* Receive-buffer slots (see netvsp_rxbuf.h). Transaction id: a marker bit and the epoch in the
 * high half, the slot in the low half. */
#include "synthetic/netvsp_rxbuf.h"

#include <errno.h>
#include <stdlib.h>

#define TID_MARK 0x80000000u

int netvsp_rxbuf_init(struct netvsp_rxbuf *rb, uint32_t buf_size, uint32_t sub_alloc,
		      uint32_t epoch)
{
	uint32_t count = sub_alloc ? buf_size / sub_alloc : 0;

	rb->free = NULL;
	rb->used = NULL;
	rb->count = rb->nfree = 0;
	if (count == 0)
		return -EINVAL;
	rb->free = malloc(count * sizeof(*rb->free));
	rb->used = calloc(count, 1);
	if (!rb->free || !rb->used) {
		netvsp_rxbuf_destroy(rb);
		return -ENOMEM;
	}
	rb->count = rb->nfree = count;
	rb->sub_alloc = sub_alloc;
	rb->epoch = epoch & ~TID_MARK;
	/* Hand out low slots first (popped from the top). */
	for (uint32_t i = 0; i < count; i++)
		rb->free[i] = count - 1 - i;
	return 0;
}

void netvsp_rxbuf_destroy(struct netvsp_rxbuf *rb)
{
	free(rb->free);
	free(rb->used);
	rb->free = NULL;
	rb->used = NULL;
	rb->count = rb->nfree = 0;
}

int netvsp_rxbuf_alloc(struct netvsp_rxbuf *rb, uint32_t *slot)
{
	if (rb->nfree == 0)
		return -ENOSPC;
	*slot = rb->free[--rb->nfree];
	rb->used[*slot] = 1;
	return 0;
}

uint64_t netvsp_rxbuf_trans_id(const struct netvsp_rxbuf *rb, uint32_t slot)
{
	return (uint64_t)(rb->epoch | TID_MARK) << 32 | slot;
}

void netvsp_rxbuf_release(struct netvsp_rxbuf *rb, uint32_t slot)
{
	if (slot < rb->count && rb->used[slot]) {
		rb->used[slot] = 0;
		rb->free[rb->nfree++] = slot;
	}
}

int netvsp_rxbuf_complete(struct netvsp_rxbuf *rb, uint64_t trans_id)
{
	uint32_t slot = (uint32_t)trans_id;

	if ((uint32_t)(trans_id >> 32) != (rb->epoch | TID_MARK) || slot >= rb->count ||
	    !rb->used[slot])
		return -ENOENT;
	netvsp_rxbuf_release(rb, slot);
	return 0;
}
