/* netvsp: the Hyper-V synthetic NIC, a VMBus device of class f8615163-df3e-46c5-913f-f2d2f965ed0e
 * speaking NVSP (versions 1 to 6.1) with RNDIS inside, as Linux hv_netvsc
 * (drivers/net/hyperv/netvsc.c, rndis_filter.c) and Windows netvsc expect; frames go to and
 * come from a tap device. Facts: hyperv-facts.md B7, openvmm vm/devices/net/netvsp.
 *
 * Threads: everything on the VM's event loop thread (the VMBus host's loop), as every VMBus
 * device; netvsp_create before the loop runs, netvsp_destroy after the VMBus host is destroyed
 * (which closes the channels), from the thread that ran the loop. */
#ifndef HVKVM_SYNTHETIC_NETVSP_H
#define HVKVM_SYNTHETIC_NETVSP_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/tap.h"
#include "error.h"
#include "guest_mem.h"
#include "synthetic/rndis.h"
#include "vmbus/host.h"

#define NETVSP_CLASS_GUID \
	VMBUS_GUID(0xf8615163, 0xdf3e, 0x46c5, 0x91, 0x3f, 0xf2, 0xd2, 0xf9, 0x65, 0xed, 0x0e)

struct netvsp;

struct netvsp_config {
	const char *tap_name;  /* attach to or create this tap; NULL or "": the kernel names it */
	uint8_t mac[6];
	unsigned mtu;          /* Ethernet payload; 0 = 1500 (and the tap's MTU is left alone) */
	unsigned index;        /* the instance GUID derives from it: stable across runs */
};

__attribute__((warn_unused_result))
int netvsp_create(struct netvsp **out, struct vmbus_host *host, const struct guest_mem *mem,
		  unsigned nvps, const struct netvsp_config *cfg, struct error *err);
/* Loop thread: the link as the guest sees it (RNDIS_STATUS_MEDIA_CONNECT / _DISCONNECT; while
 * down, frames are dropped both ways). */
void netvsp_set_link(struct netvsp *n, bool up);
/* After the VMBus host is destroyed. Closes the tap (in-flight writes complete first). */
void netvsp_destroy(struct netvsp *n);

/* Counters (guest mistakes and data path), readable by the caller on the loop thread. */
struct netvsp_stats {
	uint64_t nvsp_errors;       /* NVSP messages malformed, unknown or out of order */
	uint64_t bad_completions;   /* receive completions naming no slot we lent */
	uint64_t ring_errors;       /* malformed rings: that channel stopped */
	uint64_t oversized_packets; /* ring packets larger than any valid NVSP packet, dropped */
	uint64_t rx_filtered;       /* frames the guest's packet filter refused */
	uint64_t rx_backpressure;   /* times a frame had to wait for a receive slot */
	uint64_t tx_requests;       /* NVSP data packets taken from the guest */
	struct rndis_stats rndis;   /* frames and RNDIS errors (also what the OIDs report) */
};
void netvsp_get_stats(const struct netvsp *n, struct netvsp_stats *out);

/* ---- For tests, and for backends other than tap ---- */

/* What netvsp needs from a backend. send queues a frame (0, or -errno: not sent, done not
 * called); rx_resume asks the backend to offer again the frames netvsp_receive refused. */
struct netvsp_backend {
	int (*send)(void *ctx, unsigned queue, struct tap_tx *tx);
	void (*rx_resume)(void *ctx);
	void *ctx;
	unsigned queues;
	struct rndis_offload caps; /* offloads the backend really performs */
};

__attribute__((warn_unused_result))
int netvsp_create_with_backend(struct netvsp **out, struct vmbus_host *host,
			       const struct guest_mem *mem, unsigned nvps,
			       const struct netvsp_config *cfg, const struct netvsp_backend *be,
			       struct error *err);
/* A frame from the backend (tap_rx_ops.receive): true when taken (delivered or dropped and
 * counted), false when it must wait for a receive slot (backpressure). */
bool netvsp_receive(struct netvsp *n, unsigned queue, const struct virtio_net_hdr_v1 *vh,
		    uint8_t *frame, uint32_t len);
/* Processes channel index as if the guest had signalled it. */
void netvsp_kick(struct netvsp *n, unsigned index);
/* The VMBus device (for vmbus_device_channel). */
struct vmbus_device *netvsp_vmbus_device(const struct netvsp *n);

#endif
