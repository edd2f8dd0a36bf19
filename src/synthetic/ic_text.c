/* Text for the integration components (see ic.h): the guest's HRESULTs as errnos and names, and
 * UTF-8 <-> UTF-16LE for KVP keys and values and file copy names (RFC 3629, RFC 2781). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "synthetic/ic.h"

int ic_status_errno(uint32_t status)
{
	switch (status) {
	case HV_S_OK:
		return 0;
	case HV_S_CONT:
	case HV_GUID_NOTFOUND:
		return -ENOENT;
	case HV_ERROR_ALREADY_EXISTS:
		return -EEXIST;
	case HV_ERROR_DISK_FULL:
		return -ENOSPC;
	case HV_ERROR_NOT_SUPPORTED:
		return -EOPNOTSUPP;
	case HV_INVALIDARG:
		return -EINVAL;
	case HV_ERROR_MACHINE_LOCKED:
		return -EBUSY;
	case HV_ERROR_DEVICE_NOT_CONNECTED:
		return -ENODEV;
	default:
		return -EIO; /* HV_E_FAIL and anything unknown */
	}
}

const char *ic_status_name(uint32_t status)
{
	switch (status) {
	case HV_S_OK: return "HV_S_OK";
	case HV_E_FAIL: return "HV_E_FAIL";
	case HV_S_CONT: return "HV_S_CONT";
	case HV_ERROR_NOT_SUPPORTED: return "HV_ERROR_NOT_SUPPORTED";
	case HV_ERROR_MACHINE_LOCKED: return "HV_ERROR_MACHINE_LOCKED";
	case HV_ERROR_DEVICE_NOT_CONNECTED: return "HV_ERROR_DEVICE_NOT_CONNECTED";
	case HV_INVALIDARG: return "HV_INVALIDARG";
	case HV_GUID_NOTFOUND: return "HV_GUID_NOTFOUND";
	case HV_ERROR_ALREADY_EXISTS: return "HV_ERROR_ALREADY_EXISTS";
	case HV_ERROR_DISK_FULL: return "HV_ERROR_DISK_FULL";
	default: return "an unknown status";
	}
}

void ic_status_detail(char *buf, size_t size, const char *what, uint32_t status)
{
	snprintf(buf, size, "%s: the guest answered %s (0x%08x)", what, ic_status_name(status),
		 status);
}

static void put_unit(uint8_t *out, size_t i, uint32_t u)
{
	out[2 * i] = (uint8_t)u;
	out[2 * i + 1] = (uint8_t)(u >> 8);
}

int ic_utf8_to_utf16(const char *s, void *out, size_t max_units)
{
	const uint8_t *p = (const uint8_t *)s;
	uint8_t *o = out;
	size_t n = 0;

	while (*p) {
		uint32_t cp;
		unsigned extra;

		if (*p < 0x80) {
			cp = *p;
			extra = 0;
		} else if ((*p & 0xe0) == 0xc0) {
			cp = *p & 0x1fu;
			extra = 1;
		} else if ((*p & 0xf0) == 0xe0) {
			cp = *p & 0x0fu;
			extra = 2;
		} else if ((*p & 0xf8) == 0xf0) {
			cp = *p & 0x07u;
			extra = 3;
		} else {
			return -EINVAL;
		}
		p++;
		for (unsigned i = 0; i < extra; i++, p++) {
			if ((*p & 0xc0) != 0x80)
				return -EINVAL; /* also stops at the NUL */
			cp = cp << 6 | (*p & 0x3fu);
		}
		if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
		    (extra == 3 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -EINVAL; /* overlong, out of range, or a surrogate */
		if (cp >= 0x10000) {
			if (n + 3 > max_units)
				return -ENAMETOOLONG;
			put_unit(o, n++, 0xd800 + ((cp - 0x10000) >> 10));
			put_unit(o, n++, 0xdc00 + (cp & 0x3ff));
		} else {
			if (n + 2 > max_units)
				return -ENAMETOOLONG;
			put_unit(o, n++, cp);
		}
	}
	if (n + 1 > max_units)
		return -ENAMETOOLONG;
	put_unit(o, n++, 0);
	return (int)n;
}

int ic_utf16_to_utf8(const void *in, size_t max_units, char *out, size_t out_size)
{
	const uint8_t *p = in;
	size_t n = 0;

	if (!out_size)
		return -E2BIG;
	for (size_t i = 0; i < max_units; i++) {
		uint32_t cp = p[2 * i] | (uint32_t)p[2 * i + 1] << 8;
		uint8_t enc[4];
		size_t len;

		if (cp == 0)
			break;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return -EINVAL;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			uint32_t lo;

			if (i + 1 >= max_units)
				return -EINVAL;
			lo = p[2 * i + 2] | (uint32_t)p[2 * i + 3] << 8;
			if (lo < 0xdc00 || lo > 0xdfff)
				return -EINVAL;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			i++;
		}
		if (cp < 0x80) {
			enc[0] = (uint8_t)cp;
			len = 1;
		} else if (cp < 0x800) {
			enc[0] = (uint8_t)(0xc0 | cp >> 6);
			enc[1] = (uint8_t)(0x80 | (cp & 0x3f));
			len = 2;
		} else if (cp < 0x10000) {
			enc[0] = (uint8_t)(0xe0 | cp >> 12);
			enc[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
			enc[2] = (uint8_t)(0x80 | (cp & 0x3f));
			len = 3;
		} else {
			enc[0] = (uint8_t)(0xf0 | cp >> 18);
			enc[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
			enc[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
			enc[3] = (uint8_t)(0x80 | (cp & 0x3f));
			len = 4;
		}
		if (n + len + 1 > out_size)
			return -E2BIG;
		memcpy(out + n, enc, len);
		n += len;
	}
	out[n] = 0;
	return (int)n;
}
