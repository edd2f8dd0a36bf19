/* VMBus ring packets (see packet.h): validation of a private packet copy, after Linux
 * include/linux/hyperv.h and openvmm vmbus_ring (parse_packet, gparange). */
#include "vmbus/packet.h"

#include <errno.h>
#include <string.h>

#define DESC_LEN sizeof(struct vmpacket_descriptor)

static bool type_known(uint16_t type)
{
	return type == VM_PKT_DATA_INBAND || type == VM_PKT_DATA_USING_XFER_PAGES ||
	       type == VM_PKT_DATA_USING_GPA_DIRECT || type == VM_PKT_COMP;
}

/* PFN entries of a range header, or 0 if the header is invalid. */
static uint32_t gpa_range_pages(uint32_t byte_count, uint32_t byte_offset)
{
	if (byte_count == 0 || byte_offset >= VMBUS_PKT_PAGE_SIZE)
		return 0;
	/* 64-bit sum: byte_count can be up to 4 GiB - 1 */
	return (uint32_t)(((uint64_t)byte_offset + byte_count + VMBUS_PKT_PAGE_SIZE - 1) /
			  VMBUS_PKT_PAGE_SIZE);
}

/* Checks count GPA ranges in area[0, area_len); returns the bytes they use or -EBADMSG. */
static int64_t gpa_ranges_check(const uint8_t *area, uint32_t area_len, uint32_t count)
{
	uint32_t off = 0;

	for (uint32_t i = 0; i < count; i++) {
		struct vmpacket_gpa_range r;
		uint32_t pages;

		if (area_len - off < sizeof(r))
			return -EBADMSG;
		memcpy(&r, area + off, sizeof(r));
		off += sizeof(r);
		pages = gpa_range_pages(r.byte_count, r.byte_offset);
		if (pages == 0 || (area_len - off) / sizeof(uint64_t) < pages)
			return -EBADMSG;
		off += pages * (uint32_t)sizeof(uint64_t);
	}
	return off;
}

int vmbus_packet_check_descriptor(const struct vmpacket_descriptor *d)
{
	if (d->offset8 * 8u < DESC_LEN || d->offset8 > d->len8)
		return -EBADMSG;
	if (!type_known(d->type) || (d->flags & ~VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED))
		return -EBADMSG;
	return 0;
}

int vmbus_packet_parse(const void *buf, size_t len, struct vmbus_packet *pkt)
{
	const uint8_t *p = buf;
	struct vmpacket_descriptor d;
	uint32_t hdr_len; /* offset8 * 8 */

	if ((uintptr_t)buf % 8)
		return -EINVAL;
	memset(pkt, 0, sizeof(*pkt));
	if (len < DESC_LEN || len > VMBUS_PKT_MAX_LEN)
		return -EBADMSG;
	memcpy(&d, p, sizeof(d));
	hdr_len = d.offset8 * 8u;
	if ((size_t)d.len8 * 8 != len || vmbus_packet_check_descriptor(&d))
		return -EBADMSG;
	pkt->type = d.type;
	pkt->flags = d.flags;
	pkt->trans_id = d.trans_id;
	pkt->len = (uint32_t)len;
	pkt->data = p + hdr_len;
	pkt->data_len = (uint32_t)len - hdr_len;

	if (d.type == VM_PKT_DATA_USING_XFER_PAGES) {
		struct vmtransfer_page_packet_header h;

		if (hdr_len < sizeof(h))
			return -EBADMSG;
		memcpy(&h, p, sizeof(h));
		/* range_cnt is guest-chosen: divide instead of multiplying */
		if (h.range_cnt > (hdr_len - sizeof(h)) / sizeof(struct vmtransfer_page_range))
			return -EBADMSG;
		pkt->range_count = h.range_cnt;
		pkt->xfer_pageset_id = h.xfer_pageset_id;
		pkt->sender_owns_set = h.sender_owns_set;
		pkt->xfer_ranges = (const struct vmtransfer_page_range *)(p + sizeof(h));
	} else if (d.type == VM_PKT_DATA_USING_GPA_DIRECT) {
		struct vmdata_gpa_direct h;
		int64_t used;

		if (hdr_len < sizeof(h))
			return -EBADMSG;
		memcpy(&h, p, sizeof(h));
		if (h.range_cnt == 0) /* as openvmm: GPA-direct without memory is nonsense */
			return -EBADMSG;
		used = gpa_ranges_check(p + sizeof(h), hdr_len - (uint32_t)sizeof(h), h.range_cnt);
		if (used < 0)
			return (int)used;
		pkt->range_count = h.range_cnt;
		pkt->gpa_ranges = p + sizeof(h);
		pkt->gpa_ranges_len = (uint32_t)used;
	}
	return 0;
}

void vmbus_packet_gpa_iter_init(struct vmbus_packet_gpa_iter *it, const struct vmbus_packet *pkt)
{
	it->pkt = pkt;
	it->index = 0;
	it->offset = 0;
}

bool vmbus_packet_gpa_iter_next(struct vmbus_packet_gpa_iter *it, struct vmbus_packet_range *out)
{
	const struct vmbus_packet *pkt = it->pkt;
	struct vmpacket_gpa_range r;
	uint32_t left, pages;

	if (pkt->type != VM_PKT_DATA_USING_GPA_DIRECT || it->index >= pkt->range_count)
		return false;
	/* already validated by vmbus_packet_parse; checked again because it costs nothing */
	left = pkt->gpa_ranges_len - it->offset;
	if (left < sizeof(r))
		return false;
	memcpy(&r, pkt->gpa_ranges + it->offset, sizeof(r));
	pages = gpa_range_pages(r.byte_count, r.byte_offset);
	if (pages == 0 || (left - sizeof(r)) / sizeof(uint64_t) < pages)
		return false;
	out->byte_count = r.byte_count;
	out->byte_offset = r.byte_offset;
	out->pfn_count = pages;
	/* 8-aligned: the copy is, and ranges are whole u64s from offset 24 */
	out->pfns = (const uint64_t *)(pkt->gpa_ranges + it->offset + sizeof(r));
	it->offset += (uint32_t)sizeof(r) + pages * (uint32_t)sizeof(uint64_t);
	it->index++;
	return true;
}

uint32_t vmbus_packet_ring_bytes(uint32_t ext_len, uint64_t payload_len)
{
	uint64_t n;

	if (payload_len > UINT32_MAX)
		return UINT32_MAX;
	n = DESC_LEN + (uint64_t)ext_len + ((payload_len + 7) & ~7ull) + VMBUS_PKT_TRAILER;
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}
