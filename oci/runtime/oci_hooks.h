/* OCI hooks: each program gets the container's state JSON on stdin, runs with the spec's
 * args and env (empty when absent), its output going to the runtime's stderr, and is killed
 * when its timeout passes. */
#ifndef OCI_HOOKS_H
#define OCI_HOOKS_H

#include "crix_err.h"
#include "oci_spec.h"

/* Runs the hooks of one kind in order; the first failure stops the list and is returned. */
int oci_hooks_run(const struct oci_spec *spec, enum oci_hook_kind kind, const char *state_json,
		  struct crix_err **err);

#endif
