/* Unit tests for the pure parts of netvsp: RNDIS control messages and every OID query and set
 * (with malformed lengths, offsets and overlaps), data-message and per-packet-info parsing,
 * the receive header, offload translation to and from the virtio-net header (IPv4/IPv6 TCP,
 * UDP, LSO, VLAN; checksums checked independently), and the Toeplitz hash against Microsoft's
 * "Verifying the RSS Hash Calculation" vectors. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "synthetic/netvsp_offload.h"
#include "synthetic/netvsp_packet.h"
#include "synthetic/netvsp_rss.h"
#include "synthetic/rndis.h"
#include "unit.h"

static const uint8_t MAC[6] = {0x00, 0x15, 0x5d, 0x01, 0x02, 0x03};
static const uint8_t MS_KEY[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wbe16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A plain RFC 1071 checksum, byte by byte, for checking the optimized one. */
static uint32_t ref_sum(const uint8_t *p, uint32_t len)
{
	uint32_t s = 0;

	for (uint32_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static struct rndis_offload all_caps(void)
{
	struct rndis_offload c = {.tx_ip4 = true, .tx_tcp4 = true, .tx_udp4 = true,
				  .tx_tcp6 = true, .tx_udp6 = true, .rx_ip4 = true,
				  .rx_tcp4 = true, .rx_udp4 = true, .rx_tcp6 = true,
				  .rx_udp6 = true, .lso4 = true, .lso6 = true};
	return c;
}

static struct rndis_offload tap_caps(void)
{
	struct rndis_offload c = all_caps();

	c.tx_ip4 = c.rx_ip4 = false;
	return c;
}

/* ---- RNDIS control messages ---- */

static uint8_t resp[RNDIS_RESPONSE_MAX];

static uint32_t ctl(struct rndis_device *d, const uint8_t *m, uint32_t len)
{
	memset(resp, 0xcc, sizeof(resp));
	return rndis_control(d, m, len, resp, sizeof(resp));
}

/* A QUERY for oid with an optional input buffer; returns the completion length. */
static uint32_t query(struct rndis_device *d, uint32_t oid, uint32_t req_id)
{
	uint8_t m[28];

	wr32(m, RNDIS_MSG_QUERY);
	wr32(m + 4, sizeof(m));
	wr32(m + 8, req_id);
	wr32(m + 12, oid);
	wr32(m + 16, 0);
	wr32(m + 20, 20);
	wr32(m + 24, 0);
	return ctl(d, m, sizeof(m));
}

static uint32_t q_status(void)
{
	return rd32(resp + 12);
}

static uint32_t q_len(void)
{
	return rd32(resp + 16);
}

static const uint8_t *q_data(void)
{
	return resp + 8 + rd32(resp + 20);
}

static uint32_t q_u32(struct rndis_device *d, uint32_t oid)
{
	CHECK(query(d, oid, 7) >= 28);
	CHECK_EQ(q_status(), RNDIS_STATUS_SUCCESS);
	return rd32(q_data());
}

/* A SET with info bytes at the usual offset 20; returns the status. */
static uint32_t set(struct rndis_device *d, uint32_t oid, const void *info, uint32_t len)
{
	uint8_t m[1024];

	wr32(m, RNDIS_MSG_SET);
	wr32(m + 4, 28 + len);
	wr32(m + 8, 99);
	wr32(m + 12, oid);
	wr32(m + 16, len);
	wr32(m + 20, 20);
	wr32(m + 24, 0);
	memcpy(m + 28, info, len);
	CHECK_EQ(ctl(d, m, 28 + len), 16);
	CHECK_EQ(rd32(resp), RNDIS_MSG_SET_C);
	CHECK_EQ(rd32(resp + 4), 16);
	CHECK_EQ(rd32(resp + 8), 99);
	return rd32(resp + 12);
}

static void init_device(struct rndis_device *d)
{
	struct rndis_offload caps = tap_caps();

	rndis_device_init(d, MAC, 1500, 4, &caps);
}

static void test_init_halt_keepalive_reset(void)
{
	struct rndis_device d;
	uint8_t m[24];

	init_device(&d);
	wr32(m, RNDIS_MSG_INIT);
	wr32(m + 4, 24);
	wr32(m + 8, 0x11);
	wr32(m + 12, 1);
	wr32(m + 16, 0);
	wr32(m + 20, 0x4000);
	CHECK_EQ(ctl(&d, m, 24), 8 + sizeof(struct rndis_initialize_complete));
	CHECK_EQ(rd32(resp), RNDIS_MSG_INIT_C);
	CHECK_EQ(rd32(resp + 4), 52);
	CHECK_EQ(rd32(resp + 8), 0x11);
	CHECK_EQ(rd32(resp + 12), RNDIS_STATUS_SUCCESS);
	CHECK_EQ(rd32(resp + 16), 1);  /* major */
	CHECK_EQ(rd32(resp + 20), 0);  /* minor */
	CHECK_EQ(rd32(resp + 24), RNDIS_DF_CONNECTIONLESS);
	CHECK_EQ(rd32(resp + 28), NDIS_MEDIUM_802_3);
	CHECK_EQ(rd32(resp + 32), RNDIS_MAX_PACKETS_PER_MSG);
	CHECK_EQ(rd32(resp + 40), 3);  /* alignment 8 */
	CHECK(d.initialized);

	/* INIT too short for its fields: completion with an error status. */
	wr32(m + 4, 16);
	CHECK_EQ(ctl(&d, m, 16), 52);
	CHECK_EQ(rd32(resp + 12), RNDIS_STATUS_INVALID_LENGTH);
	CHECK_EQ(d.stats.bad_control, 1);

	/* KEEPALIVE echoes the id. */
	wr32(m, RNDIS_MSG_KEEPALIVE);
	wr32(m + 4, 12);
	wr32(m + 8, 0xabc);
	CHECK_EQ(ctl(&d, m, 12), 16);
	CHECK_EQ(rd32(resp), RNDIS_MSG_KEEPALIVE_C);
	CHECK_EQ(rd32(resp + 8), 0xabc);
	CHECK_EQ(rd32(resp + 12), RNDIS_STATUS_SUCCESS);

	/* RESET has no id: status and addressing_reset. */
	wr32(m, RNDIS_MSG_RESET);
	wr32(m + 4, 12);
	CHECK_EQ(ctl(&d, m, 12), 16);
	CHECK_EQ(rd32(resp), RNDIS_MSG_RESET_C);
	CHECK_EQ(rd32(resp + 8), RNDIS_STATUS_SUCCESS);
	CHECK_EQ(rd32(resp + 12), 0);

	/* HALT: no completion, the device stops. */
	d.packet_filter = NDIS_PACKET_TYPE_DIRECTED;
	wr32(m, RNDIS_MSG_HALT);
	wr32(m + 4, 12);
	CHECK_EQ(ctl(&d, m, 12), 0);
	CHECK(!d.initialized);
	CHECK_EQ(d.packet_filter, 0);
	CHECK_EQ(d.stats.bad_control, 1);
}

static void test_malformed_control(void)
{
	struct rndis_device d;
	uint8_t m[64];
	uint64_t bad;

	init_device(&d);
	memset(m, 0, sizeof(m));
	/* Shorter than the header; msg_len beyond what we have; msg_len below 8. */
	wr32(m, RNDIS_MSG_QUERY);
	CHECK_EQ(ctl(&d, m, 7), 0);
	wr32(m + 4, 29);
	CHECK_EQ(ctl(&d, m, 28), 0);
	wr32(m + 4, 4);
	CHECK_EQ(ctl(&d, m, 28), 0);
	CHECK_EQ(d.stats.bad_control, 3);
	/* A request with no room for its id; host-only and unknown types. */
	wr32(m + 4, 8);
	CHECK_EQ(ctl(&d, m, 8), 0);
	wr32(m, RNDIS_MSG_INIT_C);
	wr32(m + 4, 12);
	CHECK_EQ(ctl(&d, m, 12), 0);
	wr32(m, RNDIS_MSG_INDICATE);
	CHECK_EQ(ctl(&d, m, 12), 0);
	wr32(m, 0x77);
	CHECK_EQ(ctl(&d, m, 12), 0);
	wr32(m, RNDIS_MSG_PACKET);
	CHECK_EQ(ctl(&d, m, 12), 0);
	CHECK_EQ(d.stats.bad_control, 8);

	/* QUERY whose body is cut short: answered with INVALID_LENGTH. */
	bad = d.stats.bad_control;
	wr32(m, RNDIS_MSG_QUERY);
	wr32(m + 4, 16);
	wr32(m + 8, 5);
	CHECK_EQ(ctl(&d, m, 16), 24);
	CHECK_EQ(rd32(resp), RNDIS_MSG_QUERY_C);
	CHECK_EQ(rd32(resp + 8), 5);
	CHECK_EQ(q_status(), RNDIS_STATUS_INVALID_LENGTH);
	CHECK_EQ(q_len(), 0);
	CHECK_EQ(d.stats.bad_control, bad + 1);

	/* QUERY information buffer: beyond the message, overlapping the request fields. */
	wr32(m + 4, 40);
	wr32(m + 12, OID_GEN_MAXIMUM_FRAME_SIZE);
	wr32(m + 16, 16);  /* info_buflen */
	wr32(m + 20, 20);  /* offset: bytes 28..44 of a 40-byte message */
	CHECK_EQ(ctl(&d, m, 40), 24);
	CHECK_EQ(q_status(), RNDIS_STATUS_INVALID_LENGTH);
	wr32(m + 16, 4);
	wr32(m + 20, 8);   /* overlaps oid and info fields */
	CHECK_EQ(ctl(&d, m, 40), 24);
	CHECK_EQ(q_status(), RNDIS_STATUS_INVALID_LENGTH);
	wr32(m + 20, 0xfffffff0u); /* offset + len wraps */
	CHECK_EQ(ctl(&d, m, 40), 24);
	CHECK_EQ(q_status(), RNDIS_STATUS_INVALID_LENGTH);
	wr32(m + 20, 20);
	CHECK_EQ(ctl(&d, m, 40), 28); /* a valid input buffer: answered */
	CHECK_EQ(q_status(), RNDIS_STATUS_SUCCESS);
	CHECK_EQ(rd32(q_data()), 1500);

	/* SET with the same faults. */
	wr32(m, RNDIS_MSG_SET);
	wr32(m + 4, 32);
	wr32(m + 12, OID_GEN_CURRENT_PACKET_FILTER);
	wr32(m + 16, 8);
	wr32(m + 20, 20);
	CHECK_EQ(ctl(&d, m, 32), 16);
	CHECK_EQ(rd32(resp + 12), RNDIS_STATUS_INVALID_LENGTH);
	wr32(m + 16, 4);
	wr32(m + 20, 4);
	CHECK_EQ(ctl(&d, m, 32), 16);
	CHECK_EQ(rd32(resp + 12), RNDIS_STATUS_INVALID_LENGTH);
	wr32(m + 4, 20);
	CHECK_EQ(ctl(&d, m, 20), 16);
	CHECK_EQ(rd32(resp + 12), RNDIS_STATUS_INVALID_LENGTH);
	CHECK_EQ(d.packet_filter, 0);
}

static void test_queries(void)
{
	struct rndis_device d;
	uint32_t len;

	init_device(&d);
	CHECK_EQ(q_u32(&d, OID_GEN_MAXIMUM_FRAME_SIZE), 1500);
	CHECK_EQ(q_u32(&d, OID_GEN_MAXIMUM_LOOKAHEAD), 1500);
	CHECK_EQ(q_u32(&d, OID_GEN_CURRENT_LOOKAHEAD), 1500);
	CHECK_EQ(q_u32(&d, OID_GEN_MAXIMUM_TOTAL_SIZE), 1514);
	CHECK_EQ(q_u32(&d, OID_GEN_TRANSMIT_BLOCK_SIZE), 1514);
	CHECK_EQ(q_u32(&d, OID_GEN_RECEIVE_BLOCK_SIZE), 1514);
	CHECK_EQ(q_u32(&d, OID_GEN_LINK_SPEED), 100000000u); /* 10 Gbit/s in 100 bit/s */
	CHECK_EQ(q_u32(&d, OID_GEN_HARDWARE_STATUS), 0);
	CHECK_EQ(q_u32(&d, OID_GEN_MEDIA_SUPPORTED), NDIS_MEDIUM_802_3);
	CHECK_EQ(q_u32(&d, OID_GEN_MEDIA_IN_USE), NDIS_MEDIUM_802_3);
	CHECK_EQ(q_u32(&d, OID_GEN_VENDOR_ID), 0x155d);
	CHECK_EQ(q_u32(&d, OID_GEN_TRANSMIT_BUFFER_SPACE), 256 * 1024);
	CHECK_EQ(q_u32(&d, OID_GEN_RECEIVE_BUFFER_SPACE), 256 * 1024);
	CHECK_EQ(q_u32(&d, OID_GEN_MAXIMUM_SEND_PACKETS), RNDIS_MAX_PACKETS_PER_MSG);
	CHECK_EQ(q_u32(&d, OID_802_3_MAXIMUM_LIST_SIZE), RNDIS_MAX_MULTICAST);
	CHECK_EQ(q_u32(&d, OID_802_3_RCV_ERROR_ALIGNMENT), 0);
	CHECK_EQ(q_u32(&d, OID_802_3_XMIT_ONE_COLLISION), 0);
	CHECK_EQ(q_u32(&d, OID_802_3_XMIT_MORE_COLLISIONS), 0);
	CHECK(q_u32(&d, OID_GEN_MAC_OPTIONS) & NDIS_MAC_OPTION_8021Q_VLAN);
	CHECK_EQ(q_u32(&d, OID_GEN_CURRENT_PACKET_FILTER), 0);
	CHECK_EQ(q_u32(&d, OID_GEN_MEDIA_CONNECT_STATUS), NDIS_MEDIA_STATE_CONNECTED);
	d.link_up = false;
	CHECK_EQ(q_u32(&d, OID_GEN_MEDIA_CONNECT_STATUS), NDIS_MEDIA_STATE_DISCONNECTED);
	d.link_up = true;

	/* The completion layout: header, id, status, length, offset 16. */
	len = query(&d, OID_802_3_PERMANENT_ADDRESS, 0x42);
	CHECK_EQ(len, 24 + 6);
	CHECK_EQ(rd32(resp), RNDIS_MSG_QUERY_C);
	CHECK_EQ(rd32(resp + 4), len);
	CHECK_EQ(rd32(resp + 8), 0x42);
	CHECK_EQ(q_status(), RNDIS_STATUS_SUCCESS);
	CHECK_EQ(q_len(), 6);
	CHECK_EQ(rd32(resp + 20), 16);
	CHECK(memcmp(q_data(), MAC, 6) == 0);
	CHECK_EQ(query(&d, OID_802_3_CURRENT_ADDRESS, 1), 30);
	CHECK(memcmp(q_data(), MAC, 6) == 0);

	/* Vendor strings and versions. */
	CHECK(query(&d, OID_GEN_VENDOR_DESCRIPTION, 1) > 24);
	CHECK_EQ(q_data()[q_len() - 1], 0);
	CHECK_EQ(query(&d, OID_GEN_DRIVER_VERSION, 1), 26);
	CHECK_EQ(query(&d, OID_GEN_VENDOR_DRIVER_VERSION, 1), 26);
	/* Friendly name: UTF-16 with its terminator ("Network Adapter", which Linux ignores). */
	CHECK_EQ(query(&d, OID_GEN_FRIENDLY_NAME, 1), 24 + 32);
	CHECK_EQ(q_data()[0], 'N');
	CHECK_EQ(q_data()[1], 0);
	CHECK_EQ(q_data()[30], 0);
	CHECK_EQ(q_data()[31], 0);

	/* The supported list depends on the NDIS version. */
	CHECK_EQ(query(&d, OID_GEN_SUPPORTED_LIST, 1), 24 + 4 * (36 + 9 + 2));
	{
		bool rss = false;

		for (uint32_t i = 0; i < q_len() / 4; i++)
			rss |= rd32(q_data() + 4 * i) == OID_GEN_RECEIVE_SCALE_CAPABILITIES;
		CHECK(rss);
	}
	d.ndis_minor = 1;
	CHECK_EQ(query(&d, OID_GEN_SUPPORTED_LIST, 1), 24 + 4 * (36 + 9));
	CHECK_EQ(query(&d, OID_GEN_RECEIVE_SCALE_CAPABILITIES, 1), 24); /* not below 6.30 */
	CHECK_EQ(q_status(), RNDIS_STATUS_NOT_SUPPORTED);
	d.ndis_major = 5;
	CHECK_EQ(query(&d, OID_GEN_SUPPORTED_LIST, 1), 24 + 4 * 36);
	d.ndis_major = 6;
	d.ndis_minor = 30;

	/* Counters: real values, u64 unless the guest offered 4 bytes. */
	d.stats.tx_ucast_pkts = 3;
	d.stats.tx_bcast_pkts = 2;
	d.stats.rx_mcast_pkts = 5;
	d.stats.rx_ucast_bytes = 1000;
	d.stats.rx_bcast_bytes = 24;
	d.stats.tx_errors = 9;
	d.stats.rx_errors = 4;
	d.stats.rx_no_buffer = 6;
	CHECK_EQ(query(&d, OID_GEN_XMIT_OK, 1), 32);
	{
		uint64_t v;

		memcpy(&v, q_data(), 8);
		CHECK_EQ(v, 5);
		CHECK_EQ(query(&d, OID_GEN_RCV_OK, 1), 32);
		memcpy(&v, q_data(), 8);
		CHECK_EQ(v, 5);
		CHECK_EQ(query(&d, OID_GEN_XMIT_ERROR, 1), 32);
		memcpy(&v, q_data(), 8);
		CHECK_EQ(v, 9);
		CHECK_EQ(query(&d, OID_GEN_RCV_ERROR, 1), 32);
		memcpy(&v, q_data(), 8);
		CHECK_EQ(v, 4);
		CHECK_EQ(query(&d, OID_GEN_RCV_NO_BUFFER, 1), 32);
		memcpy(&v, q_data(), 8);
		CHECK_EQ(v, 6);
		CHECK_EQ(query(&d, OID_GEN_BYTES_RCV, 1), 32);
		memcpy(&v, q_data(), 8);
		CHECK_EQ(v, 1024);
		CHECK_EQ(query(&d, OID_GEN_BYTES_XMIT, 1), 32);
	}
	{
		/* A 4-byte input buffer: a u32 answer. */
		uint8_t m[32];

		wr32(m, RNDIS_MSG_QUERY);
		wr32(m + 4, 32);
		wr32(m + 8, 1);
		wr32(m + 12, OID_GEN_XMIT_OK);
		wr32(m + 16, 4);
		wr32(m + 20, 20);
		wr32(m + 24, 0);
		wr32(m + 28, 0);
		CHECK_EQ(ctl(&d, m, 32), 28);
		CHECK_EQ(rd32(q_data()), 5);
	}
	CHECK_EQ(query(&d, OID_GEN_STATISTICS, 1), 24 + sizeof(struct ndis_statistics_info));
	{
		struct ndis_statistics_info st;

		memcpy(&st, q_data(), sizeof(st));
		CHECK_EQ(st.header.type, NDIS_OBJECT_TYPE_DEFAULT);
		CHECK_EQ(st.header.size, 152);
		CHECK(st.supported_statistics & NDIS_STATISTICS_FLAGS_VALID_BYTES_RCV);
		CHECK_EQ(st.if_hc_in_multicast_pkts, 5);
		CHECK_EQ(st.if_hc_in_octets, 1024);
		CHECK_EQ(st.if_hc_out_ucast_pkts, 3);
		CHECK_EQ(st.if_hc_out_broadcast_pkts, 2);
		CHECK_EQ(st.if_out_errors, 9);
		CHECK_EQ(st.if_in_discards, 6);
	}

	/* NDIS 6 objects. */
	CHECK_EQ(query(&d, OID_GEN_LINK_STATE, 1), 24 + sizeof(struct ndis_link_state));
	{
		struct ndis_link_state ls;

		memcpy(&ls, q_data(), sizeof(ls));
		CHECK_EQ(ls.media_connect_state, NDIS_MEDIA_CONNECT_STATE_CONNECTED);
		CHECK_EQ(ls.xmit_link_speed, 10000000000ull);
	}
	CHECK_EQ(query(&d, OID_GEN_MAX_LINK_SPEED, 1), 24 + 16);
	CHECK_EQ(query(&d, OID_OFFLOAD_ENCAPSULATION, 1), 24 + 28);
	CHECK_EQ(q_data()[0], NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION);

	/* Hardware offload capabilities: what the tap does (no IPv4 header checksum), sized by
	 * the NDIS version; Linux's acceptance checks. */
	CHECK_EQ(query(&d, OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, 1), 24 + 156);
	{
		struct ndis_offload o;

		memcpy(&o, q_data(), sizeof(o));
		CHECK_EQ(o.header.type, NDIS_OBJECT_TYPE_OFFLOAD);
		CHECK_EQ(o.header.revision, 3);
		CHECK_EQ(o.header.size, 156);
		CHECK_EQ(o.csum.ip4_txcsum & (NDIS_TXCSUM_CAP_TCP4 | NDIS_TXCSUM_CAP_TCP4OPT),
			 NDIS_TXCSUM_CAP_TCP4 | NDIS_TXCSUM_CAP_TCP4OPT);
		CHECK(o.csum.ip4_txcsum & NDIS_TXCSUM_CAP_UDP4);
		CHECK(!(o.csum.ip4_txcsum & NDIS_TXCSUM_CAP_IP4));
		CHECK_EQ(o.csum.ip6_txcsum & (NDIS_TXCSUM_CAP_TCP6 | NDIS_TXCSUM_CAP_TCP6OPT |
					      NDIS_TXCSUM_CAP_IP6EXT),
			 NDIS_TXCSUM_CAP_TCP6 | NDIS_TXCSUM_CAP_TCP6OPT | NDIS_TXCSUM_CAP_IP6EXT);
		CHECK(o.csum.ip6_txcsum & NDIS_TXCSUM_CAP_UDP6);
		CHECK(o.lsov2.ip4_encap & NDIS_OFFLOAD_ENCAP_8023);
		CHECK_EQ(o.lsov2.ip4_maxsz, RNDIS_LSO_MAX_SIZE);
		CHECK_EQ(o.lsov2.ip4_minsg, 2);
		CHECK_EQ(o.lsov2.ip6_opts & (NDIS_LSOV2_CAP_IP6EXT | NDIS_LSOV2_CAP_TCP6OPT),
			 NDIS_LSOV2_CAP_IP6EXT | NDIS_LSOV2_CAP_TCP6OPT);
		CHECK_EQ(o.rsc.ip4, 0);
		CHECK_EQ(o.lsov1.encap, 0);
	}
	d.ndis_minor = 1;
	CHECK_EQ(query(&d, OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, 1), 24 + 144);
	CHECK_EQ(q_data()[1], 2);
	d.ndis_minor = 0;
	CHECK_EQ(query(&d, OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, 1), 24 + 112);
	CHECK_EQ(q_data()[1], 1);
	d.ndis_minor = 30;

	/* RSS capabilities: queues = channels offered, 128 table entries. */
	CHECK_EQ(query(&d, OID_GEN_RECEIVE_SCALE_CAPABILITIES, 1), 24 + 18);
	{
		struct ndis_recv_scale_cap c;

		memcpy(&c, q_data(), sizeof(c));
		CHECK_EQ(c.hdr.type, NDIS_OBJECT_TYPE_RSS_CAPABILITIES);
		CHECK_EQ(c.hdr.revision, 2);
		CHECK_EQ(c.hdr.size, 18);
		CHECK_EQ(c.num_recv_que, 4);
		CHECK_EQ(c.num_indirect_tabent, 128);
		CHECK(c.cap_flag & NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV4);
	}
	/* RSS parameters when off. */
	CHECK_EQ(query(&d, OID_GEN_RECEIVE_SCALE_PARAMETERS, 1), 24 + 40);
	CHECK(rd32(q_data() + 4) & NDIS_RSS_PARAM_FLAG_DISABLE_RSS);

	/* Unknown OIDs. */
	CHECK_EQ(query(&d, 0x01234567, 3), 24);
	CHECK_EQ(q_status(), RNDIS_STATUS_NOT_SUPPORTED);
	CHECK_EQ(q_len(), 0);
	CHECK_EQ(query(&d, 0x00010202 /* OID_GEN_PHYSICAL_MEDIUM */, 3), 24);
	CHECK_EQ(q_status(), RNDIS_STATUS_NOT_SUPPORTED);
	CHECK_EQ(d.stats.unknown_oids, 3);
	CHECK_EQ(d.stats.bad_control, 0);
}

static void test_sets(void)
{
	struct rndis_device d;
	uint8_t buf[256];
	uint32_t v;

	init_device(&d);
	/* Packet filter. */
	v = NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_BROADCAST | NDIS_PACKET_TYPE_ALL_MULTICAST;
	CHECK_EQ(set(&d, OID_GEN_CURRENT_PACKET_FILTER, &v, 4), RNDIS_STATUS_SUCCESS);
	CHECK_EQ(d.packet_filter, v);
	CHECK_EQ(q_u32(&d, OID_GEN_CURRENT_PACKET_FILTER), v);
	CHECK_EQ(set(&d, OID_GEN_CURRENT_PACKET_FILTER, &v, 2), RNDIS_STATUS_INVALID_LENGTH);

	/* Multicast list: whole addresses, at most 32. */
	memset(buf, 0, sizeof(buf));
	for (int i = 0; i < 3; i++) {
		buf[6 * i] = 0x01;
		buf[6 * i + 5] = (uint8_t)i;
	}
	CHECK_EQ(set(&d, OID_802_3_MULTICAST_LIST, buf, 18), RNDIS_STATUS_SUCCESS);
	CHECK_EQ(d.nmcast, 3);
	CHECK_EQ(query(&d, OID_802_3_MULTICAST_LIST, 1), 24 + 18);
	CHECK_EQ(set(&d, OID_802_3_MULTICAST_LIST, buf, 17), RNDIS_STATUS_INVALID_LENGTH);
	{
		uint8_t many[6 * 33];

		memset(many, 1, sizeof(many));
		CHECK_EQ(set(&d, OID_802_3_MULTICAST_LIST, many, sizeof(many)),
			 RNDIS_STATUS_MULTICAST_FULL);
	}
	CHECK_EQ(d.nmcast, 3);
	CHECK_EQ(set(&d, OID_802_3_MULTICAST_LIST, buf, 0), RNDIS_STATUS_SUCCESS);
	CHECK_EQ(d.nmcast, 0);

	/* Offload parameters as Linux sends them (22 bytes on NVSP <= 4, revision 3). */
	{
		struct ndis_offload_params p;

		memset(&p, 0, sizeof(p));
		p.header.type = NDIS_OBJECT_TYPE_DEFAULT;
		p.header.revision = 3;
		p.header.size = 22;
		p.ip_v4_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED;
		p.tcp_ip_v4_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
		p.tcp_ip_v6_csum = NDIS_OFFLOAD_PARAMETERS_RX_ENABLED_TX_DISABLED;
		p.udp_ip_v4_csum = NDIS_OFFLOAD_PARAMETERS_TX_ENABLED_RX_DISABLED;
		p.lso_v2_ipv4 = NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED;
		p.lso_v2_ipv6 = NDIS_OFFLOAD_PARAMETERS_LSOV2_DISABLED;
		CHECK_EQ(set(&d, OID_TCP_OFFLOAD_PARAMETERS, &p, 22), RNDIS_STATUS_SUCCESS);
		CHECK(d.offload.tx_tcp4 && d.offload.rx_tcp4);
		CHECK(!d.offload.tx_tcp6 && d.offload.rx_tcp6);
		CHECK(d.offload.tx_udp4 && !d.offload.rx_udp4);
		CHECK(d.offload.lso4 && !d.offload.lso6);
		CHECK(d.offload.tx_udp6 && d.offload.rx_udp6); /* no change */
		/* IPv4 header checksum on: the tap cannot, so it stays off (masked, not refused). */
		p.ip_v4_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
		CHECK_EQ(set(&d, OID_TCP_OFFLOAD_PARAMETERS, &p, 22), RNDIS_STATUS_SUCCESS);
		CHECK(!d.offload.tx_ip4 && !d.offload.rx_ip4);
		/* The current configuration reflects it. */
		CHECK_EQ(query(&d, OID_TCP_OFFLOAD_CURRENT_CONFIG, 1), 24 + 156);
		{
			struct ndis_offload o;

			memcpy(&o, q_data(), sizeof(o));
			CHECK(!(o.csum.ip6_txcsum & NDIS_TXCSUM_CAP_TCP6));
			CHECK(o.csum.ip6_rxcsum & NDIS_TXCSUM_CAP_TCP6);
			CHECK_EQ(o.lsov2.ip6_encap, 0);
			CHECK(o.lsov2.ip4_encap);
		}
		/* Bad values, LSOv1, wrong object, too short, size beyond the buffer. */
		p.udp_ip_v6_csum = 5;
		CHECK_EQ(set(&d, OID_TCP_OFFLOAD_PARAMETERS, &p, 22), RNDIS_STATUS_INVALID_DATA);
		p.udp_ip_v6_csum = 0;
		p.lso_v2_ipv6 = 3;
		CHECK_EQ(set(&d, OID_TCP_OFFLOAD_PARAMETERS, &p, 22), RNDIS_STATUS_INVALID_DATA);
		p.lso_v2_ipv6 = 0;
		p.lso_v1 = NDIS_OFFLOAD_PARAMETERS_LSOV1_ENABLED;
		CHECK_EQ(set(&d, OID_TCP_OFFLOAD_PARAMETERS, &p, 22), RNDIS_STATUS_NOT_SUPPORTED);
		p.lso_v1 = 0;
		p.header.type = 0x12;
		CHECK_EQ(set(&d, OID_TCP_OFFLOAD_PARAMETERS, &p, 22), RNDIS_STATUS_INVALID_DATA);
		p.header.type = NDIS_OBJECT_TYPE_DEFAULT;
		CHECK_EQ(set(&d, OID_TCP_OFFLOAD_PARAMETERS, &p, 19), RNDIS_STATUS_INVALID_LENGTH);
		p.header.size = 28;
		CHECK_EQ(set(&d, OID_TCP_OFFLOAD_PARAMETERS, &p, 22), RNDIS_STATUS_INVALID_DATA);
		CHECK(d.offload.lso4); /* nothing changed by the refused sets */
	}

	/* Encapsulation: 802.3 with a 14-byte header only. */
	{
		struct ndis_offload_encapsulation e;

		memset(&e, 0, sizeof(e));
		e.header.type = NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION;
		e.header.revision = 1;
		e.header.size = 28;
		e.ipv4_enabled = NDIS_OFFLOAD_SET_ON;
		e.ipv4_encapsulation_type = NDIS_OFFLOAD_ENCAP_8023;
		e.ipv4_header_size = 14;
		CHECK_EQ(set(&d, OID_OFFLOAD_ENCAPSULATION, &e, 28), RNDIS_STATUS_SUCCESS);
		e.ipv4_header_size = 18;
		CHECK_EQ(set(&d, OID_OFFLOAD_ENCAPSULATION, &e, 28), RNDIS_STATUS_NOT_SUPPORTED);
		CHECK_EQ(set(&d, OID_OFFLOAD_ENCAPSULATION, &e, 20), RNDIS_STATUS_INVALID_LENGTH);
	}

	/* Config parameter: layout checked; "NetworkAddress" changes the current address. */
	{
		static const char name[] = "NetworkAddress", mac[] = "02AABBCCDDEE";
		struct rndis_config_parameter_info *cpi = (void *)buf;
		uint32_t len = 20 + 28 + 24;

		memset(buf, 0, sizeof(buf));
		cpi->parameter_name_offset = 20;
		cpi->parameter_name_length = 28;
		cpi->parameter_type = RNDIS_CONFIG_PARAM_TYPE_STRING;
		cpi->parameter_value_offset = 48;
		cpi->parameter_value_length = 24;
		for (int i = 0; i < 14; i++)
			buf[20 + 2 * i] = (uint8_t)name[i];
		for (int i = 0; i < 12; i++)
			buf[48 + 2 * i] = (uint8_t)mac[i];
		CHECK_EQ(set(&d, OID_GEN_RNDIS_CONFIG_PARAMETER, buf, len), RNDIS_STATUS_SUCCESS);
		CHECK_EQ(d.current_mac[0], 0x02);
		CHECK_EQ(d.current_mac[5], 0xee);
		CHECK_EQ(query(&d, OID_802_3_CURRENT_ADDRESS, 1), 30);
		CHECK_EQ(q_data()[1], 0xaa);
		CHECK_EQ(query(&d, OID_802_3_PERMANENT_ADDRESS, 1), 30);
		CHECK_EQ(q_data()[1], 0x15);
		/* A group address, a bad digit, value beyond the buffer, odd name length. */
		buf[48] = '0';
		buf[50] = '1';
		CHECK_EQ(set(&d, OID_GEN_RNDIS_CONFIG_PARAMETER, buf, len), RNDIS_STATUS_INVALID_DATA);
		buf[50] = 'x';
		CHECK_EQ(set(&d, OID_GEN_RNDIS_CONFIG_PARAMETER, buf, len), RNDIS_STATUS_INVALID_DATA);
		buf[50] = '2';
		cpi->parameter_value_offset = 60;
		CHECK_EQ(set(&d, OID_GEN_RNDIS_CONFIG_PARAMETER, buf, len), RNDIS_STATUS_INVALID_DATA);
		cpi->parameter_value_offset = 48;
		cpi->parameter_name_length = 27;
		CHECK_EQ(set(&d, OID_GEN_RNDIS_CONFIG_PARAMETER, buf, len), RNDIS_STATUS_INVALID_DATA);
		CHECK_EQ(set(&d, OID_GEN_RNDIS_CONFIG_PARAMETER, buf, 12), RNDIS_STATUS_INVALID_LENGTH);
		/* Another parameter: accepted, nothing changes. */
		cpi->parameter_name_length = 8;
		CHECK_EQ(set(&d, OID_GEN_RNDIS_CONFIG_PARAMETER, buf, len), RNDIS_STATUS_SUCCESS);
		CHECK_EQ(d.current_mac[0], 0x02);
	}
	CHECK_EQ(set(&d, OID_GEN_NETWORK_LAYER_ADDRESSES, buf, 8), RNDIS_STATUS_SUCCESS);

	/* Unknown and query-only OIDs. */
	CHECK_EQ(set(&d, 0x0fff0001, buf, 4), RNDIS_STATUS_NOT_SUPPORTED);
	CHECK_EQ(set(&d, OID_GEN_MAXIMUM_FRAME_SIZE, buf, 4), RNDIS_STATUS_NOT_SUPPORTED);
	CHECK_EQ(d.stats.unknown_oids, 2);

	/* Reset: the guest state goes, the configuration stays. */
	rndis_device_reset(&d);
	CHECK_EQ(d.packet_filter, 0);
	CHECK(memcmp(d.current_mac, MAC, 6) == 0);
	CHECK(d.offload.lso6);
	CHECK_EQ(d.mtu, 1500);
}

/* An RSS parameter object with n entries (table at 40, key after it). */
static uint32_t rss_object(uint8_t *buf, uint16_t flags, uint32_t hashinfo, uint32_t n,
			   uint32_t entry_mod)
{
	struct ndis_recv_scale_param p;

	memset(&p, 0, sizeof(p));
	p.hdr.type = NDIS_OBJECT_TYPE_RSS_PARAMETERS;
	p.hdr.revision = 2;
	p.hdr.size = sizeof(p);
	p.flag = flags;
	p.hashinfo = hashinfo;
	p.indirect_tabsize = (uint16_t)(4 * n);
	p.indirect_taboffset = 40;
	p.hashkey_size = 40;
	p.hashkey_offset = 40 + 4 * n;
	memcpy(buf, &p, sizeof(p));
	for (uint32_t i = 0; i < n; i++)
		wr32(buf + 40 + 4 * i, i % entry_mod);
	memcpy(buf + 40 + 4 * n, MS_KEY, 40);
	return 80 + 4 * n;
}

static void test_rss_set(void)
{
	struct rndis_device d;
	uint8_t buf[800];
	uint32_t len, all = NDIS_HASH_FUNC_TOEPLITZ | NDIS_HASH_IPV4 | NDIS_HASH_TCP_IPV4 |
			    NDIS_HASH_IPV6 | NDIS_HASH_TCP_IPV6;

	init_device(&d);
	/* Linux: first disable, then the real table. */
	len = rss_object(buf, NDIS_RSS_PARAM_FLAG_DISABLE_RSS, all, 128, 4);
	CHECK_EQ(set(&d, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len), RNDIS_STATUS_SUCCESS);
	CHECK(!d.rss.enabled);
	len = rss_object(buf, 0, all | NDIS_HASH_UDP_IPV4, 128, 4);
	CHECK_EQ(set(&d, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len), RNDIS_STATUS_SUCCESS);
	CHECK(d.rss.enabled);
	CHECK_EQ(d.rss.table_len, 128);
	CHECK_EQ(d.rss.table[5], 1);
	CHECK_EQ(d.rss.hash_info, all); /* UDP hashing is not done: left out */
	CHECK(memcmp(d.rss.key, MS_KEY, 40) == 0);
	CHECK_EQ(query(&d, OID_GEN_RECEIVE_SCALE_PARAMETERS, 1), 24 + 40 + 512 + 40);
	CHECK_EQ(rd32(q_data() + 8), all);

	/* Refused: a channel beyond the queues, key size, table size, offsets, function. */
	len = rss_object(buf, 0, all, 16, 5);
	CHECK_EQ(set(&d, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len), RNDIS_STATUS_INVALID_DATA);
	len = rss_object(buf, 0, all, 16, 2);
	buf[20] = 16; /* hashkey_size */
	CHECK_EQ(set(&d, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len), RNDIS_STATUS_INVALID_DATA);
	len = rss_object(buf, 0, all, 16, 2);
	wbe16(buf + 12, 0); /* tabsize 0x0000 (little-endian field) */
	CHECK_EQ(set(&d, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len), RNDIS_STATUS_INVALID_DATA);
	len = rss_object(buf, 0, all, 16, 2);
	buf[12] = 63; /* not a multiple of 4 */
	CHECK_EQ(set(&d, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len), RNDIS_STATUS_INVALID_DATA);
	len = rss_object(buf, 0, all, 16, 2);
	wr32(buf + 24, len - 20); /* key runs past the buffer */
	CHECK_EQ(set(&d, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len), RNDIS_STATUS_INVALID_LENGTH);
	len = rss_object(buf, 0, all, 16, 2);
	wr32(buf + 16, 0xfffffffcu); /* table offset wraps */
	CHECK_EQ(set(&d, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len), RNDIS_STATUS_INVALID_LENGTH);
	len = rss_object(buf, 0, (all & ~NDIS_HASH_FUNCTION_MASK) | 2, 16, 2);
	CHECK_EQ(set(&d, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len), RNDIS_STATUS_INVALID_DATA);
	len = rss_object(buf, 0, all, 16, 2);
	buf[0] = NDIS_OBJECT_TYPE_DEFAULT;
	CHECK_EQ(set(&d, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len), RNDIS_STATUS_INVALID_DATA);
	CHECK_EQ(set(&d, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, 20), RNDIS_STATUS_INVALID_LENGTH);
	CHECK_EQ(d.rss.table_len, 128); /* untouched by the refusals */

	/* Unchanged table and key: only the hash types move. */
	len = rss_object(buf, NDIS_RSS_PARAM_FLAG_ITABLE_UNCHANGED |
				      NDIS_RSS_PARAM_FLAG_HASH_KEY_UNCHANGED,
			 NDIS_HASH_FUNC_TOEPLITZ | NDIS_HASH_IPV4, 0, 1);
	CHECK_EQ(set(&d, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len), RNDIS_STATUS_SUCCESS);
	CHECK_EQ(d.rss.table_len, 128);
	CHECK_EQ(d.rss.hash_info, NDIS_HASH_FUNC_TOEPLITZ | NDIS_HASH_IPV4);
	/* A short table. */
	len = rss_object(buf, 0, all, 8, 4);
	CHECK_EQ(set(&d, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len), RNDIS_STATUS_SUCCESS);
	CHECK_EQ(d.rss.table_len, 8);
	/* Hash function 0 disables. */
	len = rss_object(buf, 0, NDIS_HASH_IPV4, 8, 4);
	CHECK_EQ(set(&d, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len), RNDIS_STATUS_SUCCESS);
	CHECK(!d.rss.enabled);
	/* "Unchanged" with nothing to keep. */
	len = rss_object(buf, NDIS_RSS_PARAM_FLAG_HASH_KEY_UNCHANGED, all, 8, 4);
	CHECK_EQ(set(&d, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len), RNDIS_STATUS_INVALID_DATA);
	/* Below NDIS 6.30 the OID does not exist. */
	d.ndis_minor = 1;
	len = rss_object(buf, 0, all, 8, 4);
	CHECK_EQ(set(&d, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf, len), RNDIS_STATUS_NOT_SUPPORTED);
}

static void test_rx_filter_and_counters(void)
{
	struct rndis_device d;
	uint8_t f[60];

	init_device(&d);
	memset(f, 0, sizeof(f));
	memcpy(f, MAC, 6);
	CHECK(!rndis_rx_accept(&d, f, sizeof(f))); /* filter 0: nothing */
	d.packet_filter = NDIS_PACKET_TYPE_DIRECTED;
	CHECK(rndis_rx_accept(&d, f, sizeof(f)));
	CHECK(!rndis_rx_accept(&d, f, 13));
	f[5] ^= 1;
	CHECK(!rndis_rx_accept(&d, f, sizeof(f)));
	memset(f, 0xff, 6);
	CHECK(!rndis_rx_accept(&d, f, sizeof(f)));
	d.packet_filter |= NDIS_PACKET_TYPE_BROADCAST;
	CHECK(rndis_rx_accept(&d, f, sizeof(f)));
	f[0] = 0x01;
	f[5] = 0x33;
	CHECK(!rndis_rx_accept(&d, f, sizeof(f)));
	d.packet_filter |= NDIS_PACKET_TYPE_MULTICAST;
	memcpy(d.mcast[0], f, 6);
	d.nmcast = 1;
	CHECK(rndis_rx_accept(&d, f, sizeof(f)));
	f[5] = 0x34;
	CHECK(!rndis_rx_accept(&d, f, sizeof(f)));
	d.packet_filter |= NDIS_PACKET_TYPE_ALL_MULTICAST;
	CHECK(rndis_rx_accept(&d, f, sizeof(f)));
	f[0] = 0x02;
	CHECK(!rndis_rx_accept(&d, f, sizeof(f)));
	d.packet_filter = NDIS_PACKET_TYPE_PROMISCUOUS;
	CHECK(rndis_rx_accept(&d, f, sizeof(f)));

	rndis_count_rx(&d, f, 60);
	memset(f, 0xff, 6);
	rndis_count_rx(&d, f, 64);
	f[0] = 0x01;
	rndis_count_tx(&d, f, 70);
	CHECK_EQ(d.stats.rx_ucast_pkts, 1);
	CHECK_EQ(d.stats.rx_ucast_bytes, 60);
	CHECK_EQ(d.stats.rx_bcast_pkts, 1);
	CHECK_EQ(d.stats.tx_mcast_pkts, 1);
	CHECK_EQ(d.stats.tx_mcast_bytes, 70);

	{
		uint8_t m[32];

		CHECK_EQ(rndis_build_indicate_status(m, RNDIS_STATUS_MEDIA_DISCONNECT), 20);
		CHECK_EQ(rd32(m), RNDIS_MSG_INDICATE);
		CHECK_EQ(rd32(m + 4), 20);
		CHECK_EQ(rd32(m + 8), RNDIS_STATUS_MEDIA_DISCONNECT);
		CHECK_EQ(rd32(m + 12), 0);
	}
}

/* ---- Frames ---- */

/* Ethernet + IPv4 (ihl words) + TCP (doff words) or UDP + payload; returns the length. */
static uint32_t make_ipv4(uint8_t *f, uint8_t proto, uint32_t ihl, uint32_t doff,
			  uint32_t payload, bool vlan)
{
	uint32_t off = 14, l4hdr = proto == IPPROTO_TCP ? doff * 4 : 8;
	uint32_t tot;

	memset(f, 0, 2048);
	memcpy(f, MAC, 6);
	f[6] = 0x02;
	if (vlan) {
		wbe16(f + 12, 0x8100);
		wbe16(f + 14, 0x0005);
		off = 18;
	}
	wbe16(f + off - 2, 0x0800);
	tot = ihl * 4 + l4hdr + payload;
	f[off] = (uint8_t)(0x40 | ihl);
	wbe16(f + off + 2, (uint16_t)tot);
	wbe16(f + off + 4, 0x1234);
	f[off + 8] = 64;
	f[off + 9] = proto;
	f[off + 12] = 66;
	f[off + 13] = 9;
	f[off + 14] = 149;
	f[off + 15] = 187;
	f[off + 16] = 161;
	f[off + 17] = 142;
	f[off + 18] = 100;
	f[off + 19] = 80;
	for (uint32_t i = 20; i < ihl * 4; i++)
		f[off + i] = 1; /* NOP options */
	{
		uint8_t *l4 = f + off + ihl * 4;

		wbe16(l4, 2794);
		wbe16(l4 + 2, 1766);
		if (proto == IPPROTO_TCP) {
			l4[12] = (uint8_t)(doff << 4);
			l4[13] = 0x18;
		} else {
			wbe16(l4 + 4, (uint16_t)(8 + payload));
		}
		for (uint32_t i = 0; i < payload; i++)
			l4[l4hdr + i] = (uint8_t)(i * 7 + 3);
	}
	return off + tot;
}

static uint32_t make_ipv6(uint8_t *f, uint8_t proto, bool ext, uint32_t payload)
{
	static const uint8_t src[16] = {0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff,
					0, 0, 0, 0, 0, 0, 0, 7};
	static const uint8_t dst[16] = {0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03,
					0, 0, 0, 0, 0, 0, 0, 1};
	uint32_t l4 = 54 + (ext ? 8 : 0), l4hdr = proto == IPPROTO_TCP ? 20 : 8;
	uint32_t plen = (ext ? 8 : 0) + l4hdr + payload;

	memset(f, 0, 2048);
	memcpy(f, MAC, 6);
	wbe16(f + 12, 0x86dd);
	f[14] = 0x60;
	wbe16(f + 18, (uint16_t)plen);
	f[20] = ext ? 0 : proto; /* hop-by-hop options first */
	f[21] = 64;
	memcpy(f + 22, src, 16);
	memcpy(f + 38, dst, 16);
	if (ext) {
		f[54] = proto;
		f[55] = 0;
	}
	wbe16(f + l4, 2794);
	wbe16(f + l4 + 2, 1766);
	if (proto == IPPROTO_TCP)
		f[l4 + 12] = 5 << 4;
	else
		wbe16(f + l4 + 4, (uint16_t)(8 + payload));
	for (uint32_t i = 0; i < payload; i++)
		f[l4 + l4hdr + i] = (uint8_t)(i * 5 + 1);
	return l4 + l4hdr + payload;
}

/* The frame as the backend would send it: head, then frame bytes [consumed, frame_len). */
static uint32_t assemble(const struct netvsp_tx_plan *p, const uint8_t *frame, uint8_t *out)
{
	memcpy(out, p->head, p->head_len);
	memcpy(out + p->head_len, frame + p->consumed, p->frame_len - p->consumed);
	return p->head_len + p->frame_len - p->consumed;
}

/* What the host does with NEEDS_CSUM: sum from csum_start (the field holds the pseudo sum). */
static void device_checksum(uint8_t *f, uint32_t len, const struct virtio_net_hdr_v1 *vh)
{
	uint16_t c = (uint16_t)~ref_sum(f + vh->csum_start, len - vh->csum_start);

	wbe16(f + vh->csum_start + vh->csum_offset, c);
}

/* A complete TCP/UDP checksum over the pseudo header is valid. */
static bool l4_checksum_ok(const uint8_t *f, uint32_t len)
{
	struct net_headers h;
	uint32_t s, l4len;

	if (netvsp_parse_headers(f, len, len, false, &h) < 0 || !h.l4_hdr_len)
		return false;
	l4len = h.l3_end - h.l4_offset;
	s = netvsp_pseudo_sum(f, &h, l4len) + ref_sum(f + h.l4_offset, l4len);
	return netvsp_csum_fold(s) == 0xffff;
}

static void test_checksum_helpers(void)
{
	uint8_t buf[301];

	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 31 + 7);
	for (uint32_t len = 0; len <= sizeof(buf); len += 37)
		CHECK_EQ(netvsp_csum_fold(netvsp_csum_add(0, buf, len)), ref_sum(buf, len));
	CHECK_EQ(netvsp_csum_fold(netvsp_csum_add(0, buf, 1)), ref_sum(buf, 1));
	CHECK_EQ(netvsp_csum_fold(netvsp_csum_add(0, buf, 3)), ref_sum(buf, 3));
}

static void test_parse_headers(void)
{
	uint8_t f[2048];
	struct net_headers h;
	uint32_t len;

	len = make_ipv4(f, IPPROTO_TCP, 6, 8, 100, true);
	CHECK_EQ(netvsp_parse_headers(f, len, len, false, &h), 0);
	CHECK_EQ(h.ethertype, ETH_P_IPV4_BE);
	CHECK_EQ(h.l3_offset, 18);
	CHECK_EQ(h.l4_offset, 18 + 24);
	CHECK_EQ(h.l4_hdr_len, 32);
	CHECK_EQ(h.l3_end, len);
	CHECK(!h.fragment);
	/* Cut short, contradicting lengths, bad version, bad ihl, bad doff. */
	CHECK_EQ(netvsp_parse_headers(f, 30, len, false, &h), -EINVAL);
	CHECK_EQ(netvsp_parse_headers(f, len, len - 1, false, &h), -EINVAL);
	wbe16(f + 20, (uint16_t)(len + 10));
	CHECK_EQ(netvsp_parse_headers(f, len, len, false, &h), -EINVAL);
	CHECK_EQ(netvsp_parse_headers(f, len, len, true, &h), 0); /* LSO ignores it */
	wbe16(f + 20, 10);
	CHECK_EQ(netvsp_parse_headers(f, len, len, false, &h), -EINVAL);
	len = make_ipv4(f, IPPROTO_TCP, 5, 5, 10, false);
	f[14] = 0x65;
	CHECK_EQ(netvsp_parse_headers(f, len, len, false, &h), -EINVAL);
	f[14] = 0x44;
	CHECK_EQ(netvsp_parse_headers(f, len, len, false, &h), -EINVAL);
	f[14] = 0x45;
	f[34 + 12] = 0x40;
	CHECK_EQ(netvsp_parse_headers(f, len, len, false, &h), -EINVAL);
	f[34 + 12] = 0xf0; /* 60-byte TCP header beyond the segment */
	CHECK_EQ(netvsp_parse_headers(f, len, len, false, &h), -EINVAL);
	/* A later fragment: no transport header; a first one: flagged. */
	len = make_ipv4(f, IPPROTO_UDP, 5, 5, 30, false);
	wbe16(f + 20, 0x0010);
	CHECK_EQ(netvsp_parse_headers(f, len, len, false, &h), 0);
	CHECK(h.fragment);
	CHECK_EQ(h.l4_hdr_len, 0);
	wbe16(f + 20, 0x2000);
	CHECK_EQ(netvsp_parse_headers(f, len, len, false, &h), 0);
	CHECK(h.fragment);
	CHECK_EQ(h.l4_hdr_len, 8);
	/* IPv6 with a hop-by-hop header; a truncated extension header; an ARP frame. */
	len = make_ipv6(f, IPPROTO_TCP, true, 40);
	CHECK_EQ(netvsp_parse_headers(f, len, len, false, &h), 0);
	CHECK_EQ(h.l4_offset, 62);
	CHECK_EQ(h.l4_proto, IPPROTO_TCP);
	CHECK_EQ(h.l4_hdr_len, 20);
	f[55] = 200; /* 1608-byte extension header */
	CHECK_EQ(netvsp_parse_headers(f, len, len, false, &h), -EINVAL);
	memset(f, 0, 64);
	wbe16(f + 12, 0x0806);
	CHECK_EQ(netvsp_parse_headers(f, 60, 60, false, &h), 0);
	CHECK_EQ(h.l4_hdr_len, 0);
	CHECK_EQ(netvsp_parse_headers(f, 13, 60, false, &h), -EINVAL);
}

static void test_tx_csum(void)
{
	uint8_t f[2048], out[2100];
	struct netvsp_tx_plan p;
	struct netvsp_tx_meta m;
	uint32_t len, olen;

	/* IPv4 TCP with options; the guest left garbage in the checksum field. */
	len = make_ipv4(f, IPPROTO_TCP, 6, 8, 300, false);
	f[14 + 24 + 16] = 0xde;
	memset(&m, 0, sizeof(m));
	m.has_csum = true;
	m.csum = NDIS_TXCSUM_INFO_IS_IPV4 | NDIS_TXCSUM_INFO_TCP_CHECKSUM | (38u << 16);
	CHECK_EQ(netvsp_tx_prepare(&m, f, 256, len, &p), 0);
	CHECK_EQ(p.vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(p.vh.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	CHECK_EQ(p.vh.csum_start, 38);
	CHECK_EQ(p.vh.csum_offset, 16);
	CHECK_EQ(p.consumed, 38 + 32);
	CHECK_EQ(p.frame_len, len);
	olen = assemble(&p, f, out);
	CHECK_EQ(olen, len);
	CHECK(!l4_checksum_ok(out, olen));
	device_checksum(out, olen, &p.vh);
	CHECK(l4_checksum_ok(out, olen));

	/* UDP over IPv4 with Ethernet padding after the datagram: trimmed. */
	len = make_ipv4(f, IPPROTO_UDP, 5, 5, 4, false);
	CHECK_EQ(len, 46);
	m.csum = NDIS_TXCSUM_INFO_IS_IPV4 | NDIS_TXCSUM_INFO_UDP_CHECKSUM;
	CHECK_EQ(netvsp_tx_prepare(&m, f, 60, 60, &p), 0);
	CHECK_EQ(p.frame_len, 46);
	CHECK_EQ(p.vh.csum_offset, 6);
	olen = assemble(&p, f, out);
	CHECK_EQ(olen, 46);
	device_checksum(out, olen, &p.vh);
	CHECK(l4_checksum_ok(out, olen));

	/* IPv6 TCP behind a hop-by-hop header, IPv6 UDP. */
	len = make_ipv6(f, IPPROTO_TCP, true, 200);
	m.csum = NDIS_TXCSUM_INFO_IS_IPV6 | NDIS_TXCSUM_INFO_TCP_CHECKSUM;
	CHECK_EQ(netvsp_tx_prepare(&m, f, 256, len, &p), 0);
	CHECK_EQ(p.vh.csum_start, 62);
	olen = assemble(&p, f, out);
	device_checksum(out, olen, &p.vh);
	CHECK(l4_checksum_ok(out, olen));
	len = make_ipv6(f, IPPROTO_UDP, false, 33);
	m.csum = NDIS_TXCSUM_INFO_IS_IPV6 | NDIS_TXCSUM_INFO_UDP_CHECKSUM;
	CHECK_EQ(netvsp_tx_prepare(&m, f, len < 256 ? len : 256, len, &p), 0);
	CHECK_EQ(p.vh.csum_start, 54);
	olen = assemble(&p, f, out);
	device_checksum(out, olen, &p.vh);
	CHECK(l4_checksum_ok(out, olen));

	/* IPv4 header checksum: computed here. */
	len = make_ipv4(f, IPPROTO_UDP, 5, 5, 20, false);
	m.csum = NDIS_TXCSUM_INFO_IS_IPV4 | NDIS_TXCSUM_INFO_IP_HEADER_CHECKSUM;
	CHECK_EQ(netvsp_tx_prepare(&m, f, len, len, &p), 0);
	CHECK_EQ(p.vh.flags, 0);
	olen = assemble(&p, f, out);
	CHECK_EQ(ref_sum(out + 14, 20), 0xffff);

	/* Refused: the protocol is not the one named, both named, a fragment, not IP, headers
	 * beyond what was copied. */
	len = make_ipv4(f, IPPROTO_UDP, 5, 5, 20, false);
	m.csum = NDIS_TXCSUM_INFO_IS_IPV4 | NDIS_TXCSUM_INFO_TCP_CHECKSUM;
	CHECK_EQ(netvsp_tx_prepare(&m, f, len, len, &p), -EINVAL);
	m.csum = NDIS_TXCSUM_INFO_TCP_CHECKSUM | NDIS_TXCSUM_INFO_UDP_CHECKSUM;
	CHECK_EQ(netvsp_tx_prepare(&m, f, len, len, &p), -EINVAL);
	m.csum = NDIS_TXCSUM_INFO_UDP_CHECKSUM;
	wbe16(f + 20, 0x2000);
	CHECK_EQ(netvsp_tx_prepare(&m, f, len, len, &p), -EINVAL);
	wbe16(f + 12, 0x0806);
	CHECK_EQ(netvsp_tx_prepare(&m, f, len, len, &p), -EINVAL);
	len = make_ipv4(f, IPPROTO_TCP, 15, 15, 100, true);
	m.csum = NDIS_TXCSUM_INFO_TCP_CHECKSUM;
	CHECK_EQ(netvsp_tx_prepare(&m, f, 100, len, &p), -EINVAL);
	CHECK_EQ(netvsp_tx_prepare(&m, f, 300, len, &p), -EINVAL); /* over NETVSP_TX_HEAD_MAX */
	CHECK_EQ(netvsp_tx_prepare(&m, f, 10, len, &p), -EINVAL);
}

static void test_tx_lso_vlan(void)
{
	uint8_t f[9000], out[9100];
	struct netvsp_tx_plan p;
	struct netvsp_tx_meta m;
	uint32_t len, olen;

	/* IPv4 LSO as Linux prepares it: total length and checksums zeroed. */
	len = make_ipv4(f, IPPROTO_TCP, 5, 8, 1800, false);
	wbe16(f + 16, 0);
	wbe16(f + 24, 0);
	f[34 + 13] |= 0x80; /* CWR */
	memset(&m, 0, sizeof(m));
	m.has_lso = true;
	m.lso = 1448u | (34u << 20) | (1u << 30);
	m.has_vlan = true;
	m.vlan = 3u | (1u << 3) | (0x123u << 4); /* pri 3, cfi 1, vid 0x123 */
	CHECK_EQ(netvsp_tx_prepare(&m, f, 256, len, &p), 0);
	CHECK_EQ(p.vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN);
	CHECK_EQ(p.vh.gso_size, 1448);
	CHECK_EQ(p.vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(p.vh.csum_start, 38);
	CHECK_EQ(p.vh.csum_offset, 16);
	CHECK_EQ(p.vh.hdr_len, 38 + 32);
	CHECK_EQ(p.head_len, 34 + 32 + 4);
	olen = assemble(&p, f, out);
	CHECK_EQ(olen, len + 4);
	CHECK_EQ(be16(out + 12), 0x8100);
	CHECK_EQ(be16(out + 14), 0x7123);
	CHECK_EQ(be16(out + 16), 0x0800);
	CHECK_EQ(be16(out + 18 + 2), len - 14);        /* total length rebuilt */
	CHECK_EQ(ref_sum(out + 18, 20), 0xffff);      /* header checksum rebuilt */
	device_checksum(out, olen, &p.vh);
	CHECK(l4_checksum_ok(out, olen));
	/* Without the tag. */
	m.has_vlan = false;
	CHECK_EQ(netvsp_tx_prepare(&m, f, 256, len, &p), 0);
	CHECK_EQ(p.vh.csum_start, 34);
	CHECK_EQ(p.vh.hdr_len, 66);

	/* IPv6 LSO: payload length rebuilt. */
	len = make_ipv6(f, IPPROTO_TCP, false, 4000);
	wbe16(f + 18, 0);
	m.lso = 1440u | (54u << 20) | (1u << 30) | (1u << 31);
	CHECK_EQ(netvsp_tx_prepare(&m, f, 256, len, &p), 0);
	CHECK_EQ(p.vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
	CHECK_EQ(p.vh.hdr_len, 74);
	olen = assemble(&p, f, out);
	CHECK_EQ(be16(out + 18), len - 54);
	device_checksum(out, olen, &p.vh);
	CHECK(l4_checksum_ok(out, olen));

	/* Refused: LSOv1, MSS 0, UDP, a datagram over 64 KiB. */
	m.lso = 1440u | (54u << 20);
	CHECK_EQ(netvsp_tx_prepare(&m, f, 256, len, &p), -EINVAL);
	m.lso = (1u << 30);
	CHECK_EQ(netvsp_tx_prepare(&m, f, 256, len, &p), -EINVAL);
	len = make_ipv6(f, IPPROTO_UDP, false, 3000);
	m.lso = 1440u | (1u << 30);
	CHECK_EQ(netvsp_tx_prepare(&m, f, 256, len, &p), -EINVAL);
	len = make_ipv4(f, IPPROTO_TCP, 5, 5, 100, false);
	CHECK_EQ(netvsp_tx_prepare(&m, f, 256 < len ? 256 : len, 70000, &p), -EINVAL);

	/* VLAN alone: only the MACs are copied, the tag inserted. */
	memset(&m, 0, sizeof(m));
	m.has_vlan = true;
	m.vlan = 0x10u << 4;
	CHECK_EQ(netvsp_tx_prepare(&m, f, 60, 60, &p), 0);
	CHECK_EQ(p.head_len, 16);
	CHECK_EQ(p.consumed, 12);
	CHECK_EQ(p.frame_len, 60);
	CHECK_EQ(be16(p.head + 14), 0x0010);
	/* Nothing at all: no copy. */
	m.has_vlan = false;
	CHECK_EQ(netvsp_tx_prepare(&m, f, 60, 60, &p), 0);
	CHECK_EQ(p.head_len, 0);
	CHECK_EQ(p.consumed, 0);
	CHECK_EQ(netvsp_tx_prepare(&m, f, 10, 10, &p), -EINVAL); /* runt */
}

static void test_rx_checksum(void)
{
	uint8_t f[2048];
	struct virtio_net_hdr_v1 vh;
	struct rndis_offload en = all_caps();
	struct net_headers h;
	uint32_t len, bits;

	/* NEEDS_CSUM: the field holds the pseudo sum; we complete it. */
	len = make_ipv4(f, IPPROTO_TCP, 5, 5, 500, false);
	CHECK_EQ(netvsp_parse_headers(f, len, len, false, &h), 0);
	wbe16(f + 34 + 16, netvsp_csum_fold(netvsp_pseudo_sum(f, &h, len - 34)));
	wbe16(f + 24, (uint16_t)~ref_sum(f + 14, 20));
	memset(&vh, 0, sizeof(vh));
	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.csum_start = 34;
	vh.csum_offset = 16;
	CHECK_EQ(netvsp_rx_checksum(&vh, f, len, &en, &bits), 0);
	CHECK(l4_checksum_ok(f, len));
	CHECK_EQ(bits, NDIS_RXCSUM_INFO_TCP_SUCCEEDED | NDIS_RXCSUM_INFO_IP_SUCCEEDED);
	/* What the guest enabled bounds what is reported. */
	en.rx_tcp4 = false;
	en.rx_ip4 = false;
	CHECK_EQ(netvsp_rx_checksum(&vh, f, len, &en, &bits), 0);
	CHECK_EQ(bits, 0);
	en = all_caps();
	/* DATA_VALID: reported, nothing touched; a bad IPv4 header checksum reported failed. */
	vh.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	len = make_ipv6(f, IPPROTO_UDP, false, 100);
	CHECK_EQ(netvsp_rx_checksum(&vh, f, len, &en, &bits), 0);
	CHECK_EQ(bits, NDIS_RXCSUM_INFO_UDP_SUCCEEDED);
	len = make_ipv4(f, IPPROTO_UDP, 5, 5, 10, false);
	CHECK_EQ(netvsp_rx_checksum(&vh, f, len, &en, &bits), 0);
	CHECK_EQ(bits, NDIS_RXCSUM_INFO_UDP_SUCCEEDED | NDIS_RXCSUM_INFO_IP_FAILED);
	/* No flags: only the IP header result. */
	vh.flags = 0;
	wbe16(f + 24, (uint16_t)~ref_sum(f + 14, 20));
	CHECK_EQ(netvsp_rx_checksum(&vh, f, len, &en, &bits), 0);
	CHECK_EQ(bits, NDIS_RXCSUM_INFO_IP_SUCCEEDED);
	/* Bad positions and GSO frames are refused. */
	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.csum_start = (uint16_t)len;
	CHECK_EQ(netvsp_rx_checksum(&vh, f, len, &en, &bits), -EINVAL);
	vh.csum_start = 34;
	vh.csum_offset = (uint16_t)(len - 34 - 1);
	CHECK_EQ(netvsp_rx_checksum(&vh, f, len, &en, &bits), -EINVAL);
	vh.csum_offset = 6;
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	CHECK_EQ(netvsp_rx_checksum(&vh, f, len, &en, &bits), -EINVAL);
}

/* ---- RNDIS data messages ---- */

/* A data message: header, PPIs (csum, LSO, VLAN as given), the frame. */
static uint32_t make_msg(uint8_t *m, uint32_t frame_len, bool csum, bool vlan)
{
	uint32_t ppi = 0, off = 44;

	memset(m, 0, 512);
	if (csum) {
		uint32_t v[4] = {16, TCPIP_CHKSUM_PKTINFO, 12, NDIS_TXCSUM_INFO_TCP_CHECKSUM};

		memcpy(m + off, v, 16);
		off += 16;
		ppi += 16;
	}
	if (vlan) {
		uint32_t v[4] = {16, IEEE_8021Q_INFO, 12, 7u << 4};

		memcpy(m + off, v, 16);
		off += 16;
		ppi += 16;
	}
	wr32(m, RNDIS_MSG_PACKET);
	wr32(m + 4, off + frame_len);
	wr32(m + 8, off - 8);      /* data_offset */
	wr32(m + 12, frame_len);
	wr32(m + 28, ppi ? 36 : 0);
	wr32(m + 32, ppi);
	for (uint32_t i = 0; i < frame_len; i++)
		m[off + i] = (uint8_t)i;
	return off + frame_len;
}

static void test_packet_parse(void)
{
	uint8_t m[600];
	struct netvsp_tx_msg t;
	uint32_t len;

	len = make_msg(m, 100, true, true);
	CHECK_EQ(netvsp_packet_parse(m, len, len, &t), 0);
	CHECK_EQ(t.msg_len, len);
	CHECK_EQ(t.data_offset, 76);
	CHECK_EQ(t.data_len, 100);
	CHECK(t.meta.has_csum && t.meta.has_vlan && !t.meta.has_lso);
	CHECK_EQ(t.meta.csum, NDIS_TXCSUM_INFO_TCP_CHECKSUM);
	CHECK_EQ(t.meta.vlan, 7u << 4);
	/* A longer source than the message (batching: the next message follows). */
	CHECK_EQ(netvsp_packet_parse(m, len, len + 200, &t), 0);
	/* No PPIs. */
	len = make_msg(m, 60, false, false);
	CHECK_EQ(netvsp_packet_parse(m, len, len, &t), 0);
	CHECK_EQ(t.data_offset, 44);
	CHECK(!t.meta.has_csum);

	/* Every length and offset too big, overlapping or truncated. */
	len = make_msg(m, 100, true, false);
	CHECK_EQ(netvsp_packet_parse(m, len, len - 1, &t), -EBADMSG); /* msg_len > source */
	CHECK_EQ(netvsp_packet_parse(m, 43, 43, &t), -EBADMSG);
	wr32(m + 4, 40);
	CHECK_EQ(netvsp_packet_parse(m, len, len, &t), -EBADMSG);     /* msg_len < 44 */
	wr32(m + 4, len);
	wr32(m, RNDIS_MSG_QUERY);
	CHECK_EQ(netvsp_packet_parse(m, len, len, &t), -EBADMSG);
	wr32(m, RNDIS_MSG_PACKET);
	wr32(m + 12, 101);
	CHECK_EQ(netvsp_packet_parse(m, len, len, &t), -EBADMSG);     /* data past msg_len */
	wr32(m + 12, 13);
	CHECK_EQ(netvsp_packet_parse(m, len, len, &t), -EBADMSG);     /* runt frame */
	wr32(m + 12, 100);
	wr32(m + 8, 20);
	CHECK_EQ(netvsp_packet_parse(m, len, len, &t), -EBADMSG);     /* data over the header */
	wr32(m + 8, 0xfffffff0u);
	CHECK_EQ(netvsp_packet_parse(m, len, len, &t), -EBADMSG);     /* wraps */
	wr32(m + 8, 52);
	wr32(m + 32, 24);
	CHECK_EQ(netvsp_packet_parse(m, len, len, &t), -EBADMSG);     /* PPI overlaps data */
	wr32(m + 32, 16);
	wr32(m + 28, 20);
	CHECK_EQ(netvsp_packet_parse(m, len, len, &t), -EBADMSG);     /* PPI over the header */
	wr32(m + 28, 36);
	CHECK_EQ(netvsp_packet_parse(m, 50, len, &t), -EBADMSG);      /* PPI not copied */
	wr32(m + 44, 8);
	CHECK_EQ(netvsp_packet_parse(m, len, len, &t), -EBADMSG);     /* PPI size < 12 */
	wr32(m + 44, 20);
	CHECK_EQ(netvsp_packet_parse(m, len, len, &t), -EBADMSG);     /* PPI beyond its area */
	wr32(m + 44, 16);
	wr32(m + 52, 17);
	CHECK_EQ(netvsp_packet_parse(m, len, len, &t), -EBADMSG);     /* data beyond the PPI */
	wr32(m + 52, 14);
	CHECK_EQ(netvsp_packet_parse(m, len, len, &t), -EBADMSG);     /* csum data < 4 bytes */
	wr32(m + 52, 12);
	wr32(m + 48, TCPIP_CHKSUM_PKTINFO | RNDIS_PPI_INTERNAL);
	CHECK_EQ(netvsp_packet_parse(m, len, len, &t), 0);            /* internal: skipped */
	CHECK(!t.meta.has_csum);
	wr32(m + 48, 31);
	CHECK_EQ(netvsp_packet_parse(m, len, len, &t), 0);            /* unknown: skipped */
	wr32(m + 20, 8);
	wr32(m + 16, 150);
	CHECK_EQ(netvsp_packet_parse(m, len, len, &t), -EBADMSG);     /* OOB past msg_len */
	wr32(m + 16, 36);
	CHECK_EQ(netvsp_packet_parse(m, len, len, &t), 0);
}

static void test_build_rx(void)
{
	uint8_t buf[NETVSP_RX_HEADER_MAX];
	struct netvsp_rx_info info;
	struct netvsp_tx_msg t;
	uint32_t hl;

	memset(&info, 0, sizeof(info));
	hl = netvsp_packet_build_rx(buf, &info, 60);
	CHECK_EQ(hl, 48);
	CHECK_EQ(rd32(buf), RNDIS_MSG_PACKET);
	CHECK_EQ(rd32(buf + 4), 108);
	CHECK_EQ(rd32(buf + 8), 40);
	CHECK_EQ(rd32(buf + 12), 60);
	CHECK_EQ(rd32(buf + 28), 0);
	info.has_csum = true;
	info.csum = NDIS_RXCSUM_INFO_TCP_SUCCEEDED;
	info.has_hash = true;
	info.hash = 0x51ccc178;
	info.hash_info = NDIS_HASH_FUNC_TOEPLITZ | NDIS_HASH_TCP_IPV4;
	hl = netvsp_packet_build_rx(buf, &info, 1514);
	CHECK_EQ(hl, 96);
	CHECK(hl <= NETVSP_RX_HEADER_MAX);
	CHECK_EQ(rd32(buf + 28), 36);
	CHECK_EQ(rd32(buf + 32), 48);
	/* The PPIs as Linux's rndis_get_ppi walks them. */
	CHECK_EQ(rd32(buf + 44 + 4), TCPIP_CHKSUM_PKTINFO);
	CHECK_EQ(rd32(buf + 44 + 12), NDIS_RXCSUM_INFO_TCP_SUCCEEDED);
	CHECK_EQ(rd32(buf + 60 + 4), NBL_HASH_VALUE);
	CHECK_EQ(rd32(buf + 60 + 12), 0x51ccc178);
	CHECK_EQ(rd32(buf + 76 + 4), NBL_HASH_INFO);
	CHECK_EQ(rd32(buf + 76 + 12), NDIS_HASH_FUNC_TOEPLITZ | NDIS_HASH_TCP_IPV4);
	/* And our own parser takes it back (as a message with a frame after it). */
	{
		uint8_t m[96 + 64];

		hl = netvsp_packet_build_rx(m, &info, 64);
		memset(m + hl, 0x5a, 64);
		CHECK_EQ(netvsp_packet_parse(m, hl + 64, hl + 64, &t), 0);
		CHECK_EQ(t.data_offset, hl);
		CHECK_EQ(t.data_len, 64);
		CHECK(t.has_hash);
		CHECK_EQ(t.hash, 0x51ccc178);
	}
}

/* ---- Toeplitz ---- */

struct v4_vector {
	uint8_t dst[4], src[4];
	uint16_t dport, sport;
	uint32_t ip, tcp;
};

static const struct v4_vector v4[] = {
	{{161, 142, 100, 80}, {66, 9, 149, 187}, 1766, 2794, 0x323e8fc2, 0x51ccc178},
	{{65, 69, 140, 83}, {199, 92, 111, 2}, 4739, 14230, 0xd718262a, 0xc626b0ea},
	{{12, 22, 207, 184}, {24, 19, 198, 95}, 38024, 12898, 0xd2d0a5de, 0x5c2b394a},
	{{209, 142, 163, 6}, {38, 27, 205, 30}, 2217, 48228, 0x82989176, 0xafc7327f},
	{{202, 188, 127, 2}, {153, 39, 163, 191}, 1303, 44251, 0x5d1809c5, 0x10e828a2},
};

struct v6_vector {
	uint8_t dst[16], src[16];
	uint16_t dport, sport;
	uint32_t ip, tcp;
};

static const struct v6_vector v6[] = {
	{{0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 0x01},
	 {0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x07},
	 1766, 2794, 0x2cc18cd5, 0x40207d3d},
	{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01},
	 {0x3f, 0xfe, 0x05, 0x01, 0x00, 0x08, 0, 0, 0x02, 0x60, 0x97, 0xff, 0xfe, 0x40, 0xef, 0xab},
	 4739, 14230, 0x0f0c461c, 0xdde51bbf},
	{{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x00, 0xf8, 0xff, 0xfe, 0x21, 0x67, 0xcf},
	 {0x3f, 0xfe, 0x19, 0x00, 0x45, 0x45, 0x00, 0x03, 0x02, 0x00, 0xf8, 0xff, 0xfe, 0x21, 0x67,
	  0xcf},
	 38024, 44251, 0x4b61e985, 0x02d1feef},
};

static void test_toeplitz(void)
{
	uint32_t all = NDIS_HASH_IPV4 | NDIS_HASH_TCP_IPV4 | NDIS_HASH_IPV6 | NDIS_HASH_TCP_IPV6;

	for (unsigned i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		uint8_t in[12], f[2048];
		uint32_t len, hash, type;

		memcpy(in, v4[i].src, 4);
		memcpy(in + 4, v4[i].dst, 4);
		wbe16(in + 8, v4[i].sport);
		wbe16(in + 10, v4[i].dport);
		CHECK_EQ(netvsp_toeplitz(MS_KEY, 40, in, 8), v4[i].ip);
		CHECK_EQ(netvsp_toeplitz(MS_KEY, 40, in, 12), v4[i].tcp);
		/* The same through a frame. */
		len = make_ipv4(f, IPPROTO_TCP, 5, 5, 10, false);
		memcpy(f + 26, v4[i].src, 4);
		memcpy(f + 30, v4[i].dst, 4);
		wbe16(f + 34, v4[i].sport);
		wbe16(f + 36, v4[i].dport);
		CHECK(netvsp_rss_hash(MS_KEY, all, f, len, &hash, &type));
		CHECK_EQ(hash, v4[i].tcp);
		CHECK_EQ(type, NDIS_HASH_TCP_IPV4);
		CHECK(netvsp_rss_hash(MS_KEY, NDIS_HASH_IPV4, f, len, &hash, &type));
		CHECK_EQ(hash, v4[i].ip);
		CHECK_EQ(type, NDIS_HASH_IPV4);
		/* UDP and fragments: the 2-tuple. */
		f[23] = IPPROTO_UDP;
		CHECK(netvsp_rss_hash(MS_KEY, all, f, len, &hash, &type));
		CHECK_EQ(hash, v4[i].ip);
		f[23] = IPPROTO_TCP;
		wbe16(f + 20, 0x2000);
		CHECK(netvsp_rss_hash(MS_KEY, all, f, len, &hash, &type));
		CHECK_EQ(hash, v4[i].ip);
	}
	for (unsigned i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		uint8_t in[36], f[2048];
		uint32_t len, hash, type;

		memcpy(in, v6[i].src, 16);
		memcpy(in + 16, v6[i].dst, 16);
		wbe16(in + 32, v6[i].sport);
		wbe16(in + 34, v6[i].dport);
		CHECK_EQ(netvsp_toeplitz(MS_KEY, 40, in, 32), v6[i].ip);
		CHECK_EQ(netvsp_toeplitz(MS_KEY, 40, in, 36), v6[i].tcp);
		len = make_ipv6(f, IPPROTO_TCP, true, 10);
		memcpy(f + 22, v6[i].src, 16);
		memcpy(f + 38, v6[i].dst, 16);
		wbe16(f + 62, v6[i].sport);
		wbe16(f + 64, v6[i].dport);
		CHECK(netvsp_rss_hash(MS_KEY, all, f, len, &hash, &type));
		CHECK_EQ(hash, v6[i].tcp);
		CHECK_EQ(type, NDIS_HASH_TCP_IPV6);
		CHECK(netvsp_rss_hash(MS_KEY, NDIS_HASH_IPV6, f, len, &hash, &type));
		CHECK_EQ(hash, v6[i].ip);
	}
	/* Nothing to hash: not IP, or the types off. */
	{
		uint8_t f[2048];
		uint32_t len = make_ipv4(f, IPPROTO_TCP, 5, 5, 10, false), hash, type;

		CHECK(!netvsp_rss_hash(MS_KEY, NDIS_HASH_IPV6, f, len, &hash, &type));
		CHECK_EQ(type, 0);
		wbe16(f + 12, 0x0806);
		CHECK(!netvsp_rss_hash(MS_KEY, all, f, len, &hash, &type));
		CHECK_EQ(netvsp_toeplitz(MS_KEY, 40, f, 37), 0); /* input longer than the key allows */
	}
}

int main(void)
{
	test_init_halt_keepalive_reset();
	test_malformed_control();
	test_queries();
	test_sets();
	test_rss_set();
	test_rx_filter_and_counters();
	test_checksum_helpers();
	test_parse_headers();
	test_tx_csum();
	test_tx_lso_vlan();
	test_rx_checksum();
	test_packet_parse();
	test_build_rx();
	test_toeplitz();
	return unit_done("test_rndis");
}
