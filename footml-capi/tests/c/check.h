/* The one assertion macro of the C ABI tests: counts failures instead of aborting, so one
 * run reports every failed check (valgrind then still sees a clean exit path). */
#ifndef FOOTML_TEST_CHECK_H
#define FOOTML_TEST_CHECK_H

#include <stdio.h>

static int failures = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

#endif
