/* A virtual CPU's thread: KVM_RUN and its exits (Linux KVM API, api.rst "kvm_run"). */
#include "vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv-enlight/tlfs.h"
#include "hv_host.h"
#include "log.h"
#include "vm.h"

#define VCPU_KICK_SIGNAL SIGUSR1

int vcpu_create(struct vcpu *v, struct vm *vm, unsigned index, struct error *err)
{
	memset(v, 0, sizeof(*v));
	v->vm = vm;
	v->index = index;
	sem_init(&v->sample_done, 0, 0);
	v->fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (v->fd < 0) {
		v->fd = -1;
		return error_set(err, errno, "KVM_CREATE_VCPU %u: %s", index, strerror(errno));
	}
	v->run = mmap(NULL, vm->kvm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return error_set(err, errno, "mmap of vCPU %u: %s", index, strerror(errno));
	}
	return 0;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, v->vm->kvm->vcpu_mmap_size);
	v->run = NULL;
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
	sem_destroy(&v->sample_done);
}

static void kick_handler(int sig)
{
	(void)sig;
}

void vcpu_install_kick_handler(void)
{
	struct sigaction sa = {.sa_handler = kick_handler};

	sigemptyset(&sa.sa_mask);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL); /* no SA_RESTART: KVM_RUN returns EINTR */
}

void vcpu_kick(struct vcpu *v)
{
	if (!v->thread_started)
		return;
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

void vcpu_sample_request(struct vcpu *v)
{
	if (!v->thread_started)
		return;
	while (sem_trywait(&v->sample_done) == 0)
		; /* a late answer to an earlier request */
	__atomic_store_n(&v->sample_req, 1, __ATOMIC_RELEASE);
	vcpu_kick(v);
}

int vcpu_sample_wait(struct vcpu *v, const struct timespec *deadline, struct vcpu_sample *out)
{
	if (!v->thread_started)
		return -ESRCH;
	while (sem_timedwait(&v->sample_done, deadline) < 0) {
		if (errno != EINTR)
			return -ETIMEDOUT;
	}
	/* acquire: the sample was written before the post (sem_post is a release) */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	*out = v->sample;
	return 0;
}

/* vCPU thread: answers a sample request, if there is one. */
static void answer_sample(struct vcpu *v)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_mp_state mp = {0};

	if (!__atomic_exchange_n(&v->sample_req, 0, __ATOMIC_ACQUIRE))
		return;
	memset(&v->sample, 0, sizeof(v->sample));
	if (ioctl(v->fd, KVM_GET_REGS, &r) == 0) {
		v->sample.rip = r.rip;
		v->sample.rsp = r.rsp;
		v->sample.rflags = r.rflags;
	}
	if (ioctl(v->fd, KVM_GET_SREGS, &s) == 0)
		v->sample.cr3 = s.cr3;
	if (ioctl(v->fd, KVM_GET_MP_STATE, &mp) == 0)
		v->sample.mp_state = mp.mp_state;
	v->sample.exits = v->exits;
	sem_post(&v->sample_done);
}

void vcpu_join(struct vcpu *v)
{
	if (!v->thread_started)
		return;
	pthread_join(v->thread, NULL);
	v->thread_started = false;
}

static void print_segment(const char *name, const struct kvm_segment *s)
{
	fprintf(stderr, "%-3s %04x base %016llx limit %08x type %x dpl %u p %u l %u db %u\r\n", name,
		s->selector, (unsigned long long)s->base, s->limit, s->type, s->dpl, s->present, s->l,
		s->db);
}

void vcpu_dump_registers(struct vcpu *v)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	fprintf(stderr, "hvkvm: vCPU %u registers:\r\n", v->index);
	if (ioctl(v->fd, KVM_GET_REGS, &r) == 0) {
		fprintf(stderr, "RIP %016llx RSP %016llx RFLAGS %016llx\r\n", r.rip, r.rsp, r.rflags);
		fprintf(stderr, "RAX %016llx RBX %016llx RCX %016llx RDX %016llx\r\n", r.rax, r.rbx,
			r.rcx, r.rdx);
		fprintf(stderr, "RSI %016llx RDI %016llx RBP %016llx\r\n", r.rsi, r.rdi, r.rbp);
		fprintf(stderr, "R8  %016llx R9  %016llx R10 %016llx R11 %016llx\r\n", r.r8, r.r9,
			r.r10, r.r11);
		fprintf(stderr, "R12 %016llx R13 %016llx R14 %016llx R15 %016llx\r\n", r.r12, r.r13,
			r.r14, r.r15);
	}
	if (ioctl(v->fd, KVM_GET_SREGS, &s) == 0) {
		print_segment("CS", &s.cs);
		print_segment("SS", &s.ss);
		print_segment("DS", &s.ds);
		print_segment("TR", &s.tr);
		fprintf(stderr, "GDT %016llx/%x IDT %016llx/%x\r\n", (unsigned long long)s.gdt.base,
			s.gdt.limit, (unsigned long long)s.idt.base, s.idt.limit);
		fprintf(stderr, "CR0 %016llx CR2 %016llx CR3 %016llx CR4 %016llx EFER %016llx\r\n",
			s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
	}
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	unsigned size = run->io.size;

	if (run->io.port == HV_HYPERCALL_PORT && v->vm->hv &&
	    run->io.direction == KVM_EXIT_IO_OUT && run->io.count == 1) {
		hv_host_handle_hypercall(v->vm->hv, v);
		return;
	}
	if (run->io.port == HV_SIGNAL_PORT && v->vm->hv && run->io.direction == KVM_EXIT_IO_OUT &&
	    run->io.count == 1 && size == 4) {
		uint32_t connection_id;

		memcpy(&connection_id, data, sizeof(connection_id));
		hv_host_handle_doorbell(v->vm->hv, v, connection_id);
		return;
	}

	for (unsigned i = 0; i < run->io.count; i++, data += size) {
		int ret;

		if (run->io.direction == KVM_EXIT_IO_OUT)
			ret = io_bus_write(&v->vm->pio, run->io.port, data, size);
		else
			ret = io_bus_read(&v->vm->pio, run->io.port, data, size);
		if (ret == -ENOENT)
			log_debug("vcpu", "unclaimed port %s 0x%x size %u",
				  run->io.direction == KVM_EXIT_IO_OUT ? "write" : "read",
				  run->io.port, size);
		else if (ret < 0)
			log_guest_fault("vcpu", "port 0x%x: %s", run->io.port, strerror(-ret));
	}
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint64_t addr = run->mmio.phys_addr;
	unsigned len = run->mmio.len;
	int ret;

	if (len == 0 || len > sizeof(run->mmio.data))
		return;
	if (run->mmio.is_write)
		ret = io_bus_write(&v->vm->mmio, addr, run->mmio.data, len);
	else
		ret = io_bus_read(&v->vm->mmio, addr, run->mmio.data, len);
	if (ret == -ENOENT)
		log_debug("vcpu", "unclaimed MMIO %s 0x%llx size %u",
			  run->mmio.is_write ? "write" : "read", (unsigned long long)addr, len);
	else if (ret < 0)
		log_guest_fault("vcpu", "MMIO 0x%llx: %s", (unsigned long long)addr, strerror(-ret));
}

static void fail(struct vcpu *v, const char *why)
{
	fprintf(stderr, "\r\nhvkvm: vCPU %u: %s\r\n", v->index, why);
	vcpu_dump_registers(v);
	vm_end(v->vm, MACHINE_FAILURE, 1);
}

static void handle_system_event(struct vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_end(v->vm, MACHINE_POWEROFF, 0);
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_end(v->vm, MACHINE_RESET, 0);
		break;
	default:
		fail(v, "guest crash reported by KVM");
		break;
	}
}

/* Serves one exit; returns false when the vCPU must stop. */
static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char why[96];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(v);
		return true;
	case KVM_EXIT_INTR:
	case KVM_EXIT_HLT:
		return true;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		if (v->vm->hv)
			hv_host_handle_msr(v->vm->hv, v);
		else
			run->msr.error = 1; /* #GP, as for any unknown MSR */
		return true;
	case KVM_EXIT_SYSTEM_EVENT:
		handle_system_event(v);
		return false;
	case KVM_EXIT_SHUTDOWN:
		fail(v, "triple fault (shutdown)");
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(why, sizeof(why), "KVM internal error, suberror %u",
			 run->internal.suberror);
		fail(v, why);
		/* The data words carry e.g. the failing instruction's bytes for emulation errors. */
		for (unsigned i = 0; i < run->internal.ndata && i < 16; i++)
			fprintf(stderr, "internal data[%u] %016llx\r\n", i,
				(unsigned long long)run->internal.data[i]);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(why, sizeof(why), "VM entry failed, reason 0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		fail(v, why);
		return false;
	default:
		snprintf(why, sizeof(why), "unhandled exit reason %u", run->exit_reason);
		fail(v, why);
		return false;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	char name[16];

	snprintf(name, sizeof(name), "vcpu%u", v->index);
	pthread_setname_np(pthread_self(), name);
	if (v->vm->hv) /* hypercalls read and write registers in kvm_run */
		v->run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
	while (!__atomic_load_n(&v->vm->ended, __ATOMIC_ACQUIRE)) {
		int ret = ioctl(v->fd, KVM_RUN, 0), run_errno = errno;

		__atomic_store_n(&v->exits, v->exits + 1, __ATOMIC_RELAXED);
		if (__atomic_load_n(&v->sample_req, __ATOMIC_RELAXED))
			answer_sample(v);
		if (ret < 0) {
			if (run_errno == EINTR || run_errno == EAGAIN) {
				__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
				continue;
			}
			log_error("vcpu", "vCPU %u: KVM_RUN: %s", v->index, strerror(run_errno));
			fail(v, "KVM_RUN failed");
			break;
		}
		if (!handle_exit(v))
			break;
	}
	return NULL;
}

int vcpu_start(struct vcpu *v, struct error *err)
{
	int ret = pthread_create(&v->thread, NULL, vcpu_thread, v);

	if (ret)
		return error_set(err, ret, "cannot start vCPU %u thread: %s", v->index, strerror(ret));
	v->thread_started = true;
	return 0;
}
