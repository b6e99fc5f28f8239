/* A program written against the installed library only (tests/install/test_install.sh
 * builds it with pkg-config, shared and --static, and as a meson subproject user): it
 * includes <wakeful/wakeful.h> and nothing of the tree's, sleeps 10 ms on an executor and
 * checks the version it runs with. */
#include <stdio.h>
#include <string.h>

#include <wakeful/wakeful.h>

#if !WK_CHECK_VERSION(0, 1, 0)
#error "the headers should be at least 0.1.0"
#endif

int main(void)
{
    wk_executor *ex;
    if (wk_executor_new(&ex) != 0)
        return 1;
    wk_sleep s;
    wk_sleep_init(&s, 10 * WK_NSEC_PER_MSEC);
    uint64_t t0 = wk_now_ns();
    int rc = wk_block_on(ex, &s.base);
    uint64_t took = wk_now_ns() - t0;
    wk_future_drop(&s.base);
    wk_executor_free(ex);
    if (rc != 0 || s.result != 0 || took < 10 * WK_NSEC_PER_MSEC) {
        fprintf(stderr, "sleep: rc %d, result %d, took %llu ns\n", rc, s.result,
                (unsigned long long)took);
        return 1;
    }
    if (strcmp(wk_version(), WK_VERSION_STRING) != 0) {
        fprintf(stderr, "library %s, headers %s\n", wk_version(), WK_VERSION_STRING);
        return 1;
    }
    printf("wakeful %s: slept %.1f ms\n", wk_version(), (double)took / 1e6);
    return 0;
}
