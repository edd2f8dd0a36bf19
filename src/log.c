/* Logging with a module tag and a level, to stderr (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

/* The one process-wide setting: written once by main before any thread starts. */
static enum log_level max_level = LOG_WARN;

void log_set_level(enum log_level level)
{
	max_level = level;
}

bool log_enabled(enum log_level level)
{
	return level <= max_level;
}

static const char *const level_names[] = {"error", "warning", "info", "debug"};

static void vlog(enum log_level level, const char *tag, const char *fmt, va_list ap)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "hvkvm: %s: %s: ", tag, level_names[level]);

	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	/* One fprintf per line so lines from several threads do not interleave. The message goes
	 * after a \r\n when stdout may be a raw terminal sharing the screen. */
	fprintf(stderr, "%s\r\n", line);
}

void log_msg(enum log_level level, const char *tag, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vlog(level, tag, fmt, ap);
	va_end(ap);
}

void log_guest(struct log_ratelimit *rl, const char *tag, const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	if (!log_enabled(LOG_WARN))
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (ts.tv_sec != rl->window_start) {
		if (rl->suppressed)
			log_msg(LOG_WARN, tag, "%u similar guest errors suppressed", rl->suppressed);
		rl->window_start = ts.tv_sec;
		rl->count = 0;
		rl->suppressed = 0;
	}
	if (rl->count >= 10) {
		rl->suppressed++;
		return;
	}
	rl->count++;
	va_start(ap, fmt);
	vlog(LOG_WARN, tag, fmt, ap);
	va_end(ap);
}
