/* img_unpack on hand-built archives: the unpacked tree must equal the expected tree exactly
 * (types, modes, owners, link targets, devices, xattrs, times), whiteouts become overlay
 * whiteouts, hostile entries fail naming the entry and write nothing outside, compression is
 * checked against the declared type, and the diff_id is the digest of the uncompressed tar. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "crix_file.h"
#include "img_internal.h"
#include "img_check.h"

enum kind { F, DIR_, SYM, HARD, FIFO, CHR };
struct spec {
	enum kind kind;
	const char *path;
	int mode;
	int uid, gid;
	const char *data; /* content, link target, or hardlink target */
	const char *xattr_name;
	const void *xattr_val;
	size_t xattr_len;
};

#define MTIME 1600000000

/* An uncompressed pax tar of the specs, in memory. */
static void *build_tar(const struct spec *s, size_t n, size_t *len)
{
	size_t cap = 1 << 20;
	void *buf = malloc(cap);
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_in_last_block(a, 1);
	archive_write_open_memory(a, buf, cap, len);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, s[i].path);
		archive_entry_set_uid(e, s[i].uid);
		archive_entry_set_gid(e, s[i].gid);
		archive_entry_set_mtime(e, MTIME + (time_t)i, 0);
		size_t size = 0;
		switch (s[i].kind) {
		case F:
			archive_entry_set_filetype(e, AE_IFREG);
			size = strlen(s[i].data);
			break;
		case DIR_:
			archive_entry_set_filetype(e, AE_IFDIR);
			break;
		case SYM:
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, s[i].data);
			break;
		case HARD:
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, s[i].data);
			break;
		case FIFO:
			archive_entry_set_filetype(e, AE_IFIFO);
			break;
		case CHR:
			archive_entry_set_filetype(e, AE_IFCHR);
			archive_entry_set_rdev(e, makedev(1, 3));
			break;
		}
		archive_entry_set_perm(e, s[i].mode);
		archive_entry_set_size(e, size);
		if (s[i].xattr_name)
			archive_entry_xattr_add_entry(e, s[i].xattr_name, s[i].xattr_val, s[i].xattr_len);
		archive_write_header(a, e);
		if (size)
			archive_write_data(a, s[i].data, size);
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	return buf;
}

/* data compressed with gzip or zstd (libarchive's raw format + filter) */
static void *compress(const void *data, size_t len, int comp, size_t *out_len)
{
	size_t cap = len + 65536;
	void *buf = malloc(cap);
	struct archive *a = archive_write_new();
	if (comp == IMG_COMP_GZIP)
		archive_write_add_filter_gzip(a);
	else
		archive_write_add_filter_zstd(a);
	archive_write_set_format_raw(a);
	archive_write_set_bytes_in_last_block(a, 1);
	archive_write_open_memory(a, buf, cap, out_len);
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_filetype(e, AE_IFREG);
	archive_write_header(a, e);
	archive_write_data(a, data, len);
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
	return buf;
}

static char work[] = "/tmp/crix-unpack-XXXXXX";

/* Unpacks specs (compressed as comp, declared as declared) into work/<name>/root; returns
 * img_unpack's result and checks the diff_id on success. */
static int unpack(const char *name, const struct spec *s, size_t n, int comp, int declared, struct crix_err **err)
{
	size_t tar_len, len;
	void *tar = build_tar(s, n, &tar_len);
	void *data = comp == IMG_COMP_NONE ? tar : compress(tar, tar_len, comp, &len);
	if (comp == IMG_COMP_NONE)
		len = tar_len;
	char path[512], dir[512];
	snprintf(dir, sizeof(dir), "%s/%s/root", work, name);
	crix_mkdir_p(dir, 0755, NULL);
	snprintf(path, sizeof(path), "%s/%s/layer", work, name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	crix_write_all(fd, data, len);
	lseek(fd, 0, SEEK_SET);
	char diff_id[IMG_DIGEST_LEN + 1], want[IMG_DIGEST_LEN + 1];
	uint64_t size = 0;
	int rc = img_unpack(fd, comp, dir, NULL, diff_id, &size, err);
	(void)declared;
	close(fd);
	if (rc == 0) {
		img_digest_buf(tar, tar_len, want);
		CHECK(strcmp(diff_id, want) == 0, "%s: diff_id %s, want %s", name, diff_id, want);
	}
	if (data != tar)
		free(data);
	free(tar);
	return rc;
}

/* "path type mode uid:gid extra" lines for everything below dir, sorted. */
static void dump(const char *dir, const char *rel, char *out, size_t cap)
{
	char full[1024];
	snprintf(full, sizeof(full), "%s%s%s", dir, *rel ? "/" : "", rel);
	struct dirent **names;
	int n = scandir(full, &names, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;
		if (!strcmp(nm, ".") || !strcmp(nm, "..")) {
			free(names[i]);
			continue;
		}
		char r[1024], p[2048];
		snprintf(r, sizeof(r), "%s%s%s", rel, *rel ? "/" : "", nm);
		snprintf(p, sizeof(p), "%s/%s", dir, r);
		struct stat st;
		lstat(p, &st);
		char extra[512] = "";
		char type = '?';
		if (S_ISREG(st.st_mode)) {
			type = 'f';
			char content[128] = "";
			int fd = open(p, O_RDONLY);
			ssize_t k = read(fd, content, sizeof(content) - 1);
			close(fd);
			content[k > 0 ? k : 0] = '\0';
			snprintf(extra, sizeof(extra), "\"%s\" nlink=%lu", content, (unsigned long)st.st_nlink);
			char cap[64];
			ssize_t cl = lgetxattr(p, "security.capability", cap, sizeof(cap));
			if (cl > 0)
				snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), " cap=%zd", cl);
			char ux[64];
			ssize_t ul = lgetxattr(p, "user.note", ux, sizeof(ux) - 1);
			if (ul > 0) {
				ux[ul] = '\0';
				snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), " user.note=%s", ux);
			}
		} else if (S_ISDIR(st.st_mode)) {
			type = 'd';
			char v[8];
			ssize_t l = lgetxattr(p, "trusted.overlay.opaque", v, sizeof(v));
			if (l == 1 && v[0] == 'y')
				strcpy(extra, "opaque");
		} else if (S_ISLNK(st.st_mode)) {
			type = 'l';
			ssize_t l = readlink(p, extra, sizeof(extra) - 1);
			extra[l > 0 ? l : 0] = '\0';
		} else if (S_ISCHR(st.st_mode)) {
			type = 'c';
			snprintf(extra, sizeof(extra), "%u:%u", major(st.st_rdev), minor(st.st_rdev));
		} else if (S_ISFIFO(st.st_mode)) {
			type = 'p';
		}
		size_t used = strlen(out);
		snprintf(out + used, cap - used, "%s %c %04o %u:%u%s%s\n", r, type, (unsigned)(st.st_mode & 07777),
			 st.st_uid, st.st_gid, *extra ? " " : "", extra);
		if (S_ISDIR(st.st_mode))
			dump(dir, r, out, cap);
		free(names[i]);
	}
	free(names);
}

static void expect_tree(const char *name, const char *want)
{
	char dir[512], got[16384] = "";
	snprintf(dir, sizeof(dir), "%s/%s/root", work, name);
	dump(dir, "", got, sizeof(got));
	CHECK(strcmp(got, want) == 0, "%s: tree\n--- got\n%s--- want\n%s", name, got, want);
}

/* struct vfs_cap_data, revision 2: cap_net_bind_service permitted */
static const unsigned char caps[20] = {0x00, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00};

static const struct spec full[] = {
	{DIR_, "bin", 0755, 0, 0, NULL, NULL, NULL, 0},
	{F, "bin/tool", 04755, 0, 0, "tool", NULL, NULL, 0},
	{SYM, "bin/sh", 0777, 0, 0, "/bin/tool", NULL, NULL, 0},
	{SYM, "bin/rel", 0777, 0, 0, "tool", NULL, NULL, 0},
	{HARD, "bin/tool2", 0, 0, 0, "bin/tool", NULL, NULL, 0},
	{F, "bin/ping", 0750, 0, 0, "ping", "security.capability", caps, sizeof(caps)},
	{DIR_, "home/app", 0700, 1000, 1000, NULL, NULL, NULL, 0}, /* parent made implicitly */
	{F, "home/app/notes", 0600, 1000, 100, "hi", "user.note", "x1", 2},
	{FIFO, "run.fifo", 0620, 0, 5, NULL, NULL, NULL, 0},
	{CHR, "null", 0666, 0, 0, NULL, NULL, NULL, 0},
	{F, "./dot/./slash//file", 0644, 0, 0, "ds", NULL, NULL, 0},
	{F, "dup", 0644, 0, 0, "first", NULL, NULL, 0},
	{F, "dup", 0640, 0, 0, "second", NULL, NULL, 0},
	{DIR_, "tmp", 01777, 0, 0, NULL, NULL, NULL, 0},
};

static void test_full_tree(void)
{
	struct crix_err *err = NULL;
	int rc = unpack("full", full, sizeof(full) / sizeof(full[0]), IMG_COMP_GZIP, IMG_COMP_GZIP, &err);
	CHECK(rc == 0, "full: %s", crix_err_msg(err));
	crix_err_free(&err);
	expect_tree("full", "bin d 0755 0:0\n"
			    "bin/ping f 0750 0:0 \"ping\" nlink=1 cap=20\n"
			    "bin/rel l 0777 0:0 tool\n"
			    "bin/sh l 0777 0:0 /bin/tool\n"
			    "bin/tool f 4755 0:0 \"tool\" nlink=2\n"
			    "bin/tool2 f 4755 0:0 \"tool\" nlink=2\n"
			    "dot d 0755 0:0\n"
			    "dot/slash d 0755 0:0\n"
			    "dot/slash/file f 0644 0:0 \"ds\" nlink=1\n"
			    "dup f 0640 0:0 \"second\" nlink=1\n"
			    "home d 0755 0:0\n"
			    "home/app d 0700 1000:1000\n"
			    "home/app/notes f 0600 1000:100 \"hi\" nlink=1 user.note=x1\n"
			    "null c 0666 0:0 1:3\n"
			    "run.fifo p 0620 0:5\n"
			    "tmp d 1777 0:0\n");
	char p[512];
	struct stat st;
	snprintf(p, sizeof(p), "%s/full/root/bin/tool", work);
	CHECK(lstat(p, &st) == 0 && st.st_mtime == MTIME + 1, "file mtime %ld", (long)st.st_mtime);
	snprintf(p, sizeof(p), "%s/full/root/bin", work);
	CHECK(lstat(p, &st) == 0 && st.st_mtime == MTIME, "dir mtime kept after its entries: %ld", (long)st.st_mtime);
	snprintf(p, sizeof(p), "%s/full/root/bin/sh", work);
	CHECK(lstat(p, &st) == 0 && st.st_mtime == MTIME + 2, "symlink mtime %ld", (long)st.st_mtime);
}

static void test_whiteouts(void)
{
	static const struct spec s[] = {
		{F, ".wh.gone", 0, 0, 0, "", NULL, NULL, 0},
		{DIR_, "etc", 0755, 0, 0, NULL, NULL, NULL, 0},
		{F, "etc/.wh.old.conf", 0, 0, 0, "", NULL, NULL, 0},
		{DIR_, "var", 0755, 0, 0, NULL, NULL, NULL, 0},
		{F, "var/.wh..wh..opq", 0, 0, 0, "", NULL, NULL, 0},
		{F, "var/new", 0644, 0, 0, "n", NULL, NULL, 0},
		{F, "opt/.wh..wh..opq", 0, 0, 0, "", NULL, NULL, 0},
		{F, ".wh..wh.plnk", 0, 0, 0, "", NULL, NULL, 0},
	};
	struct crix_err *err = NULL;
	int rc = unpack("wh", s, sizeof(s) / sizeof(s[0]), IMG_COMP_ZSTD, IMG_COMP_ZSTD, &err);
	CHECK(rc == 0, "whiteouts: %s", crix_err_msg(err));
	crix_err_free(&err);
	expect_tree("wh", "etc d 0755 0:0\n"
			  "etc/old.conf c 0000 0:0 0:0\n"
			  "gone c 0000 0:0 0:0\n"
			  "opt d 0755 0:0 opaque\n"
			  "var d 0755 0:0 opaque\n"
			  "var/new f 0644 0:0 \"n\" nlink=1\n");
}

static bool exists(const char *p) { return access(p, F_OK) == 0 || errno != ENOENT; }

static void hostile(const char *name, const struct spec *s, size_t n, const char *entry, const char *outside)
{
	struct crix_err *err = NULL;
	int rc = unpack(name, s, n, IMG_COMP_NONE, IMG_COMP_NONE, &err);
	CHECK(rc < 0, "%s: unpack succeeded", name);
	if (rc < 0 && getenv("VERBOSE"))
		fprintf(stderr, "%s: %s\n", name, err->msg);
	CHECK(rc == 0 || strstr(err->msg, entry) != NULL, "%s: error does not name \"%s\": %s", name, entry,
	      crix_err_msg(err));
	crix_err_free(&err);
	if (outside != NULL)
		CHECK(!exists(outside), "%s: %s was written outside the layer", name, outside);
}

static void test_hostile(void)
{
	char out[1100];
	snprintf(out, sizeof(out), "%s/escape", work); /* "<work>/dotdot/root/../../escape" */
	static const struct spec dotdot[] = {{F, "../../escape", 0644, 0, 0, "x", NULL, NULL, 0}};
	hostile("dotdot", dotdot, 1, "../../escape", out);
	static const struct spec inner_dotdot[] = {{F, "a/../../../escape", 0644, 0, 0, "x", NULL, NULL, 0}};
	hostile("innerdotdot", inner_dotdot, 1, "a/../../../escape", out);
	static const struct spec absolute[] = {{F, "/tmp/crix-abs-escape", 0644, 0, 0, "x", NULL, NULL, 0}};
	hostile("absolute", absolute, 1, "/tmp/crix-abs-escape", "/tmp/crix-abs-escape");

	char target[512];
	snprintf(target, sizeof(target), "%s/outside", work);
	mkdir(target, 0755);
	struct spec abs_link[] = {{SYM, "evil", 0777, 0, 0, target, NULL, NULL, 0},
				  {F, "evil/written", 0644, 0, 0, "x", NULL, NULL, 0}};
	snprintf(out, sizeof(out), "%s/written", target);
	hostile("abslink", abs_link, 2, "evil/written", out);
	static const struct spec rel_link[] = {{SYM, "up", 0777, 0, 0, "../..", NULL, NULL, 0},
					       {F, "up/outside/rel-written", 0644, 0, 0, "x", NULL, NULL, 0}};
	snprintf(out, sizeof(out), "%s/rel-written", target);
	hostile("rellink", rel_link, 2, "up/outside/rel-written", out);
	static const struct spec root_link[] = {{SYM, "r", 0777, 0, 0, "/", NULL, NULL, 0},
						{DIR_, "r/tmp/crix-root-link", 0755, 0, 0, NULL, NULL, NULL, 0}};
	hostile("rootlink", root_link, 2, "r/tmp/crix-root-link", "/tmp/crix-root-link");

	char victim[512];
	snprintf(victim, sizeof(victim), "%s/victim", work);
	int fd = open(victim, O_WRONLY | O_CREAT, 0600);
	close(fd);
	static const struct spec hard_dotdot[] = {{HARD, "hl", 0, 0, 0, "../../victim", NULL, NULL, 0}};
	hostile("harddotdot", hard_dotdot, 1, "hl", NULL);
	struct spec hard_abs[] = {{HARD, "hl", 0, 0, 0, victim, NULL, NULL, 0}};
	hostile("hardabs", hard_abs, 1, "hl", NULL);
	static const struct spec hard_via_link[] = {{SYM, "l", 0777, 0, 0, "/etc", NULL, NULL, 0},
						    {HARD, "pw", 0, 0, 0, "l/passwd", NULL, NULL, 0}};
	hostile("hardvialink", hard_via_link, 2, "pw", NULL);
	struct stat st;
	CHECK(stat(victim, &st) == 0 && st.st_nlink == 1, "victim got a hardlink: nlink %lu", (unsigned long)st.st_nlink);
	CHECK(stat("/etc/passwd", &st) == 0 && st.st_nlink == 1, "/etc/passwd got a hardlink");
	/* a relative symlink that stays inside is fine */
	static const struct spec inside[] = {{DIR_, "real", 0755, 0, 0, NULL, NULL, NULL, 0},
					     {SYM, "alias", 0777, 0, 0, "real", NULL, NULL, 0},
					     {F, "alias/f", 0644, 0, 0, "in", NULL, NULL, 0}};
	struct crix_err *err = NULL;
	CHECK(unpack("inside", inside, 3, IMG_COMP_NONE, IMG_COMP_NONE, &err) == 0, "inside: %s", crix_err_msg(err));
	crix_err_free(&err);
	expect_tree("inside", "alias l 0777 0:0 real\nreal d 0755 0:0\nreal/f f 0644 0:0 \"in\" nlink=1\n");
}

static void test_compression_checked(void)
{
	static const struct spec s[] = {{F, "f", 0644, 0, 0, "x", NULL, NULL, 0}};
	size_t tar_len, len;
	void *tar = build_tar(s, 1, &tar_len);
	void *gz = compress(tar, tar_len, IMG_COMP_GZIP, &len);
	char path[512], dir[512];
	snprintf(dir, sizeof(dir), "%s/mismatch", work);
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/mismatch.layer", work);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	crix_write_all(fd, gz, len);
	struct { int declared; const char *want; } cases[] = {
		{IMG_COMP_ZSTD, "layer is gzip but its media type says zstd"},
		{IMG_COMP_NONE, "layer is gzip but its media type says uncompressed"},
	};
	for (size_t i = 0; i < 2; i++) {
		lseek(fd, 0, SEEK_SET);
		char diff[IMG_DIGEST_LEN + 1];
		struct crix_err *err = NULL;
		int rc = img_unpack(fd, cases[i].declared, dir, NULL, diff, NULL, &err);
		CHECK(rc < 0 && strstr(err->msg, cases[i].want), "mismatch: %s", rc < 0 ? err->msg : "succeeded");
		crix_err_free(&err);
	}
	/* truncated gzip */
	CHECK(ftruncate(fd, len / 2) == 0, "truncate");
	lseek(fd, 0, SEEK_SET);
	char diff[IMG_DIGEST_LEN + 1];
	struct crix_err *err = NULL;
	CHECK(img_unpack(fd, IMG_COMP_GZIP, dir, NULL, diff, NULL, &err) < 0, "truncated layer unpacked");
	crix_err_free(&err);
	close(fd);
	free(gz);
	free(tar);
	CHECK(img_media_compression("application/vnd.oci.image.layer.v1.tar+zstd") == IMG_COMP_ZSTD, "zstd type");
	CHECK(img_media_compression("application/vnd.docker.image.rootfs.diff.tar.gzip") == IMG_COMP_GZIP, "gz type");
	CHECK(img_media_compression("application/octet-stream") < 0, "unknown type");
}

int main(void)
{
	if (geteuid() != 0) {
		printf("skipped: unpack tests need root (owners, devices, trusted xattrs)\n");
		return 77;
	}
	if (mkdtemp(work) == NULL)
		return 1;
	test_full_tree();
	test_whiteouts();
	test_hostile();
	test_compression_checked();
	struct crix_err *err = NULL;
	crix_remove_tree(work, &err);
	crix_err_free(&err);
	printf("%s: %d failures\n", failures ? "FAIL" : "ok", failures);
	return failures != 0;
}
