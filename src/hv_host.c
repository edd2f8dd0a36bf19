/* The VMM side of the Hyper-V partition (see hv_host.h): KVM user-space MSR exits and the MSR
 * filter (api.rst KVM_CAP_X86_USER_SPACE_MSR, KVM_X86_SET_MSR_FILTER), sync regs for
 * hypercalls, KVM_SIGNAL_MSI for SynIC interrupts, a timerfd on the loop for synthetic timers. */
#include "hv_host.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "hv-enlight/test_connections.h"
#include "hv-enlight/tlfs.h"
#include "log.h"
#include "vcpu.h"
#include "vm.h"

#define MSR_IA32_TSC 0x10
#define MSI_ADDRESS_BASE 0xfee00000u
#define KVM_APIC_BUS_HZ 1000000000ULL /* KVM's LAPIC timer runs at 1 GHz (1 ns bus cycle) */
#define UD_VECTOR 6
#define OUT_IMM8_LEN 2 /* `out %al, $imm8` */

/* Synthetic MSR ranges KVM must hand to userspace even where it has Hyper-V of its own. */
static const struct {
	uint32_t base, count;
} synthetic_msr_ranges[] = {
	{0x40000000, 0x100},
	{0x40000100, 0x19},
};

static int enable_msr_exits(struct vm *vm, struct error *err)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_X86_USER_SPACE_MSR,
		.args[0] = KVM_MSR_EXIT_REASON_UNKNOWN | KVM_MSR_EXIT_REASON_FILTER,
	};
	static const uint8_t deny[0x100 / 8]; /* all zero: every MSR in a range is denied */
	struct kvm_msr_filter filter = {.flags = KVM_MSR_FILTER_DEFAULT_ALLOW};

	if (!vm->kvm->has_sync_regs)
		return error_set(err, ENOTSUP,
				 "--hyperv: this host's KVM lacks KVM_CAP_SYNC_REGS; use --hyperv off");
	if (!kvm_check_cap(vm->fd, KVM_CAP_X86_USER_SPACE_MSR))
		return error_set(err, ENOTSUP,
				 "--hyperv: this host's KVM cannot pass MSR accesses to userspace "
				 "(KVM_CAP_X86_USER_SPACE_MSR); use --hyperv off");
	if (ioctl(vm->fd, KVM_ENABLE_CAP, &cap) < 0)
		return error_set(err, errno, "KVM_CAP_X86_USER_SPACE_MSR: %s", strerror(errno));
	for (unsigned i = 0; i < sizeof(synthetic_msr_ranges) / sizeof(synthetic_msr_ranges[0]);
	     i++) {
		filter.ranges[i] = (struct kvm_msr_filter_range){
			.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
			.nmsrs = synthetic_msr_ranges[i].count,
			.base = synthetic_msr_ranges[i].base,
			.bitmap = (uint8_t *)deny,
		};
	}
	/* Without a filter, unknown MSRs still exit (KVM without Hyper-V of its own); with
	 * in-kernel Hyper-V the filter is what keeps these MSRs ours. */
	if (kvm_check_cap(vm->fd, KVM_CAP_X86_MSR_FILTER) &&
	    ioctl(vm->fd, KVM_X86_SET_MSR_FILTER, &filter) < 0)
		return error_set(err, errno, "KVM_X86_SET_MSR_FILTER: %s", strerror(errno));
	return 0;
}

/* --- what the partition needs from the host ------------------------------------------------ */

static int send_interrupt(void *ctx, uint32_t apic_id, uint8_t vector)
{
	struct hv_host *h = ctx;
	struct kvm_msi msi = {
		.address_lo = MSI_ADDRESS_BASE | ((apic_id & 0xff) << 12),
		.data = vector, /* fixed delivery, edge */
	};

	return ioctl(h->vm->fd, KVM_SIGNAL_MSI, &msi) < 0 ? -errno : 0;
}

static uint64_t guest_tsc(void *ctx, unsigned vp)
{
	struct hv_host *h = ctx;
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entry;
	} msrs = {.hdr.nmsrs = 1, .entry.index = MSR_IA32_TSC};

	if (vp >= h->vm->ncpus || ioctl(h->vm->vcpus[vp].fd, KVM_GET_MSRS, &msrs) != 1)
		return 0;
	return msrs.entry.data;
}

static uint64_t now_ns(void *ctx)
{
	(void)ctx;
	return clock_ns(CLOCK_MONOTONIC);
}

static uint64_t vp_runtime_ns(void *ctx, unsigned vp)
{
	(void)ctx, (void)vp; /* called on that VP's own thread */
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

static void vp_idle(void *ctx, unsigned vp)
{
	struct hv_host *h = ctx;
	struct kvm_mp_state halted = {.mp_state = KVM_MP_STATE_HALTED};

	if (vp < h->vm->ncpus && ioctl(h->vm->vcpus[vp].fd, KVM_SET_MP_STATE, &halted) < 0)
		log_debug("hv", "GUEST_IDLE: KVM_SET_MP_STATE: %s", strerror(errno));
}

static void arm_timer(void *arg)
{
	struct hv_host *h = arg;
	uint64_t deadline = hv_stimer_next_deadline_ns(h->partition);
	struct itimerspec its = {0};

	if (deadline != UINT64_MAX) {
		if (deadline == 0)
			deadline = 1; /* 0 would disarm */
		its.it_value.tv_sec = deadline / 1000000000u;
		its.it_value.tv_nsec = deadline % 1000000000u;
	}
	if (timerfd_settime(h->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_warn("hv", "timerfd_settime: %s", strerror(errno));
}

static void timers_changed(void *ctx)
{
	struct hv_host *h = ctx;

	if (event_loop_post(h->loop, arm_timer, h) < 0)
		log_warn("hv", "cannot re-arm the synthetic timers: out of memory");
}

static void timer_ready(struct event_watch *w, unsigned revents)
{
	struct hv_host *h = (struct hv_host *)((char *)w - offsetof(struct hv_host, timer_watch));
	uint64_t expirations;

	(void)revents;
	if (read(h->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_warn("hv", "timerfd read: %s", strerror(errno));
	hv_stimer_expire(h->partition, now_ns(h));
	arm_timer(h);
}

static void guest_crashed(void *ctx, const uint64_t params[5], const char *message)
{
	struct hv_host *h = ctx;

	fprintf(stderr,
		"\r\nhvkvm: the guest reported a crash: P0 0x%" PRIx64 " P1 0x%" PRIx64
		" P2 0x%" PRIx64 " P3 0x%" PRIx64 " P4 0x%" PRIx64 "\r\n",
		params[0], params[1], params[2], params[3], params[4]);
	if (message && message[0])
		fprintf(stderr, "hvkvm: guest crash message: %s\r\n", message);
	vm_end(h->vm, MACHINE_GUEST_CRASH, 0);
}

/* The trampoline's doorbell (HV_SIGNAL_PORT, tlfs.h): a 4-byte OUT of the connection id, bound
 * per connection to an eventfd with KVM_IOEVENTFD's datamatch. */
static int bind_doorbell(void *ctx, uint32_t connection_id, int fd, bool assign)
{
	struct hv_host *h = ctx;
	struct kvm_ioeventfd ev = {
		.datamatch = connection_id,
		.addr = HV_SIGNAL_PORT,
		.len = 4,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_PIO | KVM_IOEVENTFD_FLAG_DATAMATCH |
			 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	if (ioctl(h->vm->fd, KVM_IOEVENTFD, &ev) < 0) {
		int e = errno;

		if (assign)
			log_warn("hv", "connection 0x%x: no in-kernel doorbell (KVM_IOEVENTFD: %s); "
				 "its signals go through hvkvm", connection_id, strerror(e));
		return -e;
	}
	if (assign)
		atomic_fetch_add_explicit(&h->doorbells, 1, memory_order_relaxed);
	return 0;
}

/* --- set-up ------------------------------------------------------------------------------- */

int hv_host_create(struct hv_host *h, struct vm *vm, struct event_loop *loop, uint32_t features,
		   bool test_connections, struct error *err)
{
	const struct hv_host_ops ops = {
		.send_interrupt = send_interrupt,
		.guest_tsc = guest_tsc,
		.now_ns = now_ns,
		.vp_runtime_ns = vp_runtime_ns,
		.vp_idle = vp_idle,
		.timers_changed = timers_changed,
		.guest_crashed = guest_crashed,
		.bind_doorbell = bind_doorbell,
		.ctx = h,
	};
	struct hv_config cfg = {
		.features = features,
		.nvps = vm->ncpus,
		.apic_hz = KVM_APIC_BUS_HZ,
	};
	int ret, khz;

	memset(h, 0, sizeof(*h));
	h->vm = vm;
	h->loop = loop;
	h->timer_fd = -1;
	khz = ioctl(vm->vcpus[0].fd, KVM_GET_TSC_KHZ, 0);
	if (khz <= 0)
		return error_set(err, ENOTSUP, "--hyperv: KVM_GET_TSC_KHZ failed: %s",
				 strerror(errno));
	cfg.tsc_hz = (uint64_t)khz * 1000;
	ret = enable_msr_exits(vm, err);
	if (ret < 0)
		return ret;
	h->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (h->timer_fd < 0)
		return error_set(err, errno, "timerfd_create: %s", strerror(errno));
	ret = hv_partition_create(&h->partition, &cfg, &vm->mem, &ops, vm_machine_control(vm), err);
	if (ret < 0)
		goto fail;
	if (test_connections) {
		ret = hv_test_connections_register(h->partition);
		if (ret < 0) {
			error_set(err, -ret, "cannot register the Hyper-V test connections");
			goto fail;
		}
	}
	h->timer_watch.fd = h->timer_fd;
	h->timer_watch.ready = timer_ready;
	ret = event_loop_watch(loop, &h->timer_watch);
	if (ret < 0) {
		error_set(err, -ret, "cannot watch the synthetic timer");
		goto fail;
	}
	h->timer_watched = true;
	return 0;
fail:
	hv_host_destroy(h);
	return ret;
}

static void print_stats(struct hv_host *h)
{
	uint64_t reads = atomic_load_explicit(&h->msr_reads, memory_order_relaxed);
	uint64_t writes = atomic_load_explicit(&h->msr_writes, memory_order_relaxed);

	log_info("hv",
		 "userspace handled %" PRIu64 " synthetic MSR accesses (%" PRIu64 " reads, %" PRIu64
		 " writes) and %" PRIu64 " hypercalls; %" PRIu64 " doorbells bound in the kernel, %"
		 PRIu64 " doorbell writes served here",
		 reads + writes, reads, writes,
		 atomic_load_explicit(&h->hypercalls, memory_order_relaxed),
		 atomic_load_explicit(&h->doorbells, memory_order_relaxed),
		 atomic_load_explicit(&h->doorbell_exits, memory_order_relaxed));
}

void hv_host_destroy(struct hv_host *h)
{
	if (h->partition && log_enabled(LOG_INFO))
		print_stats(h);
	if (h->timer_watched)
		event_loop_unwatch(h->loop, &h->timer_watch);
	h->timer_watched = false;
	if (h->partition)
		hv_partition_destroy(h->partition);
	h->partition = NULL;
	if (h->timer_fd >= 0)
		close(h->timer_fd);
	h->timer_fd = -1;
}

int hv_host_set_cpuid(struct hv_host *h, struct kvm_cpuid2 **cpuid)
{
	struct kvm_cpuid2 *c = *cpuid;
	unsigned kept = 0, leaves = HV_CPUID_LAST - HV_CPUID_FIRST + 1;

	for (unsigned i = 0; i < c->nent; i++) {
		uint32_t fn = c->entries[i].function;

		if (fn < 0x40000000u || fn > 0x4000ffffu)
			c->entries[kept++] = c->entries[i];
	}
	c = realloc(c, sizeof(*c) + (kept + leaves) * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	*cpuid = c;
	c->nent = kept;
	for (uint32_t leaf = HV_CPUID_FIRST; leaf <= HV_CPUID_LAST; leaf++) {
		uint32_t regs[4];
		struct kvm_cpuid_entry2 *e = &c->entries[c->nent];

		if (!hv_cpuid_leaf(h->partition, leaf, regs))
			continue;
		*e = (struct kvm_cpuid_entry2){.function = leaf, .eax = regs[0], .ebx = regs[1],
					       .ecx = regs[2], .edx = regs[3]};
		c->nent++;
	}
	return 0;
}

/* --- exits -------------------------------------------------------------------------------- */

void hv_host_handle_msr(struct hv_host *h, struct vcpu *v)
{
	struct kvm_run *run = v->run;
	int ret;

	if (run->exit_reason == KVM_EXIT_X86_RDMSR) {
		uint64_t value = 0;

		atomic_fetch_add_explicit(&h->msr_reads, 1, memory_order_relaxed);
		ret = hv_msr_read(h->partition, v->index, run->msr.index, &value);
		run->msr.data = value;
	} else {
		atomic_fetch_add_explicit(&h->msr_writes, 1, memory_order_relaxed);
		ret = hv_msr_write(h->partition, v->index, run->msr.index, run->msr.data);
	}
	run->msr.error = ret < 0;
}

static int inject_ud(struct vcpu *v)
{
	struct kvm_vcpu_events ev;

	if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	ev.exception.injected = 1;
	ev.exception.nr = UD_VECTOR;
	ev.exception.has_error_code = 0;
	ev.flags = 0;
	return ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0 ? -errno : 0;
}

void hv_host_handle_hypercall(struct hv_host *h, struct vcpu *v)
{
	struct kvm_regs *regs = &v->run->s.regs.regs;
	struct kvm_sregs *sregs = &v->run->s.regs.sregs;
	struct hv_hypercall_regs in;
	struct hv_hypercall_result res = {0};

	atomic_fetch_add_explicit(&h->hypercalls, 1, memory_order_relaxed);
	in.long_mode = (sregs->efer & (1u << 10)) && sregs->cs.l;
	in.cpl = sregs->ss.dpl;
	if (in.long_mode) {
		in.control = regs->rcx;
		in.input = regs->rdx;
		in.output = regs->r8;
	} else { /* TLFS 3.7: EDX:EAX control, EBX:ECX input, EDI:ESI output */
		in.control = (regs->rdx << 32) | (uint32_t)regs->rax;
		in.input = (regs->rbx << 32) | (uint32_t)regs->rcx;
		in.output = (regs->rdi << 32) | (uint32_t)regs->rsi;
	}
	hv_hypercall(h->partition, v->index, &in, &res);
	if (res.inject_ud) {
		regs->rip -= OUT_IMM8_LEN; /* the fault belongs to the trapping instruction */
		v->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		if (inject_ud(v) < 0)
			log_warn("hv", "cannot inject #UD: %s", strerror(errno));
		return;
	}
	if (in.long_mode) {
		regs->rax = res.rax;
	} else {
		regs->rax = (uint32_t)res.rax;
		regs->rdx = res.rax >> 32;
	}
	v->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
}

void hv_host_handle_doorbell(struct hv_host *h, struct vcpu *v, uint32_t connection_id)
{
	struct kvm_regs *regs = &v->run->s.regs.regs;

	atomic_fetch_add_explicit(&h->doorbell_exits, 1, memory_order_relaxed);
	/* the trampoline returns RCX as the status (tlfs.h) */
	regs->rcx = hv_doorbell(h->partition, v->index, connection_id);
	v->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
}
