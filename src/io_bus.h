/* A bus of address ranges (one for port I/O, one for MMIO). Devices register a window and see
 * offsets into it; the bus is built before the vCPUs start and is read-only afterwards. */
#ifndef HVKVM_IO_BUS_H
#define HVKVM_IO_BUS_H

#include <stdint.h>

/* Handlers run on the calling vCPU's thread; a device with state shared with other threads locks
 * it itself. size is 1, 2, 4 or 8. Return 0, or -errno (logged by the caller, the access then
 * reads all-ones / is dropped). */
struct io_dev_ops {
	int (*read)(void *opaque, uint64_t offset, void *data, unsigned size);
	int (*write)(void *opaque, uint64_t offset, const void *data, unsigned size);
};

struct io_range {
	uint64_t base;
	uint64_t len;
	const struct io_dev_ops *ops;
	void *opaque;
	const char *name;
};

struct io_bus {
	const char *name; /* "pio" or "mmio", for messages */
	struct io_range *ranges; /* sorted by base, never overlapping */
	unsigned count;
	unsigned capacity;
};

void io_bus_init(struct io_bus *bus, const char *name);
void io_bus_destroy(struct io_bus *bus);

/* Claims [base, base + len). -EEXIST if it overlaps a range already claimed, -EINVAL for len 0
 * or wrap-around, -ENOMEM. */
__attribute__((warn_unused_result))
int io_bus_add(struct io_bus *bus, uint64_t base, uint64_t len, const struct io_dev_ops *ops,
	       void *opaque, const char *name);

/* The range holding [addr, addr + size), or NULL when none does (unclaimed, or the access
 * straddles a range's end). */
const struct io_range *io_bus_find(const struct io_bus *bus, uint64_t addr, unsigned size);

/* Dispatch an access. An unclaimed read fills data with all-ones. Returns 0, -ENOENT when
 * unclaimed, or the device's error. */
int io_bus_read(const struct io_bus *bus, uint64_t addr, void *data, unsigned size);
int io_bus_write(const struct io_bus *bus, uint64_t addr, const void *data, unsigned size);

#endif
