/* A 16550A UART (National Semiconductor PC16550D datasheet) on an 8-port I/O window, with its
 * IRQ output gated by MCR OUT2 as on a PC, and a host-side receive backlog behind the FIFO. */
#ifndef HVKVM_SERIAL_H
#define HVKVM_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/chardev.h"
#include "io_bus.h"
#include "irq.h"

#define SERIAL_WINDOW_LEN 8
#define SERIAL_FIFO_LEN 16
/* Input the guest has not taken into its FIFO yet (typed or pasted ahead). */
#define SERIAL_BACKLOG_LEN 4096

struct serial {
	pthread_mutex_t lock; /* everything below: vCPU threads and the loop thread */
	struct chardev *cd;
	struct irq_line irq;
	bool irq_level;

	uint8_t ier, fcr, lcr, mcr, scr, dll, dlm;
	uint8_t lsr_err;   /* sticky LSR bits: OE, PE, FE, BI (cleared by reading LSR) */
	uint8_t msr_lines; /* MSR bits 4-7 as last seen, for the delta bits */
	uint8_t msr_delta; /* MSR bits 0-3 (cleared by reading MSR) */
	bool thri_pending; /* THR-empty interrupt latched */

	uint8_t fifo[SERIAL_FIFO_LEN];
	unsigned fifo_head, fifo_count;
	uint8_t backlog[SERIAL_BACKLOG_LEN];
	unsigned backlog_head, backlog_count;
};

/* Registers as chardev's receiver (cd may be NULL: no host side). Returns 0 or -errno. */
__attribute__((warn_unused_result))
int serial_init(struct serial *s, struct chardev *cd, struct irq_line irq);
/* After the loop has stopped and the vCPUs are gone; before chardev_close. */
void serial_destroy(struct serial *s);

/* Receiver callback (loop thread); public for tests. */
void serial_receive(void *opaque, const uint8_t *buf, size_t len);

/* Window of SERIAL_WINDOW_LEN ports; wider accesses are split into byte accesses. */
extern const struct io_dev_ops serial_ops;

#endif
