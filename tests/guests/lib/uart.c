/* Polled COM1 driver of the test guests: transmit on LSR.THRE, receive on LSR.DR. */
#include "uart.h"

#include "io.h"

/* A UART that never reports THRE (or is absent) must not hang the guest forever. */
#define UART_SPIN_LIMIT 1000000

void uart_init(void)
{
	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_LCR, LCR_DLAB);
	outb(COM1 + UART_DLL, 1);
	outb(COM1 + UART_DLM, 0);
	outb(COM1 + UART_LCR, LCR_8N1);
	outb(COM1 + UART_MCR, MCR_DTR | MCR_RTS);
}

void uart_putc(char c)
{
	for (unsigned i = 0; i < UART_SPIN_LIMIT; i++)
		if (inb(COM1 + UART_LSR) & LSR_THRE)
			break;
	outb(COM1 + UART_THR, (uint8_t)c);
}

void uart_flush(void)
{
	for (unsigned i = 0; i < UART_SPIN_LIMIT; i++)
		if (inb(COM1 + UART_LSR) & LSR_TEMT)
			break;
}

bool uart_has_input(void)
{
	return inb(COM1 + UART_LSR) & LSR_DR;
}

uint8_t uart_getc(void)
{
	return inb(COM1 + UART_RBR);
}
