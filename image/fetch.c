/* The pull as crix-pull runs it: for each endpoint (mirrors, then the registry) with its
 * credentials, the manifest (an index resolved to this platform), the config, the layers,
 * then the image record, which the store's owner checks and commits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "crix_cleanup.h"
#include "crix_log.h"
#include "fetch_internal.h"

/* The config from the store if it verifies, else from the registry (then stored). */
static int fetch_config(struct img_client *c, const char *digest, char **text, size_t *len, struct crix_err **err)
{
	if (img_blob_read(c->store, digest, IMG_MAX_CONFIG, text, len, NULL) == 0)
		return 0;
	char got[IMG_DIGEST_LEN + 1];
	if (img_client_blob_mem(c, digest, IMG_MAX_CONFIG, text, len, err) < 0)
		return -1;
	if (img_digest_buf(*text, *len, got) < 0)
		return crix_err_make(err, ENOMEM, "config blob %s: sha256", digest);
	if (strcmp(got, digest) != 0)
		return img_err(err, IMG_ERR_CORRUPT, EIO, "config blob %s: content has digest %s", digest, got);
	return img_blob_write(c->store, digest, *text, *len, err);
}

/* The layers the manifest lists, with the config's diff_ids and their chain ids. */
static int read_layers(json_object *jlayers, json_object *diff_ids, const char *man_digest,
		       struct img_layer **out, size_t *count, struct crix_err **err)
{
	size_t n = json_object_array_length(jlayers);
	if (json_object_array_length(diff_ids) != n)
		return img_err(err, IMG_ERR_PROTOCOL, EPROTO, "the config lists %zu layers, the manifest %zu",
			       json_object_array_length(diff_ids), n);
	struct img_layer *layers = calloc(n ? n : 1, sizeof(*layers));
	if (layers == NULL)
		return crix_err_make(err, ENOMEM, "layers");
	for (size_t i = 0; i < n; i++) {
		json_object *jl = json_object_array_get_idx(jlayers, i), *v;
		const char *d = img_json_str(jl, "digest"), *mt = img_json_str(jl, "mediaType");
		json_object *jdiff = json_object_array_get_idx(diff_ids, i);
		const char *diff = json_object_is_type(jdiff, json_type_string) ? json_object_get_string(jdiff) : NULL;
		if (d == NULL || img_digest_check(d, NULL) < 0 || diff == NULL || img_digest_check(diff, NULL) < 0 ||
		    !json_object_object_get_ex(jl, "size", &v) || !json_object_is_type(v, json_type_int)) {
			free(layers);
			return img_err(err, IMG_ERR_PROTOCOL, EPROTO,
				       "manifest %s: layer %zu has no valid digest, size or diff_id", man_digest, i);
		}
		struct img_layer *l = &layers[i];
		snprintf(l->digest, sizeof(l->digest), "%s", d);
		snprintf(l->diff_id, sizeof(l->diff_id), "%s", diff);
		l->size = json_object_get_int64(v);
		l->comp = img_media_compression(mt);
		if (l->comp < 0 || l->size < 0) {
			free(layers);
			return img_err(err, IMG_ERR_UNSUPPORTED, ENOTSUP, "layer %s: unsupported media type \"%s\"", d,
				       mt ? mt : "");
		}
		if (img_chain_id(i == 0 ? NULL : layers[i - 1].chain_id, l->diff_id, l->chain_id) < 0) {
			free(layers);
			return crix_err_make(err, ENOMEM, "chain id");
		}
	}
	*out = layers;
	*count = n;
	return 0;
}

/* The record of what was pulled: names from the reference, the blobs it keeps (manifests,
 * config; the layer blobs are pinned but not kept), the layers' chain ids. */
static int make_record(const char *name, const struct img_ref *ref, const char *top_digest, const char *config_digest,
		       const char *cfg_text, json_object *cfg, const struct img_layer *layers, size_t n,
		       const struct crix_strv *pins, uint64_t size, struct img_record **out, struct crix_err **err)
{
	struct img_record *rec = calloc(1, sizeof(*rec));
	if (rec == NULL)
		return crix_err_make(err, ENOMEM, "image record");
	struct img_image *im = &rec->img;
	json_object *cc;
	const char *user = json_object_object_get_ex(cfg, "config", &cc) ? img_json_str(cc, "User") : NULL;
	_cleanup_free_ char *tag = NULL, *rd = NULL;
	bool ok = asprintf(&rd, "%s@%s", name, top_digest) > 0 && crix_strv_append(&im->repo_digests, rd) == 0;
	im->n_repo_digests = crix_strv_len(im->repo_digests);
	if (ok && ref->tag && !ref->digest)
		ok = asprintf(&tag, "%s:%s", name, ref->tag) > 0 && crix_strv_append(&im->repo_tags, tag) == 0;
	im->n_repo_tags = crix_strv_len(im->repo_tags);
	for (size_t i = 0; ok && i < n; i++)
		ok = crix_strv_append(&im->layers, layers[i].chain_id) == 0;
	im->n_layers = crix_strv_len(im->layers);
	struct crix_strv chain = {.v = im->layers, .n = im->n_layers};
	for (size_t i = 0; ok && i < pins->n; i++)
		if (!crix_strv_has(&rec->blobs, pins->v[i]) && !crix_strv_has(&chain, pins->v[i]))
			ok = crix_strv_add(&rec->blobs, pins->v[i]) == 0;
	/* an image with no tag or layer still needs NULL-terminated arrays */
	ok = ok && (im->repo_tags != NULL || (im->repo_tags = calloc(1, sizeof(char *))) != NULL);
	ok = ok && (im->layers != NULL || (im->layers = calloc(1, sizeof(char *))) != NULL);
	ok = ok && (im->id = strdup(config_digest)) != NULL && (im->user = strdup(user ? user : "")) != NULL &&
	     (im->config_json = strdup(cfg_text)) != NULL;
	im->size = size;
	if (!ok) {
		img_record_free(rec);
		return crix_err_make(err, ENOMEM, "image record");
	}
	*out = rec;
	return 0;
}

static int pull_from(const struct img_settings *set, const struct img_pull_host *host, const struct img_ref *ref,
		     const char *name, struct img_client *c, char **image_id, struct crix_err **err)
{
	json_object *top = NULL, *man = NULL, *cfg = NULL;
	_cleanup_free_ char *top_mt = NULL, *man_mt = NULL, *cfg_text = NULL;
	char top_digest[IMG_DIGEST_LEN + 1], man_digest[IMG_DIGEST_LEN + 1];
	struct img_layer *layers = NULL;
	size_t n = 0;
	struct crix_strv pins = {0};
	int rc = -1;
	if (img_fetch_manifest(c, ref->digest ? ref->digest : ref->tag, ref->digest, &top, top_digest, &top_mt, err) < 0)
		goto out;
	man = top;
	snprintf(man_digest, sizeof(man_digest), "%s", top_digest);
	if (img_mt_is_index(top_mt)) {
		char want[IMG_DIGEST_LEN + 1];
		if (img_pick_platform(top, want, err) < 0 ||
		    img_fetch_manifest(c, want, want, &man, man_digest, &man_mt, err) < 0)
			goto out;
		if (!img_mt_is_manifest(man_mt)) {
			img_err(err, IMG_ERR_UNSUPPORTED, ENOTSUP, "manifest %s: unsupported media type \"%s\"", want,
				man_mt);
			goto out;
		}
	} else if (!img_mt_is_manifest(top_mt)) {
		img_err(err, IMG_ERR_UNSUPPORTED, ENOTSUP, "manifest: unsupported media type \"%s\"", top_mt);
		goto out;
	}
	json_object *config, *jlayers, *rootfs, *diff_ids;
	const char *config_digest;
	if (!json_object_object_get_ex(man, "config", &config) || (config_digest = img_json_str(config, "digest")) == NULL ||
	    img_digest_check(config_digest, NULL) < 0 || !json_object_object_get_ex(man, "layers", &jlayers) ||
	    !json_object_is_type(jlayers, json_type_array)) {
		img_err(err, IMG_ERR_PROTOCOL, EPROTO, "manifest %s: missing or invalid config or layers", man_digest);
		goto out;
	}
	size_t cfg_len = 0;
	if (fetch_config(c, config_digest, &cfg_text, &cfg_len, err) < 0)
		goto out;
	cfg = json_tokener_parse(cfg_text);
	if (cfg == NULL || !json_object_object_get_ex(cfg, "rootfs", &rootfs) ||
	    !json_object_object_get_ex(rootfs, "diff_ids", &diff_ids) || !json_object_is_type(diff_ids, json_type_array)) {
		img_err(err, IMG_ERR_PROTOCOL, EPROTO, "config %s: no rootfs.diff_ids", config_digest);
		goto out;
	}
	if (read_layers(jlayers, diff_ids, man_digest, &layers, &n, err) < 0) {
		crix_err_wrap(err, "config %s", config_digest);
		goto out;
	}
	uint64_t size = cfg_len;
	bool ok = true;
	for (size_t i = 0; ok && i < n; i++) {
		size += (uint64_t)layers[i].size;
		ok = crix_strv_add(&pins, layers[i].digest) == 0 && crix_strv_add(&pins, layers[i].chain_id) == 0;
	}
	if (!ok || crix_strv_add(&pins, top_digest) < 0 || crix_strv_add(&pins, man_digest) < 0 ||
	    crix_strv_add(&pins, config_digest) < 0) {
		crix_err_make(err, ENOMEM, "pins");
		goto out;
	}
	struct img_record *rec = NULL;
	if (host->pin(host->arg, &pins, err) < 0 || img_fetch_layers(set->max_parallel, c, layers, n, err) < 0 ||
	    make_record(name, ref, top_digest, config_digest, cfg_text, cfg, layers, n, &pins, size, &rec, err) < 0)
		goto out;
	if ((*image_id = strdup(config_digest)) == NULL) {
		img_record_free(rec);
		crix_err_make(err, ENOMEM, "pull");
		goto out;
	}
	if (host->commit(host->arg, rec, err) < 0) {
		free(steal_ptr(*image_id));
		goto out;
	}
	rc = 0;
out:
	crix_strv_clear(&pins);
	free(layers);
	if (man != top)
		json_object_put(man);
	json_object_put(top);
	json_object_put(cfg);
	return rc;
}

int img_fetch(struct img_store *s, const char *text, const struct img_auth *auth, const struct img_pull_ctl *ctl,
	      const struct img_pull_host *host, char **image_id, struct crix_err **err)
{
	struct img_ref ref;
	if (img_ref_parse(text, &ref, err) < 0)
		return -1;
	_cleanup_free_ char *full = img_ref_format(&ref), *name = NULL;
	struct img_endpoint *eps = NULL;
	size_t n = 0;
	int rc = -1;
	/* one snapshot for the whole pull: a reload meanwhile applies to later pulls */
	struct img_settings *set = img_settings_get(s);
	if (full == NULL || asprintf(&name, "%s/%s", ref.domain, ref.path) < 0) {
		crix_err_make(err, ENOMEM, "pull %s", text);
		goto out;
	}
	if (img_endpoints_for(set, name, &eps, &n, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct img_creds creds;
		crix_err_free(err);
		if (img_creds_for(set, &eps[i], auth, &creds, err) < 0)
			break;
		struct img_client c;
		img_client_init(&c, s, &eps[i], &creds);
		c.ctl = ctl;
		c.host = host;
		rc = pull_from(set, host, &ref, name, &c, image_id, err);
		img_client_clear(&c);
		img_creds_clear(&creds);
		if (rc == 0) {
			crix_err_free(err); /* what a retry left */
			crix_info("fetched %s from %s: %s", full, eps[i].name, *image_id);
			break;
		}
		if (img_err_kind(*err) == IMG_ERR_CANCELLED)
			break;
		if (eps[i].mirror)
			crix_warn("pull %s from mirror %s: %s", full, eps[i].name, crix_err_msg(*err));
	}
	if (rc < 0)
		crix_err_wrap(err, "pull %s", full);
out:
	img_endpoints_free(eps, n);
	img_settings_put(s, set);
	img_ref_clear(&ref);
	return rc;
}
