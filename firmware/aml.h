/* A small ACPI Machine Language byte-code encoder for the DSDT: names, integers, strings,
 * packages, buffers, Scope/Device/Method blocks and resource templates (ACPI 6.5 sections 6.4, 20). */
#ifndef HVKVM_AML_H
#define HVKVM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Output buffer. Every call appends; the first failure (-ENOSPC when cap is exceeded, -EINVAL for a
 * malformed name or argument) is kept in err and later calls do nothing, so a caller writes a
 * whole table and checks aml_finish() once. */
struct aml_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int err;
};

/* data NULL (with cap SIZE_MAX) only measures: len grows as if the bytes were written. Encoding
 * never needs more room than the final length. */
void aml_init(struct aml_buf *b, uint8_t *data, size_t cap);
/* The first error (0 or -errno). */
int aml_finish(const struct aml_buf *b);

void aml_byte(struct aml_buf *b, uint8_t v);
void aml_raw(struct aml_buf *b, const void *bytes, size_t n);

/* NameString: "\\_SB.COM1", "^PCI0", "_S5" (segments shorter than 4 characters are padded with
 * '_'), "\\" alone is the root. */
void aml_name_string(struct aml_buf *b, const char *path);
/* Shortest encoding: ZeroOp, OneOp, Byte/Word/DWord/QWordPrefix. */
void aml_integer(struct aml_buf *b, uint64_t v);
/* StringPrefix, ASCII bytes 0x01-0x7F, NUL. */
void aml_string(struct aml_buf *b, const char *s);
/* A 7-character EISA/PNP id ("PNP0501") compressed to a DWord integer. */
void aml_eisaid(struct aml_buf *b, const char *id);
/* BufferOp with its size and bytes. */
void aml_buffer(struct aml_buf *b, const void *bytes, size_t n);

/* NameOp and the name: the caller appends the object (integer, string, package...) next. */
void aml_name(struct aml_buf *b, const char *name);
/* ReturnOp: the caller appends the operand next. */
void aml_return(struct aml_buf *b);

/* Blocks with a PkgLength: each *_begin returns a mark that the matching aml_end() takes; blocks
 * nest. */
size_t aml_scope_begin(struct aml_buf *b, const char *name);
size_t aml_device_begin(struct aml_buf *b, const char *name);
size_t aml_method_begin(struct aml_buf *b, const char *name, unsigned nargs, bool serialized);
size_t aml_package_begin(struct aml_buf *b, unsigned nelems);
void aml_end(struct aml_buf *b, size_t mark);

/* Resource template descriptors (section 6.4), appended to a separate aml_buf that is then
 * wrapped with aml_buffer(). aml_res_end() appends the End Tag. */
void aml_res_io(struct aml_buf *r, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
void aml_res_irq_noflags(struct aml_buf *r, unsigned irq);
void aml_res_dword_memory(struct aml_buf *r, uint32_t min, uint32_t len);
void aml_res_end(struct aml_buf *r);

#endif
