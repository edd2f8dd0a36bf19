/* SCSI direct-access disk logic (SPC-4 / SBC-3 as Linux's sd driver and Windows' disk.sys use
 * it), shared by storvsp and, later, the emulated ATAPI path. Pure: it decodes a CDB, produces
 * data-in (INQUIRY, MODE SENSE, ...) straight into the caller's buffer, and turns media commands
 * into block operations the caller runs on its backend; it never does I/O itself.
 *
 * Use: scsi_disk_prepare(); if plan.nio == 0 the command is finished (status, sense, data_len).
 * Else run plan.io[0..nio) on the backend (in any order; all must finish), then call
 * scsi_disk_finish() with the first error (0 if none): it sets status and sense. */
#ifndef HVKVM_BACKEND_SCSI_DISK_H
#define HVKVM_BACKEND_SCSI_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define SCSI_STATUS_GOOD 0x00
#define SCSI_STATUS_CHECK_CONDITION 0x02

#define SCSI_SENSE_NO_SENSE 0x0
#define SCSI_SENSE_NOT_READY 0x2
#define SCSI_SENSE_MEDIUM_ERROR 0x3
#define SCSI_SENSE_HARDWARE_ERROR 0x4
#define SCSI_SENSE_ILLEGAL_REQUEST 0x5
#define SCSI_SENSE_UNIT_ATTENTION 0x6
#define SCSI_SENSE_DATA_PROTECT 0x7
#define SCSI_SENSE_ABORTED_COMMAND 0xb

/* Additional sense codes (SPC-4 annex D) we produce, for transports that build their own sense. */
#define SCSI_ASC_NO_ADDITIONAL_SENSE 0x00
#define SCSI_ASC_WRITE_ERROR 0x0c
#define SCSI_ASC_UNRECOVERED_READ_ERROR 0x11
#define SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR 0x1a
#define SCSI_ASC_INVALID_COMMAND_OPERATION_CODE 0x20
#define SCSI_ASC_LBA_OUT_OF_RANGE 0x21
#define SCSI_ASC_INVALID_FIELD_IN_CDB 0x24
#define SCSI_ASC_LOGICAL_UNIT_NOT_SUPPORTED 0x25
#define SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST 0x26
#define SCSI_ASC_WRITE_PROTECTED 0x27 /* ASCQ 0x07: SPACE ALLOCATION FAILED WRITE PROTECT */
#define SCSI_ASC_SAVING_PARAMETERS_NOT_SUPPORTED 0x39
#define SCSI_ASC_INTERNAL_TARGET_FAILURE 0x44

#define SCSI_SENSE_LEN 18          /* fixed-format sense data we produce */
#define SCSI_UNMAP_MAX_DESCRIPTORS 64 /* MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT we advertise */

/* What the disk is; filled by the caller, fixed while the disk exists. */
struct scsi_disk_info {
	uint64_t nblocks;            /* logical blocks, at least 1 */
	uint32_t block_size;         /* logical block size: 512 or 4096 (WRITE SAME's pattern fits) */
	uint8_t phys_block_exp;      /* physical block = block_size << exp (READ CAPACITY 16) */
	bool readonly;               /* MODE SENSE WP bit; writes get DATA PROTECT */
	bool can_unmap;              /* UNMAP, WRITE SAME with UNMAP, LBPME, VPD B0/B2 */
	bool write_cache;            /* caching page WCE: the guest must flush */
	uint32_t max_transfer_blocks; /* VPD B0 MAXIMUM TRANSFER LENGTH (and MAXIMUM WRITE SAME
				      * LENGTH); longer commands refused; 0 = no limit */
	char vendor[9];              /* INQUIRY, space padded on output */
	char product[17];
	char revision[5];
	char serial[21];             /* VPD 0x80 (empty: the page is not offered, as QEMU does) */
	uint64_t wwn;                /* VPD 0x83 NAA-5 designator (IEEE registered); the top
				      * nibble is the NAA field and is sent as 5; 0 = none */
};

/* One block operation the caller runs. Byte offsets/lengths (blocks * block_size). */
enum scsi_io_type { SCSI_IO_READ, SCSI_IO_WRITE, SCSI_IO_FLUSH, SCSI_IO_DISCARD,
		    SCSI_IO_WRITE_ZEROES, SCSI_IO_WRITE_SAME };
struct scsi_io {
	enum scsi_io_type type;
	uint64_t offset;
	uint64_t length;
	bool fua;                    /* WRITE with FUA (or write_cache false: every WRITE,
				      * WRITE_ZEROES and WRITE_SAME is FUA) */
	/* READ/WRITE: the data is the first length bytes of the request's buffer. WRITE_SAME: the
	 * pattern is plan.pattern (block_size bytes). FLUSH: offset and length are 0 (the whole
	 * disk). */
};

struct scsi_plan {
	uint8_t status;              /* SCSI_STATUS_* */
	uint8_t sense[SCSI_SENSE_LEN];
	uint8_t sense_len;           /* 0 when status is GOOD */
	size_t data_len;             /* bytes of the buffer actually transferred (in or out); with
				      * nio > 0, what will have moved if the I/O succeeds: finish()
				      * keeps it on success and sets 0 on failure */
	unsigned nio;
	struct scsi_io io[SCSI_UNMAP_MAX_DESCRIPTORS];
	uint8_t pattern[4096];       /* WRITE SAME's block, copied out of the data-out buffer */
};

/* The command as the transport received it. buf: the data buffer (host addresses of guest
 * memory), buf_len bytes in total; for data-out commands the parameter data is read from it once,
 * for data-in commands it is written. A media transfer (READ/WRITE) or parameter list longer than
 * buf_len is refused with ILLEGAL REQUEST, INVALID FIELD IN CDB (the transport did not give the
 * memory); an allocation length longer than buf_len only truncates, as a short allocation
 * length does (SPC: it is a maximum); data_len tells. cdb_len beyond 16 is ignored. */
struct scsi_request {
	const uint8_t *cdb;
	unsigned cdb_len;
	const struct iovec *buf;
	unsigned buf_cnt;
	size_t buf_len;
	uint64_t lun;                /* only 0 exists on this disk; the transport routes LUNs */
};

/* Decodes and, for non-media commands, executes. Never fails: anything it does not do gets
 * CHECK CONDITION, ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE (0x20) / INVALID FIELD IN CDB
 * (0x24) / LBA OUT OF RANGE (0x21) / PARAMETER LIST LENGTH ERROR (0x1a) as SPC says. */
void scsi_disk_prepare(const struct scsi_disk_info *d, const struct scsi_request *r,
		       struct scsi_plan *plan);
/* After every plan.io ran: io_error 0 or the first -errno. Sets GOOD, or CHECK CONDITION with
 * MEDIUM ERROR (-EIO: UNRECOVERED READ ERROR for reads, WRITE ERROR otherwise), DATA PROTECT
 * (-EROFS: WRITE PROTECTED; -ENOSPC: SPACE ALLOCATION FAILED WRITE PROTECT), HARDWARE ERROR /
 * INTERNAL TARGET FAILURE (other); data_len 0 on failure. */
void scsi_disk_finish(const struct scsi_disk_info *d, struct scsi_plan *plan, int io_error);

/* Fixed-format sense (0x70) into sense[SCSI_SENSE_LEN]; returns SCSI_SENSE_LEN. */
unsigned scsi_build_sense(uint8_t *sense, uint8_t key, uint8_t asc, uint8_t ascq);

/* REPORT LUNS for a transport that owns several LUNs: luns[0..n) into the buffer; same plan
 * conventions (nio is 0). LUNs below 256 use peripheral addressing, up to 16383 flat space;
 * larger ones have no single-level encoding and are left out. */
void scsi_report_luns(const struct scsi_request *r, const uint16_t *luns, unsigned n,
		      struct scsi_plan *plan);

/* Copy helpers over a scattered buffer: bytes copied. */
size_t scsi_buf_write(const struct iovec *iov, unsigned cnt, size_t off, const void *src, size_t len);
size_t scsi_buf_read(const struct iovec *iov, unsigned cnt, size_t off, void *dst, size_t len);

#endif
