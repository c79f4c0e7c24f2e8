/* The container's init, from clone() to execve: namespaces, filesystem, terminal, process.
 * Runs in the child of `create`; every failure goes back to the runtime over sync_fd. */
#ifndef OCI_INIT_H
#define OCI_INIT_H

#include <stdbool.h>
#include <sys/types.h>

#include "oci_mount.h"
#include "oci_process.h"
#include "oci_spec.h"
#include "oci_state.h"

struct oci_init {
	const struct oci_spec *spec;
	const struct oci_state *state; /* id, bundle, annotations: for the hooks' state */
	struct oci_plan *plan;
	struct oci_rootfs_opts rootfs;
	int sync_fd;     /* child's end of the socketpair */
	int fifo_fd;     /* exec.fifo opened O_RDWR: start writes a byte to it */
	int console_fd;  /* connected console socket, -1 without a terminal */
	int ns_fd[OCI_NS_TYPES]; /* namespaces to join (by path), -1 otherwise */
	bool ns_new[OCI_NS_TYPES];
	bool two_stage;  /* user namespace involved: a first child makes the namespaces and forks */
	bool hooks_sync; /* the runtime runs prestart/createRuntime hooks midway */
	bool placed;     /* GO received: we are in the container's cgroup */
	pid_t parent;
};

/* clone(2) flags of the namespaces the first child gets at birth (one-stage path only). */
unsigned long oci_init_clone_flags(const struct oci_init *in);

/* In a process about to become the container's: no signal blocked, every disposition the
 * default (the runtime's own, e.g. an ignored SIGPIPE, must not leak into the container). */
void oci_reset_signals(void);

/* CLONE_NEW* flag of a namespace type. */
int oci_ns_clone_flag(enum oci_ns_type type);

/* The child's body; never returns. */
__attribute__((noreturn)) void oci_init_main(struct oci_init *in);

/* Unshares a new time namespace for future children and writes its offsets. */
int oci_time_ns_create(const struct oci_spec *spec, struct crix_err **err);

#endif
