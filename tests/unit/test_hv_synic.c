/* Unit tests for the SynIC: its MSRs, message slot delivery, busy slot -> msg_pending + queue ->
 * EOM -> delivery, queue overflow, masked and polling SINTs, disabled SynIC/SIMP, event flags,
 * and a two-thread run of the slot protocol (host poster against a guest that EOMs). */
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "test_hv_fake.h"

#define SIMP 0x10000ull
#define SIEFP 0x11000ull
#define SINT 2
#define VEC 0xf3

static void gp_write(struct fake_host *h, unsigned vp, uint32_t msr, uint64_t value)
{
	CHECK_EQ(hv_msr_write(h->p, vp, msr, value), -EPERM);
}

/* The guest consumes the message in the slot: clear the type, then EOM if msg_pending. */
static void guest_consume(struct fake_host *h, unsigned vp, unsigned sint)
{
	struct hv_message *m = fake_slot(h, SIMP, sint);

	__atomic_store_n((uint32_t *)m, HVMSG_NONE, __ATOMIC_SEQ_CST);
	if (((uint8_t *)m)[5] & HV_MESSAGE_FLAG_PENDING)
		wrmsr_ok(h, vp, HV_X64_MSR_EOM, 0);
}

static void test_msrs(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 2, FAKE_TSC_HZ);

	for (unsigned i = 0; i < 16; i++)
		CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_SINT0 + i), 0x10000); /* masked */
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_SVERSION), 1);
	gp_write(h, 0, HV_X64_MSR_SVERSION, 1);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_SCONTROL), 0);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_EOM), 0);
	/* SINT: an unmasked SINT needs a vector >= 16; masked, any vector; RsvdP bits kept. */
	gp_write(h, 0, HV_X64_MSR_SINT0 + 3, 15);
	gp_write(h, 0, HV_X64_MSR_SINT0 + 3, 0);
	wrmsr_ok(h, 0, HV_X64_MSR_SINT0 + 3, 0x10000 | 5);
	wrmsr_ok(h, 0, HV_X64_MSR_SINT0 + 4, 16);
	wrmsr_ok(h, 0, HV_X64_MSR_SINT0 + 5, 0xff | HV_SYNIC_SINT_AUTO_EOI | HV_SYNIC_SINT_POLLING);
	wrmsr_ok(h, 0, HV_X64_MSR_SINT0 + 6, 0xff00ull | (1ull << 40) | 0x10020);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_SINT0 + 3), 0x10005);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_SINT0 + 4), 16);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_SINT0 + 5), 0x600ff);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_SINT0 + 6), 0xff00ull | (1ull << 40) | 0x10020);
	CHECK_EQ(rdmsr_ok(h, 1, HV_X64_MSR_SINT0 + 4), 0x10000); /* per VP */
	/* SIMP/SIEFP: RAM pages, zeroed when enabled or moved, not when rewritten in place. */
	memset(h->ram + SIMP, 0xaa, 4096);
	memset(h->ram + SIEFP, 0xbb, 4096);
	gp_write(h, 0, HV_X64_MSR_SIMP, (uint64_t)FAKE_RAM_SIZE | 1);
	gp_write(h, 0, HV_X64_MSR_SIEFP, 0xfffff000ull | 1);
	CHECK_EQ(h->ram[SIMP], 0xaa);
	wrmsr_ok(h, 0, HV_X64_MSR_SIMP, SIMP | 1);
	wrmsr_ok(h, 0, HV_X64_MSR_SIEFP, SIEFP | 1);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_SIMP), SIMP | 1);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_SIEFP), SIEFP | 1);
	CHECK_EQ(h->ram[SIMP], 0);
	CHECK_EQ(h->ram[SIMP + 4095], 0);
	CHECK_EQ(h->ram[SIEFP + 4095], 0);
	h->ram[SIMP] = 0x11;
	wrmsr_ok(h, 0, HV_X64_MSR_SIMP, SIMP | 0xffe | 1); /* preserved bits, same page */
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_SIMP), SIMP | 0xfff);
	CHECK_EQ(h->ram[SIMP], 0x11);
	wrmsr_ok(h, 0, HV_X64_MSR_SIMP, SIMP); /* disabled: no check, no zeroing */
	wrmsr_ok(h, 0, HV_X64_MSR_SIMP, (uint64_t)FAKE_RAM_SIZE);
	wrmsr_ok(h, 0, HV_X64_MSR_SCONTROL, 1);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_SCONTROL), 1);
	CHECK_EQ(rdmsr_ok(h, 1, HV_X64_MSR_SCONTROL), 0);
	CHECK_EQ(h->nirqs, 0);
	fake_teardown(h);
}

static void test_delivery(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 2, FAKE_TSC_HZ);
	uint8_t payload[240];
	struct hv_message *m = fake_slot(h, SIMP, SINT);

	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	fake_enable_synic(h, 1, SIMP, SIEFP, SINT, VEC);
	CHECK_EQ(hv_synic_post_message(h->p, 1, SINT, 0x42, payload, 240), 0);
	CHECK_EQ(m->header.message_type, 0x42);
	CHECK_EQ(m->header.payload_size, 240);
	CHECK_EQ(m->header.message_flags, 0);
	CHECK(memcmp(m->payload, payload, 240) == 0);
	CHECK_EQ(h->nirqs, 1);
	CHECK_EQ(h->irqs[0].apic_id, 1);
	CHECK_EQ(h->irqs[0].vector, VEC);
	/* Other slots untouched. */
	CHECK_EQ(fake_slot(h, SIMP, SINT + 1)->header.message_type, 0);
	/* A short payload: the rest of the slot's payload is zero. */
	guest_consume(h, 1, SINT);
	CHECK_EQ(hv_synic_post_message(h->p, 1, SINT, 7, "ab", 2), 0);
	CHECK_EQ(m->header.payload_size, 2);
	CHECK_EQ(m->payload[0], 'a');
	CHECK_EQ(m->payload[2], 0);
	CHECK_EQ(h->nirqs, 2);
	/* Bad arguments. */
	CHECK_EQ(hv_synic_post_message(h->p, 2, SINT, 7, "a", 1), -EINVAL);
	CHECK_EQ(hv_synic_post_message(h->p, 1, 16, 7, "a", 1), -EINVAL);
	CHECK_EQ(hv_synic_post_message(h->p, 1, SINT, 0, "a", 1), -EINVAL);
	CHECK_EQ(hv_synic_post_message(h->p, 1, SINT, 7, payload, 241), -EINVAL);
	CHECK_EQ(hv_synic_post_message(h->p, 1, SINT, 7, NULL, 1), -EINVAL);
	fake_teardown(h);
}

static void test_busy_queue_eom(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 1, FAKE_TSC_HZ);
	struct hv_message *m = fake_slot(h, SIMP, SINT);
	uint8_t b;

	fake_enable_synic(h, 0, SIMP, SIEFP, SINT, VEC);
	CHECK_EQ(hv_synic_post_message(h->p, 0, SINT, 1, "1", 1), 0);
	CHECK_EQ(hv_synic_post_message(h->p, 0, SINT, 2, "2", 1), -EAGAIN);
	CHECK_EQ(h->nirqs, 1);
	CHECK_EQ(m->header.message_type, 1); /* untouched... */
	CHECK_EQ(m->header.message_flags, HV_MESSAGE_FLAG_PENDING); /* ...but asks for an EOM */
	CHECK_EQ(hv_synic_post_message(h->p, 0, SINT, 3, "3", 1), -EAGAIN);
	/* EOM with the slot still full: nothing moves. */
	wrmsr_ok(h, 0, HV_X64_MSR_EOM, 0);
	CHECK_EQ(m->header.message_type, 1);
	CHECK_EQ(h->nirqs, 1);
	/* The guest consumes and EOMs: message 2 comes in, flagged because 3 still waits. */
	guest_consume(h, 0, SINT);
	CHECK_EQ(m->header.message_type, 2);
	CHECK_EQ(m->payload[0], '2');
	CHECK_EQ(m->header.message_flags, HV_MESSAGE_FLAG_PENDING);
	CHECK_EQ(h->nirqs, 2);
	guest_consume(h, 0, SINT);
	CHECK_EQ(m->header.message_type, 3);
	CHECK_EQ(m->header.message_flags, 0);
	CHECK_EQ(h->nirqs, 3);
	CHECK_EQ(h->irqs[2].vector, VEC);
	/* Guest cleared the slot without EOM (no msg_pending): the next post goes straight in. */
	guest_consume(h, 0, SINT);
	CHECK_EQ(h->nirqs, 3);
	CHECK_EQ(hv_synic_post_message(h->p, 0, SINT, 4, "4", 1), 0);
	/* Overflow: 16 queued behind the busy slot, the 17th is refused. */
	for (unsigned i = 0; i < 16; i++) {
		b = (uint8_t)i;
		CHECK_EQ(hv_synic_post_message(h->p, 0, SINT, 100 + i, &b, 1), -EAGAIN);
	}
	CHECK_EQ(hv_synic_post_message(h->p, 0, SINT, 200, "x", 1), -ENOBUFS);
	/* Other SINTs have their own slots and queues. */
	wrmsr_ok(h, 0, HV_X64_MSR_SINT0 + 5, 0x50);
	CHECK_EQ(hv_synic_post_message(h->p, 0, 5, 9, "5", 1), 0);
	CHECK_EQ(h->irqs[h->nirqs - 1].vector, 0x50);
	/* The guest emptied the slot but has not written EOM yet: a post makes room itself. */
	m->header.message_type = HVMSG_NONE;
	CHECK_EQ(hv_synic_post_message(h->p, 0, SINT, 201, "y", 1), -EAGAIN);
	CHECK_EQ(m->header.message_type, 100);
	CHECK_EQ(m->header.message_flags, HV_MESSAGE_FLAG_PENDING);
	/* Draining keeps FIFO order; the last one carries no msg_pending. */
	for (unsigned i = 1; i < 16; i++) {
		guest_consume(h, 0, SINT);
		CHECK_EQ(m->header.message_type, 100 + i);
		CHECK_EQ(m->payload[0], i);
		CHECK_EQ(m->header.message_flags, HV_MESSAGE_FLAG_PENDING);
	}
	guest_consume(h, 0, SINT);
	CHECK_EQ(m->header.message_type, 201);
	CHECK_EQ(m->header.message_flags, 0);
	fake_teardown(h);
}

static void test_masked_and_disabled(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 1, FAKE_TSC_HZ);
	struct hv_message *m = fake_slot(h, SIMP, SINT);

	/* Nothing enabled yet. */
	CHECK_EQ(hv_synic_post_message(h->p, 0, SINT, 1, "1", 1), -ENODEV);
	fake_enable_synic(h, 0, SIMP, SIEFP, SINT, VEC);
	/* Masked: refused. Masked with polling: delivered without interrupt. */
	wrmsr_ok(h, 0, HV_X64_MSR_SINT0 + SINT, HV_SYNIC_SINT_MASKED | VEC);
	CHECK_EQ(hv_synic_post_message(h->p, 0, SINT, 1, "1", 1), -ENODEV);
	CHECK_EQ(m->header.message_type, 0);
	wrmsr_ok(h, 0, HV_X64_MSR_SINT0 + SINT, HV_SYNIC_SINT_MASKED | HV_SYNIC_SINT_POLLING | VEC);
	CHECK_EQ(hv_synic_post_message(h->p, 0, SINT, 1, "1", 1), 0);
	CHECK_EQ(m->header.message_type, 1);
	CHECK_EQ(h->nirqs, 0);
	/* Queued while busy; unmasking does not deliver into a busy slot, EOM does. */
	CHECK_EQ(hv_synic_post_message(h->p, 0, SINT, 2, "2", 1), -EAGAIN);
	wrmsr_ok(h, 0, HV_X64_MSR_SINT0 + SINT, VEC);
	CHECK_EQ(h->nirqs, 0);
	guest_consume(h, 0, SINT);
	CHECK_EQ(m->header.message_type, 2);
	CHECK_EQ(h->nirqs, 1);
	/* SCONTROL off. */
	wrmsr_ok(h, 0, HV_X64_MSR_SCONTROL, 0);
	CHECK_EQ(hv_synic_post_message(h->p, 0, SINT, 3, "3", 1), -ENODEV);
	wrmsr_ok(h, 0, HV_X64_MSR_SCONTROL, 1);
	/* A queued message is dropped when SIMP is disabled. */
	CHECK_EQ(hv_synic_post_message(h->p, 0, SINT, 3, "3", 1), -EAGAIN);
	wrmsr_ok(h, 0, HV_X64_MSR_SIMP, SIMP);
	CHECK_EQ(hv_synic_post_message(h->p, 0, SINT, 4, "4", 1), -ENODEV);
	wrmsr_ok(h, 0, HV_X64_MSR_SIMP, SIMP | 1); /* re-enabled: zeroed */
	CHECK_EQ(m->header.message_type, 0);
	wrmsr_ok(h, 0, HV_X64_MSR_EOM, 0);
	CHECK_EQ(m->header.message_type, 0);
	fake_teardown(h);

	/* No SynIC feature at all. */
	h = fake_setup(HV_FEATURE_BIT(HV_FEAT_VPINDEX), 1, FAKE_TSC_HZ);
	CHECK_EQ(hv_synic_post_message(h->p, 0, SINT, 1, "1", 1), -ENODEV);
	CHECK_EQ(hv_synic_signal_event(h->p, 0, SINT, 1), -ENODEV);
	fake_teardown(h);
}

static void test_events(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 2, FAKE_TSC_HZ);
	uint8_t *flags = h->ram + SIEFP + 256 * SINT;

	CHECK_EQ(hv_synic_signal_event(h->p, 1, SINT, 5), -ENODEV);
	fake_enable_synic(h, 1, SIMP, SIEFP, SINT, VEC);
	CHECK_EQ(hv_synic_signal_event(h->p, 1, SINT, 5), 0);
	CHECK_EQ(flags[0], 1 << 5);
	CHECK_EQ(h->nirqs, 1);
	CHECK_EQ(h->irqs[0].apic_id, 1);
	CHECK_EQ(h->irqs[0].vector, VEC);
	/* Already set: no second interrupt. */
	CHECK_EQ(hv_synic_signal_event(h->p, 1, SINT, 5), 1);
	CHECK_EQ(h->nirqs, 1);
	CHECK_EQ(hv_synic_signal_event(h->p, 1, SINT, 2047), 0);
	CHECK_EQ(flags[255], 0x80);
	CHECK_EQ(flags[256], 0); /* next SINT's area untouched */
	CHECK_EQ(h->nirqs, 2);
	CHECK_EQ(hv_synic_signal_event(h->p, 1, SINT, 2048), -EINVAL);
	CHECK_EQ(hv_synic_signal_event(h->p, 1, 16, 0), -EINVAL);
	CHECK_EQ(hv_synic_signal_event(h->p, 2, SINT, 0), -EINVAL);
	/* The guest clears the flag: the next signal interrupts again. */
	flags[0] = 0;
	CHECK_EQ(hv_synic_signal_event(h->p, 1, SINT, 5), 0);
	CHECK_EQ(h->nirqs, 3);
	/* Masked: refused; masked with polling: set, no interrupt. */
	wrmsr_ok(h, 1, HV_X64_MSR_SINT0 + SINT, HV_SYNIC_SINT_MASKED | VEC);
	CHECK_EQ(hv_synic_signal_event(h->p, 1, SINT, 6), -ENODEV);
	wrmsr_ok(h, 1, HV_X64_MSR_SINT0 + SINT, HV_SYNIC_SINT_MASKED | HV_SYNIC_SINT_POLLING | VEC);
	CHECK_EQ(hv_synic_signal_event(h->p, 1, SINT, 6), 0);
	CHECK_EQ(flags[0], (1 << 5) | (1 << 6));
	CHECK_EQ(h->nirqs, 3);
	/* SIEFP off. */
	wrmsr_ok(h, 1, HV_X64_MSR_SIEFP, SIEFP);
	CHECK_EQ(hv_synic_signal_event(h->p, 1, SINT, 7), -ENODEV);
	fake_teardown(h);
}

/* Two threads: a host thread posts N numbered messages (retrying on a full queue), the "guest"
 * thread consumes the slot and EOMs when asked. Every message must arrive once, in order. */
#define STRESS_N 20000

struct stress {
	struct fake_host *h;
	unsigned received, bad;
	int stop;
};

static void *stress_poster(void *arg)
{
	struct stress *s = arg;

	for (uint32_t i = 1; i <= STRESS_N; i++) {
		int ret;

		while ((ret = hv_synic_post_message(s->h->p, 0, SINT, 1, &i, sizeof(i))) == -ENOBUFS) {
			if (__atomic_load_n(&s->stop, __ATOMIC_RELAXED))
				return NULL;
			sched_yield();
		}
		if (ret != 0 && ret != -EAGAIN)
			s->bad++;
	}
	return NULL;
}

static void test_stress(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 1, FAKE_TSC_HZ);
	struct hv_message *m = fake_slot(h, SIMP, SINT);
	struct stress s = { .h = h };
	pthread_t t;
	time_t last_progress = time(NULL);

	fake_enable_synic(h, 0, SIMP, SIEFP, SINT, VEC);
	pthread_create(&t, NULL, stress_poster, &s);
	while (s.received < STRESS_N) {
		uint32_t seq;

		if (__atomic_load_n((uint32_t *)m, __ATOMIC_ACQUIRE) == HVMSG_NONE) {
			/* A lost wakeup shows as no progress at all for seconds. */
			if (time(NULL) - last_progress > 5)
				break;
			sched_yield();
			continue;
		}
		last_progress = time(NULL);
		memcpy(&seq, m->payload, sizeof(seq));
		if (seq != s.received + 1)
			s.bad++;
		s.received++;
		__atomic_store_n((uint32_t *)m, HVMSG_NONE, __ATOMIC_SEQ_CST);
		if (__atomic_load_n((uint8_t *)m + 5, __ATOMIC_SEQ_CST) & HV_MESSAGE_FLAG_PENDING)
			CHECK_EQ(hv_msr_write(h->p, 0, HV_X64_MSR_EOM, 0), 0);
	}
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	CHECK_EQ(s.received, STRESS_N);
	CHECK_EQ(s.bad, 0);
	fake_teardown(h);
}

int main(void)
{
	test_msrs();
	test_delivery();
	test_busy_queue_eom();
	test_masked_and_disabled();
	test_events();
	test_stress();
	return unit_done("test_hv_synic");
}
