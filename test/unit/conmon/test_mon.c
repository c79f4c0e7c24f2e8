/* Unit tests for the mon library: CRI log records, options, protocol lines, OOM watching.
 * Usage: test_mon NAME (one ctest per test). */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "mon_log.h"
#include "mon_oom.h"
#include "mon_opts.h"
#include "mon_proto.h"

#include "check.h"


static char tmpdir[] = "/tmp/test-mon-XXXXXX";

static char *path_in_tmp(const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", tmpdir, name) < 0)
		abort();
	return p;
}

static char *slurp(const char *path)
{
	char *data = NULL;
	struct crix_err *err = NULL;
	if (crix_read_file(path, 1 << 20, &data, NULL, &err) < 0) {
		crix_err_free(&err);
		return NULL;
	}
	return data;
}

static const struct timespec T1 = {.tv_sec = 1795345150, .tv_nsec = 788233427}; /* 2026-11-22T10:59:10 */
#define TS1 "2026-11-22T10:59:10.788233427Z"

static void test_timestamp(void)
{
	char out[MON_TS_LEN + 1];
	CHECK(mon_log_format_time(NULL, &T1, out) == MON_TS_LEN);
	CHECK_STR(out, TS1);
	struct timespec early = {.tv_sec = 1, .tv_nsec = 5};
	mon_log_format_time(NULL, &early, out);
	CHECK_STR(out, "1970-01-01T00:00:01.000000005Z");
	/* the cached date part follows the second */
	struct mon_log log = {0};
	mon_log_format_time(&log, &T1, out);
	struct timespec later = {.tv_sec = T1.tv_sec + 3600, .tv_nsec = 0};
	mon_log_format_time(&log, &later, out);
	CHECK_STR(out, "2026-11-22T11:59:10.000000000Z");
	mon_log_format_time(&log, &T1, out);
	CHECK_STR(out, TS1);
}

static void write_chunk(struct mon_log *log, enum mon_stream s, const char *data)
{
	struct crix_err *err = NULL;
	CHECK(mon_log_write(log, s, data, strlen(data), &T1, &err) == 0);
	crix_err_free(&err);
}

static void test_records(void)
{
	_cleanup_free_ char *path = path_in_tmp("records.log");
	struct mon_log log;
	struct crix_err *err = NULL;
	CHECK(mon_log_open(&log, path, 0, &err) == 0);
	write_chunk(&log, MON_STDOUT, "a\nbc\n");
	write_chunk(&log, MON_STDERR, "partial");
	write_chunk(&log, MON_STDERR, " rest\n\nlast");
	write_chunk(&log, MON_STDOUT, "\n");
	write_chunk(&log, MON_STDOUT, "tab\there \r\x01\n");
	CHECK(mon_log_close(&log, &err) == 0);
	_cleanup_free_ char *text = slurp(path);
	CHECK_STR(text, TS1 " stdout F a\n" TS1 " stdout F bc\n" TS1 " stderr P partial\n" TS1
			    " stderr F  rest\n" TS1 " stderr F \n" TS1 " stderr P last\n" TS1
			    " stdout F \n" TS1 " stdout F tab\there \r\x01\n");
}

/* A line longer than the writer's buffer crosses buffer flushes intact. */
static void test_long_record(void)
{
	_cleanup_free_ char *path = path_in_tmp("long.log");
	size_t n = 200 * 1024;
	_cleanup_free_ char *line = malloc(n + 2);
	memset(line, 'x', n);
	line[n] = '\n';
	line[n + 1] = '\0';
	struct mon_log log;
	struct crix_err *err = NULL;
	CHECK(mon_log_open(&log, path, 0, &err) == 0);
	write_chunk(&log, MON_STDOUT, line);
	CHECK(mon_log_close(&log, &err) == 0);
	_cleanup_free_ char *text = slurp(path);
	CHECK(text != NULL && strlen(text) == MON_TS_LEN + 10 + n + 1);
	CHECK(text != NULL && strncmp(text + MON_TS_LEN, " stdout F xxx", 13) == 0);
}

static void test_rotation(void)
{
	_cleanup_free_ char *path = path_in_tmp("cap.log");
	_cleanup_free_ char *old = path_in_tmp("cap.log.1");
	struct mon_log log;
	struct crix_err *err = NULL;
	/* each record "TS stdout F NN\n" is 43 bytes: two fit in 100 */
	CHECK(mon_log_open(&log, path, 100, &err) == 0);
	for (int i = 10; i < 15; i++) {
		char line[8];
		snprintf(line, sizeof(line), "%d\n", i);
		write_chunk(&log, MON_STDOUT, line);
	}
	CHECK(mon_log_close(&log, &err) == 0);
	_cleanup_free_ char *cur = slurp(path), *prev = slurp(old);
	CHECK_STR(prev, TS1 " stdout F 12\n" TS1 " stdout F 13\n");
	CHECK_STR(cur, TS1 " stdout F 14\n");
}

static void test_reopen(void)
{
	_cleanup_free_ char *path = path_in_tmp("reopen.log");
	_cleanup_free_ char *moved = path_in_tmp("reopen.log.moved");
	struct mon_log log;
	struct crix_err *err = NULL;
	CHECK(mon_log_open(&log, path, 0, &err) == 0);
	write_chunk(&log, MON_STDOUT, "one\n");
	CHECK(rename(path, moved) == 0);
	CHECK(mon_log_reopen(&log, &err) == 0);
	write_chunk(&log, MON_STDOUT, "two\n");
	CHECK(mon_log_close(&log, &err) == 0);
	_cleanup_free_ char *a = slurp(moved), *b = slurp(path);
	CHECK_STR(a, TS1 " stdout F one\n");
	CHECK_STR(b, TS1 " stdout F two\n");
}

/* A full disk loses records, is reported, and later writes still work. */
static void test_full_disk(void)
{
	struct mon_log log;
	struct crix_err *err = NULL;
	CHECK(mon_log_open(&log, "/dev/full", 0, &err) == 0);
	CHECK(mon_log_write(&log, MON_STDOUT, "lost\n", 5, &T1, &err) < 0);
	CHECK(err != NULL && err->errnum == ENOSPC);
	crix_err_free(&err);
	CHECK(log.dropped == MON_TS_LEN + 10 + 5);
	CHECK(log.used == 0);
	CHECK(mon_log_close(&log, &err) < 0); /* a device cannot be synced either */
	crix_err_free(&err);
	/* no path: everything is discarded quietly */
	CHECK(mon_log_open(&log, NULL, 0, &err) == 0);
	CHECK(mon_log_write(&log, MON_STDOUT, "x\n", 2, &T1, &err) == 0);
	CHECK(mon_log_close(&log, &err) == 0);
}

/* Closing reports an fsync that failed (here: /dev/null, which cannot be synced), after the
 * records were written, and releases the log all the same. */
static void test_close_reports_fsync(void)
{
	struct mon_log log;
	struct crix_err *err = NULL;
	CHECK(mon_log_open(&log, "/dev/null", 0, &err) == 0);
	CHECK(mon_log_write(&log, MON_STDOUT, "kept\n", 5, &T1, &err) == 0);
	CHECK(mon_log_close(&log, &err) < 0);
	CHECK(err != NULL && err->errnum == EINVAL);
	CHECK_STR(crix_err_msg(err), "fsync log /dev/null: Invalid argument");
	CHECK(log.fd == -1 && log.path == NULL && log.buf == NULL && log.dropped == 0);
	crix_err_free(&err);
}

static int parse(struct mon_opts *o, char **errmsg, ...)
{
	char *argv[64] = {"crix-conmon"};
	int argc = 1;
	va_list ap;
	va_start(ap, errmsg);
	for (char *a; (a = va_arg(ap, char *)) != NULL;)
		argv[argc++] = a;
	va_end(ap);
	struct crix_err *err = NULL;
	int rc = mon_opts_parse(argc, argv, o, &err);
	*errmsg = rc < 0 ? strdup(crix_err_msg(err)) : NULL;
	crix_err_free(&err);
	return rc;
}

static void test_options(void)
{
	struct mon_opts o;
	_cleanup_free_ char *msg = NULL;
	CHECK(parse(&o, &msg, "-c", "abc", "-r", "/usr/sbin/runc", "--runtime-arg", "--root=/r",
		    "--runtime-arg", "--debug", "-b", "/b", "-l", "k8s-file:/l/x.log", "--exit-dir",
		    "/e", "--socket-dir-path", "/s", "--log-size-max", "-1", "-t", "-i", NULL) == 0);
	CHECK_STR(o.cid, "abc");
	CHECK_STR(o.session_id, "abc");
	CHECK(o.n_runtime_args == 2);
	CHECK_STR(o.runtime_args[1], "--debug");
	CHECK_STR(o.log_path, "/l/x.log");
	CHECK(o.log_size_max == 0 && o.terminal && o.stdin_open && !o.exec);
	CHECK(o.exec_output_max == MON_EXEC_OUTPUT_MAX_DEFAULT);
	mon_opts_free(&o);

	CHECK(parse(&o, &msg, "-c", "abc", "-r", "runc", NULL) < 0);
	CHECK_STR(msg, "--bundle is required");
	mon_opts_free(&o);
	free(steal_ptr(msg));
	CHECK(parse(&o, &msg, "-c", "../x", "-r", "runc", NULL) < 0);
	CHECK_STR(msg, "invalid container id: ../x");
	mon_opts_free(&o);
	free(steal_ptr(msg));
	CHECK(parse(&o, &msg, "-c", "x", "-r", "runc", "-e", NULL) < 0);
	CHECK_STR(msg, "--exec needs --exec-process-spec");
	mon_opts_free(&o);
	free(steal_ptr(msg));
	CHECK(parse(&o, &msg, "-c", "x", "-r", "runc", "-e", "--exec-process-spec", "/p", "-T", "5",
		    "--exec-output-max", "100", NULL) == 0);
	CHECK(o.exec && o.timeout == 5 && o.exec_output_max == 100);
	mon_opts_free(&o);
	CHECK(parse(&o, &msg, "-c", "x", "-r", "runc", "-e", "--exec-attach", "--exec-process-spec",
		    "/p", NULL) < 0);
	CHECK_STR(msg, "--exit-dir is required");
	mon_opts_free(&o);
	free(steal_ptr(msg));
	CHECK(parse(&o, &msg, "-c", "x", "-r", "runc", "--exec-attach", NULL) < 0);
	CHECK_STR(msg, "--exec-attach needs --exec");
	mon_opts_free(&o);
	free(steal_ptr(msg));
	CHECK(parse(&o, &msg, "-c", "x", "-u", "x-exec1", "-r", "runc", "-e", "--exec-attach",
		    "--exec-process-spec", "/p", "--exit-dir", "/e", "--socket-dir-path", "/s", NULL) == 0);
	CHECK_STR(o.session_id, "x-exec1");
	mon_opts_free(&o);
	CHECK(parse(&o, &msg, "-c", "x", "-u", "a/b", "-r", "runc", NULL) < 0);
	CHECK_STR(msg, "invalid session id: a/b");
	mon_opts_free(&o);
	free(steal_ptr(msg));
	CHECK(parse(&o, &msg, "-c", "x", "-r", "runc", "-b", "bundle", NULL) < 0);
	CHECK_STR(msg, "not an absolute path: bundle");
	mon_opts_free(&o);
	free(steal_ptr(msg));
	CHECK(parse(&o, &msg, "--bogus", NULL) < 0);
	CHECK_STR(msg, "unknown option --bogus");
	mon_opts_free(&o);
	free(steal_ptr(msg));
	CHECK(parse(&o, &msg, "-T", "soon", NULL) < 0);
	CHECK_STR(msg, "--timeout: not a number: soon");
	mon_opts_free(&o);
}

static void test_sync_lines(void)
{
	_cleanup_free_ char *pid = mon_sync_pid_line(1234);
	CHECK_STR(pid, "{\"pid\":1234}\n");
	const char *raw = "  \ttime=\"x\" level=error msg=\"quote \\\" and\nnewline\"\n\n";
	_cleanup_free_ char *fail = mon_sync_error_line(raw, strlen(raw));
	struct json_object *obj = json_tokener_parse(fail);
	CHECK(obj != NULL && strchr(fail, '\n') == fail + strlen(fail) - 1);
	struct json_object *v;
	CHECK(json_object_object_get_ex(obj, "pid", &v) && json_object_get_int(v) == -1);
	CHECK(json_object_object_get_ex(obj, "message", &v));
	CHECK_STR(json_object_get_string(v), "time=\"x\" level=error msg=\"quote \\\" and\nnewline\"");
	json_object_put(obj);

	/* long messages keep their tail */
	size_t n = MON_SYNC_MESSAGE_MAX + 100;
	_cleanup_free_ char *big = malloc(n);
	memset(big, 'a', n);
	memcpy(big + n - 3, "END", 3);
	_cleanup_free_ char *cut = mon_sync_error_line(big, n);
	obj = json_tokener_parse(cut);
	CHECK(json_object_object_get_ex(obj, "message", &v));
	CHECK(json_object_get_string_len(v) == MON_SYNC_MESSAGE_MAX);
	CHECK(strcmp(json_object_get_string(v) + MON_SYNC_MESSAGE_MAX - 3, "END") == 0);
	json_object_put(obj);

	struct mon_exec_result r = {.pid = 7, .exit_code = 137, .timed_out = true, .stdout_bytes = 16 << 20,
				    .stdout_truncated = true};
	_cleanup_free_ char *exec = mon_sync_exec_line(&r);
	CHECK_STR(exec, "{\"pid\":7,\"exit_code\":137,\"timed_out\":true,\"stdout_bytes\":16777216,"
			"\"stderr_bytes\":0,\"stdout_truncated\":true,\"stderr_truncated\":false}\n");
}

static void test_ctl_and_status(void)
{
	struct mon_ctl_msg msg;
	struct crix_err *err = NULL;
	CHECK(mon_ctl_parse("1 40 120", &msg, &err) == 0);
	CHECK(msg.type == MON_CTL_RESIZE && msg.rows == 40 && msg.cols == 120);
	CHECK(mon_ctl_parse("2 0 0", &msg, &err) == 0 && msg.type == MON_CTL_REOPEN);
	CHECK(mon_ctl_parse("3 0 0", &msg, &err) < 0);
	CHECK(mon_ctl_parse("1 40", &msg, &err) < 0);
	CHECK(mon_ctl_parse("1 40 120 junk", &msg, &err) < 0);
	CHECK(mon_ctl_parse("1 70000 1", &msg, &err) < 0);
	crix_err_free(&err);

	CHECK(mon_exit_code(0) == 0);
	CHECK(mon_exit_code(3 << 8) == 3);
	CHECK(mon_exit_code(9) == 137);
	CHECK(mon_exit_code(15) == 143);
}

static void test_cgroup_path(void)
{
	char *path = NULL;
	int version = 0;
	struct crix_err *err = NULL;
	const char *hybrid = "9:name=systemd:/\n4:cpuacct,memory:/pods/c1\n0::/\n";
	CHECK(mon_cgroup_memory_path(hybrid, &path, &version, &err) == 0);
	CHECK_STR(path, "/pods/c1");
	CHECK(version == 1);
	free(steal_ptr(path));
	CHECK(mon_cgroup_memory_path("0::/kubepods/pod1/c2\n", &path, &version, &err) == 0);
	CHECK_STR(path, "/kubepods/pod1/c2");
	CHECK(version == 2);
	free(steal_ptr(path));
	CHECK(mon_cgroup_memory_path("3:memoryx:/a\n", &path, &version, &err) < 0);
	crix_err_free(&err);

	uint64_t kills = 0;
	CHECK(mon_oom_parse_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", &kills) == 0 && kills == 3);
	CHECK(mon_oom_parse_kills("low 0\noom 1\noom_kill 2\noom_group_kill 0\n", &kills) == 0 && kills == 2);
	CHECK(mon_oom_parse_kills("oom 1\n", &kills) < 0);
}

static void write_text(const char *path, const char *text)
{
	/* rewritten in place, as the kernel updates memory.events */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0 && crix_write_all(fd, text, strlen(text)) == 0);
	close(fd);
}

/* cgroup v2 on a fake tree: inotify on memory.events and its oom_kill counter. */
static void test_oom_v2_fake(void)
{
	_cleanup_free_ char *dir = path_in_tmp("cg");
	_cleanup_free_ char *events = path_in_tmp("cg/memory.events");
	CHECK(mkdir(dir, 0755) == 0);
	write_text(events, "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
	struct mon_oom oom;
	struct crix_err *err = NULL;
	CHECK(mon_oom_watch_dir(&oom, 2, dir, &err) == 0);
	CHECK(oom.fd >= 0 && oom.baseline == 1);
	CHECK(mon_oom_check(&oom) == 0);
	/* "oom" alone (allocation failed, nobody killed) is not an OOM kill */
	write_text(events, "low 0\nhigh 0\nmax 5\noom 2\noom_kill 1\n");
	struct pollfd p = {oom.fd, POLLIN, 0};
	CHECK(poll(&p, 1, 1000) == 1);
	CHECK(mon_oom_check(&oom) == 0);
	CHECK(poll(&p, 1, 0) == 0); /* drained */
	write_text(events, "low 0\nhigh 0\nmax 6\noom 3\noom_kill 2\n");
	CHECK(poll(&p, 1, 1000) == 1);
	CHECK(mon_oom_check(&oom) == 1);
	/* the cgroup goes away */
	CHECK(unlink(events) == 0);
	CHECK(mon_oom_check(&oom) == -1);
	mon_oom_close(&oom);
	CHECK(rmdir(dir) == 0);
	/* a directory without the file is an error, not a silent non-watch */
	CHECK(mon_oom_watch_dir(&oom, 2, tmpdir, &err) < 0);
	CHECK(err != NULL && err->errnum == ENOENT);
	crix_err_free(&err);
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{"timestamp", test_timestamp},     {"records", test_records},
	{"long_record", test_long_record}, {"rotation", test_rotation},
	{"reopen", test_reopen},           {"full_disk", test_full_disk},
	{"close_reports_fsync", test_close_reports_fsync},
	{"options", test_options},         {"sync_lines", test_sync_lines},
	{"ctl_and_status", test_ctl_and_status}, {"cgroup_path", test_cgroup_path},
	{"oom_v2_fake", test_oom_v2_fake},
};

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s TEST\n", argv[0]);
		return 2;
	}
	if (mkdtemp(tmpdir) == NULL)
		return 2;
	int found = 0;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (strcmp(argv[1], tests[i].name) == 0) {
			tests[i].fn();
			found = 1;
		}
	struct crix_err *err = NULL;
	crix_remove_tree(tmpdir, &err);
	crix_err_free(&err);
	if (!found) {
		fprintf(stderr, "unknown test %s\n", argv[1]);
		return 2;
	}
	return failures ? 1 : 0;
}
