/* Toeplitz RSS hash (see netvsp_rss.h): for each input bit set, left to right, XOR in the
 * 32-bit window of the key starting at that bit. */
#include "synthetic/netvsp_rss.h"

#include <netinet/in.h>
#include <string.h>

#include "synthetic/netvsp_offload.h"
#include "synthetic/rndis_protocol.h"

uint32_t netvsp_toeplitz(const uint8_t *key, uint32_t key_len, const uint8_t *in, uint32_t len)
{
	uint32_t result = 0, window;
	uint32_t next = 4; /* next key byte to shift in */

	if (key_len < 4 || len > key_len - 4)
		return 0;
	window = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];
	for (uint32_t i = 0; i < len; i++) {
		uint8_t kb = key[next++];

		for (int b = 7; b >= 0; b--) {
			if (in[i] & (1u << b))
				result ^= window;
			window = window << 1 | ((kb >> b) & 1u);
		}
	}
	return result;
}

bool netvsp_rss_hash(const uint8_t *key, uint32_t hash_info, const uint8_t *frame, uint32_t len,
		     uint32_t *hash, uint32_t *type)
{
	struct net_headers h;
	uint8_t tuple[36];
	uint32_t n, addr_len, tcp_type, ip_type;
	const uint8_t *addrs;

	*hash = 0;
	*type = 0;
	if (netvsp_parse_headers(frame, len, len, false, &h) < 0)
		return false;
	if (h.ethertype == ETH_P_IPV4_BE) {
		addrs = frame + h.l3_offset + 12;
		addr_len = 4;
		tcp_type = NDIS_HASH_TCP_IPV4;
		ip_type = NDIS_HASH_IPV4;
	} else if (h.ethertype == ETH_P_IPV6_BE) {
		addrs = frame + h.l3_offset + 8;
		addr_len = 16;
		tcp_type = NDIS_HASH_TCP_IPV6;
		ip_type = NDIS_HASH_IPV6;
	} else {
		return false;
	}
	memcpy(tuple, addrs, 2 * addr_len); /* source then destination, as in the header */
	n = 2 * addr_len;
	if ((hash_info & tcp_type) && h.l4_proto == IPPROTO_TCP && h.l4_hdr_len && !h.fragment) {
		memcpy(tuple + n, frame + h.l4_offset, 4); /* source port, destination port */
		n += 4;
		*type = tcp_type;
	} else if (hash_info & ip_type) {
		*type = ip_type;
	} else {
		return false;
	}
	*hash = netvsp_toeplitz(key, NDIS_RSS_HASH_SECRET_KEY_SIZE, tuple, n);
	return true;
}
