/* The host side of a serial port (see chardev.h): stdio, file, unix-socket and null backends.
 * Output is written synchronously under a lock; input is read on the event loop (poll watches). */
#include "backend/chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define TAG "chardev"
#define RX_CHUNK 4096
/* How long a unix client may stall output before bytes are dropped. */
#define UNIX_STALL_MS 100

static struct chardev *watch_owner(struct event_watch *w)
{
	return ((struct chardev_watch *)((char *)w - offsetof(struct chardev_watch, w)))->cd;
}

static void deliver(struct chardev *cd, const uint8_t *buf, size_t len)
{
	chardev_rx_fn *rx;
	void *opaque;

	pthread_mutex_lock(&cd->lock);
	rx = cd->rx;
	opaque = cd->rx_opaque;
	pthread_mutex_unlock(&cd->lock);
	if (rx)
		rx(opaque, buf, len);
}

static void stop_input(struct chardev *cd)
{
	if (cd->in_watched) {
		event_loop_unwatch(cd->loop, &cd->in_watch[cd->in_slot].w);
		cd->in_watched = false;
	}
}

static int watch(struct chardev *cd, struct chardev_watch *cw, int fd,
		 void (*ready)(struct event_watch *, unsigned), bool *watched)
{
	int ret;

	cw->cd = cd;
	cw->w.fd = fd;
	cw->w.ready = ready;
	cw->w.armed = false;
	ret = event_loop_watch(cd->loop, &cw->w);
	*watched = ret == 0;
	return ret;
}

/* stdin: read what is there without making fd 0 non-blocking (that flag would be shared with
 * the shell). poll() with a zero timeout tells whether another read would block. */
static void stdin_ready(struct event_watch *w, unsigned revents)
{
	struct chardev *cd = watch_owner(w);
	uint8_t buf[RX_CHUNK];

	(void)revents; /* read or recv tells EOF and errors */
	for (;;) {
		struct pollfd p = {.fd = cd->in_fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 0) <= 0)
			return;
		n = read(cd->in_fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		if (n <= 0) {
			/* EOF (or a hung-up terminal): stop watching; the VM goes on. */
			if (n < 0)
				log_warn(TAG, "stdin: %s; input closed", strerror(errno));
			stop_input(cd);
			return;
		}
		deliver(cd, buf, (size_t)n);
	}
}

static void client_disconnect(struct chardev *cd)
{
	stop_input(cd);
	pthread_mutex_lock(&cd->lock);
	cd->out_fd = -1;
	pthread_mutex_unlock(&cd->lock);
	close(cd->in_fd);
	cd->in_fd = -1;
	log_info(TAG, "%s: client disconnected", cd->path);
}

static void client_ready(struct event_watch *w, unsigned revents)
{
	struct chardev *cd = watch_owner(w);
	uint8_t buf[RX_CHUNK];

	(void)revents; /* read or recv tells EOF and errors */
	while (cd->in_fd >= 0) {
		ssize_t n = recv(cd->in_fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			client_disconnect(cd);
			return;
		}
		deliver(cd, buf, (size_t)n);
	}
}

static void listen_ready(struct event_watch *w, unsigned revents)
{
	struct chardev *cd = watch_owner(w);

	(void)revents; /* accept tells */
	for (;;) {
		int fd = accept4(cd->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return; /* EAGAIN, or a transient error (EMFILE...): try on the next wakeup */
		}
		if (cd->in_fd >= 0) {
			/* One client at a time. */
			close(fd);
			log_info(TAG, "%s: refused a second client", cd->path);
			continue;
		}
		cd->in_fd = fd;
		cd->in_slot ^= 1;
		if (watch(cd, &cd->in_watch[cd->in_slot], fd, client_ready, &cd->in_watched) < 0) {
			log_warn(TAG, "%s: cannot watch the client", cd->path);
			close(fd);
			cd->in_fd = -1;
			continue;
		}
		pthread_mutex_lock(&cd->lock);
		cd->out_fd = fd;
		pthread_mutex_unlock(&cd->lock);
		log_info(TAG, "%s: client connected", cd->path);
	}
}

/* Removes a stale socket left by an earlier run; refuses to touch anything else. */
static int clear_stale_socket(const struct sockaddr_un *addr, struct error *err)
{
	struct stat st;
	int fd, ret;

	if (lstat(addr->sun_path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return error_set(err, errno, "unix:%s: %s", addr->sun_path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return error_set(err, EEXIST, "unix:%s: exists and is not a socket", addr->sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set(err, errno, "unix:%s: socket: %s", addr->sun_path, strerror(errno));
	ret = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	close(fd);
	if (ret == 0)
		return error_set(err, EADDRINUSE, "unix:%s: another process is listening there",
				 addr->sun_path);
	if (unlink(addr->sun_path) < 0 && errno != ENOENT)
		return error_set(err, errno, "unix:%s: cannot remove the stale socket: %s",
				 addr->sun_path, strerror(errno));
	return 0;
}

static int open_unix(struct chardev *cd, const char *path, struct error *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd, ret;

	if (path[0] == '\0')
		return error_set(err, EINVAL, "unix: needs a path (unix:PATH)");
	if (strlen(path) >= sizeof(addr.sun_path))
		return error_set(err, ENAMETOOLONG, "unix:%s: path longer than %zu bytes", path,
				 sizeof(addr.sun_path) - 1);
	memcpy(addr.sun_path, path, strlen(path) + 1);
	ret = clear_stale_socket(&addr, err);
	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set(err, errno, "unix:%s: socket: %s", path, strerror(errno));
	if (bind(fd, (const struct sockaddr *)&addr, sizeof(addr)) < 0) {
		ret = error_set(err, errno, "unix:%s: bind: %s", path, strerror(errno));
		goto err_close;
	}
	memcpy(cd->path, addr.sun_path, sizeof(cd->path));
	if (listen(fd, 1) < 0) {
		ret = error_set(err, errno, "unix:%s: listen: %s", path, strerror(errno));
		goto err_unlink;
	}
	cd->listen_fd = fd;
	if (cd->loop) {
		ret = watch(cd, &cd->listen_watch, fd, listen_ready, &cd->listen_watched);
		if (ret < 0) {
			error_set(err, -ret, "unix:%s: cannot watch the socket: %s", path,
				  strerror(-ret));
			goto err_unlink;
		}
	}
	return 0;
err_unlink:
	unlink(cd->path);
	cd->path[0] = '\0';
	cd->listen_fd = -1;
err_close:
	close(fd);
	return ret;
}

int chardev_open(struct chardev *cd, const char *spec, struct event_loop *loop, struct error *err)
{
	int ret = 0;

	memset(cd, 0, sizeof(*cd));
	cd->loop = loop;
	cd->out_fd = cd->in_fd = cd->listen_fd = -1;
	pthread_mutex_init(&cd->lock, NULL);
	if (!spec)
		spec = "";
	if (strcmp(spec, "none") == 0) {
		cd->kind = CHARDEV_NONE;
	} else if (strcmp(spec, "stdio") == 0) {
		cd->kind = CHARDEV_STDIO;
		cd->stdin_tty = isatty(STDIN_FILENO);
		cd->out_fd = STDOUT_FILENO;
		cd->in_fd = STDIN_FILENO;
		if (loop) {
			ret = watch(cd, &cd->in_watch[0], STDIN_FILENO, stdin_ready, &cd->in_watched);
			if (ret < 0) {
				error_set(err, -ret, "stdio: cannot watch stdin: %s", strerror(-ret));
				goto err;
			}
		}
	} else if (strncmp(spec, "file:", 5) == 0) {
		const char *path = spec + 5;

		cd->kind = CHARDEV_FILE;
		if (path[0] == '\0') {
			ret = error_set(err, EINVAL, "file: needs a path (file:PATH)");
			goto err;
		}
		cd->out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (cd->out_fd < 0) {
			ret = error_set(err, errno, "file:%s: %s", path, strerror(errno));
			goto err;
		}
	} else if (strncmp(spec, "unix:", 5) == 0) {
		cd->kind = CHARDEV_UNIX;
		ret = open_unix(cd, spec + 5, err);
		if (ret < 0)
			goto err;
	} else {
		ret = error_set(err, EINVAL,
				"unknown character backend '%s' (expected stdio, file:PATH, "
				"unix:PATH or none)", spec);
		goto err;
	}
	return 0;
err:
	pthread_mutex_destroy(&cd->lock);
	return ret;
}

void chardev_close(struct chardev *cd)
{
	stop_input(cd);
	if (cd->listen_watched) {
		event_loop_unwatch(cd->loop, &cd->listen_watch.w);
		cd->listen_watched = false;
	}
	switch (cd->kind) {
	case CHARDEV_FILE:
		close(cd->out_fd);
		break;
	case CHARDEV_UNIX:
		if (cd->in_fd >= 0)
			close(cd->in_fd);
		close(cd->listen_fd);
		if (cd->path[0])
			unlink(cd->path);
		break;
	case CHARDEV_NONE:
	case CHARDEV_STDIO:
		break;
	}
	cd->in_fd = cd->out_fd = cd->listen_fd = -1;
	cd->path[0] = '\0';
	pthread_mutex_destroy(&cd->lock);
}

/* Waits until fd can take more output; false when timeout_ms passed first. */
static bool wait_writable(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int n;

	do
		n = poll(&p, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	return n > 0;
}

/* Called with cd->lock held. */
static void write_all(struct chardev *cd, const uint8_t *p, size_t len)
{
	bool sock = cd->kind == CHARDEV_UNIX;

	while (len > 0 && cd->out_fd >= 0 && !cd->out_failed) {
		ssize_t n = sock ? send(cd->out_fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL)
				 : write(cd->out_fd, p, len);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_writable(cd->out_fd, sock ? UNIX_STALL_MS : -1))
				continue;
			return; /* a stalled unix client loses this chunk */
		}
		if (sock)
			return; /* the client went away: the loop thread sees the hang-up */
		cd->out_failed = true;
		log_error(TAG, "output: %s; further output is dropped",
			  n < 0 ? strerror(errno) : "nothing written");
		return;
	}
}

void chardev_write(struct chardev *cd, const void *buf, size_t len)
{
	if (cd->kind == CHARDEV_NONE || len == 0)
		return;
	pthread_mutex_lock(&cd->lock);
	write_all(cd, buf, len);
	pthread_mutex_unlock(&cd->lock);
}

void chardev_set_receiver(struct chardev *cd, chardev_rx_fn *rx, void *opaque)
{
	pthread_mutex_lock(&cd->lock);
	cd->rx = rx;
	cd->rx_opaque = opaque;
	pthread_mutex_unlock(&cd->lock);
}

bool chardev_stdin_is_tty(const struct chardev *cd)
{
	return cd->kind == CHARDEV_STDIO && cd->stdin_tty;
}
