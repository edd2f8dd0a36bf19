/* Where the control sockets of running VMs live: $HVKVM_RUN_DIR, else /run/hvkvm for root, else
 * $XDG_RUNTIME_DIR/hvkvm, else /tmp/hvkvm-UID; the VM named NAME listens on <run dir>/NAME.sock. */
#ifndef HVKVM_MGMT_RUN_DIR_H
#define HVKVM_MGMT_RUN_DIR_H

#include <stddef.h>

#include "error.h"

/* A VM name: 1-64 of [A-Za-z0-9._+-], not starting with '.' or '-'. */
#define RUN_DIR_NAME_MAX 64
/* sizeof(struct sockaddr_un.sun_path): a socket path is shorter than this. */
#define RUN_DIR_PATH_MAX 108

__attribute__((warn_unused_result))
int run_dir_check_name(const char *name, struct error *err);

/* The run directory's path into buf (nothing created). 0 or -errno with err set. */
__attribute__((warn_unused_result))
int run_dir_get(char *buf, size_t len, struct error *err);

/* The same, and the directory made (mode 0700) if missing. The /tmp fallback must then be a real
 * directory owned by this user and closed to others, or it is refused (someone else's trap). */
__attribute__((warn_unused_result))
int run_dir_prepare(char *buf, size_t len, struct error *err);

/* <run dir>/<name>.sock into buf (at most RUN_DIR_PATH_MAX bytes); the name is checked. */
__attribute__((warn_unused_result))
int run_dir_socket_path(char *buf, size_t len, const char *dir, const char *name,
			struct error *err);

#endif
