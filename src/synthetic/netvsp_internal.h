/* netvsp's private state, shared by netvsp.c (device, channels, outbound queue), netvsp_nvsp.c
 * (NVSP control messages) and netvsp_data.c (RNDIS packets, receive and transmit). Loop thread
 * only. */
#ifndef HVKVM_SYNTHETIC_NETVSP_INTERNAL_H
#define HVKVM_SYNTHETIC_NETVSP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "synthetic/netvsp.h"
#include "synthetic/netvsp_offload.h"
#include "synthetic/netvsp_packet.h"
#include "synthetic/netvsp_rxbuf.h"
#include "synthetic/nvsp_protocol.h"
#include "synthetic/rndis.h"
#include "vmbus/packet.h"
#include "vmbus/ring.h"

#define TAG "netvsp"

/* A packet copied out of a ring: NVSP messages are 40 bytes; a GPA-direct packet carries up to
 * ~34 ranges of a few pages (Linux MAX_PAGE_BUFFER_COUNT 32). Larger is dropped. */
#define NETVSP_PKT_MAX 8192u
/* Outbound packets waiting for ring space, per channel. Room is reserved for every data packet
 * in flight (its completion) before the packet is taken from the ring. */
#define NETVSP_BACKLOG 256u
#define NETVSP_TX_INFLIGHT_MAX 128u
/* Guest memory pieces of one frame, and of one packet's byte stream. */
#define NETVSP_FRAME_IOV_MAX 64u
#define NETVSP_STREAM_SEGS_MAX 96u
/* Receive sub-allocation: the RNDIS header and per-packet info, then a frame of the guest's
 * NDIS-config size plus a VLAN tag, rounded to 64 bytes (openvmm reserves 256 + MTU + 36). */
#define NETVSP_RX_SUB_ALLOC(frame_max) \
	((NETVSP_RX_HEADER_MAX + (frame_max) + 4u + 63u) & ~63u)

/* A guest buffer handed over by GPADL (receive or send buffer). */
struct netvsp_buf {
	struct vmbus_gpadl *gpadl;
	uint8_t **pages;   /* host address of each 4 KiB page */
	uint32_t npages;
	uint32_t size;
	uint16_t id;
};

enum netvsp_out_kind { NETVSP_OUT_COMPLETION, NETVSP_OUT_XFER, NETVSP_OUT_INBAND };

/* One host -> guest packet, written now or kept until the ring has room. */
struct netvsp_out {
	uint8_t kind;
	uint16_t len;           /* payload bytes (COMPLETION, INBAND) */
	uint64_t trans_id;
	uint32_t slot;          /* XFER: receive slot, and its bytes */
	uint32_t byte_count;
	uint32_t epoch;         /* XFER: the receive buffer the slot belongs to */
	uint32_t channel_type;  /* XFER: NVSP_RMC_DATA or NVSP_RMC_CONTROL */
	uint8_t payload[sizeof(struct nvsp_send_indirection_table_msg)];
};

struct netvsp_chan {
	struct netvsp *n;
	struct vmbus_channel *ch;
	unsigned index;
	uint32_t gen;           /* bumped at each open: completions of an earlier open are dropped */
	bool open;
	bool broken;            /* malformed ring: no more reading */
	bool stalled;           /* a packet waits in the ring for a resource */
	bool need_service;
	struct vmbus_ring in, out;
	unsigned tx_inflight;
	unsigned reserved;      /* backlog entries promised to packets in flight */
	unsigned head, count;   /* backlog ring */
	struct netvsp_out *backlog;
	uint64_t pkt[NETVSP_PKT_MAX / 8];
};

struct netvsp_tx_req;

struct netvsp_tx_frame {
	struct tap_tx tx;
	struct netvsp_tx_req *req;
	uint32_t len;
	uint8_t dst[6];
	struct netvsp_tx_plan plan;
	struct iovec iov[NETVSP_FRAME_IOV_MAX + 2];
};

/* One NVSP data packet: its frames at the backend, its completion owed to the guest. */
struct netvsp_tx_req {
	struct netvsp_tx_req *prev, *next;
	struct netvsp_chan *c;
	uint32_t gen;
	uint64_t trans_id;
	bool want_completion;
	unsigned pending;
	unsigned nframes;
	struct netvsp_tx_frame frames[];
};

struct netvsp {
	struct vmbus_host *host;
	const struct guest_mem *mem;
	struct vmbus_device *dev;
	struct netvsp_backend be;
	struct tap *tap;
	unsigned max_subchannels;
	bool destroying;
	bool running;
	/* NVSP state of the primary channel. */
	uint32_t nvsp_version;      /* 0 until INIT */
	uint32_t guest_frame_max;   /* NDIS config MTU (an Ethernet frame) */
	uint64_t vsc_caps;
	struct netvsp_buf recv, send;
	bool recv_ready, send_ready;
	struct netvsp_rxbuf rxbuf;
	uint32_t epoch;
	uint32_t send_sections;
	uint32_t subchannels;       /* granted by the last NVSP5 SUBCHANNEL request */
	bool table_sent;
	bool link_pending;          /* a link indication waits for a receive slot */
	bool rx_blocked;            /* the backend holds a frame for us */
	bool rx_wake;               /* a slot or backlog entry freed since */
	struct rndis_device rndis;
	struct netvsp_stats stats;
	struct netvsp_tx_req *reqs; /* in flight */
	struct netvsp_chan *chans[VRSS_CHANNEL_MAX];
};

/* netvsp.c */
bool netvsp_room(const struct netvsp_chan *c, unsigned entries);
/* Writes o now, or queues it behind earlier ones; *signal |= the guest needs an interrupt. The
 * caller checked netvsp_room (or holds a reservation). */
void netvsp_emit(struct netvsp_chan *c, const struct netvsp_out *o, bool *signal);
/* VM_PKT_COMP for trans_id carrying msg (a full-size NVSP message). */
void netvsp_complete(struct netvsp_chan *c, uint64_t trans_id, const struct nvsp_message *msg,
		     bool *signal);
void netvsp_complete_rndis(struct netvsp_chan *c, uint64_t trans_id, uint32_t status,
			   bool *signal);
void netvsp_signal(struct netvsp_chan *c);
/* Services channels marked need_service, retries the link indication, resumes the backend;
 * not re-entered. */
void netvsp_run(struct netvsp *n);
struct netvsp_chan *netvsp_primary(const struct netvsp *n);
unsigned netvsp_open_channels(const struct netvsp *n);

/* netvsp_nvsp.c: an NVSP control message on channel c (the primary). 0: taken; -EAGAIN: leave
 * it in the ring (no room for the answer yet). */
__attribute__((warn_unused_result))
int netvsp_handle_control(struct netvsp_chan *c, const struct vmbus_packet *pkt,
			  const struct nvsp_message *m, bool *signal);
void netvsp_send_table_if_ready(struct netvsp *n, bool *signal);
/* Forgets the guest's buffers and NVSP state (primary channel closed). */
void netvsp_nvsp_reset(struct netvsp *n);

/* netvsp_data.c */
__attribute__((warn_unused_result))
int netvsp_buf_map(struct netvsp *n, struct netvsp_buf *b, struct vmbus_gpadl *g, uint16_t id);
void netvsp_buf_unmap(struct netvsp_buf *b);
__attribute__((warn_unused_result))
int netvsp_handle_rndis(struct netvsp_chan *c, const struct vmbus_packet *pkt,
			const struct nvsp_message *m, bool *signal);
void netvsp_handle_guest_completion(struct netvsp_chan *c, const struct vmbus_packet *pkt);
/* Sends the pending link indication if a slot is free. */
void netvsp_try_link_indication(struct netvsp *n);
/* Frees the requests still at the backend (destroying: the backend will not complete them). */
void netvsp_free_requests(struct netvsp *n);

#endif
