/* What the control socket's files share (control.c: clients and the socket; control_commands.c:
 * the command table and the built-in commands). Private to src/mgmt. Loop thread only. */
#ifndef HVKVM_MGMT_CONTROL_INTERNAL_H
#define HVKVM_MGMT_CONTROL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "event_loop.h"
#include "mgmt/control.h"
#include "mgmt/json.h"
#include "mgmt/run_dir.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

struct control_command {
	struct control_command *next; /* sorted by name */
	char *name;
	char *usage;
	control_handler_fn *fn;
	void *opaque;
	bool builtin;
};

struct control_request {
	struct control_client *client; /* NULL once orphaned */
	struct json_request parsed;
};

struct control_client {
	struct control_server *s;
	struct control_client *next; /* in s->clients, or in s->zombies once dropped */
	int fd;
	struct event_op in_op, out_op;
	bool in_polling, out_polling; /* the op is in flight */
	bool read_done;               /* EOF read, or input given up after an overlong line */
	bool peer_gone;               /* hung up or reset: answers cannot reach it */
	bool servicing, again;        /* client_service is on the stack; run it once more */
	bool dropped;
	struct control_request *pending;
	char *out;
	size_t out_off, out_len, out_cap;
	size_t in_off, in_len; /* unconsumed input is in[in_off, in_len) */
	char in[CONTROL_LINE_MAX];
};

struct control_server {
	struct event_loop *loop;
	int listen_fd;
	struct event_op listen_op;
	bool listen_polling;
	bool closing;
	dev_t dev;
	ino_t ino;
	char *name;
	char path[RUN_DIR_PATH_MAX];
	struct control_command *commands;
	struct control_client *clients, *zombies;
	unsigned nclients;
};

/* The command named name, or NULL. */
struct control_command *control_find_command(struct control_server *s, const char *name);
void control_command_free(struct control_command *cmd);
/* Registers help and ping. 0 or -ENOMEM. */
int control_add_builtins(struct control_server *s);

#endif
