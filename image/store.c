/* The store: its reloadable settings, and opening it (with the clean-up after a crash) and
 * closing it. Records and lookups are in records.c, removal, garbage collection and usage in
 * space.c, what concurrent pulls share in jobs.c, the paths of each kind in paths.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_log.h"
#include "crix_spawn.h"
#include "img_internal.h"

/* ---- reloadable settings ---- */

static void settings_free(struct img_settings *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++) {
		free(set->v[i].prefix);
		for (size_t j = 0; j < set->v[i].n_mirrors; j++)
			free(set->v[i].mirrors[j].location);
		free(set->v[i].mirrors);
	}
	free(set->v);
	free(set->auth_file);
	free(set);
}

static struct img_settings *settings_new(const struct img_store_opts *opts)
{
	struct img_settings *set = calloc(1, sizeof(*set));
	if (set == NULL)
		return NULL;
	set->refs = 1;
	set->max_parallel = opts->max_parallel_downloads ? opts->max_parallel_downloads : 3;
	set->auth_file = strdup(opts->auth_file ? opts->auth_file : "");
	const struct cfg_registry *src = opts->registries;
	size_t n = opts->n_registries;
	set->v = calloc(n ? n : 1, sizeof(*set->v));
	if (set->auth_file == NULL || set->v == NULL) {
		settings_free(set);
		return NULL;
	}
	set->n = n;
	bool ok = true;
	for (size_t i = 0; i < n; i++) {
		set->v[i].prefix = strdup(src[i].prefix ? src[i].prefix : "");
		set->v[i].insecure = src[i].insecure;
		set->v[i].mirrors = calloc(src[i].n_mirrors ? src[i].n_mirrors : 1, sizeof(struct cfg_mirror));
		ok = ok && set->v[i].prefix && set->v[i].mirrors;
		if (set->v[i].mirrors == NULL)
			continue;
		set->v[i].n_mirrors = src[i].n_mirrors;
		for (size_t j = 0; j < src[i].n_mirrors; j++) {
			set->v[i].mirrors[j].location =
				strdup(src[i].mirrors[j].location ? src[i].mirrors[j].location : "");
			set->v[i].mirrors[j].insecure = src[i].mirrors[j].insecure;
			ok = ok && set->v[i].mirrors[j].location;
		}
	}
	if (!ok) {
		settings_free(set);
		return NULL;
	}
	return set;
}

struct img_settings *img_settings_get(struct img_store *s)
{
	pthread_mutex_lock(&s->lock);
	struct img_settings *set = s->settings;
	set->refs++;
	pthread_mutex_unlock(&s->lock);
	return set;
}

void img_settings_put(struct img_store *s, struct img_settings *set)
{
	pthread_mutex_lock(&s->lock);
	bool last = --set->refs == 0;
	pthread_mutex_unlock(&s->lock);
	if (last)
		settings_free(set);
}

/* Makes set the settings of later pulls (taking it). */
static void use_settings(struct img_store *s, struct img_settings *set)
{
	pthread_mutex_lock(&s->lock);
	struct img_settings *old = s->settings;
	s->settings = set;
	pthread_mutex_unlock(&s->lock);
	img_settings_put(s, old);
}

int img_store_reload(struct img_store *s, const struct img_store_opts *opts, struct crix_err **err)
{
	struct img_settings *set = settings_new(opts);
	if (set == NULL)
		return crix_err_make(err, ENOMEM, "reload image settings");
	use_settings(s, set);
	return 0;
}

json_object *img_settings_to_json(const struct img_settings *set)
{
	json_object *o = json_object_new_object(), *regs = json_object_new_array();
	json_object_object_add(o, "max_parallel", json_object_new_int64(set->max_parallel));
	json_object_object_add(o, "auth_file", json_object_new_string(set->auth_file));
	for (size_t i = 0; i < set->n; i++) {
		json_object *r = json_object_new_object(), *mirrors = json_object_new_array();
		json_object_object_add(r, "prefix", json_object_new_string(set->v[i].prefix));
		json_object_object_add(r, "insecure", json_object_new_boolean(set->v[i].insecure));
		for (size_t j = 0; j < set->v[i].n_mirrors; j++) {
			json_object *m = json_object_new_object();
			json_object_object_add(m, "location", json_object_new_string(set->v[i].mirrors[j].location));
			json_object_object_add(m, "insecure", json_object_new_boolean(set->v[i].mirrors[j].insecure));
			json_object_array_add(mirrors, m);
		}
		json_object_object_add(r, "mirrors", mirrors);
		json_object_array_add(regs, r);
	}
	json_object_object_add(o, "registries", regs);
	return o;
}

static const char *member_string(json_object *o, const char *key)
{
	const char *v = img_json_str(o, key);
	return v ? v : "";
}

static bool member_bool(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

int img_store_use_settings_json(struct img_store *s, json_object *o, struct crix_err **err)
{
	json_object *regs = NULL, *v;
	json_object_object_get_ex(o, "registries", &regs);
	size_t n = json_object_is_type(regs, json_type_array) ? json_object_array_length(regs) : 0;
	struct cfg_registry *v_regs = calloc(n ? n : 1, sizeof(*v_regs));
	if (v_regs == NULL)
		return crix_err_make(err, ENOMEM, "image settings");
	/* settings_new copies: the registries may point into o meanwhile */
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		json_object *r = json_object_array_get_idx(regs, i), *mirrors = NULL;
		v_regs[i].prefix = (char *)member_string(r, "prefix");
		v_regs[i].insecure = member_bool(r, "insecure");
		json_object_object_get_ex(r, "mirrors", &mirrors);
		size_t m = json_object_is_type(mirrors, json_type_array) ? json_object_array_length(mirrors) : 0;
		v_regs[i].mirrors = calloc(m ? m : 1, sizeof(struct cfg_mirror));
		if (v_regs[i].mirrors == NULL) {
			rc = crix_err_make(err, ENOMEM, "image settings");
			break;
		}
		v_regs[i].n_mirrors = m;
		for (size_t j = 0; j < m; j++) {
			json_object *mj = json_object_array_get_idx(mirrors, j);
			v_regs[i].mirrors[j].location = (char *)member_string(mj, "location");
			v_regs[i].mirrors[j].insecure = member_bool(mj, "insecure");
		}
	}
	struct img_store_opts opts = {
		.max_parallel_downloads = json_object_object_get_ex(o, "max_parallel", &v) ? json_object_get_int(v) : 0,
		.auth_file = member_string(o, "auth_file"),
		.registries = v_regs,
		.n_registries = n,
	};
	struct img_settings *set = rc == 0 ? settings_new(&opts) : NULL;
	for (size_t i = 0; i < n; i++)
		free(v_regs[i].mirrors);
	free(v_regs);
	if (set == NULL)
		return rc < 0 ? rc : crix_err_make(err, ENOMEM, "image settings");
	use_settings(s, set);
	return 0;
}

/* ---- open / close ---- */

/* root/name: the store's directories, named here only. */
static char *store_dir(const char *root, const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", root, name) < 0)
		return NULL;
	return p;
}

/* The store's paths and settings, nothing on disk touched. */
int img_store_attach(const struct img_store_opts *opts, struct img_store **out, struct crix_err **err)
{
	if (opts == NULL || opts->root == NULL || opts->root[0] == '\0')
		return crix_err_make(err, EINVAL, "image store: no root directory");
	struct img_store *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return crix_err_make(err, ENOMEM, "image store");
	pthread_mutex_init(&s->lock, NULL);
	s->root = strdup(opts->root);
	s->blobs_dir = store_dir(opts->root, "blobs/sha256");
	s->layers_dir = store_dir(opts->root, "layers");
	s->images_dir = store_dir(opts->root, "images");
	s->containers_dir = store_dir(opts->root, "containers");
	s->tmp_dir = store_dir(opts->root, "tmp");
	s->locks_dir = store_dir(opts->root, "locks");
	s->certs_dir = strdup(opts->certs_dir ? opts->certs_dir : "/etc/crix/certs.d");
	s->pull_helper = opts->pull_helper ? strdup(opts->pull_helper) : NULL;
	s->stall_timeout = opts->stall_timeout_seconds ? opts->stall_timeout_seconds : 30;
	s->unpack_after_download = opts->unpack_after_download;
	s->settings = settings_new(opts);
	if (!s->root || !s->blobs_dir || !s->layers_dir || !s->images_dir || !s->containers_dir || !s->tmp_dir ||
	    !s->locks_dir || !s->certs_dir || (opts->pull_helper && !s->pull_helper) || !s->settings) {
		img_store_close(s);
		return crix_err_make(err, ENOMEM, "image store");
	}
	*out = s;
	return 0;
}

int img_store_open(const struct img_store_opts *opts, struct img_store **out, struct crix_err **err)
{
	struct img_store *s;
	if (img_store_attach(opts, &s, err) < 0)
		return -1;
	if (s->pull_helper == NULL && crix_helper_path("crix-pull", &s->pull_helper, err) < 0) {
		img_store_close(s);
		return crix_err_wrap(err, "open image store %s", opts->root);
	}
	const char *dirs[] = {s->blobs_dir, s->layers_dir, s->images_dir, s->containers_dir, s->locks_dir};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (crix_mkdir_p(dirs[i], 0700, err) < 0) {
			img_store_close(s);
			return crix_err_wrap(err, "open image store %s", opts->root);
		}
	}
	/* Leftovers of a crash: nothing in tmp/ (downloads, unpacks) is ever referenced, nor a
	 * temp file of an atomic write beside the records (before they are read); blobs and
	 * layers no image or rootfs uses (a pull killed before its record) go too. */
	const char *swept[] = {s->images_dir, s->blobs_dir, s->layers_dir, s->containers_dir};
	for (size_t i = 0; i < sizeof(swept) / sizeof(swept[0]); i++) {
		int n = crix_sweep_temp_files(swept[i], err);
		if (n < 0) {
			img_store_close(s);
			return crix_err_wrap(err, "open image store %s", opts->root);
		}
		if (n > 0)
			crix_info("image store: removed %d temp file(s) of interrupted writes in %s", n, swept[i]);
	}
	if (crix_remove_tree(s->tmp_dir, err) < 0 || crix_mkdir_p(s->tmp_dir, 0700, err) < 0 ||
	    img_records_load(s, err) < 0 || img_rootfs_load(s, err) < 0 || img_collect_garbage(s, err) < 0) {
		img_store_close(s);
		return crix_err_wrap(err, "open image store %s", opts->root);
	}
	*out = s;
	return 0;
}

void img_store_close(struct img_store *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_records; i++)
		img_record_free(s->records[i]);
	free(s->records);
	settings_free(s->settings);
	crix_strv_clear(&s->pull_pins);
	crix_strv_clear(&s->rootfs_pins);
	img_tokens_clear(s);
	free(s->root);
	free(s->blobs_dir);
	free(s->layers_dir);
	free(s->images_dir);
	free(s->containers_dir);
	free(s->tmp_dir);
	free(s->locks_dir);
	free(s->certs_dir);
	free(s->pull_helper);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
