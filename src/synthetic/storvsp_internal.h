/* storvsp's parts and what they share: the controller and its LUNs (storvsp.c), a channel's rings,
 * reply queue and drain (storvsp_chan.c), the control protocol (storvsp_proto.c) and SCSI
 * requests (storvsp_srb.c). Loop thread only, like everything in storvsp. */
#ifndef HVKVM_SYNTHETIC_STORVSP_INTERNAL_H
#define HVKVM_SYNTHETIC_STORVSP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "backend/block.h"
#include "backend/scsi_disk.h"
#include "synthetic/storvsp.h"
#include "synthetic/storvsp_protocol.h"
#include "vmbus/packet.h"
#include "vmbus/ring.h"
#include "vmbus/server.h"

/* Private copy of one guest packet: a 2 MiB transfer at any offset needs 513 page numbers
 * (4 KiB of range area) besides descriptor and vstor_packet; bigger packets are answered with
 * an error. */
#define STORVSP_PACKET_BUF 16384u

/* Initialization as the guest drives it on the primary channel (storvsc_channel_init). */
enum storvsp_state {
	STORVSP_STATE_BEGIN,            /* waiting for BEGIN_INITIALIZATION */
	STORVSP_STATE_QUERY_VERSION,    /* QUERY_PROTOCOL_VERSION until one is accepted */
	STORVSP_STATE_QUERY_PROPERTIES,
	STORVSP_STATE_END_INIT,         /* CREATE_SUB_CHANNELS or END_INITIALIZATION */
	STORVSP_STATE_READY,            /* EXECUTE_SRB, resets, CREATE_SUB_CHANNELS */
};

struct storvsp_lun {
	struct storvsp *s;
	uint8_t lun;
	struct block_dev *dev;
	struct scsi_disk_info info;
	unsigned inflight;              /* SCSI requests with block operations running */
	bool removed;                   /* hot-removed: closed once inflight is 0 */
	struct storvsp_lun *next_removed;
};

/* A packet waiting for room on the outbound ring. */
struct storvsp_reply {
	struct storvsp_reply *next;
	uint64_t trans_id;
	uint16_t type;                  /* VM_PKT_COMP, or VM_PKT_DATA_INBAND (ENUMERATE_BUS) */
	uint32_t len;                   /* bytes of pkt */
	struct vstor_packet pkt;
};

struct storvsp_chan {
	struct storvsp *s;
	struct vmbus_channel *ch;       /* NULL once the channel closed */
	unsigned index;                 /* 0: primary */
	struct vmbus_ring in, out;
	bool broken;                    /* the inbound ring is malformed: no more reads */
	bool throttled;                 /* draining stopped at STORVSP_MAX_INFLIGHT */
	bool need_signal;
	bool draining;                  /* inside the inbound drain: no nested drain, no signal */
	bool enumerate_queued;          /* an ENUMERATE_BUS waits in the reply queue */
	unsigned inflight;              /* SCSI requests not yet answered */
	unsigned queued;                /* replies waiting for ring space */
	struct storvsp_reply *q_head, **q_tail;
	struct storvsp_chan *next_zombie;
	uint64_t buf[STORVSP_PACKET_BUF / 8];
};

struct storvsp {
	struct storvsp_bus bus;
	const struct guest_mem *mem;
	struct vmbus_device *dev;
	unsigned nvps;
	uint16_t max_subchannels;       /* advertised in QUERY_PROPERTIES */
	enum storvsp_state state;       /* the protocol state of the whole controller */
	uint16_t version;               /* negotiated, from QUERY_PROPERTIES on */
	struct storvsp_chan *primary;
	struct storvsp_lun *luns[STORVSP_MAX_LUNS];
	struct storvsp_lun *removed;    /* hot-removed LUNs still finishing requests */
	struct storvsp_chan *zombies;   /* closed channels with requests still running */
	unsigned posted;                /* deferred disk closes queued on the loop */
	bool destroying;
	unsigned long protocol_errors;
	char name[24];
};

/* ---- storvsp_chan.c ---- */
int storvsp_chan_open(struct storvsp *s, struct vmbus_channel *ch,
		      const struct vmbus_open_request *req);
void storvsp_chan_close(struct storvsp *s, struct vmbus_channel *ch);
/* Sends a packet (a copy is queued while the ring is full); the guest is signalled at the next
 * storvsp_chan_kick. Replies to a closed channel vanish. */
void storvsp_chan_send(struct storvsp_chan *c, uint16_t type, uint64_t trans_id,
		       const struct vstor_packet *pkt, uint32_t len);
void storvsp_chan_kick(struct storvsp_chan *c);
/* A request of c finished: account for it, free c if it closed meanwhile and this was its last,
 * else resume a throttled drain. Returns false if c is gone. */
bool storvsp_chan_request_done(struct storvsp_chan *c);

/* ---- storvsp_proto.c ---- */
/* One guest packet (parsed copy). Answers it, or starts a SCSI request that answers later. */
void storvsp_handle_packet(struct storvsp_chan *c, const struct vmbus_packet *pkt);
/* Error answer to a packet whose contents are unusable (too big to copy, malformed). */
void storvsp_reply_status(struct storvsp_chan *c, uint64_t trans_id, uint32_t srb_size,
			  uint32_t status);
/* VSTOR_OPERATION_ENUMERATE_BUS to a guest that finished initialization (>= 4.2). */
void storvsp_enumerate_bus(struct storvsp *s);
/* vmscsi_request bytes of the negotiated version. */
uint32_t storvsp_srb_size(const struct storvsp *s);
void storvsp_protocol_error(struct storvsp *s);

/* ---- storvsp_srb.c ---- */
/* EXECUTE_SRB in the READY state. payload_len: bytes after the vstor_packet header;
 * reply_size: vmscsi_request bytes of the answer. */
void storvsp_srb_execute(struct storvsp_chan *c, const struct vmbus_packet *pkt,
			 uint32_t payload_len, uint32_t reply_size);

/* ---- storvsp.c ---- */
/* A request of lun finished its block operations. */
void storvsp_lun_request_done(struct storvsp_lun *l);

#endif
