/* The store: opening (with crash cleanup), image records, lookups, removal with layer and blob
 * garbage collection, usage figures, and the bookkeeping shared by concurrent pulls (job locks,
 * pins, registry tokens). */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

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

/* ---- registry tokens (cached for crix-pull) ---- */

struct img_token {
	char *key; /* realm \n scope \n user */
	char *value;
	time_t expires;
	struct img_token *next;
};

static void token_free(struct img_token *t)
{
	OPENSSL_cleanse(t->value, strlen(t->value));
	free(t->key);
	free(t->value);
	free(t);
}

/* ---- records ---- */

/* Frees what im points to, not im itself. */
static void image_clear(struct img_image *im)
{
	free(im->id);
	for (size_t i = 0; i < im->n_repo_tags; i++)
		free(im->repo_tags[i]);
	free(im->repo_tags);
	for (size_t i = 0; i < im->n_repo_digests; i++)
		free(im->repo_digests[i]);
	free(im->repo_digests);
	free(im->user);
	free(im->config_json);
	for (size_t i = 0; i < im->n_layers; i++)
		free(im->layers[i]);
	free(im->layers);
}

void img_image_free(struct img_image *im)
{
	if (im == NULL)
		return;
	image_clear(im);
	free(im);
}

void img_image_list_free(struct img_image **images, size_t n)
{
	for (size_t i = 0; i < n; i++)
		img_image_free(images[i]);
	free(images);
}

void img_record_free(struct img_record *r)
{
	if (r == NULL)
		return;
	image_clear(&r->img);
	crix_strv_clear(&r->blobs);
	free(r);
}

static char **strv_dup(char *const *v, size_t n)
{
	char **out = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; out != NULL && i < n; i++) {
		if ((out[i] = strdup(v[i])) == NULL) {
			for (size_t j = 0; j < i; j++)
				free(out[j]);
			free(out);
			return NULL;
		}
	}
	return out;
}

static struct img_image *image_dup(const struct img_image *src)
{
	struct img_image *im = calloc(1, sizeof(*im));
	if (im == NULL)
		return NULL;
	im->id = strdup(src->id);
	im->repo_tags = strv_dup(src->repo_tags, src->n_repo_tags);
	im->n_repo_tags = src->n_repo_tags;
	im->repo_digests = strv_dup(src->repo_digests, src->n_repo_digests);
	im->n_repo_digests = src->n_repo_digests;
	im->size = src->size;
	im->user = strdup(src->user ? src->user : "");
	im->config_json = strdup(src->config_json ? src->config_json : "");
	im->layers = strv_dup(src->layers, src->n_layers);
	im->n_layers = src->n_layers;
	if (!im->id || !im->repo_tags || !im->repo_digests || !im->user || !im->config_json || !im->layers) {
		img_image_free(im);
		return NULL;
	}
	return im;
}

static json_object *strv_json(char *const *v, size_t n)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static int strv_from_json(json_object *a, char ***v, size_t *n)
{
	if (a == NULL || !json_object_is_type(a, json_type_array)) {
		*v = calloc(1, sizeof(char *));
		*n = 0;
		return *v ? 0 : -1;
	}
	size_t len = json_object_array_length(a);
	char **out = calloc(len + 1, sizeof(char *));
	if (out == NULL)
		return -1;
	for (size_t i = 0; i < len; i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(a, i));
		if ((out[i] = strdup(s ? s : "")) == NULL) {
			*v = out;
			*n = i;
			return -1;
		}
	}
	*v = out;
	*n = len;
	return 0;
}

static char *record_path(struct img_store *s, const char *id)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s.json", s->images_dir, id + 7) < 0)
		return NULL;
	return p;
}

json_object *img_record_to_json(const struct img_record *r)
{
	json_object *o = json_object_new_object();
	const struct img_image *im = &r->img;
	json_object_object_add(o, "id", json_object_new_string(im->id));
	json_object_object_add(o, "repo_tags", strv_json(im->repo_tags, im->n_repo_tags));
	json_object_object_add(o, "repo_digests", strv_json(im->repo_digests, im->n_repo_digests));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)im->size));
	json_object_object_add(o, "user", json_object_new_string(im->user));
	json_object_object_add(o, "config", json_object_new_string(im->config_json));
	json_object_object_add(o, "layers", strv_json(im->layers, im->n_layers));
	json_object_object_add(o, "blobs", strv_json(r->blobs.v, r->blobs.n));
	return o;
}

static int record_save(struct img_store *s, const struct img_record *r, struct crix_err **err)
{
	json_object *o = img_record_to_json(r);
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	_cleanup_free_ char *path = record_path(s, r->img.id);
	int rc = crix_write_file_atomic(path, text, strlen(text), 0644, CRIX_WRITE_DURABLE, err);
	json_object_put(o);
	if (rc < 0)
		return crix_err_wrap(err, "write image record %s", r->img.id);
	return 0;
}

int img_record_from_json(json_object *o, struct img_record **out, struct crix_err **err)
{
	if (o == NULL || !json_object_is_type(o, json_type_object))
		return crix_err_make(err, EINVAL, "image record: not a JSON object");
	struct img_record *r = calloc(1, sizeof(*r));
	json_object *v;
	int rc = r ? 0 : -1;
	if (rc == 0 && json_object_object_get_ex(o, "id", &v))
		r->img.id = strdup(json_object_get_string(v));
	rc = rc == 0 && r->img.id && img_digest_check(r->img.id, err) == 0 ? 0 : -1;
	if (rc == 0) {
		rc |= strv_from_json(json_object_object_get_ex(o, "repo_tags", &v) ? v : NULL, &r->img.repo_tags,
				     &r->img.n_repo_tags);
		rc |= strv_from_json(json_object_object_get_ex(o, "repo_digests", &v) ? v : NULL,
				     &r->img.repo_digests, &r->img.n_repo_digests);
		rc |= strv_from_json(json_object_object_get_ex(o, "layers", &v) ? v : NULL, &r->img.layers,
				     &r->img.n_layers);
		char **blobs = NULL;
		rc |= strv_from_json(json_object_object_get_ex(o, "blobs", &v) ? v : NULL, &blobs, &r->blobs.n);
		r->blobs.v = blobs;
		r->img.size = json_object_object_get_ex(o, "size", &v) ? (uint64_t)json_object_get_int64(v) : 0;
		r->img.user = strdup(json_object_object_get_ex(o, "user", &v) ? json_object_get_string(v) : "");
		r->img.config_json =
			strdup(json_object_object_get_ex(o, "config", &v) ? json_object_get_string(v) : "{}");
		rc |= r->img.user && r->img.config_json ? 0 : -1;
	}
	if (rc < 0) {
		img_record_free(r);
		if (err && *err)
			return crix_err_wrap(err, "image record");
		return crix_err_make(err, EINVAL, "image record: malformed");
	}
	*out = r;
	return 0;
}

static int record_load(const char *path, struct img_record **out, struct crix_err **err)
{
	_cleanup_free_ char *text = NULL;
	if (crix_read_file(path, 64u << 20, &text, NULL, err) < 0)
		return -1;
	json_object *o = json_tokener_parse(text);
	int rc = img_record_from_json(o, out, err);
	json_object_put(o);
	if (rc < 0)
		return crix_err_wrap(err, "%s", path);
	return 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int load_records(struct img_store *s, struct crix_err **err)
{
	_cleanup_closedir_ DIR *d = opendir(s->images_dir);
	if (d == NULL)
		return crix_err_make(err, errno, "open %s", s->images_dir);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || !has_suffix(e->d_name, ".json"))
			continue;
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "%s/%s", s->images_dir, e->d_name) < 0)
			return crix_err_make(err, ENOMEM, "load records");
		struct img_record *r = NULL;
		_cleanup_err_ struct crix_err *lerr = NULL;
		if (record_load(path, &r, &lerr) < 0) {
			/* Atomic writes make this unlikely; one bad record must not stop the daemon. */
			crix_error("skipping image record: %s", crix_err_msg(lerr));
			continue;
		}
		struct img_record **v = realloc(s->records, (s->n_records + 1) * sizeof(*v));
		if (v == NULL) {
			img_record_free(r);
			return crix_err_make(err, ENOMEM, "load records");
		}
		s->records = v;
		s->records[s->n_records++] = r;
	}
	return 0;
}

/* ---- open / close ---- */

static int collect_garbage(struct img_store *s, struct crix_err **err);

static char *path_join(const char *a, const char *b)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", a, b) < 0)
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
	s->blobs_dir = path_join(opts->root, "blobs/sha256");
	s->layers_dir = path_join(opts->root, "layers");
	s->images_dir = path_join(opts->root, "images");
	s->containers_dir = path_join(opts->root, "containers");
	s->tmp_dir = path_join(opts->root, "tmp");
	s->locks_dir = path_join(opts->root, "locks");
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
	/* Leftovers of interrupted downloads and unpacks: nothing in tmp/ is ever referenced;
	 * blobs and layers no image or rootfs uses (a pull killed before its record) go too. */
	if (crix_remove_tree(s->tmp_dir, err) < 0 || crix_mkdir_p(s->tmp_dir, 0700, err) < 0 ||
	    load_records(s, err) < 0 || img_rootfs_load(s, err) < 0 || collect_garbage(s, err) < 0) {
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
	while (s->tokens) {
		struct img_token *t = s->tokens;
		s->tokens = t->next;
		token_free(t);
	}
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

/* ---- shared jobs and pins ---- */

static char *job_lock_path(struct img_store *s, const char *key)
{
	char *path = NULL;
	if (asprintf(&path, "%s/%s", s->locks_dir, strncmp(key, "sha256:", 7) == 0 ? key + 7 : key) < 0)
		return NULL;
	return path;
}

int img_job_lock(struct img_store *s, const char *key, struct crix_err **err)
{
	_cleanup_free_ char *path = job_lock_path(s, key);
	if (path == NULL)
		return crix_err_make(err, ENOMEM, "lock %s", key);
	for (;;) {
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return crix_err_make(err, errno, "lock %s: open %s", key, path);
		int rc;
		do
			rc = flock(fd, LOCK_EX);
		while (rc < 0 && errno == EINTR);
		struct stat held, named;
		if (rc < 0 || fstat(fd, &held) < 0) {
			int e = errno;
			close(fd);
			return crix_err_make(err, e, "lock %s", key);
		}
		/* The previous holder unlinks the file as it unlocks: a lock taken on that old
		 * file excludes nobody, so take the one now under the name. */
		if (stat(path, &named) == 0 && named.st_ino == held.st_ino && named.st_dev == held.st_dev)
			return fd;
		close(fd);
	}
}

void img_job_unlock(struct img_store *s, const char *key, int fd)
{
	_cleanup_free_ char *path = job_lock_path(s, key);
	if (path != NULL)
		unlink(path);
	close(fd);
}

/* ---- registry tokens ---- */

char *img_token_get(struct img_store *s, const char *key)
{
	char *v = NULL;
	time_t now = time(NULL);
	pthread_mutex_lock(&s->lock);
	for (struct img_token *t = s->tokens; t; t = t->next)
		if (strcmp(t->key, key) == 0 && t->expires > now)
			v = strdup(t->value);
	pthread_mutex_unlock(&s->lock);
	return v;
}

void img_token_put(struct img_store *s, const char *key, const char *value, long expires_in)
{
	struct img_token *t = calloc(1, sizeof(*t));
	if (t == NULL || (t->key = strdup(key)) == NULL || (t->value = strdup(value)) == NULL) {
		if (t)
			free(t->key);
		free(t);
		return;
	}
	/* Renew a little early so that a token does not expire mid-request. */
	time_t now = time(NULL);
	t->expires = now + (expires_in > 30 ? expires_in - 10 : expires_in);
	pthread_mutex_lock(&s->lock);
	for (struct img_token **p = &s->tokens; *p;) {
		struct img_token *old = *p;
		if (strcmp(old->key, key) == 0 || old->expires <= now) { /* replaced, or of no use */
			*p = old->next;
			token_free(old);
		} else {
			p = &old->next;
		}
	}
	t->next = s->tokens;
	s->tokens = t;
	pthread_mutex_unlock(&s->lock);
}

void img_pins_add(struct img_store *s, const struct crix_strv *keys)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < keys->n; i++)
		if (crix_strv_add(&s->pull_pins, keys->v[i]) < 0)
			crix_error("image store: out of memory pinning %s", keys->v[i]);
	pthread_mutex_unlock(&s->lock);
}

void img_pins_remove(struct img_store *s, const struct crix_strv *keys)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < keys->n; i++)
		crix_strv_remove(&s->pull_pins, keys->v[i]);
	pthread_mutex_unlock(&s->lock);
}

/* ---- lookups ---- */

static bool is_hex(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* name: "sha256:<hex>", "<hex>", a unique hex prefix, a tag or a digest reference. */
const struct img_record *img_find_locked(struct img_store *s, const char *name)
{
	if (name == NULL || *name == '\0')
		return NULL;
	const char *hex = strncmp(name, "sha256:", 7) == 0 ? name + 7 : name;
	if (is_hex(hex)) {
		const struct img_record *found = NULL;
		size_t len = strlen(hex), matches = 0;
		for (size_t i = 0; i < s->n_records; i++) {
			if (strncmp(s->records[i]->img.id + 7, hex, len) == 0) {
				found = s->records[i];
				matches++;
			}
		}
		if (matches == 1 && (len == 64 || hex == name))
			return found;
		if (len == 64 || hex != name)
			return NULL;
	}
	struct img_ref ref;
	_cleanup_err_ struct crix_err *perr = NULL;
	if (img_ref_parse(name, &ref, &perr) < 0)
		return NULL;
	const struct img_record *found = NULL;
	_cleanup_free_ char *want = NULL;
	if (ref.digest != NULL) {
		if (asprintf(&want, "%s/%s@%s", ref.domain, ref.path, ref.digest) < 0)
			want = NULL;
		for (size_t i = 0; want && !found && i < s->n_records; i++)
			for (size_t j = 0; j < s->records[i]->img.n_repo_digests; j++)
				if (strcmp(s->records[i]->img.repo_digests[j], want) == 0)
					found = s->records[i];
	} else {
		if (asprintf(&want, "%s/%s:%s", ref.domain, ref.path, ref.tag) < 0)
			want = NULL;
		for (size_t i = 0; want && !found && i < s->n_records; i++)
			for (size_t j = 0; j < s->records[i]->img.n_repo_tags; j++)
				if (strcmp(s->records[i]->img.repo_tags[j], want) == 0)
					found = s->records[i];
	}
	img_ref_clear(&ref);
	return found;
}

int img_status(struct img_store *s, const char *name, struct img_image **out, struct crix_err **err)
{
	*out = NULL;
	pthread_mutex_lock(&s->lock);
	const struct img_record *r = img_find_locked(s, name);
	if (r != NULL)
		*out = image_dup(&r->img);
	pthread_mutex_unlock(&s->lock);
	if (r != NULL && *out == NULL)
		return crix_err_make(err, ENOMEM, "image status %s", name);
	return 0;
}

int img_list(struct img_store *s, const char *filter, struct img_image ***out, size_t *n, struct crix_err **err)
{
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&s->lock);
	struct img_image **v = calloc(s->n_records + 1, sizeof(*v));
	size_t count = 0;
	bool oom = v == NULL;
	if (!oom && filter != NULL && *filter != '\0') {
		const struct img_record *r = img_find_locked(s, filter);
		if (r != NULL && (v[count++] = image_dup(&r->img)) == NULL)
			oom = true;
	} else {
		for (size_t i = 0; !oom && i < s->n_records; i++)
			if ((v[count++] = image_dup(&s->records[i]->img)) == NULL)
				oom = true;
	}
	pthread_mutex_unlock(&s->lock);
	if (oom) {
		img_image_list_free(v, count);
		return crix_err_make(err, ENOMEM, "list images");
	}
	*out = v;
	*n = count;
	return 0;
}

/* ---- removal and garbage collection ---- */

static bool layer_live_locked(struct img_store *s, const char *chain_id)
{
	for (size_t i = 0; i < s->n_records; i++)
		for (size_t j = 0; j < s->records[i]->img.n_layers; j++)
			if (strcmp(s->records[i]->img.layers[j], chain_id) == 0)
				return true;
	if (crix_strv_has(&s->pull_pins, chain_id))
		return true;
	for (size_t i = 0; i < s->rootfs_pins.n; i++) {
		const char *nl = strchr(s->rootfs_pins.v[i], '\n');
		if (nl != NULL && strcmp(nl + 1, chain_id) == 0)
			return true;
	}
	return false;
}

static bool blob_live_locked(struct img_store *s, const char *digest)
{
	for (size_t i = 0; i < s->n_records; i++)
		if (crix_strv_has(&s->records[i]->blobs, digest))
			return true;
	return crix_strv_has(&s->pull_pins, digest);
}

/* Moves unreferenced layers and blobs into tmp/ under the lock (so that a pull starting now
 * cannot see half-deleted ones), then deletes them outside it. */
static int collect_garbage(struct img_store *s, struct crix_err **err)
{
	_cleanup_free_ char *trash = path_join(s->tmp_dir, "gc-XXXXXX");
	if (trash == NULL || mkdtemp(trash) == NULL)
		return crix_err_make(err, errno ? errno : ENOMEM, "create %s", s->tmp_dir);
	pthread_mutex_lock(&s->lock);
	unsigned moved = 0;
	const char *dirs[2] = {s->layers_dir, s->blobs_dir};
	for (int k = 0; k < 2; k++) {
		DIR *d = opendir(dirs[k]);
		if (d == NULL)
			continue;
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.' || strlen(e->d_name) != 64)
				continue;
			char key[8 + 256];
			snprintf(key, sizeof(key), "sha256:%s", e->d_name);
			if (k == 0 ? layer_live_locked(s, key) : blob_live_locked(s, key))
				continue;
			char from[4096], to[4096];
			snprintf(from, sizeof(from), "%s/%s", dirs[k], e->d_name);
			snprintf(to, sizeof(to), "%s/%u", trash, moved++);
			if (rename(from, to) < 0)
				crix_warn("image gc: move %s: %s", from, strerror(errno));
		}
		closedir(d);
	}
	pthread_mutex_unlock(&s->lock);
	return crix_remove_tree(trash, err);
}

static void strv_drop(char **v, size_t *n, size_t i)
{
	free(v[i]);
	memmove(&v[i], &v[i + 1], (*n - i) * sizeof(char *));
	(*n)--;
}

int img_remove(struct img_store *s, const char *name, struct crix_err **err)
{
	pthread_mutex_lock(&s->lock);
	struct img_record *r = (struct img_record *)img_find_locked(s, name);
	if (r == NULL) {
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	/* By any of its names the whole image goes, with all its tags (CRI RemoveImage). */
	_cleanup_free_ char *path = record_path(s, r->img.id);
	if (unlink(path) < 0 && errno != ENOENT) {
		int e = errno;
		pthread_mutex_unlock(&s->lock);
		return crix_err_make(err, e, "remove image %s: unlink %s", name, path);
	}
	for (size_t i = 0; i < s->n_records; i++) {
		if (s->records[i] == r) {
			memmove(&s->records[i], &s->records[i + 1], (s->n_records - i - 1) * sizeof(*s->records));
			s->n_records--;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	crix_info("removed image %s (%s)", r->img.id, name);
	img_record_free(r);
	if (collect_garbage(s, err) < 0)
		return crix_err_wrap(err, "remove image %s", name);
	return 0;
}

/* Appends s to the NULL-terminated v unless present. */
static int strv_append_new(char ***v, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0)
			return 0;
	char **nv = realloc(*v, (*n + 2) * sizeof(char *));
	if (nv == NULL)
		return -1;
	*v = nv;
	if ((nv[*n] = strdup(s)) == NULL)
		return -1;
	nv[++*n] = NULL;
	return 0;
}

int img_store_commit(struct img_store *s, struct img_record *rec, struct crix_err **err)
{
	pthread_mutex_lock(&s->lock);
	struct img_record *existing = NULL;
	/* A tag names one image: take it away from any other. */
	for (size_t i = 0; i < s->n_records; i++) {
		struct img_record *o = s->records[i];
		if (strcmp(o->img.id, rec->img.id) == 0) {
			existing = o;
			continue;
		}
		bool changed = false;
		for (size_t t = 0; t < rec->img.n_repo_tags; t++)
			for (size_t j = 0; j < o->img.n_repo_tags; j++)
				if (strcmp(o->img.repo_tags[j], rec->img.repo_tags[t]) == 0) {
					strv_drop(o->img.repo_tags, &o->img.n_repo_tags, j--);
					changed = true;
				}
		if (changed && record_save(s, o, err) < 0) {
			pthread_mutex_unlock(&s->lock);
			return -1;
		}
	}
	if (existing != NULL) {
		/* Same image again: add the new names to the ones it had. */
		int rc = 0;
		for (size_t i = 0; rc == 0 && i < rec->img.n_repo_tags; i++)
			rc = strv_append_new(&existing->img.repo_tags, &existing->img.n_repo_tags, rec->img.repo_tags[i]);
		for (size_t i = 0; rc == 0 && i < rec->img.n_repo_digests; i++)
			rc = strv_append_new(&existing->img.repo_digests, &existing->img.n_repo_digests,
					     rec->img.repo_digests[i]);
		for (size_t i = 0; rc == 0 && i < rec->blobs.n; i++)
			if (!crix_strv_has(&existing->blobs, rec->blobs.v[i]))
				rc = crix_strv_add(&existing->blobs, rec->blobs.v[i]);
		if (rc < 0)
			crix_err_make(err, ENOMEM, "record image %s", rec->img.id);
		else
			rc = record_save(s, existing, err);
		pthread_mutex_unlock(&s->lock);
		img_record_free(rec);
		return rc;
	}
	if (record_save(s, rec, err) < 0) {
		pthread_mutex_unlock(&s->lock);
		img_record_free(rec);
		return -1;
	}
	struct img_record **v = realloc(s->records, (s->n_records + 1) * sizeof(*v));
	if (v == NULL) {
		pthread_mutex_unlock(&s->lock);
		img_record_free(rec);
		return crix_err_make(err, ENOMEM, "record image");
	}
	s->records = v;
	s->records[s->n_records++] = rec;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* ---- usage ---- */

static __thread uint64_t walk_bytes, walk_inodes;

static int walk_add(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)type;
	(void)ftw;
	walk_bytes += (uint64_t)st->st_blocks * 512;
	walk_inodes++;
	return 0;
}

static int measure(const char *dir, const char *const *subdirs, size_t n, struct img_fs_usage *u,
		   struct crix_err **err)
{
	memset(u, 0, sizeof(*u));
	walk_bytes = walk_inodes = 0;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *p = path_join(dir, subdirs[i]);
		if (p == NULL)
			return crix_err_make(err, ENOMEM, "fs info");
		if (nftw(p, walk_add, 64, FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
			return crix_err_make(err, errno, "measure %s", p);
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	u->mountpoint = strdup(dir);
	if (u->mountpoint == NULL)
		return crix_err_make(err, ENOMEM, "fs info");
	u->used_bytes = walk_bytes;
	u->inodes_used = walk_inodes;
	u->timestamp_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	return 0;
}

int img_fs_info(struct img_store *s, struct img_fs_usage *images, struct img_fs_usage *containers,
		struct crix_err **err)
{
	static const char *const image_dirs[] = {"blobs", "layers", "images"};
	static const char *const container_dirs[] = {"containers"};
	if (measure(s->root, image_dirs, 3, images, err) < 0)
		return crix_err_wrap(err, "image fs info");
	if (measure(s->root, container_dirs, 1, containers, err) < 0) {
		img_fs_usage_clear(images);
		return crix_err_wrap(err, "container fs info");
	}
	return 0;
}

void img_fs_usage_clear(struct img_fs_usage *u)
{
	free(u->mountpoint);
	memset(u, 0, sizeof(*u));
}
