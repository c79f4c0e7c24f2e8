/* File helpers: atomic record writes, whole-file reads, directory creation. */
#ifndef CRIX_FILE_H
#define CRIX_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "crix_err.h"

/* How crix_write_file_atomic makes a record last. */
enum crix_write_mode {
	/* Under root (persistent): the file and its directory are fsynced, so a power cut
	 * leaves either the old record or the new one. */
	CRIX_WRITE_DURABLE,
	/* Under runroot (a tmpfs, wiped at boot) or for a caller's pid file: atomic against a
	 * crash of the writer, not of the machine; no fsync. */
	CRIX_WRITE_VOLATILE,
};

/* Writes data to path atomically: a temp file of a unique name in the same dir
 * (path.tmp.XXXXXX), then rename; with CRIX_WRITE_DURABLE fsync of the file before and of the
 * dir after. Nothing partial is ever visible under path; a crash may leave a temp file, which
 * the owner of the directory sweeps at start (crix_sweep_temp_files). */
int crix_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			   enum crix_write_mode how, struct crix_err **err);

/* Removes the temp files crix_write_file_atomic leaves when its writer crashes (regular files
 * named *.tmp.XXXXXX) in dir and in its direct subdirectories (the record dirs such as
 * containers/<id>/), never deeper: a layer's diff/ or a container's upper/ holds users' files.
 * Called by the owner of the records at start, before it reads them; a missing dir is fine.
 * Returns the number of files removed. */
int crix_sweep_temp_files(const char *dir, struct crix_err **err);

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
