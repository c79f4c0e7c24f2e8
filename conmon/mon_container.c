/* Container mode: `<runtime> create`, then one epoll loop until the container has exited
 * and its exit is on disk. An exec with --exec-attach is served the same way, with
 * `<runtime> exec -d` instead of create, started once the first attach client is there. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_log.h"
#include "mon_log.h"
#include "mon_oom.h"
#include "mon_proto.h"
#include "mon_run.h"

enum watch { W_SIGNAL, W_STDOUT, W_STDERR, W_STDIN, W_ATTACH, W_CLIENT, W_CTL, W_OOM };

struct client {
	int fd;
	bool reading; /* still sends stdin bytes */
};

struct monitor {
	const struct mon_opts *opts;
	int epfd, sigfd;
	int out_fd, err_fd; /* container output; in terminal mode out_fd is the pty master */
	int in_fd;          /* container stdin; the pty master (dup) in terminal mode */
	bool stdin_closed;
	int tty_fd;         /* pty master for resizes, -1 without terminal */
	int attach_fd, ctl_fd;
	int dir_fd;         /* <socket-dir>/<cid> */
	struct client *clients;
	size_t n_clients;
	char *pending; /* stdin bytes the container has not taken yet; clients wait meanwhile */
	size_t pending_len;
	char ctl_line[64];
	size_t ctl_used;
	struct mon_log log;
	bool log_failing; /* says "log write failed" once per failure spell */
	struct mon_oom oom;
	bool oom_recorded;
	pid_t pid;
	bool exited;
	int status;
};

static char io_buf[MON_ATTACH_DATA_MAX];

/* How long --exec-attach waits for its first client. */
#define MON_ATTACH_WAIT_MS 60000
/* How long an attach client may leave a packet untaken before it is disconnected. */
#define MON_CLIENT_STALL_MS 1000

static int watch(struct monitor *m, int op, int fd, enum watch what, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.u64 = ((uint64_t)(unsigned)fd << 32) | what};
	return epoll_ctl(m->epfd, op, fd, &ev);
}

static void close_watched(struct monitor *m, int *fd)
{
	if (*fd < 0)
		return;
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, *fd, NULL);
	close(*fd);
	*fd = -1;
}

/* ---- attach clients ---- */

static void client_events(struct monitor *m, struct client *c)
{
	watch(m, EPOLL_CTL_MOD, c->fd, W_CLIENT, c->reading && m->pending == NULL ? EPOLLIN : 0);
}

static void drop_client(struct monitor *m, size_t i)
{
	close_watched(m, &m->clients[i].fd);
	m->clients[i] = m->clients[--m->n_clients];
}

static void accept_client(struct monitor *m)
{
	int fd = accept4(m->attach_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	struct client *clients = realloc(m->clients, (m->n_clients + 1) * sizeof(*clients));
	if (clients == NULL) {
		crix_warn("container %s: attach client refused: out of memory", m->opts->cid);
		close(fd);
		return;
	}
	m->clients = clients;
	struct client *c = &clients[m->n_clients++];
	c->fd = fd;
	c->reading = m->opts->stdin_open && !m->stdin_closed;
	if (watch(m, EPOLL_CTL_ADD, fd, W_CLIENT, 0) < 0) {
		drop_client(m, m->n_clients - 1);
		return;
	}
	client_events(m, c);
}

/* Sends one packet, waiting up to MON_CLIENT_STALL_MS for room: a client that stalls
 * briefly holds the container back (its output pipe fills), one that stalls longer is
 * disconnected rather than silently handed a stream with holes. */
static bool send_packet(int fd, struct msghdr *msg)
{
	for (;;) {
		if (sendmsg(fd, msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			return true;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != ENOBUFS)
			return false;
		struct pollfd p = {fd, POLLOUT, 0};
		int n = poll(&p, 1, MON_CLIENT_STALL_MS);
		if (n == 0)
			errno = ETIMEDOUT;
		if (n <= 0 || (p.revents & (POLLERR | POLLHUP)))
			return false;
	}
}

static void broadcast(struct monitor *m, enum mon_stream stream, const char *data, size_t len)
{
	unsigned char tag = (unsigned char)stream;
	struct iovec iov[2] = {{&tag, 1}, {(void *)data, len}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
	for (size_t i = 0; i < m->n_clients;) {
		if (!send_packet(m->clients[i].fd, &msg)) {
			if (errno == ETIMEDOUT)
				crix_warn("container %s: attach client stalled, disconnected", m->opts->cid);
			drop_client(m, i);
			continue;
		}
		i++;
	}
}

/* ---- stdin ---- */

static void close_stdin(struct monitor *m)
{
	if (m->tty_fd >= 0)
		return; /* a terminal's input ends with its master, which output still needs */
	close_watched(m, &m->in_fd);
	m->stdin_closed = true;
	free(m->pending);
	m->pending = NULL;
	for (size_t i = 0; i < m->n_clients; i++) {
		m->clients[i].reading = false;
		client_events(m, &m->clients[i]);
	}
}

static void set_pending(struct monitor *m, const char *data, size_t len)
{
	bool was_pending = m->pending != NULL;
	if (len == 0) {
		free(m->pending);
		m->pending = NULL;
		if (was_pending)
			epoll_ctl(m->epfd, EPOLL_CTL_DEL, m->in_fd, NULL);
	} else {
		char *copy = malloc(len);
		if (copy == NULL) {
			/* End of input rather than input with a hole in it (a terminal's stays open,
			 * for its output: what did not fit is lost, and said so). */
			crix_warn("container %s: stdin: out of memory for %zu bytes, closing it",
				  m->opts->cid, len);
			set_pending(m, NULL, 0);
			close_stdin(m);
			return;
		}
		memmove(copy, data, len);
		free(m->pending);
		m->pending = copy;
		m->pending_len = len;
		if (!was_pending)
			watch(m, EPOLL_CTL_ADD, m->in_fd, W_STDIN, EPOLLOUT);
	}
	if (was_pending != (m->pending != NULL))
		for (size_t i = 0; i < m->n_clients; i++)
			client_events(m, &m->clients[i]);
}

/* Writes what the container takes now; the rest waits for EPOLLOUT with clients paused.
 * data may point into m->pending. */
static void feed_stdin(struct monitor *m, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(m->in_fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				close_stdin(m); /* the container closed its stdin */
			break;
		}
		data += n;
		len -= (size_t)n;
	}
	if (m->in_fd >= 0)
		set_pending(m, data, len);
}

static void client_input(struct monitor *m, size_t i, uint32_t events)
{
	struct client *c = &m->clients[i];
	if (c->reading && (events & EPOLLIN)) {
		ssize_t n = recv(c->fd, io_buf, sizeof(io_buf), MSG_DONTWAIT);
		if (n > 0) {
			if (m->in_fd >= 0)
				feed_stdin(m, io_buf, (size_t)n);
			return;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		/* End of this client's input; output still flows to it until it hangs up. */
		c->reading = false;
		client_events(m, c);
		if (m->opts->stdin_once)
			close_stdin(m);
	}
	if (events & (EPOLLHUP | EPOLLERR))
		drop_client(m, i);
}

/* ---- output ---- */

static void record(struct monitor *m, enum mon_stream stream, const char *data, size_t len)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct crix_err *err = NULL;
	if (mon_log_write(&m->log, stream, data, len, &now, &err) < 0) {
		if (!m->log_failing)
			crix_warn("container %s: %s (output is lost until writes work again)",
				  m->opts->cid, crix_err_msg(err));
		m->log_failing = true;
		crix_err_free(&err);
	} else {
		m->log_failing = false;
	}
	broadcast(m, stream, data, len);
}

/* One read from a container stream; returns the bytes read, 0 when there were none. */
static size_t pump(struct monitor *m, int *fd, enum mon_stream stream)
{
	if (*fd < 0)
		return 0;
	ssize_t n = read(*fd, io_buf, sizeof(io_buf));
	if (n > 0) {
		record(m, stream, io_buf, (size_t)n);
		return (size_t)n;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	/* EOF, or EIO from a pty master whose slave side is gone */
	if (*fd == m->tty_fd)
		m->tty_fd = -1;
	close_watched(m, fd);
	return 0;
}

/* Reads what is buffered in the stream now, and no more: a process that outlived the
 * container (no pid namespace) may keep writing forever. */
static void drain(struct monitor *m, int *fd, enum mon_stream stream)
{
	int avail = 0;
	if (*fd < 0 || ioctl(*fd, FIONREAD, &avail) < 0)
		return;
	for (size_t n; avail > 0 && (n = pump(m, fd, stream)) > 0;)
		avail -= (int)n;
}

/* ---- control fifo ---- */

static void control(struct monitor *m, const char *line)
{
	struct mon_ctl_msg msg;
	struct crix_err *err = NULL;
	if (mon_ctl_parse(line, &msg, &err) < 0) {
		crix_warn("container %s: %s", m->opts->cid, crix_err_msg(err));
		crix_err_free(&err);
		return;
	}
	if (msg.type == MON_CTL_RESIZE) {
		struct winsize ws = {.ws_row = msg.rows, .ws_col = msg.cols};
		if (m->tty_fd < 0)
			crix_debug("container %s: resize without a terminal", m->opts->cid);
		else if (ioctl(m->tty_fd, TIOCSWINSZ, &ws) < 0)
			crix_warn("container %s: resize terminal: %s", m->opts->cid, strerror(errno));
	} else if (mon_log_reopen(&m->log, &err) < 0) {
		crix_warn("container %s: %s", m->opts->cid, crix_err_msg(err));
		crix_err_free(&err);
	}
}

static void control_input(struct monitor *m)
{
	char buf[256];
	ssize_t n = read(m->ctl_fd, buf, sizeof(buf));
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			m->ctl_line[m->ctl_used] = '\0';
			control(m, m->ctl_line);
			m->ctl_used = 0;
		} else if (m->ctl_used < sizeof(m->ctl_line) - 1) {
			m->ctl_line[m->ctl_used++] = buf[i];
		}
	}
}

/* ---- exit ---- */

static void record_oom(struct monitor *m)
{
	if (m->oom_recorded)
		return;
	m->oom_recorded = true;
	_cleanup_free_ char *path = NULL;
	struct crix_err *err = NULL;
	if (asprintf(&path, "%s/%s.oom", m->opts->exit_dir, m->opts->session_id) < 0) {
		crix_error("container %s: OOM kill in its cgroup; cannot record it: out of memory",
			   m->opts->cid);
		return;
	}
	if (crix_write_file_atomic(path, "", 0, 0644, CRIX_WRITE_VOLATILE, &err) < 0) {
		crix_error("container %s: %s", m->opts->cid, crix_err_msg(err));
		crix_err_free(&err);
	}
	crix_info("container %s: OOM kill in its cgroup", m->opts->cid);
}

static void reap(struct monitor *m)
{
	struct signalfd_siginfo si;
	while (read(m->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo != SIGCHLD && !m->exited) {
			crix_info("container %s: forwarding signal %u", m->opts->cid, si.ssi_signo);
			kill(m->pid, (int)si.ssi_signo);
		}
	}
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			break;
		if (pid == m->pid) {
			m->exited = true;
			m->status = status;
		}
	}
}

/* A log that cannot be synced is reported; the exit is recorded all the same. */
static void close_log(struct monitor *m)
{
	struct crix_err *err = NULL;
	if (mon_log_close(&m->log, &err) < 0) {
		crix_warn("container %s: %s (its last output may not be on disk)", m->opts->cid,
			  crix_err_msg(err));
		crix_err_free(&err);
	}
}

/* Drains the output the container left, then the oom marker, then the exit file. */
static int finish(struct monitor *m)
{
	drain(m, &m->out_fd, MON_STDOUT);
	drain(m, &m->err_fd, MON_STDERR);
	close_log(m);
	/* The eventfd lags the kill by ~75 ms: the counter itself is already up to date. */
	if (mon_oom_check(&m->oom) == 1)
		record_oom(m);
	int code = mon_exit_code(m->status);
	char text[16];
	int n = snprintf(text, sizeof(text), "%d", code);
	_cleanup_free_ char *path = NULL;
	struct crix_err *err = NULL;
	if (asprintf(&path, "%s/%s", m->opts->exit_dir, m->opts->session_id) < 0) {
		crix_error("container %s exited with %d; cannot record it: out of memory", m->opts->cid, code);
		return 1;
	}
	if (crix_write_file_atomic(path, text, (size_t)n, 0644, CRIX_WRITE_VOLATILE, &err) < 0) {
		crix_error("container %s: %s", m->opts->cid, crix_err_msg(err));
		crix_err_free(&err);
		return 1;
	}
	crix_info("container %s exited with %d", m->opts->cid, code);
	return 0;
}

static int loop(struct monitor *m)
{
	struct epoll_event events[16];
	while (!m->exited) {
		int n = epoll_wait(m->epfd, events, 16, -1);
		if (n < 0 && errno != EINTR) {
			crix_error("container %s: epoll_wait: %s", m->opts->cid, strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			int fd = (int)(events[i].data.u64 >> 32);
			switch ((enum watch)(events[i].data.u64 & 0xff)) {
			case W_SIGNAL: reap(m); break;
			case W_STDOUT: pump(m, &m->out_fd, MON_STDOUT); break;
			case W_STDERR: pump(m, &m->err_fd, MON_STDERR); break;
			case W_STDIN:
				if (m->pending != NULL)
					feed_stdin(m, m->pending, m->pending_len);
				break;
			case W_ATTACH: accept_client(m); break;
			case W_CLIENT:
				for (size_t c = 0; c < m->n_clients; c++)
					if (m->clients[c].fd == fd) {
						client_input(m, c, events[i].events);
						break;
					}
				break;
			case W_CTL: control_input(m); break;
			case W_OOM: {
				int oom = mon_oom_check(&m->oom);
				if (oom == 1)
					record_oom(m);
				else if (oom < 0) /* the cgroup was removed */
					close_watched(m, &m->oom.fd);
				break;
			}
			}
		}
	}
	return finish(m);
}

/* ---- setup ---- */

/* Lowers the chance that the kernel kills the monitor before its container. Only after the
 * runtime has created the container, which would otherwise inherit -1000. Needs
 * CAP_SYS_RESOURCE, which some machines lack: then the default stays. */
static void protect_from_oom_killer(void)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, "-1000", 5) != 5)
		crix_debug("oom_score_adj -1000 refused: %s", strerror(errno));
	close(fd);
}

/* Binds a unix socket at name inside dir_fd: /proc/self/fd/N/name keeps any directory within
 * sun_path's 108 bytes. It is bound under a temporary name and renamed once listening, so a
 * socket that exists accepts connections. */
static int listen_at(int dir_fd, const char *name, int type, struct crix_err **err)
{
	char tmp[64];
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/%s", dir_fd, tmp);
	unlinkat(dir_fd, tmp, 0);
	_cleanup_close_ int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return crix_err_make(err, errno, "socket for %s", name);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return crix_err_make(err, errno, "bind %s", name);
	if (listen(fd, 16) < 0)
		return crix_err_make(err, errno, "listen on %s", name);
	if (renameat(dir_fd, tmp, dir_fd, name) < 0)
		return crix_err_make(err, errno, "rename %s to %s", tmp, name);
	return steal_fd(fd);
}

/* --exec-attach: the process starts only once someone sees its output. */
static int wait_first_client(struct monitor *m, struct crix_err **err)
{
	struct pollfd fds[2] = {{m->attach_fd, POLLIN, 0}, {m->sigfd, POLLIN, 0}};
	while (m->n_clients == 0) {
		int n = poll(fds, 2, MON_ATTACH_WAIT_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return crix_err_make(err, errno, "poll attach socket");
		if (n == 0)
			return crix_err_make(err, ETIMEDOUT, "no attach client within %d s",
					     MON_ATTACH_WAIT_MS / 1000);
		if (fds[1].revents) {
			struct signalfd_siginfo si;
			if (read(m->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si) && si.ssi_signo != SIGCHLD)
				return crix_err_make(err, EINTR, "signal %u before the exec started",
						     si.ssi_signo);
		}
		if (fds[0].revents)
			accept_client(m);
	}
	return 0;
}

static int open_socket_dir(struct monitor *m, struct crix_err **err)
{
	_cleanup_free_ char *dir = NULL;
	if (asprintf(&dir, "%s/%s", m->opts->socket_dir, m->opts->session_id) < 0)
		return crix_err_make(err, ENOMEM, "socket dir");
	if (crix_mkdir_p(dir, 0700, err) < 0)
		return -1;
	m->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->dir_fd < 0)
		return crix_err_make(err, errno, "open %s", dir);
	m->attach_fd = listen_at(m->dir_fd, "attach", SOCK_SEQPACKET, err);
	if (m->attach_fd < 0)
		return crix_err_wrap(err, "attach socket in %s", dir);
	unlinkat(m->dir_fd, "ctl", 0);
	if (mkfifoat(m->dir_fd, "ctl", 0600) < 0)
		return crix_err_make(err, errno, "mkfifo %s/ctl", dir);
	/* Read-write, so the fifo never reports EOF when a writer goes: no busy loop. */
	m->ctl_fd = openat(m->dir_fd, "ctl", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (m->ctl_fd < 0)
		return crix_err_make(err, errno, "open %s/ctl", dir);
	return 0;
}

/* The runtime connects to the console socket and sends the pty master with SCM_RIGHTS. */
static int receive_console(int listen_fd, pid_t runtime, int *master, struct crix_err **err)
{
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, runtime, 0);
	if (pidfd < 0)
		return crix_err_make(err, errno, "pidfd_open runtime");
	struct pollfd fds[2] = {{listen_fd, POLLIN, 0}, {pidfd, POLLIN, 0}};
	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return crix_err_make(err, errno, "poll console socket");
		}
		if (fds[0].revents & POLLIN)
			break;
		if (fds[1].revents)
			return crix_err_make(err, EPIPE, "the runtime exited without sending a terminal");
	}
	_cleanup_close_ int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		return crix_err_make(err, errno, "accept on console socket");
	if ((*master = crix_recv_fd(conn, err)) < 0)
		return crix_err_wrap(err, "console socket: the terminal");
	return 0;
}

/* Runs `<runtime> create` with the container's stdio; fills m->pid. */
static int create_container(struct monitor *m, struct crix_err **err)
{
	const struct mon_opts *o = m->opts;
	_cleanup_free_ char *pidfile = NULL;
	if (o->container_pidfile == NULL &&
	    asprintf(&pidfile, "%s/%s/pid", o->socket_dir, o->session_id) < 0)
		return crix_err_make(err, ENOMEM, "pid file path");
	const char *pid_path = o->container_pidfile ? o->container_pidfile : pidfile;
	unlink(pid_path);

	/* With a terminal the container's stdio is the pty; the pipes carry only what the runtime
	 * itself prints. */
	int fds[2];
	_cleanup_close_ int in_rd = -1, out_wr = -1, err_wr = -1, console = -1;
	if (mon_output_pipe(fds, err) < 0)
		return -1;
	m->err_fd = fds[0];
	err_wr = fds[1];
	if (!o->terminal) {
		if (mon_output_pipe(fds, err) < 0)
			return -1;
		m->out_fd = fds[0];
		out_wr = fds[1];
		/* Fewer wake-ups for chatty containers; the kernel may refuse, which is fine. */
		fcntl(m->out_fd, F_SETPIPE_SZ, 256 * 1024);
	}
	if (o->stdin_open && !o->terminal) {
		if (pipe2(fds, O_CLOEXEC) < 0)
			return crix_err_make(err, errno, "pipe");
		in_rd = fds[0];
		m->in_fd = fds[1];
		mon_set_nonblock(m->in_fd);
	}

	char console_path[64];
	const char *create_args[] = {"create", "--bundle", o->bundle, "--pid-file", pid_path,
				     o->cid, NULL, NULL, NULL};
	const char *exec_args[] = {"exec", "-d", "--pid-file", pid_path, "--process",
				   o->exec_process_spec, o->cid, NULL, NULL, NULL};
	const char **args = o->exec ? exec_args : create_args;
	size_t id_at = o->exec ? 6 : 5;
	if (o->terminal) {
		console = listen_at(m->dir_fd, "console", SOCK_STREAM, err);
		if (console < 0)
			return crix_err_wrap(err, "console socket");
		/* The runtime resolves this through our fd table: short whatever the dir is. */
		snprintf(console_path, sizeof(console_path), "/proc/%d/fd/%d/console", (int)getpid(),
			 m->dir_fd);
		args[id_at] = "--console-socket";
		args[id_at + 1] = console_path;
		args[id_at + 2] = o->cid;
	}
	if (o->exec && wait_first_client(m, err) < 0)
		return -1;
	pid_t runtime;
	if (mon_spawn_runtime(o, args, in_rd, o->terminal ? err_wr : out_wr, err_wr, &runtime, err) < 0)
		return -1;
	/* Our copies would keep the streams from ever reaching EOF. */
	close(steal_fd(out_wr));
	close(steal_fd(err_wr));
	if (in_rd >= 0)
		close(steal_fd(in_rd));
	int rc = 0;
	if (o->terminal) {
		int master = -1;
		rc = receive_console(console, runtime, &master, err);
		unlinkat(m->dir_fd, "console", 0);
		if (rc == 0) {
			m->tty_fd = m->out_fd = master; /* output, resizes */
			mon_set_nonblock(master);
			if (o->stdin_open)
				m->in_fd = fcntl(master, F_DUPFD_CLOEXEC, 0);
		}
	}
	int status;
	if (mon_wait_runtime(runtime, &status, err) < 0)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		/* The runtime's own complaint is on the stdio it was given. */
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		if (mon_read_available(m->err_fd, &text, &len, 64 * 1024) < 0 ||
		    mon_read_available(m->out_fd, &text, &len, 64 * 1024) < 0)
			return crix_err_make(err, ENOMEM, "%s %s failed with status %d; reading its message",
					     o->runtime, args[0], mon_exit_code(status));
		if (len == 0)
			return crix_err_make(err, 0, "%s %s failed with status %d", o->runtime, args[0],
					     mon_exit_code(status));
		return crix_err_make(err, 0, "%.*s", (int)len, text);
	}
	if (rc < 0)
		return -1;
	return mon_read_pidfile(pid_path, &m->pid, err);
}

static int setup_loop(struct monitor *m, struct crix_err **err)
{
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (m->epfd < 0)
		return crix_err_make(err, errno, "epoll_create1");
	if (watch(m, EPOLL_CTL_ADD, m->sigfd, W_SIGNAL, EPOLLIN) < 0 ||
	    watch(m, EPOLL_CTL_ADD, m->attach_fd, W_ATTACH, EPOLLIN) < 0 ||
	    watch(m, EPOLL_CTL_ADD, m->ctl_fd, W_CTL, EPOLLIN) < 0)
		return crix_err_make(err, errno, "epoll_ctl");
	return 0;
}

/* The streams exist once the runtime has run. */
static int watch_streams(struct monitor *m, struct crix_err **err)
{
	if ((m->out_fd >= 0 && watch(m, EPOLL_CTL_ADD, m->out_fd, W_STDOUT, EPOLLIN) < 0) ||
	    (m->err_fd >= 0 && watch(m, EPOLL_CTL_ADD, m->err_fd, W_STDERR, EPOLLIN) < 0) ||
	    (m->oom.fd >= 0 && watch(m, EPOLL_CTL_ADD, m->oom.fd, W_OOM, EPOLLIN) < 0))
		return crix_err_make(err, errno, "epoll_ctl");
	return 0;
}

static void teardown(struct monitor *m)
{
	if (m->dir_fd >= 0) {
		unlinkat(m->dir_fd, "attach", 0);
		unlinkat(m->dir_fd, "ctl", 0);
	}
	while (m->n_clients > 0)
		drop_client(m, m->n_clients - 1);
	free(m->clients);
	free(m->pending);
	close_log(m);
	mon_oom_close(&m->oom);
	int *fds[] = {&m->out_fd, &m->err_fd, &m->in_fd, &m->attach_fd, &m->ctl_fd, &m->dir_fd,
		      &m->sigfd, &m->epfd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] == m->tty_fd)
			m->tty_fd = -1;
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	if (m->tty_fd >= 0)
		close(m->tty_fd);
}

int mon_run_container(const struct mon_opts *o, int sync_fd)
{
	struct monitor m = {.opts = o, .epfd = -1, .sigfd = -1, .out_fd = -1, .err_fd = -1,
			    .in_fd = -1, .tty_fd = -1, .attach_fd = -1, .ctl_fd = -1, .dir_fd = -1,
			    .oom = {.fd = -1}, .log = {.fd = -1}};
	struct crix_err *err = NULL;
	int status = 1;
	m.sigfd = mon_signals_open(&err);
	if (m.sigfd < 0 || crix_mkdir_p(o->exit_dir, 0755, &err) < 0 ||
	    mon_log_open(&m.log, o->log_path, o->log_size_max, &err) < 0 ||
	    open_socket_dir(&m, &err) < 0 || setup_loop(&m, &err) < 0 || create_container(&m, &err) < 0) {
		crix_err_wrap(&err, o->exec ? "exec in container %s" : "container %s", o->cid);
		mon_sync_fail(&sync_fd, err);
		goto out;
	}
	protect_from_oom_killer();
	/* OOM kills are the container's business, not a session's. */
	if (!o->exec && mon_oom_watch_pid(&m.oom, "/sys/fs/cgroup", m.pid, &err) < 0) {
		crix_warn("container %s: OOM kills will not be noticed: %s", o->cid, crix_err_msg(err));
		crix_err_free(&err);
	}
	if (watch_streams(&m, &err) < 0) {
		mon_sync_fail(&sync_fd, err);
		kill(m.pid, SIGKILL);
		goto out;
	}
	mon_sync_send(&sync_fd, mon_sync_pid_line(m.pid));
	/* A signal that came before the loop started is still pending on the signalfd. */
	status = loop(&m);
out:
	crix_err_free(&err);
	teardown(&m);
	return status;
}
