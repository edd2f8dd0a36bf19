/* VMBus channel-management server (see server.h). Message facts: Linux include/linux/hyperv.h and
 * drivers/hv/{channel_mgmt,connection,channel}.c; behaviour cross-checked with openvmm's
 * vmbus_server (channels.rs). */
#include "vmbus/server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv-enlight/tlfs.h"
#include "log.h"
#include "vmbus/gpadl.h"

#define TAG "vmbus"
#define PAGE_SIZE 4096u

/* What the guest knows of a channel in the current connection. */
enum offer_state {
	OFFER_NONE,      /* not offered yet (offers not requested, or blocked) */
	OFFER_SENT,      /* OFFERCHANNEL sent: the guest may use the relid */
	OFFER_RESCINDED, /* RESCIND_CHANNELOFFER sent; the relid is taken until RELID_RELEASED */
	OFFER_RELEASED,  /* the guest released it unasked (its probe failed); offered again on reconnect */
};

struct vmbus_channel {
	struct vmbus_server *s;
	struct vmbus_device *dev; /* NULL once rescinded: such a channel only waits for its release */
	uint32_t relid;
	uint16_t subchannel_index;
	struct vmbus_guid if_instance;
	enum offer_state offer;
	bool open;
	uint32_t open_id;
	uint32_t target_vp;
	struct vmbus_gpadl *ring; /* pinned while open */
	void *data;
};

struct vmbus_device {
	struct vmbus_device *next; /* in add order: the order of offers */
	struct vmbus_device_desc desc;
	unsigned nchannels;        /* primary + subchannels 1..nchannels-1 */
	struct vmbus_channel *channels[1 + VMBUS_MAX_SUBCHANNELS];
};

struct vmbus_server {
	const struct guest_mem *mem;
	struct vmbus_server_ops ops;
	unsigned nvps;
	bool connected;        /* INITIATE_CONTACT accepted, no UNLOAD since */
	uint32_t version;      /* negotiated, 0 when disconnected */
	unsigned msg_vp;       /* where answers go */
	unsigned msg_sint;
	bool offers_requested; /* REQUESTOFFERS seen in this connection */
	struct vmbus_device *devices;
	struct vmbus_channel *relids[VMBUS_RELID_MAX + 1];
	struct vmbus_gpadl_table gpadls;
	struct log_ratelimit rl;
	unsigned long protocol_errors;
};

/* A refused guest message: counted, logged at most ~10 a second per server. */
#define guest_error(s, ...)                                  \
	do {                                                 \
		(s)->protocol_errors++;                      \
		log_guest(&(s)->rl, TAG, __VA_ARGS__);       \
	} while (0)

/* Newest first, as Linux tries them (drivers/hv/connection.c vmbus_versions[]). */
static const uint32_t supported_versions[] = {
	VERSION_WIN10_V5_3, VERSION_WIN10_V5_2, VERSION_WIN10_V5_1, VERSION_WIN10_V5,
	VERSION_WIN10_V4_1, VERSION_WIN10,      VERSION_WIN8_1,     VERSION_WIN8,
};

static bool version_supported(uint32_t version)
{
	for (size_t i = 0; i < sizeof(supported_versions) / sizeof(supported_versions[0]); i++)
		if (supported_versions[i] == version)
			return true;
	return false;
}

/* ---- sending ---- */

static void send_to(struct vmbus_server *s, unsigned vp, unsigned sint, const void *msg,
		    uint32_t size)
{
	uint32_t type;
	int ret = s->ops.send(s->ops.ctx, vp, sint, msg, size);

	/* Mostly the guest's doing (SynIC or SIMP off, SINT masked): rate-limited. */
	if (ret && ret != -EAGAIN) {
		memcpy(&type, msg, sizeof(type));
		log_guest(&s->rl, TAG, "message type %u to VP %u SINT %u lost: %s", type, vp, sint,
			  strerror(-ret));
	}
}

static void reply(struct vmbus_server *s, const void *msg, uint32_t size)
{
	send_to(s, s->msg_vp, s->msg_sint, msg, size);
}

static void send_header_only(struct vmbus_server *s, unsigned vp, unsigned sint, uint32_t type)
{
	struct vmbus_msg_header m = { .msgtype = type };

	send_to(s, vp, sint, &m, sizeof(m));
}

static void send_gpadl_created(struct vmbus_server *s, uint32_t relid, uint32_t handle,
			       uint32_t status)
{
	struct vmbus_msg_gpadl_created m = {
		.header.msgtype = CHANNELMSG_GPADL_CREATED,
		.child_relid = relid,
		.gpadl = handle,
		.creation_status = status,
	};

	reply(s, &m, sizeof(m));
}

static void send_gpadl_torndown(struct vmbus_server *s, uint32_t handle)
{
	struct vmbus_msg_gpadl_torndown m = {
		.header.msgtype = CHANNELMSG_GPADL_TORNDOWN,
		.gpadl = handle,
	};

	reply(s, &m, sizeof(m));
}

static void send_open_result(struct vmbus_server *s, uint32_t relid, uint32_t openid,
			     uint32_t status)
{
	struct vmbus_msg_open_result m = {
		.header.msgtype = CHANNELMSG_OPENCHANNEL_RESULT,
		.child_relid = relid,
		.openid = openid,
		.status = status,
	};

	reply(s, &m, sizeof(m));
}

static void send_offer(struct vmbus_server *s, struct vmbus_channel *ch)
{
	const struct vmbus_device_desc *d = &ch->dev->desc;
	struct vmbus_msg_offer_channel m;

	memset(&m, 0, sizeof(m));
	m.header.msgtype = CHANNELMSG_OFFERCHANNEL;
	m.offer.if_type = d->if_type;
	m.offer.if_instance = d->if_instance;
	m.offer.chn_flags = d->chn_flags;
	m.offer.mmio_megabytes = ch->subchannel_index ? 0 : d->mmio_megabytes;
	memcpy(m.offer.user_def, d->user_def, sizeof(m.offer.user_def));
	m.offer.sub_channel_index = ch->subchannel_index;
	m.child_relid = ch->relid;
	/* No monitor page: the guest signals with HvSignalEvent(connection_id) and sets no bit in
	 * the shared interrupt page. */
	m.monitorid = 0;
	m.monitor_allocated = 0;
	m.is_dedicated_interrupt = VMBUS_OFFER_DEDICATED_INTERRUPT;
	m.connection_id = VMBUS_CHANNEL_CONNECTION_ID_BASE | ch->relid;
	reply(s, &m, sizeof(m));
	ch->offer = OFFER_SENT;
}

static void send_rescind(struct vmbus_server *s, struct vmbus_channel *ch)
{
	struct vmbus_msg_rescind_offer m = {
		.header.msgtype = CHANNELMSG_RESCIND_CHANNELOFFER,
		.child_relid = ch->relid,
	};

	reply(s, &m, sizeof(m));
	ch->offer = OFFER_RESCINDED;
}

/* ---- channels ---- */

static struct vmbus_channel *channel_new(struct vmbus_server *s, struct vmbus_device *dev,
					 uint16_t index)
{
	struct vmbus_channel *ch;
	uint32_t relid;

	for (relid = 1; relid <= VMBUS_RELID_MAX; relid++)
		if (!s->relids[relid])
			break;
	if (relid > VMBUS_RELID_MAX)
		return NULL;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return NULL;
	ch->s = s;
	ch->dev = dev;
	ch->relid = relid;
	ch->subchannel_index = index;
	ch->if_instance = dev->desc.if_instance;
	s->relids[relid] = ch;
	return ch;
}

/* Host-side close of an open channel: the VMM stops listening, the device lets go of the rings,
 * then the ring GPADL's pin goes (which may complete a pending teardown). */
static void channel_close(struct vmbus_server *s, struct vmbus_channel *ch)
{
	struct vmbus_gpadl *ring = ch->ring;

	if (!ch->open)
		return;
	ch->open = false;
	if (s->ops.channel_closed)
		s->ops.channel_closed(s->ops.ctx, ch);
	if (ch->dev)
		ch->dev->desc.ops->close(ch->dev->desc.opaque, ch);
	ch->ring = NULL;
	vmbus_gpadl_unpin(ring);
}

static void channel_free(struct vmbus_server *s, struct vmbus_channel *ch)
{
	channel_close(s, ch);
	vmbus_gpadl_remove_relid(&s->gpadls, ch->relid);
	s->relids[ch->relid] = NULL;
	free(ch);
}

/* Takes ch from its device: closed, then rescinded if the guest knows it (the relid waits for
 * RELID_RELEASED), else freed. */
static void channel_revoke(struct vmbus_server *s, struct vmbus_channel *ch)
{
	channel_close(s, ch);
	ch->dev->channels[ch->subchannel_index] = NULL;
	ch->dev = NULL;
	if (s->connected && ch->offer == OFFER_SENT)
		send_rescind(s, ch);
	else
		channel_free(s, ch);
}

/* Subchannels go with their primary's close, newest first (as openvmm does). */
static void revoke_subchannels(struct vmbus_server *s, struct vmbus_device *dev)
{
	while (dev->nchannels > 1)
		channel_revoke(s, dev->channels[--dev->nchannels]);
}

/* A rescinded primary with the same instance GUID that the guest has not released yet: Linux
 * would take a second offer for that instance as the old channel coming back. */
static bool offer_blocked(const struct vmbus_server *s, const struct vmbus_channel *ch)
{
	for (uint32_t r = 1; r <= VMBUS_RELID_MAX; r++) {
		const struct vmbus_channel *c = s->relids[r];

		if (c && c != ch && c->offer == OFFER_RESCINDED && c->subchannel_index == 0 &&
		    !memcmp(&c->if_instance, &ch->if_instance, sizeof(ch->if_instance)))
			return true;
	}
	return false;
}

/* Offers every channel the guest should know and does not, once it asked for offers. */
static void sync_offers(struct vmbus_server *s)
{
	if (!s->connected || !s->offers_requested)
		return;
	for (struct vmbus_device *dev = s->devices; dev; dev = dev->next) {
		struct vmbus_channel *primary = dev->channels[0];

		if (primary->offer == OFFER_NONE && !offer_blocked(s, primary))
			send_offer(s, primary);
		if (primary->offer != OFFER_SENT)
			continue;
		for (unsigned i = 1; i < dev->nchannels; i++)
			if (dev->channels[i]->offer == OFFER_NONE)
				send_offer(s, dev->channels[i]);
	}
}

/* The guest is gone (UNLOAD, or a new INITIATE_CONTACT): every channel closed, subchannels and
 * rescinded channels dropped, GPADLs forgotten, primaries back to "not offered". */
static void disconnect(struct vmbus_server *s)
{
	s->connected = false;
	s->offers_requested = false;
	s->version = 0;
	for (struct vmbus_device *dev = s->devices; dev; dev = dev->next) {
		revoke_subchannels(s, dev);
		channel_close(s, dev->channels[0]);
		dev->channels[0]->offer = OFFER_NONE;
	}
	for (uint32_t r = 1; r <= VMBUS_RELID_MAX; r++)
		if (s->relids[r] && !s->relids[r]->dev)
			channel_free(s, s->relids[r]);
	vmbus_gpadl_remove_all(&s->gpadls);
}

/* The channel behind a guest-supplied relid, if the guest may use it (offered, not rescinded). */
static struct vmbus_channel *usable_channel(const struct vmbus_server *s, uint32_t relid)
{
	struct vmbus_channel *ch;

	if (relid == 0 || relid > VMBUS_RELID_MAX)
		return NULL;
	ch = s->relids[relid];
	return ch && ch->offer == OFFER_SENT ? ch : NULL;
}

void vmbus_server_gpadl_released(struct vmbus_server *s, struct vmbus_gpadl *g)
{
	g->teardown_pending = false;
	if (s->connected)
		send_gpadl_torndown(s, g->handle);
	vmbus_gpadl_remove(&s->gpadls, g);
}

/* ---- guest messages ---- */

struct msg_ctx {
	unsigned vp;
	uint32_t connection_id;
};

static void on_initiate_contact(struct vmbus_server *s, const struct msg_ctx *c,
				const uint8_t *buf, uint32_t size)
{
	struct vmbus_msg_initiate_contact m;
	struct vmbus_msg_version_response r;
	uint32_t version;
	unsigned vp, sint = VMBUS_MESSAGE_SINT;

	(void)size;
	memcpy(&m, buf, sizeof(m));
	version = m.vmbus_version_requested;
	/* Before 3.0 answers went to VP 0; the SINT is the guest's choice only from 5.0, and only on
	 * the multi-client connection 4 (on 1 it is always 2). */
	vp = version >= VERSION_WIN8_1 ? m.target_vcpu : 0;
	if (version >= VERSION_WIN10_V5 && c->connection_id == VMBUS_MESSAGE_CONNECTION_ID_4)
		sint = m.msg_sint;
	if (vp >= s->nvps || sint >= HV_SYNIC_SINT_COUNT) {
		guest_error(s, "INITIATE_CONTACT: no VP %u / SINT %u to answer on, ignored", vp, sint);
		return;
	}
	/* A new contact ends the old connection, as after kexec or a crash without UNLOAD. */
	if (s->connected) {
		log_info(TAG, "guest reconnects: dropping the old connection");
		disconnect(s);
	}
	memset(&r, 0, sizeof(r));
	r.header.msgtype = CHANNELMSG_VERSION_RESPONSE;
	if (!version_supported(version) || sint != VMBUS_MESSAGE_SINT) {
		if (sint != VMBUS_MESSAGE_SINT)
			guest_error(s, "INITIATE_CONTACT: SINT %u instead of %u refused", sint,
				    VMBUS_MESSAGE_SINT);
		else
			log_info(TAG, "guest asks for version %u.%u: not supported", version >> 16,
				 version & 0xffff);
		send_to(s, vp, sint, &r, sizeof(r));
		return;
	}
	s->connected = true;
	s->version = version;
	s->msg_vp = vp;
	s->msg_sint = sint;
	r.version_supported = 1;
	r.connection_state = VMBUS_CONNECTION_SUCCESSFUL;
	r.msg_conn_id = version >= VERSION_WIN10_V5 ? VMBUS_MESSAGE_CONNECTION_ID : version;
	log_info(TAG, "guest connected: version %u.%u, messages to VP %u SINT %u", version >> 16,
		 version & 0xffff, vp, sint);
	reply(s, &r, sizeof(r));
}

static void on_request_offers(struct vmbus_server *s, const struct msg_ctx *c,
			      const uint8_t *buf, uint32_t size)
{
	(void)c;
	(void)buf;
	(void)size;
	if (s->offers_requested) {
		guest_error(s, "REQUESTOFFERS: offers already sent, ignored");
		return;
	}
	s->offers_requested = true;
	sync_offers(s);
	send_header_only(s, s->msg_vp, s->msg_sint, CHANNELMSG_ALLOFFERS_DELIVERED);
}

/* After a GPADL_HEADER or GPADL_BODY added to g: answer once it is complete or wrong. */
static void gpadl_appended(struct vmbus_server *s, struct vmbus_gpadl *g, int ret)
{
	if (ret == 0)
		return;
	if (ret > 0) {
		send_gpadl_created(s, g->relid, g->handle, VMBUS_STATUS_SUCCESS);
		return;
	}
	if (ret == -EINVAL)
		guest_error(s, "GPADL %#x: bad range list or a page outside guest RAM", g->handle);
	else
		log_warn(TAG, "GPADL %#x: %s", g->handle, strerror(-ret));
	send_gpadl_created(s, g->relid, g->handle, VMBUS_STATUS_UNSUCCESSFUL);
	vmbus_gpadl_remove(&s->gpadls, g);
}

static void on_gpadl_header(struct vmbus_server *s, const struct msg_ctx *c, const uint8_t *buf,
			    uint32_t size)
{
	struct vmbus_msg_gpadl_header m;
	struct vmbus_gpadl *g;
	int ret;

	(void)c;
	memcpy(&m, buf, sizeof(m));
	if (!usable_channel(s, m.child_relid)) {
		guest_error(s, "GPADL_HEADER %#x: unknown relid %u", m.gpadl, m.child_relid);
		send_gpadl_created(s, m.child_relid, m.gpadl, VMBUS_STATUS_UNSUCCESSFUL);
		return;
	}
	ret = vmbus_gpadl_begin(&s->gpadls, s, m.child_relid, m.gpadl, m.rangecount,
				m.range_buflen, &g);
	if (ret) {
		if (ret == -EEXIST)
			guest_error(s, "GPADL_HEADER: handle %#x already in use", m.gpadl);
		else if (ret == -EINVAL)
			guest_error(s, "GPADL_HEADER %#x: %u ranges in %u bytes", m.gpadl,
				    m.rangecount, m.range_buflen);
		else if (ret == -ENOSPC)
			guest_error(s, "GPADL_HEADER %#x: GPADL limits reached", m.gpadl);
		else
			log_warn(TAG, "GPADL_HEADER %#x: %s", m.gpadl, strerror(-ret));
		send_gpadl_created(s, m.child_relid, m.gpadl, VMBUS_STATUS_UNSUCCESSFUL);
		return;
	}
	gpadl_appended(s, g, vmbus_gpadl_append(g, buf + sizeof(m), size - sizeof(m), s->mem));
}

static void on_gpadl_body(struct vmbus_server *s, const struct msg_ctx *c, const uint8_t *buf,
			  uint32_t size)
{
	struct vmbus_msg_gpadl_body m;
	struct vmbus_gpadl *g;

	(void)c;
	memcpy(&m, buf, sizeof(m));
	g = vmbus_gpadl_find(&s->gpadls, m.gpadl);
	/* No relid in a body, so nothing can be answered: the header's sender waits on. */
	if (!g) {
		guest_error(s, "GPADL_BODY: no GPADL_HEADER for handle %#x", m.gpadl);
		return;
	}
	if (g->complete) {
		guest_error(s, "GPADL_BODY: GPADL %#x is already complete", m.gpadl);
		return;
	}
	gpadl_appended(s, g, vmbus_gpadl_append(g, buf + sizeof(m), size - sizeof(m), s->mem));
}

static void on_gpadl_teardown(struct vmbus_server *s, const struct msg_ctx *c,
			      const uint8_t *buf, uint32_t size)
{
	struct vmbus_msg_gpadl_teardown m;
	struct vmbus_gpadl *g;

	(void)c;
	(void)size;
	memcpy(&m, buf, sizeof(m));
	g = vmbus_gpadl_find(&s->gpadls, m.gpadl);
	if (!g || !g->complete || g->relid != m.child_relid || g->teardown_pending) {
		guest_error(s, "GPADL_TEARDOWN %#x (relid %u): %s", m.gpadl, m.child_relid,
			    !g                    ? "unknown handle"
			    : !g->complete        ? "still being created"
			    : g->teardown_pending ? "teardown already pending"
						  : "made for another channel");
		return;
	}
	/* In use as an open channel's ring or held by the device: GPADL_TORNDOWN when let go. */
	if (g->pins) {
		g->teardown_pending = true;
		return;
	}
	send_gpadl_torndown(s, g->handle);
	vmbus_gpadl_remove(&s->gpadls, g);
}

/* Refuses an OPENCHANNEL: the guest's vmbus_open gets a failed OPENCHANNEL_RESULT. */
#define open_refused(s, m, ...)                                                            \
	do {                                                                               \
		guest_error(s, __VA_ARGS__);                                               \
		send_open_result(s, (m)->child_relid, (m)->openid, VMBUS_STATUS_UNSUCCESSFUL); \
	} while (0)

static void on_open_channel(struct vmbus_server *s, const struct msg_ctx *c, const uint8_t *buf,
			    uint32_t size)
{
	struct vmbus_msg_open_channel m;
	struct vmbus_open_request req;
	struct vmbus_channel *ch;
	struct vmbus_gpadl *g;
	uint32_t off;
	int ret;

	(void)c;
	(void)size;
	memcpy(&m, buf, sizeof(m));
	ch = usable_channel(s, m.child_relid);
	if (!ch) {
		open_refused(s, &m, "OPENCHANNEL: unknown relid %u", m.child_relid);
		return;
	}
	if (ch->open) {
		open_refused(s, &m, "OPENCHANNEL: relid %u is already open", m.child_relid);
		return;
	}
	if (m.target_vp >= s->nvps) {
		open_refused(s, &m, "OPENCHANNEL relid %u: no VP %u", m.child_relid, m.target_vp);
		return;
	}
	g = vmbus_gpadl_find(&s->gpadls, m.ringbuffer_gpadlhandle);
	if (!g || !g->complete || g->teardown_pending || g->relid != m.child_relid) {
		open_refused(s, &m, "OPENCHANNEL relid %u: no ring GPADL %#x for this channel",
			     m.child_relid, m.ringbuffer_gpadlhandle);
		return;
	}
	if (g->rangecount != 1 || g->ranges[0].byte_offset != 0 ||
	    g->ranges[0].byte_count != g->npfns * PAGE_SIZE) {
		open_refused(s, &m, "OPENCHANNEL relid %u: ring GPADL %#x is not whole pages",
			     m.child_relid, g->handle);
		return;
	}
	/* Each ring: its header page and at least one data page. */
	off = m.downstream_ringbuffer_pageoffset;
	if (g->npfns < 4 || off < 2 || off > g->npfns - 2) {
		open_refused(s, &m, "OPENCHANNEL relid %u: ring split at page %u of %u",
			     m.child_relid, off, g->npfns);
		return;
	}
	memset(&req, 0, sizeof(req));
	req.open_id = m.openid;
	req.target_vp = m.target_vp;
	req.ring = g;
	req.ring_pages = g->npfns;
	req.downstream_ring_offset = off;
	memcpy(req.user_data, m.userdata, sizeof(req.user_data));
	vmbus_gpadl_pin(g);
	ret = ch->dev->desc.ops->open(ch->dev->desc.opaque, ch, &req);
	if (ret) {
		vmbus_gpadl_unpin(g);
		log_info(TAG, "%s: channel %u refused by the device: %s", ch->dev->desc.name,
			 ch->subchannel_index, strerror(-ret));
		send_open_result(s, m.child_relid, m.openid, VMBUS_STATUS_UNSUCCESSFUL);
		return;
	}
	ch->ring = g;
	ch->open = true;
	ch->open_id = m.openid;
	ch->target_vp = m.target_vp;
	if (s->ops.channel_opened)
		s->ops.channel_opened(s->ops.ctx, ch);
	send_open_result(s, m.child_relid, m.openid, VMBUS_STATUS_SUCCESS);
}

static void on_close_channel(struct vmbus_server *s, const struct msg_ctx *c,
			     const uint8_t *buf, uint32_t size)
{
	struct vmbus_msg_close_channel m;
	struct vmbus_channel *ch = NULL;

	(void)c;
	(void)size;
	memcpy(&m, buf, sizeof(m));
	if (m.child_relid && m.child_relid <= VMBUS_RELID_MAX)
		ch = s->relids[m.child_relid];
	/* A rescinded channel was closed on our side already; Linux still closes it. */
	if (ch && ch->offer == OFFER_RESCINDED)
		return;
	if (!ch || ch->offer != OFFER_SENT) {
		guest_error(s, "CLOSECHANNEL: unknown relid %u", m.child_relid);
		return;
	}
	if (!ch->open) {
		guest_error(s, "CLOSECHANNEL: relid %u is not open", m.child_relid);
		return;
	}
	if (ch->subchannel_index == 0)
		revoke_subchannels(s, ch->dev);
	channel_close(s, ch);
}

static void on_relid_released(struct vmbus_server *s, const struct msg_ctx *c,
			      const uint8_t *buf, uint32_t size)
{
	struct vmbus_msg_relid_released m;
	struct vmbus_channel *ch = NULL;

	(void)c;
	(void)size;
	memcpy(&m, buf, sizeof(m));
	if (m.child_relid && m.child_relid <= VMBUS_RELID_MAX)
		ch = s->relids[m.child_relid];
	if (ch && ch->offer == OFFER_RESCINDED) {
		channel_free(s, ch);
		sync_offers(s); /* a re-added device with the same instance may go now */
		return;
	}
	if (!ch || ch->offer != OFFER_SENT || ch->open) {
		guest_error(s, "RELID_RELEASED: relid %u is %s", m.child_relid,
			    ch && ch->open ? "open" : "unknown");
		return;
	}
	/* The guest gave up on a channel we did not rescind (its driver's probe failed). */
	ch->offer = OFFER_RELEASED;
}

static void on_unload(struct vmbus_server *s, const struct msg_ctx *c, const uint8_t *buf,
		      uint32_t size)
{
	unsigned vp = s->connected ? s->msg_vp : (c->vp < s->nvps ? c->vp : 0);
	unsigned sint = s->connected ? s->msg_sint : VMBUS_MESSAGE_SINT;

	(void)buf;
	(void)size;
	disconnect(s);
	log_info(TAG, "guest unloaded VMBus");
	/* A crashing Linux polls SINT 2 of every VP for this answer. */
	send_header_only(s, vp, sint, CHANNELMSG_UNLOAD_RESPONSE);
}

static void on_modify_channel(struct vmbus_server *s, const struct msg_ctx *c,
			      const uint8_t *buf, uint32_t size)
{
	struct vmbus_msg_modifychannel m;
	struct vmbus_msg_modifychannel_response r;
	struct vmbus_channel *ch;

	(void)c;
	(void)size;
	memcpy(&m, buf, sizeof(m));
	memset(&r, 0, sizeof(r));
	r.header.msgtype = CHANNELMSG_MODIFYCHANNEL_RESPONSE;
	r.child_relid = m.child_relid;
	r.status = VMBUS_STATUS_UNSUCCESSFUL;
	ch = usable_channel(s, m.child_relid);
	if (!ch || !ch->open || m.target_vp >= s->nvps) {
		guest_error(s, "MODIFYCHANNEL relid %u to VP %u: %s", m.child_relid, m.target_vp,
			    !ch ? "unknown relid" : !ch->open ? "not open" : "no such VP");
	} else {
		ch->target_vp = m.target_vp;
		if (ch->dev->desc.ops->retarget)
			ch->dev->desc.ops->retarget(ch->dev->desc.opaque, ch, m.target_vp);
		r.status = VMBUS_STATUS_SUCCESS;
	}
	/* Only 5.3 and later acknowledge (Linux channel.c vmbus_send_modifychannel). */
	if (s->version >= VERSION_WIN10_V5_3)
		reply(s, &r, sizeof(r));
}

static void on_tl_connect_request(struct vmbus_server *s, const struct msg_ctx *c,
				  const uint8_t *buf, uint32_t size)
{
	(void)c;
	(void)buf;
	(void)size;
	/* hv_sock has no host side here; the guest's connect() times out. */
	guest_error(s, "TL_CONNECT_REQUEST: hv_sock is not supported, ignored");
}

struct msg_handler {
	const char *name;
	uint32_t min_size;    /* header included */
	uint32_t min_version; /* 0: also while disconnected */
	void (*handle)(struct vmbus_server *s, const struct msg_ctx *c, const uint8_t *buf,
		       uint32_t size);
};

/* Guest -> host messages; the other types are the host's to send. */
static const struct msg_handler handlers[CHANNELMSG_COUNT] = {
	[CHANNELMSG_REQUESTOFFERS] = { "REQUESTOFFERS", sizeof(struct vmbus_msg_header),
				       VERSION_WIN8, on_request_offers },
	[CHANNELMSG_OPENCHANNEL] = { "OPENCHANNEL", sizeof(struct vmbus_msg_open_channel),
				     VERSION_WIN8, on_open_channel },
	[CHANNELMSG_CLOSECHANNEL] = { "CLOSECHANNEL", sizeof(struct vmbus_msg_close_channel),
				      VERSION_WIN8, on_close_channel },
	[CHANNELMSG_GPADL_HEADER] = { "GPADL_HEADER", sizeof(struct vmbus_msg_gpadl_header),
				      VERSION_WIN8, on_gpadl_header },
	[CHANNELMSG_GPADL_BODY] = { "GPADL_BODY", sizeof(struct vmbus_msg_gpadl_body),
				    VERSION_WIN8, on_gpadl_body },
	[CHANNELMSG_GPADL_TEARDOWN] = { "GPADL_TEARDOWN", sizeof(struct vmbus_msg_gpadl_teardown),
					VERSION_WIN8, on_gpadl_teardown },
	[CHANNELMSG_RELID_RELEASED] = { "RELID_RELEASED", sizeof(struct vmbus_msg_relid_released),
					VERSION_WIN8, on_relid_released },
	[CHANNELMSG_INITIATE_CONTACT] = { "INITIATE_CONTACT",
					  sizeof(struct vmbus_msg_initiate_contact), 0,
					  on_initiate_contact },
	[CHANNELMSG_UNLOAD] = { "UNLOAD", sizeof(struct vmbus_msg_header), 0, on_unload },
	[CHANNELMSG_TL_CONNECT_REQUEST] = { "TL_CONNECT_REQUEST",
					    sizeof(struct vmbus_msg_tl_connect_request),
					    VERSION_WIN10, on_tl_connect_request },
	[CHANNELMSG_MODIFYCHANNEL] = { "MODIFYCHANNEL", sizeof(struct vmbus_msg_modifychannel),
				       VERSION_WIN10_V4_1, on_modify_channel },
};

uint16_t vmbus_server_post_message(struct vmbus_server *s, unsigned vp, uint32_t connection_id,
				   uint32_t message_type, const void *payload, uint32_t size)
{
	uint8_t buf[VMBUS_MESSAGE_MAX];
	const struct msg_handler *h;
	struct msg_ctx c = { .vp = vp, .connection_id = connection_id };
	uint32_t type;

	if (connection_id != VMBUS_MESSAGE_CONNECTION_ID &&
	    connection_id != VMBUS_MESSAGE_CONNECTION_ID_4)
		return HV_STATUS_INVALID_CONNECTION_ID;
	if (size > VMBUS_MESSAGE_MAX || (size && !payload))
		return HV_STATUS_INVALID_PARAMETER;
	if (message_type != VMBUS_MESSAGE_TYPE) {
		guest_error(s, "message of type %u on the VMBus connection, ignored", message_type);
		return HV_STATUS_SUCCESS;
	}
	/* One private, zero-padded copy: handlers read fixed-size structs from it. */
	memset(buf, 0, sizeof(buf));
	if (size)
		memcpy(buf, payload, size);
	if (size < sizeof(struct vmbus_msg_header)) {
		guest_error(s, "%u-byte message: shorter than a header", size);
		return HV_STATUS_SUCCESS;
	}
	memcpy(&type, buf, sizeof(type));
	h = type < CHANNELMSG_COUNT ? &handlers[type] : NULL;
	if (!h || !h->handle) {
		guest_error(s, "message type %u: unknown, or not one a guest sends", type);
		return HV_STATUS_SUCCESS;
	}
	if (size < h->min_size) {
		guest_error(s, "%s: %u bytes, needs %u", h->name, size, h->min_size);
		return HV_STATUS_SUCCESS;
	}
	if (h->min_version && !s->connected) {
		/* Linux releases its channels' relids after UNLOAD when hv_vmbus is removed: the
		 * unload already freed them, so that one is expected and ignored quietly. */
		if (type == CHANNELMSG_RELID_RELEASED)
			log_debug("vmbus", "RELID_RELEASED after UNLOAD: ignored");
		else
			guest_error(s, "%s before INITIATE_CONTACT", h->name);
		return HV_STATUS_SUCCESS;
	}
	if (h->min_version > s->version) {
		guest_error(s, "%s: not in version %u.%u", h->name, s->version >> 16,
			    s->version & 0xffff);
		return HV_STATUS_SUCCESS;
	}
	h->handle(s, &c, buf, size);
	return HV_STATUS_SUCCESS;
}

/* ---- server and devices ---- */

int vmbus_server_create(struct vmbus_server **out, const struct guest_mem *mem,
			const struct vmbus_server_ops *ops, unsigned nvps)
{
	struct vmbus_server *s;

	if (!mem || !ops || !ops->send || nvps == 0)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->mem = mem;
	s->ops = *ops;
	s->nvps = nvps;
	s->msg_sint = VMBUS_MESSAGE_SINT;
	*out = s;
	return 0;
}

void vmbus_server_destroy(struct vmbus_server *s)
{
	struct vmbus_device *dev, *next;

	if (!s)
		return;
	disconnect(s);
	for (dev = s->devices; dev; dev = next) {
		next = dev->next;
		channel_free(s, dev->channels[0]);
		free(dev);
	}
	free(s);
}

int vmbus_server_add_device(struct vmbus_server *s, const struct vmbus_device_desc *desc,
			    struct vmbus_device **out)
{
	struct vmbus_device *dev, **tail;

	if (!desc || !desc->ops || !desc->ops->open || !desc->ops->close ||
	    desc->max_subchannels > VMBUS_MAX_SUBCHANNELS)
		return -EINVAL;
	for (tail = &s->devices; *tail; tail = &(*tail)->next)
		if (!memcmp(&(*tail)->desc.if_instance, &desc->if_instance,
			    sizeof(desc->if_instance)))
			return -EEXIST;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->desc = *desc;
	if (!dev->desc.name)
		dev->desc.name = "vmbus device";
	dev->channels[0] = channel_new(s, dev, 0);
	if (!dev->channels[0]) {
		free(dev);
		return -ENOSPC;
	}
	dev->nchannels = 1;
	*tail = dev;
	sync_offers(s);
	if (out)
		*out = dev;
	return 0;
}

void vmbus_server_remove_device(struct vmbus_server *s, struct vmbus_device *dev)
{
	for (struct vmbus_device **pp = &s->devices; *pp; pp = &(*pp)->next) {
		if (*pp != dev)
			continue;
		*pp = dev->next;
		revoke_subchannels(s, dev);
		channel_revoke(s, dev->channels[0]);
		free(dev);
		return;
	}
}

int vmbus_server_add_subchannels(struct vmbus_server *s, struct vmbus_device *dev, unsigned count)
{
	if (!dev->channels[0]->open)
		return -ENOTCONN;
	if (count > dev->desc.max_subchannels)
		return -E2BIG;
	while (dev->nchannels <= count) {
		struct vmbus_channel *ch = channel_new(s, dev, (uint16_t)dev->nchannels);

		if (!ch) {
			sync_offers(s);
			return -ENOSPC;
		}
		dev->channels[dev->nchannels++] = ch;
	}
	sync_offers(s);
	return 0;
}

struct vmbus_channel *vmbus_device_channel(const struct vmbus_device *dev, unsigned index)
{
	return index < dev->nchannels ? dev->channels[index] : NULL;
}

unsigned vmbus_device_channel_count(const struct vmbus_device *dev)
{
	return dev->nchannels;
}

struct vmbus_channel *vmbus_server_channel_by_connection_id(const struct vmbus_server *s,
							    uint32_t connection_id)
{
	uint32_t relid = connection_id - VMBUS_CHANNEL_CONNECTION_ID_BASE;
	struct vmbus_channel *ch;

	if (connection_id < VMBUS_CHANNEL_CONNECTION_ID_BASE || relid == 0 ||
	    relid > VMBUS_RELID_MAX)
		return NULL;
	ch = s->relids[relid];
	return ch && ch->open ? ch : NULL;
}

bool vmbus_server_connected(const struct vmbus_server *s)
{
	return s->connected;
}

uint32_t vmbus_server_version(const struct vmbus_server *s)
{
	return s->version;
}

unsigned long vmbus_server_protocol_errors(const struct vmbus_server *s)
{
	return s->protocol_errors;
}

uint32_t vmbus_channel_relid(const struct vmbus_channel *ch)
{
	return ch->relid;
}

uint32_t vmbus_channel_connection_id(const struct vmbus_channel *ch)
{
	return VMBUS_CHANNEL_CONNECTION_ID_BASE | ch->relid;
}

unsigned vmbus_channel_subchannel_index(const struct vmbus_channel *ch)
{
	return ch->subchannel_index;
}

bool vmbus_channel_is_open(const struct vmbus_channel *ch)
{
	return ch->open;
}

void vmbus_channel_set_data(struct vmbus_channel *ch, void *data)
{
	ch->data = data;
}

void *vmbus_channel_data(const struct vmbus_channel *ch)
{
	return ch->data;
}

bool vmbus_channel_signal_target(const struct vmbus_channel *ch, unsigned *vp, unsigned *sint,
				 unsigned *flag)
{
	if (!ch->open)
		return false;
	/* Versions >= 2.4: the event flags page of the message SINT, bit = relid, on the VP the
	 * guest chose in OPENCHANNEL or MODIFYCHANNEL (Linux vmbus_drv.c vmbus_chan_sched). */
	*vp = ch->target_vp;
	*sint = VMBUS_MESSAGE_SINT;
	*flag = ch->relid;
	return true;
}

struct vmbus_gpadl *vmbus_channel_gpadl_get(struct vmbus_channel *ch, uint32_t handle)
{
	struct vmbus_gpadl *g = vmbus_gpadl_find(&ch->s->gpadls, handle);
	const struct vmbus_channel *owner;

	if (!g || !g->complete || g->teardown_pending)
		return NULL;
	owner = ch->s->relids[g->relid];
	if (!owner || (owner != ch && (!ch->dev || owner->dev != ch->dev)))
		return NULL;
	vmbus_gpadl_pin(g);
	return g;
}
