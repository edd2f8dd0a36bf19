/* Parsing of user-given sizes and numbers ("512M", "4G", "0x3f8"). */
#ifndef HVKVM_SIZE_PARSE_H
#define HVKVM_SIZE_PARSE_H

#include <stdint.h>

/* A size with an optional binary suffix K, M, G or T (case-insensitive, "iB"/"B" allowed after
 * it); a plain number means MiB, as QEMU's -m. Returns 0, or -EINVAL / -ERANGE. */
__attribute__((warn_unused_result))
int size_parse(const char *s, uint64_t *out);

/* An unsigned integer in decimal or 0x-hex, whole string, <= max. Returns 0 or -EINVAL/-ERANGE. */
__attribute__((warn_unused_result))
int uint_parse(const char *s, uint64_t max, uint64_t *out);

#endif
