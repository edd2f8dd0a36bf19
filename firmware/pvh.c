/* ELF kernel reader (System V gABI program headers and notes) and the PVH boot ABI (Xen public
 * arch-x86/hvm/start_info.h; entry point from the XEN_ELFNOTE_PHYS32_ENTRY note). */
#include "pvh.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

#include "firmware/boot_layout.h"
#include "firmware/e820.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define XEN_HVM_START_MAGIC_VALUE 0x336ec578
#define PAGE_SIZE 0x1000ULL

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;   /* version 1 */
	uint32_t memmap_entries; /* version 1 */
	uint32_t reserved;
};
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry layout");

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry layout");

/* One program header, whichever the class. */
struct elf_phdr {
	uint32_t type;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

static bool in_file(size_t size, uint64_t off, uint64_t len)
{
	return off <= size && len <= size - off;
}

static uint64_t align_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

bool elf_kernel_detect(const uint8_t *image, size_t size)
{
	return size >= SELFMAG && memcmp(image, ELFMAG, SELFMAG) == 0;
}

static void read_phdr(const uint8_t *image, const struct elf_kernel *k, unsigned i,
		      struct elf_phdr *ph)
{
	if (k->is64) {
		Elf64_Phdr p;

		memcpy(&p, image + k->phoff + (uint64_t)i * sizeof(p), sizeof(p));
		*ph = (struct elf_phdr){ p.p_type, p.p_offset, p.p_vaddr, p.p_paddr,
					 p.p_filesz, p.p_memsz, p.p_align };
	} else {
		Elf32_Phdr p;

		memcpy(&p, image + k->phoff + (uint64_t)i * sizeof(p), sizeof(p));
		*ph = (struct elf_phdr){ p.p_type, p.p_offset, p.p_vaddr, p.p_paddr,
					 p.p_filesz, p.p_memsz, p.p_align };
	}
}

/* Walks the notes in [off, off + len) of the file (already checked to lie in it); a malformed
 * note ends the walk. */
static int scan_notes(const uint8_t *image, uint64_t off, uint64_t len, uint64_t align,
		      struct elf_kernel *k, struct error *err)
{
	const uint8_t *p = image + off;
	uint64_t pos = 0;

	align = align == 8 ? 8 : 4;
	while (len - pos >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr n;
		uint64_t name_off, desc_off, value;

		memcpy(&n, p + pos, sizeof(n));
		name_off = pos + sizeof(n);
		if (n.n_namesz > len - name_off)
			break;
		desc_off = name_off + align_up(n.n_namesz, align);
		if (desc_off > len || n.n_descsz > len - desc_off)
			break;
		if (n.n_type == XEN_ELFNOTE_PHYS32_ENTRY && n.n_namesz == 4 &&
		    memcmp(p + name_off, "Xen", 4) == 0 && (n.n_descsz == 4 || n.n_descsz == 8)) {
			value = 0;
			memcpy(&value, p + desc_off, n.n_descsz);
			if (value == 0 || value >= GUEST_MEM_4G)
				return error_set(err, ENOEXEC, "ELF kernel: bad PVH entry point 0x%llx",
						 (unsigned long long)value);
			k->has_pvh = true;
			k->pvh_entry = (uint32_t)value;
			return 0;
		}
		pos = desc_off + align_up(n.n_descsz, align);
		if (pos > len)
			break;
	}
	return 0;
}

/* Section notes, for images whose notes are not covered by a PT_NOTE. A section table that does
 * not fit in the file is ignored: loading does not need it. */
static int scan_section_notes(const uint8_t *image, size_t size, uint64_t shoff, unsigned shnum,
			      unsigned shentsize, struct elf_kernel *k, struct error *err)
{
	size_t want = k->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);

	if (shoff == 0 || shentsize != want || !in_file(size, shoff, (uint64_t)shnum * want))
		return 0;
	for (unsigned i = 0; i < shnum && !k->has_pvh; i++) {
		const uint8_t *s = image + shoff + (uint64_t)i * want;
		uint64_t type, off, len, align;
		int r;

		if (k->is64) {
			Elf64_Shdr sh;

			memcpy(&sh, s, sizeof(sh));
			type = sh.sh_type, off = sh.sh_offset, len = sh.sh_size, align = sh.sh_addralign;
		} else {
			Elf32_Shdr sh;

			memcpy(&sh, s, sizeof(sh));
			type = sh.sh_type, off = sh.sh_offset, len = sh.sh_size, align = sh.sh_addralign;
		}
		if (type != SHT_NOTE || !in_file(size, off, len))
			continue;
		r = scan_notes(image, off, len, align, k, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The class-independent part of the ELF header. */
struct elf_ehdr {
	uint16_t type, machine;
	uint64_t entry, phoff, shoff;
	unsigned phentsize, phnum, shentsize, shnum;
};

static int read_ehdr(const uint8_t *image, size_t size, struct elf_kernel *k, struct elf_ehdr *e,
		     struct error *err)
{
	if (size < EI_NIDENT || !elf_kernel_detect(image, size))
		return error_set(err, ENOEXEC, "ELF kernel: bad ELF magic");
	if (image[EI_DATA] != ELFDATA2LSB || image[EI_VERSION] != EV_CURRENT)
		return error_set(err, ENOEXEC, "ELF kernel: not a little-endian ELF version 1 image");
	if (image[EI_CLASS] == ELFCLASS64 && size >= sizeof(Elf64_Ehdr)) {
		Elf64_Ehdr h;

		memcpy(&h, image, sizeof(h));
		*e = (struct elf_ehdr){ h.e_type, h.e_machine, h.e_entry, h.e_phoff, h.e_shoff,
					h.e_phentsize, h.e_phnum, h.e_shentsize, h.e_shnum };
		k->is64 = true;
	} else if (image[EI_CLASS] == ELFCLASS32 && size >= sizeof(Elf32_Ehdr)) {
		Elf32_Ehdr h;

		memcpy(&h, image, sizeof(h));
		*e = (struct elf_ehdr){ h.e_type, h.e_machine, h.e_entry, h.e_phoff, h.e_shoff,
					h.e_phentsize, h.e_phnum, h.e_shentsize, h.e_shnum };
		k->is64 = false;
	} else {
		return error_set(err, ENOEXEC, "ELF kernel: truncated or unknown-class ELF header");
	}
	if (e->machine != (k->is64 ? EM_X86_64 : EM_386))
		return error_set(err, ENOEXEC, "ELF kernel: not an x86 image (e_machine %u)", e->machine);
	if (e->type != ET_EXEC && e->type != ET_DYN)
		return error_set(err, ENOEXEC, "ELF kernel: not an executable (e_type %u)", e->type);
	if (e->phentsize != (k->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)) || e->phnum == 0 ||
	    e->phnum == PN_XNUM || !in_file(size, e->phoff, (uint64_t)e->phnum * e->phentsize))
		return error_set(err, ENOEXEC,
				 "ELF kernel: program header table lies outside the file (truncated?)");
	k->phoff = e->phoff;
	k->phnum = e->phnum;
	return 0;
}

int elf_kernel_parse(const uint8_t *image, size_t size, struct elf_kernel *k, struct error *err)
{
	struct elf_ehdr e = { 0 };
	bool entry_mapped = false;
	int r;

	memset(k, 0, sizeof(*k));
	r = read_ehdr(image, size, k, &e, err);
	if (r < 0)
		return r;
	k->entry = e.entry;
	k->load_lo = UINT64_MAX;
	for (unsigned i = 0; i < k->phnum; i++) {
		struct elf_phdr ph;

		read_phdr(image, k, i, &ph);
		if (ph.type == PT_NOTE && !k->has_pvh && in_file(size, ph.offset, ph.filesz)) {
			r = scan_notes(image, ph.offset, ph.filesz, ph.align, k, err);
			if (r < 0)
				return r;
		}
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		if (ph.filesz > ph.memsz || !in_file(size, ph.offset, ph.filesz))
			return error_set(err, ENOEXEC,
					 "ELF kernel: segment %u lies outside the file (truncated?)", i);
		if (ph.paddr > UINT64_MAX - ph.memsz || ph.vaddr > UINT64_MAX - ph.memsz)
			return error_set(err, ENOEXEC, "ELF kernel: segment %u wraps around", i);
		if (ph.paddr < k->load_lo)
			k->load_lo = ph.paddr;
		if (ph.paddr + ph.memsz > k->load_hi)
			k->load_hi = ph.paddr + ph.memsz;
		if (!entry_mapped && e.entry >= ph.vaddr && e.entry - ph.vaddr < ph.memsz) {
			k->entry = ph.paddr + (e.entry - ph.vaddr);
			entry_mapped = true;
		}
	}
	if (k->load_hi == 0)
		return error_set(err, ENOEXEC, "ELF kernel: no loadable segment");
	if (!k->has_pvh)
		return scan_section_notes(image, size, e.shoff, e.shnum, e.shentsize, k, err);
	return 0;
}

int elf_kernel_load(const struct guest_mem *mem, const uint8_t *image, size_t size,
		    const struct elf_kernel *k, struct error *err)
{
	uint64_t low_end = guest_mem_low_end(mem);

	for (unsigned i = 0; i < k->phnum; i++) {
		struct elf_phdr ph;
		uint8_t *dst;

		read_phdr(image, k, i, &ph);
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		/* parse checked the file range and wrap-around; re-check what guards memory */
		if (ph.filesz > ph.memsz || !in_file(size, ph.offset, ph.filesz))
			return error_set(err, ENOEXEC, "ELF kernel: segment %u lies outside the file", i);
		if (ph.paddr < BOOT_KERNEL_ADDR)
			return error_set(err, ENOEXEC, "ELF kernel: segment at 0x%llx lies below 1 MiB",
					 (unsigned long long)ph.paddr);
		dst = ph.memsz <= low_end && ph.paddr <= low_end - ph.memsz ?
			      guest_mem_ptr(mem, ph.paddr, ph.memsz) : NULL;
		if (!dst)
			return error_set(err, E2BIG,
					 "kernel segment [0x%llx, 0x%llx) does not fit in guest memory "
					 "(RAM below 4 GiB ends at 0x%llx)",
					 (unsigned long long)ph.paddr,
					 (unsigned long long)(ph.paddr + ph.memsz),
					 (unsigned long long)low_end);
		memcpy(dst, image + ph.offset, ph.filesz);
		memset(dst + ph.filesz, 0, ph.memsz - ph.filesz);
	}
	return 0;
}

int pvh_load(const struct guest_mem *mem, const struct boot_config *cfg,
	     const uint8_t *image, size_t size, const uint8_t *initrd, size_t initrd_size,
	     struct boot_entry *entry, struct error *err)
{
	const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
	size_t cmdline_len = strlen(cmdline);
	struct hvm_memmap_table_entry memmap[E820_MAX_ENTRIES];
	struct hvm_modlist_entry mod = { 0 };
	struct hvm_start_info si = { 0 };
	uint64_t memmap_gpa = BOOT_INFO_EXTRA_ADDR;
	uint64_t modlist_gpa;
	struct elf_kernel k;
	struct e820_map map;
	int r;

	if (cmdline_len >= BOOT_CMDLINE_MAX)
		return error_set(err, E2BIG, "command line (%zu bytes) is longer than %u bytes",
				 cmdline_len, BOOT_CMDLINE_MAX - 1);
	r = elf_kernel_parse(image, size, &k, err);
	if (r < 0)
		return r;
	if (!k.has_pvh)
		return error_set(err, ENOEXEC, "ELF kernel has no PVH entry note");
	r = elf_kernel_load(mem, image, size, &k, err);
	if (r < 0)
		return r;

	e820_build(mem, &map);
	for (unsigned i = 0; i < map.nr; i++)
		memmap[i] = (struct hvm_memmap_table_entry){
			.addr = map.entry[i].addr, .size = map.entry[i].size, .type = map.entry[i].type,
		};
	modlist_gpa = memmap_gpa + map.nr * sizeof(memmap[0]);
	if (initrd_size) {
		r = e820_place_top(&map, align_up(k.load_hi, PAGE_SIZE), guest_mem_low_end(mem),
				   initrd_size, PAGE_SIZE, &mod.paddr);
		if (r < 0)
			return error_set(err, E2BIG, "initrd (%zu bytes) does not fit in guest memory",
					 initrd_size);
		mod.size = initrd_size;
		si.nr_modules = 1;
		si.modlist_paddr = modlist_gpa;
	}
	si.magic = XEN_HVM_START_MAGIC_VALUE;
	si.version = 1;
	si.cmdline_paddr = BOOT_CMDLINE_ADDR;
	si.rsdp_paddr = cfg->rsdp_gpa;
	si.memmap_paddr = memmap_gpa;
	si.memmap_entries = map.nr;

	if ((initrd_size && guest_mem_write(mem, mod.paddr, initrd, initrd_size) < 0) ||
	    guest_mem_write(mem, BOOT_CMDLINE_ADDR, cmdline, cmdline_len + 1) < 0 ||
	    guest_mem_write(mem, memmap_gpa, memmap, map.nr * sizeof(memmap[0])) < 0 ||
	    guest_mem_write(mem, modlist_gpa, &mod, sizeof(mod)) < 0 ||
	    guest_mem_write(mem, BOOT_INFO_ADDR, &si, sizeof(si)) < 0)
		return error_set(err, E2BIG, "guest memory is too small for the kernel");

	*entry = (struct boot_entry){
		.mode = BOOT_CPU_PROTECTED32,
		.rip = k.pvh_entry,
		.rbx = BOOT_INFO_ADDR,
		.rsp = BOOT_STACK_TOP,
	};
	return 0;
}
