#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_log.h"

#define DEFAULT_ROOT "/sys/fs/cgroup"
#define DEFAULT_SELF_CGROUP "/proc/self/cgroup"

/* --- small file helpers --- */

int cg_write(const char *dir, const char *name, const char *value, struct crix_err **err)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return crix_err_make(err, ENOMEM, "cgroup file %s", name);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return crix_err_make(err, errno, "open %s", path);
	size_t len = strlen(value);
	ssize_t n;
	do
		n = write(fd, value, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return crix_err_make(err, errno, "write \"%s\" to %s", value, path);
	if ((size_t)n != len)
		return crix_err_make(err, EIO, "short write of \"%s\" to %s", value, path);
	return 0;
}

int cg_writef(const char *dir, const char *name, struct crix_err **err, const char *fmt, ...)
{
	char value[256];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(value))
		return crix_err_make(err, EINVAL, "value for %s/%s too long", dir, name);
	return cg_write(dir, name, value, err);
}

int cg_read(const char *dir, const char *name, char *buf, size_t size, struct crix_err **err)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return crix_err_make(err, ENOMEM, "cgroup file %s", name);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return crix_err_make(err, errno, "open %s", path);
	size_t len = 0;
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return crix_err_make(err, errno, "read %s", path);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	while (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	return 0;
}

bool cg_exists(const char *dir, const char *name)
{
	char path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return false;
	return access(path, F_OK) == 0;
}

int cg_write_rdma(const char *dir, const struct oci_rdma_limit *r, struct crix_err **err)
{
	char handles[24] = "max", objects[24] = "max";
	if (r->has_hca_handles)
		snprintf(handles, sizeof(handles), "%u", r->hca_handles);
	if (r->has_hca_objects)
		snprintf(objects, sizeof(objects), "%u", r->hca_objects);
	return cg_writef(dir, "rdma.max", err, "%s hca_handle=%s hca_object=%s", r->device, handles,
			 objects);
}

/* --- layout --- */

static const char *root_of(const struct oci_cgroup_opts *opts)
{
	return opts != NULL && opts->root != NULL ? opts->root : DEFAULT_ROOT;
}

int oci_cgroup_detect(const struct oci_cgroup_opts *opts, enum oci_cgroup_layout *out,
		      struct crix_err **err)
{
	const char *root = root_of(opts);
	struct stat st;

	if (stat(root, &st) < 0)
		return crix_err_make(err, errno, "cgroup root %s", root);
	if (cg_exists(root, "cgroup.controllers"))
		*out = OCI_CGROUP_UNIFIED;
	else if (cg_exists(root, "unified/cgroup.controllers"))
		*out = OCI_CGROUP_HYBRID;
	else
		*out = OCI_CGROUP_V1;
	return 0;
}

/* Does the comma-separated list contain name? ("cpu,cpuacct" has "cpu"). */
static bool list_has(const char *list, const char *name)
{
	size_t len = strlen(name);
	for (const char *p = list; p != NULL && *p != '\0';) {
		const char *comma = strchr(p, ',');
		size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (n == len && strncmp(p, name, len) == 0)
			return true;
		p = comma != NULL ? comma + 1 : NULL;
	}
	return false;
}

const char *cg_v1_dir(const struct oci_cgroup *cg, const char *controller)
{
	for (size_t i = 0; i < cg->n_dirs; i++)
		if (cg->dirs[i].name[0] != '\0' && list_has(cg->dirs[i].name, controller))
			return cg->dirs[i].path;
	return NULL;
}

const char *oci_cgroup_dir(const struct oci_cgroup *cg, const char *name)
{
	if (name[0] == '\0') {
		for (size_t i = 0; i < cg->n_dirs; i++)
			if (cg->dirs[i].name[0] == '\0')
				return cg->dirs[i].path;
		return NULL;
	}
	return cg_v1_dir(cg, name);
}

/* The caller's own cgroup in the hierarchy called name ("" = cgroup2), from
 * /proc/self/cgroup lines "id:controllers:path"; "/" when not listed. */
static int own_cgroup(const struct oci_cgroup_opts *opts, const char *name, char **out,
		      struct crix_err **err)
{
	const char *file = opts != NULL && opts->self_cgroup != NULL ? opts->self_cgroup
								     : DEFAULT_SELF_CGROUP;
	_cleanup_fclose_ FILE *f = fopen(file, "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	if (f == NULL)
		return crix_err_make(err, errno, "open %s", file);
	/* name: "cpu,cpuacct" matches the line's "cpu,cpuacct"; "systemd" matches "name=systemd". */
	char first[64];
	snprintf(first, sizeof(first), "%.*s", (int)strcspn(name, ","), name);
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		char *controllers = strchr(line, ':');
		char *path = controllers != NULL ? strchr(controllers + 1, ':') : NULL;
		if (path == NULL)
			continue;
		*path++ = '\0';
		controllers++;
		bool match;
		if (name[0] == '\0')
			match = controllers[0] == '\0';
		else {
			char named[80];
			snprintf(named, sizeof(named), "name=%s", first);
			match = list_has(controllers, first) || list_has(controllers, named);
		}
		if (match) {
			*out = strdup(path);
			return *out != NULL ? 0 : crix_err_make(err, ENOMEM, "own cgroup");
		}
	}
	*out = strdup("/");
	return *out != NULL ? 0 : crix_err_make(err, ENOMEM, "own cgroup");
}

/* Rejects empty paths and ".." components; collapses "//" and drops a trailing '/'. */
static int normalize_path(const char *in, char **out, struct crix_err **err)
{
	if (in == NULL || in[0] == '\0')
		return crix_err_make(err, EINVAL, "cgroupsPath is empty");
	char *p = malloc(strlen(in) + 1);
	if (p == NULL)
		return crix_err_make(err, ENOMEM, "cgroupsPath");
	size_t j = 0;
	for (size_t i = 0; in[i] != '\0'; i++) {
		if (in[i] == '/' && j > 0 && p[j - 1] == '/')
			continue;
		p[j++] = in[i];
	}
	while (j > 1 && p[j - 1] == '/')
		j--;
	p[j] = '\0';
	for (const char *c = p; *c != '\0';) {
		size_t n = strcspn(c, "/");
		if ((n == 2 && strncmp(c, "..", 2) == 0) || (n == 1 && c[0] == '.')) {
			crix_err_make(err, EINVAL, "cgroupsPath %s: \".\" and \"..\" are not allowed", in);
			free(p);
			return -1;
		}
		c += n;
		c += *c == '/';
	}
	if (strcmp(p, "/") == 0) {
		free(p);
		return crix_err_make(err, EINVAL, "cgroupsPath %s: the root cgroup is not allowed", in);
	}
	*out = p;
	return 0;
}

static int add_dir(struct oci_cgroup *cg, const struct oci_cgroup_opts *opts, const char *name,
		   const char *hierarchy_root, struct crix_err **err)
{
	_cleanup_free_ char *own = NULL;
	_cleanup_free_ char *path = NULL;

	if (cg->cgroups_path[0] != '/' && own_cgroup(opts, name, &own, err) < 0)
		return -1;
	/* root + cgroupsPath, or root + own cgroup + "/" + cgroupsPath when relative. */
	if (asprintf(&path, "%s%s%s%s", hierarchy_root,
		     own != NULL && strcmp(own, "/") != 0 ? own : "", own != NULL ? "/" : "",
		     cg->cgroups_path) < 0)
		return crix_err_make(err, ENOMEM, "cgroup path");
	struct oci_cgroup_dir *dirs = realloc(cg->dirs, (cg->n_dirs + 1) * sizeof(*dirs));
	if (dirs == NULL)
		return crix_err_make(err, ENOMEM, "cgroup path");
	cg->dirs = dirs;
	char *name_copy = strdup(name);
	if (name_copy == NULL)
		return crix_err_make(err, ENOMEM, "cgroup path");
	cg->dirs[cg->n_dirs++] = (struct oci_cgroup_dir){.name = name_copy, .path = steal_ptr(path)};
	return 0;
}

/* v1: every real directory under the root holding a hierarchy (symlinks such as
 * cpu -> cpu,cpuacct are aliases and skipped). */
static int add_v1_dirs(struct oci_cgroup *cg, const struct oci_cgroup_opts *opts,
		       struct crix_err **err)
{
	_cleanup_closedir_ DIR *d = opendir(cg->root);
	struct dirent *de;

	if (d == NULL)
		return crix_err_make(err, errno, "open cgroup root %s", cg->root);
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "unified") == 0)
			continue;
		_cleanup_free_ char *dir = NULL;
		if (asprintf(&dir, "%s/%s", cg->root, de->d_name) < 0)
			return crix_err_make(err, ENOMEM, "cgroup root");
		struct stat st;
		bool is_dir = de->d_type == DT_DIR ||
			      (de->d_type == DT_UNKNOWN && lstat(dir, &st) == 0 && S_ISDIR(st.st_mode));
		if (!is_dir || !cg_exists(dir, "cgroup.procs"))
			continue;
		if (add_dir(cg, opts, de->d_name, dir, err) < 0)
			return -1;
	}
	if (errno != 0)
		return crix_err_make(err, errno, "read cgroup root %s", cg->root);
	if (cg->n_dirs == 0)
		return crix_err_make(err, ENOENT, "no cgroup v1 hierarchy under %s", cg->root);
	return 0;
}

static int open_handle(const struct oci_cgroup_opts *opts, const char *cgroups_path,
		       struct oci_cgroup **out, struct crix_err **err)
{
	struct oci_cgroup *cg = calloc(1, sizeof(*cg));
	int ret = -1;

	*out = NULL;
	if (cg == NULL)
		return crix_err_make(err, ENOMEM, "cgroup");
	if ((cg->root = strdup(root_of(opts))) == NULL) {
		crix_err_make(err, ENOMEM, "cgroup");
		goto out;
	}
	if (oci_cgroup_detect(opts, &cg->layout, err) < 0 ||
	    normalize_path(cgroups_path, &cg->cgroups_path, err) < 0)
		goto out;
	if (cg->layout == OCI_CGROUP_UNIFIED) {
		if (add_dir(cg, opts, "", cg->root, err) < 0)
			goto out;
	} else {
		if (add_v1_dirs(cg, opts, err) < 0)
			goto out;
		if (cg->layout == OCI_CGROUP_HYBRID) {
			_cleanup_free_ char *unified = NULL;
			if (asprintf(&unified, "%s/unified", cg->root) < 0) {
				crix_err_make(err, ENOMEM, "cgroup");
				goto out;
			}
			if (add_dir(cg, opts, "", unified, err) < 0)
				goto out;
		}
	}
	*out = steal_ptr(cg);
	ret = 0;
out:
	oci_cgroup_free(cg);
	return ret;
}

int oci_cgroup_load(const struct oci_cgroup_opts *opts, const char *cgroups_path,
		    struct oci_cgroup **out, struct crix_err **err)
{
	if (open_handle(opts, cgroups_path, out, err) < 0)
		return crix_err_wrap(err, "load cgroup %s", cgroups_path != NULL ? cgroups_path : "");
	return 0;
}

/* --- create --- */

/* Directories made by one create call, removed again if it fails. */
struct made_dirs {
	char **paths;
	size_t n;
};

static void made_dirs_undo(struct made_dirs *made)
{
	for (size_t i = made->n; i-- > 0;) {
		rmdir(made->paths[i]);
		free(made->paths[i]);
	}
	free(made->paths);
	made->paths = NULL;
	made->n = 0;
}

static void made_dirs_forget(struct made_dirs *made)
{
	for (size_t i = 0; i < made->n; i++)
		free(made->paths[i]);
	free(made->paths);
	made->paths = NULL;
	made->n = 0;
}

/* v1 cpuset: a new cpuset has empty cpus/mems and refuses tasks until they are filled. */
static int cpuset_inherit(const char *parent, const char *dir, struct crix_err **err)
{
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
	for (size_t i = 0; i < 2; i++) {
		char value[4096];
		if (cg_read(dir, files[i], value, sizeof(value), err) < 0)
			return -1;
		if (value[0] != '\0')
			continue;
		if (cg_read(parent, files[i], value, sizeof(value), err) < 0 ||
		    cg_write(dir, files[i], value, err) < 0)
			return -1;
	}
	return 0;
}

/* v2: enable in parent every controller it has that is not enabled yet, one by one (one
 * refused controller must not block the others; a missing limit file reports it later). */
static void enable_controllers(const char *parent)
{
	char available[1024], enabled[1024];
	struct crix_err *err = NULL;

	if (cg_read(parent, "cgroup.controllers", available, sizeof(available), &err) < 0 ||
	    cg_read(parent, "cgroup.subtree_control", enabled, sizeof(enabled), &err) < 0) {
		crix_debug("cgroup: %s", crix_err_msg(err));
		crix_err_free(&err);
		return;
	}
	for (char *p = enabled; *p != '\0'; p++)
		if (*p == ' ')
			*p = ','; /* for list_has */
	for (char *save = NULL, *c = strtok_r(available, " ", &save); c != NULL;
	     c = strtok_r(NULL, " ", &save)) {
		if (list_has(enabled, c))
			continue;
		if (cg_writef(parent, "cgroup.subtree_control", &err, "+%s", c) < 0) {
			crix_debug("cgroup: enable %s: %s", c, crix_err_msg(err));
			crix_err_free(&err);
		}
	}
}

static int record_made(struct made_dirs *made, const char *path, struct crix_err **err)
{
	char **grown = realloc(made->paths, (made->n + 1) * sizeof(*grown));
	if (grown == NULL)
		return crix_err_make(err, ENOMEM, "cgroup");
	made->paths = grown;
	if ((made->paths[made->n] = strdup(path)) == NULL)
		return crix_err_make(err, ENOMEM, "cgroup");
	made->n++;
	return 0;
}

/* mkdir every missing level of d->path below hierarchy_root, preparing each level: v1 cpuset
 * levels get cpus/mems, v2 parents enable their controllers for the level below. */
static int make_dir(const struct oci_cgroup *cg, const struct oci_cgroup_dir *d,
		    const char *hierarchy_root, struct made_dirs *made, struct crix_err **err)
{
	bool cpuset = d->name[0] != '\0' && list_has(d->name, "cpuset");
	bool v2 = cg->layout == OCI_CGROUP_UNIFIED;
	_cleanup_free_ char *path = strdup(d->path);

	if (path == NULL)
		return crix_err_make(err, ENOMEM, "cgroup");
	for (size_t i = strlen(hierarchy_root); path[i] == '/';) {
		size_t end = i + 1 + strcspn(path + i + 1, "/");
		path[i] = '\0';
		_cleanup_free_ char *parent = strdup(path);
		path[i] = '/';
		char saved = path[end];
		path[end] = '\0';
		if (parent == NULL)
			return crix_err_make(err, ENOMEM, "cgroup");
		if (v2)
			enable_controllers(parent);
		if (mkdir(path, 0755) == 0) {
			if (record_made(made, path, err) < 0) {
				rmdir(path);
				return -1;
			}
		} else if (errno != EEXIST) {
			return crix_err_make(err, errno, "mkdir %s", path);
		}
		if (cpuset && cpuset_inherit(parent, path, err) < 0)
			return -1;
		path[end] = saved;
		i = end;
	}
	return 0;
}

static const char *hierarchy_root(const struct oci_cgroup *cg, const struct oci_cgroup_dir *d,
				  char *buf, size_t size)
{
	if (cg->layout == OCI_CGROUP_UNIFIED)
		return cg->root;
	snprintf(buf, size, "%s/%s", cg->root, d->name[0] != '\0' ? d->name : "unified");
	return buf;
}

static int apply(const struct oci_cgroup *cg, const struct oci_resources *res, struct crix_err **err)
{
	if (cg->layout == OCI_CGROUP_UNIFIED)
		return cg_v2_apply(cg, res, err);
	return cg_v1_apply(cg, res, err);
}

int oci_cgroup_create(const struct oci_cgroup_opts *opts, const char *cgroups_path,
		      const struct oci_resources *res, struct oci_cgroup **out,
		      struct crix_err **err)
{
	struct oci_cgroup *cg;
	struct made_dirs made = {0};

	*out = NULL;
	if (open_handle(opts, cgroups_path, &cg, err) < 0)
		return crix_err_wrap(err, "create cgroup %s", cgroups_path != NULL ? cgroups_path : "");
	for (size_t i = 0; i < cg->n_dirs; i++) {
		char buf[4096];
		if (make_dir(cg, &cg->dirs[i], hierarchy_root(cg, &cg->dirs[i], buf, sizeof(buf)),
			     &made, err) < 0)
			goto fail;
	}
	if (res != NULL && apply(cg, res, err) < 0)
		goto fail;
	made_dirs_forget(&made);
	*out = cg;
	return 0;
fail:
	made_dirs_undo(&made);
	oci_cgroup_free(cg);
	return crix_err_wrap(err, "create cgroup %s", cgroups_path);
}

int oci_cgroup_update(const struct oci_cgroup *cg, const struct oci_resources *res,
		      struct crix_err **err)
{
	if (apply(cg, res, err) < 0)
		return crix_err_wrap(err, "update cgroup %s", cg->cgroups_path);
	return 0;
}

/* --- processes --- */

int oci_cgroup_enter(const struct oci_cgroup *cg, pid_t pid, struct crix_err **err)
{
	for (size_t i = 0; i < cg->n_dirs; i++)
		if (cg_writef(cg->dirs[i].path, "cgroup.procs", err, "%d", (int)pid) < 0)
			return crix_err_wrap(err, "enter cgroup %s", cg->cgroups_path);
	return 0;
}

/* The directory whose cgroup.procs lists the processes: pids (or freezer) hierarchy in v1. */
static const char *procs_dir(const struct oci_cgroup *cg)
{
	const char *dir = NULL;
	if (cg->layout != OCI_CGROUP_UNIFIED)
		dir = cg_v1_dir(cg, "pids");
	if (dir == NULL)
		dir = cg->dirs[0].path;
	return dir;
}

struct pid_list {
	pid_t *pids;
	size_t n, cap;
};

static int collect_pids(const char *dir, struct pid_list *list, struct crix_err **err)
{
	_cleanup_free_ char *procs = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	int pid;

	if (asprintf(&procs, "%s/cgroup.procs", dir) < 0)
		return crix_err_make(err, ENOMEM, "cgroup pids");
	if ((f = fopen(procs, "re")) == NULL)
		return crix_err_make(err, errno, "open %s", procs);
	while (fscanf(f, "%d", &pid) == 1) {
		if (list->n == list->cap) {
			size_t cap = list->cap ? list->cap * 2 : 16;
			pid_t *grown = realloc(list->pids, cap * sizeof(*grown));
			if (grown == NULL)
				return crix_err_make(err, ENOMEM, "cgroup pids");
			list->pids = grown;
			list->cap = cap;
		}
		list->pids[list->n++] = pid;
	}
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	if (d == NULL)
		return crix_err_make(err, errno, "open %s", dir);
	while ((de = readdir(d)) != NULL) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *child = NULL;
		if (asprintf(&child, "%s/%s", dir, de->d_name) < 0)
			return crix_err_make(err, ENOMEM, "cgroup pids");
		if (collect_pids(child, list, err) < 0)
			return -1;
	}
	return 0;
}

int oci_cgroup_pids(const struct oci_cgroup *cg, pid_t **pids, size_t *n_pids,
		    struct crix_err **err)
{
	struct pid_list list = {0};

	*pids = NULL;
	*n_pids = 0;
	if (collect_pids(procs_dir(cg), &list, err) < 0) {
		free(list.pids);
		return crix_err_wrap(err, "list pids of cgroup %s", cg->cgroups_path);
	}
	*pids = list.pids;
	*n_pids = list.n;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int oci_cgroup_freeze(const struct oci_cgroup *cg, bool frozen, struct crix_err **err)
{
	const char *verb = frozen ? "freeze" : "thaw";
	char state[64];

	if (cg->layout == OCI_CGROUP_UNIFIED) {
		const char *dir = cg->dirs[0].path;
		if (cg_write(dir, "cgroup.freeze", frozen ? "1" : "0", err) < 0)
			return crix_err_wrap(err, "%s cgroup %s", verb, cg->cgroups_path);
		/* cgroup.events says "frozen 1" once every task has stopped. */
		for (int i = 0; i < 1000; i++) {
			char events[512];
			if (cg_read(dir, "cgroup.events", events, sizeof(events), err) < 0)
				return crix_err_wrap(err, "%s cgroup %s", verb, cg->cgroups_path);
			const char *line = strstr(events, "frozen ");
			if (line != NULL && (line[7] == '1') == frozen)
				return 0;
			sleep_ms(1);
		}
		return crix_err_make(err, ETIMEDOUT, "%s cgroup %s: still not %s after 1 s", verb,
				     cg->cgroups_path, frozen ? "frozen" : "thawed");
	}
	const char *dir = cg_v1_dir(cg, "freezer");
	const char *want = frozen ? "FROZEN" : "THAWED";
	if (dir == NULL)
		return crix_err_make(err, ENOTSUP, "%s cgroup %s: the freezer controller is not mounted",
				     verb, cg->cgroups_path);
	/* Writing FROZEN again nudges tasks that were forking during the first attempt. */
	for (int i = 0; i < 1000; i++) {
		if (cg_write(dir, "freezer.state", want, err) < 0 ||
		    cg_read(dir, "freezer.state", state, sizeof(state), err) < 0)
			return crix_err_wrap(err, "%s cgroup %s", verb, cg->cgroups_path);
		if (strcmp(state, want) == 0)
			return 0;
		sleep_ms(1);
	}
	return crix_err_make(err, ETIMEDOUT, "%s cgroup %s: freezer.state still %s after 1 s", verb,
			     cg->cgroups_path, state);
}

int oci_cgroup_is_frozen(const struct oci_cgroup *cg, bool *frozen, struct crix_err **err)
{
	char state[64];

	*frozen = false;
	if (cg->layout == OCI_CGROUP_UNIFIED) {
		if (!cg_exists(cg->dirs[0].path, "cgroup.freeze"))
			return 0;
		if (cg_read(cg->dirs[0].path, "cgroup.freeze", state, sizeof(state), err) < 0)
			return -1;
		*frozen = strcmp(state, "1") == 0;
		return 0;
	}
	const char *dir = cg_v1_dir(cg, "freezer");
	if (dir == NULL)
		return 0;
	if (cg_read(dir, "freezer.state", state, sizeof(state), err) < 0)
		return -1;
	*frozen = strcmp(state, "FROZEN") == 0;
	return 0;
}

int oci_cgroup_kill(const struct oci_cgroup *cg, int sig, struct crix_err **err)
{
	/* v2 has one atomic file for SIGKILL, forks included. */
	if (cg->layout == OCI_CGROUP_UNIFIED && sig == SIGKILL && cg_exists(cg->dirs[0].path, "cgroup.kill"))
		return cg_write(cg->dirs[0].path, "cgroup.kill", "1", err) < 0
			       ? crix_err_wrap(err, "kill cgroup %s", cg->cgroups_path)
			       : 0;
	/* Frozen, the set of processes cannot grow between listing and signalling. A cgroup that
	 * will not freeze (a task stuck in the kernel) still gets its signals. */
	bool was_frozen = false;
	bool can_freeze = cg->layout == OCI_CGROUP_UNIFIED ? cg_exists(cg->dirs[0].path, "cgroup.freeze")
							   : cg_v1_dir(cg, "freezer") != NULL;
	if (can_freeze && oci_cgroup_is_frozen(cg, &was_frozen, err) < 0)
		return crix_err_wrap(err, "kill cgroup %s", cg->cgroups_path);
	if (can_freeze && !was_frozen && oci_cgroup_freeze(cg, true, err) < 0) {
		crix_debug("kill cgroup %s without freezing it: %s", cg->cgroups_path, crix_err_msg(*err));
		crix_err_free(err);
	}
	pid_t *pids = NULL;
	size_t n = 0;
	int ret = oci_cgroup_pids(cg, &pids, &n, err);
	for (size_t i = 0; ret == 0 && i < n; i++)
		if (kill(pids[i], sig) < 0 && errno != ESRCH)
			ret = crix_err_make(err, errno, "kill %d in cgroup %s", (int)pids[i], cg->cgroups_path);
	free(pids);
	/* Thaw so that the signals are delivered (SIGKILL of a frozen task completes on thaw). */
	if (can_freeze && (!was_frozen || sig == SIGKILL)) {
		struct crix_err *thaw_err = NULL;
		if (oci_cgroup_freeze(cg, false, &thaw_err) < 0 && ret == 0) {
			crix_err_free(err);
			*err = thaw_err;
			return crix_err_wrap(err, "kill cgroup %s", cg->cgroups_path);
		}
		crix_err_free(&thaw_err);
	}
	return ret;
}

/* rmdir dir after its child cgroups, retrying while exiting tasks keep it busy. */
static int remove_cgroup_dir(const char *dir, struct crix_err **err)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return errno == ENOENT ? 0 : crix_err_make(err, errno, "open %s", dir);
	while ((de = readdir(d)) != NULL) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *child = NULL;
		if (asprintf(&child, "%s/%s", dir, de->d_name) < 0)
			return crix_err_make(err, ENOMEM, "remove cgroup");
		if (remove_cgroup_dir(child, err) < 0)
			return -1;
	}
	for (int attempt = 0;; attempt++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY || attempt >= 100)
			return crix_err_make(err, errno, "rmdir %s", dir);
		sleep_ms(10);
	}
}

int oci_cgroup_destroy(const struct oci_cgroup *cg, struct crix_err **err)
{
	int ret = 0;
	pid_t *pids = NULL;
	size_t n = 0;
	struct crix_err *kill_err = NULL;

	/* Processes left behind (children of an init that shared the host's pid namespace) would
	 * keep the directories busy: they go too, as with runc's delete. */
	if (oci_cgroup_pids(cg, &pids, &n, &kill_err) == 0 && n > 0 &&
	    oci_cgroup_kill(cg, SIGKILL, &kill_err) < 0)
		crix_debug("destroy cgroup %s: %s", cg->cgroups_path, crix_err_msg(kill_err));
	free(pids);
	crix_err_free(&kill_err);
	/* Go on with the other hierarchies after a failure, report the first one. */
	for (size_t i = 0; i < cg->n_dirs; i++) {
		struct crix_err *one = NULL;
		if (remove_cgroup_dir(cg->dirs[i].path, &one) < 0 && ret == 0) {
			crix_err_free(err);
			*err = one;
			one = NULL;
			ret = crix_err_wrap(err, "destroy cgroup %s", cg->cgroups_path);
		}
		crix_err_free(&one);
	}
	return ret;
}

void oci_cgroup_free(struct oci_cgroup *cg)
{
	if (cg == NULL)
		return;
	for (size_t i = 0; i < cg->n_dirs; i++) {
		free(cg->dirs[i].name);
		free(cg->dirs[i].path);
	}
	free(cg->dirs);
	free(cg->root);
	free(cg->cgroups_path);
	free(cg);
}
