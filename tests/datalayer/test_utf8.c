/* tests/datalayer/test_utf8.c: strict UTF-8 validation, by table, exhaustively against a
 * reference validator, through the decoder, and next to a guard page. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "../check_run.h"

typedef struct seq {
    const char *name;
    uint8_t len;
    uint8_t bytes[16];
} seq;

/* Ill-formed input, mostly from the Unicode Standard ch. 3 (Table 3-8 and the U+FFFD
 * substitution examples) and Markus Kuhn's UTF-8 stress test. */
static const seq invalid[] = {
    {"overlong '/' C0 AF", 2, {0xC0, 0xAF}},
    {"overlong C1 BF", 2, {0xC1, 0xBF}},
    {"overlong NUL C0 80", 2, {0xC0, 0x80}},
    {"overlong 3-byte E0 80 AF", 3, {0xE0, 0x80, 0xAF}},
    {"overlong U+07FF E0 9F BF", 3, {0xE0, 0x9F, 0xBF}},
    {"surrogate U+D800 ED A0 80", 3, {0xED, 0xA0, 0x80}},
    {"surrogate U+DFFF ED BF BF", 3, {0xED, 0xBF, 0xBF}},
    {"surrogate pair (CESU-8)", 6, {0xED, 0xA0, 0xBD, 0xED, 0xB2, 0x80}},
    {"overlong 4-byte F0 80 80 AF", 4, {0xF0, 0x80, 0x80, 0xAF}},
    {"overlong U+FFFF F0 8F BF BF", 4, {0xF0, 0x8F, 0xBF, 0xBF}},
    {"above U+10FFFF F4 90 80 80", 4, {0xF4, 0x90, 0x80, 0x80}},
    {"F5 lead", 4, {0xF5, 0x80, 0x80, 0x80}},
    {"F7 BF BF BF (U+1FFFFF)", 4, {0xF7, 0xBF, 0xBF, 0xBF}},
    {"5-byte form F8 88 80 80 80", 5, {0xF8, 0x88, 0x80, 0x80, 0x80}},
    {"6-byte form FC 84 80 80 80 80", 6, {0xFC, 0x84, 0x80, 0x80, 0x80, 0x80}},
    {"FE", 1, {0xFE}},
    {"FF", 1, {0xFF}},
    {"lone continuation 80", 1, {0x80}},
    {"lone continuation BF", 1, {0xBF}},
    {"continuations 80 BF 80 BF", 4, {0x80, 0xBF, 0x80, 0xBF}},
    {"truncated 2-byte C3", 1, {0xC3}},
    {"truncated 3-byte E2 82", 2, {0xE2, 0x82}},
    {"truncated 3-byte E0 A0", 2, {0xE0, 0xA0}},
    {"truncated 4-byte F0 9F A6", 3, {0xF0, 0x9F, 0xA6}},
    {"truncated 4-byte F4 8F", 2, {0xF4, 0x8F}},
    {"lead then ASCII C2 41", 2, {0xC2, 0x41}},
    {"lead then ASCII E0 A0 41", 3, {0xE0, 0xA0, 0x41}},
    {"lead then ASCII F1 80 80 41", 4, {0xF1, 0x80, 0x80, 0x41}},
    {"two leads C2 C2 80", 3, {0xC2, 0xC2, 0x80}},
    {"extra continuation C2 80 80", 3, {0xC2, 0x80, 0x80}},
    {"Unicode 3.9 Table 3-8", 9, {0xC0, 0xAF, 0xE0, 0x80, 0xBF, 0xF0, 0x81, 0x82, 0x41}},
    {"U+FFFD example: surrogates", 9, {0xED, 0xA0, 0x80, 0xED, 0xBF, 0xBF, 0xED, 0xAF, 0x41}},
    {"U+FFFD example: out of range", 9, {0xF4, 0x91, 0x92, 0x93, 0xFF, 0x41, 0x80, 0xBF, 0x42}},
    {"U+FFFD example: truncations", 9, {0xE1, 0x80, 0xE2, 0xF0, 0x91, 0x92, 0xF1, 0xBF, 0x41}},
    {"U+FFFD example: mixed", 13, {0x61, 0xF1, 0x80, 0x80, 0xE1, 0x80, 0xC2, 0x62, 0x80, 0x63, 0x80, 0xBF, 0x64}},
};

static const seq valid[] = {
    {"NUL", 1, {0x00}},
    {"U+007F", 1, {0x7F}},
    {"U+0080", 2, {0xC2, 0x80}},
    {"U+07FF", 2, {0xDF, 0xBF}},
    {"U+0800", 3, {0xE0, 0xA0, 0x80}},
    {"U+D7FF", 3, {0xED, 0x9F, 0xBF}},
    {"U+E000", 3, {0xEE, 0x80, 0x80}},
    {"U+FEFF (BOM)", 3, {0xEF, 0xBB, 0xBF}},
    {"U+FFFD", 3, {0xEF, 0xBF, 0xBD}},
    {"U+FFFF", 3, {0xEF, 0xBF, 0xBF}},
    {"U+10000", 4, {0xF0, 0x90, 0x80, 0x80}},
    {"U+1F980 crab", 4, {0xF0, 0x9F, 0xA6, 0x80}},
    {"U+10FFFF", 4, {0xF4, 0x8F, 0xBF, 0xBF}},
    {"mixed widths", 10, {'a', 0xC3, 0xA9, 0xE2, 0x9C, 0x93, 0xF0, 0x9F, 0xA6, 0x80}},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Puts `pre` ASCII bytes, the sequence and `post` ASCII bytes into out; the ASCII around
 * it walks the sequence across the 8-byte fast path's word boundaries. */
static size_t surround(const seq *q, size_t pre, size_t post, uint8_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < pre; i++)
        out[n++] = (uint8_t)('a' + i % 26);
    memcpy(out + n, q->bytes, q->len);
    n += q->len;
    for (size_t i = 0; i < post; i++)
        out[n++] = (uint8_t)('A' + i % 26);
    return n;
}

/* Decodes text as the field3 of a frame, whole and one byte at a time. */
static int decode_as_field3(const uint8_t *text, size_t len, int bytewise)
{
    uint8_t frame[64];
    dl_data msg = {1, 2, (uint32_t)len, (uint8_t *)text}, out;
    long n = dl_serialize(&msg, frame, sizeof frame);
    int rc;

    ck_assert_int_gt(n, 0);
    if (!bytewise) {
        rc = dl_deserialize(frame, (size_t)n, NULL, &out, 1000);
        if (rc != DL_OK)
            ck_assert_ptr_null(out.field3);
        dl_data_free(&out);
        return rc;
    }
    dl_decoder d;
    dl_decoder_init(&d, 1000);
    for (long i = 0; i < n; i++) {
        size_t used = 0;
        rc = dl_decoder_feed(&d, frame + i, 1, &used, NULL);
        if (rc < 0) {
            ck_assert_int_eq(i, n - 1); /* UTF-8 is judged only once field3 is complete */
            ck_assert_ptr_null(d.msg.field3);
            ck_assert_int_eq(dl_decoder_finish(&d), rc);
            dl_decoder_free(&d);
            return rc;
        }
        ck_assert_uint_eq(used, 1);
    }
    ck_assert_int_eq(rc, DL_DECODE_COMPLETE);
    ck_assert_int_eq(dl_decoder_take(&d, &out), DL_OK);
    dl_data_free(&out);
    dl_decoder_free(&d);
    return DL_OK;
}

START_TEST(invalid_table)
{
    const seq *q = &invalid[_i];
    uint8_t buf[64];

    ck_assert_msg(!ref_utf8_valid(q->bytes, q->len), "reference accepts %s", q->name);
    for (size_t pre = 0; pre <= 17; pre++) {
        for (size_t post = 0; post <= 9; post += 9) {
            size_t n = surround(q, pre, post, buf);
            ck_assert_msg(!dl_utf8_valid(buf, n), "accepted %s (pre %zu, post %zu)", q->name, pre, post);
        }
    }
    ck_assert_int_eq(decode_as_field3(q->bytes, q->len, 0), DL_ERR_INVALID_UTF8);
    ck_assert_int_eq(decode_as_field3(q->bytes, q->len, 1), DL_ERR_INVALID_UTF8);
    size_t n = surround(q, 11, 3, buf);
    ck_assert_int_eq(decode_as_field3(buf, n, 0), DL_ERR_INVALID_UTF8);
}
END_TEST

START_TEST(valid_table)
{
    const seq *q = &valid[_i];
    uint8_t buf[64];

    ck_assert_msg(ref_utf8_valid(q->bytes, q->len), "reference rejects %s", q->name);
    for (size_t pre = 0; pre <= 17; pre++) {
        for (size_t post = 0; post <= 9; post += 9) {
            size_t n = surround(q, pre, post, buf);
            ck_assert_msg(dl_utf8_valid(buf, n), "rejected %s (pre %zu, post %zu)", q->name, pre, post);
        }
    }
    ck_assert_int_eq(decode_as_field3(q->bytes, q->len, 0), DL_OK);
    ck_assert_int_eq(decode_as_field3(q->bytes, q->len, 1), DL_OK);
}
END_TEST

START_TEST(empty_and_ascii)
{
    uint8_t buf[300];

    ck_assert(dl_utf8_valid(NULL, 0));
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i % 128);
    for (size_t len = 0; len <= sizeof buf; len++)
        ck_assert(dl_utf8_valid(buf, len));
    /* One high byte anywhere in a long ASCII run is caught, whatever its word position. */
    for (size_t pos = 0; pos < 40; pos++) {
        for (size_t len = pos + 1; len < 48; len++) {
            memset(buf, 'x', len);
            buf[pos] = 0x80;
            ck_assert_msg(!dl_utf8_valid(buf, len), "0x80 at %zu of %zu", pos, len);
            buf[pos] = 0xFF;
            ck_assert(!dl_utf8_valid(buf, len));
        }
    }
    /* Unaligned starts: the fast path must not care about alignment. */
    memset(buf, 'y', sizeof buf);
    for (size_t off = 0; off < 16; off++)
        ck_assert(dl_utf8_valid(buf + off, 100));
}
END_TEST

START_TEST(every_code_point)
{
    uint8_t buf[32];

    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        size_t n = ref_utf8_encode(cp, buf);
        int want = !(cp >= 0xD800 && cp <= 0xDFFF);
        /* Plain if + ck_abort_msg in the hot loops: every ck_assert records a
         * checkpoint, which costs more than the check itself. */
        if (dl_utf8_valid(buf, n) != want)
            ck_abort_msg("U+%04X: got %d", (unsigned)cp, !want);
        /* The same after ASCII, so the fast path hands over to the slow one. */
        if (cp % 97 == 0) {
            memmove(buf + 9, buf, n);
            memset(buf, 'z', 9);
            if (dl_utf8_valid(buf, n + 9) != want)
                ck_abort_msg("U+%04X after ASCII: got %d", (unsigned)cp, !want);
        }
    }
    /* Code points past the ceiling, encoded the way a lax encoder would. */
    for (uint32_t cp = 0x110000; cp <= 0x1FFFFF; cp += 0x1001) {
        size_t n = ref_utf8_encode(cp, buf);
        ck_assert_uint_eq(n, 4);
        ck_assert_msg(!dl_utf8_valid(buf, n), "U+%X accepted", (unsigned)cp);
    }
}
END_TEST

START_TEST(all_short_inputs)
{
    uint8_t buf[3];

    for (unsigned a = 0; a < 256; a++) {
        buf[0] = (uint8_t)a;
        ck_assert_int_eq(dl_utf8_valid(buf, 1), ref_utf8_valid(buf, 1));
        for (unsigned b = 0; b < 256; b++) {
            buf[1] = (uint8_t)b;
            if (dl_utf8_valid(buf, 2) != ref_utf8_valid(buf, 2))
                ck_abort_msg("%02X %02X: got %d", a, b, dl_utf8_valid(buf, 2));
        }
    }
    /* All 3-byte inputs that start with a non-ASCII byte (with an ASCII start they are
     * just the 2-byte inputs again). */
    for (unsigned a = 0x80; a < 256; a++) {
        buf[0] = (uint8_t)a;
        for (unsigned b = 0; b < 256; b++) {
            buf[1] = (uint8_t)b;
            for (unsigned c = 0; c < 256; c++) {
                buf[2] = (uint8_t)c;
                if (dl_utf8_valid(buf, 3) != ref_utf8_valid(buf, 3))
                    ck_abort_msg("%02X %02X %02X: got %d", a, b, c, dl_utf8_valid(buf, 3));
            }
        }
    }
}
END_TEST

START_TEST(random_against_reference)
{
    rng r;
    uint8_t buf[64];

    rng_seed(&r, 0x5EED0002u);
    for (int iter = 0; iter < 200000; iter++) {
        size_t len = (size_t)rng_below(&r, sizeof buf);
        /* Valid text with a few bytes flipped: mostly near-misses. */
        rand_utf8(&r, buf, len);
        for (uint64_t k = rng_below(&r, 3); k > 0 && len > 0; k--)
            buf[rng_below(&r, len)] = (uint8_t)rng_next(&r);
        if (dl_utf8_valid(buf, len) != ref_utf8_valid(buf, len))
            ck_abort_msg("iteration %d: disagrees with the reference", iter);
    }
}
END_TEST

START_TEST(guard_page)
{
    uint8_t *end = guard_page_alloc();
    static const seq tails[] = {
        {"ASCII", 1, {'q'}},
        {"2-byte", 2, {0xC3, 0xA9}},
        {"3-byte", 3, {0xE2, 0x9C, 0x93}},
        {"4-byte", 4, {0xF0, 0x9F, 0xA6, 0x80}},
    };

    ck_assert_ptr_nonnull(end);
    /* Strings that end exactly at the boundary: any read past it faults. */
    for (size_t len = 0; len <= 64; len++) {
        memset(end - len, 'k', len);
        ck_assert(dl_utf8_valid(end - len, len));
        for (size_t t = 0; t < NELEM(tails); t++) {
            if (tails[t].len > len)
                continue;
            memcpy(end - tails[t].len, tails[t].bytes, tails[t].len);
            ck_assert(dl_utf8_valid(end - len, len));
            memset(end - tails[t].len, 'k', tails[t].len);
            /* The same character cut short by the boundary: invalid, found without
             * looking past it. */
            size_t cut = tails[t].len - 1u;
            if (cut > 0) {
                memcpy(end - cut, tails[t].bytes, cut);
                ck_assert(!dl_utf8_valid(end - len, len));
                memset(end - cut, 'k', cut);
            }
        }
        /* A lead byte as the very last byte. */
        static const uint8_t leads[] = {0xC2, 0xE0, 0xE2, 0xED, 0xF0, 0xF4};
        for (size_t k = 0; k < NELEM(leads) && len > 0; k++) {
            end[-1] = leads[k];
            ck_assert(!dl_utf8_valid(end - len, len));
            end[-1] = 'k';
        }
        /* Truncated multi-byte at the boundary. */
        if (len >= 2) {
            end[-2] = 0xE2;
            end[-1] = 0x82;
            ck_assert(!dl_utf8_valid(end - len, len));
            end[-2] = end[-1] = 'k';
        }
        if (len >= 3) {
            end[-3] = 0xF0;
            end[-2] = 0x9F;
            end[-1] = 0xA6;
            ck_assert(!dl_utf8_valid(end - len, len));
            end[-3] = end[-2] = end[-1] = 'k';
        }
    }
    guard_page_free(end);
}
END_TEST

static Suite *utf8_suite(void)
{
    Suite *s = suite_create("utf8");
    TCase *tables = tcase_create("tables");
    TCase *exhaustive = tcase_create("exhaustive");

    tcase_add_loop_test(tables, invalid_table, 0, (int)NELEM(invalid));
    tcase_add_loop_test(tables, valid_table, 0, (int)NELEM(valid));
    tcase_add_test(tables, empty_and_ascii);
    tcase_add_test(tables, guard_page);
    suite_add_tcase(s, tables);

    tcase_set_timeout(exhaustive, 60);
    tcase_add_test(exhaustive, every_code_point);
    tcase_add_test(exhaustive, all_short_inputs);
    tcase_add_test(exhaustive, random_against_reference);
    suite_add_tcase(s, exhaustive);
    return s;
}

int main(void)
{
    return check_run(utf8_suite());
}
