/* Messages between a store's owner and crix-pull over a stream socket: each one JSON object
 * after its length (4 bytes, network order); reading their members. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "crix_cleanup.h"
#include "crix_record.h"
#include "img_internal.h"

/* A commit carries the image config (up to IMG_MAX_CONFIG), escaped as a JSON string. */
#define IMG_MAX_MSG (4 * IMG_MAX_CONFIG)

static int send_all(int fd, const void *buf, size_t len)
{
	for (const char *p = buf; len > 0;) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 1 when len bytes came, 0 at end of stream before the first, -1 on error. */
static int recv_all(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = recv(fd, (char *)buf + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			if (got == 0)
				return 0;
			errno = EPROTO;
			return -1;
		}
		got += (size_t)n;
	}
	return 1;
}

int img_msg_send(int fd, json_object *msg, struct crix_err **err)
{
	size_t len;
	const char *text = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);
	if (text == NULL)
		return crix_err_make(err, ENOMEM, "send message");
	if (len > IMG_MAX_MSG)
		return crix_err_make(err, EMSGSIZE, "send message: %zu bytes", len);
	uint32_t head = htonl((uint32_t)len);
	if (send_all(fd, &head, sizeof(head)) < 0 || send_all(fd, text, len) < 0)
		return crix_err_make(err, errno, "send message");
	return 0;
}

int img_msg_recv(int fd, json_object **out, struct crix_err **err)
{
	uint32_t head;
	int rc = recv_all(fd, &head, sizeof(head));
	if (rc <= 0)
		return crix_err_make(err, rc == 0 ? EPIPE : errno, "receive message%s",
				     rc == 0 ? ": connection closed" : "");
	size_t len = ntohl(head);
	if (len > IMG_MAX_MSG)
		return img_err(err, IMG_ERR_PROTOCOL, EMSGSIZE, "receive message: %zu bytes", len);
	_cleanup_free_ char *text = malloc(len + 1);
	if (text == NULL)
		return crix_err_make(err, ENOMEM, "receive message");
	if (recv_all(fd, text, len) <= 0)
		return crix_err_make(err, EPROTO, "receive message: cut short");
	text[len] = '\0';
	json_object *o = NULL;
	_cleanup_err_ struct crix_err *perr = NULL;
	rc = crix_json_parse(text, len, &o, &perr);
	OPENSSL_cleanse(text, len); /* credentials and tokens travel this way */
	if (rc < 0 && perr->errnum == ENOMEM)
		return img_err_pass(err, &perr);
	if (rc < 0 || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return img_err(err, IMG_ERR_PROTOCOL, EPROTO, "receive message: not a JSON object%s%s",
			       perr ? ": " : "", perr ? crix_err_msg(perr) : "");
	}
	*out = o;
	return 0;
}

const char *img_json_str(json_object *o, const char *key)
{
	json_object *v;
	if (o == NULL || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}
