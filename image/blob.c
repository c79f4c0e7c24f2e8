/* Content store: blobs by digest under root/blobs/sha256, temp files under root/tmp, and the
 * layer records (layers/<chain>/meta.json) that say a layer is complete. */
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
#include "crix_json.h"
#include "crix_log.h"
#include "crix_record.h"
#include "img_internal.h"

/* "sha256:<hex>" of a SHA-256 result md of len bytes into out; -1 (out "") if it is not one. */
static int format_digest(int ok, const unsigned char *md, unsigned len, char *out)
{
	out[0] = '\0';
	if (ok != 1 || len != 32)
		return -1;
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < len; i++)
		sprintf(out + 7 + 2 * i, "%02x", md[i]);
	out[IMG_DIGEST_LEN] = '\0';
	return 0;
}

int img_digest_final(EVP_MD_CTX *ctx, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	int ok = EVP_DigestFinal_ex(ctx, md, &len);
	return format_digest(ok, md, len, out);
}

int img_digest_buf(const void *data, size_t len, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int ok = EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	return format_digest(ok, md, mdlen, out);
}

bool img_blob_exists(struct img_store *s, const char *digest)
{
	_cleanup_free_ char *p = NULL;
	return img_path_blob(s, digest, &p, NULL) == 0 && access(p, F_OK) == 0;
}

static int digest_fd(int fd, char *out, uint64_t *size, struct crix_err **err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return crix_err_make(err, ENOMEM, "sha256");
	}
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
		if (EVP_DigestUpdate(ctx, buf, n) != 1) {
			EVP_MD_CTX_free(ctx);
			return crix_err_make(err, ENOMEM, "sha256");
		}
		total += n;
	}
	int rc = img_digest_final(ctx, out);
	EVP_MD_CTX_free(ctx);
	if (rc < 0)
		return crix_err_make(err, ENOMEM, "sha256");
	*size = total;
	return 0;
}

int img_blob_verify(struct img_store *s, const char *digest, int64_t size, bool *ok, struct crix_err **err)
{
	*ok = false;
	_cleanup_free_ char *path = NULL;
	if (img_path_blob(s, digest, &path, err) < 0)
		return crix_err_wrap(err, "verify blob");
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
	_cleanup_free_ char *path = NULL, *buf = NULL;
	size_t n = 0;
	if (img_path_blob(s, digest, &path, err) < 0 || crix_read_file(path, max, &buf, &n, err) < 0)
		return crix_err_wrap(err, "blob %s", digest);
	char got[IMG_DIGEST_LEN + 1];
	if (img_digest_buf(buf, n, got) < 0)
		return crix_err_make(err, ENOMEM, "blob %s: sha256", digest);
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
	_cleanup_free_ char *path = NULL;
	if (img_path_blob(s, digest, &path, err) < 0)
		return crix_err_wrap(err, "store blob");
	/* An intact copy stays: rewriting it costs two fsyncs at every pull of an image the
	 * store already has (a damaged one is deleted by the check and written again). */
	bool intact = false;
	if (img_blob_verify(s, digest, (int64_t)len, &intact, NULL) == 0 && intact)
		return 0;
	if (crix_write_file_atomic(path, data, len, 0644, CRIX_WRITE_DURABLE, err) < 0)
		return crix_err_wrap(err, "store blob %s", digest);
	return 0;
}

int img_tmp_file(struct img_store *s, const char *what, char **path, struct crix_err **err)
{
	char *p = NULL;
	if (img_path_tmp(s, what, &p, err) < 0)
		return -1;
	int fd = mkostemp(p, O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		free(p);
		return crix_err_make(err, e, "create temp file in %s", s->tmp_dir);
	}
	*path = p;
	return fd;
}

/* ---- layer records ---- */

static int copy_digest(json_object *o, const char *key, char *out, struct crix_err **err)
{
	_cleanup_free_ char *v = NULL;
	if (crix_json_require(crix_json_string(o, "", key, &v, err), "", key, err) < 0)
		return -1;
	if (img_digest_check(v, err) < 0)
		return crix_err_wrap(err, "%s", key);
	memcpy(out, v, IMG_DIGEST_LEN + 1);
	return 0;
}

static int parse_layer_meta(json_object *o, void *arg, struct crix_err **err)
{
	struct img_layer_meta *m = arg;
	if (copy_digest(o, "chain_id", m->chain_id, err) < 0 || copy_digest(o, "diff_id", m->diff_id, err) < 0 ||
	    copy_digest(o, "digest", m->digest, err) < 0 ||
	    crix_json_require(crix_json_uint64(o, "", "size", &m->size, err), "", "size", err) < 0)
		return -1;
	return 0;
}

int img_layer_meta_read(struct img_store *s, const char *chain_id, struct img_layer_meta *meta,
			struct crix_err **err)
{
	_cleanup_free_ char *path = NULL;
	memset(meta, 0, sizeof(*meta));
	if (img_path_layer(s, chain_id, IMG_LAYER_META, &path, err) < 0 ||
	    crix_record_read(path, 1 << 16, parse_layer_meta, meta, err) < 0)
		return -1;
	if (strcmp(meta->chain_id, chain_id) != 0)
		return crix_err_make(err, EINVAL, "%s: chain_id: %s, but the layer is %s", path, meta->chain_id,
				     chain_id);
	return 0;
}

bool img_layer_exists(struct img_store *s, const char *chain_id)
{
	struct img_layer_meta meta;
	_cleanup_err_ struct crix_err *err = NULL;
	if (img_layer_meta_read(s, chain_id, &meta, &err) == 0)
		return true;
	if (err->errnum != ENOENT)
		crix_warn("layer %s is not usable: %s", chain_id, err->msg);
	return false;
}
