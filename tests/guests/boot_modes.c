/* Test guest: the Multiboot entry contract (32-bit protected mode, EAX magic, EBX info block with
 * memory, command line, memory map, modules), the switch to long mode, exceptions, ACPI tables. */
#include "acpi.h"
#include "guest.h"
#include "io.h"
#include "multiboot.h"
#include "trap.h"

/* Cmdline keys the runner passes: hello=world (checked), mem_mb=<--memory in MiB> (default 64),
 * module_size=<bytes of the --initrd> (absent: no module expected), soft_int=0 to skip INT3/INT n
 * (KVM-PVM cannot run software interrupts in guest kernel mode: "KVM internal error, suberror 1",
 * under QEMU/KVM on such a host too). The module's byte i holds i % 251. */
#define MODULE_PATTERN_MOD 251

const char test_name[] = "boot_modes";

extern const char __image_start[], __bss_end[];
static uint8_t bss_probe[4096];

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static void check_entry_state(void)
{
	const struct entry_state *es = &entry_state;

	check(es->eax == MULTIBOOT_BOOTLOADER_MAGIC, "EAX at entry is the Multiboot magic (%#x)", es->eax);
	check(es->cr0 & 1, "entered in protected mode (CR0 %#x, PE set)", es->cr0);
	check(!(es->cr0 & 0x80000000u), "paging off at entry");
	check(!(es->efer & EFER_LMA), "long mode inactive at entry (EFER %#x)", es->efer);
	check(!(es->eflags & (1u << 17)), "EFLAGS.VM clear at entry (EFLAGS %#x)", es->eflags);
	check(!(es->eflags & (1u << 9)), "EFLAGS.IF clear at entry");
	con_printf("entry: CS %#x DS %#x SS %#x CR4 %#x\n", es->cs, es->ds, es->ss, es->cr4);
}

static void check_long_mode(void)
{
	volatile uint64_t x = 0x123456789ull;
	uint64_t efer = rdmsr(MSR_EFER);

	x <<= 20;
	check((efer & EFER_LMA) && (efer & EFER_LME), "running in long mode (EFER %#lx)", efer);
	check((read_cr0() & 0x80000001u) == 0x80000001u && (read_cr4() & 0x20), "paging with PAE on");
	check(x == 0x12345678900000ull, "64-bit arithmetic (%#lx)", (uint64_t)x);
	con_printf("hello from 64-bit code at %p\n", (void *)check_long_mode);
	bool zero = true;

	for (size_t i = 0; i < sizeof(bss_probe); i++)
		zero &= bss_probe[i] == 0;
	check(zero, "bss is zeroed");
}

static void check_memory(const struct multiboot_info *mbi, long mem_mb)
{
	uint64_t want = (uint64_t)(mem_mb - 8) << 20;
	uint64_t image_end = (uintptr_t)__bss_end;
	const struct multiboot_mmap_entry *e = NULL;
	bool ram_at_1m = false, low_ram = false, image_in_ram = false, legacy_hole = true, sorted = true;
	uint64_t prev_end = 0;

	if (check(mbi->flags & MBI_MEMORY, "mem_lower/mem_upper present (%u KiB, %u KiB)", mbi->mem_lower,
		  mbi->mem_upper)) {
		check(mbi->mem_lower >= 512 && mbi->mem_lower <= 640, "mem_lower is plausible");
		check((uint64_t)mbi->mem_upper << 10 >= want && mbi->mem_upper <= (uint64_t)mem_mb << 10,
		      "mem_upper matches %ld MiB of RAM", mem_mb);
	}
	if (!check(mbi->flags & MBI_MMAP, "memory map present (%u bytes at %#x)", mbi->mmap_length,
		   mbi->mmap_addr))
		return;
	while ((e = mb_mmap_next(e))) {
		con_printf("mmap: %#014lx-%#014lx type %u\n", e->addr, e->addr + e->len, e->type);
		if (e->addr < prev_end)
			sorted = false;
		prev_end = e->addr + e->len;
		if (e->type != MB_MMAP_RAM)
			continue;
		if (e->addr <= 0x100000 && e->addr + e->len >= 0x100000 + want)
			ram_at_1m = true;
		if (e->addr == 0 && e->len >= 512 * 1024)
			low_ram = true;
		if (e->addr <= (uintptr_t)__image_start && e->addr + e->len >= image_end)
			image_in_ram = true;
		if (overlaps(e->addr, e->len, 0xa0000, 0x60000))
			legacy_hole = false;
	}
	check(ram_at_1m, "RAM from 1 MiB covers at least %ld MiB", mem_mb - 8);
	check(low_ram, "RAM at 0 covers at least 512 KiB");
	check(image_in_ram, "the kernel image [%p, %#lx) is in RAM", (void *)__image_start, image_end);
	check(legacy_hole, "no RAM between 640 KiB and 1 MiB");
	check(sorted, "memory map entries are sorted and disjoint");
}

static void check_module(long size)
{
	const struct multiboot_mod *m;
	unsigned count = mb_module_count();
	uint64_t image_start = (uintptr_t)__image_start, image_end = (uintptr_t)__bss_end;

	if (size < 0) {
		check(count == 0, "no module without --initrd (%u)", count);
		return;
	}
	if (!check(count == 1, "one module (%u)", count))
		return;
	m = mb_module(0);
	con_printf("module: [%#x, %#x) string '%s'\n", m->mod_start, m->mod_end,
		   m->string ? (const char *)(uintptr_t)m->string : "");
	check(m->mod_end - m->mod_start == (uint32_t)size, "module size %u is the initrd's %ld",
	      m->mod_end - m->mod_start, size);
	check(!(m->mod_start & 0xfff), "module is page aligned (as the header asks)");
	check(!overlaps(m->mod_start, (uint64_t)size, image_start, image_end - image_start),
	      "module does not overlap the kernel image");
	const uint8_t *p = (const uint8_t *)(uintptr_t)m->mod_start;
	long bad = -1;

	for (long i = 0; i < size && bad < 0; i++)
		if (p[i] != i % MODULE_PATTERN_MOD)
			bad = i;
	check(bad < 0, "module bytes match the runner's pattern (first mismatch at %ld)", bad);
}

static void check_info(void)
{
	const struct multiboot_info *mbi = mb_info();
	char hello[32];

	if (!check(mbi != NULL, "EBX points to the info block (%#x)", entry_state.ebx))
		return;
	uint64_t image_start = (uintptr_t)__image_start, image_end = (uintptr_t)__bss_end;

	con_printf("mbi: at %p flags %#x\n", (const void *)mbi, mbi->flags);
	check(!overlaps((uintptr_t)mbi, sizeof(*mbi), image_start, image_end - image_start),
	      "info block lies outside the kernel image");
	if (mbi->flags & MBI_LOADER_NAME)
		con_printf("boot loader: '%s'\n", (const char *)(uintptr_t)mbi->boot_loader_name);
	if (check(mbi->flags & MBI_CMDLINE, "command line present")) {
		const char *c = mb_cmdline();

		con_printf("cmdline: '%s'\n", c);
		check(!overlaps((uintptr_t)c, strlen(c) + 1, image_start, image_end - image_start),
		      "command line lies outside the kernel image");
		check(cmdline_value("hello", hello, sizeof(hello)) && !strcmp(hello, "world"),
		      "command line has hello=world");
	}
	check_memory(mbi, cmdline_int("mem_mb", 64));
	check_module(cmdline_int("module_size", -1));
}

static void do_ud2(void *arg)
{
	(void)arg;
	__asm__ volatile("ud2");
}

static void do_int3(void *arg)
{
	(void)arg;
	__asm__ volatile("int3");
}

static void do_div0(void *arg)
{
	(void)arg;
	__asm__ volatile("xor %%ecx, %%ecx; div %%ecx" : : : "eax", "ecx", "edx");
}

static void do_read(void *arg)
{
	(void)mmio_read32((uint64_t)(uintptr_t)arg);
}

static unsigned bp_count;

static void count_bp(struct trap_frame *f)
{
	(void)f;
	bp_count++;
}

/* Runs fn under a probe; true if it raised exactly the expected vector. */
static bool raises(void (*fn)(void *), void *arg, unsigned vector, struct probe *p)
{
	memset(p, 0, sizeof(*p));
	p->vector = ~0ull;
	return probe_run(p, fn, arg) && p->vector == vector;
}

static void check_exceptions(void)
{
	struct probe p;
	bool ok;

	ok = raises(do_ud2, NULL, VEC_UD, &p);
	check(ok, "ud2 raises #UD (vector %ld at RIP %#lx)", (long)p.vector, p.rip);
	ok = raises(do_div0, NULL, VEC_DE, &p);
	check(ok, "division by zero raises #DE (vector %ld)", (long)p.vector);
	ok = raises(do_read, (void *)0x100000000ull, VEC_PF, &p);
	check(ok && p.cr2 == 0x100000000ull && !(p.error & 1),
	      "read above the 4 GiB map raises a not-present #PF (vector %ld, CR2 %#lx, error %#lx)",
	      (long)p.vector, p.cr2, p.error);
	ok = raises(do_read, (void *)0x8000000000000000ull, VEC_GP, &p);
	check(ok, "non-canonical read raises #GP (vector %ld)", (long)p.vector);
	if (cmdline_int("soft_int", 1) == 0) {
		con_printf("skip: software interrupts (soft_int=0)\n");
		return;
	}
	ok = raises(do_int3, NULL, VEC_BP, &p);
	check(ok, "int3 raises #BP (vector %ld)", (long)p.vector);
	trap_set_handler(VEC_BP, count_bp);
	__asm__ volatile("int3; int3" ::: "memory");
	trap_set_handler(VEC_BP, NULL);
	check(bp_count == 2, "a #BP handler returns with iretq, twice (%u)", bp_count);
}

static void table_sum(const struct acpi_header *t, void *ctx)
{
	unsigned *bad = ctx;
	bool ok = acpi_sum_ok(t, t->length);

	con_printf("acpi: %.4s at %p, %u bytes, rev %u%s\n", t->signature, (const void *)t, t->length,
		   t->revision, ok ? "" : ", bad checksum");
	*bad += !ok;
}

static void check_acpi(void)
{
	const struct acpi_rsdp *r = acpi_rsdp();
	const struct acpi_header *dsdt;
	unsigned bad = 0, n;

	if (!check(r != NULL, "RSDP found in the BIOS area"))
		return;
	con_printf("acpi: RSDP at %p, revision %u, RSDT %#x, XSDT %#lx\n", (const void *)r, r->revision,
		   r->rsdt_address, r->revision >= 2 ? r->xsdt_address : 0);
	n = acpi_for_each_table(table_sum, &bad);
	check(n > 0 && bad == 0, "%u tables, all checksums valid", n);
	check(acpi_table("FACP") != NULL, "FADT present");
	check(acpi_table("APIC") != NULL, "MADT present");
	dsdt = acpi_table("DSDT");
	if (check(dsdt && !memcmp(dsdt->signature, "DSDT", 4), "DSDT found through the FADT"))
		check(acpi_sum_ok(dsdt, dsdt->length), "DSDT checksum valid (%u bytes)", dsdt->length);
}

void test_main(void)
{
	check_entry_state();
	check_long_mode();
	check_info();
	check_exceptions();
	check_acpi();
}
