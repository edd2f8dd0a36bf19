/* The user's terminal in raw mode while the guest console is on it (POSIX termios). */
#include "terminal.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

/* The one terminal whose settings a fatal signal must restore. A signal handler can only reach
 * it through a static; it is set once before the vCPUs start. */
static struct terminal *fatal_restore;

static void restore_on_fatal_signal(int sig)
{
	if (fatal_restore && fatal_restore->raw)
		tcsetattr(fatal_restore->fd, TCSAFLUSH, &fatal_restore->saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

void terminal_enter_raw(struct terminal *t, int fd)
{
	static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE};
	struct termios raw;

	memset(t, 0, sizeof(*t));
	t->fd = fd;
	if (!isatty(fd) || tcgetattr(fd, &t->saved) < 0)
		return;
	raw = t->saved;
	cfmakeraw(&raw); /* the guest sends \r\n itself; our own messages do too */
	if (tcsetattr(fd, TCSAFLUSH, &raw) < 0)
		return;
	t->raw = true;
	fatal_restore = t;
	for (unsigned i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
		signal(fatal_signals[i], restore_on_fatal_signal);
}

void terminal_restore(struct terminal *t)
{
	if (!t->raw)
		return;
	tcsetattr(t->fd, TCSAFLUSH, &t->saved);
	t->raw = false;
}
