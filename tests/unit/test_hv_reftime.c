/* Unit tests for reference time: the TSC page scale for TSC frequencies from 1 MHz to 10 GHz,
 * ref(tsc_hz * s) == 10^7 * s within one tick up to a year without overflow, TIME_REF_COUNT equal
 * to the page formula (so it always lies between page reads around it), sequence handling. */
#include <string.h>

#include "hv-enlight/partition.h"
#include "test_hv_fake.h"

#define YEAR 31536000ull
#define PAGE 0x8000ull

static uint64_t page_ref(struct fake_host *h, uint64_t tsc)
{
	struct ms_hyperv_tsc_page pg;

	memcpy(&pg, h->ram + PAGE, sizeof(pg));
	CHECK(pg.tsc_sequence != 0);
	return (uint64_t)(((unsigned __int128)tsc * pg.tsc_scale) >> 64) + (uint64_t)pg.tsc_offset;
}

static void check_close(uint64_t got, uint64_t want, uint64_t hz, uint64_t s)
{
	unit_checks++;
	if (got > want || want - got > 1) {
		unit_failures++;
		fprintf(stderr, "tsc_hz %llu, %llu s: ref %llu, want %llu (within 1)\n",
			(unsigned long long)hz, (unsigned long long)s, (unsigned long long)got,
			(unsigned long long)want);
	}
}

static void test_frequencies(void)
{
	static const uint64_t hz[] = {
		1000000, 1500000, 3579545, 9999999, 10000000, 10000001, 33333333, 100000000,
		999999937, 1000000000, 1800000000, 2500000000ull, 2999999999ull, 3700000000ull,
		5000000000ull, 9999999967ull, 10000000000ull,
	};
	static const uint64_t secs[] = { 0, 1, 2, 7, 60, 3600, 86400, 86400 * 30, YEAR - 1, YEAR };

	for (size_t i = 0; i < sizeof(hz) / sizeof(hz[0]); i++) {
		struct fake_host *h = fake_setup(hv_features_default(), 1, hz[i]);
		bool page = hz[i] >= 10000000;
		uint32_t r[4];

		CHECK(hv_cpuid_leaf(h->p, 0x40000003, r));
		CHECK_EQ(!!(r[0] & (1u << 9)), page);
		if (page) {
			wrmsr_ok(h, 0, HV_X64_MSR_REFERENCE_TSC, PAGE | 1);
		} else {
			CHECK_EQ(hv_msr_write(h->p, 0, HV_X64_MSR_REFERENCE_TSC, PAGE | 1), -EPERM);
			CHECK_EQ(hv_ref_tsc_scale(hz[i]), 0);
		}
		for (size_t j = 0; j < sizeof(secs) / sizeof(secs[0]); j++) {
			uint64_t msr;

			h->tsc = hz[i] * secs[j];
			msr = rdmsr_ok(h, 0, HV_X64_MSR_TIME_REF_COUNT);
			check_close(msr, 10000000 * secs[j], hz[i], secs[j]);
			if (page) {
				CHECK_EQ(page_ref(h, h->tsc), msr);
				check_close(page_ref(h, h->tsc), 10000000 * secs[j], hz[i], secs[j]);
			}
		}
		fake_teardown(h);
	}
}

static void test_scale(void)
{
	CHECK_EQ(hv_ref_tsc_scale(1000000), 0);
	CHECK_EQ(hv_ref_tsc_scale(9999999), 0);
	CHECK_EQ(hv_ref_tsc_scale(10000000), UINT64_MAX);
	CHECK_EQ(hv_ref_tsc_scale(20000000), 1ull << 63);
	CHECK_EQ(hv_ref_tsc_scale(40000000), 1ull << 62);
	CHECK_EQ(hv_ref_tsc_scale(10000000000ull),
		 (uint64_t)(((unsigned __int128)10000000 << 64) / 10000000000ull));
}

/* TIME_REF_COUNT between two page reads around it, over many TSC values. */
static void test_msr_between_page_reads(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 1, 2893456789ull);
	uint64_t tsc = 12345, x = 88172645463325252ull;

	wrmsr_ok(h, 0, HV_X64_MSR_REFERENCE_TSC, PAGE | 1);
	for (unsigned i = 0; i < 20000; i++) {
		uint64_t before, msr, after;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		before = page_ref(h, tsc);
		tsc += x % 5000000;
		h->tsc = tsc;
		msr = rdmsr_ok(h, 0, HV_X64_MSR_TIME_REF_COUNT);
		tsc += x % 3;
		after = page_ref(h, tsc);
		if (before > msr || msr > after) {
			CHECK(before <= msr && msr <= after);
			break;
		}
	}
	/* Huge TSC values: no overflow in the 128-bit product. */
	h->tsc = UINT64_MAX;
	CHECK_EQ(rdmsr_ok(h, 0, HV_X64_MSR_TIME_REF_COUNT), page_ref(h, UINT64_MAX));
	CHECK(page_ref(h, UINT64_MAX) > 63000000000000000ull);
	fake_teardown(h);
}

static void test_sequence(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 1, FAKE_TSC_HZ);
	uint32_t seq, prev = 0;

	for (unsigned i = 0; i < 5; i++) {
		wrmsr_ok(h, 0, HV_X64_MSR_REFERENCE_TSC, PAGE | 1);
		memcpy(&seq, h->ram + PAGE, 4);
		CHECK(seq != 0 && seq != 0xffffffffu && seq != prev);
		prev = seq;
	}
	fake_teardown(h);
}

int main(void)
{
	test_scale();
	test_frequencies();
	test_msr_between_page_reads();
	test_sequence();
	return unit_done("test_hv_reftime");
}
