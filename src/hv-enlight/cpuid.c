/* Hyper-V CPUID leaves 0x40000000-0x4000000A for the partition's feature set (TLFS "Feature
 * Discovery"; bit numbers as Linux's hyperv-tlfs.h spells them). */
#include <string.h>

#include "hv-enlight/partition.h"

/* Reported hypervisor version: build 14393 (0x3839), 10.0. Guests only print it. */
#define HV_VERSION_BUILD 0x3839u
#define HV_VERSION_MAJOR_MINOR ((10u << 16) | 0u)

static uint32_t features_eax(const struct hv_partition *p)
{
	uint32_t eax = HV_MSR_HYPERCALL_AVAILABLE;

	if (hv_has(p, HV_FEAT_VPINDEX))
		eax |= HV_MSR_VP_INDEX_AVAILABLE;
	if (hv_has(p, HV_FEAT_RUNTIME))
		eax |= HV_MSR_VP_RUNTIME_AVAILABLE;
	if (hv_has(p, HV_FEAT_TIME)) {
		eax |= HV_MSR_TIME_REF_COUNT_AVAILABLE;
		if (p->tsc_scale)
			eax |= HV_MSR_REFERENCE_TSC_AVAILABLE;
	}
	if (hv_has(p, HV_FEAT_SYNIC))
		eax |= HV_MSR_SYNIC_AVAILABLE;
	if (hv_has(p, HV_FEAT_STIMER))
		eax |= HV_MSR_SYNTIMER_AVAILABLE;
	if (hv_has(p, HV_FEAT_VAPIC))
		eax |= HV_MSR_APIC_ACCESS_AVAILABLE;
	if (hv_has(p, HV_FEAT_RESET))
		eax |= HV_MSR_RESET_AVAILABLE;
	if (hv_has(p, HV_FEAT_IDLE))
		eax |= HV_MSR_GUEST_IDLE_AVAILABLE;
	if (hv_has(p, HV_FEAT_FREQUENCIES))
		eax |= HV_ACCESS_FREQUENCY_MSRS;
	if (hv_has(p, HV_FEAT_TSC_INVARIANT))
		eax |= HV_ACCESS_TSC_INVARIANT;
	return eax;
}

static uint32_t features_edx(const struct hv_partition *p)
{
	uint32_t edx = 0; /* never HV_X64_HYPERCALL_XMM_INPUT_AVAILABLE: no XMM input */

	if (hv_has(p, HV_FEAT_IDLE))
		edx |= HV_X64_GUEST_IDLE_STATE_AVAILABLE;
	if (hv_has(p, HV_FEAT_FREQUENCIES))
		edx |= HV_FEATURE_FREQUENCY_MSRS_AVAILABLE;
	if (hv_has(p, HV_FEAT_CRASH))
		edx |= HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE;
	if (hv_has(p, HV_FEAT_STIMER_DIRECT))
		edx |= HV_STIMER_DIRECT_MODE_AVAILABLE;
	return edx;
}

static uint32_t hints_eax(const struct hv_partition *p)
{
	uint32_t eax = 0;

	if (hv_has(p, HV_FEAT_RELAXED))
		eax |= HV_X64_RELAXED_TIMING_RECOMMENDED;
	if (hv_has(p, HV_FEAT_RESET))
		eax |= HV_X64_SYSTEM_RESET_RECOMMENDED;
	/* SINT interrupts are plain fixed interrupts: auto-EOI cannot be honoured. */
	if (hv_has(p, HV_FEAT_SYNIC))
		eax |= HV_DEPRECATING_AEOI_RECOMMENDED;
	if (hv_has(p, HV_FEAT_IPI))
		eax |= HV_X64_CLUSTER_IPI_RECOMMENDED;
	return eax;
}

bool hv_cpuid_leaf(const struct hv_partition *p, uint32_t leaf, uint32_t regs[4])
{
	if (p->cfg.features == 0 || leaf < HV_CPUID_FIRST || leaf > HV_CPUID_LAST)
		return false;
	memset(regs, 0, 4 * sizeof(regs[0]));
	switch (leaf) {
	case HYPERV_CPUID_VENDOR_AND_MAX_FUNCTIONS:
		regs[0] = HV_CPUID_LAST;
		memcpy(&regs[1], "Micr", 4);
		memcpy(&regs[2], "osof", 4);
		memcpy(&regs[3], "t Hv", 4);
		break;
	case HYPERV_CPUID_INTERFACE:
		regs[0] = HYPERV_INTERFACE_HV1;
		break;
	case HYPERV_CPUID_VERSION:
		regs[0] = HV_VERSION_BUILD;
		regs[1] = HV_VERSION_MAJOR_MINOR;
		break;
	case HYPERV_CPUID_FEATURES:
		regs[0] = features_eax(p);
		if (hv_has(p, HV_FEAT_SYNIC))
			regs[1] = HV_POST_MESSAGES | HV_SIGNAL_EVENTS;
		regs[3] = features_edx(p);
		break;
	case HYPERV_CPUID_ENLIGHTMENT_INFO:
		regs[0] = hints_eax(p);
		regs[1] = HV_SPIN_RETRIES_NEVER;
		break;
	case HYPERV_CPUID_IMPLEMENT_LIMITS:
		regs[0] = p->cfg.nvps; /* max virtual processors */
		regs[1] = p->cfg.nvps; /* max logical processors */
		break;
	default:
		break; /* 0x40000006-0x4000000A: no hardware features, nothing nested */
	}
	return true;
}
