/* What the command files of crix-runtime share (oci_container.c: commands on an existing
 * container; oci_create.c: create; oci_foreground.c: run and the caller's terminal while a
 * foreground process runs; oci_exec.c: exec). Not for other components. */
#ifndef OCI_CTR_H
#define OCI_CTR_H

#include <signal.h>
#include <sys/types.h>

#include "cgroup.h"
#include "crix_err.h"
#include "oci_container.h"
#include "oci_process.h"
#include "oci_spec.h"
#include "oci_state.h"

/* The most a config.json or a --process file may hold. */
#define OCI_CONFIG_MAX_BYTES (16u << 20)

/* A container while the runtime that creates it holds it. */
struct oci_ctr {
	struct oci_spec *spec;
	struct oci_state *st;
	struct oci_cgroup *cg;
	struct oci_plan *plan;
	pid_t child; /* our direct child (the init, or the first stage) */
	int fifo_fd;
};

/* create up to the init waiting on exec.fifo. console_fd: -1, or a console socket end of the
 * caller's own (taken over: closed here) that stands in for --console-socket. */
int oci_ctr_create(const char *root, const char *id, const struct oci_create_opts *opts, int console_fd,
		   struct oci_ctr **out, struct crix_err **err);
/* Undoes a failed create: kills what was started, removes the cgroup and the state dir. */
void oci_ctr_abort(struct oci_ctr *c, pid_t init);
void oci_ctr_free(struct oci_ctr *c);

/* The spec as copied into the state dir at create. */
int oci_ctr_load_spec(const struct oci_state *st, struct oci_spec **spec, struct crix_err **err);
/* Loads the state and the cgroup of a container whose init is alive. */
int oci_ctr_load_live(const char *root, const char *id, struct oci_state **st, struct oci_cgroup **cg,
		      struct crix_err **err);
/* Runs the spec's hooks of one kind with the state (status given) on their stdin. */
int oci_ctr_run_hooks(const struct oci_spec *spec, const struct oci_state *st, enum oci_hook_kind kind,
		      enum oci_status status, struct crix_err **err);
/* poststart hooks: a failure is a warning (runtime-spec). */
void oci_ctr_poststart(const struct oci_spec *spec, const struct oci_state *st);
/* Cgroup, poststop hooks and state directory of a container whose init is gone. */
int oci_ctr_cleanup(const struct oci_spec *spec, struct oci_state *st, struct oci_cgroup *cg,
		    struct crix_err **err);
/* --pid-file (NULL: none). */
int oci_ctr_write_pid_file(const char *path, pid_t pid, struct crix_err **err);

/* Blocks SIGCHLD and the signals a foreground runtime forwards; *set holds them. */
void oci_ctr_block_signals(sigset_t *set);
/* For a foreground process with a terminal and no --console-socket: a socket pair whose
 * send end goes to the container as its console socket. */
int oci_ctr_console_pair(int pair[2], struct crix_err **err);
/* Waits for pid (our child, or adopted as subreaper), forwarding signals to it; returns its
 * exit code (128+signal when killed). With a pty master (a foreground run or exec with a
 * terminal and no --console-socket) it relays the caller's terminal meanwhile. */
int oci_ctr_wait_forwarding(pid_t pid, const sigset_t *set, int master);

#endif
