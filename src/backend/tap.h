/* Tap network backend on the VM's io_uring loop (Linux tun/tap, Documentation/networking/
 * tuntap.rst, with a 12-byte virtio_net_hdr_v1 before every frame). Frames are read into a
 * pool of buffers per queue and handed to a receiver; a receiver that cannot take one stops
 * reading on that queue (the kernel queues, then drops) until tap_rx_resume. Frames are
 * written with writev, zero-copy from the caller's iovecs.
 *
 * Threads: the loop thread only (tap_open and tap_close also before the loop runs / after it
 * stopped, from the thread that runs it). The fds are non-blocking, so io_uring reads and
 * writes them in submission order without worker threads. */
#ifndef HVKVM_BACKEND_TAP_H
#define HVKVM_BACKEND_TAP_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error.h"
#include "event_loop.h"

#define TAP_VNET_HDR_LEN 12u
#define TAP_MAX_QUEUES 16u
#define TAP_RX_BUFFERS 8u                          /* per queue */
#define TAP_RX_BUF_SIZE (65536u + TAP_VNET_HDR_LEN) /* a frame of up to 64 KiB */

_Static_assert(sizeof(struct virtio_net_hdr_v1) == TAP_VNET_HDR_LEN, "virtio_net_hdr_v1");

struct tap;

/* One frame on its way out: the caller owns it (and the iovecs) until done runs. */
struct tap_tx {
	struct event_op op;      /* private */
	struct tap *tap;         /* private */
	void (*done)(struct tap_tx *tx, int res); /* loop thread: bytes written or -errno */
	const struct iovec *iov; /* iov[0]: the struct virtio_net_hdr_v1 */
	unsigned iovcnt;
};

struct tap_rx_ops {
	/* A frame arrived on queue: the backend's virtio header and len frame bytes (the buffer
	 * is the receiver's to modify until it returns). true: consumed (the buffer is read into
	 * again); false: held, and queue stops reading until tap_rx_resume offers it again (a
	 * tap_rx_resume from inside receive runs when receive has returned). */
	bool (*receive)(void *opaque, unsigned queue, const struct virtio_net_hdr_v1 *vh,
			uint8_t *frame, uint32_t len);
	void *opaque;
};

/* Attaches to the tap device name, creating it if it does not exist (name NULL or "": the
 * kernel picks tapN). queues > 1 asks for a multi-queue device. A device created here is not
 * persistent: it disappears when tap_close closes the last fd; an existing (persistent) one is
 * left as it was found. Sets the 12-byte virtio header and TUN_F_CSUM (we accept partial
 * checksums and complete them; no TSO is asked for: a 64 KiB frame could not go to a guest
 * without receive coalescing). Errors name the cause: no /dev/net/tun, permission, a name that
 * is not a tap device (or not one with the asked queue mode), a device in use. */
__attribute__((warn_unused_result))
int tap_open(struct tap **out, struct event_loop *loop, const char *name, unsigned queues,
	     struct error *err);
/* Cancels the reads, waits for every read and write in flight (write completions run), closes
 * the fds. */
void tap_close(struct tap *t);

const char *tap_name(const struct tap *t);
unsigned tap_queue_count(const struct tap *t);
bool tap_created(const struct tap *t);
/* SIOCSIFMTU on the device. */
__attribute__((warn_unused_result))
int tap_set_mtu(struct tap *t, unsigned mtu, struct error *err);

/* Starts reading every queue into rx. */
void tap_start(struct tap *t, const struct tap_rx_ops *rx);
/* Offers the held frames again, in order, and reads again where all were taken. */
void tap_rx_resume(struct tap *t);
/* Queues tx on queue (modulo the queue count). 0, or -EBUSY when no submission entry is free
 * (done is not called then). */
__attribute__((warn_unused_result))
int tap_send(struct tap *t, unsigned queue, struct tap_tx *tx);

#endif
