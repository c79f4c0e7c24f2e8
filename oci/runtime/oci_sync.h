/* Messages between the runtime and the processes it forks, over a SOCK_SEQPACKET socketpair.
 * A message is a type, a value and a text of any length (an error's): a header packet holds
 * them, as much of the text as fits in OCI_SYNC_PACKET bytes, and further packets the rest.
 * One packet is limited by the socket buffer (~200 KiB by default), a message is not. One
 * process sends on a socket at a time (oci_sync_fork_pid sees to it), so the packets of two
 * messages never mix. The child side closes on execve: EOF after READY means "exec'd". */
#ifndef OCI_SYNC_H
#define OCI_SYNC_H

#include <sys/types.h>

#include "crix_err.h"

enum oci_sync_type {
	OCI_SYNC_GO = 1,      /* parent: placed in the cgroup, carry on */
	OCI_SYNC_USERMAP,     /* child: write my uid/gid maps */
	OCI_SYNC_USERMAP_DONE,
	OCI_SYNC_PID,         /* child: the process that carries on is value (a host pid) */
	OCI_SYNC_HOOKS,       /* child: mounts done, run prestart/createRuntime hooks */
	OCI_SYNC_HOOKS_DONE,  /* parent: they ran, run createContainer */
	OCI_SYNC_READY,       /* child: set up, waiting for start */
	OCI_SYNC_ERROR,       /* child: text = what failed, value = its errno */
};

/* The largest packet sent: well under any socket buffer. */
#define OCI_SYNC_PACKET (32u << 10)

int oci_sync_send(int fd, enum oci_sync_type type, int value, const char *text, struct crix_err **err);
/* Receives a message of type want (its value in *value, if not NULL); an ERROR message or
 * EOF becomes *err. */
int oci_sync_expect(int fd, enum oci_sync_type want, int *value, struct crix_err **err);
/* Waits for the child side to close on execve: 0 then; an ERROR message, or any other,
 * becomes *err. */
int oci_sync_expect_exec(int fd, struct crix_err **err);
/* In a child: report err to the parent and _exit(1). */
__attribute__((noreturn)) void oci_sync_fail(int fd, struct crix_err *err);
/* In a child: forks; this process sends the new one's pid as OCI_SYNC_PID and exits, and the
 * new one returns 0 once that is sent (so its own messages come after). -1 with *err when the
 * fork failed. */
int oci_sync_fork_pid(int fd, struct crix_err **err);

#endif
