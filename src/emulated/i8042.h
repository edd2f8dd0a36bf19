/* A minimal i8042 keyboard controller (IBM PC/AT technical reference): no keyboard or mouse,
 * only the reset line, pulsed by command 0xFE (or 0xF0-0xFF with bit 0 clear) or by writing the
 * output port (command 0xD1) with bit 0 clear. */
#ifndef HVKVM_I8042_H
#define HVKVM_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "io_bus.h"
#include "machine_control.h"

struct i8042 {
	pthread_mutex_t lock; /* pending_cmd */
	struct machine_control mc;
	uint8_t pending_cmd;  /* command waiting for its data byte on port 0x60, or 0 */
};

__attribute__((warn_unused_result))
int i8042_init(struct i8042 *k, struct machine_control mc);
void i8042_destroy(struct i8042 *k);

/* One-port windows: the data port (PC_I8042_DATA_PORT) and the status/command port
 * (PC_I8042_CMD_PORT). */
extern const struct io_dev_ops i8042_data_ops;
extern const struct io_dev_ops i8042_cmd_ops;

#endif
