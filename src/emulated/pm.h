/* ACPI fixed-hardware PM registers at PC_PM_BASE (ACPI 6.x §4.8): PM1a event block (status,
 * enable), PM1a control (sleep: S5 powers off) and the 24-bit PM timer. No SCI is raised. */
#ifndef HVKVM_PM_H
#define HVKVM_PM_H

#include <pthread.h>
#include <stdint.h>

#include "emulated/pc_ports.h"
#include "io_bus.h"
#include "machine_control.h"

/* PM1 status bits (ACPI table 4.16). */
#define PM1_TMR_STS 0x0001
#define PM1_PWRBTN_STS 0x0100
#define PM1_WAK_STS 0x8000

#define PM_TIMER_HZ 3579545u

struct pm {
	pthread_mutex_t lock; /* status, enable, control */
	struct machine_control mc;
	uint64_t (*now_ns)(void); /* CLOCK_MONOTONIC; tests may replace it after pm_init */
	uint64_t origin_ns;       /* timer reads 0 here */
	uint64_t tmr_clear_ticks; /* timer value when TMR_STS was last cleared */
	uint16_t status, enable, control;
};

__attribute__((warn_unused_result))
int pm_init(struct pm *pm, struct machine_control mc);
void pm_destroy(struct pm *pm);

/* Sets PM1 status bits (a future power button). No SCI is wired yet. Any thread. */
void pm_raise_status(struct pm *pm, uint16_t bits);

/* Window of PC_PM_BLOCK_LEN ports; 1, 2 and 4-byte accesses at any offset. */
extern const struct io_dev_ops pm_ops;

#endif
