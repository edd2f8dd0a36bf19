/* ACPI soft-off (PM1a_CNT: SLP_TYP of \_S5 with SLP_EN), i8042 pulse reset and the FADT reset
 * register. */
#include "power.h"

#include "guest.h"
#include "io.h"
#include "timer.h"
#include "uart.h"

static struct acpi_pm pm;

void power_init(void)
{
	acpi_pm_info(&pm);
}

const struct acpi_pm *power_pm(void)
{
	return &pm;
}

uint16_t power_pm1a_cnt_port(void)
{
	return pm.pm1a_cnt ? pm.pm1a_cnt : FALLBACK_PM1A_CNT;
}

uint16_t power_s5_value(void)
{
	uint16_t typ = pm.s5_known ? pm.s5_slp_typ : FALLBACK_SLP_TYP_S5;

	return (uint16_t)((typ & 7) << PM1_SLP_TYP_SHIFT) | PM1_SLP_EN;
}

void power_off(void)
{
	uart_flush();
	outw(power_pm1a_cnt_port(), power_s5_value());
	udelay(1000000);
}

void reset_i8042(void)
{
	uart_flush();
	outb(I8042_CMD, I8042_RESET);
	udelay(1000000);
}

int reset_acpi(void)
{
	if (!pm.reset_supported || !pm.reset_addr)
		return -1;
	uart_flush();
	if (pm.reset_space == 1)
		outb((uint16_t)pm.reset_addr, pm.reset_value);
	else if (pm.reset_space == 0 && pm.reset_addr < 0x100000000ull)
		mmio_write8(pm.reset_addr, pm.reset_value);
	else
		return -1;
	udelay(1000000);
	return 0;
}
