/* Unit tests for the small PC ports: i8042 reset paths, the quiet legacy-port claimer (and the
 * resets at 0x92 and 0xCF9), the debug-exit port. */
#include <string.h>

#include "emulated/debug_exit.h"
#include "emulated/i8042.h"
#include "emulated/legacy_ports.h"
#include "emulated/pc_ports.h"
#include "unit.h"

static int nop_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	(void)opaque; (void)offset;
	memset(data, 0x42, size);
	return 0;
}

static int nop_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	(void)opaque; (void)offset; (void)data; (void)size;
	return 0;
}

static const struct io_dev_ops nop_ops = {nop_read, nop_write};

static void outb(const struct io_bus *bus, uint16_t port, uint8_t v)
{
	CHECK_EQ(io_bus_write(bus, port, &v, 1), 0);
}

static uint8_t inb(const struct io_bus *bus, uint16_t port)
{
	uint8_t v = 0;

	CHECK_EQ(io_bus_read(bus, port, &v, 1), 0);
	return v;
}

static void test_i8042(void)
{
	struct unit_machine_recorder rec = {0};
	struct machine_control mc = unit_machine_control(&rec);
	struct i8042 k;
	struct io_bus bus;

	io_bus_init(&bus, "pio");
	CHECK_EQ(i8042_init(&k, mc), 0);
	CHECK_EQ(io_bus_add(&bus, PC_I8042_DATA_PORT, 1, &i8042_data_ops, &k, "i8042-data"), 0);
	CHECK_EQ(io_bus_add(&bus, PC_I8042_CMD_PORT, 1, &i8042_cmd_ops, &k, "i8042-cmd"), 0);
	CHECK_EQ(inb(&bus, PC_I8042_CMD_PORT) & 0x03, 0); /* no output, input buffer empty */
	CHECK_EQ(inb(&bus, PC_I8042_DATA_PORT), 0);
	outb(&bus, PC_I8042_CMD_PORT, 0xaa); /* self-test: ignored */
	outb(&bus, PC_I8042_CMD_PORT, 0x60); /* write CTR, then its data byte */
	outb(&bus, PC_I8042_DATA_PORT, 0x00);
	outb(&bus, PC_I8042_DATA_PORT, 0x00); /* to the absent keyboard */
	outb(&bus, PC_I8042_CMD_PORT, 0xff); /* pulse no line */
	CHECK_EQ(rec.calls, 0);
	outb(&bus, PC_I8042_CMD_PORT, PC_I8042_RESET_VALUE);
	CHECK_EQ(rec.calls, 1);
	CHECK_EQ(rec.event, MACHINE_RESET);
	/* Output port write keeping bit 0 set: no reset; with bit 0 clear: reset. */
	outb(&bus, PC_I8042_CMD_PORT, 0xd1);
	outb(&bus, PC_I8042_DATA_PORT, 0x03);
	CHECK_EQ(rec.calls, 1);
	outb(&bus, PC_I8042_CMD_PORT, 0xd1);
	outb(&bus, PC_I8042_DATA_PORT, 0x02);
	CHECK_EQ(rec.calls, 2);
	/* A data byte without the command does nothing. */
	outb(&bus, PC_I8042_DATA_PORT, 0x00);
	CHECK_EQ(rec.calls, 2);
	i8042_destroy(&k);
	io_bus_destroy(&bus);
}

static void test_legacy_ports(void)
{
	struct unit_machine_recorder rec = {0};
	struct machine_control mc = unit_machine_control(&rec);
	struct legacy_ports lp;
	struct io_bus bus;
	uint32_t d = 0;
	int nop;

	io_bus_init(&bus, "pio");
	/* Devices registered first keep their ports, even inside a legacy range. */
	CHECK_EQ(io_bus_add(&bus, 0x3f8, 8, &nop_ops, &nop, "com1"), 0);
	CHECK_EQ(io_bus_add(&bus, 0x3b4, 2, &nop_ops, &nop, "something"), 0);
	CHECK_EQ(io_bus_add(&bus, 0xcf8, 8, &nop_ops, &nop, "pci-host"), 0);
	CHECK_EQ(legacy_ports_register(&bus, &lp, mc), 0);
	CHECK_EQ(inb(&bus, 0x3b4), 0x42);
	CHECK_EQ(inb(&bus, 0x3b3), 0xff);
	CHECK_EQ(inb(&bus, 0x3b6), 0xff);
	CHECK_EQ(inb(&bus, 0x3f8), 0x42);
	CHECK_EQ(io_bus_read(&bus, 0xcf8, &d, 4), 0);
	CHECK_EQ(d, 0x42424242u);
	io_bus_destroy(&bus);

	io_bus_init(&bus, "pio");
	CHECK_EQ(legacy_ports_register(&bus, &lp, mc), 0);
	/* Nothing KVM handles in the kernel is claimed. */
	static const uint16_t kernel_ports[] = {0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1,
						0x40, 0x41, 0x42, 0x43, 0x61};
	for (size_t i = 0; i < sizeof(kernel_ports) / sizeof(kernel_ports[0]); i++)
		CHECK(io_bus_find(&bus, kernel_ports[i], 1) == NULL);
	/* Nor hvkvm's own devices. */
	CHECK(io_bus_find(&bus, PC_COM1_PORT, 1) == NULL);
	CHECK(io_bus_find(&bus, PC_RTC_PORT, 1) == NULL);
	CHECK(io_bus_find(&bus, PC_I8042_DATA_PORT, 1) == NULL);
	CHECK(io_bus_find(&bus, PC_I8042_CMD_PORT, 1) == NULL);
	CHECK(io_bus_find(&bus, PC_PM_BASE, 1) == NULL);
	/* Absent hardware reads all-ones. */
	CHECK_EQ(inb(&bus, 0x80), 0xff);
	outb(&bus, 0x80, 0x12);
	CHECK_EQ(inb(&bus, 0x2f8 + 1), 0xff); /* COM2 IER: Linux's probe finds no UART */
	CHECK_EQ(inb(&bus, 0x1f7), 0xff);
	CHECK_EQ(inb(&bus, 0x3d5), 0xff);
	/* PCI mechanism #1 without a bus: the address does not stick, config reads all-ones. */
	d = 0x80000000u;
	CHECK_EQ(io_bus_write(&bus, 0xcf8, &d, 4), 0);
	CHECK_EQ(io_bus_read(&bus, 0xcf8, &d, 4), 0);
	CHECK_EQ(d, 0xffffffffu);
	CHECK_EQ(io_bus_read(&bus, 0xcfc, &d, 4), 0);
	CHECK_EQ(d, 0xffffffffu);
	CHECK_EQ(rec.calls, 0);
	/* Port 0x92: A20 set, bit 0 resets. */
	CHECK_EQ(inb(&bus, 0x92), 0x02);
	outb(&bus, 0x92, 0x02);
	CHECK_EQ(rec.calls, 0);
	outb(&bus, 0x92, 0x03);
	CHECK_EQ(rec.calls, 1);
	CHECK_EQ(rec.event, MACHINE_RESET);
	CHECK_EQ(inb(&bus, 0x92), 0x02);
	/* 0xCF9 reset control, as Linux's reboot=pci writes it. */
	outb(&bus, 0xcf9, 0x02);
	CHECK_EQ(rec.calls, 1);
	CHECK_EQ(inb(&bus, 0xcf9), 0x02);
	outb(&bus, 0xcf9, 0x06);
	CHECK_EQ(rec.calls, 2);
	io_bus_destroy(&bus);
}

static void test_debug_exit(void)
{
	struct unit_machine_recorder rec = {0};
	struct debug_exit d;
	uint8_t b[4] = {0};
	uint16_t w = 0x10;
	uint32_t l = 0x7f;

	debug_exit_init(&d, unit_machine_control(&rec));
	CHECK_EQ(debug_exit_ops.read(&d, 0, b, 4), 0);
	CHECK_EQ(b[0] & b[1] & b[2] & b[3], 0xff);
	CHECK_EQ(rec.calls, 0);
	b[0] = 0x00;
	CHECK_EQ(debug_exit_ops.write(&d, 0, b, 1), 0);
	CHECK_EQ(rec.event, MACHINE_DEBUG_EXIT);
	CHECK_EQ(rec.status, 1);
	b[0] = 0x31;
	CHECK_EQ(debug_exit_ops.write(&d, 0, b, 1), 0);
	CHECK_EQ(rec.status, 0x63);
	CHECK_EQ(debug_exit_ops.write(&d, 0, &w, 2), 0);
	CHECK_EQ(rec.status, 0x21);
	CHECK_EQ(debug_exit_ops.write(&d, 0, &l, 4), 0);
	CHECK_EQ(rec.status, 0xff);
	CHECK_EQ(rec.calls, 4);
	CHECK(debug_exit_ops.write(&d, 0, &l, 3) < 0);
	CHECK_EQ(rec.calls, 4);
}

int main(void)
{
	test_i8042();
	test_legacy_ports();
	test_debug_exit();
	return unit_done("test_legacy");
}
