/* Real-mode start of an application processor (copied to AP_TRAMPOLINE_ADDR, entered by SIPI):
 * loads the shared GDT, enters flat 32-bit protected mode and joins the BSP's path to long mode. */
#include "layout.h"

#define REL(sym) (AP_TRAMPOLINE_ADDR + (sym) - ap_trampoline_start)

	.section .rodata
	.code16
	.globl ap_trampoline_start, ap_trampoline_end
ap_trampoline_start:
	cli
	cld
	mov %cs, %ax
	mov %ax, %ds
	lgdtl tramp_gdt_ptr - ap_trampoline_start
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $GDT_CODE32, $REL(tramp32)

	.code32
tramp32:
	mov $GDT_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov $enter_long_mode, %eax
	jmp *%eax

	.balign 8
tramp_gdt_ptr:
	.word GDT_LIMIT
	.long gdt
ap_trampoline_end:
	.code64

	.section .note.GNU-stack, "", @progbits
