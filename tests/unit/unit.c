/* Tiny assertion helpers for the unit tests (see unit.h). */
#include "unit.h"

unsigned unit_checks, unit_failures;

int unit_done(const char *name)
{
	printf("%s: %u checks, %u failed\n", name, unit_checks, unit_failures);
	return unit_failures ? 1 : 0;
}
