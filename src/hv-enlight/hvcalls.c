/* The hypercalls hvkvm implements (TLFS hypercall reference: HvPostMessage, HvSignalEvent,
 * HvCallSendSyntheticClusterIpi(Ex), HvNotifyLongSpinWait). The flush hypercalls are not
 * provided: a remote TLB flush must make the other vCPUs flush, which userspace cannot do. */
#include <string.h>

#include "hv-enlight/hypercall.h"

static uint16_t post_message(struct hv_hypercall_call *c)
{
	struct hv_input_post_message m;
	struct hv_connection_ops ops;

	memcpy(&m, c->in, sizeof(m));
	/* Types from 0x80000000 on are the hypervisor's own; 0 is "no message". */
	if (m.message_type == HVMSG_NONE || m.message_type >= HVMSG_HYPERVISOR_FIRST ||
	    m.payload_size > HV_MESSAGE_PAYLOAD_BYTE_COUNT)
		return HV_STATUS_INVALID_PARAMETER;
	if (!hv_connection_lookup(c->p, m.connection_id, &ops))
		return HV_STATUS_INVALID_CONNECTION_ID;
	if (!ops.post_message)
		return HV_STATUS_INVALID_PORT_ID; /* not a message connection */
	return ops.post_message(ops.opaque, c->vp, m.message_type, m.payload, m.payload_size);
}

static uint16_t signal_event(struct hv_hypercall_call *c)
{
	struct hv_input_signal_event e;
	struct hv_connection_ops ops;

	memcpy(&e, c->in, sizeof(e));
	if (e.rsvdz)
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	if (!hv_connection_lookup(c->p, e.connection_id, &ops))
		return HV_STATUS_INVALID_CONNECTION_ID;
	if (!ops.signal_event)
		return HV_STATUS_INVALID_PORT_ID; /* not an event connection */
	return ops.signal_event(ops.opaque, c->vp, e.flag_number);
}

static uint16_t notify_long_spin_wait(struct hv_hypercall_call *c)
{
	(void)c; /* a hint; spin retries are advertised as "never notify" anyway */
	return HV_STATUS_SUCCESS;
}

static bool ipi_header_ok(uint32_t vector, uint8_t target_vtl)
{
	return vector >= HV_IPI_LOW_VECTOR && vector <= HV_IPI_HIGH_VECTOR && target_vtl == 0;
}

/* Fixed interrupt to the VPs of one 64-VP bank; indexes past the last VP are ignored. */
static void ipi_bank(struct hv_partition *p, unsigned bank, uint64_t mask, uint8_t vector)
{
	while (mask) {
		unsigned vp = bank * 64 + (unsigned)__builtin_ctzll(mask);

		mask &= mask - 1;
		if (vp < p->cfg.nvps)
			p->ops.send_interrupt(p->ops.ctx, vp, vector);
	}
}

static uint16_t send_ipi(struct hv_hypercall_call *c)
{
	struct hv_send_ipi s;

	memcpy(&s, c->in, sizeof(s));
	if (!ipi_header_ok(s.vector, s.target_vtl))
		return HV_STATUS_INVALID_PARAMETER;
	ipi_bank(c->p, 0, s.cpu_mask, (uint8_t)s.vector);
	return HV_STATUS_SUCCESS;
}

static uint16_t send_ipi_ex(struct hv_hypercall_call *c)
{
	struct hv_send_ipi_ex s;
	unsigned k = 0;

	memcpy(&s, c->in, sizeof(s));
	if (!ipi_header_ok(s.vector, s.target_vtl))
		return HV_STATUS_INVALID_PARAMETER;
	if (s.format == HV_GENERIC_SET_ALL) {
		for (unsigned vp = 0; vp < c->p->cfg.nvps; vp++)
			c->p->ops.send_interrupt(c->p->ops.ctx, vp, (uint8_t)s.vector);
		return HV_STATUS_SUCCESS;
	}
	if (s.format != HV_GENERIC_SET_SPARSE_4K ||
	    (uint32_t)__builtin_popcountll(s.valid_bank_mask) * 8 > c->varhead_size)
		return HV_STATUS_INVALID_PARAMETER;
	/* One u64 in the variable header per bank set in valid_bank_mask, in bank order. */
	for (uint64_t banks = s.valid_bank_mask; banks; banks &= banks - 1, k++) {
		uint64_t mask;

		memcpy(&mask, c->in + sizeof(s) + 8 * k, sizeof(mask));
		ipi_bank(c->p, (unsigned)__builtin_ctzll(banks), mask, (uint8_t)s.vector);
	}
	return HV_STATUS_SUCCESS;
}

const struct hv_hypercall_desc hv_hypercall_table[] = {
	{ .code = HVCALL_NOTIFY_LONG_SPIN_WAIT, .fast = true, .feature = -1, .in_size = 8,
	  .simple = notify_long_spin_wait },
	{ .code = HVCALL_SEND_IPI, .fast = true, .feature = HV_FEAT_IPI,
	  .missing_status = HV_STATUS_INVALID_HYPERCALL_CODE,
	  .in_size = sizeof(struct hv_send_ipi), .simple = send_ipi },
	{ .code = HVCALL_SEND_IPI_EX, .varhead = true, .feature = HV_FEAT_IPI,
	  .missing_status = HV_STATUS_INVALID_HYPERCALL_CODE,
	  .in_size = sizeof(struct hv_send_ipi_ex), .simple = send_ipi_ex },
	/* Without the SynIC the partition lacks the PostMessages/SignalEvents privileges. */
	{ .code = HVCALL_POST_MESSAGE, .feature = HV_FEAT_SYNIC,
	  .missing_status = HV_STATUS_ACCESS_DENIED,
	  .in_size = sizeof(struct hv_input_post_message), .simple = post_message },
	{ .code = HVCALL_SIGNAL_EVENT, .fast = true, .feature = HV_FEAT_SYNIC,
	  .missing_status = HV_STATUS_ACCESS_DENIED,
	  .in_size = sizeof(struct hv_input_signal_event), .simple = signal_event },
};
const size_t hv_hypercall_table_len = sizeof(hv_hypercall_table) / sizeof(hv_hypercall_table[0]);
