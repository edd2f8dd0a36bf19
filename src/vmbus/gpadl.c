/* GPADL assembly and validation for the VMBus server (see gpadl.h). Range buffer layout as Linux
 * drivers/hv/channel.c builds it: per range a (byte_count, byte_offset) entry, then its pages. */
#include "vmbus/gpadl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_SHIFT 12
#define PAGE_SIZE 4096u

int vmbus_gpadl_begin(struct vmbus_gpadl_table *t, struct vmbus_server *server, uint32_t relid,
		      uint32_t handle, uint16_t rangecount, uint16_t range_buflen,
		      struct vmbus_gpadl **out)
{
	uint32_t nentries = range_buflen / 8u;
	struct vmbus_gpadl *g;

	/* Every range needs its header entry and at least one page. */
	if (rangecount == 0 || range_buflen % 8u || nentries < 2u * rangecount)
		return -EINVAL;
	if (vmbus_gpadl_find(t, handle))
		return -EEXIST;
	if (t->count >= VMBUS_MAX_GPADLS || t->entries + nentries > VMBUS_MAX_GPADL_ENTRIES)
		return -ENOSPC;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->entries = calloc(nentries, sizeof(uint64_t));
	if (!g->entries) {
		free(g);
		return -ENOMEM;
	}
	g->server = server;
	g->handle = handle;
	g->relid = relid;
	g->rangecount = rangecount;
	g->nentries = nentries;
	g->next = t->head;
	t->head = g;
	t->count++;
	t->entries += nentries;
	*out = g;
	return 0;
}

static bool page_is_ram(const struct guest_mem *mem, uint64_t pfn)
{
	if (pfn > (UINT64_MAX >> PAGE_SHIFT))
		return false;
	return guest_mem_ptr(mem, pfn << PAGE_SHIFT, PAGE_SIZE) != NULL;
}

/* Checks the complete range buffer and turns it into ranges[] + contiguous page numbers. */
static int finish(struct vmbus_gpadl *g, const struct guest_mem *mem)
{
	struct vmbus_gpadl_range *ranges;
	uint32_t pos = 0, npfns = 0;

	ranges = calloc(g->rangecount, sizeof(*ranges));
	if (!ranges)
		return -ENOMEM;
	for (uint32_t r = 0; r < g->rangecount; r++) {
		uint64_t hdr, pages;
		uint32_t byte_count, byte_offset;

		if (pos >= g->nentries)
			goto invalid;
		hdr = g->entries[pos++];
		byte_count = (uint32_t)hdr;
		byte_offset = (uint32_t)(hdr >> 32);
		if (byte_count == 0 || byte_offset >= PAGE_SIZE)
			goto invalid;
		pages = ((uint64_t)byte_offset + byte_count + PAGE_SIZE - 1) >> PAGE_SHIFT;
		if (pages > g->nentries - pos)
			goto invalid;
		ranges[r] = (struct vmbus_gpadl_range){ .byte_offset = byte_offset,
							.byte_count = byte_count,
							.first = npfns,
							.npfns = (uint32_t)pages };
		for (uint32_t i = 0; i < pages; i++) {
			uint64_t pfn = g->entries[pos + i];

			if (!page_is_ram(mem, pfn))
				goto invalid;
			/* npfns <= pos: moving down over the range headers never overtakes the reader. */
			g->entries[npfns++] = pfn;
		}
		pos += (uint32_t)pages;
	}
	/* More page numbers than the ranges describe. */
	if (pos != g->nentries)
		goto invalid;
	g->ranges = ranges;
	g->npfns = npfns;
	g->complete = true;
	return 1;
invalid:
	free(ranges);
	return -EINVAL;
}

int vmbus_gpadl_append(struct vmbus_gpadl *g, const uint8_t *data, uint32_t len,
		       const struct guest_mem *mem)
{
	uint32_t take = len / 8u;

	if (g->complete)
		return -EINVAL;
	if (take > g->nentries - g->filled)
		take = g->nentries - g->filled;
	memcpy(&g->entries[g->filled], data, (size_t)take * 8u);
	g->filled += take;
	if (g->filled < g->nentries)
		return 0;
	return finish(g, mem);
}

struct vmbus_gpadl *vmbus_gpadl_find(const struct vmbus_gpadl_table *t, uint32_t handle)
{
	for (struct vmbus_gpadl *g = t->head; g; g = g->next)
		if (g->handle == handle)
			return g;
	return NULL;
}

static void gpadl_free(struct vmbus_gpadl *g)
{
	free(g->ranges);
	free(g->entries);
	free(g);
}

void vmbus_gpadl_remove(struct vmbus_gpadl_table *t, struct vmbus_gpadl *g)
{
	for (struct vmbus_gpadl **pp = &t->head; *pp; pp = &(*pp)->next) {
		if (*pp != g)
			continue;
		*pp = g->next;
		g->next = NULL;
		t->count--;
		t->entries -= g->nentries;
		if (g->pins) {
			g->orphan = true;
			g->teardown_pending = false;
		} else {
			gpadl_free(g);
		}
		return;
	}
}

void vmbus_gpadl_remove_relid(struct vmbus_gpadl_table *t, uint32_t relid)
{
	struct vmbus_gpadl *g = t->head, *next;

	for (; g; g = next) {
		next = g->next;
		if (g->relid == relid)
			vmbus_gpadl_remove(t, g);
	}
}

void vmbus_gpadl_remove_all(struct vmbus_gpadl_table *t)
{
	while (t->head)
		vmbus_gpadl_remove(t, t->head);
}

void vmbus_gpadl_pin(struct vmbus_gpadl *g)
{
	g->pins++;
}

void vmbus_gpadl_unpin(struct vmbus_gpadl *g)
{
	if (!g || g->pins == 0)
		return;
	if (--g->pins)
		return;
	if (g->orphan)
		gpadl_free(g);
	else if (g->teardown_pending)
		vmbus_server_gpadl_released(g->server, g);
}

/* Public accessors (server.h). */

void vmbus_gpadl_put(struct vmbus_gpadl *g)
{
	vmbus_gpadl_unpin(g);
}

uint32_t vmbus_gpadl_handle(const struct vmbus_gpadl *g)
{
	return g->handle;
}

const uint64_t *vmbus_gpadl_pfns(const struct vmbus_gpadl *g)
{
	return g->entries;
}

uint32_t vmbus_gpadl_page_count(const struct vmbus_gpadl *g)
{
	return g->npfns;
}

uint32_t vmbus_gpadl_range_count(const struct vmbus_gpadl *g)
{
	return g->rangecount;
}

int vmbus_gpadl_range(const struct vmbus_gpadl *g, uint32_t i, uint32_t *byte_offset,
		      uint32_t *byte_count, uint32_t *first, uint32_t *npfns)
{
	if (!g->complete || i >= g->rangecount)
		return -EINVAL;
	*byte_offset = g->ranges[i].byte_offset;
	*byte_count = g->ranges[i].byte_count;
	*first = g->ranges[i].first;
	*npfns = g->ranges[i].npfns;
	return 0;
}
