/* crix-pull: one image pull for the process that owns the store (crixd, crix-image), which
 * starts it with a socket as fd 3 and a pipe as fd 4 (see pull.c for the conversation).
 * It alone talks to registries and unpacks layers; when fd 4 is closed (the pull was
 * cancelled, or its owner died) it stops. Exit status 0 when the image was committed. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crix_cleanup.h"
#include "crix_log.h"
#include "img_internal.h"

#define OWNER_FD 3
#define CANCEL_FD 4

static bool owner_gone(void *arg)
{
	(void)arg;
	struct pollfd pfd = {.fd = CANCEL_FD, .events = POLLIN};
	return poll(&pfd, 1, 0) != 0; /* readable (closed), or an error: stop */
}

/* One question at a time: the pull's threads share the socket. */
static pthread_mutex_t owner_lock = PTHREAD_MUTEX_INITIALIZER;

/* Sends msg (taken) to the owner and waits for its answer (*reply, if wanted). */
static int ask_owner(json_object *msg, json_object **reply, struct crix_err **err)
{
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

static int pin(void *arg, const struct crix_strv *keys, struct crix_err **err)
{
	(void)arg;
	json_object *msg = json_object_new_object(), *a = json_object_new_array();
	for (size_t i = 0; i < keys->n; i++)
		json_object_array_add(a, json_object_new_string(keys->v[i]));
	json_object_object_add(msg, "pin", a);
	return ask_owner(msg, NULL, err) < 0 ? crix_err_wrap(err, "pin") : 0;
}

static int commit(void *arg, struct img_record *rec, struct crix_err **err)
{
	(void)arg;
	json_object *msg = json_object_new_object();
	json_object_object_add(msg, "commit", img_record_to_json(rec));
	img_record_free(rec);
	return ask_owner(msg, NULL, err) < 0 ? crix_err_wrap(err, "commit") : 0;
}

/* A token the owner does not answer for is fetched again: nothing worse. */
static char *token_get(void *arg, const char *key)
{
	(void)arg;
	json_object *msg = json_object_new_object(), *reply = NULL;
	json_object_object_add(msg, "token_get", json_object_new_string(key));
	if (ask_owner(msg, &reply, NULL) < 0)
		return NULL;
	const char *token = img_json_str(reply, "token");
	char *copy = token ? strdup(token) : NULL;
	json_object_put(reply);
	return copy;
}

static void token_put(void *arg, const char *key, const char *value, long expires_in)
{
	(void)arg;
	json_object *msg = json_object_new_object();
	json_object_object_add(msg, "token_put", json_object_new_string(key));
	json_object_object_add(msg, "token", json_object_new_string(value));
	json_object_object_add(msg, "expires_in", json_object_new_int64(expires_in));
	ask_owner(msg, NULL, NULL);
}

static int run(json_object *req, char **image_id, struct crix_err **err)
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
		struct img_pull_host host = {.pin = pin, .commit = commit, .token_get = token_get, .token_put = token_put};
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
	json_object *req = NULL;
	_cleanup_free_ char *image_id = NULL;
	int rc = img_msg_recv(OWNER_FD, &req, &err) < 0 ? -1 : run(req, &image_id, &err);
	json_object_put(req);
	json_object *last = rc < 0 ? img_error_json(err) : json_object_new_object();
	if (rc == 0)
		json_object_object_add(last, "done", json_object_new_string(image_id));
	_cleanup_err_ struct crix_err *send_err = NULL;
	if (img_msg_send(OWNER_FD, last, &send_err) < 0)
		crix_error("crix-pull: %s", crix_err_msg(send_err));
	json_object_put(last);
	return rc < 0 ? 1 : 0;
}
