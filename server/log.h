/* server/log.h: diagnostic lines (errors, warnings) for stderr, one write(2) each.
 *
 * A line is
 *
 *     2026-12-04T18:30:00.123Z warn worker=2 conn=17: the message
 *
 * the time in RFC 3339 form, UTC, with milliseconds; the level word; the worker's number
 * and the connection's id when the caller has them; the message.  Under systemd with
 * stderr going to the journal (detected as systemd.exec(5) says: $JOURNAL_STREAM names
 * the device and inode of stderr), the time is left out, since journald stamps every
 * entry itself, and the line starts with the syslog priority journald reads instead:
 *
 *     <4>warn worker=2 conn=17: the message
 *
 * One call is one line and one write(2): lines that threads write at the same time do
 * not interleave (a write of at most PIPE_BUF bytes to a pipe is atomic; to a file or a
 * terminal, one write lands in one piece in practice).  For that, a line is formatted on
 * the stack into LOG_LINE_MAX bytes; a longer message is cut at a character boundary and
 * ends in "...".  Control characters in the message (a newline would start a new line,
 * and under journald a new entry) are written as '?'; tab is kept.
 *
 * This is for diagnostics only: the server's own output lines (listening on, -v lines,
 * the SIGUSR1 report, the shutdown summary) are not log lines and keep their text. */
#ifndef WAKEFUL_SERVER_LOG_H
#define WAKEFUL_SERVER_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* The values are syslog's priorities (LOG_ERR, LOG_WARNING, LOG_INFO), which the journal
 * prefix writes as they are; the names differ from syslog.h's so both can be included. */
enum log_level {
    LOG_LEVEL_ERROR = 3, /* written "error" */
    LOG_LEVEL_WARN = 4,  /* written "warn" */
    LOG_LEVEL_INFO = 6,  /* written "info" */
};

enum log_mode {
    LOG_MODE_PLAIN,   /* a timestamp first */
    LOG_MODE_JOURNAL, /* "<priority>" first, no timestamp */
};

/* Pass these for "no worker" (the main thread) and "no connection". */
#define LOG_NO_WORKER 0
#define LOG_NO_CONN 0

/* The longest line, its newline included.  Small enough for any thread's stack and a
 * quarter of PIPE_BUF (4096 on Linux), so one write of it to a pipe is atomic; long
 * enough for a message with an IPv6 address and an error string several times over. */
#define LOG_LINE_MAX 1024

/* Decides where lines go, once: stderr, in journal mode when log_detect says so for
 * $JOURNAL_STREAM and stderr, else plain, with the real clock.  Call it from main before
 * any thread logs (it is not thread-safe; everything after it is).  Before it, log_line
 * writes plain lines to stderr. */
void log_init(void);

/* What log_init decides: LOG_MODE_JOURNAL when journal_stream is "DEV:INO" (decimal, as
 * systemd sets it) and those are the device and inode of fd; LOG_MODE_PLAIN otherwise,
 * also when journal_stream is NULL or malformed (stderr redirected elsewhere under
 * systemd keeps its timestamps). */
enum log_mode log_detect(const char *journal_stream, int fd);

/* Sets where lines go by hand (for tests, or a program that logs elsewhere): to fd (not
 * owned), in mode, with now_ms the clock in milliseconds since the Unix epoch (NULL: the
 * real one, CLOCK_REALTIME).  Same rules as log_init: before any thread logs. */
void log_configure(int fd, enum log_mode mode, int64_t (*now_ms)(void));

/* Formats one line, as log_line would write it, into line (NUL-terminated) and returns
 * its length: at least 2 (the newline included), at most LOG_LINE_MAX.  now_ms is used
 * in LOG_MODE_PLAIN only.  worker > 0 and conn_id != 0 are written, LOG_NO_WORKER and
 * LOG_NO_CONN are not.  A trailing newline in the message is dropped (the line has its
 * own).  Pure apart from fmt's own conversions: thread-safe. */
size_t log_format(char line[LOG_LINE_MAX + 1], enum log_mode mode, int64_t now_ms,
                  enum log_level lvl, int worker, uint64_t conn_id, const char *fmt,
                  va_list ap) __attribute__((format(printf, 7, 0)));

/* Formats a line (see log_format) and writes it with one write(2) to the configured fd
 * (retried on EINTR; the rest of a short write is written after).  A failed write is
 * dropped: there is nowhere else to say so.  Keeps errno.  Thread-safe after log_init. */
void log_line(enum log_level lvl, int worker, uint64_t conn_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
