/* Tiny assertion helpers for the unit tests (see unit.h). */
#include "unit.h"

unsigned unit_checks, unit_failures;

int unit_done(const char *name)
{
	printf("%s: %u checks, %u failed\n", name, unit_checks, unit_failures);
	return unit_failures ? 1 : 0;
}

static void record_request(void *ctx, enum machine_event event, int status)
{
	struct unit_machine_recorder *r = ctx;

	r->calls++;
	r->event = event;
	r->status = status;
}

struct machine_control unit_machine_control(struct unit_machine_recorder *rec)
{
	return (struct machine_control){.request = record_request, .ctx = rec};
}
