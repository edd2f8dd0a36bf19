/* Boot benchmark probe, run inside the nested test host (built static by bench/boot/run.sh): starts a
 * VMM, times its guest's first init line on the monotonic clock, reads its memory use while idle. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
	"usage: boot-probe -n NAME [-t LIMIT_S] [-i IDLE_S] [-m MARK] [-r READY] [-s INPUT] -- CMD [ARG...]\n"
	"  Runs CMD with stdout+stderr on a pipe, each line printed as '@@g NAME MS LINE' (MS since CMD\n"
	"  started). MARK (default 'hvkvm-guest: init started'): the boot time is when a line holds it.\n"
	"  READY (default 'ready-for-input'): IDLE_S seconds (default 5) after a line holds it, CMD's\n"
	"  VmRSS, VmHWM (/proc/PID/status) and Pss (/proc/PID/smaps_rollup) are read, then INPUT and a\n"
	"  newline go to its stdin. CMD is killed after LIMIT_S seconds (default 120) or 3 s after a\n"
	"  guest kernel panic. Ends with '@@bench NAME boot_ms=.. rss_kb=.. hwm_kb=.. pss_kb=.. end_ms=..\n"
	"  status=..' (-1: not seen or not read; status 128+N: killed by signal N).\n";

struct probe_opts {
	const char *name;
	const char *mark;
	const char *ready;
	const char *input;
	long limit_ms;
	long idle_ms;
	char **cmd;
};

struct probe_mem {
	long rss_kb;
	long hwm_kb;
	long pss_kb;
};

static long now_ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* The value in kB of the first line of FILE that starts with KEY ("VmRSS:"), or -1. */
static long proc_kb(pid_t pid, const char *file, const char *key)
{
	char path[64], line[256];
	size_t len = strlen(key);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, len) == 0) {
			kb = strtol(line + len, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

static void read_mem(pid_t pid, struct probe_mem *mem)
{
	mem->rss_kb = proc_kb(pid, "status", "VmRSS:");
	mem->hwm_kb = proc_kb(pid, "status", "VmHWM:");
	mem->pss_kb = proc_kb(pid, "smaps_rollup", "Pss:");
}

static int parse_opts(int argc, char **argv, struct probe_opts *o)
{
	int c;

	*o = (struct probe_opts){ .mark = "hvkvm-guest: init started", .ready = "ready-for-input",
				  .input = "", .limit_ms = 120000, .idle_ms = 5000 };
	while ((c = getopt(argc, argv, "+n:t:i:m:r:s:")) != -1) {
		switch (c) {
		case 'n': o->name = optarg; break;
		case 't': o->limit_ms = atol(optarg) * 1000; break;
		case 'i': o->idle_ms = atol(optarg) * 1000; break;
		case 'm': o->mark = optarg; break;
		case 'r': o->ready = optarg; break;
		case 's': o->input = optarg; break;
		default: return -EINVAL;
		}
	}
	if (!o->name || optind >= argc || o->limit_ms <= 0 || o->idle_ms < 0)
		return -EINVAL;
	o->cmd = argv + optind;
	return 0;
}

static pid_t spawn(char **cmd, int *in_fd, int *out_fd)
{
	int in[2], out[2];
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		execvp(cmd[0], cmd);
		fprintf(stderr, "boot-probe: cannot run %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		return -1;
	}
	*in_fd = in[1];
	*out_fd = out[0];
	return pid;
}

int main(int argc, char **argv)
{
	struct probe_mem mem = { -1, -1, -1 };
	struct probe_opts o;
	struct timespec t0;
	char buf[4096], line[1024];
	size_t line_len = 0;
	long boot_ms = -1, idle_at = -1, kill_at, end_ms;
	int in_fd, out_fd, status, st, killed = 0;
	pid_t pid;

	if (parse_opts(argc, argv, &o) < 0) {
		fputs(usage, stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = spawn(o.cmd, &in_fd, &out_fd);
	if (pid < 0) {
		fprintf(stderr, "boot-probe: cannot start %s: %s\n", o.cmd[0], strerror(errno));
		return 2;
	}
	kill_at = o.limit_ms;
	for (;;) {
		struct pollfd p = { .fd = out_fd, .events = POLLIN };
		long now = now_ms_since(&t0), wait_ms = kill_at - now;
		ssize_t n;

		if (idle_at >= 0 && idle_at - now < wait_ms)
			wait_ms = idle_at - now;
		if (wait_ms < 0)
			wait_ms = 0;
		if (poll(&p, 1, (int)wait_ms) < 0 && errno != EINTR)
			break;
		now = now_ms_since(&t0);
		if (idle_at >= 0 && now >= idle_at) {
			idle_at = -1;
			read_mem(pid, &mem);
			if (write(in_fd, o.input, strlen(o.input)) < 0 || write(in_fd, "\n", 1) < 0)
				printf("@@g %s %ld boot-probe: cannot write the input line\n", o.name, now);
		}
		if (now >= kill_at) {
			if (killed)
				break; /* something else holds the pipe open */
			printf("@@g %s %ld boot-probe: killing the VMM\n", o.name, now);
			kill(pid, SIGKILL);
			killed = 1;
			kill_at = now + 5000; /* its pipe closes when it is gone */
		}
		if (!(p.revents & (POLLIN | POLLHUP)))
			continue;
		n = read(out_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			char c = buf[i];

			if (c == '\r')
				continue;
			if (c != '\n' && line_len < sizeof(line) - 1) {
				line[line_len++] = c;
				continue;
			}
			if (c != '\n')
				continue; /* overlong line: the rest is dropped */
			line[line_len] = 0;
			line_len = 0;
			printf("@@g %s %ld %s\n", o.name, now, line);
			if (boot_ms < 0 && strstr(line, o.mark))
				boot_ms = now;
			if (idle_at < 0 && mem.rss_kb < 0 && strstr(line, o.ready))
				idle_at = now + o.idle_ms;
			if (!killed && strstr(line, "Kernel panic - not syncing") && kill_at > now + 3000)
				kill_at = now + 3000;
		}
	}
	if (waitpid(pid, &st, 0) < 0)
		status = -1;
	else if (WIFEXITED(st))
		status = WEXITSTATUS(st);
	else
		status = 128 + WTERMSIG(st);
	end_ms = now_ms_since(&t0);
	close(in_fd);
	close(out_fd);
	printf("@@bench %s boot_ms=%ld rss_kb=%ld hwm_kb=%ld pss_kb=%ld end_ms=%ld status=%d\n", o.name,
	       boot_ms, mem.rss_kb, mem.hwm_kb, mem.pss_kb, end_ms, status);
	return 0;
}
