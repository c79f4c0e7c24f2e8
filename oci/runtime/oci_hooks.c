#include "oci_hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_spawn.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes the state to the hook's stdin (non-blocking: a hook that does not read must not stall
 * us) while waiting for it to exit, up to timeout_s seconds (<= 0: no limit); kills it at the
 * deadline. A hook that exits or closes its stdin before reading it all is fine, as with runc
 * (EPIPE). *status is the wait status, *timed_out says whether we killed it. */
static int feed_and_wait(pid_t pid, int stdin_fd, const char *data, size_t len, int timeout_s, int *status,
			 bool *timed_out, struct crix_err **err)
{
	*timed_out = false;
	_cleanup_close_ int wr = stdin_fd;
	if (fcntl(wr, F_SETFL, O_NONBLOCK) < 0)
		return crix_err_make(err, errno, "set its stdin non-blocking");
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int64_t deadline = timeout_s > 0 ? now_ms() + (int64_t)timeout_s * 1000 : -1;
	size_t off = 0;
	int write_errno = 0;
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return crix_err_make(err, errno, "wait");
		int64_t left = deadline < 0 ? -1 : deadline - now_ms();
		if (deadline >= 0 && left <= 0) {
			*timed_out = true;
			kill(pid, SIGKILL);
			if (crix_wait(pid, status) < 0)
				return crix_err_make(err, errno, "wait");
			break;
		}
		struct pollfd fds[2] = {{.fd = pidfd, .events = POLLIN}, {.fd = wr, .events = POLLOUT}};
		/* Without a pidfd (before Linux 5.3), look for the exit every 10 ms. */
		int wait_ms = pidfd < 0 && (left < 0 || left > 10) ? 10 : left > INT_MAX ? INT_MAX : (int)left;
		if (poll(fds, 2, wait_ms) < 0 && errno != EINTR)
			return crix_err_make(err, errno, "poll");
		if (wr < 0 || !(fds[1].revents & (POLLOUT | POLLERR | POLLHUP)))
			continue;
		ssize_t n = write(wr, data + off, len - off);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0 && errno != EPIPE)
			write_errno = errno;
		if (n > 0)
			off += (size_t)n;
		if (n < 0 || off == len) { /* all of it, or the hook wants no more: EOF for it */
			close(wr);
			wr = -1;
		}
	}
	if (write_errno != 0)
		return crix_err_make(err, write_errno, "write the state to its stdin");
	return 0;
}

static int run_one(const struct oci_hook *h, const char *kind, size_t index, const char *state_json,
		   struct crix_err **err)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return crix_err_make(err, errno, "%s hook %zu (%s): pipe", kind, index, h->path);
	_cleanup_close_ int rd = pipefd[0];
	int wr = pipefd[1];
	char *const default_argv[] = {h->path, NULL};
	char *const empty_env[] = {NULL};
	struct crix_spawn_opts opts = {
		.path = h->path,
		.argv = h->args && h->args[0] ? h->args : default_argv,
		.envp = h->env ? h->env : empty_env,
		.stdin_fd = rd,
		.stdout_fd = STDERR_FILENO,
		.stderr_fd = STDERR_FILENO,
	};
	pid_t pid;
	if (crix_spawn(&opts, &pid, err) < 0) {
		close(wr);
		return crix_err_wrap(err, "%s hook %zu", kind, index);
	}
	close(rd);
	rd = -1;
	/* EPIPE rather than SIGPIPE from a hook that does not read; put back after, as the init
	 * runs its hooks just before exec'ing the container's process. */
	struct sigaction ignore = {.sa_handler = SIG_IGN}, saved;
	sigaction(SIGPIPE, &ignore, &saved);
	int status = 0;
	bool timed_out = false;
	int r = feed_and_wait(pid, wr, state_json, strlen(state_json), h->has_timeout ? h->timeout : 0, &status,
			      &timed_out, err);
	sigaction(SIGPIPE, &saved, NULL);
	if (r < 0) {
		if (!timed_out && waitpid(pid, &status, WNOHANG) == 0) {
			kill(pid, SIGKILL);
			crix_wait(pid, &status);
		}
		return crix_err_wrap(err, "%s hook %zu (%s)", kind, index, h->path);
	}
	if (timed_out)
		return crix_err_make(err, ETIMEDOUT, "%s hook %zu (%s): timed out after %d s", kind, index,
				     h->path, h->timeout);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		return crix_err_make(err, 0, "%s hook %zu (%s): killed by signal %d", kind, index, h->path,
				     WTERMSIG(status));
	return crix_err_make(err, 0, "%s hook %zu (%s): exit status %d", kind, index, h->path,
			     WEXITSTATUS(status));
}

int oci_hooks_run(const struct oci_spec *spec, enum oci_hook_kind kind, const char *state_json,
		  struct crix_err **err)
{
	const struct oci_hook_list *l = &spec->hooks[kind];
	for (size_t i = 0; i < l->n; i++)
		if (run_one(&l->hooks[i], oci_hook_kind_name(kind), i, state_json, err) < 0)
			return -1;
	return 0;
}
