/* A 16550A UART (see serial.h), after the PC16550D datasheet: registers, FIFO mode, loopback,
 * the four prioritised interrupt sources, IRQ output gated by MCR OUT2 as the PC board does. */
#include "emulated/serial.h"

#include <errno.h>
#include <string.h>

/* Register offsets (DLAB = LCR bit 7 turns 0/1 into the divisor latch). */
enum {
	REG_RBR_THR_DLL = 0,
	REG_IER_DLM = 1,
	REG_IIR_FCR = 2,
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* THR empty */
#define IER_ELSI 0x04  /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK 0x0f  /* bits 4-7 read as zero on a 16550A */

#define IIR_NONE 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_TIMEOUT 0x0c
#define IIR_FIFO_ENABLED 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04
#define FCR_TRIGGER 0xc0

#define LCR_BREAK 0x40
#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_PE 0x04
#define LSR_FE 0x08
#define LSR_BI 0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_FIFO_ERR 0x80
#define LSR_ERRORS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

static bool fifo_enabled(const struct serial *s)
{
	return s->fcr & FCR_ENABLE;
}

static unsigned fifo_capacity(const struct serial *s)
{
	return fifo_enabled(s) ? SERIAL_FIFO_LEN : 1;
}

/* Receive FIFO trigger level per FCR bits 6-7: 1, 4, 8 or 14 bytes. */
static unsigned rx_trigger(const struct serial *s)
{
	static const unsigned levels[4] = {1, 4, 8, 14};

	return fifo_enabled(s) ? levels[(s->fcr & FCR_TRIGGER) >> 6] : 1;
}

/* Modem input lines: the terminal is always there (CTS, DSR, DCD), or, in loopback, the MCR
 * outputs wired back: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
static uint8_t modem_lines(const struct serial *s)
{
	uint8_t m = s->mcr;

	if (!(m & MCR_LOOP))
		return MSR_CTS | MSR_DSR | MSR_DCD;
	return (m & MCR_DTR ? MSR_DSR : 0) | (m & MCR_RTS ? MSR_CTS : 0) |
	       (m & MCR_OUT1 ? MSR_RI : 0) | (m & MCR_OUT2 ? MSR_DCD : 0);
}

static void update_modem_lines(struct serial *s)
{
	uint8_t now = modem_lines(s), changed = now ^ s->msr_lines;

	if (changed & MSR_CTS)
		s->msr_delta |= MSR_DCTS;
	if (changed & MSR_DSR)
		s->msr_delta |= MSR_DDSR;
	if (changed & MSR_DCD)
		s->msr_delta |= MSR_DDCD;
	if ((changed & MSR_RI) && !(now & MSR_RI)) /* trailing edge only */
		s->msr_delta |= MSR_TERI;
	s->msr_lines = now;
}

/* The highest-priority pending and enabled source, as IIR bits 0-3. */
static uint8_t pending_source(const struct serial *s)
{
	if ((s->ier & IER_ELSI) && (s->lsr_err & LSR_ERRORS))
		return IIR_RLSI;
	if ((s->ier & IER_ERBFI) && s->fifo_count)
		/* Below the trigger level the character timeout stands in (without waiting). */
		return s->fifo_count >= rx_trigger(s) ? IIR_RDI : IIR_TIMEOUT;
	if ((s->ier & IER_ETBEI) && s->thri_pending)
		return IIR_THRI;
	if ((s->ier & IER_EDSSI) && s->msr_delta)
		return IIR_MSI;
	return IIR_NONE;
}

/* The PC board passes the UART's interrupt only while OUT2 is set; in loopback the OUT2 pin is
 * inactive, so nothing reaches the interrupt controller. Lock held. */
static void update_irq(struct serial *s)
{
	bool level = pending_source(s) != IIR_NONE && (s->mcr & MCR_OUT2) && !(s->mcr & MCR_LOOP);

	if (level != s->irq_level) {
		s->irq_level = level;
		irq_line_set(&s->irq, level);
	}
}

static void fifo_push(struct serial *s, uint8_t c)
{
	s->fifo[(s->fifo_head + s->fifo_count) % SERIAL_FIFO_LEN] = c;
	s->fifo_count++;
}

/* Moves backlog bytes into the FIFO while it has room; the external line is disconnected in
 * loopback, so host input then waits. */
static void refill(struct serial *s)
{
	if (s->mcr & MCR_LOOP)
		return;
	while (s->backlog_count && s->fifo_count < fifo_capacity(s)) {
		fifo_push(s, s->backlog[s->backlog_head]);
		s->backlog_head = (s->backlog_head + 1) % SERIAL_BACKLOG_LEN;
		s->backlog_count--;
	}
}

static void clear_rx_fifo(struct serial *s)
{
	s->fifo_head = s->fifo_count = 0;
	refill(s);
}

/* A character arriving through loopback: the FIFO overruns when full (in 16450 mode the
 * holding register is overwritten, in FIFO mode the new character is lost). */
static void loopback_receive(struct serial *s, uint8_t c)
{
	if (s->fifo_count < fifo_capacity(s)) {
		fifo_push(s, c);
		return;
	}
	s->lsr_err |= LSR_OE;
	if (!fifo_enabled(s))
		s->fifo[s->fifo_head] = c;
}

static uint8_t read_rbr(struct serial *s)
{
	uint8_t c;

	if (!s->fifo_count)
		return 0;
	c = s->fifo[s->fifo_head];
	s->fifo_head = (s->fifo_head + 1) % SERIAL_FIFO_LEN;
	s->fifo_count--;
	refill(s);
	return c;
}

static uint8_t read_iir(struct serial *s)
{
	uint8_t src = pending_source(s);

	if (src == IIR_THRI)
		s->thri_pending = false;
	return src | (fifo_enabled(s) ? IIR_FIFO_ENABLED : 0);
}

static uint8_t read_lsr(struct serial *s)
{
	/* The transmitter is never busy: output goes to the host as soon as THR is written. */
	uint8_t v = LSR_THRE | LSR_TEMT | s->lsr_err;

	if (s->fifo_count)
		v |= LSR_DR;
	if (fifo_enabled(s) && (s->lsr_err & (LSR_PE | LSR_FE | LSR_BI)))
		v |= LSR_FIFO_ERR;
	s->lsr_err = 0;
	return v;
}

static uint8_t read_msr(struct serial *s)
{
	uint8_t v = s->msr_lines | s->msr_delta;

	s->msr_delta = 0;
	return v;
}

static uint8_t read_reg(struct serial *s, unsigned reg)
{
	bool dlab = s->lcr & LCR_DLAB;

	switch (reg) {
	case REG_RBR_THR_DLL:
		return dlab ? s->dll : read_rbr(s);
	case REG_IER_DLM:
		return dlab ? s->dlm : s->ier;
	case REG_IIR_FCR:
		return read_iir(s);
	case REG_LCR:
		return s->lcr;
	case REG_MCR:
		return s->mcr;
	case REG_LSR:
		return read_lsr(s);
	case REG_MSR:
		return read_msr(s);
	default:
		return s->scr;
	}
}

static void write_fcr(struct serial *s, uint8_t v)
{
	/* Toggling the enable bit resets both FIFOs; other bits need the enable bit set. */
	if ((v ^ s->fcr) & FCR_ENABLE) {
		s->fcr = v & FCR_ENABLE ? (v & (FCR_ENABLE | FCR_TRIGGER)) : 0;
		clear_rx_fifo(s);
		return;
	}
	if (!(v & FCR_ENABLE))
		return;
	s->fcr = v & (FCR_ENABLE | FCR_TRIGGER);
	if (v & FCR_CLEAR_RX)
		clear_rx_fifo(s);
	/* FCR_CLEAR_TX: the transmit FIFO is always empty. */
}

static void write_mcr(struct serial *s, uint8_t v)
{
	bool was_loop = s->mcr & MCR_LOOP;

	s->mcr = v & MCR_MASK;
	update_modem_lines(s);
	if (was_loop && !(s->mcr & MCR_LOOP))
		refill(s);
}

/* Returns true and sets *tx when a byte must go to the host. */
static bool write_reg(struct serial *s, unsigned reg, uint8_t v, uint8_t *tx)
{
	bool dlab = s->lcr & LCR_DLAB;

	switch (reg) {
	case REG_RBR_THR_DLL:
		if (dlab) {
			s->dll = v;
			return false;
		}
		/* Written and at once transmitted: THR is empty again. */
		s->thri_pending = true;
		if (s->mcr & MCR_LOOP) {
			loopback_receive(s, v);
			return false;
		}
		*tx = v;
		return true;
	case REG_IER_DLM:
		if (dlab) {
			s->dlm = v;
		} else {
			uint8_t old = s->ier;

			s->ier = v & IER_MASK;
			/* Enabling ETBEI with THR empty raises the THRE interrupt (Linux's 8250 driver
			 * relies on this to start transmitting). */
			if (!(old & IER_ETBEI) && (s->ier & IER_ETBEI))
				s->thri_pending = true;
		}
		return false;
	case REG_IIR_FCR:
		write_fcr(s, v);
		return false;
	case REG_LCR:
		/* A break set in loopback is received as a break: a NUL with BI. */
		if ((v & LCR_BREAK) && !(s->lcr & LCR_BREAK) && (s->mcr & MCR_LOOP)) {
			loopback_receive(s, 0);
			s->lsr_err |= LSR_BI;
		}
		s->lcr = v;
		return false;
	case REG_MCR:
		write_mcr(s, v);
		return false;
	case REG_SCR:
		s->scr = v;
		return false;
	default:
		return false; /* LSR, MSR: writes are factory-test only, ignored */
	}
}

static int serial_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	struct serial *s = opaque;
	uint8_t *out = data;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < size; i++)
		out[i] = offset + i < SERIAL_WINDOW_LEN ? read_reg(s, (unsigned)offset + i) : 0xff;
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int serial_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	struct serial *s = opaque;
	const uint8_t *in = data;
	uint8_t tx[8];
	unsigned ntx = 0;

	if (size > sizeof(tx))
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < size && offset + i < SERIAL_WINDOW_LEN; i++)
		if (write_reg(s, (unsigned)offset + i, in[i], &tx[ntx]))
			ntx++;
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	/* Outside the lock: host output may block; the guest serialises its own THR writes. */
	if (ntx && s->cd)
		chardev_write(s->cd, tx, ntx);
	return 0;
}

const struct io_dev_ops serial_ops = {
	.read = serial_read,
	.write = serial_write,
};

void serial_receive(void *opaque, const uint8_t *buf, size_t len)
{
	struct serial *s = opaque;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < len; i++) {
		if (s->backlog_count == SERIAL_BACKLOG_LEN)
			refill(s);
		if (s->backlog_count == SERIAL_BACKLOG_LEN) {
			/* The guest is not reading: what does not fit is lost, as an overrun. */
			s->lsr_err |= LSR_OE;
			break;
		}
		s->backlog[(s->backlog_head + s->backlog_count) % SERIAL_BACKLOG_LEN] = buf[i];
		s->backlog_count++;
	}
	refill(s);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

int serial_init(struct serial *s, struct chardev *cd, struct irq_line irq)
{
	int ret;

	memset(s, 0, sizeof(*s));
	ret = pthread_mutex_init(&s->lock, NULL);
	if (ret)
		return -ret;
	s->cd = cd;
	s->irq = irq;
	s->dll = 12; /* 9600 baud */
	s->msr_lines = modem_lines(s);
	if (cd)
		chardev_set_receiver(cd, serial_receive, s);
	return 0;
}

void serial_destroy(struct serial *s)
{
	if (s->cd)
		chardev_set_receiver(s->cd, NULL, NULL);
	pthread_mutex_destroy(&s->lock);
}
