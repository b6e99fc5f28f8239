/* runtime/waker.c: the no-op waker. */
#include <wakeful/waker.h>

static wk_waker noop_clone(const void *data)
{
    wk_waker w = {data, &wk_noop_waker_vtable};
    return w;
}

static void noop(const void *data)
{
    (void)data;
}

const wk_waker_vtable wk_noop_waker_vtable = {noop_clone, noop, noop, noop};
