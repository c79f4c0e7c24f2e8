/* Layers: each downloaded blob streamed through SHA-256 into the unpacker (or a temp file
 * unpacked afterwards), its tree synced to disk before the meta.json that declares it
 * complete, then renamed into layers/<chain>; several at a time, each shared with identical
 * concurrent pulls through a job lock. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_log.h"
#include "fetch_internal.h"

#define MAX_WORKERS 64

/* Download sink: SHA-256 and the unpacker's socket when streaming, else a temp file. Its
 * errors are about the blob (the caller names it). */
struct download {
	const struct img_layer *layer;
	int file_fd; /* -1 when streaming */
	int sock;    /* -1 when not streaming */
	EVP_MD_CTX *md;
	uint64_t bytes;
	struct crix_err *err;
};

static int download_write(void *arg, const void *data, size_t len)
{
	struct download *d = arg;
	if ((int64_t)(d->bytes + len) > d->layer->size)
		return img_err(&d->err, IMG_ERR_CORRUPT, EIO, "larger than the %lld bytes the manifest says",
			       (long long)d->layer->size);
	if (d->file_fd >= 0 && crix_write_all(d->file_fd, data, len) < 0)
		return crix_err_make(&d->err, errno, "write temp file");
	if (EVP_DigestUpdate(d->md, data, len) != 1)
		return crix_err_make(&d->err, ENOMEM, "sha256");
	d->bytes += len;
	for (const char *p = data; d->sock >= 0 && len > 0;) {
		ssize_t n = send(d->sock, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return crix_err_make(&d->err, EPIPE, "unpack stopped");
		p += n;
		len -= n;
	}
	return 0;
}

static int download_restart(void *arg)
{
	struct download *d = arg;
	if (d->sock >= 0) /* the unpacker already consumed the bytes */
		return -1;
	if (ftruncate(d->file_fd, 0) < 0 || lseek(d->file_fd, 0, SEEK_SET) < 0)
		return -1;
	if (EVP_DigestInit_ex(d->md, EVP_sha256(), NULL) != 1)
		return -1;
	d->bytes = 0;
	return 0;
}

struct unpack_job {
	int fd;
	int comp;
	const char *dir;
	struct img_opaque_marker marker;
	char diff_id[IMG_DIGEST_LEN + 1];
	uint64_t size;
	int rc;
	struct crix_err *err;
};

static void *unpack_thread(void *arg)
{
	struct unpack_job *j = arg;
	j->rc = img_unpack(j->fd, j->comp, j->dir, &j->marker, j->diff_id, &j->size, &j->err);
	close(j->fd); /* a sender still writing gets EPIPE */
	return NULL;
}

static int write_layer_meta(const char *dir, const struct img_layer *l, uint64_t size, struct crix_err **err)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	if (img_path_layer_file(dir, IMG_LAYER_META, &path, err) < 0)
		return -1;
	if (asprintf(&text, "{\"chain_id\":\"%s\",\"diff_id\":\"%s\",\"digest\":\"%s\",\"size\":%llu}\n", l->chain_id,
		     l->diff_id, l->digest, (unsigned long long)size) < 0)
		return crix_err_make(err, ENOMEM, "meta.json");
	return crix_write_file_atomic(path, text, strlen(text), 0644, CRIX_WRITE_DURABLE, err);
}

/* Everything unpacked into dir on stable storage: one syncfs for the store's filesystem is
 * far cheaper than an fsync per file of a layer with thousands of them. */
static int sync_tree(const char *dir, struct crix_err **err)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || syncfs(fd) < 0)
		return crix_err_make(err, errno, "sync %s", dir);
	return 0;
}

static int sync_dir(const char *dir, struct crix_err **err)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		return crix_err_make(err, errno, "fsync %s", dir);
	return 0;
}

/* Renames the unpacked tree tmpdir into final. A directory already there is a layer left
 * damaged (its meta.json does not read, else the caller would not have unpacked it again
 * under the job lock): the two are exchanged in one step, so that the name never lacks a tree,
 * and tmpdir then holds the damaged one for the caller to remove. A complete layer found
 * there is kept (tmpdir, a copy, is removed by the caller). */
static int publish_layer(struct img_store *s, const char *chain_id, const char *tmpdir, const char *final,
			 struct crix_err **err)
{
	if (rename(tmpdir, final) == 0)
		return 0;
	if (errno != EEXIST && errno != ENOTEMPTY)
		return crix_err_make(err, errno, "rename into %s", final);
	struct img_layer_meta meta;
	if (img_layer_meta_read(s, chain_id, &meta, NULL) == 0)
		return 0;
	crix_warn("layer %s: replacing the damaged %s", chain_id, final);
	if (renameat2(AT_FDCWD, tmpdir, AT_FDCWD, final, RENAME_EXCHANGE) < 0)
		return crix_err_make(err, errno, "replace the damaged %s", final);
	return 0;
}

/* Starts the unpacker on its own thread, fed through a socket pair (d->sock). false when it
 * could not be started: the download then goes to a temp file. */
static bool start_streaming(struct download *d, struct unpack_job *job, pthread_t *th)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return false;
	int big = 1 << 20;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	job->fd = sv[0];
	d->sock = sv[1];
	if (pthread_create(th, NULL, unpack_thread, job) == 0)
		return true;
	close(sv[0]);
	close(sv[1]);
	job->fd = d->sock = -1;
	return false;
}

/* Downloads blob l and unpacks it into a temp dir renamed to layers/<chain> when both the
 * blob's digest and the diff_id matched. Streaming, the bytes go from the download straight
 * into the unpacker (another thread, through a socket pair); otherwise into a temp file that
 * is unpacked afterwards. The compressed blob is not kept: the unpacked layer is the data.
 * Errors of the download name the blob, the unpacker's the layer. */
static int fetch_layer_once(struct img_client *c, const struct img_layer *l, bool stream, struct crix_err **err)
{
	struct img_store *s = c->store;
	_cleanup_free_ char *tmpdir = NULL, *diff = NULL, *final = NULL;
	_cleanup_free_ char *blob_tmp = NULL;
	if (img_path_layer(s, l->chain_id, IMG_LAYER_DIR, &final, err) < 0 ||
	    img_path_tmp(s, IMG_TMP_UNPACK, &tmpdir, err) < 0)
		return crix_err_wrap(err, "layer %s", l->digest);
	if (mkdtemp(tmpdir) == NULL)
		return crix_err_make(err, errno, "layer %s: create %s", l->digest, tmpdir);
	int rc = -1;
	if (img_path_layer_file(tmpdir, IMG_LAYER_DIFF, &diff, err) < 0 || mkdir(diff, 0755) < 0) {
		if (diff != NULL)
			crix_err_make(err, errno, "layer %s: create %s", l->digest, diff);
		crix_remove_tree(tmpdir, NULL);
		return -1;
	}
	pthread_t th;
	struct unpack_job job = {
		.fd = -1, .comp = l->comp, .dir = diff, .marker = {c->host->mark_opaque, c->host->arg}};
	struct download d = {.layer = l, .file_fd = -1, .sock = -1, .md = EVP_MD_CTX_new()};
	struct crix_err *dl_err = NULL;
	bool threaded = false;
	if (d.md == NULL || EVP_DigestInit_ex(d.md, EVP_sha256(), NULL) != 1) {
		crix_err_make(err, ENOMEM, "layer %s", l->digest);
		goto out;
	}
	threaded = stream && start_streaming(&d, &job, &th);
	if (!threaded && (d.file_fd = img_tmp_file(s, "blob", &blob_tmp, err)) < 0) {
		crix_err_wrap(err, "layer %s", l->digest);
		goto out;
	}
	struct img_blob_sink sink = {download_write, download_restart, &d};
	int dl_rc = img_client_blob(c, l->digest, &sink, &dl_err);
	if (threaded) {
		close(d.sock);
		pthread_join(th, NULL);
	}
	char got[IMG_DIGEST_LEN + 1];
	if (img_digest_final(d.md, got) < 0 && dl_rc == 0) {
		crix_err_make(err, ENOMEM, "blob %s: sha256", l->digest);
		goto out;
	}
	if (dl_rc < 0 && d.err != NULL && d.err->errnum == EPIPE && threaded && job.rc < 0) {
		*err = steal_ptr(job.err); /* the unpacker refused the layer */
		crix_err_wrap(err, "layer %s", l->digest);
		goto out;
	}
	if (dl_rc < 0) {
		*err = d.err != NULL ? steal_ptr(d.err) : steal_ptr(dl_err);
		crix_err_wrap(err, "blob %s", l->digest);
		goto out;
	}
	if ((int64_t)d.bytes != l->size || strcmp(got, l->digest) != 0) {
		img_err(err, IMG_ERR_CORRUPT, EIO, "blob %s: downloaded %llu bytes with digest %s (expected %lld bytes)",
			l->digest, (unsigned long long)d.bytes, got, (long long)l->size);
		goto out;
	}
	if (!threaded) {
		if (lseek(d.file_fd, 0, SEEK_SET) < 0) {
			crix_err_make(err, errno, "blob %s: rewind", l->digest);
			goto out;
		}
		job.rc = img_unpack(d.file_fd, l->comp, diff, &job.marker, job.diff_id, &job.size, &job.err);
	}
	if (job.rc < 0) {
		*err = steal_ptr(job.err);
		crix_err_wrap(err, "layer %s", l->digest);
		goto out;
	}
	if (strcmp(job.diff_id, l->diff_id) != 0) {
		img_err(err, IMG_ERR_CORRUPT, EIO, "layer %s: uncompressed content has digest %s, the config says %s",
			l->digest, job.diff_id, l->diff_id);
		goto out;
	}
	/* a power cut after this must not leave a meta.json over a tree that is not all there */
	if (sync_tree(diff, err) < 0 || write_layer_meta(tmpdir, l, job.size, err) < 0) {
		crix_err_wrap(err, "layer %s", l->digest);
		goto out;
	}
	if (publish_layer(s, l->chain_id, tmpdir, final, err) < 0) {
		crix_err_wrap(err, "layer %s", l->digest);
		goto out;
	}
	/* the record that will name the layer must not outlive its directory entry */
	if (sync_dir(s->layers_dir, err) < 0) {
		crix_err_wrap(err, "layer %s", l->digest);
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(d.md);
	crix_err_free(&d.err);
	crix_err_free(&dl_err);
	crix_err_free(&job.err);
	if (d.file_fd >= 0)
		close(d.file_fd);
	if (blob_tmp)
		unlink(blob_tmp);
	_cleanup_err_ struct crix_err *rmerr = NULL;
	if (tmpdir != NULL && access(tmpdir, F_OK) == 0 && crix_remove_tree(tmpdir, &rmerr) < 0)
		crix_warn("%s", crix_err_msg(rmerr));
	return rc;
}

/* One layer, shared with identical concurrent pulls. A stream that broke mid-way is fetched
 * again into a file first (the unpacker cannot rewind). */
static int fetch_layer(struct img_client *c, const struct img_layer *l, struct crix_err **err)
{
	struct img_store *s = c->store;
	if (img_layer_exists(s, l->chain_id))
		return 0;
	int lock = img_job_lock(s, l->chain_id, err);
	if (lock < 0)
		return -1;
	int rc = 0;
	if (!img_layer_exists(s, l->chain_id)) { /* else another pull did it meanwhile */
		rc = fetch_layer_once(c, l, !s->unpack_after_download, err);
		if (rc < 0 && img_err_kind(*err) == IMG_ERR_RETRYABLE && !s->unpack_after_download &&
		    img_client_check_cancel(c, NULL) == 0) {
			crix_warn("%s; fetching it again", crix_err_msg(*err));
			crix_err_free(err);
			rc = fetch_layer_once(c, l, false, err);
		}
	}
	img_job_unlock(s, l->chain_id, lock);
	return rc;
}

struct layer_queue {
	struct img_client *client;
	struct img_layer *layers;
	size_t n_layers;
	pthread_mutex_t lock;
	size_t next;
	struct crix_err *err; /* first failure */
};

static void *layer_worker(void *arg)
{
	struct layer_queue *q = arg;
	for (;;) {
		pthread_mutex_lock(&q->lock);
		size_t i = q->next++;
		bool stop = i >= q->n_layers || q->err != NULL;
		pthread_mutex_unlock(&q->lock);
		if (stop)
			return NULL;
		struct crix_err *e = NULL;
		if (img_client_check_cancel(q->client, &e) < 0 || fetch_layer(q->client, &q->layers[i], &e) < 0) {
			pthread_mutex_lock(&q->lock);
			if (q->err == NULL)
				q->err = steal_ptr(e);
			pthread_mutex_unlock(&q->lock);
			crix_err_free(&e);
		}
	}
}

int img_fetch_layers(unsigned max_parallel, struct img_client *c, struct img_layer *layers, size_t n,
		     struct crix_err **err)
{
	struct layer_queue q = {.client = c, .layers = layers, .n_layers = n};
	pthread_mutex_init(&q.lock, NULL);
	size_t workers = max_parallel < n ? max_parallel : n;
	pthread_t th[MAX_WORKERS];
	size_t started = 0;
	for (; started + 1 < workers && started < MAX_WORKERS; started++)
		if (pthread_create(&th[started], NULL, layer_worker, &q) != 0)
			break;
	layer_worker(&q); /* the calling thread works too */
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&q.lock);
	if (q.err != NULL) {
		crix_err_free(err);
		*err = q.err;
		return -1;
	}
	return 0;
}
