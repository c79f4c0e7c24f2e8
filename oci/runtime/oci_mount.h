/* The container's filesystem, done by its init inside the new mount namespace:
 * oci_rootfs_prepare (spec mounts, /dev, before the createContainer hooks), oci_rootfs_pivot,
 * then oci_rootfs_finish (sysctls, masked and read-only paths, read-only root, propagation).
 * Every mount destination is resolved inside the rootfs with openat2(RESOLVE_IN_ROOT), so a
 * symlink in the image cannot make a mount land on the host (CVE-2021-30465). */
#ifndef OCI_MOUNT_H
#define OCI_MOUNT_H

#include <stdbool.h>

#include "crix_err.h"
#include "oci_spec.h"

struct oci_rootfs_opts {
	const char *rootfs;   /* absolute, resolved */
	const char *bundle;   /* absolute: relative bind sources are found there, as runc does */
	bool user_ns;         /* in a new user namespace: bind devices instead of mknod */
	bool cgroup_ns;       /* in a new cgroup namespace: mount cgroupfs instead of binding */
	bool no_pivot;
	/* Called before the first cgroup mount: the init must be in its cgroup (and cgroup
	 * namespace) by then, and it need not be earlier. NULL: nothing to wait for. */
	int (*cgroup_ready)(void *arg, struct crix_err **err);
	void *cgroup_ready_arg;
};

int oci_rootfs_prepare(const struct oci_spec *spec, const struct oci_rootfs_opts *opts,
		       struct crix_err **err);
int oci_rootfs_pivot(const struct oci_rootfs_opts *opts, struct crix_err **err);
int oci_rootfs_finish(const struct oci_spec *spec, struct crix_err **err);

/* Opens path inside the directory root_fd as if root_fd were "/" (O_PATH unless flags say
 * otherwise), creating missing directories (and the last component as a file when
 * make_file, or a directory when make_dir). */
int oci_open_in_root(int root_fd, const char *path, int flags, bool make_dir, bool make_file,
		     struct crix_err **err);

/* Parses mount options into MS_* flags, propagation flags and a data string (malloc'd). */
int oci_mount_options(char *const *options, unsigned long *flags, unsigned long *propagation,
		      char **data, struct crix_err **err);

#endif
