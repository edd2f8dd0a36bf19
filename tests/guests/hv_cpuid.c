/* Test guest: Hyper-V CPUID discovery (TLFS v6.0b §2.4, leaves 0x40000000-0x40000005): signatures,
 * the privileges Linux requires, no KVM signature at other bases; hv=off: none of it. */
#include "guest.h"
#include "hyperv.h"
#include "io.h"
#include "multiboot.h"

/* Cmdline: hv=off when the VM runs with --hyperv off: then the Hyper-V leaves and MSRs must be
 * absent (msr_gp=0: skip the MSR part). */
#define HV_MAX_LEAF_LIMIT 0x4000ffffu
#define HV_MIN_MAX_LEAF 0x40000005u
#define HV_LAST_KNOWN_LEAF 0x4000000au
#define SCAN_FIRST 0x40000100u
#define SCAN_LAST 0x4000ff00u
#define SCAN_STEP 0x100u

const char test_name[] = "hv_cpuid";

static bool is_kvm(uint32_t b, uint32_t c, uint32_t d)
{
	return b == 0x4b4d564b && c == 0x564b4d56 && d == 0x0000004d; /* "KVMKVMKVM\0\0\0" */
}

static void show_sig(const char *what, uint32_t leaf)
{
	uint32_t a, b, c, d;
	char sig[13];

	cpuid(leaf, 0, &a, &b, &c, &d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	for (int i = 0; i < 12; i++)
		if (sig[i] < 0x20 || sig[i] > 0x7e)
			sig[i] = '.';
	sig[12] = 0;
	con_printf("%s: leaf %#x: eax %#x signature '%s'\n", what, leaf, a, sig);
}

/* No "KVMKVMKVM" at any 0x100-aligned base Linux scans (its hypervisor_cpuid_base). */
static void scan_for_kvm(void)
{
	unsigned found = 0;
	uint32_t first = 0;

	for (uint32_t base = SCAN_FIRST; base <= SCAN_LAST; base += SCAN_STEP) {
		uint32_t a, b, c, d;

		cpuid(base, 0, &a, &b, &c, &d);
		if (is_kvm(b, c, d)) {
			if (!found)
				first = base;
			found++;
		}
	}
	check(found == 0, "no KVM signature at any base 0x40000100-0x4000ff00 (%u found, first %#x)",
	      found, first);
}

static void hyperv_off(void)
{
	uint32_t a, b, c, d;

	show_sig("hv=off", HV_CPUID_VENDOR);
	check(!hv_present(), "no \"Microsoft Hv\" at 0x40000000 with --hyperv off");
	cpuid(HV_CPUID_INTERFACE, 0, &a, &b, &c, &d);
	check(a != HV_INTERFACE_HV1, "no \"Hv#1\" interface with --hyperv off (eax %#x)", a);
	/* Nor the synthetic MSRs behind them (KVM's own Hyper-V emulation included). QEMU's TCG
	 * reads unknown MSRs as 0 instead of #GP: the runner says msr_gp=0 there. */
	if (cmdline_int("msr_gp", 1) == 0)
		return;
	static const uint32_t msrs[] = { HV_MSR_GUEST_OS_ID, HV_MSR_HYPERCALL, HV_MSR_VP_INDEX,
					 HV_MSR_TIME_REF_COUNT, HV_MSR_SCONTROL };

	for (unsigned i = 0; i < ARRAY_SIZE(msrs); i++) {
		int fault = hv_rdmsr_probe(msrs[i], NULL);

		check(fault == VEC_GP, "MSR %#x raises #GP with --hyperv off (vector %d)", msrs[i], fault);
	}
}

void test_main(void)
{
	uint32_t a, b, c, d, max;
	char mode[8] = "on";

	cmdline_value("hv", mode, sizeof(mode));
	if (!strcmp(mode, "off")) {
		hyperv_off();
		return;
	}

	cpuid(1, 0, &a, &b, &c, &d);
	check(c & CPUID1_ECX_HYPERVISOR, "CPUID.1:ECX bit 31 (hypervisor present) set (ecx %#x)", c);
	show_sig("vendor", HV_CPUID_VENDOR);
	if (!check(hv_present(), "vendor signature at 0x40000000 is \"Microsoft Hv\""))
		return;
	cpuid(HV_CPUID_VENDOR, 0, &max, &b, &c, &d);
	check(max >= HV_MIN_MAX_LEAF && max <= HV_MAX_LEAF_LIMIT,
	      "max leaf %#x in [0x40000005, 0x4000ffff]", max);
	cpuid(HV_CPUID_INTERFACE, 0, &a, &b, &c, &d);
	check(a == HV_INTERFACE_HV1, "0x40000001 EAX is \"Hv#1\" (%#x)", a);

	for (uint32_t leaf = HV_CPUID_VENDOR; leaf <= max && leaf <= HV_LAST_KNOWN_LEAF; leaf++) {
		cpuid(leaf, 0, &a, &b, &c, &d);
		con_printf("cpuid %#x: eax %#010x ebx %#010x ecx %#010x edx %#010x\n", leaf, a, b, c, d);
	}

	uint32_t priv_lo, priv_hi, misc;

	cpuid(HV_CPUID_FEATURES, 0, &priv_lo, &priv_hi, &c, &misc);
	check(priv_lo & HV_PRIV_HYPERCALL, "privilege: hypercall MSRs (0x40000003 EAX bit 5)");
	check(priv_lo & HV_PRIV_VP_INDEX, "privilege: VP index MSR (0x40000003 EAX bit 6)");
	check(!(priv_hi & HV_PRIV_CPU_MANAGEMENT), "not a root partition (0x40000003 EBX bit 12 clear)");
	check(priv_hi & HV_PRIV_POST_MESSAGES, "privilege: PostMessage (0x40000003 EBX bit 4)");
	check(priv_hi & HV_PRIV_SIGNAL_EVENTS, "privilege: SignalEvent (0x40000003 EBX bit 5)");
	if ((priv_lo & HV_PRIV_FREQUENCIES) || (misc & HV_FEAT_FREQUENCY_MSRS))
		check((priv_lo & HV_PRIV_FREQUENCIES) && (misc & HV_FEAT_FREQUENCY_MSRS),
		      "frequency MSRs: privilege (EAX bit 11) and availability (EDX bit 8) agree");
	if (misc & HV_FEAT_STIMER_DIRECT)
		check(priv_lo & HV_PRIV_STIMER, "stimer direct mode (EDX bit 19) comes with stimers (EAX bit 3)");

	cpuid(HV_CPUID_HINTS, 0, &a, &b, &c, &d);
	check(a & HV_HINT_DEPRECATE_AUTO_EOI, "hint: AutoEOI deprecated (0x40000004 EAX bit 9; %#x)", a);
	cpuid(HV_CPUID_LIMITS, 0, &a, &b, &c, &d);
	check(a >= 1, "0x40000005: max virtual processors %u >= 1", a);

	scan_for_kvm();
}
