/* Test guest: the 16550 on COM1 — a long output line, a line of input read by polling LSR.DR and
 * echoed, the scratch register, the divisor latch behind LCR.DLAB, and loopback mode. */
#include "guest.h"
#include "io.h"
#include "multiboot.h"
#include "timer.h"
#include "uart.h"

/* Cmdline: input=<the line the runner writes on stdin> (checked when present). The long line is
 * "long: " then LONG_LINE_LEN characters cycling through LONG_LINE_ALPHABET. */
#define LONG_LINE_LEN 300
#define LONG_LINE_ALPHABET "0123456789abcdefghijklmnopqrstuvwxyz"
#define INPUT_TIMEOUT_US 10000000
#define SPIN_LIMIT 100000

const char test_name[] = "serial_io";

static uint8_t reg_read(unsigned reg)
{
	return inb((uint16_t)(COM1 + reg));
}

static void reg_write(unsigned reg, uint8_t v)
{
	outb((uint16_t)(COM1 + reg), v);
}

static void long_line(void)
{
	static char line[LONG_LINE_LEN + 8];
	const char *abc = LONG_LINE_ALPHABET;
	size_t n = strlen(abc), i;

	memcpy(line, "long: ", 6);
	for (i = 0; i < LONG_LINE_LEN; i++)
		line[6 + i] = abc[i % n];
	line[6 + i] = '\n';
	con_write(line, 7 + i);
}

static void read_input(void)
{
	char line[128], want[128];
	size_t n = 0;
	bool eol = false;
	uint64_t deadline;

	con_printf("serial_io: ready for input\n");
	deadline = timer_now_us() + INPUT_TIMEOUT_US;
	while (!eol && timer_now_us() < deadline) {
		if (!uart_has_input()) {
			cpu_relax();
			continue;
		}
		char c = (char)uart_getc();

		if (c == '\n')
			eol = true;
		else if (c != '\r' && n + 1 < sizeof(line))
			line[n++] = c;
	}
	line[n] = '\0';
	con_printf("echo: %s\n", line);
	check(eol, "read a line of input (%zu characters)", n);
	if (cmdline_value("input", want, sizeof(want)))
		check(!strcmp(line, want), "input is what the runner sent ('%s')", want);
}

static void registers(void)
{
	uint8_t dll, dlm, ier, lcr;

	uart_flush();
	check((reg_read(UART_LSR) & (LSR_THRE | LSR_TEMT)) == (LSR_THRE | LSR_TEMT),
	      "LSR shows an idle transmitter (%#x)", reg_read(UART_LSR));
	check((reg_read(UART_IIR) & 0x01) == 0x01, "IIR: no interrupt pending (%#x)", reg_read(UART_IIR));

	reg_write(UART_SCR, 0x5a);
	uint8_t s1 = reg_read(UART_SCR);
	reg_write(UART_SCR, 0xa5);
	uint8_t s2 = reg_read(UART_SCR);
	check(s1 == 0x5a && s2 == 0xa5, "scratch register holds 0x5a and 0xa5 (%#x, %#x)", s1, s2);

	reg_write(UART_LCR, LCR_DLAB | LCR_8N1);
	reg_write(UART_DLL, 0x0c);
	reg_write(UART_DLM, 0x01);
	dll = reg_read(UART_DLL);
	dlm = reg_read(UART_DLM);
	lcr = reg_read(UART_LCR);
	reg_write(UART_LCR, LCR_8N1);
	/* Nothing may print while DLAB is set: THR is the divisor latch then. */
	check(lcr == (LCR_DLAB | LCR_8N1), "LCR reads back with DLAB set (%#x)", lcr);
	ier = reg_read(UART_IER);
	check(dll == 0x0c && dlm == 0x01, "divisor latch round trip (%#x %#x)", dll, dlm);
	check(ier == 0, "with DLAB clear, offset 1 is IER again (%#x)", ier);
	check(reg_read(UART_LCR) == LCR_8N1, "LCR reads back 8N1");
	reg_write(UART_LCR, LCR_DLAB | LCR_8N1);
	reg_write(UART_DLL, 1);
	reg_write(UART_DLM, 0);
	reg_write(UART_LCR, LCR_8N1);
}

static bool wait_rx(void)
{
	for (unsigned i = 0; i < SPIN_LIMIT; i++)
		if (uart_has_input())
			return true;
	return false;
}

static void loopback(void)
{
	static const struct {
		uint8_t mcr, msr;
		const char *what;
	} mirror[] = {
		{ MCR_DTR, MSR_DSR, "DTR->DSR" },
		{ MCR_RTS, MSR_CTS, "RTS->CTS" },
		{ MCR_OUT1, MSR_RI, "OUT1->RI" },
		{ MCR_OUT2, MSR_DCD, "OUT2->DCD" },
		{ MCR_DTR | MCR_RTS | MCR_OUT1 | MCR_OUT2, 0xf0, "all four" },
		{ 0, 0, "none" },
	};

	uart_flush();
	while (uart_has_input())
		(void)uart_getc();
	for (size_t i = 0; i < ARRAY_SIZE(mirror); i++) {
		reg_write(UART_MCR, MCR_LOOP | mirror[i].mcr);
		uint8_t msr = reg_read(UART_MSR) & 0xf0;

		reg_write(UART_MCR, MCR_DTR | MCR_RTS);
		check(msr == mirror[i].msr, "loopback MSR mirrors MCR %s (%#x)", mirror[i].what, msr);
	}

	static const uint8_t bytes[] = { 0xa5, 0x3c, '\n' };

	for (size_t i = 0; i < ARRAY_SIZE(bytes); i++) {
		reg_write(UART_MCR, MCR_LOOP | MCR_DTR | MCR_RTS);
		reg_write(UART_THR, bytes[i]);
		bool got = wait_rx();
		uint8_t v = got ? uart_getc() : 0;

		reg_write(UART_MCR, MCR_DTR | MCR_RTS);
		check(got && v == bytes[i], "loopback returns %#x in RBR (%s %#x)", bytes[i],
		      got ? "got" : "nothing,", v);
	}
}

void test_main(void)
{
	long_line();
	read_input();
	registers();
	loopback();
	con_printf("serial_io: output works after loopback\n");
}
