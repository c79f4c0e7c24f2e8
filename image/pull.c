/* img_pull: one crix-pull process per pull, answered here: its blobs and layers pinned against
 * garbage collection until it ends, its record checked and committed once it has ended well,
 * and a cancelled pull told to stop (by closing the pipe that is its fd 4).
 *
 * The conversation on crix-pull's fd 3 (img_msg_send/img_msg_recv):
 *   -> {"root", "certs_dir", "unpack_after_download", "settings", "ref", "auth"}
 *   <- {"pin": [digest...]}     -> {} or {"error", "errno", "kind"}
 *   <- {"token_get": key}       -> {"token": value} or {}
 *   <- {"token_put": key, "token": value, "expires_in": seconds}  -> {}
 *   <- {"opaque": layer-dir, "rel": dir}  -> {} or {"error", "errno", "kind"}
 *   <- {"done": image_id, "record": record} or {"error", "errno", "kind"}   (the last message)
 * crix-pull parses what registries send: every message is checked here (pull_check.c for the
 * record), and one that is not what a pull says fails the pull before anything is committed. */
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
#include "crix_json_read.h"
#include "crix_log.h"
#include "crix_spawn.h"
#include "img_internal.h"

/* How often a running pull looks whether it was cancelled, and how long crix-pull has to stop
 * then (or to end after its last message). */
#define CANCEL_POLL_MS 100
#define STOP_GRACE_MS 10000
/* Bounds on what one pull may ask of crixd. */
#define MAX_PINS 65536
#define MAX_TOKEN_PUTS 64
#define MAX_TOKEN_KEY 8192
#define MAX_TOKEN (64u << 10)
#define MAX_TOKEN_LIFE (24 * 3600) /* kept at most this long */
#define MAX_ERROR_TEXT 4096

/* An error whose message already names its cause: errnum only travels with it, for the status
 * code, instead of appending its strerror. */
static int error_noted(struct crix_err **err, int errnum, enum img_err_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int error_noted(struct crix_err **err, int errnum, enum img_err_kind kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	crix_err_makev(err, 0, fmt, ap);
	va_end(ap);
	return crix_err_classify(err, errnum, (int)kind);
}

#define protocol_error(err, ...) error_noted(err, EPROTO, IMG_ERR_PROTOCOL, __VA_ARGS__)

json_object *img_error_json(const struct crix_err *e)
{
	json_object *o = json_object_new_object();
	if (o != NULL &&
	    (crix_json_add(o, "error", json_object_new_string(e ? crix_err_msg(e) : "failed"), NULL) < 0 ||
	     crix_json_add(o, "errno", json_object_new_int(e && e->errnum > 0 ? e->errnum : EIO), NULL) < 0 ||
	     crix_json_add(o, "kind", json_object_new_string(img_err_kind_name(img_err_kind(e))), NULL) < 0)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int img_error_from_json(json_object *o, struct crix_err **err)
{
	json_object *v;
	const char *msg = img_json_str(o, "error");
	int errnum = json_object_object_get_ex(o, "errno", &v) && json_object_is_type(v, json_type_int)
			     ? json_object_get_int(v)
			     : EIO;
	int kind = img_err_kind_parse(img_json_str(o, "kind"));
	return error_noted(err, errnum > 0 && errnum < 4096 ? errnum : EIO, kind < 0 ? IMG_ERR_OTHER : kind, "%.*s",
			   MAX_ERROR_TEXT, msg ? msg : "failed");
}

static json_object *auth_json(const struct img_auth *a)
{
	json_object *o = json_object_new_object();
	const char *names[] = {"username", "password", "auth", "server_address", "identity_token", "registry_token"};
	const char *values[] = {a->username, a->password, a->auth, a->server_address, a->identity_token,
				a->registry_token};
	for (size_t i = 0; o != NULL && i < sizeof(names) / sizeof(names[0]); i++) {
		if (values[i] != NULL && crix_json_add(o, names[i], json_object_new_string(values[i]), NULL) < 0) {
			json_object_put(o);
			o = NULL;
		}
	}
	return o;
}

/* crix-pull's request; NULL when out of memory. */
static json_object *request_json(struct img_store *s, const char *ref, const struct img_auth *auth)
{
	json_object *o = json_object_new_object();
	if (o == NULL)
		return NULL;
	/* one snapshot for the whole pull: a reload meanwhile applies to later pulls */
	struct img_settings *set = img_settings_get(s);
	json_object *settings = img_settings_to_json(set);
	img_settings_put(s, set);
	bool ok = crix_json_add(o, "root", json_object_new_string(s->root), NULL) == 0 &&
		  crix_json_add(o, "certs_dir", json_object_new_string(s->certs_dir), NULL) == 0 &&
		  crix_json_add(o, "unpack_after_download", json_object_new_boolean(s->unpack_after_download), NULL) == 0 &&
		  crix_json_add(o, "settings", steal_ptr(settings), NULL) == 0 &&
		  crix_json_add(o, "ref", json_object_new_string(ref), NULL) == 0 &&
		  (auth == NULL || crix_json_add(o, "auth", auth_json(auth), NULL) == 0);
	json_object_put(settings);
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* A running crix-pull. */
struct puller {
	struct img_store *store;
	const struct img_ref *ref;
	pid_t pid;
	int sock;      /* our end of its fd 3 */
	int cancel_fd; /* the write end of its fd 4; -1 once closed */
	struct crix_strv pins;
	unsigned token_puts;
	/* its last message: the record (checked) and id, or its error */
	bool finished;
	struct img_record *rec;
	struct crix_err *failure;
};

/* Whether msg has no members but kind and those listed (NULL-terminated). */
static bool only_members(json_object *msg, const char *kind, const char *const *others)
{
	json_object_object_foreach(msg, key, val)
	{
		(void)val;
		bool known = strcmp(key, kind) == 0;
		for (size_t i = 0; !known && others[i] != NULL; i++)
			known = strcmp(key, others[i]) == 0;
		if (!known)
			return false;
	}
	return true;
}

/* Drops the pins from index before on: p->pins holds exactly what the store holds for the pull
 * (img_pins_remove at its end takes one of each out of the store). */
static void unpin_from(struct crix_strv *pins, size_t before)
{
	while (pins->n > before)
		free(pins->v[--pins->n]);
	if (pins->v)
		pins->v[pins->n] = NULL;
}

/* A pin that cannot be held (ENOMEM) ends the pull: crix-pull must not go on fetching what
 * garbage collection could delete under it. */
static int answer_pin(struct puller *p, json_object *keys, struct crix_err **err)
{
	if (!json_object_is_type(keys, json_type_array))
		return protocol_error(err, "crix-pull sent a pin that is not a list");
	size_t n = json_object_array_length(keys);
	if (n > MAX_PINS - p->pins.n)
		return protocol_error(err, "crix-pull pinned more than %d keys", MAX_PINS);
	for (size_t i = 0; i < n; i++) {
		json_object *k = json_object_array_get_idx(keys, i);
		if (!json_object_is_type(k, json_type_string) || img_digest_check(json_object_get_string(k), NULL) < 0)
			return protocol_error(err, "crix-pull pinned \"%.80s\", which is not a sha256 digest",
					      json_object_get_string(k));
	}
	size_t before = p->pins.n;
	for (size_t i = 0; i < n; i++) {
		if (crix_strv_add(&p->pins, json_object_get_string(json_object_array_get_idx(keys, i))) < 0) {
			unpin_from(&p->pins, before);
			return crix_err_make(err, ENOMEM, "pin");
		}
	}
	struct crix_strv added = {.v = p->pins.v + before, .n = n};
	if (img_pins_add(p->store, &added, err) < 0) {
		unpin_from(&p->pins, before);
		return -1;
	}
	return 0;
}

static int answer_token_put(struct puller *p, json_object *msg, struct crix_err **err)
{
	json_object *v;
	const char *key = img_json_str(msg, "token_put"), *value = img_json_str(msg, "token");
	int64_t life = json_object_object_get_ex(msg, "expires_in", &v) && json_object_is_type(v, json_type_int)
			       ? json_object_get_int64(v)
			       : -1;
	if (key == NULL || strlen(key) > MAX_TOKEN_KEY || value == NULL || strlen(value) > MAX_TOKEN || life < 1)
		return protocol_error(err, "crix-pull sent a malformed token");
	if (++p->token_puts > MAX_TOKEN_PUTS)
		return protocol_error(err, "crix-pull sent more than %d tokens", MAX_TOKEN_PUTS);
	img_token_put(p->store, key, value, (long)(life < MAX_TOKEN_LIFE ? life : MAX_TOKEN_LIFE));
	return 0;
}

/* Its last message: the record it made, checked, or its error. */
static int take_result(struct puller *p, json_object *msg, struct crix_err **err)
{
	json_object *record;
	const char *done = img_json_str(msg, "done");
	if (json_object_object_get_ex(msg, "error", NULL)) {
		if (!only_members(msg, "error", (const char *const[]){"errno", "kind", NULL}))
			return protocol_error(err, "crix-pull sent a malformed error");
		img_error_from_json(msg, &p->failure);
	} else if (done == NULL || !json_object_object_get_ex(msg, "record", &record) ||
		   !only_members(msg, "done", (const char *const[]){"record", NULL})) {
		return protocol_error(err, "crix-pull said done without an image id and a record");
	} else if (img_record_check(p->store, record, p->ref, &p->rec, err) < 0) {
		return -1;
	} else if (strcmp(done, p->rec->img.id) != 0) {
		return protocol_error(err, "crix-pull said done with %.80s, but its record is of %s", done,
				      p->rec->img.id);
	}
	p->finished = true;
	return 0;
}

/* Answers one message of crix-pull; -1 when it was not one a pull sends. */
static int answer(struct puller *p, json_object *msg, struct crix_err **err)
{
	json_object *v;
	if (p->finished)
		return protocol_error(err, "crix-pull sent a message after its last");
	if (json_object_object_get_ex(msg, "done", NULL) || json_object_object_get_ex(msg, "error", NULL))
		return take_result(p, msg, err);
	_cleanup_err_ struct crix_err *e = NULL;
	json_object *reply = NULL;
	if (json_object_object_get_ex(msg, "token_get", &v) && only_members(msg, "token_get", (const char *const[]){NULL})) {
		const char *key = img_json_str(msg, "token_get");
		if (key == NULL || strlen(key) > MAX_TOKEN_KEY)
			return protocol_error(err, "crix-pull asked for a malformed token key");
		if ((reply = json_object_new_object()) == NULL)
			return crix_err_make(err, ENOMEM, "token");
		_cleanup_free_ char *token = img_token_get(p->store, key);
		int rc = token ? crix_json_add(reply, "token", json_object_new_string(token), err) : 0;
		if (token != NULL)
			OPENSSL_cleanse(token, strlen(token));
		if (rc < 0) {
			json_object_put(reply);
			return -1;
		}
	} else if (json_object_object_get_ex(msg, "token_put", NULL) &&
		   only_members(msg, "token_put", (const char *const[]){"token", "expires_in", NULL})) {
		if (answer_token_put(p, msg, err) < 0)
			return -1;
	} else if (json_object_object_get_ex(msg, "opaque", NULL) &&
		   only_members(msg, "opaque", (const char *const[]){"rel", NULL})) {
		const char *dir = img_json_str(msg, "opaque"), *rel = img_json_str(msg, "rel");
		if (dir == NULL || rel == NULL)
			return protocol_error(err, "crix-pull sent a malformed opaque");
		if (img_mark_opaque_for_pull(p->store, dir, rel, &e) < 0 && img_err_kind(e) == IMG_ERR_PROTOCOL) {
			*err = steal_ptr(e);
			return -1;
		}
	} else if (json_object_object_get_ex(msg, "pin", &v) && only_members(msg, "pin", (const char *const[]){NULL})) {
		if (answer_pin(p, v, err) < 0)
			return -1;
	} else {
		return protocol_error(err, "crix-pull sent an unknown message");
	}
	if (reply == NULL)
		reply = e ? img_error_json(e) : json_object_new_object();
	if (reply == NULL)
		return crix_err_make(err, ENOMEM, "reply");
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

/* Serves p until it closes the conversation after its last message, telling it to stop once
 * ctl says the pull is cancelled, and killing it if it has not stopped STOP_GRACE_MS after
 * that, or after its last message. */
static int serve(struct puller *p, const struct img_pull_ctl *ctl, struct crix_err **err)
{
	int stop_wait = -1; /* ms since it was told to stop or said its last; -1: neither */
	for (;;) {
		if (stop_wait < 0 && p->finished)
			stop_wait = 0;
		struct pollfd pfd = {.fd = p->sock, .events = POLLIN};
		int timeout = (ctl != NULL || stop_wait >= 0) && stop_wait < STOP_GRACE_MS ? CANCEL_POLL_MS : -1;
		int n = poll(&pfd, 1, timeout);
		if (n < 0 && errno != EINTR)
			return crix_err_make(err, errno, "poll");
		if (n == 0 && stop_wait >= 0 && (stop_wait += CANCEL_POLL_MS) >= STOP_GRACE_MS) {
			crix_warn("crix-pull (pid %d) did not end when %s: killing it", (int)p->pid,
				  p->finished ? "done" : "cancelled");
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
		_cleanup_err_ struct crix_err *e = NULL;
		if (img_msg_recv(p->sock, &msg, &e) < 0) {
			if (p->finished && e->errnum == EPIPE)
				return 0; /* closed after its last message */
			*err = steal_ptr(e);
			return -1;
		}
		int rc = answer(p, msg, err);
		json_object_put(msg);
		if (rc < 0)
			return -1;
	}
}

int img_pull_ex(struct img_store *s, const char *text, const struct img_auth *auth, const struct img_pull_ctl *ctl,
		char **image_id, struct crix_err **err)
{
	struct img_ref ref;
	if (img_ref_parse(text, &ref, err) < 0)
		return -1;
	_cleanup_free_ char *full = img_ref_format(&ref);
	json_object *req = full ? request_json(s, full, auth) : NULL;
	if (req == NULL) {
		img_ref_clear(&ref);
		return crix_err_make(err, ENOMEM, "pull %s", text);
	}
	struct puller p = {.store = s, .ref = &ref, .pid = -1, .sock = -1, .cancel_fd = -1};
	_cleanup_err_ struct crix_err *e = NULL;
	int rc = start(&p, &e);
	if (rc < 0) {
		json_object_put(req);
		img_ref_clear(&ref);
		return error_noted(err, EIO, IMG_ERR_OTHER, "pull %s: start %s: %s", full, s->pull_helper,
				   crix_err_msg(e));
	}
	rc = img_msg_send(p.sock, req, &e) < 0 ? -1 : serve(&p, ctl, &e);
	json_object_put(req);
	/* crixd gave up on the pull (crix-pull said something a pull does not say, or a pin could
	 * not be held): nothing crix-pull does after that is of use */
	bool gave_up = rc < 0 && (img_err_kind(e) == IMG_ERR_PROTOCOL || e->errnum == ENOMEM);
	if (gave_up)
		kill(p.pid, SIGKILL);
	close(p.sock);
	if (p.cancel_fd >= 0)
		close(p.cancel_fd);
	int status = 0;
	crix_wait(p.pid, &status);
	bool exited_as_said = WIFEXITED(status) && WEXITSTATUS(status) == (p.rec != NULL ? 0 : 1);
	if (rc == 0 && p.rec != NULL && exited_as_said) {
		*image_id = strdup(p.rec->img.id);
		if (*image_id == NULL)
			rc = crix_err_make(err, ENOMEM, "pull %s", full);
		else if ((rc = img_store_commit(s, steal_ptr(p.rec), err)) < 0)
			free(steal_ptr(*image_id));
		if (rc < 0)
			crix_err_wrap(err, "pull %s", full);
	} else if (rc == 0 && p.failure != NULL) {
		if (!exited_as_said)
			crix_warn("pull %s: crix-pull ended with wait status 0x%x after its error", full, status);
		*err = steal_ptr(p.failure);
		rc = -1;
	} else if (rc == 0) { /* it said done, then did not end well */
		rc = error_noted(err, EIO, IMG_ERR_OTHER, "pull %s: crix-pull ended with wait status 0x%x after done",
				 full, status);
	} else if (WIFSIGNALED(status) && !gave_up) {
		rc = error_noted(err, EIO, IMG_ERR_OTHER, "pull %s: crix-pull killed by signal %d (%s)", full,
				 WTERMSIG(status), strsignal(WTERMSIG(status)));
	} else {
		/* the conversation broke: crix-pull died, or said something a pull does not say */
		int errnum = img_err_kind(e) == IMG_ERR_PROTOCOL ? EPROTO : e->errnum == ENOMEM ? ENOMEM : EIO;
		rc = error_noted(err, errnum, img_err_kind(e),
				 "pull %s: %s", full, crix_err_msg(e));
	}
	/* only now can nothing of this pull be written any more */
	img_pins_remove(s, &p.pins);
	crix_strv_clear(&p.pins);
	img_record_free(p.rec);
	crix_err_free(&p.failure);
	img_ref_clear(&ref);
	return rc;
}

int img_pull(struct img_store *s, const char *text, const struct img_auth *auth, char **image_id,
	     struct crix_err **err)
{
	return img_pull_ex(s, text, auth, NULL, image_id, err);
}
