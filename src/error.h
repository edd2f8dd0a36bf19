/* A readable error for the user: one line, carried up from where it happened to main. */
#ifndef HVKVM_ERROR_H
#define HVKVM_ERROR_H

#include <stdarg.h>

struct error {
	char msg[512];
};

/* Formats the message into err (if non-NULL) and returns -code, so callers can write
 * `return error_set(err, EINVAL, "bad thing %d", x);`. code is a positive errno. */
__attribute__((format(printf, 3, 4)))
int error_set(struct error *err, int code, const char *fmt, ...);

#endif
