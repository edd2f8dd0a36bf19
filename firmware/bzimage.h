/* Linux bzImage loader: x86 boot protocol 2.12+ (Documentation/arch/x86/boot.rst), 64-bit entry
 * point with a zero page (struct boot_params) at BOOT_INFO_ADDR. */
#ifndef HVKVM_BZIMAGE_H
#define HVKVM_BZIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "firmware/kernel_loader.h"

/* True if the image carries the setup header signature "HdrS" at offset 0x202. */
bool bzimage_detect(const uint8_t *image, size_t size);

/* Places the protected-mode kernel, the command line (cfg->cmdline, NULL = empty), the initrd
 * (initrd_size 0: none) and the zero page; fills entry for the 64-bit entry point. */
__attribute__((warn_unused_result))
int bzimage_load(const struct guest_mem *mem, const struct boot_config *cfg,
		 const uint8_t *image, size_t size, const uint8_t *initrd, size_t initrd_size,
		 struct boot_entry *entry, struct error *err);

#endif
