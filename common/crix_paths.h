/* Paths under crixd's root (persistent, /var/lib/crix) and runroot (volatile, /run/crix): one
 * function per kind of object (docs/DESIGN.md, "On disk"), so that no call site pastes a path
 * together. Each checks the names it is given, so that an id from a request or from crix-pull
 * cannot point anywhere else (EINVAL, naming what is wrong). *out is malloc'd. */
#ifndef CRIX_PATHS_H
#define CRIX_PATHS_H

#include "crix_err.h"

/* A name that is one plain path component: [A-Za-z0-9][A-Za-z0-9_.-]*, at most 255 bytes (no
 * '/', no "." or "..", no hidden, control or separator characters). what names it in the
 * error ("container id"). */
int crix_path_check_name(const char *what, const char *name, struct crix_err **err);

/* ---- runroot ---- */
/* bundles/<id>: the OCI bundle of a container (or pod infra) */
int crix_path_bundle(const char *runroot, const char *id, char **out, struct crix_err **err);
/* exits/<id>: the exit file crix-conmon writes */
int crix_path_exit(const char *runroot, const char *id, char **out, struct crix_err **err);
/* ns/<pod-id>/<ns>: a pod's pinned namespace; ns is a kernel name (net, ipc, uts, pid, user,
 * cgroup, mnt, time) */
int crix_path_pod_ns(const char *runroot, const char *pod_id, const char *ns, char **out,
		     struct crix_err **err);
/* conmon/<id>[/attach|/ctl|/pid]: a monitor's directory and what is in it */
enum crix_conmon_file { CRIX_CONMON_DIR, CRIX_CONMON_ATTACH, CRIX_CONMON_CTL, CRIX_CONMON_PID };
int crix_path_conmon(const char *runroot, const char *id, enum crix_conmon_file file, char **out,
		     struct crix_err **err);

/* ---- root ---- */
/* pods/<id>/state.json */
int crix_path_pod_record(const char *root, const char *pod_id, char **out, struct crix_err **err);
/* containers/<id>: a container's directory (record, writable layer) */
int crix_path_container_dir(const char *root, const char *id, char **out, struct crix_err **err);
/* containers/<id>/state.json */
int crix_path_container_record(const char *root, const char *id, char **out, struct crix_err **err);

#endif
