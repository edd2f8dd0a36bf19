/* The user's terminal while the guest console is on it: raw mode (keys such as Ctrl-C go to
 * the guest), and the saved settings restored on every way out. */
#ifndef HVKVM_TERMINAL_H
#define HVKVM_TERMINAL_H

#include <stdbool.h>
#include <termios.h>

struct terminal {
	int fd;
	bool raw;
	struct termios saved;
};

/* Puts fd in raw mode if it is a terminal; does nothing otherwise. */
void terminal_enter_raw(struct terminal *t, int fd);
void terminal_restore(struct terminal *t);

#endif
