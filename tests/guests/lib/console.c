/* The test guests' console: formatted output to COM1, one CPU at a time. */
#include "guest.h"

#include "io.h"
#include "uart.h"

/* Bounded, so a CPU that faults while printing cannot wedge the failure report. */
#define LOCK_SPIN_LIMIT 50000000u

static struct spinlock con_lock;

void spin_lock(struct spinlock *l)
{
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (l->locked)
			cpu_relax();
}

void spin_unlock(struct spinlock *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

static bool con_lock_bounded(void)
{
	for (unsigned i = 0; i < LOCK_SPIN_LIMIT; i++) {
		if (!__atomic_exchange_n(&con_lock.locked, 1, __ATOMIC_ACQUIRE))
			return true;
		cpu_relax();
	}
	return false;
}

static void write_raw(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n')
			uart_putc('\r');
		uart_putc(s[i]);
	}
}

void con_write(const char *s, size_t len)
{
	bool locked = con_lock_bounded();

	write_raw(s, len);
	if (locked)
		spin_unlock(&con_lock);
}

int con_vprintf(const char *fmt, va_list ap)
{
	char buf[512];
	int n = fmt_vsnprintf(buf, sizeof(buf), fmt, ap);

	con_write(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	return n;
}

int con_printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = con_vprintf(fmt, ap);
	va_end(ap);
	return n;
}
