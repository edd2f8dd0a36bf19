/* Hypercall decoding and the generic checks every call gets (TLFS "Hypercall Interface":
 * classes, input value, result value, common status codes): #UD from CPL > 0 or with the
 * hypercall page off, reserved bits, call code, rep count and start, fast versus memory-based
 * input, and input/output GPAs (8-byte aligned, one page, inside RAM: else
 * HV_STATUS_INVALID_ALIGNMENT, as the TLFS's common status codes say). */
#include <string.h>

#include "hv-enlight/hypercall.h"
#include "log.h"

#define TAG "hv"

struct decoded {
	uint16_t code;
	bool fast;
	uint32_t varhead_size; /* bytes */
	uint16_t rep_count, rep_start;
};

static void decode(uint64_t control, struct decoded *d)
{
	d->code = (uint16_t)(control & HV_HYPERCALL_CODE_MASK);
	d->fast = (control & HV_HYPERCALL_FAST_BIT) != 0;
	d->varhead_size = (uint32_t)((control & HV_HYPERCALL_VARHEAD_MASK) >>
				     HV_HYPERCALL_VARHEAD_OFFSET) * 8;
	d->rep_count = (uint16_t)((control & HV_HYPERCALL_REP_COMP_MASK) >>
				  HV_HYPERCALL_REP_COMP_OFFSET);
	d->rep_start = (uint16_t)((control & HV_HYPERCALL_REP_START_MASK) >>
				  HV_HYPERCALL_REP_START_OFFSET);
}

static const struct hv_hypercall_desc *find(const struct hv_hypercall_desc *table, size_t len,
					    uint16_t code)
{
	for (size_t i = 0; i < len; i++)
		if (table[i].code == code)
			return &table[i];
	return NULL;
}

/* A memory-based parameter block: 8-byte aligned, within one page, in RAM. */
static bool block_ok(const struct hv_partition *p, uint64_t gpa, uint32_t size)
{
	if (size == 0)
		return true; /* no such block: the GPA is ignored */
	if (gpa % 8)
		return false;
	if ((gpa % HV_HYP_PAGE_SIZE) + size > HV_HYP_PAGE_SIZE)
		return false;
	return guest_mem_ptr(p->mem, gpa, size) != NULL;
}

static uint16_t check(const struct hv_partition *p, const struct hv_hypercall_desc *desc,
		      const struct decoded *d, uint32_t in_total, uint32_t out_total,
		      const struct hv_hypercall_regs *regs)
{
	if (desc->feature >= 0 && !hv_has(p, (enum hv_feature)desc->feature))
		return desc->missing_status;
	if (desc->rep ? (d->rep_count == 0 || d->rep_start >= d->rep_count)
		      : (d->rep_count != 0 || d->rep_start != 0))
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	if (d->varhead_size && !desc->varhead)
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	if (d->fast) {
		/* Only RDX and R8: no XMM input, and no way to return output. */
		if (!desc->fast || in_total > HV_HYPERCALL_FAST_INPUT_BYTES || out_total)
			return HV_STATUS_INVALID_HYPERCALL_INPUT;
		return HV_STATUS_SUCCESS;
	}
	/* block_ok also bounds both blocks to one page, the size of the copies. */
	if (!block_ok(p, regs->input, in_total) || !block_ok(p, regs->output, out_total))
		return HV_STATUS_INVALID_ALIGNMENT;
	return HV_STATUS_SUCCESS;
}

static uint16_t run(struct hv_hypercall_call *c, const struct hv_hypercall_desc *desc,
		    unsigned *reps_done)
{
	uint32_t in_base = desc->in_size + c->varhead_size;
	uint16_t status = HV_STATUS_SUCCESS;
	unsigned i = c->rep_start;

	if (!desc->rep) {
		*reps_done = 0;
		return desc->simple(c);
	}
	for (; i < c->rep_count; i++) {
		status = desc->element(c, i, c->in + in_base + (size_t)i * desc->in_rep_size,
				       c->out + desc->out_size + (size_t)i * desc->out_rep_size);
		if (status != HV_STATUS_SUCCESS)
			break;
	}
	*reps_done = i;
	return status;
}

void hv_hypercall_run(struct hv_partition *p, unsigned vp, const struct hv_hypercall_regs *regs,
		      struct hv_hypercall_result *res, const struct hv_hypercall_desc *table,
		      size_t table_len)
{
	uint8_t in[HV_HYP_PAGE_SIZE], out[HV_HYP_PAGE_SIZE];
	const struct hv_hypercall_desc *desc;
	struct hv_hypercall_call c;
	struct decoded d;
	uint32_t in_total, out_total;
	unsigned reps_done = 0;
	uint16_t status;
	uint64_t hypercall_msr;

	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&p->lock);
	hypercall_msr = p->hypercall;
	pthread_mutex_unlock(&p->lock);
	/* TLFS: hypercalls are for CPL 0 only, through an enabled hypercall page. */
	if (vp >= p->cfg.nvps || regs->cpl > 0 || !(hypercall_msr & HV_MSR_PAGE_ENABLE)) {
		res->inject_ud = true;
		return;
	}
	decode(regs->control, &d);
	if (regs->control & HV_HYPERCALL_RSVD_MASK) {
		status = HV_STATUS_INVALID_HYPERCALL_INPUT;
		goto done;
	}
	desc = find(table, table_len, d.code);
	if (!desc) {
		log_debug(TAG, "VP %u: unknown hypercall 0x%04x", vp, d.code);
		status = HV_STATUS_INVALID_HYPERCALL_CODE;
		goto done;
	}
	in_total = desc->in_size + d.varhead_size + (uint32_t)d.rep_count * desc->in_rep_size;
	out_total = desc->out_size + (uint32_t)d.rep_count * desc->out_rep_size;
	status = check(p, desc, &d, in_total, out_total, regs);
	if (status != HV_STATUS_SUCCESS)
		goto done;
	memset(in, 0, sizeof(in));
	memset(out, 0, sizeof(out));
	if (d.fast) {
		memcpy(in, &regs->input, 8);
		memcpy(in + 8, &regs->output, 8);
	} else if (in_total && guest_mem_read(p->mem, regs->input, in, in_total) != 0) {
		status = HV_STATUS_INVALID_ALIGNMENT; /* checked above; kept for safety */
		goto done;
	}
	c = (struct hv_hypercall_call){
		.p = p, .vp = vp, .fast = d.fast, .in = in, .varhead_size = d.varhead_size,
		.out = out, .rep_count = d.rep_count, .rep_start = d.rep_start,
	};
	status = run(&c, desc, &reps_done);
	if (!d.fast && out_total) {
		/* Checked to be one page of RAM above. The fixed output on success; rep outputs for
		 * the elements completed in this call. */
		uint8_t *dst = guest_mem_ptr(p->mem, regs->output, out_total);

		if (dst && status == HV_STATUS_SUCCESS && desc->out_size)
			memcpy(dst, out, desc->out_size);
		if (dst && desc->rep && reps_done > d.rep_start) {
			uint32_t off = desc->out_size + (uint32_t)d.rep_start * desc->out_rep_size;

			memcpy(dst + off, out + off,
			       (uint32_t)(reps_done - d.rep_start) * desc->out_rep_size);
		}
	}
done:
	res->rax = status | ((uint64_t)reps_done << HV_HYPERCALL_REP_COMP_OFFSET);
}

void hv_hypercall(struct hv_partition *p, unsigned vp, const struct hv_hypercall_regs *regs,
		  struct hv_hypercall_result *res)
{
	hv_hypercall_run(p, vp, regs, res, hv_hypercall_table, hv_hypercall_table_len);
}

uint16_t hv_doorbell(struct hv_partition *p, unsigned vp, uint32_t connection_id)
{
	const struct hv_hypercall_regs regs = {
		.control = HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT,
		.input = connection_id, /* flag number 0 */
		.long_mode = true,
		.cpl = 0,
	};
	struct hv_hypercall_result res = {0};

	hv_hypercall(p, vp, &regs, &res);
	/* The page is off (the guest wrote the port itself): no call could have been made. */
	return res.inject_ud ? HV_STATUS_ACCESS_DENIED : (uint16_t)res.rax;
}
