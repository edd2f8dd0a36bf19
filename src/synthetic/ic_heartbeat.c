/* The heartbeat integration service: a heartbeat_msg_data every interval, the guest answers
 * seq_num + 1 (Linux drivers/hv/hv_util.c heartbeat_onchannelcallback); the host judges the guest
 * healthy while answers keep coming. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "synthetic/ic.h"

static const struct ic_version fw_versions[] = {{3, 0}, {1, 0}};
static const struct ic_version msg_versions[] = {{3, 0}, {1, 0}};

/* Silent for this many intervals: missed. */
#define MISSED_INTERVALS 3u

struct ic_heartbeat {
	struct ic_channel *ch;
	struct ic_timer tick;
	uint64_t interval_ns;
	uint64_t next_tick_ns;
	uint64_t seq;       /* the next sequence number sent */
	uint64_t sent_seq;  /* the one in flight */
	bool in_flight;
	uint64_t last_answer_ns, last_answer_wall_ns, answers;
};

static void answered(void *ctx, int err, const char *detail, const struct ic_response *rsp)
{
	struct ic_heartbeat *hb = ctx;
	struct heartbeat_msg_data m;

	hb->in_flight = false;
	if (err) {
		log_debug("ic", "%s", detail);
		return;
	}
	if (rsp->status != HV_S_OK || rsp->body_len < sizeof(m.seq_num)) {
		log_guest_fault("ic", "heartbeat: bad answer (status 0x%08x, %u bytes)",
				rsp->status, rsp->body_len);
		return;
	}
	memcpy(&m.seq_num, rsp->body, sizeof(m.seq_num));
	if (m.seq_num != hb->sent_seq + 1) {
		log_guest_fault("ic", "heartbeat: answer %llu to %llu",
				(unsigned long long)m.seq_num, (unsigned long long)hb->sent_seq);
		return;
	}
	hb->last_answer_ns = ic_now_ns();
	hb->last_answer_wall_ns = clock_ns(CLOCK_REALTIME);
	hb->answers++;
}

static void beat(struct ic_heartbeat *hb)
{
	struct heartbeat_msg_data m;
	unsigned timeout_ms = (unsigned)(hb->interval_ns * MISSED_INTERVALS / 1000000u);

	if (hb->in_flight || ic_channel_link(hb->ch) != IC_LINK_READY)
		return; /* one at a time: a silent guest is seen from last_answer */
	memset(&m, 0, sizeof(m));
	m.seq_num = hb->seq;
	if (ic_channel_request(hb->ch, ICMSGTYPE_HEARTBEAT, &m, sizeof(m), timeout_ms ? timeout_ms : 1,
			       answered, hb) == 0) {
		hb->in_flight = true;
		hb->sent_seq = hb->seq++;
	}
}

static void tick(struct ic_timer *t)
{
	struct ic_heartbeat *hb = (struct ic_heartbeat *)(void *)((char *)t -
							  offsetof(struct ic_heartbeat, tick));
	uint64_t now = ic_now_ns();

	if (ic_channel_link(hb->ch) != IC_LINK_READY)
		return;
	beat(hb);
	hb->next_tick_ns += hb->interval_ns;
	if (hb->next_tick_ns <= now)
		hb->next_tick_ns = now + hb->interval_ns; /* the loop was late: no burst */
	ic_timer_arm_at(&hb->tick, hb->next_tick_ns);
}

static void link_changed(void *opaque, enum ic_link link)
{
	struct ic_heartbeat *hb = opaque;

	if (link == IC_LINK_NEGOTIATING) {
		hb->answers = 0;
		hb->last_answer_ns = hb->last_answer_wall_ns = 0;
		hb->in_flight = false;
	} else if (link == IC_LINK_READY) {
		hb->next_tick_ns = ic_now_ns();
		ic_timer_arm_at(&hb->tick, hb->next_tick_ns); /* the first beat right away */
	} else {
		ic_timer_stop(&hb->tick);
	}
}

void ic_heartbeat_status(const struct ic_heartbeat *hb, struct ic_heartbeat_status *out)
{
	memset(out, 0, sizeof(*out));
	ic_channel_status(hb->ch, &out->channel);
	out->last_answer_ns = hb->last_answer_ns;
	out->last_answer_wall_ns = hb->last_answer_wall_ns;
	out->answers = hb->answers;
	if (out->channel.link != IC_LINK_READY || !hb->last_answer_ns)
		out->state = IC_HEARTBEAT_NO_CONTACT;
	else if (ic_now_ns() - hb->last_answer_ns < MISSED_INTERVALS * hb->interval_ns)
		out->state = IC_HEARTBEAT_HEALTHY;
	else
		out->state = IC_HEARTBEAT_MISSED;
}

int ic_heartbeat_create(struct ic_heartbeat **out, const struct ic_env *env, struct error *err)
{
	struct ic_heartbeat *hb = calloc(1, sizeof(*hb));
	struct ic_channel_desc desc = {
		.name = "heartbeat",
		/* HV_HEART_BEAT_GUID; the instance Hyper-V uses */
		.if_type = VMBUS_GUID(0x57164f39, 0x9115, 0x4e78, 0xab, 0x55, 0x38, 0x2f, 0x3b, 0xd5,
				      0x42, 0x2d),
		.if_instance = VMBUS_GUID(0xfd149e91, 0x82e0, 0x4a7d, 0xaf, 0xa6, 0x2a, 0x41, 0x66,
					  0xcb, 0xd7, 0xc0),
		.fw_versions = fw_versions,
		.fw_count = sizeof(fw_versions) / sizeof(fw_versions[0]),
		.msg_versions = msg_versions,
		.msg_count = sizeof(msg_versions) / sizeof(msg_versions[0]),
		.link_changed = link_changed,
	};
	int ret;

	if (!hb)
		return error_set(err, ENOMEM, "out of memory");
	hb->interval_ns = env->cfg->heartbeat_interval_ms * 1000000ull;
	desc.opaque = hb;
	ic_timer_init(&hb->tick, vmbus_host_loop(env->host), tick);
	ret = ic_channel_create(&hb->ch, env->host, env->mem, &desc, err);
	if (ret < 0) {
		free(hb);
		return ret;
	}
	*out = hb;
	return 0;
}

void ic_heartbeat_destroy(struct ic_heartbeat *hb, bool withdraw)
{
	if (!hb)
		return;
	ic_timer_stop(&hb->tick);
	ic_channel_destroy(hb->ch, withdraw);
	ic_timer_drain(&hb->tick);
	free(hb);
}
