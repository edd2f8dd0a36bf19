/* RNDIS data messages (RNDIS_MSG_PACKET) on the netvsp data path: a guest's message and its
 * per-packet info (Linux netvsc_drv.c netvsc_xmit builds them), and the header of a message we
 * deliver (Linux rndis_filter.c rndis_filter_receive_data reads it). Pure. */
#ifndef HVKVM_SYNTHETIC_NETVSP_PACKET_H
#define HVKVM_SYNTHETIC_NETVSP_PACKET_H

#include <stdbool.h>
#include <stdint.h>

#include "synthetic/netvsp_offload.h"

/* Bytes of a data message copied out for parsing: its headers and per-packet info must fit. */
#define NETVSP_TX_MSG_HEAD_MAX 512u

struct netvsp_tx_msg {
	uint32_t msg_len;     /* the whole message, from its start */
	uint32_t data_offset; /* of the frame, from the message start */
	uint32_t data_len;
	struct netvsp_tx_meta meta;
	bool has_hash;        /* the guest's flow hash (ignored; FreeBSD uses it to pick a ring) */
	uint32_t hash;
};

/* Parses a data message whose first head_len bytes are at head (head_len = min(avail,
 * NETVSP_TX_MSG_HEAD_MAX)); avail is how many bytes the message's source holds from its start.
 * Checks: type RNDIS_MSG_PACKET; 44 <= msg_len <= avail; the frame inside msg_len, after the
 * rndis_packet fields and at least 14 bytes long; the per-packet info area after those fields,
 * inside msg_len and head_len, not overlapping the frame; out-of-band data inside msg_len; each
 * per-packet info at least 12 bytes, inside the area, its data inside itself; the checksum,
 * LSO, 802.1Q and hash entries at least 4 bytes of data. Unknown and internal types are
 * skipped. 0 or -EBADMSG. */
__attribute__((warn_unused_result))
int netvsp_packet_parse(const uint8_t *head, uint32_t head_len, uint32_t avail,
			struct netvsp_tx_msg *out);

/* What a delivered frame carries besides its bytes. */
struct netvsp_rx_info {
	bool has_csum;
	uint32_t csum;       /* NDIS_RXCSUM_INFO_* */
	bool has_hash;
	uint32_t hash;       /* Toeplitz value */
	uint32_t hash_info;  /* NDIS_HASH_FUNC_TOEPLITZ | the NDIS_HASH_* type used */
};

/* The longest header netvsp_packet_build_rx writes. */
#define NETVSP_RX_HEADER_MAX 96u

/* Writes the RNDIS_MSG_PACKET header and per-packet info for a frame of frame_len bytes into
 * buf (>= NETVSP_RX_HEADER_MAX bytes); returns the header length, a multiple of 8. The frame
 * goes right after it; msg_len covers both. */
uint32_t netvsp_packet_build_rx(uint8_t *buf, const struct netvsp_rx_info *info,
				uint32_t frame_len);

#endif
