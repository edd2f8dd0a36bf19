/* Multiboot v1 header and entry of the test guests: from the loader's 32-bit protected mode to
 * long mode (own GDT, identity map of the low 4 GiB with 2 MiB pages), on the BSP and on each AP. */
#include "layout.h"

#define MB_MAGIC 0x1badb002
/* bit 0: page-align modules; bit 1: memory info wanted; bit 16: the address fields below are valid
 * (a.out kludge), so an ELF64 build of the same image loads too. */
#define MB_FLAGS 0x00010003

#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define CR0_PE 0x1
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define PTE_P_RW 0x3
#define PDE_2M 0x83        /* present, writable, page size */
#define PDE_UC 0x18        /* PWT|PCD: the top GiB holds the LAPIC, IOAPIC and the MMIO hole */

	.section .multiboot, "a"
	.balign 4
mb_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long (-(MB_MAGIC + MB_FLAGS)) & 0xffffffff
	.long mb_header          /* header_addr */
	.long __image_start      /* load_addr */
	.long __load_end         /* load_end_addr */
	.long __bss_end          /* bss_end_addr */
	.long _start             /* entry_addr */

	.section .text.entry, "ax"
	.code32
	.globl _start
_start:
	/* The loader gives no stack; take ours before anything that pushes. */
	mov $bsp_stack_top, %esp
	mov %eax, entry_state + ES_EAX
	mov %ebx, entry_state + ES_EBX
	pushfl
	popl entry_state + ES_EFLAGS
	cli
	cld
	mov %cr0, %eax
	mov %eax, entry_state + ES_CR0
	mov %cr4, %eax
	mov %eax, entry_state + ES_CR4
	mov %cs, %eax
	mov %eax, entry_state + ES_CS
	mov %ds, %eax
	mov %eax, entry_state + ES_DS
	mov %ss, %eax
	mov %eax, entry_state + ES_SS
	mov $MSR_EFER, %ecx
	rdmsr
	mov %eax, entry_state + ES_EFER

	/* Long mode present? (CPUID 0x80000001 EDX bit 29) Otherwise fail through the exit port. */
	mov $0x80000000, %eax
	cpuid
	cmp $0x80000001, %eax
	jb no_long_mode
	mov $0x80000001, %eax
	cpuid
	bt $29, %edx
	jnc no_long_mode

	/* PML4[0] -> PDPT; PDPT[0..3] -> four page directories of 512 2 MiB pages each. */
	mov $pml4, %edi
	mov $pdpt, %eax
	or $PTE_P_RW, %eax
	mov %eax, (%edi)
	movl $0, 4(%edi)
	mov $pdpt, %edi
	mov $page_dirs, %eax
	or $PTE_P_RW, %eax
	xor %ecx, %ecx
1:	mov %eax, (%edi,%ecx,8)
	movl $0, 4(%edi,%ecx,8)
	add $4096, %eax
	inc %ecx
	cmp $4, %ecx
	jb 1b
	mov $page_dirs, %edi
	xor %ecx, %ecx
2:	mov %ecx, %eax
	shl $21, %eax
	or $PDE_2M, %eax
	cmp $1536, %ecx
	jb 3f
	or $PDE_UC, %eax
3:	mov %eax, (%edi,%ecx,8)
	movl $0, 4(%edi,%ecx,8)
	inc %ecx
	cmp $2048, %ecx
	jb 2b

	lgdt gdt_ptr
	jmp enter_long_mode

no_long_mode:
	mov $GUEST_EXIT_PORT, %dx
	mov $GUEST_FAIL, %eax
	outl %eax, %dx
4:	hlt
	jmp 4b

	/* Shared by the BSP and the APs (which arrive from the trampoline in 32-bit protected
	 * mode with our GDT loaded): PAE, CR3, EFER.LME, paging, then a far jump into 64-bit code. */
	.globl enter_long_mode
enter_long_mode:
	mov %cr4, %eax
	or $CR4_PAE, %eax
	mov %eax, %cr4
	mov $pml4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	or $(CR0_PG | CR0_PE), %eax
	mov %eax, %cr0
	ljmp $GDT_CODE64, $long_mode_entry

	.code64
long_mode_entry:
	mov $GDT_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	/* The first CPU here is the BSP; the others take a ticket that picks their stack. */
	mov $1, %eax
	lock xaddl %eax, cpu_ticket(%rip)
	test %eax, %eax
	jnz ap_entry
	mov $bsp_stack_top, %rsp
	xor %ebp, %ebp
	call runtime_start_bsp
5:	cli
	hlt
	jmp 5b

ap_entry:
	cmp $MAX_CPUS, %eax
	jae 5b
	mov %eax, %edi
	mov %eax, %ecx              /* tickets 1..MAX_CPUS-1: stack ticket-1, top at ticket*size */
	imul $AP_STACK_SIZE, %ecx
	lea ap_stacks(%rip), %rsp
	add %rcx, %rsp
	xor %ebp, %ebp
	call smp_ap_main
	jmp 5b

	.section .data
	.balign 16
	.globl gdt
gdt:
	.quad 0
	.quad 0x00af9a000000ffff   /* GDT_CODE64: 64-bit code */
	.quad 0x00cf92000000ffff   /* GDT_DATA: flat data */
	.quad 0x00cf9a000000ffff   /* GDT_CODE32: flat 32-bit code (AP trampoline) */
	.balign 8
	.globl gdt_ptr
gdt_ptr:
	.word GDT_LIMIT
	.quad gdt

	.balign 4
cpu_ticket:
	.long 0

	.section .bss
	.balign 4096
	.globl pml4
pml4:	.skip 4096
pdpt:	.skip 4096
page_dirs:
	.skip 4 * 4096
	.balign 16
	.skip BSP_STACK_SIZE
bsp_stack_top:
	.balign 16
ap_stacks:
	.skip MAX_CPUS * AP_STACK_SIZE
	.balign 8
	.globl entry_state
entry_state:
	.skip ES_SIZE

	.section .note.GNU-stack, "", @progbits
