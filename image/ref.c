/* Image references, normalised the way docker and containerd do (distribution/reference). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crix_cleanup.h"
#include "img.h"
#include "img_internal.h"

#define NAME_MAX_LEN 255
#define TAG_MAX_LEN 128

static bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | -+ */
static const char *check_path_component(const char *s, size_t len)
{
	if (len == 0)
		return "empty path component";
	if (!is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
		return "path components must start and end with [a-z0-9]";
	for (size_t i = 0; i < len;) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < len && !is_lower_alnum(s[j]))
			j++;
		size_t n = j - i;
		const char *sep = s + i;
		bool ok = (n == 1 && (*sep == '.' || *sep == '_' || *sep == '-')) ||
			  (n == 2 && sep[0] == '_' && sep[1] == '_');
		if (!ok) {
			ok = true;
			for (size_t k = 0; k < n; k++)
				ok = ok && sep[k] == '-';
		}
		if (!ok)
			return "invalid separator in path component";
		i = j;
	}
	return NULL;
}

static bool is_domain_char(char c) { return isalnum((unsigned char)c) || c == '-'; }

static const char *check_domain(const char *s, size_t len)
{
	size_t host_len = len;
	const char *colon = memchr(s, ':', len);
	if (s[0] == '[') { /* [IPv6]:port */
		const char *end = memchr(s, ']', len);
		if (end == NULL)
			return "unterminated IPv6 address in domain";
		for (const char *p = s + 1; p < end; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':')
				return "invalid IPv6 address in domain";
		colon = end + 1 < s + len ? end + 1 : NULL;
		if (colon != NULL && *colon != ':')
			return "invalid domain";
		host_len = end + 1 - s;
	} else if (colon != NULL) {
		host_len = colon - s;
	}
	if (colon != NULL) {
		size_t plen = s + len - colon - 1;
		if (plen == 0 || plen > 5)
			return "invalid port in domain";
		for (size_t i = 1; i <= plen; i++)
			if (!isdigit((unsigned char)colon[i]))
				return "invalid port in domain";
	}
	if (s[0] == '[')
		return NULL;
	/* domain-component ('.' domain-component)*, each [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])? */
	size_t start = 0;
	for (size_t i = 0; i <= host_len; i++) {
		if (i < host_len && s[i] != '.') {
			if (!is_domain_char(s[i]))
				return "invalid character in domain";
			continue;
		}
		if (i == start || s[start] == '-' || s[i - 1] == '-')
			return "invalid domain component";
		start = i + 1;
	}
	return NULL;
}

static bool is_hex_string(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int img_digest_check(const char *digest, struct crix_err **err)
{
	if (digest == NULL)
		return crix_err_make(err, EINVAL, "invalid digest: none");
	if (strncmp(digest, "sha256:", 7) != 0)
		return crix_err_make(err, EINVAL, "invalid digest \"%s\": only sha256 is supported", digest);
	if (strlen(digest + 7) != 64 || !is_hex_string(digest + 7, 64))
		return crix_err_make(err, EINVAL, "invalid digest \"%s\": expected 64 lowercase hex digits",
				     digest);
	return 0;
}

static int fail(struct crix_err **err, const char *text, const char *why)
{
	return crix_err_make(err, EINVAL, "invalid reference \"%s\": %s", text, why);
}

int img_ref_parse(const char *text, struct img_ref *out, struct crix_err **err)
{
	memset(out, 0, sizeof(*out));
	if (text == NULL || *text == '\0')
		return crix_err_make(err, EINVAL, "invalid reference \"\": empty");
	_cleanup_free_ char *name = strdup(text);
	if (name == NULL)
		return crix_err_make(err, ENOMEM, "parse reference");
	_cleanup_free_ char *digest = NULL, *tag = NULL, *domain = NULL, *path = NULL;

	char *at = strchr(name, '@');
	if (at != NULL) {
		*at = '\0';
		_cleanup_err_ struct crix_err *derr = NULL;
		if (img_digest_check(at + 1, &derr) < 0)
			return fail(err, text, derr->msg);
		if ((digest = strdup(at + 1)) == NULL)
			return crix_err_make(err, ENOMEM, "parse reference");
	}
	char *slash = strrchr(name, '/');
	char *colon = strrchr(name, ':');
	if (colon != NULL && (slash == NULL || colon > slash)) {
		*colon = '\0';
		const char *t = colon + 1;
		size_t len = strlen(t);
		if (len == 0 || len > TAG_MAX_LEN)
			return fail(err, text, "tag must be 1 to 128 characters");
		if (!(isalnum((unsigned char)t[0]) || t[0] == '_'))
			return fail(err, text, "tag must start with [A-Za-z0-9_]");
		for (size_t i = 0; i < len; i++)
			if (!(isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
				return fail(err, text, "invalid character in tag");
		if ((tag = strdup(t)) == NULL)
			return crix_err_make(err, ENOMEM, "parse reference");
	}
	if (*name == '\0')
		return fail(err, text, "empty name");
	if (strlen(name) > NAME_MAX_LEN)
		return fail(err, text, "name longer than 255 characters");

	/* The first component is a domain if it looks like one (has '.' or ':', is localhost,
	 * or has upper case), as in distribution's splitDockerDomain. */
	const char *remainder = name;
	slash = strchr(name, '/');
	if (slash != NULL) {
		size_t n = slash - name;
		bool has_upper = false;
		for (size_t i = 0; i < n; i++)
			has_upper = has_upper || isupper((unsigned char)name[i]);
		if (memchr(name, '.', n) || memchr(name, ':', n) || (n == 9 && !strncmp(name, "localhost", 9)) ||
		    has_upper) {
			const char *why = check_domain(name, n);
			if (why != NULL)
				return fail(err, text, why);
			if ((domain = strndup(name, n)) == NULL)
				return crix_err_make(err, ENOMEM, "parse reference");
			remainder = slash + 1;
		}
	}
	if (domain == NULL || strcmp(domain, "index.docker.io") == 0) {
		free(domain);
		if ((domain = strdup("docker.io")) == NULL)
			return crix_err_make(err, ENOMEM, "parse reference");
	}
	for (const char *p = remainder; *p; p++)
		if (isupper((unsigned char)*p))
			return fail(err, text, "repository name must be lowercase");
	if (strcmp(domain, "docker.io") == 0 && strchr(remainder, '/') == NULL) {
		if (strlen(remainder) == 64 && is_hex_string(remainder, 64))
			return fail(err, text, "cannot specify 64-byte hexadecimal strings as a name");
		if (asprintf(&path, "library/%s", remainder) < 0)
			path = NULL;
	} else {
		path = strdup(remainder);
	}
	if (path == NULL)
		return crix_err_make(err, ENOMEM, "parse reference");
	for (const char *p = path;;) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		const char *why = check_path_component(p, len);
		if (why != NULL)
			return fail(err, text, why);
		if (e == NULL)
			break;
		p = e + 1;
	}
	if (tag == NULL && digest == NULL && (tag = strdup("latest")) == NULL)
		return crix_err_make(err, ENOMEM, "parse reference");
	out->domain = steal_ptr(domain);
	out->path = steal_ptr(path);
	out->tag = steal_ptr(tag);
	out->digest = steal_ptr(digest);
	return 0;
}

void img_ref_clear(struct img_ref *ref)
{
	free(ref->domain);
	free(ref->path);
	free(ref->tag);
	free(ref->digest);
	memset(ref, 0, sizeof(*ref));
}

char *img_ref_format(const struct img_ref *ref)
{
	char *s = NULL;
	if (asprintf(&s, "%s/%s%s%s%s%s", ref->domain, ref->path, ref->tag ? ":" : "", ref->tag ? ref->tag : "",
		     ref->digest ? "@" : "", ref->digest ? ref->digest : "") < 0)
		return NULL;
	return s;
}

int img_ref_normalize(const char *text, char **out, struct crix_err **err)
{
	struct img_ref ref;
	if (img_ref_parse(text, &ref, err) < 0)
		return -1;
	*out = img_ref_format(&ref);
	img_ref_clear(&ref);
	if (*out == NULL)
		return crix_err_make(err, ENOMEM, "format reference");
	return 0;
}
