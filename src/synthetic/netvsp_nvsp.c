/* NVSP control messages on netvsp's primary channel: INIT, NDIS version and configuration,
 * receive and send buffers and their revocation, NVSP5 subchannels and the send indirection
 * table. The client is Linux netvsc.c (negotiate_nvsp_ver, netvsc_init_buf,
 * netvsc_device_remove) and rndis_filter.c (rndis_set_subchannel); answers as openvmm netvsp. */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "synthetic/netvsp_internal.h"
#include "vmbus/server.h"

/* Newest first, as the guest proposes them. */
static const uint32_t nvsp_versions[] = {
	NVSP_PROTOCOL_VERSION_61, NVSP_PROTOCOL_VERSION_6, NVSP_PROTOCOL_VERSION_5,
	NVSP_PROTOCOL_VERSION_4, NVSP_PROTOCOL_VERSION_2, NVSP_PROTOCOL_VERSION_1,
};

/* A guest mistake: counted, logged (rate-limited per call site). */
#define NVSP_BAD(n, ...)                                \
	do {                                            \
		(n)->stats.nvsp_errors++;               \
		log_guest_fault(TAG, __VA_ARGS__);      \
	} while (0)

static bool want_completion(const struct vmbus_packet *pkt)
{
	return pkt->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED;
}

static void reply(struct netvsp_chan *c, const struct vmbus_packet *pkt,
		  const struct nvsp_message *r, bool *signal)
{
	if (want_completion(pkt))
		netvsp_complete(c, pkt->trans_id, r, signal);
}

/* A completion with no NVSP message, for the messages that define none (openvmm answers the
 * UEFI client's requests this way). */
static void reply_empty(struct netvsp_chan *c, const struct vmbus_packet *pkt, bool *signal)
{
	struct netvsp_out o;

	if (!want_completion(pkt))
		return;
	memset(&o, 0, sizeof(o));
	o.kind = NETVSP_OUT_COMPLETION;
	o.trans_id = pkt->trans_id;
	netvsp_emit(c, &o, signal);
}

static void on_init(struct netvsp_chan *c, const struct vmbus_packet *pkt,
		    const struct nvsp_message *m, bool *signal)
{
	struct netvsp *n = c->n;
	struct nvsp_message r;
	uint32_t chosen = 0;

	memset(&r, 0, sizeof(r));
	r.hdr.msg_type = NVSP_MSG_TYPE_INIT_COMPLETE;
	r.msg.init_complete.max_mdl_chain_len = 34; /* openvmm's value */
	r.msg.init_complete.status = NVSP_STAT_FAIL;
	if (pkt->data_len < 4 + sizeof(struct nvsp_message_init)) {
		NVSP_BAD(n, "INIT too short");
	} else if (n->nvsp_version) {
		NVSP_BAD(n, "INIT after version 0x%x was negotiated", n->nvsp_version);
	} else {
		for (unsigned i = 0; i < sizeof(nvsp_versions) / sizeof(nvsp_versions[0]); i++) {
			uint32_t v = nvsp_versions[i];

			if (v >= m->msg.init.min_protocol_ver && v <= m->msg.init.max_protocol_ver) {
				chosen = v;
				break;
			}
		}
		if (chosen) {
			n->nvsp_version = chosen;
			r.msg.init_complete.status = NVSP_STAT_SUCCESS;
		} else {
			/* Not an error: the guest goes on to its next version. */
			log_info(TAG, "NVSP versions 0x%x-0x%x not supported",
				 m->msg.init.min_protocol_ver, m->msg.init.max_protocol_ver);
		}
	}
	r.msg.init_complete.negotiated_protocol_ver = chosen ? chosen : NVSP_INVALID_PROTOCOL_VERSION;
	reply(c, pkt, &r, signal);
}

static void on_ndis_version(struct netvsp_chan *c, const struct vmbus_packet *pkt,
			    const struct nvsp_message *m, bool *signal)
{
	struct netvsp *n = c->n;
	uint32_t major = m->msg.send_ndis_ver.ndis_major_ver;
	uint32_t minor = m->msg.send_ndis_ver.ndis_minor_ver;

	if (!n->nvsp_version)
		NVSP_BAD(n, "NDIS version before INIT");
	else if (pkt->data_len < 4 + sizeof(struct nvsp_1_message_send_ndis_version) ||
		 (major != 5 && major != 6))
		NVSP_BAD(n, "NDIS version %u.%u refused", major, minor);
	else {
		n->rndis.ndis_major = major;
		n->rndis.ndis_minor = minor;
	}
	reply_empty(c, pkt, signal);
}

static void on_ndis_config(struct netvsp_chan *c, const struct vmbus_packet *pkt,
			   const struct nvsp_message *m, bool *signal)
{
	struct netvsp *n = c->n;
	uint32_t mtu = m->msg.send_ndis_config.mtu;

	if (n->nvsp_version < NVSP_PROTOCOL_VERSION_2 ||
	    pkt->data_len < 4 + sizeof(struct nvsp_2_send_ndis_config)) {
		NVSP_BAD(n, "NDIS config before INIT, too short, or on NVSP 1");
	} else {
		/* As vmswitch: an MTU out of range means the default. The frame size sizes the
		 * receive slots (with ours as a floor: the tap sends frames that big). */
		if (mtu < 68 + 14 || mtu > 65535 + 14)
			mtu = n->rndis.mtu + 14;
		n->guest_frame_max = mtu;
		n->vsc_caps = m->msg.send_ndis_config.capability;
	}
	reply_empty(c, pkt, signal);
}

static void on_recv_buf(struct netvsp_chan *c, const struct vmbus_packet *pkt,
			const struct nvsp_message *m, bool *signal)
{
	struct netvsp *n = c->n;
	struct nvsp_message r;
	struct nvsp_1_receive_buffer_section *s = &r.msg.send_recv_buf_complete.sections[0];
	struct vmbus_gpadl *g;
	uint32_t frame_max = n->rndis.mtu + 14, sub;

	memset(&r, 0, sizeof(r));
	r.hdr.msg_type = NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE;
	r.msg.send_recv_buf_complete.status = NVSP_STAT_FAIL;
	if (!n->nvsp_version || pkt->data_len < 4 + sizeof(struct nvsp_1_message_send_receive_buffer)) {
		NVSP_BAD(n, "receive buffer before INIT or message too short");
		goto out;
	}
	if (n->recv_ready) {
		NVSP_BAD(n, "a second receive buffer");
		goto out;
	}
	g = vmbus_channel_gpadl_get(c->ch, m->msg.send_recv_buf.gpadl_handle);
	if (!g) {
		NVSP_BAD(n, "receive buffer: unknown GPADL 0x%x", m->msg.send_recv_buf.gpadl_handle);
		goto out;
	}
	if (netvsp_buf_map(n, &n->recv, g, m->msg.send_recv_buf.id) < 0) {
		NVSP_BAD(n, "receive buffer: pages outside guest RAM");
		goto out;
	}
	if (n->guest_frame_max > frame_max)
		frame_max = n->guest_frame_max;
	sub = NETVSP_RX_SUB_ALLOC(frame_max);
	if (netvsp_rxbuf_init(&n->rxbuf, n->recv.size, sub, ++n->epoch) < 0) {
		NVSP_BAD(n, "receive buffer of %u bytes: not one %u-byte slot", n->recv.size, sub);
		netvsp_buf_unmap(&n->recv);
		goto out;
	}
	n->recv_ready = true;
	r.msg.send_recv_buf_complete.status = NVSP_STAT_SUCCESS;
	r.msg.send_recv_buf_complete.num_sections = 1;
	s->offset = 0;
	s->sub_alloc_size = sub;
	s->num_sub_allocs = n->rxbuf.count;
	s->end_offset = sub * n->rxbuf.count;
out:
	reply(c, pkt, &r, signal);
}

static void on_send_buf(struct netvsp_chan *c, const struct vmbus_packet *pkt,
			const struct nvsp_message *m, bool *signal)
{
	struct netvsp *n = c->n;
	struct nvsp_message r;
	struct vmbus_gpadl *g;

	memset(&r, 0, sizeof(r));
	r.hdr.msg_type = NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE;
	r.msg.send_send_buf_complete.status = NVSP_STAT_FAIL;
	if (!n->nvsp_version || pkt->data_len < 4 + sizeof(struct nvsp_1_message_send_send_buffer)) {
		NVSP_BAD(n, "send buffer before INIT or message too short");
		goto out;
	}
	if (n->send_ready) {
		NVSP_BAD(n, "a second send buffer");
		goto out;
	}
	g = vmbus_channel_gpadl_get(c->ch, m->msg.send_send_buf.gpadl_handle);
	if (!g) {
		NVSP_BAD(n, "send buffer: unknown GPADL 0x%x", m->msg.send_send_buf.gpadl_handle);
		goto out;
	}
	if (netvsp_buf_map(n, &n->send, g, m->msg.send_send_buf.id) < 0) {
		NVSP_BAD(n, "send buffer: pages outside guest RAM");
		goto out;
	}
	n->send_sections = n->send.size / NETVSC_SEND_SECTION_SIZE;
	if (n->send_sections == 0) {
		NVSP_BAD(n, "send buffer smaller than one section");
		netvsp_buf_unmap(&n->send);
		goto out;
	}
	n->send_ready = true;
	r.msg.send_send_buf_complete.status = NVSP_STAT_SUCCESS;
	r.msg.send_send_buf_complete.section_size = NETVSC_SEND_SECTION_SIZE;
out:
	reply(c, pkt, &r, signal);
}

/* After the revoke the buffer is never touched again; its GPADL is released now (packets still
 * queued for it are dropped when their turn comes: see write_out). A send still at the backend
 * reads guest RAM that the guest may reuse: harmless to the host, and Linux revokes only after
 * its sends drained (rndis_filter_halt_device waits). */
static void on_revoke(struct netvsp_chan *c, const struct vmbus_packet *pkt,
		      const struct nvsp_message *m, bool recv, bool *signal)
{
	struct netvsp *n = c->n;
	uint16_t id = recv ? m->msg.revoke_recv_buf.id : m->msg.revoke_send_buf.id;

	if (recv) {
		if (!n->recv_ready || id != n->recv.id) {
			NVSP_BAD(n, "revoke of unknown receive buffer %u", id);
		} else {
			netvsp_rxbuf_destroy(&n->rxbuf);
			netvsp_buf_unmap(&n->recv);
			n->recv_ready = false;
			n->link_pending = false;
		}
	} else {
		if (!n->send_ready || id != n->send.id) {
			NVSP_BAD(n, "revoke of unknown send buffer %u", id);
		} else {
			netvsp_buf_unmap(&n->send);
			n->send_ready = false;
			n->send_sections = 0;
		}
	}
	reply_empty(c, pkt, signal);
}

void netvsp_send_table_if_ready(struct netvsp *n, bool *signal)
{
	struct netvsp_chan *c = netvsp_primary(n);
	struct nvsp_send_indirection_table_msg t;
	struct netvsp_out o;
	unsigned opened;

	if (n->table_sent || n->nvsp_version < NVSP_PROTOCOL_VERSION_5 || n->subchannels == 0 ||
	    !c || !c->open)
		return;
	opened = netvsp_open_channels(n);
	if (opened < n->subchannels + 1 || !netvsp_room(c, 1))
		return;
	/* Offset 12, right after the descriptor: correct for every version (Linux replaces the
	 * offset of <= 6.0 hosts only when the message is long enough to have the table at 40,
	 * which this one is not). */
	memset(&t, 0, sizeof(t));
	t.hdr.msg_type = NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE;
	t.send_table.count = VRSS_SEND_TAB_SIZE;
	t.send_table.offset = offsetof(struct nvsp_send_indirection_table_msg, table);
	for (unsigned i = 0; i < VRSS_SEND_TAB_SIZE; i++)
		t.table[i] = i % opened;
	memset(&o, 0, sizeof(o));
	o.kind = NETVSP_OUT_INBAND;
	o.len = sizeof(t);
	memcpy(o.payload, &t, sizeof(t));
	netvsp_emit(c, &o, signal);
	n->table_sent = true;
}

static void on_subchannel(struct netvsp_chan *c, const struct vmbus_packet *pkt,
			  const struct nvsp_message *m, bool *signal)
{
	struct netvsp *n = c->n;
	struct nvsp_message r;
	uint32_t count = m->msg.subchn_req.num_subchannels;
	int ret;

	memset(&r, 0, sizeof(r));
	r.hdr.msg_type = NVSP_MSG5_TYPE_SUBCHANNEL;
	r.msg.subchn_comp.status = NVSP_STAT_FAIL;
	if (n->nvsp_version < NVSP_PROTOCOL_VERSION_5 ||
	    pkt->data_len < 4 + sizeof(struct nvsp_5_subchannel_request) ||
	    m->msg.subchn_req.op != NVSP_SUBCHANNEL_ALLOCATE) {
		NVSP_BAD(n, "subchannel request refused (NVSP 0x%x, op %u)", n->nvsp_version,
			 m->msg.subchn_req.op);
		goto out;
	}
	/* As many as asked, up to one channel per VP (and 64 channels). */
	if (count > n->max_subchannels)
		count = n->max_subchannels;
	ret = count ? vmbus_server_add_subchannels(vmbus_host_server(n->host), n->dev, count) : 0;
	if (ret < 0) {
		log_warn(TAG, "cannot offer %u subchannels: %s", count, strerror(-ret));
		goto out;
	}
	n->subchannels = count;
	n->table_sent = false;
	r.msg.subchn_comp.status = NVSP_STAT_SUCCESS;
	r.msg.subchn_comp.num_subchannels = count;
out:
	reply(c, pkt, &r, signal);
	netvsp_send_table_if_ready(n, signal);
}

int netvsp_handle_control(struct netvsp_chan *c, const struct vmbus_packet *pkt,
			  const struct nvsp_message *m, bool *signal)
{
	struct netvsp *n = c->n;

	/* Two entries: the answer, and the indirection table a subchannel answer may bring. */
	if (!netvsp_room(c, 2))
		return -EAGAIN;
	switch (m->hdr.msg_type) {
	case NVSP_MSG_TYPE_INIT:
		on_init(c, pkt, m, signal);
		break;
	case NVSP_MSG1_TYPE_SEND_NDIS_VER:
		on_ndis_version(c, pkt, m, signal);
		break;
	case NVSP_MSG2_TYPE_SEND_NDIS_CONFIG:
		on_ndis_config(c, pkt, m, signal);
		break;
	case NVSP_MSG1_TYPE_SEND_RECV_BUF:
		on_recv_buf(c, pkt, m, signal);
		break;
	case NVSP_MSG1_TYPE_REVOKE_RECV_BUF:
		on_revoke(c, pkt, m, true, signal);
		break;
	case NVSP_MSG1_TYPE_SEND_SEND_BUF:
		on_send_buf(c, pkt, m, signal);
		break;
	case NVSP_MSG1_TYPE_REVOKE_SEND_BUF:
		on_revoke(c, pkt, m, false, signal);
		break;
	case NVSP_MSG5_TYPE_SUBCHANNEL:
		on_subchannel(c, pkt, m, signal);
		break;
	case NVSP_MSG4_TYPE_SWITCH_DATA_PATH:
		/* There is no VF: the data path is always the synthetic one. */
		if (n->nvsp_version < NVSP_PROTOCOL_VERSION_4)
			NVSP_BAD(n, "SWITCH_DATA_PATH before NVSP 4");
		reply_empty(c, pkt, signal);
		break;
	default:
		NVSP_BAD(n, "unsupported NVSP message %u", m->hdr.msg_type);
		break;
	}
	return 0;
}

void netvsp_nvsp_reset(struct netvsp *n)
{
	if (n->recv_ready)
		netvsp_rxbuf_destroy(&n->rxbuf);
	netvsp_buf_unmap(&n->recv);
	netvsp_buf_unmap(&n->send);
	n->recv_ready = n->send_ready = false;
	n->nvsp_version = 0;
	n->guest_frame_max = 0;
	n->vsc_caps = 0;
	n->send_sections = 0;
	n->subchannels = 0;
	n->table_sent = false;
	n->link_pending = false;
	rndis_device_reset(&n->rndis);
	n->rndis.ndis_major = 6;
	n->rndis.ndis_minor = 30;
}
