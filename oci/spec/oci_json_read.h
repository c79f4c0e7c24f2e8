/* Typed reads from json-c objects with errors that name the JSON path
 * ("linux.resources.memory.limit: expected integer"). Shared by the oci/spec parsers.
 * Each getter returns 0 and leaves *present false when the key is absent (or null),
 * -1 with *err filled when the value has the wrong type or range. */
#ifndef OCI_JSON_READ_H
#define OCI_JSON_READ_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "crix_err.h"

/* Fails unless obj is a JSON object. */
int oci_json_expect_object(struct json_object *obj, const char *path, struct crix_err **err);
/* Fails unless obj is a JSON array. */
int oci_json_expect_array(struct json_object *obj, const char *path, struct crix_err **err);

int oci_json_get_int64(struct json_object *obj, const char *path, const char *key, bool *present,
		       int64_t *out, struct crix_err **err);
/* Integers in [0, max]. */
int oci_json_get_uint(struct json_object *obj, const char *path, const char *key, uint64_t max,
		      bool *present, uint64_t *out, struct crix_err **err);
int oci_json_get_bool(struct json_object *obj, const char *path, const char *key, bool *present,
		      bool *out, struct crix_err **err);
/* *out is a new string or NULL when absent. */
int oci_json_get_string(struct json_object *obj, const char *path, const char *key, char **out,
			struct crix_err **err);
/* The member when it is present and of the given type, NULL when absent or null. */
int oci_json_get_typed(struct json_object *obj, const char *path, const char *key,
		       enum json_type type, struct json_object **out, struct crix_err **err);
/* A JSON array of strings -> NULL-terminated string vector (NULL when absent). */
int oci_json_get_strv(struct json_object *obj, const char *path, const char *key, char ***out,
		      size_t *n_out, struct crix_err **err);

/* Copies into *unknown (created on demand) every key of obj not listed in known (NULL-ended). */
int oci_json_keep_unknown(struct json_object *obj, const char *const *known,
			  struct json_object **unknown, struct crix_err **err);
/* Adds deep copies of every key of unknown to out (for emitting what was kept). */
int oci_json_add_unknown(struct json_object *out, struct json_object *unknown, struct crix_err **err);

/* Adds a key holding a new value, failing on allocation. */
int oci_json_add(struct json_object *obj, const char *key, struct json_object *val,
		 struct crix_err **err);

#endif
