/* tests/server/test_log.c: server/log's line format, journal detection, and one write per
 * line from several threads at once.
 *
 * Lines go to pipes the tests make; the clock is a fixed one (log_configure), so every
 * expected line is exact.  Check runs each test in its own process, so log_configure,
 * setenv and dup2 onto stderr do not leak from one to the next. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "../check_run.h"

/* 2026-12-04T18:30:00.123Z */
#define T0 INT64_C(1796409000123)

static int64_t fixed_ms = T0;

static int64_t fixed_now(void)
{
    return fixed_ms;
}

static size_t fmt(char *line, enum log_mode mode, int64_t now, enum log_level lvl,
                  int worker, uint64_t conn, const char *f, ...)
    __attribute__((format(printf, 7, 8)));

static size_t fmt(char *line, enum log_mode mode, int64_t now, enum log_level lvl,
                  int worker, uint64_t conn, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    size_t n = log_format(line, mode, now, lvl, worker, conn, f, ap);
    va_end(ap);
    ck_assert_uint_eq(n, strlen(line));
    return n;
}

/* Everything readable from fd within a bounded wait, NUL-terminated. */
static size_t drain(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (n + 1 < cap && poll(&p, 1, n ? 0 : 2000) == 1) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    return n;
}

START_TEST(plain_lines)
{
    char line[LOG_LINE_MAX + 1];
    fmt(line, LOG_MODE_PLAIN, T0, LOG_LEVEL_WARN, 2, 17, "accept: %s", "Too many open files");
    ck_assert_str_eq(line, "2026-12-04T18:30:00.123Z warn worker=2 conn=17: "
                           "accept: Too many open files\n");
    fmt(line, LOG_MODE_PLAIN, T0, LOG_LEVEL_ERROR, LOG_NO_WORKER, LOG_NO_CONN, "x=%d", 5);
    ck_assert_str_eq(line, "2026-12-04T18:30:00.123Z error: x=5\n");
    fmt(line, LOG_MODE_PLAIN, T0, LOG_LEVEL_INFO, 3, LOG_NO_CONN, "up");
    ck_assert_str_eq(line, "2026-12-04T18:30:00.123Z info worker=3: up\n");
    fmt(line, LOG_MODE_PLAIN, T0, LOG_LEVEL_WARN, -1, UINT64_MAX, "big");
    ck_assert_str_eq(line, "2026-12-04T18:30:00.123Z warn conn=18446744073709551615: big\n");
    /* Milliseconds padded; the epoch itself and the millisecond before it. */
    fmt(line, LOG_MODE_PLAIN, T0 - 123 + 7, LOG_LEVEL_WARN, 0, 0, "m");
    ck_assert_str_eq(line, "2026-12-04T18:30:00.007Z warn: m\n");
    fmt(line, LOG_MODE_PLAIN, 0, LOG_LEVEL_WARN, 0, 0, "m");
    ck_assert_str_eq(line, "1970-01-01T00:00:00.000Z warn: m\n");
    fmt(line, LOG_MODE_PLAIN, -1, LOG_LEVEL_WARN, 0, 0, "m");
    ck_assert_str_eq(line, "1969-12-31T23:59:59.999Z warn: m\n");
}
END_TEST

START_TEST(journal_lines)
{
    char line[LOG_LINE_MAX + 1];
    fmt(line, LOG_MODE_JOURNAL, T0, LOG_LEVEL_WARN, 2, 17, "draining");
    ck_assert_str_eq(line, "<4>warn worker=2 conn=17: draining\n");
    fmt(line, LOG_MODE_JOURNAL, T0, LOG_LEVEL_ERROR, 0, 0, "gone");
    ck_assert_str_eq(line, "<3>error: gone\n");
    fmt(line, LOG_MODE_JOURNAL, T0, LOG_LEVEL_INFO, 1, 0, "ok");
    ck_assert_str_eq(line, "<6>info worker=1: ok\n");
}
END_TEST

/* One call, one line: no newline inside, the caller's trailing newline not doubled. */
START_TEST(one_line)
{
    char line[LOG_LINE_MAX + 1];
    fmt(line, LOG_MODE_JOURNAL, 0, LOG_LEVEL_WARN, 0, 0, "a\nb\rc\td\x1b[31me\x7f\n\n");
    ck_assert_str_eq(line, "<4>warn: a?b?c\td?[31me?\n");
    fmt(line, LOG_MODE_JOURNAL, 0, LOG_LEVEL_WARN, 0, 0, "%s", "");
    ck_assert_str_eq(line, "<4>warn: \n");
    fmt(line, LOG_MODE_JOURNAL, 0, LOG_LEVEL_WARN, 0, 0, "\n");
    ck_assert_str_eq(line, "<4>warn: \n");
}
END_TEST

/* A long message is cut to LOG_LINE_MAX with "..." and never inside a character. */
START_TEST(truncation)
{
    static char big[3 * LOG_LINE_MAX];
    char line[LOG_LINE_MAX + 1];

    memset(big, 'x', sizeof big - 1);
    size_t n = fmt(line, LOG_MODE_PLAIN, T0, LOG_LEVEL_WARN, 2, 17, "%s", big);
    ck_assert_uint_eq(n, LOG_LINE_MAX);
    ck_assert_str_eq(line + n - 4, "...\n");
    ck_assert(strncmp(line, "2026-12-04T18:30:00.123Z warn worker=2 conn=17: xxx", 51) == 0);

    /* Exactly full: no cut mark. */
    size_t prefix = strlen("<4>warn: ");
    memset(big, 'y', sizeof big);
    big[LOG_LINE_MAX - 1 - prefix] = '\0';
    n = fmt(line, LOG_MODE_JOURNAL, 0, LOG_LEVEL_WARN, 0, 0, "%s", big);
    ck_assert_uint_eq(n, LOG_LINE_MAX);
    ck_assert_str_eq(line + n - 3, "yy\n");
    big[LOG_LINE_MAX - 1 - prefix] = 'y'; /* one byte more: cut */
    big[LOG_LINE_MAX - prefix] = '\0';
    n = fmt(line, LOG_MODE_JOURNAL, 0, LOG_LEVEL_WARN, 0, 0, "%s", big);
    ck_assert_uint_eq(n, LOG_LINE_MAX);
    ck_assert_str_eq(line + n - 4, "...\n");

    /* Three-byte characters at every alignment: the cut leaves whole characters. */
    for (size_t shift = 0; shift < 3; shift++) {
        size_t k = 0;
        for (; k < shift; k++)
            big[k] = 'a';
        while (k + 3 < sizeof big) {
            memcpy(big + k, "\xe4\xb8\xad", 3); /* U+4E2D */
            k += 3;
        }
        big[k] = '\0';
        n = fmt(line, LOG_MODE_JOURNAL, 0, LOG_LEVEL_WARN, 0, 0, "%s", big);
        ck_assert_uint_le(n, LOG_LINE_MAX);
        ck_assert_str_eq(line + n - 4, "...\n");
        size_t body = prefix + shift, chars = n - 4 - body;
        ck_assert_msg(chars % 3 == 0, "shift %zu: %zu bytes of U+4E2D", shift, chars);
        ck_assert_msg(memcmp(line + n - 7, "\xe4\xb8\xad", 3) == 0, "shift %zu", shift);
    }
}
END_TEST

START_TEST(detect)
{
    char dir[] = "/tmp/wk-log-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64], env[96];
    snprintf(path, sizeof path, "%s/f", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);

    snprintf(env, sizeof env, "%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
    ck_assert_int_eq(log_detect(env, fd), LOG_MODE_JOURNAL);
    snprintf(env, sizeof env, "%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino + 1);
    ck_assert_int_eq(log_detect(env, fd), LOG_MODE_PLAIN); /* stderr went elsewhere */
    snprintf(env, sizeof env, "%ju:%ju", (uintmax_t)st.st_dev + 1, (uintmax_t)st.st_ino);
    ck_assert_int_eq(log_detect(env, fd), LOG_MODE_PLAIN);
    static const char *const bad[] = {"", "1", "1:", ":1", "1:2x", "x:1", "1 :2",
                                      "-1:2", "99999999999999999999999:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(log_detect(bad[i], fd) == LOG_MODE_PLAIN, "'%s'", bad[i]);
    ck_assert_int_eq(log_detect(NULL, fd), LOG_MODE_PLAIN);
    close(fd);
    ck_assert_int_eq(log_detect(env, fd), LOG_MODE_PLAIN); /* a closed fd */
    unlink(path);
    rmdir(dir);
}
END_TEST

/* log_line writes what log_format makes, to the configured fd, and keeps errno. */
START_TEST(line_to_fd)
{
    int p[2];
    char buf[4096];
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    log_configure(p[1], LOG_MODE_PLAIN, fixed_now);
    errno = EBADF;
    log_line(LOG_LEVEL_WARN, 2, 17, "accept: %s", "Too many open files");
    ck_assert_int_eq(errno, EBADF);
    fixed_ms = T0 + 1000;
    log_line(LOG_LEVEL_ERROR, LOG_NO_WORKER, LOG_NO_CONN, "bye\n");
    drain(p[0], buf, sizeof buf);
    ck_assert_str_eq(buf, "2026-12-04T18:30:00.123Z warn worker=2 conn=17: "
                          "accept: Too many open files\n"
                          "2026-12-04T18:30:01.123Z error: bye\n");
    log_configure(p[1], LOG_MODE_JOURNAL, fixed_now);
    log_line(LOG_LEVEL_WARN, 1, 0, "draining %u", 3u);
    drain(p[0], buf, sizeof buf);
    ck_assert_str_eq(buf, "<4>warn worker=1: draining 3\n");
    close(p[0]);
    close(p[1]);
}
END_TEST

/* log_init on stderr: journal mode when $JOURNAL_STREAM names stderr's pipe, plain (with
 * the real clock) when it is unset. */
START_TEST(init_from_environment)
{
    int p[2];
    char buf[4096], env[96];
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    ck_assert_int_eq(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
    struct stat st;
    ck_assert_int_eq(fstat(STDERR_FILENO, &st), 0);
    snprintf(env, sizeof env, "%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);

    ck_assert_int_eq(setenv("JOURNAL_STREAM", env, 1), 0);
    log_init();
    log_line(LOG_LEVEL_ERROR, 4, 9, "journal");
    drain(p[0], buf, sizeof buf);
    ck_assert_str_eq(buf, "<3>error worker=4 conn=9: journal\n");

    ck_assert_int_eq(unsetenv("JOURNAL_STREAM"), 0);
    log_init();
    log_line(LOG_LEVEL_WARN, 0, 0, "plain");
    size_t n = drain(p[0], buf, sizeof buf);
    /* "YYYY-MM-DDTHH:MM:SS.mmmZ warn: plain\n", the time being now. */
    ck_assert_uint_eq(n, 25 + strlen("warn: plain\n"));
    ck_assert_str_eq(buf + 25, "warn: plain\n");
    unsigned y, mo, d, h, mi, s, ms;
    char z;
    ck_assert_int_eq(sscanf(buf, "%4u-%2u-%2uT%2u:%2u:%2u.%3u%c", &y, &mo, &d, &h, &mi, &s,
                            &ms, &z), 8);
    ck_assert(y >= 2024 && z == 'Z' && buf[4] == '-' && buf[19] == '.');
    close(p[0]);
    close(p[1]);
}
END_TEST

/* Several threads log at once into one pipe: every line arrives whole. */
#define THREADS 4
#define LINES_PER_THREAD 2000

static void *logger(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < LINES_PER_THREAD; i++)
        log_line(LOG_LEVEL_WARN, id, (uint64_t)i + 1, "%0200d|", id);
    return NULL;
}

START_TEST(threads_do_not_interleave)
{
    int p[2];
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    log_configure(p[1], LOG_MODE_JOURNAL, NULL);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, logger, (void *)(intptr_t)(i + 1)), 0);

    /* Read while they write (the pipe holds far less than all the lines).  Check's
     * timeout bounds the whole test should a line never come. */
    static char buf[1 << 16];
    size_t have = 0;
    int lines = 0, count[THREADS + 1] = {0};
    while (lines < THREADS * LINES_PER_THREAD) {
        ssize_t r = read(p[0], buf + have, sizeof buf - have);
        ck_assert_int_gt(r, 0);
        have += (size_t)r;
        char *start = buf, *nl;
        while ((nl = memchr(start, '\n', have - (size_t)(start - buf))) != NULL) {
            int id, n, used = 0;
            unsigned long long conn;
            *nl = '\0';
            ck_assert_msg(sscanf(start, "<4>warn worker=%d conn=%llu: %n", &id, &conn, &used)
                              == 2 && used > 0, "line %d: %.80s", lines, start);
            ck_assert(id >= 1 && id <= THREADS);
            ck_assert_uint_eq(strlen(start + used), 201);
            ck_assert_int_eq(sscanf(start + used, "%d|", &n), 1);
            ck_assert_int_eq(n, id);
            count[id]++;
            lines++;
            start = nl + 1;
        }
        have -= (size_t)(start - buf);
        memmove(buf, start, have);
    }
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    for (int i = 1; i <= THREADS; i++)
        ck_assert_int_eq(count[i], LINES_PER_THREAD);
    ck_assert_uint_eq(have, 0);
    close(p[0]);
    close(p[1]);
}
END_TEST

static Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *t = tcase_create("log");
    tcase_set_timeout(t, 30);
    tcase_add_test(t, plain_lines);
    tcase_add_test(t, journal_lines);
    tcase_add_test(t, one_line);
    tcase_add_test(t, truncation);
    tcase_add_test(t, detect);
    tcase_add_test(t, line_to_fd);
    tcase_add_test(t, init_from_environment);
    tcase_add_test(t, threads_do_not_interleave);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return check_run(log_suite());
}
