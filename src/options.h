/* Command-line options of `hvkvm run`: parsed and checked without touching KVM, so every bad
 * value is reported in one line before anything starts. */
#ifndef HVKVM_OPTIONS_H
#define HVKVM_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "device_options.h"
#include "error.h"

#define OPTIONS_MAX_CPUS 255 /* xAPIC IDs and the MADT's 8-bit APIC IDs */
#define OPTIONS_MIN_MEMORY (16ULL << 20)

enum on_reboot { ON_REBOOT_RESTART, ON_REBOOT_EXIT };
enum on_crash { ON_CRASH_EXIT, ON_CRASH_RESTART };

struct run_options {
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	uint64_t memory;      /* bytes, a multiple of 2 MiB */
	unsigned cpus;
	const char *serial;   /* stdio | none | file:PATH | unix:PATH */
	int debug_exit_port;  /* -1: none */
	enum on_reboot on_reboot;
	enum on_crash on_crash;
	uint32_t hv_features;      /* 0: --hyperv off */
	bool hv_test_connections;  /* echo connections for the direct-tier Hyper-V tests */
	bool vmbus_test_device;    /* a VMBus echo channel for the bus tests */
	struct disk_spec disks[OPTIONS_MAX_DISKS];
	unsigned ndisks;
	struct net_spec nics[OPTIONS_MAX_NICS];
	unsigned nnics;
	const char *name;          /* --name: the VM's name (control socket, derived MACs) */
	const char *control_path;  /* --control PATH: the control socket's path */
	bool verbose;
	bool help;            /* --help given: print run help, nothing else */
};

/* argv[0] is "run". Returns 0, or -EINVAL with err set. */
__attribute__((warn_unused_result))
int options_parse_run(int argc, char **argv, struct run_options *opts, struct error *err);

void options_print_run_help(FILE *out);
void options_print_main_help(FILE *out);

#endif
