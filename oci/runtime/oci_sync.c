#include "oci_sync.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int oci_sync_send(int fd, int type, int value, const char *text)
{
	struct oci_sync_msg msg = {.type = type, .value = value};
	size_t len = offsetof(struct oci_sync_msg, text);
	if (text != NULL) {
		size_t n = strnlen(text, sizeof(msg.text) - 1);
		memcpy(msg.text, text, n);
		len += n + 1;
	}
	ssize_t r;
	do
		r = send(fd, &msg, len, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -1 : 0;
}

int oci_sync_recv(int fd, struct oci_sync_msg *msg)
{
	memset(msg, 0, sizeof(*msg));
	ssize_t r;
	do
		r = recv(fd, msg, sizeof(*msg), 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	if (r == 0)
		return 0;
	msg->text[sizeof(msg->text) - 1] = '\0';
	return 1;
}

int oci_sync_expect(int fd, int want, struct oci_sync_msg *msg, struct crix_err **err)
{
	int r = oci_sync_recv(fd, msg);
	if (r < 0)
		return crix_err_make(err, errno, "read from the container process");
	if (r == 0)
		return crix_err_make(err, EPIPE, "the container process exited during setup");
	if (msg->type == OCI_SYNC_ERROR) {
		/* The text already ends in strerror: keep the errno without repeating it. */
		crix_err_make(err, 0, "%s", msg->text);
		if (err != NULL && *err != NULL)
			(*err)->errnum = msg->value;
		return -1;
	}
	if (msg->type != want)
		return crix_err_make(err, EPROTO, "container process: unexpected message %d (want %d)",
				     msg->type, want);
	return 0;
}

void oci_sync_fail(int fd, struct crix_err *err)
{
	const char *text = crix_err_msg(err);
	if (fd < 0 || oci_sync_send(fd, OCI_SYNC_ERROR, err ? err->errnum : 0, text) < 0)
		dprintf(STDERR_FILENO, "crix-runtime: %s\n", text);
	_exit(1);
}
