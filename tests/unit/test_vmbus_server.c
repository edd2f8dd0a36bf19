/* Unit tests for the VMBus channel-message server, driven in memory the way a Linux 6.1 guest
 * drives it (drivers/hv channel_mgmt.c, connection.c, channel.c): version negotiation on
 * connections 1 and 4, offers, GPADLs split over header and bodies as Linux splits them, open,
 * close, teardown, rescind and release, unload and reconnect, hot add, subchannels, modify; and
 * every kind of wrong message (bad lengths, unknown types, unknown relids, wrong states, GPADL
 * overflows, handle reuse, bad rings). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hv-enlight/tlfs.h"
#include "log.h"
#include "unit.h"
#include "vmbus_guest_msgs.h"
#include "vmbus/server.h"

#define RAM_SIZE (4u << 20)
#define RAM_PAGES (RAM_SIZE / 4096u)
#define NVPS 4
#define MAX_SENT 2048
#define MAX_EVENTS 64

/* Linux's split: 26 page numbers fit in a GPADL_HEADER with one range, 28 in a GPADL_BODY. */
#define HEADER_PFNS GPADL_HEADER_PFNS
#define BODY_PFNS GPADL_BODY_PFNS

struct sent {
	unsigned vp, sint;
	uint32_t size;
	uint8_t msg[VMBUS_MESSAGE_MAX];
};

struct event {
	char what;  /* 'o' device open, 'c' device close, 'r' retarget, 'O'/'C' VMM opened/closed */
	int dev;    /* test device number */
	uint32_t relid;
	unsigned index;
};

struct env;

struct test_dev {
	struct env *e;
	int num;
	int open_ret;
	struct vmbus_device *dev;
	struct vmbus_open_request last_open;
	uint64_t ring_pfn0; /* first ring page number at the last open */
	uint32_t retarget_vp;
};

struct env {
	uint8_t *ram;
	struct guest_mem mem;
	struct vmbus_server *s;
	struct sent sent[MAX_SENT];
	unsigned nsent, next; /* next: first not yet taken by take() */
	int send_ret;
	struct event events[MAX_EVENTS];
	unsigned nevents;
	struct test_dev devs[4];
};

static int rec_send(void *ctx, unsigned vp, unsigned sint, const void *msg, uint32_t size)
{
	struct env *e = ctx;

	CHECK(size <= VMBUS_MESSAGE_MAX);
	if (e->nsent < MAX_SENT && size <= VMBUS_MESSAGE_MAX) {
		struct sent *m = &e->sent[e->nsent++];

		m->vp = vp;
		m->sint = sint;
		m->size = size;
		memset(m->msg, 0, sizeof(m->msg));
		memcpy(m->msg, msg, size);
	}
	return e->send_ret;
}

static void record(struct env *e, char what, int dev, struct vmbus_channel *ch)
{
	if (e->nevents < MAX_EVENTS)
		e->events[e->nevents++] = (struct event){ what, dev, vmbus_channel_relid(ch),
							  vmbus_channel_subchannel_index(ch) };
}

static void rec_opened(void *ctx, struct vmbus_channel *ch)
{
	record(ctx, 'O', -1, ch);
}

static void rec_closed(void *ctx, struct vmbus_channel *ch)
{
	record(ctx, 'C', -1, ch);
}

static int dev_open(void *opaque, struct vmbus_channel *ch, const struct vmbus_open_request *req)
{
	struct test_dev *d = opaque;

	record(d->e, 'o', d->num, ch);
	d->last_open = *req;
	d->ring_pfn0 = vmbus_gpadl_pfns(req->ring)[0];
	return d->open_ret;
}

static void dev_close(void *opaque, struct vmbus_channel *ch)
{
	struct test_dev *d = opaque;

	record(d->e, 'c', d->num, ch);
}

static void dev_retarget(void *opaque, struct vmbus_channel *ch, uint32_t vp)
{
	struct test_dev *d = opaque;

	record(d->e, 'r', d->num, ch);
	d->retarget_vp = vp;
}

static const struct vmbus_device_ops dev_ops = {
	.open = dev_open, .close = dev_close, .retarget = dev_retarget,
};

#define SCSI_TYPE VMBUS_GUID(0xba6163d9, 0x04a1, 0x4d29, 0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f)

static struct vmbus_guid instance(int n)
{
	return VMBUS_GUID(0x11110000u + (unsigned)n, 0x2222, 0x3333, 0x44, 0x55, 0x66, 0x77, 0x88,
			  0x99, 0xaa, (uint8_t)n);
}

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));
	struct vmbus_server_ops ops = {
		.send = rec_send, .channel_opened = rec_opened, .channel_closed = rec_closed, .ctx = e,
	};

	e->ram = calloc(1, RAM_SIZE);
	guest_mem_init_fake(&e->mem, e->ram, RAM_SIZE);
	CHECK_EQ(vmbus_server_create(&e->s, &e->mem, &ops, NVPS), 0);
	for (int i = 0; i < 4; i++)
		e->devs[i] = (struct test_dev){ .e = e, .num = i };
	return e;
}

static void env_free(struct env *e)
{
	vmbus_server_destroy(e->s);
	free(e->ram);
	free(e);
}

static struct vmbus_device *add_dev(struct env *e, int n, uint16_t max_sub)
{
	struct vmbus_device_desc desc = {
		.if_type = SCSI_TYPE, .if_instance = instance(n), .mmio_megabytes = 4,
		.max_subchannels = max_sub, .name = "test", .ops = &dev_ops, .opaque = &e->devs[n],
	};

	CHECK_EQ(vmbus_server_add_device(e->s, &desc, &e->devs[n].dev), 0);
	return e->devs[n].dev;
}

/* The next message the server sent, which must be of this type. */
static const struct sent *take(struct env *e, uint32_t type)
{
	static const struct sent none;
	uint32_t t;

	CHECK(e->next < e->nsent);
	if (e->next >= e->nsent)
		return &none;
	memcpy(&t, e->sent[e->next].msg, 4);
	CHECK_EQ(t, type);
	return &e->sent[e->next++];
}

static unsigned pending(const struct env *e)
{
	return e->nsent - e->next;
}

static uint32_t u32_at(const struct sent *m, unsigned off)
{
	uint32_t v;

	memcpy(&v, m->msg + off, 4);
	return v;
}

static uint16_t post_on(struct env *e, uint32_t conn, const void *msg, uint32_t size)
{
	return vmbus_server_post_message(e->s, 0, conn, VMBUS_MESSAGE_TYPE, msg, size);
}

static uint16_t post(struct env *e, const void *msg, uint32_t size)
{
	return post_on(e, VMBUS_MESSAGE_CONNECTION_ID, msg, size);
}

static void post_type(struct env *e, uint32_t type)
{
	struct vmbus_msg_header h = { .msgtype = type };

	CHECK_EQ(post(e, &h, sizeof(h)), HV_STATUS_SUCCESS);
}

static void initiate(struct env *e, uint32_t conn, uint32_t version, uint32_t vcpu, uint8_t sint)
{
	struct vmbus_msg_initiate_contact m;

	memset(&m, 0, sizeof(m));
	m.header.msgtype = CHANNELMSG_INITIATE_CONTACT;
	m.vmbus_version_requested = version;
	m.target_vcpu = vcpu;
	if (version >= VERSION_WIN10_V5)
		m.msg_sint = sint;
	else
		m.interrupt_page = 0x5000;
	m.monitor_page1 = 0x6000;
	m.monitor_page2 = 0x7000;
	CHECK_EQ(post_on(e, conn, &m, sizeof(m)), HV_STATUS_SUCCESS);
}

/* Connects as Linux does with version 5.3 and takes the VERSION_RESPONSE. */
static void connect53(struct env *e)
{
	const struct sent *r;

	initiate(e, VMBUS_MESSAGE_CONNECTION_ID_4, VERSION_WIN10_V5_3, 0, VMBUS_MESSAGE_SINT);
	r = take(e, CHANNELMSG_VERSION_RESPONSE);
	CHECK_EQ(r->msg[8], 1);
}

/* REQUESTOFFERS, taking n offers and ALLOFFERS_DELIVERED. */
static void request_offers(struct env *e, unsigned n)
{
	post_type(e, CHANNELMSG_REQUESTOFFERS);
	for (unsigned i = 0; i < n; i++)
		take(e, CHANNELMSG_OFFERCHANNEL);
	take(e, CHANNELMSG_ALLOFFERS_DELIVERED);
	CHECK_EQ(pending(e), 0);
}

/* Sends a one-range GPADL of npages pages from pfn0 the way Linux splits it; returns the
 * GPADL_CREATED status (or ~0u if none came). */
static uint32_t gpadl_msgs(struct env *e, uint32_t relid, uint32_t handle, uint64_t pfn0,
			   uint32_t npages, uint32_t byte_count, bool bodies)
{
	uint8_t buf[VMBUS_MESSAGE_MAX];
	uint32_t done, n, len;

	len = vmbus_guest_gpadl_header(buf, relid, handle, pfn0, npages, byte_count, &done);
	CHECK_EQ(post(e, buf, len), HV_STATUS_SUCCESS);
	for (; bodies && done < npages; done += n) {
		len = vmbus_guest_gpadl_body(buf, handle, pfn0 + done, npages - done, &n);
		CHECK(pending(e) == 0); /* nothing before the last piece */
		CHECK_EQ(post(e, buf, len), HV_STATUS_SUCCESS);
	}
	if (pending(e) == 0)
		return ~0u;
	{
		const struct sent *c = take(e, CHANNELMSG_GPADL_CREATED);

		CHECK_EQ(u32_at(c, 8), relid);
		CHECK_EQ(u32_at(c, 12), handle);
		return u32_at(c, 16);
	}
}

static uint32_t gpadl(struct env *e, uint32_t relid, uint32_t handle, uint64_t pfn0,
		      uint32_t npages)
{
	return gpadl_msgs(e, relid, handle, pfn0, npages, npages * 4096u, true);
}

/* Only the GPADL_HEADER of such a GPADL (more than 26 pages: it stays in progress). */
static uint32_t gpadl_start(struct env *e, uint32_t relid, uint32_t handle, uint64_t pfn0,
			    uint32_t npages)
{
	return gpadl_msgs(e, relid, handle, pfn0, npages, npages * 4096u, false);
}

static uint32_t open_ch(struct env *e, uint32_t relid, uint32_t handle, uint32_t vp,
			uint32_t offset)
{
	struct vmbus_msg_open_channel m = vmbus_guest_open(relid, handle, offset, vp);
	const struct sent *r;

	m.userdata[0] = 0xab;
	CHECK_EQ(post(e, &m, sizeof(m)), HV_STATUS_SUCCESS);
	r = take(e, CHANNELMSG_OPENCHANNEL_RESULT);
	CHECK_EQ(u32_at(r, 8), relid);
	CHECK_EQ(u32_at(r, 12), relid);
	return u32_at(r, 16);
}

static void relid_msg(struct env *e, uint32_t type, uint32_t relid)
{
	struct vmbus_msg_close_channel m = { .header.msgtype = type, .child_relid = relid };

	CHECK_EQ(post(e, &m, sizeof(m)), HV_STATUS_SUCCESS);
}

static void teardown(struct env *e, uint32_t relid, uint32_t handle)
{
	struct vmbus_msg_gpadl_teardown m = { .header.msgtype = CHANNELMSG_GPADL_TEARDOWN,
					      .child_relid = relid, .gpadl = handle };

	CHECK_EQ(post(e, &m, sizeof(m)), HV_STATUS_SUCCESS);
}

static void modify(struct env *e, uint32_t relid, uint32_t vp)
{
	struct vmbus_msg_modifychannel m = { .header.msgtype = CHANNELMSG_MODIFYCHANNEL,
					     .child_relid = relid, .target_vp = vp };

	CHECK_EQ(post(e, &m, sizeof(m)), HV_STATUS_SUCCESS);
}

static void check_event(struct env *e, unsigned i, char what, int dev, uint32_t relid)
{
	CHECK(i < e->nevents);
	if (i >= e->nevents)
		return;
	CHECK_EQ(e->events[i].what, what);
	CHECK_EQ(e->events[i].dev, dev);
	CHECK_EQ(e->events[i].relid, relid);
}

/* A wrong message: nothing sent, one more protocol error. */
static void expect_refused(struct env *e, unsigned long *errors)
{
	CHECK_EQ(pending(e), 0);
	CHECK_EQ(vmbus_server_protocol_errors(e->s), *errors + 1);
	*errors = vmbus_server_protocol_errors(e->s);
}

/* ---- the good paths ---- */

static void test_version_negotiation(void)
{
	static const uint32_t old[] = { VERSION_WIN10_V4_1, VERSION_WIN10, VERSION_WIN8_1,
					VERSION_WIN8 };
	struct env *e = env_new();
	const struct sent *r;

	/* 5.3 on connection 4 with msg_sint 2: answer on the target VP, SINT 2, msg_conn_id 1. */
	initiate(e, VMBUS_MESSAGE_CONNECTION_ID_4, VERSION_WIN10_V5_3, 3, VMBUS_MESSAGE_SINT);
	r = take(e, CHANNELMSG_VERSION_RESPONSE);
	CHECK_EQ(r->size, sizeof(struct vmbus_msg_version_response));
	CHECK_EQ(r->vp, 3);
	CHECK_EQ(r->sint, VMBUS_MESSAGE_SINT);
	CHECK_EQ(r->msg[8], 1);  /* version_supported */
	CHECK_EQ(r->msg[9], 0);  /* connection_state: successful */
	CHECK_EQ(u32_at(r, 12), VMBUS_MESSAGE_CONNECTION_ID);
	CHECK(vmbus_server_connected(e->s));
	CHECK_EQ(vmbus_server_version(e->s), VERSION_WIN10_V5_3);
	/* 5.2, 5.1, 5.0 the same way. */
	for (uint32_t v = VERSION_WIN10_V5; v < VERSION_WIN10_V5_3; v++) {
		initiate(e, VMBUS_MESSAGE_CONNECTION_ID_4, v, 1, VMBUS_MESSAGE_SINT);
		r = take(e, CHANNELMSG_VERSION_RESPONSE);
		CHECK_EQ(r->msg[8], 1);
		CHECK_EQ(r->vp, 1);
		CHECK_EQ(vmbus_server_version(e->s), v);
	}
	/* Older versions come on connection 1 with an interrupt page; the VP is the guest's from
	 * 3.0 on, VP 0 for 2.4. */
	for (unsigned i = 0; i < 4; i++) {
		initiate(e, VMBUS_MESSAGE_CONNECTION_ID, old[i], 2, 0);
		r = take(e, CHANNELMSG_VERSION_RESPONSE);
		CHECK_EQ(r->msg[8], 1);
		CHECK_EQ(r->vp, old[i] == VERSION_WIN8 ? 0u : 2u);
		CHECK_EQ(r->sint, VMBUS_MESSAGE_SINT);
		CHECK_EQ(u32_at(r, 12), old[i]);
		CHECK_EQ(vmbus_server_version(e->s), old[i]);
	}
	/* Unknown versions: version_supported 0, disconnected; the guest's next try works. */
	{
		static const uint32_t bad[] = { (6u << 16), (5u << 16) | 4, (1u << 16) | 1, 13, 0,
						0xffffffffu };

		for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			initiate(e, bad[i] >= VERSION_WIN10_V5 ? VMBUS_MESSAGE_CONNECTION_ID_4
							       : VMBUS_MESSAGE_CONNECTION_ID,
				 bad[i], 1, VMBUS_MESSAGE_SINT);
			r = take(e, CHANNELMSG_VERSION_RESPONSE);
			CHECK_EQ(r->msg[8], 0);
			CHECK(!vmbus_server_connected(e->s));
			CHECK_EQ(vmbus_server_version(e->s), 0);
		}
	}
	connect53(e);
	CHECK_EQ(pending(e), 0);
	env_free(e);
}

static void test_offers(void)
{
	struct env *e = env_new();
	const struct sent *o;
	struct vmbus_msg_offer_channel m;
	struct vmbus_guid t = SCSI_TYPE, i1 = instance(1);

	add_dev(e, 0, 0);
	add_dev(e, 1, 0);
	CHECK_EQ(e->nsent, 0); /* nothing before the guest connects and asks */
	connect53(e);
	CHECK_EQ(pending(e), 0);
	post_type(e, CHANNELMSG_REQUESTOFFERS);
	take(e, CHANNELMSG_OFFERCHANNEL);
	o = take(e, CHANNELMSG_OFFERCHANNEL);
	CHECK_EQ(o->size, sizeof(m));
	memcpy(&m, o->msg, sizeof(m));
	CHECK(!memcmp(&m.offer.if_type, &t, 16));
	CHECK(!memcmp(&m.offer.if_instance, &i1, 16));
	CHECK_EQ(m.offer.if_type.b[0], 0xd9); /* GUID first field little-endian */
	CHECK_EQ(m.offer.mmio_megabytes, 4);
	CHECK_EQ(m.offer.sub_channel_index, 0);
	CHECK_EQ(m.child_relid, 2);
	CHECK_EQ(m.monitor_allocated, 0);
	CHECK_EQ(m.is_dedicated_interrupt, 1);
	CHECK_EQ(m.connection_id, VMBUS_CHANNEL_CONNECTION_ID_BASE | 2);
	CHECK_EQ(o->vp, 0);
	CHECK_EQ(o->sint, VMBUS_MESSAGE_SINT);
	take(e, CHANNELMSG_ALLOFFERS_DELIVERED);
	CHECK_EQ(pending(e), 0);
	CHECK_EQ(vmbus_channel_relid(vmbus_device_channel(e->devs[0].dev, 0)), 1);
	CHECK_EQ(vmbus_server_protocol_errors(e->s), 0);
	env_free(e);
}

static void test_linux_sequence(void)
{
	struct env *e = env_new();
	struct vmbus_channel *ch;
	unsigned vp, sint, flag;
	const struct sent *t;

	add_dev(e, 0, 0);
	add_dev(e, 1, 0);
	connect53(e);
	request_offers(e, 2);
	/* A 40-page ring (header + one body) and a 100-page buffer (header + 3 bodies). */
	CHECK_EQ(gpadl(e, 1, 0xe1e10, 0x100, 40), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(gpadl(e, 1, 0xe1e11, 0x200, 100), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(gpadl(e, 1, 0xe1e12, 0x300, HEADER_PFNS), VMBUS_STATUS_SUCCESS); /* header only */
	ch = vmbus_device_channel(e->devs[0].dev, 0);
	CHECK(!vmbus_channel_signal_target(ch, &vp, &sint, &flag));
	CHECK(vmbus_server_channel_by_connection_id(e->s, 0x2001) == NULL);
	/* Open: the device sees the checked request, the VMM hears of it before the result. */
	CHECK_EQ(open_ch(e, 1, 0xe1e10, 2, 20), VMBUS_STATUS_SUCCESS);
	check_event(e, 0, 'o', 0, 1);
	check_event(e, 1, 'O', -1, 1);
	CHECK_EQ(e->devs[0].last_open.target_vp, 2);
	CHECK_EQ(e->devs[0].last_open.ring_pages, 40);
	CHECK_EQ(e->devs[0].last_open.downstream_ring_offset, 20);
	CHECK_EQ(e->devs[0].last_open.open_id, 1);
	CHECK_EQ(e->devs[0].last_open.user_data[0], 0xab);
	CHECK_EQ(e->devs[0].ring_pfn0, 0x100);
	CHECK_EQ(vmbus_gpadl_pfns(e->devs[0].last_open.ring)[39], 0x100 + 39);
	CHECK(vmbus_channel_is_open(ch));
	CHECK(vmbus_channel_signal_target(ch, &vp, &sint, &flag));
	CHECK_EQ(vp, 2);
	CHECK_EQ(sint, VMBUS_MESSAGE_SINT);
	CHECK_EQ(flag, 1);
	CHECK_EQ(vmbus_channel_connection_id(ch), 0x2001);
	CHECK(vmbus_server_channel_by_connection_id(e->s, 0x2001) == ch);
	CHECK(vmbus_server_channel_by_connection_id(e->s, 0x2002) == NULL); /* not open */
	CHECK(vmbus_server_channel_by_connection_id(e->s, 1) == NULL);
	/* The device finds its other GPADL; the other device cannot. */
	{
		struct vmbus_gpadl *g = vmbus_channel_gpadl_get(ch, 0xe1e11);
		uint32_t bo, bc, first, np;

		CHECK(g != NULL);
		if (g) {
			CHECK_EQ(vmbus_gpadl_handle(g), 0xe1e11);
			CHECK_EQ(vmbus_gpadl_page_count(g), 100);
			CHECK_EQ(vmbus_gpadl_range_count(g), 1);
			CHECK_EQ(vmbus_gpadl_range(g, 0, &bo, &bc, &first, &np), 0);
			CHECK_EQ(bo, 0);
			CHECK_EQ(bc, 100 * 4096);
			CHECK_EQ(first, 0);
			CHECK_EQ(np, 100);
			CHECK_EQ(vmbus_gpadl_range(g, 1, &bo, &bc, &first, &np), -EINVAL);
			CHECK_EQ(vmbus_gpadl_pfns(g)[99], 0x200 + 99);
			vmbus_gpadl_put(g);
		}
		CHECK(vmbus_channel_gpadl_get(vmbus_device_channel(e->devs[1].dev, 0), 0xe1e11) ==
		      NULL);
		CHECK(vmbus_channel_gpadl_get(ch, 0x1234) == NULL);
	}
	/* Close: the VMM stops listening, then the device closes; no answer. */
	relid_msg(e, CHANNELMSG_CLOSECHANNEL, 1);
	CHECK_EQ(pending(e), 0);
	check_event(e, 2, 'C', -1, 1);
	check_event(e, 3, 'c', 0, 1);
	CHECK(!vmbus_channel_is_open(ch));
	/* Teardown: answered at once. */
	teardown(e, 1, 0xe1e10);
	t = take(e, CHANNELMSG_GPADL_TORNDOWN);
	CHECK_EQ(t->size, sizeof(struct vmbus_msg_gpadl_torndown));
	CHECK_EQ(u32_at(t, 8), 0xe1e10);
	teardown(e, 1, 0xe1e11);
	take(e, CHANNELMSG_GPADL_TORNDOWN);
	/* Reopen with a new ring: works. */
	CHECK_EQ(gpadl(e, 1, 0xe1e13, 0x100, 8), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(open_ch(e, 1, 0xe1e13, 0, 4), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(vmbus_server_protocol_errors(e->s), 0);
	/* Destroy closes what is open. */
	e->nevents = 0;
	vmbus_server_destroy(e->s);
	e->s = NULL;
	check_event(e, 1, 'c', 0, 1);
	free(e->ram);
	free(e);
}

static void test_teardown_while_in_use(void)
{
	struct env *e = env_new();
	struct vmbus_channel *ch;
	struct vmbus_gpadl *g;

	add_dev(e, 0, 0);
	connect53(e);
	request_offers(e, 1);
	ch = vmbus_device_channel(e->devs[0].dev, 0);
	CHECK_EQ(gpadl(e, 1, 10, 0x100, 8), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(gpadl(e, 1, 11, 0x200, 8), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(open_ch(e, 1, 10, 0, 4), VMBUS_STATUS_SUCCESS);
	/* The ring's teardown waits for the close. */
	teardown(e, 1, 10);
	CHECK_EQ(pending(e), 0);
	teardown(e, 1, 10); /* a second one is refused */
	CHECK_EQ(pending(e), 0);
	CHECK_EQ(vmbus_server_protocol_errors(e->s), 1);
	CHECK(vmbus_channel_gpadl_get(ch, 10) == NULL); /* tearing down */
	relid_msg(e, CHANNELMSG_CLOSECHANNEL, 1);
	CHECK_EQ(u32_at(take(e, CHANNELMSG_GPADL_TORNDOWN), 8), 10);
	/* A GPADL the device holds: torn down at its put. */
	g = vmbus_channel_gpadl_get(ch, 11);
	CHECK(g != NULL);
	teardown(e, 1, 11);
	CHECK_EQ(pending(e), 0);
	vmbus_gpadl_put(g);
	CHECK_EQ(u32_at(take(e, CHANNELMSG_GPADL_TORNDOWN), 8), 11);
	/* The handles are free again. */
	CHECK_EQ(gpadl(e, 1, 10, 0x100, 8), VMBUS_STATUS_SUCCESS);
	/* A held GPADL survives a disconnect as an orphan: put frees it, sends nothing. */
	g = vmbus_channel_gpadl_get(ch, 10);
	CHECK(g != NULL);
	post_type(e, CHANNELMSG_UNLOAD);
	take(e, CHANNELMSG_UNLOAD_RESPONSE);
	vmbus_gpadl_put(g);
	CHECK_EQ(pending(e), 0);
	env_free(e);
}

static void test_rescind(void)
{
	struct env *e = env_new();
	struct vmbus_device *d1;

	add_dev(e, 0, 0);
	add_dev(e, 2, 0);
	connect53(e);
	request_offers(e, 2);
	CHECK_EQ(gpadl(e, 1, 20, 0x100, 8), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(open_ch(e, 1, 20, 1, 4), VMBUS_STATUS_SUCCESS);
	e->nevents = 0;
	/* Hot remove of an open device: closed, rescinded. */
	vmbus_server_remove_device(e->s, e->devs[0].dev);
	check_event(e, 0, 'C', -1, 1);
	check_event(e, 1, 'c', 0, 1);
	CHECK_EQ(u32_at(take(e, CHANNELMSG_RESCIND_CHANNELOFFER), 8), 1);
	CHECK_EQ(pending(e), 0);
	/* The relid stays taken until released: a new device gets relid 3, and a re-added twin of the
	 * removed one (same instance) is not offered yet. */
	d1 = add_dev(e, 1, 0);
	CHECK_EQ(vmbus_channel_relid(vmbus_device_channel(d1, 0)), 3);
	take(e, CHANNELMSG_OFFERCHANNEL);
	add_dev(e, 0, 0);
	CHECK_EQ(vmbus_channel_relid(vmbus_device_channel(e->devs[0].dev, 0)), 4);
	CHECK_EQ(pending(e), 0);
	/* What Linux does next: close the rescinded channel, tear its ring down, release. */
	relid_msg(e, CHANNELMSG_CLOSECHANNEL, 1);
	CHECK_EQ(pending(e), 0);
	CHECK_EQ(vmbus_server_protocol_errors(e->s), 0);
	CHECK_EQ(gpadl(e, 1, 21, 0x100, 8), VMBUS_STATUS_UNSUCCESSFUL); /* no new GPADLs */
	CHECK_EQ(open_ch(e, 1, 20, 1, 4), VMBUS_STATUS_UNSUCCESSFUL);   /* nor opens */
	teardown(e, 1, 20);
	take(e, CHANNELMSG_GPADL_TORNDOWN);
	relid_msg(e, CHANNELMSG_RELID_RELEASED, 1);
	/* Now the twin is offered, and relid 1 is free again. */
	{
		const struct sent *o = take(e, CHANNELMSG_OFFERCHANNEL);

		CHECK_EQ(u32_at(o, 8 + 176), 4);
	}
	relid_msg(e, CHANNELMSG_RELID_RELEASED, 1); /* twice: unknown now */
	CHECK_EQ(pending(e), 0);
	add_dev(e, 3, 0);
	CHECK_EQ(vmbus_channel_relid(vmbus_device_channel(e->devs[3].dev, 0)), 1);
	take(e, CHANNELMSG_OFFERCHANNEL);
	/* Removing a device the guest does not know frees its relid at once. */
	post_type(e, CHANNELMSG_UNLOAD);
	take(e, CHANNELMSG_UNLOAD_RESPONSE);
	vmbus_server_remove_device(e->s, e->devs[3].dev);
	CHECK_EQ(pending(e), 0);
	add_dev(e, 3, 0);
	CHECK_EQ(vmbus_channel_relid(vmbus_device_channel(e->devs[3].dev, 0)), 1);
	env_free(e);
}

static void test_unload_and_reconnect(void)
{
	struct env *e = env_new();
	const struct sent *r;
	unsigned long errors;

	add_dev(e, 0, 0);
	add_dev(e, 1, 0);
	initiate(e, VMBUS_MESSAGE_CONNECTION_ID_4, VERSION_WIN10_V5_3, 3, VMBUS_MESSAGE_SINT);
	take(e, CHANNELMSG_VERSION_RESPONSE);
	request_offers(e, 2);
	CHECK_EQ(gpadl(e, 1, 0xe1e10, 0x100, 8), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(open_ch(e, 1, 0xe1e10, 0, 4), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(gpadl(e, 2, 0xe1e11, 0x200, 8), VMBUS_STATUS_SUCCESS);
	e->nevents = 0;
	/* UNLOAD: channels closed, GPADLs dropped, answer on the connection's VP. */
	post_type(e, CHANNELMSG_UNLOAD);
	check_event(e, 0, 'C', -1, 1);
	check_event(e, 1, 'c', 0, 1);
	r = take(e, CHANNELMSG_UNLOAD_RESPONSE);
	CHECK_EQ(r->vp, 3);
	CHECK_EQ(r->sint, VMBUS_MESSAGE_SINT);
	CHECK_EQ(r->size, sizeof(struct vmbus_msg_header));
	CHECK(!vmbus_server_connected(e->s));
	/* Disconnected: only INITIATE_CONTACT and UNLOAD are heard. */
	errors = vmbus_server_protocol_errors(e->s);
	post_type(e, CHANNELMSG_REQUESTOFFERS);
	expect_refused(e, &errors);
	/* The next kernel connects (older version this time) and gets the same relids. */
	initiate(e, VMBUS_MESSAGE_CONNECTION_ID, VERSION_WIN10, 1, 0);
	take(e, CHANNELMSG_VERSION_RESPONSE);
	post_type(e, CHANNELMSG_REQUESTOFFERS);
	CHECK_EQ(u32_at(take(e, CHANNELMSG_OFFERCHANNEL), 8 + 176), 1);
	CHECK_EQ(u32_at(take(e, CHANNELMSG_OFFERCHANNEL), 8 + 176), 2);
	r = take(e, CHANNELMSG_ALLOFFERS_DELIVERED);
	CHECK_EQ(r->vp, 1);
	/* The old GPADL handles are gone: reusable. */
	CHECK_EQ(gpadl(e, 1, 0xe1e10, 0x100, 8), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(gpadl(e, 2, 0xe1e11, 0x100, 8), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(open_ch(e, 1, 0xe1e10, 0, 4), VMBUS_STATUS_SUCCESS);
	/* kexec without UNLOAD: a new INITIATE_CONTACT drops the old connection first. */
	e->nevents = 0;
	connect53(e);
	check_event(e, 1, 'c', 0, 1);
	/* Offers not asked for yet: the guest cannot know relid 1. */
	CHECK_EQ(gpadl(e, 1, 0xe1e10, 0x100, 8), VMBUS_STATUS_UNSUCCESSFUL);
	request_offers(e, 2);
	CHECK_EQ(gpadl(e, 1, 0xe1e10, 0x100, 8), VMBUS_STATUS_SUCCESS);
	/* UNLOAD while disconnected: answered on the sender's VP, SINT 2. */
	post_type(e, CHANNELMSG_UNLOAD);
	take(e, CHANNELMSG_UNLOAD_RESPONSE);
	CHECK_EQ(vmbus_server_post_message(e->s, 2, 1, VMBUS_MESSAGE_TYPE,
					   &(struct vmbus_msg_header){ .msgtype = CHANNELMSG_UNLOAD },
					   8),
		 HV_STATUS_SUCCESS);
	r = take(e, CHANNELMSG_UNLOAD_RESPONSE);
	CHECK_EQ(r->vp, 2);
	CHECK_EQ(r->sint, VMBUS_MESSAGE_SINT);
	env_free(e);
}

static void test_hot_add(void)
{
	struct env *e = env_new();

	add_dev(e, 0, 0);
	connect53(e);
	/* Connected, offers not asked for yet: nothing; then both at REQUESTOFFERS. */
	add_dev(e, 1, 0);
	CHECK_EQ(pending(e), 0);
	request_offers(e, 2);
	/* After that: an immediate offer, no ALLOFFERS_DELIVERED. */
	add_dev(e, 2, 0);
	CHECK_EQ(u32_at(take(e, CHANNELMSG_OFFERCHANNEL), 8 + 176), 3);
	CHECK_EQ(pending(e), 0);
	/* Duplicate instance, bad descs. */
	{
		struct vmbus_device_desc desc = { .if_type = SCSI_TYPE, .if_instance = instance(2),
						  .ops = &dev_ops };
		struct vmbus_device_ops no_close = { .open = dev_open };
		struct vmbus_device *d;

		CHECK_EQ(vmbus_server_add_device(e->s, &desc, &d), -EEXIST);
		desc.if_instance = instance(3);
		desc.max_subchannels = VMBUS_MAX_SUBCHANNELS + 1;
		CHECK_EQ(vmbus_server_add_device(e->s, &desc, &d), -EINVAL);
		desc.max_subchannels = 0;
		desc.ops = &no_close;
		CHECK_EQ(vmbus_server_add_device(e->s, &desc, &d), -EINVAL);
		CHECK_EQ(vmbus_server_add_device(e->s, NULL, &d), -EINVAL);
	}
	CHECK_EQ(pending(e), 0);
	env_free(e);
}

static void test_subchannels(void)
{
	struct env *e = env_new();
	struct vmbus_device *d = add_dev(e, 0, 4);
	struct vmbus_channel *sub2;
	struct vmbus_guid inst = instance(0);
	struct vmbus_gpadl *g;

	add_dev(e, 1, 0);
	connect53(e);
	request_offers(e, 2);
	CHECK_EQ(vmbus_server_add_subchannels(e->s, d, 2), -ENOTCONN); /* primary not open */
	CHECK_EQ(gpadl(e, 1, 30, 0x100, 8), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(open_ch(e, 1, 30, 0, 4), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(vmbus_server_add_subchannels(e->s, d, 5), -E2BIG);
	CHECK_EQ(vmbus_server_add_subchannels(e->s, d, 3), 0);
	for (unsigned i = 1; i <= 3; i++) {
		struct vmbus_msg_offer_channel m;

		memcpy(&m, take(e, CHANNELMSG_OFFERCHANNEL)->msg, sizeof(m));
		CHECK_EQ(m.offer.sub_channel_index, i);
		CHECK(!memcmp(&m.offer.if_instance, &inst, 16));
		CHECK_EQ(m.offer.mmio_megabytes, 0);
		CHECK_EQ(m.child_relid, 2 + i);
		CHECK_EQ(m.connection_id, VMBUS_CHANNEL_CONNECTION_ID_BASE | (2 + i));
	}
	CHECK_EQ(vmbus_server_add_subchannels(e->s, d, 2), 0); /* fewer: keeps them all */
	CHECK_EQ(vmbus_device_channel_count(d), 4);
	CHECK_EQ(pending(e), 0);
	sub2 = vmbus_device_channel(d, 2);
	CHECK_EQ(vmbus_channel_subchannel_index(sub2), 2);
	CHECK_EQ(vmbus_channel_relid(sub2), 4);
	/* Open subchannel 2 on its own ring; the device reaches the primary's GPADLs from it. */
	CHECK_EQ(gpadl(e, 4, 31, 0x200, 6), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(gpadl(e, 1, 32, 0x300, 6), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(open_ch(e, 4, 30, 1, 3), VMBUS_STATUS_UNSUCCESSFUL); /* the primary's ring */
	CHECK_EQ(open_ch(e, 4, 31, 1, 3), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(e->devs[0].ring_pfn0, 0x200);
	g = vmbus_channel_gpadl_get(sub2, 32);
	CHECK(g != NULL);
	vmbus_gpadl_put(g);
	vmbus_channel_set_data(sub2, &inst);
	CHECK(vmbus_channel_data(sub2) == &inst);
	/* Closing the primary closes and rescinds its subchannels, newest first, then closes it. */
	e->nevents = 0;
	relid_msg(e, CHANNELMSG_CLOSECHANNEL, 1);
	check_event(e, 0, 'C', -1, 4);
	check_event(e, 1, 'c', 0, 4);
	check_event(e, 2, 'C', -1, 1);
	check_event(e, 3, 'c', 0, 1);
	CHECK_EQ(e->nevents, 4);
	CHECK_EQ(u32_at(take(e, CHANNELMSG_RESCIND_CHANNELOFFER), 8), 5);
	CHECK_EQ(u32_at(take(e, CHANNELMSG_RESCIND_CHANNELOFFER), 8), 4);
	CHECK_EQ(u32_at(take(e, CHANNELMSG_RESCIND_CHANNELOFFER), 8), 3);
	CHECK_EQ(pending(e), 0);
	CHECK_EQ(vmbus_device_channel_count(d), 1);
	/* Linux: close the rescinded subchannel, tear down its ring, release the relids. */
	relid_msg(e, CHANNELMSG_CLOSECHANNEL, 4);
	teardown(e, 4, 31);
	take(e, CHANNELMSG_GPADL_TORNDOWN);
	for (uint32_t r = 3; r <= 5; r++)
		relid_msg(e, CHANNELMSG_RELID_RELEASED, r);
	CHECK_EQ(pending(e), 0);
	CHECK_EQ(vmbus_server_protocol_errors(e->s), 1); /* only the open on another's ring */
	/* Reopen and ask again: new subchannels, relids reused. */
	CHECK_EQ(open_ch(e, 1, 30, 0, 4), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(vmbus_server_add_subchannels(e->s, d, 1), 0);
	CHECK_EQ(u32_at(take(e, CHANNELMSG_OFFERCHANNEL), 8 + 176), 3);
	/* UNLOAD drops subchannels without rescinds. */
	CHECK_EQ(gpadl(e, 3, 33, 0x200, 4), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(open_ch(e, 3, 33, 0, 2), VMBUS_STATUS_SUCCESS);
	e->nevents = 0;
	post_type(e, CHANNELMSG_UNLOAD);
	check_event(e, 1, 'c', 0, 3);
	check_event(e, 3, 'c', 0, 1);
	take(e, CHANNELMSG_UNLOAD_RESPONSE);
	CHECK_EQ(pending(e), 0);
	CHECK_EQ(vmbus_device_channel_count(d), 1);
	/* Hot removal of a device with subchannels: rescinds for all, subchannels first. */
	connect53(e);
	request_offers(e, 2);
	CHECK_EQ(gpadl(e, 1, 30, 0x100, 8), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(open_ch(e, 1, 30, 0, 4), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(vmbus_server_add_subchannels(e->s, d, 2), 0);
	take(e, CHANNELMSG_OFFERCHANNEL);
	take(e, CHANNELMSG_OFFERCHANNEL);
	vmbus_server_remove_device(e->s, d);
	CHECK_EQ(u32_at(take(e, CHANNELMSG_RESCIND_CHANNELOFFER), 8), 4);
	CHECK_EQ(u32_at(take(e, CHANNELMSG_RESCIND_CHANNELOFFER), 8), 3);
	CHECK_EQ(u32_at(take(e, CHANNELMSG_RESCIND_CHANNELOFFER), 8), 1);
	CHECK_EQ(pending(e), 0);
	env_free(e);
}

static void test_modify_channel(void)
{
	struct env *e = env_new();
	struct vmbus_channel *ch;
	const struct sent *r;
	unsigned vp, sint, flag;
	unsigned long errors;

	add_dev(e, 0, 0);
	connect53(e);
	request_offers(e, 1);
	ch = vmbus_device_channel(e->devs[0].dev, 0);
	CHECK_EQ(gpadl(e, 1, 40, 0x100, 8), VMBUS_STATUS_SUCCESS);
	/* Not open yet: refused, with a failed response (5.3 acknowledges). */
	modify(e, 1, 1);
	r = take(e, CHANNELMSG_MODIFYCHANNEL_RESPONSE);
	CHECK_EQ(u32_at(r, 8), 1);
	CHECK_EQ(u32_at(r, 12), VMBUS_STATUS_UNSUCCESSFUL);
	CHECK_EQ(open_ch(e, 1, 40, 0, 4), VMBUS_STATUS_SUCCESS);
	modify(e, 1, 3);
	r = take(e, CHANNELMSG_MODIFYCHANNEL_RESPONSE);
	CHECK_EQ(r->size, sizeof(struct vmbus_msg_modifychannel_response));
	CHECK_EQ(u32_at(r, 12), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(e->devs[0].retarget_vp, 3);
	CHECK(vmbus_channel_signal_target(ch, &vp, &sint, &flag));
	CHECK_EQ(vp, 3);
	modify(e, 1, NVPS); /* no such VP */
	CHECK_EQ(u32_at(take(e, CHANNELMSG_MODIFYCHANNEL_RESPONSE), 12), VMBUS_STATUS_UNSUCCESSFUL);
	modify(e, 9, 0); /* unknown relid */
	CHECK_EQ(u32_at(take(e, CHANNELMSG_MODIFYCHANNEL_RESPONSE), 12), VMBUS_STATUS_UNSUCCESSFUL);
	CHECK(vmbus_channel_signal_target(ch, &vp, &sint, &flag));
	CHECK_EQ(vp, 3);
	/* 5.2 and 4.1: no acknowledgement. 4.0: no MODIFYCHANNEL at all. */
	initiate(e, VMBUS_MESSAGE_CONNECTION_ID_4, VERSION_WIN10_V5_2, 0, VMBUS_MESSAGE_SINT);
	take(e, CHANNELMSG_VERSION_RESPONSE);
	request_offers(e, 1);
	CHECK_EQ(gpadl(e, 1, 40, 0x100, 8), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(open_ch(e, 1, 40, 0, 4), VMBUS_STATUS_SUCCESS);
	modify(e, 1, 2);
	CHECK_EQ(pending(e), 0);
	CHECK(vmbus_channel_signal_target(ch, &vp, &sint, &flag));
	CHECK_EQ(vp, 2);
	initiate(e, VMBUS_MESSAGE_CONNECTION_ID, VERSION_WIN10, 0, 0);
	take(e, CHANNELMSG_VERSION_RESPONSE);
	request_offers(e, 1);
	CHECK_EQ(gpadl(e, 1, 40, 0x100, 8), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(open_ch(e, 1, 40, 0, 4), VMBUS_STATUS_SUCCESS);
	errors = vmbus_server_protocol_errors(e->s);
	modify(e, 1, 1);
	expect_refused(e, &errors);
	CHECK(vmbus_channel_signal_target(ch, &vp, &sint, &flag));
	CHECK_EQ(vp, 0);
	env_free(e);
}

/* ---- wrong messages ---- */

static void test_malformed(void)
{
	static const struct {
		uint32_t type, min;
	} sizes[] = {
		{ CHANNELMSG_REQUESTOFFERS, 8 },   { CHANNELMSG_OPENCHANNEL, 148 },
		{ CHANNELMSG_CLOSECHANNEL, 12 },   { CHANNELMSG_GPADL_HEADER, 20 },
		{ CHANNELMSG_GPADL_BODY, 16 },     { CHANNELMSG_GPADL_TEARDOWN, 16 },
		{ CHANNELMSG_RELID_RELEASED, 12 }, { CHANNELMSG_INITIATE_CONTACT, 40 },
		{ CHANNELMSG_UNLOAD, 8 },          { CHANNELMSG_TL_CONNECT_REQUEST, 40 },
		{ CHANNELMSG_MODIFYCHANNEL, 16 },
	};
	static const uint32_t not_guest[] = { CHANNELMSG_INVALID, CHANNELMSG_OFFERCHANNEL,
					      CHANNELMSG_RESCIND_CHANNELOFFER,
					      CHANNELMSG_ALLOFFERS_DELIVERED,
					      CHANNELMSG_OPENCHANNEL_RESULT, CHANNELMSG_GPADL_CREATED,
					      CHANNELMSG_GPADL_TORNDOWN, CHANNELMSG_VERSION_RESPONSE,
					      CHANNELMSG_UNLOAD_RESPONSE, CHANNELMSG_18, CHANNELMSG_19,
					      CHANNELMSG_20, CHANNELMSG_TL_CONNECT_RESULT,
					      CHANNELMSG_MODIFYCHANNEL_RESPONSE, CHANNELMSG_COUNT, 99,
					      0x80000001u, 0xffffffffu };
	struct env *e = env_new();
	uint8_t big[VMBUS_MESSAGE_MAX + 1];
	unsigned long errors = 0;

	add_dev(e, 0, 0);
	connect53(e);
	request_offers(e, 1);
	CHECK_EQ(gpadl(e, 1, 50, 0x100, 8), VMBUS_STATUS_SUCCESS);
	/* Every guest message one byte short: dropped, whatever it says. */
	memset(big, 0, sizeof(big));
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memcpy(big, &sizes[i].type, 4);
		memset(big + 8, 1, sizeof(big) - 8); /* relid 0x01010101 etc. */
		CHECK_EQ(post(e, big, sizes[i].min - 1), HV_STATUS_SUCCESS);
		expect_refused(e, &errors);
		CHECK(vmbus_server_connected(e->s));
	}
	/* Shorter than a header. */
	CHECK_EQ(post(e, big, 0), HV_STATUS_SUCCESS);
	expect_refused(e, &errors);
	CHECK_EQ(post(e, big, 7), HV_STATUS_SUCCESS);
	expect_refused(e, &errors);
	/* Types a guest does not send, or nobody knows. */
	for (unsigned i = 0; i < sizeof(not_guest) / sizeof(not_guest[0]); i++) {
		memset(big, 0, sizeof(big));
		memcpy(big, &not_guest[i], 4);
		CHECK_EQ(post(e, big, VMBUS_MESSAGE_MAX), HV_STATUS_SUCCESS);
		expect_refused(e, &errors);
	}
	/* Not a VMBus message type; not a VMBus connection; too long. */
	CHECK_EQ(vmbus_server_post_message(e->s, 0, 1, 2, big, 8), HV_STATUS_SUCCESS);
	expect_refused(e, &errors);
	CHECK_EQ(vmbus_server_post_message(e->s, 0, 5, VMBUS_MESSAGE_TYPE, big, 8),
		 HV_STATUS_INVALID_CONNECTION_ID);
	CHECK_EQ(vmbus_server_post_message(e->s, 0, 0x2001, VMBUS_MESSAGE_TYPE, big, 8),
		 HV_STATUS_INVALID_CONNECTION_ID);
	CHECK_EQ(vmbus_server_post_message(e->s, 0, 1, VMBUS_MESSAGE_TYPE, big, sizeof(big)),
		 HV_STATUS_INVALID_PARAMETER);
	CHECK_EQ(pending(e), 0);
	/* hv_sock: not supported, dropped. */
	{
		struct vmbus_msg_tl_connect_request m = {
			.header.msgtype = CHANNELMSG_TL_CONNECT_REQUEST
		};

		CHECK_EQ(post(e, &m, sizeof(m)), HV_STATUS_SUCCESS);
		expect_refused(e, &errors);
	}
	/* After all that the connection still works. */
	CHECK_EQ(open_ch(e, 1, 50, 0, 4), VMBUS_STATUS_SUCCESS);
	env_free(e);
}

static void test_wrong_state(void)
{
	struct env *e = env_new();
	unsigned long errors = 0;

	add_dev(e, 0, 0);
	/* Before INITIATE_CONTACT nothing but INITIATE_CONTACT and UNLOAD is heard. */
	post_type(e, CHANNELMSG_REQUESTOFFERS);
	expect_refused(e, &errors);
	CHECK_EQ(gpadl(e, 1, 60, 0x100, 8), ~0u);
	expect_refused(e, &errors);
	{
		struct vmbus_msg_open_channel m = { .header.msgtype = CHANNELMSG_OPENCHANNEL,
						    .child_relid = 1 };

		CHECK_EQ(post(e, &m, sizeof(m)), HV_STATUS_SUCCESS);
		expect_refused(e, &errors);
	}
	relid_msg(e, CHANNELMSG_CLOSECHANNEL, 1);
	expect_refused(e, &errors);
	/* Linux's hv_vmbus sends it after UNLOAD: ignored, nothing sent, not counted. */
	relid_msg(e, CHANNELMSG_RELID_RELEASED, 1);
	CHECK_EQ(pending(e), 0);
	CHECK_EQ(vmbus_server_protocol_errors(e->s), errors);
	modify(e, 1, 0);
	expect_refused(e, &errors);
	/* INITIATE_CONTACT we cannot answer: no such VP, or a SINT out of range. */
	initiate(e, VMBUS_MESSAGE_CONNECTION_ID_4, VERSION_WIN10_V5_3, NVPS, VMBUS_MESSAGE_SINT);
	expect_refused(e, &errors);
	initiate(e, VMBUS_MESSAGE_CONNECTION_ID_4, VERSION_WIN10_V5_3, 0, 16);
	expect_refused(e, &errors);
	CHECK(!vmbus_server_connected(e->s));
	/* Another SINT on connection 4: refused on that SINT. On connection 1 the field is not
	 * read: SINT 2. */
	initiate(e, VMBUS_MESSAGE_CONNECTION_ID_4, VERSION_WIN10_V5_3, 1, 5);
	{
		const struct sent *r = take(e, CHANNELMSG_VERSION_RESPONSE);

		CHECK_EQ(r->msg[8], 0);
		CHECK_EQ(r->sint, 5);
		CHECK_EQ(r->vp, 1);
		errors++;
	}
	CHECK(!vmbus_server_connected(e->s));
	initiate(e, VMBUS_MESSAGE_CONNECTION_ID, VERSION_WIN10_V5_3, 1, 5);
	{
		const struct sent *r = take(e, CHANNELMSG_VERSION_RESPONSE);

		CHECK_EQ(r->msg[8], 1);
		CHECK_EQ(r->sint, VMBUS_MESSAGE_SINT);
	}
	/* Connected, offers not requested: the guest does not know relid 1 yet. */
	CHECK_EQ(gpadl(e, 1, 60, 0x100, 8), VMBUS_STATUS_UNSUCCESSFUL);
	errors++;
	CHECK_EQ(open_ch(e, 1, 60, 0, 4), VMBUS_STATUS_UNSUCCESSFUL);
	errors++;
	request_offers(e, 1);
	post_type(e, CHANNELMSG_REQUESTOFFERS); /* twice */
	expect_refused(e, &errors);
	/* Unknown relids. */
	CHECK_EQ(open_ch(e, 7, 60, 0, 4), VMBUS_STATUS_UNSUCCESSFUL);
	errors++;
	CHECK_EQ(open_ch(e, 0, 60, 0, 4), VMBUS_STATUS_UNSUCCESSFUL);
	errors++;
	CHECK_EQ(open_ch(e, 0xffffffffu, 60, 0, 4), VMBUS_STATUS_UNSUCCESSFUL);
	errors++;
	CHECK_EQ(gpadl(e, 7, 60, 0x100, 8), VMBUS_STATUS_UNSUCCESSFUL);
	errors++;
	relid_msg(e, CHANNELMSG_CLOSECHANNEL, 7);
	expect_refused(e, &errors);
	relid_msg(e, CHANNELMSG_CLOSECHANNEL, 0xffffffffu);
	expect_refused(e, &errors);
	relid_msg(e, CHANNELMSG_RELID_RELEASED, 7);
	expect_refused(e, &errors);
	relid_msg(e, CHANNELMSG_RELID_RELEASED, 0);
	expect_refused(e, &errors);
	teardown(e, 1, 0x999);
	expect_refused(e, &errors);
	CHECK_EQ(vmbus_server_protocol_errors(e->s), errors);
	/* Close of a channel that is not open; duplicate open; release of an open channel. */
	relid_msg(e, CHANNELMSG_CLOSECHANNEL, 1);
	expect_refused(e, &errors);
	CHECK_EQ(gpadl(e, 1, 60, 0x100, 8), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(open_ch(e, 1, 60, 0, 4), VMBUS_STATUS_SUCCESS);
	e->nevents = 0;
	CHECK_EQ(open_ch(e, 1, 60, 0, 4), VMBUS_STATUS_UNSUCCESSFUL);
	errors++;
	CHECK_EQ(e->nevents, 0); /* the device did not see it */
	relid_msg(e, CHANNELMSG_RELID_RELEASED, 1);
	expect_refused(e, &errors);
	CHECK(vmbus_channel_is_open(vmbus_device_channel(e->devs[0].dev, 0)));
	CHECK_EQ(vmbus_server_protocol_errors(e->s), errors);
	env_free(e);
}

static void test_open_refusals(void)
{
	struct env *e = env_new();
	unsigned long errors;

	add_dev(e, 0, 0);
	add_dev(e, 1, 0);
	connect53(e);
	request_offers(e, 2);
	CHECK_EQ(gpadl(e, 1, 70, 0x100, 8), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(gpadl(e, 2, 71, 0x100, 8), VMBUS_STATUS_SUCCESS);   /* the other channel's */
	CHECK_EQ(gpadl_msgs(e, 1, 72, 0x100, 8, 8 * 4096 - 100, true), VMBUS_STATUS_SUCCESS); /* partial */
	CHECK_EQ(gpadl(e, 1, 73, 0x100, 3), VMBUS_STATUS_SUCCESS);   /* too small for two rings */
	CHECK_EQ(gpadl_start(e, 1, 74, 0x100, 40), ~0u);             /* incomplete */
	{
		/* Two ranges of 4 pages each. */
		uint8_t b[VMBUS_MESSAGE_MAX], *p = b + 20;
		struct vmbus_msg_gpadl_header h = { .header.msgtype = CHANNELMSG_GPADL_HEADER,
						    .child_relid = 1, .gpadl = 75,
						    .range_buflen = 10 * 8, .rangecount = 2 };
		struct vmbus_gpa_range r = { .byte_count = 4 * 4096 };

		memcpy(b, &h, sizeof(h));
		for (int k = 0; k < 2; k++) {
			memcpy(p, &r, 8);
			p += 8;
			for (int i = 0; i < 4; i++, p += 8) {
				uint64_t pfn = 0x100 + k * 4 + i;

				memcpy(p, &pfn, 8);
			}
		}
		CHECK_EQ(post(e, b, (uint32_t)(p - b)), HV_STATUS_SUCCESS);
		CHECK_EQ(u32_at(take(e, CHANNELMSG_GPADL_CREATED), 16), VMBUS_STATUS_SUCCESS);
	}
	errors = vmbus_server_protocol_errors(e->s);
	CHECK_EQ(open_ch(e, 1, 0x999, 0, 4), VMBUS_STATUS_UNSUCCESSFUL); /* unknown GPADL */
	CHECK_EQ(open_ch(e, 1, 71, 0, 4), VMBUS_STATUS_UNSUCCESSFUL);    /* another channel's */
	CHECK_EQ(open_ch(e, 1, 72, 0, 4), VMBUS_STATUS_UNSUCCESSFUL);    /* not whole pages */
	CHECK_EQ(open_ch(e, 1, 73, 0, 2), VMBUS_STATUS_UNSUCCESSFUL);    /* 3 pages */
	CHECK_EQ(open_ch(e, 1, 74, 0, 4), VMBUS_STATUS_UNSUCCESSFUL);    /* incomplete */
	CHECK_EQ(open_ch(e, 1, 75, 0, 4), VMBUS_STATUS_UNSUCCESSFUL);    /* two ranges */
	/* Ring offsets: each ring needs its header page and a data page. */
	CHECK_EQ(open_ch(e, 1, 70, 0, 0), VMBUS_STATUS_UNSUCCESSFUL);
	CHECK_EQ(open_ch(e, 1, 70, 0, 1), VMBUS_STATUS_UNSUCCESSFUL);
	CHECK_EQ(open_ch(e, 1, 70, 0, 7), VMBUS_STATUS_UNSUCCESSFUL);
	CHECK_EQ(open_ch(e, 1, 70, 0, 8), VMBUS_STATUS_UNSUCCESSFUL);
	CHECK_EQ(open_ch(e, 1, 70, 0, 0xffffffffu), VMBUS_STATUS_UNSUCCESSFUL);
	CHECK_EQ(open_ch(e, 1, 70, NVPS, 4), VMBUS_STATUS_UNSUCCESSFUL); /* no such VP */
	CHECK_EQ(vmbus_server_protocol_errors(e->s), errors + 12);
	CHECK_EQ(e->nevents, 0);
	/* The device refuses: a failed result, no VMM callback, not open; a retry works. */
	e->devs[0].open_ret = -EIO;
	CHECK_EQ(open_ch(e, 1, 70, 0, 6), VMBUS_STATUS_UNSUCCESSFUL);
	CHECK_EQ(e->nevents, 1);
	CHECK(!vmbus_channel_is_open(vmbus_device_channel(e->devs[0].dev, 0)));
	teardown(e, 1, 70); /* not pinned by the refused open */
	take(e, CHANNELMSG_GPADL_TORNDOWN);
	CHECK_EQ(gpadl(e, 1, 70, 0x100, 8), VMBUS_STATUS_SUCCESS);
	e->devs[0].open_ret = 0;
	CHECK_EQ(open_ch(e, 1, 70, 0, 6), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(e->devs[0].last_open.downstream_ring_offset, 6);
	env_free(e);
}

/* A GPADL_HEADER from raw parts: ranges, page numbers; total bytes as given. */
static uint32_t raw_gpadl(struct env *e, uint32_t handle, uint16_t rangecount,
			  uint16_t range_buflen, const uint64_t *entries, unsigned n)
{
	uint8_t buf[VMBUS_MESSAGE_MAX];
	struct vmbus_msg_gpadl_header h = { .header.msgtype = CHANNELMSG_GPADL_HEADER,
					    .child_relid = 1, .gpadl = handle,
					    .range_buflen = range_buflen, .rangecount = rangecount };

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), entries, n * 8u);
	CHECK_EQ(post(e, buf, (uint32_t)(sizeof(h) + n * 8u)), HV_STATUS_SUCCESS);
	if (!pending(e))
		return ~0u;
	return u32_at(take(e, CHANNELMSG_GPADL_CREATED), 16);
}

#define RANGE(count, offset) ((uint64_t)(count) | ((uint64_t)(offset) << 32))

static void test_gpadl_errors(void)
{
	struct env *e = env_new();
	unsigned long errors;
	uint64_t x[VMBUS_MESSAGE_MAX / 8];

	add_dev(e, 0, 0);
	connect53(e);
	request_offers(e, 1);
	errors = vmbus_server_protocol_errors(e->s);
#define BAD(...)                                                                  \
	do {                                                                      \
		CHECK_EQ(raw_gpadl(e, __VA_ARGS__), VMBUS_STATUS_UNSUCCESSFUL);   \
		CHECK_EQ(vmbus_server_protocol_errors(e->s), ++errors);           \
	} while (0)
	/* Counts that cannot describe a range. */
	x[0] = RANGE(4096, 0);
	x[1] = 0x100;
	BAD(80, 0, 16, x, 2);     /* no range */
	BAD(80, 1, 12, x, 2);     /* range_buflen not whole entries */
	BAD(80, 1, 8, x, 1);      /* a range without a page */
	BAD(80, 2, 24, x, 3);     /* two ranges in three entries */
	/* More page numbers than the range declares (the "overflow" a guest can try). */
	x[2] = 0x101;
	BAD(80, 1, 24, x, 3);
	/* Fewer page numbers than the range needs. */
	x[0] = RANGE(2 * 4096, 0);
	BAD(80, 1, 16, x, 2);
	x[0] = RANGE(4096, 1); /* one page plus a byte: two pages */
	BAD(80, 1, 16, x, 2);
	/* Bad range headers. */
	x[0] = RANGE(0, 0);
	BAD(80, 1, 16, x, 2);
	x[0] = RANGE(100, 4096); /* offset past the first page, even with pages enough */
	x[1] = 0x100;
	x[2] = 0x101;
	BAD(80, 1, 24, x, 3);
	x[0] = RANGE(0xffffffffu, 0xfff); /* would wrap a 32-bit page count */
	BAD(80, 1, 16, x, 2);
	/* Pages outside guest RAM, or not page numbers at all. */
	x[0] = RANGE(4096, 0);
	x[1] = RAM_PAGES;
	BAD(80, 1, 16, x, 2);
	x[1] = 1ull << 60;
	BAD(80, 1, 16, x, 2);
	x[1] = ~0ull;
	BAD(80, 1, 16, x, 2);
	/* The range buffer bigger than all GPADLs may be (range_buflen is at most 65535 here, so the
	 * per-GPADL bound is the u16; the total bound is tested below). Then a good one: the handle
	 * was never taken by the failures. */
	x[1] = 0x100;
	CHECK_EQ(raw_gpadl(e, 80, 1, 16, x, 2), VMBUS_STATUS_SUCCESS);
	/* Handle reuse: refused, and the first one still works. */
	BAD(80, 1, 16, x, 2);
	CHECK_EQ(gpadl(e, 1, 81, 0x100, 8), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(gpadl(e, 1, 81, 0x100, 8), VMBUS_STATUS_UNSUCCESSFUL);
	errors++;
	CHECK_EQ(open_ch(e, 1, 81, 0, 4), VMBUS_STATUS_SUCCESS);
	/* A handle in progress is taken too. */
	CHECK_EQ(gpadl_start(e, 1, 82, 0x100, 40), ~0u);
	CHECK_EQ(gpadl(e, 1, 82, 0x100, 8), VMBUS_STATUS_UNSUCCESSFUL);
	errors++;
	/* Trailing bytes past the declared buffer are ignored (full-size messages). */
	x[0] = RANGE(4096, 0);
	x[1] = 0x100;
	memset(&x[2], 0xee, sizeof(x) - 16);
	CHECK_EQ(raw_gpadl(e, 83, 1, 16, x, (VMBUS_MESSAGE_MAX - 20) / 8), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(vmbus_server_protocol_errors(e->s), errors);
	/* Bodies: without a header, for a complete GPADL, one that overflows the range. */
	{
		uint8_t buf[VMBUS_MESSAGE_MAX];
		struct vmbus_msg_gpadl_body b = { .header.msgtype = CHANNELMSG_GPADL_BODY,
						  .gpadl = 0x5555 };
		uint64_t pfn = 0x100;

		memcpy(buf, &b, sizeof(b));
		for (unsigned i = 0; i < BODY_PFNS; i++)
			memcpy(buf + 16 + i * 8, &pfn, 8);
		CHECK_EQ(post(e, buf, 16 + 8), HV_STATUS_SUCCESS);
		expect_refused(e, &errors);
		b.gpadl = 83;
		memcpy(buf, &b, sizeof(b));
		CHECK_EQ(post(e, buf, 16 + 8), HV_STATUS_SUCCESS);
		expect_refused(e, &errors);
		/* 82 needs 14 more pages: a full body brings 28; the 14 extra are past the
		 * declared range buffer (ignored), the GPADL completes. */
		b.gpadl = 82;
		memcpy(buf, &b, sizeof(b));
		CHECK_EQ(post(e, buf, sizeof(buf)), HV_STATUS_SUCCESS);
		CHECK_EQ(u32_at(take(e, CHANNELMSG_GPADL_CREATED), 16), VMBUS_STATUS_SUCCESS);
		/* A body whose pages are bad: the GPADL fails and the handle frees. */
		CHECK_EQ(gpadl_start(e, 1, 84, 0x100, 40), ~0u);
		b.gpadl = 84;
		memcpy(buf, &b, sizeof(b));
		pfn = RAM_PAGES + 5;
		memcpy(buf + 16 + 8 * 13, &pfn, 8);
		CHECK_EQ(post(e, buf, 16 + 14 * 8), HV_STATUS_SUCCESS);
		CHECK_EQ(u32_at(take(e, CHANNELMSG_GPADL_CREATED), 16), VMBUS_STATUS_UNSUCCESSFUL);
		errors++;
		CHECK_EQ(post(e, buf, 16 + 8), HV_STATUS_SUCCESS); /* gone */
		expect_refused(e, &errors);
		CHECK_EQ(gpadl(e, 1, 84, 0x100, 40), VMBUS_STATUS_SUCCESS);
	}
	/* Teardowns: wrong channel, in progress, unknown; then a good one. */
	CHECK_EQ(gpadl_start(e, 1, 85, 0x100, 40), ~0u);
	teardown(e, 2, 84);
	expect_refused(e, &errors);
	teardown(e, 1, 85);
	expect_refused(e, &errors);
	teardown(e, 1, 86);
	expect_refused(e, &errors);
	teardown(e, 1, 84);
	take(e, CHANNELMSG_GPADL_TORNDOWN);
	/* Across header and bodies: a range buffer with more page numbers than its range covers,
	 * and a range that covers more pages than the buffer holds. */
	CHECK_EQ(gpadl_msgs(e, 1, 87, 0x100, 40, 30 * 4096, true), VMBUS_STATUS_UNSUCCESSFUL);
	CHECK_EQ(vmbus_server_protocol_errors(e->s), ++errors);
	CHECK_EQ(gpadl_msgs(e, 1, 87, 0x100, 40, 41 * 4096, true), VMBUS_STATUS_UNSUCCESSFUL);
	CHECK_EQ(vmbus_server_protocol_errors(e->s), ++errors);
	CHECK_EQ(gpadl_msgs(e, 1, 87, 0x100, 40, 40 * 4096, true), VMBUS_STATUS_SUCCESS);
#undef BAD
	env_free(e);
}

static void test_gpadl_limits(void)
{
	struct env *e = env_new();
	uint64_t x[2] = { RANGE(4096, 0), 0x100 };
	unsigned ok = 0;

	add_dev(e, 0, 0);
	connect53(e);
	request_offers(e, 1);
	for (uint32_t h = 0; h < VMBUS_MAX_GPADLS; h++)
		ok += raw_gpadl(e, 0x1000 + h, 1, 16, x, 2) == VMBUS_STATUS_SUCCESS;
	CHECK_EQ(ok, VMBUS_MAX_GPADLS);
	CHECK_EQ(raw_gpadl(e, 0x5000, 1, 16, x, 2), VMBUS_STATUS_UNSUCCESSFUL);
	teardown(e, 1, 0x1000);
	take(e, CHANNELMSG_GPADL_TORNDOWN);
	CHECK_EQ(raw_gpadl(e, 0x5000, 1, 16, x, 2), VMBUS_STATUS_SUCCESS);
	/* The total of range entries: 8191-entry headers until the bound. */
	post_type(e, CHANNELMSG_UNLOAD);
	take(e, CHANNELMSG_UNLOAD_RESPONSE);
	connect53(e);
	request_offers(e, 1);
	{
		unsigned fit = VMBUS_MAX_GPADL_ENTRIES / 8191, n = 0;

		for (uint32_t h = 0; h < fit + 2; h++)
			n += raw_gpadl(e, h, 1, 65528, x, 0) == ~0u; /* accepted, waiting for bodies */
		CHECK_EQ(n, fit);
	}
	env_free(e);
}

static void test_send_failures_and_released(void)
{
	struct env *e = env_new();

	add_dev(e, 0, 0);
	add_dev(e, 1, 0);
	e->send_ret = -ENODEV; /* SynIC off: messages lost, state still right */
	connect53(e);
	CHECK(vmbus_server_connected(e->s));
	e->send_ret = -EAGAIN; /* queued: fine */
	request_offers(e, 2);
	e->send_ret = 0;
	/* The guest gives up on relid 2 unasked: not offered again in this connection, but after
	 * a reconnect. */
	relid_msg(e, CHANNELMSG_RELID_RELEASED, 2);
	CHECK_EQ(pending(e), 0);
	CHECK_EQ(vmbus_server_protocol_errors(e->s), 0);
	CHECK_EQ(gpadl(e, 2, 90, 0x100, 8), VMBUS_STATUS_UNSUCCESSFUL);
	add_dev(e, 2, 0);
	CHECK_EQ(u32_at(take(e, CHANNELMSG_OFFERCHANNEL), 8 + 176), 3);
	CHECK_EQ(pending(e), 0);
	connect53(e);
	request_offers(e, 3);
	env_free(e);
}

static void test_relid_exhaustion(void)
{
	struct env *e = env_new();
	struct vmbus_device_desc desc = { .if_type = SCSI_TYPE, .ops = &dev_ops,
					  .opaque = &e->devs[3] };
	struct vmbus_device *d = add_dev(e, 0, 8), *other;
	struct vmbus_server *s2;
	struct vmbus_server_ops no_send = { .ctx = e };
	uint32_t n;

	connect53(e);
	request_offers(e, 1);
	CHECK_EQ(gpadl(e, 1, 1, 0x100, 8), VMBUS_STATUS_SUCCESS);
	CHECK_EQ(open_ch(e, 1, 1, 0, 4), VMBUS_STATUS_SUCCESS);
	/* Fill the relids but two: each new device is offered at once. */
	for (n = 2; n <= VMBUS_RELID_MAX - 2; n++) {
		desc.if_instance = VMBUS_GUID(n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xee);
		CHECK_EQ(vmbus_server_add_device(e->s, &desc, &other), 0);
	}
	CHECK_EQ(pending(e), VMBUS_RELID_MAX - 3);
	e->next = e->nsent;
	/* Three subchannels wanted, two relids left: two made and offered, -ENOSPC. */
	CHECK_EQ(vmbus_server_add_subchannels(e->s, d, 3), -ENOSPC);
	CHECK_EQ(vmbus_device_channel_count(d), 3);
	CHECK_EQ(u32_at(take(e, CHANNELMSG_OFFERCHANNEL), 8 + 176), VMBUS_RELID_MAX - 1);
	CHECK_EQ(u32_at(take(e, CHANNELMSG_OFFERCHANNEL), 8 + 176), VMBUS_RELID_MAX);
	desc.if_instance = VMBUS_GUID(0xffff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xee);
	CHECK_EQ(vmbus_server_add_device(e->s, &desc, &other), -ENOSPC);
	CHECK_EQ(pending(e), 0);
	/* Bad server parameters. */
	CHECK_EQ(vmbus_server_create(&s2, &e->mem, &no_send, 1), -EINVAL);
	no_send.send = rec_send;
	CHECK_EQ(vmbus_server_create(&s2, &e->mem, &no_send, 0), -EINVAL);
	CHECK_EQ(vmbus_server_create(&s2, NULL, &no_send, 1), -EINVAL);
	env_free(e);
}

int main(void)
{
	log_set_level(LOG_ERROR); /* the refused messages would log */
	test_version_negotiation();
	test_offers();
	test_linux_sequence();
	test_teardown_while_in_use();
	test_rescind();
	test_unload_and_reconnect();
	test_hot_add();
	test_subchannels();
	test_modify_channel();
	test_malformed();
	test_wrong_state();
	test_open_refusals();
	test_gpadl_errors();
	test_gpadl_limits();
	test_send_failures_and_released();
	test_relid_exhaustion();
	return unit_done("test_vmbus_server");
}
