/* Time for the test guests from the ACPI PM timer (3.579545 MHz; port found in the FADT). */
#ifndef GUEST_TIMER_H
#define GUEST_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#define PM_TIMER_HZ 3579545u

/* port 0: no PM timer; then time advances by a guess per poll (port 0x80 write). */
void timer_init(uint16_t pm_tmr_port, bool ext32);
bool timer_has_pm(void);
uint32_t timer_read_raw(void);
/* Microseconds since timer_init. BSP only; call at least every 4 s (the 24-bit counter wraps). */
uint64_t timer_now_us(void);
void udelay(uint64_t us);

#endif
