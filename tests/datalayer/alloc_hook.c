/* tests/datalayer/alloc_hook.c: counts (and on request fails) malloc and realloc.
 *
 * Linked with -Wl,--wrap=malloc,--wrap=realloc, every call to malloc or realloc in the
 * test binary, the data layer library included, lands in __wrap_malloc/__wrap_realloc,
 * which count and then call the real allocator.  Under Check's fork mode the counters
 * live in the child that runs the test, which is also where the test reads them. */
#include "helpers.h"

#include <stdlib.h>

static alloc_stats stats = {0, 0, 0, 0, -1};

alloc_stats *alloc_hook(void)
{
    return &stats;
}

#ifdef DL_TEST_ALLOC_HOOK
void *__real_malloc(size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_realloc(void *p, size_t size);

static int should_fail(void)
{
    if (!stats.armed || stats.fail_after < 0)
        return 0;
    if (stats.fail_after == 0) {
        stats.fail_after = -1;
        return 1;
    }
    stats.fail_after--;
    return 0;
}

void *__wrap_malloc(size_t size)
{
    if (stats.armed) {
        stats.mallocs++;
        stats.last_malloc_size = size;
    }
    return should_fail() ? NULL : __real_malloc(size);
}

void *__wrap_realloc(void *p, size_t size)
{
    if (stats.armed)
        stats.reallocs++;
    return should_fail() ? NULL : __real_realloc(p, size);
}
#endif
