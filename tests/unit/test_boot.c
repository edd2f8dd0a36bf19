/* Unit tests for the kernel loaders (firmware/kernel_loader.h): synthetic bzImage, PVH ELF and
 * Multiboot images in temporary files, loaded into fake guest memory; e820 map and placement. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "firmware/boot_layout.h"
#include "firmware/e820.h"
#include "firmware/kernel_loader.h"
#include "unit.h"

#define MEM_SIZE (64ULL << 20)
#define MIB (1ULL << 20)

struct ctx {
	char dir[64];
	uint8_t *buf;
	struct guest_mem mem;
};

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		perror(path);
		exit(1);
	}
	close(fd);
}

static const char *tmp_path(struct ctx *c, const char *name)
{
	static char paths[8][128];
	static unsigned next;
	char *p = paths[next++ % 8];

	snprintf(p, 128, "%s/%s", c->dir, name);
	return p;
}

static void reset_mem(struct ctx *c)
{
	memset(c->buf, 0xaa, MEM_SIZE);
}

static uint16_t g16(struct ctx *c, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, c->buf + gpa, 2);
	return v;
}

static uint32_t g32(struct ctx *c, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, c->buf + gpa, 4);
	return v;
}

static uint64_t g64(struct ctx *c, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, c->buf + gpa, 8);
	return v;
}

static bool all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seed);
}

static void p16(uint8_t *p, size_t off, uint16_t v) { memcpy(p + off, &v, 2); }
static void p32(uint8_t *p, size_t off, uint32_t v) { memcpy(p + off, &v, 4); }
static void p64(uint8_t *p, size_t off, uint64_t v) { memcpy(p + off, &v, 8); }

/* ---- e820 ---- */

static void test_e820(void)
{
	struct guest_mem big = { .size = 4ULL << 30, .low_size = 3ULL << 30, .high_size = 1ULL << 30 };
	struct guest_mem small = { .size = MEM_SIZE, .low_size = MEM_SIZE };
	struct e820_map map;
	uint64_t a = 0;

	e820_build(&small, &map);
	CHECK_EQ(map.nr, 6);
	CHECK_EQ(map.entry[0].addr, 0);
	CHECK_EQ(map.entry[0].size, BOOT_EBDA_START);
	CHECK_EQ(map.entry[0].type, E820_RAM);
	CHECK_EQ(map.entry[1].addr, BOOT_EBDA_START);
	CHECK_EQ(map.entry[1].type, E820_RESERVED);
	CHECK_EQ(map.entry[2].addr, BOOT_ACPI_ADDR);
	CHECK_EQ(map.entry[2].size, BOOT_ACPI_SIZE);
	CHECK_EQ(map.entry[2].type, E820_ACPI);
	CHECK_EQ(map.entry[3].addr, MIB);
	CHECK_EQ(map.entry[3].size, MEM_SIZE - MIB);
	CHECK_EQ(map.entry[3].type, E820_RAM);
	CHECK_EQ(map.entry[4].addr, E820_IOAPIC_ADDR);
	CHECK_EQ(map.entry[5].addr, E820_LAPIC_ADDR);
	for (unsigned i = 1; i < map.nr; i++)
		CHECK(map.entry[i].addr >= map.entry[i - 1].addr + map.entry[i - 1].size);

	e820_build(&big, &map);
	CHECK_EQ(map.nr, 7);
	CHECK_EQ(map.entry[3].size, (3ULL << 30) - MIB);
	CHECK_EQ(map.entry[6].addr, GUEST_MEM_4G);
	CHECK_EQ(map.entry[6].size, 1ULL << 30);
	CHECK_EQ(map.entry[6].type, E820_RAM);

	e820_build(&small, &map);
	CHECK_EQ(e820_place_top(&map, 0, UINT64_MAX, 5000, 4096, &a), 0);
	CHECK_EQ(a, MEM_SIZE - 8192);
	CHECK_EQ(e820_place_top(&map, 0, 0x3000000, 0x1000, 0x200000, &a), 0);
	CHECK_EQ(a, 0x2e00000);
	CHECK_EQ(e820_place_top(&map, 0x3fff000, UINT64_MAX, 0x2000, 4096, &a), -E2BIG);
	CHECK_EQ(e820_place_top(&map, 0, UINT64_MAX, MEM_SIZE, 4096, &a), -E2BIG);
	/* never inside the reserved/ACPI ranges below 1 MiB */
	CHECK_EQ(e820_place_top(&map, 0, MIB, 0x1000, 4096, &a), 0);
	CHECK_EQ(a, 0x9e000);
	CHECK_EQ(e820_place_top(&map, 0, UINT64_MAX, 1, 3, &a), -EINVAL);
}

/* ---- bzImage ---- */

#define BZ_PM_OFF 0x400
#define BZ_PM_SIZE 0x2000

struct bz_params {
	uint16_t version;
	uint16_t xloadflags;
	uint8_t relocatable;
	uint32_t cmdline_size;
	uint64_t pref;
	uint32_t init_size;
};

static const struct bz_params bz_default = {
	.version = 0x020f, .xloadflags = 0x3, .relocatable = 1, .cmdline_size = 2047,
	.pref = 0x1000000, .init_size = 0x800000,
};

static void make_bzimage(uint8_t *img, const struct bz_params *p)
{
	memset(img, 0, BZ_PM_OFF + BZ_PM_SIZE);
	img[0x1f1] = 1; /* setup_sects */
	p16(img, 0x1fe, 0xaa55);
	img[0x200] = 0xeb;
	img[0x201] = 0x6a; /* header ends at 0x26c */
	memcpy(img + 0x202, "HdrS", 4);
	p16(img, 0x206, p->version);
	img[0x211] = 0x01; /* LOADED_HIGH */
	p32(img, 0x22c, 0x7fffffff);
	p32(img, 0x230, 0x200000);
	img[0x234] = p->relocatable;
	img[0x235] = 21;
	p16(img, 0x236, p->xloadflags);
	p32(img, 0x238, p->cmdline_size);
	p64(img, 0x250, 0x1234); /* setup_data: the loader must clear it */
	p64(img, 0x258, p->pref);
	p32(img, 0x260, p->init_size);
	img[0x270] = 0x55; /* past the header: must not reach the zero page */
	pattern(img + BZ_PM_OFF, BZ_PM_SIZE, 3);
}

static int load(struct ctx *c, const struct boot_config *cfg, struct boot_entry *e, struct error *err)
{
	reset_mem(c);
	memset(err, 0, sizeof(*err));
	return kernel_load(&c->mem, cfg, e, err);
}

static void test_bzimage(struct ctx *c)
{
	static uint8_t img[BZ_PM_OFF + BZ_PM_SIZE];
	static uint8_t initrd[10000];
	struct bz_params p = bz_default;
	const char *kpath = tmp_path(c, "bzImage"), *ipath = tmp_path(c, "initrd.img");
	struct boot_config cfg = { .kernel_path = kpath, .initrd_path = ipath,
				   .cmdline = "console=ttyS0 quiet", .rsdp_gpa = BOOT_ACPI_ADDR };
	struct boot_entry e;
	struct error err;
	uint64_t zp = BOOT_INFO_ADDR, rd, rd_size;

	make_bzimage(img, &p);
	write_file(kpath, img, sizeof(img));
	pattern(initrd, sizeof(initrd), 9);
	write_file(ipath, initrd, sizeof(initrd));

	CHECK_EQ(load(c, &cfg, &e, &err), 0);
	CHECK_EQ(e.mode, BOOT_CPU_LONG64);
	CHECK_EQ(e.rip, 0x1000200);
	CHECK_EQ(e.rsi, BOOT_INFO_ADDR);
	CHECK(memcmp(c->buf + 0x1000000, img + BZ_PM_OFF, BZ_PM_SIZE) == 0);
	CHECK_EQ(c->buf[zp + 0x1f1], 1);
	CHECK_EQ(g16(c, zp + 0x1fe), 0xaa55);
	CHECK_EQ(g32(c, zp + 0x202), 0x53726448);
	CHECK_EQ(g16(c, zp + 0x206), 0x020f);
	CHECK_EQ(c->buf[zp + 0x210], 0xff);             /* type_of_loader */
	CHECK_EQ(c->buf[zp + 0x211], 0x81);             /* CAN_USE_HEAP | LOADED_HIGH */
	CHECK_EQ(g32(c, zp + 0x214), 0x1000000);        /* code32_start */
	CHECK_EQ(g16(c, zp + 0x224), 0xfe00);           /* heap_end_ptr */
	CHECK_EQ(g32(c, zp + 0x228), BOOT_CMDLINE_ADDR);
	CHECK(strcmp((char *)c->buf + BOOT_CMDLINE_ADDR, "console=ttyS0 quiet") == 0);
	CHECK_EQ(g64(c, zp + 0x250), 0);                /* setup_data cleared */
	CHECK_EQ(c->buf[zp + 0x270], 0);
	CHECK_EQ(c->buf[zp + 0x1ef], 0);                /* sentinel */
	CHECK_EQ(g64(c, zp + 0x070), BOOT_ACPI_ADDR);   /* acpi_rsdp_addr */
	rd = g32(c, zp + 0x218);
	rd_size = g32(c, zp + 0x21c);
	CHECK_EQ(rd_size, sizeof(initrd));
	CHECK_EQ(rd % 4096, 0);
	CHECK(rd >= 0x1000000 + 0x800000);
	CHECK(rd + rd_size <= MEM_SIZE);
	CHECK(rd + rd_size + 4096 > MEM_SIZE); /* as high as possible */
	CHECK(memcmp(c->buf + rd, initrd, sizeof(initrd)) == 0);
	CHECK_EQ(c->buf[zp + 0x1e8], 6);                /* e820_entries */
	CHECK_EQ(g64(c, zp + 0x2d0), 0);
	CHECK_EQ(g64(c, zp + 0x2d8), BOOT_EBDA_START);
	CHECK_EQ(g32(c, zp + 0x2e0), E820_RAM);
	CHECK_EQ(g64(c, zp + 0x2d0 + 2 * 20), BOOT_ACPI_ADDR);
	CHECK_EQ(g32(c, zp + 0x2d0 + 2 * 20 + 16), E820_ACPI);
	CHECK_EQ(g64(c, zp + 0x2d0 + 3 * 20), MIB);
	CHECK_EQ(g64(c, zp + 0x2d0 + 3 * 20 + 8), MEM_SIZE - MIB);
	CHECK_EQ(g32(c, zp + 0x2d0 + 3 * 20 + 16), E820_RAM);

	/* no initrd, no command line */
	cfg.initrd_path = NULL;
	cfg.cmdline = NULL;
	cfg.rsdp_gpa = 0;
	CHECK_EQ(load(c, &cfg, &e, &err), 0);
	CHECK_EQ(g32(c, zp + 0x218), 0);
	CHECK_EQ(g32(c, zp + 0x21c), 0);
	CHECK_EQ(g64(c, zp + 0x070), 0);
	CHECK_EQ(c->buf[BOOT_CMDLINE_ADDR], 0);

	/* a non-relocatable kernel is loaded at 1 MiB */
	p.relocatable = 0;
	make_bzimage(img, &p);
	write_file(kpath, img, sizeof(img));
	CHECK_EQ(load(c, &cfg, &e, &err), 0);
	CHECK_EQ(e.rip, 0x100200);
	CHECK(memcmp(c->buf + MIB, img + BZ_PM_OFF, BZ_PM_SIZE) == 0);

	/* command line longer than cmdline_size */
	p = bz_default;
	p.cmdline_size = 8;
	make_bzimage(img, &p);
	write_file(kpath, img, sizeof(img));
	cfg.cmdline = "console=ttyS0";
	CHECK_EQ(load(c, &cfg, &e, &err), -E2BIG);
	CHECK(strstr(err.msg, "command line (13 bytes)") != NULL);

	/* init_size beyond guest RAM */
	p = bz_default;
	p.init_size = 0x4000000;
	make_bzimage(img, &p);
	write_file(kpath, img, sizeof(img));
	CHECK_EQ(load(c, &cfg, &e, &err), -E2BIG);

	/* no 64-bit entry, too old */
	p = bz_default;
	p.xloadflags = 0;
	make_bzimage(img, &p);
	write_file(kpath, img, sizeof(img));
	CHECK_EQ(load(c, &cfg, &e, &err), -ENOEXEC);
	CHECK(strstr(err.msg, "64-bit") != NULL);
	p = bz_default;
	p.version = 0x0209;
	make_bzimage(img, &p);
	write_file(kpath, img, sizeof(img));
	CHECK_EQ(load(c, &cfg, &e, &err), -ENOEXEC);

	/* initrd that fits in the file limit but not above the kernel */
	make_bzimage(img, &bz_default);
	write_file(kpath, img, sizeof(img));
	{
		int fd = open(ipath, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		CHECK(fd >= 0 && ftruncate(fd, 60 << 20) == 0);
		close(fd);
	}
	cfg.initrd_path = ipath;
	cfg.cmdline = NULL;
	CHECK_EQ(load(c, &cfg, &e, &err), -E2BIG);
	CHECK(strcmp(err.msg, "initrd (62914560 bytes) does not fit in guest memory") == 0);
	{
		int fd = open(ipath, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		CHECK(fd >= 0 && ftruncate(fd, 100 << 20) == 0);
		close(fd);
	}
	CHECK_EQ(load(c, &cfg, &e, &err), -E2BIG);
	CHECK(strcmp(err.msg, "initrd (104857600 bytes) does not fit in guest memory") == 0);

	/* bad magic */
	img[0x202] = 'X';
	write_file(kpath, img, sizeof(img));
	cfg.initrd_path = NULL;
	CHECK_EQ(load(c, &cfg, &e, &err), -ENOEXEC);
	CHECK(strstr(err.msg, "not a bzImage, an ELF vmlinux with a PVH entry, or a Multiboot kernel"));
	CHECK(strstr(err.msg, kpath) != NULL);
}

/* ---- ELF images (PVH and Multiboot) ---- */

#define ELF_NOTE_OFF 0x100
#define ELF_SEG_OFF 0x200
#define ELF_SEG_SIZE 0x100
#define ELF_FILE_SIZE (ELF_SEG_OFF + ELF_SEG_SIZE)

static size_t add_note(uint8_t *p, const char *name, uint32_t type, const void *desc, uint32_t descsz)
{
	Elf64_Nhdr n = { .n_namesz = (uint32_t)strlen(name) + 1, .n_descsz = descsz, .n_type = type };
	size_t off = sizeof(n);

	memcpy(p, &n, sizeof(n));
	memcpy(p + off, name, n.n_namesz);
	off += (n.n_namesz + 3) & ~3u;
	memcpy(p + off, desc, descsz);
	return off + ((descsz + 3) & ~3u);
}

/* ELF64 with one PT_LOAD (paddr, vaddr 0xffffffff80000000 + paddr) and, if pvh_entry, a PT_NOTE
 * holding an unrelated Xen note and then XEN_ELFNOTE_PHYS32_ENTRY. */
static void make_elf64(uint8_t *img, uint64_t paddr, uint64_t memsz, uint64_t pvh_entry)
{
	Elf64_Ehdr eh = { 0 };
	Elf64_Phdr ph[2] = { { 0 } };
	size_t notes = 0;

	memset(img, 0, ELF_FILE_SIZE);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = 0xffffffff80000000ULL + paddr + 0x10;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = pvh_entry ? 2 : 1;
	ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = ELF_SEG_OFF,
			      .p_vaddr = 0xffffffff80000000ULL + paddr, .p_paddr = paddr,
			      .p_filesz = ELF_SEG_SIZE, .p_memsz = memsz, .p_align = 0x1000 };
	if (pvh_entry) {
		notes += add_note(img + ELF_NOTE_OFF, "Xen", 6, "linux", 6);
		notes += add_note(img + ELF_NOTE_OFF + notes, "Xen", 18, &pvh_entry, 8);
		ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = ELF_NOTE_OFF,
				      .p_filesz = notes, .p_align = 4 };
	}
	memcpy(img, &eh, sizeof(eh));
	memcpy(img + sizeof(eh), ph, sizeof(ph));
	pattern(img + ELF_SEG_OFF, ELF_SEG_SIZE, 5);
}

static void test_pvh(struct ctx *c)
{
	static uint8_t img[ELF_FILE_SIZE];
	static uint8_t initrd[6000];
	const char *kpath = tmp_path(c, "vmlinux"), *ipath = tmp_path(c, "initrd.pvh");
	struct boot_config cfg = { .kernel_path = kpath, .initrd_path = ipath,
				   .cmdline = "console=hvc0", .rsdp_gpa = BOOT_ACPI_ADDR };
	struct boot_entry e;
	struct error err;
	uint64_t si = BOOT_INFO_ADDR, mm, ml, mod;

	make_elf64(img, 0x200000, 0x3000, 0x200040);
	write_file(kpath, img, sizeof(img));
	pattern(initrd, sizeof(initrd), 1);
	write_file(ipath, initrd, sizeof(initrd));

	CHECK_EQ(load(c, &cfg, &e, &err), 0);
	CHECK_EQ(e.mode, BOOT_CPU_PROTECTED32);
	CHECK_EQ(e.rip, 0x200040);
	CHECK_EQ(e.rbx, BOOT_INFO_ADDR);
	CHECK(memcmp(c->buf + 0x200000, img + ELF_SEG_OFF, ELF_SEG_SIZE) == 0);
	CHECK(all_bytes(c->buf + 0x200000 + ELF_SEG_SIZE, 0x3000 - ELF_SEG_SIZE, 0));
	CHECK_EQ(c->buf[0x203000], 0xaa);
	CHECK_EQ(g32(c, si + 0), 0x336ec578);
	CHECK_EQ(g32(c, si + 4), 1);
	CHECK_EQ(g32(c, si + 12), 1);                  /* nr_modules */
	CHECK_EQ(g64(c, si + 24), BOOT_CMDLINE_ADDR);
	CHECK(strcmp((char *)c->buf + BOOT_CMDLINE_ADDR, "console=hvc0") == 0);
	CHECK_EQ(g64(c, si + 32), BOOT_ACPI_ADDR);     /* rsdp_paddr */
	mm = g64(c, si + 40);
	CHECK_EQ(mm, BOOT_INFO_EXTRA_ADDR);
	CHECK_EQ(g32(c, si + 48), 6);                  /* memmap_entries */
	CHECK_EQ(g64(c, mm + 3 * 24), MIB);
	CHECK_EQ(g64(c, mm + 3 * 24 + 8), MEM_SIZE - MIB);
	CHECK_EQ(g32(c, mm + 3 * 24 + 16), E820_RAM);
	CHECK_EQ(g32(c, mm + 2 * 24 + 16), E820_ACPI);
	ml = g64(c, si + 16);
	CHECK(ml >= BOOT_INFO_EXTRA_ADDR + 6 * 24 && ml + 32 <= BOOT_INFO_EXTRA_ADDR + 0x1000);
	mod = g64(c, ml);
	CHECK_EQ(g64(c, ml + 8), sizeof(initrd));
	CHECK_EQ(mod % 4096, 0);
	CHECK(mod >= 0x203000 && mod + sizeof(initrd) <= MEM_SIZE && mod + sizeof(initrd) + 4096 > MEM_SIZE);
	CHECK(memcmp(c->buf + mod, initrd, sizeof(initrd)) == 0);

	/* without initrd: no modules */
	cfg.initrd_path = NULL;
	CHECK_EQ(load(c, &cfg, &e, &err), 0);
	CHECK_EQ(g32(c, si + 12), 0);

	/* truncated: program headers cut off */
	write_file(kpath, img, 80);
	CHECK_EQ(load(c, &cfg, &e, &err), -ENOEXEC);
	CHECK(strstr(err.msg, "program header") != NULL);
	/* truncated: ELF header cut off */
	write_file(kpath, img, 20);
	CHECK_EQ(load(c, &cfg, &e, &err), -ENOEXEC);
	/* segment beyond the end of the file */
	write_file(kpath, img, ELF_FILE_SIZE - 1);
	CHECK_EQ(load(c, &cfg, &e, &err), -ENOEXEC);
	CHECK(strstr(err.msg, "outside the file") != NULL);
	/* p_filesz > p_memsz */
	make_elf64(img, 0x200000, 0x10, 0x200040);
	write_file(kpath, img, sizeof(img));
	CHECK_EQ(load(c, &cfg, &e, &err), -ENOEXEC);
	/* segment beyond guest RAM, and wrapping around */
	make_elf64(img, MEM_SIZE - 0x1000, 0x2000, 0x200040);
	write_file(kpath, img, sizeof(img));
	CHECK_EQ(load(c, &cfg, &e, &err), -E2BIG);
	CHECK(strstr(err.msg, "does not fit in guest memory") != NULL);
	make_elf64(img, UINT64_MAX - 0xfff, 0x2000, 0x200040);
	write_file(kpath, img, sizeof(img));
	CHECK_EQ(load(c, &cfg, &e, &err), -ENOEXEC);
	/* segment over the boot structures below 1 MiB */
	make_elf64(img, 0x7000, 0x1000, 0x7000);
	write_file(kpath, img, sizeof(img));
	CHECK_EQ(load(c, &cfg, &e, &err), -ENOEXEC);
	/* no PVH note and no Multiboot header */
	make_elf64(img, 0x200000, 0x3000, 0);
	write_file(kpath, img, sizeof(img));
	CHECK_EQ(load(c, &cfg, &e, &err), -ENOEXEC);
	CHECK(strstr(err.msg, "not a bzImage") != NULL);
}

/* ---- Multiboot ---- */

static void put_mb_header(uint8_t *p, uint32_t flags, const uint32_t *addrs)
{
	p32(p, 0, 0x1BADB002);
	p32(p, 4, flags);
	p32(p, 8, (uint32_t)-(0x1BADB002u + flags));
	for (int i = 0; addrs && i < 5; i++)
		p32(p, 12 + 4 * i, addrs[i]);
}

static void check_mbi(struct ctx *c, const char *kpath, const uint8_t *initrd, size_t initrd_size)
{
	uint64_t mbi = BOOT_INFO_ADDR, mods, mm;
	char want[256];

	CHECK_EQ(g32(c, mbi + 0), 0x24d); /* MEMORY CMDLINE MODS MEM_MAP BOOT_LOADER_NAME */
	CHECK_EQ(g32(c, mbi + 4), 639);
	CHECK_EQ(g32(c, mbi + 8), (MEM_SIZE - MIB) / 1024);
	CHECK_EQ(g32(c, mbi + 16), BOOT_CMDLINE_ADDR);
	snprintf(want, sizeof(want), "%s console=ttyS0", kpath);
	CHECK(strcmp((char *)c->buf + BOOT_CMDLINE_ADDR, want) == 0);
	CHECK_EQ(g32(c, mbi + 20), 1);
	mods = g32(c, mbi + 24);
	CHECK(mods >= BOOT_INFO_EXTRA_ADDR && mods < BOOT_INFO_EXTRA_ADDR + 0x1000);
	CHECK_EQ(g32(c, mods) % 4096, 0);
	CHECK_EQ(g32(c, mods + 4) - g32(c, mods), initrd_size);
	CHECK(g32(c, mods + 4) <= MEM_SIZE && g32(c, mods + 4) + 4096 > MEM_SIZE);
	CHECK(memcmp(c->buf + g32(c, mods), initrd, initrd_size) == 0);
	CHECK(strcmp((char *)c->buf + g32(c, mods + 8), "mod.bin") == 0);
	CHECK_EQ(g32(c, mbi + 44), 6 * 24);
	mm = g32(c, mbi + 48);
	CHECK(mm >= BOOT_INFO_EXTRA_ADDR && mm < BOOT_INFO_EXTRA_ADDR + 0x1000);
	CHECK_EQ(g32(c, mm), 20);
	CHECK_EQ(g64(c, mm + 4), 0);
	CHECK_EQ(g64(c, mm + 12), BOOT_EBDA_START);
	CHECK_EQ(g32(c, mm + 20), E820_RAM);
	CHECK_EQ(g32(c, mm + 3 * 24), 20);
	CHECK_EQ(g64(c, mm + 3 * 24 + 4), MIB);
	CHECK_EQ(g64(c, mm + 3 * 24 + 12), MEM_SIZE - MIB);
	CHECK_EQ(g32(c, mm + 3 * 24 + 20), E820_RAM);
	CHECK(strcmp((char *)c->buf + g32(c, mbi + 64), "hvkvm") == 0);
}

static void test_multiboot_aout(struct ctx *c)
{
	static uint8_t img[0x1000];
	static uint8_t initrd[5000];
	const char *kpath = tmp_path(c, "mbkernel"), *ipath = tmp_path(c, "mod.bin");
	struct boot_config cfg = { .kernel_path = kpath, .initrd_path = ipath, .cmdline = "console=ttyS0" };
	uint32_t addrs[5] = { 0x100040, 0x100000, 0x100800, 0x102000, 0x100080 };
	struct boot_entry e;
	struct error err;

	pattern(img, sizeof(img), 11);
	put_mb_header(img + 0x40, 0x00010003, addrs);
	write_file(kpath, img, sizeof(img));
	pattern(initrd, sizeof(initrd), 2);
	write_file(ipath, initrd, sizeof(initrd));

	CHECK_EQ(load(c, &cfg, &e, &err), 0);
	CHECK_EQ(e.mode, BOOT_CPU_PROTECTED32);
	CHECK_EQ(e.rip, 0x100080);
	CHECK_EQ(e.rax, 0x2BADB002);
	CHECK_EQ(e.rbx, BOOT_INFO_ADDR);
	CHECK(memcmp(c->buf + 0x100000, img, 0x800) == 0);
	CHECK(all_bytes(c->buf + 0x100800, 0x1800, 0));
	CHECK_EQ(c->buf[0x102000], 0xaa);
	check_mbi(c, kpath, initrd, sizeof(initrd));

	/* load_end_addr 0: the rest of the file; no bss */
	addrs[2] = 0;
	addrs[3] = 0;
	put_mb_header(img + 0x40, 0x00010000, addrs);
	write_file(kpath, img, sizeof(img));
	CHECK_EQ(load(c, &cfg, &e, &err), 0);
	CHECK(memcmp(c->buf + 0x100000, img, sizeof(img)) == 0);
	CHECK_EQ(c->buf[0x101000], 0xaa);

	/* header 0x30 bytes into what is loaded: the file from offset 0x10 goes to load_addr */
	addrs[0] = 0x100030;
	put_mb_header(img + 0x40, 0x00010000, addrs);
	write_file(kpath, img, sizeof(img));
	CHECK_EQ(load(c, &cfg, &e, &err), 0);
	CHECK(memcmp(c->buf + 0x100000, img + 0x10, sizeof(img) - 0x10) == 0);

	/* header_addr - load_addr larger than the header's file offset: load_addr before the file */
	addrs[0] = 0x100080;
	put_mb_header(img + 0x40, 0x00010000, addrs);
	write_file(kpath, img, sizeof(img));
	CHECK_EQ(load(c, &cfg, &e, &err), -ENOEXEC);

	/* load_end_addr beyond the file */
	addrs[0] = 0x100040;
	addrs[2] = 0x100000 + sizeof(img) + 1;
	put_mb_header(img + 0x40, 0x00010000, addrs);
	write_file(kpath, img, sizeof(img));
	CHECK_EQ(load(c, &cfg, &e, &err), -ENOEXEC);

	/* bss beyond guest RAM */
	addrs[2] = 0x100800;
	addrs[3] = MEM_SIZE + 0x1000;
	put_mb_header(img + 0x40, 0x00010000, addrs);
	write_file(kpath, img, sizeof(img));
	CHECK_EQ(load(c, &cfg, &e, &err), -E2BIG);

	/* unsupported required flag */
	addrs[3] = 0;
	put_mb_header(img + 0x40, 0x00010008, addrs);
	write_file(kpath, img, sizeof(img));
	CHECK_EQ(load(c, &cfg, &e, &err), -ENOEXEC);

	/* bad checksum: not recognised */
	put_mb_header(img + 0x40, 0x00010000, addrs);
	img[0x48] ^= 1;
	write_file(kpath, img, sizeof(img));
	CHECK_EQ(load(c, &cfg, &e, &err), -ENOEXEC);
	CHECK(strstr(err.msg, "not a bzImage") != NULL);

	/* not ELF and no address fields */
	put_mb_header(img + 0x40, 0x00000000, NULL);
	write_file(kpath, img, sizeof(img));
	CHECK_EQ(load(c, &cfg, &e, &err), -ENOEXEC);
	CHECK(strstr(err.msg, "Multiboot") != NULL);
}

static void test_multiboot_elf(struct ctx *c)
{
	static uint8_t img[ELF_FILE_SIZE];
	static uint8_t initrd[300];
	const char *kpath = tmp_path(c, "mbelf"), *ipath = tmp_path(c, "mod.bin");
	struct boot_config cfg = { .kernel_path = kpath, .initrd_path = ipath, .cmdline = "console=ttyS0" };
	Elf32_Ehdr eh = { 0 };
	Elf32_Phdr ph = { 0 };
	struct boot_entry e;
	struct error err;

	memset(img, 0, sizeof(img));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS32;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_386;
	eh.e_version = EV_CURRENT;
	eh.e_entry = 0xc0300020;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(ph);
	eh.e_phnum = 1;
	ph = (Elf32_Phdr){ .p_type = PT_LOAD, .p_offset = ELF_SEG_OFF, .p_vaddr = 0xc0300000,
			   .p_paddr = 0x300000, .p_filesz = ELF_SEG_SIZE, .p_memsz = 0x2000 };
	memcpy(img, &eh, sizeof(eh));
	memcpy(img + sizeof(eh), &ph, sizeof(ph));
	pattern(img + ELF_SEG_OFF, ELF_SEG_SIZE, 4);
	put_mb_header(img + ELF_SEG_OFF, 0x00000003, NULL);
	write_file(kpath, img, sizeof(img));
	pattern(initrd, sizeof(initrd), 8);
	write_file(ipath, initrd, sizeof(initrd));

	CHECK_EQ(load(c, &cfg, &e, &err), 0);
	CHECK_EQ(e.mode, BOOT_CPU_PROTECTED32);
	CHECK_EQ(e.rip, 0x300020); /* e_entry translated from the segment's vaddr */
	CHECK_EQ(e.rax, 0x2BADB002);
	CHECK_EQ(e.rbx, BOOT_INFO_ADDR);
	CHECK(memcmp(c->buf + 0x300000, img + ELF_SEG_OFF, ELF_SEG_SIZE) == 0);
	CHECK(all_bytes(c->buf + 0x300000 + ELF_SEG_SIZE, 0x2000 - ELF_SEG_SIZE, 0));
	check_mbi(c, kpath, initrd, sizeof(initrd));

	/* an ELF64 without a PVH note but with a Multiboot header is Multiboot */
	make_elf64(img, 0x200000, 0x1000, 0);
	put_mb_header(img + ELF_SEG_OFF, 0x00000003, NULL);
	write_file(kpath, img, sizeof(img));
	CHECK_EQ(load(c, &cfg, &e, &err), 0);
	CHECK_EQ(e.rip, 0x200010);
	CHECK_EQ(e.rax, 0x2BADB002);

	/* the same with a PVH note is PVH */
	make_elf64(img, 0x200000, 0x1000, 0x200040);
	put_mb_header(img + ELF_SEG_OFF, 0x00000003, NULL);
	write_file(kpath, img, sizeof(img));
	CHECK_EQ(load(c, &cfg, &e, &err), 0);
	CHECK_EQ(e.rip, 0x200040);
	CHECK_EQ(e.rax, 0);
}

/* ---- files ---- */

static void test_files(struct ctx *c)
{
	struct boot_config cfg = { .kernel_path = "/nonexistent/hvkvm-test/vmlinuz" };
	static uint8_t img[BZ_PM_OFF + BZ_PM_SIZE];
	char *long_cmdline;
	struct boot_entry e;
	struct error err;

	CHECK_EQ(load(c, &cfg, &e, &err), -ENOENT);
	CHECK(strcmp(err.msg, "cannot open kernel /nonexistent/hvkvm-test/vmlinuz: "
			      "No such file or directory") == 0);

	cfg.kernel_path = c->dir;
	CHECK_EQ(load(c, &cfg, &e, &err), -EISDIR);
	CHECK(strstr(err.msg, "cannot open kernel") != NULL);

	make_bzimage(img, &bz_default);
	cfg.kernel_path = tmp_path(c, "bzImage2");
	write_file(cfg.kernel_path, img, sizeof(img));
	cfg.initrd_path = "/nonexistent/hvkvm-test/initrd";
	CHECK_EQ(load(c, &cfg, &e, &err), -ENOENT);
	CHECK(strcmp(err.msg, "cannot open initrd /nonexistent/hvkvm-test/initrd: "
			      "No such file or directory") == 0);

	cfg.initrd_path = NULL;
	long_cmdline = malloc(BOOT_CMDLINE_MAX + 1);
	memset(long_cmdline, 'x', BOOT_CMDLINE_MAX);
	long_cmdline[BOOT_CMDLINE_MAX] = 0;
	cfg.cmdline = long_cmdline;
	CHECK_EQ(load(c, &cfg, &e, &err), -E2BIG);
	CHECK(strstr(err.msg, "command line") != NULL);
	free(long_cmdline);

	/* empty file */
	write_file(cfg.kernel_path, img, 0);
	cfg.cmdline = NULL;
	CHECK_EQ(load(c, &cfg, &e, &err), -ENOEXEC);
}

static void cleanup(struct ctx *c)
{
	static const char *names[] = { "bzImage", "bzImage2", "initrd.img", "vmlinux", "initrd.pvh",
				       "mbkernel", "mbelf", "mod.bin" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(tmp_path(c, names[i]));
	rmdir(c->dir);
}

int main(void)
{
	struct ctx c;

	snprintf(c.dir, sizeof(c.dir), "/tmp/hvkvm-test-boot.XXXXXX");
	if (!mkdtemp(c.dir)) {
		perror("mkdtemp");
		return 1;
	}
	c.buf = malloc(MEM_SIZE);
	if (!c.buf)
		return 1;
	guest_mem_init_fake(&c.mem, c.buf, MEM_SIZE);

	test_e820();
	test_bzimage(&c);
	test_pvh(&c);
	test_multiboot_aout(&c);
	test_multiboot_elf(&c);
	test_files(&c);

	cleanup(&c);
	free(c.buf);
	return unit_done("test_boot");
}
