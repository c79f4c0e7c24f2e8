/* Seccomp filters compiled in the parent and loaded in a forked child, which then makes the
 * syscalls and reports what it saw through its exit status. */
#include <dirent.h>
#include <errno.h>
#include <linux/seccomp.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "check.h"
#include "crix_err.h"
#include "crix_file.h"
#include "oci_seccomp.h"
#include "seccomp_filter.h"

static char dir[] = "/tmp/crix-seccomp-XXXXXX";

static struct oci_seccomp_filter *build(const char *json)
{
	struct crix_err *err = NULL;
	struct json_object *obj = json_tokener_parse(json);
	struct oci_seccomp *spec = NULL;
	struct oci_seccomp_filter *f = NULL;

	CHECK(obj != NULL);
	CHECK_OK(oci_seccomp_from_json(obj, "linux.seccomp", &spec, &err));
	if (spec != NULL)
		CHECK_OK(oci_seccomp_filter_build(spec, &f, &err));
	oci_seccomp_free(spec);
	json_object_put(obj);
	crix_err_free(&err);
	return f;
}

/* Forks; the child sets no_new_privs, loads f, runs probe and exits with its result.
 * Returns the raw wait status. */
static int run_filtered(const struct oci_seccomp_filter *f, int (*probe)(void))
{
	pid_t pid = fork();
	if (pid == 0) {
		struct crix_err *err = NULL;
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || oci_seccomp_filter_load(f, NULL, &err) < 0)
			_exit(100);
		/* The raw exit_group: ASan's _exit path makes syscalls a strict filter refuses. */
		syscall(SYS_exit_group, probe());
	}
	int status = 0;
	CHECK(waitpid(pid, &status, 0) == pid);
	return status;
}

static int exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

static char path[64];

/* errno of mkdir (0 on success). */
static int probe_mkdir(void)
{
	return mkdir(path, 0700) == 0 ? 0 : errno;
}

static int probe_uname(void)
{
	struct utsname u;
	return syscall(SYS_uname, &u) == 0 ? 0 : errno;
}

/* Bit 0: chmod 0777 refused with EPERM; bit 1: chmod 0700 refused; bit 2: chmod 0644 ok;
 * bit 3: chmod 0666 refused. The raw syscall: glibc may route chmod through fchmodat. */
static int probe_chmod(void)
{
	int bits = 0;
	if (syscall(SYS_chmod, path, 0777) < 0 && errno == EPERM)
		bits |= 1;
	if (syscall(SYS_chmod, path, 0700) < 0 && errno == EPERM)
		bits |= 2;
	if (syscall(SYS_chmod, path, 0644) == 0)
		bits |= 4;
	if (syscall(SYS_chmod, path, 0666) < 0 && errno == EPERM)
		bits |= 8;
	return bits;
}

static void test_errno_for_one_syscall(void)
{
	struct oci_seccomp_filter *f = build(
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\","
		"\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"],\"syscalls\":["
		"{\"names\":[\"mkdir\",\"mkdirat\",\"no_such_syscall_name\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":18}]}");
	if (f == NULL)
		return;
	snprintf(path, sizeof(path), "%s/made", dir);
	CHECK(exit_code(run_filtered(f, probe_mkdir)) == EXDEV);
	CHECK(access(path, F_OK) != 0);
	/* Without the filter mkdir works: the errno came from seccomp. */
	CHECK(exit_code(run_filtered(&(struct oci_seccomp_filter){0}, probe_mkdir)) == 100);
	CHECK(probe_mkdir() == 0);
	CHECK(rmdir(path) == 0);
	oci_seccomp_filter_free(f);
}

static void test_default_errno(void)
{
	/* Everything is ENOSYS except what the child needs to report. */
	struct oci_seccomp_filter *f = build(
		"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,\"syscalls\":["
		"{\"names\":[\"exit_group\",\"exit\",\"write\",\"rt_sigreturn\"],\"action\":\"SCMP_ACT_ALLOW\"}]}");
	if (f == NULL)
		return;
	CHECK(exit_code(run_filtered(f, probe_uname)) == ENOSYS);
	oci_seccomp_filter_free(f);
	/* Without errnoRet, ERRNO means EPERM. */
	f = build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"uname\"],"
		  "\"action\":\"SCMP_ACT_ERRNO\"}]}");
	if (f == NULL)
		return;
	CHECK(exit_code(run_filtered(f, probe_uname)) == EPERM);
	oci_seccomp_filter_free(f);
}

static void test_chmod_with_conditions(void)
{
	snprintf(path, sizeof(path), "%s/file", dir);
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	close(fd);
	/* Two conditions on the same argument: separate rules, either one denies. */
	struct oci_seccomp_filter *f = build(
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_TSYNC\","
		"\"SECCOMP_FILTER_FLAG_LOG\",\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"],\"syscalls\":["
		"{\"names\":[\"chmod\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":["
		"{\"index\":1,\"value\":511,\"op\":\"SCMP_CMP_EQ\"},"
		"{\"index\":1,\"value\":448,\"op\":\"SCMP_CMP_EQ\"}]}]}");
	if (f != NULL)
		CHECK(exit_code(run_filtered(f, probe_chmod)) == (1 | 2 | 4));
	oci_seccomp_filter_free(f);
	/* MASKED_EQ: (mode & 0002) == 0002, i.e. world-writable, is denied. */
	f = build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
		  "{\"names\":[\"chmod\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":["
		  "{\"index\":1,\"value\":2,\"valueTwo\":2,\"op\":\"SCMP_CMP_MASKED_EQ\"}]}]}");
	if (f != NULL)
		CHECK(exit_code(run_filtered(f, probe_chmod)) == (1 | 4 | 8));
	oci_seccomp_filter_free(f);
	/* Conditions on different arguments are ANDed: path pointer != 0 and mode > 0600. */
	f = build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
		  "{\"names\":[\"chmod\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":["
		  "{\"index\":0,\"value\":0,\"op\":\"SCMP_CMP_NE\"},"
		  "{\"index\":1,\"value\":420,\"op\":\"SCMP_CMP_GT\"}]}]}");
	if (f != NULL)
		CHECK(exit_code(run_filtered(f, probe_chmod)) == (1 | 2 | 4 | 8));
	oci_seccomp_filter_free(f);
}

static void test_kill_and_notify(void)
{
	struct oci_seccomp_filter *f = build(
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"uname\"],"
		"\"action\":\"SCMP_ACT_KILL_PROCESS\"}]}");
	if (f != NULL)
		CHECK(exit_code(run_filtered(f, probe_uname)) == -SIGSYS);
	oci_seccomp_filter_free(f);

	f = build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"uname\"],"
		  "\"action\":\"SCMP_ACT_NOTIFY\"}]}");
	if (f == NULL)
		return;
	CHECK(f->wants_listener);
	pid_t pid = fork();
	if (pid == 0) {
		struct crix_err *err = NULL;
		int listener = -1;
		if (oci_seccomp_filter_load(f, &listener, &err) < 0)
			_exit(100);
		_exit(listener >= 0 && fcntl(listener, F_GETFD) >= 0 ? 0 : 1);
	}
	int status = 0;
	CHECK(waitpid(pid, &status, 0) == pid && exit_code(status) == 0);
	oci_seccomp_filter_free(f);
}

static struct oci_seccomp *parse(const char *json)
{
	struct crix_err *err = NULL;
	struct json_object *obj = json_tokener_parse(json);
	struct oci_seccomp *spec = NULL;
	CHECK_OK(oci_seccomp_from_json(obj, "linux.seccomp", &spec, &err));
	json_object_put(obj);
	crix_err_free(&err);
	return spec;
}

/* The number of entries in d; the last one's path goes to last. */
static int list_files(const char *d, char *last, size_t size)
{
	int n = 0;
	DIR *dir = opendir(d);
	struct dirent *de;
	while (dir != NULL && (de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		snprintf(last, size, "%s/%s", d, de->d_name);
	}
	if (dir != NULL)
		closedir(dir);
	return n;
}

static bool same_program(const struct oci_seccomp_filter *a, const struct oci_seccomp_filter *b)
{
	return a != NULL && b != NULL && a->n_insns == b->n_insns && a->flags == b->flags &&
	       memcmp(a->bpf, b->bpf, a->n_insns * 8) == 0;
}

static void patch(const char *file, off_t offset, const void *bytes, size_t len)
{
	int fd = open(file, O_WRONLY);
	CHECK(fd >= 0 && pwrite(fd, bytes, len, offset) == (ssize_t)len);
	if (fd >= 0)
		close(fd);
}

static void test_cache(void)
{
	struct crix_err *err = NULL;
	char cache[128], entry[400], ignored[400];
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	struct oci_seccomp *spec = parse(
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"],"
		"\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":18}]}");
	struct oci_seccomp *other = parse(
		"{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],"
		"\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":19}]}");
	struct oci_seccomp_filter *fresh = NULL, *f = NULL;
	struct stat st;
	char byte = 0;
	if (spec == NULL || other == NULL)
		goto out;
	CHECK_OK(oci_seccomp_filter_build(spec, &fresh, &err));
	CHECK_OK(oci_seccomp_filter_build_cached(spec, cache, &f, &err));
	CHECK(same_program(fresh, f));
	CHECK(list_files(cache, entry, sizeof(entry)) == 1);
	oci_seccomp_filter_free(f);
	f = NULL;
	CHECK_OK(oci_seccomp_filter_build_cached(spec, cache, &f, &err));
	CHECK(same_program(fresh, f));
	CHECK(f != NULL && f->flags == SECCOMP_FILTER_FLAG_LOG && !f->wants_listener);
	snprintf(path, sizeof(path), "%s/made-cached", dir);
	if (f != NULL)
		CHECK(exit_code(run_filtered(f, probe_mkdir)) == EXDEV);
	oci_seccomp_filter_free(f);
	f = NULL;

	/* Another spec gets its own entry with its own program. */
	CHECK_OK(oci_seccomp_filter_build_cached(other, cache, &f, &err));
	CHECK(list_files(cache, ignored, sizeof(ignored)) == 2 && !same_program(f, fresh));
	oci_seccomp_filter_free(f);
	f = NULL;

	/* A hit returns the stored program: change its last instruction in the file. */
	CHECK(stat(entry, &st) == 0);
	patch(entry, st.st_size - 8, "\x06\0\0\0\0\0\xff\x7f", 8); /* ret ALLOW */
	CHECK_OK(oci_seccomp_filter_build_cached(spec, cache, &f, &err));
	CHECK(f != NULL && f->n_insns == fresh->n_insns && !same_program(f, fresh));
	oci_seccomp_filter_free(f);
	f = NULL;
	/* A stored key that differs is a miss: rebuilt and the entry rewritten. */
	patch(entry, 40, "X", 1); /* inside the key (after the 20-byte header) */
	CHECK_OK(oci_seccomp_filter_build_cached(spec, cache, &f, &err));
	CHECK(same_program(fresh, f));
	int fd = open(entry, O_RDONLY);
	CHECK(fd >= 0 && pread(fd, &byte, 1, 40) == 1 && byte != 'X');
	if (fd >= 0)
		close(fd);
	oci_seccomp_filter_free(f);
	f = NULL;
	/* No usable cache directory (a file is in the way): still compiled. */
	CHECK_OK(oci_seccomp_filter_build_cached(spec, entry, &f, &err));
	CHECK(same_program(fresh, f));
out:
	oci_seccomp_filter_free(fresh);
	oci_seccomp_filter_free(f);
	oci_seccomp_free(spec);
	oci_seccomp_free(other);
	crix_err_free(&err);
}

static void expect_build_error(const char *json, const char *needle)
{
	struct crix_err *err = NULL;
	struct json_object *obj = json_tokener_parse(json);
	struct oci_seccomp *spec = NULL;
	struct oci_seccomp_filter *f = NULL;

	CHECK_OK(oci_seccomp_from_json(obj, "linux.seccomp", &spec, &err));
	if (spec != NULL) {
		CHECK(oci_seccomp_filter_build(spec, &f, &err) == -1 && f == NULL);
		CHECK(strstr(crix_err_msg(err), needle) != NULL);
	}
	oci_seccomp_free(spec);
	json_object_put(obj);
	crix_err_free(&err);
}

static void test_build_errors(void)
{
	expect_build_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_Z80\"]}",
			   "unknown architecture SCMP_ARCH_Z80");
	expect_build_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_FAST\"]}",
			   "unknown flag SECCOMP_FILTER_FLAG_FAST");
	expect_build_error("{\"defaultAction\":\"SCMP_ACT_NOTIFY\"}", "cannot be the default action");
}

int main(void)
{
	struct crix_err *err = NULL;
	CHECK(mkdtemp(dir) != NULL);
	test_errno_for_one_syscall();
	test_default_errno();
	test_chmod_with_conditions();
	test_kill_and_notify();
	test_build_errors();
	test_cache();
	crix_remove_tree(dir, &err);
	crix_err_free(&err);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
