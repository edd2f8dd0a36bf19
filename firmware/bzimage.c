/* Linux bzImage loader following the x86 boot protocol (Documentation/arch/x86/boot.rst), 2.12+
 * with the 64-bit entry ("64-bit Boot Protocol"): zero page, command line, initrd, e820 table. */
#include "bzimage.h"

#include <errno.h>
#include <string.h>

#include "firmware/boot_layout.h"
#include "firmware/e820.h"

/* Offsets in the image and in the zero page (struct boot_params), named as in boot.rst and
 * zero-page.rst. The setup header sits at the same offsets in both. */
#define BP_ACPI_RSDP_ADDR 0x070
#define BP_E820_ENTRIES 0x1e8
#define BP_HDR 0x1f1 /* setup header start */
#define BP_SETUP_SECTS 0x1f1
#define BP_JUMP 0x200 /* second byte: setup header length from 0x202 */
#define BP_HEADER 0x202
#define BP_VERSION 0x206
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS 0x211
#define BP_CODE32_START 0x214
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_HEAP_END_PTR 0x224
#define BP_CMD_LINE_PTR 0x228
#define BP_INITRD_ADDR_MAX 0x22c
#define BP_KERNEL_ALIGNMENT 0x230
#define BP_RELOCATABLE_KERNEL 0x234
#define BP_XLOADFLAGS 0x236
#define BP_CMDLINE_SIZE 0x238
#define BP_SETUP_DATA 0x250
#define BP_PREF_ADDRESS 0x258
#define BP_INIT_SIZE 0x260
#define BP_HDR_MIN_END 0x264    /* through init_size: what version 2.12 guarantees */
#define BP_HDR_MAX_END 0x290    /* edd_mbr_sig_buffer follows the header */
#define BP_E820_TABLE 0x2d0
#define BP_E820_MAX 128
#define BP_SIZE 0x1000

#define HDRS_MAGIC 0x53726448 /* "HdrS" */
#define LOADED_HIGH 0x01
#define CAN_USE_HEAP 0x80
#define XLF_KERNEL_64 0x01
#define BOOT_PROTO_MIN 0x020c /* 2.12: xloadflags */
#define LOADER_TYPE_UNDEFINED 0xff
#define HEAP_END 0xfe00 /* as a real-mode loader with the setup code at 0x90000 would set */
#define ENTRY_64_OFFSET 0x200
#define PAGE_SIZE 0x1000ULL

static uint16_t rd16(const uint8_t *p, size_t off)
{
	uint16_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static uint32_t rd32(const uint8_t *p, size_t off)
{
	uint32_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static uint64_t rd64(const uint8_t *p, size_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static void wr16(uint8_t *p, size_t off, uint16_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

static void wr32(uint8_t *p, size_t off, uint32_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

static void wr64(uint8_t *p, size_t off, uint64_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

static uint64_t align_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

bool bzimage_detect(const uint8_t *image, size_t size)
{
	return size >= BP_HEADER + 4 && rd32(image, BP_HEADER) == HDRS_MAGIC;
}

/* What the image asks for, read once from the untrusted file and checked. */
struct bz_layout {
	size_t pm_offset;     /* protected-mode part in the file */
	size_t pm_size;
	size_t hdr_end;       /* end of the setup header in the file */
	uint64_t load_addr;   /* where the protected-mode part goes */
	uint64_t kernel_end;  /* end of everything the kernel occupies while booting */
};

static int check_header(const uint8_t *image, size_t size, struct bz_layout *l, struct error *err)
{
	unsigned setup_sects, version;

	if (size < BP_HDR_MIN_END)
		return error_set(err, ENOEXEC, "bzImage: setup header is truncated (%zu bytes)", size);
	version = rd16(image, BP_VERSION);
	if (version < BOOT_PROTO_MIN)
		return error_set(err, ENOEXEC,
				 "bzImage: boot protocol %u.%02u is too old (need 2.12 or later)",
				 version >> 8, version & 0xff);
	if (!(image[BP_LOADFLAGS] & LOADED_HIGH))
		return error_set(err, ENOEXEC, "bzImage: a zImage (loaded low) is not supported");
	if (!(rd16(image, BP_XLOADFLAGS) & XLF_KERNEL_64))
		return error_set(err, ENOEXEC, "bzImage: kernel has no 64-bit entry point");
	setup_sects = image[BP_SETUP_SECTS] ? image[BP_SETUP_SECTS] : 4;
	l->pm_offset = (size_t)(setup_sects + 1) * 512;
	if (l->pm_offset >= size)
		return error_set(err, ENOEXEC, "bzImage: no protected-mode kernel after %u setup sectors",
				 setup_sects);
	l->pm_size = size - l->pm_offset;
	l->hdr_end = BP_HEADER + image[BP_JUMP + 1];
	if (l->hdr_end < BP_HDR_MIN_END)
		l->hdr_end = BP_HDR_MIN_END;
	if (l->hdr_end > BP_HDR_MAX_END)
		l->hdr_end = BP_HDR_MAX_END;
	if (l->hdr_end > size)
		l->hdr_end = size;
	return 0;
}

/* Load address and memory footprint. A relocatable kernel goes to pref_address when that is
 * suitably aligned, else to the first aligned address from 1 MiB; at run time it decompresses to
 * max(aligned load address, pref_address) and needs init_size bytes there. A non-relocatable
 * kernel is loaded at 1 MiB and runs at pref_address. */
static int place_kernel(const struct guest_mem *mem, const uint8_t *image, struct bz_layout *l,
			struct error *err)
{
	uint64_t pref = rd64(image, BP_PREF_ADDRESS);
	uint64_t init_size = rd32(image, BP_INIT_SIZE);
	uint64_t align = rd32(image, BP_KERNEL_ALIGNMENT);
	uint64_t low_end = guest_mem_low_end(mem);
	uint64_t run_start, run_end, load_end;

	if (pref < BOOT_KERNEL_ADDR || pref >= GUEST_MEM_4G)
		pref = BOOT_KERNEL_ADDR;
	if (image[BP_RELOCATABLE_KERNEL]) {
		if (align < PAGE_SIZE || (align & (align - 1)) || align >= GUEST_MEM_4G)
			return error_set(err, ENOEXEC, "bzImage: bad kernel_alignment 0x%llx",
					 (unsigned long long)align);
		l->load_addr = pref % align == 0 ? pref : align_up(BOOT_KERNEL_ADDR, align);
		run_start = align_up(l->load_addr, align);
		if (run_start < pref)
			run_start = pref;
	} else {
		l->load_addr = BOOT_KERNEL_ADDR;
		run_start = pref;
	}
	load_end = l->load_addr + l->pm_size;
	run_end = run_start + init_size;
	l->kernel_end = load_end > run_end ? load_end : run_end;
	if (l->pm_size > low_end || l->kernel_end > low_end)
		return error_set(err, E2BIG,
				 "kernel needs guest memory up to 0x%llx, but RAM below 4 GiB ends at 0x%llx",
				 (unsigned long long)l->kernel_end, (unsigned long long)low_end);
	return 0;
}

static int place_initrd(const struct guest_mem *mem, const struct e820_map *map,
			const uint8_t *image, const struct bz_layout *l, size_t initrd_size,
			uint64_t *addr, struct error *err)
{
	uint64_t hi = (uint64_t)rd32(image, BP_INITRD_ADDR_MAX) + 1;
	int r;

	if (hi > guest_mem_low_end(mem))
		hi = guest_mem_low_end(mem);
	r = e820_place_top(map, align_up(l->kernel_end, PAGE_SIZE), hi, initrd_size, PAGE_SIZE, addr);
	if (r < 0)
		return error_set(err, E2BIG, "initrd (%zu bytes) does not fit in guest memory",
				 initrd_size);
	return 0;
}

static void fill_e820(uint8_t *zp, const struct e820_map *map)
{
	unsigned n = map->nr < BP_E820_MAX ? map->nr : BP_E820_MAX;

	for (unsigned i = 0; i < n; i++) {
		size_t off = BP_E820_TABLE + (size_t)i * 20; /* packed struct boot_e820_entry */

		wr64(zp, off, map->entry[i].addr);
		wr64(zp, off + 8, map->entry[i].size);
		wr32(zp, off + 16, map->entry[i].type);
	}
	zp[BP_E820_ENTRIES] = (uint8_t)n;
}

int bzimage_load(const struct guest_mem *mem, const struct boot_config *cfg,
		 const uint8_t *image, size_t size, const uint8_t *initrd, size_t initrd_size,
		 struct boot_entry *entry, struct error *err)
{
	const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
	size_t cmdline_len = strlen(cmdline);
	struct bz_layout l = { 0 };
	struct e820_map map;
	uint8_t zp[BP_SIZE];
	uint64_t initrd_addr = 0;
	uint32_t cmdline_max;
	int r;

	r = check_header(image, size, &l, err);
	if (r < 0)
		return r;
	cmdline_max = rd32(image, BP_CMDLINE_SIZE); /* excludes the NUL; present since 2.06 */
	if (cmdline_len > cmdline_max || cmdline_len >= BOOT_CMDLINE_MAX)
		return error_set(err, E2BIG,
				 "command line (%zu bytes) is longer than the kernel accepts (%u bytes)",
				 cmdline_len,
				 cmdline_max < BOOT_CMDLINE_MAX - 1 ? cmdline_max : BOOT_CMDLINE_MAX - 1);
	r = place_kernel(mem, image, &l, err);
	if (r < 0)
		return r;
	e820_build(mem, &map);
	if (initrd_size) {
		r = place_initrd(mem, &map, image, &l, initrd_size, &initrd_addr, err);
		if (r < 0)
			return r;
	}

	memset(zp, 0, sizeof(zp));
	memcpy(zp + BP_HDR, image + BP_HDR, l.hdr_end - BP_HDR);
	zp[BP_TYPE_OF_LOADER] = LOADER_TYPE_UNDEFINED;
	zp[BP_LOADFLAGS] |= LOADED_HIGH | CAN_USE_HEAP;
	wr16(zp, BP_HEAP_END_PTR, HEAP_END);
	wr32(zp, BP_CODE32_START, (uint32_t)l.load_addr);
	wr32(zp, BP_CMD_LINE_PTR, BOOT_CMDLINE_ADDR);
	wr32(zp, BP_RAMDISK_IMAGE, (uint32_t)initrd_addr);
	wr32(zp, BP_RAMDISK_SIZE, (uint32_t)initrd_size);
	wr64(zp, BP_SETUP_DATA, 0);
	wr64(zp, BP_ACPI_RSDP_ADDR, cfg->rsdp_gpa);
	fill_e820(zp, &map);

	if (guest_mem_write(mem, l.load_addr, image + l.pm_offset, l.pm_size) < 0 ||
	    (initrd_size && guest_mem_write(mem, initrd_addr, initrd, initrd_size) < 0) ||
	    guest_mem_write(mem, BOOT_CMDLINE_ADDR, cmdline, cmdline_len + 1) < 0 ||
	    guest_mem_write(mem, BOOT_INFO_ADDR, zp, sizeof(zp)) < 0)
		return error_set(err, E2BIG, "guest memory is too small for the kernel");

	*entry = (struct boot_entry){
		.mode = BOOT_CPU_LONG64,
		.rip = l.load_addr + ENTRY_64_OFFSET,
		.rsi = BOOT_INFO_ADDR,
		.rsp = BOOT_STACK_TOP,
	};
	return 0;
}
