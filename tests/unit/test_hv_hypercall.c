/* Unit tests for hypercalls: control word decoding and every error status (#UD, reserved bits,
 * unknown code, rep/non-rep mismatch, fast/slow, alignment, page crossing, GPA outside RAM),
 * HvPostMessage, HvSignalEvent (fast and slow), HvNotifyLongSpinWait, the rep machinery through
 * a test-only call, the connection registry and the test echo connections. */
#include <string.h>

#include "hv-enlight/hypercall.h"
#include "hv-enlight/test_connections.h"
#include "test_hv_fake.h"

#define IN 0x3000ull
#define OUT 0x4000ull
#define SIMP 0x10000ull
#define SIEFP 0x11000ull
#define REP(count, start) (((uint64_t)(count) << 32) | ((uint64_t)(start) << 48))
#define VARHEAD(qwords) ((uint64_t)(qwords) << 17)
#define FAST HV_HYPERCALL_FAST_BIT

struct recorder {
	unsigned posts, signals, vp;
	uint32_t type, size;
	uint8_t payload[240];
	uint16_t flag, status;
};

static uint16_t rec_post(void *opaque, unsigned vp, uint32_t type, const void *payload,
			 uint32_t size)
{
	struct recorder *r = opaque;

	r->posts++;
	r->vp = vp;
	r->type = type;
	r->size = size;
	memcpy(r->payload, payload, size);
	return r->status;
}

static uint16_t rec_signal(void *opaque, unsigned vp, uint16_t flag)
{
	struct recorder *r = opaque;

	r->signals++;
	r->vp = vp;
	r->flag = flag;
	return r->status;
}

static void put_post(struct fake_host *h, uint64_t gpa, uint32_t conn, uint32_t type,
		     uint32_t size)
{
	struct hv_input_post_message m = { .connection_id = conn, .message_type = type,
					   .payload_size = size };

	for (unsigned i = 0; i < 240; i++)
		m.payload[i] = (uint8_t)(i + 1);
	memcpy(h->ram + gpa, &m, sizeof(m));
}

static void test_ud(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 2, FAKE_TSC_HZ);
	struct hv_hypercall_regs regs = { .control = HVCALL_NOTIFY_LONG_SPIN_WAIT | FAST,
					  .long_mode = true };
	struct hv_hypercall_result res;

	hv_hypercall(h->p, 0, &regs, &res); /* page not enabled */
	CHECK(res.inject_ud);
	fake_enable_hypercalls(h);
	hv_hypercall(h->p, 1, &regs, &res);
	CHECK(!res.inject_ud);
	CHECK_EQ(res.rax, HV_STATUS_SUCCESS);
	regs.cpl = 3;
	hv_hypercall(h->p, 0, &regs, &res);
	CHECK(res.inject_ud);
	regs.cpl = 1;
	hv_hypercall(h->p, 0, &regs, &res);
	CHECK(res.inject_ud);
	regs.cpl = 0;
	regs.long_mode = false; /* 32-bit callers get the same decoding */
	hv_hypercall(h->p, 0, &regs, &res);
	CHECK_EQ(res.rax, HV_STATUS_SUCCESS);
	wrmsr_ok(h, 0, HV_X64_MSR_HYPERCALL, FAKE_HYPERCALL_GPA); /* disabled again */
	hv_hypercall(h->p, 0, &regs, &res);
	CHECK(res.inject_ud);
	fake_teardown(h);
}

static void test_control_errors(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 1, FAKE_TSC_HZ);
	static const unsigned reserved_bits[] = { 27, 28, 31, 44, 47, 60, 63 };
	struct recorder r = { .status = HV_STATUS_SUCCESS };
	struct hv_connection_ops ops = { .post_message = rec_post, .signal_event = rec_signal,
					 .opaque = &r };

	fake_enable_hypercalls(h);
	CHECK_EQ(hv_connection_register(h->p, 1, &ops), 0);
	put_post(h, IN, 1, 1, 4);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE, IN, 0), HV_STATUS_SUCCESS);
	for (size_t i = 0; i < sizeof(reserved_bits) / sizeof(reserved_bits[0]); i++)
		CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE | (1ull << reserved_bits[i]), IN, 0),
			 HV_STATUS_INVALID_HYPERCALL_INPUT);
	/* Unknown codes, including the flush calls hvkvm does not provide. */
	CHECK_EQ(fake_hypercall(h, 0, 0x0002, IN, 0), HV_STATUS_INVALID_HYPERCALL_CODE);
	CHECK_EQ(fake_hypercall(h, 0, 0x0003 | REP(1, 0), IN, 0), HV_STATUS_INVALID_HYPERCALL_CODE);
	CHECK_EQ(fake_hypercall(h, 0, 0x0000, IN, 0), HV_STATUS_INVALID_HYPERCALL_CODE);
	CHECK_EQ(fake_hypercall(h, 0, 0xffff, IN, 0), HV_STATUS_INVALID_HYPERCALL_CODE);
	CHECK_EQ(fake_hypercall(h, 0, 0x8001, IN, 0), HV_STATUS_INVALID_HYPERCALL_CODE);
	/* Rep count or start on a simple call, a variable header where none is taken. */
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE | REP(1, 0), IN, 0),
		 HV_STATUS_INVALID_HYPERCALL_INPUT);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE | REP(0, 1), IN, 0),
		 HV_STATUS_INVALID_HYPERCALL_INPUT);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE | VARHEAD(1), IN, 0),
		 HV_STATUS_INVALID_HYPERCALL_INPUT);
	/* HvPostMessage has no fast form (it would need XMM input). */
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE | FAST, 1, 1),
		 HV_STATUS_INVALID_HYPERCALL_INPUT);
	/* Input GPA: 8-byte aligned, not crossing a page, inside RAM. */
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE, IN + 4, 0), HV_STATUS_INVALID_ALIGNMENT);
	put_post(h, IN + 0xf08, 1, 1, 4);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE, IN + 0xf08, 0),
		 HV_STATUS_INVALID_ALIGNMENT);
	put_post(h, IN + 0xf00, 1, 1, 4);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE, IN + 0xf00, 0), HV_STATUS_SUCCESS);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE, FAKE_RAM_SIZE, 0),
		 HV_STATUS_INVALID_ALIGNMENT);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE, 0xfffffffffffff000ull, 0),
		 HV_STATUS_INVALID_ALIGNMENT);
	/* No output block: the output GPA is ignored. */
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE, IN, 0xfffffffffffffff7ull),
		 HV_STATUS_SUCCESS);
	CHECK_EQ(r.posts, 3);
	fake_teardown(h);
}

static void test_post_message(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 2, FAKE_TSC_HZ);
	struct recorder r = { .status = HV_STATUS_SUCCESS }, r2 = { 0 };
	struct hv_connection_ops ops = { .post_message = rec_post, .opaque = &r };
	struct hv_connection_ops sig_only = { .signal_event = rec_signal, .opaque = &r2 };

	fake_enable_hypercalls(h);
	CHECK_EQ(hv_connection_register(h->p, 4, &ops), 0);
	CHECK_EQ(hv_connection_register(h->p, 9, &sig_only), 0);
	put_post(h, IN, 4, 0x12345, 240);
	CHECK_EQ(fake_hypercall(h, 1, HVCALL_POST_MESSAGE, IN, 0), HV_STATUS_SUCCESS);
	CHECK_EQ(r.posts, 1);
	CHECK_EQ(r.vp, 1);
	CHECK_EQ(r.type, 0x12345);
	CHECK_EQ(r.size, 240);
	CHECK_EQ(r.payload[0], 1);
	CHECK_EQ(r.payload[239], 240);
	/* The handler's status is the call's. */
	r.status = HV_STATUS_INSUFFICIENT_BUFFERS;
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE, IN, 0), HV_STATUS_INSUFFICIENT_BUFFERS);
	/* Bad type, oversize payload, unknown connection, not a message connection. */
	put_post(h, IN, 4, 0, 4);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE, IN, 0), HV_STATUS_INVALID_PARAMETER);
	put_post(h, IN, 4, 0x80000000u, 4);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE, IN, 0), HV_STATUS_INVALID_PARAMETER);
	put_post(h, IN, 4, 0xffffffffu, 4);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE, IN, 0), HV_STATUS_INVALID_PARAMETER);
	put_post(h, IN, 4, 1, 241);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE, IN, 0), HV_STATUS_INVALID_PARAMETER);
	put_post(h, IN, 5, 1, 4);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE, IN, 0), HV_STATUS_INVALID_CONNECTION_ID);
	put_post(h, IN, 9, 1, 4);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE, IN, 0), HV_STATUS_INVALID_PORT_ID);
	put_post(h, IN, 4, 0x7fffffffu, 0);
	r.status = 0;
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE, IN, 0), HV_STATUS_SUCCESS);
	CHECK_EQ(r.posts, 3);
	CHECK_EQ(r2.posts + r2.signals, 0);
	/* Unregistered: unknown again. */
	hv_connection_unregister(h->p, 4);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE, IN, 0), HV_STATUS_INVALID_CONNECTION_ID);
	fake_teardown(h);

	/* Without the SynIC the partition may not post messages or signal events. */
	h = fake_setup(HV_FEATURE_BIT(HV_FEAT_VPINDEX), 1, FAKE_TSC_HZ);
	fake_enable_hypercalls(h);
	put_post(h, IN, 4, 1, 4);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_POST_MESSAGE, IN, 0), HV_STATUS_ACCESS_DENIED);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_SIGNAL_EVENT | FAST, 4, 0), HV_STATUS_ACCESS_DENIED);
	fake_teardown(h);
}

static void test_signal_event(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 2, FAKE_TSC_HZ);
	struct recorder r = { .status = HV_STATUS_SUCCESS };
	struct hv_connection_ops ops = { .signal_event = rec_signal, .opaque = &r };
	struct hv_input_signal_event in = { .connection_id = 0x2001, .flag_number = 77 };

	fake_enable_hypercalls(h);
	CHECK_EQ(hv_connection_register(h->p, 0x2001, &ops), 0);
	CHECK_EQ(fake_hypercall(h, 1, HVCALL_SIGNAL_EVENT | FAST, 0x2001 | (5ull << 32), 0xabc),
		 HV_STATUS_SUCCESS);
	CHECK_EQ(r.signals, 1);
	CHECK_EQ(r.vp, 1);
	CHECK_EQ(r.flag, 5);
	memcpy(h->ram + IN, &in, sizeof(in));
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_SIGNAL_EVENT, IN, 0), HV_STATUS_SUCCESS);
	CHECK_EQ(r.signals, 2);
	CHECK_EQ(r.flag, 77);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_SIGNAL_EVENT, IN + 4, 0), HV_STATUS_INVALID_ALIGNMENT);
	/* Unknown connection, reserved bits, not an event connection. */
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_SIGNAL_EVENT | FAST, 0x2002, 0),
		 HV_STATUS_INVALID_CONNECTION_ID);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_SIGNAL_EVENT | FAST, 0x2001 | (1ull << 48), 0),
		 HV_STATUS_INVALID_HYPERCALL_INPUT);
	in.rsvdz = 0x8000;
	memcpy(h->ram + IN, &in, sizeof(in));
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_SIGNAL_EVENT, IN, 0), HV_STATUS_INVALID_HYPERCALL_INPUT);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_SIGNAL_EVENT | FAST | REP(1, 0), 0x2001, 0),
		 HV_STATUS_INVALID_HYPERCALL_INPUT);
	CHECK_EQ(r.signals, 2);
	r.status = HV_STATUS_INVALID_PARAMETER;
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_SIGNAL_EVENT | FAST, 0x2001, 0),
		 HV_STATUS_INVALID_PARAMETER);
	/* HvNotifyLongSpinWait: fast or slow, a no-op. */
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_NOTIFY_LONG_SPIN_WAIT | FAST, 100, 0),
		 HV_STATUS_SUCCESS);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_NOTIFY_LONG_SPIN_WAIT, IN, 0), HV_STATUS_SUCCESS);
	fake_teardown(h);
}

/* A test-only rep call: output[i] = input[i] + 1; an input of 0xdead fails that element. */
#define TEST_REP_CALL 0x0777
static uint16_t rep_element(struct hv_hypercall_call *c, unsigned i, const uint8_t *in,
			    uint8_t *out)
{
	uint64_t v;

	(void)c;
	(void)i;
	memcpy(&v, in, 8);
	if (v == 0xdead)
		return HV_STATUS_INVALID_PARAMETER;
	v++;
	memcpy(out, &v, 8);
	return HV_STATUS_SUCCESS;
}

static const struct hv_hypercall_desc rep_table[] = {
	{ .code = TEST_REP_CALL, .rep = true, .feature = -1, .in_size = 8, .in_rep_size = 8,
	  .out_rep_size = 8, .element = rep_element },
};

static uint64_t rep_call(struct fake_host *h, uint64_t control, uint64_t in, uint64_t out)
{
	struct hv_hypercall_regs regs = { .control = control, .input = in, .output = out,
					  .long_mode = true };
	struct hv_hypercall_result res;

	hv_hypercall_run(h->p, 0, &regs, &res, rep_table, 1);
	CHECK(!res.inject_ud);
	return res.rax;
}

static void test_rep_machinery(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 1, FAKE_TSC_HZ);
	uint64_t in[1 + 10], out[10];

	fake_enable_hypercalls(h);
	in[0] = 0;
	for (unsigned i = 0; i < 10; i++)
		in[1 + i] = 100 + i;
	memcpy(h->ram + IN, in, sizeof(in));
	CHECK_EQ(rep_call(h, TEST_REP_CALL | REP(10, 0), IN, OUT), HV_STATUS_SUCCESS | (10ull << 32));
	memcpy(out, h->ram + OUT, sizeof(out));
	CHECK_EQ(out[0], 101);
	CHECK_EQ(out[9], 110);
	/* A failing element: status plus the reps completed before it; outputs up to it only. */
	memset(h->ram + OUT, 0, sizeof(out));
	in[1 + 6] = 0xdead;
	memcpy(h->ram + IN, in, sizeof(in));
	CHECK_EQ(rep_call(h, TEST_REP_CALL | REP(10, 0), IN, OUT),
		 HV_STATUS_INVALID_PARAMETER | (6ull << 32));
	memcpy(out, h->ram + OUT, sizeof(out));
	CHECK_EQ(out[5], 106);
	CHECK_EQ(out[6], 0);
	/* Resume past it with the start index: reps completed counts from 0. */
	CHECK_EQ(rep_call(h, TEST_REP_CALL | REP(10, 7), IN, OUT), HV_STATUS_SUCCESS | (10ull << 32));
	memcpy(out, h->ram + OUT, sizeof(out));
	CHECK_EQ(out[6], 0);
	CHECK_EQ(out[7], 108);
	/* Zero rep count, start >= count, rep call made fast with output. */
	CHECK_EQ(rep_call(h, TEST_REP_CALL, IN, OUT), HV_STATUS_INVALID_HYPERCALL_INPUT);
	CHECK_EQ(rep_call(h, TEST_REP_CALL | REP(10, 10), IN, OUT), HV_STATUS_INVALID_HYPERCALL_INPUT);
	CHECK_EQ(rep_call(h, TEST_REP_CALL | REP(10, 11), IN, OUT), HV_STATUS_INVALID_HYPERCALL_INPUT);
	CHECK_EQ(rep_call(h, TEST_REP_CALL | REP(1, 0) | FAST, 0, 1),
		 HV_STATUS_INVALID_HYPERCALL_INPUT);
	/* Output block misaligned, outside RAM, or a list crossing its page. */
	in[1 + 6] = 106;
	memcpy(h->ram + IN, in, sizeof(in));
	CHECK_EQ(rep_call(h, TEST_REP_CALL | REP(10, 0), IN, OUT + 4), HV_STATUS_INVALID_ALIGNMENT);
	CHECK_EQ(rep_call(h, TEST_REP_CALL | REP(10, 0), IN, FAKE_RAM_SIZE - 8),
		 HV_STATUS_INVALID_ALIGNMENT);
	CHECK_EQ(rep_call(h, TEST_REP_CALL | REP(10, 0), IN, OUT + 4096 - 72),
		 HV_STATUS_INVALID_ALIGNMENT);
	CHECK_EQ(rep_call(h, TEST_REP_CALL | REP(10, 0), IN, OUT + 4096 - 80),
		 HV_STATUS_SUCCESS | (10ull << 32));
	CHECK_EQ(rep_call(h, TEST_REP_CALL | REP(4095, 0), IN, OUT), HV_STATUS_INVALID_ALIGNMENT);
	fake_teardown(h);
}

static void test_registry(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 1, FAKE_TSC_HZ);
	struct recorder r = { 0 };
	struct hv_connection_ops ops = { .post_message = rec_post, .opaque = &r };
	struct hv_connection_ops none = { .opaque = &r };
	unsigned i;

	CHECK_EQ(hv_connection_register(h->p, 1, &none), -EINVAL);
	CHECK_EQ(hv_connection_register(h->p, 1, &ops), 0);
	CHECK_EQ(hv_connection_register(h->p, 1, &ops), -EEXIST);
	for (i = 2; hv_connection_register(h->p, i, &ops) == 0; i++)
		;
	CHECK_EQ(i, 257); /* 256 connections */
	CHECK_EQ(hv_connection_register(h->p, 1000, &ops), -ENOSPC);
	hv_connection_unregister(h->p, 100);
	hv_connection_unregister(h->p, 100); /* unknown: no-op */
	CHECK_EQ(hv_connection_register(h->p, 1000, &ops), 0);
	fake_teardown(h);
}

static void test_echo_connections(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 2, FAKE_TSC_HZ);
	struct hv_message *slot5 = fake_slot(h, SIMP, 5);

	fake_enable_hypercalls(h);
	CHECK_EQ(hv_test_connections_register(h->p), 0);
	CHECK_EQ(hv_test_connections_register(h->p), -EEXIST);
	/* SynIC off on VP 1: the echo cannot be delivered. */
	put_post(h, IN, 0x10000, 0x99, 3);
	h->ram[IN + 16] = 0x25; /* P[0] & 15 = SINT 5 */
	CHECK_EQ(fake_hypercall(h, 1, HVCALL_POST_MESSAGE, IN, 0), HV_STATUS_INVALID_SYNIC_STATE);
	fake_enable_synic(h, 1, SIMP, SIEFP, 5, 0x55);
	CHECK_EQ(fake_hypercall(h, 1, HVCALL_POST_MESSAGE, IN, 0), HV_STATUS_SUCCESS);
	CHECK_EQ(slot5->header.message_type, 0x99);
	CHECK_EQ(slot5->header.payload_size, 3);
	CHECK_EQ(slot5->payload[0], 0x25);
	CHECK_EQ(slot5->payload[1], 2);
	CHECK_EQ(h->nirqs, 1);
	CHECK_EQ(h->irqs[0].apic_id, 1);
	CHECK_EQ(h->irqs[0].vector, 0x55);
	/* Busy slot: queued, still success; delivered after the guest's EOM. */
	put_post(h, IN, 0x10000, 0x9a, 1);
	h->ram[IN + 16] = 5;
	CHECK_EQ(fake_hypercall(h, 1, HVCALL_POST_MESSAGE, IN, 0), HV_STATUS_SUCCESS);
	CHECK_EQ(slot5->header.message_type, 0x99);
	slot5->header.message_type = 0;
	wrmsr_ok(h, 1, HV_X64_MSR_EOM, 0);
	CHECK_EQ(slot5->header.message_type, 0x9a);
	/* Empty payload. */
	put_post(h, IN, 0x10000, 0x9b, 0);
	CHECK_EQ(fake_hypercall(h, 1, HVCALL_POST_MESSAGE, IN, 0), HV_STATUS_INVALID_PARAMETER);
	/* Queue full behind the busy slot. */
	put_post(h, IN, 0x10000, 0x9c, 1);
	h->ram[IN + 16] = 5;
	for (unsigned i = 0; i < 16; i++)
		CHECK_EQ(fake_hypercall(h, 1, HVCALL_POST_MESSAGE, IN, 0), HV_STATUS_SUCCESS);
	CHECK_EQ(fake_hypercall(h, 1, HVCALL_POST_MESSAGE, IN, 0), HV_STATUS_INSUFFICIENT_BUFFERS);
	/* Event echo: SINT 3 of the calling VP. */
	CHECK_EQ(fake_hypercall(h, 1, HVCALL_SIGNAL_EVENT | FAST, 0x10001 | (9ull << 32), 0),
		 HV_STATUS_INVALID_SYNIC_STATE); /* SINT 3 still masked */
	wrmsr_ok(h, 1, HV_X64_MSR_SINT0 + 3, 0x33);
	h->nirqs = 0;
	CHECK_EQ(fake_hypercall(h, 1, HVCALL_SIGNAL_EVENT | FAST, 0x10001 | (9ull << 32), 0),
		 HV_STATUS_SUCCESS);
	CHECK_EQ(h->ram[SIEFP + 3 * 256 + 1], 1 << 1);
	CHECK_EQ(h->nirqs, 1);
	CHECK_EQ(h->irqs[0].vector, 0x33);
	CHECK_EQ(fake_hypercall(h, 1, HVCALL_SIGNAL_EVENT | FAST, 0x10001 | (9ull << 32), 0),
		 HV_STATUS_SUCCESS); /* already set: no interrupt */
	CHECK_EQ(h->nirqs, 1);
	CHECK_EQ(fake_hypercall(h, 1, HVCALL_SIGNAL_EVENT | FAST, 0x10001 | (2048ull << 32), 0),
		 HV_STATUS_INVALID_PARAMETER);
	/* The echo connections do not answer the other call. */
	CHECK_EQ(fake_hypercall(h, 1, HVCALL_SIGNAL_EVENT | FAST, 0x10000, 0),
		 HV_STATUS_INVALID_PORT_ID);
	put_post(h, IN, 0x10001, 1, 1);
	CHECK_EQ(fake_hypercall(h, 1, HVCALL_POST_MESSAGE, IN, 0), HV_STATUS_INVALID_PORT_ID);
	fake_teardown(h);
}

int main(void)
{
	test_ud();
	test_control_errors();
	test_post_message();
	test_signal_event();
	test_rep_machinery();
	test_registry();
	test_echo_connections();
	return unit_done("test_hv_hypercall");
}
