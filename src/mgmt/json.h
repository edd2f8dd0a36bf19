/* JSON text (RFC 8259) for the control socket: a writer that escapes strings correctly, and a strict
 * reader for the two line formats of control.h (the request and the answer). */
#ifndef HVKVM_MGMT_JSON_H
#define HVKVM_MGMT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Containers nest at most this deep, in the writer and the reader. */
#define JSON_DEPTH_MAX 32

/* Builds one JSON value. The calls record a failure (out of memory, a value where a key is due, too
 * deep...) instead of returning it; json_writer_finish reports it once at the end. Strings are C
 * strings or (pointer, length); bytes that are not well-formed UTF-8 become U+FFFD, so the output is
 * always valid JSON whatever the input (a guest's KVP value, say). */
struct json_writer {
	char *buf;
	size_t len, cap;
	unsigned depth;
	uint64_t has_items; /* bit d: the container open at depth d has a member already */
	uint64_t in_object; /* bit d: that container is an object */
	bool want_value;    /* a key was written: its value comes next */
	bool done;          /* the top-level value is complete */
	int error;          /* 0, -ENOMEM or -EINVAL (misuse) */
};

void json_writer_init(struct json_writer *w);
void json_writer_free(struct json_writer *w);
/* The text (NUL-terminated, owned by w until json_writer_free), or -ENOMEM / -EINVAL when a call
 * failed or the value is incomplete. */
__attribute__((warn_unused_result))
int json_writer_finish(struct json_writer *w, const char **text);

void json_object_begin(struct json_writer *w);
void json_object_end(struct json_writer *w);
void json_array_begin(struct json_writer *w);
void json_array_end(struct json_writer *w);
void json_key(struct json_writer *w, const char *key);
void json_string(struct json_writer *w, const char *s);
void json_string_len(struct json_writer *w, const char *s, size_t len);
void json_int(struct json_writer *w, long long v);
void json_uint(struct json_writer *w, unsigned long long v);
void json_bool(struct json_writer *w, bool v);
void json_null(struct json_writer *w);
/* A value that is JSON text already: checked (strictly, one value) and copied without the
 * insignificant whitespace, so it stays on one line. Invalid text fails the writer (-EINVAL). */
void json_raw(struct json_writer *w, const char *text, size_t len);

/* Whether s[0..len) is well-formed UTF-8 (RFC 3629). */
bool json_utf8_valid(const char *s, size_t len);

/* {"command":"NAME","args":["A","B"]}: command a non-empty string, args (optional) an array of
 * strings; other members are ignored, a repeated member is an error. Strings are decoded
 * (escapes, surrogate pairs) and must be valid UTF-8 without NUL. At most JSON_ARGS_MAX args. */
#define JSON_ARGS_MAX 256
struct json_request {
	char *command;
	char **args; /* argc strings, then NULL */
	unsigned argc;
};

/* 0, -EINVAL (err says what and at which byte) or -ENOMEM. On failure req holds nothing. */
__attribute__((warn_unused_result))
int json_request_parse(struct json_request *req, const char *line, size_t len, struct error *err);
void json_request_free(struct json_request *req);

/* {"ok":true,"result":VALUE,"text":"..."} or {"ok":false,"error":"..."}; unknown members ignored. */
struct json_answer {
	bool ok;
	char *result; /* compact JSON text; "null" when the answer had none */
	char *text;   /* "" when absent */
	char *error;  /* set when !ok */
};

__attribute__((warn_unused_result))
int json_answer_parse(struct json_answer *a, const char *line, size_t len, struct error *err);
void json_answer_free(struct json_answer *a);

#endif
