/* Seccomp for crix-runtime: linux.seccomp compiled with libseccomp into a classic BPF program
 * (in the parent, before the container exists), then installed by the container process with
 * one seccomp(2) call, the last thing before execve. (Not named seccomp.h: that would shadow
 * libseccomp's <seccomp.h> for every file of this folder.)
 *
 * Compilation follows crun: seccomp_init(defaultAction[, defaultErrnoRet]), every listed
 * architecture added, each syscall name resolved (a name unknown to libseccomp is skipped with
 * a debug line), actions with errnoRet (EPERM when absent), argument conditions with several
 * conditions on the same argument index split into separate rules. A rule whose action equals
 * the default action is dropped (libseccomp refuses it and it changes nothing). */
#ifndef OCI_RUNTIME_SECCOMP_FILTER_H
#define OCI_RUNTIME_SECCOMP_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "crix_err.h"
#include "oci_seccomp.h"

/* A compiled filter: BPF instructions and the seccomp(2) flags to load them with. */
struct oci_seccomp_filter {
	void *bpf;           /* struct sock_filter[] */
	size_t n_insns;
	unsigned int flags;  /* SECCOMP_FILTER_FLAG_* from spec flags (+ NEW_LISTENER for NOTIFY) */
	bool wants_listener; /* some rule uses SCMP_ACT_NOTIFY */
};

/* Compiles spec. Unknown architectures, flags or a bad errnoRet fail with the reason. */
int oci_seccomp_filter_build(const struct oci_seccomp *spec, struct oci_seccomp_filter **out,
			     struct crix_err **err);

/* oci_seccomp_filter_build through a cache of compiled programs in cache_dir (created on
 * demand; NULL: no cache). Compiling a Docker-sized profile for x86_64+x86+x32 takes ~15 ms
 * here, reading it back a fraction of a millisecond, as crun found (it caches too).
 * An entry stores the whole key (libseccomp version, native arch and the spec's canonical JSON)
 * and is used only when that key matches byte for byte, so a hash collision can only cause
 * a rebuild. A cache that cannot be read or written is skipped with a debug line. */
int oci_seccomp_filter_build_cached(const struct oci_seccomp *spec, const char *cache_dir,
				    struct oci_seccomp_filter **out, struct crix_err **err);

/* Installs the filter in the calling thread (all threads with TSYNC). Requires no_new_privs
 * or CAP_SYS_ADMIN: the runtime sets PR_SET_NO_NEW_PRIVS first when the spec asks for it, and
 * otherwise must load while it still holds CAP_SYS_ADMIN (as runc does). Safe between fork and
 * exec (no allocation). When the filter wants a listener, *listener_fd receives the
 * notification fd (else -1); listener_fd may be NULL when no NOTIFY rule exists. */
int oci_seccomp_filter_load(const struct oci_seccomp_filter *f, int *listener_fd,
			    struct crix_err **err);

void oci_seccomp_filter_free(struct oci_seccomp_filter *f);

#endif
