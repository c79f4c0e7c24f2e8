#include "oci_spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_json.h"
#include "oci_resources.h"
#include "oci_seccomp.h"

#define SPEC_MAX_BYTES (64u << 20)

static const char *const ns_names[OCI_NS_TYPES] = {
	[OCI_NS_PID] = "pid",	   [OCI_NS_NETWORK] = "network", [OCI_NS_MOUNT] = "mount",
	[OCI_NS_IPC] = "ipc",	   [OCI_NS_UTS] = "uts",	 [OCI_NS_USER] = "user",
	[OCI_NS_CGROUP] = "cgroup", [OCI_NS_TIME] = "time",
};

static const char *const hook_names[OCI_HOOK_KINDS] = {
	[OCI_HOOK_PRESTART] = "prestart",
	[OCI_HOOK_CREATE_RUNTIME] = "createRuntime",
	[OCI_HOOK_CREATE_CONTAINER] = "createContainer",
	[OCI_HOOK_START_CONTAINER] = "startContainer",
	[OCI_HOOK_POSTSTART] = "poststart",
	[OCI_HOOK_POSTSTOP] = "poststop",
};

int oci_ns_type_from_name(const char *name)
{
	for (int i = 0; i < OCI_NS_TYPES; i++)
		if (strcmp(name, ns_names[i]) == 0)
			return i;
	return -1;
}

const char *oci_ns_type_name(enum oci_ns_type type)
{
	return (unsigned)type < OCI_NS_TYPES ? ns_names[type] : "unknown";
}

const char *oci_hook_kind_name(enum oci_hook_kind kind)
{
	return (unsigned)kind < OCI_HOOK_KINDS ? hook_names[kind] : "unknown";
}

const struct oci_namespace *oci_spec_namespace(const struct oci_spec *spec, enum oci_ns_type type)
{
	if (spec->linux == NULL)
		return NULL;
	for (size_t i = 0; i < spec->linux->n_namespaces; i++)
		if (spec->linux->namespaces[i].type == type)
			return &spec->linux->namespaces[i];
	return NULL;
}

/* ---- freeing ---- */

static void kv_free(struct oci_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

void oci_process_free(struct oci_process *p)
{
	if (p == NULL)
		return;
	free(p->user.additional_gids);
	free(p->user.username);
	crix_strv_free(p->args);
	free(p->command_line);
	crix_strv_free(p->env);
	free(p->cwd);
	if (p->capabilities != NULL) {
		crix_strv_free(p->capabilities->bounding);
		crix_strv_free(p->capabilities->effective);
		crix_strv_free(p->capabilities->inheritable);
		crix_strv_free(p->capabilities->permitted);
		crix_strv_free(p->capabilities->ambient);
		free(p->capabilities);
	}
	for (size_t i = 0; i < p->n_rlimits; i++)
		free(p->rlimits[i].type);
	free(p->rlimits);
	free(p->apparmor_profile);
	free(p->selinux_label);
	json_object_put(p->raw);
	free(p);
}

static void hook_list_free(struct oci_hook_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->hooks[i].path);
		crix_strv_free(l->hooks[i].args);
		crix_strv_free(l->hooks[i].env);
	}
	free(l->hooks);
	l->hooks = NULL;
	l->n = 0;
}

static void linux_free(struct oci_linux *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n_namespaces; i++)
		free(l->namespaces[i].path);
	free(l->namespaces);
	free(l->uid_mappings);
	free(l->gid_mappings);
	for (size_t i = 0; i < l->n_devices; i++)
		free(l->devices[i].path);
	free(l->devices);
	free(l->cgroups_path);
	oci_resources_free(l->resources);
	kv_free(l->sysctl, l->n_sysctl);
	oci_seccomp_free(l->seccomp);
	crix_strv_free(l->masked_paths);
	crix_strv_free(l->readonly_paths);
	free(l->rootfs_propagation);
	free(l->mount_label);
	free(l->personality_domain);
	free(l);
}

void oci_spec_free(struct oci_spec *spec)
{
	if (spec == NULL)
		return;
	free(spec->oci_version);
	oci_process_free(spec->process);
	if (spec->root != NULL) {
		free(spec->root->path);
		free(spec->root);
	}
	free(spec->hostname);
	free(spec->domainname);
	for (size_t i = 0; i < spec->n_mounts; i++) {
		free(spec->mounts[i].destination);
		free(spec->mounts[i].type);
		free(spec->mounts[i].source);
		crix_strv_free(spec->mounts[i].options);
	}
	free(spec->mounts);
	for (int k = 0; k < OCI_HOOK_KINDS; k++)
		hook_list_free(&spec->hooks[k]);
	kv_free(spec->annotations, spec->n_annotations);
	linux_free(spec->linux);
	json_object_put(spec->raw);
	free(spec);
}

/* ---- parsing ---- */

/* Calls parse_one for each element of the array under key, into a calloc'd array. */
typedef int (*parse_elem_fn)(struct json_object *elem, const char *path, void *out,
			     struct crix_err **err);

static int parse_list(struct json_object *obj, const char *path, const char *key, size_t elem_size,
		      parse_elem_fn parse_one, void **out, size_t *n_out, struct crix_err **err)
{
	struct json_object *arr = NULL;
	int r = crix_json_array(obj, path, key, &arr, err);
	if (r <= 0)
		return r;
	size_t n = json_object_array_length(arr);
	char *items = calloc(n ? n : 1, elem_size);
	if (items == NULL)
		return crix_err_make(err, ENOMEM, "allocate %s", key);
	/* The caller frees what was parsed so far, so publish before parsing. */
	*out = items;
	*n_out = 0;
	char kp[CRIX_JSON_PATH_MAX], ip[CRIX_JSON_PATH_MAX];
	crix_json_path_key(kp, path, key);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);
		crix_json_path_index(ip, kp, i);
		(*n_out)++;
		if (crix_json_expect_object(e, ip, err) < 0)
			return -1;
		if (parse_one(e, ip, items + i * elem_size, err) < 0)
			return -1;
	}
	return 1;
}

static int parse_kv(struct json_object *obj, const char *path, const char *key,
		    struct oci_kv **out, size_t *n_out, struct crix_err **err)
{
	struct json_object *map = NULL;
	int r = crix_json_object(obj, path, key, &map, err);
	if (r <= 0)
		return r;
	size_t n = (size_t)json_object_object_length(map);
	*out = calloc(n ? n : 1, sizeof(struct oci_kv));
	if (*out == NULL)
		return crix_err_make(err, ENOMEM, "allocate %s", key);
	*n_out = 0;
	char kp[CRIX_JSON_PATH_MAX];
	crix_json_path_key(kp, path, key);
	json_object_object_foreach(map, k, v)
	{
		if (v == NULL || !json_object_is_type(v, json_type_string)) {
			char p[CRIX_JSON_PATH_MAX];
			return crix_err_make(err, EINVAL, "%s: expected string",
					     crix_json_path_key(p, kp, k));
		}
		struct oci_kv *e = &(*out)[(*n_out)++];
		e->key = strdup(k);
		e->value = strdup(json_object_get_string(v));
		if (e->key == NULL || e->value == NULL)
			return crix_err_make(err, ENOMEM, "allocate %s", key);
	}
	return 1;
}

static int parse_rlimit(struct json_object *e, const char *path, void *out, struct crix_err **err)
{
	struct oci_rlimit *rl = out;
	if (crix_json_string(e, path, "type", &rl->type, err) < 0 ||
	    crix_json_uint64(e, path, "hard", &rl->hard, err) < 0 ||
	    crix_json_uint64(e, path, "soft", &rl->soft, err) < 0)
		return -1;
	if (rl->type == NULL)
		return crix_err_make(err, EINVAL, "%s.type: required", path);
	return 0;
}

static int parse_user(struct json_object *obj, const char *path, struct oci_user *u,
		      struct crix_err **err)
{
	char p[CRIX_JSON_PATH_MAX];
	struct json_object *user = NULL;
	int r = crix_json_object(obj, path, "user", &user, err);
	if (r <= 0)
		return r;
	crix_json_path_key(p, path, "user");
	if (crix_json_uint32(user, p, "uid", &u->uid, err) < 0 ||
	    crix_json_uint32(user, p, "gid", &u->gid, err) < 0 ||
	    crix_json_string(user, p, "username", &u->username, err) < 0)
		return -1;
	r = crix_json_uint32(user, p, "umask", &u->umask, err);
	if (r < 0)
		return -1;
	u->has_umask = r > 0;
	struct json_object *gids = NULL;
	r = crix_json_array(user, p, "additionalGids", &gids, err);
	if (r < 0)
		return -1;
	if (r > 0) {
		size_t n = json_object_array_length(gids);
		u->additional_gids = calloc(n ? n : 1, sizeof(uint32_t));
		if (u->additional_gids == NULL)
			return crix_err_make(err, ENOMEM, "allocate additionalGids");
		char gp[CRIX_JSON_PATH_MAX], ip[CRIX_JSON_PATH_MAX];
		crix_json_path_key(gp, p, "additionalGids");
		for (size_t i = 0; i < n; i++) {
			struct json_object *g = json_object_array_get_idx(gids, i);
			if (g == NULL || !json_object_is_type(g, json_type_int) ||
			    json_object_get_int64(g) < 0 || json_object_get_int64(g) > UINT32_MAX)
				return crix_err_make(err, EINVAL, "%s: expected unsigned 32-bit integer",
						     crix_json_path_index(ip, gp, i));
			u->additional_gids[i] = (uint32_t)json_object_get_int64(g);
		}
		u->n_additional_gids = n;
	}
	return 1;
}

static int parse_capabilities(struct json_object *obj, const char *path,
			      struct oci_capabilities **out, struct crix_err **err)
{
	struct json_object *caps = NULL;
	int r = crix_json_object(obj, path, "capabilities", &caps, err);
	if (r <= 0)
		return r;
	struct oci_capabilities *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return crix_err_make(err, ENOMEM, "allocate capabilities");
	*out = c;
	char p[CRIX_JSON_PATH_MAX];
	crix_json_path_key(p, path, "capabilities");
	if (crix_json_strv(caps, p, "bounding", &c->bounding, err) < 0 ||
	    crix_json_strv(caps, p, "effective", &c->effective, err) < 0 ||
	    crix_json_strv(caps, p, "inheritable", &c->inheritable, err) < 0 ||
	    crix_json_strv(caps, p, "permitted", &c->permitted, err) < 0 ||
	    crix_json_strv(caps, p, "ambient", &c->ambient, err) < 0)
		return -1;
	return 1;
}

static int parse_process_fields(struct json_object *obj, const char *path, struct oci_process *p,
				struct crix_err **err)
{
	char sub[CRIX_JSON_PATH_MAX];
	if (crix_json_bool(obj, path, "terminal", &p->terminal, err) < 0)
		return -1;
	struct json_object *cs = NULL;
	int r = crix_json_object(obj, path, "consoleSize", &cs, err);
	if (r < 0)
		return -1;
	if (r > 0) {
		p->has_console_size = true;
		crix_json_path_key(sub, path, "consoleSize");
		if (crix_json_uint32(cs, sub, "height", &p->console_height, err) < 0 ||
		    crix_json_uint32(cs, sub, "width", &p->console_width, err) < 0)
			return -1;
	}
	if (parse_user(obj, path, &p->user, err) < 0 ||
	    crix_json_strv(obj, path, "args", &p->args, err) < 0 ||
	    crix_json_string(obj, path, "commandLine", &p->command_line, err) < 0 ||
	    crix_json_strv(obj, path, "env", &p->env, err) < 0 ||
	    crix_json_string(obj, path, "cwd", &p->cwd, err) < 0 ||
	    parse_capabilities(obj, path, &p->capabilities, err) < 0 ||
	    parse_list(obj, path, "rlimits", sizeof(struct oci_rlimit), parse_rlimit,
		       (void **)&p->rlimits, &p->n_rlimits, err) < 0 ||
	    crix_json_bool(obj, path, "noNewPrivileges", &p->no_new_privileges, err) < 0 ||
	    crix_json_string(obj, path, "apparmorProfile", &p->apparmor_profile, err) < 0 ||
	    crix_json_string(obj, path, "selinuxLabel", &p->selinux_label, err) < 0)
		return -1;
	int32_t adj = 0;
	r = crix_json_int32(obj, path, "oomScoreAdj", &adj, err);
	if (r < 0)
		return -1;
	p->has_oom_score_adj = r > 0;
	p->oom_score_adj = adj;
	return 0;
}

int oci_process_from_json(struct json_object *obj, const char *json_path, struct oci_process **out,
			  struct crix_err **err)
{
	if (crix_json_expect_object(obj, json_path, err) < 0)
		return -1;
	struct oci_process *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return crix_err_make(err, ENOMEM, "allocate process");
	p->raw = json_object_get(obj);
	if (parse_process_fields(obj, json_path, p, err) < 0) {
		oci_process_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

static int parse_mount(struct json_object *e, const char *path, void *out, struct crix_err **err)
{
	struct oci_mount *m = out;
	if (crix_json_string(e, path, "destination", &m->destination, err) < 0 ||
	    crix_json_string(e, path, "type", &m->type, err) < 0 ||
	    crix_json_string(e, path, "source", &m->source, err) < 0 ||
	    crix_json_strv(e, path, "options", &m->options, err) < 0)
		return -1;
	if (m->destination == NULL)
		return crix_err_make(err, EINVAL, "%s.destination: required", path);
	return 0;
}

static int parse_hook(struct json_object *e, const char *path, void *out, struct crix_err **err)
{
	struct oci_hook *h = out;
	if (crix_json_string(e, path, "path", &h->path, err) < 0 ||
	    crix_json_strv(e, path, "args", &h->args, err) < 0 ||
	    crix_json_strv(e, path, "env", &h->env, err) < 0)
		return -1;
	if (h->path == NULL)
		return crix_err_make(err, EINVAL, "%s.path: required", path);
	int32_t t = 0;
	int r = crix_json_int32(e, path, "timeout", &t, err);
	if (r < 0)
		return -1;
	if (r > 0 && t <= 0)
		return crix_err_make(err, EINVAL, "%s.timeout: must be greater than zero", path);
	h->has_timeout = r > 0;
	h->timeout = t;
	return 0;
}

static int parse_namespace(struct json_object *e, const char *path, void *out,
			   struct crix_err **err)
{
	struct oci_namespace *ns = out;
	_cleanup_free_ char *type = NULL;
	if (crix_json_string(e, path, "type", &type, err) < 0 ||
	    crix_json_string(e, path, "path", &ns->path, err) < 0)
		return -1;
	int t = type ? oci_ns_type_from_name(type) : -1;
	if (t < 0)
		return crix_err_make(err, EINVAL, "%s.type: unknown namespace type %s", path,
				     type ? type : "(missing)");
	ns->type = (enum oci_ns_type)t;
	if (ns->path != NULL && ns->path[0] == '\0') {
		free(ns->path);
		ns->path = NULL;
	}
	return 0;
}

static int parse_id_mapping(struct json_object *e, const char *path, void *out,
			    struct crix_err **err)
{
	struct oci_id_mapping *m = out;
	if (crix_json_uint32(e, path, "containerID", &m->container_id, err) < 0 ||
	    crix_json_uint32(e, path, "hostID", &m->host_id, err) < 0 ||
	    crix_json_uint32(e, path, "size", &m->size, err) < 0)
		return -1;
	return 0;
}

static int parse_device(struct json_object *e, const char *path, void *out, struct crix_err **err)
{
	struct oci_device *d = out;
	_cleanup_free_ char *type = NULL;
	int r;
	if (crix_json_string(e, path, "path", &d->path, err) < 0 ||
	    crix_json_string(e, path, "type", &type, err) < 0 ||
	    crix_json_int64(e, path, "major", &d->major, err) < 0 ||
	    crix_json_int64(e, path, "minor", &d->minor, err) < 0)
		return -1;
	if (d->path == NULL)
		return crix_err_make(err, EINVAL, "%s.path: required", path);
	if (type == NULL || strlen(type) != 1 || strchr("cbup", type[0]) == NULL)
		return crix_err_make(err, EINVAL, "%s.type: expected one of c, b, u, p", path);
	d->type = type[0];
	if ((r = crix_json_uint32(e, path, "fileMode", &d->file_mode, err)) < 0)
		return -1;
	d->has_file_mode = r > 0;
	if ((r = crix_json_uint32(e, path, "uid", &d->uid, err)) < 0)
		return -1;
	d->has_uid = r > 0;
	if ((r = crix_json_uint32(e, path, "gid", &d->gid, err)) < 0)
		return -1;
	d->has_gid = r > 0;
	return 0;
}

static int parse_time_offset(struct json_object *obj, const char *path, const char *key,
			     struct oci_time_offset *t, struct crix_err **err)
{
	struct json_object *o = NULL;
	int r = crix_json_object(obj, path, key, &o, err);
	if (r <= 0)
		return r;
	char p[CRIX_JSON_PATH_MAX];
	crix_json_path_key(p, path, key);
	t->set = true;
	if (crix_json_int64(o, p, "secs", &t->secs, err) < 0 ||
	    crix_json_uint32(o, p, "nanosecs", &t->nanosecs, err) < 0)
		return -1;
	return 1;
}

static int parse_linux(struct json_object *obj, struct oci_linux *l, struct crix_err **err)
{
	const char *path = "linux";
	char sub[CRIX_JSON_PATH_MAX];
	struct json_object *o = NULL;
	if (parse_list(obj, path, "namespaces", sizeof(struct oci_namespace), parse_namespace,
		       (void **)&l->namespaces, &l->n_namespaces, err) < 0 ||
	    parse_list(obj, path, "uidMappings", sizeof(struct oci_id_mapping), parse_id_mapping,
		       (void **)&l->uid_mappings, &l->n_uid_mappings, err) < 0 ||
	    parse_list(obj, path, "gidMappings", sizeof(struct oci_id_mapping), parse_id_mapping,
		       (void **)&l->gid_mappings, &l->n_gid_mappings, err) < 0 ||
	    parse_list(obj, path, "devices", sizeof(struct oci_device), parse_device,
		       (void **)&l->devices, &l->n_devices, err) < 0 ||
	    crix_json_string(obj, path, "cgroupsPath", &l->cgroups_path, err) < 0 ||
	    parse_kv(obj, path, "sysctl", &l->sysctl, &l->n_sysctl, err) < 0 ||
	    crix_json_strv(obj, path, "maskedPaths", &l->masked_paths, err) < 0 ||
	    crix_json_strv(obj, path, "readonlyPaths", &l->readonly_paths, err) < 0 ||
	    crix_json_string(obj, path, "rootfsPropagation", &l->rootfs_propagation, err) < 0 ||
	    crix_json_string(obj, path, "mountLabel", &l->mount_label, err) < 0)
		return -1;
	/* Each namespace type at most once, as the spec requires. */
	for (size_t i = 0; i < l->n_namespaces; i++)
		for (size_t j = i + 1; j < l->n_namespaces; j++)
			if (l->namespaces[i].type == l->namespaces[j].type)
				return crix_err_make(err, EINVAL, "linux.namespaces[%zu]: duplicate %s namespace",
						     j, oci_ns_type_name(l->namespaces[j].type));
	int r = crix_json_object(obj, path, "resources", &o, err);
	if (r < 0)
		return -1;
	if (r > 0 && oci_resources_from_json(o, "linux.resources", &l->resources, err) < 0)
		return -1;
	r = crix_json_object(obj, path, "seccomp", &o, err);
	if (r < 0)
		return -1;
	if (r > 0 && oci_seccomp_from_json(o, "linux.seccomp", &l->seccomp, err) < 0)
		return -1;
	r = crix_json_object(obj, path, "personality", &o, err);
	if (r < 0)
		return -1;
	if (r > 0) {
		l->has_personality = true;
		if (crix_json_string(o, crix_json_path_key(sub, path, "personality"), "domain",
				    &l->personality_domain, err) < 0)
			return -1;
	}
	r = crix_json_object(obj, path, "timeOffsets", &o, err);
	if (r < 0)
		return -1;
	if (r > 0) {
		crix_json_path_key(sub, path, "timeOffsets");
		if (parse_time_offset(o, sub, "monotonic", &l->time_monotonic, err) < 0 ||
		    parse_time_offset(o, sub, "boottime", &l->time_boottime, err) < 0)
			return -1;
	}
	return 0;
}

static int parse_spec(struct json_object *obj, struct oci_spec *s, struct crix_err **err)
{
	struct json_object *o = NULL;
	int r;
	if (crix_json_expect_object(obj, "config.json", err) < 0 ||
	    crix_json_string(obj, "", "ociVersion", &s->oci_version, err) < 0 ||
	    crix_json_string(obj, "", "hostname", &s->hostname, err) < 0 ||
	    crix_json_string(obj, "", "domainname", &s->domainname, err) < 0 ||
	    parse_list(obj, "", "mounts", sizeof(struct oci_mount), parse_mount,
		       (void **)&s->mounts, &s->n_mounts, err) < 0 ||
	    parse_kv(obj, "", "annotations", &s->annotations, &s->n_annotations, err) < 0)
		return -1;
	if ((r = crix_json_object(obj, "", "process", &o, err)) < 0)
		return -1;
	if (r > 0 && oci_process_from_json(o, "process", &s->process, err) < 0)
		return -1;
	if ((r = crix_json_object(obj, "", "root", &o, err)) < 0)
		return -1;
	if (r > 0) {
		s->root = calloc(1, sizeof(*s->root));
		if (s->root == NULL)
			return crix_err_make(err, ENOMEM, "allocate root");
		if (crix_json_string(o, "root", "path", &s->root->path, err) < 0 ||
		    crix_json_bool(o, "root", "readonly", &s->root->readonly, err) < 0)
			return -1;
	}
	if ((r = crix_json_object(obj, "", "hooks", &o, err)) < 0)
		return -1;
	if (r > 0) {
		s->has_hooks = true;
		for (int k = 0; k < OCI_HOOK_KINDS; k++)
			if (parse_list(o, "hooks", hook_names[k], sizeof(struct oci_hook), parse_hook,
				       (void **)&s->hooks[k].hooks, &s->hooks[k].n, err) < 0)
				return -1;
	}
	if ((r = crix_json_object(obj, "", "linux", &o, err)) < 0)
		return -1;
	if (r > 0) {
		s->linux = calloc(1, sizeof(*s->linux));
		if (s->linux == NULL)
			return crix_err_make(err, ENOMEM, "allocate linux");
		if (parse_linux(o, s->linux, err) < 0)
			return -1;
	}
	return 0;
}

int oci_spec_from_json(struct json_object *obj, struct oci_spec **out, struct crix_err **err)
{
	struct oci_spec *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return crix_err_make(err, ENOMEM, "allocate spec");
	if (parse_spec(obj, s, err) < 0) {
		oci_spec_free(s);
		return -1;
	}
	s->raw = json_object_get(obj);
	*out = s;
	return 0;
}

int oci_spec_from_string(const char *text, struct oci_spec **out, struct crix_err **err)
{
	enum json_tokener_error jerr;
	struct json_object *obj = json_tokener_parse_verbose(text, &jerr);
	if (obj == NULL)
		return crix_err_make(err, EINVAL, "parse JSON: %s", json_tokener_error_desc(jerr));
	int r = oci_spec_from_json(obj, out, err);
	json_object_put(obj);
	return r;
}

int oci_spec_from_file(const char *path, struct oci_spec **out, struct crix_err **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (crix_read_file(path, SPEC_MAX_BYTES, &text, &len, err) < 0)
		return -1;
	if (strlen(text) != len)
		return crix_err_make(err, EINVAL, "%s: NUL byte in JSON", path);
	if (oci_spec_from_string(text, out, err) < 0)
		return crix_err_wrap(err, "%s", path);
	return 0;
}

/* ---- emitting ---- */

static struct json_object *new_u32_array(const uint32_t *v, size_t n)
{
	struct json_object *arr = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_int64(v[i]));
	return arr;
}

static struct json_object *new_kv_object(const struct oci_kv *kv, size_t n)
{
	if (kv == NULL)
		return NULL;
	struct json_object *o = json_object_new_object();
	for (size_t i = 0; i < n; i++)
		json_object_object_add(o, kv[i].key, json_object_new_string(kv[i].value));
	return o;
}

/* The array under key in base (borrowed), for element bases. */
static struct json_object *base_array(struct json_object *base, const char *key)
{
	struct json_object *v = NULL;
	if (base != NULL && json_object_object_get_ex(base, key, &v) && v != NULL &&
	    json_object_is_type(v, json_type_array))
		return v;
	return NULL;
}

static void emit_process(const struct oci_process *p, struct json_object *o)
{
	json_object_object_add(o, "terminal", json_object_new_boolean(p->terminal));
	struct json_object *cs = NULL;
	if (p->has_console_size) {
		cs = crix_json_take_object(o, "consoleSize");
		json_object_object_add(cs, "height", json_object_new_int64(p->console_height));
		json_object_object_add(cs, "width", json_object_new_int64(p->console_width));
	}
	crix_json_put(o, "consoleSize", cs);
	struct json_object *u = crix_json_take_object(o, "user");
	json_object_object_add(u, "uid", json_object_new_int64(p->user.uid));
	json_object_object_add(u, "gid", json_object_new_int64(p->user.gid));
	crix_json_put(u, "umask", p->user.has_umask ? json_object_new_int64(p->user.umask) : NULL);
	crix_json_put(u, "additionalGids",
		     p->user.additional_gids
			     ? new_u32_array(p->user.additional_gids, p->user.n_additional_gids)
			     : NULL);
	crix_json_put(u, "username", crix_json_new_string_or_null(p->user.username));
	json_object_object_add(o, "user", u);
	crix_json_put(o, "args", crix_json_new_strv(p->args));
	crix_json_put(o, "commandLine", crix_json_new_string_or_null(p->command_line));
	crix_json_put(o, "env", crix_json_new_strv(p->env));
	crix_json_put(o, "cwd", crix_json_new_string_or_null(p->cwd));
	struct json_object *caps = NULL;
	if (p->capabilities != NULL) {
		caps = crix_json_take_object(o, "capabilities");
		crix_json_put(caps, "bounding", crix_json_new_strv(p->capabilities->bounding));
		crix_json_put(caps, "effective", crix_json_new_strv(p->capabilities->effective));
		crix_json_put(caps, "inheritable", crix_json_new_strv(p->capabilities->inheritable));
		crix_json_put(caps, "permitted", crix_json_new_strv(p->capabilities->permitted));
		crix_json_put(caps, "ambient", crix_json_new_strv(p->capabilities->ambient));
	}
	crix_json_put(o, "capabilities", caps);
	struct json_object *rls = NULL;
	if (p->rlimits != NULL) {
		struct json_object *old = base_array(o, "rlimits");
		rls = json_object_new_array();
		for (size_t i = 0; i < p->n_rlimits; i++) {
			struct json_object *e = crix_json_element_base(old, p->n_rlimits, i);
			json_object_object_add(e, "type", json_object_new_string(p->rlimits[i].type));
			json_object_object_add(e, "hard", json_object_new_uint64(p->rlimits[i].hard));
			json_object_object_add(e, "soft", json_object_new_uint64(p->rlimits[i].soft));
			json_object_array_add(rls, e);
		}
	}
	crix_json_put(o, "rlimits", rls);
	crix_json_put(o, "noNewPrivileges",
		     p->no_new_privileges ? json_object_new_boolean(true) : NULL);
	crix_json_put(o, "oomScoreAdj",
		     p->has_oom_score_adj ? json_object_new_int(p->oom_score_adj) : NULL);
	crix_json_put(o, "apparmorProfile", crix_json_new_string_or_null(p->apparmor_profile));
	crix_json_put(o, "selinuxLabel", crix_json_new_string_or_null(p->selinux_label));
}

int oci_process_to_json(const struct oci_process *p, struct json_object **out, struct crix_err **err)
{
	struct json_object *o = NULL;
	if (p->raw != NULL) {
		if (json_object_deep_copy(p->raw, &o, NULL) != 0)
			return crix_err_make(err, ENOMEM, "copy process");
	} else {
		o = json_object_new_object();
	}
	emit_process(p, o);
	*out = o;
	return 0;
}

static struct json_object *emit_hook_list(const struct oci_hook_list *l, struct json_object *old)
{
	struct json_object *arr = json_object_new_array();
	for (size_t i = 0; i < l->n; i++) {
		const struct oci_hook *h = &l->hooks[i];
		struct json_object *e = crix_json_element_base(old, l->n, i);
		json_object_object_add(e, "path", json_object_new_string(h->path));
		crix_json_put(e, "args", crix_json_new_strv(h->args));
		crix_json_put(e, "env", crix_json_new_strv(h->env));
		crix_json_put(e, "timeout", h->has_timeout ? json_object_new_int(h->timeout) : NULL);
		json_object_array_add(arr, e);
	}
	return arr;
}

static struct json_object *emit_id_mappings(const struct oci_id_mapping *m, size_t n)
{
	if (m == NULL)
		return NULL;
	struct json_object *arr = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_new_object();
		json_object_object_add(e, "containerID", json_object_new_int64(m[i].container_id));
		json_object_object_add(e, "hostID", json_object_new_int64(m[i].host_id));
		json_object_object_add(e, "size", json_object_new_int64(m[i].size));
		json_object_array_add(arr, e);
	}
	return arr;
}

static struct json_object *emit_time_offset(const struct oci_time_offset *t)
{
	struct json_object *e = json_object_new_object();
	json_object_object_add(e, "secs", json_object_new_int64(t->secs));
	json_object_object_add(e, "nanosecs", json_object_new_int64(t->nanosecs));
	return e;
}

static int emit_linux(const struct oci_linux *l, struct json_object *o, struct crix_err **err)
{
	struct json_object *arr = NULL, *old;
	if (l->namespaces != NULL) {
		old = base_array(o, "namespaces");
		arr = json_object_new_array();
		for (size_t i = 0; i < l->n_namespaces; i++) {
			struct json_object *e = crix_json_element_base(old, l->n_namespaces, i);
			json_object_object_add(e, "type",
					       json_object_new_string(ns_names[l->namespaces[i].type]));
			crix_json_put(e, "path", crix_json_new_string_or_null(l->namespaces[i].path));
			json_object_array_add(arr, e);
		}
	}
	crix_json_put(o, "namespaces", arr);
	crix_json_put(o, "uidMappings", emit_id_mappings(l->uid_mappings, l->n_uid_mappings));
	crix_json_put(o, "gidMappings", emit_id_mappings(l->gid_mappings, l->n_gid_mappings));
	arr = NULL;
	if (l->devices != NULL) {
		old = base_array(o, "devices");
		arr = json_object_new_array();
		for (size_t i = 0; i < l->n_devices; i++) {
			const struct oci_device *d = &l->devices[i];
			struct json_object *e = crix_json_element_base(old, l->n_devices, i);
			char type[2] = {d->type, '\0'};
			json_object_object_add(e, "path", json_object_new_string(d->path));
			json_object_object_add(e, "type", json_object_new_string(type));
			json_object_object_add(e, "major", json_object_new_int64(d->major));
			json_object_object_add(e, "minor", json_object_new_int64(d->minor));
			crix_json_put(e, "fileMode", d->has_file_mode ? json_object_new_int64(d->file_mode) : NULL);
			crix_json_put(e, "uid", d->has_uid ? json_object_new_int64(d->uid) : NULL);
			crix_json_put(e, "gid", d->has_gid ? json_object_new_int64(d->gid) : NULL);
			json_object_array_add(arr, e);
		}
	}
	crix_json_put(o, "devices", arr);
	crix_json_put(o, "cgroupsPath", crix_json_new_string_or_null(l->cgroups_path));
	struct json_object *sub = NULL;
	if (l->resources != NULL && oci_resources_to_json(l->resources, &sub, err) < 0)
		return crix_err_wrap(err, "linux.resources");
	crix_json_put(o, "resources", sub);
	sub = NULL;
	if (l->seccomp != NULL && oci_seccomp_to_json(l->seccomp, &sub, err) < 0)
		return crix_err_wrap(err, "linux.seccomp");
	crix_json_put(o, "seccomp", sub);
	crix_json_put(o, "sysctl", new_kv_object(l->sysctl, l->n_sysctl));
	crix_json_put(o, "maskedPaths", crix_json_new_strv(l->masked_paths));
	crix_json_put(o, "readonlyPaths", crix_json_new_strv(l->readonly_paths));
	crix_json_put(o, "rootfsPropagation", crix_json_new_string_or_null(l->rootfs_propagation));
	crix_json_put(o, "mountLabel", crix_json_new_string_or_null(l->mount_label));
	sub = NULL;
	if (l->has_personality) {
		sub = crix_json_take_object(o, "personality");
		crix_json_put(sub, "domain", crix_json_new_string_or_null(l->personality_domain));
	}
	crix_json_put(o, "personality", sub);
	sub = NULL;
	if (l->time_monotonic.set || l->time_boottime.set) {
		sub = crix_json_take_object(o, "timeOffsets");
		crix_json_put(sub, "monotonic",
			     l->time_monotonic.set ? emit_time_offset(&l->time_monotonic) : NULL);
		crix_json_put(sub, "boottime",
			     l->time_boottime.set ? emit_time_offset(&l->time_boottime) : NULL);
	}
	crix_json_put(o, "timeOffsets", sub);
	return 0;
}

int oci_spec_to_json(const struct oci_spec *s, struct json_object **out, struct crix_err **err)
{
	struct json_object *doc = NULL;
	if (s->raw != NULL && json_object_is_type(s->raw, json_type_object)) {
		if (json_object_deep_copy(s->raw, &doc, NULL) != 0)
			return crix_err_make(err, ENOMEM, "copy spec");
	} else {
		doc = json_object_new_object();
	}
	crix_json_put(doc, "ociVersion", crix_json_new_string_or_null(s->oci_version));
	struct json_object *o = NULL;
	if (s->process != NULL) {
		o = crix_json_take_object(doc, "process");
		emit_process(s->process, o);
	}
	crix_json_put(doc, "process", o);
	o = NULL;
	if (s->root != NULL) {
		o = crix_json_take_object(doc, "root");
		crix_json_put(o, "path", crix_json_new_string_or_null(s->root->path));
		crix_json_put(o, "readonly", s->root->readonly ? json_object_new_boolean(true) : NULL);
	}
	crix_json_put(doc, "root", o);
	crix_json_put(doc, "hostname", crix_json_new_string_or_null(s->hostname));
	crix_json_put(doc, "domainname", crix_json_new_string_or_null(s->domainname));
	o = NULL;
	if (s->mounts != NULL) {
		struct json_object *old = base_array(doc, "mounts");
		o = json_object_new_array();
		for (size_t i = 0; i < s->n_mounts; i++) {
			const struct oci_mount *m = &s->mounts[i];
			struct json_object *e = crix_json_element_base(old, s->n_mounts, i);
			json_object_object_add(e, "destination", json_object_new_string(m->destination));
			crix_json_put(e, "type", crix_json_new_string_or_null(m->type));
			crix_json_put(e, "source", crix_json_new_string_or_null(m->source));
			crix_json_put(e, "options", crix_json_new_strv(m->options));
			json_object_array_add(o, e);
		}
	}
	crix_json_put(doc, "mounts", o);
	o = NULL;
	if (s->has_hooks) {
		o = crix_json_take_object(doc, "hooks");
		for (int k = 0; k < OCI_HOOK_KINDS; k++)
			crix_json_put(o, hook_names[k],
				     s->hooks[k].hooks ? emit_hook_list(&s->hooks[k],
									base_array(o, hook_names[k]))
						       : NULL);
	}
	crix_json_put(doc, "hooks", o);
	crix_json_put(doc, "annotations", new_kv_object(s->annotations, s->n_annotations));
	o = NULL;
	if (s->linux != NULL) {
		o = crix_json_take_object(doc, "linux");
		if (emit_linux(s->linux, o, err) < 0) {
			json_object_put(o);
			json_object_put(doc);
			return -1;
		}
	}
	crix_json_put(doc, "linux", o);
	*out = doc;
	return 0;
}

int oci_spec_to_string(const struct oci_spec *spec, char **out, struct crix_err **err)
{
	struct json_object *doc = NULL;
	if (oci_spec_to_json(spec, &doc, err) < 0)
		return -1;
	const char *text = json_object_to_json_string_ext(
		doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE | JSON_C_TO_STRING_SPACED);
	*out = strdup(text);
	json_object_put(doc);
	if (*out == NULL)
		return crix_err_make(err, ENOMEM, "format spec");
	return 0;
}
