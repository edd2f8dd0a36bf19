/* Hypercall dispatch machinery (TLFS "Hypercall Interface"): a table of call descriptions, so
 * that the real calls (hvcalls.c) and unit tests' own calls get the same decoding and checks. */
#ifndef HVKVM_HV_HYPERCALL_H
#define HVKVM_HV_HYPERCALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv-enlight/partition.h"

/* One decoded call, as its handler sees it. The input is a private copy. */
struct hv_hypercall_call {
	struct hv_partition *p;
	unsigned vp;
	bool fast;
	const uint8_t *in;      /* fixed header, variable header, then rep input elements */
	uint32_t varhead_size;  /* bytes of variable header (after the fixed header) */
	uint8_t *out;           /* fixed output, then rep output elements */
	uint16_t rep_count, rep_start;
};

struct hv_hypercall_desc {
	uint16_t code;
	bool rep;               /* a rep call: rep count >= 1 */
	bool fast;              /* may be called fast (input in RDX, R8; no output) */
	bool varhead;           /* takes a variable header */
	int feature;            /* enum hv_feature it needs, or -1 */
	uint16_t missing_status; /* status when the feature is off */
	uint16_t in_size, in_rep_size;   /* fixed input header, bytes per rep input element */
	uint16_t out_size, out_rep_size; /* fixed output, bytes per rep output element */
	/* A simple call: the status. */
	uint16_t (*simple)(struct hv_hypercall_call *c);
	/* A rep call: element i (in [rep_start, rep_count)); the machinery stops at the first
	 * status that is not HV_STATUS_SUCCESS and reports the reps completed before it. */
	uint16_t (*element)(struct hv_hypercall_call *c, unsigned i, const uint8_t *in_elem,
			    uint8_t *out_elem);
};

/* The calls hvkvm implements (hvcalls.c). */
extern const struct hv_hypercall_desc hv_hypercall_table[];
extern const size_t hv_hypercall_table_len;

/* hv_hypercall with a given table (VP thread). */
void hv_hypercall_run(struct hv_partition *p, unsigned vp, const struct hv_hypercall_regs *regs,
		      struct hv_hypercall_result *res, const struct hv_hypercall_desc *table,
		      size_t table_len);

#endif
