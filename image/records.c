/* Image records: images/<id-hex>.json, their JSON form (also crix-pull's commit message, so
 * every field is checked as untrusted input), loading at open, lookups and the commit of a
 * pulled image. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_json.h"
#include "crix_log.h"
#include "crix_record.h"
#include "img_internal.h"

#define RECORD_MAX (64u << 20)

/* Frees what im points to, not im itself. */
static void image_clear(struct img_image *im)
{
	free(im->id);
	crix_strv_free(im->repo_tags);
	crix_strv_free(im->repo_digests);
	free(im->user);
	free(im->config_json);
	crix_strv_free(im->layers);
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

static struct img_image *image_dup(const struct img_image *src)
{
	struct img_image *im = calloc(1, sizeof(*im));
	if (im == NULL)
		return NULL;
	im->id = strdup(src->id);
	im->repo_tags = crix_strv_dup(src->repo_tags);
	im->n_repo_tags = src->n_repo_tags;
	im->repo_digests = crix_strv_dup(src->repo_digests);
	im->n_repo_digests = src->n_repo_digests;
	im->size = src->size;
	im->user = strdup(src->user ? src->user : "");
	im->config_json = strdup(src->config_json ? src->config_json : "");
	im->layers = crix_strv_dup(src->layers);
	im->n_layers = src->n_layers;
	if (!im->id || !im->repo_tags || !im->repo_digests || !im->user || !im->config_json || !im->layers) {
		img_image_free(im);
		return NULL;
	}
	return im;
}

/* ---- JSON form ---- */

/* key: the list v (an empty list for a NULL one); -1 when out of memory. */
static int add_strv(json_object *o, const char *key, char *const *v)
{
	return crix_json_add(o, key, crix_json_new_strv(v), NULL);
}

json_object *img_record_to_json(const struct img_record *r)
{
	const struct img_image *im = &r->img;
	json_object *o = json_object_new_object();
	if (o == NULL)
		return NULL;
	if (crix_json_add(o, "id", json_object_new_string(im->id), NULL) < 0 ||
	    add_strv(o, "repo_tags", im->repo_tags) < 0 || add_strv(o, "repo_digests", im->repo_digests) < 0 ||
	    crix_json_add(o, "size", json_object_new_uint64(im->size), NULL) < 0 ||
	    crix_json_add(o, "user", json_object_new_string(im->user), NULL) < 0 ||
	    crix_json_add(o, "config", json_object_new_string(im->config_json), NULL) < 0 ||
	    add_strv(o, "layers", im->layers) < 0 || add_strv(o, "blobs", r->blobs.v) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Every entry of v (the list under key) is a digest: layers and blobs become paths. */
static int check_digests(const char *key, char *const *v, struct crix_err **err)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
		if (img_digest_check(v[i], err) < 0) {
			char p[CRIX_JSON_PATH_MAX];
			return crix_err_wrap(err, "%s", crix_json_path_index(p, key, i));
		}
	}
	return 0;
}

/* A list that may be absent: an empty one then. */
static int optional_strv(json_object *o, const char *key, char ***v, size_t *n, struct crix_err **err)
{
	if (crix_json_strv(o, "", key, v, err) < 0)
		return -1;
	if (*v == NULL && (*v = crix_strv_dup(NULL)) == NULL)
		return crix_err_make(err, ENOMEM, "image record: %s", key);
	*n = crix_strv_len(*v);
	return 0;
}

static int optional_string(json_object *o, const char *key, const char *dflt, char **out, struct crix_err **err)
{
	if (crix_json_string(o, "", key, out, err) < 0)
		return -1;
	if (*out == NULL && (*out = strdup(dflt)) == NULL)
		return crix_err_make(err, ENOMEM, "image record: %s", key);
	return 0;
}

int img_record_from_json(json_object *o, struct img_record **out, struct crix_err **err)
{
	if (!json_object_is_type(o, json_type_object))
		return crix_err_make(err, EINVAL, "image record: expected a JSON object");
	struct img_record *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return crix_err_make(err, ENOMEM, "image record");
	struct img_image *im = &r->img;
	char **blobs = NULL;
	int rc = 0;
	if (crix_json_require(crix_json_string(o, "", "id", &im->id, err), "", "id", err) < 0 ||
	    (img_digest_check(im->id, err) < 0 && crix_err_wrap(err, "id")) ||
	    crix_json_require(crix_json_strv(o, "", "layers", &im->layers, err), "", "layers", err) < 0 ||
	    check_digests("layers", im->layers, err) < 0 ||
	    crix_json_require(crix_json_strv(o, "", "blobs", &blobs, err), "", "blobs", err) < 0 ||
	    check_digests("blobs", blobs, err) < 0 ||
	    optional_strv(o, "repo_tags", &im->repo_tags, &im->n_repo_tags, err) < 0 ||
	    optional_strv(o, "repo_digests", &im->repo_digests, &im->n_repo_digests, err) < 0 ||
	    crix_json_uint64(o, "", "size", &im->size, err) < 0 ||
	    optional_string(o, "user", "", &im->user, err) < 0 ||
	    optional_string(o, "config", "{}", &im->config_json, err) < 0)
		rc = -1;
	im->n_layers = crix_strv_len(im->layers);
	r->blobs.v = blobs;
	r->blobs.n = crix_strv_len(blobs);
	if (rc < 0) {
		img_record_free(r);
		return -1;
	}
	*out = r;
	return 0;
}

/* ---- on disk ---- */

int img_record_save(struct img_store *s, const struct img_record *r, struct crix_err **err)
{
	_cleanup_free_ char *path = NULL;
	if (img_path_record(s, r->img.id, &path, err) < 0)
		return crix_err_wrap(err, "write image record");
	json_object *o = img_record_to_json(r);
	if (o == NULL)
		return crix_err_make(err, ENOMEM, "write image record %s", r->img.id);
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	int rc = text ? crix_write_file_atomic(path, text, strlen(text), 0644, CRIX_WRITE_DURABLE, err)
		      : crix_err_make(err, ENOMEM, "serialise");
	json_object_put(o);
	if (rc < 0)
		return crix_err_wrap(err, "write image record %s", r->img.id);
	return 0;
}

struct record_read {
	const char *id; /* what the file name says */
	struct img_record *rec;
};

static int parse_record(json_object *o, void *arg, struct crix_err **err)
{
	struct record_read *rr = arg;
	if (img_record_from_json(o, &rr->rec, err) < 0)
		return -1;
	if (strcmp(rr->rec->img.id, rr->id) != 0) {
		crix_err_make(err, EINVAL, "id: %s, but the file is named for %s", rr->rec->img.id, rr->id);
		img_record_free(steal_ptr(rr->rec));
		return -1;
	}
	return 0;
}

/* The id "sha256:<hex>" of images/<hex>.json, or false for another name. */
static bool record_file_id(const char *name, char *id)
{
	size_t n = strlen(name);
	if (n != 64 + 5 || strcmp(name + 64, ".json") != 0)
		return false;
	snprintf(id, IMG_DIGEST_LEN + 1, "sha256:%.64s", name);
	return img_digest_check(id, NULL) == 0;
}

/* A record whose content is bad (EINVAL: not JSON, a field of the wrong type or value; EFBIG)
 * is reported and skipped, as containerd's CRI plugin skips an image it cannot load at
 * restart: one damaged file must not keep the node from running the others, and kubelet pulls
 * the image again. The file stays for inspection and the next pull of that image replaces it.
 * Any other failure (EIO, EACCES, ENOMEM) fails the open: skipping would let garbage
 * collection delete the layers and blobs of an image that is intact on disk. */
int img_records_load(struct img_store *s, struct crix_err **err)
{
	_cleanup_closedir_ DIR *d = opendir(s->images_dir);
	if (d == NULL)
		return crix_err_make(err, errno, "open %s", s->images_dir);
	struct dirent *e;
	while ((errno = 0, e = readdir(d)) != NULL) {
		char id[IMG_DIGEST_LEN + 1];
		if (!record_file_id(e->d_name, id))
			continue;
		_cleanup_free_ char *path = NULL;
		if (img_path_record(s, id, &path, err) < 0)
			return -1;
		struct record_read rr = {.id = id};
		_cleanup_err_ struct crix_err *lerr = NULL;
		if (crix_record_read(path, RECORD_MAX, parse_record, &rr, &lerr) < 0) {
			if (lerr->errnum == EINVAL || lerr->errnum == EFBIG || lerr->errnum == ENOENT) {
				if (lerr->errnum != ENOENT)
					crix_error("image store: skipping a damaged image record: %s", lerr->msg);
				continue;
			}
			img_err_pass(err, &lerr);
			return crix_err_wrap(err, "load image records");
		}
		struct img_record **v = realloc(s->records, (s->n_records + 1) * sizeof(*v));
		if (v == NULL) {
			img_record_free(rr.rec);
			return crix_err_make(err, ENOMEM, "load image records");
		}
		s->records = v;
		s->records[s->n_records++] = rr.rec;
	}
	if (errno != 0)
		return crix_err_make(err, errno, "read %s", s->images_dir);
	return 0;
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

/* name is "<domain>/<path><sep><what>" (a repo tag with ':', a repo digest with '@'). */
static bool names_ref(const char *name, const struct img_ref *ref, char sep, const char *what)
{
	size_t d = strlen(ref->domain), p = strlen(ref->path);
	return strncmp(name, ref->domain, d) == 0 && name[d] == '/' && strncmp(name + d + 1, ref->path, p) == 0 &&
	       name[d + 1 + p] == sep && strcmp(name + d + 2 + p, what) == 0;
}

/* The record with ref as a repo digest (ref has a digest) or as a repo tag. */
static const struct img_record *find_ref_locked(struct img_store *s, const struct img_ref *ref)
{
	bool by_digest = ref->digest != NULL;
	for (size_t i = 0; i < s->n_records; i++) {
		const struct img_image *im = &s->records[i]->img;
		char *const *names = by_digest ? im->repo_digests : im->repo_tags;
		size_t n = by_digest ? im->n_repo_digests : im->n_repo_tags;
		for (size_t j = 0; j < n; j++)
			if (names_ref(names[j], ref, by_digest ? '@' : ':', by_digest ? ref->digest : ref->tag))
				return s->records[i];
	}
	return NULL;
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
	const struct img_record *found = find_ref_locked(s, &ref);
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

/* ---- commit ---- */

static void strv_drop(char **v, size_t *n, size_t i)
{
	free(v[i]);
	memmove(&v[i], &v[i + 1], (*n - i) * sizeof(char *));
	(*n)--;
}

/* Appends s to the NULL-terminated v of *n entries unless present. */
static int strv_append_new(char ***v, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0)
			return 0;
	if (crix_strv_append(v, s) < 0)
		return -1;
	++*n;
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
		if (changed && img_record_save(s, o, err) < 0) {
			pthread_mutex_unlock(&s->lock);
			img_record_free(rec);
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
			rc = img_record_save(s, existing, err);
		pthread_mutex_unlock(&s->lock);
		img_record_free(rec);
		return rc;
	}
	struct img_record **v = realloc(s->records, (s->n_records + 1) * sizeof(*v));
	if (v == NULL) {
		pthread_mutex_unlock(&s->lock);
		img_record_free(rec);
		return crix_err_make(err, ENOMEM, "record image %s", rec->img.id);
	}
	s->records = v;
	if (img_record_save(s, rec, err) < 0) {
		pthread_mutex_unlock(&s->lock);
		img_record_free(rec);
		return -1;
	}
	s->records[s->n_records++] = rec;
	pthread_mutex_unlock(&s->lock);
	return 0;
}
