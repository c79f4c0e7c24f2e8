#include "crix_json_read.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "crix_cleanup.h"
#include "crix_json.h"

int crix_json_expect_object(struct json_object *obj, const char *path, struct crix_err **err)
{
	if (!json_object_is_type(obj, json_type_object))
		return crix_err_make(err, EINVAL, "%s: expected object", path);
	return 0;
}

int crix_json_expect_array(struct json_object *obj, const char *path, struct crix_err **err)
{
	if (!json_object_is_type(obj, json_type_array))
		return crix_err_make(err, EINVAL, "%s: expected array", path);
	return 0;
}

int crix_json_uint_max(struct json_object *obj, const char *path, const char *key, uint64_t max,
		      uint64_t *out, struct crix_err **err)
{
	uint64_t v = 0;
	int r = crix_json_uint64(obj, path, key, &v, err);
	if (r <= 0)
		return r;
	if (v > max) {
		char p[CRIX_JSON_PATH_MAX];
		return crix_err_make(err, EINVAL, "%s: expected integer in [0, %" PRIu64 "]",
				     crix_json_path_key(p, path, key), max);
	}
	*out = v;
	return 1;
}

int crix_json_keep_unknown(struct json_object *obj, const char *const *known,
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
		if (crix_json_add(*unknown, key, json_object_get(val), err) < 0)
			return crix_err_wrap(err, "keep unknown key");
	}
	return 0;
}

int crix_json_add_unknown(struct json_object *out, struct json_object *unknown, struct crix_err **err)
{
	if (unknown == NULL)
		return 0;
	json_object_object_foreach(unknown, key, val)
	{
		struct json_object *copy = NULL;
		if (json_object_deep_copy(val, &copy, NULL) < 0)
			return crix_err_make(err, ENOMEM, "copy unknown key %s", key);
		if (crix_json_add(out, key, copy, err) < 0)
			return -1;
	}
	return 0;
}

int crix_json_add(struct json_object *obj, const char *key, struct json_object *val,
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
