/* crix image library: references, registry client, blob store, layer store, unpack, image
 * records and container root filesystems. Plain C types only (no protobuf).
 *
 * On disk, under opts.root:
 *   blobs/sha256/<hex>             content store, verified by digest
 *   layers/<chainid-hex>/diff/     unpacked layer (overlay whiteouts), meta.json
 *   images/<id-hex>.json           image records (id = config digest)
 *   containers/<id>/{upper,work,rootfs.json}   writable layer of a prepared rootfs
 *   tmp/                           downloads and unpacks in progress (emptied at open)
 *   locks/                         flocks of layer downloads shared by concurrent pulls
 *
 * Pulls run in the helper crix-pull (registry client, layer unpacker): the process that opened
 * the store never maps libcurl or libarchive, and a layer that crashes the unpacker fails
 * that pull only. The store's owner keeps the records, pins and garbage collection.
 *
 * Every function is safe to call from several threads at once on one store. */
#ifndef CRIX_IMG_H
#define CRIX_IMG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crix_err.h"

struct img_store;

/* Where to pull from: the mirrors of the registry entry whose prefix matches an image name
 * longest ("registry.k8s.io", "docker.io/library"), tried in order before the registry. */
struct img_mirror {
	char *location; /* "host[:port][/path]" that replaces the matched prefix */
	bool insecure;  /* plain HTTP / unverified TLS allowed */
};

struct img_registry {
	char *prefix;
	bool insecure;
	struct img_mirror *mirrors;
	size_t n_mirrors;
};

struct img_store_opts {
	const char *root;                /* required; created if missing */
	/* These can change later: see img_store_reload. */
	unsigned max_parallel_downloads; /* 0 = 3 */
	const char *auth_file;           /* docker config.json ("auths"); NULL or "" = none */
	const struct img_registry *registries; /* copied */
	size_t n_registries;
	/* A transfer slower than min_speed bytes/s for stall_timeout seconds is aborted, retried
	 * like a broken connection, and then fails the pull as stalled. 0 = 60 s, 16 KiB/s. */
	unsigned stall_timeout;
	unsigned min_speed;
	/* Directory of per-registry CA files: <certs_dir>/<host[:port]>/ca.crt (else any .crt there) is trusted for
	 * that registry in addition to the system store. NULL = /etc/crix/certs.d. */
	const char *certs_dir;
	/* The crix-pull program; NULL = the one installed beside the running program. */
	const char *pull_helper;
	/* Unpack a layer only after its download completed (instead of while streaming it);
	 * for benchmarks. */
	bool unpack_after_download;
};

/* Opens (creating if needed) the store at opts->root: removes leftovers of interrupted pulls
 * and unpacks, loads the image records. */
int img_store_open(const struct img_store_opts *opts, struct img_store **out, struct crix_err **err);
void img_store_close(struct img_store *store);

/* Applies opts' registries, n_registries, auth_file, max_parallel_downloads, stall_timeout and
 * min_speed (SIGHUP); the other fields are ignored. Pulls already running keep the settings they read at their start;
 * later pulls use the new ones. */
int img_store_reload(struct img_store *store, const struct img_store_opts *opts, struct crix_err **err);

/* ---- references ---- */

struct img_ref {
	char *domain; /* "docker.io", "127.0.0.1:5000" */
	char *path;   /* "library/busybox" */
	char *tag;    /* "latest"; NULL when only a digest was given */
	char *digest; /* "sha256:<64 hex>" or NULL */
};

/* Parses and normalises like docker/containerd: "busybox" -> docker.io/library/busybox:latest.
 * Errors (EINVAL) name the problem. */
int img_ref_parse(const char *text, struct img_ref *out, struct crix_err **err);
void img_ref_clear(struct img_ref *ref);
/* "domain/path[:tag][@digest]" (malloc'd). */
char *img_ref_format(const struct img_ref *ref);
/* Shorthand: the normalised string of text. */
int img_ref_normalize(const char *text, char **out, struct crix_err **err);

/* ---- pulling ---- */

/* Credentials for a pull (CRI AuthConfig). Any field may be NULL or "". */
struct img_auth {
	const char *username;
	const char *password;
	const char *auth; /* base64("user:password") */
	const char *server_address;
	const char *identity_token; /* OAuth2 refresh token for the registry's token server */
	const char *registry_token; /* bearer token sent as is */
};

/* Pulls ref (mirrors first, then the registry itself) in a crix-pull process and returns the
 * image id ("sha256:<hex>" of the config). Identical pulls at once share their layer
 * downloads. */
int img_pull(struct img_store *store, const char *ref, const struct img_auth *auth, char **image_id,
	     struct crix_err **err);

/* img_pull that can be cancelled: cancelled(arg) is polled during transfers and between
 * steps; once it returns true the pull stops with ECANCELED (layers finished so far stay). */
struct img_pull_ctl {
	bool (*cancelled)(void *arg);
	void *arg;
};
int img_pull_ex(struct img_store *store, const char *ref, const struct img_auth *auth,
		const struct img_pull_ctl *ctl, char **image_id, struct crix_err **err);

/* ---- image records ---- */

struct img_image {
	char *id; /* "sha256:<hex>" */
	char **repo_tags; /* "docker.io/library/busybox:latest" */
	size_t n_repo_tags;
	char **repo_digests; /* "docker.io/library/busybox@sha256:..." */
	size_t n_repo_digests;
	uint64_t size;      /* bytes of config + layer blobs */
	char *user;         /* config.User ("" if unset): "1000", "app", "1000:1000" */
	char *config_json;  /* the image config blob */
	char **layers;      /* chain ids, bottom first */
	size_t n_layers;
};

void img_image_free(struct img_image *image);
void img_image_list_free(struct img_image **images, size_t n);

/* By id ("sha256:<hex>", "<hex>" or a unique hex prefix), tag or digest reference.
 * An unknown image sets *out = NULL and returns 0. */
int img_status(struct img_store *store, const char *name, struct img_image **out, struct crix_err **err);

/* All images, or those matching filter (same forms as img_status) when filter is non-NULL
 * and non-empty. */
int img_list(struct img_store *store, const char *filter, struct img_image ***out, size_t *n,
	     struct crix_err **err);

/* Removes the image named by id, tag or digest, with all its tags (as CRI's RemoveImage wants:
 * removing repo/image:v1 also removes another/name:latest of the same image). Unknown images
 * are fine (idempotent).
 * Layers and blobs no longer used by any image or prepared rootfs are deleted. */
int img_remove(struct img_store *store, const char *name, struct crix_err **err);

struct img_fs_usage {
	char *mountpoint; /* directory the usage is measured under */
	uint64_t used_bytes;
	uint64_t inodes_used;
	int64_t timestamp_ns; /* CLOCK_REALTIME of the measurement */
};

/* Usage of the image store (blobs, layers, records) and of the containers' writable layers. */
int img_fs_info(struct img_store *store, struct img_fs_usage *images, struct img_fs_usage *containers,
		struct crix_err **err);
void img_fs_usage_clear(struct img_fs_usage *usage);

/* ---- container root filesystems ---- */

/* Mounts an overlay of image_id's layers (read-only lowers) with upper/work under
 * root/containers/<container_id>/ on target_dir (created if missing). The layers stay pinned
 * until img_rootfs_release, even when the image is removed. Preparing an already prepared
 * container mounts it again (after a reboot or a crixd restart). */
int img_rootfs_prepare(struct img_store *store, const char *container_id, const char *image_id,
		       const char *target_dir, struct crix_err **err);

/* Unmounts (if mounted) and deletes the container's writable layer; unpins its layers.
 * An unknown container is fine. */
int img_rootfs_release(struct img_store *store, const char *container_id, struct crix_err **err);

#endif
