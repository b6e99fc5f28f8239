// The C++17 user of the installed library (tests/install/test_install.sh): a future written
// in C++ (base first, as the poll contract asks), spawned, joined from block_on.
#include <cstdio>
#include <cstddef>

#include <wakeful/wakeful.h>

namespace {

struct countdown {
    wk_future base;
    int left;
    int result;
};

wk_poll countdown_poll(wk_future *f, wk_context *cx)
{
    auto *c = reinterpret_cast<countdown *>(f);
    if (c->left-- > 0) {
        wk_waker_wake_by_ref(cx->waker);
        return WK_PENDING;
    }
    c->result = 42;
    return WK_READY;
}

}  // namespace

int main()
{
    wk_executor *ex = nullptr;
    if (wk_executor_new(&ex) != 0)
        return 1;
    countdown c{};
    c.base.poll = countdown_poll;
    c.left = 3;
    wk_task *handle = nullptr;
    if (WK_SPAWN(ex, countdown, &c, result, &handle) != 0)
        return 1;
    wk_join j{};
    int out = 0;
    wk_join_init(&j, handle, &out);
    int rc = wk_block_on(ex, &j.base);
    wk_future_drop(&j.base);
    wk_executor_free(ex);
    if (rc != 0 || j.result != 0 || out != 42) {
        std::fprintf(stderr, "join: rc %d, result %d, out %d\n", rc, j.result, out);
        return 1;
    }
    std::printf("wakeful %s from C++: joined %d\n", wk_version(), out);
    return 0;
}
