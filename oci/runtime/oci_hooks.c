#include "oci_hooks.h"

#include <errno.h>
#include <fcntl.h>
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

/* Waits for pid up to timeout_s seconds (<= 0: forever); kills it on timeout. */
static int wait_hook(pid_t pid, int timeout_s, int *status, bool *timed_out)
{
	*timed_out = false;
	if (timeout_s <= 0)
		return crix_wait(pid, status);
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			*timed_out = true;
			kill(pid, SIGKILL);
			return crix_wait(pid, status);
		}
		if (pidfd >= 0) {
			struct pollfd p = {.fd = pidfd, .events = POLLIN};
			poll(&p, 1, (int)left);
		} else {
			usleep(10000);
		}
	}
}

static int run_one(const struct oci_hook *h, const char *kind, size_t index, const char *state_json,
		   struct crix_err **err)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return crix_err_make(err, errno, "%s hook %zu (%s): pipe", kind, index, h->path);
	_cleanup_close_ int rd = pipefd[0];
	_cleanup_close_ int wr = pipefd[1];
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
	if (crix_spawn(&opts, &pid, err) < 0)
		return crix_err_wrap(err, "%s hook %zu", kind, index);
	close(rd);
	rd = -1;
	/* The state is small (< pipe buffer); a hook that does not read it must not block us. */
	signal(SIGPIPE, SIG_IGN);
	(void)crix_write_all(wr, state_json, strlen(state_json));
	close(wr);
	wr = -1;
	int status = 0;
	bool timed_out = false;
	if (wait_hook(pid, h->has_timeout ? h->timeout : 0, &status, &timed_out) < 0)
		return crix_err_make(err, errno, "%s hook %zu (%s): wait", kind, index, h->path);
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
