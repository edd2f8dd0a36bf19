/* A simulated Linux guest for the integration-component tests: a fake Hyper-V partition with
 * SynIC, the real VMBus host and event loop, and a guest that connects to VMBus 5.3, opens IC
 * channels with Linux's util ring sizes (hv_util.c: 3 data pages each way), reads the host's
 * packets from its ring and answers as hv_utils does (the same bytes back, ICMSGHDRFLAG_RESPONSE,
 * a status, the same transaction id), picking versions as vmbus_prep_negotiate_resp does. */
#ifndef HVKVM_TEST_IC_GUEST_H
#define HVKVM_TEST_IC_GUEST_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "event_loop.h"
#include "synthetic/ic.h"
#include "test_hv_fake.h"
#include "vmbus_guest_msgs.h"
#include "vmbus/host.h"
#include "vmbus/packet.h"
#include "vmbus/protocol.h"
#include "vmbus/ring.h"
#include "vmbus/server.h"

#define G_SIMP 0x2000ull
#define G_SIEFP 0x3000ull
#define G_RING_BASE 0x100000ull
#define G_RING_SPAN (20 * 4096ull) /* per channel: up to 9 pages each way */
#define G_PKT_MAX 65536u

enum { G_SHUTDOWN, G_TIMESYNC, G_HEARTBEAT, G_KVP, G_VSS, G_FCOPY, G_NCHAN };

static const struct vmbus_guid g_types[G_NCHAN] = {
	VMBUS_GUID(0x0e0b6031, 0x5213, 0x4934, 0x81, 0x8b, 0x38, 0xd9, 0x0c, 0xed, 0x39, 0xdb),
	VMBUS_GUID(0x9527e630, 0xd0ae, 0x497b, 0xad, 0xce, 0xe8, 0x0a, 0xb0, 0x17, 0x5c, 0xaf),
	VMBUS_GUID(0x57164f39, 0x9115, 0x4e78, 0xab, 0x55, 0x38, 0x2f, 0x3b, 0xd5, 0x42, 0x2d),
	VMBUS_GUID(0xa9a0f4e7, 0x5a45, 0x4d96, 0xb8, 0x27, 0x8a, 0x84, 0x1e, 0x8c, 0x03, 0xe6),
	VMBUS_GUID(0x35fa2e29, 0xea23, 0x4236, 0x96, 0xae, 0x3a, 0x6e, 0xba, 0xcb, 0xa4, 0x40),
	VMBUS_GUID(0x34d14be3, 0xdee4, 0x41c8, 0x9a, 0xe7, 0x6b, 0x17, 0x49, 0x77, 0xc1, 0x92),
};

/* Linux 6.1's version lists, preferred first (hv_util.c, hv_kvp.c, hv_snapshot.c, hv_fcopy.c). */
struct g_versions {
	struct ic_version fw[4];
	unsigned nfw;
	struct ic_version msg[4];
	unsigned nmsg;
};

static const struct g_versions g_linux[G_NCHAN] = {
	[G_SHUTDOWN] = {{{3, 0}, {1, 0}}, 2, {{3, 2}, {3, 1}, {3, 0}, {1, 0}}, 4},
	[G_TIMESYNC] = {{{3, 0}, {1, 0}}, 2, {{4, 0}, {3, 0}, {1, 0}}, 3},
	[G_HEARTBEAT] = {{{3, 0}, {1, 0}}, 2, {{3, 0}, {1, 0}}, 2},
	[G_KVP] = {{{3, 0}, {1, 0}}, 2, {{4, 0}, {3, 0}, {1, 0}}, 3},
	[G_VSS] = {{{3, 0}}, 1, {{5, 0}}, 1},
	[G_FCOPY] = {{{3, 0}}, 1, {{1, 1}}, 1},
};

/* One side of a ring in fake RAM (contiguous pages): the guest's view. */
struct gring {
	struct hv_ring_buffer *hdr;
	uint8_t *data;
	uint32_t size;
	uint32_t priv_read;
};

/* A host packet as Linux's vmbus_recvpacket hands it over: payload from offset8, len = what
 * follows the descriptor, the sender's padding included (recvlen). */
struct gpkt {
	uint16_t type;
	uint64_t trans_id;
	uint32_t len;
	uint8_t data[G_PKT_MAX];
};

struct gharness;

struct gchan {
	struct gharness *h;
	uint32_t relid, conn_id;
	bool offered, open;
	uint32_t gpadl;
	unsigned data_pages; /* per direction */
	struct gring tx;     /* guest -> host */
	struct gring rx;     /* host -> guest */
};

struct gharness {
	struct fake_host *fh;
	struct event_loop loop;
	struct vmbus_host *host;
	struct ic_set *set;
	struct ic_config cfg;
	struct gchan ch[G_NCHAN];
	struct ic_timer guard;
	bool expired;
	uint64_t ref_time; /* what the ref_time callback returns */
	unsigned ref_calls;
	uint32_t next_gpadl;
	uint8_t msg[VMBUS_MESSAGE_MAX];
	uint32_t msg_size;
};

static inline uint64_t g_ref_time(void *ctx)
{
	struct gharness *h = ctx;

	h->ref_calls++;
	return h->ref_time;
}

static inline void g_guard_fired(struct ic_timer *t)
{
	struct gharness *h = (struct gharness *)(void *)((char *)t -
							 offsetof(struct gharness, guard));

	h->expired = true;
}

/* ---- The loop ---- */

struct g_wait {
	struct gharness *h;
	bool (*cond)(void *arg);
	void *arg;
};

static inline bool g_wait_done(void *arg)
{
	struct g_wait *w = arg;

	return w->h->expired || (w->cond && w->cond(w->arg));
}

/* Runs the loop until cond(arg) or ms passed; returns cond's last value (false without cond). */
static inline bool g_run(struct gharness *h, bool (*cond)(void *), void *arg, unsigned ms)
{
	struct g_wait w = {h, cond, arg};

	h->expired = false;
	ic_timer_arm_at(&h->guard, ic_now_ns() + ms * 1000000ull);
	CHECK_EQ(event_loop_run_until(&h->loop, g_wait_done, &w), 0);
	ic_timer_stop(&h->guard);
	return cond ? cond(arg) : false;
}

static inline void g_settle(struct gharness *h, unsigned ms)
{
	g_run(h, NULL, NULL, ms);
}

/* ---- Channel messages through the SynIC ---- */

/* The next message in VP 0's SINT 2 slot (EOM when more wait), or false. */
static inline bool g_take_msg(struct gharness *h)
{
	struct hv_message *m = fake_slot(h->fh, G_SIMP, VMBUS_MESSAGE_SINT);
	bool pending;

	if (m->header.message_type == HVMSG_NONE)
		return false;
	h->msg_size = m->header.payload_size;
	memcpy(h->msg, m->payload, sizeof(h->msg));
	pending = m->header.message_flags & HV_MESSAGE_FLAG_PENDING;
	m->header.message_type = HVMSG_NONE;
	if (pending)
		wrmsr_ok(h->fh, 0, HV_X64_MSR_EOM, 0);
	return true;
}

static inline uint32_t g_msg_u32(const struct gharness *h, unsigned off)
{
	uint32_t v;

	memcpy(&v, h->msg + off, 4);
	return v;
}

/* Takes the next message, which must be of this type. */
static inline bool g_expect(struct gharness *h, uint32_t type)
{
	bool got = g_take_msg(h);

	CHECK(got);
	if (!got)
		return false;
	CHECK_EQ(g_msg_u32(h, 0), type);
	return g_msg_u32(h, 0) == type;
}

static inline void g_post(struct gharness *h, uint32_t conn, const void *msg, uint32_t size)
{
	CHECK_EQ(vmbus_server_post_message(vmbus_host_server(h->host), 0, conn, VMBUS_MESSAGE_TYPE,
					   msg, size), HV_STATUS_SUCCESS);
}

/* INITIATE_CONTACT 5.3 on connection 4, REQUESTOFFERS; records the IC offers. */
static inline void g_connect(struct gharness *h)
{
	struct vmbus_msg_initiate_contact ic;
	struct vmbus_msg_header req = {.msgtype = CHANNELMSG_REQUESTOFFERS};
	unsigned offers = 0;

	memset(&ic, 0, sizeof(ic));
	ic.header.msgtype = CHANNELMSG_INITIATE_CONTACT;
	ic.vmbus_version_requested = VERSION_WIN10_V5_3;
	ic.msg_sint = VMBUS_MESSAGE_SINT;
	ic.monitor_page1 = 0x6000;
	ic.monitor_page2 = 0x7000;
	g_post(h, VMBUS_MESSAGE_CONNECTION_ID_4, &ic, sizeof(ic));
	if (g_expect(h, CHANNELMSG_VERSION_RESPONSE))
		CHECK_EQ(h->msg[8], 1);
	g_post(h, VMBUS_MESSAGE_CONNECTION_ID, &req, sizeof(req));
	while (g_take_msg(h) && g_msg_u32(h, 0) == CHANNELMSG_OFFERCHANNEL) {
		struct vmbus_msg_offer_channel o;

		memcpy(&o, h->msg, sizeof(o));
		for (int i = 0; i < G_NCHAN; i++) {
			if (memcmp(&o.offer.if_type, &g_types[i], sizeof(g_types[i])))
				continue;
			h->ch[i].relid = o.child_relid;
			h->ch[i].conn_id = o.connection_id;
			h->ch[i].offered = true;
			/* A message-mode pipe, as Hyper-V offers ICs. */
			CHECK_EQ(o.offer.chn_flags, VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE |
							    VMBUS_CHANNEL_NAMED_PIPE_MODE);
			CHECK_EQ(o.offer.user_def[0], 4);
			offers++;
		}
	}
	CHECK_EQ(g_msg_u32(h, 0), CHANNELMSG_ALLOFFERS_DELIVERED);
	CHECK_EQ(offers, G_NCHAN);
}

static inline void gring_init(struct gring *g, uint8_t *base, unsigned data_pages)
{
	g->hdr = (struct hv_ring_buffer *)base;
	g->data = base + 4096;
	g->size = data_pages * 4096u;
	g->priv_read = 0;
	/* hv_ringbuffer_init: indices 0, pending-send-size supported. */
	memset(base, 0, 4096u * (data_pages + 1));
	g->hdr->feature_bits = VMBUS_RING_FEAT_PENDING_SEND_SZ;
}

/* Opens channel i as Linux's vmbus_open: a GPADL over both rings, OPENCHANNEL. Returns the
 * OPENCHANNEL_RESULT status. */
static inline uint32_t g_open_pages(struct gharness *h, int i, unsigned data_pages)
{
	struct gchan *c = &h->ch[i];
	uint64_t gpa = G_RING_BASE + (uint64_t)i * G_RING_SPAN;
	unsigned npages = 2 * (data_pages + 1);
	uint8_t buf[VMBUS_MESSAGE_MAX];
	struct vmbus_msg_open_channel oc;
	uint32_t len, carried;

	c->h = h;
	c->data_pages = data_pages;
	c->gpadl = ++h->next_gpadl;
	gring_init(&c->tx, h->fh->ram + gpa, data_pages);
	gring_init(&c->rx, h->fh->ram + gpa + 4096u * (data_pages + 1), data_pages);
	len = vmbus_guest_gpadl_header(buf, c->relid, c->gpadl, gpa / 4096, npages, npages * 4096u,
				       &carried);
	g_post(h, VMBUS_MESSAGE_CONNECTION_ID, buf, len);
	for (uint32_t done = carried; done < npages; done += carried) {
		len = vmbus_guest_gpadl_body(buf, c->gpadl, gpa / 4096 + done, npages - done, &carried);
		g_post(h, VMBUS_MESSAGE_CONNECTION_ID, buf, len);
	}
	if (g_expect(h, CHANNELMSG_GPADL_CREATED))
		CHECK_EQ(g_msg_u32(h, 16), 0);
	oc = vmbus_guest_open(c->relid, c->gpadl, data_pages + 1, 0);
	g_post(h, VMBUS_MESSAGE_CONNECTION_ID, &oc, sizeof(oc));
	if (!g_expect(h, CHANNELMSG_OPENCHANNEL_RESULT))
		return ~0u;
	c->open = g_msg_u32(h, 16) == 0;
	return g_msg_u32(h, 16);
}

static inline void g_open(struct gharness *h, int i)
{
	CHECK_EQ(g_open_pages(h, i, 3), 0);
}

/* vmbus_close: CLOSECHANNEL, then the ring GPADL's teardown. */
static inline void g_close(struct gharness *h, int i)
{
	struct gchan *c = &h->ch[i];
	struct vmbus_msg_close_channel cc = {.header.msgtype = CHANNELMSG_CLOSECHANNEL,
					     .child_relid = c->relid};
	struct vmbus_msg_gpadl_teardown td = {.header.msgtype = CHANNELMSG_GPADL_TEARDOWN,
					      .child_relid = c->relid, .gpadl = c->gpadl};

	g_post(h, VMBUS_MESSAGE_CONNECTION_ID, &cc, sizeof(cc));
	g_post(h, VMBUS_MESSAGE_CONNECTION_ID, &td, sizeof(td));
	g_expect(h, CHANNELMSG_GPADL_TORNDOWN);
	c->open = false;
}

/* ---- Ring traffic ---- */

static inline void gring_copy_in(struct gring *g, uint32_t off, const void *src, uint32_t len)
{
	const uint8_t *s = src;

	for (uint32_t i = 0; i < len; i++)
		g->data[(off + i) % g->size] = s[i];
}

static inline void gring_copy_out(const struct gring *g, uint32_t off, void *dst, uint32_t len)
{
	uint8_t *d = dst;

	for (uint32_t i = 0; i < len; i++)
		d[i] = g->data[(off + i) % g->size];
}

static inline uint32_t gring_free(const struct gring *g)
{
	uint32_t w = g->hdr->write_index, r = g->hdr->read_index;

	return w >= r ? g->size - (w - r) : r - w;
}

static inline void g_signal_host(struct gchan *c)
{
	uint64_t rax = fake_hypercall(c->h->fh, 0, HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT,
				      c->conn_id, 0);

	CHECK_EQ(rax & 0xffff, HV_STATUS_SUCCESS);
}

/* Writes raw packet bytes (descriptor included, a multiple of 8) and the trailer, then
 * signals. */
static inline int g_send_raw(struct gchan *c, const void *pkt, uint32_t len)
{
	struct gring *g = &c->tx;
	uint32_t old = g->hdr->write_index;
	uint64_t trailer = (uint64_t)old << 32;

	if (gring_free(g) <= len + 8)
		return -EAGAIN;
	gring_copy_in(g, old, pkt, len);
	gring_copy_in(g, (old + len) % g->size, &trailer, 8);
	__atomic_store_n(&g->hdr->write_index, (old + len + 8) % g->size, __ATOMIC_RELEASE);
	g_signal_host(c);
	return 0;
}

/* An in-band packet with this payload (padded to 8), as vmbus_sendpacket writes it. */
static inline int g_send(struct gchan *c, uint16_t type, uint64_t trans_id, const void *payload,
			 uint32_t len)
{
	uint32_t total = 16 + ((len + 7) & ~7u);
	uint8_t *buf = calloc(1, total);
	struct vmpacket_descriptor d = {.type = type, .offset8 = 2, .len8 = (uint16_t)(total / 8),
					.trans_id = trans_id};
	int ret;

	memcpy(buf, &d, sizeof(d));
	memcpy(buf + 16, payload, len);
	ret = g_send_raw(c, buf, total);
	free(buf);
	return ret;
}

static inline bool g_has_packet(void *arg)
{
	struct gchan *c = arg;

	return __atomic_load_n(&c->rx.hdr->write_index, __ATOMIC_ACQUIRE) != c->rx.priv_read;
}

/* Reads the next host packet (hv_pkt_iter), publishes read_index and signals the host when it
 * waits for room (hv_pkt_iter_close). false if the ring stays empty for ms. */
static inline bool g_recv(struct gchan *c, struct gpkt *p, unsigned ms)
{
	struct vmpacket_descriptor d;
	struct gring *g = &c->rx;
	uint32_t len;

	if (!g_has_packet(c) && !g_run(c->h, g_has_packet, c, ms))
		return false;
	gring_copy_out(g, g->priv_read, &d, sizeof(d));
	len = d.len8 * 8u;
	CHECK(len >= 16 && d.offset8 == 2 && len - 16 <= sizeof(p->data));
	if (len < 16 || len - 16 > sizeof(p->data))
		return false;
	p->type = d.type;
	p->trans_id = d.trans_id;
	p->len = len - 16;
	gring_copy_out(g, (g->priv_read + 16) % g->size, p->data, p->len);
	g->priv_read = (g->priv_read + len + 8) % g->size;
	g->hdr->read_index = g->priv_read;
	if (g->hdr->pending_send_sz && gring_free(g) > g->hdr->pending_send_sz)
		g_signal_host(c);
	return true;
}

/* ---- IC messages as the guest sees them ---- */

static inline struct icmsg_hdr g_hdr(const struct gpkt *p)
{
	struct icmsg_hdr h;

	memcpy(&h, p->data + sizeof(struct vmbuspipe_hdr), sizeof(h));
	return h;
}

static inline uint8_t *g_body(struct gpkt *p)
{
	return p->data + ICMSG_HDR;
}

/* Answers p as hv_utils does: the same buffer with TRANSACTION | RESPONSE and status, the same
 * VMBus transaction id, recvlen bytes. */
static inline void g_answer(struct gchan *c, struct gpkt *p, uint32_t status)
{
	struct icmsg_hdr h = g_hdr(p);

	h.status = status;
	h.icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
	memcpy(p->data + sizeof(struct vmbuspipe_hdr), &h, sizeof(h));
	CHECK_EQ(g_send(c, VM_PKT_DATA_INBAND, p->trans_id, p->data, p->len), 0);
}

/* vmbus_prep_negotiate_resp: the first of the guest's framework versions the host offered, then
 * the first message version; counts 1/1 with the choice, or 0/0. Returns whether it matched. */
static inline bool g_negotiate_answer(struct gchan *c, struct gpkt *p, const struct g_versions *v)
{
	struct icmsg_hdr h = g_hdr(p);
	struct icmsg_negotiate n;
	struct ic_version offered[64], fw = {0, 0}, msg = {0, 0};
	bool fw_ok = false, msg_ok = false;
	uint8_t *body = g_body(p);

	CHECK_EQ(h.icmsgtype, ICMSGTYPE_NEGOTIATE);
	CHECK_EQ(h.icflags, ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST);
	memcpy(&n, body, sizeof(n));
	CHECK(n.icframe_vercnt + n.icmsg_vercnt <= 64);
	CHECK_EQ(h.icmsgsize, sizeof(n) + 4u * (n.icframe_vercnt + n.icmsg_vercnt));
	memcpy(offered, body + sizeof(n), 4u * (n.icframe_vercnt + n.icmsg_vercnt));
	for (unsigned i = 0; i < v->nfw && !fw_ok; i++)
		for (unsigned j = 0; j < n.icframe_vercnt; j++)
			if (offered[j].major == v->fw[i].major && offered[j].minor == v->fw[i].minor) {
				fw = v->fw[i];
				fw_ok = true;
				break;
			}
	for (unsigned i = 0; fw_ok && i < v->nmsg && !msg_ok; i++)
		for (unsigned j = n.icframe_vercnt; j < n.icframe_vercnt + n.icmsg_vercnt; j++)
			if (offered[j].major == v->msg[i].major &&
			    offered[j].minor == v->msg[i].minor) {
				msg = v->msg[i];
				msg_ok = true;
				break;
			}
	h.icmsgsize = 0x10;
	memcpy(p->data + sizeof(struct vmbuspipe_hdr), &h, sizeof(h));
	n.icframe_vercnt = n.icmsg_vercnt = fw_ok && msg_ok ? 1 : 0;
	memcpy(body, &n, sizeof(n));
	memcpy(body + sizeof(n), &fw, sizeof(fw));
	memcpy(body + sizeof(n) + 4, &msg, sizeof(msg));
	g_answer(c, p, HV_S_OK);
	return fw_ok && msg_ok;
}

/* Opens channel i and negotiates with these guest versions; runs the loop until the host has the
 * answer. Returns whether a version pair was found. */
static inline bool g_open_negotiate(struct gharness *h, int i, const struct g_versions *v)
{
	struct gpkt *p = malloc(sizeof(*p));
	bool ok = false;

	g_open(h, i);
	if (g_recv(&h->ch[i], p, 1000))
		ok = g_negotiate_answer(&h->ch[i], p, v);
	else
		CHECK(!"no NEGOTIATE from the host");
	g_settle(h, 5);
	free(p);
	return ok;
}

/* ---- Setup ---- */

/* A partition, the loop, the VMBus host, the IC set with cfg (ref_time wired to the harness
 * unless no_ref), a guest connected to VMBus. Exits 77 without io_uring. */
static inline struct gharness *g_setup(const struct ic_config *cfg, bool no_ref)
{
	struct gharness *h = calloc(1, sizeof(*h));
	struct error err;

	h->fh = fake_setup(hv_features_default(), 1, FAKE_TSC_HZ);
	if (event_loop_init(&h->loop) < 0) {
		printf("no io_uring here: skipped\n");
		exit(77);
	}
	ic_timer_init(&h->guard, &h->loop, g_guard_fired);
	fake_enable_hypercalls(h->fh);
	fake_enable_synic(h->fh, 0, G_SIMP, G_SIEFP, VMBUS_MESSAGE_SINT, 0xf3);
	CHECK_EQ(vmbus_host_create(&h->host, h->fh->p, &h->loop, &h->fh->mem, 1, &err), 0);
	if (cfg)
		h->cfg = *cfg;
	if (!no_ref) {
		h->cfg.ref_time = g_ref_time;
		h->cfg.ref_time_ctx = h;
	}
	CHECK_EQ(ic_set_create(&h->set, h->host, &h->fh->mem, &h->cfg, &err), 0);
	g_connect(h);
	return h;
}

static inline void g_teardown(struct gharness *h)
{
	vmbus_host_destroy(h->host);
	ic_set_destroy(h->set);
	ic_timer_drain(&h->guard);
	event_loop_destroy(&h->loop);
	fake_teardown(h->fh);
	free(h);
}

#endif
