/* Just enough ACPI for the test guests: find the RSDP in the BIOS area, look tables up through the
 * XSDT (or RSDT), read the FADT's PM ports and reset register, \_S5's SLP_TYP, the MADT's CPUs. */
#ifndef GUEST_ACPI_H
#define GUEST_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct acpi_rsdp {
	char signature[8]; /* "RSD PTR " */
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length; /* revision >= 2 from here */
	uint64_t xsdt_address;
	uint8_t extended_checksum;
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_rsdp) == 36, "rsdp");

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_header) == 36, "sdt header");

/* What the FADT and DSDT say about power management (0 / false when absent). */
struct acpi_pm {
	uint16_t pm1a_cnt;
	uint16_t pm_tmr;
	bool tmr_32bit;
	uint8_t century;      /* CMOS index of the century, 0 if none */
	bool s5_known;
	uint8_t s5_slp_typ;
	bool reset_supported; /* FADT RESET_REG_SUP */
	uint8_t reset_space;  /* 0 memory, 1 system I/O */
	uint64_t reset_addr;
	uint8_t reset_value;
};

bool acpi_sum_ok(const void *p, size_t len);
/* Scans 0xE0000-0xFFFFF (and the EBDA) once; NULL if there is no valid RSDP. */
const struct acpi_rsdp *acpi_rsdp(void);
/* The first table with this signature (checksum not enforced; see acpi_sum_ok), or NULL. The
 * DSDT is found through the FADT. */
const struct acpi_header *acpi_table(const char *sig);
/* Calls fn for each table the root table lists; returns the count. */
unsigned acpi_for_each_table(void (*fn)(const struct acpi_header *t, void *ctx), void *ctx);
/* Fills pm from the FADT and DSDT; false without a FADT. */
bool acpi_pm_info(struct acpi_pm *pm);
/* Enabled processors in the MADT (Local APIC and Local x2APIC entries): writes up to max APIC
 * IDs, returns the count (which may exceed max), or -1 without a MADT. */
int acpi_madt_cpus(uint32_t *apic_ids, unsigned max);

#endif
