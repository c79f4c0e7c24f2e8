/* CVE-2019-5736: a container process must never be able to open our binary for writing
 * through /proc/<pid>/exe. Before a command that enters a container, crix-runtime makes sure
 * it runs from a read-only bind mount of itself (a detached mount from open_tree, made
 * read-only with mount_setattr) or, failing that, from a sealed memfd copy, re-executing
 * itself once if needed. */
#ifndef OCI_SELFEXE_H
#define OCI_SELFEXE_H

#include "crix_err.h"

/* True when /proc/self/exe cannot be written (read-only mount or sealed memfd). */
int oci_self_exe_protected(void);

/* Re-executes argv from a protected copy unless already protected; returns 0 when already
 * protected, -1 when re-execution failed (never returns on success). */
int oci_self_exe_protect(char **argv, struct crix_err **err);

#endif
