/* crix-pull: one image pull for the process that owns the store (crixd, crix-image), which
 * starts it with a socket as fd 3 and a pipe as fd 4 (see pull.c for the conversation).
 * It alone talks to registries and unpacks layers; when fd 4 is closed (the pull was
 * cancelled, or its owner died) it stops. It runs with no_new_privs and only the
 * capabilities unpacking needs. Exit status 0 when it sent its image's record. */
#include <errno.h>
#include <getopt.h>
#include <linux/securebits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "crix_cleanup.h"
#include "crix_json_read.h"
#include "crix_log.h"
#include "img_internal.h"

#define OWNER_FD 3
#define CANCEL_FD 4

/* What unpacking a layer needs of root: owners (CHOWN), entries under directories the layer
 * made read-only (DAC_OVERRIDE), modes, times, xattrs and links of files it does not own
 * (FOWNER), set-id bits (FSETID), device nodes and whiteouts (MKNOD), file capabilities
 * (SETFCAP). The one thing that needs more, trusted.overlay.opaque (CAP_SYS_ADMIN), the owner
 * does (mark_opaque). */
static const cap_value_t unpack_caps[] = {CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FOWNER,
					  CAP_FSETID, CAP_MKNOD,        CAP_SETFCAP};
#define N_UNPACK_CAPS (sizeof(unpack_caps) / sizeof(unpack_caps[0]))

static bool unpack_cap(cap_value_t c)
{
	for (size_t i = 0; i < N_UNPACK_CAPS; i++)
		if (unpack_caps[i] == c)
			return true;
	return false;
}

/* Before anything from the owner or a registry is read, and before any thread starts (the
 * sets are per thread). Nothing exec'd could get capabilities back: no root privileges on
 * exec (securebits), no new privileges. */
static int drop_privileges(struct crix_err **err)
{
	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
					     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
					     SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
		  0, 0, 0) < 0)
		return crix_err_make(err, errno, "set securebits");
	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++)
		if (!unpack_cap(c) && cap_drop_bound(c) < 0)
			return crix_err_make(err, errno, "drop capability %d from the bounding set", (int)c);
	if (cap_reset_ambient() < 0)
		return crix_err_make(err, errno, "clear ambient capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return crix_err_make(err, errno, "set no_new_privs");
	cap_t caps = cap_init();
	if (caps == NULL)
		return crix_err_make(err, ENOMEM, "capabilities");
	int rc = cap_set_flag(caps, CAP_PERMITTED, N_UNPACK_CAPS, unpack_caps, CAP_SET) < 0 ||
			 cap_set_flag(caps, CAP_EFFECTIVE, N_UNPACK_CAPS, unpack_caps, CAP_SET) < 0 ||
			 cap_set_proc(caps) < 0
		     ? crix_err_make(err, errno, "set capabilities")
		     : 0;
	cap_free(caps);
	return rc;
}

static bool owner_gone(void *arg)
{
	(void)arg;
	struct pollfd pfd = {.fd = CANCEL_FD, .events = POLLIN};
	return poll(&pfd, 1, 0) != 0; /* readable (closed), or an error: stop */
}

/* One question at a time: the pull's threads share the socket. */
static pthread_mutex_t owner_lock = PTHREAD_MUTEX_INITIALIZER;

/* Sends msg (taken; NULL: it could not be made) to the owner and waits for its answer
 * (*reply, if wanted). */
static int ask_owner(json_object *msg, json_object **reply, struct crix_err **err)
{
	if (msg == NULL)
		return crix_err_make(err, ENOMEM, "message");
	json_object *r = NULL, *v;
	pthread_mutex_lock(&owner_lock);
	int rc = img_msg_send(OWNER_FD, msg, err) < 0 || img_msg_recv(OWNER_FD, &r, err) < 0 ? -1 : 0;
	pthread_mutex_unlock(&owner_lock);
	json_object_put(msg);
	if (rc == 0 && json_object_object_get_ex(r, "error", &v))
		rc = img_error_from_json(r, err);
	if (rc == 0 && reply != NULL)
		*reply = r;
	else
		json_object_put(r);
	return rc;
}

/* {key: value} with the members named in the NULL-terminated list (key, value, ...); NULL
 * when out of memory. */
static json_object *message(const char *key, json_object *value, ...)
{
	json_object *msg = json_object_new_object();
	va_list ap;
	va_start(ap, value);
	for (; key != NULL; key = va_arg(ap, const char *), value = key ? va_arg(ap, json_object *) : NULL)
		if (msg != NULL && crix_json_add(msg, key, value, NULL) < 0) {
			json_object_put(msg);
			msg = NULL;
		} else if (msg == NULL) {
			json_object_put(value);
		}
	va_end(ap);
	return msg;
}

static int pin(void *arg, const struct crix_strv *keys, struct crix_err **err)
{
	(void)arg;
	json_object *a = json_object_new_array();
	for (size_t i = 0; a != NULL && i < keys->n; i++) {
		json_object *k = json_object_new_string(keys->v[i]);
		if (k == NULL || json_object_array_add(a, k) < 0) {
			json_object_put(k);
			json_object_put(a);
			a = NULL;
		}
	}
	return ask_owner(message("pin", a, NULL), NULL, err) < 0 ? crix_err_wrap(err, "pin") : 0;
}

static int mark_opaque(void *arg, const char *dir, const char *rel, struct crix_err **err)
{
	(void)arg;
	return ask_owner(message("opaque", json_object_new_string(dir), "rel", json_object_new_string(rel), NULL),
			 NULL, err);
}

/* The record goes with the last message: the owner checks and commits it once this process
 * has ended. */
static int commit(void *arg, struct img_record *rec, struct crix_err **err)
{
	json_object **record = arg;
	*record = img_record_to_json(rec);
	img_record_free(rec);
	return *record ? 0 : crix_err_make(err, ENOMEM, "image record");
}

/* A token the owner does not answer for (or that cannot be asked for) is fetched again:
 * nothing worse. */
static char *token_get(void *arg, const char *key)
{
	(void)arg;
	json_object *reply = NULL;
	if (ask_owner(message("token_get", json_object_new_string(key), NULL), &reply, NULL) < 0)
		return NULL;
	const char *token = img_json_str(reply, "token");
	char *copy = token ? strdup(token) : NULL;
	json_object_put(reply);
	return copy;
}

static void token_put(void *arg, const char *key, const char *value, long expires_in)
{
	(void)arg;
	ask_owner(message("token_put", json_object_new_string(key), "token", json_object_new_string(value),
			  "expires_in", json_object_new_int64(expires_in), NULL),
		  NULL, NULL);
}

static int run(json_object *req, char **image_id, json_object **record, struct crix_err **err)
{
	json_object *v, *auth_o = NULL;
	const char *ref = img_json_str(req, "ref");
	struct img_store_opts opts = {
		.root = img_json_str(req, "root"),
		.certs_dir = img_json_str(req, "certs_dir"),
		.unpack_after_download = json_object_object_get_ex(req, "unpack_after_download", &v) &&
					 json_object_get_boolean(v),
	};
	if (ref == NULL || opts.root == NULL || !json_object_object_get_ex(req, "settings", &v))
		return crix_err_make(err, EPROTO, "request without ref, root or settings");
	struct img_store *s;
	if (img_store_attach(&opts, &s, err) < 0)
		return -1;
	int rc = img_store_use_settings_json(s, v, err);
	if (rc == 0)
		rc = img_http_new(&s->http, err);
	if (rc == 0) {
		struct img_auth auth = {0};
		bool has_auth = json_object_object_get_ex(req, "auth", &auth_o);
		if (has_auth) {
			auth.username = img_json_str(auth_o, "username");
			auth.password = img_json_str(auth_o, "password");
			auth.auth = img_json_str(auth_o, "auth");
			auth.server_address = img_json_str(auth_o, "server_address");
			auth.identity_token = img_json_str(auth_o, "identity_token");
			auth.registry_token = img_json_str(auth_o, "registry_token");
		}
		struct img_pull_ctl ctl = {.cancelled = owner_gone};
		struct img_pull_host host = {
			.pin = pin, .mark_opaque = mark_opaque, .commit = commit, .token_get = token_get,
			.token_put = token_put, .arg = record};
		rc = img_fetch(s, ref, has_auth ? &auth : NULL, &ctl, &host, image_id, err);
	}
	img_http_free(s->http);
	img_store_close(s);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"log-level", required_argument, NULL, 'l'}, {0}};
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		int level = c == 'l' ? crix_log_level_parse(optarg) : -1;
		if (level < 0) {
			fprintf(stderr, "usage: crix-pull [--log-level LEVEL] (started by crixd with fds 3 and 4)\n");
			return 2;
		}
		crix_log_set_level(level);
	}
	_cleanup_err_ struct crix_err *err = NULL;
	json_object *req = NULL, *record = NULL;
	_cleanup_free_ char *image_id = NULL;
	int rc = drop_privileges(&err);
	if (rc < 0)
		crix_err_wrap(&err, "crix-pull");
	else
		rc = img_msg_recv(OWNER_FD, &req, &err) < 0 ? -1 : run(req, &image_id, &record, &err);
	json_object_put(req);
	json_object *last = rc < 0 ? img_error_json(err)
				   : message("done", json_object_new_string(image_id), "record", steal_ptr(record), NULL);
	_cleanup_err_ struct crix_err *send_err = NULL;
	if (last == NULL || img_msg_send(OWNER_FD, last, &send_err) < 0) {
		crix_error("crix-pull: %s", last ? crix_err_msg(send_err) : "out of memory");
		rc = -1;
	}
	json_object_put(last);
	return rc < 0 ? 1 : 0;
}
