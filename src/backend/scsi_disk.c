/* SCSI direct-access disk (see scsi_disk.h): SPC-4 (INQUIRY and VPD pages, sense data, MODE
 * SENSE/SELECT, REPORT LUNS) and SBC-3 (READ/WRITE, WRITE SAME, UNMAP, READ CAPACITY, VERIFY). */
#include "backend/scsi_disk.h"

#include <errno.h>
#include <string.h>

/* Operation codes, spelled as Linux's include/scsi/scsi_proto.h spells them. */
#define TEST_UNIT_READY 0x00
#define REQUEST_SENSE 0x03
#define READ_6 0x08
#define WRITE_6 0x0a
#define INQUIRY 0x12
#define MODE_SELECT 0x15
#define MODE_SENSE 0x1a
#define START_STOP 0x1b
#define ALLOW_MEDIUM_REMOVAL 0x1e
#define READ_CAPACITY 0x25
#define READ_10 0x28
#define WRITE_10 0x2a
#define VERIFY 0x2f
#define SYNCHRONIZE_CACHE 0x35
#define WRITE_SAME 0x41
#define UNMAP 0x42
#define MODE_SELECT_10 0x55
#define MODE_SENSE_10 0x5a
#define READ_16 0x88
#define WRITE_16 0x8a
#define VERIFY_16 0x8f
#define SYNCHRONIZE_CACHE_16 0x91
#define WRITE_SAME_16 0x93
#define SERVICE_ACTION_IN_16 0x9e
#define SAI_READ_CAPACITY_16 0x10
#define REPORT_LUNS 0xa0
#define READ_12 0xa8
#define WRITE_12 0xaa

/* Mode pages (SBC-3 caching, SPC-4 control). */
#define MODE_PAGE_CACHING 0x08
#define MODE_PAGE_CONTROL 0x0a
#define MODE_PAGE_ALL 0x3f
#define MODE_PAGE_CACHING_LEN 20
#define MODE_PAGE_CONTROL_LEN 12
#define MODE_DSP_WP 0x80     /* device-specific parameter: write protected */
#define MODE_DSP_DPOFUA 0x10 /* DPO and FUA bits honoured */

#define STD_INQUIRY_LEN 36
#define UNMAP_HEADER_LEN 8
#define UNMAP_DESC_LEN 16
#define MODE_SELECT_MAX 256 /* more than any parameter list we can accept */

/* A handler's failure: sense key, ASC and ASCQ packed; 0 is "the plan is set". */
#define SCSI_ERR(key, asc, ascq) ((key) << 16 | (asc) << 8 | (ascq))
#define ERR_OPCODE SCSI_ERR(SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_COMMAND_OPERATION_CODE, 0)
#define ERR_CDB SCSI_ERR(SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB, 0)
#define ERR_PARAM SCSI_ERR(SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST, 0)
#define ERR_PARAM_LEN SCSI_ERR(SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR, 0)
#define ERR_RANGE SCSI_ERR(SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE, 0)
#define ERR_LUN SCSI_ERR(SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_LOGICAL_UNIT_NOT_SUPPORTED, 0)
#define ERR_SAVING SCSI_ERR(SCSI_SENSE_ILLEGAL_REQUEST, SCSI_ASC_SAVING_PARAMETERS_NOT_SUPPORTED, 0)
#define ERR_WRITE_PROTECTED SCSI_ERR(SCSI_SENSE_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED, 0)

struct scsi_cmd {
	const struct scsi_disk_info *d;
	const struct scsi_request *r;
	struct scsi_plan *plan;
	uint8_t cdb[16];
};

struct scsi_cmd_desc {
	uint8_t cdb_len; /* 0: not supported */
	int (*run)(struct scsi_cmd *c); /* 0 or SCSI_ERR() */
};

static uint16_t get_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t get_be64(const uint8_t *p) { return (uint64_t)get_be32(p) << 32 | get_be32(p + 4); }

static void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}
static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* SPC-4 4.4.1: ASCII data fields hold 20h-7Eh, left aligned, space padded. */
static void put_ascii(uint8_t *dst, const char *src, size_t width)
{
	size_t i = 0;

	for (; i < width && src[i]; i++)
		dst[i] = (src[i] >= 0x20 && src[i] <= 0x7e) ? (uint8_t)src[i] : '_';
	memset(dst + i, ' ', width - i);
}

/* ---- Buffers ---- */

size_t scsi_buf_write(const struct iovec *iov, unsigned cnt, size_t off, const void *src, size_t len)
{
	const uint8_t *s = src;
	size_t done = 0;

	for (unsigned i = 0; i < cnt && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t n = min_size(iov[i].iov_len - off, len - done);

		memcpy((uint8_t *)iov[i].iov_base + off, s + done, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t scsi_buf_read(const struct iovec *iov, unsigned cnt, size_t off, void *dst, size_t len)
{
	uint8_t *d = dst;
	size_t done = 0;

	for (unsigned i = 0; i < cnt && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t n = min_size(iov[i].iov_len - off, len - done);

		memcpy(d + done, (const uint8_t *)iov[i].iov_base + off, n);
		done += n;
		off = 0;
	}
	return done;
}

/* ---- Status ---- */

unsigned scsi_build_sense(uint8_t *sense, uint8_t key, uint8_t asc, uint8_t ascq)
{
	/* SPC-4 4.5.3: response code 70h (current, fixed format), additional length 10. */
	memset(sense, 0, SCSI_SENSE_LEN);
	sense[0] = 0x70;
	sense[2] = key & 0x0f;
	sense[7] = SCSI_SENSE_LEN - 8;
	sense[12] = asc;
	sense[13] = ascq;
	return SCSI_SENSE_LEN;
}

static void plan_good(struct scsi_plan *p, size_t data_len)
{
	p->status = SCSI_STATUS_GOOD;
	p->sense_len = 0;
	p->data_len = data_len;
	p->nio = 0;
}

static void plan_fail(struct scsi_plan *p, int err)
{
	p->status = SCSI_STATUS_CHECK_CONDITION;
	p->sense_len = (uint8_t)scsi_build_sense(p->sense, (uint8_t)(err >> 16),
						 (uint8_t)(err >> 8), (uint8_t)err);
	p->data_len = 0;
	p->nio = 0;
}

/* Data-in: at most alloc bytes (the CDB's allocation length) and at most the buffer. */
static int data_in(struct scsi_cmd *c, const uint8_t *data, size_t len, size_t alloc)
{
	const struct scsi_request *r = c->r;
	size_t n = min_size(min_size(len, alloc), r->buf_len);

	plan_good(c->plan, scsi_buf_write(r->buf, r->buf_cnt, 0, data, n));
	return 0;
}

/* Data-out: exactly len bytes of parameter data from offset off, or INVALID FIELD IN CDB when
 * the transport gave less. */
static int data_out(struct scsi_cmd *c, size_t off, void *dst, size_t len)
{
	const struct scsi_request *r = c->r;

	if (off + len > r->buf_len || scsi_buf_read(r->buf, r->buf_cnt, off, dst, len) != len)
		return ERR_CDB;
	return 0;
}

/* ---- Block ranges and I/O ---- */

static bool lba_ok(const struct scsi_disk_info *d, uint64_t lba, uint64_t n)
{
	return lba < d->nblocks && n <= d->nblocks - lba;
}

static void add_io(struct scsi_cmd *c, enum scsi_io_type type, uint64_t lba, uint64_t n, bool fua)
{
	struct scsi_io *io = &c->plan->io[c->plan->nio++];

	io->type = type;
	io->offset = lba * c->d->block_size;
	io->length = n * c->d->block_size;
	io->fua = fua;
}

static bool is_write(uint8_t op)
{
	return op == WRITE_6 || op == WRITE_10 || op == WRITE_12 || op == WRITE_16;
}

/* SBC-3 READ and WRITE (6), (10), (12), (16). */
static int cmd_read_write(struct scsi_cmd *c)
{
	const struct scsi_disk_info *d = c->d;
	const uint8_t *cdb = c->cdb;
	bool write = is_write(cdb[0]);
	uint8_t flags = cdb[1];
	uint64_t lba;
	uint32_t n;

	switch (cdb[0]) {
	case READ_6:
	case WRITE_6:
		flags = 0;
		lba = (uint32_t)(cdb[1] & 0x1f) << 16 | get_be16(cdb + 2);
		n = cdb[4] ? cdb[4] : 256;
		break;
	case READ_10:
	case WRITE_10:
		lba = get_be32(cdb + 2);
		n = get_be16(cdb + 7);
		break;
	case READ_12:
	case WRITE_12:
		lba = get_be32(cdb + 2);
		n = get_be32(cdb + 6);
		break;
	default:
		lba = get_be64(cdb + 2);
		n = get_be32(cdb + 10);
		break;
	}
	if (flags & 0xe0) /* RDPROTECT/WRPROTECT: no protection information here */
		return ERR_CDB;
	if (write && d->readonly)
		return ERR_WRITE_PROTECTED;
	if (!lba_ok(d, lba, n))
		return ERR_RANGE;
	if (n == 0) {
		plan_good(c->plan, 0);
		return 0;
	}
	if (d->max_transfer_blocks && n > d->max_transfer_blocks)
		return ERR_CDB;

	uint64_t bytes = (uint64_t)n * d->block_size;

	if (bytes > c->r->buf_len)
		return ERR_CDB;
	plan_good(c->plan, bytes);
	/* FUA (bit 3) puts a write on the medium before completion; reads always reach the
	 * backend, so it changes nothing for them. */
	add_io(c, write ? SCSI_IO_WRITE : SCSI_IO_READ, lba, n,
	       write && ((flags & 0x08) || !d->write_cache));
	return 0;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* SBC-3 WRITE SAME (10)/(16); NDOB from SBC-4. With UNMAP and a block of zeros the range is
 * discarded (the backend's discard reads back as zeros); with UNMAP and any other block the
 * block is written, as QEMU does: SBC lets a device write where it does not unmap. */
static int cmd_write_same(struct scsi_cmd *c)
{
	const struct scsi_disk_info *d = c->d;
	const uint8_t *cdb = c->cdb;
	bool ws16 = cdb[0] == WRITE_SAME_16;
	uint8_t flags = cdb[1];
	uint64_t lba = ws16 ? get_be64(cdb + 2) : get_be32(cdb + 2);
	uint32_t n = ws16 ? get_be32(cdb + 10) : get_be16(cdb + 7);
	bool unmap = flags & 0x08;
	bool zero = true;

	/* WRPROTECT, ANCHOR (ANC_SUP is 0), PBDATA, LBDATA: none supported. */
	if (flags & 0xf6)
		return ERR_CDB;
	if (unmap && !d->can_unmap)
		return ERR_CDB;
	if (d->readonly)
		return ERR_WRITE_PROTECTED;
	/* 0 blocks means "to the last LBA" only where WSNZ is 0; VPD B0 sets WSNZ. */
	if (n == 0)
		return ERR_CDB;
	if (!lba_ok(d, lba, n))
		return ERR_RANGE;
	if (d->max_transfer_blocks && n > d->max_transfer_blocks)
		return ERR_CDB;
	plan_good(c->plan, 0);
	if (!(ws16 && (flags & 0x01))) { /* NDOB clear: one block of data-out */
		if (d->block_size > sizeof(c->plan->pattern))
			return ERR_CDB;
		int err = data_out(c, 0, c->plan->pattern, d->block_size);

		if (err)
			return err;
		c->plan->data_len = d->block_size;
		zero = all_zero(c->plan->pattern, d->block_size);
	}
	if (unmap && zero)
		add_io(c, SCSI_IO_DISCARD, lba, n, false);
	else
		add_io(c, zero ? SCSI_IO_WRITE_ZEROES : SCSI_IO_WRITE_SAME, lba, n, !d->write_cache);
	return 0;
}

/* SBC-3 UNMAP. The whole parameter list is checked before any range is planned. */
static int cmd_unmap(struct scsi_cmd *c)
{
	const struct scsi_disk_info *d = c->d;
	size_t plen = get_be16(c->cdb + 7);
	uint8_t list[UNMAP_HEADER_LEN + SCSI_UNMAP_MAX_DESCRIPTORS * UNMAP_DESC_LEN];
	int err;

	if (!d->can_unmap) /* LBPU 0: the command is not there */
		return ERR_OPCODE;
	if (c->cdb[1] & 0x01) /* ANCHOR */
		return ERR_CDB;
	if (d->readonly)
		return ERR_WRITE_PROTECTED;
	if (plen == 0) {
		plan_good(c->plan, 0);
		return 0;
	}
	if (plen < UNMAP_HEADER_LEN)
		return ERR_PARAM_LEN;
	if (plen > c->r->buf_len)
		return ERR_CDB;
	err = data_out(c, 0, list, UNMAP_HEADER_LEN);
	if (err)
		return err;

	size_t data_len = get_be16(list);
	size_t bd_len = get_be16(list + 2);

	/* The header's lengths must fit in what was sent and agree with each other. */
	if (data_len + 2 > plen || bd_len + UNMAP_HEADER_LEN > data_len + 2)
		return ERR_PARAM_LEN;
	/* SBC-3: a trailing partial descriptor is ignored. */
	size_t count = bd_len / UNMAP_DESC_LEN;

	if (count > SCSI_UNMAP_MAX_DESCRIPTORS)
		return ERR_PARAM;
	err = data_out(c, UNMAP_HEADER_LEN, list + UNMAP_HEADER_LEN, count * UNMAP_DESC_LEN);
	if (err)
		return err;
	for (size_t i = 0; i < count; i++) {
		const uint8_t *desc = list + UNMAP_HEADER_LEN + i * UNMAP_DESC_LEN;

		if (!lba_ok(d, get_be64(desc), get_be32(desc + 8)))
			return ERR_RANGE;
	}
	plan_good(c->plan, plen);
	for (size_t i = 0; i < count; i++) {
		const uint8_t *desc = list + UNMAP_HEADER_LEN + i * UNMAP_DESC_LEN;
		uint32_t n = get_be32(desc + 8);

		if (n)
			add_io(c, SCSI_IO_DISCARD, get_be64(desc), n, false);
	}
	return 0;
}

/* SBC-3 SYNCHRONIZE CACHE (10)/(16): the whole disk is flushed whatever the range; IMMED is
 * honoured by completing after the flush, which SBC allows. A read-only disk has nothing to
 * flush. */
static int cmd_sync_cache(struct scsi_cmd *c)
{
	bool sc16 = c->cdb[0] == SYNCHRONIZE_CACHE_16;
	uint64_t lba = sc16 ? get_be64(c->cdb + 2) : get_be32(c->cdb + 2);
	uint32_t n = sc16 ? get_be32(c->cdb + 10) : get_be16(c->cdb + 7);

	if (!lba_ok(c->d, lba, n))
		return ERR_RANGE;
	plan_good(c->plan, 0);
	if (!c->d->readonly)
		add_io(c, SCSI_IO_FLUSH, 0, 0, false);
	return 0;
}

/* SBC-3 VERIFY (10)/(16) without BYTCHK: the medium is always readable. */
static int cmd_verify(struct scsi_cmd *c)
{
	bool v16 = c->cdb[0] == VERIFY_16;
	uint64_t lba = v16 ? get_be64(c->cdb + 2) : get_be32(c->cdb + 2);
	uint32_t n = v16 ? get_be32(c->cdb + 10) : get_be16(c->cdb + 7);

	if (c->cdb[1] & 0xe6) /* VRPROTECT, BYTCHK */
		return ERR_CDB;
	if (!lba_ok(c->d, lba, n))
		return ERR_RANGE;
	plan_good(c->plan, 0);
	return 0;
}

/* SBC-3 READ CAPACITY (10); a disk past 2^32 blocks says FFFFFFFFh (use the 16-byte one). */
static int cmd_read_capacity(struct scsi_cmd *c)
{
	uint64_t last = c->d->nblocks ? c->d->nblocks - 1 : 0;
	uint8_t out[8];

	put_be32(out, last > 0xffffffffu ? 0xffffffffu : (uint32_t)last);
	put_be32(out + 4, c->d->block_size);
	return data_in(c, out, sizeof(out), sizeof(out));
}

/* SBC-3 READ CAPACITY (16), the only SERVICE ACTION IN (16) we do. */
static int cmd_service_action_in(struct scsi_cmd *c)
{
	const struct scsi_disk_info *d = c->d;
	uint8_t out[32] = { 0 };

	if ((c->cdb[1] & 0x1f) != SAI_READ_CAPACITY_16)
		return ERR_CDB;
	put_be64(out, d->nblocks ? d->nblocks - 1 : 0);
	put_be32(out + 8, d->block_size);
	out[13] = d->phys_block_exp & 0x0f;
	out[14] = d->can_unmap ? 0x80 : 0; /* LBPME; LBPRZ 0; LOWEST ALIGNED LBA 0 */
	return data_in(c, out, sizeof(out), get_be32(c->cdb + 10));
}

/* ---- INQUIRY and vital product data (SPC-4, SBC-3) ---- */

static size_t vpd_supported_pages(const struct scsi_disk_info *d, uint8_t *p)
{
	size_t n = 4;

	p[n++] = 0x00;
	if (d->serial[0])
		p[n++] = 0x80;
	p[n++] = 0x83;
	p[n++] = 0xb0;
	p[n++] = 0xb1;
	p[n++] = 0xb2;
	return n;
}

static size_t vpd_serial(const struct scsi_disk_info *d, uint8_t *p)
{
	size_t len = strnlen(d->serial, sizeof(d->serial) - 1);

	put_ascii(p + 4, d->serial, len);
	return 4 + len;
}

/* Device Identification: an NAA IEEE Registered designator and a T10 vendor ID designator
 * (vendor, product, serial), both naming the logical unit. */
static size_t vpd_device_id(const struct scsi_disk_info *d, uint8_t *p)
{
	size_t serial_len = strnlen(d->serial, sizeof(d->serial) - 1);
	size_t n = 4;

	if (d->wwn) {
		p[n++] = 0x01; /* PROTOCOL IDENTIFIER 0, CODE SET binary */
		p[n++] = 0x03; /* PIV 0, ASSOCIATION logical unit, DESIGNATOR TYPE NAA */
		p[n++] = 0;
		p[n++] = 8;
		put_be64(p + n, (d->wwn & ~(0xfull << 60)) | 5ull << 60);
		n += 8;
	}
	p[n++] = 0x02; /* CODE SET ASCII */
	p[n++] = 0x01; /* ASSOCIATION logical unit, DESIGNATOR TYPE T10 vendor ID */
	p[n++] = 0;
	p[n++] = (uint8_t)(8 + 16 + serial_len);
	put_ascii(p + n, d->vendor, 8);
	put_ascii(p + n + 8, d->product, 16);
	put_ascii(p + n + 24, d->serial, serial_len);
	return n + 24 + serial_len;
}

/* SBC-3 Block Limits. WSNZ set: WRITE SAME needs a block count. */
static size_t vpd_block_limits(const struct scsi_disk_info *d, uint8_t *p)
{
	uint32_t phys_blocks = 1u << (d->phys_block_exp & 0x0f);

	memset(p + 4, 0, 0x3c);
	p[4] = 0x01;                              /* WSNZ */
	put_be16(p + 6, (uint16_t)phys_blocks);   /* OPTIMAL TRANSFER LENGTH GRANULARITY */
	put_be32(p + 8, d->max_transfer_blocks);  /* MAXIMUM TRANSFER LENGTH */
	if (d->can_unmap) {
		put_be32(p + 20, 0xffffffffu);     /* MAXIMUM UNMAP LBA COUNT: no limit */
		put_be32(p + 24, SCSI_UNMAP_MAX_DESCRIPTORS);
		put_be32(p + 28, phys_blocks);     /* OPTIMAL UNMAP GRANULARITY */
		p[32] = 0x80;                      /* UGAVALID, alignment 0 */
	}
	put_be64(p + 36, d->max_transfer_blocks); /* MAXIMUM WRITE SAME LENGTH */
	return 4 + 0x3c;
}

/* SBC-3 Block Device Characteristics: a non-rotating medium. */
static size_t vpd_block_characteristics(uint8_t *p)
{
	memset(p + 4, 0, 0x3c);
	put_be16(p + 4, 0x0001); /* MEDIUM ROTATION RATE */
	return 4 + 0x3c;
}

/* SBC-3 Logical Block Provisioning: thin when we can unmap, else fully provisioned (LBPME 0). */
static size_t vpd_provisioning(const struct scsi_disk_info *d, uint8_t *p)
{
	memset(p + 4, 0, 4);
	if (d->can_unmap) {
		p[5] = 0x80 | 0x40 | 0x20; /* LBPU, LBPWS, LBPWS10 */
		p[6] = 0x02;               /* PROVISIONING TYPE thin */
	}
	return 8;
}

static int inquiry_vpd(struct scsi_cmd *c, size_t alloc)
{
	const struct scsi_disk_info *d = c->d;
	uint8_t page = c->cdb[2];
	uint8_t out[128];
	size_t len;

	switch (page) {
	case 0x00:
		len = vpd_supported_pages(d, out);
		break;
	case 0x80:
		if (!d->serial[0])
			return ERR_CDB;
		len = vpd_serial(d, out);
		break;
	case 0x83:
		len = vpd_device_id(d, out);
		break;
	case 0xb0:
		len = vpd_block_limits(d, out);
		break;
	case 0xb1:
		len = vpd_block_characteristics(out);
		break;
	case 0xb2:
		len = vpd_provisioning(d, out);
		break;
	default:
		return ERR_CDB;
	}
	out[0] = 0x00; /* qualifier 0, direct access block device */
	out[1] = page;
	put_be16(out + 2, (uint16_t)(len - 4));
	return data_in(c, out, len, alloc);
}

static int cmd_inquiry(struct scsi_cmd *c)
{
	const struct scsi_disk_info *d = c->d;
	bool evpd = c->cdb[1] & 0x01;
	size_t alloc = get_be16(c->cdb + 3);
	uint8_t out[STD_INQUIRY_LEN] = { 0 };

	if ((c->cdb[1] & 0x02) || (!evpd && c->cdb[2])) /* CMDDT; a page code without EVPD */
		return ERR_CDB;
	if (evpd)
		return c->r->lun ? ERR_LUN : inquiry_vpd(c, alloc);
	/* SPC-4: no logical unit at this LUN is qualifier 3, type 1Fh. */
	out[0] = c->r->lun ? 0x7f : 0x00;
	out[2] = 0x06;                /* VERSION: SPC-4 */
	out[3] = 0x02;                /* RESPONSE DATA FORMAT 2 */
	out[4] = STD_INQUIRY_LEN - 5; /* ADDITIONAL LENGTH */
	out[7] = 0x02;                /* CMDQUE */
	put_ascii(out + 8, d->vendor, 8);
	put_ascii(out + 16, d->product, 16);
	put_ascii(out + 32, d->revision, 4);
	return data_in(c, out, sizeof(out), alloc);
}

/* ---- Sense, LUNs, no-ops ---- */

/* SPC-4 REQUEST SENSE: nothing is ever pending (errors go back with their command). Sent to a
 * LUN that does not exist it returns LOGICAL UNIT NOT SUPPORTED as its data, with GOOD status.
 * DESC selects descriptor-format sense. */
static int cmd_request_sense(struct scsi_cmd *c)
{
	uint8_t key = c->r->lun ? SCSI_SENSE_ILLEGAL_REQUEST : SCSI_SENSE_NO_SENSE;
	uint8_t asc = c->r->lun ? SCSI_ASC_LOGICAL_UNIT_NOT_SUPPORTED : 0;
	uint8_t out[SCSI_SENSE_LEN] = { 0 };
	size_t len = 8;

	if (c->cdb[1] & 0x01) {
		out[0] = 0x72; /* current, descriptor format; no descriptors */
		out[1] = key;
		out[2] = asc;
	} else {
		len = scsi_build_sense(out, key, asc, 0);
	}
	return data_in(c, out, len, c->cdb[4]);
}

static int cmd_good(struct scsi_cmd *c)
{
	plan_good(c->plan, 0);
	return 0;
}

/* SAM-5 single-level LUN: peripheral device addressing below 256, flat space below 16384. */
static bool lun_encode(uint16_t lun, uint8_t out[8])
{
	memset(out, 0, 8);
	if (lun >= 0x4000)
		return false;
	out[0] = lun < 256 ? 0x00 : (uint8_t)(0x40 | lun >> 8);
	out[1] = (uint8_t)lun;
	return true;
}

/* SPC-4 REPORT LUNS: SELECT REPORT 00h/02h list every LUN, 01h the well-known ones (we have
 * none); an allocation length below 16 is refused. */
static int report_luns(const struct scsi_request *r, const uint8_t *cdb, const uint16_t *luns,
		       unsigned n, struct scsi_plan *plan)
{
	uint8_t select = cdb[2];
	size_t alloc = get_be32(cdb + 6);
	uint8_t entry[8];
	uint32_t count = 0;
	size_t done = 0;

	if (select > 2 || alloc < 16)
		return ERR_CDB;

	size_t limit = min_size(alloc, r->buf_len);

	for (unsigned i = 0; select != 1 && i < n; i++) {
		size_t off = 8 + (size_t)count * 8;

		if (!lun_encode(luns[i], entry))
			continue;
		count++;
		if (off < limit)
			done += scsi_buf_write(r->buf, r->buf_cnt, off, entry, min_size(8, limit - off));
	}
	memset(entry, 0, sizeof(entry));
	put_be32(entry, count * 8); /* LUN LIST LENGTH */
	done += scsi_buf_write(r->buf, r->buf_cnt, 0, entry, min_size(8, limit));
	plan_good(plan, done);
	return 0;
}

void scsi_report_luns(const struct scsi_request *r, const uint16_t *luns, unsigned n,
		      struct scsi_plan *plan)
{
	uint8_t cdb[12];
	int err = ERR_CDB;

	if (r->cdb_len >= sizeof(cdb)) {
		memcpy(cdb, r->cdb, sizeof(cdb));
		err = report_luns(r, cdb, luns, n, plan);
	}
	if (err)
		plan_fail(plan, err);
}

static int cmd_report_luns(struct scsi_cmd *c)
{
	static const uint16_t lun0 = 0;

	return report_luns(c->r, c->cdb, &lun0, 1, c->plan);
}

/* ---- MODE SENSE / MODE SELECT (SPC-4 mode parameters, SBC-3 block descriptors) ---- */

/* One page's current values (or its changeable mask: nothing is changeable); 0 if unknown. */
static size_t mode_page(const struct scsi_disk_info *d, uint8_t code, bool changeable, uint8_t *p)
{
	switch (code) {
	case MODE_PAGE_CACHING: /* SBC-3 Caching mode page */
		memset(p, 0, MODE_PAGE_CACHING_LEN);
		p[0] = MODE_PAGE_CACHING;
		p[1] = MODE_PAGE_CACHING_LEN - 2;
		if (!changeable && d->write_cache)
			p[2] = 0x04; /* WCE */
		return MODE_PAGE_CACHING_LEN;
	case MODE_PAGE_CONTROL: /* SPC-4 Control mode page */
		memset(p, 0, MODE_PAGE_CONTROL_LEN);
		p[0] = MODE_PAGE_CONTROL;
		p[1] = MODE_PAGE_CONTROL_LEN - 2;
		if (!changeable)
			p[3] = 0x10; /* QUEUE ALGORITHM MODIFIER 1: commands complete in any order */
		return MODE_PAGE_CONTROL_LEN;
	default:
		return 0;
	}
}

/* Short LBA (8 bytes, block count saturating at FFFFFFFFh) or long LBA (16) block descriptor. */
static size_t block_descriptor(const struct scsi_disk_info *d, bool longlba, bool changeable,
			       uint8_t *p)
{
	size_t len = longlba ? 16 : 8;

	memset(p, 0, len);
	if (changeable)
		return len;
	if (longlba) {
		put_be64(p, d->nblocks);
		put_be32(p + 12, d->block_size);
	} else {
		put_be32(p, d->nblocks > 0xffffffffu ? 0xffffffffu : (uint32_t)d->nblocks);
		put_be32(p + 4, d->block_size & 0xffffff); /* byte 4 reserved */
	}
	return len;
}

static int cmd_mode_sense(struct scsi_cmd *c)
{
	const struct scsi_disk_info *d = c->d;
	bool ten = c->cdb[0] == MODE_SENSE_10;
	bool longlba = ten && (c->cdb[1] & 0x10);
	bool changeable = (c->cdb[2] >> 6) == 1;
	uint8_t code = c->cdb[2] & 0x3f;
	size_t alloc = ten ? get_be16(c->cdb + 7) : c->cdb[4];
	size_t hdr = ten ? 8 : 4;
	uint8_t out[8 + 16 + MODE_PAGE_CACHING_LEN + MODE_PAGE_CONTROL_LEN] = { 0 };
	size_t n = hdr;

	if ((c->cdb[2] >> 6) == 3) /* saved values */
		return ERR_SAVING;
	/* No subpages: only subpage 0 and FFh ("all subpages") name a page of ours. */
	if (c->cdb[3] != 0 && c->cdb[3] != 0xff)
		return ERR_CDB;
	if (!(c->cdb[1] & 0x08)) /* DBD clear */
		n += block_descriptor(d, longlba, changeable, out + n);

	size_t bd_len = n - hdr;

	if (code == MODE_PAGE_ALL) {
		n += mode_page(d, MODE_PAGE_CACHING, changeable, out + n);
		n += mode_page(d, MODE_PAGE_CONTROL, changeable, out + n);
	} else {
		size_t len = mode_page(d, code, changeable, out + n);

		if (!len)
			return ERR_CDB;
		n += len;
	}
	uint8_t dsp = MODE_DSP_DPOFUA | (d->readonly ? MODE_DSP_WP : 0);

	if (ten) {
		put_be16(out, (uint16_t)(n - 2));
		out[3] = dsp;
		out[4] = bd_len == 16 ? 0x01 : 0; /* LONGLBA */
		put_be16(out + 6, (uint16_t)bd_len);
	} else {
		out[0] = (uint8_t)(n - 1);
		out[2] = dsp;
		out[3] = (uint8_t)bd_len;
	}
	return data_in(c, out, n, alloc);
}

/* A block descriptor in MODE SELECT may only restate the disk (a block count of 0: no change). */
static bool mode_select_descriptor_ok(const struct scsi_disk_info *d, const uint8_t *p, size_t len)
{
	uint8_t cur[16];

	block_descriptor(d, len == 16, false, cur);
	if (len == 16)
		return (get_be64(p) == 0 || get_be64(p) == get_be64(cur)) &&
		       get_be32(p + 12) == d->block_size;
	return (get_be32(p) == 0 || get_be32(p) == get_be32(cur)) &&
	       get_be32(p + 4) == get_be32(cur + 4);
}

/* Nothing is changeable, so a page is accepted when it restates the current values: Linux's sd
 * writes back what MODE SENSE gave it (cache_type set to what it already is); the control page
 * is accepted the same way. PS is reserved in MODE SELECT and ignored. */
static int cmd_mode_select(struct scsi_cmd *c)
{
	const struct scsi_disk_info *d = c->d;
	bool ten = c->cdb[0] == MODE_SELECT_10;
	size_t plen = ten ? get_be16(c->cdb + 7) : c->cdb[4];
	size_t hdr = ten ? 8 : 4;
	uint8_t list[MODE_SELECT_MAX];
	uint8_t cur[MODE_PAGE_CACHING_LEN];

	/* PF must be 1 (pages as SPC formats them) and SP 0 (nothing can be saved), as QEMU. */
	if ((c->cdb[1] & 0x11) != 0x10)
		return ERR_CDB;
	if (plen == 0) {
		plan_good(c->plan, 0);
		return 0;
	}
	if (plen < hdr)
		return ERR_PARAM_LEN;
	if (plen > c->r->buf_len)
		return ERR_CDB;
	if (plen > sizeof(list)) /* longer than anything we accept */
		return ERR_PARAM;

	int err = data_out(c, 0, list, plen);

	if (err)
		return err;

	size_t bd_len = ten ? get_be16(list + 6) : list[3];
	bool longlba = ten && (list[4] & 0x01);

	if (hdr + bd_len > plen)
		return ERR_PARAM_LEN;
	if (bd_len != 0 && bd_len != (longlba ? 16u : 8u))
		return ERR_PARAM;
	if (bd_len && !mode_select_descriptor_ok(d, list + hdr, bd_len))
		return ERR_PARAM;
	for (size_t off = hdr + bd_len; off < plen;) {
		if (plen - off < 2)
			return ERR_PARAM_LEN;

		size_t len = (size_t)list[off + 1] + 2;

		if (list[off] & 0x40) /* SPF: no subpages */
			return ERR_PARAM;
		if (len > plen - off)
			return ERR_PARAM_LEN;
		if (mode_page(d, list[off] & 0x3f, false, cur) != len ||
		    memcmp(cur + 2, list + off + 2, len - 2))
			return ERR_PARAM;
		off += len;
	}
	plan_good(c->plan, plen);
	return 0;
}

/* ---- Dispatch ---- */

/* The commands we do, with the CDB length of each opcode's group. Anything else, READ DEFECT
 * DATA included, is INVALID COMMAND OPERATION CODE. */
static const struct scsi_cmd_desc scsi_cmds[256] = {
	[TEST_UNIT_READY] = { 6, cmd_good },
	[REQUEST_SENSE] = { 6, cmd_request_sense },
	[READ_6] = { 6, cmd_read_write },
	[WRITE_6] = { 6, cmd_read_write },
	[INQUIRY] = { 6, cmd_inquiry },
	[MODE_SELECT] = { 6, cmd_mode_select },
	[MODE_SENSE] = { 6, cmd_mode_sense },
	[START_STOP] = { 6, cmd_good },
	[ALLOW_MEDIUM_REMOVAL] = { 6, cmd_good },
	[READ_CAPACITY] = { 10, cmd_read_capacity },
	[READ_10] = { 10, cmd_read_write },
	[WRITE_10] = { 10, cmd_read_write },
	[VERIFY] = { 10, cmd_verify },
	[SYNCHRONIZE_CACHE] = { 10, cmd_sync_cache },
	[WRITE_SAME] = { 10, cmd_write_same },
	[UNMAP] = { 10, cmd_unmap },
	[MODE_SELECT_10] = { 10, cmd_mode_select },
	[MODE_SENSE_10] = { 10, cmd_mode_sense },
	[READ_16] = { 16, cmd_read_write },
	[WRITE_16] = { 16, cmd_read_write },
	[VERIFY_16] = { 16, cmd_verify },
	[SYNCHRONIZE_CACHE_16] = { 16, cmd_sync_cache },
	[WRITE_SAME_16] = { 16, cmd_write_same },
	[SERVICE_ACTION_IN_16] = { 16, cmd_service_action_in },
	[REPORT_LUNS] = { 12, cmd_report_luns },
	[READ_12] = { 12, cmd_read_write },
	[WRITE_12] = { 12, cmd_read_write },
};

void scsi_disk_prepare(const struct scsi_disk_info *d, const struct scsi_request *r,
		       struct scsi_plan *plan)
{
	struct scsi_cmd c = { .d = d, .r = r, .plan = plan };
	unsigned len = r->cdb_len < sizeof(c.cdb) ? r->cdb_len : sizeof(c.cdb);
	int err = ERR_OPCODE;

	if (len) {
		memcpy(c.cdb, r->cdb, len);

		const struct scsi_cmd_desc *desc = &scsi_cmds[c.cdb[0]];

		/* Only INQUIRY, REPORT LUNS and REQUEST SENSE answer for a missing LUN (SPC-4). */
		if (r->lun && c.cdb[0] != INQUIRY && c.cdb[0] != REPORT_LUNS &&
		    c.cdb[0] != REQUEST_SENSE)
			err = ERR_LUN;
		else if (!desc->cdb_len)
			err = ERR_OPCODE;
		else if (len < desc->cdb_len)
			err = ERR_CDB;
		else
			err = desc->run(&c);
	}
	if (err)
		plan_fail(plan, err);
}

void scsi_disk_finish(const struct scsi_disk_info *d, struct scsi_plan *plan, int io_error)
{
	bool read = false;
	int err;

	(void)d;
	if (io_error == 0) {
		plan->status = SCSI_STATUS_GOOD;
		plan->sense_len = 0;
		return;
	}
	for (unsigned i = 0; i < plan->nio; i++)
		read |= plan->io[i].type == SCSI_IO_READ;
	switch (io_error) {
	case -EIO:
		err = read ? SCSI_ERR(SCSI_SENSE_MEDIUM_ERROR, SCSI_ASC_UNRECOVERED_READ_ERROR, 0)
			   : SCSI_ERR(SCSI_SENSE_MEDIUM_ERROR, SCSI_ASC_WRITE_ERROR, 0);
		break;
	case -ENOSPC: /* SBC-3 thin provisioning: out of space to map the blocks */
		err = SCSI_ERR(SCSI_SENSE_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED, 0x07);
		break;
	case -EROFS:
		err = ERR_WRITE_PROTECTED;
		break;
	default:
		err = SCSI_ERR(SCSI_SENSE_HARDWARE_ERROR, SCSI_ASC_INTERNAL_TARGET_FAILURE, 0);
		break;
	}
	plan->status = SCSI_STATUS_CHECK_CONDITION;
	plan->sense_len = (uint8_t)scsi_build_sense(plan->sense, (uint8_t)(err >> 16),
						    (uint8_t)(err >> 8), (uint8_t)err);
	plan->data_len = 0;
}
