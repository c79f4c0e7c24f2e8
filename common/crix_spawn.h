/* One way to start a child: a clean fd set, a chosen environment, and the exec error
 * reported back over a close-on-exec pipe. Used for the monitor, CNI plugins and hooks. */
#ifndef CRIX_SPAWN_H
#define CRIX_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "crix_err.h"

struct crix_spawn_opts {
	const char *path;    /* executable; searched in PATH when it has no '/' */
	char *const *argv;   /* NULL-terminated */
	char *const *envp;   /* NULL = inherit the caller's environment */
	int stdin_fd;        /* -1 = /dev/null */
	int stdout_fd;       /* -1 = /dev/null */
	int stderr_fd;       /* -1 = /dev/null */
	const int *extra_fds; /* become fds 3, 4, ... in the child, in this order */
	size_t n_extra_fds;
	const char *cwd;     /* NULL = unchanged */
	bool new_session;    /* setsid() in the child */
};

/* Starts the child; on success *pid is its pid. Fails (with the child's exec errno) when
 * the program could not be executed. Every other fd is closed in the child. */
int crix_spawn(const struct crix_spawn_opts *opts, pid_t *pid, struct crix_err **err);

/* The helper program NAME of the running program's installation: <prefix>/libexec/crix/NAME
 * for <prefix>/bin/program (malloc'd; the build tree is laid out the same way). */
int crix_helper_path(const char *name, char **out, struct crix_err **err);

/* waitpid() retrying on EINTR; returns the raw status or -1. */
int crix_wait(pid_t pid, int *status);

#endif
