/* The VMBus test device (see test_device.h): open maps the channel's two rings, a guest signal
 * drains the inbound ring and echoes each in-band packet on the outbound ring. */
#include "vmbus/test_device.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "log.h"
#include "vmbus/packet.h"
#include "vmbus/protocol.h"
#include "vmbus/ring.h"

struct vmbus_test_device {
	struct vmbus_host *host;
	const struct guest_mem *mem;
	struct vmbus_device *dev;
	struct vmbus_ring in, out;
	bool open;
	uint64_t buf[4096 / 8]; /* one packet, copied out of the ring */
};

static void echo(void *opaque, struct vmbus_channel *ch)
{
	struct vmbus_test_device *d = opaque;
	bool signal = false;

	vmbus_ring_mask_interrupts(&d->in);
	do {
		for (;;) {
			struct vmbus_packet pkt;
			bool need_signal = false;
			int ret = vmbus_ring_peek(&d->in, &pkt, d->buf, sizeof(d->buf));

			if (ret == -EAGAIN)
				break;
			if (ret == -ENOBUFS) {
				vmbus_ring_consume(&d->in);
				continue;
			}
			if (ret < 0) { /* a malformed ring cannot be resynchronised */
				log_guest_fault("vmbus-test", "malformed ring: the echo stops");
				vmbus_host_set_notify(d->host, ch, NULL, NULL);
				return;
			}
			if (pkt.type == VM_PKT_DATA_INBAND) {
				struct iovec iov = {(void *)pkt.data, pkt.data_len};

				ret = vmbus_ring_write(&d->out, VM_PKT_DATA_INBAND, 0, pkt.trans_id,
						       &iov, 1, &need_signal);
				if (ret == -EAGAIN)
					break; /* the guest reads its ring, then signals again */
				signal |= need_signal;
			}
			vmbus_ring_consume(&d->in);
		}
		signal |= vmbus_ring_commit_read(&d->in);
	} while (vmbus_ring_unmask_interrupts(&d->in) && (vmbus_ring_mask_interrupts(&d->in), true));
	if (signal)
		vmbus_host_signal_guest(d->host, ch);
}

static int test_open(void *opaque, struct vmbus_channel *ch, const struct vmbus_open_request *req)
{
	struct vmbus_test_device *d = opaque;
	int ret;

	if (d->open)
		return -EBUSY;
	ret = vmbus_ring_init_channel(&d->in, &d->out, d->mem, vmbus_gpadl_pfns(req->ring),
				      req->ring_pages, req->downstream_ring_offset);
	if (ret < 0)
		return ret;
	d->open = true;
	vmbus_host_set_notify(d->host, ch, echo, d);
	return 0;
}

static void test_close(void *opaque, struct vmbus_channel *ch)
{
	struct vmbus_test_device *d = opaque;

	(void)ch;
	if (!d->open)
		return;
	vmbus_ring_destroy(&d->in);
	vmbus_ring_destroy(&d->out);
	d->open = false;
}

static const struct vmbus_device_ops test_ops = {.open = test_open, .close = test_close};

static int offer(struct vmbus_test_device *d)
{
	const struct vmbus_device_desc desc = {
		.if_type = VMBUS_GUID(0x8f6c1a2e, 0x3d5b, 0x4e7a, 0x9c, 0x0d, 0x5b, 0x1e, 0x2f, 0x3a,
				      0x4c, 0x6d),
		.if_instance = VMBUS_GUID(0x8f6c1a2e, 0x0000, 0x0000, 0x00, 0x00, 0x00, 0x00, 0x00,
					  0x00, 0x00, 0x01),
		.name = "test-echo",
		.ops = &test_ops,
		.opaque = d,
	};

	return vmbus_server_add_device(vmbus_host_server(d->host), &desc, &d->dev);
}

int vmbus_test_device_set_present(struct vmbus_test_device *d, bool present)
{
	if (present == (d->dev != NULL))
		return -EALREADY;
	if (present)
		return offer(d);
	vmbus_server_remove_device(vmbus_host_server(d->host), d->dev);
	d->dev = NULL;
	return 0;
}

bool vmbus_test_device_present(const struct vmbus_test_device *d)
{
	return d->dev != NULL;
}

int vmbus_test_device_create(struct vmbus_test_device **out, struct vmbus_host *host,
			     const struct guest_mem *mem, struct error *err)
{
	struct vmbus_test_device *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return error_set(err, ENOMEM, "out of memory");
	d->host = host;
	d->mem = mem;
	ret = offer(d);
	if (ret < 0) {
		free(d);
		return error_set(err, -ret, "cannot add the VMBus test device: %s", strerror(-ret));
	}
	*out = d;
	return 0;
}

void vmbus_test_device_destroy(struct vmbus_test_device *d)
{
	free(d);
}
