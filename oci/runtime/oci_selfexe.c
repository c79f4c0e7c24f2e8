#include "oci_selfexe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "crix_cleanup.h"

extern char **environ;

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

int oci_self_exe_protected(void)
{
	_cleanup_close_ int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals > 0 && (seals & F_SEAL_WRITE))
		return 1;
	struct statvfs sv;
	return fstatvfs(fd, &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

/* A detached, read-only bind mount of our binary. */
static int ro_bind_fd(void)
{
	int fd = (int)syscall(SYS_open_tree, AT_FDCWD, "/proc/self/exe", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0)
		return -1;
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A sealed in-memory copy of our binary. */
static int sealed_memfd(void)
{
	_cleanup_close_ int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return -1;
	struct stat sb;
	if (fstat(src, &sb) < 0)
		return -1;
	int fd = memfd_create("crix-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	off_t off = 0;
	while (off < sb.st_size) {
		ssize_t n = sendfile(fd, src, &off, (size_t)(sb.st_size - off));
		if (n <= 0) {
			close(fd);
			return -1;
		}
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int oci_self_exe_protect(char **argv, struct crix_err **err)
{
	if (oci_self_exe_protected())
		return 0;
	int fd = ro_bind_fd();
	if (fd >= 0) {
		syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
		close(fd);
	}
	fd = sealed_memfd();
	if (fd < 0)
		return crix_err_make(err, errno, "protect the runtime binary (CVE-2019-5736)");
	syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
	int e = errno;
	close(fd);
	return crix_err_make(err, e, "re-execute the runtime from a sealed copy");
}
