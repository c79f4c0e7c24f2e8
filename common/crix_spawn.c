#include "crix_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crix_cleanup.h"

extern char **environ;

/* In the child between fork and exec only async-signal-safe calls are made. */
static void child_fail(int report_fd, int errnum)
{
	(void)!write(report_fd, &errnum, sizeof(errnum));
	_exit(127);
}

static int move_fd_above(int fd, int floor)
{
	if (fd < 0 || fd >= floor)
		return fd;
	return fcntl(fd, F_DUPFD_CLOEXEC, floor);
}

int crix_spawn(const struct crix_spawn_opts *opts, pid_t *pid, struct crix_err **err)
{
	int report[2];
	if (pipe2(report, O_CLOEXEC) < 0)
		return crix_err_make(err, errno, "spawn %s: pipe", opts->path);
	_cleanup_close_ int report_rd = report[0];
	_cleanup_close_ int report_wr = report[1];

	pid_t child = fork();
	if (child < 0)
		return crix_err_make(err, errno, "spawn %s: fork", opts->path);
	if (child == 0) {
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		if (opts->new_session && setsid() < 0)
			child_fail(report_wr, errno);
		/* Lift every source fd above the target range first so dup2 cannot clobber one. */
		int floor = 3 + (int)opts->n_extra_fds;
		if (report_wr < floor + 3) {
			int moved = move_fd_above(report_wr, floor + 3);
			if (moved < 0)
				child_fail(report_wr, errno);
			report_wr = moved;
		}
		int std_src[3] = {opts->stdin_fd, opts->stdout_fd, opts->stderr_fd};
		for (int i = 0; i < 3; i++) {
			if (std_src[i] < 0) {
				std_src[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
				if (std_src[i] < 0)
					child_fail(report_wr, errno);
			}
			std_src[i] = move_fd_above(std_src[i], floor + 3);
			if (std_src[i] < 0)
				child_fail(report_wr, errno);
		}
		int extra[64];
		if (opts->n_extra_fds > 64)
			child_fail(report_wr, EMFILE);
		for (size_t i = 0; i < opts->n_extra_fds; i++) {
			extra[i] = move_fd_above(opts->extra_fds[i], floor + 3);
			if (extra[i] < 0)
				child_fail(report_wr, errno);
		}
		for (int i = 0; i < 3; i++)
			if (dup2(std_src[i], i) < 0)
				child_fail(report_wr, errno);
		for (size_t i = 0; i < opts->n_extra_fds; i++)
			if (dup2(extra[i], 3 + (int)i) < 0)
				child_fail(report_wr, errno);
		/* Close everything else except the report pipe (close-on-exec). */
		int first = floor;
		if (report_wr > first)
			syscall(SYS_close_range, (unsigned)first, (unsigned)report_wr - 1, 0);
		syscall(SYS_close_range, (unsigned)report_wr + 1, ~0U, 0);
		if (opts->cwd != NULL && chdir(opts->cwd) < 0)
			child_fail(report_wr, errno);
		char *const *envp = opts->envp ? opts->envp : environ;
		if (strchr(opts->path, '/') != NULL)
			execve(opts->path, opts->argv, envp);
		else
			execvpe(opts->path, opts->argv, envp);
		child_fail(report_wr, errno);
	}
	close(report_wr);
	report_wr = -1;
	int child_errno = 0;
	ssize_t n;
	do
		n = read(report_rd, &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(child_errno)) {
		int status;
		crix_wait(child, &status);
		return crix_err_make(err, child_errno, "exec %s", opts->path);
	}
	*pid = child;
	return 0;
}

int crix_wait(pid_t pid, int *status)
{
	pid_t r;
	do
		r = waitpid(pid, status, 0);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -1 : 0;
}

int crix_helper_path(const char *name, char **out, struct crix_err **err)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return crix_err_make(err, errno, "helper %s: readlink /proc/self/exe", name);
	self[n] = '\0';
	const char *prefix = dirname(dirname(self)); /* <prefix>/bin/crixd */
	if (asprintf(out, "%s/libexec/crix/%s", strcmp(prefix, "/") ? prefix : "", name) < 0) {
		*out = NULL; /* undefined after a failure */
		return crix_err_make(err, ENOMEM, "helper %s", name);
	}
	return 0;
}
