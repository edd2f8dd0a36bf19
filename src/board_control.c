/* The board's control commands (see board_control.h): each handler answers from the loop
 * thread, where the VMBus devices live. */
#include "board_control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "board.h"
#include "board_ic_commands.h"
#include "log.h"
#include "mgmt/json.h"
#include "vcpu.h"

static void cmd_status(void *opaque, struct control_request *req, unsigned argc,
		       const char *const *argv)
{
	struct board *b = opaque;
	struct vmbus_server *server = b->vmbus ? vmbus_host_server(b->vmbus) : NULL;
	uint32_t version = server ? vmbus_server_version(server) : 0;
	struct json_writer w;
	char text[256];

	(void)argv;
	if (argc) {
		control_reply_error(req, "status takes no arguments");
		return;
	}
	json_writer_init(&w);
	json_object_begin(&w);
	json_key(&w, "state");
	json_string(&w, "running");
	json_key(&w, "cpus");
	json_uint(&w, b->vm.ncpus);
	json_key(&w, "memory_mib");
	json_uint(&w, b->vm.mem.size >> 20);
	json_key(&w, "hyperv");
	json_bool(&w, b->hv_ready);
	json_key(&w, "vmbus_connected");
	json_bool(&w, server && vmbus_server_connected(server));
	json_key(&w, "vmbus_version");
	if (version) {
		snprintf(text, sizeof(text), "%u.%u", version >> 16, version & 0xffff);
		json_string(&w, text);
	} else {
		json_null(&w);
	}
	json_object_end(&w);
	snprintf(text, sizeof(text), "state: running\ncpus: %u\nmemory: %llu MiB\nvmbus: %s",
		 b->vm.ncpus, (unsigned long long)(b->vm.mem.size >> 20),
		 !server ? "none" : version ? "connected" : "not connected");
	if (version)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), " (version %u.%u)",
			 version >> 16, version & 0xffff);
	control_reply_json(req, &w, text);
}

static void cmd_vmbus_test(void *opaque, struct control_request *req, unsigned argc,
			   const char *const *argv)
{
	struct board *b = opaque;
	bool present;
	int ret;

	if (argc != 1 || (strcmp(argv[0], "add") && strcmp(argv[0], "remove"))) {
		control_reply_error(req, "usage: vmbus-test add|remove");
		return;
	}
	present = !strcmp(argv[0], "add");
	ret = vmbus_test_device_set_present(b->vmbus_test, present);
	if (ret == -EALREADY)
		control_reply_error(req, "the test device is %s", present ? "present" : "not present");
	else if (ret < 0)
		control_reply_error(req, "cannot %s the test device: %s", argv[0], strerror(-ret));
	else
		control_reply(req, NULL, present ? "offered" : "rescinded");
}

static const char *mp_state_name(uint32_t mp_state)
{
	switch (mp_state) {
	case KVM_MP_STATE_RUNNABLE: return "running";
	case KVM_MP_STATE_HALTED: return "halted";
	case KVM_MP_STATE_UNINITIALIZED: return "uninitialized";
	case KVM_MP_STATE_INIT_RECEIVED: return "init-received";
	case KVM_MP_STATE_SIPI_RECEIVED: return "sipi-received";
	default: return "other";
	}
}

/* vcpus: where each vCPU is (as QEMU's "info cpus"): it is kicked out of KVM_RUN and answers with
 * its registers; one that does not come back within VCPUS_ANSWER_MS is held by the host kernel. */
#define VCPUS_ANSWER_MS 500

static void cmd_vcpus(void *opaque, struct control_request *req, unsigned argc,
		      const char *const *argv)
{
	struct board *b = opaque;
	struct timespec deadline;
	struct json_writer w;
	char *text = NULL;
	size_t text_len = 0;
	FILE *f;

	(void)argv;
	if (argc) {
		control_reply_error(req, "vcpus takes no arguments");
		return;
	}
	f = open_memstream(&text, &text_len);
	if (!f) {
		control_reply_error(req, "out of memory");
		return;
	}
	for (unsigned i = 0; i < b->vm.ncpus; i++)
		vcpu_sample_request(&b->vm.vcpus[i]);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_nsec += VCPUS_ANSWER_MS * 1000000L;
	deadline.tv_sec += deadline.tv_nsec / 1000000000L;
	deadline.tv_nsec %= 1000000000L;
	json_writer_init(&w);
	json_array_begin(&w);
	for (unsigned i = 0; i < b->vm.ncpus; i++) {
		struct vcpu *v = &b->vm.vcpus[i];
		struct vcpu_sample smp;
		int ret = vcpu_sample_wait(v, &deadline, &smp);

		if (ret < 0)
			smp.exits = __atomic_load_n(&v->exits, __ATOMIC_RELAXED);
		json_object_begin(&w);
		json_key(&w, "index");
		json_uint(&w, i);
		json_key(&w, "answered");
		json_bool(&w, ret == 0);
		json_key(&w, "exits");
		json_uint(&w, smp.exits);
		fprintf(f, "%svcpu%u: ", i ? "\n" : "", i);
		if (ret == 0) {
			json_key(&w, "state");
			json_string(&w, mp_state_name(smp.mp_state));
			json_key(&w, "rip");
			json_uint(&w, smp.rip);
			json_key(&w, "rsp");
			json_uint(&w, smp.rsp);
			json_key(&w, "rflags");
			json_uint(&w, smp.rflags);
			json_key(&w, "cr3");
			json_uint(&w, smp.cr3);
			fprintf(f, "%s rip=%016llx rsp=%016llx rflags=%08llx cr3=%llx",
				mp_state_name(smp.mp_state), (unsigned long long)smp.rip,
				(unsigned long long)smp.rsp, (unsigned long long)smp.rflags,
				(unsigned long long)smp.cr3);
		} else {
			fprintf(f, "no answer within %u ms (%s)", VCPUS_ANSWER_MS,
				ret == -ESRCH ? "not started" : "still inside KVM_RUN");
		}
		fprintf(f, " exits=%llu", (unsigned long long)smp.exits);
		json_object_end(&w);
	}
	json_array_end(&w);
	if (fclose(f) != 0) {
		control_reply_error(req, "out of memory");
		json_writer_free(&w);
	} else {
		control_reply_json(req, &w, text); /* frees w */
	}
	free(text);
}

/* disk-add SPEC: a --disk value; hot-adds the controller too if it has no disks yet. */
static void cmd_disk_add(void *opaque, struct control_request *req, unsigned argc,
			 const char *const *argv)
{
	struct board *b = opaque;
	struct error err = {""};
	struct disk_spec d;
	struct storvsp_disk_config cfg;
	struct storvsp **sv;
	char text[160];
	int ret;

	if (argc != 1) {
		control_reply_error(req, "usage: disk-add PATH[,readonly][,controller=N][,lun=N][,cache=none|writeback]");
		return;
	}
	if (disk_spec_parse(argv[0], &d, &err) < 0) {
		control_reply_error(req, "%s", err.msg);
		return;
	}
	sv = &b->storvsp[d.controller];
	for (int lun = 0; d.lun < 0 && lun <= OPTIONS_MAX_LUN; lun++)
		if (!*sv || !storvsp_lun_used(*sv, (uint8_t)lun))
			d.lun = lun;
	if (d.lun < 0) {
		control_reply_error(req, "controller %u has no free LUN", d.controller);
		free((char *)d.path);
		return;
	}
	cfg = (struct storvsp_disk_config){.path = d.path, .readonly = d.readonly,
					   .cache = d.cache, .lun = (uint8_t)d.lun};
	if (*sv)
		ret = storvsp_add_disk(*sv, &cfg, &err);
	else
		ret = storvsp_create(sv, b->vmbus, &b->vm.mem, b->vm.ncpus, d.controller, &cfg, 1,
				     &err);
	free((char *)d.path);
	if (ret < 0) {
		control_reply_error(req, "%s", err.msg);
		return;
	}
	snprintf(text, sizeof(text), "{\"controller\":%u,\"lun\":%d}", d.controller, d.lun);
	control_reply(req, text, "added");
}

/* disk-remove [CONTROLLER:]LUN */
static void cmd_disk_remove(void *opaque, struct control_request *req, unsigned argc,
			    const char *const *argv)
{
	struct board *b = opaque;
	struct error err = {""};
	unsigned controller = 0, lun;
	int used = 0;

	if (argc != 1 ||
	    !((sscanf(argv[0], "%u:%u%n", &controller, &lun, &used) == 2 && !argv[0][used]) ||
	      (controller = 0, sscanf(argv[0], "%u%n", &lun, &used) == 1 && !argv[0][used])) ||
	    controller >= OPTIONS_MAX_CONTROLLERS || lun > OPTIONS_MAX_LUN) {
		control_reply_error(req, "usage: disk-remove [CONTROLLER:]LUN");
		return;
	}
	if (!b->storvsp[controller]) {
		control_reply_error(req, "no disks on controller %u", controller);
		return;
	}
	if (storvsp_remove_disk(b->storvsp[controller], (uint8_t)lun, &err) < 0)
		control_reply_error(req, "%s", err.msg);
	else
		control_reply(req, NULL, "removed");
}

/* nic-link N up|down: the link state the guest's synthetic NIC N sees. */
static void cmd_nic_link(void *opaque, struct control_request *req, unsigned argc,
			 const char *const *argv)
{
	struct board *b = opaque;
	unsigned nic;
	int used = 0;

	if (argc != 2 || sscanf(argv[0], "%u%n", &nic, &used) != 1 || argv[0][used] ||
	    (strcmp(argv[1], "up") && strcmp(argv[1], "down"))) {
		control_reply_error(req, "usage: nic-link N up|down");
		return;
	}
	if (nic >= b->nnics) {
		control_reply_error(req, "no NIC %u (the VM has %u)", nic, b->nnics);
		return;
	}
	netvsp_set_link(b->nics[nic], !strcmp(argv[1], "up"));
	control_reply(req, NULL, argv[1]);
}

struct board_command {
	const char *name;
	const char *usage;
	control_handler_fn *fn;
	bool (*wanted)(const struct board *b);
};

static bool has_vmbus_test(const struct board *b)
{
	return b->vmbus_test != NULL;
}

static bool has_vmbus(const struct board *b)
{
	return b->vmbus != NULL;
}

static bool has_nics(const struct board *b)
{
	return b->nnics > 0;
}

static const struct board_command commands[] = {
	{"status", "  the VM's state, CPUs, memory and VMBus connection", cmd_status, NULL},
	{"vcpus", "  each vCPU's state, instruction pointer and exit count", cmd_vcpus, NULL},
	{"vmbus-test", "add|remove  offer or rescind the VMBus test device", cmd_vmbus_test,
	 has_vmbus_test},
	{"disk-add", "PATH[,readonly][,controller=N][,lun=N][,cache=none|writeback]  hot-add a SCSI disk",
	 cmd_disk_add, has_vmbus},
	{"disk-remove", "[CONTROLLER:]LUN  hot-remove a SCSI disk", cmd_disk_remove, has_vmbus},
	{"nic-link", "N up|down  the link state synthetic NIC N shows the guest", cmd_nic_link,
	 has_nics},
};

int board_control_attach(struct board *b, struct control_server *ctl, struct error *err)
{
	b->control = ctl;
	if (!ctl)
		return 0;
	if (board_ic_commands_attach(b, ctl, err) < 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct board_command *c = &commands[i];
		int ret;

		if (c->wanted && !c->wanted(b))
			continue;
		ret = control_register(ctl, c->name, c->usage, c->fn, b);
		if (ret < 0)
			return error_set(err, -ret, "cannot register control command %s", c->name);
	}
	return 0;
}

void board_control_detach(struct board *b)
{
	if (!b->control)
		return;
	board_ic_commands_detach(b, b->control);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		control_unregister(b->control, commands[i].name);
	b->control = NULL;
}
