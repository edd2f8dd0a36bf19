/* Hyper-V TLFS v6.0b constants and wire structures: CPUID leaves and bits, synthetic MSRs,
 * hypercall control/result and status codes, SynIC messages, timers (names as hyperv-tlfs.h). */
#ifndef HVKVM_HV_TLFS_H
#define HVKVM_HV_TLFS_H

#include <stdint.h>

/* The trampoline in the hypercall page does `out %al, $HV_HYPERCALL_PORT`; the VMM turns an OUT to
 * this port into hv_hypercall. Not 0xED (the PC delay port). */
#define HV_HYPERCALL_PORT 0xec
/* The doorbell port of the trampoline's HvSignalEvent fast path (see HV_HYPERCALL_PAGE_CODE). */
#define HV_SIGNAL_PORT 0xee

#define HV_HYP_PAGE_SIZE 4096u
#define HV_HYP_PAGE_SHIFT 12

/* CPUID leaves. */
#define HYPERV_CPUID_VENDOR_AND_MAX_FUNCTIONS 0x40000000u
#define HYPERV_CPUID_INTERFACE 0x40000001u
#define HYPERV_CPUID_VERSION 0x40000002u
#define HYPERV_CPUID_FEATURES 0x40000003u
#define HYPERV_CPUID_ENLIGHTMENT_INFO 0x40000004u
#define HYPERV_CPUID_IMPLEMENT_LIMITS 0x40000005u
#define HYPERV_CPUID_NESTED_FEATURES 0x4000000Au
#define HYPERV_INTERFACE_HV1 0x31237648u /* "Hv#1" */

/* 0x40000003 EAX: partition privileges, low half (group A). */
#define HV_MSR_VP_RUNTIME_AVAILABLE (1u << 0)
#define HV_MSR_TIME_REF_COUNT_AVAILABLE (1u << 1)
#define HV_MSR_SYNIC_AVAILABLE (1u << 2)
#define HV_MSR_SYNTIMER_AVAILABLE (1u << 3)
#define HV_MSR_APIC_ACCESS_AVAILABLE (1u << 4) /* AccessVpAssist / APIC MSRs */
#define HV_MSR_HYPERCALL_AVAILABLE (1u << 5)
#define HV_MSR_VP_INDEX_AVAILABLE (1u << 6)
#define HV_MSR_RESET_AVAILABLE (1u << 7)
#define HV_MSR_REFERENCE_TSC_AVAILABLE (1u << 9)
#define HV_MSR_GUEST_IDLE_AVAILABLE (1u << 10)
#define HV_ACCESS_FREQUENCY_MSRS (1u << 11)
#define HV_ACCESS_TSC_INVARIANT (1u << 15)
/* 0x40000003 EBX: partition privileges, high half (group B). */
#define HV_POST_MESSAGES (1u << 4)
#define HV_SIGNAL_EVENTS (1u << 5)
/* 0x40000003 EDX: features (group D). */
#define HV_X64_HYPERCALL_XMM_INPUT_AVAILABLE (1u << 4) /* never set: no XMM input */
#define HV_X64_GUEST_IDLE_STATE_AVAILABLE (1u << 5)
#define HV_FEATURE_FREQUENCY_MSRS_AVAILABLE (1u << 8)
#define HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE (1u << 10)
#define HV_STIMER_DIRECT_MODE_AVAILABLE (1u << 19)
/* 0x40000004 EAX: recommendations. */
#define HV_X64_SYSTEM_RESET_RECOMMENDED (1u << 4)
#define HV_X64_RELAXED_TIMING_RECOMMENDED (1u << 5)
#define HV_DEPRECATING_AEOI_RECOMMENDED (1u << 9)
#define HV_X64_CLUSTER_IPI_RECOMMENDED (1u << 10)
#define HV_SPIN_RETRIES_NEVER 0xffffffffu /* 0x40000004 EBX */

/* Synthetic MSRs. */
#define HV_X64_MSR_GUEST_OS_ID 0x40000000u
#define HV_X64_MSR_HYPERCALL 0x40000001u
#define HV_X64_MSR_VP_INDEX 0x40000002u
#define HV_X64_MSR_RESET 0x40000003u
#define HV_X64_MSR_VP_RUNTIME 0x40000010u
#define HV_X64_MSR_TIME_REF_COUNT 0x40000020u
#define HV_X64_MSR_REFERENCE_TSC 0x40000021u
#define HV_X64_MSR_TSC_FREQUENCY 0x40000022u
#define HV_X64_MSR_APIC_FREQUENCY 0x40000023u
#define HV_X64_MSR_EOI 0x40000070u
#define HV_X64_MSR_ICR 0x40000071u
#define HV_X64_MSR_TPR 0x40000072u
#define HV_X64_MSR_VP_ASSIST_PAGE 0x40000073u
#define HV_X64_MSR_SCONTROL 0x40000080u
#define HV_X64_MSR_SVERSION 0x40000081u
#define HV_X64_MSR_SIEFP 0x40000082u
#define HV_X64_MSR_SIMP 0x40000083u
#define HV_X64_MSR_EOM 0x40000084u
#define HV_X64_MSR_SINT0 0x40000090u
#define HV_X64_MSR_SINT15 0x4000009Fu
#define HV_X64_MSR_STIMER0_CONFIG 0x400000B0u /* CONFIG n = B0 + 2n, COUNT n = B1 + 2n */
#define HV_X64_MSR_STIMER0_COUNT 0x400000B1u
#define HV_X64_MSR_STIMER1_CONFIG 0x400000B2u
#define HV_X64_MSR_STIMER1_COUNT 0x400000B3u
#define HV_X64_MSR_STIMER2_CONFIG 0x400000B4u
#define HV_X64_MSR_STIMER2_COUNT 0x400000B5u
#define HV_X64_MSR_STIMER3_CONFIG 0x400000B6u
#define HV_X64_MSR_STIMER3_COUNT 0x400000B7u
#define HV_X64_MSR_GUEST_IDLE 0x400000F0u
#define HV_X64_MSR_CRASH_P0 0x40000100u
#define HV_X64_MSR_CRASH_P1 0x40000101u
#define HV_X64_MSR_CRASH_P2 0x40000102u
#define HV_X64_MSR_CRASH_P3 0x40000103u
#define HV_X64_MSR_CRASH_P4 0x40000104u
#define HV_X64_MSR_CRASH_CTL 0x40000105u
#define HV_X64_MSR_TSC_INVARIANT_CONTROL 0x40000118u
#define HV_X64_MSR_FIRST 0x40000000u
#define HV_X64_MSR_LAST 0x40000118u

/* Page-address MSRs (HYPERCALL, REFERENCE_TSC, VP_ASSIST_PAGE, SIMP, SIEFP): enable bit 0,
 * bits 1-11 preserved, GPA page number in 12-63. */
#define HV_MSR_PAGE_ENABLE 1ull
#define HV_MSR_PAGE_GPA_MASK (~0xfffull)

#define HV_CRASH_CTL_CRASH_NOTIFY_MSG (1ull << 62)
#define HV_CRASH_CTL_CRASH_NOTIFY (1ull << 63)
#define HV_CRASH_PARAMS 5
#define HV_CRASH_MESSAGE_MAX 4096u

#define HV_TSC_INVARIANT_CONTROL_ENABLE 1ull
#define HV_RESET_DO_RESET 1ull

/* Reference time: 100 ns units. */
#define HV_CLOCK_HZ 10000000ull
#define HV_NS_PER_REF_TICK 100ull

/* Reference TSC page: ref = ((tsc * tsc_scale) >> 64) + tsc_offset. */
struct ms_hyperv_tsc_page {
	uint32_t tsc_sequence; /* 0 = invalid: use TIME_REF_COUNT */
	uint32_t reserved1;
	uint64_t tsc_scale;
	int64_t tsc_offset;
} __attribute__((packed));
_Static_assert(sizeof(struct ms_hyperv_tsc_page) == 24, "TSC page header");

/* Hypercall input value. */
#define HV_HYPERCALL_CODE_MASK 0xffffull
#define HV_HYPERCALL_FAST_BIT (1ull << 16)
#define HV_HYPERCALL_VARHEAD_OFFSET 17
#define HV_HYPERCALL_VARHEAD_MASK (0x3ffull << 17)
#define HV_HYPERCALL_REP_COMP_OFFSET 32
#define HV_HYPERCALL_REP_COMP_MASK (0xfffull << 32)
#define HV_HYPERCALL_REP_START_OFFSET 48
#define HV_HYPERCALL_REP_START_MASK (0xfffull << 48)
#define HV_HYPERCALL_RSVD_MASK ((0x1full << 27) | (0xfull << 44) | (0xfull << 60))
/* Fast calls pass 16 bytes of input in RDX and R8 (no XMM input). */
#define HV_HYPERCALL_FAST_INPUT_BYTES 16u

#define HVCALL_NOTIFY_LONG_SPIN_WAIT 0x0008
#define HVCALL_SEND_IPI 0x000b
#define HVCALL_SEND_IPI_EX 0x0015
#define HVCALL_POST_MESSAGE 0x005c
#define HVCALL_SIGNAL_EVENT 0x005d

#define HV_STATUS_SUCCESS 0x0000
#define HV_STATUS_INVALID_HYPERCALL_CODE 0x0002
#define HV_STATUS_INVALID_HYPERCALL_INPUT 0x0003
#define HV_STATUS_INVALID_ALIGNMENT 0x0004
#define HV_STATUS_INVALID_PARAMETER 0x0005
#define HV_STATUS_ACCESS_DENIED 0x0006
#define HV_STATUS_INVALID_PORT_ID 0x0011
#define HV_STATUS_INVALID_CONNECTION_ID 0x0012
#define HV_STATUS_INSUFFICIENT_BUFFERS 0x0013
#define HV_STATUS_INVALID_SYNIC_STATE 0x0018

/* HvPostMessage input. */
#define HV_MESSAGE_SIZE 256u
#define HV_MESSAGE_PAYLOAD_BYTE_COUNT 240u
struct hv_input_post_message {
	uint32_t connection_id;
	uint32_t reserved;
	uint32_t message_type;
	uint32_t payload_size;
	uint8_t payload[HV_MESSAGE_PAYLOAD_BYTE_COUNT];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_input_post_message) == 256, "post message input");

/* HvSignalEvent input: connection_id, flag_number, rsvdz. */
struct hv_input_signal_event {
	uint32_t connection_id;
	uint16_t flag_number;
	uint16_t rsvdz;
} __attribute__((packed));
_Static_assert(sizeof(struct hv_input_signal_event) == 8, "signal event input");

/* HvCallSendSyntheticClusterIpi(Ex) input. */
#define HV_IPI_LOW_VECTOR 0x10
#define HV_IPI_HIGH_VECTOR 0xff
#define HV_GENERIC_SET_SPARSE_4K 0
#define HV_GENERIC_SET_ALL 1
struct hv_send_ipi {
	uint32_t vector;
	uint8_t target_vtl;
	uint8_t padding[3];
	uint64_t cpu_mask;
} __attribute__((packed));
_Static_assert(sizeof(struct hv_send_ipi) == 16, "send ipi input");
struct hv_send_ipi_ex {
	uint32_t vector;
	uint8_t target_vtl;
	uint8_t padding[3];
	uint64_t format;          /* HV_GENERIC_SET_* */
	uint64_t valid_bank_mask; /* then one u64 per set bank in the variable header */
} __attribute__((packed));
_Static_assert(sizeof(struct hv_send_ipi_ex) == 24, "send ipi ex input");

/* SynIC. */
#define HV_SYNIC_SINT_COUNT 16
#define HV_SYNIC_VERSION_1 1
#define HV_SYNIC_FIRST_VALID_VECTOR 16
#define HV_SYNIC_CONTROL_ENABLE 1ull
#define HV_SYNIC_SINT_VECTOR_MASK 0xffull
#define HV_SYNIC_SINT_MASKED (1ull << 16)
#define HV_SYNIC_SINT_AUTO_EOI (1ull << 17)
#define HV_SYNIC_SINT_POLLING (1ull << 18)
#define HV_SYNIC_SINT_DEFAULT HV_SYNIC_SINT_MASKED
#define HV_EVENT_FLAGS_COUNT (256 * 8)

#define HVMSG_NONE 0x00000000u
#define HVMSG_TIMER_EXPIRED 0x80000010u
#define HVMSG_HYPERVISOR_FIRST 0x80000000u /* types from here on are the hypervisor's */

#define HV_MESSAGE_FLAG_PENDING 0x01 /* message_flags.msg_pending */

struct hv_message_header {
	uint32_t message_type;
	uint8_t payload_size;
	uint8_t message_flags;
	uint8_t reserved[2];
	uint64_t sender; /* or port id */
} __attribute__((packed));
_Static_assert(sizeof(struct hv_message_header) == 16, "message header");

struct hv_message {
	struct hv_message_header header;
	uint8_t payload[HV_MESSAGE_PAYLOAD_BYTE_COUNT];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_message) == HV_MESSAGE_SIZE, "message slot");

/* HVMSG_TIMER_EXPIRED payload. */
struct hv_timer_message_payload {
	uint32_t timer_index;
	uint32_t reserved;
	uint64_t expiration_time; /* reference time the timer was due */
	uint64_t delivery_time;   /* reference time the message was written */
} __attribute__((packed));
_Static_assert(sizeof(struct hv_timer_message_payload) == 24, "timer payload");

/* Synthetic timers. */
#define HV_SYNIC_STIMER_COUNT 4
#define HV_STIMER_ENABLE (1ull << 0)
#define HV_STIMER_PERIODIC (1ull << 1)
#define HV_STIMER_LAZY (1ull << 2)
#define HV_STIMER_AUTO_ENABLE (1ull << 3)
#define HV_STIMER_APIC_VECTOR_SHIFT 4
#define HV_STIMER_APIC_VECTOR_MASK (0xffull << 4)
#define HV_STIMER_DIRECT_MODE (1ull << 12)
#define HV_STIMER_SINTX_SHIFT 16
#define HV_STIMER_SINTX_MASK (0xfull << 16)
#define HV_STIMER_RESERVED_MASK (~(0xfull | HV_STIMER_APIC_VECTOR_MASK | HV_STIMER_DIRECT_MODE | \
				   HV_STIMER_SINTX_MASK))

/* Hypercall page trampoline, valid in 64-bit and 32-bit mode. ENDBR64. A hypercall from CPL > 0
 * must raise #UD (TLFS 3.2), and an OUT there would #GP or reach us, so it checks CS.RPL first
 * without clobbering anything: push %rax; mov %cs,%eax; test $3,%al; pop %rax; jnz ud.
 * Then the doorbell: a fast HvSignalEvent with flag 0 from 64-bit mode (RCX = 0x1005d, RDX =
 * connection id) becomes `out %eax,(%dx)` of the connection id to HV_SIGNAL_PORT, which the VMM
 * binds per connection to an eventfd in the kernel (KVM_IOEVENTFD with the id as datamatch), so
 * the vCPU does not leave the kernel; a write no eventfd matches reaches the VMM, which answers
 * with the status in RCX. Long mode is told apart by 0x48, a REX prefix there and `dec %eax` in
 * 32-bit mode: push %rax; xor %eax,%eax; rex.w nop; test %eax,%eax; pop %rax; jnz slow;
 * cmp $0x1005d,%rcx; jne slow; mov %rdx,%rax; shr $32,%rax; jnz slow; mov %edx,%eax;
 * mov $HV_SIGNAL_PORT,%edx; xor %ecx,%ecx; out %eax,(%dx); mov %ecx,%eax; ret.
 * RCX and RDX are volatile across the call (Windows x64 convention; Linux's asm has them "+c",
 * "+d"). Every other call: slow: out %al,$HV_HYPERCALL_PORT; ret; ud: ud2. Rest of the page:
 * int3. */
#define HV_HYPERCALL_PAGE_CODE                                                             \
	{ 0xf3, 0x0f, 0x1e, 0xfa, 0x50, 0x8c, 0xc8, 0xa8, 0x03, 0x58, 0x75, 0x2c,           \
	  0x50, 0x31, 0xc0, 0x48, 0x90, 0x85, 0xc0, 0x58, 0x75, 0x1f,                       \
	  0x48, 0x81, 0xf9, 0x5d, 0x00, 0x01, 0x00, 0x75, 0x16,                             \
	  0x48, 0x89, 0xd0, 0x48, 0xc1, 0xe8, 0x20, 0x75, 0x0d,                             \
	  0x89, 0xd0, 0xba, HV_SIGNAL_PORT, 0x00, 0x00, 0x00, 0x31, 0xc9, 0xef, 0x89, 0xc8, \
	  0xc3, 0xe6, HV_HYPERCALL_PORT, 0xc3, 0x0f, 0x0b }
#define HV_HYPERCALL_PAGE_FILL 0xcc

#endif
