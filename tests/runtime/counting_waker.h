/* tests/runtime/counting_waker.h: a waker built from a vtable of the test's own, counting
 * every call, so that tests can check that clones and drops balance. */
#ifndef TESTS_COUNTING_WAKER_H
#define TESTS_COUNTING_WAKER_H

#include <wakeful/waker.h>

typedef struct waker_counts {
    int clones, wakes, wakes_by_ref, drops;
} waker_counts;

static wk_waker counting_clone(const void *data);

static void counting_wake(const void *data)
{
    ((waker_counts *)data)->wakes++;
}

static void counting_wake_by_ref(const void *data)
{
    ((waker_counts *)data)->wakes_by_ref++;
}

static void counting_drop(const void *data)
{
    ((waker_counts *)data)->drops++;
}

static const wk_waker_vtable counting_vtable = {
    counting_clone, counting_wake, counting_wake_by_ref, counting_drop,
};

static wk_waker counting_clone(const void *data)
{
    ((waker_counts *)data)->clones++;
    wk_waker w = {data, &counting_vtable};
    return w;
}

static inline wk_waker counting_waker(waker_counts *c)
{
    wk_waker w = {c, &counting_vtable};
    return w;
}

#endif
