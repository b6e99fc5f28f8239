/* wakeful/errors.h: the library's one error scheme.  Every function that can fail returns
 * a negative errno value (-EAGAIN, -ECONNRESET, -ETIMEDOUT ...) or stores one in a
 * future's result field; 0 or a non-negative count means success.  A dead peer is always
 * -ECONNRESET (EPIPE from send is folded into it, as libdill does), and a receive that
 * needed more bytes than the peer sent before closing is -EPIPE. */
#ifndef WAKEFUL_ERRORS_H
#define WAKEFUL_ERRORS_H

#include "export.h"

WK_BEGIN_DECLS

/* Names a negative errno value in words (strerror of its magnitude, thread-safe). */
WK_API const char *wk_strerror(int err);

WK_END_DECLS

#endif
