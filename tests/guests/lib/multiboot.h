/* Multiboot v1 boot information (Multiboot Specification 0.6.96, section 3.3) and command-line
 * lookups for the test guests. */
#ifndef GUEST_MULTIBOOT_H
#define GUEST_MULTIBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002u

#define MBI_MEMORY (1u << 0)
#define MBI_BOOTDEV (1u << 1)
#define MBI_CMDLINE (1u << 2)
#define MBI_MODS (1u << 3)
#define MBI_MMAP (1u << 6)
#define MBI_LOADER_NAME (1u << 9)

#define MB_MMAP_RAM 1

struct multiboot_info {
	uint32_t flags;
	uint32_t mem_lower; /* KiB from 0 */
	uint32_t mem_upper; /* KiB from 1 MiB */
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count;
	uint32_t mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length;
	uint32_t mmap_addr;
	uint32_t drives_length;
	uint32_t drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name;
	uint32_t apm_table;
} __attribute__((packed));

struct multiboot_mod {
	uint32_t mod_start;
	uint32_t mod_end; /* exclusive */
	uint32_t string;
	uint32_t reserved;
} __attribute__((packed));

/* size counts the bytes after itself; the next entry starts at (entry + size + 4). */
struct multiboot_mmap_entry {
	uint32_t size;
	uint64_t addr;
	uint64_t len;
	uint32_t type;
} __attribute__((packed));

/* The info block, or NULL when EAX at entry was not the Multiboot magic. */
const struct multiboot_info *mb_info(void);
/* The command line ("" if none). */
const char *mb_cmdline(void);
/* The next memory map entry after prev (NULL: the first); NULL at the end or without a map. */
const struct multiboot_mmap_entry *mb_mmap_next(const struct multiboot_mmap_entry *prev);
unsigned mb_module_count(void);
const struct multiboot_mod *mb_module(unsigned i);

/* Command-line tokens are separated by spaces. cmdline_value copies the value of key=value
 * (true if present); cmdline_flag is true for "key" or "key=..."; cmdline_int parses decimal or
 * 0x-hex, dflt when absent or malformed. */
bool cmdline_value(const char *key, char *out, size_t size);
bool cmdline_flag(const char *key);
long cmdline_int(const char *key, long dflt);

#endif
