/* Checksum and segmentation offloads between netvsc's per-packet info (NDIS TCP/IP checksum,
 * LSOv2 and 802.1Q info) and the virtio-net header of a tap device (virtio 1.x
 * struct virtio_net_hdr_v1, as Linux drivers/net/tun.c reads and writes it). Pure: frames are
 * bytes the host owns. Offsets come from parsing the headers, never from the guest's word. */
#ifndef HVKVM_SYNTHETIC_NETVSP_OFFLOAD_H
#define HVKVM_SYNTHETIC_NETVSP_OFFLOAD_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stdint.h>

#include "synthetic/rndis.h"

#define ETH_HDR_LEN 14u
#define ETH_P_IPV4_BE 0x0800u
#define ETH_P_IPV6_BE 0x86ddu
#define ETH_P_8021Q_BE 0x8100u
#define ETH_P_8021AD_BE 0x88a8u

/* Where the layers of a frame are. */
struct net_headers {
	uint16_t ethertype;  /* of the network layer, after any VLAN tags */
	uint32_t l3_offset;
	uint32_t l3_end;     /* end of the IP datagram by its length field (IPv4 total length, IPv6
			      * payload length), or the frame end if so asked */
	uint32_t l4_offset;  /* 0: no transport header (not IP, a non-first fragment, unknown) */
	uint8_t l4_proto;    /* IPPROTO_* of the transport header */
	bool fragment;       /* IPv4 MF/offset or an IPv6 fragment header */
	uint32_t l4_hdr_len; /* TCP: doff * 4; UDP: 8; else 0. Within the frame when non-zero. */
};

/* Parses Ethernet (up to two VLAN tags), IPv4 (options) or IPv6 (hop-by-hop, routing,
 * destination options, fragment and AH headers), and the TCP or UDP header. The headers must lie
 * in the avail bytes at f; length fields are checked against frame_len (>= avail), the whole
 * frame. ignore_ip_len: take the datagram to end at the frame end (LSO, whose length fields the
 * guest zeroed). 0; -EINVAL for headers cut short or contradicting themselves. A frame that is
 * not IP, or an IP protocol other than TCP/UDP, parses with l4_hdr_len 0. */
__attribute__((warn_unused_result))
int netvsp_parse_headers(const uint8_t *f, uint32_t avail, uint32_t frame_len, bool ignore_ip_len,
			 struct net_headers *h);

/* Internet checksum pieces (RFC 1071): a 32-bit one's-complement accumulation and its fold. */
uint32_t netvsp_csum_add(uint32_t sum, const void *buf, uint32_t len);
uint16_t netvsp_csum_fold(uint32_t sum);
/* Pseudo-header sum for the transport layer of f (h parsed), with l4_len transport bytes. */
uint32_t netvsp_pseudo_sum(const uint8_t *f, const struct net_headers *h, uint32_t l4_len);

/* Per-packet info of one guest frame (from its RNDIS message). */
struct netvsp_tx_meta {
	bool has_csum, has_lso, has_vlan;
	uint32_t csum;  /* NDIS_TXCSUM_INFO_* */
	uint32_t lso;   /* NDIS_LSO_INFO_* */
	uint32_t vlan;  /* NDIS_8021Q_INFO_* */
};

/* Frame bytes copied out for rewriting headers: Ethernet + VLAN + IP with options or IPv6
 * extension headers + TCP with options fit in the common case; more is refused. */
#define NETVSP_TX_HEAD_MAX 256u

/* How to hand one guest frame to the backend: the virtio header, then head[0, head_len) in
 * place of frame bytes [0, consumed), then frame bytes [consumed, frame_len). */
struct netvsp_tx_plan {
	struct virtio_net_hdr_v1 vh;
	uint8_t head[NETVSP_TX_HEAD_MAX + 4];
	uint32_t head_len;
	uint32_t consumed;
	uint32_t frame_len;
};

/* Builds the plan for a frame of frame_len bytes whose first head_avail bytes (min(frame_len,
 * NETVSP_TX_HEAD_MAX)) are at head_in:
 *  - 802.1Q info: the tag is inserted after the MAC addresses;
 *  - TCP/UDP checksum: VIRTIO_NET_HDR_F_NEEDS_CSUM at the parsed transport header, the
 *    checksum field primed with the pseudo-header sum (whatever the guest left there);
 *  - IPv4 header checksum: computed here (virtio has no such offload);
 *  - LSOv2: VIRTIO_NET_HDR_GSO_TCPV4/TCPV6 with the guest's MSS; the guest zeroes the IP length
 *    fields (Linux netvsc_xmit), so the total/payload length and IPv4 header checksum are
 *    rebuilt for the whole frame, as the host stack wants them from a tap writer.
 * Frames with offloads are trimmed to their IP datagram (Ethernet padding removed).
 * 0, or -EINVAL: headers malformed or beyond NETVSP_TX_HEAD_MAX, an LSO that is not LSOv2 TCP,
 * an MSS of 0, a datagram over 64 KiB. */
__attribute__((warn_unused_result))
int netvsp_tx_prepare(const struct netvsp_tx_meta *m, const uint8_t *head_in, uint32_t head_avail,
		      uint32_t frame_len, struct netvsp_tx_plan *plan);

/* A received frame and the backend's virtio header: a partial checksum (NEEDS_CSUM) is
 * completed in place. *rx_csum gets the NDIS_RXCSUM_INFO_* bits to report, within the receive
 * offloads the guest enabled (0: report nothing): TCP/UDP succeeded when the backend validated
 * the checksum (DATA_VALID) or it was just computed here; IPv4 header succeeded/failed from
 * checking it here. 0, or -EINVAL for a checksum position outside the frame or a GSO frame
 * (the tap is never asked for those). */
__attribute__((warn_unused_result))
int netvsp_rx_checksum(const struct virtio_net_hdr_v1 *vh, uint8_t *frame, uint32_t len,
		       const struct rndis_offload *enabled, uint32_t *rx_csum);

#endif
