/* Test guest: resets the machine when the command line asks, by the i8042 pulse (reset or
 * reset=kbd) or the FADT reset register (reset=acpi); without the flag it only passes. */
#include "guest.h"
#include "multiboot.h"
#include "power.h"

const char test_name[] = "reset";

void test_main(void)
{
	char how[16] = "kbd";

	if (!cmdline_flag("reset")) {
		con_printf("reset: not asked to reset\n");
		return;
	}
	cmdline_value("reset", how, sizeof(how));
	if (!strcmp(how, "acpi")) {
		const struct acpi_pm *pm = power_pm();

		if (!pm->reset_supported) {
			con_printf("reset: skip: the FADT has no reset register\n");
			return;
		}
		con_printf("reset: resetting through the FADT reset register (space %u, %#lx <- %#x)\n",
			   pm->reset_space, pm->reset_addr, pm->reset_value);
		reset_acpi();
	} else {
		con_printf("reset: resetting through the i8042 (0xfe to port 0x64)\n");
		reset_i8042();
	}
	guest_fail("still running 1 s after the reset request");
}
