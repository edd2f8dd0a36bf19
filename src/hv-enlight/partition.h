/* The partition and its virtual processors as the files of src/hv-enlight/ share them (TLFS
 * partition, virtual processors, SynIC, timers). Private to this directory; the VMM uses hv.h. */
#ifndef HVKVM_HV_PARTITION_H
#define HVKVM_HV_PARTITION_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hv-enlight/hv.h"
#include "hv-enlight/tlfs.h"

#define HV_MAX_VPS 2048          /* HV_MAXIMUM_PROCESSORS */
#define HV_MAX_CONNECTIONS 256   /* VMBus: a message connection plus one signal id per channel */
#define HV_SINT_QUEUE_LEN 16     /* messages waiting behind a busy slot, per SINT */
#define HV_NO_DEADLINE UINT64_MAX

/* Messages waiting for their SINT's slot (FIFO). */
struct hv_msg_queue {
	struct hv_message msgs[HV_SINT_QUEUE_LEN];
	unsigned head, count;
};

struct hv_stimer {
	uint64_t config, count;  /* the guest's registers */
	bool armed;              /* deadline_ns/deadline_ref valid */
	bool pending;            /* expired in message mode, message not yet in the slot */
	uint64_t deadline_ns;    /* host CLOCK_MONOTONIC ns of the expiry */
	uint64_t deadline_ref;   /* the same instant in the guest's reference time */
};

/* Vectors to raise on one VP once its lock is dropped. */
struct hv_irqs {
	uint64_t bits[4];
};

struct hv_vp {
	unsigned index;
	pthread_mutex_t lock; /* everything below; posts come from any thread */
	uint64_t vp_assist;
	uint64_t scontrol, simp, siefp;
	uint64_t sint[HV_SYNIC_SINT_COUNT];
	struct hv_msg_queue *queue[HV_SYNIC_SINT_COUNT]; /* allocated on first busy slot */
	struct hv_stimer stimer[HV_SYNIC_STIMER_COUNT];
};

struct hv_connection {
	uint32_t id;
	bool used;
	bool doorbell_bound; /* ops.doorbell_fd is bound in the host (hv_host_ops.bind_doorbell) */
	struct hv_connection_ops ops;
};

struct hv_partition {
	struct hv_config cfg;
	const struct guest_mem *mem;
	struct hv_host_ops ops;
	struct machine_control mc;

	pthread_mutex_t lock; /* partition-wide MSR state below */
	uint64_t guest_os_id, hypercall, reference_tsc, tsc_invariant_control;
	uint64_t crash_params[HV_CRASH_PARAMS];
	uint32_t tsc_sequence;
	uint64_t tsc_scale;   /* 0 when the TSC page cannot express tsc_hz (below 10 MHz) */

	pthread_mutex_t conn_lock;
	struct hv_connection conns[HV_MAX_CONNECTIONS];

	struct hv_vp *vps;    /* cfg.nvps */
};

static inline bool hv_has(const struct hv_partition *p, enum hv_feature f)
{
	return (p->cfg.features & HV_FEATURE_BIT(f)) != 0;
}

static inline void hv_irqs_add(struct hv_irqs *irqs, uint8_t vector)
{
	irqs->bits[vector / 64] |= 1ull << (vector % 64);
}

/* Sends the collected vectors to VP vp (call without locks held). */
void hv_irqs_send(struct hv_partition *p, unsigned vp, const struct hv_irqs *irqs);

/* Dependency check shared by the parser and partition creation (features.c). */
int hv_features_check(uint32_t features, struct error *err);

/* Reference time (reftime.c). The TSC page scale; 0 below 10 MHz, which it cannot express. */
uint64_t hv_ref_tsc_scale(uint64_t tsc_hz);
/* Reference time for a guest TSC value: the TSC page formula when it is usable, else exact. */
uint64_t hv_ref_time_from_tsc(const struct hv_partition *p, uint64_t tsc);
/* Reference time now as VP vp sees it (VP thread only). */
uint64_t hv_ref_time_now(struct hv_partition *p, unsigned vp);
/* Writes the TSC page at gpa with a new sequence number (partition lock held). 0 or -EFAULT. */
int hv_ref_tsc_page_write(struct hv_partition *p, uint64_t gpa);

/* SynIC (synic.c), VP thread, p and vp validated. 0 or -EPERM. */
int hv_synic_msr_read(struct hv_partition *p, struct hv_vp *v, uint32_t msr, uint64_t *value);
int hv_synic_msr_write(struct hv_partition *p, struct hv_vp *v, uint32_t msr, uint64_t value);
/* Puts msg into sint's slot of v (v->lock held). With queue, a busy slot queues it behind the
 * others; without, a busy slot only gets msg_pending set. 0 delivered (vector added to irqs unless
 * masked), -EAGAIN busy (queued if queue), -ENODEV not deliverable now, -ENOBUFS queue full. */
int hv_synic_deliver_locked(struct hv_partition *p, struct hv_vp *v, unsigned sint,
			    const struct hv_message *msg, bool queue, struct hv_irqs *irqs);

/* Synthetic timers (stimer.c), v->lock held unless said otherwise. */
int hv_stimer_msr_read(struct hv_partition *p, struct hv_vp *v, uint32_t msr, uint64_t *value);
int hv_stimer_msr_write(struct hv_partition *p, struct hv_vp *v, uint32_t msr, uint64_t value);
/* Retries the timers of v whose expiry message is pending (after EOM or a SynIC change).
 * Returns true if a deadline changed. */
bool hv_stimer_retry_pending_locked(struct hv_partition *p, struct hv_vp *v, uint64_t now_ns,
				    struct hv_irqs *irqs);

/* Whether a timer of v waits for sint's message slot. */
bool hv_stimer_waiting_on(const struct hv_vp *v, unsigned sint);

/* Connections (partition.c): copies the handler of connection_id; false if none. Any thread. */
bool hv_connection_lookup(struct hv_partition *p, uint32_t connection_id,
			  struct hv_connection_ops *ops);

#endif
