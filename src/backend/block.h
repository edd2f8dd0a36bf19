/* Block backend: a raw image file or a block device, read and written on the VM's io_uring event
 * loop. O_DIRECT where the file system allows (cache=none), else the page cache (cache=writeback);
 * FUA writes and flushes reach stable storage before they complete; discard punches holes.
 * Everything here runs on the loop thread (or, for open/close, before/after the loop runs). */
#ifndef HVKVM_BACKEND_BLOCK_H
#define HVKVM_BACKEND_BLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error.h"
#include "event_loop.h"

#define BLOCK_SECTOR_SIZE 512u

enum block_cache {
	BLOCK_CACHE_NONE,      /* O_DIRECT (falls back to buffered where the file system refuses) */
	BLOCK_CACHE_WRITEBACK, /* page cache; flush = fdatasync */
};

struct block_options {
	const char *path;
	bool readonly;
	enum block_cache cache;
};

enum block_op_type {
	BLOCK_READ,
	BLOCK_WRITE,
	BLOCK_FLUSH,        /* everything completed so far is on stable storage */
	BLOCK_DISCARD,      /* punch a hole: reads return zeros afterwards */
	BLOCK_WRITE_ZEROES, /* the range reads as zeros afterwards (may punch holes) */
	BLOCK_WRITE_SAME,   /* pattern (pattern_len bytes, a multiple of 512) repeated over the range */
};

struct block_request;
typedef void block_done_fn(struct block_request *req, int res); /* res: 0 or -errno */

/* Filled by the caller, owned by the backend from block_submit until done() is called (on the
 * loop thread, never from inside block_submit). offset and length are bytes, multiples of 512. */
struct block_request {
	enum block_op_type type;
	uint64_t offset;
	uint64_t length;
	struct iovec *iov;         /* READ/WRITE: length bytes in total; stays valid until done */
	unsigned iovcnt;
	bool fua;                  /* WRITE: stable before done (RWF_DSYNC) */
	const void *pattern;       /* WRITE_SAME */
	uint32_t pattern_len;
	block_done_fn *done;
	void *opaque;              /* for the caller */
	/* Backend-private from here on. */
	struct event_op op;
	struct block_dev *dev;
	uint64_t progress;         /* bytes done (short reads/writes are resubmitted) */
	void *bounce;              /* aligned copy when the iovecs do not suit O_DIRECT */
	struct iovec bounce_iov;
	unsigned step;             /* which operation the request is at (block.c) */
	struct block_request *next; /* waiting for a submission queue entry */
};

/* Opens and checks the image. One clear error (and -errno) for: missing file, a directory or
 * other non-regular non-block file, size not a multiple of 512 or zero, an image another process
 * holds (an OFD lock: exclusive for read-write, shared for read-only), no permission. */
__attribute__((warn_unused_result))
int block_open(struct block_dev **out, struct event_loop *loop, const struct block_options *o,
	       struct error *err);
/* Waits for in-flight requests (running the loop), flushes if writable, closes. */
void block_close(struct block_dev *b);

uint64_t block_size(const struct block_dev *b); /* bytes */
bool block_readonly(const struct block_dev *b);
bool block_can_discard(const struct block_dev *b);
bool block_direct(const struct block_dev *b); /* O_DIRECT in effect (cache=none honoured) */
unsigned block_inflight(const struct block_dev *b);
const char *block_path(const struct block_dev *b);

/* Loop thread only. 0: done() will be called. -EROFS (write to a read-only disk), -EINVAL (range
 * not sector aligned or beyond the end, bad iovecs or pattern, unknown type), -ENOMEM: done() is
 * not called. When the submission queue is full the request waits in the backend's own queue (no
 * -EBUSY), so any number may be in flight. FLUSH ignores offset and length. */
__attribute__((warn_unused_result))
int block_submit(struct block_dev *b, struct block_request *req);

#endif
