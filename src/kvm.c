/* The host's /dev/kvm (Linux KVM API, Documentation/virt/kvm/api.rst). */
#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int kvm_check_cap(int fd, long cap)
{
	int ret = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	return ret < 0 ? 0 : ret;
}

int kvm_open(struct kvm *kvm, struct error *err)
{
	int ret;

	memset(kvm, 0, sizeof(*kvm));
	kvm->fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm->fd < 0)
		return error_set(err, errno, "cannot open /dev/kvm: %s", strerror(errno));
	ret = ioctl(kvm->fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION) {
		close(kvm->fd);
		return error_set(err, ENOTSUP, "/dev/kvm has API version %d, need %d", ret,
				 KVM_API_VERSION);
	}
	if (!kvm_check_cap(kvm->fd, KVM_CAP_IRQCHIP) || !kvm_check_cap(kvm->fd, KVM_CAP_PIT2) ||
	    !kvm_check_cap(kvm->fd, KVM_CAP_USER_MEMORY)) {
		close(kvm->fd);
		return error_set(err, ENOTSUP,
				 "/dev/kvm lacks the in-kernel irqchip, PIT or user memory");
	}
	kvm->vcpu_mmap_size = ioctl(kvm->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (kvm->vcpu_mmap_size <= 0) {
		close(kvm->fd);
		return error_set(err, EIO, "KVM_GET_VCPU_MMAP_SIZE failed");
	}
	kvm->max_vcpus = kvm_check_cap(kvm->fd, KVM_CAP_MAX_VCPUS);
	if (kvm->max_vcpus <= 0)
		kvm->max_vcpus = kvm_check_cap(kvm->fd, KVM_CAP_NR_VCPUS);
	if (kvm->max_vcpus <= 0)
		kvm->max_vcpus = 4;
	kvm->has_sync_regs = kvm_check_cap(kvm->fd, KVM_CAP_SYNC_REGS) != 0;
	kvm->has_immediate_exit = kvm_check_cap(kvm->fd, KVM_CAP_IMMEDIATE_EXIT) != 0;
	return 0;
}

void kvm_close(struct kvm *kvm)
{
	if (kvm->fd >= 0)
		close(kvm->fd);
	kvm->fd = -1;
}
