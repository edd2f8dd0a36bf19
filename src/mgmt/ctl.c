/* `hvkvm ctl` (see ctl.h): one request line to a VM's control socket, one answer line back, as
 * control.h describes; blocking I/O bounded by one deadline. */
#include "mgmt/ctl.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mgmt/control.h"
#include "mgmt/run_dir.h"

/* An answer longer than this is refused (a runaway server, not a real answer). */
#define ANSWER_MAX (64u << 20)
/* --list asks each socket for at most this long. */
#define LIST_TIMEOUT_MS 2000

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline: 1 ready, 0 timed out, -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		struct pollfd p = {.fd = fd, .events = events};
		int n;

		if (left <= 0)
			return 0;
		n = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int connect_until(const char *path, int64_t deadline, struct error *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return error_set(err, ENAMETOOLONG, "socket path %s is too long", path);
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set(err, errno, "socket: %s", strerror(errno));
	for (;;) {
		int e;

		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
			return fd;
		e = errno;
		if (e == EINTR)
			continue;
		if (e != EAGAIN) {
			close(fd);
			return error_set(err, e, "cannot connect to %s: %s", path, strerror(e));
		}
		/* Its backlog is full: the server is busy, not gone. */
		if (now_ms() >= deadline) {
			close(fd);
			return error_set(err, ETIMEDOUT, "%s accepts no connection", path);
		}
		usleep(10000);
	}
}

static int build_request(const char *command, unsigned argc, const char *const *args,
			 char **line, size_t *len, struct error *err)
{
	struct json_writer w;
	const char *text;
	int ret;

	for (unsigned i = 0; i < argc; i++)
		if (!json_utf8_valid(args[i], strlen(args[i])))
			return error_set(err, EILSEQ, "argument %u is not valid UTF-8", i + 1);
	if (!json_utf8_valid(command, strlen(command)))
		return error_set(err, EILSEQ, "the command is not valid UTF-8");
	json_writer_init(&w);
	json_object_begin(&w);
	json_key(&w, "command");
	json_string(&w, command);
	json_key(&w, "args");
	json_array_begin(&w);
	for (unsigned i = 0; i < argc; i++)
		json_string(&w, args[i]);
	json_array_end(&w);
	json_object_end(&w);
	ret = json_writer_finish(&w, &text);
	if (ret < 0) {
		json_writer_free(&w);
		return error_set(err, ENOMEM, "out of memory");
	}
	if (w.len + 1 > CONTROL_LINE_MAX) {
		json_writer_free(&w);
		return error_set(err, E2BIG, "the request is longer than %d bytes",
				 CONTROL_LINE_MAX - 1);
	}
	w.buf[w.len] = '\n'; /* replaces the NUL: the buffer always has that byte */
	*len = w.len + 1;
	*line = w.buf;
	return 0;
}

/* Sends the line. A server that closed on us (too many clients) may have answered already:
 * EPIPE ends sending without failing, the answer is read next. */
static int send_all(int fd, const char *buf, size_t len, int64_t deadline, struct error *err)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		int ready;

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return error_set(err, EPROTO, "sending the request: %s", strerror(errno));
		ready = wait_fd(fd, POLLOUT, deadline);
		if (ready == 0)
			return error_set(err, ETIMEDOUT, "timed out sending the request");
		if (ready < 0)
			return error_set(err, EPROTO, "poll: %s", strerror(-ready));
	}
	return 0;
}

/* Reads up to the first newline: the answer line (NUL-terminated, newline dropped). */
static int read_line(int fd, char **line, size_t *len, int64_t deadline, struct error *err)
{
	size_t have = 0, cap = 4096;
	char *buf = malloc(cap);
	int ret;

	if (!buf)
		return error_set(err, ENOMEM, "out of memory");
	for (;;) {
		char *nl = have ? memchr(buf, '\n', have) : NULL;
		ssize_t n;

		if (nl) {
			*nl = '\0';
			*len = (size_t)(nl - buf);
			*line = buf;
			return 0;
		}
		if (have == cap) {
			char *grown;

			if (cap >= ANSWER_MAX) {
				ret = error_set(err, EPROTO, "the answer is longer than %u bytes",
						ANSWER_MAX);
				goto fail;
			}
			grown = realloc(buf, cap * 2);
			if (!grown) {
				ret = error_set(err, ENOMEM, "out of memory");
				goto fail;
			}
			buf = grown;
			cap *= 2;
		}
		n = recv(fd, buf + have, cap - have, MSG_DONTWAIT);
		if (n > 0) {
			have += (size_t)n;
			continue;
		}
		if (n == 0) {
			ret = error_set(err, EPROTO, "the VM closed the connection without answering");
			goto fail;
		}
		if (errno == EAGAIN || errno == EINTR) {
			int ready = wait_fd(fd, POLLIN, deadline);

			if (ready > 0)
				continue;
			ret = ready == 0 ? error_set(err, ETIMEDOUT, "no answer in time")
					 : error_set(err, EPROTO, "poll: %s", strerror(-ready));
			goto fail;
		}
		ret = error_set(err, EPROTO, "reading the answer: %s", strerror(errno));
		goto fail;
	}
fail:
	free(buf);
	return ret;
}

int ctl_call(const char *path, const char *command, unsigned argc, const char *const *args,
	     int timeout_ms, struct json_answer *answer, struct error *err)
{
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	char *request = NULL, *line = NULL;
	size_t request_len = 0, line_len = 0;
	struct error perr = {""};
	int fd, ret;

	memset(answer, 0, sizeof(*answer));
	ret = build_request(command, argc, args, &request, &request_len, err);
	if (ret < 0)
		return ret;
	fd = connect_until(path, deadline, err);
	if (fd < 0) {
		free(request);
		return fd;
	}
	ret = send_all(fd, request, request_len, deadline, err);
	if (ret == 0)
		ret = read_line(fd, &line, &line_len, deadline, err);
	if (ret == 0) {
		ret = json_answer_parse(answer, line, line_len, &perr);
		if (ret < 0)
			ret = error_set(err, EPROTO, "malformed answer from the VM: %s", perr.msg);
	}
	close(fd);
	free(line);
	free(request);
	return ret;
}

/* ---- the command line ---- */

static void usage(FILE *f)
{
	fputs("Usage: hvkvm ctl [--json] [--timeout SECONDS] VM COMMAND [ARGS...]\n"
	      "       hvkvm ctl [--json] --list\n"
	      "Send COMMAND to a running VM: VM is its name (hvkvm run --name), or the path of its\n"
	      "control socket if it contains '/'. 'hvkvm ctl VM help' lists the VM's commands.\n\n"
	      "  --json             print the result as one JSON line ({\"error\":\"...\"} on failure)\n"
	      "  --timeout SECONDS  how long to wait for the answer (default 30)\n"
	      "  --list             list the running VMs (those whose control socket answers)\n\n"
	      "Exit status: 0 done, 1 the VM answered with an error, 2 bad usage or no such VM,\n"
	      "3 no answer in time.\n"
	      "Sockets live in $HVKVM_RUN_DIR, else /run/hvkvm for root, else\n"
	      "$XDG_RUNTIME_DIR/hvkvm, else /tmp/hvkvm-UID.\n", f);
}

struct ctl_opts {
	bool json, list;
	int timeout_ms;
	FILE *out, *errout;
};

/* A failure in the form the user asked for: "hvkvm ctl: ..." on errout, or {"error":"..."}. */
static int report(const struct ctl_opts *o, int status, const char *msg)
{
	if (o->json) {
		struct json_writer w;
		const char *text;

		json_writer_init(&w);
		json_object_begin(&w);
		json_key(&w, "error");
		json_string(&w, msg);
		json_object_end(&w);
		if (json_writer_finish(&w, &text) == 0)
			fprintf(o->out, "%s\n", text);
		json_writer_free(&w);
		return status;
	}
	fputs("hvkvm ctl: ", o->errout);
	for (const char *p = msg; *p; p++) /* one line, whatever the server said */
		fputc((unsigned char)*p < 0x20 ? ' ' : *p, o->errout);
	fputc('\n', o->errout);
	return status;
}

static int parse_timeout(const char *arg, int *ms)
{
	char *end;
	double s;

	errno = 0;
	s = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(s) || s <= 0 || s > 86400 * 7)
		return -EINVAL;
	*ms = (int)(s * 1000);
	if (*ms < s * 1000) /* round up: 0.0001 s still waits a little */
		++*ms;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Any answer counts, an error too: a VM busy with too many clients is still running. */
static bool answers(const char *path, int timeout_ms)
{
	struct json_answer a;
	struct error err;

	if (ctl_call(path, "ping", 0, NULL, timeout_ms, &a, &err) < 0)
		return false;
	json_answer_free(&a);
	return true;
}

/* The names of the run directory's sockets that answer a ping, sorted. */
static int list_vms(const struct ctl_opts *o)
{
	char dir[RUN_DIR_PATH_MAX], path[RUN_DIR_PATH_MAX], msg[600];
	char **names = NULL;
	size_t count = 0;
	struct error err = {""};
	struct dirent *de;
	DIR *d;
	int status = CTL_EXIT_OK;

	if (run_dir_get(dir, sizeof(dir), &err) < 0)
		return report(o, CTL_EXIT_USAGE, err.msg);
	d = opendir(dir);
	if (!d && errno != ENOENT) {
		snprintf(msg, sizeof(msg), "cannot read %s: %s", dir, strerror(errno));
		return report(o, CTL_EXIT_ERROR, msg);
	}
	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char name[RUN_DIR_NAME_MAX + 1], **grown;

		if (n <= 5 || n - 5 > RUN_DIR_NAME_MAX || strcmp(de->d_name + n - 5, ".sock"))
			continue;
		memcpy(name, de->d_name, n - 5);
		name[n - 5] = '\0';
		if (run_dir_socket_path(path, sizeof(path), dir, name, NULL) < 0)
			continue;
		if (!answers(path, o->timeout_ms < LIST_TIMEOUT_MS ? o->timeout_ms : LIST_TIMEOUT_MS))
			continue;
		grown = realloc(names, (count + 1) * sizeof(*names));
		if (!grown || !(grown[count] = strdup(name))) {
			names = grown ? grown : names;
			status = report(o, CTL_EXIT_ERROR, "out of memory");
			goto out;
		}
		names = grown;
		count++;
	}
	qsort(names, count, sizeof(*names), cmp_names);
	if (o->json) {
		struct json_writer w;
		const char *text;

		json_writer_init(&w);
		json_array_begin(&w);
		for (size_t i = 0; i < count; i++) {
			json_object_begin(&w);
			json_key(&w, "name");
			json_string(&w, names[i]);
			json_key(&w, "socket");
			if (run_dir_socket_path(path, sizeof(path), dir, names[i], NULL) == 0)
				json_string(&w, path);
			else
				json_null(&w); /* cannot be: it was reached by that path */
			json_object_end(&w);
		}
		json_array_end(&w);
		if (json_writer_finish(&w, &text) == 0)
			fprintf(o->out, "%s\n", text);
		else
			status = report(o, CTL_EXIT_ERROR, "out of memory");
		json_writer_free(&w);
	} else {
		for (size_t i = 0; i < count; i++)
			fprintf(o->out, "%s\n", names[i]);
	}
out:
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	if (d)
		closedir(d);
	return status;
}

static int run_command(const struct ctl_opts *o, const char *vm, const char *command,
		       unsigned argc, const char *const *args)
{
	char dir[RUN_DIR_PATH_MAX], path[RUN_DIR_PATH_MAX], msg[700];
	bool named = !strchr(vm, '/');
	struct json_answer a;
	struct error err = {""};
	int ret, status;

	if (named) {
		if (run_dir_check_name(vm, &err) < 0 || run_dir_get(dir, sizeof(dir), &err) < 0 ||
		    run_dir_socket_path(path, sizeof(path), dir, vm, &err) < 0)
			return report(o, CTL_EXIT_USAGE, err.msg);
	} else if (snprintf(path, sizeof(path), "%s", vm) >= (int)sizeof(path)) {
		return report(o, CTL_EXIT_USAGE, "the socket path is too long");
	}
	ret = ctl_call(path, command, argc, args, o->timeout_ms, &a, &err);
	switch (ret) {
	case 0:
		break;
	case -ETIMEDOUT:
		snprintf(msg, sizeof(msg), "no answer from %s within %g s", vm,
			 o->timeout_ms / 1000.0);
		return report(o, CTL_EXIT_TIMEOUT, msg);
	case -EPROTO:
	case -ENOMEM:
		return report(o, CTL_EXIT_ERROR, err.msg);
	case -E2BIG:
	case -EILSEQ:
		return report(o, CTL_EXIT_USAGE, err.msg);
	case -ENOENT:
		if (named)
			snprintf(msg, sizeof(msg), "no VM named %s (no socket at %s)", vm, path);
		else
			snprintf(msg, sizeof(msg), "no VM at %s (no such socket)", path);
		return report(o, CTL_EXIT_USAGE, msg);
	case -ECONNREFUSED:
		if (named)
			snprintf(msg, sizeof(msg),
				 "no VM named %s (stale socket at %s: nothing listens)", vm, path);
		else
			snprintf(msg, sizeof(msg), "no VM at %s (nothing listens)", path);
		return report(o, CTL_EXIT_USAGE, msg);
	default:
		return report(o, CTL_EXIT_USAGE, err.msg);
	}
	if (!a.ok) {
		status = report(o, CTL_EXIT_ERROR, a.error);
	} else {
		size_t n = strlen(a.text);

		if (o->json)
			fprintf(o->out, "%s\n", a.result);
		else if (n)
			fprintf(o->out, "%s%s", a.text, a.text[n - 1] == '\n' ? "" : "\n");
		status = CTL_EXIT_OK;
	}
	json_answer_free(&a);
	return status;
}

int ctl_main(int argc, char **argv, FILE *out, FILE *errout)
{
	struct ctl_opts o = {.timeout_ms = CTL_TIMEOUT_DEFAULT_MS, .out = out, .errout = errout};
	char msg[300];
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-' || !a[1])
			break;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(out);
			return CTL_EXIT_OK;
		} else if (!strcmp(a, "--json")) {
			o.json = true;
		} else if (!strcmp(a, "--list")) {
			o.list = true;
		} else if (!strcmp(a, "--timeout") || !strncmp(a, "--timeout=", 10)) {
			const char *v = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);

			if (!v || parse_timeout(v, &o.timeout_ms) < 0) {
				snprintf(msg, sizeof(msg),
					 "--timeout: expected a number of seconds above 0, not '%s'",
					 v ? v : "");
				return report(&o, CTL_EXIT_USAGE, msg);
			}
		} else {
			snprintf(msg, sizeof(msg), "unknown option '%s' (see 'hvkvm ctl --help')", a);
			return report(&o, CTL_EXIT_USAGE, msg);
		}
	}
	if (o.list) {
		if (i < argc)
			return report(&o, CTL_EXIT_USAGE, "--list takes no VM or command");
		return list_vms(&o);
	}
	if (argc - i < 2)
		return report(&o, CTL_EXIT_USAGE,
			      argc - i < 1 ? "no VM given (see 'hvkvm ctl --help')"
					   : "no command given (try: hvkvm ctl VM help)");
	return run_command(&o, argv[i], argv[i + 1], (unsigned)(argc - i - 2),
			   (const char *const *)argv + i + 2);
}
