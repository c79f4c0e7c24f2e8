/* One error type for the whole tree: a message and the errno of the innermost cause.
 * Fallible functions return a negative value and fill *err; callers add context with
 * crix_err_wrap() on the way up; the gRPC edge maps errnum to a status code. */
#ifndef CRIX_ERR_H
#define CRIX_ERR_H

#include <stdarg.h>

struct crix_err {
	int errnum; /* errno of the cause, 0 if none */
	char *msg;  /* "context: context: cause: strerror" */
	int kind;   /* what kind of failure, as the component that made it classifies them (0: none);
		     * crix_err_wrap keeps it */
};

/* Sets *err (freeing any previous error) and returns -1. errnum 0 means "no errno". When the
 * error cannot be allocated, *err is a static "out of memory" (ENOMEM) that crix_err_free
 * clears and crix_err_wrap leaves unchanged. */
int crix_err_make(struct crix_err **err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int crix_err_makev(struct crix_err **err, int errnum, const char *fmt, va_list ap);

/* Sets errnum and kind of *err (for a message that already names its cause, so no strerror
 * is appended), unless *err is the static "out of memory", which stays as it is. Returns -1. */
int crix_err_classify(struct crix_err **err, int errnum, int kind);

/* Prefixes "context: " to the message of *err and returns -1. */
int crix_err_wrap(struct crix_err **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void crix_err_free(struct crix_err **err);

/* The message, or "unknown error" when err is NULL. */
const char *crix_err_msg(const struct crix_err *err);

static inline void crix_err_cleanup(struct crix_err **err) { crix_err_free(err); }
#define _cleanup_err_ __attribute__((cleanup(crix_err_cleanup)))

#endif
