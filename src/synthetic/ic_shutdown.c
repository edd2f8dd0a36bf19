/* The shutdown integration service: the host asks the guest to power off, reboot or hibernate
 * (Linux drivers/hv/hv_util.c shutdown_onchannelcallback answers, then starts the action). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synthetic/ic.h"

/* Linux's lists (hv_util.c fw_versions, sd_versions). Hyper-V gates nothing on 3.1 / 3.2 that
 * Linux reads: every version carries the same shutdown_msg_data. */
static const struct ic_version fw_versions[] = {{3, 0}, {1, 0}};
static const struct ic_version msg_versions[] = {{3, 2}, {3, 1}, {3, 0}, {1, 0}};

struct ic_shutdown {
	struct ic_channel *ch;
	unsigned timeout_ms;
};

struct shutdown_call {
	ic_done_fn *done;
	void *ctx;
	enum ic_shutdown_action action;
};

static const char *action_name(enum ic_shutdown_action a)
{
	switch (a) {
	case IC_SHUTDOWN_REBOOT:
		return "reboot";
	case IC_SHUTDOWN_HIBERNATE:
		return "hibernate";
	default:
		return "power off";
	}
}

static void answered(void *ctx, int err, const char *detail, const struct ic_response *rsp)
{
	struct shutdown_call *q = ctx;
	char what[64], buf[192];

	snprintf(what, sizeof(what), "shutdown: %s", action_name(q->action));
	if (!err && rsp->status != HV_S_OK) {
		/* Linux answers HV_E_FAIL for hibernation it cannot do, and for unknown flags. */
		ic_status_detail(buf, sizeof(buf), what, rsp->status);
		err = ic_status_errno(rsp->status);
		detail = buf;
	} else if (!err) {
		snprintf(buf, sizeof(buf), "%s: the guest accepted", what);
		detail = buf;
	}
	q->done(q->ctx, err, detail);
	free(q);
}

int ic_shutdown_request(struct ic_shutdown *sd, enum ic_shutdown_action action, bool force,
			const char *message, ic_done_fn *done, void *ctx)
{
	struct shutdown_msg_data m;
	struct shutdown_call *q;
	int ret;

	if (!done || (action != IC_SHUTDOWN_POWEROFF && action != IC_SHUTDOWN_REBOOT &&
		      action != IC_SHUTDOWN_HIBERNATE))
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	m.reason_code = SHTDN_REASON_FLAG_PLANNED;
	m.flags = action == IC_SHUTDOWN_REBOOT      ? SHUTDOWN_FLAG_RESTART
		  : action == IC_SHUTDOWN_HIBERNATE ? SHUTDOWN_FLAG_HIBERNATE
						    : 0;
	if (force)
		m.flags |= SHUTDOWN_FLAG_FORCE;
	if (message)
		memcpy(m.display_message, message, strnlen(message, sizeof(m.display_message) - 1));
	q = malloc(sizeof(*q));
	if (!q)
		return -ENOMEM;
	*q = (struct shutdown_call){done, ctx, action};
	ret = ic_channel_request(sd->ch, ICMSGTYPE_SHUTDOWN, &m, sizeof(m), sd->timeout_ms,
				 answered, q);
	if (ret)
		free(q);
	return ret;
}

void ic_shutdown_status(const struct ic_shutdown *sd, struct ic_link_status *out)
{
	ic_channel_status(sd->ch, out);
}

int ic_shutdown_create(struct ic_shutdown **out, const struct ic_env *env, struct error *err)
{
	struct ic_shutdown *sd = calloc(1, sizeof(*sd));
	const struct ic_channel_desc desc = {
		.name = "shutdown",
		/* HV_SHUTDOWN_GUID; the instance Hyper-V uses */
		.if_type = VMBUS_GUID(0x0e0b6031, 0x5213, 0x4934, 0x81, 0x8b, 0x38, 0xd9, 0x0c, 0xed,
				      0x39, 0xdb),
		.if_instance = VMBUS_GUID(0xb6650ff7, 0x33bc, 0x4840, 0x80, 0x48, 0xe0, 0x67, 0x67,
					  0x86, 0xf3, 0x93),
		.fw_versions = fw_versions,
		.fw_count = sizeof(fw_versions) / sizeof(fw_versions[0]),
		.msg_versions = msg_versions,
		.msg_count = sizeof(msg_versions) / sizeof(msg_versions[0]),
	};
	int ret;

	if (!sd)
		return error_set(err, ENOMEM, "out of memory");
	sd->timeout_ms = env->cfg->request_timeout_ms;
	ret = ic_channel_create(&sd->ch, env->host, env->mem, &desc, err);
	if (ret < 0) {
		free(sd);
		return ret;
	}
	*out = sd;
	return 0;
}

void ic_shutdown_destroy(struct ic_shutdown *sd, bool withdraw)
{
	if (!sd)
		return;
	ic_channel_destroy(sd->ch, withdraw);
	free(sd);
}
