/* runtime/clock.c: the out-of-line clock (wakeful/clock.h), for programs whose <time.h>
 * does not declare clock_gettime. */
#include <wakeful/clock.h>

uint64_t wk_clock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * WK_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}
