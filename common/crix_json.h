/* Typed access to json-c objects with errors naming the JSON path ("process.args[1]: expected
 * string"), shared by every component that reads JSON. A missing key is not an
 * error: the out value is left as it was and the getter returns 0. */
#ifndef CRIX_JSON_H
#define CRIX_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "crix_err.h"
#include "crix_json_read.h" /* crix_json_expect_object */

#define CRIX_JSON_PATH_MAX 512

/* path + ".key" (or "key" when path is empty) into buf. */
const char *crix_json_path_key(char *buf, const char *path, const char *key);
/* path + "[i]" into buf. */
const char *crix_json_path_index(char *buf, const char *path, size_t i);

/* Each returns 1 when the key was present, 0 when absent, -1 on a type error. */
int crix_json_object(struct json_object *obj, const char *path, const char *key,
		    struct json_object **out, struct crix_err **err);
int crix_json_array(struct json_object *obj, const char *path, const char *key,
		   struct json_object **out, struct crix_err **err);
int crix_json_string(struct json_object *obj, const char *path, const char *key, char **out,
		    struct crix_err **err); /* *out is strdup'd (old value freed) */
int crix_json_bool(struct json_object *obj, const char *path, const char *key, bool *out,
		  struct crix_err **err);
int crix_json_int64(struct json_object *obj, const char *path, const char *key, int64_t *out,
		   struct crix_err **err);
int crix_json_uint64(struct json_object *obj, const char *path, const char *key, uint64_t *out,
		    struct crix_err **err);
int crix_json_uint32(struct json_object *obj, const char *path, const char *key, uint32_t *out,
		    struct crix_err **err);
int crix_json_int32(struct json_object *obj, const char *path, const char *key, int32_t *out,
		   struct crix_err **err);
/* A list of strings, NULL-terminated (old value freed). */
int crix_json_strv(struct json_object *obj, const char *path, const char *key, char ***out,
		  struct crix_err **err);

/* Emit helpers; each returns a new reference, NULL only when an allocation failed (give it to
 * crix_json_add, which reports that). */
/* The strings of v as an array (an empty one for a NULL list). */
struct json_object *crix_json_new_strv(char *const *v);
/* The object under key in base, or a new one (a child of base is detached so the caller can
 * re-add it). */
struct json_object *crix_json_take_object(struct json_object *base, const char *key);
/* Element i of the array under key in base when base's array has exactly n elements, else a
 * new object: keeps unknown fields of list entries while the list is unchanged in length. NULL
 * when an allocation fails. */
struct json_object *crix_json_element_base(struct json_object *base_array, size_t n, size_t i);

#endif
