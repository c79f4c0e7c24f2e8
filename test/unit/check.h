/* Minimal checks for the C unit tests: a failed CHECK prints where and goes on; main returns
 * failures != 0. */
#ifndef CRIX_TEST_CHECK_H
#define CRIX_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__,       \
				__func__, #cond);                                                  \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

/* A call returning < 0 with a struct crix_err *err in scope. */
#define CHECK_OK(call)                                                                             \
	do {                                                                                       \
		if ((call) < 0) {                                                                  \
			fprintf(stderr, "%s:%d: %s: %s failed: %s\n", __FILE__, __LINE__, __func__,   \
				#call, crix_err_msg(err));                                         \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                             \
			fprintf(stderr, "%s:%d: %s: \"%s\" != \"%s\"\n", __FILE__, __LINE__, __func__, \
				a_ ? a_ : "(null)", b_ ? b_ : "(null)");                           \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

#endif
