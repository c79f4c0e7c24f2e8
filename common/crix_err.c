#include "crix_err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The error given when the error itself cannot be allocated: callers read (*err)->errnum
 * after a failure, so *err is never left NULL. One per thread, never freed or rewritten. */
static char out_of_memory_text[] = "out of memory";
static _Thread_local struct crix_err out_of_memory;

int crix_err_makev(struct crix_err **err, int errnum, const char *fmt, va_list ap)
{
	if (err == NULL)
		return -1;
	crix_err_free(err);
	struct crix_err *e = calloc(1, sizeof(*e));
	if (e == NULL) {
		out_of_memory = (struct crix_err){.errnum = ENOMEM, .msg = out_of_memory_text};
		*err = &out_of_memory;
		return -1;
	}
	char *text = NULL;
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	if (errnum != 0) {
		char *full = NULL;
		if (asprintf(&full, "%s: %s", text ? text : "", strerror(errnum)) < 0)
			full = NULL;
		free(text);
		text = full;
	}
	e->errnum = errnum;
	e->msg = text;
	*err = e;
	return -1;
}

int crix_err_make(struct crix_err **err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	crix_err_makev(err, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int crix_err_classify(struct crix_err **err, int errnum, int kind)
{
	if (err != NULL && *err != NULL && *err != &out_of_memory) {
		(*err)->errnum = errnum;
		(*err)->kind = kind;
	}
	return -1;
}

int crix_err_wrap(struct crix_err **err, const char *fmt, ...)
{
	if (err == NULL || *err == NULL || *err == &out_of_memory)
		return -1;
	char *ctx = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&ctx, fmt, ap) < 0)
		ctx = NULL;
	va_end(ap);
	if (ctx == NULL)
		return -1;
	char *full = NULL;
	if (asprintf(&full, "%s: %s", ctx, (*err)->msg ? (*err)->msg : "") >= 0) {
		free((*err)->msg);
		(*err)->msg = full;
	}
	free(ctx);
	return -1;
}

void crix_err_free(struct crix_err **err)
{
	if (err == NULL || *err == NULL)
		return;
	if (*err == &out_of_memory) {
		*err = NULL;
		return;
	}
	free((*err)->msg);
	free(*err);
	*err = NULL;
}

const char *crix_err_msg(const struct crix_err *err)
{
	if (err == NULL || err->msg == NULL)
		return "unknown error";
	return err->msg;
}
