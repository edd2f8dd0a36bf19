/* The per-VM control socket (see control.h): newline-framed JSON over a unix stream socket, served
 * on the VM's event loop with one-shot io_uring polls (each completion is seen, so a client's
 * memory is freed only once no poll of its is in flight). Loop thread only. */
#include "mgmt/control.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "mgmt/control_internal.h"
#include "mgmt/json.h"
#include "mgmt/run_dir.h"

#define TAG "control"
/* Answer bytes queued for a client above which its next request waits for it to read. */
#define OUT_HIGH 65536

static void client_service(struct control_client *c);

static size_t queued(const struct control_client *c)
{
	return c->out_len - c->out_off;
}

static bool arm_poll(struct control_server *s, struct event_op *op, int fd, unsigned mask)
{
	struct io_uring_sqe *sqe = event_loop_get_sqe(s->loop, op);

	if (!sqe)
		return false;
	io_uring_prep_poll_add(sqe, fd, mask);
	return true;
}

/* ---- answers ---- */

static void client_queue(struct control_client *c, const char *data, size_t len)
{
	if (c->peer_gone)
		return;
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_cap - c->out_len < len && c->out_off) {
		memmove(c->out, c->out + c->out_off, queued(c));
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_cap - c->out_len < len) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *b;

		while (cap - c->out_len < len)
			cap *= 2;
		b = realloc(c->out, cap);
		if (!b) {
			log_error(TAG, "out of memory for an answer: dropping the client");
			c->peer_gone = true;
			return;
		}
		c->out = b;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
}

static void answer_error(struct json_writer *w, const char *msg)
{
	json_object_begin(w);
	json_key(w, "ok");
	json_bool(w, false);
	json_key(w, "error");
	json_string(w, msg);
	json_object_end(w);
}

static void queue_answer(struct control_client *c, struct json_writer *w)
{
	const char *text;

	if (json_writer_finish(w, &text) < 0) {
		/* Only memory can fail here: say so in a line that needs none. */
		static const char oom[] = "{\"ok\":false,\"error\":\"out of memory\"}\n";

		client_queue(c, oom, sizeof(oom) - 1);
		return;
	}
	client_queue(c, text, strlen(text));
	client_queue(c, "\n", 1);
}

__attribute__((format(printf, 2, 3)))
static void queue_error(struct control_client *c, const char *fmt, ...)
{
	struct json_writer w;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_writer_init(&w);
	answer_error(&w, msg);
	queue_answer(c, &w);
	json_writer_free(&w);
}

/* ---- requests ---- */

static bool blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			return false;
	return true;
}

static void dispatch_line(struct control_client *c, const char *line, size_t len)
{
	struct control_command *cmd;
	struct control_request *req;
	struct json_request parsed;
	struct error err = {""};
	int ret;

	if (blank(line, len))
		return; /* an empty line is no request (handy when typing into a socket by hand) */
	ret = json_request_parse(&parsed, line, len, &err);
	if (ret < 0) {
		queue_error(c, "%s%s", ret == -ENOMEM ? "" : "malformed request: ", err.msg);
		return;
	}
	cmd = control_find_command(c->s, parsed.command);
	if (!cmd) {
		queue_error(c, "unknown command '%s' (see 'help')", parsed.command);
		json_request_free(&parsed);
		return;
	}
	req = calloc(1, sizeof(*req));
	if (!req) {
		queue_error(c, "out of memory");
		json_request_free(&parsed);
		return;
	}
	req->client = c;
	req->parsed = parsed;
	c->pending = req;
	log_debug(TAG, "request '%s' with %u args", parsed.command, parsed.argc);
	cmd->fn(cmd->opaque, req, req->parsed.argc, (const char *const *)req->parsed.args);
}

/* Runs the complete lines there are while no request is pending. True if any was consumed. */
static bool client_run_lines(struct control_client *c)
{
	bool progress = false;

	while (!c->pending && queued(c) < OUT_HIGH) {
		char *line = c->in + c->in_off;
		size_t avail = c->in_len - c->in_off, len, used;
		char *nl = memchr(line, '\n', avail);

		if (nl) {
			len = (size_t)(nl - line);
			used = len + 1;
		} else if (avail == CONTROL_LINE_MAX) {
			queue_error(c, "request line longer than %d bytes: disconnecting",
				    CONTROL_LINE_MAX - 1);
			log_warn(TAG, "a client sent a request line over %d bytes: disconnected",
				 CONTROL_LINE_MAX - 1);
			c->read_done = true;
			c->in_off = c->in_len = 0;
			return true;
		} else if (c->read_done && avail) {
			len = used = avail; /* the last request may lack its newline */
		} else {
			return progress;
		}
		/* The line stays where it is while the handler runs: nothing reads into in[] until
		 * this service pass is over. */
		dispatch_line(c, line, len);
		c->in_off += used;
		progress = true;
	}
	return progress;
}

/* ---- client I/O ---- */

static void client_flush(struct control_client *c)
{
	while (queued(c) && !c->peer_gone) {
		ssize_t n = send(c->fd, c->out + c->out_off, queued(c), MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		c->peer_gone = true; /* EPIPE, ECONNRESET */
	}
	c->out_off = c->out_len = 0;
}

/* Reads what fits. True if bytes or EOF came. */
static bool client_read(struct control_client *c)
{
	bool progress = false;

	if (c->read_done)
		return false;
	if (c->in_off) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	while (c->in_len < CONTROL_LINE_MAX) {
		ssize_t n = recv(c->fd, c->in + c->in_len, CONTROL_LINE_MAX - c->in_len, MSG_DONTWAIT);

		if (n > 0) {
			c->in_len += (size_t)n;
			progress = true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		/* EOF: the client may still wait for its answers (it shut down its sending side). */
		c->read_done = true;
		if (n < 0)
			c->peer_gone = true;
		progress = true;
		break;
	}
	return progress;
}

static void client_free(struct control_client *c)
{
	free(c->out);
	free(c);
}

static void client_drop(struct control_client *c)
{
	struct control_server *s = c->s;
	struct control_client **pp = &s->clients;

	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	s->nclients--;
	if (c->pending) {
		c->pending->client = NULL;
		c->pending = NULL;
	}
	c->dropped = true;
	/* Wakes the polls still in flight; their completions free the client. */
	shutdown(c->fd, SHUT_RDWR);
	close(c->fd);
	c->fd = -1;
	if (c->in_polling || c->out_polling) {
		c->next = s->zombies;
		s->zombies = c;
		return;
	}
	client_free(c);
}

static void zombie_reap(struct control_client *c)
{
	struct control_client **pp = &c->s->zombies;

	if (c->in_polling || c->out_polling)
		return;
	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	client_free(c);
}

/* After a service pass: drop the client, or wait for what it needs next. */
static void client_settle(struct control_client *c)
{
	bool room = c->in_off > 0 || c->in_len < CONTROL_LINE_MAX;

	if (c->peer_gone || (c->read_done && c->in_off == c->in_len && !c->pending && !queued(c))) {
		client_drop(c);
		return;
	}
	/* Input: POLLIN only when it will be read, else a full buffer would wake us forever. After
	 * EOF a poll for nothing still reports the hang-up (POLLHUP), which orphans a pending
	 * request. A full buffer waits without a poll until its lines are answered. */
	if (!c->in_polling && (c->read_done || room)) {
		if (!arm_poll(c->s, &c->in_op, c->fd, c->read_done ? 0 : POLLIN))
			goto no_sqe;
		c->in_polling = true;
	}
	if (!c->out_polling && queued(c)) {
		if (!arm_poll(c->s, &c->out_op, c->fd, POLLOUT))
			goto no_sqe;
		c->out_polling = true;
	}
	return;
no_sqe:
	log_error(TAG, "io_uring submission queue full: dropping a control client");
	client_drop(c);
}

static void client_service(struct control_client *c)
{
	bool progress;

	if (c->servicing) {
		c->again = true;
		return;
	}
	c->servicing = true;
	do {
		c->again = false;
		client_flush(c);
		progress = client_read(c);
		progress |= client_run_lines(c);
	} while (progress || c->again);
	client_flush(c);
	c->servicing = false;
	client_settle(c);
}

static void client_poll_done(struct control_client *c, int res)
{
	if (c->dropped) {
		zombie_reap(c);
		return;
	}
	/* Data may still be there with the hang-up: it is read and run, the answers discarded. */
	if (res < 0 || (res & (POLLHUP | POLLERR)))
		c->peer_gone = true;
	client_service(c);
}

static void client_in_done(struct event_op *op, int res)
{
	struct control_client *c = container_of(op, struct control_client, in_op);

	c->in_polling = false;
	client_poll_done(c, res);
}

static void client_out_done(struct event_op *op, int res)
{
	struct control_client *c = container_of(op, struct control_client, out_op);

	c->out_polling = false;
	client_poll_done(c, res);
}

/* ---- listening ---- */

static void refuse(int fd, const char *why)
{
	char line[160];
	int n = snprintf(line, sizeof(line), "{\"ok\":false,\"error\":\"%s\"}\n", why);

	if (send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* It has gone already, or its buffer is full: closing tells it enough. */
	}
	close(fd);
}

static void accept_clients(struct control_server *s)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct control_client *c;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn(TAG, "accept on %s: %s", s->path, strerror(errno));
			return;
		}
		if (s->nclients >= CONTROL_CLIENTS_MAX) {
			log_warn(TAG, "%s: more than %d clients; one refused", s->path,
				 CONTROL_CLIENTS_MAX);
			refuse(fd, "too many control clients, try again later");
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			refuse(fd, "out of memory");
			continue;
		}
		c->s = s;
		c->fd = fd;
		c->in_op.complete = client_in_done;
		c->out_op.complete = client_out_done;
		c->next = s->clients;
		s->clients = c;
		s->nclients++;
		client_service(c);
	}
}

static bool listen_arm(struct control_server *s)
{
	if (!arm_poll(s, &s->listen_op, s->listen_fd, POLLIN))
		return false;
	s->listen_polling = true;
	return true;
}

static void listen_done(struct event_op *op, int res)
{
	struct control_server *s = container_of(op, struct control_server, listen_op);

	s->listen_polling = false;
	if (s->closing)
		return;
	if (res < 0)
		log_warn(TAG, "poll on %s: %s", s->path, strerror(-res));
	else
		accept_clients(s);
	if (!listen_arm(s))
		log_error(TAG, "io_uring submission queue full: %s accepts no more clients", s->path);
}

/* ---- answering ---- */

static void finish_request(struct control_request *req, struct json_writer *w)
{
	struct control_client *c = req->client;

	if (c) {
		queue_answer(c, w);
		c->pending = NULL;
	}
	json_request_free(&req->parsed);
	free(req);
	if (c)
		client_service(c); /* the next request, if one waits; or just sets `again` */
}

void control_reply(struct control_request *req, const char *result_json, const char *text)
{
	struct json_writer w;
	const char *line;

	json_writer_init(&w);
	if (req->client) {
		json_object_begin(&w);
		json_key(&w, "ok");
		json_bool(&w, true);
		json_key(&w, "result");
		if (result_json)
			json_raw(&w, result_json, strlen(result_json));
		else
			json_raw(&w, "{}", 2);
		json_key(&w, "text");
		json_string(&w, text ? text : "");
		json_object_end(&w);
		if (json_writer_finish(&w, &line) == -EINVAL) {
			log_error(TAG, "the answer to '%s' is not valid JSON: %s",
				  req->parsed.command, result_json);
			json_writer_free(&w);
			json_writer_init(&w);
			answer_error(&w, "internal error: the command's result is not valid JSON");
		}
	}
	finish_request(req, &w);
	json_writer_free(&w);
}

void control_reply_json(struct control_request *req, struct json_writer *w, const char *text)
{
	const char *json;

	if (json_writer_finish(w, &json) < 0)
		control_reply_error(req, "out of memory");
	else
		control_reply(req, json, text);
	json_writer_free(w);
}

void control_reply_error(struct control_request *req, const char *fmt, ...)
{
	struct json_writer w;
	char msg[1024];
	va_list ap;

	json_writer_init(&w);
	if (req->client) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		answer_error(&w, msg);
	}
	finish_request(req, &w);
	json_writer_free(&w);
}

bool control_request_orphaned(const struct control_request *req)
{
	return !req->client;
}

/* ---- opening and closing ---- */

/* The file at s->path exists: in use (something answers), stale (refused: removed, 0), or not a
 * socket at all (left alone). */
static int check_existing(struct control_server *s, const struct sockaddr_un *addr,
			  struct error *err)
{
	struct stat st;
	int probe, ret;

	if (lstat(s->path, &st) < 0)
		return errno == ENOENT ? 0 : error_set(err, errno, "%s: %s", s->path, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return error_set(err, EEXIST, "%s exists and is not a socket", s->path);
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return error_set(err, errno, "socket: %s", strerror(errno));
	ret = connect(probe, (const struct sockaddr *)addr, sizeof(*addr));
	if (ret < 0 && errno == ECONNREFUSED) {
		close(probe);
		if (unlink(s->path) < 0 && errno != ENOENT)
			return error_set(err, errno, "cannot remove the stale socket %s: %s", s->path,
					 strerror(errno));
		log_info(TAG, "replaced the stale control socket %s", s->path);
		return 0;
	}
	close(probe);
	/* Connected, or a full backlog (EAGAIN): a live server is there. */
	if (ret == 0 || errno == EAGAIN || errno == EINPROGRESS) {
		if (s->name)
			return error_set(err, EADDRINUSE, "VM name %s is in use (control socket %s)",
					 s->name, s->path);
		return error_set(err, EADDRINUSE, "control socket %s is in use", s->path);
	}
	return error_set(err, errno, "cannot check the control socket %s: %s", s->path,
			 strerror(errno));
}

/* Directory lock: two VMs started at once with one name must not both find the socket stale and
 * take turns replacing it. Best effort: -1 when the directory cannot be opened for reading. */
static int lock_parent(const char *path)
{
	char dir[RUN_DIR_PATH_MAX];
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static int listen_on_path(struct control_server *s, struct error *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct stat st;
	int lock, ret;

	memcpy(addr.sun_path, s->path, strlen(s->path) + 1);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		return error_set(err, errno, "socket: %s", strerror(errno));
	lock = lock_parent(s->path);
	for (int attempt = 0;; attempt++) {
		if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
			break;
		if (errno != EADDRINUSE || attempt) {
			ret = error_set(err, errno, "cannot listen on %s: %s", s->path,
					strerror(errno));
			goto out;
		}
		ret = check_existing(s, &addr, err);
		if (ret < 0)
			goto out;
	}
	/* Before listen(): nobody connects in between with the umask's wider rights. */
	if (chmod(s->path, 0600) < 0 || listen(s->listen_fd, CONTROL_CLIENTS_MAX) < 0 ||
	    stat(s->path, &st) < 0) {
		ret = error_set(err, errno, "cannot listen on %s: %s", s->path, strerror(errno));
		unlink(s->path);
		goto out;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	ret = 0;
out:
	if (lock >= 0)
		close(lock);
	return ret;
}

/* Removes the socket file unless someone replaced it since. */
static void unlink_if_ours(struct control_server *s)
{
	struct stat st;

	if (lstat(s->path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == s->dev &&
	    st.st_ino == s->ino)
		unlink(s->path);
}

static void server_free(struct control_server *s)
{
	while (s->commands) {
		struct control_command *cmd = s->commands;

		s->commands = cmd->next;
		control_command_free(cmd);
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	free(s->name);
	free(s);
}

int control_server_open(struct control_server **out, struct event_loop *loop, const char *name,
			const char *path, struct error *err)
{
	struct control_server *s;
	char dir[RUN_DIR_PATH_MAX];
	int ret;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return error_set(err, ENOMEM, "out of memory");
	s->loop = loop;
	s->listen_fd = -1;
	s->listen_op.complete = listen_done;
	if (name && !(s->name = strdup(name))) {
		ret = error_set(err, ENOMEM, "out of memory");
		goto err_free;
	}
	if (path) {
		if (!path[0] || strlen(path) >= sizeof(s->path)) {
			ret = error_set(err, ENAMETOOLONG,
					"control socket path '%s' is empty or longer than %zu bytes",
					path, sizeof(s->path) - 1);
			goto err_free;
		}
		snprintf(s->path, sizeof(s->path), "%s", path);
	} else if (name) {
		ret = run_dir_check_name(name, err);
		if (ret < 0)
			goto err_free;
		ret = run_dir_prepare(dir, sizeof(dir), err);
		if (ret < 0)
			goto err_free;
		ret = run_dir_socket_path(s->path, sizeof(s->path), dir, name, err);
		if (ret < 0)
			goto err_free;
	} else {
		ret = error_set(err, EINVAL, "a control socket needs a VM name or a path");
		goto err_free;
	}
	ret = control_add_builtins(s);
	if (ret < 0) {
		ret = error_set(err, -ret, "out of memory");
		goto err_free;
	}
	ret = listen_on_path(s, err);
	if (ret < 0)
		goto err_free;
	if (!listen_arm(s)) {
		ret = error_set(err, EBUSY, "io_uring submission queue full");
		unlink_if_ours(s);
		goto err_free;
	}
	*out = s;
	return 0;
err_free:
	server_free(s);
	return ret;
}

const char *control_server_path(const struct control_server *s)
{
	return s->path;
}

static bool server_idle(void *arg)
{
	struct control_server *s = arg;

	return !s->listen_polling && !s->zombies;
}

void control_server_close(struct control_server *s)
{
	int ret;

	if (!s)
		return;
	s->closing = true;
	/* Wakes the listening poll (POLLHUP); the clients' polls wake the same way. */
	shutdown(s->listen_fd, SHUT_RDWR);
	while (s->clients)
		client_drop(s->clients);
	ret = event_loop_run_until(s->loop, server_idle, s);
	unlink_if_ours(s);
	if (ret < 0) {
		/* Completions may still name these: leaking beats a use after free. */
		log_error(TAG, "event loop failed while closing %s: %s", s->path, strerror(-ret));
		close(s->listen_fd);
		return;
	}
	server_free(s);
}
