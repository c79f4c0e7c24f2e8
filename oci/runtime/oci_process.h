/* The container process as a plan built in the runtime (where errors are easy to report)
 * and carried out in the child just before execve: rlimits, oom_score_adj, the five
 * capability sets, user and groups, no_new_privs, seccomp, umask, cwd, env, fds.
 * Shared by the container's init and by `exec`. */
#ifndef OCI_PROCESS_H
#define OCI_PROCESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "crix_err.h"
#include "oci_spec.h"

struct oci_seccomp_filter;

struct oci_plan_rlimit {
	int resource;
	struct rlimit limit;
	const char *name;
};

struct oci_plan {
	char **argv;
	char **envp;
	char *cwd;
	char *exe; /* argv[0] resolved against the container's PATH (oci_plan_resolve_exe) */
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t n_groups;
	bool has_umask;
	mode_t umask;
	bool has_caps;  /* capabilities given: all five sets are applied (absent sets = empty) */
	uint64_t caps[5]; /* bounding, effective, inheritable, permitted, ambient */
	struct oci_plan_rlimit *rlimits;
	size_t n_rlimits;
	bool has_oom_score_adj;
	int oom_score_adj;
	bool no_new_privileges;
	struct oci_seccomp_filter *seccomp; /* NULL: none */
	bool terminal;
	unsigned preserve_fds;  /* fds 3 .. 3+n-1 are passed to the process */
	bool set_groups;        /* false in a user namespace whose setgroups is denied */
};

enum { OCI_CAP_BOUNDING, OCI_CAP_EFFECTIVE, OCI_CAP_INHERITABLE, OCI_CAP_PERMITTED, OCI_CAP_AMBIENT };

/* Builds the plan; seccomp may be NULL. Unknown capability or rlimit names are errors. */
int oci_plan_build(const struct oci_process *p, const struct oci_seccomp *seccomp,
		   struct oci_plan **out, struct crix_err **err);
void oci_plan_free(struct oci_plan *plan);

/* "CAP_KILL" -> bit number; -1 when unknown. */
int oci_cap_from_name(const char *name);
/* 5 -> "CAP_KILL" (malloc'd), NULL when unknown. */
char *oci_cap_name(int cap);
/* Highest capability number the kernel knows. */
int oci_cap_last(void);

/* Sets oom_score_adj and rlimits (while the process is still privileged). */
int oci_plan_apply_limits(const struct oci_plan *plan, struct crix_err **err);

/* Inside the container (after pivot_root): sets HOME from /etc/passwd when the env lacks it,
 * and resolves argv[0] against the env's PATH, as runc does (a missing program fails at
 * create, not after start). */
int oci_plan_resolve_exe(struct oci_plan *plan, struct crix_err **err);

/* User, groups, capabilities, no_new_privs, seccomp, umask, cwd (checked to be inside the
 * root: CVE-2024-21626), fds beyond stdio and preserve_fds marked close-on-exec, then execve.
 * Returns only on failure. */
int oci_plan_exec(const struct oci_plan *plan, struct crix_err **err);

/* Marks every fd >= first close-on-exec (so only stdio and preserved fds reach the process). */
void oci_cloexec_from(int first);

#endif
