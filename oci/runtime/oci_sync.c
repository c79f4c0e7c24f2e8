#include "oci_sync.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crix_cleanup.h"

/* A corrupt header must not make us allocate without bound: no text of ours comes near. */
#define OCI_SYNC_TEXT_MAX (64u << 20)

struct oci_sync_header {
	int32_t type;
	int32_t value;
	uint32_t text_size; /* with its NUL; 0: no text */
};

struct oci_sync_msg {
	int type;
	int value;
	char *text; /* NUL-terminated, malloc'd; NULL: none */
};

static const char *type_name(int type)
{
	static const char *const names[] = {
		[OCI_SYNC_GO] = "GO",	      [OCI_SYNC_USERMAP] = "USERMAP", [OCI_SYNC_USERMAP_DONE] = "USERMAP_DONE",
		[OCI_SYNC_PID] = "PID",	      [OCI_SYNC_HOOKS] = "HOOKS",     [OCI_SYNC_HOOKS_DONE] = "HOOKS_DONE",
		[OCI_SYNC_READY] = "READY", [OCI_SYNC_ERROR] = "ERROR",
	};
	return type > 0 && (size_t)type < sizeof(names) / sizeof(names[0]) ? names[type] : "unknown";
}

static int send_packet(int fd, const void *head, size_t head_len, const char *data, size_t len)
{
	struct iovec iov[2] = {{(void *)head, head_len}, {(void *)data, len}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
	ssize_t r;
	do
		r = sendmsg(fd, &m, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -1 : 0;
}

int oci_sync_send(int fd, enum oci_sync_type type, int value, const char *text, struct crix_err **err)
{
	size_t size = text ? strlen(text) + 1 : 0;
	if (size > OCI_SYNC_TEXT_MAX)
		return crix_err_make(err, EMSGSIZE, "sync message %s: %zu bytes of text", type_name(type), size);
	struct oci_sync_header h = {.type = type, .value = value, .text_size = (uint32_t)size};
	size_t sent = size < OCI_SYNC_PACKET - sizeof(h) ? size : OCI_SYNC_PACKET - sizeof(h);
	if (send_packet(fd, &h, sizeof(h), text, sent) < 0)
		return crix_err_make(err, errno, "send sync message %s", type_name(type));
	while (sent < size) {
		size_t n = size - sent < OCI_SYNC_PACKET ? size - sent : OCI_SYNC_PACKET;
		if (send_packet(fd, NULL, 0, text + sent, n) < 0)
			return crix_err_make(err, errno, "send sync message %s", type_name(type));
		sent += n;
	}
	return 0;
}

/* One packet into head (head_len bytes, may be 0) and data; returns its size, 0 at EOF, -1
 * with errno (EPROTO when it was larger than both). */
static ssize_t recv_packet(int fd, void *head, size_t head_len, char *data, size_t len, int flags)
{
	struct iovec iov[2] = {{head, head_len}, {data, len}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
	ssize_t r;
	do
		r = recvmsg(fd, &m, flags | MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r > 0 && (m.msg_flags & MSG_TRUNC) && !(flags & MSG_PEEK)) {
		errno = EPROTO;
		return -1;
	}
	return r;
}

/* Receives one message; 0 on EOF, 1 with a message (its text for the caller to free), -1 on
 * an error (errno). */
static int recv_msg(int fd, struct oci_sync_msg *msg)
{
	*msg = (struct oci_sync_msg){0};
	struct oci_sync_header h;
	/* A look at the header first, to size the text. */
	ssize_t r = recv_packet(fd, &h, sizeof(h), NULL, 0, MSG_PEEK);
	if (r <= 0)
		return (int)r;
	if ((size_t)r < sizeof(h) || h.text_size > OCI_SYNC_TEXT_MAX) {
		errno = EPROTO;
		return -1;
	}
	_cleanup_free_ char *text = h.text_size ? malloc(h.text_size) : NULL;
	if (h.text_size && text == NULL)
		return -1;
	size_t first = h.text_size < OCI_SYNC_PACKET - sizeof(h) ? h.text_size : OCI_SYNC_PACKET - sizeof(h);
	r = recv_packet(fd, &h, sizeof(h), text, first, 0);
	if (r < 0)
		return -1;
	size_t got = (size_t)r - sizeof(h);
	while (got < h.text_size) {
		size_t n = h.text_size - got < OCI_SYNC_PACKET ? h.text_size - got : OCI_SYNC_PACKET;
		r = recv_packet(fd, NULL, 0, text + got, n, 0);
		if (r <= 0) {
			if (r == 0) /* the sender died halfway */
				errno = EPROTO;
			return -1;
		}
		got += (size_t)r;
	}
	if (got != h.text_size || (h.text_size && text[h.text_size - 1] != '\0')) {
		errno = EPROTO;
		return -1;
	}
	*msg = (struct oci_sync_msg){.type = h.type, .value = h.value, .text = steal_ptr(text)};
	return 1;
}

/* An ERROR message as *err: the text already ends in strerror, so keep its errno without
 * repeating it. */
static int error_from(const struct oci_sync_msg *msg, struct crix_err **err)
{
	crix_err_make(err, 0, "%s", msg->text ? msg->text : "the container process failed");
	return crix_err_classify(err, msg->value, 0);
}

int oci_sync_expect(int fd, enum oci_sync_type want, int *value, struct crix_err **err)
{
	struct oci_sync_msg msg;
	int r = recv_msg(fd, &msg);
	_cleanup_free_ char *text = msg.text;
	if (r < 0)
		return crix_err_make(err, errno, "read from the container process (want %s)", type_name(want));
	if (r == 0)
		return crix_err_make(err, EPIPE, "the container process exited during setup");
	if (msg.type == OCI_SYNC_ERROR)
		return error_from(&msg, err);
	if (msg.type != (int)want)
		return crix_err_make(err, EPROTO, "container process: unexpected message %s (want %s)",
				     type_name(msg.type), type_name(want));
	if (value != NULL)
		*value = msg.value;
	return 0;
}

int oci_sync_expect_exec(int fd, struct crix_err **err)
{
	struct oci_sync_msg msg;
	int r = recv_msg(fd, &msg);
	_cleanup_free_ char *text = msg.text;
	if (r < 0)
		return crix_err_make(err, errno, "read from the container process");
	if (r == 0)
		return 0;
	if (msg.type == OCI_SYNC_ERROR)
		return error_from(&msg, err);
	return crix_err_make(err, EPROTO, "container process: unexpected message %s (want its exec)",
			     type_name(msg.type));
}

void oci_sync_fail(int fd, struct crix_err *err)
{
	const char *text = crix_err_msg(err);
	if (fd < 0 || oci_sync_send(fd, OCI_SYNC_ERROR, err ? err->errnum : 0, text, NULL) < 0)
		dprintf(STDERR_FILENO, "crix-runtime: %s\n", text);
	_exit(1);
}

int oci_sync_fork_pid(int fd, struct crix_err **err)
{
	int gate[2];
	if (pipe2(gate, O_CLOEXEC) < 0)
		return crix_err_make(err, errno, "pipe");
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(gate[0]);
		close(gate[1]);
		return crix_err_make(err, e, "fork");
	}
	if (pid == 0) {
		char c;
		close(gate[1]);
		ssize_t n;
		do
			n = read(gate[0], &c, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1) /* our parent could not report us: the runtime kills it and gives up */
			_exit(1);
		close(gate[0]);
		return 0;
	}
	close(gate[0]);
	if (oci_sync_send(fd, OCI_SYNC_PID, pid, NULL, NULL) < 0 || write(gate[1], "1", 1) != 1) {
		kill(pid, SIGKILL);
		_exit(1);
	}
	_exit(0);
}
