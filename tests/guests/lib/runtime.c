/* Start of the test guests on the BSP (after entry.S reached long mode): console, IDT, ACPI
 * power/timer ports, then test_main; check lines, exit through the debug-exit port. */
#include "guest.h"

#include "io.h"
#include "power.h"
#include "timer.h"
#include "trap.h"
#include "uart.h"

void runtime_start_bsp(void);

static unsigned failed;

bool check(bool cond, const char *fmt, ...)
{
	char buf[400];
	va_list ap;

	va_start(ap, fmt);
	fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	con_printf("%s %s\n", cond ? "ok" : "not ok", buf);
	if (!cond)
		__atomic_add_fetch(&failed, 1, __ATOMIC_SEQ_CST);
	return cond;
}

unsigned checks_failed(void)
{
	return __atomic_load_n(&failed, __ATOMIC_SEQ_CST);
}

void guest_exit(uint32_t code)
{
	uart_flush();
	outl(GUEST_EXIT_PORT, code);
	/* No debug-exit device: at least stop the machine. */
	power_off();
	cpu_halt_forever();
}

void guest_fail(const char *fmt, ...)
{
	char buf[400];
	va_list ap;

	va_start(ap, fmt);
	fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	con_printf("not ok %s\n", buf);
	con_printf("hvkvm-test %s: FAIL\n", test_name);
	guest_exit(GUEST_FAIL);
}

void runtime_start_bsp(void)
{
	const struct acpi_pm *pm;

	uart_init();
	trap_init();
	con_printf("hvkvm-test %s: start\n", test_name);
	power_init();
	pm = power_pm();
	timer_init(pm->pm_tmr, pm->tmr_32bit);
	test_main();
	if (checks_failed()) {
		con_printf("hvkvm-test %s: FAIL (%u checks failed)\n", test_name, checks_failed());
		guest_exit(GUEST_FAIL);
	}
	con_printf("hvkvm-test %s: PASS\n", test_name);
	guest_exit(GUEST_PASS);
}
