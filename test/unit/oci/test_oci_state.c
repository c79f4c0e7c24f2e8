/* crix-runtime's state records: written and read back, and a damaged state.json read with an
 * error naming the file and the field. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "crix_cleanup.h"
#include "crix_file.h"
#include "oci_state.h"

static char root[] = "/tmp/crix-state-XXXXXX";

static void put_state(const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/c1/state.json", root);
	CHECK(crix_write_file_atomic(p, text, strlen(text), 0600, CRIX_WRITE_VOLATILE, NULL) == 0);
}

static void test_round_trip(void)
{
	_cleanup_err_ struct crix_err *err = NULL;
	struct oci_state st = {.id = "c1", .pid = 4242, .pid_start = 77, .bundle = "/b", .created = "now",
			       .cgroup_ns = true};
	CHECK(asprintf(&st.dir, "%s/c1", root) > 0);
	st.annotations = json_tokener_parse("{\"k\":\"v\"}");
	CHECK_OK(oci_state_write(&st, &err));
	struct oci_state *got = NULL;
	CHECK_OK(oci_state_load(root, "c1", &got, &err));
	CHECK(got && got->pid == 4242 && got->pid_start == 77 && strcmp(got->bundle, "/b") == 0 &&
	      got->rootfs == NULL && got->cgroup_ns && got->annotations != NULL);
	oci_state_free(got);
	/* without annotations (and the optional strings) */
	json_object_put(st.annotations);
	st.annotations = NULL;
	st.bundle = NULL;
	CHECK_OK(oci_state_write(&st, &err));
	got = NULL;
	CHECK_OK(oci_state_load(root, "c1", &got, &err));
	CHECK(got && got->pid == 4242 && got->bundle == NULL && got->annotations == NULL);
	oci_state_free(got);
	free(st.dir);
	/* no state.json yet: a container being created */
	char p[256];
	snprintf(p, sizeof(p), "%s/c1/state.json", root);
	unlink(p);
	got = NULL;
	CHECK_OK(oci_state_load(root, "c1", &got, &err));
	CHECK(got && got->pid == 0 && got->bundle == NULL);
	oci_state_free(got);
}

static void test_damaged(void)
{
	static const struct {
		const char *text, *error;
	} bad[] = {
		{"{\"id\":\"c1\",\"pid\":\"12\",\"pidStart\":1}", "pid: expected integer"},
		{"{\"id\":\"c1\",\"pid\":12}", "pidStart: missing"},
		{"{\"id\":\"c1\",\"pid\":-3,\"pidStart\":1}", "pid: -3 is negative"},
		{"{\"id\":\"c1\",\"pid\":5000000000,\"pidStart\":1}", "pid: expected 32-bit integer"},
		{"{\"id\":\"c2\",\"pid\":1,\"pidStart\":1}", "id: c2, but the directory is c1's"},
		{"{\"id\":\"c1\",\"pid\":1,\"pidStart\":1,\"bundle\":7}", "bundle: expected string"},
		{"{\"id\":\"c1\",\"pid\":1,\"pidStart\":1,\"annotations\":{\"a\":\"b\",\"n\":1}}",
		 "annotations.n: expected string"},
		{"{\"id\":\"c1\",\"pid\":1,", "not JSON: truncated"},
		{"", "not JSON: truncated"},
	};
	char want[512];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		_cleanup_err_ struct crix_err *err = NULL;
		put_state(bad[i].text);
		struct oci_state *got = NULL;
		snprintf(want, sizeof(want), "load state of c1: %s/c1/state.json: %s", root, bad[i].error);
		CHECK(oci_state_load(root, "c1", &got, &err) < 0 && got == NULL && err->errnum == EINVAL &&
		      strncmp(err->msg, want, strlen(want)) == 0);
		if (err != NULL && strncmp(err->msg, want, strlen(want)) != 0)
			fprintf(stderr, "  got:  %s\n  want: %s\n", err->msg, want);
	}
}

int main(void)
{
	if (mkdtemp(root) == NULL)
		return 1;
	char *dir = NULL;
	_cleanup_err_ struct crix_err *err = NULL;
	CHECK_OK(oci_state_reserve(root, "c1", &dir, &err));
	free(dir);
	test_round_trip();
	test_damaged();
	crix_remove_tree(root, NULL);
	if (failures)
		fprintf(stderr, "%d checks failed\n", failures);
	return failures != 0;
}
