/* Remote NDIS as netvsc speaks it over NVSP: messages, statuses, OIDs, per-packet info and the
 * NDIS objects of the offload and RSS OIDs. Names as Linux include/linux/rndis.h and
 * drivers/net/hyperv/hyperv_net.h spell them; layouts cross-checked with openvmm rndisprot.rs
 * and the Windows NDIS headers (NDIS_STATISTICS_INFO, NDIS_LINK_STATE). Little-endian. */
#ifndef HVKVM_SYNTHETIC_RNDIS_PROTOCOL_H
#define HVKVM_SYNTHETIC_RNDIS_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

/* ---- Messages ---- */
#define RNDIS_MSG_COMPLETION 0x80000000u
#define RNDIS_MSG_PACKET 0x00000001u
#define RNDIS_MSG_INIT 0x00000002u
#define RNDIS_MSG_INIT_C (RNDIS_MSG_INIT | RNDIS_MSG_COMPLETION)
#define RNDIS_MSG_HALT 0x00000003u
#define RNDIS_MSG_QUERY 0x00000004u
#define RNDIS_MSG_QUERY_C (RNDIS_MSG_QUERY | RNDIS_MSG_COMPLETION)
#define RNDIS_MSG_SET 0x00000005u
#define RNDIS_MSG_SET_C (RNDIS_MSG_SET | RNDIS_MSG_COMPLETION)
#define RNDIS_MSG_RESET 0x00000006u
#define RNDIS_MSG_RESET_C (RNDIS_MSG_RESET | RNDIS_MSG_COMPLETION)
#define RNDIS_MSG_INDICATE 0x00000007u
#define RNDIS_MSG_KEEPALIVE 0x00000008u
#define RNDIS_MSG_KEEPALIVE_C (RNDIS_MSG_KEEPALIVE | RNDIS_MSG_COMPLETION)

#define RNDIS_MAJOR_VERSION 1u
#define RNDIS_MINOR_VERSION 0u
#define RNDIS_DF_CONNECTIONLESS 0x00000001u
#define NDIS_MEDIUM_802_3 0u

/* ---- Statuses ---- */
#define RNDIS_STATUS_SUCCESS 0x00000000u
#define RNDIS_STATUS_FAILURE 0xc0000001u
#define RNDIS_STATUS_RESOURCES 0xc000009au
#define RNDIS_STATUS_NOT_SUPPORTED 0xc00000bbu
#define RNDIS_STATUS_MULTICAST_FULL 0xc0010009u
#define RNDIS_STATUS_INVALID_LENGTH 0xc0010014u
#define RNDIS_STATUS_INVALID_DATA 0xc0010015u
#define RNDIS_STATUS_BUFFER_TOO_SHORT 0xc0010016u
#define RNDIS_STATUS_MEDIA_CONNECT 0x4001000bu
#define RNDIS_STATUS_MEDIA_DISCONNECT 0x4001000cu
#define RNDIS_STATUS_LINK_SPEED_CHANGE 0x40010013u

struct rndis_msg_header {
	uint32_t ndis_msg_type;
	uint32_t msg_len; /* the whole message, this header included */
};

struct rndis_initialize_request {
	uint32_t req_id;
	uint32_t major_ver;
	uint32_t minor_ver;
	uint32_t max_xfer_size;
};

struct rndis_initialize_complete {
	uint32_t req_id;
	uint32_t status;
	uint32_t major_ver;
	uint32_t minor_ver;
	uint32_t dev_flags;
	uint32_t medium;
	uint32_t max_pkt_per_msg;
	uint32_t max_xfer_size;
	uint32_t pkt_alignment_factor; /* the guest aligns batched packets to 1 << this */
	uint32_t af_list_offset;
	uint32_t af_list_size;
};

struct rndis_halt_request {
	uint32_t req_id;
};

/* Query and set share the layout; info_buf_offset counts from req_id (the byte after the
 * message header). */
struct rndis_query_request {
	uint32_t req_id;
	uint32_t oid;
	uint32_t info_buflen;
	uint32_t info_buf_offset;
	uint32_t dev_vc_handle;
};

struct rndis_query_complete {
	uint32_t req_id;
	uint32_t status;
	uint32_t info_buflen;
	uint32_t info_buf_offset;
};

struct rndis_set_request {
	uint32_t req_id;
	uint32_t oid;
	uint32_t info_buflen;
	uint32_t info_buf_offset;
	uint32_t dev_vc_handle;
};

struct rndis_set_complete {
	uint32_t req_id;
	uint32_t status;
};

struct rndis_reset_request {
	uint32_t reserved;
};

struct rndis_reset_complete {
	uint32_t status;
	uint32_t addressing_reset;
};

struct rndis_indicate_status {
	uint32_t status;
	uint32_t status_buflen;
	uint32_t status_buf_offset;
};

struct rndis_keepalive_request {
	uint32_t req_id;
};

struct rndis_keepalive_complete {
	uint32_t req_id;
	uint32_t status;
};

/* Data message. Offsets count from data_offset's own position (the byte after the message
 * header). */
struct rndis_packet {
	uint32_t data_offset;
	uint32_t data_len;
	uint32_t oob_data_offset;
	uint32_t oob_data_len;
	uint32_t num_oob_data_elements;
	uint32_t per_pkt_info_offset;
	uint32_t per_pkt_info_len;
	uint32_t vc_handle;
	uint32_t reserved;
};

/* One per-packet info: its data at ppi_offset from its own start. */
struct rndis_per_packet_info {
	uint32_t size;
	uint32_t type;       /* low 31 bits the type, bit 31 RNDIS_PPI_INTERNAL */
	uint32_t ppi_offset;
};
#define RNDIS_PPI_INTERNAL 0x80000000u

/* ndis_per_pkt_info_type. */
#define TCPIP_CHKSUM_PKTINFO 0u
#define IPSEC_PKTINFO 1u
#define TCP_LARGESEND_PKTINFO 2u
#define CLASSIFICATION_HANDLE_PKTINFO 3u
#define NDIS_RESERVED 4u
#define SG_LIST_PKTINFO 5u
#define IEEE_8021Q_INFO 6u
#define ORIGINAL_PKTINFO 7u
#define PACKET_CANCEL_ID 8u
#define NBL_HASH_VALUE PACKET_CANCEL_ID /* the RSS hash (Linux, FreeBSD hn) */
#define ORIGINAL_NET_BUFLIST 9u
#define NBL_HASH_INFO ORIGINAL_NET_BUFLIST /* NDIS_HASH_* of that hash (FreeBSD hn) */
#define CACHED_NET_BUFLIST 10u
#define SHORT_PKT_PADINFO 11u

/* struct ndis_tcp_ip_checksum_info, transmit view (bits of its u32). */
#define NDIS_TXCSUM_INFO_IS_IPV4 (1u << 0)
#define NDIS_TXCSUM_INFO_IS_IPV6 (1u << 1)
#define NDIS_TXCSUM_INFO_TCP_CHECKSUM (1u << 2)
#define NDIS_TXCSUM_INFO_UDP_CHECKSUM (1u << 3)
#define NDIS_TXCSUM_INFO_IP_HEADER_CHECKSUM (1u << 4)
#define NDIS_TXCSUM_INFO_TCP_HEADER_OFFSET(v) (((v) >> 16) & 0x3ffu)
/* Receive view. */
#define NDIS_RXCSUM_INFO_TCP_FAILED (1u << 0)
#define NDIS_RXCSUM_INFO_UDP_FAILED (1u << 1)
#define NDIS_RXCSUM_INFO_IP_FAILED (1u << 2)
#define NDIS_RXCSUM_INFO_TCP_SUCCEEDED (1u << 3)
#define NDIS_RXCSUM_INFO_UDP_SUCCEEDED (1u << 4)
#define NDIS_RXCSUM_INFO_IP_SUCCEEDED (1u << 5)
#define NDIS_RXCSUM_INFO_LOOPBACK (1u << 6)

/* struct ndis_tcp_lso_info, LSOv2 transmit view. */
#define NDIS_LSO_INFO_MSS(v) ((v) & 0xfffffu)
#define NDIS_LSO_INFO_TCP_HEADER_OFFSET(v) (((v) >> 20) & 0x3ffu)
#define NDIS_LSO_INFO_TYPE(v) (((v) >> 30) & 1u)
#define NDIS_LSO_INFO_IP_VERSION(v) (((v) >> 31) & 1u)
#define NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE 0u
#define NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE 1u
#define NDIS_TCP_LARGE_SEND_OFFLOAD_IPV4 0u
#define NDIS_TCP_LARGE_SEND_OFFLOAD_IPV6 1u

/* struct ndis_pkt_8021q_info. */
#define NDIS_8021Q_INFO_PRI(v) ((v) & 7u)
#define NDIS_8021Q_INFO_CFI(v) (((v) >> 3) & 1u)
#define NDIS_8021Q_INFO_VLANID(v) (((v) >> 4) & 0xfffu)

/* ---- OIDs ---- */
#define OID_GEN_SUPPORTED_LIST 0x00010101u
#define OID_GEN_HARDWARE_STATUS 0x00010102u
#define OID_GEN_MEDIA_SUPPORTED 0x00010103u
#define OID_GEN_MEDIA_IN_USE 0x00010104u
#define OID_GEN_MAXIMUM_LOOKAHEAD 0x00010105u
#define OID_GEN_MAXIMUM_FRAME_SIZE 0x00010106u
#define OID_GEN_LINK_SPEED 0x00010107u
#define OID_GEN_TRANSMIT_BUFFER_SPACE 0x00010108u
#define OID_GEN_RECEIVE_BUFFER_SPACE 0x00010109u
#define OID_GEN_TRANSMIT_BLOCK_SIZE 0x0001010au
#define OID_GEN_RECEIVE_BLOCK_SIZE 0x0001010bu
#define OID_GEN_VENDOR_ID 0x0001010cu
#define OID_GEN_VENDOR_DESCRIPTION 0x0001010du
#define OID_GEN_CURRENT_PACKET_FILTER 0x0001010eu
#define OID_GEN_CURRENT_LOOKAHEAD 0x0001010fu
#define OID_GEN_DRIVER_VERSION 0x00010110u
#define OID_GEN_MAXIMUM_TOTAL_SIZE 0x00010111u
#define OID_GEN_PROTOCOL_OPTIONS 0x00010112u
#define OID_GEN_MAC_OPTIONS 0x00010113u
#define OID_GEN_MEDIA_CONNECT_STATUS 0x00010114u
#define OID_GEN_MAXIMUM_SEND_PACKETS 0x00010115u
#define OID_GEN_VENDOR_DRIVER_VERSION 0x00010116u
#define OID_GEN_NETWORK_LAYER_ADDRESSES 0x00010118u
#define OID_GEN_RNDIS_CONFIG_PARAMETER 0x0001021bu
#define OID_GEN_RECEIVE_SCALE_CAPABILITIES 0x00010203u
#define OID_GEN_RECEIVE_SCALE_PARAMETERS 0x00010204u
#define OID_GEN_MAX_LINK_SPEED 0x00010206u
#define OID_GEN_LINK_STATE 0x00010207u
#define OID_GEN_LINK_PARAMETERS 0x00010208u
#define OID_GEN_XMIT_OK 0x00020101u
#define OID_GEN_RCV_OK 0x00020102u
#define OID_GEN_XMIT_ERROR 0x00020103u
#define OID_GEN_RCV_ERROR 0x00020104u
#define OID_GEN_RCV_NO_BUFFER 0x00020105u
#define OID_GEN_STATISTICS 0x00020106u
#define OID_GEN_BYTES_RCV 0x00020219u
#define OID_GEN_BYTES_XMIT 0x0002021au
#define OID_GEN_FRIENDLY_NAME 0x00020216u
#define OID_802_3_PERMANENT_ADDRESS 0x01010101u
#define OID_802_3_CURRENT_ADDRESS 0x01010102u
#define OID_802_3_MULTICAST_LIST 0x01010103u
#define OID_802_3_MAXIMUM_LIST_SIZE 0x01010104u
#define OID_802_3_RCV_ERROR_ALIGNMENT 0x01020101u
#define OID_802_3_XMIT_ONE_COLLISION 0x01020102u
#define OID_802_3_XMIT_MORE_COLLISIONS 0x01020103u
#define OID_OFFLOAD_ENCAPSULATION 0x0101010au
#define OID_TCP_OFFLOAD_CURRENT_CONFIG 0xfc01020bu
#define OID_TCP_OFFLOAD_PARAMETERS 0xfc01020cu
#define OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES 0xfc01020du

/* OID_GEN_CURRENT_PACKET_FILTER bits. */
#define NDIS_PACKET_TYPE_DIRECTED 0x00000001u
#define NDIS_PACKET_TYPE_MULTICAST 0x00000002u
#define NDIS_PACKET_TYPE_ALL_MULTICAST 0x00000004u
#define NDIS_PACKET_TYPE_BROADCAST 0x00000008u
#define NDIS_PACKET_TYPE_PROMISCUOUS 0x00000020u

/* OID_GEN_MEDIA_CONNECT_STATUS values. */
#define NDIS_MEDIA_STATE_CONNECTED 0u
#define NDIS_MEDIA_STATE_DISCONNECTED 1u

/* OID_GEN_MAC_OPTIONS bits. */
#define NDIS_MAC_OPTION_COPY_LOOKAHEAD_DATA 0x00000001u
#define NDIS_MAC_OPTION_TRANSFERS_NOT_PEND 0x00000004u
#define NDIS_MAC_OPTION_NO_LOOPBACK 0x00000008u
#define NDIS_MAC_OPTION_FULL_DUPLEX 0x00000010u
#define NDIS_MAC_OPTION_8021P_PRIORITY 0x00000040u
#define NDIS_MAC_OPTION_8021Q_VLAN 0x00000200u

/* ---- NDIS objects ---- */
struct ndis_object_header {
	uint8_t type;
	uint8_t revision;
	uint16_t size;
};
#define NDIS_OBJECT_TYPE_DEFAULT 0x80u
#define NDIS_OBJECT_TYPE_RSS_CAPABILITIES 0x88u
#define NDIS_OBJECT_TYPE_RSS_PARAMETERS 0x89u
#define NDIS_OBJECT_TYPE_OFFLOAD 0xa7u
#define NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION 0xa8u

/* NDIS_OFFLOAD (OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES / _CURRENT_CONFIG). Every capability
 * field of the checksum part is a 2-bit "supported" value; 1 = supported, packed as below. */
#define NDIS_OFFLOAD_ENCAP_8023 0x0002u
#define NDIS_TXCSUM_CAP_IP4OPT 0x001u
#define NDIS_TXCSUM_CAP_TCP4OPT 0x004u
#define NDIS_TXCSUM_CAP_TCP4 0x010u
#define NDIS_TXCSUM_CAP_UDP4 0x040u
#define NDIS_TXCSUM_CAP_IP4 0x100u
#define NDIS_TXCSUM_CAP_IP6EXT 0x001u
#define NDIS_TXCSUM_CAP_TCP6OPT 0x004u
#define NDIS_TXCSUM_CAP_TCP6 0x010u
#define NDIS_TXCSUM_CAP_UDP6 0x040u
#define NDIS_LSOV2_CAP_IP6EXT 0x001u
#define NDIS_LSOV2_CAP_TCP6OPT 0x004u

struct ndis_csum_offload {
	uint32_t ip4_txenc;
	uint32_t ip4_txcsum;
	uint32_t ip4_rxenc;
	uint32_t ip4_rxcsum;
	uint32_t ip6_txenc;
	uint32_t ip6_txcsum;
	uint32_t ip6_rxenc;
	uint32_t ip6_rxcsum;
};

struct ndis_lsov1_offload {
	uint32_t encap;
	uint32_t maxsize;
	uint32_t minsegs;
	uint32_t opts;
};

struct ndis_ipsecv1_offload {
	uint32_t encap;
	uint32_t ah_esp;
	uint32_t xport_tun;
	uint32_t ip4_opts;
	uint32_t flags;
	uint32_t ip4_ah;
	uint32_t ip4_esp;
};

struct ndis_lsov2_offload {
	uint32_t ip4_encap;
	uint32_t ip4_maxsz;
	uint32_t ip4_minsg;
	uint32_t ip6_encap;
	uint32_t ip6_maxsz;
	uint32_t ip6_minsg;
	uint32_t ip6_opts;
};

struct ndis_ipsecv2_offload {
	uint32_t encap;
	uint8_t ip6;
	uint8_t ip4opt;
	uint8_t ip6ext;
	uint8_t ah;
	uint8_t esp;
	uint8_t ah_esp;
	uint8_t xport;
	uint8_t tun;
	uint8_t xport_tun;
	uint8_t lso;
	uint8_t extseq;
	uint8_t reserved;
	uint32_t udp_esp;
	uint32_t auth;
	uint32_t crypto;
	uint32_t sa_caps;
};

struct ndis_rsc_offload {
	uint8_t ip4;
	uint8_t ip6;
	uint8_t reserved[2];
};

struct ndis_encap_offload {
	uint32_t flags;
	uint32_t maxhdr;
};

struct ndis_offload {
	struct ndis_object_header header;
	struct ndis_csum_offload csum;
	struct ndis_lsov1_offload lsov1;
	struct ndis_ipsecv1_offload ipsecv1;
	struct ndis_lsov2_offload lsov2;
	uint32_t flags;
	struct ndis_ipsecv2_offload ipsecv2; /* NDIS >= 6.1 */
	struct ndis_rsc_offload rsc;         /* NDIS >= 6.30 */
	struct ndis_encap_offload encap_gre;
};
#define NDIS_OFFLOAD_PARAMETERS_REVISION_1 1u
#define NDIS_OFFLOAD_PARAMETERS_REVISION_2 2u
#define NDIS_OFFLOAD_PARAMETERS_REVISION_3 3u
#define NDIS_OFFLOAD_SIZE_6_0 offsetof(struct ndis_offload, ipsecv2)
#define NDIS_OFFLOAD_SIZE_6_1 offsetof(struct ndis_offload, rsc)
#define NDIS_OFFLOAD_SIZE sizeof(struct ndis_offload)
_Static_assert(NDIS_OFFLOAD_SIZE_6_0 == 112, "NDIS_OFFLOAD revision 1");
_Static_assert(NDIS_OFFLOAD_SIZE_6_1 == 144, "NDIS_OFFLOAD revision 2");
_Static_assert(NDIS_OFFLOAD_SIZE == 156, "NDIS_OFFLOAD revision 3");
_Static_assert(offsetof(struct ndis_offload, lsov2) == 80, "lsov2");

/* NDIS_OFFLOAD_PARAMETERS (OID_TCP_OFFLOAD_PARAMETERS, set). */
struct ndis_offload_params {
	struct ndis_object_header header;
	uint8_t ip_v4_csum;
	uint8_t tcp_ip_v4_csum;
	uint8_t udp_ip_v4_csum;
	uint8_t tcp_ip_v6_csum;
	uint8_t udp_ip_v6_csum;
	uint8_t lso_v1;
	uint8_t ip_sec_v1;
	uint8_t lso_v2_ipv4;
	uint8_t lso_v2_ipv6;
	uint8_t tcp_connection_ip_v4;
	uint8_t tcp_connection_ip_v6;
	uint8_t reserved;
	uint32_t flags;
	uint8_t ip_sec_v2;
	uint8_t ip_sec_v2_ip_v4;
	uint8_t rsc_ip_v4;
	uint8_t rsc_ip_v6;
	uint8_t encapsulated_packet_task_offload;
	uint8_t encapsulation_types;
	uint8_t reserved2[2];
};
#define NDIS_OFFLOAD_PARAMETERS_SIZE_REVISION_1 20u
_Static_assert(offsetof(struct ndis_offload_params, flags) == 16, "offload params flags");
_Static_assert(sizeof(struct ndis_offload_params) == 28, "offload params");
#define NDIS_OFFLOAD_PARAMETERS_NO_CHANGE 0u
#define NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED 1u
#define NDIS_OFFLOAD_PARAMETERS_TX_ENABLED_RX_DISABLED 2u
#define NDIS_OFFLOAD_PARAMETERS_RX_ENABLED_TX_DISABLED 3u
#define NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED 4u
#define NDIS_OFFLOAD_PARAMETERS_LSOV2_DISABLED 1u
#define NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED 2u
#define NDIS_OFFLOAD_PARAMETERS_LSOV1_ENABLED 2u

/* NDIS_OFFLOAD_ENCAPSULATION (OID_OFFLOAD_ENCAPSULATION). */
struct ndis_offload_encapsulation {
	struct ndis_object_header header;
	uint32_t ipv4_enabled;
	uint32_t ipv4_encapsulation_type;
	uint32_t ipv4_header_size;
	uint32_t ipv6_enabled;
	uint32_t ipv6_encapsulation_type;
	uint32_t ipv6_header_size;
};
_Static_assert(sizeof(struct ndis_offload_encapsulation) == 28, "offload encapsulation");
#define NDIS_OFFLOAD_SET_NO_CHANGE 0u
#define NDIS_OFFLOAD_SET_ON 1u
#define NDIS_OFFLOAD_SET_OFF 2u
#define NDIS_OFFLOAD_SUPPORTED 1u

/* NDIS_RECEIVE_SCALE_CAPABILITIES revision 2: 18 bytes on the wire (Linux declares it packed). */
struct ndis_recv_scale_cap {
	struct ndis_object_header hdr;
	uint32_t cap_flag;
	uint32_t num_int_msg;
	uint32_t num_recv_que;
	uint16_t num_indirect_tabent;
} __attribute__((packed));
_Static_assert(sizeof(struct ndis_recv_scale_cap) == 18, "RSS capabilities");
#define NDIS_RECEIVE_SCALE_CAPABILITIES_REVISION_2 2u
#define NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV4 0x00000100u
#define NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV6 0x00000200u
#define NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV6_EX 0x00000400u

/* NDIS_RECEIVE_SCALE_PARAMETERS. Offsets count from the start of this object. */
struct ndis_recv_scale_param {
	struct ndis_object_header hdr;
	uint16_t flag;
	uint16_t base_cpu_number;
	uint32_t hashinfo;
	uint16_t indirect_tabsize; /* bytes: 4 per entry */
	uint16_t reserved1;
	uint32_t indirect_taboffset;
	uint16_t hashkey_size;
	uint16_t reserved2;
	uint32_t hashkey_offset;
	uint32_t processor_masks_offset;
	uint32_t num_processor_masks;
	uint32_t processor_masks_entry_size;
};
_Static_assert(sizeof(struct ndis_recv_scale_param) == 40, "RSS parameters revision 2");
_Static_assert(offsetof(struct ndis_recv_scale_param, hashkey_offset) == 24, "hashkey_offset");
#define NDIS_RECEIVE_SCALE_PARAMETERS_REVISION_2 2u
#define NDIS_RECEIVE_SCALE_PARAMETERS_SIZE_REVISION_1 28u
#define NDIS_RSS_PARAM_FLAG_BASE_CPU_UNCHANGED 0x0001u
#define NDIS_RSS_PARAM_FLAG_HASH_INFO_UNCHANGED 0x0002u
#define NDIS_RSS_PARAM_FLAG_ITABLE_UNCHANGED 0x0004u
#define NDIS_RSS_PARAM_FLAG_HASH_KEY_UNCHANGED 0x0008u
#define NDIS_RSS_PARAM_FLAG_DISABLE_RSS 0x0010u

/* Hash information: function (low byte) and types. */
#define NDIS_HASH_FUNCTION_MASK 0x000000ffu
#define NDIS_HASH_FUNC_TOEPLITZ 0x00000001u
#define NDIS_HASH_IPV4 0x00000100u
#define NDIS_HASH_TCP_IPV4 0x00000200u
#define NDIS_HASH_IPV6 0x00000400u
#define NDIS_HASH_IPV6_EX 0x00000800u
#define NDIS_HASH_TCP_IPV6 0x00001000u
#define NDIS_HASH_TCP_IPV6_EX 0x00002000u
#define NDIS_HASH_UDP_IPV4 0x00004000u
#define NDIS_HASH_UDP_IPV6 0x00008000u

#define NDIS_RSS_HASH_SECRET_KEY_SIZE 40u
#define NDIS_RSS_INDIRECTION_TABLE_MAX 128u /* entries (Linux ITAB_NUM) */

/* OID_GEN_RNDIS_CONFIG_PARAMETER (set): offsets from the start of this structure; the name and
 * string values are UTF-16LE. */
struct rndis_config_parameter_info {
	uint32_t parameter_name_offset;
	uint32_t parameter_name_length;
	uint32_t parameter_type;
	uint32_t parameter_value_offset;
	uint32_t parameter_value_length;
};
#define RNDIS_CONFIG_PARAM_TYPE_INTEGER 0u
#define RNDIS_CONFIG_PARAM_TYPE_STRING 2u

/* NDIS_LINK_STATE (OID_GEN_LINK_STATE). */
struct ndis_link_state {
	struct ndis_object_header header;
	uint32_t media_connect_state; /* 0 unknown, 1 connected, 2 disconnected */
	uint32_t media_duplex_state;  /* 0 unknown, 1 half, 2 full */
	uint32_t padding;
	uint64_t xmit_link_speed;     /* bits per second */
	uint64_t rcv_link_speed;
	uint32_t pause_functions;
	uint32_t auto_negotiation_flags;
};
_Static_assert(sizeof(struct ndis_link_state) == 40, "NDIS_LINK_STATE");
#define NDIS_MEDIA_CONNECT_STATE_CONNECTED 1u
#define NDIS_MEDIA_CONNECT_STATE_DISCONNECTED 2u
#define NDIS_MEDIA_DUPLEX_STATE_FULL 2u

/* NDIS_LINK_SPEED (OID_GEN_MAX_LINK_SPEED). */
struct ndis_link_speed {
	uint64_t xmit;
	uint64_t rcv;
};

/* NDIS_STATISTICS_INFO revision 1 (OID_GEN_STATISTICS). */
struct ndis_statistics_info {
	struct ndis_object_header header;
	uint32_t supported_statistics; /* NDIS_STATISTICS_FLAGS_VALID_* */
	uint64_t if_in_discards;
	uint64_t if_in_errors;
	uint64_t if_hc_in_octets;
	uint64_t if_hc_in_ucast_pkts;
	uint64_t if_hc_in_multicast_pkts;
	uint64_t if_hc_in_broadcast_pkts;
	uint64_t if_hc_out_octets;
	uint64_t if_hc_out_ucast_pkts;
	uint64_t if_hc_out_multicast_pkts;
	uint64_t if_hc_out_broadcast_pkts;
	uint64_t if_out_errors;
	uint64_t if_out_discards;
	uint64_t if_hc_in_ucast_octets;
	uint64_t if_hc_in_multicast_octets;
	uint64_t if_hc_in_broadcast_octets;
	uint64_t if_hc_out_ucast_octets;
	uint64_t if_hc_out_multicast_octets;
	uint64_t if_hc_out_broadcast_octets;
};
_Static_assert(sizeof(struct ndis_statistics_info) == 152, "NDIS_STATISTICS_INFO");
#define NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_RCV 0x00000001u
#define NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_RCV 0x00000002u
#define NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_RCV 0x00000004u
#define NDIS_STATISTICS_FLAGS_VALID_BYTES_RCV 0x00000008u
#define NDIS_STATISTICS_FLAGS_VALID_RCV_DISCARDS 0x00000010u
#define NDIS_STATISTICS_FLAGS_VALID_RCV_ERROR 0x00000020u
#define NDIS_STATISTICS_FLAGS_VALID_DIRECTED_FRAMES_XMIT 0x00000040u
#define NDIS_STATISTICS_FLAGS_VALID_MULTICAST_FRAMES_XMIT 0x00000080u
#define NDIS_STATISTICS_FLAGS_VALID_BROADCAST_FRAMES_XMIT 0x00000100u
#define NDIS_STATISTICS_FLAGS_VALID_BYTES_XMIT 0x00000200u
#define NDIS_STATISTICS_FLAGS_VALID_XMIT_ERROR 0x00000400u
#define NDIS_STATISTICS_FLAGS_VALID_XMIT_DISCARDS 0x00008000u
#define NDIS_STATISTICS_FLAGS_VALID_DIRECTED_BYTES_RCV 0x00010000u
#define NDIS_STATISTICS_FLAGS_VALID_MULTICAST_BYTES_RCV 0x00020000u
#define NDIS_STATISTICS_FLAGS_VALID_BROADCAST_BYTES_RCV 0x00040000u
#define NDIS_STATISTICS_FLAGS_VALID_DIRECTED_BYTES_XMIT 0x00080000u
#define NDIS_STATISTICS_FLAGS_VALID_MULTICAST_BYTES_XMIT 0x00100000u
#define NDIS_STATISTICS_FLAGS_VALID_BROADCAST_BYTES_XMIT 0x00200000u

_Static_assert(sizeof(struct rndis_msg_header) == 8, "rndis header");
_Static_assert(sizeof(struct rndis_initialize_complete) == 44, "init complete");
_Static_assert(sizeof(struct rndis_query_request) == 20, "query request");
_Static_assert(sizeof(struct rndis_packet) == 36, "rndis_packet");
_Static_assert(sizeof(struct rndis_per_packet_info) == 12, "per-packet info");
_Static_assert(sizeof(struct rndis_indicate_status) == 12, "indicate status");

#endif
