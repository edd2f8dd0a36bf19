/* The guest's e820 memory map (ACPI spec, "System Address Map Interfaces"; see e820.h) and a
 * first-fit-from-the-top search for placing boot modules in it. */
#include "e820.h"

#include <errno.h>
#include <stdbool.h>

#include "firmware/boot_layout.h"

#define MIB (1ULL << 20)

static void add(struct e820_map *map, uint64_t start, uint64_t end, uint32_t type)
{
	if (end <= start || map->nr >= E820_MAX_ENTRIES)
		return;
	map->entry[map->nr++] = (struct e820_entry){ .addr = start, .size = end - start, .type = type };
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

void e820_build(const struct guest_mem *mem, struct e820_map *map)
{
	uint64_t low_end = guest_mem_low_end(mem);

	map->nr = 0;
	add(map, 0, min_u64(low_end, BOOT_EBDA_START), E820_RAM);
	add(map, BOOT_EBDA_START, BOOT_ACPI_ADDR, E820_RESERVED);
	add(map, BOOT_ACPI_ADDR, BOOT_ACPI_ADDR + BOOT_ACPI_SIZE, E820_ACPI);
	add(map, BOOT_ACPI_ADDR + BOOT_ACPI_SIZE, MIB, E820_RESERVED);
	add(map, MIB, low_end, E820_RAM);
	if (low_end <= E820_IOAPIC_ADDR)
		add(map, E820_IOAPIC_ADDR, E820_IOAPIC_ADDR + 0x1000, E820_RESERVED);
	if (low_end <= E820_LAPIC_ADDR)
		add(map, E820_LAPIC_ADDR, E820_LAPIC_ADDR + 0x1000, E820_RESERVED);
	if (mem->high_size)
		add(map, GUEST_MEM_4G, GUEST_MEM_4G + mem->high_size, E820_RAM);
}

int e820_place_top(const struct e820_map *map, uint64_t lo, uint64_t hi, uint64_t size,
		   uint64_t align, uint64_t *addr)
{
	bool found = false;
	uint64_t best = 0;

	if (align == 0 || (align & (align - 1)))
		return -EINVAL;
	for (unsigned i = 0; i < map->nr; i++) {
		const struct e820_entry *e = &map->entry[i];
		uint64_t start = e->addr > lo ? e->addr : lo;
		uint64_t end = min_u64(e->addr + e->size, hi);
		uint64_t a;

		if (e->type != E820_RAM || end <= start || end - start < size)
			continue;
		a = (end - size) & ~(align - 1);
		if (a < start)
			continue;
		if (!found || a > best)
			best = a;
		found = true;
	}
	if (!found)
		return -E2BIG;
	*addr = best;
	return 0;
}
