/* Interrupt descriptor table of the test guests: exception stubs that report and fail, per-vector
 * handlers, and fault probes (run a function, catch the exception it raises). */
#ifndef GUEST_TRAP_H
#define GUEST_TRAP_H

#include <stdint.h>

#define TRAP_VECTORS 64 /* 0-31 exceptions, 32-63 for interrupts a test programs */

#define VEC_DE 0
#define VEC_DB 1
#define VEC_NMI 2
#define VEC_BP 3
#define VEC_UD 6
#define VEC_DF 8
#define VEC_GP 13
#define VEC_PF 14

/* What the stubs push (general registers last pushed first), then the CPU's frame. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

typedef void (*trap_handler)(struct trap_frame *f);

/* Builds the IDT and loads it on the calling CPU (BSP, once). */
void trap_init(void);
/* Loads the already built IDT (each AP). */
void trap_load(void);
/* Installs a handler for one vector; NULL restores "unexpected: fail". */
void trap_set_handler(unsigned vector, trap_handler h);
const char *trap_name(unsigned vector);

/* A fault probe: runs fn(arg); if it raises an exception, control comes back from probe_run
 * (with the probe's record filled) instead of failing the test. BSP only, not nested. */
struct probe {
	uint64_t saved[7]; /* rbx, rbp, r12-r15, rsp: filled by probe_run */
	uint64_t vector, error, rip, cr2;
};
/* Returns 0 when fn returned normally, 1 when it faulted. */
int probe_run(struct probe *p, void (*fn)(void *), void *arg);

#endif
