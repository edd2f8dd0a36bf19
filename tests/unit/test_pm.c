/* Unit tests for the ACPI PM registers: S5 powers off through machine_control, other sleep
 * types do not, status write-1-to-clear, any-width access, the 24-bit PM timer. */
#include <stdbool.h>
#include <string.h>

#include "emulated/pm.h"
#include "unit.h"

static uint64_t fake_ns;

static uint64_t fake_clock(void)
{
	return fake_ns;
}

static uint32_t rd(struct pm *pm, unsigned off, unsigned size)
{
	uint8_t b[4] = {0};

	CHECK_EQ(pm_ops.read(pm, off, b, size), 0);
	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

static void wr(struct pm *pm, unsigned off, uint32_t v, unsigned size)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	CHECK_EQ(pm_ops.write(pm, off, b, size), 0);
}

static void init(struct pm *pm, struct unit_machine_recorder *rec)
{
	memset(rec, 0, sizeof(*rec));
	CHECK_EQ(pm_init(pm, unit_machine_control(rec)), 0);
	pm->now_ns = fake_clock;
	pm->origin_ns = 0;
	fake_ns = 0;
}

#define STS 0
#define EN 2
#define CNT 4
#define TMR 8
#define SLP_EN 0x2000

static void test_sleep(void)
{
	struct unit_machine_recorder rec;
	struct pm pm;

	init(&pm, &rec);
	CHECK_EQ(rd(&pm, CNT, 2), 0x0001); /* SCI_EN */
	/* Linux writes SLP_TYP first, then SLP_TYP | SLP_EN. */
	wr(&pm, CNT, PC_SLP_TYP_S5 << 10, 2);
	CHECK_EQ(rec.calls, 0);
	CHECK_EQ(rd(&pm, CNT, 2), (PC_SLP_TYP_S5 << 10) | 1);
	wr(&pm, CNT, (PC_SLP_TYP_S5 << 10) | SLP_EN, 2);
	CHECK_EQ(rec.calls, 1);
	CHECK_EQ(rec.event, MACHINE_POWEROFF);
	CHECK_EQ(rec.status, 0);
	CHECK_EQ(rd(&pm, CNT, 2) & SLP_EN, 0); /* write-only */
	pm_destroy(&pm);

	/* Other sleep types: ignored, the guest "wakes" at once. */
	init(&pm, &rec);
	for (unsigned typ = 0; typ < 8; typ++) {
		if (typ == PC_SLP_TYP_S5)
			continue;
		wr(&pm, CNT, (typ << 10) | SLP_EN, 2);
	}
	CHECK_EQ(rec.calls, 0);
	CHECK_EQ(rd(&pm, STS, 2) & PM1_WAK_STS, PM1_WAK_STS);
	pm_destroy(&pm);

	/* Byte writes: the high byte alone holds SLP_TYP and SLP_EN. */
	init(&pm, &rec);
	wr(&pm, CNT + 1, ((PC_SLP_TYP_S5 << 10) | SLP_EN) >> 8, 1);
	CHECK_EQ(rec.calls, 1);
	CHECK_EQ(rec.event, MACHINE_POWEROFF);
	pm_destroy(&pm);

	/* A 4-byte write at offset 4: CNT plus the reserved gap. */
	init(&pm, &rec);
	wr(&pm, CNT, (PC_SLP_TYP_S5 << 10) | SLP_EN, 4);
	CHECK_EQ(rec.calls, 1);
	pm_destroy(&pm);
}

static void test_status_enable(void)
{
	struct unit_machine_recorder rec;
	struct pm pm;

	init(&pm, &rec);
	CHECK_EQ(rd(&pm, STS, 2), 0);
	pm_raise_status(&pm, PM1_PWRBTN_STS | PM1_WAK_STS);
	CHECK_EQ(rd(&pm, STS, 2), PM1_PWRBTN_STS | PM1_WAK_STS);
	wr(&pm, STS, 0, 2); /* writing 0 changes nothing */
	CHECK_EQ(rd(&pm, STS, 2), PM1_PWRBTN_STS | PM1_WAK_STS);
	wr(&pm, STS, PM1_WAK_STS, 2);
	CHECK_EQ(rd(&pm, STS, 2), PM1_PWRBTN_STS);
	wr(&pm, STS + 1, PM1_PWRBTN_STS >> 8, 1);
	CHECK_EQ(rd(&pm, STS, 2), 0);

	wr(&pm, EN, 0x0121, 2);
	CHECK_EQ(rd(&pm, EN, 2), 0x0121);
	CHECK_EQ(rd(&pm, STS, 4), 0x01210000u); /* status + enable as one dword */
	wr(&pm, EN + 1, 0x00, 1);
	CHECK_EQ(rd(&pm, EN, 2), 0x0021);
	/* A dword write to the event block: status clear in the low half, enable in the high. */
	pm_raise_status(&pm, PM1_PWRBTN_STS);
	wr(&pm, STS, 0x0300u << 16 | PM1_PWRBTN_STS, 4);
	CHECK_EQ(rd(&pm, STS, 2), 0);
	CHECK_EQ(rd(&pm, EN, 2), 0x0300);
	CHECK_EQ(rd(&pm, 6, 2), 0); /* the reserved gap */
	pm_destroy(&pm);
}

static void test_timer(void)
{
	struct unit_machine_recorder rec;
	struct pm pm;
	uint32_t prev, now;
	bool monotonic = true, wrapped = false;

	init(&pm, &rec);
	CHECK_EQ(rd(&pm, TMR, 4), 0);
	fake_ns = 1000000000; /* one second */
	CHECK_EQ(rd(&pm, TMR, 4), PM_TIMER_HZ);
	fake_ns = 1000; /* 1 us = 3.58 ticks */
	CHECK_EQ(rd(&pm, TMR, 4), 3);
	/* 24 bits: wraps after 2^24 ticks (~4.69 s). */
	fake_ns = 4687500000ull; /* 16779117 ticks */
	CHECK_EQ(rd(&pm, TMR, 4), 16779117u - (1u << 24));
	CHECK_EQ(rd(&pm, TMR + 3, 1), 0);
	CHECK_EQ(rd(&pm, TMR, 2), (16779117u - (1u << 24)) & 0xffff);
	/* Hours in: no overflow in the conversion. */
	fake_ns = 7200ull * 1000000000ull;
	CHECK_EQ(rd(&pm, TMR, 4), (uint32_t)((7200ull * PM_TIMER_HZ) & 0xffffff));
	/* Writes are ignored. */
	wr(&pm, TMR, 0, 4);
	CHECK_EQ(rd(&pm, TMR, 4), (uint32_t)((7200ull * PM_TIMER_HZ) & 0xffffff));

	/* Monotonic modulo 2^24, with the real clock. */
	pm_destroy(&pm);
	init(&pm, &rec);
	fake_ns = 0;
	prev = rd(&pm, TMR, 4);
	for (unsigned i = 0; i < 10000; i++) {
		fake_ns += 997 * 1000; /* ~3567 ticks per step */
		now = rd(&pm, TMR, 4);
		CHECK(now <= 0xffffff);
		if (now < prev)
			wrapped = true;
		else
			monotonic &= now - prev >= 3560 && now - prev <= 3570;
		prev = now;
	}
	CHECK(monotonic);
	CHECK(wrapped);
	pm_destroy(&pm);

	CHECK_EQ(pm_init(&pm, unit_machine_control(&rec)), 0);
	prev = rd(&pm, TMR, 4);
	for (unsigned i = 0; i < 1000; i++) {
		now = rd(&pm, TMR, 4);
		CHECK(now >= prev);
		prev = now;
	}
	pm_destroy(&pm);
}

/* TMR_STS: set when timer bit 23 toggles, write-1-to-clear. */
static void test_tmr_sts(void)
{
	struct unit_machine_recorder rec;
	struct pm pm;

	init(&pm, &rec);
	CHECK_EQ(rd(&pm, STS, 2) & PM1_TMR_STS, 0);
	fake_ns = 2340000000ull; /* 8376135 ticks: bit 23 not yet set */
	CHECK_EQ(rd(&pm, STS, 2) & PM1_TMR_STS, 0);
	fake_ns = 2350000000ull; /* 8411930 ticks: past 2^23 */
	CHECK_EQ(rd(&pm, STS, 2) & PM1_TMR_STS, PM1_TMR_STS);
	wr(&pm, STS, PM1_TMR_STS, 2);
	CHECK_EQ(rd(&pm, STS, 2) & PM1_TMR_STS, 0);
	fake_ns = 4690000000ull; /* past 2^24: bit 23 toggled back */
	CHECK_EQ(rd(&pm, STS, 2) & PM1_TMR_STS, PM1_TMR_STS);
	pm_destroy(&pm);
}

int main(void)
{
	test_sleep();
	test_status_enable();
	test_timer();
	test_tmr_sts();
	return unit_done("test_pm");
}
