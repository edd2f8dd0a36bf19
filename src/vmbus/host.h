/* The VMM side of VMBus: the channel-message server on the Hyper-V partition's connections 1
 * and 4, a signal connection per open channel, host -> guest interrupts through the SynIC event
 * flags. Every server call happens under one mutex, on the vCPU thread that posted or signalled. */
#ifndef HVKVM_VMBUS_HOST_H
#define HVKVM_VMBUS_HOST_H

#include <pthread.h>

#include "error.h"
#include "hv-enlight/hv.h"
#include "vmbus/server.h"

struct vmbus_host;

/* How a device hears that the guest signalled one of its channels (the host lock is held). */
typedef void vmbus_channel_notify_fn(void *opaque, struct vmbus_channel *ch);

__attribute__((warn_unused_result))
int vmbus_host_create(struct vmbus_host **out, struct hv_partition *p, const struct guest_mem *mem,
		      unsigned nvps, struct error *err);
/* After the vCPUs have stopped. */
void vmbus_host_destroy(struct vmbus_host *h);

struct vmbus_server *vmbus_host_server(struct vmbus_host *h);
/* Called with the host lock held (device callbacks): what a channel's guest signals reach. */
void vmbus_host_set_notify(struct vmbus_host *h, struct vmbus_channel *ch,
			   vmbus_channel_notify_fn *fn, void *opaque);
/* Interrupts the guest for ch (set its event flag, raise the SINT). */
void vmbus_host_signal_guest(struct vmbus_host *h, struct vmbus_channel *ch);

#endif
