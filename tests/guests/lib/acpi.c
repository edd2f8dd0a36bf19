/* Table discovery and the few FADT/DSDT/MADT fields the test guests use (ACPI 6.x, sections
 * 5.2.5 RSDP, 5.2.9 FADT, 5.2.12 MADT, 7.4.2 \_Sx). */
#include "acpi.h"

#include "guest.h"
#include "io.h"

#define FADT_DSDT 40
#define FADT_PM1A_CNT_BLK 64
#define FADT_PM_TMR_BLK 76
#define FADT_CENTURY 108
#define FADT_FLAGS 112
#define FADT_RESET_REG 116
#define FADT_RESET_VALUE 128
#define FADT_X_DSDT 140
#define FADT_FLAG_TMR_VAL_EXT (1u << 8)
#define FADT_FLAG_RESET_REG_SUP (1u << 10)

#define MADT_ENTRIES 44
#define MADT_LOCAL_APIC 0
#define MADT_LOCAL_X2APIC 9
#define MADT_ENABLED 1u

#define AML_ZERO 0x00
#define AML_ONE 0x01
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_PACKAGE 0x12

static const struct acpi_rsdp *rsdp_cache;
static bool rsdp_scanned;

static uint32_t rd32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

bool acpi_sum_ok(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return sum == 0;
}

static const struct acpi_rsdp *scan(uintptr_t start, uintptr_t end)
{
	for (uintptr_t a = start; a + sizeof(struct acpi_rsdp) <= end; a += 16) {
		const struct acpi_rsdp *r = (const void *)a;

		if (memcmp(r->signature, "RSD PTR ", 8) || !acpi_sum_ok(r, 20))
			continue;
		if (r->revision >= 2 && !acpi_sum_ok(r, sizeof(*r)))
			continue;
		return r;
	}
	return NULL;
}

const struct acpi_rsdp *acpi_rsdp(void)
{
	if (!rsdp_scanned) {
		uintptr_t ebda = (uintptr_t)mmio_read16(0x40e) << 4;

		rsdp_scanned = true;
		if (ebda >= 0x80000 && ebda < 0xa0000)
			rsdp_cache = scan(ebda, ebda + 1024);
		if (!rsdp_cache)
			rsdp_cache = scan(0xe0000, 0x100000);
	}
	return rsdp_cache;
}

/* Entries above 4 GiB are not mapped here; skip them. */
static const struct acpi_header *mapped(uint64_t addr)
{
	return addr && addr < 0x100000000ull - sizeof(struct acpi_header) ? (const void *)(uintptr_t)addr
									    : NULL;
}

unsigned acpi_for_each_table(void (*fn)(const struct acpi_header *t, void *ctx), void *ctx)
{
	const struct acpi_rsdp *r = acpi_rsdp();
	const struct acpi_header *root;
	unsigned width, count = 0;

	if (!r)
		return 0;
	if (r->revision >= 2 && r->xsdt_address) {
		root = mapped(r->xsdt_address);
		width = 8;
	} else {
		root = mapped(r->rsdt_address);
		width = 4;
	}
	if (!root)
		return 0;
	const uint8_t *e = (const uint8_t *)(root + 1);
	const uint8_t *end = (const uint8_t *)root + root->length;

	for (; e + width <= end; e += width) {
		const struct acpi_header *t = mapped(width == 8 ? rd64(e) : rd32(e));

		if (!t)
			continue;
		count++;
		if (fn)
			fn(t, ctx);
	}
	return count;
}

struct find_ctx {
	const char *sig;
	const struct acpi_header *found;
};

static void find_one(const struct acpi_header *t, void *ctx)
{
	struct find_ctx *f = ctx;

	if (!f->found && !memcmp(t->signature, f->sig, 4))
		f->found = t;
}

const struct acpi_header *acpi_table(const char *sig)
{
	struct find_ctx f = { sig, NULL };

	if (!memcmp(sig, "DSDT", 4)) {
		const struct acpi_header *fadt = acpi_table("FACP");
		const uint8_t *b = (const uint8_t *)fadt;

		if (!fadt)
			return NULL;
		if (fadt->length >= FADT_X_DSDT + 8 && rd64(b + FADT_X_DSDT))
			return mapped(rd64(b + FADT_X_DSDT));
		return mapped(rd32(b + FADT_DSDT));
	}
	acpi_for_each_table(find_one, &f);
	return f.found;
}

/* Name(_S5, Package(n) { SLP_TYPa, ... }): the first element as a constant. */
static bool dsdt_s5(const struct acpi_header *dsdt, uint8_t *typ)
{
	const uint8_t *b = (const uint8_t *)dsdt, *end = b + dsdt->length;

	for (const uint8_t *p = b + sizeof(*dsdt); p + 8 <= end; p++) {
		if (memcmp(p, "_S5_", 4) || p[4] != AML_PACKAGE)
			continue;
		const uint8_t *q = p + 5;

		q += 1 + (*q >> 6); /* PkgLength: lead byte bits 7-6 count the bytes that follow */
		q++;                /* NumElements */
		if (q + 2 > end)
			return false;
		switch (q[0]) {
		case AML_ZERO:
			*typ = 0;
			return true;
		case AML_ONE:
			*typ = 1;
			return true;
		case AML_BYTE_PREFIX:
		case AML_WORD_PREFIX:
			*typ = q[1];
			return true;
		default:
			return false;
		}
	}
	return false;
}

bool acpi_pm_info(struct acpi_pm *pm)
{
	const struct acpi_header *fadt = acpi_table("FACP"), *dsdt;
	const uint8_t *b = (const uint8_t *)fadt;

	memset(pm, 0, sizeof(*pm));
	if (!fadt || fadt->length < FADT_PM_TMR_BLK + 4)
		return false;
	pm->pm1a_cnt = (uint16_t)rd32(b + FADT_PM1A_CNT_BLK);
	pm->pm_tmr = (uint16_t)rd32(b + FADT_PM_TMR_BLK);
	if (fadt->length >= FADT_FLAGS + 4) {
		uint32_t flags = rd32(b + FADT_FLAGS);

		pm->century = b[FADT_CENTURY];
		pm->tmr_32bit = flags & FADT_FLAG_TMR_VAL_EXT;
		if ((flags & FADT_FLAG_RESET_REG_SUP) && fadt->length > FADT_RESET_VALUE) {
			pm->reset_supported = true;
			pm->reset_space = b[FADT_RESET_REG];
			pm->reset_addr = rd64(b + FADT_RESET_REG + 4);
			pm->reset_value = b[FADT_RESET_VALUE];
		}
	}
	dsdt = acpi_table("DSDT");
	if (dsdt)
		pm->s5_known = dsdt_s5(dsdt, &pm->s5_slp_typ);
	return true;
}

int acpi_madt_cpus(uint32_t *apic_ids, unsigned max)
{
	const struct acpi_header *madt = acpi_table("APIC");
	unsigned n = 0;

	if (!madt)
		return -1;
	const uint8_t *e = (const uint8_t *)madt + MADT_ENTRIES;
	const uint8_t *end = (const uint8_t *)madt + madt->length;

	for (; e + 2 <= end && e[1] >= 2 && e + e[1] <= end; e += e[1]) {
		uint32_t id;

		if (e[0] == MADT_LOCAL_APIC && e[1] >= 8 && (rd32(e + 4) & MADT_ENABLED))
			id = e[3];
		else if (e[0] == MADT_LOCAL_X2APIC && e[1] >= 16 && (rd32(e + 8) & MADT_ENABLED))
			id = rd32(e + 4);
		else
			continue;
		if (n < max)
			apic_ids[n] = id;
		n++;
	}
	return (int)n;
}
