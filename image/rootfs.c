/* Container root filesystems: an overlay of the image's layer diffs (read-only lowers) with a
 * per-container upper and work dir. Prepared rootfs pin their layers against removal. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_json.h"
#include "crix_log.h"
#include "crix_record.h"
#include "img_internal.h"

/* Pins (or with pin == false unpins) every layer of container id. Caller holds the lock. */
static int pin_layers_locked(struct img_store *s, const char *id, char *const *layers, size_t n, bool pin,
			     struct crix_err **err)
{
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *key = NULL;
		if (asprintf(&key, "%s\n%s", id, layers[i]) < 0)
			return crix_err_make(err, ENOMEM, "pin the layers of %s", id);
		if (!pin)
			crix_strv_remove(&s->rootfs_pins, key);
		else if (!crix_strv_has(&s->rootfs_pins, key) && crix_strv_add(&s->rootfs_pins, key) < 0)
			return crix_err_make(err, ENOMEM, "pin the layers of %s", id);
	}
	return 0;
}

/* containers/<id>/rootfs.json: what img_rootfs_release must undo. */
struct rootfs_rec {
	char *image;
	char *target;
	char **layers; /* chain ids */
};

static void rootfs_rec_clear(struct rootfs_rec *r)
{
	free(r->image);
	free(r->target);
	crix_strv_free(r->layers);
	memset(r, 0, sizeof(*r));
}

static int parse_rootfs(json_object *o, void *arg, struct crix_err **err)
{
	struct rootfs_rec *r = arg;
	if (crix_json_string(o, "", "image", &r->image, err) < 0 ||
	    crix_json_require(crix_json_string(o, "", "target", &r->target, err), "", "target", err) < 0 ||
	    crix_json_require(crix_json_strv(o, "", "layers", &r->layers, err), "", "layers", err) < 0)
		return -1;
	if (r->target[0] != '/')
		return crix_err_make(err, EINVAL, "target: \"%s\" is not an absolute path", r->target);
	for (size_t i = 0; r->layers[i] != NULL; i++) {
		if (img_digest_check(r->layers[i], err) < 0) {
			char p[CRIX_JSON_PATH_MAX];
			return crix_err_wrap(err, "%s", crix_json_path_index(p, "layers", i));
		}
	}
	return 0;
}

static int rootfs_rec_load(struct img_store *s, const char *id, struct rootfs_rec *out, struct crix_err **err)
{
	memset(out, 0, sizeof(*out));
	_cleanup_free_ char *path = NULL;
	if (img_path_container(s, id, IMG_CONTAINER_ROOTFS, &path, err) < 0)
		return -1;
	if (crix_record_read(path, 1 << 20, parse_rootfs, out, err) < 0) {
		rootfs_rec_clear(out);
		return -1;
	}
	return 0;
}

static int rootfs_rec_save(struct img_store *s, const char *id, const char *image_id, const char *target,
			   const struct crix_strv *layers, struct crix_err **err)
{
	_cleanup_free_ char *path = NULL;
	if (img_path_container(s, id, IMG_CONTAINER_ROOTFS, &path, err) < 0)
		return -1;
	json_object *o = json_object_new_object();
	int rc = o ? 0 : crix_err_make(err, ENOMEM, "rootfs record");
	if (rc == 0 && (crix_json_add(o, "image", json_object_new_string(image_id), err) < 0 ||
			crix_json_add(o, "target", json_object_new_string(target), err) < 0 ||
			crix_json_add(o, "layers", crix_json_new_strv(layers->v), err) < 0))
		rc = -1;
	const char *text = rc == 0 ? json_object_to_json_string(o) : NULL;
	if (rc == 0 && text == NULL)
		rc = crix_err_make(err, ENOMEM, "rootfs record");
	if (rc == 0)
		rc = crix_write_file_atomic(path, text, strlen(text), 0644, CRIX_WRITE_DURABLE, err);
	json_object_put(o);
	return rc;
}

/* A container whose record is damaged is reported and left alone (its layers are not pinned,
 * and releasing it says why it cannot be undone): the others are still pinned. */
int img_rootfs_load(struct img_store *s, struct crix_err **err)
{
	_cleanup_closedir_ DIR *d = opendir(s->containers_dir);
	if (d == NULL)
		return crix_err_make(err, errno, "open %s", s->containers_dir);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		struct rootfs_rec r;
		_cleanup_err_ struct crix_err *lerr = NULL;
		if (rootfs_rec_load(s, e->d_name, &r, &lerr) < 0) {
			if (lerr->errnum == ENOMEM)
				return img_err_pass(err, &lerr);
			if (lerr->errnum != ENOENT)
				crix_warn("container rootfs %s: %s", e->d_name, crix_err_msg(lerr));
			continue;
		}
		int rc = pin_layers_locked(s, e->d_name, r.layers, crix_strv_len(r.layers), true, err);
		rootfs_rec_clear(&r);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static bool is_mountpoint(const char *path)
{
	struct stat a, b;
	_cleanup_free_ char *parent = NULL;
	if (asprintf(&parent, "%s/..", path) < 0 || stat(path, &a) < 0 || stat(parent, &b) < 0)
		return false;
	return a.st_dev != b.st_dev || a.st_ino == b.st_ino;
}

/* The new mount API takes lower layers one by one ("lowerdir+"), so an image with many layers
 * is not limited by the page-sized option string of mount(2). */
static int mount_overlay(char **lowers, size_t n, const char *upper, const char *work, const char *target,
			 struct crix_err **err)
{
	_cleanup_close_ int fs = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0)
		return crix_err_make(err, errno, "fsopen overlay");
	for (size_t i = n; i-- > 0;)
		if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", lowers[i], 0) < 0)
			return crix_err_make(err, errno, "overlay lowerdir+ %s", lowers[i]);
	if (fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "workdir", work, 0) < 0)
		return crix_err_make(err, errno, "overlay upperdir %s", upper);
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return crix_err_make(err, errno, "create overlay for %s", target);
	_cleanup_close_ int mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
	if (mnt < 0)
		return crix_err_make(err, errno, "fsmount overlay");
	if (move_mount(mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return crix_err_make(err, errno, "mount overlay on %s", target);
	return 0;
}

int img_rootfs_prepare(struct img_store *s, const char *container_id, const char *image_id, const char *target,
		       struct crix_err **err)
{
	_cleanup_free_ char *upper = NULL, *work = NULL, *empty = NULL;
	if (img_path_container(s, container_id, IMG_CONTAINER_UPPER, &upper, err) < 0 ||
	    img_path_container(s, container_id, IMG_CONTAINER_WORK, &work, err) < 0 ||
	    img_path_container(s, container_id, IMG_CONTAINER_EMPTY, &empty, err) < 0)
		return crix_err_wrap(err, "prepare rootfs");
	struct crix_strv layers = {0}, lowers = {0};
	int rc = 0;
	pthread_mutex_lock(&s->lock);
	const struct img_record *r = img_find_locked(s, image_id);
	for (size_t i = 0; r != NULL && rc == 0 && i < r->img.n_layers; i++)
		if (crix_strv_add(&layers, r->img.layers[i]) < 0)
			rc = crix_err_make(err, ENOMEM, "prepare rootfs");
	if (r != NULL && rc == 0)
		rc = pin_layers_locked(s, container_id, layers.v, layers.n, true, err);
	pthread_mutex_unlock(&s->lock);
	if (r == NULL)
		return crix_err_make(err, ENOENT, "prepare rootfs of %s: image %s not found", container_id, image_id);
	if (rc < 0)
		goto out;

	rc = -1;
	if (crix_mkdir_p(upper, 0755, err) < 0 || crix_mkdir_p(work, 0700, err) < 0 ||
	    crix_mkdir_p(target, 0755, err) < 0 || rootfs_rec_save(s, container_id, image_id, target, &layers, err) < 0)
		goto out;
	for (size_t i = 0; i < layers.n; i++) {
		_cleanup_free_ char *diff = NULL;
		if (img_path_layer(s, layers.v[i], IMG_LAYER_DIFF, &diff, err) < 0)
			goto out;
		if (crix_strv_add(&lowers, diff) < 0) {
			crix_err_make(err, ENOMEM, "prepare rootfs");
			goto out;
		}
	}
	if (layers.n == 0) { /* overlay needs one lower */
		if (crix_mkdir_p(empty, 0755, err) < 0)
			goto out;
		if (crix_strv_add(&lowers, empty) < 0) {
			crix_err_make(err, ENOMEM, "prepare rootfs");
			goto out;
		}
	}
	if (is_mountpoint(target)) {
		rc = 0;
		goto out;
	}
	rc = mount_overlay(lowers.v, lowers.n, upper, work, target, err);
out:
	if (rc < 0)
		crix_err_wrap(err, "prepare rootfs of container %s", container_id);
	crix_strv_clear(&lowers);
	crix_strv_clear(&layers);
	return rc;
}

int img_rootfs_release(struct img_store *s, const char *container_id, struct crix_err **err)
{
	_cleanup_free_ char *dir = NULL;
	if (img_path_container(s, container_id, IMG_CONTAINER_DIR, &dir, err) < 0)
		return crix_err_wrap(err, "release rootfs");
	struct rootfs_rec r;
	_cleanup_err_ struct crix_err *lerr = NULL;
	if (rootfs_rec_load(s, container_id, &r, &lerr) < 0) {
		if (lerr->errnum == ENOENT)
			return 0;
		img_err_pass(err, &lerr);
		return crix_err_wrap(err, "release rootfs of %s", container_id);
	}
	if (umount2(r.target, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) {
		crix_err_make(err, errno, "release rootfs of %s: unmount %s", container_id, r.target);
		rootfs_rec_clear(&r);
		return -1;
	}
	int rc = crix_remove_tree(dir, err);
	if (rc == 0) {
		pthread_mutex_lock(&s->lock);
		pin_layers_locked(s, container_id, r.layers, crix_strv_len(r.layers), false, NULL);
		pthread_mutex_unlock(&s->lock);
	}
	rootfs_rec_clear(&r);
	return rc < 0 ? crix_err_wrap(err, "release rootfs of %s", container_id) : 0;
}
