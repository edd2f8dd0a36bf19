/* Block backend on io_uring (see block.h): raw images and block devices; READV/WRITEV, FSYNC and
 * FALLOCATE operations (io_uring_enter(2), fallocate(2)), O_DIRECT per statx(2) STATX_DIOALIGN. */
#include "backend/block.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "log.h"

#define TAG "block"
#define BOUNCE_ALIGN 4096u
#define FILL_CHUNK (1u << 20) /* WRITE_SAME and zero-writing: bytes of pattern per write */

struct block_dev {
	struct event_loop *loop;
	char *path;
	int fd;
	uint64_t size;
	bool readonly;
	bool direct;      /* O_DIRECT in effect */
	bool can_discard; /* punch-hole works, or is assumed to until it fails */
	bool zero_range;  /* FALLOC_FL_ZERO_RANGE has not failed with EOPNOTSUPP */
	uint32_t mem_align; /* O_DIRECT: iovec base alignment */
	uint32_t len_align; /* O_DIRECT: iovec length alignment (divides 512) */
	unsigned inflight;
	/* Requests that found no SQE; a posted kick issues them again. Non-empty => kick_posted. */
	struct block_request *wait_head, *wait_tail;
	bool kick_posted;
};

/* Ordered: a WRITE_ZEROES request moves forward through ZERO_RANGE, PUNCH and FILL. */
enum block_step {
	STEP_NOP,        /* nothing to transfer (length 0): complete through the loop */
	STEP_RW,         /* READV/WRITEV on the caller's iovecs */
	STEP_RW_BOUNCE,  /* READV/WRITEV on the bounce buffer, from progress on */
	STEP_FSYNC,
	STEP_ZERO_RANGE,
	STEP_PUNCH,      /* DISCARD, or WRITE_ZEROES without zero-range */
	STEP_FILL,       /* WRITE_SAME or zero-writing: the bounce holds fill_chunk() bytes of pattern */
};

/* ---- opening ---- */

static int check_type(const char *path, const struct stat *st, struct error *err)
{
	if (S_ISREG(st->st_mode) || S_ISBLK(st->st_mode))
		return 0;
	if (S_ISDIR(st->st_mode))
		return error_set(err, EISDIR, "%s: is a directory", path);
	return error_set(err, EINVAL, "%s: not a regular file or block device", path);
}

static int open_error(const char *path, int e, struct error *err)
{
	if (e == ENOENT)
		return error_set(err, ENOENT, "%s: no such file", path);
	if (e == EACCES || e == EPERM)
		return error_set(err, EACCES, "%s: permission denied", path);
	if (e == EROFS)
		return error_set(err, EROFS, "%s: on a read-only file system", path);
	return error_set(err, e, "%s: %s", path, strerror(e));
}

/* O_NONBLOCK only for the open itself (a path swapped for a FIFO must not hang us); io_uring
 * would return -EAGAIN for reads of a non-blocking file instead of waiting for them. */
static int open_fd(struct block_dev *b, const struct block_options *o, struct error *err)
{
	int flags = (o->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	int fl;

	b->direct = o->cache == BLOCK_CACHE_NONE;
	b->fd = open(o->path, flags | (b->direct ? O_DIRECT : 0));
	if (b->fd < 0 && b->direct && errno == EINVAL) {
		log_debug(TAG, "%s: the file system refuses O_DIRECT: using the page cache", o->path);
		b->direct = false;
		b->fd = open(o->path, flags);
	}
	if (b->fd < 0)
		return open_error(o->path, errno, err);
	fl = fcntl(b->fd, F_GETFL);
	if (fl < 0 || fcntl(b->fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return error_set(err, errno, "%s: fcntl: %s", o->path, strerror(errno));
	return 0;
}

static int read_size(struct block_dev *b, const struct stat *st, struct error *err)
{
	if (S_ISBLK(st->st_mode)) {
		if (ioctl(b->fd, BLKGETSIZE64, &b->size) < 0)
			return error_set(err, errno, "%s: BLKGETSIZE64: %s", b->path, strerror(errno));
	} else {
		b->size = (uint64_t)st->st_size;
	}
	if (b->size == 0)
		return error_set(err, EINVAL, "%s: size 0 (an empty image)", b->path);
	if (b->size % BLOCK_SECTOR_SIZE)
		return error_set(err, EINVAL, "%s: size %llu is not a multiple of %u", b->path,
				 (unsigned long long)b->size, BLOCK_SECTOR_SIZE);
	return 0;
}

/* An OFD lock on the whole image (QEMU's rule): exclusive for read-write, shared for read-only.
 * A file system without locks (ENOLCK, EOPNOTSUPP) is used unlocked, with a warning. */
static int lock_image(struct block_dev *b, struct error *err)
{
	struct flock fl = {
		.l_type = b->readonly ? F_RDLCK : F_WRLCK,
		.l_whence = SEEK_SET,
	};

	if (fcntl(b->fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		return error_set(err, EBUSY, "%s: in use by another process (locked)", b->path);
	if (errno == ENOLCK || errno == EOPNOTSUPP) {
		log_warn(TAG, "%s: the file system does not lock files: used unlocked", b->path);
		return 0;
	}
	return error_set(err, errno, "%s: cannot lock: %s", b->path, strerror(errno));
}

/* Alignment O_DIRECT needs: statx's answer, else the device's logical block size, else 512.
 * Beyond 512 the guest's sector requests could not be served directly: the page cache it is. */
static int setup_direct(struct block_dev *b, const struct stat *st, struct error *err)
{
	uint32_t mem = BLOCK_SECTOR_SIZE, off = BLOCK_SECTOR_SIZE;
	struct statx sx;
	int lbs, fl;

	if (!b->direct)
		return 0;
	if (statx(b->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
	    (sx.stx_mask & STATX_DIOALIGN)) {
		off = sx.stx_dio_offset_align; /* 0: no direct I/O for this file */
		mem = sx.stx_dio_mem_align ? sx.stx_dio_mem_align : 1;
	} else if (S_ISBLK(st->st_mode) && ioctl(b->fd, BLKSSZGET, &lbs) == 0 && lbs > 0) {
		mem = off = (uint32_t)lbs;
	}
	if (off && off <= BLOCK_SECTOR_SIZE && BLOCK_SECTOR_SIZE % off == 0) {
		b->mem_align = mem;
		b->len_align = off;
		return 0;
	}
	if (off)
		log_info(TAG, "%s: direct I/O needs %u-byte alignment, the guest uses 512: using the page cache",
			 b->path, off);
	else
		log_info(TAG, "%s: no direct I/O for this file: using the page cache", b->path);
	fl = fcntl(b->fd, F_GETFL);
	if (fl < 0 || fcntl(b->fd, F_SETFL, fl & ~O_DIRECT) < 0)
		return error_set(err, errno, "%s: fcntl: %s", b->path, strerror(errno));
	b->direct = false;
	return 0;
}

/* Block devices punch holes with write-zeroes commands (no fallback): ask sysfs whether the
 * queue has them. Unknown (no sysfs, a partition's layout) counts as yes. */
static bool blockdev_punches(dev_t rdev)
{
	static const char *const where[] = { "queue", "../queue" };
	unsigned long long max;
	char path[128];

	for (unsigned i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		FILE *f;
		int n;

		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s/write_zeroes_max_bytes",
			 major(rdev), minor(rdev), where[i]);
		f = fopen(path, "re");
		if (!f)
			continue;
		n = fscanf(f, "%llu", &max);
		fclose(f);
		if (n == 1)
			return max > 0;
	}
	return true;
}

/* Regular files: punching past the end with KEEP_SIZE changes nothing and tells whether the file
 * system can punch at all. Other failures (EFBIG near the size limit): assume, report at use. */
static bool probe_discard(const struct block_dev *b, const struct stat *st)
{
	if (b->readonly)
		return false;
	if (S_ISBLK(st->st_mode))
		return blockdev_punches(st->st_rdev);
	if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)b->size,
		      BLOCK_SECTOR_SIZE) == 0)
		return true;
	return errno != EOPNOTSUPP;
}

int block_open(struct block_dev **out, struct event_loop *loop, const struct block_options *o,
	       struct error *err)
{
	struct block_dev *b;
	struct stat st;
	int ret;

	*out = NULL;
	if (!o->path || !*o->path)
		return error_set(err, EINVAL, "disk: no image path given");
	if (stat(o->path, &st) < 0)
		return open_error(o->path, errno, err);
	ret = check_type(o->path, &st, err);
	if (ret < 0)
		return ret;
	b = calloc(1, sizeof(*b));
	if (!b)
		return error_set(err, ENOMEM, "%s: out of memory", o->path);
	b->fd = -1;
	b->loop = loop;
	b->readonly = o->readonly;
	b->zero_range = true;
	b->path = strdup(o->path);
	if (!b->path) {
		ret = error_set(err, ENOMEM, "%s: out of memory", o->path);
		goto err_free;
	}
	ret = open_fd(b, o, err);
	if (ret < 0)
		goto err_close;
	/* What was opened, not what the path named a moment ago. */
	if (fstat(b->fd, &st) < 0) {
		ret = error_set(err, errno, "%s: fstat: %s", b->path, strerror(errno));
		goto err_close;
	}
	ret = check_type(b->path, &st, err);
	if (ret < 0)
		goto err_close;
	ret = read_size(b, &st, err);
	if (ret < 0)
		goto err_close;
	ret = lock_image(b, err);
	if (ret < 0)
		goto err_close;
	ret = setup_direct(b, &st, err);
	if (ret < 0)
		goto err_close;
	b->can_discard = probe_discard(b, &st);
	log_debug(TAG, "%s: %llu bytes, %s, %s%s", b->path, (unsigned long long)b->size,
		  b->readonly ? "read-only" : "read-write", b->direct ? "O_DIRECT" : "page cache",
		  b->can_discard ? ", discard" : "");
	*out = b;
	return 0;
err_close:
	if (b->fd >= 0)
		close(b->fd); /* drops the OFD lock too */
err_free:
	free(b->path);
	free(b);
	return ret;
}

/* ---- requests ---- */

static uint64_t fill_unit(const struct block_request *req)
{
	return req->type == BLOCK_WRITE_SAME ? req->pattern_len : BLOCK_SECTOR_SIZE;
}

/* Bytes of repeated pattern in the bounce buffer: whole patterns, at most FILL_CHUNK. */
static uint64_t fill_chunk(const struct block_request *req)
{
	uint64_t unit = fill_unit(req), chunk = FILL_CHUNK / unit * unit;

	return chunk < req->length ? chunk : req->length;
}

static int bounce_alloc(struct block_request *req, uint64_t size)
{
	size_t align = BOUNCE_ALIGN;

	if (req->dev->mem_align > align)
		align = req->dev->mem_align;
	if (size > SIZE_MAX || posix_memalign(&req->bounce, align, (size_t)size) != 0) {
		req->bounce = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* READ/WRITE through the bounce buffer: it mirrors the whole request, so the caller's first n
 * bytes (all of a write; what a read got before a short transfer) are copied in. */
static int bounce_prepare(struct block_request *req, uint64_t n)
{
	uint64_t done = 0;
	int ret = bounce_alloc(req, req->length);

	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < req->iovcnt && done < n; i++) {
		size_t len = req->iov[i].iov_len;

		if (len > n - done)
			len = (size_t)(n - done);
		memcpy((char *)req->bounce + done, req->iov[i].iov_base, len);
		done += len;
	}
	return 0;
}

static void bounce_copy_out(struct block_request *req)
{
	uint64_t done = 0;

	for (unsigned i = 0; i < req->iovcnt; i++) {
		memcpy(req->iov[i].iov_base, (char *)req->bounce + done, req->iov[i].iov_len);
		done += req->iov[i].iov_len;
	}
}

static int fill_prepare(struct block_request *req)
{
	uint64_t chunk = fill_chunk(req);
	int ret = bounce_alloc(req, chunk);

	if (ret < 0)
		return ret;
	if (req->type != BLOCK_WRITE_SAME) {
		memset(req->bounce, 0, (size_t)chunk);
		return 0;
	}
	for (uint64_t off = 0; off < chunk; off += req->pattern_len)
		memcpy((char *)req->bounce + off, req->pattern, req->pattern_len);
	return 0;
}

/* WRITE_ZEROES: the first way to zero after `after` that has not failed on this device. */
static int zeroes_next(struct block_request *req, enum block_step after)
{
	if (after < STEP_ZERO_RANGE && req->dev->zero_range) {
		req->step = STEP_ZERO_RANGE;
		return 0;
	}
	if (after < STEP_PUNCH && req->dev->can_discard) {
		req->step = STEP_PUNCH;
		return 0;
	}
	req->step = STEP_FILL;
	return fill_prepare(req);
}

/* O_DIRECT takes the caller's iovecs only if every base and length is aligned; readv/writev
 * take at most IOV_MAX of them. Otherwise the bounce buffer. */
static bool needs_bounce(const struct block_dev *b, const struct block_request *req)
{
	if (req->iovcnt > IOV_MAX)
		return true;
	if (!b->direct)
		return false;
	for (unsigned i = 0; i < req->iovcnt; i++) {
		if ((uintptr_t)req->iov[i].iov_base % b->mem_align ||
		    req->iov[i].iov_len % b->len_align)
			return true;
	}
	return false;
}

/* Preps the SQE for the request's current step; -EBUSY when the submission queue is full. */
static int issue(struct block_request *req)
{
	struct block_dev *b = req->dev;
	struct io_uring_sqe *sqe = event_loop_get_sqe(b->loop, &req->op);
	uint64_t pos = req->offset + req->progress;
	int wflags = req->fua ? RWF_DSYNC : 0;
	const struct iovec *iov = &req->bounce_iov;
	unsigned iovcnt = 1;

	if (!sqe)
		return -EBUSY;
	switch ((enum block_step)req->step) {
	case STEP_NOP:
		io_uring_prep_nop(sqe);
		return 0;
	case STEP_FSYNC:
		io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
		return 0;
	case STEP_ZERO_RANGE:
		io_uring_prep_fallocate(sqe, b->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
					(off_t)req->offset, (off_t)req->length);
		return 0;
	case STEP_PUNCH:
		io_uring_prep_fallocate(sqe, b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)req->offset, (off_t)req->length);
		return 0;
	case STEP_RW:
		iov = req->iov;
		iovcnt = req->iovcnt;
		break;
	case STEP_RW_BOUNCE:
		req->bounce_iov.iov_base = (char *)req->bounce + req->progress;
		req->bounce_iov.iov_len = (size_t)(req->length - req->progress);
		break;
	case STEP_FILL: {
		/* After a short write the next one resumes mid-pattern. */
		uint64_t skip = req->progress % fill_unit(req), n = fill_chunk(req) - skip;

		if (n > req->length - req->progress)
			n = req->length - req->progress;
		req->bounce_iov.iov_base = (char *)req->bounce + skip;
		req->bounce_iov.iov_len = (size_t)n;
		wflags = 0;
		break;
	}
	}
	if (req->type == BLOCK_READ)
		io_uring_prep_readv(sqe, b->fd, iov, iovcnt, pos);
	else
		io_uring_prep_writev2(sqe, b->fd, iov, iovcnt, pos, wflags);
	return 0;
}

static void finish(struct block_request *req, int res)
{
	free(req->bounce);
	req->bounce = NULL;
	req->dev->inflight--;
	req->done(req, res);
}

static void kick(void *arg);

/* No SQE now: queue the request and have the loop try again. -ENOMEM if that cannot be posted. */
static int wait_for_sqe(struct block_request *req)
{
	struct block_dev *b = req->dev;

	if (!b->kick_posted) {
		if (event_loop_post(b->loop, kick, b) < 0)
			return -ENOMEM;
		b->kick_posted = true;
	}
	req->next = NULL;
	if (b->wait_tail)
		b->wait_tail->next = req;
	else
		b->wait_head = req;
	b->wait_tail = req;
	return 0;
}

/* From a completion (or the kick): issue the next step, however it can be done. */
static void reissue(struct block_request *req)
{
	if (issue(req) < 0 && wait_for_sqe(req) < 0)
		finish(req, -ENOMEM);
}

static void kick(void *arg)
{
	struct block_dev *b = arg;
	struct block_request *req = b->wait_head;

	b->kick_posted = false;
	b->wait_head = b->wait_tail = NULL;
	while (req) {
		struct block_request *next = req->next;

		req->next = NULL;
		reissue(req);
		req = next;
	}
}

/* A READV/WRITEV completion: short transfers go on from where they stopped. */
static void transfer_done(struct block_request *req, int res)
{
	if (res < 0) {
		finish(req, res);
		return;
	}
	if (res == 0) { /* the end of the file came early (the image shrank), or no progress */
		finish(req, -EIO);
		return;
	}
	req->progress += (unsigned)res;
	if (req->progress >= req->length) {
		if (req->type == BLOCK_READ && req->bounce)
			bounce_copy_out(req);
		finish(req, 0);
		return;
	}
	/* The remainder goes through the bounce buffer: the caller's iovecs are never edited. */
	if (req->step == STEP_RW) {
		if (bounce_prepare(req, req->type == BLOCK_READ ? req->progress : req->length) < 0) {
			finish(req, -ENOMEM);
			return;
		}
		req->step = STEP_RW_BOUNCE;
	}
	reissue(req);
}

/* The file system lacks a fallocate mode: remember it; WRITE_ZEROES goes on with its next way
 * of zeroing. True when the request has been taken care of. */
static bool fallocate_unsupported(struct block_request *req)
{
	struct block_dev *b = req->dev;

	if (req->step == STEP_ZERO_RANGE) {
		b->zero_range = false;
	} else if (b->can_discard) {
		log_info(TAG, "%s: the file system cannot punch holes: no discard", b->path);
		b->can_discard = false;
	}
	if (req->type != BLOCK_WRITE_ZEROES)
		return false;
	if (zeroes_next(req, (enum block_step)req->step) < 0)
		finish(req, -ENOMEM);
	else
		reissue(req);
	return true;
}

static void request_complete(struct event_op *op, int res)
{
	struct block_request *req =
		(struct block_request *)((char *)op - offsetof(struct block_request, op));

	if (res == -EAGAIN || res == -EINTR) {
		reissue(req);
		return;
	}
	switch ((enum block_step)req->step) {
	case STEP_RW:
	case STEP_RW_BOUNCE:
	case STEP_FILL:
		transfer_done(req, res);
		return;
	case STEP_ZERO_RANGE:
	case STEP_PUNCH:
		if (res == -EOPNOTSUPP && fallocate_unsupported(req))
			return;
		break;
	case STEP_NOP:
	case STEP_FSYNC:
		break;
	}
	finish(req, res < 0 ? res : 0);
}

static bool is_write(enum block_op_type t)
{
	return t == BLOCK_WRITE || t == BLOCK_DISCARD || t == BLOCK_WRITE_ZEROES || t == BLOCK_WRITE_SAME;
}

static int validate(const struct block_dev *b, const struct block_request *req)
{
	uint64_t total = 0;

	switch (req->type) {
	case BLOCK_READ:
	case BLOCK_WRITE:
	case BLOCK_FLUSH:
	case BLOCK_DISCARD:
	case BLOCK_WRITE_ZEROES:
	case BLOCK_WRITE_SAME:
		break;
	default:
		return -EINVAL;
	}
	if (!req->done)
		return -EINVAL;
	if (b->readonly && is_write(req->type))
		return -EROFS;
	if (req->type == BLOCK_FLUSH)
		return 0;
	if (req->offset % BLOCK_SECTOR_SIZE || req->length % BLOCK_SECTOR_SIZE ||
	    req->offset > b->size || req->length > b->size - req->offset)
		return -EINVAL;
	if (req->type == BLOCK_WRITE_SAME)
		return req->pattern && req->pattern_len && req->pattern_len % BLOCK_SECTOR_SIZE == 0 &&
		       req->pattern_len <= FILL_CHUNK && req->length % req->pattern_len == 0 ?
			       0 : -EINVAL;
	if (req->type != BLOCK_READ && req->type != BLOCK_WRITE)
		return 0;
	if (req->iovcnt && !req->iov)
		return -EINVAL;
	for (unsigned i = 0; i < req->iovcnt; i++) {
		if (req->iov[i].iov_len > req->length - total ||
		    (req->iov[i].iov_len && !req->iov[i].iov_base))
			return -EINVAL;
		total += req->iov[i].iov_len;
	}
	return total == req->length ? 0 : -EINVAL;
}

/* The first step, and its bounce buffer if it needs one. */
static int plan(struct block_dev *b, struct block_request *req)
{
	if (req->type == BLOCK_FLUSH) {
		req->step = STEP_FSYNC;
		return 0;
	}
	if (req->length == 0) {
		req->step = STEP_NOP;
		return 0;
	}
	switch (req->type) {
	case BLOCK_READ:
	case BLOCK_WRITE:
		if (!needs_bounce(b, req)) {
			req->step = STEP_RW;
			return 0;
		}
		req->step = STEP_RW_BOUNCE;
		return bounce_prepare(req, req->type == BLOCK_WRITE ? req->length : 0);
	case BLOCK_DISCARD:
		req->step = STEP_PUNCH;
		return 0;
	case BLOCK_WRITE_ZEROES:
		return zeroes_next(req, STEP_NOP);
	case BLOCK_WRITE_SAME:
		req->step = STEP_FILL;
		return fill_prepare(req);
	case BLOCK_FLUSH:
		break;
	}
	return -EINVAL;
}

int block_submit(struct block_dev *b, struct block_request *req)
{
	int ret = validate(b, req);

	if (ret < 0)
		return ret;
	req->dev = b;
	req->op.complete = request_complete;
	req->progress = 0;
	req->bounce = NULL;
	req->next = NULL;
	ret = plan(b, req);
	if (ret == 0 && issue(req) < 0)
		ret = wait_for_sqe(req);
	if (ret < 0) {
		free(req->bounce);
		req->bounce = NULL;
		return ret;
	}
	b->inflight++;
	return 0;
}

/* ---- closing and accessors ---- */

static bool drained(void *arg)
{
	const struct block_dev *b = arg;

	return b->inflight == 0 && !b->kick_posted;
}

void block_close(struct block_dev *b)
{
	struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };
	int ret;

	if (!b)
		return;
	ret = event_loop_run_until(b->loop, drained, b);
	if (ret < 0) {
		/* Completions may still name this device: leave it allocated. */
		log_error(TAG, "%s: event loop failed while draining (%s): %u requests lost",
			  b->path, strerror(-ret), b->inflight);
		return;
	}
	if (!b->readonly && fdatasync(b->fd) < 0)
		log_error(TAG, "%s: fdatasync: %s", b->path, strerror(errno));
	if (fcntl(b->fd, F_OFD_SETLK, &fl) < 0 && errno != ENOLCK && errno != EOPNOTSUPP)
		log_warn(TAG, "%s: unlock: %s", b->path, strerror(errno));
	close(b->fd);
	free(b->path);
	free(b);
}

uint64_t block_size(const struct block_dev *b)
{
	return b->size;
}

bool block_readonly(const struct block_dev *b)
{
	return b->readonly;
}

bool block_can_discard(const struct block_dev *b)
{
	return b->can_discard;
}

bool block_direct(const struct block_dev *b)
{
	return b->direct;
}

unsigned block_inflight(const struct block_dev *b)
{
	return b->inflight;
}

const char *block_path(const struct block_dev *b)
{
	return b->path;
}
