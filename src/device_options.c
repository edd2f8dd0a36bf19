/* --disk and --net specifications (see device_options.h). */
#include "device_options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The next ",item" of s (s points after the previous one): its [start, end). */
static const char *next_item(const char *s, const char **end)
{
	*end = strchrnul(s, ',');
	return s;
}

static bool item_is(const char *item, const char *end, const char *key, const char **value)
{
	size_t n = strlen(key);

	if ((size_t)(end - item) > n && !strncmp(item, key, n) && item[n] == '=') {
		*value = item + n + 1;
		return true;
	}
	return false;
}

static int parse_uint(const char *v, const char *end, unsigned max, unsigned *out)
{
	char buf[16];
	char *e;
	unsigned long x;
	size_t n = (size_t)(end - v);

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, v, n);
	buf[n] = 0;
	errno = 0;
	x = strtoul(buf, &e, 10);
	if (errno || *e || buf[0] == '-' || x > max)
		return -EINVAL;
	*out = (unsigned)x;
	return 0;
}

int disk_spec_parse(const char *arg, struct disk_spec *d, struct error *err)
{
	const char *end, *item, *v;

	*d = (struct disk_spec){.cache = BLOCK_CACHE_NONE, .bus = DISK_BUS_SCSI, .lun = -1};
	end = strchrnul(arg, ',');
	if (end == arg)
		return error_set(err, EINVAL, "--disk '%s': no file name", arg);
	/* The path is everything up to the first comma: put it in its own string. */
	d->path = strndup(arg, (size_t)(end - arg));
	if (!d->path)
		return error_set(err, ENOMEM, "out of memory");
	while (*end == ',') {
		unsigned x;

		item = next_item(end + 1, &end);
		if ((size_t)(end - item) == 8 && !strncmp(item, "readonly", 8)) {
			d->readonly = true;
		} else if (item_is(item, end, "bus", &v)) {
			if ((size_t)(end - v) != 4 || strncmp(v, "scsi", 4))
				return error_set(err, EINVAL, "--disk '%s': bus=%.*s is not supported (scsi)",
						 arg, (int)(end - v), v);
		} else if (item_is(item, end, "cache", &v)) {
			if ((size_t)(end - v) == 4 && !strncmp(v, "none", 4))
				d->cache = BLOCK_CACHE_NONE;
			else if ((size_t)(end - v) == 9 && !strncmp(v, "writeback", 9))
				d->cache = BLOCK_CACHE_WRITEBACK;
			else
				return error_set(err, EINVAL, "--disk '%s': cache takes none or writeback", arg);
		} else if (item_is(item, end, "lun", &v)) {
			if (parse_uint(v, end, OPTIONS_MAX_LUN, &x) < 0)
				return error_set(err, EINVAL, "--disk '%s': lun takes 0-%u", arg, OPTIONS_MAX_LUN);
			d->lun = (int)x;
		} else if (item_is(item, end, "controller", &v)) {
			if (parse_uint(v, end, OPTIONS_MAX_CONTROLLERS - 1, &x) < 0)
				return error_set(err, EINVAL, "--disk '%s': controller takes 0-%u", arg,
						 OPTIONS_MAX_CONTROLLERS - 1);
			d->controller = x;
		} else {
			return error_set(err, EINVAL, "--disk '%s': unknown setting '%.*s'", arg,
					 (int)(end - item), item);
		}
	}
	return 0;
}

int disk_specs_finish(struct disk_spec *disks, unsigned n, struct error *err)
{
	for (unsigned i = 0; i < n; i++) {
		if (disks[i].lun >= 0)
			continue;
		/* The lowest LUN no other disk of the controller has (given or assigned). */
		for (int lun = 0; lun <= (int)OPTIONS_MAX_LUN && disks[i].lun < 0; lun++) {
			bool used = false;

			for (unsigned j = 0; j < n; j++)
				used |= j != i && disks[j].controller == disks[i].controller &&
					disks[j].lun == lun;
			if (!used)
				disks[i].lun = lun;
		}
		if (disks[i].lun < 0)
			return error_set(err, EINVAL, "--disk '%s': no free LUN on controller %u",
					 disks[i].path, disks[i].controller);
	}
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			if (disks[i].controller == disks[j].controller && disks[i].lun == disks[j].lun)
				return error_set(err, EINVAL, "--disk '%s' and '%s': both on controller %u LUN %d",
						 disks[i].path, disks[j].path, disks[i].controller,
						 disks[i].lun);
	return 0;
}

static int parse_mac(const char *v, const char *end, uint8_t mac[6])
{
	unsigned b[6];
	char buf[18];
	int used = 0;

	if (end - v != 17)
		return -EINVAL;
	memcpy(buf, v, 17);
	buf[17] = 0;
	if (sscanf(buf, "%2x:%2x:%2x:%2x:%2x:%2x%n", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &used) != 6 || used != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	if (mac[0] & 1) /* multicast */
		return -EINVAL;
	return 0;
}

int net_spec_parse(const char *arg, struct net_spec *n, struct error *err)
{
	const char *end = arg - 1, *item, *v;
	bool have_tap = false;

	*n = (struct net_spec){0};
	do {
		item = next_item(end + 1, &end);
		if (item_is(item, end, "tap", &v)) {
			if (end - v < 1 || (size_t)(end - v) >= sizeof(n->tap) || memchr(v, '/', (size_t)(end - v)))
				return error_set(err, EINVAL, "--net '%s': a tap name has 1-15 characters", arg);
			memcpy(n->tap, v, (size_t)(end - v));
			n->tap[end - v] = 0;
			have_tap = true;
		} else if (item_is(item, end, "mac", &v)) {
			if (parse_mac(v, end, n->mac) < 0)
				return error_set(err, EINVAL, "--net '%s': mac takes a unicast XX:XX:XX:XX:XX:XX", arg);
			n->has_mac = true;
		} else if (item_is(item, end, "mtu", &v)) {
			if (parse_uint(v, end, 65521, &n->mtu) < 0 || n->mtu < 68)
				return error_set(err, EINVAL, "--net '%s': mtu takes 68-65521", arg);
		} else {
			return error_set(err, EINVAL, "--net '%s': unknown setting '%.*s' (tap=NAME,mac=,mtu=)",
					 arg, (int)(end - item), item);
		}
	} while (*end == ',');
	if (!have_tap)
		return error_set(err, EINVAL, "--net '%s': no tap=NAME", arg);
	return 0;
}

void net_mac_derive(const char *name, unsigned index, uint8_t mac[6])
{
	/* FNV-1a over the name and index: stable, spread enough for a few NICs per host. */
	uint64_t h = 0xcbf29ce484222325ull;

	for (const char *p = name ? name : ""; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	h = (h ^ index) * 0x100000001b3ull;
	mac[0] = 0x02; /* locally administered, unicast */
	mac[1] = 0x48; /* 'H' */
	for (int i = 2; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * i));
}
