/* Hyper-V integration services for the board and the control path: shutdown, heartbeat, time sync,
 * KVP, VSS and file copy as VMBus devices, for Linux's hv_utils and the tools/hv daemons.
 *
 * Loop thread only (the VMBus host's event loop), like every VMBus device. Operations are
 * asynchronous: a call returns 0 when the request is on its way, and its completion runs later,
 * exactly once, on the loop thread; or it returns -errno at once and the completion never runs:
 * -ENOTCONN (the guest's driver has not opened the channel), -EPROTONOSUPPORT (no version in
 * common with the guest), -EOPNOTSUPP (the negotiated version lacks the operation), -EBUSY,
 * -EINVAL, -ENAMETOOLONG, -ENOMEM. A completion's err is 0 or -errno: -ETIMEDOUT (no answer in
 * time; a late answer is dropped), -ENOTCONN (the channel closed first), -EPROTO (a malformed
 * answer or ring), or the guest's status mapped to an errno (detail then names the HRESULT). */
#ifndef HVKVM_SYNTHETIC_IC_SERVICES_H
#define HVKVM_SYNTHETIC_IC_SERVICES_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "guest_mem.h"
#include "synthetic/ic_protocol.h"
#include "vmbus/host.h"

struct ic_config {
	/* The partition's reference time (TIME_REF_COUNT, 100 ns units), for time sync 4.0
	 * samples. NULL: time sync offers versions 1.0 and 3.0 only. */
	uint64_t (*ref_time)(void *ctx);
	void *ref_time_ctx;
	/* 0 for the defaults (Hyper-V's periods; Linux's daemons answer within 30 s). */
	unsigned request_timeout_ms;    /* every request: 10000 */
	unsigned heartbeat_interval_ms; /* 1000 */
	unsigned timesync_interval_ms;  /* samples: 5000 */
};

#define IC_DEFAULT_TIMEOUT_MS 10000u
#define IC_DEFAULT_HEARTBEAT_MS 1000u
#define IC_DEFAULT_TIMESYNC_MS 5000u

/* err 0 or -errno; detail (never NULL, valid during the call) says why it failed, and may be
 * empty or a summary on success. */
typedef void ic_done_fn(void *ctx, int err, const char *detail);

struct ic_set;
struct ic_shutdown;
struct ic_heartbeat;
struct ic_timesync;
struct ic_kvp;
struct ic_vss;
struct ic_fcopy;

/* Offers all six services on host's VMBus server. */
__attribute__((warn_unused_result))
int ic_set_create(struct ic_set **out, struct vmbus_host *host, const struct guest_mem *mem,
		  const struct ic_config *cfg, struct error *err);
/* After the VMBus host is destroyed (it closed the channels, completing what was pending), from
 * the thread that ran the loop; waits for the services' timers to leave the loop. */
void ic_set_destroy(struct ic_set *s);

struct ic_shutdown *ic_set_shutdown(struct ic_set *s);
struct ic_heartbeat *ic_set_heartbeat(struct ic_set *s);
struct ic_timesync *ic_set_timesync(struct ic_set *s);
struct ic_kvp *ic_set_kvp(struct ic_set *s);
struct ic_vss *ic_set_vss(struct ic_set *s);
struct ic_fcopy *ic_set_fcopy(struct ic_set *s);

/* What a service's channel is doing, for status displays. */
enum ic_link {
	IC_LINK_CLOSED,      /* the guest's driver has not opened the channel (or closed it) */
	IC_LINK_NEGOTIATING, /* opened, versions not agreed yet */
	IC_LINK_READY,
	IC_LINK_FAILED,      /* no version in common, or a malformed ring: unusable until reopened */
};

struct ic_link_status {
	enum ic_link link;
	uint16_t fw_major, fw_minor, msg_major, msg_minor; /* negotiated (READY) */
	const char *error; /* why FAILED, else "" */
	unsigned long dropped; /* guest packets dropped since the device was offered: malformed,
				* oversized, stale answers */
};

/* ---- Shutdown (shutdown_msg_data) ---- */

enum ic_shutdown_action {
	IC_SHUTDOWN_POWEROFF,
	IC_SHUTDOWN_REBOOT,
	IC_SHUTDOWN_HIBERNATE,
};

/* Asks the guest to power off, reboot or hibernate (force: bit 0 of the flags; Linux always acts
 * as forced). done gets the guest's answer: 0 when it accepted and starts the action; -EIO with
 * the status when it refused (Linux refuses hibernation when it cannot hibernate). message goes
 * to the guest's display_message (truncated to 2047 bytes; NULL: none). */
__attribute__((warn_unused_result))
int ic_shutdown_request(struct ic_shutdown *sd, enum ic_shutdown_action action, bool force,
			const char *message, ic_done_fn *done, void *ctx);
void ic_shutdown_status(const struct ic_shutdown *sd, struct ic_link_status *out);

/* ---- Heartbeat ---- */

enum ic_heartbeat_state {
	IC_HEARTBEAT_NO_CONTACT, /* never answered, or the channel is closed / failed */
	IC_HEARTBEAT_HEALTHY,    /* the last answer is less than 3 intervals old */
	IC_HEARTBEAT_MISSED,     /* answered before, silent for 3 intervals since last_answer */
};

struct ic_heartbeat_status {
	enum ic_heartbeat_state state;
	uint64_t last_answer_ns;      /* CLOCK_MONOTONIC of the last good answer, 0: never */
	uint64_t last_answer_wall_ns; /* the same instant in CLOCK_REALTIME, 0: never */
	uint64_t answers;             /* good answers since the channel opened */
	struct ic_link_status channel;
};

void ic_heartbeat_status(const struct ic_heartbeat *hb, struct ic_heartbeat_status *out);

/* ---- Time sync ---- */

/* The guest is told host UTC + offset_ns. A change sends a SYNC sample at once (when the channel
 * is ready; else the first sample after negotiation carries it). */
void ic_timesync_set_offset(struct ic_timesync *ts, int64_t offset_ns);
int64_t ic_timesync_offset(const struct ic_timesync *ts);
/* A SYNC sample now (after the VM resumed): -ENOTCONN when the channel is not ready. */
__attribute__((warn_unused_result))
int ic_timesync_sync(struct ic_timesync *ts);
void ic_timesync_status(const struct ic_timesync *ts, struct ic_link_status *out);
/* Samples the guest answered, for tests and statistics. */
uint64_t ic_timesync_answers(const struct ic_timesync *ts);

/* ---- KVP ---- */

/* Pools as KVP_POOL_*: 0 external (keys the host gives the guest; hv_kvp_daemon keeps them in
 * /var/lib/hyperv/.kvp_pool_0), 1 guest, 2 auto (the guest's intrinsic data: FullyQualified-
 * DomainName, OSName, OSVersion, NetworkAddressIPv4, ...), 3 auto external, 4 auto internal. */
#define IC_KVP_POOLS 5
/* UTF-8 bytes a key or value can take (512 / 2048 bytes of UTF-16, 3 UTF-8 bytes per unit). */
#define IC_KVP_KEY_MAX (HV_KVP_EXCHANGE_MAX_KEY_SIZE / 2 * 3)
#define IC_KVP_VALUE_MAX (HV_KVP_EXCHANGE_MAX_VALUE_SIZE / 2 * 3)

/* key and value in UTF-8, valid during the call; NULL when err != 0. REG_U32 / REG_U64 values
 * come as decimal text. */
typedef void ic_kvp_value_fn(void *ctx, int err, const char *detail, const char *key,
			     const char *value);

/* -ENOENT: the guest has no such key (HV_S_CONT). */
__attribute__((warn_unused_result))
int ic_kvp_get(struct ic_kvp *kvp, unsigned pool, const char *key, ic_kvp_value_fn *done,
	       void *ctx);
/* Sets a REG_SZ value; pool 0 is what the guest sees as host data. */
__attribute__((warn_unused_result))
int ic_kvp_set(struct ic_kvp *kvp, unsigned pool, const char *key, const char *value,
	       ic_done_fn *done, void *ctx);
__attribute__((warn_unused_result))
int ic_kvp_delete(struct ic_kvp *kvp, unsigned pool, const char *key, ic_done_fn *done,
		  void *ctx);
/* The pool's entry at index: -ENOENT past the end (HV_S_CONT). */
__attribute__((warn_unused_result))
int ic_kvp_enumerate(struct ic_kvp *kvp, unsigned pool, uint32_t index, ic_kvp_value_fn *done,
		     void *ctx);

/* A whole pool: item for each entry from index 0 until the guest answers a failure, then done:
 * 0 when the pool ended (HV_S_CONT), else the error that stopped the walk. */
typedef void ic_kvp_item_fn(void *ctx, uint32_t index, const char *key, const char *value);
__attribute__((warn_unused_result))
int ic_kvp_enumerate_pool(struct ic_kvp *kvp, unsigned pool, ic_kvp_item_fn *item,
			  ic_done_fn *done, void *ctx);

/* KVP_OP_GET_IP_INFO for the NIC with this MAC (hv_kvp_daemon matches it against
 * /sys/class/net/X/address). Strings in UTF-8; address lists ';'-separated. */
struct ic_kvp_ip_info {
	char adapter_id[MAX_ADAPTER_ID_SIZE * 3 + 1];
	uint8_t addr_family; /* ADDR_FAMILY_* */
	bool dhcp_enabled;
	char ip_addr[MAX_IP_ADDR_SIZE * 3 + 1];
	char sub_net[MAX_IP_ADDR_SIZE * 3 + 1];
	char gate_way[MAX_GATEWAY_SIZE * 3 + 1];
	char dns_addr[MAX_IP_ADDR_SIZE * 3 + 1];
};
typedef void ic_kvp_ip_fn(void *ctx, int err, const char *detail,
			  const struct ic_kvp_ip_info *info);
__attribute__((warn_unused_result))
int ic_kvp_get_ip_info(struct ic_kvp *kvp, const uint8_t mac[6], ic_kvp_ip_fn *done, void *ctx);
void ic_kvp_status(const struct ic_kvp *kvp, struct ic_link_status *out);

/* ---- VSS (message version 5.0) ---- */

/* flags: the guest's vss_cf.flags for hot backup (Linux: VSS_HBU_NO_AUTO_RECOVERY), else 0. */
typedef void ic_vss_done_fn(void *ctx, int err, const char *detail, uint32_t flags);
__attribute__((warn_unused_result))
int ic_vss_freeze(struct ic_vss *vss, ic_vss_done_fn *done, void *ctx);
__attribute__((warn_unused_result))
int ic_vss_thaw(struct ic_vss *vss, ic_vss_done_fn *done, void *ctx);
__attribute__((warn_unused_result))
int ic_vss_hot_backup(struct ic_vss *vss, ic_vss_done_fn *done, void *ctx);
void ic_vss_status(const struct ic_vss *vss, struct ic_link_status *out);

/* ---- File copy (message version 1.1) ---- */

#define IC_FCOPY_OVERWRITE OVER_WRITE     /* replace an existing file */
#define IC_FCOPY_CREATE_PATH CREATE_PATH  /* create missing directories */

/* Copies the host file host_path (a regular file) to guest_dir/guest_name in the guest
 * (hv_fcopy_daemon), DATA_FRAGMENT bytes per message, one copy per channel at a time (-EBUSY).
 * Names are UTF-8, each at most 259 UTF-16 units (-ENAMETOOLONG). done: 0 when the guest has
 * the whole file; -EEXIST when it exists and flags lack IC_FCOPY_OVERWRITE; a failure after the
 * start cancels the copy in the guest (CANCEL_FCOPY: the daemon removes the partial file). */
__attribute__((warn_unused_result))
int ic_fcopy_copy_file(struct ic_fcopy *fc, const char *host_path, const char *guest_dir,
		       const char *guest_name, uint32_t flags, ic_done_fn *done, void *ctx);
void ic_fcopy_status(const struct ic_fcopy *fc, struct ic_link_status *out);

#endif
