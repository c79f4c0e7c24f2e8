/* The two modes of the crix-conmon executable and what they share: running the runtime,
 * reading its pid file, answering on the sync pipe. */
#ifndef MON_RUN_H
#define MON_RUN_H

#include <stddef.h>
#include <sys/types.h>

#include "crix_err.h"
#include "mon_opts.h"

/* Runs `<runtime> <runtime args> <verb args>` with the given stdio (-1: /dev/null). */
int mon_spawn_runtime(const struct mon_opts *opts, const char *const *verb_args, int in, int out,
		      int errfd, pid_t *pid, struct crix_err **err);

/* Waits for one child, retrying on EINTR; fails with a message naming what. */
int mon_wait_runtime(pid_t pid, int *status, struct crix_err **err);

/* The decimal pid in a runtime's --pid-file. */
int mon_read_pidfile(const char *path, pid_t *pid, struct crix_err **err);

/* Adds O_NONBLOCK to fd's flags; -1 with errno on failure. */
int mon_set_nonblock(int fd);

/* A pipe for a process's output: the read end (the monitor's, fds[0]) is non-blocking, the
 * write end (the process's) blocks, so a monitor that falls behind slows the writer down
 * instead of failing its writes with EAGAIN. Both ends close on exec. */
int mon_output_pipe(int fds[2], struct crix_err **err);

/* Reads what a non-blocking fd has now (at most max bytes) and appends it to *buf; -1 when
 * *buf could not grow (what it holds stays). */
int mon_read_available(int fd, char **buf, size_t *len, size_t max);

/* Writes a line to the sync pipe and closes it (*fd becomes -1). Nothing if *fd < 0. */
void mon_sync_send(int *fd, char *line);

/* Sends {"pid": -1, "message": ...} for err (or text when given). */
void mon_sync_fail(int *fd, const struct crix_err *err);

/* Blocks the signals the loops handle and returns a signalfd for them (SIGCHLD; SIGTERM,
 * SIGINT, SIGHUP, SIGQUIT to forward); SIGPIPE is ignored, writes see EPIPE instead. */
int mon_signals_open(struct crix_err **err);

/* The container monitor; returns the process exit code. */
int mon_run_container(const struct mon_opts *opts, int sync_fd);

/* Exec-sync: runs the process, reports the result line; returns the process exit code. */
int mon_run_exec(const struct mon_opts *opts, int sync_fd);

#endif
