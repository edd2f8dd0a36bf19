/* Unit tests for the 16550A UART (register file, Linux 8250 probe sequences, interrupt priority
 * and line levels, receive backlog) and for the character backends. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend/chardev.h"
#include "emulated/serial.h"
#include "unit.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4,
       LSR = 5, MSR = 6, SCR = 7 };

struct irq_rec {
	bool level;
	unsigned changes; /* calls that changed the level */
	unsigned calls;
};

static void rec_set(void *ctx, unsigned gsi, bool level)
{
	struct irq_rec *r = ctx;

	(void)gsi;
	r->calls++;
	if (level != r->level)
		r->changes++;
	r->level = level;
}

static uint8_t in(struct serial *s, unsigned reg)
{
	uint8_t v = 0;

	CHECK_EQ(serial_ops.read(s, reg, &v, 1), 0);
	return v;
}

static void out(struct serial *s, unsigned reg, uint8_t v)
{
	CHECK_EQ(serial_ops.write(s, reg, &v, 1), 0);
}

static char tmpdir[] = "/tmp/hvkvm-test-serial-XXXXXX";

static void path_in_tmp(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void test_reset_state(void)
{
	struct irq_rec rec = {0};
	struct serial s;

	CHECK_EQ(serial_init(&s, NULL, (struct irq_line){rec_set, &rec, 4}), 0);
	CHECK_EQ(in(&s, IER), 0);
	CHECK_EQ(in(&s, IIR), 0x01);
	CHECK_EQ(in(&s, LCR), 0);
	CHECK_EQ(in(&s, MCR), 0);
	CHECK_EQ(in(&s, LSR), 0x60);
	CHECK_EQ(in(&s, MSR), 0xb0);
	CHECK_EQ(in(&s, SCR), 0);
	CHECK_EQ(rec.calls, 0);
	serial_destroy(&s);
}

/* What Linux's 8250 autoconfig does: IER existence test, loopback MSR test, FIFO detection
 * through IIR bits 6-7, no 64-byte FIFO (IIR bit 5), no UUE bit in IER, scratch register. */
static void test_linux_autoconfig(void)
{
	struct irq_rec rec = {0};
	struct serial s;
	uint8_t save;

	CHECK_EQ(serial_init(&s, NULL, (struct irq_line){rec_set, &rec, 4}), 0);
	out(&s, IER, 0);
	CHECK_EQ(in(&s, IER) & 0x0f, 0);
	out(&s, IER, 0x0f);
	CHECK_EQ(in(&s, IER) & 0x0f, 0x0f);
	out(&s, IER, 0xff);
	CHECK_EQ(in(&s, IER), 0x0f); /* bits 4-7 read zero: no XScale UUE bit */
	out(&s, IER, 0);

	save = in(&s, MCR);
	out(&s, MCR, 0x10 | 0x0a); /* LOOP | OUT2 | RTS */
	CHECK_EQ(in(&s, MSR) & 0xf0, 0x90); /* DCD | CTS */
	out(&s, MCR, 0x1f);
	CHECK_EQ(in(&s, MSR) & 0xf0, 0xf0);
	out(&s, MCR, save);
	CHECK_EQ(in(&s, MSR) & 0xf0, 0xb0);

	out(&s, LCR, 0xbf);
	out(&s, 2, 0); /* EFR on a 16650: here FCR with FIFOs off */
	out(&s, LCR, 0);
	out(&s, FCR, 0x01);
	CHECK_EQ(in(&s, IIR) >> 6, 3);
	out(&s, FCR, 0x21); /* 64-byte FIFO bit of a 16750: ignored */
	CHECK_EQ(in(&s, IIR) & 0x20, 0);
	out(&s, LCR, 0x80);
	out(&s, FCR, 0x21);
	CHECK_EQ(in(&s, IIR) & 0x20, 0);
	out(&s, LCR, 0);

	out(&s, SCR, 0xa5);
	CHECK_EQ(in(&s, SCR), 0xa5);
	out(&s, SCR, 0x5a);
	CHECK_EQ(in(&s, SCR), 0x5a);
	out(&s, FCR, 0);
	CHECK_EQ(in(&s, IIR), 0x01);
	CHECK_EQ(rec.calls, 0); /* no OUT2 outside loopback: the line never moved */
	serial_destroy(&s);
}

static void test_dlab(void)
{
	struct serial s;
	uint8_t two[2];

	CHECK_EQ(serial_init(&s, NULL, (struct irq_line){0}), 0);
	out(&s, IER, 0x05);
	out(&s, LCR, 0x83);
	CHECK_EQ(in(&s, DLL), 12);
	out(&s, DLL, 0x01);
	out(&s, DLM, 0x02);
	CHECK_EQ(in(&s, DLL), 0x01);
	CHECK_EQ(in(&s, DLM), 0x02);
	CHECK_EQ(serial_ops.read(&s, 0, two, 2), 0); /* a word access is two byte accesses */
	CHECK_EQ(two[0], 0x01);
	CHECK_EQ(two[1], 0x02);
	out(&s, LCR, 0x03);
	CHECK_EQ(in(&s, IER), 0x05);
	CHECK_EQ(in(&s, LCR), 0x03);
	out(&s, LCR, 0x83);
	CHECK_EQ(in(&s, DLM), 0x02);
	serial_destroy(&s);
}

static void test_loopback(void)
{
	struct irq_rec rec = {0};
	struct serial s;

	CHECK_EQ(serial_init(&s, NULL, (struct irq_line){rec_set, &rec, 4}), 0);
	out(&s, MCR, 0x10);
	CHECK_EQ(in(&s, MSR), 0x0b); /* CTS, DSR, DCD dropped: their delta bits */
	CHECK_EQ(in(&s, MSR), 0x00);
	out(&s, MCR, 0x14); /* OUT1 -> RI */
	CHECK_EQ(in(&s, MSR), 0x40);
	out(&s, MCR, 0x10);
	CHECK_EQ(in(&s, MSR), 0x04); /* trailing edge of RI */
	out(&s, MCR, 0x11);
	CHECK_EQ(in(&s, MSR), 0x22); /* DTR -> DSR, DDSR */

	/* 16450 mode: one holding register; a second byte overruns and overwrites it. */
	out(&s, THR, 'A');
	CHECK_EQ(in(&s, LSR), 0x61);
	CHECK_EQ(in(&s, RBR), 'A');
	CHECK_EQ(in(&s, LSR), 0x60);
	out(&s, THR, 'B');
	out(&s, THR, 'C');
	CHECK_EQ(in(&s, LSR), 0x63);
	CHECK_EQ(in(&s, LSR), 0x61); /* OE cleared by the read */
	CHECK_EQ(in(&s, RBR), 'C');

	/* FIFO mode: 16 bytes, the 17th is lost with OE. */
	out(&s, FCR, 0x07);
	for (int i = 0; i < 17; i++)
		out(&s, THR, (uint8_t)('a' + i));
	CHECK_EQ(in(&s, LSR), 0x63);
	for (int i = 0; i < 16; i++)
		CHECK_EQ(in(&s, RBR), 'a' + i);
	CHECK_EQ(in(&s, LSR), 0x60);

	/* A break set in loopback arrives as a NUL with BI. */
	out(&s, LCR, 0x43);
	CHECK_EQ(in(&s, LSR), 0xf1); /* FIFO error, TEMT, THRE, BI, DR */
	CHECK_EQ(in(&s, RBR), 0);
	out(&s, LCR, 0x03);

	/* Pending interrupts do not reach the line in loopback even with OUT2. */
	out(&s, IER, 0x0f);
	out(&s, MCR, 0x18);
	out(&s, THR, 'x');
	CHECK(in(&s, IIR) != 0xc1);
	CHECK_EQ(rec.calls, 0);
	serial_destroy(&s);
}

static void test_iir_priority(void)
{
	struct irq_rec rec = {0};
	struct serial s;

	CHECK_EQ(serial_init(&s, NULL, (struct irq_line){rec_set, &rec, 4}), 0);
	out(&s, FCR, 0x07);
	out(&s, MCR, 0x18); /* loopback, OUT2 */
	out(&s, THR, 1);
	out(&s, THR, 2);
	for (int i = 0; i < 16; i++)
		out(&s, THR, 3); /* overrun: OE */
	out(&s, MCR, 0x1a);  /* RTS -> CTS: a modem status change */
	out(&s, IER, 0x0f);  /* ETBEI enabled with THR empty: THRE pending too */
	CHECK_EQ(in(&s, IIR), 0xc6); /* receiver line status first */
	CHECK_EQ(in(&s, IIR), 0xc6);
	CHECK_EQ(in(&s, LSR) & 0x03, 0x03);
	CHECK_EQ(in(&s, IIR), 0xc4); /* then received data */
	for (int i = 0; i < 16; i++)
		in(&s, RBR);
	CHECK_EQ(in(&s, IIR), 0xc2); /* then THRE, cleared by this read */
	CHECK_EQ(in(&s, IIR), 0xc0); /* then modem status */
	CHECK_EQ(in(&s, MSR) & 0x0f, 0x03); /* CTS and DSR changed since loopback began */
	CHECK_EQ(in(&s, IIR), 0xc1);
	serial_destroy(&s);
}

/* THRE semantics and line levels, with Linux's startup THRE test (IER=THRI, IIR, IER=0...). */
static void test_thri_and_line(void)
{
	struct irq_rec rec = {0};
	struct serial s;

	CHECK_EQ(serial_init(&s, NULL, (struct irq_line){rec_set, &rec, 4}), 0);
	out(&s, FCR, 0x01);
	out(&s, IER, 0x02);
	CHECK_EQ(rec.calls, 0); /* OUT2 clear: the PC board gates the line */
	CHECK_EQ(in(&s, IIR), 0xc2);
	CHECK_EQ(in(&s, IIR), 0xc1);
	out(&s, IER, 0);
	out(&s, IER, 0x02);
	CHECK_EQ(in(&s, LSR) & 0x40, 0x40);
	CHECK_EQ(in(&s, IIR), 0xc2);
	out(&s, IER, 0x02); /* no edge: nothing new */
	CHECK_EQ(in(&s, IIR), 0xc1);

	out(&s, MCR, 0x0b); /* DTR, RTS, OUT2 */
	CHECK_EQ(rec.calls, 0);
	out(&s, THR, 'x'); /* transmitted at once: THRE pending, line up */
	CHECK(rec.level);
	CHECK_EQ(rec.changes, 1);
	out(&s, THR, 'y'); /* still pending: no new call */
	CHECK_EQ(rec.calls, 1);
	CHECK_EQ(in(&s, IIR), 0xc2);
	CHECK(!rec.level);
	CHECK_EQ(rec.changes, 2);

	out(&s, THR, 'z');
	CHECK(rec.level);
	out(&s, MCR, 0x03); /* OUT2 off: line drops, condition stays */
	CHECK(!rec.level);
	out(&s, MCR, 0x0b);
	CHECK(rec.level);
	out(&s, IER, 0x00); /* masked */
	CHECK(!rec.level);
	out(&s, IER, 0x01);
	CHECK(!rec.level);
	uint8_t c = 'k';
	serial_receive(&s, &c, 1);
	CHECK(rec.level);
	CHECK_EQ(in(&s, IIR), 0xc4);
	CHECK_EQ(in(&s, RBR), 'k');
	CHECK(!rec.level);
	CHECK_EQ(rec.calls, rec.changes); /* only level changes were signalled */
	serial_destroy(&s);
}

static void test_rx_backlog(void)
{
	struct irq_rec rec = {0};
	struct serial s;
	uint8_t buf[SERIAL_BACKLOG_LEN + 100];
	unsigned n = 0;
	bool ordered = true;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7);
	CHECK_EQ(serial_init(&s, NULL, (struct irq_line){rec_set, &rec, 4}), 0);
	out(&s, FCR, 0xc1); /* trigger level 14 */
	out(&s, IER, 0x01);
	out(&s, MCR, 0x08);
	serial_receive(&s, buf, 3);
	CHECK_EQ(in(&s, IIR), 0xcc); /* below the trigger: character timeout */
	CHECK(rec.level);
	serial_receive(&s, buf + 3, 11);
	CHECK_EQ(in(&s, IIR), 0xc4);
	serial_receive(&s, buf + 14, 200 - 14);
	CHECK_EQ(in(&s, LSR), 0x61);
	while (in(&s, LSR) & 0x01) {
		ordered &= in(&s, RBR) == buf[n];
		n++;
	}
	CHECK(ordered);
	CHECK_EQ(n, 200);
	CHECK(!rec.level);
	CHECK_EQ(in(&s, IIR), 0xc1);

	/* More than backlog + FIFO: the excess is lost, reported as an overrun. */
	serial_receive(&s, buf, sizeof(buf));
	CHECK_EQ(in(&s, LSR), 0x63);
	n = 0;
	ordered = true;
	while (in(&s, LSR) & 0x01) {
		ordered &= in(&s, RBR) == buf[n];
		n++;
	}
	CHECK(ordered);
	CHECK_EQ(n, SERIAL_BACKLOG_LEN + SERIAL_FIFO_LEN);

	/* FIFO reset drops what is in the FIFO; the backlog (still "on the wire") flows in. */
	serial_receive(&s, buf, 40);
	out(&s, FCR, 0x03);
	CHECK_EQ(in(&s, RBR), buf[16]);
	/* In loopback the line is disconnected: host input waits in the backlog. */
	out(&s, MCR, 0x18);
	out(&s, FCR, 0x07);
	CHECK_EQ(in(&s, LSR) & 0x01, 0);
	out(&s, MCR, 0x08);
	CHECK_EQ(in(&s, RBR), buf[33]);
	serial_destroy(&s);
}

static void test_tx_to_file(void)
{
	char path[256], spec[300], got[16] = {0};
	struct chardev cd;
	struct error err = {{0}};
	struct serial s;
	int fd;

	path_in_tmp(path, sizeof(path), "tx.out");
	snprintf(spec, sizeof(spec), "file:%s", path);
	CHECK_EQ(chardev_open(&cd, spec, NULL, &err), 0);
	CHECK(!chardev_stdin_is_tty(&cd));
	CHECK_EQ(serial_init(&s, &cd, (struct irq_line){0}), 0);
	CHECK(cd.rx == serial_receive);
	out(&s, THR, 'h');
	out(&s, THR, 'i');
	out(&s, MCR, 0x10);
	out(&s, THR, '!'); /* loopback: not sent */
	out(&s, MCR, 0x00);
	out(&s, LCR, 0x80);
	out(&s, THR, '?'); /* DLL */
	serial_destroy(&s);
	CHECK(cd.rx == NULL);
	chardev_close(&cd);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK_EQ(read(fd, got, sizeof(got)), 2);
	CHECK(memcmp(got, "hi", 2) == 0);
	close(fd);
	unlink(path);
}

static void test_chardev_specs(void)
{
	struct chardev cd;
	struct error err;
	char spec[300], path[256];
	int fd;

	memset(&err, 0, sizeof(err));
	CHECK_EQ(chardev_open(&cd, "tcp:1", NULL, &err), -EINVAL);
	CHECK(strstr(err.msg, "tcp:1") != NULL);
	memset(&err, 0, sizeof(err));
	CHECK_EQ(chardev_open(&cd, "file:/nonexistent/dir/x", NULL, &err), -ENOENT);
	CHECK(strstr(err.msg, "/nonexistent/dir/x") != NULL);
	memset(&err, 0, sizeof(err));
	CHECK_EQ(chardev_open(&cd, "file:", NULL, &err), -EINVAL);
	CHECK(err.msg[0] != '\0');
	memset(&err, 0, sizeof(err));
	CHECK_EQ(chardev_open(&cd, "", NULL, &err), -EINVAL);
	CHECK(err.msg[0] != '\0');
	memset(&err, 0, sizeof(err));
	CHECK_EQ(chardev_open(&cd, "unix:/nonexistent/dir/sock", NULL, &err), -ENOENT);
	CHECK(strstr(err.msg, "/nonexistent/dir/sock") != NULL);
	memset(spec, 'a', sizeof(spec) - 1);
	spec[sizeof(spec) - 1] = '\0';
	memcpy(spec, "unix:", 5);
	CHECK_EQ(chardev_open(&cd, spec, NULL, &err), -ENAMETOOLONG);

	CHECK_EQ(chardev_open(&cd, "none", NULL, &err), 0);
	chardev_write(&cd, "dropped", 7);
	chardev_close(&cd);

	/* unix: a regular file in the way is not replaced; a stale socket is. */
	path_in_tmp(path, sizeof(path), "sock");
	snprintf(spec, sizeof(spec), "unix:%s", path);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	memset(&err, 0, sizeof(err));
	CHECK_EQ(chardev_open(&cd, spec, NULL, &err), -EEXIST);
	CHECK(strstr(err.msg, "not a socket") != NULL);
	unlink(path);
	{
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		int s = socket(AF_UNIX, SOCK_STREAM, 0);

		strcpy(a.sun_path, path);
		CHECK_EQ(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
		close(s); /* leaves a stale socket file */
	}
	CHECK_EQ(chardev_open(&cd, spec, NULL, &err), 0);
	{
		struct chardev second;

		memset(&err, 0, sizeof(err));
		CHECK_EQ(chardev_open(&second, spec, NULL, &err), -EADDRINUSE);
		CHECK(err.msg[0] != '\0');
	}
	chardev_write(&cd, "no client", 9); /* dropped */
	chardev_close(&cd);
	CHECK(access(path, F_OK) < 0);
}

/* With a real event loop: unix client input and output, stdin from a pipe up to EOF. */
struct loop_rx {
	pthread_mutex_t lock;
	char buf[64];
	size_t len;
};

static void loop_rx(void *opaque, const uint8_t *buf, size_t len)
{
	struct loop_rx *r = opaque;

	pthread_mutex_lock(&r->lock);
	if (len > sizeof(r->buf) - r->len)
		len = sizeof(r->buf) - r->len;
	memcpy(r->buf + r->len, buf, len);
	r->len += len;
	pthread_mutex_unlock(&r->lock);
}

static bool wait_rx(struct loop_rx *r, const char *want)
{
	for (int i = 0; i < 200; i++) {
		bool ok;

		pthread_mutex_lock(&r->lock);
		ok = r->len == strlen(want) && memcmp(r->buf, want, r->len) == 0;
		pthread_mutex_unlock(&r->lock);
		if (ok)
			return true;
		usleep(10000);
	}
	return false;
}

/* Reads loop-thread-owned chardev fields on the loop thread. */
struct probe {
	pthread_mutex_t lock;
	struct chardev *cd;
	bool done;
	int in_fd;
	bool in_watched;
};

static void probe_fn(void *arg)
{
	struct probe *p = arg;

	pthread_mutex_lock(&p->lock);
	p->in_fd = p->cd->in_fd;
	p->in_watched = p->cd->in_watched;
	p->done = true;
	pthread_mutex_unlock(&p->lock);
}

static struct probe probe_loop(struct event_loop *loop, struct chardev *cd)
{
	struct probe p = {.lock = PTHREAD_MUTEX_INITIALIZER, .cd = cd};
	bool done = false;

	CHECK_EQ(event_loop_post(loop, probe_fn, &p), 0);
	while (!done) {
		usleep(1000);
		pthread_mutex_lock(&p.lock);
		done = p.done;
		pthread_mutex_unlock(&p.lock);
	}
	return p;
}

static void *run_loop(void *arg)
{
	return (void *)(intptr_t)event_loop_run(arg);
}

static void test_with_loop(void)
{
	struct event_loop loop;
	struct chardev cd, in;
	struct error err;
	struct loop_rx rx = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct loop_rx rx_in = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char spec[300], got[16];
	int c, c2, p[2], saved_stdin;
	pthread_t t;

	if (event_loop_init(&loop) < 0) {
		printf("test_serial: no io_uring here, event loop part skipped\n");
		return;
	}
	path_in_tmp(a.sun_path, sizeof(a.sun_path), "loop.sock");
	snprintf(spec, sizeof(spec), "unix:%s", a.sun_path);
	CHECK_EQ(chardev_open(&cd, spec, &loop, &err), 0);
	chardev_set_receiver(&cd, loop_rx, &rx);

	/* stdin is a pipe for the duration of the test. */
	CHECK_EQ(pipe(p), 0);
	saved_stdin = dup(0);
	dup2(p[0], 0);
	close(p[0]);
	CHECK_EQ(chardev_open(&in, "stdio", &loop, &err), 0);
	CHECK(!chardev_stdin_is_tty(&in));
	chardev_set_receiver(&in, loop_rx, &rx_in);

	CHECK_EQ(pthread_create(&t, NULL, run_loop, &loop), 0);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_EQ(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_EQ(write(c, "ping", 4), 4);
	CHECK(wait_rx(&rx, "ping"));
	/* A second client is refused while the first is connected. */
	c2 = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_EQ(connect(c2, (struct sockaddr *)&a, sizeof(a)), 0);
	{
		struct pollfd pf = {.fd = c2, .events = POLLIN};

		CHECK_EQ(poll(&pf, 1, 2000), 1);
		CHECK_EQ(read(c2, got, sizeof(got)), 0);
	}
	close(c2);
	chardev_write(&cd, "pong", 4);
	CHECK_EQ(read(c, got, 4), 4);
	CHECK(memcmp(got, "pong", 4) == 0);
	close(c);
	/* After a disconnect, output is dropped and a new client is served. */
	for (int i = 0; i < 200 && probe_loop(&loop, &cd).in_fd >= 0; i++)
		usleep(10000);
	CHECK_EQ(probe_loop(&loop, &cd).in_fd, -1);
	chardev_write(&cd, "lost", 4);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_EQ(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_EQ(write(c, "!", 1), 1);
	CHECK(wait_rx(&rx, "ping!"));
	chardev_write(&cd, "ok", 2);
	CHECK_EQ(read(c, got, 2), 2);
	CHECK(memcmp(got, "ok", 2) == 0);
	close(c);

	/* Clients coming and going quickly leave the listener serving. */
	for (int i = 0; i < 20; i++) {
		c = socket(AF_UNIX, SOCK_STREAM, 0);
		CHECK_EQ(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
		close(c);
	}
	for (int i = 0; i < 200 && probe_loop(&loop, &cd).in_fd >= 0; i++)
		usleep(10000);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK_EQ(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_EQ(write(c, "?", 1), 1);
	CHECK(wait_rx(&rx, "ping!?"));
	close(c);

	/* stdin: input until EOF, then the watch is gone and the VM goes on. */
	CHECK_EQ(write(p[1], "typed", 5), 5);
	CHECK(wait_rx(&rx_in, "typed"));
	close(p[1]);
	for (int i = 0; i < 200 && probe_loop(&loop, &in).in_watched; i++)
		usleep(10000);
	CHECK(!probe_loop(&loop, &in).in_watched);

	event_loop_stop(&loop);
	pthread_join(t, NULL);
	chardev_close(&in);
	dup2(saved_stdin, 0);
	close(saved_stdin);
	chardev_set_receiver(&cd, NULL, NULL);
	chardev_close(&cd);
	CHECK(access(a.sun_path, F_OK) < 0);
	event_loop_destroy(&loop);
}

/* stdio output goes to fd 1, whole. */
static void test_stdout(void)
{
	char path[256], got[8] = {0};
	struct chardev cd;
	struct error err;
	int fd, saved;

	path_in_tmp(path, sizeof(path), "stdout");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	fflush(stdout);
	saved = dup(1);
	dup2(fd, 1);
	CHECK_EQ(chardev_open(&cd, "stdio", NULL, &err), 0);
	chardev_write(&cd, "out", 3);
	chardev_close(&cd);
	dup2(saved, 1);
	close(saved);
	CHECK_EQ(pread(fd, got, sizeof(got), 0), 3);
	CHECK(memcmp(got, "out", 3) == 0);
	close(fd);
	unlink(path);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_reset_state();
	test_linux_autoconfig();
	test_dlab();
	test_loopback();
	test_iir_priority();
	test_thri_and_line();
	test_rx_backlog();
	test_tx_to_file();
	test_chardev_specs();
	test_stdout();
	test_with_loop();
	rmdir(tmpdir);
	return unit_done("test_serial");
}
