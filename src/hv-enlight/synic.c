/* Synthetic interrupt controller (TLFS "Synthetic Interrupt Controller"): SCONTROL, SIMP, SIEFP,
 * SINTx, EOM; message slots with the msg_pending/EOM handshake, per-SINT queues, event flags.
 *
 * Slot protocol, host side: a slot is ours only while its message_type is HVMSG_NONE; we write
 * the payload and header, then the type last (release). When the slot is busy we set msg_pending
 * (a full barrier) and look at the type again: the guest clears the type, fences, then reads
 * msg_pending and writes EOM if it is set, so one of the two sides always sees the other.
 * Interrupts are plain fixed interrupts: a SINT's AutoEOI bit is stored but cannot be honoured,
 * which is why CPUID recommends deprecating AutoEOI. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "hv-enlight/partition.h"

#define FLAGS_OFFSET offsetof(struct hv_message_header, message_flags)

static uint8_t *sint_area(struct hv_partition *p, uint64_t page_msr, unsigned sint)
{
	return guest_mem_ptr(p->mem, (page_msr & HV_MSR_PAGE_GPA_MASK) + (uint64_t)sint * 256, 256);
}

/* Whether sint of v takes messages (events) now; *irq: whether to interrupt. */
static bool sint_open(const struct hv_vp *v, uint64_t page_msr, unsigned sint, bool *irq)
{
	uint64_t s = v->sint[sint];

	if (!(v->scontrol & HV_SYNIC_CONTROL_ENABLE) || !(page_msr & HV_MSR_PAGE_ENABLE))
		return false;
	if ((s & HV_SYNIC_SINT_MASKED) && !(s & HV_SYNIC_SINT_POLLING))
		return false;
	*irq = !(s & HV_SYNIC_SINT_MASKED);
	return true;
}

static bool slot_try_write(uint8_t *slot, const struct hv_message *msg, bool more)
{
	struct hv_message_header h = msg->header;

	if (__atomic_load_n((uint32_t *)slot, __ATOMIC_ACQUIRE) != HVMSG_NONE)
		return false;
	h.message_flags = more ? HV_MESSAGE_FLAG_PENDING : 0;
	memcpy(slot + sizeof(h.message_type), (uint8_t *)&h + sizeof(h.message_type),
	       sizeof(h) - sizeof(h.message_type));
	memcpy(slot + sizeof(h), msg->payload, sizeof(msg->payload));
	__atomic_store_n((uint32_t *)slot, h.message_type, __ATOMIC_RELEASE);
	return true;
}

/* Busy slot: ask for an EOM, then true if the guest emptied the slot meanwhile. */
static bool slot_mark_pending(uint8_t *slot)
{
	__atomic_fetch_or(slot + FLAGS_OFFSET, HV_MESSAGE_FLAG_PENDING, __ATOMIC_SEQ_CST);
	return __atomic_load_n((uint32_t *)slot, __ATOMIC_SEQ_CST) == HVMSG_NONE;
}

/* Whether something besides the message being written waits for sint's slot: the message then
 * carries msg_pending, so the guest's EOM brings the next one. */
static bool others_waiting(const struct hv_vp *v, unsigned sint, unsigned queued_after)
{
	return queued_after > 0 || hv_stimer_waiting_on(v, sint);
}

/* Moves queued messages of sint into its slot while it is free. */
static void flush_sint(struct hv_partition *p, struct hv_vp *v, unsigned sint,
		       struct hv_irqs *irqs)
{
	struct hv_msg_queue *q = v->queue[sint];
	uint8_t *slot;
	bool irq;

	if (!q || !q->count || !sint_open(v, v->simp, sint, &irq))
		return;
	slot = sint_area(p, v->simp, sint);
	while (q->count) {
		if (!slot_try_write(slot, &q->msgs[q->head], others_waiting(v, sint, q->count - 1))) {
			if (!slot_mark_pending(slot))
				break; /* the guest's EOM brings us back */
			continue;
		}
		q->head = (q->head + 1) % HV_SINT_QUEUE_LEN;
		q->count--;
		if (irq)
			hv_irqs_add(irqs, (uint8_t)(v->sint[sint] & HV_SYNIC_SINT_VECTOR_MASK));
	}
}

static int enqueue(struct hv_vp *v, unsigned sint, const struct hv_message *msg)
{
	struct hv_msg_queue *q = v->queue[sint];

	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return -ENOBUFS;
		v->queue[sint] = q;
	}
	if (q->count == HV_SINT_QUEUE_LEN)
		return -ENOBUFS;
	q->msgs[(q->head + q->count) % HV_SINT_QUEUE_LEN] = *msg;
	q->count++;
	return 0;
}

int hv_synic_deliver_locked(struct hv_partition *p, struct hv_vp *v, unsigned sint,
			    const struct hv_message *msg, bool queue, struct hv_irqs *irqs)
{
	struct hv_msg_queue *q = v->queue[sint];
	uint8_t *slot;
	bool irq;
	int ret;

	if (!sint_open(v, v->simp, sint, &irq))
		return -ENODEV;
	slot = sint_area(p, v->simp, sint);
	if (!(queue && q && q->count)) { /* nothing queued ahead of it */
		bool more = others_waiting(v, sint, q ? q->count : 0);

		if (slot_try_write(slot, msg, more) ||
		    (slot_mark_pending(slot) && slot_try_write(slot, msg, more))) {
			if (irq)
				hv_irqs_add(irqs, (uint8_t)(v->sint[sint] & HV_SYNIC_SINT_VECTOR_MASK));
			return 0;
		}
		if (!queue)
			return -EAGAIN;
	}
	ret = enqueue(v, sint, msg);
	if (ret) {
		/* Full: make room if the guest emptied the slot (flush also asks for an EOM). */
		flush_sint(p, v, sint, irqs);
		ret = enqueue(v, sint, msg);
		if (ret)
			return ret;
	}
	flush_sint(p, v, sint, irqs);
	return v->queue[sint]->count ? -EAGAIN : 0;
}

/* SynIC state changed or EOM: retry everything waiting on v. */
static void kick_locked(struct hv_partition *p, struct hv_vp *v, struct hv_irqs *irqs,
			bool *timers_changed)
{
	for (unsigned s = 0; s < HV_SYNIC_SINT_COUNT; s++)
		flush_sint(p, v, s, irqs);
	if (hv_has(p, HV_FEAT_STIMER) &&
	    hv_stimer_retry_pending_locked(p, v, p->ops.now_ns(p->ops.ctx), irqs))
		*timers_changed = true;
}

static void drop_queues(struct hv_vp *v)
{
	for (unsigned s = 0; s < HV_SYNIC_SINT_COUNT; s++)
		if (v->queue[s])
			v->queue[s]->count = 0;
}

/* SIMP/SIEFP: the page must be RAM; it reads as zeroes when it is newly enabled or moved. */
static int write_page_msr(struct hv_partition *p, uint64_t *reg, uint64_t value)
{
	uint8_t *page;

	if (value & HV_MSR_PAGE_ENABLE) {
		page = guest_mem_ptr(p->mem, value & HV_MSR_PAGE_GPA_MASK, HV_HYP_PAGE_SIZE);
		if (!page)
			return -EPERM;
		if (!(*reg & HV_MSR_PAGE_ENABLE) ||
		    ((*reg ^ value) & HV_MSR_PAGE_GPA_MASK))
			memset(page, 0, HV_HYP_PAGE_SIZE);
	}
	*reg = value;
	return 0;
}

int hv_synic_msr_read(struct hv_partition *p, struct hv_vp *v, uint32_t msr, uint64_t *value)
{
	(void)p;
	pthread_mutex_lock(&v->lock);
	if (msr >= HV_X64_MSR_SINT0 && msr <= HV_X64_MSR_SINT15)
		*value = v->sint[msr - HV_X64_MSR_SINT0];
	else if (msr == HV_X64_MSR_SCONTROL)
		*value = v->scontrol;
	else if (msr == HV_X64_MSR_SVERSION)
		*value = HV_SYNIC_VERSION_1;
	else if (msr == HV_X64_MSR_SIEFP)
		*value = v->siefp;
	else if (msr == HV_X64_MSR_SIMP)
		*value = v->simp;
	else
		*value = 0; /* EOM */
	pthread_mutex_unlock(&v->lock);
	return 0;
}

int hv_synic_msr_write(struct hv_partition *p, struct hv_vp *v, uint32_t msr, uint64_t value)
{
	struct hv_irqs irqs = { { 0 } };
	bool timers_changed = false;
	int ret = 0;

	if (msr == HV_X64_MSR_SVERSION)
		return -EPERM;
	if (msr >= HV_X64_MSR_SINT0 && msr <= HV_X64_MSR_SINT15 && !(value & HV_SYNIC_SINT_MASKED) &&
	    (value & HV_SYNIC_SINT_VECTOR_MASK) < HV_SYNIC_FIRST_VALID_VECTOR)
		return -EPERM; /* an unmasked SINT needs a vector of 16-255 */
	pthread_mutex_lock(&v->lock);
	if (msr >= HV_X64_MSR_SINT0 && msr <= HV_X64_MSR_SINT15)
		v->sint[msr - HV_X64_MSR_SINT0] = value; /* reserved bits are RsvdP: kept */
	else if (msr == HV_X64_MSR_SCONTROL)
		v->scontrol = value;
	else if (msr == HV_X64_MSR_SIEFP)
		ret = write_page_msr(p, &v->siefp, value);
	else if (msr == HV_X64_MSR_SIMP) {
		ret = write_page_msr(p, &v->simp, value);
		if (!ret && !(value & HV_MSR_PAGE_ENABLE))
			drop_queues(v);
	}
	/* EOM, and any change that may open a SINT: retry what waits. */
	if (!ret)
		kick_locked(p, v, &irqs, &timers_changed);
	pthread_mutex_unlock(&v->lock);
	hv_irqs_send(p, v->index, &irqs);
	if (timers_changed)
		p->ops.timers_changed(p->ops.ctx);
	return ret;
}

int hv_synic_post_message(struct hv_partition *p, unsigned vp, unsigned sint,
			  uint32_t message_type, const void *payload, uint32_t size)
{
	struct hv_message msg;
	struct hv_irqs irqs = { { 0 } };
	struct hv_vp *v;
	int ret;

	if (vp >= p->cfg.nvps || sint >= HV_SYNIC_SINT_COUNT || message_type == HVMSG_NONE ||
	    size > HV_MESSAGE_PAYLOAD_BYTE_COUNT || (size && !payload))
		return -EINVAL;
	if (!hv_has(p, HV_FEAT_SYNIC))
		return -ENODEV;
	memset(&msg, 0, sizeof(msg));
	msg.header.message_type = message_type;
	msg.header.payload_size = (uint8_t)size;
	if (size)
		memcpy(msg.payload, payload, size);
	v = &p->vps[vp];
	pthread_mutex_lock(&v->lock);
	ret = hv_synic_deliver_locked(p, v, sint, &msg, true, &irqs);
	pthread_mutex_unlock(&v->lock);
	hv_irqs_send(p, vp, &irqs);
	return ret;
}

int hv_synic_signal_event(struct hv_partition *p, unsigned vp, unsigned sint, unsigned flag)
{
	struct hv_irqs irqs = { { 0 } };
	struct hv_vp *v;
	uint8_t *flags, bit, old;
	bool irq;
	int ret;

	if (vp >= p->cfg.nvps || sint >= HV_SYNIC_SINT_COUNT || flag >= HV_EVENT_FLAGS_COUNT)
		return -EINVAL;
	if (!hv_has(p, HV_FEAT_SYNIC))
		return -ENODEV;
	v = &p->vps[vp];
	pthread_mutex_lock(&v->lock);
	if (!sint_open(v, v->siefp, sint, &irq)) {
		ret = -ENODEV;
	} else {
		flags = sint_area(p, v->siefp, sint);
		bit = (uint8_t)(1u << (flag % 8));
		/* Atomic against the guest's test-and-clear of the same word. */
		old = __atomic_fetch_or(&flags[flag / 8], bit, __ATOMIC_SEQ_CST);
		ret = (old & bit) ? 1 : 0;
		if (!ret && irq)
			hv_irqs_add(&irqs, (uint8_t)(v->sint[sint] & HV_SYNIC_SINT_VECTOR_MASK));
	}
	pthread_mutex_unlock(&v->lock);
	hv_irqs_send(p, vp, &irqs);
	return ret;
}
