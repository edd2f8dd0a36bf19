/* RNDIS OID queries and sets (see rndis.h): what Linux's rndis_filter.c and Windows ask for,
 * answered as openvmm's handle_oid_query / handle_oid_set do for Hyper-V. */
#include "synthetic/rndis_internal.h"

#include <stddef.h>
#include <string.h>

#include "log.h"

#define TAG RNDIS_TAG

/* ---- Queries ---- */

static const uint32_t oids_common[] = {
	OID_GEN_SUPPORTED_LIST, OID_GEN_HARDWARE_STATUS, OID_GEN_MEDIA_SUPPORTED,
	OID_GEN_MEDIA_IN_USE, OID_GEN_MAXIMUM_LOOKAHEAD, OID_GEN_CURRENT_LOOKAHEAD,
	OID_GEN_MAXIMUM_FRAME_SIZE, OID_GEN_MAXIMUM_TOTAL_SIZE, OID_GEN_TRANSMIT_BLOCK_SIZE,
	OID_GEN_RECEIVE_BLOCK_SIZE, OID_GEN_LINK_SPEED, OID_GEN_TRANSMIT_BUFFER_SPACE,
	OID_GEN_RECEIVE_BUFFER_SPACE, OID_GEN_VENDOR_ID, OID_GEN_VENDOR_DESCRIPTION,
	OID_GEN_VENDOR_DRIVER_VERSION, OID_GEN_DRIVER_VERSION, OID_GEN_CURRENT_PACKET_FILTER,
	OID_GEN_MAC_OPTIONS, OID_GEN_MEDIA_CONNECT_STATUS, OID_GEN_MAXIMUM_SEND_PACKETS,
	OID_GEN_NETWORK_LAYER_ADDRESSES, OID_GEN_FRIENDLY_NAME, OID_GEN_XMIT_OK, OID_GEN_RCV_OK,
	OID_GEN_XMIT_ERROR, OID_GEN_RCV_ERROR, OID_GEN_RCV_NO_BUFFER, OID_802_3_PERMANENT_ADDRESS,
	OID_802_3_CURRENT_ADDRESS, OID_802_3_MULTICAST_LIST, OID_802_3_MAXIMUM_LIST_SIZE,
	OID_802_3_RCV_ERROR_ALIGNMENT, OID_802_3_XMIT_ONE_COLLISION,
	OID_802_3_XMIT_MORE_COLLISIONS, OID_GEN_RNDIS_CONFIG_PARAMETER,
};
static const uint32_t oids_ndis6[] = {
	OID_GEN_LINK_STATE, OID_GEN_MAX_LINK_SPEED, OID_GEN_STATISTICS, OID_GEN_BYTES_RCV,
	OID_GEN_BYTES_XMIT, OID_TCP_OFFLOAD_PARAMETERS, OID_OFFLOAD_ENCAPSULATION,
	OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, OID_TCP_OFFLOAD_CURRENT_CONFIG,
};
static const uint32_t oids_ndis630[] = {
	OID_GEN_RECEIVE_SCALE_CAPABILITIES, OID_GEN_RECEIVE_SCALE_PARAMETERS,
};

static bool ndis6(const struct rndis_device *d)
{
	return d->ndis_major >= 6;
}

static bool ndis630(const struct rndis_device *d)
{
	return d->ndis_major > 6 || (d->ndis_major == 6 && d->ndis_minor >= 30);
}


static void emit(struct out *o, const void *src, uint32_t n)
{
	if (o->len + n > o->cap) {
		o->overflow = true;
		return;
	}
	memcpy(o->p + o->len, src, n);
	o->len += n;
}

static void emit32(struct out *o, uint32_t v)
{
	emit(o, &v, 4);
}

/* Statistics: a u32 if the guest offered a 4-byte buffer, else a u64 (NDIS 6 convention). */
static void emit_counter(struct out *o, uint32_t in_len, uint64_t v)
{
	if (in_len == 4)
		emit32(o, v > UINT32_MAX ? UINT32_MAX : (uint32_t)v);
	else
		emit(o, &v, 8);
}

static void emit_oids(struct out *o, const uint32_t *oids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		emit32(o, oids[i]);
}

uint32_t rndis_build_offload(const struct rndis_device *d, const struct rndis_offload *of,
			     struct ndis_offload *out)
{
	struct ndis_offload o;
	uint32_t size;
	uint8_t rev;

	memset(&o, 0, sizeof(o));
	if (ndis630(d)) {
		rev = NDIS_OFFLOAD_PARAMETERS_REVISION_3;
		size = NDIS_OFFLOAD_SIZE;
	} else if (ndis6(d) && d->ndis_minor >= 1) {
		rev = NDIS_OFFLOAD_PARAMETERS_REVISION_2;
		size = NDIS_OFFLOAD_SIZE_6_1;
	} else {
		rev = NDIS_OFFLOAD_PARAMETERS_REVISION_1;
		size = NDIS_OFFLOAD_SIZE_6_0;
	}
	o.header.type = NDIS_OBJECT_TYPE_OFFLOAD;
	o.header.revision = rev;
	o.header.size = (uint16_t)size;
	o.csum.ip4_txenc = o.csum.ip4_rxenc = NDIS_OFFLOAD_ENCAP_8023;
	o.csum.ip6_txenc = o.csum.ip6_rxenc = NDIS_OFFLOAD_ENCAP_8023;
	/* IP options and IPv6 extension headers are fine whenever any L4 checksum is: offsets
	 * come from parsing the headers, not from fixed positions. */
	if (of->tx_tcp4 || of->tx_udp4 || of->tx_ip4)
		o.csum.ip4_txcsum |= NDIS_TXCSUM_CAP_IP4OPT;
	if (of->tx_tcp4)
		o.csum.ip4_txcsum |= NDIS_TXCSUM_CAP_TCP4 | NDIS_TXCSUM_CAP_TCP4OPT;
	if (of->tx_udp4)
		o.csum.ip4_txcsum |= NDIS_TXCSUM_CAP_UDP4;
	if (of->tx_ip4)
		o.csum.ip4_txcsum |= NDIS_TXCSUM_CAP_IP4;
	if (of->rx_tcp4 || of->rx_udp4 || of->rx_ip4)
		o.csum.ip4_rxcsum |= NDIS_TXCSUM_CAP_IP4OPT;
	if (of->rx_tcp4)
		o.csum.ip4_rxcsum |= NDIS_TXCSUM_CAP_TCP4 | NDIS_TXCSUM_CAP_TCP4OPT;
	if (of->rx_udp4)
		o.csum.ip4_rxcsum |= NDIS_TXCSUM_CAP_UDP4;
	if (of->rx_ip4)
		o.csum.ip4_rxcsum |= NDIS_TXCSUM_CAP_IP4;
	if (of->tx_tcp6 || of->tx_udp6)
		o.csum.ip6_txcsum |= NDIS_TXCSUM_CAP_IP6EXT;
	if (of->tx_tcp6)
		o.csum.ip6_txcsum |= NDIS_TXCSUM_CAP_TCP6 | NDIS_TXCSUM_CAP_TCP6OPT;
	if (of->tx_udp6)
		o.csum.ip6_txcsum |= NDIS_TXCSUM_CAP_UDP6;
	if (of->rx_tcp6 || of->rx_udp6)
		o.csum.ip6_rxcsum |= NDIS_TXCSUM_CAP_IP6EXT;
	if (of->rx_tcp6)
		o.csum.ip6_rxcsum |= NDIS_TXCSUM_CAP_TCP6 | NDIS_TXCSUM_CAP_TCP6OPT;
	if (of->rx_udp6)
		o.csum.ip6_rxcsum |= NDIS_TXCSUM_CAP_UDP6;
	if (of->lso4) {
		o.lsov2.ip4_encap = NDIS_OFFLOAD_ENCAP_8023;
		o.lsov2.ip4_maxsz = RNDIS_LSO_MAX_SIZE;
		o.lsov2.ip4_minsg = RNDIS_LSO_MIN_SEGMENTS;
	}
	if (of->lso6) {
		o.lsov2.ip6_encap = NDIS_OFFLOAD_ENCAP_8023;
		o.lsov2.ip6_maxsz = RNDIS_LSO_MAX_SIZE;
		o.lsov2.ip6_minsg = RNDIS_LSO_MIN_SEGMENTS;
		o.lsov2.ip6_opts = NDIS_LSOV2_CAP_IP6EXT | NDIS_LSOV2_CAP_TCP6OPT;
	}
	*out = o;
	return size;
}

static void emit_rss_params(struct out *o, const struct rndis_device *d)
{
	struct ndis_recv_scale_param p;
	uint32_t n = d->rss.enabled ? d->rss.table_len : 0;

	memset(&p, 0, sizeof(p));
	p.hdr.type = NDIS_OBJECT_TYPE_RSS_PARAMETERS;
	p.hdr.revision = NDIS_RECEIVE_SCALE_PARAMETERS_REVISION_2;
	p.hdr.size = sizeof(p);
	p.flag = d->rss.enabled ? 0 : NDIS_RSS_PARAM_FLAG_DISABLE_RSS;
	p.hashinfo = d->rss.enabled ? d->rss.hash_info : 0;
	p.indirect_tabsize = (uint16_t)(4 * n);
	p.indirect_taboffset = sizeof(p);
	p.hashkey_size = d->rss.enabled ? NDIS_RSS_HASH_SECRET_KEY_SIZE : 0;
	p.hashkey_offset = sizeof(p) + 4 * n;
	emit(o, &p, sizeof(p));
	for (uint32_t i = 0; i < n; i++)
		emit32(o, d->rss.table[i]);
	if (d->rss.enabled)
		emit(o, d->rss.key, sizeof(d->rss.key));
}

static void emit_statistics(struct out *o, const struct rndis_device *d)
{
	const struct rndis_stats *s = &d->stats;
	struct ndis_statistics_info st;

	memset(&st, 0, sizeof(st));
	st.header.type = NDIS_OBJECT_TYPE_DEFAULT;
	st.header.revision = 1;
	st.header.size = sizeof(st);
	st.supported_statistics =
		NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_RCV |
		NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_RCV |
		NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_RCV |
		NDIS_STATISTICS_FLAGS_VALID_BYTES_RCV | NDIS_STATISTICS_FLAGS_VALID_RCV_DISCARDS |
		NDIS_STATISTICS_FLAGS_VALID_RCV_ERROR |
		NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_XMIT |
		NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_XMIT |
		NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_XMIT |
		NDIS_STATISTICS_FLAGS_VALID_BYTES_XMIT | NDIS_STATISTICS_FLAGS_VALID_XMIT_ERROR |
		NDIS_STATISTICS_FLAGS_VALID_XMIT_DISCARDS |
		NDIS_STATISTICS_FLAGS_VALID_DIRECTED_BYTES_RCV |
		NDIS_STATISTICS_FLAGS_VALID_MULTICAST_BYTES_RCV |
		NDIS_STATISTICS_FLAGS_VALID_BROADCAST_BYTES_RCV |
		NDIS_STATISTICS_FLAGS_VALID_DIRECTED_BYTES_XMIT |
		NDIS_STATISTICS_FLAGS_VALID_MULTICAST_BYTES_XMIT |
		NDIS_STATISTICS_FLAGS_VALID_BROADCAST_BYTES_XMIT;
	st.if_in_discards = s->rx_no_buffer;
	st.if_in_errors = s->rx_errors;
	st.if_hc_in_ucast_pkts = s->rx_ucast_pkts;
	st.if_hc_in_multicast_pkts = s->rx_mcast_pkts;
	st.if_hc_in_broadcast_pkts = s->rx_bcast_pkts;
	st.if_hc_in_ucast_octets = s->rx_ucast_bytes;
	st.if_hc_in_multicast_octets = s->rx_mcast_bytes;
	st.if_hc_in_broadcast_octets = s->rx_bcast_bytes;
	st.if_hc_in_octets = s->rx_ucast_bytes + s->rx_mcast_bytes + s->rx_bcast_bytes;
	st.if_hc_out_ucast_pkts = s->tx_ucast_pkts;
	st.if_hc_out_multicast_pkts = s->tx_mcast_pkts;
	st.if_hc_out_broadcast_pkts = s->tx_bcast_pkts;
	st.if_hc_out_ucast_octets = s->tx_ucast_bytes;
	st.if_hc_out_multicast_octets = s->tx_mcast_bytes;
	st.if_hc_out_broadcast_octets = s->tx_bcast_bytes;
	st.if_hc_out_octets = s->tx_ucast_bytes + s->tx_mcast_bytes + s->tx_bcast_bytes;
	st.if_out_errors = s->tx_errors;
	st.if_out_discards = s->tx_discards;
	emit(o, &st, sizeof(st));
}

/* Answers OID oid into o; returns the RNDIS status. */
uint32_t rndis_query_oid(struct rndis_device *d, uint32_t oid, uint32_t in_len, struct out *o)
{
	const struct rndis_stats *s = &d->stats;
	uint64_t rx = s->rx_ucast_pkts + s->rx_mcast_pkts + s->rx_bcast_pkts;
	uint64_t tx = s->tx_ucast_pkts + s->tx_mcast_pkts + s->tx_bcast_pkts;

	switch (oid) {
	case OID_GEN_SUPPORTED_LIST:
		emit_oids(o, oids_common, sizeof(oids_common) / 4);
		if (ndis6(d))
			emit_oids(o, oids_ndis6, sizeof(oids_ndis6) / 4);
		if (ndis630(d))
			emit_oids(o, oids_ndis630, sizeof(oids_ndis630) / 4);
		break;
	case OID_GEN_HARDWARE_STATUS: /* NdisHardwareStatusReady */
	case OID_802_3_RCV_ERROR_ALIGNMENT:
	case OID_802_3_XMIT_ONE_COLLISION:
	case OID_802_3_XMIT_MORE_COLLISIONS:
		emit32(o, 0);
		break;
	case OID_GEN_MEDIA_SUPPORTED:
	case OID_GEN_MEDIA_IN_USE:
		emit32(o, NDIS_MEDIUM_802_3);
		break;
	case OID_GEN_MAXIMUM_LOOKAHEAD:
	case OID_GEN_CURRENT_LOOKAHEAD:
	case OID_GEN_MAXIMUM_FRAME_SIZE: /* the payload; Linux lowers its MTU to this */
		emit32(o, d->mtu);
		break;
	case OID_GEN_MAXIMUM_TOTAL_SIZE:
	case OID_GEN_TRANSMIT_BLOCK_SIZE:
	case OID_GEN_RECEIVE_BLOCK_SIZE:
		emit32(o, d->mtu + 14);
		break;
	case OID_GEN_LINK_SPEED: /* in units of 100 bit/s */
		emit32(o, (uint32_t)(d->link_speed / 100 > UINT32_MAX ? UINT32_MAX
								     : d->link_speed / 100));
		break;
	case OID_GEN_TRANSMIT_BUFFER_SPACE:
	case OID_GEN_RECEIVE_BUFFER_SPACE: /* meaningless for a vNIC; vmswitch's value */
		emit32(o, 256u * 1024u);
		break;
	case OID_GEN_VENDOR_ID: /* Microsoft's OUI, as vmswitch answers */
		emit32(o, 0x0000155du);
		break;
	case OID_GEN_VENDOR_DESCRIPTION:
		emit(o, "hvkvm netvsp", 13);
		break;
	case OID_GEN_VENDOR_DRIVER_VERSION:
	case OID_GEN_DRIVER_VERSION: {
		uint16_t v = 0x0100; /* 1.0 */

		emit(o, &v, 2);
		break;
	}
	case OID_GEN_CURRENT_PACKET_FILTER:
		emit32(o, d->packet_filter);
		break;
	case OID_GEN_MAC_OPTIONS:
		emit32(o, NDIS_MAC_OPTION_COPY_LOOKAHEAD_DATA | NDIS_MAC_OPTION_TRANSFERS_NOT_PEND |
			       NDIS_MAC_OPTION_NO_LOOPBACK | NDIS_MAC_OPTION_FULL_DUPLEX |
			       NDIS_MAC_OPTION_8021P_PRIORITY | NDIS_MAC_OPTION_8021Q_VLAN);
		break;
	case OID_GEN_MEDIA_CONNECT_STATUS:
		emit32(o, d->link_up ? NDIS_MEDIA_STATE_CONNECTED : NDIS_MEDIA_STATE_DISCONNECTED);
		break;
	case OID_GEN_MAXIMUM_SEND_PACKETS:
		emit32(o, RNDIS_MAX_PACKETS_PER_MSG);
		break;
	case OID_GEN_FRIENDLY_NAME: {
		/* UTF-16LE with its terminator. "Network Adapter" is Hyper-V's default name, which
		 * Linux recognizes and does not turn into an interface alias. */
		static const char name[] = "Network Adapter";

		for (size_t i = 0; i < sizeof(name); i++) {
			uint16_t c = (uint8_t)name[i];

			emit(o, &c, 2);
		}
		break;
	}
	case OID_802_3_PERMANENT_ADDRESS:
		emit(o, d->permanent_mac, 6);
		break;
	case OID_802_3_CURRENT_ADDRESS:
		emit(o, d->current_mac, 6);
		break;
	case OID_802_3_MULTICAST_LIST:
		emit(o, d->mcast, 6 * d->nmcast);
		break;
	case OID_802_3_MAXIMUM_LIST_SIZE:
		emit32(o, RNDIS_MAX_MULTICAST);
		break;
	case OID_GEN_XMIT_OK:
		emit_counter(o, in_len, tx);
		break;
	case OID_GEN_RCV_OK:
		emit_counter(o, in_len, rx);
		break;
	case OID_GEN_XMIT_ERROR:
		emit_counter(o, in_len, s->tx_errors);
		break;
	case OID_GEN_RCV_ERROR:
		emit_counter(o, in_len, s->rx_errors);
		break;
	case OID_GEN_RCV_NO_BUFFER:
		emit_counter(o, in_len, s->rx_no_buffer);
		break;
	case OID_GEN_BYTES_RCV:
		emit_counter(o, in_len, s->rx_ucast_bytes + s->rx_mcast_bytes + s->rx_bcast_bytes);
		break;
	case OID_GEN_BYTES_XMIT:
		emit_counter(o, in_len, s->tx_ucast_bytes + s->tx_mcast_bytes + s->tx_bcast_bytes);
		break;
	case OID_GEN_STATISTICS:
		emit_statistics(o, d);
		break;
	case OID_GEN_LINK_STATE: {
		struct ndis_link_state ls;

		memset(&ls, 0, sizeof(ls));
		ls.header.type = NDIS_OBJECT_TYPE_DEFAULT;
		ls.header.revision = 1;
		ls.header.size = sizeof(ls);
		ls.media_connect_state = d->link_up ? NDIS_MEDIA_CONNECT_STATE_CONNECTED
						    : NDIS_MEDIA_CONNECT_STATE_DISCONNECTED;
		ls.media_duplex_state = NDIS_MEDIA_DUPLEX_STATE_FULL;
		ls.xmit_link_speed = ls.rcv_link_speed = d->link_speed;
		emit(o, &ls, sizeof(ls));
		break;
	}
	case OID_GEN_MAX_LINK_SPEED: {
		struct ndis_link_speed sp = {d->link_speed, d->link_speed};

		emit(o, &sp, sizeof(sp));
		break;
	}
	case OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES:
	case OID_TCP_OFFLOAD_CURRENT_CONFIG: {
		struct ndis_offload of;
		uint32_t size = rndis_build_offload(
			d, oid == OID_TCP_OFFLOAD_CURRENT_CONFIG ? &d->offload : &d->caps, &of);

		emit(o, &of, size);
		break;
	}
	case OID_OFFLOAD_ENCAPSULATION: {
		struct ndis_offload_encapsulation e;

		memset(&e, 0, sizeof(e));
		e.header.type = NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION;
		e.header.revision = 1;
		e.header.size = sizeof(e);
		e.ipv4_enabled = e.ipv6_enabled = NDIS_OFFLOAD_SUPPORTED;
		e.ipv4_encapsulation_type = e.ipv6_encapsulation_type = NDIS_OFFLOAD_ENCAP_8023;
		e.ipv4_header_size = e.ipv6_header_size = 14;
		emit(o, &e, sizeof(e));
		break;
	}
	case OID_GEN_RECEIVE_SCALE_CAPABILITIES: {
		struct ndis_recv_scale_cap c;

		if (!ndis630(d))
			goto unknown;
		memset(&c, 0, sizeof(c));
		c.hdr.type = NDIS_OBJECT_TYPE_RSS_CAPABILITIES;
		c.hdr.revision = NDIS_RECEIVE_SCALE_CAPABILITIES_REVISION_2;
		c.hdr.size = sizeof(c);
		/* As openvmm/vmswitch: TCP 4-tuples over v4 and v6, Toeplitz (the guest also
		 * gets the IPv4/IPv6 2-tuple hashes it asks for). */
		c.cap_flag = NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV4 | NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV6 |
			     NDIS_HASH_FUNC_TOEPLITZ;
		c.num_int_msg = 1;
		/* Linux turns vRSS on only for >= 2 queues, and then uses min(this, CPUs, 64). */
		c.num_recv_que = d->max_queues;
		c.num_indirect_tabent = NDIS_RSS_INDIRECTION_TABLE_MAX;
		emit(o, &c, sizeof(c));
		break;
	}
	case OID_GEN_RECEIVE_SCALE_PARAMETERS:
		if (!ndis630(d))
			goto unknown;
		emit_rss_params(o, d);
		break;
	default:
	unknown:
		d->stats.unknown_oids++;
		log_guest_fault(TAG, "query of unsupported OID 0x%08x", oid);
		return RNDIS_STATUS_NOT_SUPPORTED;
	}
	if (o->overflow) {
		o->len = 0;
		return RNDIS_STATUS_BUFFER_TOO_SHORT;
	}
	return RNDIS_STATUS_SUCCESS;
}

/* ---- Sets ---- */

static bool csum_value(uint8_t v, bool *tx, bool *rx)
{
	switch (v) {
	case NDIS_OFFLOAD_PARAMETERS_NO_CHANGE:
		return true;
	case NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED:
		*tx = *rx = false;
		return true;
	case NDIS_OFFLOAD_PARAMETERS_TX_ENABLED_RX_DISABLED:
		*tx = true;
		*rx = false;
		return true;
	case NDIS_OFFLOAD_PARAMETERS_RX_ENABLED_TX_DISABLED:
		*tx = false;
		*rx = true;
		return true;
	case NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED:
		*tx = *rx = true;
		return true;
	default:
		return false;
	}
}

static bool lso_value(uint8_t v, bool *on)
{
	if (v == NDIS_OFFLOAD_PARAMETERS_NO_CHANGE)
		return true;
	if (v == NDIS_OFFLOAD_PARAMETERS_LSOV2_DISABLED || v == NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED) {
		*on = v == NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED;
		return true;
	}
	return false;
}

/* OID_TCP_OFFLOAD_PARAMETERS: remember what the guest enabled, within what the backend does
 * (an enable the backend cannot honour is not an error: the current configuration shows it
 * off, as openvmm masks it). Linux <= NVSP 4 sends 22 bytes with revision 3, so the size, not
 * the revision, decides which fields are present. */
static uint32_t set_offload(struct rndis_device *d, const uint8_t *buf, uint32_t len)
{
	struct ndis_offload_params p;
	struct rndis_offload o = d->offload;
	const struct rndis_offload *c = &d->caps;

	if (len < NDIS_OFFLOAD_PARAMETERS_SIZE_REVISION_1)
		return RNDIS_STATUS_INVALID_LENGTH;
	memset(&p, 0, sizeof(p));
	memcpy(&p, buf, len < sizeof(p) ? len : sizeof(p));
	if (p.header.type != NDIS_OBJECT_TYPE_DEFAULT || p.header.revision < 1 ||
	    p.header.size < NDIS_OFFLOAD_PARAMETERS_SIZE_REVISION_1 || p.header.size > len)
		return RNDIS_STATUS_INVALID_DATA;
	if (p.lso_v1 == NDIS_OFFLOAD_PARAMETERS_LSOV1_ENABLED)
		return RNDIS_STATUS_NOT_SUPPORTED;
	if (!csum_value(p.ip_v4_csum, &o.tx_ip4, &o.rx_ip4) ||
	    !csum_value(p.tcp_ip_v4_csum, &o.tx_tcp4, &o.rx_tcp4) ||
	    !csum_value(p.udp_ip_v4_csum, &o.tx_udp4, &o.rx_udp4) ||
	    !csum_value(p.tcp_ip_v6_csum, &o.tx_tcp6, &o.rx_tcp6) ||
	    !csum_value(p.udp_ip_v6_csum, &o.tx_udp6, &o.rx_udp6) ||
	    !lso_value(p.lso_v2_ipv4, &o.lso4) || !lso_value(p.lso_v2_ipv6, &o.lso6))
		return RNDIS_STATUS_INVALID_DATA;
	o.tx_ip4 &= c->tx_ip4;
	o.tx_tcp4 &= c->tx_tcp4;
	o.tx_udp4 &= c->tx_udp4;
	o.tx_tcp6 &= c->tx_tcp6;
	o.tx_udp6 &= c->tx_udp6;
	o.rx_ip4 &= c->rx_ip4;
	o.rx_tcp4 &= c->rx_tcp4;
	o.rx_udp4 &= c->rx_udp4;
	o.rx_tcp6 &= c->rx_tcp6;
	o.rx_udp6 &= c->rx_udp6;
	o.lso4 &= c->lso4;
	o.lso6 &= c->lso6;
	d->offload = o;
	return RNDIS_STATUS_SUCCESS;
}

/* The hash types we compute; others the guest asks for are left out (no hash, channel 0). */
#define RSS_HASH_TYPES (NDIS_HASH_IPV4 | NDIS_HASH_TCP_IPV4 | NDIS_HASH_IPV6 | NDIS_HASH_TCP_IPV6)

/* OID_GEN_RECEIVE_SCALE_PARAMETERS (set). Offsets count from the object's start and must
 * stay inside the information buffer; table entries are channel indexes (Linux writes
 * ethtool's rx table, openvmm checks them against its queue count). */
static uint32_t set_rss(struct rndis_device *d, const uint8_t *buf, uint32_t len)
{
	struct ndis_recv_scale_param p;
	struct rndis_rss r = d->rss;

	if (len < NDIS_RECEIVE_SCALE_PARAMETERS_SIZE_REVISION_1)
		return RNDIS_STATUS_INVALID_LENGTH;
	memset(&p, 0, sizeof(p));
	memcpy(&p, buf, len < sizeof(p) ? len : sizeof(p));
	if (p.hdr.type != NDIS_OBJECT_TYPE_RSS_PARAMETERS || p.hdr.revision < 1)
		return RNDIS_STATUS_INVALID_DATA;
	if ((p.flag & NDIS_RSS_PARAM_FLAG_DISABLE_RSS) ||
	    ((p.flag & NDIS_RSS_PARAM_FLAG_HASH_INFO_UNCHANGED) ? !r.enabled
	     : !(p.hashinfo & NDIS_HASH_FUNCTION_MASK))) {
		d->rss.enabled = false;
		return RNDIS_STATUS_SUCCESS;
	}
	if (!(p.flag & NDIS_RSS_PARAM_FLAG_HASH_INFO_UNCHANGED)) {
		if ((p.hashinfo & NDIS_HASH_FUNCTION_MASK) != NDIS_HASH_FUNC_TOEPLITZ)
			return RNDIS_STATUS_INVALID_DATA;
		r.hash_info = NDIS_HASH_FUNC_TOEPLITZ | (p.hashinfo & RSS_HASH_TYPES);
	}
	if (!(p.flag & NDIS_RSS_PARAM_FLAG_HASH_KEY_UNCHANGED)) {
		if (p.hashkey_size != NDIS_RSS_HASH_SECRET_KEY_SIZE)
			return RNDIS_STATUS_INVALID_DATA;
		if (p.hashkey_offset > len || len - p.hashkey_offset < p.hashkey_size)
			return RNDIS_STATUS_INVALID_LENGTH;
		memcpy(r.key, buf + p.hashkey_offset, NDIS_RSS_HASH_SECRET_KEY_SIZE);
	} else if (!r.enabled) {
		return RNDIS_STATUS_INVALID_DATA; /* no key to keep */
	}
	if (!(p.flag & NDIS_RSS_PARAM_FLAG_ITABLE_UNCHANGED)) {
		uint32_t n = p.indirect_tabsize / 4;

		if (p.indirect_tabsize % 4 || n == 0 || n > NDIS_RSS_INDIRECTION_TABLE_MAX)
			return RNDIS_STATUS_INVALID_DATA;
		if (p.indirect_taboffset > len || len - p.indirect_taboffset < p.indirect_tabsize)
			return RNDIS_STATUS_INVALID_LENGTH;
		for (uint32_t i = 0; i < n; i++) {
			uint32_t e = rndis_get32(buf + p.indirect_taboffset + 4 * i);

			if (e >= d->max_queues)
				return RNDIS_STATUS_INVALID_DATA;
			r.table[i] = (uint16_t)e;
		}
		r.table_len = n;
	} else if (!r.enabled) {
		return RNDIS_STATUS_INVALID_DATA;
	}
	r.enabled = true;
	d->rss = r;
	return RNDIS_STATUS_SUCCESS;
}

static int hexval(uint16_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* UTF-16LE text equal to an ASCII string, ignoring ASCII case. */
static bool utf16_equals(const uint8_t *s, uint32_t bytes, const char *ascii)
{
	size_t n = strlen(ascii);

	if (bytes != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint16_t c = (uint16_t)(s[2 * i] | s[2 * i + 1] << 8);

		if (c >= 'A' && c <= 'Z')
			c = (uint16_t)(c - 'A' + 'a');
		if (c != (uint16_t)(ascii[i] >= 'A' && ascii[i] <= 'Z' ? ascii[i] - 'A' + 'a'
								       : ascii[i]))
			return false;
	}
	return true;
}

/* OID_GEN_RNDIS_CONFIG_PARAMETER: accepted once its layout is valid. "NetworkAddress" (how
 * Linux changes the MAC) becomes the current address the receive filter matches, as Hyper-V
 * does when MAC spoofing is allowed; other parameters are accepted and ignored. */
static uint32_t set_config_parameter(struct rndis_device *d, const uint8_t *buf, uint32_t len)
{
	struct rndis_config_parameter_info cpi;
	const uint8_t *name, *value;

	if (len < sizeof(cpi))
		return RNDIS_STATUS_INVALID_LENGTH;
	memcpy(&cpi, buf, sizeof(cpi));
	if (cpi.parameter_name_offset > len || len - cpi.parameter_name_offset <
						       cpi.parameter_name_length ||
	    cpi.parameter_value_offset > len || len - cpi.parameter_value_offset <
							cpi.parameter_value_length ||
	    cpi.parameter_name_length % 2 || cpi.parameter_name_length == 0)
		return RNDIS_STATUS_INVALID_DATA;
	name = buf + cpi.parameter_name_offset;
	value = buf + cpi.parameter_value_offset;
	if (utf16_equals(name, cpi.parameter_name_length, "NetworkAddress")) {
		uint8_t mac[6];

		if (cpi.parameter_type != RNDIS_CONFIG_PARAM_TYPE_STRING ||
		    cpi.parameter_value_length != 24)
			return RNDIS_STATUS_INVALID_DATA;
		for (int i = 0; i < 6; i++) {
			int hi = hexval((uint16_t)(value[4 * i] | value[4 * i + 1] << 8));
			int lo = hexval((uint16_t)(value[4 * i + 2] | value[4 * i + 3] << 8));

			if (hi < 0 || lo < 0)
				return RNDIS_STATUS_INVALID_DATA;
			mac[i] = (uint8_t)(hi << 4 | lo);
		}
		if (mac[0] & 1)
			return RNDIS_STATUS_INVALID_DATA; /* a group address */
		memcpy(d->current_mac, mac, 6);
	}
	return RNDIS_STATUS_SUCCESS;
}

uint32_t rndis_set_oid(struct rndis_device *d, uint32_t oid, const uint8_t *buf, uint32_t len)
{
	switch (oid) {
	case OID_GEN_CURRENT_PACKET_FILTER:
		if (len < 4)
			return RNDIS_STATUS_INVALID_LENGTH;
		d->packet_filter = rndis_get32(buf);
		return RNDIS_STATUS_SUCCESS;
	case OID_802_3_MULTICAST_LIST:
		if (len % 6)
			return RNDIS_STATUS_INVALID_LENGTH;
		if (len / 6 > RNDIS_MAX_MULTICAST)
			return RNDIS_STATUS_MULTICAST_FULL;
		memcpy(d->mcast, buf, len);
		d->nmcast = len / 6;
		return RNDIS_STATUS_SUCCESS;
	case OID_TCP_OFFLOAD_PARAMETERS:
		return set_offload(d, buf, len);
	case OID_GEN_RECEIVE_SCALE_PARAMETERS:
		if (!ndis630(d))
			break;
		return set_rss(d, buf, len);
	case OID_GEN_RNDIS_CONFIG_PARAMETER:
		return set_config_parameter(d, buf, len);
	case OID_OFFLOAD_ENCAPSULATION: {
		struct ndis_offload_encapsulation e;

		if (len < sizeof(e))
			return RNDIS_STATUS_INVALID_LENGTH;
		memcpy(&e, buf, sizeof(e));
		if (e.header.type != NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION)
			return RNDIS_STATUS_INVALID_DATA;
		if ((e.ipv4_enabled == NDIS_OFFLOAD_SET_ON &&
		     (e.ipv4_encapsulation_type != NDIS_OFFLOAD_ENCAP_8023 ||
		      e.ipv4_header_size != 14)) ||
		    (e.ipv6_enabled == NDIS_OFFLOAD_SET_ON &&
		     (e.ipv6_encapsulation_type != NDIS_OFFLOAD_ENCAP_8023 ||
		      e.ipv6_header_size != 14)))
			return RNDIS_STATUS_NOT_SUPPORTED;
		return RNDIS_STATUS_SUCCESS;
	}
	case OID_GEN_NETWORK_LAYER_ADDRESSES:
		/* Windows tells the adapter its IP addresses; nothing here uses them. */
		return RNDIS_STATUS_SUCCESS;
	default:
		break;
	}
	d->stats.unknown_oids++;
	log_guest_fault(TAG, "set of unsupported OID 0x%08x", oid);
	return RNDIS_STATUS_NOT_SUPPORTED;
}

