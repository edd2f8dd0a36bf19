/* Polled 16550A UART on COM1 (register names from the 16550 data sheet). */
#ifndef GUEST_UART_H
#define GUEST_UART_H

#include <stdbool.h>
#include <stdint.h>

#define COM1 0x3f8
#define UART_RBR 0 /* receive buffer (read, DLAB=0) */
#define UART_THR 0 /* transmit holding (write, DLAB=0) */
#define UART_DLL 0 /* divisor latch low (DLAB=1) */
#define UART_IER 1
#define UART_DLM 1 /* divisor latch high (DLAB=1) */
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define LCR_8N1 0x03
#define LCR_DLAB 0x80
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

/* 115200 8N1, interrupts off; leaves the FIFO setting alone so input already queued survives. */
void uart_init(void);
void uart_putc(char c);
/* Waits for transmitter empty, bounded. */
void uart_flush(void);
bool uart_has_input(void);
uint8_t uart_getc(void); /* reads RBR; call after uart_has_input() */

#endif
