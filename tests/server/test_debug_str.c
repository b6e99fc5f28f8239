/* tests/server/test_debug_str.c: server/debug_str against Rust's `{:?}` for str.
 *
 * Every expected string below is what rustc 1.95.0 printed for
 * `println!("{:?}", s)` with the same s; the fingerprint test pins the whole table (the
 * count and an FNV-1a hash of the escaped code points, computed with the same rustc). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "debug_str.h"
#include "../check_run.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
/* A string literal and its length without the terminating NUL. */
#define LIT(s) s, sizeof(s) - 1

typedef struct dcase {
    const char *name;
    const char *in; /* UTF-8, len bytes: may hold NUL */
    size_t len;
    const char *want;
} dcase;

static const dcase cases[] = {
    {"plain ASCII", LIT("Hello, server! 1"), "\"Hello, server! 1\""},
    {"empty", LIT(""), "\"\""},
    {"short escapes",
     LIT("quote \" backslash \\ tab \t cr \r lf \n nul \0 end"),
     "\"quote \\\" backslash \\\\ tab \\t cr \\r lf \\n nul \\0 end\""},
    {"single quote as is", LIT("it's"), "\"it's\""},
    {"C0 and DEL", LIT("\x01\x07\x08\x0b\x0c\x1b\x1f\x7f"),
     "\"\\u{1}\\u{7}\\u{8}\\u{b}\\u{c}\\u{1b}\\u{1f}\\u{7f}\""},
    {"C1: U+0080 U+0085 U+009B U+009F", LIT("\xc2\x80\xc2\x85\xc2\x9b\xc2\x9f"),
     "\"\\u{80}\\u{85}\\u{9b}\\u{9f}\""},
    {"U+00A0 escaped, U+00A1 not", LIT("\xc2\xa0|\u00a1"), "\"\\u{a0}|\u00a1\""},
    {"U+00AD soft hyphen", LIT("\u00ad"), "\"\\u{ad}\""},
    {"U+200B U+200D", LIT("\u200b\u200d"), "\"\\u{200b}\\u{200d}\""},
    {"U+2028 U+2029", LIT("\u2028\u2029"), "\"\\u{2028}\\u{2029}\""},
    {"U+FEFF byte-order mark", LIT("\ufeff"), "\"\\u{feff}\""},
    {"U+FFFD printable", LIT("\ufffd"), "\"\ufffd\""},
    {"U+FFFF noncharacter", LIT("\xef\xbf\xbf"), "\"\\u{ffff}\""},
    {"U+E000 U+F8FF private use", LIT("\ue000\uf8ff"), "\"\\u{e000}\\u{f8ff}\""},
    {"U+0301 first, after a letter, doubled", LIT("\u0301a\u0301e\u0301\u0301"),
     "\"\\u{301}a\\u{301}e\\u{301}\\u{301}\""},
    {"emoji, ZWJ sequence, CJK, Hangul, Greek",
     LIT("\U0001f600\U0001f469\u200d\U0001f4bb \u65e5\u672c\u8a9e \ud55c\uad6d\uc5b4 "
         "\u03a9\u03bc\u03ad\u03b3\u03b1"),
     "\"\U0001f600\U0001f469\\u{200d}\U0001f4bb \u65e5\u672c\u8a9e \ud55c\uad6d\uc5b4 "
     "\u03a9\u03bc\u03ad\u03b3\u03b1\""},
    {"unassigned U+0378, tags, variation selectors, planes 15/16, CJK Ext G",
     LIT("\u0378\U000e0001\U000e0100\U000f0000\U0010ffff\U00030000\U0003347a\U0002fa1e"),
     "\"\\u{378}\\u{e0001}\\u{e0100}\\u{f0000}\\u{10ffff}\U00030000\\u{3347a}"
     "\\u{2fa1e}\""},
    {"U+E01EF, U+1D165 grapheme extend; U+1F3FB printable",
     LIT("\U000e01ef\U0001d165\U0001f3fb"), "\"\\u{e01ef}\\u{1d165}\U0001f3fb\""},
    {"2, 3 and 4-byte printable", LIT("\u00e9\u4e2d\U00010000"),
     "\"\u00e9\u4e2d\U00010000\""},
};

START_TEST(escape_table)
{
    const dcase *c = &cases[_i];
    char out[512];
    size_t n = debug_str_escape((const uint8_t *)c->in, c->len, out, sizeof out);
    ck_assert_msg(strcmp(out, c->want) == 0, "%s: got %s, want %s", c->name, out, c->want);
    ck_assert_uint_eq(n, strlen(c->want));
}
END_TEST

/* The FILE writer gives the same bytes as the buffer one. */
START_TEST(write_table)
{
    const dcase *c = &cases[_i];
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    ck_assert_ptr_nonnull(f);
    flockfile(f);
    debug_str_write(f, (const uint8_t *)c->in, c->len);
    funlockfile(f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_msg(size == strlen(c->want) && memcmp(buf, c->want, size) == 0,
                  "%s: got %.*s, want %s", c->name, (int)size, buf, c->want);
    free(buf);
}
END_TEST

/* snprintf's contract: the full length back, cap - 1 bytes and a NUL written, nothing
 * past cap touched, and cap 0 writes nothing. */
START_TEST(truncation)
{
    const uint8_t in[] = "a\n\xc2\x85z"; /* "a\nU+0085z" -> "a\\n\\u{85}z" quoted */
    const char *want = "\"a\\n\\u{85}z\"";
    size_t full = strlen(want);
    for (size_t cap = 0; cap <= full + 2; cap++) {
        char out[32];
        memset(out, '#', sizeof out);
        size_t n = debug_str_escape(in, sizeof in - 1, cap ? out : NULL, cap);
        ck_assert_uint_eq(n, full);
        if (cap == 0)
            continue;
        size_t kept = cap - 1 < full ? cap - 1 : full;
        ck_assert_msg(memcmp(out, want, kept) == 0 && out[kept] == '\0',
                      "cap %zu: got %s", cap, out);
        for (size_t i = kept + 1; i < sizeof out; i++)
            ck_assert_msg(out[i] == '#', "cap %zu: byte %zu written", cap, i);
    }
}
END_TEST

/* Not reachable from the server (the decoder rejects it first), but defined: each byte
 * that does not start a well-formed sequence is one U+FFFD, and a sequence cut by the end
 * of the input is not read past it. */
START_TEST(malformed)
{
    char out[64];
    const uint8_t in[] = {'a', 0xff, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 'b', 0xe2, 0x82};
    debug_str_escape(in, sizeof in, out, sizeof out);
    ck_assert_str_eq(out, "\"a\ufffd\ufffd\ufffd\ufffd\ufffd\ufffdb\ufffd\ufffd\"");
    const uint8_t cut[] = {0xf0, 0x9f, 0x98, 0x80};
    debug_str_escape(cut, 3, out, sizeof out);
    ck_assert_str_eq(out, "\"\ufffd\ufffd\ufffd\"");
}
END_TEST

START_TEST(escapes_points)
{
    ck_assert(!debug_str_escapes(' '));
    ck_assert(!debug_str_escapes('~'));
    ck_assert(debug_str_escapes(0x7f));
    ck_assert(debug_str_escapes(0x1));
    ck_assert(!debug_str_escapes(0));    /* \0 */
    ck_assert(!debug_str_escapes('\n')); /* \n */
    ck_assert(!debug_str_escapes('"'));  /* \" */
    ck_assert(debug_str_escapes(0x9f));
    ck_assert(debug_str_escapes(0xa0));
    ck_assert(!debug_str_escapes(0xa1));
    ck_assert(debug_str_escapes(0x300));  /* first combining mark */
    ck_assert(debug_str_escapes(0x36f));  /* last of the block */
    ck_assert(!debug_str_escapes(0x370)); /* Greek */
    ck_assert(!debug_str_escapes(0xd800)); /* not a scalar value */
    ck_assert(!debug_str_escapes(0x110000));
    ck_assert(debug_str_escapes(0x10ffff));
}
END_TEST

/* The whole table against rustc 1.95.0: how many scalar values Debug escapes as \u{..},
 * and FNV-1a (64 bit) over those code points in order, each as 4 little-endian bytes. */
START_TEST(fingerprint)
{
    uint32_t count = 0;
    uint64_t h = 0xcbf29ce484222325u;
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        if (!debug_str_escapes(cp))
            continue;
        count++;
        for (int b = 0; b < 4; b++) {
            h ^= (cp >> (8 * b)) & 0xff;
            h *= 0x100000001b3u;
        }
    }
    ck_assert_uint_eq(count, 954582);
    ck_assert_msg(h == 0x55ac505d6b10c241u, "hash %#llx", (unsigned long long)h);
}
END_TEST

static Suite *debug_str_suite(void)
{
    Suite *s = suite_create("debug_str");
    TCase *t = tcase_create("rust");
    tcase_add_loop_test(t, escape_table, 0, (int)NELEM(cases));
    tcase_add_loop_test(t, write_table, 0, (int)NELEM(cases));
    tcase_add_test(t, truncation);
    tcase_add_test(t, malformed);
    tcase_add_test(t, escapes_points);
    tcase_add_test(t, fingerprint);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return check_run(debug_str_suite());
}
