/* What crix-pull reports is checked before it becomes a path or a record: crix-pull parses
 * everything a registry sends, so it is only as trustworthy as the least trustworthy
 * registry. The record it made is compared with what crixd derives itself from the record's
 * own config (whose digest is the image id): the chain ids, the user, the names the pulled
 * reference gives. The one privileged thing it asks for, an opaque directory, is done only
 * inside a layer it is unpacking. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "crix_cleanup.h"
#include "crix_json.h"
#include "crix_record.h"
#include "img_internal.h"

#define MAX_RECORD_BLOBS 4096 /* manifests, config and layer blobs of one image */

int img_chain_id(const char *parent, const char *diff_id, char *out)
{
	if (parent == NULL) {
		memcpy(out, diff_id, IMG_DIGEST_LEN + 1);
		return 0;
	}
	char buf[2 * IMG_DIGEST_LEN + 2];
	snprintf(buf, sizeof(buf), "%s %s", parent, diff_id);
	return img_digest_buf(buf, strlen(buf), out);
}

static int bad(struct crix_err **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct crix_err **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	crix_err_makev(err, 0, fmt, ap);
	va_end(ap);
	crix_err_classify(err, EPROTO, IMG_ERR_PROTOCOL);
	return crix_err_wrap(err, "crix-pull reported a bad record");
}

/* o's key as an array of strings (an absent key is an empty one). */
static int string_list(json_object *o, const char *key, size_t max, json_object **out, struct crix_err **err)
{
	json_object *a = NULL;
	if (json_object_object_get_ex(o, key, &a) && !json_object_is_type(a, json_type_array))
		return bad(err, "%s: not an array", key);
	size_t n = a ? json_object_array_length(a) : 0;
	if (n > max)
		return bad(err, "%s: %zu entries, more than %zu", key, n, max);
	for (size_t i = 0; i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(a, i), json_type_string))
			return bad(err, "%s[%zu]: not a string", key, i);
	*out = a;
	return 0;
}

static const char *item(json_object *a, size_t i) { return json_object_get_string(json_object_array_get_idx(a, i)); }

static size_t length(json_object *a) { return a ? json_object_array_length(a) : 0; }

static bool lists(json_object *a, const char *s)
{
	for (size_t i = 0; i < length(a); i++)
		if (strcmp(item(a, i), s) == 0)
			return true;
	return false;
}

/* The config (the record's own text): a JSON object whose digest is the id; its chain ids
 * and its user. */
static int check_config(json_object *o, const char **id, json_object **cfg, struct crix_err **err)
{
	json_object *v;
	*id = img_json_str(o, "id");
	if (*id == NULL || img_digest_check(*id, NULL) < 0)
		return bad(err, "id: not a sha256 digest");
	if (!json_object_object_get_ex(o, "config", &v) || !json_object_is_type(v, json_type_string))
		return bad(err, "config: not a string");
	size_t len = (size_t)json_object_get_string_len(v);
	const char *text = json_object_get_string(v);
	if (len > IMG_MAX_CONFIG)
		return bad(err, "config: larger than %u bytes", IMG_MAX_CONFIG);
	char digest[IMG_DIGEST_LEN + 1];
	if (img_digest_buf(text, len, digest) < 0)
		return crix_err_make(err, ENOMEM, "image config");
	if (strcmp(digest, *id) != 0)
		return bad(err, "config: its digest %s is not the id %s", digest, *id);
	if (crix_json_parse(text, len, cfg, err) < 0 || !json_object_is_type(*cfg, json_type_object))
		return bad(err, "config: not a JSON object");
	return 0;
}

static int check_layers(struct img_store *s, json_object *o, json_object *cfg, struct crix_err **err)
{
	json_object *rootfs, *diff_ids, *layers;
	if (!json_object_object_get_ex(cfg, "rootfs", &rootfs) ||
	    !json_object_object_get_ex(rootfs, "diff_ids", &diff_ids) || !json_object_is_type(diff_ids, json_type_array))
		return bad(err, "config: no rootfs.diff_ids");
	size_t n = json_object_array_length(diff_ids);
	if (string_list(o, "layers", n, &layers, err) < 0)
		return -1;
	if (length(layers) != n)
		return bad(err, "layers: %zu, the config has %zu", length(layers), n);
	char chain[IMG_DIGEST_LEN + 1];
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(diff_ids, i);
		if (!json_object_is_type(d, json_type_string) || img_digest_check(json_object_get_string(d), NULL) < 0)
			return bad(err, "config: rootfs.diff_ids[%zu] is not a sha256 digest", i);
		if (img_chain_id(i == 0 ? NULL : chain, json_object_get_string(d), chain) < 0)
			return crix_err_make(err, ENOMEM, "chain id");
		if (strcmp(item(layers, i), chain) != 0)
			return bad(err, "layers[%zu]: \"%.80s\" is not the chain id of the config's layers", i,
				   item(layers, i));
		if (!img_layer_exists(s, chain))
			return bad(err, "layers[%zu]: %s is not in the store", i, chain);
	}
	return 0;
}

/* The names a pull of ref gives: its tag (none when pulled by digest) and one digest
 * reference to a manifest in the store. */
static int check_names(struct img_store *s, json_object *o, const struct img_ref *ref, const char **manifest,
		       struct crix_err **err)
{
	json_object *tags, *digests;
	if (string_list(o, "repo_tags", 1, &tags, err) < 0 || string_list(o, "repo_digests", 1, &digests, err) < 0)
		return -1;
	_cleanup_free_ char *tag = NULL, *name = NULL;
	if (asprintf(&name, "%s/%s", ref->domain, ref->path) < 0 ||
	    (ref->tag && !ref->digest && asprintf(&tag, "%s:%s", name, ref->tag) < 0))
		return crix_err_make(err, ENOMEM, "image record");
	if (tag != NULL ? !lists(tags, tag) : length(tags) != 0)
		return bad(err, "repo_tags: not [%s%s%s] as pulled", tag ? "\"" : "", tag ? tag : "", tag ? "\"" : "");
	const char *rd = length(digests) == 1 ? item(digests, 0) : NULL;
	size_t nl = strlen(name);
	if (rd == NULL || strncmp(rd, name, nl) != 0 || rd[nl] != '@' || img_digest_check(rd + nl + 1, NULL) < 0)
		return bad(err, "repo_digests: not one %s@<digest>", name);
	*manifest = rd + nl + 1;
	if (ref->digest != NULL && strcmp(*manifest, ref->digest) != 0)
		return bad(err, "repo_digests: %s, but %s was pulled", *manifest, ref->digest);
	if (!img_blob_exists(s, *manifest))
		return bad(err, "repo_digests: manifest %s is not in the store", *manifest);
	return 0;
}

int img_record_check(struct img_store *s, json_object *o, const struct img_ref *ref, struct img_record **out,
		     struct crix_err **err)
{
	static const char *const known[] = {"id", "repo_tags", "repo_digests", "size", "user", "config", "layers", "blobs"};
	if (!json_object_is_type(o, json_type_object))
		return bad(err, "not a JSON object");
	json_object_object_foreach(o, key, val)
	{
		(void)val;
		size_t i = 0;
		while (i < sizeof(known) / sizeof(known[0]) && strcmp(key, known[i]) != 0)
			i++;
		if (i == sizeof(known) / sizeof(known[0]))
			return bad(err, "unknown member \"%.40s\"", key);
	}
	const char *id = NULL, *manifest = NULL, *user = img_json_str(o, "user");
	json_object *cfg = NULL, *cc, *blobs = NULL, *v;
	int rc = check_config(o, &id, &cfg, err);
	if (rc == 0)
		rc = check_layers(s, o, cfg, err);
	if (rc == 0)
		rc = check_names(s, o, ref, &manifest, err);
	const char *want_user = json_object_object_get_ex(cfg, "config", &cc) ? img_json_str(cc, "User") : NULL;
	if (rc == 0 && (user == NULL || strcmp(user, want_user ? want_user : "") != 0))
		rc = bad(err, "user: not the config's User");
	if (rc == 0 && string_list(o, "blobs", MAX_RECORD_BLOBS, &blobs, err) < 0)
		rc = -1;
	for (size_t i = 0; rc == 0 && i < length(blobs); i++) {
		if (img_digest_check(item(blobs, i), NULL) < 0)
			rc = bad(err, "blobs[%zu]: \"%.80s\" is not a sha256 digest", i, item(blobs, i));
		for (size_t j = 0; rc == 0 && j < i; j++)
			if (strcmp(item(blobs, i), item(blobs, j)) == 0)
				rc = bad(err, "blobs[%zu]: %s listed twice", i, item(blobs, i));
	}
	if (rc == 0 && (!lists(blobs, id) || !lists(blobs, manifest)))
		rc = bad(err, "blobs: without the config or the manifest");
	if (rc == 0 && (!json_object_object_get_ex(o, "size", &v) || !json_object_is_type(v, json_type_int) ||
			json_object_get_int64(v) < json_object_get_string_len(json_object_object_get(o, "config"))))
		rc = bad(err, "size: not an integer of at least the config's size");
	json_object_put(cfg);
	if (rc < 0)
		return -1;
	return img_record_from_json(o, out, err);
}

int img_open_beneath(int dirfd, const char *path, int flags)
{
	struct open_how how = {.flags = (uint64_t)flags | O_CLOEXEC,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* "<tmp>/" IMG_TMP_UNPACK "-XXXXXX/diff" (mkdtemp's six characters), as layer_fetch.c makes them. */
static const char *unpack_dir_below_tmp(struct img_store *s, const char *dir)
{
	size_t n = strlen(s->tmp_dir);
	size_t pn = strlen(IMG_TMP_UNPACK);
	if (strncmp(dir, s->tmp_dir, n) != 0 || dir[n] != '/' || strncmp(dir + n + 1, IMG_TMP_UNPACK, pn) != 0 ||
	    dir[n + 1 + pn] != '-')
		return NULL;
	const char *rel = dir + n + 1, *x = rel + pn + 1;
	for (int i = 0; i < 6; i++)
		if (!isalnum((unsigned char)x[i]))
			return NULL;
	return strcmp(x + 6, "/diff") == 0 ? rel : NULL;
}

int img_mark_opaque_for_pull(struct img_store *s, const char *dir, const char *rel, struct crix_err **err)
{
	const char *below_tmp = unpack_dir_below_tmp(s, dir);
	if (below_tmp == NULL || strlen(rel) > 4096)
		return img_err(err, IMG_ERR_PROTOCOL, EPROTO, "crix-pull asked to mark %.80s%s%.80s opaque, which is "
			       "not in a layer being unpacked", dir, *rel ? "/" : "", rel);
	_cleanup_close_ int tmp = open(s->tmp_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int diff = tmp < 0 ? -1 : img_open_beneath(tmp, below_tmp, O_RDONLY | O_DIRECTORY);
	_cleanup_close_ int target = diff < 0 ? -1 : img_open_beneath(diff, *rel ? rel : ".", O_RDONLY | O_DIRECTORY);
	if (target < 0 || fsetxattr(target, "trusted.overlay.opaque", "y", 1, 0) < 0)
		return crix_err_make(err, errno, "mark %s/%s opaque", dir, rel);
	return 0;
}
