/* The `--hyperv off|on|LIST` feature set: names, the default set and dependencies (the features
 * map onto TLFS "Feature Discovery" privileges; dependencies follow what each needs to work). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hv-enlight/partition.h"

static const char *const feature_names[HV_FEAT_COUNT] = {
	[HV_FEAT_RELAXED] = "relaxed",
	[HV_FEAT_VPINDEX] = "vpindex",
	[HV_FEAT_RUNTIME] = "runtime",
	[HV_FEAT_TIME] = "time",
	[HV_FEAT_SYNIC] = "synic",
	[HV_FEAT_STIMER] = "stimer",
	[HV_FEAT_STIMER_DIRECT] = "stimer-direct",
	[HV_FEAT_CRASH] = "crash",
	[HV_FEAT_RESET] = "reset",
	[HV_FEAT_FREQUENCIES] = "frequencies",
	[HV_FEAT_VAPIC] = "vapic",
	[HV_FEAT_IPI] = "ipi",
	[HV_FEAT_TLBFLUSH] = "tlbflush",
	[HV_FEAT_IDLE] = "idle",
	[HV_FEAT_TSC_INVARIANT] = "tsc-invariant",
};

/* What each feature needs besides itself. */
static const uint32_t feature_needs[HV_FEAT_COUNT] = {
	[HV_FEAT_SYNIC] = HV_FEATURE_BIT(HV_FEAT_VPINDEX),
	[HV_FEAT_STIMER] = HV_FEATURE_BIT(HV_FEAT_SYNIC) | HV_FEATURE_BIT(HV_FEAT_TIME),
	[HV_FEAT_STIMER_DIRECT] = HV_FEATURE_BIT(HV_FEAT_STIMER),
	[HV_FEAT_IPI] = HV_FEATURE_BIT(HV_FEAT_VPINDEX),
	[HV_FEAT_TLBFLUSH] = HV_FEATURE_BIT(HV_FEAT_VPINDEX),
};

#define ALL_FEATURES ((1u << HV_FEAT_COUNT) - 1)
/* A correct remote TLB flush must make the other vCPUs flush, which userspace cannot do. */
#define UNPROVIDED_FEATURES HV_FEATURE_BIT(HV_FEAT_TLBFLUSH)

uint32_t hv_features_default(void)
{
	/* Everything provided except:
	 * - ipi: a PV IPI is a userspace exit (~10-30 us here), slower than the APIC IPI that KVM's
	 *   in-kernel LAPIC delivers without leaving the kernel;
	 * - tsc-invariant: with it Linux prefers the raw TSC clocksource over the reference TSC
	 *   page; both read without an exit, and the page is what a Hyper-V guest expects;
	 * - stimer, stimer-direct: Linux then programs its per-CPU timer through a userspace MSR
	 *   exit; bench/hv measured arming at 32.8 us against 7.0 us for the in-kernel TSC-deadline
	 *   LAPIC timer, and a 100 us sleep waking 908 us late against 441 us. */
	return ALL_FEATURES & ~UNPROVIDED_FEATURES & ~HV_FEATURE_BIT(HV_FEAT_IPI) &
	       ~HV_FEATURE_BIT(HV_FEAT_TSC_INVARIANT) & ~HV_FEATURE_BIT(HV_FEAT_STIMER) &
	       ~HV_FEATURE_BIT(HV_FEAT_STIMER_DIRECT);
}

const char *hv_features_format(uint32_t features, char *buf, size_t size)
{
	size_t used = 0;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (features == 0) {
		snprintf(buf, size, "off");
		return buf;
	}
	for (int f = 0; f < HV_FEAT_COUNT; f++) {
		int n;

		if (!(features & HV_FEATURE_BIT(f)))
			continue;
		n = snprintf(buf + used, size - used, "%s%s", used ? "," : "", feature_names[f]);
		if (n < 0 || (size_t)n >= size - used) {
			buf[used] = '\0'; /* truncated: stop at the last whole name */
			break;
		}
		used += (size_t)n;
	}
	return buf;
}

int hv_features_check(uint32_t features, struct error *err)
{
	if (features & ~ALL_FEATURES)
		return error_set(err, EINVAL, "unknown Hyper-V feature bits 0x%x",
				 features & ~ALL_FEATURES);
	if (features == 0)
		return 0;
	for (int f = 0; f < HV_FEAT_COUNT; f++)
		if (features & UNPROVIDED_FEATURES & HV_FEATURE_BIT(f))
			return error_set(err, EINVAL, "Hyper-V feature '%s' is not provided by hvkvm",
					 feature_names[f]);
	/* Linux detects Hyper-V by the hypercall and VP index MSRs (TLFS privileges bits 5, 6). */
	if (!(features & HV_FEATURE_BIT(HV_FEAT_VPINDEX)))
		return error_set(err, EINVAL,
				 "Hyper-V needs 'vpindex' (guests detect Hyper-V by it); use 'off' "
				 "to present no Hyper-V at all");
	for (int f = 0; f < HV_FEAT_COUNT; f++) {
		uint32_t missing;

		if (!(features & HV_FEATURE_BIT(f)))
			continue;
		missing = feature_needs[f] & ~features;
		if (missing)
			return error_set(err, EINVAL, "Hyper-V feature '%s' needs '%s'",
					 feature_names[f],
					 feature_names[__builtin_ctz(missing)]);
	}
	return 0;
}

static int lookup(const char *name, size_t len)
{
	for (int f = 0; f < HV_FEAT_COUNT; f++)
		if (strlen(feature_names[f]) == len && memcmp(feature_names[f], name, len) == 0)
			return f;
	return -1;
}

static int unknown(const char *name, size_t len, struct error *err)
{
	char known[256];
	size_t used = 0;

	for (int f = 0; f < HV_FEAT_COUNT; f++)
		used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s", f ? ", " : "",
					 feature_names[f]);
	return error_set(err, EINVAL, "unknown Hyper-V feature '%.*s' (known: %s)", (int)len, name,
			 known);
}

int hv_features_parse(const char *spec, uint32_t *features, struct error *err)
{
	uint32_t listed = 0, add = 0, remove = 0;
	bool plain = false, change = false;
	const char *s = spec;

	if (!spec || !*spec)
		return error_set(err, EINVAL, "empty Hyper-V feature list (use off, on or a list)");
	if (strcmp(spec, "off") == 0) {
		*features = 0;
		return 0;
	}
	if (strcmp(spec, "on") == 0) {
		*features = hv_features_default();
		return 0;
	}
	for (;;) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		char sign = len > 0 && (s[0] == '-' || s[0] == '+') ? s[0] : 0;
		const char *name = sign ? s + 1 : s;
		size_t name_len = sign ? len - 1 : len;
		int f;

		if (name_len == 0)
			return error_set(err, EINVAL, "empty name in Hyper-V feature list '%s'", spec);
		f = lookup(name, name_len);
		if (f < 0)
			return unknown(name, name_len, err);
		if (sign == '-') {
			change = true;
			remove |= HV_FEATURE_BIT(f);
		} else if (sign == '+') {
			change = true;
			add |= HV_FEATURE_BIT(f);
		} else {
			plain = true;
			listed |= HV_FEATURE_BIT(f);
		}
		if (!end)
			break;
		s = end + 1;
	}
	if (plain && change)
		return error_set(err, EINVAL,
				 "Hyper-V feature list '%s' mixes names and '+name'/'-name' changes: "
				 "give either the whole set or only changes to the default", spec);
	/* A plain list is the whole set; '+' and '-' entries change the default set. */
	uint32_t set = plain ? listed : (hv_features_default() | add) & ~remove;
	int ret = hv_features_check(set, err);

	if (ret)
		return ret;
	*features = set;
	return 0;
}
