/* Internals of the SCSI disk shared by scsi_disk.c (dispatch, status, media commands) and
 * scsi_disk_pages.c (INQUIRY and VPD pages, REQUEST SENSE, REPORT LUNS, MODE SENSE/SELECT). */
#ifndef HVKVM_BACKEND_SCSI_DISK_INTERNAL_H
#define HVKVM_BACKEND_SCSI_DISK_INTERNAL_H

#include <string.h>

#include "backend/scsi_disk.h"

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

static inline uint16_t get_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t get_be64(const uint8_t *p) { return (uint64_t)get_be32(p) << 32 | get_be32(p + 4); }

static inline void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}
static inline void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static inline size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* SPC-4 4.4.1: ASCII data fields hold 20h-7Eh, left aligned, space padded. */
static inline void put_ascii(uint8_t *dst, const char *src, size_t width)
{
	size_t i = 0;

	for (; i < width && src[i]; i++)
		dst[i] = (src[i] >= 0x20 && src[i] <= 0x7e) ? (uint8_t)src[i] : '_';
	memset(dst + i, ' ', width - i);
}

/* The plan: GOOD with data_len bytes moved, or CHECK CONDITION with SCSI_ERR() err's sense. */
void scsi_plan_good(struct scsi_plan *p, size_t data_len);
void scsi_plan_fail(struct scsi_plan *p, int err);
/* Data-in: at most alloc bytes (the CDB's allocation length) and at most the buffer. */
int scsi_data_in(struct scsi_cmd *c, const uint8_t *data, size_t len, size_t alloc);
/* Data-out: exactly len bytes of parameter data from offset off, or ERR_CDB. */
int scsi_data_out(struct scsi_cmd *c, size_t off, void *dst, size_t len);

/* Handlers in scsi_disk_pages.c: 0 (plan set) or SCSI_ERR(). */
int scsi_cmd_inquiry(struct scsi_cmd *c);
int scsi_cmd_request_sense(struct scsi_cmd *c);
int scsi_cmd_good(struct scsi_cmd *c);
int scsi_cmd_report_luns(struct scsi_cmd *c);
int scsi_cmd_mode_sense(struct scsi_cmd *c);
int scsi_cmd_mode_select(struct scsi_cmd *c);

#endif
