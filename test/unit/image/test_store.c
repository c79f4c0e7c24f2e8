/* The store without a registry: crash leftovers removed at open (tmp/ and the temp files of
 * atomic writes), blob digest verification, records persisted and found by id / short id / tag
 * / digest, damaged records reported by file and field (and skipped at open), hostile digests
 * and ids refused before they become paths, tag-only removal, garbage collection of
 * unreferenced layers and blobs, usage figures, job locks between processes. */
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
#include "crix_json.h"
#include "img_internal.h"
#include "img_check.h"
#include "json_fail.h"

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

/* root + "/" + rel, for files the test plants */
static const char *at(const char *rel)
{
	static char p[2048];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	return p;
}

static void put(const char *rel, const char *text)
{
	struct crix_err *err = NULL;
	CHECK(crix_write_file_atomic(at(rel), text, strlen(text), 0644, CRIX_WRITE_VOLATILE, &err) == 0, "write %s: %s",
	      rel, crix_err_msg(err));
	crix_err_free(&err);
}

/* A published layer: diff/ and the meta.json crix-pull writes last. */
static void make_layer(struct img_store *s, const char *chain)
{
	char *diff = NULL, *meta = NULL, text[512];
	CHECK(img_path_layer(s, chain, IMG_LAYER_DIFF, &diff, NULL) == 0 &&
		      img_path_layer(s, chain, IMG_LAYER_META, &meta, NULL) == 0,
	      "layer paths");
	crix_mkdir_p(diff, 0755, NULL);
	snprintf(text, sizeof(text), "{\"chain_id\":\"%s\",\"diff_id\":\"%s\",\"digest\":\"%s\",\"size\":9}\n", chain,
		 chain, chain);
	crix_write_file_atomic(meta, text, strlen(text), 0644, CRIX_WRITE_DURABLE, NULL);
	free(diff);
	free(meta);
}

/* Waits (at most 20 s) until pid is blocked waiting for a flock: /proc/locks lists its
 * request as "-> FLOCK ... <pid> ...". */
static bool wait_blocked_on_flock(pid_t pid)
{
	char want[64];
	snprintf(want, sizeof(want), " %d ", (int)pid);
	for (int tries = 0; tries < 2000; tries++) {
		FILE *f = fopen("/proc/locks", "re");
		char line[512];
		bool blocked = false;
		while (f != NULL && !blocked && fgets(line, sizeof(line), f) != NULL)
			blocked = strstr(line, "-> FLOCK") != NULL && strstr(line, want) != NULL;
		if (f != NULL)
			fclose(f);
		if (blocked)
			return true;
		usleep(10 * 1000);
	}
	return false;
}

#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HEX_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

/* Digests and ids that are not what their kind says are refused before they become paths:
 * crix-pull's messages and requests cannot name a file outside the kind's directory. */
static void test_hostile_names(struct img_store *s)
{
	struct crix_err *err = NULL;
	char *p = NULL;
	const char *bad_digests[] = {NULL, "", "sha256:../../../../etc/passwd", "sha256:" HEX_A "/x",
				     "sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
				     "sha512:" HEX_A, "sha256:" HEX_A "a", HEX_A};
	for (size_t i = 0; i < sizeof(bad_digests) / sizeof(bad_digests[0]); i++) {
		const char *d = bad_digests[i];
		CHECK(img_path_blob(s, d, &p, &err) < 0 && err->errnum == EINVAL, "blob path of %s", d ? d : "NULL");
		CHECK(img_path_layer(s, d, IMG_LAYER_DIFF, &p, &err) < 0 && err->errnum == EINVAL, "layer %s", d ? d : "");
		CHECK(img_path_record(s, d, &p, &err) < 0 && err->errnum == EINVAL, "record %s", d ? d : "");
		CHECK(img_path_lock(s, d, &p, &err) < 0 && err->errnum == EINVAL, "lock %s", d ? d : "");
		CHECK(img_job_lock(s, d, &err) < 0 && err->errnum == EINVAL, "job lock %s", d ? d : "");
		CHECK(img_blob_write(s, d, "x", 1, &err) < 0 && err->errnum == EINVAL, "blob write %s", d ? d : "");
		CHECK(!img_layer_exists(s, d), "layer exists %s", d ? d : "");
	}
	const char *bad_ids[] = {NULL, "", ".", "..", "../x", "a/b", "a\nb", ".hidden", "-x"};
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		CHECK(img_path_container(s, bad_ids[i], IMG_CONTAINER_ROOTFS, &p, &err) < 0 && err->errnum == EINVAL,
		      "container path of %s", bad_ids[i] ? bad_ids[i] : "NULL");
		CHECK(img_rootfs_release(s, bad_ids[i], &err) < 0 && err->errnum == EINVAL, "release %s",
		      bad_ids[i] ? bad_ids[i] : "NULL");
	}
	CHECK(img_path_blob(s, "sha256:" HEX_A, &p, &err) == 0 && strcmp(p, at("blobs/sha256/" HEX_A)) == 0,
	      "blob path %s", p);
	free(p);
	CHECK(img_path_layer(s, "sha256:" HEX_A, IMG_LAYER_META, &p, &err) == 0 &&
		      strcmp(p, at("layers/" HEX_A "/meta.json")) == 0,
	      "layer meta path %s", p);
	free(p);
	CHECK(img_path_container(s, "c-1_x.y", IMG_CONTAINER_UPPER, &p, &err) == 0 &&
		      strcmp(p, at("containers/c-1_x.y/upper")) == 0,
	      "container path %s", p);
	free(p);

	/* a commit from crix-pull naming a layer or blob that is not a digest is refused */
	const char *hostile[] = {
		"{\"id\":\"sha256:" HEX_A "\",\"layers\":[\"sha256:../../x\"],\"blobs\":[]}",
		"{\"id\":\"sha256:" HEX_A "\",\"layers\":[],\"blobs\":[\"sha256:" HEX_B "\",\"/etc/passwd\"]}",
		"{\"id\":\"../x\",\"layers\":[],\"blobs\":[]}",
		"{\"id\":\"sha256:" HEX_A "\",\"blobs\":[]}",
		"{\"id\":\"sha256:" HEX_A "\",\"layers\":[],\"blobs\":[],\"repo_tags\":[\"a\",7]}",
		"{\"id\":\"sha256:" HEX_A "\",\"layers\":[],\"blobs\":[],\"size\":-1}",
		"[]",
	};
	const char *field[] = {"layers[0]", "blobs[1]", "id", "layers: missing", "repo_tags[1]: expected string",
			       "size", "expected a JSON object"};
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		json_object *o = json_tokener_parse(hostile[i]);
		struct img_record *r = NULL;
		CHECK(o != NULL && img_record_from_json(o, &r, &err) < 0 && err->errnum == EINVAL &&
			      strstr(err->msg, field[i]) != NULL,
		      "hostile record %zu refused naming %s: %s", i, field[i], crix_err_msg(err));
		json_object_put(o);
	}
	crix_err_free(&err);
}

/* Damaged records: each error names the file and the field; at open a damaged image record is
 * skipped and the others load. */
static void test_damaged_records(void)
{
	struct crix_err *err = NULL;
	char cfg[IMG_DIGEST_LEN + 1], tagged[IMG_DIGEST_LEN + 1];
	img_digest_buf("{\"damaged\":1}", 13, cfg);
	img_digest_buf("{\"damaged\":2}", 13, tagged);
	struct img_store *s = open_store();
	make_layer(s, "sha256:" HEX_C);
	CHECK(img_store_commit(s, record(tagged, tagged, "sha256:" HEX_C, "docker.io/library/good:1",
					 "docker.io/library/good@sha256:" HEX_A),
			       &err) == 0,
	      "commit: %s", crix_err_msg(err));
	img_store_close(s);
	char rel[256];
	snprintf(rel, sizeof(rel), "images/%s.json", cfg + 7);
	put(rel, "{\"id\":\"sha256:" HEX_B "\",\"layers\":[],\"blobs\":[]}"); /* not the file's id */
	put("images/" HEX_A ".json", "{\"id\":\"sha256:" HEX_A "\",\"layers\":[],\"blobs\":[],\"repo_tags\":[\"x\",1]}");
	put("images/" HEX_B ".json", "{\"id\":\"sha256:" HEX_B "\",\"layers\":[], \"blobs\":"); /* cut short */
	s = open_store();
	struct img_image **list = NULL;
	size_t n = 0;
	CHECK(s != NULL && img_list(s, NULL, &list, &n, &err) == 0 && n == 1 && strcmp(list[0]->id, tagged) == 0,
	      "damaged records skipped, the good one loaded: %zu", n);
	img_image_list_free(list, n);
	CHECK(img_layer_exists(s, "sha256:" HEX_C), "the good image's layer kept");

	/* a layer record: read and checked, a damaged one means not there */
	struct img_layer_meta meta;
	CHECK(img_layer_meta_read(s, "sha256:" HEX_C, &meta, &err) == 0 && meta.size == 9 &&
		      strcmp(meta.diff_id, "sha256:" HEX_C) == 0,
	      "layer meta: %s", crix_err_msg(err));
	put("layers/" HEX_C "/meta.json", "{\"chain_id\":\"sha256:" HEX_C "\",\"diff_id\":\"sha256:" HEX_C
					  "\",\"digest\":\"sha256:" HEX_C "\",\"size\":\"9\"}");
	CHECK(!img_layer_exists(s, "sha256:" HEX_C), "a layer with a damaged record is not complete");
	CHECK(img_layer_meta_read(s, "sha256:" HEX_C, &meta, &err) < 0 && err->errnum == EINVAL &&
		      strstr(err->msg, at("layers/" HEX_C "/meta.json: size: expected integer")) == err->msg,
	      "layer meta error names file and field: %s", crix_err_msg(err));
	put("layers/" HEX_C "/meta.json", "{\"chain_id\":\"sha256:" HEX_A "\",\"diff_id\":\"sha256:" HEX_C
					  "\",\"digest\":\"sha256:" HEX_C "\",\"size\":9}");
	CHECK(!img_layer_exists(s, "sha256:" HEX_C), "a layer record of another layer");
	make_layer(s, "sha256:" HEX_C);

	/* a rootfs record: releasing a container whose record is damaged says where */
	CHECK(crix_mkdir_p(at("containers/c2"), 0700, NULL) == 0, "mkdir");
	put("containers/c2/rootfs.json", "{\"target\":5,\"layers\":[]}");
	CHECK(img_rootfs_release(s, "c2", &err) < 0 && err->errnum == EINVAL &&
		      strstr(err->msg, at("containers/c2/rootfs.json: target: expected string")) != NULL,
	      "rootfs record error names file and field: %s", crix_err_msg(err));
	put("containers/c2/rootfs.json", "{\"target\":\"/tmp/x\",\"layers\":[\"sha256:" HEX_C "\",\"../y\"]}");
	CHECK(img_rootfs_release(s, "c2", &err) < 0 && err->errnum == EINVAL &&
		      strstr(err->msg, "rootfs.json: layers[1]: invalid digest") != NULL,
	      "rootfs layer not a digest: %s", crix_err_msg(err));
	crix_remove_tree(at("containers/c2"), NULL);
	CHECK(img_remove(s, tagged, &err) == 0, "remove");
	img_store_close(s);
	crix_err_free(&err);
	unlink(at(rel));
	unlink(at("images/" HEX_A ".json"));
	unlink(at("images/" HEX_B ".json"));
}

/* The temp files of atomic writes a crash left beside records are swept at open; the records
 * are intact and files of the same look deeper down (a container's upper layer) are not
 * touched. */
static void test_temp_files_swept(void)
{
	struct crix_err *err = NULL;
	char cfg[IMG_DIGEST_LEN + 1];
	img_digest_buf("{\"swept\":1}", 11, cfg);
	struct img_store *s = open_store();
	make_layer(s, "sha256:" HEX_C);
	CHECK(img_blob_write(s, cfg, "{\"swept\":1}", 11, &err) == 0, "blob: %s", crix_err_msg(err));
	CHECK(img_store_commit(s, record(cfg, cfg, "sha256:" HEX_C, "docker.io/library/swept:1",
					 "docker.io/library/swept@sha256:" HEX_A),
			       &err) == 0,
	      "commit: %s", crix_err_msg(err));
	img_store_close(s);
	char rec[256], stale[5][256];
	snprintf(rec, sizeof(rec), "images/%s.json", cfg + 7);
	snprintf(stale[0], sizeof(stale[0]), "images/%s.json.tmp.Ab3xYz", cfg + 7);
	snprintf(stale[1], sizeof(stale[1]), "blobs/sha256/%s.tmp.q1w2e3", cfg + 7);
	snprintf(stale[2], sizeof(stale[2]), "layers/%s/meta.json.tmp.ZZZZZZ", HEX_C);
	snprintf(stale[3], sizeof(stale[3]), "containers/c3/rootfs.json.tmp.000000");
	snprintf(stale[4], sizeof(stale[4]), "images/%s.json.tmp.a1b2c3", HEX_B);
	CHECK(crix_mkdir_p(at("containers/c3/upper"), 0755, NULL) == 0, "mkdir");
	for (int i = 0; i < 5; i++)
		put(stale[i], "{\"half\":");
	put("containers/c3/upper/app.log.tmp.abc123", "a user's file"); /* deeper: not ours */
	put("images/notes.tmp.toolong1", "not a temp name");
	s = open_store();
	for (int i = 0; i < 5; i++)
		CHECK(access(at(stale[i]), F_OK) < 0 && errno == ENOENT, "%s swept at open", stale[i]);
	CHECK(access(at("containers/c3/upper/app.log.tmp.abc123"), F_OK) == 0, "a file in upper/ is kept");
	CHECK(access(at("images/notes.tmp.toolong1"), F_OK) == 0, "another name is kept");
	struct img_image *im = NULL;
	CHECK(img_status(s, "swept:1", &im, &err) == 0 && im != NULL && strcmp(im->id, cfg) == 0, "record intact");
	img_image_free(im);
	CHECK(access(at(rec), F_OK) == 0 && img_blob_exists(s, cfg) && img_layer_exists(s, "sha256:" HEX_C),
	      "record, blob and layer intact");
	CHECK(img_remove(s, cfg, &err) == 0, "remove");
	img_store_close(s);
	crix_remove_tree(at("containers/c3"), NULL);
	unlink(at("images/notes.tmp.toolong1"));
	crix_err_free(&err);
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
	CHECK(wait_blocked_on_flock(child), "the second process waits for the lock");
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

static int settings_json_op(void *arg, struct crix_err **err)
{
	json_object *o = img_settings_to_json(arg);
	if (o == NULL)
		return crix_err_make(err, ENOMEM, "settings as JSON");
	json_object_put(o);
	return 0;
}

/* crix-pull's request carries the settings: an allocation that fails there is reported, not
 * a request with members missing. */
static void test_settings_json_out_of_memory(void)
{
	struct img_mirror mirrors[] = {{.location = "127.0.0.1:5001", .insecure = true}, {.location = "m2"}};
	struct img_registry regs[] = {{.prefix = "docker.io", .mirrors = mirrors, .n_mirrors = 2}, {.prefix = "quay.io"}};
	struct img_store_opts o = {.root = root, .registries = regs, .n_registries = 2, .auth_file = "/a.json"};
	struct img_settings *set = img_settings_new(&o);
	CHECK(set != NULL, "settings");
	if (set != NULL)
		CHECK(json_fail_each("img_settings_to_json", settings_json_op, set) > 20, "img_settings_to_json");
	img_settings_free(set);
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
	test_hostile_names(s);
	img_store_close(s);
	test_temp_files_swept();
	test_damaged_records();
	s = open_store();

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
	char *bp = NULL;
	CHECK(img_path_blob(s, d1, &bp, &err) == 0, "blob path");
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
	CHECK(img_path_blob(s, d1, &bp, &err) == 0, "blob path");
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
	test_settings_json_out_of_memory();
	crix_remove_tree(root, &err);
	crix_err_free(&err);
	printf("%s: %d failures\n", failures ? "FAIL" : "ok", failures);
	return failures != 0;
}
