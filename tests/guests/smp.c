/* Test guest: counts the CPUs in the ACPI MADT, wakes every AP with INIT-SIPI-SIPI and checks each
 * one arrives in long mode, reports its APIC ID, and bumps a shared counter. */
#include "acpi.h"
#include "guest.h"
#include "io.h"
#include "multiboot.h"
#include "smp.h"
#include "timer.h"

/* Cmdline: cpus=<N> (the runner's --cpus, cross-checked against the MADT). */
#define ARRIVAL_TIMEOUT_US 5000000

const char test_name[] = "smp";

static uint32_t arrived;
static uint32_t ap_apic_id[MAX_CPUS];

static void ap_main(unsigned ticket)
{
	uint32_t a, b, c, d, id = lapic_id();
	bool long_mode = rdmsr(MSR_EFER) & EFER_LMA;

	cpuid(1, 0, &a, &b, &c, &d);
	check(long_mode && (b >> 24) == id, "ap %u: APIC ID %u (CPUID initial APIC ID %u), long mode %s",
	      ticket, id, b >> 24, long_mode ? "on" : "off");
	ap_apic_id[ticket] = id;
	__atomic_add_fetch(&arrived, 1, __ATOMIC_SEQ_CST);
}

void test_main(void)
{
	uint32_t ids[MAX_CPUS], aps[MAX_CPUS], bsp = lapic_id();
	long want = cmdline_int("cpus", -1);
	int n = acpi_madt_cpus(ids, MAX_CPUS);
	unsigned n_aps = 0, got;
	bool bsp_listed = false;
	uint64_t start, waited;

	if (!check(n > 0, "MADT lists %d enabled CPUs", n))
		return;
	if (!check(n <= MAX_CPUS, "at most %d CPUs", MAX_CPUS))
		return;
	if (want > 0)
		check(n == want, "MADT CPU count matches cpus=%ld", want);
	for (int i = 0; i < n; i++) {
		if (ids[i] == bsp)
			bsp_listed = true;
		else
			aps[n_aps++] = ids[i];
	}
	check(bsp_listed, "BSP APIC ID %u is in the MADT", bsp);
	check((lapic_read(LAPIC_VERSION) & 0xff) >= 0x10, "integrated LAPIC (version %#x)",
	      lapic_read(LAPIC_VERSION));

	start = timer_now_us();
	check(smp_start_aps(aps, n_aps, ap_main) == 0, "INIT and SIPIs sent to %u APs", n_aps);
	do {
		got = __atomic_load_n(&arrived, __ATOMIC_SEQ_CST);
		waited = timer_now_us() - start;
	} while (got < n_aps && waited < ARRIVAL_TIMEOUT_US);
	if (!check(got == n_aps, "%u of %u APs arrived (%lu ms)", got, n_aps, waited / 1000))
		return;

	/* Every AP that arrived is one the MADT named, and none came twice. */
	bool distinct = true;

	for (unsigned t = 1; t <= n_aps; t++) {
		bool listed = false;

		for (unsigned i = 0; i < n_aps; i++)
			listed |= ap_apic_id[t] == aps[i];
		for (unsigned u = 1; u < t; u++)
			distinct &= ap_apic_id[u] != ap_apic_id[t];
		distinct &= listed;
	}
	check(distinct, "AP APIC IDs are distinct and match the MADT");
	check(n_aps + 1 == (unsigned)n, "all %d cpus up", n);
}
