/* runtime/clock.h: monotonic time.  All deadlines in wakeful are absolute nanoseconds on
 * CLOCK_MONOTONIC, so that nested operations share one budget. */
#ifndef WAKEFUL_CLOCK_H
#define WAKEFUL_CLOCK_H

#include <stdint.h>
#include <time.h>

#define WK_NSEC_PER_MSEC 1000000ull
#define WK_NSEC_PER_SEC 1000000000ull
#define WK_DEADLINE_NEVER UINT64_MAX

/* Now, in nanoseconds on CLOCK_MONOTONIC (a vDSO call, no syscall). */
static inline uint64_t wk_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * WK_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Now plus ms milliseconds, as a deadline. */
static inline uint64_t wk_deadline_in_ms(uint64_t ms)
{
    return wk_now_ns() + ms * WK_NSEC_PER_MSEC;
}

#endif
