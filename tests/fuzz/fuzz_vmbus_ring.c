/* libFuzzer target over the VMBus ring reader and writer (src/vmbus/ring.c, packet.c): a fake
 * ring whose header, indices and data all come from the input.
 *
 * Build and run:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. -Isrc \
 *     tests/fuzz/fuzz_vmbus_ring.c src/vmbus/ring.c src/vmbus/packet.c src/guest_mem.c \
 *     -o fuzz_vmbus_ring && ./fuzz_vmbus_ring -max_len=20000
 * Replay files without libFuzzer:
 *   cc -g -fsanitize=address,undefined -DFUZZ_STANDALONE -D_GNU_SOURCE -I. -Isrc \
 *     tests/fuzz/fuzz_vmbus_ring.c tests/fuzz/replay.c src/vmbus/ring.c src/vmbus/packet.c src/guest_mem.c \
 *     -o fuzz_vmbus_ring && ./fuzz_vmbus_ring crash-*
 *
 * Input: [0] data pages per ring - 1 (mod 4), [1] peek buffer size, [2] PFN shuffle, [3] write
 * sizes seed, then two 20-byte headers (inbound, outbound: write_index, read_index,
 * interrupt_mask, pending_send_sz, feature_bits), then the inbound ring's data. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/vmbus/ring.h"

#define PG 4096u
#define MAX_RING_PAGES 5u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void set_header(struct hv_ring_buffer *h, const uint8_t *p)
{
	h->write_index = get32(p);
	h->read_index = get32(p + 4);
	h->interrupt_mask = get32(p + 8);
	h->pending_send_sz = get32(p + 12);
	h->feature_bits = get32(p + 16);
}

/* Uses every byte the parser says is there, so ASan sees any pointer beyond the copy. */
static unsigned touch(const struct vmbus_packet *pkt)
{
	unsigned sum = 0;
	struct vmbus_packet_gpa_iter it;
	struct vmbus_packet_range r;

	for (uint32_t i = 0; i < pkt->data_len; i++)
		sum += pkt->data[i];
	if (pkt->type == VM_PKT_DATA_USING_XFER_PAGES)
		for (uint32_t i = 0; i < pkt->range_count; i++)
			sum += pkt->xfer_ranges[i].byte_count + pkt->xfer_ranges[i].byte_offset;
	vmbus_packet_gpa_iter_init(&it, pkt);
	while (vmbus_packet_gpa_iter_next(&it, &r)) {
		if (r.byte_offset >= PG || r.pfn_count == 0)
			abort();
		for (uint32_t i = 0; i < r.pfn_count; i++)
			sum += (unsigned)r.pfns[i];
	}
	return sum;
}

static void run_inbound(struct vmbus_ring *in, size_t buf_size, uint64_t *buf)
{
	struct vmbus_packet pkt;
	unsigned sum = 0;

	vmbus_ring_mask_interrupts(in);
	for (int i = 0; i < 64; i++) {
		int ret = vmbus_ring_peek(in, &pkt, buf, buf_size);

		if (ret == 0) {
			if (pkt.len > buf_size ||
			    pkt.data + pkt.data_len > (uint8_t *)buf + pkt.len)
				abort();
			sum += touch(&pkt);
			vmbus_ring_consume(in);
		} else if (ret == -ENOBUFS) {
			if (pkt.len <= buf_size)
				abort();
			vmbus_ring_consume(in); /* drop it */
		} else if (ret == -EAGAIN || ret == -EBADMSG) {
			break;
		} else {
			abort();
		}
		if (in->priv_index >= in->data_size || in->priv_index % 8)
			abort();
		if (i % 5 == 4)
			(void)vmbus_ring_commit_read(in);
	}
	(void)vmbus_ring_commit_read(in);
	if (in->hdr->read_index != in->priv_index)
		abort();
	(void)vmbus_ring_unmask_interrupts(in);
	(void)sum;
}

static void run_outbound(struct vmbus_ring *out, uint8_t seed)
{
	static const uint8_t payload[3 * PG];
	struct vmtransfer_page_range ranges[4] = {{1, 2}, {3, 4}, {5, 6}, {7, 8}};
	struct vmbus_xfer_pages xp = {.pageset_id = 0xcafe, .ranges = ranges};
	bool sig;

	for (int i = 0; i < 8; i++) {
		size_t plen = (seed * 97u + i * 1031u) % sizeof(payload);
		struct iovec iov = {(void *)payload, plen};
		int ret;

		xp.range_count = (seed + i) % 5;
		ret = i % 3 == 2 ? vmbus_ring_write_xfer_pages(out, 1, i, &xp, &iov, 1, &sig)
				 : vmbus_ring_write(out, VM_PKT_DATA_INBAND, 0, i, &iov, 1, &sig);
		if (ret == -EAGAIN) {
			ret = vmbus_ring_set_pending_send(out, vmbus_packet_ring_bytes(0, plen));
			if (ret != 0 && ret != -EAGAIN && ret != -EMSGSIZE && ret != -EBADMSG)
				abort();
		} else if (ret != 0 && ret != -EMSGSIZE && ret != -EBADMSG) {
			abort();
		}
		if (out->hdr->write_index != out->priv_index || out->priv_index >= out->data_size ||
		    out->priv_index % 8)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t buf[(VMBUS_PKT_MAX_LEN + 8) / 8];
	struct guest_mem mem;
	struct vmbus_ring in, out;
	struct vmbus_packet pkt;
	uint64_t pfns[2 * MAX_RING_PAGES];
	unsigned npages, total;
	uint8_t *ram;
	size_t buf_size, fill;

	if (size < 4 + 40)
		return 0;
	/* the parser alone over the raw input */
	fill = size < sizeof(buf) ? size & ~(size_t)7 : sizeof(buf);
	memcpy(buf, data, fill);
	if (vmbus_packet_parse(buf, fill, &pkt) == 0)
		(void)touch(&pkt);

	npages = 2 + data[0] % (MAX_RING_PAGES - 1);
	buf_size = data[1] < 16 ? (size_t)data[1] * 8 : data[1] < 32 ? VMBUS_PKT_MAX_LEN : PG;
	total = 2 * npages;
	/* exactly the rings' pages: any access beyond them is an ASan report */
	ram = aligned_alloc(PG, (size_t)total * PG);
	if (!ram)
		return 0;
	memset(ram, 0, (size_t)total * PG);
	guest_mem_init_fake(&mem, ram, (uint64_t)total * PG);
	for (unsigned i = 0; i < total; i++)
		pfns[i] = i;
	for (unsigned i = total - 1, x = data[2]; i > 0; i--) { /* shuffle, seeded by data[2] */
		unsigned j;
		uint64_t t;

		x = x * 1103515245u + 12345u;
		j = (x >> 16) % (i + 1);
		t = pfns[i];
		pfns[i] = pfns[j];
		pfns[j] = t;
	}
	set_header((struct hv_ring_buffer *)(ram + pfns[0] * PG), data + 4);
	set_header((struct hv_ring_buffer *)(ram + pfns[npages] * PG), data + 24);
	for (unsigned p = 1; p < npages; p++) {
		size_t off = 44 + (size_t)(p - 1) * PG;

		if (off < size)
			memcpy(ram + pfns[p] * PG, data + off, size - off < PG ? size - off : PG);
	}

	if (vmbus_ring_init(&in, VMBUS_RING_INBOUND, &mem, pfns, npages) == 0) {
		run_inbound(&in, buf_size, buf);
		vmbus_ring_destroy(&in);
	}
	if (vmbus_ring_init(&out, VMBUS_RING_OUTBOUND, &mem, pfns + npages, npages) == 0) {
		run_outbound(&out, data[3]);
		vmbus_ring_destroy(&out);
	}
	free(ram);
	return 0;
}

#ifdef FUZZ_STANDALONE
#include "replay.h"
/* With no files: 20000 deterministic pseudo-random inputs, so a plain build still shakes the
 * reader (a crash or a sanitizer report fails the test). */
static void random_inputs(void)
{
	static uint8_t d[4096];
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (int i = 0; i < 20000; i++) {
		size_t n;

		for (size_t j = 0; j < sizeof(d); j++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			d[j] = (uint8_t)x;
		}
		n = (size_t)(x % sizeof(d)) + 1;
		LLVMFuzzerTestOneInput(d, n);
	}
	printf("20000 random inputs: ok\n");
}

int main(int argc, char **argv)
{
	if (argc == 1)
		random_inputs();

	return fuzz_replay_files(argc, argv);
}
#endif
