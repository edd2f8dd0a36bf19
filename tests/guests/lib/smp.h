/* Local APIC (xAPIC MMIO) access and application-processor bring-up by INIT-SIPI-SIPI. */
#ifndef GUEST_SMP_H
#define GUEST_SMP_H

#include <stdint.h>

#define LAPIC_BASE 0xfee00000u
#define LAPIC_ID 0x020
#define LAPIC_VERSION 0x030
#define LAPIC_TPR 0x080
#define LAPIC_EOI 0x0b0
#define LAPIC_SVR 0x0f0
#define LAPIC_ESR 0x280
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0

#define SVR_APIC_ENABLE 0x100
#define ICR_INIT 0x00000500u
#define ICR_STARTUP 0x00000600u
#define ICR_LEVEL_ASSERT 0x00004000u
#define ICR_BUSY 0x00001000u /* delivery status: send pending */

uint32_t lapic_read(uint32_t reg);
void lapic_write(uint32_t reg, uint32_t v);
uint32_t lapic_id(void);
/* Software-enables the calling CPU's LAPIC (SVR), spurious vector 0xff. */
void lapic_enable(void);
/* Writes ICR for one destination APIC ID and waits (bounded) for the send; 0 or -1 if stuck. */
int lapic_send_ipi(uint32_t apic_id, uint32_t icr_lo);

typedef void (*ap_main_fn)(unsigned ticket);

/* Copies the trampoline to AP_TRAMPOLINE_ADDR and wakes each listed APIC ID with INIT, then two
 * SIPIs. Each AP arrives in long mode on its own stack with the IDT loaded and calls fn(ticket),
 * ticket 1..MAX_CPUS-1 in arrival order; when fn returns the AP halts. Returns the number of IPI
 * sequences that could not be sent. BSP only. */
int smp_start_aps(const uint32_t *apic_ids, unsigned n, ap_main_fn fn);

#endif
