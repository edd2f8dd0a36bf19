/* storvsp control protocol: the initialization sequence Linux's storvsc_channel_init and Windows'
 * storvsc drive (BEGIN_INITIALIZATION, QUERY_PROTOCOL_VERSION, QUERY_PROPERTIES, optional
 * CREATE_SUB_CHANNELS, END_INITIALIZATION), resets, rescan notices; states and statuses as
 * openvmm's storvsp, which was checked against Hyper-V.
 *
 * Every answer echoes the size of the request (capped at a full vstor_packet): Linux 6.1 sends
 * full 64-byte packets before any version is agreed and drops shorter completions; Windows
 * checks that answers have the size of its own packets for the version. */
#include <string.h>

#include "log.h"
#include "synthetic/storvsp_internal.h"

void storvsp_protocol_error(struct storvsp *s)
{
	s->protocol_errors++;
}

uint32_t storvsp_srb_size(const struct storvsp *s)
{
	return s->version >= VMSTOR_PROTO_VERSION_WIN8 ? VMSCSI_REQUEST_SIZE_WIN8
						       : VMSCSI_REQUEST_SIZE_PRE_WIN8;
}

/* Versions accepted: those of openvmm (Windows Server 2008 to 2012 R2, and Linux), plus 6.2,
 * Linux's first choice. Anything else gets REVISION_MISMATCH and the guest tries its next. */
static bool version_supported(uint16_t v)
{
	switch (v) {
	case VMSTOR_PROTO_VERSION_WIN6:
	case VMSTOR_PROTO_VERSION_WIN7:
	case VMSTOR_PROTO_VERSION_WIN8:
	case VMSTOR_PROTO_VERSION_WIN8_1:
	case VMSTOR_PROTO_VERSION_WIN10:
		return true;
	default:
		return false;
	}
}

static void reply(struct storvsp_chan *c, uint64_t trans_id, uint32_t srb_size,
		  struct vstor_packet *p, uint32_t status)
{
	p->operation = VSTOR_OPERATION_COMPLETE_IO;
	p->flags = 0;
	p->status = status;
	storvsp_chan_send(c, VM_PKT_COMP, trans_id, p, VSTOR_PACKET_HEADER_SIZE + srb_size);
}

void storvsp_reply_status(struct storvsp_chan *c, uint64_t trans_id, uint32_t srb_size,
			  uint32_t status)
{
	struct vstor_packet p;

	memset(&p, 0, sizeof(p));
	reply(c, trans_id, srb_size, &p, status);
}

void storvsp_enumerate_bus(struct storvsp *s)
{
	struct storvsp_chan *c = s->primary;
	struct vstor_packet p;

	/* Before READY the guest scans anyway once initialization ends; 2.0 guests do not know
	 * the operation (openvmm sends it from 4.2 on). */
	if (!c || s->state != STORVSP_STATE_READY || s->version < VMSTOR_PROTO_VERSION_WIN7)
		return;
	memset(&p, 0, sizeof(p));
	p.operation = VSTOR_OPERATION_ENUMERATE_BUS;
	storvsp_chan_send(c, VM_PKT_DATA_INBAND, 0, &p,
			  VSTOR_PACKET_HEADER_SIZE + storvsp_srb_size(s));
	storvsp_chan_kick(c);
}

static void refuse(struct storvsp_chan *c, uint64_t trans_id, uint32_t srb_size, uint32_t op,
		   uint32_t status)
{
	log_guest_fault(c->s->name, "channel %u: operation %u refused in state %d (status 0x%x)",
			c->index, op, (int)c->s->state, status);
	storvsp_protocol_error(c->s);
	storvsp_reply_status(c, trans_id, srb_size, status);
}

static void create_sub_channels(struct storvsp_chan *c, uint64_t trans_id, uint32_t srb_size,
				uint16_t count)
{
	struct storvsp *s = c->s;
	unsigned n = count < s->max_subchannels ? count : s->max_subchannels;
	int ret = vmbus_server_add_subchannels(s->bus.server, s->dev, n);

	if (ret < 0) {
		log_guest_fault(s->name, "cannot create %u subchannels: %s", n, strerror(-ret));
		storvsp_reply_status(c, trans_id, srb_size, NT_STATUS_INVALID_PARAMETER);
		return;
	}
	storvsp_reply_status(c, trans_id, srb_size, NT_STATUS_SUCCESS);
}

/* The primary channel's operations other than EXECUTE_SRB. */
static void control(struct storvsp_chan *c, uint64_t trans_id, uint32_t srb_size,
		    const struct vstor_packet *req)
{
	struct storvsp *s = c->s;
	uint32_t op = req->operation;
	struct vstor_packet p;

	memset(&p, 0, sizeof(p));
	switch (op) {
	case VSTOR_OPERATION_BEGIN_INITIALIZATION:
		if (s->state != STORVSP_STATE_BEGIN)
			break;
		s->state = STORVSP_STATE_QUERY_VERSION;
		reply(c, trans_id, srb_size, &p, NT_STATUS_SUCCESS);
		return;
	case VSTOR_OPERATION_QUERY_PROTOCOL_VERSION: {
		uint16_t v = req->version.major_minor;

		if (s->state != STORVSP_STATE_QUERY_VERSION)
			break;
		p.version.major_minor = v;
		if (!version_supported(v)) {
			reply(c, trans_id, srb_size, &p, NT_STATUS_REVISION_MISMATCH);
			return;
		}
		s->version = v;
		s->state = STORVSP_STATE_QUERY_PROPERTIES;
		reply(c, trans_id, srb_size, &p, NT_STATUS_SUCCESS);
		log_debug(s->name, "protocol %u.%u", v >> 8, v & 0xff);
		return;
	}
	case VSTOR_OPERATION_QUERY_PROPERTIES:
		if (s->state != STORVSP_STATE_QUERY_PROPERTIES)
			break;
		/* Multi-channel from 5.1 (Windows 8) on, as openvmm and Linux's comment say. */
		if (s->version >= VMSTOR_PROTO_VERSION_WIN8 && s->max_subchannels) {
			p.storage_channel_properties.flags = STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL;
			p.storage_channel_properties.max_channel_cnt = s->max_subchannels;
		}
		p.storage_channel_properties.max_transfer_bytes = STORVSP_MAX_TRANSFER_BYTES;
		s->state = STORVSP_STATE_END_INIT;
		reply(c, trans_id, srb_size, &p, NT_STATUS_SUCCESS);
		return;
	case VSTOR_OPERATION_CREATE_SUB_CHANNELS:
		if ((s->state != STORVSP_STATE_END_INIT && s->state != STORVSP_STATE_READY) ||
		    s->version < VMSTOR_PROTO_VERSION_WIN8 || !s->max_subchannels)
			break;
		create_sub_channels(c, trans_id, srb_size, req->sub_channel_count);
		return;
	case VSTOR_OPERATION_END_INITIALIZATION:
		if (s->state != STORVSP_STATE_END_INIT)
			break;
		s->state = STORVSP_STATE_READY;
		reply(c, trans_id, srb_size, &p, NT_STATUS_SUCCESS);
		return;
	case VSTOR_OPERATION_RESET_LUN:
	case VSTOR_OPERATION_RESET_ADAPTER:
	case VSTOR_OPERATION_RESET_BUS:
		if (s->state != STORVSP_STATE_READY)
			break;
		/* Answered at once, as openvmm (and Hyper-V) do: requests already running finish
		 * and are answered on their own; Linux's host reset handler waits for them. */
		reply(c, trans_id, srb_size, &p, NT_STATUS_SUCCESS);
		return;
	case VSTOR_OPERATION_FCHBA_DATA:  /* only a synthetic Fibre Channel adapter has it */
	default:
		refuse(c, trans_id, srb_size, op, NT_STATUS_INVALID_DEVICE_REQUEST);
		return;
	}
	refuse(c, trans_id, srb_size, op, NT_STATUS_INVALID_DEVICE_STATE);
}

void storvsp_handle_packet(struct storvsp_chan *c, const struct vmbus_packet *pkt)
{
	struct storvsp *s = c->s;
	struct vstor_packet req;
	uint32_t payload, srb_size;

	if (pkt->type == VM_PKT_COMP ||
	    !(pkt->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED)) {
		/* We never ask for completions, and every request of the protocol wants one. */
		log_guest_fault(s->name, "channel %u: packet type %u flags %u dropped", c->index,
				pkt->type, pkt->flags);
		storvsp_protocol_error(s);
		return;
	}
	if (pkt->data_len < VSTOR_PACKET_HEADER_SIZE || pkt->type == VM_PKT_DATA_USING_XFER_PAGES) {
		log_guest_fault(s->name, "channel %u: packet type %u of %u bytes refused",
				c->index, pkt->type, pkt->data_len);
		storvsp_protocol_error(s);
		storvsp_reply_status(c, pkt->trans_id, VMSCSI_REQUEST_SIZE_WIN8,
				     NT_STATUS_INVALID_PARAMETER);
		return;
	}
	payload = pkt->data_len - VSTOR_PACKET_HEADER_SIZE;
	srb_size = payload < VMSCSI_REQUEST_SIZE_WIN8 ? payload : VMSCSI_REQUEST_SIZE_WIN8;
	memset(&req, 0, sizeof(req));
	memcpy(&req, pkt->data, VSTOR_PACKET_HEADER_SIZE + srb_size);

	if (req.operation == VSTOR_OPERATION_EXECUTE_SRB) {
		if (s->state != STORVSP_STATE_READY) {
			refuse(c, pkt->trans_id, srb_size, req.operation,
			       NT_STATUS_INVALID_DEVICE_STATE);
			return;
		}
		storvsp_srb_execute(c, pkt, payload, srb_size);
		return;
	}
	if (pkt->type != VM_PKT_DATA_INBAND) {
		refuse(c, pkt->trans_id, srb_size, req.operation, NT_STATUS_INVALID_PARAMETER);
		return;
	}
	if (c->index != 0) {
		/* A subchannel carries I/O only (and resets, harmlessly). */
		uint32_t op = req.operation;

		if ((op == VSTOR_OPERATION_RESET_LUN || op == VSTOR_OPERATION_RESET_ADAPTER ||
		     op == VSTOR_OPERATION_RESET_BUS) && s->state == STORVSP_STATE_READY) {
			storvsp_reply_status(c, pkt->trans_id, srb_size, NT_STATUS_SUCCESS);
			return;
		}
		refuse(c, pkt->trans_id, srb_size, op, NT_STATUS_INVALID_DEVICE_STATE);
		return;
	}
	control(c, pkt->trans_id, srb_size, &req);
}
