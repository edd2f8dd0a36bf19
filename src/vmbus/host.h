/* The VMM side of VMBus: the channel-message server on the Hyper-V partition's connections 1
 * and 4, a signal connection per open channel, host -> guest interrupts through the SynIC event
 * flags.
 *
 * Threads: the server and every VMBus device run on the VM's event loop thread only. The vCPU
 * threads queue the guest's messages and signals for it. So a device's ops (open, close,
 * retarget), its notify function, its I/O completions and vmbus_server_* / vmbus_host_* calls
 * all happen on the loop thread, and a device needs no locks of its own. Devices are created
 * before the loop runs and destroyed after it stopped. */
#ifndef HVKVM_VMBUS_HOST_H
#define HVKVM_VMBUS_HOST_H

#include <pthread.h>

#include "error.h"
#include "event_loop.h"
#include "hv-enlight/hv.h"
#include "vmbus/server.h"

struct vmbus_host;

/* How a device hears that the guest signalled one of its channels (loop thread). Signals
 * coalesce: one call may stand for several HvSignalEvents. */
typedef void vmbus_channel_notify_fn(void *opaque, struct vmbus_channel *ch);

__attribute__((warn_unused_result))
int vmbus_host_create(struct vmbus_host **out, struct hv_partition *p, struct event_loop *loop,
		      const struct guest_mem *mem, unsigned nvps, struct error *err);
/* After the vCPUs have stopped, from the thread that runs the loop (not from inside it). */
void vmbus_host_destroy(struct vmbus_host *h);

struct vmbus_server *vmbus_host_server(struct vmbus_host *h);
/* The loop devices run on: for their own I/O (event_loop_get_sqe) and timers. */
struct event_loop *vmbus_host_loop(struct vmbus_host *h);
/* Loop thread (usually from the device's open op): what ch's guest signals reach. */
void vmbus_host_set_notify(struct vmbus_host *h, struct vmbus_channel *ch,
			   vmbus_channel_notify_fn *fn, void *opaque);
/* Interrupts the guest for ch (set its event flag, raise the SINT). */
void vmbus_host_signal_guest(struct vmbus_host *h, struct vmbus_channel *ch);

#endif
