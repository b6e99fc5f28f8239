/* tests/runtime/helpers.h: what the abort, select and signal tests share: counting this
 * process's open descriptors (a dropped future must close its own), and waiting for an
 * executor driven by another thread to sleep in epoll_wait. */
#ifndef TESTS_RUNTIME_HELPERS_H
#define TESTS_RUNTIME_HELPERS_H

#include <check.h>
#include <dirent.h>
#include <unistd.h>

#include "internal.h"

/* The entries of /proc/self/fd, less the one opendir itself holds; -1 when unreadable. */
static inline int open_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n - 1;
}

/* Waits, for 5 s at most, until ex's thread waits in epoll_wait (so that what the test does
 * next must wake it), and fails the test if it never does. */
static inline void wait_until_executor_waits(wk_executor *ex)
{
    for (int i = 0; i < 5000 && AO_load_full(&ex->sleep_state) != WK__WAITING; i++)
        usleep(1000);
    ck_assert_uint_eq(AO_load_full(&ex->sleep_state), WK__WAITING);
}

#endif
