/* xAPIC register access and the INIT-SIPI-SIPI sequence of the MP start-up protocol (Intel SDM
 * vol. 3, "MP initialization"); the APs' side is trampoline.S and entry.S. */
#include "smp.h"

#include "guest.h"
#include "io.h"
#include "timer.h"
#include "trap.h"

extern const char ap_trampoline_start[], ap_trampoline_end[];
void smp_ap_main(unsigned ticket);

static ap_main_fn volatile ap_main;

uint32_t lapic_read(uint32_t reg)
{
	return mmio_read32(LAPIC_BASE + reg);
}

void lapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(LAPIC_BASE + reg, v);
}

uint32_t lapic_id(void)
{
	return lapic_read(LAPIC_ID) >> 24;
}

void lapic_enable(void)
{
	lapic_write(LAPIC_SVR, SVR_APIC_ENABLE | 0xff);
}

int lapic_send_ipi(uint32_t apic_id, uint32_t icr_lo)
{
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, icr_lo);
	for (unsigned i = 0; i < 100000; i++) {
		if (!(lapic_read(LAPIC_ICR_LO) & ICR_BUSY))
			return 0;
		cpu_relax();
	}
	return -1;
}

int smp_start_aps(const uint32_t *apic_ids, unsigned n, ap_main_fn fn)
{
	size_t len = (size_t)(ap_trampoline_end - ap_trampoline_start);
	uint32_t vector = AP_TRAMPOLINE_ADDR >> 12;
	int failed = 0;

	if (len > AP_TRAMPOLINE_MAX)
		guest_fail("AP trampoline too large (%zu bytes)", len);
	memcpy((void *)(uintptr_t)AP_TRAMPOLINE_ADDR, ap_trampoline_start, len);
	ap_main = fn;
	__asm__ volatile("mfence" ::: "memory");

	lapic_enable();
	for (unsigned i = 0; i < n; i++)
		if (lapic_send_ipi(apic_ids[i], ICR_INIT | ICR_LEVEL_ASSERT))
			failed++;
	udelay(10000);
	for (int round = 0; round < 2; round++) {
		for (unsigned i = 0; i < n; i++)
			if (lapic_send_ipi(apic_ids[i], ICR_STARTUP | ICR_LEVEL_ASSERT | vector))
				failed++;
		udelay(200);
	}
	return failed;
}

/* Called from entry.S on each AP, on its own stack. */
void smp_ap_main(unsigned ticket)
{
	trap_load();
	if (ap_main)
		ap_main(ticket);
	cpu_halt_forever();
}
