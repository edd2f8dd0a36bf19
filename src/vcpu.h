/* A virtual CPU: its thread runs KVM_RUN and serves the exits (port and MMIO accesses, system
 * events) against the VM's buses. */
#ifndef HVKVM_VCPU_H
#define HVKVM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>

#include "error.h"

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned index; /* also its APIC ID and, later, VP index */
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
};

__attribute__((warn_unused_result))
int vcpu_create(struct vcpu *v, struct vm *vm, unsigned index, struct error *err);
void vcpu_destroy(struct vcpu *v);

__attribute__((warn_unused_result))
int vcpu_start(struct vcpu *v, struct error *err);
/* Any thread: make the vCPU leave KVM_RUN soon. */
void vcpu_kick(struct vcpu *v);
void vcpu_join(struct vcpu *v);

/* Prints the general, segment and control registers to stderr (vCPU thread or stopped vCPU). */
void vcpu_dump_registers(struct vcpu *v);

/* Installs the (empty) kick signal handler; once per process, before any vCPU starts. */
void vcpu_install_kick_handler(void);

#endif
