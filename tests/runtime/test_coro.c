/* tests/runtime/test_coro.c: the coroutine layer (coro.h): every macro on the happy path,
 * the in-flight child released through its step pointer, and the misuse that must abort
 * with the file and line (death tests that also check the message). */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <wakeful/wakeful.h>
#include "../check_run.h"
#include "counting_waker.h"

/* ---- a child that answers PENDING `left` times (waking itself), then READY ---- */
typedef struct child {
    wk_future base;
    int left;        /* PENDINGs still to give */
    int polls;       /* polls seen */
    int drops;       /* drops seen */
    int result;      /* output: 7 once READY */
} child;

static wk_poll child_poll(wk_future *f, wk_context *cx)
{
    child *c = (child *)f;
    c->polls++;
    if (c->left > 0) {
        c->left--;
        wk_waker_wake_by_ref(cx->waker);
        return WK_PENDING;
    }
    c->result = 7;
    return WK_READY;
}

static void child_drop(wk_future *f)
{
    ((child *)f)->drops++;
}

static void child_init(child *c, int pendings)
{
    memset(c, 0, sizeof *c);
    c->base.poll = child_poll;
    c->base.drop = child_drop;
    c->left = pendings;
}

/* Polls f with a counting waker until READY, at most `max` times; the number of polls. */
static int poll_to_end(wk_future *f, int max)
{
    waker_counts counts = {0, 0, 0, 0};
    wk_waker w = counting_waker(&counts);
    wk_context cx = {&w, NULL};
    for (int i = 1; i <= max; i++)
        if (wk_future_poll(f, &cx) == WK_READY)
            return i;
    return -1;
}

/* ---- the happy path: every macro, and a value kept in the struct across awaits ---- */
typedef struct tour {
    wk_future base;
    int co;
    wk_future *step;     /* the child in flight, for drop */
    union {
        child a;
        child b;
    } u;
    int waited;          /* set by the poll-shaped step once it has answered PENDING */
    int kept;            /* computed before an await, read after it: lives here */
    int sum;             /* output */
} tour;

static wk_poll wait_once(tour *t, wk_context *cx)
{
    if (t->waited)
        return WK_READY;
    t->waited = 1;
    wk_waker_wake_by_ref(cx->waker);
    return WK_PENDING;
}

static wk_poll tour_poll(wk_future *f, wk_context *cx)
{
    tour *t = (tour *)f;
    WK_CO_BEGIN(t->co);
    t->kept = 35;
    child_init(&t->u.a, 2);
    WK_CO_AWAIT(t->co, &t->u.a, cx);
    t->sum = t->u.a.result;
    WK_CO_AWAIT_POLL(t->co, wait_once(t, cx));
    WK_CO_YIELD(t->co, cx);
    child_init(&t->u.b, 3);
    WK_CO_AWAIT_STEP(t->co, t->step, &t->u.b, cx);
    t->sum += t->u.b.result + t->kept;
    WK_CO_END(t->co);
}

START_TEST(every_macro_runs_to_the_end)
{
    tour t;
    memset(&t, 0, sizeof t);
    t.base.poll = tour_poll;
    /* 2 PENDINGs of a, 1 of the poll-shaped step, 1 yield, 3 of b, then READY. */
    ck_assert_int_eq(poll_to_end(&t.base, 100), 8);
    ck_assert_int_eq(t.co, WK_CO_DONE);
    ck_assert_int_eq(t.sum, 7 + 7 + 35);
    ck_assert_ptr_null(t.step);
    ck_assert_int_eq(t.u.b.drops, 1); /* WK_CO_AWAIT_STEP dropped it once READY */
    ck_assert_int_eq(t.u.b.result, 7); /* and its output survived the drop */
}
END_TEST

typedef struct early {
    wk_future base;
    int co;
    child c;
    int stop_early;
    int reached_end;
} early;

static wk_poll early_poll(wk_future *f, wk_context *cx)
{
    early *e = (early *)f;
    WK_CO_BEGIN(e->co);
    child_init(&e->c, 1);
    WK_CO_AWAIT(e->co, &e->c, cx);
    if (e->stop_early)
        WK_CO_RETURN(e->co);
    e->reached_end = 1;
    WK_CO_END(e->co);
}

START_TEST(return_and_end_both_finish)
{
    for (int stop = 0; stop <= 1; stop++) {
        early e;
        memset(&e, 0, sizeof e);
        e.base.poll = early_poll;
        e.stop_early = stop;
        ck_assert_int_eq(poll_to_end(&e.base, 10), 2);
        ck_assert_int_eq(e.co, WK_CO_DONE);
        ck_assert_int_eq(e.reached_end, !stop);
    }
}
END_TEST

/* ---- the step pointer: drop releases the child in flight, through the live member ---- */
typedef struct two_steps {
    wk_future base;
    int co;
    wk_future *step;
    union {
        child first;
        struct {
            int pad[5];          /* the second child does not start where the first does */
            child c;
        } second;
    } u;
} two_steps;

static wk_poll two_steps_poll(wk_future *f, wk_context *cx)
{
    two_steps *s = (two_steps *)f;
    WK_CO_BEGIN(s->co);
    child_init(&s->u.first, 0);
    WK_CO_AWAIT_STEP(s->co, s->step, &s->u.first, cx);
    child_init(&s->u.second.c, 5);
    WK_CO_AWAIT_STEP(s->co, s->step, &s->u.second.c, cx);
    WK_CO_END(s->co);
}

static void two_steps_drop(wk_future *f)
{
    wk_future_drop_step(&((two_steps *)f)->step);
}

START_TEST(drop_releases_the_step_in_flight)
{
    two_steps s;
    memset(&s, 0, sizeof s);
    s.base.poll = two_steps_poll;
    s.base.drop = two_steps_drop;

    wk_future_drop(&s.base); /* zero-filled: inert */
    ck_assert_ptr_null(s.step);

    waker_counts counts = {0, 0, 0, 0};
    wk_waker w = counting_waker(&counts);
    wk_context cx = {&w, NULL};
    ck_assert_int_eq(wk_future_poll(&s.base, &cx), WK_PENDING);
    ck_assert_ptr_eq(s.step, &s.u.second.c.base);
    ck_assert_int_eq(s.u.second.c.drops, 0);

    wk_future_drop(&s.base); /* cancelled mid-await */
    ck_assert_int_eq(s.u.second.c.drops, 1);
    ck_assert_ptr_null(s.step);
    wk_future_drop(&s.base); /* idempotent */
    ck_assert_int_eq(s.u.second.c.drops, 1);
}
END_TEST

/* ---- misuse: death tests ---- */

/* A misuse function, called with line == NULL, sets up its misuse and commits it (it
 * aborts); called with a buffer, it writes there what the message must contain and
 * returns without committing anything.
 *
 * expect_abort runs misuse(NULL) in a child with stderr into a pipe: the child must die of
 * SIGABRT, and its stderr name what misuse(buffer) says.  Then it runs misuse(NULL) once
 * more in this process, stderr silenced, so that Check sees the SIGABRT the test case
 * expects. */
static void expect_abort(void (*misuse)(char *line, size_t size), const char *what)
{
    char want[128];
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        misuse(NULL, 0);
        _exit(0); /* not reached when it aborts */
    }
    close(fds[1]);
    char out[2048];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof out - 1 && (r = read(fds[0], out + n, sizeof out - 1 - n)) != 0) {
        if (r < 0)
            break;
        n += (size_t)r;
    }
    out[n] = '\0';
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
                  "%s: the child did not abort (status 0x%x, stderr \"%s\")", what, status,
                  out);

    misuse(want, sizeof want);
    ck_assert_msg(strstr(out, "wakeful: coroutine at ") != NULL, "%s: stderr \"%s\"", what,
                  out);
    ck_assert_msg(strstr(out, want) != NULL, "%s: stderr \"%s\" lacks \"%s\"", what, out, want);

    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0)
        dup2(devnull, STDERR_FILENO);
    misuse(NULL, 0); /* aborts: the SIGABRT Check expects */
}

/* An await inside a nested switch: its case label binds to the inner switch, so the next
 * poll finds no resume point in the coroutine's own switch. */
typedef struct nested {
    wk_future base;
    int co;
    int mode;
    child c;
    int await_line;
    int end_line;
} nested;

static wk_poll nested_poll(wk_future *f, wk_context *cx)
{
    nested *s = (nested *)f;
    WK_CO_BEGIN(s->co);
    child_init(&s->c, 1);
    switch (s->mode) {
    case 1:
        s->await_line = __LINE__; WK_CO_AWAIT(s->co, &s->c, cx);
        break;
    default:
        break;
    }
    s->end_line = __LINE__ + 1;
    WK_CO_END(s->co);
}

/* With line == NULL: builds the misuse and polls into it.  Otherwise: writes into line what
 * the message must contain, "test_coro.c:AWAIT_LINE", and returns. */
static void misuse_nested_switch(char *line, size_t size)
{
    nested s;
    memset(&s, 0, sizeof s);
    s.base.poll = nested_poll;
    s.mode = 1;
    waker_counts counts = {0, 0, 0, 0};
    wk_waker w = counting_waker(&counts);
    wk_context cx = {&w, NULL};
    ck_assert_int_eq(wk_future_poll(&s.base, &cx), WK_PENDING);
    if (line != NULL) {
        snprintf(line, size, "test_coro.c:%d", s.await_line);
        return;
    }
    wk_future_poll(&s.base, &cx); /* would answer READY with the body unfinished */
}

/* The message names the coroutine's WK_CO_END line too. */
static void misuse_nested_switch_end(char *line, size_t size)
{
    if (line != NULL) {
        nested s;
        memset(&s, 0, sizeof s);
        s.base.poll = nested_poll;
        s.mode = 2; /* runs through: records end_line */
        ck_assert_int_eq(poll_to_end(&s.base, 1), 1);
        snprintf(line, size, "test_coro.c:%d lost its resume point", s.end_line);
        return;
    }
    misuse_nested_switch(NULL, 0);
}

START_TEST(await_in_nested_switch_aborts)
{
    expect_abort(misuse_nested_switch_end, "nested switch (WK_CO_END's line)");
}
END_TEST

START_TEST(await_in_nested_switch_names_the_await)
{
    expect_abort(misuse_nested_switch, "nested switch (the await's line)");
}
END_TEST

/* A resume point that no await of this coroutine wrote: a struct not zeroed (malloc'd, or
 * a point shared with another poll function). */
static void misuse_stray_point(char *line, size_t size)
{
    nested s;
    memset(&s, 0, sizeof s);
    s.base.poll = nested_poll;
    s.co = 987654;
    if (line != NULL) {
        snprintf(line, size, "lost its resume point 987654");
        return;
    }
    waker_counts counts = {0, 0, 0, 0};
    wk_waker w = counting_waker(&counts);
    wk_context cx = {&w, NULL};
    wk_future_poll(&s.base, &cx);
}

START_TEST(stray_resume_point_aborts)
{
    expect_abort(misuse_stray_point, "stray resume point");
}
END_TEST

/* A finished coroutine polled again. */
static void misuse_poll_after_done(char *line, size_t size)
{
    early e;
    memset(&e, 0, sizeof e);
    e.base.poll = early_poll;
    ck_assert_int_eq(poll_to_end(&e.base, 10), 2);
    if (line != NULL) {
        snprintf(line, size, "polled again after it finished");
        return;
    }
    poll_to_end(&e.base, 1);
}

START_TEST(poll_after_done_aborts)
{
    expect_abort(misuse_poll_after_done, "poll after READY");
}
END_TEST

static Suite *coro_suite(void)
{
    Suite *s = suite_create("coro");
    TCase *tc = tcase_create("coro");
    tcase_add_test(tc, every_macro_runs_to_the_end);
    tcase_add_test(tc, return_and_end_both_finish);
    tcase_add_test(tc, drop_releases_the_step_in_flight);
    tcase_add_test_raise_signal(tc, await_in_nested_switch_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, await_in_nested_switch_names_the_await, SIGABRT);
    tcase_add_test_raise_signal(tc, stray_resume_point_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, poll_after_done_aborts, SIGABRT);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(coro_suite());
}
