#include "mon_run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_log.h"
#include "crix_spawn.h"
#include "mon_proto.h"

int mon_spawn_runtime(const struct mon_opts *o, const char *const *verb_args, int in, int out,
		      int errfd, pid_t *pid, struct crix_err **err)
{
	size_t n_verb = 0;
	while (verb_args[n_verb] != NULL)
		n_verb++;
	_cleanup_free_ const char **argv = calloc(1 + o->n_runtime_args + n_verb + 1, sizeof(*argv));
	if (argv == NULL)
		return crix_err_make(err, ENOMEM, "runtime argv");
	size_t i = 0;
	argv[i++] = o->runtime;
	for (size_t j = 0; j < o->n_runtime_args; j++)
		argv[i++] = o->runtime_args[j];
	for (size_t j = 0; j < n_verb; j++)
		argv[i++] = verb_args[j];
	struct crix_spawn_opts spawn = {
		.path = o->runtime,
		.argv = (char *const *)argv,
		.stdin_fd = in,
		.stdout_fd = out,
		.stderr_fd = errfd,
	};
	crix_debug("running %s %s", o->runtime, verb_args[0]);
	return crix_spawn(&spawn, pid, err);
}

int mon_wait_runtime(pid_t pid, int *status, struct crix_err **err)
{
	if (crix_wait(pid, status) < 0)
		return crix_err_make(err, errno, "wait for the runtime (pid %d)", (int)pid);
	return 0;
}

int mon_read_pidfile(const char *path, pid_t *pid, struct crix_err **err)
{
	_cleanup_free_ char *text = NULL;
	if (crix_read_file(path, 64, &text, NULL, err) < 0)
		return crix_err_wrap(err, "runtime pid file");
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno != 0 || end == text || v <= 0 || v > 0x7fffffff)
		return crix_err_make(err, EINVAL, "runtime pid file %s: not a pid: %s", path, text);
	*pid = (pid_t)v;
	return 0;
}

int mon_read_available(int fd, char **buf, size_t *len, size_t max)
{
	while (fd >= 0 && *len < max) {
		char *nbuf = realloc(*buf, max + 1);
		if (nbuf == NULL)
			return -1;
		*buf = nbuf;
		ssize_t n = read(fd, *buf + *len, max - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*len += (size_t)n;
		(*buf)[*len] = '\0';
	}
	return 0;
}

void mon_sync_send(int *fd, char *line)
{
	if (*fd >= 0) {
		if (line == NULL || crix_write_all(*fd, line, strlen(line)) < 0)
			crix_warn("cannot report to the sync pipe: %s", line ? strerror(errno) : "out of memory");
		close(*fd);
		*fd = -1;
	}
	free(line);
}

void mon_sync_fail(int *fd, const struct crix_err *err)
{
	const char *msg = crix_err_msg(err);
	crix_error("%s", msg);
	mon_sync_send(fd, mon_sync_error_line(msg, strlen(msg)));
}

int mon_set_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);
	return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int mon_output_pipe(int fds[2], struct crix_err **err)
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return crix_err_make(err, errno, "pipe");
	if (mon_set_nonblock(fds[0]) < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		return crix_err_make(err, e, "pipe: set O_NONBLOCK");
	}
	return 0;
}

int mon_signals_open(struct crix_err **err)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return crix_err_make(err, errno, "block signals");
	signal(SIGPIPE, SIG_IGN);
	int fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return crix_err_make(err, errno, "signalfd");
	return fd;
}
