/* RNDIS data messages (see netvsp_packet.h). Layout: rndis_msg_header, rndis_packet, then the
 * per-packet info and frame at offsets counted from the rndis_packet (MS-RNDIS 2.2.14). */
#include "synthetic/netvsp_packet.h"

#include <errno.h>
#include <string.h>

#include "synthetic/rndis_protocol.h"

#define PKT_FIXED (8u + (uint32_t)sizeof(struct rndis_packet)) /* 44 */

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* [off, off + len) relative to the rndis_packet, as a range from the message start. */
static bool area(uint32_t off, uint32_t len, uint32_t msg_len, uint32_t *start, uint32_t *end)
{
	uint64_t s = 8ull + off, e = s + len;

	if (off < sizeof(struct rndis_packet) || e > msg_len)
		return false;
	*start = (uint32_t)s;
	*end = (uint32_t)e;
	return true;
}

static int parse_ppis(const uint8_t *p, uint32_t len, struct netvsp_tx_msg *out)
{
	while (len) {
		struct rndis_per_packet_info ppi;
		uint32_t type, data_len;
		const uint8_t *data;

		if (len < sizeof(ppi))
			return -EBADMSG;
		memcpy(&ppi, p, sizeof(ppi));
		if (ppi.size < sizeof(ppi) || ppi.size > len || ppi.ppi_offset < sizeof(ppi) ||
		    ppi.ppi_offset > ppi.size)
			return -EBADMSG;
		type = ppi.type;
		data = p + ppi.ppi_offset;
		data_len = ppi.size - ppi.ppi_offset;
		if (!(type & RNDIS_PPI_INTERNAL)) {
			switch (type) {
			case TCPIP_CHKSUM_PKTINFO:
			case TCP_LARGESEND_PKTINFO:
			case IEEE_8021Q_INFO:
			case NBL_HASH_VALUE:
				if (data_len < 4)
					return -EBADMSG;
				break;
			default:
				break;
			}
			switch (type) {
			case TCPIP_CHKSUM_PKTINFO:
				out->meta.has_csum = true;
				out->meta.csum = get32(data);
				break;
			case TCP_LARGESEND_PKTINFO:
				out->meta.has_lso = true;
				out->meta.lso = get32(data);
				break;
			case IEEE_8021Q_INFO:
				out->meta.has_vlan = true;
				out->meta.vlan = get32(data);
				break;
			case NBL_HASH_VALUE:
				out->has_hash = true;
				out->hash = get32(data);
				break;
			default:
				break;
			}
		}
		p += ppi.size;
		len -= ppi.size;
	}
	return 0;
}

int netvsp_packet_parse(const uint8_t *head, uint32_t head_len, uint32_t avail,
			struct netvsp_tx_msg *out)
{
	struct rndis_packet pkt;
	uint32_t type, msg_len, ds, de;

	memset(out, 0, sizeof(*out));
	if (head_len < PKT_FIXED || head_len > avail)
		return -EBADMSG;
	type = get32(head);
	msg_len = get32(head + 4);
	if (type != RNDIS_MSG_PACKET || msg_len < PKT_FIXED || msg_len > avail)
		return -EBADMSG;
	memcpy(&pkt, head + 8, sizeof(pkt));
	if (!area(pkt.data_offset, pkt.data_len, msg_len, &ds, &de) || pkt.data_len < 14)
		return -EBADMSG;
	if (pkt.oob_data_len) {
		uint32_t os, oe;

		if (!area(pkt.oob_data_offset, pkt.oob_data_len, msg_len, &os, &oe))
			return -EBADMSG;
	}
	if (pkt.per_pkt_info_len) {
		uint32_t ps, pe;

		if (!area(pkt.per_pkt_info_offset, pkt.per_pkt_info_len, msg_len, &ps, &pe) ||
		    pe > head_len || (ps < de && ds < pe))
			return -EBADMSG;
		if (parse_ppis(head + ps, pe - ps, out) < 0)
			return -EBADMSG;
	}
	out->msg_len = msg_len;
	out->data_offset = ds;
	out->data_len = pkt.data_len;
	return 0;
}

static uint8_t *put_ppi(uint8_t *p, uint32_t type, uint32_t value)
{
	struct rndis_per_packet_info ppi = {sizeof(ppi) + 4, type, sizeof(ppi)};

	memcpy(p, &ppi, sizeof(ppi));
	memcpy(p + sizeof(ppi), &value, 4);
	return p + sizeof(ppi) + 4;
}

uint32_t netvsp_packet_build_rx(uint8_t *buf, const struct netvsp_rx_info *info,
				uint32_t frame_len)
{
	struct rndis_packet pkt;
	uint8_t *p = buf + PKT_FIXED;
	uint32_t hdr_len, ppi_len;

	if (info->has_csum)
		p = put_ppi(p, TCPIP_CHKSUM_PKTINFO, info->csum);
	if (info->has_hash) {
		p = put_ppi(p, NBL_HASH_VALUE, info->hash);
		p = put_ppi(p, NBL_HASH_INFO, info->hash_info);
	}
	ppi_len = (uint32_t)(p - (buf + PKT_FIXED));
	hdr_len = (PKT_FIXED + ppi_len + 7) & ~7u;
	memset(p, 0, hdr_len - PKT_FIXED - ppi_len);
	memset(&pkt, 0, sizeof(pkt));
	pkt.data_offset = hdr_len - 8;
	pkt.data_len = frame_len;
	pkt.per_pkt_info_offset = ppi_len ? sizeof(pkt) : 0;
	pkt.per_pkt_info_len = ppi_len;
	memcpy(buf + 8, &pkt, sizeof(pkt));
	{
		uint32_t h[2] = {RNDIS_MSG_PACKET, hdr_len + frame_len};

		memcpy(buf, h, 8);
	}
	return hdr_len;
}
