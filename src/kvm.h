/* The host's /dev/kvm: opened once per process, its API version and capabilities checked. */
#ifndef HVKVM_KVM_H
#define HVKVM_KVM_H

#include <stdbool.h>

#include "error.h"

struct kvm {
	int fd;
	int vcpu_mmap_size;
	int max_vcpus;
	bool has_sync_regs;
	bool has_immediate_exit;
};

__attribute__((warn_unused_result))
int kvm_open(struct kvm *kvm, struct error *err);
void kvm_close(struct kvm *kvm);
/* KVM_CHECK_EXTENSION on the given fd (system or VM); 0 when absent. */
int kvm_check_cap(int fd, long cap);

#endif
