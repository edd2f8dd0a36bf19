/* Internals of the JSON code shared by json_write.c (the writer) and json_read.c (the reader,
 * which decodes strings into writer buffers and checks json_raw's text). */
#ifndef HVKVM_MGMT_JSON_INTERNAL_H
#define HVKVM_MGMT_JSON_INTERNAL_H

#include "mgmt/json.h"

/* Length of the well-formed UTF-8 sequence at p (RFC 3629), or 0. */
size_t json_utf8_sequence(const unsigned char *p, size_t avail);
/* Appends bytes to w's buffer (recording a failure instead when out of memory). */
void json_put(struct json_writer *w, const void *data, size_t n);
void json_put_char(struct json_writer *w, char c);
/* Records a misuse: json_writer_finish will fail. */
void json_misuse(struct json_writer *w);
/* Around one value: separators and the nesting state. false: the value may not come here. */
bool json_value_begin(struct json_writer *w);
void json_value_end(struct json_writer *w);

#endif
