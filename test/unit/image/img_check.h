/* The check of the image unit tests: a failed CHECK prints where and what (printf-style) and
 * goes on; main returns failures != 0. */
#ifndef CRIX_TEST_IMG_CHECK_H
#define CRIX_TEST_IMG_CHECK_H

#include <stdio.h>

static int failures;
#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                       \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, "\n");                                                     \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

#endif
