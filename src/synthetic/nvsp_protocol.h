/* NVSP, the Network VSP protocol carried in VMBus packets of the synthetic NIC (class
 * f8615163-df3e-46c5-913f-f2d2f965ed0e): names and layouts as Linux drivers/net/hyperv/hyperv_net.h
 * spells them (the guest side), message numbers cross-checked with openvmm netvsp/src/protocol.rs. */
#ifndef HVKVM_SYNTHETIC_NVSP_PROTOCOL_H
#define HVKVM_SYNTHETIC_NVSP_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

/* Protocol versions; Linux proposes them newest first, each with min = max. */
#define NVSP_PROTOCOL_VERSION_1 0x2u
#define NVSP_PROTOCOL_VERSION_2 0x30002u
#define NVSP_PROTOCOL_VERSION_4 0x40000u
#define NVSP_PROTOCOL_VERSION_5 0x50000u
#define NVSP_PROTOCOL_VERSION_6 0x60000u
#define NVSP_PROTOCOL_VERSION_61 0x60001u
#define NVSP_INVALID_PROTOCOL_VERSION 0xffffffffu

/* Message types: guest-controlled numbers, kept as plain constants. */
#define NVSP_MSG_TYPE_NONE 0u
#define NVSP_MSG_TYPE_INIT 1u
#define NVSP_MSG_TYPE_INIT_COMPLETE 2u
#define NVSP_MSG1_TYPE_SEND_NDIS_VER 100u
#define NVSP_MSG1_TYPE_SEND_RECV_BUF 101u
#define NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE 102u
#define NVSP_MSG1_TYPE_REVOKE_RECV_BUF 103u
#define NVSP_MSG1_TYPE_SEND_SEND_BUF 104u
#define NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE 105u
#define NVSP_MSG1_TYPE_REVOKE_SEND_BUF 106u
#define NVSP_MSG1_TYPE_SEND_RNDIS_PKT 107u
#define NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE 108u
#define NVSP_MSG2_TYPE_SEND_CHIMNEY_DELEGATED_BUF 109u
#define NVSP_MSG2_TYPE_SEND_CHIMNEY_DELEGATED_BUF_COMP 110u
#define NVSP_MSG2_TYPE_REVOKE_CHIMNEY_DELEGATED_BUF 111u
#define NVSP_MSG2_TYPE_RESUME_CHIMNEY_RX_INDICATION 112u
#define NVSP_MSG2_TYPE_TERMINATE_CHIMNEY 113u
#define NVSP_MSG2_TYPE_TERMINATE_CHIMNEY_COMP 114u
#define NVSP_MSG2_TYPE_INDICATE_CHIMNEY_EVENT 115u
#define NVSP_MSG2_TYPE_SEND_CHIMNEY_PKT 116u
#define NVSP_MSG2_TYPE_SEND_CHIMNEY_PKT_COMP 117u
#define NVSP_MSG2_TYPE_POST_CHIMNEY_RECV_REQ 118u
#define NVSP_MSG2_TYPE_POST_CHIMNEY_RECV_REQ_COMP 119u
#define NVSP_MSG2_TYPE_ALLOC_RXBUF 120u
#define NVSP_MSG2_TYPE_ALLOC_RXBUF_COMP 121u
#define NVSP_MSG2_TYPE_FREE_RXBUF 122u
#define NVSP_MSG2_TYPE_SEND_VMQ_RNDIS_PKT 123u
#define NVSP_MSG2_TYPE_SEND_VMQ_RNDIS_PKT_COMP 124u
#define NVSP_MSG2_TYPE_SEND_NDIS_CONFIG 125u
#define NVSP_MSG2_TYPE_ALLOC_CHIMNEY_HANDLE 126u
#define NVSP_MSG2_TYPE_ALLOC_CHIMNEY_HANDLE_COMP 127u
#define NVSP_MSG4_TYPE_SEND_VF_ASSOCIATION 128u
#define NVSP_MSG4_TYPE_SWITCH_DATA_PATH 129u
#define NVSP_MSG4_TYPE_UPLINK_CONNECT_STATE_DEPRECATED 130u
#define NVSP_MSG5_TYPE_OID_QUERY_EX 131u
#define NVSP_MSG5_TYPE_OID_QUERY_EX_COMP 132u
#define NVSP_MSG5_TYPE_SUBCHANNEL 133u
#define NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE 134u
#define NVSP_MSG6_TYPE_PD_API 135u
#define NVSP_MSG6_TYPE_PD_POST_BATCH 136u

/* Completion statuses. */
#define NVSP_STAT_NONE 0u
#define NVSP_STAT_SUCCESS 1u
#define NVSP_STAT_FAIL 2u
#define NVSP_STAT_PROTOCOL_TOO_NEW 3u
#define NVSP_STAT_PROTOCOL_TOO_OLD 4u
#define NVSP_STAT_INVALID_RNDIS_PKT 5u
#define NVSP_STAT_BUSY 6u
#define NVSP_STAT_PROTOCOL_UNSUPPORTED 7u

/* The ids Linux gives its buffers (the receive buffer's is the transfer page set id). */
#define NETVSC_RECEIVE_BUFFER_ID 0xcafeu
#define NETVSC_SEND_BUFFER_ID 0u
/* send_buf_section_index meaning "no send-buffer section: the data is in GPA-direct ranges". */
#define NETVSC_INVALID_INDEX 0xffffffffu
/* The send-buffer section size Hyper-V announces (Linux NETVSC_SEND_SECTION_SIZE). */
#define NETVSC_SEND_SECTION_SIZE 6144u

/* channel_type of NVSP_MSG1_TYPE_SEND_RNDIS_PKT. */
#define NVSP_RMC_DATA 0u
#define NVSP_RMC_CONTROL 1u

/* NVSP_MSG5_TYPE_SUBCHANNEL operation. */
#define NVSP_SUBCHANNEL_NONE 0u
#define NVSP_SUBCHANNEL_ALLOCATE 1u

/* Entries of the send indirection table (Linux VRSS_SEND_TAB_SIZE; the guest insists on 16). */
#define VRSS_SEND_TAB_SIZE 16u
/* Channels of one vNIC, primary included (Linux VRSS_CHANNEL_MAX). */
#define VRSS_CHANNEL_MAX 64u

struct nvsp_message_header {
	uint32_t msg_type;
} __attribute__((packed));

struct nvsp_message_init {
	uint32_t min_protocol_ver;
	uint32_t max_protocol_ver;
} __attribute__((packed));

struct nvsp_message_init_complete {
	uint32_t negotiated_protocol_ver;
	uint32_t max_mdl_chain_len;
	uint32_t status;
} __attribute__((packed));

struct nvsp_1_message_send_ndis_version {
	uint32_t ndis_major_ver;
	uint32_t ndis_minor_ver;
} __attribute__((packed));

struct nvsp_1_message_send_receive_buffer {
	uint32_t gpadl_handle;
	uint16_t id;
} __attribute__((packed));

struct nvsp_1_receive_buffer_section {
	uint32_t offset;
	uint32_t sub_alloc_size;
	uint32_t num_sub_allocs;
	uint32_t end_offset;
} __attribute__((packed));

struct nvsp_1_message_send_receive_buffer_complete {
	uint32_t status;
	uint32_t num_sections;
	struct nvsp_1_receive_buffer_section sections[1];
} __attribute__((packed));

struct nvsp_1_message_revoke_receive_buffer {
	uint16_t id;
} __attribute__((packed));

struct nvsp_1_message_send_send_buffer {
	uint32_t gpadl_handle;
	uint16_t id;
} __attribute__((packed));

struct nvsp_1_message_send_send_buffer_complete {
	uint32_t status;
	uint32_t section_size;
} __attribute__((packed));

struct nvsp_1_message_revoke_send_buffer {
	uint16_t id;
} __attribute__((packed));

struct nvsp_1_message_send_rndis_packet {
	uint32_t channel_type;           /* NVSP_RMC_DATA or NVSP_RMC_CONTROL */
	uint32_t send_buf_section_index; /* NETVSC_INVALID_INDEX: no section */
	uint32_t send_buf_section_size;
} __attribute__((packed));

struct nvsp_1_message_send_rndis_packet_complete {
	uint32_t status;
} __attribute__((packed));

/* NVSP_MSG2_TYPE_SEND_NDIS_CONFIG capability bits (Linux struct nvsp_2_vsc_capability). */
#define NVSP_VSC_CAP_VMQ (1ull << 0)
#define NVSP_VSC_CAP_CHIMNEY (1ull << 1)
#define NVSP_VSC_CAP_SRIOV (1ull << 2)
#define NVSP_VSC_CAP_IEEE8021Q (1ull << 3)
#define NVSP_VSC_CAP_CORRELATION_ID (1ull << 4)
#define NVSP_VSC_CAP_TEAMING (1ull << 5)
#define NVSP_VSC_CAP_VSUBNETID (1ull << 6)
#define NVSP_VSC_CAP_RSC (1ull << 7)

struct nvsp_2_send_ndis_config {
	uint32_t mtu;        /* Linux: its MTU + 14, i.e. the largest Ethernet frame */
	uint32_t reserved;
	uint64_t capability; /* NVSP_VSC_CAP_* */
} __attribute__((packed));

struct nvsp_4_sw_datapath {
	uint32_t active_datapath;
} __attribute__((packed));

struct nvsp_5_subchannel_request {
	uint32_t op;
	uint32_t num_subchannels;
} __attribute__((packed));

struct nvsp_5_subchannel_complete {
	uint32_t status;
	uint32_t num_subchannels;
} __attribute__((packed));

/* Followed (at offset, counted from the start of the NVSP message) by count u32 channel
 * numbers. */
struct nvsp_5_send_indirect_table {
	uint32_t count;
	uint32_t offset;
} __attribute__((packed));

/* The full message as Linux sizes it: the header and the largest member of its union, the
 * NVSPv6 PD API completion (36 bytes). Linux sends every NVSP message with this size and copies
 * this many bytes out of the completions it receives, so the host sends control completions
 * with this size too. */
#define NVSP_MESSAGE_SIZE 40u
#define NVSP_MESSAGE_SIZE_V1 28u /* openvmm PACKET_SIZE_V1 */

struct nvsp_message {
	struct nvsp_message_header hdr;
	union {
		struct nvsp_message_init init;
		struct nvsp_message_init_complete init_complete;
		struct nvsp_1_message_send_ndis_version send_ndis_ver;
		struct nvsp_1_message_send_receive_buffer send_recv_buf;
		struct nvsp_1_message_send_receive_buffer_complete send_recv_buf_complete;
		struct nvsp_1_message_revoke_receive_buffer revoke_recv_buf;
		struct nvsp_1_message_send_send_buffer send_send_buf;
		struct nvsp_1_message_send_send_buffer_complete send_send_buf_complete;
		struct nvsp_1_message_revoke_send_buffer revoke_send_buf;
		struct nvsp_1_message_send_rndis_packet send_rndis_pkt;
		struct nvsp_1_message_send_rndis_packet_complete send_rndis_pkt_complete;
		struct nvsp_2_send_ndis_config send_ndis_config;
		struct nvsp_4_sw_datapath active_dp;
		struct nvsp_5_subchannel_request subchn_req;
		struct nvsp_5_subchannel_complete subchn_comp;
		struct nvsp_5_send_indirect_table send_table;
		uint8_t raw[NVSP_MESSAGE_SIZE - 4];
	} msg;
} __attribute__((packed));

_Static_assert(sizeof(struct nvsp_message) == NVSP_MESSAGE_SIZE, "nvsp_message");
_Static_assert(sizeof(struct nvsp_1_message_send_receive_buffer_complete) == 24, "recv buf comp");
_Static_assert(sizeof(struct nvsp_1_message_send_receive_buffer) == 6, "send_recv_buf");
_Static_assert(sizeof(struct nvsp_1_message_send_rndis_packet) == 12, "send_rndis_pkt");
_Static_assert(sizeof(struct nvsp_2_send_ndis_config) == 16, "ndis config");
_Static_assert(offsetof(struct nvsp_message, msg.send_ndis_config.capability) == 12, "capability");
_Static_assert(offsetof(struct nvsp_message, msg.init_complete.status) == 12, "init status");

/* The send indirection table message we send: the header, the table descriptor, the table
 * right after it (offset 12 from the message start). */
struct nvsp_send_indirection_table_msg {
	struct nvsp_message_header hdr;
	struct nvsp_5_send_indirect_table send_table;
	uint32_t table[VRSS_SEND_TAB_SIZE];
} __attribute__((packed));
_Static_assert(offsetof(struct nvsp_send_indirection_table_msg, table) == 12, "table offset");
_Static_assert(sizeof(struct nvsp_send_indirection_table_msg) == 76, "indirection message");

#endif
