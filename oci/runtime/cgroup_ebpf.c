/* Device access on cgroup v2: a BPF_PROG_TYPE_CGROUP_DEVICE program generated from the OCI
 * device rules, plus the default device allow-list shared with v1. */
#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "crix_cleanup.h"

/* runc's default allow-list (libcontainer/specconv AllowedDevices), applied after the spec's
 * rules so that a container denied everything still has its standard devices. */
#define RULE(t, maj, has_min, min, acc)                                                            \
	{                                                                                          \
		.allow = true, .type = t, .has_major = (maj) >= 0, .major = maj,                   \
		.has_minor = has_min, .minor = min, .access = (char *)acc,                         \
	}
static const struct oci_device_rule default_rules[] = {
	RULE('c', -1, false, 0, "m"),     /* mknod of any char device */
	RULE('b', -1, false, 0, "m"),     /* mknod of any block device */
	RULE('c', 1, true, 3, "rwm"),     /* /dev/null */
	RULE('c', 1, true, 8, "rwm"),     /* /dev/random */
	RULE('c', 1, true, 7, "rwm"),     /* /dev/full */
	RULE('c', 5, true, 0, "rwm"),     /* /dev/tty */
	RULE('c', 1, true, 5, "rwm"),     /* /dev/zero */
	RULE('c', 1, true, 9, "rwm"),     /* /dev/urandom */
	RULE('c', 136, false, 0, "rwm"),  /* /dev/pts/N */
	RULE('c', 5, true, 2, "rwm"),     /* /dev/ptmx */
	RULE('c', 10, true, 200, "rwm"),  /* /dev/net/tun */
};
#undef RULE

int cg_device_rules(const struct oci_resources *res, struct oci_device_rule **rules, size_t *n,
		    struct crix_err **err)
{
	size_t n_defaults = sizeof(default_rules) / sizeof(*default_rules);
	struct oci_device_rule *all = calloc(res->n_devices + n_defaults, sizeof(*all));

	if (all == NULL)
		return crix_err_make(err, ENOMEM, "device rules");
	if (res->n_devices > 0)
		memcpy(all, res->devices, res->n_devices * sizeof(*all));
	memcpy(all + res->n_devices, default_rules, sizeof(default_rules));
	*rules = all;
	*n = res->n_devices + n_defaults;
	return 0;
}

/* --- program generation --- */

#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
/* r = *(u32 *)(r1 + off) */
#define LOAD_CTX_U32(r, off) INSN(BPF_LDX | BPF_MEM | BPF_W, r, BPF_REG_1, off, 0)
#define ALU32_IMM(op, r, imm) INSN(BPF_ALU | (op) | BPF_K, r, 0, 0, imm)
#define JMP_IMM(op, r, imm, off) INSN(BPF_JMP | (op) | BPF_K, r, 0, off, imm)
#define MOV64_IMM(r, imm) INSN(BPF_ALU64 | BPF_MOV | BPF_K, r, 0, 0, imm)
#define EXIT_INSN() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* Registers after the prologue: r2 device type, r3 access bits, r4 major, r5 minor. */
enum { R_TYPE = BPF_REG_2, R_ACCESS = BPF_REG_3, R_MAJOR = BPF_REG_4, R_MINOR = BPF_REG_5 };

static int access_bits(const char *access)
{
	int bits = 0;
	if (access == NULL || access[0] == '\0')
		access = "rwm";
	for (const char *c = access; *c != '\0'; c++)
		bits |= *c == 'r' ? BPF_DEVCG_ACC_READ : *c == 'w' ? BPF_DEVCG_ACC_WRITE : BPF_DEVCG_ACC_MKNOD;
	return bits;
}

static bool matches_everything(const struct oci_device_rule *r)
{
	int all = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
	return r->type == 'a' && (!r->has_major || r->major < 0) && (!r->has_minor || r->minor < 0) &&
	       access_bits(r->access) == all;
}

/* Emits one rule: a chain of "if (field != value) skip to the end of this block" tests and
 * "return allow". Returns the number of instructions written to out (at most 6). */
static size_t emit_rule(const struct oci_device_rule *r, struct bpf_insn *out)
{
	size_t n = 0;
	int all = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
	int bits = access_bits(r->access);

	if (r->type == 'c' || r->type == 'b')
		out[n++] = JMP_IMM(BPF_JNE, R_TYPE, r->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK, 0);
	if (bits != all)
		/* Any requested access bit outside the rule's set: not this rule. */
		out[n++] = JMP_IMM(BPF_JSET, R_ACCESS, all & ~bits, 0);
	if (r->has_major && r->major >= 0)
		out[n++] = JMP_IMM(BPF_JNE, R_MAJOR, (int32_t)r->major, 0);
	if (r->has_minor && r->minor >= 0)
		out[n++] = JMP_IMM(BPF_JNE, R_MINOR, (int32_t)r->minor, 0);
	out[n++] = MOV64_IMM(BPF_REG_0, r->allow ? 1 : 0);
	out[n++] = EXIT_INSN();
	/* Each test jumps over the rest of the block when it fails. */
	for (size_t i = 0; i + 2 < n; i++)
		out[i].off = (int16_t)(n - 1 - i);
	return n;
}

int oci_cgroup_devices_bpf_build(const struct oci_device_rule *rules, size_t n_rules,
				 void **insns, size_t *n_insns, struct crix_err **err)
{
	/* The last rule matching everything resets the list: it is the default, and earlier
	 * rules can no longer matter. */
	size_t first = 0;
	bool default_allow = true;
	for (size_t i = n_rules; i-- > 0;)
		if (matches_everything(&rules[i])) {
			first = i + 1;
			default_allow = rules[i].allow;
			break;
		}
	for (size_t i = first; i < n_rules; i++) {
		char t = rules[i].type;
		if (t != 'a' && t != 'b' && t != 'c')
			return crix_err_make(err, EINVAL, "device rule %zu: unknown type '%c'", i, t);
	}

	struct bpf_insn *prog = calloc(6 + 6 * (n_rules - first) + 2, sizeof(*prog));
	size_t n = 0;
	if (prog == NULL)
		return crix_err_make(err, ENOMEM, "device program");
	/* struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major, minor; } */
	prog[n++] = LOAD_CTX_U32(R_TYPE, 0);
	prog[n++] = ALU32_IMM(BPF_AND, R_TYPE, 0xffff);
	prog[n++] = LOAD_CTX_U32(R_ACCESS, 0);
	prog[n++] = ALU32_IMM(BPF_RSH, R_ACCESS, 16);
	prog[n++] = LOAD_CTX_U32(R_MAJOR, 4);
	prog[n++] = LOAD_CTX_U32(R_MINOR, 8);
	/* Like the v1 list, the last matching rule wins: test the rules backwards. */
	for (size_t i = n_rules; i-- > first;)
		n += emit_rule(&rules[i], prog + n);
	prog[n++] = MOV64_IMM(BPF_REG_0, default_allow ? 1 : 0);
	prog[n++] = EXIT_INSN();
	*insns = prog;
	*n_insns = n;
	return 0;
}

/* --- loading and attaching --- */

static long bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

int oci_cgroup_devices_bpf_attach(int dir_fd, const void *insns, size_t n_insns,
				  struct crix_err **err)
{
	char log[4096] = "";
	union bpf_attr attr;

	/* Programs attached before (by a previous create/update), to detach once ours is in. */
	uint32_t old_ids[64];
	memset(&attr, 0, sizeof(attr));
	attr.query.target_fd = (uint32_t)dir_fd;
	attr.query.attach_type = BPF_CGROUP_DEVICE;
	attr.query.prog_ids = (uint64_t)(uintptr_t)old_ids;
	attr.query.prog_cnt = sizeof(old_ids) / sizeof(*old_ids);
	if (bpf(BPF_PROG_QUERY, &attr) < 0)
		return crix_err_make(err, errno, "query device programs");
	uint32_t n_old = attr.query.prog_cnt;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.insn_cnt = (uint32_t)n_insns;
	attr.license = (uint64_t)(uintptr_t)"GPL";
	attr.log_buf = (uint64_t)(uintptr_t)log;
	attr.log_size = sizeof(log);
	attr.log_level = 1;
	_cleanup_close_ int prog_fd = (int)bpf(BPF_PROG_LOAD, &attr);
	if (prog_fd < 0 && errno == ENOSPC) {
		/* The verifier log did not fit: load again without it. */
		attr.log_buf = 0;
		attr.log_size = 0;
		attr.log_level = 0;
		prog_fd = (int)bpf(BPF_PROG_LOAD, &attr);
	}
	if (prog_fd < 0)
		return crix_err_make(err, errno, "load device program (%zu instructions)%s%s", n_insns,
				     log[0] != '\0' ? ": " : "", log);

	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)dir_fd;
	attr.attach_bpf_fd = (uint32_t)prog_fd;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = BPF_F_ALLOW_MULTI;
	if (bpf(BPF_PROG_ATTACH, &attr) < 0)
		return crix_err_make(err, errno, "attach device program");

	for (uint32_t i = 0; i < n_old; i++) {
		memset(&attr, 0, sizeof(attr));
		attr.prog_id = old_ids[i];
		_cleanup_close_ int old_fd = (int)bpf(BPF_PROG_GET_FD_BY_ID, &attr);
		if (old_fd < 0)
			continue; /* already gone */
		memset(&attr, 0, sizeof(attr));
		attr.target_fd = (uint32_t)dir_fd;
		attr.attach_bpf_fd = (uint32_t)old_fd;
		attr.attach_type = BPF_CGROUP_DEVICE;
		if (bpf(BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT)
			return crix_err_make(err, errno, "detach previous device program %u", old_ids[i]);
	}
	return 0;
}
