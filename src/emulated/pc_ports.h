/* Where the PC platform's fixed pieces live: the numbers the board, the devices and the ACPI
 * tables must agree on. */
#ifndef HVKVM_PC_PORTS_H
#define HVKVM_PC_PORTS_H

/* 16550A UARTs (COM1 is the console). */
#define PC_COM1_PORT 0x3f8
#define PC_COM1_IRQ 4

/* i8042 keyboard controller: data 0x60, status/command 0x64. Writing 0xFE to 0x64 pulses reset;
 * the FADT's reset register points here too. */
#define PC_I8042_DATA_PORT 0x60
#define PC_I8042_CMD_PORT 0x64
#define PC_I8042_RESET_VALUE 0xfe

/* CMOS RTC index/data. */
#define PC_RTC_PORT 0x70
#define PC_RTC_IRQ 8

/* ACPI PM1a event block (status+enable, 4 bytes), PM1a control (2 bytes), PM timer (4 bytes,
 * 3.579545 MHz, 24-bit). SCI on ISA IRQ 9, level, active high. */
#define PC_PM_BASE 0x600
#define PC_PM1A_EVT_PORT (PC_PM_BASE + 0)
#define PC_PM1A_EVT_LEN 4
#define PC_PM1A_CNT_PORT (PC_PM_BASE + 4)
#define PC_PM1A_CNT_LEN 2
#define PC_PM_TMR_PORT (PC_PM_BASE + 8)
#define PC_PM_TMR_LEN 4
#define PC_PM_BLOCK_LEN 12
#define PC_SCI_IRQ 9
/* SLP_TYP value the DSDT's \_S5 package names; PM1a_CNT with SLP_EN and this type powers off. */
#define PC_SLP_TYP_S5 5

/* Interrupt controllers (in-kernel). */
#define PC_IOAPIC_ADDR 0xfec00000u
#define PC_LAPIC_ADDR 0xfee00000u
#define PC_IOAPIC_PINS 24

#endif
