/* oci_spec: parse, emit, unknown fields kept, type errors naming JSON paths, every failed
 * allocation while emitting reported. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci_resources.h"
#include "oci_seccomp.h"
#include "oci_spec.h"

#include "check.h"
#include "json_fail.h"

static const char full_json[] =
	"{\"ociVersion\": \"1.2.0\", \"x-vendor\": {\"keep\": [1, 2]},"
	" \"process\": {\"terminal\": true, \"consoleSize\": {\"height\": 24, \"width\": 80},"
	"  \"user\": {\"uid\": 1000, \"gid\": 1001, \"umask\": 18, \"additionalGids\": [5, 6]},"
	"  \"args\": [\"sh\", \"-c\", \"true\"], \"env\": [\"PATH=/bin\"], \"cwd\": \"/tmp\","
	"  \"capabilities\": {\"bounding\": [\"CAP_KILL\"], \"effective\": []},"
	"  \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 18446744073709551615, \"soft\": 1024}],"
	"  \"noNewPrivileges\": true, \"oomScoreAdj\": -5, \"apparmorProfile\": \"p\","
	"  \"selinuxLabel\": \"l\", \"ioPriority\": {\"class\": \"IOPRIO_CLASS_IDLE\"}},"
	" \"root\": {\"path\": \"rootfs\", \"readonly\": true},"
	" \"hostname\": \"h\", \"domainname\": \"d\","
	" \"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},"
	"  {\"destination\": \"/data\", \"source\": \"/src\", \"options\": [\"rbind\", \"ro\"],"
	"   \"uidMappings\": [{\"containerID\": 0, \"hostID\": 1, \"size\": 1}]}],"
	" \"hooks\": {\"prestart\": [{\"path\": \"/bin/hook\", \"args\": [\"hook\", \"a\"], \"timeout\": 5}],"
	"  \"poststop\": [{\"path\": \"/bin/stop\"}]},"
	" \"annotations\": {\"a\": \"1\", \"b\": \"2\"},"
	" \"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"network\", \"path\": \"/run/netns/x\"},"
	"   {\"type\": \"time\"}],"
	"  \"uidMappings\": [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}],"
	"  \"gidMappings\": [{\"containerID\": 0, \"hostID\": 200000, \"size\": 65536}],"
	"  \"devices\": [{\"path\": \"/dev/fuse\", \"type\": \"c\", \"major\": 10, \"minor\": 229,"
	"   \"fileMode\": 438, \"uid\": 0, \"gid\": 0}],"
	"  \"cgroupsPath\": \"/crix/x\", \"resources\": {\"memory\": {\"limit\": 1048576},"
	"   \"pids\": {\"limit\": 10}},"
	"  \"sysctl\": {\"net.ipv4.ip_forward\": \"1\"},"
	"  \"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\"],"
	"   \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1}]},"
	"  \"maskedPaths\": [\"/proc/kcore\"], \"readonlyPaths\": [\"/proc/sys\"],"
	"  \"rootfsPropagation\": \"rprivate\", \"mountLabel\": \"m\","
	"  \"personality\": {\"domain\": \"LINUX\"},"
	"  \"timeOffsets\": {\"monotonic\": {\"secs\": 86400, \"nanosecs\": 5}},"
	"  \"intelRdt\": {\"closID\": \"x\"}}}";

static void check_full(const struct oci_spec *s)
{
	CHECK(strcmp(s->oci_version, "1.2.0") == 0);
	const struct oci_process *p = s->process;
	CHECK(p != NULL);
	if (p == NULL)
		return;
	CHECK(p->terminal && p->has_console_size && p->console_height == 24 && p->console_width == 80);
	CHECK(p->user.uid == 1000 && p->user.gid == 1001 && p->user.has_umask && p->user.umask == 18);
	CHECK(p->user.n_additional_gids == 2 && p->user.additional_gids[1] == 6);
	CHECK(crix_strv_len(p->args) == 3 && strcmp(p->args[2], "true") == 0);
	CHECK(strcmp(p->cwd, "/tmp") == 0);
	CHECK(p->capabilities && crix_strv_len(p->capabilities->bounding) == 1);
	CHECK(p->capabilities && p->capabilities->effective && p->capabilities->effective[0] == NULL);
	CHECK(p->capabilities && p->capabilities->ambient == NULL);
	CHECK(p->n_rlimits == 1 && p->rlimits[0].hard == UINT64_MAX && p->rlimits[0].soft == 1024);
	CHECK(p->no_new_privileges && p->has_oom_score_adj && p->oom_score_adj == -5);
	CHECK(s->root && s->root->readonly && strcmp(s->root->path, "rootfs") == 0);
	CHECK(strcmp(s->hostname, "h") == 0 && strcmp(s->domainname, "d") == 0);
	CHECK(s->n_mounts == 2 && s->mounts[0].options == NULL && s->mounts[1].type == NULL);
	CHECK(crix_strv_len(s->mounts[1].options) == 2);
	CHECK(s->has_hooks && s->hooks[OCI_HOOK_PRESTART].n == 1);
	CHECK(s->hooks[OCI_HOOK_PRESTART].hooks[0].has_timeout &&
	      s->hooks[OCI_HOOK_PRESTART].hooks[0].timeout == 5);
	CHECK(s->hooks[OCI_HOOK_POSTSTOP].n == 1 && s->hooks[OCI_HOOK_POSTSTART].n == 0);
	CHECK(s->n_annotations == 2 && strcmp(s->annotations[1].key, "b") == 0);
	const struct oci_linux *l = s->linux;
	CHECK(l != NULL);
	if (l == NULL)
		return;
	CHECK(l->n_namespaces == 3 && l->namespaces[1].type == OCI_NS_NETWORK);
	CHECK(strcmp(oci_spec_namespace(s, OCI_NS_NETWORK)->path, "/run/netns/x") == 0);
	CHECK(oci_spec_namespace(s, OCI_NS_USER) == NULL);
	CHECK(l->n_uid_mappings == 1 && l->uid_mappings[0].host_id == 100000);
	CHECK(l->n_gid_mappings == 1 && l->gid_mappings[0].size == 65536);
	CHECK(l->n_devices == 1 && l->devices[0].type == 'c' && l->devices[0].minor == 229 &&
	      l->devices[0].has_file_mode && l->devices[0].file_mode == 0666);
	CHECK(strcmp(l->cgroups_path, "/crix/x") == 0);
	CHECK(l->resources && l->resources->memory && l->resources->memory->limit == 1048576);
	CHECK(l->resources && l->resources->has_pids_limit && l->resources->pids_limit == 10);
	CHECK(l->seccomp && l->seccomp->n_syscalls == 1);
	CHECK(l->n_sysctl == 1 && strcmp(l->sysctl[0].value, "1") == 0);
	CHECK(crix_strv_len(l->masked_paths) == 1 && crix_strv_len(l->readonly_paths) == 1);
	CHECK(strcmp(l->rootfs_propagation, "rprivate") == 0);
	CHECK(l->has_personality && strcmp(l->personality_domain, "LINUX") == 0);
	CHECK(l->time_monotonic.set && l->time_monotonic.secs == 86400 && !l->time_boottime.set);
}

static struct json_object *dig(struct json_object *o, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, (size_t)atoi(k));
		else if (!json_object_object_get_ex(o, k, &o))
			o = NULL;
	}
	return o;
}

static void test_full_round_trip(void)
{
	struct oci_spec *s = NULL;
	struct crix_err *err = NULL;
	CHECK(oci_spec_from_string(full_json, &s, &err) == 0);
	if (s == NULL) {
		fprintf(stderr, "parse: %s\n", crix_err_msg(err));
		crix_err_free(&err);
		failures++;
		return;
	}
	check_full(s);

	/* Edit a few fields, emit, parse again: edits and unknown fields both survive. */
	free(s->hostname);
	s->hostname = strdup("edited");
	s->process->no_new_privileges = false;
	char *text = NULL;
	CHECK(oci_spec_to_string(s, &text, &err) == 0);
	struct json_object *doc = json_tokener_parse(text);
	CHECK(doc != NULL);
	CHECK(json_object_get_int(dig(doc, "x-vendor.keep.1")) == 2);
	CHECK(strcmp(json_object_get_string(dig(doc, "process.ioPriority.class")), "IOPRIO_CLASS_IDLE") == 0);
	CHECK(dig(doc, "mounts.1.uidMappings.0.hostID") != NULL);
	CHECK(strcmp(json_object_get_string(dig(doc, "linux.intelRdt.closID")), "x") == 0);
	CHECK(dig(doc, "process.noNewPrivileges") == NULL);
	CHECK(strcmp(json_object_get_string(dig(doc, "hostname")), "edited") == 0);
	CHECK(json_object_get_uint64(dig(doc, "process.rlimits.0.hard")) == UINT64_MAX);

	struct oci_spec *again = NULL;
	CHECK(oci_spec_from_json(doc, &again, &err) == 0);
	if (again != NULL) {
		free(again->hostname);
		again->hostname = strdup("h");
		again->process->no_new_privileges = true;
		check_full(again);
	}
	oci_spec_free(again);
	json_object_put(doc);
	free(text);
	oci_spec_free(s);
}

static void test_built_from_scratch(void)
{
	struct oci_spec *s = calloc(1, sizeof(*s));
	s->oci_version = strdup("1.2.0");
	s->root = calloc(1, sizeof(*s->root));
	s->root->path = strdup("/r");
	struct json_object *doc = NULL;
	struct crix_err *err = NULL;
	CHECK(oci_spec_to_json(s, &doc, &err) == 0);
	CHECK(strcmp(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
		     "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"/r\"}}") == 0);
	json_object_put(doc);
	oci_spec_free(s);
}

static void test_type_errors(void)
{
	static const struct {
		const char *json;
		const char *message;
	} cases[] = {
		{"[]", "config.json: expected object"},
		{"{\"ociVersion\": 1}", "ociVersion: expected string"},
		{"{\"process\": {\"args\": [\"sh\", 2]}}", "process.args[1]: expected string"},
		{"{\"process\": {\"user\": {\"uid\": -1}}}", "process.user.uid: expected non-negative integer"},
		{"{\"process\": {\"user\": {\"uid\": 4294967296}}}", "process.user.uid: expected unsigned 32-bit integer"},
		{"{\"process\": {\"user\": {\"additionalGids\": [1, \"x\"]}}}",
		 "process.user.additionalGids[1]: expected unsigned 32-bit integer"},
		{"{\"process\": {\"terminal\": \"yes\"}}", "process.terminal: expected boolean"},
		{"{\"process\": {\"rlimits\": [{\"type\": \"RLIMIT_CORE\", \"hard\": 1.5}]}}",
		 "process.rlimits[0].hard: expected integer"},
		{"{\"process\": {\"capabilities\": {\"bounding\": \"CAP_KILL\"}}}",
		 "process.capabilities.bounding: expected array"},
		{"{\"mounts\": [{\"destination\": \"/a\"}, 3]}", "mounts[1]: expected object"},
		{"{\"mounts\": [{\"type\": \"proc\"}]}", "mounts[0].destination: required"},
		{"{\"hooks\": {\"poststart\": [{\"path\": \"/x\", \"timeout\": 0}]}}",
		 "hooks.poststart[0].timeout: must be greater than zero"},
		{"{\"annotations\": {\"a\": 1}}", "annotations.a: expected string"},
		{"{\"linux\": {\"namespaces\": [{\"type\": \"bogus\"}]}}",
		 "linux.namespaces[0].type: unknown namespace type bogus"},
		{"{\"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"pid\"}]}}",
		 "linux.namespaces[1]: duplicate pid namespace"},
		{"{\"linux\": {\"devices\": [{\"path\": \"/dev/x\", \"type\": \"q\"}]}}",
		 "linux.devices[0].type: expected one of c, b, u, p"},
		{"{\"linux\": {\"resources\": {\"memory\": {\"limit\": \"1G\"}}}}",
		 "linux.resources.memory.limit: expected integer"},
		{"{\"linux\": {\"timeOffsets\": {\"boottime\": {\"secs\": \"1\"}}}}",
		 "linux.timeOffsets.boottime.secs: expected integer"},
		{"{\"linux\": {\"sysctl\": []}}", "linux.sysctl: expected object"},
		{"{\"root\": {\"path\": true}}", "root.path: expected string"},
		{"{\"process\": ", "parse JSON"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct oci_spec *s = NULL;
		struct crix_err *err = NULL;
		int r = oci_spec_from_string(cases[i].json, &s, &err);
		if (r == 0 || err == NULL || strstr(crix_err_msg(err), cases[i].message) == NULL) {
			fprintf(stderr, "case %zu: want \"%s\", got %s\n", i, cases[i].message,
				r == 0 ? "success" : crix_err_msg(err));
			failures++;
		}
		oci_spec_free(s);
		crix_err_free(&err);
	}
}

static void test_default_spec(void)
{
	struct oci_spec *s = NULL;
	struct crix_err *err = NULL;
	CHECK(oci_spec_default(&s, &err) == 0);
	if (s == NULL)
		return;
	CHECK(strcmp(s->process->args[0], "sh") == 0);
	CHECK(s->root->readonly);
	CHECK(oci_spec_namespace(s, OCI_NS_MOUNT) != NULL && oci_spec_namespace(s, OCI_NS_CGROUP) != NULL);
	CHECK(s->linux->resources && s->linux->resources->n_devices == 1);
	oci_spec_free(s);
}

static void test_process_alone(void)
{
	struct json_object *o = json_tokener_parse("{\"args\": [\"ls\"], \"cwd\": 7}");
	struct oci_process *p = NULL;
	struct crix_err *err = NULL;
	CHECK(oci_process_from_json(o, "process.json", &p, &err) < 0);
	CHECK(err && strstr(crix_err_msg(err), "process.json.cwd: expected string") != NULL);
	crix_err_free(&err);
	json_object_put(o);
	o = json_tokener_parse("{\"args\": [\"ls\"], \"cwd\": \"/\", \"x\": 1}");
	CHECK(oci_process_from_json(o, "process.json", &p, &err) == 0);
	struct json_object *back = NULL;
	CHECK(p && oci_process_to_json(p, &back, &err) == 0);
	CHECK(back && json_object_get_int(dig(back, "x")) == 1);
	json_object_put(back);
	oci_process_free(p);
	json_object_put(o);
}

static int emit_spec(void *spec, struct crix_err **err)
{
	char *text = NULL;
	int r = oci_spec_to_string(spec, &text, err);
	free(text);
	return r;
}

/* Each allocation of the writers (spec, process, resources, seccomp) failed in turn: every one
 * makes oci_spec_to_string fail with ENOMEM (no document with holes), without leaks (ASan). */
static void test_emit_allocation_failures(void)
{
	struct oci_spec *s = NULL;
	struct crix_err *err = NULL;
	CHECK_OK(oci_spec_from_string(full_json, &s, &err));
	if (s == NULL)
		return;
	/* The whole document goes through the wrapped functions. */
	CHECK(json_fail_each("oci_spec_to_string", emit_spec, s) > 100);
	oci_spec_free(s);
}

int main(void)
{
	test_full_round_trip();
	test_built_from_scratch();
	test_type_errors();
	test_default_spec();
	test_process_alone();
	test_emit_allocation_failures();
	if (failures)
		fprintf(stderr, "%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
