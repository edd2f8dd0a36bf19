/* MC146818 CMOS RTC (see rtc.h), after the MC146818A datasheet: clock registers 0-9 and the
 * century byte computed from host UTC plus an offset, registers A-D, the rest plain RAM. */
#include "emulated/rtc.h"

#include <string.h>

enum {
	REG_SEC = 0x00,
	REG_SEC_ALARM = 0x01,
	REG_MIN = 0x02,
	REG_MIN_ALARM = 0x03,
	REG_HOUR = 0x04,
	REG_HOUR_ALARM = 0x05,
	REG_WDAY = 0x06,
	REG_MDAY = 0x07,
	REG_MON = 0x08,
	REG_YEAR = 0x09,
	REG_A = 0x0a,
	REG_B = 0x0b,
	REG_C = 0x0c,
	REG_D = 0x0d,
};

#define A_UIP 0x80    /* update in progress: never reported */
#define B_SET 0x80    /* updates frozen, clock being set */
#define B_UIE 0x10    /* update-ended interrupt enable (cleared when SET goes high) */
#define B_DM 0x04     /* 1: binary, 0: BCD */
#define B_24H 0x02    /* 1: 24-hour mode */
#define D_VRT 0x80    /* valid RAM and time */
#define HOUR_PM 0x80  /* 12-hour mode */

#define INDEX_MASK 0x7f /* bit 7 of the index write is the NMI mask: ignored */

static time_t host_time(void)
{
	return time(NULL);
}

static bool binary(const struct rtc *r)
{
	return r->cmos[REG_B] & B_DM;
}

static uint8_t encode(const struct rtc *r, int v)
{
	return binary(r) ? (uint8_t)v : (uint8_t)(((v / 10) << 4) | (v % 10));
}

/* Guest-written values are not checked for valid BCD: out-of-range fields are normalised by
 * timegm when the clock is started again. */
static int decode(const struct rtc *r, uint8_t v)
{
	return binary(r) ? v : (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t encode_hour(const struct rtc *r, int hour)
{
	int h12;

	if (r->cmos[REG_B] & B_24H)
		return encode(r, hour);
	h12 = hour % 12 == 0 ? 12 : hour % 12;
	return encode(r, h12) | (hour >= 12 ? HOUR_PM : 0);
}

static int decode_hour(const struct rtc *r, uint8_t v)
{
	int h;

	if (r->cmos[REG_B] & B_24H)
		return decode(r, v);
	h = decode(r, v & ~HOUR_PM) % 12;
	return v & HOUR_PM ? h + 12 : h;
}

/* The clock as the guest sees it now, in binary fields. */
static void current(const struct rtc *r, struct rtc_frozen *f)
{
	time_t t;
	struct tm tm;

	if (r->cmos[REG_B] & B_SET) {
		*f = r->frozen;
		return;
	}
	t = r->now() + r->offset;
	gmtime_r(&t, &tm);
	*f = (struct rtc_frozen){
		.sec = tm.tm_sec,
		.min = tm.tm_min,
		.hour = tm.tm_hour,
		.wday = tm.tm_wday + 1, /* 1 = Sunday */
		.mday = tm.tm_mday,
		.mon = tm.tm_mon + 1,
		.year = (tm.tm_year + 1900) % 100,
		.century = (tm.tm_year + 1900) / 100,
	};
}

/* Restarts the clock from f: the guest's time becomes an offset from the host's. */
static void start_from(struct rtc *r, const struct rtc_frozen *f)
{
	struct tm tm = {
		.tm_sec = f->sec,
		.tm_min = f->min,
		.tm_hour = f->hour,
		.tm_mday = f->mday,
		.tm_mon = f->mon - 1,
		.tm_year = f->century * 100 + f->year - 1900,
	};
	time_t t = timegm(&tm);

	if (t != (time_t)-1)
		r->offset = (int64_t)t - (int64_t)r->now();
}

static uint8_t read_clock(const struct rtc *r, unsigned reg)
{
	struct rtc_frozen f;

	current(r, &f);
	switch (reg) {
	case REG_SEC:
		return encode(r, f.sec);
	case REG_MIN:
		return encode(r, f.min);
	case REG_HOUR:
		return encode_hour(r, f.hour);
	case REG_WDAY:
		return encode(r, f.wday);
	case REG_MDAY:
		return encode(r, f.mday);
	case REG_MON:
		return encode(r, f.mon);
	case REG_YEAR:
		return encode(r, f.year);
	default:
		return encode(r, f.century);
	}
}

static void write_clock(struct rtc *r, unsigned reg, uint8_t v)
{
	struct rtc_frozen f;

	current(r, &f);
	switch (reg) {
	case REG_SEC:
		f.sec = decode(r, v & 0x7f);
		break;
	case REG_MIN:
		f.min = decode(r, v);
		break;
	case REG_HOUR:
		f.hour = decode_hour(r, v);
		break;
	case REG_WDAY:
		f.wday = decode(r, v);
		break;
	case REG_MDAY:
		f.mday = decode(r, v);
		break;
	case REG_MON:
		f.mon = decode(r, v);
		break;
	case REG_YEAR:
		f.year = decode(r, v);
		break;
	default:
		f.century = decode(r, v);
		break;
	}
	if (r->cmos[REG_B] & B_SET)
		r->frozen = f;
	else
		start_from(r, &f); /* written while running: takes effect at once */
}

static bool is_clock(unsigned reg)
{
	return (reg <= REG_YEAR && reg != REG_SEC_ALARM && reg != REG_MIN_ALARM &&
		reg != REG_HOUR_ALARM) || reg == RTC_REG_CENTURY;
}

static uint8_t read_reg(struct rtc *r, unsigned reg)
{
	if (is_clock(reg))
		return read_clock(r, reg);
	switch (reg) {
	case REG_A:
		return r->cmos[REG_A] & ~A_UIP; /* never mid-update: the registers are computed */
	case REG_C:
		return 0; /* no interrupt flags: periodic, alarm and update interrupts are off */
	case REG_D:
		return D_VRT;
	default:
		return r->cmos[reg];
	}
}

static void write_b(struct rtc *r, uint8_t v)
{
	bool was_set = r->cmos[REG_B] & B_SET;

	if ((v & B_SET) && !was_set) {
		current(r, &r->frozen);
		v &= ~B_UIE;
	}
	r->cmos[REG_B] = v;
	if (!(v & B_SET) && was_set)
		start_from(r, &r->frozen);
}

static void write_reg(struct rtc *r, unsigned reg, uint8_t v)
{
	if (is_clock(reg)) {
		write_clock(r, reg, v);
		return;
	}
	switch (reg) {
	case REG_A:
		r->cmos[REG_A] = v & ~A_UIP; /* divider and rate bits kept, unused */
		break;
	case REG_B:
		write_b(r, v);
		break;
	case REG_C:
	case REG_D:
		break; /* read-only */
	default:
		r->cmos[reg] = v;
	}
}

static int rtc_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	struct rtc *r = opaque;
	uint8_t *out = data;

	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < size; i++)
		/* The index port is write-only: it reads as a floating bus. */
		out[i] = offset + i == 1 ? read_reg(r, r->index) : 0xff;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static int rtc_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	struct rtc *r = opaque;
	const uint8_t *in = data;

	pthread_mutex_lock(&r->lock);
	/* A word write to the index port sets the index and then writes the data port. */
	for (unsigned i = 0; i < size; i++) {
		if (offset + i == 0)
			r->index = in[i] & INDEX_MASK;
		else if (offset + i == 1)
			write_reg(r, r->index, in[i]);
	}
	pthread_mutex_unlock(&r->lock);
	return 0;
}

const struct io_dev_ops rtc_ops = {
	.read = rtc_read,
	.write = rtc_write,
};

int rtc_init(struct rtc *r, time_t (*now)(void))
{
	int ret;

	memset(r, 0, sizeof(*r));
	ret = pthread_mutex_init(&r->lock, NULL);
	if (ret)
		return -ret;
	r->now = now ? now : host_time;
	r->cmos[REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz rate */
	r->cmos[REG_B] = B_24H; /* BCD, 24-hour */
	return 0;
}

void rtc_destroy(struct rtc *r)
{
	pthread_mutex_destroy(&r->lock);
}

void rtc_cmos_set(struct rtc *r, unsigned index, uint8_t value)
{
	if (index < RTC_CMOS_LEN && !is_clock(index) && index != REG_C && index != REG_D) {
		pthread_mutex_lock(&r->lock);
		r->cmos[index] = value;
		pthread_mutex_unlock(&r->lock);
	}
}
