/* A virtual CPU: its thread runs KVM_RUN and serves the exits (port and MMIO accesses, system
 * events) against the VM's buses. */
#ifndef HVKVM_VCPU_H
#define HVKVM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct vm;

/* Where a vCPU was when it answered a sample request (vcpu_sample_*). */
struct vcpu_sample {
	uint64_t rip, rsp, rflags, cr3;
	uint32_t mp_state; /* KVM_MP_STATE_* */
	uint64_t exits;    /* KVM_RUN returns so far */
};

struct vcpu {
	struct vm *vm;
	unsigned index; /* also its APIC ID and, later, VP index */
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	uint64_t exits;          /* written by the vCPU thread, read by anyone (relaxed) */
	int sample_req;          /* set by vcpu_sample_request, cleared by the vCPU thread */
	sem_t sample_done;       /* posted once per answered request */
	struct vcpu_sample sample;
};

__attribute__((warn_unused_result))
int vcpu_create(struct vcpu *v, struct vm *vm, unsigned index, struct error *err);
void vcpu_destroy(struct vcpu *v);

__attribute__((warn_unused_result))
int vcpu_start(struct vcpu *v, struct error *err);
/* Any thread: make the vCPU leave KVM_RUN soon. */
void vcpu_kick(struct vcpu *v);
void vcpu_join(struct vcpu *v);

/* Any thread: asks the vCPU where it is; it answers at its next return from KVM_RUN, which the
 * request forces (a kick). vcpu_sample_wait then waits until deadline (CLOCK_REALTIME) for the
 * answer: 0 with *out filled, -ETIMEDOUT when the vCPU did not come back from KVM_RUN in time (the
 * host kernel holds it), -ESRCH when its thread is not running. */
void vcpu_sample_request(struct vcpu *v);
int vcpu_sample_wait(struct vcpu *v, const struct timespec *deadline, struct vcpu_sample *out);

/* Prints the general, segment and control registers to stderr (vCPU thread or stopped vCPU). */
void vcpu_dump_registers(struct vcpu *v);

/* Installs the (empty) kick signal handler; once per process, before any vCPU starts. */
void vcpu_install_kick_handler(void);

#endif
