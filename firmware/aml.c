/* AML byte-code encoder: ACPI 6.5 section 20.2 (AML grammar: NameString, PkgLength, data objects,
 * named objects) and section 6.4 (resource data types for _CRS). */
#include "firmware/aml.h"

#include <errno.h>
#include <string.h>

/* Opcodes, section 20.3. */
#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX 0x0e
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_METHOD_OP 0x14
#define AML_DUAL_NAME_PREFIX 0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_OP_PREFIX 0x5b
#define AML_EXT_DEVICE_OP 0x82
#define AML_ROOT_CHAR 0x5c
#define AML_PARENT_PREFIX 0x5e
#define AML_RETURN_OP 0xa4

/* Space reserved for a PkgLength until its block ends; the encoding takes 1 to 4 bytes. */
#define AML_PKG_RESERVE 1u

/* Small resource items, section 6.4.2: tag byte = type << 3 | length. */
#define AML_RES_IRQ_NOFLAGS 0x22 /* type 0x04, 2 bytes: IRQ mask */
#define AML_RES_IO 0x47          /* type 0x08, 7 bytes */
#define AML_RES_IO_DECODE16 0x01
#define AML_RES_END_TAG 0x79     /* type 0x0f, 1 byte: checksum (0 = treat as valid) */
#define AML_RES_DWORD_ADDRESS 0x87

static void aml_fail(struct aml_buf *b, int err)
{
	if (!b->err)
		b->err = err;
}

void aml_init(struct aml_buf *b, uint8_t *data, size_t cap)
{
	b->data = data;
	b->len = 0;
	b->cap = cap;
	b->err = 0;
}

int aml_finish(const struct aml_buf *b)
{
	return b->err;
}

void aml_raw(struct aml_buf *b, const void *bytes, size_t n)
{
	if (b->err)
		return;
	if (n > b->cap - b->len) {
		aml_fail(b, -ENOSPC);
		return;
	}
	if (b->data)
		memcpy(b->data + b->len, bytes, n);
	b->len += n;
}

void aml_byte(struct aml_buf *b, uint8_t v)
{
	aml_raw(b, &v, 1);
}

static void aml_le(struct aml_buf *b, uint64_t v, unsigned n)
{
	uint8_t bytes[8];

	for (unsigned i = 0; i < n; i++)
		bytes[i] = (uint8_t)(v >> (8 * i));
	aml_raw(b, bytes, n);
}

static bool aml_lead_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool aml_name_char(char c)
{
	return aml_lead_char(c) || (c >= '0' && c <= '9');
}

/* Parses one NameSeg of 1-4 characters from *p into seg (padded with '_'); advances *p. */
static int aml_parse_seg(const char **p, uint8_t seg[4])
{
	const char *s = *p;
	unsigned n = 0;

	if (!aml_lead_char(*s))
		return -EINVAL;
	while (aml_name_char(s[n])) {
		if (n == 4)
			return -EINVAL;
		seg[n] = (uint8_t)s[n];
		n++;
	}
	for (unsigned i = n; i < 4; i++)
		seg[i] = '_';
	*p = s + n;
	return 0;
}

void aml_name_string(struct aml_buf *b, const char *path)
{
	uint8_t segs[255][4];
	unsigned nsegs = 0;
	const char *p = path;

	if (*p == '\\') {
		aml_byte(b, AML_ROOT_CHAR);
		p++;
	} else {
		while (*p == '^') {
			aml_byte(b, AML_PARENT_PREFIX);
			p++;
		}
	}
	while (*p) {
		if (nsegs == 255 || aml_parse_seg(&p, segs[nsegs]) < 0) {
			aml_fail(b, -EINVAL);
			return;
		}
		nsegs++;
		if (*p == '.' && p[1])
			p++;
		else if (*p) {
			aml_fail(b, -EINVAL);
			return;
		}
	}
	if (nsegs == 0) {
		/* Only a prefix ("\\"): NullName. A bare "" or "^" names nothing. */
		if (p == path || *path != '\\')
			aml_fail(b, -EINVAL);
		aml_byte(b, AML_ZERO_OP);
		return;
	}
	if (nsegs == 2) {
		aml_byte(b, AML_DUAL_NAME_PREFIX);
	} else if (nsegs > 2) {
		aml_byte(b, AML_MULTI_NAME_PREFIX);
		aml_byte(b, (uint8_t)nsegs);
	}
	aml_raw(b, segs, 4 * (size_t)nsegs);
}

void aml_integer(struct aml_buf *b, uint64_t v)
{
	if (v == 0) {
		aml_byte(b, AML_ZERO_OP);
	} else if (v == 1) {
		aml_byte(b, AML_ONE_OP);
	} else if (v <= 0xff) {
		aml_byte(b, AML_BYTE_PREFIX);
		aml_le(b, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(b, AML_WORD_PREFIX);
		aml_le(b, v, 2);
	} else if (v <= 0xffffffffu) {
		aml_byte(b, AML_DWORD_PREFIX);
		aml_le(b, v, 4);
	} else {
		aml_byte(b, AML_QWORD_PREFIX);
		aml_le(b, v, 8);
	}
}

void aml_string(struct aml_buf *b, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] > 0x7f) {
			aml_fail(b, -EINVAL);
			return;
		}
	}
	aml_byte(b, AML_STRING_PREFIX);
	aml_raw(b, s, n + 1);
}

static int aml_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Three letters of 5 bits each (A = 1) then four hex digits, stored big-endian in the DWord
 * (section 6.1.5, _HID EISA ID). */
void aml_eisaid(struct aml_buf *b, const char *id)
{
	uint8_t bytes[4];
	uint16_t letters = 0;

	if (strlen(id) != 7) {
		aml_fail(b, -EINVAL);
		return;
	}
	for (unsigned i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			aml_fail(b, -EINVAL);
			return;
		}
		letters = (uint16_t)(letters << 5 | (id[i] - 'A' + 1));
	}
	bytes[0] = (uint8_t)(letters >> 8);
	bytes[1] = (uint8_t)letters;
	for (unsigned i = 0; i < 2; i++) {
		int hi = aml_hex_digit(id[3 + 2 * i]), lo = aml_hex_digit(id[4 + 2 * i]);

		if (hi < 0 || lo < 0) {
			aml_fail(b, -EINVAL);
			return;
		}
		bytes[2 + i] = (uint8_t)(hi << 4 | lo);
	}
	aml_byte(b, AML_DWORD_PREFIX);
	aml_raw(b, bytes, 4);
}

void aml_name(struct aml_buf *b, const char *name)
{
	aml_byte(b, AML_NAME_OP);
	aml_name_string(b, name);
}

void aml_return(struct aml_buf *b)
{
	aml_byte(b, AML_RETURN_OP);
}

static size_t aml_pkg_reserve(struct aml_buf *b)
{
	static const uint8_t zeros[AML_PKG_RESERVE];
	size_t mark = b->len;

	aml_raw(b, zeros, sizeof(zeros));
	return mark;
}

/* PkgLength (section 20.2.4) counts its own bytes and everything to the end of the block. One
 * byte holds up to 63; otherwise the lead byte's bits 7-6 give the count of following bytes, its
 * bits 3-0 the low nibble, and each following byte the next 8 bits. One byte was reserved at
 * mark; a longer encoding moves the body up, so a buffer never needs more than the final size. */
void aml_end(struct aml_buf *b, size_t mark)
{
	size_t body, total = 0;
	unsigned n;

	if (b->err)
		return;
	if (mark > b->len || b->len - mark < AML_PKG_RESERVE) {
		aml_fail(b, -EINVAL);
		return;
	}
	body = b->len - mark - AML_PKG_RESERVE;
	for (n = 1; n <= 4; n++) {
		total = body + n;
		if (total <= (n == 1 ? 0x3fu : (1u << (4 + 8 * (n - 1))) - 1))
			break;
	}
	if (n > 4) {
		aml_fail(b, -E2BIG);
		return;
	}
	if (n - AML_PKG_RESERVE > b->cap - b->len) {
		aml_fail(b, -ENOSPC);
		return;
	}
	b->len = mark + n + body;
	if (!b->data)
		return;
	memmove(b->data + mark + n, b->data + mark + AML_PKG_RESERVE, body);
	if (n == 1) {
		b->data[mark] = (uint8_t)total;
	} else {
		b->data[mark] = (uint8_t)((n - 1) << 6 | (total & 0x0f));
		for (unsigned i = 1; i < n; i++)
			b->data[mark + i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
}

size_t aml_scope_begin(struct aml_buf *b, const char *name)
{
	size_t mark;

	aml_byte(b, AML_SCOPE_OP);
	mark = aml_pkg_reserve(b);
	aml_name_string(b, name);
	return mark;
}

size_t aml_device_begin(struct aml_buf *b, const char *name)
{
	size_t mark;

	aml_byte(b, AML_EXT_OP_PREFIX);
	aml_byte(b, AML_EXT_DEVICE_OP);
	mark = aml_pkg_reserve(b);
	aml_name_string(b, name);
	return mark;
}

/* MethodFlags: bits 2-0 ArgCount, bit 3 SerializeFlag, bits 7-4 SyncLevel (0 here). */
size_t aml_method_begin(struct aml_buf *b, const char *name, unsigned nargs, bool serialized)
{
	size_t mark;

	if (nargs > 7)
		aml_fail(b, -EINVAL);
	aml_byte(b, AML_METHOD_OP);
	mark = aml_pkg_reserve(b);
	aml_name_string(b, name);
	aml_byte(b, (uint8_t)((nargs & 7) | (serialized ? 0x08 : 0)));
	return mark;
}

size_t aml_package_begin(struct aml_buf *b, unsigned nelems)
{
	size_t mark;

	if (nelems > 255)
		aml_fail(b, -EINVAL);
	aml_byte(b, AML_PACKAGE_OP);
	mark = aml_pkg_reserve(b);
	aml_byte(b, (uint8_t)nelems);
	return mark;
}

void aml_buffer(struct aml_buf *b, const void *bytes, size_t n)
{
	size_t mark;

	aml_byte(b, AML_BUFFER_OP);
	mark = aml_pkg_reserve(b);
	aml_integer(b, n);
	aml_raw(b, bytes, n);
	aml_end(b, mark);
}

void aml_res_io(struct aml_buf *r, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	aml_byte(r, AML_RES_IO);
	aml_byte(r, AML_RES_IO_DECODE16);
	aml_le(r, min, 2);
	aml_le(r, max, 2);
	aml_byte(r, align);
	aml_byte(r, len);
}

void aml_res_irq_noflags(struct aml_buf *r, unsigned irq)
{
	if (irq > 15) {
		aml_fail(r, -EINVAL);
		return;
	}
	aml_byte(r, AML_RES_IRQ_NOFLAGS);
	aml_le(r, 1u << irq, 2);
}

/* ACPI 6.5 6.4.3.5.2 DWord Address Space Descriptor, memory range, read-write, cacheable. */
void aml_res_dword_memory(struct aml_buf *r, uint32_t min, uint32_t len)
{
	if (len == 0 || min + (len - 1) < min) {
		aml_fail(r, -EINVAL);
		return;
	}
	aml_byte(r, AML_RES_DWORD_ADDRESS);
	aml_le(r, 23, 2);     /* length of the rest */
	aml_byte(r, 0);       /* resource type: memory range */
	aml_byte(r, 0x0c);    /* general flags: MinFixed, MaxFixed, positive decode */
	aml_byte(r, 0x03);    /* type flags: read-write, cacheable */
	aml_le(r, 0, 4);      /* granularity */
	aml_le(r, min, 4);
	aml_le(r, min + (len - 1), 4);
	aml_le(r, 0, 4);      /* translation offset */
	aml_le(r, len, 4);
}

void aml_res_end(struct aml_buf *r)
{
	aml_byte(r, AML_RES_END_TAG);
	aml_byte(r, 0);
}
