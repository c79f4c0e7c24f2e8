#include "crix_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crix_cleanup.h"

/* Paths longer than the buffer are cut: they only label error messages. */
const char *crix_json_path_key(char *buf, const char *path, const char *key)
{
	int n;
	if (path == NULL || path[0] == '\0')
		n = snprintf(buf, CRIX_JSON_PATH_MAX, "%s", key);
	else
		n = snprintf(buf, CRIX_JSON_PATH_MAX, "%s.%s", path, key);
	return n < 0 ? "" : buf;
}

const char *crix_json_path_index(char *buf, const char *path, size_t i)
{
	int n = snprintf(buf, CRIX_JSON_PATH_MAX, "%s[%zu]", path ? path : "", i);
	return n < 0 ? "" : buf;
}

static int type_error(struct crix_err **err, const char *path, const char *key, const char *what)
{
	char p[CRIX_JSON_PATH_MAX];
	return crix_err_make(err, EINVAL, "%s: expected %s", crix_json_path_key(p, path, key), what);
}

/* The value under key: 1 found (and not null), 0 absent or JSON null. */
static int lookup(struct json_object *obj, const char *key, struct json_object **val)
{
	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		return 0;
	if (!json_object_object_get_ex(obj, key, val) || *val == NULL)
		return 0;
	return 1;
}

int crix_json_object(struct json_object *obj, const char *path, const char *key,
		    struct json_object **out, struct crix_err **err)
{
	struct json_object *v;
	if (!lookup(obj, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return type_error(err, path, key, "object");
	*out = v;
	return 1;
}

int crix_json_array(struct json_object *obj, const char *path, const char *key,
		   struct json_object **out, struct crix_err **err)
{
	struct json_object *v;
	if (!lookup(obj, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_array))
		return type_error(err, path, key, "array");
	*out = v;
	return 1;
}

int crix_json_string(struct json_object *obj, const char *path, const char *key, char **out,
		    struct crix_err **err)
{
	struct json_object *v;
	if (!lookup(obj, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return type_error(err, path, key, "string");
	char *s = strdup(json_object_get_string(v));
	if (s == NULL)
		return crix_err_make(err, ENOMEM, "copy %s", key);
	free(*out);
	*out = s;
	return 1;
}

int crix_json_bool(struct json_object *obj, const char *path, const char *key, bool *out,
		  struct crix_err **err)
{
	struct json_object *v;
	if (!lookup(obj, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return type_error(err, path, key, "boolean");
	*out = json_object_get_boolean(v);
	return 1;
}

int crix_json_int64(struct json_object *obj, const char *path, const char *key, int64_t *out,
		   struct crix_err **err)
{
	struct json_object *v;
	if (!lookup(obj, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return type_error(err, path, key, "integer");
	int64_t i = json_object_get_int64(v);
	if (i == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
		return type_error(err, path, key, "integer in the signed 64-bit range");
	*out = i;
	return 1;
}

int crix_json_uint64(struct json_object *obj, const char *path, const char *key, uint64_t *out,
		    struct crix_err **err)
{
	struct json_object *v;
	if (!lookup(obj, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return type_error(err, path, key, "integer");
	if (json_object_get_int64(v) < 0)
		return type_error(err, path, key, "non-negative integer");
	*out = json_object_get_uint64(v);
	return 1;
}

int crix_json_uint32(struct json_object *obj, const char *path, const char *key, uint32_t *out,
		    struct crix_err **err)
{
	uint64_t u = 0;
	int r = crix_json_uint64(obj, path, key, &u, err);
	if (r <= 0)
		return r;
	if (u > UINT32_MAX)
		return type_error(err, path, key, "unsigned 32-bit integer");
	*out = (uint32_t)u;
	return 1;
}

int crix_json_int32(struct json_object *obj, const char *path, const char *key, int32_t *out,
		   struct crix_err **err)
{
	int64_t i = 0;
	int r = crix_json_int64(obj, path, key, &i, err);
	if (r <= 0)
		return r;
	if (i < INT32_MIN || i > INT32_MAX)
		return type_error(err, path, key, "32-bit integer");
	*out = (int32_t)i;
	return 1;
}

int crix_json_strv(struct json_object *obj, const char *path, const char *key, char ***out,
		  struct crix_err **err)
{
	struct json_object *arr = NULL;
	int r = crix_json_array(obj, path, key, &arr, err);
	if (r <= 0)
		return r;
	size_t n = json_object_array_length(arr);
	_cleanup_strv_ char **v = calloc(n + 1, sizeof(char *));
	if (v == NULL)
		return crix_err_make(err, ENOMEM, "allocate %s", key);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);
		if (e == NULL || !json_object_is_type(e, json_type_string)) {
			char p[CRIX_JSON_PATH_MAX], q[CRIX_JSON_PATH_MAX];
			return crix_err_make(err, EINVAL, "%s: expected string",
					     crix_json_path_index(q, crix_json_path_key(p, path, key), i));
		}
		v[i] = strdup(json_object_get_string(e));
		if (v[i] == NULL)
			return crix_err_make(err, ENOMEM, "allocate %s", key);
	}
	crix_strvfreep(out);
	*out = steal_ptr(v);
	return 1;
}

struct json_object *crix_json_new_strv(char *const *v)
{
	struct json_object *arr = json_object_new_array();
	for (; arr != NULL && v != NULL && *v != NULL; v++) {
		struct json_object *e = json_object_new_string(*v);
		if (e == NULL || json_object_array_add(arr, e) < 0) {
			json_object_put(e);
			json_object_put(arr);
			return NULL;
		}
	}
	return arr;
}

struct json_object *crix_json_take_object(struct json_object *base, const char *key)
{
	struct json_object *v = NULL;
	if (base != NULL && json_object_object_get_ex(base, key, &v) && v != NULL &&
	    json_object_is_type(v, json_type_object)) {
		json_object_get(v);
		json_object_object_del(base, key);
		return v;
	}
	return json_object_new_object();
}

struct json_object *crix_json_element_base(struct json_object *base_array, size_t n, size_t i)
{
	if (base_array != NULL && json_object_is_type(base_array, json_type_array) &&
	    json_object_array_length(base_array) == n) {
		struct json_object *e = json_object_array_get_idx(base_array, i);
		if (e != NULL && json_object_is_type(e, json_type_object)) {
			/* NULL when the copy fails: a new object would silently lose the unknown fields. */
			struct json_object *copy = NULL;
			return json_object_deep_copy(e, &copy, NULL) == 0 ? copy : NULL;
		}
	}
	return json_object_new_object();
}
