/* Unit tests for src/mgmt/control.c, ctl.c and run_dir.c: the server on an event loop in a
 * thread, the `hvkvm ctl` client called with argv, and raw sockets for what the client never
 * sends (pipelining, malformed and overlong lines, half-closes, too many clients). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "event_loop.h"
#include "mgmt/control.h"
#include "mgmt/ctl.h"
#include "mgmt/run_dir.h"
#include "unit.h"

static char tmp_dir[32], run_dir[40];

/* ---- running things on the loop thread ---- */

struct on_loop {
	pthread_mutex_t lock;
	bool done;
	void (*fn)(void *arg);
	void *arg;
};

static void on_loop_fn(void *arg)
{
	struct on_loop *o = arg;

	o->fn(o->arg);
	pthread_mutex_lock(&o->lock);
	o->done = true;
	pthread_mutex_unlock(&o->lock);
}

static void run_on_loop(struct event_loop *loop, void (*fn)(void *), void *arg)
{
	struct on_loop o = {.lock = PTHREAD_MUTEX_INITIALIZER, .fn = fn, .arg = arg};
	bool done = false;

	CHECK_EQ(event_loop_post(loop, on_loop_fn, &o), 0);
	while (!done) {
		usleep(1000);
		pthread_mutex_lock(&o.lock);
		done = o.done;
		pthread_mutex_unlock(&o.lock);
	}
}

static void *loop_thread(void *arg)
{
	return (void *)(intptr_t)event_loop_run(arg);
}

/* ---- handlers ---- */

struct held {
	struct event_loop *loop;
	struct control_request *req; /* a request a handler kept */
	unsigned later_runs;
};

static void h_echo(void *opaque, struct control_request *req, unsigned argc,
		   const char *const *argv)
{
	char result[512] = "{\"args\":[", text[512] = "";

	(void)opaque;
	for (unsigned i = 0; i < argc; i++) {
		/* the test's args need no escaping */
		snprintf(result + strlen(result), sizeof(result) - strlen(result), "%s\"%s\"",
			 i ? "," : "", argv[i]);
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s", i ? " " : "",
			 argv[i]);
	}
	strcat(result, "]}");
	control_reply(req, result, text);
}

static void h_fail(void *opaque, struct control_request *req, unsigned argc,
		   const char *const *argv)
{
	(void)opaque;
	control_reply_error(req, "failed: %s", argc ? argv[0] : "");
}

static void h_badjson(void *opaque, struct control_request *req, unsigned argc,
		      const char *const *argv)
{
	(void)opaque, (void)argc, (void)argv;
	control_reply(req, "{\"unterminated\":", "never seen");
}

static void h_multi(void *opaque, struct control_request *req, unsigned argc,
		    const char *const *argv)
{
	(void)opaque, (void)argc, (void)argv;
	control_reply(req, NULL, "first\nsecond");
}

static void h_big(void *opaque, struct control_request *req, unsigned argc,
		  const char *const *argv)
{
	size_t n = 300000;
	char *text = malloc(n + 1);

	(void)opaque, (void)argc, (void)argv;
	memset(text, 'b', n);
	text[n] = '\0';
	control_reply(req, "[1,2,3]", text);
	free(text);
}

/* Asynchronous: answered from a later loop callback. */
static void later_reply(void *arg)
{
	struct held *h = arg;
	struct control_request *req = h->req;

	h->req = NULL;
	h->later_runs++;
	control_reply(req, "{\"later\":true}", "done later");
}

static void h_later(void *opaque, struct control_request *req, unsigned argc,
		    const char *const *argv)
{
	struct held *h = opaque;

	(void)argc, (void)argv;
	h->req = req;
	if (event_loop_post(h->loop, later_reply, h) < 0)
		control_reply_error(req, "cannot post");
}

/* Kept until the test answers it. */
static void h_hang(void *opaque, struct control_request *req, unsigned argc,
		   const char *const *argv)
{
	struct held *h = opaque;

	(void)argc, (void)argv;
	h->req = req;
}

struct probe {
	struct held *h;
	bool has_req, orphaned;
};

static void probe_fn(void *arg)
{
	struct probe *p = arg;

	p->has_req = p->h->req != NULL;
	p->orphaned = p->has_req && control_request_orphaned(p->h->req);
}

static void answer_held(void *arg)
{
	struct held *h = arg;
	struct control_request *req = h->req;

	h->req = NULL;
	control_reply(req, "{}", "too late");
}

/* Waits (up to 5 s) until the held request is orphaned. */
static bool wait_orphaned(struct event_loop *loop, struct held *h)
{
	struct probe p = {.h = h};

	for (int i = 0; i < 500; i++) {
		run_on_loop(loop, probe_fn, &p);
		if (p.orphaned)
			return true;
		usleep(10000);
	}
	return false;
}

static bool wait_held(struct event_loop *loop, struct held *h)
{
	struct probe p = {.h = h};

	for (int i = 0; i < 500; i++) {
		run_on_loop(loop, probe_fn, &p);
		if (p.has_req)
			return true;
		usleep(10000);
	}
	return false;
}

/* ---- the client, captured ---- */

struct ctl_run {
	int status;
	char *out, *err;
};

static void ctl_free(struct ctl_run *r)
{
	free(r->out);
	free(r->err);
}

static struct ctl_run ctl_argv(int argc, char **argv)
{
	struct ctl_run r;
	size_t n1, n2;
	FILE *out = open_memstream(&r.out, &n1), *err = open_memstream(&r.err, &n2);

	r.status = ctl_main(argc, argv, out, err);
	fclose(out);
	fclose(err);
	return r;
}

/* ctl("vm1", "echo", "a", NULL): argv[0] is "ctl". */
static struct ctl_run ctl(const char *first, ...)
{
	char *argv[32] = {"ctl"};
	int argc = 1;
	va_list ap;

	va_start(ap, first);
	for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	return ctl_argv(argc, argv);
}

static bool is(const char *got, const char *want)
{
	if (strcmp(got, want)) {
		fprintf(stderr, "got '%s', wanted '%s'\n", got, want);
		return false;
	}
	return true;
}

static bool has(const char *got, const char *piece)
{
	if (!strstr(got, piece)) {
		fprintf(stderr, "'%s' lacks '%s'\n", got, piece);
		return false;
	}
	return true;
}

/* ---- raw sockets ---- */

static int raw_connect(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

static void raw_send(int fd, const char *s)
{
	size_t n = strlen(s);

	CHECK_EQ(write(fd, s, n), (long long)n);
}

/* One line (without its newline) into buf, within 5 s; false on EOF or timeout. */
static bool raw_line(int fd, char *buf, size_t len)
{
	size_t have = 0;

	while (have + 1 < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char c;

		if (poll(&p, 1, 5000) != 1 || read(fd, &c, 1) != 1)
			break;
		if (c == '\n') {
			buf[have] = '\0';
			return true;
		}
		buf[have++] = c;
	}
	buf[have] = '\0';
	return false;
}

/* True if the server closes the connection within 5 s (after any pending bytes). */
static bool raw_eof(int fd)
{
	char buf[256];

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 5000) != 1)
			return false;
		n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		if (n < 0)
			return false;
	}
}

/* ---- tests ---- */

struct servers {
	struct event_loop *loop;
	struct control_server *s, *extra;
	const char *name, *path;
	struct error err;
	int ret;
	struct held held, later;
};

static void open_extra(void *arg)
{
	struct servers *sv = arg;

	memset(&sv->err, 0, sizeof(sv->err));
	sv->extra = NULL;
	sv->ret = control_server_open(&sv->extra, sv->loop, sv->name, sv->path, &sv->err);
}

static void test_run_dir(void)
{
	char buf[RUN_DIR_PATH_MAX], long_name[80];
	struct error err;

	CHECK_EQ(run_dir_check_name("vm-1.test_a+b", &err), 0);
	CHECK_EQ(run_dir_check_name("", &err), -EINVAL);
	CHECK_EQ(run_dir_check_name(".hidden", &err), -EINVAL);
	CHECK_EQ(run_dir_check_name("-opt", &err), -EINVAL);
	CHECK_EQ(run_dir_check_name("a/b", &err), -EINVAL);
	CHECK_EQ(run_dir_check_name("a b", &err), -EINVAL);
	memset(long_name, 'n', 65);
	long_name[65] = '\0';
	CHECK_EQ(run_dir_check_name(long_name, &err), -EINVAL);
	long_name[64] = '\0';
	CHECK_EQ(run_dir_check_name(long_name, &err), 0);
	/* 64-byte name in a 50-byte directory does not fit a socket address. */
	CHECK_EQ(run_dir_socket_path(buf, sizeof(buf), "/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				     long_name, &err), -ENAMETOOLONG);
	CHECK_EQ(run_dir_socket_path(buf, sizeof(buf), "/r", "vm", &err), 0);
	CHECK(is(buf, "/r/vm.sock"));

	/* The order of the places. */
	setenv("HVKVM_RUN_DIR", "/x/y/", 1);
	CHECK_EQ(run_dir_get(buf, sizeof(buf), &err), 0);
	CHECK(is(buf, "/x/y"));
	setenv("HVKVM_RUN_DIR", "relative", 1);
	CHECK_EQ(run_dir_get(buf, sizeof(buf), &err), -EINVAL);
	unsetenv("HVKVM_RUN_DIR");
	setenv("XDG_RUNTIME_DIR", "/run/user/77", 1);
	CHECK_EQ(run_dir_get(buf, sizeof(buf), &err), 0);
	CHECK(is(buf, geteuid() == 0 ? "/run/hvkvm" : "/run/user/77/hvkvm"));
	unsetenv("XDG_RUNTIME_DIR");
	CHECK_EQ(run_dir_get(buf, sizeof(buf), &err), 0);
	if (geteuid() != 0) {
		char want[64];

		snprintf(want, sizeof(want), "/tmp/hvkvm-%u", (unsigned)geteuid());
		CHECK(is(buf, want));
	}

	/* prepare creates nested directories 0700. */
	snprintf(buf, sizeof(buf), "%s/a/b/run", tmp_dir);
	setenv("HVKVM_RUN_DIR", buf, 1);
	{
		char got[RUN_DIR_PATH_MAX];
		struct stat st;

		CHECK_EQ(run_dir_prepare(got, sizeof(got), &err), 0);
		CHECK(is(got, buf));
		CHECK_EQ(stat(got, &st), 0);
		CHECK(S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
		/* A file where the directory should be. */
		snprintf(buf, sizeof(buf), "%s/a/file", tmp_dir);
		close(open(buf, O_CREAT | O_WRONLY, 0600));
		setenv("HVKVM_RUN_DIR", buf, 1);
		CHECK(run_dir_prepare(got, sizeof(got), &err) < 0);
		unlink(buf);
		rmdir(got);
	}
	setenv("HVKVM_RUN_DIR", run_dir, 1);
}

static void test_client_usage(void)
{
	struct ctl_run r;

	r = ctl(NULL);
	CHECK_EQ(r.status, CTL_EXIT_USAGE);
	CHECK(has(r.err, "hvkvm ctl: no VM given"));
	ctl_free(&r);
	r = ctl("vm1", NULL);
	CHECK_EQ(r.status, CTL_EXIT_USAGE);
	CHECK(has(r.err, "no command given"));
	ctl_free(&r);
	r = ctl("--bogus", "vm1", "ping", NULL);
	CHECK_EQ(r.status, CTL_EXIT_USAGE);
	CHECK(has(r.err, "unknown option '--bogus'"));
	ctl_free(&r);
	r = ctl("--timeout", "soon", "vm1", "ping", NULL);
	CHECK_EQ(r.status, CTL_EXIT_USAGE);
	CHECK(has(r.err, "--timeout"));
	ctl_free(&r);
	r = ctl("--timeout=0", "vm1", "ping", NULL);
	CHECK_EQ(r.status, CTL_EXIT_USAGE);
	ctl_free(&r);
	r = ctl("--timeout", NULL);
	CHECK_EQ(r.status, CTL_EXIT_USAGE);
	ctl_free(&r);
	r = ctl("--list", "vm1", NULL);
	CHECK_EQ(r.status, CTL_EXIT_USAGE);
	ctl_free(&r);
	r = ctl("Bad Name", "ping", NULL);
	CHECK_EQ(r.status, CTL_EXIT_USAGE);
	CHECK(has(r.err, "VM name"));
	ctl_free(&r);
	r = ctl("--help", NULL);
	CHECK_EQ(r.status, CTL_EXIT_OK);
	CHECK(has(r.out, "Usage: hvkvm ctl"));
	CHECK(is(r.err, ""));
	ctl_free(&r);
	/* --json: failures as {"error":...} on stdout too. */
	r = ctl("--json", "--nope", NULL);
	CHECK_EQ(r.status, CTL_EXIT_USAGE);
	CHECK(has(r.out, "{\"error\":\"unknown option '--nope'"));
	CHECK(is(r.err, ""));
	ctl_free(&r);
}

static void test_no_vm(void)
{
	char want[300], path[200];
	struct ctl_run r;
	int fd;

	r = ctl("novm", "ping", NULL);
	CHECK_EQ(r.status, CTL_EXIT_USAGE);
	snprintf(want, sizeof(want), "hvkvm ctl: no VM named novm (no socket at %s/novm.sock)\n",
		 run_dir);
	CHECK(is(r.err, want));
	CHECK(is(r.out, ""));
	ctl_free(&r);

	snprintf(path, sizeof(path), "%s/nothing/here.sock", tmp_dir);
	r = ctl(path, "ping", NULL);
	CHECK_EQ(r.status, CTL_EXIT_USAGE);
	CHECK(has(r.err, "no VM at"));
	ctl_free(&r);

	/* A socket file nobody listens on: stale. */
	{
		struct sockaddr_un a = {.sun_family = AF_UNIX};

		snprintf(a.sun_path, sizeof(a.sun_path), "%s/dead.sock", run_dir);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		CHECK_EQ(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
		close(fd);
	}
	r = ctl("dead", "ping", NULL);
	CHECK_EQ(r.status, CTL_EXIT_USAGE);
	CHECK(has(r.err, "no VM named dead (stale socket"));
	ctl_free(&r);
	r = ctl("--json", "dead", "ping", NULL);
	CHECK_EQ(r.status, CTL_EXIT_USAGE);
	CHECK(has(r.out, "{\"error\":\"no VM named dead"));
	ctl_free(&r);
}

static void test_commands(struct servers *sv)
{
	struct ctl_run r;
	char want[300];

	r = ctl("vm1", "ping", NULL);
	CHECK_EQ(r.status, CTL_EXIT_OK);
	CHECK(is(r.out, "pong\n"));
	CHECK(is(r.err, ""));
	ctl_free(&r);
	r = ctl("--json", "vm1", "ping", NULL);
	CHECK_EQ(r.status, CTL_EXIT_OK);
	snprintf(want, sizeof(want), "{\"name\":\"vm1\",\"pid\":%d}\n", (int)getpid());
	CHECK(is(r.out, want));
	ctl_free(&r);
	/* By path. */
	r = ctl(control_server_path(sv->s), "ping", NULL);
	CHECK_EQ(r.status, CTL_EXIT_OK);
	CHECK(is(r.out, "pong\n"));
	ctl_free(&r);

	r = ctl("vm1", "echo", "a", "b c", "--overwrite", NULL);
	CHECK_EQ(r.status, CTL_EXIT_OK);
	CHECK(is(r.out, "a b c --overwrite\n"));
	ctl_free(&r);
	r = ctl("--timeout", "5", "--json", "vm1", "echo", "a", "b c", NULL);
	CHECK_EQ(r.status, CTL_EXIT_OK);
	CHECK(is(r.out, "{\"args\":[\"a\",\"b c\"]}\n"));
	ctl_free(&r);
	/* "--" ends the options: a VM named like an option is no such thing here, but usable. */
	r = ctl("--", "vm1", "echo", NULL);
	CHECK_EQ(r.status, CTL_EXIT_OK);
	CHECK(is(r.out, "")); /* empty text prints nothing */
	ctl_free(&r);

	r = ctl("vm1", "fail", "x", NULL);
	CHECK_EQ(r.status, CTL_EXIT_ERROR);
	CHECK(is(r.out, ""));
	CHECK(is(r.err, "hvkvm ctl: failed: x\n"));
	ctl_free(&r);
	r = ctl("vm1", "fail", "two\nlines\ttab", NULL);
	CHECK_EQ(r.status, CTL_EXIT_ERROR);
	CHECK(is(r.err, "hvkvm ctl: failed: two lines tab\n"));
	ctl_free(&r);
	r = ctl("--json", "vm1", "fail", "q\"uote", NULL);
	CHECK_EQ(r.status, CTL_EXIT_ERROR);
	CHECK(is(r.out, "{\"error\":\"failed: q\\\"uote\"}\n"));
	CHECK(is(r.err, ""));
	ctl_free(&r);

	r = ctl("vm1", "nosuch", NULL);
	CHECK_EQ(r.status, CTL_EXIT_ERROR);
	CHECK(is(r.err, "hvkvm ctl: unknown command 'nosuch' (see 'help')\n"));
	ctl_free(&r);

	r = ctl("vm1", "help", NULL);
	CHECK_EQ(r.status, CTL_EXIT_OK);
	CHECK(has(r.out, "Commands:\n"));
	CHECK(has(r.out, "  echo ARG...  print the args\n"));
	CHECK(has(r.out, "  ping  check that the VM answers\n"));
	CHECK(has(r.out, "  help [COMMAND]  list the commands, or show one\n"));
	CHECK(has(r.out, "  multi\n")); /* registered without usage */
	/* sorted */
	CHECK(strstr(r.out, "  echo") < strstr(r.out, "  help"));
	CHECK(strstr(r.out, "  help") < strstr(r.out, "  ping"));
	ctl_free(&r);
	r = ctl("--json", "vm1", "help", "echo", NULL);
	CHECK_EQ(r.status, CTL_EXIT_OK);
	CHECK(is(r.out, "{\"commands\":[{\"command\":\"echo\",\"usage\":\"ARG...  print the args\"}]}\n"));
	ctl_free(&r);
	r = ctl("vm1", "help", "nope", NULL);
	CHECK_EQ(r.status, CTL_EXIT_ERROR);
	ctl_free(&r);
	r = ctl("vm1", "ping", "extra", NULL);
	CHECK_EQ(r.status, CTL_EXIT_ERROR);
	CHECK(has(r.err, "usage: ping"));
	ctl_free(&r);

	r = ctl("vm1", "later", NULL);
	CHECK_EQ(r.status, CTL_EXIT_OK);
	CHECK(is(r.out, "done later\n"));
	ctl_free(&r);
	r = ctl("--json", "vm1", "later", NULL);
	CHECK(is(r.out, "{\"later\":true}\n"));
	ctl_free(&r);
	CHECK_EQ(sv->later.later_runs, 2);

	r = ctl("vm1", "badjson", NULL);
	CHECK_EQ(r.status, CTL_EXIT_ERROR);
	CHECK(has(r.err, "not valid JSON"));
	ctl_free(&r);

	r = ctl("vm1", "multi", NULL);
	CHECK_EQ(r.status, CTL_EXIT_OK);
	CHECK(is(r.out, "first\nsecond\n"));
	ctl_free(&r);
	r = ctl("--json", "vm1", "multi", NULL);
	CHECK(is(r.out, "{}\n")); /* no result: {} */
	ctl_free(&r);

	/* An answer larger than the socket buffer goes out in pieces. */
	r = ctl("vm1", "big", NULL);
	CHECK_EQ(r.status, CTL_EXIT_OK);
	CHECK_EQ(strlen(r.out), 300001);
	ctl_free(&r);

	/* Arguments must be UTF-8 (a JSON string cannot carry other bytes faithfully). */
	r = ctl("vm1", "echo", "caf\xe9", NULL);
	CHECK_EQ(r.status, CTL_EXIT_USAGE);
	CHECK(has(r.err, "argument 1 is not valid UTF-8"));
	ctl_free(&r);
	/* A request over the line limit is refused before sending. */
	{
		char *huge = malloc(CONTROL_LINE_MAX + 1);

		memset(huge, 'h', CONTROL_LINE_MAX);
		huge[CONTROL_LINE_MAX] = '\0';
		r = ctl("vm1", "echo", huge, NULL);
		CHECK_EQ(r.status, CTL_EXIT_USAGE);
		CHECK(has(r.err, "longer than"));
		ctl_free(&r);
		free(huge);
	}
}

static void test_timeout_and_orphan(struct servers *sv)
{
	struct ctl_run r;
	int fd;

	r = ctl("--timeout", "0.3", "vm1", "hang", NULL);
	CHECK_EQ(r.status, CTL_EXIT_TIMEOUT);
	CHECK(is(r.err, "hvkvm ctl: no answer from vm1 within 0.3 s\n"));
	ctl_free(&r);
	/* The client has gone: the request is orphaned, its late answer dropped. */
	CHECK(wait_orphaned(sv->loop, &sv->held));
	run_on_loop(sv->loop, answer_held, &sv->held);
	r = ctl("vm1", "ping", NULL);
	CHECK_EQ(r.status, CTL_EXIT_OK);
	ctl_free(&r);

	/* A raw client that shuts its side and waits is not orphaned; closing it is. */
	fd = raw_connect(control_server_path(sv->s));
	raw_send(fd, "{\"command\":\"hang\"}\n");
	CHECK(wait_held(sv->loop, &sv->held));
	shutdown(fd, SHUT_WR);
	usleep(50000);
	{
		struct probe p = {.h = &sv->held};

		run_on_loop(sv->loop, probe_fn, &p);
		CHECK(p.has_req && !p.orphaned);
	}
	run_on_loop(sv->loop, answer_held, &sv->held);
	{
		char line[256];

		CHECK(raw_line(fd, line, sizeof(line)));
		CHECK(is(line, "{\"ok\":true,\"result\":{},\"text\":\"too late\"}"));
		CHECK(raw_eof(fd));
	}
	close(fd);

	fd = raw_connect(control_server_path(sv->s));
	raw_send(fd, "{\"command\":\"hang\"}\n");
	CHECK(wait_held(sv->loop, &sv->held));
	close(fd);
	CHECK(wait_orphaned(sv->loop, &sv->held));
	run_on_loop(sv->loop, answer_held, &sv->held);
}

static void test_raw(struct servers *sv)
{
	const char *path = control_server_path(sv->s);
	char line[512];
	int fd;

	/* Pipelined, answered in order, blank lines skipped, an async one in the middle. */
	fd = raw_connect(path);
	raw_send(fd, "{\"command\":\"ping\"}\n\n  \r\n{\"command\":\"ping\",\n"
		     "{\"command\":\"later\"}\r\n{\"command\":\"echo\",\"args\":[\"x\"]}\n"
		     "not json\n[]\n{\"command\":\"nosuch\"}\n{\"command\":\"echo\"}");
	CHECK(raw_line(fd, line, sizeof(line)));
	CHECK(has(line, "{\"ok\":true,\"result\":{\"name\":\"vm1\""));
	CHECK(raw_line(fd, line, sizeof(line)));
	CHECK(is(line, "{\"ok\":false,\"error\":\"malformed request: expected a member name at "
		       "byte 18\"}"));
	CHECK(raw_line(fd, line, sizeof(line)));
	CHECK(is(line, "{\"ok\":true,\"result\":{\"later\":true},\"text\":\"done later\"}"));
	CHECK(raw_line(fd, line, sizeof(line)));
	CHECK(is(line, "{\"ok\":true,\"result\":{\"args\":[\"x\"]},\"text\":\"x\"}"));
	CHECK(raw_line(fd, line, sizeof(line)));
	CHECK(has(line, "malformed request: the request is not a JSON object"));
	CHECK(raw_line(fd, line, sizeof(line)));
	CHECK(has(line, "malformed request"));
	CHECK(raw_line(fd, line, sizeof(line)));
	CHECK(has(line, "unknown command 'nosuch'"));
	/* The last line has no newline: it waits for EOF, then counts. */
	shutdown(fd, SHUT_WR);
	CHECK(raw_line(fd, line, sizeof(line)));
	CHECK(is(line, "{\"ok\":true,\"result\":{\"args\":[]},\"text\":\"\"}"));
	CHECK(raw_eof(fd));
	close(fd);

	/* An overlong line: an error, then the server hangs up. */
	{
		size_t n = CONTROL_LINE_MAX + 100;
		char *flood = malloc(n);

		memset(flood, 'x', n);
		fd = raw_connect(path);
		CHECK_EQ(write(fd, flood, n), (long long)n);
		CHECK(raw_line(fd, line, sizeof(line)));
		CHECK(is(line, "{\"ok\":false,\"error\":\"request line longer than 65535 bytes: "
			       "disconnecting\"}"));
		CHECK(raw_eof(fd));
		close(fd);
		/* Just under the limit is fine: 65535 bytes and the newline. */
		fd = raw_connect(path);
		memcpy(flood, "{\"command\":\"ping\",\"pad\":\"", 25);
		memset(flood + 25, ' ', CONTROL_LINE_MAX - 25 - 3);
		memcpy(flood + CONTROL_LINE_MAX - 3, "\"}\n", 3);
		CHECK_EQ(write(fd, flood, CONTROL_LINE_MAX), CONTROL_LINE_MAX);
		CHECK(raw_line(fd, line, sizeof(line)));
		CHECK(has(line, "{\"ok\":true"));
		close(fd);
		free(flood);
	}

	/* Many requests queued behind a held one: read in once the first is answered. */
	{
		size_t n = 0, each = strlen("{\"command\":\"ping\"}\n");
		char *many = malloc(3000 * each + 64);
		unsigned answers = 0;

		fd = raw_connect(path);
		raw_send(fd, "{\"command\":\"hang\"}\n");
		CHECK(wait_held(sv->loop, &sv->held));
		for (int i = 0; i < 3000; i++) {
			memcpy(many + n, "{\"command\":\"ping\"}\n", each);
			n += each;
		}
		CHECK_EQ(write(fd, many, n), (long long)n);
		run_on_loop(sv->loop, answer_held, &sv->held);
		CHECK(raw_line(fd, line, sizeof(line)));
		CHECK(has(line, "too late"));
		while (answers < 3000 && raw_line(fd, line, sizeof(line)) && has(line, "\"ok\":true"))
			answers++;
		CHECK_EQ(answers, 3000);
		close(fd);
		free(many);
	}

	/* CONTROL_CLIENTS_MAX at once; one more is told so and closed. */
	{
		int fds[CONTROL_CLIENTS_MAX], extra;

		for (int i = 0; i < CONTROL_CLIENTS_MAX; i++) {
			fds[i] = raw_connect(path);
			raw_send(fds[i], "{\"command\":\"ping\"}\n");
			CHECK(raw_line(fds[i], line, sizeof(line)));
			CHECK(has(line, "\"ok\":true"));
		}
		extra = raw_connect(path);
		CHECK(extra >= 0);
		CHECK(raw_line(extra, line, sizeof(line)));
		CHECK(is(line, "{\"ok\":false,\"error\":\"too many control clients, try again later\"}"));
		CHECK(raw_eof(extra));
		close(extra);
		/* The client sees it as an error answer. */
		{
			struct ctl_run r = ctl("vm1", "ping", NULL);

			CHECK_EQ(r.status, CTL_EXIT_ERROR);
			CHECK(has(r.err, "too many control clients"));
			ctl_free(&r);
		}
		close(fds[0]);
		/* Once the server has seen that one go, there is room again. */
		{
			int status = -1;

			for (int i = 0; i < 200 && status != CTL_EXIT_OK; i++) {
				struct ctl_run r = ctl("vm1", "ping", NULL);

				status = r.status;
				ctl_free(&r);
				if (status != CTL_EXIT_OK)
					usleep(10000);
			}
			CHECK_EQ(status, CTL_EXIT_OK);
		}
		for (int i = 1; i < CONTROL_CLIENTS_MAX; i++)
			close(fds[i]);
	}

	/* A client that connects and says nothing, then goes. */
	fd = raw_connect(path);
	close(fd);
	/* A fire-and-forget request: sent, then the connection closed at once. It still runs. */
	sv->later.later_runs = 0;
	fd = raw_connect(path);
	raw_send(fd, "{\"command\":\"later\"}\n");
	close(fd);
	for (int i = 0; i < 200 && !sv->later.later_runs; i++) {
		struct probe p = {.h = &sv->later};

		run_on_loop(sv->loop, probe_fn, &p);
		usleep(10000);
	}
	CHECK_EQ(sv->later.later_runs, 1);
}

static void test_open_rules(struct servers *sv)
{
	char path[200], listed[400];
	struct stat st;
	int fd;

	/* The name is in use while vm1 answers. */
	sv->name = "vm1";
	sv->path = NULL;
	run_on_loop(sv->loop, open_extra, sv);
	CHECK_EQ(sv->ret, -EADDRINUSE);
	CHECK(sv->extra == NULL);
	CHECK(has(sv->err.msg, "VM name vm1 is in use"));
	CHECK_EQ(stat(control_server_path(sv->s), &st), 0); /* untouched */
	/* So is its path. */
	sv->name = NULL;
	sv->path = control_server_path(sv->s);
	run_on_loop(sv->loop, open_extra, sv);
	CHECK_EQ(sv->ret, -EADDRINUSE);
	CHECK(has(sv->err.msg, "is in use"));

	/* A non-socket file is left alone. */
	snprintf(path, sizeof(path), "%s/plain.sock", run_dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	close(fd);
	sv->name = "plain";
	sv->path = NULL;
	run_on_loop(sv->loop, open_extra, sv);
	CHECK_EQ(sv->ret, -EEXIST);
	CHECK(has(sv->err.msg, "is not a socket"));
	CHECK_EQ(stat(path, &st), 0);
	CHECK(S_ISREG(st.st_mode));

	/* Neither name nor path; a bad name; a path too long. */
	sv->name = NULL;
	run_on_loop(sv->loop, open_extra, sv);
	CHECK_EQ(sv->ret, -EINVAL);
	sv->name = "no/slash";
	run_on_loop(sv->loop, open_extra, sv);
	CHECK_EQ(sv->ret, -EINVAL);
	sv->name = NULL;
	{
		char long_path[200];

		memset(long_path, 'p', sizeof(long_path) - 1);
		long_path[0] = '/';
		long_path[sizeof(long_path) - 1] = '\0';
		sv->path = long_path;
		run_on_loop(sv->loop, open_extra, sv);
		CHECK_EQ(sv->ret, -ENAMETOOLONG);
	}

	/* A stale socket (left by a VM that died) is replaced. */
	sv->name = "dead";
	sv->path = NULL;
	run_on_loop(sv->loop, open_extra, sv);
	CHECK_EQ(sv->ret, 0);
	CHECK(sv->extra != NULL);
	if (sv->extra) {
		struct ctl_run r = ctl("dead", "ping", NULL);

		CHECK_EQ(r.status, CTL_EXIT_OK);
		ctl_free(&r);
		CHECK_EQ(stat(control_server_path(sv->extra), &st), 0);
		CHECK(S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
		/* --list: the answering ones, sorted; not the plain file. */
		r = ctl("--list", NULL);
		CHECK_EQ(r.status, CTL_EXIT_OK);
		CHECK(is(r.out, "dead\nvm1\n"));
		ctl_free(&r);
		r = ctl("--json", "--list", NULL);
		snprintf(listed, sizeof(listed),
			 "[{\"name\":\"dead\",\"socket\":\"%s/dead.sock\"},"
			 "{\"name\":\"vm1\",\"socket\":\"%s/vm1.sock\"}]\n", run_dir, run_dir);
		CHECK(is(r.out, listed));
		ctl_free(&r);
	}
}

int main(void)
{
	struct event_loop loop;
	struct servers sv = {.loop = &loop};
	struct error err = {""};
	struct stat st;
	pthread_t t;
	int ret;

	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/hvkvm-ctl-XXXXXX");
	if (!mkdtemp(tmp_dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(run_dir, sizeof(run_dir), "%s/run", tmp_dir);
	setenv("HVKVM_RUN_DIR", run_dir, 1);
	test_run_dir();
	test_client_usage();
	if (event_loop_init(&loop) < 0) {
		printf("test_control: no io_uring here, server tests skipped\n");
		return unit_done("test_control") ? 1 : 77;
	}
	sv.held.loop = sv.later.loop = &loop;

	/* Opened and set up before the loop runs; the run directory is created. */
	ret = control_server_open(&sv.s, &loop, "vm1", NULL, &err);
	CHECK_EQ(ret, 0);
	if (ret < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return unit_done("test_control");
	}
	CHECK_EQ(stat(run_dir, &st), 0);
	CHECK((st.st_mode & 0777) == 0700);
	test_no_vm();
	CHECK_EQ(control_register(sv.s, "echo", "ARG...  print the args", h_echo, NULL), 0);
	CHECK_EQ(control_register(sv.s, "fail", "ARG  fail with ARG", h_fail, NULL), 0);
	CHECK_EQ(control_register(sv.s, "badjson", NULL, h_badjson, NULL), 0);
	CHECK_EQ(control_register(sv.s, "multi", NULL, h_multi, NULL), 0);
	CHECK_EQ(control_register(sv.s, "big", NULL, h_big, NULL), 0);
	CHECK_EQ(control_register(sv.s, "later", NULL, h_later, &sv.later), 0);
	CHECK_EQ(control_register(sv.s, "hang", NULL, h_hang, &sv.held), 0);
	CHECK_EQ(control_register(sv.s, "temp", NULL, h_echo, NULL), 0);
	CHECK_EQ(control_register(sv.s, "echo", NULL, h_echo, NULL), -EEXIST);
	CHECK_EQ(control_register(sv.s, "help", NULL, h_echo, NULL), -EEXIST);
	CHECK_EQ(control_register(sv.s, "ping", NULL, h_echo, NULL), -EEXIST);
	CHECK_EQ(control_register(sv.s, "Bad", NULL, h_echo, NULL), -EINVAL);
	CHECK_EQ(control_register(sv.s, "a b", NULL, h_echo, NULL), -EINVAL);
	CHECK_EQ(control_register(sv.s, "", NULL, h_echo, NULL), -EINVAL);
	CHECK_EQ(control_register(sv.s, "x", NULL, NULL, NULL), -EINVAL);
	CHECK_EQ(control_register(sv.s, "abcdefghijklmnopqrstuvwxyz0123456", NULL, h_echo, NULL),
		 -EINVAL);
	control_unregister(sv.s, "temp");
	control_unregister(sv.s, "help"); /* built in: stays */
	control_unregister(sv.s, "never-there");

	CHECK_EQ(pthread_create(&t, NULL, loop_thread, &loop), 0);
	{
		struct ctl_run r = ctl("vm1", "temp", NULL);

		CHECK_EQ(r.status, CTL_EXIT_ERROR);
		ctl_free(&r);
		r = ctl("vm1", "help", "help", NULL);
		CHECK(is(r.out, "help [COMMAND]  list the commands, or show one\n"));
		ctl_free(&r);
	}
	test_commands(&sv);
	test_timeout_and_orphan(&sv);
	test_raw(&sv);
	test_open_rules(&sv);

	/* A request still held when the server closes: orphaned, answered afterwards. */
	{
		int fd = raw_connect(control_server_path(sv.s));

		raw_send(fd, "{\"command\":\"hang\"}\n");
		CHECK(wait_held(&loop, &sv.held));
		event_loop_stop(&loop);
		pthread_join(t, NULL);
		{
			char path[RUN_DIR_PATH_MAX];

			snprintf(path, sizeof(path), "%s", control_server_path(sv.s));
			control_server_close(sv.s);
			CHECK(access(path, F_OK) < 0);
			CHECK(sv.held.req && control_request_orphaned(sv.held.req));
			answer_held(&sv.held);
			CHECK(raw_eof(fd));
		}
		close(fd);
	}
	if (sv.extra) {
		char path[RUN_DIR_PATH_MAX];

		snprintf(path, sizeof(path), "%s", control_server_path(sv.extra));
		control_server_close(sv.extra);
		CHECK(access(path, F_OK) < 0);
	}
	/* The name is free again, and its socket file gone: a fresh open works. */
	CHECK_EQ(control_server_open(&sv.s, &loop, "vm1", NULL, &err), 0);
	{
		char path[RUN_DIR_PATH_MAX];

		snprintf(path, sizeof(path), "%s", control_server_path(sv.s));
		control_server_close(sv.s);
		CHECK(access(path, F_OK) < 0);
	}
	event_loop_destroy(&loop);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmp_dir);
	}
	return unit_done("test_control");
}
