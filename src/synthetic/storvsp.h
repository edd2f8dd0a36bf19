/* storvsp: the Hyper-V synthetic SCSI controller, a VMBus device (class HV_SCSI_GUID) for Linux's
 * hv_storvsc and Windows' storvsc. Disks are LUNs 0..STORVSP_MAX_LUNS-1 at path 0, target 0, as
 * Hyper-V places them; each runs on the SCSI disk logic (backend/scsi_disk.h) over a block
 * backend (backend/block.h).
 *
 * Threads: everything runs on the VM's event loop thread (see vmbus/host.h); create before the
 * loop runs, destroy after it stopped. */
#ifndef HVKVM_SYNTHETIC_STORVSP_H
#define HVKVM_SYNTHETIC_STORVSP_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/block.h"
#include "error.h"
#include "guest_mem.h"
#include "vmbus/host.h"

#define STORVSP_MAX_LUNS 64u              /* per controller, as Hyper-V */
#define STORVSP_MAX_TRANSFER_BYTES (2u << 20) /* QUERY_PROPERTIES max_transfer_bytes */
#define STORVSP_MAX_INFLIGHT 256u         /* per channel; the ring is not read beyond it */

struct storvsp;

struct storvsp_disk_config {
	const char *path;
	bool readonly;
	enum block_cache cache;
	uint8_t lun;                      /* < STORVSP_MAX_LUNS */
};

__attribute__((warn_unused_result))
int storvsp_create(struct storvsp **out, struct vmbus_host *host, const struct guest_mem *mem,
		   unsigned nvps, unsigned controller_index, const struct storvsp_disk_config *disks,
		   unsigned ndisks, struct error *err);

/* What storvsp needs from the VMBus host: storvsp_create fills it from a struct vmbus_host;
 * tests bring a bare vmbus_server and their own signal recorder. */
struct storvsp_bus {
	struct vmbus_server *server;
	struct event_loop *loop;
	void (*set_notify)(void *ctx, struct vmbus_channel *ch, vmbus_channel_notify_fn *fn,
			   void *opaque);
	void (*signal_guest)(void *ctx, struct vmbus_channel *ch);
	void *ctx;
};

/* Opens the disks (block_open on bus->loop), offers the controller: instance GUID derived from
 * controller_index, up to min(nvps, VMBUS_MAX_SUBCHANNELS) subchannels. bus is copied. */
__attribute__((warn_unused_result))
int storvsp_create_on_bus(struct storvsp **out, const struct storvsp_bus *bus,
			  const struct guest_mem *mem, unsigned nvps, unsigned controller_index,
			  const struct storvsp_disk_config *disks, unsigned ndisks,
			  struct error *err);

/* Loop thread. Hot add: opens the disk, then tells a running guest to rescan the bus
 * (VSTOR_OPERATION_ENUMERATE_BUS). -EEXIST for a LUN in use, -EINVAL for a bad LUN. */
__attribute__((warn_unused_result))
int storvsp_add_disk(struct storvsp *s, const struct storvsp_disk_config *disk, struct error *err);
/* Loop thread. Hot remove: the LUN answers SRB_STATUS_INVALID_LUN from now on and the guest is
 * told to rescan; requests already running finish normally, then the disk is closed (at once if
 * none runs). -ENOENT for an unknown LUN. */
__attribute__((warn_unused_result))
int storvsp_remove_disk(struct storvsp *s, uint8_t lun, struct error *err);

/* After the VMBus host (or server) is destroyed, which closed the channels: waits for in-flight
 * I/O (block_close runs the loop), closes the disks, frees. NULL is fine. */
/* Loop thread: whether a disk is at lun. */
bool storvsp_lun_used(const struct storvsp *s, uint8_t lun);

void storvsp_destroy(struct storvsp *s);

/* For tests and statistics: guest packets refused so far (malformed, unknown, out of state). */
unsigned long storvsp_protocol_errors(const struct storvsp *s);

#endif
