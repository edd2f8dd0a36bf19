/* Initial vCPU state (Intel SDM vol. 3A ch. 9 "Processor management and initialization"; Linux
 * boot protocol "64-bit boot protocol"; PVH and Multiboot entry states). */
#include "vcpu_setup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "cpuid.h"
#include "hv_host.h"
#include "firmware/boot_layout.h"
#include "vm.h"

#define CR0_PE (1u << 0)
#define CR0_ET (1u << 4)
#define CR0_PG (1u << 31)
#define CR4_PAE (1u << 5)
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)

#define PTE_PRESENT (1u << 0)
#define PTE_WRITE (1u << 1)
#define PTE_HUGE (1u << 7)

#define MSR_IA32_MISC_ENABLE 0x1a0
#define MISC_ENABLE_FAST_STRING 1u

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_EXTINT 0x7
#define APIC_MODE_NMI 0x4

/* Boot GDT selectors, as Linux's boot protocol names them (__BOOT_CS, __BOOT_DS). */
#define GDT_CODE32 1
#define GDT_CODE64 2
#define GDT_DATA 3
#define GDT_TSS 4
#define GDT_ENTRIES 5

static int set_cpuid(struct vcpu *v, struct error *err)
{
	struct kvm_cpuid2 *c;
	int ret = cpuid_for_vcpu(v->vm->supported_cpuid, v->index, v->vm->ncpus, &c);

	if (ret < 0)
		return error_set(err, -ret, "out of memory");
	if (v->vm->hv && hv_host_set_cpuid(v->vm->hv, &c) < 0) {
		free(c);
		return error_set(err, ENOMEM, "out of memory");
	}
	ret = ioctl(v->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	free(c);
	if (ret < 0)
		return error_set(err, -ret, "KVM_SET_CPUID2: %s", strerror(-ret));
	return 0;
}

static void set_lvt_mode(struct kvm_lapic_state *lapic, unsigned reg, unsigned mode)
{
	uint32_t v;

	memcpy(&v, &lapic->regs[reg], sizeof(v));
	v = (v & ~0x700u) | (mode << 8);
	memcpy(&lapic->regs[reg], &v, sizeof(v));
}

/* LINT0 takes the 8259's ExtINT, LINT1 the NMI, as a PC's firmware leaves them. */
static int set_lapic_lint(struct vcpu *v, struct error *err)
{
	struct kvm_lapic_state lapic;

	if (ioctl(v->fd, KVM_GET_LAPIC, &lapic) < 0)
		return error_set(err, errno, "KVM_GET_LAPIC: %s", strerror(errno));
	set_lvt_mode(&lapic, APIC_LVT0, APIC_MODE_EXTINT);
	set_lvt_mode(&lapic, APIC_LVT1, APIC_MODE_NMI);
	if (ioctl(v->fd, KVM_SET_LAPIC, &lapic) < 0)
		return error_set(err, errno, "KVM_SET_LAPIC: %s", strerror(errno));
	return 0;
}

static int set_fpu_and_msrs(struct vcpu *v, struct error *err)
{
	struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entries[1];
	} msrs = {
		.hdr.nmsrs = 1,
		.entries[0] = {.index = MSR_IA32_MISC_ENABLE, .data = MISC_ENABLE_FAST_STRING},
	};

	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		return error_set(err, errno, "KVM_SET_FPU: %s", strerror(errno));
	/* Not every backend knows MISC_ENABLE; the guest copes without fast strings. */
	(void)ioctl(v->fd, KVM_SET_MSRS, &msrs);
	return 0;
}

int vcpu_setup_common(struct vcpu *v, struct error *err)
{
	int ret = set_cpuid(v, err);

	if (ret == 0)
		ret = set_lapic_lint(v, err);
	if (ret == 0)
		ret = set_fpu_and_msrs(v, err);
	return ret;
}

static uint64_t gdt_entry(uint32_t base, uint32_t limit, uint16_t flags)
{
	return ((uint64_t)(base & 0xff000000u) << 32) | ((uint64_t)(flags & 0xf0ffu) << 40) |
	       ((uint64_t)(limit & 0x000f0000u) << 32) | ((uint64_t)(base & 0x00ffffffu) << 16) |
	       (limit & 0xffffu);
}

static struct kvm_segment segment_from_gdt(uint64_t e, unsigned index)
{
	uint32_t limit = (uint32_t)((e & 0xffff) | (((e >> 48) & 0xf) << 16));
	bool granular = (e >> 55) & 1;

	/* KVM takes the limit in bytes: scale a 4 KiB-granular one. */
	return (struct kvm_segment){
		.base = ((e >> 16) & 0xffffff) | (((e >> 56) & 0xff) << 24),
		.limit = granular ? (limit << 12) | 0xfff : limit,
		.selector = index * 8,
		.type = (e >> 40) & 0xf,
		.present = (e >> 47) & 1,
		.dpl = (e >> 45) & 3,
		.db = (e >> 54) & 1,
		.s = (e >> 44) & 1,
		.l = (e >> 53) & 1,
		.g = (e >> 55) & 1,
	};
}

static int write_gdt(struct vcpu *v, uint64_t gdt[GDT_ENTRIES])
{
	gdt[0] = 0;
	gdt[GDT_CODE64] = gdt_entry(0, 0xfffff, 0xa09b); /* 64-bit code, G, L */
	gdt[GDT_CODE32] = gdt_entry(0, 0xfffff, 0xc09b); /* 32-bit code, G, D */
	gdt[GDT_DATA] = gdt_entry(0, 0xfffff, 0xc093);   /* data, G, B */
	gdt[GDT_TSS] = gdt_entry(0, 0xfffff, 0x808b);    /* 32-bit busy TSS */
	return guest_mem_write(&v->vm->mem, BOOT_GDT_ADDR, gdt, GDT_ENTRIES * sizeof(gdt[0]));
}

/* PML4[0] -> PDPT; PDPT[0..3] -> four page directories of 2 MiB pages: identity 0-4 GiB. */
static int write_identity_page_tables(struct vcpu *v)
{
	const struct guest_mem *mem = &v->vm->mem;
	uint64_t *pml4 = guest_mem_ptr(mem, BOOT_PML4_ADDR, 4096);
	uint64_t *pdpt = guest_mem_ptr(mem, BOOT_PDPT_ADDR, 4096);
	uint64_t *pd = guest_mem_ptr(mem, BOOT_PD_ADDR, 4 * 4096);

	if (!pml4 || !pdpt || !pd)
		return -EFAULT;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = BOOT_PDPT_ADDR | PTE_PRESENT | PTE_WRITE;
	for (unsigned i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PD_ADDR + i * 4096) | PTE_PRESENT | PTE_WRITE;
	for (unsigned i = 0; i < 4 * 512; i++)
		pd[i] = ((uint64_t)i << 21) | PTE_PRESENT | PTE_WRITE | PTE_HUGE;
	return 0;
}

int vcpu_setup_boot(struct vcpu *v, const struct boot_entry *entry, struct error *err)
{
	uint64_t gdt[GDT_ENTRIES];
	struct kvm_sregs sregs;
	struct kvm_regs regs = {
		.rip = entry->rip,
		.rax = entry->rax,
		.rbx = entry->rbx,
		.rsi = entry->rsi,
		.rsp = entry->rsp,
		.rflags = 0x2,
	};
	bool long_mode = entry->mode == BOOT_CPU_LONG64;
	struct kvm_segment data;

	if (write_gdt(v, gdt) < 0 || (long_mode && write_identity_page_tables(v) < 0))
		return error_set(err, EFAULT, "guest memory too small for the boot structures");
	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return error_set(err, errno, "KVM_GET_SREGS: %s", strerror(errno));
	sregs.gdt.base = BOOT_GDT_ADDR;
	sregs.gdt.limit = GDT_ENTRIES * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cs = segment_from_gdt(gdt[long_mode ? GDT_CODE64 : GDT_CODE32],
				   long_mode ? GDT_CODE64 : GDT_CODE32);
	data = segment_from_gdt(gdt[GDT_DATA], GDT_DATA);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.tr = segment_from_gdt(gdt[GDT_TSS], GDT_TSS);
	sregs.cr0 = CR0_PE | CR0_ET;
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (long_mode) {
		sregs.cr3 = BOOT_PML4_ADDR;
		sregs.cr4 |= CR4_PAE;
		sregs.cr0 |= CR0_PG;
		sregs.efer |= EFER_LME | EFER_LMA;
	}
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
		return error_set(err, errno, "KVM_SET_SREGS: %s", strerror(errno));
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
		return error_set(err, errno, "KVM_SET_REGS: %s", strerror(errno));
	return 0;
}
