/* Exec-sync mode: `<runtime> exec -d --process SPEC ID` with stdout and stderr on pipes.
 * The started process becomes our child (we are a subreaper), so it can be reaped and, on
 * timeout, killed directly. Output goes to the given files, at most exec_output_max bytes per
 * stream; the rest is read and discarded so the process never blocks on a full pipe. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_log.h"
#include "mon_proto.h"
#include "mon_run.h"

struct sink {
	int pipe_fd;  /* read end, -1 at EOF */
	int file_fd;  /* -1: discard */
	uint64_t kept, max;
	bool truncated;
	char *head;   /* the first bytes of stderr, for the message when the runtime fails */
	size_t head_len;
};

struct exec_state {
	const struct mon_opts *opts;
	struct sink out, err;
	pid_t runtime, pid;
	bool runtime_done, done, timed_out;
	int runtime_status, status;
	/* children reaped before the pid file named the process (it can exit that fast) */
	pid_t early_pid[8];
	int early_status[8];
	size_t n_early;
};

static int open_sink(struct sink *s, const char *path, uint64_t max, int pipe_fd, struct crix_err **err)
{
	s->pipe_fd = pipe_fd;
	s->file_fd = -1;
	s->max = max;
	if (path != NULL) {
		s->file_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (s->file_fd < 0)
			return crix_err_make(err, errno, "open %s", path);
	}
	return 0;
}

static void close_sink(struct sink *s)
{
	if (s->pipe_fd >= 0)
		close(s->pipe_fd);
	if (s->file_fd >= 0)
		close(s->file_fd);
	free(s->head);
	s->pipe_fd = s->file_fd = -1;
	s->head = NULL;
}

/* One read; returns the bytes read, 0 when nothing was there (or EOF). */
static size_t read_once(struct exec_state *st, struct sink *s, bool keep_head)
{
	if (s->pipe_fd < 0)
		return 0;
	char buf[32768];
	ssize_t n = read(s->pipe_fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		close(s->pipe_fd);
		s->pipe_fd = -1;
		return 0;
	}
	if (keep_head && s->head_len < MON_SYNC_MESSAGE_MAX) {
		size_t take = (size_t)n < MON_SYNC_MESSAGE_MAX - s->head_len ? (size_t)n
									    : MON_SYNC_MESSAGE_MAX - s->head_len;
		char *head = realloc(s->head, s->head_len + take);
		if (head != NULL) {
			memcpy(head + s->head_len, buf, take);
			s->head = head;
			s->head_len += take;
		}
	}
	size_t keep = (size_t)n;
	if (s->kept + keep > s->max) {
		keep = (size_t)(s->max - s->kept);
		s->truncated = true;
	}
	if (keep > 0 && s->file_fd >= 0 && crix_write_all(s->file_fd, buf, keep) < 0) {
		crix_warn("exec in %s: write output: %s", st->opts->cid, strerror(errno));
		close(s->file_fd);
		s->file_fd = -1;
	}
	s->kept += keep;
	return (size_t)n;
}

/* Reads what is in the pipe now: a straggler holding it open is not waited for. */
static void drain(struct exec_state *st, struct sink *s, bool keep_head)
{
	int avail = 0;
	if (s->pipe_fd < 0 || ioctl(s->pipe_fd, FIONREAD, &avail) < 0)
		return;
	for (size_t n; avail > 0 && (n = read_once(st, s, keep_head)) > 0;)
		avail -= (int)n;
}

static void remember_early(struct exec_state *st, pid_t pid, int status)
{
	if (st->n_early < sizeof(st->early_pid) / sizeof(st->early_pid[0])) {
		st->early_pid[st->n_early] = pid;
		st->early_status[st->n_early++] = status;
	}
}

/* The runtime has exited: on success its pid file names our process. */
static int runtime_exited(struct exec_state *st, const char *pidfile, struct crix_err **err)
{
	st->runtime_done = true;
	if (st->timed_out && st->runtime_status != 0) { /* killed by on_timeout() */
		st->status = st->runtime_status;
		st->done = true;
		return 0;
	}
	if (!WIFEXITED(st->runtime_status) || WEXITSTATUS(st->runtime_status) != 0)
		return crix_err_make(err, 0, "%s exec failed with status %d", st->opts->runtime,
				     mon_exit_code(st->runtime_status));
	if (mon_read_pidfile(pidfile, &st->pid, err) < 0)
		return -1;
	for (size_t i = 0; i < st->n_early; i++)
		if (st->early_pid[i] == st->pid) {
			st->status = st->early_status[i];
			st->done = true;
		}
	if (st->timed_out && !st->done)
		kill(st->pid, SIGKILL);
	return 0;
}

static int reap(struct exec_state *st, int sigfd, const char *pidfile, struct crix_err **err)
{
	struct signalfd_siginfo si;
	while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo != SIGCHLD && st->pid > 0 && !st->done)
			kill(st->pid, (int)si.ssi_signo);
	}
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			return 0;
		if (pid == st->runtime) {
			st->runtime_status = status;
			if (runtime_exited(st, pidfile, err) < 0)
				return -1;
		} else if (st->pid > 0 && pid == st->pid) {
			st->status = status;
			st->done = true;
		} else if (st->pid <= 0) {
			remember_early(st, pid, status);
		}
	}
}

static void on_timeout(struct exec_state *st)
{
	st->timed_out = true;
	crix_info("exec in %s: timed out after %us, killing it", st->opts->cid, st->opts->timeout);
	kill(st->runtime_done ? st->pid : st->runtime, SIGKILL);
}

static int run(struct exec_state *st, const char *pidfile, struct crix_err **err)
{
	const struct mon_opts *o = st->opts;
	_cleanup_close_ int sigfd = mon_signals_open(err);
	if (sigfd < 0)
		return -1;
	int out[2], errp[2];
	if (mon_output_pipe(out, err) < 0)
		return -1;
	if (mon_output_pipe(errp, err) < 0) {
		close(out[0]);
		close(out[1]);
		return -1;
	}
	_cleanup_close_ int out_wr = out[1], err_wr = errp[1];
	if (open_sink(&st->out, o->exec_stdout, o->exec_output_max, out[0], err) < 0 ||
	    open_sink(&st->err, o->exec_stderr, o->exec_output_max, errp[0], err) < 0)
		return -1;
	_cleanup_close_ int timer = -1;
	if (o->timeout > 0) {
		timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		struct itimerspec when = {.it_value = {.tv_sec = o->timeout}};
		if (timer < 0 || timerfd_settime(timer, 0, &when, NULL) < 0)
			return crix_err_make(err, errno, "timerfd");
	}
	const char *args[] = {"exec", "-d", "--pid-file", pidfile, "--process", o->exec_process_spec,
			      o->cid, NULL};
	if (mon_spawn_runtime(o, args, -1, out_wr, err_wr, &st->runtime, err) < 0)
		return -1;
	close(steal_fd(out_wr));
	close(steal_fd(err_wr));

	_cleanup_close_ int epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return crix_err_make(err, errno, "epoll_create1");
	int watched[] = {sigfd, st->out.pipe_fd, st->err.pipe_fd, timer};
	for (size_t i = 0; i < 4; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = watched[i]};
		if (watched[i] >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, watched[i], &ev) < 0)
			return crix_err_make(err, errno, "epoll_ctl");
	}
	while (!st->done) {
		struct epoll_event ev[4];
		int n = epoll_wait(epfd, ev, 4, -1);
		if (n < 0 && errno != EINTR)
			return crix_err_make(err, errno, "epoll_wait");
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;
			if (fd == sigfd) {
				if (reap(st, sigfd, pidfile, err) < 0)
					goto runtime_failed;
			} else if (fd == timer) {
				uint64_t ticks;
				(void)!read(timer, &ticks, sizeof(ticks));
				on_timeout(st);
			} else {
				struct sink *s = fd == st->out.pipe_fd ? &st->out : &st->err;
				read_once(st, s, s == &st->err && !st->runtime_done);
				if (s->pipe_fd < 0)
					epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
			}
		}
	}
	drain(st, &st->out, false);
	drain(st, &st->err, false);
	return 0;
runtime_failed:
	drain(st, &st->err, true);
	if (st->err.head_len > 0)
		crix_err_make(err, 0, "%.*s", (int)st->err.head_len, st->err.head);
	return -1;
}

int mon_run_exec(const struct mon_opts *o, int sync_fd)
{
	struct exec_state st = {.opts = o, .out = {.pipe_fd = -1, .file_fd = -1},
				.err = {.pipe_fd = -1, .file_fd = -1}};
	struct crix_err *err = NULL;
	_cleanup_free_ char *tmpdir = NULL, *tmp_pidfile = NULL;
	const char *pidfile = o->container_pidfile;
	int code = 1;
	if (pidfile == NULL) {
		tmpdir = strdup("/tmp/crix-exec-XXXXXX");
		if (tmpdir == NULL || mkdtemp(tmpdir) == NULL || asprintf(&tmp_pidfile, "%s/pid", tmpdir) < 0) {
			crix_err_make(&err, errno, "temporary dir for the exec pid file");
			mon_sync_fail(&sync_fd, err);
			goto out;
		}
		pidfile = tmp_pidfile;
	}
	if (run(&st, pidfile, &err) < 0) {
		crix_err_wrap(&err, "exec in container %s", o->cid);
		mon_sync_fail(&sync_fd, err);
		goto out;
	}
	struct mon_exec_result result = {
		.pid = st.pid,
		.exit_code = mon_exit_code(st.status),
		.timed_out = st.timed_out,
		.stdout_bytes = st.out.kept,
		.stderr_bytes = st.err.kept,
		.stdout_truncated = st.out.truncated,
		.stderr_truncated = st.err.truncated,
	};
	code = result.exit_code;
	mon_sync_send(&sync_fd, mon_sync_exec_line(&result));
out:
	close_sink(&st.out);
	close_sink(&st.err);
	if (tmp_pidfile != NULL)
		unlink(tmp_pidfile);
	if (tmpdir != NULL)
		rmdir(tmpdir);
	crix_err_free(&err);
	return code;
}
