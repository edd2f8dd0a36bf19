/* VMBus ring packets: descriptor, transfer-page and GPA-direct headers, trailer (names as Linux
 * include/linux/hyperv.h), and the parser for a packet already copied out of guest memory. */
#ifndef HVKVM_VMBUS_PACKET_H
#define HVKVM_VMBUS_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* enum vmbus_packet_type. Guest-controlled, so kept as plain numbers, never a closed enum. The
 * ring reader accepts only INBAND, XFER_PAGES, GPA_DIRECT and COMP (what Linux, Windows and
 * openvmm put on a channel ring); the others are historical and answered with -EBADMSG. */
#define VM_PKT_INVALID 0x0
#define VM_PKT_SYNCH 0x1
#define VM_PKT_ADD_XFER_PAGESET 0x2
#define VM_PKT_RM_XFER_PAGESET 0x3
#define VM_PKT_ESTABLISH_GPADL 0x4
#define VM_PKT_TEARDOWN_GPADL 0x5
#define VM_PKT_DATA_INBAND 0x6
#define VM_PKT_DATA_USING_XFER_PAGES 0x7
#define VM_PKT_DATA_USING_GPADL 0x8
#define VM_PKT_DATA_USING_GPA_DIRECT 0x9
#define VM_PKT_CANCEL_REQUEST 0xa
#define VM_PKT_COMP 0xb
#define VM_PKT_DATA_USING_ADDITIONAL_PKT 0xc
#define VM_PKT_ADDITIONAL_DATA 0xd

/* The only descriptor flag; other bits are rejected, as openvmm does. */
#define VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED 1u

/* Every packet is followed by this trailer in the ring: (u64)start_write_index << 32. */
#define VMBUS_PKT_TRAILER 8u
/* Largest packet len8 can describe (descriptor through padding, trailer excluded). */
#define VMBUS_PKT_MAX_LEN (0xffffu * 8u)

/* GPA ranges address 4 KiB pages whatever the guest's page size (HV_HYP_PAGE_SIZE). */
#define VMBUS_PKT_PAGE_SIZE 4096u

struct vmpacket_descriptor {
	uint16_t type;     /* VM_PKT_* */
	uint16_t offset8;  /* payload offset from the descriptor start, in 8-byte units */
	uint16_t len8;     /* descriptor + headers + payload + padding, in 8-byte units */
	uint16_t flags;    /* VMBUS_DATA_PACKET_FLAG_* */
	uint64_t trans_id; /* echoed in the VM_PKT_COMP answering this packet */
} __attribute__((packed));
_Static_assert(sizeof(struct vmpacket_descriptor) == 16, "vmpacket_descriptor");

struct vmtransfer_page_range {
	uint32_t byte_count;
	uint32_t byte_offset; /* into the transfer page set (netvsc: the receive buffer GPADL) */
} __attribute__((packed));
_Static_assert(sizeof(struct vmtransfer_page_range) == 8, "vmtransfer_page_range");

/* VM_PKT_DATA_USING_XFER_PAGES: ranges of a transfer page set both sides know by id. */
struct vmtransfer_page_packet_header {
	struct vmpacket_descriptor d;
	uint16_t xfer_pageset_id;
	uint8_t sender_owns_set;
	uint8_t reserved;
	uint32_t range_cnt;
	struct vmtransfer_page_range ranges[];
} __attribute__((packed));
_Static_assert(sizeof(struct vmtransfer_page_packet_header) == 24, "vmtransfer_page_packet_header");

/* VM_PKT_DATA_USING_GPA_DIRECT (Linux struct vmdata_gpa_direct, vmbus_packet_mpb_array):
 * range_cnt ranges of struct vmpacket_gpa_range follow, each with its PFN array. */
struct vmdata_gpa_direct {
	struct vmpacket_descriptor d;
	uint32_t reserved;
	uint32_t range_cnt;
} __attribute__((packed));
_Static_assert(sizeof(struct vmdata_gpa_direct) == 24, "vmdata_gpa_direct");

/* Linux struct gpa_range (renamed here: the GPADL channel messages have their own). Its PFN
 * array holds DIV_ROUND_UP(byte_offset + byte_count, 4096) entries. */
struct vmpacket_gpa_range {
	uint32_t byte_count;
	uint32_t byte_offset; /* into the first page: < 4096 */
	uint64_t pfn_array[];
} __attribute__((packed));
_Static_assert(sizeof(struct vmpacket_gpa_range) == 8, "vmpacket_gpa_range");

/* One packet, parsed from a private copy; every pointer points into that copy. */
struct vmbus_packet {
	uint16_t type;        /* VM_PKT_DATA_INBAND, _USING_XFER_PAGES, _USING_GPA_DIRECT, VM_PKT_COMP */
	uint16_t flags;       /* 0 or VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED */
	uint64_t trans_id;
	uint32_t len;         /* len8 * 8: bytes of the copy, descriptor included */
	const uint8_t *data;  /* payload at offset8 * 8 */
	uint32_t data_len;    /* (len8 - offset8) * 8: the sender's padding included, as in Linux */
	/* VM_PKT_DATA_USING_XFER_PAGES and VM_PKT_DATA_USING_GPA_DIRECT, else 0 / NULL: */
	uint32_t range_count;
	/* VM_PKT_DATA_USING_XFER_PAGES */
	uint16_t xfer_pageset_id;
	uint8_t sender_owns_set;
	const struct vmtransfer_page_range *xfer_ranges; /* range_count entries; byte ranges are
							  * checked by the device against its set */
	/* VM_PKT_DATA_USING_GPA_DIRECT: the validated range area (walk it: vmbus_packet_gpa_iter) */
	const uint8_t *gpa_ranges;
	uint32_t gpa_ranges_len;
};

/* Descriptor-level checks alone: offset8 >= 2, offset8 <= len8, known type, known flags.
 * 0 or -EBADMSG. */
__attribute__((warn_unused_result))
int vmbus_packet_check_descriptor(const struct vmpacket_descriptor *d);

/* Parses len bytes at buf (8-byte aligned, len = the packet's len8 * 8) that the caller owns,
 * i.e. already copied out of the ring. Checks: offset8 >= 2 and offset8 <= len8, len8 * 8 == len,
 * known type and flags; XFER_PAGES: its header and range_cnt ranges fit before offset8 * 8;
 * GPA_DIRECT: range_cnt >= 1 and every range (byte_count > 0, byte_offset < 4096, its PFN array)
 * fits before offset8 * 8. Returns 0, -EBADMSG for a malformed packet, -EINVAL for a misaligned
 * buf. */
__attribute__((warn_unused_result))
int vmbus_packet_parse(const void *buf, size_t len, struct vmbus_packet *pkt);

/* One GPA-direct range: the bytes [byte_offset, byte_offset + byte_count) of the pages pfns[]. */
struct vmbus_packet_range {
	uint32_t byte_count;
	uint32_t byte_offset;
	uint32_t pfn_count;
	const uint64_t *pfns; /* into the packet copy; the PFNs themselves are not checked here */
};

struct vmbus_packet_gpa_iter {
	const struct vmbus_packet *pkt;
	uint32_t index;  /* ranges returned so far */
	uint32_t offset; /* into pkt->gpa_ranges */
};

void vmbus_packet_gpa_iter_init(struct vmbus_packet_gpa_iter *it, const struct vmbus_packet *pkt);
/* Next range of a parsed GPA-direct packet; false after the last one (or for another type). */
bool vmbus_packet_gpa_iter_next(struct vmbus_packet_gpa_iter *it, struct vmbus_packet_range *out);

/* Ring bytes a packet takes: descriptor, ext_len bytes of type header (multiple of 8), payload
 * padded to 8, trailer. What vmbus_ring_set_pending_send() wants. Saturates at UINT32_MAX. */
uint32_t vmbus_packet_ring_bytes(uint32_t ext_len, uint64_t payload_len);

#endif
