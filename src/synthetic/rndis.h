/* The RNDIS device behind netvsp, pure logic (MS Remote NDIS 1.0 as netvsc uses it; Linux
 * drivers/net/hyperv/rndis_filter.c is the guest side): control messages and their completions,
 * OID queries and sets, the receive filter, and the counters the statistics OIDs report.
 * Everything here takes bytes already copied out of the guest and bounds every length. */
#ifndef HVKVM_SYNTHETIC_RNDIS_H
#define HVKVM_SYNTHETIC_RNDIS_H

#include <stdbool.h>
#include <stdint.h>

#include "synthetic/rndis_protocol.h"

#define RNDIS_MAX_MULTICAST 32u
/* Announced in INITIALIZE_CMPLT: the guest batches at most this many data messages in one NVSP
 * packet and aligns each to 1 << RNDIS_PACKET_ALIGNMENT_SHIFT bytes. */
#define RNDIS_MAX_PACKETS_PER_MSG 8u
#define RNDIS_PACKET_ALIGNMENT_SHIFT 3u
/* Largest control message handled (an RSS set with a full table is ~620 bytes), and the
 * largest completion built (the RSS parameters with a full table, 616 bytes). */
#define RNDIS_CONTROL_MAX 4096u
#define RNDIS_RESPONSE_MAX 1024u
/* LSOv2 limits we announce: vmswitch's values (openvmm rndisprot.rs); 0xf53c keeps a 16-bit
 * IPv4 total length with headers. */
#define RNDIS_LSO_MAX_SIZE 0xf53cu
#define RNDIS_LSO_MIN_SEGMENTS 2u

/* Counters the statistics OIDs report and the device updates (loop thread). */
struct rndis_stats {
	uint64_t rx_ucast_pkts, rx_mcast_pkts, rx_bcast_pkts;
	uint64_t rx_ucast_bytes, rx_mcast_bytes, rx_bcast_bytes;
	uint64_t rx_no_buffer; /* dropped: no receive buffer or channel ready, or link down */
	uint64_t rx_errors;    /* dropped: too big for a receive slot, bad vnet header */
	uint64_t tx_ucast_pkts, tx_mcast_pkts, tx_bcast_pkts;
	uint64_t tx_ucast_bytes, tx_mcast_bytes, tx_bcast_bytes;
	uint64_t tx_errors;    /* the backend refused the frame */
	uint64_t tx_discards;  /* dropped: malformed, unsupported offload, link down, not ready */
	/* Guest protocol errors. */
	uint64_t bad_control;  /* control messages malformed or out of place */
	uint64_t bad_packets;  /* data messages with bad lengths, offsets or per-packet info */
	uint64_t unknown_oids; /* queries and sets answered RNDIS_STATUS_NOT_SUPPORTED */
};

/* Checksum and segmentation offloads, per direction and protocol. */
struct rndis_offload {
	bool tx_ip4, tx_tcp4, tx_udp4, tx_tcp6, tx_udp6;
	bool rx_ip4, rx_tcp4, rx_udp4, rx_tcp6, rx_udp6;
	bool lso4, lso6;
};

struct rndis_rss {
	bool enabled;
	uint32_t hash_info;                           /* NDIS_HASH_FUNC_TOEPLITZ | NDIS_HASH_* */
	uint8_t key[NDIS_RSS_HASH_SECRET_KEY_SIZE];
	uint16_t table[NDIS_RSS_INDIRECTION_TABLE_MAX]; /* channel (queue) index per entry */
	uint32_t table_len;                           /* entries the guest set, 1..128 */
};

struct rndis_device {
	/* Configuration (the owner sets these; rndis_device_init gives defaults). */
	uint8_t permanent_mac[6];
	uint32_t mtu;               /* Ethernet payload bytes */
	uint32_t max_queues;        /* channels offered for RSS, primary included (1..64) */
	uint64_t link_speed;        /* bits per second */
	struct rndis_offload caps;  /* what the backend really does */
	uint32_t ndis_major, ndis_minor; /* from NVSP SEND_NDIS_VER */
	bool link_up;
	/* Guest state. */
	bool initialized;           /* INITIALIZE seen, no HALT since */
	uint8_t current_mac[6];
	uint32_t packet_filter;     /* NDIS_PACKET_TYPE_*; 0 = deliver nothing */
	uint8_t mcast[RNDIS_MAX_MULTICAST][6];
	uint32_t nmcast;
	struct rndis_offload offload; /* what the guest enabled, within caps */
	struct rndis_rss rss;
	struct rndis_stats stats;
};

/* Power-on state: caps enabled (as a NIC comes up), NDIS 6.30, link up, guest state cleared. */
void rndis_device_init(struct rndis_device *d, const uint8_t mac[6], uint32_t mtu,
		       uint32_t max_queues, const struct rndis_offload *caps);
/* The guest went away (channel closed): its state back to power-on; configuration and counters
 * stay. */
void rndis_device_reset(struct rndis_device *d);

/* Handles one control message of len bytes (len >= the message's msg_len is checked). Writes
 * the completion into resp (resp_size >= RNDIS_RESPONSE_MAX) and returns its length; 0 when
 * the message has none (HALT) or is dropped (counted in bad_control: shorter than its header,
 * msg_len beyond len, an unknown or host-only type, a request too short to carry its request
 * id). Requests that carry a request id but are malformed get their completion with an error
 * status. Unknown OIDs: RNDIS_STATUS_NOT_SUPPORTED, counted in unknown_oids. */
uint32_t rndis_control(struct rndis_device *d, const void *msg, uint32_t len, void *resp,
		       uint32_t resp_size);

/* RNDIS_MSG_INDICATE with status (RNDIS_STATUS_MEDIA_CONNECT / _DISCONNECT) and no buffer;
 * returns its length (20). buf holds >= 20 bytes. */
uint32_t rndis_build_indicate_status(void *buf, uint32_t status);

/* Whether a received frame passes the guest's packet filter and multicast list. */
bool rndis_rx_accept(const struct rndis_device *d, const uint8_t *frame, uint32_t len);
/* Counters for one delivered or one sent frame (by destination address class). */
void rndis_count_rx(struct rndis_device *d, const uint8_t *frame, uint32_t len);
void rndis_count_tx(struct rndis_device *d, const uint8_t *dst_mac, uint32_t len);

/* The NDIS_OFFLOAD object for caps (hardware capabilities) or the current configuration, sized
 * for the negotiated NDIS version (6.0: revision 1, 112 bytes; 6.1: 2, 144; 6.30: 3, 156). */
uint32_t rndis_build_offload(const struct rndis_device *d, const struct rndis_offload *o,
			     struct ndis_offload *out);

#endif
