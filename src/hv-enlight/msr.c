/* Synthetic MSRs 0x40000000-0x40000118 (TLFS: hypercall page, VP index/runtime/assist page,
 * reference time and frequencies, crash, reset, idle): dispatch and partition-wide
 * registers; SynIC and timer MSRs are in synic.c and stimer.c. An MSR of a feature that is off,
 * an unknown MSR in the range, a read-only write or a bad value is #GP (-EPERM). */
#include <errno.h>
#include <string.h>

#include "hv-enlight/partition.h"
#include "log.h"

#define TAG "hv"

bool hv_msr_is_synthetic(uint32_t msr)
{
	return msr >= HV_X64_MSR_FIRST && msr <= HV_X64_MSR_LAST;
}

static bool page_in_ram(const struct hv_partition *p, uint64_t value)
{
	return guest_mem_ptr(p->mem, value & HV_MSR_PAGE_GPA_MASK, HV_HYP_PAGE_SIZE) != NULL;
}

static int write_hypercall(struct hv_partition *p, uint64_t value)
{
	static const uint8_t code[] = HV_HYPERCALL_PAGE_CODE;
	uint8_t *page;

	/* The page stays disabled until the guest has said who it is. */
	if (p->guest_os_id == 0)
		value &= ~HV_MSR_PAGE_ENABLE;
	if (value & HV_MSR_PAGE_ENABLE) {
		page = guest_mem_ptr(p->mem, value & HV_MSR_PAGE_GPA_MASK, HV_HYP_PAGE_SIZE);
		if (!page)
			return -EPERM;
		memcpy(page, code, sizeof(code));
		memset(page + sizeof(code), HV_HYPERCALL_PAGE_FILL, HV_HYP_PAGE_SIZE - sizeof(code));
	}
	p->hypercall = value;
	return 0;
}

/* Copies the crash message out of guest memory, up to NUL, printable. */
static void crash_message(struct hv_partition *p, char *msg, size_t size)
{
	uint64_t gpa = p->crash_params[3], len = p->crash_params[4];
	size_t n = 0;

	msg[0] = '\0';
	if (len > HV_CRASH_MESSAGE_MAX)
		len = HV_CRASH_MESSAGE_MAX;
	if (len >= size)
		len = size - 1;
	if (len == 0 || guest_mem_read(p->mem, gpa, msg, len) != 0)
		return;
	for (; n < len && msg[n]; n++) {
		unsigned char c = (unsigned char)msg[n];

		if ((c < 0x20 && c != '\n' && c != '\t') || c >= 0x7f)
			msg[n] = '?';
	}
	msg[n] = '\0';
}

static int write_crash_ctl(struct hv_partition *p, uint64_t value)
{
	uint64_t params[HV_CRASH_PARAMS];
	char msg[HV_CRASH_MESSAGE_MAX + 1];

	if (value & ~(HV_CRASH_CTL_CRASH_NOTIFY | HV_CRASH_CTL_CRASH_NOTIFY_MSG))
		return -EPERM;
	if (!(value & HV_CRASH_CTL_CRASH_NOTIFY))
		return 0;
	pthread_mutex_lock(&p->lock);
	memcpy(params, p->crash_params, sizeof(params));
	if (value & HV_CRASH_CTL_CRASH_NOTIFY_MSG)
		crash_message(p, msg, sizeof(msg));
	else
		msg[0] = '\0';
	pthread_mutex_unlock(&p->lock);
	p->ops.guest_crashed(p->ops.ctx, params, msg);
	return 0;
}

static int write_vp_assist(struct hv_partition *p, struct hv_vp *v, uint64_t value)
{
	if (value & HV_MSR_PAGE_ENABLE) {
		uint8_t *page = guest_mem_ptr(p->mem, value & HV_MSR_PAGE_GPA_MASK,
					      HV_HYP_PAGE_SIZE);

		if (!page)
			return -EPERM;
		memset(page, 0, HV_HYP_PAGE_SIZE); /* an overlay page reads as zeroes when enabled */
	}
	pthread_mutex_lock(&v->lock);
	v->vp_assist = value;
	pthread_mutex_unlock(&v->lock);
	return 0;
}

static bool synic_msr(uint32_t msr)
{
	return (msr >= HV_X64_MSR_SCONTROL && msr <= HV_X64_MSR_EOM) ||
	       (msr >= HV_X64_MSR_SINT0 && msr <= HV_X64_MSR_SINT15);
}

static bool stimer_msr(uint32_t msr)
{
	return msr >= HV_X64_MSR_STIMER0_CONFIG && msr <= HV_X64_MSR_STIMER3_COUNT;
}

int hv_msr_read(struct hv_partition *p, unsigned vp, uint32_t msr, uint64_t *value)
{
	struct hv_vp *v;

	if (vp >= p->cfg.nvps || p->cfg.features == 0)
		return -EPERM;
	v = &p->vps[vp];
	if (synic_msr(msr))
		return hv_has(p, HV_FEAT_SYNIC) ? hv_synic_msr_read(p, v, msr, value) : -EPERM;
	if (stimer_msr(msr))
		return hv_has(p, HV_FEAT_STIMER) ? hv_stimer_msr_read(p, v, msr, value) : -EPERM;
	if (msr >= HV_X64_MSR_CRASH_P0 && msr <= HV_X64_MSR_CRASH_P4) {
		if (!hv_has(p, HV_FEAT_CRASH))
			return -EPERM;
		pthread_mutex_lock(&p->lock);
		*value = p->crash_params[msr - HV_X64_MSR_CRASH_P0];
		pthread_mutex_unlock(&p->lock);
		return 0;
	}
	switch (msr) {
	case HV_X64_MSR_GUEST_OS_ID:
		pthread_mutex_lock(&p->lock);
		*value = p->guest_os_id;
		pthread_mutex_unlock(&p->lock);
		return 0;
	case HV_X64_MSR_HYPERCALL:
		pthread_mutex_lock(&p->lock);
		*value = p->hypercall;
		pthread_mutex_unlock(&p->lock);
		return 0;
	case HV_X64_MSR_VP_INDEX:
		*value = vp;
		return hv_has(p, HV_FEAT_VPINDEX) ? 0 : -EPERM;
	case HV_X64_MSR_RESET:
		*value = 0;
		return hv_has(p, HV_FEAT_RESET) ? 0 : -EPERM;
	case HV_X64_MSR_VP_RUNTIME:
		if (!hv_has(p, HV_FEAT_RUNTIME))
			return -EPERM;
		*value = p->ops.vp_runtime_ns(p->ops.ctx, vp) / HV_NS_PER_REF_TICK;
		return 0;
	case HV_X64_MSR_TIME_REF_COUNT:
		if (!hv_has(p, HV_FEAT_TIME))
			return -EPERM;
		*value = hv_ref_time_now(p, vp);
		return 0;
	case HV_X64_MSR_REFERENCE_TSC:
		if (!hv_has(p, HV_FEAT_TIME) || !p->tsc_scale)
			return -EPERM;
		pthread_mutex_lock(&p->lock);
		*value = p->reference_tsc;
		pthread_mutex_unlock(&p->lock);
		return 0;
	case HV_X64_MSR_TSC_FREQUENCY:
		*value = p->cfg.tsc_hz;
		return hv_has(p, HV_FEAT_FREQUENCIES) ? 0 : -EPERM;
	case HV_X64_MSR_APIC_FREQUENCY:
		*value = p->cfg.apic_hz;
		return hv_has(p, HV_FEAT_FREQUENCIES) ? 0 : -EPERM;
	case HV_X64_MSR_VP_ASSIST_PAGE:
		if (!hv_has(p, HV_FEAT_VAPIC))
			return -EPERM;
		pthread_mutex_lock(&v->lock);
		*value = v->vp_assist;
		pthread_mutex_unlock(&v->lock);
		return 0;
	case HV_X64_MSR_GUEST_IDLE:
		if (!hv_has(p, HV_FEAT_IDLE))
			return -EPERM;
		p->ops.vp_idle(p->ops.ctx, vp);
		*value = 0;
		return 0;
	case HV_X64_MSR_CRASH_CTL:
		*value = HV_CRASH_CTL_CRASH_NOTIFY | HV_CRASH_CTL_CRASH_NOTIFY_MSG;
		return hv_has(p, HV_FEAT_CRASH) ? 0 : -EPERM;
	case HV_X64_MSR_TSC_INVARIANT_CONTROL:
		if (!hv_has(p, HV_FEAT_TSC_INVARIANT))
			return -EPERM;
		pthread_mutex_lock(&p->lock);
		*value = p->tsc_invariant_control;
		pthread_mutex_unlock(&p->lock);
		return 0;
	default:
		return -EPERM; /* unknown, reserved, APIC-access MSRs (not advertised) */
	}
}

static int write_partition_locked(struct hv_partition *p, uint32_t msr, uint64_t value)
{
	switch (msr) {
	case HV_X64_MSR_GUEST_OS_ID:
		p->guest_os_id = value;
		if (value == 0)
			p->hypercall &= ~HV_MSR_PAGE_ENABLE;
		return 0;
	case HV_X64_MSR_HYPERCALL:
		return write_hypercall(p, value);
	case HV_X64_MSR_REFERENCE_TSC:
		if (!hv_has(p, HV_FEAT_TIME) || !p->tsc_scale)
			return -EPERM;
		if (value & HV_MSR_PAGE_ENABLE) {
			if (!page_in_ram(p, value))
				return -EPERM;
			(void)hv_ref_tsc_page_write(p, value & HV_MSR_PAGE_GPA_MASK);
		}
		p->reference_tsc = value;
		return 0;
	case HV_X64_MSR_TSC_INVARIANT_CONTROL:
		if (!hv_has(p, HV_FEAT_TSC_INVARIANT) || (value & ~HV_TSC_INVARIANT_CONTROL_ENABLE))
			return -EPERM;
		p->tsc_invariant_control = value;
		return 0;
	default:
		if (msr >= HV_X64_MSR_CRASH_P0 && msr <= HV_X64_MSR_CRASH_P4 &&
		    hv_has(p, HV_FEAT_CRASH)) {
			p->crash_params[msr - HV_X64_MSR_CRASH_P0] = value;
			return 0;
		}
		return -EPERM;
	}
}

int hv_msr_write(struct hv_partition *p, unsigned vp, uint32_t msr, uint64_t value)
{
	int ret;

	if (vp >= p->cfg.nvps || p->cfg.features == 0)
		return -EPERM;
	if (synic_msr(msr))
		return hv_has(p, HV_FEAT_SYNIC) ? hv_synic_msr_write(p, &p->vps[vp], msr, value)
						: -EPERM;
	if (stimer_msr(msr))
		return hv_has(p, HV_FEAT_STIMER) ? hv_stimer_msr_write(p, &p->vps[vp], msr, value)
						 : -EPERM;
	switch (msr) {
	case HV_X64_MSR_RESET:
		if (!hv_has(p, HV_FEAT_RESET))
			return -EPERM;
		if (value & HV_RESET_DO_RESET) {
			log_info(TAG, "guest reset through HV_X64_MSR_RESET");
			machine_request(&p->mc, MACHINE_RESET, 0);
		}
		return 0;
	case HV_X64_MSR_VP_ASSIST_PAGE:
		return hv_has(p, HV_FEAT_VAPIC) ? write_vp_assist(p, &p->vps[vp], value) : -EPERM;
	case HV_X64_MSR_CRASH_CTL:
		return hv_has(p, HV_FEAT_CRASH) ? write_crash_ctl(p, value) : -EPERM;
	default:
		break;
	}
	pthread_mutex_lock(&p->lock);
	ret = write_partition_locked(p, msr, value);
	pthread_mutex_unlock(&p->lock);
	return ret;
}
