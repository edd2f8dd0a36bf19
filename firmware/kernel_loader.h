/* Loads a guest kernel into RAM and says how to enter it: Linux bzImage (64-bit entry of the
 * x86 boot protocol), ELF vmlinux with a PVH entry note, or a Multiboot v1 kernel. */
#ifndef HVKVM_KERNEL_LOADER_H
#define HVKVM_KERNEL_LOADER_H

#include <stdint.h>

#include "src/error.h"
#include "src/guest_mem.h"

enum boot_cpu_mode {
	BOOT_CPU_PROTECTED32, /* flat 32-bit protected mode, paging off (PVH, Multiboot) */
	BOOT_CPU_LONG64,      /* long mode, identity map of the low 4 GiB (bzImage 64-bit entry) */
};

/* The BSP's state at entry; registers not named are zero. */
struct boot_entry {
	enum boot_cpu_mode mode;
	uint64_t rip;
	uint64_t rax; /* Multiboot: 0x2BADB002 */
	uint64_t rbx; /* PVH: hvm_start_info; Multiboot: multiboot info */
	uint64_t rsi; /* bzImage: boot_params */
	uint64_t rsp;
};

struct boot_config {
	const char *kernel_path;
	const char *initrd_path; /* NULL: none */
	const char *cmdline;     /* NULL: empty */
	uint64_t rsdp_gpa;       /* 0: no ACPI */
};

/* Reads the files, places kernel, command line, initrd and the boot information (with the e820
 * map of mem) in guest RAM. On failure fills err with one line naming the problem; returns
 * -errno (-ENOENT/-EACCES for files, -ENOEXEC for an unknown format, -E2BIG when something does
 * not fit in guest memory). */
__attribute__((warn_unused_result))
int kernel_load(const struct guest_mem *mem, const struct boot_config *cfg,
		struct boot_entry *entry, struct error *err);

#endif
