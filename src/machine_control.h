/* How a device asks the machine to end or restart (PM1 sleep, reset line, debug-exit port). */
#ifndef HVKVM_MACHINE_CONTROL_H
#define HVKVM_MACHINE_CONTROL_H

enum machine_event {
	MACHINE_POWEROFF,   /* guest powered off: hvkvm exits 0 */
	MACHINE_RESET,      /* guest reset: restart, or exit 0 with --on-reboot exit */
	MACHINE_DEBUG_EXIT, /* status carries the exit code */
	MACHINE_FAILURE,    /* triple fault, internal error: exit 1 */
	MACHINE_GUEST_CRASH,/* the guest reported a crash (Hyper-V crash MSRs): exit 3, or restart */
};

struct machine_control {
	/* Any thread; the first request wins, later ones are ignored. */
	void (*request)(void *ctx, enum machine_event event, int status);
	void *ctx;
};

static inline void machine_request(const struct machine_control *mc, enum machine_event ev,
				   int status)
{
	mc->request(mc->ctx, ev, status);
}

#endif
