#include "json_fail.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

/* When armed (fail_at >= 0), the call numbered fail_at fails; calls counts them. */
static long fail_at = -1, calls;

static bool inject_failure(void)
{
	return fail_at >= 0 && calls++ == fail_at;
}

#define WRAP_NEW(name, type)                                                                       \
	struct json_object *__real_##name(type v);                                                 \
	struct json_object *__wrap_##name(type v);                                                 \
	struct json_object *__wrap_##name(type v)                                                  \
	{                                                                                          \
		return inject_failure() ? NULL : __real_##name(v);                                 \
	}
WRAP_NEW(json_object_new_string, const char *)
WRAP_NEW(json_object_new_int64, int64_t)
WRAP_NEW(json_object_new_uint64, uint64_t)
WRAP_NEW(json_object_new_boolean, json_bool)

struct json_object *__real_json_object_new_object(void);
struct json_object *__wrap_json_object_new_object(void);
struct json_object *__wrap_json_object_new_object(void)
{
	return inject_failure() ? NULL : __real_json_object_new_object();
}

struct json_object *__real_json_object_new_array(void);
struct json_object *__wrap_json_object_new_array(void);
struct json_object *__wrap_json_object_new_array(void)
{
	return inject_failure() ? NULL : __real_json_object_new_array();
}

int __real_json_object_array_add(struct json_object *arr, struct json_object *val);
int __wrap_json_object_array_add(struct json_object *arr, struct json_object *val);
int __wrap_json_object_array_add(struct json_object *arr, struct json_object *val)
{
	return inject_failure() ? -1 : __real_json_object_array_add(arr, val);
}

int __real_json_object_object_add(struct json_object *o, const char *key, struct json_object *val);
int __wrap_json_object_object_add(struct json_object *o, const char *key, struct json_object *val);
int __wrap_json_object_object_add(struct json_object *o, const char *key, struct json_object *val)
{
	return inject_failure() ? -1 : __real_json_object_object_add(o, key, val);
}

int __real_json_object_deep_copy(struct json_object *src, struct json_object **dst,
				 json_c_shallow_copy_fn *copy);
int __wrap_json_object_deep_copy(struct json_object *src, struct json_object **dst,
				 json_c_shallow_copy_fn *copy);
int __wrap_json_object_deep_copy(struct json_object *src, struct json_object **dst,
				 json_c_shallow_copy_fn *copy)
{
	return inject_failure() ? -1 : __real_json_object_deep_copy(src, dst, copy);
}

const char *__real_json_object_to_json_string_ext(struct json_object *o, int flags);
const char *__wrap_json_object_to_json_string_ext(struct json_object *o, int flags);
const char *__wrap_json_object_to_json_string_ext(struct json_object *o, int flags)
{
	return inject_failure() ? NULL : __real_json_object_to_json_string_ext(o, flags);
}

long json_fail_each(const char *what, json_fail_op op, void *arg)
{
	struct crix_err *err = NULL;
	fail_at = LONG_MAX;
	calls = 0;
	int r = op(arg, &err);
	fail_at = -1;
	long total = calls;
	if (r < 0) {
		fprintf(stderr, "%s failed with no failure injected: %s\n", what, crix_err_msg(err));
		crix_err_free(&err);
		return -1;
	}
	bool all = true;
	for (long n = 0; n < total; n++) {
		fail_at = n;
		calls = 0;
		r = op(arg, &err);
		fail_at = -1;
		if (r == 0 || err == NULL || err->errnum != ENOMEM) {
			fprintf(stderr, "%s: allocation %ld of %ld failed %s\n", what, n, total,
				r == 0 ? "unnoticed" : crix_err_msg(err));
			all = false;
		}
		crix_err_free(&err);
	}
	return all ? total : -1;
}
