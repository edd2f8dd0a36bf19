/* The file copy (guest services) integration service: START_FILE_COPY, the file in
 * WRITE_TO_FILE fragments of DATA_FRAGMENT bytes, COMPLETE_FCOPY; CANCEL_FCOPY when a step fails
 * after the start (Linux drivers/hv/hv_fcopy.c relays each message to hv_fcopy_daemon and
 * answers with its status). The host file is read with pread on the loop thread, one fragment
 * per message: files copied this way are small, and the guest's answer paces the reads. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "synthetic/ic.h"

static const struct ic_version fw_versions[] = {{3, 0}};
static const struct ic_version msg_versions[] = {{1, 1}};

enum copy_step { STEP_IDLE, STEP_START, STEP_WRITE, STEP_COMPLETE };

struct ic_fcopy {
	struct ic_channel *ch;
	unsigned timeout_ms;
	/* The copy in progress (one per channel). */
	enum copy_step step;
	int fd;
	uint64_t size;
	uint64_t offset; /* of the fragment in flight */
	ic_done_fn *done;
	void *ctx;
	char name[64];   /* guest_name, shortened, for details */
};

static void step_answered(void *ctx, int err, const char *detail, const struct ic_response *rsp);

static void cancel_answered(void *ctx, int err, const char *detail, const struct ic_response *rsp)
{
	(void)ctx, (void)rsp;
	if (err)
		log_debug("ic", "file copy cancel: %s", detail);
}

/* Ends the copy; after a started copy failed, tells the daemon to drop the partial file. */
static void finish(struct ic_fcopy *fc, int err, const char *detail, bool cancel)
{
	ic_done_fn *done = fc->done;
	void *ctx = fc->ctx;

	if (cancel && ic_channel_usable(fc->ch) == 0) {
		struct hv_fcopy_hdr h = {.operation = CANCEL_FCOPY};

		if (ic_channel_request(fc->ch, ICMSGTYPE_FCOPY, &h, sizeof(h), fc->timeout_ms,
				       cancel_answered, fc) < 0)
			log_warn("ic", "file copy: cannot cancel in the guest");
	}
	close(fc->fd);
	fc->fd = -1;
	fc->step = STEP_IDLE;
	fc->done = NULL;
	done(ctx, err, detail);
}

static int send_step(struct ic_fcopy *fc, const void *msg, uint32_t len)
{
	return ic_channel_request(fc->ch, ICMSGTYPE_FCOPY, msg, len, fc->timeout_ms, step_answered,
				  fc);
}

/* The next fragment, or COMPLETE_FCOPY after the last. 0, or -errno with detail set. */
static int send_next(struct ic_fcopy *fc, char *detail, size_t size)
{
	struct hv_do_fcopy *m;
	size_t want;
	ssize_t got;
	int ret;

	if (fc->offset >= fc->size) {
		struct hv_fcopy_hdr h = {.operation = COMPLETE_FCOPY};

		fc->step = STEP_COMPLETE;
		ret = send_step(fc, &h, sizeof(h));
		if (ret)
			snprintf(detail, size, "file copy %s: %s", fc->name, strerror(-ret));
		return ret;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(detail, size, "out of memory");
		return -ENOMEM;
	}
	want = fc->size - fc->offset < DATA_FRAGMENT ? (size_t)(fc->size - fc->offset)
						     : DATA_FRAGMENT;
	got = pread(fc->fd, m->data, want, (off_t)fc->offset);
	if (got != (ssize_t)want) {
		ret = got < 0 ? -errno : -EIO; /* short: the file shrank under us */
		snprintf(detail, size, "file copy %s: reading the host file at %llu: %s", fc->name,
			 (unsigned long long)fc->offset, got < 0 ? strerror(-ret) : "short read");
		free(m);
		return ret;
	}
	m->hdr.operation = WRITE_TO_FILE;
	m->offset = fc->offset;
	m->size = (uint32_t)want;
	fc->step = STEP_WRITE;
	/* Always the whole hv_do_fcopy: Linux hands sizeof(struct hv_do_fcopy) to the daemon. */
	ret = send_step(fc, m, sizeof(*m));
	free(m);
	if (ret)
		snprintf(detail, size, "file copy %s: %s", fc->name, strerror(-ret));
	return ret;
}

static void step_answered(void *ctx, int err, const char *detail, const struct ic_response *rsp)
{
	struct ic_fcopy *fc = ctx;
	enum copy_step step = fc->step;
	char buf[256], what[128];

	if (step == STEP_IDLE)
		return; /* cannot happen: one copy, one step at a time */
	snprintf(what, sizeof(what), "file copy %s: %s", fc->name,
		 step == STEP_START ? "start" : step == STEP_WRITE ? "write" : "complete");
	if (!err && rsp->status != HV_S_OK) {
		/* HV_ERROR_ALREADY_EXISTS without OVER_WRITE, HV_ERROR_DISK_FULL, HV_E_FAIL... */
		ic_status_detail(buf, sizeof(buf), what, rsp->status);
		finish(fc, ic_status_errno(rsp->status), buf, step != STEP_START);
		return;
	}
	if (err) {
		/* A timed-out step may still run in the guest (even a start): cancel it. */
		finish(fc, err, detail, err != -ENOTCONN);
		return;
	}
	if (step == STEP_COMPLETE) {
		snprintf(buf, sizeof(buf), "file copy %s: %llu bytes copied", fc->name,
			 (unsigned long long)fc->size);
		finish(fc, 0, buf, false);
		return;
	}
	if (step == STEP_WRITE)
		fc->offset += fc->size - fc->offset < DATA_FRAGMENT ? fc->size - fc->offset
								   : DATA_FRAGMENT;
	err = send_next(fc, buf, sizeof(buf));
	if (err)
		finish(fc, err, buf, true);
}

int ic_fcopy_copy_file(struct ic_fcopy *fc, const char *host_path, const char *guest_dir,
		       const char *guest_name, uint32_t flags, ic_done_fn *done, void *ctx)
{
	struct hv_start_fcopy *m;
	struct stat st;
	int fd, ret;

	if (!done || !host_path || !guest_dir || !guest_name || !guest_name[0] ||
	    (flags & ~(uint32_t)(OVER_WRITE | CREATE_PATH)))
		return -EINVAL;
	ret = ic_channel_usable(fc->ch);
	if (ret)
		return ret;
	if (fc->step != STEP_IDLE)
		return -EBUSY;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->hdr.operation = START_FILE_COPY;
	m->copy_flags = flags;
	ret = ic_utf8_to_utf16(guest_name, m->file_name, W_MAX_PATH);
	if (ret >= 0)
		ret = ic_utf8_to_utf16(guest_dir, m->path_name, W_MAX_PATH);
	if (ret < 0) {
		free(m);
		return ret;
	}
	fd = open(host_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		free(m);
		return ret;
	}
	if (fstat(fd, &st) < 0)
		ret = -errno;
	else if (!S_ISREG(st.st_mode))
		ret = -EINVAL;
	if (ret < 0) {
		close(fd);
		free(m);
		return ret;
	}
	m->file_size = (uint64_t)st.st_size;
	fc->fd = fd;
	fc->size = (uint64_t)st.st_size;
	fc->offset = 0;
	fc->done = done;
	fc->ctx = ctx;
	snprintf(fc->name, sizeof(fc->name), "%s", guest_name);
	fc->step = STEP_START;
	ret = send_step(fc, m, sizeof(*m));
	free(m);
	if (ret) {
		close(fd);
		fc->fd = -1;
		fc->step = STEP_IDLE;
		fc->done = NULL;
	}
	return ret;
}

void ic_fcopy_status(const struct ic_fcopy *fc, struct ic_link_status *out)
{
	ic_channel_status(fc->ch, out);
}

int ic_fcopy_create(struct ic_fcopy **out, const struct ic_env *env, struct error *err)
{
	struct ic_fcopy *fc = calloc(1, sizeof(*fc));
	const struct ic_channel_desc desc = {
		.name = "file copy",
		/* HV_FCOPY_GUID; the instance Hyper-V uses */
		.if_type = VMBUS_GUID(0x34d14be3, 0xdee4, 0x41c8, 0x9a, 0xe7, 0x6b, 0x17, 0x49, 0x77,
				      0xc1, 0x92),
		.if_instance = VMBUS_GUID(0xeb765408, 0x105f, 0x49b6, 0xb4, 0xaa, 0xc1, 0x23, 0xb6,
					  0x4d, 0x17, 0xd4),
		.fw_versions = fw_versions,
		.fw_count = sizeof(fw_versions) / sizeof(fw_versions[0]),
		.msg_versions = msg_versions,
		.msg_count = sizeof(msg_versions) / sizeof(msg_versions[0]),
	};
	int ret;

	if (!fc)
		return error_set(err, ENOMEM, "out of memory");
	fc->fd = -1;
	fc->timeout_ms = env->cfg->request_timeout_ms;
	ret = ic_channel_create(&fc->ch, env->host, env->mem, &desc, err);
	if (ret < 0) {
		free(fc);
		return ret;
	}
	*out = fc;
	return 0;
}

void ic_fcopy_destroy(struct ic_fcopy *fc, bool withdraw)
{
	if (!fc)
		return;
	ic_channel_destroy(fc->ch, withdraw); /* a copy in progress ends with -ENOTCONN */
	if (fc->fd >= 0)
		close(fc->fd);
	free(fc);
}
