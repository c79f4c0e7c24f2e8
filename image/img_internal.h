/* Internals shared by the files of the image library. */
#ifndef CRIX_IMG_INTERNAL_H
#define CRIX_IMG_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "crix_err.h"
#include "crix_strv.h"
#include "img.h"

#define IMG_DIGEST_LEN 71 /* "sha256:" + 64 hex */
#define IMG_MAX_MANIFEST (4u << 20)
#define IMG_MAX_CONFIG (32u << 20)

/* An image record as kept in memory: the public part plus the blobs it references. */
struct img_record {
	struct img_image img;
	struct crix_strv blobs; /* manifest(s), config, layer blobs */
};

void img_record_free(struct img_record *r);

/* The settings a reload changes (img_store_reload), replaced as a whole and held by running
 * pulls (settings.c). */
struct img_settings {
	unsigned refs;
	struct img_registry *v; /* registries and their mirrors */
	size_t n;
	char *auth_file; /* "" = none */
	unsigned max_parallel;
	unsigned stall_timeout; /* seconds */
	unsigned min_speed;     /* bytes/s */
};

struct img_http;
struct img_token;
struct img_pull_host;

struct img_store {
	char *root, *blobs_dir, *layers_dir, *images_dir, *containers_dir, *tmp_dir, *locks_dir;
	char *certs_dir;
	char *pull_helper;
	bool unpack_after_download;
	struct img_http *http; /* crix-pull's registry client; NULL elsewhere */

	pthread_mutex_t lock; /* everything below */
	struct img_settings *settings;
	struct img_record **records;
	size_t n_records;
	struct crix_strv pull_pins;   /* blobs and layers of pulls in progress (multiset) */
	struct crix_strv rootfs_pins; /* "container-id\nchain-id" of prepared rootfs */
	struct img_token *tokens;    /* registry tokens of earlier pulls */
};

/* A store on opts->root for a process that does not own it (crix-pull): paths and settings
 * only, nothing on disk is touched and no records are loaded. */
int img_store_attach(const struct img_store_opts *opts, struct img_store **out, struct crix_err **err);

/* Hands the error cause (taken) to *err, which may be NULL (no details wanted); returns -1. */
static inline int img_err_pass(struct crix_err **err, struct crix_err **cause)
{
	if (err == NULL) {
		crix_err_free(cause);
	} else {
		crix_err_free(err);
		*err = *cause;
		*cause = NULL;
	}
	return -1;
}

/* ---- paths under root, one function per kind (paths.c) ---- */
/* Each checks what it is given (a digest is "sha256:" + 64 lowercase hex digits, a container
 * id a plain name: crix_path_check_name) and fails with EINVAL otherwise: ids and digests come
 * from crix-pull and from requests. *out is malloc'd. */
/* blobs/sha256/<hex> */
int img_path_blob(struct img_store *s, const char *digest, char **out, struct crix_err **err);
/* layers/<chain-hex>[/diff|/meta.json] */
enum img_layer_file { IMG_LAYER_DIR, IMG_LAYER_DIFF, IMG_LAYER_META };
int img_path_layer(struct img_store *s, const char *chain_id, enum img_layer_file file, char **out,
		   struct crix_err **err);
/* The same files of a layer whose directory is layer_dir: one being unpacked under tmp/. */
int img_path_layer_file(const char *layer_dir, enum img_layer_file file, char **out, struct crix_err **err);
/* images/<id-hex>.json */
int img_path_record(struct img_store *s, const char *image_id, char **out, struct crix_err **err);
/* containers/<id>[/rootfs.json|/upper|/work|/empty] */
enum img_container_file {
	IMG_CONTAINER_DIR,
	IMG_CONTAINER_ROOTFS,
	IMG_CONTAINER_UPPER,
	IMG_CONTAINER_WORK,
	IMG_CONTAINER_EMPTY,
};
int img_path_container(struct img_store *s, const char *id, enum img_container_file file, char **out,
		       struct crix_err **err);
/* locks/<hex> of a digest key */
int img_path_lock(struct img_store *s, const char *key, char **out, struct crix_err **err);
/* tmp/<prefix>-XXXXXX: a template for mkostemp or mkdtemp (prefix is the caller's constant) */
int img_path_tmp(struct img_store *s, const char *prefix, char **out, struct crix_err **err);
/* The prefix under tmp/ of a layer being unpacked (crix-pull's opaque marks must be there) */
#define IMG_TMP_UNPACK "layer"
/* <tmp_dir>/<n>: the n-th entry moved into a directory made from img_path_tmp (trash) */
int img_path_tmp_entry(const char *tmp_dir, unsigned n, char **out, struct crix_err **err);

/* ---- kinds of failure (img_err.c): in crix_err.kind, and in crix-pull's error message ---- */
enum img_err_kind {
	IMG_ERR_OTHER = 0,
	IMG_ERR_RETRYABLE,   /* the transfer broke or the registry was busy: another attempt may work */
	IMG_ERR_AUTH,        /* the registry refused us (401, 403) */
	IMG_ERR_NOT_FOUND,   /* no such manifest, blob or platform */
	IMG_ERR_CORRUPT,     /* content that does not match its digest or size; a layer refused */
	IMG_ERR_UNSUPPORTED, /* a format crix does not pull */
	IMG_ERR_CANCELLED,
	IMG_ERR_PROTOCOL,    /* a registry or crix-pull said something that makes no sense */
};
/* crix_err_make with a kind. */
int img_err(struct crix_err **err, enum img_err_kind kind, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
enum img_err_kind img_err_kind(const struct crix_err *e);
const char *img_err_kind_name(enum img_err_kind kind);
/* The kind named name, or -1. */
int img_err_kind_parse(const char *name);

/* ---- digests and blobs (blob.c) ---- */
/* NULL, or anything but "sha256:" + 64 lowercase hex digits, is EINVAL. */
int img_digest_check(const char *digest, struct crix_err **err);
/* "sha256:<hex>" of the finished context into out[IMG_DIGEST_LEN + 1]; -1 (out "") when
 * OpenSSL fails (out of memory). */
int img_digest_final(EVP_MD_CTX *ctx, char *out);
int img_digest_buf(const void *data, size_t len, char *out);
bool img_blob_exists(struct img_store *s, const char *digest);
/* Verifies the stored blob's digest (and size if size >= 0); a corrupted blob is deleted and
 * reported as missing (returns 0, *ok = false). */
int img_blob_verify(struct img_store *s, const char *digest, int64_t size, bool *ok, struct crix_err **err);
/* Reads a stored blob of at most max bytes, verifying its digest. ENOENT if missing. */
int img_blob_read(struct img_store *s, const char *digest, size_t max, char **data, size_t *len,
		  struct crix_err **err);
/* Stores data under its digest (atomically), unless an intact copy is there. */
int img_blob_write(struct img_store *s, const char *digest, const void *data, size_t len, struct crix_err **err);
/* A temp file under root/tmp (O_RDWR); path returned for rename/unlink. */
int img_tmp_file(struct img_store *s, const char *what, char **path, struct crix_err **err);
/* layers/<chain>/meta.json, written last when a layer is published. */
struct img_layer_meta {
	char chain_id[IMG_DIGEST_LEN + 1], diff_id[IMG_DIGEST_LEN + 1], digest[IMG_DIGEST_LEN + 1];
	uint64_t size; /* bytes of file content unpacked */
};
/* Reads and checks a layer's record (its chain_id must be the layer's): ENOENT when the layer
 * is not there, EINVAL naming the file and field when the record is damaged. */
int img_layer_meta_read(struct img_store *s, const char *chain_id, struct img_layer_meta *meta,
			struct crix_err **err);
/* The layer is complete: its record reads and checks (a damaged one is logged). */
bool img_layer_exists(struct img_store *s, const char *chain_id);

/* ---- shared jobs, pins and tokens (jobs.c) ---- */
/* Waits for and takes the exclusive lock of the job key (a layer's chain id) among all
 * processes and threads of the store: a flock on root/locks/<key>, which a process that dies
 * gives up. Returns the fd to pass to img_job_unlock. The holder checks whether the job is
 * still to do (another holder may have done it). */
int img_job_lock(struct img_store *s, const char *key, struct crix_err **err);
void img_job_unlock(struct img_store *s, const char *key, int fd);
/* The unexpired registry token cached under key (malloc'd), or NULL; caching one. */
char *img_token_get(struct img_store *s, const char *key);
void img_token_put(struct img_store *s, const char *key, const char *value, long expires_in);
/* Pins keys against garbage collection until img_pins_remove (a multiset: one pin each);
 * all or none (ENOMEM). */
int img_pins_add(struct img_store *s, const struct crix_strv *keys, struct crix_err **err);
void img_pins_remove(struct img_store *s, const struct crix_strv *keys);
void img_tokens_clear(struct img_store *s);
/* Records a pulled image (moving tags from other images), persists it; takes rec. */
int img_store_commit(struct img_store *s, struct img_record *rec, struct crix_err **err);

/* ---- reloadable settings (settings.c) ---- */
/* A copy of opts' reloadable settings (refs 1), or NULL when out of memory. */
struct img_settings *img_settings_new(const struct img_store_opts *opts);
void img_settings_free(struct img_settings *set);
/* The current settings, held until img_settings_put. */
struct img_settings *img_settings_get(struct img_store *s);
void img_settings_put(struct img_store *s, struct img_settings *set);
/* Settings as JSON (crix-pull's request; NULL when out of memory), and the store's settings
 * from that JSON. */
json_object *img_settings_to_json(const struct img_settings *set);
int img_store_use_settings_json(struct img_store *s, json_object *o, struct crix_err **err);

/* ---- records (records.c) ---- */
const struct img_record *img_find_locked(struct img_store *s, const char *name);
/* A record as JSON (the form of images/<id>.json and of crix-pull's commit; NULL when out of
 * memory) and back: every field is checked (EINVAL naming it), the id, layers and blobs being
 * digests. */
json_object *img_record_to_json(const struct img_record *r);
int img_record_from_json(json_object *o, struct img_record **out, struct crix_err **err);
/* Loads images/<hex>.json at open (damaged ones are reported and skipped, see records.c). */
int img_records_load(struct img_store *s, struct crix_err **err);
/* Writes images/<hex>.json of r. Caller holds the lock. */
int img_record_save(struct img_store *s, const struct img_record *r, struct crix_err **err);

/* ---- space (space.c) ---- */
/* Deletes the layers and blobs no record, pull in progress or prepared rootfs uses. */
int img_collect_garbage(struct img_store *s, struct crix_err **err);

/* ---- unpack (unpack.c) ---- */
enum img_compression { IMG_COMP_NONE, IMG_COMP_GZIP, IMG_COMP_ZSTD };
/* The compression a layer media type declares; -1 for an unsupported type. */
int img_media_compression(const char *media_type);
/* Who marks an opaque directory for overlayfs (trusted.overlay.opaque, which needs
 * CAP_SYS_ADMIN): mark(arg, dir, rel) for the directory rel below dir ("": dir itself). */
struct img_opaque_marker {
	int (*mark)(void *arg, const char *dir, const char *rel, struct crix_err **err);
	void *arg;
};
/* Unpacks the layer read from fd into dir (an existing empty directory), converting
 * whiteouts for overlayfs (opaque directories marked by marker; NULL: by this process);
 * every entry stays inside dir. The decompressed stream's digest is returned in diff_id;
 * *unpacked_size gets the bytes of file content written. */
int img_unpack(int fd, enum img_compression comp, const char *dir, const struct img_opaque_marker *marker,
	       char *diff_id, uint64_t *unpacked_size, struct crix_err **err);

/* ---- registry client (registry.c) ---- */
struct img_endpoint {
	char *name;     /* "127.0.0.1:5000/ns/repo" as addressed */
	char *host;     /* "127.0.0.1:5000", "registry-1.docker.io" */
	char *repo;     /* "ns/repo" */
	bool insecure;  /* plain HTTP */
	bool mirror;
};
struct img_creds {
	char *username, *password, *identity_token, *registry_token;
};
void img_creds_clear(struct img_creds *c);
int img_http_new(struct img_http **out, struct crix_err **err);
void img_http_free(struct img_http *h);

/* One registry conversation for one pull; shared by its download threads. */
struct img_client {
	struct img_store *store;
	const struct img_endpoint *ep;
	const struct img_creds *creds;
	const struct img_pull_ctl *ctl; /* may be NULL */
	const struct img_pull_host *host;
	pthread_mutex_t lock;
	char *authz; /* Authorization header value that worked last ("Bearer ...", "Basic ...") */
	bool plain_http; /* an insecure endpoint that did not speak TLS */
};
void img_client_init(struct img_client *c, struct img_store *s, const struct img_endpoint *ep,
		     const struct img_creds *creds);
void img_client_clear(struct img_client *c);
/* ECANCELED error if the pull was cancelled. */
int img_client_check_cancel(const struct img_client *c, struct crix_err **err);
/* GETs a manifest by tag or digest (at most IMG_MAX_MANIFEST bytes). */
int img_client_manifest(struct img_client *c, const char *reference, char **body, size_t *len,
			char **media_type, struct crix_err **err);
/* GETs a small blob into memory (at most max bytes). */
int img_client_blob_mem(struct img_client *c, const char *digest, size_t max, char **body, size_t *len,
			struct crix_err **err);
/* Streams a blob: each chunk goes to sink(arg, data, len), which returns 0 or -1 to abort
 * (with an error it keeps). A retried transfer calls restart(arg) first. */
struct img_blob_sink {
	int (*write)(void *arg, const void *data, size_t len);
	int (*restart)(void *arg);
	void *arg;
};
int img_client_blob(struct img_client *c, const char *digest, const struct img_blob_sink *sink,
		    struct crix_err **err);

/* ---- crix-pull's conversation with the store's owner (msg.c) ---- */
/* One JSON object per message; msg is not taken. */
int img_msg_send(int fd, json_object *msg, struct crix_err **err);
/* EPIPE when the peer closed the stream before a message. */
int img_msg_recv(int fd, json_object **out, struct crix_err **err);
/* o's member key if it is a string, else NULL. */
const char *img_json_str(json_object *o, const char *key);
/* {"error": message, "errno": n} (pull.c), and the error it says. */
json_object *img_error_json(const struct crix_err *e);
int img_error_from_json(json_object *o, struct crix_err **err);

/* ---- the pull crix-pull runs (fetch.c) ---- */
/* What a pull needs of the store's owner: pins of the blobs and layers it is about to fetch
 * (against garbage collection, held until the pull ends), its record (taken; crix-pull sends
 * it with its last message, the owner checks and commits it), and the registry tokens it
 * keeps across pulls (img_token_get/img_token_put). Called from any of the pull's threads. */
struct img_pull_host {
	int (*pin)(void *arg, const struct crix_strv *keys, struct crix_err **err);
	/* marks an opaque directory of a layer being unpacked (img_opaque_marker) */
	int (*mark_opaque)(void *arg, const char *dir, const char *rel, struct crix_err **err);
	int (*commit)(void *arg, struct img_record *rec, struct crix_err **err);
	char *(*token_get)(void *arg, const char *key);
	void (*token_put)(void *arg, const char *key, const char *value, long expires_in);
	void *arg;
};
int img_fetch(struct img_store *s, const char *ref, const struct img_auth *auth, const struct img_pull_ctl *ctl,
	      const struct img_pull_host *host, char **image_id, struct crix_err **err);

/* ---- what crix-pull reports, checked (pull_check.c) ---- */
/* The chain id of the layer diff_id on the layers whose chain id is parent (NULL: none);
 * -1 when OpenSSL fails. */
int img_chain_id(const char *parent, const char *diff_id, char *out);
/* The record crix-pull made for a pull of ref, as a record if it is one such a pull makes
 * (its config's digest is its id, its layers are the config's and in the store, its names
 * are ref's, ...); else an EPROTO error naming the member. */
int img_record_check(struct img_store *s, json_object *o, const struct img_ref *ref, struct img_record **out,
		     struct crix_err **err);

/* openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) of path below dirfd, close-on-exec. */
int img_open_beneath(int dirfd, const char *path, int flags);
/* Marks rel (below dir; "": dir) opaque for crix-pull, if dir is the diff/ of a layer being
 * unpacked under the store's tmp/ and rel stays below it. */
int img_mark_opaque_for_pull(struct img_store *s, const char *dir, const char *rel, struct crix_err **err);

/* ---- rootfs (rootfs.c) ---- */
int img_rootfs_load(struct img_store *s, struct crix_err **err);

#endif
