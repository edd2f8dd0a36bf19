/* JSON text per RFC 8259 (see json.h), the reader: accepts exactly the grammar of sections 2-7;
 * the control socket's requests and answers, and json_raw's check of embedded JSON. */
#include "mgmt/json_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reader ---- */

struct parser {
	const unsigned char *start, *p, *end;
	unsigned depth;
	struct error *err;
};

static int fail(struct parser *ps, const char *what)
{
	return error_set(ps->err, EINVAL, "%s at byte %zu", what, (size_t)(ps->p - ps->start));
}

static int out_of_memory(struct parser *ps)
{
	return error_set(ps->err, ENOMEM, "out of memory");
}

static void skip_space(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static bool at(struct parser *ps, char c)
{
	return ps->p < ps->end && *ps->p == (unsigned char)c;
}

static int hex4(struct parser *ps, unsigned *v)
{
	*v = 0;
	if (ps->end - ps->p < 4)
		return fail(ps, "short \\u escape");
	for (int i = 0; i < 4; i++) {
		unsigned char c = *ps->p++;

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			*v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			*v |= c - 'A' + 10;
		else
			return fail(ps, "bad hex digit in \\u escape");
	}
	return 0;
}

static void put_utf8(struct json_writer *w, unsigned cp)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | cp >> 6);
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | cp >> 18);
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	json_put(w, b, n);
}

/* The \ escape at ps->p (just past the backslash): its code point, after a low surrogate too. */
static int parse_escape(struct parser *ps, unsigned *cp)
{
	static const char simple[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
	unsigned lo;
	int ret;

	if (ps->p == ps->end)
		return fail(ps, "unterminated string");
	if (*ps->p != 'u') {
		for (const char *e = simple; *e; e += 2)
			if (*ps->p == (unsigned char)e[0]) {
				*cp = (unsigned char)e[1];
				ps->p++;
				return 0;
			}
		return fail(ps, "unknown escape in string");
	}
	ps->p++;
	ret = hex4(ps, cp);
	if (ret < 0)
		return ret;
	if (*cp >= 0xdc00 && *cp <= 0xdfff)
		return fail(ps, "lone low surrogate in string");
	if (*cp < 0xd800 || *cp > 0xdbff)
		return 0;
	if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
		return fail(ps, "lone high surrogate in string");
	ps->p += 2;
	ret = hex4(ps, &lo);
	if (ret < 0)
		return ret;
	if (lo < 0xdc00 || lo > 0xdfff)
		return fail(ps, "lone high surrogate in string");
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	return 0;
}

/* A string at ps->p (its opening quote). decoded: receives the text (no NUL allowed in it);
 * raw: receives the JSON text as it stands. Either may be NULL. */
static int parse_string(struct parser *ps, struct json_writer *decoded, struct json_writer *raw)
{
	const unsigned char *open = ps->p;

	ps->p++;
	for (;;) {
		unsigned char c;
		size_t n;

		if (ps->p == ps->end)
			return fail(ps, "unterminated string");
		c = *ps->p;
		if (c == '"')
			break;
		if (c == '\\') {
			unsigned cp;
			int ret;

			ps->p++;
			ret = parse_escape(ps, &cp);
			if (ret < 0)
				return ret;
			if (decoded) {
				if (cp == 0)
					return fail(ps, "NUL character in string");
				put_utf8(decoded, cp);
			}
			continue;
		}
		if (c < 0x20)
			return fail(ps, "control character in string");
		n = json_utf8_sequence(ps->p, (size_t)(ps->end - ps->p));
		if (!n)
			return fail(ps, "invalid UTF-8 in string");
		if (decoded)
			json_put(decoded, ps->p, n);
		ps->p += n;
	}
	ps->p++;
	if (raw)
		json_put(raw, open, (size_t)(ps->p - open));
	if ((decoded && decoded->error) || (raw && raw->error))
		return out_of_memory(ps);
	return 0;
}

static bool digit(struct parser *ps)
{
	return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9';
}

static int parse_number(struct parser *ps, struct json_writer *raw)
{
	const unsigned char *from = ps->p;

	if (at(ps, '-'))
		ps->p++;
	if (at(ps, '0')) {
		ps->p++;
	} else if (digit(ps)) {
		while (digit(ps))
			ps->p++;
	} else {
		return fail(ps, "bad number");
	}
	if (at(ps, '.')) {
		ps->p++;
		if (!digit(ps))
			return fail(ps, "bad number");
		while (digit(ps))
			ps->p++;
	}
	if (at(ps, 'e') || at(ps, 'E')) {
		ps->p++;
		if (at(ps, '+') || at(ps, '-'))
			ps->p++;
		if (!digit(ps))
			return fail(ps, "bad number");
		while (digit(ps))
			ps->p++;
	}
	if (raw)
		json_put(raw, from, (size_t)(ps->p - from));
	return 0;
}

static int parse_literal(struct parser *ps, const char *word, struct json_writer *raw)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return fail(ps, "unexpected character");
	ps->p += n;
	if (raw)
		json_put(raw, word, n);
	return 0;
}

static int parse_value(struct parser *ps, struct json_writer *raw);

/* An object or array at ps->p; members separated by ',' and checked by parse_value. */
static int parse_container(struct parser *ps, struct json_writer *raw)
{
	bool object = *ps->p == '{';
	char close = object ? '}' : ']';
	int ret;

	if (ps->depth >= JSON_DEPTH_MAX)
		return fail(ps, "nested too deep");
	ps->depth++;
	if (raw)
		json_put_char(raw, (char)*ps->p);
	ps->p++;
	skip_space(ps);
	if (at(ps, close))
		goto closed;
	for (;;) {
		skip_space(ps);
		if (object) {
			if (!at(ps, '"'))
				return fail(ps, "expected a member name");
			ret = parse_string(ps, NULL, raw);
			if (ret < 0)
				return ret;
			skip_space(ps);
			if (!at(ps, ':'))
				return fail(ps, "expected ':'");
			ps->p++;
			if (raw)
				json_put_char(raw, ':');
		}
		ret = parse_value(ps, raw);
		if (ret < 0)
			return ret;
		skip_space(ps);
		if (at(ps, close))
			break;
		if (!at(ps, ','))
			return fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
		ps->p++;
		if (raw)
			json_put_char(raw, ',');
	}
closed:
	ps->p++;
	ps->depth--;
	if (raw) {
		json_put_char(raw, close);
		if (raw->error)
			return out_of_memory(ps);
	}
	return 0;
}

static int parse_value(struct parser *ps, struct json_writer *raw)
{
	skip_space(ps);
	if (ps->p == ps->end)
		return fail(ps, "unexpected end");
	switch (*ps->p) {
	case '{':
	case '[':
		return parse_container(ps, raw);
	case '"':
		return parse_string(ps, NULL, raw);
	case 't':
		return parse_literal(ps, "true", raw);
	case 'f':
		return parse_literal(ps, "false", raw);
	case 'n':
		return parse_literal(ps, "null", raw);
	default:
		if (*ps->p == '-' || digit(ps))
			return parse_number(ps, raw);
		return fail(ps, "unexpected character");
	}
}

static void parser_init(struct parser *ps, const char *text, size_t len, struct error *err)
{
	ps->start = ps->p = (const unsigned char *)text;
	ps->end = ps->start + len;
	ps->depth = 0;
	ps->err = err;
}

void json_raw(struct json_writer *w, const char *text, size_t len)
{
	struct parser ps;

	if (!json_value_begin(w))
		return;
	parser_init(&ps, text, len, NULL);
	if (parse_value(&ps, w) < 0) {
		json_misuse(w);
		return;
	}
	skip_space(&ps);
	if (ps.p != ps.end) {
		json_misuse(w);
		return;
	}
	json_value_end(w);
}

/* A decoded string taken out of its buffer (a new empty string when nothing was written). */
static int take_string(struct parser *ps, struct json_writer *b, char **out)
{
	if (!b->buf)
		json_put(b, "", 0);
	if (b->error) {
		json_writer_free(b);
		return out_of_memory(ps);
	}
	*out = b->buf;
	b->buf = NULL;
	json_writer_free(b);
	return 0;
}

static int parse_decoded(struct parser *ps, char **out)
{
	struct json_writer b;
	int ret;

	json_writer_init(&b);
	ret = parse_string(ps, &b, NULL);
	if (ret < 0) {
		json_writer_free(&b);
		return ret;
	}
	return take_string(ps, &b, out);
}

/* Walks the top-level object, calling member() for each name (decoded); member parses the value. */
static int parse_members(struct parser *ps, const char *kind,
			 int (*member)(struct parser *ps, const char *name, void *ctx), void *ctx)
{
	int ret;

	skip_space(ps);
	if (!at(ps, '{')) {
		char what[64];

		snprintf(what, sizeof(what), "%s is not a JSON object", kind);
		return fail(ps, what);
	}
	ps->p++;
	ps->depth = 1;
	skip_space(ps);
	if (at(ps, '}'))
		goto closed;
	for (;;) {
		char *name;

		skip_space(ps);
		if (!at(ps, '"'))
			return fail(ps, "expected a member name");
		ret = parse_decoded(ps, &name);
		if (ret < 0)
			return ret;
		skip_space(ps);
		if (!at(ps, ':')) {
			free(name);
			return fail(ps, "expected ':'");
		}
		ps->p++;
		skip_space(ps);
		ret = member(ps, name, ctx);
		free(name);
		if (ret < 0)
			return ret;
		skip_space(ps);
		if (at(ps, '}'))
			break;
		if (!at(ps, ','))
			return fail(ps, "expected ',' or '}'");
		ps->p++;
	}
closed:
	ps->p++;
	skip_space(ps);
	if (ps->p != ps->end)
		return fail(ps, "trailing characters after the object");
	return 0;
}

static int repeated(struct parser *ps, const char *name)
{
	char what[64];

	snprintf(what, sizeof(what), "repeated member \"%s\"", name);
	return fail(ps, what);
}

static int request_args(struct parser *ps, struct json_request *req)
{
	static const char not_strings[] = "\"args\" must be an array of strings";
	int ret;

	if (!at(ps, '['))
		return fail(ps, not_strings);
	req->args = calloc(1, sizeof(char *));
	if (!req->args)
		return out_of_memory(ps);
	ps->p++;
	skip_space(ps);
	if (at(ps, ']')) {
		ps->p++;
		return 0;
	}
	for (;;) {
		char **grown;

		skip_space(ps);
		if (!at(ps, '"'))
			return fail(ps, not_strings);
		if (req->argc == JSON_ARGS_MAX)
			return fail(ps, "too many args");
		grown = realloc(req->args, (req->argc + 2) * sizeof(char *));
		if (!grown)
			return out_of_memory(ps);
		req->args = grown;
		req->args[req->argc + 1] = NULL;
		ret = parse_decoded(ps, &req->args[req->argc]);
		if (ret < 0)
			return ret;
		req->argc++;
		skip_space(ps);
		if (at(ps, ']'))
			break;
		if (!at(ps, ','))
			return fail(ps, "expected ',' or ']'");
		ps->p++;
	}
	ps->p++;
	return 0;
}

static int request_member(struct parser *ps, const char *name, void *ctx)
{
	struct json_request *req = ctx;

	if (!strcmp(name, "command")) {
		if (req->command)
			return repeated(ps, name);
		if (!at(ps, '"'))
			return fail(ps, "\"command\" must be a string");
		return parse_decoded(ps, &req->command);
	}
	if (!strcmp(name, "args")) {
		if (req->args)
			return repeated(ps, name);
		return request_args(ps, req);
	}
	return parse_value(ps, NULL);
}

void json_request_free(struct json_request *req)
{
	if (req->args)
		for (unsigned i = 0; i < req->argc; i++)
			free(req->args[i]);
	free(req->args);
	free(req->command);
	memset(req, 0, sizeof(*req));
}

int json_request_parse(struct json_request *req, const char *line, size_t len, struct error *err)
{
	struct parser ps;
	int ret;

	memset(req, 0, sizeof(*req));
	parser_init(&ps, line, len, err);
	ret = parse_members(&ps, "the request", request_member, req);
	if (ret == 0 && !req->command)
		ret = error_set(err, EINVAL, "no \"command\" in the request");
	else if (ret == 0 && !req->command[0])
		ret = error_set(err, EINVAL, "empty \"command\"");
	if (ret == 0 && !req->args) {
		req->args = calloc(1, sizeof(char *));
		if (!req->args)
			ret = error_set(err, ENOMEM, "out of memory");
	}
	if (ret < 0)
		json_request_free(req);
	return ret;
}

struct answer_seen {
	struct json_answer *a;
	bool ok;
};

static int answer_member(struct parser *ps, const char *name, void *ctx)
{
	struct answer_seen *seen = ctx;
	struct json_answer *a = seen->a;

	if (!strcmp(name, "ok")) {
		if (seen->ok)
			return repeated(ps, name);
		seen->ok = true;
		if (at(ps, 't')) {
			a->ok = true;
			return parse_literal(ps, "true", NULL);
		}
		if (at(ps, 'f'))
			return parse_literal(ps, "false", NULL);
		return fail(ps, "\"ok\" must be true or false");
	}
	if (!strcmp(name, "result")) {
		struct json_writer raw;
		int ret;

		if (a->result)
			return repeated(ps, name);
		json_writer_init(&raw);
		ret = parse_value(ps, &raw);
		if (ret < 0) {
			json_writer_free(&raw);
			return ret;
		}
		return take_string(ps, &raw, &a->result);
	}
	if (!strcmp(name, "text") || !strcmp(name, "error")) {
		char **slot = name[0] == 't' ? &a->text : &a->error;

		if (*slot)
			return repeated(ps, name);
		if (!at(ps, '"')) {
			char what[64];

			snprintf(what, sizeof(what), "\"%s\" must be a string", name);
			return fail(ps, what);
		}
		return parse_decoded(ps, slot);
	}
	return parse_value(ps, NULL);
}

void json_answer_free(struct json_answer *a)
{
	free(a->result);
	free(a->text);
	free(a->error);
	memset(a, 0, sizeof(*a));
}

int json_answer_parse(struct json_answer *a, const char *line, size_t len, struct error *err)
{
	struct answer_seen seen = {.a = a};
	struct parser ps;
	int ret;

	memset(a, 0, sizeof(*a));
	parser_init(&ps, line, len, err);
	ret = parse_members(&ps, "the answer", answer_member, &seen);
	if (ret == 0 && !seen.ok)
		ret = error_set(err, EINVAL, "no \"ok\" in the answer");
	else if (ret == 0 && !a->ok && !a->error)
		ret = error_set(err, EINVAL, "an error answer without \"error\"");
	if (ret == 0 && !a->result)
		a->result = strdup("null");
	if (ret == 0 && !a->text)
		a->text = strdup("");
	if (ret == 0 && (!a->result || !a->text))
		ret = error_set(err, ENOMEM, "out of memory");
	if (ret < 0)
		json_answer_free(a);
	return ret;
}
