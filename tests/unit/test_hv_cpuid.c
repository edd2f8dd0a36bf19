/* Unit tests for the Hyper-V CPUID leaves: signature, max leaf, interface, version, the privilege
 * and feature bits per feature, hints (deprecate AutoEOI, relaxed, cluster IPI), no XMM input. */
#include <string.h>

#include "test_hv_fake.h"

#define B(f) HV_FEATURE_BIT(HV_FEAT_##f)
#define MIN_SET (B(VPINDEX))

static void leaf(struct fake_host *h, uint32_t l, uint32_t r[4])
{
	memset(r, 0xee, 4 * sizeof(r[0]));
	CHECK(hv_cpuid_leaf(h->p, l, r));
}

static void test_identity(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 3, FAKE_TSC_HZ);
	uint32_t r[4];
	char vendor[13];

	leaf(h, 0x40000000, r);
	CHECK_EQ(r[0], 0x4000000A);
	memcpy(vendor, &r[1], 4);
	memcpy(vendor + 4, &r[2], 4);
	memcpy(vendor + 8, &r[3], 4);
	vendor[12] = '\0';
	CHECK(strcmp(vendor, "Microsoft Hv") == 0);
	leaf(h, 0x40000001, r);
	CHECK(memcmp(&r[0], "Hv#1", 4) == 0);
	CHECK_EQ(r[1] | r[2] | r[3], 0);
	leaf(h, 0x40000002, r);
	CHECK_EQ(r[0], 0x3839);
	CHECK_EQ(r[1], 10u << 16);
	leaf(h, 0x40000005, r);
	CHECK_EQ(r[0], 3);
	for (uint32_t l = 0x40000006; l <= 0x4000000A; l++) {
		leaf(h, l, r);
		CHECK_EQ(r[0] | r[1] | r[2] | r[3], 0);
	}
	CHECK(!hv_cpuid_leaf(h->p, 0x4000000B, r));
	CHECK(!hv_cpuid_leaf(h->p, 0x3fffffff, r));
	CHECK(!hv_cpuid_leaf(h->p, 0x40000100, r));
	fake_teardown(h);

	/* off: no Hyper-V leaves at all. */
	h = fake_setup(0, 1, FAKE_TSC_HZ);
	CHECK(!hv_cpuid_leaf(h->p, 0x40000000, r));
	CHECK(!hv_cpuid_leaf(h->p, 0x40000003, r));
	fake_teardown(h);
}

struct bits {
	uint32_t features;
	uint32_t eax, ebx, edx, hints;
};

static void test_bits_per_feature(void)
{
	static const struct bits cases[] = {
		{ MIN_SET, (1u << 5) | (1u << 6), 0, 0, 0 },
		{ MIN_SET | B(RELAXED), (1u << 5) | (1u << 6), 0, 0, 1u << 5 },
		{ MIN_SET | B(RUNTIME), 0x61, 0, 0, 0 },
		{ MIN_SET | B(TIME), 0x60 | (1u << 1) | (1u << 9), 0, 0, 0 },
		{ MIN_SET | B(SYNIC), 0x60 | (1u << 2), (1u << 4) | (1u << 5), 0, 1u << 9 },
		{ MIN_SET | B(SYNIC) | B(TIME) | B(STIMER), 0x60 | 0x2 | 0x4 | 0x8 | (1u << 9),
		  0x30, 0, 1u << 9 },
		{ MIN_SET | B(SYNIC) | B(TIME) | B(STIMER) | B(STIMER_DIRECT),
		  0x60 | 0x2 | 0x4 | 0x8 | (1u << 9), 0x30, 1u << 19, 1u << 9 },
		{ MIN_SET | B(CRASH), 0x60, 0, 1u << 10, 0 },
		{ MIN_SET | B(RESET), 0x60 | (1u << 7), 0, 0, 1u << 4 },
		{ MIN_SET | B(FREQUENCIES), 0x60 | (1u << 11), 0, 1u << 8, 0 },
		{ MIN_SET | B(VAPIC), 0x60 | (1u << 4), 0, 0, 0 },
		{ MIN_SET | B(IPI), 0x60, 0, 0, 1u << 10 },
		{ MIN_SET | B(IDLE), 0x60 | (1u << 10), 0, 1u << 5, 0 },
		{ MIN_SET | B(TSC_INVARIANT), 0x60 | (1u << 15), 0, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake_host *h = fake_setup(cases[i].features, 1, FAKE_TSC_HZ);
		uint32_t r[4];

		leaf(h, 0x40000003, r);
		CHECK_EQ(r[0], cases[i].eax);
		CHECK_EQ(r[1], cases[i].ebx);
		CHECK_EQ(r[2], 0);
		CHECK_EQ(r[3], cases[i].edx);
		CHECK_EQ(r[3] & (1u << 4), 0); /* never XMM fast hypercall input */
		CHECK_EQ(r[1] & (1u << 12), 0); /* never CpuManagement (root partition) */
		leaf(h, 0x40000004, r);
		CHECK_EQ(r[0], cases[i].hints);
		CHECK_EQ(r[1], 0xffffffffu);
		fake_teardown(h);
	}
}

static void test_default_set(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 2, FAKE_TSC_HZ);
	uint32_t r[4];

	leaf(h, 0x40000003, r);
	/* Linux's detection needs hypercall and VP index MSRs; reference TSC page for the clock. */
	CHECK(r[0] & (1u << 5));
	CHECK(r[0] & (1u << 6));
	CHECK(r[0] & (1u << 9));
	CHECK_EQ(r[3] & (1u << 4), 0);
	leaf(h, 0x40000004, r);
	CHECK(r[0] & (1u << 9));         /* deprecate AutoEOI */
	CHECK_EQ(r[0] & (1u << 10), 0);  /* no cluster IPI: ipi is not in the default */
	CHECK_EQ(r[0] & (1u << 2), 0);   /* never remote TLB flush */
	CHECK_EQ(r[0] & (1u << 3), 0);   /* no APIC-access MSRs */
	fake_teardown(h);
}

static void test_slow_tsc_has_no_page(void)
{
	/* Below 10 MHz the TSC page cannot express the scale: only TIME_REF_COUNT. */
	struct fake_host *h = fake_setup(MIN_SET | B(TIME), 1, 1000000);
	uint32_t r[4];

	leaf(h, 0x40000003, r);
	CHECK(r[0] & (1u << 1));
	CHECK_EQ(r[0] & (1u << 9), 0);
	fake_teardown(h);
}

int main(void)
{
	test_identity();
	test_bits_per_feature();
	test_default_set();
	test_slow_tsc_has_no_page();
	return unit_done("test_hv_cpuid");
}
