/* Where a pull goes (the mirrors of the image's registry, then the registry) and which
 * credentials it presents there: the request's AuthConfig or the auth file's entry. A copy
 * that cannot be made fails the pull (ENOMEM) rather than going on anonymously. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_log.h"
#include "fetch_internal.h"

static void endpoint_clear(struct img_endpoint *ep)
{
	free(ep->name);
	free(ep->host);
	free(ep->repo);
	memset(ep, 0, sizeof(*ep));
}

void img_endpoints_free(struct img_endpoint *v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		endpoint_clear(&v[i]);
	free(v);
}

/* 0, -1 when name has no repository part, -2 out of memory. */
static int endpoint_set(struct img_endpoint *ep, const char *name, bool insecure, bool mirror)
{
	size_t n = strcspn(name, "/");
	if (name[n] != '/')
		return -1;
	ep->name = strdup(name);
	ep->host = strcmp(name, "docker.io") == 0 || strncmp(name, "docker.io/", 10) == 0
			   ? strdup("registry-1.docker.io")
			   : strndup(name, n);
	ep->repo = strdup(name + n + 1);
	ep->insecure = insecure;
	ep->mirror = mirror;
	if (ep->name && ep->host && ep->repo)
		return 0;
	endpoint_clear(ep);
	return -2;
}

int img_endpoints_for(const struct img_settings *set, const char *name, struct img_endpoint **out, size_t *n,
		      struct crix_err **err)
{
	const struct img_registry *best = NULL;
	size_t best_len = 0;
	for (size_t i = 0; i < set->n; i++) {
		const char *p = set->v[i].prefix;
		size_t len = strlen(p);
		while (len > 0 && p[len - 1] == '/')
			len--;
		if (len == 0 || strncmp(name, p, len) != 0 || (name[len] != '\0' && name[len] != '/'))
			continue;
		if (best == NULL || len > best_len) {
			best = &set->v[i];
			best_len = len;
		}
	}
	size_t count = (best ? best->n_mirrors : 0) + 1, k = 0;
	struct img_endpoint *v = calloc(count, sizeof(*v));
	int rc = v ? 0 : -1;
	for (size_t i = 0; rc == 0 && best && i < best->n_mirrors; i++) {
		_cleanup_free_ char *mname = NULL;
		const char *loc = best->mirrors[i].location;
		size_t ll = strlen(loc);
		while (ll > 0 && loc[ll - 1] == '/')
			ll--;
		int set_rc = asprintf(&mname, "%.*s%s", (int)ll, loc, name + best_len) < 0
				     ? -2
				     : endpoint_set(&v[k], mname, best->mirrors[i].insecure, true);
		if (set_rc == -2)
			rc = -1;
		else if (set_rc < 0)
			crix_warn("mirror %s of %s: cannot address %s, skipped", loc, best->prefix, mname);
		else
			k++;
	}
	if (rc == 0 && endpoint_set(&v[k++], name, best ? best->insecure : false, false) < 0)
		rc = -1;
	if (rc < 0) {
		img_endpoints_free(v, count);
		return crix_err_make(err, ENOMEM, "registry endpoints");
	}
	*out = v;
	*n = k;
	return 0;
}

/* base64 text into *out (NUL-terminated): -1 out of memory, -2 not base64. */
static int b64_decode(const char *in, char **out)
{
	size_t n = strlen(in);
	unsigned char *buf = malloc(n / 4 * 3 + 4);
	if (buf == NULL)
		return -1;
	int len = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)n);
	if (len < 0) {
		free(buf);
		return -2;
	}
	while (n > 0 && in[n - 1] == '=') { /* DecodeBlock counts padding as zero bytes */
		n--;
		len--;
	}
	buf[len] = '\0';
	*out = (char *)buf;
	return 0;
}

static bool nonempty(const char *s) { return s != NULL && *s != '\0'; }

/* *dst = a copy of src when src is non-empty; ENOMEM if the copy cannot be made. */
static int copy_secret(char **dst, const char *src, struct crix_err **err)
{
	if (!nonempty(src))
		return 0;
	if ((*dst = strdup(src)) == NULL)
		return crix_err_make(err, ENOMEM, "credentials");
	return 0;
}

/* From "auth" (base64 user:password) if given, else from user and pass. EINVAL for an auth
 * that does not decode to user:password. */
static int creds_from_userpass(struct img_creds *c, const char *user, const char *pass, const char *auth,
			       struct crix_err **err)
{
	if (nonempty(auth)) {
		_cleanup_free_ char *plain = NULL;
		int dec = b64_decode(auth, &plain);
		if (dec == -1)
			return crix_err_make(err, ENOMEM, "credentials");
		char *colon = dec == 0 ? strchr(plain, ':') : NULL;
		if (colon == NULL)
			return crix_err_make(err, EINVAL, "invalid \"auth\" in the credentials");
		*colon = '\0';
		int rc = 0;
		if ((c->username = strdup(plain)) == NULL || (c->password = strdup(colon + 1)) == NULL)
			rc = crix_err_make(err, ENOMEM, "credentials");
		OPENSSL_cleanse(plain, strlen(plain) + 1 + strlen(colon + 1));
		return rc;
	}
	if (!nonempty(user))
		return 0;
	if (copy_secret(&c->username, user, err) < 0)
		return -1;
	if ((c->password = strdup(pass ? pass : "")) == NULL)
		return crix_err_make(err, ENOMEM, "credentials");
	return 0;
}

/* "https://index.docker.io/v1/" -> "index.docker.io" */
static bool auth_key_matches(const char *key, const char *host)
{
	const char *k = strstr(key, "://");
	k = k ? k + 3 : key;
	size_t n = strcspn(k, "/");
	if (strlen(host) == n && strncmp(k, host, n) == 0)
		return true;
	bool key_hub = (n == 15 && !strncmp(k, "index.docker.io", n)) || (n == 9 && !strncmp(k, "docker.io", n)) ||
		       (n == 20 && !strncmp(k, "registry-1.docker.io", n));
	return key_hub && strcmp(host, "registry-1.docker.io") == 0;
}

/* The auth file's entry for host; a missing or unreadable file means no credentials. */
static int creds_from_auth_file(const char *auth_file, const char *host, struct img_creds *c, struct crix_err **err)
{
	if (auth_file[0] == '\0')
		return 0;
	_cleanup_free_ char *text = NULL;
	_cleanup_err_ struct crix_err *rerr = NULL;
	if (crix_read_file(auth_file, 4 << 20, &text, NULL, &rerr) < 0) {
		crix_warn("auth file: %s", crix_err_msg(rerr));
		return 0;
	}
	json_object *o = json_tokener_parse(text), *auths;
	OPENSSL_cleanse(text, strlen(text));
	if (o == NULL || !json_object_object_get_ex(o, "auths", &auths) || !json_object_is_type(auths, json_type_object)) {
		if (o == NULL)
			crix_warn("auth file %s: not JSON", auth_file);
		json_object_put(o);
		return 0;
	}
	int rc = 0;
	json_object_object_foreach(auths, key, entry)
	{
		if (!auth_key_matches(key, host) || !json_object_is_type(entry, json_type_object))
			continue;
		_cleanup_err_ struct crix_err *perr = NULL;
		rc = creds_from_userpass(c, img_json_str(entry, "username"), img_json_str(entry, "password"),
					 img_json_str(entry, "auth"), &perr);
		if (rc < 0 && perr->errnum == EINVAL) {
			crix_warn("auth file %s: entry for %s has an invalid \"auth\"", auth_file, key);
			rc = 0;
		} else if (rc < 0) {
			*err = steal_ptr(perr);
		}
		if (rc == 0)
			rc = copy_secret(&c->identity_token, img_json_str(entry, "identitytoken"), err);
		if (rc == 0)
			rc = copy_secret(&c->registry_token, img_json_str(entry, "registrytoken"), err);
		break;
	}
	json_object_put(o);
	return rc;
}

/* The request's AuthConfig goes to the registry the image is named after (and to a mirror
 * only when its server_address names that mirror); the auth file is looked up by the host
 * actually contacted. Credentials are never sent to a host they were not given for. */
int img_creds_for(const struct img_settings *set, const struct img_endpoint *ep, const struct img_auth *a,
		  struct img_creds *c, struct crix_err **err)
{
	memset(c, 0, sizeof(*c));
	bool use_request = false;
	if (a != NULL) {
		if (!ep->mirror)
			use_request = true;
		else if (nonempty(a->server_address))
			use_request = auth_key_matches(a->server_address, ep->host);
	}
	int rc;
	if (use_request && (nonempty(a->username) || nonempty(a->auth) || nonempty(a->identity_token) ||
			    nonempty(a->registry_token))) {
		rc = creds_from_userpass(c, a->username, a->password, a->auth, err);
		if (rc == 0)
			rc = copy_secret(&c->identity_token, a->identity_token, err);
		if (rc == 0)
			rc = copy_secret(&c->registry_token, a->registry_token, err);
	} else {
		rc = creds_from_auth_file(set->auth_file, ep->host, c, err);
	}
	if (rc < 0)
		img_creds_clear(c);
	return rc;
}
