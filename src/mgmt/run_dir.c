/* The run directory of hvkvm's control sockets (see run_dir.h); the order of the places follows the
 * XDG Base Directory spec's advice for runtime files, with /run for root as system services do. */
#include "mgmt/run_dir.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int run_dir_check_name(const char *name, struct error *err)
{
	size_t n = strlen(name);

	if (n == 0 || n > RUN_DIR_NAME_MAX)
		return error_set(err, EINVAL, "a VM name has 1 to %d characters", RUN_DIR_NAME_MAX);
	if (name[0] == '.' || name[0] == '-')
		return error_set(err, EINVAL, "VM name '%s' starts with '%c'", name, name[0]);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '+' || c == '-'))
			return error_set(err, EINVAL,
					 "VM name '%s': only letters, digits and . _ + - are allowed",
					 name);
	}
	return 0;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && v[0] ? v : NULL;
}

/* The directory, and whether it is the shared-/tmp fallback (which needs the strict checks). */
static int resolve(char *buf, size_t len, bool *in_tmp, struct error *err)
{
	const char *dir = env("HVKVM_RUN_DIR"), *xdg = env("XDG_RUNTIME_DIR");
	int n;

	*in_tmp = false;
	if (dir) {
		if (dir[0] != '/')
			return error_set(err, EINVAL, "HVKVM_RUN_DIR must be an absolute path, not '%s'",
					 dir);
		n = snprintf(buf, len, "%s", dir);
	} else if (geteuid() == 0) {
		n = snprintf(buf, len, "/run/hvkvm");
	} else if (xdg && xdg[0] == '/') {
		n = snprintf(buf, len, "%s/hvkvm", xdg);
	} else {
		n = snprintf(buf, len, "/tmp/hvkvm-%u", (unsigned)geteuid());
		*in_tmp = true;
	}
	if (n < 0 || (size_t)n >= len)
		return error_set(err, ENAMETOOLONG, "the run directory's path is too long");
	/* "dir/" and "dir" are the same place; keep the socket paths tidy. */
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	return 0;
}

int run_dir_get(char *buf, size_t len, struct error *err)
{
	bool in_tmp;

	return resolve(buf, len, &in_tmp, err);
}

/* mkdir -p with mode 0700 for what it creates. */
static int make_dirs(char *path, struct error *err)
{
	for (char *p = path + 1;; p++) {
		bool last = *p == '\0';

		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			int e = errno;

			if (!last)
				*p = '/';
			return error_set(err, e, "cannot create the run directory %s: %s", path,
					 strerror(e));
		}
		if (last)
			return 0;
		*p = '/';
	}
}

int run_dir_prepare(char *buf, size_t len, struct error *err)
{
	struct stat st;
	bool in_tmp;
	int ret = resolve(buf, len, &in_tmp, err);

	if (ret < 0)
		return ret;
	ret = make_dirs(buf, err);
	if (ret < 0)
		return ret;
	if ((in_tmp ? lstat(buf, &st) : stat(buf, &st)) < 0)
		return error_set(err, errno, "run directory %s: %s", buf, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return error_set(err, ENOTDIR, "run directory %s is not a directory", buf);
	if (in_tmp && (st.st_uid != geteuid() || (st.st_mode & 077)))
		return error_set(err, EPERM,
				 "run directory %s belongs to someone else or is open to others; "
				 "remove it or set HVKVM_RUN_DIR", buf);
	return 0;
}

int run_dir_socket_path(char *buf, size_t len, const char *dir, const char *name,
			struct error *err)
{
	int ret = run_dir_check_name(name, err);
	int n;

	if (ret < 0)
		return ret;
	n = snprintf(buf, len, "%s/%s.sock", dir, name);
	if (n < 0 || (size_t)n >= len || n >= RUN_DIR_PATH_MAX)
		return error_set(err, ENAMETOOLONG,
				 "socket path %s/%s.sock is too long (a socket path has at most %d bytes)",
				 dir, name, RUN_DIR_PATH_MAX - 1);
	return 0;
}
