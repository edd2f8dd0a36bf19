/* Test guest: powers the machine off through PM1a_CNT (SLP_TYP of \_S5, SLP_EN) as the FADT and
 * DSDT describe it; the VMM should end with status 0. */
#include "guest.h"
#include "power.h"

const char test_name[] = "poweroff";

void test_main(void)
{
	const struct acpi_pm *pm = power_pm();

	check(pm->pm1a_cnt != 0, "FADT names PM1a_CNT (%#x)", pm->pm1a_cnt);
	check(pm->s5_known, "DSDT has \\_S5 (SLP_TYP %u)", pm->s5_slp_typ);
	con_printf("poweroff: writing %#x to port %#x\n", power_s5_value(), power_pm1a_cnt_port());
	power_off();
	guest_fail("still running 1 s after the poweroff write");
}
