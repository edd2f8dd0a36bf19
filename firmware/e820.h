/* The guest's physical memory map in BIOS e820 terms (ACPI spec, "System Address Map Interfaces"),
 * built from the RAM layout of a struct guest_mem and the fixed low-memory layout of boot_layout.h. */
#ifndef HVKVM_E820_H
#define HVKVM_E820_H

#include <stdint.h>

#include "src/guest_mem.h"

enum e820_type {
	E820_RAM = 1,
	E820_RESERVED = 2,
	E820_ACPI = 3, /* ACPI reclaim: tables the OS may reuse once parsed */
	E820_NVS = 4,
};

/* Fixed MMIO pages below 4 GiB reported as reserved. */
#define E820_IOAPIC_ADDR 0xfec00000ULL
#define E820_LAPIC_ADDR 0xfee00000ULL

#define E820_MAX_ENTRIES 16

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* enum e820_type */
};

/* Sorted by address, non-overlapping. */
struct e820_map {
	unsigned nr;
	struct e820_entry entry[E820_MAX_ENTRIES];
};

/* RAM [0, EBDA), reserved [EBDA, ACPI), ACPI [ACPI, +size), reserved up to 1 MiB, RAM [1 MiB, low
 * end), the IOAPIC and LAPIC pages, RAM [4 GiB, 4 GiB + high_size). RAM entries are clipped to
 * the RAM that exists. */
void e820_build(const struct guest_mem *mem, struct e820_map *map);

/* Highest address a, a multiple of align (a power of two), with [a, a + size) inside one RAM entry
 * and inside [lo, hi). Returns 0 and sets *addr, or -E2BIG if there is no such range. */
__attribute__((warn_unused_result))
int e820_place_top(const struct e820_map *map, uint64_t lo, uint64_t hi, uint64_t size,
		   uint64_t align, uint64_t *addr);

#endif
