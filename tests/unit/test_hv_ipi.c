/* Unit tests for HvCallSendSyntheticClusterIpi(Ex): off unless the ipi feature is on, fast and
 * slow forms, vector and VTL checks, sparse and all-VP sets, VPs past the last ignored. */
#include <string.h>

#include "test_hv_fake.h"

#define IN 0x3000ull
#define VARHEAD(qwords) ((uint64_t)(qwords) << 17)
#define FAST HV_HYPERCALL_FAST_BIT

static void test_ipi(void)
{
	struct fake_host *h = fake_setup(hv_features_default(), 70, FAKE_TSC_HZ);
	uint64_t ex[5];

	fake_enable_hypercalls(h);
	/* Not in the default set. */
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_SEND_IPI | FAST, 0x40, 1), HV_STATUS_INVALID_HYPERCALL_CODE);
	fake_teardown(h);

	h = fake_setup(hv_features_default() | HV_FEATURE_BIT(HV_FEAT_IPI), 70, FAKE_TSC_HZ);
	fake_enable_hypercalls(h);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_SEND_IPI | FAST, 0x40, 0x5 | (1ull << 63)),
		 HV_STATUS_SUCCESS);
	CHECK_EQ(h->nirqs, 3);
	CHECK_EQ(h->irqs[0].apic_id, 0);
	CHECK_EQ(h->irqs[1].apic_id, 2);
	CHECK_EQ(h->irqs[2].apic_id, 63);
	CHECK_EQ(h->irqs[2].vector, 0x40);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_SEND_IPI | FAST, 0x0f, 1), HV_STATUS_INVALID_PARAMETER);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_SEND_IPI | FAST, 0x100, 1), HV_STATUS_INVALID_PARAMETER);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_SEND_IPI | FAST, 0x40 | (1ull << 32), 1),
		 HV_STATUS_INVALID_PARAMETER); /* target VTL 1 */
	CHECK_EQ(h->nirqs, 3);
	ex[0] = 0x41;
	ex[1] = 2;
	memcpy(h->ram + IN, ex, 16);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_SEND_IPI, IN, 0), HV_STATUS_SUCCESS);
	CHECK_EQ(h->nirqs, 4);
	CHECK_EQ(h->irqs[3].apic_id, 1);
	/* Ex: all VPs. */
	ex[0] = 0x42;
	ex[1] = HV_GENERIC_SET_ALL;
	ex[2] = 0;
	memcpy(h->ram + IN, ex, 24);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_SEND_IPI_EX, IN, 0), HV_STATUS_SUCCESS);
	CHECK_EQ(h->nirqs, 74);
	/* Ex: sparse, banks 0 and 1 (VPs 3 and 64+5), bank 1's VP 64+10 does not exist. */
	h->nirqs = 0;
	ex[1] = HV_GENERIC_SET_SPARSE_4K;
	ex[2] = 3;
	ex[3] = 1ull << 3;
	ex[4] = (1ull << 5) | (1ull << 10);
	memcpy(h->ram + IN, ex, 40);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_SEND_IPI_EX | VARHEAD(2), IN, 0), HV_STATUS_SUCCESS);
	CHECK_EQ(h->nirqs, 2);
	CHECK_EQ(h->irqs[0].apic_id, 3);
	CHECK_EQ(h->irqs[1].apic_id, 69);
	/* Fewer bank words than banks, bad format, fast form (24-byte header). */
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_SEND_IPI_EX | VARHEAD(1), IN, 0),
		 HV_STATUS_INVALID_PARAMETER);
	ex[1] = 7;
	memcpy(h->ram + IN, ex, 40);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_SEND_IPI_EX | VARHEAD(2), IN, 0),
		 HV_STATUS_INVALID_PARAMETER);
	CHECK_EQ(fake_hypercall(h, 0, HVCALL_SEND_IPI_EX | FAST, 0x42, 1),
		 HV_STATUS_INVALID_HYPERCALL_INPUT);
	CHECK_EQ(h->nirqs, 2);
	fake_teardown(h);
}

int main(void)
{
	test_ipi();
	return unit_done("test_hv_ipi");
}
