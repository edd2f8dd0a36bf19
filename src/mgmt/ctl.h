/* `hvkvm ctl`: the client of a running VM's control socket (wire format in control.h). */
#ifndef HVKVM_MGMT_CTL_H
#define HVKVM_MGMT_CTL_H

#include <stdio.h>

#include "error.h"
#include "mgmt/json.h"

#define CTL_EXIT_OK 0      /* the VM answered ok */
#define CTL_EXIT_ERROR 1   /* the VM answered with an error, or the exchange broke off */
#define CTL_EXIT_USAGE 2   /* bad usage, or no VM there */
#define CTL_EXIT_TIMEOUT 3 /* no answer in time */

#define CTL_TIMEOUT_DEFAULT_MS 30000

/* One request and its answer over the socket at path; timeout_ms bounds the whole exchange.
 * 0 with *answer filled (ok or an error answer: see answer->ok). -ETIMEDOUT: no answer in time;
 * -EPROTO: connected, but the exchange failed (err says how); -E2BIG: the request is longer than
 * a request line may be; -EILSEQ: an argument is not UTF-8; any other -errno: connect() failed
 * (-ENOENT no socket, -ECONNREFUSED nothing listening). err is set on every failure. */
__attribute__((warn_unused_result))
int ctl_call(const char *path, const char *command, unsigned argc, const char *const *args,
	     int timeout_ms, struct json_answer *answer, struct error *err);

/* `hvkvm ctl [--json] [--timeout SECONDS] VM COMMAND [ARGS...]` and `hvkvm ctl [--json] --list`;
 * argv[0] is "ctl". Prints to out and errout and returns a CTL_EXIT_* status. */
int ctl_main(int argc, char **argv, FILE *out, FILE *errout);

#endif
