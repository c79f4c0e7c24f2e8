/* The spec model into config.json: the known fields from the structs over a copy of the parsed
 * document, so that fields the model does not know are written back unchanged. Every
 * allocation is checked: a failure is an ENOMEM error, never a document with holes. */
#include "oci_spec.h"

#include <errno.h>
#include <string.h>

#include "crix_json.h"
#include "crix_json_read.h"
#include "oci_emit.h"
#include "oci_resources.h"
#include "oci_seccomp.h"

/* The object under key (its unknown fields kept, or a new one) put back under key, in *child
 * to be filled in. */
static int reopen_object(struct json_object *o, const char *key, struct json_object **child,
			 struct crix_err **err)
{
	*child = crix_json_take_object(o, key);
	return crix_json_add(o, key, *child, err);
}

/* Emits one element of a list onto e. */
typedef int (*emit_elem_fn)(const void *elem, struct json_object *e, struct crix_err **err);

/* The array under key from n items of elem_size (absent when items is NULL). Each element is
 * emitted over the old one while the list keeps its length, so that its unknown fields stay. */
static int emit_list(struct json_object *o, const char *key, const void *items, size_t elem_size,
		     size_t n, emit_elem_fn emit_one, struct crix_err **err)
{
	if (items == NULL) {
		json_object_object_del(o, key);
		return 0;
	}
	struct json_object *old = NULL;
	if (!json_object_object_get_ex(o, key, &old) || !json_object_is_type(old, json_type_array))
		old = NULL;
	struct json_object *arr = json_object_new_array();
	if (arr == NULL)
		return crix_err_make(err, ENOMEM, "emit %s", key);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = crix_json_element_base(old, n, i);
		if (oci_emit_append(arr, e, err) < 0 ||
		    emit_one((const char *)items + i * elem_size, e, err) < 0) {
			json_object_put(arr);
			return crix_err_wrap(err, "emit %s", key);
		}
	}
	return crix_json_add(o, key, arr, err);
}

/* An insertion-ordered string map as an object (absent when kv is NULL). */
static int emit_kv(struct json_object *o, const char *key, const struct oci_kv *kv, size_t n,
		   struct crix_err **err)
{
	struct json_object *map;
	if (kv == NULL) {
		json_object_object_del(o, key);
		return 0;
	}
	if (oci_emit_container(o, key, false, &map, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (oci_emit_string(map, kv[i].key, kv[i].value, err) < 0)
			return -1;
	return 0;
}

static int emit_user(const struct oci_user *u, struct json_object *o, struct crix_err **err)
{
	struct json_object *uo, *gids;
	if (reopen_object(o, "user", &uo, err) < 0 || oci_emit_int(uo, "uid", true, u->uid, err) < 0 ||
	    oci_emit_int(uo, "gid", true, u->gid, err) < 0 ||
	    oci_emit_int(uo, "umask", u->has_umask, u->umask, err) < 0 ||
	    oci_emit_string(uo, "username", u->username, err) < 0)
		return -1;
	if (u->additional_gids == NULL) {
		json_object_object_del(uo, "additionalGids");
		return 0;
	}
	if (oci_emit_container(uo, "additionalGids", true, &gids, err) < 0)
		return -1;
	for (size_t i = 0; i < u->n_additional_gids; i++)
		if (oci_emit_append(gids, json_object_new_int64(u->additional_gids[i]), err) < 0)
			return -1;
	return 0;
}

static int emit_rlimit(const void *elem, struct json_object *e, struct crix_err **err)
{
	const struct oci_rlimit *rl = elem;
	if (oci_emit_string(e, "type", rl->type, err) < 0 ||
	    oci_emit_uint(e, "hard", true, rl->hard, err) < 0 ||
	    oci_emit_uint(e, "soft", true, rl->soft, err) < 0)
		return -1;
	return 0;
}

static int emit_capabilities(const struct oci_capabilities *c, struct json_object *o,
			     struct crix_err **err)
{
	struct json_object *co;
	if (c == NULL) {
		json_object_object_del(o, "capabilities");
		return 0;
	}
	if (reopen_object(o, "capabilities", &co, err) < 0 ||
	    oci_emit_strv(co, "bounding", c->bounding, err) < 0 ||
	    oci_emit_strv(co, "effective", c->effective, err) < 0 ||
	    oci_emit_strv(co, "inheritable", c->inheritable, err) < 0 ||
	    oci_emit_strv(co, "permitted", c->permitted, err) < 0 ||
	    oci_emit_strv(co, "ambient", c->ambient, err) < 0)
		return -1;
	return 0;
}

static int emit_process(const struct oci_process *p, struct json_object *o, struct crix_err **err)
{
	struct json_object *cs;
	if (oci_emit_bool(o, "terminal", true, p->terminal, err) < 0)
		return -1;
	if (!p->has_console_size)
		json_object_object_del(o, "consoleSize");
	else if (reopen_object(o, "consoleSize", &cs, err) < 0 ||
		 oci_emit_int(cs, "height", true, p->console_height, err) < 0 ||
		 oci_emit_int(cs, "width", true, p->console_width, err) < 0)
		return -1;
	if (emit_user(&p->user, o, err) < 0 || oci_emit_strv(o, "args", p->args, err) < 0 ||
	    oci_emit_string(o, "commandLine", p->command_line, err) < 0 ||
	    oci_emit_strv(o, "env", p->env, err) < 0 || oci_emit_string(o, "cwd", p->cwd, err) < 0 ||
	    emit_capabilities(p->capabilities, o, err) < 0 ||
	    emit_list(o, "rlimits", p->rlimits, sizeof(*p->rlimits), p->n_rlimits, emit_rlimit, err) < 0 ||
	    oci_emit_bool(o, "noNewPrivileges", p->no_new_privileges, true, err) < 0 ||
	    oci_emit_int(o, "oomScoreAdj", p->has_oom_score_adj, p->oom_score_adj, err) < 0 ||
	    oci_emit_string(o, "apparmorProfile", p->apparmor_profile, err) < 0 ||
	    oci_emit_string(o, "selinuxLabel", p->selinux_label, err) < 0)
		return -1;
	return 0;
}

/* A new object, or a copy of raw (when an object) to emit over. */
static int emit_base(struct json_object *raw, const char *what, struct json_object **out,
		     struct crix_err **err)
{
	*out = NULL;
	if (raw != NULL && json_object_is_type(raw, json_type_object)) {
		if (json_object_deep_copy(raw, out, NULL) != 0)
			return crix_err_make(err, ENOMEM, "copy %s", what);
	} else if ((*out = json_object_new_object()) == NULL) {
		return crix_err_make(err, ENOMEM, "emit %s", what);
	}
	return 0;
}

int oci_process_to_json(const struct oci_process *p, struct json_object **out, struct crix_err **err)
{
	struct json_object *o;
	if (emit_base(p->raw, "process", &o, err) < 0)
		return -1;
	if (emit_process(p, o, err) < 0) {
		json_object_put(o);
		return crix_err_wrap(err, "emit process");
	}
	*out = o;
	return 0;
}

static int emit_hook(const void *elem, struct json_object *e, struct crix_err **err)
{
	const struct oci_hook *h = elem;
	if (oci_emit_string(e, "path", h->path, err) < 0 ||
	    oci_emit_strv(e, "args", h->args, err) < 0 || oci_emit_strv(e, "env", h->env, err) < 0 ||
	    oci_emit_int(e, "timeout", h->has_timeout, h->timeout, err) < 0)
		return -1;
	return 0;
}

static int emit_namespace(const void *elem, struct json_object *e, struct crix_err **err)
{
	const struct oci_namespace *ns = elem;
	if (oci_emit_string(e, "type", oci_ns_type_name(ns->type), err) < 0 ||
	    oci_emit_string(e, "path", ns->path, err) < 0)
		return -1;
	return 0;
}

static int emit_id_mapping(const void *elem, struct json_object *e, struct crix_err **err)
{
	const struct oci_id_mapping *m = elem;
	if (oci_emit_int(e, "containerID", true, m->container_id, err) < 0 ||
	    oci_emit_int(e, "hostID", true, m->host_id, err) < 0 ||
	    oci_emit_int(e, "size", true, m->size, err) < 0)
		return -1;
	return 0;
}

static int emit_device(const void *elem, struct json_object *e, struct crix_err **err)
{
	const struct oci_device *d = elem;
	char type[2] = {d->type, '\0'};
	if (oci_emit_string(e, "path", d->path, err) < 0 || oci_emit_string(e, "type", type, err) < 0 ||
	    oci_emit_int(e, "major", true, d->major, err) < 0 ||
	    oci_emit_int(e, "minor", true, d->minor, err) < 0 ||
	    oci_emit_int(e, "fileMode", d->has_file_mode, d->file_mode, err) < 0 ||
	    oci_emit_int(e, "uid", d->has_uid, d->uid, err) < 0 ||
	    oci_emit_int(e, "gid", d->has_gid, d->gid, err) < 0)
		return -1;
	return 0;
}

static int emit_time_offset(struct json_object *o, const char *key, const struct oci_time_offset *t,
			    struct crix_err **err)
{
	struct json_object *to;
	if (!t->set) {
		json_object_object_del(o, key);
		return 0;
	}
	if (oci_emit_container(o, key, false, &to, err) < 0 ||
	    oci_emit_int(to, "secs", true, t->secs, err) < 0 ||
	    oci_emit_int(to, "nanosecs", true, t->nanosecs, err) < 0)
		return -1;
	return 0;
}

/* linux.resources and linux.seccomp, emitted by their own parts of the model. */
static int emit_linux_parts(const struct oci_linux *l, struct json_object *o, struct crix_err **err)
{
	struct json_object *part = NULL;
	if (l->resources == NULL)
		json_object_object_del(o, "resources");
	else if (oci_resources_to_json(l->resources, &part, err) < 0 ||
		 crix_json_add(o, "resources", part, err) < 0)
		return -1;
	part = NULL;
	if (l->seccomp == NULL)
		json_object_object_del(o, "seccomp");
	else if (oci_seccomp_to_json(l->seccomp, &part, err) < 0 ||
		 crix_json_add(o, "seccomp", part, err) < 0)
		return -1;
	return 0;
}

static int emit_linux(const struct oci_linux *l, struct json_object *o, struct crix_err **err)
{
	struct json_object *sub;
	if (emit_list(o, "namespaces", l->namespaces, sizeof(*l->namespaces), l->n_namespaces,
		      emit_namespace, err) < 0 ||
	    emit_list(o, "uidMappings", l->uid_mappings, sizeof(*l->uid_mappings), l->n_uid_mappings,
		      emit_id_mapping, err) < 0 ||
	    emit_list(o, "gidMappings", l->gid_mappings, sizeof(*l->gid_mappings), l->n_gid_mappings,
		      emit_id_mapping, err) < 0 ||
	    emit_list(o, "devices", l->devices, sizeof(*l->devices), l->n_devices, emit_device, err) < 0 ||
	    oci_emit_string(o, "cgroupsPath", l->cgroups_path, err) < 0 ||
	    emit_linux_parts(l, o, err) < 0 || emit_kv(o, "sysctl", l->sysctl, l->n_sysctl, err) < 0 ||
	    oci_emit_strv(o, "maskedPaths", l->masked_paths, err) < 0 ||
	    oci_emit_strv(o, "readonlyPaths", l->readonly_paths, err) < 0 ||
	    oci_emit_string(o, "rootfsPropagation", l->rootfs_propagation, err) < 0 ||
	    oci_emit_string(o, "mountLabel", l->mount_label, err) < 0)
		return -1;
	if (!l->has_personality)
		json_object_object_del(o, "personality");
	else if (reopen_object(o, "personality", &sub, err) < 0 ||
		 oci_emit_string(sub, "domain", l->personality_domain, err) < 0)
		return -1;
	if (!l->time_monotonic.set && !l->time_boottime.set)
		json_object_object_del(o, "timeOffsets");
	else if (reopen_object(o, "timeOffsets", &sub, err) < 0 ||
		 emit_time_offset(sub, "monotonic", &l->time_monotonic, err) < 0 ||
		 emit_time_offset(sub, "boottime", &l->time_boottime, err) < 0)
		return -1;
	return 0;
}

static int emit_mount(const void *elem, struct json_object *e, struct crix_err **err)
{
	const struct oci_mount *m = elem;
	if (oci_emit_string(e, "destination", m->destination, err) < 0 ||
	    oci_emit_string(e, "type", m->type, err) < 0 ||
	    oci_emit_string(e, "source", m->source, err) < 0 ||
	    oci_emit_strv(e, "options", m->options, err) < 0)
		return -1;
	return 0;
}

static int emit_hooks(const struct oci_spec *s, struct json_object *doc, struct crix_err **err)
{
	struct json_object *o;
	if (!s->has_hooks) {
		json_object_object_del(doc, "hooks");
		return 0;
	}
	if (reopen_object(doc, "hooks", &o, err) < 0)
		return -1;
	for (int k = 0; k < OCI_HOOK_KINDS; k++)
		if (emit_list(o, oci_hook_kind_name(k), s->hooks[k].hooks, sizeof(struct oci_hook),
			      s->hooks[k].n, emit_hook, err) < 0)
			return -1;
	return 0;
}

static int emit_spec(const struct oci_spec *s, struct json_object *doc, struct crix_err **err)
{
	struct json_object *o;
	if (oci_emit_string(doc, "ociVersion", s->oci_version, err) < 0)
		return -1;
	if (s->process == NULL)
		json_object_object_del(doc, "process");
	else if (reopen_object(doc, "process", &o, err) < 0 || emit_process(s->process, o, err) < 0)
		return -1;
	if (s->root == NULL)
		json_object_object_del(doc, "root");
	else if (reopen_object(doc, "root", &o, err) < 0 ||
		 oci_emit_string(o, "path", s->root->path, err) < 0 ||
		 oci_emit_bool(o, "readonly", s->root->readonly, true, err) < 0)
		return -1;
	if (oci_emit_string(doc, "hostname", s->hostname, err) < 0 ||
	    oci_emit_string(doc, "domainname", s->domainname, err) < 0 ||
	    emit_list(doc, "mounts", s->mounts, sizeof(*s->mounts), s->n_mounts, emit_mount, err) < 0 ||
	    emit_hooks(s, doc, err) < 0 ||
	    emit_kv(doc, "annotations", s->annotations, s->n_annotations, err) < 0)
		return -1;
	if (s->linux == NULL)
		json_object_object_del(doc, "linux");
	else if (reopen_object(doc, "linux", &o, err) < 0 || emit_linux(s->linux, o, err) < 0)
		return -1;
	return 0;
}

int oci_spec_to_json(const struct oci_spec *s, struct json_object **out, struct crix_err **err)
{
	struct json_object *doc;
	if (emit_base(s->raw, "spec", &doc, err) < 0)
		return -1;
	if (emit_spec(s, doc, err) < 0) {
		json_object_put(doc);
		return -1;
	}
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
	*out = text != NULL ? strdup(text) : NULL;
	json_object_put(doc);
	if (*out == NULL)
		return crix_err_make(err, ENOMEM, "format spec");
	return 0;
}
