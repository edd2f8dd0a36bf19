/* A debug-exit port with QEMU's isa-debug-exit semantics: writing v ends the VM with exit status
 * (v << 1) | 1, so a test guest can report pass/fail. */
#ifndef HVKVM_DEBUG_EXIT_H
#define HVKVM_DEBUG_EXIT_H

#include "io_bus.h"
#include "machine_control.h"

struct debug_exit {
	struct machine_control mc;
};

void debug_exit_init(struct debug_exit *d, struct machine_control mc);

/* Register a window of 1 port: the handler takes 1, 2 and 4-byte writes at offset 0 (the bus
 * hands over an access starting in the window only if it fits, so a 2/4-byte access needs a
 * window that wide; the value is taken whole either way). Reads return all-ones. */
extern const struct io_dev_ops debug_exit_ops;

#endif
