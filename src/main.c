/* hvkvm's command line: `hvkvm run` boots a guest until it powers off, reboots (restarting it
 * unless told otherwise) or fails; exit statuses as `hvkvm run --help` lists them. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "backend/chardev.h"
#include "board.h"
#include "event_loop.h"
#include "kvm.h"
#include "log.h"
#include "mgmt/control.h"
#include "mgmt/ctl.h"
#include "options.h"
#include "terminal.h"
#include "vcpu.h"

#define EXIT_GUEST_FAILURE 1
#define EXIT_BAD_INPUT 2
#define EXIT_GUEST_CRASH 3

/* What ends the process: a signal, caught through a signalfd on the loop. */
struct signal_watch {
	struct event_watch watch;
	struct event_loop *loop;
	int signo; /* 0 until one arrives */
};

static void signal_ready(struct event_watch *w, unsigned revents)
{
	struct signal_watch *sw = (struct signal_watch *)w;
	struct signalfd_siginfo si;

	(void)revents;
	if (read(w->fd, &si, sizeof(si)) == sizeof(si) && !sw->signo) {
		sw->signo = si.ssi_signo;
		event_loop_stop(sw->loop);
	}
}

static int open_signal_watch(struct signal_watch *sw, struct event_loop *loop, sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, mask, NULL))
		return -errno;
	sw->signo = 0;
	sw->loop = loop;
	sw->watch.ready = signal_ready;
	sw->watch.fd = signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sw->watch.fd < 0)
		return -errno;
	return event_loop_watch(loop, &sw->watch);
}

static int check_host_memory(const struct run_options *opts, struct error *err)
{
	struct sysinfo si;
	unsigned long long host;

	if (sysinfo(&si) < 0)
		return 0;
	host = (unsigned long long)si.totalram * si.mem_unit;
	if (opts->memory > host)
		return error_set(err, ENOMEM,
				 "--memory: %llu MiB is more than this host's %llu MiB of RAM",
				 (unsigned long long)(opts->memory >> 20), host >> 20);
	return 0;
}

/* One boot. Returns the process exit status, or -1 to boot again (reset with restart). */
static int boot_once(const struct run_options *opts, const struct kvm *kvm,
		     struct event_loop *loop, struct chardev *console, struct control_server *ctl,
		     struct signal_watch *sig)
{
	struct board board;
	struct error err = {""};
	bool bad_input = false;
	int status, ret;

	ret = board_create(&board, opts, kvm, loop, console, ctl, &err, &bad_input);
	if (ret < 0) {
		fprintf(stderr, "hvkvm: %s\n", err.msg);
		return bad_input ? EXIT_BAD_INPUT : EXIT_GUEST_FAILURE;
	}
	ret = vm_start_vcpus(&board.vm, &err);
	if (ret < 0) {
		fprintf(stderr, "hvkvm: %s\n", err.msg);
		board_destroy(&board);
		return EXIT_GUEST_FAILURE;
	}
	ret = event_loop_run(loop);
	if (ret < 0)
		log_error("main", "event loop failed: %s", strerror(-ret));
	vm_end(&board.vm, MACHINE_FAILURE, EXIT_GUEST_FAILURE); /* no-op if it already ended */
	vm_stop_vcpus(&board.vm);

	if (sig->signo)
		status = 128 + sig->signo;
	else if (board.vm.outcome == MACHINE_RESET && opts->on_reboot == ON_REBOOT_RESTART)
		status = -1;
	else if (board.vm.outcome == MACHINE_GUEST_CRASH)
		status = opts->on_crash == ON_CRASH_RESTART ? -1 : EXIT_GUEST_CRASH;
	else
		status = board.vm.outcome_status;
	board_destroy(&board);
	return status;
}

static int cmd_run(int argc, char **argv)
{
	struct run_options opts;
	struct error err = {""};
	struct signal_watch sig = {0};
	struct terminal term = {.raw = false};
	struct event_loop loop;
	struct chardev console;
	struct control_server *ctl = NULL;
	struct kvm kvm;
	sigset_t mask;
	int status, ret;

	if (options_parse_run(argc, argv, &opts, &err) < 0) {
		fprintf(stderr, "hvkvm: %s (see 'hvkvm run --help')\n", err.msg);
		return EXIT_BAD_INPUT;
	}
	if (opts.help) {
		options_print_run_help(stdout);
		return 0;
	}
	log_set_level(opts.verbose ? LOG_DEBUG : LOG_WARN);
	if (check_host_memory(&opts, &err) < 0) {
		fprintf(stderr, "hvkvm: %s\n", err.msg);
		return EXIT_BAD_INPUT;
	}
	if (kvm_open(&kvm, &err) < 0) {
		fprintf(stderr, "hvkvm: %s\n", err.msg);
		return EXIT_GUEST_FAILURE;
	}
	if ((int)opts.cpus > kvm.max_vcpus) {
		fprintf(stderr, "hvkvm: --cpus: %u is above this host's KVM limit of %d\n", opts.cpus,
			kvm.max_vcpus);
		kvm_close(&kvm);
		return EXIT_BAD_INPUT;
	}
	ret = event_loop_init(&loop);
	if (ret < 0) {
		fprintf(stderr, "hvkvm: cannot set up io_uring: %s\n", strerror(-ret));
		kvm_close(&kvm);
		return EXIT_GUEST_FAILURE;
	}
	if (chardev_open(&console, opts.serial, &loop, &err) < 0) {
		fprintf(stderr, "hvkvm: --serial: %s\n", err.msg);
		status = EXIT_BAD_INPUT;
		goto out_loop;
	}
	ret = open_signal_watch(&sig, &loop, &mask);
	if (ret < 0) {
		fprintf(stderr, "hvkvm: cannot watch signals: %s\n", strerror(-ret));
		status = EXIT_GUEST_FAILURE;
		goto out_console;
	}
	if (opts.name || opts.control_path) {
		if (control_server_open(&ctl, &loop, opts.name, opts.control_path, &err) < 0) {
			fprintf(stderr, "hvkvm: %s\n", err.msg);
			status = EXIT_BAD_INPUT;
			goto out_signals;
		}
	}
	vcpu_install_kick_handler();
	signal(SIGPIPE, SIG_IGN); /* a closed console pipe is an error to handle, not death */
	if (console.kind == CHARDEV_STDIO)
		terminal_enter_raw(&term, STDIN_FILENO);

	do
		status = boot_once(&opts, &kvm, &loop, &console, ctl, &sig);
	while (status < 0);

	terminal_restore(&term);
	if (ctl)
		control_server_close(ctl);
out_signals:
	event_loop_unwatch(&loop, &sig.watch);
	close(sig.watch.fd);
out_console:
	chardev_close(&console);
out_loop:
	event_loop_destroy(&loop);
	kvm_close(&kvm);
	return status;
}

static void print_main_help(FILE *out)
{
	options_print_main_help(out);
	fputs("\nA running VM is controlled with:\n"
	      "  hvkvm ctl [--json] [--timeout SECONDS] VM COMMAND [ARGS...]\n"
	      "  hvkvm ctl --list   (see 'hvkvm ctl --help'; 'hvkvm ctl VM help' lists COMMANDs)\n",
	      out);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		print_main_help(stderr);
		return EXIT_BAD_INPUT;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		print_main_help(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("hvkvm %s\n", HVKVM_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "ctl")) {
		signal(SIGPIPE, SIG_IGN); /* a VM that hangs up is an answer to report, not death */
		return ctl_main(argc - 1, argv + 1, stdout, stderr);
	}
	fprintf(stderr, "hvkvm: unknown command '%s' (see 'hvkvm --help')\n", argv[1]);
	return EXIT_BAD_INPUT;
}
