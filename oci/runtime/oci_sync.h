/* Messages between the runtime and the processes it forks (a SOCK_SEQPACKET socketpair, one
 * message per packet). The child side closes on execve, so EOF after READY means "exec'd". */
#ifndef OCI_SYNC_H
#define OCI_SYNC_H

#include <stdbool.h>
#include <sys/types.h>

#include "crix_err.h"

enum oci_sync_type {
	OCI_SYNC_GO = 1,      /* parent: placed in the cgroup, carry on */
	OCI_SYNC_USERMAP,     /* child: write my uid/gid maps */
	OCI_SYNC_USERMAP_DONE,
	OCI_SYNC_PID,         /* child: the process that carries on is value (a host pid) */
	OCI_SYNC_HOOKS,       /* child: mounts done, run prestart/createRuntime hooks */
	OCI_SYNC_HOOKS_DONE,  /* parent: text = the state JSON for the container's own hooks */
	OCI_SYNC_READY,       /* child: set up, waiting for start (or about to exec) */
	OCI_SYNC_ERROR,       /* child: text = what failed */
};

struct oci_sync_msg {
	int type;
	int value;
	char text[4000];
};

int oci_sync_send(int fd, int type, int value, const char *text);
/* Receives one message; 0 on EOF (the peer exited or exec'd), 1 with a message, -1 on error. */
int oci_sync_recv(int fd, struct oci_sync_msg *msg);
/* Receives a message of type want; an ERROR message or EOF becomes *err. */
int oci_sync_expect(int fd, int want, struct oci_sync_msg *msg, struct crix_err **err);
/* In a child: report err to the parent and _exit(1). */
__attribute__((noreturn)) void oci_sync_fail(int fd, struct crix_err *err);

#endif
