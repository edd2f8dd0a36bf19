/* Unit tests for the block backend (block.h) on real files and a real io_uring event loop: open
 * errors and OFD locking, read-only refusal, round trips through aligned, unaligned and more than
 * IOV_MAX iovecs with O_DIRECT and with the page cache, FUA, flush, discard, write-zeroes,
 * write-same, refused requests, short reads, many requests in flight, close draining. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/block.h"
#include "unit.h"

#define MANY 1000 /* requests in flight at once: more than the loop's 256 SQEs */

struct env {
	char dir[64];
	struct event_loop loop;
	unsigned calls;          /* done() calls, all requests */
	unsigned calls_in_submit; /* done() calls made from inside block_submit: must stay 0 */
	bool in_submit;
};

struct treq {
	struct block_request req;
	unsigned calls;
	int res;
};

static void on_done(struct block_request *req, int res)
{
	struct treq *r = (struct treq *)((char *)req - offsetof(struct treq, req));
	struct env *e = req->opaque;

	r->calls++;
	r->res = res;
	e->calls++;
	if (e->in_submit)
		e->calls_in_submit++;
}

static void req_init(struct treq *r, struct env *e, enum block_op_type type, uint64_t offset,
		     uint64_t length, struct iovec *iov, unsigned iovcnt)
{
	memset(r, 0, sizeof(*r));
	r->req.type = type;
	r->req.offset = offset;
	r->req.length = length;
	r->req.iov = iov;
	r->req.iovcnt = iovcnt;
	r->req.done = on_done;
	r->req.opaque = e;
	r->res = 1; /* not yet */
}

static int submit(struct env *e, struct block_dev *b, struct treq *r)
{
	int ret;

	e->in_submit = true;
	ret = block_submit(b, &r->req);
	e->in_submit = false;
	return ret;
}

struct wait_arg {
	struct env *e;
	unsigned target;
};

static bool reached(void *arg)
{
	struct wait_arg *w = arg;

	return w->e->calls >= w->target;
}

static void wait_calls(struct env *e, unsigned target)
{
	struct wait_arg w = { e, target };

	CHECK_EQ(event_loop_run_until(&e->loop, reached, &w), 0);
}

/* Submits and waits; the submit error if refused, else done()'s result. */
static int run_req(struct env *e, struct block_dev *b, struct treq *r)
{
	unsigned before = e->calls;
	int ret = submit(e, b, r);

	if (ret < 0)
		return ret;
	CHECK_EQ(r->calls, 0);
	wait_calls(e, before + 1);
	CHECK_EQ(r->calls, 1);
	CHECK_EQ(e->calls_in_submit, 0);
	return r->res;
}

static int run_op(struct env *e, struct block_dev *b, enum block_op_type type, uint64_t offset,
		  uint64_t length, struct iovec *iov, unsigned iovcnt, bool fua)
{
	struct treq r;

	req_init(&r, e, type, offset, length, iov, iovcnt);
	r.req.fua = fua;
	return run_req(e, b, &r);
}

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 31 + (i >> 9) + 1);
}

static void path_of(const struct env *e, const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", e->dir, name);
}

/* A file of `size` bytes, filled with fill(seed) (seed < 0: left sparse). */
static void make_file(const char *path, size_t size, int seed)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	uint8_t *buf = malloc(size ? size : 1);

	CHECK(fd >= 0 && buf);
	if (fd < 0 || !buf)
		goto out;
	CHECK_EQ(ftruncate(fd, (off_t)size), 0);
	if (seed >= 0) {
		fill(buf, size, (unsigned)seed);
		CHECK_EQ(pwrite(fd, buf, size, 0), (long long)size);
	}
out:
	free(buf);
	if (fd >= 0)
		close(fd);
}

static void read_file(const char *path, void *buf, size_t len, off_t off)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ(pread(fd, buf, len, off), (long long)len);
	close(fd);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static struct block_dev *open_ok(struct env *e, const char *path, bool readonly,
				 enum block_cache cache)
{
	struct block_options o = { .path = path, .readonly = readonly, .cache = cache };
	struct block_dev *b = NULL;
	struct error err = { "" };
	int ret = block_open(&b, &e->loop, &o, &err);

	CHECK_EQ(ret, 0);
	if (ret < 0)
		fprintf(stderr, "block_open: %s\n", err.msg);
	return b;
}

/* Opens that must fail: the return code and the exact message. */
static void expect_open_error(struct env *e, const char *path, bool readonly, int code,
			      const char *suffix)
{
	struct block_options o = { .path = path, .readonly = readonly };
	struct block_dev *b = (struct block_dev *)1;
	struct error err = { "" };
	char want[600];

	snprintf(want, sizeof(want), "%s: %s", path, suffix);
	CHECK_EQ(block_open(&b, &e->loop, &o, &err), -code);
	CHECK(b == NULL);
	CHECK(strcmp(err.msg, want) == 0);
	if (strcmp(err.msg, want))
		fprintf(stderr, "  got \"%s\", want \"%s\"\n", err.msg, want);
}

/* As another user (root drops to nobody in a child), a 0600 root image is refused. */
static void test_permission(struct env *e)
{
	char path[128], msg[600] = "";
	struct block_options o = { .path = path };
	struct error err = { "" };
	struct block_dev *b = NULL;
	int fds[2], ret = 0, status = 0;
	pid_t pid;

	path_of(e, "private.img", path, sizeof(path));
	make_file(path, 4096, 1);
	CHECK_EQ(chmod(path, 0600), 0);
	if (geteuid() != 0) {
		CHECK_EQ(chmod(path, 0), 0);
		expect_open_error(e, path, false, EACCES, "permission denied");
		return;
	}
	CHECK_EQ(chmod(e->dir, 0755), 0);
	CHECK_EQ(pipe(fds), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		if (setgid(65534) || setuid(65534))
			_exit(2);
		ret = block_open(&b, &e->loop, &o, &err);
		if (write(fds[1], &ret, sizeof(ret)) != sizeof(ret) ||
		    write(fds[1], err.msg, sizeof(err.msg)) != sizeof(err.msg))
			_exit(3);
		_exit(0);
	}
	close(fds[1]);
	CHECK_EQ(read(fds[0], &ret, sizeof(ret)), sizeof(ret));
	CHECK_EQ(read(fds[0], msg, sizeof(err.msg)), sizeof(err.msg));
	close(fds[0]);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(ret, -EACCES);
	snprintf(err.msg, sizeof(err.msg), "%s: permission denied", path);
	CHECK(strcmp(msg, err.msg) == 0);
}

static void test_open_errors(struct env *e)
{
	struct block_options o = { .path = "" };
	struct block_dev *a, *b = NULL;
	struct error err;
	char path[128];

	CHECK_EQ(block_open(&b, &e->loop, &o, &err), -EINVAL);
	path_of(e, "missing.img", path, sizeof(path));
	expect_open_error(e, path, false, ENOENT, "no such file");
	expect_open_error(e, e->dir, false, EISDIR, "is a directory");
	expect_open_error(e, "/dev/null", true, EINVAL, "not a regular file or block device");
	path_of(e, "fifo", path, sizeof(path));
	CHECK_EQ(mkfifo(path, 0600), 0);
	expect_open_error(e, path, false, EINVAL, "not a regular file or block device");
	path_of(e, "odd.img", path, sizeof(path));
	make_file(path, 1000, 1);
	expect_open_error(e, path, false, EINVAL, "size 1000 is not a multiple of 512");
	path_of(e, "empty.img", path, sizeof(path));
	make_file(path, 0, -1);
	expect_open_error(e, path, true, EINVAL, "size 0 (an empty image)");
	test_permission(e);

	/* Locks: one writer, or any number of readers. */
	path_of(e, "shared.img", path, sizeof(path));
	make_file(path, 8192, 2);
	a = open_ok(e, path, false, BLOCK_CACHE_WRITEBACK);
	expect_open_error(e, path, false, EBUSY, "in use by another process (locked)");
	expect_open_error(e, path, true, EBUSY, "in use by another process (locked)");
	block_close(a);
	a = open_ok(e, path, true, BLOCK_CACHE_NONE);
	b = open_ok(e, path, true, BLOCK_CACHE_WRITEBACK);
	expect_open_error(e, path, false, EBUSY, "in use by another process (locked)");
	CHECK(a && block_readonly(a) && block_size(a) == 8192);
	CHECK(a && strcmp(block_path(a), path) == 0);
	block_close(a);
	block_close(b);
	b = open_ok(e, path, false, BLOCK_CACHE_WRITEBACK); /* both locks went with close */
	CHECK(b && !block_readonly(b));
	block_close(b);
}

static void test_readonly(struct env *e)
{
	static const uint8_t pattern[512];
	char path[128];
	uint8_t want[4096], got[4096];
	struct iovec iov = { got, sizeof(got) };
	struct block_dev *b;
	struct treq r;
	static const enum block_op_type writes[] = { BLOCK_WRITE, BLOCK_DISCARD, BLOCK_WRITE_ZEROES,
						     BLOCK_WRITE_SAME };

	path_of(e, "ro.img", path, sizeof(path));
	make_file(path, 16384, 3);
	b = open_ok(e, path, true, BLOCK_CACHE_WRITEBACK);
	if (!b)
		return;
	CHECK(block_readonly(b));
	CHECK(!block_can_discard(b));
	for (unsigned i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
		req_init(&r, e, writes[i], 0, sizeof(got), &iov, 1);
		r.req.pattern = pattern;
		r.req.pattern_len = sizeof(pattern);
		CHECK_EQ(submit(e, b, &r), -EROFS);
		CHECK_EQ(r.calls, 0);
	}
	CHECK_EQ(block_inflight(b), 0);
	CHECK_EQ(run_op(e, b, BLOCK_READ, 4096, sizeof(got), &iov, 1, false), 0);
	read_file(path, want, sizeof(want), 4096);
	CHECK(memcmp(got, want, sizeof(got)) == 0);
	CHECK_EQ(run_op(e, b, BLOCK_FLUSH, 0, 0, NULL, 0, false), 0);
	block_close(b);
}

/* Writes `iov` at off, checks the file, reads back into `back` (same shape), checks it. */
static void round_trip(struct env *e, struct block_dev *b, const char *path, uint64_t off,
		       struct iovec *iov, struct iovec *back, unsigned n, unsigned seed, bool fua)
{
	size_t total = 0, done = 0;
	uint8_t *want, *file;

	for (unsigned i = 0; i < n; i++)
		total += iov[i].iov_len;
	want = malloc(total);
	file = malloc(total);
	if (!want || !file)
		goto out;
	fill(want, total, seed);
	for (unsigned i = 0; i < n; i++) {
		memcpy(iov[i].iov_base, want + done, iov[i].iov_len);
		memset(back[i].iov_base, 0xee, back[i].iov_len);
		done += iov[i].iov_len;
	}
	CHECK_EQ(run_op(e, b, BLOCK_WRITE, off, total, iov, n, fua), 0);
	read_file(path, file, total, (off_t)off);
	CHECK(memcmp(file, want, total) == 0);
	CHECK_EQ(run_op(e, b, BLOCK_READ, off, total, back, n, false), 0);
	done = 0;
	for (unsigned i = 0; i < n; i++) {
		CHECK(memcmp(back[i].iov_base, want + done, back[i].iov_len) == 0);
		done += back[i].iov_len;
	}
out:
	free(want);
	free(file);
}

static bool direct_possible(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static void test_io(struct env *e, enum block_cache cache)
{
	/* Scattered and unaligned: odd bases and lengths adding up to 4096. */
	static const size_t odd_lens[] = { 1, 511, 1000, 7, 2577 };
	enum { NODD = sizeof(odd_lens) / sizeof(odd_lens[0]), NMANY = IOV_MAX + 76 };
	char path[128];
	uint8_t *mem = NULL, *mem2 = NULL, zero[512];
	struct iovec iov[NMANY], back[NMANY];
	struct block_dev *b;
	size_t pos = 0;
	struct treq r;

	path_of(e, cache == BLOCK_CACHE_NONE ? "io-direct.img" : "io-cached.img", path, sizeof(path));
	make_file(path, 1u << 20, 4);
	b = open_ok(e, path, false, cache);
	if (!b)
		return;
	CHECK_EQ(block_direct(b), cache == BLOCK_CACHE_NONE && direct_possible(path));
	CHECK_EQ(block_size(b), 1u << 20);
	CHECK(posix_memalign((void **)&mem, 4096, 1u << 20) == 0);
	CHECK(posix_memalign((void **)&mem2, 4096, 1u << 20) == 0);
	if (!mem || !mem2)
		goto out;

	/* Aligned: the caller's buffers go straight to the kernel. */
	iov[0] = (struct iovec){ mem, 4096 };
	iov[1] = (struct iovec){ mem + 8192, 8192 };
	iov[2] = (struct iovec){ mem + 65536, 512 };
	back[0] = (struct iovec){ mem2, 4096 };
	back[1] = (struct iovec){ mem2 + 8192, 8192 };
	back[2] = (struct iovec){ mem2 + 65536, 512 };
	round_trip(e, b, path, 3 * 512, iov, back, 3, 10, false);

	/* Unaligned: through the bounce buffer (O_DIRECT would refuse them). */
	for (unsigned i = 0; i < NODD; i++) {
		iov[i] = (struct iovec){ mem + 1 + pos + 3 * i, odd_lens[i] };
		back[i] = (struct iovec){ mem2 + 5 + pos + 7 * i, odd_lens[i] };
		pos += odd_lens[i];
	}
	round_trip(e, b, path, 7 * 512, iov, back, NODD, 11, false);
	round_trip(e, b, path, 1024 * 1024 - 4096, iov, back, NODD, 12, true); /* FUA, last block */

	/* More iovecs than readv takes. */
	for (unsigned i = 0; i < NMANY; i++) {
		iov[i] = (struct iovec){ mem + (size_t)i * 512, 512 };
		back[i] = (struct iovec){ mem2 + (size_t)i * 512, 512 };
	}
	round_trip(e, b, path, 4096, iov, back, NMANY, 13, false);

	CHECK_EQ(run_op(e, b, BLOCK_FLUSH, 0, 0, NULL, 0, false), 0);
	/* FLUSH ignores the range, even a nonsensical one. */
	CHECK_EQ(run_op(e, b, BLOCK_FLUSH, 1, 3, NULL, 0, false), 0);
	/* Nothing to transfer: still completed through the loop, not inside block_submit. */
	CHECK_EQ(run_op(e, b, BLOCK_READ, 1u << 20, 0, NULL, 0, false), 0);
	req_init(&r, e, BLOCK_WRITE_ZEROES, 512, 0, NULL, 0);
	CHECK_EQ(run_req(e, b, &r), 0);
	memset(zero, 0, sizeof(zero));
	iov[0] = (struct iovec){ zero, 0 };
	CHECK_EQ(run_op(e, b, BLOCK_WRITE, 0, 0, iov, 1, false), 0);
	CHECK_EQ(block_inflight(b), 0);
out:
	block_close(b);
	free(mem);
	free(mem2);
}

static blkcnt_t blocks_of(const char *path)
{
	struct stat st;

	CHECK_EQ(stat(path, &st), 0);
	return st.st_blocks;
}

/* DISCARD and WRITE_ZEROES: zeros in the range, the neighbours untouched. */
static void test_zeroing(struct env *e, enum block_cache cache)
{
	enum { SIZE = 1u << 20, OFF = 128 * 1024, LEN = 256 * 1024 };
	uint8_t *want = malloc(SIZE), *got = malloc(SIZE);
	char path[128];
	struct block_dev *b;
	blkcnt_t before;

	path_of(e, cache == BLOCK_CACHE_NONE ? "zero-direct.img" : "zero-cached.img", path,
		sizeof(path));
	make_file(path, SIZE, 5);
	b = open_ok(e, path, false, cache);
	if (!b || !want || !got)
		goto out;
	CHECK(block_can_discard(b)); /* ext4 punches holes */
	read_file(path, want, SIZE, 0);
	before = blocks_of(path);
	CHECK_EQ(run_op(e, b, BLOCK_DISCARD, OFF, LEN, NULL, 0, false), 0);
	CHECK(blocks_of(path) < before); /* a hole, not written zeros */
	memset(want + OFF, 0, LEN);
	read_file(path, got, SIZE, 0);
	CHECK(memcmp(got, want, SIZE) == 0);

	CHECK_EQ(run_op(e, b, BLOCK_WRITE_ZEROES, 512 * 3, 512 * 5, NULL, 0, false), 0);
	CHECK_EQ(run_op(e, b, BLOCK_WRITE_ZEROES, SIZE - 4096, 4096, NULL, 0, false), 0);
	memset(want + 512 * 3, 0, 512 * 5);
	memset(want + SIZE - 4096, 0, 4096);
	read_file(path, got, SIZE, 0);
	CHECK(memcmp(got, want, SIZE) == 0);
	CHECK(all_zero(got + 512 * 3, 512 * 5));
	CHECK_EQ(block_inflight(b), 0);
out:
	block_close(b);
	free(want);
	free(got);
}

static void test_write_same(struct env *e, enum block_cache cache)
{
	enum { SIZE = 4u << 20, BIG = 3u << 20 }; /* BIG: three 1 MiB fill writes and more */
	uint8_t *want = malloc(SIZE), *got = malloc(SIZE), pat[1536];
	char path[128];
	struct block_dev *b;
	struct treq r;

	path_of(e, cache == BLOCK_CACHE_NONE ? "same-direct.img" : "same-cached.img", path,
		sizeof(path));
	make_file(path, SIZE, 6);
	b = open_ok(e, path, false, cache);
	if (!b || !want || !got)
		goto out;
	read_file(path, want, SIZE, 0);

	fill(pat, 512, 77);
	req_init(&r, e, BLOCK_WRITE_SAME, 8 * 512, 64 * 1024, NULL, 0);
	r.req.pattern = pat;
	r.req.pattern_len = 512;
	CHECK_EQ(run_req(e, b, &r), 0);
	for (unsigned i = 0; i < 128; i++)
		memcpy(want + 8 * 512 + i * 512, pat, 512);

	/* A 3-sector pattern over 3 MiB: 1 MiB is not a whole number of patterns. */
	fill(pat, sizeof(pat), 78);
	req_init(&r, e, BLOCK_WRITE_SAME, 1u << 20, BIG, NULL, 0);
	r.req.pattern = pat;
	r.req.pattern_len = sizeof(pat);
	CHECK_EQ(submit(e, b, &r), 0);
	memset(pat, 0, sizeof(pat)); /* the backend keeps its own copy */
	wait_calls(e, e->calls + 1);
	CHECK_EQ(r.res, 0);
	fill(pat, sizeof(pat), 78);
	for (unsigned i = 0; i < BIG / sizeof(pat); i++)
		memcpy(want + (1u << 20) + i * sizeof(pat), pat, sizeof(pat));

	read_file(path, got, SIZE, 0);
	CHECK(memcmp(got, want, SIZE) == 0);
out:
	block_close(b);
	free(want);
	free(got);
}

/* Refused before anything is queued: done() never called. */
static void test_refused(struct env *e)
{
	static uint8_t buf[4096], pat[2u << 20];
	struct iovec iov[2] = { { buf, 2048 }, { buf + 2048, 2048 } };
	struct iovec nullbase = { NULL, 4096 };
	char path[128];
	struct block_dev *b;
	struct treq r;
	const uint64_t size = 4u << 20;
	unsigned before = e->calls;

	path_of(e, "refuse.img", path, sizeof(path));
	make_file(path, size, 7);
	b = open_ok(e, path, false, BLOCK_CACHE_NONE);
	if (!b)
		return;
#define REFUSE(type_, off_, len_, iov_, n_)                                   \
	do {                                                                  \
		req_init(&r, e, type_, off_, len_, iov_, n_);                 \
		CHECK_EQ(submit(e, b, &r), -EINVAL);                          \
		CHECK_EQ(r.calls, 0);                                         \
	} while (0)
	REFUSE(BLOCK_READ, 1, 4096, iov, 2);                 /* offset not a sector multiple */
	REFUSE(BLOCK_READ, 0, 4095, iov, 2);                 /* length neither */
	REFUSE(BLOCK_WRITE, 100, 4096, iov, 2);
	REFUSE(BLOCK_READ, size - 2048, 4096, iov, 2);       /* over the end */
	REFUSE(BLOCK_READ, size + 512, 0, NULL, 0);          /* past the end */
	REFUSE(BLOCK_DISCARD, size, 512, NULL, 0);
	REFUSE(BLOCK_WRITE_ZEROES, UINT64_MAX - 511, 1024, NULL, 0); /* offset + length wraps */
	REFUSE(BLOCK_DISCARD, 512, UINT64_MAX - 511, NULL, 0);
	REFUSE(BLOCK_READ, 0, 4096, iov, 1);                 /* iovecs hold 2048, not 4096 */
	REFUSE(BLOCK_READ, 0, 2048, iov, 2);                 /* iovecs hold more than length */
	REFUSE(BLOCK_WRITE, 0, 4096, NULL, 2);               /* no iovec array */
	REFUSE(BLOCK_WRITE, 0, 4096, &nullbase, 1);          /* NULL base */
	REFUSE(BLOCK_READ, 0, 512, NULL, 0);                 /* no iovecs for 512 bytes */
	REFUSE((enum block_op_type)99, 0, 512, iov, 1);      /* unknown type */
	REFUSE(BLOCK_WRITE_SAME, 0, 4096, NULL, 0);          /* no pattern */
	req_init(&r, e, BLOCK_READ, 0, 4096, iov, 2);
	r.req.done = NULL;
	CHECK_EQ(submit(e, b, &r), -EINVAL);
	{
		/* Pattern lengths: none, not sectors, not dividing the length (3 sectors into 8),
		 * more than the 1 MiB fill buffer (over a range it divides). */
		static const uint32_t bad_len[] = { 0, 100, 1024 + 1, 3 * 512, (1u << 20) + 512 };
		for (unsigned i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
			req_init(&r, e, BLOCK_WRITE_SAME, 0, i == 4 ? 2 * (uint64_t)bad_len[i] : 4096,
				 NULL, 0);
			r.req.pattern = pat;
			r.req.pattern_len = bad_len[i];
			CHECK_EQ(submit(e, b, &r), -EINVAL);
			CHECK_EQ(r.calls, 0);
		}
	}
#undef REFUSE
	CHECK_EQ(block_inflight(b), 0);
	CHECK_EQ(e->calls, before);
	/* The same device still works, and the refused requests never show up. */
	CHECK_EQ(run_op(e, b, BLOCK_READ, size - 4096, 4096, iov, 2, false), 0);
	CHECK_EQ(e->calls, before + 1);
	block_close(b);
}

/* A read that meets an early end of file (the image shrank under us): the rest is read again
 * from where it stopped; an end that stays there is -EIO. */
struct regrow {
	struct env *e;
	const char *path;
	unsigned target, turns;
	off_t grow_to;  /* after the first turn, 0: never */
	bool grown;
};

static bool regrow_step(void *arg)
{
	struct regrow *g = arg;

	if (g->e->calls >= g->target)
		return true;
	if (g->turns++ == 1 && g->grow_to) {
		CHECK_EQ(truncate(g->path, g->grow_to), 0);
		g->grown = true;
	}
	return false;
}

static void test_short_read(struct env *e, enum block_cache cache)
{
	enum { SIZE = 64 * 1024 };
	static uint8_t want[SIZE], got[8192];
	struct iovec iov[2] = { { got, 4096 }, { got + 4096, 4096 } };
	char path[128];
	struct block_dev *b;
	struct treq r;
	struct regrow g = { .e = e, .path = path };

	path_of(e, cache == BLOCK_CACHE_NONE ? "short-direct.img" : "short-cached.img", path,
		sizeof(path));
	make_file(path, SIZE, 8);
	read_file(path, want, SIZE, 0);
	b = open_ok(e, path, false, cache);
	if (!b)
		return;
	CHECK_EQ(truncate(path, SIZE - 4096), 0);
	memset(got, 0xee, sizeof(got));
	req_init(&r, e, BLOCK_READ, SIZE - 8192, 8192, iov, 2);
	CHECK_EQ(submit(e, b, &r), 0);
	g.target = e->calls + 1;
	g.grow_to = SIZE;
	CHECK_EQ(event_loop_run_until(&e->loop, regrow_step, &g), 0);
	CHECK(g.grown);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(r.res, 0);
	CHECK(memcmp(got, want + SIZE - 8192, 4096) == 0); /* before the early end */
	CHECK(all_zero(got + 4096, 4096));                 /* the regrown tail */

	CHECK_EQ(truncate(path, SIZE - 4096), 0);
	CHECK_EQ(run_op(e, b, BLOCK_READ, SIZE - 8192, 8192, iov, 2, false), -EIO);
	CHECK_EQ(run_op(e, b, BLOCK_READ, SIZE - 4096, 4096, iov, 1, false), -EIO);
	CHECK_EQ(block_inflight(b), 0);
	block_close(b);
}

/* MANY writes queued at once (more than the ring's 256 SQEs), then MANY reads. */
static void test_many(struct env *e, enum block_cache cache)
{
	enum { BS = 4096 };
	struct treq *r = calloc(MANY, sizeof(*r));
	struct iovec *iov = calloc(MANY, sizeof(*iov));
	uint8_t *buf = NULL, *want = malloc(BS);
	char path[128];
	struct block_dev *b;
	unsigned before, ok = 0;

	path_of(e, cache == BLOCK_CACHE_NONE ? "many-direct.img" : "many-cached.img", path,
		sizeof(path));
	make_file(path, (size_t)MANY * BS, -1);
	b = open_ok(e, path, false, cache);
	CHECK(posix_memalign((void **)&buf, 4096, (size_t)MANY * BS) == 0);
	if (!b || !r || !iov || !buf || !want)
		goto out;
	before = e->calls;
	for (unsigned i = 0; i < MANY; i++) {
		iov[i] = (struct iovec){ buf + (size_t)i * BS, BS };
		fill(iov[i].iov_base, BS, i);
		/* Written in reverse order, every third one FUA. */
		req_init(&r[i], e, BLOCK_WRITE, (uint64_t)(MANY - 1 - i) * BS, BS, &iov[i], 1);
		r[i].req.fua = i % 3 == 0;
		ok += submit(e, b, &r[i]) == 0;
	}
	CHECK_EQ(ok, MANY);
	CHECK_EQ(block_inflight(b), MANY);
	CHECK_EQ(e->calls, before);
	wait_calls(e, before + MANY);
	ok = 0;
	for (unsigned i = 0; i < MANY; i++)
		ok += r[i].calls == 1 && r[i].res == 0;
	CHECK_EQ(ok, MANY);
	CHECK_EQ(block_inflight(b), 0);

	memset(buf, 0, (size_t)MANY * BS);
	before = e->calls;
	ok = 0;
	for (unsigned i = 0; i < MANY; i++) {
		req_init(&r[i], e, BLOCK_READ, (uint64_t)(MANY - 1 - i) * BS, BS, &iov[i], 1);
		ok += submit(e, b, &r[i]) == 0;
	}
	CHECK_EQ(ok, MANY);
	wait_calls(e, before + MANY);
	ok = 0;
	for (unsigned i = 0; i < MANY; i++) {
		fill(want, BS, i);
		ok += r[i].calls == 1 && r[i].res == 0 && memcmp(iov[i].iov_base, want, BS) == 0;
	}
	CHECK_EQ(ok, MANY);
	CHECK_EQ(e->calls_in_submit, 0);
out:
	block_close(b);
	free(buf);
	free(want);
	free(iov);
	free(r);
}

/* block_close with requests queued and the loop never run: it runs them to completion. */
static void test_close_drains(struct env *e)
{
	enum { N = 64, BS = 8192 };
	static uint8_t data[N][BS], file[BS];
	static struct treq r[N];
	struct iovec iov[N];
	char path[128];
	struct block_dev *b;
	unsigned before = e->calls, ok = 0;

	path_of(e, "drain.img", path, sizeof(path));
	make_file(path, (size_t)N * BS, -1);
	b = open_ok(e, path, false, BLOCK_CACHE_NONE);
	if (!b)
		return;
	for (unsigned i = 0; i < N; i++) {
		fill(data[i], BS, 100 + i);
		iov[i] = (struct iovec){ data[i], BS };
		req_init(&r[i], e, BLOCK_WRITE, (uint64_t)i * BS, BS, &iov[i], 1);
		CHECK_EQ(submit(e, b, &r[i]), 0);
	}
	CHECK_EQ(e->calls, before);
	block_close(b);
	CHECK_EQ(e->calls, before + N);
	for (unsigned i = 0; i < N; i++) {
		read_file(path, file, BS, (off_t)i * BS);
		ok += memcmp(file, data[i], BS) == 0;
	}
	CHECK_EQ(ok, N);
	b = open_ok(e, path, false, BLOCK_CACHE_NONE); /* the lock went with close */
	block_close(b);
}

/* No SQE to be had: a ring created disabled refuses every submission, so its 8 entries stay full.
 * The backend queues the rest itself (block_submit still says 0) and issues them when the ring
 * takes them again. */
static void test_sq_full(struct env *e)
{
	enum { N = 20, BS = 4096 };
	static uint8_t data[N][BS], file[BS];
	static struct treq r[N];
	struct iovec iov[N];
	struct event_loop loop;
	struct env e2;
	char path[128];
	struct block_dev *b = NULL;
	unsigned ok = 0;

	memset(&e2, 0, sizeof(e2));
	if (event_loop_init(&loop) < 0) {
		CHECK(0);
		return;
	}
	/* The same loop, on a small disabled ring; the wake watch moves with it. */
	io_uring_queue_exit(&loop.ring);
	if (io_uring_queue_init(8, &loop.ring, IORING_SETUP_R_DISABLED) < 0) {
		fprintf(stderr, "test_sq_full: no disabled rings here, skipped\n");
		CHECK_EQ(io_uring_queue_init(256, &loop.ring, 0), 0);
		goto out;
	}
	loop.wake_watch.armed = false;
	CHECK_EQ(event_loop_watch(&loop, &loop.wake_watch), 0);
	path_of(e, "sqfull.img", path, sizeof(path));
	make_file(path, (size_t)N * BS, -1);
	{
		struct block_options o = { .path = path, .cache = BLOCK_CACHE_WRITEBACK };
		struct error err;

		CHECK_EQ(block_open(&b, &loop, &o, &err), 0);
		if (!b)
			goto out;
	}
	for (unsigned i = 0; i < N; i++) {
		fill(data[i], BS, 200 + i);
		iov[i] = (struct iovec){ data[i], BS };
		req_init(&r[i], &e2, BLOCK_WRITE, (uint64_t)i * BS, BS, &iov[i], 1);
		ok += submit(&e2, b, &r[i]) == 0;
	}
	CHECK_EQ(ok, N);
	CHECK_EQ(io_uring_sq_ready(&loop.ring), 8); /* full, and nothing went to the kernel */
	CHECK_EQ(e2.calls, 0);
	/* Debian's liburing 2.3 lacks io_uring_enable_rings: the register call itself. */
	CHECK_EQ(io_uring_register((unsigned)loop.ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0), 0);
	{
		struct wait_arg w = { &e2, N };

		CHECK_EQ(event_loop_run_until(&loop, reached, &w), 0);
	}
	ok = 0;
	for (unsigned i = 0; i < N; i++) {
		read_file(path, file, BS, (off_t)i * BS);
		ok += r[i].calls == 1 && r[i].res == 0 && memcmp(file, data[i], BS) == 0;
	}
	CHECK_EQ(ok, N);
	CHECK_EQ(e2.calls_in_submit, 0);
out:
	block_close(b);
	event_loop_destroy(&loop);
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX];

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int main(void)
{
	static const enum block_cache modes[] = { BLOCK_CACHE_WRITEBACK, BLOCK_CACHE_NONE };
	struct env e;

	memset(&e, 0, sizeof(e));
	alarm(120); /* a hang is a failure */
	snprintf(e.dir, sizeof(e.dir), "/var/tmp/hvkvm-block-XXXXXX");
	if (!mkdtemp(e.dir) || event_loop_init(&e.loop) < 0) {
		perror("setup");
		return 77;
	}
	test_open_errors(&e);
	test_readonly(&e);
	test_refused(&e);
	for (unsigned m = 0; m < 2; m++) {
		test_io(&e, modes[m]);
		test_zeroing(&e, modes[m]);
		test_write_same(&e, modes[m]);
		test_short_read(&e, modes[m]);
		test_many(&e, modes[m]);
	}
	test_close_drains(&e);
	/* tmpfs, where the file system's O_DIRECT support differs (no STATX_DIOALIGN answer). */
	{
		char saved[sizeof(e.dir)];

		memcpy(saved, e.dir, sizeof(saved));
		snprintf(e.dir, sizeof(e.dir), "/dev/shm/hvkvm-block-XXXXXX");
		if (mkdtemp(e.dir)) {
			for (unsigned m = 0; m < 2; m++)
				test_io(&e, modes[m]);
			remove_dir(e.dir);
		}
		memcpy(e.dir, saved, sizeof(saved));
	}
	test_sq_full(&e);
	event_loop_destroy(&e.loop);
	remove_dir(e.dir);
	return unit_done("test_block");
}
