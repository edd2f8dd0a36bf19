/* MC146818 CMOS real-time clock and RAM at ports 0x70 (index) and 0x71 (data), after the
 * Motorola MC146818A datasheet; the clock is the host's UTC wall time plus a guest-set offset. */
#ifndef HVKVM_RTC_H
#define HVKVM_RTC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "io_bus.h"

#define RTC_WINDOW_LEN 2
#define RTC_CMOS_LEN 128
/* Register 0x32 holds the century, as the ACPI FADT's CENTURY field names it. */
#define RTC_REG_CENTURY 0x32

/* The clock registers while SET (register B bit 7) freezes them, in binary. */
struct rtc_frozen {
	int sec, min, hour, wday, mday, mon, year, century;
};

struct rtc {
	pthread_mutex_t lock; /* everything below */
	time_t (*now)(void);
	uint8_t index;
	uint8_t cmos[RTC_CMOS_LEN]; /* RAM, alarms, registers A and B (clock bytes unused) */
	int64_t offset;              /* guest clock minus host clock, seconds */
	struct rtc_frozen frozen;    /* valid while register B has SET */
};

/* now: the host clock (NULL: time()). Returns 0 or -errno. */
__attribute__((warn_unused_result))
int rtc_init(struct rtc *r, time_t (*now)(void));
void rtc_destroy(struct rtc *r);

/* Board setup: plain CMOS RAM bytes (e.g. memory sizes for a BIOS). index < RTC_CMOS_LEN. */
void rtc_cmos_set(struct rtc *r, unsigned index, uint8_t value);

/* Window of RTC_WINDOW_LEN ports: index, data. Only registers A-D are emulated as status:
 * register C reads 0 because periodic, alarm and update interrupts are not provided. */
extern const struct io_dev_ops rtc_ops;

#endif
