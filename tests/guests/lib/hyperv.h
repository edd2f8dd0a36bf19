/* Guest side of Hyper-V (TLFS v6.0b §2.4 CPUID, §3 hypercalls, §11 SynIC, §12 timers) for the
 * test guests, and helpers: probed MSRs, per-vector interrupt counts, waits, CPL 3 entry. */
#ifndef GUEST_HYPERV_H
#define GUEST_HYPERV_H

#include <stdbool.h>
#include <stdint.h>

#include "trap.h"

/* --- CPUID (TLFS "Feature and interface discovery") ------------------------------------------ */
#define HV_CPUID_VENDOR 0x40000000u    /* EAX max leaf, EBX:ECX:EDX vendor */
#define HV_CPUID_INTERFACE 0x40000001u /* EAX "Hv#1" */
#define HV_CPUID_VERSION 0x40000002u
#define HV_CPUID_FEATURES 0x40000003u  /* EAX/EBX privileges, EDX misc features */
#define HV_CPUID_HINTS 0x40000004u
#define HV_CPUID_LIMITS 0x40000005u
#define HV_INTERFACE_HV1 0x31237648u   /* "Hv#1" */
#define CPUID1_ECX_HYPERVISOR (1u << 31)

/* 0x40000003 EAX: partition privileges (low half). */
#define HV_PRIV_VP_RUNTIME (1u << 0)
#define HV_PRIV_TIME_REF_COUNT (1u << 1)
#define HV_PRIV_SYNIC (1u << 2)
#define HV_PRIV_STIMER (1u << 3)
#define HV_PRIV_APIC_MSRS (1u << 4)
#define HV_PRIV_HYPERCALL (1u << 5)
#define HV_PRIV_VP_INDEX (1u << 6)
#define HV_PRIV_RESET (1u << 7)
#define HV_PRIV_REFERENCE_TSC (1u << 9)
#define HV_PRIV_GUEST_IDLE (1u << 10)
#define HV_PRIV_FREQUENCIES (1u << 11)
/* 0x40000003 EBX: partition privileges (high half). */
#define HV_PRIV_POST_MESSAGES (1u << 4)
#define HV_PRIV_SIGNAL_EVENTS (1u << 5)
#define HV_PRIV_CPU_MANAGEMENT (1u << 12)
/* 0x40000003 EDX. */
#define HV_FEAT_FREQUENCY_MSRS (1u << 8)
#define HV_FEAT_CRASH_MSRS (1u << 10)
#define HV_FEAT_STIMER_DIRECT (1u << 19)
/* 0x40000004 EAX. */
#define HV_HINT_DEPRECATE_AUTO_EOI (1u << 9)

/* --- synthetic MSRs -------------------------------------------------------------------------- */
#define HV_MSR_GUEST_OS_ID 0x40000000u
#define HV_MSR_HYPERCALL 0x40000001u
#define HV_MSR_VP_INDEX 0x40000002u
#define HV_MSR_RESET 0x40000003u
#define HV_MSR_VP_RUNTIME 0x40000010u
#define HV_MSR_TIME_REF_COUNT 0x40000020u
#define HV_MSR_REFERENCE_TSC 0x40000021u
#define HV_MSR_TSC_FREQUENCY 0x40000022u
#define HV_MSR_APIC_FREQUENCY 0x40000023u
#define HV_MSR_VP_ASSIST_PAGE 0x40000073u
#define HV_MSR_SCONTROL 0x40000080u
#define HV_MSR_SVERSION 0x40000081u
#define HV_MSR_SIEFP 0x40000082u
#define HV_MSR_SIMP 0x40000083u
#define HV_MSR_EOM 0x40000084u
#define HV_MSR_SINT0 0x40000090u
#define HV_MSR_SINT(n) (HV_MSR_SINT0 + (n))
#define HV_MSR_STIMER_CONFIG(n) (0x400000b0u + 2 * (n))
#define HV_MSR_STIMER_COUNT(n) (0x400000b1u + 2 * (n))
#define HV_MSR_GUEST_IDLE 0x400000f0u
#define HV_MSR_CRASH_P(n) (0x40000100u + (n))
#define HV_MSR_CRASH_CTL 0x40000105u

/* Bit 0 of HYPERCALL, REFERENCE_TSC, SIMP, SIEFP, VP_ASSIST_PAGE; the page GPA above bit 11. */
#define HV_PAGE_ENABLE UINT64_C(1)
#define HV_PAGE_MASK (~UINT64_C(0xfff))
#define HV_HYPERCALL_LOCKED (UINT64_C(1) << 1)
#define HV_SCONTROL_ENABLE UINT64_C(1)
#define HV_SINT_MASKED (UINT64_C(1) << 16)
#define HV_SINT_AUTO_EOI (UINT64_C(1) << 17)
#define HV_SINT_POLLING (UINT64_C(1) << 18)
#define HV_STIMER_ENABLE (UINT64_C(1) << 0)
#define HV_STIMER_PERIODIC (UINT64_C(1) << 1)
#define HV_STIMER_LAZY (UINT64_C(1) << 2)
#define HV_STIMER_AUTO_ENABLE (UINT64_C(1) << 3)
#define HV_STIMER_VECTOR(v) ((uint64_t)(v) << 4)
#define HV_STIMER_DIRECT (UINT64_C(1) << 12)
#define HV_STIMER_SINT(s) ((uint64_t)(s) << 16)
#define HV_CRASH_CTL_NOTIFY_MSG (UINT64_C(1) << 62)
#define HV_CRASH_CTL_NOTIFY (UINT64_C(1) << 63)

#define HV_REF_HZ UINT64_C(10000000) /* reference time: 100 ns units */
#define HV_SINT_COUNT 16
#define HV_STIMER_COUNT 4

/* --- hypercalls (TLFS "Hypercall interface") ------------------------------------------------- */
#define HV_CALL_NOTIFY_LONG_SPIN_WAIT 0x0008u
#define HV_CALL_POST_MESSAGE 0x005cu
#define HV_CALL_SIGNAL_EVENT 0x005du
#define HV_CONTROL_FAST (UINT64_C(1) << 16)
#define HV_CONTROL_VAR_HEADER(n) ((uint64_t)(n) << 17)
#define HV_CONTROL_REP_COUNT(n) ((uint64_t)(n) << 32)
#define HV_CONTROL_REP_START(n) ((uint64_t)(n) << 48)
#define HV_RESULT_STATUS(rax) ((uint16_t)(rax))
#define HV_RESULT_REPS(rax) ((unsigned)(((rax) >> 32) & 0xfff))

#define HV_STATUS_SUCCESS 0x0000
#define HV_STATUS_INVALID_HYPERCALL_CODE 0x0002
#define HV_STATUS_INVALID_HYPERCALL_INPUT 0x0003
#define HV_STATUS_INVALID_ALIGNMENT 0x0004
#define HV_STATUS_INVALID_PARAMETER 0x0005
#define HV_STATUS_ACCESS_DENIED 0x0006
#define HV_STATUS_INVALID_PORT_ID 0x0011
#define HV_STATUS_INVALID_CONNECTION_ID 0x0012
#define HV_STATUS_INSUFFICIENT_BUFFERS 0x0013

/* hvkvm's --hyperv-test-connections: an echo of messages to the poster's SINT (payload[0] & 15)
 * and of event flags into the poster's SIEFP slot of SINT 3. */
#define HV_TEST_CONN_MESSAGE 0x10000u
#define HV_TEST_CONN_EVENT 0x10001u
#define HV_TEST_EVENT_SINT 3

/* --- SynIC pages ----------------------------------------------------------------------------- */
#define HV_MESSAGE_PAYLOAD_MAX 240
#define HV_MESSAGE_FLAG_PENDING 0x01
#define HVMSG_NONE 0x00000000u
#define HVMSG_TIMER_EXPIRED 0x80000010u

struct hv_message {
	volatile uint32_t type;
	volatile uint8_t payload_size;
	volatile uint8_t flags;
	uint16_t reserved;
	uint64_t origin;
	volatile uint8_t payload[HV_MESSAGE_PAYLOAD_MAX];
};
_Static_assert(sizeof(struct hv_message) == 256, "HV_MESSAGE");

struct hv_message_page {
	struct hv_message slot[HV_SINT_COUNT];
};

struct hv_event_flags {
	volatile uint64_t bits[256 / 8]; /* 2048 flags */
};

struct hv_event_page {
	struct hv_event_flags slot[HV_SINT_COUNT];
};

struct hv_timer_payload {
	uint32_t timer_index;
	uint32_t reserved;
	uint64_t expiration_time;
	uint64_t delivery_time;
};

struct hv_post_message_input {
	uint32_t connection_id;
	uint32_t reserved;
	uint32_t message_type;
	uint32_t payload_size;
	uint8_t payload[HV_MESSAGE_PAYLOAD_MAX];
};
_Static_assert(sizeof(struct hv_post_message_input) == 256, "post message input");

struct hv_reference_tsc_page {
	volatile uint32_t sequence;
	uint32_t reserved1;
	volatile uint64_t scale;
	volatile int64_t offset;
};

/* --- the library ----------------------------------------------------------------------------- */
#define HV_MAX_CPUS 16 /* per-CPU state is indexed by APIC ID */

/* CPUID.1:ECX.hypervisor and "Microsoft Hv" at 0x40000000. */
bool hv_present(void);
/* 0x40000003 EAX / EDX (0 without Hyper-V). */
uint32_t hv_privileges(void);
uint32_t hv_misc_features(void);
/* Fails the guest unless Hyper-V is present with all these 0x40000003 EAX privileges. */
void hv_require(uint32_t privileges);

/* MSR access that survives #GP: 0 on success, else the exception vector (BSP only: fault probes).
 * The _faults forms say whether the access raised #GP. */
int hv_rdmsr_probe(uint32_t msr, uint64_t *value);
int hv_wrmsr_probe(uint32_t msr, uint64_t value);
bool hv_wrmsr_faults(uint32_t msr, uint64_t value);
bool hv_rdmsr_faults(uint32_t msr);

/* The hypercall page (4 KiB, in the guest image) and set-up: GUEST_OS_ID (if still 0), then
 * HYPERCALL = page | enable. True when the MSR reads back enabled at that page. */
extern uint8_t hv_hypercall_page[4096];
/* An open-source OS id (bit 63), Linux-like type 0x01, version 1. */
#define HV_GUEST_OS_ID_VALUE UINT64_C(0x8100000000010000)
bool hv_hypercall_init(void);
/* Calls into the hypercall page: RCX = control, RDX = input (GPA or fast value), R8 = output;
 * returns RAX. */
uint64_t hv_hypercall(uint64_t control, uint64_t input, uint64_t output);
/* The same under a fault probe (BSP): 0 and *rax, or the exception vector. */
int hv_hypercall_probe(uint64_t control, uint64_t input, uint64_t output, uint64_t *rax);

/* Per-CPU hypercall input/output pages (4 KiB aligned; GPA = address). */
void *hv_input_page(void);
void *hv_output_page(void);
/* HvPostMessage (slow, from this CPU's input page) and HvSignalEvent (fast or slow). Return the
 * status (RAX bits 15:0). */
uint16_t hv_post_message(uint32_t connection, uint32_t type, const void *payload, uint32_t size);
uint16_t hv_signal_event(uint32_t connection, uint16_t flag, bool fast);

/* This CPU's SynIC pages (per APIC ID, zeroed by hv_synic_enable). */
struct hv_message_page *hv_message_page(void);
struct hv_event_page *hv_event_page(void);
/* SIMP and SIEFP at this CPU's pages, then SCONTROL enable. True if all read back. */
bool hv_synic_enable(void);
void hv_synic_disable(void);
/* The message in this CPU's slot for sint is done: type = NONE, and EOM if it was pending.
 * Returns whether the pending flag was set. */
bool hv_message_ack(unsigned sint);

/* Interrupts: hv_irq_init (on each CPU) masks the 8259 and LINT0 and enables this CPU's LAPIC;
 * hv_irq_install puts the counting handler on a vector (32..TRAP_VECTORS-1, the test IDT's
 * range): each delivery counts per APIC ID, calls the optional hook, then EOIs at the LAPIC. */
typedef void (*hv_irq_hook)(unsigned vector);
void hv_irq_init(void);
void hv_irq_install(unsigned vector, hv_irq_hook hook);
uint32_t hv_irq_count(unsigned vector); /* on this CPU */
uint32_t hv_irq_count_of(uint32_t apic_id, unsigned vector);

/* Time from the PM timer (any CPU): a monotonic microsecond clock local to the caller. */
struct hv_clock {
	uint32_t last;
	uint64_t ticks;
};
void hv_clock_start(struct hv_clock *c);
uint64_t hv_clock_us(struct hv_clock *c);

/* A reading of some clock paired with the PM timer (BSP: timer_now_us): read() between two PM
 * timer reads at most HV_SAMPLE_WINDOW_US apart (retried), so a preemption of the vCPU between the
 * two clocks cannot skew a rate measured from two samples. Returns the PM time in us (midpoint). */
#define HV_SAMPLE_WINDOW_US 40
uint64_t hv_sample(uint64_t (*read)(void *ctx), void *ctx, uint64_t *value);

/* Waits with interrupts on (sti; hlt, woken by the LAPIC timer at least every 10 ms) until
 * done(ctx) or timeout; returns done's last answer. BSP or AP. done == NULL: just sleep. */
bool hv_wait(bool (*done)(void *ctx), void *ctx, uint64_t timeout_us);
/* Until this CPU has counted at least want interrupts on vector. */
bool hv_wait_irqs(unsigned vector, uint32_t want, uint64_t timeout_us);
/* Until the message slot of sint on this CPU has a message. */
bool hv_wait_message(unsigned sint, uint64_t timeout_us);
#define HV_WAKE_VECTOR 63

/* Reference time from the MSR. */
static inline uint64_t hv_ref_time(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(HV_MSR_TIME_REF_COUNT));
	return ((uint64_t)hi << 32) | lo;
}

/* Running code at CPL 3 (BSP): a GDT with user segments and a TSS, the identity map made
 * user-accessible for the duration. hv_user_call enters fn at CPL 3 with RCX, RDX, R8 = args
 * and RFLAGS = rflags (IF and IOPL as given), on its own stack; the user code ends by raising
 * an exception (the snippets below end with HLT: #GP at CPL 3). The result says which exception
 * ended it, where, and RAX then. Exceptions at CPL 0 meanwhile fail the guest. */
struct hv_user_result {
	uint64_t vector, error, rip, cs, rax;
};
bool hv_user_init(void);
void hv_user_call(void (*fn)(void), uint64_t rcx, uint64_t rdx, uint64_t r8, uint64_t rflags,
		  struct hv_user_result *r);
/* User-mode snippets (assembly): */
void hv_user_read_cs(void);   /* RAX = CS, then HLT */
void hv_user_hypercall(void); /* call the hypercall page (R9 = its address), then HLT */
void hv_user_port80(void);    /* OUT to port 0x80, then HLT (at hv_user_port80_hlt) */
extern const char hv_user_port80_hlt[];
#define HV_USER_IOPL3 UINT64_C(0x3000)
#define RFLAGS_RESERVED1 UINT64_C(0x2)

#endif
