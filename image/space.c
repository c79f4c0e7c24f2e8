/* What the store takes on disk: removal of images, garbage collection of the layers and blobs
 * that no image, pull in progress or prepared rootfs uses, and usage figures. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_log.h"
#include "img_internal.h"

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

/* Moves what no one uses of layers/ (layers == true) or blobs/ into trash. */
static void collect_dir_locked(struct img_store *s, bool layers, const char *trash, unsigned *moved)
{
	const char *dir = layers ? s->layers_dir : s->blobs_dir;
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (d == NULL) {
		crix_warn("image gc: open %s: %s", dir, strerror(errno));
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char key[IMG_DIGEST_LEN + 1];
		if (strlen(e->d_name) != 64)
			continue;
		snprintf(key, sizeof(key), "sha256:%.64s", e->d_name);
		if (img_digest_check(key, NULL) < 0 || (layers ? layer_live_locked(s, key) : blob_live_locked(s, key)))
			continue;
		_cleanup_free_ char *from = NULL, *to = NULL;
		_cleanup_err_ struct crix_err *perr = NULL;
		int rc = layers ? img_path_layer(s, key, IMG_LAYER_DIR, &from, &perr) : img_path_blob(s, key, &from, &perr);
		if (rc < 0 || img_path_tmp_entry(trash, (*moved)++, &to, &perr) < 0) {
			crix_warn("image gc: %s", crix_err_msg(perr));
			continue;
		}
		if (rename(from, to) < 0)
			crix_warn("image gc: move %s: %s", from, strerror(errno));
	}
}

/* Moves unreferenced layers and blobs into tmp/ under the lock (so that a pull starting now
 * cannot see half-deleted ones), then deletes them outside it. */
int img_collect_garbage(struct img_store *s, struct crix_err **err)
{
	_cleanup_free_ char *trash = NULL;
	if (img_path_tmp(s, "gc", &trash, err) < 0)
		return -1;
	if (mkdtemp(trash) == NULL)
		return crix_err_make(err, errno, "create %s", trash);
	unsigned moved = 0;
	pthread_mutex_lock(&s->lock);
	collect_dir_locked(s, true, trash, &moved);
	collect_dir_locked(s, false, trash, &moved);
	pthread_mutex_unlock(&s->lock);
	return crix_remove_tree(trash, err);
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
	_cleanup_free_ char *path = NULL;
	if (img_path_record(s, r->img.id, &path, err) < 0) {
		pthread_mutex_unlock(&s->lock);
		return crix_err_wrap(err, "remove image %s", name);
	}
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
	if (img_collect_garbage(s, err) < 0)
		return crix_err_wrap(err, "remove image %s", name);
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

static int measure(const char *root, const char *const *dirs, size_t n, struct img_fs_usage *u,
		   struct crix_err **err)
{
	memset(u, 0, sizeof(*u));
	walk_bytes = walk_inodes = 0;
	for (size_t i = 0; i < n; i++)
		if (nftw(dirs[i], walk_add, 64, FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
			return crix_err_make(err, errno, "measure %s", dirs[i]);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	u->mountpoint = strdup(root);
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
	const char *const image_dirs[] = {s->blobs_dir, s->layers_dir, s->images_dir};
	if (measure(s->root, image_dirs, 3, images, err) < 0)
		return crix_err_wrap(err, "image fs info");
	if (measure(s->root, (const char *const[]){s->containers_dir}, 1, containers, err) < 0) {
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
