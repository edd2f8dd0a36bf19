/* SCSI direct-access disk, SPC-4 data pages (see scsi_disk.h): INQUIRY and its VPD pages (SPC-4,
 * SBC-3 block limits, characteristics and provisioning), REQUEST SENSE, REPORT LUNS, and MODE
 * SENSE/SELECT with the caching and control pages. */
#include "backend/scsi_disk_internal.h"

#include <string.h>

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
	return scsi_data_in(c, out, len, alloc);
}

int scsi_cmd_inquiry(struct scsi_cmd *c)
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
	return scsi_data_in(c, out, sizeof(out), alloc);
}

/* ---- Sense, LUNs, no-ops ---- */

/* SPC-4 REQUEST SENSE: nothing is ever pending (errors go back with their command). Sent to a
 * LUN that does not exist it returns LOGICAL UNIT NOT SUPPORTED as its data, with GOOD status.
 * DESC selects descriptor-format sense. */
int scsi_cmd_request_sense(struct scsi_cmd *c)
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
	return scsi_data_in(c, out, len, c->cdb[4]);
}

int scsi_cmd_good(struct scsi_cmd *c)
{
	scsi_plan_good(c->plan, 0);
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
	scsi_plan_good(plan, done);
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
		scsi_plan_fail(plan, err);
}

int scsi_cmd_report_luns(struct scsi_cmd *c)
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

int scsi_cmd_mode_sense(struct scsi_cmd *c)
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
	return scsi_data_in(c, out, n, alloc);
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
int scsi_cmd_mode_select(struct scsi_cmd *c)
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
		scsi_plan_good(c->plan, 0);
		return 0;
	}
	if (plen < hdr)
		return ERR_PARAM_LEN;
	if (plen > c->r->buf_len)
		return ERR_CDB;
	if (plen > sizeof(list)) /* longer than anything we accept */
		return ERR_PARAM;

	int err = scsi_data_out(c, 0, list, plen);

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
	scsi_plan_good(c->plan, plen);
	return 0;
}

