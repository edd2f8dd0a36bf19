/* Test guest: ends the VM through the debug-exit port with a value of its own (42: status 85). */
#include "guest.h"
#include "io.h"
#include "uart.h"

const char test_name[] = "debug_exit";

void test_main(void)
{
	con_printf("debug_exit: writing 42 to port %#x\n", GUEST_EXIT_PORT);
	uart_flush();
	outl(GUEST_EXIT_PORT, 42);
	guest_fail("still running after the debug-exit write");
}
