#include "oci_seccomp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crix_cleanup.h"
#include "crix_json.h"
#include "crix_json_read.h"
#include "crix_strv.h"
#include "oci_emit.h"

static const char *const action_names[] = {
	[OCI_SECCOMP_ACT_KILL] = "SCMP_ACT_KILL",
	[OCI_SECCOMP_ACT_KILL_PROCESS] = "SCMP_ACT_KILL_PROCESS",
	[OCI_SECCOMP_ACT_KILL_THREAD] = "SCMP_ACT_KILL_THREAD",
	[OCI_SECCOMP_ACT_TRAP] = "SCMP_ACT_TRAP",
	[OCI_SECCOMP_ACT_ERRNO] = "SCMP_ACT_ERRNO",
	[OCI_SECCOMP_ACT_TRACE] = "SCMP_ACT_TRACE",
	[OCI_SECCOMP_ACT_ALLOW] = "SCMP_ACT_ALLOW",
	[OCI_SECCOMP_ACT_LOG] = "SCMP_ACT_LOG",
	[OCI_SECCOMP_ACT_NOTIFY] = "SCMP_ACT_NOTIFY",
};

static const char *const op_names[] = {
	[OCI_SECCOMP_OP_NE] = "SCMP_CMP_NE", [OCI_SECCOMP_OP_LT] = "SCMP_CMP_LT",
	[OCI_SECCOMP_OP_LE] = "SCMP_CMP_LE", [OCI_SECCOMP_OP_EQ] = "SCMP_CMP_EQ",
	[OCI_SECCOMP_OP_GE] = "SCMP_CMP_GE", [OCI_SECCOMP_OP_GT] = "SCMP_CMP_GT",
	[OCI_SECCOMP_OP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
};

static int lookup(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

int oci_seccomp_action_parse(const char *name)
{
	return lookup(action_names, sizeof(action_names) / sizeof(*action_names), name);
}

const char *oci_seccomp_action_name(enum oci_seccomp_action action)
{
	return action_names[action];
}

int oci_seccomp_op_parse(const char *name)
{
	return lookup(op_names, sizeof(op_names) / sizeof(*op_names), name);
}

const char *oci_seccomp_op_name(enum oci_seccomp_op op)
{
	return op_names[op];
}

/* Reads a required action string at path.key. */
static int get_action(struct json_object *obj, const char *path, const char *key,
		      enum oci_seccomp_action *out, struct crix_err **err)
{
	_cleanup_free_ char *name = NULL;
	if (crix_json_string(obj, path, key, &name, err) < 0)
		return -1;
	if (name == NULL)
		return crix_err_make(err, EINVAL, "%s.%s: required", path, key);
	int action = oci_seccomp_action_parse(name);
	if (action < 0)
		return crix_err_make(err, EINVAL, "%s.%s: unknown action \"%s\"", path, key, name);
	*out = (enum oci_seccomp_action)action;
	return 0;
}

static int parse_arg(struct json_object *item, const char *ipath, struct oci_seccomp_arg *a,
		     struct crix_err **err)
{
	int has_index = 0, has_value_two = 0;
	uint64_t index = 0;
	_cleanup_free_ char *op = NULL;

	if (crix_json_expect_object(item, ipath, err) < 0 ||
	    (has_index = crix_json_uint_max(item, ipath, "index", 5, &index, err)) < 0 ||
	    crix_json_uint64(item, ipath, "value", &a->value, err) < 0 ||
	    (has_value_two = crix_json_uint64(item, ipath, "valueTwo", &a->value_two, err)) < 0 ||
	    crix_json_string(item, ipath, "op", &op, err) < 0)
		return -1;
	a->has_value_two = has_value_two > 0;
	if (!has_index || op == NULL)
		return crix_err_make(err, EINVAL, "%s: index and op are required", ipath);
	int parsed = oci_seccomp_op_parse(op);
	if (parsed < 0)
		return crix_err_make(err, EINVAL, "%s.op: unknown operator \"%s\"", ipath, op);
	a->index = (unsigned int)index;
	a->op = (enum oci_seccomp_op)parsed;
	return 0;
}

static int parse_syscall(struct json_object *item, const char *ipath, struct oci_seccomp_syscall *sc,
			 struct crix_err **err)
{
	struct json_object *args = NULL;
	int has_errno_ret = 0;

	if (crix_json_expect_object(item, ipath, err) < 0 ||
	    crix_json_strv(item, ipath, "names", &sc->names, err) < 0 ||
	    get_action(item, ipath, "action", &sc->action, err) < 0 ||
	    (has_errno_ret = crix_json_uint32(item, ipath, "errnoRet", &sc->errno_ret, err)) < 0 ||
	    crix_json_array(item, ipath, "args", &args, err) < 0)
		return -1;
	if (sc->names == NULL)
		return crix_err_make(err, EINVAL, "%s.names: required", ipath);
	sc->n_names = crix_strv_len(sc->names);
	sc->has_errno_ret = has_errno_ret > 0;
	size_t n = args != NULL ? json_object_array_length(args) : 0;
	if (n == 0)
		return 0;
	if ((sc->args = calloc(n, sizeof(*sc->args))) == NULL)
		return crix_err_make(err, ENOMEM, "%s.args", ipath);
	sc->n_args = n;
	for (size_t i = 0; i < n; i++) {
		char kp[CRIX_JSON_PATH_MAX], apath[CRIX_JSON_PATH_MAX];
		crix_json_path_index(apath, crix_json_path_key(kp, ipath, "args"), i);
		if (parse_arg(json_object_array_get_idx(args, i), apath, &sc->args[i], err) < 0)
			return -1;
	}
	return 0;
}

static const char *const known_keys[] = {"defaultAction", "defaultErrnoRet", "architectures",
					 "flags", "listenerPath", "listenerMetadata",
					 "syscalls", NULL};

static int parse(struct json_object *obj, const char *path, struct oci_seccomp *s,
		 struct crix_err **err)
{
	struct json_object *syscalls = NULL;
	int has_errno_ret = 0;

	if (get_action(obj, path, "defaultAction", &s->default_action, err) < 0 ||
	    (has_errno_ret = crix_json_uint32(obj, path, "defaultErrnoRet", &s->default_errno_ret,
					     err)) < 0 ||
	    crix_json_strv(obj, path, "architectures", &s->architectures, err) < 0 ||
	    crix_json_strv(obj, path, "flags", &s->flags, err) < 0 ||
	    crix_json_string(obj, path, "listenerPath", &s->listener_path, err) < 0 ||
	    crix_json_string(obj, path, "listenerMetadata", &s->listener_metadata, err) < 0 ||
	    crix_json_array(obj, path, "syscalls", &syscalls, err) < 0 ||
	    crix_json_keep_unknown(obj, known_keys, &s->unknown, err) < 0)
		return -1;
	s->has_default_errno_ret = has_errno_ret > 0;
	s->n_architectures = crix_strv_len(s->architectures);
	s->n_flags = crix_strv_len(s->flags);
	size_t n = syscalls != NULL ? json_object_array_length(syscalls) : 0;
	if (n == 0)
		return 0;
	if ((s->syscalls = calloc(n, sizeof(*s->syscalls))) == NULL)
		return crix_err_make(err, ENOMEM, "%s.syscalls", path);
	s->n_syscalls = n;
	for (size_t i = 0; i < n; i++) {
		char kp[CRIX_JSON_PATH_MAX], ipath[CRIX_JSON_PATH_MAX];
		crix_json_path_index(ipath, crix_json_path_key(kp, path, "syscalls"), i);
		if (parse_syscall(json_object_array_get_idx(syscalls, i), ipath, &s->syscalls[i], err) < 0)
			return -1;
	}
	return 0;
}

int oci_seccomp_from_json(struct json_object *obj, const char *json_path, struct oci_seccomp **out,
			  struct crix_err **err)
{
	const char *path = json_path != NULL ? json_path : "linux.seccomp";

	*out = NULL;
	if (crix_json_expect_object(obj, path, err) < 0)
		return -1;
	struct oci_seccomp *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return crix_err_make(err, ENOMEM, "%s", path);
	if (parse(obj, path, s, err) < 0) {
		oci_seccomp_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

static int emit_syscall(const struct oci_seccomp_syscall *sc, struct json_object *item,
			struct crix_err **err)
{
	if (oci_emit_strv(item, "names", sc->names, err) < 0 ||
	    crix_json_add(item, "action", json_object_new_string(action_names[sc->action]), err) < 0)
		return -1;
	if (sc->has_errno_ret &&
	    crix_json_add(item, "errnoRet", json_object_new_uint64(sc->errno_ret), err) < 0)
		return -1;
	if (sc->args == NULL)
		return 0;
	struct json_object *args;
	if (oci_emit_container(item, "args", true, &args, err) < 0)
		return -1;
	for (size_t i = 0; i < sc->n_args; i++) {
		const struct oci_seccomp_arg *a = &sc->args[i];
		struct json_object *ao = json_object_new_object();
		if (oci_emit_append(args, ao, err) < 0)
			return -1;
		if (crix_json_add(ao, "index", json_object_new_uint64(a->index), err) < 0 ||
		    crix_json_add(ao, "value", json_object_new_uint64(a->value), err) < 0 ||
		    (a->has_value_two &&
		     crix_json_add(ao, "valueTwo", json_object_new_uint64(a->value_two), err) < 0) ||
		    crix_json_add(ao, "op", json_object_new_string(op_names[a->op]), err) < 0)
			return -1;
	}
	return 0;
}

static int emit(const struct oci_seccomp *s, struct json_object *o, struct crix_err **err)
{
	if (crix_json_add(o, "defaultAction", json_object_new_string(action_names[s->default_action]),
			 err) < 0)
		return -1;
	if (s->has_default_errno_ret &&
	    crix_json_add(o, "defaultErrnoRet", json_object_new_uint64(s->default_errno_ret), err) < 0)
		return -1;
	if (oci_emit_strv(o, "architectures", s->architectures, err) < 0 ||
	    oci_emit_strv(o, "flags", s->flags, err) < 0)
		return -1;
	if (s->listener_path != NULL &&
	    crix_json_add(o, "listenerPath", json_object_new_string(s->listener_path), err) < 0)
		return -1;
	if (s->listener_metadata != NULL &&
	    crix_json_add(o, "listenerMetadata", json_object_new_string(s->listener_metadata), err) < 0)
		return -1;
	if (s->syscalls != NULL) {
		struct json_object *arr;
		if (oci_emit_container(o, "syscalls", true, &arr, err) < 0)
			return -1;
		for (size_t i = 0; i < s->n_syscalls; i++) {
			struct json_object *item = json_object_new_object();
			if (oci_emit_append(arr, item, err) < 0 ||
			    emit_syscall(&s->syscalls[i], item, err) < 0)
				return -1;
		}
	}
	return crix_json_add_unknown(o, s->unknown, err);
}

int oci_seccomp_to_json(const struct oci_seccomp *s, struct json_object **out,
			struct crix_err **err)
{
	struct json_object *o = json_object_new_object();

	*out = NULL;
	if (o == NULL)
		return crix_err_make(err, ENOMEM, "emit linux.seccomp");
	if (emit(s, o, err) < 0) {
		json_object_put(o);
		return crix_err_wrap(err, "emit linux.seccomp");
	}
	*out = o;
	return 0;
}

void oci_seccomp_free(struct oci_seccomp *s)
{
	if (s == NULL)
		return;
	crix_strvfreep(&s->architectures);
	crix_strvfreep(&s->flags);
	free(s->listener_path);
	free(s->listener_metadata);
	for (size_t i = 0; i < s->n_syscalls; i++) {
		crix_strvfreep(&s->syscalls[i].names);
		free(s->syscalls[i].args);
	}
	free(s->syscalls);
	json_object_put(s->unknown);
	free(s);
}
