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
#include "crix_log.h"
#include "img_internal.h"

static char *container_dir(struct img_store *s, const char *id)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", s->containers_dir, id) < 0)
		return NULL;
	return p;
}

static int check_container_id(const char *id, struct crix_err **err)
{
	if (id == NULL || *id == '\0' || strchr(id, '/') || !strcmp(id, ".") || !strcmp(id, "..") || strlen(id) > 200)
		return crix_err_make(err, EINVAL, "invalid container id \"%s\"", id ? id : "");
	return 0;
}

/* Pins (or with pin == false unpins) every layer of container id. Caller holds the lock. */
static void pin_layers_locked(struct img_store *s, const char *id, char **layers, size_t n, bool pin)
{
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *key = NULL;
		if (asprintf(&key, "%s\n%s", id, layers[i]) < 0)
			continue;
		if (!pin)
			crix_strv_remove(&s->rootfs_pins, key);
		else if (!crix_strv_has(&s->rootfs_pins, key))
			crix_strv_add(&s->rootfs_pins, key);
	}
}

struct rootfs_rec {
	char *target;
	struct crix_strv layers;
};

static void rootfs_rec_clear(struct rootfs_rec *r)
{
	free(r->target);
	crix_strv_clear(&r->layers);
}

static int rootfs_rec_load(struct img_store *s, const char *id, struct rootfs_rec *out, struct crix_err **err)
{
	memset(out, 0, sizeof(*out));
	_cleanup_free_ char *dir = container_dir(s, id);
	_cleanup_free_ char *path = NULL, *text = NULL;
	if (dir == NULL || asprintf(&path, "%s/rootfs.json", dir) < 0)
		return crix_err_make(err, ENOMEM, "rootfs record");
	if (crix_read_file(path, 1 << 20, &text, NULL, err) < 0)
		return -1;
	json_object *o = json_tokener_parse(text), *v;
	if (o == NULL)
		return crix_err_make(err, EINVAL, "%s: not JSON", path);
	out->target = strdup(json_object_object_get_ex(o, "target", &v) ? json_object_get_string(v) : "");
	if (json_object_object_get_ex(o, "layers", &v) && json_object_is_type(v, json_type_array))
		for (size_t i = 0; i < json_object_array_length(v); i++)
			crix_strv_add(&out->layers, json_object_get_string(json_object_array_get_idx(v, i)));
	json_object_put(o);
	return 0;
}

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
			if (lerr->errnum != ENOENT)
				crix_warn("container rootfs %s: %s", e->d_name, crix_err_msg(lerr));
			continue;
		}
		pin_layers_locked(s, e->d_name, r.layers.v, r.layers.n, true);
		rootfs_rec_clear(&r);
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
	if (check_container_id(container_id, err) < 0)
		return -1;
	struct crix_strv layers = {0};
	pthread_mutex_lock(&s->lock);
	const struct img_record *r = img_find_locked(s, image_id);
	if (r != NULL) {
		for (size_t i = 0; i < r->img.n_layers; i++)
			crix_strv_add(&layers, r->img.layers[i]);
		pin_layers_locked(s, container_id, layers.v, layers.n, true);
	}
	pthread_mutex_unlock(&s->lock);
	if (r == NULL)
		return crix_err_make(err, ENOENT, "prepare rootfs of %s: image %s not found", container_id, image_id);

	int rc = -1;
	struct crix_strv lowers = {0};
	_cleanup_free_ char *dir = container_dir(s, container_id);
	_cleanup_free_ char *upper = NULL, *work = NULL, *empty = NULL, *recpath = NULL;
	if (dir == NULL || asprintf(&upper, "%s/upper", dir) < 0 || asprintf(&work, "%s/work", dir) < 0 ||
	    asprintf(&empty, "%s/empty", dir) < 0 || asprintf(&recpath, "%s/rootfs.json", dir) < 0) {
		crix_err_make(err, ENOMEM, "prepare rootfs");
		goto out;
	}
	if (crix_mkdir_p(upper, 0755, err) < 0 || crix_mkdir_p(work, 0700, err) < 0 ||
	    crix_mkdir_p(target, 0755, err) < 0)
		goto out;
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	json_object_object_add(o, "image", json_object_new_string(image_id));
	json_object_object_add(o, "target", json_object_new_string(target));
	for (size_t i = 0; i < layers.n; i++)
		json_object_array_add(a, json_object_new_string(layers.v[i]));
	json_object_object_add(o, "layers", a);
	const char *text = json_object_to_json_string(o);
	rc = crix_write_file_atomic(recpath, text, strlen(text), 0644, CRIX_WRITE_DURABLE, err);
	json_object_put(o);
	if (rc < 0)
		goto out;
	rc = -1;
	for (size_t i = 0; i < layers.n; i++) {
		_cleanup_free_ char *ld = img_layer_dir(s, layers.v[i]);
		_cleanup_free_ char *diff = NULL;
		if (ld == NULL || asprintf(&diff, "%s/diff", ld) < 0 || crix_strv_add(&lowers, diff) < 0) {
			crix_err_make(err, ENOMEM, "prepare rootfs");
			goto out;
		}
	}
	if (layers.n == 0) { /* overlay needs one lower */
		if (crix_mkdir_p(empty, 0755, err) < 0 || crix_strv_add(&lowers, empty) < 0)
			goto out;
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
	if (check_container_id(container_id, err) < 0)
		return -1;
	struct rootfs_rec r;
	_cleanup_err_ struct crix_err *lerr = NULL;
	if (rootfs_rec_load(s, container_id, &r, &lerr) < 0) {
		if (lerr->errnum == ENOENT)
			return 0;
		return crix_err_make(err, lerr->errnum, "release rootfs of %s: %s", container_id, lerr->msg);
	}
	if (r.target[0] != '\0' && umount2(r.target, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) {
		crix_err_make(err, errno, "release rootfs of %s: unmount %s", container_id, r.target);
		rootfs_rec_clear(&r);
		return -1;
	}
	_cleanup_free_ char *dir = container_dir(s, container_id);
	int rc = crix_remove_tree(dir, err);
	if (rc == 0) {
		pthread_mutex_lock(&s->lock);
		pin_layers_locked(s, container_id, r.layers.v, r.layers.n, false);
		pthread_mutex_unlock(&s->lock);
	}
	rootfs_rec_clear(&r);
	return rc < 0 ? crix_err_wrap(err, "release rootfs of %s", container_id) : 0;
}
