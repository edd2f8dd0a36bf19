/* The integration-component framework, private to src/synthetic/ic*.c: a util channel as a VMBus
 * device, IC packets framed by the pipe and IC headers, the NEGOTIATE exchange, and host requests
 * sent one at a time with a transaction id and a timeout, plus io_uring timers and UTF-16 text.
 * The guest side it answers is Linux drivers/hv/hv_util.c and vmbus_prep_negotiate_resp().
 * Loop thread only. */
#ifndef HVKVM_SYNTHETIC_IC_H
#define HVKVM_SYNTHETIC_IC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "event_loop.h"
#include "guest_mem.h"
#include "synthetic/ic_protocol.h"
#include "synthetic/ic_services.h"
#include "vmbus/host.h"

/* ---- Timers (ic_timer.c): one io_uring timeout (absolute, CLOCK_MONOTONIC) at a time ----
 *
 * fire runs on the loop thread at or after the deadline; it may arm the timer again. Arming
 * earlier than the deadline in the kernel cancels that one first. The struct must stay alive
 * until ic_timer_busy() is false: ic_timer_drain() stops it and waits. */
struct ic_timer {
	struct event_loop *loop;
	void (*fire)(struct ic_timer *t);
	struct event_op op;        /* the timeout SQE's completion */
	struct event_op cancel_op; /* a timeout-remove SQE's completion */
	struct __kernel_timespec ts;
	uint64_t user_data;        /* of the timeout SQE in the kernel, for removing it */
	uint64_t want_ns;          /* wanted deadline, 0: none */
	uint64_t armed_ns;         /* deadline of the SQE in the kernel, 0: none */
	bool cancelling;           /* a remove SQE is in the kernel */
};

uint64_t ic_now_ns(void); /* CLOCK_MONOTONIC */
void ic_timer_init(struct ic_timer *t, struct event_loop *loop, void (*fire)(struct ic_timer *t));
void ic_timer_arm_at(struct ic_timer *t, uint64_t deadline_ns);
void ic_timer_stop(struct ic_timer *t);
bool ic_timer_busy(const struct ic_timer *t);
/* Stops t and runs the loop until its SQEs completed (from the loop thread, or after the loop
 * stopped from the thread that ran it). */
void ic_timer_drain(struct ic_timer *t);

/* ---- Channels ---- */

struct ic_channel;

struct ic_channel_desc {
	const char *name; /* "shutdown", for logs and details; must outlive the channel */
	struct vmbus_guid if_type;
	struct vmbus_guid if_instance;
	/* Versions offered in NEGOTIATE; the guest must pick one of each. */
	const struct ic_version *fw_versions;
	unsigned fw_count;
	const struct ic_version *msg_versions;
	unsigned msg_count;
	/* The channel's link changed (after the change; requests already completed). */
	void (*link_changed)(void *opaque, enum ic_link link);
	void *opaque;
};

/* An answer: the guest's status and the message after the IC header (what the guest echoed,
 * body_len bytes, bounded by the packet and the pipe header). */
struct ic_response {
	uint32_t status;
	const uint8_t *body;
	uint32_t body_len;
};

/* err 0: rsp is the answer (valid during the call). Else -ETIMEDOUT, -ENOTCONN, -EPROTO,
 * -EPROTONOSUPPORT, -EMSGSIZE with rsp NULL; detail is a readable line in every case. */
typedef void ic_response_fn(void *ctx, int err, const char *detail, const struct ic_response *rsp);

/* Offers the device on host's server. -errno with err set. */
__attribute__((warn_unused_result))
int ic_channel_create(struct ic_channel **out, struct vmbus_host *host,
		      const struct guest_mem *mem, const struct ic_channel_desc *desc,
		      struct error *err);
/* withdraw: remove the device from the server first (error paths while the server lives); else
 * the server is already gone. Drains the channel's timer. */
void ic_channel_destroy(struct ic_channel *c, bool withdraw);

/* Queues one request: msgtype with body (copied), answered within timeout_ms (0 = none). Sent
 * when the requests before it are answered or timed out and the versions are agreed. 0: fn
 * runs exactly once, later. -ENOTCONN, -EPROTONOSUPPORT / -EPROTO (failed channel), -EMSGSIZE,
 * -ENOMEM: fn never runs. */
__attribute__((warn_unused_result))
int ic_channel_request(struct ic_channel *c, uint16_t msgtype, const void *body, uint32_t len,
		       unsigned timeout_ms, ic_response_fn *fn, void *ctx);
/* 0 if requests can be queued now, else what ic_channel_request would return. */
int ic_channel_usable(const struct ic_channel *c);
enum ic_link ic_channel_link(const struct ic_channel *c);
struct ic_version ic_channel_msg_version(const struct ic_channel *c);
void ic_channel_status(const struct ic_channel *c, struct ic_link_status *out);

/* What each service gets to build itself. */
struct ic_env {
	struct vmbus_host *host;
	const struct guest_mem *mem;
	const struct ic_config *cfg; /* defaults already filled in */
};

/* The services (ic_<name>.c): create offers the device; destroy as ic_channel_destroy. */
__attribute__((warn_unused_result))
int ic_shutdown_create(struct ic_shutdown **out, const struct ic_env *env, struct error *err);
void ic_shutdown_destroy(struct ic_shutdown *sd, bool withdraw);
__attribute__((warn_unused_result))
int ic_heartbeat_create(struct ic_heartbeat **out, const struct ic_env *env, struct error *err);
void ic_heartbeat_destroy(struct ic_heartbeat *hb, bool withdraw);
__attribute__((warn_unused_result))
int ic_timesync_create(struct ic_timesync **out, const struct ic_env *env, struct error *err);
void ic_timesync_destroy(struct ic_timesync *ts, bool withdraw);
__attribute__((warn_unused_result))
int ic_kvp_create(struct ic_kvp **out, const struct ic_env *env, struct error *err);
void ic_kvp_destroy(struct ic_kvp *kvp, bool withdraw);
__attribute__((warn_unused_result))
int ic_vss_create(struct ic_vss **out, const struct ic_env *env, struct error *err);
void ic_vss_destroy(struct ic_vss *vss, bool withdraw);
__attribute__((warn_unused_result))
int ic_fcopy_create(struct ic_fcopy **out, const struct ic_env *env, struct error *err);
void ic_fcopy_destroy(struct ic_fcopy *fc, bool withdraw);

/* ---- Text (ic_text.c) ---- */

/* The guest's HRESULT as -errno (HV_S_OK: 0; unknown failures: -EIO) and by name. */
int ic_status_errno(uint32_t status);
const char *ic_status_name(uint32_t status);
/* A detail line for a refused request: "<what>: the guest answered <name> (0x%08x)". */
void ic_status_detail(char *buf, size_t size, const char *what, uint32_t status);

/* UTF-8 s into UTF-16LE units at out (byte buffer, any alignment), NUL included: the units
 * written, or -EINVAL (not UTF-8), -ENAMETOOLONG (more than max_units with the NUL). */
int ic_utf8_to_utf16(const char *s, void *out, size_t max_units);
/* UTF-16LE at in, up to max_units or a NUL, into UTF-8 at out (NUL-terminated): the bytes
 * written without the NUL, or -EINVAL (unpaired surrogate), -E2BIG (out too small). */
int ic_utf16_to_utf8(const void *in, size_t max_units, char *out, size_t out_size);

#endif
