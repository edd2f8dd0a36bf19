/* Unit tests for netvsp driven as a Linux guest drives it, in memory: a fake Hyper-V partition
 * and the real VMBus host and server, guest-side rings written and read by the test, and a
 * fake network backend. Covers receive-buffer slot accounting (exhaust, out-of-order and
 * unknown completions), the NVSP state machine (every version, buffers, wrong order, revoke,
 * subchannels and the send indirection table), RNDIS over the send buffer and GPA-direct
 * ranges, transmit with offloads and batching, receive with RSS spreading, the link
 * indication, backpressure both ways, and malformed packets and rings. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "synthetic/netvsp.h"
#include "synthetic/netvsp_offload.h"
#include "synthetic/netvsp_rss.h"
#include "synthetic/netvsp_rxbuf.h"
#include "synthetic/nvsp_protocol.h"
#include "synthetic/rndis_protocol.h"
#include "test_hv_fake.h"
#include "unit.h"
#include "vmbus_guest_msgs.h"
#include "vmbus/packet.h"
#include "vmbus/protocol.h"
#include "vmbus/ring.h"

#define NVPS 4
#define RING_PFN 0x100u   /* 16 pages per channel: 8 up, 8 down */
#define RING_PAGES 16u
#define RECV_PFN 0x200u
#define SEND_PFN 0x280u
#define SEND_PAGES 16u    /* 10 sections */
#define DATA_PFN 0x300u   /* free pages for GPA-direct frames */
#define RECV_GPADL 0xcafe0u
#define SEND_GPADL 0x5e0u

static const uint8_t MAC[6] = {0x00, 0x15, 0x5d, 0x11, 0x22, 0x33};
static const uint8_t MS_KEY[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/* ---- Fake backend ---- */

#define MAX_RECS 512

struct rec {
	unsigned queue;
	uint32_t len;
	struct virtio_net_hdr_v1 vh;
	uint8_t *data; /* the frame, after the virtio header */
};

struct fake_be {
	struct rec recs[MAX_RECS];
	unsigned nrecs;
	bool defer;              /* keep writes pending until complete_all */
	struct tap_tx *pending[MAX_RECS];
	int pending_len[MAX_RECS];
	unsigned npending;
	int send_ret;
	int done_res;            /* < 0: writes fail */
	unsigned resumes;
};

static int be_send(void *ctx, unsigned queue, struct tap_tx *tx)
{
	struct fake_be *b = ctx;
	uint32_t total = 0, off = 0;
	struct rec *r;

	if (b->send_ret)
		return b->send_ret;
	CHECK(tx->iovcnt >= 1);
	CHECK_EQ(tx->iov[0].iov_len, sizeof(struct virtio_net_hdr_v1));
	for (unsigned i = 0; i < tx->iovcnt; i++)
		total += (uint32_t)tx->iov[i].iov_len;
	CHECK(b->nrecs < MAX_RECS);
	if (b->nrecs >= MAX_RECS)
		return -ENOSPC;
	r = &b->recs[b->nrecs++];
	r->queue = queue;
	r->len = total - sizeof(r->vh);
	r->data = malloc(total);
	memcpy(&r->vh, tx->iov[0].iov_base, sizeof(r->vh));
	for (unsigned i = 1; i < tx->iovcnt; i++) {
		memcpy(r->data + off, tx->iov[i].iov_base, tx->iov[i].iov_len);
		off += (uint32_t)tx->iov[i].iov_len;
	}
	if (b->defer) {
		b->pending[b->npending] = tx;
		b->pending_len[b->npending++] = (int)total;
	} else {
		tx->done(tx, b->done_res < 0 ? b->done_res : (int)total); /* at once, within send */
	}
	return 0;
}

static void be_resume(void *ctx)
{
	((struct fake_be *)ctx)->resumes++;
}

static void be_complete_all(struct fake_be *b)
{
	unsigned n = b->npending;

	b->npending = 0;
	for (unsigned i = 0; i < n; i++)
		b->pending[i]->done(b->pending[i], b->pending_len[i]);
}

static void be_clear(struct fake_be *b)
{
	for (unsigned i = 0; i < b->nrecs; i++)
		free(b->recs[i].data);
	b->nrecs = 0;
}

/* ---- Guest side of the rings ---- */

struct gring {
	uint8_t *hdr;
	uint8_t *data;
	uint32_t size;
};

static struct hv_ring_buffer *gh(struct gring *r)
{
	return (struct hv_ring_buffer *)r->hdr;
}

static void gcopy_in(struct gring *r, uint32_t at, const void *src, uint32_t len)
{
	const uint8_t *s = src;

	for (uint32_t i = 0; i < len; i++)
		r->data[(at + i) % r->size] = s[i];
}

static void gcopy_out(struct gring *r, uint32_t at, void *dst, uint32_t len)
{
	uint8_t *d = dst;

	for (uint32_t i = 0; i < len; i++)
		d[i] = r->data[(at + i) % r->size];
}

/* The guest writes a packet (len a multiple of 8) and its trailer. */
static void gring_write(struct gring *r, const void *pkt, uint32_t len)
{
	uint32_t w = gh(r)->write_index;
	uint64_t trailer = (uint64_t)w << 32;

	CHECK_EQ(len % 8, 0);
	gcopy_in(r, w, pkt, len);
	gcopy_in(r, w + len, &trailer, 8);
	__atomic_store_n(&gh(r)->write_index, (w + len + 8) % r->size, __ATOMIC_RELEASE);
}

static uint32_t gring_free(struct gring *r)
{
	uint32_t w = gh(r)->write_index, rd = gh(r)->read_index;

	return rd > w ? rd - w : r->size - (w - rd);
}

/* A host packet as the guest sees it. */
struct hpkt {
	uint16_t type, flags;
	uint64_t tid;
	uint8_t raw[8192];
	uint32_t len;         /* bytes of raw, descriptor included */
	const uint8_t *data;  /* payload at offset8 */
	uint32_t data_len;
	uint32_t range_offset, range_count, nranges;
};

static bool gring_read(struct gring *r, struct hpkt *p)
{
	struct vmpacket_descriptor d;
	uint32_t rd = gh(r)->read_index;

	if (rd == __atomic_load_n(&gh(r)->write_index, __ATOMIC_ACQUIRE))
		return false;
	gcopy_out(r, rd, &d, sizeof(d));
	p->len = d.len8 * 8u;
	CHECK(p->len <= sizeof(p->raw));
	if (p->len > sizeof(p->raw))
		return false;
	gcopy_out(r, rd, p->raw, p->len);
	p->type = d.type;
	p->flags = d.flags;
	p->tid = d.trans_id;
	p->data = p->raw + d.offset8 * 8u;
	p->data_len = p->len - d.offset8 * 8u;
	p->nranges = 0;
	if (d.type == VM_PKT_DATA_USING_XFER_PAGES) {
		struct vmtransfer_page_packet_header x;

		memcpy(&x, p->raw, sizeof(x));
		p->nranges = x.range_cnt;
		memcpy(&p->range_count, p->raw + 24, 4);
		memcpy(&p->range_offset, p->raw + 28, 4);
		CHECK_EQ(x.xfer_pageset_id, NETVSC_RECEIVE_BUFFER_ID);
	}
	__atomic_store_n(&gh(r)->read_index, (rd + p->len + 8) % r->size, __ATOMIC_RELEASE);
	return true;
}

/* ---- Environment ---- */

struct env {
	struct fake_host *fh;
	struct event_loop loop;
	struct vmbus_host *host;
	struct vmbus_server *s;
	struct netvsp *n;
	struct fake_be be;
	struct gring up[NVPS], down[NVPS];
	uint64_t tid;
};

static uint32_t relid(unsigned ch)
{
	return 1 + ch;
}

static void post(struct env *e, const void *msg, uint32_t size)
{
	CHECK_EQ(vmbus_server_post_message(e->s, 0, VMBUS_MESSAGE_CONNECTION_ID, VMBUS_MESSAGE_TYPE,
					   msg, size), HV_STATUS_SUCCESS);
}

static void gpadl(struct env *e, uint32_t rel, uint32_t handle, uint64_t pfn0, uint32_t npages)
{
	uint8_t buf[VMBUS_MESSAGE_MAX];
	uint32_t done, n, len;

	len = vmbus_guest_gpadl_header(buf, rel, handle, pfn0, npages, npages * 4096u, &done);
	post(e, buf, len);
	for (; done < npages; done += n) {
		len = vmbus_guest_gpadl_body(buf, handle, pfn0 + done, npages - done, &n);
		post(e, buf, len);
	}
}

static struct vmbus_channel *channel(struct env *e, unsigned ch)
{
	return vmbus_device_channel(netvsp_vmbus_device(e->n), ch);
}

/* Opens channel ch with a ring GPADL of 16 pages, down pages of them host -> guest. */
static void open_chan_split(struct env *e, unsigned ch, uint32_t up)
{
	uint32_t pfn = RING_PFN + ch * RING_PAGES;
	struct vmbus_msg_open_channel m = vmbus_guest_open(relid(ch), 0x100 + ch, up, 0);

	memset(e->fh->ram + (uint64_t)pfn * 4096, 0, RING_PAGES * 4096);
	gpadl(e, relid(ch), 0x100 + ch, pfn, RING_PAGES);
	post(e, &m, sizeof(m));
	CHECK(channel(e, ch) && vmbus_channel_is_open(channel(e, ch)));
	e->up[ch].hdr = e->fh->ram + (uint64_t)pfn * 4096;
	e->up[ch].data = e->up[ch].hdr + 4096;
	e->up[ch].size = (up - 1) * 4096;
	e->down[ch].hdr = e->up[ch].hdr + up * 4096;
	e->down[ch].data = e->down[ch].hdr + 4096;
	e->down[ch].size = (RING_PAGES - up - 1) * 4096;
}

static void open_chan(struct env *e, unsigned ch)
{
	open_chan_split(e, ch, RING_PAGES / 2);
}

static void close_chan(struct env *e, unsigned ch)
{
	struct vmbus_msg_close_channel m = {.header.msgtype = CHANNELMSG_CLOSECHANNEL,
					    .child_relid = relid(ch)};
	struct vmbus_msg_gpadl_teardown t = {.header.msgtype = CHANNELMSG_GPADL_TEARDOWN,
					     .child_relid = relid(ch), .gpadl = 0x100 + ch};

	post(e, &m, sizeof(m));
	post(e, &t, sizeof(t));
}

static struct env *env_new(unsigned nvps, unsigned recv_pages, unsigned mtu)
{
	struct env *e = calloc(1, sizeof(*e));
	struct netvsp_backend be = {
		.send = be_send, .rx_resume = be_resume, .ctx = &e->be, .queues = 2,
		.caps = {.tx_tcp4 = true, .tx_udp4 = true, .tx_tcp6 = true, .tx_udp6 = true,
			 .rx_tcp4 = true, .rx_udp4 = true, .rx_tcp6 = true, .rx_udp6 = true,
			 .lso4 = true, .lso6 = true},
	};
	struct netvsp_config cfg = {.mtu = mtu, .index = 3};
	struct vmbus_msg_initiate_contact ic;
	struct vmbus_msg_header ro = {.msgtype = CHANNELMSG_REQUESTOFFERS};
	struct error err;

	memcpy(cfg.mac, MAC, 6);
	e->fh = fake_setup(hv_features_default(), nvps, FAKE_TSC_HZ);
	CHECK_EQ(event_loop_init(&e->loop), 0);
	CHECK_EQ(vmbus_host_create(&e->host, e->fh->p, &e->loop, &e->fh->mem, nvps, &err), 0);
	e->s = vmbus_host_server(e->host);
	CHECK_EQ(netvsp_create_with_backend(&e->n, e->host, &e->fh->mem, nvps, &cfg, &be, &err),
		 0);
	memset(&ic, 0, sizeof(ic));
	ic.header.msgtype = CHANNELMSG_INITIATE_CONTACT;
	ic.vmbus_version_requested = VERSION_WIN10_V5_3;
	ic.msg_sint = VMBUS_MESSAGE_SINT;
	ic.monitor_page1 = 0x6000;
	ic.monitor_page2 = 0x7000;
	CHECK_EQ(vmbus_server_post_message(e->s, 0, VMBUS_MESSAGE_CONNECTION_ID_4, VMBUS_MESSAGE_TYPE,
					   &ic, sizeof(ic)), HV_STATUS_SUCCESS);
	post(e, &ro, sizeof(ro));
	CHECK(vmbus_server_connected(e->s));
	open_chan(e, 0);
	(void)recv_pages;
	e->tid = 0x1000;
	return e;
}

static void env_free(struct env *e)
{
	be_complete_all(&e->be);
	vmbus_host_destroy(e->host);
	netvsp_destroy(e->n);
	event_loop_destroy(&e->loop);
	be_clear(&e->be);
	fake_teardown(e->fh);
	free(e);
}

static struct netvsp_stats stats(struct env *e)
{
	struct netvsp_stats s;

	netvsp_get_stats(e->n, &s);
	return s;
}

/* ---- NVSP ---- */

static uint32_t pad8(uint32_t v)
{
	return (v + 7) & ~7u;
}

/* An in-band packet of payload bytes on channel ch (not kicked). */
static void send_inband(struct env *e, unsigned ch, const void *payload, uint32_t len, bool want,
			uint64_t tid)
{
	uint8_t pkt[256];
	struct vmpacket_descriptor d = {VM_PKT_DATA_INBAND, 2, (uint16_t)((16 + pad8(len)) / 8),
					(uint16_t)(want ? VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED : 0),
					tid};

	memset(pkt, 0, sizeof(pkt));
	memcpy(pkt, &d, 16);
	memcpy(pkt + 16, payload, len);
	gring_write(&e->up[ch], pkt, 16 + pad8(len));
}

static void send_nvsp(struct env *e, unsigned ch, const struct nvsp_message *m, bool want)
{
	send_inband(e, ch, m, sizeof(*m), want, ++e->tid);
}

/* The next host packet on channel ch, which must be of this type. */
static bool take(struct env *e, unsigned ch, uint16_t type, struct hpkt *p)
{
	bool got = gring_read(&e->down[ch], p);

	CHECK(got);
	if (!got)
		return false;
	CHECK_EQ(p->type, type);
	return p->type == type;
}

static bool nothing(struct env *e, unsigned ch)
{
	struct hpkt p;

	return !gring_read(&e->down[ch], &p);
}

static uint32_t u32_at(const uint8_t *p, uint32_t off)
{
	uint32_t v;

	memcpy(&v, p + off, 4);
	return v;
}

/* Sends an NVSP control message asking for a completion; returns the completion's status word
 * (at offset 4 of its message), checking its type. */
static uint32_t nvsp_call(struct env *e, const struct nvsp_message *m, uint32_t reply_type,
			  struct hpkt *p)
{
	send_nvsp(e, 0, m, true);
	netvsp_kick(e->n, 0);
	if (!take(e, 0, VM_PKT_COMP, p))
		return ~0u;
	CHECK_EQ(p->tid, e->tid);
	CHECK_EQ(p->data_len, NVSP_MESSAGE_SIZE);
	CHECK_EQ(u32_at(p->data, 0), reply_type);
	return u32_at(p->data, 4);
}

static uint32_t nvsp_init(struct env *e, uint32_t version)
{
	struct nvsp_message m;
	struct hpkt p;
	uint32_t st;

	memset(&m, 0, sizeof(m));
	m.hdr.msg_type = NVSP_MSG_TYPE_INIT;
	m.msg.init.min_protocol_ver = m.msg.init.max_protocol_ver = version;
	memset(&p, 0, sizeof(p));
	st = nvsp_call(e, &m, NVSP_MSG_TYPE_INIT_COMPLETE, &p);
	/* init_complete: negotiated version, max_mdl_chain_len, status */
	if (p.data_len < 16)
		return ~0u;
	CHECK_EQ(st, u32_at(p.data, 12) == NVSP_STAT_SUCCESS ? version
							      : NVSP_INVALID_PROTOCOL_VERSION);
	return u32_at(p.data, 12);
}

static void nvsp_no_reply(struct env *e, uint32_t type, uint32_t a, uint32_t b)
{
	struct nvsp_message m;

	memset(&m, 0, sizeof(m));
	m.hdr.msg_type = type;
	memcpy(m.msg.raw, &a, 4);
	memcpy(m.msg.raw + 4, &b, 4);
	send_nvsp(e, 0, &m, false);
	netvsp_kick(e->n, 0);
}

static uint32_t recv_buf(struct env *e, uint32_t handle, struct hpkt *p)
{
	struct nvsp_message m;

	memset(&m, 0, sizeof(m));
	m.hdr.msg_type = NVSP_MSG1_TYPE_SEND_RECV_BUF;
	m.msg.send_recv_buf.gpadl_handle = handle;
	m.msg.send_recv_buf.id = NETVSC_RECEIVE_BUFFER_ID;
	return nvsp_call(e, &m, NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE, p);
}

static uint32_t send_buf(struct env *e, uint32_t handle, struct hpkt *p)
{
	struct nvsp_message m;

	memset(&m, 0, sizeof(m));
	m.hdr.msg_type = NVSP_MSG1_TYPE_SEND_SEND_BUF;
	m.msg.send_send_buf.gpadl_handle = handle;
	m.msg.send_send_buf.id = NETVSC_SEND_BUFFER_ID;
	return nvsp_call(e, &m, NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE, p);
}

/* What netvsc_connect_vsp + netvsc_init_buf do; returns the receive sub-allocation size. */
static uint32_t nvsp_setup(struct env *e, uint32_t version, uint32_t recv_pages)
{
	struct hpkt p;

	CHECK_EQ(nvsp_init(e, version), NVSP_STAT_SUCCESS);
	if (version >= NVSP_PROTOCOL_VERSION_2)
		nvsp_no_reply(e, NVSP_MSG2_TYPE_SEND_NDIS_CONFIG, 1514, 0);
	nvsp_no_reply(e, NVSP_MSG1_TYPE_SEND_NDIS_VER, 6, version <= NVSP_PROTOCOL_VERSION_4 ? 1 : 30);
	gpadl(e, relid(0), RECV_GPADL, RECV_PFN, recv_pages);
	CHECK_EQ(recv_buf(e, RECV_GPADL, &p), NVSP_STAT_SUCCESS);
	CHECK_EQ(u32_at(p.data, 8), 1);  /* one section */
	CHECK_EQ(u32_at(p.data, 12), 0); /* at offset 0 */
	{
		uint32_t sub = u32_at(p.data, 16), count = u32_at(p.data, 20);

		CHECK(sub >= 1514 + 44);
		CHECK_EQ(count, recv_pages * 4096 / sub);
		CHECK_EQ(u32_at(p.data, 24), sub * count);
		gpadl(e, relid(0), SEND_GPADL, SEND_PFN, SEND_PAGES);
		CHECK_EQ(send_buf(e, SEND_GPADL, &p), NVSP_STAT_SUCCESS);
		CHECK_EQ(u32_at(p.data, 8), NETVSC_SEND_SECTION_SIZE);
		CHECK_EQ(stats(e).nvsp_errors, 0);
		return sub;
	}
}

static uint8_t *ram(struct env *e, uint64_t gpa)
{
	return e->fh->ram + gpa;
}

static uint8_t *section(struct env *e, unsigned idx)
{
	return ram(e, (uint64_t)SEND_PFN * 4096 + idx * NETVSC_SEND_SECTION_SIZE);
}

/* RNDIS_PKT through send-buffer section idx (size bytes already there). */
static void send_section(struct env *e, unsigned ch, unsigned idx, uint32_t size, uint32_t ctype)
{
	struct nvsp_message m;

	memset(&m, 0, sizeof(m));
	m.hdr.msg_type = NVSP_MSG1_TYPE_SEND_RNDIS_PKT;
	m.msg.send_rndis_pkt.channel_type = ctype;
	m.msg.send_rndis_pkt.send_buf_section_index = idx;
	m.msg.send_rndis_pkt.send_buf_section_size = size;
	send_nvsp(e, ch, &m, true);
}

/* The guest's receive completion for a transfer-page packet. */
static void complete_rx(struct env *e, unsigned ch, uint64_t tid)
{
	uint8_t pkt[16 + 8];
	struct vmpacket_descriptor d = {VM_PKT_COMP, 2, 3, 0, tid};
	uint32_t msg[2] = {NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE, NVSP_STAT_SUCCESS};

	memcpy(pkt, &d, 16);
	memcpy(pkt + 16, msg, 8);
	gring_write(&e->up[ch], pkt, sizeof(pkt));
}

/* A transfer-page packet's bytes in the receive buffer. */
static const uint8_t *xfer_bytes(struct env *e, const struct hpkt *p)
{
	return ram(e, (uint64_t)RECV_PFN * 4096 + p->range_offset);
}

/* An RNDIS control request through section 0; returns the completion body (copied into out)
 * and checks the NVSP completion. The slot is given back. */
static uint32_t rndis_call(struct env *e, const void *msg, uint32_t len, uint8_t *out)
{
	struct hpkt p;
	uint32_t rlen = 0;
	uint64_t stid;

	memcpy(section(e, 0), msg, len);
	send_section(e, 0, 0, len, NVSP_RMC_CONTROL);
	stid = e->tid;
	netvsp_kick(e->n, 0);
	if (take(e, 0, VM_PKT_DATA_USING_XFER_PAGES, &p)) {
		CHECK(p.flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
		CHECK_EQ(p.nranges, 1);
		CHECK_EQ(u32_at(p.data, 0), NVSP_MSG1_TYPE_SEND_RNDIS_PKT);
		CHECK_EQ(u32_at(p.data, 4), NVSP_RMC_CONTROL);
		rlen = p.range_count;
		memcpy(out, xfer_bytes(e, &p), rlen);
		complete_rx(e, 0, p.tid);
	}
	if (take(e, 0, VM_PKT_COMP, &p)) {
		CHECK_EQ(p.tid, stid);
		CHECK_EQ(u32_at(p.data, 0), NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE);
		CHECK_EQ(u32_at(p.data, 4), NVSP_STAT_SUCCESS);
	}
	netvsp_kick(e->n, 0); /* takes the receive completion */
	return rlen;
}

static void rndis_init(struct env *e)
{
	uint32_t m[6] = {RNDIS_MSG_INIT, 24, 1, 1, 0, 0x4000};
	uint8_t out[1024];

	CHECK_EQ(rndis_call(e, m, sizeof(m), out), 52);
	CHECK_EQ(u32_at(out, 0), RNDIS_MSG_INIT_C);
	CHECK_EQ(u32_at(out, 12), RNDIS_STATUS_SUCCESS);
}

static uint32_t rndis_set(struct env *e, uint32_t oid, const void *info, uint32_t len)
{
	uint8_t m[1024], out[1024];
	uint32_t h[7] = {RNDIS_MSG_SET, 28 + len, 9, oid, len, 20, 0};

	memcpy(m, h, 28);
	memcpy(m + 28, info, len);
	CHECK_EQ(rndis_call(e, m, 28 + len, out), 16);
	return u32_at(out, 12);
}

static uint32_t rndis_query_u32(struct env *e, uint32_t oid)
{
	uint32_t m[7] = {RNDIS_MSG_QUERY, 28, 5, oid, 0, 20, 0};
	uint8_t out[1024];

	CHECK_EQ(rndis_call(e, m, sizeof(m), out), 28);
	CHECK_EQ(u32_at(out, 12), RNDIS_STATUS_SUCCESS);
	return u32_at(out, 24);
}

/* The whole Linux bring-up to an open interface. */
static uint32_t bring_up(struct env *e, uint32_t version, uint32_t recv_pages)
{
	uint32_t sub = nvsp_setup(e, version, recv_pages);
	uint32_t filter = NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_BROADCAST |
			  NDIS_PACKET_TYPE_ALL_MULTICAST;

	rndis_init(e);
	CHECK_EQ(rndis_set(e, OID_GEN_CURRENT_PACKET_FILTER, &filter, 4), RNDIS_STATUS_SUCCESS);
	return sub;
}

/* ---- Tests ---- */

static void test_rxbuf(void)
{
	struct netvsp_rxbuf rb;
	uint32_t s[5];

	CHECK_EQ(netvsp_rxbuf_init(&rb, 100, 200, 1), -EINVAL);
	CHECK_EQ(netvsp_rxbuf_init(&rb, 100, 0, 1), -EINVAL);
	CHECK_EQ(netvsp_rxbuf_init(&rb, 4 * 1664 + 100, 1664, 7), 0);
	CHECK_EQ(rb.count, 4);
	for (int i = 0; i < 4; i++) {
		CHECK_EQ(netvsp_rxbuf_alloc(&rb, &s[i]), 0);
		CHECK_EQ(s[i], (uint32_t)i);
	}
	CHECK_EQ(netvsp_rxbuf_alloc(&rb, &s[4]), -ENOSPC);
	/* Out of order; duplicates, other epochs and out-of-range slots are refused. */
	CHECK_EQ(netvsp_rxbuf_complete(&rb, netvsp_rxbuf_trans_id(&rb, 2)), 0);
	CHECK_EQ(netvsp_rxbuf_complete(&rb, netvsp_rxbuf_trans_id(&rb, 2)), -ENOENT);
	CHECK_EQ(netvsp_rxbuf_complete(&rb, netvsp_rxbuf_trans_id(&rb, 0) ^ (1ull << 32)), -ENOENT);
	CHECK_EQ(netvsp_rxbuf_complete(&rb, netvsp_rxbuf_trans_id(&rb, 9)), -ENOENT);
	CHECK_EQ(netvsp_rxbuf_complete(&rb, 0), -ENOENT);
	CHECK_EQ(rb.nfree, 1);
	CHECK_EQ(netvsp_rxbuf_alloc(&rb, &s[4]), 0);
	CHECK_EQ(s[4], 2); /* reused only after its completion */
	CHECK_EQ(netvsp_rxbuf_complete(&rb, netvsp_rxbuf_trans_id(&rb, 0)), 0);
	netvsp_rxbuf_release(&rb, 1);
	netvsp_rxbuf_release(&rb, 1); /* once only */
	CHECK_EQ(rb.nfree, 2);
	netvsp_rxbuf_destroy(&rb);
}

static void test_versions(void)
{
	static const uint32_t linux_versions[] = {
		NVSP_PROTOCOL_VERSION_61, NVSP_PROTOCOL_VERSION_6, NVSP_PROTOCOL_VERSION_5,
		NVSP_PROTOCOL_VERSION_4, NVSP_PROTOCOL_VERSION_2, NVSP_PROTOCOL_VERSION_1,
	};
	struct env *e = env_new(NVPS, 64, 0);
	struct nvsp_message m;
	struct hpkt p;

	/* Unknown versions: failed, and not an error (the guest tries the next one). */
	CHECK_EQ(nvsp_init(e, 0x70000), NVSP_STAT_FAIL);
	CHECK_EQ(nvsp_init(e, 0x3), NVSP_STAT_FAIL);
	CHECK_EQ(stats(e).nvsp_errors, 0);
	for (unsigned i = 0; i < 6; i++) {
		memset(&m, 0, sizeof(m));
		m.hdr.msg_type = NVSP_MSG_TYPE_INIT;
		m.msg.init.min_protocol_ver = m.msg.init.max_protocol_ver = linux_versions[i];
		nvsp_call(e, &m, NVSP_MSG_TYPE_INIT_COMPLETE, &p);
		CHECK_EQ(u32_at(p.data, 12), NVSP_STAT_SUCCESS);
		CHECK_EQ(u32_at(p.data, 4), linux_versions[i]);
		/* A second INIT on the same channel: refused and counted. */
		nvsp_call(e, &m, NVSP_MSG_TYPE_INIT_COMPLETE, &p);
		CHECK_EQ(u32_at(p.data, 12), NVSP_STAT_FAIL);
		CHECK_EQ(stats(e).nvsp_errors, i + 1);
		/* Closing the channel forgets the negotiation. */
		close_chan(e, 0);
		open_chan(e, 0);
	}
	/* A range: the newest inside it. */
	memset(&m, 0, sizeof(m));
	m.hdr.msg_type = NVSP_MSG_TYPE_INIT;
	m.msg.init.min_protocol_ver = NVSP_PROTOCOL_VERSION_2;
	m.msg.init.max_protocol_ver = NVSP_PROTOCOL_VERSION_5 + 5;
	nvsp_call(e, &m, NVSP_MSG_TYPE_INIT_COMPLETE, &p);
	CHECK_EQ(u32_at(p.data, 4), NVSP_PROTOCOL_VERSION_5);
	/* INIT without asking for a completion: taken, nothing sent. */
	send_nvsp(e, 0, &m, false);
	netvsp_kick(e->n, 0);
	CHECK(nothing(e, 0));
	env_free(e);
}

static void test_buffers_and_order(void)
{
	struct env *e = env_new(NVPS, 64, 0);
	struct nvsp_message m;
	struct hpkt p;
	unsigned long errs;

	/* Before INIT: buffers, NDIS messages and RNDIS packets are refused. */
	gpadl(e, relid(0), RECV_GPADL, RECV_PFN, 64);
	CHECK_EQ(recv_buf(e, RECV_GPADL, &p), NVSP_STAT_FAIL);
	CHECK_EQ(send_buf(e, RECV_GPADL, &p), NVSP_STAT_FAIL);
	nvsp_no_reply(e, NVSP_MSG2_TYPE_SEND_NDIS_CONFIG, 1514, 0);
	nvsp_no_reply(e, NVSP_MSG1_TYPE_SEND_NDIS_VER, 6, 30);
	send_section(e, 0, 0, 64, NVSP_RMC_CONTROL);
	netvsp_kick(e->n, 0);
	take(e, 0, VM_PKT_COMP, &p);
	CHECK_EQ(u32_at(p.data, 4), NVSP_STAT_FAIL);
	CHECK_EQ(stats(e).nvsp_errors, 5);

	CHECK_EQ(nvsp_init(e, NVSP_PROTOCOL_VERSION_61), NVSP_STAT_SUCCESS);
	/* NDIS config on NVSP 1 only makes sense from v2: fine here. Unknown GPADL, a GPADL
	 * being torn down, a one-page buffer too small for a 9000-byte frame slot. */
	nvsp_no_reply(e, NVSP_MSG2_TYPE_SEND_NDIS_CONFIG, 9014, 0);
	errs = stats(e).nvsp_errors;
	CHECK_EQ(recv_buf(e, 0xdead, &p), NVSP_STAT_FAIL);
	gpadl(e, relid(0), 0x777, RECV_PFN + 100, 2);
	CHECK_EQ(recv_buf(e, 0x777, &p), NVSP_STAT_FAIL);
	CHECK_EQ(stats(e).nvsp_errors, errs + 2);
	/* The real one: slots sized for the 9014-byte frame the guest announced. */
	CHECK_EQ(recv_buf(e, RECV_GPADL, &p), NVSP_STAT_SUCCESS);
	CHECK(u32_at(p.data, 16) >= 9014 + 44);
	CHECK_EQ(recv_buf(e, RECV_GPADL, &p), NVSP_STAT_FAIL); /* a second one */
	gpadl(e, relid(0), SEND_GPADL, SEND_PFN, SEND_PAGES);
	CHECK_EQ(send_buf(e, SEND_GPADL, &p), NVSP_STAT_SUCCESS);
	CHECK_EQ(send_buf(e, SEND_GPADL, &p), NVSP_STAT_FAIL);
	/* A send buffer smaller than a section. */
	errs = stats(e).nvsp_errors;

	/* Revoke: a wrong id is an error; the right one frees the buffer, which can come back. */
	nvsp_no_reply(e, NVSP_MSG1_TYPE_REVOKE_RECV_BUF, 0x1234, 0);
	CHECK_EQ(stats(e).nvsp_errors, errs + 1);
	nvsp_no_reply(e, NVSP_MSG1_TYPE_REVOKE_RECV_BUF, NETVSC_RECEIVE_BUFFER_ID, 0);
	nvsp_no_reply(e, NVSP_MSG1_TYPE_REVOKE_SEND_BUF, NETVSC_SEND_BUFFER_ID, 0);
	CHECK_EQ(stats(e).nvsp_errors, errs + 1);
	nvsp_no_reply(e, NVSP_MSG1_TYPE_REVOKE_SEND_BUF, NETVSC_SEND_BUFFER_ID, 0);
	CHECK_EQ(stats(e).nvsp_errors, errs + 2);
	CHECK(nothing(e, 0));
	/* The guest can tear the GPADLs down now (they are released: TORNDOWN goes out). */
	{
		struct vmbus_msg_gpadl_teardown t = {.header.msgtype = CHANNELMSG_GPADL_TEARDOWN,
						     .child_relid = relid(0), .gpadl = SEND_GPADL};

		post(e, &t, sizeof(t));
		CHECK_EQ(send_buf(e, SEND_GPADL, &p), NVSP_STAT_FAIL); /* gone */
	}
	gpadl(e, relid(0), 0x5e1, SEND_PFN, 1);
	CHECK_EQ(send_buf(e, 0x5e1, &p), NVSP_STAT_FAIL); /* one page: no 6144-byte section */
	CHECK_EQ(recv_buf(e, RECV_GPADL, &p), NVSP_STAT_SUCCESS);
	/* Subchannels before NVSP 5, data path switch before 4, an unknown message type, one too
	 * short to carry a type, a message on a subchannel-only path. */
	close_chan(e, 0);
	open_chan(e, 0);
	CHECK_EQ(nvsp_init(e, NVSP_PROTOCOL_VERSION_4), NVSP_STAT_SUCCESS);
	errs = stats(e).nvsp_errors;
	memset(&m, 0, sizeof(m));
	m.hdr.msg_type = NVSP_MSG5_TYPE_SUBCHANNEL;
	m.msg.subchn_req.op = NVSP_SUBCHANNEL_ALLOCATE;
	m.msg.subchn_req.num_subchannels = 2;
	CHECK_EQ(nvsp_call(e, &m, NVSP_MSG5_TYPE_SUBCHANNEL, &p), NVSP_STAT_FAIL);
	m.hdr.msg_type = NVSP_MSG4_TYPE_SWITCH_DATA_PATH;
	send_nvsp(e, 0, &m, true);
	netvsp_kick(e->n, 0);
	take(e, 0, VM_PKT_COMP, &p);
	CHECK_EQ(p.data_len, 0); /* no message defined: an empty completion */
	m.hdr.msg_type = NVSP_MSG6_TYPE_PD_API;
	send_nvsp(e, 0, &m, true);
	netvsp_kick(e->n, 0);
	CHECK(nothing(e, 0));
	send_inband(e, 0, "ab", 2, true, 5);
	netvsp_kick(e->n, 0);
	CHECK(nothing(e, 0));
	CHECK_EQ(stats(e).nvsp_errors, errs + 3);
	env_free(e);
}

/* RNDIS data message with the frame in f; PPIs: csum value (if non-zero), LSO, VLAN. */
static uint32_t data_msg(uint8_t *m, const uint8_t *f, uint32_t flen, uint32_t csum, uint32_t lso,
			 uint32_t vlan, uint32_t align)
{
	uint32_t off = 44, ppi = 0, total;

	memset(m, 0, 44 + 48);
	if (csum) {
		uint32_t v[4] = {16, TCPIP_CHKSUM_PKTINFO, 12, csum};

		memcpy(m + off, v, 16);
		off += 16;
		ppi += 16;
	}
	if (lso) {
		uint32_t v[4] = {16, TCP_LARGESEND_PKTINFO, 12, lso};

		memcpy(m + off, v, 16);
		off += 16;
		ppi += 16;
	}
	if (vlan) {
		uint32_t v[4] = {16, IEEE_8021Q_INFO, 12, vlan};

		memcpy(m + off, v, 16);
		off += 16;
		ppi += 16;
	}
	total = off + flen;
	if (align)
		total = (total + align - 1) & ~(align - 1);
	{
		uint32_t h[9] = {RNDIS_MSG_PACKET, total, off - 8, flen, 0, 0, 0, ppi ? 36 : 0, ppi};

		memcpy(m, h, 36);
	}
	memcpy(m + off, f, flen);
	memset(m + off + flen, 0, total - off - flen);
	return total;
}

static uint32_t eth_frame(uint8_t *f, uint32_t len, uint8_t seed)
{
	memset(f, 0xff, 6); /* broadcast */
	memcpy(f + 6, MAC, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	for (uint32_t i = 14; i < len; i++)
		f[i] = (uint8_t)(i + seed);
	return len;
}

static void wbe16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Ethernet + IPv4 + TCP with payload bytes; addresses and ports given. */
static uint32_t tcp4_frame(uint8_t *f, const uint8_t *dst_mac, uint32_t src_ip, uint32_t dst_ip,
			   uint16_t sport, uint16_t dport, uint32_t payload)
{
	memset(f, 0, 54 + payload);
	memcpy(f, dst_mac, 6);
	f[6] = 0x02;
	wbe16(f + 12, 0x0800);
	f[14] = 0x45;
	wbe16(f + 16, (uint16_t)(40 + payload));
	f[22] = 64;
	f[23] = IPPROTO_TCP;
	for (int i = 0; i < 4; i++) {
		f[26 + i] = (uint8_t)(src_ip >> (24 - 8 * i));
		f[30 + i] = (uint8_t)(dst_ip >> (24 - 8 * i));
	}
	wbe16(f + 34, sport);
	wbe16(f + 36, dport);
	f[46] = 0x50;
	for (uint32_t i = 0; i < payload; i++)
		f[54 + i] = (uint8_t)i;
	return 54 + payload;
}

static void test_tx(void)
{
	struct env *e = env_new(NVPS, 64, 0);
	uint8_t f[3][2000], m[2200];
	struct hpkt p;
	uint32_t off = 0, len;

	bring_up(e, NVSP_PROTOCOL_VERSION_61, 64);
	/* Three frames batched in one section, each message aligned to 8 (Linux xmit_more). */
	for (int i = 0; i < 3; i++) {
		uint32_t fl = eth_frame(f[i], 60 + 37 * (uint32_t)i, (uint8_t)i);

		len = data_msg(m, f[i], fl, 0, 0, 0, i < 2 ? 8 : 0);
		memcpy(section(e, 2) + off, m, len);
		off += len;
	}
	e->be.defer = true;
	send_section(e, 0, 2, off, NVSP_RMC_DATA);
	netvsp_kick(e->n, 0);
	CHECK_EQ(e->be.nrecs, 3);
	CHECK(nothing(e, 0)); /* the completion waits for the backend */
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(e->be.recs[i].len, 60 + 37 * (uint32_t)i);
		CHECK(memcmp(e->be.recs[i].data, f[i], e->be.recs[i].len) == 0);
		CHECK_EQ(e->be.recs[i].vh.flags, 0);
		CHECK_EQ(e->be.recs[i].queue, 0);
	}
	be_complete_all(&e->be);
	take(e, 0, VM_PKT_COMP, &p);
	CHECK_EQ(p.tid, e->tid);
	CHECK_EQ(u32_at(p.data, 0), NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE);
	CHECK_EQ(u32_at(p.data, 4), NVSP_STAT_SUCCESS);
	CHECK_EQ(stats(e).rndis.tx_bcast_pkts, 3);
	be_clear(&e->be);
	e->be.defer = false;

	/* GPA-direct: the RNDIS header in one page, the frame spread over two pages (a TCP
	 * segment with checksum offload and a VLAN tag). */
	{
		uint8_t *pg = ram(e, (uint64_t)DATA_PFN * 4096);
		uint8_t pkt[256];
		struct vmdata_gpa_direct gd;
		struct nvsp_message nm;
		uint32_t fl = tcp4_frame(f[0], MAC, 0x0a000001, 0x0a000002, 1000, 80, 1200);
		uint32_t hl = data_msg(m, f[0], 0, NDIS_TXCSUM_INFO_IS_IPV4 |
						     NDIS_TXCSUM_INFO_TCP_CHECKSUM, 0, 5u << 4, 0);
		uint32_t o = 0;
		uint64_t pfn;

		/* data_msg with flen 0 gives the header; fix its lengths for the real frame. */
		memcpy(m + 4, &(uint32_t){hl + fl}, 4);
		memcpy(m + 12, &fl, 4);
		memcpy(pg + 4000, m, hl);                     /* header: last bytes of page 0 */
		memcpy(pg + 4096 + 4096 - 700, f[0], 700);    /* frame: end of page 1 ... */
		memcpy(pg + 3 * 4096, f[0] + 700, fl - 700);  /* ... and the start of page 3 */
		memset(&nm, 0, sizeof(nm));
		nm.hdr.msg_type = NVSP_MSG1_TYPE_SEND_RNDIS_PKT;
		nm.msg.send_rndis_pkt.send_buf_section_index = NETVSC_INVALID_INDEX;
		memset(pkt, 0, sizeof(pkt));
		o = 24;
		{
			struct vmpacket_gpa_range r0 = {hl, 4000}, r1 = {700, 4096 - 700},
						  r2 = {fl - 700, 0};

			memcpy(pkt + o, &r0, 8);
			pfn = DATA_PFN;
			memcpy(pkt + o + 8, &pfn, 8);
			o += 16;
			memcpy(pkt + o, &r1, 8);
			pfn = DATA_PFN + 1;
			memcpy(pkt + o + 8, &pfn, 8);
			o += 16;
			memcpy(pkt + o, &r2, 8);
			pfn = DATA_PFN + 3;
			memcpy(pkt + o + 8, &pfn, 8);
			o += 16;
		}
		memset(&gd, 0, sizeof(gd));
		gd.d.type = VM_PKT_DATA_USING_GPA_DIRECT;
		gd.d.offset8 = (uint16_t)(o / 8);
		gd.d.len8 = (uint16_t)((o + sizeof(nm)) / 8);
		gd.d.flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED;
		gd.d.trans_id = 0x77;
		gd.range_cnt = 3;
		memcpy(pkt, &gd, sizeof(gd));
		memcpy(pkt + o, &nm, sizeof(nm));
		gring_write(&e->up[0], pkt, o + sizeof(nm));
		netvsp_kick(e->n, 0);
		CHECK_EQ(e->be.nrecs, 1);
		CHECK_EQ(e->be.recs[0].len, fl + 4);
		CHECK_EQ(e->be.recs[0].vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
		CHECK_EQ(e->be.recs[0].vh.csum_start, 38);
		CHECK_EQ(e->be.recs[0].vh.csum_offset, 16);
		CHECK_EQ(e->be.recs[0].data[12], 0x81);
		CHECK_EQ(e->be.recs[0].data[15], 0x05);
		CHECK(memcmp(e->be.recs[0].data + 16, f[0] + 12, fl - 12 - 2000 > fl ? 0 : 30) == 0);
		CHECK(memcmp(e->be.recs[0].data + 58 + 4 - 4, f[0] + 54, fl - 54) == 0);
		take(e, 0, VM_PKT_COMP, &p);
		CHECK_EQ(p.tid, 0x77);
		CHECK_EQ(u32_at(p.data, 4), NVSP_STAT_SUCCESS);
		be_clear(&e->be);

		/* The same ranges pointing outside guest RAM: refused with INVALID_RNDIS_PKT. */
		pfn = 0xfffff;
		memcpy(pkt + 24 + 16 + 8, &pfn, 8);
		gd.d.trans_id = 0x78;
		memcpy(pkt, &gd, sizeof(gd));
		gring_write(&e->up[0], pkt, o + sizeof(nm));
		netvsp_kick(e->n, 0);
		CHECK_EQ(e->be.nrecs, 0);
		take(e, 0, VM_PKT_COMP, &p);
		CHECK_EQ(u32_at(p.data, 4), NVSP_STAT_INVALID_RNDIS_PKT);
	}

	/* Malformed sends: a section beyond the buffer, a section size over 6144, a message
	 * longer than its section, a frame with an offload we cannot do, more than 8 messages. */
	{
		uint64_t bad = stats(e).rndis.bad_packets;

		send_section(e, 0, 10, 100, NVSP_RMC_DATA);
		send_section(e, 0, 1, 7000, NVSP_RMC_DATA);
		len = data_msg(m, f[1], 97, 0, 0, 0, 0);
		memcpy(section(e, 1), m, len);
		send_section(e, 0, 1, len - 1, NVSP_RMC_DATA);
		netvsp_kick(e->n, 0);
		for (int i = 0; i < 3; i++) {
			take(e, 0, VM_PKT_COMP, &p);
			CHECK_EQ(u32_at(p.data, 4), NVSP_STAT_INVALID_RNDIS_PKT);
		}
		CHECK_EQ(stats(e).rndis.bad_packets, bad + 3);
		len = data_msg(m, f[1], 97, 0, 1448u | (1u << 30), 0, 0); /* LSO on a non-IP frame */
		memcpy(section(e, 1), m, len);
		send_section(e, 0, 1, len, NVSP_RMC_DATA);
		netvsp_kick(e->n, 0);
		take(e, 0, VM_PKT_COMP, &p);
		CHECK_EQ(u32_at(p.data, 4), NVSP_STAT_SUCCESS); /* dropped, as a wire would */
		CHECK_EQ(e->be.nrecs, 0);
		CHECK_EQ(stats(e).rndis.tx_discards, 1);
		off = 0;
		for (int i = 0; i < 9; i++) {
			len = data_msg(m, f[1], 60, 0, 0, 0, 8);
			memcpy(section(e, 1) + off, m, len);
			off += len;
		}
		send_section(e, 0, 1, off, NVSP_RMC_DATA);
		netvsp_kick(e->n, 0);
		take(e, 0, VM_PKT_COMP, &p);
		CHECK_EQ(u32_at(p.data, 4), NVSP_STAT_INVALID_RNDIS_PKT);
		CHECK_EQ(e->be.nrecs, 0);
	}

	/* The backend fails a write; refuses one outright: counted, completed anyway. */
	len = data_msg(m, f[1], 80, 0, 0, 0, 0);
	memcpy(section(e, 1), m, len);
	e->be.done_res = -EIO;
	send_section(e, 0, 1, len, NVSP_RMC_DATA);
	e->be.done_res = 0;
	e->be.send_ret = -EBUSY;
	send_section(e, 0, 1, len, NVSP_RMC_DATA);
	netvsp_kick(e->n, 0);
	e->be.send_ret = 0;
	take(e, 0, VM_PKT_COMP, &p);
	take(e, 0, VM_PKT_COMP, &p);
	CHECK_EQ(stats(e).rndis.tx_errors, 2);

	/* Backpressure: at most 128 packets at the backend; the rest wait in the ring. */
	be_clear(&e->be);
	e->be.defer = true;
	len = data_msg(m, f[1], 60, 0, 0, 0, 0);
	memcpy(section(e, 1), m, len);
	for (int i = 0; i < 130; i++)
		send_section(e, 0, 1, len, NVSP_RMC_DATA);
	netvsp_kick(e->n, 0);
	CHECK_EQ(e->be.nrecs, 128);
	CHECK(gh(&e->up[0])->read_index != gh(&e->up[0])->write_index);
	CHECK(gh(&e->up[0])->interrupt_mask); /* no signals while we cannot take more */
	be_complete_all(&e->be);
	CHECK_EQ(e->be.nrecs, 130);
	be_complete_all(&e->be);
	for (int i = 0; i < 130; i++)
		take(e, 0, VM_PKT_COMP, &p);
	CHECK(nothing(e, 0));
	CHECK_EQ(gh(&e->up[0])->read_index, gh(&e->up[0])->write_index);
	CHECK_EQ(stats(e).tx_requests, 1 + 1 + 1 + 2 + 130);
	env_free(e);
}

/* netvsp_receive, then the transfer-page packet on channel ch; returns its RNDIS message. */
static const uint8_t *rx_one(struct env *e, unsigned ch, uint8_t *frame, uint32_t len,
			     uint8_t vflags, struct hpkt *p)
{
	struct virtio_net_hdr_v1 vh;

	memset(&vh, 0, sizeof(vh));
	vh.flags = vflags;
	CHECK(netvsp_receive(e->n, 0, &vh, frame, len));
	if (!take(e, ch, VM_PKT_DATA_USING_XFER_PAGES, p))
		return NULL;
	CHECK_EQ(u32_at(p->data, 4), NVSP_RMC_DATA);
	return xfer_bytes(e, p);
}

/* A per-packet info of type in an RNDIS data message, or NULL. */
static const uint8_t *ppi(const uint8_t *msg, uint32_t type)
{
	uint32_t off = 8 + u32_at(msg, 8 + 20), len = u32_at(msg, 8 + 24);

	while (len >= 12) {
		uint32_t size = u32_at(msg, off);

		if (u32_at(msg, off + 4) == type)
			return msg + off + u32_at(msg, off + 8);
		if (size < 12 || size > len)
			return NULL;
		off += size;
		len -= size;
	}
	return NULL;
}

static void test_rx(void)
{
	struct env *e = env_new(NVPS, 2, 0);
	uint8_t f[2000];
	const uint8_t *msg;
	struct hpkt p[6];
	struct virtio_net_hdr_v1 vh;
	uint32_t len, sub;
	uint64_t tids[4];

	/* Before anything is set up: dropped, counted. */
	memset(&vh, 0, sizeof(vh));
	len = tcp4_frame(f, MAC, 0x0a000002, 0x0a000001, 80, 1000, 100);
	CHECK(netvsp_receive(e->n, 0, &vh, f, len));
	CHECK_EQ(stats(e).rndis.rx_no_buffer, 1);

	sub = bring_up(e, NVSP_PROTOCOL_VERSION_61, 2); /* 2 pages: 4 slots */
	CHECK_EQ(8192 / sub, 4);
	/* A frame with a partial checksum: completed here, reported to the guest. */
	{
		struct net_headers h;
		uint32_t s;

		CHECK_EQ(netvsp_parse_headers(f, len, len, false, &h), 0);
		s = netvsp_pseudo_sum(f, &h, len - 34);
		f[50] = (uint8_t)(netvsp_csum_fold(s) >> 8);
		f[51] = (uint8_t)netvsp_csum_fold(s);
		vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.csum_start = 34;
		vh.csum_offset = 16;
		CHECK(netvsp_receive(e->n, 0, &vh, f, len));
		take(e, 0, VM_PKT_DATA_USING_XFER_PAGES, &p[0]);
		msg = xfer_bytes(e, &p[0]);
		CHECK_EQ(u32_at(msg, 0), RNDIS_MSG_PACKET);
		CHECK_EQ(u32_at(msg, 4), p[0].range_count);
		CHECK_EQ(u32_at(msg, 12), len);
		CHECK(memcmp(msg + 8 + u32_at(msg, 8), f, len) == 0);
		CHECK(ppi(msg, TCPIP_CHKSUM_PKTINFO) != NULL);
		if (ppi(msg, TCPIP_CHKSUM_PKTINFO))
			CHECK_EQ(u32_at(ppi(msg, TCPIP_CHKSUM_PKTINFO), 0),
				 NDIS_RXCSUM_INFO_TCP_SUCCEEDED);
		CHECK(ppi(msg, NBL_HASH_VALUE) == NULL); /* RSS is off */
		CHECK(p[0].range_offset % sub == 0);
		CHECK(p[0].range_count <= sub);
		tids[0] = p[0].tid;
	}
	/* Exhaust the 3 slots frames may use (one of the 4 is kept for control answers): the 4th
	 * frame waits (backpressure). */
	for (int i = 1; i < 3; i++) {
		len = eth_frame(f, 100 + (uint32_t)i, (uint8_t)i);
		msg = rx_one(e, 0, f, len, 0, &p[i]);
		tids[i] = p[i].tid;
		CHECK(msg && ppi(msg, TCPIP_CHKSUM_PKTINFO) == NULL);
	}
	memset(&vh, 0, sizeof(vh));
	CHECK(!netvsp_receive(e->n, 0, &vh, f, len));
	CHECK_EQ(stats(e).rx_backpressure, 1);
	CHECK_EQ(e->be.resumes, 0);
	/* Completions out of order; an unknown id and a duplicate are counted and ignored. */
	complete_rx(e, 0, tids[2]);
	complete_rx(e, 0, 0x123456789ull);
	complete_rx(e, 0, tids[2]);
	netvsp_kick(e->n, 0);
	CHECK_EQ(stats(e).bad_completions, 2);
	CHECK_EQ(e->be.resumes, 1); /* a slot came back: the backend offers the frame again */
	msg = rx_one(e, 0, f, len, 0, &p[4]);
	CHECK(p[4].range_offset == p[2].range_offset); /* the freed slot, reused */
	CHECK(!netvsp_receive(e->n, 0, &vh, f, len));
	/* The kept slot still serves a control request while frames wait. */
	CHECK_EQ(rndis_query_u32(e, OID_GEN_MAXIMUM_FRAME_SIZE), 1500);
	complete_rx(e, 0, tids[0]);
	complete_rx(e, 0, tids[1]);
	complete_rx(e, 0, p[4].tid);
	netvsp_kick(e->n, 0);
	CHECK_EQ(e->be.resumes, 2);

	/* Filtered: unicast to another address; too big for a slot; a GSO frame. */
	len = tcp4_frame(f, (const uint8_t[6]){0x00, 0x15, 0x5d, 0, 0, 9}, 1, 2, 3, 4, 10);
	CHECK(netvsp_receive(e->n, 0, &vh, f, len));
	CHECK_EQ(stats(e).rx_filtered, 1);
	len = eth_frame(f, sub, 0);
	CHECK(netvsp_receive(e->n, 0, &vh, f, len));
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	CHECK(netvsp_receive(e->n, 0, &vh, f, 100));
	CHECK_EQ(stats(e).rndis.rx_errors, 2);
	CHECK(nothing(e, 0));
	CHECK_EQ(stats(e).rndis.rx_bcast_pkts, 3);
	CHECK_EQ(stats(e).rndis.rx_ucast_pkts, 1);

	/* HALT: data stops (no completion for HALT); frames are dropped. */
	{
		uint32_t m[3] = {RNDIS_MSG_HALT, 12, 77};

		memcpy(section(e, 0), m, sizeof(m));
		send_section(e, 0, 0, sizeof(m), NVSP_RMC_CONTROL);
		netvsp_kick(e->n, 0);
		take(e, 0, VM_PKT_COMP, p); /* only the NVSP completion: HALT has no answer */
		CHECK_EQ(u32_at(p[0].data, 4), NVSP_STAT_SUCCESS);
		memset(&vh, 0, sizeof(vh));
		len = eth_frame(f, 80, 1);
		CHECK(netvsp_receive(e->n, 0, &vh, f, len));
		CHECK(nothing(e, 0));
	}
	env_free(e);
}

static void test_link(void)
{
	struct env *e = env_new(NVPS, 64, 0);
	struct hpkt p;
	uint8_t f[200], m[300];
	uint32_t len;

	/* Before the guest is up: nothing is sent, the state is kept for its query. */
	netvsp_set_link(e->n, false);
	CHECK(nothing(e, 0));
	bring_up(e, NVSP_PROTOCOL_VERSION_5, 64);
	CHECK_EQ(rndis_query_u32(e, OID_GEN_MEDIA_CONNECT_STATUS), NDIS_MEDIA_STATE_DISCONNECTED);
	/* While down, frames are dropped both ways. */
	len = eth_frame(f, 90, 0);
	{
		struct virtio_net_hdr_v1 vh;

		memset(&vh, 0, sizeof(vh));
		CHECK(netvsp_receive(e->n, 0, &vh, f, len));
		CHECK(nothing(e, 0));
	}
	len = data_msg(m, f, len, 0, 0, 0, 0);
	memcpy(section(e, 1), m, len);
	send_section(e, 0, 1, len, NVSP_RMC_DATA);
	netvsp_kick(e->n, 0);
	take(e, 0, VM_PKT_COMP, &p);
	CHECK_EQ(e->be.nrecs, 0);
	/* Up: RNDIS_STATUS_MEDIA_CONNECT through the receive buffer. */
	netvsp_set_link(e->n, true);
	take(e, 0, VM_PKT_DATA_USING_XFER_PAGES, &p);
	CHECK_EQ(u32_at(p.data, 4), NVSP_RMC_CONTROL);
	CHECK_EQ(u32_at(xfer_bytes(e, &p), 0), RNDIS_MSG_INDICATE);
	CHECK_EQ(u32_at(xfer_bytes(e, &p), 8), RNDIS_STATUS_MEDIA_CONNECT);
	complete_rx(e, 0, p.tid);
	netvsp_set_link(e->n, true); /* no change: nothing */
	netvsp_set_link(e->n, false);
	take(e, 0, VM_PKT_DATA_USING_XFER_PAGES, &p);
	CHECK_EQ(u32_at(xfer_bytes(e, &p), 8), RNDIS_STATUS_MEDIA_DISCONNECT);
	CHECK_EQ(rndis_query_u32(e, OID_GEN_MEDIA_CONNECT_STATUS), NDIS_MEDIA_STATE_DISCONNECTED);
	/* A frame still at the backend when everything goes away: its request is freed at
	 * destroy (the backend never completes it; the leak checker watches). */
	netvsp_set_link(e->n, true);
	take(e, 0, VM_PKT_DATA_USING_XFER_PAGES, &p);
	e->be.defer = true;
	send_section(e, 0, 1, len, NVSP_RMC_DATA);
	netvsp_kick(e->n, 0);
	CHECK_EQ(e->be.npending, 1);
	CHECK(nothing(e, 0));
	e->be.npending = 0;
	env_free(e);
}

static void test_subchannels_rss(void)
{
	struct env *e = env_new(NVPS, 64, 0);
	struct nvsp_message m;
	struct hpkt p;
	uint8_t obj[800];
	uint32_t counts[NVPS] = {0};

	bring_up(e, NVSP_PROTOCOL_VERSION_61, 64);
	/* Linux asks for num_chn - 1; more than the VPs allow is capped at nvps - 1. */
	memset(&m, 0, sizeof(m));
	m.hdr.msg_type = NVSP_MSG5_TYPE_SUBCHANNEL;
	m.msg.subchn_req.op = NVSP_SUBCHANNEL_ALLOCATE;
	m.msg.subchn_req.num_subchannels = 7;
	CHECK_EQ(nvsp_call(e, &m, NVSP_MSG5_TYPE_SUBCHANNEL, &p), NVSP_STAT_SUCCESS);
	CHECK_EQ(u32_at(p.data, 8), NVPS - 1);
	CHECK_EQ(vmbus_device_channel_count(netvsp_vmbus_device(e->n)), NVPS);
	m.msg.subchn_req.op = 7;
	CHECK_EQ(nvsp_call(e, &m, NVSP_MSG5_TYPE_SUBCHANNEL, &p), NVSP_STAT_FAIL);
	/* The table comes once every subchannel is open. */
	for (unsigned ch = 1; ch < NVPS; ch++) {
		CHECK(nothing(e, 0));
		open_chan(e, ch);
	}
	take(e, 0, VM_PKT_DATA_INBAND, &p);
	CHECK_EQ(p.flags, 0);
	CHECK_EQ(p.data_len, 80);
	CHECK_EQ(u32_at(p.data, 0), NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE);
	CHECK_EQ(u32_at(p.data, 4), VRSS_SEND_TAB_SIZE);
	CHECK_EQ(u32_at(p.data, 8), 12);
	for (unsigned i = 0; i < VRSS_SEND_TAB_SIZE; i++)
		CHECK_EQ(u32_at(p.data, 12 + 4 * i), i % NVPS);

	/* RSS on, as Linux sets it: the Toeplitz key, a 128-entry table of i % 4. */
	{
		struct ndis_recv_scale_param rp;
		uint32_t all = NDIS_HASH_FUNC_TOEPLITZ | NDIS_HASH_IPV4 | NDIS_HASH_TCP_IPV4 |
			       NDIS_HASH_IPV6 | NDIS_HASH_TCP_IPV6;

		memset(&rp, 0, sizeof(rp));
		rp.hdr.type = NDIS_OBJECT_TYPE_RSS_PARAMETERS;
		rp.hdr.revision = 2;
		rp.hdr.size = 40;
		rp.hashinfo = all;
		rp.indirect_tabsize = 512;
		rp.indirect_taboffset = 40;
		rp.hashkey_size = 40;
		rp.hashkey_offset = 40 + 512;
		memcpy(obj, &rp, 40);
		for (uint32_t i = 0; i < 128; i++)
			memcpy(obj + 40 + 4 * i, &(uint32_t){i % NVPS}, 4);
		memcpy(obj + 552, MS_KEY, 40);
		CHECK_EQ(rndis_set(e, OID_GEN_RECEIVE_SCALE_PARAMETERS, obj, 592),
			 RNDIS_STATUS_SUCCESS);
	}
	/* Frames land on the channel the table picks for their hash, with the hash. */
	for (uint16_t port = 1000; port < 1040; port++) {
		uint8_t f[200];
		uint32_t len = tcp4_frame(f, MAC, 0xc0a80001, 0xc0a80002, port, 443, 20);
		uint32_t hash, type;
		unsigned ch;
		const uint8_t *msg;

		CHECK(netvsp_rss_hash(MS_KEY, NDIS_HASH_TCP_IPV4, f, len, &hash, &type));
		ch = (hash % 128) % NVPS;
		msg = rx_one(e, ch, f, len, 0, &p);
		if (!msg)
			continue;
		CHECK(ppi(msg, NBL_HASH_VALUE) != NULL);
		if (ppi(msg, NBL_HASH_VALUE))
			CHECK_EQ(u32_at(ppi(msg, NBL_HASH_VALUE), 0), hash);
		if (ppi(msg, NBL_HASH_INFO))
			CHECK_EQ(u32_at(ppi(msg, NBL_HASH_INFO), 0),
				 NDIS_HASH_FUNC_TOEPLITZ | NDIS_HASH_TCP_IPV4);
		complete_rx(e, ch, p.tid); /* completions come back on the same channel */
		netvsp_kick(e->n, ch);
		counts[ch]++;
	}
	for (unsigned ch = 0; ch < NVPS; ch++)
		CHECK(counts[ch] > 0);
	CHECK_EQ(stats(e).bad_completions, 0);

	/* Transmit on a subchannel goes to backend queue index % queues, completes there. */
	{
		uint8_t f[100], msgbuf[300];
		uint32_t len = data_msg(msgbuf, f, eth_frame(f, 64, 3), 0, 0, 0, 0);

		memcpy(section(e, 4), msgbuf, len);
		send_section(e, 3, 4, len, NVSP_RMC_DATA);
		netvsp_kick(e->n, 3);
		CHECK_EQ(e->be.nrecs, 1);
		CHECK_EQ(e->be.recs[0].queue, 3 % 2);
		take(e, 3, VM_PKT_COMP, &p);
	}
	/* A closed subchannel: its frames go to the primary. */
	close_chan(e, 2);
	for (uint16_t port = 1000; port < 1040; port++) {
		uint8_t f[200];
		uint32_t len = tcp4_frame(f, MAC, 0xc0a80001, 0xc0a80002, port, 443, 20);
		uint32_t hash, type;

		CHECK(netvsp_rss_hash(MS_KEY, NDIS_HASH_TCP_IPV4, f, len, &hash, &type));
		if ((hash % 128) % NVPS != 2)
			continue;
		rx_one(e, 0, f, len, 0, &p);
		complete_rx(e, 0, p.tid);
		netvsp_kick(e->n, 0);
		break;
	}
	env_free(e);
}

static void test_rndis_errors_and_rings(void)
{
	struct env *e = env_new(NVPS, 64, 0);
	struct hpkt p;
	uint8_t out[1024];

	bring_up(e, NVSP_PROTOCOL_VERSION_61, 64);
	/* An RNDIS message longer than its section: completion INVALID_RNDIS_PKT, no answer. */
	{
		uint32_t q[7] = {RNDIS_MSG_QUERY, 200, 5, OID_GEN_LINK_SPEED, 0, 20, 0};

		memcpy(section(e, 0), q, sizeof(q));
		send_section(e, 0, 0, sizeof(q), NVSP_RMC_CONTROL);
		netvsp_kick(e->n, 0);
		take(e, 0, VM_PKT_COMP, &p);
		CHECK_EQ(u32_at(p.data, 4), NVSP_STAT_INVALID_RNDIS_PKT);
		CHECK_EQ(stats(e).rndis.bad_control, 1);
	}
	/* An unknown OID: NOT_SUPPORTED, counted. */
	{
		uint32_t q[7] = {RNDIS_MSG_QUERY, 28, 5, 0x0fff0123, 0, 20, 0};

		CHECK_EQ(rndis_call(e, q, sizeof(q), out), 24);
		CHECK_EQ(u32_at(out, 12), RNDIS_STATUS_NOT_SUPPORTED);
		CHECK_EQ(stats(e).rndis.unknown_oids, 1);
	}
	/* A few OIDs Linux asks through the whole path. */
	CHECK_EQ(rndis_query_u32(e, OID_GEN_MAXIMUM_FRAME_SIZE), 1500);
	CHECK_EQ(rndis_query_u32(e, OID_GEN_MEDIA_CONNECT_STATUS), NDIS_MEDIA_STATE_CONNECTED);
	{
		uint32_t q[7] = {RNDIS_MSG_QUERY, 28, 6, OID_802_3_PERMANENT_ADDRESS, 0, 20, 0};

		CHECK_EQ(rndis_call(e, q, sizeof(q), out), 30);
		CHECK(memcmp(out + 24, MAC, 6) == 0);
	}
	/* A packet of a type the guest never sends; one larger than any valid packet. */
	{
		uint8_t pkt[24];
		struct vmtransfer_page_packet_header x;

		memset(&x, 0, sizeof(x));
		x.d.type = VM_PKT_DATA_USING_XFER_PAGES;
		x.d.offset8 = 3;
		x.d.len8 = 3;
		memcpy(pkt, &x, 24);
		gring_write(&e->up[0], pkt, 24);
		netvsp_kick(e->n, 0);
		CHECK_EQ(stats(e).nvsp_errors, 1);
	}
	{
		static uint8_t big[9000];
		struct vmpacket_descriptor d = {VM_PKT_DATA_INBAND, 2, 9000 / 8, 0, 1};

		memcpy(big, &d, 16);
		gring_write(&e->up[0], big, 9000);
		netvsp_kick(e->n, 0);
		CHECK_EQ(stats(e).oversized_packets, 1);
	}
	/* The guest stops reading: completions queue up, and go out when it reads again. A
	 * channel with a 12 KiB ring toward the guest; each refused receive buffer's completion
	 * takes 64 bytes of it. */
	close_chan(e, 0);
	open_chan_split(e, 0, 13);
	CHECK_EQ(nvsp_init(e, NVSP_PROTOCOL_VERSION_61), NVSP_STAT_SUCCESS);
	CHECK_EQ(recv_buf(e, RECV_GPADL, &p), NVSP_STAT_SUCCESS);
	{
		struct hv_ring_buffer *dh = gh(&e->down[0]);
		uint32_t sent = 0;
		struct nvsp_message km;

		memset(&km, 0, sizeof(km));
		km.hdr.msg_type = NVSP_MSG1_TYPE_SEND_RECV_BUF;
		km.msg.send_recv_buf.gpadl_handle = RECV_GPADL;
		while (gring_free(&e->up[0]) > 200 && sent < 400) {
			send_nvsp(e, 0, &km, true);
			sent++;
		}
		netvsp_kick(e->n, 0);
		CHECK(gring_free(&e->down[0]) <= 64); /* full: a 64-byte packet no longer fits */
		CHECK(dh->pending_send_sz > 0);        /* we asked to be told about space */
		CHECK(gring_free(&e->up[0]) < e->up[0].size); /* and stopped taking requests */
		for (uint32_t i = 0; i < sent; i++) {
			/* The guest's signal when it read enough (pending_send_sz crossed). */
			if (gring_free(&e->down[0]) > dh->pending_send_sz && dh->pending_send_sz)
				netvsp_kick(e->n, 0);
			if (!take(e, 0, VM_PKT_COMP, &p))
				break;
			CHECK_EQ(u32_at(p.data, 0), NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE);
		}
		netvsp_kick(e->n, 0);
		CHECK(nothing(e, 0));
	}
	/* A malformed ring: the channel stops, the VMM carries on. */
	gh(&e->up[0])->write_index = 3;
	netvsp_kick(e->n, 0);
	CHECK_EQ(stats(e).ring_errors, 1);
	netvsp_kick(e->n, 0);
	CHECK_EQ(stats(e).ring_errors, 1);
	{
		struct virtio_net_hdr_v1 vh;
		uint8_t f[100];

		memset(&vh, 0, sizeof(vh));
		CHECK(netvsp_receive(e->n, 0, &vh, f, eth_frame(f, 80, 0)));
	}
	/* Closing and reopening brings the channel back. */
	close_chan(e, 0);
	open_chan(e, 0);
	CHECK_EQ(nvsp_init(e, NVSP_PROTOCOL_VERSION_2), NVSP_STAT_SUCCESS);
	env_free(e);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	test_rxbuf();
	test_versions();
	test_buffers_and_order();
	test_tx();
	test_rx();
	test_link();
	test_subchannels_rss();
	test_rndis_errors_and_rings();
	return unit_done("test_netvsp");
}
