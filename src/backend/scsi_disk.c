/* SCSI direct-access disk (see scsi_disk.h): dispatch, status and sense, and the SBC-3 media
 * commands (READ/WRITE, WRITE SAME, UNMAP, SYNCHRONIZE CACHE, VERIFY, READ CAPACITY). The SPC-4
 * data pages are in scsi_disk_pages.c. */
#include "backend/scsi_disk_internal.h"

#include <errno.h>
#include <string.h>

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

void scsi_plan_good(struct scsi_plan *p, size_t data_len)
{
	p->status = SCSI_STATUS_GOOD;
	p->sense_len = 0;
	p->data_len = data_len;
	p->nio = 0;
}

void scsi_plan_fail(struct scsi_plan *p, int err)
{
	p->status = SCSI_STATUS_CHECK_CONDITION;
	p->sense_len = (uint8_t)scsi_build_sense(p->sense, (uint8_t)(err >> 16),
						 (uint8_t)(err >> 8), (uint8_t)err);
	p->data_len = 0;
	p->nio = 0;
}

/* Data-in: at most alloc bytes (the CDB's allocation length) and at most the buffer. */
int scsi_data_in(struct scsi_cmd *c, const uint8_t *data, size_t len, size_t alloc)
{
	const struct scsi_request *r = c->r;
	size_t n = min_size(min_size(len, alloc), r->buf_len);

	scsi_plan_good(c->plan, scsi_buf_write(r->buf, r->buf_cnt, 0, data, n));
	return 0;
}

/* Data-out: exactly len bytes of parameter data from offset off, or INVALID FIELD IN CDB when
 * the transport gave less. */
int scsi_data_out(struct scsi_cmd *c, size_t off, void *dst, size_t len)
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
		scsi_plan_good(c->plan, 0);
		return 0;
	}
	if (d->max_transfer_blocks && n > d->max_transfer_blocks)
		return ERR_CDB;

	uint64_t bytes = (uint64_t)n * d->block_size;

	if (bytes > c->r->buf_len)
		return ERR_CDB;
	scsi_plan_good(c->plan, bytes);
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
	scsi_plan_good(c->plan, 0);
	if (!(ws16 && (flags & 0x01))) { /* NDOB clear: one block of data-out */
		if (d->block_size > sizeof(c->plan->pattern))
			return ERR_CDB;
		int err = scsi_data_out(c, 0, c->plan->pattern, d->block_size);

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
		scsi_plan_good(c->plan, 0);
		return 0;
	}
	if (plen < UNMAP_HEADER_LEN)
		return ERR_PARAM_LEN;
	if (plen > c->r->buf_len)
		return ERR_CDB;
	err = scsi_data_out(c, 0, list, UNMAP_HEADER_LEN);
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
	err = scsi_data_out(c, UNMAP_HEADER_LEN, list + UNMAP_HEADER_LEN, count * UNMAP_DESC_LEN);
	if (err)
		return err;
	for (size_t i = 0; i < count; i++) {
		const uint8_t *desc = list + UNMAP_HEADER_LEN + i * UNMAP_DESC_LEN;

		if (!lba_ok(d, get_be64(desc), get_be32(desc + 8)))
			return ERR_RANGE;
	}
	scsi_plan_good(c->plan, plen);
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
	scsi_plan_good(c->plan, 0);
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
	scsi_plan_good(c->plan, 0);
	return 0;
}

/* SBC-3 READ CAPACITY (10); a disk past 2^32 blocks says FFFFFFFFh (use the 16-byte one). */
static int cmd_read_capacity(struct scsi_cmd *c)
{
	uint64_t last = c->d->nblocks ? c->d->nblocks - 1 : 0;
	uint8_t out[8];

	put_be32(out, last > 0xffffffffu ? 0xffffffffu : (uint32_t)last);
	put_be32(out + 4, c->d->block_size);
	return scsi_data_in(c, out, sizeof(out), sizeof(out));
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
	return scsi_data_in(c, out, sizeof(out), get_be32(c->cdb + 10));
}

/* ---- Dispatch ---- */

/* The commands we do, with the CDB length of each opcode's group. Anything else, READ DEFECT
 * DATA included, is INVALID COMMAND OPERATION CODE. */
static const struct scsi_cmd_desc scsi_cmds[256] = {
	[TEST_UNIT_READY] = { 6, scsi_cmd_good },
	[REQUEST_SENSE] = { 6, scsi_cmd_request_sense },
	[READ_6] = { 6, cmd_read_write },
	[WRITE_6] = { 6, cmd_read_write },
	[INQUIRY] = { 6, scsi_cmd_inquiry },
	[MODE_SELECT] = { 6, scsi_cmd_mode_select },
	[MODE_SENSE] = { 6, scsi_cmd_mode_sense },
	[START_STOP] = { 6, scsi_cmd_good },
	[ALLOW_MEDIUM_REMOVAL] = { 6, scsi_cmd_good },
	[READ_CAPACITY] = { 10, cmd_read_capacity },
	[READ_10] = { 10, cmd_read_write },
	[WRITE_10] = { 10, cmd_read_write },
	[VERIFY] = { 10, cmd_verify },
	[SYNCHRONIZE_CACHE] = { 10, cmd_sync_cache },
	[WRITE_SAME] = { 10, cmd_write_same },
	[UNMAP] = { 10, cmd_unmap },
	[MODE_SELECT_10] = { 10, scsi_cmd_mode_select },
	[MODE_SENSE_10] = { 10, scsi_cmd_mode_sense },
	[READ_16] = { 16, cmd_read_write },
	[WRITE_16] = { 16, cmd_read_write },
	[VERIFY_16] = { 16, cmd_verify },
	[SYNCHRONIZE_CACHE_16] = { 16, cmd_sync_cache },
	[WRITE_SAME_16] = { 16, cmd_write_same },
	[SERVICE_ACTION_IN_16] = { 16, cmd_service_action_in },
	[REPORT_LUNS] = { 12, scsi_cmd_report_luns },
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
		scsi_plan_fail(plan, err);
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
