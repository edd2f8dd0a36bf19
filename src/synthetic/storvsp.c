/* storvsp: the controller (see storvsp.h): its VMBus offer, its LUN table with hot add and
 * remove, the SCSI identity of each disk, and teardown after the channels closed. */
#include "synthetic/storvsp.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "synthetic/storvsp_internal.h"

/* ---- the bus, from a vmbus_host ---- */

static void host_set_notify(void *ctx, struct vmbus_channel *ch, vmbus_channel_notify_fn *fn,
			    void *opaque)
{
	vmbus_host_set_notify(ctx, ch, fn, opaque);
}

static void host_signal(void *ctx, struct vmbus_channel *ch)
{
	vmbus_host_signal_guest(ctx, ch);
}

/* ---- SCSI identity ---- */

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Serial number and NAA WWN from the image's canonical path and the LUN: stable across runs,
 * different per disk. The WWN is NAA 5 with Microsoft's IEEE company id 00-15-5D (the one of
 * Hyper-V's synthetic devices) and 36 bits of the hash. */
static void disk_identity(struct scsi_disk_info *info, const char *path, uint8_t lun)
{
	char canon[PATH_MAX];
	const char *name = realpath(path, canon) ? canon : path;
	uint64_t h = fnv1a(0xcbf29ce484222325ull, name, strlen(name));

	h = fnv1a(h, &lun, 1);
	snprintf(info->serial, sizeof(info->serial), "%016llx", (unsigned long long)h);
	info->wwn = (0x5ull << 60) | (0x00155dull << 36) | (h & 0xfffffffffull);
}

/* ---- LUNs ---- */

static int lun_open(struct storvsp *s, const struct storvsp_disk_config *cfg,
		    struct storvsp_lun **out, struct error *err)
{
	const struct block_options o = { .path = cfg->path, .readonly = cfg->readonly,
					 .cache = cfg->cache };
	struct storvsp_lun *l;
	int ret;

	if (!cfg->path)
		return error_set(err, EINVAL, "a disk needs an image path");
	if (cfg->lun >= STORVSP_MAX_LUNS)
		return error_set(err, EINVAL, "%s: LUN %u out of range (0..%u)", cfg->path,
				 cfg->lun, STORVSP_MAX_LUNS - 1);
	if (s->luns[cfg->lun])
		return error_set(err, EEXIST, "%s: LUN %u is already in use", cfg->path, cfg->lun);
	l = calloc(1, sizeof(*l));
	if (!l)
		return error_set(err, ENOMEM, "out of memory");
	ret = block_open(&l->dev, s->bus.loop, &o, err);
	if (ret < 0) {
		free(l);
		return ret;
	}
	l->s = s;
	l->lun = cfg->lun;
	l->info.block_size = BLOCK_SECTOR_SIZE;
	l->info.nblocks = block_size(l->dev) / BLOCK_SECTOR_SIZE;
	l->info.phys_block_exp = 3; /* 4 KiB physical sectors, as Hyper-V's VHDX disks */
	l->info.readonly = block_readonly(l->dev);
	l->info.can_unmap = block_can_discard(l->dev);
	/* A write cache for cache=none too: the O_DIRECT fallback is buffered, and the guest's
	 * SYNCHRONIZE CACHE and FUA are what make its writes durable either way. */
	l->info.write_cache = true;
	l->info.max_transfer_blocks = STORVSP_MAX_TRANSFER_BYTES / BLOCK_SECTOR_SIZE;
	snprintf(l->info.vendor, sizeof(l->info.vendor), "%s", "Msft");
	snprintf(l->info.product, sizeof(l->info.product), "%s", "Virtual Disk");
	snprintf(l->info.revision, sizeof(l->info.revision), "%s", "1.0");
	disk_identity(&l->info, cfg->path, cfg->lun);
	*out = l;
	return 0;
}

static void lun_close(struct storvsp_lun *l)
{
	block_close(l->dev);
	free(l);
}

/* Loop thread, from posted work: a hot-removed LUN went idle. */
static void deferred_close(void *arg)
{
	struct storvsp_lun *l = arg, **p;
	struct storvsp *s = l->s;

	s->posted--;
	if (s->destroying)
		return; /* storvsp_destroy closes it */
	for (p = &s->removed; *p && *p != l; p = &(*p)->next_removed)
		;
	if (*p)
		*p = l->next_removed;
	lun_close(l);
}

void storvsp_lun_request_done(struct storvsp_lun *l)
{
	struct storvsp *s = l->s;

	l->inflight--;
	if (!l->removed || l->inflight || s->destroying)
		return;
	/* Not from here: we are inside the backend's completion, which may still use the disk. */
	if (event_loop_post(s->bus.loop, deferred_close, l) == 0)
		s->posted++;
	else
		log_warn(s->name, "LUN %u stays open until the controller goes away", l->lun);
}

int storvsp_add_disk(struct storvsp *s, const struct storvsp_disk_config *disk, struct error *err)
{
	struct storvsp_lun *l;
	int ret = lun_open(s, disk, &l, err);

	if (ret < 0)
		return ret;
	s->luns[l->lun] = l;
	log_info(s->name, "LUN %u: %s", l->lun, disk->path);
	storvsp_enumerate_bus(s);
	return 0;
}

bool storvsp_lun_used(const struct storvsp *s, uint8_t lun)
{
	return lun < STORVSP_MAX_LUNS && s->luns[lun];
}

int storvsp_remove_disk(struct storvsp *s, uint8_t lun, struct error *err)
{
	struct storvsp_lun *l = lun < STORVSP_MAX_LUNS ? s->luns[lun] : NULL;

	if (!l)
		return error_set(err, ENOENT, "no disk at LUN %u", lun);
	s->luns[lun] = NULL;
	log_info(s->name, "LUN %u removed", lun);
	storvsp_enumerate_bus(s);
	if (l->inflight == 0) {
		lun_close(l);
		return 0;
	}
	l->removed = true;
	l->next_removed = s->removed;
	s->removed = l;
	return 0;
}

/* ---- the VMBus device ---- */

static int dev_open(void *opaque, struct vmbus_channel *ch, const struct vmbus_open_request *req)
{
	return storvsp_chan_open(opaque, ch, req);
}

static void dev_close(void *opaque, struct vmbus_channel *ch)
{
	storvsp_chan_close(opaque, ch);
}

static const struct vmbus_device_ops storvsp_ops = { .open = dev_open, .close = dev_close };

unsigned long storvsp_protocol_errors(const struct storvsp *s)
{
	return s->protocol_errors;
}

int storvsp_create_on_bus(struct storvsp **out, const struct storvsp_bus *bus,
			  const struct guest_mem *mem, unsigned nvps, unsigned controller_index,
			  const struct storvsp_disk_config *disks, unsigned ndisks,
			  struct error *err)
{
	struct storvsp *s = calloc(1, sizeof(*s));
	struct vmbus_device_desc desc;
	int ret;

	if (!s)
		return error_set(err, ENOMEM, "out of memory");
	s->bus = *bus;
	s->mem = mem;
	s->nvps = nvps;
	/* As many subchannels as VPs: Linux asks for one per CPU but the primary's. */
	s->max_subchannels = (uint16_t)(nvps < VMBUS_MAX_SUBCHANNELS ? nvps : VMBUS_MAX_SUBCHANNELS);
	s->state = STORVSP_STATE_BEGIN;
	snprintf(s->name, sizeof(s->name), "storvsp%u", controller_index);
	for (unsigned i = 0; i < ndisks; i++) {
		struct storvsp_lun *l;

		ret = lun_open(s, &disks[i], &l, err);
		if (ret < 0)
			goto fail;
		s->luns[l->lun] = l;
	}
	memset(&desc, 0, sizeof(desc));
	desc.if_type = HV_SCSI_GUID;
	/* {68766b6d-5343-5349-8000-0000000000NN}: "hvkm", "SC", "SI", our controller index. */
	desc.if_instance = VMBUS_GUID(0x68766b6d, 0x5343, 0x5349, 0x80, 0x00, 0x00, 0x00,
				      (uint8_t)(controller_index >> 24),
				      (uint8_t)(controller_index >> 16),
				      (uint8_t)(controller_index >> 8), (uint8_t)controller_index);
	desc.max_subchannels = s->max_subchannels;
	desc.name = s->name;
	desc.ops = &storvsp_ops;
	desc.opaque = s;
	ret = vmbus_server_add_device(bus->server, &desc, &s->dev);
	if (ret < 0) {
		error_set(err, -ret, "cannot offer SCSI controller %u: %s", controller_index,
			  strerror(-ret));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	for (unsigned i = 0; i < STORVSP_MAX_LUNS; i++)
		if (s->luns[i])
			lun_close(s->luns[i]);
	free(s);
	return ret;
}

int storvsp_create(struct storvsp **out, struct vmbus_host *host, const struct guest_mem *mem,
		   unsigned nvps, unsigned controller_index, const struct storvsp_disk_config *disks,
		   unsigned ndisks, struct error *err)
{
	const struct storvsp_bus bus = {
		.server = vmbus_host_server(host),
		.loop = vmbus_host_loop(host),
		.set_notify = host_set_notify,
		.signal_guest = host_signal,
		.ctx = host,
	};

	return storvsp_create_on_bus(out, &bus, mem, nvps, controller_index, disks, ndisks, err);
}

static bool no_posted_work(void *arg)
{
	return ((struct storvsp *)arg)->posted == 0;
}

void storvsp_destroy(struct storvsp *s)
{
	if (!s)
		return;
	/* Deferred closes still queued on the loop refer to s: let them run first. */
	if (s->posted && event_loop_run_until(s->bus.loop, no_posted_work, s) < 0)
		log_warn(s->name, "event loop failed while draining");
	s->destroying = true;
	/* block_close waits for the disk's requests: they complete into the void (the channels
	 * are closed) and free themselves and any closed channel they kept. */
	for (unsigned i = 0; i < STORVSP_MAX_LUNS; i++)
		if (s->luns[i])
			block_close(s->luns[i]->dev);
	for (struct storvsp_lun *l = s->removed; l; l = l->next_removed)
		block_close(l->dev);
	for (unsigned i = 0; i < STORVSP_MAX_LUNS; i++)
		free(s->luns[i]);
	while (s->removed) {
		struct storvsp_lun *l = s->removed;

		s->removed = l->next_removed;
		free(l);
	}
	while (s->zombies) {
		struct storvsp_chan *c = s->zombies;

		s->zombies = c->next_zombie;
		free(c);
	}
	free(s);
}
