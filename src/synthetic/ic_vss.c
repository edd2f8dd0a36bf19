/* The VSS (backup) integration service: freeze and thaw the guest's file systems around a host
 * snapshot, and the hot-backup query (Linux drivers/hv/hv_snapshot.c relays them to
 * hv_vss_daemon; it speaks message version 5.0 only, where FREEZE and THAW exist). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synthetic/ic.h"

static const struct ic_version fw_versions[] = {{3, 0}};
static const struct ic_version msg_versions[] = {{5, 0}};

struct ic_vss {
	struct ic_channel *ch;
	unsigned timeout_ms;
};

struct vss_call {
	ic_vss_done_fn *done;
	void *ctx;
	uint8_t op;
};

static const char *op_name(uint8_t op)
{
	switch (op) {
	case VSS_OP_FREEZE: return "VSS freeze";
	case VSS_OP_THAW: return "VSS thaw";
	default: return "VSS hot-backup query";
	}
}

static void answered(void *ctx, int err, const char *detail, const struct ic_response *rsp)
{
	struct vss_call *q = ctx;
	struct hv_vss_msg m;
	uint32_t flags = 0;
	char buf[160];

	if (!err && rsp->status != HV_S_OK) {
		/* The daemon's error (freeze failed), or HV_E_FAIL when it is not running. */
		err = ic_status_errno(rsp->status);
		ic_status_detail(buf, sizeof(buf), op_name(q->op), rsp->status);
		detail = buf;
	} else if (!err && rsp->body_len < sizeof(m)) {
		err = -EPROTO;
		snprintf(buf, sizeof(buf), "%s: truncated answer (%u bytes)", op_name(q->op),
			 rsp->body_len);
		detail = buf;
	} else if (!err) {
		memcpy(&m, rsp->body, sizeof(m));
		if (q->op == VSS_OP_HOT_BACKUP)
			flags = m.flags;
		detail = "";
	}
	q->done(q->ctx, err, detail, flags);
	free(q);
}

static int vss_request(struct ic_vss *vss, uint8_t op, ic_vss_done_fn *done, void *ctx)
{
	struct hv_vss_msg m;
	struct vss_call *q;
	int ret;

	if (!done)
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	m.vss_hdr.operation = op;
	q = malloc(sizeof(*q));
	if (!q)
		return -ENOMEM;
	*q = (struct vss_call){done, ctx, op};
	ret = ic_channel_request(vss->ch, ICMSGTYPE_VSS, &m, sizeof(m), vss->timeout_ms, answered,
				 q);
	if (ret)
		free(q);
	return ret;
}

int ic_vss_freeze(struct ic_vss *vss, ic_vss_done_fn *done, void *ctx)
{
	return vss_request(vss, VSS_OP_FREEZE, done, ctx);
}

int ic_vss_thaw(struct ic_vss *vss, ic_vss_done_fn *done, void *ctx)
{
	return vss_request(vss, VSS_OP_THAW, done, ctx);
}

int ic_vss_hot_backup(struct ic_vss *vss, ic_vss_done_fn *done, void *ctx)
{
	return vss_request(vss, VSS_OP_HOT_BACKUP, done, ctx);
}

void ic_vss_status(const struct ic_vss *vss, struct ic_link_status *out)
{
	ic_channel_status(vss->ch, out);
}

int ic_vss_create(struct ic_vss **out, const struct ic_env *env, struct error *err)
{
	struct ic_vss *vss = calloc(1, sizeof(*vss));
	const struct ic_channel_desc desc = {
		.name = "VSS",
		/* HV_VSS_GUID; the instance Hyper-V uses */
		.if_type = VMBUS_GUID(0x35fa2e29, 0xea23, 0x4236, 0x96, 0xae, 0x3a, 0x6e, 0xba, 0xcb,
				      0xa4, 0x40),
		.if_instance = VMBUS_GUID(0x2450ee40, 0x33bf, 0x4fbd, 0x89, 0x2e, 0x9f, 0xb0, 0x6e,
					  0x92, 0x14, 0xcf),
		.fw_versions = fw_versions,
		.fw_count = sizeof(fw_versions) / sizeof(fw_versions[0]),
		.msg_versions = msg_versions,
		.msg_count = sizeof(msg_versions) / sizeof(msg_versions[0]),
	};
	int ret;

	if (!vss)
		return error_set(err, ENOMEM, "out of memory");
	vss->timeout_ms = env->cfg->request_timeout_ms;
	ret = ic_channel_create(&vss->ch, env->host, env->mem, &desc, err);
	if (ret < 0) {
		free(vss);
		return ret;
	}
	*out = vss;
	return 0;
}

void ic_vss_destroy(struct ic_vss *vss, bool withdraw)
{
	if (!vss)
		return;
	ic_channel_destroy(vss->ch, withdraw);
	free(vss);
}
