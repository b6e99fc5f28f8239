/* tests/check_run.h: the end of every Check test binary's main. */
#ifndef WAKEFUL_TESTS_CHECK_RUN_H
#define WAKEFUL_TESTS_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

/* Runs every test of s (in forked children, Check's default) and frees it; the exit
 * status for main: EXIT_FAILURE when any test failed. */
static inline int check_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
