/* Benchmark guest: the cost of a bare port-I/O exit round trip (guest OUT to a port the VMM
 * serves in userspace, back into the guest), timed by the ACPI PM timer. cmdline: count=N. */
#include "guest.h"
#include "io.h"
#include "multiboot.h"
#include "timer.h"

const char test_name[] = "pio_exit";

#define BATCH 1000
#define BENCH_PORT 0x80 /* the POST port: a VMM serves it in userspace and ignores the value */

void test_main(void)
{
	long count = cmdline_int("count", 100000);
	uint64_t start, elapsed_us;

	for (long i = 0; i < BATCH; i++) /* warm-up */
		outb(BENCH_PORT, 0);
	start = timer_now_us();
	for (long done = 0; done < count; done += BATCH) {
		for (long i = 0; i < BATCH; i++)
			outb(BENCH_PORT, 0);
		(void)timer_now_us(); /* keeps the 24-bit PM timer from wrapping unseen */
	}
	elapsed_us = timer_now_us() - start;
	con_printf("pio-exit: %ld exits in %lu us: %lu ns each\n", count, (unsigned long)elapsed_us,
		   (unsigned long)(elapsed_us * 1000 / (uint64_t)count));
}
