/* Units for common/: errors, file helpers, the JSON record reader, the temp-file sweep, paths
 * of each kind, spawning. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crix_cleanup.h"
#include "crix_err.h"
#include "crix_file.h"
#include "crix_json.h"
#include "crix_paths.h"
#include "crix_record.h"
#include "crix_spawn.h"
#include "crix_strv.h"

#include "check.h"
#include "json_fail.h"

static char tmpdir[] = "/tmp/crix-common-XXXXXX";

static void test_err_make_and_wrap(void)
{
	struct crix_err *err = NULL;
	CHECK(crix_err_make(&err, ENOENT, "open %s", "/x") == -1);
	CHECK(err->errnum == ENOENT);
	CHECK(strcmp(err->msg, "open /x: No such file or directory") == 0);
	CHECK(crix_err_wrap(&err, "pull %s", "busybox") == -1);
	CHECK(strcmp(crix_err_msg(err), "pull busybox: open /x: No such file or directory") == 0);
	CHECK(err->errnum == ENOENT);
	/* Classified: errno and kind set, the message as it was; wrapping keeps both. */
	CHECK(crix_err_classify(&err, EPROTO, 7) == -1 && err->errnum == EPROTO && err->kind == 7);
	CHECK(crix_err_wrap(&err, "x") == -1 && err->errnum == EPROTO && err->kind == 7);
	CHECK(strcmp(crix_err_msg(err), "x: pull busybox: open /x: No such file or directory") == 0);
	/* A second make replaces the first without leaking. */
	crix_err_make(&err, 0, "plain");
	CHECK(strcmp(err->msg, "plain") == 0 && err->errnum == 0 && err->kind == 0);
	crix_err_free(&err);
	CHECK(err == NULL);
	CHECK(strcmp(crix_err_msg(NULL), "unknown error") == 0);
	/* A NULL out-parameter is allowed: the caller does not want details. */
	CHECK(crix_err_make(NULL, EIO, "ignored") == -1);
}

/* calloc, wrapped for crix_common's calls (test/unit/common/CMakeLists.txt): fails while set. */
static bool fail_calloc;
void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size)
{
	return fail_calloc ? NULL : __real_calloc(n, size);
}

/* An error that cannot be allocated is still an error: ENOMEM, never a NULL *err that a caller
 * reading err->errnum would dereference. */
static void test_err_out_of_memory(void)
{
	struct crix_err *err = NULL;
	fail_calloc = true;
	int r = crix_err_make(&err, ENOENT, "open %s", "/x");
	fail_calloc = false;
	CHECK(r == -1 && err != NULL);
	if (err == NULL)
		return;
	CHECK(err->errnum == ENOMEM && strcmp(crix_err_msg(err), "out of memory") == 0);
	CHECK(crix_err_wrap(&err, "pull %s", "busybox") == -1 && err->errnum == ENOMEM);
	CHECK(strcmp(crix_err_msg(err), "out of memory") == 0);
	/* nor does a classification make it another error */
	CHECK(crix_err_classify(&err, EPROTO, 7) == -1 && err->errnum == ENOMEM && err->kind == 0);
	crix_err_free(&err);
	CHECK(err == NULL);
	/* The next error is allocated again. */
	CHECK(crix_err_make(&err, EIO, "read") == -1 && err != NULL && err->errnum == EIO);
	crix_err_free(&err);
}

static void test_atomic_write_and_read(void)
{
	_cleanup_err_ struct crix_err *err = NULL;
	_cleanup_free_ char *path = NULL;
	CHECK(asprintf(&path, "%s/record.json", tmpdir) > 0);
	CHECK(crix_write_file_atomic(path, "{\"a\":1}", 7, 0600, CRIX_WRITE_DURABLE, &err) == 0);
	CHECK(crix_write_file_atomic(path, "{\"a\":2}", 7, 0640, CRIX_WRITE_VOLATILE, &err) == 0);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	CHECK(crix_read_file(path, 1024, &data, &len, &err) == 0);
	CHECK(len == 7 && strcmp(data, "{\"a\":2}") == 0);
	/* No temp file is left behind. */
	_cleanup_closedir_ DIR *d = opendir(tmpdir);
	int entries = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		entries += e->d_name[0] != '.';
	CHECK(entries == 1);
	_cleanup_free_ char *small = NULL;
	CHECK(crix_read_file(path, 4, &small, NULL, &err) < 0 && err->errnum == EFBIG);
	_cleanup_free_ char *missing = NULL;
	CHECK(crix_read_file("/nonexistent/crix", 16, &missing, NULL, &err) < 0 && err->errnum == ENOENT);
	CHECK(strstr(err->msg, "/nonexistent/crix") != NULL);
	CHECK(crix_write_file_atomic("/nonexistent/dir/x", "x", 1, 0600, CRIX_WRITE_DURABLE, &err) < 0);
	CHECK(err->errnum == ENOENT);
}

struct sample {
	char *name;
	char **tags;
	uint32_t port;
};

static int parse_sample(struct json_object *o, void *arg, struct crix_err **err)
{
	struct sample *r = arg;
	if (crix_json_require(crix_json_string(o, "", "name", &r->name, err), "", "name", err) < 0 ||
	    crix_json_strv(o, "", "tags", &r->tags, err) < 0 || crix_json_uint32(o, "", "port", &r->port, err) < 0)
		return -1;
	return 0;
}

/* Writes text to the record file and reads it: 0, or -1 with err set. */
static int read_sample(const char *path, const char *text, struct sample *r, struct crix_err **err)
{
	free(r->name);
	crix_strv_free(r->tags);
	memset(r, 0, sizeof(*r));
	if (crix_write_file_atomic(path, text, strlen(text), 0600, CRIX_WRITE_VOLATILE, err) < 0)
		return -1;
	return crix_record_read(path, 256, parse_sample, r, err);
}

static void test_record_read(void)
{
	_cleanup_err_ struct crix_err *err = NULL;
	_cleanup_free_ char *path = NULL, *want = NULL;
	CHECK(asprintf(&path, "%s/ab.json", tmpdir) > 0);
	struct sample r = {0};
	CHECK(read_sample(path, "{\"name\":\"a\",\"tags\":[\"x\",\"y\"],\"port\":80}\n", &r, &err) == 0);
	CHECK(r.name && strcmp(r.name, "a") == 0 && crix_strv_len(r.tags) == 2 && r.port == 80);
	/* every error starts with the file, then names the field */
	static const struct {
		const char *text, *error;
	} bad[] = {
		{"{\"name\":\"a\",\"tags\":[\"x\",\"y\",3]}", "tags[2]: expected string"},
		{"{\"tags\":[]}", "name: missing"},
		{"{\"name\":\"a\",\"port\":5000000000}", "port: expected unsigned 32-bit integer"},
		{"[1]", "expected a JSON object"},
		{"{\"name\":\"a\"", "not JSON: truncated"},
		{"", "not JSON: truncated"},
		{"{\"name\":\"a\"} {}", "not JSON: trailing data at byte 13"},
		{"{\"name\":\"a\"}x", "not JSON: trailing data"},
		{"{\"name\":tru}", "not JSON: "},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		free(want);
		CHECK(asprintf(&want, "%s: %s", path, bad[i].error) > 0);
		CHECK(read_sample(path, bad[i].text, &r, &err) < 0 && err->errnum == EINVAL &&
		      strncmp(err->msg, want, strlen(want)) == 0);
	}
	/* a NUL byte inside: the parser would stop there and accept the prefix */
	CHECK(crix_write_file_atomic(path, "{\"name\":\"a\"}\0{", 14, 0600, CRIX_WRITE_VOLATILE, &err) == 0);
	CHECK(crix_record_read(path, 256, parse_sample, &r, &err) < 0 && err->errnum == EINVAL &&
	      strstr(err->msg, "NUL byte") != NULL);
	char big[300];
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	big[sizeof(big) - 1] = '\0';
	CHECK(read_sample(path, big, &r, &err) < 0 && err->errnum == EFBIG);
	unlink(path);
	CHECK(crix_record_read(path, 256, parse_sample, &r, &err) < 0 && err->errnum == ENOENT);
	free(r.name);
	crix_strv_free(r.tags);
}

/* Temp files of atomic writes (name.tmp.XXXXXX, regular files) go, in dir and one level down,
 * nothing else and nothing deeper. */
static void test_sweep_temp_files(void)
{
	_cleanup_err_ struct crix_err *err = NULL;
	_cleanup_free_ char *dir = NULL;
	CHECK(asprintf(&dir, "%s/sweep", tmpdir) > 0);
	const char *made[] = {"r.json.tmp.AbC123", "a/state.json.tmp.zzzzzz", "r.json", "a/state.json",
			      "a/b/deep.tmp.abcdef", "x.tmp.abc", "x.tmp.abcdefg", "x.tmp.ab-def", ".tmp.abcdef"};
	const bool swept[] = {true, true, false, false, false, false, false, false, false};
	char p[1024];
	snprintf(p, sizeof(p), "%s/a/b", dir);
	CHECK(crix_mkdir_p(p, 0700, &err) == 0);
	for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, made[i]);
		CHECK(crix_write_file_atomic(p, "x", 1, 0600, CRIX_WRITE_VOLATILE, &err) == 0);
	}
	snprintf(p, sizeof(p), "%s/dir.tmp.abcdef", dir); /* a directory of that name stays */
	CHECK(mkdir(p, 0700) == 0);
	CHECK(crix_sweep_temp_files(dir, &err) == 2);
	for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, made[i]);
		CHECK((access(p, F_OK) == 0) == !swept[i]);
	}
	snprintf(p, sizeof(p), "%s/dir.tmp.abcdef", dir);
	CHECK(access(p, F_OK) == 0);
	CHECK(crix_sweep_temp_files(dir, &err) == 0);
	snprintf(p, sizeof(p), "%s/missing", dir);
	CHECK(crix_sweep_temp_files(p, &err) == 0);
	CHECK(crix_remove_tree(dir, &err) == 0);
}

/* Each kind of path under root and runroot, and the names each refuses. */
static void test_paths(void)
{
	_cleanup_err_ struct crix_err *err = NULL;
	char *p = NULL;
	static const struct {
		int (*fn)(const char *, const char *, char **, struct crix_err **);
		const char *base, *want;
	} kinds[] = {
		{crix_path_bundle, "/run/crix", "/run/crix/bundles/c1"},
		{crix_path_exit, "/run/crix", "/run/crix/exits/c1"},
		{crix_path_pod_record, "/var/lib/crix", "/var/lib/crix/pods/c1/state.json"},
		{crix_path_container_dir, "/var/lib/crix", "/var/lib/crix/containers/c1"},
		{crix_path_container_record, "/var/lib/crix", "/var/lib/crix/containers/c1/state.json"},
	};
	const char *bad[] = {NULL, "", ".", "..", "../c1", "a/b", "/abs", "a\nb", ".hidden", "-x", "a b", "a:b"};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		CHECK(kinds[k].fn(kinds[k].base, "c1", &p, &err) == 0 && strcmp(p, kinds[k].want) == 0);
		free(p);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			CHECK(kinds[k].fn(kinds[k].base, bad[i], &p, &err) < 0 && err->errnum == EINVAL);
		CHECK(kinds[k].fn("", "c1", &p, &err) < 0 && err->errnum == EINVAL);
	}
	char longest[256];
	memset(longest, 'a', 255);
	longest[255] = '\0';
	CHECK(crix_path_exit("/r", longest, &p, &err) == 0);
	free(p);
	char too_long[257];
	memset(too_long, 'a', 256);
	too_long[256] = '\0';
	CHECK(crix_path_exit("/r", too_long, &p, &err) < 0 && err->errnum == EINVAL);
	CHECK(crix_path_bundle("/r", "../../etc", &p, &err) < 0 && strstr(err->msg, "container id") != NULL);
	CHECK(crix_path_pod_ns("/run/crix", "p1", "net", &p, &err) == 0 && strcmp(p, "/run/crix/ns/p1/net") == 0);
	free(p);
	CHECK(crix_path_pod_ns("/run/crix", "p1", "../net", &p, &err) < 0 && err->errnum == EINVAL);
	CHECK(crix_path_pod_ns("/run/crix", "p1", NULL, &p, &err) < 0 && err->errnum == EINVAL);
	CHECK(crix_path_pod_ns("/run/crix", "../p1", "net", &p, &err) < 0 && strstr(err->msg, "pod id") != NULL);
	static const struct {
		enum crix_conmon_file f;
		const char *want;
	} mon[] = {{CRIX_CONMON_DIR, "/run/crix/conmon/c1"},
		   {CRIX_CONMON_ATTACH, "/run/crix/conmon/c1/attach"},
		   {CRIX_CONMON_CTL, "/run/crix/conmon/c1/ctl"},
		   {CRIX_CONMON_PID, "/run/crix/conmon/c1/pid"}};
	for (size_t i = 0; i < sizeof(mon) / sizeof(mon[0]); i++) {
		CHECK(crix_path_conmon("/run/crix", "c1", mon[i].f, &p, &err) == 0 && strcmp(p, mon[i].want) == 0);
		free(p);
	}
	CHECK(crix_path_conmon("/run/crix", "c1", (enum crix_conmon_file)9, &p, &err) < 0 && err->errnum == EINVAL);
	CHECK(crix_path_conmon("/run/crix", "..", CRIX_CONMON_CTL, &p, &err) < 0 && err->errnum == EINVAL);
}

static void test_mkdir_and_remove(void)
{
	_cleanup_err_ struct crix_err *err = NULL;
	_cleanup_free_ char *deep = NULL, *file = NULL, *top = NULL, *link = NULL;
	CHECK(asprintf(&top, "%s/a", tmpdir) > 0);
	CHECK(asprintf(&deep, "%s/a/b/c", tmpdir) > 0);
	CHECK(asprintf(&file, "%s/a/b/c/f", tmpdir) > 0);
	CHECK(asprintf(&link, "%s/a/b/outside", tmpdir) > 0);
	CHECK(crix_mkdir_p(deep, 0755, &err) == 0);
	CHECK(crix_mkdir_p(deep, 0755, &err) == 0);
	CHECK(crix_write_file_atomic(file, "x", 1, 0600, CRIX_WRITE_DURABLE, &err) == 0);
	CHECK(crix_mkdir_p(file, 0755, &err) < 0 && err->errnum == ENOTDIR);
	/* remove_tree does not follow a symlink out of the tree. */
	_cleanup_free_ char *keep = NULL;
	CHECK(asprintf(&keep, "%s/keep", tmpdir) > 0);
	CHECK(crix_mkdir_p(keep, 0755, &err) == 0);
	CHECK(symlink(keep, link) == 0);
	CHECK(crix_remove_tree(top, &err) == 0);
	CHECK(access(top, F_OK) < 0 && errno == ENOENT);
	CHECK(access(keep, F_OK) == 0);
	CHECK(crix_remove_tree(top, &err) == 0);
	rmdir(keep);
}

static void test_spawn(void)
{
	_cleanup_err_ struct crix_err *err = NULL;
	int out[2];
	CHECK(pipe2(out, O_CLOEXEC) == 0);
	int extra[2];
	CHECK(pipe2(extra, O_CLOEXEC) == 0);
	/* The child sees the extra fd as 3, and no other inherited fd (out[0] must be closed). */
	char *const argv[] = {"sh", "-c", "echo hello from $CRIX_T >&3; ls /proc/self/fd | sort -n | tr '\\n' ' '", NULL};
	char *const envp[] = {"CRIX_T=spawn", "PATH=/usr/bin:/bin", NULL};
	pid_t pid = 0;
	struct crix_spawn_opts opts = {.path = "sh", .argv = argv, .envp = envp, .stdin_fd = -1,
				       .stdout_fd = out[1], .stderr_fd = -1, .extra_fds = &extra[1],
				       .n_extra_fds = 1};
	CHECK(crix_spawn(&opts, &pid, &err) == 0);
	close(out[1]);
	close(extra[1]);
	char buf[256] = "", fds[256] = "";
	ssize_t n = read(extra[0], buf, sizeof(buf) - 1);
	CHECK(n > 0 && strcmp(buf, "hello from spawn\n") == 0);
	size_t used = 0;
	while ((n = read(out[0], fds + used, sizeof(fds) - 1 - used)) > 0)
		used += (size_t)n;
	int status = 0;
	CHECK(crix_wait(pid, &status) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* 0,1,2,3 and the fd of ls's own directory listing. */
	CHECK(strncmp(fds, "0 1 2 3 ", 8) == 0);
	CHECK(strlen(fds) <= strlen("0 1 2 3 4 "));
	close(out[0]);
	close(extra[0]);

	char *const bad[] = {"/nonexistent/program", NULL};
	struct crix_spawn_opts bad_opts = {.path = bad[0], .argv = bad, .stdin_fd = -1, .stdout_fd = -1,
					   .stderr_fd = -1};
	CHECK(crix_spawn(&bad_opts, &pid, &err) < 0);
	CHECK(err->errnum == ENOENT && strstr(err->msg, "/nonexistent/program") != NULL);
}

/* A child that cannot lay out its fds (here: fd numbers above RLIMIT_NOFILE) reports why, even
 * when the report pipe itself cannot be moved out of the way: crix_spawn fails, rather than
 * returning a child that exited 127 unexplained. Run in a process of its own for the limit. */
static void test_spawn_fd_layout_failure(void)
{
	pid_t tester = fork();
	CHECK(tester >= 0);
	if (tester == 0) {
		struct rlimit lim = {.rlim_cur = 16, .rlim_max = 16};
		int extra[20];
		for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
			extra[i] = 2;
		char *const argv[] = {"true", NULL};
		struct crix_spawn_opts opts = {.path = "true", .argv = argv, .stdin_fd = -1, .stdout_fd = -1,
					       .stderr_fd = -1, .extra_fds = extra,
					       .n_extra_fds = sizeof(extra) / sizeof(extra[0])};
		struct crix_err *err = NULL;
		pid_t pid = 0;
		if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
			_exit(2);
		int r = crix_spawn(&opts, &pid, &err);
		_exit(r < 0 && err != NULL && err->errnum == EINVAL ? 0 : 1);
	}
	int status = 0;
	CHECK(crix_wait(tester, &status) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The JSON emit helpers under json-c allocation failures (json_fail.h): each failed call is
 * an ENOMEM error or a NULL the caller reports, never a document missing a member or a leak. */
static int new_strv_op(void *arg, struct crix_err **err)
{
	struct json_object *arr = crix_json_new_strv(arg);
	if (arr == NULL)
		return crix_err_make(err, ENOMEM, "new strv");
	int r = json_object_array_length(arr) == 3 ? 0 : crix_err_make(err, EINVAL, "short array");
	json_object_put(arr);
	return r;
}

static const char *const known_keys[] = {"known", NULL};

static int keep_unknown_op(void *arg, struct crix_err **err)
{
	struct json_object *unknown = NULL;
	int r = crix_json_keep_unknown(arg, known_keys, &unknown, err);
	if (r == 0 && json_object_object_length(unknown) != 2)
		r = crix_err_make(err, EINVAL, "unknown keys lost");
	json_object_put(unknown);
	return r;
}

static int add_unknown_op(void *arg, struct crix_err **err)
{
	struct json_object *out = json_object_new_object();
	if (out == NULL)
		return crix_err_make(err, ENOMEM, "out");
	int r = crix_json_add_unknown(out, arg, err);
	if (r == 0 && json_object_object_length(out) != 3)
		r = crix_err_make(err, EINVAL, "unknown keys lost");
	json_object_put(out);
	return r;
}

/* A list entry copied from the old document (element_base) and a missing object made anew
 * (take_object), each re-added. */
static int reopen_op(void *arg, struct crix_err **err)
{
	struct json_object *list = NULL;
	json_object_object_get_ex(arg, "list", &list);
	struct json_object *out = json_object_new_object();
	if (out == NULL)
		return crix_err_make(err, ENOMEM, "out");
	int r = crix_json_add(out, "entry", crix_json_element_base(list, 2, 1), err);
	if (r == 0)
		r = crix_json_add(out, "fresh", crix_json_take_object(arg, "absent"), err);
	json_object_put(out);
	return r;
}

static void test_json_allocation_failures(void)
{
	char *const v[] = {"a", "b", "c", NULL};
	/* The new array and, per string, its allocation and its append. */
	CHECK(json_fail_each("crix_json_new_strv", new_strv_op, (void *)v) == 7);
	struct json_object *empty = crix_json_new_strv(NULL);
	CHECK(empty != NULL && json_object_is_type(empty, json_type_array) &&
	      json_object_array_length(empty) == 0);
	json_object_put(empty);

	struct json_object *doc = json_tokener_parse(
		"{\"known\": 1, \"x-a\": {\"deep\": [1, 2]}, \"x-b\": \"s\", \"x-c\": true,"
		" \"list\": [{\"a\": 1}, {\"b\": [2]}]}");
	CHECK(doc != NULL);
	struct json_object *unknown = json_tokener_parse("{\"x-a\": [1, {\"y\": 2}], \"x-b\": \"s\", \"x-c\": 3}");
	CHECK(unknown != NULL);
	struct json_object *small = json_tokener_parse("{\"known\": 1, \"x-a\": [1], \"x-b\": {}}");
	CHECK(small != NULL);
	/* The unknown object, then one add per unknown key; each failed add drops its reference. */
	CHECK(json_fail_each("crix_json_keep_unknown", keep_unknown_op, small) == 3);
	/* A copy and an add per key. */
	CHECK(json_fail_each("crix_json_add_unknown", add_unknown_op, unknown) == 7);
	CHECK(json_fail_each("element_base and take_object", reopen_op, doc) == 5);
	/* The parsed documents are as they were: nothing was moved out of them. */
	CHECK(json_object_object_length(small) == 3 && json_object_object_length(unknown) == 3);
	json_object_put(small);
	json_object_put(unknown);
	json_object_put(doc);
}

/* This test runs as <build>/test/unit/common/test_common: its "prefix" is <build>/test/unit. */
static void test_helper_path(void)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	CHECK(n > 0);
	self[n > 0 ? n : 0] = '\0';
	char *want = NULL, *got = NULL;
	char *cut = strrchr(self, '/');
	*cut = '\0';
	cut = strrchr(self, '/');
	*cut = '\0';
	CHECK(asprintf(&want, "%s/libexec/crix/crix-pull", self) > 0);
	_cleanup_err_ struct crix_err *err = NULL;
	CHECK(crix_helper_path("crix-pull", &got, &err) == 0);
	CHECK(got && strcmp(got, want) == 0);
	free(want);
	free(got);
}

static void test_strv(void)
{
	CHECK(crix_strv_len(NULL) == 0);
	char **v = NULL;
	CHECK(crix_strv_append(&v, "a") == 0 && crix_strv_append(&v, "b") == 0);
	CHECK(crix_strv_len(v) == 2 && strcmp(v[0], "a") == 0 && strcmp(v[1], "b") == 0 && v[2] == NULL);
	char **copy = crix_strv_dup(v);
	CHECK(copy != NULL && crix_strv_len(copy) == 2 && copy[0] != v[0] && strcmp(copy[1], "b") == 0);
	crix_strv_free(copy);
	crix_strv_free(v);
	char **empty = crix_strv_dup(NULL);
	CHECK(empty != NULL && empty[0] == NULL);
	crix_strv_free(empty);

	/* The list is a multiset: remove takes one occurrence. */
	struct crix_strv l = {0};
	CHECK(crix_strv_add(&l, "x") == 0 && crix_strv_add(&l, "y") == 0 && crix_strv_add(&l, "x") == 0);
	CHECK(l.n == 3 && l.v[3] == NULL && crix_strv_has(&l, "y") && !crix_strv_has(&l, "z"));
	CHECK(crix_strv_remove(&l, "x") && l.n == 2 && crix_strv_has(&l, "x"));
	CHECK(strcmp(l.v[0], "y") == 0 && l.v[2] == NULL);
	CHECK(!crix_strv_remove(&l, "z") && l.n == 2);
	crix_strv_clear(&l);
	CHECK(l.v == NULL && l.n == 0);
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_err_make_and_wrap();
	test_err_out_of_memory();
	test_atomic_write_and_read();
	test_record_read();
	test_sweep_temp_files();
	test_paths();
	test_mkdir_and_remove();
	test_spawn();
	test_spawn_fd_layout_failure();
	test_json_allocation_failures();
	test_helper_path();
	test_strv();
	_cleanup_err_ struct crix_err *err = NULL;
	crix_remove_tree(tmpdir, &err);
	if (failures)
		fprintf(stderr, "%d checks failed\n", failures);
	return failures ? 1 : 0;
}
