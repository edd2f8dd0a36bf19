/* Guest-side VMBus channel messages for the unit tests (see vmbus_guest_msgs.h). */
#include "vmbus_guest_msgs.h"

#include <string.h>

static uint32_t put_pfns(uint8_t *buf, uint32_t off, uint64_t pfn, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++, off += 8) {
		uint64_t p = pfn + i;

		memcpy(buf + off, &p, 8);
	}
	return off;
}

uint32_t vmbus_guest_gpadl_header(uint8_t *buf, uint32_t relid, uint32_t handle, uint64_t pfn0,
				  uint32_t npages, uint32_t byte_count, uint32_t *carried)
{
	struct vmbus_msg_gpadl_header h;
	struct vmbus_gpa_range r = {.byte_count = byte_count, .byte_offset = 0};
	uint32_t n = npages < GPADL_HEADER_PFNS ? npages : GPADL_HEADER_PFNS;

	memset(&h, 0, sizeof(h));
	h.header.msgtype = CHANNELMSG_GPADL_HEADER;
	h.child_relid = relid;
	h.gpadl = handle;
	h.rangecount = 1;
	h.range_buflen = (uint16_t)(sizeof(r) + npages * 8u);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), &r, sizeof(r));
	*carried = n;
	return put_pfns(buf, sizeof(h) + sizeof(r), pfn0, n);
}

uint32_t vmbus_guest_gpadl_body(uint8_t *buf, uint32_t handle, uint64_t pfn, uint32_t count,
				uint32_t *carried)
{
	struct vmbus_msg_gpadl_body b = {.header.msgtype = CHANNELMSG_GPADL_BODY, .gpadl = handle};
	uint32_t n = count < GPADL_BODY_PFNS ? count : GPADL_BODY_PFNS;

	memcpy(buf, &b, sizeof(b));
	*carried = n;
	return put_pfns(buf, sizeof(b), pfn, n);
}

struct vmbus_msg_open_channel vmbus_guest_open(uint32_t relid, uint32_t handle,
					       uint32_t downstream_offset, uint32_t target_vp)
{
	struct vmbus_msg_open_channel m;

	memset(&m, 0, sizeof(m));
	m.header.msgtype = CHANNELMSG_OPENCHANNEL;
	m.child_relid = relid;
	m.openid = relid;
	m.ringbuffer_gpadlhandle = handle;
	m.downstream_ringbuffer_pageoffset = downstream_offset;
	m.target_vp = target_vp;
	return m;
}
