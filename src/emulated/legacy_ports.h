/* The quiet claimer: PC I/O ports that exist on real hardware but that hvkvm does not emulate
 * (DMA, POST, VGA, absent UARTs/LPT/IDE/floppy, PCI configuration without a PCI bus, fw_cfg).
 * Reads return all-ones, writes are dropped, nothing is logged. Ports 0x92 (fast reset) and
 * 0xCF9 (reset control) can reset the machine. */
#ifndef HVKVM_LEGACY_PORTS_H
#define HVKVM_LEGACY_PORTS_H

#include <stdint.h>

#include "io_bus.h"
#include "machine_control.h"

struct legacy_ports {
	struct machine_control mc;
	_Atomic uint8_t port92; /* system control port A: bit 1 = A20 gate */
	_Atomic uint8_t rst_cnt; /* 0xCF9 reset control, as last written */
};

/* Claims every listed range on pio, skipping ports some device already holds: call it after
 * all emulated devices are registered. Never claims what KVM's in-kernel PIC, ELCR, PIT and
 * speaker port handle (0x20-0x21, 0xA0-0xA1, 0x4D0-0x4D1, 0x40-0x43, 0x61). lp must outlive
 * the bus. Returns 0 or -errno (-ENOMEM). */
__attribute__((warn_unused_result))
int legacy_ports_register(struct io_bus *pio, struct legacy_ports *lp, struct machine_control mc);

#endif
