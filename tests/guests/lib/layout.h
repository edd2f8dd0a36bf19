/* Addresses, sizes and selectors the test guests' assembly and C share; the entry state record. */
#ifndef GUEST_LAYOUT_H
#define GUEST_LAYOUT_H

#define GUEST_EXIT_PORT 0xf4  /* isa-debug-exit: a write of v ends the VM with status (v << 1) | 1 */
#define GUEST_PASS 0x10       /* exit status 33 */
#define GUEST_FAIL 0x11       /* exit status 35 */

#define MAX_CPUS 64
#define BSP_STACK_SIZE 0x8000
#define AP_STACK_SIZE 0x2000

#define GDT_CODE64 0x08
#define GDT_DATA 0x10
#define GDT_CODE32 0x18
#define GDT_LIMIT 31          /* four descriptors */

/* The AP trampoline runs here (real mode, CS = 0x1000): below 1 MiB, above the VMM's boot data
 * at 0x500-0xffff, under its command line at 0x20000. The SIPI vector is the page number. */
#define AP_TRAMPOLINE_ADDR 0x10000
#define AP_TRAMPOLINE_MAX 0x1000

/* struct entry_state offsets (what the 32-bit entry saw, before touching anything). */
#define ES_EAX 0
#define ES_EBX 4
#define ES_EFLAGS 8
#define ES_CR0 12
#define ES_CR4 16
#define ES_CS 20
#define ES_DS 24
#define ES_SS 28
#define ES_EFER 32
#define ES_SIZE 36

#ifndef __ASSEMBLER__
#include <stdint.h>

struct entry_state {
	uint32_t eax, ebx, eflags, cr0, cr4, cs, ds, ss, efer;
};
_Static_assert(sizeof(struct entry_state) == ES_SIZE, "entry_state layout");
extern struct entry_state entry_state;
#endif

#endif
