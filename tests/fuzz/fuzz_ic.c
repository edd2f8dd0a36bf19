/* libFuzzer target over the integration components' guest-facing side (src/synthetic/ic.c,
 * ic_text.c, ic_set.c and the services ic_shutdown.c, ic_heartbeat.c, ic_timesync.c, ic_kvp.c,
 * ic_vss.c, ic_fcopy.c): a simulated Linux guest opens the six IC channels over the real VMBus
 * server and rings, negotiates (or not) and answers the host's requests as the input says, while
 * the host issues shutdowns, KVP operations, freezes, file copies... between the guest's packets,
 * and the input moves a virtual clock that drives timeouts, heartbeats and time samples.
 *
 * Stand-ins: this file replaces the VMBus host (src/vmbus/host.c) and the IC timers (ic_timer.c):
 * a guest signal reaches the channel at once, a timer fires when the virtual clock passes its
 * deadline. A run needs no io_uring, no descriptor and no real time, so it is deterministic. The
 * unit tests (tests/unit/test_ic*.c) run the real ones.
 *
 * Build and run:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. -Isrc \
 *     tests/fuzz/fuzz_ic.c tests/unit/vmbus_guest_msgs.c src/synthetic/ic.c \
 *     src/synthetic/ic_text.c src/synthetic/ic_set.c \
 *     src/synthetic/ic_shutdown.c src/synthetic/ic_heartbeat.c src/synthetic/ic_timesync.c \
 *     src/synthetic/ic_kvp.c src/synthetic/ic_vss.c src/synthetic/ic_fcopy.c \
 *     src/vmbus/server.c src/vmbus/gpadl.c src/vmbus/ring.c src/vmbus/packet.c \
 *     src/guest_mem.c src/error.c src/log.c -o fuzz_ic && ./fuzz_ic -max_len=4096 corpus/
 * (not ic_timer.c nor vmbus/host.c). The replay build is in tests/fuzz/meson.build: without file
 * arguments it runs built-in sessions and deterministic mutations of them. File copies read three
 * files this program writes once into a mkdtemp directory (removed at exit); the guest side
 * writes nothing.
 *
 * Input: [0] configuration: bits 0-1 request timeout (default 10 s, 50 ms, 1 s, 30 s), bits 2-3
 * heartbeat interval (1 s, 20 ms, 300 ms, 5 s), bits 4-5 time sync interval (5 s, 30 ms, 700 ms,
 * 60 s), bit 6 no reference time (time sync without 4.0). Then records: [op], op & 15 the action,
 * (op >> 4) % 6 its channel (shutdown, time sync, heartbeat, KVP, VSS, file copy):
 *   0 open [p]: GPADL + OPENCHANNEL with {3, 1, 2, 5}[p & 3] data pages each way
 *   1 close: CLOSECHANNEL + GPADL_TEARDOWN      2 recv: read the next host packet, no answer
 *   3 answer [mode][status][n] n & 3 x ([off16][len] len bytes) [len16 if mode & 0x80]: the last
 *     host packet (mode & 1: read the next one first) echoed with RESPONSE and the status
 *     {[s & 15]}, s >> 4 = n != 0 cutting the pipe's msgsize to the IC header + 4 (n - 1) bytes;
 *     mode bits 1-2 fill: 0 as is, 1 as Linux and its daemons (versions, seq + 1, KVP
 *     values and IP info shaped by bits 3-6, VSS flags), 2 NEGOTIATE choosing offered versions
 *     [bits 3-4] and [5-6], 3 NEGOTIATE with counts 0/0; then the patches at payload offsets,
 *     then the new length
 *   4 raw [d][t][len16] bytes: a packet of type {INBAND, COMP, XFER_PAGES, GPA_DIRECT}[d & 3],
 *     offset8 2 + (d >> 2 & 3), flags d >> 4 & 1, transaction id t (0: the last host packet's,
 *     1: that + 1)
 *   5 host [sel][a][b]: (sel & 0x7f) % 13 shutdown, time offset, time sync now, KVP get, set,
 *     delete, enumerate, pool walk, IP info, VSS freeze, thaw, hot backup, file copy; a and b
 *     pick the arguments (pool, key, value, file, flags...) from tables with invalid ones; when
 *     sel & 0x80 one more [sel][a][b] follows, issued from the first one's completion
 *   6 time [t]: t < 0xc0 t * 10 ms, < 0xf0 (t - 0xbf) s, else to the next deadline, t - 0xef times
 *   7 signal the host    8 corrupt [w][v32]: tx write_index, rx read_index (misaligned) or tx
 *   pending_send_sz      9 UNLOAD, then connect again    10-15: answer [0x03][0][0] in short
 * Every host packet, completion and status is checked as it comes, and at the end the server is
 * destroyed (closing every channel): each request completed once, no timer armed, no descriptor
 * left open. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv-enlight/tlfs.h"
#include "log.h"
#include "synthetic/ic.h"
#include "vmbus/host.h"
#include "vmbus/packet.h"
#include "vmbus/protocol.h"
#include "vmbus/ring.h"
#include "vmbus/server.h"
#include "tests/unit/vmbus_guest_msgs.h"

#define REQUIRE(cond)                                                              \
	do {                                                                       \
		if (!(cond)) {                                                     \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, \
				__LINE__, #cond);                                  \
			abort();                                                   \
		}                                                                  \
	} while (0)

#define PG 4096u
#define NCHAN 6
#define CHAN_PAGES 12u             /* ring pages per channel: up to 5 data pages each way */
#define RAM_PAGES (NCHAN * CHAN_PAGES)
#define PKT_MAX (5 * PG)           /* payload bytes the largest ring can carry */
#define MAX_CALLS 64
#define MAX_TIMERS 16
#define MAX_RELID 64
#define V0_NS 1000000000000ull     /* the virtual clock when an input starts */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { C_SHUTDOWN, C_TIMESYNC, C_HEARTBEAT, C_KVP, C_VSS, C_FCOPY };

static const struct vmbus_guid if_types[NCHAN] = {
	VMBUS_GUID(0x0e0b6031, 0x5213, 0x4934, 0x81, 0x8b, 0x38, 0xd9, 0x0c, 0xed, 0x39, 0xdb),
	VMBUS_GUID(0x9527e630, 0xd0ae, 0x497b, 0xad, 0xce, 0xe8, 0x0a, 0xb0, 0x17, 0x5c, 0xaf),
	VMBUS_GUID(0x57164f39, 0x9115, 0x4e78, 0xab, 0x55, 0x38, 0x2f, 0x3b, 0xd5, 0x42, 0x2d),
	VMBUS_GUID(0xa9a0f4e7, 0x5a45, 0x4d96, 0xb8, 0x27, 0x8a, 0x84, 0x1e, 0x8c, 0x03, 0xe6),
	VMBUS_GUID(0x35fa2e29, 0xea23, 0x4236, 0x96, 0xae, 0x3a, 0x6e, 0xba, 0xcb, 0xa4, 0x40),
	VMBUS_GUID(0x34d14be3, 0xdee4, 0x41c8, 0x9a, 0xe7, 0x6b, 0x17, 0x49, 0x77, 0xc1, 0x92),
};

static const uint16_t msg_types[NCHAN] = {
	ICMSGTYPE_SHUTDOWN, ICMSGTYPE_TIMESYNC, ICMSGTYPE_HEARTBEAT,
	ICMSGTYPE_KVPEXCHANGE, ICMSGTYPE_VSS, ICMSGTYPE_FCOPY,
};

struct vlist {
	struct ic_version v[4];
	unsigned n;
};

struct versions {
	struct vlist fw, msg;
};

/* Linux 6.1's lists, preferred first (hv_util.c, hv_kvp.c, hv_snapshot.c, hv_fcopy.c); each
 * service offers exactly its list, in this order (time sync without 4.0 when it has no
 * reference time). */
static const struct versions linux_versions[NCHAN] = {
	[C_SHUTDOWN] = {{{{3, 0}, {1, 0}}, 2}, {{{3, 2}, {3, 1}, {3, 0}, {1, 0}}, 4}},
	[C_TIMESYNC] = {{{{3, 0}, {1, 0}}, 2}, {{{4, 0}, {3, 0}, {1, 0}}, 3}},
	[C_HEARTBEAT] = {{{{3, 0}, {1, 0}}, 2}, {{{3, 0}, {1, 0}}, 2}},
	[C_KVP] = {{{{3, 0}, {1, 0}}, 2}, {{{4, 0}, {3, 0}, {1, 0}}, 3}},
	[C_VSS] = {{{{3, 0}}, 1}, {{{5, 0}}, 1}},
	[C_FCOPY] = {{{{3, 0}}, 1}, {{{1, 1}}, 1}},
};
static const struct vlist timesync_no_ref = {{{3, 0}, {1, 0}}, 2};

static const uint32_t statuses[16] = {
	HV_S_OK, HV_S_OK, HV_S_OK, HV_S_OK, HV_E_FAIL, HV_S_CONT, HV_ERROR_NOT_SUPPORTED,
	HV_ERROR_MACHINE_LOCKED, HV_ERROR_DEVICE_NOT_CONNECTED, HV_INVALIDARG, HV_GUID_NOTFOUND,
	HV_ERROR_ALREADY_EXISTS, HV_ERROR_DISK_FULL, 0x12345678u, 1u, 0xffffffffu,
};

/* ---- Stand-in for the VMBus host: the guest's signals go straight to the channel ---- */

struct listener {
	vmbus_channel_notify_fn *fn;
	void *opaque;
	struct vmbus_channel *ch;
};

struct vmbus_host {
	struct vmbus_server *server;
	struct listener l[MAX_RELID];
	unsigned long signals; /* host -> guest interrupts */
};

struct vmbus_server *vmbus_host_server(struct vmbus_host *h)
{
	return h->server;
}

struct event_loop *vmbus_host_loop(struct vmbus_host *h)
{
	(void)h;
	return NULL; /* the timers below need none */
}

void vmbus_host_set_notify(struct vmbus_host *h, struct vmbus_channel *ch,
			   vmbus_channel_notify_fn *fn, void *opaque)
{
	uint32_t relid = vmbus_channel_relid(ch);

	REQUIRE(relid < MAX_RELID);
	h->l[relid] = (struct listener){fn, opaque, ch};
}

void vmbus_host_signal_guest(struct vmbus_host *h, struct vmbus_channel *ch)
{
	REQUIRE(ch && vmbus_channel_is_open(ch)); /* only an open channel's rings exist */
	h->signals++;
}

/* ---- Stand-in for the IC timers: a virtual clock; due timers fire between records ---- */

static struct {
	uint64_t now;
	struct ic_timer *t[MAX_TIMERS];
	unsigned n;
} vt;

static bool timer_known(const struct ic_timer *t)
{
	for (unsigned i = 0; i < vt.n; i++)
		if (vt.t[i] == t)
			return true;
	return false;
}

uint64_t ic_now_ns(void)
{
	return vt.now;
}

void ic_timer_init(struct ic_timer *t, struct event_loop *loop, void (*fire)(struct ic_timer *t))
{
	memset(t, 0, sizeof(*t));
	t->loop = loop;
	t->fire = fire;
	REQUIRE(vt.n < MAX_TIMERS);
	vt.t[vt.n++] = t;
}

void ic_timer_arm_at(struct ic_timer *t, uint64_t deadline_ns)
{
	REQUIRE(timer_known(t)); /* never armed after its drain: its memory is about to go */
	t->want_ns = deadline_ns ? deadline_ns : 1;
}

void ic_timer_stop(struct ic_timer *t)
{
	t->want_ns = 0;
}

bool ic_timer_busy(const struct ic_timer *t)
{
	(void)t;
	return false; /* nothing is ever in a kernel */
}

void ic_timer_drain(struct ic_timer *t)
{
	t->want_ns = 0;
	for (unsigned i = 0; i < vt.n; i++)
		if (vt.t[i] == t)
			vt.t[i] = vt.t[--vt.n];
}

/* Fires every timer due at the current virtual time, earliest first (a loop turn). */
static void run_timers(void)
{
	for (unsigned rounds = 0;; rounds++) {
		struct ic_timer *due = NULL;

		for (unsigned i = 0; i < vt.n; i++)
			if (vt.t[i]->want_ns && vt.t[i]->want_ns <= vt.now &&
			    (!due || vt.t[i]->want_ns < due->want_ns))
				due = vt.t[i];
		if (!due)
			return;
		REQUIRE(rounds < 10000); /* a timer re-arming itself in the past: a livelock */
		due->want_ns = 0;
		due->fire(due);
	}
}

static uint64_t next_deadline(void)
{
	uint64_t next = 0;

	for (unsigned i = 0; i < vt.n; i++)
		if (vt.t[i]->want_ns && (!next || vt.t[i]->want_ns < next))
			next = vt.t[i]->want_ns;
	return next;
}

/* ---- The guest ---- */

/* One side of a ring, the guest's view. */
struct gring {
	struct hv_ring_buffer *hdr;
	uint8_t *data;
	uint32_t size;
	uint32_t priv_read;
};

struct gchan {
	uint32_t relid, conn_id;
	bool offered, open;
	bool tx_broken;            /* the guest corrupted its own ring: no drain check until reopened */
	uint32_t gpadl;
	struct gring tx, rx;       /* guest -> host, host -> guest */
	uint64_t newest_tid;       /* of the host's packets: they only grow */
	bool have_last;
	uint64_t last_tid;
	uint32_t last_len;
	uint8_t last[PKT_MAX];     /* payload of the last host packet read */
	struct ic_version fw, msg; /* negotiated, as the status said when READY */
	enum ic_link link;         /* after the last record */
	unsigned long dropped;
};

enum {
	H_SHUTDOWN, H_OFFSET, H_SYNC, H_KVP_GET, H_KVP_SET, H_KVP_DELETE, H_KVP_ENUM, H_KVP_WALK,
	H_KVP_IP, H_VSS_FREEZE, H_VSS_THAW, H_VSS_HOT, H_FCOPY, H_KINDS
};

static const int kind_chan[H_KINDS] = {
	C_SHUTDOWN, C_TIMESYNC, C_TIMESYNC, C_KVP, C_KVP, C_KVP, C_KVP, C_KVP, C_KVP, C_VSS, C_VSS,
	C_VSS, C_FCOPY,
};

struct fz;

/* A host request with a completion, and what it must see. */
struct call {
	struct fz *f;
	uint8_t kind;
	bool chain;                /* issue chain_req from the completion */
	uint8_t chain_req[3];
	unsigned calls, items;
	uint64_t issued_ns;
};

struct fz {
	struct guest_mem mem;
	uint8_t *ram;
	struct vmbus_host host;
	struct ic_set *set;
	struct ic_config cfg;
	uint64_t timeout_ns;
	uint64_t ref_time;
	struct gchan ch[NCHAN];
	struct call calls[MAX_CALLS];
	unsigned ncalls;
	int in_api;                /* inside a host call: no completion may run */
	bool fcopy_busy;
	uint64_t hb_answers, ts_answers;
	uint32_t next_gpadl;
	bool got_open, got_gpadl;
	uint32_t open_status, gpadl_status;
	uint8_t out[PKT_MAX];      /* the guest's packet being built */
};

static uint64_t ref_time(void *ctx)
{
	struct fz *f = ctx;

	return f->ref_time += 1000;
}

/* ---- Rings, the guest's side (Linux ring_buffer.c) ---- */

static void gring_init(struct gring *g, uint8_t *base, unsigned data_pages)
{
	memset(base, 0, PG * (data_pages + 1));
	g->hdr = (struct hv_ring_buffer *)base;
	g->data = base + PG;
	g->size = data_pages * PG;
	g->priv_read = 0;
	g->hdr->feature_bits = VMBUS_RING_FEAT_PENDING_SEND_SZ;
}

/* Copies at a ring offset, wrapping at the end (in two pieces at most). */
static void gring_copy_in(struct gring *g, uint32_t off, const void *src, uint32_t len)
{
	uint32_t at = off % g->size, first = len < g->size - at ? len : g->size - at;

	memcpy(g->data + at, src, first);
	memcpy(g->data, (const uint8_t *)src + first, len - first);
}

static void gring_copy_out(const struct gring *g, uint32_t off, void *dst, uint32_t len)
{
	uint32_t at = off % g->size, first = len < g->size - at ? len : g->size - at;

	memcpy(dst, g->data + at, first);
	memcpy((uint8_t *)dst + first, g->data, len - first);
}

static uint32_t gring_free(const struct gring *g)
{
	uint32_t w = g->hdr->write_index % g->size, r = g->hdr->read_index % g->size;

	return w >= r ? g->size - (w - r) : r - w;
}

static void link_of(struct fz *f, int i, struct ic_link_status *st)
{
	struct ic_heartbeat_status hs;

	switch (i) {
	case C_SHUTDOWN: ic_shutdown_status(ic_set_shutdown(f->set), st); break;
	case C_TIMESYNC: ic_timesync_status(ic_set_timesync(f->set), st); break;
	case C_HEARTBEAT:
		ic_heartbeat_status(ic_set_heartbeat(f->set), &hs);
		*st = hs.channel;
		break;
	case C_KVP: ic_kvp_status(ic_set_kvp(f->set), st); break;
	case C_VSS: ic_vss_status(ic_set_vss(f->set), st); break;
	default: ic_fcopy_status(ic_set_fcopy(f->set), st); break;
	}
}

/* HvSignalEvent on the channel's connection id, routed as vmbus/host.c does. */
static void signal_host(struct fz *f, struct gchan *c)
{
	struct vmbus_channel *ch = vmbus_server_channel_by_connection_id(f->host.server,
									  c->conn_id);
	struct listener *l;

	if (!ch)
		return;
	l = &f->host.l[vmbus_channel_relid(ch)];
	if (l->fn && l->ch == ch && vmbus_channel_is_open(ch))
		l->fn(l->opaque, ch);
}

/* Writes one packet as vmbus_sendpacket does: descriptor, bytes, padding, trailer; signals as
 * hv_signal_on_write (the host has not masked, and the ring was empty). Then the host must have
 * read everything, unless its channel failed or the guest broke the ring. */
static void guest_send(struct fz *f, int i, uint16_t type, uint16_t off8, uint16_t flags,
		       uint64_t tid, const uint8_t *bytes, uint32_t len)
{
	struct gchan *c = &f->ch[i];
	struct gring *g = &c->tx;
	uint32_t total = 16 + ((len + 7) & ~7u);
	struct vmpacket_descriptor d = {.type = type, .offset8 = off8, .len8 = (uint16_t)(total / 8),
					.flags = flags, .trans_id = tid};
	uint32_t old = g->hdr->write_index % g->size;
	uint64_t trailer = (uint64_t)old << 32, zero = 0;
	struct ic_link_status st;

	if (gring_free(g) <= total + 8)
		return; /* full: Linux fails with -EAGAIN */
	gring_copy_in(g, old, &d, sizeof(d));
	gring_copy_in(g, old + 16, bytes, len);
	gring_copy_in(g, old + 16 + len, &zero, total - 16 - len);
	gring_copy_in(g, old + total, &trailer, 8);
	__atomic_store_n(&g->hdr->write_index, (old + total + 8) % g->size, __ATOMIC_RELEASE);
	if (!__atomic_load_n(&g->hdr->interrupt_mask, __ATOMIC_ACQUIRE) &&
	    old == __atomic_load_n(&g->hdr->read_index, __ATOMIC_ACQUIRE))
		signal_host(f, c);
	link_of(f, i, &st);
	if (!c->tx_broken && st.link != IC_LINK_FAILED)
		REQUIRE(g->hdr->read_index == g->hdr->write_index);
}

static bool in_list(const struct vlist *l, uint16_t major, uint16_t minor)
{
	for (unsigned i = 0; i < l->n; i++)
		if (l->v[i].major == major && l->v[i].minor == minor)
			return true;
	return false;
}

static const struct vlist *offered_msg(const struct fz *f, int i)
{
	return i == C_TIMESYNC && !f->cfg.ref_time ? &timesync_no_ref : &linux_versions[i].msg;
}

static uint32_t body_size(int i, const struct gchan *c, const uint8_t *body, uint32_t len)
{
	uint32_t op = 0;

	memcpy(&op, body, len < 4 ? len : 4);
	switch (i) {
	case C_SHUTDOWN: return sizeof(struct shutdown_msg_data);
	case C_TIMESYNC:
		return c->msg.major >= 4 ? sizeof(struct ictimesync_ref_data)
					 : sizeof(struct ictimesync_data);
	case C_HEARTBEAT: return sizeof(struct heartbeat_msg_data);
	case C_KVP:
		return (op & 0xff) == KVP_OP_GET_IP_INFO ? sizeof(struct hv_kvp_ip_msg)
							 : sizeof(struct hv_kvp_msg);
	case C_VSS: return sizeof(struct hv_vss_msg);
	default:
		return op == START_FILE_COPY ? sizeof(struct hv_start_fcopy)
		       : op == WRITE_TO_FILE ? sizeof(struct hv_do_fcopy)
					     : sizeof(struct hv_fcopy_hdr);
	}
}

/* What the host writes: a well-framed IC request, ids that only grow, NEGOTIATE with the
 * service's lists, then messages of the negotiated versions and the sizes Linux reads. */
static void check_host_packet(struct fz *f, int i, struct gchan *c)
{
	struct vmbuspipe_hdr pipe;
	struct icmsg_hdr h;
	const uint8_t *body = c->last + ICMSG_HDR;
	uint32_t blen = c->last_len - (uint32_t)ICMSG_HDR;

	memcpy(&pipe, c->last, sizeof(pipe));
	memcpy(&h, c->last + sizeof(pipe), sizeof(h));
	REQUIRE(pipe.flags == VMBUSPIPE_PACKET_TYPE_DATA);
	REQUIRE(pipe.msgsize == sizeof(h) + h.icmsgsize);
	REQUIRE(c->last_len == ((ICMSG_HDR + h.icmsgsize + 7) & ~7u));
	REQUIRE(h.icflags == (ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST));
	REQUIRE(h.status == HV_S_OK);
	REQUIRE(h.ictransaction_id == (uint8_t)c->last_tid);
	REQUIRE(c->last_tid > c->newest_tid);
	c->newest_tid = c->last_tid;
	if (h.icmsgtype == ICMSGTYPE_NEGOTIATE) {
		const struct vlist *fw = &linux_versions[i].fw, *msg = offered_msg(f, i);
		struct icmsg_negotiate n;

		REQUIRE(!h.icverframe.major && !h.icverframe.minor);
		REQUIRE(!h.icvermsg.major && !h.icvermsg.minor);
		REQUIRE(h.icmsgsize == sizeof(n) + 4 * (fw->n + msg->n));
		memcpy(&n, body, sizeof(n));
		REQUIRE(n.icframe_vercnt == fw->n && n.icmsg_vercnt == msg->n);
		REQUIRE(!memcmp(body + sizeof(n), fw->v, 4 * fw->n));
		REQUIRE(!memcmp(body + sizeof(n) + 4 * fw->n, msg->v, 4 * msg->n));
		return;
	}
	REQUIRE(h.icmsgtype == msg_types[i]);
	REQUIRE(h.icverframe.major == c->fw.major && h.icverframe.minor == c->fw.minor);
	REQUIRE(h.icvermsg.major == c->msg.major && h.icvermsg.minor == c->msg.minor);
	REQUIRE(h.icmsgsize == body_size(i, c, body, blen));
}

/* Reads the next host packet into c->last (hv_pkt_iter), publishes read_index and signals the
 * host when it waits for room (hv_pkt_iter_close). */
static bool guest_recv(struct fz *f, int i)
{
	struct gchan *c = &f->ch[i];
	struct gring *g = &c->rx;
	struct vmpacket_descriptor d;
	uint32_t w, avail, len;
	uint64_t trailer;

	if (!c->open)
		return false;
	w = __atomic_load_n(&g->hdr->write_index, __ATOMIC_ACQUIRE);
	if (w == g->priv_read)
		return false;
	REQUIRE(w < g->size && w % 8 == 0);
	avail = (w + g->size - g->priv_read) % g->size;
	gring_copy_out(g, g->priv_read, &d, sizeof(d));
	len = d.len8 * 8u;
	REQUIRE(d.type == VM_PKT_DATA_INBAND && d.offset8 == 2 && d.flags == 0);
	REQUIRE(len >= 16 + ICMSG_HDR && len + 8 <= avail && len - 16 <= sizeof(c->last));
	gring_copy_out(g, g->priv_read + 16, c->last, len - 16);
	gring_copy_out(g, g->priv_read + len, &trailer, 8);
	REQUIRE(trailer == (uint64_t)g->priv_read << 32);
	c->last_len = len - 16;
	c->last_tid = d.trans_id;
	c->have_last = true;
	g->priv_read = (g->priv_read + len + 8) % g->size;
	__atomic_store_n(&g->hdr->read_index, g->priv_read, __ATOMIC_RELEASE);
	check_host_packet(f, i, c);
	if (g->hdr->pending_send_sz && gring_free(g) > g->hdr->pending_send_sz)
		signal_host(f, c);
	return true;
}

/* ---- Channel messages ---- */

static int on_send(void *ctx, unsigned vp, unsigned sint, const void *msg, uint32_t size)
{
	struct fz *f = ctx;
	uint32_t type;

	REQUIRE(size >= 8 && size <= VMBUS_MESSAGE_MAX && vp == 0 && sint == VMBUS_MESSAGE_SINT);
	memcpy(&type, msg, sizeof(type));
	if (type == CHANNELMSG_OFFERCHANNEL) {
		struct vmbus_msg_offer_channel o;

		REQUIRE(size >= sizeof(o));
		memcpy(&o, msg, sizeof(o));
		for (int i = 0; i < NCHAN; i++) {
			if (memcmp(&o.offer.if_type, &if_types[i], sizeof(if_types[i])))
				continue;
			REQUIRE(o.child_relid < MAX_RELID);
			/* A message-mode pipe, as Hyper-V offers its ICs. */
			REQUIRE(o.offer.chn_flags == (VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE |
						      VMBUS_CHANNEL_NAMED_PIPE_MODE));
			REQUIRE(o.offer.user_def[0] == 4);
			f->ch[i].relid = o.child_relid;
			f->ch[i].conn_id = o.connection_id;
			f->ch[i].offered = true;
		}
	} else if (type == CHANNELMSG_OPENCHANNEL_RESULT) {
		struct vmbus_msg_open_result r;

		REQUIRE(size >= sizeof(r));
		memcpy(&r, msg, sizeof(r));
		f->got_open = true;
		f->open_status = r.status;
	} else if (type == CHANNELMSG_GPADL_CREATED) {
		struct vmbus_msg_gpadl_created r;

		REQUIRE(size >= sizeof(r));
		memcpy(&r, msg, sizeof(r));
		f->got_gpadl = true;
		f->gpadl_status = r.creation_status;
	}
	return 0;
}

static void on_closed(void *ctx, struct vmbus_channel *ch)
{
	struct fz *f = ctx;
	uint32_t relid = vmbus_channel_relid(ch);

	if (relid < MAX_RELID)
		f->host.l[relid] = (struct listener){0};
}

static void post(struct fz *f, uint32_t conn, const void *msg, uint32_t size)
{
	REQUIRE(vmbus_server_post_message(f->host.server, 0, conn, VMBUS_MESSAGE_TYPE, msg, size) ==
		HV_STATUS_SUCCESS);
}

/* INITIATE_CONTACT 5.3 on connection 4, REQUESTOFFERS: the six ICs are offered. */
static void guest_connect(struct fz *f)
{
	struct vmbus_msg_initiate_contact ic = {
		.header.msgtype = CHANNELMSG_INITIATE_CONTACT,
		.vmbus_version_requested = VERSION_WIN10_V5_3,
	};
	struct vmbus_msg_header req = {.msgtype = CHANNELMSG_REQUESTOFFERS};

	ic.msg_sint = VMBUS_MESSAGE_SINT;
	for (int i = 0; i < NCHAN; i++)
		f->ch[i].offered = false;
	post(f, VMBUS_MESSAGE_CONNECTION_ID_4, &ic, sizeof(ic));
	post(f, VMBUS_MESSAGE_CONNECTION_ID, &req, sizeof(req));
	for (int i = 0; i < NCHAN; i++)
		REQUIRE(f->ch[i].offered);
}

/* vmbus_open: one GPADL over both rings (few enough pages for the GPADL_HEADER alone), then
 * OPENCHANNEL; a closed channel's open must succeed. */
static void guest_open(struct fz *f, int i, unsigned data_pages)
{
	struct gchan *c = &f->ch[i];
	uint64_t pfn0 = (uint64_t)i * CHAN_PAGES;
	uint32_t npages = 2 * (data_pages + 1);
	uint8_t buf[VMBUS_MESSAGE_MAX];
	struct vmbus_msg_open_channel o;
	uint32_t len, carried;

	if (c->open)
		return;
	REQUIRE(npages <= CHAN_PAGES);
	c->gpadl = ++f->next_gpadl;
	gring_init(&c->tx, f->ram + pfn0 * PG, data_pages);
	gring_init(&c->rx, f->ram + (pfn0 + data_pages + 1) * PG, data_pages);
	len = vmbus_guest_gpadl_header(buf, c->relid, c->gpadl, pfn0, npages, npages * PG, &carried);
	REQUIRE(carried == npages); /* few enough pages for the GPADL_HEADER alone */
	f->got_gpadl = false;
	post(f, VMBUS_MESSAGE_CONNECTION_ID, buf, len);
	REQUIRE(f->got_gpadl && f->gpadl_status == 0);
	o = vmbus_guest_open(c->relid, c->gpadl, data_pages + 1, 0);
	f->got_open = false;
	post(f, VMBUS_MESSAGE_CONNECTION_ID, &o, sizeof(o));
	REQUIRE(f->got_open && f->open_status == 0);
	c->open = true;
	c->tx_broken = false;
	c->have_last = false;
}

/* vmbus_close: CLOSECHANNEL, then the ring GPADL's teardown. */
static void guest_close(struct fz *f, int i)
{
	struct gchan *c = &f->ch[i];
	struct vmbus_msg_close_channel cc = {.header.msgtype = CHANNELMSG_CLOSECHANNEL,
					     .child_relid = c->relid};
	struct vmbus_msg_gpadl_teardown td = {.header.msgtype = CHANNELMSG_GPADL_TEARDOWN,
					      .child_relid = c->relid, .gpadl = c->gpadl};

	if (!c->open)
		return;
	post(f, VMBUS_MESSAGE_CONNECTION_ID, &cc, sizeof(cc));
	post(f, VMBUS_MESSAGE_CONNECTION_ID, &td, sizeof(td));
	c->open = false;
}

static void guest_unload(struct fz *f)
{
	struct vmbus_msg_header u = {.msgtype = CHANNELMSG_UNLOAD};

	post(f, VMBUS_MESSAGE_CONNECTION_ID, &u, sizeof(u));
	for (int i = 0; i < NCHAN; i++)
		f->ch[i].open = false;
	guest_connect(f);
}

/* ---- Host requests and their completions ---- */

static const char *host_file[8];
static char tmp_dir[256], path_empty[300], path_small[300], path_frags[300], path_missing[300];
static char key255[256], key256[257], val1023[1024], val1024[1025], dir300[301], msg3000[3000];

static const char *const kvp_keys[8] = {
	"k", "VirtualMachineName", "Gr\xc3\xb6\xc3\x9f" "e", "\xf0\x9f\x98\x80x", key255, "", key256,
	"\xc3",
};
#define KEY_VALID(k) ((k) < 5)
static const char *const kvp_values[8] = {"v", "", "\xe6\x97\xa5", val1023, NULL, val1024, "\xff",
					  "x"};
#define VALUE_VALID(v) ((v) < 4 || (v) == 7)

/* The control path's range is +-1e9 s; the API takes any offset that does not overflow the
 * host's time. */
static const int64_t offsets[8] = {
	0, 3600000000000ll, -3600000000000ll, 1000000000000000000ll, -1000000000000000000ll,
	-4000000000000000000ll, 4000000000000000000ll, 86400000000000ll,
};

static void host_request(struct fz *f, const uint8_t *req, bool may_chain);

static bool err_documented(int err)
{
	switch (-err) {
	case 0: case ETIMEDOUT: case ENOTCONN: case EPROTO: case EPROTONOSUPPORT: case EMSGSIZE:
	case ENOMEM: case E2BIG: case EIO: case ENOENT: case EEXIST: case ENOSPC: case EOPNOTSUPP:
	case EINVAL: case EBUSY: case ENODEV:
		return true;
	default:
		return false;
	}
}

/* Every completion: once, never inside the call that queued it, a documented error, a detail,
 * a timeout only once the request's time has passed. */
static void completed(struct call *q, int err, const char *detail)
{
	struct fz *f = q->f;

	REQUIRE(f->in_api == 0);
	REQUIRE(q->calls == 0);
	q->calls++;
	REQUIRE(detail != NULL);
	REQUIRE(strlen(detail) < 4096);
	REQUIRE(err_documented(err));
	if (err == -ETIMEDOUT)
		REQUIRE(ic_now_ns() >= q->issued_ns + f->timeout_ns);
	if (q->kind == H_FCOPY) {
		REQUIRE(f->fcopy_busy);
		f->fcopy_busy = false;
	}
}

static void chain(struct call *q)
{
	if (q->chain)
		host_request(q->f, q->chain_req, false);
}

static void on_done(void *ctx, int err, const char *detail)
{
	struct call *q = ctx;

	completed(q, err, detail);
	chain(q);
}

static void on_value(void *ctx, int err, const char *detail, const char *key, const char *value)
{
	struct call *q = ctx;

	completed(q, err, detail);
	REQUIRE((key == NULL) == (err != 0) && (value == NULL) == (err != 0));
	if (key) {
		REQUIRE(strlen(key) <= IC_KVP_KEY_MAX && strlen(value) <= IC_KVP_VALUE_MAX);
		REQUIRE(q->kind != H_KVP_GET || key[0] == 0);
	}
	chain(q);
}

static void on_item(void *ctx, uint32_t index, const char *key, const char *value)
{
	struct call *q = ctx;

	REQUIRE(q->f->in_api == 0);
	REQUIRE(q->calls == 0); /* items come before the walk's end */
	REQUIRE(index == q->items);
	q->items++;
	REQUIRE(key && value);
	REQUIRE(strlen(key) <= IC_KVP_KEY_MAX && strlen(value) <= IC_KVP_VALUE_MAX);
}

static void on_ip(void *ctx, int err, const char *detail, const struct ic_kvp_ip_info *info)
{
	struct call *q = ctx;

	completed(q, err, detail);
	REQUIRE((info == NULL) == (err != 0));
	if (info) {
		REQUIRE(memchr(info->adapter_id, 0, sizeof(info->adapter_id)));
		REQUIRE(memchr(info->ip_addr, 0, sizeof(info->ip_addr)));
		REQUIRE(memchr(info->sub_net, 0, sizeof(info->sub_net)));
		REQUIRE(memchr(info->gate_way, 0, sizeof(info->gate_way)));
		REQUIRE(memchr(info->dns_addr, 0, sizeof(info->dns_addr)));
	}
	chain(q);
}

static void on_vss(void *ctx, int err, const char *detail, uint32_t flags)
{
	struct call *q = ctx;

	completed(q, err, detail);
	REQUIRE(flags == 0 || (err == 0 && q->kind == H_VSS_HOT));
	chain(q);
}

/* Issues one host request; req: [sel][a][b], and the chained one after it if may_chain (see
 * the header). The result must agree with the channel's state: -ENOTCONN exactly when closed,
 * the failure when failed, else 0 for valid arguments (file copy: -EBUSY while one runs). */
static void host_request(struct fz *f, const uint8_t *req, bool may_chain)
{
	unsigned kind = (req[0] & 0x7f) % H_KINDS;
	uint8_t a = req[1], b = req[2];
	struct call *q = f->ncalls < MAX_CALLS ? &f->calls[f->ncalls] : NULL;
	int ci = kind_chan[kind];
	struct ic_link_status st;
	bool valid = true, has_cb = true;
	unsigned pool = a % 6, key = b & 7, value = (b >> 3) & 7;
	uint8_t mac[6] = {0x00, 0x15, 0x5d, 0x12, 0x34, b};
	int ret = 0;

	if (!q)
		return;
	memset(q, 0, sizeof(*q));
	q->f = f;
	q->kind = (uint8_t)kind;
	q->issued_ns = ic_now_ns();
	link_of(f, ci, &st);
	f->in_api++;
	switch (kind) {
	case H_SHUTDOWN: {
		static const enum ic_shutdown_action act[4] = {
			IC_SHUTDOWN_POWEROFF, IC_SHUTDOWN_REBOOT, IC_SHUTDOWN_HIBERNATE,
			(enum ic_shutdown_action)7,
		};
		const char *const msgs[4] = {NULL, "", "host maintenance", msg3000};

		valid = (a & 3) != 3 && b != 0xff;
		ret = ic_shutdown_request(ic_set_shutdown(f->set), act[a & 3], a & 4,
					  msgs[(a >> 3) & 3], b == 0xff ? NULL : on_done, q);
		break;
	}
	case H_OFFSET:
		has_cb = false;
		ic_timesync_set_offset(ic_set_timesync(f->set), offsets[a & 7]);
		REQUIRE(ic_timesync_offset(ic_set_timesync(f->set)) == offsets[a & 7]);
		break;
	case H_SYNC:
		has_cb = false;
		ret = ic_timesync_sync(ic_set_timesync(f->set));
		break;
	case H_KVP_GET:
		valid = pool < 5 && KEY_VALID(key);
		ret = ic_kvp_get(ic_set_kvp(f->set), pool, kvp_keys[key], on_value, q);
		break;
	case H_KVP_SET:
		valid = pool < 5 && KEY_VALID(key) && VALUE_VALID(value);
		ret = ic_kvp_set(ic_set_kvp(f->set), pool, kvp_keys[key], kvp_values[value], on_done,
				 q);
		break;
	case H_KVP_DELETE:
		valid = pool < 5 && KEY_VALID(key);
		ret = ic_kvp_delete(ic_set_kvp(f->set), pool, kvp_keys[key], on_done, q);
		break;
	case H_KVP_ENUM:
		valid = pool < 5;
		ret = ic_kvp_enumerate(ic_set_kvp(f->set), pool, b, on_value, q);
		break;
	case H_KVP_WALK:
		valid = pool < 5 && !(b & 1);
		ret = ic_kvp_enumerate_pool(ic_set_kvp(f->set), pool, (b & 1) ? NULL : on_item,
					    on_done, q);
		break;
	case H_KVP_IP:
		valid = !(a & 1);
		ret = ic_kvp_get_ip_info(ic_set_kvp(f->set), (a & 1) ? NULL : mac, on_ip, q);
		break;
	case H_VSS_FREEZE:
	case H_VSS_THAW:
	case H_VSS_HOT: {
		int (*const fns[3])(struct ic_vss *, ic_vss_done_fn *, void *) = {
			ic_vss_freeze, ic_vss_thaw, ic_vss_hot_backup};

		valid = b != 0xff;
		ret = fns[kind - H_VSS_FREEZE](ic_set_vss(f->set), b == 0xff ? NULL : on_vss, q);
		break;
	}
	default: {
		static const uint32_t flags[8] = {0, OVER_WRITE, CREATE_PATH, OVER_WRITE | CREATE_PATH,
						  0x10, 0, OVER_WRITE, 0x80000000u};
		const char *const dirs[4] = {"/tmp", "/var/lib/x", "/", dir300};
		const char *const names[4] = {"a.bin", "b", "", "c"};
		unsigned file = a & 7, nd = b & 3, fl = (b >> 2) & 7;

		valid = (file < 3 || file == 6) && nd < 2 && fl < 4 && !(a & 8);
		ret = ic_fcopy_copy_file(ic_set_fcopy(f->set), host_file[file], dirs[nd], names[nd],
					 flags[fl], (a & 8) ? NULL : on_done, q);
		break;
	}
	}
	f->in_api--;
	REQUIRE(ret == 0 || ret == -EINVAL || ret == -ENOTCONN || ret == -EPROTO ||
		ret == -EPROTONOSUPPORT || ret == -ENAMETOOLONG ||
		(kind == H_FCOPY && (ret == -EBUSY || ret == -ENOENT)));
	REQUIRE(ret != -ENOTCONN || st.link == IC_LINK_CLOSED);
	REQUIRE((ret != -EPROTO && ret != -EPROTONOSUPPORT) || st.link == IC_LINK_FAILED);
	REQUIRE(ret != 0 || st.link == IC_LINK_NEGOTIATING || st.link == IC_LINK_READY ||
		kind == H_OFFSET);
	REQUIRE(ret != -EBUSY || f->fcopy_busy);
	REQUIRE(kind != H_FCOPY || ret != 0 || !f->fcopy_busy); /* one copy at a time */
	if (valid && st.link == IC_LINK_CLOSED && kind != H_OFFSET)
		REQUIRE(ret == -ENOTCONN);
	if (valid && st.link == IC_LINK_FAILED && kind != H_OFFSET)
		REQUIRE(ret == -EPROTO || ret == -EPROTONOSUPPORT);
	if (valid && (st.link == IC_LINK_NEGOTIATING || st.link == IC_LINK_READY))
		REQUIRE(ret == 0 || (kind == H_FCOPY && ret == -EBUSY && f->fcopy_busy));
	if (ret != 0 || !has_cb)
		return;
	if (kind == H_FCOPY)
		f->fcopy_busy = true;
	if (may_chain && (req[0] & 0x80)) {
		q->chain = true;
		memcpy(q->chain_req, req + 3, 3);
	}
	f->ncalls++;
}

/* ---- The guest's answers ---- */

static uint32_t ascii16(const char *s, uint8_t *out)
{
	uint32_t n = 0;

	do {
		out[2 * n] = (uint8_t)s[n];
		out[2 * n + 1] = 0;
	} while (s[n++]);
	return n * 2;
}

/* counts/count and a choice, as vmbus_prep_negotiate_resp writes it (icmsgsize 16). */
static void put_negotiate(uint8_t *pl, uint32_t len, uint16_t count, struct ic_version fw,
			  struct ic_version msg)
{
	struct icmsg_hdr h;
	struct icmsg_negotiate n;

	if (len < ICMSG_HDR + sizeof(n) + 8)
		return;
	memcpy(&h, pl + sizeof(struct vmbuspipe_hdr), sizeof(h));
	h.icmsgsize = 0x10;
	memcpy(pl + sizeof(struct vmbuspipe_hdr), &h, sizeof(h));
	memcpy(&n, pl + ICMSG_HDR, sizeof(n));
	n.icframe_vercnt = n.icmsg_vercnt = count;
	memcpy(pl + ICMSG_HDR, &n, sizeof(n));
	memcpy(pl + ICMSG_HDR + sizeof(n), &fw, 4);
	memcpy(pl + ICMSG_HDR + sizeof(n) + 4, &msg, 4);
}

/* The host's offered versions in the NEGOTIATE at pl: its counts, bounded by the packet. */
static unsigned offered_in(const uint8_t *pl, uint32_t len, struct ic_version *v, unsigned max,
			   unsigned *nfw)
{
	struct icmsg_negotiate n;
	unsigned total;

	if (len < ICMSG_HDR + sizeof(n))
		return *nfw = 0;
	memcpy(&n, pl + ICMSG_HDR, sizeof(n));
	total = (len - ICMSG_HDR - sizeof(n)) / 4;
	if (total > max)
		total = max;
	*nfw = n.icframe_vercnt < total ? n.icframe_vercnt : total;
	if (n.icframe_vercnt + n.icmsg_vercnt < total)
		total = n.icframe_vercnt + n.icmsg_vercnt;
	memcpy(v, pl + ICMSG_HDR + sizeof(n), 4 * total);
	return total;
}

/* Linux's choice: the first of its framework versions the host offered, then the first message
 * version (or 0/0). */
static void negotiate_linux(int i, uint8_t *pl, uint32_t len)
{
	const struct versions *lv = &linux_versions[i];
	struct ic_version v[32], fw = {0, 0}, msg = {0, 0};
	unsigned nfw, n = offered_in(pl, len, v, 32, &nfw);
	bool fw_ok = false, msg_ok = false;

	for (unsigned a = 0; a < lv->fw.n && !fw_ok; a++)
		for (unsigned j = 0; j < nfw && !fw_ok; j++)
			if (v[j].major == lv->fw.v[a].major && v[j].minor == lv->fw.v[a].minor)
				fw = v[j], fw_ok = true;
	for (unsigned a = 0; fw_ok && a < lv->msg.n && !msg_ok; a++)
		for (unsigned j = nfw; j < n && !msg_ok; j++)
			if (v[j].major == lv->msg.v[a].major && v[j].minor == lv->msg.v[a].minor)
				msg = v[j], msg_ok = true;
	put_negotiate(pl, len, fw_ok && msg_ok ? 1 : 0, fw, msg);
}

static void negotiate_pick(uint8_t *pl, uint32_t len, unsigned fi, unsigned mi)
{
	struct ic_version v[32];
	unsigned nfw, n = offered_in(pl, len, v, 32, &nfw);

	if (nfw == 0 || n == nfw)
		return;
	put_negotiate(pl, len, 1, v[fi % nfw], v[nfw + mi % (n - nfw)]);
}

/* 'n' UTF-16 units of u at out. */
static void fill16(uint8_t *out, unsigned n, uint16_t u)
{
	for (unsigned k = 0; k < n; k++) {
		out[2 * k] = (uint8_t)u;
		out[2 * k + 1] = (uint8_t)(u >> 8);
	}
}

/* A KVP value as hv_kvp_daemon answers it (shape 0), or one of the shapes other guests or a
 * broken daemon could give: numbers, unknown types, bad sizes, unpaired surrogates, keys and
 * values that fill their fields with 3-byte or 4-byte UTF-8 (the conversion's limits). */
static void kvp_value(struct hv_kvp_exchg_msg_value *v, bool with_key, unsigned shape)
{
	uint64_t n = 1234567890123ull;

	if (with_key)
		v->key_size = ascii16("OSName", v->key);
	v->value_type = REG_SZ;
	v->value_size = ascii16("Debian GNU/Linux", v->value);
	switch (shape) {
	case 1: v->value_type = REG_U32, v->value_size = 4, memcpy(v->value, &n, 8); break;
	case 2: v->value_type = REG_U64, v->value_size = 8, memcpy(v->value, &n, 8); break;
	case 3: v->value_type = REG_QWORD, v->value_size = 8, memcpy(v->value, &n, 8); break;
	case 4: v->value_type = REG_EXPAND_SZ; break;
	case 5: v->value_type = REG_U32, v->value_size = 8; break;
	case 6: v->value_type = 77; break;
	case 7: v->value_size = 3; break;
	case 8: v->value_size = 4096; break;
	case 9: fill16(v->value, 1, 0xdc00); break;
	case 10: v->key_size = with_key ? 600 : 0; break;
	case 11: /* 1024 units of U+65E5, no NUL: 3072 bytes */
		fill16(v->value, HV_KVP_EXCHANGE_MAX_VALUE_SIZE / 2, 0x65e5);
		v->value_size = HV_KVP_EXCHANGE_MAX_VALUE_SIZE;
		break;
	case 12: /* the key likewise: 256 units, 768 bytes */
		fill16(v->key, HV_KVP_EXCHANGE_MAX_KEY_SIZE / 2, 0x65e5);
		v->key_size = HV_KVP_EXCHANGE_MAX_KEY_SIZE;
		break;
	case 13: /* 512 surrogate pairs: 2048 bytes */
		for (unsigned k = 0; k < HV_KVP_EXCHANGE_MAX_VALUE_SIZE / 4; k++) {
			fill16(v->value + 4 * k, 1, 0xd83d);
			fill16(v->value + 4 * k + 2, 1, 0xde00);
		}
		v->value_size = HV_KVP_EXCHANGE_MAX_VALUE_SIZE;
		break;
	case 14: /* a pair cut by value_size */
		fill16(v->value, 1, 0xd83d);
		fill16(v->value + 2, 1, 0xde00);
		v->value_size = 2;
		break;
	default:
		break;
	}
}

/* IP information as hv_kvp_daemon answers it (shape 0); every field full without a NUL (1), a
 * high surrogate ending each field (2), a lone low surrogate (3). */
static void kvp_ip(struct hv_kvp_ipaddr_value *ip, unsigned shape)
{
	uint8_t *fields[5] = {(uint8_t *)ip->adapter_id, (uint8_t *)ip->ip_addr,
			      (uint8_t *)ip->sub_net, (uint8_t *)ip->gate_way,
			      (uint8_t *)ip->dns_addr};
	const unsigned units[5] = {MAX_ADAPTER_ID_SIZE, MAX_IP_ADDR_SIZE, MAX_IP_ADDR_SIZE,
				   MAX_GATEWAY_SIZE, MAX_IP_ADDR_SIZE};

	ip->addr_family = ADDR_FAMILY_IPV4;
	ip->dhcp_enabled = 1;
	ascii16("192.168.0.10;fe80::1", (uint8_t *)ip->ip_addr);
	ascii16("255.255.255.0;64", (uint8_t *)ip->sub_net);
	ascii16("192.168.0.1", (uint8_t *)ip->gate_way);
	ascii16("9.9.9.9", (uint8_t *)ip->dns_addr);
	for (unsigned k = 0; shape && k < 5; k++) {
		if (shape == 1)
			fill16(fields[k], units[k], 0x65e5);
		else if (shape == 2)
			fill16(fields[k] + 2 * (units[k] - 1), 1, 0xd800);
		else
			fill16(fields[k], 1, 0xdfff);
	}
}

/* As hv_utils and the daemons fill their answers in; shape picks a KVP variant. */
static void fill_linux(int i, uint8_t *pl, uint32_t len, unsigned shape)
{
	struct icmsg_hdr h;
	uint8_t *body = pl + ICMSG_HDR;
	uint32_t blen = len - (uint32_t)ICMSG_HDR;

	memcpy(&h, pl + sizeof(struct vmbuspipe_hdr), sizeof(h));
	if (h.icmsgtype == ICMSGTYPE_NEGOTIATE) {
		negotiate_linux(i, pl, len);
	} else if (h.icmsgtype == ICMSGTYPE_HEARTBEAT && blen >= 8) {
		uint64_t seq;

		memcpy(&seq, body, 8);
		seq++;
		memcpy(body, &seq, 8);
	} else if (h.icmsgtype == ICMSGTYPE_VSS && blen >= sizeof(struct hv_vss_msg)) {
		struct hv_vss_msg m;

		memcpy(&m, body, sizeof(m));
		if (m.vss_hdr.operation == VSS_OP_HOT_BACKUP)
			m.flags = VSS_HBU_NO_AUTO_RECOVERY;
		memcpy(body, &m, sizeof(m));
	} else if (h.icmsgtype == ICMSGTYPE_KVPEXCHANGE && blen >= sizeof(struct hv_kvp_ip_msg) &&
		   body[0] == KVP_OP_GET_IP_INFO) {
		struct hv_kvp_ip_msg *m = malloc(sizeof(*m));

		REQUIRE(m);
		memcpy(m, body, sizeof(*m));
		kvp_ip(&m->kvp_ip_val, shape & 3);
		memcpy(body, m, sizeof(*m));
		free(m);
	} else if (h.icmsgtype == ICMSGTYPE_KVPEXCHANGE && blen >= sizeof(struct hv_kvp_msg)) {
		struct hv_kvp_msg *m = malloc(sizeof(*m));

		REQUIRE(m);
		memcpy(m, body, sizeof(*m));
		if (m->kvp_hdr.operation == KVP_OP_GET)
			kvp_value(&m->body.kvp_get.data, false, shape);
		if (m->kvp_hdr.operation == KVP_OP_ENUMERATE)
			kvp_value(&m->body.kvp_enum_data.data, true, shape);
		memcpy(body, m, sizeof(*m));
		free(m);
	}
}

struct reader {
	const uint8_t *p, *end;
};

static uint8_t take(struct reader *r)
{
	return r->p < r->end ? *r->p++ : 0;
}

static uint16_t take16(struct reader *r)
{
	uint16_t lo = take(r);

	return (uint16_t)(lo | take(r) << 8);
}

/* answer [mode][status][n] patches [len16]: parsed whole, then sent if the channel is open. */
static void guest_answer(struct fz *f, int i, struct reader *r, bool quick)
{
	struct gchan *c = &f->ch[i];
	uint8_t mode = quick ? 0x03 : take(r), status = quick ? 0 : take(r);
	unsigned np = quick ? 0 : take(r) & 3;
	struct {
		uint16_t off;
		uint8_t len;
		const uint8_t *bytes;
	} patch[3];
	uint32_t len;
	struct icmsg_hdr h;

	for (unsigned k = 0; k < np; k++) {
		patch[k].off = take16(r);
		patch[k].len = take(r);
		if (patch[k].len > r->end - r->p)
			patch[k].len = (uint8_t)(r->end - r->p);
		patch[k].bytes = r->p;
		r->p += patch[k].len;
	}
	len = (mode & 0x80) ? take16(r) : 0;
	if (!c->open)
		return;
	if (mode & 1)
		guest_recv(f, i);
	if (!c->have_last)
		return;
	memcpy(f->out, c->last, c->last_len);
	memcpy(&h, f->out + sizeof(struct vmbuspipe_hdr), sizeof(h));
	h.status = statuses[status & 15];
	h.icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
	memcpy(f->out + sizeof(struct vmbuspipe_hdr), &h, sizeof(h));
	if (status >> 4) { /* the pipe header says the message is cut short */
		uint32_t msgsize = (uint32_t)sizeof(h) + 4 * ((status >> 4) - 1u);

		memcpy(f->out + offsetof(struct vmbuspipe_hdr, msgsize), &msgsize, 4);
	}
	switch ((mode >> 1) & 3) {
	case 1: fill_linux(i, f->out, c->last_len, (mode >> 3) & 15); break;
	case 2: negotiate_pick(f->out, c->last_len, (mode >> 3) & 3, (mode >> 5) & 3); break;
	case 3: put_negotiate(f->out, c->last_len, 0, (struct ic_version){0, 0},
			      (struct ic_version){0, 0}); break;
	default: break;
	}
	for (unsigned k = 0; k < np; k++) {
		uint32_t off = patch[k].off % c->last_len;
		uint32_t n = patch[k].len < c->last_len - off ? patch[k].len : c->last_len - off;

		memcpy(f->out + off, patch[k].bytes, n);
	}
	if (!(mode & 0x80))
		len = c->last_len;
	else if (len > sizeof(f->out))
		len = sizeof(f->out);
	if (len > c->last_len)
		memset(f->out + c->last_len, 0, len - c->last_len);
	guest_send(f, i, VM_PKT_DATA_INBAND, 2, 0, c->last_tid, f->out, len);
}

/* raw [d][t][len16] bytes */
static void guest_raw(struct fz *f, int i, struct reader *r)
{
	static const uint16_t types[4] = {VM_PKT_DATA_INBAND, VM_PKT_COMP,
					  VM_PKT_DATA_USING_XFER_PAGES,
					  VM_PKT_DATA_USING_GPA_DIRECT};
	struct gchan *c = &f->ch[i];
	uint8_t d = take(r), t = take(r);
	uint32_t len = take16(r);
	uint64_t tid = t == 0 ? c->last_tid : t == 1 ? c->last_tid + 1 : t;

	if (len > (uint32_t)(r->end - r->p))
		len = (uint32_t)(r->end - r->p);
	if (len > sizeof(f->out) - 16)
		len = sizeof(f->out) - 16;
	memcpy(f->out, r->p, len);
	r->p += len;
	if (c->open)
		guest_send(f, i, types[d & 3], (uint16_t)(2 + ((d >> 2) & 3)), (d >> 4) & 1, tid,
			   f->out, len);
}

/* corrupt [w][v32]: indices the guest owns. A broken rx read_index must fail the channel at the
 * host's next write; a tx write_index makes the host parse whatever is there. */
static void guest_corrupt(struct fz *f, int i, struct reader *r)
{
	struct gchan *c = &f->ch[i];
	uint8_t w = take(r);
	uint32_t v = take16(r);

	v |= (uint32_t)take16(r) << 16;
	if (!c->open)
		return;
	switch (w % 3) {
	case 0:
		c->tx.hdr->write_index = v;
		c->tx_broken = true;
		signal_host(f, c);
		break;
	case 1:
		c->rx.hdr->read_index = v | 4; /* misaligned: never valid */
		break;
	default:
		c->tx.hdr->pending_send_sz = v;
		break;
	}
}

static void advance(uint8_t t)
{
	if (t < 0xc0) {
		vt.now += t * 10000000ull;
	} else if (t < 0xf0) {
		vt.now += (t - 0xbfu) * 1000000000ull;
	} else {
		for (unsigned k = 0; k < t - 0xefu; k++) {
			uint64_t next = next_deadline();

			if (next > vt.now)
				vt.now = next;
			run_timers();
		}
	}
}

/* After every record: what each service reports agrees with the guest's view, and its link
 * changed only as the protocol allows. */
static void check_status(struct fz *f)
{
	/* allowed[from] has bit (1 << to) */
	static const unsigned allowed[4] = {
		[IC_LINK_CLOSED] = 1u << IC_LINK_CLOSED | 1u << IC_LINK_NEGOTIATING,
		[IC_LINK_NEGOTIATING] = 1u << IC_LINK_CLOSED | 1u << IC_LINK_NEGOTIATING |
					1u << IC_LINK_READY | 1u << IC_LINK_FAILED,
		[IC_LINK_READY] = 1u << IC_LINK_CLOSED | 1u << IC_LINK_READY | 1u << IC_LINK_FAILED,
		[IC_LINK_FAILED] = 1u << IC_LINK_CLOSED | 1u << IC_LINK_FAILED,
	};
	bool ts_ready = f->ch[C_TIMESYNC].link == IC_LINK_READY;
	bool hb_ready = f->ch[C_HEARTBEAT].link == IC_LINK_READY;
	uint64_t answers;

	for (int i = 0; i < NCHAN; i++) {
		struct gchan *c = &f->ch[i];
		struct ic_link_status st;

		link_of(f, i, &st);
		REQUIRE((unsigned)st.link <= IC_LINK_FAILED);
		REQUIRE(allowed[c->link] & 1u << st.link);
		REQUIRE(st.error && (st.link == IC_LINK_FAILED) == (st.error[0] != 0));
		REQUIRE(c->open == (st.link != IC_LINK_CLOSED));
		REQUIRE(st.dropped >= c->dropped);
		c->dropped = st.dropped;
		c->link = st.link;
		if (st.link == IC_LINK_READY) {
			REQUIRE(in_list(&linux_versions[i].fw, st.fw_major, st.fw_minor));
			REQUIRE(in_list(offered_msg(f, i), st.msg_major, st.msg_minor));
			c->fw = (struct ic_version){st.fw_major, st.fw_minor};
			c->msg = (struct ic_version){st.msg_major, st.msg_minor};
		} else {
			REQUIRE(!st.fw_major && !st.fw_minor && !st.msg_major && !st.msg_minor);
		}
	}
	{
		struct ic_heartbeat_status hs;

		ic_heartbeat_status(ic_set_heartbeat(f->set), &hs);
		REQUIRE(hs.last_answer_ns <= vt.now);
		REQUIRE(hs.state == IC_HEARTBEAT_NO_CONTACT ||
			(hs.channel.link == IC_LINK_READY && hs.last_answer_ns && hs.answers));
		/* Answers only add up while the channel stays ready. */
		if (hb_ready && hs.channel.link == IC_LINK_READY)
			REQUIRE(hs.answers >= f->hb_answers);
		f->hb_answers = hs.answers;
	}
	answers = ic_timesync_answers(ic_set_timesync(f->set));
	if (ts_ready && f->ch[C_TIMESYNC].link == IC_LINK_READY)
		REQUIRE(answers >= f->ts_answers);
	f->ts_answers = answers;
}

static void host_record(struct fz *f, struct reader *r)
{
	uint8_t req[6];

	for (int k = 0; k < 3; k++)
		req[k] = take(r);
	for (int k = 3; k < 6; k++)
		req[k] = (req[0] & 0x80) ? take(r) : 0;
	host_request(f, req, true);
}

static void record(struct fz *f, struct reader *r)
{
	uint8_t op = take(r);
	int i = (op >> 4) % NCHAN;
	static const unsigned pages[4] = {3, 1, 2, 5};

	switch (op & 15) {
	case 0: guest_open(f, i, pages[take(r) & 3]); break;
	case 1: guest_close(f, i); break;
	case 2: guest_recv(f, i); break;
	case 3: guest_answer(f, i, r, false); break;
	case 4: guest_raw(f, i, r); break;
	case 5: host_record(f, r); break;
	case 6: advance(take(r)); break;
	case 7:
		if (f->ch[i].open)
			signal_host(f, &f->ch[i]);
		break;
	case 8: guest_corrupt(f, i, r); break;
	case 9: guest_unload(f); break;
	default: guest_answer(f, i, r, true); break;
	}
}

/* ---- Setup, files, teardown ---- */

static void write_file(const char *path, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	REQUIRE(fd >= 0);
	for (size_t i = 0; i < size; i++) {
		uint8_t b = (uint8_t)(i * 7);

		REQUIRE(write(fd, &b, 1) == 1);
	}
	close(fd);
}

static void remove_files(void)
{
	unlink(path_empty);
	unlink(path_small);
	unlink(path_frags);
	rmdir(tmp_dir);
}

/* Once per process: three host files for the file copies, and the long strings. */
static void setup_once(void)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp_dir[0])
		return;
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/fuzz_ic.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	REQUIRE(mkdtemp(tmp_dir) != NULL);
	snprintf(path_empty, sizeof(path_empty), "%s/empty", tmp_dir);
	snprintf(path_small, sizeof(path_small), "%s/small", tmp_dir);
	snprintf(path_frags, sizeof(path_frags), "%s/frags", tmp_dir);
	snprintf(path_missing, sizeof(path_missing), "%s/missing", tmp_dir);
	write_file(path_empty, 0);
	write_file(path_small, 100);
	write_file(path_frags, 2 * DATA_FRAGMENT + 1);
	atexit(remove_files);
	host_file[0] = path_empty;
	host_file[1] = path_small;
	host_file[2] = path_frags;
	host_file[3] = path_frags;
	host_file[4] = tmp_dir; /* not a regular file */
	host_file[5] = path_missing;
	host_file[6] = path_small;
	host_file[7] = "";
	memset(key255, 'k', 255);
	memset(key256, 'k', 256);
	memset(val1023, 'v', 1023);
	memset(val1024, 'v', 1024);
	memset(dir300, 'd', 300);
	memset(msg3000, 'm', sizeof(msg3000) - 1);
}

static int lowest_free_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	REQUIRE(fd >= 0);
	close(fd);
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned timeouts[4] = {0, 50, 1000, 30000};
	static const unsigned beats[4] = {0, 20, 300, 5000};
	static const unsigned samples[4] = {0, 30, 700, 60000};
	const struct vmbus_server_ops ops = {.send = on_send, .channel_closed = on_closed};
	struct vmbus_server_ops o = ops;
	struct reader r = {data, data + size};
	uint8_t conf = take(&r);
	struct fz *f = calloc(1, sizeof(*f));
	struct error err;
	int fd0;

	setup_once();
	log_set_level(LOG_ERROR);
	fd0 = lowest_free_fd();
	REQUIRE(f && vt.n == 0);
	vt.now = V0_NS;
	f->ram = calloc(RAM_PAGES, PG);
	REQUIRE(f->ram);
	guest_mem_init_fake(&f->mem, f->ram, (uint64_t)RAM_PAGES * PG);
	o.ctx = f;
	REQUIRE(vmbus_server_create(&f->host.server, &f->mem, &o, 1) == 0);
	f->cfg.request_timeout_ms = timeouts[conf & 3];
	f->cfg.heartbeat_interval_ms = beats[(conf >> 2) & 3];
	f->cfg.timesync_interval_ms = samples[(conf >> 4) & 3];
	if (!(conf & 0x40)) {
		f->cfg.ref_time = ref_time;
		f->cfg.ref_time_ctx = f;
	}
	f->timeout_ns = (f->cfg.request_timeout_ms ? f->cfg.request_timeout_ms
						   : IC_DEFAULT_TIMEOUT_MS) * 1000000ull;
	REQUIRE(ic_set_create(&f->set, &f->host, &f->mem, &f->cfg, &err) == 0);
	guest_connect(f);
	check_status(f);

	while (r.p < r.end) {
		record(f, &r);
		run_timers();
		check_status(f);
	}

	/* The VMM stops: the server closes every channel, every request ends, nothing stays armed
	 * and the file copy's descriptor is closed. */
	vmbus_server_destroy(f->host.server);
	f->host.server = NULL;
	for (int i = 0; i < NCHAN; i++)
		f->ch[i].open = false;
	for (unsigned k = 0; k < f->ncalls; k++)
		REQUIRE(f->calls[k].calls == 1);
	REQUIRE(!f->fcopy_busy);
	check_status(f);
	for (unsigned k = 0; k < vt.n; k++)
		REQUIRE(vt.t[k]->want_ns == 0);
	REQUIRE(lowest_free_fd() == fd0);
	ic_set_destroy(f->set);
	REQUIRE(vt.n == 0);
	free(f->ram);
	free(f);
	return 0;
}

#ifdef FUZZ_STANDALONE
#include "replay.h"
struct seq {
	uint8_t b[2048];
	size_t n;
};

static void put(struct seq *s, const uint8_t *bytes, size_t n)
{
	REQUIRE(s->n + n <= sizeof(s->b));
	memcpy(s->b + s->n, bytes, n);
	s->n += n;
}

#define PUT(s, ...) put(s, (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))
#define OP(action, ch) ((uint8_t)((action) | (ch) << 4))
#define QUICK(ch) PUT(s, OP(10, ch))

/* A Linux guest's session: every channel opened and negotiated, each service's requests
 * answered, a file copied in fragments, a KVP pool walked to its end, a freeze that times out,
 * a request cut by a close, a broken ring, an UNLOAD. */
static void session(struct seq *s, uint8_t conf)
{
	s->n = 0;
	PUT(s, conf);
	for (int i = 0; i < NCHAN; i++) {
		PUT(s, OP(0, i), i == C_FCOPY ? 3 : 0); /* file copy: 5 data pages */
		QUICK(i);
	}
	PUT(s, OP(5, 0), H_SHUTDOWN, 0x11, 0);  /* reboot, with a message */
	QUICK(C_SHUTDOWN);
	PUT(s, OP(6, 0), 0xf0);                   /* to the next deadline: a heartbeat */
	QUICK(C_HEARTBEAT);
	QUICK(C_TIMESYNC);                        /* the first SYNC sample */
	PUT(s, OP(5, 0), H_OFFSET, 1, 0);
	QUICK(C_TIMESYNC);
	PUT(s, OP(5, 0), H_KVP_SET, 0, 0x08);    /* pool 0, "k" = "" */
	QUICK(C_KVP);
	PUT(s, OP(5, 0), H_KVP_GET, 0, 1);
	QUICK(C_KVP);
	PUT(s, OP(5, 0), H_KVP_WALK, 2, 0);
	QUICK(C_KVP);
	QUICK(C_KVP);
	PUT(s, OP(3, C_KVP), 0x01, 5, 0);         /* HV_S_CONT: the end of the pool */
	PUT(s, OP(5, 0), H_KVP_IP, 0, 0x56);
	QUICK(C_KVP);
	PUT(s, OP(5, 0), H_KVP_ENUM, 1, 3);
	PUT(s, OP(3, C_KVP), 0x03, 0, 1, 40, 0, 4, 4, 0, 0, 0); /* key_size 4 */
	for (uint8_t shape = 1; shape < 15; shape += 3) {       /* other value shapes */
		PUT(s, OP(5, 0), H_KVP_ENUM, 2, shape);
		PUT(s, OP(3, C_KVP), (uint8_t)(0x03 | shape << 3), 0, 0);
	}
	PUT(s, OP(5, 0), H_KVP_IP, 0, 0x56);
	PUT(s, OP(3, C_KVP), 0x0b, 0, 0);         /* every IP field full */
	PUT(s, OP(5, 0), 0x80 | H_VSS_FREEZE, 0, 0, H_VSS_THAW, 0, 0); /* thaw when frozen */
	QUICK(C_VSS);
	QUICK(C_VSS);
	PUT(s, OP(5, 0), H_VSS_HOT, 0, 0);
	QUICK(C_VSS);
	PUT(s, OP(5, 0), H_VSS_THAW, 0, 0);
	PUT(s, OP(3, C_VSS), 0x01, 0x20, 0);      /* 4 bytes of hv_vss_msg: -EPROTO */
	PUT(s, OP(5, 0), H_FCOPY, 2, 0x04);       /* 12289 bytes, OVER_WRITE */
	for (int k = 0; k < 5; k++)
		QUICK(C_FCOPY);
	PUT(s, OP(5, 0), H_FCOPY, 1, 0);
	PUT(s, OP(5, 0), H_FCOPY, 0, 0);          /* busy */
	PUT(s, OP(3, C_FCOPY), 0x01, 11, 0);      /* HV_ERROR_ALREADY_EXISTS */
	PUT(s, OP(5, 0), H_VSS_FREEZE, 0, 0);
	PUT(s, OP(2, C_VSS));
	PUT(s, OP(6, 0), 0xef);                   /* 48 s: it times out */
	PUT(s, OP(3, C_VSS), 0x00, 0, 0);         /* its late answer is dropped */
	PUT(s, OP(5, 0), H_KVP_DELETE, 0, 0);
	PUT(s, OP(1, C_KVP));                     /* closed with the delete in flight */
	PUT(s, OP(0, C_KVP), 1);                  /* reopened with one data page */
	PUT(s, OP(3, C_KVP), 0x05, 0, 0);         /* negotiated as 3.0 / 4.0 */
	PUT(s, OP(5, 0), H_KVP_IP, 0, 0);         /* 7428 bytes do not fit: -EMSGSIZE */
	PUT(s, OP(4, C_SHUTDOWN), 0, 0, 8, 0, 1, 0, 0, 0, 28, 0, 0, 0); /* a stray packet */
	PUT(s, OP(8, C_HEARTBEAT), 0, 12, 0, 0, 0); /* heartbeat's ring broken */
	PUT(s, OP(5, 0), H_VSS_THAW, 0, 0);
	PUT(s, OP(9, 0));                         /* UNLOAD with the thaw in flight */
	PUT(s, OP(0, C_VSS), 2);
	PUT(s, OP(3, C_VSS), 0x07, 0, 0);         /* no version in common */
	PUT(s, OP(5, 0), H_VSS_FREEZE, 0, 0);
}

/* Built-in sessions, then 3000 deterministic mutations of them (bytes changed, dropped,
 * repeated), so a plain build exercises many paths; a crash or a sanitizer report fails. */
static void built_in(void)
{
	static const uint8_t confs[4] = {0x05, 0x40, 0x2a, 0x00};
	struct seq s, m;
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (int c = 0; c < 4; c++) {
		session(&s, confs[c]);
		LLVMFuzzerTestOneInput(s.b, s.n);
	}
	for (int k = 0; k < 3000; k++) {
		session(&s, confs[k % 4]);
		m = s;
		for (int e = 0; e < 4; e++) {
			size_t at;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			at = (size_t)(x >> 8) % m.n;
			switch (x & 3) {
			case 0:
				m.b[at] = (uint8_t)(x >> 40);
				break;
			case 1:
				m.b[at] ^= (uint8_t)(1u << ((x >> 32) & 7));
				break;
			case 2:
				memmove(m.b + at, m.b + at + 1, m.n - at - 1);
				m.n--;
				break;
			default:
				if (m.n < sizeof(m.b)) {
					memmove(m.b + at + 1, m.b + at, m.n - at);
					m.n++;
				}
				break;
			}
		}
		LLVMFuzzerTestOneInput(m.b, m.n);
	}
	printf("4 sessions and 3000 mutations: ok\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		built_in();
		return 0;
	}
	return fuzz_replay_files(argc, argv);
}
#endif
