/* Fixed guest-physical addresses used while loading a kernel (below 1 MiB, as on a PC). */
#ifndef HVKVM_BOOT_LAYOUT_H
#define HVKVM_BOOT_LAYOUT_H

#define BOOT_GDT_ADDR 0x500        /* flat GDT written by vcpu_setup */
#define BOOT_INFO_ADDR 0x7000      /* boot_params, hvm_start_info or multiboot info (one page) */
#define BOOT_INFO_EXTRA_ADDR 0x8000/* PVH memmap / multiboot mmap + module list (one page) */
#define BOOT_PML4_ADDR 0x9000      /* identity page tables for 64-bit entry: PML4, PDPT, 4 PDs */
#define BOOT_PDPT_ADDR 0xa000
#define BOOT_PD_ADDR 0xb000        /* 4 pages: identity map of the low 4 GiB with 2 MiB pages */
#define BOOT_STACK_TOP 0x1f000     /* initial stack for kernels that want one */
#define BOOT_CMDLINE_ADDR 0x20000
#define BOOT_CMDLINE_MAX 0x10000   /* bytes, including the NUL */
#define BOOT_EBDA_START 0x9fc00    /* RAM ends here in low memory; [EBDA, 1 MiB) is reserved */
#define BOOT_ACPI_ADDR 0xe0000     /* ACPI tables, RSDP first (BIOS area scan finds it) */
#define BOOT_ACPI_SIZE 0x20000
#define BOOT_KERNEL_ADDR 0x100000  /* protected-mode kernel */

#endif
