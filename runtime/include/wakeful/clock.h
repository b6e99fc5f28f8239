/* wakeful/clock.h: monotonic time.  All deadlines in wakeful are absolute nanoseconds on
 * CLOCK_MONOTONIC, so that nested operations share one budget. */
#ifndef WAKEFUL_CLOCK_H
#define WAKEFUL_CLOCK_H

#include "export.h"

#include <stdint.h>
#include <time.h>

WK_BEGIN_DECLS

#define WK_NSEC_PER_MSEC 1000000ull
#define WK_NSEC_PER_SEC 1000000000ull
#define WK_DEADLINE_NEVER UINT64_MAX

/* Now, in nanoseconds on CLOCK_MONOTONIC, from the library (for a program compiled without
 * the POSIX declarations of <time.h>, as plain -std=c11 is). */
WK_API uint64_t wk_clock_now_ns(void);

/* Now, in nanoseconds on CLOCK_MONOTONIC (a vDSO call, no syscall).  Inline where <time.h>
 * declares clock_gettime (a POSIX or GNU feature macro), else the library's copy. */
static inline uint64_t wk_now_ns(void)
{
#ifdef CLOCK_MONOTONIC
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * WK_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
#else
    return wk_clock_now_ns();
#endif
}

/* Now plus ms milliseconds, as a deadline. */
static inline uint64_t wk_deadline_in_ms(uint64_t ms)
{
    return wk_now_ns() + ms * WK_NSEC_PER_MSEC;
}

WK_END_DECLS

#endif
