/* linux.resources and linux.seccomp: parse/emit round trips, unset vs 0, errors naming the
 * JSON path. */
#include <errno.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "check.h"
#include "crix_err.h"
#include "oci_resources.h"
#include "oci_seccomp.h"

static const char full_resources[] =
	"{\"devices\":[{\"allow\":false,\"type\":\"a\",\"access\":\"rwm\"},"
	"{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"rw\"},"
	"{\"allow\":true,\"type\":\"b\",\"major\":8}],"
	"\"memory\":{\"limit\":536870912,\"reservation\":0,\"swap\":-1,\"kernel\":-1,"
	"\"kernelTCP\":1048576,\"swappiness\":60,\"disableOOMKiller\":false,\"useHierarchy\":true,"
	"\"checkBeforeUpdate\":true},"
	"\"cpu\":{\"shares\":1024,\"quota\":50000,\"burst\":0,\"period\":100000,"
	"\"realtimeRuntime\":950000,\"realtimePeriod\":1000000,\"cpus\":\"0-1\",\"mems\":\"0\",\"idle\":0},"
	"\"blockIO\":{\"weight\":500,\"leafWeight\":300,"
	"\"weightDevice\":[{\"major\":8,\"minor\":0,\"weight\":600},{\"major\":8,\"minor\":16,\"leafWeight\":100}],"
	"\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0,\"rate\":1048576}],"
	"\"throttleWriteBpsDevice\":[{\"major\":8,\"minor\":0,\"rate\":2097152}],"
	"\"throttleReadIOPSDevice\":[{\"major\":8,\"minor\":0,\"rate\":100}],"
	"\"throttleWriteIOPSDevice\":[{\"major\":8,\"minor\":0,\"rate\":18446744073709551615}]},"
	"\"pids\":{\"limit\":32},"
	"\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":209715200}],"
	"\"network\":{\"classID\":1048577,\"priorities\":[{\"name\":\"eth0\",\"priority\":500}]},"
	"\"rdma\":{\"mlx5_1\":{\"hcaHandles\":3,\"hcaObjects\":10000}},"
	"\"unified\":{\"memory.high\":\"max\",\"io.latency\":\"8:0 target=100\"},"
	"\"vendorExtension\":{\"x\":[1,2]}}";

static void test_resources_round_trip(void)
{
	struct crix_err *err = NULL;
	struct json_object *in = json_tokener_parse(full_resources);
	struct oci_resources *r = NULL;
	struct json_object *out = NULL;

	CHECK(in != NULL);
	CHECK_OK(oci_resources_from_json(in, "linux.resources", &r, &err));
	if (r == NULL)
		return;
	CHECK(r->n_devices == 3 && !r->devices[0].allow && r->devices[0].type == 'a');
	CHECK(r->devices[2].type == 'b' && r->devices[2].has_major && !r->devices[2].has_minor &&
	      r->devices[2].access == NULL);
	CHECK(r->memory->has_limit && r->memory->limit == 536870912);
	/* Present and 0 is not absent. */
	CHECK(r->memory->has_reservation && r->memory->reservation == 0);
	CHECK(r->memory->has_swap && r->memory->swap == -1);
	CHECK(r->cpu->has_quota && r->cpu->quota == 50000 && r->cpu->period == 100000);
	CHECK_STR(r->cpu->cpus, "0-1");
	CHECK(r->has_pids_limit && r->pids_limit == 32);
	CHECK(r->block_io->n_weight_device == 2 && r->block_io->weight_device[1].has_leaf_weight &&
	      !r->block_io->weight_device[1].has_weight);
	CHECK(r->block_io->throttle_write_iops[0].rate == UINT64_MAX);
	CHECK(r->n_hugepage_limits == 1 && r->hugepage_limits[0].limit == 209715200);
	CHECK(r->n_rdma == 1 && r->rdma[0].hca_objects == 10000);
	CHECK(r->n_unified == 2);
	CHECK(r->unknown != NULL);
	CHECK_OK(oci_resources_to_json(r, &out, &err));
	if (!json_object_equal(in, out))
		fprintf(stderr, "emitted: %s\n", json_object_to_json_string(out));
	CHECK(json_object_equal(in, out));
	json_object_put(in);
	json_object_put(out);
	oci_resources_free(r);
	crix_err_free(&err);
}

static void test_resources_absent_fields(void)
{
	struct crix_err *err = NULL;
	struct json_object *in = json_tokener_parse("{\"memory\":{\"limit\":0}}");
	struct oci_resources *r = NULL;
	struct json_object *out = NULL;

	CHECK_OK(oci_resources_from_json(in, "linux.resources", &r, &err));
	if (r == NULL)
		return;
	CHECK(r->memory->has_limit && r->memory->limit == 0);
	CHECK(!r->memory->has_swap && !r->memory->has_reservation && !r->memory->has_swappiness);
	CHECK(r->cpu == NULL && r->block_io == NULL && !r->has_pids_limit && r->n_devices == 0);
	CHECK_OK(oci_resources_to_json(r, &out, &err));
	CHECK_STR(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN), "{\"memory\":{\"limit\":0}}");
	json_object_put(in);
	json_object_put(out);
	oci_resources_free(r);
}

static void expect_resources_error(const char *json, const char *message)
{
	struct crix_err *err = NULL;
	struct json_object *in = json_tokener_parse(json);
	struct oci_resources *r = NULL;

	CHECK(in != NULL);
	CHECK(oci_resources_from_json(in, "linux.resources", &r, &err) == -1);
	CHECK(r == NULL);
	CHECK(err != NULL && err->errnum == EINVAL);
	/* crix_err appends strerror(EINVAL). */
	char expected[512];
	snprintf(expected, sizeof(expected), "%s: Invalid argument", message);
	CHECK_STR(crix_err_msg(err), expected);
	json_object_put(in);
	crix_err_free(&err);
}

static void test_resources_errors(void)
{
	expect_resources_error("{\"memory\":{\"limit\":\"1g\"}}",
			       "linux.resources.memory.limit: expected integer");
	expect_resources_error("{\"memory\":{\"limit\":1.5}}",
			       "linux.resources.memory.limit: expected integer");
	expect_resources_error("[]", "linux.resources: expected object");
	expect_resources_error("{\"cpu\":[]}", "linux.resources.cpu: expected object");
	expect_resources_error("{\"cpu\":{\"shares\":-2}}",
			       "linux.resources.cpu.shares: expected non-negative integer");
	expect_resources_error("{\"cpu\":{\"cpus\":3}}", "linux.resources.cpu.cpus: expected string");
	expect_resources_error("{\"devices\":[{\"allow\":true},{\"allow\":\"yes\"}]}",
			       "linux.resources.devices[1].allow: expected boolean");
	expect_resources_error("{\"devices\":[{\"access\":\"rwm\"}]}",
			       "linux.resources.devices[0].allow: required");
	expect_resources_error("{\"devices\":[{\"allow\":true,\"type\":\"x\"}]}",
			       "linux.resources.devices[0].type: expected \"a\", \"c\" or \"b\", got \"x\"");
	expect_resources_error("{\"devices\":[{\"allow\":true,\"access\":\"rwx\"}]}",
			       "linux.resources.devices[0].access: expected letters of \"rwm\", got \"rwx\"");
	expect_resources_error("{\"devices\":{}}", "linux.resources.devices: expected array");
	expect_resources_error("{\"blockIO\":{\"weight\":70000}}",
			       "linux.resources.blockIO.weight: expected integer in [0, 65535]");
	expect_resources_error("{\"blockIO\":{\"throttleReadBpsDevice\":[{\"major\":8,\"rate\":1}]}}",
			       "linux.resources.blockIO.throttleReadBpsDevice[0]: major and minor are required");
	expect_resources_error("{\"pids\":{\"limit\":true}}", "linux.resources.pids.limit: expected integer");
	expect_resources_error("{\"hugepageLimits\":[{\"limit\":1}]}",
			       "linux.resources.hugepageLimits[0]: pageSize and limit are required");
	expect_resources_error("{\"hugepageLimits\":[{\"pageSize\":\"../2MB\",\"limit\":1}]}",
			       "linux.resources.hugepageLimits[0].pageSize: invalid \"../2MB\"");
	expect_resources_error("{\"unified\":{\"memory.high\":5}}",
			       "linux.resources.unified.memory.high: expected string");
	expect_resources_error("{\"rdma\":{\"mlx\":{\"hcaHandles\":-1}}}",
			       "linux.resources.rdma.mlx.hcaHandles: expected non-negative integer");
	expect_resources_error("{\"rdma\":{\"mlx\":{\"hcaObjects\":4294967296}}}",
			       "linux.resources.rdma.mlx.hcaObjects: expected unsigned 32-bit integer");
	expect_resources_error("{\"memory\":{\"limit\":9223372036854775808}}",
			       "linux.resources.memory.limit: expected integer in the signed 64-bit range");
}

static const char full_seccomp[] =
	"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,"
	"\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\"],"
	"\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"],\"listenerPath\":\"/run/agent.sock\","
	"\"listenerMetadata\":\"meta\","
	"\"syscalls\":[{\"names\":[\"read\",\"write\"],\"action\":\"SCMP_ACT_ALLOW\"},"
	"{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":["
	"{\"index\":0,\"value\":8,\"op\":\"SCMP_CMP_EQ\"},"
	"{\"index\":1,\"value\":255,\"valueTwo\":7,\"op\":\"SCMP_CMP_MASKED_EQ\"}]},"
	"{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1}],"
	"\"comment\":\"kept\"}";

static void test_seccomp_round_trip(void)
{
	struct crix_err *err = NULL;
	struct json_object *in = json_tokener_parse(full_seccomp);
	struct oci_seccomp *s = NULL;
	struct json_object *out = NULL;

	CHECK_OK(oci_seccomp_from_json(in, "linux.seccomp", &s, &err));
	if (s == NULL)
		return;
	CHECK(s->default_action == OCI_SECCOMP_ACT_ERRNO && s->has_default_errno_ret &&
	      s->default_errno_ret == 38);
	CHECK(s->n_architectures == 2 && s->n_flags == 1 && s->n_syscalls == 3);
	CHECK(s->syscalls[0].n_names == 2 && !s->syscalls[0].has_errno_ret);
	CHECK(s->syscalls[1].n_args == 2 && s->syscalls[1].args[1].op == OCI_SECCOMP_OP_MASKED_EQ &&
	      s->syscalls[1].args[1].value_two == 7);
	CHECK(s->syscalls[2].has_errno_ret && s->syscalls[2].errno_ret == 1);
	CHECK_STR(s->listener_path, "/run/agent.sock");
	CHECK_OK(oci_seccomp_to_json(s, &out, &err));
	if (!json_object_equal(in, out))
		fprintf(stderr, "emitted: %s\n", json_object_to_json_string(out));
	CHECK(json_object_equal(in, out));
	json_object_put(in);
	json_object_put(out);
	oci_seccomp_free(s);
}

static void expect_seccomp_error(const char *json, const char *message)
{
	struct crix_err *err = NULL;
	struct json_object *in = json_tokener_parse(json);
	struct oci_seccomp *s = NULL;

	CHECK(in != NULL);
	CHECK(oci_seccomp_from_json(in, "linux.seccomp", &s, &err) == -1 && s == NULL);
	char expected[512];
	snprintf(expected, sizeof(expected), "%s: Invalid argument", message);
	CHECK_STR(crix_err_msg(err), expected);
	json_object_put(in);
	crix_err_free(&err);
}

static void test_seccomp_errors(void)
{
	expect_seccomp_error("{}", "linux.seccomp.defaultAction: required");
	expect_seccomp_error("{\"defaultAction\":\"SCMP_ACT_NOPE\"}",
			     "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_NOPE\"");
	expect_seccomp_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":\"x86\"}",
			     "linux.seccomp.architectures: expected array");
	expect_seccomp_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\",4],"
			     "\"action\":\"SCMP_ACT_ERRNO\"}]}",
			     "linux.seccomp.syscalls[0].names[1]: expected string");
	expect_seccomp_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"]}]}",
			     "linux.seccomp.syscalls[0].action: required");
	expect_seccomp_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
			     "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":6,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}",
			     "linux.seccomp.syscalls[0].args[0].index: expected integer in [0, 5]");
	expect_seccomp_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
			     "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":1,\"op\":\"EQ\"}]}]}",
			     "linux.seccomp.syscalls[0].args[0].op: unknown operator \"EQ\"");
	expect_seccomp_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
			     "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":-1}]}",
			     "linux.seccomp.syscalls[0].errnoRet: expected non-negative integer");
}

int main(void)
{
	test_resources_round_trip();
	test_resources_absent_fields();
	test_resources_errors();
	test_seccomp_round_trip();
	test_seccomp_errors();
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
