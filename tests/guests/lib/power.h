/* Power off and reset for the test guests, through the ports the ACPI tables name (with the
 * hvkvm PC's fixed ports as fallback when there is no FADT). */
#ifndef GUEST_POWER_H
#define GUEST_POWER_H

#include <stdint.h>

#include "acpi.h"

#define FALLBACK_PM1A_CNT 0x604 /* hvkvm's PC_PM1A_CNT_PORT */
#define FALLBACK_SLP_TYP_S5 5   /* hvkvm's PC_SLP_TYP_S5 */
#define PM1_SLP_TYP_SHIFT 10
#define PM1_SLP_EN (1u << 13)
#define I8042_CMD 0x64
#define I8042_RESET 0xfe

/* Reads the FADT/DSDT once (done by the runtime before test_main). */
void power_init(void);
const struct acpi_pm *power_pm(void);
/* The port and value that power off: SLP_TYP(S5) << 10 | SLP_EN. */
uint16_t power_pm1a_cnt_port(void);
uint16_t power_s5_value(void);

/* Each returns only if the machine is still running 1 s later. */
void power_off(void);
void reset_i8042(void);
/* -1 when the FADT has no usable reset register. */
int reset_acpi(void);

#endif
