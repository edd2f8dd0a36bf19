/* Kernel loading front end (see kernel_loader.h): reads the kernel and initrd files and picks the
 * format: bzImage ("HdrS", x86 boot protocol), ELF with a PVH note, then Multiboot v1. */
#include "kernel_loader.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "firmware/boot_layout.h"
#include "firmware/bzimage.h"
#include "firmware/multiboot.h"
#include "firmware/pvh.h"

struct file_buf {
	uint8_t *data;
	size_t size;
	bool mapped; /* data is a read-only mapping of the file, else a heap copy */
};

static void release_file(struct file_buf *f)
{
	if (f->mapped)
		munmap(f->data, f->size);
	else
		free(f->data);
	*f = (struct file_buf){ 0 };
}

/* A regular file is mapped, not copied: the loaders copy each part once, straight from the page
 * cache into guest RAM (a vmlinux is ~70 MB). The file must not shrink while it loads. */
static int map_file(const char *what, const char *path, int fd, size_t size, struct file_buf *f,
		    struct error *err)
{
	void *p;

	if (size == 0) {
		*f = (struct file_buf){ 0 };
		return 0;
	}
	p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return error_set(err, errno, "cannot read %s %s: %s", what, path, strerror(errno));
	madvise(p, size, MADV_SEQUENTIAL);
	*f = (struct file_buf){ .data = p, .size = size, .mapped = true };
	return 0;
}

/* A whole file of at most limit bytes: regular files mapped, pipes and the like read to EOF. */
static int read_file(const char *what, const char *path, uint64_t limit, struct file_buf *f,
		     struct error *err)
{
	size_t cap, len = 0;
	struct stat st;
	uint8_t *buf;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, errno, "cannot open %s %s: %s", what, path, strerror(errno));
	r = fstat(fd, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
	if (r) {
		close(fd);
		return error_set(err, r, "cannot open %s %s: %s", what, path, strerror(r));
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > limit) {
		close(fd);
		return error_set(err, E2BIG, "%s (%lld bytes) does not fit in guest memory", what,
				 (long long)st.st_size);
	}
	if (S_ISREG(st.st_mode)) {
		r = map_file(what, path, fd, (size_t)st.st_size, f, err);
		close(fd);
		return r;
	}
	cap = 1 << 20; /* a pipe or the like: read to EOF */
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return error_set(err, ENOMEM, "cannot read %s %s: out of memory", what, path);
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			uint8_t *bigger = cap < limit ? realloc(buf, cap * 2) : NULL;

			if (!bigger) {
				r = cap < limit ? error_set(err, ENOMEM, "cannot read %s %s: out of memory",
							    what, path)
						: error_set(err, E2BIG,
							    "%s (more than %zu bytes) does not fit in guest memory",
							    what, cap);
				goto fail;
			}
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = error_set(err, errno, "cannot read %s %s: %s", what, path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > limit) {
		r = error_set(err, E2BIG, "%s (%zu bytes) does not fit in guest memory", what, len);
		goto fail;
	}
	close(fd);
	f->data = buf;
	f->size = len;
	return 0;
fail:
	free(buf);
	close(fd);
	return r;
}

static int load_format(const struct guest_mem *mem, const struct boot_config *cfg,
		       const struct file_buf *k, const struct file_buf *initrd,
		       struct boot_entry *entry, struct error *err)
{
	struct elf_kernel elf;
	int r;

	if (bzimage_detect(k->data, k->size))
		return bzimage_load(mem, cfg, k->data, k->size, initrd->data, initrd->size, entry, err);
	if (elf_kernel_detect(k->data, k->size)) {
		r = elf_kernel_parse(k->data, k->size, &elf, err);
		if (r < 0)
			return r;
		if (elf.has_pvh)
			return pvh_load(mem, cfg, k->data, k->size, initrd->data, initrd->size, entry,
					err);
	}
	if (multiboot_detect(k->data, k->size))
		return multiboot_load(mem, cfg, k->data, k->size, initrd->data, initrd->size, entry,
				      err);
	return error_set(err, ENOEXEC,
			 "%s: not a bzImage, an ELF vmlinux with a PVH entry, or a Multiboot kernel",
			 cfg->kernel_path);
}

int kernel_load(const struct guest_mem *mem, const struct boot_config *cfg,
		struct boot_entry *entry, struct error *err)
{
	struct file_buf kernel = { 0 }, initrd = { 0 };
	size_t cmdline_len = cfg->cmdline ? strlen(cfg->cmdline) : 0;
	int r;

	if (!cfg->kernel_path)
		return error_set(err, EINVAL, "no kernel given");
	if (cmdline_len >= BOOT_CMDLINE_MAX)
		return error_set(err, E2BIG, "command line (%zu bytes) is longer than %u bytes",
				 cmdline_len, BOOT_CMDLINE_MAX - 1);
	if (guest_mem_low_end(mem) < 2 * BOOT_KERNEL_ADDR)
		return error_set(err, E2BIG, "guest memory is too small to load a kernel (need 2 MiB)");
	r = read_file("kernel", cfg->kernel_path, mem->size, &kernel, err);
	if (r < 0)
		return r;
	if (cfg->initrd_path) {
		r = read_file("initrd", cfg->initrd_path, guest_mem_low_end(mem), &initrd, err);
		if (r < 0)
			goto out;
	}
	*entry = (struct boot_entry){ 0 };
	r = load_format(mem, cfg, &kernel, &initrd, entry, err);
out:
	release_file(&initrd);
	release_file(&kernel);
	return r;
}
