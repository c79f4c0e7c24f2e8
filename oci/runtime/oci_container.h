/* crix-runtime's operations on containers, one function per CLI command. Each takes the
 * state root (--root) and the container id and fills *err on failure. */
#ifndef OCI_CONTAINER_H
#define OCI_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "crix_err.h"
#include "oci_resources.h"

struct oci_create_opts {
	const char *bundle;         /* NULL: the current directory */
	const char *pid_file;
	const char *console_socket;
	bool no_pivot;
	unsigned preserve_fds;
};

/* create: the init waits on exec.fifo until start. */
int oci_container_create(const char *root, const char *id, const struct oci_create_opts *opts,
			 struct crix_err **err);
/* run: create, start, wait (signals forwarded), delete. *exit_code is the container's
 * (128+signal when killed). */
int oci_container_run(const char *root, const char *id, const struct oci_create_opts *opts,
		      int *exit_code, struct crix_err **err);
int oci_container_start(const char *root, const char *id, struct crix_err **err);
int oci_container_kill(const char *root, const char *id, int sig, bool all, struct crix_err **err);
int oci_container_delete(const char *root, const char *id, bool force, struct crix_err **err);
/* Prints the OCI state JSON to stdout. */
int oci_container_state(const char *root, const char *id, struct crix_err **err);
int oci_container_list(const char *root, bool json, bool quiet, struct crix_err **err);
int oci_container_pause(const char *root, const char *id, bool pause, struct crix_err **err);
int oci_container_update(const char *root, const char *id, const struct oci_resources *res,
			 struct crix_err **err);
int oci_container_pids(const char *root, const char *id, pid_t **pids, size_t *n,
		       struct crix_err **err);

struct oci_exec_opts {
	const char *process_file;  /* --process: a process.json; else the options below */
	char **args;               /* NULL-terminated */
	bool tty;
	const char *console_socket;
	bool detach;
	const char *pid_file;
	const char *cwd;
	char **env;                /* appended to the container's env */
	const char *user;          /* "uid[:gid]" */
	char **add_caps;
	bool no_new_privs;
	unsigned preserve_fds;
};

int oci_container_exec(const char *root, const char *id, const struct oci_exec_opts *opts,
		       int *exit_code, struct crix_err **err);

/* "KILL", "SIGKILL", "9" -> 9; -1 when unknown. */
int oci_signal_parse(const char *name);

#endif
