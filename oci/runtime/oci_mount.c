#include "oci_mount.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_log.h"

#define PROPAGATION_FLAGS (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)

static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} mount_flags[] = {
	{"acl", false, MS_POSIXACL},	  {"async", true, MS_SYNCHRONOUS},
	{"atime", true, MS_NOATIME},	  {"bind", false, MS_BIND},
	{"defaults", false, 0},		  {"dev", true, MS_NODEV},
	{"diratime", true, MS_NODIRATIME}, {"dirsync", false, MS_DIRSYNC},
	{"exec", true, MS_NOEXEC},	  {"iversion", false, MS_I_VERSION},
	{"lazytime", false, MS_LAZYTIME},  {"loud", true, MS_SILENT},
	{"mand", false, MS_MANDLOCK},	  {"noacl", true, MS_POSIXACL},
	{"noatime", false, MS_NOATIME},	  {"nodev", false, MS_NODEV},
	{"nodiratime", false, MS_NODIRATIME}, {"noexec", false, MS_NOEXEC},
	{"noiversion", true, MS_I_VERSION}, {"nolazytime", true, MS_LAZYTIME},
	{"nomand", true, MS_MANDLOCK},	  {"norelatime", true, MS_RELATIME},
	{"nostrictatime", true, MS_STRICTATIME}, {"nosuid", false, MS_NOSUID},
	{"rbind", false, MS_BIND | MS_REC}, {"relatime", false, MS_RELATIME},
	{"remount", false, MS_REMOUNT},	  {"ro", false, MS_RDONLY},
	{"rw", true, MS_RDONLY},	  {"silent", false, MS_SILENT},
	{"strictatime", false, MS_STRICTATIME}, {"suid", true, MS_NOSUID},
	{"sync", false, MS_SYNCHRONOUS},
};

static const struct {
	const char *name;
	unsigned long flag;
} propagation_flags[] = {
	{"private", MS_PRIVATE},	   {"rprivate", MS_PRIVATE | MS_REC},
	{"shared", MS_SHARED},		   {"rshared", MS_SHARED | MS_REC},
	{"slave", MS_SLAVE},		   {"rslave", MS_SLAVE | MS_REC},
	{"unbindable", MS_UNBINDABLE},	   {"runbindable", MS_UNBINDABLE | MS_REC},
};

int oci_mount_options(char *const *options, unsigned long *flags, unsigned long *propagation,
		      char **data, struct crix_err **err)
{
	*flags = 0;
	*propagation = 0;
	*data = NULL;
	size_t cap = 1, len = 0;
	for (size_t i = 0; options != NULL && options[i] != NULL; i++)
		cap += strlen(options[i]) + 1;
	char *buf = calloc(cap, 1);
	if (buf == NULL)
		return crix_err_make(err, ENOMEM, "mount options");
	for (size_t i = 0; options != NULL && options[i] != NULL; i++) {
		const char *o = options[i];
		bool known = false;
		for (size_t k = 0; k < sizeof(mount_flags) / sizeof(mount_flags[0]); k++)
			if (strcmp(o, mount_flags[k].name) == 0) {
				if (mount_flags[k].clear)
					*flags &= ~mount_flags[k].flag;
				else
					*flags |= mount_flags[k].flag;
				known = true;
				break;
			}
		for (size_t k = 0; !known && k < sizeof(propagation_flags) / sizeof(propagation_flags[0]); k++)
			if (strcmp(o, propagation_flags[k].name) == 0) {
				*propagation |= propagation_flags[k].flag;
				known = true;
			}
		/* runc's tmpcopyup and the recursive r* attributes are not supported: skipped. */
		if (!known && (strcmp(o, "tmpcopyup") == 0 || strcmp(o, "rro") == 0 ||
			       strcmp(o, "rrw") == 0 || strncmp(o, "rnosuid", 7) == 0)) {
			crix_debug("mount option %s ignored", o);
			known = true;
		}
		if (!known) {
			if (len > 0)
				buf[len++] = ',';
			memcpy(buf + len, o, strlen(o));
			len += strlen(o);
		}
	}
	if (len == 0)
		free(buf);
	else
		*data = buf;
	return 0;
}

static int openat2_in_root(int root_fd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	while (*path == '/')
		path++;
	if (*path == '\0')
		path = ".";
	int fd;
	do
		fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
	while (fd < 0 && (errno == EAGAIN || errno == EINTR));
	return fd;
}

static int open_in_root(int root_fd, const char *path, int flags, bool make_dir, bool make_file,
			int depth, struct crix_err **err);

/* A dangling symlink on the way (/evil -> /does/not/exist): creation continues at its target,
 * read and joined here and resolved again inside the root, as runc's securejoin does. */
static int follow_dangling(int root_fd, int parent, char *prefix, const char *name, const char *rest,
			   int flags, bool make_dir, bool make_file, int depth, struct crix_err **err)
{
	char target[4096];
	ssize_t n = readlinkat(parent, name, target, sizeof(target) - 1);
	if (n < 0)
		return crix_err_make(err, errno, "open %s in the rootfs", prefix);
	target[n] = '\0';
	/* prefix is "dir/name": its dir part is where a relative target starts. */
	char *slash = strrchr(prefix, '/');
	_cleanup_free_ char *joined = NULL;
	int r;
	if (target[0] == '/')
		r = asprintf(&joined, "%s%s%s", target, rest ? "/" : "", rest ? rest : "");
	else
		r = asprintf(&joined, "%.*s/%s%s%s", slash ? (int)(slash - prefix) : 0, prefix, target,
			     rest ? "/" : "", rest ? rest : "");
	if (r < 0)
		return crix_err_make(err, ENOMEM, "open %s", prefix);
	return open_in_root(root_fd, joined, flags, make_dir, make_file, depth + 1, err);
}

int oci_open_in_root(int root_fd, const char *path, int flags, bool make_dir, bool make_file,
		     struct crix_err **err)
{
	return open_in_root(root_fd, path, flags, make_dir, make_file, 0, err);
}

static int open_in_root(int root_fd, const char *path, int flags, bool make_dir, bool make_file,
			int depth, struct crix_err **err)
{
	if (depth > 40)
		return crix_err_make(err, ELOOP, "open %s in the rootfs", path);
	int fd = openat2_in_root(root_fd, path, flags ? flags : O_PATH);
	if (fd >= 0 || errno != ENOENT || (!make_dir && !make_file))
		return fd >= 0 ? fd : crix_err_make(err, errno, "open %s in the rootfs", path);
	/* Create the missing components one by one, each parent resolved inside the root. */
	_cleanup_free_ char *copy = strdup(path);
	if (copy == NULL)
		return crix_err_make(err, ENOMEM, "open %s", path);
	char *p = copy;
	while (*p == '/')
		p++;
	_cleanup_close_ int parent = openat2_in_root(root_fd, "/", O_PATH | O_DIRECTORY);
	if (parent < 0)
		return crix_err_make(err, errno, "open the rootfs");
	while (*p != '\0') {
		char *slash = strchr(p, '/');
		bool last = slash == NULL;
		if (!last) {
			*slash = '\0';
			while (slash[1] == '/')
				slash++;
			if (slash[1] == '\0')
				last = true;
		}
		if (last && make_file) {
			int f = openat(parent, p, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
			if (f < 0 && errno != EEXIST)
				return crix_err_make(err, errno, "create %s in the rootfs", path);
			if (f >= 0)
				close(f);
		} else if (mkdirat(parent, p, 0755) < 0 && errno != EEXIST) {
			return crix_err_make(err, errno, "mkdir %s in the rootfs", path);
		}
		/* Re-resolve the prefix from the root: it may be a symlink that must stay inside. */
		int next = openat2_in_root(root_fd, copy, last ? (flags ? flags : O_PATH) : O_PATH | O_DIRECTORY);
		if (next < 0 && errno == ENOENT)
			return follow_dangling(root_fd, parent, copy, p, last ? NULL : slash + 1, flags, make_dir,
					       make_file, depth, err);
		if (next < 0)
			return crix_err_make(err, errno, "open %s in the rootfs", copy);
		if (last)
			return next;
		close(parent);
		parent = next;
		*slash = '/';
		p = slash + 1;
	}
	return crix_err_make(err, EINVAL, "open %s in the rootfs: empty path", path);
}

static const char *fd_path(char *buf, size_t size, int fd)
{
	snprintf(buf, size, "/proc/self/fd/%d", fd);
	return buf;
}

/* Flags the kernel will not let a bind remount drop inside a user namespace. */
static unsigned long locked_flags(const char *target)
{
	struct statvfs sv;
	unsigned long f = 0;
	if (statvfs(target, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

static int remount_bind(const char *target, const char *what, unsigned long flags, struct crix_err **err)
{
	flags = (flags & ~(PROPAGATION_FLAGS | MS_BIND | MS_REC | MS_REMOUNT)) | MS_BIND | MS_REMOUNT;
	if (mount(NULL, target, NULL, flags, NULL) == 0)
		return 0;
	if (errno == EPERM && mount(NULL, target, NULL, flags | locked_flags(target), NULL) == 0)
		return 0;
	return crix_err_make(err, errno, "mount %s: remount%s", what, (flags & MS_RDONLY) ? " read-only" : "");
}

/* One v1 hierarchy (or the cgroup2 tree) from the host's mountinfo. */
struct cgroup_mount {
	char *dir;     /* mount point basename: "memory", "systemd", "unified" */
	char *mnt;     /* host mount point */
	char *options; /* super options minus rw/ro: "memory", "name=systemd" */
	bool v2;
};

static void cgroup_mounts_free(struct cgroup_mount *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].dir);
		free(m[i].mnt);
		free(m[i].options);
	}
	free(m);
}

static int read_cgroup_mounts(struct cgroup_mount **out, size_t *n_out, struct crix_err **err)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	if (f == NULL)
		return crix_err_make(err, errno, "open /proc/self/mountinfo");
	struct cgroup_mount *list = NULL;
	size_t n = 0;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
		char *sep = strstr(line, " - ");
		if (sep == NULL)
			continue;
		char fstype[32], source[256], super[512];
		if (sscanf(sep + 3, "%31s %255s %511s", fstype, source, super) != 3)
			continue;
		bool v2 = strcmp(fstype, "cgroup2") == 0;
		if (!v2 && strcmp(fstype, "cgroup") != 0)
			continue;
		char root[4096], mnt[4096];
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2)
			continue;
		struct cgroup_mount *grown = realloc(list, (n + 1) * sizeof(*list));
		if (grown == NULL) {
			cgroup_mounts_free(list, n);
			return crix_err_make(err, ENOMEM, "read cgroup mounts");
		}
		list = grown;
		struct cgroup_mount *m = &list[n++];
		const char *base = strrchr(mnt, '/');
		m->dir = strdup(base ? base + 1 : mnt);
		m->mnt = strdup(mnt);
		m->v2 = v2;
		/* Keep the controller options, drop rw/ro and the like. */
		char opts[512] = "";
		for (char *save = NULL, *t = strtok_r(super, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (strcmp(t, "rw") == 0 || strcmp(t, "ro") == 0)
				continue;
			if (opts[0] != '\0')
				strncat(opts, ",", sizeof(opts) - strlen(opts) - 1);
			strncat(opts, t, sizeof(opts) - strlen(opts) - 1);
		}
		m->options = strdup(opts);
		if (!m->dir || !m->mnt || !m->options) {
			cgroup_mounts_free(list, n);
			return crix_err_make(err, ENOMEM, "read cgroup mounts");
		}
	}
	*out = list;
	*n_out = n;
	return 0;
}

/* Our cgroup in a hierarchy, from /proc/self/cgroup ("4:memory:/crix/x" -> "/crix/x"). */
static char *own_cgroup(const char *options, bool v2)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
	if (f == NULL)
		return NULL;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c2 == NULL)
			continue;
		*c2 = '\0';
		const char *ctrls = c1 + 1;
		if ((v2 && ctrls[0] == '\0') || (!v2 && ctrls[0] != '\0' && strcmp(ctrls, options) == 0))
			return strdup(c2 + 1);
	}
	return NULL;
}

/* type "cgroup"/"cgroup2": a tmpfs with one cgroupfs per v1 hierarchy (v1/hybrid hosts; the
 * options such as ro apply to the hierarchies, the tmpfs stays writable as with runc), or
 * the cgroup2 tree; in a cgroup namespace the kernel shows our cgroup as the root, otherwise
 * our own cgroup directory is bound from the host (as runc does). */
static int mount_cgroups(int root_fd, const struct oci_mount *m, unsigned long flags,
			 const struct oci_rootfs_opts *opts, struct crix_err **err)
{
	struct cgroup_mount *list = NULL;
	size_t n = 0;
	if (opts->cgroup_ready != NULL && opts->cgroup_ready(opts->cgroup_ready_arg, err) < 0)
		return -1;
	if (read_cgroup_mounts(&list, &n, err) < 0)
		return -1;
	bool pure_v2 = n == 1 && list[0].v2;
	int r = -1;
	char t[64];
	_cleanup_close_ int dest = oci_open_in_root(root_fd, m->destination, 0, true, false, err);
	if (dest < 0)
		goto out;
	if (!pure_v2 && mount("tmpfs", fd_path(t, sizeof(t), dest), "tmpfs",
			      (flags & ~MS_RDONLY) | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755") < 0) {
		crix_err_make(err, errno, "mount %s: tmpfs", m->destination);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (list[i].v2 && !pure_v2)
			continue; /* the controller-less cgroup2 of a hybrid host */
		_cleanup_free_ char *sub = NULL;
		if (asprintf(&sub, "%s/%s", m->destination, pure_v2 ? "" : list[i].dir) < 0) {
			crix_err_make(err, ENOMEM, "mount cgroups");
			goto out;
		}
		_cleanup_close_ int fd = oci_open_in_root(root_fd, sub, 0, true, false, err);
		if (fd < 0)
			goto out;
		fd_path(t, sizeof(t), fd);
		if (opts->cgroup_ns) {
			if (mount("cgroup", t, list[i].v2 ? "cgroup2" : "cgroup", flags,
				  list[i].v2 ? NULL : list[i].options) < 0) {
				crix_err_make(err, errno, "mount %s: cgroup %s", sub, list[i].options);
				goto out;
			}
			continue;
		}
		_cleanup_free_ char *own = own_cgroup(list[i].options, list[i].v2);
		_cleanup_free_ char *src = NULL;
		if (own == NULL || asprintf(&src, "%s%s", list[i].mnt, own) < 0) {
			crix_err_make(err, ENOENT, "mount %s: no cgroup of ours in %s", sub, list[i].mnt);
			goto out;
		}
		if (mount(src, t, NULL, MS_BIND | MS_REC, NULL) < 0) {
			crix_err_make(err, errno, "mount %s: bind %s", sub, src);
			goto out;
		}
		_cleanup_close_ int top = oci_open_in_root(root_fd, sub, 0, false, false, err);
		if (top < 0 || remount_bind(fd_path(t, sizeof(t), top), sub, flags, err) < 0)
			goto out;
	}
	r = 0;
out:
	cgroup_mounts_free(list, n);
	return r;
}

static bool is_bind(const struct oci_mount *m, unsigned long flags)
{
	return (flags & MS_BIND) || (m->type != NULL && strcmp(m->type, "bind") == 0);
}

static int do_mount(int root_fd, const struct oci_mount *m, const struct oci_rootfs_opts *opts,
		    struct crix_err **err)
{
	unsigned long flags, propagation;
	_cleanup_free_ char *data = NULL;
	if (oci_mount_options(m->options, &flags, &propagation, &data, err) < 0)
		return crix_err_wrap(err, "mount %s", m->destination);
	if (m->destination[0] != '/')
		return crix_err_make(err, EINVAL, "mount %s: destination must be absolute", m->destination);
	const char *type = m->type ? m->type : "none";
	if (strcmp(type, "cgroup") == 0 || strcmp(type, "cgroup2") == 0) {
		if (mount_cgroups(root_fd, m, flags, opts, err) < 0)
			return -1;
	} else if (is_bind(m, flags)) {
		if (m->source == NULL)
			return crix_err_make(err, EINVAL, "mount %s: bind without a source", m->destination);
		char source[PATH_MAX];
		if (snprintf(source, sizeof(source), "%s%s%s", m->source[0] == '/' ? "" : opts->bundle,
			     m->source[0] == '/' ? "" : "/", m->source) >= (int)sizeof(source))
			return crix_err_make(err, ENAMETOOLONG, "mount %s: source %s", m->destination, m->source);
		struct stat sb;
		if (stat(source, &sb) < 0)
			return crix_err_make(err, errno, "mount %s: source %s", m->destination, source);
		_cleanup_close_ int dest = oci_open_in_root(root_fd, m->destination, 0, S_ISDIR(sb.st_mode),
							     !S_ISDIR(sb.st_mode), err);
		if (dest < 0)
			return crix_err_wrap(err, "mount %s", m->destination);
		char t[64];
		if (mount(source, fd_path(t, sizeof(t), dest), NULL, MS_BIND | (flags & MS_REC), NULL) < 0)
			return crix_err_make(err, errno, "mount %s: bind %s", m->destination, source);
		if (flags & ~(MS_BIND | MS_REC)) {
			_cleanup_close_ int top = oci_open_in_root(root_fd, m->destination, 0, false, false, err);
			if (top < 0 || remount_bind(fd_path(t, sizeof(t), top), m->destination, flags, err) < 0)
				return -1;
		}
	} else {
		_cleanup_close_ int dest = oci_open_in_root(root_fd, m->destination, 0, true, false, err);
		if (dest < 0)
			return crix_err_wrap(err, "mount %s", m->destination);
		char t[64];
		if (mount(m->source ? m->source : type, fd_path(t, sizeof(t), dest), type,
			  flags & ~MS_REMOUNT, data) < 0) {
			int e = errno;
			/* sysfs needs a network namespace we own; like runc, bind the host's instead. */
			if (strcmp(type, "sysfs") == 0 && (e == EPERM || e == EBUSY) &&
			    mount("/sys", t, NULL, MS_BIND | MS_REC, NULL) == 0) {
				_cleanup_close_ int top = oci_open_in_root(root_fd, m->destination, 0, false, false, err);
				if (top < 0 || remount_bind(fd_path(t, sizeof(t), top), m->destination,
							    flags | MS_RDONLY, err) < 0)
					return -1;
			} else {
				return crix_err_make(err, e, "mount %s: %s", m->destination, type);
			}
		}
	}
	if (propagation != 0) {
		char t[64];
		_cleanup_close_ int top = oci_open_in_root(root_fd, m->destination, 0, false, false, err);
		if (top < 0)
			return -1;
		if (mount(NULL, fd_path(t, sizeof(t), top), NULL, propagation, NULL) < 0)
			return crix_err_make(err, errno, "mount %s: set propagation", m->destination);
	}
	return 0;
}

static const struct {
	const char *name;
	unsigned maj, min;
} default_devices[] = {
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

/* A device node at path (inside the root): mknod, or in a user namespace (no mknod) a bind
 * mount of the host's node onto an empty file. */
static int make_device(int root_fd, const char *path, char type, unsigned maj, unsigned min,
		       mode_t mode, uid_t uid, gid_t gid, bool user_ns, struct crix_err **err)
{
	_cleanup_free_ char *dir = strdup(path);
	if (dir == NULL)
		return crix_err_make(err, ENOMEM, "device %s", path);
	char *slash = strrchr(dir, '/');
	const char *name = slash ? slash + 1 : dir;
	if (slash != NULL)
		*slash = '\0';
	_cleanup_close_ int dfd = oci_open_in_root(root_fd, slash && dir[0] ? dir : "/", O_PATH | O_DIRECTORY,
						   true, false, err);
	if (dfd < 0)
		return crix_err_wrap(err, "device %s", path);
	if (user_ns) { /* no mknod there: bind the host's node of the same path, as runc does */
		char t[64];
		_cleanup_close_ int f = oci_open_in_root(root_fd, path, 0, false, true, err);
		if (f < 0)
			return crix_err_wrap(err, "device %s", path);
		if (mount(path, fd_path(t, sizeof(t), f), NULL, MS_BIND, NULL) < 0)
			return crix_err_make(err, errno, "device %s: bind the host's", path);
		return 0;
	}
	mode_t kind = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
	/* Replace whatever the image has there: a device file is never a symlink target. */
	unlinkat(dfd, name, 0);
	if (mknodat(dfd, name, kind | (mode & 07777), makedev(maj, min)) < 0)
		return crix_err_make(err, errno, "device %s: mknod", path);
	if (fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return crix_err_make(err, errno, "device %s: chown", path);
	return 0;
}

static bool has_mount_at(const struct oci_spec *spec, const char *dest, bool *bind)
{
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (strcmp(spec->mounts[i].destination, dest) == 0) {
			unsigned long flags = 0, prop = 0;
			char *data = NULL;
			if (oci_mount_options(spec->mounts[i].options, &flags, &prop, &data, NULL) == 0)
				free(data);
			*bind = is_bind(&spec->mounts[i], flags);
			return true;
		}
	return false;
}

static int setup_dev(int root_fd, const struct oci_spec *spec, const struct oci_rootfs_opts *opts,
		     struct crix_err **err)
{
	bool bind = false;
	bool own_dev = has_mount_at(spec, "/dev", &bind) && !bind;
	mode_t old = umask(0);
	int r = 0;
	if (own_dev)
		for (size_t i = 0; r == 0 && i < sizeof(default_devices) / sizeof(default_devices[0]); i++) {
			char path[32];
			snprintf(path, sizeof(path), "/dev/%s", default_devices[i].name);
			r = make_device(root_fd, path, 'c', default_devices[i].maj, default_devices[i].min,
					0666, 0, 0, opts->user_ns, err);
		}
	for (size_t i = 0; r == 0 && spec->linux && i < spec->linux->n_devices; i++) {
		const struct oci_device *d = &spec->linux->devices[i];
		r = make_device(root_fd, d->path, d->type, (unsigned)d->major, (unsigned)d->minor,
				d->has_file_mode ? d->file_mode : 0666, d->has_uid ? d->uid : 0,
				d->has_gid ? d->gid : 0, opts->user_ns, err);
	}
	umask(old);
	if (r < 0 || !own_dev)
		return r;
	static const char *const links[][2] = {
		{"/proc/self/fd", "fd"},     {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"}, {"/proc/kcore", "core"},
	};
	_cleanup_close_ int dev = oci_open_in_root(root_fd, "/dev", O_PATH | O_DIRECTORY, true, false, err);
	if (dev < 0)
		return -1;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		/* /dev/core only where the kernel has /proc/kcore (CONFIG_PROC_KCORE), as runc */
		if (strcmp(links[i][1], "core") == 0 && access(links[i][0], F_OK) < 0)
			continue;
		if (symlinkat(links[i][0], dev, links[i][1]) < 0 && errno != EEXIST)
			return crix_err_make(err, errno, "symlink /dev/%s", links[i][1]);
	}
	bool pts_bind;
	if (has_mount_at(spec, "/dev/pts", &pts_bind)) {
		unlinkat(dev, "ptmx", 0);
		if (symlinkat("pts/ptmx", dev, "ptmx") < 0)
			return crix_err_make(err, errno, "symlink /dev/ptmx");
	}
	return 0;
}

static unsigned long propagation_of(const struct oci_spec *spec, unsigned long fallback)
{
	const char *p = spec->linux ? spec->linux->rootfs_propagation : NULL;
	for (size_t k = 0; p && k < sizeof(propagation_flags) / sizeof(propagation_flags[0]); k++)
		if (strcmp(p, propagation_flags[k].name) == 0)
			return propagation_flags[k].flag;
	return fallback;
}

int oci_rootfs_prepare(const struct oci_spec *spec, const struct oci_rootfs_opts *opts,
		       struct crix_err **err)
{
	/* Nothing we mount may propagate back to the host; rootfsPropagation is applied to the
	 * container's own root at the end. */
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return crix_err_make(err, errno, "make / a slave mount");
	if (mount(opts->rootfs, opts->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		return crix_err_make(err, errno, "bind the rootfs %s onto itself", opts->rootfs);
	_cleanup_close_ int root_fd = open(opts->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return crix_err_make(err, errno, "open rootfs %s", opts->rootfs);
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (do_mount(root_fd, &spec->mounts[i], opts, err) < 0)
			return -1;
	return setup_dev(root_fd, spec, opts, err);
}

int oci_rootfs_pivot(const struct oci_rootfs_opts *opts, struct crix_err **err)
{
	if (opts->no_pivot) {
		if (chdir(opts->rootfs) < 0)
			return crix_err_make(err, errno, "chdir %s", opts->rootfs);
		if (mount(opts->rootfs, "/", NULL, MS_MOVE, NULL) < 0)
			return crix_err_make(err, errno, "move the rootfs to /");
		if (chroot(".") < 0)
			return crix_err_make(err, errno, "chroot %s", opts->rootfs);
		return chdir("/") < 0 ? crix_err_make(err, errno, "chdir /") : 0;
	}
	_cleanup_close_ int old_root = open("/", O_DIRECTORY | O_PATH | O_CLOEXEC);
	_cleanup_close_ int new_root = open(opts->rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (old_root < 0 || new_root < 0)
		return crix_err_make(err, errno, "pivot_root: open / or %s", opts->rootfs);
	if (fchdir(new_root) < 0)
		return crix_err_make(err, errno, "pivot_root: chdir %s", opts->rootfs);
	/* pivot_root(".", ".") stacks the old root under the new one; detach it from there. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return crix_err_make(err, errno, "pivot_root into %s", opts->rootfs);
	if (fchdir(old_root) < 0)
		return crix_err_make(err, errno, "pivot_root: chdir to the old root");
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return crix_err_make(err, errno, "pivot_root: make the old root a slave");
	if (umount2(".", MNT_DETACH) < 0)
		return crix_err_make(err, errno, "pivot_root: detach the old root");
	if (chdir("/") < 0)
		return crix_err_make(err, errno, "chdir /");
	return 0;
}

static int mask_path(const char *path, struct crix_err **err)
{
	struct stat sb;
	if (lstat(path, &sb) < 0)
		return errno == ENOENT ? 0 : crix_err_make(err, errno, "mask %s", path);
	if (S_ISDIR(sb.st_mode)) {
		if (mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL) < 0)
			return crix_err_make(err, errno, "mask %s: mount a read-only tmpfs", path);
	} else if (mount("/dev/null", path, NULL, MS_BIND, NULL) < 0) {
		return crix_err_make(err, errno, "mask %s: bind /dev/null", path);
	}
	return 0;
}

static int readonly_path(const char *path, struct crix_err **err)
{
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return errno == ENOENT ? 0 : crix_err_make(err, errno, "mount %s: bind", path);
	return remount_bind(path, path, MS_RDONLY | MS_REC, err);
}

static int write_sysctl(const char *key, const char *value, struct crix_err **err)
{
	char path[512];
	int n = snprintf(path, sizeof(path), "/proc/sys/%s", key);
	if (n < 0 || (size_t)n >= sizeof(path) || strstr(key, "..") != NULL)
		return crix_err_make(err, EINVAL, "sysctl %s: invalid name", key);
	for (char *p = path + 10; *p; p++)
		if (*p == '.')
			*p = '/';
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || crix_write_all(fd, value, strlen(value)) < 0)
		return crix_err_make(err, errno, "sysctl %s=%s", key, value);
	return 0;
}

int oci_rootfs_finish(const struct oci_spec *spec, struct crix_err **err)
{
	const struct oci_linux *l = spec->linux;
	for (size_t i = 0; l && i < l->n_sysctl; i++)
		if (write_sysctl(l->sysctl[i].key, l->sysctl[i].value, err) < 0)
			return -1;
	for (size_t i = 0; l && l->readonly_paths && l->readonly_paths[i]; i++)
		if (readonly_path(l->readonly_paths[i], err) < 0)
			return -1;
	for (size_t i = 0; l && l->masked_paths && l->masked_paths[i]; i++)
		if (mask_path(l->masked_paths[i], err) < 0)
			return -1;
	if (spec->root && spec->root->readonly && remount_bind("/", "/", MS_RDONLY, err) < 0)
		return -1;
	if (l && l->rootfs_propagation &&
	    mount(NULL, "/", NULL, propagation_of(spec, MS_PRIVATE | MS_REC), NULL) < 0)
		return crix_err_make(err, errno, "set rootfs propagation %s", l->rootfs_propagation);
	return 0;
}
