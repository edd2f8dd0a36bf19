/* RNDIS control messages and the receive filter (see rndis.h; the OIDs are in rndis_oid.c).
 * Facts: Linux drivers/net/hyperv/rndis_filter.c (what the guest sends and checks), openvmm
 * netvsp (what Hyper-V answers). */
#include "synthetic/rndis_internal.h"

#include <stddef.h>
#include <string.h>

#include "log.h"

#define TAG RNDIS_TAG

/* Offset of a query completion's data from the message start: header + rndis_query_complete. */
#define QUERY_DATA_OFFSET (8u + (uint32_t)sizeof(struct rndis_query_complete))


void rndis_device_init(struct rndis_device *d, const uint8_t mac[6], uint32_t mtu,
		       uint32_t max_queues, const struct rndis_offload *caps)
{
	memset(d, 0, sizeof(*d));
	memcpy(d->permanent_mac, mac, 6);
	d->mtu = mtu;
	d->max_queues = max_queues ? max_queues : 1;
	d->link_speed = 10000000000ull; /* 10 Gbit/s, what Hyper-V shows a vNIC */
	d->caps = *caps;
	d->ndis_major = 6;
	d->ndis_minor = 30;
	d->link_up = true;
	rndis_device_reset(d);
}

void rndis_device_reset(struct rndis_device *d)
{
	d->initialized = false;
	memcpy(d->current_mac, d->permanent_mac, 6);
	d->packet_filter = 0;
	d->nmcast = 0;
	d->offload = d->caps;
	memset(&d->rss, 0, sizeof(d->rss));
}

/* ---- Messages ---- */

static uint32_t header(uint8_t *resp, uint32_t type, uint32_t len)
{
	rndis_put32(resp, type);
	rndis_put32(resp + 4, len);
	return len;
}

static uint32_t bad(struct rndis_device *d, const char *why, uint32_t type)
{
	d->stats.bad_control++;
	log_guest_fault(TAG, "control message 0x%x dropped: %s", type, why);
	return 0;
}

/* A query or set's information buffer: offset counted from req_id; must not overlap the
 * request's own fields and must stay inside the message. */
static bool info_buffer(uint32_t body_len, uint32_t off, uint32_t len, uint32_t fixed)
{
	if (len == 0)
		return true;
	return off >= fixed && off <= body_len && body_len - off >= len;
}

uint32_t rndis_control(struct rndis_device *d, const void *msg, uint32_t len, void *resp_,
		       uint32_t resp_size)
{
	const uint8_t *m = msg;
	uint8_t *resp = resp_;
	uint32_t type, msg_len, body_len, req_id;
	const uint8_t *body;

	if (len < 8 || resp_size < RNDIS_RESPONSE_MAX)
		return bad(d, "shorter than its header", len >= 4 ? rndis_get32(m) : 0);
	type = rndis_get32(m);
	msg_len = rndis_get32(m + 4);
	if (msg_len < 8 || msg_len > len)
		return bad(d, "msg_len out of bounds", type);
	body = m + 8;
	body_len = msg_len - 8;
	if (type == RNDIS_MSG_RESET) {
		/* No request id: the completion carries status and addressing_reset only. The
		 * device state (filter, multicast list) survives, so no addressing reset. */
		header(resp, RNDIS_MSG_RESET_C, 16);
		rndis_put32(resp + 8, RNDIS_STATUS_SUCCESS);
		rndis_put32(resp + 12, 0);
		return 16;
	}
	if (type != RNDIS_MSG_INIT && type != RNDIS_MSG_HALT && type != RNDIS_MSG_QUERY &&
	    type != RNDIS_MSG_SET && type != RNDIS_MSG_KEEPALIVE)
		return bad(d, "not a request the guest sends", type);
	if (body_len < 4)
		return bad(d, "no request id", type);
	req_id = rndis_get32(body);

	switch (type) {
	case RNDIS_MSG_INIT: {
		struct rndis_initialize_complete c;

		memset(&c, 0, sizeof(c));
		c.req_id = req_id;
		if (body_len < sizeof(struct rndis_initialize_request)) {
			d->stats.bad_control++;
			c.status = RNDIS_STATUS_INVALID_LENGTH;
		} else {
			/* A second INITIALIZE restarts the device, as after a HALT. */
			d->initialized = true;
			d->packet_filter = 0;
			c.status = RNDIS_STATUS_SUCCESS;
			c.major_ver = RNDIS_MAJOR_VERSION;
			c.minor_ver = RNDIS_MINOR_VERSION;
			c.dev_flags = RNDIS_DF_CONNECTIONLESS;
			c.medium = NDIS_MEDIUM_802_3;
			c.max_pkt_per_msg = RNDIS_MAX_PACKETS_PER_MSG;
			/* Hyper-V's value (openvmm): no limit on one message beyond the send
			 * buffer section or the GPA ranges carrying it. */
			c.max_xfer_size = 0xefffffffu;
			c.pkt_alignment_factor = RNDIS_PACKET_ALIGNMENT_SHIFT;
		}
		memcpy(resp + 8, &c, sizeof(c));
		return header(resp, RNDIS_MSG_INIT_C, 8 + sizeof(c));
	}
	case RNDIS_MSG_HALT:
		/* No completion (Linux does not wait for one). Data stops until INITIALIZE. */
		d->initialized = false;
		d->packet_filter = 0;
		return 0;
	case RNDIS_MSG_KEEPALIVE:
		rndis_put32(resp + 8, req_id);
		rndis_put32(resp + 12, RNDIS_STATUS_SUCCESS);
		return header(resp, RNDIS_MSG_KEEPALIVE_C, 16);
	case RNDIS_MSG_QUERY: {
		struct rndis_query_request q;
		struct out o = {resp + QUERY_DATA_OFFSET, resp_size - QUERY_DATA_OFFSET, 0, false};
		uint32_t status;

		if (body_len < sizeof(q)) {
			d->stats.bad_control++;
			status = RNDIS_STATUS_INVALID_LENGTH;
		} else {
			memcpy(&q, body, sizeof(q));
			if (!info_buffer(body_len, q.info_buf_offset, q.info_buflen, sizeof(q))) {
				d->stats.bad_control++;
				log_guest_fault(TAG, "query 0x%08x: information buffer out of bounds",
						q.oid);
				status = RNDIS_STATUS_INVALID_LENGTH;
			} else {
				status = rndis_query_oid(d, q.oid, q.info_buflen, &o);
			}
		}
		if (status != RNDIS_STATUS_SUCCESS)
			o.len = 0;
		rndis_put32(resp + 8, req_id);
		rndis_put32(resp + 12, status);
		rndis_put32(resp + 16, o.len);
		rndis_put32(resp + 20, o.len ? sizeof(struct rndis_query_complete) : 0);
		return header(resp, RNDIS_MSG_QUERY_C, QUERY_DATA_OFFSET + o.len);
	}
	case RNDIS_MSG_SET: {
		struct rndis_set_request s;
		uint32_t status;

		if (body_len < sizeof(s)) {
			d->stats.bad_control++;
			status = RNDIS_STATUS_INVALID_LENGTH;
		} else {
			memcpy(&s, body, sizeof(s));
			if (!info_buffer(body_len, s.info_buf_offset, s.info_buflen, sizeof(s))) {
				d->stats.bad_control++;
				log_guest_fault(TAG, "set 0x%08x: information buffer out of bounds",
						s.oid);
				status = RNDIS_STATUS_INVALID_LENGTH;
			} else {
				status = rndis_set_oid(d, s.oid, body + s.info_buf_offset, s.info_buflen);
			}
		}
		rndis_put32(resp + 8, req_id);
		rndis_put32(resp + 12, status);
		return header(resp, RNDIS_MSG_SET_C, 16);
	}
	default:
		return bad(d, "unexpected", type);
	}
}

uint32_t rndis_build_indicate_status(void *buf_, uint32_t status)
{
	uint8_t *buf = buf_;
	struct rndis_indicate_status s = {status, 0, sizeof(struct rndis_indicate_status)};

	memcpy(buf + 8, &s, sizeof(s));
	return header(buf, RNDIS_MSG_INDICATE, 8 + sizeof(s));
}

/* ---- Receive filter and counters ---- */

static bool is_broadcast(const uint8_t *mac)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	return memcmp(mac, bcast, 6) == 0;
}

bool rndis_rx_accept(const struct rndis_device *d, const uint8_t *frame, uint32_t len)
{
	uint32_t f = d->packet_filter;

	if (len < 14 || f == 0)
		return false;
	if (f & NDIS_PACKET_TYPE_PROMISCUOUS)
		return true;
	if (is_broadcast(frame))
		return f & NDIS_PACKET_TYPE_BROADCAST;
	if (frame[0] & 1) {
		if (f & NDIS_PACKET_TYPE_ALL_MULTICAST)
			return true;
		if (!(f & NDIS_PACKET_TYPE_MULTICAST))
			return false;
		for (uint32_t i = 0; i < d->nmcast; i++)
			if (memcmp(d->mcast[i], frame, 6) == 0)
				return true;
		return false;
	}
	return (f & NDIS_PACKET_TYPE_DIRECTED) && memcmp(frame, d->current_mac, 6) == 0;
}

void rndis_count_rx(struct rndis_device *d, const uint8_t *frame, uint32_t len)
{
	struct rndis_stats *s = &d->stats;

	if (len >= 6 && is_broadcast(frame)) {
		s->rx_bcast_pkts++;
		s->rx_bcast_bytes += len;
	} else if (len >= 6 && (frame[0] & 1)) {
		s->rx_mcast_pkts++;
		s->rx_mcast_bytes += len;
	} else {
		s->rx_ucast_pkts++;
		s->rx_ucast_bytes += len;
	}
}

void rndis_count_tx(struct rndis_device *d, const uint8_t *dst, uint32_t len)
{
	struct rndis_stats *s = &d->stats;

	if (is_broadcast(dst)) {
		s->tx_bcast_pkts++;
		s->tx_bcast_bytes += len;
	} else if (dst[0] & 1) {
		s->tx_mcast_pkts++;
		s->tx_mcast_bytes += len;
	} else {
		s->tx_ucast_pkts++;
		s->tx_ucast_bytes += len;
	}
}
