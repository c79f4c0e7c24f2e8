/* Manifests: fetched by tag or digest and verified, stored as blobs; an index resolved to
 * the manifest of this machine's platform. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "crix_cleanup.h"
#include "fetch_internal.h"

bool img_mt_is_index(const char *mt) { return !strcmp(mt, MT_OCI_INDEX) || !strcmp(mt, MT_DOCKER_LIST); }

bool img_mt_is_manifest(const char *mt) { return !strcmp(mt, MT_OCI_MANIFEST) || !strcmp(mt, MT_DOCKER_MANIFEST); }

static void this_platform(const char **arch, const char **variant)
{
	static __thread struct utsname u;
	uname(&u);
	*variant = NULL;
	if (!strcmp(u.machine, "x86_64"))
		*arch = "amd64";
	else if (!strcmp(u.machine, "aarch64")) {
		*arch = "arm64";
		*variant = "v8";
	} else if (!strncmp(u.machine, "armv7", 5)) {
		*arch = "arm";
		*variant = "v7";
	} else if (!strncmp(u.machine, "armv6", 5)) {
		*arch = "arm";
		*variant = "v6";
	} else if (!strcmp(u.machine, "i686") || !strcmp(u.machine, "i386"))
		*arch = "386";
	else
		*arch = u.machine; /* ppc64le, s390x, riscv64 match GOARCH */
}

/* An exact variant beats an entry without one; never just the first entry. */
int img_pick_platform(json_object *index, char *digest, struct crix_err **err)
{
	const char *arch, *variant;
	this_platform(&arch, &variant);
	json_object *list;
	if (!json_object_object_get_ex(index, "manifests", &list) || !json_object_is_type(list, json_type_array))
		return img_err(err, IMG_ERR_PROTOCOL, EPROTO, "index without manifests");
	int best = -1, best_score = 0;
	char have[512] = "";
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *m = json_object_array_get_idx(list, i), *p;
		if (!json_object_object_get_ex(m, "platform", &p))
			continue;
		const char *os = img_json_str(p, "os"), *a = img_json_str(p, "architecture"), *v = img_json_str(p, "variant");
		size_t hl = strlen(have);
		snprintf(have + hl, sizeof(have) - hl, "%s%s/%s%s%s", hl ? ", " : "", os ? os : "?", a ? a : "?",
			 v ? "/" : "", v ? v : "");
		if (os == NULL || a == NULL || strcmp(os, "linux") != 0 || strcmp(a, arch) != 0)
			continue;
		int score = v == NULL ? 1 : (variant && !strcmp(v, variant)) ? 2 : 0;
		if (score > best_score) {
			best = (int)i;
			best_score = score;
		}
	}
	if (best < 0)
		return img_err(err, IMG_ERR_NOT_FOUND, ENOENT, "no image for linux/%s%s%s in the index (it has %s)", arch,
			       variant ? "/" : "", variant ? variant : "", have[0] ? have : "no platforms");
	const char *d = img_json_str(json_object_array_get_idx(list, best), "digest");
	if (d == NULL || img_digest_check(d, NULL) < 0)
		return img_err(err, IMG_ERR_PROTOCOL, EPROTO, "index entry for linux/%s has no valid digest", arch);
	snprintf(digest, IMG_DIGEST_LEN + 1, "%s", d);
	return 0;
}

int img_fetch_manifest(struct img_client *c, const char *reference, const char *want_digest, json_object **out,
		       char *digest, char **media_type, struct crix_err **err)
{
	_cleanup_free_ char *body = NULL, *ct = NULL;
	size_t len = 0;
	if (img_client_manifest(c, reference, &body, &len, &ct, err) < 0)
		return -1;
	if (img_digest_buf(body, len, digest) < 0)
		return crix_err_make(err, ENOMEM, "manifest %s: sha256", reference);
	if (want_digest != NULL && strcmp(digest, want_digest) != 0)
		return img_err(err, IMG_ERR_CORRUPT, EIO, "manifest %s: content has digest %s", want_digest, digest);
	json_object *o = json_tokener_parse(body);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return img_err(err, IMG_ERR_PROTOCOL, EPROTO, "manifest %s: not a JSON object", reference);
	}
	json_object *v;
	if (json_object_object_get_ex(o, "schemaVersion", &v) && json_object_get_int(v) == 1) {
		json_object_put(o);
		return img_err(err, IMG_ERR_UNSUPPORTED, ENOTSUP,
			       "manifest %s is Docker schema 1, which is not supported (push it again as "
			       "schema 2 or OCI)",
			       reference);
	}
	/* mediaType is optional in OCI manifests; registries may say application/json */
	const char *mt = img_json_str(o, "mediaType");
	if (mt == NULL && !img_mt_is_index(ct) && !img_mt_is_manifest(ct))
		mt = json_object_object_get_ex(o, "manifests", &v) ? MT_OCI_INDEX
		     : json_object_object_get_ex(o, "layers", &v)  ? MT_OCI_MANIFEST
								   : NULL;
	if ((*media_type = strdup(mt ? mt : ct)) == NULL) {
		json_object_put(o);
		return crix_err_make(err, ENOMEM, "manifest %s", reference);
	}
	if (img_blob_write(c->store, digest, body, len, err) < 0) {
		json_object_put(o);
		free(steal_ptr(*media_type));
		return -1;
	}
	*out = o;
	return 0;
}
