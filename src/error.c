/* A readable error for the user: one line, carried up from where it happened to main. */
#include "error.h"

#include <stdio.h>

int error_set(struct error *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return -code;
}
