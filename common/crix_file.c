#include "crix_file.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crix_cleanup.h"

int crix_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fsync_parent_dir(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	if (copy == NULL)
		return -1;
	_cleanup_close_ int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	return fsync(dfd);
}

int crix_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			   enum crix_write_mode how, struct crix_err **err)
{
	_cleanup_free_ char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) {
		tmp = NULL; /* undefined after a failure */
		return crix_err_make(err, ENOMEM, "write %s", path);
	}
	_cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return crix_err_make(err, errno, "create temp file for %s", path);
	bool durable = how == CRIX_WRITE_DURABLE;
	/* close() can report a write error the kernel deferred (NFS, a full quota). */
	if (fchmod(fd, mode) < 0 || crix_write_all(fd, data, len) < 0 || (durable && fsync(fd) < 0) ||
	    close(steal_fd(fd)) < 0) {
		int saved = errno;
		unlink(tmp);
		return crix_err_make(err, saved, "write %s", tmp);
	}
	if (rename(tmp, path) < 0) {
		int saved = errno;
		unlink(tmp);
		return crix_err_make(err, saved, "rename %s to %s", tmp, path);
	}
	if (durable && fsync_parent_dir(path) < 0)
		return crix_err_make(err, errno, "fsync directory of %s", path);
	return 0;
}

/* A name crix_write_file_atomic gives its temp files: "<name>.tmp." and mkostemp's six
 * characters. */
static bool is_temp_name(const char *name)
{
	size_t n = strlen(name);
	if (n < 12 || strncmp(name + n - 11, ".tmp.", 5) != 0)
		return false;
	for (const char *p = name + n - 6; *p; p++)
		if (!isalnum((unsigned char)*p))
			return false;
	return true;
}

/* Sweeps the dir open as dfd (taken), and its subdirectories while depth > 0. */
static int sweep_dir(int dfd, const char *path, int depth, struct crix_err **err)
{
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	if (d == NULL) {
		int e = errno;
		close(dfd);
		return crix_err_make(err, e, "open %s", path);
	}
	int removed = 0;
	struct dirent *e;
	while ((errno = 0, e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return crix_err_make(err, errno, "stat %s/%s", path, e->d_name);
		}
		if (S_ISREG(st.st_mode) && is_temp_name(e->d_name)) {
			if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT)
				return crix_err_make(err, errno, "remove %s/%s", path, e->d_name);
			removed++;
		} else if (S_ISDIR(st.st_mode) && depth > 0) {
			int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				return crix_err_make(err, errno, "open %s/%s", path, e->d_name);
			_cleanup_free_ char *subpath = NULL;
			if (asprintf(&subpath, "%s/%s", path, e->d_name) < 0) {
				subpath = NULL;
				close(sub);
				return crix_err_make(err, ENOMEM, "sweep %s", path);
			}
			int n = sweep_dir(sub, subpath, depth - 1, err);
			if (n < 0)
				return -1;
			removed += n;
		}
	}
	if (errno != 0)
		return crix_err_make(err, errno, "read %s", path);
	return removed;
}

int crix_sweep_temp_files(const char *dir, struct crix_err **err)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : crix_err_make(err, errno, "open %s", dir);
	int removed = sweep_dir(dfd, dir, 1, err);
	return removed < 0 ? crix_err_wrap(err, "sweep temp files") : removed;
}

int crix_read_file(const char *path, size_t max_len, char **data, size_t *len, struct crix_err **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return crix_err_make(err, errno, "open %s", path);
	size_t cap = max_len < 4096 ? max_len : 4096, used = 0;
	_cleanup_free_ char *buf = malloc(cap + 1);
	if (buf == NULL)
		return crix_err_make(err, ENOMEM, "read %s", path);
	for (;;) {
		if (used == cap) {
			if (cap >= max_len) {
				/* Full: only a file of exactly max_len bytes may end here. */
				char probe;
				ssize_t extra;
				do
					extra = read(fd, &probe, 1);
				while (extra < 0 && errno == EINTR);
				if (extra == 0)
					break;
				return crix_err_make(err, EFBIG, "read %s: larger than %zu bytes", path, max_len);
			}
			size_t ncap = cap * 2 > max_len ? max_len : cap * 2;
			char *nbuf = realloc(buf, ncap + 1);
			if (nbuf == NULL)
				return crix_err_make(err, ENOMEM, "read %s", path);
			buf = nbuf;
			cap = ncap;
		}
		ssize_t n = read(fd, buf + used, cap - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return crix_err_make(err, errno, "read %s", path);
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	buf[used] = '\0';
	if (len != NULL)
		*len = used;
	*data = steal_ptr(buf);
	return 0;
}

int crix_mkdir_p(const char *path, mode_t mode, struct crix_err **err)
{
	_cleanup_free_ char *copy = strdup(path);
	if (copy == NULL)
		return crix_err_make(err, ENOMEM, "mkdir %s", path);
	for (char *p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST)
			return crix_err_make(err, errno, "mkdir %s", copy);
		*p = saved;
		if (saved == '\0')
			break;
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return crix_err_make(err, errno, "stat %s", path);
	if (!S_ISDIR(st.st_mode))
		return crix_err_make(err, ENOTDIR, "mkdir %s", path);
	return 0;
}

static int remove_entry(const char *fpath, const struct stat *sb, int typeflag, struct FTW *ftwbuf)
{
	(void)sb;
	(void)ftwbuf;
	int rc = typeflag == FTW_DP ? rmdir(fpath) : unlink(fpath);
	return rc < 0 && errno != ENOENT ? -1 : 0;
}

int crix_remove_tree(const char *path, struct crix_err **err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : crix_err_make(err, errno, "stat %s", path);
	if (nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return crix_err_make(err, errno, "remove %s", path);
	return 0;
}

int crix_recv_fd(int sock, struct crix_err **err)
{
	char data[256];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf)};
	ssize_t n;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return crix_err_make(err, errno, "receive an fd");
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (c == NULL || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)))
		return crix_err_make(err, EPROTO, "no fd was sent");
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}
