#include "oci_state.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_json.h"
#include "crix_record.h"

int oci_state_validate_id(const char *id, struct crix_err **err)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0)
		return crix_err_make(err, EINVAL, "container id is empty");
	if (n > 1024)
		return crix_err_make(err, EINVAL, "container id is longer than 1024 bytes");
	if (!isalnum((unsigned char)id[0]))
		return crix_err_make(err, EINVAL, "invalid container id %s: must start with a letter or digit", id);
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && strchr("_.-", id[i]) == NULL)
			return crix_err_make(err, EINVAL,
					     "invalid container id %s: only [A-Za-z0-9_.-] allowed", id);
	return 0;
}

int oci_state_dir(const char *root, const char *id, char **out, struct crix_err **err)
{
	if (oci_state_validate_id(id, err) < 0)
		return -1;
	if (asprintf(out, "%s/%s", root, id) < 0)
		return crix_err_make(err, ENOMEM, "state dir of %s", id);
	return 0;
}

int oci_state_reserve(const char *root, const char *id, char **dir, struct crix_err **err)
{
	_cleanup_free_ char *d = NULL;
	if (oci_state_dir(root, id, &d, err) < 0)
		return -1;
	if (mkdir(root, 0700) < 0 && errno != EEXIST && crix_mkdir_p(root, 0700, err) < 0)
		return crix_err_wrap(err, "create state root");
	if (mkdir(d, 0700) < 0) {
		if (errno == EEXIST)
			return crix_err_make(err, EEXIST, "container %s already exists", id);
		return crix_err_make(err, errno, "mkdir %s", d);
	}
	*dir = steal_ptr(d);
	return 0;
}

char *oci_state_path(const struct oci_state *st, const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", st->dir, name) < 0)
		return NULL;
	return p;
}

int oci_state_write(const struct oci_state *st, struct crix_err **err)
{
	struct json_object *o = json_object_new_object();
	if (o == NULL)
		return crix_err_make(err, ENOMEM, "state of %s", st->id);
	/* Those not known yet are left out. */
	const struct {
		const char *key, *value;
	} strings[] = {{"bundle", st->bundle}, {"rootfs", st->rootfs}, {"created", st->created},
		       {"cgroupsPath", st->cgroups_path}};
	int r = crix_json_add(o, "id", json_object_new_string(st->id), err) < 0 ||
			crix_json_add(o, "pid", json_object_new_int(st->pid), err) < 0 ||
			crix_json_add(o, "pidStart", json_object_new_uint64(st->pid_start), err) < 0 ||
			crix_json_add(o, "cgroupNamespace", json_object_new_boolean(st->cgroup_ns), err) < 0 ||
			(st->annotations != NULL &&
			 crix_json_add(o, "annotations", json_object_get(st->annotations), err) < 0)
		? -1
		: 0;
	for (size_t i = 0; r == 0 && i < sizeof(strings) / sizeof(strings[0]); i++)
		if (strings[i].value != NULL)
			r = crix_json_add(o, strings[i].key, json_object_new_string(strings[i].value), err);
	const char *text = r == 0 ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;
	_cleanup_free_ char *path = oci_state_path(st, "state.json");
	if (r == 0)
		r = text && path ? crix_write_file_atomic(path, text, strlen(text), 0600, CRIX_WRITE_VOLATILE, err)
				 : crix_err_make(err, ENOMEM, "state of %s", st->id);
	json_object_put(o);
	return r < 0 ? crix_err_wrap(err, "write the state of %s", st->id) : 0;
}

void oci_state_free(struct oci_state *st)
{
	if (st == NULL)
		return;
	free(st->id);
	free(st->dir);
	free(st->bundle);
	free(st->rootfs);
	free(st->created);
	free(st->cgroups_path);
	json_object_put(st->annotations);
	free(st);
}

/* The fields of state.json (what oci_state_write writes); id is the directory's. */
static int parse_state(struct json_object *o, void *arg, struct crix_err **err)
{
	struct oci_state *st = arg;
	_cleanup_free_ char *id = NULL;
	int32_t pid = 0;
	struct json_object *ann = NULL;
	if (crix_json_require(crix_json_string(o, "", "id", &id, err), "", "id", err) < 0 ||
	    crix_json_require(crix_json_int32(o, "", "pid", &pid, err), "", "pid", err) < 0 ||
	    crix_json_require(crix_json_uint64(o, "", "pidStart", &st->pid_start, err), "", "pidStart", err) < 0 ||
	    crix_json_string(o, "", "bundle", &st->bundle, err) < 0 ||
	    crix_json_string(o, "", "rootfs", &st->rootfs, err) < 0 ||
	    crix_json_string(o, "", "created", &st->created, err) < 0 ||
	    crix_json_string(o, "", "cgroupsPath", &st->cgroups_path, err) < 0 ||
	    crix_json_bool(o, "", "cgroupNamespace", &st->cgroup_ns, err) < 0 ||
	    crix_json_object(o, "", "annotations", &ann, err) < 0)
		return -1;
	if (strcmp(id, st->id) != 0)
		return crix_err_make(err, EINVAL, "id: %s, but the directory is %s's", id, st->id);
	if (pid < 0)
		return crix_err_make(err, EINVAL, "pid: %d is negative", (int)pid);
	st->pid = (pid_t)pid;
	if (ann == NULL)
		return 0;
	json_object_object_foreach(ann, key, val)
	{
		if (!json_object_is_type(val, json_type_string)) {
			char p[CRIX_JSON_PATH_MAX];
			return crix_err_make(err, EINVAL, "%s: expected string", crix_json_path_key(p, "annotations", key));
		}
	}
	st->annotations = json_object_get(ann);
	return 0;
}

int oci_state_load(const char *root, const char *id, struct oci_state **out, struct crix_err **err)
{
	_cleanup_free_ char *dir = NULL;
	if (oci_state_dir(root, id, &dir, err) < 0)
		return -1;
	struct stat sb;
	if (stat(dir, &sb) < 0) {
		if (errno == ENOENT)
			return crix_err_make(err, ENOENT, "container %s does not exist", id);
		return crix_err_make(err, errno, "stat %s", dir);
	}
	struct oci_state *st = calloc(1, sizeof(*st));
	if (st == NULL || (st->id = strdup(id)) == NULL) {
		free(st);
		return crix_err_make(err, ENOMEM, "load state of %s", id);
	}
	st->dir = steal_ptr(dir);
	_cleanup_free_ char *path = oci_state_path(st, "state.json");
	struct crix_err *read_err = NULL;
	if (path == NULL) {
		oci_state_free(st);
		return crix_err_make(err, ENOMEM, "load state of %s", id);
	}
	if (crix_record_read(path, 1 << 20, parse_state, st, &read_err) < 0) {
		if (read_err->errnum == ENOENT) { /* still being created (or its create died) */
			crix_err_free(&read_err);
			*out = st;
			return 0;
		}
		oci_state_free(st);
		if (err != NULL) {
			crix_err_free(err);
			*err = read_err;
		} else {
			crix_err_free(&read_err);
		}
		return crix_err_wrap(err, "load state of %s", id);
	}
	*out = st;
	return 0;
}

uint64_t oci_pid_start_time(pid_t pid, bool *zombie)
{
	char path[64], buf[1024];
	*zombie = false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields restart after the last ')'. */
	char *p = strrchr(buf, ')');
	if (p == NULL || p[1] == '\0')
		return 0;
	p += 2;
	*zombie = (*p == 'Z' || *p == 'X');
	/* p is field 3 (state); starttime is field 22. */
	for (int field = 3; field < 22 && p != NULL; field++) {
		p = strchr(p, ' ');
		if (p != NULL)
			p++;
	}
	return p ? strtoull(p, NULL, 10) : 0;
}

bool oci_state_init_alive(const struct oci_state *st)
{
	if (st->pid <= 0)
		return false;
	bool zombie = false;
	uint64_t start = oci_pid_start_time(st->pid, &zombie);
	return start != 0 && start == st->pid_start && !zombie;
}

enum oci_status oci_state_status(const struct oci_state *st)
{
	if (st->pid <= 0)
		return OCI_CREATING;
	if (!oci_state_init_alive(st))
		return OCI_STOPPED;
	_cleanup_free_ char *fifo = oci_state_path(st, "exec.fifo");
	if (fifo != NULL && access(fifo, F_OK) == 0)
		return OCI_CREATED;
	if (st->cgroups_path != NULL) {
		struct oci_cgroup *cg = NULL;
		struct crix_err *err = NULL;
		bool frozen = false;
		if (oci_cgroup_load(NULL, st->cgroups_path, &cg, &err) == 0 &&
		    oci_cgroup_is_frozen(cg, &frozen, &err) == 0 && frozen) {
			oci_cgroup_free(cg);
			return OCI_PAUSED;
		}
		crix_err_free(&err);
		oci_cgroup_free(cg);
	}
	return OCI_RUNNING;
}

const char *oci_status_name(enum oci_status s)
{
	static const char *const names[] = {"creating", "created", "running", "paused", "stopped"};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

/* hook: the document as runc hands it to hooks (no rootfs, created or owner; no pid once
 * stopped; no annotations when there are none). NULL when out of memory. */
static struct json_object *state_document(const struct oci_state *st, enum oci_status status, pid_t pid,
					  bool hook)
{
	struct json_object *o = json_object_new_object();
	if (o == NULL)
		return NULL;
	bool has_annotations = st->annotations != NULL && json_object_object_length(st->annotations) > 0;
	if (crix_json_add(o, "ociVersion", json_object_new_string(OCI_VERSION), NULL) < 0 ||
	    crix_json_add(o, "id", json_object_new_string(st->id), NULL) < 0 ||
	    ((!hook || status != OCI_STOPPED) &&
	     crix_json_add(o, "pid", json_object_new_int(status == OCI_STOPPED ? 0 : pid), NULL) < 0) ||
	    crix_json_add(o, "status", json_object_new_string(oci_status_name(status)), NULL) < 0 ||
	    crix_json_add(o, "bundle", json_object_new_string(st->bundle ? st->bundle : ""), NULL) < 0 ||
	    (!hook && (crix_json_add(o, "rootfs", json_object_new_string(st->rootfs ? st->rootfs : ""), NULL) < 0 ||
		       crix_json_add(o, "created", json_object_new_string(st->created ? st->created : ""), NULL) < 0 ||
		       crix_json_add(o, "owner", json_object_new_string(""), NULL) < 0)) ||
	    ((!hook || has_annotations) &&
	     crix_json_add(o, "annotations",
			   st->annotations ? json_object_get(st->annotations) : json_object_new_object(), NULL) < 0)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

struct json_object *oci_state_to_oci_json(const struct oci_state *st, enum oci_status status)
{
	return state_document(st, status, st->pid, false);
}

char *oci_state_hook_text(const struct oci_state *st, enum oci_status status, pid_t pid)
{
	struct json_object *o = state_document(st, status, pid, true);
	if (o == NULL)
		return NULL;
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	char *copy = text ? strdup(text) : NULL;
	json_object_put(o);
	return copy;
}
