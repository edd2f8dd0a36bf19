/* storvsp SCSI requests (VSTOR_OPERATION_EXECUTE_SRB): the SRB copied and checked, its GPA-direct
 * page range turned into host iovecs (every page guest RAM, length bounded by
 * data_transfer_length), routed to a LUN at path 0 / target 0 as Hyper-V places disks, run by
 * the SCSI disk logic and the block backend, answered with SRB and SCSI status, autosense and
 * the bytes moved. REPORT LUNS and INQUIRY of an absent LUN are the controller's, as in openvmm's
 * storvsp (Linux's scan needs the latter to go on to REPORT LUNS when LUN 0 is absent). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "synthetic/storvsp_internal.h"

#define SCSI_OP_INQUIRY 0x12
#define SCSI_OP_REPORT_LUNS 0xa0
#define SAM_STAT_BUSY 0x08
#define INQUIRY_STD_LEN 36u

struct storvsp_req {
	struct storvsp_chan *chan;
	struct storvsp_lun *lun;        /* while block operations run */
	uint64_t trans_id;
	uint32_t reply_size;            /* vmscsi_request bytes of the answer */
	struct vmscsi_request srb;      /* the guest's, copied once */
	unsigned pending;               /* block operations not yet done */
	int io_error;
	struct iovec *iov;              /* the data buffer */
	unsigned iovcnt;
	size_t buf_len;
	struct block_request *ops;      /* plan.nio of them */
	struct iovec *op_iov;           /* iovcnt per operation, READ/WRITE only */
	struct scsi_plan plan;
};

static void req_free(struct storvsp_req *r)
{
	free(r->ops);
	free(r->op_iov);
	free(r->iov);
	free(r);
}

static uint32_t nt_status(uint8_t srb_status)
{
	switch (SRB_STATUS(srb_status)) {
	case SRB_STATUS_SUCCESS:
		return NT_STATUS_SUCCESS;
	case SRB_STATUS_INVALID_LUN:
	case SRB_STATUS_INVALID_TARGET_ID:
	case SRB_STATUS_NO_DEVICE:
		return NT_STATUS_DEVICE_DOES_NOT_EXIST;
	case SRB_STATUS_BUSY:
		return NT_STATUS_DEVICE_BUSY;
	case SRB_STATUS_INVALID_REQUEST:
		return NT_STATUS_INVALID_PARAMETER;
	default:
		return NT_STATUS_IO_DEVICE_ERROR;
	}
}

/* The completion of an SRB (srb: the guest's, for the fields echoed). */
static void send_srb_reply(struct storvsp_chan *c, uint64_t trans_id, uint32_t reply_size,
			   const struct vmscsi_request *srb, uint8_t srb_status, uint8_t scsi_status,
			   const uint8_t *sense, unsigned sense_len, size_t transferred)
{
	struct vstor_packet p;
	struct vmscsi_request *o = &p.vm_srb;
	unsigned room = srb->sense_info_length;

	memset(&p, 0, sizeof(p));
	p.operation = VSTOR_OPERATION_COMPLETE_IO;
	p.status = nt_status(srb_status);
	o->length = (uint16_t)reply_size;
	o->port_number = srb->port_number;
	o->path_id = srb->path_id;
	o->target_id = srb->target_id;
	o->lun = srb->lun;
	o->cdb_length = srb->cdb_length;
	o->data_in = srb->data_in;
	o->scsi_status = scsi_status;
	/* The guest says how much sense it takes; the wire area bounds it in any case. */
	if (room > STORVSC_SENSE_BUFFER_SIZE)
		room = STORVSC_SENSE_BUFFER_SIZE;
	if (sense_len > room)
		sense_len = room;
	if (sense_len) {
		memcpy(o->sense_data, sense, sense_len);
		srb_status |= SRB_STATUS_AUTOSENSE_VALID;
	}
	o->sense_info_length = (uint8_t)sense_len;
	o->srb_status = srb_status;
	o->data_transfer_length = (uint32_t)transferred;
	storvsp_chan_send(c, VM_PKT_COMP, trans_id, &p, VSTOR_PACKET_HEADER_SIZE + reply_size);
}

/* Answers r and frees it. */
static void req_complete(struct storvsp_req *r, uint8_t srb_status, uint8_t scsi_status,
			 const uint8_t *sense, unsigned sense_len, size_t transferred)
{
	struct storvsp_chan *c = r->chan;

	send_srb_reply(c, r->trans_id, r->reply_size, &r->srb, srb_status, scsi_status, sense,
		       sense_len, transferred);
	req_free(r);
	if (storvsp_chan_request_done(c))
		storvsp_chan_kick(c);
}

static void req_complete_plan(struct storvsp_req *r)
{
	const struct scsi_plan *pl = &r->plan;
	uint8_t srb = pl->status == SCSI_STATUS_GOOD ? SRB_STATUS_SUCCESS : SRB_STATUS_ERROR;

	bool good = pl->status == SCSI_STATUS_GOOD;

	/* Linux ignores the length of a failed command; Windows reads it: nothing moved. */
	req_complete(r, srb, pl->status, pl->sense, good ? 0 : pl->sense_len,
		     good ? pl->data_len : 0);
}

/* A request the transport cannot carry (bad lengths, bad pages): SRB_STATUS_INVALID_REQUEST,
 * which Linux turns into an I/O error (DID_ERROR). */
static void req_invalid(struct storvsp_req *r, const char *why)
{
	log_guest_fault(r->chan->s->name, "channel %u: SCSI request refused: %s", r->chan->index,
			why);
	storvsp_protocol_error(r->chan->s);
	req_complete(r, SRB_STATUS_INVALID_REQUEST, SCSI_STATUS_GOOD, NULL, 0, 0);
}

/* Host iovecs for the first len bytes of the range, adjacent pages merged. */
static int map_buffer(struct storvsp_req *r, const struct guest_mem *mem,
		      const struct vmbus_packet_range *rg, uint32_t len)
{
	uint32_t npages = (uint32_t)(((uint64_t)rg->byte_offset + len + VMBUS_PKT_PAGE_SIZE - 1) /
				     VMBUS_PKT_PAGE_SIZE);
	uint32_t off = rg->byte_offset, left = len;

	if (npages > rg->pfn_count)
		return -EINVAL;
	r->iov = calloc(npages, sizeof(*r->iov));
	if (!r->iov)
		return -ENOMEM;
	for (uint32_t i = 0; i < npages; i++) {
		uint64_t pfn = rg->pfns[i];
		uint32_t n = VMBUS_PKT_PAGE_SIZE - off;
		uint8_t *p;

		if (n > left)
			n = left;
		if (pfn > UINT64_MAX / VMBUS_PKT_PAGE_SIZE)
			return -EFAULT;
		p = guest_mem_ptr(mem, pfn * VMBUS_PKT_PAGE_SIZE + off, n);
		if (!p)
			return -EFAULT;
		if (r->iovcnt && (uint8_t *)r->iov[r->iovcnt - 1].iov_base +
					 r->iov[r->iovcnt - 1].iov_len == p)
			r->iov[r->iovcnt - 1].iov_len += n;
		else
			r->iov[r->iovcnt++] = (struct iovec){ p, n };
		left -= n;
		off = 0;
	}
	r->buf_len = len;
	return 0;
}

/* INQUIRY to a LUN nobody attached: peripheral qualifier 3 ("not capable of supporting a
 * device here"), so a scan goes on to REPORT LUNS. */
static void absent_inquiry(const struct scsi_request *q, uint8_t lun, struct scsi_plan *plan)
{
	uint8_t data[INQUIRY_STD_LEN];
	unsigned alloc;

	memset(plan, 0, sizeof(*plan));
	if (q->cdb_len < 6 || (q->cdb[1] & 1) || q->cdb[2]) {
		plan->status = SCSI_STATUS_CHECK_CONDITION;
		plan->sense_len = (uint8_t)scsi_build_sense(plan->sense, SCSI_SENSE_ILLEGAL_REQUEST,
							    SCSI_ASC_INVALID_FIELD_IN_CDB, 0);
		return;
	}
	alloc = (unsigned)q->cdb[3] << 8 | q->cdb[4];
	memset(data, 0, sizeof(data));
	data[0] = 0x7f;           /* qualifier 3, type 0x1f */
	data[2] = 0x05;           /* SPC-3 */
	data[3] = 0x02;           /* response data format */
	data[4] = INQUIRY_STD_LEN - 5;
	if (lun == 0) {           /* openvmm names the controller on LUN 0 only */
		memcpy(data + 8, "Msft    ", 8);
		memcpy(data + 16, "Virtual Disk    ", 16);
		memcpy(data + 32, "1.0 ", 4);
	}
	if (alloc > sizeof(data))
		alloc = sizeof(data);
	plan->status = SCSI_STATUS_GOOD;
	plan->data_len = scsi_buf_write(q->buf, q->buf_cnt, 0, data, alloc);
}

static void report_luns(const struct storvsp *s, const struct scsi_request *q, bool bus0,
			struct scsi_plan *plan)
{
	uint16_t luns[STORVSP_MAX_LUNS];
	unsigned n = 0;

	for (unsigned i = 0; bus0 && i < STORVSP_MAX_LUNS; i++)
		if (s->luns[i])
			luns[n++] = (uint16_t)i;
	memset(plan, 0, sizeof(*plan));
	scsi_report_luns(q, luns, n, plan);
}

/* One block operation of r ended (or submit let go of its own hold): the last one answers. */
static void req_io_finished(struct storvsp_req *r)
{
	struct storvsp_lun *l = r->lun;

	if (--r->pending)
		return;
	scsi_disk_finish(&l->info, &r->plan, r->io_error);
	r->lun = NULL;
	storvsp_lun_request_done(l);
	req_complete_plan(r);
}

static void op_done(struct block_request *op, int res)
{
	struct storvsp_req *r = op->opaque;

	if (res < 0 && !r->io_error)
		r->io_error = res;
	req_io_finished(r);
}

static enum block_op_type block_type(enum scsi_io_type t)
{
	switch (t) {
	case SCSI_IO_READ:
		return BLOCK_READ;
	case SCSI_IO_WRITE:
		return BLOCK_WRITE;
	case SCSI_IO_FLUSH:
		return BLOCK_FLUSH;
	case SCSI_IO_DISCARD:
		return BLOCK_DISCARD;
	case SCSI_IO_WRITE_ZEROES:
		return BLOCK_WRITE_ZEROES;
	case SCSI_IO_WRITE_SAME:
	default:
		return BLOCK_WRITE_SAME;
	}
}

/* The first len bytes of the data buffer, into its own iovec array. */
static int truncate_buffer(const struct storvsp_req *r, uint64_t len, struct iovec *out,
			   unsigned *cnt)
{
	unsigned n = 0;

	for (unsigned i = 0; i < r->iovcnt && len; i++) {
		size_t take = r->iov[i].iov_len < len ? r->iov[i].iov_len : (size_t)len;

		out[n++] = (struct iovec){ r->iov[i].iov_base, take };
		len -= take;
	}
	*cnt = n;
	return len ? -EINVAL : 0;
}

/* Runs the plan's block operations; the last one to finish answers the guest. */
static void submit(struct storvsp_req *r, struct storvsp_lun *l)
{
	unsigned nio = r->plan.nio, submitted = 0, nrw = 0;
	struct iovec *next_iov;
	int err = 0;

	for (unsigned i = 0; i < nio; i++)
		nrw += r->plan.io[i].type == SCSI_IO_READ || r->plan.io[i].type == SCSI_IO_WRITE;
	r->ops = calloc(nio, sizeof(*r->ops));
	if (nrw && r->iovcnt)
		r->op_iov = calloc((size_t)nrw * r->iovcnt, sizeof(*r->op_iov));
	if (!r->ops || (nrw && r->iovcnt && !r->op_iov)) {
		req_complete(r, SRB_STATUS_BUSY, SAM_STAT_BUSY, NULL, 0, 0);
		return;
	}
	next_iov = r->op_iov;
	r->lun = l;
	l->inflight++;
	/* submit holds the request until every operation is out: done() never runs inside
	 * block_submit, but the last one may end before the loop does. */
	r->pending = 1;
	for (unsigned i = 0; i < nio; i++) {
		const struct scsi_io *io = &r->plan.io[i];
		struct block_request *op = &r->ops[i];
		int ret = 0;

		op->type = block_type(io->type);
		op->offset = io->offset;
		op->length = io->length;
		op->fua = io->fua;
		op->done = op_done;
		op->opaque = r;
		if (io->type == SCSI_IO_READ || io->type == SCSI_IO_WRITE) {
			op->iov = next_iov;
			next_iov += r->iovcnt;
			ret = truncate_buffer(r, io->length, op->iov, &op->iovcnt);
		} else if (io->type == SCSI_IO_WRITE_SAME) {
			op->pattern = r->plan.pattern;
			op->pattern_len = l->info.block_size;
		}
		if (ret == 0)
			ret = block_submit(l->dev, op);
		if (ret < 0) {
			if (!err)
				err = ret;
			continue;
		}
		r->pending++;
		submitted++;
	}
	if (!submitted && err == -ENOMEM) {
		/* Nothing started: SCSI BUSY makes the guest retry (Linux requeues it). */
		r->lun = NULL;
		storvsp_lun_request_done(l);
		req_complete(r, SRB_STATUS_BUSY, SAM_STAT_BUSY, NULL, 0, 0);
		return;
	}
	if (err && !r->io_error)
		r->io_error = err;
	req_io_finished(r);
}

void storvsp_srb_execute(struct storvsp_chan *c, const struct vmbus_packet *pkt,
			 uint32_t payload_len, uint32_t reply_size)
{
	struct storvsp *s = c->s;
	struct storvsp_req *r = calloc(1, sizeof(*r));
	uint32_t srb_len = storvsp_srb_size(s), dtl;
	struct scsi_request q;
	struct storvsp_lun *l = NULL;

	if (!r) {
		struct vmscsi_request none;

		memset(&none, 0, sizeof(none));
		log_error(s->name, "out of memory: SCSI request answered busy");
		send_srb_reply(c, pkt->trans_id, reply_size, &none, SRB_STATUS_BUSY, SAM_STAT_BUSY,
			       NULL, 0, 0);
		storvsp_chan_kick(c);
		return;
	}
	r->chan = c;
	r->trans_id = pkt->trans_id;
	r->reply_size = reply_size;
	c->inflight++;
	if (payload_len < VMSCSI_REQUEST_SIZE_PRE_WIN8) {
		req_invalid(r, "short SRB");
		return;
	}
	/* A pre-win8 SRB ends before the extension, whatever the guest sent after it. */
	if (srb_len > payload_len)
		srb_len = payload_len;
	memcpy(&r->srb, pkt->data + VSTOR_PACKET_HEADER_SIZE, srb_len);
	dtl = r->srb.data_transfer_length;
	if (r->srb.cdb_length == 0 || r->srb.cdb_length > STORVSC_MAX_CMD_LEN) {
		req_invalid(r, "bad cdb_length");
		return;
	}
	if (dtl) {
		struct vmbus_packet_gpa_iter it;
		struct vmbus_packet_range rg;
		int ret;

		/* One range, as Linux, Windows and openvmm have it. */
		if (pkt->type != VM_PKT_DATA_USING_GPA_DIRECT || pkt->range_count != 1) {
			req_invalid(r, "data without exactly one page range");
			return;
		}
		vmbus_packet_gpa_iter_init(&it, pkt);
		if (!vmbus_packet_gpa_iter_next(&it, &rg) || rg.byte_count < dtl) {
			req_invalid(r, "data_transfer_length beyond the page range");
			return;
		}
		ret = map_buffer(r, s->mem, &rg, dtl);
		if (ret == -ENOMEM) {
			req_complete(r, SRB_STATUS_BUSY, SAM_STAT_BUSY, NULL, 0, 0);
			return;
		}
		if (ret < 0) {
			req_invalid(r, "page outside guest RAM");
			return;
		}
	}

	memset(&q, 0, sizeof(q));
	q.cdb = r->srb.cdb;
	q.cdb_len = r->srb.cdb_length;
	q.buf = r->iov;
	q.buf_cnt = r->iovcnt;
	q.buf_len = r->buf_len;
	q.lun = 0;
	if (r->srb.path_id == 0 && r->srb.target_id == 0 && r->srb.lun < STORVSP_MAX_LUNS)
		l = s->luns[r->srb.lun];
	if (r->srb.cdb[0] == SCSI_OP_REPORT_LUNS) {
		report_luns(s, &q, r->srb.path_id == 0 && r->srb.target_id == 0, &r->plan);
	} else if (l) {
		scsi_disk_prepare(&l->info, &q, &r->plan);
		if (r->plan.nio) {
			submit(r, l);
			return;
		}
	} else if (r->srb.cdb[0] == SCSI_OP_INQUIRY) {
		absent_inquiry(&q, r->srb.lun, &r->plan);
	} else {
		/* Linux removes the device on this status (storvsc_handle_error). */
		req_complete(r, SRB_STATUS_INVALID_LUN, SCSI_STATUS_CHECK_CONDITION, NULL, 0, 0);
		return;
	}
	req_complete_plan(r);
}
