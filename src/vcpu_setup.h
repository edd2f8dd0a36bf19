/* Initial vCPU state: CPUID, LAPIC LINT pins, FPU and MSRs for every vCPU; the boot entry state
 * (mode, registers, GDT and page tables) for the bootstrap processor. */
#ifndef HVKVM_VCPU_SETUP_H
#define HVKVM_VCPU_SETUP_H

#include "firmware/kernel_loader.h"
#include "vcpu.h"

__attribute__((warn_unused_result))
int vcpu_setup_common(struct vcpu *v, struct error *err);

/* The BSP's registers for entry; writes the boot GDT (and page tables for long mode) to RAM. */
__attribute__((warn_unused_result))
int vcpu_setup_boot(struct vcpu *v, const struct boot_entry *entry, struct error *err);

#endif
