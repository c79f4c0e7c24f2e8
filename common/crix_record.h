/* The one reader of JSON records on disk (image records, layer meta, rootfs and state
 * records): the file must hold one complete JSON object, and the parser of its fields gets it
 * with every error prefixed by the file, as in
 *   /var/lib/crix/images/ab.json: repo_tags[2]: expected string
 * Fields are checked with the crix_json getters (JSON path "" at the top of the record). */
#ifndef CRIX_RECORD_H
#define CRIX_RECORD_H

#include <stddef.h>

#include <json-c/json.h>

#include "crix_err.h"

/* Parses len bytes of text as one JSON document and nothing else (trailing white space
 * aside): a truncated, padded or NUL-holding text is EINVAL naming what is wrong. */
int crix_json_parse(const char *text, size_t len, struct json_object **out, struct crix_err **err);

/* Checks a record's fields: fills *out from record, or fails with an error naming the field. */
typedef int (*crix_record_parse_fn)(struct json_object *record, void *out, struct crix_err **err);

/* Reads the record at path (at most max_len bytes; larger is EFBIG), checks it is a JSON
 * object and hands it to parse. A missing file is ENOENT; a malformed record is EINVAL (or the
 * errno parse gave), the message starting with path. */
int crix_record_read(const char *path, size_t max_len, crix_record_parse_fn parse, void *out,
		     struct crix_err **err);

/* A field that must be there: got is a crix_json getter's result (1 present, 0 absent, -1
 * error already made); absent becomes "<path.key>: missing". Returns 0 or -1. */
int crix_json_require(int got, const char *path, const char *key, struct crix_err **err);

#endif
