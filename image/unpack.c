/* Layer unpack with libarchive. The compressed stream is decompressed by one archive (raw
 * format), hashed (diff_id) and fed to a second archive that parses the tar, so that the
 * uncompressed digest is checked in the same pass. Every entry is created relative to the
 * layer's root fd with parents resolved by openat2(RESOLVE_BENEATH): nothing can be written
 * outside the layer, and an entry that tries fails the unpack with its name in the error. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "crix_cleanup.h"
#include "crix_log.h"
#include "img_internal.h"

#define READ_BLOCK (256u << 10)

int img_media_compression(const char *mt)
{
	if (mt == NULL)
		return -1;
	static const struct {
		const char *type;
		int comp;
	} table[] = {
		{"application/vnd.oci.image.layer.v1.tar", IMG_COMP_NONE},
		{"application/vnd.oci.image.layer.v1.tar+gzip", IMG_COMP_GZIP},
		{"application/vnd.oci.image.layer.v1.tar+zstd", IMG_COMP_ZSTD},
		{"application/vnd.oci.image.layer.nondistributable.v1.tar", IMG_COMP_NONE},
		{"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", IMG_COMP_GZIP},
		{"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", IMG_COMP_ZSTD},
		{"application/vnd.docker.image.rootfs.diff.tar", IMG_COMP_NONE},
		{"application/vnd.docker.image.rootfs.diff.tar.gzip", IMG_COMP_GZIP},
		{"application/vnd.docker.image.rootfs.diff.tar.zstd", IMG_COMP_ZSTD},
		{"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", IMG_COMP_GZIP},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(mt, table[i].type) == 0)
			return table[i].comp;
	return -1;
}

static const char *comp_name(int c)
{
	return c == IMG_COMP_GZIP ? "gzip" : c == IMG_COMP_ZSTD ? "zstd" : "uncompressed";
}

struct dir_time {
	char *path;
	struct timespec mtime;
};

struct unpacker {
	const char *dir;
	const struct img_opaque_marker *marker;
	int root_fd;
	struct archive *raw;
	EVP_MD_CTX *md;
	char *buf;
	uint64_t file_bytes;
	struct dir_time *dirs;
	size_t n_dirs;
	struct crix_err **err;
};

static la_ssize_t feed_tar(struct archive *a, void *arg, const void **out)
{
	(void)a;
	struct unpacker *u = arg;
	la_ssize_t n = archive_read_data(u->raw, u->buf, READ_BLOCK);
	if (n < 0) {
		archive_set_error(a, archive_errno(u->raw) ? archive_errno(u->raw) : EIO, "%s",
				  archive_error_string(u->raw) ? archive_error_string(u->raw) : "decompress");
		return -1;
	}
	if (EVP_DigestUpdate(u->md, u->buf, n) != 1) {
		archive_set_error(a, ENOMEM, "sha256");
		return -1;
	}
	*out = u->buf;
	return n;
}

/* Cleans an archive path: strips "./" and duplicate slashes; absolute names and ".."
 * components are refused. "" means the layer root. */
static int clean_name(struct unpacker *u, const char *entry, const char *name, char **out)
{
	const char *what = entry == name ? "path" : "hardlink target";
	if (name[0] == '/')
		return img_err(u->err, IMG_ERR_CORRUPT, EPERM, "layer entry \"%s\": %s \"%s\" is absolute", entry, what, name);
	char *c = malloc(strlen(name) + 1);
	if (c == NULL)
		return crix_err_make(u->err, ENOMEM, "unpack");
	size_t n = 0;
	for (const char *p = name; *p;) {
		size_t len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			free(c);
			return img_err(u->err, IMG_ERR_CORRUPT, EPERM, "layer entry \"%s\": %s \"%s\" leaves the layer (..)", entry,
					     what, name);
		}
		if (len > 0 && !(len == 1 && p[0] == '.')) {
			if (n > 0)
				c[n++] = '/';
			memcpy(c + n, p, len);
			n += len;
		}
		p += len;
		while (*p == '/')
			p++;
	}
	c[n] = '\0';
	*out = c;
	return 0;
}

static int resolve_error(struct unpacker *u, const char *name, const char *what, int e)
{
	if (e == EXDEV || e == ELOOP)
		return img_err(u->err, IMG_ERR_CORRUPT, EPERM, "layer entry \"%s\": %s resolves outside the layer", name, what);
	return crix_err_make(u->err, e, "layer entry \"%s\": open %s", name, what);
}

/* Opens (creating missing components as 0755 dirs when create) the directory dir below root. */
static int open_dir(struct unpacker *u, const char *name, const char *dir, bool create)
{
	if (*dir == '\0')
		return fcntl(u->root_fd, F_DUPFD_CLOEXEC, 3);
	long fd = img_open_beneath(u->root_fd, dir, O_PATH | O_DIRECTORY);
	if (fd >= 0 || errno != ENOENT || !create) {
		if (fd < 0)
			return resolve_error(u, name, dir, errno);
		return (int)fd;
	}
	_cleanup_free_ char *prefix = strdup(dir);
	if (prefix == NULL)
		return crix_err_make(u->err, ENOMEM, "unpack");
	for (char *p = prefix;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		long d = img_open_beneath(u->root_fd, prefix, O_PATH | O_DIRECTORY);
		if (d < 0 && errno == ENOENT) {
			char *slash = strrchr(prefix, '/');
			_cleanup_close_ int parent = -1;
			if (slash == NULL) {
				parent = fcntl(u->root_fd, F_DUPFD_CLOEXEC, 3);
			} else {
				*slash = '\0';
				parent = (int)img_open_beneath(u->root_fd, prefix, O_PATH | O_DIRECTORY);
				*slash = '/';
			}
			if (parent < 0)
				return resolve_error(u, name, prefix, errno);
			if (mkdirat(parent, slash ? slash + 1 : prefix, 0755) < 0 && errno != EEXIST)
				return crix_err_make(u->err, errno, "layer entry \"%s\": mkdir %s", name, prefix);
			d = img_open_beneath(u->root_fd, prefix, O_PATH | O_DIRECTORY);
		}
		if (d < 0)
			return resolve_error(u, name, prefix, errno);
		*p = saved;
		if (saved == '\0')
			return (int)d;
		close((int)d);
	}
}

/* rm -r of name in dirfd without following symlinks. */
static int remove_at(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			rc |= remove_at(fd, e->d_name);
	closedir(d);
	return rc < 0 ? -1 : unlinkat(dirfd, name, AT_REMOVEDIR);
}

static void split(char *path, const char **dir, const char **base)
{
	char *slash = strrchr(path, '/');
	if (slash == NULL) {
		*dir = "";
		*base = path;
	} else {
		*slash = '\0';
		*dir = path;
		*base = slash + 1;
	}
}

static int write_data(struct unpacker *u, struct archive *tar, int fd, const char *name, int64_t size)
{
	const void *block;
	size_t len;
	la_int64_t offset;
	int r;
	while ((r = archive_read_data_block(tar, &block, &len, &offset)) == ARCHIVE_OK) {
		const char *p = block;
		while (len > 0) {
			ssize_t w = pwrite(fd, p, len, offset);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return crix_err_make(u->err, errno, "layer entry \"%s\": write", name);
			p += w;
			len -= w;
			offset += w;
		}
	}
	if (r != ARCHIVE_EOF)
		return img_err(u->err, IMG_ERR_CORRUPT, archive_errno(tar) ? archive_errno(tar) : EIO,
				     "layer entry \"%s\": read: %s", name, archive_error_string(tar));
	if (ftruncate(fd, size) < 0) /* sparse tails */
		return crix_err_make(u->err, errno, "layer entry \"%s\": truncate", name);
	u->file_bytes += size;
	return 0;
}

static int set_xattrs(struct unpacker *u, struct archive_entry *e, int fd, const char *name)
{
	const char *key;
	const void *val;
	size_t len;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &key, &val, &len) == ARCHIVE_OK) {
		/* trusted.* (overlay's own among them) are the filesystem's, never a layer's; other
		 * security.* than file capabilities are the build host's policy (SELinux, IMA) and
		 * need CAP_SYS_ADMIN, which crix-pull does not hold */
		if (strncmp(key, "trusted.", 8) == 0 ||
		    (strncmp(key, "security.", 9) == 0 && strcmp(key, "security.capability") != 0)) {
			crix_debug("layer entry \"%s\": xattr %s not kept", name, key);
			continue;
		}
		if (fsetxattr(fd, key, val, len, 0) < 0)
			return crix_err_make(u->err, errno, "layer entry \"%s\": set xattr %s", name, key);
	}
	return 0;
}

/* trusted.overlay.opaque needs CAP_SYS_ADMIN, which crix-pull does not have: its owner sets
 * it (the marker); without a marker, this process. */
static int mark_opaque(struct unpacker *u, const char *name, int parent, const char *dir)
{
	if (u->marker != NULL) {
		if (u->marker->mark(u->marker->arg, u->dir, dir, u->err) < 0)
			return crix_err_wrap(u->err, "layer entry \"%s\": mark directory opaque", name);
		return 0;
	}
	_cleanup_close_ int dfd = openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsetxattr(dfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
		return crix_err_make(u->err, errno, "layer entry \"%s\": mark directory opaque", name);
	return 0;
}

static int whiteout(struct unpacker *u, const char *name, int parent, const char *dir, const char *base)
{
	if (strcmp(base, ".wh..wh..opq") == 0)
		return mark_opaque(u, name, parent, dir);
	if (strncmp(base, ".wh..wh.", 8) == 0) /* aufs bookkeeping (.wh..wh.plnk ...) */
		return 0;
	const char *victim = base + 4;
	if (*victim == '\0' || strcmp(victim, ".") == 0 || strcmp(victim, "..") == 0)
		return img_err(u->err, IMG_ERR_CORRUPT, EPERM, "layer entry \"%s\": invalid whiteout", name);
	if (remove_at(parent, victim) < 0)
		return crix_err_make(u->err, errno, "layer entry \"%s\": remove %s", name, victim);
	if (mknodat(parent, victim, S_IFCHR | 0, makedev(0, 0)) < 0 ||
	    fchownat(parent, victim, 0, 0, AT_SYMLINK_NOFOLLOW) < 0)
		return crix_err_make(u->err, errno, "layer entry \"%s\": create whiteout", name);
	return 0;
}

static int hardlink(struct unpacker *u, const char *name, int parent, const char *base, const char *target_name)
{
	_cleanup_free_ char *target = NULL;
	if (clean_name(u, name, target_name, &target) < 0)
		return -1;
	if (*target == '\0')
		return img_err(u->err, IMG_ERR_CORRUPT, EPERM, "layer entry \"%s\": hardlink to the layer root", name);
	const char *tdir, *tbase;
	split(target, &tdir, &tbase);
	_cleanup_close_ int tparent = open_dir(u, name, tdir, false);
	if (tparent < 0)
		return -1;
	struct stat st;
	if (fstatat(tparent, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return crix_err_make(u->err, errno, "layer entry \"%s\": hardlink target \"%s\"", name, target_name);
	if (S_ISDIR(st.st_mode))
		return img_err(u->err, IMG_ERR_CORRUPT, EPERM, "layer entry \"%s\": hardlink to a directory", name);
	if (linkat(tparent, tbase, parent, base, 0) < 0)
		return crix_err_make(u->err, errno, "layer entry \"%s\": link to \"%s\"", name, target_name);
	return 0;
}

static int entry(struct unpacker *u, struct archive *tar, struct archive_entry *e)
{
	const char *raw_name = archive_entry_pathname(e);
	if (raw_name == NULL)
		return img_err(u->err, IMG_ERR_CORRUPT, EINVAL, "layer entry without a name");
	_cleanup_free_ char *path = NULL;
	if (clean_name(u, raw_name, raw_name, &path) < 0)
		return -1;
	if (*path == '\0') /* "./": the layer root itself */
		return 0;
	_cleanup_free_ char *full = strdup(path);
	if (full == NULL)
		return crix_err_make(u->err, ENOMEM, "unpack");
	const char *dir, *base;
	split(path, &dir, &base);
	_cleanup_close_ int parent = open_dir(u, raw_name, dir, true);
	if (parent < 0)
		return -1;
	if (strncmp(base, ".wh.", 4) == 0)
		return whiteout(u, raw_name, parent, dir, base);

	const char *link = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	struct stat st;
	bool exists = fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (exists && !(S_ISDIR(st.st_mode) && type == AE_IFDIR && link == NULL) && remove_at(parent, base) < 0)
		return crix_err_make(u->err, errno, "layer entry \"%s\": replace", raw_name);
	if (link != NULL)
		return hardlink(u, raw_name, parent, base, link);

	_cleanup_close_ int fd = -1;
	mode_t perm = archive_entry_perm(e) & 07777;
	switch (type) {
	case AE_IFDIR:
		if (!(exists && S_ISDIR(st.st_mode)) && mkdirat(parent, base, 0700) < 0)
			return crix_err_make(u->err, errno, "layer entry \"%s\": mkdir", raw_name);
		fd = openat(parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		break;
	case AE_IFREG:
		fd = openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 && write_data(u, tar, fd, raw_name, archive_entry_size(e)) < 0)
			return -1;
		break;
	case AE_IFLNK: {
		const char *target = archive_entry_symlink(e);
		if (target == NULL || symlinkat(target, parent, base) < 0)
			return crix_err_make(u->err, target ? errno : EINVAL, "layer entry \"%s\": symlink", raw_name);
		break;
	}
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
		if (mknodat(parent, base, type | perm, archive_entry_rdev(e)) < 0)
			return crix_err_make(u->err, errno, "layer entry \"%s\": mknod", raw_name);
		break;
	default:
		return img_err(u->err, IMG_ERR_CORRUPT, EINVAL, "layer entry \"%s\": unsupported file type 0%o", raw_name, type);
	}
	if ((type == AE_IFDIR || type == AE_IFREG) && fd < 0)
		return crix_err_make(u->err, errno, "layer entry \"%s\": create", raw_name);

	/* Owner first (chown clears set-id bits and capabilities), then mode, xattrs, times. */
	if (fchownat(parent, base, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
		return crix_err_make(u->err, errno, "layer entry \"%s\": chown", raw_name);
	if (fd >= 0) {
		if (fchmod(fd, perm) < 0)
			return crix_err_make(u->err, errno, "layer entry \"%s\": chmod", raw_name);
		if (set_xattrs(u, e, fd, raw_name) < 0)
			return -1;
	} else if (type != AE_IFLNK && fchmodat(parent, base, perm, 0) < 0) {
		return crix_err_make(u->err, errno, "layer entry \"%s\": chmod", raw_name);
	}
	struct timespec ts[2] = {{archive_entry_atime(e), archive_entry_atime_nsec(e)},
				 {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
	if (!archive_entry_atime_is_set(e))
		ts[0] = ts[1];
	if (type == AE_IFDIR) { /* later entries change it: set at the end */
		struct dir_time *v = realloc(u->dirs, (u->n_dirs + 1) * sizeof(*v));
		if (v == NULL)
			return crix_err_make(u->err, ENOMEM, "unpack");
		u->dirs = v;
		v[u->n_dirs].path = steal_ptr(full);
		v[u->n_dirs++].mtime = ts[1];
	} else if (utimensat(parent, base, ts, AT_SYMLINK_NOFOLLOW) < 0) {
		return crix_err_make(u->err, errno, "layer entry \"%s\": set times", raw_name);
	}
	return 0;
}

static int fix_dir_times(struct unpacker *u)
{
	for (size_t i = u->n_dirs; i-- > 0;) {
		long fd = img_open_beneath(u->root_fd, u->dirs[i].path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
		if (fd < 0)
			continue; /* replaced by a later entry */
		struct timespec ts[2] = {u->dirs[i].mtime, u->dirs[i].mtime};
		int rc = futimens((int)fd, ts);
		close((int)fd);
		if (rc < 0)
			return crix_err_make(u->err, errno, "layer entry \"%s\": set times", u->dirs[i].path);
	}
	return 0;
}

int img_unpack(int fd, enum img_compression comp, const char *dir, const struct img_opaque_marker *marker,
	       char *diff_id, uint64_t *unpacked_size, struct crix_err **err)
{
	struct unpacker u = {.dir = dir, .marker = marker, .root_fd = -1, .err = err};
	struct archive *tar = NULL;
	struct archive_entry *e;
	int rc = -1;
	u.buf = malloc(READ_BLOCK);
	u.md = EVP_MD_CTX_new();
	u.raw = archive_read_new();
	tar = archive_read_new();
	if (u.buf == NULL || u.md == NULL || u.raw == NULL || tar == NULL ||
	    EVP_DigestInit_ex(u.md, EVP_sha256(), NULL) != 1) {
		crix_err_make(err, ENOMEM, "unpack");
		goto out;
	}
	u.root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (u.root_fd < 0) {
		crix_err_make(err, errno, "open %s", dir);
		goto out;
	}
	/* All decoders on, so that the detected one can be checked against the media type. */
	archive_read_support_filter_gzip(u.raw);
	archive_read_support_filter_zstd(u.raw);
	archive_read_support_format_raw(u.raw);
	if (archive_read_open_fd(u.raw, fd, READ_BLOCK) != ARCHIVE_OK || archive_read_next_header(u.raw, &e) != ARCHIVE_OK) {
		img_err(err, IMG_ERR_CORRUPT, archive_errno(u.raw) ? archive_errno(u.raw) : EIO, "read layer: %s",
			      archive_error_string(u.raw));
		goto out;
	}
	int filter = archive_filter_code(u.raw, 0);
	int found = filter == ARCHIVE_FILTER_GZIP ? IMG_COMP_GZIP : filter == ARCHIVE_FILTER_ZSTD ? IMG_COMP_ZSTD : IMG_COMP_NONE;
	if (found != (int)comp) {
		img_err(err, IMG_ERR_CORRUPT, EINVAL, "layer is %s but its media type says %s", comp_name(found), comp_name(comp));
		goto out;
	}
	archive_read_support_format_tar(tar);
	if (archive_read_open(tar, &u, NULL, feed_tar, NULL) != ARCHIVE_OK) {
		img_err(err, IMG_ERR_CORRUPT, EINVAL, "read layer: %s", archive_error_string(tar));
		goto out;
	}
	for (;;) {
		int r = archive_read_next_header(tar, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			img_err(err, IMG_ERR_CORRUPT, archive_errno(tar) > 0 ? archive_errno(tar) : EINVAL, "read layer: %s",
				      archive_error_string(tar));
			goto out;
		}
		if (entry(&u, tar, e) < 0)
			goto out;
	}
	/* The diff_id covers the whole stream, padding after the end-of-archive blocks included. */
	const void *dummy;
	for (la_ssize_t n; (n = feed_tar(tar, &u, &dummy)) != 0;) {
		if (n < 0) {
			img_err(err, IMG_ERR_CORRUPT, EIO, "read layer: %s", archive_error_string(tar));
			goto out;
		}
	}
	if (fix_dir_times(&u) < 0)
		goto out;
	if (img_digest_final(u.md, diff_id) < 0) {
		crix_err_make(err, ENOMEM, "unpack: sha256");
		goto out;
	}
	if (unpacked_size)
		*unpacked_size = u.file_bytes;
	rc = 0;
out:
	if (tar)
		archive_read_free(tar);
	if (u.raw)
		archive_read_free(u.raw);
	EVP_MD_CTX_free(u.md);
	free(u.buf);
	if (u.root_fd >= 0)
		close(u.root_fd);
	for (size_t i = 0; i < u.n_dirs; i++)
		free(u.dirs[i].path);
	free(u.dirs);
	return rc;
}
