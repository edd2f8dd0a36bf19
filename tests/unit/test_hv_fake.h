/* Fakes shared by the Hyper-V unit tests: a host that records interrupts, crash reports, machine
 * requests and timer notifications, with a clock and a guest TSC the test sets; fake guest RAM. */
#ifndef HVKVM_TEST_HV_FAKE_H
#define HVKVM_TEST_HV_FAKE_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv-enlight/hv.h"
#include "hv-enlight/tlfs.h"
#include "unit.h"

#define FAKE_RAM_SIZE (4u << 20)
#define FAKE_MAX_IRQS 256
#define FAKE_TSC_HZ 2500000000ull /* 2.5 GHz */

struct fake_irq {
	uint32_t apic_id;
	uint8_t vector;
};

struct fake_host {
	struct fake_irq irqs[FAKE_MAX_IRQS];
	unsigned nirqs;
	uint64_t now_ns;
	uint64_t tsc;
	uint64_t runtime_ns;
	unsigned idles, timers_changed, crashes, requests;
	uint64_t crash_params[5];
	char crash_message[HV_CRASH_MESSAGE_MAX + 1];
	enum machine_event last_event;
	struct guest_mem mem;
	uint8_t *ram;
	struct hv_partition *p;
};

static inline int fake_send_interrupt(void *ctx, uint32_t apic_id, uint8_t vector)
{
	struct fake_host *h = ctx;

	if (h->nirqs < FAKE_MAX_IRQS)
		h->irqs[h->nirqs++] = (struct fake_irq){ apic_id, vector };
	return 0;
}

static inline uint64_t fake_guest_tsc(void *ctx, unsigned vp)
{
	(void)vp;
	return ((struct fake_host *)ctx)->tsc;
}

static inline uint64_t fake_now_ns(void *ctx)
{
	return ((struct fake_host *)ctx)->now_ns;
}

static inline uint64_t fake_vp_runtime_ns(void *ctx, unsigned vp)
{
	(void)vp;
	return ((struct fake_host *)ctx)->runtime_ns;
}

static inline void fake_vp_idle(void *ctx, unsigned vp)
{
	(void)vp;
	((struct fake_host *)ctx)->idles++;
}

static inline void fake_timers_changed(void *ctx)
{
	((struct fake_host *)ctx)->timers_changed++;
}

static inline void fake_guest_crashed(void *ctx, const uint64_t params[5], const char *message)
{
	struct fake_host *h = ctx;

	h->crashes++;
	memcpy(h->crash_params, params, sizeof(h->crash_params));
	snprintf(h->crash_message, sizeof(h->crash_message), "%s", message);
}

static inline void fake_request(void *ctx, enum machine_event event, int status)
{
	struct fake_host *h = ctx;

	(void)status;
	h->requests++;
	h->last_event = event;
}

/* A partition with these features, nvps VPs, a 2.5 GHz TSC and 4 MiB of zeroed RAM. */
static inline struct fake_host *fake_setup(uint32_t features, unsigned nvps, uint64_t tsc_hz)
{
	struct fake_host *h = calloc(1, sizeof(*h));
	struct hv_config cfg = { .features = features, .nvps = nvps, .tsc_hz = tsc_hz,
				 .apic_hz = 1000000000ull };
	struct hv_host_ops ops = {
		.send_interrupt = fake_send_interrupt, .guest_tsc = fake_guest_tsc,
		.now_ns = fake_now_ns, .vp_runtime_ns = fake_vp_runtime_ns, .vp_idle = fake_vp_idle,
		.timers_changed = fake_timers_changed, .guest_crashed = fake_guest_crashed, .ctx = h,
	};
	struct machine_control mc = { .request = fake_request, .ctx = h };
	struct error err;

	h->ram = aligned_alloc(4096, FAKE_RAM_SIZE);
	memset(h->ram, 0, FAKE_RAM_SIZE);
	guest_mem_init_fake(&h->mem, h->ram, FAKE_RAM_SIZE);
	if (hv_partition_create(&h->p, &cfg, &h->mem, &ops, mc, &err) != 0) {
		fprintf(stderr, "hv_partition_create: %s\n", err.msg);
		exit(1);
	}
	return h;
}

static inline void fake_teardown(struct fake_host *h)
{
	hv_partition_destroy(h->p);
	free(h->ram);
	free(h);
}

static inline uint64_t rdmsr_ok(struct fake_host *h, unsigned vp, uint32_t msr)
{
	uint64_t v = 0xdeadbeef;

	CHECK_EQ(hv_msr_read(h->p, vp, msr, &v), 0);
	return v;
}

static inline void wrmsr_ok(struct fake_host *h, unsigned vp, uint32_t msr, uint64_t value)
{
	CHECK_EQ(hv_msr_write(h->p, vp, msr, value), 0);
}

/* Guest side: make the partition ready for hypercalls (GUEST_OS_ID, hypercall page). */
#define FAKE_HYPERCALL_GPA 0x1000ull
static inline void fake_enable_hypercalls(struct fake_host *h)
{
	wrmsr_ok(h, 0, HV_X64_MSR_GUEST_OS_ID, 0x8100ull << 48);
	wrmsr_ok(h, 0, HV_X64_MSR_HYPERCALL, FAKE_HYPERCALL_GPA | HV_MSR_PAGE_ENABLE);
}

/* Guest side: SynIC on for vp with SIMP at simp, SIEFP at siefp, SINT sint unmasked on vector. */
static inline void fake_enable_synic(struct fake_host *h, unsigned vp, uint64_t simp,
				     uint64_t siefp, unsigned sint, uint8_t vector)
{
	wrmsr_ok(h, vp, HV_X64_MSR_SIMP, simp | HV_MSR_PAGE_ENABLE);
	wrmsr_ok(h, vp, HV_X64_MSR_SIEFP, siefp | HV_MSR_PAGE_ENABLE);
	wrmsr_ok(h, vp, HV_X64_MSR_SINT0 + sint, vector);
	wrmsr_ok(h, vp, HV_X64_MSR_SCONTROL, HV_SYNIC_CONTROL_ENABLE);
}

static inline struct hv_message *fake_slot(struct fake_host *h, uint64_t simp, unsigned sint)
{
	return (struct hv_message *)(h->ram + simp + 256 * sint);
}

static inline uint64_t fake_hypercall(struct fake_host *h, unsigned vp, uint64_t control,
				      uint64_t input, uint64_t output)
{
	struct hv_hypercall_regs regs = { .control = control, .input = input, .output = output,
					  .long_mode = true, .cpl = 0 };
	struct hv_hypercall_result res;

	hv_hypercall(h->p, vp, &regs, &res);
	CHECK(!res.inject_ud);
	return res.rax;
}

#endif
