/* Checked emitting for the spec model's writers (spec, resources, seccomp). Each sets obj[key]
 * (replacing it) when the value is present and removes key when it is absent, so one set serves
 * a fresh object and a copy of a parsed document alike. A failed allocation is an ENOMEM error
 * naming the key. */
#ifndef OCI_EMIT_H
#define OCI_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "crix_err.h"

int oci_emit_int(struct json_object *o, const char *key, bool has, int64_t v,
		 struct crix_err **err);
int oci_emit_uint(struct json_object *o, const char *key, bool has, uint64_t v,
		  struct crix_err **err);
int oci_emit_bool(struct json_object *o, const char *key, bool has, bool v, struct crix_err **err);
/* Absent when v is NULL. */
int oci_emit_string(struct json_object *o, const char *key, const char *v, struct crix_err **err);
int oci_emit_strv(struct json_object *o, const char *key, char *const *v, struct crix_err **err);

/* obj[key] := a new object (or array), returned in *child to be filled in; o owns it. */
int oci_emit_container(struct json_object *o, const char *key, bool array,
		       struct json_object **child, struct crix_err **err);
/* Appends item (a new reference; NULL means its allocation failed) to arr. */
int oci_emit_append(struct json_object *arr, struct json_object *item, struct crix_err **err);

#endif
