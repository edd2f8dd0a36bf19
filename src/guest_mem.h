/* Guest physical memory: one anonymous mapping split into RAM below the 32-bit PCI hole and RAM
 * above 4 GiB. Every guest address is bounds-checked before it becomes a host pointer. */
#ifndef HVKVM_GUEST_MEM_H
#define HVKVM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_4G 0x100000000ULL
/* Start of the MMIO hole below 4 GiB (IOAPIC, LAPIC, later PCI windows). */
#define GUEST_MEM_HOLE_START 0xC0000000ULL

struct guest_mem {
	uint8_t *host;     /* base of the whole mapping */
	uint64_t size;     /* total RAM bytes */
	uint64_t low_size; /* RAM at [0, low_size) */
	uint64_t high_size;/* RAM at [4G, 4G + high_size) */
};

/* Maps size bytes of RAM (a multiple of 2 MiB). Returns 0 or -errno. */
__attribute__((warn_unused_result))
int guest_mem_init(struct guest_mem *mem, uint64_t size);
void guest_mem_destroy(struct guest_mem *mem);

/* Wraps a caller-provided buffer (unit tests: fake guest memory). */
void guest_mem_init_fake(struct guest_mem *mem, void *buf, uint64_t size);

/* Host pointer for [gpa, gpa + len) if the whole range is guest RAM in one region, else NULL. */
void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Copies to/from guest RAM; -EFAULT if any byte is outside RAM. */
__attribute__((warn_unused_result))
int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len);
__attribute__((warn_unused_result))
int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len);

/* End (exclusive) of RAM below 4 GiB. */
static inline uint64_t guest_mem_low_end(const struct guest_mem *mem)
{
	return mem->low_size;
}

#endif
