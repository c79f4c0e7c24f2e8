/* img_pull: one crix-pull process per pull, answered here: its blobs and layers pinned against
 * garbage collection until it ends, the record it made committed, and a cancelled pull told
 * to stop (by closing the pipe that is its fd 4).
 *
 * The conversation on crix-pull's fd 3 (img_msg_send/img_msg_recv):
 *   -> {"root", "certs_dir", "unpack_after_download", "settings", "ref", "auth"}
 *   <- {"pin": [key...]}        -> {} or {"error", "errno"}
 *   <- {"commit": record}       -> {} or {"error", "errno"}
 *   <- {"token_get": key}       -> {"token": value} or {}
 *   <- {"token_put": key, "token": value, "expires_in": seconds}  -> {}
 *   <- {"done": image_id} or {"error", "errno"}   (the last message) */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "crix_cleanup.h"
#include "crix_log.h"
#include "crix_spawn.h"
#include "img_internal.h"

/* How often a running pull looks whether it was cancelled, and how long crix-pull has to stop
 * then. */
#define CANCEL_POLL_MS 100
#define STOP_GRACE_MS 10000

/* An error whose message already names its cause: errnum only travels with it, for the status
 * code, instead of appending its strerror. */
static int error_noted(struct crix_err **err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int error_noted(struct crix_err **err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	crix_err_makev(err, 0, fmt, ap);
	va_end(ap);
	if (err && *err)
		(*err)->errnum = errnum;
	return -1;
}

json_object *img_error_json(const struct crix_err *e)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(e ? e->msg : "failed"));
	json_object_object_add(o, "errno", json_object_new_int(e ? e->errnum : EIO));
	return o;
}

int img_error_from_json(json_object *o, struct crix_err **err)
{
	json_object *v;
	const char *msg = img_json_str(o, "error");
	return error_noted(err, json_object_object_get_ex(o, "errno", &v) ? json_object_get_int(v) : EIO, "%s",
			   msg ? msg : "failed");
}

static json_object *auth_json(const struct img_auth *a)
{
	json_object *o = json_object_new_object();
	const char *names[] = {"username", "password", "auth", "server_address", "identity_token", "registry_token"};
	const char *values[] = {a->username, a->password, a->auth, a->server_address, a->identity_token,
				a->registry_token};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (values[i] != NULL)
			json_object_object_add(o, names[i], json_object_new_string(values[i]));
	return o;
}

static json_object *request_json(struct img_store *s, const char *ref, const struct img_auth *auth)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "root", json_object_new_string(s->root));
	json_object_object_add(o, "certs_dir", json_object_new_string(s->certs_dir));
	json_object_object_add(o, "unpack_after_download", json_object_new_boolean(s->unpack_after_download));
	/* one snapshot for the whole pull: a reload meanwhile applies to later pulls */
	struct img_settings *set = img_settings_get(s);
	json_object_object_add(o, "settings", img_settings_to_json(set));
	img_settings_put(s, set);
	json_object_object_add(o, "ref", json_object_new_string(ref));
	if (auth != NULL)
		json_object_object_add(o, "auth", auth_json(auth));
	return o;
}

/* A running crix-pull. */
struct puller {
	struct img_store *store;
	pid_t pid;
	int sock;      /* our end of its fd 3 */
	int cancel_fd; /* the write end of its fd 4; -1 once closed */
	struct crix_strv pins;
};

static int answer_pin(struct puller *p, json_object *keys, struct crix_err **err)
{
	size_t before = p->pins.n, n = json_object_array_length(keys);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const char *k = json_object_get_string(json_object_array_get_idx(keys, i));
		if (k == NULL || img_digest_check(k, NULL) < 0)
			rc = crix_err_make(err, EPROTO, "crix-pull pinned a bad key");
		else if (crix_strv_add(&p->pins, k) < 0)
			rc = crix_err_make(err, ENOMEM, "pin");
	}
	if (rc < 0) { /* p->pins holds exactly what the store holds for this pull */
		while (p->pins.n > before)
			free(p->pins.v[--p->pins.n]);
		if (p->pins.v)
			p->pins.v[p->pins.n] = NULL;
		return -1;
	}
	struct crix_strv added = {.v = p->pins.v + before, .n = n};
	img_pins_add(p->store, &added);
	return 0;
}

/* Answers one message of crix-pull. Returns 1 when it was the pull's last (its result in
 * *image_id or err), 0 when answered, -1 when the conversation broke. */
static int answer(struct puller *p, json_object *msg, char **image_id, struct crix_err **err)
{
	json_object *v;
	const char *done = img_json_str(msg, "done");
	if (done != NULL) {
		if ((*image_id = strdup(done)) == NULL)
			return crix_err_make(err, ENOMEM, "pull");
		return 1;
	}
	if (json_object_object_get_ex(msg, "error", &v)) {
		img_error_from_json(msg, err);
		return 1;
	}
	_cleanup_err_ struct crix_err *e = NULL;
	json_object *reply = NULL;
	const char *token_key = img_json_str(msg, "token_get");
	const char *put_key = img_json_str(msg, "token_put"), *put_value = img_json_str(msg, "token");
	if (token_key != NULL) {
		reply = json_object_new_object();
		_cleanup_free_ char *token = img_token_get(p->store, token_key);
		if (token != NULL) {
			json_object_object_add(reply, "token", json_object_new_string(token));
			OPENSSL_cleanse(token, strlen(token));
		}
	} else if (put_key != NULL && put_value != NULL) {
		img_token_put(p->store, put_key, put_value,
			      json_object_object_get_ex(msg, "expires_in", &v) ? (long)json_object_get_int64(v) : 60);
	} else if (json_object_object_get_ex(msg, "pin", &v) && json_object_is_type(v, json_type_array)) {
		answer_pin(p, v, &e);
	} else if (json_object_object_get_ex(msg, "commit", &v)) {
		struct img_record *rec;
		if (img_record_from_json(v, &rec, &e) == 0)
			img_store_commit(p->store, rec, &e);
	} else {
		return crix_err_make(err, EPROTO, "crix-pull sent an unknown message");
	}
	if (reply == NULL)
		reply = e ? img_error_json(e) : json_object_new_object();
	int rc = img_msg_send(p->sock, reply, err);
	json_object_put(reply);
	return rc;
}

static int start(struct puller *p, struct crix_err **err)
{
	int sv[2], cancel[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return crix_err_make(err, errno, "socketpair");
	if (pipe2(cancel, O_CLOEXEC) < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return crix_err_make(err, e, "pipe");
	}
	const char *level = crix_log_level_name(crix_log_get_level());
	char *argv[] = {"crix-pull", "--log-level", (char *)level, NULL};
	int fds[] = {sv[1], cancel[0]};
	struct crix_spawn_opts opts = {.path = p->store->pull_helper, .argv = argv, .stdin_fd = -1, .stdout_fd = -1,
				       .stderr_fd = STDERR_FILENO, .extra_fds = fds, .n_extra_fds = 2};
	int rc = crix_spawn(&opts, &p->pid, err);
	close(sv[1]);
	close(cancel[0]);
	if (rc < 0) {
		close(sv[0]);
		close(cancel[1]);
		return -1;
	}
	p->sock = sv[0];
	p->cancel_fd = cancel[1];
	return 0;
}

/* Serves p until its last message, telling it to stop once ctl says the pull is cancelled
 * (and killing it if it has not stopped STOP_GRACE_MS later). */
static int serve(struct puller *p, const struct img_pull_ctl *ctl, char **image_id, struct crix_err **err)
{
	int stop_wait = -1; /* ms since it was told to stop; -1: not told */
	for (;;) {
		struct pollfd pfd = {.fd = p->sock, .events = POLLIN};
		int timeout = ctl != NULL && stop_wait < STOP_GRACE_MS ? CANCEL_POLL_MS : -1;
		int n = poll(&pfd, 1, timeout);
		if (n < 0 && errno != EINTR)
			return crix_err_make(err, errno, "poll");
		if (n == 0 && stop_wait >= 0 && (stop_wait += CANCEL_POLL_MS) >= STOP_GRACE_MS) {
			crix_warn("crix-pull (pid %d) did not stop when cancelled: killing it", (int)p->pid);
			kill(p->pid, SIGKILL);
		}
		if (stop_wait < 0 && ctl && ctl->cancelled(ctl->arg)) {
			close(p->cancel_fd);
			p->cancel_fd = -1;
			stop_wait = 0;
		}
		if (n <= 0)
			continue;
		json_object *msg;
		if (img_msg_recv(p->sock, &msg, err) < 0)
			return -1;
		int rc = answer(p, msg, image_id, err);
		json_object_put(msg);
		if (rc != 0)
			return rc;
	}
}

int img_pull_ex(struct img_store *s, const char *text, const struct img_auth *auth, const struct img_pull_ctl *ctl,
		char **image_id, struct crix_err **err)
{
	_cleanup_free_ char *full = NULL;
	if (img_ref_normalize(text, &full, err) < 0)
		return -1;
	struct puller p = {.store = s, .pid = -1, .sock = -1, .cancel_fd = -1};
	_cleanup_err_ struct crix_err *e = NULL;
	if (start(&p, &e) < 0)
		return error_noted(err, EIO, "pull %s: start %s: %s", full, s->pull_helper, crix_err_msg(e));
	json_object *req = request_json(s, full, auth);
	int rc = img_msg_send(p.sock, req, &e) < 0 ? -1 : serve(&p, ctl, image_id, &e);
	json_object_put(req);
	close(p.sock);
	if (p.cancel_fd >= 0)
		close(p.cancel_fd);
	int status = 0;
	crix_wait(p.pid, &status);
	/* only now can nothing of this pull be written any more */
	img_pins_remove(s, &p.pins);
	crix_strv_clear(&p.pins);
	if (rc == 1 && !(WIFEXITED(status) && WEXITSTATUS(status) <= 1)) /* 0 done, 1 failed */
		crix_error("pull %s: crix-pull ended with wait status 0x%x after its result", full, status);
	if (rc == 1 && *image_id != NULL)
		return 0;
	if (rc == 1) {
		*err = steal_ptr(e);
		return -1;
	}
	/* the conversation broke: crix-pull died, or said something that makes no sense */
	if (WIFSIGNALED(status))
		return error_noted(err, EIO, "pull %s: crix-pull killed by signal %d (%s)", full, WTERMSIG(status),
				   strsignal(WTERMSIG(status)));
	return error_noted(err, EIO, "pull %s: crix-pull: %s (exit status %d)", full, crix_err_msg(e),
			   WEXITSTATUS(status));
}

int img_pull(struct img_store *s, const char *text, const struct img_auth *auth, char **image_id,
	     struct crix_err **err)
{
	return img_pull_ex(s, text, auth, NULL, image_id, err);
}
