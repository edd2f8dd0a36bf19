/* Host clocks read in nanoseconds (POSIX clock_gettime). */
#ifndef HVKVM_CLOCK_H
#define HVKVM_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
