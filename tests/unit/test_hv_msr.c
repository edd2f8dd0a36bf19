/* Unit tests for the partition-wide and per-VP synthetic MSRs: GUEST_OS_ID gate, hypercall page
 * bytes, VP index, runtime, reference time and TSC page, frequencies, VP assist page, reset,
 * crash with message, guest idle, TSC invariant control, and #GP for unknown, reserved, read-only
 * and disabled-feature MSRs. SynIC and timer MSRs are in test_hv_synic and test_hv_stimer. */
#include <string.h>

#include "test_hv_fake.h"

#define B(f) HV_FEATURE_BIT(HV_FEAT_##f)

static void gp_read(struct fake_host *h, unsigned vp, uint32_t msr)
{
	uint64_t v;

	CHECK_EQ(hv_msr_read(h->p, vp, msr, &v), -EPERM);
}

static void gp_write(struct fake_host *h, unsigned vp, uint32_t msr, uint64_t value)
{
	CHECK_EQ(hv_msr_write(h->p, vp, msr, value), -EPERM);
}

static void test_range(void)
{
	CHECK(hv_msr_is_synthetic(0x40000000));
	CHECK(hv_msr_is_synthetic(0x400000FF));
	CHECK(hv_msr_is_synthetic(0x40000100));
	CHECK(hv_msr_is_synthetic(0x40000118));
	CHECK(!hv_msr_is_synthetic(0x40000119));
	CHECK(!hv_msr_is_synthetic(0x3fffffff));
	CHECK(!hv_msr_is_synthetic(0x4b564d00)); /* KVM's own */
}

static void test_hypercall_page(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 2, FAKE_TSC_HZ);
	static const uint8_t code[] = HV_HYPERCALL_PAGE_CODE; /* run by test_hv_trampoline */
	uint8_t *page = h->ram + 0x5000;

	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_GUEST_OS_ID), 0);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_HYPERCALL), 0);
	/* GUEST_OS_ID is 0: the enable bit does not stick and no page is written. */
	wrmsr_ok(h, 0, HV_X64_MSR_HYPERCALL, 0x5000 | 1);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_HYPERCALL), 0x5000);
	CHECK_EQ(page[0], 0);
	wrmsr_ok(h, 1, HV_X64_MSR_GUEST_OS_ID, 0x8100ull << 48 | 0x060100ull << 16);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_GUEST_OS_ID), 0x8100ull << 48 | 0x060100ull << 16);
	wrmsr_ok(h, 0, HV_X64_MSR_HYPERCALL, 0x5000 | 1);
	CHECK_EQ(rdmsr_ok(h, 1, HV_X64_MSR_HYPERCALL), 0x5001); /* partition-wide */
	CHECK(memcmp(page, code, sizeof(code)) == 0);
	for (unsigned i = sizeof(code); i < 4096; i++)
		if (page[i] != 0xcc) {
			CHECK_EQ(page[i], 0xcc);
			break;
		}
	CHECK_EQ(page[4096], 0); /* nothing past the page */
	/* Preserved bits 1-11 read back. */
	wrmsr_ok(h, 0, HV_X64_MSR_HYPERCALL, 0x5000 | 0xffe);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_HYPERCALL), 0x5ffe);
	/* A page outside RAM: #GP, the MSR keeps its value. */
	gp_write(h, 0, HV_X64_MSR_HYPERCALL, ((uint64_t)FAKE_RAM_SIZE) | 1);
	gp_write(h, 0, HV_X64_MSR_HYPERCALL, 0xfffffffffffff001ull);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_HYPERCALL), 0x5ffe);
	/* Clearing GUEST_OS_ID disables the page. */
	wrmsr_ok(h, 0, HV_X64_MSR_HYPERCALL, 0x5001);
	wrmsr_ok(h, 0, HV_X64_MSR_GUEST_OS_ID, 0);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_HYPERCALL), 0x5000);
	fake_teardown(h);
}

static void test_vp_index_runtime_frequencies(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 4, FAKE_TSC_HZ);

	for (unsigned vp = 0; vp < 4; vp++)
		CHECK_EQ(rdmsr_ok(h, vp, HV_X64_MSR_VP_INDEX), vp);
	gp_write(h, 0, HV_X64_MSR_VP_INDEX, 3);
	gp_read(h, 4, HV_X64_MSR_VP_INDEX); /* no such VP */
	gp_write(h, 4, HV_X64_MSR_GUEST_OS_ID, 1);
	h->runtime_ns = 123456789;
	CHECK_EQ(rdmsr_ok(h, 2, HV_X64_MSR_VP_RUNTIME), 1234567);
	gp_write(h, 0, HV_X64_MSR_VP_RUNTIME, 0);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_TSC_FREQUENCY), FAKE_TSC_HZ);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_APIC_FREQUENCY), 1000000000ull);
	gp_write(h, 0, HV_X64_MSR_TSC_FREQUENCY, 1);
	gp_write(h, 0, HV_X64_MSR_APIC_FREQUENCY, 1);
	fake_teardown(h);
}

static void test_reference_time(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 1, FAKE_TSC_HZ);
	uint8_t *page = h->ram + 0x7000;
	struct ms_hyperv_tsc_page hdr, hdr2;
	uint64_t ref;

	h->tsc = FAKE_TSC_HZ * 3; /* 3 s */
	ref = rdmsr_ok(h, 0, HV_X64_MSR_TIME_REF_COUNT);
	CHECK(ref >= 29999999 && ref <= 30000000);
	gp_write(h, 0, HV_X64_MSR_TIME_REF_COUNT, 0);
	memset(page, 0x77, 4096);
	wrmsr_ok(h, 0, HV_X64_MSR_REFERENCE_TSC, 0x7000 | 1);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_REFERENCE_TSC), 0x7001);
	memcpy(&hdr, page, sizeof(hdr));
	CHECK(hdr.tsc_sequence != 0 && hdr.tsc_sequence != 0xffffffffu);
	CHECK_EQ(hdr.tsc_offset, 0);
	CHECK_EQ(hdr.tsc_scale, (uint64_t)(((unsigned __int128)10000000 << 64) / FAKE_TSC_HZ));
	CHECK_EQ(page[24], 0); /* the rest of the page is zeroed */
	CHECK_EQ(page[4095], 0);
	/* TIME_REF_COUNT is the page formula, so it never disagrees with the page. */
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_TIME_REF_COUNT),
		 (uint64_t)(((unsigned __int128)h->tsc * hdr.tsc_scale) >> 64) + hdr.tsc_offset);
	/* A rewrite changes the sequence. */
	wrmsr_ok(h, 0, HV_X64_MSR_REFERENCE_TSC, 0x7000 | 1);
	memcpy(&hdr2, page, sizeof(hdr2));
	CHECK(hdr2.tsc_sequence != hdr.tsc_sequence && hdr2.tsc_sequence != 0);
	/* Disabling keeps the page as it is. */
	wrmsr_ok(h, 0, HV_X64_MSR_REFERENCE_TSC, 0x7000);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_REFERENCE_TSC), 0x7000);
	gp_write(h, 0, HV_X64_MSR_REFERENCE_TSC, (uint64_t)FAKE_RAM_SIZE | 1);
	fake_teardown(h);
}

static void test_vp_assist(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 2, FAKE_TSC_HZ);

	memset(h->ram + 0x9000, 0x55, 4096);
	wrmsr_ok(h, 1, HV_X64_MSR_VP_ASSIST_PAGE, 0x9000 | 1);
	CHECK_EQ(rdmsr_ok(h, 1, HV_X64_MSR_VP_ASSIST_PAGE), 0x9001);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_VP_ASSIST_PAGE), 0); /* per VP */
	CHECK_EQ(h->ram[0x9000], 0);
	CHECK_EQ(h->ram[0x9fff], 0);
	CHECK_EQ(h->ram[0xa000], 0);
	gp_write(h, 0, HV_X64_MSR_VP_ASSIST_PAGE, (uint64_t)FAKE_RAM_SIZE | 1);
	gp_write(h, 0, HV_X64_MSR_VP_ASSIST_PAGE, 0xffffffffff000001ull);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_VP_ASSIST_PAGE), 0);
	wrmsr_ok(h, 0, HV_X64_MSR_VP_ASSIST_PAGE, (uint64_t)FAKE_RAM_SIZE); /* disabled: any GPA */
	/* The APIC-access MSRs are not offered. */
	gp_read(h, 0, HV_X64_MSR_EOI);
	gp_write(h, 0, HV_X64_MSR_EOI, 0);
	gp_read(h, 0, HV_X64_MSR_ICR);
	gp_read(h, 0, HV_X64_MSR_TPR);
	fake_teardown(h);
}

static void test_reset_idle_invariant(void)
{
	struct fake_host *h = fake_setup(hv_features_default() |
					    HV_FEATURE_BIT(HV_FEAT_TSC_INVARIANT), 1, FAKE_TSC_HZ);

	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_RESET), 0);
	wrmsr_ok(h, 0, HV_X64_MSR_RESET, 0);
	CHECK_EQ(h->requests, 0);
	wrmsr_ok(h, 0, HV_X64_MSR_RESET, 1);
	CHECK_EQ(h->requests, 1);
	CHECK_EQ(h->last_event, MACHINE_RESET);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_GUEST_IDLE), 0);
	CHECK_EQ(h->idles, 1);
	gp_write(h, 0, HV_X64_MSR_GUEST_IDLE, 0);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_TSC_INVARIANT_CONTROL), 0);
	wrmsr_ok(h, 0, HV_X64_MSR_TSC_INVARIANT_CONTROL, 1);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_TSC_INVARIANT_CONTROL), 1);
	gp_write(h, 0, HV_X64_MSR_TSC_INVARIANT_CONTROL, 2);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_TSC_INVARIANT_CONTROL), 1);
	fake_teardown(h);
}

static void test_crash(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 1, FAKE_TSC_HZ);
	static const char text[] = "Kernel panic - not syncing: \x01test\x7f\n";

	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_CRASH_CTL), HV_CRASH_CTL_CRASH_NOTIFY |
		 HV_CRASH_CTL_CRASH_NOTIFY_MSG);
	for (unsigned i = 0; i < 5; i++) {
		wrmsr_ok(h, 0, HV_X64_MSR_CRASH_P0 + i, 0x100 + i);
		CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_CRASH_P0 + i), 0x100 + i);
	}
	/* Without NOTIFY nothing is reported; other bits are reserved. */
	wrmsr_ok(h, 0, HV_X64_MSR_CRASH_CTL, 0);
	wrmsr_ok(h, 0, HV_X64_MSR_CRASH_CTL, HV_CRASH_CTL_CRASH_NOTIFY_MSG);
	gp_write(h, 0, HV_X64_MSR_CRASH_CTL, HV_CRASH_CTL_CRASH_NOTIFY | 1);
	CHECK_EQ(h->crashes, 0);
	wrmsr_ok(h, 0, HV_X64_MSR_CRASH_CTL, HV_CRASH_CTL_CRASH_NOTIFY);
	CHECK_EQ(h->crashes, 1);
	CHECK_EQ(h->crash_params[0], 0x100);
	CHECK_EQ(h->crash_params[4], 0x104);
	CHECK_EQ(h->crash_message[0], 0);
	/* With a message: P3 = GPA, P4 = length; stops at NUL, made printable. */
	memcpy(h->ram + 0x20000, text, sizeof(text));
	memcpy(h->ram + 0x20000 + sizeof(text), "after NUL", 9);
	wrmsr_ok(h, 0, HV_X64_MSR_CRASH_P3, 0x20000);
	wrmsr_ok(h, 0, HV_X64_MSR_CRASH_P4, sizeof(text) + 9);
	wrmsr_ok(h, 0, HV_X64_MSR_CRASH_CTL, HV_CRASH_CTL_CRASH_NOTIFY |
		 HV_CRASH_CTL_CRASH_NOTIFY_MSG);
	CHECK_EQ(h->crashes, 2);
	CHECK(strcmp(h->crash_message, "Kernel panic - not syncing: ?test?\n") == 0);
	/* The length is bounded to 4096; a message outside RAM is empty. */
	memset(h->ram + 0x30000, 'x', 8192);
	wrmsr_ok(h, 0, HV_X64_MSR_CRASH_P3, 0x30000);
	wrmsr_ok(h, 0, HV_X64_MSR_CRASH_P4, 1ull << 40);
	wrmsr_ok(h, 0, HV_X64_MSR_CRASH_CTL, HV_CRASH_CTL_CRASH_NOTIFY |
		 HV_CRASH_CTL_CRASH_NOTIFY_MSG);
	CHECK_EQ(strlen(h->crash_message), 4096);
	wrmsr_ok(h, 0, HV_X64_MSR_CRASH_P3, (uint64_t)FAKE_RAM_SIZE - 10);
	wrmsr_ok(h, 0, HV_X64_MSR_CRASH_P4, 100);
	wrmsr_ok(h, 0, HV_X64_MSR_CRASH_CTL, HV_CRASH_CTL_CRASH_NOTIFY |
		 HV_CRASH_CTL_CRASH_NOTIFY_MSG);
	CHECK_EQ(h->crashes, 4);
	CHECK_EQ(h->crash_message[0], 0);
	fake_teardown(h);
}

static void test_unknown_and_reserved(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 1, FAKE_TSC_HZ);
	static const uint32_t unknown[] = {
		0x40000004, 0x4000000f, 0x40000011, 0x40000024, 0x4000006f, 0x40000074,
		0x40000085, 0x4000008f, 0x400000a0, 0x400000b8, 0x400000ef, 0x400000f1,
		0x400000ff, 0x40000106, 0x40000107, 0x40000108, 0x40000117,
	};

	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		gp_read(h, 0, unknown[i]);
		gp_write(h, 0, unknown[i], 0);
	}
	fake_teardown(h);
}

/* Each feature's MSRs #GP while the feature is off. */
static void test_disabled_features(void)
{
	struct fake_host *h = fake_setup(B(VPINDEX), 1, FAKE_TSC_HZ);
	static const uint32_t msrs[] = {
		HV_X64_MSR_RESET, HV_X64_MSR_VP_RUNTIME, HV_X64_MSR_TIME_REF_COUNT,
		HV_X64_MSR_REFERENCE_TSC, HV_X64_MSR_TSC_FREQUENCY, HV_X64_MSR_APIC_FREQUENCY,
		HV_X64_MSR_VP_ASSIST_PAGE, HV_X64_MSR_SCONTROL, HV_X64_MSR_SVERSION,
		HV_X64_MSR_SIEFP, HV_X64_MSR_SIMP, HV_X64_MSR_EOM, HV_X64_MSR_SINT0 + 2,
		HV_X64_MSR_STIMER0_CONFIG, HV_X64_MSR_STIMER0_COUNT + 6, HV_X64_MSR_GUEST_IDLE,
		HV_X64_MSR_CRASH_P0, HV_X64_MSR_CRASH_CTL, HV_X64_MSR_TSC_INVARIANT_CONTROL,
	};

	for (size_t i = 0; i < sizeof(msrs) / sizeof(msrs[0]); i++) {
		gp_read(h, 0, msrs[i]);
		gp_write(h, 0, msrs[i], 0);
	}
	/* What every Hyper-V partition has. */
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_VP_INDEX), 0);
	wrmsr_ok(h, 0, HV_X64_MSR_GUEST_OS_ID, 1);
	wrmsr_ok(h, 0, HV_X64_MSR_HYPERCALL, 0x1001);
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_HYPERCALL), 0x1001);
	fake_teardown(h);

	/* stimer without stimer-direct: direct mode is refused. */
	h = fake_setup(B(VPINDEX) | B(SYNIC) | B(TIME) | B(STIMER), 1, FAKE_TSC_HZ);
	gp_write(h, 0, HV_X64_MSR_STIMER0_CONFIG, HV_STIMER_DIRECT_MODE | (0xed << 4));
	wrmsr_ok(h, 0, HV_X64_MSR_STIMER0_CONFIG, 2ull << 16);
	fake_teardown(h);

	/* off: nothing at all. */
	h = fake_setup(0, 1, FAKE_TSC_HZ);
	gp_read(h, 0, HV_X64_MSR_GUEST_OS_ID);
	gp_write(h, 0, HV_X64_MSR_GUEST_OS_ID, 1);
	gp_read(h, 0, HV_X64_MSR_VP_INDEX);
	fake_teardown(h);
}

int main(void)
{
	test_range();
	test_hypercall_page();
	test_vp_index_runtime_frequencies();
	test_reference_time();
	test_vp_assist();
	test_reset_idle_invariant();
	test_crash();
	test_unknown_and_reserved();
	test_disabled_features();
	return unit_done("test_hv_msr");
}
