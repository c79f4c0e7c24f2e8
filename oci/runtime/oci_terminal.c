#include "oci_terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "crix_cleanup.h"
#include "crix_file.h"

int oci_console_connect(const char *path, struct crix_err **err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(addr.sun_path))
		return crix_err_make(err, ENAMETOOLONG, "console socket %s", path);
	strcpy(addr.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return crix_err_make(err, errno, "console socket: socket");
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;
		close(fd);
		return crix_err_make(err, e, "connect to console socket %s", path);
	}
	return fd;
}

static int send_fd(int sock, int fd, const char *name, struct crix_err **err)
{
	char control[CMSG_SPACE(sizeof(int))];
	memset(control, 0, sizeof(control));
	struct iovec iov = {.iov_base = (void *)name, .iov_len = strlen(name)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			     .msg_controllen = sizeof(control)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	ssize_t n;
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return crix_err_make(err, errno, "send the pty master over the console socket");
	return 0;
}

int oci_console_recv(int sock, struct crix_err **err)
{
	int fd = crix_recv_fd(sock, err);
	return fd < 0 ? crix_err_wrap(err, "receive the pty master") : fd;
}

int oci_console_setup(int socket_fd, const struct oci_process *process, bool mount_console,
		      struct crix_err **err)
{
	_cleanup_close_ int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return crix_err_make(err, errno, "open /dev/ptmx");
	if (unlockpt(master) < 0)
		return crix_err_make(err, errno, "unlockpt");
	char name[64];
	if (ptsname_r(master, name, sizeof(name)) != 0)
		return crix_err_make(err, errno, "ptsname");
	_cleanup_close_ int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return crix_err_make(err, errno, "open %s", name);
	if (process != NULL && process->has_console_size) {
		struct winsize ws = {.ws_row = (unsigned short)process->console_height,
				     .ws_col = (unsigned short)process->console_width};
		if (ioctl(slave, TIOCSWINSZ, &ws) < 0)
			return crix_err_make(err, errno, "set the console size");
	}
	if (mount_console) {
		int f = open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (f >= 0)
			close(f);
		if (mount(name, "/dev/console", NULL, MS_BIND, NULL) < 0)
			return crix_err_make(err, errno, "bind %s onto /dev/console", name);
	}
	if (send_fd(socket_fd, master, name, err) < 0)
		return -1;
	if (setsid() < 0)
		return crix_err_make(err, errno, "setsid");
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return crix_err_make(err, errno, "make %s the controlling terminal", name);
	for (int i = 0; i < 3; i++)
		if (dup2(slave, i) < 0)
			return crix_err_make(err, errno, "dup the terminal onto fd %d", i);
	return 0;
}
