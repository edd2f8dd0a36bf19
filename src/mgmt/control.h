/* The per-VM control socket: a unix stream socket that takes one JSON request per line,
 * {"command":"kvp-set","args":["k","v w"]}, and answers each, in order, with one line:
 * {"ok":true,"result":<json>,"text":"..."} or {"ok":false,"error":"..."}. */
#ifndef HVKVM_MGMT_CONTROL_H
#define HVKVM_MGMT_CONTROL_H

#include <stdbool.h>

#include "error.h"
#include "event_loop.h"
#include "mgmt/json.h"

/* A request line is at most this long, newline included; a longer one is answered with an error
 * and the client is disconnected. */
#define CONTROL_LINE_MAX 65536
/* Clients at once; one more is answered with an error and disconnected. */
#define CONTROL_CLIENTS_MAX 16

struct control_server;
struct control_request;

/* Loop thread only, or before the loop runs. path given: listen there; else on the run-dir socket
 * of name (see run_dir.h; the directory is created). A socket file that answers means the name
 * (or path) is in use: -EADDRINUSE; one that refuses connections is stale and replaced; a
 * non-socket file there is left alone (-EEXIST). The socket is mode 0600. */
__attribute__((warn_unused_result))
int control_server_open(struct control_server **out, struct event_loop *loop, const char *name,
			const char *path, struct error *err);
/* On the loop's thread while the loop is not running (it turns the loop itself until the
 * server's own polls are done), never from a callback. Drops the clients (pending requests
 * become orphaned: see control_reply), removes the socket file if it is still ours. */
void control_server_close(struct control_server *s);
const char *control_server_path(const struct control_server *s);

/* Runs on the loop thread for each request of `command`. argv (argc strings) stays valid until
 * the request is answered. The handler answers with control_reply or control_reply_error,
 * exactly once, now or from a later loop callback (it keeps req meanwhile). The connection's
 * next request waits for that answer. */
typedef void control_handler_fn(void *opaque, struct control_request *req, unsigned argc,
				const char *const *argv);

/* Loop thread only. command: 1-32 of [a-z0-9-]; usage: the one-line help after the command name
 * in `help`: the arguments, two spaces, what it does, e.g. "KEY VALUE  set a host-to-guest KVP
 * key", or "  report the guest's heartbeat" without arguments (NULL: nothing). -EEXIST for a
 * command there already (help and ping are built in), -EINVAL for a bad name or no fn, -ENOMEM. */
__attribute__((warn_unused_result))
int control_register(struct control_server *s, const char *command, const char *usage,
		     control_handler_fn *fn, void *opaque);
/* Loop thread only. Requests already handed to the handler are still its to answer. */
void control_unregister(struct control_server *s, const char *command);

/* Loop thread only. Answers req and frees it. result_json: one JSON value (NULL means {}),
 * checked and sent compacted (invalid JSON is turned into an error answer and logged); text:
 * what a human sees, may be multi-line (NULL means ""). A request whose client has gone
 * (orphaned) is just freed: owners of pending requests answer them before going away too, even
 * after the server was closed. */
void control_reply(struct control_request *req, const char *result_json, const char *text);
/* control_reply with the JSON w holds as the result (an error answer if the writer failed);
 * frees w's buffer. */
void control_reply_json(struct control_request *req, struct json_writer *w, const char *text);
__attribute__((format(printf, 2, 3)))
void control_reply_error(struct control_request *req, const char *fmt, ...);
/* The client that sent req went away: its answer will be discarded. */
bool control_request_orphaned(const struct control_request *req);

#endif
