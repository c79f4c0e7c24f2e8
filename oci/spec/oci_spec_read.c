/* config.json into the spec model: every field type-checked, errors naming the JSON path. */
#include "oci_spec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_json.h"
#include "oci_resources.h"
#include "oci_seccomp.h"

#define SPEC_MAX_BYTES (64u << 20)

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
			if (parse_list(o, "hooks", oci_hook_kind_name(k), sizeof(struct oci_hook), parse_hook,
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
