/* Partition reference time (TLFS "Timers": reference counter, reference TSC page): 100 ns units
 * since guest TSC 0; the TSC page and the TIME_REF_COUNT MSR compute it by the same formula. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "hv-enlight/partition.h"

/* Reference time 0 is guest TSC 0, which KVM puts near VM creation, so tsc_offset is 0. */

uint64_t hv_ref_tsc_scale(uint64_t tsc_hz)
{
	unsigned __int128 scale;

	if (tsc_hz < HV_CLOCK_HZ)
		return 0; /* a TSC tick is more than one reference tick: scale would need >= 2^64 */
	scale = ((unsigned __int128)HV_CLOCK_HZ << 64) / tsc_hz;
	/* tsc_hz == 10 MHz: 2^64 does not fit; 2^64 - 1 is one tick slow at most. */
	return scale > UINT64_MAX ? UINT64_MAX : (uint64_t)scale;
}

uint64_t hv_ref_time_from_tsc(const struct hv_partition *p, uint64_t tsc)
{
	if (p->tsc_scale)
		return (uint64_t)(((unsigned __int128)tsc * p->tsc_scale) >> 64);
	return (uint64_t)((unsigned __int128)tsc * HV_CLOCK_HZ / p->cfg.tsc_hz);
}

uint64_t hv_ref_time_now(struct hv_partition *p, unsigned vp)
{
	return hv_ref_time_from_tsc(p, p->ops.guest_tsc(p->ops.ctx, vp));
}

static uint32_t next_sequence(struct hv_partition *p)
{
	/* Never 0 (invalid: readers use the MSR) nor 0xFFFFFFFF. */
	do
		p->tsc_sequence++;
	while (p->tsc_sequence == 0 || p->tsc_sequence == UINT32_MAX);
	return p->tsc_sequence;
}

int hv_ref_tsc_page_write(struct hv_partition *p, uint64_t gpa)
{
	uint8_t *page = guest_mem_ptr(p->mem, gpa, HV_HYP_PAGE_SIZE);
	struct ms_hyperv_tsc_page hdr = { .tsc_scale = p->tsc_scale, .tsc_offset = 0 };
	uint32_t *seq = (uint32_t *)page;

	if (!page)
		return -EFAULT;
	/* Invalidate first, so a reader on another VP retries or falls back to the MSR while the
	 * scale and offset change. */
	__atomic_store_n(seq, 0, __ATOMIC_SEQ_CST);
	memcpy(page + offsetof(struct ms_hyperv_tsc_page, tsc_scale), &hdr.tsc_scale,
	       sizeof(hdr.tsc_scale));
	memcpy(page + offsetof(struct ms_hyperv_tsc_page, tsc_offset), &hdr.tsc_offset,
	       sizeof(hdr.tsc_offset));
	memset(page + sizeof(hdr), 0, HV_HYP_PAGE_SIZE - sizeof(hdr));
	/* Release: the scale and offset are visible before the new sequence. */
	__atomic_store_n(seq, next_sequence(p), __ATOMIC_RELEASE);
	return 0;
}
