/* server/log.c: diagnostic lines, one write each (see log.h).
 *
 * The configuration is three plain globals, written by log_init/log_configure before
 * the threads start and only read afterwards, so reading them needs no lock.  The line
 * is built in a stack buffer, so log_line allocates nothing and takes no lock either:
 * the kernel's write is what keeps concurrent lines apart. */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int log_fd = STDERR_FILENO;
static enum log_mode log_mode_now = LOG_MODE_PLAIN;
static int64_t (*log_now_ms)(void);

/* What a truncated line ends with, before its newline. */
#define CUT_MARK "..."

static int64_t real_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void log_configure(int fd, enum log_mode mode, int64_t (*now_ms)(void))
{
    log_fd = fd;
    log_mode_now = mode;
    log_now_ms = now_ms;
}

/* Parses the decimal number at *s up to the byte stop into *v (advancing *s past it). */
static int parse_dec(const char **s, char stop, uintmax_t *v)
{
    const char *p = *s;
    uintmax_t x = 0;
    if (*p < '0' || *p > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (x > (UINTMAX_MAX - d) / 10)
            return -ERANGE;
        x = x * 10 + d;
    }
    if (*p != stop)
        return -EINVAL;
    *v = x;
    *s = p;
    return 0;
}

enum log_mode log_detect(const char *journal_stream, int fd)
{
    uintmax_t dev, ino;
    const char *p = journal_stream;
    struct stat st;
    if (p == NULL || parse_dec(&p, ':', &dev) < 0)
        return LOG_MODE_PLAIN;
    p++;
    if (parse_dec(&p, '\0', &ino) < 0 || fstat(fd, &st) < 0)
        return LOG_MODE_PLAIN;
    return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino ? LOG_MODE_JOURNAL
                                                                      : LOG_MODE_PLAIN;
}

void log_init(void)
{
    log_configure(STDERR_FILENO, log_detect(getenv("JOURNAL_STREAM"), STDERR_FILENO),
                  NULL);
}

static const char *level_word(enum log_level lvl)
{
    switch (lvl) {
    case LOG_LEVEL_ERROR: return "error";
    case LOG_LEVEL_WARN: return "warn";
    case LOG_LEVEL_INFO: return "info";
    }
    return "?";
}

/* Writes ms since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ " into out; returns its length
 * (25 for years 0..9999), or 0 when the time cannot be shown. */
static size_t format_time(char *out, size_t cap, int64_t ms)
{
    int64_t sec = ms / 1000, frac = ms % 1000;
    if (frac < 0) { /* times before 1970 round towards the past, like the seconds */
        frac += 1000;
        sec -= 1;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL)
        return 0;
    char date[32];
    if (strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        return 0;
    int n = snprintf(out, cap, "%s.%03dZ ", date, (int)frac);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

size_t log_format(char line[LOG_LINE_MAX + 1], enum log_mode mode, int64_t now_ms,
                  enum log_level lvl, int worker, uint64_t conn_id, const char *fmt,
                  va_list ap)
{
    /* The room left before the newline and the NUL. */
    const size_t body_max = LOG_LINE_MAX - 1;
    size_t n = 0;
    int k;
    if (mode == LOG_MODE_JOURNAL)
        n += (size_t)snprintf(line, body_max, "<%d>", (int)lvl);
    else
        n += format_time(line, body_max, now_ms);
    /* The prefix is well under body_max (about 70 bytes at most), so these never cut. */
    n += (size_t)snprintf(line + n, body_max - n, "%s", level_word(lvl));
    if (worker > 0)
        n += (size_t)snprintf(line + n, body_max - n, " worker=%d", worker);
    if (conn_id != 0)
        n += (size_t)snprintf(line + n, body_max - n, " conn=%" PRIu64, conn_id);
    n += (size_t)snprintf(line + n, body_max - n, ": ");

    size_t msg = n;
    k = vsnprintf(line + n, body_max - n + 1, fmt, ap);
    if (k < 0)
        k = 0; /* an encoding error: the line says nothing rather than garbage */
    if ((size_t)k > body_max - n) {
        /* Cut: back up to a character boundary with room for the mark. */
        n = body_max - (sizeof CUT_MARK - 1);
        while (n > msg && ((unsigned char)line[n] & 0xc0) == 0x80)
            n--;
        memcpy(line + n, CUT_MARK, sizeof CUT_MARK - 1);
        n += sizeof CUT_MARK - 1;
    } else {
        n += (size_t)k;
        while (n > msg && (line[n - 1] == '\n'))
            n--;
    }
    for (size_t i = msg; i < n; i++) {
        unsigned char c = (unsigned char)line[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            line[i] = '?';
    }
    line[n++] = '\n';
    line[n] = '\0';
    return n;
}

void log_line(enum log_level lvl, int worker, uint64_t conn_id, const char *fmt, ...)
{
    int saved = errno;
    char line[LOG_LINE_MAX + 1];
    int64_t now = 0;
    if (log_mode_now == LOG_MODE_PLAIN)
        now = log_now_ms ? log_now_ms() : real_now_ms();
    va_list ap;
    va_start(ap, fmt);
    size_t len = log_format(line, log_mode_now, now, lvl, worker, conn_id, fmt, ap);
    va_end(ap);
    for (size_t off = 0; off < len;) {
        ssize_t w = write(log_fd, line + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    errno = saved;
}
