/* Unit tests for storvsp, driven the way Linux 6.1's storvsc (and an older Windows guest) drive
 * it: a real VMBus server on fake guest memory, channels opened through channel messages, packets
 * written to and read from the rings as the guest side does it, real block backends on temporary
 * image files under a real event loop. Covered: the init sequence at every version, refused
 * versions, out-of-order and malformed packets, reads and writes through GPA-direct page lists,
 * bad page lists and lengths, unknown LUNs, REPORT LUNS, subchannels, replies queued behind a
 * full ring and the in-flight bound, hot add and remove, channel close with I/O in flight. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "synthetic/storvsp.h"
#include "synthetic/storvsp_internal.h"
#include "unit.h"
#include "vmbus_guest_msgs.h"
#include "vmbus/ring.h"

#define PG 4096u
#define RAM_SIZE (8u << 20)
#define NVPS 4
#define MAX_MSGS 256
#define MAX_RELID 64
#define IMG_SIZE (1u << 20)
#define DATA_PFN 1024u /* data buffers live from here; rings below */

/* ---- the environment: server, loop, controller, the guest's view ---- */

struct msg {
	uint32_t size;
	uint8_t data[VMBUS_MESSAGE_MAX];
};

struct gring {
	struct hv_ring_buffer *hdr;
	uint8_t *data;
	uint32_t size;
};

/* The guest's side of one open channel. */
struct gchan {
	uint32_t relid;
	struct gring tx; /* guest -> host: the device's inbound ring */
	struct gring rx; /* host -> guest */
};

struct env {
	uint8_t *ram;
	struct guest_mem mem;
	struct event_loop loop;
	struct vmbus_server *srv;
	struct storvsp *s;
	struct msg msgs[MAX_MSGS];
	unsigned nmsgs, next;
	struct {
		vmbus_channel_notify_fn *fn;
		void *opaque;
		struct vmbus_channel *ch;
	} notify[MAX_RELID];
	unsigned signals[MAX_RELID];
	uint64_t next_pfn;
	uint32_t next_gpadl;
	uint32_t primary_relid;
	char dir[64];
	char img[4][128];
};

static int rec_send(void *ctx, unsigned vp, unsigned sint, const void *m, uint32_t size)
{
	struct env *e = ctx;

	(void)vp, (void)sint;
	if (e->nmsgs < MAX_MSGS && size <= VMBUS_MESSAGE_MAX) {
		e->msgs[e->nmsgs].size = size;
		memset(e->msgs[e->nmsgs].data, 0, VMBUS_MESSAGE_MAX);
		memcpy(e->msgs[e->nmsgs++].data, m, size);
	}
	return 0;
}

static void bus_set_notify(void *ctx, struct vmbus_channel *ch, vmbus_channel_notify_fn *fn,
			   void *opaque)
{
	struct env *e = ctx;
	uint32_t relid = vmbus_channel_relid(ch);

	CHECK(relid < MAX_RELID);
	if (relid < MAX_RELID) {
		e->notify[relid].fn = fn;
		e->notify[relid].opaque = opaque;
		e->notify[relid].ch = ch;
	}
}

static void bus_signal(void *ctx, struct vmbus_channel *ch)
{
	struct env *e = ctx;
	uint32_t relid = vmbus_channel_relid(ch);

	if (relid < MAX_RELID)
		e->signals[relid]++;
}

/* The next channel message, which must be of this type. */
static const struct msg *take(struct env *e, uint32_t type)
{
	static const struct msg none;
	uint32_t t;

	CHECK(e->next < e->nmsgs);
	if (e->next >= e->nmsgs)
		return &none;
	memcpy(&t, e->msgs[e->next].data, 4);
	CHECK_EQ(t, type);
	return &e->msgs[e->next++];
}

static uint32_t u32_at(const struct msg *m, unsigned off)
{
	uint32_t v;

	memcpy(&v, m->data + off, 4);
	return v;
}

static void post(struct env *e, const void *m, uint32_t size)
{
	CHECK_EQ(vmbus_server_post_message(e->srv, 0, VMBUS_MESSAGE_CONNECTION_ID, VMBUS_MESSAGE_TYPE,
					   m, size), 0);
}

static void make_image(const char *path, uint8_t seed)
{
	uint8_t *buf = malloc(IMG_SIZE);
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);

	CHECK(fd >= 0 && buf);
	for (uint32_t i = 0; i < IMG_SIZE; i++)
		buf[i] = (uint8_t)(seed + i / 512);
	CHECK_EQ(write(fd, buf, IMG_SIZE), IMG_SIZE);
	close(fd);
	free(buf);
}

static void read_image(const char *path, uint64_t off, void *dst, size_t len)
{
	int fd = open(path, O_RDONLY);

	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, dst, len, (off_t)off), (ssize_t)len);
	close(fd);
}

/* A controller with disks at the given LUNs (image i has bytes seed i + sector number). */
static struct env *env_new(const uint8_t *luns, unsigned nluns)
{
	struct env *e = calloc(1, sizeof(*e));
	struct vmbus_server_ops ops = { .send = rec_send, .ctx = e };
	struct storvsp_bus bus = { .set_notify = bus_set_notify, .signal_guest = bus_signal,
				   .ctx = e };
	struct storvsp_disk_config cfg[4];
	struct vmbus_msg_initiate_contact ic;
	struct vmbus_msg_header h = { .msgtype = CHANNELMSG_REQUESTOFFERS };
	struct error err;
	const struct msg *m;

	e->ram = aligned_alloc(PG, RAM_SIZE);
	memset(e->ram, 0, RAM_SIZE);
	guest_mem_init_fake(&e->mem, e->ram, RAM_SIZE);
	e->next_pfn = 16;
	e->next_gpadl = 0xe1e10;
	CHECK_EQ(event_loop_init(&e->loop), 0);
	CHECK_EQ(vmbus_server_create(&e->srv, &e->mem, &ops, NVPS), 0);
	snprintf(e->dir, sizeof(e->dir), "/tmp/storvsp-test-XXXXXX");
	CHECK(mkdtemp(e->dir) != NULL);
	for (unsigned i = 0; i < nluns; i++) {
		snprintf(e->img[i], sizeof(e->img[i]), "%s/disk%u.img", e->dir, i);
		make_image(e->img[i], (uint8_t)(0x10 * (i + 1)));
		cfg[i] = (struct storvsp_disk_config){ .path = e->img[i], .lun = luns[i],
						       .cache = i == 1 ? BLOCK_CACHE_NONE
								       : BLOCK_CACHE_WRITEBACK };
	}
	bus.server = e->srv;
	bus.loop = &e->loop;
	CHECK_EQ(storvsp_create_on_bus(&e->s, &bus, &e->mem, NVPS, 0, cfg, nluns, &err), 0);

	memset(&ic, 0, sizeof(ic));
	ic.header.msgtype = CHANNELMSG_INITIATE_CONTACT;
	ic.vmbus_version_requested = VERSION_WIN10_V5_3;
	ic.msg_sint = VMBUS_MESSAGE_SINT;
	CHECK_EQ(vmbus_server_post_message(e->srv, 0, VMBUS_MESSAGE_CONNECTION_ID_4,
					   VMBUS_MESSAGE_TYPE, &ic, sizeof(ic)), 0);
	take(e, CHANNELMSG_VERSION_RESPONSE);
	post(e, &h, sizeof(h));
	m = take(e, CHANNELMSG_OFFERCHANNEL);
	{
		struct vmbus_msg_offer_channel o;
		struct vmbus_guid scsi = HV_SCSI_GUID;

		memcpy(&o, m->data, sizeof(o));
		CHECK(memcmp(&o.offer.if_type, &scsi, sizeof(scsi)) == 0);
		CHECK_EQ(o.offer.sub_channel_index, 0);
		e->primary_relid = o.child_relid;
	}
	take(e, CHANNELMSG_ALLOFFERS_DELIVERED);
	return e;
}

static void env_free(struct env *e)
{
	vmbus_server_destroy(e->srv);
	storvsp_destroy(e->s);
	event_loop_destroy(&e->loop);
	for (unsigned i = 0; i < 4; i++)
		if (e->img[i][0])
			unlink(e->img[i]);
	rmdir(e->dir);
	free(e->ram);
	free(e);
}

/* ---- rings, as Linux's drivers/hv/ring_buffer.c uses them ---- */

static void gring_init(struct env *e, struct gring *g, uint64_t pfn0, unsigned npages)
{
	g->hdr = (struct hv_ring_buffer *)(e->ram + pfn0 * PG);
	g->data = e->ram + (pfn0 + 1) * PG;
	g->size = (npages - 1) * PG;
	g->hdr->read_index = 0;
	g->hdr->write_index = 0;
	g->hdr->feature_bits = VMBUS_RING_FEAT_PENDING_SEND_SZ;
}

static uint32_t gring_used(const struct gring *g)
{
	uint32_t w = g->hdr->write_index, r = g->hdr->read_index;

	return w >= r ? w - r : g->size - (r - w);
}

static void gring_copy_in(struct gring *g, uint32_t *off, const void *src, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		g->data[*off] = ((const uint8_t *)src)[i];
		*off = (*off + 1) % g->size;
	}
}

/* Writes one packet (len a multiple of 8) and its trailer; false if it does not fit. */
static bool gring_write(struct gring *g, const void *pkt, uint32_t len)
{
	uint32_t start = g->hdr->write_index, off = start;
	uint64_t trailer = (uint64_t)start << 32;

	if (g->size - gring_used(g) <= len + 8)
		return false;
	gring_copy_in(g, &off, pkt, len);
	gring_copy_in(g, &off, &trailer, 8);
	__atomic_store_n(&g->hdr->write_index, off, __ATOMIC_RELEASE);
	return true;
}

/* Reads one packet into buf (descriptor included); its length, or 0 if the ring is empty. */
static uint32_t gring_read(struct gring *g, void *buf, uint32_t size)
{
	uint32_t off = g->hdr->read_index, len;
	struct vmpacket_descriptor d;
	uint8_t *out = buf;

	if (gring_used(g) == 0)
		return 0;
	for (uint32_t i = 0; i < sizeof(d); i++)
		((uint8_t *)&d)[i] = g->data[(off + i) % g->size];
	len = d.len8 * 8u;
	CHECK(len <= size);
	if (len > size)
		return 0;
	for (uint32_t i = 0; i < len; i++)
		out[i] = g->data[(off + i) % g->size];
	__atomic_store_n(&g->hdr->read_index, (off + len + 8) % g->size, __ATOMIC_RELEASE);
	return len;
}

/* ---- channels ---- */

static uint64_t alloc_pages(struct env *e, unsigned n)
{
	uint64_t p = e->next_pfn;

	e->next_pfn += n;
	CHECK(e->next_pfn < DATA_PFN);
	return p;
}

static void guest_signal(struct env *e, const struct gchan *gc)
{
	CHECK(e->notify[gc->relid].fn != NULL);
	if (e->notify[gc->relid].fn)
		e->notify[gc->relid].fn(e->notify[gc->relid].opaque, e->notify[gc->relid].ch);
}

/* GPADL of tx_pages + rx_pages pages, then OPENCHANNEL; returns the open status. */
static uint32_t open_chan(struct env *e, struct gchan *gc, uint32_t relid, unsigned tx_pages,
			  unsigned rx_pages)
{
	uint8_t buf[VMBUS_MESSAGE_MAX];
	unsigned n = tx_pages + rx_pages;
	uint64_t pfn0 = alloc_pages(e, n);
	uint32_t handle = e->next_gpadl++;
	struct vmbus_msg_open_channel o = vmbus_guest_open(relid, handle, tx_pages, 0);
	const struct msg *m;
	uint32_t len, carried;

	CHECK(n <= GPADL_HEADER_PFNS); /* one message */
	gc->relid = relid;
	gring_init(e, &gc->tx, pfn0, tx_pages);
	gring_init(e, &gc->rx, pfn0 + tx_pages, rx_pages);
	len = vmbus_guest_gpadl_header(buf, relid, handle, pfn0, n, n * PG, &carried);
	post(e, buf, len);
	m = take(e, CHANNELMSG_GPADL_CREATED);
	CHECK_EQ(u32_at(m, 16), 0);
	post(e, &o, sizeof(o));
	m = take(e, CHANNELMSG_OPENCHANNEL_RESULT);
	return u32_at(m, 16);
}

static void close_chan(struct env *e, const struct gchan *gc)
{
	struct vmbus_msg_close_channel m = { .header.msgtype = CHANNELMSG_CLOSECHANNEL,
					     .child_relid = gc->relid };

	post(e, &m, sizeof(m));
}

/* An in-band packet with COMPLETION_REQUESTED (flags as given). */
static bool send_inband(struct gchan *gc, uint64_t trans_id, uint16_t flags, const void *payload,
			uint32_t len)
{
	uint8_t buf[256];
	uint32_t total = (16 + len + 7) & ~7u;
	struct vmpacket_descriptor d = { .type = VM_PKT_DATA_INBAND, .offset8 = 2,
					 .len8 = (uint16_t)(total / 8), .flags = flags,
					 .trans_id = trans_id };

	memset(buf, 0, sizeof(buf));
	memcpy(buf, &d, sizeof(d));
	memcpy(buf + 16, payload, len);
	return gring_write(&gc->tx, buf, total);
}

/* A GPA-direct packet with nranges copies of one range (Linux sends exactly one). */
static bool send_gpa(struct gchan *gc, uint64_t trans_id, const struct vstor_packet *p,
		     uint32_t byte_offset, uint32_t byte_count, const uint64_t *pfns,
		     uint32_t npfns, uint32_t nranges)
{
	uint32_t hdr = 24 + nranges * (8 + npfns * 8), total = hdr + sizeof(*p);
	uint8_t *buf = calloc(1, total);
	struct vmpacket_descriptor d = { .type = VM_PKT_DATA_USING_GPA_DIRECT,
					 .offset8 = (uint16_t)(hdr / 8),
					 .len8 = (uint16_t)(total / 8),
					 .flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
					 .trans_id = trans_id };
	uint32_t off = 24;
	bool ok;

	memcpy(buf, &d, sizeof(d));
	memcpy(buf + 20, &nranges, 4);
	for (uint32_t r = 0; r < nranges; r++) {
		memcpy(buf + off, &byte_count, 4);
		memcpy(buf + off + 4, &byte_offset, 4);
		memcpy(buf + off + 8, pfns, npfns * 8);
		off += 8 + npfns * 8;
	}
	memcpy(buf + hdr, p, sizeof(*p));
	ok = gring_write(&gc->tx, buf, total);
	free(buf);
	return ok;
}

/* The next packet from the host: descriptor and up to a vstor_packet of payload. */
struct reply {
	struct vmpacket_descriptor d;
	uint32_t len;           /* payload bytes */
	struct vstor_packet p;
};

static bool get_reply(struct gchan *gc, struct reply *r)
{
	uint8_t buf[512];
	uint32_t n = gring_read(&gc->rx, buf, sizeof(buf));

	memset(r, 0, sizeof(*r));
	if (!n)
		return false;
	memcpy(&r->d, buf, sizeof(r->d));
	r->len = n - r->d.offset8 * 8u;
	memcpy(&r->p, buf + r->d.offset8 * 8u, r->len < sizeof(r->p) ? r->len : sizeof(r->p));
	return true;
}

static bool rx_nonempty(void *arg)
{
	return gring_used(&((struct gchan *)arg)->rx) != 0;
}

/* Signals the device, lets I/O run until something comes back, reads it. */
static bool exchange(struct env *e, struct gchan *gc, struct reply *r)
{
	guest_signal(e, gc);
	CHECK_EQ(event_loop_run_until(&e->loop, rx_nonempty, gc), 0);
	return get_reply(gc, r);
}

/* Linux's init packets: a full vstor_packet, REQUEST_COMPLETION_FLAG. */
static struct vstor_packet vstor(uint32_t op)
{
	struct vstor_packet p;

	memset(&p, 0, sizeof(p));
	p.operation = op;
	p.flags = REQUEST_COMPLETION_FLAG;
	return p;
}

static uint32_t control_len(struct env *e, struct gchan *gc, const struct vstor_packet *p,
			    uint32_t len, uint64_t trans, struct reply *r)
{
	CHECK(send_inband(gc, trans, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, p, len));
	CHECK(exchange(e, gc, r));
	CHECK_EQ(r->d.type, VM_PKT_COMP);
	CHECK_EQ(r->d.trans_id, trans);
	CHECK_EQ(r->p.operation, VSTOR_OPERATION_COMPLETE_IO);
	return r->p.status;
}

static uint32_t control(struct env *e, struct gchan *gc, const struct vstor_packet *p,
			struct reply *r)
{
	uint32_t st = control_len(e, gc, p, sizeof(*p), 0x4000 + p->operation, r);

	CHECK_EQ(r->len, sizeof(struct vstor_packet)); /* Linux drops shorter completions */
	return st;
}

/* storvsc_channel_init for one version; returns the properties. */
static struct vmstorage_channel_properties init_linux(struct env *e, struct gchan *gc,
						      uint16_t version)
{
	struct vstor_packet p = vstor(VSTOR_OPERATION_BEGIN_INITIALIZATION);
	struct reply r;
	struct vmstorage_channel_properties props;

	CHECK_EQ(control(e, gc, &p, &r), NT_STATUS_SUCCESS);
	p = vstor(VSTOR_OPERATION_QUERY_PROTOCOL_VERSION);
	p.version.major_minor = version;
	CHECK_EQ(control(e, gc, &p, &r), NT_STATUS_SUCCESS);
	CHECK_EQ(r.p.version.major_minor, version);
	p = vstor(VSTOR_OPERATION_QUERY_PROPERTIES);
	CHECK_EQ(control(e, gc, &p, &r), NT_STATUS_SUCCESS);
	props = r.p.storage_channel_properties;
	p = vstor(VSTOR_OPERATION_END_INITIALIZATION);
	CHECK_EQ(control(e, gc, &p, &r), NT_STATUS_SUCCESS);
	return props;
}

static struct env *env_ready(const uint8_t *luns, unsigned nluns, struct gchan *gc)
{
	struct env *e = env_new(luns, nluns);

	CHECK_EQ(open_chan(e, gc, e->primary_relid, 4, 4), 0);
	init_linux(e, gc, VMSTOR_PROTO_VERSION_WIN10);
	return e;
}

/* ---- SCSI helpers ---- */

static struct vstor_packet srb(uint8_t lun, const uint8_t *cdb, uint8_t cdb_len, uint32_t dtl,
			       uint8_t data_in)
{
	struct vstor_packet p = vstor(VSTOR_OPERATION_EXECUTE_SRB);

	p.vm_srb.length = sizeof(struct vmscsi_request);
	p.vm_srb.lun = lun;
	p.vm_srb.cdb_length = cdb_len;
	p.vm_srb.sense_info_length = STORVSC_SENSE_BUFFER_SIZE;
	p.vm_srb.data_in = data_in;
	p.vm_srb.data_transfer_length = dtl;
	memcpy(p.vm_srb.cdb, cdb, cdb_len);
	p.vm_srb.win8_extension.srb_flags = SRB_FLAGS_DISABLE_SYNCH_TRANSFER;
	p.vm_srb.win8_extension.time_out_value = 60;
	return p;
}

/* An SRB without data, answered. */
static void srb_nodata(struct env *e, struct gchan *gc, const struct vstor_packet *p, uint64_t trans,
		       struct reply *r)
{
	CHECK(send_inband(gc, trans, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, p, sizeof(*p)));
	CHECK(exchange(e, gc, r));
	CHECK_EQ(r->d.type, VM_PKT_COMP);
	CHECK_EQ(r->d.trans_id, trans);
}

/* An SRB with a buffer of npfns pages, answered. */
static void srb_data(struct env *e, struct gchan *gc, const struct vstor_packet *p, uint64_t trans,
		     uint32_t byte_offset, uint32_t byte_count, const uint64_t *pfns, uint32_t npfns,
		     struct reply *r)
{
	CHECK(send_gpa(gc, trans, p, byte_offset, byte_count, pfns, npfns, 1));
	CHECK(exchange(e, gc, r));
	CHECK_EQ(r->d.type, VM_PKT_COMP);
	CHECK_EQ(r->d.trans_id, trans);
}

static void cdb10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t blocks)
{
	memset(cdb, 0, 10);
	cdb[0] = op;
	cdb[2] = (uint8_t)(lba >> 24);
	cdb[3] = (uint8_t)(lba >> 16);
	cdb[4] = (uint8_t)(lba >> 8);
	cdb[5] = (uint8_t)lba;
	cdb[7] = (uint8_t)(blocks >> 8);
	cdb[8] = (uint8_t)blocks;
}

/* Guest bytes at page pfn + offset. */
static uint8_t *gpa(struct env *e, uint64_t pfn, uint32_t off)
{
	return e->ram + pfn * PG + off;
}

static const uint8_t TUR[6] = { 0x00 };

/* ---- tests ---- */

static void test_init_versions(void)
{
	static const uint16_t linux_versions[] = { VMSTOR_PROTO_VERSION_WIN10,
						   VMSTOR_PROTO_VERSION_WIN8_1,
						   VMSTOR_PROTO_VERSION_WIN8 };
	const uint8_t luns[] = { 0 };

	for (unsigned i = 0; i < 3; i++) {
		struct gchan gc;
		struct env *e = env_new(luns, 1);
		struct vmstorage_channel_properties pr;
		struct vstor_packet p;
		struct reply r;

		CHECK_EQ(open_chan(e, &gc, e->primary_relid, 4, 4), 0);
		pr = init_linux(e, &gc, linux_versions[i]);
		CHECK_EQ(pr.flags, STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL);
		CHECK_EQ(pr.max_channel_cnt, NVPS);
		CHECK_EQ(pr.max_transfer_bytes, STORVSP_MAX_TRANSFER_BYTES);
		/* Ready: a TEST UNIT READY on LUN 0 works, with a full-size answer. */
		p = srb(0, TUR, 6, 0, SCSI_IOCTL_DATA_UNSPECIFIED);
		srb_nodata(e, &gc, &p, 77, &r);
		CHECK_EQ(r.len, sizeof(struct vstor_packet));
		CHECK_EQ(r.p.status, NT_STATUS_SUCCESS);
		CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_SUCCESS);
		CHECK_EQ(r.p.vm_srb.scsi_status, SCSI_STATUS_GOOD);
		CHECK_EQ(storvsp_protocol_errors(e->s), 0);
		env_free(e);
	}
}

/* Linux's fallback: an unknown version is refused, the next one taken. And a Windows Server
 * 2008 R2 guest: protocol 4.2, pre-win8 packets (48 bytes) and answers of its own size. */
static void test_version_fallback_and_pre_win8(void)
{
	const uint8_t luns[] = { 0 };
	struct gchan gc;
	struct env *e = env_new(luns, 1);
	struct vstor_packet p;
	struct reply r;
	const uint32_t small = VSTOR_PACKET_HEADER_SIZE + VMSCSI_REQUEST_SIZE_PRE_WIN8;
	static const uint16_t bad[] = { VMSTOR_PROTO_VERSION(10, 0), VMSTOR_PROTO_VERSION(6, 1),
					VMSTOR_PROTO_VERSION(4, 0), 0, 0xffff };
	uint8_t cdb[10];

	CHECK_EQ(open_chan(e, &gc, e->primary_relid, 4, 4), 0);
	p = vstor(VSTOR_OPERATION_BEGIN_INITIALIZATION);
	CHECK_EQ(control_len(e, &gc, &p, small, 1, &r), NT_STATUS_SUCCESS);
	CHECK_EQ(r.len, small);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = vstor(VSTOR_OPERATION_QUERY_PROTOCOL_VERSION);
		p.version.major_minor = bad[i];
		CHECK_EQ(control_len(e, &gc, &p, small, 2, &r), NT_STATUS_REVISION_MISMATCH);
		CHECK_EQ(r.len, small);
	}
	p = vstor(VSTOR_OPERATION_QUERY_PROTOCOL_VERSION);
	p.version.major_minor = VMSTOR_PROTO_VERSION_WIN7;
	CHECK_EQ(control_len(e, &gc, &p, small, 3, &r), NT_STATUS_SUCCESS);
	p = vstor(VSTOR_OPERATION_QUERY_PROPERTIES);
	CHECK_EQ(control_len(e, &gc, &p, small, 4, &r), NT_STATUS_SUCCESS);
	CHECK_EQ(r.p.storage_channel_properties.flags, 0); /* no multi-channel before 5.1 */
	CHECK_EQ(r.p.storage_channel_properties.max_channel_cnt, 0);
	/* No subchannels for it either. */
	p = vstor(VSTOR_OPERATION_CREATE_SUB_CHANNELS);
	p.sub_channel_count = 1;
	CHECK_EQ(control_len(e, &gc, &p, small, 5, &r), NT_STATUS_INVALID_DEVICE_STATE);
	p = vstor(VSTOR_OPERATION_END_INITIALIZATION);
	CHECK_EQ(control_len(e, &gc, &p, small, 6, &r), NT_STATUS_SUCCESS);
	/* A pre-win8 READ(10): the extension is not there and not needed. */
	{
		uint64_t pfn = DATA_PFN;
		struct vstor_packet q;

		cdb10(cdb, 0x28, 2, 1);
		q = srb(0, cdb, 10, 512, SCSI_IOCTL_DATA_IN);
		memset(&q.vm_srb.win8_extension, 0xee, sizeof(q.vm_srb.win8_extension));
		q.vm_srb.sense_info_length = PRE_WIN8_STORVSC_SENSE_BUFFER_SIZE;
		CHECK(send_gpa(&gc, 7, &q, 0, 512, &pfn, 1, 1));
		CHECK(exchange(e, &gc, &r));
		CHECK_EQ(r.d.trans_id, 7);
		CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_SUCCESS);
		CHECK_EQ(r.p.vm_srb.data_transfer_length, 512);
		CHECK_EQ(*gpa(e, pfn, 0), 0x12); /* image seed 0x10 + sector 2 */
	}
	/* An unsolicited rescan has the version's size. */
	{
		struct storvsp_disk_config cfg = { .path = e->img[1], .lun = 9 };
		struct error err;

		snprintf(e->img[1], sizeof(e->img[1]), "%s/disk1.img", e->dir);
		make_image(e->img[1], 0x20);
		CHECK_EQ(storvsp_add_disk(e->s, &cfg, &err), 0);
		CHECK(get_reply(&gc, &r));
		CHECK_EQ(r.d.type, VM_PKT_DATA_INBAND);
		CHECK_EQ(r.p.operation, VSTOR_OPERATION_ENUMERATE_BUS);
		CHECK_EQ(r.len, small);
	}
	CHECK_EQ(storvsp_protocol_errors(e->s), 1); /* the refused CREATE_SUB_CHANNELS */
	env_free(e);
}

static void test_out_of_order(void)
{
	const uint8_t luns[] = { 0 };
	struct gchan gc;
	struct env *e = env_new(luns, 1);
	struct vstor_packet p;
	struct reply r;
	unsigned long errs;

	CHECK_EQ(open_chan(e, &gc, e->primary_relid, 4, 4), 0);
	/* Before BEGIN_INITIALIZATION: everything else is out of place. */
	p = vstor(VSTOR_OPERATION_QUERY_PROPERTIES);
	CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_INVALID_DEVICE_STATE);
	p = vstor(VSTOR_OPERATION_QUERY_PROTOCOL_VERSION);
	p.version.major_minor = VMSTOR_PROTO_VERSION_WIN10;
	CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_INVALID_DEVICE_STATE);
	p = srb(0, TUR, 6, 0, SCSI_IOCTL_DATA_UNSPECIFIED);
	CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_INVALID_DEVICE_STATE);
	p = vstor(VSTOR_OPERATION_BEGIN_INITIALIZATION);
	CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_SUCCESS);
	CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_INVALID_DEVICE_STATE); /* twice */
	p = vstor(VSTOR_OPERATION_END_INITIALIZATION);
	CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_INVALID_DEVICE_STATE);
	p = vstor(VSTOR_OPERATION_QUERY_PROTOCOL_VERSION);
	p.version.major_minor = VMSTOR_PROTO_VERSION_WIN8_1;
	CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_SUCCESS);
	p = vstor(VSTOR_OPERATION_QUERY_PROTOCOL_VERSION); /* a second one is out of place */
	p.version.major_minor = VMSTOR_PROTO_VERSION_WIN8_1;
	CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_INVALID_DEVICE_STATE);
	p = vstor(VSTOR_OPERATION_QUERY_PROPERTIES);
	CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_SUCCESS);
	p = srb(0, TUR, 6, 0, SCSI_IOCTL_DATA_UNSPECIFIED);
	CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_INVALID_DEVICE_STATE);
	p = vstor(VSTOR_OPERATION_RESET_BUS);
	CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_INVALID_DEVICE_STATE);
	p = vstor(VSTOR_OPERATION_END_INITIALIZATION);
	CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_SUCCESS);
	/* Ready: init operations are out of place, unknown ones and FC are refused. */
	p = vstor(VSTOR_OPERATION_BEGIN_INITIALIZATION);
	CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_INVALID_DEVICE_STATE);
	p = vstor(VSTOR_OPERATION_QUERY_PROPERTIES);
	CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_INVALID_DEVICE_STATE);
	p = vstor(VSTOR_OPERATION_FCHBA_DATA);
	CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_INVALID_DEVICE_REQUEST);
	p = vstor(99);
	CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_INVALID_DEVICE_REQUEST);
	p = vstor(VSTOR_OPERATION_COMPLETE_IO);
	CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_INVALID_DEVICE_REQUEST);
	p = vstor(VSTOR_OPERATION_ENUMERATE_BUS);
	CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_INVALID_DEVICE_REQUEST);
	/* Resets are answered at once. */
	for (uint32_t op = VSTOR_OPERATION_RESET_LUN; op <= VSTOR_OPERATION_RESET_BUS; op++) {
		p = vstor(op);
		CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_SUCCESS);
	}
	errs = storvsp_protocol_errors(e->s);
	CHECK(errs >= 13);
	/* No completion requested: dropped, nothing answered. */
	p = vstor(VSTOR_OPERATION_RESET_BUS);
	CHECK(send_inband(&gc, 5, 0, &p, sizeof(p)));
	guest_signal(e, &gc);
	CHECK_EQ(gring_used(&gc.rx), 0);
	CHECK_EQ(storvsp_protocol_errors(e->s), errs + 1);
	/* Shorter than the vstor header: refused with a full-size answer. */
	CHECK_EQ(control_len(e, &gc, &p, 8, 6, &r), NT_STATUS_INVALID_PARAMETER);
	CHECK_EQ(r.len, sizeof(struct vstor_packet));
	CHECK_EQ(storvsp_protocol_errors(e->s), errs + 2);
	/* Still working. */
	p = srb(0, TUR, 6, 0, SCSI_IOCTL_DATA_UNSPECIFIED);
	srb_nodata(e, &gc, &p, 8, &r);
	CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_SUCCESS);
	/* Close and reopen: initialization starts over. */
	close_chan(e, &gc);
	CHECK_EQ(open_chan(e, &gc, e->primary_relid, 4, 4), 0);
	p = srb(0, TUR, 6, 0, SCSI_IOCTL_DATA_UNSPECIFIED);
	CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_INVALID_DEVICE_STATE);
	init_linux(e, &gc, VMSTOR_PROTO_VERSION_WIN10);
	env_free(e);
}

static void test_read_write(void)
{
	const uint8_t luns[] = { 0, 1 };
	struct gchan gc;
	struct env *e = env_ready(luns, 2, &gc);
	/* Three pages, not in order, the data starting 0x200 into the first. */
	const uint64_t pfns[] = { DATA_PFN + 5, DATA_PFN + 2, DATA_PFN + 9 };
	const uint32_t off = 0x200, len = 8 * 512; /* 4 KiB over 2 pages of 3 */
	uint8_t cdb[10], expect[8 * 512], got[8 * 512];
	struct vstor_packet p;
	struct reply r;

	for (unsigned disk = 0; disk < 2; disk++) {
		/* Guest data: page 5 from 0x200, then page 2 from 0. */
		for (uint32_t i = 0; i < len; i++)
			expect[i] = (uint8_t)(i * 7 + disk);
		memcpy(gpa(e, pfns[0], off), expect, PG - off);
		memcpy(gpa(e, pfns[1], 0), expect + (PG - off), len - (PG - off));
		cdb10(cdb, 0x2a, 100, 8);
		p = srb(luns[disk], cdb, 10, len, SCSI_IOCTL_DATA_OUT);
		srb_data(e, &gc, &p, 10 + disk, off, len + 100, pfns, 3, &r);
		CHECK_EQ(r.p.status, NT_STATUS_SUCCESS);
		CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_SUCCESS);
		CHECK_EQ(r.p.vm_srb.scsi_status, SCSI_STATUS_GOOD);
		CHECK_EQ(r.p.vm_srb.data_transfer_length, len);
		CHECK_EQ(r.p.vm_srb.lun, luns[disk]);
		read_image(e->img[disk], 100 * 512, got, len);
		CHECK(memcmp(got, expect, len) == 0);
		/* Sector 99 untouched. */
		read_image(e->img[disk], 99 * 512, got, 1);
		CHECK_EQ(got[0], (uint8_t)(0x10 * (disk + 1) + 99));

		/* Read it back into other pages. */
		{
			const uint64_t rp[] = { DATA_PFN + 20, DATA_PFN + 30, DATA_PFN + 21 };

			memset(gpa(e, rp[0], 0), 0, PG);
			memset(gpa(e, rp[1], 0), 0, PG);
			cdb10(cdb, 0x28, 100, 8);
			p = srb(luns[disk], cdb, 10, len, SCSI_IOCTL_DATA_IN);
			srb_data(e, &gc, &p, 20 + disk, 0x10, len, rp, 2, &r);
			CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_SUCCESS);
			CHECK_EQ(r.p.vm_srb.data_transfer_length, len);
			CHECK(memcmp(gpa(e, rp[0], 0x10), expect, PG - 0x10) == 0);
			CHECK(memcmp(gpa(e, rp[1], 0), expect + PG - 0x10, len - (PG - 0x10)) == 0);
			CHECK_EQ(*gpa(e, rp[0], 0xf), 0); /* nothing before the offset */
		}
	}
	/* WRITE SAME(10): one block of pattern over 4; then SYNCHRONIZE CACHE(10). */
	for (uint32_t i = 0; i < 512; i++)
		*gpa(e, pfns[2], i) = (uint8_t)(0xc0 ^ i);
	cdb10(cdb, 0x41, 300, 4);
	p = srb(0, cdb, 10, 512, SCSI_IOCTL_DATA_OUT);
	srb_data(e, &gc, &p, 31, 0, 512, &pfns[2], 1, &r);
	CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_SUCCESS);
	read_image(e->img[0], 300 * 512, got, 4 * 512);
	for (uint32_t i = 0; i < 4 * 512; i++)
		if (got[i] != (uint8_t)(0xc0 ^ (i % 512))) {
			CHECK_EQ(got[i], (uint8_t)(0xc0 ^ (i % 512)));
			break;
		}
	read_image(e->img[0], 304 * 512, got, 1);
	CHECK_EQ(got[0], (uint8_t)(0x10 + 304 % 256));
	cdb10(cdb, 0x35, 0, 0);
	p = srb(0, cdb, 10, 0, SCSI_IOCTL_DATA_UNSPECIFIED);
	srb_nodata(e, &gc, &p, 32, &r);
	CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_SUCCESS);
	CHECK_EQ(r.p.vm_srb.scsi_status, SCSI_STATUS_GOOD);
	/* Reading past the end: CHECK CONDITION with autosense (LBA OUT OF RANGE). */
	cdb10(cdb, 0x28, IMG_SIZE / 512, 1);
	p = srb(0, cdb, 10, 512, SCSI_IOCTL_DATA_IN);
	srb_data(e, &gc, &p, 30, 0, 512, pfns, 1, &r);
	CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID);
	CHECK_EQ(r.p.vm_srb.scsi_status, SCSI_STATUS_CHECK_CONDITION);
	CHECK_EQ(r.p.vm_srb.sense_info_length, SCSI_SENSE_LEN);
	CHECK_EQ(r.p.vm_srb.sense_data[2] & 0xf, SCSI_SENSE_ILLEGAL_REQUEST);
	CHECK_EQ(r.p.vm_srb.sense_data[12], SCSI_ASC_LBA_OUT_OF_RANGE);
	CHECK_EQ(r.p.status, NT_STATUS_IO_DEVICE_ERROR);
	CHECK_EQ(storvsp_protocol_errors(e->s), 0);
	env_free(e);
}

static void test_bad_requests(void)
{
	const uint8_t luns[] = { 0 };
	struct gchan gc;
	struct env *e = env_ready(luns, 1, &gc);
	uint64_t pfns[3] = { DATA_PFN, DATA_PFN + 1, DATA_PFN + 2 };
	uint8_t cdb[16];
	struct vstor_packet p;
	struct reply r;
	unsigned long errs = 0;

#define EXPECT_INVALID()                                                                  \
	do {                                                                              \
		CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_INVALID_REQUEST);              \
		CHECK_EQ(r.p.vm_srb.data_transfer_length, 0);                             \
		CHECK_EQ(r.p.status, NT_STATUS_INVALID_PARAMETER);                        \
		CHECK_EQ(storvsp_protocol_errors(e->s), ++errs);                          \
	} while (0)

	memset(gpa(e, DATA_PFN, 0), 0x5a, 2 * PG);
	/* A page beyond guest RAM. */
	cdb10(cdb, 0x28, 0, 16);
	p = srb(0, cdb, 10, 8192, SCSI_IOCTL_DATA_IN);
	pfns[1] = RAM_SIZE / PG;
	srb_data(e, &gc, &p, 1, 0, 8192, pfns, 2, &r);
	EXPECT_INVALID();
	CHECK_EQ(*gpa(e, DATA_PFN, 0), 0x5a); /* nothing read into the first page either */
	/* A page number whose address overflows. */
	pfns[1] = UINT64_MAX / 16;
	srb_data(e, &gc, &p, 2, 0, 8192, pfns, 2, &r);
	EXPECT_INVALID();
	pfns[1] = DATA_PFN + 1;
	/* data_transfer_length beyond the page range: with a page more than the range needs... */
	p = srb(0, cdb, 10, 8192 + 512, SCSI_IOCTL_DATA_IN);
	srb_data(e, &gc, &p, 3, 0, 8192, pfns, 2, &r);
	EXPECT_INVALID();
	/* ...and within its last page. */
	p = srb(0, cdb, 10, 8192, SCSI_IOCTL_DATA_IN);
	srb_data(e, &gc, &p, 3, 0, 8192 - 512, pfns, 2, &r);
	EXPECT_INVALID();
	CHECK_EQ(*gpa(e, DATA_PFN + 1, 0), 0x5a);
	/* Data without a page range. */
	p = srb(0, cdb, 10, 512, SCSI_IOCTL_DATA_IN);
	srb_nodata(e, &gc, &p, 4, &r);
	EXPECT_INVALID();
	/* Two ranges. */
	CHECK(send_gpa(&gc, 5, &p, 0, 512, pfns, 1, 2));
	CHECK(exchange(e, &gc, &r));
	CHECK_EQ(r.d.trans_id, 5);
	EXPECT_INVALID();
	/* cdb_length 0 and 17. */
	p = srb(0, TUR, 6, 0, SCSI_IOCTL_DATA_UNSPECIFIED);
	p.vm_srb.cdb_length = 0;
	srb_nodata(e, &gc, &p, 6, &r);
	EXPECT_INVALID();
	p.vm_srb.cdb_length = 17;
	srb_nodata(e, &gc, &p, 7, &r);
	EXPECT_INVALID();
	/* An SRB cut short (the vstor header and 20 bytes). */
	p = srb(0, TUR, 6, 0, SCSI_IOCTL_DATA_UNSPECIFIED);
	CHECK(send_inband(&gc, 8, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, &p, 32));
	CHECK(exchange(e, &gc, &r));
	CHECK_EQ(r.len, 32 - VSTOR_PACKET_HEADER_SIZE + VSTOR_PACKET_HEADER_SIZE);
	EXPECT_INVALID();
	/* Sense lengths: an unknown opcode gets sense, as much as the guest has room for. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0xff;
	p = srb(0, cdb, 6, 0, SCSI_IOCTL_DATA_UNSPECIFIED);
	p.vm_srb.sense_info_length = 0xff; /* more than the wire has: clamped */
	srb_nodata(e, &gc, &p, 9, &r);
	CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID);
	CHECK_EQ(r.p.vm_srb.scsi_status, SCSI_STATUS_CHECK_CONDITION);
	CHECK_EQ(r.p.vm_srb.sense_info_length, SCSI_SENSE_LEN);
	CHECK_EQ(r.p.vm_srb.sense_data[0], 0x70);
	CHECK_EQ(r.p.vm_srb.sense_data[12], SCSI_ASC_INVALID_COMMAND_OPERATION_CODE);
	p.vm_srb.sense_info_length = 8;
	srb_nodata(e, &gc, &p, 10, &r);
	CHECK_EQ(r.p.vm_srb.sense_info_length, 8);
	CHECK_EQ(r.p.vm_srb.sense_data[8], 0); /* cut there */
	CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID);
	p.vm_srb.sense_info_length = 0;
	srb_nodata(e, &gc, &p, 11, &r);
	CHECK_EQ(r.p.vm_srb.sense_info_length, 0);
	CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_ERROR);
	CHECK_EQ(storvsp_protocol_errors(e->s), errs);
	/* A transfer-page packet: refused. */
	{
		uint8_t buf[16 + 8 + 64];
		struct vmpacket_descriptor d = { .type = VM_PKT_DATA_USING_XFER_PAGES, .offset8 = 3,
						 .len8 = sizeof(buf) / 8,
						 .flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
						 .trans_id = 12 };

		memset(buf, 0, sizeof(buf));
		memcpy(buf, &d, sizeof(d));
		memcpy(buf + 24, &p, sizeof(p));
		CHECK(gring_write(&gc.tx, buf, sizeof(buf)));
		CHECK(exchange(e, &gc, &r));
		CHECK_EQ(r.d.trans_id, 12);
		CHECK_EQ(r.p.status, NT_STATUS_INVALID_PARAMETER);
		CHECK_EQ(storvsp_protocol_errors(e->s), ++errs);
	}
	/* A completion from the guest: dropped. */
	{
		uint8_t buf[16 + 64];
		struct vmpacket_descriptor d = { .type = VM_PKT_COMP, .offset8 = 2,
						 .len8 = sizeof(buf) / 8, .trans_id = 13 };

		memset(buf, 0, sizeof(buf));
		memcpy(buf, &d, sizeof(d));
		CHECK(gring_write(&gc.tx, buf, sizeof(buf)));
		guest_signal(e, &gc);
		CHECK_EQ(gring_used(&gc.rx), 0);
		CHECK_EQ(storvsp_protocol_errors(e->s), ++errs);
	}
	/* Still fine afterwards. */
	p = srb(0, TUR, 6, 0, SCSI_IOCTL_DATA_UNSPECIFIED);
	srb_nodata(e, &gc, &p, 14, &r);
	CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_SUCCESS);
#undef EXPECT_INVALID
	env_free(e);
}

/* A packet bigger than the copy buffer is answered; a malformed ring stops the channel. */
static void test_oversized_and_broken_ring(void)
{
	const uint8_t luns[] = { 0 };
	struct env *e = env_new(luns, 1);
	struct gchan gc;
	uint32_t npfns = STORVSP_PACKET_BUF / 8;
	uint64_t *pfns = calloc(npfns, 8);
	uint8_t cdb[10];
	struct vstor_packet p;
	struct reply r;

	CHECK_EQ(open_chan(e, &gc, e->primary_relid, 12, 4), 0);
	init_linux(e, &gc, VMSTOR_PROTO_VERSION_WIN10);
	for (uint32_t i = 0; i < npfns; i++)
		pfns[i] = DATA_PFN + i % 64;
	cdb10(cdb, 0x28, 0, 8);
	p = srb(0, cdb, 10, 4096, SCSI_IOCTL_DATA_IN);
	CHECK(send_gpa(&gc, 21, &p, 0, npfns * PG, pfns, npfns, 1));
	CHECK(exchange(e, &gc, &r));
	CHECK_EQ(r.d.trans_id, 21);
	CHECK_EQ(r.p.status, NT_STATUS_INVALID_PARAMETER);
	CHECK_EQ(storvsp_protocol_errors(e->s), 1);
	/* A misaligned write index: the channel stops reading, nothing crashes. */
	p = srb(0, TUR, 6, 0, SCSI_IOCTL_DATA_UNSPECIFIED);
	CHECK(send_inband(&gc, 22, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, &p, sizeof(p)));
	gc.tx.hdr->write_index += 4;
	guest_signal(e, &gc);
	CHECK_EQ(gring_used(&gc.rx), 0);
	CHECK_EQ(storvsp_protocol_errors(e->s), 2);
	guest_signal(e, &gc);
	CHECK_EQ(storvsp_protocol_errors(e->s), 2); /* no more reads */
	free(pfns);
	env_free(e);
}

static void test_luns(void)
{
	const uint8_t luns[] = { 3, 0 };
	struct gchan gc;
	struct env *e = env_ready(luns, 2, &gc);
	const uint64_t pfn = DATA_PFN;
	uint8_t cdb[12], *buf = gpa(e, pfn, 0);
	struct vstor_packet p;
	struct reply r;

	/* TEST UNIT READY on an absent LUN, another target, another path. */
	p = srb(5, TUR, 6, 0, SCSI_IOCTL_DATA_UNSPECIFIED);
	srb_nodata(e, &gc, &p, 1, &r);
	CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_INVALID_LUN);
	CHECK_EQ(r.p.status, NT_STATUS_DEVICE_DOES_NOT_EXIST);
	CHECK_EQ(r.p.vm_srb.lun, 5);
	p = srb(0, TUR, 6, 0, SCSI_IOCTL_DATA_UNSPECIFIED);
	p.vm_srb.target_id = 1;
	srb_nodata(e, &gc, &p, 2, &r);
	CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_INVALID_LUN);
	p.vm_srb.target_id = 0;
	p.vm_srb.path_id = 1;
	srb_nodata(e, &gc, &p, 3, &r);
	CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_INVALID_LUN);
	p = srb(200, TUR, 6, 0, SCSI_IOCTL_DATA_UNSPECIFIED);
	srb_nodata(e, &gc, &p, 4, &r);
	CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_INVALID_LUN);

	/* INQUIRY: the disk answers for LUN 3, the controller's qualifier-3 answer for LUN 5. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x12;
	cdb[4] = 96;
	p = srb(3, cdb, 6, 96, SCSI_IOCTL_DATA_IN);
	srb_data(e, &gc, &p, 5, 0, 96, &pfn, 1, &r);
	CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_SUCCESS);
	CHECK_EQ(buf[0], 0x00); /* direct-access device */
	CHECK(memcmp(buf + 8, "Msft    Virtual Disk    1.0 ", 28) == 0);
	memset(buf, 0xaa, 96);
	p = srb(5, cdb, 6, 96, SCSI_IOCTL_DATA_IN);
	srb_data(e, &gc, &p, 6, 0, 96, &pfn, 1, &r);
	CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_SUCCESS);
	CHECK_EQ(r.p.vm_srb.data_transfer_length, 36);
	CHECK_EQ(buf[0], 0x7f);
	CHECK_EQ(buf[8], 0); /* named on LUN 0 only */
	CHECK_EQ(buf[36], 0xaa);
	p.vm_srb.path_id = 2;
	p.vm_srb.lun = 0;
	srb_data(e, &gc, &p, 7, 0, 96, &pfn, 1, &r);
	CHECK_EQ(buf[0], 0x7f);
	CHECK(memcmp(buf + 8, "Msft    ", 8) == 0);
	cdb[1] = 1; /* a VPD page of nobody: refused */
	p = srb(5, cdb, 6, 96, SCSI_IOCTL_DATA_IN);
	srb_data(e, &gc, &p, 8, 0, 96, &pfn, 1, &r);
	CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID);
	CHECK_EQ(r.p.vm_srb.sense_data[12], SCSI_ASC_INVALID_FIELD_IN_CDB);

	/* REPORT LUNS, from any LUN, even an absent one. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0xa0;
	cdb[9] = 64;
	for (uint8_t lun = 0; lun < 6; lun += 5) {
		memset(buf, 0xaa, 64);
		p = srb(lun, cdb, 12, 64, SCSI_IOCTL_DATA_IN);
		srb_data(e, &gc, &p, 9, 0, 64, &pfn, 1, &r);
		CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_SUCCESS);
		CHECK_EQ(r.p.vm_srb.data_transfer_length, 24);
		CHECK_EQ(buf[3], 16); /* two LUNs, 8 bytes each */
		CHECK_EQ(buf[8 + 1], 0);
		CHECK_EQ(buf[16 + 1], 3);
	}
	/* Another target has none. */
	p = srb(0, cdb, 12, 64, SCSI_IOCTL_DATA_IN);
	p.vm_srb.target_id = 1;
	srb_data(e, &gc, &p, 10, 0, 64, &pfn, 1, &r);
	CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_SUCCESS);
	CHECK_EQ(buf[3], 0);
	CHECK_EQ(storvsp_protocol_errors(e->s), 0);
	env_free(e);
}

static void test_subchannels(void)
{
	const uint8_t luns[] = { 0 };
	struct gchan gc, sc;
	struct env *e = env_ready(luns, 1, &gc);
	struct vstor_packet p;
	struct reply r;
	uint32_t sub_relid[NVPS];
	const struct msg *m;

	p = vstor(VSTOR_OPERATION_CREATE_SUB_CHANNELS);
	p.sub_channel_count = 2;
	CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_SUCCESS);
	for (unsigned i = 0; i < 2; i++) {
		struct vmbus_msg_offer_channel o;

		m = take(e, CHANNELMSG_OFFERCHANNEL);
		memcpy(&o, m->data, sizeof(o));
		CHECK_EQ(o.offer.sub_channel_index, i + 1);
		sub_relid[i] = o.child_relid;
	}
	CHECK_EQ(e->next, e->nmsgs);
	/* More than advertised: capped at NVPS subchannels in all. */
	p.sub_channel_count = 1000;
	CHECK_EQ(control(e, &gc, &p, &r), NT_STATUS_SUCCESS);
	for (unsigned i = 2; i < NVPS; i++) {
		struct vmbus_msg_offer_channel o;

		m = take(e, CHANNELMSG_OFFERCHANNEL);
		memcpy(&o, m->data, sizeof(o));
		CHECK_EQ(o.offer.sub_channel_index, i + 1);
		sub_relid[i] = o.child_relid;
	}
	CHECK_EQ(e->next, e->nmsgs);
	/* A subchannel carries SCSI requests like the primary, on its own rings. */
	CHECK_EQ(open_chan(e, &sc, sub_relid[1], 4, 4), 0);
	{
		uint64_t pfn = DATA_PFN;
		uint8_t cdb[10];

		cdb10(cdb, 0x28, 7, 1);
		p = srb(0, cdb, 10, 512, SCSI_IOCTL_DATA_IN);
		srb_data(e, &sc, &p, 31, 0, 512, &pfn, 1, &r);
		CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_SUCCESS);
		CHECK_EQ(*gpa(e, pfn, 511), 0x17);
		CHECK_EQ(gring_used(&gc.rx), 0);
	}
	/* Initialization and subchannel requests are the primary's. */
	p = vstor(VSTOR_OPERATION_CREATE_SUB_CHANNELS);
	p.sub_channel_count = 1;
	CHECK_EQ(control(e, &sc, &p, &r), NT_STATUS_INVALID_DEVICE_STATE);
	p = vstor(VSTOR_OPERATION_BEGIN_INITIALIZATION);
	CHECK_EQ(control(e, &sc, &p, &r), NT_STATUS_INVALID_DEVICE_STATE);
	p = vstor(VSTOR_OPERATION_RESET_LUN);
	CHECK_EQ(control(e, &sc, &p, &r), NT_STATUS_SUCCESS);
	/* Closing the primary closes the subchannel too; SRBs then find no channel. */
	close_chan(e, &gc);
	CHECK(e->notify[sc.relid].fn == NULL);
	env_free(e);
}

static bool tx_drained(void *arg)
{
	return gring_used(&((struct gchan *)arg)->tx) == 0;
}

/* 400 requests against a 4 KiB outbound ring: replies wait in the queue, pending_send_sz asks
 * for a signal, draining stops at the in-flight bound, and every reply arrives, in order. */
static void test_ring_full(void)
{
	const uint8_t luns[] = { 0 };
	struct env *e = env_new(luns, 1);
	struct gchan gc;
	struct vstor_packet p = srb(0, TUR, 6, 0, SCSI_IOCTL_DATA_UNSPECIFIED);
	struct reply r;
	const unsigned n = 400;
	unsigned got = 0, rounds = 0;
	struct storvsp_chan *c;

	CHECK_EQ(open_chan(e, &gc, e->primary_relid, 12, 2), 0);
	init_linux(e, &gc, VMSTOR_PROTO_VERSION_WIN10);
	for (unsigned i = 0; i < n; i++)
		CHECK(send_inband(&gc, 1000 + i, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, &p,
				  sizeof(p)));
	guest_signal(e, &gc);
	c = e->notify[gc.relid].opaque;
	CHECK(gc.rx.hdr->pending_send_sz != 0);
	CHECK_EQ(c->queued, STORVSP_MAX_INFLIGHT);
	CHECK_EQ(gring_used(&gc.rx), 46 * (16 + 64 + 8)); /* what fits in 4 KiB */
	CHECK(c->throttled);
	CHECK(gring_used(&gc.tx) != 0);           /* the rest is still unread... */
	CHECK_EQ(gc.tx.hdr->interrupt_mask, 1);   /* ...and the guest need not signal it */
	while (got < n && rounds++ < 100) {
		while (get_reply(&gc, &r)) {
			CHECK_EQ(r.d.trans_id, 1000 + got);
			CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_SUCCESS);
			got++;
		}
		/* Linux signals once it read past pending_send_sz. */
		guest_signal(e, &gc);
	}
	CHECK_EQ(got, n);
	CHECK(tx_drained(&gc));
	CHECK_EQ(c->queued, 0);
	CHECK(!c->throttled);
	CHECK_EQ(gc.tx.hdr->interrupt_mask, 0);
	CHECK(e->signals[gc.relid] > 0);
	CHECK_EQ(storvsp_protocol_errors(e->s), 0);
	env_free(e);
}

static bool no_inflight(void *arg)
{
	struct storvsp_chan *c = arg;

	return c->inflight == 0;
}

/* Reads whose completions find the outbound ring full wait in the queue and arrive once the
 * guest reads and signals; the guest's buffers hold the data. */
static void test_async_behind_full_ring(void)
{
	const uint8_t luns[] = { 0 };
	struct env *e = env_new(luns, 1);
	struct gchan gc;
	struct vstor_packet p = srb(0, TUR, 6, 0, SCSI_IOCTL_DATA_UNSPECIFIED);
	struct storvsp_chan *c;
	struct reply r;
	unsigned tur = 0, reads = 0;
	uint8_t cdb[10];

	CHECK_EQ(open_chan(e, &gc, e->primary_relid, 8, 2), 0);
	init_linux(e, &gc, VMSTOR_PROTO_VERSION_WIN10);
	c = e->notify[gc.relid].opaque;
	/* 50 answers fill the 4 KiB ring (46 fit), the rest wait. */
	for (unsigned i = 0; i < 50; i++)
		CHECK(send_inband(&gc, 100 + i, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, &p,
				  sizeof(p)));
	guest_signal(e, &gc);
	CHECK_EQ(c->queued, 4);
	/* Four reads of a sector each into their own page. */
	for (unsigned i = 0; i < 4; i++) {
		uint64_t pfn = DATA_PFN + 40 + i;

		memset(gpa(e, pfn, 0), 0, 512);
		cdb10(cdb, 0x28, 10 + i, 1);
		p = srb(0, cdb, 10, 512, SCSI_IOCTL_DATA_IN);
		CHECK(send_gpa(&gc, 200 + i, &p, 0, 512, &pfn, 1, 1));
	}
	guest_signal(e, &gc);
	CHECK_EQ(c->inflight, 4);
	CHECK_EQ(event_loop_run_until(&e->loop, no_inflight, c), 0);
	CHECK_EQ(c->queued, 8); /* the reads' answers too */
	while (get_reply(&gc, &r) || (guest_signal(e, &gc), get_reply(&gc, &r))) {
		if (r.d.trans_id >= 200) {
			CHECK_EQ(r.d.trans_id, 200 + reads);
			CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_SUCCESS);
			CHECK_EQ(r.p.vm_srb.data_transfer_length, 512);
			reads++;
		} else {
			CHECK_EQ(r.d.trans_id, 100 + tur);
			tur++;
		}
	}
	CHECK_EQ(tur, 50);
	CHECK_EQ(reads, 4);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(*gpa(e, DATA_PFN + 40 + i, 0), 0x10 + 10 + i);
	env_free(e);
}

static bool no_posted(void *arg)
{
	return ((struct storvsp *)arg)->posted == 0 && ((struct storvsp *)arg)->removed == NULL;
}

static void test_hot_add_remove(void)
{
	const uint8_t luns[] = { 0, 3 };
	struct gchan gc;
	struct env *e = env_ready(luns, 2, &gc);
	struct storvsp_disk_config cfg = { .path = e->img[1], .lun = 3 };
	uint8_t cdb[12];
	uint64_t pfn = DATA_PFN;
	struct vstor_packet p;
	struct reply r;
	struct error err;

	/* Remove LUN 3 while a write to it runs: the write still completes, the guest is told to
	 * rescan, and LUN 3 answers INVALID_LUN from then on. */
	memset(gpa(e, pfn, 0), 0x66, 512);
	cdb10(cdb, 0x2a, 5, 1);
	p = srb(3, cdb, 10, 512, SCSI_IOCTL_DATA_OUT);
	CHECK(send_gpa(&gc, 40, &p, 0, 512, &pfn, 1, 1));
	guest_signal(e, &gc);
	CHECK_EQ(storvsp_remove_disk(e->s, 3, &err), 0);
	CHECK(get_reply(&gc, &r)); /* the rescan request comes first */
	CHECK_EQ(r.d.type, VM_PKT_DATA_INBAND);
	CHECK_EQ(r.d.trans_id, 0);
	CHECK_EQ(r.d.flags, 0);
	CHECK_EQ(r.p.operation, VSTOR_OPERATION_ENUMERATE_BUS);
	CHECK_EQ(r.len, sizeof(struct vstor_packet));
	CHECK_EQ(event_loop_run_until(&e->loop, rx_nonempty, &gc), 0);
	CHECK(get_reply(&gc, &r));
	CHECK_EQ(r.d.trans_id, 40);
	CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_SUCCESS);
	{
		uint8_t b;

		read_image(e->img[1], 5 * 512, &b, 1);
		CHECK_EQ(b, 0x66);
	}
	p = srb(3, TUR, 6, 0, SCSI_IOCTL_DATA_UNSPECIFIED);
	srb_nodata(e, &gc, &p, 41, &r);
	CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_INVALID_LUN);
	CHECK_EQ(storvsp_remove_disk(e->s, 3, &err), -ENOENT);
	CHECK_EQ(storvsp_remove_disk(e->s, 200, &err), -ENOENT);
	/* The image is closed once idle (its lock released), so it can come back. */
	CHECK_EQ(event_loop_run_until(&e->loop, no_posted, e->s), 0);
	CHECK_EQ(storvsp_add_disk(e->s, &cfg, &err), 0);
	CHECK(get_reply(&gc, &r));
	CHECK_EQ(r.p.operation, VSTOR_OPERATION_ENUMERATE_BUS);
	CHECK_EQ(storvsp_add_disk(e->s, &cfg, &err), -EEXIST);
	cfg.lun = STORVSP_MAX_LUNS;
	CHECK_EQ(storvsp_add_disk(e->s, &cfg, &err), -EINVAL);
	cfg.lun = 7;
	cfg.path = "/nonexistent/disk.img";
	CHECK(storvsp_add_disk(e->s, &cfg, &err) < 0);
	CHECK_EQ(gring_used(&gc.rx), 0); /* failures announce nothing */
	p = srb(3, TUR, 6, 0, SCSI_IOCTL_DATA_UNSPECIFIED);
	srb_nodata(e, &gc, &p, 42, &r);
	CHECK_EQ(r.p.vm_srb.srb_status, SRB_STATUS_SUCCESS);
	/* REPORT LUNS sees it. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0xa0;
	cdb[9] = 64;
	p = srb(0, cdb, 12, 64, SCSI_IOCTL_DATA_IN);
	srb_data(e, &gc, &p, 43, 0, 64, &pfn, 1, &r);
	CHECK_EQ(*gpa(e, pfn, 3), 16);
	CHECK_EQ(*gpa(e, pfn, 17), 3);
	/* Two changes while the ring is full make one queued rescan request. */
	{
		struct storvsp_chan *c = e->notify[gc.relid].opaque;
		unsigned before, rounds = 0;

		p = srb(3, TUR, 6, 0, SCSI_IOCTL_DATA_UNSPECIFIED);
		while (c->queued == 0 && rounds++ < 10) { /* the guest stops reading replies */
			while (send_inband(&gc, 50, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, &p,
					   sizeof(p)))
				;
			guest_signal(e, &gc);
		}
		before = c->queued;
		CHECK(before > 0);
		CHECK_EQ(storvsp_remove_disk(e->s, 3, &err), 0);
		CHECK_EQ(storvsp_remove_disk(e->s, 0, &err), 0);
		CHECK_EQ(c->queued, before + 1);
		CHECK(c->enumerate_queued);
	}
	env_free(e);
}

/* The guest closes the channel with a write in flight: the write still lands, its reply goes
 * nowhere, and teardown waits for it. */
static void test_close_in_flight(void)
{
	const uint8_t luns[] = { 0 };
	struct gchan gc;
	struct env *e = env_ready(luns, 1, &gc);
	uint64_t pfns[16];
	uint8_t cdb[10], b[2];
	struct vstor_packet p;
	char path[128], dir[64];

	for (unsigned i = 0; i < 16; i++) {
		pfns[i] = DATA_PFN + i;
		memset(gpa(e, pfns[i], 0), 0x70 + i, PG);
	}
	cdb10(cdb, 0x2a, 256, 128);
	p = srb(0, cdb, 10, 16 * PG, SCSI_IOCTL_DATA_OUT);
	CHECK(send_gpa(&gc, 60, &p, 0, 16 * PG, pfns, 16, 1));
	guest_signal(e, &gc);
	close_chan(e, &gc);
	CHECK(e->s->zombies != NULL);
	snprintf(path, sizeof(path), "%s", e->img[0]);
	snprintf(dir, sizeof(dir), "%s", e->dir);
	e->img[0][0] = 0; /* keep it for the check below */
	env_free(e);
	read_image(path, 256 * 512, &b[0], 1);
	read_image(path, 256 * 512 + 15 * PG, &b[1], 1);
	CHECK_EQ(b[0], 0x70);
	CHECK_EQ(b[1], 0x7f);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	struct event_loop probe;

	log_set_level(LOG_ERROR);
	alarm(120); /* a lost completion would hang a test: fail it instead */
	if (event_loop_init(&probe) < 0) {
		fprintf(stderr, "io_uring unavailable: skipped\n");
		return 77;
	}
	event_loop_destroy(&probe);
	test_init_versions();
	test_version_fallback_and_pre_win8();
	test_out_of_order();
	test_read_write();
	test_bad_requests();
	test_oversized_and_broken_ring();
	test_luns();
	test_subchannels();
	test_ring_full();
	test_async_behind_full_ring();
	test_hot_add_remove();
	test_close_in_flight();
	return unit_done("test_storvsp");
}
