/* One boot of a virtual machine on KVM (see vm.h; Linux KVM API, api.rst sections 4.x). */
#include "vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cpuid.h"
#include "log.h"
#include "vcpu.h"

/* Pages KVM needs below 4 GiB on Intel hosts (real-mode TSS, EPT identity map), above RAM. */
#define VM_IDENTITY_MAP_ADDR 0xfffbc000ULL
#define VM_TSS_ADDR 0xfffbd000ULL

static int set_memory_slot(struct vm *vm, unsigned slot, uint64_t gpa, uint64_t size, void *host)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)host,
	};

	return ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) < 0 ? -errno : 0;
}

static int create_platform(struct vm *vm, struct error *err)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	uint64_t ident = VM_IDENTITY_MAP_ADDR;

	/* Only Intel (VMX) hosts need these; other backends may refuse them harmlessly. */
	if (ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &ident) < 0)
		log_debug("vm", "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	if (ioctl(vm->fd, KVM_SET_TSS_ADDR, (unsigned long)VM_TSS_ADDR) < 0)
		log_debug("vm", "KVM_SET_TSS_ADDR: %s", strerror(errno));
	if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return error_set(err, errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	if (ioctl(vm->fd, KVM_CREATE_PIT2, &pit) < 0)
		return error_set(err, errno, "KVM_CREATE_PIT2: %s", strerror(errno));
	return 0;
}

static int map_ram(struct vm *vm, uint64_t memory, struct error *err)
{
	int ret = guest_mem_init(&vm->mem, memory);

	if (ret < 0)
		return error_set(err, -ret, "cannot allocate %llu MiB of guest memory: %s",
				 (unsigned long long)(memory >> 20), strerror(-ret));
	ret = set_memory_slot(vm, 0, 0, vm->mem.low_size, vm->mem.host);
	if (ret == 0 && vm->mem.high_size)
		ret = set_memory_slot(vm, 1, GUEST_MEM_4G, vm->mem.high_size,
				      vm->mem.host + vm->mem.low_size);
	if (ret < 0)
		return error_set(err, -ret, "KVM_SET_USER_MEMORY_REGION: %s", strerror(-ret));
	return 0;
}

int vm_create(struct vm *vm, const struct kvm *kvm, uint64_t memory, unsigned ncpus,
	      struct event_loop *loop, struct error *err)
{
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->kvm = kvm;
	vm->loop = loop;
	vm->ncpus = ncpus;
	pthread_mutex_init(&vm->lock, NULL);
	io_bus_init(&vm->pio, "pio");
	io_bus_init(&vm->mmio, "mmio");
	vm->fd = ioctl(kvm->fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0) {
		ret = error_set(err, errno, "KVM_CREATE_VM: %s", strerror(errno));
		vm->fd = -1;
		goto fail;
	}
	ret = create_platform(vm, err);
	if (ret < 0)
		goto fail;
	ret = map_ram(vm, memory, err);
	if (ret < 0)
		goto fail;
	ret = cpuid_get_supported(kvm->fd, &vm->supported_cpuid, err);
	if (ret < 0)
		goto fail;
	vm->vcpus = calloc(ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		ret = error_set(err, ENOMEM, "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < ncpus; i++) {
		vm->vcpus[i].fd = -1;
		ret = vcpu_create(&vm->vcpus[i], vm, i, err);
		if (ret < 0)
			goto fail;
	}
	return 0;
fail:
	vm_destroy(vm);
	return ret;
}

void vm_destroy(struct vm *vm)
{
	if (vm->vcpus) {
		for (unsigned i = 0; i < vm->ncpus; i++)
			vcpu_destroy(&vm->vcpus[i]);
		free(vm->vcpus);
		vm->vcpus = NULL;
	}
	free(vm->supported_cpuid);
	vm->supported_cpuid = NULL;
	if (vm->fd >= 0)
		close(vm->fd);
	vm->fd = -1;
	guest_mem_destroy(&vm->mem);
	io_bus_destroy(&vm->pio);
	io_bus_destroy(&vm->mmio);
	pthread_mutex_destroy(&vm->lock);
}

static void irq_set_level(void *ctx, unsigned gsi, bool level)
{
	struct vm *vm = ctx;
	struct kvm_irq_level irq = {.irq = gsi, .level = level};

	if (ioctl(vm->fd, KVM_IRQ_LINE, &irq) < 0)
		log_warn("vm", "KVM_IRQ_LINE %u: %s", gsi, strerror(errno));
}

struct irq_line vm_irq_line(struct vm *vm, unsigned gsi)
{
	return (struct irq_line){.set_level = irq_set_level, .ctx = vm, .gsi = gsi};
}

void vm_end(struct vm *vm, enum machine_event event, int status)
{
	bool first;

	pthread_mutex_lock(&vm->lock);
	first = !vm->ended;
	if (first) {
		__atomic_store_n(&vm->ended, true, __ATOMIC_RELEASE);
		vm->outcome = event;
		vm->outcome_status = status;
	}
	pthread_mutex_unlock(&vm->lock);
	if (first)
		event_loop_stop(vm->loop);
}

bool vm_has_ended(struct vm *vm)
{
	bool ended;

	pthread_mutex_lock(&vm->lock);
	ended = vm->ended;
	pthread_mutex_unlock(&vm->lock);
	return ended;
}

static void machine_request_cb(void *ctx, enum machine_event event, int status)
{
	vm_end(ctx, event, status);
}

struct machine_control vm_machine_control(struct vm *vm)
{
	return (struct machine_control){.request = machine_request_cb, .ctx = vm};
}

int vm_start_vcpus(struct vm *vm, struct error *err)
{
	for (unsigned i = 0; i < vm->ncpus; i++) {
		int ret = vcpu_start(&vm->vcpus[i], err);

		if (ret < 0) {
			vm_end(vm, MACHINE_FAILURE, 1);
			vm_stop_vcpus(vm);
			return ret;
		}
	}
	return 0;
}

void vm_stop_vcpus(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < vm->ncpus; i++)
		vcpu_join(&vm->vcpus[i]);
}
