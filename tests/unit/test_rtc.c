/* Unit tests for the MC146818 RTC: clock registers in BCD and binary, 12/24-hour, century,
 * registers A-D, SET-bit freeze and the guest-set offset, CMOS RAM. */
#include <string.h>

#include "emulated/rtc.h"
#include "unit.h"

/* 2024-02-29 23:59:58 UTC, a Thursday. */
#define T0 1709251198
static time_t fake_now_value = T0;

static time_t fake_now(void)
{
	return fake_now_value;
}

static uint8_t cmos_read(struct rtc *r, uint8_t index)
{
	uint8_t v = 0;

	CHECK_EQ(rtc_ops.write(r, 0, &index, 1), 0);
	CHECK_EQ(rtc_ops.read(r, 1, &v, 1), 0);
	return v;
}

static void cmos_write(struct rtc *r, uint8_t index, uint8_t v)
{
	CHECK_EQ(rtc_ops.write(r, 0, &index, 1), 0);
	CHECK_EQ(rtc_ops.write(r, 1, &v, 1), 0);
}

static void test_bcd_24h(void)
{
	struct rtc r;

	fake_now_value = T0;
	CHECK_EQ(rtc_init(&r, fake_now), 0);
	CHECK_EQ(cmos_read(&r, 0x0b), 0x02);
	CHECK_EQ(cmos_read(&r, 0x00), 0x58);
	CHECK_EQ(cmos_read(&r, 0x02), 0x59);
	CHECK_EQ(cmos_read(&r, 0x04), 0x23);
	CHECK_EQ(cmos_read(&r, 0x06), 0x05); /* Thursday; Sunday = 1 */
	CHECK_EQ(cmos_read(&r, 0x07), 0x29);
	CHECK_EQ(cmos_read(&r, 0x08), 0x02);
	CHECK_EQ(cmos_read(&r, 0x09), 0x24);
	CHECK_EQ(cmos_read(&r, RTC_REG_CENTURY), 0x20);
	/* Bit 7 of the index is the NMI mask, not part of the index. */
	CHECK_EQ(cmos_read(&r, 0x80 | 0x09), 0x24);
	fake_now_value = T0 + 2; /* 2024-03-01 00:00:00 */
	CHECK_EQ(cmos_read(&r, 0x00), 0x00);
	CHECK_EQ(cmos_read(&r, 0x07), 0x01);
	CHECK_EQ(cmos_read(&r, 0x08), 0x03);
	rtc_destroy(&r);
}

static void test_binary_12h(void)
{
	struct rtc r;

	fake_now_value = T0;
	CHECK_EQ(rtc_init(&r, fake_now), 0);
	cmos_write(&r, 0x0b, 0x04); /* binary, 12-hour */
	CHECK_EQ(cmos_read(&r, 0x00), 58);
	CHECK_EQ(cmos_read(&r, 0x04), 0x80 | 11); /* 11 PM */
	CHECK_EQ(cmos_read(&r, 0x09), 24);
	CHECK_EQ(cmos_read(&r, RTC_REG_CENTURY), 20);
	fake_now_value = T0 + 2; /* midnight: 12 AM */
	CHECK_EQ(cmos_read(&r, 0x04), 12);
	fake_now_value = T0 + 2 + 12 * 3600; /* noon: 12 PM */
	CHECK_EQ(cmos_read(&r, 0x04), 0x80 | 12);
	cmos_write(&r, 0x0b, 0x00); /* BCD 12-hour */
	CHECK_EQ(cmos_read(&r, 0x04), 0x80 | 0x12);
	fake_now_value = T0 - 11 * 3600; /* 12:59:58 PM */
	CHECK_EQ(cmos_read(&r, 0x04), 0x80 | 0x12);
	fake_now_value = T0 - 14 * 3600; /* 09:59:58 */
	CHECK_EQ(cmos_read(&r, 0x04), 0x09);
	rtc_destroy(&r);
}

static void test_status_registers(void)
{
	struct rtc r;
	uint8_t v = 0;

	CHECK_EQ(rtc_init(&r, NULL), 0); /* the host clock */
	CHECK_EQ(cmos_read(&r, 0x0a), 0x26);
	cmos_write(&r, 0x0a, 0xff);
	CHECK_EQ(cmos_read(&r, 0x0a), 0x7f); /* UIP never reads set */
	CHECK_EQ(cmos_read(&r, 0x0c), 0x00);
	cmos_write(&r, 0x0c, 0xff);
	CHECK_EQ(cmos_read(&r, 0x0c), 0x00);
	CHECK_EQ(cmos_read(&r, 0x0d), 0x80);
	cmos_write(&r, 0x0d, 0x00);
	CHECK_EQ(cmos_read(&r, 0x0d), 0x80);
	/* Plain RAM, alarms. */
	cmos_write(&r, 0x01, 0x33);
	CHECK_EQ(cmos_read(&r, 0x01), 0x33);
	cmos_write(&r, 0x7f, 0xa5);
	CHECK_EQ(cmos_read(&r, 0x7f), 0xa5);
	CHECK_EQ(cmos_read(&r, 0x14), 0x00);
	rtc_cmos_set(&r, 0x34, 0x12);
	CHECK_EQ(cmos_read(&r, 0x34), 0x12);
	/* The index port reads as a floating bus; a word write sets index and data. */
	CHECK_EQ(rtc_ops.read(&r, 0, &v, 1), 0);
	CHECK_EQ(v, 0xff);
	{
		uint8_t w[2] = {0x40, 0x77};

		CHECK_EQ(rtc_ops.write(&r, 0, w, 2), 0);
		CHECK_EQ(cmos_read(&r, 0x40), 0x77);
	}
	rtc_destroy(&r);
}

/* SET freezes the clock; the time written then runs on from there as an offset. */
static void test_set_offset(void)
{
	struct rtc r;

	fake_now_value = T0;
	CHECK_EQ(rtc_init(&r, fake_now), 0);
	cmos_write(&r, 0x0b, 0x82); /* SET, BCD, 24h */
	fake_now_value = T0 + 100;
	CHECK_EQ(cmos_read(&r, 0x00), 0x58); /* frozen */
	/* Set 1999-12-31 23:59:50: day first while the month is still February, as a guest
	 * may write fields in any order. */
	cmos_write(&r, 0x07, 0x31);
	cmos_write(&r, 0x08, 0x12);
	cmos_write(&r, 0x09, 0x99);
	cmos_write(&r, RTC_REG_CENTURY, 0x19);
	cmos_write(&r, 0x04, 0x23);
	cmos_write(&r, 0x02, 0x59);
	cmos_write(&r, 0x00, 0x50);
	CHECK_EQ(cmos_read(&r, 0x07), 0x31);
	CHECK_EQ(cmos_read(&r, 0x00), 0x50);
	cmos_write(&r, 0x0b, 0x02); /* run */
	CHECK_EQ(cmos_read(&r, 0x00), 0x50);
	fake_now_value += 15;
	CHECK_EQ(cmos_read(&r, 0x00), 0x05);
	CHECK_EQ(cmos_read(&r, 0x02), 0x00);
	CHECK_EQ(cmos_read(&r, 0x04), 0x00);
	CHECK_EQ(cmos_read(&r, 0x07), 0x01);
	CHECK_EQ(cmos_read(&r, 0x08), 0x01);
	CHECK_EQ(cmos_read(&r, 0x09), 0x00);
	CHECK_EQ(cmos_read(&r, RTC_REG_CENTURY), 0x20);
	CHECK_EQ(cmos_read(&r, 0x06), 0x07); /* 2000-01-01 was a Saturday */
	/* A field written while running takes effect at once. */
	cmos_write(&r, 0x09, 0x05);
	CHECK_EQ(cmos_read(&r, 0x09), 0x05);
	CHECK_EQ(cmos_read(&r, 0x00), 0x05);
	/* SET clears UIE; nonsense BCD from the guest does not break anything. */
	cmos_write(&r, 0x0b, 0x92);
	CHECK_EQ(cmos_read(&r, 0x0b), 0x82);
	cmos_write(&r, 0x08, 0xff);
	cmos_write(&r, 0x0b, 0x02);
	(void)cmos_read(&r, 0x08);
	rtc_destroy(&r);
}

int main(void)
{
	test_bcd_24h();
	test_binary_12h();
	test_status_registers();
	test_set_offset();
	return unit_done("test_rtc");
}
