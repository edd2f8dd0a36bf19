/* The integration-component framework (see ic.h), as Linux drivers/hv/hv_util.c answers it: the
 * host sends, the guest echoes each message with ICMSGHDRFLAG_RESPONSE and a status; NEGOTIATE
 * comes first (channel_mgmt.c vmbus_prep_negotiate_resp). One request at a time: Linux's
 * daemon-backed services read their ring only between transactions. An answer must match the
 * VMBus and IC transaction ids and the message type; anything else is dropped and counted. */
#include "synthetic/ic.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "vmbus/packet.h"
#include "vmbus/ring.h"

#define TAG "ic"

#define container_of(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

/* Largest message body the host sends (hv_kvp_ip_msg is 7428 bytes): it must fit the 12 KiB
 * rings Linux gives a util channel (hv_util.c HV_UTIL_RING_SEND_SIZE). */
#define IC_MAX_BODY 8192u
/* Inbound copy buffer: the guest echoes our messages; a larger packet is dropped. */
#define IC_MAX_PACKET 16384u

/* ---- Channels ---- */

struct ic_request {
	struct ic_request *next;
	uint16_t msgtype;
	bool negotiate;       /* the channel's own NEGOTIATE */
	unsigned timeout_ms;
	uint64_t deadline_ns; /* 0: none */
	uint64_t trans_id;    /* VMBus transaction id, once written */
	uint8_t ictid;        /* icmsg_hdr.ictransaction_id: its low byte */
	ic_response_fn *fn;
	void *ctx;
	uint32_t len;
	uint8_t body[];
};

struct ic_channel {
	struct ic_channel_desc desc;
	struct vmbus_host *host;
	const struct guest_mem *mem;
	struct vmbus_device *dev;
	struct vmbus_channel *ch; /* while open */
	bool open;
	enum ic_link link;
	int fail_err;             /* what requests get while FAILED */
	char error[192];
	struct ic_version fw, msg;
	struct vmbus_ring in, out;
	struct ic_request *head, **tail;
	bool head_sent;           /* the head is on the ring, waiting for its answer */
	bool waiting_space;       /* the head did not fit: the guest signals when it has read */
	bool kick;                /* send from the timer: the open callback cannot signal yet */
	uint64_t next_trans_id;
	struct ic_timer timer;    /* request deadlines and kicks */
	unsigned long dropped;
	uint64_t buf[IC_MAX_PACKET / 8]; /* one guest packet, copied out of the ring */
};

static void complete(struct ic_request *r, int err, const char *detail,
		     const struct ic_response *rsp)
{
	r->fn(r->ctx, err, detail, rsp);
	free(r);
}

/* Unlinks r (anywhere in the queue). */
static void unlink_request(struct ic_channel *c, struct ic_request *r)
{
	struct ic_request **pp = &c->head;

	while (*pp != r)
		pp = &(*pp)->next;
	*pp = r->next;
	if (c->tail == &r->next)
		c->tail = pp;
	if (pp == &c->head) {
		if (c->waiting_space && vmbus_ring_set_pending_send(&c->out, 0) < 0)
			log_guest_fault(TAG, "%s: the guest's ring is malformed", c->desc.name);
		c->head_sent = false;
		c->waiting_space = false;
	}
}

static void set_link(struct ic_channel *c, enum ic_link link)
{
	c->link = link;
	if (c->desc.link_changed)
		c->desc.link_changed(c->desc.opaque, link);
}

static void rearm(struct ic_channel *c)
{
	uint64_t next = 0;

	if (c->kick) {
		ic_timer_arm_at(&c->timer, ic_now_ns());
		return;
	}
	for (struct ic_request *r = c->head; r; r = r->next)
		if (r->deadline_ns && (!next || r->deadline_ns < next))
			next = r->deadline_ns;
	if (next)
		ic_timer_arm_at(&c->timer, next);
	else
		ic_timer_stop(&c->timer);
}

/* Completes every request with err; new ones are refused already (link or open changed). */
static void fail_all(struct ic_channel *c, int err, const char *detail)
{
	while (c->head) {
		struct ic_request *r = c->head;

		unlink_request(c, r);
		complete(r, err, detail, NULL);
	}
}

/* The channel stays open but unusable until the guest closes and reopens it. */
static void channel_fail(struct ic_channel *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void channel_fail(struct ic_channel *c, int err, const char *fmt, ...)
{
	char detail[sizeof(c->error)];
	va_list ap;
	int n = snprintf(c->error, sizeof(c->error), "%s: ", c->desc.name);

	if (n < 0 || (size_t)n >= sizeof(c->error))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(c->error + n, sizeof(c->error) - (size_t)n, fmt, ap);
	va_end(ap);
	log_guest_fault(TAG, "%s", c->error);
	memcpy(detail, c->error, sizeof(detail));
	c->fail_err = err;
	c->kick = false;
	c->link = IC_LINK_FAILED;
	fail_all(c, err, detail);
	rearm(c);
	set_link(c, IC_LINK_FAILED);
}

/* Writes the head request. 0, -EAGAIN (no room), -EMSGSIZE, -EBADMSG (ring broken). */
static int write_head(struct ic_channel *c, bool *signal)
{
	struct ic_request *r = c->head;
	struct vmbuspipe_hdr pipe = {
		.flags = VMBUSPIPE_PACKET_TYPE_DATA,
		.msgsize = (uint32_t)sizeof(struct icmsg_hdr) + r->len,
	};
	struct icmsg_hdr h = {
		.icmsgtype = r->msgtype,
		.icmsgsize = (uint16_t)r->len,
		.icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST,
	};
	uint8_t hdr[ICMSG_HDR];
	struct iovec iov[2];

	if (!r->trans_id) {
		r->trans_id = ++c->next_trans_id;
		r->ictid = (uint8_t)r->trans_id;
	}
	if (!r->negotiate) {
		h.icverframe = c->fw;
		h.icvermsg = c->msg;
	}
	h.ictransaction_id = r->ictid;
	memcpy(hdr, &pipe, sizeof(pipe));
	memcpy(hdr + sizeof(pipe), &h, sizeof(h));
	iov[0] = (struct iovec){hdr, sizeof(hdr)};
	iov[1] = (struct iovec){r->body, r->len};
	return vmbus_ring_write(&c->out, VM_PKT_DATA_INBAND, 0, r->trans_id, iov, 2, signal);
}

/* Sends the head request if nothing is in flight. */
static void pump(struct ic_channel *c)
{
	while (c->open && c->head && !c->head_sent && !c->waiting_space) {
		struct ic_request *r = c->head;
		bool signal = false;
		int ret;

		if (c->link == IC_LINK_FAILED || (!r->negotiate && c->link != IC_LINK_READY))
			return;
		ret = write_head(c, &signal);
		if (ret == 0) {
			c->head_sent = true;
			if (signal)
				vmbus_host_signal_guest(c->host, c->ch);
			return;
		}
		if (ret == -EAGAIN) {
			ret = vmbus_ring_set_pending_send(
				&c->out, vmbus_packet_ring_bytes(0, ICMSG_HDR + (uint64_t)r->len));
			if (ret == 0)
				continue; /* the guest read meanwhile */
			if (ret == -EAGAIN) {
				c->waiting_space = true;
				return;
			}
		}
		if (ret == -EMSGSIZE) {
			char detail[128];

			snprintf(detail, sizeof(detail), "%s: a %u-byte message does not fit the "
				 "guest's ring", c->desc.name, r->len);
			unlink_request(c, r);
			complete(r, -EMSGSIZE, detail, NULL);
			continue;
		}
		channel_fail(c, -EPROTO, "the guest's ring header is malformed");
		return;
	}
}

/* Expires due requests: the one in flight (its late answer will be dropped) and queued ones. */
static void expire(struct ic_channel *c)
{
	uint64_t now = ic_now_ns();
	struct ic_request *r;

again:
	for (r = c->head; r; r = r->next) {
		char detail[160];

		if (!r->deadline_ns || r->deadline_ns > now)
			continue;
		if (r == c->head && c->head_sent)
			snprintf(detail, sizeof(detail), "%s: no answer from the guest within %u ms",
				 c->desc.name, r->timeout_ms);
		else
			snprintf(detail, sizeof(detail), "%s: not sent within %u ms (the guest has not "
				 "negotiated, or answered earlier requests)", c->desc.name,
				 r->timeout_ms);
		unlink_request(c, r);
		complete(r, -ETIMEDOUT, detail, NULL);
		goto again; /* the callback may have changed the queue */
	}
}

static void channel_timer(struct ic_timer *t)
{
	struct ic_channel *c = container_of(t, struct ic_channel, timer);

	c->kick = false;
	expire(c);
	pump(c);
	rearm(c);
}

static void versions_text(char *buf, size_t size, const struct ic_version *v, unsigned n)
{
	size_t used = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < n && used < size; i++) {
		int w = snprintf(buf + used, size - used, "%s%u.%u", i ? ", " : "", v[i].major,
				 v[i].minor);

		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static bool offered(const struct ic_version *list, unsigned n, struct ic_version v)
{
	for (unsigned i = 0; i < n; i++)
		if (list[i].major == v.major && list[i].minor == v.minor)
			return true;
	return false;
}

/* The guest's answer to NEGOTIATE: counts 1/1 and its choice, or 0/0 for none in common. */
static void negotiated(void *ctx, int err, const char *detail, const struct ic_response *rsp)
{
	struct ic_channel *c = ctx;
	struct icmsg_negotiate neg;
	struct ic_version v[2];
	char fw[64], msg[96];

	(void)detail;
	if (err)
		return; /* closed or failed: the channel says so already */
	if (rsp->body_len < sizeof(neg)) {
		channel_fail(c, -EPROTO, "truncated NEGOTIATE answer (%u bytes)", rsp->body_len);
		return;
	}
	memcpy(&neg, rsp->body, sizeof(neg));
	versions_text(fw, sizeof(fw), c->desc.fw_versions, c->desc.fw_count);
	versions_text(msg, sizeof(msg), c->desc.msg_versions, c->desc.msg_count);
	if (neg.icframe_vercnt == 0 && neg.icmsg_vercnt == 0) {
		channel_fail(c, -EPROTONOSUPPORT, "no version in common with the guest (offered "
			     "framework %s, message %s)", fw, msg);
		return;
	}
	if (rsp->status != HV_S_OK) {
		channel_fail(c, -EPROTONOSUPPORT, "the guest refused the versions: %s (0x%08x)",
			     ic_status_name(rsp->status), rsp->status);
		return;
	}
	if (neg.icframe_vercnt != 1 || neg.icmsg_vercnt != 1 ||
	    rsp->body_len < sizeof(neg) + sizeof(v)) {
		channel_fail(c, -EPROTO, "malformed NEGOTIATE answer (counts %u/%u, %u bytes)",
			     neg.icframe_vercnt, neg.icmsg_vercnt, rsp->body_len);
		return;
	}
	memcpy(v, rsp->body + sizeof(neg), sizeof(v));
	if (!offered(c->desc.fw_versions, c->desc.fw_count, v[0]) ||
	    !offered(c->desc.msg_versions, c->desc.msg_count, v[1])) {
		channel_fail(c, -EPROTO, "the guest chose framework %u.%u, message %u.%u: not "
			     "offered (framework %s, message %s)", v[0].major, v[0].minor,
			     v[1].major, v[1].minor, fw, msg);
		return;
	}
	c->fw = v[0];
	c->msg = v[1];
	log_debug(TAG, "%s: framework %u.%u, message version %u.%u", c->desc.name, v[0].major,
		  v[0].minor, v[1].major, v[1].minor);
	set_link(c, IC_LINK_READY);
	c->kick = true; /* requests queued meanwhile go out from the timer */
	rearm(c);
}

static void drop(struct ic_channel *c, const char *why)
{
	c->dropped++;
	log_guest_fault(TAG, "%s: guest packet dropped: %s", c->desc.name, why);
}

/* Why a guest packet is not the answer to the request in flight, or NULL if it is. */
static const char *check_answer(struct ic_channel *c, const struct vmbus_packet *pkt,
				struct ic_response *rsp)
{
	struct vmbuspipe_hdr pipe;
	struct icmsg_hdr h;
	struct ic_request *r = c->head;

	if (pkt->type != VM_PKT_DATA_INBAND)
		return "not an in-band packet";
	if (pkt->data_len < ICMSG_HDR)
		return "shorter than the IC headers";
	memcpy(&pipe, pkt->data, sizeof(pipe));
	memcpy(&h, pkt->data + sizeof(pipe), sizeof(h));
	if (pipe.flags != VMBUSPIPE_PACKET_TYPE_DATA || pipe.msgsize < sizeof(h) ||
	    pipe.msgsize > pkt->data_len - sizeof(pipe))
		return "bad pipe header";
	if (!(h.icflags & ICMSGHDRFLAG_RESPONSE))
		return "not an answer";
	if (!r || !c->head_sent || pkt->trans_id != r->trans_id ||
	    h.ictransaction_id != r->ictid || h.icmsgtype != r->msgtype)
		return "answer to no request in flight (late, or a wrong transaction id)";
	rsp->status = h.status;
	rsp->body = pkt->data + ICMSG_HDR;
	rsp->body_len = pipe.msgsize - (uint32_t)sizeof(h);
	return NULL;
}

static void handle_packet(struct ic_channel *c, const struct vmbus_packet *pkt)
{
	struct ic_response rsp;
	const char *why = check_answer(c, pkt, &rsp);
	struct ic_request *r = c->head;

	if (why) {
		drop(c, why);
		return;
	}
	unlink_request(c, r);
	complete(r, 0, "", &rsp);
}

/* The guest signalled: read its answers (they may queue and send more). */
static void on_signal(void *opaque, struct vmbus_channel *ch)
{
	struct ic_channel *c = opaque;
	bool signal = false;

	(void)ch;
	if (!c->open || c->link == IC_LINK_FAILED)
		return;
	vmbus_ring_mask_interrupts(&c->in);
	do {
		for (;;) {
			struct vmbus_packet pkt;
			int ret = vmbus_ring_peek(&c->in, &pkt, c->buf, sizeof(c->buf));

			if (ret == -EAGAIN)
				break;
			if (ret == -ENOBUFS) {
				drop(c, "oversized");
				vmbus_ring_consume(&c->in);
				continue;
			}
			if (ret < 0) {
				channel_fail(c, -EPROTO, "malformed ring (%s)", strerror(-ret));
				return;
			}
			handle_packet(c, &pkt);
			if (!c->open || c->link == IC_LINK_FAILED)
				return;
			vmbus_ring_consume(&c->in);
		}
		signal |= vmbus_ring_commit_read(&c->in);
	} while (vmbus_ring_unmask_interrupts(&c->in) && (vmbus_ring_mask_interrupts(&c->in), true));
	if (signal)
		vmbus_host_signal_guest(c->host, c->ch);
	c->waiting_space = false; /* room may have been made: write again */
	pump(c);
	rearm(c);
}

static struct ic_request *new_request(uint16_t msgtype, const void *body, uint32_t len,
				      unsigned timeout_ms, ic_response_fn *fn, void *ctx)
{
	struct ic_request *r = calloc(1, sizeof(*r) + len);

	if (!r)
		return NULL;
	r->msgtype = msgtype;
	r->timeout_ms = timeout_ms;
	r->deadline_ns = timeout_ms ? ic_now_ns() + timeout_ms * 1000000ull : 0;
	r->fn = fn;
	r->ctx = ctx;
	r->len = len;
	memcpy(r->body, body, len);
	return r;
}

/* NEGOTIATE: every framework version, then every message version we offer. No timeout: Linux
 * answers KVP's only once hv_kvp_daemon registered (hv_kvp.c), maybe never. */
static struct ic_request *negotiate_request(struct ic_channel *c)
{
	uint8_t body[sizeof(struct icmsg_negotiate) + 2 * 16 * sizeof(struct ic_version)];
	struct icmsg_negotiate neg = {
		.icframe_vercnt = (uint16_t)c->desc.fw_count,
		.icmsg_vercnt = (uint16_t)c->desc.msg_count,
	};
	size_t fw = c->desc.fw_count * sizeof(struct ic_version);
	size_t msg = c->desc.msg_count * sizeof(struct ic_version);
	struct ic_request *r;

	memcpy(body, &neg, sizeof(neg));
	memcpy(body + sizeof(neg), c->desc.fw_versions, fw);
	memcpy(body + sizeof(neg) + fw, c->desc.msg_versions, msg);
	r = new_request(ICMSGTYPE_NEGOTIATE, body, (uint32_t)(sizeof(neg) + fw + msg), 0,
			negotiated, c);
	if (r)
		r->negotiate = true;
	return r;
}

static int ic_open(void *opaque, struct vmbus_channel *ch, const struct vmbus_open_request *req)
{
	struct ic_channel *c = opaque;
	struct ic_request *neg;
	int ret;

	if (c->open)
		return -EBUSY;
	ret = vmbus_ring_init_channel(&c->in, &c->out, c->mem, vmbus_gpadl_pfns(req->ring),
				      req->ring_pages, req->downstream_ring_offset);
	if (ret < 0) {
		log_guest_fault(TAG, "%s: unusable rings: %s", c->desc.name, strerror(-ret));
		return ret;
	}
	neg = negotiate_request(c);
	if (!neg) {
		vmbus_ring_destroy(&c->in);
		vmbus_ring_destroy(&c->out);
		return -ENOMEM;
	}
	c->open = true;
	c->ch = ch;
	c->error[0] = 0;
	c->fail_err = 0;
	c->fw = c->msg = (struct ic_version){0, 0};
	c->head_sent = c->waiting_space = false;
	c->head = neg;
	c->tail = &neg->next;
	vmbus_host_set_notify(c->host, ch, on_signal, c);
	/* The channel counts as open (and can be signalled) only once this returns. */
	c->kick = true;
	rearm(c);
	set_link(c, IC_LINK_NEGOTIATING);
	return 0;
}

static void ic_close(void *opaque, struct vmbus_channel *ch)
{
	struct ic_channel *c = opaque;
	char detail[96];

	(void)ch;
	if (!c->open)
		return;
	c->open = false;
	c->ch = NULL;
	c->kick = false;
	c->waiting_space = false; /* the ring goes away: no pending-send to withdraw */
	vmbus_ring_destroy(&c->in);
	vmbus_ring_destroy(&c->out);
	c->link = IC_LINK_CLOSED;
	snprintf(detail, sizeof(detail), "%s: the guest closed the channel", c->desc.name);
	fail_all(c, -ENOTCONN, detail);
	rearm(c);
	set_link(c, IC_LINK_CLOSED);
}

static const struct vmbus_device_ops ic_ops = {.open = ic_open, .close = ic_close};

int ic_channel_create(struct ic_channel **out, struct vmbus_host *host,
		      const struct guest_mem *mem, const struct ic_channel_desc *desc,
		      struct error *err)
{
	struct ic_channel *c;
	struct vmbus_device_desc dev = {
		.if_type = desc->if_type,
		.if_instance = desc->if_instance,
		/* A message-mode pipe, as Hyper-V and openvmm offer their ICs. */
		.chn_flags = VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE | VMBUS_CHANNEL_NAMED_PIPE_MODE,
		.name = desc->name,
		.ops = &ic_ops,
	};
	const uint32_t pipe_mode_message = 4; /* user_def pipe_type: message mode */
	int ret;

	if (desc->fw_count == 0 || desc->fw_count > 16 || desc->msg_count == 0 ||
	    desc->msg_count > 16)
		return error_set(err, EINVAL, "%s: bad version lists", desc->name);
	c = calloc(1, sizeof(*c));
	if (!c)
		return error_set(err, ENOMEM, "out of memory");
	c->desc = *desc;
	c->host = host;
	c->mem = mem;
	c->tail = &c->head;
	ic_timer_init(&c->timer, vmbus_host_loop(host), channel_timer);
	memcpy(dev.user_def, &pipe_mode_message, sizeof(pipe_mode_message));
	dev.opaque = c;
	ret = vmbus_server_add_device(vmbus_host_server(host), &dev, &c->dev);
	if (ret < 0) {
		free(c);
		return error_set(err, -ret, "cannot offer the %s integration service: %s",
				 desc->name, strerror(-ret));
	}
	*out = c;
	return 0;
}

void ic_channel_destroy(struct ic_channel *c, bool withdraw)
{
	if (!c)
		return;
	if (withdraw)
		vmbus_server_remove_device(vmbus_host_server(c->host), c->dev);
	if (c->open)
		ic_close(c, c->ch);
	ic_timer_drain(&c->timer);
	free(c);
}

int ic_channel_usable(const struct ic_channel *c)
{
	if (!c->open)
		return -ENOTCONN;
	if (c->link == IC_LINK_FAILED)
		return c->fail_err;
	return 0;
}

int ic_channel_request(struct ic_channel *c, uint16_t msgtype, const void *body, uint32_t len,
		       unsigned timeout_ms, ic_response_fn *fn, void *ctx)
{
	struct ic_request *r;
	int ret = ic_channel_usable(c);

	if (ret)
		return ret;
	if (len > IC_MAX_BODY)
		return -EMSGSIZE;
	r = new_request(msgtype, body, len, timeout_ms, fn, ctx);
	if (!r)
		return -ENOMEM;
	*c->tail = r;
	c->tail = &r->next;
	/* Sent from the timer, so fn never runs before this returns. */
	c->kick = true;
	rearm(c);
	return 0;
}

enum ic_link ic_channel_link(const struct ic_channel *c)
{
	return c->link;
}

struct ic_version ic_channel_msg_version(const struct ic_channel *c)
{
	return c->msg;
}

void ic_channel_status(const struct ic_channel *c, struct ic_link_status *out)
{
	memset(out, 0, sizeof(*out));
	out->link = c->link;
	if (c->link == IC_LINK_READY) {
		out->fw_major = c->fw.major;
		out->fw_minor = c->fw.minor;
		out->msg_major = c->msg.major;
		out->msg_minor = c->msg.minor;
	}
	out->error = c->link == IC_LINK_FAILED ? c->error : "";
	out->dropped = c->dropped;
}
