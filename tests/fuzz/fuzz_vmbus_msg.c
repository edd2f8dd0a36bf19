/* libFuzzer target for the VMBus channel-message server (src/vmbus/server.c, gpadl.c): guest
 * messages as a Linux guest would post them (Linux include/linux/hyperv.h layouts), interleaved
 * with the host-side calls a device makes, checked against the server's invariants.
 *
 * Build and run with libFuzzer:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. -Isrc \
 *     tests/fuzz/fuzz_vmbus_msg.c src/vmbus/server.c src/vmbus/gpadl.c src/guest_mem.c src/log.c \
 *     -o fuzz_vmbus_msg && ./fuzz_vmbus_msg -max_len=4096 corpus/
 * Replay files without libFuzzer (CI; no file arguments: one built-in sequence):
 *   gcc -g -DFUZZ_STANDALONE -fsanitize=address,undefined -D_GNU_SOURCE -I. -Isrc \
 *     tests/fuzz/fuzz_vmbus_msg.c tests/fuzz/replay.c src/vmbus/server.c src/vmbus/gpadl.c src/guest_mem.c src/log.c \
 *     -o fuzz_vmbus_msg_replay && ./fuzz_vmbus_msg_replay corpus/FILE...
 *
 * Input: records. A byte b < 0x80 is a message on connection (b & 1 ? 4 : 1) from VP (b >> 1) & 3,
 * then one length byte (up to 255: > 240 is refused by the server), then that many payload bytes.
 * b >= 0x80 is a host action chosen by b & 7 with one argument byte: connect as Linux 5.3 does
 * (INITIATE_CONTACT + REQUESTOFFERS), add subchannels, remove a device, add it back, look a GPADL
 * up (4-byte handle follows) and put it, make a device refuse or accept opens, open a channel the
 * Linux way (GPADL header + bodies, OPENCHANNEL). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv-enlight/tlfs.h"
#include "log.h"
#include "vmbus/server.h"

#define RAM_PAGES 16u /* small, so that random page numbers hit RAM */
#define NVPS 4u
#define NDEVS 3

#define REQUIRE(cond)                                                              \
	do {                                                                       \
		if (!(cond)) {                                                     \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, \
				__LINE__, #cond);                                  \
			abort();                                                   \
		}                                                                  \
	} while (0)

struct fuzz_dev {
	struct fuzz *f;
	struct vmbus_device *dev; /* NULL while removed */
	int open_ret;
	unsigned opens, closes;
};

struct fuzz {
	struct guest_mem mem;
	struct vmbus_server *s;
	struct fuzz_dev devs[NDEVS];
	unsigned vmm_opens, vmm_closes;
};

static const struct vmbus_device_ops dev_ops;

static void check_gpadl_pages(const struct fuzz *f, const struct vmbus_gpadl *g)
{
	const uint64_t *pfns = vmbus_gpadl_pfns(g);

	for (uint32_t i = 0; i < vmbus_gpadl_page_count(g); i++)
		REQUIRE(guest_mem_ptr(&f->mem, pfns[i] << 12, 4096) != NULL);
}

static int on_send(void *ctx, unsigned vp, unsigned sint, const void *msg, uint32_t size)
{
	uint32_t type;

	(void)ctx;
	REQUIRE(size >= 8 && size <= VMBUS_MESSAGE_MAX);
	REQUIRE(vp < NVPS && sint < HV_SYNIC_SINT_COUNT);
	memcpy(&type, msg, sizeof(type));
	/* Only host -> guest messages. */
	REQUIRE(type == CHANNELMSG_OFFERCHANNEL || type == CHANNELMSG_RESCIND_CHANNELOFFER ||
		type == CHANNELMSG_ALLOFFERS_DELIVERED || type == CHANNELMSG_OPENCHANNEL_RESULT ||
		type == CHANNELMSG_GPADL_CREATED || type == CHANNELMSG_GPADL_TORNDOWN ||
		type == CHANNELMSG_VERSION_RESPONSE || type == CHANNELMSG_UNLOAD_RESPONSE ||
		type == CHANNELMSG_MODIFYCHANNEL_RESPONSE);
	return 0;
}

static void on_opened(void *ctx, struct vmbus_channel *ch)
{
	struct fuzz *f = ctx;

	REQUIRE(vmbus_channel_is_open(ch));
	REQUIRE(vmbus_server_channel_by_connection_id(f->s, vmbus_channel_connection_id(ch)) == ch);
	f->vmm_opens++;
}

static void on_closed(void *ctx, struct vmbus_channel *ch)
{
	struct fuzz *f = ctx;

	REQUIRE(!vmbus_channel_is_open(ch));
	f->vmm_closes++;
}

static int dev_open(void *opaque, struct vmbus_channel *ch, const struct vmbus_open_request *req)
{
	struct fuzz_dev *d = opaque;

	REQUIRE(!vmbus_channel_is_open(ch));
	REQUIRE(req->target_vp < NVPS);
	REQUIRE(req->ring_pages == vmbus_gpadl_page_count(req->ring));
	REQUIRE(req->downstream_ring_offset >= 2 &&
		req->downstream_ring_offset + 2 <= req->ring_pages);
	check_gpadl_pages(d->f, req->ring);
	if (!d->open_ret)
		d->opens++;
	return d->open_ret;
}

static void dev_close(void *opaque, struct vmbus_channel *ch)
{
	struct fuzz_dev *d = opaque;

	REQUIRE(!vmbus_channel_is_open(ch));
	d->closes++;
	REQUIRE(d->closes <= d->opens);
}

static void dev_retarget(void *opaque, struct vmbus_channel *ch, uint32_t vp)
{
	(void)opaque;
	REQUIRE(vmbus_channel_is_open(ch));
	REQUIRE(vp < NVPS);
}

static const struct vmbus_device_ops dev_ops = {
	.open = dev_open, .close = dev_close, .retarget = dev_retarget,
};

static void add_dev(struct fuzz *f, int i)
{
	struct vmbus_device_desc desc = {
		.if_type = VMBUS_GUID(0xba6163d9, 0x04a1, 0x4d29, 0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1,
				      0xdc, 0x7f),
		.if_instance = VMBUS_GUID(0x1000u + (unsigned)i, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
		.max_subchannels = (uint16_t)(i * 3),
		.name = "fuzz",
		.ops = &dev_ops,
		.opaque = &f->devs[i],
	};

	if (f->devs[i].dev)
		return;
	if (vmbus_server_add_device(f->s, &desc, &f->devs[i].dev))
		f->devs[i].dev = NULL;
}

static void post(struct fuzz *f, uint32_t conn, const void *msg, uint32_t size)
{
	uint16_t st = vmbus_server_post_message(f->s, 0, conn, VMBUS_MESSAGE_TYPE, msg, size);

	REQUIRE(st == HV_STATUS_SUCCESS);
}

static void linux_connect(struct fuzz *f)
{
	struct vmbus_msg_initiate_contact c = {
		.header.msgtype = CHANNELMSG_INITIATE_CONTACT,
		.vmbus_version_requested = VERSION_WIN10_V5_3,
	};
	struct vmbus_msg_header r = { .msgtype = CHANNELMSG_REQUESTOFFERS };

	c.msg_sint = VMBUS_MESSAGE_SINT;
	post(f, VMBUS_MESSAGE_CONNECTION_ID_4, &c, sizeof(c));
	post(f, VMBUS_MESSAGE_CONNECTION_ID, &r, sizeof(r));
}

/* A one-range GPADL over pages [0, n) of RAM split as Linux splits it, then OPENCHANNEL. */
static void linux_open(struct fuzz *f, uint32_t relid, uint32_t n, uint32_t handle)
{
	uint8_t buf[VMBUS_MESSAGE_MAX];
	struct vmbus_msg_gpadl_header h = {
		.header.msgtype = CHANNELMSG_GPADL_HEADER, .child_relid = relid, .gpadl = handle,
		.range_buflen = (uint16_t)(8 + 8 * n), .rangecount = 1,
	};
	struct vmbus_gpa_range r = { .byte_count = n * 4096u };
	struct vmbus_msg_gpadl_body b = { .header.msgtype = CHANNELMSG_GPADL_BODY, .gpadl = handle };
	struct vmbus_msg_open_channel o = {
		.header.msgtype = CHANNELMSG_OPENCHANNEL, .child_relid = relid, .openid = relid,
		.ringbuffer_gpadlhandle = handle, .downstream_ringbuffer_pageoffset = n / 2,
	};
	uint32_t i = 0, off;

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), &r, sizeof(r));
	for (off = sizeof(h) + sizeof(r); i < n && off + 8 <= sizeof(buf); i++, off += 8) {
		uint64_t pfn = i % RAM_PAGES;

		memcpy(buf + off, &pfn, 8);
	}
	post(f, VMBUS_MESSAGE_CONNECTION_ID, buf, off);
	while (i < n) {
		memcpy(buf, &b, sizeof(b));
		for (off = sizeof(b); i < n && off + 8 <= sizeof(buf); i++, off += 8) {
			uint64_t pfn = i % RAM_PAGES;

			memcpy(buf + off, &pfn, 8);
		}
		post(f, VMBUS_MESSAGE_CONNECTION_ID, buf, off);
	}
	post(f, VMBUS_MESSAGE_CONNECTION_ID, &o, sizeof(o));
}

static void host_action(struct fuzz *f, uint8_t op, uint8_t arg, const uint8_t **p,
			const uint8_t *end)
{
	struct fuzz_dev *d = &f->devs[arg % NDEVS];
	struct vmbus_channel *ch;
	uint32_t handle = 0;

	switch (op & 7) {
	case 0:
		linux_connect(f);
		break;
	case 1:
		if (d->dev) {
			int ret = vmbus_server_add_subchannels(f->s, d->dev, (arg >> 2) & 7);

			REQUIRE(ret == 0 || ret == -ENOTCONN || ret == -E2BIG || ret == -ENOSPC);
		}
		break;
	case 2:
		if (d->dev)
			vmbus_server_remove_device(f->s, d->dev);
		d->dev = NULL;
		break;
	case 3:
		add_dev(f, arg % NDEVS);
		break;
	case 4:
		if (end - *p >= 4) {
			memcpy(&handle, *p, 4);
			*p += 4;
		}
		if (d->dev && (ch = vmbus_device_channel(d->dev, (arg >> 2) & 3)) != NULL) {
			struct vmbus_gpadl *g = vmbus_channel_gpadl_get(ch, handle);

			if (g) {
				REQUIRE(vmbus_gpadl_handle(g) == handle);
				check_gpadl_pages(f, g);
				vmbus_gpadl_put(g);
			}
		}
		break;
	case 5:
		d->open_ret = (arg & 4) ? -5 : 0;
		break;
	case 6:
		if (d->dev && (ch = vmbus_device_channel(d->dev, (arg >> 2) & 3)) != NULL)
			linux_open(f, vmbus_channel_relid(ch), 4u + (arg >> 4),
				   0xe1e10u + (arg >> 2));
		break;
	default:
		if (d->dev && (ch = vmbus_device_channel(d->dev, (arg >> 2) & 3)) != NULL) {
			unsigned vp, sint, flag;

			if (vmbus_channel_signal_target(ch, &vp, &sint, &flag)) {
				REQUIRE(vp < NVPS && sint == VMBUS_MESSAGE_SINT);
				REQUIRE(flag == vmbus_channel_relid(ch));
			}
		}
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct vmbus_server_ops ops = {
		.send = on_send, .channel_opened = on_opened, .channel_closed = on_closed,
	};
	const uint8_t *p = data, *end = data + size;
	struct vmbus_server_ops o = ops;
	struct fuzz *f = calloc(1, sizeof(*f));
	uint8_t *ram = calloc(RAM_PAGES, 4096);
	unsigned opens = 0, closes = 0;

	REQUIRE(f && ram);
	log_set_level(LOG_ERROR);
	guest_mem_init_fake(&f->mem, ram, RAM_PAGES * 4096u);
	o.ctx = f;
	REQUIRE(vmbus_server_create(&f->s, &f->mem, &o, NVPS) == 0);
	for (int i = 0; i < NDEVS; i++) {
		f->devs[i].f = f;
		add_dev(f, i);
	}
	while (p < end) {
		uint8_t op = *p++;

		if (op >= 0x80) {
			uint8_t arg = p < end ? *p++ : 0;

			host_action(f, op, arg, &p, end);
		} else {
			uint8_t msg[255];
			uint32_t len = p < end ? *p++ : 0;

			if (len > (uint32_t)(end - p))
				len = (uint32_t)(end - p);
			memcpy(msg, p, len);
			p += len;
			vmbus_server_post_message(f->s, (op >> 1) & 3,
						  (op & 1) ? VMBUS_MESSAGE_CONNECTION_ID_4
							   : VMBUS_MESSAGE_CONNECTION_ID,
						  VMBUS_MESSAGE_TYPE, msg, len);
		}
	}
	vmbus_server_destroy(f->s);
	/* Every channel the VMM and the devices saw open was closed exactly once. */
	for (int i = 0; i < NDEVS; i++) {
		opens += f->devs[i].opens;
		closes += f->devs[i].closes;
	}
	REQUIRE(opens == closes);
	REQUIRE(f->vmm_opens == f->vmm_closes);
	REQUIRE(f->vmm_opens == opens);
	free(ram);
	free(f);
	return 0;
}

#ifdef FUZZ_STANDALONE
#include "replay.h"
/* Replays each file named on the command line; with none, one built-in Linux-like sequence. */
int main(int argc, char **argv)
{
	static const uint8_t smoke[] = {
		0x80, 0x00,       /* connect 5.3, request offers */
		0x86, 0x00,       /* open device 0's primary: GPADL + OPENCHANNEL */
		0x81, 0x0c,       /* device 0 (max 0): subchannels refused */
		0x86, 0x10,       /* open device 1's primary (5 pages) */
		0x81, 0x0a,       /* device 1: 2 subchannels */
		0x87, 0x01,       /* signal target of device 1's primary */
		0x84, 0x01, 0x10, 0x1e, 0x0e, 0x00, /* GPADL 0xe1e10 from device 1: another's */
		0x82, 0x01,       /* hot remove device 1 */
		0x00, 0x08, 0x10, 0, 0, 0, 0, 0, 0, 0, /* UNLOAD */
	};
	if (argc < 2)
		return LLVMFuzzerTestOneInput(smoke, sizeof(smoke));
	return fuzz_replay_files(argc, argv);
}
#endif
