/* ACPI PM1a event/control registers and the PM timer (see pm.h; ACPI 6.x §4.8.3). The block is
 * a 12-byte register file so any byte-aligned 1/2/4-byte access works, as ACPI allows. */
#include "emulated/pm.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

#define TAG "pm"

/* Byte offsets inside the block. */
#define OFF_STS (PC_PM1A_EVT_PORT - PC_PM_BASE)
#define OFF_EN (OFF_STS + PC_PM1A_EVT_LEN / 2)
#define OFF_CNT (PC_PM1A_CNT_PORT - PC_PM_BASE)
#define OFF_TMR (PC_PM_TMR_PORT - PC_PM_BASE)

/* PM1 control bits (ACPI table 4.18). */
#define CNT_SCI_EN 0x0001
#define CNT_GBL_RLS 0x0004 /* write-only */
#define CNT_SLP_TYP_SHIFT 10
#define CNT_SLP_TYP_MASK 0x1c00
#define CNT_SLP_EN 0x2000  /* write-only */

#define TMR_MASK 0xffffffu
#define TMR_MSB_SHIFT 23

_Static_assert(OFF_CNT + PC_PM1A_CNT_LEN <= OFF_TMR, "PM1a_CNT overlaps the timer");
_Static_assert(OFF_TMR + PC_PM_TMR_LEN == PC_PM_BLOCK_LEN, "PM block layout");

static uint64_t monotonic_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* Timer ticks since pm_init, without overflowing the multiplication. */
static uint64_t ticks(const struct pm *pm)
{
	uint64_t ns = pm->now_ns() - pm->origin_ns;

	return ns / 1000000000u * PM_TIMER_HZ + ns % 1000000000u * PM_TIMER_HZ / 1000000000u;
}

/* TMR_STS: bit 23 of the timer toggled since the guest last cleared the flag. */
static uint16_t status(const struct pm *pm, uint64_t now)
{
	bool toggled = now >> TMR_MSB_SHIFT != pm->tmr_clear_ticks >> TMR_MSB_SHIFT;

	return pm->status | (toggled ? PM1_TMR_STS : 0);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static int pm_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	struct pm *pm = opaque;
	uint8_t regs[PC_PM_BLOCK_LEN] = {0};
	uint64_t now;
	uint32_t tmr;

	pthread_mutex_lock(&pm->lock);
	now = ticks(pm);
	put16(&regs[OFF_STS], status(pm, now));
	put16(&regs[OFF_EN], pm->enable);
	put16(&regs[OFF_CNT], pm->control | CNT_SCI_EN);
	pthread_mutex_unlock(&pm->lock);
	tmr = (uint32_t)now & TMR_MASK;
	put16(&regs[OFF_TMR], (uint16_t)tmr);
	put16(&regs[OFF_TMR + 2], (uint16_t)(tmr >> 16));
	for (unsigned i = 0; i < size; i++)
		((uint8_t *)data)[i] = offset + i < PC_PM_BLOCK_LEN ? regs[offset + i] : 0xff;
	return 0;
}

/* Replaces byte `byte` (0 or 1) of *reg with v. */
static void merge(uint16_t *reg, unsigned byte, uint8_t v)
{
	unsigned shift = byte * 8;

	*reg = (uint16_t)((*reg & ~(0xffu << shift)) | ((unsigned)v << shift));
}

static int pm_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	struct pm *pm = opaque;
	const uint8_t *in = data;
	uint16_t clear = 0, control;
	bool cnt_written = false, poweroff = false;
	unsigned slp_typ = 0;

	pthread_mutex_lock(&pm->lock);
	control = pm->control;
	for (unsigned i = 0; i < size && offset + i < PC_PM_BLOCK_LEN; i++) {
		unsigned off = (unsigned)offset + i;

		if (off < OFF_EN) {
			merge(&clear, off - OFF_STS, in[i]);
		} else if (off < OFF_CNT) {
			merge(&pm->enable, off - OFF_EN, in[i]);
		} else if (off < OFF_CNT + PC_PM1A_CNT_LEN) {
			merge(&control, off - OFF_CNT, in[i]);
			cnt_written = true;
		}
		/* The gap and the timer are read-only. */
	}
	/* Status is write-1-to-clear. */
	if (clear & PM1_TMR_STS)
		pm->tmr_clear_ticks = ticks(pm);
	pm->status &= ~clear;
	if (cnt_written) {
		pm->control = control & ~(CNT_SLP_EN | CNT_GBL_RLS | CNT_SCI_EN);
		if (control & CNT_SLP_EN) {
			slp_typ = (control & CNT_SLP_TYP_MASK) >> CNT_SLP_TYP_SHIFT;
			poweroff = slp_typ == PC_SLP_TYP_S5;
			/* Other sleep states are not supported: wake at once so a guest waiting on
			 * WAK_STS goes on. */
			if (!poweroff)
				pm->status |= PM1_WAK_STS;
		}
	}
	pthread_mutex_unlock(&pm->lock);
	if (poweroff)
		machine_request(&pm->mc, MACHINE_POWEROFF, 0);
	else if (cnt_written && (control & CNT_SLP_EN))
		log_guest_fault(TAG, "sleep type %u requested: not supported, ignored", slp_typ);
	return 0;
}

const struct io_dev_ops pm_ops = {
	.read = pm_read,
	.write = pm_write,
};

int pm_init(struct pm *pm, struct machine_control mc)
{
	int ret;

	memset(pm, 0, sizeof(*pm));
	ret = pthread_mutex_init(&pm->lock, NULL);
	if (ret)
		return -ret;
	pm->mc = mc;
	pm->now_ns = monotonic_ns;
	pm->origin_ns = monotonic_ns();
	return 0;
}

void pm_destroy(struct pm *pm)
{
	pthread_mutex_destroy(&pm->lock);
}

void pm_raise_status(struct pm *pm, uint16_t bits)
{
	pthread_mutex_lock(&pm->lock);
	pm->status |= bits & ~PM1_TMR_STS;
	pthread_mutex_unlock(&pm->lock);
}
