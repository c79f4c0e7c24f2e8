/* The cgroupfs manager of crix-runtime (no systemd driver).
 *
 * Layouts, detected from the tree under the root (default "/sys/fs/cgroup"):
 *  - unified: the root itself is cgroup2 (has cgroup.controllers) -> v2 files;
 *  - v1 and hybrid: one directory per v1 hierarchy under the root (cpu, memory, pids, ...,
 *    name=systemd as "systemd"); an extra cgroup2 at <root>/unified without controllers
 *    (hybrid) gets the container's directory and its processes too, as runc does, but no limits.
 *
 * cgroupsPath: an absolute path is taken from the root of each hierarchy (/crix/abc ->
 * /sys/fs/cgroup/memory/crix/abc); a relative path is placed under the caller's own cgroup
 * in that hierarchy (read from /proc/self/cgroup), as runc's cgroupfs driver does. Paths
 * with ".." components are refused. An empty or NULL path is an error: the runtime chooses
 * a default (e.g. "/crix-runtime/<id>") before calling.
 *
 * Limits (oci_resources), v1: memory.limit_in_bytes, memory.soft_limit_in_bytes,
 * memory.memsw.limit_in_bytes (only where swap accounting exists; otherwise a swap value
 * equal to the limit or -1 is skipped and any other value is an error), memory.swappiness,
 * memory.kmem.tcp.limit_in_bytes (memory.kernel is ignored, as in runc), memory.oom_control,
 * cpu.shares, cpu.cfs_period_us,
 * cpu.cfs_quota_us, cpu.rt_*, cpu.idle, cpuset.cpus/mems, pids.max, blkio.weight /
 * blkio.leaf_weight / blkio.weight_device (skipped with a debug line where the kernel has no
 * proportional blkio, as here), blkio.throttle.*, hugetlb.<size>.limit_in_bytes,
 * devices.deny/devices.allow in rule order followed by the default device allow-list of runc
 * (null, zero, full, random, urandom, tty, ptmx, /dev/pts/N, net/tun, mknod of any device);
 * without device rules the device cgroup is left as inherited.
 * The caller adds an allow rule for each linux.devices entry to res->devices itself.
 * v2: memory.max, memory.low, memory.swap.max (OCI swap is memory+swap: written as
 * swap - limit), memory.oom.group unaffected, cpu.max "<quota|max> <period>", cpu.weight
 * (1 + ((shares - 2) * 9999) / 262142, as crun), cpu.idle, cpuset.cpus/mems, pids.max,
 * io.weight, io.weight per device ("MAJ:MIN W"), io.max (rbps/wbps/riops/wiops),
 * hugetlb.<size>.max, the `unified` map written verbatim last (keys must be plain file names:
 * no '/', not "." or ".."), devices as a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the
 * cgroup directory (replacing the one crix attached before).
 * As in runc 1.1, a value of 0 means "unset" for memory limit/reservation/swap, cpu shares/
 * quota/period and pids.limit; pids.limit < 0 writes "max".
 * A limit asked for a controller that is not mounted/enabled is an error naming the file.
 *
 * A handle records the layout and the absolute directory in each hierarchy; it has no open
 * fds, so the runtime can drop it and reopen it later with oci_cgroup_load(). */
#ifndef OCI_RUNTIME_CGROUP_H
#define OCI_RUNTIME_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "crix_err.h"
#include "oci_resources.h"

enum oci_cgroup_layout {
	OCI_CGROUP_V1,      /* v1 hierarchies only */
	OCI_CGROUP_HYBRID,  /* v1 hierarchies + an empty cgroup2 at <root>/unified */
	OCI_CGROUP_UNIFIED, /* cgroup2 at the root */
};

struct oci_cgroup_opts {
	const char *root;         /* NULL: "/sys/fs/cgroup" */
	const char *self_cgroup;  /* NULL: "/proc/self/cgroup" (for relative cgroupsPath) */
};

/* One hierarchy the cgroup lives in. */
struct oci_cgroup_dir {
	char *name; /* v1: directory name under the root ("memory", "cpu", "systemd");
		     * "" for the cgroup2 tree (unified layout, or <root>/unified in hybrid) */
	char *path; /* absolute directory of this cgroup */
};

struct oci_cgroup {
	enum oci_cgroup_layout layout;
	char *root;
	char *cgroups_path; /* as given (normalized) */
	struct oci_cgroup_dir *dirs;
	size_t n_dirs;
};

/* Detects the layout under opts->root. */
int oci_cgroup_detect(const struct oci_cgroup_opts *opts, enum oci_cgroup_layout *out,
		      struct crix_err **err);

/* Creates the cgroup (and missing parents) in every hierarchy, fills cpuset.cpus/mems from
 * the parent where empty (v1), enables the controllers on the way down (v2), then applies res
 * (may be NULL). An existing directory is reused. On failure, the directories this call
 * created are removed. */
int oci_cgroup_create(const struct oci_cgroup_opts *opts, const char *cgroups_path,
		      const struct oci_resources *res, struct oci_cgroup **out,
		      struct crix_err **err);

/* Reopens an existing cgroup (for state, kill --all, pause, update, delete). */
int oci_cgroup_load(const struct oci_cgroup_opts *opts, const char *cgroups_path,
		    struct oci_cgroup **out, struct crix_err **err);

/* Applies the fields of res that are set (create and `update`). */
int oci_cgroup_update(const struct oci_cgroup *cg, const struct oci_resources *res,
		      struct crix_err **err);

/* Moves pid into the cgroup in every hierarchy (writes cgroup.procs). */
int oci_cgroup_enter(const struct oci_cgroup *cg, pid_t pid, struct crix_err **err);

/* Freezes (v1 freezer.state FROZEN, waiting until the kernel reports FROZEN; v2
 * cgroup.freeze 1, waiting for "frozen 1" in cgroup.events) or thaws. */
int oci_cgroup_freeze(const struct oci_cgroup *cg, bool frozen, struct crix_err **err);

/* True when the cgroup is frozen (for `state`: "paused"). */
int oci_cgroup_is_frozen(const struct oci_cgroup *cg, bool *frozen, struct crix_err **err);

/* The pids in the cgroup (cgroup.procs of the pids hierarchy, else the first one; the
 * cgroup's descendants included). *pids is malloc'd. */
int oci_cgroup_pids(const struct oci_cgroup *cg, pid_t **pids, size_t *n_pids,
		    struct crix_err **err);

/* Sends sig to every process in the cgroup (kill --all). A frozen cgroup is thawed after the
 * signal is queued so that SIGKILL takes effect. Processes that vanish meanwhile are fine. */
int oci_cgroup_kill(const struct oci_cgroup *cg, int sig, struct crix_err **err);

/* Removes the cgroup's directory in every hierarchy: processes still in it are killed first
 * (SIGKILL, as runc's delete does), then rmdir is retried for up to ~1 s while exiting tasks
 * leave (EBUSY); child cgroups below it are removed first. Missing dirs are fine. Parents
 * created by oci_cgroup_create stay. */
int oci_cgroup_destroy(const struct oci_cgroup *cg, struct crix_err **err);

/* The directory of the cgroup in hierarchy name ("memory"; "" for cgroup2), or NULL. */
const char *oci_cgroup_dir(const struct oci_cgroup *cg, const char *name);

void oci_cgroup_free(struct oci_cgroup *cg);

/* --- cgroup v2 device filter (exposed for tests and for hybrid hosts) --- */

/* Builds the BPF_PROG_TYPE_CGROUP_DEVICE program for rules (evaluated like the v1 list:
 * the last matching rule wins; a leading "deny all" or "allow all" sets the default; without
 * one the default is allow, as a fresh v1 cgroup inherits). *insns is a malloc'd
 * struct bpf_insn[]. */
int oci_cgroup_devices_bpf_build(const struct oci_device_rule *rules, size_t n_rules,
				 void **insns, size_t *n_insns, struct crix_err **err);

/* Loads insns and attaches the program to the cgroup2 directory dir_fd (BPF_F_ALLOW_MULTI),
 * then detaches the device programs that were attached before, so that updates replace. */
int oci_cgroup_devices_bpf_attach(int dir_fd, const void *insns, size_t n_insns,
				  struct crix_err **err);

#endif
