#include "crix_record.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "crix_cleanup.h"
#include "crix_file.h"
#include "crix_json.h"

int crix_json_parse(const char *text, size_t len, struct json_object **out, struct crix_err **err)
{
	if (strlen(text) != len)
		return crix_err_make(err, EINVAL, "not JSON: holds a NUL byte");
	if (len > INT32_MAX)
		return crix_err_make(err, EFBIG, "not JSON: larger than 2 GiB");
	json_tokener *tok = json_tokener_new();
	if (tok == NULL)
		return crix_err_make(err, ENOMEM, "parse JSON");
	struct json_object *o = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (jerr == json_tokener_continue)
		return crix_err_make(err, EINVAL, "not JSON: truncated");
	if (jerr != json_tokener_success)
		return crix_err_make(err, EINVAL, "not JSON: %s at byte %zu", json_tokener_error_desc(jerr), end);
	for (size_t i = end; i < len; i++) {
		if (!isspace((unsigned char)text[i])) {
			json_object_put(o);
			return crix_err_make(err, EINVAL, "not JSON: trailing data at byte %zu", i);
		}
	}
	*out = o;
	return 0;
}

int crix_record_read(const char *path, size_t max_len, crix_record_parse_fn parse, void *out,
		     struct crix_err **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (crix_read_file(path, max_len, &text, &len, err) < 0)
		return -1;
	struct json_object *o = NULL;
	int rc = crix_json_parse(text, len, &o, err);
	if (rc == 0 && !json_object_is_type(o, json_type_object))
		rc = crix_err_make(err, EINVAL, "expected a JSON object");
	if (rc == 0)
		rc = parse(o, out, err);
	json_object_put(o);
	return rc < 0 ? crix_err_wrap(err, "%s", path) : 0;
}

int crix_json_require(int got, const char *path, const char *key, struct crix_err **err)
{
	if (got < 0)
		return -1;
	if (got == 0) {
		char p[CRIX_JSON_PATH_MAX];
		return crix_err_make(err, EINVAL, "%s: missing", crix_json_path_key(p, path, key));
	}
	return 0;
}
