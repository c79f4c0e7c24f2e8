/* Shared between cgroup.c (layout, lifecycle), cgroup_v1.c, cgroup_v2.c and cgroup_ebpf.c. */
#ifndef OCI_RUNTIME_CGROUP_INTERNAL_H
#define OCI_RUNTIME_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "cgroup.h"

/* Writes value to dir/name (O_WRONLY|O_TRUNC, no O_CREAT: cgroupfs files exist or the
 * controller is missing). Errors name the file and the value. */
int cg_write(const char *dir, const char *name, const char *value, struct crix_err **err);
/* printf-style value. */
int cg_writef(const char *dir, const char *name, struct crix_err **err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Reads dir/name into buf (NUL-terminated, trailing newline removed). */
int cg_read(const char *dir, const char *name, char *buf, size_t size, struct crix_err **err);
/* True when dir/name exists. */
bool cg_exists(const char *dir, const char *name);

/* The directory of the v1 hierarchy carrying controller (e.g. "cpu" in "cpu,cpuacct"), NULL
 * when not mounted. */
const char *cg_v1_dir(const struct oci_cgroup *cg, const char *controller);

/* The device rules to enforce: res->devices followed by runc's default allow-list.
 * *rules is malloc'd; the strings point into res or static storage. */
int cg_device_rules(const struct oci_resources *res, struct oci_device_rule **rules, size_t *n,
		    struct crix_err **err);

/* rdma.max "<device> hca_handle=<n|max> hca_object=<n|max>" (same format in v1 and v2). */
int cg_write_rdma(const char *dir, const struct oci_rdma_limit *r, struct crix_err **err);

int cg_v1_apply(const struct oci_cgroup *cg, const struct oci_resources *res, struct crix_err **err);
int cg_v2_apply(const struct oci_cgroup *cg, const struct oci_resources *res, struct crix_err **err);

#endif
