/* tests/runtime/test_resolve.c: wk_resolve.  Literals and localhost without a lookup, the
 * port in every address, the family filter, and a name that cannot exist answered with a
 * clear error in bounded time. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <wakeful/wakeful.h>
#include "../check_run.h"

static void assert_addr(const wk_address *a, const char *text)
{
    char buf[80];
    wk_sockaddr_format((const struct sockaddr *)&a->addr, buf, sizeof buf);
    ck_assert_str_eq(buf, text);
}

START_TEST(ipv4_literal)
{
    wk_address a[4];
    ck_assert_int_eq(wk_resolve("127.0.0.1", 8080, AF_UNSPEC, SOCK_STREAM, a, 4), 1);
    assert_addr(&a[0], "127.0.0.1:8080");
    ck_assert_uint_eq(a[0].len, sizeof(struct sockaddr_in));
    ck_assert_int_eq(wk_resolve("127.0.0.1", 1, AF_INET6, 0, a, 4), -ENXIO);
}
END_TEST

START_TEST(ipv6_literal)
{
    wk_address a[4];
    ck_assert_int_eq(wk_resolve("::1", 443, AF_UNSPEC, 0, a, 4), 1);
    assert_addr(&a[0], "[::1]:443");
    ck_assert_uint_eq(a[0].len, sizeof(struct sockaddr_in6));
    ck_assert_int_eq(wk_resolve("[::1]", 443, AF_INET6, 0, a, 4), 1);
    assert_addr(&a[0], "[::1]:443");
}
END_TEST

START_TEST(localhost)
{
    wk_address a[4];
    int n = wk_resolve("localhost", 7878, AF_UNSPEC, SOCK_STREAM, a, 4);
    ck_assert_int_eq(n, 2);
    assert_addr(&a[0], "127.0.0.1:7878");
    assert_addr(&a[1], "[::1]:7878");
    ck_assert_int_eq(wk_resolve("LocalHost.", 1, AF_INET6, 0, a, 4), 1);
    assert_addr(&a[0], "[::1]:1");
    ck_assert_int_eq(wk_resolve("db.localhost", 2, AF_INET, 0, a, 4), 1);
    assert_addr(&a[0], "127.0.0.1:2");
    ck_assert_int_eq(wk_resolve("localhost", 3, AF_UNSPEC, 0, a, 1), 1); /* cap respected */
    /* Not in the domain: a name that only ends with the same letters goes to the resolver. */
    ck_assert_int_eq(wk_resolve("notlocalhost.invalid", 3, AF_UNSPEC, 0, a, 4), -ENXIO);
}
END_TEST

START_TEST(through_getaddrinfo)
{
    /* "127.1" is no literal for inet_pton (the fast path) but getaddrinfo reads it as
     * inet_aton does, without any network: the real lookup path, port set by us. */
    wk_address a[4];
    ck_assert_int_eq(wk_resolve("127.1", 5353, AF_UNSPEC, 0, a, 4), 1);
    assert_addr(&a[0], "127.0.0.1:5353");
    ck_assert_uint_eq(a[0].len, sizeof(struct sockaddr_in));
    ck_assert_int_eq(wk_resolve("0x7f000001", 7, AF_INET, SOCK_DGRAM, a, 4), 1);
    assert_addr(&a[0], "127.0.0.1:7");
    ck_assert_int_eq(wk_resolve("127.1", 7, AF_INET6, 0, a, 4), -ENXIO);
}
END_TEST

START_TEST(no_such_host)
{
    wk_address a[4];
    uint64_t t0 = wk_now_ns();
    int r = wk_resolve("no.such.host.invalid", 80, AF_UNSPEC, SOCK_STREAM, a, 4);
    ck_assert_int_eq(r, -ENXIO);
    ck_assert_str_eq(wk_strerror(r), "No such device or address");
    ck_assert_uint_lt(wk_now_ns() - t0, 100 * WK_NSEC_PER_MSEC);
}
END_TEST

START_TEST(bad_arguments)
{
    wk_address a[1];
    ck_assert_int_eq(wk_resolve(NULL, 1, AF_UNSPEC, 0, a, 1), -EINVAL);
    ck_assert_int_eq(wk_resolve("", 1, AF_UNSPEC, 0, a, 1), -EINVAL);
    ck_assert_int_eq(wk_resolve("127.0.0.1", 1, AF_UNSPEC, 0, a, 0), -EINVAL);
    ck_assert_int_eq(wk_resolve("127.0.0.1", 1, AF_UNIX, 0, a, 1), -EAFNOSUPPORT);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("resolve");
    TCase *tc = tcase_create("resolve");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, ipv4_literal);
    tcase_add_test(tc, ipv6_literal);
    tcase_add_test(tc, localhost);
    tcase_add_test(tc, through_getaddrinfo);
    tcase_add_test(tc, no_such_host);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    return check_run(s);
}
