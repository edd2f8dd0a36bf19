/* The VMBus test device: a channel that echoes every in-band packet back to the guest (with its
 * transaction id), for the bus tests and bench/vmbus. Class {8f6c1a2e-3d5b-4e7a-9c0d-5b1e2f3a4c6d}. */
#ifndef HVKVM_VMBUS_TEST_DEVICE_H
#define HVKVM_VMBUS_TEST_DEVICE_H

#include <stdbool.h>

#include "vmbus/host.h"

struct vmbus_test_device;

__attribute__((warn_unused_result))
int vmbus_test_device_create(struct vmbus_test_device **out, struct vmbus_host *host,
			     const struct guest_mem *mem, struct error *err);
/* Loop thread: hot remove (RESCIND_CHANNELOFFER) or hot add (a new offer) of the channel.
 * 0, -EALREADY (already in that state), or the server's -errno. */
__attribute__((warn_unused_result))
int vmbus_test_device_set_present(struct vmbus_test_device *d, bool present);
bool vmbus_test_device_present(const struct vmbus_test_device *d);
/* After the VMBus host's server is gone (it closes the channel first). */
void vmbus_test_device_destroy(struct vmbus_test_device *d);

#endif
