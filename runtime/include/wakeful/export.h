/* wakeful/export.h: what every public header shares: the export and deprecation markers and
 * the C++ linkage guards.
 *
 * libwakeful is built with -fvisibility=hidden, so only the functions marked WK_API leave the
 * shared library (a version script also limits the exports to the `wk_` prefix).  The mark
 * is harmless for a program that includes the header, and for the static library. */
#ifndef WAKEFUL_EXPORT_H
#define WAKEFUL_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define WK_API __attribute__((visibility("default")))
#define WK_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#define WK_API
#define WK_DEPRECATED(msg)
#endif

#ifdef __cplusplus
#define WK_BEGIN_DECLS extern "C" {
#define WK_END_DECLS }
#else
#define WK_BEGIN_DECLS
#define WK_END_DECLS
#endif

#endif
