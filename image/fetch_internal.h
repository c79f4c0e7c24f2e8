/* Internals of the pull crix-pull runs, shared by its files: where to pull from and with
 * which credentials (endpoint.c), manifests (manifest.c), layer downloads and unpacks
 * (layer_fetch.c), and the pull that ties them into an image record (fetch.c). */
#ifndef CRIX_FETCH_INTERNAL_H
#define CRIX_FETCH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "img_internal.h"

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

/* ---- endpoint.c ---- */
/* The mirrors of the longest matching registry prefix of name, in order, then the registry
 * itself. Free with img_endpoints_free. */
int img_endpoints_for(const struct img_settings *set, const char *name, struct img_endpoint **out, size_t *n,
		      struct crix_err **err);
void img_endpoints_free(struct img_endpoint *v, size_t n);
/* The credentials to present to ep (clear with img_creds_clear): the request's for the
 * registry the image is named after, else the auth file's entry for the host contacted. */
int img_creds_for(const struct img_settings *set, const struct img_endpoint *ep, const struct img_auth *a,
		  struct img_creds *c, struct crix_err **err);

/* ---- manifest.c ---- */
bool img_mt_is_index(const char *media_type);
bool img_mt_is_manifest(const char *media_type);
/* Fetches a manifest by tag or digest, verifies the digest when want_digest is set, stores
 * it as a blob; its digest into digest[IMG_DIGEST_LEN + 1] and its media type (malloc'd). */
int img_fetch_manifest(struct img_client *c, const char *reference, const char *want_digest, json_object **out,
		       char *digest, char **media_type, struct crix_err **err);
/* From an index, the digest of the manifest for this machine's linux platform. */
int img_pick_platform(json_object *index, char *digest, struct crix_err **err);

/* ---- layer_fetch.c ---- */
struct img_layer {
	char digest[IMG_DIGEST_LEN + 1];
	char diff_id[IMG_DIGEST_LEN + 1];
	char chain_id[IMG_DIGEST_LEN + 1];
	int64_t size;
	int comp;
};
/* Downloads and unpacks the layers not in the store yet, max_parallel at a time. */
int img_fetch_layers(unsigned max_parallel, struct img_client *c, struct img_layer *layers, size_t n,
		     struct crix_err **err);

#endif
