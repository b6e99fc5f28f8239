/* runtime/coro.c: the one function the coroutine macros call (coro.h). */
#include <wakeful/coro.h>

#include <stdio.h>
#include <stdlib.h>

void wk_coro_misuse(const char *file, int line, int point)
{
    /* One fprintf: stderr is unbuffered, and one call keeps the line whole when other
     * threads write too.  Nothing else runs: the coroutine's state cannot be trusted. */
    if (point == WK_CO_DONE)
        fprintf(stderr,
                "wakeful: coroutine at %s:%d polled again after it finished (it answered "
                "READY; the poll contract forbids another poll)\n",
                file, line);
    else
        fprintf(stderr,
                "wakeful: coroutine at %s:%d lost its resume point %d (await at %s:%d inside "
                "a nested switch, or a resume point this coroutine did not write: "
                "uninitialised, or shared with another poll function?)\n",
                file, line, point, file, point);
    abort();
}
