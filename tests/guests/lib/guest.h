/* The test guests' runtime: console output, check lines ("ok ..." / "not ok ..."), exit codes,
 * freestanding string helpers. A guest defines test_name and test_main(). */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Defined by each guest. test_main runs on the BSP after the runtime is up; when it returns the
 * guest exits with GUEST_PASS if every check passed, GUEST_FAIL otherwise. */
extern const char test_name[];
void test_main(void);

/* Console on COM1 (polled), serialised between CPUs. Each '\n' goes out as "\r\n". */
int con_printf(const char *fmt, ...) PRINTF_LIKE(1, 2);
int con_vprintf(const char *fmt, va_list ap);
void con_write(const char *s, size_t len);

/* Prints "ok <what>" or "not ok <what>" and counts failures; returns cond. */
bool check(bool cond, const char *fmt, ...) PRINTF_LIKE(2, 3);
unsigned checks_failed(void);

/* Ends the VM through the debug-exit port (status (code << 1) | 1); falls back to ACPI
 * poweroff, then halts. */
void guest_exit(uint32_t code) NORETURN;
/* "not ok <msg>", then exit with GUEST_FAIL. */
void guest_fail(const char *fmt, ...) PRINTF_LIKE(1, 2) NORETURN;

int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int fmt_snprintf(char *buf, size_t size, const char *fmt, ...) PRINTF_LIKE(3, 4);

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* A spinlock good enough for a console shared by a few CPUs. */
struct spinlock {
	volatile uint32_t locked;
};
void spin_lock(struct spinlock *l);
void spin_unlock(struct spinlock *l);

#endif
