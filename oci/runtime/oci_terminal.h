/* Terminals: the container's pty is created inside the container (its own devpts), the
 * master is sent over the --console-socket with SCM_RIGHTS as runc does, and the slave
 * becomes the process's controlling terminal and stdio. */
#ifndef OCI_TERMINAL_H
#define OCI_TERMINAL_H

#include <stdbool.h>

#include "crix_err.h"
#include "oci_spec.h"

/* Connects to the console socket (a unix stream socket path); returns the fd. */
int oci_console_connect(const char *path, struct crix_err **err);

/* Receives the pty master sent over a console socket (the end of a socketpair whose other
 * end was handed to the container as its console socket); returns the fd. */
int oci_console_recv(int sock, struct crix_err **err);

/* In the container (after pivot_root): opens a pty, sizes it from the process, binds the
 * slave onto /dev/console when mount_console, sends the master over socket_fd, then makes the
 * slave the controlling terminal and fds 0-2 of the caller. */
int oci_console_setup(int socket_fd, const struct oci_process *process, bool mount_console,
		      struct crix_err **err);

#endif
