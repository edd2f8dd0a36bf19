/* Logging with a module tag and a level, to stderr. Guest-caused faults use log_guest_ratelimited. */
#ifndef HVKVM_LOG_H
#define HVKVM_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);

__attribute__((format(printf, 3, 4)))
void log_msg(enum log_level level, const char *tag, const char *fmt, ...);

/* Rate-limited message about something the guest did wrong: at most a burst of 10, then one per
 * second, per call site (state is the caller's static counter block). */
struct log_ratelimit {
	long window_start;
	unsigned count;
	unsigned suppressed;
};

__attribute__((format(printf, 3, 4)))
void log_guest(struct log_ratelimit *rl, const char *tag, const char *fmt, ...);

#define log_error(tag, ...) log_msg(LOG_ERROR, tag, __VA_ARGS__)
#define log_warn(tag, ...) log_msg(LOG_WARN, tag, __VA_ARGS__)
#define log_info(tag, ...) log_msg(LOG_INFO, tag, __VA_ARGS__)
#define log_debug(tag, ...) \
	do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, tag, __VA_ARGS__); } while (0)

/* Guest-fault log with a per-call-site limiter. */
#define log_guest_fault(tag, ...) \
	do { static struct log_ratelimit rl_; log_guest(&rl_, tag, __VA_ARGS__); } while (0)

#endif
