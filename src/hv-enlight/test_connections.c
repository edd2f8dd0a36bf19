/* Test-only echo connections (TLFS HvPostMessage/HvSignalEvent), for the freestanding
 * direct-tier guests:
 *  - 0x10000, message echo: HvPostMessage(type T, payload P, size S) is posted back to the calling
 *    VP's SINT (P[0] & 15) with the same type, payload and size. S = 0 is
 *    HV_STATUS_INVALID_PARAMETER. Delivered or queued behind a busy slot: HV_STATUS_SUCCESS;
 *    SynIC/SIMP off or SINT masked: HV_STATUS_INVALID_SYNIC_STATE; queue full:
 *    HV_STATUS_INSUFFICIENT_BUFFERS (the TLFS's statuses for these conditions).
 *  - 0x10001, event echo: HvSignalEvent(flag F) sets flag F in the calling VP's SIEFP area of
 *    SINT 3 (interrupting if it was clear): HV_STATUS_SUCCESS whether or not it was already set;
 *    SynIC/SIEFP off or SINT 3 masked: HV_STATUS_INVALID_SYNIC_STATE; F >= 2048:
 *    HV_STATUS_INVALID_PARAMETER. */
#include <errno.h>

#include "hv-enlight/test_connections.h"
#include "hv-enlight/tlfs.h"

static uint16_t status_of(int ret)
{
	switch (ret) {
	case 0:
	case 1:       /* event flag was already set */
	case -EAGAIN: /* queued behind a busy slot, delivered after EOM */
		return HV_STATUS_SUCCESS;
	case -ENODEV:
		return HV_STATUS_INVALID_SYNIC_STATE;
	case -ENOBUFS:
		return HV_STATUS_INSUFFICIENT_BUFFERS;
	default:
		return HV_STATUS_INVALID_PARAMETER;
	}
}

static uint16_t echo_message(void *opaque, unsigned vp, uint32_t message_type,
			     const void *payload, uint32_t size)
{
	struct hv_partition *p = opaque;

	if (size < 1)
		return HV_STATUS_INVALID_PARAMETER;
	return status_of(hv_synic_post_message(p, vp, ((const uint8_t *)payload)[0] & 15,
					       message_type, payload, size));
}

static uint16_t echo_event(void *opaque, unsigned vp, uint16_t flag_number)
{
	return status_of(hv_synic_signal_event(opaque, vp, HV_TEST_EVENT_ECHO_SINT, flag_number));
}

int hv_test_connections_register(struct hv_partition *p)
{
	const struct hv_connection_ops message = { .post_message = echo_message, .opaque = p };
	const struct hv_connection_ops event = { .signal_event = echo_event, .opaque = p };
	int ret;

	ret = hv_connection_register(p, HV_TEST_CONNECTION_MESSAGE_ECHO, &message);
	if (ret)
		return ret;
	ret = hv_connection_register(p, HV_TEST_CONNECTION_EVENT_ECHO, &event);
	if (ret)
		hv_connection_unregister(p, HV_TEST_CONNECTION_MESSAGE_ECHO);
	return ret;
}
