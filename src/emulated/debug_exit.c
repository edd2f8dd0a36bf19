/* The debug-exit port (see debug_exit.h): a write of v requests MACHINE_DEBUG_EXIT with status
 * (v << 1) | 1, following QEMU's isa-debug-exit device. */
#include "emulated/debug_exit.h"

#include <errno.h>
#include <string.h>

static int debug_exit_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	(void)opaque; (void)offset;
	memset(data, 0xff, size);
	return 0;
}

static int debug_exit_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	struct debug_exit *d = opaque;
	const uint8_t *in = data;
	uint32_t v = 0;

	(void)offset;
	if (size != 1 && size != 2 && size != 4)
		return -EINVAL;
	for (unsigned i = 0; i < size; i++) /* little-endian, like the port access */
		v |= (uint32_t)in[i] << (8 * i);
	machine_request(&d->mc, MACHINE_DEBUG_EXIT, (int)((v << 1) | 1));
	return 0;
}

const struct io_dev_ops debug_exit_ops = {
	.read = debug_exit_read,
	.write = debug_exit_write,
};

void debug_exit_init(struct debug_exit *d, struct machine_control mc)
{
	d->mc = mc;
}
