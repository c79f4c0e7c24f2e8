/* Kinds of pull failures: what retries, endpoint fallback and crixd decide on, instead of
 * the text of a message (which a registry partly writes). */
#include <stdarg.h>
#include <string.h>

#include "img_internal.h"

static const char *const kind_names[] = {
	[IMG_ERR_OTHER] = "other",
	[IMG_ERR_RETRYABLE] = "retryable",
	[IMG_ERR_AUTH] = "auth",
	[IMG_ERR_NOT_FOUND] = "not_found",
	[IMG_ERR_CORRUPT] = "corrupt",
	[IMG_ERR_UNSUPPORTED] = "unsupported",
	[IMG_ERR_CANCELLED] = "cancelled",
	[IMG_ERR_PROTOCOL] = "protocol",
};

int img_err(struct crix_err **err, enum img_err_kind kind, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	crix_err_makev(err, errnum, fmt, ap);
	va_end(ap);
	return crix_err_classify(err, errnum, (int)kind);
}

enum img_err_kind img_err_kind(const struct crix_err *e)
{
	if (e == NULL || e->kind < 0 || (size_t)e->kind >= sizeof(kind_names) / sizeof(kind_names[0]))
		return IMG_ERR_OTHER;
	return (enum img_err_kind)e->kind;
}

const char *img_err_kind_name(enum img_err_kind kind)
{
	return kind_names[img_err_kind(&(struct crix_err){.kind = (int)kind})];
}

int img_err_kind_parse(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (strcmp(name, kind_names[i]) == 0)
			return (int)i;
	return -1;
}
