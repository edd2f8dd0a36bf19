/* Command-line options of `hvkvm run` (see options.h). */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "hv-enlight/hv.h"
#include "mgmt/run_dir.h"
#include "size_parse.h"

enum { OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_MEMORY, OPT_CPUS, OPT_SERIAL,
       OPT_DEBUG_EXIT, OPT_ON_REBOOT, OPT_ON_CRASH, OPT_HYPERV, OPT_HYPERV_TEST_CONNECTIONS,
       OPT_VMBUS_TEST_DEVICE, OPT_DISK, OPT_NET, OPT_NAME, OPT_CONTROL };

static const struct option run_longopts[] = {
	{"kernel", required_argument, NULL, OPT_KERNEL},
	{"initrd", required_argument, NULL, OPT_INITRD},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{"memory", required_argument, NULL, OPT_MEMORY},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"serial", required_argument, NULL, OPT_SERIAL},
	{"debug-exit", required_argument, NULL, OPT_DEBUG_EXIT},
	{"on-reboot", required_argument, NULL, OPT_ON_REBOOT},
	{"on-crash", required_argument, NULL, OPT_ON_CRASH},
	{"hyperv", required_argument, NULL, OPT_HYPERV},
	{"hyperv-test-connections", no_argument, NULL, OPT_HYPERV_TEST_CONNECTIONS},
	{"vmbus-test-device", no_argument, NULL, OPT_VMBUS_TEST_DEVICE},
	{"disk", required_argument, NULL, OPT_DISK},
	{"net", required_argument, NULL, OPT_NET},
	{"name", required_argument, NULL, OPT_NAME},
	{"control", required_argument, NULL, OPT_CONTROL},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

void options_print_main_help(FILE *out)
{
	fputs("Usage: hvkvm COMMAND [OPTIONS]\n"
	      "A virtual machine monitor on KVM.\n\n"
	      "Commands:\n"
	      "  run        boot a guest kernel (see 'hvkvm run --help')\n\n"
	      "Options:\n"
	      "  -h, --help     show this help\n"
	      "  --version      show the version\n", out);
}

void options_print_run_help(FILE *out)
{
	fputs("Usage: hvkvm run --kernel FILE [OPTIONS]\n"
	      "Boot a guest kernel; its console (COM1) is this terminal by default.\n\n"
	      "  --kernel FILE        Linux bzImage (64-bit entry), ELF vmlinux with a PVH entry,\n"
	      "                       or a Multiboot v1 kernel\n"
	      "  --initrd FILE        initial ramdisk (Multiboot: passed as the first module)\n"
	      "  --cmdline STR        kernel command line\n"
	      "  --memory SIZE        guest RAM, e.g. 512M or 4G; a plain number means MiB;\n"
	      "                       rounded up to 2M (default 512M, minimum 16M)\n"
	      "  --cpus N             virtual CPUs, 1-255 and at most KVM's limit (default 1)\n"
	      "  --serial BACKEND     COM1: stdio (default), file:PATH, unix:PATH (a listening\n"
	      "                       socket, one client at a time), or none\n"
	      "  --debug-exit PORT    a guest write of V to I/O port PORT (decimal or 0x-hex)\n"
	      "                       ends hvkvm with status (V << 1) | 1\n"
	      "  --on-reboot ACTION   restart (default) or exit (status 0) when the guest reboots\n"
	      "  --on-crash ACTION    exit (default, status 3) or restart when the guest reports\n"
	      "                       a crash through the Hyper-V crash MSRs\n"
	      "  --hyperv SET         the Hyper-V enlightenments the guest sees: on (default), off,\n"
	      "                       or a comma-separated list of: relaxed, vpindex, runtime,\n"
	      "                       time, synic, stimer, stimer-direct, crash, reset,\n"
	      "                       frequencies, vapic, ipi, idle, tsc-invariant\n"
	      "                       ('+name' / '-name' add to / remove from the default set;\n"
	      "                       the default leaves out stimer, stimer-direct, ipi and\n"
	      "                       tsc-invariant)\n"
	      "  --hyperv-test-connections\n"
	      "                       echo connections 0x10000 (messages) and 0x10001 (events)\n"
	      "                       for the TLFS test guests\n"
	      "  --vmbus-test-device  offer a VMBus channel that echoes in-band packets\n"
	      "  --disk PATH[,readonly][,bus=scsi][,controller=N][,lun=N][,cache=none|writeback]\n"
	      "                       a raw image file or block device as a synthetic SCSI disk\n"
	      "                       (storvsp; cache=none: O_DIRECT, the default); repeatable\n"
	      "  --net tap=NAME[,mac=XX:XX:XX:XX:XX:XX][,mtu=N]\n"
	      "                       a synthetic NIC (netvsp) on tap device NAME (created and\n"
	      "                       removed again if it does not exist); repeatable\n"
	      "  --name NAME          the VM's name: its control socket for 'hvkvm ctl NAME'\n"
	      "  --control PATH       the control socket's path (default from --name)\n"
	      "  -v, --verbose        log more\n"
	      "  -h, --help           show this help\n\n"
	      "Exit status: 0 guest powered off (or rebooted with --on-reboot exit); 1 guest\n"
	      "failure (triple fault, KVM error); 2 bad usage or input; 3 the guest reported a\n"
	      "crash; 130/143 stopped by SIGINT/SIGTERM; (V << 1) | 1 from the debug-exit port.\n",
	      out);
}

static bool serial_spec_valid(const char *s)
{
	if (!strcmp(s, "stdio") || !strcmp(s, "none"))
		return true;
	if (!strncmp(s, "file:", 5) || !strncmp(s, "unix:", 5))
		return s[5] != '\0';
	return false;
}

static int parse_one(int opt, const char *arg, struct run_options *o, struct error *err)
{
	uint64_t v;

	switch (opt) {
	case OPT_KERNEL: o->kernel = arg; return 0;
	case OPT_INITRD: o->initrd = arg; return 0;
	case OPT_CMDLINE: o->cmdline = arg; return 0;
	case OPT_MEMORY:
		if (size_parse(arg, &v) < 0)
			return error_set(err, EINVAL, "--memory: '%s' is not a size like 512M or 4G", arg);
		if (v < OPTIONS_MIN_MEMORY)
			return error_set(err, EINVAL, "--memory: '%s' is below the minimum of 16M", arg);
		if (v > (1ULL << 46))
			return error_set(err, EINVAL, "--memory: '%s' is too large", arg);
		o->memory = (v + (2u << 20) - 1) & ~((2ULL << 20) - 1);
		return 0;
	case OPT_CPUS:
		if (uint_parse(arg, OPTIONS_MAX_CPUS, &v) < 0 || v == 0)
			return error_set(err, EINVAL, "--cpus: '%s' is not a number from 1 to %d", arg,
					 OPTIONS_MAX_CPUS);
		o->cpus = v;
		return 0;
	case OPT_SERIAL:
		if (!serial_spec_valid(arg))
			return error_set(err, EINVAL,
					 "--serial: '%s' is not stdio, none, file:PATH or unix:PATH", arg);
		o->serial = arg;
		return 0;
	case OPT_DEBUG_EXIT:
		if (uint_parse(arg, 0xffff, &v) < 0)
			return error_set(err, EINVAL, "--debug-exit: '%s' is not an I/O port (0-0xffff)",
					 arg);
		o->debug_exit_port = v;
		return 0;
	case OPT_ON_REBOOT:
		if (!strcmp(arg, "restart"))
			o->on_reboot = ON_REBOOT_RESTART;
		else if (!strcmp(arg, "exit"))
			o->on_reboot = ON_REBOOT_EXIT;
		else
			return error_set(err, EINVAL, "--on-reboot: '%s' is not restart or exit", arg);
		return 0;
	case OPT_ON_CRASH:
		if (!strcmp(arg, "restart"))
			o->on_crash = ON_CRASH_RESTART;
		else if (!strcmp(arg, "exit"))
			o->on_crash = ON_CRASH_EXIT;
		else
			return error_set(err, EINVAL, "--on-crash: '%s' is not exit or restart", arg);
		return 0;
	case OPT_HYPERV: {
		struct error hv_err = {""};

		if (hv_features_parse(arg, &o->hv_features, &hv_err) < 0)
			return error_set(err, EINVAL, "--hyperv: %s", hv_err.msg);
		return 0;
	}
	case OPT_HYPERV_TEST_CONNECTIONS:
		o->hv_test_connections = true;
		return 0;
	case OPT_VMBUS_TEST_DEVICE:
		o->vmbus_test_device = true;
		return 0;
	case OPT_DISK:
		if (o->ndisks == OPTIONS_MAX_DISKS)
			return error_set(err, EINVAL, "at most %d --disk options", OPTIONS_MAX_DISKS);
		return disk_spec_parse(arg, &o->disks[o->ndisks++], err) < 0 ? -EINVAL : 0;
	case OPT_NET:
		if (o->nnics == OPTIONS_MAX_NICS)
			return error_set(err, EINVAL, "at most %d --net options", OPTIONS_MAX_NICS);
		return net_spec_parse(arg, &o->nics[o->nnics++], err) < 0 ? -EINVAL : 0;
	case OPT_NAME:
		if (run_dir_check_name(arg, err) < 0)
			return -EINVAL;
		o->name = arg;
		return 0;
	case OPT_CONTROL:
		if (!*arg)
			return error_set(err, EINVAL, "--control needs a path");
		o->control_path = arg;
		return 0;
	}
	return error_set(err, EINVAL, "internal: unhandled option %d", opt);
}

int options_parse_run(int argc, char **argv, struct run_options *o, struct error *err)
{
	int opt;

	*o = (struct run_options){
		.memory = 512ULL << 20,
		.cpus = 1,
		.serial = "stdio",
		.debug_exit_port = -1,
		.on_reboot = ON_REBOOT_RESTART,
		.on_crash = ON_CRASH_EXIT,
		.hv_features = hv_features_default(),
	};
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":vh", run_longopts, NULL)) != -1) {
		int ret;

		switch (opt) {
		case 'v': o->verbose = true; continue;
		case 'h': o->help = true; return 0;
		case ':':
			return error_set(err, EINVAL, "option '%s' needs a value", argv[optind - 1]);
		case '?':
			if (optopt)
				return error_set(err, EINVAL, "unknown option '-%c'", optopt);
			return error_set(err, EINVAL, "unknown option '%s'", argv[optind - 1]);
		}
		ret = parse_one(opt, optarg, o, err);
		if (ret < 0)
			return ret;
	}
	if (optind < argc)
		return error_set(err, EINVAL, "unexpected argument '%s'", argv[optind]);
	if (!o->kernel)
		return error_set(err, EINVAL, "no kernel given (--kernel FILE)");
	if (o->hv_test_connections && !(o->hv_features & HV_FEATURE_BIT(HV_FEAT_SYNIC)))
		return error_set(err, EINVAL, "--hyperv-test-connections needs the 'synic' feature");
	if (o->vmbus_test_device && !(o->hv_features & HV_FEATURE_BIT(HV_FEAT_SYNIC)))
		return error_set(err, EINVAL, "--vmbus-test-device needs the 'synic' feature");
	/* Disks and NICs are VMBus devices; emulated IDE and the 21140 are not there yet. */
	if ((o->ndisks || o->nnics) && !(o->hv_features & HV_FEATURE_BIT(HV_FEAT_SYNIC)))
		return error_set(err, EINVAL, "--%s needs Hyper-V with the 'synic' feature (VMBus): emulated devices are not available yet",
				 o->ndisks ? "disk" : "net");
	return disk_specs_finish(o->disks, o->ndisks, err) < 0 ? -EINVAL : 0;
}
