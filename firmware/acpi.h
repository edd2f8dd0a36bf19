/* ACPI tables built at VM start: RSDP, XSDT, FADT, FACS, MADT and DSDT for the PC board of
 * src/emulated/pc_ports.h (ACPI 6.5 chapter 5). */
#ifndef HVKVM_ACPI_H
#define HVKVM_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/error.h"

#define ACPI_MAX_CPUS 255

struct acpi_config {
	unsigned ncpus;        /* 1..255, APIC IDs and ACPI processor UIDs 0..ncpus-1 */
	bool vmbus;            /* \_SB.VMBS (_HID "VMBus"), the device Linux's hv_vmbus binds to */
	uint32_t vmbus_mmio_base; /* its MMIO window for devices that need one (synthetic video, */
	uint32_t vmbus_mmio_size; /* vPCI); 0: none */
};

/* Lays out all tables in buf, which the VMM copies to guest-physical buf_gpa (BOOT_ACPI_ADDR,
 * BOOT_ACPI_SIZE bytes). The RSDP sits at offset 0 (16-byte aligned, so the BIOS-area scan of
 * 0xE0000-0xFFFFF finds it); its gpa is stored in *rsdp_gpa. Unused bytes of buf are zeroed.
 * The FADT's 32-bit DSDT/FACS pointers are filled only when the buffer lies below 4 GiB.
 * Returns 0, -EINVAL for a bad config (ncpus out of range, buf_gpa not 16-byte aligned or
 * wrapping), or -ENOSPC when buf is too small; err names the problem. */
__attribute__((warn_unused_result))
int acpi_build(const struct acpi_config *cfg, uint8_t *buf, size_t buf_size, uint64_t buf_gpa,
	       uint64_t *rsdp_gpa, struct error *err);

#endif
