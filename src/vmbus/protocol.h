/* VMBus channel-management messages (the "channel message" protocol carried in SynIC messages), as a
 * Linux guest speaks them: names and layouts follow Linux include/linux/hyperv.h and
 * drivers/hv/hyperv_vmbus.h; statuses and connection-id layout as openvmm's vmbus_core protocol.rs. */
#ifndef HVKVM_VMBUS_PROTOCOL_H
#define HVKVM_VMBUS_PROTOCOL_H

#include <stdint.h>

/* Interface and instance GUIDs, stored in wire order (the first three fields little-endian, then
 * 8 bytes as written: the layout of Linux's guid_t / Windows' GUID). */
struct vmbus_guid {
	uint8_t b[16];
};
_Static_assert(sizeof(struct vmbus_guid) == 16, "guid");

/* VMBUS_GUID(0xba6163d9, 0x04a1, 0x4d29, 0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f) is
 * {ba6163d9-04a1-4d29-b605-72e2ffb1dc7f}, as Linux's GUID_INIT writes it. */
#define VMBUS_GUID(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7)                                    \
	((struct vmbus_guid){ { (uint8_t)(a), (uint8_t)((a) >> 8), (uint8_t)((a) >> 16),         \
				(uint8_t)((a) >> 24), (uint8_t)(b), (uint8_t)((b) >> 8),         \
				(uint8_t)(c), (uint8_t)((c) >> 8), d0, d1, d2, d3, d4, d5, d6, d7 } })

/* Protocol versions (major << 16 | minor), the ones a Linux 6.1 guest proposes, newest first. */
#define VERSION_WIN8 ((2u << 16) | 4u)
#define VERSION_WIN8_1 ((3u << 16) | 0u)
#define VERSION_WIN10 ((4u << 16) | 0u)
#define VERSION_WIN10_V4_1 ((4u << 16) | 1u)
#define VERSION_WIN10_V5 ((5u << 16) | 0u)
#define VERSION_WIN10_V5_1 ((5u << 16) | 1u)
#define VERSION_WIN10_V5_2 ((5u << 16) | 2u)
#define VERSION_WIN10_V5_3 ((5u << 16) | 3u)

/* SynIC plumbing. Guest -> host messages: HvPostMessage with message type 1 on connection 1
 * (versions < 5.0, and for every message after a VERSION_RESPONSE whose msg_conn_id is 1) or 4
 * (INITIATE_CONTACT for >= 5.0). Host -> guest: SynIC messages of type 1 on SINT 2; channel
 * interrupts: event flag child_relid in SINT 2's event flags page. */
#define VMBUS_MESSAGE_CONNECTION_ID 1u
#define VMBUS_MESSAGE_CONNECTION_ID_4 4u
#define VMBUS_MESSAGE_SINT 2u
#define VMBUS_MESSAGE_TYPE 1u  /* the HvPostMessage / SynIC message type of channel messages */
#define VMBUS_MESSAGE_MAX 240u /* HV_MESSAGE_PAYLOAD_BYTE_COUNT */

enum vmbus_channel_message_type {
	CHANNELMSG_INVALID = 0,
	CHANNELMSG_OFFERCHANNEL = 1,
	CHANNELMSG_RESCIND_CHANNELOFFER = 2,
	CHANNELMSG_REQUESTOFFERS = 3,
	CHANNELMSG_ALLOFFERS_DELIVERED = 4,
	CHANNELMSG_OPENCHANNEL = 5,
	CHANNELMSG_OPENCHANNEL_RESULT = 6,
	CHANNELMSG_CLOSECHANNEL = 7,
	CHANNELMSG_GPADL_HEADER = 8,
	CHANNELMSG_GPADL_BODY = 9,
	CHANNELMSG_GPADL_CREATED = 10,
	CHANNELMSG_GPADL_TEARDOWN = 11,
	CHANNELMSG_GPADL_TORNDOWN = 12,
	CHANNELMSG_RELID_RELEASED = 13,
	CHANNELMSG_INITIATE_CONTACT = 14,
	CHANNELMSG_VERSION_RESPONSE = 15,
	CHANNELMSG_UNLOAD = 16,
	CHANNELMSG_UNLOAD_RESPONSE = 17,
	CHANNELMSG_18 = 18, /* open reserved channel (Windows only) */
	CHANNELMSG_19 = 19, /* close reserved channel (Windows only) */
	CHANNELMSG_20 = 20, /* close reserved channel response */
	CHANNELMSG_TL_CONNECT_REQUEST = 21,
	CHANNELMSG_MODIFYCHANNEL = 22,
	CHANNELMSG_TL_CONNECT_RESULT = 23,
	CHANNELMSG_MODIFYCHANNEL_RESPONSE = 24,
	CHANNELMSG_COUNT
};

/* Every message starts with this; msgtype is a guest-controlled number, never trusted as an enum. */
struct vmbus_msg_header {
	uint32_t msgtype;
	uint32_t padding;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_msg_header) == 8, "message header");

/* Statuses in OPENCHANNEL_RESULT, GPADL_CREATED and MODIFYCHANNEL_RESPONSE: 0 is success, anything
 * else a failure (Linux only tests for non-zero; the value is the one openvmm's server sends). */
#define VMBUS_STATUS_SUCCESS 0u
#define VMBUS_STATUS_UNSUCCESSFUL 0x8000ffffu

/* VERSION_RESPONSE connection_state. */
#define VMBUS_CONNECTION_SUCCESSFUL 0u

#define MAX_USER_DEFINED_BYTES 120u

/* Offer chn_flags. */
#define VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE 0x1u
#define VMBUS_CHANNEL_SERVER_SUPPORTS_TRANSFER_PAGES 0x2u
#define VMBUS_CHANNEL_SERVER_SUPPORTS_GPADLS 0x4u
#define VMBUS_CHANNEL_NAMED_PIPE_MODE 0x10u
#define VMBUS_CHANNEL_LOOPBACK_OFFER 0x100u
#define VMBUS_CHANNEL_PARENT_OFFER 0x200u
#define VMBUS_CHANNEL_REQUEST_MONITORED_NOTIFICATION 0x400u
#define VMBUS_CHANNEL_TLNPI_PROVIDER_OFFER 0x2000u

/* The offer proper (struct vmbus_channel_offer). user_def is the pipe header + 116 bytes for
 * named-pipe offers. */
struct vmbus_offer {
	struct vmbus_guid if_type;
	struct vmbus_guid if_instance;
	uint64_t reserved1;
	uint64_t reserved2;
	uint16_t chn_flags;
	uint16_t mmio_megabytes;
	uint8_t user_def[MAX_USER_DEFINED_BYTES];
	uint16_t sub_channel_index;
	uint16_t reserved3;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_offer) == 176, "offer");

/* monitor_allocated and is_dedicated_interrupt are bit 0 of their fields; the rest is reserved. */
#define VMBUS_OFFER_MONITOR_ALLOCATED 0x1u
#define VMBUS_OFFER_DEDICATED_INTERRUPT 0x1u

struct vmbus_msg_offer_channel { /* CHANNELMSG_OFFERCHANNEL, host -> guest */
	struct vmbus_msg_header header;
	struct vmbus_offer offer;
	uint32_t child_relid;
	uint8_t monitorid;
	uint8_t monitor_allocated;
	uint16_t is_dedicated_interrupt;
	uint32_t connection_id; /* what the guest passes to HvSignalEvent */
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_msg_offer_channel) == 196, "offer channel");

struct vmbus_msg_rescind_offer { /* CHANNELMSG_RESCIND_CHANNELOFFER, host -> guest */
	struct vmbus_msg_header header;
	uint32_t child_relid;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_msg_rescind_offer) == 12, "rescind offer");

struct vmbus_msg_open_channel { /* CHANNELMSG_OPENCHANNEL, guest -> host */
	struct vmbus_msg_header header;
	uint32_t child_relid;
	uint32_t openid;
	uint32_t ringbuffer_gpadlhandle;
	uint32_t target_vp;
	/* In pages: [0, offset) of the ring GPADL is the guest -> host ring, [offset, end) the
	 * host -> guest ring, each starting with its header page. */
	uint32_t downstream_ringbuffer_pageoffset;
	uint8_t userdata[MAX_USER_DEFINED_BYTES];
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_msg_open_channel) == 148, "open channel");

struct vmbus_msg_open_result { /* CHANNELMSG_OPENCHANNEL_RESULT, host -> guest */
	struct vmbus_msg_header header;
	uint32_t child_relid;
	uint32_t openid;
	uint32_t status;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_msg_open_result) == 20, "open result");

struct vmbus_msg_close_channel { /* CHANNELMSG_CLOSECHANNEL, guest -> host, no answer */
	struct vmbus_msg_header header;
	uint32_t child_relid;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_msg_close_channel) == 12, "close channel");

/* A GPA range in a GPADL's range buffer: byte_count bytes from byte_offset into the first page,
 * then the page numbers, ceil((byte_offset + byte_count) / 4096) of them. */
struct vmbus_gpa_range {
	uint32_t byte_count;
	uint32_t byte_offset;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_gpa_range) == 8, "gpa range");

struct vmbus_msg_gpadl_header { /* CHANNELMSG_GPADL_HEADER, guest -> host */
	struct vmbus_msg_header header;
	uint32_t child_relid;
	uint32_t gpadl;        /* handle chosen by the guest */
	uint16_t range_buflen; /* bytes of ranges + page numbers, here and in the GPADL_BODYs */
	uint16_t rangecount;
	/* followed by the start of the range buffer */
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_msg_gpadl_header) == 20, "gpadl header");

struct vmbus_msg_gpadl_body { /* CHANNELMSG_GPADL_BODY, guest -> host */
	struct vmbus_msg_header header;
	uint32_t msgnumber; /* Linux leaves it 0; not used */
	uint32_t gpadl;
	/* followed by more of the range buffer */
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_msg_gpadl_body) == 16, "gpadl body");

struct vmbus_msg_gpadl_created { /* CHANNELMSG_GPADL_CREATED, host -> guest */
	struct vmbus_msg_header header;
	uint32_t child_relid;
	uint32_t gpadl;
	uint32_t creation_status;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_msg_gpadl_created) == 20, "gpadl created");

struct vmbus_msg_gpadl_teardown { /* CHANNELMSG_GPADL_TEARDOWN, guest -> host */
	struct vmbus_msg_header header;
	uint32_t child_relid;
	uint32_t gpadl;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_msg_gpadl_teardown) == 16, "gpadl teardown");

struct vmbus_msg_gpadl_torndown { /* CHANNELMSG_GPADL_TORNDOWN, host -> guest */
	struct vmbus_msg_header header;
	uint32_t gpadl;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_msg_gpadl_torndown) == 12, "gpadl torndown");

struct vmbus_msg_relid_released { /* CHANNELMSG_RELID_RELEASED, guest -> host */
	struct vmbus_msg_header header;
	uint32_t child_relid;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_msg_relid_released) == 12, "relid released");

struct vmbus_msg_initiate_contact { /* CHANNELMSG_INITIATE_CONTACT, guest -> host */
	struct vmbus_msg_header header;
	uint32_t vmbus_version_requested;
	uint32_t target_vcpu; /* VP the host answers on (versions >= 3.0; before: VP 0) */
	union {
		uint64_t interrupt_page; /* versions < 5.0 */
		struct {                 /* versions >= 5.0 */
			uint8_t msg_sint;
			uint8_t msg_vtl;
			uint8_t reserved[6];
		} __attribute__((packed));
	};
	uint64_t monitor_page1; /* parent -> child */
	uint64_t monitor_page2; /* child -> parent */
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_msg_initiate_contact) == 40, "initiate contact");

struct vmbus_msg_version_response { /* CHANNELMSG_VERSION_RESPONSE, host -> guest */
	struct vmbus_msg_header header;
	uint8_t version_supported;
	uint8_t connection_state;
	uint16_t padding;
	/* >= 5.0: the connection id for the guest's later messages; before: the version. */
	uint32_t msg_conn_id;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_msg_version_response) == 16, "version response");

struct vmbus_msg_tl_connect_request { /* CHANNELMSG_TL_CONNECT_REQUEST (hv_sock), guest -> host */
	struct vmbus_msg_header header;
	struct vmbus_guid guest_endpoint_id;
	struct vmbus_guid host_service_id;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_msg_tl_connect_request) == 40, "tl connect request");

struct vmbus_msg_modifychannel { /* CHANNELMSG_MODIFYCHANNEL (>= 4.1), guest -> host */
	struct vmbus_msg_header header;
	uint32_t child_relid;
	uint32_t target_vp;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_msg_modifychannel) == 16, "modify channel");

struct vmbus_msg_modifychannel_response { /* CHANNELMSG_MODIFYCHANNEL_RESPONSE (>= 5.3) */
	struct vmbus_msg_header header;
	uint32_t child_relid;
	uint32_t status;
} __attribute__((packed));
_Static_assert(sizeof(struct vmbus_msg_modifychannel_response) == 16, "modify response");

/* REQUESTOFFERS, ALLOFFERS_DELIVERED, UNLOAD and UNLOAD_RESPONSE are a bare header. */

#endif
