/* The hypercall page trampoline (HV_HYPERCALL_PAGE_CODE, src/hv-enlight/tlfs.h), executed here in
 * 64-bit user mode. Its OUTs fault in user mode (#GP, SIGSEGV): the handler plays the VMM, notes
 * the registers at the port write and completes it as hvkvm does. User mode is CPL 3, where the
 * page must raise #UD; the rest is entered just past that check. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "hv-enlight/tlfs.h"
#include "unit.h"

static const uint8_t code[] = HV_HYPERCALL_PAGE_CODE;
static uint8_t *page;

/* What the "VMM" saw at the trapping OUT, and what it answers. */
static struct {
	unsigned traps;
	uint64_t offset; /* RIP - page */
	uint64_t rax, rcx, rdx, r8;
	uint64_t answer; /* doorbell: the status put in RCX; hypercall port: RAX */
} vmm;

static sigjmp_buf ud_jump;
static uint64_t ud_offset;

static void on_segv(int sig, siginfo_t *si, void *uc_void)
{
	ucontext_t *uc = uc_void;
	greg_t *r = uc->uc_mcontext.gregs;

	(void)sig, (void)si;
	vmm.traps++;
	vmm.offset = (uint64_t)r[REG_RIP] - (uint64_t)(uintptr_t)page;
	vmm.rax = (uint64_t)r[REG_RAX];
	vmm.rcx = (uint64_t)r[REG_RCX];
	vmm.rdx = (uint64_t)r[REG_RDX];
	vmm.r8 = (uint64_t)r[REG_R8];
	if (page[vmm.offset] == 0xef) { /* out %eax,(%dx): the doorbell */
		r[REG_RCX] = (greg_t)vmm.answer;
		r[REG_RIP] += 1;
	} else { /* out %al,$imm8: the hypercall port */
		r[REG_RAX] = (greg_t)vmm.answer;
		r[REG_RIP] += 2;
	}
}

static void on_ill(int sig, siginfo_t *si, void *uc_void)
{
	ucontext_t *uc = uc_void;

	(void)sig, (void)si;
	ud_offset = (uint64_t)uc->uc_mcontext.gregs[REG_RIP] - (uint64_t)(uintptr_t)page;
	siglongjmp(ud_jump, 1);
}

/* The call as Linux and Windows make it: RCX control, RDX input, R8 output; RAX the result. */
static uint64_t call(const uint8_t *entry, uint64_t control, uint64_t input, uint64_t output)
{
	register uint64_t r8 __asm__("r8") = output;
	uint64_t rax;

	/* below the stack pointer may be the compiler's red zone: step over it */
	__asm__ volatile("sub $128, %%rsp\n\tcall *%[entry]\n\tadd $128, %%rsp"
			 : "=a"(rax), "+c"(control), "+d"(input), "+r"(r8)
			 : [entry] "r"(entry)
			 : "r9", "r10", "r11", "memory", "cc");
	return rax;
}

/* Entry past the CPL check (offset 12: push/mov cs/test/pop/jnz). */
#define PAST_CPL_CHECK 12
#define DOORBELL_OUT_AT 0x31
#define HYPERCALL_OUT_AT 0x35
#define FAST_SIGNAL_EVENT (0x005dull | 1ull << 16)

static void test_doorbell(void)
{
	memset(&vmm, 0, sizeof(vmm));
	vmm.answer = 0;
	CHECK_EQ(call(page + PAST_CPL_CHECK, FAST_SIGNAL_EVENT, 0x2a0001, 0x77), 0);
	CHECK_EQ(vmm.traps, 1);
	CHECK_EQ(vmm.offset, DOORBELL_OUT_AT);
	CHECK_EQ(vmm.rax, 0x2a0001); /* the connection id is the data */
	CHECK_EQ(vmm.rdx, HV_SIGNAL_PORT);
	CHECK_EQ(vmm.rcx, 0);        /* success unless the VMM says otherwise */
	CHECK_EQ(vmm.r8, 0x77);

	/* A connection no eventfd matches: the VMM's status comes back in RAX. */
	vmm.answer = HV_STATUS_INVALID_CONNECTION_ID;
	CHECK_EQ(call(page + PAST_CPL_CHECK, FAST_SIGNAL_EVENT, 0xffffffff, 0),
		 HV_STATUS_INVALID_CONNECTION_ID);
	CHECK_EQ(vmm.offset, DOORBELL_OUT_AT);
	CHECK_EQ(vmm.rax, 0xffffffff);
}

/* Anything else goes to the hypercall port with the caller's registers untouched. */
static void expect_hypercall_port(uint64_t control, uint64_t input, uint64_t output)
{
	memset(&vmm, 0, sizeof(vmm));
	vmm.answer = 0x1234;
	CHECK_EQ(call(page + PAST_CPL_CHECK, control, input, output), 0x1234);
	CHECK_EQ(vmm.traps, 1);
	CHECK_EQ(vmm.offset, HYPERCALL_OUT_AT);
	CHECK_EQ(vmm.rcx, control);
	CHECK_EQ(vmm.rdx, input);
	CHECK_EQ(vmm.r8, output);
}

static void test_other_calls(void)
{
	expect_hypercall_port(FAST_SIGNAL_EVENT, 0x2a0001 | 1ull << 32, 0); /* flag 1 */
	expect_hypercall_port(FAST_SIGNAL_EVENT, 0x2a0001 | 1ull << 63, 0); /* reserved bits */
	expect_hypercall_port(0x005d, 0x10000, 0);                          /* slow signal */
	expect_hypercall_port(FAST_SIGNAL_EVENT | 1ull << 32, 0x2a0001, 0); /* a rep count */
	expect_hypercall_port(0x005c, 0x10000, 0x11000);                    /* HvPostMessage */
	expect_hypercall_port(0x0008 | 1ull << 16, 0x1, 0x2);               /* another fast call */
}

static void test_cpl3_ud(void)
{
	ud_offset = 0;
	if (sigsetjmp(ud_jump, 1) == 0) {
		call(page, FAST_SIGNAL_EVENT, 0x2a0001, 0);
		CHECK(!"the trampoline returned at CPL 3");
	}
	CHECK_EQ(ud_offset, 0x38);
	CHECK_EQ(page[ud_offset], 0x0f);
	CHECK_EQ(page[ud_offset + 1], 0x0b);
}

int main(void)
{
	struct sigaction sa = {.sa_flags = SA_SIGINFO};

	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	CHECK(page != MAP_FAILED);
	if (page == MAP_FAILED)
		return unit_done("test_hv_trampoline");
	memset(page, HV_HYPERCALL_PAGE_FILL, 4096);
	memcpy(page, code, sizeof(code));
	sigemptyset(&sa.sa_mask);
	sa.sa_sigaction = on_segv;
	sigaction(SIGSEGV, &sa, NULL);
	sa.sa_sigaction = on_ill;
	sigaction(SIGILL, &sa, NULL);

	test_doorbell();
	test_other_calls();
	test_cpl3_ud();
	return unit_done("test_hv_trampoline");
}
