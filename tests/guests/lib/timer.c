/* Monotonic microseconds from the ACPI PM timer (ACPI spec, "Power Management Timer"), with the
 * 24- or 32-bit counter's wrap folded into a 64-bit tick count. */
#include "timer.h"

#include "io.h"

static uint16_t tmr_port;
static uint32_t tmr_mask;
static uint32_t last_raw;
static uint64_t ticks;

void timer_init(uint16_t pm_tmr_port, bool ext32)
{
	tmr_port = pm_tmr_port;
	tmr_mask = ext32 ? 0xffffffffu : 0x00ffffffu;
	ticks = 0;
	if (tmr_port)
		last_raw = inl(tmr_port) & tmr_mask;
}

bool timer_has_pm(void)
{
	return tmr_port != 0;
}

uint32_t timer_read_raw(void)
{
	return tmr_port ? inl(tmr_port) & tmr_mask : 0;
}

uint64_t timer_now_us(void)
{
	if (!tmr_port) {
		/* No timer: an I/O exit takes about a microsecond or (much) more; err long. */
		outb(0x80, 0);
		ticks += 4;
		return ticks;
	}
	uint32_t raw = inl(tmr_port) & tmr_mask;

	ticks += (raw - last_raw) & tmr_mask;
	last_raw = raw;
	return ticks * 1000000u / PM_TIMER_HZ;
}

void udelay(uint64_t us)
{
	uint64_t end = timer_now_us() + us;

	while (timer_now_us() < end)
		cpu_relax();
}
