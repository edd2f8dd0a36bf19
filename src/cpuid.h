/* The guest's CPUID: what KVM supports, with the hypervisor bit and a topology of N cores in
 * one package (APIC ID = vCPU index). */
#ifndef HVKVM_CPUID_H
#define HVKVM_CPUID_H

#include <linux/kvm.h>

#include "error.h"

/* KVM_GET_SUPPORTED_CPUID, allocated; free() it. */
__attribute__((warn_unused_result))
int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out, struct error *err);

/* A copy of supported adjusted for vCPU vcpu_index of ncpus; free() it. -ENOMEM. */
__attribute__((warn_unused_result))
int cpuid_for_vcpu(const struct kvm_cpuid2 *supported, unsigned vcpu_index, unsigned ncpus,
		   struct kvm_cpuid2 **out);

#endif
