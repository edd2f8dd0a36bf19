/* Guest side of Hyper-V (TLFS v6.0b §3 hypercall page, §11 SynIC pages and EOM) for the test
 * guests: probed MSRs, hypercalls, per-CPU SynIC pages, interrupt counts, waits, CPL 3 entry. */
#include "hyperv.h"

#include "guest.h"
#include "io.h"
#include "power.h"
#include "smp.h"
#include "timer.h"

#define PAGE_SIZE 4096
#define PAGE_ALIGNED __attribute__((aligned(PAGE_SIZE)))

/* --- CPUID ----------------------------------------------------------------------------------- */
bool hv_present(void)
{
	uint32_t a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & CPUID1_ECX_HYPERVISOR))
		return false;
	cpuid(HV_CPUID_VENDOR, 0, &a, &b, &c, &d);
	return b == 0x7263694d && c == 0x666f736f && d == 0x76482074; /* "Micr" "osof" "t Hv" */
}

uint32_t hv_privileges(void)
{
	uint32_t a, b, c, d;

	if (!hv_present())
		return 0;
	cpuid(HV_CPUID_FEATURES, 0, &a, &b, &c, &d);
	return a;
}

uint32_t hv_misc_features(void)
{
	uint32_t a, b, c, d;

	if (!hv_present())
		return 0;
	cpuid(HV_CPUID_FEATURES, 0, &a, &b, &c, &d);
	return d;
}

void hv_require(uint32_t privileges)
{
	if (!hv_present())
		guest_fail("no Hyper-V CPUID leaves (\"Microsoft Hv\" at 0x40000000); run with --hyperv on");
	if ((hv_privileges() & privileges) != privileges)
		guest_fail("Hyper-V privileges %#x lack %#x", hv_privileges(),
			   privileges & ~hv_privileges());
}

/* --- MSRs under a fault probe ---------------------------------------------------------------- */
struct msr_op {
	uint32_t msr;
	uint64_t value;
};

static void do_rdmsr(void *arg)
{
	struct msr_op *op = arg;

	op->value = rdmsr(op->msr);
}

static void do_wrmsr(void *arg)
{
	struct msr_op *op = arg;

	wrmsr(op->msr, op->value);
}

int hv_rdmsr_probe(uint32_t msr, uint64_t *value)
{
	struct msr_op op = { msr, 0 };
	struct probe p;

	if (probe_run(&p, do_rdmsr, &op))
		return (int)p.vector;
	if (value)
		*value = op.value;
	return 0;
}

int hv_wrmsr_probe(uint32_t msr, uint64_t value)
{
	struct msr_op op = { msr, value };
	struct probe p;

	if (probe_run(&p, do_wrmsr, &op))
		return (int)p.vector;
	return 0;
}

bool hv_wrmsr_faults(uint32_t msr, uint64_t value)
{
	return hv_wrmsr_probe(msr, value) == VEC_GP;
}

bool hv_rdmsr_faults(uint32_t msr)
{
	return hv_rdmsr_probe(msr, NULL) == VEC_GP;
}

/* --- hypercalls ------------------------------------------------------------------------------ */
uint8_t hv_hypercall_page[PAGE_SIZE] PAGE_ALIGNED;

bool hv_hypercall_init(void)
{
	uint64_t want = (uint64_t)(uintptr_t)hv_hypercall_page | HV_PAGE_ENABLE;

	if (rdmsr(HV_MSR_GUEST_OS_ID) == 0)
		wrmsr(HV_MSR_GUEST_OS_ID, HV_GUEST_OS_ID_VALUE);
	wrmsr(HV_MSR_HYPERCALL, want);
	return (rdmsr(HV_MSR_HYPERCALL) & (HV_PAGE_MASK | HV_PAGE_ENABLE)) == want;
}

uint64_t hv_hypercall(uint64_t control, uint64_t input, uint64_t output)
{
	register uint64_t r8 __asm__("r8") = output;
	uint64_t rax;

	/* The Windows x64 volatile set may change: RAX, RCX, RDX, R8-R11. */
	__asm__ volatile("call *%[page]"
			 : "=a"(rax), "+c"(control), "+d"(input), "+r"(r8)
			 : [page] "r"(hv_hypercall_page)
			 : "r9", "r10", "r11", "memory", "cc");
	return rax;
}

struct hypercall_op {
	uint64_t control, input, output, rax;
};

static void do_hypercall(void *arg)
{
	struct hypercall_op *op = arg;

	op->rax = hv_hypercall(op->control, op->input, op->output);
}

int hv_hypercall_probe(uint64_t control, uint64_t input, uint64_t output, uint64_t *rax)
{
	struct hypercall_op op = { control, input, output, 0 };
	struct probe p;

	if (probe_run(&p, do_hypercall, &op))
		return (int)p.vector;
	if (rax)
		*rax = op.rax;
	return 0;
}

/* --- per-CPU pages --------------------------------------------------------------------------- */
static uint8_t input_pages[HV_MAX_CPUS][PAGE_SIZE] PAGE_ALIGNED;
static uint8_t output_pages[HV_MAX_CPUS][PAGE_SIZE] PAGE_ALIGNED;
static struct hv_message_page message_pages[HV_MAX_CPUS] PAGE_ALIGNED;
static struct hv_event_page event_pages[HV_MAX_CPUS] PAGE_ALIGNED;

static unsigned cpu_slot(void)
{
	uint32_t id = lapic_id();

	if (id >= HV_MAX_CPUS)
		guest_fail("APIC ID %u is beyond the Hyper-V test library's %u CPUs", id, HV_MAX_CPUS);
	return id;
}

void *hv_input_page(void)
{
	return input_pages[cpu_slot()];
}

void *hv_output_page(void)
{
	return output_pages[cpu_slot()];
}

struct hv_message_page *hv_message_page(void)
{
	return &message_pages[cpu_slot()];
}

struct hv_event_page *hv_event_page(void)
{
	return &event_pages[cpu_slot()];
}

uint16_t hv_post_message(uint32_t connection, uint32_t type, const void *payload, uint32_t size)
{
	struct hv_post_message_input *in = hv_input_page();

	memset(in, 0, sizeof(*in));
	in->connection_id = connection;
	in->message_type = type;
	in->payload_size = size;
	memcpy(in->payload, payload, size < HV_MESSAGE_PAYLOAD_MAX ? size : HV_MESSAGE_PAYLOAD_MAX);
	return HV_RESULT_STATUS(hv_hypercall(HV_CALL_POST_MESSAGE, (uint64_t)(uintptr_t)in, 0));
}

uint16_t hv_signal_event(uint32_t connection, uint16_t flag, bool fast)
{
	uint64_t value = connection | (uint64_t)flag << 32;

	if (fast)
		return HV_RESULT_STATUS(hv_hypercall(HV_CALL_SIGNAL_EVENT | HV_CONTROL_FAST, value, 0));
	uint64_t *in = hv_input_page();

	in[0] = value;
	return HV_RESULT_STATUS(hv_hypercall(HV_CALL_SIGNAL_EVENT, (uint64_t)(uintptr_t)in, 0));
}

/* --- SynIC ----------------------------------------------------------------------------------- */
bool hv_synic_enable(void)
{
	uint64_t simp = (uint64_t)(uintptr_t)hv_message_page() | HV_PAGE_ENABLE;
	uint64_t siefp = (uint64_t)(uintptr_t)hv_event_page() | HV_PAGE_ENABLE;

	memset(hv_message_page(), 0, sizeof(struct hv_message_page));
	memset(hv_event_page(), 0, sizeof(struct hv_event_page));
	wrmsr(HV_MSR_SIMP, simp);
	wrmsr(HV_MSR_SIEFP, siefp);
	wrmsr(HV_MSR_SCONTROL, HV_SCONTROL_ENABLE);
	return (rdmsr(HV_MSR_SIMP) & (HV_PAGE_MASK | HV_PAGE_ENABLE)) == simp &&
	       (rdmsr(HV_MSR_SIEFP) & (HV_PAGE_MASK | HV_PAGE_ENABLE)) == siefp &&
	       (rdmsr(HV_MSR_SCONTROL) & HV_SCONTROL_ENABLE);
}

void hv_synic_disable(void)
{
	for (unsigned i = 0; i < HV_SINT_COUNT; i++)
		wrmsr(HV_MSR_SINT(i), HV_SINT_MASKED);
	wrmsr(HV_MSR_SCONTROL, 0);
	wrmsr(HV_MSR_SIMP, 0);
	wrmsr(HV_MSR_SIEFP, 0);
}

bool hv_message_ack(unsigned sint)
{
	struct hv_message *m = &hv_message_page()->slot[sint];

	/* TLFS: empty the slot first, then look at MessagePending and end the message. */
	m->type = HVMSG_NONE;
	__asm__ volatile("mfence" ::: "memory");
	if (m->flags & HV_MESSAGE_FLAG_PENDING) {
		wrmsr(HV_MSR_EOM, 0);
		return true;
	}
	return false;
}

/* --- interrupts ------------------------------------------------------------------------------ */
#define LAPIC_LVT_LINT0 0x350
#define LVT_MASKED 0x10000u
#define LVT_TIMER_PERIODIC 0x20000u
#define LAPIC_DIV_16 0x3u
#define PIC1_DATA 0x21
#define PIC2_DATA 0xa1
#define WAKE_PERIOD_HZ 100
#define DEFAULT_APIC_HZ UINT64_C(1000000000) /* KVM's LAPIC bus runs at 1 GHz */

static volatile uint32_t irq_counts[HV_MAX_CPUS][TRAP_VECTORS];
static hv_irq_hook irq_hooks[TRAP_VECTORS];
static uint32_t wake_count;

static void irq_handler(struct trap_frame *f)
{
	unsigned v = (unsigned)f->vector;

	__atomic_add_fetch(&irq_counts[cpu_slot()][v], 1, __ATOMIC_SEQ_CST);
	if (irq_hooks[v])
		irq_hooks[v](v);
	lapic_write(LAPIC_EOI, 0);
}

void hv_irq_install(unsigned vector, hv_irq_hook hook)
{
	if (vector < 32 || vector >= TRAP_VECTORS)
		guest_fail("vector %u out of the test IDT's interrupt range 32-%u", vector,
			   TRAP_VECTORS - 1);
	irq_hooks[vector] = hook;
	trap_set_handler(vector, irq_handler);
}

void hv_irq_init(void)
{
	if (!wake_count) {
		uint64_t hz = DEFAULT_APIC_HZ;

		if (hv_privileges() & HV_PRIV_FREQUENCIES) {
			uint64_t f = rdmsr(HV_MSR_APIC_FREQUENCY);

			if (f)
				hz = f;
		}
		wake_count = (uint32_t)(hz / 16 / WAKE_PERIOD_HZ);
		if (!wake_count)
			wake_count = 1;
		outb(PIC1_DATA, 0xff);
		outb(PIC2_DATA, 0xff);
	}
	lapic_enable();
	lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | HV_WAKE_VECTOR);
	hv_irq_install(HV_WAKE_VECTOR, NULL);
}

uint32_t hv_irq_count(unsigned vector)
{
	return irq_counts[cpu_slot()][vector];
}

uint32_t hv_irq_count_of(uint32_t apic_id, unsigned vector)
{
	return apic_id < HV_MAX_CPUS && vector < TRAP_VECTORS ? irq_counts[apic_id][vector] : 0;
}

/* --- time and waits -------------------------------------------------------------------------- */
static uint32_t pm_mask(void)
{
	return power_pm()->tmr_32bit ? 0xffffffffu : 0x00ffffffu;
}

void hv_clock_start(struct hv_clock *c)
{
	c->last = timer_read_raw();
	c->ticks = 0;
}

uint64_t hv_clock_us(struct hv_clock *c)
{
	uint32_t raw = timer_read_raw();

	c->ticks += (raw - c->last) & pm_mask();
	c->last = raw;
	return c->ticks * 1000000u / PM_TIMER_HZ;
}

uint64_t hv_sample(uint64_t (*read)(void *ctx), void *ctx, uint64_t *value)
{
	uint64_t a = 0, b = 0;

	for (unsigned i = 0; i < 1000; i++) {
		a = timer_now_us();
		*value = read(ctx);
		b = timer_now_us();
		if (b - a <= HV_SAMPLE_WINDOW_US)
			break;
	}
	return a + (b - a) / 2;
}

bool hv_wait(bool (*done)(void *ctx), void *ctx, uint64_t timeout_us)
{
	struct hv_clock c;
	bool ok;

	hv_clock_start(&c);
	lapic_write(LAPIC_TIMER_DIV, LAPIC_DIV_16);
	lapic_write(LAPIC_LVT_TIMER, LVT_TIMER_PERIODIC | HV_WAKE_VECTOR);
	lapic_write(LAPIC_TIMER_INIT, wake_count ? wake_count : 625000);
	for (;;) {
		if (done && done(ctx)) {
			ok = true;
			break;
		}
		if (hv_clock_us(&c) >= timeout_us) {
			ok = done ? done(ctx) : true;
			break;
		}
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	}
	lapic_write(LAPIC_TIMER_INIT, 0);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | HV_WAKE_VECTOR);
	return ok;
}

struct irq_wait {
	unsigned vector;
	uint32_t want;
};

static bool irqs_arrived(void *arg)
{
	struct irq_wait *w = arg;

	return hv_irq_count(w->vector) >= w->want;
}

bool hv_wait_irqs(unsigned vector, uint32_t want, uint64_t timeout_us)
{
	struct irq_wait w = { vector, want };

	return hv_wait(irqs_arrived, &w, timeout_us);
}

static bool message_arrived(void *arg)
{
	unsigned sint = (unsigned)(uintptr_t)arg;

	return hv_message_page()->slot[sint].type != HVMSG_NONE;
}

bool hv_wait_message(unsigned sint, uint64_t timeout_us)
{
	return hv_wait(message_arrived, (void *)(uintptr_t)sint, timeout_us);
}

/* --- CPL 3 ----------------------------------------------------------------------------------- */
#define GDT_USER_CODE64 0x20
#define GDT_USER_DATA 0x28
#define GDT_TSS 0x30
#define GDT_ENTRIES 8
#define PTE_USER UINT64_C(0x4)
#define PDE_COUNT_MAX 2048

struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iopb_offset;
} __attribute__((packed));
_Static_assert(sizeof(struct tss64) == 104, "64-bit TSS");

/* Offsets used by hyperv_user.S. */
struct user_ctx {
	uint64_t saved_rsp, rip, rsp, rflags, rcx, rdx, r8, r9;
};

extern uint64_t gdt[];
extern uint64_t pml4[512];
extern const char __bss_end[];
void hv_user_enter(struct user_ctx *ctx);
void hv_user_return(void);

static uint64_t user_gdt[GDT_ENTRIES] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static uint8_t ring0_stack[16384] __attribute__((aligned(16)));
static uint8_t user_stack[16384] __attribute__((aligned(16)));
static struct user_ctx uctx;
static struct hv_user_result *uresult;
static bool user_ready;

static uint64_t segment(uint8_t access, uint8_t flags)
{
	/* base 0, limit 0xfffff; access byte at bits 40-47, flags (G, D/B, L) at 52-55 */
	return UINT64_C(0xffff) | UINT64_C(0xf) << 48 | (uint64_t)access << 40 | (uint64_t)flags << 52;
}

bool hv_user_init(void)
{
	uint64_t base = (uint64_t)(uintptr_t)&tss;
	uint64_t limit = sizeof(tss) - 1;
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) ptr = { sizeof(user_gdt) - 1, (uint64_t)(uintptr_t)user_gdt };

	if (user_ready)
		return true;
	for (unsigned i = 0; i < 4; i++)
		user_gdt[i] = gdt[i]; /* null, CODE64, DATA, CODE32 as entry.S has them */
	user_gdt[GDT_USER_CODE64 / 8] = segment(0xfa, 0xa); /* present, DPL 3, code; G, L */
	user_gdt[GDT_USER_DATA / 8] = segment(0xf2, 0xc);   /* present, DPL 3, data; G, D/B */
	/* 64-bit available TSS (type 9), present, DPL 0: two slots. */
	user_gdt[GDT_TSS / 8] = (limit & 0xffff) | (base & 0xffffff) << 16 | UINT64_C(0x89) << 40 |
				((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
	user_gdt[GDT_TSS / 8 + 1] = base >> 32;
	memset(&tss, 0, sizeof(tss));
	tss.rsp[0] = (uint64_t)(uintptr_t)(ring0_stack + sizeof(ring0_stack));
	tss.iopb_offset = sizeof(tss); /* no I/O permission bitmap */
	__asm__ volatile("lgdt %0" : : "m"(ptr) : "memory");
	__asm__ volatile("ltr %w0" : : "r"(GDT_TSS) : "memory");
	user_ready = true;
	return true;
}

static void user_trap(struct trap_frame *f)
{
	if ((f->cs & 3) != 3) {
		con_printf("unexpected exception %lu (%s) at CPL 0 during a user-mode run, RIP %#lx\n",
			   f->vector, trap_name((unsigned)f->vector), f->rip);
		guest_exit(GUEST_FAIL);
	}
	uresult->vector = f->vector;
	uresult->error = f->error;
	uresult->rip = f->rip;
	uresult->cs = f->cs;
	uresult->rax = f->rax;
	f->rip = (uint64_t)(uintptr_t)hv_user_return;
	f->cs = GDT_CODE64;
	f->ss = GDT_DATA;
	f->rsp = uctx.saved_rsp;
	f->rflags = RFLAGS_RESERVED1;
}

static inline void write_cr3(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

void hv_user_call(void (*fn)(void), uint64_t rcx, uint64_t rdx, uint64_t r8, uint64_t rflags,
		  struct hv_user_result *r)
{
	uint64_t *pdpt = (uint64_t *)(uintptr_t)(pml4[0] & HV_PAGE_MASK);
	uint64_t *pd = (uint64_t *)(uintptr_t)(pdpt[0] & HV_PAGE_MASK);
	unsigned npde = (unsigned)(((uint64_t)(uintptr_t)__bss_end + (1u << 21) - 1) >> 21);
	uint64_t saved_pml4 = pml4[0], saved_pdpt = pdpt[0];
	static uint64_t saved_pd[PDE_COUNT_MAX / 4];

	hv_user_init();
	memset(r, 0, sizeof(*r));
	r->vector = ~UINT64_C(0);
	if (npde > ARRAY_SIZE(saved_pd))
		guest_fail("guest image too large for the user-mode map");
	/* The whole image (code, the hypercall page, the user stack) user-accessible for now. */
	pml4[0] |= PTE_USER;
	pdpt[0] |= PTE_USER;
	for (unsigned i = 0; i < npde; i++) {
		saved_pd[i] = pd[i];
		pd[i] |= PTE_USER;
	}
	write_cr3(read_cr3());

	for (unsigned v = 0; v < 32; v++)
		if (v != VEC_NMI)
			trap_set_handler(v, user_trap);
	uresult = r;
	uctx = (struct user_ctx){
		.rip = (uint64_t)(uintptr_t)fn,
		.rsp = (uint64_t)(uintptr_t)(user_stack + sizeof(user_stack)),
		.rflags = rflags | RFLAGS_RESERVED1,
		.rcx = rcx,
		.rdx = rdx,
		.r8 = r8,
		.r9 = (uint64_t)(uintptr_t)hv_hypercall_page,
	};
	hv_user_enter(&uctx);
	for (unsigned v = 0; v < 32; v++)
		if (v != VEC_NMI)
			trap_set_handler(v, NULL);

	for (unsigned i = 0; i < npde; i++)
		pd[i] = saved_pd[i];
	pdpt[0] = saved_pdpt;
	pml4[0] = saved_pml4;
	write_cr3(read_cr3());
}
