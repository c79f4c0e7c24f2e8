/* The cgroup v2 code against a fake cgroup2 tree in a temp dir: the interface files a real
 * kernel would create on mkdir are pre-created, then create/update/enter/freeze must leave
 * exactly the expected values in them. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cgroup.h"
#include "check.h"
#include "crix_err.h"
#include "crix_file.h"
#include "oci_resources.h"

static char root[] = "/tmp/crix-cgv2-XXXXXX";

static void put(const char *rel, const char *content)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
		close(fd);
	}
}

/* Content of root/rel without the trailing newline ("<missing>" when absent). */
static const char *get(const char *rel)
{
	static char buf[512];
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return "<missing>";
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void make_dir(const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	CHECK(mkdir(path, 0755) == 0);
}

/* What the kernel shows in a new cgroup with these controllers enabled. */
static const char *const interface_files[] = {
	"cgroup.procs", "cgroup.freeze", "cgroup.subtree_control", "cgroup.controllers",
	"memory.max", "memory.low", "memory.high", "memory.swap.max", "cpu.max", "cpu.weight",
	"cpuset.cpus", "cpuset.mems", "pids.max", "io.weight", "io.max", "hugetlb.2MB.max", NULL};

static void make_cgroup(const char *rel)
{
	char file[256];
	make_dir(rel);
	for (const char *const *f = interface_files; *f != NULL; f++) {
		snprintf(file, sizeof(file), "%s/%s", rel, *f);
		put(file, "");
	}
	snprintf(file, sizeof(file), "%s/cgroup.events", rel);
	put(file, "populated 1\nfrozen 1\n");
}

static struct oci_resources *resources(const char *json)
{
	struct crix_err *err = NULL;
	struct json_object *obj = json_tokener_parse(json);
	struct oci_resources *r = NULL;
	CHECK(obj != NULL);
	CHECK_OK(oci_resources_from_json(obj, "linux.resources", &r, &err));
	json_object_put(obj);
	crix_err_free(&err);
	return r;
}

static void setup_tree(void)
{
	CHECK(mkdtemp(root) != NULL);
	put("cgroup.controllers", "cpuset cpu io memory hugetlb pids");
	put("cgroup.subtree_control", "");
	put("cgroup.procs", "");
	make_dir("crix");
	put("crix/cgroup.controllers", "cpuset cpu io memory hugetlb pids");
	put("crix/cgroup.subtree_control", "cpuset cpu io memory pids");
	make_cgroup("crix/c1");
}

static void test_create_applies_limits(void)
{
	struct crix_err *err = NULL;
	struct oci_cgroup_opts opts = {.root = root};
	struct oci_cgroup *cg = NULL;
	enum oci_cgroup_layout layout = OCI_CGROUP_V1;

	CHECK_OK(oci_cgroup_detect(&opts, &layout, &err));
	CHECK(layout == OCI_CGROUP_UNIFIED);
	struct oci_resources *r = resources(
		"{\"memory\":{\"limit\":536870912,\"reservation\":268435456,\"swap\":1073741824},"
		"\"cpu\":{\"shares\":1024,\"quota\":50000,\"period\":100000,\"cpus\":\"0-1\",\"mems\":\"0\"},"
		"\"pids\":{\"limit\":32},"
		"\"blockIO\":{\"weight\":500,\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0,\"rate\":1048576}],"
		"\"throttleWriteIOPSDevice\":[{\"major\":8,\"minor\":0,\"rate\":100}]},"
		"\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":209715200}],"
		"\"unified\":{\"memory.high\":\"400000000\"}}");
	CHECK_OK(oci_cgroup_create(&opts, "/crix/c1", r, &cg, &err));
	oci_resources_free(r);
	if (cg == NULL)
		return;
	CHECK_STR(get("crix/c1/memory.max"), "536870912");
	CHECK_STR(get("crix/c1/memory.low"), "268435456");
	/* OCI swap is memory+swap: 1 GiB - 512 MiB of swap alone. */
	CHECK_STR(get("crix/c1/memory.swap.max"), "536870912");
	CHECK_STR(get("crix/c1/cpu.max"), "50000 100000");
	/* crun: 1 + ((1024 - 2) * 9999) / 262142 */
	CHECK_STR(get("crix/c1/cpu.weight"), "39");
	CHECK_STR(get("crix/c1/cpuset.cpus"), "0-1");
	CHECK_STR(get("crix/c1/cpuset.mems"), "0");
	CHECK_STR(get("crix/c1/pids.max"), "32");
	/* runc: 1 + (500 - 10) * 9999 / 990 */
	CHECK_STR(get("crix/c1/io.weight"), "default 4950");
	CHECK_STR(get("crix/c1/io.max"), "8:0 rbps=1048576 wiops=100");
	CHECK_STR(get("crix/c1/hugetlb.2MB.max"), "209715200");
	CHECK_STR(get("crix/c1/memory.high"), "400000000");
	/* Controllers are enabled on the way down, one write each (the fake keeps the last);
	 * those already enabled are not written again. */
	CHECK_STR(get("cgroup.subtree_control"), "+pids");
	CHECK_STR(get("crix/cgroup.subtree_control"), "+hugetlb");
	CHECK_STR(get("crix/c1/cgroup.subtree_control"), "");

	/* update: only what is set changes; -1 means "max". */
	r = resources("{\"memory\":{\"limit\":-1},\"cpu\":{\"quota\":-1},\"pids\":{\"limit\":-1}}");
	CHECK_OK(oci_cgroup_update(cg, r, &err));
	oci_resources_free(r);
	CHECK_STR(get("crix/c1/memory.max"), "max");
	CHECK_STR(get("crix/c1/memory.swap.max"), "max");
	CHECK_STR(get("crix/c1/cpu.max"), "max 100000");
	CHECK_STR(get("crix/c1/pids.max"), "max");
	CHECK_STR(get("crix/c1/cpu.weight"), "39");
	/* cpu.max carries quota and period: setting one keeps the other. */
	r = resources("{\"cpu\":{\"period\":50000}}");
	CHECK_OK(oci_cgroup_update(cg, r, &err));
	oci_resources_free(r);
	CHECK_STR(get("crix/c1/cpu.max"), "max 50000");
	r = resources("{\"cpu\":{\"quota\":25000}}");
	CHECK_OK(oci_cgroup_update(cg, r, &err));
	oci_resources_free(r);
	CHECK_STR(get("crix/c1/cpu.max"), "25000 50000");

	CHECK_OK(oci_cgroup_enter(cg, 4242, &err));
	CHECK_STR(get("crix/c1/cgroup.procs"), "4242");
	pid_t *pids = NULL;
	size_t n = 0;
	put("crix/c1/cgroup.procs", "4242\n4243\n");
	CHECK_OK(oci_cgroup_pids(cg, &pids, &n, &err));
	CHECK(n == 2 && pids != NULL && pids[0] == 4242 && pids[1] == 4243);
	free(pids);

	bool frozen = false;
	CHECK_OK(oci_cgroup_freeze(cg, true, &err));
	CHECK_STR(get("crix/c1/cgroup.freeze"), "1");
	CHECK_OK(oci_cgroup_is_frozen(cg, &frozen, &err));
	CHECK(frozen);
	put("crix/c1/cgroup.events", "populated 1\nfrozen 0\n");
	CHECK_OK(oci_cgroup_freeze(cg, false, &err));
	CHECK_STR(get("crix/c1/cgroup.freeze"), "0");
	CHECK_OK(oci_cgroup_is_frozen(cg, &frozen, &err));
	CHECK(!frozen);
	oci_cgroup_free(cg);
	crix_err_free(&err);
}

static void expect_update_error(struct oci_cgroup *cg, const char *json, const char *needle)
{
	struct crix_err *err = NULL;
	struct oci_resources *r = resources(json);
	if (r == NULL)
		return;
	CHECK(oci_cgroup_update(cg, r, &err) == -1);
	if (strstr(crix_err_msg(err), needle) == NULL) {
		fprintf(stderr, "error \"%s\" lacks \"%s\"\n", crix_err_msg(err), needle);
		failures++;
	}
	oci_resources_free(r);
	crix_err_free(&err);
}

static void test_errors(void)
{
	struct crix_err *err = NULL;
	struct oci_cgroup_opts opts = {.root = root};
	struct oci_cgroup *cg = NULL;

	CHECK_OK(oci_cgroup_load(&opts, "/crix/c1", &cg, &err));
	if (cg == NULL)
		return;
	expect_update_error(cg, "{\"unified\":{\"../memory.max\":\"1\"}}", "invalid key \"../memory.max\"");
	expect_update_error(cg, "{\"unified\":{\"..\":\"1\"}}", "invalid key \"..\"");
	expect_update_error(cg, "{\"memory\":{\"limit\":1000,\"swap\":500}}", "below memory.limit");
	expect_update_error(cg, "{\"memory\":{\"swap\":5000}}", "needs a memory.limit");
	expect_update_error(cg, "{\"unified\":{\"nosuch.file\":\"1\"}}", "nosuch.file");
	/* A controller that is not enabled has no file: the error names it. */
	expect_update_error(cg, "{\"hugepageLimits\":[{\"pageSize\":\"1GB\",\"limit\":1}]}",
			    "hugetlb.1GB.max: No such file");
	oci_cgroup_free(cg);

	CHECK(oci_cgroup_create(&opts, "/crix/../etc", NULL, &cg, &err) == -1);
	CHECK(err != NULL && strstr(err->msg, "\"..\" are not allowed") != NULL);
	CHECK(oci_cgroup_create(&opts, "", NULL, &cg, &err) == -1);
	CHECK(oci_cgroup_create(&opts, "/", NULL, &cg, &err) == -1);
	crix_err_free(&err);
}

static void test_relative_path_and_destroy(void)
{
	struct crix_err *err = NULL;
	char self[600];
	snprintf(self, sizeof(self), "%s/self-cgroup", root);
	put("self-cgroup", "0::/user.slice/session\n");
	make_dir("user.slice");
	make_dir("user.slice/session");
	struct oci_cgroup_opts opts = {.root = root, .self_cgroup = self};
	struct oci_cgroup *cg = NULL;

	CHECK_OK(oci_cgroup_create(&opts, "pod//c2/", NULL, &cg, &err));
	if (cg == NULL)
		return;
	char want[600];
	snprintf(want, sizeof(want), "%s/user.slice/session/pod/c2", root);
	CHECK_STR(oci_cgroup_dir(cg, ""), want);
	struct stat st;
	CHECK(stat(want, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_OK(oci_cgroup_destroy(cg, &err));
	CHECK(stat(want, &st) < 0 && errno == ENOENT);
	/* Destroying again is fine; the parent it made stays. */
	CHECK_OK(oci_cgroup_destroy(cg, &err));
	snprintf(want, sizeof(want), "%s/user.slice/session/pod", root);
	CHECK(stat(want, &st) == 0);
	oci_cgroup_free(cg);
}

int main(void)
{
	struct crix_err *err = NULL;
	setup_tree();
	test_create_applies_limits();
	test_errors();
	test_relative_path_and_destroy();
	crix_remove_tree(root, &err);
	crix_err_free(&err);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
