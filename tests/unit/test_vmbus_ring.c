/* VMBus ring buffers, host side: packets of each type both ways, wrap-around at every offset,
 * full and empty rings, malformed rings, and both signalling protocols, against a test-side guest
 * that behaves as Linux's drivers/hv/ring_buffer.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "src/vmbus/ring.h"
#include "unit.h"

#define PG 4096u
#define RAM_PAGES 64u

static uint8_t ram[RAM_PAGES * PG] __attribute__((aligned(4096)));
static struct guest_mem mem;

static void reset_ram(void)
{
	memset(ram, 0, sizeof(ram));
	guest_mem_init_fake(&mem, ram, sizeof(ram));
}

/* ---- The guest's side of one ring, as Linux does it ---- */

struct gring {
	struct hv_ring_buffer *hdr;
	uint8_t *data[16];
	uint32_t size;
	uint32_t priv_read; /* Linux priv_read_index when this side reads */
};

static void gring_init(struct gring *g, const uint64_t *pfns, unsigned npages)
{
	g->hdr = (struct hv_ring_buffer *)(ram + pfns[0] * PG);
	for (unsigned i = 1; i < npages; i++)
		g->data[i - 1] = ram + pfns[i] * PG;
	g->size = (npages - 1) * PG;
	g->priv_read = g->hdr->read_index;
}

/* Linux hv_ringbuffer_init: indices and feature bit set before the channel opens. */
static void gring_setup(const uint64_t *pfns, uint32_t index)
{
	struct hv_ring_buffer *h = (struct hv_ring_buffer *)(ram + pfns[0] * PG);

	h->read_index = index;
	h->write_index = index;
	h->feature_bits = VMBUS_RING_FEAT_PENDING_SEND_SZ;
}

static uint32_t g_copy_in(struct gring *g, uint32_t off, const void *src, uint32_t len)
{
	const uint8_t *s = src;

	for (uint32_t i = 0; i < len; i++) {
		g->data[off / PG][off % PG] = s[i];
		off = (off + 1) % g->size;
	}
	return off;
}

static uint32_t g_copy_out(struct gring *g, uint32_t off, void *dst, uint32_t len)
{
	uint8_t *d = dst;

	for (uint32_t i = 0; i < len; i++) {
		d[i] = g->data[off / PG][off % PG];
		off = (off + 1) % g->size;
	}
	return off;
}

static uint32_t g_bytes_to_write(const struct gring *g)
{
	uint32_t w = g->hdr->write_index, r = g->hdr->read_index;

	return w >= r ? g->size - (w - r) : r - w;
}

/* hv_ringbuffer_write + hv_signal_on_write: len bytes of packet (a multiple of 8), trailer. */
static int g_send(struct gring *g, const void *pkt, uint32_t len, bool *signal)
{
	uint32_t total = len + 8, old = g->hdr->write_index, off;
	uint64_t trailer = (uint64_t)old << 32;

	if (g_bytes_to_write(g) <= total)
		return -EAGAIN;
	off = g_copy_in(g, old, pkt, len);
	off = g_copy_in(g, off, &trailer, 8);
	g->hdr->write_index = off;
	*signal = !g->hdr->interrupt_mask && g->hdr->read_index == old;
	return 0;
}

/* hv_pkt_iter_first/next: copies the next packet (descriptor included) out, steps priv_read. */
static int g_recv(struct gring *g, void *buf, uint32_t *len)
{
	struct vmpacket_descriptor d;
	uint32_t w = g->hdr->write_index;
	uint32_t avail = w >= g->priv_read ? w - g->priv_read : g->size - g->priv_read + w;

	if (avail < sizeof(d))
		return -EAGAIN;
	g_copy_out(g, g->priv_read, &d, sizeof(d));
	*len = d.len8 * 8u;
	g_copy_out(g, g->priv_read, buf, *len);
	g->priv_read = (g->priv_read + *len + 8) % g->size;
	return 0;
}

/* hv_pkt_iter_close: publish read_index; signal the host if free space crossed pending_send_sz. */
static bool g_close(struct gring *g)
{
	uint32_t start = g->hdr->read_index, pending, cur, read;

	g->hdr->read_index = g->priv_read;
	if (!(g->hdr->feature_bits & VMBUS_RING_FEAT_PENDING_SEND_SZ))
		return false;
	pending = g->hdr->pending_send_sz;
	if (!pending)
		return false;
	cur = g_bytes_to_write(g);
	read = g->priv_read >= start ? g->priv_read - start : g->size - start + g->priv_read;
	if (cur - read > pending)
		return false;
	return cur > pending;
}

/* Builds a packet in buf: descriptor, ext bytes, payload, zero padding. Returns its length. */
static uint32_t build(uint8_t *buf, uint16_t type, uint16_t flags, uint64_t tid, const void *ext,
		      uint32_t ext_len, const void *payload, uint32_t plen)
{
	uint32_t hdr = 16 + ext_len, len = hdr + ((plen + 7) & ~7u);
	struct vmpacket_descriptor d = {
		.type = type, .offset8 = hdr / 8, .len8 = len / 8, .flags = flags, .trans_id = tid};

	memset(buf, 0, len);
	memcpy(buf, &d, sizeof(d));
	if (ext_len)
		memcpy(buf + 16, ext, ext_len);
	if (plen)
		memcpy(buf + hdr, payload, plen);
	return len;
}

static void pattern(uint8_t *p, uint32_t len, uint32_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + 1);
}

static const uint64_t in2[] = {3, 7};             /* 2-page ring: 4096 data bytes */
static const uint64_t in4[] = {1, 9, 4, 12};      /* header + 3 scattered data pages */
static const uint64_t out2[] = {20, 21};
static const uint64_t out4[] = {30, 40, 33, 35};

static uint64_t bufq[(VMBUS_PKT_MAX_LEN + 8) / 8]; /* 8-aligned packet buffers */
static uint64_t gbufq[(VMBUS_PKT_MAX_LEN + 8) / 8];
static const uint8_t zeros[4096];
#define BUF ((uint8_t *)bufq)
#define GBUF ((uint8_t *)gbufq)

/* ---- init ---- */

static void test_init(void)
{
	struct vmbus_ring r, in, out;
	uint64_t pf[4] = {1, 2, 3, 4};
	uint64_t chan[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct hv_ring_buffer *h;

	reset_ram();
	CHECK_EQ(vmbus_ring_init(&r, VMBUS_RING_INBOUND, &mem, pf, 0), -EINVAL);
	CHECK_EQ(vmbus_ring_init(&r, VMBUS_RING_INBOUND, &mem, pf, 1), -EINVAL);
	CHECK_EQ(vmbus_ring_init(&r, VMBUS_RING_INBOUND, &mem, pf, VMBUS_RING_MAX_PAGES + 1), -EINVAL);
	pf[2] = RAM_PAGES; /* first page past RAM */
	CHECK_EQ(vmbus_ring_init(&r, VMBUS_RING_INBOUND, &mem, pf, 4), -EFAULT);
	pf[2] = UINT64_MAX; /* pfn * 4096 overflows */
	CHECK_EQ(vmbus_ring_init(&r, VMBUS_RING_OUTBOUND, &mem, pf, 4), -EFAULT);
	pf[2] = (GUEST_MEM_4G / PG); /* above 4G: no high RAM in the fake */
	CHECK_EQ(vmbus_ring_init(&r, VMBUS_RING_OUTBOUND, &mem, pf, 4), -EFAULT);
	pf[2] = 3;
	pf[0] = RAM_PAGES - 1 + 1000000; /* the header page too */
	CHECK_EQ(vmbus_ring_init(&r, VMBUS_RING_INBOUND, &mem, pf, 4), -EFAULT);
	pf[0] = 1;

	h = (struct hv_ring_buffer *)(ram + PG);
	h->read_index = 4; /* misaligned */
	CHECK_EQ(vmbus_ring_init(&r, VMBUS_RING_INBOUND, &mem, pf, 4), -EBADMSG);
	h->read_index = 3 * PG; /* == data size */
	CHECK_EQ(vmbus_ring_init(&r, VMBUS_RING_INBOUND, &mem, pf, 4), -EBADMSG);
	h->read_index = 3 * PG - 8;
	CHECK_EQ(vmbus_ring_init(&r, VMBUS_RING_INBOUND, &mem, pf, 4), 0);
	CHECK_EQ(r.data_size, 3 * PG);
	CHECK_EQ(r.priv_index, 3 * PG - 8);
	CHECK(r.hdr == h);
	vmbus_ring_destroy(&r);
	h->write_index = 0x10000;
	CHECK_EQ(vmbus_ring_init(&r, VMBUS_RING_OUTBOUND, &mem, pf, 4), -EBADMSG);
	h->write_index = 64;
	h->pending_send_sz = 1234;
	h->feature_bits = 0;
	CHECK_EQ(vmbus_ring_init(&r, VMBUS_RING_OUTBOUND, &mem, pf, 4), 0);
	CHECK_EQ(r.priv_index, 64);
	CHECK_EQ(h->pending_send_sz, 0);
	CHECK_EQ(h->feature_bits, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	vmbus_ring_destroy(&r);

	/* a channel's GPADL: upstream (our inbound) first, downstream from the page offset */
	reset_ram();
	CHECK_EQ(vmbus_ring_init_channel(&in, &out, &mem, chan, 8, 0), -EINVAL);
	CHECK_EQ(vmbus_ring_init_channel(&in, &out, &mem, chan, 8, 1), -EINVAL);
	CHECK_EQ(vmbus_ring_init_channel(&in, &out, &mem, chan, 8, 7), -EINVAL);
	CHECK_EQ(vmbus_ring_init_channel(&in, &out, &mem, chan, 8, 8), -EINVAL);
	CHECK_EQ(vmbus_ring_init_channel(&in, &out, &mem, chan, 8, 9), -EINVAL);
	CHECK_EQ(vmbus_ring_init_channel(&in, &out, &mem, chan, 8, 3), 0);
	CHECK_EQ(in.dir, VMBUS_RING_INBOUND);
	CHECK_EQ(out.dir, VMBUS_RING_OUTBOUND);
	CHECK(in.hdr == (struct hv_ring_buffer *)(ram + 1 * PG));
	CHECK(out.hdr == (struct hv_ring_buffer *)(ram + 4 * PG));
	CHECK_EQ(in.data_size, 2 * PG);
	CHECK_EQ(out.data_size, 4 * PG);
	CHECK_EQ(in.hdr->feature_bits, 0); /* the guest's to set on its own ring */
	CHECK_EQ(out.hdr->feature_bits, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	vmbus_ring_destroy(&in);
	vmbus_ring_destroy(&out);
	chan[6] = RAM_PAGES; /* bad page in the downstream part */
	CHECK_EQ(vmbus_ring_init_channel(&in, &out, &mem, chan, 8, 3), -EFAULT);
	CHECK(in.pages == NULL); /* the inbound ring was undone */
	CHECK_EQ(vmbus_packet_ring_bytes(0, 0), 24);
	CHECK_EQ(vmbus_packet_ring_bytes(0, 1), 32);
	CHECK_EQ(vmbus_packet_ring_bytes(8, 1000), 1032);
	CHECK_EQ(vmbus_packet_ring_bytes(0, UINT64_MAX), UINT32_MAX);
}

/* ---- guest -> host ---- */

static void test_inbound_types(void)
{
	struct vmbus_ring r;
	struct gring g;
	struct vmbus_packet pkt;
	uint8_t payload[64], p[256];
	uint32_t len, w_before;
	bool sig;

	reset_ram();
	gring_setup(in4, 0);
	gring_init(&g, in4, 4);
	CHECK_EQ(vmbus_ring_init(&r, VMBUS_RING_INBOUND, &mem, in4, 4), 0);
	pattern(payload, sizeof(payload), 1);

	/* inband, completion requested, payload padded to 8 */
	len = build(p, VM_PKT_DATA_INBAND, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, 0x1122334455667788ull,
		    NULL, 0, payload, 13);
	CHECK_EQ(g_send(&g, p, len, &sig), 0);
	CHECK(sig); /* empty ring, unmasked */
	CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), 0);
	CHECK_EQ(pkt.type, VM_PKT_DATA_INBAND);
	CHECK_EQ(pkt.flags, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
	CHECK(pkt.trans_id == 0x1122334455667788ull);
	CHECK_EQ(pkt.len, 32);
	CHECK_EQ(pkt.data_len, 16);
	CHECK(pkt.data == BUF + 16);
	CHECK(memcmp(pkt.data, payload, 13) == 0);
	CHECK_EQ(pkt.range_count, 0);
	/* peeking again gives the same packet */
	CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), 0);
	CHECK_EQ(pkt.len, 32);
	vmbus_ring_consume(&r);
	CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), -EAGAIN);
	CHECK_EQ(g.hdr->read_index, 0); /* not published yet */
	CHECK(!vmbus_ring_commit_read(&r));
	CHECK_EQ(g.hdr->read_index, 40);
	CHECK(!vmbus_ring_commit_read(&r)); /* nothing new */

	/* completion */
	len = build(p, VM_PKT_COMP, 0, 77, NULL, 0, payload, 24);
	CHECK_EQ(g_send(&g, p, len, &sig), 0);
	CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), 0);
	CHECK_EQ(pkt.type, VM_PKT_COMP);
	CHECK_EQ(pkt.flags, 0);
	CHECK_EQ(pkt.trans_id, 77);
	CHECK_EQ(pkt.data_len, 24);
	CHECK(memcmp(pkt.data, payload, 24) == 0);
	vmbus_ring_consume(&r);

	/* transfer pages */
	{
		uint8_t ext[8 + 3 * 8];
		struct vmtransfer_page_range ranges[3] = {{100, 0}, {200, 4096}, {1, 8191}};

		ext[0] = 0xfe;
		ext[1] = 0xca;
		ext[2] = 1;
		ext[3] = 0;
		memcpy(ext + 4, &(uint32_t){3}, 4);
		memcpy(ext + 8, ranges, sizeof(ranges));
		len = build(p, VM_PKT_DATA_USING_XFER_PAGES, 1, 5, ext, sizeof(ext), payload, 8);
		CHECK_EQ(g_send(&g, p, len, &sig), 0);
		CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), 0);
		CHECK_EQ(pkt.type, VM_PKT_DATA_USING_XFER_PAGES);
		CHECK_EQ(pkt.xfer_pageset_id, 0xcafe);
		CHECK_EQ(pkt.sender_owns_set, 1);
		CHECK_EQ(pkt.range_count, 3);
		CHECK_EQ(pkt.xfer_ranges[1].byte_count, 200);
		CHECK_EQ(pkt.xfer_ranges[1].byte_offset, 4096);
		CHECK_EQ(pkt.xfer_ranges[2].byte_offset, 8191);
		CHECK_EQ(pkt.data_len, 8);
		CHECK(pkt.data == BUF + 16 + sizeof(ext));
		vmbus_ring_consume(&r);
	}

	/* GPA direct: two ranges, the first spanning three pages from offset 100 */
	{
		uint64_t ext[1 + 1 + 3 + 1 + 1];
		struct vmbus_packet_gpa_iter it;
		struct vmbus_packet_range gr;

		ext[0] = (uint64_t)2 << 32;                 /* reserved, range_cnt = 2 */
		ext[1] = 9000 | ((uint64_t)100 << 32);      /* byte_count, byte_offset */
		ext[2] = 0x1000;
		ext[3] = 0x2000;
		ext[4] = 0x3000;
		ext[5] = 4096;                              /* one whole page */
		ext[6] = 0xabcdef;
		len = build(p, VM_PKT_DATA_USING_GPA_DIRECT, 1, 9, ext, sizeof(ext), payload, 20);
		CHECK_EQ(g_send(&g, p, len, &sig), 0);
		CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), 0);
		CHECK_EQ(pkt.type, VM_PKT_DATA_USING_GPA_DIRECT);
		CHECK_EQ(pkt.range_count, 2);
		CHECK_EQ(pkt.gpa_ranges_len, sizeof(ext) - 8);
		CHECK_EQ(pkt.data_len, 24);
		CHECK(memcmp(pkt.data, payload, 20) == 0);
		vmbus_packet_gpa_iter_init(&it, &pkt);
		CHECK(vmbus_packet_gpa_iter_next(&it, &gr));
		CHECK_EQ(gr.byte_count, 9000);
		CHECK_EQ(gr.byte_offset, 100);
		CHECK_EQ(gr.pfn_count, 3);
		CHECK_EQ(gr.pfns[0], 0x1000);
		CHECK_EQ(gr.pfns[2], 0x3000);
		CHECK(vmbus_packet_gpa_iter_next(&it, &gr));
		CHECK_EQ(gr.byte_count, 4096);
		CHECK_EQ(gr.byte_offset, 0);
		CHECK_EQ(gr.pfn_count, 1);
		CHECK_EQ(gr.pfns[0], 0xabcdef);
		CHECK(!vmbus_packet_gpa_iter_next(&it, &gr));
		vmbus_ring_consume(&r);
	}

	/* several packets, one publication */
	w_before = g.hdr->read_index;
	for (int i = 0; i < 5; i++) {
		len = build(p, VM_PKT_DATA_INBAND, 0, i, NULL, 0, payload, 8 * i);
		CHECK_EQ(g_send(&g, p, len, &sig), 0);
		CHECK(!sig); /* not empty: the host has not published its read index */
	}
	for (int i = 0; i < 5; i++) {
		CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), 0);
		CHECK_EQ(pkt.trans_id, i);
		CHECK_EQ(pkt.data_len, 8 * i);
		vmbus_ring_consume(&r);
		CHECK_EQ(g.hdr->read_index, w_before);
	}
	CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), -EAGAIN);
	CHECK(!vmbus_ring_commit_read(&r));
	CHECK_EQ(g.hdr->read_index, g.hdr->write_index);

	/* wrong direction, misaligned buffer */
	CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF + 4, 4096), -EINVAL);
	{
		bool s;
		CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 0, NULL, 0, &s), -EINVAL);
		CHECK_EQ(vmbus_ring_set_pending_send(&r, 64), -EINVAL);
	}
	vmbus_ring_destroy(&r);
}

/* ---- host -> guest ---- */

static void test_outbound_types(void)
{
	struct vmbus_ring r;
	struct gring g;
	struct vmbus_packet pkt;
	uint8_t payload[64];
	uint32_t len;
	uint64_t trailer;
	bool sig;
	struct iovec iov[3];

	reset_ram();
	gring_setup(out4, 0);
	gring_init(&g, out4, 4);
	CHECK_EQ(vmbus_ring_init(&r, VMBUS_RING_OUTBOUND, &mem, out4, 4), 0);
	pattern(payload, sizeof(payload), 2);

	/* inband from three iovecs, 5 + 0 + 6 bytes: padded to 16 with zeros */
	iov[0] = (struct iovec){payload, 5};
	iov[1] = (struct iovec){NULL, 0};
	iov[2] = (struct iovec){payload + 5, 6};
	memset(GBUF, 0xff, 64);
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, 42, iov,
				  3, &sig), 0);
	CHECK(sig);
	CHECK_EQ(g.hdr->write_index, 40);
	CHECK_EQ(g_recv(&g, GBUF, &len), 0);
	CHECK_EQ(len, 32);
	CHECK_EQ(vmbus_packet_parse(GBUF, len, &pkt), 0);
	CHECK_EQ(pkt.type, VM_PKT_DATA_INBAND);
	CHECK_EQ(pkt.flags, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
	CHECK_EQ(pkt.trans_id, 42);
	CHECK_EQ(pkt.data_len, 16);
	CHECK(memcmp(pkt.data, payload, 11) == 0);
	CHECK(pkt.data[11] == 0 && pkt.data[15] == 0);
	g_copy_out(&g, 32, &trailer, 8);
	CHECK_EQ(trailer, 0); /* started at 0 */
	CHECK(!g_close(&g));

	/* completion helper; trailer carries the start index */
	CHECK_EQ(vmbus_ring_write_completion(&r, 0xdeadbeefcafeull, iov, 1, &sig), 0);
	CHECK(sig); /* the guest had read everything */
	CHECK_EQ(g_recv(&g, GBUF, &len), 0);
	CHECK_EQ(vmbus_packet_parse(GBUF, len, &pkt), 0);
	CHECK_EQ(pkt.type, VM_PKT_COMP);
	CHECK_EQ(pkt.flags, 0);
	CHECK(pkt.trans_id == 0xdeadbeefcafeull);
	CHECK_EQ(pkt.data_len, 8);
	g_copy_out(&g, 40 + len, &trailer, 8);
	CHECK(trailer == (uint64_t)40 << 32);
	CHECK(!g_close(&g));

	/* transfer pages, as netvsp sends received frames */
	{
		struct vmtransfer_page_range ranges[2] = {{1514, 0}, {60, 6144}};
		struct vmbus_xfer_pages xp = {.pageset_id = 0xcafe, .range_count = 2, .ranges = ranges};

		CHECK_EQ(vmbus_ring_write_xfer_pages(&r, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, 7, &xp,
						     iov, 1, &sig), 0);
		CHECK_EQ(g_recv(&g, GBUF, &len), 0);
		CHECK_EQ(len, 16 + 8 + 16 + 8);
		CHECK_EQ(vmbus_packet_parse(GBUF, len, &pkt), 0);
		CHECK_EQ(pkt.type, VM_PKT_DATA_USING_XFER_PAGES);
		CHECK_EQ(pkt.flags, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
		CHECK_EQ(pkt.xfer_pageset_id, 0xcafe);
		CHECK_EQ(pkt.sender_owns_set, 0);
		CHECK_EQ(pkt.range_count, 2);
		CHECK_EQ(pkt.xfer_ranges[0].byte_count, 1514);
		CHECK_EQ(pkt.xfer_ranges[1].byte_offset, 6144);
		CHECK_EQ(pkt.data_len, 8);
		CHECK(memcmp(pkt.data, payload, 5) == 0);
		CHECK(!g_close(&g));
		xp.range_count = 0; /* header only */
		CHECK_EQ(vmbus_ring_write_xfer_pages(&r, 0, 8, &xp, NULL, 0, &sig), 0);
		CHECK_EQ(g_recv(&g, GBUF, &len), 0);
		CHECK_EQ(len, 24);
		CHECK_EQ(vmbus_packet_parse(GBUF, len, &pkt), 0);
		CHECK_EQ(pkt.range_count, 0);
		CHECK_EQ(pkt.data_len, 0);
		CHECK(!g_close(&g));
		xp.range_count = 70000;
		CHECK_EQ(vmbus_ring_write_xfer_pages(&r, 0, 8, &xp, NULL, 0, &sig), -EMSGSIZE);
	}

	/* host mistakes */
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_USING_GPA_DIRECT, 0, 0, NULL, 0, &sig), -EINVAL);
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_USING_XFER_PAGES, 0, 0, NULL, 0, &sig), -EINVAL);
	CHECK_EQ(vmbus_ring_write(&r, 0, 0, 0, NULL, 0, &sig), -EINVAL);
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 2, 0, NULL, 0, &sig), -EINVAL);
	CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), -EINVAL);
	vmbus_ring_mask_interrupts(&r); /* the guest's mask on this ring: untouched */
	CHECK_EQ(g.hdr->interrupt_mask, 0);
	g.hdr->interrupt_mask = 1;
	CHECK(!vmbus_ring_unmask_interrupts(&r));
	CHECK_EQ(g.hdr->interrupt_mask, 1);
	g.hdr->interrupt_mask = 0;
	iov[0] = (struct iovec){BUF, 3 * PG - 24}; /* total == data size: never fits */
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 0, iov, 1, &sig), -EMSGSIZE);
	iov[0] = (struct iovec){BUF, VMBUS_PKT_MAX_LEN};
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 0, iov, 1, &sig), -EMSGSIZE);
	iov[0] = (struct iovec){BUF, SIZE_MAX};
	iov[1] = (struct iovec){BUF, SIZE_MAX};
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 0, iov, 2, &sig), -EMSGSIZE);
	CHECK(!sig);

	/* the guest's read index is checked */
	g.hdr->read_index = 12;
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 0, NULL, 0, &sig), -EBADMSG);
	CHECK_EQ(vmbus_ring_set_pending_send(&r, 64), -EBADMSG);
	g.hdr->read_index = 3 * PG;
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 0, NULL, 0, &sig), -EBADMSG);
	vmbus_ring_destroy(&r);
}

/* ---- wrap-around ---- */

/* Guest -> host: a packet of each size starting at every 8-byte offset of a 4 KiB ring. */
static void test_wrap_inbound(void)
{
	static const uint32_t sizes[] = {0, 8, 13, 100, 1000, 4000 - 24};
	uint8_t payload[4096], p[4096];
	struct vmbus_packet pkt;
	unsigned bad = 0, n = 0;

	pattern(payload, sizeof(payload), 3);
	for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (uint32_t start = 0; start < PG; start += 8) {
			struct vmbus_ring r;
			struct gring g;
			uint32_t len;
			bool sig;

			reset_ram();
			gring_setup(in2, start);
			gring_init(&g, in2, 2);
			if (vmbus_ring_init(&r, VMBUS_RING_INBOUND, &mem, in2, 2)) {
				bad++;
				continue;
			}
			len = build(p, VM_PKT_DATA_INBAND, 0, start, NULL, 0, payload + start % 64, sizes[s]);
			n++;
			if (g_send(&g, p, len, &sig) || vmbus_ring_peek(&r, &pkt, BUF, 4096) ||
			    pkt.trans_id != start || pkt.data_len != ((sizes[s] + 7) & ~7u) ||
			    memcmp(pkt.data, payload + start % 64, sizes[s]))
				bad++;
			vmbus_ring_consume(&r);
			vmbus_ring_commit_read(&r);
			if (g.hdr->read_index != (start + len + 8) % PG ||
			    vmbus_ring_peek(&r, &pkt, BUF, 4096) != -EAGAIN)
				bad++;
			vmbus_ring_destroy(&r);
		}
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(n, 6 * 512);

	/* GPA direct with its range list straddling the end, at every offset */
	bad = 0;
	for (uint32_t start = 0; start < PG; start += 8) {
		struct vmbus_ring r;
		struct gring g;
		struct vmbus_packet_gpa_iter it;
		struct vmbus_packet_range gr;
		uint64_t ext[4] = {(uint64_t)1 << 32, 8192 | ((uint64_t)8 << 32), start, start + 1};
		uint32_t len;
		bool sig;

		reset_ram();
		gring_setup(in2, start);
		gring_init(&g, in2, 2);
		if (vmbus_ring_init(&r, VMBUS_RING_INBOUND, &mem, in2, 2)) {
			bad++;
			continue;
		}
		/* 8192 bytes from offset 8 need 3 PFNs: the third is missing */
		len = build(p, VM_PKT_DATA_USING_GPA_DIRECT, 0, 1, ext, sizeof(ext), payload, 16);
		if (g_send(&g, p, len, &sig) || vmbus_ring_peek(&r, &pkt, BUF, 4096) != -EBADMSG)
			bad++;
		ext[1] = 8000 | ((uint64_t)8 << 32); /* two PFNs */
		reset_ram();
		gring_setup(in2, start);
		gring_init(&g, in2, 2);
		len = build(p, VM_PKT_DATA_USING_GPA_DIRECT, 0, 1, ext, sizeof(ext), payload, 16);
		if (g_send(&g, p, len, &sig) || vmbus_ring_peek(&r, &pkt, BUF, 4096))
			bad++;
		vmbus_packet_gpa_iter_init(&it, &pkt);
		if (!vmbus_packet_gpa_iter_next(&it, &gr) || gr.pfn_count != 2 || gr.pfns[0] != start ||
		    gr.pfns[1] != start + 1 || vmbus_packet_gpa_iter_next(&it, &gr))
			bad++;
		vmbus_ring_destroy(&r);
	}
	CHECK_EQ(bad, 0);
}

/* Host -> guest: the same from our side, plus two packets back to back across the end. */
static void test_wrap_outbound(void)
{
	static const uint32_t sizes[] = {0, 5, 8, 100, 1000, 4000 - 24};
	uint8_t payload[4096];
	struct vmbus_packet pkt;
	unsigned bad = 0;

	pattern(payload, sizeof(payload), 4);
	for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (uint32_t start = 0; start < PG; start += 8) {
			struct vmbus_ring r;
			struct gring g;
			struct iovec iov[2] = {{payload, sizes[s] / 2}, {payload + sizes[s] / 2,
									 sizes[s] - sizes[s] / 2}};
			uint32_t len;
			uint64_t trailer;
			bool sig;

			reset_ram();
			gring_setup(out2, start);
			gring_init(&g, out2, 2);
			if (vmbus_ring_init(&r, VMBUS_RING_OUTBOUND, &mem, out2, 2) ||
			    vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, start, iov, 2, &sig) || !sig) {
				bad++;
				continue;
			}
			if (g_recv(&g, GBUF, &len) || vmbus_packet_parse(GBUF, len, &pkt) ||
			    pkt.trans_id != start || pkt.data_len != ((sizes[s] + 7) & ~7u) ||
			    memcmp(pkt.data, payload, sizes[s]))
				bad++;
			for (uint32_t i = sizes[s]; i < pkt.data_len; i++)
				bad += pkt.data[i] != 0;
			g_copy_out(&g, (start + len) % PG, &trailer, 8);
			bad += trailer != (uint64_t)start << 32;
			bad += g.hdr->write_index != (start + len + 8) % PG;
			vmbus_ring_destroy(&r);
		}
	}
	CHECK_EQ(bad, 0);

	/* a stream of odd sizes through a 3-page ring, many laps */
	{
		struct vmbus_ring r;
		struct gring g;
		uint32_t sent = 0, got = 0, len;
		bool sig;

		reset_ram();
		gring_setup(out4, 0);
		gring_init(&g, out4, 4);
		CHECK_EQ(vmbus_ring_init(&r, VMBUS_RING_OUTBOUND, &mem, out4, 4), 0);
		bad = 0;
		while (got < 2000) {
			struct iovec iov = {payload + sent % 50, (sent * 37) % 3000};
			int ret = vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, sent, &iov, 1, &sig);

			if (ret == 0) {
				sent++;
				continue;
			}
			bad += ret != -EAGAIN;
			while (g_recv(&g, GBUF, &len) == 0) {
				uint32_t plen = (got * 37) % 3000;

				if (vmbus_packet_parse(GBUF, len, &pkt) || pkt.trans_id != got ||
				    memcmp(pkt.data, payload + got % 50, plen))
					bad++;
				got++;
			}
			g_close(&g);
		}
		CHECK_EQ(bad, 0);
		vmbus_ring_destroy(&r);
	}
}

/* ---- full and empty ---- */

static void test_full_empty(void)
{
	struct vmbus_ring r, in;
	struct gring g, gi;
	struct vmbus_packet pkt;
	struct iovec iov;
	uint8_t p[4096];
	uint32_t len, n;
	bool sig;

	/* empty inbound ring */
	reset_ram();
	gring_setup(in2, 0);
	gring_init(&gi, in2, 2);
	CHECK_EQ(vmbus_ring_init(&in, VMBUS_RING_INBOUND, &mem, in2, 2), 0);
	CHECK_EQ(vmbus_ring_peek(&in, &pkt, BUF, 4096), -EAGAIN);
	vmbus_ring_consume(&in);
	CHECK_EQ(in.priv_index, 0);
	CHECK(!vmbus_ring_commit_read(&in));
	CHECK(!vmbus_ring_unmask_interrupts(&in));

	/* the guest fills it as Linux does (one byte short of full), we drain it in one batch */
	for (n = 0;; n++) {
		len = build(p, VM_PKT_DATA_INBAND, 0, n, NULL, 0, zeros, 200);
		if (g_send(&gi, p, len, &sig))
			break;
	}
	CHECK_EQ(n, 18); /* 18 packets of 224 bytes; 64 left, not more than 224 */
	for (uint32_t i = 0; i < n; i++) {
		CHECK_EQ(vmbus_ring_peek(&in, &pkt, BUF, 4096), 0);
		CHECK_EQ(pkt.trans_id, i);
		vmbus_ring_consume(&in);
	}
	CHECK_EQ(vmbus_ring_peek(&in, &pkt, BUF, 4096), -EAGAIN);
	vmbus_ring_commit_read(&in);
	CHECK_EQ(gi.hdr->read_index, gi.hdr->write_index);

	/* outbound: the largest packet a 4 KiB ring takes is 4088 bytes with its trailer */
	gring_setup(out2, 0);
	gring_init(&g, out2, 2);
	CHECK_EQ(vmbus_ring_init(&r, VMBUS_RING_OUTBOUND, &mem, out2, 2), 0);
	iov = (struct iovec){p, 4096 - 8 - 24 + 1};
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 1, &iov, 1, &sig), -EMSGSIZE);
	iov.iov_len = 4096 - 8 - 24;
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 1, &iov, 1, &sig), 0);
	CHECK_EQ(g.hdr->write_index, 4088);
	CHECK_EQ(g_bytes_to_write(&g), 8); /* 8 bytes stay free */
	iov.iov_len = 0;
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 2, &iov, 1, &sig), -EAGAIN);
	CHECK(!sig);
	CHECK_EQ(g.hdr->write_index, 4088);
	CHECK_EQ(g_recv(&g, GBUF, &len), 0);
	CHECK_EQ(len, 4080);
	g_close(&g);
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 2, &iov, 1, &sig), 0);
	CHECK(sig);
	CHECK_EQ(g_recv(&g, GBUF, &len), 0);
	g_close(&g);

	/* exact boundary: a packet as large as the free space does not go, 8 bytes less does */
	iov.iov_len = 2048 - 24;
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 3, &iov, 1, &sig), 0);
	CHECK_EQ(g_bytes_to_write(&g), 2048);
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 4, &iov, 1, &sig), -EAGAIN);
	iov.iov_len = 2048 - 24 - 8;
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 4, &iov, 1, &sig), 0);
	CHECK(!sig);
	CHECK_EQ(g_bytes_to_write(&g), 8);
	iov.iov_len = 0;
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 5, &iov, 1, &sig), -EAGAIN);
	CHECK_EQ(g_recv(&g, GBUF, &len), 0);
	CHECK_EQ(((struct vmpacket_descriptor *)GBUF)->trans_id, 3);
	CHECK_EQ(g_recv(&g, GBUF, &len), 0);
	CHECK_EQ(((struct vmpacket_descriptor *)GBUF)->trans_id, 4);
	CHECK_EQ(g_recv(&g, GBUF, &len), -EAGAIN);
	vmbus_ring_destroy(&r);
	vmbus_ring_destroy(&in);
}

/* ---- malformed guest -> host rings ---- */

/* Places raw bytes at the ring start and sets write_index; returns the peek result twice-checked
 * (a malformed ring stays malformed and our state does not move). */
static int peek_raw(const void *bytes, uint32_t n, uint32_t write_index)
{
	struct vmbus_ring r;
	struct vmbus_packet pkt;
	struct hv_ring_buffer *h = (struct hv_ring_buffer *)(ram + in2[0] * PG);
	int ret, again;

	reset_ram();
	memcpy(ram + in2[1] * PG, bytes, n);
	if (vmbus_ring_init(&r, VMBUS_RING_INBOUND, &mem, in2, 2))
		return 1;
	h->write_index = write_index;
	ret = vmbus_ring_peek(&r, &pkt, BUF, 4096);
	if (ret == -EBADMSG) {
		vmbus_ring_consume(&r);
		again = vmbus_ring_peek(&r, &pkt, BUF, 4096);
		if (again != ret || r.priv_index != 0 || vmbus_ring_commit_read(&r) ||
		    h->read_index != 0)
			ret = 2;
	}
	vmbus_ring_destroy(&r);
	return ret;
}

static void test_malformed(void)
{
	uint8_t p[512];
	struct vmpacket_descriptor *d = (struct vmpacket_descriptor *)p;
	uint32_t len;
	static const uint16_t bad_types[] = {0, 1, 2, 3, 4, 5, 8, 10, 12, 13, 0x10, 0xffff};

	memset(p, 0, sizeof(p));

	len = build(p, VM_PKT_DATA_INBAND, 0, 1, NULL, 0, p + 256, 16); /* 32 bytes */
	CHECK_EQ(peek_raw(p, len + 8, len + 8), 0);          /* the well-formed baseline */
	CHECK_EQ(peek_raw(p, len + 8, len + 4), -EBADMSG);   /* write_index misaligned */
	CHECK_EQ(peek_raw(p, len + 8, 4096), -EBADMSG);      /* beyond the ring */
	CHECK_EQ(peek_raw(p, len + 8, 0xfffffff8), -EBADMSG);
	CHECK_EQ(peek_raw(p, len + 8, 8), -EBADMSG);         /* less than a descriptor */
	CHECK_EQ(peek_raw(p, len + 8, 16), -EBADMSG);        /* descriptor, no trailer */
	CHECK_EQ(peek_raw(p, len + 8, len), -EBADMSG);       /* packet without its trailer */
	CHECK_EQ(peek_raw(p, len + 8, len - 8), -EBADMSG);   /* len8 beyond what is available */
	/* the trailer's content is not checked: no reader uses it (Linux hosts ignore it too) */
	memset(p + len, 0xee, 8);
	CHECK_EQ(peek_raw(p, len + 8, len + 8), 0);
	d->len8 = 0x100; /* 2 KiB claimed, 40 bytes published */
	CHECK_EQ(peek_raw(p, len + 8, len + 8), -EBADMSG);
	d->len8 = 0xffff;
	CHECK_EQ(peek_raw(p, len + 8, len + 8), -EBADMSG);
	d->len8 = 0;
	CHECK_EQ(peek_raw(p, len + 8, len + 8), -EBADMSG);
	d->len8 = 4;
	for (uint16_t off = 0; off < 2; off++) { /* offset8 inside the descriptor */
		d->offset8 = off;
		CHECK_EQ(peek_raw(p, len + 8, len + 8), -EBADMSG);
	}
	d->offset8 = 5; /* beyond len8 */
	CHECK_EQ(peek_raw(p, len + 8, len + 8), -EBADMSG);
	d->offset8 = 4; /* == len8: no payload, fine */
	CHECK_EQ(peek_raw(p, len + 8, len + 8), 0);
	d->offset8 = 2;
	for (unsigned i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
		d->type = bad_types[i];
		CHECK_EQ(peek_raw(p, len + 8, len + 8), -EBADMSG);
	}
	d->type = VM_PKT_COMP;
	CHECK_EQ(peek_raw(p, len + 8, len + 8), 0);
	d->flags = 2;
	CHECK_EQ(peek_raw(p, len + 8, len + 8), -EBADMSG);
	d->flags = 0x8001;
	CHECK_EQ(peek_raw(p, len + 8, len + 8), -EBADMSG);

	/* transfer pages: header cut short, range count beyond the header area */
	{
		uint8_t ext[8 + 8] = {0xfe, 0xca, 0, 0, 1, 0, 0, 0};

		len = build(p, VM_PKT_DATA_USING_XFER_PAGES, 0, 1, ext, sizeof(ext), NULL, 0);
		CHECK_EQ(peek_raw(p, len + 8, len + 8), 0);
		d->offset8 = 2; /* no room for the xfer header */
		CHECK_EQ(peek_raw(p, len + 8, len + 8), -EBADMSG);
		d->offset8 = 3; /* header, no room for its range */
		CHECK_EQ(peek_raw(p, len + 8, len + 8), -EBADMSG);
		d->offset8 = 4;
		ext[4] = 2; /* two ranges, one's room */
		memcpy(p + 16, ext, 8);
		CHECK_EQ(peek_raw(p, len + 8, len + 8), -EBADMSG);
		memset(p + 20, 0xff, 4); /* range_cnt 0xffffffff */
		CHECK_EQ(peek_raw(p, len + 8, len + 8), -EBADMSG);
		memset(p + 20, 0, 4); /* no ranges at all is acceptable */
		CHECK_EQ(peek_raw(p, len + 8, len + 8), 0);
	}

	/* GPA direct: range counts and ranges that overflow the packet */
	{
		uint64_t ext[4];

#define GPA_CASE(cnt, count_off, pfn0, pfn1, expect)                                           \
	do {                                                                                   \
		ext[0] = (uint64_t)(cnt) << 32;                                                \
		ext[1] = (count_off);                                                          \
		ext[2] = (pfn0);                                                               \
		ext[3] = (pfn1);                                                               \
		len = build(p, VM_PKT_DATA_USING_GPA_DIRECT, 1, 1, ext, sizeof(ext), p + 256, 8); \
		CHECK_EQ(peek_raw(p, len + 8, len + 8), (expect));                             \
	} while (0)
		GPA_CASE(1, 8192, 1, 2, 0);                                    /* well formed */
		GPA_CASE(1, 4096 | (4095ull << 32), 1, 2, 0);                   /* 2 pages */
		GPA_CASE(1, 4098 | (4095ull << 32), 1, 2, -EBADMSG);            /* 3 pages */
		GPA_CASE(0, 8192, 1, 2, -EBADMSG);                              /* no range */
		GPA_CASE(2, 8192, 1, 2, -EBADMSG);                              /* 2nd missing */
		GPA_CASE(0xffffffffu, 8, 1, 2, -EBADMSG);                       /* huge count */
		GPA_CASE(1, 0, 1, 2, -EBADMSG);                                 /* byte_count 0 */
		GPA_CASE(1, 8 | (4096ull << 32), 1, 2, -EBADMSG);               /* offset >= page */
		GPA_CASE(1, 0xffffffffull | (4095ull << 32), 1, 2, -EBADMSG);   /* count overflows */
		GPA_CASE(1, 12288, 1, 2, -EBADMSG);                             /* 3 PFNs, 2 there */
		GPA_CASE(2, 8, 1, 8 | (8ull << 32), -EBADMSG);                  /* 2nd's PFN missing */
#undef GPA_CASE
		ext[0] = (uint64_t)1 << 32;
		ext[1] = 8;
		len = build(p, VM_PKT_DATA_USING_GPA_DIRECT, 0, 1, ext, sizeof(ext), NULL, 0);
		d->offset8 = 3; /* header only: the range is outside the descriptor area */
		CHECK_EQ(peek_raw(p, len + 8, len + 8), -EBADMSG);
		d->offset8 = 2;
		CHECK_EQ(peek_raw(p, len + 8, len + 8), -EBADMSG);
	}

	/* buffer too small: the packet can be dropped and the next one read */
	{
		struct vmbus_ring r;
		struct gring g;
		struct vmbus_packet pkt;
		bool sig;

		reset_ram();
		gring_setup(in2, 0);
		gring_init(&g, in2, 2);
		CHECK_EQ(vmbus_ring_init(&r, VMBUS_RING_INBOUND, &mem, in2, 2), 0);
		len = build(p, VM_PKT_DATA_INBAND, 1, 11, NULL, 0, p + 256, 100);
		CHECK_EQ(g_send(&g, p, len, &sig), 0);
		len = build(p, VM_PKT_DATA_INBAND, 0, 12, NULL, 0, p + 256, 8);
		CHECK_EQ(g_send(&g, p, len, &sig), 0);
		CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 64), -ENOBUFS);
		CHECK_EQ(pkt.len, 16 + 104);
		CHECK_EQ(pkt.trans_id, 11);
		CHECK_EQ(pkt.flags, 1);
		CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 120), 0); /* exactly big enough */
		CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 64), -ENOBUFS);
		vmbus_ring_consume(&r); /* drop it */
		CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 64), 0);
		CHECK_EQ(pkt.trans_id, 12);
		vmbus_ring_destroy(&r);
	}

	/* the parser alone */
	{
		struct vmbus_packet pkt;

		len = build(p, VM_PKT_DATA_INBAND, 0, 1, NULL, 0, NULL, 0);
		CHECK_EQ(vmbus_packet_parse(BUF + 4, 16, &pkt), -EINVAL);
		memcpy(BUF, p, len);
		CHECK_EQ(vmbus_packet_parse(BUF, len, &pkt), 0);
		CHECK_EQ(vmbus_packet_parse(BUF, len + 8, &pkt), -EBADMSG); /* len8 disagrees */
		CHECK_EQ(vmbus_packet_parse(BUF, 8, &pkt), -EBADMSG);
		CHECK_EQ(vmbus_packet_parse(BUF, VMBUS_PKT_MAX_LEN + 8, &pkt), -EBADMSG);
	}
}

/* ---- signalling ---- */

/* Our writes: signal only into an empty, unmasked ring (Linux hv_signal_on_write). */
static void test_signal_write(void)
{
	struct vmbus_ring r;
	struct gring g;
	uint32_t len;
	bool sig;

	reset_ram();
	gring_setup(out2, 0);
	gring_init(&g, out2, 2);
	CHECK_EQ(vmbus_ring_init(&r, VMBUS_RING_OUTBOUND, &mem, out2, 2), 0);
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 1, NULL, 0, &sig), 0);
	CHECK(sig);
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 2, NULL, 0, &sig), 0);
	CHECK(!sig); /* not empty before */
	CHECK_EQ(g_recv(&g, GBUF, &len), 0);
	g_close(&g); /* one of two read */
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 3, NULL, 0, &sig), 0);
	CHECK(!sig);
	CHECK_EQ(g_recv(&g, GBUF, &len), 0);
	CHECK_EQ(g_recv(&g, GBUF, &len), 0);
	g_close(&g); /* all read */
	g.hdr->interrupt_mask = 1; /* the guest is draining (hv_begin_read) */
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 4, NULL, 0, &sig), 0);
	CHECK(!sig);
	CHECK_EQ(g_recv(&g, GBUF, &len), 0);
	g_close(&g);
	g.hdr->interrupt_mask = 0; /* hv_end_read */
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 5, NULL, 0, &sig), 0);
	CHECK(sig);
	vmbus_ring_destroy(&r);
}

/* Our reads: signal the guest when its pending_send_sz is crossed (Linux hv_pkt_iter_close). */
static void test_signal_read(void)
{
	struct vmbus_ring r;
	struct gring g;
	struct vmbus_packet pkt;
	uint8_t p[1024];
	uint32_t len;
	bool sig;

	reset_ram();
	gring_setup(in2, 0);
	gring_init(&g, in2, 2);
	CHECK_EQ(vmbus_ring_init(&r, VMBUS_RING_INBOUND, &mem, in2, 2), 0);
	len = build(p, VM_PKT_DATA_INBAND, 0, 0, NULL, 0, zeros, 1000); /* 1016 + trailer = 1024 */
	for (int i = 0; i < 3; i++)
		CHECK_EQ(g_send(&g, p, len, &sig), 0);
	CHECK_EQ(g_send(&g, p, len, &sig), -EAGAIN); /* 1024 free is not enough */

	/* the guest waits for > 1024 free */
	g.hdr->pending_send_sz = 1024;
	CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), 0);
	vmbus_ring_consume(&r);
	CHECK(vmbus_ring_commit_read(&r)); /* 1024 -> 2048 crosses it */
	CHECK_EQ(g_send(&g, p, len, &sig), 0);
	CHECK(!sig);

	/* without the feature bit the guest polls: no signal */
	g.hdr->feature_bits = 0;
	CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), 0);
	vmbus_ring_consume(&r);
	CHECK(!vmbus_ring_commit_read(&r));
	g.hdr->feature_bits = VMBUS_RING_FEAT_PENDING_SEND_SZ;
	CHECK_EQ(g_send(&g, p, len, &sig), 0); /* full again: 1024 free */

	/* not enough freed yet, then enough: one signal, on the crossing */
	g.hdr->pending_send_sz = 2048;
	CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), 0);
	vmbus_ring_consume(&r);
	CHECK(!vmbus_ring_commit_read(&r)); /* 2048 free: still "not enough" */
	CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), 0);
	vmbus_ring_consume(&r);
	CHECK(vmbus_ring_commit_read(&r)); /* 3072 */
	CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), 0);
	vmbus_ring_consume(&r);
	CHECK(!vmbus_ring_commit_read(&r)); /* was already above: no second signal */

	/* pending set, nothing read, nothing to publish */
	CHECK(!vmbus_ring_commit_read(&r));
	/* pending 0: never */
	g.hdr->pending_send_sz = 0;
	CHECK_EQ(g_send(&g, p, len, &sig), 0);
	CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), 0);
	vmbus_ring_consume(&r);
	CHECK(!vmbus_ring_commit_read(&r));
	/* more than the ring: never crossed */
	g.hdr->pending_send_sz = 0xfffffff0;
	CHECK_EQ(g_send(&g, p, len, &sig), 0);
	CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), 0);
	vmbus_ring_consume(&r);
	CHECK(!vmbus_ring_commit_read(&r));
	/* ring size - 1, as some senders use to mean "empty": signalled when emptied */
	for (int i = 0; i < 3; i++)
		CHECK_EQ(g_send(&g, p, len, &sig), 0);
	g.hdr->pending_send_sz = 4095;
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), 0);
		vmbus_ring_consume(&r);
	}
	CHECK(!vmbus_ring_commit_read(&r));
	CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), 0);
	vmbus_ring_consume(&r);
	CHECK(vmbus_ring_commit_read(&r));
	/* a nonsense write_index at commit time: no signal, the next peek reports it */
	CHECK_EQ(g_send(&g, p, len, &sig), 0);
	CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), 0);
	vmbus_ring_consume(&r);
	g.hdr->write_index = 4;
	CHECK(!vmbus_ring_commit_read(&r));
	CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), -EBADMSG);
	vmbus_ring_destroy(&r);
}

/* Our pending_send_sz on the outbound ring, with the guest's reader deciding to signal. */
static void test_pending_send(void)
{
	struct vmbus_ring r;
	struct gring g;
	uint8_t p[1000];
	struct iovec iov = {p, sizeof(p)};
	uint32_t len, need = vmbus_packet_ring_bytes(0, sizeof(p));
	bool sig;

	CHECK_EQ(need, 1024);
	reset_ram();
	gring_setup(out2, 0);
	gring_init(&g, out2, 2);
	CHECK_EQ(vmbus_ring_init(&r, VMBUS_RING_OUTBOUND, &mem, out2, 2), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, i, &iov, 1, &sig), 0);
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 3, &iov, 1, &sig), -EAGAIN);
	CHECK_EQ(vmbus_ring_set_pending_send(&r, 4096), -EMSGSIZE);
	CHECK_EQ(vmbus_ring_set_pending_send(&r, need), -EAGAIN);
	CHECK_EQ(g.hdr->pending_send_sz, need);
	CHECK_EQ(g_recv(&g, GBUF, &len), 0);
	CHECK(g_close(&g)); /* the guest signals us: 1024 -> 2048 free */
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 3, &iov, 1, &sig), 0);
	CHECK_EQ(g.hdr->pending_send_sz, 0); /* withdrawn by the write */
	CHECK_EQ(r.pending_send, 0);
	CHECK_EQ(g_recv(&g, GBUF, &len), 0);
	CHECK(!g_close(&g)); /* nobody waits */

	/* space freed between our failed write and the request: 0, write again now */
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 4, &iov, 1, &sig), 0);
	CHECK_EQ(vmbus_ring_set_pending_send(&r, 2048), -EAGAIN); /* 1024 free */
	CHECK_EQ(g_recv(&g, GBUF, &len), 0);
	CHECK(!g_close(&g)); /* 2048 free: not more than 2048 */
	CHECK_EQ(g_recv(&g, GBUF, &len), 0);
	CHECK(g_close(&g));  /* 3072 */
	CHECK_EQ(vmbus_ring_set_pending_send(&r, 2048), 0);
	CHECK_EQ(g.hdr->pending_send_sz, 0);
	CHECK_EQ(vmbus_ring_set_pending_send(&r, 1024), 0);
	/* withdrawing */
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 5, &iov, 1, &sig), 0);
	CHECK_EQ(vmbus_ring_write(&r, VM_PKT_DATA_INBAND, 0, 6, &iov, 1, &sig), 0);
	CHECK_EQ(vmbus_ring_set_pending_send(&r, 2048), -EAGAIN);
	CHECK_EQ(vmbus_ring_set_pending_send(&r, 0), 0);
	CHECK_EQ(g.hdr->pending_send_sz, 0);
	CHECK_EQ(g_recv(&g, GBUF, &len), 0);
	CHECK(!g_close(&g));
	vmbus_ring_destroy(&r);
}

/* Interrupt mask on our inbound ring and the drain loop's last look. */
static void test_mask(void)
{
	struct vmbus_ring r;
	struct gring g;
	struct vmbus_packet pkt;
	uint8_t p[64];
	uint32_t len;
	bool sig;

	reset_ram();
	gring_setup(in2, 0);
	gring_init(&g, in2, 2);
	CHECK_EQ(vmbus_ring_init(&r, VMBUS_RING_INBOUND, &mem, in2, 2), 0);
	CHECK_EQ(g.hdr->interrupt_mask, 0);
	len = build(p, VM_PKT_DATA_INBAND, 0, 1, NULL, 0, zeros, 8);
	CHECK_EQ(g_send(&g, p, len, &sig), 0);
	CHECK(sig); /* empty and unmasked: the guest signals */

	/* signalled: we mask and drain */
	vmbus_ring_mask_interrupts(&r);
	CHECK_EQ(g.hdr->interrupt_mask, 1);
	CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), 0);
	vmbus_ring_consume(&r);
	CHECK_EQ(g_send(&g, p, len, &sig), 0); /* arrives while we drain */
	CHECK(!sig);
	CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), 0);
	vmbus_ring_consume(&r);
	CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), -EAGAIN);
	vmbus_ring_commit_read(&r);
	/* one more arrives after our last peek, before we unmask: the guest does not signal... */
	CHECK_EQ(g_send(&g, p, len, &sig), 0);
	CHECK(!sig);
	/* ...so the last look must find it */
	CHECK(vmbus_ring_unmask_interrupts(&r));
	CHECK_EQ(g.hdr->interrupt_mask, 0);
	vmbus_ring_mask_interrupts(&r);
	CHECK_EQ(vmbus_ring_peek(&r, &pkt, BUF, 4096), 0);
	vmbus_ring_consume(&r);
	vmbus_ring_commit_read(&r);
	CHECK(!vmbus_ring_unmask_interrupts(&r)); /* empty: sleep */
	/* now the guest signals the next packet */
	CHECK_EQ(g_send(&g, p, len, &sig), 0);
	CHECK(sig);
	vmbus_ring_destroy(&r);
}

/* Random traffic both ways over scattered pages: FIFO order, contents, and no lost wakeups in
 * this sequential model (whenever data waits, the reader was signalled or is awake). */
static void test_random_traffic(void)
{
	struct vmbus_ring in, out;
	struct gring gi, go;
	uint64_t chan[] = {50, 41, 60, 45, 2, 63, 17, 38};
	uint8_t payload[3000], p[4096];
	uint32_t seed = 12345, g_sent = 0, h_got = 0, h_sent = 0, g_got = 0, len;
	bool host_awake = false, guest_awake = false, sig;
	unsigned bad = 0;

	reset_ram();
	gring_setup(chan, 0);
	gring_setup(chan + 4, 0);
	gring_init(&gi, chan, 4);
	gring_init(&go, chan + 4, 4);
	CHECK_EQ(vmbus_ring_init_channel(&in, &out, &mem, chan, 8, 4), 0);
	pattern(payload, sizeof(payload), 5);
	for (int step = 0; step < 200000; step++) {
		seed = seed * 1103515245 + 12345;
		switch ((seed >> 16) % 4) {
		case 0: { /* guest sends */
			uint32_t plen = (seed >> 8) % 2000;

			len = build(p, VM_PKT_DATA_INBAND, 0, g_sent, NULL, 0, payload + g_sent % 100, plen);
			if (g_send(&gi, p, len, &sig) == 0) {
				g_sent++;
				host_awake |= sig;
			}
			break;
		}
		case 1: /* host drains if awake, as ring.h's loop */
			if (!host_awake)
				break;
			vmbus_ring_mask_interrupts(&in);
			do {
				struct vmbus_packet pkt;

				while (vmbus_ring_peek(&in, &pkt, BUF, 4096) == 0) {
					bad += pkt.trans_id != h_got ||
					       memcmp(pkt.data, payload + h_got % 100,
						      pkt.data_len < 8 ? 0 : pkt.data_len - 8);
					h_got++;
					vmbus_ring_consume(&in);
				}
				/* a blocked guest writer polls in this model: no signal to deliver */
				(void)vmbus_ring_commit_read(&in);
			} while (vmbus_ring_unmask_interrupts(&in) && (vmbus_ring_mask_interrupts(&in), true));
			host_awake = false;
			break;
		case 2: { /* host sends */
			struct iovec iov = {payload + h_sent % 100, (seed >> 8) % 2000};
			int ret = vmbus_ring_write(&out, VM_PKT_DATA_INBAND, 0, h_sent, &iov, 1, &sig);

			if (ret == 0) {
				h_sent++;
				guest_awake |= sig;
			} else {
				bad += ret != -EAGAIN;
			}
			break;
		}
		case 3: /* guest drains if awake (hv_begin_read ... hv_end_read) */
			if (!guest_awake)
				break;
			do {
				struct vmbus_packet pkt;

				go.hdr->interrupt_mask = 1;
				while (g_recv(&go, GBUF, &len) == 0) {
					bad += vmbus_packet_parse(GBUF, len, &pkt) != 0 ||
					       pkt.trans_id != g_got;
					g_got++;
				}
				g_close(&go);
				go.hdr->interrupt_mask = 0;
			} while (go.hdr->write_index != go.priv_read);
			guest_awake = false;
			break;
		}
		/* no lost wakeup: data in a ring means its reader is awake */
		bad += !host_awake && gi.hdr->write_index != in.priv_index;
		bad += !guest_awake && go.hdr->write_index != go.priv_read;
	}
	CHECK_EQ(bad, 0);
	CHECK(h_got > 10000);
	CHECK(g_got > 10000);
	vmbus_ring_destroy(&in);
	vmbus_ring_destroy(&out);
}

int main(void)
{
	test_init();
	test_inbound_types();
	test_outbound_types();
	test_wrap_inbound();
	test_wrap_outbound();
	test_full_empty();
	test_malformed();
	test_signal_write();
	test_signal_read();
	test_pending_send();
	test_mask();
	test_random_traffic();
	return unit_done("test_vmbus_ring");
}
