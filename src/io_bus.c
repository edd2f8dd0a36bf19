/* A bus of address ranges with binary-search dispatch (see io_bus.h). */
#include "io_bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void io_bus_init(struct io_bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
}

void io_bus_destroy(struct io_bus *bus)
{
	free(bus->ranges);
	bus->ranges = NULL;
	bus->count = bus->capacity = 0;
}

/* Index of the first range whose base is > addr. */
static unsigned upper_bound(const struct io_bus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->count;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (bus->ranges[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int io_bus_add(struct io_bus *bus, uint64_t base, uint64_t len, const struct io_dev_ops *ops,
	       void *opaque, const char *name)
{
	unsigned pos;

	if (len == 0 || base + len - 1 < base || !ops)
		return -EINVAL;
	pos = upper_bound(bus, base);
	if (pos > 0) {
		const struct io_range *prev = &bus->ranges[pos - 1];

		if (prev->base + prev->len - 1 >= base)
			return -EEXIST;
	}
	if (pos < bus->count && bus->ranges[pos].base <= base + len - 1)
		return -EEXIST;
	if (bus->count == bus->capacity) {
		unsigned cap = bus->capacity ? bus->capacity * 2 : 16;
		struct io_range *r = realloc(bus->ranges, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		bus->ranges = r;
		bus->capacity = cap;
	}
	memmove(&bus->ranges[pos + 1], &bus->ranges[pos],
		(bus->count - pos) * sizeof(bus->ranges[0]));
	bus->ranges[pos] = (struct io_range){base, len, ops, opaque, name};
	bus->count++;
	return 0;
}

const struct io_range *io_bus_find(const struct io_bus *bus, uint64_t addr, unsigned size)
{
	unsigned pos = upper_bound(bus, addr);
	const struct io_range *r;

	if (pos == 0 || size == 0)
		return NULL;
	r = &bus->ranges[pos - 1];
	if (addr - r->base >= r->len || size > r->len - (addr - r->base))
		return NULL;
	return r;
}

int io_bus_read(const struct io_bus *bus, uint64_t addr, void *data, unsigned size)
{
	const struct io_range *r = io_bus_find(bus, addr, size);

	if (!r || !r->ops->read) {
		memset(data, 0xff, size);
		return r ? 0 : -ENOENT;
	}
	return r->ops->read(r->opaque, addr - r->base, data, size);
}

int io_bus_write(const struct io_bus *bus, uint64_t addr, const void *data, unsigned size)
{
	const struct io_range *r = io_bus_find(bus, addr, size);

	if (!r)
		return -ENOENT;
	if (!r->ops->write)
		return 0;
	return r->ops->write(r->opaque, addr - r->base, data, size);
}
