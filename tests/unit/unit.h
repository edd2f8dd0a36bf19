/* Tiny assertion helpers for the unit tests: each failed check prints file:line and counts;
 * unit_done() prints the summary and returns the exit status. */
#ifndef HVKVM_UNIT_H
#define HVKVM_UNIT_H

#include <stdint.h>
#include <stdio.h>

extern unsigned unit_checks, unit_failures;

#define CHECK(cond)                                                                   \
	do {                                                                          \
		unit_checks++;                                                        \
		if (!(cond)) {                                                        \
			unit_failures++;                                              \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                     \
	} while (0)

#define CHECK_EQ(a, b)                                                                \
	do {                                                                          \
		long long a_ = (long long)(a), b_ = (long long)(b);                   \
		unit_checks++;                                                        \
		if (a_ != b_) {                                                       \
			unit_failures++;                                              \
			fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, \
				__LINE__, #a, #b, a_, b_);                            \
		}                                                                     \
	} while (0)

int unit_done(const char *name);

/* A machine_control that records the requests it gets, for device tests. */
#include "src/machine_control.h"

struct unit_machine_recorder {
	unsigned calls;
	enum machine_event event;
	int status;
};

struct machine_control unit_machine_control(struct unit_machine_recorder *rec);

#endif
