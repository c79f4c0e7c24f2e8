/* JSON helpers beside crix_json.h's typed getters: shape checks, bounded unsigned integers,
 * unknown keys kept for re-emission, and adding members with an allocation check.
 * Errors name the JSON path ("linux.resources.blockIO.weight: expected integer in [0, 65535]"). */
#ifndef CRIX_JSON_READ_H
#define CRIX_JSON_READ_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "crix_err.h"

/* Fails unless obj is a JSON object / array. */
int crix_json_expect_object(struct json_object *obj, const char *path, struct crix_err **err);
int crix_json_expect_array(struct json_object *obj, const char *path, struct crix_err **err);

/* crix_json_uint64 limited to [0, max]: 1 present, 0 absent, -1 error. */
int crix_json_uint_max(struct json_object *obj, const char *path, const char *key, uint64_t max,
		      uint64_t *out, struct crix_err **err);

/* Copies into *unknown (created on demand) every key of obj not listed in known (NULL-ended). */
int crix_json_keep_unknown(struct json_object *obj, const char *const *known,
			  struct json_object **unknown, struct crix_err **err);
/* Adds deep copies of every key of unknown to out (for emitting what was kept). */
int crix_json_add_unknown(struct json_object *out, struct json_object *unknown, struct crix_err **err);

/* Adds a key holding val (a new reference, NULL meaning allocation failed). */
int crix_json_add(struct json_object *obj, const char *key, struct json_object *val,
		 struct crix_err **err);

#endif
