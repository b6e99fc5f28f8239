/* runtime/errors.c: see errors.h. */
#include <wakeful/errors.h>

#include <string.h>

const char *wk_strerror(int err)
{
    if (err == 0)
        return "success";
    /* strerrordesc_np (glibc >= 2.32) is thread-safe and never formats into a buffer. */
    const char *s = strerrordesc_np(err < 0 ? -err : err);
    return s ? s : "unknown error";
}
