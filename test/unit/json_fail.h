/* Allocation failures in json-c, injected for the unit tests: an executable linked with the
 * json_fail library gets --wrap for each json-c function our code allocates through
 * (test/unit/CMakeLists.txt), and the wrappers make a chosen call fail as json-c fails on
 * ENOMEM (NULL, or -1). */
#ifndef CRIX_TEST_JSON_FAIL_H
#define CRIX_TEST_JSON_FAIL_H

#include "crix_err.h"

/* An operation to fail: 0 or -1 with *err set; it frees what it made either way. */
typedef int (*json_fail_op)(void *arg, struct crix_err **err);

/* Runs op once counting the wrapped calls (it must succeed), then once per call with that call
 * failing: each of those runs must fail with ENOMEM. Returns the number of calls, or -1 when a
 * run did not fail as it must (each such run is printed). Leaks show under ASan. */
long json_fail_each(const char *what, json_fail_op op, void *arg);

#endif
