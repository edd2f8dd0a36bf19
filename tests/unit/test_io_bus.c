/* io bus: registration (overlaps, wrap, order), dispatch (offsets, sizes, straddling, unknown). */
#include <errno.h>
#include <string.h>

#include "src/io_bus.h"
#include "unit.h"

struct fake_dev {
	uint64_t last_offset;
	unsigned last_size;
	uint32_t value;
	unsigned writes;
};

static int fake_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	struct fake_dev *d = opaque;

	d->last_offset = offset;
	d->last_size = size;
	memcpy(data, &d->value, size > 4 ? 4 : size);
	return 0;
}

static int fake_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	struct fake_dev *d = opaque;

	d->last_offset = offset;
	d->last_size = size;
	d->value = 0;
	memcpy(&d->value, data, size > 4 ? 4 : size);
	d->writes++;
	return 0;
}

static int failing_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	(void)opaque, (void)offset, (void)data, (void)size;
	return -EIO;
}

static const struct io_dev_ops fake_ops = {.read = fake_read, .write = fake_write};
static const struct io_dev_ops write_only_failing = {.write = failing_write};

static void test_registration(void)
{
	struct io_bus bus;
	struct fake_dev a = {0}, b = {0};

	io_bus_init(&bus, "pio");
	CHECK_EQ(io_bus_add(&bus, 0x3f8, 8, &fake_ops, &a, "com1"), 0);
	CHECK_EQ(io_bus_add(&bus, 0x3f8, 8, &fake_ops, &b, "dup"), -EEXIST);
	CHECK_EQ(io_bus_add(&bus, 0x3f0, 9, &fake_ops, &b, "overlap-below"), -EEXIST);
	CHECK_EQ(io_bus_add(&bus, 0x3ff, 1, &fake_ops, &b, "overlap-last"), -EEXIST);
	CHECK_EQ(io_bus_add(&bus, 0x3fc, 1, &fake_ops, &b, "inside"), -EEXIST);
	CHECK_EQ(io_bus_add(&bus, 0x300, 0x200, &fake_ops, &b, "covering"), -EEXIST);
	CHECK_EQ(io_bus_add(&bus, 0x400, 0, &fake_ops, &b, "empty"), -EINVAL);
	CHECK_EQ(io_bus_add(&bus, UINT64_MAX - 1, 4, &fake_ops, &b, "wraps"), -EINVAL);
	CHECK_EQ(io_bus_add(&bus, 0x3f0, 8, &fake_ops, &b, "adjacent-below"), 0);
	CHECK_EQ(io_bus_add(&bus, 0x400, 1, &fake_ops, &b, "adjacent-above"), 0);
	CHECK_EQ(io_bus_add(&bus, 0x10, 1, NULL, &b, "no-ops"), -EINVAL);
	/* Many registrations out of order keep the bus sorted and searchable. */
	for (unsigned i = 0; i < 100; i++)
		CHECK_EQ(io_bus_add(&bus, 0x10000 + (99 - i) * 16, 16, &fake_ops, &b, "many"), 0);
	CHECK_EQ(bus.count, 103);
	for (unsigned i = 1; i < bus.count; i++)
		CHECK(bus.ranges[i - 1].base + bus.ranges[i - 1].len <= bus.ranges[i].base);
	CHECK(io_bus_find(&bus, 0x10000 + 50 * 16 + 3, 1) != NULL);
	io_bus_destroy(&bus);
}

static void test_dispatch(void)
{
	struct io_bus bus;
	struct fake_dev com = {.value = 0x11223344}, rom = {.value = 0xabcd};
	uint8_t b8;
	uint16_t b16;
	uint32_t b32;

	io_bus_init(&bus, "mmio");
	CHECK_EQ(io_bus_add(&bus, 0x1000, 8, &fake_ops, &com, "dev"), 0);
	CHECK_EQ(io_bus_add(&bus, 0x2000, 0x1000, &write_only_failing, &rom, "wo"), 0);

	CHECK_EQ(io_bus_read(&bus, 0x1005, &b8, 1), 0);
	CHECK_EQ(com.last_offset, 5);
	CHECK_EQ(com.last_size, 1);
	CHECK_EQ(b8, 0x44);
	CHECK_EQ(io_bus_read(&bus, 0x1004, &b32, 4), 0);
	CHECK_EQ(b32, 0x11223344);
	CHECK_EQ(io_bus_write(&bus, 0x1006, &(uint16_t){0xbeef}, 2), 0);
	CHECK_EQ(com.last_offset, 6);
	CHECK_EQ(com.value, 0xbeef);

	/* Straddling the end of a window, or outside any: unclaimed, reads all-ones. */
	b32 = 0;
	CHECK_EQ(io_bus_read(&bus, 0x1006, &b32, 4), -ENOENT);
	CHECK_EQ(b32, 0xffffffff);
	b16 = 0;
	CHECK_EQ(io_bus_read(&bus, 0x0fff, &b16, 2), -ENOENT);
	CHECK_EQ(b16, 0xffff);
	CHECK_EQ(io_bus_read(&bus, 0x5000, &b8, 1), -ENOENT);
	CHECK_EQ(b8, 0xff);
	CHECK_EQ(io_bus_write(&bus, 0x5000, &b8, 1), -ENOENT);
	CHECK_EQ(io_bus_read(&bus, 0x1000, &b8, 0), -ENOENT);

	/* A window without a read handler reads all-ones; a failing handler's error comes back. */
	b32 = 0;
	CHECK_EQ(io_bus_read(&bus, 0x2ffc, &b32, 4), 0);
	CHECK_EQ(b32, 0xffffffff);
	CHECK_EQ(io_bus_write(&bus, 0x2000, &b32, 4), -EIO);
	CHECK(io_bus_find(&bus, 0x2fff, 1) != NULL);
	CHECK(io_bus_find(&bus, 0x2fff, 2) == NULL);
	io_bus_destroy(&bus);
}

int main(void)
{
	test_registration();
	test_dispatch();
	return unit_done("test_io_bus");
}
