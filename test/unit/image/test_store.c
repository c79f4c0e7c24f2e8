/* The store without a registry: crash leftovers removed at open, blob digest verification,
 * records persisted and found by id / short id / tag / digest, tag-only removal, garbage
 * collection of unreferenced layers and blobs, usage figures, job locks between processes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crix_file.h"
#include "img_internal.h"

static int failures;
#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                       \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, "\n");                                                     \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

static char root[] = "/tmp/crix-store-XXXXXX";

static bool exists(const char *fmt, const char *arg)
{
	char p[1024];
	snprintf(p, sizeof(p), fmt, root, arg);
	return access(p, F_OK) == 0;
}

static struct img_store *open_store(void)
{
	struct img_store_opts o = {.root = root};
	struct img_store *s = NULL;
	struct crix_err *err = NULL;
	CHECK(img_store_open(&o, &s, &err) == 0, "open: %s", crix_err_msg(err));
	crix_err_free(&err);
	return s;
}


/* A record for config digest cfg, one layer chain and the given tag. */
static struct img_record *record(const char *cfg, const char *layer_blob, const char *chain, const char *tag,
				 const char *repo_digest)
{
	struct img_record *r = calloc(1, sizeof(*r));
	struct crix_strv tags = {0}, digests = {0}, layers = {0};
	crix_strv_add(&tags, tag);
	crix_strv_add(&digests, repo_digest);
	crix_strv_add(&layers, chain);
	crix_strv_add(&r->blobs, cfg);
	crix_strv_add(&r->blobs, layer_blob);
	r->img.id = strdup(cfg);
	r->img.repo_tags = tags.v;
	r->img.n_repo_tags = tags.n;
	r->img.repo_digests = digests.v;
	r->img.n_repo_digests = digests.n;
	r->img.layers = layers.v;
	r->img.n_layers = layers.n;
	r->img.user = strdup("app");
	r->img.config_json = strdup("{\"config\":{}}");
	r->img.size = 42;
	return r;
}

static void make_layer(struct img_store *s, const char *chain)
{
	char *dir = img_layer_dir(s, chain), p[1024];
	snprintf(p, sizeof(p), "%s/diff", dir);
	crix_mkdir_p(p, 0755, NULL);
	snprintf(p, sizeof(p), "%s/meta.json", dir);
	crix_write_file_atomic(p, "{}", 2, 0644, CRIX_WRITE_DURABLE, NULL);
	free(dir);
}

/* A job lock excludes another process until its holder unlocks, or dies; no file stays. */
static void test_job_locks(struct img_store *s)
{
	const char *key = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char marker[1100];
	snprintf(marker, sizeof(marker), "%s/unlocking", root);
	struct crix_err *err = NULL;
	int fd = img_job_lock(s, key, &err);
	CHECK(fd >= 0, "lock: %s", crix_err_msg(err));
	crix_err_free(&err);
	alarm(20); /* a lock never given up ends the test */
	pid_t child = fork();
	if (child == 0) {
		close(fd); /* the parent's lock, inherited: only the parent's unlock may free it */
		int held = img_job_lock(s, key, NULL);
		/* the parent writes the marker just before it unlocks */
		bool after = access(marker, F_OK) == 0;
		if (held >= 0)
			img_job_unlock(s, key, held);
		_exit(held >= 0 && after ? 0 : 1);
	}
	usleep(200 * 1000);
	close(open(marker, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	img_job_unlock(s, key, fd);
	int status = 0;
	waitpid(child, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a second process took the lock while it was held");
	CHECK(!exists("%s/locks/%s", key + 7), "lock file removed by the last holder");

	int ready[2];
	CHECK(pipe(ready) == 0, "pipe");
	child = fork();
	if (child == 0) {
		img_job_lock(s, key, NULL);
		(void)!write(ready[1], "x", 1);
		pause();
		_exit(0);
	}
	char c;
	CHECK(read(ready[0], &c, 1) == 1, "child locked");
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	fd = img_job_lock(s, key, &err); /* the dead holder's lock is free */
	CHECK(fd >= 0, "lock after the holder died: %s", crix_err_msg(err));
	img_job_unlock(s, key, fd);
	alarm(0);
	close(ready[0]);
	close(ready[1]);
	unlink(marker);
}

int main(void)
{
	if (mkdtemp(root) == NULL)
		return 1;
	struct crix_err *err = NULL;
	/* leftovers of a crash in tmp/ */
	char p[1024];
	snprintf(p, sizeof(p), "%s/tmp/layer-abc/diff/x", root);
	crix_mkdir_p(p, 0755, NULL);
	struct img_store *s = open_store();
	CHECK(!exists("%s/tmp/%s", "layer-abc"), "tmp leftovers removed at open");
	test_job_locks(s);

	/* blobs: verified by digest, a corrupted one is removed and reported */
	char d1[IMG_DIGEST_LEN + 1], d2[IMG_DIGEST_LEN + 1], cfg[IMG_DIGEST_LEN + 1], cfg2[IMG_DIGEST_LEN + 1];
	img_digest_buf("layer one", 9, d1);
	img_digest_buf("layer two", 9, d2);
	img_digest_buf("{\"config\":1}", 12, cfg);
	img_digest_buf("{\"config\":2}", 12, cfg2);
	CHECK(img_blob_write(s, d1, "layer one", 9, &err) == 0, "write blob: %s", crix_err_msg(err));
	CHECK(img_blob_write(s, d2, "layer two", 9, &err) == 0, "write blob: %s", crix_err_msg(err));
	CHECK(img_blob_write(s, cfg, "{\"config\":1}", 12, &err) == 0, "write blob");
	bool ok = false;
	CHECK(img_blob_verify(s, d1, 9, &ok, &err) == 0 && ok, "good blob verifies");
	CHECK(img_blob_verify(s, d1, 10, &ok, &err) == 0 && !ok, "wrong size is corruption");
	CHECK(!img_blob_exists(s, d1), "corrupted blob removed");
	img_blob_write(s, d1, "layer one", 9, &err);
	char *bp = img_blob_path(s, d1);
	crix_write_file_atomic(bp, "layer 0ne", 9, 0644, CRIX_WRITE_DURABLE, NULL);
	free(bp);
	char *data = NULL;
	CHECK(img_blob_read(s, d1, 1 << 20, &data, NULL, &err) < 0 && err->errnum == ENOENT &&
		      strstr(err->msg, "corrupted"),
	      "corrupted blob read: %s", crix_err_msg(err));
	crix_err_free(&err);
	CHECK(!img_blob_exists(s, d1), "corrupted blob removed on read");
	img_blob_write(s, d1, "layer one", 9, &err);
	/* writing a blob that is there keeps an intact copy and replaces a damaged one */
	struct stat first, again;
	bp = img_blob_path(s, d1);
	CHECK(stat(bp, &first) == 0 && img_blob_write(s, d1, "layer one", 9, &err) == 0 && stat(bp, &again) == 0 &&
		      first.st_ino == again.st_ino,
	      "an intact blob is not written again");
	crix_write_file_atomic(bp, "layer 0ne", 9, 0644, CRIX_WRITE_DURABLE, NULL);
	CHECK(img_blob_write(s, d1, "layer one", 9, &err) == 0 && img_blob_read(s, d1, 1 << 20, &data, NULL, &err) == 0 &&
		      strcmp(data, "layer one") == 0,
	      "a damaged blob is written again: %s", crix_err_msg(err));
	free(data);
	data = NULL;
	free(bp);

	/* records */
	const char *chain1 = d1, *chain2 = d2; /* any digest-shaped names do */
	make_layer(s, chain1);
	make_layer(s, chain2);
	CHECK(img_store_commit(s, record(cfg, d1, chain1, "docker.io/library/a:1", "docker.io/library/a@sha256:"
										   "1111111111111111111111111111111111111111111111111111111111111111"),
				   &err) == 0,
	      "commit: %s", crix_err_msg(err));
	/* the same image again under another tag: one record, two tags */
	CHECK(img_store_commit(s, record(cfg, d1, chain1, "docker.io/library/b:2", "docker.io/library/a@sha256:"
										   "1111111111111111111111111111111111111111111111111111111111111111"),
				   &err) == 0,
	      "commit again");
	CHECK(img_store_commit(s, record(cfg2, d2, chain2, "docker.io/library/c:3", "docker.io/library/c@sha256:"
										    "2222222222222222222222222222222222222222222222222222222222222222"),
				   &err) == 0,
	      "commit second image");
	img_store_close(s);
	s = open_store(); /* records survive, garbage collection keeps what they use */
	CHECK(img_blob_exists(s, d1) && img_blob_exists(s, d2) && img_layer_exists(s, chain1), "kept at open");
	struct img_image *im = NULL;
	const char *names[] = {cfg, cfg + 7, "a:1", "b:2", "docker.io/library/a:1",
			       "a@sha256:1111111111111111111111111111111111111111111111111111111111111111"};
	char shortid[13];
	snprintf(shortid, sizeof(shortid), "%.12s", cfg + 7);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		CHECK(img_status(s, names[i], &im, &err) == 0 && im && !strcmp(im->id, cfg), "status %s", names[i]);
		img_image_free(im);
	}
	CHECK(img_status(s, shortid, &im, &err) == 0 && im && im->n_repo_tags == 2 && !strcmp(im->user, "app") &&
		      im->size == 42,
	      "status by short id");
	img_image_free(im);
	CHECK(img_status(s, "a:2", &im, &err) == 0 && im == NULL, "unknown tag is NULL");
	CHECK(img_status(s, "", &im, &err) == 0 && im == NULL, "empty is NULL");
	struct img_image **list;
	size_t n;
	CHECK(img_list(s, NULL, &list, &n, &err) == 0 && n == 2, "list all: %zu", n);
	img_image_list_free(list, n);
	CHECK(img_list(s, "c:3", &list, &n, &err) == 0 && n == 1 && !strcmp(list[0]->id, cfg2), "list filter");
	img_image_list_free(list, n);

	/* one tag of a two-tag image removes the image with both tags */
	CHECK(img_remove(s, "a:1", &err) == 0, "rm tag");
	CHECK(img_status(s, cfg, &im, &err) == 0 && im == NULL, "image gone with one of its tags");
	CHECK(img_status(s, "b:2", &im, &err) == 0 && im == NULL, "other tag gone too");
	CHECK(!img_layer_exists(s, chain1) && !img_blob_exists(s, d1) && !img_blob_exists(s, cfg), "gc of image 1");
	CHECK(!exists("%s/images/%s.json", cfg + 7), "record file removed");
	CHECK(img_layer_exists(s, chain2) && img_blob_exists(s, d2), "image 2 untouched");
	CHECK(img_remove(s, cfg, &err) == 0, "idempotent remove");

	struct img_fs_usage a, b;
	CHECK(img_fs_info(s, &a, &b, &err) == 0 && a.used_bytes > 0 && a.inodes_used > 0 && a.timestamp_ns > 0 &&
		      !strcmp(a.mountpoint, root),
	      "fs info");
	img_fs_usage_clear(&a);
	img_fs_usage_clear(&b);
	CHECK(img_rootfs_prepare(s, "c1", "sha256:" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
				 "/tmp/nowhere", &err) < 0 && err->errnum == ENOENT,
	      "rootfs of unknown image");
	crix_err_free(&err);
	CHECK(img_rootfs_prepare(s, "../x", cfg2, "/tmp/nowhere", &err) < 0 && err->errnum == EINVAL, "bad container id");
	crix_err_free(&err);
	CHECK(img_rootfs_release(s, "never-prepared", &err) == 0, "release unknown is fine");
	img_store_close(s);
	crix_remove_tree(root, &err);
	crix_err_free(&err);
	printf("%s: %d failures\n", failures ? "FAIL" : "ok", failures);
	return failures != 0;
}
