/* Unit test of the ACPI tables (firmware/acpi.c) and the AML encoder (firmware/aml.c): tables are
 * parsed back by ACPI 6.5 offsets, independently of the builder's structs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/acpi.h"
#include "firmware/aml.h"
#include "firmware/boot_layout.h"
#include "src/emulated/pc_ports.h"
#include "unit.h"

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

struct image {
	uint8_t *buf;
	size_t size;
	uint64_t gpa;
};

/* The table at gpa if it lies in the image, has the signature, a sane length and checksum 0. */
static const uint8_t *table_at(const struct image *im, uint64_t gpa, const char *sig)
{
	const uint8_t *t;
	uint32_t len;

	CHECK(gpa >= im->gpa && gpa - im->gpa + 36 <= im->size);
	if (!(gpa >= im->gpa && gpa - im->gpa + 36 <= im->size))
		return NULL;
	t = im->buf + (gpa - im->gpa);
	len = rd32(t + 4);
	CHECK(memcmp(t, sig, 4) == 0);
	CHECK(len >= 36 && len <= im->size - (gpa - im->gpa));
	if (memcmp(t, sig, 4) != 0 || len < 36 || len > im->size - (gpa - im->gpa))
		return NULL;
	CHECK_EQ(sum(t, len), 0);
	CHECK(memcmp(t + 10, "HVKVM ", 6) == 0);
	return t;
}

static void check_gas_io(const uint8_t *g, uint16_t port, unsigned bits)
{
	CHECK_EQ(g[0], 1); /* SystemIO */
	CHECK_EQ(g[1], bits);
	CHECK_EQ(g[2], 0);
	CHECK_EQ(rd64(g + 4), port);
}

static void check_fadt(const struct image *im, const uint8_t *f)
{
	const uint8_t *dsdt, *facs;
	uint32_t flags;
	uint16_t boot_arch;

	CHECK_EQ(rd32(f + 4), 276);
	CHECK_EQ(f[8], 6);
	/* FACS: FIRMWARE_CTRL (36) and X_FIRMWARE_CTRL (132) agree, 64-byte aligned. */
	CHECK_EQ(rd32(f + 36), rd64(f + 132));
	CHECK_EQ(rd64(f + 132) % 64, 0);
	CHECK(rd64(f + 132) >= im->gpa && rd64(f + 132) - im->gpa + 64 <= im->size);
	facs = im->buf + (rd64(f + 132) - im->gpa);
	CHECK(memcmp(facs, "FACS", 4) == 0);
	CHECK_EQ(rd32(facs + 4), 64);
	/* DSDT (40) and X_DSDT (140). */
	CHECK_EQ(rd32(f + 40), rd64(f + 140));
	dsdt = table_at(im, rd64(f + 140), "DSDT");
	CHECK(dsdt != NULL);
	CHECK_EQ(rd16(f + 46), PC_SCI_IRQ);
	CHECK_EQ(rd32(f + 48), 0); /* SMI_CMD */
	CHECK_EQ(rd32(f + 56), PC_PM1A_EVT_PORT);
	CHECK_EQ(rd32(f + 60), 0);
	CHECK_EQ(rd32(f + 64), PC_PM1A_CNT_PORT);
	CHECK_EQ(rd32(f + 68), 0);
	CHECK_EQ(rd32(f + 76), PC_PM_TMR_PORT);
	CHECK_EQ(rd32(f + 80), 0); /* no GPE0 block */
	CHECK_EQ(f[88], 4);
	CHECK_EQ(f[89], 2);
	CHECK_EQ(f[91], 4);
	boot_arch = rd16(f + 109);
	CHECK_EQ(boot_arch & (1u << 1), 0); /* no 8042 */
	CHECK(boot_arch & (1u << 2));       /* no VGA */
	CHECK_EQ(boot_arch & (1u << 5), 0); /* a CMOS RTC is present */
	flags = rd32(f + 112);
	CHECK(flags & (1u << 10));          /* RESET_REG_SUP */
	CHECK_EQ(flags & (1u << 8), 0);     /* 24-bit PM timer */
	CHECK_EQ(flags & (1u << 20), 0);    /* not hardware-reduced */
	CHECK(flags & (1u << 0));           /* WBINVD */
	CHECK(flags & (1u << 2));           /* PROC_C1 */
	check_gas_io(f + 116, PC_I8042_CMD_PORT, 8);
	CHECK_EQ(f[128], PC_I8042_RESET_VALUE);
	check_gas_io(f + 148, PC_PM1A_EVT_PORT, 32);
	check_gas_io(f + 172, PC_PM1A_CNT_PORT, 16);
	check_gas_io(f + 208, PC_PM_TMR_PORT, 32);
	CHECK_EQ(rd64(f + 160 + 4), 0); /* X_PM1b_EVT_BLK */
}

static void check_madt(const uint8_t *m, unsigned ncpus)
{
	uint8_t seen[256] = { 0 };
	unsigned lapics = 0, ioapics = 0, sci_iso = 0, nmis = 0;
	uint32_t len = rd32(m + 4), off = 44;

	CHECK_EQ(rd32(m + 36), PC_LAPIC_ADDR);
	CHECK(rd32(m + 40) & 1); /* PCAT_COMPAT */
	while (off + 2 <= len) {
		const uint8_t *e = m + off;

		CHECK(e[1] >= 2 && off + e[1] <= len);
		if (e[1] < 2 || off + e[1] > len)
			break;
		switch (e[0]) {
		case 0:
			CHECK_EQ(e[1], 8);
			CHECK_EQ(rd32(e + 4) & 1, 1);
			CHECK_EQ(e[2], e[3]); /* processor UID = APIC ID */
			CHECK(e[3] < ncpus);
			CHECK_EQ(seen[e[3]], 0);
			seen[e[3]] = 1;
			lapics++;
			break;
		case 1:
			CHECK_EQ(e[1], 12);
			CHECK_EQ(e[2], ncpus);
			CHECK_EQ(rd32(e + 4), PC_IOAPIC_ADDR);
			CHECK_EQ(rd32(e + 8), 0);
			ioapics++;
			break;
		case 2:
			CHECK_EQ(e[1], 10);
			CHECK_EQ(e[2], 0);
			CHECK(e[3] != 0); /* IRQ 0 stays identity-mapped */
			if (e[3] == PC_SCI_IRQ) {
				CHECK_EQ(rd32(e + 4), PC_SCI_IRQ);
				CHECK_EQ(rd16(e + 8), 0x000d);
				sci_iso++;
			}
			break;
		case 4:
			CHECK_EQ(e[1], 6);
			CHECK_EQ(e[2], 0xff);
			CHECK_EQ(e[5], 1);
			nmis++;
			break;
		default:
			CHECK(!"unexpected MADT entry type");
		}
		off += e[1];
	}
	CHECK_EQ(off, len);
	CHECK_EQ(lapics, ncpus);
	CHECK_EQ(ioapics, 1);
	CHECK_EQ(sci_iso, 1);
	CHECK_EQ(nmis, 1);
}

static void check_dsdt(const uint8_t *d, unsigned ncpus, bool vmbus)
{
	/* _HID "VMBus", and the DWord memory window 0xE0000000 + 256 MiB in its _CRS. */
	static const uint8_t vmbus_hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0d, 'V', 'M', 'B', 'u', 's', 0 };
	static const uint8_t vmbus_mmio[] = { 0x87, 0x17, 0x00, 0x00, 0x0c, 0x03, 0, 0, 0, 0,
					      0x00, 0x00, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xef,
					      0, 0, 0, 0, 0x00, 0x00, 0x00, 0x10, 0x79, 0x00 };
	static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
				      0x0a, PC_SLP_TYP_S5, 0x0a, PC_SLP_TYP_S5, 0x00, 0x00 };
	static const uint8_t com1_hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01 };
	static const uint8_t com1_io[] = { 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,
					   0x22, 0x10, 0x00, 0x79, 0x00 };
	uint32_t len = rd32(d + 4);
	char last_cpu[5];

	CHECK_EQ(d[8], 2); /* 64-bit integers */
	CHECK(memmem(d + 36, len - 36, s5, sizeof(s5)) != NULL);
	CHECK(memmem(d + 36, len - 36, com1_hid, sizeof(com1_hid)) != NULL);
	CHECK(memmem(d + 36, len - 36, com1_io, sizeof(com1_io)) != NULL);
	CHECK(memmem(d + 36, len - 36, "\\_SB_", 5) != NULL);
	snprintf(last_cpu, sizeof(last_cpu), "C%03X", ncpus - 1);
	CHECK(memmem(d + 36, len - 36, last_cpu, 4) != NULL);
	snprintf(last_cpu, sizeof(last_cpu), "C%03X", ncpus);
	CHECK(memmem(d + 36, len - 36, last_cpu, 4) == NULL);
	CHECK((memmem(d + 36, len - 36, vmbus_hid, sizeof(vmbus_hid)) != NULL) == vmbus);
	CHECK((memmem(d + 36, len - 36, vmbus_mmio, sizeof(vmbus_mmio)) != NULL) == vmbus);
	CHECK((memmem(d + 36, len - 36, "VMBS", 4) != NULL) == vmbus);
}

/* Builds the tables for ncpus and checks them all; returns the bytes used (end of the DSDT). */
static size_t check_build(unsigned ncpus, bool vmbus)
{
	struct acpi_config cfg = { .ncpus = ncpus, .vmbus = vmbus, .vmbus_mmio_base = 0xe0000000,
				   .vmbus_mmio_size = 0x10000000 };
	struct image im = { .size = BOOT_ACPI_SIZE, .gpa = BOOT_ACPI_ADDR };
	struct error err = { .msg = "" };
	const uint8_t *r, *xsdt, *fadt = NULL, *madt = NULL, *dsdt;
	uint64_t rsdp = 0;
	size_t used = 0;
	int rc;

	im.buf = malloc(im.size);
	memset(im.buf, 0xaa, im.size);
	rc = acpi_build(&cfg, im.buf, im.size, im.gpa, &rsdp, &err);
	CHECK_EQ(rc, 0);
	if (rc) {
		fprintf(stderr, "acpi_build(%u): %s\n", ncpus, err.msg);
		free(im.buf);
		return 0;
	}
	CHECK_EQ(rsdp, BOOT_ACPI_ADDR);
	CHECK_EQ(rsdp % 16, 0);

	r = im.buf + (rsdp - im.gpa);
	CHECK(memcmp(r, "RSD PTR ", 8) == 0);
	CHECK_EQ(sum(r, 20), 0);
	CHECK_EQ(r[15], 2);
	CHECK_EQ(rd32(r + 20), 36);
	CHECK_EQ(sum(r, 36), 0);
	CHECK(memcmp(r + 9, "HVKVM ", 6) == 0);

	xsdt = table_at(&im, rd64(r + 24), "XSDT");
	CHECK(xsdt != NULL);
	if (!xsdt)
		goto out;
	CHECK_EQ((rd32(xsdt + 4) - 36) % 8, 0);
	for (uint32_t off = 36; off + 8 <= rd32(xsdt + 4); off += 8) {
		uint64_t gpa = rd64(xsdt + off);
		const uint8_t *t;

		CHECK(gpa >= im.gpa && gpa - im.gpa + 36 <= im.size);
		if (!(gpa >= im.gpa && gpa - im.gpa + 36 <= im.size))
			continue;
		t = im.buf + (gpa - im.gpa);
		if (memcmp(t, "FACP", 4) == 0) {
			CHECK(fadt == NULL);
			fadt = table_at(&im, gpa, "FACP");
		} else if (memcmp(t, "APIC", 4) == 0) {
			CHECK(madt == NULL);
			madt = table_at(&im, gpa, "APIC");
		} else {
			CHECK(!"unexpected XSDT entry");
		}
	}
	CHECK(fadt != NULL);
	CHECK(madt != NULL);
	if (fadt) {
		check_fadt(&im, fadt);
		dsdt = table_at(&im, rd64(fadt + 140), "DSDT");
		if (dsdt) {
			check_dsdt(dsdt, ncpus, vmbus);
			used = (size_t)(dsdt - im.buf) + rd32(dsdt + 4);
			for (size_t i = used; i < im.size; i++) {
				if (im.buf[i]) {
					CHECK(!"tail of the buffer not zeroed");
					break;
				}
			}
		}
	}
	if (madt)
		check_madt(madt, ncpus);
out:
	free(im.buf);
	return used;
}

static void check_errors(size_t used4)
{
	uint8_t *buf = malloc(BOOT_ACPI_SIZE);
	struct acpi_config cfg = { .ncpus = 0 };
	struct error err = { .msg = "" };
	uint64_t rsdp = 0;

	CHECK_EQ(acpi_build(&cfg, buf, BOOT_ACPI_SIZE, BOOT_ACPI_ADDR, &rsdp, &err), -EINVAL);
	CHECK(err.msg[0] != 0);
	err.msg[0] = 0;
	cfg.ncpus = 256;
	CHECK_EQ(acpi_build(&cfg, buf, BOOT_ACPI_SIZE, BOOT_ACPI_ADDR, &rsdp, &err), -EINVAL);
	CHECK(err.msg[0] != 0);

	cfg.ncpus = 4;
	err.msg[0] = 0;
	CHECK_EQ(acpi_build(&cfg, buf, 64, BOOT_ACPI_ADDR, &rsdp, &err), -ENOSPC);
	CHECK(err.msg[0] != 0);
	err.msg[0] = 0;
	CHECK(used4 > 36);
	CHECK_EQ(acpi_build(&cfg, buf, used4 - 1, BOOT_ACPI_ADDR, &rsdp, &err), -ENOSPC);
	CHECK(err.msg[0] != 0);
	CHECK_EQ(acpi_build(&cfg, buf, used4, BOOT_ACPI_ADDR, &rsdp, &err), 0);
	err.msg[0] = 0;
	CHECK_EQ(acpi_build(&cfg, buf, BOOT_ACPI_SIZE, BOOT_ACPI_ADDR + 8, &rsdp, &err), -EINVAL);
	CHECK(err.msg[0] != 0);
	free(buf);
}

static void check_bytes(const struct aml_buf *t, const uint8_t *want, size_t n)
{
	CHECK_EQ(aml_finish(t), 0);
	CHECK_EQ(t->len, n);
	CHECK(t->len == n && memcmp(t->data, want, n) == 0);
}

/* Runs the statements (which write to t) on an empty buffer and compares with the bytes. */
#define CHECK_AML(expect, ...)                                                        \
	do {                                                                          \
		static const uint8_t want_[] = expect;                                \
		aml_init(&t, out, sizeof(out));                                       \
		__VA_ARGS__;                                                          \
		check_bytes(&t, want_, sizeof(want_));                                \
	} while (0)
#define BYTES(...) { __VA_ARGS__ }

static void check_aml(void)
{
	uint8_t big[20000], out[64];
	struct aml_buf b, t;
	size_t mark;

	CHECK_AML(BYTES(0x00), aml_integer(&t, 0));
	CHECK_AML(BYTES(0x01), aml_integer(&t, 1));
	CHECK_AML(BYTES(0x0a, 0x05), aml_integer(&t, 5));
	CHECK_AML(BYTES(0x0b, 0xf8, 0x03), aml_integer(&t, 0x3f8));
	CHECK_AML(BYTES(0x0c, 0x00, 0x00, 0x01, 0x00), aml_integer(&t, 0x10000));
	CHECK_AML(BYTES(0x0e, 1, 0, 0, 0, 1, 0, 0, 0), aml_integer(&t, 0x100000001ull));
	CHECK_AML(BYTES(0x0d, 'a', 'b', 0), aml_string(&t, "ab"));
	CHECK_AML(BYTES('_', 'S', '5', '_'), aml_name_string(&t, "_S5"));
	CHECK_AML(BYTES('\\', '_', 'S', 'B', '_'), aml_name_string(&t, "\\_SB"));
	CHECK_AML(BYTES('\\', 0x00), aml_name_string(&t, "\\"));
	CHECK_AML(BYTES('^', '^', 'A', '_', '_', '_'), aml_name_string(&t, "^^A"));
	CHECK_AML(BYTES('\\', 0x2e, '_', 'S', 'B', '_', 'C', 'O', 'M', '1'),
		  aml_name_string(&t, "\\_SB.COM1"));
	CHECK_AML(BYTES(0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '0', '_', '_'),
		  aml_name_string(&t, "A.B.C0"));
	CHECK_AML(BYTES(0x0c, 0x41, 0xd0, 0x0b, 0x00), aml_eisaid(&t, "PNP0B00"));
	CHECK_AML(BYTES(0x12, 0x04, 0x02, 0x00, 0x01),
		  mark = aml_package_begin(&t, 2); aml_integer(&t, 0); aml_integer(&t, 1);
		  aml_end(&t, mark));
	CHECK_AML(BYTES(0x5b, 0x82, 0x05, 'D', 'E', 'V', '_'),
		  mark = aml_device_begin(&t, "DEV"); aml_end(&t, mark));
	CHECK_AML(BYTES(0x14, 0x09, '_', 'S', 'T', 'A', 0x00, 0xa4, 0x0a, 0x0f),
		  mark = aml_method_begin(&t, "_STA", 0, false); aml_return(&t);
		  aml_integer(&t, 15); aml_end(&t, mark));
	CHECK_AML(BYTES(0x11, 0x05, 0x0a, 0x02, 0x79, 0x00),
		  aml_buffer(&t, "\x79", 2));

	/* PkgLength: 63 fits one byte; 64 needs two; 4096 needs three. */
	for (size_t body = 60; body < 5000; body++) {
		size_t total, got, n;

		aml_init(&b, big, sizeof(big));
		mark = aml_scope_begin(&b, "\\");
		for (size_t i = 2; i < body; i++)
			aml_byte(&b, 0xa3); /* Noop */
		aml_end(&b, mark);
		CHECK_EQ(aml_finish(&b), 0);
		n = (big[1] >> 6) + 1;
		got = n == 1 ? big[1] : (big[1] & 0x0f);
		for (size_t i = 1; i < n; i++)
			got |= (size_t)big[1 + i] << (4 + 8 * (i - 1));
		total = body + n;
		CHECK_EQ(n, total <= 63 ? 1 : total <= 4095 ? 2 : 3);
		CHECK_EQ(got, total);
		CHECK_EQ(b.len, 1 + total);
		CHECK_EQ(big[1 + n], '\\');
		/* Measuring (no buffer) gives the same length. */
		aml_init(&t, NULL, SIZE_MAX);
		mark = aml_scope_begin(&t, "\\");
		for (size_t i = 2; i < body; i++)
			aml_byte(&t, 0xa3);
		aml_end(&t, mark);
		CHECK_EQ(t.len, b.len);
		if (got != total || t.len != b.len)
			break;
	}

	/* Errors stick: a bad name, an overflow. */
	aml_init(&b, big, sizeof(big));
	aml_name_string(&b, "lower");
	CHECK_EQ(aml_finish(&b), -EINVAL);
	aml_init(&b, big, sizeof(big));
	aml_name_string(&b, "TOOLONG");
	CHECK_EQ(aml_finish(&b), -EINVAL);
	aml_init(&b, big, sizeof(big));
	aml_name_string(&b, "A.");
	CHECK_EQ(aml_finish(&b), -EINVAL);
	aml_init(&b, big, sizeof(big));
	aml_eisaid(&b, "PNP05");
	CHECK_EQ(aml_finish(&b), -EINVAL);
	aml_init(&b, big, 3);
	mark = aml_package_begin(&b, 1);
	aml_integer(&b, 7);
	aml_end(&b, mark);
	CHECK_EQ(aml_finish(&b), -ENOSPC);
}

int main(void)
{
	size_t used4;

	check_aml();
	check_build(1, false);
	check_build(1, true);
	used4 = check_build(4, false);
	check_build(255, true);
	check_errors(used4);
	return unit_done("test_acpi");
}
