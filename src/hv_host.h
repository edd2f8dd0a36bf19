/* The VMM side of the Hyper-V partition: routes synthetic MSR accesses and hypercall-page exits
 * from the vCPUs to src/hv-enlight/, and gives the partition what it needs from KVM and the
 * event loop (interrupts as MSIs, the guest TSC, a timer for the synthetic timers). */
#ifndef HVKVM_HV_HOST_H
#define HVKVM_HV_HOST_H

#include <linux/kvm.h>
#include <stdbool.h>

#include "error.h"
#include "event_loop.h"
#include "hv-enlight/hv.h"

struct vm;
struct vcpu;

struct hv_host {
	struct vm *vm;
	struct hv_partition *partition;
	struct event_loop *loop;
	int timer_fd;
	struct event_watch timer_watch;
	bool timer_watched;
	/* Exits served in userspace (any vCPU thread; printed at destroy with -v): the proof
	 * that the synthetic MSRs and hypercalls reached hvkvm, not a kernel's own Hyper-V. */
	_Atomic uint64_t msr_reads, msr_writes, hypercalls;
	/* Doorbells bound in the kernel, and doorbell writes that came here instead. */
	_Atomic uint64_t doorbells, doorbell_exits;
};

/* Before the vCPUs start: MSR exits and filter, the partition, its timer on the loop. */
__attribute__((warn_unused_result))
int hv_host_create(struct hv_host *h, struct vm *vm, struct event_loop *loop, uint32_t features,
		   bool test_connections, struct error *err);
/* After the vCPUs have stopped; on the loop thread or with the loop stopped. With -v (log level
 * info or more) it prints how many synthetic MSR accesses and hypercalls userspace served. */
void hv_host_destroy(struct hv_host *h);

/* Replaces every hypervisor leaf (0x40000000-0x4000FFFF) of *cpuid with the partition's; may
 * reallocate *cpuid. -ENOMEM. */
__attribute__((warn_unused_result))
int hv_host_set_cpuid(struct hv_host *h, struct kvm_cpuid2 **cpuid);

/* vCPU thread: a KVM_EXIT_X86_RDMSR/WRMSR, and an OUT to the hypercall port. */
void hv_host_handle_msr(struct hv_host *h, struct vcpu *v);
void hv_host_handle_hypercall(struct hv_host *h, struct vcpu *v);
/* vCPU thread: a doorbell write (4-byte OUT to HV_SIGNAL_PORT) no bound eventfd took. */
void hv_host_handle_doorbell(struct hv_host *h, struct vcpu *v, uint32_t connection_id);

#endif
