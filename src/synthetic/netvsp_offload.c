/* Offload translation between NDIS per-packet info and the virtio-net header (see
 * netvsp_offload.h). Checksums per RFC 1071; IPv6 extension headers per RFC 8200. */
#include "synthetic/netvsp_offload.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#define IPV6_HDR_LEN 40u
#define MAX_EXT_HEADERS 8
#define TCP_CHECK_OFFSET 16u
#define UDP_CHECK_OFFSET 6u
#define TCP_FLAG_CWR 0x80u

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The transport header at l4 (within end, the datagram end, and avail, the bytes we have). */
static int parse_l4(const uint8_t *f, uint32_t avail, uint32_t end, struct net_headers *h)
{
	uint32_t l4 = h->l4_offset;

	if (h->l4_proto == IPPROTO_TCP) {
		uint32_t doff;

		if (end < l4 + 20 || avail < l4 + 20)
			return -EINVAL;
		doff = (uint32_t)(f[l4 + 12] >> 4) * 4;
		if (doff < 20 || end < l4 + doff || avail < l4 + doff)
			return -EINVAL;
		h->l4_hdr_len = doff;
	} else if (h->l4_proto == IPPROTO_UDP) {
		if (end < l4 + 8 || avail < l4 + 8)
			return -EINVAL;
		h->l4_hdr_len = 8;
	}
	return 0;
}

static int parse_ipv4(const uint8_t *f, uint32_t avail, uint32_t frame_len, bool ignore_ip_len,
		      struct net_headers *h)
{
	uint32_t off = h->l3_offset, ihl, tot;
	uint16_t frag;

	if (avail < off + 20 || (f[off] >> 4) != 4)
		return -EINVAL;
	ihl = (uint32_t)(f[off] & 0xf) * 4;
	if (ihl < 20 || avail < off + ihl)
		return -EINVAL;
	tot = be16(f + off + 2);
	if (ignore_ip_len) {
		h->l3_end = frame_len;
	} else {
		if (tot < ihl || tot > frame_len - off)
			return -EINVAL;
		h->l3_end = off + tot;
	}
	frag = be16(f + off + 6) & 0x3fff;
	h->fragment = frag != 0;
	h->l4_proto = f[off + 9];
	if (frag & 0x1fff)
		return 0; /* not the first fragment: no transport header */
	h->l4_offset = off + ihl;
	return parse_l4(f, avail, h->l3_end, h);
}

static int parse_ipv6(const uint8_t *f, uint32_t avail, uint32_t frame_len, bool ignore_ip_len,
		      struct net_headers *h)
{
	uint32_t off = h->l3_offset, p, end;
	uint8_t nh;

	if (avail < off + IPV6_HDR_LEN || (f[off] >> 4) != 6)
		return -EINVAL;
	if (ignore_ip_len) {
		end = frame_len;
	} else {
		uint32_t plen = be16(f + off + 4);

		if (frame_len - off - IPV6_HDR_LEN < plen)
			return -EINVAL;
		end = off + IPV6_HDR_LEN + plen;
	}
	h->l3_end = end;
	nh = f[off + 6];
	p = off + IPV6_HDR_LEN;
	for (int i = 0;; i++) {
		uint32_t len;

		if (nh != 0 && nh != 43 && nh != 60 && nh != 44 && nh != 51)
			break; /* the transport header (or one we do not look into) */
		if (i == MAX_EXT_HEADERS)
			return 0; /* a chain that long: no transport header for us */
		if (end < p + 8 || avail < p + 8)
			return -EINVAL;
		if (nh == 44) { /* fragment */
			h->fragment = true;
			if (be16(f + p + 2) & 0xfff8)
				return 0;
			len = 8;
		} else if (nh == 51) { /* AH counts 4-byte units, minus 2 */
			len = ((uint32_t)f[p + 1] + 2) * 4;
		} else {
			len = ((uint32_t)f[p + 1] + 1) * 8;
		}
		nh = f[p];
		p += len;
		if (p > end)
			return -EINVAL;
	}
	h->l4_proto = nh;
	h->l4_offset = p;
	return parse_l4(f, avail, end, h);
}

int netvsp_parse_headers(const uint8_t *f, uint32_t avail, uint32_t frame_len, bool ignore_ip_len,
			 struct net_headers *h)
{
	uint32_t off = ETH_HDR_LEN;
	uint16_t type;

	memset(h, 0, sizeof(*h));
	if (avail > frame_len || avail < ETH_HDR_LEN)
		return -EINVAL;
	type = be16(f + 12);
	for (int i = 0; i < 2 && (type == ETH_P_8021Q_BE || type == ETH_P_8021AD_BE); i++) {
		if (avail < off + 4)
			return -EINVAL;
		type = be16(f + off + 2);
		off += 4;
	}
	h->ethertype = type;
	h->l3_offset = off;
	h->l3_end = frame_len;
	if (type == ETH_P_IPV4_BE)
		return parse_ipv4(f, avail, frame_len, ignore_ip_len, h);
	if (type == ETH_P_IPV6_BE)
		return parse_ipv6(f, avail, frame_len, ignore_ip_len, h);
	return 0;
}

/* Sums 16-bit words in host order; the one's-complement sum is byte-order independent
 * (RFC 1071 2.B), so the folded result is swapped once at the end. */
uint32_t netvsp_csum_add(uint32_t sum, const void *buf, uint32_t len)
{
	const uint8_t *p = buf;
	uint64_t s = 0;

	while (len >= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		s += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;

		memcpy(&w, p, 2);
		s += w;
		p += 2;
		len -= 2;
	}
	if (len)
		s += p[0]; /* the first byte of a word: its high (network) byte */
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	s = ((s & 0xff) << 8) | (s >> 8);
	return sum + (uint32_t)s;
}

uint16_t netvsp_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint32_t netvsp_pseudo_sum(const uint8_t *f, const struct net_headers *h, uint32_t l4_len)
{
	uint32_t sum = 0, off = h->l3_offset;

	if (h->ethertype == ETH_P_IPV4_BE) {
		sum = netvsp_csum_add(sum, f + off + 12, 8);
	} else {
		sum = netvsp_csum_add(sum, f + off + 8, 32);
		sum += l4_len >> 16;
	}
	sum += l4_len & 0xffff;
	sum += h->l4_proto;
	return sum;
}

static void ipv4_header_checksum(uint8_t *ip)
{
	uint32_t ihl = (uint32_t)(ip[0] & 0xf) * 4;

	put_be16(ip + 10, 0);
	put_be16(ip + 10, (uint16_t)~netvsp_csum_fold(netvsp_csum_add(0, ip, ihl)));
}

/* Inserts the 802.1Q tag after the MAC addresses of head (len bytes; room for 4 more). */
static void insert_vlan(uint8_t *head, uint32_t len, uint32_t info)
{
	uint16_t tci = (uint16_t)(NDIS_8021Q_INFO_PRI(info) << 13 | NDIS_8021Q_INFO_CFI(info) << 12 |
				  NDIS_8021Q_INFO_VLANID(info));

	memmove(head + 16, head + 12, len - 12);
	put_be16(head + 12, ETH_P_8021Q_BE);
	put_be16(head + 14, tci);
}

static int prepare_lso(const struct netvsp_tx_meta *m, const struct net_headers *h,
		       uint32_t frame_len, struct netvsp_tx_plan *plan)
{
	uint8_t *f = plan->head;
	uint32_t mss = NDIS_LSO_INFO_MSS(m->lso), l3 = h->l3_offset, l4 = h->l4_offset;
	uint32_t total = frame_len - l3;

	if (NDIS_LSO_INFO_TYPE(m->lso) != NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE || mss == 0 ||
	    h->l4_proto != IPPROTO_TCP || !h->l4_hdr_len || h->fragment)
		return -EINVAL;
	if (h->ethertype == ETH_P_IPV4_BE) {
		if (total > 0xffff)
			return -EINVAL;
		put_be16(f + l3 + 2, (uint16_t)total);
		ipv4_header_checksum(f + l3);
		plan->vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	} else {
		if (total - IPV6_HDR_LEN > 0xffff)
			return -EINVAL;
		put_be16(f + l3 + 4, (uint16_t)(total - IPV6_HDR_LEN));
		plan->vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	}
	if (f[l4 + 13] & TCP_FLAG_CWR)
		plan->vh.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	put_be16(f + l4 + TCP_CHECK_OFFSET,
		 netvsp_csum_fold(netvsp_pseudo_sum(f, h, frame_len - l4)));
	plan->vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	plan->vh.gso_size = (uint16_t)(mss > 0xffff ? 0xffff : mss);
	plan->vh.hdr_len = (uint16_t)(l4 + h->l4_hdr_len);
	plan->vh.csum_start = (uint16_t)l4;
	plan->vh.csum_offset = TCP_CHECK_OFFSET;
	return 0;
}

static int prepare_csum(const struct netvsp_tx_meta *m, const struct net_headers *h,
			struct netvsp_tx_plan *plan)
{
	uint8_t *f = plan->head;
	bool tcp = m->csum & NDIS_TXCSUM_INFO_TCP_CHECKSUM;
	bool udp = m->csum & NDIS_TXCSUM_INFO_UDP_CHECKSUM;
	uint32_t l4 = h->l4_offset, off;

	if ((m->csum & NDIS_TXCSUM_INFO_IP_HEADER_CHECKSUM) && h->ethertype == ETH_P_IPV4_BE)
		ipv4_header_checksum(f + h->l3_offset);
	if (!tcp && !udp)
		return 0;
	if (tcp && udp)
		return -EINVAL;
	if (h->fragment || !h->l4_hdr_len ||
	    h->l4_proto != (tcp ? IPPROTO_TCP : IPPROTO_UDP))
		return -EINVAL;
	off = tcp ? TCP_CHECK_OFFSET : UDP_CHECK_OFFSET;
	put_be16(f + l4 + off, netvsp_csum_fold(netvsp_pseudo_sum(f, h, h->l3_end - l4)));
	plan->vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	plan->vh.csum_start = (uint16_t)l4;
	plan->vh.csum_offset = (uint16_t)off;
	return 0;
}

int netvsp_tx_prepare(const struct netvsp_tx_meta *m, const uint8_t *head_in, uint32_t head_avail,
		      uint32_t frame_len, struct netvsp_tx_plan *plan)
{
	bool csum = m->has_csum && (m->csum & (NDIS_TXCSUM_INFO_TCP_CHECKSUM |
					       NDIS_TXCSUM_INFO_UDP_CHECKSUM |
					       NDIS_TXCSUM_INFO_IP_HEADER_CHECKSUM));
	struct net_headers h;
	uint32_t hdr_end;
	int ret;

	memset(&plan->vh, 0, sizeof(plan->vh));
	plan->head_len = plan->consumed = 0;
	plan->frame_len = frame_len;
	if (frame_len < ETH_HDR_LEN || head_avail < ETH_HDR_LEN || head_avail > frame_len ||
	    head_avail > NETVSP_TX_HEAD_MAX)
		return -EINVAL;
	if (!csum && !m->has_lso) {
		if (m->has_vlan) {
			memcpy(plan->head, head_in, 12);
			insert_vlan(plan->head, 12, m->vlan);
			plan->head_len = 16;
			plan->consumed = 12;
		}
		return 0;
	}
	ret = netvsp_parse_headers(head_in, head_avail, frame_len, m->has_lso, &h);
	if (ret < 0)
		return ret;
	if (h.ethertype != ETH_P_IPV4_BE && h.ethertype != ETH_P_IPV6_BE)
		return -EINVAL;
	if (h.l4_hdr_len)
		hdr_end = h.l4_offset + h.l4_hdr_len;
	else if (h.ethertype == ETH_P_IPV4_BE)
		hdr_end = h.l3_offset + (uint32_t)(head_in[h.l3_offset] & 0xf) * 4;
	else
		hdr_end = h.l3_offset + IPV6_HDR_LEN;
	memcpy(plan->head, head_in, hdr_end);
	if (m->has_lso)
		ret = prepare_lso(m, &h, frame_len, plan);
	else
		ret = prepare_csum(m, &h, plan);
	if (ret < 0)
		return ret;
	plan->frame_len = h.l3_end;
	plan->consumed = hdr_end;
	plan->head_len = hdr_end;
	if (m->has_vlan) {
		insert_vlan(plan->head, hdr_end, m->vlan);
		plan->head_len += 4;
		if (plan->vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			plan->vh.csum_start = (uint16_t)(plan->vh.csum_start + 4);
		if (plan->vh.gso_type != VIRTIO_NET_HDR_GSO_NONE)
			plan->vh.hdr_len = (uint16_t)(plan->vh.hdr_len + 4);
	}
	return 0;
}

int netvsp_rx_checksum(const struct virtio_net_hdr_v1 *vh, uint8_t *frame, uint32_t len,
		       const struct rndis_offload *en, uint32_t *rx_csum)
{
	struct net_headers h;
	bool l4_ok = false, v4;
	uint32_t bits = 0;

	*rx_csum = 0;
	if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE)
		return -EINVAL;
	if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		uint32_t start = vh->csum_start, off = vh->csum_offset;
		uint16_t c;

		if (start >= len || off + 2 > len - start)
			return -EINVAL;
		c = (uint16_t)~netvsp_csum_fold(netvsp_csum_add(0, frame + start, len - start));
		put_be16(frame + start + off, c);
		l4_ok = true;
	} else if (vh->flags & VIRTIO_NET_HDR_F_DATA_VALID) {
		l4_ok = true;
	}
	if (netvsp_parse_headers(frame, len, len, false, &h) < 0 ||
	    (h.ethertype != ETH_P_IPV4_BE && h.ethertype != ETH_P_IPV6_BE))
		return 0;
	v4 = h.ethertype == ETH_P_IPV4_BE;
	if (l4_ok && h.l4_hdr_len && !h.fragment) {
		if (h.l4_proto == IPPROTO_TCP && (v4 ? en->rx_tcp4 : en->rx_tcp6))
			bits |= NDIS_RXCSUM_INFO_TCP_SUCCEEDED;
		else if (h.l4_proto == IPPROTO_UDP && (v4 ? en->rx_udp4 : en->rx_udp6))
			bits |= NDIS_RXCSUM_INFO_UDP_SUCCEEDED;
	}
	if (v4 && en->rx_ip4) {
		const uint8_t *ip = frame + h.l3_offset;
		uint32_t ihl = (uint32_t)(ip[0] & 0xf) * 4;

		bits |= netvsp_csum_fold(netvsp_csum_add(0, ip, ihl)) == 0xffff
				? NDIS_RXCSUM_INFO_IP_SUCCEEDED : NDIS_RXCSUM_INFO_IP_FAILED;
	}
	*rx_csum = bits;
	return 0;
}
