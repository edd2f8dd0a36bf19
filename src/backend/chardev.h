/* The host side of a serial port: a byte stream to stdio, a file, a unix socket or nowhere.
 * Output may come from any thread; input is delivered on the event loop thread. */
#ifndef HVKVM_CHARDEV_H
#define HVKVM_CHARDEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include "error.h"
#include "event_loop.h"

enum chardev_kind {
	CHARDEV_NONE,  /* "none": output discarded, no input */
	CHARDEV_STDIO, /* "stdio": input from fd 0, output to fd 1 */
	CHARDEV_FILE,  /* "file:PATH": output to PATH (created/truncated), no input */
	CHARDEV_UNIX,  /* "unix:PATH": listening socket, one client at a time */
};

typedef void chardev_rx_fn(void *opaque, const uint8_t *buf, size_t len);

struct chardev;

struct chardev_watch {
	struct event_watch w;
	struct chardev *cd;
};

struct chardev {
	enum chardev_kind kind;
	struct event_loop *loop;  /* NULL: input is not watched */
	bool stdin_tty;           /* stdio: fd 0 is a terminal (raw mode is terminal.c's job) */
	bool out_failed;          /* an output error was logged once */

	pthread_mutex_t lock;     /* guards out_fd, rx, rx_opaque */
	int out_fd;               /* -1 when output is dropped */
	chardev_rx_fn *rx;
	void *rx_opaque;

	int in_fd;                /* stdio: 0; unix: the client; else -1 */
	/* Successive unix clients alternate between two watches, so a late completion for the
	 * previous client's watch can never be taken for the new one's. */
	struct chardev_watch in_watch[2];
	unsigned in_slot;         /* the one in use */
	bool in_watched;

	int listen_fd;            /* unix only */
	struct chardev_watch listen_watch;
	bool listen_watched;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* Opens the backend named by spec ("stdio", "file:PATH", "unix:PATH", "none") and, when loop
 * is non-NULL, watches its input there. Before the loop runs, or on the loop thread; cd must not
 * move afterwards. On failure err holds one line and -errno is returned (nothing to close). */
__attribute__((warn_unused_result))
int chardev_open(struct chardev *cd, const char *spec, struct event_loop *loop, struct error *err);

/* Stops watching, closes descriptors, unlinks the unix socket path. Loop thread, or after the
 * loop has stopped but before event_loop_destroy; after serial_destroy. */
void chardev_close(struct chardev *cd);

/* Any thread. Blocks until stdio/file output is written (nothing is lost); unix output goes to the
 * connected client, is dropped when none is, and is dropped after 100 ms if the client stalls. */
void chardev_write(struct chardev *cd, const void *buf, size_t len);

/* rx(opaque, buf, len) runs on the loop thread for every chunk of input; NULL stops delivery.
 * Set it before the loop runs, clear it after the loop has stopped. */
void chardev_set_receiver(struct chardev *cd, chardev_rx_fn *rx, void *opaque);

/* True for the stdio backend when fd 0 is a terminal: the caller (terminal.c) may make it raw. */
bool chardev_stdin_is_tty(const struct chardev *cd);

#endif
