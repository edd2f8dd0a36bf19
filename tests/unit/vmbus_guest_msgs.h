/* Guest-side VMBus channel messages for the unit tests (the layouts Linux's channel.c
 * vmbus_establish_gpadl and vmbus_open build): a GPADL of one page range split into a
 * GPADL_HEADER and GPADL_BODY messages, and OPENCHANNEL. Each test posts them its own way. */
#ifndef HVKVM_TEST_VMBUS_GUEST_MSGS_H
#define HVKVM_TEST_VMBUS_GUEST_MSGS_H

#include <stdint.h>

#include "src/vmbus/protocol.h"

#define GPADL_HEADER_PFNS 26 /* page numbers that fit a GPADL_HEADER with one range */
#define GPADL_BODY_PFNS 28   /* and a GPADL_BODY */

/* GPADL_HEADER of a one-range GPADL of npages pages from pfn0 (byte_count bytes) into buf
 * (VMBUS_MESSAGE_MAX bytes) with the first of its page numbers; *carried: how many. Returns the
 * message length. */
uint32_t vmbus_guest_gpadl_header(uint8_t *buf, uint32_t relid, uint32_t handle, uint64_t pfn0,
				  uint32_t npages, uint32_t byte_count, uint32_t *carried);
/* GPADL_BODY with up to GPADL_BODY_PFNS page numbers from pfn; *carried: how many of count. */
uint32_t vmbus_guest_gpadl_body(uint8_t *buf, uint32_t handle, uint64_t pfn, uint32_t count,
				uint32_t *carried);
/* OPENCHANNEL of relid (openid = relid) on ring GPADL handle. */
struct vmbus_msg_open_channel vmbus_guest_open(uint32_t relid, uint32_t handle,
					       uint32_t downstream_offset, uint32_t target_vp);

#endif
