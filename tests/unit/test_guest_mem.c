/* Guest memory: the split around the 32-bit hole and every bounds check. */
#include <errno.h>
#include <stdlib.h>

#include "src/guest_mem.h"
#include "unit.h"

static void test_small(void)
{
	static uint8_t buf[1 << 20];
	struct guest_mem mem;
	uint32_t v = 0x12345678, r = 0;

	guest_mem_init_fake(&mem, buf, sizeof(buf));
	CHECK_EQ(mem.low_size, sizeof(buf));
	CHECK_EQ(mem.high_size, 0);
	CHECK(guest_mem_ptr(&mem, 0, sizeof(buf)) == buf);
	CHECK(guest_mem_ptr(&mem, 1, sizeof(buf)) == NULL);
	CHECK(guest_mem_ptr(&mem, sizeof(buf) - 4, 4) == buf + sizeof(buf) - 4);
	CHECK(guest_mem_ptr(&mem, sizeof(buf), 1) == NULL);
	CHECK(guest_mem_ptr(&mem, 16, UINT64_MAX) == NULL);
	CHECK(guest_mem_ptr(&mem, UINT64_MAX, 2) == NULL);
	CHECK(guest_mem_ptr(&mem, GUEST_MEM_4G, 1) == NULL);
	CHECK_EQ(guest_mem_write(&mem, 0x100, &v, 4), 0);
	CHECK_EQ(guest_mem_read(&mem, 0x100, &r, 4), 0);
	CHECK_EQ(r, v);
	CHECK_EQ(guest_mem_write(&mem, sizeof(buf) - 2, &v, 4), -EFAULT);
	CHECK_EQ(guest_mem_read(&mem, sizeof(buf) - 2, &r, 4), -EFAULT);
}

static void test_split(void)
{
	struct guest_mem mem;
	uint64_t size = GUEST_MEM_HOLE_START + (64ULL << 20);
	int ret = guest_mem_init(&mem, size); /* MAP_NORESERVE: only touched pages cost */

	CHECK_EQ(ret, 0);
	if (ret)
		return;
	CHECK_EQ(mem.low_size, GUEST_MEM_HOLE_START);
	CHECK_EQ(mem.high_size, 64ULL << 20);
	CHECK(guest_mem_ptr(&mem, GUEST_MEM_HOLE_START - 1, 1) != NULL);
	CHECK(guest_mem_ptr(&mem, GUEST_MEM_HOLE_START - 1, 2) == NULL); /* into the hole */
	CHECK(guest_mem_ptr(&mem, GUEST_MEM_HOLE_START, 1) == NULL);
	CHECK(guest_mem_ptr(&mem, GUEST_MEM_4G - 1, 2) == NULL);
	CHECK(guest_mem_ptr(&mem, GUEST_MEM_4G, 1) == mem.host + GUEST_MEM_HOLE_START);
	CHECK(guest_mem_ptr(&mem, GUEST_MEM_4G + (64ULL << 20) - 8, 8) != NULL);
	CHECK(guest_mem_ptr(&mem, GUEST_MEM_4G + (64ULL << 20) - 8, 9) == NULL);
	CHECK(guest_mem_ptr(&mem, GUEST_MEM_4G + (64ULL << 20), 1) == NULL);
	guest_mem_destroy(&mem);
	CHECK_EQ(guest_mem_init(&mem, 3 << 20), -EINVAL); /* not a multiple of 2 MiB */
	CHECK_EQ(guest_mem_init(&mem, 0), -EINVAL);
}

int main(void)
{
	test_small();
	test_split();
	return unit_done("test_guest_mem");
}
