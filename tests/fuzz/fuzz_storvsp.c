/* libFuzzer target over storvsp's guest-facing parsing (src/synthetic/storvsp*.c, protocol in
 * storvsp_protocol.h) down to the SCSI disk logic and the block backend (src/backend/scsi_disk*.c,
 * block.c): the VSTOR packets a guest writes on its channels' rings, as test_storvsp drives them
 * (a VMBus server on fake guest RAM, real rings, a real event loop; images are memfds).
 *
 * Build and run (io_uring needed):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. -Isrc \
 *     tests/fuzz/fuzz_storvsp.c tests/unit/vmbus_guest_msgs.c src/synthetic/storvsp*.c src/backend/scsi_disk*.c \
 *     src/backend/block.c src/vmbus/server.c src/vmbus/gpadl.c src/vmbus/ring.c \
 *     src/vmbus/packet.c src/vmbus/host.c src/hv-enlight/[a-z]*.c src/event_loop.c \
 *     src/guest_mem.c src/error.c src/log.c -luring -o fuzz_storvsp && \
 *   mkdir -p corpus && build/tests/fuzz/fuzz_storvsp_replay --seeds corpus && \
 *   ./fuzz_storvsp -max_len=4096 corpus/
 * (host.c and hv-enlight only because storvsp_create names them.) The replay build in
 * tests/fuzz/meson.build writes the seeds (Linux and Windows guests initializing and doing I/O)
 * with --seeds DIR; with file arguments it replays them, with none it runs the seeds and 2000
 * mutations of them.
 *
 * Input: [0] primary ring pages: tx 2 + (b & 7), rx 2 + (b >> 3 & 3); bit 6: one read-write disk
 * at LUN 2 instead of LUN 0 (read-write) and LUN 1 (read-only); bit 7: tear down without draining.
 * [1] VPs - 1 (& 3), which bounds the subchannels. The primary channel is open; then records,
 * [0] kind % 12, where [chan] picks an opened channel (& 7; bit 7: no COMPLETION_REQUESTED,
 * bit 6: sent as a VM_PKT_COMP) and [size] a payload length (0: 64, 1: 48, else as given):
 *   0 control [chan][op][arg LE16][size]   vstor_packet with operation op, version/count arg
 *   1 in-band [chan][len][len bytes]       the payload as given
 *   2 SRB     [chan][lun][path | target << 2 | op << 4][cdb_len][cdb 16][dtl LE32][data_in]
 *             [sense_len][size][ranges][byte_offset LE16][byte_count LE32][page LE16][stride]:
 *             op 0 is EXECUTE_SRB; ranges & 3 copies of one GPA range (0: in-band, no data),
 *             & 4: a page number short, & 8: a transfer-page packet instead; page n of the range
 *             is data page page + n * stride (0xffff: beyond 2^64); byte_count 0 means dtl
 *   3 raw     [chan][len LE16][len bytes]      a whole packet (trans_id and len8 set here)
 *   4 signal  [chan][run]  5 run the loop  6 read replies [chan][max]  7 open [which offer]
 *   8 close   [chan]  9 fill data page [page][offset LE16][len][bytes]
 *  10 disk    [op][lun]: op & 1 removes lun % 8, else adds image op >> 1 & 1 there
 *  11 repeat  [n] then a record: that record n + 1 times (not itself a repeat)
 * Invariants: replies are well-formed, each answers a request that asked for one, at most once,
 * on its channel, with the request's size; SRB answers move no more than asked; once the guest
 * reads everything, every request on a healthy open channel is answered; in-flight counts and
 * closed channels go back to zero; the VMM writes guest RAM only in rings and listed pages
 * (guard pages around RAM catch any access outside it). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "tests/unit/vmbus_guest_msgs.h"
#include "synthetic/storvsp.h"
#include "synthetic/storvsp_internal.h"
#include "vmbus/ring.h"
#include "vmbus/server.h"

#define REQUIRE(cond)                                                              \
	do {                                                                       \
		if (!(cond)) {                                                     \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, \
				__LINE__, #cond);                                  \
			abort();                                                   \
		}                                                                  \
	} while (0)

#define PG 4096u
#define POOL_PAGES 80u              /* ring pages, from page 0 */
#define DATA_PFN POOL_PAGES         /* page lists name pages from here on: never a ring */
#define DATA_PAGES 48u
#define RAM_PAGES (POOL_PAGES + DATA_PAGES)
#define RAM_SIZE ((uint64_t)RAM_PAGES * PG)
#define MAX_SLOTS 8u                /* channel opens per input */
#define MAX_RELID 128u              /* 1 + MAX_SLOTS primaries' worth of 4 subchannels fit */
#define MAX_OFFERS 64u
#define MAX_REQS 4096u
#define IMG_A_SIZE (64u << 10)      /* read-write, zeroed per input */
#define IMG_B_SIZE (16u << 10)      /* read-only, a pattern */
#define HOST_LUNS 8u                /* LUNs the disk record adds and removes */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- process-wide: loop, guest RAM with guard pages, images ---- */

static struct event_loop loop;
static uint8_t *ram;     /* RAM_SIZE bytes between two PROT_NONE pages */
static uint8_t *shadow;  /* what RAM holds where the VMM may not write */
static char img_path[2][32];
static int img_fd[2];

static void setup_once(void)
{
	static bool done;
	uint8_t *map, sector[512];

	if (done)
		return;
	done = true;
	log_set_level(LOG_ERROR);
	REQUIRE(event_loop_init(&loop) == 0);
	map = mmap(NULL, RAM_SIZE + 2 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(map != MAP_FAILED);
	ram = map + PG;
	REQUIRE(mprotect(ram, RAM_SIZE, PROT_READ | PROT_WRITE) == 0);
	shadow = malloc(RAM_SIZE);
	REQUIRE(shadow);
	for (unsigned i = 0; i < 2; i++) {
		img_fd[i] = memfd_create(i ? "storvsp-fuzz-b" : "storvsp-fuzz-a", MFD_CLOEXEC);
		REQUIRE(img_fd[i] >= 0);
		snprintf(img_path[i], sizeof(img_path[i]), "/proc/self/fd/%d", img_fd[i]);
	}
	REQUIRE(ftruncate(img_fd[0], IMG_A_SIZE) == 0);
	for (uint32_t s = 0; s < IMG_B_SIZE / 512; s++) {
		memset(sector, 0xb0 + s, sizeof(sector));
		REQUIRE(pwrite(img_fd[1], sector, sizeof(sector), (off_t)s * 512) == 512);
	}
}

/* A guest write to its RAM: the shadow follows. */
static void gw(uint64_t gpa, const void *src, uint64_t len)
{
	REQUIRE(gpa <= RAM_SIZE && len <= RAM_SIZE - gpa);
	memcpy(ram + gpa, src, len);
	memcpy(shadow + gpa, src, len);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- the guest: channels, rings, requests ---- */

struct gring {
	struct hv_ring_buffer *hdr;
	uint64_t data_gpa;
	uint32_t size;
};

/* One open of a channel (a reopened channel is a new slot). */
struct slot {
	uint32_t relid;
	bool open;
	struct gring tx, rx; /* guest -> host, host -> guest */
};

/* What the answer to a packet must look like. */
struct req {
	uint8_t slot;
	bool want;        /* a completion is due: asked for, not itself a completion */
	bool done;
	bool srb;         /* EXECUTE_SRB: dtl and sense bound the answer */
	uint16_t reply_len;
	uint32_t dtl;
	uint8_t sense;
};

struct fz {
	struct guest_mem mem;
	struct vmbus_server *srv;
	struct storvsp *s;
	struct {
		vmbus_channel_notify_fn *fn;
		void *opaque;
		struct vmbus_channel *ch;
	} notify[MAX_RELID];
	struct {
		uint32_t relid;
		uint16_t sub;
	} offers[MAX_OFFERS];
	unsigned noffers;
	bool got_gpadl, got_open;
	uint32_t gpadl_status, open_status;
	struct slot slots[MAX_SLOTS];
	unsigned nslots;
	uint64_t next_pfn;
	uint32_t next_gpadl;
	unsigned tx_pages, rx_pages;
	unsigned nreqs;
	bool may_write[RAM_PAGES];
};

static struct fz fz;
static struct req reqs[MAX_REQS];
static uint8_t pkt_buf[9 * PG]; /* one packet: the largest tx ring's data */

static int rec_send(void *ctx, unsigned vp, unsigned sint, const void *m, uint32_t size)
{
	struct fz *f = ctx;
	uint32_t type, relid, status;

	(void)vp, (void)sint;
	REQUIRE(size >= sizeof(struct vmbus_msg_header) && size <= VMBUS_MESSAGE_MAX);
	memcpy(&type, m, 4);
	switch (type) {
	case CHANNELMSG_OFFERCHANNEL: {
		struct vmbus_msg_offer_channel o;

		REQUIRE(size >= sizeof(o));
		memcpy(&o, m, sizeof(o));
		REQUIRE(o.child_relid > 0 && o.child_relid < MAX_RELID);
		for (unsigned i = 0; i < f->noffers; i++)
			REQUIRE(f->offers[i].relid != o.child_relid);
		REQUIRE(f->noffers < MAX_OFFERS);
		f->offers[f->noffers].relid = o.child_relid;
		f->offers[f->noffers++].sub = o.offer.sub_channel_index;
		break;
	}
	case CHANNELMSG_RESCIND_CHANNELOFFER:
		REQUIRE(size >= sizeof(struct vmbus_msg_rescind_offer));
		memcpy(&relid, (const uint8_t *)m + 8, 4);
		for (unsigned i = 0; i < f->noffers; i++)
			if (f->offers[i].relid == relid)
				f->offers[i] = f->offers[--f->noffers];
		break;
	case CHANNELMSG_GPADL_CREATED:
	case CHANNELMSG_OPENCHANNEL_RESULT:
		REQUIRE(size >= 20);
		memcpy(&status, (const uint8_t *)m + 16, 4);
		if (type == CHANNELMSG_GPADL_CREATED)
			f->got_gpadl = true, f->gpadl_status = status;
		else
			f->got_open = true, f->open_status = status;
		break;
	default:
		break;
	}
	return 0;
}

static void bus_set_notify(void *ctx, struct vmbus_channel *ch, vmbus_channel_notify_fn *fn,
			   void *opaque)
{
	struct fz *f = ctx;
	uint32_t relid = vmbus_channel_relid(ch);

	REQUIRE(relid < MAX_RELID);
	if (!fn)
		for (unsigned i = 0; i < f->nslots; i++)
			if (f->slots[i].relid == relid)
				f->slots[i].open = false;
	f->notify[relid].fn = fn;
	f->notify[relid].opaque = opaque;
	f->notify[relid].ch = ch;
}

/* The host signals open channels only. */
static void bus_signal(void *ctx, struct vmbus_channel *ch)
{
	struct fz *f = ctx;
	uint32_t relid = vmbus_channel_relid(ch);

	REQUIRE(relid < MAX_RELID && f->notify[relid].fn);
}

static void post(struct fz *f, uint32_t conn, const void *m, uint32_t size)
{
	REQUIRE(vmbus_server_post_message(f->srv, 0, conn, VMBUS_MESSAGE_TYPE, m, size) == 0);
}

static struct storvsp_chan *slot_chan(struct fz *f, const struct slot *sl)
{
	return sl->open ? f->notify[sl->relid].opaque : NULL;
}

static uint32_t gring_used(const struct gring *g)
{
	uint32_t w = g->hdr->write_index, r = g->hdr->read_index;

	return w >= r ? w - r : g->size - (r - w);
}

static void gring_put(struct gring *g, uint32_t *off, const uint8_t *src, uint32_t len)
{
	while (len) {
		uint32_t n = g->size - *off < len ? g->size - *off : len;

		gw(g->data_gpa + *off, src, n);
		src += n;
		len -= n;
		*off = (*off + n) % g->size;
	}
}

/* len bytes from off (< size), wrapping at the end; len <= size. */
static void gring_get(const struct gring *g, uint32_t off, uint8_t *dst, uint32_t len)
{
	uint32_t first = g->size - off < len ? g->size - off : len;

	memcpy(dst, ram + g->data_gpa + off, first);
	memcpy(dst + first, ram + g->data_gpa, len - first);
}

/* One packet and its trailer, as Linux's hv_ringbuffer_write; false if it does not fit. */
static bool gring_write(struct gring *g, const uint8_t *pkt, uint32_t len)
{
	uint32_t start = g->hdr->write_index, off = start;
	uint64_t trailer = (uint64_t)start << 32;

	if (g->size - gring_used(g) <= len + 8)
		return false;
	gring_put(g, &off, pkt, len);
	gring_put(g, &off, (const uint8_t *)&trailer, 8);
	__atomic_store_n(&g->hdr->write_index, off, __ATOMIC_RELEASE);
	return true;
}

static bool pick_slot(const struct fz *f, uint8_t b, unsigned *sl)
{
	*sl = b & 7u;
	return *sl < f->nslots && f->slots[*sl].open;
}

static void guest_signal(struct fz *f, unsigned sl)
{
	const struct slot *s = &f->slots[sl];

	if (!s->open)
		return;
	REQUIRE(f->notify[s->relid].fn);
	f->notify[s->relid].fn(f->notify[s->relid].opaque, f->notify[s->relid].ch);
}

static bool idle(void *arg)
{
	const struct storvsp *s = arg;

	if (s->posted)
		return false;
	for (unsigned i = 0; i < STORVSP_MAX_LUNS; i++)
		if (s->luns[i] && (s->luns[i]->inflight || block_inflight(s->luns[i]->dev)))
			return false;
	for (const struct storvsp_lun *l = s->removed; l; l = l->next_removed)
		if (l->inflight)
			return false;
	return true;
}

/* Lets every block operation finish: nothing is in flight afterwards. */
static void run_loop(struct fz *f)
{
	REQUIRE(event_loop_run_until(&loop, idle, f->s) == 0);
	REQUIRE(f->s->zombies == NULL && f->s->removed == NULL);
	for (unsigned i = 0; i < f->nslots; i++) {
		const struct storvsp_chan *c = slot_chan(f, &f->slots[i]);

		REQUIRE(!c || c->inflight == 0);
	}
}

/* Writes one packet (len a multiple of 8, at least a descriptor) and notes what its answer must
 * look like. A full ring makes the guest signal and wait once, then give up. */
static void send_packet(struct fz *f, unsigned sl, uint8_t *buf, uint32_t len)
{
	struct slot *s = &f->slots[sl];
	struct vmpacket_descriptor d;
	struct req *r;
	uint32_t hdr_len, data_len, op = 0;

	if (f->nreqs == MAX_REQS || len + 8 >= s->tx.size)
		return;
	memcpy(&d, buf, sizeof(d));
	d.trans_id = f->nreqs + 1; /* 0 is the host's ENUMERATE_BUS */
	d.len8 = (uint16_t)(len / 8);
	memcpy(buf, &d, sizeof(d));
	if (!gring_write(&s->tx, buf, len)) {
		/* As a sender waiting for room: pending_send_sz asks the reader for a signal. */
		s->tx.hdr->pending_send_sz = len + 8;
		guest_signal(f, sl);
		run_loop(f);
		s->tx.hdr->pending_send_sz = 0;
		if (!s->open || !gring_write(&s->tx, buf, len))
			return;
	}
	r = &reqs[f->nreqs++];
	memset(r, 0, sizeof(*r));
	r->slot = (uint8_t)sl;
	r->want = d.type != VM_PKT_COMP && (d.flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
	hdr_len = d.offset8 * 8u;
	data_len = hdr_len <= len ? len - hdr_len : 0;
	/* Answers echo the request's size, capped at a vstor_packet; refused shapes get a full one. */
	if (len > STORVSP_PACKET_BUF || data_len < VSTOR_PACKET_HEADER_SIZE ||
	    d.type == VM_PKT_DATA_USING_XFER_PAGES)
		r->reply_len = VSTOR_PACKET_MAX_SIZE;
	else
		r->reply_len = (uint16_t)(data_len < VSTOR_PACKET_MAX_SIZE ? data_len
									 : VSTOR_PACKET_MAX_SIZE);
	if (data_len >= 4)
		op = get32(buf + hdr_len);
	r->srb = op == VSTOR_OPERATION_EXECUTE_SRB;
	if (data_len >= VSTOR_PACKET_HEADER_SIZE + 16)
		r->dtl = get32(buf + hdr_len + VSTOR_PACKET_HEADER_SIZE + 12);
	if (data_len >= VSTOR_PACKET_HEADER_SIZE + 10)
		r->sense = buf[hdr_len + VSTOR_PACKET_HEADER_SIZE + 9];
}

/* Reads one packet from the host, as Linux's hv_pkt_iter_first/close; false if none. */
static bool read_reply(struct fz *f, unsigned sl)
{
	struct gring *g = &f->slots[sl].rx;
	uint32_t used = gring_used(g), off = g->hdr->read_index, len, plen;
	uint8_t buf[16 + VSTOR_PACKET_MAX_SIZE + 8];
	struct vmpacket_descriptor d;
	struct vstor_packet p;
	uint64_t trailer;

	if (used == 0)
		return false;
	REQUIRE(off < g->size && g->hdr->write_index < g->size && g->hdr->write_index % 8 == 0);
	REQUIRE(used >= sizeof(d) + 8);
	gring_get(g, off, (uint8_t *)&d, sizeof(d));
	len = d.len8 * 8u;
	REQUIRE(d.offset8 == 2 && d.flags == 0);
	REQUIRE(len >= sizeof(d) + VSTOR_PACKET_HEADER_SIZE && len <= sizeof(d) + sizeof(p));
	REQUIRE(len + 8 <= used);
	gring_get(g, off, buf, len + 8);
	memcpy(&trailer, buf + len, 8);
	REQUIRE(trailer >> 32 == off);
	plen = len - sizeof(d);
	memset(&p, 0, sizeof(p));
	memcpy(&p, buf + sizeof(d), plen);
	if (d.type == VM_PKT_DATA_INBAND) {
		REQUIRE(d.trans_id == 0 && p.operation == VSTOR_OPERATION_ENUMERATE_BUS);
	} else {
		struct req *r;

		REQUIRE(d.type == VM_PKT_COMP && p.operation == VSTOR_OPERATION_COMPLETE_IO);
		REQUIRE(d.trans_id >= 1 && d.trans_id <= f->nreqs);
		r = &reqs[d.trans_id - 1];
		REQUIRE(r->want && !r->done && r->slot == sl);
		REQUIRE(plen == ((r->reply_len + 7u) & ~7u));
		r->done = true;
		if (r->srb) {
			unsigned room = r->sense < STORVSC_SENSE_BUFFER_SIZE ? r->sense
									 : STORVSC_SENSE_BUFFER_SIZE;

			REQUIRE(p.vm_srb.data_transfer_length <= r->dtl);
			REQUIRE(p.vm_srb.sense_info_length <= room);
		}
	}
	__atomic_store_n(&g->hdr->read_index, (off + len + 8) % g->size, __ATOMIC_RELEASE);
	return true;
}

/* ---- records ---- */

/* OFFER, GPADL and OPENCHANNEL of offers[idx], rings from the pool. */
static void open_offer(struct fz *f, unsigned idx)
{
	uint32_t relid = f->offers[idx].relid;
	bool primary = f->offers[idx].sub == 0;
	unsigned tx = primary ? f->tx_pages : 3, rx = primary ? f->rx_pages : 2, n = tx + rx;
	uint8_t msg[VMBUS_MESSAGE_MAX];
	uint32_t len, carried;
	struct vmbus_msg_open_channel o;
	struct slot *s;
	uint64_t pfn0 = f->next_pfn;
	uint32_t handle = f->next_gpadl++;

	if (f->nslots == MAX_SLOTS || f->next_pfn + n > POOL_PAGES || f->notify[relid].fn)
		return;
	f->next_pfn += n;
	s = &f->slots[f->nslots];
	s->relid = relid;
	s->tx = (struct gring){ (struct hv_ring_buffer *)(ram + pfn0 * PG), (pfn0 + 1) * PG,
				(tx - 1) * PG };
	s->rx = (struct gring){ (struct hv_ring_buffer *)(ram + (pfn0 + tx) * PG),
				(pfn0 + tx + 1) * PG, (rx - 1) * PG };
	s->tx.hdr->feature_bits = VMBUS_RING_FEAT_PENDING_SEND_SZ;
	s->rx.hdr->feature_bits = VMBUS_RING_FEAT_PENDING_SEND_SZ;
	f->may_write[pfn0] = true; /* the host's read_index and interrupt_mask */
	for (unsigned i = tx; i < n; i++)
		f->may_write[pfn0 + i] = true;

	len = vmbus_guest_gpadl_header(msg, relid, handle, pfn0, n, n * PG, &carried);
	REQUIRE(carried == n); /* the header alone carries every page */
	f->got_gpadl = false;
	post(f, VMBUS_MESSAGE_CONNECTION_ID, msg, len);
	REQUIRE(f->got_gpadl && f->gpadl_status == VMBUS_STATUS_SUCCESS);

	o = vmbus_guest_open(relid, handle, tx, 0);
	f->got_open = false;
	post(f, VMBUS_MESSAGE_CONNECTION_ID, &o, sizeof(o));
	REQUIRE(f->got_open && f->open_status == VMBUS_STATUS_SUCCESS);
	REQUIRE(f->notify[relid].fn);
	s->open = true;
	f->nslots++;
}

static void rec_open(struct fz *f, uint8_t which)
{
	unsigned idx[MAX_OFFERS], n = 0;

	for (unsigned i = 0; i < f->noffers; i++)
		if (!f->notify[f->offers[i].relid].fn)
			idx[n++] = i;
	if (n)
		open_offer(f, idx[which % n]);
}

static void rec_close(struct fz *f, uint8_t b)
{
	unsigned sl;
	struct vmbus_msg_close_channel m = { .header.msgtype = CHANNELMSG_CLOSECHANNEL };

	if (!pick_slot(f, b, &sl))
		return;
	m.child_relid = f->slots[sl].relid;
	post(f, VMBUS_MESSAGE_CONNECTION_ID, &m, sizeof(m));
	REQUIRE(!f->slots[sl].open);
}

static uint32_t payload_size(uint8_t b)
{
	return b == 0 ? VSTOR_PACKET_MAX_SIZE : b == 1 ? VSTOR_PACKET_HEADER_SIZE +
							     VMSCSI_REQUEST_SIZE_PRE_WIN8 : b;
}

/* An in-band packet of plen payload bytes, the first n of them from payload. */
static void send_inband(struct fz *f, uint8_t chan, const void *payload, uint32_t n,
			uint32_t plen)
{
	uint32_t total = (16 + plen + 7) & ~7u;
	struct vmpacket_descriptor d = {
		.type = chan & 0x40 ? VM_PKT_COMP : VM_PKT_DATA_INBAND,
		.offset8 = 2,
		.flags = chan & 0x80 ? 0 : VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
	};
	unsigned sl;

	if (!pick_slot(f, chan, &sl))
		return;
	memset(pkt_buf, 0, total);
	memcpy(pkt_buf, &d, sizeof(d));
	memcpy(pkt_buf + 16, payload, n < plen ? n : plen);
	send_packet(f, sl, pkt_buf, total);
}

static void rec_control(struct fz *f, const uint8_t *p)
{
	struct vstor_packet v;

	memset(&v, 0, sizeof(v));
	v.operation = p[1];
	v.flags = REQUEST_COMPLETION_FLAG;
	v.version.major_minor = get16(p + 2); /* also sub_channel_count */
	send_inband(f, p[0], &v, sizeof(v), payload_size(p[4]));
}

#define SRB_REC 37u

static void rec_srb(struct fz *f, const uint8_t *p)
{
	struct vstor_packet v;
	uint32_t plen = payload_size(p[26]), nr = p[27] & 3u, off = get16(p + 28) & 0x1fffu;
	uint32_t count = get32(p + 30), base = get16(p + 34), hdr;
	int stride = (int8_t)p[36];
	uint64_t npfns, total;
	unsigned sl;

	if (!pick_slot(f, p[0], &sl))
		return;
	memset(&v, 0, sizeof(v));
	v.operation = p[2] >> 4 ? p[2] >> 4 : VSTOR_OPERATION_EXECUTE_SRB;
	v.flags = REQUEST_COMPLETION_FLAG;
	v.vm_srb.length = sizeof(struct vmscsi_request);
	v.vm_srb.lun = p[1];
	v.vm_srb.path_id = p[2] & 3u;
	v.vm_srb.target_id = p[2] >> 2 & 3u;
	v.vm_srb.cdb_length = p[3];
	memcpy(v.vm_srb.cdb, p + 4, 16);
	v.vm_srb.data_transfer_length = get32(p + 20);
	v.vm_srb.data_in = p[24];
	v.vm_srb.sense_info_length = p[25];
	v.vm_srb.win8_extension.srb_flags = SRB_FLAGS_DISABLE_SYNCH_TRANSFER;
	if (nr == 0) {
		send_inband(f, p[0], &v, sizeof(v), plen);
		return;
	}
	if (!count)
		count = v.vm_srb.data_transfer_length;
	if (p[27] & 8) {
		/* VM_PKT_DATA_USING_XFER_PAGES: nr ranges of a page set storvsp has none of. */
		struct vmtransfer_page_packet_header x = { .d = { .type = VM_PKT_DATA_USING_XFER_PAGES,
								  .flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED },
							   .range_cnt = nr };

		hdr = (uint32_t)sizeof(x) + nr * 8u;
		total = (hdr + plen + 7) & ~7u;
		x.d.offset8 = (uint16_t)(hdr / 8);
		memset(pkt_buf, 0, total);
		memcpy(pkt_buf, &x, sizeof(x));
		for (uint32_t i = 0; i < nr; i++) {
			memcpy(pkt_buf + sizeof(x) + i * 8, &count, 4);
			memcpy(pkt_buf + sizeof(x) + i * 8 + 4, &off, 4);
		}
		memcpy(pkt_buf + hdr, &v, plen < sizeof(v) ? plen : sizeof(v));
		send_packet(f, sl, pkt_buf, (uint32_t)total);
		return;
	}
	npfns = ((uint64_t)off + count + PG - 1) / PG;
	if ((p[27] & 4) && npfns)
		npfns--;
	total = 24 + nr * (8 + npfns * 8) + ((plen + 7) & ~7u);
	if (total + 8 >= f->slots[sl].tx.size)
		return; /* no ring of ours takes it */
	{
		struct vmdata_gpa_direct g = { .d = { .type = VM_PKT_DATA_USING_GPA_DIRECT,
						      .flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED },
					       .range_cnt = nr };
		uint32_t o = sizeof(g);

		hdr = (uint32_t)(24 + nr * (8 + npfns * 8));
		g.d.offset8 = (uint16_t)(hdr / 8);
		memset(pkt_buf, 0, total);
		memcpy(pkt_buf, &g, sizeof(g));
		for (uint32_t r = 0; r < nr; r++) {
			memcpy(pkt_buf + o, &count, 4);
			memcpy(pkt_buf + o + 4, &off, 4);
			o += 8;
			for (uint64_t i = 0; i < npfns; i++, o += 8) {
				uint64_t pfn;

				if (base == 0xffff) {
					pfn = UINT64_MAX - i;
				} else {
					pfn = DATA_PFN + ((base + (uint32_t)((int)i * stride)) & 0xffffu);
					if (pfn < RAM_PAGES)
						f->may_write[pfn] = true;
				}
				memcpy(pkt_buf + o, &pfn, 8);
			}
		}
		memcpy(pkt_buf + hdr, &v, plen < sizeof(v) ? plen : sizeof(v));
		send_packet(f, sl, pkt_buf, (uint32_t)total);
	}
}

/* A whole packet from the input; a GPA-direct type becomes an unknown one (page lists are the
 * SRB record's, which keeps them off the rings). */
static void rec_raw(struct fz *f, uint8_t chan, const uint8_t *p, uint32_t len)
{
	uint32_t total = len < 16 ? 16 : (len + 7) & ~7u;
	struct vmpacket_descriptor d;
	unsigned sl;

	if (!pick_slot(f, chan, &sl) || total > sizeof(pkt_buf))
		return;
	memset(pkt_buf, 0, total);
	memcpy(pkt_buf, p, len);
	memcpy(&d, pkt_buf, sizeof(d));
	if (d.type == VM_PKT_DATA_USING_GPA_DIRECT)
		d.type = VM_PKT_DATA_USING_GPADL;
	memcpy(pkt_buf, &d, sizeof(d));
	send_packet(f, sl, pkt_buf, total);
}

static void rec_read(struct fz *f, uint8_t chan, uint8_t max)
{
	unsigned sl = chan & 7u, n = 0;

	if (sl >= f->nslots)
		return;
	while ((max == 0 || n < max) && read_reply(f, sl))
		n++;
	/* Linux signals a host waiting for room (pending_send_sz) once it has read. */
	if (n && f->slots[sl].rx.hdr->pending_send_sz)
		guest_signal(f, sl);
}

static void rec_fill(const uint8_t *p, const uint8_t *bytes, uint32_t len)
{
	uint64_t gpa = (DATA_PFN + p[0] % DATA_PAGES) * (uint64_t)PG + get16(p + 1) % PG;

	if (len > RAM_SIZE - gpa)
		len = (uint32_t)(RAM_SIZE - gpa);
	gw(gpa, bytes, len);
}

static void rec_disk(struct fz *f, uint8_t op, uint8_t lun)
{
	struct error err;
	int ret;

	if (op & 1) {
		ret = storvsp_remove_disk(f->s, lun % HOST_LUNS, &err);
	} else {
		struct storvsp_disk_config cfg = { .path = img_path[op >> 1 & 1],
						   .readonly = op >> 1 & 1,
						   .cache = BLOCK_CACHE_WRITEBACK,
						   .lun = (uint8_t)(lun % HOST_LUNS) };

		ret = storvsp_add_disk(f->s, &cfg, &err);
	}
	(void)ret; /* a LUN in use, an absent one, an image still locked: refused, fine */
}

/* ---- one input ---- */

static void env_start(struct fz *f, uint8_t h0, uint8_t h1)
{
	const struct vmbus_server_ops ops = { .send = rec_send, .ctx = f };
	struct storvsp_bus bus = { .set_notify = bus_set_notify, .signal_guest = bus_signal,
				   .loop = &loop, .ctx = f };
	struct storvsp_disk_config cfg[2] = {
		{ .path = img_path[0], .lun = 0, .cache = BLOCK_CACHE_NONE },
		{ .path = img_path[1], .lun = 1, .readonly = true, .cache = BLOCK_CACHE_WRITEBACK },
	};
	struct vmbus_msg_initiate_contact ic;
	struct vmbus_msg_header rq = { .msgtype = CHANNELMSG_REQUESTOFFERS };
	unsigned nvps = 1 + (h1 & 3u), ndisks = 2;
	struct error err;

	memset(f, 0, sizeof(*f));
	memset(ram, 0, RAM_SIZE);
	memset(shadow, 0, RAM_SIZE);
	REQUIRE(ftruncate(img_fd[0], 0) == 0 && ftruncate(img_fd[0], IMG_A_SIZE) == 0);
	guest_mem_init_fake(&f->mem, ram, RAM_SIZE);
	f->next_gpadl = 0xe1e10;
	f->tx_pages = 2 + (h0 & 7u);
	f->rx_pages = 2 + (h0 >> 3 & 3u);
	if (h0 & 0x40) {
		cfg[0].lun = 2;
		ndisks = 1;
	}
	REQUIRE(vmbus_server_create(&f->srv, &f->mem, &ops, nvps) == 0);
	bus.server = f->srv;
	REQUIRE(storvsp_create_on_bus(&f->s, &bus, &f->mem, nvps, 0, cfg, ndisks, &err) == 0);
	memset(&ic, 0, sizeof(ic));
	ic.header.msgtype = CHANNELMSG_INITIATE_CONTACT;
	ic.vmbus_version_requested = VERSION_WIN10_V5_3;
	ic.msg_sint = VMBUS_MESSAGE_SINT;
	post(f, VMBUS_MESSAGE_CONNECTION_ID_4, &ic, sizeof(ic));
	post(f, VMBUS_MESSAGE_CONNECTION_ID, &rq, sizeof(rq));
	REQUIRE(f->noffers == 1 && f->offers[0].sub == 0);
	open_offer(f, 0);
	REQUIRE(f->nslots == 1);
}

/* The guest reads every answer and signals until nothing moves: then every request on an open
 * channel whose ring is intact has its answer. */
static void drain_all(struct fz *f)
{
	bool pending = true;

	for (unsigned round = 0; pending && round < 16 + f->nreqs; round++) {
		for (unsigned i = 0; i < f->nslots; i++)
			while (read_reply(f, i))
				;
		for (unsigned i = 0; i < f->nslots; i++)
			guest_signal(f, i);
		run_loop(f);
		pending = false;
		for (unsigned i = 0; i < f->nslots; i++) {
			const struct slot *s = &f->slots[i];
			const struct storvsp_chan *c = slot_chan(f, s);

			if (c && (gring_used(&s->rx) || c->queued ||
				  (!c->broken && gring_used(&s->tx))))
				pending = true;
		}
	}
	REQUIRE(!pending);
	for (unsigned i = 0; i < f->nreqs; i++) {
		const struct slot *s = &f->slots[reqs[i].slot];
		const struct storvsp_chan *c = slot_chan(f, s);

		if (c && !c->broken && reqs[i].want)
			REQUIRE(reqs[i].done);
	}
}

static void env_finish(struct fz *f, bool drain)
{
	if (drain)
		drain_all(f);
	vmbus_server_destroy(f->srv);
	storvsp_destroy(f->s);
	for (unsigned i = 0; i < f->nslots; i++)
		REQUIRE(!f->slots[i].open);
	/* Only rings and pages some page list named were the VMM's to write. */
	for (unsigned p = 0; p < RAM_PAGES; p++)
		if (!f->may_write[p])
			REQUIRE(memcmp(ram + (uint64_t)p * PG, shadow + (uint64_t)p * PG, PG) == 0);
}

/* One record (kind byte included); the bytes it takes, 0 if the input ends inside it. */
static size_t run_record(struct fz *f, const uint8_t *data, size_t size, bool may_repeat)
{
	const uint8_t *p = data + 1;
	size_t left = size - 1, used;
	uint32_t len;

	switch (data[0] % 12) {
	case 0: /* control */
		if (left < 5)
			return 0;
		rec_control(f, p);
		return 1 + 5;
	case 1: /* in-band payload */
		if (left < 2)
			return 0;
		len = p[1] < left - 2 ? p[1] : (uint32_t)(left - 2);
		send_inband(f, p[0], p + 2, len, len);
		return 1 + 2 + len;
	case 2:
		if (left < SRB_REC)
			return 0;
		rec_srb(f, p);
		return 1 + SRB_REC;
	case 3: /* raw packet */
		if (left < 3)
			return 0;
		len = get16(p + 1) < left - 3 ? get16(p + 1) : (uint32_t)(left - 3);
		rec_raw(f, p[0], p + 3, len);
		return 1 + 3 + len;
	case 4: /* signal */
		if (left < 2)
			return 0;
		if (p[0] % 8u < f->nslots)
			guest_signal(f, p[0] % 8u);
		if (p[1] & 1)
			run_loop(f);
		return 1 + 2;
	case 5:
		run_loop(f);
		return 1;
	case 6:
		if (left < 2)
			return 0;
		rec_read(f, p[0], p[1]);
		return 1 + 2;
	case 7:
		if (left < 1)
			return 0;
		rec_open(f, p[0]);
		return 1 + 1;
	case 8:
		if (left < 1)
			return 0;
		rec_close(f, p[0]);
		return 1 + 1;
	case 9: /* fill guest memory */
		if (left < 4)
			return 0;
		len = p[3] < left - 4 ? p[3] : (uint32_t)(left - 4);
		rec_fill(p, p + 4, len);
		return 1 + 4 + len;
	case 10:
		if (left < 2)
			return 0;
		rec_disk(f, p[0], p[1]);
		return 1 + 2;
	default: /* repeat: the next record n + 1 times (enough to fill rings and reach limits) */
		if (left < 2 || !may_repeat)
			return 0;
		used = run_record(f, p + 1, left - 1, false);
		for (unsigned i = 0; used && i < p[0] && f->nreqs < MAX_REQS; i++)
			run_record(f, p + 1, left - 1, false);
		return used ? 1 + 1 + used : 0;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz *f = &fz;
	size_t used = 1;

	if (size < 2)
		return 0;
	setup_once();
	env_start(f, data[0], data[1]);
	for (size_t off = 2; off < size && used && f->nreqs < MAX_REQS; off += used)
		used = run_record(f, data + off, size - off, true);
	env_finish(f, !(data[0] & 0x80));
	return 0;
}

#ifdef FUZZ_STANDALONE
#include "replay.h"
/* ---- seeds: what a Linux (protocol 6.2) and a Windows Server 2008 R2 (4.2) guest send ---- */

struct emit {
	uint8_t *b;
	size_t n;
};

static void e8(struct emit *e, unsigned v)
{
	e->b[e->n++] = (uint8_t)v;
}

static void e16(struct emit *e, unsigned v)
{
	e8(e, v & 0xff);
	e8(e, v >> 8);
}

static void e32(struct emit *e, uint32_t v)
{
	e16(e, v & 0xffff);
	e16(e, v >> 16);
}

static void e_control(struct emit *e, unsigned chan, unsigned op, unsigned arg, unsigned size)
{
	e8(e, 0), e8(e, chan), e8(e, op), e16(e, arg), e8(e, size);
}

/* An SRB with the given CDB and, with dtl, one range from byte_offset over data pages page,
 * page + 1, ... */
static void e_srb_cdb(struct emit *e, unsigned chan, unsigned lun, const uint8_t *cdb,
		      unsigned cdb_len, uint32_t dtl, unsigned data_in, unsigned size,
		      unsigned byte_offset, unsigned page)
{
	e8(e, 2), e8(e, chan), e8(e, lun), e8(e, 0), e8(e, cdb_len);
	for (unsigned i = 0; i < 16; i++)
		e8(e, i < cdb_len ? cdb[i] : 0);
	e32(e, dtl), e8(e, data_in), e8(e, STORVSC_SENSE_BUFFER_SIZE), e8(e, size);
	e8(e, dtl ? 1 : 0), e16(e, byte_offset), e32(e, 0), e16(e, page), e8(e, 1);
}

/* READ/WRITE(10)-shaped: op, a 32-bit LBA and a 16-bit block count. */
static void e_srb(struct emit *e, unsigned chan, unsigned lun, unsigned cdb_len, unsigned op,
		  uint32_t lba, unsigned blocks, uint32_t dtl, unsigned data_in, unsigned size,
		  unsigned byte_offset, unsigned page)
{
	const uint8_t cdb[16] = { (uint8_t)op, 0, (uint8_t)(lba >> 24), (uint8_t)(lba >> 16),
				  (uint8_t)(lba >> 8), (uint8_t)lba, 0, (uint8_t)(blocks >> 8),
				  (uint8_t)blocks };

	e_srb_cdb(e, chan, lun, cdb, cdb_len, dtl, data_in, size, byte_offset, page);
}

static void e_fill(struct emit *e, unsigned page, unsigned off, const uint8_t *bytes, unsigned n)
{
	e8(e, 9), e8(e, page), e16(e, off), e8(e, n);
	for (unsigned i = 0; i < n; i++)
		e8(e, bytes[i]);
}

static void e_linux_init(struct emit *e, unsigned version)
{
	e_control(e, 0, VSTOR_OPERATION_BEGIN_INITIALIZATION, 0, 0);
	e_control(e, 0, VSTOR_OPERATION_QUERY_PROTOCOL_VERSION, version, 0);
	e_control(e, 0, VSTOR_OPERATION_QUERY_PROPERTIES, 0, 0);
	e_control(e, 0, VSTOR_OPERATION_END_INITIALIZATION, 0, 0);
	e8(e, 4), e8(e, 0), e8(e, 1); /* signal, run */
	e8(e, 6), e8(e, 0), e8(e, 0); /* read them all */
}

/* Seed i into buf (4096 bytes); its length, 0 past the last. */
static size_t build_seed(unsigned i, uint8_t *buf)
{
	static const uint8_t tur[6], sync10[10] = { 0x35 }, cap16[16] = { 0x9e, 0x10, [13] = 32 };
	static const uint8_t sense6[6] = { 0x1a, 0, 0x3f, 0, 255 }, rsense[6] = { 0x03, 0, 0, 0, 18 };
	static const uint8_t vpd_b0[6] = { 0x12, 1, 0xb0, 0, 64 }, vpd_83[6] = { 0x12, 1, 0x83, 0, 64 };
	static const uint8_t unmap[10] = { 0x42, [8] = 24 };
	static const uint8_t unmap_list[24] = { 0, 22, 0, 16, [15] = 8, [19] = 4 };
	static const uint8_t wsame16[16] = { 0x93, 0x08, [9] = 20, [13] = 4 }; /* UNMAP bit */
	static const uint8_t wsame10[10] = { 0x41, 0, 0, 0, 0, 40, 0, 0, 2 };
	static const uint8_t select6[6] = { 0x15, 0x10, 0, 0, 24 };
	static const uint8_t select_list[24] = { 23, 0, 0, 0, 0x08, 18, 0x04 };
	struct emit e = { buf, 0 };
	uint8_t bytes[16];

	switch (i) {
	case 0: /* Linux: init, TUR, INQUIRY, write and read back, subchannel I/O, close */
		e8(&e, 0x09), e8(&e, 1);
		e_linux_init(&e, VMSTOR_PROTO_VERSION_WIN10);
		e_srb(&e, 0, 0, 6, 0x00, 0, 0, 0, SCSI_IOCTL_DATA_UNSPECIFIED, 0, 0, 0);
		e_srb(&e, 0, 0, 6, 0x12, 0, 0, 96, SCSI_IOCTL_DATA_IN, 0, 0, 0);
		for (unsigned k = 0; k < 16; k++)
			bytes[k] = (uint8_t)(0x40 + k);
		e_fill(&e, 1, 0, bytes, 16);
		e_srb(&e, 0, 0, 10, 0x2a, 1, 1, 512, SCSI_IOCTL_DATA_OUT, 0, 0, 1);
		e_srb(&e, 0, 0, 10, 0x28, 1, 1, 512, SCSI_IOCTL_DATA_IN, 0, 0, 2);
		e_srb(&e, 0, 1, 10, 0x28, 0, 9, 9 * 512, SCSI_IOCTL_DATA_IN, 0, 100, 3);
		e8(&e, 4), e8(&e, 0), e8(&e, 1);
		e8(&e, 6), e8(&e, 0), e8(&e, 0);
		e_control(&e, 0, VSTOR_OPERATION_CREATE_SUB_CHANNELS, 1, 0);
		e8(&e, 4), e8(&e, 0), e8(&e, 1);
		e8(&e, 6), e8(&e, 0), e8(&e, 0);
		e8(&e, 7), e8(&e, 0); /* open the subchannel */
		e_srb(&e, 1, 0, 10, 0x28, 1, 1, 512, SCSI_IOCTL_DATA_IN, 0, 0, 8);
		e8(&e, 4), e8(&e, 1), e8(&e, 1);
		e8(&e, 6), e8(&e, 1), e8(&e, 0);
		e_control(&e, 0, VSTOR_OPERATION_RESET_BUS, 0, 0);
		e8(&e, 8), e8(&e, 0); /* close the primary (and the subchannel) */
		break;
	case 1: /* Windows Server 2008 R2: 48-byte packets, a refused version, hot remove and add */
		e8(&e, 0x00), e8(&e, 0);
		e_control(&e, 0, VSTOR_OPERATION_BEGIN_INITIALIZATION, 0, 1);
		e_control(&e, 0, VSTOR_OPERATION_QUERY_PROTOCOL_VERSION, 0x0a00, 1);
		e_control(&e, 0, VSTOR_OPERATION_QUERY_PROTOCOL_VERSION, VMSTOR_PROTO_VERSION_WIN7, 1);
		e_control(&e, 0, VSTOR_OPERATION_QUERY_PROPERTIES, 0, 1);
		e_control(&e, 0, VSTOR_OPERATION_END_INITIALIZATION, 0, 1);
		e_srb(&e, 0, 0, 16, 0x88, 0, 0, 0, SCSI_IOCTL_DATA_UNSPECIFIED, 1, 0, 0);
		e_srb(&e, 0, 0, 12, 0xa0, 0, 0, 64, SCSI_IOCTL_DATA_IN, 1, 8, 4);
		e_srb(&e, 0, 1, 10, 0x28, 2, 4, 2048, SCSI_IOCTL_DATA_IN, 1, 0, 6);
		e8(&e, 4), e8(&e, 0), e8(&e, 0); /* signal without running: I/O in flight */
		e8(&e, 10), e8(&e, 1), e8(&e, 1); /* remove LUN 1 */
		e8(&e, 5);
		e8(&e, 10), e8(&e, 2), e8(&e, 5); /* add image B at LUN 5 */
		e8(&e, 6), e8(&e, 0), e8(&e, 0);
		break;
	case 2: /* malformed: short and oversized packets, unknown operations, then a broken ring */
		e8(&e, 0x07), e8(&e, 0);
		e_linux_init(&e, VMSTOR_PROTO_VERSION_WIN8);
		e8(&e, 1), e8(&e, 0), e8(&e, 3), e8(&e, 3), e8(&e, 0), e8(&e, 0); /* 3 bytes */
		e_control(&e, 0, 0x55, 0, 0);
		e_control(&e, 0x80, VSTOR_OPERATION_RESET_LUN, 0, 0); /* no completion wanted */
		e8(&e, 2), e8(&e, 0), e8(&e, 0), e8(&e, 0), e8(&e, 10);
		for (unsigned k = 0; k < 16; k++)
			e8(&e, k ? 0 : 0x28);
		e32(&e, 20000), e8(&e, 1), e8(&e, 20), e8(&e, 0), e8(&e, 1);
		e16(&e, 0), e32(&e, 0), e16(&e, DATA_PAGES - 2), e8(&e, 1); /* runs out of RAM */
		e8(&e, 2), e8(&e, 0), e8(&e, 0), e8(&e, 0), e8(&e, 10); /* 18 KiB of page numbers */
		for (unsigned k = 0; k < 16; k++)
			e8(&e, k ? 0 : 0x28);
		e32(&e, 512), e8(&e, 1), e8(&e, 20), e8(&e, 0), e8(&e, 1);
		e16(&e, 0), e32(&e, 2300 * PG), e16(&e, 0), e8(&e, 0);
		e8(&e, 4), e8(&e, 0), e8(&e, 1);
		e8(&e, 6), e8(&e, 0), e8(&e, 0);
		e8(&e, 3), e8(&e, 0), e16(&e, 24); /* raw: offset8 beyond len8 */
		e16(&e, VM_PKT_DATA_INBAND), e16(&e, 9), e16(&e, 3), e16(&e, 1);
		for (unsigned k = 0; k < 16; k++)
			e8(&e, 0);
		e8(&e, 4), e8(&e, 0), e8(&e, 1);
		break;
	case 3: /* 300 requests at once: replies queue behind a full ring, draining stops */
		e8(&e, 0x07), e8(&e, 0);
		e_linux_init(&e, VMSTOR_PROTO_VERSION_WIN10);
		e8(&e, 11), e8(&e, 149);
		e_srb_cdb(&e, 0, 0, tur, 6, 0, SCSI_IOCTL_DATA_UNSPECIFIED, 0, 0, 0);
		e8(&e, 11), e8(&e, 149);
		e_srb(&e, 0, 0, 10, 0x28, 3, 1, 512, SCSI_IOCTL_DATA_IN, 0, 0, 9);
		e8(&e, 4), e8(&e, 0), e8(&e, 0);
		e8(&e, 6), e8(&e, 0), e8(&e, 10); /* read ten, with room the host is waiting for */
		e8(&e, 4), e8(&e, 0), e8(&e, 1);
		break;
	case 4: /* the SCSI commands a Linux guest sends besides READ and WRITE */
		e8(&e, 0x19), e8(&e, 3);
		e_linux_init(&e, VMSTOR_PROTO_VERSION_WIN10);
		e_srb_cdb(&e, 0, 0, sync10, 10, 0, SCSI_IOCTL_DATA_UNSPECIFIED, 0, 0, 0);
		e_srb_cdb(&e, 0, 0, cap16, 16, 32, SCSI_IOCTL_DATA_IN, 0, 0, 0);
		e_srb_cdb(&e, 0, 0, sense6, 6, 255, SCSI_IOCTL_DATA_IN, 0, 0, 1);
		e_srb_cdb(&e, 0, 0, rsense, 6, 18, SCSI_IOCTL_DATA_IN, 0, 0, 2);
		e_srb_cdb(&e, 0, 0, vpd_b0, 6, 64, SCSI_IOCTL_DATA_IN, 0, 0, 3);
		e_srb_cdb(&e, 0, 1, vpd_83, 6, 64, SCSI_IOCTL_DATA_IN, 0, 0, 4);
		e_fill(&e, 5, 0, unmap_list, sizeof(unmap_list));
		e_srb_cdb(&e, 0, 0, unmap, 10, 24, SCSI_IOCTL_DATA_OUT, 0, 0, 5);
		e_srb_cdb(&e, 0, 0, wsame16, 16, 512, SCSI_IOCTL_DATA_OUT, 0, 0, 6);
		e_fill(&e, 7, 0, (const uint8_t *)"pattern!", 8);
		e_srb_cdb(&e, 0, 0, wsame10, 10, 512, SCSI_IOCTL_DATA_OUT, 0, 0, 7);
		e_fill(&e, 8, 0, select_list, sizeof(select_list));
		e_srb_cdb(&e, 0, 0, select6, 6, 24, SCSI_IOCTL_DATA_OUT, 0, 0, 8);
		e_srb(&e, 0, 1, 10, 0x2a, 0, 1, 512, SCSI_IOCTL_DATA_OUT, 0, 0, 9); /* read-only */
		e_srb(&e, 0, 0, 10, 0x28, 127, 2, 1024, SCSI_IOCTL_DATA_IN, 0, 0, 10); /* past the end */
		e_srb(&e, 0, 0, 10, 0x2a, 4, 8, 4096, SCSI_IOCTL_DATA_OUT, 0, 200, 11); /* unaligned */
		e_srb(&e, 0, 7, 10, 0x28, 0, 1, 512, SCSI_IOCTL_DATA_IN, 0, 0, 12); /* no such LUN */
		e8(&e, 4), e8(&e, 0), e8(&e, 1);
		e8(&e, 6), e8(&e, 0), e8(&e, 0);
		break;
	default:
		return 0;
	}
	return e.n;
}

static int write_seeds(const char *dir)
{
	uint8_t buf[4096];
	char path[512];
	size_t n;

	for (unsigned i = 0; (n = build_seed(i, buf)) != 0; i++) {
		FILE *fp;

		snprintf(path, sizeof(path), "%s/seed-%u", dir, i);
		fp = fopen(path, "wb");
		if (!fp || fwrite(buf, 1, n, fp) != n) {
			perror(path);
			if (fp)
				fclose(fp);
			return 1;
		}
		fclose(fp);
	}
	return 0;
}

/* The seeds, then 2000 deterministic mutations of them (bytes changed, records cut short). */
static void builtin_inputs(void)
{
	uint8_t seed[4096], in[4096];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t n;
	unsigned nseeds = 0, runs = 0;

	for (unsigned i = 0; (n = build_seed(i, seed)) != 0; i++, nseeds++, runs++)
		LLVMFuzzerTestOneInput(seed, n);
	for (unsigned i = 0; i < 2000; i++, runs++) {
		size_t len = build_seed(i % nseeds, seed);

		memcpy(in, seed, len);
		for (unsigned k = 0; k < 1 + i % 8; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			in[x % len] = (uint8_t)(x >> 32);
		}
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if (i % 5 == 4)
			len = 2 + x % (len - 1);
		LLVMFuzzerTestOneInput(in, len);
	}
	printf("%u inputs: ok\n", runs);
}

int main(int argc, char **argv)
{
	struct event_loop probe;
	if (argc == 3 && strcmp(argv[1], "--seeds") == 0)
		return write_seeds(argv[2]);
	if (event_loop_init(&probe) < 0) {
		fprintf(stderr, "io_uring unavailable: skipped\n");
		return 77;
	}
	event_loop_destroy(&probe);
	if (argc == 1)
		builtin_inputs();
	return fuzz_replay_files(argc, argv);
}
#endif
