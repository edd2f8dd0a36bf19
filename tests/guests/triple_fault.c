/* Test guest: loads an empty IDT and raises #UD; the exception cannot be delivered, so the CPU
 * shuts down (triple fault). The VMM should stop with a failure and a register dump. */
#include "guest.h"
#include "uart.h"

const char test_name[] = "triple_fault";

void test_main(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) empty = { 0, 0 };

	con_printf("triple_fault: loading an empty IDT, then ud2\n");
	uart_flush();
	__asm__ volatile("lidt %0; ud2" : : "m"(empty));
	guest_fail("survived a triple fault");
}
