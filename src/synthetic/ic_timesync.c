/* The time sync integration service: host UTC in 100 ns units since 1601 (Linux
 * drivers/hv/hv_util.c timesync_onchannelcallback, adj_guesttime). A SYNC sample when the channel
 * is ready, when the host's offset changes and on demand; a SAMPLE every interval. With message
 * version 4.0 each sample carries the partition reference time it was taken at, so the guest
 * adds the delivery delay (openvmm's timesync sends 4.0 the same way). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "synthetic/ic.h"

static const struct ic_version fw_versions[] = {{3, 0}, {1, 0}};
static const struct ic_version msg_versions_ref[] = {{4, 0}, {3, 0}, {1, 0}};
static const struct ic_version msg_versions[] = {{3, 0}, {1, 0}};

struct ic_timesync {
	struct ic_channel *ch;
	struct ic_timer tick;
	uint64_t interval_ns;
	uint64_t next_tick_ns;
	unsigned timeout_ms;
	uint64_t (*ref_time)(void *ctx);
	void *ref_time_ctx;
	int64_t offset_ns;
	bool in_flight;
	bool sync_wanted; /* the next sample is a SYNC */
	uint64_t answers;
};

static void send_sample(struct ic_timesync *ts);

static void answered(void *ctx, int err, const char *detail, const struct ic_response *rsp)
{
	struct ic_timesync *ts = ctx;

	ts->in_flight = false;
	if (err)
		log_debug("ic", "%s", detail);
	else if (rsp->status != HV_S_OK)
		log_guest_fault("ic", "time sync: the guest answered 0x%08x", rsp->status);
	else
		ts->answers++;
	if (ts->sync_wanted)
		send_sample(ts); /* the offset changed while this one was out */
}

/* Host UTC + offset in 100 ns units since 1601-01-01. */
static uint64_t parent_time(const struct ic_timesync *ts)
{
	int64_t ns = (int64_t)clock_ns(CLOCK_REALTIME) + ts->offset_ns;

	if (ns < 0)
		ns = 0; /* not before 1970 */
	return (uint64_t)ns / 100u + WLTIMEDELTA;
}

static void send_sample(struct ic_timesync *ts)
{
	uint8_t flags = ts->sync_wanted ? ICTIMESYNCFLAG_SYNC : ICTIMESYNCFLAG_SAMPLE;
	union {
		struct ictimesync_data v1;
		struct ictimesync_ref_data v4;
	} m;
	uint32_t len;
	int ret;

	if (ts->in_flight || ic_channel_link(ts->ch) != IC_LINK_READY)
		return;
	memset(&m, 0, sizeof(m));
	if (ic_channel_msg_version(ts->ch).major >= 4) {
		m.v4.parenttime = parent_time(ts);
		m.v4.vmreferencetime = ts->ref_time(ts->ref_time_ctx);
		m.v4.flags = flags;
		len = sizeof(m.v4);
	} else {
		m.v1.parenttime = parent_time(ts);
		m.v1.flags = flags;
		len = sizeof(m.v1);
	}
	ret = ic_channel_request(ts->ch, ICMSGTYPE_TIMESYNC, &m, len, ts->timeout_ms, answered, ts);
	if (ret) {
		log_warn("ic", "time sync: cannot send a sample: %s", strerror(-ret));
		return;
	}
	ts->in_flight = true;
	ts->sync_wanted = false;
}

static void tick(struct ic_timer *t)
{
	struct ic_timesync *ts = (struct ic_timesync *)(void *)((char *)t -
							offsetof(struct ic_timesync, tick));
	uint64_t now = ic_now_ns();

	if (ic_channel_link(ts->ch) != IC_LINK_READY)
		return;
	send_sample(ts); /* skipped while the last one is unanswered */
	ts->next_tick_ns += ts->interval_ns;
	if (ts->next_tick_ns <= now)
		ts->next_tick_ns = now + ts->interval_ns;
	ic_timer_arm_at(&ts->tick, ts->next_tick_ns);
}

static void link_changed(void *opaque, enum ic_link link)
{
	struct ic_timesync *ts = opaque;

	if (link == IC_LINK_NEGOTIATING) {
		ts->in_flight = false;
		ts->answers = 0;
	} else if (link == IC_LINK_READY) {
		/* The first sample tells a freshly booted or resumed guest to set its clock. */
		ts->sync_wanted = true;
		send_sample(ts);
		ts->next_tick_ns = ic_now_ns() + ts->interval_ns;
		ic_timer_arm_at(&ts->tick, ts->next_tick_ns);
	} else {
		ic_timer_stop(&ts->tick);
	}
}

void ic_timesync_set_offset(struct ic_timesync *ts, int64_t offset_ns)
{
	ts->offset_ns = offset_ns;
	ts->sync_wanted = true;
	send_sample(ts);
}

int64_t ic_timesync_offset(const struct ic_timesync *ts)
{
	return ts->offset_ns;
}

int ic_timesync_sync(struct ic_timesync *ts)
{
	int ret = ic_channel_usable(ts->ch);

	if (ret)
		return ret;
	if (ic_channel_link(ts->ch) != IC_LINK_READY)
		return 0; /* negotiating: the first sample is a SYNC anyway */
	ts->sync_wanted = true;
	send_sample(ts);
	return 0;
}

void ic_timesync_status(const struct ic_timesync *ts, struct ic_link_status *out)
{
	ic_channel_status(ts->ch, out);
}

uint64_t ic_timesync_answers(const struct ic_timesync *ts)
{
	return ts->answers;
}

int ic_timesync_create(struct ic_timesync **out, const struct ic_env *env, struct error *err)
{
	struct ic_timesync *ts = calloc(1, sizeof(*ts));
	bool ref = env->cfg->ref_time != NULL;
	struct ic_channel_desc desc = {
		.name = "time sync",
		/* HV_TS_GUID; the instance Hyper-V uses */
		.if_type = VMBUS_GUID(0x9527e630, 0xd0ae, 0x497b, 0xad, 0xce, 0xe8, 0x0a, 0xb0, 0x17,
				      0x5c, 0xaf),
		.if_instance = VMBUS_GUID(0x2dd1ce17, 0x079e, 0x403c, 0xb3, 0x52, 0xa1, 0x92, 0x1e,
					  0xe2, 0x07, 0xee),
		.fw_versions = fw_versions,
		.fw_count = sizeof(fw_versions) / sizeof(fw_versions[0]),
		/* 4.0 needs the reference time of each sample. */
		.msg_versions = ref ? msg_versions_ref : msg_versions,
		.msg_count = ref ? sizeof(msg_versions_ref) / sizeof(msg_versions_ref[0])
				 : sizeof(msg_versions) / sizeof(msg_versions[0]),
		.link_changed = link_changed,
	};
	int ret;

	if (!ts)
		return error_set(err, ENOMEM, "out of memory");
	ts->interval_ns = env->cfg->timesync_interval_ms * 1000000ull;
	ts->timeout_ms = env->cfg->request_timeout_ms;
	ts->ref_time = env->cfg->ref_time;
	ts->ref_time_ctx = env->cfg->ref_time_ctx;
	desc.opaque = ts;
	ic_timer_init(&ts->tick, vmbus_host_loop(env->host), tick);
	ret = ic_channel_create(&ts->ch, env->host, env->mem, &desc, err);
	if (ret < 0) {
		free(ts);
		return ret;
	}
	*out = ts;
	return 0;
}

void ic_timesync_destroy(struct ic_timesync *ts, bool withdraw)
{
	if (!ts)
		return;
	ic_timer_stop(&ts->tick);
	ic_channel_destroy(ts->ch, withdraw);
	ic_timer_drain(&ts->tick);
	free(ts);
}
