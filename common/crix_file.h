/* File helpers: atomic record writes, whole-file reads, directory creation. */
#ifndef CRIX_FILE_H
#define CRIX_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "crix_err.h"

/* Writes data to path atomically: temp file in the same dir, fsync, rename, fsync dir.
 * Nothing partial is ever visible under path. */
int crix_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			   struct crix_err **err);

/* Reads a whole file (at most max_len bytes; larger is EFBIG) into a NUL-terminated buffer. */
int crix_read_file(const char *path, size_t max_len, char **data, size_t *len, struct crix_err **err);

/* mkdir -p; existing directories are fine. */
int crix_mkdir_p(const char *path, mode_t mode, struct crix_err **err);

/* rm -rf without following symlinks; a missing path is fine. */
int crix_remove_tree(const char *path, struct crix_err **err);

/* write() all of buf, retrying on EINTR and short writes. */
int crix_write_all(int fd, const void *buf, size_t len);

/* Receives one fd sent with SCM_RIGHTS over a unix socket (the bytes sent with it, such as
 * a pty's name, are dropped); returns it, close-on-exec. EPROTO when none came. */
int crix_recv_fd(int sock, struct crix_err **err);

#endif
