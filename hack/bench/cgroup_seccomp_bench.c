/* Driver for hack/bench/cgroup_seccomp: prints p50/p90 in milliseconds. */
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cgroup.h"
#include "crix_file.h"
#include "oci_seccomp.h"
#include "seccomp_filter.h"

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, double *t, int n)
{
	qsort(t, (size_t)n, sizeof(*t), by_value);
	printf("%-34s p50 %8.3f ms   p90 %8.3f ms\n", what, t[n / 2], t[n * 9 / 10]);
}

static void fail(struct crix_err *err)
{
	fprintf(stderr, "%s\n", crix_err_msg(err));
	exit(1);
}

static void bench_cgroup(int rounds)
{
	double *create = calloc((size_t)rounds, sizeof(double)), *enter = calloc((size_t)rounds, sizeof(double)),
	       *destroy = calloc((size_t)rounds, sizeof(double));
	struct crix_err *err = NULL;
	for (int i = 0; i < rounds; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/crix-bench-cgroup/%d-%d", (int)getpid(), i);
		pid_t pid = fork();
		if (pid == 0) {
			pause();
			_exit(0);
		}
		struct oci_cgroup *cg = NULL;
		double t0 = now_ms();
		if (oci_cgroup_create(NULL, path, NULL, &cg, &err) < 0)
			fail(err);
		double t1 = now_ms();
		if (oci_cgroup_enter(cg, pid, &err) < 0)
			fail(err);
		double t2 = now_ms();
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		double t3 = now_ms();
		if (oci_cgroup_destroy(cg, &err) < 0)
			fail(err);
		destroy[i] = now_ms() - t3;
		create[i] = t1 - t0;
		enter[i] = t2 - t1;
		if (i == 0)
			printf("cgroup: %zu hierarchies\n", cg->n_dirs);
		oci_cgroup_free(cg);
	}
	report("cgroup create (mkdir, cpuset)", create, rounds);
	report("cgroup enter (first attach)", enter, rounds);
	report("cgroup destroy", destroy, rounds);
	struct oci_cgroup *parent = NULL;
	if (oci_cgroup_load(NULL, "/crix-bench-cgroup", &parent, &err) == 0)
		oci_cgroup_destroy(parent, &err);
	oci_cgroup_free(parent);
	free(create);
	free(enter);
	free(destroy);
}

/* Default action ERRNO, every syscall the native arch knows allowed, plus two arg rules in
 * the style of Docker's profile. */
static struct oci_seccomp *docker_like_profile(int *n_names)
{
	struct json_object *o = json_tokener_parse(
		"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":[\"SCMP_ARCH_X86_64\","
		"\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"],\"syscalls\":["
		"{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":0,\"op\":\"SCMP_CMP_EQ\"}]},"
		"{\"names\":[\"clone\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":2114060288,\"op\":\"SCMP_CMP_MASKED_EQ\"}]}]}");
	struct json_object *syscalls = json_object_object_get(o, "syscalls");
	struct json_object *rule = json_object_new_object(), *names = json_object_new_array();
	*n_names = 0;
	for (int nr = 0; nr < 1024; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		if (name != NULL && strcmp(name, "clone") != 0 && strcmp(name, "personality") != 0) {
			json_object_array_add(names, json_object_new_string(name));
			(*n_names)++;
		}
		free(name);
	}
	json_object_object_add(rule, "names", names);
	json_object_object_add(rule, "action", json_object_new_string("SCMP_ACT_ALLOW"));
	json_object_array_add(syscalls, rule);
	struct crix_err *err = NULL;
	struct oci_seccomp *spec = NULL;
	if (oci_seccomp_from_json(o, "linux.seccomp", &spec, &err) < 0)
		fail(err);
	json_object_put(o);
	return spec;
}

static void bench_seccomp(int rounds)
{
	double *t = calloc((size_t)rounds, sizeof(double));
	struct crix_err *err = NULL;
	int n_names = 0;
	struct oci_seccomp *spec = docker_like_profile(&n_names);
	char cache[] = "/tmp/crix-bench-seccomp-XXXXXX";
	size_t n_insns = 0;

	for (int i = 0; i < rounds; i++) {
		struct oci_seccomp_filter *f = NULL;
		double t0 = now_ms();
		if (oci_seccomp_filter_build(spec, &f, &err) < 0)
			fail(err);
		t[i] = now_ms() - t0;
		n_insns = f->n_insns;
		oci_seccomp_filter_free(f);
	}
	printf("seccomp: %d syscalls allowed, %zu BPF instructions\n", n_names, n_insns);
	report("seccomp compile (libseccomp)", t, rounds);
	if (mkdtemp(cache) == NULL)
		return;
	for (int i = 0; i < rounds; i++) {
		struct oci_seccomp_filter *f = NULL;
		double t0 = now_ms();
		if (oci_seccomp_filter_build_cached(spec, cache, &f, &err) < 0)
			fail(err);
		t[i] = now_ms() - t0;
		oci_seccomp_filter_free(f);
	}
	printf("%-34s %8.3f ms\n", "seccomp first build + cache write", t[0]);
	report("seccomp from the cache", t + 1, rounds - 1);
	crix_remove_tree(cache, &err);
	oci_seccomp_free(spec);
	free(t);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 50;
	if (rounds < 2)
		rounds = 2;
	bench_cgroup(rounds);
	bench_seccomp(rounds);
	return 0;
}
