/* CPL 3 for the Hyper-V test guests (TLFS v6.0b §3.6: hypercalls only at CPL 0): IRETQ to a
 * user code segment, the way back from the exception that ends the user code, user snippets. */
#include "layout.h"

#define USER_CS 0x23 /* GDT index 4, RPL 3 (hyperv.c builds that GDT) */
#define USER_DS 0x2b /* GDT index 5, RPL 3 */

/* struct user_ctx in hyperv.c */
#define UC_SAVED_RSP 0
#define UC_RIP 8
#define UC_RSP 16
#define UC_RFLAGS 24
#define UC_RCX 32
#define UC_RDX 40
#define UC_R8 48
#define UC_R9 56

	.text
	.code64
/* void hv_user_enter(struct user_ctx *ctx): returns (through hv_user_return) once the user
 * code has raised an exception and hyperv.c's handler has sent it back here. */
	.globl hv_user_enter
hv_user_enter:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, UC_SAVED_RSP(%rdi)
	pushq $USER_DS
	pushq UC_RSP(%rdi)
	pushq UC_RFLAGS(%rdi)
	pushq $USER_CS
	pushq UC_RIP(%rdi)
	mov UC_RCX(%rdi), %rcx
	mov UC_RDX(%rdi), %rdx
	mov UC_R8(%rdi), %r8
	mov UC_R9(%rdi), %r9
	xor %eax, %eax
	xor %ebx, %ebx
	xor %esi, %esi
	xor %edi, %edi
	xor %ebp, %ebp
	iretq

/* Entered by IRETQ at CPL 0 with the RSP hv_user_enter saved. */
	.globl hv_user_return
hv_user_return:
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret

/* User mode: RAX = CS, then HLT (privileged: #GP at CPL 3). */
	.globl hv_user_read_cs
hv_user_read_cs:
	mov %cs, %rax
	hlt
	jmp hv_user_read_cs

/* User mode: a write to port 0x80 (allowed only with IOPL 3), then HLT. */
	.globl hv_user_port80, hv_user_port80_hlt
hv_user_port80:
	mov $0x80, %dx
	outb %al, %dx
hv_user_port80_hlt:
	hlt
	jmp hv_user_port80

/* User mode: call the hypercall page at R9 with RCX/RDX/R8 as given, then HLT with its RAX. */
	.globl hv_user_hypercall
hv_user_hypercall:
	call *%r9
	hlt
	jmp hv_user_hypercall

	.section .note.GNU-stack, "", @progbits
