/* GPADLs (guest physical address descriptor lists) as the VMBus server keeps them: assembled from
 * GPADL_HEADER + GPADL_BODY messages (Linux drivers/hv/channel.c create_gpadl_header), validated
 * against guest RAM, pinned while in use. Private to src/vmbus/; devices use server.h. */
#ifndef HVKVM_VMBUS_GPADL_H
#define HVKVM_VMBUS_GPADL_H

#include <stdbool.h>
#include <stdint.h>

#include "guest_mem.h"
#include "vmbus/server.h"

struct vmbus_gpadl_range {
	uint32_t byte_offset, byte_count;
	uint32_t first, npfns; /* into pfns[] */
};

struct vmbus_gpadl {
	struct vmbus_server *server;
	struct vmbus_gpadl *next;   /* table list; unused once orphaned */
	uint32_t handle;
	uint32_t relid;             /* the channel it was made for */
	uint16_t rangecount;
	uint32_t nentries;          /* range buffer size in 8-byte entries (range_buflen / 8) */
	uint32_t filled;            /* entries received so far */
	uint64_t *entries;          /* the range buffer; page numbers only once complete */
	struct vmbus_gpadl_range *ranges; /* once complete */
	uint32_t npfns;             /* once complete */
	bool complete;
	bool teardown_pending;      /* the guest asked for teardown while pinned */
	bool orphan;                /* out of the table (disconnect, channel freed) but still pinned */
	unsigned pins;              /* ring of an open channel, device gets */
};

struct vmbus_gpadl_table {
	struct vmbus_gpadl *head;
	uint32_t count;
	uint64_t entries; /* sum of nentries over the table */
};

/* Starts a GPADL from a GPADL_HEADER's fixed part. 0; -EEXIST (handle in use), -EINVAL (no range,
 * range_buflen not a multiple of 8 or too small for rangecount ranges of one page each), -ENOSPC
 * (VMBUS_MAX_GPADLS / VMBUS_MAX_GPADL_ENTRIES), -ENOMEM. */
int vmbus_gpadl_begin(struct vmbus_gpadl_table *t, struct vmbus_server *server, uint32_t relid,
		      uint32_t handle, uint16_t rangecount, uint16_t range_buflen,
		      struct vmbus_gpadl **out);
/* Appends range-buffer bytes from a GPADL_HEADER or GPADL_BODY. Whole 8-byte entries are taken
 * up to the declared size; bytes past it are ignored (a client may send full-size messages).
 * 1 when complete and valid, 0 when more is needed, -EINVAL when the ranges are invalid (the
 * caller removes the GPADL), -ENOMEM. */
int vmbus_gpadl_append(struct vmbus_gpadl *g, const uint8_t *data, uint32_t len,
		       const struct guest_mem *mem);
struct vmbus_gpadl *vmbus_gpadl_find(const struct vmbus_gpadl_table *t, uint32_t handle);
/* Unlinks g; frees it unless pinned (then it is an orphan, freed at the last unpin). */
void vmbus_gpadl_remove(struct vmbus_gpadl_table *t, struct vmbus_gpadl *g);
/* Removes every GPADL of relid, or all. */
void vmbus_gpadl_remove_relid(struct vmbus_gpadl_table *t, uint32_t relid);
void vmbus_gpadl_remove_all(struct vmbus_gpadl_table *t);
void vmbus_gpadl_pin(struct vmbus_gpadl *g);
/* Drops a pin (vmbus_gpadl_put is the same). At zero: an orphan is freed; a GPADL whose teardown
 * is pending is handed to vmbus_server_gpadl_released. */
void vmbus_gpadl_unpin(struct vmbus_gpadl *g);

/* Implemented in server.c: a pending teardown may complete (send GPADL_TORNDOWN, remove). */
void vmbus_server_gpadl_released(struct vmbus_server *s, struct vmbus_gpadl *g);

#endif
