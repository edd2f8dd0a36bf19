/* One boot of a virtual machine: the KVM VM with its in-kernel irqchip and PIT, guest RAM, the
 * I/O buses, the vCPUs, and how the boot ends. Rebuilt from scratch for a guest reboot. */
#ifndef HVKVM_VM_H
#define HVKVM_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>

#include "error.h"
#include "event_loop.h"
#include "guest_mem.h"
#include "io_bus.h"
#include "irq.h"
#include "kvm.h"
#include "machine_control.h"

struct vcpu;
struct hv_host;

struct vm {
	const struct kvm *kvm;
	int fd;
	struct guest_mem mem;
	struct io_bus pio;
	struct io_bus mmio;
	unsigned ncpus;
	struct vcpu *vcpus;
	struct kvm_cpuid2 *supported_cpuid;
	struct event_loop *loop; /* told to stop when the boot ends */
	struct hv_host *hv;      /* the Hyper-V partition's host side; NULL with --hyperv off */

	pthread_mutex_t lock; /* guards the outcome */
	bool ended;
	enum machine_event outcome;
	int outcome_status;
};

/* Creates the VM, its irqchip, PIT, RAM and vCPUs (not yet running). */
__attribute__((warn_unused_result))
int vm_create(struct vm *vm, const struct kvm *kvm, uint64_t memory, unsigned ncpus,
	      struct event_loop *loop, struct error *err);
void vm_destroy(struct vm *vm);

struct irq_line vm_irq_line(struct vm *vm, unsigned gsi);
struct machine_control vm_machine_control(struct vm *vm);

/* Any thread: records how the boot ends (first call wins) and stops the event loop. */
void vm_end(struct vm *vm, enum machine_event event, int status);
bool vm_has_ended(struct vm *vm);

__attribute__((warn_unused_result))
int vm_start_vcpus(struct vm *vm, struct error *err);
/* Kicks every vCPU out of KVM_RUN and joins its thread. */
void vm_stop_vcpus(struct vm *vm);

#endif
