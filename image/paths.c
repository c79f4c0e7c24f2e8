/* Paths under the store's root, one function per kind. Each checks what it is given: a digest
 * is "sha256:" + 64 lowercase hex digits, a container id a plain name. Digests and ids come
 * from crix-pull (which parses what registries send) and from requests; this is where they
 * are stopped from naming anything outside their kind's directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "crix_cleanup.h"
#include "crix_paths.h"
#include "img_internal.h"

static int made(int n, char **out, struct crix_err **err)
{
	if (n < 0) {
		*out = NULL;
		return crix_err_make(err, ENOMEM, "build a path");
	}
	return 0;
}

int img_path_blob(struct img_store *s, const char *digest, char **out, struct crix_err **err)
{
	if (img_digest_check(digest, err) < 0)
		return -1;
	return made(asprintf(out, "%s/%s", s->blobs_dir, digest + 7), out, err);
}

int img_path_layer_file(const char *layer_dir, enum img_layer_file file, char **out, struct crix_err **err)
{
	static const char *const names[] = {[IMG_LAYER_DIR] = "", [IMG_LAYER_DIFF] = "/diff",
					    [IMG_LAYER_META] = "/meta.json"};
	if ((unsigned)file >= sizeof(names) / sizeof(names[0]))
		return crix_err_make(err, EINVAL, "invalid layer file %d", (int)file);
	return made(asprintf(out, "%s%s", layer_dir, names[file]), out, err);
}

int img_path_layer(struct img_store *s, const char *chain_id, enum img_layer_file file, char **out,
		   struct crix_err **err)
{
	if (img_digest_check(chain_id, err) < 0)
		return crix_err_wrap(err, "layer chain id");
	_cleanup_free_ char *dir = NULL;
	if (made(asprintf(&dir, "%s/%s", s->layers_dir, chain_id + 7), &dir, err) < 0)
		return -1;
	return img_path_layer_file(dir, file, out, err);
}

int img_path_record(struct img_store *s, const char *image_id, char **out, struct crix_err **err)
{
	if (img_digest_check(image_id, err) < 0)
		return crix_err_wrap(err, "image id");
	return made(asprintf(out, "%s/%s.json", s->images_dir, image_id + 7), out, err);
}

int img_path_container(struct img_store *s, const char *id, enum img_container_file file, char **out,
		       struct crix_err **err)
{
	static const char *const names[] = {[IMG_CONTAINER_DIR] = NULL, [IMG_CONTAINER_ROOTFS] = "rootfs.json",
					    [IMG_CONTAINER_UPPER] = "upper", [IMG_CONTAINER_WORK] = "work",
					    [IMG_CONTAINER_EMPTY] = "empty"};
	if ((unsigned)file >= sizeof(names) / sizeof(names[0]))
		return crix_err_make(err, EINVAL, "invalid container file %d", (int)file);
	char *dir = NULL;
	if (crix_path_container_dir(s->root, id, &dir, err) < 0)
		return -1;
	if (names[file] == NULL) {
		*out = dir;
		return 0;
	}
	int n = asprintf(out, "%s/%s", dir, names[file]);
	free(dir);
	return made(n, out, err);
}

int img_path_lock(struct img_store *s, const char *key, char **out, struct crix_err **err)
{
	if (img_digest_check(key, err) < 0)
		return crix_err_wrap(err, "lock key");
	return made(asprintf(out, "%s/%s", s->locks_dir, key + 7), out, err);
}

int img_path_tmp(struct img_store *s, const char *prefix, char **out, struct crix_err **err)
{
	return made(asprintf(out, "%s/%s-XXXXXX", s->tmp_dir, prefix), out, err);
}

int img_path_tmp_entry(const char *tmp_dir, unsigned n, char **out, struct crix_err **err)
{
	return made(asprintf(out, "%s/%u", tmp_dir, n), out, err);
}
