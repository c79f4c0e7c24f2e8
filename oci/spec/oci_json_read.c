#include "oci_json_read.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "crix_cleanup.h"

static const char *type_name(enum json_type type)
{
	switch (type) {
	case json_type_object:
		return "object";
	case json_type_array:
		return "array";
	case json_type_string:
		return "string";
	case json_type_int:
		return "integer";
	case json_type_boolean:
		return "boolean";
	case json_type_double:
		return "number";
	default:
		return "null";
	}
}

/* "path.key", or "key" at the top. */
static int type_error(const char *path, const char *key, const char *expected, struct crix_err **err)
{
	if (key == NULL)
		return crix_err_make(err, EINVAL, "%s: expected %s", path, expected);
	if (path == NULL || path[0] == '\0')
		return crix_err_make(err, EINVAL, "%s: expected %s", key, expected);
	return crix_err_make(err, EINVAL, "%s.%s: expected %s", path, key, expected);
}

int oci_json_expect_object(struct json_object *obj, const char *path, struct crix_err **err)
{
	if (!json_object_is_type(obj, json_type_object))
		return type_error(path, NULL, "object", err);
	return 0;
}

int oci_json_expect_array(struct json_object *obj, const char *path, struct crix_err **err)
{
	if (!json_object_is_type(obj, json_type_array))
		return type_error(path, NULL, "array", err);
	return 0;
}

int oci_json_get_typed(struct json_object *obj, const char *path, const char *key,
		       enum json_type type, struct json_object **out, struct crix_err **err)
{
	struct json_object *val = NULL;

	*out = NULL;
	if (!json_object_object_get_ex(obj, key, &val) || val == NULL)
		return 0;
	if (!json_object_is_type(val, type))
		return type_error(path, key, type_name(type), err);
	*out = val;
	return 0;
}

int oci_json_get_int64(struct json_object *obj, const char *path, const char *key, bool *present,
		       int64_t *out, struct crix_err **err)
{
	struct json_object *val;

	*present = false;
	if (oci_json_get_typed(obj, path, key, json_type_int, &val, err) < 0)
		return -1;
	if (val == NULL)
		return 0;
	/* json-c keeps integers above INT64_MAX as uint64; get_int64 would clamp them. */
	int64_t v = json_object_get_int64(val);
	if (v == INT64_MAX && json_object_get_uint64(val) > (uint64_t)INT64_MAX)
		return type_error(path, key, "integer within int64 range", err);
	*out = v;
	*present = true;
	return 0;
}

int oci_json_get_uint(struct json_object *obj, const char *path, const char *key, uint64_t max,
		      bool *present, uint64_t *out, struct crix_err **err)
{
	struct json_object *val;

	*present = false;
	if (oci_json_get_typed(obj, path, key, json_type_int, &val, err) < 0)
		return -1;
	if (val == NULL)
		return 0;
	if (json_object_get_int64(val) < 0 || json_object_get_uint64(val) > max) {
		char expected[64];
		snprintf(expected, sizeof(expected), "integer in [0, %" PRIu64 "]", max);
		return type_error(path, key, expected, err);
	}
	*out = json_object_get_uint64(val);
	*present = true;
	return 0;
}

int oci_json_get_bool(struct json_object *obj, const char *path, const char *key, bool *present,
		      bool *out, struct crix_err **err)
{
	struct json_object *val;

	*present = false;
	if (oci_json_get_typed(obj, path, key, json_type_boolean, &val, err) < 0)
		return -1;
	if (val == NULL)
		return 0;
	*out = json_object_get_boolean(val);
	*present = true;
	return 0;
}

int oci_json_get_string(struct json_object *obj, const char *path, const char *key, char **out,
			struct crix_err **err)
{
	struct json_object *val;

	*out = NULL;
	if (oci_json_get_typed(obj, path, key, json_type_string, &val, err) < 0)
		return -1;
	if (val == NULL)
		return 0;
	*out = strdup(json_object_get_string(val));
	if (*out == NULL)
		return crix_err_make(err, ENOMEM, "%s.%s", path, key);
	return 0;
}

int oci_json_get_strv(struct json_object *obj, const char *path, const char *key, char ***out,
		      size_t *n_out, struct crix_err **err)
{
	struct json_object *arr;

	*out = NULL;
	*n_out = 0;
	if (oci_json_get_typed(obj, path, key, json_type_array, &arr, err) < 0)
		return -1;
	if (arr == NULL)
		return 0;
	size_t n = json_object_array_length(arr);
	_cleanup_strv_ char **v = calloc(n + 1, sizeof(*v));
	if (v == NULL)
		return crix_err_make(err, ENOMEM, "%s.%s", path, key);
	for (size_t i = 0; i < n; i++) {
		struct json_object *item = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(item, json_type_string))
			return crix_err_make(err, EINVAL, "%s.%s[%zu]: expected string", path, key, i);
		v[i] = strdup(json_object_get_string(item));
		if (v[i] == NULL)
			return crix_err_make(err, ENOMEM, "%s.%s", path, key);
	}
	*out = steal_ptr(v);
	*n_out = n;
	return 0;
}

int oci_json_keep_unknown(struct json_object *obj, const char *const *known,
			  struct json_object **unknown, struct crix_err **err)
{
	json_object_object_foreach(obj, key, val)
	{
		bool is_known = false;
		for (const char *const *k = known; *k != NULL && !is_known; k++)
			is_known = strcmp(*k, key) == 0;
		if (is_known)
			continue;
		if (*unknown == NULL && (*unknown = json_object_new_object()) == NULL)
			return crix_err_make(err, ENOMEM, "keep unknown key %s", key);
		if (json_object_object_add(*unknown, key, json_object_get(val)) < 0)
			return crix_err_make(err, ENOMEM, "keep unknown key %s", key);
	}
	return 0;
}

int oci_json_add_unknown(struct json_object *out, struct json_object *unknown, struct crix_err **err)
{
	if (unknown == NULL)
		return 0;
	json_object_object_foreach(unknown, key, val)
	{
		struct json_object *copy = NULL;
		if (json_object_deep_copy(val, &copy, NULL) < 0)
			return crix_err_make(err, ENOMEM, "copy unknown key %s", key);
		if (oci_json_add(out, key, copy, err) < 0)
			return -1;
	}
	return 0;
}

int oci_json_add(struct json_object *obj, const char *key, struct json_object *val,
		 struct crix_err **err)
{
	if (val == NULL)
		return crix_err_make(err, ENOMEM, "emit %s", key);
	if (json_object_object_add(obj, key, val) < 0) {
		json_object_put(val);
		return crix_err_make(err, ENOMEM, "emit %s", key);
	}
	return 0;
}
