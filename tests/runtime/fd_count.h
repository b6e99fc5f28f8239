/* tests/runtime/fd_count.h: how many descriptors this process has open, for tests that
 * check that a dropped future closed its own. */
#ifndef TESTS_FD_COUNT_H
#define TESTS_FD_COUNT_H

#include <dirent.h>

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

#endif
