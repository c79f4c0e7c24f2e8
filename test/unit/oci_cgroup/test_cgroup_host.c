/* The cgroup manager on this host's real trees: the v1 hierarchies, a hugetlb hierarchy
 * mounted privately, and the controller-less cgroup2 at /sys/fs/cgroup/unified (directories,
 * procs, freeze, cgroup.kill and device eBPF programs work there). Needs root and a v1 memory
 * hierarchy, else exits 77 (skipped). Everything it creates is removed, on failure too. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <signal.h>
#include <stdlib.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cgroup.h"
#include "cgroup_internal.h"
#include "check.h"
#include "crix_err.h"
#include "oci_resources.h"

#define ROOT "/sys/fs/cgroup"

static char cgroups_path[64];

static const char *get(const char *dir, const char *file)
{
	static char buf[4096];
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return "<missing>";
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return buf;
}

static struct oci_resources *resources(const char *json)
{
	struct crix_err *err = NULL;
	struct json_object *obj = json_tokener_parse(json);
	struct oci_resources *r = NULL;
	CHECK_OK(oci_resources_from_json(obj, "linux.resources", &r, &err));
	json_object_put(obj);
	crix_err_free(&err);
	return r;
}

/* "MAJ:MIN" of some block device, for the throttle files. */
static void block_device(char *out, size_t size)
{
	DIR *d = opendir("/sys/block");
	struct dirent *de;
	out[0] = '\0';
	while (d != NULL && (de = readdir(d)) != NULL && out[0] == '\0') {
		char rel[300];
		if (de->d_name[0] == '.')
			continue;
		snprintf(rel, sizeof(rel), "/sys/block/%s", de->d_name);
		const char *dev = get(rel, "dev");
		if (strlen(dev) < size)
			memcpy(out, dev, strlen(dev) + 1);
		if (strchr(out, ':') == NULL)
			out[0] = '\0';
	}
	if (d != NULL)
		closedir(d);
}

/* A child that waits on a pipe, then forks `forks` sleepers, exits with the number of forks
 * that succeeded (its sleepers are killed first). */
static pid_t spawn_forker(int forks, int *go_fd)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(200);
		pid_t kids[64];
		int ok = 0;
		for (int i = 0; i < forks && i < 64; i++) {
			pid_t k = fork();
			if (k == 0) {
				pause();
				_exit(0);
			}
			if (k < 0)
				break;
			kids[ok++] = k;
		}
		for (int i = 0; i < ok; i++) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
		_exit(ok);
	}
	close(p[0]);
	*go_fd = p[1];
	return pid;
}

static void test_v1_lifecycle(void)
{
	struct crix_err *err = NULL;
	struct oci_cgroup_opts opts = {0};
	struct oci_cgroup *cg = NULL;
	enum oci_cgroup_layout layout;
	char dev[32], json[2048];
	int go = -1;

	CHECK_OK(oci_cgroup_detect(&opts, &layout, &err));
	CHECK(layout == OCI_CGROUP_HYBRID || layout == OCI_CGROUP_V1);
	block_device(dev, sizeof(dev));
	unsigned major = 0, minor = 0;
	bool has_dev = sscanf(dev, "%u:%u", &major, &minor) == 2;
	char throttle[160] = "";
	if (has_dev)
		snprintf(throttle, sizeof(throttle),
			 ",\"throttleReadBpsDevice\":[{\"major\":%u,\"minor\":%u,\"rate\":1048576}]",
			 major, minor);
	/* blkio.weight does not exist on this kernel: skipped with a debug line, not an error. */
	snprintf(json, sizeof(json),
		 "{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
		 "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":11,\"access\":\"r\"}],"
		 "\"memory\":{\"limit\":67108864,\"reservation\":33554432,\"swap\":134217728},"
		 "\"cpu\":{\"shares\":512,\"quota\":20000,\"period\":100000,\"cpus\":\"0\",\"mems\":\"0\"},"
		 "\"pids\":{\"limit\":10},"
		 "\"blockIO\":{\"weight\":500%s}}",
		 throttle);
	struct oci_resources *r = resources(json);
	if (r == NULL)
		return;
	CHECK_OK(oci_cgroup_create(&opts, cgroups_path, r, &cg, &err));
	oci_resources_free(r);
	if (cg == NULL)
		return;

	const char *mem = oci_cgroup_dir(cg, "memory");
	char want[256];
	snprintf(want, sizeof(want), ROOT "/memory%s", cgroups_path);
	CHECK_STR(mem, want);
	CHECK_STR(get(mem, "memory.limit_in_bytes"), "67108864");
	CHECK_STR(get(mem, "memory.soft_limit_in_bytes"), "33554432");
	if (access(ROOT "/memory/memory.memsw.limit_in_bytes", F_OK) == 0)
		CHECK_STR(get(mem, "memory.memsw.limit_in_bytes"), "134217728");
	CHECK_STR(get(oci_cgroup_dir(cg, "cpu"), "cpu.shares"), "512");
	CHECK_STR(get(oci_cgroup_dir(cg, "cpu"), "cpu.cfs_quota_us"), "20000");
	CHECK_STR(get(oci_cgroup_dir(cg, "cpu"), "cpu.cfs_period_us"), "100000");
	CHECK_STR(get(oci_cgroup_dir(cg, "cpuset"), "cpuset.cpus"), "0");
	CHECK_STR(get(oci_cgroup_dir(cg, "cpuset"), "cpuset.mems"), "0");
	CHECK_STR(get(oci_cgroup_dir(cg, "pids"), "pids.max"), "10");
	/* deny-all first, then the rule and runc's defaults: no "a *:* rwm" left. */
	const char *list = get(oci_cgroup_dir(cg, "devices"), "devices.list");
	CHECK(strstr(list, "a *:* rwm") == NULL);
	CHECK(strstr(list, "c 1:11 r") != NULL);
	CHECK(strstr(list, "c 1:3 rwm") != NULL);
	CHECK(strstr(list, "c 136:* rwm") != NULL);
	if (has_dev) {
		char line[64];
		snprintf(line, sizeof(line), "%u:%u 1048576", major, minor);
		CHECK_STR(get(oci_cgroup_dir(cg, "blkio"), "blkio.throttle.read_bps_device"), line);
	}

	/* A process in every hierarchy, listed, frozen and thawed, its pids limit effective. */
	pid_t child = spawn_forker(20, &go);
	CHECK(child > 0);
	CHECK_OK(oci_cgroup_enter(cg, child, &err));
	char self[64];
	snprintf(self, sizeof(self), "/proc/%d", (int)child);
	CHECK(strstr(get(self, "cgroup"), cgroups_path) != NULL);
	pid_t *pids = NULL;
	size_t n = 0;
	CHECK_OK(oci_cgroup_pids(cg, &pids, &n, &err));
	CHECK(n == 1 && pids[0] == child);
	free(pids);
	bool frozen = false;
	CHECK_OK(oci_cgroup_freeze(cg, true, &err));
	CHECK_STR(get(oci_cgroup_dir(cg, "freezer"), "freezer.state"), "FROZEN");
	CHECK_OK(oci_cgroup_is_frozen(cg, &frozen, &err));
	CHECK(frozen);
	CHECK_OK(oci_cgroup_freeze(cg, false, &err));
	CHECK_STR(get(oci_cgroup_dir(cg, "freezer"), "freezer.state"), "THAWED");
	CHECK(write(go, "g", 1) == 1);
	close(go);
	int status = 0;
	CHECK(waitpid(child, &status, 0) == child);
	/* pids.max 10 counts the forker itself: 9 sleepers, then EAGAIN. */
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 9);

	/* update changes only what is set. Growing past the old memsw needs memsw written first,
	 * shrinking below the old limit needs the limit first. */
	r = resources("{\"memory\":{\"limit\":268435456,\"swap\":536870912},\"pids\":{\"limit\":-1}}");
	CHECK_OK(oci_cgroup_update(cg, r, &err));
	oci_resources_free(r);
	CHECK_STR(get(mem, "memory.limit_in_bytes"), "268435456");
	CHECK_STR(get(mem, "memory.memsw.limit_in_bytes"), "536870912");
	r = resources("{\"memory\":{\"limit\":33554432,\"swap\":67108864}}");
	CHECK_OK(oci_cgroup_update(cg, r, &err));
	oci_resources_free(r);
	CHECK_STR(get(mem, "memory.limit_in_bytes"), "33554432");
	CHECK_STR(get(mem, "memory.memsw.limit_in_bytes"), "67108864");
	r = resources("{\"memory\":{\"limit\":-1}}"); /* unlimited memory: swap too */
	CHECK_OK(oci_cgroup_update(cg, r, &err));
	oci_resources_free(r);
	CHECK_STR(get(mem, "memory.limit_in_bytes"), "9223372036854771712");
	CHECK_STR(get(mem, "memory.memsw.limit_in_bytes"), "9223372036854771712");
	CHECK_STR(get(oci_cgroup_dir(cg, "pids"), "pids.max"), "max");
	CHECK_STR(get(oci_cgroup_dir(cg, "cpu"), "cpu.cfs_quota_us"), "20000");

	/* kill --all reaches a process that was frozen. */
	child = spawn_forker(0, &go);
	CHECK_OK(oci_cgroup_enter(cg, child, &err));
	CHECK_OK(oci_cgroup_freeze(cg, true, &err));
	CHECK_OK(oci_cgroup_kill(cg, SIGKILL, &err));
	CHECK(waitpid(child, &status, 0) == child);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(go);

	/* A reloaded handle finds the same directories; destroy removes them all, killing what
	 * still runs there. */
	child = spawn_forker(0, &go);
	CHECK_OK(oci_cgroup_enter(cg, child, &err));
	struct oci_cgroup *again = NULL;
	CHECK_OK(oci_cgroup_load(&opts, cgroups_path, &again, &err));
	if (again != NULL) {
		CHECK(again->n_dirs == cg->n_dirs);
		CHECK_OK(oci_cgroup_destroy(again, &err));
		oci_cgroup_free(again);
	}
	CHECK(waitpid(child, &status, 0) == child);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(go);
	struct stat st;
	for (size_t i = 0; i < cg->n_dirs; i++)
		CHECK(stat(cg->dirs[i].path, &st) < 0 && errno == ENOENT);
	oci_cgroup_free(cg);
	crix_err_free(&err);
}

/* A relative cgroupsPath lands under the caller's own cgroup of each hierarchy. */
static void test_v1_relative_path(void)
{
	struct crix_err *err = NULL;
	struct oci_cgroup *cg = NULL;
	char rel[64];
	snprintf(rel, sizeof(rel), "crix-rel-%d", (int)getpid());
	CHECK_OK(oci_cgroup_create(NULL, rel, NULL, &cg, &err));
	if (cg == NULL)
		return;
	/* /proc/self/cgroup "4:memory:/process_api/abc" -> <root>/memory/process_api/abc/<rel> */
	char line[512], want[1024];
	FILE *f = fopen("/proc/self/cgroup", "r");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		char *ctrl = strchr(line, ':'), *own = ctrl != NULL ? strchr(ctrl + 1, ':') : NULL;
		if (own == NULL || strncmp(ctrl + 1, "memory:", 7) != 0)
			continue;
		own[strcspn(own, "\n")] = '\0';
		snprintf(want, sizeof(want), ROOT "/memory%s/%s", strcmp(own + 1, "/") == 0 ? "" : own + 1, rel);
		CHECK_STR(oci_cgroup_dir(cg, "memory"), want);
	}
	if (f != NULL)
		fclose(f);
	struct stat st;
	CHECK(stat(oci_cgroup_dir(cg, "memory"), &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_OK(oci_cgroup_destroy(cg, &err));
	CHECK(stat(oci_cgroup_dir(cg, "memory"), &st) < 0);
	oci_cgroup_free(cg);
	crix_err_free(&err);
}

/* hugetlb is not mounted on this host (crun wants it): mount it in a private mount namespace
 * under a temp dir and point the manager there, which also shows the root parameter working on
 * a real tree. Runs in a child; returns its failure count. */
static int hugetlb_in_private_root(const char *root)
{
	struct crix_err *err = NULL;
	struct oci_cgroup_opts opts = {.root = root};
	struct oci_cgroup *cg = NULL;
	enum oci_cgroup_layout layout = OCI_CGROUP_UNIFIED;
	char dir[300], path[64];

	snprintf(dir, sizeof(dir), "%s/hugetlb", root);
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("cgroup", dir, "cgroup", 0, "hugetlb") < 0) {
		fprintf(stderr, "mount hugetlb: %s\n", strerror(errno));
		return 1;
	}
	CHECK_OK(oci_cgroup_detect(&opts, &layout, &err));
	CHECK(layout == OCI_CGROUP_V1);
	snprintf(path, sizeof(path), "/crix-hugetlb-%d", (int)getppid());
	struct oci_resources *r = resources("{\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":4194304}]}");
	CHECK_OK(oci_cgroup_create(&opts, path, r, &cg, &err));
	oci_resources_free(r);
	if (cg != NULL) {
		CHECK(cg->n_dirs == 1);
		CHECK_STR(get(oci_cgroup_dir(cg, "hugetlb"), "hugetlb.2MB.limit_in_bytes"), "4194304");
		CHECK_OK(oci_cgroup_destroy(cg, &err));
		oci_cgroup_free(cg);
	}
	/* A size the kernel does not have is an error naming the file. */
	r = resources("{\"hugepageLimits\":[{\"pageSize\":\"3MB\",\"limit\":1}]}");
	CHECK(oci_cgroup_create(&opts, path, r, &cg, &err) == -1);
	CHECK(strstr(crix_err_msg(err), "hugetlb.3MB.limit_in_bytes") != NULL);
	oci_resources_free(r);
	CHECK(umount(dir) == 0);
	crix_err_free(&err);
	return failures;
}

static void test_v1_hugetlb(void)
{
	char root[] = "/tmp/crix-cgroot-XXXXXX", dir[64];
	if (access("/sys/kernel/mm/hugepages/hugepages-2048kB", F_OK) != 0) {
		fprintf(stderr, "no 2 MB huge pages: hugetlb test skipped\n");
		return;
	}
	CHECK(mkdtemp(root) != NULL);
	snprintf(dir, sizeof(dir), "%s/hugetlb", root);
	CHECK(mkdir(dir, 0755) == 0);
	pid_t pid = fork();
	if (pid == 0)
		_exit(hugetlb_in_private_root(root) ? 1 : 0);
	int status = 0;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(rmdir(dir) == 0 && rmdir(root) == 0);
}

/* Forks a child that the caller moves into a cgroup2 dir; it then opens /dev/null for reading
 * and /dev/kmsg with `kmsg_flags`, and exits with 0 when null opened and kmsg gave
 * `kmsg_errno` (0 = opened), 1 otherwise. */
static int run_in_cgroup2(const char *dir, int kmsg_flags, int kmsg_errno)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(2);
		int null_fd = open("/dev/null", O_RDONLY);
		int kmsg_fd = open("/dev/kmsg", kmsg_flags);
		int got = kmsg_fd >= 0 ? 0 : errno;
		_exit(null_fd >= 0 && got == kmsg_errno ? 0 : 1);
	}
	close(p[0]);
	char path[256], num[16];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(num, sizeof(num), "%d", (int)pid);
	int fd = open(path, O_WRONLY);
	CHECK(fd >= 0 && write(fd, num, strlen(num)) == (ssize_t)strlen(num));
	if (fd >= 0)
		close(fd);
	CHECK(write(p[1], "g", 1) == 1);
	close(p[1]);
	int status = 0;
	CHECK(waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static uint32_t attached_programs(int dir_fd)
{
	uint32_t ids[8];
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.query.target_fd = (uint32_t)dir_fd;
	attr.query.attach_type = BPF_CGROUP_DEVICE;
	attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
	attr.query.prog_cnt = 8;
	if (syscall(SYS_bpf, BPF_PROG_QUERY, &attr, sizeof(attr)) < 0)
		return 99;
	return attr.query.prog_cnt;
}

static int attach_rules(int dir_fd, const char *json)
{
	struct crix_err *err = NULL;
	struct oci_resources *r = resources(json);
	struct oci_device_rule *rules = NULL;
	void *insns = NULL;
	size_t n_rules = 0, n_insns = 0;
	int ret = -1;

	if (r != NULL && cg_device_rules(r, &rules, &n_rules, &err) == 0 &&
	    oci_cgroup_devices_bpf_build(rules, n_rules, &insns, &n_insns, &err) == 0)
		ret = oci_cgroup_devices_bpf_attach(dir_fd, insns, n_insns, &err);
	if (ret < 0)
		fprintf(stderr, "attach_rules: %s\n", crix_err_msg(err));
	free(insns);
	free(rules);
	oci_resources_free(r);
	crix_err_free(&err);
	return ret;
}

/* The v2 device program for real: /sys/fs/cgroup/unified is a cgroup2 mount without
 * controllers, but device programs attach to any cgroup2 directory. */
static void test_v2_device_program(void)
{
	char dir[128];
	snprintf(dir, sizeof(dir), ROOT "/unified/crix-bpf-%d", (int)getpid());
	if (access(ROOT "/unified/cgroup.procs", F_OK) != 0) {
		fprintf(stderr, "no cgroup2 at " ROOT "/unified: device program test skipped\n");
		return;
	}
	CHECK(mkdir(dir, 0755) == 0);
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	/* Deny all: only runc's defaults (null, zero, ...) remain; /dev/kmsg (c 1:11) is refused. */
	CHECK(attach_rules(fd, "{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]}") == 0);
	CHECK(attached_programs(fd) == 1);
	CHECK(run_in_cgroup2(dir, O_RDONLY, EPERM) == 0);
	/* Replaced by a program allowing reads of /dev/kmsg only: still one program attached. */
	CHECK(attach_rules(fd, "{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
			       "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":11,\"access\":\"r\"}]}") == 0);
	CHECK(attached_programs(fd) == 1);
	CHECK(run_in_cgroup2(dir, O_RDONLY, 0) == 0);
	CHECK(run_in_cgroup2(dir, O_WRONLY, EPERM) == 0);
	/* Last match wins: a later deny of c 1:* overrides the earlier allow. */
	CHECK(attach_rules(fd, "{\"devices\":[{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":11},"
			       "{\"allow\":false,\"type\":\"c\",\"major\":1}]}") == 0);
	CHECK(run_in_cgroup2(dir, O_RDONLY, EPERM) == 0);
	close(fd);
	CHECK(rmdir(dir) == 0);
}

/* The whole v2 path on a real cgroup2 tree: /sys/fs/cgroup/unified has no controllers, but
 * directories, cgroup.procs, cgroup.freeze, cgroup.kill and device programs all work there. */
static void test_v2_lifecycle_on_unified_mount(void)
{
	struct crix_err *err = NULL;
	struct oci_cgroup_opts opts = {.root = ROOT "/unified"};
	struct oci_cgroup *cg = NULL;
	enum oci_cgroup_layout layout = OCI_CGROUP_V1;
	char path[64];
	int go = -1, status = 0;

	if (access(ROOT "/unified/cgroup.freeze", F_OK) != 0 && access(ROOT "/unified/cgroup.procs", F_OK) != 0) {
		fprintf(stderr, "no cgroup2 at " ROOT "/unified: v2 lifecycle test skipped\n");
		return;
	}
	CHECK_OK(oci_cgroup_detect(&opts, &layout, &err));
	CHECK(layout == OCI_CGROUP_UNIFIED);
	snprintf(path, sizeof(path), "/crix-v2-%d", (int)getpid());
	struct oci_resources *r = resources("{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]}");
	CHECK_OK(oci_cgroup_create(&opts, path, r, &cg, &err));
	oci_resources_free(r);
	if (cg == NULL)
		return;
	const char *dir = oci_cgroup_dir(cg, "");
	CHECK(run_in_cgroup2(dir, O_RDONLY, EPERM) == 0);
	r = resources("{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
		      "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":11,\"access\":\"r\"}]}");
	CHECK_OK(oci_cgroup_update(cg, r, &err));
	oci_resources_free(r);
	CHECK(run_in_cgroup2(dir, O_RDONLY, 0) == 0);

	pid_t child = spawn_forker(0, &go);
	CHECK_OK(oci_cgroup_enter(cg, child, &err));
	pid_t *pids = NULL;
	size_t n = 0;
	CHECK_OK(oci_cgroup_pids(cg, &pids, &n, &err));
	CHECK(n == 1 && pids != NULL && pids[0] == child);
	free(pids);
	bool frozen = false;
	CHECK_OK(oci_cgroup_freeze(cg, true, &err));
	CHECK_OK(oci_cgroup_is_frozen(cg, &frozen, &err));
	CHECK(frozen && strstr(get(dir, "cgroup.events"), "frozen 1") != NULL);
	CHECK_OK(oci_cgroup_freeze(cg, false, &err));
	CHECK_OK(oci_cgroup_is_frozen(cg, &frozen, &err));
	CHECK(!frozen);
	CHECK_OK(oci_cgroup_kill(cg, SIGKILL, &err)); /* through cgroup.kill */
	CHECK(waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(go);
	CHECK_OK(oci_cgroup_destroy(cg, &err));
	struct stat st;
	CHECK(stat(dir, &st) < 0 && errno == ENOENT);
	oci_cgroup_free(cg);
	crix_err_free(&err);
}

/* Leaves nothing behind even when a check failed half-way. */
static void cleanup(void)
{
	struct crix_err *err = NULL;
	struct oci_cgroup *cg = NULL;
	if (oci_cgroup_load(NULL, cgroups_path, &cg, &err) == 0) {
		oci_cgroup_freeze(cg, false, &err);
		oci_cgroup_kill(cg, SIGKILL, &err);
		if (oci_cgroup_destroy(cg, &err) < 0)
			fprintf(stderr, "cleanup: %s\n", crix_err_msg(err));
		oci_cgroup_free(cg);
	}
	char dir[128];
	snprintf(dir, sizeof(dir), "crix-rel-%d", (int)getpid());
	if (oci_cgroup_load(NULL, dir, &cg, &err) == 0) {
		oci_cgroup_destroy(cg, &err);
		oci_cgroup_free(cg);
	}
	snprintf(dir, sizeof(dir), ROOT "/unified/crix-bpf-%d", (int)getpid());
	rmdir(dir);
	struct oci_cgroup_opts unified = {.root = ROOT "/unified"};
	snprintf(dir, sizeof(dir), "/crix-v2-%d", (int)getpid());
	if (oci_cgroup_load(&unified, dir, &cg, &err) == 0) {
		oci_cgroup_destroy(cg, &err);
		oci_cgroup_free(cg);
	}
	crix_err_free(&err);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(void)
{
	if (geteuid() != 0 || access(ROOT "/memory/memory.limit_in_bytes", F_OK) != 0) {
		fprintf(stderr, "needs root and cgroup v1 hierarchies under " ROOT "\n");
		return 77;
	}
	snprintf(cgroups_path, sizeof(cgroups_path), "/crix-test-%d", (int)getpid());
	test_v1_lifecycle();
	test_v1_relative_path();
	test_v1_hugetlb();
	test_v2_device_program();
	test_v2_lifecycle_on_unified_mount();
	cleanup();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
