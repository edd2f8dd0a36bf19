/* Known-but-not-emulated PC ports (see legacy_ports.h), after the IBM PC/AT port map, the PS/2
 * system control port A and the PIIX reset control register at 0xCF9. */
#include "emulated/legacy_ports.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define PORT92_RESET 0x01 /* fast reset */
#define PORT92_A20 0x02
#define CF9_RST_CPU 0x04 /* 0->1 with SYS_RST or not: reset */

static int absent_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	(void)opaque; (void)offset;
	memset(data, 0xff, size);
	return 0;
}

static int absent_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	(void)opaque; (void)offset; (void)data; (void)size;
	return 0;
}

static const struct io_dev_ops absent_ops = {
	.read = absent_read,
	.write = absent_write,
};

static int port92_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	struct legacy_ports *lp = opaque;

	(void)offset;
	memset(data, 0xff, size);
	*(uint8_t *)data = lp->port92;
	return 0;
}

static int port92_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	struct legacy_ports *lp = opaque;
	uint8_t v = *(const uint8_t *)data;

	(void)offset; (void)size;
	lp->port92 = v & ~PORT92_RESET;
	if (v & PORT92_RESET)
		machine_request(&lp->mc, MACHINE_RESET, 0);
	return 0;
}

static const struct io_dev_ops port92_ops = {
	.read = port92_read,
	.write = port92_write,
};

/* 0xCF8-0xCFF: configuration mechanism #1 with no bus behind it (so config reads are
 * all-ones and a guest finds no PCI), plus the byte-wide reset control register at 0xCF9. */
static int pci_conf_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	struct legacy_ports *lp = opaque;

	memset(data, 0xff, size);
	if (offset == 1 && size == 1)
		*(uint8_t *)data = lp->rst_cnt;
	return 0;
}

static int pci_conf_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	struct legacy_ports *lp = opaque;
	uint8_t v;

	if (offset != 1 || size != 1)
		return 0;
	v = *(const uint8_t *)data;
	lp->rst_cnt = v & ~CF9_RST_CPU;
	if (v & CF9_RST_CPU)
		machine_request(&lp->mc, MACHINE_RESET, 0);
	return 0;
}

static const struct io_dev_ops pci_conf_ops = {
	.read = pci_conf_read,
	.write = pci_conf_write,
};

struct legacy_range {
	uint16_t base;
	uint16_t len;
	const char *name;
	const struct io_dev_ops *ops; /* NULL: absent_ops, and the range may be claimed in parts */
};

static const struct legacy_range ranges[] = {
	{0x000, 0x20, "dma1", NULL},
	{0x022, 0x02, "imcr", NULL},
	{0x080, 0x01, "post", NULL},
	{0x081, 0x0f, "dma-page", NULL},
	{0x092, 0x01, "port92", &port92_ops},
	{0x0c0, 0x20, "dma2", NULL},
	{0x0ed, 0x01, "delay", NULL},
	{0x170, 0x08, "ide2", NULL},
	{0x1f0, 0x08, "ide1", NULL},
	{0x278, 0x08, "lpt2", NULL},
	{0x2e8, 0x08, "com4", NULL},
	{0x2f8, 0x08, "com2", NULL},
	{0x376, 0x01, "ide2-ctl", NULL},
	{0x378, 0x08, "lpt1", NULL},
	{0x3b0, 0x30, "vga", NULL},
	{0x3e8, 0x08, "com3", NULL},
	{0x3f0, 0x08, "floppy", NULL}, /* with 0x3F6, the primary IDE control port */
	{0x510, 0x0c, "fw_cfg", NULL},
	{0xcf8, 0x08, "pci-conf", &pci_conf_ops},
};

static bool claimed(const struct io_bus *pio, uint64_t port)
{
	return io_bus_find(pio, port, 1) != NULL;
}

/* Claims the free runs of ports in r (absent_ops behave the same at every offset). */
static int claim_free_parts(struct io_bus *pio, const struct legacy_range *r)
{
	uint64_t p = r->base, end = (uint64_t)r->base + r->len;

	while (p < end) {
		uint64_t start;
		int ret;

		while (p < end && claimed(pio, p))
			p++;
		start = p;
		while (p < end && !claimed(pio, p))
			p++;
		if (p == start)
			break;
		ret = io_bus_add(pio, start, p - start, &absent_ops, NULL, r->name);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int legacy_ports_register(struct io_bus *pio, struct legacy_ports *lp, struct machine_control mc)
{
	lp->mc = mc;
	lp->port92 = PORT92_A20;
	lp->rst_cnt = 0;
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		const struct legacy_range *r = &ranges[i];
		int ret;

		if (!r->ops) {
			ret = claim_free_parts(pio, r);
		} else {
			/* Offset-dependent: all or nothing. */
			ret = io_bus_add(pio, r->base, r->len, r->ops, lp, r->name);
			if (ret == -EEXIST)
				ret = 0;
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}
