/* run, and the caller's side of a foreground process: signals forwarded, and without a
 * --console-socket the container's terminal relayed to the caller's. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_log.h"
#include "oci_ctr.h"
#include "oci_terminal.h"

static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

void oci_ctr_block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	for (size_t i = 0; i < sizeof(forwarded_signals) / sizeof(forwarded_signals[0]); i++)
		sigaddset(set, forwarded_signals[i]);
	sigprocmask(SIG_BLOCK, set, NULL);
}

static void copy_window_size(int from, int to)
{
	struct winsize ws;
	if (ioctl(from, TIOCGWINSZ, &ws) == 0)
		ioctl(to, TIOCSWINSZ, &ws);
}

/* Copies what is there to read from one fd to another: 1 when it copied, 0 when there was
 * nothing yet, -1 at EOF or on an error (EIO once a pty's other side is closed). */
static int relay(int from, int to)
{
	char buf[8192];
	ssize_t n;
	do
		n = read(from, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0)
		return -1;
	crix_write_all(to, buf, (size_t)n);
	return 1;
}

/* Waits for pid (our child, or adopted as subreaper), forwarding signals to it; returns its
 * exit code (128+signal when killed). With a pty master (a foreground run or exec with a
 * terminal and no --console-socket) it relays the terminal meanwhile, as runc does: stdin to
 * the master, the master to stdout, our window size to the pty; the caller's terminal is raw
 * for the while. */
int oci_ctr_wait_forwarding(pid_t pid, const sigset_t *set, int master)
{
	_cleanup_close_ int sfd = signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
	struct termios saved;
	bool raw = false;
	if (master >= 0 && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
		struct termios t = saved;
		cfmakeraw(&t);
		raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
		copy_window_size(STDIN_FILENO, master);
	}
	struct pollfd fds[3] = {{sfd, POLLIN, 0}, {master, POLLIN, 0}, {master >= 0 ? STDIN_FILENO : -1, POLLIN, 0}};
	int code = -1;
	while (code < 0) {
		int status;
		pid_t r;
		while ((r = waitpid(-1, &status, WNOHANG)) > 0)
			if (r == pid)
				code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (code >= 0)
			break;
		if (r < 0 && errno == ECHILD) {
			code = 255;
			break;
		}
		/* without a signalfd (out of fds), look for the exit every 100 ms */
		if (poll(fds, 3, sfd < 0 ? 100 : -1) < 0)
			continue;
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo == SIGWINCH && master >= 0)
				copy_window_size(STDIN_FILENO, master);
			else if (si.ssi_signo != SIGCHLD)
				kill(pid, (int)si.ssi_signo);
		}
		for (int i = 1; i < 3; i++)
			if (fds[i].revents && relay(fds[i].fd, i == 1 ? STDOUT_FILENO : master) < 0)
				fds[i].fd = -1;
	}
	if (master >= 0) { /* what the process wrote just before it exited */
		fcntl(master, F_SETFL, O_NONBLOCK);
		while (relay(master, STDOUT_FILENO) > 0)
			;
	}
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	return code;
}

int oci_ctr_console_pair(int pair[2], struct crix_err **err)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
		return crix_err_make(err, errno, "console socketpair");
	return 0;
}

int oci_container_run(const char *root, const char *id, const struct oci_create_opts *opts,
		      int *exit_code, struct crix_err **err)
{
	sigset_t set;
	oci_ctr_block_signals(&set);
	/* The init of a two-stage create is our grandchild: adopt it when the first stage exits. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	struct oci_ctr *c = NULL;
	/* Without --console-socket a terminal is relayed here: the container gets one end of a
	 * pair as its console socket (used only when process.terminal is set). */
	int console[2] = {-1, -1};
	if (opts->console_socket == NULL && oci_ctr_console_pair(console, err) < 0)
		return -1;
	_cleanup_close_ int console_recv = console[0];
	if (oci_ctr_create(root, id, opts, console[1], &c, err) < 0)
		return -1;
	_cleanup_close_ int master = -1;
	int r = 0;
	if (c->spec->process->terminal && console_recv >= 0)
		r = master = oci_console_recv(console_recv, err);
	if (master >= 0) /* the process starts with the caller's window size */
		copy_window_size(STDIN_FILENO, master);
	if (r >= 0 && write(c->fifo_fd, "0", 1) != 1)
		r = crix_err_make(err, errno, "start %s", id);
	if (r < 0) {
		oci_ctr_abort(c, c->st->pid);
		oci_ctr_free(c);
		return -1;
	}
	_cleanup_free_ char *fifo = oci_state_path(c->st, "exec.fifo");
	if (fifo != NULL)
		unlink(fifo);
	close(c->fifo_fd);
	c->fifo_fd = -1;
	oci_ctr_poststart(c->spec, c->st);
	*exit_code = oci_ctr_wait_forwarding(c->st->pid, &set, master);
	crix_debug("%s: exited with %d", id, *exit_code);
	r = oci_ctr_cleanup(c->spec, c->st, c->cg, err);
	oci_ctr_free(c);
	return r;
}

