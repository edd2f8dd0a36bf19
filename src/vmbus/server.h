/* VMBus host side: the channel-management server (Linux drivers/hv channel_mgmt.c, connection.c and
 * channel.c are the client it answers). A pure state machine in the style of openvmm's
 * vmbus_server: it takes guest -> host channel messages, answers through a send callback, keeps
 * the devices' channels, subchannels and GPADLs, and touches guest memory only to check GPADL pages.
 *
 * Threading: none inside. Every function here, and every callback it makes, runs on the caller's
 * thread, and the caller serializes all calls on one server (the VMM either hands
 * HvPostMessage payloads to its event loop thread, or holds one mutex around the calls).
 * Callbacks must not call vmbus_server_* functions; vmbus_gpadl_* calls are allowed.
 *
 * Protocol decisions (the "why" is in server.c):
 *  - Versions 5.3, 5.2, 5.1, 5.0, 4.1, 4.0, 3.0 and 2.4 are accepted; anything else gets
 *    VERSION_RESPONSE with version_supported = 0 so the guest tries its next version.
 *  - Messages are taken on connection id 1 and 4; VERSION_RESPONSE tells a >= 5.0 guest to use 1.
 *  - Answers go to the target_vcpu of INITIATE_CONTACT (VP 0 below 3.0) on SINT 2; a >= 5.0 guest
 *    naming another SINT on connection 4 is refused (version_supported = 0).
 *  - Offers carry no monitor page (monitor_allocated = 0, is_dedicated_interrupt = 1), so the
 *    guest signals a channel with HvSignalEvent(VMBUS_CHANNEL_CONNECTION_ID_BASE | relid).
 *  - A malformed or out-of-place message is answered with the protocol's failure status where the
 *    protocol has an answer carrying it (OPENCHANNEL_RESULT, GPADL_CREATED,
 *    MODIFYCHANNEL_RESPONSE), else dropped; both are logged (rate-limited) and counted. */
#ifndef HVKVM_VMBUS_SERVER_H
#define HVKVM_VMBUS_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "guest_mem.h"
#include "vmbus/protocol.h"

#define VMBUS_RELID_MAX 1023u                    /* child relids are 1..VMBUS_RELID_MAX */
#define VMBUS_CHANNEL_CONNECTION_ID_BASE 0x2000u /* a channel's signal connection id: base | relid */
#define VMBUS_MAX_SUBCHANNELS 64u                /* per device */
#define VMBUS_MAX_GPADLS 1024u                   /* per server, complete and in progress */
/* Range-buffer entries (ranges + page numbers, 8 bytes each) over all GPADLs of a server: 4 GiB
 * of guest pages, 8 MiB of host memory. One GPADL is bounded by its u16 range_buflen (8191
 * entries, just under 32 MiB). */
#define VMBUS_MAX_GPADL_ENTRIES (1u << 20)

struct vmbus_server;
struct vmbus_device;
struct vmbus_channel;
struct vmbus_gpadl;

/* What the guest asked for in OPENCHANNEL, after the server checked it: the ring GPADL exists,
 * belongs to this channel, is one page-aligned range, and splits at downstream_ring_offset into
 * two rings of at least 2 pages (header page + data) each. */
struct vmbus_open_request {
	uint32_t open_id;
	uint32_t target_vp;              /* < nvps */
	const struct vmbus_gpadl *ring;  /* valid until the close callback returns */
	uint32_t ring_pages;             /* vmbus_gpadl_page_count(ring) */
	uint32_t downstream_ring_offset; /* pages [0, off): guest -> host ring; [off, end): host -> guest */
	uint8_t user_data[MAX_USER_DEFINED_BYTES];
};

/* What a device (storvsp, netvsp, an IC, a test device) gives the server. */
struct vmbus_device_ops {
	/* The guest opens ch (primary or subchannel; see vmbus_channel_subchannel_index). 0 accepts;
	 * -errno refuses, and the guest sees a failed OPENCHANNEL_RESULT. */
	int (*open)(void *opaque, struct vmbus_channel *ch, const struct vmbus_open_request *req);
	/* ch is closed: by the guest, because its primary closed (subchannels first), on UNLOAD or a
	 * new INITIATE_CONTACT, when the device is removed, or when the server is destroyed. After
	 * return the device must no longer touch the rings. */
	void (*close)(void *opaque, struct vmbus_channel *ch);
	/* Optional: the guest moved ch's interrupts to target_vp (MODIFYCHANNEL). */
	void (*retarget)(void *opaque, struct vmbus_channel *ch, uint32_t target_vp);
};

struct vmbus_device_desc {
	struct vmbus_guid if_type;     /* the class (e.g. SCSI ba6163d9-...) */
	struct vmbus_guid if_instance; /* unique per device */
	uint16_t mmio_megabytes;
	uint16_t chn_flags;            /* VMBUS_CHANNEL_* offer flags, usually 0 */
	uint8_t user_def[MAX_USER_DEFINED_BYTES]; /* offer user data (pipe mode etc.), usually zeros */
	uint16_t max_subchannels;      /* <= VMBUS_MAX_SUBCHANNELS */
	const char *name;              /* for logs; must outlive the device */
	const struct vmbus_device_ops *ops;
	void *opaque;
};

/* What the server needs from the VMM. */
struct vmbus_server_ops {
	/* Post msg (a channel message, <= 240 bytes) to the guest as a SynIC message of type
	 * VMBUS_MESSAGE_TYPE on VP vp's SINT sint: hv_synic_post_message. 0 or -EAGAIN (queued behind
	 * a busy slot) are success; other errors are logged and the message is lost. */
	int (*send)(void *ctx, unsigned vp, unsigned sint, const void *msg, uint32_t size);
	/* Optional. ch was opened (called after the device accepted, before OPENCHANNEL_RESULT goes
	 * out): start listening for vmbus_channel_connection_id(ch). */
	void (*channel_opened)(void *ctx, struct vmbus_channel *ch);
	/* Optional. ch is closing (called before the device's close): stop listening. */
	void (*channel_closed)(void *ctx, struct vmbus_channel *ch);
	void *ctx;
};

/* mem: guest RAM for GPADL page checks; nvps: VP indexes are 0..nvps-1. 0 or -errno. */
__attribute__((warn_unused_result))
int vmbus_server_create(struct vmbus_server **out, const struct guest_mem *mem,
			const struct vmbus_server_ops *ops, unsigned nvps);
/* Closes every open channel (device close callbacks, no messages) and frees everything. */
void vmbus_server_destroy(struct vmbus_server *s);

/* Registers a device and gives its primary channel a child relid (lowest free, from 1). If the
 * guest already asked for offers, OFFERCHANNEL goes out now (hot add). desc is copied.
 * -EINVAL (bad desc), -EEXIST (instance GUID in use), -ENOSPC (no relid), -ENOMEM. */
__attribute__((warn_unused_result))
int vmbus_server_add_device(struct vmbus_server *s, const struct vmbus_device_desc *desc,
			    struct vmbus_device **out);
/* Hot remove: closes the device's open channels (close callbacks, subchannels first), sends
 * RESCIND_CHANNELOFFER for each channel the guest knows, and forgets the device. A rescinded
 * relid stays taken until the guest's RELID_RELEASED; a new device with the same instance GUID is
 * offered only after that. */
void vmbus_server_remove_device(struct vmbus_server *s, struct vmbus_device *dev);

/* Makes the device have count subchannels (indexes 1..count; existing ones are kept) and offers
 * the new ones. The primary must be open. Subchannels live until the primary closes (they are
 * then closed and rescinded), the guest disconnects, or the device is removed.
 * 0, -ENOTCONN (primary not open), -E2BIG (count > max_subchannels), -ENOSPC (out of relids:
 * the ones created so far stay), -ENOMEM. */
__attribute__((warn_unused_result))
int vmbus_server_add_subchannels(struct vmbus_server *s, struct vmbus_device *dev, unsigned count);

/* The device's channel index (0 = primary), or NULL. */
struct vmbus_channel *vmbus_device_channel(const struct vmbus_device *dev, unsigned index);
unsigned vmbus_device_channel_count(const struct vmbus_device *dev);

/* An HvPostMessage on connection_id (the VMM registers this for VMBUS_MESSAGE_CONNECTION_ID and
 * VMBUS_MESSAGE_CONNECTION_ID_4) from VP vp, payload already copied out of the guest.
 * HV_STATUS_SUCCESS for every message to those connections, however wrong (protocol errors are
 * the protocol's business); HV_STATUS_INVALID_CONNECTION_ID for another connection id;
 * HV_STATUS_INVALID_PARAMETER for size > 240. */
uint16_t vmbus_server_post_message(struct vmbus_server *s, unsigned vp, uint32_t connection_id,
				   uint32_t message_type, const void *payload, uint32_t size);

/* The open channel whose signal connection id this is, or NULL (HvSignalEvent routing). */
struct vmbus_channel *vmbus_server_channel_by_connection_id(const struct vmbus_server *s,
							    uint32_t connection_id);

bool vmbus_server_connected(const struct vmbus_server *s);
uint32_t vmbus_server_version(const struct vmbus_server *s); /* 0 when disconnected */
/* Guest messages refused so far (malformed, unknown, out of state): for tests and statistics. */
unsigned long vmbus_server_protocol_errors(const struct vmbus_server *s);

/* Channels. */
uint32_t vmbus_channel_relid(const struct vmbus_channel *ch);
uint32_t vmbus_channel_connection_id(const struct vmbus_channel *ch); /* guest -> host signals */
unsigned vmbus_channel_subchannel_index(const struct vmbus_channel *ch);
bool vmbus_channel_is_open(const struct vmbus_channel *ch);
void vmbus_channel_set_data(struct vmbus_channel *ch, void *data); /* for the device */
void *vmbus_channel_data(const struct vmbus_channel *ch);
/* Where a host -> guest interrupt for an open ch goes: set event flag *flag (= relid) in VP *vp's
 * SINT *sint event flags and raise the SINT: hv_synic_signal_event(p, vp, sint, flag). Read it for
 * every signal (MODIFYCHANNEL moves it). false if ch is not open. */
bool vmbus_channel_signal_target(const struct vmbus_channel *ch, unsigned *vp, unsigned *sint,
				 unsigned *flag);

/* GPADLs. A device looks up the GPADLs the guest made for any channel of its own (netvsc receive
 * and send buffers) with get, and releases them with put. While a GPADL is held (and while it is
 * an open channel's ring) the guest's GPADL_TEARDOWN waits: GPADL_TORNDOWN is sent at the last put.
 * get returns NULL for an unknown, incomplete or tearing-down handle. */
struct vmbus_gpadl *vmbus_channel_gpadl_get(struct vmbus_channel *ch, uint32_t handle);
void vmbus_gpadl_put(struct vmbus_gpadl *g);
uint32_t vmbus_gpadl_handle(const struct vmbus_gpadl *g);
/* All page numbers of all ranges, in order, and their count. */
const uint64_t *vmbus_gpadl_pfns(const struct vmbus_gpadl *g);
uint32_t vmbus_gpadl_page_count(const struct vmbus_gpadl *g);
uint32_t vmbus_gpadl_range_count(const struct vmbus_gpadl *g);
/* Range i: byte_count bytes from byte_offset into its first page, over *npfns pages starting at
 * vmbus_gpadl_pfns(g)[*first]. -EINVAL for i out of range. */
int vmbus_gpadl_range(const struct vmbus_gpadl *g, uint32_t i, uint32_t *byte_offset,
		      uint32_t *byte_count, uint32_t *first, uint32_t *npfns);

#endif
