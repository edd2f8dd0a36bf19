/* Hyper-V integration components on the wire: the pipe and IC message headers, version negotiation,
 * and the messages of shutdown, heartbeat, time sync, KVP, VSS and file copy. Names and layouts as
 * Linux 6.1 include/linux/hyperv.h and include/uapi/linux/hyperv.h (the guest side); the sizes a
 * host sends as openvmm's hyperv_ic_protocol. All little-endian, packed. */
#ifndef HVKVM_SYNTHETIC_IC_PROTOCOL_H
#define HVKVM_SYNTHETIC_IC_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

/* ---- Framing: every IC packet is a vmbuspipe_hdr, an icmsg_hdr, then the message ---- */

/* vmbuspipe_hdr.flags: a data packet of a message-mode pipe (openvmm PIPE_PACKET_TYPE_DATA). */
#define VMBUSPIPE_PACKET_TYPE_DATA 1u

struct vmbuspipe_hdr {
	uint32_t flags;
	uint32_t msgsize; /* bytes after this header: icmsg_hdr + message */
} __attribute__((packed));
_Static_assert(sizeof(struct vmbuspipe_hdr) == 8, "vmbuspipe_hdr");

struct ic_version {
	uint16_t major;
	uint16_t minor;
} __attribute__((packed));
_Static_assert(sizeof(struct ic_version) == 4, "ic_version");

/* icmsg_hdr.icmsgtype. Guest-controlled in answers: compared, never used as an index. */
#define ICMSGTYPE_NEGOTIATE 0
#define ICMSGTYPE_HEARTBEAT 1
#define ICMSGTYPE_KVPEXCHANGE 2
#define ICMSGTYPE_SHUTDOWN 3
#define ICMSGTYPE_TIMESYNC 4
#define ICMSGTYPE_VSS 5
#define ICMSGTYPE_FCOPY 7

/* icmsg_hdr.icflags */
#define ICMSGHDRFLAG_TRANSACTION 1
#define ICMSGHDRFLAG_REQUEST 2
#define ICMSGHDRFLAG_RESPONSE 4

struct icmsg_hdr {
	struct ic_version icverframe; /* negotiated framework version (0.0 in NEGOTIATE) */
	uint16_t icmsgtype;
	struct ic_version icvermsg;   /* negotiated message version (0.0 in NEGOTIATE) */
	uint16_t icmsgsize;           /* bytes of the message after this header */
	uint32_t status;              /* HV_S_OK or an HRESULT in answers */
	uint8_t ictransaction_id;
	uint8_t icflags;
	uint8_t reserved[2];
} __attribute__((packed));
_Static_assert(sizeof(struct icmsg_hdr) == 20, "icmsg_hdr");
_Static_assert(offsetof(struct icmsg_hdr, status) == 12, "icmsg_hdr.status");
_Static_assert(offsetof(struct icmsg_hdr, ictransaction_id) == 16, "icmsg_hdr.ictransaction_id");

/* Both headers: where the message starts in a packet's payload. */
#define ICMSG_HDR (sizeof(struct vmbuspipe_hdr) + sizeof(struct icmsg_hdr))

/* Statuses (HRESULTs) in icmsg_hdr.status. */
#define HV_S_OK 0x00000000u
#define HV_E_FAIL 0x80004005u
#define HV_S_CONT 0x80070103u /* KVP: no more items (end of an enumeration, key not found) */
#define HV_ERROR_NOT_SUPPORTED 0x80070032u
#define HV_ERROR_MACHINE_LOCKED 0x800704F7u
#define HV_ERROR_DEVICE_NOT_CONNECTED 0x8007048Fu
#define HV_INVALIDARG 0x80070057u
#define HV_GUID_NOTFOUND 0x80041002u
#define HV_ERROR_ALREADY_EXISTS 0x80070050u
#define HV_ERROR_DISK_FULL 0x80070070u

/* ---- ICMSGTYPE_NEGOTIATE ----
 * The host lists icframe_vercnt framework versions, then icmsg_vercnt message versions, in
 * icversion_data. The guest answers with counts 1/1 and its choice in icversion_data[0] (framework)
 * and [1] (message), or counts 0/0 when nothing is in common. */
#define IC_VERSION_NEGOTIATION_MAX_VER_COUNT 100

struct icmsg_negotiate {
	uint16_t icframe_vercnt;
	uint16_t icmsg_vercnt;
	uint32_t reserved;
	struct ic_version icversion_data[];
} __attribute__((packed));
_Static_assert(sizeof(struct icmsg_negotiate) == 8, "icmsg_negotiate");

/* Framework versions (UTIL_FW_VERSION, UTIL_WS2K8_FW_VERSION). */
#define UTIL_FW_MAJOR 3
#define UTIL_WS2K8_FW_MAJOR 1

/* ---- ICMSGTYPE_SHUTDOWN (message versions 1.0, 3.0, 3.1, 3.2) ---- */

/* shutdown_msg_data.flags: Linux reads 0/1 power off, 2/3 reboot, 4/5 hibernate; bit 0 forces. */
#define SHUTDOWN_FLAG_FORCE 0x1u
#define SHUTDOWN_FLAG_RESTART 0x2u
#define SHUTDOWN_FLAG_HIBERNATE 0x4u
/* reason_code of a host-initiated shutdown (openvmm's choice, as Windows' planned shutdowns). */
#define SHTDN_REASON_FLAG_PLANNED 0x80000000u
#define SHUTDOWN_DISPLAY_MESSAGE_SIZE 2048

struct shutdown_msg_data {
	uint32_t reason_code;
	uint32_t timeout_seconds;
	uint32_t flags;
	uint8_t display_message[SHUTDOWN_DISPLAY_MESSAGE_SIZE];
} __attribute__((packed));
_Static_assert(sizeof(struct shutdown_msg_data) == 2060, "shutdown_msg_data");

/* ---- ICMSGTYPE_HEARTBEAT (1.0, 3.0): the guest answers seq_num + 1 ---- */

struct heartbeat_msg_data {
	uint64_t seq_num;
	uint32_t reserved[8];
} __attribute__((packed));
_Static_assert(sizeof(struct heartbeat_msg_data) == 40, "heartbeat_msg_data");

/* ---- ICMSGTYPE_TIMESYNC (1.0, 3.0: ictimesync_data; 4.0: ictimesync_ref_data) ---- */

#define ICTIMESYNCFLAG_PROBE 0
#define ICTIMESYNCFLAG_SYNC 1   /* set the clock now (channel opened, resume, host time stepped) */
#define ICTIMESYNCFLAG_SAMPLE 2 /* a periodic sample the guest may use */

/* 100 ns units from 1601-01-01 (the Windows epoch of parenttime) to 1970-01-01. */
#define WLTIMEDELTA 116444736000000000ull

/* Linux reads the first 25 bytes; the host pads to 28 as openvmm's TimesyncMessage. */
struct ictimesync_data {
	uint64_t parenttime;    /* host UTC in 100 ns units since 1601-01-01 */
	uint64_t childtime;
	uint64_t roundtriptime;
	uint8_t flags;          /* ICTIMESYNCFLAG_* */
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct ictimesync_data) == 28, "ictimesync_data");
_Static_assert(offsetof(struct ictimesync_data, flags) == 24, "ictimesync_data.flags");

/* 4.0: the partition reference time (TIME_REF_COUNT) when parenttime was read, so the guest can
 * add the delivery delay. Linux reads 22 bytes; the host sends 24 as openvmm's TimesyncMessageV4. */
struct ictimesync_ref_data {
	uint64_t parenttime;
	uint64_t vmreferencetime;
	uint8_t flags;
	uint8_t leapflags;
	uint8_t stratum;
	uint8_t reserved[5];
} __attribute__((packed));
_Static_assert(sizeof(struct ictimesync_ref_data) == 24, "ictimesync_ref_data");
_Static_assert(offsetof(struct ictimesync_ref_data, flags) == 16, "ictimesync_ref_data.flags");

/* ---- ICMSGTYPE_KVPEXCHANGE (1.0, 3.0, 4.0) ---- */

#define KVP_OP_GET 0
#define KVP_OP_SET 1
#define KVP_OP_DELETE 2
#define KVP_OP_ENUMERATE 3
#define KVP_OP_GET_IP_INFO 4
#define KVP_OP_SET_IP_INFO 5

/* Pools: 0 what the host gave the guest, 1 what the guest publishes, 2 the guest's intrinsic data
 * (FullyQualifiedDomainName, OSName, ... generated by hv_kvp_daemon), 3 and 4 auto pools. */
#define KVP_POOL_EXTERNAL 0
#define KVP_POOL_GUEST 1
#define KVP_POOL_AUTO 2
#define KVP_POOL_AUTO_EXTERNAL 3
#define KVP_POOL_AUTO_INTERNAL 4
#define KVP_POOL_COUNT 5

/* Value types (registry types). Linux answers REG_SZ only and reads REG_U64 as 8; Windows'
 * REG_EXPAND_SZ and REG_QWORD (openvmm's ValueType) are the other values a guest may answer. */
#define REG_SZ 1
#define REG_EXPAND_SZ 2
#define REG_U32 4
#define REG_U64 8
#define REG_QWORD 11

/* Bytes, terminating NUL included; keys and REG_SZ values are UTF-16LE on the wire. */
#define HV_KVP_EXCHANGE_MAX_VALUE_SIZE 2048
#define HV_KVP_EXCHANGE_MAX_KEY_SIZE 512

struct hv_kvp_hdr {
	uint8_t operation; /* KVP_OP_* */
	uint8_t pool;      /* KVP_POOL_* */
	uint16_t pad;
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_hdr) == 4, "hv_kvp_hdr");

struct hv_kvp_exchg_msg_value {
	uint32_t value_type;
	uint32_t key_size;   /* bytes */
	uint32_t value_size; /* bytes */
	uint8_t key[HV_KVP_EXCHANGE_MAX_KEY_SIZE];
	uint8_t value[HV_KVP_EXCHANGE_MAX_VALUE_SIZE]; /* REG_U32 / REG_U64: the number, LE */
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_exchg_msg_value) == 2572, "hv_kvp_exchg_msg_value");

struct hv_kvp_msg_enumerate {
	uint32_t index;
	struct hv_kvp_exchg_msg_value data;
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_msg_enumerate) == 2576, "hv_kvp_msg_enumerate");

struct hv_kvp_msg_get {
	struct hv_kvp_exchg_msg_value data;
} __attribute__((packed));

struct hv_kvp_msg_set {
	struct hv_kvp_exchg_msg_value data;
} __attribute__((packed));

struct hv_kvp_msg_delete {
	uint32_t key_size;
	uint8_t key[HV_KVP_EXCHANGE_MAX_KEY_SIZE];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_msg_delete) == 516, "hv_kvp_msg_delete");

/* GET, SET, DELETE and ENUMERATE on the VMBus wire. Linux's struct of the same name also holds
 * the IP variant and the daemon registration; on the wire the IP operations use hv_kvp_ip_msg
 * and this message is 2580 bytes (openvmm KvpMessage). */
struct hv_kvp_msg {
	struct hv_kvp_hdr kvp_hdr;
	union {
		struct hv_kvp_msg_get kvp_get;
		struct hv_kvp_msg_set kvp_set;
		struct hv_kvp_msg_delete kvp_delete;
		struct hv_kvp_msg_enumerate kvp_enum_data;
	} __attribute__((packed)) body;
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_msg) == 2580, "hv_kvp_msg");
_Static_assert(offsetof(struct hv_kvp_msg, body.kvp_enum_data.data.key) == 20, "kvp key");

#define ADDR_FAMILY_NONE 0x00
#define ADDR_FAMILY_IPV4 0x01
#define ADDR_FAMILY_IPV6 0x02

/* UTF-16 units. Address lists are ';'-separated, NUL-terminated. */
#define MAX_ADAPTER_ID_SIZE 128
#define MAX_IP_ADDR_SIZE 1024
#define MAX_GATEWAY_SIZE 512

struct hv_kvp_ipaddr_value {
	uint16_t adapter_id[MAX_ADAPTER_ID_SIZE]; /* Linux: the MAC as "00:15:5D:12:34:56" */
	uint8_t addr_family;
	uint8_t dhcp_enabled;
	uint16_t ip_addr[MAX_IP_ADDR_SIZE];
	uint16_t sub_net[MAX_IP_ADDR_SIZE];
	uint16_t gate_way[MAX_GATEWAY_SIZE];
	uint16_t dns_addr[MAX_IP_ADDR_SIZE];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_ipaddr_value) == 7426, "hv_kvp_ipaddr_value");

/* KVP_OP_GET_IP_INFO / KVP_OP_SET_IP_INFO on the wire (openvmm KvpMessage2). */
struct hv_kvp_ip_msg {
	uint8_t operation;
	uint8_t pool;
	struct hv_kvp_ipaddr_value kvp_ip_val;
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_ip_msg) == 7428, "hv_kvp_ip_msg");
_Static_assert(offsetof(struct hv_kvp_ip_msg, kvp_ip_val.ip_addr) == 260, "kvp ip_addr");

/* ---- ICMSGTYPE_VSS (message version 5.0 for Linux) ---- */

#define VSS_OP_CREATE 0
#define VSS_OP_DELETE 1
#define VSS_OP_HOT_BACKUP 2
#define VSS_OP_GET_DM_INFO 3
#define VSS_OP_BU_COMPLETE 4
#define VSS_OP_FREEZE 5 /* from 5.0 */
#define VSS_OP_THAW 6
#define VSS_OP_AUTO_RECOVER 7

/* hv_vss_check_feature.flags in the guest's HOT_BACKUP answer: no auto recovery. */
#define VSS_HBU_NO_AUTO_RECOVERY 0x00000005u

struct hv_vss_hdr {
	uint8_t operation; /* VSS_OP_* */
	uint8_t reserved[7];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_vss_hdr) == 8, "hv_vss_hdr");

struct hv_vss_msg {
	struct hv_vss_hdr vss_hdr;
	uint32_t flags; /* vss_cf.flags (HOT_BACKUP) or dm_info.flags (GET_DM_INFO) */
} __attribute__((packed));
_Static_assert(sizeof(struct hv_vss_msg) == 12, "hv_vss_msg");

/* ---- ICMSGTYPE_FCOPY (message version 1.1) ---- */

#define START_FILE_COPY 0
#define WRITE_TO_FILE 1
#define COMPLETE_FCOPY 2
#define CANCEL_FCOPY 3

/* hv_start_fcopy.copy_flags */
#define OVER_WRITE 0x1u
#define CREATE_PATH 0x2u

#define W_MAX_PATH 260              /* UTF-16 units, NUL included */
#define DATA_FRAGMENT (6 * 1024)    /* payload bytes of one WRITE_TO_FILE */

struct hv_fcopy_hdr {
	uint32_t operation;
	uint8_t service_id0[16]; /* unused */
	uint8_t service_id1[16];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_fcopy_hdr) == 36, "hv_fcopy_hdr");

struct hv_start_fcopy {
	struct hv_fcopy_hdr hdr;
	uint16_t file_name[W_MAX_PATH];
	uint16_t path_name[W_MAX_PATH]; /* the target directory; the daemon writes path/file */
	uint32_t copy_flags;
	uint64_t file_size;
} __attribute__((packed));
_Static_assert(sizeof(struct hv_start_fcopy) == 1088, "hv_start_fcopy");

struct hv_do_fcopy {
	struct hv_fcopy_hdr hdr;
	uint32_t pad;
	uint64_t offset;
	uint32_t size;
	uint8_t data[DATA_FRAGMENT];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_do_fcopy) == 6196, "hv_do_fcopy");
_Static_assert(offsetof(struct hv_do_fcopy, data) == 52, "hv_do_fcopy.data");

#endif
