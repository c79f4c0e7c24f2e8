/* Content store: blobs by digest under root/blobs/sha256, temp files under root/tmp. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_log.h"
#include "img_internal.h"

void img_digest_final(EVP_MD_CTX *ctx, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_DigestFinal_ex(ctx, md, &len);
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < len && i < 32; i++)
		sprintf(out + 7 + 2 * i, "%02x", md[i]);
	out[IMG_DIGEST_LEN] = '\0';
}

void img_digest_buf(const void *data, size_t len, char *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, data, len);
	img_digest_final(ctx, out);
	EVP_MD_CTX_free(ctx);
}

char *img_blob_path(struct img_store *s, const char *digest)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", s->blobs_dir, digest + 7) < 0)
		return NULL;
	return p;
}

bool img_blob_exists(struct img_store *s, const char *digest)
{
	_cleanup_free_ char *p = img_blob_path(s, digest);
	return p != NULL && access(p, F_OK) == 0;
}

static int digest_fd(int fd, char *out, uint64_t *size, struct crix_err **err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return crix_err_make(err, ENOMEM, "sha256");
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	static __thread char buf[1 << 16];
	uint64_t total = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			EVP_MD_CTX_free(ctx);
			return crix_err_make(err, errno, "read");
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, n);
		total += n;
	}
	img_digest_final(ctx, out);
	EVP_MD_CTX_free(ctx);
	*size = total;
	return 0;
}

int img_blob_verify(struct img_store *s, const char *digest, int64_t size, bool *ok, struct crix_err **err)
{
	_cleanup_free_ char *path = img_blob_path(s, digest);
	*ok = false;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return crix_err_make(err, errno, "open blob %s", digest);
	}
	char got[IMG_DIGEST_LEN + 1];
	uint64_t got_size = 0;
	if (digest_fd(fd, got, &got_size, err) < 0)
		return crix_err_wrap(err, "blob %s", digest);
	if (strcmp(got, digest) != 0 || (size >= 0 && got_size != (uint64_t)size)) {
		crix_warn("blob %s is corrupted on disk (content digest %s, %llu bytes): removing it", digest,
			  got, (unsigned long long)got_size);
		unlink(path);
		return 0;
	}
	*ok = true;
	return 0;
}

int img_blob_read(struct img_store *s, const char *digest, size_t max, char **data, size_t *len,
		  struct crix_err **err)
{
	_cleanup_free_ char *path = img_blob_path(s, digest);
	_cleanup_free_ char *buf = NULL;
	size_t n = 0;
	if (crix_read_file(path, max, &buf, &n, err) < 0)
		return crix_err_wrap(err, "blob %s", digest);
	char got[IMG_DIGEST_LEN + 1];
	img_digest_buf(buf, n, got);
	if (strcmp(got, digest) != 0) {
		crix_warn("blob %s is corrupted on disk (content digest %s): removing it", digest, got);
		unlink(path);
		return crix_err_make(err, ENOENT, "blob %s is corrupted on disk", digest);
	}
	*data = steal_ptr(buf);
	if (len)
		*len = n;
	return 0;
}

int img_blob_write(struct img_store *s, const char *digest, const void *data, size_t len, struct crix_err **err)
{
	/* An intact copy stays: rewriting it costs two fsyncs at every pull of an image the
	 * store already has (a damaged one is deleted by the check and written again). */
	bool intact = false;
	if (img_blob_verify(s, digest, (int64_t)len, &intact, NULL) == 0 && intact)
		return 0;
	_cleanup_free_ char *path = img_blob_path(s, digest);
	if (crix_write_file_atomic(path, data, len, 0644, CRIX_WRITE_DURABLE, err) < 0)
		return crix_err_wrap(err, "store blob %s", digest);
	return 0;
}

int img_tmp_file(struct img_store *s, const char *what, char **path, struct crix_err **err)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s-XXXXXX", s->tmp_dir, what) < 0)
		return crix_err_make(err, ENOMEM, "temp file");
	int fd = mkostemp(p, O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		free(p);
		return crix_err_make(err, e, "create temp file in %s", s->tmp_dir);
	}
	*path = p;
	return fd;
}

char *img_layer_dir(struct img_store *s, const char *chain_id)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", s->layers_dir, chain_id + 7) < 0)
		return NULL;
	return p;
}

bool img_layer_exists(struct img_store *s, const char *chain_id)
{
	_cleanup_free_ char *dir = img_layer_dir(s, chain_id);
	_cleanup_free_ char *meta = NULL;
	if (dir == NULL || asprintf(&meta, "%s/meta.json", dir) < 0)
		return false;
	return access(meta, F_OK) == 0;
}
