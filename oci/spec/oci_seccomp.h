/* linux.seccomp of the OCI runtime spec (1.2) as plain C, read from and written to json-c.
 * Actions and operators are parsed into enums (an unknown one is an error naming its JSON
 * path); architectures and flags stay strings, checked when the filter is compiled
 * (oci/runtime/seccomp.h). Unknown top-level keys are kept in `unknown`. */
#ifndef OCI_SECCOMP_H
#define OCI_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "crix_err.h"

enum oci_seccomp_action {
	OCI_SECCOMP_ACT_KILL, /* SCMP_ACT_KILL, same as KILL_THREAD */
	OCI_SECCOMP_ACT_KILL_PROCESS,
	OCI_SECCOMP_ACT_KILL_THREAD,
	OCI_SECCOMP_ACT_TRAP,
	OCI_SECCOMP_ACT_ERRNO,
	OCI_SECCOMP_ACT_TRACE,
	OCI_SECCOMP_ACT_ALLOW,
	OCI_SECCOMP_ACT_LOG,
	OCI_SECCOMP_ACT_NOTIFY,
};

enum oci_seccomp_op {
	OCI_SECCOMP_OP_NE,
	OCI_SECCOMP_OP_LT,
	OCI_SECCOMP_OP_LE,
	OCI_SECCOMP_OP_EQ,
	OCI_SECCOMP_OP_GE,
	OCI_SECCOMP_OP_GT,
	OCI_SECCOMP_OP_MASKED_EQ,
};

/* "SCMP_ACT_ERRNO" <-> enum; -1 when unknown. */
int oci_seccomp_action_parse(const char *name);
const char *oci_seccomp_action_name(enum oci_seccomp_action action);
/* "SCMP_CMP_EQ" <-> enum; -1 when unknown. */
int oci_seccomp_op_parse(const char *name);
const char *oci_seccomp_op_name(enum oci_seccomp_op op);

struct oci_seccomp_arg {
	unsigned int index; /* 0..5 */
	uint64_t value;
	bool has_value_two;
	uint64_t value_two; /* the mask's comparand for MASKED_EQ */
	enum oci_seccomp_op op;
};

struct oci_seccomp_syscall {
	char **names; /* NULL-terminated */
	size_t n_names;
	enum oci_seccomp_action action;
	bool has_errno_ret;
	uint32_t errno_ret; /* for ERRNO (default EPERM) and TRACE */
	struct oci_seccomp_arg *args;
	size_t n_args;
};

struct oci_seccomp {
	enum oci_seccomp_action default_action;
	bool has_default_errno_ret;
	uint32_t default_errno_ret;
	char **architectures; /* "SCMP_ARCH_X86_64", ...; NULL-terminated, NULL when absent */
	size_t n_architectures;
	char **flags; /* "SECCOMP_FILTER_FLAG_TSYNC", ...; NULL-terminated, NULL when absent */
	size_t n_flags;
	char *listener_path; /* kept, used only by SCMP_ACT_NOTIFY */
	char *listener_metadata;
	struct oci_seccomp_syscall *syscalls;
	size_t n_syscalls;
	struct json_object *unknown; /* unknown keys, or NULL */
};

/* Parses obj (a JSON object); json_path names it in errors, e.g. "linux.seccomp".
 * defaultAction is required. */
int oci_seccomp_from_json(struct json_object *obj, const char *json_path, struct oci_seccomp **out,
			  struct crix_err **err);

/* *out is a new reference. */
int oci_seccomp_to_json(const struct oci_seccomp *s, struct json_object **out,
			struct crix_err **err);

void oci_seccomp_free(struct oci_seccomp *s);

#endif
