/* Guest physical memory: one anonymous mapping split around the 32-bit hole (see guest_mem.h). */
#include "guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

static void split(struct guest_mem *mem, uint64_t size)
{
	mem->size = size;
	mem->low_size = size < GUEST_MEM_HOLE_START ? size : GUEST_MEM_HOLE_START;
	mem->high_size = size - mem->low_size;
}

int guest_mem_init(struct guest_mem *mem, uint64_t size)
{
	void *p;

	if (size == 0 || size % (2u << 20))
		return -EINVAL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	madvise(p, size, MADV_MERGEABLE);
	mem->host = p;
	split(mem, size);
	return 0;
}

void guest_mem_init_fake(struct guest_mem *mem, void *buf, uint64_t size)
{
	mem->host = buf;
	split(mem, size);
}

void guest_mem_destroy(struct guest_mem *mem)
{
	if (mem->host)
		munmap(mem->host, mem->size);
	mem->host = NULL;
}

void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	if (gpa < mem->low_size) {
		if (len > mem->low_size - gpa)
			return NULL;
		return mem->host + gpa;
	}
	if (gpa >= GUEST_MEM_4G && gpa - GUEST_MEM_4G < mem->high_size) {
		uint64_t off = gpa - GUEST_MEM_4G;

		if (len > mem->high_size - off)
			return NULL;
		return mem->host + mem->low_size + off;
	}
	return NULL;
}

int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = guest_mem_ptr(mem, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len)
{
	void *p = guest_mem_ptr(mem, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}
