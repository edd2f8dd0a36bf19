/* ELF kernel images (System V gABI; ELF32/ELF64, little-endian x86) and the PVH boot ABI (Xen
 * public arch-x86/hvm/start_info.h, entry from the XEN_ELFNOTE_PHYS32_ENTRY note). The ELF reader
 * (elf_kernel_*) is shared with the Multiboot loader. */
#ifndef HVKVM_PVH_H
#define HVKVM_PVH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "firmware/kernel_loader.h"

/* An ELF image whose headers were checked against the file: every PT_LOAD's file range lies in
 * the file and its physical range does not wrap. */
struct elf_kernel {
	bool is64;
	uint64_t entry;     /* e_entry; the physical address if it falls inside a PT_LOAD's vaddr range */
	uint64_t load_lo;   /* physical extent [load_lo, load_hi) of the PT_LOAD segments */
	uint64_t load_hi;
	bool has_pvh;
	uint32_t pvh_entry; /* XEN_ELFNOTE_PHYS32_ENTRY, when has_pvh */
	uint64_t phoff;     /* program header table, for elf_kernel_load */
	unsigned phnum;
};

/* True if the image starts with the ELF magic. */
bool elf_kernel_detect(const uint8_t *image, size_t size);

/* Checks the ELF and program headers and looks for the PVH note (in PT_NOTE segments, else in
 * SHT_NOTE sections). -ENOEXEC with a message for a malformed or non-x86 image. */
__attribute__((warn_unused_result))
int elf_kernel_parse(const uint8_t *image, size_t size, struct elf_kernel *k, struct error *err);

/* Copies each PT_LOAD to guest RAM at p_paddr and zeroes its tail up to p_memsz. Segments must lie
 * in RAM between 1 MiB and the end of RAM below 4 GiB (-ENOEXEC below 1 MiB, -E2BIG beyond RAM). */
__attribute__((warn_unused_result))
int elf_kernel_load(const struct guest_mem *mem, const uint8_t *image, size_t size,
		    const struct elf_kernel *k, struct error *err);

/* Loads an ELF kernel with a PVH note: segments, command line, initrd as module 0 (initrd_size 0:
 * none), hvm_start_info at BOOT_INFO_ADDR, memory map and module list at BOOT_INFO_EXTRA_ADDR;
 * entry in 32-bit protected mode with rbx = start_info. */
__attribute__((warn_unused_result))
int pvh_load(const struct guest_mem *mem, const struct boot_config *cfg,
	     const uint8_t *image, size_t size, const uint8_t *initrd, size_t initrd_size,
	     struct boot_entry *entry, struct error *err);

#endif
