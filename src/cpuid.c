/* The guest's CPUID (Intel SDM vol. 2A "CPUID"; AMD APM vol. 3 appendix E). */
#include "cpuid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_HTT (1u << 28)
#define CPUID_TOPO_TYPE_SMT 1u
#define CPUID_TOPO_TYPE_CORE 2u

static size_t cpuid_bytes(unsigned nent)
{
	return sizeof(struct kvm_cpuid2) + nent * sizeof(struct kvm_cpuid_entry2);
}

int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out, struct error *err)
{
	unsigned nent = 64;

	for (;;) {
		struct kvm_cpuid2 *c = calloc(1, cpuid_bytes(nent));

		if (!c)
			return error_set(err, ENOMEM, "out of memory");
		c->nent = nent;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			*out = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG || nent >= 4096)
			return error_set(err, errno, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		nent *= 2;
	}
}

/* Bits needed to number n items: ceil(log2(n)). */
static unsigned id_bits(unsigned n)
{
	unsigned bits = 0;

	while ((1u << bits) < n)
		bits++;
	return bits;
}

static void set_topology_leaf(struct kvm_cpuid_entry2 *e, unsigned apic_id, unsigned ncpus)
{
	e->edx = apic_id;
	switch (e->index) {
	case 0: /* SMT level: one thread per core */
		e->eax = 0;
		e->ebx = 1;
		e->ecx = (CPUID_TOPO_TYPE_SMT << 8) | e->index;
		break;
	case 1: /* core level: every vCPU a core of package 0 */
		e->eax = id_bits(ncpus);
		e->ebx = ncpus;
		e->ecx = (CPUID_TOPO_TYPE_CORE << 8) | e->index;
		break;
	default:
		e->eax = e->ebx = 0;
		e->ecx = e->index;
		break;
	}
}

int cpuid_for_vcpu(const struct kvm_cpuid2 *supported, unsigned vcpu_index, unsigned ncpus,
		   struct kvm_cpuid2 **out)
{
	struct kvm_cpuid2 *c = malloc(cpuid_bytes(supported->nent));
	unsigned apic_id = vcpu_index;

	if (!c)
		return -ENOMEM;
	memcpy(c, supported, cpuid_bytes(supported->nent));
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffff) | (apic_id << 24) |
				 ((ncpus > 255 ? 255 : ncpus) << 16);
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			if (ncpus > 1)
				e->edx |= CPUID_1_EDX_HTT;
			else
				e->edx &= ~CPUID_1_EDX_HTT;
			break;
		case 4: /* deterministic cache parameters: cores per package - 1 in [31:26] */
			e->eax = (e->eax & 0x03ffffff) | (((ncpus - 1) & 0x3f) << 26);
			e->eax &= ~(0xfffu << 14); /* one thread shares each cache level */
			break;
		case 0xb:
		case 0x1f:
			set_topology_leaf(e, apic_id, ncpus);
			break;
		case 0x80000008: /* AMD: NC and ApicIdCoreIdSize */
			e->ecx = (e->ecx & ~0xf0ffu) | (id_bits(ncpus) << 12) | ((ncpus - 1) & 0xff);
			break;
		}
	}
	*out = c;
	return 0;
}
