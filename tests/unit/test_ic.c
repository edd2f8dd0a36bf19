/* Unit tests for the integration-component framework and the shutdown, heartbeat and time sync
 * services, against a simulated Linux 6.1 guest (test_ic_guest.h): version negotiation for every
 * pair each service offers and for none in common, message round trips, malformed and stale
 * answers, timeouts and late answers, a full outbound ring, channel close with requests pending,
 * malformed rings; UTF-16 and status helpers; the IC set's error path. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "test_ic_guest.h"
#include "unit.h"

struct done_rec {
	unsigned calls;
	int err;
	char detail[256];
	uint32_t flags;
};

static void rec_done(void *ctx, int err, const char *detail)
{
	struct done_rec *r = ctx;

	r->calls++;
	r->err = err;
	snprintf(r->detail, sizeof(r->detail), "%s", detail);
}

static void rec_vss(void *ctx, int err, const char *detail, uint32_t flags)
{
	struct done_rec *r = ctx;

	rec_done(ctx, err, detail);
	r->flags = flags;
}

static bool rec_called(void *arg)
{
	return ((struct done_rec *)arg)->calls > 0;
}

static void link_of(struct gharness *h, int i, struct ic_link_status *st)
{
	switch (i) {
	case G_SHUTDOWN: ic_shutdown_status(ic_set_shutdown(h->set), st); break;
	case G_TIMESYNC: ic_timesync_status(ic_set_timesync(h->set), st); break;
	case G_HEARTBEAT: {
		struct ic_heartbeat_status hs;

		ic_heartbeat_status(ic_set_heartbeat(h->set), &hs);
		*st = hs.channel;
		break;
	}
	case G_KVP: ic_kvp_status(ic_set_kvp(h->set), st); break;
	case G_VSS: ic_vss_status(ic_set_vss(h->set), st); break;
	default: ic_fcopy_status(ic_set_fcopy(h->set), st); break;
	}
}

/* Answers (and drops) whatever the host sent on channel i without checking it. */
static void drain_ring(struct gharness *h, int i, struct gpkt *p)
{
	while (g_has_packet(&h->ch[i]))
		g_recv(&h->ch[i], p, 0);
}

/* ---- Helpers ---- */

static void test_utf16(void)
{
	uint8_t u[64];
	char s[64];

	CHECK_EQ(ic_utf8_to_utf16("abc", u, 8), 4);
	CHECK(!memcmp(u, "a\0b\0c\0\0\0", 8));
	CHECK_EQ(ic_utf8_to_utf16("\xc3\xa9", u, 8), 2); /* é */
	CHECK(u[0] == 0xe9 && u[1] == 0);
	CHECK_EQ(ic_utf8_to_utf16("\xe6\x97\xa5", u, 8), 2); /* 日 */
	CHECK(u[0] == 0xe5 && u[1] == 0x65);
	CHECK_EQ(ic_utf8_to_utf16("\xf0\x9f\x98\x80", u, 8), 3); /* U+1F600: a surrogate pair */
	CHECK(u[0] == 0x3d && u[1] == 0xd8 && u[2] == 0x00 && u[3] == 0xde);
	CHECK_EQ(ic_utf8_to_utf16("", u, 1), 1);
	CHECK_EQ(ic_utf8_to_utf16("abcd", u, 4), -ENAMETOOLONG);
	CHECK_EQ(ic_utf8_to_utf16("abcd", u, 5), 5);
	CHECK_EQ(ic_utf8_to_utf16("\xf0\x9f\x98\x80", u, 2), -ENAMETOOLONG);
	CHECK_EQ(ic_utf8_to_utf16("a", u, 0), -ENAMETOOLONG);
	CHECK_EQ(ic_utf8_to_utf16("\xc3", u, 8), -EINVAL);          /* truncated */
	CHECK_EQ(ic_utf8_to_utf16("\xc0\x80", u, 8), -EINVAL);      /* overlong NUL */
	CHECK_EQ(ic_utf8_to_utf16("\xe0\x80\xaf", u, 8), -EINVAL);  /* overlong '/' */
	CHECK_EQ(ic_utf8_to_utf16("\xed\xa0\x80", u, 8), -EINVAL);  /* a surrogate */
	CHECK_EQ(ic_utf8_to_utf16("\xf4\x90\x80\x80", u, 8), -EINVAL); /* > U+10FFFF */
	CHECK_EQ(ic_utf8_to_utf16("\xff", u, 8), -EINVAL);
	CHECK_EQ(ic_utf8_to_utf16("\x80", u, 8), -EINVAL);

	/* Back, and round trips. */
	CHECK_EQ(ic_utf8_to_utf16("x\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80y", u, 16), 7);
	CHECK_EQ(ic_utf16_to_utf8(u, 16, s, sizeof(s)), 11);
	CHECK(!strcmp(s, "x\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80y"));
	CHECK_EQ(ic_utf16_to_utf8(u, 2, s, sizeof(s)), 3); /* stops at max_units, no NUL seen */
	CHECK(!strcmp(s, "x\xc3\xa9"));
	CHECK_EQ(ic_utf16_to_utf8(u, 4, s, sizeof(s)), -EINVAL); /* cut inside the pair */
	CHECK_EQ(ic_utf16_to_utf8(u, 16, s, 11), -E2BIG);
	CHECK_EQ(ic_utf16_to_utf8(u, 16, s, 0), -E2BIG);
	memcpy(u, "\x00\xdc" "a\0", 4); /* a lone low surrogate */
	CHECK_EQ(ic_utf16_to_utf8(u, 2, s, sizeof(s)), -EINVAL);
	memcpy(u, "\x00\xd8" "a\0", 4); /* a high one followed by a letter */
	CHECK_EQ(ic_utf16_to_utf8(u, 2, s, sizeof(s)), -EINVAL);
	memcpy(u, "a\0\0\0b\0", 6); /* the NUL ends the string */
	CHECK_EQ(ic_utf16_to_utf8(u, 3, s, sizeof(s)), 1);
	CHECK_EQ(ic_utf16_to_utf8(u, 0, s, sizeof(s)), 0);
}

static void test_status(void)
{
	char buf[128];

	CHECK_EQ(ic_status_errno(HV_S_OK), 0);
	CHECK_EQ(ic_status_errno(HV_E_FAIL), -EIO);
	CHECK_EQ(ic_status_errno(HV_S_CONT), -ENOENT);
	CHECK_EQ(ic_status_errno(HV_GUID_NOTFOUND), -ENOENT);
	CHECK_EQ(ic_status_errno(HV_ERROR_ALREADY_EXISTS), -EEXIST);
	CHECK_EQ(ic_status_errno(HV_ERROR_DISK_FULL), -ENOSPC);
	CHECK_EQ(ic_status_errno(HV_ERROR_NOT_SUPPORTED), -EOPNOTSUPP);
	CHECK_EQ(ic_status_errno(HV_INVALIDARG), -EINVAL);
	CHECK_EQ(ic_status_errno(HV_ERROR_MACHINE_LOCKED), -EBUSY);
	CHECK_EQ(ic_status_errno(HV_ERROR_DEVICE_NOT_CONNECTED), -ENODEV);
	CHECK_EQ(ic_status_errno(0x12345678), -EIO);
	ic_status_detail(buf, sizeof(buf), "x", HV_ERROR_DISK_FULL);
	CHECK(!strcmp(buf, "x: the guest answered HV_ERROR_DISK_FULL (0x80070070)"));
	CHECK(!strcmp(ic_status_name(0x1), "an unknown status"));
}

/* ---- Negotiation ---- */

/* Every framework x message pair each service offers: a guest knowing only that pair gets it. */
static void test_negotiate_pairs(void)
{
	struct gharness *h = g_setup(NULL, false);
	struct ic_link_status st;

	for (int i = 0; i < G_NCHAN; i++) {
		const struct g_versions *lin = &g_linux[i];

		link_of(h, i, &st);
		CHECK_EQ(st.link, IC_LINK_CLOSED);
		for (unsigned f = 0; f < lin->nfw; f++) {
			for (unsigned m = 0; m < lin->nmsg; m++) {
				struct g_versions v = {{lin->fw[f]}, 1, {lin->msg[m]}, 1};

				CHECK(g_open_negotiate(h, i, &v));
				link_of(h, i, &st);
				CHECK_EQ(st.link, IC_LINK_READY);
				CHECK_EQ(st.fw_major, lin->fw[f].major);
				CHECK_EQ(st.fw_minor, lin->fw[f].minor);
				CHECK_EQ(st.msg_major, lin->msg[m].major);
				CHECK_EQ(st.msg_minor, lin->msg[m].minor);
				CHECK(!strcmp(st.error, ""));
				g_close(h, i);
				link_of(h, i, &st);
				CHECK_EQ(st.link, IC_LINK_CLOSED);
			}
		}
		/* Linux's own lists: the highest both know. */
		CHECK(g_open_negotiate(h, i, lin));
		link_of(h, i, &st);
		CHECK_EQ(st.link, IC_LINK_READY);
		CHECK_EQ(st.fw_major, 3);
		CHECK_EQ(st.msg_major, lin->msg[0].major);
		CHECK_EQ(st.msg_minor, lin->msg[0].minor);
		g_close(h, i);
	}
	g_teardown(h);

	/* Without a reference time source, time sync offers 3.0 and 1.0: Linux takes 3.0. */
	h = g_setup(NULL, true);
	CHECK(g_open_negotiate(h, G_TIMESYNC, &g_linux[G_TIMESYNC]));
	link_of(h, G_TIMESYNC, &st);
	CHECK_EQ(st.msg_major, 3);
	g_teardown(h);
}

/* Answers the NEGOTIATE on channel i with these counts and versions. */
static void answer_negotiate_raw(struct gharness *h, int i, uint16_t nfw, uint16_t nmsg,
				 struct ic_version fw, struct ic_version msg, uint32_t msgsize)
{
	struct gpkt *p = malloc(sizeof(*p));
	struct icmsg_negotiate n = {.icframe_vercnt = nfw, .icmsg_vercnt = nmsg};
	struct vmbuspipe_hdr pipe;

	CHECK(g_recv(&h->ch[i], p, 1000));
	memcpy(g_body(p), &n, sizeof(n));
	memcpy(g_body(p) + 8, &fw, 4);
	memcpy(g_body(p) + 12, &msg, 4);
	if (msgsize) {
		memcpy(&pipe, p->data, sizeof(pipe));
		pipe.msgsize = msgsize;
		memcpy(p->data, &pipe, sizeof(pipe));
	}
	g_answer(&h->ch[i], p, HV_S_OK);
	g_settle(h, 5);
	free(p);
}

static void expect_failed(struct gharness *h, int i, int err, const char *what)
{
	struct ic_link_status st;
	struct done_rec r = {0};

	link_of(h, i, &st);
	CHECK_EQ(st.link, IC_LINK_FAILED);
	CHECK(strstr(st.error, what) != NULL);
	if (i == G_SHUTDOWN)
		CHECK_EQ(ic_shutdown_request(ic_set_shutdown(h->set), IC_SHUTDOWN_POWEROFF, false,
					     NULL, rec_done, &r), err);
	if (i == G_VSS)
		CHECK_EQ(ic_vss_freeze(ic_set_vss(h->set), rec_vss, &r), err);
	if (i == G_TIMESYNC)
		CHECK_EQ(ic_timesync_sync(ic_set_timesync(h->set)), err);
	CHECK_EQ(r.calls, 0);
}

static void test_negotiate_failures(void)
{
	struct gharness *h = g_setup(NULL, false);
	struct ic_link_status st;
	struct gpkt *p = malloc(sizeof(*p));

	/* No framework in common (Linux's vmbus_prep_negotiate_resp answers 0/0). */
	for (int i = 0; i < G_NCHAN; i++) {
		struct g_versions v = g_linux[i];

		v.fw[0] = (struct ic_version){2, 0};
		v.nfw = 1;
		CHECK(!g_open_negotiate(h, i, &v));
		expect_failed(h, i, -EPROTONOSUPPORT, "no version in common");
		g_close(h, i);
		/* The framework matches, no message version does. */
		v = g_linux[i];
		v.msg[0] = (struct ic_version){9, 9};
		v.nmsg = 1;
		CHECK(!g_open_negotiate(h, i, &v));
		expect_failed(h, i, -EPROTONOSUPPORT, "no version in common");
		/* Nothing more goes out on a failed channel. */
		CHECK(!g_recv(&h->ch[i], p, 20));
		g_close(h, i);
		/* Reopened, the channel is usable again. */
		CHECK(g_open_negotiate(h, i, &g_linux[i]));
		link_of(h, i, &st);
		CHECK_EQ(st.link, IC_LINK_READY);
		g_close(h, i);
	}

	/* A choice the host did not offer. */
	g_open(h, G_SHUTDOWN);
	answer_negotiate_raw(h, G_SHUTDOWN, 1, 1, (struct ic_version){3, 0},
			     (struct ic_version){3, 7}, 0);
	expect_failed(h, G_SHUTDOWN, -EPROTO, "not offered");
	g_close(h, G_SHUTDOWN);
	g_open(h, G_VSS);
	answer_negotiate_raw(h, G_VSS, 1, 1, (struct ic_version){1, 0}, (struct ic_version){5, 0},
			     0);
	expect_failed(h, G_VSS, -EPROTO, "not offered");
	g_close(h, G_VSS);
	/* Counts that are neither 0/0 nor 1/1. */
	g_open(h, G_SHUTDOWN);
	answer_negotiate_raw(h, G_SHUTDOWN, 2, 1, (struct ic_version){3, 0},
			     (struct ic_version){3, 0}, 0);
	expect_failed(h, G_SHUTDOWN, -EPROTO, "malformed NEGOTIATE");
	g_close(h, G_SHUTDOWN);
	/* Counts 1/1 but the versions cut off (pipe header says 20 + 8 bytes). */
	g_open(h, G_SHUTDOWN);
	answer_negotiate_raw(h, G_SHUTDOWN, 1, 1, (struct ic_version){3, 0},
			     (struct ic_version){3, 0}, 28);
	expect_failed(h, G_SHUTDOWN, -EPROTO, "malformed NEGOTIATE");
	g_close(h, G_SHUTDOWN);
	/* Shorter than icmsg_negotiate. */
	g_open(h, G_SHUTDOWN);
	answer_negotiate_raw(h, G_SHUTDOWN, 1, 1, (struct ic_version){3, 0},
			     (struct ic_version){3, 0}, 24);
	expect_failed(h, G_SHUTDOWN, -EPROTO, "truncated NEGOTIATE");
	g_close(h, G_SHUTDOWN);
	/* A failure status with a choice is a refusal. */
	g_open(h, G_SHUTDOWN);
	CHECK(g_recv(&h->ch[G_SHUTDOWN], p, 1000));
	{
		struct icmsg_negotiate n = {.icframe_vercnt = 1, .icmsg_vercnt = 1};
		struct ic_version v[2] = {{3, 0}, {3, 0}};

		memcpy(g_body(p), &n, sizeof(n));
		memcpy(g_body(p) + 8, v, sizeof(v));
		g_answer(&h->ch[G_SHUTDOWN], p, HV_E_FAIL);
		g_settle(h, 5);
	}
	expect_failed(h, G_SHUTDOWN, -EPROTONOSUPPORT, "refused");
	g_close(h, G_SHUTDOWN);
	free(p);
	g_teardown(h);
}

/* ---- Shutdown ---- */

static void test_shutdown(void)
{
	static const struct {
		enum ic_shutdown_action action;
		bool force;
		uint32_t flags;
	} cases[] = {
		{IC_SHUTDOWN_POWEROFF, false, 0}, {IC_SHUTDOWN_POWEROFF, true, 1},
		{IC_SHUTDOWN_REBOOT, false, 2},   {IC_SHUTDOWN_REBOOT, true, 3},
		{IC_SHUTDOWN_HIBERNATE, false, 4}, {IC_SHUTDOWN_HIBERNATE, true, 5},
	};
	struct gharness *h = g_setup(NULL, false);
	struct ic_shutdown *sd = ic_set_shutdown(h->set);
	struct gpkt *p = malloc(sizeof(*p));
	struct done_rec r = {0};
	char longmsg[3000];

	CHECK_EQ(ic_shutdown_request(sd, IC_SHUTDOWN_POWEROFF, false, NULL, rec_done, &r),
		 -ENOTCONN);
	CHECK(g_open_negotiate(h, G_SHUTDOWN, &g_linux[G_SHUTDOWN]));
	CHECK_EQ(ic_shutdown_request(sd, (enum ic_shutdown_action)7, false, NULL, rec_done, &r),
		 -EINVAL);
	CHECK_EQ(ic_shutdown_request(sd, IC_SHUTDOWN_POWEROFF, false, NULL, NULL, NULL), -EINVAL);
	for (int hibernation = 0; hibernation < 2; hibernation++) {
		for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct shutdown_msg_data m;
			struct icmsg_hdr hd;
			struct vmbuspipe_hdr pipe;
			uint32_t status = HV_S_OK;

			memset(&r, 0, sizeof(r));
			CHECK_EQ(ic_shutdown_request(sd, cases[i].action, cases[i].force,
						     "host maintenance", rec_done, &r), 0);
			CHECK_EQ(r.calls, 0); /* never before the call returns */
			CHECK(g_recv(&h->ch[G_SHUTDOWN], p, 1000));
			CHECK_EQ(p->type, VM_PKT_DATA_INBAND);
			hd = g_hdr(p);
			memcpy(&pipe, p->data, sizeof(pipe));
			CHECK_EQ(pipe.flags, VMBUSPIPE_PACKET_TYPE_DATA);
			CHECK_EQ(pipe.msgsize, sizeof(struct icmsg_hdr) + sizeof(m));
			CHECK_EQ(hd.icmsgtype, ICMSGTYPE_SHUTDOWN);
			CHECK_EQ(hd.icmsgsize, sizeof(m));
			CHECK_EQ(hd.icverframe.major, 3);
			CHECK_EQ(hd.icvermsg.major, 3);
			CHECK_EQ(hd.icvermsg.minor, 2);
			CHECK_EQ(hd.icflags, ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST);
			CHECK_EQ(hd.ictransaction_id, (uint8_t)p->trans_id);
			/* Linux checks recvlen against the whole shutdown_msg_data. */
			CHECK(p->len >= ICMSG_HDR + sizeof(m));
			memcpy(&m, g_body(p), sizeof(m));
			CHECK_EQ(m.reason_code, SHTDN_REASON_FLAG_PLANNED);
			CHECK_EQ(m.flags, cases[i].flags);
			CHECK(!strcmp((char *)m.display_message, "host maintenance"));
			/* hv_util.c: 0-3 accepted, 4/5 only when the guest can hibernate. */
			if (m.flags >= 4 && !hibernation)
				status = HV_E_FAIL;
			g_answer(&h->ch[G_SHUTDOWN], p, status);
			CHECK(g_run(h, rec_called, &r, 1000));
			CHECK_EQ(r.calls, 1);
			CHECK_EQ(r.err, status == HV_S_OK ? 0 : -EIO);
			if (status != HV_S_OK)
				CHECK(strstr(r.detail, "hibernate") && strstr(r.detail, "HV_E_FAIL"));
			else
				CHECK(strstr(r.detail, "accepted") != NULL);
		}
	}
	/* A message longer than display_message is cut, NUL-terminated. */
	memset(longmsg, 'x', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = 0;
	memset(&r, 0, sizeof(r));
	CHECK_EQ(ic_shutdown_request(sd, IC_SHUTDOWN_POWEROFF, false, longmsg, rec_done, &r), 0);
	CHECK(g_recv(&h->ch[G_SHUTDOWN], p, 1000));
	CHECK_EQ(g_body(p)[12 + 2046], 'x');
	CHECK_EQ(g_body(p)[12 + 2047], 0);
	g_answer(&h->ch[G_SHUTDOWN], p, HV_S_OK);
	CHECK(g_run(h, rec_called, &r, 1000));
	CHECK_EQ(r.err, 0);
	free(p);
	g_teardown(h);
}

/* ---- Heartbeat ---- */

static bool hb_missed(void *arg)
{
	struct gharness *h = arg;
	struct ic_heartbeat_status s;

	ic_heartbeat_status(ic_set_heartbeat(h->set), &s);
	return s.state == IC_HEARTBEAT_MISSED;
}

static void test_heartbeat(void)
{
	struct ic_config cfg = {.heartbeat_interval_ms = 20};
	struct gharness *h = g_setup(&cfg, false);
	struct ic_heartbeat *hb = ic_set_heartbeat(h->set);
	struct ic_heartbeat_status s;
	struct gpkt *p = malloc(sizeof(*p));
	uint64_t seq = 0, last, wall = clock_ns(CLOCK_REALTIME);

	ic_heartbeat_status(hb, &s);
	CHECK_EQ(s.state, IC_HEARTBEAT_NO_CONTACT);
	CHECK_EQ(s.channel.link, IC_LINK_CLOSED);
	CHECK(g_open_negotiate(h, G_HEARTBEAT, &g_linux[G_HEARTBEAT]));
	ic_heartbeat_status(hb, &s);
	CHECK_EQ(s.state, IC_HEARTBEAT_NO_CONTACT); /* ready, never answered */
	for (int i = 0; i < 5; i++) {
		struct heartbeat_msg_data m;
		struct icmsg_hdr hd;

		CHECK(g_recv(&h->ch[G_HEARTBEAT], p, 1000));
		hd = g_hdr(p);
		CHECK_EQ(hd.icmsgtype, ICMSGTYPE_HEARTBEAT);
		CHECK_EQ(hd.icmsgsize, sizeof(m));
		memcpy(&m, g_body(p), sizeof(m));
		if (i > 0)
			CHECK_EQ(m.seq_num, seq + 1);
		seq = m.seq_num;
		m.seq_num++; /* heartbeat_onchannelcallback */
		memcpy(g_body(p), &m, sizeof(m));
		g_answer(&h->ch[G_HEARTBEAT], p, HV_S_OK);
		g_settle(h, 2);
		ic_heartbeat_status(hb, &s);
		CHECK_EQ(s.state, IC_HEARTBEAT_HEALTHY);
		CHECK_EQ(s.answers, (uint64_t)i + 1);
	}
	CHECK(s.last_answer_wall_ns >= wall);
	/* A wrong sequence number is not an answer. */
	CHECK(g_recv(&h->ch[G_HEARTBEAT], p, 1000));
	{
		struct heartbeat_msg_data m;

		memcpy(&m, g_body(p), sizeof(m));
		m.seq_num += 5;
		memcpy(g_body(p), &m, sizeof(m));
	}
	g_answer(&h->ch[G_HEARTBEAT], p, HV_S_OK);
	g_settle(h, 2);
	ic_heartbeat_status(hb, &s);
	CHECK_EQ(s.answers, 5);
	last = s.last_answer_ns;
	/* Silence: missed after three intervals, since the last answer. */
	CHECK(g_run(h, hb_missed, h, 1000));
	ic_heartbeat_status(hb, &s);
	CHECK_EQ(s.state, IC_HEARTBEAT_MISSED);
	CHECK_EQ(s.last_answer_ns, last);
	CHECK(ic_now_ns() - last >= 60000000ull);
	/* Back: the newest beat answered makes it healthy again. */
	drain_ring(h, G_HEARTBEAT, p);
	CHECK(g_recv(&h->ch[G_HEARTBEAT], p, 1000));
	{
		struct heartbeat_msg_data m;

		memcpy(&m, g_body(p), sizeof(m));
		m.seq_num++;
		memcpy(g_body(p), &m, sizeof(m));
	}
	g_answer(&h->ch[G_HEARTBEAT], p, HV_S_OK);
	g_settle(h, 2);
	ic_heartbeat_status(hb, &s);
	CHECK_EQ(s.state, IC_HEARTBEAT_HEALTHY);
	CHECK_EQ(s.answers, 6);
	/* The guest's driver goes away: no contact. */
	g_close(h, G_HEARTBEAT);
	ic_heartbeat_status(hb, &s);
	CHECK_EQ(s.state, IC_HEARTBEAT_NO_CONTACT);
	free(p);
	g_teardown(h);
}

/* ---- Time sync ---- */

/* Host time in 100 ns units since 1601, as the guest should see it. */
static uint64_t now_1601(int64_t offset_ns)
{
	return (uint64_t)((int64_t)clock_ns(CLOCK_REALTIME) + offset_ns) / 100u + WLTIMEDELTA;
}

static bool near(uint64_t a, uint64_t b)
{
	uint64_t d = a > b ? a - b : b - a;

	return d < 20000000ull; /* 2 s */
}

/* The next time sample; answers it. Returns its flags, the parenttime in *t. */
static uint8_t take_sample(struct gharness *h, struct gpkt *p, uint64_t *t, bool v4)
{
	struct icmsg_hdr hd;
	uint8_t flags = 0xff;

	if (!g_recv(&h->ch[G_TIMESYNC], p, 1000)) {
		CHECK(!"no time sample");
		return flags;
	}
	hd = g_hdr(p);
	CHECK_EQ(hd.icmsgtype, ICMSGTYPE_TIMESYNC);
	if (v4) {
		struct ictimesync_ref_data m;

		CHECK_EQ(hd.icmsgsize, sizeof(m));
		CHECK_EQ(hd.icvermsg.major, 4);
		memcpy(&m, g_body(p), sizeof(m));
		CHECK_EQ(m.vmreferencetime, h->ref_time);
		*t = m.parenttime;
		flags = m.flags;
	} else {
		struct ictimesync_data m;

		CHECK_EQ(hd.icmsgsize, sizeof(m));
		CHECK_EQ(hd.icvermsg.major, 3);
		memcpy(&m, g_body(p), sizeof(m));
		*t = m.parenttime;
		flags = m.flags;
	}
	g_answer(&h->ch[G_TIMESYNC], p, HV_S_OK);
	return flags;
}

static void test_timesync(void)
{
	struct ic_config cfg = {.timesync_interval_ms = 30, .request_timeout_ms = 200};
	struct gharness *h = g_setup(&cfg, false);
	struct ic_timesync *ts = ic_set_timesync(h->set);
	struct gpkt *p = malloc(sizeof(*p));
	struct g_versions v3 = {{{3, 0}}, 1, {{3, 0}}, 1};
	const int64_t hour = 3600ll * 1000000000ll;
	uint64_t t;

	h->ref_time = 0x123456789abcull;
	CHECK_EQ(ic_timesync_sync(ts), -ENOTCONN);
	CHECK(g_open_negotiate(h, G_TIMESYNC, &g_linux[G_TIMESYNC]));
	/* 4.0: a SYNC first, with the reference time it was taken at. */
	CHECK_EQ(take_sample(h, p, &t, true), ICTIMESYNCFLAG_SYNC);
	CHECK(near(t, now_1601(0)));
	CHECK(h->ref_calls >= 1);
	/* Then a SAMPLE every interval. */
	h->ref_time += 1000;
	CHECK_EQ(take_sample(h, p, &t, true), ICTIMESYNCFLAG_SAMPLE);
	CHECK(near(t, now_1601(0)));
	/* The host's time stepped: a SYNC at once, with the offset. */
	ic_timesync_set_offset(ts, hour);
	CHECK_EQ(ic_timesync_offset(ts), hour);
	CHECK_EQ(take_sample(h, p, &t, true), ICTIMESYNCFLAG_SYNC);
	CHECK(near(t, now_1601(hour)));
	CHECK(!near(t, now_1601(0)));
	CHECK_EQ(take_sample(h, p, &t, true), ICTIMESYNCFLAG_SAMPLE);
	CHECK(near(t, now_1601(hour)));
	/* On demand (resume). */
	CHECK_EQ(ic_timesync_sync(ts), 0);
	CHECK_EQ(take_sample(h, p, &t, true), ICTIMESYNCFLAG_SYNC);
	g_settle(h, 2);
	CHECK(ic_timesync_answers(ts) >= 5);
	/* An unanswered sample holds the next ones back until it times out. */
	CHECK(g_recv(&h->ch[G_TIMESYNC], p, 1000));
	g_settle(h, 100);
	CHECK(!g_has_packet(&h->ch[G_TIMESYNC]));
	CHECK(g_recv(&h->ch[G_TIMESYNC], p, 1000)); /* after the 200 ms timeout */
	g_answer(&h->ch[G_TIMESYNC], p, HV_S_OK);
	/* An offset before 1970 is clamped to the epoch. */
	ic_timesync_set_offset(ts, -(int64_t)clock_ns(CLOCK_REALTIME) - hour);
	drain_ring(h, G_TIMESYNC, p);
	g_close(h, G_TIMESYNC);
	/* A guest that knows only 3.0 gets ictimesync_data; the offset set before stays. */
	ic_timesync_set_offset(ts, -hour);
	CHECK(g_open_negotiate(h, G_TIMESYNC, &v3));
	CHECK_EQ(take_sample(h, p, &t, false), ICTIMESYNCFLAG_SYNC);
	CHECK(near(t, now_1601(-hour)));
	CHECK_EQ(take_sample(h, p, &t, false), ICTIMESYNCFLAG_SAMPLE);
	free(p);
	g_teardown(h);
}

/* ---- Framework: malformed and stale answers, timeouts, close, rings ---- */

/* Sends p back with a change to its headers. */
static void answer_modified(struct gharness *h, int i, const struct gpkt *orig,
			    void (*change)(struct gpkt *q, uint64_t *tid), struct gpkt *tmp)
{
	uint64_t tid = orig->trans_id;
	struct icmsg_hdr hd;

	memcpy(tmp, orig, offsetof(struct gpkt, data) + orig->len);
	hd = g_hdr(tmp);
	hd.icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
	memcpy(tmp->data + 8, &hd, sizeof(hd));
	change(tmp, &tid);
	CHECK_EQ(g_send(&h->ch[i], tmp->type, tid, tmp->data, tmp->len), 0);
	g_settle(h, 5);
}

static void wrong_vmbus_tid(struct gpkt *q, uint64_t *tid)
{
	(void)q;
	*tid += 1;
}

static void wrong_ic_tid(struct gpkt *q, uint64_t *tid)
{
	(void)tid;
	q->data[8 + 16]++;
}

static void wrong_type(struct gpkt *q, uint64_t *tid)
{
	(void)tid;
	q->data[8 + 4] = ICMSGTYPE_HEARTBEAT;
}

static void not_response(struct gpkt *q, uint64_t *tid)
{
	(void)tid;
	q->data[8 + 17] = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST;
}

static void pipe_too_long(struct gpkt *q, uint64_t *tid)
{
	uint32_t n = q->len; /* more than follows the pipe header */

	(void)tid;
	memcpy(q->data + 4, &n, 4);
}

static void pipe_too_short(struct gpkt *q, uint64_t *tid)
{
	uint32_t n = 19; /* less than an icmsg_hdr */

	(void)tid;
	memcpy(q->data + 4, &n, 4);
}

static void pipe_not_data(struct gpkt *q, uint64_t *tid)
{
	(void)tid;
	q->data[0] = 2; /* a partial pipe packet */
}

static void headers_cut(struct gpkt *q, uint64_t *tid)
{
	(void)tid;
	q->len = 24; /* 8 + 16: less than both headers */
}

static void comp_packet(struct gpkt *q, uint64_t *tid)
{
	(void)tid;
	q->type = VM_PKT_COMP;
}

static void body_truncated(struct gpkt *q, uint64_t *tid)
{
	uint32_t n = sizeof(struct icmsg_hdr) + 4; /* hv_vss_msg needs 12 */

	(void)tid;
	memcpy(q->data + 4, &n, 4);
}

static void test_bad_answers(void)
{
	void (*drops[])(struct gpkt *, uint64_t *) = {
		wrong_vmbus_tid, wrong_ic_tid, wrong_type,    not_response, pipe_too_long,
		pipe_too_short,  pipe_not_data, headers_cut, comp_packet,
	};
	struct gharness *h = g_setup(NULL, false);
	struct ic_vss *vss = ic_set_vss(h->set);
	struct gpkt *p = malloc(sizeof(*p)), *tmp = malloc(sizeof(*p));
	struct done_rec r = {0};
	struct ic_link_status st;
	uint8_t big[20000];

	CHECK(g_open_negotiate(h, G_VSS, &g_linux[G_VSS]));
	CHECK_EQ(ic_vss_freeze(vss, rec_vss, &r), 0);
	CHECK(g_recv(&h->ch[G_VSS], p, 1000));
	for (unsigned i = 0; i < sizeof(drops) / sizeof(drops[0]); i++) {
		answer_modified(h, G_VSS, p, drops[i], tmp);
		CHECK_EQ(r.calls, 0);
		ic_vss_status(vss, &st);
		CHECK_EQ(st.dropped, i + 1);
	}
	/* Nothing was taken for an answer: the right one completes the request. */
	g_answer(&h->ch[G_VSS], p, HV_S_OK);
	CHECK(g_run(h, rec_called, &r, 1000));
	CHECK_EQ(r.err, 0);
	/* The right request, a body shorter than the message: a protocol error. */
	memset(&r, 0, sizeof(r));
	CHECK_EQ(ic_vss_thaw(vss, rec_vss, &r), 0);
	CHECK(g_recv(&h->ch[G_VSS], p, 1000));
	answer_modified(h, G_VSS, p, body_truncated, tmp);
	CHECK(g_run(h, rec_called, &r, 1000));
	CHECK_EQ(r.err, -EPROTO);
	CHECK(strstr(r.detail, "truncated") != NULL);
	g_close(h, G_VSS);

	/* A packet larger than the host's buffer (a ring with room for it) is skipped. */
	CHECK_EQ(g_open_pages(h, G_VSS, 8), 0);
	CHECK(g_recv(&h->ch[G_VSS], p, 1000));
	CHECK(g_negotiate_answer(&h->ch[G_VSS], p, &g_linux[G_VSS]));
	g_settle(h, 5);
	memset(&r, 0, sizeof(r));
	CHECK_EQ(ic_vss_hot_backup(vss, rec_vss, &r), 0);
	CHECK(g_recv(&h->ch[G_VSS], p, 1000));
	memset(big, 0, sizeof(big));
	memcpy(big, p->data, p->len);
	big[8 + 17] = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
	CHECK_EQ(g_send(&h->ch[G_VSS], VM_PKT_DATA_INBAND, p->trans_id, big, sizeof(big)), 0);
	g_settle(h, 5);
	CHECK_EQ(r.calls, 0);
	ic_vss_status(vss, &st);
	CHECK_EQ(st.dropped, sizeof(drops) / sizeof(drops[0]) + 1);
	{
		struct hv_vss_msg m;

		memcpy(&m, g_body(p), sizeof(m));
		CHECK_EQ(m.vss_hdr.operation, VSS_OP_HOT_BACKUP);
		m.flags = VSS_HBU_NO_AUTO_RECOVERY;
		memcpy(g_body(p), &m, sizeof(m));
	}
	g_answer(&h->ch[G_VSS], p, HV_S_OK);
	CHECK(g_run(h, rec_called, &r, 1000));
	CHECK_EQ(r.err, 0);
	CHECK_EQ(r.flags, VSS_HBU_NO_AUTO_RECOVERY);
	free(p);
	free(tmp);
	g_teardown(h);
}

static void test_timeouts(void)
{
	struct ic_config cfg = {.request_timeout_ms = 80};
	struct gharness *h = g_setup(&cfg, false);
	struct ic_vss *vss = ic_set_vss(h->set);
	struct gpkt *p = malloc(sizeof(*p)), *old = malloc(sizeof(*p));
	struct done_rec r = {0}, r2 = {0}, r3 = {0};
	struct ic_link_status st;
	uint64_t t0;

	CHECK(g_open_negotiate(h, G_VSS, &g_linux[G_VSS]));
	t0 = ic_now_ns();
	CHECK_EQ(ic_vss_freeze(vss, rec_vss, &r), 0);
	CHECK(g_recv(&h->ch[G_VSS], old, 1000));
	CHECK(g_run(h, rec_called, &r, 2000));
	CHECK_EQ(r.err, -ETIMEDOUT);
	CHECK(strstr(r.detail, "no answer") != NULL);
	CHECK(ic_now_ns() - t0 >= 80000000ull);
	/* The late answer is dropped; the next request has its own transaction id. */
	CHECK_EQ(ic_vss_thaw(vss, rec_vss, &r2), 0);
	CHECK(g_recv(&h->ch[G_VSS], p, 1000));
	CHECK(p->trans_id != old->trans_id);
	CHECK(g_hdr(p).ictransaction_id != g_hdr(old).ictransaction_id);
	g_answer(&h->ch[G_VSS], old, HV_S_OK);
	g_settle(h, 5);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r2.calls, 0);
	ic_vss_status(vss, &st);
	CHECK_EQ(st.dropped, 1);
	g_answer(&h->ch[G_VSS], p, HV_S_OK);
	CHECK(g_run(h, rec_called, &r2, 1000));
	CHECK_EQ(r2.err, 0);

	/* Requests wait behind the one in flight and time out on their own clock. */
	memset(&r, 0, sizeof(r));
	memset(&r2, 0, sizeof(r2));
	CHECK_EQ(ic_vss_freeze(vss, rec_vss, &r), 0);
	CHECK_EQ(ic_vss_thaw(vss, rec_vss, &r2), 0);
	CHECK(g_recv(&h->ch[G_VSS], p, 1000));
	CHECK(!g_recv(&h->ch[G_VSS], old, 20)); /* one at a time */
	CHECK(g_run(h, rec_called, &r2, 2000));
	CHECK_EQ(r.err, -ETIMEDOUT);
	CHECK_EQ(r2.err, -ETIMEDOUT);
	drain_ring(h, G_VSS, p);

	/* A guest that never negotiates (KVP without hv_kvp_daemon): queued requests time out. */
	g_open(h, G_KVP);
	CHECK(g_recv(&h->ch[G_KVP], p, 1000)); /* NEGOTIATE, never answered */
	memset(&r3, 0, sizeof(r3));
	CHECK_EQ(ic_kvp_set(ic_set_kvp(h->set), 0, "key", "value", rec_done, &r3), 0);
	CHECK(g_run(h, rec_called, &r3, 2000));
	CHECK_EQ(r3.err, -ETIMEDOUT);
	CHECK(strstr(r3.detail, "not sent") != NULL);
	CHECK(!g_recv(&h->ch[G_KVP], p, 20));
	free(p);
	free(old);
	g_teardown(h);
}

static void test_close_pending(void)
{
	struct gharness *h = g_setup(NULL, false);
	struct ic_vss *vss = ic_set_vss(h->set);
	struct gpkt *p = malloc(sizeof(*p));
	struct done_rec r[3] = {{0}};

	CHECK(g_open_negotiate(h, G_VSS, &g_linux[G_VSS]));
	CHECK_EQ(ic_vss_freeze(vss, rec_vss, &r[0]), 0);
	CHECK(g_recv(&h->ch[G_VSS], p, 1000));
	CHECK_EQ(ic_vss_thaw(vss, rec_vss, &r[1]), 0);
	CHECK_EQ(ic_vss_hot_backup(vss, rec_vss, &r[2]), 0);
	g_close(h, G_VSS);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(r[i].calls, 1);
		CHECK_EQ(r[i].err, -ENOTCONN);
		CHECK(strstr(r[i].detail, "closed") != NULL);
	}
	CHECK_EQ(ic_vss_freeze(vss, rec_vss, &r[0]), -ENOTCONN);
	/* Closed while negotiating: the queued request ends the same way. */
	g_open(h, G_VSS);
	memset(r, 0, sizeof(r));
	CHECK_EQ(ic_vss_freeze(vss, rec_vss, &r[0]), 0);
	g_settle(h, 5);
	g_close(h, G_VSS);
	CHECK_EQ(r[0].err, -ENOTCONN);
	/* Reopened and negotiated: it works. */
	CHECK(g_open_negotiate(h, G_VSS, &g_linux[G_VSS]));
	memset(r, 0, sizeof(r));
	CHECK_EQ(ic_vss_freeze(vss, rec_vss, &r[0]), 0);
	CHECK(g_recv(&h->ch[G_VSS], p, 1000));
	g_answer(&h->ch[G_VSS], p, HV_S_OK);
	CHECK(g_run(h, rec_called, &r[0], 1000));
	CHECK_EQ(r[0].err, 0);
	free(p);
	g_teardown(h);
}

static void test_malformed_ring(void)
{
	struct gharness *h = g_setup(NULL, false);
	struct ic_vss *vss = ic_set_vss(h->set);
	struct gpkt *p = malloc(sizeof(*p));
	struct done_rec r = {0};
	struct ic_link_status st;

	CHECK(g_open_negotiate(h, G_VSS, &g_linux[G_VSS]));
	CHECK_EQ(ic_vss_freeze(vss, rec_vss, &r), 0);
	CHECK(g_recv(&h->ch[G_VSS], p, 1000));
	/* The guest's write index is not 8-aligned: packet boundaries are lost. */
	h->ch[G_VSS].tx.hdr->write_index = 12;
	g_signal_host(&h->ch[G_VSS]);
	CHECK(g_run(h, rec_called, &r, 1000));
	CHECK_EQ(r.err, -EPROTO);
	CHECK(strstr(r.detail, "malformed ring") != NULL);
	ic_vss_status(vss, &st);
	CHECK_EQ(st.link, IC_LINK_FAILED);
	CHECK_EQ(ic_vss_thaw(vss, rec_vss, &r), -EPROTO);
	g_close(h, G_VSS);
	CHECK(g_open_negotiate(h, G_VSS, &g_linux[G_VSS]));
	ic_vss_status(vss, &st);
	CHECK_EQ(st.link, IC_LINK_READY);

	/* The guest corrupts the ring the host writes to: its read index is out of range. */
	h->ch[G_VSS].rx.hdr->read_index = 5;
	memset(&r, 0, sizeof(r));
	CHECK_EQ(ic_vss_freeze(vss, rec_vss, &r), 0);
	CHECK(g_run(h, rec_called, &r, 1000));
	CHECK_EQ(r.err, -EPROTO);
	ic_vss_status(vss, &st);
	CHECK_EQ(st.link, IC_LINK_FAILED);
	CHECK(strstr(st.error, "ring") != NULL);
	free(p);
	g_teardown(h);
}

/* The host's ring to the guest is full: the request waits until the guest reads. */
static void test_ring_full(void)
{
	struct ic_config cfg = {.request_timeout_ms = 60};
	struct gharness *h = g_setup(&cfg, false);
	struct ic_shutdown *sd = ic_set_shutdown(h->set);
	struct gpkt *p = malloc(sizeof(*p));
	struct done_rec r = {0}, r2 = {0};

	/* One data page: one 2112-byte shutdown packet leaves no room for a second. */
	CHECK_EQ(g_open_pages(h, G_SHUTDOWN, 1), 0);
	CHECK(g_recv(&h->ch[G_SHUTDOWN], p, 1000));
	CHECK(g_negotiate_answer(&h->ch[G_SHUTDOWN], p, &g_linux[G_SHUTDOWN]));
	g_settle(h, 5);
	CHECK_EQ(ic_shutdown_request(sd, IC_SHUTDOWN_REBOOT, false, NULL, rec_done, &r), 0);
	CHECK(g_run(h, rec_called, &r, 1000)); /* written, never read: times out */
	CHECK_EQ(r.err, -ETIMEDOUT);
	CHECK_EQ(ic_shutdown_request(sd, IC_SHUTDOWN_POWEROFF, false, NULL, rec_done, &r2), 0);
	g_settle(h, 20);
	CHECK(h->ch[G_SHUTDOWN].rx.hdr->pending_send_sz > 0); /* asks to be told of room */
	/* The guest reads the stale request (and signals); the waiting one goes out. */
	CHECK(g_recv(&h->ch[G_SHUTDOWN], p, 0));
	CHECK(g_recv(&h->ch[G_SHUTDOWN], p, 1000));
	CHECK_EQ(g_body(p)[8], 0); /* power off */
	g_answer(&h->ch[G_SHUTDOWN], p, HV_S_OK);
	CHECK(g_run(h, rec_called, &r2, 1000));
	CHECK_EQ(r2.err, 0);
	CHECK_EQ(h->ch[G_SHUTDOWN].rx.hdr->pending_send_sz, 0);
	free(p);
	g_teardown(h);
}

/* ---- The set ---- */

static int dummy_open(void *opaque, struct vmbus_channel *ch, const struct vmbus_open_request *req)
{
	(void)opaque, (void)ch, (void)req;
	return -EIO;
}

static void dummy_close(void *opaque, struct vmbus_channel *ch)
{
	(void)opaque, (void)ch;
}

static void test_set_errors(void)
{
	static const struct vmbus_device_ops ops = {.open = dummy_open, .close = dummy_close};
	struct gharness *h = calloc(1, sizeof(*h));
	struct vmbus_device_desc desc = {
		.if_type = VMBUS_GUID(0x11111111, 0x2222, 0x3333, 0x44, 0x44, 0, 0, 0, 0, 0, 1),
		/* the file copy service's instance: the sixth IC cannot be offered */
		.if_instance = VMBUS_GUID(0xeb765408, 0x105f, 0x49b6, 0xb4, 0xaa, 0xc1, 0x23, 0xb6,
					  0x4d, 0x17, 0xd4),
		.name = "blocker",
		.ops = &ops,
	};
	struct vmbus_device *dev;
	struct error err = {{0}};
	struct ic_set *s = NULL;

	h->fh = fake_setup(hv_features_default(), 1, FAKE_TSC_HZ);
	CHECK_EQ(event_loop_init(&h->loop), 0);
	ic_timer_init(&h->guard, &h->loop, g_guard_fired);
	fake_enable_hypercalls(h->fh);
	fake_enable_synic(h->fh, 0, G_SIMP, G_SIEFP, VMBUS_MESSAGE_SINT, 0xf3);
	CHECK_EQ(vmbus_host_create(&h->host, h->fh->p, &h->loop, &h->fh->mem, 1, &err), 0);
	CHECK_EQ(vmbus_server_add_device(vmbus_host_server(h->host), &desc, &dev), 0);
	CHECK_EQ(ic_set_create(&s, h->host, &h->fh->mem, NULL, &err), -EEXIST);
	CHECK(strstr(err.msg, "file copy") != NULL);
	vmbus_server_remove_device(vmbus_host_server(h->host), dev);
	/* The first five were withdrawn: a new set offers all six again. */
	CHECK_EQ(ic_set_create(&h->set, h->host, &h->fh->mem, NULL, &err), 0);
	CHECK(ic_set_shutdown(h->set) && ic_set_heartbeat(h->set) && ic_set_timesync(h->set) &&
	      ic_set_kvp(h->set) && ic_set_vss(h->set) && ic_set_fcopy(h->set));
	g_connect(h);
	/* Default configuration: a 10 s timeout, the guest answers long before. */
	CHECK(g_open_negotiate(h, G_SHUTDOWN, &g_linux[G_SHUTDOWN]));
	g_teardown(h);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	test_utf16();
	test_status();
	test_negotiate_pairs();
	test_negotiate_failures();
	test_shutdown();
	test_heartbeat();
	test_timesync();
	test_bad_answers();
	test_timeouts();
	test_close_pending();
	test_malformed_ring();
	test_ring_full();
	test_set_errors();
	return unit_done("test_ic");
}
