/* The KVP (data exchange) integration service: GET, SET, DELETE and ENUMERATE on the guest's
 * pools and GET_IP_INFO per NIC (Linux drivers/hv/hv_kvp.c relays them to hv_kvp_daemon, which
 * answers HV_S_CONT past the end of a pool or for a missing key). Keys and values are UTF-16LE
 * on the wire, UTF-8 here. One transaction at a time, as the guest handles them. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "synthetic/ic.h"

/* Linux's kvp_versions. 5.0 (openvmm, Windows guests) carries IP information in a binary form
 * this host does not build, so it is not offered. */
static const struct ic_version fw_versions[] = {{3, 0}, {1, 0}};
static const struct ic_version msg_versions[] = {{4, 0}, {3, 0}, {1, 0}};

/* A guest answering every index would keep a pool walk going forever. */
#define POOL_WALK_MAX 4096u

struct ic_kvp {
	struct ic_channel *ch;
	unsigned timeout_ms;
};

struct kvp_call {
	struct ic_kvp *kvp;
	uint8_t op;
	uint8_t pool;
	uint32_t index;
	ic_kvp_value_fn *value_fn; /* GET, ENUMERATE */
	ic_done_fn *done_fn;       /* SET, DELETE, pool walk */
	ic_kvp_item_fn *item_fn;   /* pool walk */
	ic_kvp_ip_fn *ip_fn;       /* GET_IP_INFO */
	void *ctx;
};

static const char *op_name(uint8_t op)
{
	switch (op) {
	case KVP_OP_GET: return "get";
	case KVP_OP_SET: return "set";
	case KVP_OP_DELETE: return "delete";
	case KVP_OP_ENUMERATE: return "enumerate";
	default: return "get IP info";
	}
}

/* Key and value of an answer. -EPROTO with why set if the guest's sizes or text are wrong. */
static int value_from_wire(const struct hv_kvp_exchg_msg_value *v, char *key, char *value,
			   const char **why)
{
	uint64_t u64 = 0;
	uint32_t u32 = 0;

	if (key) {
		if (v->key_size > HV_KVP_EXCHANGE_MAX_KEY_SIZE || v->key_size % 2 ||
		    ic_utf16_to_utf8(v->key, v->key_size / 2, key, IC_KVP_KEY_MAX + 1) < 0) {
			*why = "bad key";
			return -EPROTO;
		}
	}
	switch (v->value_type) {
	case REG_SZ:
	case REG_EXPAND_SZ:
		if (v->value_size > HV_KVP_EXCHANGE_MAX_VALUE_SIZE || v->value_size % 2 ||
		    ic_utf16_to_utf8(v->value, v->value_size / 2, value, IC_KVP_VALUE_MAX + 1) < 0) {
			*why = "bad string value";
			return -EPROTO;
		}
		return 0;
	case REG_U32:
		if (v->value_size != sizeof(u32))
			break;
		memcpy(&u32, v->value, sizeof(u32));
		snprintf(value, IC_KVP_VALUE_MAX + 1, "%" PRIu32, u32);
		return 0;
	case REG_U64:
	case REG_QWORD:
		if (v->value_size != sizeof(u64))
			break;
		memcpy(&u64, v->value, sizeof(u64));
		snprintf(value, IC_KVP_VALUE_MAX + 1, "%" PRIu64, u64);
		return 0;
	default:
		*why = "unknown value type";
		return -EPROTO;
	}
	*why = "bad number size";
	return -EPROTO;
}

static int send_call(struct kvp_call *q, const void *msg, uint32_t len);

static void finish_walk(struct kvp_call *q, int err, const char *detail)
{
	q->done_fn(q->ctx, err, detail);
	free(q);
}

/* Key and value of a GET or ENUMERATE answer into new buffers. */
static int parse_value(const struct kvp_call *q, const struct ic_response *rsp, char **key,
		       char **value, const char **why)
{
	struct hv_kvp_msg m;

	*key = malloc(IC_KVP_KEY_MAX + 1);
	*value = malloc(IC_KVP_VALUE_MAX + 1);
	if (!*key || !*value) {
		*why = "out of memory";
		return -ENOMEM;
	}
	if (rsp->body_len < sizeof(m)) {
		*why = "truncated";
		return -EPROTO;
	}
	memcpy(&m, rsp->body, sizeof(m));
	if (q->op == KVP_OP_GET) {
		(*key)[0] = 0; /* the caller knows it */
		return value_from_wire(&m.body.kvp_get.data, NULL, *value, why);
	}
	return value_from_wire(&m.body.kvp_enum_data.data, *key, *value, why);
}

/* The next index of a pool walk. */
static int walk_on(struct kvp_call *q)
{
	struct hv_kvp_msg m;

	if (++q->index >= POOL_WALK_MAX)
		return -E2BIG;
	memset(&m, 0, sizeof(m));
	m.kvp_hdr.operation = KVP_OP_ENUMERATE;
	m.kvp_hdr.pool = q->pool;
	m.body.kvp_enum_data.index = q->index;
	return send_call(q, &m, sizeof(m));
}

/* An answer to GET or ENUMERATE (one entry, or a step of a pool walk). */
static void value_answered(struct kvp_call *q, int err, const char *detail,
			   const struct ic_response *rsp)
{
	char what[64], buf[192];
	char *key = NULL, *value = NULL;
	const char *why = "";
	bool walk = q->item_fn != NULL;

	snprintf(what, sizeof(what), "KVP %s in pool %u", op_name(q->op), q->pool);
	if (!err && rsp->status != HV_S_OK) {
		if (walk && rsp->status == HV_S_CONT) { /* the end of the pool */
			snprintf(buf, sizeof(buf), "%s: %u entries", what, q->index);
			finish_walk(q, 0, buf);
			return;
		}
		err = ic_status_errno(rsp->status);
		ic_status_detail(buf, sizeof(buf), what, rsp->status);
		detail = buf;
	} else if (!err) {
		err = parse_value(q, rsp, &key, &value, &why);
		if (err) {
			snprintf(buf, sizeof(buf), "%s: %s%s", what,
				 err == -EPROTO ? "malformed answer: " : "", why);
			detail = buf;
		}
	}
	if (walk && !err) {
		q->item_fn(q->ctx, q->index, key, value);
		err = walk_on(q);
		if (!err)
			goto out;
		if (err == -E2BIG)
			snprintf(buf, sizeof(buf), "%s: more than %u entries", what, POOL_WALK_MAX);
		else
			snprintf(buf, sizeof(buf), "%s: %s", what, strerror(-err));
		detail = buf;
	}
	if (walk) {
		finish_walk(q, err, detail);
	} else {
		q->value_fn(q->ctx, err, err ? detail : "", err ? NULL : key, err ? NULL : value);
		free(q);
	}
out:
	free(key);
	free(value);
}

static void ip_answered(struct kvp_call *q, int err, const char *detail,
			const struct ic_response *rsp)
{
	struct hv_kvp_ip_msg m;
	struct ic_kvp_ip_info *info = NULL;
	char buf[160];

	if (!err && rsp->status != HV_S_OK) {
		err = ic_status_errno(rsp->status);
		ic_status_detail(buf, sizeof(buf), "KVP get IP info", rsp->status);
		detail = buf;
	} else if (!err) {
		info = calloc(1, sizeof(*info));
		if (!info) {
			err = -ENOMEM;
			detail = "out of memory";
		} else if (rsp->body_len < sizeof(m)) {
			err = -EPROTO;
		} else {
			memcpy(&m, rsp->body, sizeof(m));
			info->addr_family = m.kvp_ip_val.addr_family;
			info->dhcp_enabled = m.kvp_ip_val.dhcp_enabled != 0;
			if (ic_utf16_to_utf8(m.kvp_ip_val.adapter_id, MAX_ADAPTER_ID_SIZE,
					     info->adapter_id, sizeof(info->adapter_id)) < 0 ||
			    ic_utf16_to_utf8(m.kvp_ip_val.ip_addr, MAX_IP_ADDR_SIZE, info->ip_addr,
					     sizeof(info->ip_addr)) < 0 ||
			    ic_utf16_to_utf8(m.kvp_ip_val.sub_net, MAX_IP_ADDR_SIZE, info->sub_net,
					     sizeof(info->sub_net)) < 0 ||
			    ic_utf16_to_utf8(m.kvp_ip_val.gate_way, MAX_GATEWAY_SIZE, info->gate_way,
					     sizeof(info->gate_way)) < 0 ||
			    ic_utf16_to_utf8(m.kvp_ip_val.dns_addr, MAX_IP_ADDR_SIZE, info->dns_addr,
					     sizeof(info->dns_addr)) < 0)
				err = -EPROTO;
		}
		if (err == -EPROTO) {
			snprintf(buf, sizeof(buf), "KVP get IP info: malformed answer (%u bytes)",
				 rsp->body_len);
			detail = buf;
		}
	}
	q->ip_fn(q->ctx, err, err ? detail : "", err ? NULL : info);
	free(info);
	free(q);
}

static void answered(void *ctx, int err, const char *detail, const struct ic_response *rsp)
{
	struct kvp_call *q = ctx;
	char buf[160];

	char what[64];

	if (q->op == KVP_OP_GET || q->op == KVP_OP_ENUMERATE) {
		value_answered(q, err, detail, rsp);
		return;
	}
	if (q->op == KVP_OP_GET_IP_INFO) {
		ip_answered(q, err, detail, rsp);
		return;
	}
	if (!err && rsp->status != HV_S_OK) { /* SET, DELETE */
		err = ic_status_errno(rsp->status);
		snprintf(what, sizeof(what), "KVP %s in pool %u", op_name(q->op), q->pool);
		ic_status_detail(buf, sizeof(buf), what, rsp->status);
		detail = buf;
	}
	q->done_fn(q->ctx, err, err ? detail : "");
	free(q);
}

static int send_call(struct kvp_call *q, const void *msg, uint32_t len)
{
	return ic_channel_request(q->kvp->ch, ICMSGTYPE_KVPEXCHANGE, msg, len, q->kvp->timeout_ms,
				  answered, q);
}

/* Queues msg for q (allocated by the caller); frees q when refused. */
static int start(struct kvp_call *q, const void *msg, uint32_t len)
{
	int ret = send_call(q, msg, len);

	if (ret)
		free(q);
	return ret;
}

static struct kvp_call *new_call(struct ic_kvp *kvp, uint8_t op, unsigned pool, void *ctx)
{
	struct kvp_call *q = calloc(1, sizeof(*q));

	if (q) {
		q->kvp = kvp;
		q->op = op;
		q->pool = (uint8_t)pool;
		q->ctx = ctx;
	}
	return q;
}

/* A key as the wire wants it: UTF-16LE with its NUL. Its size in bytes, or -errno. */
static int put_key(const char *key, uint8_t *out)
{
	int n;

	if (!key || !key[0])
		return -EINVAL;
	n = ic_utf8_to_utf16(key, out, HV_KVP_EXCHANGE_MAX_KEY_SIZE / 2);
	return n < 0 ? n : n * 2;
}

static int check(const struct ic_kvp *kvp, unsigned pool, const void *fn)
{
	if (!fn || pool >= KVP_POOL_COUNT)
		return -EINVAL;
	return ic_channel_usable(kvp->ch);
}

int ic_kvp_get(struct ic_kvp *kvp, unsigned pool, const char *key, ic_kvp_value_fn *done,
	       void *ctx)
{
	struct hv_kvp_msg m;
	struct kvp_call *q;
	int ret = check(kvp, pool, (const void *)done);

	if (ret)
		return ret;
	memset(&m, 0, sizeof(m));
	m.kvp_hdr.operation = KVP_OP_GET;
	m.kvp_hdr.pool = (uint8_t)pool;
	ret = put_key(key, m.body.kvp_get.data.key);
	if (ret < 0)
		return ret;
	m.body.kvp_get.data.key_size = (uint32_t)ret;
	q = new_call(kvp, KVP_OP_GET, pool, ctx);
	if (!q)
		return -ENOMEM;
	q->value_fn = done;
	return start(q, &m, sizeof(m));
}

int ic_kvp_set(struct ic_kvp *kvp, unsigned pool, const char *key, const char *value,
	       ic_done_fn *done, void *ctx)
{
	struct hv_kvp_msg m;
	struct kvp_call *q;
	int n, ret = check(kvp, pool, (const void *)done);

	if (ret)
		return ret;
	if (!value)
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	m.kvp_hdr.operation = KVP_OP_SET;
	m.kvp_hdr.pool = (uint8_t)pool;
	m.body.kvp_set.data.value_type = REG_SZ;
	ret = put_key(key, m.body.kvp_set.data.key);
	if (ret < 0)
		return ret;
	m.body.kvp_set.data.key_size = (uint32_t)ret;
	n = ic_utf8_to_utf16(value, m.body.kvp_set.data.value, HV_KVP_EXCHANGE_MAX_VALUE_SIZE / 2);
	if (n < 0)
		return n;
	m.body.kvp_set.data.value_size = (uint32_t)n * 2;
	q = new_call(kvp, KVP_OP_SET, pool, ctx);
	if (!q)
		return -ENOMEM;
	q->done_fn = done;
	return start(q, &m, sizeof(m));
}

int ic_kvp_delete(struct ic_kvp *kvp, unsigned pool, const char *key, ic_done_fn *done,
		  void *ctx)
{
	struct hv_kvp_msg m;
	struct kvp_call *q;
	int ret = check(kvp, pool, (const void *)done);

	if (ret)
		return ret;
	memset(&m, 0, sizeof(m));
	m.kvp_hdr.operation = KVP_OP_DELETE;
	m.kvp_hdr.pool = (uint8_t)pool;
	ret = put_key(key, m.body.kvp_delete.key);
	if (ret < 0)
		return ret;
	m.body.kvp_delete.key_size = (uint32_t)ret;
	q = new_call(kvp, KVP_OP_DELETE, pool, ctx);
	if (!q)
		return -ENOMEM;
	q->done_fn = done;
	return start(q, &m, sizeof(m));
}

static int enumerate(struct kvp_call *q, uint32_t index)
{
	struct hv_kvp_msg m;

	memset(&m, 0, sizeof(m));
	m.kvp_hdr.operation = KVP_OP_ENUMERATE;
	m.kvp_hdr.pool = q->pool;
	m.body.kvp_enum_data.index = index;
	q->index = index;
	return start(q, &m, sizeof(m));
}

int ic_kvp_enumerate(struct ic_kvp *kvp, unsigned pool, uint32_t index, ic_kvp_value_fn *done,
		     void *ctx)
{
	struct kvp_call *q;
	int ret = check(kvp, pool, (const void *)done);

	if (ret)
		return ret;
	q = new_call(kvp, KVP_OP_ENUMERATE, pool, ctx);
	if (!q)
		return -ENOMEM;
	q->value_fn = done;
	return enumerate(q, index);
}

int ic_kvp_enumerate_pool(struct ic_kvp *kvp, unsigned pool, ic_kvp_item_fn *item,
			  ic_done_fn *done, void *ctx)
{
	struct kvp_call *q;
	int ret = check(kvp, pool, (const void *)done);

	if (ret)
		return ret;
	if (!item)
		return -EINVAL;
	q = new_call(kvp, KVP_OP_ENUMERATE, pool, ctx);
	if (!q)
		return -ENOMEM;
	q->item_fn = item;
	q->done_fn = done;
	return enumerate(q, 0);
}

int ic_kvp_get_ip_info(struct ic_kvp *kvp, const uint8_t mac[6], ic_kvp_ip_fn *done, void *ctx)
{
	struct hv_kvp_ip_msg *m;
	struct kvp_call *q;
	char id[18];
	int ret = check(kvp, KVP_POOL_GUEST, (const void *)done);

	if (ret)
		return ret;
	if (!mac)
		return -EINVAL;
	/* hv_kvp_daemon compares it with /sys/class/net/X/address in upper case. */
	snprintf(id, sizeof(id), "%02X:%02X:%02X:%02X:%02X:%02X", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
	m = calloc(1, sizeof(*m));
	q = new_call(kvp, KVP_OP_GET_IP_INFO, KVP_POOL_GUEST, ctx);
	if (!m || !q) {
		free(m);
		free(q);
		return -ENOMEM;
	}
	m->operation = KVP_OP_GET_IP_INFO;
	m->pool = KVP_POOL_GUEST;
	m->kvp_ip_val.addr_family = ADDR_FAMILY_NONE; /* all families: Linux ignores it */
	ret = ic_utf8_to_utf16(id, m->kvp_ip_val.adapter_id, MAX_ADAPTER_ID_SIZE);
	if (ret < 0) {
		free(q);
		free(m);
		return ret;
	}
	q->ip_fn = done;
	ret = start(q, m, sizeof(*m));
	free(m);
	return ret;
}

void ic_kvp_status(const struct ic_kvp *kvp, struct ic_link_status *out)
{
	ic_channel_status(kvp->ch, out);
}

int ic_kvp_create(struct ic_kvp **out, const struct ic_env *env, struct error *err)
{
	struct ic_kvp *kvp = calloc(1, sizeof(*kvp));
	const struct ic_channel_desc desc = {
		.name = "KVP",
		/* HV_KVP_GUID; the instance Hyper-V uses */
		.if_type = VMBUS_GUID(0xa9a0f4e7, 0x5a45, 0x4d96, 0xb8, 0x27, 0x8a, 0x84, 0x1e, 0x8c,
				      0x03, 0xe6),
		.if_instance = VMBUS_GUID(0x242ff919, 0x07db, 0x4180, 0x9c, 0x2e, 0xb8, 0x6c, 0xb6,
					  0x8c, 0x8c, 0x55),
		.fw_versions = fw_versions,
		.fw_count = sizeof(fw_versions) / sizeof(fw_versions[0]),
		.msg_versions = msg_versions,
		.msg_count = sizeof(msg_versions) / sizeof(msg_versions[0]),
	};
	int ret;

	if (!kvp)
		return error_set(err, ENOMEM, "out of memory");
	kvp->timeout_ms = env->cfg->request_timeout_ms;
	ret = ic_channel_create(&kvp->ch, env->host, env->mem, &desc, err);
	if (ret < 0) {
		free(kvp);
		return ret;
	}
	*out = kvp;
	return 0;
}

void ic_kvp_destroy(struct ic_kvp *kvp, bool withdraw)
{
	if (!kvp)
		return;
	ic_channel_destroy(kvp->ch, withdraw);
	free(kvp);
}
