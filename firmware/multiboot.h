/* Multiboot v1 kernel loader (Multiboot Specification 0.6.96), as QEMU's -kernel accepts it:
 * a.out-kludge address fields or an ELF32/ELF64 image, entered in 32-bit protected mode. */
#ifndef HVKVM_MULTIBOOT_H
#define HVKVM_MULTIBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "firmware/kernel_loader.h"

/* True if a Multiboot header (magic 0x1BADB002 with a valid checksum, 4-byte aligned) lies in the
 * first 8192 bytes of the image. */
bool multiboot_detect(const uint8_t *image, size_t size);

/* Loads the kernel, the command line ("kernel_path cmdline", as QEMU passes it), the initrd as
 * module 0 named by the basename of cfg->initrd_path (initrd_size 0: no module) and the multiboot
 * information at BOOT_INFO_ADDR (mmap, module list and strings at BOOT_INFO_EXTRA_ADDR); entry in
 * 32-bit protected mode with eax = 0x2BADB002 and ebx = the multiboot information. */
__attribute__((warn_unused_result))
int multiboot_load(const struct guest_mem *mem, const struct boot_config *cfg,
		   const uint8_t *image, size_t size, const uint8_t *initrd, size_t initrd_size,
		   struct boot_entry *entry, struct error *err);

#endif
