/* ACPI table builder: RSDP, XSDT, FACS, FADT, MADT and DSDT laid out in one buffer
 * (ACPI 6.5 sections 5.2.5 RSDP, 5.2.6 SDT header, 5.2.8 XSDT, 5.2.9 FADT, 5.2.10 FACS, 5.2.12 MADT). */
#include "firmware/acpi.h"

#include <errno.h>
#include <string.h>

#include "firmware/aml.h"
#include "src/emulated/pc_ports.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ACPI tables are little-endian");

#define ACPI_OEM_ID "HVKVM "
#define ACPI_OEM_TABLE_ID "HVKVM   "
#define ACPI_OEM_REVISION 1
#define ACPI_CREATOR_ID "HVKV"
#define ACPI_CREATOR_REVISION 1

/* CMOS index of the RTC century register (PC/AT convention), named in the FADT. */
#define ACPI_CMOS_CENTURY 0x32

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum; /* over the first 20 bytes (ACPI 1.0 part) */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum; /* over all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP size");
#define ACPI_RSDP_V1_LEN 20

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_header) == 36, "SDT header size");

/* Generic Address Structure, section 5.2.3.2. */
struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS size");
#define ACPI_GAS_SYSTEM_IO 1
#define ACPI_GAS_ACCESS_BYTE 1
#define ACPI_GAS_ACCESS_WORD 2
#define ACPI_GAS_ACCESS_DWORD 3

struct acpi_facs {
	char signature[4];
	uint32_t length;
	uint32_t hardware_signature;
	uint32_t firmware_waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_firmware_waking_vector;
	uint8_t version;
	uint8_t reserved1[3];
	uint32_t ospm_flags;
	uint8_t reserved2[24];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS size");

struct acpi_fadt {
	struct acpi_header header;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved1;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;
	uint8_t reserved2;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t fadt_minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk;
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_identity;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT size (revision 6)");

/* FADT Fixed Feature Flags, Table 5.10. */
#define ACPI_FADT_WBINVD (1u << 0)
#define ACPI_FADT_PROC_C1 (1u << 2)
#define ACPI_FADT_PWR_BUTTON (1u << 4) /* set: no fixed-feature power button */
#define ACPI_FADT_SLP_BUTTON (1u << 5) /* set: no fixed-feature sleep button */
#define ACPI_FADT_FIX_RTC (1u << 6)    /* set: no RTC wake status in PM1 */
#define ACPI_FADT_RESET_REG_SUP (1u << 10)
/* IA-PC Boot Architecture Flags, Table 5.11. Bit 1 (8042) stays clear: no keyboard. */
#define ACPI_IAPC_LEGACY_DEVICES (1u << 0)
#define ACPI_IAPC_VGA_NOT_PRESENT (1u << 2)
/* Latencies above 100 / 1000 us say C2 / C3 are not supported. */
#define ACPI_FADT_NO_C2_LAT 101
#define ACPI_FADT_NO_C3_LAT 1001

struct acpi_madt {
	struct acpi_header header;
	uint32_t local_apic_address;
	uint32_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT header size");
#define ACPI_MADT_PCAT_COMPAT (1u << 0)

#define ACPI_MADT_TYPE_LOCAL_APIC 0
#define ACPI_MADT_TYPE_IO_APIC 1
#define ACPI_MADT_TYPE_INT_SRC_OVERRIDE 2
#define ACPI_MADT_TYPE_LOCAL_APIC_NMI 4

struct acpi_madt_local_apic {
	uint8_t type;
	uint8_t length;
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt_local_apic) == 8, "MADT Local APIC size");
#define ACPI_MADT_LAPIC_ENABLED (1u << 0)

struct acpi_madt_io_apic {
	uint8_t type;
	uint8_t length;
	uint8_t io_apic_id;
	uint8_t reserved;
	uint32_t io_apic_address;
	uint32_t gsi_base;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt_io_apic) == 12, "MADT I/O APIC size");

struct acpi_madt_int_src_override {
	uint8_t type;
	uint8_t length;
	uint8_t bus; /* 0: ISA */
	uint8_t source;
	uint32_t gsi;
	uint16_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt_int_src_override) == 10, "MADT ISO size");
/* MPS INTI flags: polarity bits 1-0 (01 active high), trigger mode bits 3-2 (11 level). */
#define ACPI_MPS_ACTIVE_HIGH_LEVEL 0x000d

struct acpi_madt_local_apic_nmi {
	uint8_t type;
	uint8_t length;
	uint8_t processor_uid; /* 0xFF: all processors */
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt_local_apic_nmi) == 6, "MADT Local APIC NMI size");

/* Tables referenced from the XSDT. */
enum { ACPI_XSDT_FADT, ACPI_XSDT_MADT, ACPI_XSDT_ENTRIES };

/* Where each table sits, as offsets into the caller's buffer. */
struct acpi_layout {
	size_t facs, xsdt, fadt, madt, dsdt;
};

static uint8_t acpi_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)-sum;
}

static void acpi_header_init(struct acpi_header *h, const char *sig, size_t len, uint8_t revision)
{
	memcpy(h->signature, sig, 4);
	h->length = (uint32_t)len;
	h->revision = revision;
	h->checksum = 0;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = ACPI_OEM_REVISION;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = ACPI_CREATOR_REVISION;
}

/* Sets the checksum of the table starting at p (its header says how long it is). */
static void acpi_table_finish(uint8_t *p)
{
	struct acpi_header *h = (struct acpi_header *)p;

	h->checksum = 0;
	h->checksum = acpi_checksum(p, h->length);
}

static struct acpi_gas acpi_io_gas(uint16_t port, unsigned len, uint8_t access)
{
	return (struct acpi_gas){
		.space_id = ACPI_GAS_SYSTEM_IO,
		.bit_width = (uint8_t)(len * 8),
		.access_size = access,
		.address = port,
	};
}

static size_t acpi_align(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static void acpi_write_rsdp(uint8_t *buf, uint64_t xsdt_gpa)
{
	struct acpi_rsdp r = {
		.signature = { 'R', 'S', 'D', ' ', 'P', 'T', 'R', ' ' },
		.revision = 2,
		.length = sizeof(r),
		.xsdt_address = xsdt_gpa,
	};

	memcpy(r.oem_id, ACPI_OEM_ID, 6);
	r.checksum = acpi_checksum((const uint8_t *)&r, ACPI_RSDP_V1_LEN);
	r.extended_checksum = acpi_checksum((const uint8_t *)&r, sizeof(r));
	memcpy(buf, &r, sizeof(r));
}

static void acpi_write_facs(uint8_t *p)
{
	struct acpi_facs f = {
		.signature = { 'F', 'A', 'C', 'S' },
		.length = sizeof(f),
		.version = 2,
	};

	memcpy(p, &f, sizeof(f));
}

static void acpi_write_xsdt(uint8_t *p, const uint64_t *entries, unsigned n)
{
	struct acpi_header h;
	size_t len = sizeof(h) + 8 * (size_t)n;

	acpi_header_init(&h, "XSDT", len, 1);
	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), entries, 8 * (size_t)n);
	acpi_table_finish(p);
}

static void acpi_write_fadt(uint8_t *p, uint64_t facs_gpa, uint64_t dsdt_gpa)
{
	struct acpi_fadt f = {
		.sci_int = PC_SCI_IRQ,
		.smi_cmd = 0, /* ACPI mode is always on: no SMI command port */
		.pm1a_evt_blk = PC_PM1A_EVT_PORT,
		.pm1a_cnt_blk = PC_PM1A_CNT_PORT,
		.pm_tmr_blk = PC_PM_TMR_PORT,
		.pm1_evt_len = PC_PM1A_EVT_LEN,
		.pm1_cnt_len = PC_PM1A_CNT_LEN,
		.pm_tmr_len = PC_PM_TMR_LEN,
		.p_lvl2_lat = ACPI_FADT_NO_C2_LAT,
		.p_lvl3_lat = ACPI_FADT_NO_C3_LAT,
		.century = ACPI_CMOS_CENTURY,
		.iapc_boot_arch = ACPI_IAPC_LEGACY_DEVICES | ACPI_IAPC_VGA_NOT_PRESENT,
		/* PWR_BUTTON clear: a fixed-feature power button (PM1 PWRBTN_STS/EN), so the
		 * VMM can ask for an orderly shutdown; no sleep button, no RTC wake. */
		.flags = ACPI_FADT_WBINVD | ACPI_FADT_PROC_C1 | ACPI_FADT_SLP_BUTTON |
			 ACPI_FADT_FIX_RTC | ACPI_FADT_RESET_REG_SUP,
		.reset_reg = acpi_io_gas(PC_I8042_CMD_PORT, 1, ACPI_GAS_ACCESS_BYTE),
		.reset_value = PC_I8042_RESET_VALUE,
		.fadt_minor_version = 5,
		.x_firmware_ctrl = facs_gpa,
		.x_dsdt = dsdt_gpa,
		.x_pm1a_evt_blk = acpi_io_gas(PC_PM1A_EVT_PORT, PC_PM1A_EVT_LEN, ACPI_GAS_ACCESS_WORD),
		.x_pm1a_cnt_blk = acpi_io_gas(PC_PM1A_CNT_PORT, PC_PM1A_CNT_LEN, ACPI_GAS_ACCESS_WORD),
		.x_pm_tmr_blk = acpi_io_gas(PC_PM_TMR_PORT, PC_PM_TMR_LEN, ACPI_GAS_ACCESS_DWORD),
	};

	/* The 32-bit pointers carry the same addresses when they fit. */
	if (facs_gpa <= UINT32_MAX && dsdt_gpa <= UINT32_MAX) {
		f.firmware_ctrl = (uint32_t)facs_gpa;
		f.dsdt = (uint32_t)dsdt_gpa;
	}
	acpi_header_init(&f.header, "FACP", sizeof(f), 6);
	memcpy(p, &f, sizeof(f));
	acpi_table_finish(p);
}

static size_t acpi_madt_len(unsigned ncpus)
{
	return sizeof(struct acpi_madt) + ncpus * sizeof(struct acpi_madt_local_apic) +
	       sizeof(struct acpi_madt_io_apic) + sizeof(struct acpi_madt_int_src_override) +
	       sizeof(struct acpi_madt_local_apic_nmi);
}

static void acpi_write_madt(uint8_t *p, unsigned ncpus)
{
	struct acpi_madt m = {
		.local_apic_address = PC_LAPIC_ADDR,
		.flags = ACPI_MADT_PCAT_COMPAT,
	};
	struct acpi_madt_io_apic io = {
		.type = ACPI_MADT_TYPE_IO_APIC,
		.length = sizeof(io),
		.io_apic_id = (uint8_t)ncpus,
		.io_apic_address = PC_IOAPIC_ADDR,
		.gsi_base = 0,
	};
	/* The SCI is level-triggered, active high. IRQ 0 keeps the identity mapping: KVM's
	 * default routing sends the in-kernel PIT on GSI 0 to I/O APIC pin 0. */
	struct acpi_madt_int_src_override sci = {
		.type = ACPI_MADT_TYPE_INT_SRC_OVERRIDE,
		.length = sizeof(sci),
		.bus = 0,
		.source = PC_SCI_IRQ,
		.gsi = PC_SCI_IRQ,
		.flags = ACPI_MPS_ACTIVE_HIGH_LEVEL,
	};
	struct acpi_madt_local_apic_nmi nmi = {
		.type = ACPI_MADT_TYPE_LOCAL_APIC_NMI,
		.length = sizeof(nmi),
		.processor_uid = 0xff,
		.flags = 0,
		.lint = 1,
	};
	size_t len = acpi_madt_len(ncpus), off = sizeof(m);

	acpi_header_init(&m.header, "APIC", len, 5);
	memcpy(p, &m, sizeof(m));
	for (unsigned i = 0; i < ncpus; i++) {
		struct acpi_madt_local_apic l = {
			.type = ACPI_MADT_TYPE_LOCAL_APIC,
			.length = sizeof(l),
			.processor_uid = (uint8_t)i,
			.apic_id = (uint8_t)i,
			.flags = ACPI_MADT_LAPIC_ENABLED,
		};

		memcpy(p + off, &l, sizeof(l));
		off += sizeof(l);
	}
	memcpy(p + off, &io, sizeof(io));
	off += sizeof(io);
	memcpy(p + off, &sci, sizeof(sci));
	off += sizeof(sci);
	memcpy(p + off, &nmi, sizeof(nmi));
	acpi_table_finish(p);
}

static void acpi_dsdt_isa_device(struct aml_buf *b, const char *name, const char *hid,
				 unsigned uid, uint16_t port, uint8_t len, unsigned irq)
{
	uint8_t res_bytes[32];
	struct aml_buf res;
	size_t dev;

	aml_init(&res, res_bytes, sizeof(res_bytes));
	aml_res_io(&res, port, port, 1, len);
	aml_res_irq_noflags(&res, irq);
	aml_res_end(&res);
	if (res.err && !b->err)
		b->err = res.err;

	dev = aml_device_begin(b, name);
	aml_name(b, "_HID");
	aml_eisaid(b, hid);
	aml_name(b, "_UID");
	aml_integer(b, uid);
	aml_name(b, "_CRS");
	aml_buffer(b, res.data, res.len);
	aml_end(b, dev);
}

/* The VMBus device (the facts Linux's hv_vmbus checks: _HID "VMBus", MMIO from _CRS). */
static void acpi_dsdt_vmbus(struct aml_buf *b, const struct acpi_config *cfg)
{
	uint8_t res_bytes[32];
	struct aml_buf res;
	size_t dev;

	aml_init(&res, res_bytes, sizeof(res_bytes));
	if (cfg->vmbus_mmio_size)
		aml_res_dword_memory(&res, cfg->vmbus_mmio_base, cfg->vmbus_mmio_size);
	aml_res_end(&res);
	if (res.err && !b->err)
		b->err = res.err;

	dev = aml_device_begin(b, "VMBS");
	aml_name(b, "_HID");
	aml_string(b, "VMBus");
	aml_name(b, "_UID");
	aml_integer(b, 0);
	aml_name(b, "_DDN");
	aml_string(b, "VMBUS");
	aml_name(b, "_CRS");
	aml_buffer(b, res.data, res.len);
	aml_end(b, dev);
}

/* The namespace: \_S5 (soft off) and, under \_SB, one processor device per CPU (ACPI0007, _UID
 * = the MADT processor UID), COM1, the CMOS RTC and, with Hyper-V, the VMBus. */
static void acpi_dsdt_body(struct aml_buf *b, const struct acpi_config *cfg)
{
	unsigned ncpus = cfg->ncpus;
	size_t pkg, sb;

	aml_name(b, "_S5");
	pkg = aml_package_begin(b, 4);
	aml_integer(b, PC_SLP_TYP_S5); /* PM1a_CNT.SLP_TYP */
	aml_integer(b, PC_SLP_TYP_S5); /* PM1b_CNT.SLP_TYP */
	aml_integer(b, 0);
	aml_integer(b, 0);
	aml_end(b, pkg);

	sb = aml_scope_begin(b, "\\_SB");
	for (unsigned i = 0; i < ncpus; i++) {
		static const char hex[] = "0123456789ABCDEF";
		char name[5] = { 'C', hex[(i >> 8) & 15], hex[(i >> 4) & 15], hex[i & 15], 0 };
		size_t dev = aml_device_begin(b, name);

		aml_name(b, "_HID");
		aml_string(b, "ACPI0007");
		aml_name(b, "_UID");
		aml_integer(b, i);
		aml_end(b, dev);
	}
	acpi_dsdt_isa_device(b, "COM1", "PNP0501", 1, PC_COM1_PORT, 8, PC_COM1_IRQ);
	acpi_dsdt_isa_device(b, "RTC", "PNP0B00", 0, PC_RTC_PORT, 2, PC_RTC_IRQ);
	if (cfg->vmbus)
		acpi_dsdt_vmbus(b, cfg);
	aml_end(b, sb);
}

/* Length of the DSDT for cfg, or -errno if its AML cannot be encoded. */
static long acpi_dsdt_len(const struct acpi_config *cfg)
{
	struct aml_buf b;

	aml_init(&b, NULL, SIZE_MAX);
	aml_raw(&b, NULL, sizeof(struct acpi_header));
	acpi_dsdt_body(&b, cfg);
	return aml_finish(&b) < 0 ? aml_finish(&b) : (long)b.len;
}

/* Writes the DSDT at p, where len bytes (from acpi_dsdt_len) are free. */
static int acpi_write_dsdt(uint8_t *p, size_t len, const struct acpi_config *cfg)
{
	struct acpi_header h = { .length = 0 };
	struct aml_buf b;
	int ret;

	aml_init(&b, p, len);
	aml_raw(&b, &h, sizeof(h)); /* filled in once the length is known */
	acpi_dsdt_body(&b, cfg);
	ret = aml_finish(&b);
	if (ret < 0)
		return ret;
	/* Revision 2: integers are 64 bits wide. */
	acpi_header_init(&h, "DSDT", b.len, 2);
	memcpy(p, &h, sizeof(h));
	acpi_table_finish(p);
	return 0;
}

int acpi_build(const struct acpi_config *cfg, uint8_t *buf, size_t buf_size, uint64_t buf_gpa,
	       uint64_t *rsdp_gpa, struct error *err)
{
	struct acpi_layout l;
	uint64_t xsdt_entries[ACPI_XSDT_ENTRIES];
	long dsdt_len;
	int ret;

	if (cfg->ncpus < 1 || cfg->ncpus > ACPI_MAX_CPUS)
		return error_set(err, EINVAL, "ACPI: %u CPUs, the tables describe 1 to %u",
				 cfg->ncpus, ACPI_MAX_CPUS);
	if (buf_gpa % 16 || buf_gpa + buf_size < buf_gpa)
		return error_set(err, EINVAL, "ACPI: table area at 0x%llx (%zu bytes) is unusable",
				 (unsigned long long)buf_gpa, buf_size);

	/* RSDP at 0, the FACS 64-byte aligned, every other table 16-byte aligned, DSDT last. */
	l.facs = acpi_align(sizeof(struct acpi_rsdp), 64);
	l.xsdt = acpi_align(l.facs + sizeof(struct acpi_facs), 16);
	l.fadt = acpi_align(l.xsdt + sizeof(struct acpi_header) + 8 * ACPI_XSDT_ENTRIES, 16);
	l.madt = acpi_align(l.fadt + sizeof(struct acpi_fadt), 16);
	l.dsdt = acpi_align(l.madt + acpi_madt_len(cfg->ncpus), 16);
	dsdt_len = acpi_dsdt_len(cfg);
	if (dsdt_len < 0)
		return error_set(err, (int)-dsdt_len, "ACPI: cannot encode the DSDT: %s",
				 strerror((int)-dsdt_len));
	if (buf_size < l.dsdt || buf_size - l.dsdt < (size_t)dsdt_len)
		return error_set(err, ENOSPC, "ACPI: tables for %u CPUs need %zu bytes, have %zu",
				 cfg->ncpus, l.dsdt + (size_t)dsdt_len, buf_size);

	memset(buf, 0, buf_size);
	ret = acpi_write_dsdt(buf + l.dsdt, (size_t)dsdt_len, cfg);
	if (ret < 0)
		return error_set(err, -ret, "ACPI: cannot encode the DSDT: %s", strerror(-ret));
	acpi_write_facs(buf + l.facs);
	acpi_write_fadt(buf + l.fadt, buf_gpa + l.facs, buf_gpa + l.dsdt);
	acpi_write_madt(buf + l.madt, cfg->ncpus);
	xsdt_entries[ACPI_XSDT_FADT] = buf_gpa + l.fadt;
	xsdt_entries[ACPI_XSDT_MADT] = buf_gpa + l.madt;
	acpi_write_xsdt(buf + l.xsdt, xsdt_entries, ACPI_XSDT_ENTRIES);
	acpi_write_rsdp(buf, buf_gpa + l.xsdt);
	*rsdp_gpa = buf_gpa;
	return 0;
}
