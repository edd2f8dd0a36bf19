/* The Hyper-V partition as the guest sees it (Hyper-V TLFS v6.0b): feature set, synthetic MSRs,
 * hypercalls, SynIC, synthetic timers, reference time, crash and reset. Pure logic over guest
 * memory and a few host callbacks, so that unit tests drive it with fakes. Names as the TLFS and
 * Linux's hyperv-tlfs.h spell them live in tlfs.h. */
#ifndef HVKVM_HV_H
#define HVKVM_HV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "guest_mem.h"
#include "machine_control.h"

/* Features a user switches on or off (`--hyperv LIST`, like QEMU's hv-* and libvirt's <hyperv>). */
enum hv_feature {
	HV_FEAT_RELAXED,       /* recommend relaxed timing (no watchdogs) */
	HV_FEAT_VPINDEX,       /* VP_INDEX MSR */
	HV_FEAT_RUNTIME,       /* VP_RUNTIME MSR */
	HV_FEAT_TIME,          /* TIME_REF_COUNT MSR and the reference TSC page */
	HV_FEAT_SYNIC,         /* SynIC MSRs, message and event pages, HvPostMessage/HvSignalEvent */
	HV_FEAT_STIMER,        /* synthetic timers, message mode */
	HV_FEAT_STIMER_DIRECT, /* synthetic timers, direct mode */
	HV_FEAT_CRASH,         /* crash MSRs */
	HV_FEAT_RESET,         /* RESET MSR */
	HV_FEAT_FREQUENCIES,   /* TSC_FREQUENCY / APIC_FREQUENCY MSRs */
	HV_FEAT_VAPIC,         /* VP assist page (no APIC-access MSRs: those would exit on every EOI) */
	HV_FEAT_IPI,           /* HvCallSendSyntheticClusterIpi(Ex) */
	HV_FEAT_TLBFLUSH,      /* HvFlushVirtualAddressSpace/List(Ex) */
	HV_FEAT_IDLE,          /* GUEST_IDLE MSR */
	HV_FEAT_TSC_INVARIANT, /* TSC_INVARIANT_CONTROL MSR, invariant TSC */
	HV_FEAT_COUNT
};

#define HV_FEATURE_BIT(f) (1u << (f))

/* What the partition needs from the VMM. Each says on which thread it is called. */
struct hv_host_ops {
	/* Fixed-vector interrupt to the vCPU with this APIC ID (any thread). 0 or -errno. */
	int (*send_interrupt)(void *ctx, uint32_t apic_id, uint8_t vector);
	/* The guest TSC of VP vp (that VP's vCPU thread). */
	uint64_t (*guest_tsc)(void *ctx, unsigned vp);
	/* Host CLOCK_MONOTONIC in ns (any thread). */
	uint64_t (*now_ns)(void *ctx);
	/* CPU time VP vp has run, in ns (that VP's vCPU thread). */
	uint64_t (*vp_runtime_ns)(void *ctx, unsigned vp);
	/* Halt VP vp until its next interrupt (GUEST_IDLE; that VP's vCPU thread). */
	void (*vp_idle)(void *ctx, unsigned vp);
	/* The earliest synthetic-timer deadline changed: call hv_stimer_expire at or after
	 * hv_stimer_next_deadline_ns (any thread; the VMM hands it to its event loop). */
	void (*timers_changed)(void *ctx);
	/* The guest reported a crash through the crash MSRs: P0-P4 and the message (may be empty).
	 * Any thread; the VMM reports it and ends or restarts the guest. */
	void (*guest_crashed)(void *ctx, const uint64_t params[5], const char *message);
	/* Binds (assign) or unbinds the eventfd fd to the trampoline's doorbell writes of
	 * connection_id (HV_SIGNAL_PORT, see tlfs.h), so they signal fd without leaving the kernel.
	 * 0 or -errno (the doorbell then reaches the VMM, which runs signal_event). May be NULL. */
	int (*bind_doorbell)(void *ctx, uint32_t connection_id, int fd, bool assign);
	void *ctx;
};

struct hv_config {
	uint32_t features;   /* HV_FEATURE_BIT mask */
	unsigned nvps;       /* VP index = APIC ID = vCPU index, 0..nvps-1 */
	uint64_t tsc_hz;     /* guest TSC frequency */
	uint64_t apic_hz;    /* LAPIC timer frequency */
};

struct hv_partition; /* defined in partition.h, private to src/hv-enlight/ */

/* --hyperv off|on|LIST ("on" = the default set; LIST = comma-separated feature names, each
 * optionally prefixed with '-' to remove it from the default set, or a plain list that replaces
 * it). Dependencies are checked (e.g. stimer needs synic and time). */
__attribute__((warn_unused_result))
int hv_features_parse(const char *spec, uint32_t *features, struct error *err);
/* "relaxed,vpindex,..." for messages; returns buf. */
const char *hv_features_format(uint32_t features, char *buf, size_t size);
/* The default set for `--hyperv on`. */
uint32_t hv_features_default(void);

__attribute__((warn_unused_result))
int hv_partition_create(struct hv_partition **out, const struct hv_config *cfg,
			const struct guest_mem *mem, const struct hv_host_ops *ops,
			struct machine_control mc, struct error *err);
void hv_partition_destroy(struct hv_partition *p);

/* CPUID leaves 0x40000000-0x4000000A for this partition; leaf outside the range or not present:
 * false. (The VMM replaces every 0x4000xxxx leaf KVM reports with these.) */
bool hv_cpuid_leaf(const struct hv_partition *p, uint32_t leaf, uint32_t regs[4]);
#define HV_CPUID_FIRST 0x40000000u
#define HV_CPUID_LAST 0x4000000Au

/* Synthetic MSRs, on VP vp's vCPU thread. 0, or -EPERM for #GP (unknown, reserved, not
 * enabled, bad value). */
int hv_msr_read(struct hv_partition *p, unsigned vp, uint32_t msr, uint64_t *value);
int hv_msr_write(struct hv_partition *p, unsigned vp, uint32_t msr, uint64_t value);
/* Whether msr is one this partition owns (so the VMM filters it to userspace). */
bool hv_msr_is_synthetic(uint32_t msr);

/* The trampoline's doorbell write of connection_id that no bound eventfd took (VP vp's vCPU
 * thread): HvSignalEvent(connection_id, flag 0), fast, from 64-bit mode at CPL 0. Returns the
 * hypercall status. */
uint16_t hv_doorbell(struct hv_partition *p, unsigned vp, uint32_t connection_id);

/* A hypercall as the guest made it through the hypercall page (VP vp's vCPU thread). */
struct hv_hypercall_regs {
	uint64_t control;     /* RCX (64-bit) or EDX:EAX (32-bit) */
	uint64_t input;       /* RDX / EBX:ECX: input GPA, or first fast input */
	uint64_t output;      /* R8 / EDI:ESI: output GPA, or second fast input */
	bool long_mode;       /* guest in 64-bit mode */
	unsigned cpl;         /* current privilege level */
};
struct hv_hypercall_result {
	uint64_t rax;         /* HV_HYPERCALL_RESULT: status | reps completed << 32 */
	bool inject_ud;       /* raise #UD instead (CPL > 0, or hypercall page disabled) */
};
void hv_hypercall(struct hv_partition *p, unsigned vp, const struct hv_hypercall_regs *regs,
		  struct hv_hypercall_result *res);

/* Host-side handlers for connection IDs (VMBus, tests). Called on the calling VP's vCPU thread;
 * they must copy what they need and return quickly. Return an HV_STATUS_* value. */
struct hv_connection_ops {
	/* HvPostMessage: message_type and payload (<= 240 bytes, already copied out of the guest). */
	uint16_t (*post_message)(void *opaque, unsigned vp, uint32_t message_type,
				 const void *payload, uint32_t size);
	/* HvSignalEvent: flag number from the hypercall input. */
	uint16_t (*signal_event)(void *opaque, unsigned vp, uint16_t flag_number);
	void *opaque;
	/* An event connection's doorbell: an eventfd signalled (in the kernel, where the host can)
	 * by fast HvSignalEvent with flag 0 instead of signal_event, which still serves every other
	 * form of the call. The owner reads it; it stays open while registered. */
	bool has_doorbell;
	int doorbell_fd;
};
__attribute__((warn_unused_result))
int hv_connection_register(struct hv_partition *p, uint32_t connection_id,
			   const struct hv_connection_ops *ops);
void hv_connection_unregister(struct hv_partition *p, uint32_t connection_id);

/* Host → guest (any thread). A message of message_type with payload into VP vp's SINT sint
 * message slot: 0 delivered, -EAGAIN queued behind a busy slot (delivered after the guest's EOM),
 * -ENODEV SynIC/SIMP disabled or SINT masked without polling, -ENOBUFS queue full, -EINVAL. */
int hv_synic_post_message(struct hv_partition *p, unsigned vp, unsigned sint,
			  uint32_t message_type, const void *payload, uint32_t size);
/* Sets event flag flag in VP vp's SIEFP page for sint; interrupts only if the flag was clear.
 * Returns 1 if it was already set, 0 if newly set, -ENODEV / -EINVAL. */
int hv_synic_signal_event(struct hv_partition *p, unsigned vp, unsigned sint, unsigned flag);

/* Synthetic timers (event loop thread): the earliest armed deadline in host monotonic ns, or
 * UINT64_MAX; and the expiry of every timer due at now_ns. */
uint64_t hv_stimer_next_deadline_ns(struct hv_partition *p);
void hv_stimer_expire(struct hv_partition *p, uint64_t now_ns);

#endif
