/* SCSI disk logic (src/backend/scsi_disk.c): every command as Linux's sd and Windows' disk.sys
 * send it, every error path (short CDBs, bad fields, ranges, read-only, bad parameter lists,
 * LUNs), allocation-length truncation, scattered buffers, I/O plans and their completion, and a
 * random-CDB sweep checking the plan's invariants. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "src/backend/scsi_disk.h"
#include "unit.h"

#define IR SCSI_SENSE_ILLEGAL_REQUEST
#define BUF_SIZE (1u << 20)

static uint8_t buf[BUF_SIZE];
static struct scsi_plan plan;

static struct scsi_disk_info disk_default(void)
{
	struct scsi_disk_info d = {
		.nblocks = 1000,
		.block_size = 512,
		.phys_block_exp = 3,
		.can_unmap = true,
		.write_cache = true,
		.max_transfer_blocks = 512,
		.wwn = 0x6001405123456789ull, /* NAA nibble 6: must go out as 5 */
	};

	strcpy(d.vendor, "HVKVM");
	strcpy(d.product, "Virtual Disk");
	strcpy(d.revision, "0.1");
	strcpy(d.serial, "SN-0042");
	return d;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

static void run_full(const struct scsi_disk_info *d, const uint8_t *cdb, unsigned cdb_len,
		     uint64_t lun, const struct iovec *iov, unsigned cnt, size_t buf_len)
{
	struct scsi_request r = { .cdb = cdb, .cdb_len = cdb_len, .buf = iov, .buf_cnt = cnt,
				  .buf_len = buf_len, .lun = lun };

	memset(&plan, 0xa5, sizeof(plan)); /* every field the result needs must be set */
	scsi_disk_prepare(d, &r, &plan);
}

/* One buffer of buf_len bytes at buf, pre-filled with 0xee so untouched bytes show. */
static void run(const struct scsi_disk_info *d, const uint8_t *cdb, unsigned cdb_len, size_t buf_len)
{
	struct iovec iov = { buf, buf_len };

	memset(buf, 0xee, buf_len < 4096 ? 4096 : buf_len);
	run_full(d, cdb, cdb_len, 0, &iov, 1, buf_len);
}

static bool sense_is(uint8_t key, uint8_t asc, uint8_t ascq)
{
	bool ok = plan.status == SCSI_STATUS_CHECK_CONDITION && plan.sense_len == SCSI_SENSE_LEN &&
		  plan.sense[0] == 0x70 && plan.sense[2] == key && plan.sense[7] == 10 &&
		  plan.sense[12] == asc && plan.sense[13] == ascq && plan.nio == 0 &&
		  plan.data_len == 0;

	if (!ok)
		fprintf(stderr, "  got status %u sense_len %u key %x asc %02x/%02x nio %u len %zu\n",
			plan.status, plan.sense_len, plan.sense[2], plan.sense[12], plan.sense[13],
			plan.nio, plan.data_len);
	return ok;
}

static bool good_is(size_t data_len, unsigned nio)
{
	bool ok = plan.status == SCSI_STATUS_GOOD && plan.sense_len == 0 &&
		  plan.data_len == data_len && plan.nio == nio;

	if (!ok)
		fprintf(stderr, "  got status %u key %x asc %02x/%02x nio %u len %zu\n", plan.status,
			plan.sense[2], plan.sense[12], plan.sense[13], plan.nio, plan.data_len);
	return ok;
}

static bool io_is(unsigned i, enum scsi_io_type type, uint64_t offset, uint64_t length, bool fua)
{
	const struct scsi_io *io = &plan.io[i];
	bool ok = i < plan.nio && io->type == type && io->offset == offset &&
		  io->length == length && io->fua == fua;

	if (!ok)
		fprintf(stderr, "  io %u: type %d offset %llu length %llu fua %d\n", i, io->type,
			(unsigned long long)io->offset, (unsigned long long)io->length, io->fua);
	return ok;
}

#define CHECK_SENSE(key, asc, ascq) CHECK(sense_is(key, asc, ascq))
#define CHECK_GOOD(len, nio) CHECK(good_is(len, nio))
#define CHECK_IO(i, type, off, len, fua) CHECK(io_is(i, type, off, len, fua))

/* ---- Helpers of the module ---- */

static void test_buffers(void)
{
	uint8_t a[3], b[7], c[1], e[50], out[64], in[64];
	struct iovec iov[] = { { a, 3 }, { NULL, 0 }, { b, 7 }, { c, 1 }, { e, 50 } };

	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i + 1);
	CHECK_EQ(scsi_buf_write(iov, 5, 0, in, 61), 61);
	CHECK_EQ(a[2], 3);
	CHECK_EQ(b[0], 4);
	CHECK_EQ(c[0], 11);
	CHECK_EQ(e[0], 12);
	CHECK_EQ(e[49], 61);
	memset(out, 0, sizeof(out));
	CHECK_EQ(scsi_buf_read(iov, 5, 2, out, 9), 9); /* straddles a, the empty iovec, b, c */
	CHECK_EQ(out[0], 3);
	CHECK_EQ(out[8], 11);
	CHECK_EQ(scsi_buf_read(iov, 5, 55, out, 20), 6); /* runs off the end */
	CHECK_EQ(out[5], 61);
	CHECK_EQ(scsi_buf_read(iov, 5, 61, out, 4), 0);
	CHECK_EQ(scsi_buf_write(iov, 5, 1000, in, 4), 0);
	CHECK_EQ(scsi_buf_write(iov, 5, 10, in, 2), 2);
	CHECK_EQ(c[0], 1);
	CHECK_EQ(e[0], 2);
	CHECK_EQ(scsi_buf_write(iov, 0, 0, in, 4), 0);

	uint8_t sense[SCSI_SENSE_LEN];

	memset(sense, 0xff, sizeof(sense));
	CHECK_EQ(scsi_build_sense(sense, SCSI_SENSE_MEDIUM_ERROR, 0x11, 0x02), SCSI_SENSE_LEN);
	CHECK_EQ(sense[0], 0x70);
	CHECK_EQ(sense[1], 0);
	CHECK_EQ(sense[2], 0x03);
	CHECK_EQ(sense[7], 10);
	CHECK_EQ(sense[12], 0x11);
	CHECK_EQ(sense[13], 0x02);
	CHECK_EQ(sense[17], 0);
}

/* ---- INQUIRY ---- */

static void inquiry_cdb(uint8_t *cdb, bool evpd, uint8_t page, uint16_t alloc)
{
	memset(cdb, 0, 6);
	cdb[0] = 0x12;
	cdb[1] = evpd;
	cdb[2] = page;
	put16(cdb + 3, alloc);
}

static void test_inquiry_standard(void)
{
	struct scsi_disk_info d = disk_default();
	uint8_t cdb[6];

	inquiry_cdb(cdb, false, 0, 96);
	run(&d, cdb, 6, 256);
	CHECK_GOOD(36, 0);
	CHECK_EQ(buf[0], 0x00);
	CHECK_EQ(buf[1], 0x00);
	CHECK_EQ(buf[2], 0x06);
	CHECK_EQ(buf[3], 0x02);
	CHECK_EQ(buf[4], 31);
	CHECK_EQ(buf[7], 0x02);
	CHECK(!memcmp(buf + 8, "HVKVM   Virtual Disk    0.1 ", 28));
	CHECK_EQ(buf[36], 0xee);

	/* Truncation by allocation length, and by the buffer. */
	inquiry_cdb(cdb, false, 0, 5);
	run(&d, cdb, 6, 256);
	CHECK_GOOD(5, 0);
	CHECK_EQ(buf[4], 31);
	CHECK_EQ(buf[5], 0xee);
	inquiry_cdb(cdb, false, 0, 255);
	run(&d, cdb, 6, 10);
	CHECK_GOOD(10, 0);
	CHECK_EQ(buf[10], 0xee);
	inquiry_cdb(cdb, false, 0, 0);
	run(&d, cdb, 6, 256);
	CHECK_GOOD(0, 0);
	CHECK_EQ(buf[0], 0xee);

	/* Full-width fields are not NUL terminated on the wire; odd bytes become '_'. */
	strcpy(d.vendor, "ABCDEFGH");
	strcpy(d.product, "0123456789abcdef");
	d.revision[0] = '\t';
	inquiry_cdb(cdb, false, 0, 36);
	run(&d, cdb, 6, 36);
	CHECK(!memcmp(buf + 8, "ABCDEFGH0123456789abcdef_.1 ", 28));

	/* Page code without EVPD; CMDDT. */
	inquiry_cdb(cdb, false, 0x80, 96);
	run(&d, cdb, 6, 256);
	CHECK_SENSE(IR, 0x24, 0);
	inquiry_cdb(cdb, false, 0, 96);
	cdb[1] = 0x02;
	run(&d, cdb, 6, 256);
	CHECK_SENSE(IR, 0x24, 0);

	/* A LUN that does not exist: qualifier 3, type 1Fh; VPD there is refused. */
	struct iovec iov = { buf, 256 };

	inquiry_cdb(cdb, false, 0, 96);
	run_full(&d, cdb, 6, 3, &iov, 1, 256);
	CHECK_GOOD(36, 0);
	CHECK_EQ(buf[0], 0x7f);
	inquiry_cdb(cdb, true, 0, 96);
	run_full(&d, cdb, 6, 3, &iov, 1, 256);
	CHECK_SENSE(IR, 0x25, 0);
}

static void test_inquiry_scattered(void)
{
	struct scsi_disk_info d = disk_default();
	uint8_t cdb[6], flat[64], p1[3], p2[7], p3[1], p4[5], p5[100];
	struct iovec iov[] = { { p1, 3 }, { NULL, 0 }, { p2, 7 }, { p3, 1 }, { p4, 5 }, { p5, 100 } };
	uint8_t gathered[64];

	inquiry_cdb(cdb, true, 0x83, 64);
	run(&d, cdb, 6, 64);
	CHECK(plan.data_len > 16);
	memcpy(flat, buf, plan.data_len);

	size_t want = plan.data_len;

	run_full(&d, cdb, 6, 0, iov, 6, 116);
	CHECK_GOOD(want, 0);
	CHECK_EQ(scsi_buf_read(iov, 6, 0, gathered, want), want);
	CHECK(!memcmp(flat, gathered, want));

	/* iovecs shorter than buf_len claims: data_len says what really moved. */
	inquiry_cdb(cdb, false, 0, 36);
	run_full(&d, cdb, 6, 0, iov, 5, 200);
	CHECK_GOOD(16, 0);
}

static void test_vpd(void)
{
	struct scsi_disk_info d = disk_default();
	uint8_t cdb[6];

	inquiry_cdb(cdb, true, 0x00, 255);
	run(&d, cdb, 6, 255);
	CHECK_GOOD(10, 0);
	CHECK_EQ(buf[1], 0x00);
	CHECK_EQ(get16(buf + 2), 6);
	CHECK(!memcmp(buf + 4, "\x00\x80\x83\xb0\xb1\xb2", 6));

	inquiry_cdb(cdb, true, 0x80, 255);
	run(&d, cdb, 6, 255);
	CHECK_GOOD(4 + 7, 0);
	CHECK_EQ(buf[1], 0x80);
	CHECK_EQ(get16(buf + 2), 7);
	CHECK(!memcmp(buf + 4, "SN-0042", 7));

	/* Device identification: NAA 5 then T10 vendor ID. */
	inquiry_cdb(cdb, true, 0x83, 255);
	run(&d, cdb, 6, 255);
	CHECK_GOOD(4 + 12 + 4 + 24 + 7, 0);
	CHECK_EQ(buf[1], 0x83);
	CHECK_EQ(get16(buf + 2), 12 + 4 + 24 + 7);
	CHECK_EQ(buf[4], 0x01);
	CHECK_EQ(buf[5], 0x03);
	CHECK_EQ(buf[7], 8);
	CHECK_EQ(get64(buf + 8), 0x5001405123456789ull);
	CHECK_EQ(buf[16], 0x02);
	CHECK_EQ(buf[17], 0x01);
	CHECK_EQ(buf[19], 24 + 7);
	CHECK(!memcmp(buf + 20, "HVKVM   Virtual Disk    SN-0042", 31));

	/* Block limits. */
	inquiry_cdb(cdb, true, 0xb0, 255);
	run(&d, cdb, 6, 255);
	CHECK_GOOD(64, 0);
	CHECK_EQ(get16(buf + 2), 0x3c);
	CHECK_EQ(buf[4] & 1, 1);             /* WSNZ */
	CHECK_EQ(get16(buf + 6), 8);         /* granularity: 1 << phys_block_exp */
	CHECK_EQ(get32(buf + 8), 512);       /* max transfer */
	CHECK_EQ(get32(buf + 20), 0xffffffffu);
	CHECK_EQ(get32(buf + 24), SCSI_UNMAP_MAX_DESCRIPTORS);
	CHECK_EQ(get32(buf + 28), 8);
	CHECK_EQ(buf[32], 0x80);             /* UGAVALID, alignment 0 */
	CHECK_EQ(get64(buf + 36), 512);      /* max write same */

	inquiry_cdb(cdb, true, 0xb1, 255);
	run(&d, cdb, 6, 255);
	CHECK_GOOD(64, 0);
	CHECK_EQ(get16(buf + 4), 1);

	inquiry_cdb(cdb, true, 0xb2, 255);
	run(&d, cdb, 6, 255);
	CHECK_GOOD(8, 0);
	CHECK_EQ(get16(buf + 2), 4);
	CHECK_EQ(buf[5], 0xe0);
	CHECK_EQ(buf[6] & 7, 2);

	/* Allocation length truncates a VPD page too. */
	inquiry_cdb(cdb, true, 0xb0, 12);
	run(&d, cdb, 6, 255);
	CHECK_GOOD(12, 0);
	CHECK_EQ(buf[12], 0xee);

	/* Unknown pages. */
	inquiry_cdb(cdb, true, 0x89, 255);
	run(&d, cdb, 6, 255);
	CHECK_SENSE(IR, 0x24, 0);
	inquiry_cdb(cdb, true, 0xc0, 255);
	run(&d, cdb, 6, 255);
	CHECK_SENSE(IR, 0x24, 0);

	/* Without unmap: no unmap limits, no provisioning bits; without serial: no 0x80 page. */
	d.can_unmap = false;
	d.serial[0] = 0;
	d.wwn = 0;
	inquiry_cdb(cdb, true, 0xb0, 255);
	run(&d, cdb, 6, 255);
	CHECK_GOOD(64, 0);
	CHECK_EQ(get32(buf + 20), 0);
	CHECK_EQ(get32(buf + 24), 0);
	inquiry_cdb(cdb, true, 0xb2, 255);
	run(&d, cdb, 6, 255);
	CHECK_GOOD(8, 0);
	CHECK_EQ(buf[5], 0);
	CHECK_EQ(buf[6], 0);
	inquiry_cdb(cdb, true, 0x00, 255);
	run(&d, cdb, 6, 255);
	CHECK_GOOD(9, 0);
	CHECK(!memcmp(buf + 4, "\x00\x83\xb0\xb1\xb2", 5));
	inquiry_cdb(cdb, true, 0x80, 255);
	run(&d, cdb, 6, 255);
	CHECK_SENSE(IR, 0x24, 0);
	inquiry_cdb(cdb, true, 0x83, 255);
	run(&d, cdb, 6, 255);
	CHECK_GOOD(4 + 4 + 24, 0); /* T10 vendor ID only */
	CHECK_EQ(buf[5], 0x01);
}

/* ---- Simple commands ---- */

static void test_simple(void)
{
	struct scsi_disk_info d = disk_default();
	uint8_t cdb[16] = { 0 };

	cdb[0] = 0x00; /* TEST UNIT READY */
	run(&d, cdb, 6, 0);
	CHECK_GOOD(0, 0);
	cdb[0] = 0x1b; /* START STOP UNIT, stop */
	run(&d, cdb, 6, 0);
	CHECK_GOOD(0, 0);
	cdb[0] = 0x1e; /* PREVENT ALLOW MEDIUM REMOVAL, prevent */
	cdb[4] = 1;
	run(&d, cdb, 6, 0);
	CHECK_GOOD(0, 0);

	/* REQUEST SENSE: nothing pending. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x03;
	cdb[4] = 252;
	run(&d, cdb, 6, 252);
	CHECK_GOOD(18, 0);
	CHECK_EQ(buf[0], 0x70);
	CHECK_EQ(buf[2], 0);
	CHECK_EQ(buf[7], 10);
	CHECK_EQ(buf[12], 0);
	cdb[4] = 8;
	run(&d, cdb, 6, 252);
	CHECK_GOOD(8, 0);
	cdb[1] = 1; /* descriptor format */
	cdb[4] = 252;
	run(&d, cdb, 6, 252);
	CHECK_GOOD(8, 0);
	CHECK_EQ(buf[0], 0x72);
	CHECK_EQ(buf[1], 0);
	CHECK_EQ(buf[7], 0);

	/* REQUEST SENSE at a LUN that does not exist: GOOD, the data says why. */
	struct iovec iov = { buf, 252 };

	cdb[1] = 0;
	run_full(&d, cdb, 6, 1, &iov, 1, 252);
	CHECK_GOOD(18, 0);
	CHECK_EQ(buf[2], IR);
	CHECK_EQ(buf[12], 0x25);

	/* Opcodes we do not do; a CDB of length 0; CDBs shorter than their group. */
	uint8_t unknown[] = { 0x37, 0xc0, 0x7f, 0x04, 0xff, 0xa3, 0x9f };

	for (unsigned i = 0; i < sizeof(unknown); i++) {
		memset(cdb, 0, sizeof(cdb));
		cdb[0] = unknown[i];
		run(&d, cdb, 16, 512);
		CHECK_SENSE(IR, 0x20, 0);
	}
	run(&d, cdb, 0, 512);
	CHECK_SENSE(IR, 0x20, 0);

	uint8_t shorts[][2] = { { 0x28, 9 }, { 0x2a, 6 }, { 0x88, 10 }, { 0xa8, 10 }, { 0x12, 5 },
				{ 0xa0, 10 }, { 0x9e, 12 }, { 0x42, 9 }, { 0x00, 1 } };

	for (unsigned i = 0; i < sizeof(shorts) / sizeof(shorts[0]); i++) {
		memset(cdb, 0, sizeof(cdb));
		cdb[0] = shorts[i][0];
		run(&d, cdb, shorts[i][1], 512);
		CHECK_SENSE(IR, 0x24, 0);
	}

	/* LUNs other than 0: everything but INQUIRY, REPORT LUNS, REQUEST SENSE. */
	uint8_t ops[] = { 0x00, 0x28, 0x2a, 0x25, 0x1a, 0x42, 0x37 };
	struct iovec big = { buf, 4096 };

	for (unsigned i = 0; i < sizeof(ops); i++) {
		memset(cdb, 0, sizeof(cdb));
		cdb[0] = ops[i];
		run_full(&d, cdb, 16, 1, &big, 1, 4096);
		CHECK_SENSE(IR, 0x25, 0);
	}
}

/* ---- READ CAPACITY ---- */

static void test_read_capacity(void)
{
	struct scsi_disk_info d = disk_default();
	uint8_t cdb[16] = { 0x25 };

	run(&d, cdb, 10, 8);
	CHECK_GOOD(8, 0);
	CHECK_EQ(get32(buf), 999);
	CHECK_EQ(get32(buf + 4), 512);
	run(&d, cdb, 10, 4); /* short buffer: truncated */
	CHECK_GOOD(4, 0);

	d.nblocks = 0xffffffffull; /* last LBA FFFFFFFEh still fits */
	run(&d, cdb, 10, 8);
	CHECK_EQ(get32(buf), 0xfffffffeu);
	d.nblocks = 0x100000000ull;
	run(&d, cdb, 10, 8);
	CHECK_EQ(get32(buf), 0xffffffffu);
	d.nblocks = (1ull << 40) + 6; /* not all ones in its low 32 bits */
	d.block_size = 4096;
	run(&d, cdb, 10, 8);
	CHECK_EQ(get32(buf), 0xffffffffu);
	CHECK_EQ(get32(buf + 4), 4096);

	/* READ CAPACITY (16). */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x9e;
	cdb[1] = 0x10;
	put32(cdb + 10, 32);
	run(&d, cdb, 16, 32);
	CHECK_GOOD(32, 0);
	CHECK_EQ(get64(buf), (1ull << 40) + 5);
	CHECK_EQ(get32(buf + 8), 4096);
	CHECK_EQ(buf[13], 3);
	CHECK_EQ(buf[14], 0x80);
	CHECK_EQ(buf[15], 0);
	put32(cdb + 10, 12);
	run(&d, cdb, 16, 32);
	CHECK_GOOD(12, 0);
	CHECK_EQ(buf[12], 0xee);
	d.can_unmap = false;
	d.phys_block_exp = 0;
	put32(cdb + 10, 32);
	run(&d, cdb, 16, 32);
	CHECK_EQ(buf[13], 0);
	CHECK_EQ(buf[14], 0);
	cdb[1] = 0x12; /* GET LBA STATUS: not done */
	run(&d, cdb, 16, 32);
	CHECK_SENSE(IR, 0x24, 0);
}

/* ---- READ / WRITE ---- */

static void rw_cdb(uint8_t *cdb, uint8_t op, uint8_t flags, uint64_t lba, uint32_t n)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	switch (op) {
	case 0x08:
	case 0x0a:
		cdb[1] = (uint8_t)(lba >> 16 & 0x1f);
		put16(cdb + 2, (uint16_t)lba);
		cdb[4] = (uint8_t)n;
		break;
	case 0x28:
	case 0x2a:
	case 0x2f:
	case 0x35:
	case 0x41:
		cdb[1] = flags;
		put32(cdb + 2, (uint32_t)lba);
		put16(cdb + 7, (uint16_t)n);
		break;
	case 0xa8:
	case 0xaa:
		cdb[1] = flags;
		put32(cdb + 2, (uint32_t)lba);
		put32(cdb + 6, n);
		break;
	default: /* 16-byte: READ/WRITE/VERIFY/SYNCHRONIZE CACHE/WRITE SAME (16) */
		cdb[1] = flags;
		put64(cdb + 2, lba);
		put32(cdb + 10, n);
		break;
	}
}

static unsigned cdb_len_of(uint8_t op)
{
	return op < 0x20 ? 6 : op < 0x80 ? 10 : op < 0xa0 ? 16 : 12;
}

static void test_read_write(void)
{
	struct scsi_disk_info d = disk_default();
	uint8_t cdb[16];
	static const uint8_t reads[] = { 0x08, 0x28, 0xa8, 0x88 };
	static const uint8_t writes[] = { 0x0a, 0x2a, 0xaa, 0x8a };

	for (unsigned i = 0; i < 4; i++) {
		for (unsigned w = 0; w < 2; w++) {
			uint8_t op = w ? writes[i] : reads[i];
			unsigned len = cdb_len_of(op);
			enum scsi_io_type type = w ? SCSI_IO_WRITE : SCSI_IO_READ;

			rw_cdb(cdb, op, 0, 990, 10); /* ends exactly at the last block */
			run(&d, cdb, len, 65536);
			CHECK_GOOD(5120, 1);
			CHECK_IO(0, type, 990 * 512, 5120, false);

			rw_cdb(cdb, op, 0, 991, 10);
			run(&d, cdb, len, 65536);
			CHECK_SENSE(IR, 0x21, 0);
			rw_cdb(cdb, op, 0, 1000, 1);
			run(&d, cdb, len, 65536);
			CHECK_SENSE(IR, 0x21, 0);

			/* Shorter buffer than the transfer. */
			rw_cdb(cdb, op, 0, 0, 10);
			run(&d, cdb, len, 5119);
			CHECK_SENSE(IR, 0x24, 0);
			run(&d, cdb, len, 5120);
			CHECK_GOOD(5120, 1);

			/* Read-only disk. */
			d.readonly = true;
			run(&d, cdb, len, 5120);
			if (w)
				CHECK_SENSE(SCSI_SENSE_DATA_PROTECT, 0x27, 0);
			else
				CHECK_GOOD(5120, 1);
			d.readonly = false;

			if (op == 0x08 || op == 0x0a)
				continue;
			/* Length 0: nothing to do, but the LBA is still checked. */
			rw_cdb(cdb, op, 0, 999, 0);
			run(&d, cdb, len, 0);
			CHECK_GOOD(0, 0);
			rw_cdb(cdb, op, 0, 1000, 0);
			run(&d, cdb, len, 0);
			CHECK_SENSE(IR, 0x21, 0);
			/* Over the maximum transfer length. */
			rw_cdb(cdb, op, 0, 0, 513);
			run(&d, cdb, len, 1 << 20);
			CHECK_SENSE(IR, 0x24, 0);
			/* FUA on writes; ignored on reads. */
			rw_cdb(cdb, op, 0x08, 5, 2);
			run(&d, cdb, len, 1024);
			CHECK_GOOD(1024, 1);
			CHECK_IO(0, type, 5 * 512, 1024, w);
			/* RDPROTECT / WRPROTECT. */
			rw_cdb(cdb, op, 0x20, 5, 2);
			run(&d, cdb, len, 1024);
			CHECK_SENSE(IR, 0x24, 0);
		}
	}

	/* READ/WRITE (6): 21-bit LBA, length 0 means 256 blocks, no FUA bit. */
	d.nblocks = 1ull << 22;
	rw_cdb(cdb, 0x08, 0, 0x1fffff, 0);
	run(&d, cdb, 6, 256 * 512);
	CHECK_GOOD(256 * 512, 1);
	CHECK_IO(0, SCSI_IO_READ, 0x1fffffull * 512, 256 * 512, false);
	cdb[1] |= 0xe0; /* bits above the LBA are not part of it (LUN in SCSI-2) */
	run(&d, cdb, 6, 256 * 512);
	CHECK_IO(0, SCSI_IO_READ, 0x1fffffull * 512, 256 * 512, false);

	/* A 64-bit LBA that would wrap. */
	rw_cdb(cdb, 0x88, 0, UINT64_MAX - 1, 4);
	run(&d, cdb, 16, 4096);
	CHECK_SENSE(IR, 0x21, 0);

	/* Write cache off: every write is FUA. 4K blocks. */
	d = disk_default();
	d.write_cache = false;
	d.block_size = 4096;
	d.max_transfer_blocks = 0; /* no limit but the buffer */
	for (unsigned i = 0; i < 4; i++) {
		rw_cdb(cdb, writes[i], 0, 7, 3);
		run(&d, cdb, cdb_len_of(writes[i]), 3 * 4096);
		CHECK_GOOD(3 * 4096, 1);
		CHECK_IO(0, SCSI_IO_WRITE, 7 * 4096, 3 * 4096, true);
		rw_cdb(cdb, reads[i], 0, 7, 3);
		run(&d, cdb, cdb_len_of(reads[i]), 3 * 4096);
		CHECK_IO(0, SCSI_IO_READ, 7 * 4096, 3 * 4096, false);
	}
	rw_cdb(cdb, 0x88, 0, 0, 256);
	run(&d, cdb, 16, 1 << 20);
	CHECK_GOOD(1 << 20, 1);
}

/* ---- VERIFY, SYNCHRONIZE CACHE ---- */

static void test_verify_sync(void)
{
	struct scsi_disk_info d = disk_default();
	uint8_t cdb[16];

	rw_cdb(cdb, 0x2f, 0, 0, 1000);
	run(&d, cdb, 10, 0);
	CHECK_GOOD(0, 0);
	rw_cdb(cdb, 0x8f, 0, 999, 2);
	run(&d, cdb, 16, 0);
	CHECK_SENSE(IR, 0x21, 0);
	rw_cdb(cdb, 0x2f, 0x02, 0, 1); /* BYTCHK */
	run(&d, cdb, 10, 512);
	CHECK_SENSE(IR, 0x24, 0);
	rw_cdb(cdb, 0x8f, 0, 10, 10);
	run(&d, cdb, 16, 0);
	CHECK_GOOD(0, 0);

	rw_cdb(cdb, 0x35, 0, 0, 0);
	run(&d, cdb, 10, 0);
	CHECK_GOOD(0, 1);
	CHECK_IO(0, SCSI_IO_FLUSH, 0, 0, false);
	rw_cdb(cdb, 0x91, 0x02, 100, 10); /* IMMED */
	run(&d, cdb, 16, 0);
	CHECK_GOOD(0, 1);
	CHECK_IO(0, SCSI_IO_FLUSH, 0, 0, false);
	rw_cdb(cdb, 0x91, 0, 995, 10);
	run(&d, cdb, 16, 0);
	CHECK_SENSE(IR, 0x21, 0);
	d.readonly = true;
	rw_cdb(cdb, 0x35, 0, 0, 0);
	run(&d, cdb, 10, 0);
	CHECK_GOOD(0, 0);
}

/* ---- WRITE SAME ---- */

static void test_write_same(void)
{
	struct scsi_disk_info d = disk_default();
	uint8_t cdb[16];

	for (unsigned sixteen = 0; sixteen < 2; sixteen++) {
		uint8_t op = sixteen ? 0x93 : 0x41;
		unsigned len = sixteen ? 16 : 10;

		/* A zero block: WRITE ZEROES; with UNMAP: discard. */
		rw_cdb(cdb, op, 0, 100, 50);
		run(&d, cdb, len, 512);
		memset(buf, 0, 512);
		run_full(&d, cdb, len, 0, &(struct iovec){ buf, 512 }, 1, 512);
		CHECK_GOOD(512, 1);
		CHECK_IO(0, SCSI_IO_WRITE_ZEROES, 100 * 512, 50 * 512, false);
		rw_cdb(cdb, op, 0x08, 100, 50);
		run_full(&d, cdb, len, 0, &(struct iovec){ buf, 512 }, 1, 512);
		CHECK_GOOD(512, 1);
		CHECK_IO(0, SCSI_IO_DISCARD, 100 * 512, 50 * 512, false);

		/* A pattern (the last byte alone non-zero): WRITE SAME with the block copied. */
		buf[511] = 0x5a;
		rw_cdb(cdb, op, 0, 0, 1000);
		d.max_transfer_blocks = 0;
		run_full(&d, cdb, len, 0, &(struct iovec){ buf, 512 }, 1, 512);
		CHECK_GOOD(512, 1);
		CHECK_IO(0, SCSI_IO_WRITE_SAME, 0, 1000 * 512, false);
		CHECK_EQ(plan.pattern[511], 0x5a);
		CHECK_EQ(plan.pattern[0], 0);
		/* UNMAP with a non-zero block writes the block. */
		rw_cdb(cdb, op, 0x08, 0, 1);
		run_full(&d, cdb, len, 0, &(struct iovec){ buf, 512 }, 1, 512);
		CHECK_IO(0, SCSI_IO_WRITE_SAME, 0, 512, false);
		d.max_transfer_blocks = 512;

		/* Errors: 0 blocks, range, too long, short buffer, flags, read-only, no unmap. */
		rw_cdb(cdb, op, 0, 0, 0);
		run(&d, cdb, len, 512);
		CHECK_SENSE(IR, 0x24, 0);
		rw_cdb(cdb, op, 0, 999, 2);
		run(&d, cdb, len, 512);
		CHECK_SENSE(IR, 0x21, 0);
		rw_cdb(cdb, op, 0, 0, 513);
		run(&d, cdb, len, 512);
		CHECK_SENSE(IR, 0x24, 0);
		rw_cdb(cdb, op, 0, 0, 1);
		run(&d, cdb, len, 511);
		CHECK_SENSE(IR, 0x24, 0);
		static const uint8_t bad_flags[] = { 0x10, 0x04, 0x02, 0x20 };

		for (unsigned i = 0; i < sizeof(bad_flags); i++) {
			rw_cdb(cdb, op, bad_flags[i], 0, 1);
			run(&d, cdb, len, 512);
			CHECK_SENSE(IR, 0x24, 0);
		}
		d.readonly = true;
		rw_cdb(cdb, op, 0, 0, 1);
		run(&d, cdb, len, 512);
		CHECK_SENSE(SCSI_SENSE_DATA_PROTECT, 0x27, 0);
		d.readonly = false;
		d.can_unmap = false;
		rw_cdb(cdb, op, 0x08, 0, 1);
		run(&d, cdb, len, 512);
		CHECK_SENSE(IR, 0x24, 0);
		d.can_unmap = true;
	}

	/* NDOB (16 only): no data-out at all. */
	rw_cdb(cdb, 0x93, 0x01, 10, 5);
	run(&d, cdb, 16, 0);
	CHECK_GOOD(0, 1);
	CHECK_IO(0, SCSI_IO_WRITE_ZEROES, 10 * 512, 5 * 512, false);
	rw_cdb(cdb, 0x93, 0x09, 10, 5);
	run(&d, cdb, 16, 0);
	CHECK_GOOD(0, 1);
	CHECK_IO(0, SCSI_IO_DISCARD, 10 * 512, 5 * 512, false);
	/* Bit 0 of WRITE SAME (10) is not NDOB: data is still read. */
	rw_cdb(cdb, 0x41, 0x01, 10, 5);
	run(&d, cdb, 10, 0);
	CHECK_SENSE(IR, 0x24, 0);

	/* The block scattered over odd iovecs, 4K blocks, write cache off. */
	uint8_t a[3], b[1000], c[1], e[5000];
	struct iovec iov[] = { { a, 3 }, { b, 1000 }, { NULL, 0 }, { c, 1 }, { e, 5000 } };

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	memset(e, 0, sizeof(e));
	c[0] = 0x77;
	d.block_size = 4096;
	d.write_cache = false;
	rw_cdb(cdb, 0x93, 0, 2, 3);
	run_full(&d, cdb, 16, 0, iov, 5, 6004);
	CHECK_GOOD(4096, 1);
	CHECK_IO(0, SCSI_IO_WRITE_SAME, 2 * 4096, 3 * 4096, true);
	CHECK_EQ(plan.pattern[1003], 0x77);
	CHECK_EQ(plan.pattern[1002], 0);
	e[4095 - 1004] = 1; /* the block's last byte */
	c[0] = 0;
	run_full(&d, cdb, 16, 0, iov, 5, 6004);
	CHECK_IO(0, SCSI_IO_WRITE_SAME, 2 * 4096, 3 * 4096, true);
	CHECK_EQ(plan.pattern[4095], 1);
	e[4095 - 1004] = 0;
	e[4096 - 1004] = 1; /* just past the block: not part of it */
	run_full(&d, cdb, 16, 0, iov, 5, 6004);
	CHECK_IO(0, SCSI_IO_WRITE_ZEROES, 2 * 4096, 3 * 4096, true);
	/* iovecs holding less than buf_len says. */
	run_full(&d, cdb, 16, 0, iov, 2, 6004);
	CHECK_SENSE(IR, 0x24, 0);
}

/* ---- UNMAP ---- */

static size_t unmap_list(uint8_t *p, const uint64_t (*ranges)[2], unsigned n)
{
	put16(p, (uint16_t)(6 + 16 * n));
	put16(p + 2, (uint16_t)(16 * n));
	put32(p + 4, 0);
	for (unsigned i = 0; i < n; i++) {
		put64(p + 8 + 16 * i, ranges[i][0]);
		put32(p + 16 + 16 * i, (uint32_t)ranges[i][1]);
		put32(p + 20 + 16 * i, 0);
	}
	return 8 + 16 * n;
}

static void unmap_cdb(uint8_t *cdb, size_t plen)
{
	memset(cdb, 0, 10);
	cdb[0] = 0x42;
	put16(cdb + 7, (uint16_t)plen);
}

static void run_unmap(const struct scsi_disk_info *d, const uint8_t *list, size_t plen,
		      size_t buf_len)
{
	uint8_t cdb[10];
	struct iovec iov = { buf, buf_len };

	unmap_cdb(cdb, plen);
	memset(buf, 0, buf_len);
	memcpy(buf, list, plen < buf_len ? plen : buf_len);
	run_full(d, cdb, 10, 0, &iov, 1, buf_len);
}

static void test_unmap(void)
{
	struct scsi_disk_info d = disk_default();
	static uint8_t list[8 + 16 * 80];
	const uint64_t ranges[][2] = { { 0, 8 }, { 500, 0 }, { 992, 8 }, { 100, 1 } };
	size_t plen = unmap_list(list, ranges, 4);

	run_unmap(&d, list, plen, plen);
	CHECK_GOOD(plen, 3);
	CHECK_IO(0, SCSI_IO_DISCARD, 0, 8 * 512, false);
	CHECK_IO(1, SCSI_IO_DISCARD, 992 * 512, 8 * 512, false);
	CHECK_IO(2, SCSI_IO_DISCARD, 100 * 512, 512, false);

	/* The list over odd iovecs. */
	uint8_t a[5], b[2], c[13], e[100];
	struct iovec iov[] = { { a, 5 }, { b, 2 }, { NULL, 0 }, { c, 13 }, { e, 100 } };
	uint8_t cdb[10];

	CHECK_EQ(scsi_buf_write(iov, 5, 0, list, plen), plen);
	unmap_cdb(cdb, plen);
	run_full(&d, cdb, 10, 0, iov, 5, 120);
	CHECK_GOOD(plen, 3);
	CHECK_IO(1, SCSI_IO_DISCARD, 992 * 512, 8 * 512, false);

	/* Length 0: nothing. Only zero-length descriptors: nothing either. */
	run_unmap(&d, list, 0, 0);
	CHECK_GOOD(0, 0);
	const uint64_t empty[][2] = { { 5, 0 }, { 999, 0 } };

	plen = unmap_list(list, empty, 2);
	run_unmap(&d, list, plen, plen);
	CHECK_GOOD(plen, 0);
	plen = unmap_list(list, empty, 0); /* header only */
	run_unmap(&d, list, plen, plen);
	CHECK_GOOD(8, 0);

	/* Parameter list length 1..7. */
	for (size_t l = 1; l < 8; l++) {
		run_unmap(&d, list, l, 8);
		CHECK_SENSE(IR, 0x1a, 0);
	}

	/* Header lengths that do not fit or do not agree. */
	plen = unmap_list(list, ranges, 2);
	put16(list, (uint16_t)(plen - 1)); /* UNMAP DATA LENGTH too big */
	run_unmap(&d, list, plen, plen);
	CHECK_SENSE(IR, 0x1a, 0);
	plen = unmap_list(list, ranges, 2);
	put16(list + 2, 48); /* BLOCK DESCRIPTOR DATA LENGTH past the list */
	run_unmap(&d, list, plen, plen);
	CHECK_SENSE(IR, 0x1a, 0);
	plen = unmap_list(list, ranges, 2);
	put16(list, 6 + 16); /* data length shorter than the descriptors it announces */
	run_unmap(&d, list, plen, plen);
	CHECK_SENSE(IR, 0x1a, 0);
	/* A list longer than the header says is fine (trailing bytes ignored). */
	plen = unmap_list(list, ranges, 1);
	run_unmap(&d, list, plen + 16, plen + 16);
	CHECK_GOOD(plen + 16, 1);
	/* A partial trailing descriptor is ignored. */
	plen = unmap_list(list, ranges, 2);
	put16(list, 6 + 16 + 10);
	put16(list + 2, 16 + 10);
	run_unmap(&d, list, plen, plen);
	CHECK_GOOD(plen, 1);
	CHECK_IO(0, SCSI_IO_DISCARD, 0, 8 * 512, false);

	/* Descriptor count above the limit: 65. Exactly 64 is fine. */
	uint64_t many[80][2];

	for (unsigned i = 0; i < 80; i++) {
		many[i][0] = i * 10;
		many[i][1] = 1;
	}
	plen = unmap_list(list, many, 65);
	run_unmap(&d, list, plen, plen);
	CHECK_SENSE(IR, 0x26, 0);
	plen = unmap_list(list, many, 64);
	run_unmap(&d, list, plen, plen);
	CHECK_GOOD(plen, 64);
	CHECK_IO(63, SCSI_IO_DISCARD, 630 * 512, 512, false);

	/* A descriptor out of range: nothing at all is planned. */
	const uint64_t bad[][2] = { { 0, 8 }, { 999, 2 } };

	plen = unmap_list(list, bad, 2);
	run_unmap(&d, list, plen, plen);
	CHECK_SENSE(IR, 0x21, 0);
	const uint64_t wrap[][2] = { { UINT64_MAX, 2 } };

	plen = unmap_list(list, wrap, 1);
	run_unmap(&d, list, plen, plen);
	CHECK_SENSE(IR, 0x21, 0);

	/* The buffer shorter than the parameter list. */
	plen = unmap_list(list, ranges, 2);
	run_unmap(&d, list, plen, plen - 1);
	CHECK_SENSE(IR, 0x24, 0);
	run_unmap(&d, list, plen, 4);
	CHECK_SENSE(IR, 0x24, 0);

	/* ANCHOR; read-only; no unmap at all. */
	unmap_cdb(cdb, plen);
	cdb[1] = 1;
	memcpy(buf, list, plen);
	run_full(&d, cdb, 10, 0, &(struct iovec){ buf, plen }, 1, plen);
	CHECK_SENSE(IR, 0x24, 0);
	d.readonly = true;
	run_unmap(&d, list, plen, plen);
	CHECK_SENSE(SCSI_SENSE_DATA_PROTECT, 0x27, 0);
	d.readonly = false;
	d.can_unmap = false;
	run_unmap(&d, list, plen, plen);
	CHECK_SENSE(IR, 0x20, 0);
}

/* ---- MODE SENSE / MODE SELECT ---- */

static void mode_sense_cdb(uint8_t *cdb, bool ten, uint8_t flags, uint8_t pc, uint8_t page,
			   uint8_t subpage, uint16_t alloc)
{
	memset(cdb, 0, 10);
	cdb[0] = ten ? 0x5a : 0x1a;
	cdb[1] = flags;
	cdb[2] = (uint8_t)(pc << 6 | page);
	cdb[3] = subpage;
	if (ten)
		put16(cdb + 7, alloc);
	else
		cdb[4] = (uint8_t)alloc;
}

static void test_mode_sense(void)
{
	struct scsi_disk_info d = disk_default();
	uint8_t cdb[10];

	/* MODE SENSE (6), caching page with block descriptor. */
	mode_sense_cdb(cdb, false, 0, 0, 0x08, 0, 255);
	run(&d, cdb, 6, 255);
	CHECK_GOOD(4 + 8 + 20, 0);
	CHECK_EQ(buf[0], 4 + 8 + 20 - 1);
	CHECK_EQ(buf[2], 0x10); /* DPOFUA, not WP */
	CHECK_EQ(buf[3], 8);
	CHECK_EQ(get32(buf + 4), 1000);
	CHECK_EQ(get32(buf + 8), 512);
	CHECK_EQ(buf[12], 0x08);
	CHECK_EQ(buf[13], 0x12);
	CHECK_EQ(buf[14], 0x04); /* WCE */

	/* DBD, write cache off, read-only. */
	d.write_cache = false;
	d.readonly = true;
	mode_sense_cdb(cdb, false, 0x08, 0, 0x08, 0, 255);
	run(&d, cdb, 6, 255);
	CHECK_GOOD(4 + 20, 0);
	CHECK_EQ(buf[2], 0x90);
	CHECK_EQ(buf[3], 0);
	CHECK_EQ(buf[4], 0x08);
	CHECK_EQ(buf[6], 0);
	d = disk_default();

	/* All pages, in order; control page QAM 1. */
	mode_sense_cdb(cdb, false, 0x08, 0, 0x3f, 0, 255);
	run(&d, cdb, 6, 255);
	CHECK_GOOD(4 + 20 + 12, 0);
	CHECK_EQ(buf[4], 0x08);
	CHECK_EQ(buf[24], 0x0a);
	CHECK_EQ(buf[25], 0x0a);
	CHECK_EQ(buf[27], 0x10);
	mode_sense_cdb(cdb, false, 0x08, 0, 0x3f, 0xff, 255);
	run(&d, cdb, 6, 255);
	CHECK_GOOD(4 + 20 + 12, 0);

	/* Truncation: the header still tells the full length. */
	mode_sense_cdb(cdb, false, 0, 0, 0x3f, 0, 4);
	run(&d, cdb, 6, 255);
	CHECK_GOOD(4, 0);
	CHECK_EQ(buf[0], 4 + 8 + 20 + 12 - 1);
	CHECK_EQ(buf[4], 0xee);

	/* Changeable values: nothing, WCE included. */
	mode_sense_cdb(cdb, false, 0x08, 1, 0x08, 0, 255);
	run(&d, cdb, 6, 255);
	CHECK_GOOD(24, 0);
	CHECK_EQ(buf[4], 0x08);
	CHECK_EQ(buf[5], 0x12);
	CHECK_EQ(buf[6], 0);
	/* Default values are the current ones. */
	mode_sense_cdb(cdb, false, 0x08, 2, 0x08, 0, 255);
	run(&d, cdb, 6, 255);
	CHECK_EQ(buf[6], 0x04);
	/* Saved values: not supported. */
	mode_sense_cdb(cdb, false, 0, 3, 0x08, 0, 255);
	run(&d, cdb, 6, 255);
	CHECK_SENSE(IR, 0x39, 0);
	/* Pages and subpages we do not have. */
	mode_sense_cdb(cdb, false, 0, 0, 0x1c, 0, 255);
	run(&d, cdb, 6, 255);
	CHECK_SENSE(IR, 0x24, 0);
	mode_sense_cdb(cdb, false, 0, 0, 0x08, 1, 255);
	run(&d, cdb, 6, 255);
	CHECK_SENSE(IR, 0x24, 0);

	/* MODE SENSE (10): short and long LBA descriptors. */
	mode_sense_cdb(cdb, true, 0, 0, 0x0a, 0, 512);
	run(&d, cdb, 10, 512);
	CHECK_GOOD(8 + 8 + 12, 0);
	CHECK_EQ(get16(buf), 8 + 8 + 12 - 2);
	CHECK_EQ(buf[3], 0x10);
	CHECK_EQ(buf[4], 0);
	CHECK_EQ(get16(buf + 6), 8);
	CHECK_EQ(buf[16], 0x0a);
	d.nblocks = 1ull << 33;
	mode_sense_cdb(cdb, true, 0x10, 0, 0x08, 0, 512);
	run(&d, cdb, 10, 512);
	CHECK_GOOD(8 + 16 + 20, 0);
	CHECK_EQ(buf[4], 1);
	CHECK_EQ(get16(buf + 6), 16);
	CHECK_EQ(get64(buf + 8), 1ull << 33);
	CHECK_EQ(get32(buf + 20), 512);
	mode_sense_cdb(cdb, true, 0, 0, 0x08, 0, 512); /* short: count saturates */
	run(&d, cdb, 10, 512);
	CHECK_EQ(get32(buf + 8), 0xffffffffu);
	mode_sense_cdb(cdb, false, 0x10, 0, 0x08, 0, 255); /* LLBAA is not in MODE SENSE (6) */
	run(&d, cdb, 6, 255);
	CHECK_EQ(buf[3], 8);
}

static void run_select(const struct scsi_disk_info *d, bool ten, uint8_t flags,
		       const uint8_t *list, size_t plen, size_t buf_len)
{
	uint8_t cdb[10] = { 0 };
	struct iovec iov = { buf, buf_len };

	cdb[0] = ten ? 0x55 : 0x15;
	cdb[1] = flags;
	if (ten)
		put16(cdb + 7, (uint16_t)plen);
	else
		cdb[4] = (uint8_t)plen;
	memcpy(buf, list, plen < buf_len ? plen : buf_len);
	run_full(d, cdb, ten ? 10 : 6, 0, &iov, 1, buf_len);
}

static void test_mode_select(void)
{
	struct scsi_disk_info d = disk_default();
	uint8_t cdb[10], list[512];
	size_t plen;

	for (unsigned ten = 0; ten < 2; ten++) {
		size_t hdr = ten ? 8 : 4;

		/* What sd does: MODE SENSE, clear the mode data length, send it back. */
		mode_sense_cdb(cdb, ten, 0, 0, 0x08, 0, 255);
		run(&d, cdb, ten ? 10 : 6, 255);
		plen = plan.data_len;
		memcpy(list, buf, plen);
		list[0] = 0;
		if (ten)
			list[1] = 0;
		run_select(&d, ten, 0x10, list, plen, plen);
		CHECK_GOOD(plen, 0);

		/* With the PS bit as MODE SENSE could give it: ignored. */
		list[hdr + 8] |= 0x80;
		run_select(&d, ten, 0x10, list, plen, plen);
		CHECK_GOOD(plen, 0);
		list[hdr + 8] &= 0x7f;

		/* Flipping WCE, or any other bit, is refused. */
		list[hdr + 8 + 2] ^= 0x04;
		run_select(&d, ten, 0x10, list, plen, plen);
		CHECK_SENSE(IR, 0x26, 0);
		list[hdr + 8 + 2] ^= 0x04;
		list[hdr + 8 + 12] ^= 0x20; /* DRA */
		run_select(&d, ten, 0x10, list, plen, plen);
		CHECK_SENSE(IR, 0x26, 0);
		list[hdr + 8 + 12] ^= 0x20;

		/* Block descriptor: count 0 means no change; another block size is refused. */
		put32(list + hdr, 0);
		run_select(&d, ten, 0x10, list, plen, plen);
		CHECK_GOOD(plen, 0);
		put32(list + hdr + 4, 4096);
		run_select(&d, ten, 0x10, list, plen, plen);
		CHECK_SENSE(IR, 0x26, 0);
		put32(list + hdr + 4, 512);
		put32(list + hdr, 999);
		run_select(&d, ten, 0x10, list, plen, plen);
		CHECK_SENSE(IR, 0x26, 0);
		put32(list + hdr, 1000);

		/* Truncated page; truncated header; truncated descriptor. */
		run_select(&d, ten, 0x10, list, plen - 1, plen);
		CHECK_SENSE(IR, 0x1a, 0);
		run_select(&d, ten, 0x10, list, hdr - 1, plen);
		CHECK_SENSE(IR, 0x1a, 0);
		run_select(&d, ten, 0x10, list, hdr + 4, plen);
		CHECK_SENSE(IR, 0x1a, 0);
		run_select(&d, ten, 0x10, list, hdr + 8 + 1, plen); /* one byte of a page */
		CHECK_SENSE(IR, 0x1a, 0);

		/* Header alone: fine. Length 0: fine. */
		uint8_t only_hdr[8] = { 0 };

		run_select(&d, ten, 0x10, only_hdr, hdr, hdr);
		CHECK_GOOD(hdr, 0);
		run_select(&d, ten, 0x10, only_hdr, 0, 0);
		CHECK_GOOD(0, 0);

		/* SP=1; PF=0. */
		run_select(&d, ten, 0x11, list, plen, plen);
		CHECK_SENSE(IR, 0x24, 0);
		run_select(&d, ten, 0x00, list, plen, plen);
		CHECK_SENSE(IR, 0x24, 0);

		/* The buffer shorter than the parameter list. */
		run_select(&d, ten, 0x10, list, plen, plen - 1);
		CHECK_SENSE(IR, 0x24, 0);

		/* An unchanged control page is accepted; another page is not; subpage format
		 * is not; a bad descriptor length is not. */
		mode_sense_cdb(cdb, ten, 0x08, 0, 0x0a, 0, 255);
		run(&d, cdb, ten ? 10 : 6, 255);
		plen = plan.data_len;
		memcpy(list, buf, plen);
		list[0] = 0;
		list[1] = ten ? 0 : list[1];
		run_select(&d, ten, 0x10, list, plen, plen);
		CHECK_GOOD(plen, 0);
		list[hdr] = 0x1c;
		run_select(&d, ten, 0x10, list, plen, plen);
		CHECK_SENSE(IR, 0x26, 0);
		list[hdr] = 0x4a;
		run_select(&d, ten, 0x10, list, plen, plen);
		CHECK_SENSE(IR, 0x26, 0);
		list[hdr] = 0x0a;
		list[hdr + 1] = 0x08; /* a control page of the wrong length */
		run_select(&d, ten, 0x10, list, plen, plen);
		CHECK_SENSE(IR, 0x26, 0);
		memset(list, 0, hdr);
		if (ten)
			list[7] = 4;
		else
			list[3] = 4;
		memset(list + hdr, 0, 4);
		run_select(&d, ten, 0x10, list, hdr + 4, hdr + 4);
		CHECK_SENSE(IR, 0x26, 0);
	}

	/* MODE SELECT (10) with a long LBA descriptor. */
	memset(list, 0, sizeof(list));
	list[4] = 1;
	put16(list + 6, 16);
	put64(list + 8, 1000);
	put32(list + 20, 512);
	run_select(&d, true, 0x10, list, 24, 24);
	CHECK_GOOD(24, 0);
	put32(list + 20, 520);
	run_select(&d, true, 0x10, list, 24, 24);
	CHECK_SENSE(IR, 0x26, 0);

	/* Longer than anything acceptable. */
	memset(list, 0, sizeof(list));
	run_select(&d, true, 0x10, list, 300, 300);
	CHECK_SENSE(IR, 0x26, 0);

	/* Write cache off: a caching page restating WCE 0 is accepted, WCE 1 is not. */
	d.write_cache = false;
	mode_sense_cdb(cdb, false, 0x08, 0, 0x08, 0, 255);
	run(&d, cdb, 6, 255);
	plen = plan.data_len;
	memcpy(list, buf, plen);
	list[0] = 0;
	run_select(&d, false, 0x10, list, plen, plen);
	CHECK_GOOD(plen, 0);
	list[6] |= 0x04;
	run_select(&d, false, 0x10, list, plen, plen);
	CHECK_SENSE(IR, 0x26, 0);
}

/* ---- REPORT LUNS ---- */

static void report_luns_cdb(uint8_t *cdb, uint8_t select, uint32_t alloc)
{
	memset(cdb, 0, 12);
	cdb[0] = 0xa0;
	cdb[2] = select;
	put32(cdb + 6, alloc);
}

static void test_report_luns(void)
{
	struct scsi_disk_info d = disk_default();
	uint8_t cdb[12];

	report_luns_cdb(cdb, 0, 4096);
	run(&d, cdb, 12, 4096);
	CHECK_GOOD(16, 0);
	CHECK_EQ(get32(buf), 8);
	CHECK_EQ(get64(buf + 8), 0);
	CHECK_EQ(buf[16], 0xee);
	/* Asked of another LUN: the same list. */
	run_full(&d, cdb, 12, 5, &(struct iovec){ buf, 4096 }, 1, 4096);
	CHECK_GOOD(16, 0);
	report_luns_cdb(cdb, 2, 16);
	run(&d, cdb, 12, 4096);
	CHECK_GOOD(16, 0);
	report_luns_cdb(cdb, 1, 16); /* well-known LUNs: none */
	run(&d, cdb, 12, 4096);
	CHECK_GOOD(8, 0);
	CHECK_EQ(get32(buf), 0);
	report_luns_cdb(cdb, 0, 15);
	run(&d, cdb, 12, 4096);
	CHECK_SENSE(IR, 0x24, 0);
	report_luns_cdb(cdb, 0x10, 4096);
	run(&d, cdb, 12, 4096);
	CHECK_SENSE(IR, 0x24, 0);

	/* The transport's own list: encodings, truncation, LUNs without one. */
	const uint16_t luns[] = { 0, 7, 255, 256, 0x3fff, 0x4000, 1 };
	struct scsi_request r = { .cdb = cdb, .cdb_len = 12, .buf = &(struct iovec){ buf, 4096 },
				  .buf_cnt = 1, .buf_len = 4096 };

	report_luns_cdb(cdb, 0, 4096);
	memset(buf, 0xee, 4096);
	scsi_report_luns(&r, luns, 7, &plan);
	CHECK_GOOD(8 + 6 * 8, 0);
	CHECK_EQ(get32(buf), 6 * 8);
	CHECK_EQ(get64(buf + 16), 0x0007000000000000ull);
	CHECK_EQ(get64(buf + 24), 0x00ff000000000000ull);
	CHECK_EQ(get64(buf + 32), 0x4100000000000000ull);
	CHECK_EQ(get64(buf + 40), 0x7fff000000000000ull);
	CHECK_EQ(get64(buf + 48), 0x0001000000000000ull);
	report_luns_cdb(cdb, 0, 20);
	memset(buf, 0xee, 4096);
	scsi_report_luns(&r, luns, 7, &plan);
	CHECK_GOOD(20, 0);
	CHECK_EQ(get32(buf), 6 * 8); /* the full list length, the data truncated */
	CHECK_EQ(buf[17], 7);
	CHECK_EQ(buf[20], 0xee);
	r.buf_len = 12; /* buffer shorter than the allocation length */
	report_luns_cdb(cdb, 0, 4096);
	scsi_report_luns(&r, luns, 7, &plan);
	CHECK_GOOD(12, 0);
	r.cdb_len = 10;
	scsi_report_luns(&r, luns, 7, &plan);
	CHECK_SENSE(IR, 0x24, 0);
	r.cdb_len = 12;
	r.buf_len = 4096;
	scsi_report_luns(&r, luns, 0, &plan);
	CHECK_GOOD(8, 0);
	CHECK_EQ(get32(buf), 0);

	/* Scattered. */
	uint8_t a[3], b[10], c[100], out[64];
	struct iovec iov[] = { { a, 3 }, { b, 10 }, { c, 100 } };

	r.buf = iov;
	r.buf_cnt = 3;
	r.buf_len = 113;
	scsi_report_luns(&r, luns, 3, &plan);
	CHECK_GOOD(32, 0);
	CHECK_EQ(scsi_buf_read(iov, 3, 0, out, 32), 32);
	CHECK_EQ(get32(out), 24);
	CHECK_EQ(out[17], 7);
	CHECK_EQ(out[25], 255);
}

/* ---- Completion ---- */

static void test_finish(void)
{
	struct scsi_disk_info d = disk_default();
	uint8_t cdb[16];

	rw_cdb(cdb, 0x28, 0, 10, 4);
	run(&d, cdb, 10, 4096);
	CHECK_GOOD(2048, 1);
	scsi_disk_finish(&d, &plan, 0);
	CHECK_GOOD(2048, 1);
	scsi_disk_finish(&d, &plan, -EIO);
	CHECK_EQ(plan.status, SCSI_STATUS_CHECK_CONDITION);
	CHECK_EQ(plan.sense_len, SCSI_SENSE_LEN);
	CHECK_EQ(plan.sense[2], SCSI_SENSE_MEDIUM_ERROR);
	CHECK_EQ(plan.sense[12], 0x11);
	CHECK_EQ(plan.data_len, 0);

	rw_cdb(cdb, 0x2a, 0, 10, 4);
	run(&d, cdb, 10, 4096);
	scsi_disk_finish(&d, &plan, -EIO);
	CHECK_EQ(plan.sense[2], SCSI_SENSE_MEDIUM_ERROR);
	CHECK_EQ(plan.sense[12], 0x0c);
	CHECK_EQ(plan.sense[13], 0);
	CHECK_EQ(plan.data_len, 0);
	run(&d, cdb, 10, 4096);
	scsi_disk_finish(&d, &plan, -ENOSPC);
	CHECK_EQ(plan.sense[2], SCSI_SENSE_DATA_PROTECT);
	CHECK_EQ(plan.sense[12], 0x27);
	CHECK_EQ(plan.sense[13], 0x07);
	run(&d, cdb, 10, 4096);
	scsi_disk_finish(&d, &plan, -EROFS);
	CHECK_EQ(plan.sense[2], SCSI_SENSE_DATA_PROTECT);
	CHECK_EQ(plan.sense[12], 0x27);
	CHECK_EQ(plan.sense[13], 0);
	run(&d, cdb, 10, 4096);
	scsi_disk_finish(&d, &plan, -EINVAL);
	CHECK_EQ(plan.status, SCSI_STATUS_CHECK_CONDITION);
	CHECK_EQ(plan.sense[2], SCSI_SENSE_HARDWARE_ERROR);
	CHECK_EQ(plan.sense[12], 0x44);
	run(&d, cdb, 10, 4096);
	scsi_disk_finish(&d, &plan, 0);
	CHECK_GOOD(2048, 1);

	/* A flush and a discard that fail are write errors. */
	rw_cdb(cdb, 0x35, 0, 0, 0);
	run(&d, cdb, 10, 0);
	scsi_disk_finish(&d, &plan, -EIO);
	CHECK_EQ(plan.sense[2], SCSI_SENSE_MEDIUM_ERROR);
	CHECK_EQ(plan.sense[12], 0x0c);
	rw_cdb(cdb, 0x93, 0x09, 0, 8);
	run(&d, cdb, 16, 0);
	scsi_disk_finish(&d, &plan, -EOPNOTSUPP);
	CHECK_EQ(plan.sense[2], SCSI_SENSE_HARDWARE_ERROR);
}

/* ---- Random CDBs: whatever comes in, the plan is consistent ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void test_random(void)
{
	static const uint8_t ops[] = { 0x00, 0x03, 0x08, 0x0a, 0x12, 0x15, 0x1a, 0x1b, 0x1e, 0x25,
				       0x28, 0x2a, 0x2f, 0x35, 0x41, 0x42, 0x55, 0x5a, 0x88, 0x8a,
				       0x8f, 0x91, 0x93, 0x9e, 0xa0, 0xa8, 0xaa };
	struct scsi_disk_info d = disk_default();
	unsigned bad = 0, good = 0, io = 0;
	uint8_t cdb[20];

	for (unsigned iter = 0; iter < 200000; iter++) {
		for (unsigned i = 0; i < sizeof(cdb); i++)
			cdb[i] = (uint8_t)rng();
		if (rng() % 4)
			cdb[0] = ops[rng() % sizeof(ops)];
		if (rng() % 2) { /* small numbers: more of them land in range */
			for (unsigned i = 2; i < sizeof(cdb); i++)
				cdb[i] &= (uint8_t)(rng() % 2 ? 0x03 : 0x00);
		}
		d.readonly = rng() % 4 == 0;
		d.can_unmap = rng() % 4 != 0;
		d.write_cache = rng() % 2;
		d.block_size = rng() % 2 ? 512 : 4096;
		d.nblocks = rng() % 2 ? 1000 : (rng() & 0xffffffffffull) + 1;

		size_t buf_len = rng() % 3 ? rng() % 8192 : rng() % (BUF_SIZE + 1);
		struct iovec iov[3] = { { buf, buf_len / 3 }, { buf + buf_len / 3, 1 },
					{ buf + buf_len / 3 + 1, buf_len - buf_len / 3 - 1 } };
		unsigned cnt = buf_len >= 1 ? 3 : 1;

		if (!buf_len)
			iov[0].iov_len = 0;
		for (size_t i = 0; i < 64 && i < buf_len; i++)
			buf[i] = (uint8_t)rng();
		run_full(&d, cdb, (unsigned)(rng() % 21), rng() % 8 ? 0 : 1, iov, cnt, buf_len);

		bool ok;

		if (plan.status == SCSI_STATUS_GOOD) {
			good++;
			ok = plan.sense_len == 0 && plan.nio <= SCSI_UNMAP_MAX_DESCRIPTORS &&
			     plan.data_len <= buf_len;
			for (unsigned i = 0; ok && i < plan.nio; i++) {
				const struct scsi_io *p = &plan.io[i];
				uint64_t size = d.nblocks * d.block_size;

				io++;
				ok = p->offset <= size && p->length <= size - p->offset &&
				     p->offset % d.block_size == 0 &&
				     p->length % d.block_size == 0;
				if (p->type == SCSI_IO_READ || p->type == SCSI_IO_WRITE)
					ok = ok && p->length <= buf_len && p->length > 0 &&
					     plan.nio == 1;
				if (p->type == SCSI_IO_FLUSH)
					ok = ok && p->offset == 0 && p->length == 0 && !d.readonly;
				if (p->type != SCSI_IO_READ && p->type != SCSI_IO_FLUSH)
					ok = ok && !d.readonly;
				if (p->type == SCSI_IO_DISCARD)
					ok = ok && d.can_unmap;
			}
		} else {
			ok = plan.status == SCSI_STATUS_CHECK_CONDITION &&
			     plan.sense_len == SCSI_SENSE_LEN && plan.nio == 0 && plan.data_len == 0 &&
			     plan.sense[0] == 0x70;
		}
		if (!ok && bad++ < 5)
			fprintf(stderr, "  random %u: op %02x status %u nio %u len %zu\n", iter,
				cdb[0], plan.status, plan.nio, plan.data_len);
	}
	CHECK_EQ(bad, 0);
	fprintf(stderr, "random: %u good, %u I/Os\n", good, io);
	/* The sweep reached both outcomes and planned I/O (else it tested nothing). */
	CHECK(good > 10000);
	CHECK(io > 1000);
}

int main(void)
{
	test_buffers();
	test_inquiry_standard();
	test_inquiry_scattered();
	test_vpd();
	test_simple();
	test_read_capacity();
	test_read_write();
	test_verify_sync();
	test_write_same();
	test_unmap();
	test_mode_sense();
	test_mode_select();
	test_report_luns();
	test_finish();
	test_random();
	return unit_done("scsi_disk");
}
