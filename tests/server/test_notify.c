/* tests/server/test_notify.c: server/notify against local datagram sockets.
 *
 * Each test binds its own AF_UNIX datagram socket (a path in a fresh mkdtemp directory,
 * or an abstract name with the PID in it), points $NOTIFY_SOCKET at it and reads what
 * arrives with a bounded poll.  Check runs each test in its own process, so setenv does
 * not leak from one to the next. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"
#include "../check_run.h"

/* How long a datagram that was sent may take to be readable: it is already queued when
 * sendto returns, so this only guards against a broken test, not a slow machine. */
#define RECV_TIMEOUT_MS 2000

struct receiver {
    int fd;
    char dir[64];   /* the mkdtemp directory ("" for an abstract socket) */
    char path[108]; /* the socket's path; for an abstract one, "@name" */
};

static void receiver_open(struct receiver *r, int abstract)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    socklen_t len;
    r->dir[0] = '\0';
    if (abstract) {
        snprintf(r->path, sizeof r->path, "@wakeful-test-notify-%ld", (long)getpid());
        size_t n = strlen(r->path);
        memcpy(sa.sun_path, r->path, n);
        sa.sun_path[0] = '\0';
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        strcpy(r->dir, "/tmp/wk-notify-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(r->dir));
        snprintf(r->path, sizeof r->path, "%s/notify", r->dir);
        strcpy(sa.sun_path, r->path);
        len = sizeof sa;
    }
    r->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(r->fd, 0);
    ck_assert_msg(bind(r->fd, (struct sockaddr *)&sa, len) == 0, "bind %s: %s", r->path,
                  strerror(errno));
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", r->path, 1), 0);
}

static void receiver_close(struct receiver *r)
{
    close(r->fd);
    if (r->dir[0]) {
        unlink(r->path);
        rmdir(r->dir);
    }
}

/* The next datagram, NUL-terminated into buf; its length, or -1 when none came in time. */
static ssize_t receive(struct receiver *r, char *buf, size_t cap)
{
    struct pollfd p = {.fd = r->fd, .events = POLLIN};
    if (poll(&p, 1, RECV_TIMEOUT_MS) != 1)
        return -1;
    ssize_t n = recv(r->fd, buf, cap - 1, MSG_DONTWAIT);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

static void send_and_compare(int abstract)
{
    struct receiver r;
    receiver_open(&r, abstract);
    const char *state = "READY=1\nSTATUS=listening on 127.0.0.1:7878 (2 workers)";
    ck_assert_int_eq(notify_send(state), 1);
    char buf[256];
    ssize_t n = receive(&r, buf, sizeof buf);
    ck_assert_int_eq(n, (ssize_t)strlen(state));
    ck_assert_str_eq(buf, state);
    /* A second call is a second datagram, not glued to the first. */
    ck_assert_int_eq(notify_send("STOPPING=1"), 1);
    n = receive(&r, buf, sizeof buf);
    ck_assert_int_eq(n, 10);
    ck_assert_str_eq(buf, "STOPPING=1");
    receiver_close(&r);
}

START_TEST(path_socket)
{
    send_and_compare(0);
}
END_TEST

START_TEST(abstract_socket)
{
    send_and_compare(1);
}
END_TEST

START_TEST(unset_or_empty)
{
    ck_assert_int_eq(unsetenv("NOTIFY_SOCKET"), 0);
    ck_assert_int_eq(notify_send("READY=1"), 0);
    ck_assert_int_eq(setenv("NOTIFY_SOCKET", "", 1), 0);
    ck_assert_int_eq(notify_send("READY=1"), 0);
}
END_TEST

START_TEST(bad_addresses)
{
    char dir[] = "/tmp/wk-notify-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[160];

    /* Nobody there: no such file, or a file that is not a socket. */
    snprintf(path, sizeof path, "%s/missing", dir);
    setenv("NOTIFY_SOCKET", path, 1);
    ck_assert_int_eq(notify_send("READY=1"), -ENOENT);
    snprintf(path, sizeof path, "%s/plain-file", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    setenv("NOTIFY_SOCKET", path, 1);
    ck_assert_int_eq(notify_send("READY=1"), -ECONNREFUSED);
    unlink(path);
    rmdir(dir);

    /* An abstract name nobody bound. */
    snprintf(path, sizeof path, "@wakeful-test-notify-nobody-%ld", (long)getpid());
    setenv("NOTIFY_SOCKET", path, 1);
    ck_assert_int_eq(notify_send("READY=1"), -ECONNREFUSED);

    /* Forms this module does not speak. */
    setenv("NOTIFY_SOCKET", "relative/path", 1);
    ck_assert_int_eq(notify_send("READY=1"), -EAFNOSUPPORT);
    setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
    ck_assert_int_eq(notify_send("READY=1"), -EAFNOSUPPORT);

    /* sun_path holds 108 bytes: a path of 107 fits with its NUL, 108 does not; an
     * abstract name needs no NUL, so 108 bytes ("@" + 107) fit and 109 do not. */
    char longp[120];
    memset(longp, 'x', sizeof longp);
    longp[0] = '/';
    longp[108] = '\0';
    setenv("NOTIFY_SOCKET", longp, 1);
    ck_assert_int_eq(notify_send("READY=1"), -ENAMETOOLONG);
    longp[107] = '\0';
    setenv("NOTIFY_SOCKET", longp, 1);
    ck_assert_int_eq(notify_send("READY=1"), -ENOENT); /* fits, but no such file */
    memset(longp, 'x', sizeof longp);
    longp[0] = '@';
    longp[109] = '\0';
    setenv("NOTIFY_SOCKET", longp, 1);
    ck_assert_int_eq(notify_send("READY=1"), -ENAMETOOLONG);
    longp[108] = '\0';
    setenv("NOTIFY_SOCKET", longp, 1);
    ck_assert_int_eq(notify_send("READY=1"), -ECONNREFUSED); /* fits, nobody bound */

    ck_assert_int_eq(notify_send(NULL), -EINVAL);
}
END_TEST

/* A receiver that never reads: the queue fills up and notify_send says -EAGAIN instead
 * of blocking.  The bound on the loop is far above any kernel's queue of small
 * datagrams (net.unix.max_dgram_qlen is 512 at most in practice, and the receive buffer
 * caps it anyway); Check's timeout catches a send that blocks. */
START_TEST(full_queue_does_not_block)
{
    struct receiver r;
    receiver_open(&r, 0);
    int res = 1, sent = 0;
    for (int i = 0; i < 100000 && res == 1; i++) {
        res = notify_send("WATCHDOG=1");
        if (res == 1)
            sent++;
    }
    ck_assert_int_eq(res, -EAGAIN);
    ck_assert_int_gt(sent, 0);
    /* Reading one makes room for one more. */
    char buf[32];
    ck_assert_int_eq(receive(&r, buf, sizeof buf), 10);
    ck_assert_int_eq(notify_send("WATCHDOG=1"), 1);
    receiver_close(&r);
}
END_TEST

START_TEST(watchdog)
{
    char pid[32];
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    ck_assert_uint_eq(notify_watchdog_usec(), 0);
    setenv("WATCHDOG_USEC", "30000000", 1);
    ck_assert_uint_eq(notify_watchdog_usec(), 30000000);
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    ck_assert_uint_eq(notify_watchdog_usec(), 30000000);
    snprintf(pid, sizeof pid, "%ld", (long)getpid() + 1);
    setenv("WATCHDOG_PID", pid, 1); /* meant for another process */
    ck_assert_uint_eq(notify_watchdog_usec(), 0);
    setenv("WATCHDOG_PID", "", 1);
    ck_assert_uint_eq(notify_watchdog_usec(), 0);
    unsetenv("WATCHDOG_PID");

    setenv("WATCHDOG_USEC", "18446744073709551615", 1); /* UINT64_MAX */
    ck_assert(notify_watchdog_usec() == UINT64_MAX);
    static const char *const bad[] = {
        "", "0", "-5", "+5", " 5", "5 ", "12x", "0x10", "18446744073709551616",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("WATCHDOG_USEC", bad[i], 1);
        ck_assert_msg(notify_watchdog_usec() == 0, "WATCHDOG_USEC='%s'", bad[i]);
    }
}
END_TEST

static Suite *notify_suite(void)
{
    Suite *s = suite_create("notify");
    TCase *t = tcase_create("notify");
    tcase_set_timeout(t, 10);
    tcase_add_test(t, path_socket);
    tcase_add_test(t, abstract_socket);
    tcase_add_test(t, unset_or_empty);
    tcase_add_test(t, bad_addresses);
    tcase_add_test(t, full_queue_does_not_block);
    tcase_add_test(t, watchdog);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return check_run(notify_suite());
}
