/* libFuzzer target over netvsp's guest-facing RNDIS parsers: control messages
 * (src/synthetic/rndis.c, rndis_oid.c: INITIALIZE, QUERY and SET of every OID, RESET, KEEPALIVE,
 * HALT) and data messages with their per-packet info (src/synthetic/netvsp_packet.c).
 *
 * Build and run:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. -Isrc \
 *     tests/fuzz/fuzz_rndis.c src/synthetic/rndis.c src/synthetic/rndis_oid.c \
 *     src/synthetic/netvsp_packet.c src/synthetic/netvsp_offload.c src/synthetic/netvsp_rss.c \
 *     src/log.c -o fuzz_rndis && ./fuzz_rndis -max_len=4096
 * (add any file the linker names as missing). The replay build is in tests/fuzz/meson.build.
 *
 * Input: records. [0] kind (even: control message, odd: data message), [1..2] length L (LE),
 * then L bytes of the message; a data message's available bytes are L plus [kind >> 1]. One
 * device lives across the records, so a sequence can initialize it, then query and set. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synthetic/netvsp_packet.h"
#include "synthetic/rndis.h"
#include "synthetic/rndis_protocol.h"

#define REQUIRE(cond)                                                              \
	do {                                                                       \
		if (!(cond)) {                                                     \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, \
				__LINE__, #cond);                                  \
			abort();                                                   \
		}                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void data_message(const uint8_t *msg, uint32_t len, uint32_t extra)
{
	uint8_t head[NETVSP_TX_MSG_HEAD_MAX];
	uint32_t head_len = len < sizeof(head) ? len : (uint32_t)sizeof(head);
	uint32_t avail = len + extra;
	struct netvsp_tx_msg m;

	memcpy(head, msg, head_len);
	if (netvsp_packet_parse(head, head_len, avail, &m) == 0) {
		REQUIRE(m.msg_len <= avail);
		REQUIRE(m.data_offset <= m.msg_len && m.data_len <= m.msg_len - m.data_offset);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	const struct rndis_offload caps = {.tx_tcp4 = true, .tx_udp4 = true, .rx_tcp4 = true,
					   .lso4 = true};
	struct rndis_device d;
	uint8_t resp[RNDIS_RESPONSE_MAX];

	rndis_device_init(&d, mac, 1500, 4, &caps);
	while (size >= 3) {
		uint8_t kind = data[0];
		uint32_t len = (uint32_t)data[1] | (uint32_t)data[2] << 8;

		data += 3;
		size -= 3;
		if (len > size)
			len = (uint32_t)size;
		if (kind & 1) {
			data_message(data, len, kind >> 1);
		} else {
			/* Copied, as netvsp does: the parser may read all len bytes. */
			uint8_t *msg = malloc(len ? len : 1);

			REQUIRE(msg);
			memcpy(msg, data, len);
			REQUIRE(rndis_control(&d, msg, len, resp, sizeof(resp)) <= sizeof(resp));
			free(msg);
		}
		data += len;
		size -= len;
	}
	return 0;
}

#ifdef FUZZ_STANDALONE
#include "replay.h"
static uint32_t put32(uint8_t *p, uint32_t off, uint32_t v)
{
	memcpy(p + off, &v, 4);
	return off + 4;
}

/* Replays each file named on the command line; with none, a Linux-like sequence: INITIALIZE,
 * QUERY of the permanent address, a truncated QUERY, and a data message with one frame. */
int main(int argc, char **argv)
{
	uint8_t in[256];
	uint32_t n = 0, o;
	if (argc < 2) {
		in[n++] = 0, in[n++] = 24, in[n++] = 0; /* INITIALIZE: req 1, 1.0, 16 KiB */
		o = n;
		o = put32(in, o, RNDIS_MSG_INIT), o = put32(in, o, 24), o = put32(in, o, 1);
		o = put32(in, o, 1), o = put32(in, o, 0), o = put32(in, o, 0x4000);
		n = o;
		in[n++] = 0, in[n++] = 28, in[n++] = 0; /* QUERY permanent address, no buffer */
		o = n;
		o = put32(in, o, RNDIS_MSG_QUERY), o = put32(in, o, 28), o = put32(in, o, 2);
		o = put32(in, o, OID_802_3_PERMANENT_ADDRESS), o = put32(in, o, 0);
		o = put32(in, o, 0), o = put32(in, o, 0);
		n = o;
		in[n++] = 0, in[n++] = 10, in[n++] = 0; /* a QUERY cut short */
		o = put32(in, n, RNDIS_MSG_QUERY), o = put32(in, o, 28);
		n = o + 2;
		in[n++] = 1, in[n++] = 44 + 14, in[n++] = 0; /* PACKET: 44-byte header, 14-byte frame */
		o = n;
		o = put32(in, o, RNDIS_MSG_PACKET), o = put32(in, o, 44 + 14);
		o = put32(in, o, 36), o = put32(in, o, 14); /* data offset (from byte 8), length */
		for (int i = 0; i < 7; i++)
			o = put32(in, o, 0);
		memset(in + o, 0xab, 14);
		n = o + 14;
		return LLVMFuzzerTestOneInput(in, n);
	}
	return fuzz_replay_files(argc, argv);
}
#endif
