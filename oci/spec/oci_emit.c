#include "oci_emit.h"

#include <errno.h>

#include "crix_json_read.h"

static int put(struct json_object *o, const char *key, bool has, struct json_object *val,
	       struct crix_err **err)
{
	if (!has) {
		json_object_object_del(o, key);
		return 0;
	}
	return crix_json_add(o, key, val, err);
}

int oci_emit_int(struct json_object *o, const char *key, bool has, int64_t v, struct crix_err **err)
{
	return put(o, key, has, has ? json_object_new_int64(v) : NULL, err);
}

int oci_emit_uint(struct json_object *o, const char *key, bool has, uint64_t v,
		  struct crix_err **err)
{
	return put(o, key, has, has ? json_object_new_uint64(v) : NULL, err);
}

int oci_emit_bool(struct json_object *o, const char *key, bool has, bool v, struct crix_err **err)
{
	return put(o, key, has, has ? json_object_new_boolean(v) : NULL, err);
}

int oci_emit_string(struct json_object *o, const char *key, const char *v, struct crix_err **err)
{
	return put(o, key, v != NULL, v != NULL ? json_object_new_string(v) : NULL, err);
}

int oci_emit_strv(struct json_object *o, const char *key, char *const *v, struct crix_err **err)
{
	struct json_object *arr;
	if (v == NULL)
		return put(o, key, false, NULL, err);
	if (oci_emit_container(o, key, true, &arr, err) < 0)
		return -1;
	for (; *v != NULL; v++)
		if (oci_emit_append(arr, json_object_new_string(*v), err) < 0)
			return crix_err_wrap(err, "emit %s", key);
	return 0;
}

int oci_emit_container(struct json_object *o, const char *key, bool array,
		       struct json_object **child, struct crix_err **err)
{
	*child = array ? json_object_new_array() : json_object_new_object();
	return crix_json_add(o, key, *child, err);
}

int oci_emit_append(struct json_object *arr, struct json_object *item, struct crix_err **err)
{
	if (item == NULL || json_object_array_add(arr, item) < 0) {
		json_object_put(item);
		return crix_err_make(err, ENOMEM, "emit array item");
	}
	return 0;
}
