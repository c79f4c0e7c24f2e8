/* Credentials for an endpoint (img_creds_for): the request's or the auth file's, and never an
 * anonymous pull instead when a copy of them cannot be made. strdup is wrapped at link time
 * (-Wl,--wrap=strdup) so that the copies can be made to fail. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crix_file.h"
#include "fetch_internal.h"
#include "img_check.h"

static bool strdup_fails;
char *__real_strdup(const char *s);
char *__wrap_strdup(const char *s);
char *__wrap_strdup(const char *s)
{
	if (strdup_fails) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_strdup(s);
}

struct creds_case {
	const char *what;
	struct img_auth auth; /* NULL fields: from the auth file */
	bool use_request;
	const char *user, *password, *identity; /* expected */
};

int main(void)
{
	char dir[] = "/tmp/crix-test-endpoint-XXXXXX";
	if (mkdtemp(dir) == NULL)
		return 1;
	char auth_file[4200];
	snprintf(auth_file, sizeof(auth_file), "%s/auth.json", dir);
	const char *file = "{\"auths\":{\"https://reg.example/v1/\":{\"username\":\"fu\",\"password\":\"fp\","
			   "\"identitytoken\":\"fi\"}}}";
	if (crix_write_file_atomic(auth_file, file, strlen(file), 0600, CRIX_WRITE_VOLATILE, NULL) < 0)
		return 1;
	struct img_settings set = {.auth_file = auth_file};
	struct img_endpoint ep = {.name = "reg.example/x", .host = "reg.example", .repo = "x"};
	const struct creds_case cases[] = {
		{"user and password", {.username = "u", .password = "p"}, true, "u", "p", NULL},
		{"auth", {.auth = "dTpw"}, true, "u", "p", NULL}, /* base64("u:p") */
		{"identity token", {.identity_token = "it"}, true, NULL, NULL, "it"},
		{"auth file", {0}, false, "fu", "fp", "fi"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct creds_case *k = &cases[i];
		struct img_creds c;
		struct crix_err *err = NULL;
		strdup_fails = false;
		int rc = img_creds_for(&set, &ep, k->use_request ? &k->auth : NULL, &c, &err);
		CHECK(rc == 0 && (k->user == NULL ? c.username == NULL : c.username && !strcmp(c.username, k->user)) &&
			      (k->password == NULL || (c.password && !strcmp(c.password, k->password))) &&
			      (k->identity == NULL ? c.identity_token == NULL
						   : c.identity_token && !strcmp(c.identity_token, k->identity)),
		      "%s: %s", k->what, crix_err_msg(err));
		img_creds_clear(&c);
		crix_err_free(&err);
		/* the copies fail: an error, not an anonymous pull */
		strdup_fails = true;
		rc = img_creds_for(&set, &ep, k->use_request ? &k->auth : NULL, &c, &err);
		strdup_fails = false;
		CHECK(rc < 0 && err && err->errnum == ENOMEM, "%s, out of memory: rc %d (%s), user %s", k->what, rc,
		      crix_err_msg(err), c.username ? c.username : "(none)");
		CHECK(c.username == NULL && c.password == NULL && c.identity_token == NULL && c.registry_token == NULL,
		      "%s, out of memory: credentials half made", k->what);
		img_creds_clear(&c);
		crix_err_free(&err);
	}
	/* an "auth" that is not base64 of user:password is the caller's mistake */
	struct img_creds c;
	struct crix_err *err = NULL;
	struct img_auth bad = {.auth = "bm9jb2xvbg=="}; /* "nocolon" */
	CHECK(img_creds_for(&set, &ep, &bad, &c, &err) < 0 && err && err->errnum == EINVAL, "bad auth: %s",
	      crix_err_msg(err));
	crix_err_free(&err);
	unlink(auth_file);
	rmdir(dir);
	return failures ? 1 : 0;
}
