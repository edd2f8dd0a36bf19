/* JSON text per RFC 8259 (see json.h), the writer: escapes per section 7 and replaces ill-formed
 * UTF-8 (RFC 3629 section 4) with U+FFFD. The reader is json_read.c. */
#include "mgmt/json_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at p (RFC 3629 table: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0 when the bytes there are not one. */
size_t json_utf8_sequence(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

bool json_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		size_t n = json_utf8_sequence(p, (size_t)(end - p));

		if (!n)
			return false;
		p += n;
	}
	return true;
}

/* ---- writer ---- */

void json_writer_init(struct json_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void json_writer_free(struct json_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

void json_put(struct json_writer *w, const void *data, size_t n)
{
	if (w->error)
		return;
	if (w->cap - w->len <= n) { /* keep one byte for the NUL */
		size_t cap = w->cap ? w->cap : 64;
		char *b;

		while (cap - w->len <= n) {
			if (cap > SIZE_MAX / 2) {
				w->error = -ENOMEM;
				return;
			}
			cap *= 2;
		}
		b = realloc(w->buf, cap);
		if (!b) {
			w->error = -ENOMEM;
			return;
		}
		w->buf = b;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, data, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

void json_put_char(struct json_writer *w, char c)
{
	json_put(w, &c, 1);
}

void json_misuse(struct json_writer *w)
{
	if (!w->error)
		w->error = -EINVAL;
}

static bool bit(uint64_t set, unsigned d)
{
	return (set >> d) & 1;
}

/* Before any value: the separator its position needs. */
bool json_value_begin(struct json_writer *w)
{
	if (w->error)
		return false;
	if (w->depth == 0) {
		if (w->done) {
			json_misuse(w);
			return false;
		}
		return true;
	}
	if (bit(w->in_object, w->depth)) {
		if (!w->want_value) {
			json_misuse(w);
			return false;
		}
		w->want_value = false;
		return true;
	}
	if (bit(w->has_items, w->depth))
		json_put_char(w, ',');
	w->has_items |= 1ull << w->depth;
	return true;
}

void json_value_end(struct json_writer *w)
{
	if (w->depth == 0)
		w->done = true;
}

static void container_begin(struct json_writer *w, char open, bool object)
{
	if (!json_value_begin(w))
		return;
	if (w->depth >= JSON_DEPTH_MAX) {
		json_misuse(w);
		return;
	}
	json_put_char(w, open);
	w->depth++;
	w->has_items &= ~(1ull << w->depth);
	if (object)
		w->in_object |= 1ull << w->depth;
	else
		w->in_object &= ~(1ull << w->depth);
}

static void container_end(struct json_writer *w, char close, bool object)
{
	if (w->error)
		return;
	if (w->depth == 0 || bit(w->in_object, w->depth) != object || w->want_value) {
		json_misuse(w);
		return;
	}
	json_put_char(w, close);
	w->depth--;
	json_value_end(w);
}

void json_object_begin(struct json_writer *w)
{
	container_begin(w, '{', true);
}

void json_object_end(struct json_writer *w)
{
	container_end(w, '}', true);
}

void json_array_begin(struct json_writer *w)
{
	container_begin(w, '[', false);
}

void json_array_end(struct json_writer *w)
{
	container_end(w, ']', false);
}

static void put_escaped(struct json_writer *w, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	json_put_char(w, '"');
	while (p < end) {
		const unsigned char *run = p;
		size_t n;

		/* Bytes that pass unchanged go out in one piece. */
		while (p < end && *p >= 0x20 && *p != '"' && *p != '\\' &&
		       (n = json_utf8_sequence(p, (size_t)(end - p))) != 0)
			p += n;
		json_put(w, run, (size_t)(p - run));
		if (p == end)
			break;
		switch (*p) {
		case '"':
			json_put(w, "\\\"", 2);
			break;
		case '\\':
			json_put(w, "\\\\", 2);
			break;
		case '\b':
			json_put(w, "\\b", 2);
			break;
		case '\f':
			json_put(w, "\\f", 2);
			break;
		case '\n':
			json_put(w, "\\n", 2);
			break;
		case '\r':
			json_put(w, "\\r", 2);
			break;
		case '\t':
			json_put(w, "\\t", 2);
			break;
		default:
			if (*p < 0x20) {
				char esc[8];

				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				json_put(w, esc, 6);
			} else {
				json_put(w, "\\ufffd", 6); /* not UTF-8: one replacement per bad byte */
			}
		}
		p++;
	}
	json_put_char(w, '"');
}

void json_key(struct json_writer *w, const char *key)
{
	if (w->error)
		return;
	if (w->depth == 0 || !bit(w->in_object, w->depth) || w->want_value) {
		json_misuse(w);
		return;
	}
	if (bit(w->has_items, w->depth))
		json_put_char(w, ',');
	w->has_items |= 1ull << w->depth;
	put_escaped(w, key, strlen(key));
	json_put_char(w, ':');
	w->want_value = true;
}

void json_string_len(struct json_writer *w, const char *s, size_t len)
{
	if (!json_value_begin(w))
		return;
	put_escaped(w, s, len);
	json_value_end(w);
}

void json_string(struct json_writer *w, const char *s)
{
	json_string_len(w, s, strlen(s));
}

static void put_scalar(struct json_writer *w, const char *text)
{
	if (!json_value_begin(w))
		return;
	json_put(w, text, strlen(text));
	json_value_end(w);
}

void json_int(struct json_writer *w, long long v)
{
	char num[24];

	snprintf(num, sizeof(num), "%lld", v);
	put_scalar(w, num);
}

void json_uint(struct json_writer *w, unsigned long long v)
{
	char num[24];

	snprintf(num, sizeof(num), "%llu", v);
	put_scalar(w, num);
}

void json_bool(struct json_writer *w, bool v)
{
	put_scalar(w, v ? "true" : "false");
}

void json_null(struct json_writer *w)
{
	put_scalar(w, "null");
}

int json_writer_finish(struct json_writer *w, const char **text)
{
	*text = NULL;
	if (w->error)
		return w->error;
	if (!w->done || w->depth)
		return -EINVAL;
	*text = w->buf;
	return 0;
}

