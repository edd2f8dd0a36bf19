/* Multiboot v1 loader (Multiboot Specification 0.6.96, sections 3.1 header, 3.2 machine state,
 * 3.3 boot information), accepting what QEMU's -kernel accepts. */
#include "multiboot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "firmware/boot_layout.h"
#include "firmware/e820.h"
#include "firmware/pvh.h"
#include "src/log.h"

#define MULTIBOOT_HEADER_MAGIC 0x1BADB002u
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u
#define MULTIBOOT_SEARCH 8192
#define MULTIBOOT_PAGE_ALIGN 0x00000001u  /* modules page-aligned: always done */
#define MULTIBOOT_MEMORY_INFO 0x00000002u /* mem_* and mmap: always given */
#define MULTIBOOT_VIDEO_MODE 0x00000004u  /* ignored, as QEMU does */
#define MULTIBOOT_REQUIRED_MASK 0x0000ffffu
#define MULTIBOOT_AOUT_KLUDGE 0x00010000u

#define MULTIBOOT_INFO_MEMORY 0x001u
#define MULTIBOOT_INFO_CMDLINE 0x004u
#define MULTIBOOT_INFO_MODS 0x008u
#define MULTIBOOT_INFO_MEM_MAP 0x040u
#define MULTIBOOT_INFO_BOOT_LOADER_NAME 0x200u

/* Layout of the BOOT_INFO_EXTRA_ADDR page. */
#define MB_MMAP_OFF 0x000
#define MB_MODS_OFF 0x200
#define MB_MOD_STRING_OFF 0x210
#define MB_MOD_STRING_MAX 0x100
#define MB_LOADER_NAME_OFF 0x400
#define MB_LOADER_NAME "hvkvm"

#define PAGE_SIZE 0x1000ULL
#define MIB (1ULL << 20)

struct multiboot_header {
	uint32_t magic;
	uint32_t flags;
	uint32_t checksum;
	uint32_t header_addr; /* the rest only with MULTIBOOT_AOUT_KLUDGE */
	uint32_t load_addr;
	uint32_t load_end_addr;
	uint32_t bss_end_addr;
	uint32_t entry_addr;
};

struct multiboot_info {
	uint32_t flags;
	uint32_t mem_lower;
	uint32_t mem_upper;
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
	uint32_t vbe_control_info;
	uint32_t vbe_mode_info;
	uint16_t vbe_mode;
	uint16_t vbe_interface_seg;
	uint16_t vbe_interface_off;
	uint16_t vbe_interface_len;
	uint64_t framebuffer_addr;
	uint32_t framebuffer_pitch;
	uint32_t framebuffer_width;
	uint32_t framebuffer_height;
	uint8_t framebuffer_bpp;
	uint8_t framebuffer_type;
	uint8_t color_info[6];
} __attribute__((packed));
_Static_assert(sizeof(struct multiboot_info) == 116, "multiboot_info layout");

struct multiboot_mod_list {
	uint32_t mod_start;
	uint32_t mod_end;
	uint32_t cmdline;
	uint32_t pad;
};
_Static_assert(sizeof(struct multiboot_mod_list) == 16, "multiboot_mod_list layout");

struct multiboot_mmap_entry {
	uint32_t size; /* of the rest of the entry: 20 */
	uint64_t addr;
	uint64_t len;
	uint32_t type;
} __attribute__((packed));
_Static_assert(sizeof(struct multiboot_mmap_entry) == 24, "multiboot_mmap_entry layout");

static bool find_header(const uint8_t *image, size_t size, size_t *off)
{
	size_t end = size < MULTIBOOT_SEARCH ? size : MULTIBOOT_SEARCH;

	for (size_t o = 0; o + 12 <= end; o += 4) {
		uint32_t w[3];

		memcpy(w, image + o, sizeof(w));
		if (w[0] == MULTIBOOT_HEADER_MAGIC && (uint32_t)(w[0] + w[1] + w[2]) == 0) {
			*off = o;
			return true;
		}
	}
	return false;
}

bool multiboot_detect(const uint8_t *image, size_t size)
{
	size_t off;

	return find_header(image, size, &off);
}

/* The a.out kludge: the header's address fields say which part of the file goes where. */
static int load_aout(const struct guest_mem *mem, const uint8_t *image, size_t size,
		     size_t hdr_off, const struct multiboot_header *h, uint64_t *kernel_end,
		     struct error *err)
{
	uint64_t low_end = guest_mem_low_end(mem);
	uint64_t file_off, load_size, mem_size;
	uint8_t *dst;

	if (h->header_addr < h->load_addr || h->header_addr - h->load_addr > hdr_off)
		return error_set(err, ENOEXEC,
				 "Multiboot: header_addr 0x%x and load_addr 0x%x do not match the file",
				 h->header_addr, h->load_addr);
	file_off = hdr_off - (h->header_addr - h->load_addr);
	if (h->load_end_addr) {
		if (h->load_end_addr < h->load_addr)
			return error_set(err, ENOEXEC, "Multiboot: load_end_addr is below load_addr");
		load_size = h->load_end_addr - h->load_addr;
	} else {
		load_size = size - file_off;
	}
	if (load_size > size - file_off)
		return error_set(err, ENOEXEC, "Multiboot: load_end_addr lies beyond the end of the file");
	mem_size = load_size;
	if (h->bss_end_addr) {
		if (h->bss_end_addr < h->load_addr + load_size)
			return error_set(err, ENOEXEC, "Multiboot: bss_end_addr is below load_end_addr");
		mem_size = h->bss_end_addr - h->load_addr;
	}
	if (h->load_addr < BOOT_KERNEL_ADDR)
		return error_set(err, ENOEXEC, "Multiboot: kernel at 0x%x lies below 1 MiB", h->load_addr);
	dst = h->load_addr + mem_size <= low_end ? guest_mem_ptr(mem, h->load_addr, mem_size) : NULL;
	if (!dst)
		return error_set(err, E2BIG,
				 "kernel [0x%x, 0x%llx) does not fit in guest memory "
				 "(RAM below 4 GiB ends at 0x%llx)", h->load_addr,
				 (unsigned long long)(h->load_addr + mem_size),
				 (unsigned long long)low_end);
	memcpy(dst, image + file_off, load_size);
	memset(dst + load_size, 0, mem_size - load_size);
	*kernel_end = h->load_addr + mem_size;
	return 0;
}

static int load_kernel(const struct guest_mem *mem, const uint8_t *image, size_t size,
		       uint64_t *entry, uint64_t *kernel_end, struct error *err)
{
	struct multiboot_header h = { 0 };
	struct elf_kernel k;
	size_t off;
	int r;

	if (!find_header(image, size, &off))
		return error_set(err, ENOEXEC, "Multiboot: no header in the first %d bytes",
				 MULTIBOOT_SEARCH);
	memcpy(&h, image + off, size - off < sizeof(h) ? size - off : sizeof(h));
	if (h.flags & MULTIBOOT_REQUIRED_MASK &
	    ~(MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO | MULTIBOOT_VIDEO_MODE))
		return error_set(err, ENOEXEC, "Multiboot: header requires unsupported features (flags 0x%x)",
				 h.flags);
	if (h.flags & MULTIBOOT_VIDEO_MODE)
		log_warn("multiboot", "kernel asks for a video mode; ignored");
	if (h.flags & MULTIBOOT_AOUT_KLUDGE) {
		if (size - off < sizeof(h))
			return error_set(err, ENOEXEC, "Multiboot: header address fields are truncated");
		*entry = h.entry_addr;
		return load_aout(mem, image, size, off, &h, kernel_end, err);
	}
	if (!elf_kernel_detect(image, size))
		return error_set(err, ENOEXEC,
				 "Multiboot: kernel is not ELF and its header has no address fields");
	r = elf_kernel_parse(image, size, &k, err);
	if (r < 0)
		return r;
	if (k.entry >= GUEST_MEM_4G)
		return error_set(err, ENOEXEC, "Multiboot: ELF entry point 0x%llx is above 4 GiB",
				 (unsigned long long)k.entry);
	r = elf_kernel_load(mem, image, size, &k, err);
	if (r < 0)
		return r;
	*entry = k.entry;
	*kernel_end = k.load_hi;
	return 0;
}

/* "kernel_path cmdline", as QEMU builds it: kernels such as kvm-unit-tests take the first word
 * as their program name. */
static int write_cmdline(const struct guest_mem *mem, const struct boot_config *cfg,
			 struct error *err)
{
	const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
	size_t len = strlen(cfg->kernel_path) + 1 + strlen(cmdline);
	char *dst;

	if (len >= BOOT_CMDLINE_MAX)
		return error_set(err, E2BIG,
				 "command line with the kernel path (%zu bytes) is longer than %u bytes",
				 len, BOOT_CMDLINE_MAX - 1);
	dst = guest_mem_ptr(mem, BOOT_CMDLINE_ADDR, len + 1);
	if (!dst)
		return error_set(err, E2BIG, "guest memory is too small for the command line");
	snprintf(dst, len + 1, "%s %s", cfg->kernel_path, cmdline);
	return 0;
}

static int write_info(const struct guest_mem *mem, const struct boot_config *cfg,
		      uint64_t mod_addr, size_t initrd_size, struct error *err)
{
	uint64_t low_end = guest_mem_low_end(mem);
	struct multiboot_mmap_entry mmap[E820_MAX_ENTRIES];
	struct multiboot_mod_list mod = { 0 };
	struct multiboot_info mbi = { 0 };
	char mod_string[MB_MOD_STRING_MAX] = "";
	struct e820_map map;
	int r = 0;

	e820_build(mem, &map);
	for (unsigned i = 0; i < map.nr; i++)
		mmap[i] = (struct multiboot_mmap_entry){
			.size = sizeof(mmap[i]) - sizeof(mmap[i].size),
			.addr = map.entry[i].addr, .len = map.entry[i].size, .type = map.entry[i].type,
		};
	mbi.flags = MULTIBOOT_INFO_MEMORY | MULTIBOOT_INFO_CMDLINE | MULTIBOOT_INFO_MODS |
		    MULTIBOOT_INFO_MEM_MAP | MULTIBOOT_INFO_BOOT_LOADER_NAME;
	mbi.mem_lower = (low_end < BOOT_EBDA_START ? low_end : BOOT_EBDA_START) / 1024;
	mbi.mem_upper = low_end > MIB ? (low_end - MIB) / 1024 : 0;
	mbi.cmdline = BOOT_CMDLINE_ADDR;
	mbi.mods_addr = BOOT_INFO_EXTRA_ADDR + MB_MODS_OFF;
	mbi.mmap_addr = BOOT_INFO_EXTRA_ADDR + MB_MMAP_OFF;
	mbi.mmap_length = map.nr * sizeof(mmap[0]);
	mbi.boot_loader_name = BOOT_INFO_EXTRA_ADDR + MB_LOADER_NAME_OFF;
	if (initrd_size) {
		const char *slash = cfg->initrd_path ? strrchr(cfg->initrd_path, '/') : NULL;
		const char *base = slash ? slash + 1 : cfg->initrd_path ? cfg->initrd_path : "";

		snprintf(mod_string, sizeof(mod_string), "%s", base);
		mod = (struct multiboot_mod_list){
			.mod_start = (uint32_t)mod_addr,
			.mod_end = (uint32_t)(mod_addr + initrd_size),
			.cmdline = BOOT_INFO_EXTRA_ADDR + MB_MOD_STRING_OFF,
		};
		mbi.mods_count = 1;
	}
	_Static_assert(MB_MMAP_OFF + sizeof(mmap) <= MB_MODS_OFF, "mmap overlaps the module list");
	if (guest_mem_write(mem, BOOT_INFO_EXTRA_ADDR + MB_MMAP_OFF, mmap, mbi.mmap_length) < 0 ||
	    guest_mem_write(mem, BOOT_INFO_EXTRA_ADDR + MB_MODS_OFF, &mod, sizeof(mod)) < 0 ||
	    guest_mem_write(mem, BOOT_INFO_EXTRA_ADDR + MB_MOD_STRING_OFF, mod_string,
			    strlen(mod_string) + 1) < 0 ||
	    guest_mem_write(mem, BOOT_INFO_EXTRA_ADDR + MB_LOADER_NAME_OFF, MB_LOADER_NAME,
			    sizeof(MB_LOADER_NAME)) < 0 ||
	    guest_mem_write(mem, BOOT_INFO_ADDR, &mbi, sizeof(mbi)) < 0)
		r = error_set(err, E2BIG, "guest memory is too small for the boot information");
	return r;
}

int multiboot_load(const struct guest_mem *mem, const struct boot_config *cfg,
		   const uint8_t *image, size_t size, const uint8_t *initrd, size_t initrd_size,
		   struct boot_entry *entry, struct error *err)
{
	uint64_t kernel_entry = 0, kernel_end = 0, mod_addr = 0;
	struct e820_map map;
	int r;

	r = load_kernel(mem, image, size, &kernel_entry, &kernel_end, err);
	if (r < 0)
		return r;
	r = write_cmdline(mem, cfg, err);
	if (r < 0)
		return r;
	if (initrd_size) {
		e820_build(mem, &map);
		r = e820_place_top(&map, (kernel_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1),
				   guest_mem_low_end(mem), initrd_size, PAGE_SIZE, &mod_addr);
		if (r < 0)
			return error_set(err, E2BIG, "initrd (%zu bytes) does not fit in guest memory",
					 initrd_size);
		if (guest_mem_write(mem, mod_addr, initrd, initrd_size) < 0)
			return error_set(err, E2BIG, "initrd (%zu bytes) does not fit in guest memory",
					 initrd_size);
	}
	r = write_info(mem, cfg, mod_addr, initrd_size, err);
	if (r < 0)
		return r;
	*entry = (struct boot_entry){
		.mode = BOOT_CPU_PROTECTED32,
		.rip = kernel_entry,
		.rax = MULTIBOOT_BOOTLOADER_MAGIC,
		.rbx = BOOT_INFO_ADDR,
		.rsp = BOOT_STACK_TOP,
	};
	return 0;
}
