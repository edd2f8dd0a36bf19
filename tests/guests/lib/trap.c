/* IDT of the test guests (64-bit interrupt gates) and the C side of every trap: probes first,
 * then installed handlers, else a report of the unexpected exception and a failing exit. */
#include "trap.h"

#include "guest.h"
#include "io.h"
#include "smp.h"

struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct idt_gate) == 16, "idt gate");

#define GATE_INTERRUPT_P 0x8e

extern const uint64_t trap_stub_table[TRAP_VECTORS];
extern struct probe *volatile active_probe;
void probe_resume(void);
void trap_dispatch(struct trap_frame *f);

static struct idt_gate idt[TRAP_VECTORS] __attribute__((aligned(16)));
static trap_handler handlers[TRAP_VECTORS];

static const char *const names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP", "#SS", "#GP",
	"#PF", "res15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "res22", "res23", "res24", "res25",
	"res26", "res27", "#HV", "#VC", "#SX", "res31",
};

const char *trap_name(unsigned vector)
{
	return vector < 32 ? names[vector] : "irq";
}

void trap_load(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) ptr = { sizeof(idt) - 1, (uint64_t)idt };

	__asm__ volatile("lidt %0" : : "m"(ptr));
}

void trap_init(void)
{
	for (unsigned v = 0; v < TRAP_VECTORS; v++) {
		uint64_t a = trap_stub_table[v];

		idt[v] = (struct idt_gate){
			.offset_lo = (uint16_t)a,
			.selector = GDT_CODE64,
			.type_attr = GATE_INTERRUPT_P,
			.offset_mid = (uint16_t)(a >> 16),
			.offset_hi = (uint32_t)(a >> 32),
		};
	}
	trap_load();
}

void trap_set_handler(unsigned vector, trap_handler h)
{
	if (vector < TRAP_VECTORS)
		handlers[vector] = h;
}

void trap_dispatch(struct trap_frame *f)
{
	struct probe *p = active_probe;

	if (p && f->vector < 32 && f->vector != VEC_NMI) {
		p->vector = f->vector;
		p->error = f->error;
		p->rip = f->rip;
		p->cr2 = read_cr2();
		f->rdi = (uint64_t)p;
		f->rip = (uint64_t)probe_resume;
		return;
	}
	if (f->vector < TRAP_VECTORS && handlers[f->vector]) {
		handlers[f->vector](f);
		return;
	}
	con_printf("unexpected exception %lu (%s) at RIP %#lx, error %#lx, CR2 %#lx, RSP %#lx, "
		   "APIC ID %u\n",
		   f->vector, trap_name((unsigned)f->vector), f->rip, f->error, read_cr2(), f->rsp,
		   lapic_id());
	guest_exit(GUEST_FAIL);
}
