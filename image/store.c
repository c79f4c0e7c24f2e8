/* The store: opening it (with the clean-up after a crash) and closing it. Its reloadable
 * settings are in settings.c, records and lookups in records.c, removal, garbage collection and
 * usage in space.c, what concurrent pulls share in jobs.c, the paths of each kind in paths.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_log.h"
#include "crix_spawn.h"
#include "img_internal.h"

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
	s->unpack_after_download = opts->unpack_after_download;
	s->settings = img_settings_new(opts);
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
	img_settings_free(s->settings);
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
