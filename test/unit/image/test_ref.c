/* Reference parsing and normalisation against a table (docker/containerd behaviour). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img.h"

#define D64 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const struct {
	const char *in;
	const char *out; /* NULL: must fail with EINVAL and this substring in the message */
	const char *why;
} cases[] = {
	{"busybox", "docker.io/library/busybox:latest", NULL},
	{"busybox:1.36", "docker.io/library/busybox:1.36", NULL},
	{"library/busybox", "docker.io/library/busybox:latest", NULL},
	{"docker.io/busybox", "docker.io/library/busybox:latest", NULL},
	{"index.docker.io/library/busybox:1", "docker.io/library/busybox:1", NULL},
	{"user/app", "docker.io/user/app:latest", NULL},
	{"registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9", NULL},
	{"registry.k8s.io/e2e-test-images/busybox:1.29-2", "registry.k8s.io/e2e-test-images/busybox:1.29-2", NULL},
	{"127.0.0.1:5000/ns/name:tag", "127.0.0.1:5000/ns/name:tag", NULL},
	{"localhost/app", "localhost/app:latest", NULL},
	{"localhost:5000/app", "localhost:5000/app:latest", NULL},
	{"Example.COM/app", "Example.COM/app:latest", NULL},
	{"[::1]:5000/app:v1", "[::1]:5000/app:v1", NULL},
	{"quay.io/a/b/c/d:v1.2_3-rc", "quay.io/a/b/c/d:v1.2_3-rc", NULL},
	{"a__b/c.d/e--f", "docker.io/a__b/c.d/e--f:latest", NULL},
	{"busybox@" D64, "docker.io/library/busybox@" D64, NULL},
	{"busybox:1.36@" D64, "docker.io/library/busybox:1.36@" D64, NULL},
	{"host:5000/x@" D64, "host:5000/x@" D64, NULL},
	{"", NULL, "empty"},
	{"BusyBox", NULL, "must be lowercase"},
	{"docker.io/Library/busybox", NULL, "must be lowercase"},
	{"busybox:", NULL, "tag must be 1 to 128"},
	{"busybox:-x", NULL, "tag must start"},
	{"busybox:a/b", NULL, "invalid port"},
	{"busybox@sha256:abc", NULL, "64 lowercase hex"},
	{"busybox@md5:0123", NULL, "only sha256"},
	{"a//b", NULL, "empty path component"},
	{"-a/b", NULL, "start and end"},
	{"a/b-", NULL, "start and end"},
	{"a/b...c", NULL, "invalid separator"},
	{"host:port/x", NULL, "invalid port"},
	{"-bad.host/x", NULL, "invalid domain component"},
	{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", NULL, "64-byte hexadecimal"},
	{"busybox:t@" D64 "x", NULL, "64 lowercase hex"},
};

int main(void)
{
	int failures = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL;
		struct crix_err *err = NULL;
		int rc = img_ref_normalize(cases[i].in, &out, &err);
		if (cases[i].out != NULL) {
			if (rc != 0 || strcmp(out, cases[i].out) != 0) {
				fprintf(stderr, "FAIL %s: got %s (%s), want %s\n", cases[i].in, rc ? "error" : out,
					crix_err_msg(err), cases[i].out);
				failures++;
			}
		} else if (rc == 0 || err->errnum != 22 || strstr(err->msg, cases[i].why) == NULL) {
			fprintf(stderr, "FAIL %s: got %s, want an EINVAL error containing \"%s\"\n", cases[i].in,
				rc == 0 ? out : err->msg, cases[i].why);
			failures++;
		}
		free(out);
		crix_err_free(&err);
	}
	struct img_ref r;
	struct crix_err *err = NULL;
	if (img_ref_parse("127.0.0.1:5000/ns/name:tag", &r, &err) != 0 || strcmp(r.domain, "127.0.0.1:5000") ||
	    strcmp(r.path, "ns/name") || strcmp(r.tag, "tag") || r.digest != NULL) {
		fprintf(stderr, "FAIL: parts of 127.0.0.1:5000/ns/name:tag\n");
		failures++;
	}
	img_ref_clear(&r);
	printf("%s: %zu cases, %d failures\n", failures ? "FAIL" : "ok", sizeof(cases) / sizeof(cases[0]), failures);
	return failures != 0;
}
