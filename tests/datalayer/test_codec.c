/* tests/datalayer/test_codec.c: the wire format (golden bytes), the encoder, dl_buf,
 * round trips and dl_strerror. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "../check_run.h"

/* Serialises msg with dl_serialize and checks the exact bytes; then decodes them back. */
static void check_golden(const dl_data *msg, const uint8_t *want, size_t want_len)
{
    uint8_t *buf = malloc(want_len + 1);
    dl_data got;
    size_t used = 0;

    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(dl_encoded_size(msg), want_len);
    ck_assert_int_eq(dl_serialize(msg, buf, want_len + 1), (long)want_len);
    ck_assert_mem_eq(buf, want, want_len);

    ck_assert_int_eq(dl_deserialize(want, want_len, &used, &got, UINT32_MAX), DL_OK);
    ck_assert_uint_eq(used, want_len);
    ck_assert_uint_eq(got.field1, msg->field1);
    ck_assert_uint_eq(got.field2, msg->field2);
    ck_assert_uint_eq(got.field3_len, msg->field3_len);
    if (msg->field3_len > 0)
        ck_assert_mem_eq(got.field3, msg->field3, msg->field3_len);
    else
        ck_assert_ptr_null(got.field3);
    dl_data_free(&got);
    free(buf);
}

START_TEST(golden_hi)
{
    static const uint8_t want[] = {0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x02, 0x00, 0x00, 0x00, 0x68, 0x69};
    dl_data msg = {1, 2, 2, (uint8_t *)"hi"};
    check_golden(&msg, want, sizeof want);
}
END_TEST

START_TEST(golden_empty)
{
    static const uint8_t want[10] = {0};
    dl_data msg = {0, 0, 0, NULL};
    check_golden(&msg, want, sizeof want);
}
END_TEST

START_TEST(golden_le_order)
{
    /* Each byte of field1 and field2 differs, so any byte swap shows. */
    static const uint8_t want1[] = {0xEF, 0xBE, 0xAD, 0xDE, 0xEF, 0xBE, 0x02, 0x00, 0x00, 0x00, 'L', 'E'};
    static const uint8_t want2[] = {0x04, 0x03, 0x02, 0x01, 0x06, 0x05, 0x01, 0x00, 0x00, 0x00, 'a'};
    static const uint8_t want3[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00};
    dl_data m1 = {0xDEADBEEFu, 0xBEEF, 2, (uint8_t *)"LE"};
    dl_data m2 = {0x01020304u, 0x0506, 1, (uint8_t *)"a"};
    dl_data m3 = {UINT32_MAX, UINT16_MAX, 0, NULL};
    check_golden(&m1, want1, sizeof want1);
    check_golden(&m2, want2, sizeof want2);
    check_golden(&m3, want3, sizeof want3);
}
END_TEST

START_TEST(golden_non_ascii)
{
    /* "héllo wörld ✓ 🦀": é and ö are 2 bytes, ✓ 3, 🦀 4; 22 bytes in all. */
    static const uint8_t text[] = {
        'h', 0xC3, 0xA9, 'l', 'l', 'o', ' ', 'w', 0xC3, 0xB6, 'r', 'l', 'd', ' ',
        0xE2, 0x9C, 0x93, ' ', 0xF0, 0x9F, 0xA6, 0x80,
    };
    static const uint8_t want[] = {
        0x2A, 0x00, 0x00, 0x00, 0x07, 0x00, 0x16, 0x00, 0x00, 0x00,
        'h', 0xC3, 0xA9, 'l', 'l', 'o', ' ', 'w', 0xC3, 0xB6, 'r', 'l', 'd', ' ',
        0xE2, 0x9C, 0x93, ' ', 0xF0, 0x9F, 0xA6, 0x80,
    };
    const char *lit = "héllo wörld ✓ 🦀";
    dl_data msg = {42, 7, 22, (uint8_t *)lit};

    ck_assert_uint_eq(strlen(lit), sizeof text);
    ck_assert_mem_eq(lit, text, sizeof text);
    check_golden(&msg, want, sizeof want);
}
END_TEST

START_TEST(golden_nul_bytes)
{
    /* field3 is counted, never NUL-terminated: embedded NULs travel. */
    static const uint8_t want[] = {0x07, 0, 0, 0, 0x08, 0, 0x03, 0, 0, 0, 'a', 0x00, 'b'};
    dl_data msg = {7, 8, 3, (uint8_t *)"a\0b"};
    check_golden(&msg, want, sizeof want);
}
END_TEST

START_TEST(golden_64k)
{
    enum { N = 65536 };
    uint8_t *text = malloc(N), *want = malloc(DL_HEADER_SIZE + N);
    static const uint8_t head[DL_HEADER_SIZE] = {0x03, 0, 0, 0, 0x04, 0, 0x00, 0x00, 0x01, 0x00};
    dl_data msg = {3, 4, N, NULL};

    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(want);
    for (size_t i = 0; i < N; i++)
        text[i] = (uint8_t)('a' + i % 26);
    msg.field3 = text;
    memcpy(want, head, sizeof head);
    memcpy(want + DL_HEADER_SIZE, text, N);
    check_golden(&msg, want, DL_HEADER_SIZE + N);

    /* 65536 is the server's default maximum, so exactly that is still accepted. */
    dl_data got;
    ck_assert_int_eq(dl_deserialize(want, DL_HEADER_SIZE + N, NULL, &got, DL_DEFAULT_MAX_FIELD3), DL_OK);
    dl_data_free(&got);
    free(text);
    free(want);
}
END_TEST

/* 1 when got carries exactly f1, f2 and text[0..len). */
static int same_msg(const dl_data *got, uint32_t f1, uint16_t f2, const uint8_t *text, size_t len)
{
    return got->field1 == f1 && got->field2 == f2 && got->field3_len == len &&
           (len == 0 ? got->field3 == NULL : memcmp(got->field3, text, len) == 0);
}

/* The random message number iter draws: its text goes to text, its length is returned. */
static size_t rand_msg(rng *r, int iter, uint8_t *text, size_t cap, uint32_t *f1, uint16_t *f2)
{
    /* Mostly short strings, every tenth empty, every seventh up to cap bytes. */
    size_t len = iter % 10 == 0 ? 0 : (size_t)rng_below(r, iter % 7 == 0 ? cap : 40);
    rand_utf8(r, text, len);
    *f1 = (uint32_t)rng_next(r);
    *f2 = (uint16_t)rng_next(r);
    return len;
}

START_TEST(round_trip_random)
{
    enum { COUNT = 10000 };
    rng r;
    uint8_t text[600], wire[DL_HEADER_SIZE + sizeof text];
    dl_buf all;

    /* One check per message in the loops (ck_abort_msg only on failure): every ck_assert
     * records a checkpoint, which here would cost more than the work itself. */
    rng_seed(&r, 0x5EED0001u);
    dl_buf_init(&all);
    for (int iter = 0; iter < COUNT; iter++) {
        dl_data msg, got;
        size_t len = rand_msg(&r, iter, text, sizeof text, &msg.field1, &msg.field2), used = 0;
        msg.field3_len = (uint32_t)len;
        msg.field3 = text;
        if (!ref_utf8_valid(text, len))
            ck_abort_msg("iteration %d: generator made invalid UTF-8", iter);

        long n = dl_serialize(&msg, wire, sizeof wire);
        if (n != (long)(DL_HEADER_SIZE + len))
            ck_abort_msg("iteration %d: dl_serialize gave %ld", iter, n);
        int rc = dl_deserialize(wire, (size_t)n, &used, &got, DL_DEFAULT_MAX_FIELD3);
        if (rc != DL_OK || used != (size_t)n || !same_msg(&got, msg.field1, msg.field2, text, len))
            ck_abort_msg("iteration %d: round trip failed (%s)", iter, dl_strerror(rc));
        dl_data_free(&got);

        /* dl_serialize_append must produce the same bytes. */
        size_t before = all.len;
        rc = dl_serialize_append(&msg, &all);
        if (rc != DL_OK || all.len != before + (size_t)n || memcmp(all.bytes + before, wire, (size_t)n) != 0)
            ck_abort_msg("iteration %d: dl_serialize_append differs", iter);
    }

    /* The whole concatenation decodes back frame by frame, to the last byte. */
    rng_seed(&r, 0x5EED0001u);
    size_t off = 0;
    for (int iter = 0; iter < COUNT; iter++) {
        uint32_t f1;
        uint16_t f2;
        size_t len = rand_msg(&r, iter, text, sizeof text, &f1, &f2), used = 0;
        dl_data got;
        int rc = dl_deserialize(all.bytes + off, all.len - off, &used, &got, DL_DEFAULT_MAX_FIELD3);
        if (rc != DL_OK || used != DL_HEADER_SIZE + len || !same_msg(&got, f1, f2, text, len))
            ck_abort_msg("frame %d of the concatenation: %s", iter, dl_strerror(rc));
        dl_data_free(&got);
        off += used;
    }
    ck_assert_uint_eq(off, all.len);
    dl_buf_free(&all);
}
END_TEST

START_TEST(serialize_too_small)
{
    uint8_t buf[32];
    dl_data msg = {1, 2, 5, (uint8_t *)"hello"};

    for (size_t cap = 0; cap < 15; cap++) {
        memset(buf, 0xA5, sizeof buf);
        ck_assert_int_eq(dl_serialize(&msg, buf, cap), DL_ERR_BUFFER_TOO_SMALL);
        for (size_t i = 0; i < sizeof buf; i++)
            ck_assert_uint_eq(buf[i], 0xA5); /* nothing written, not even the header */
    }
    memset(buf, 0xA5, sizeof buf);
    ck_assert_int_eq(dl_serialize(&msg, buf, 15), 15);
    for (size_t i = 15; i < sizeof buf; i++)
        ck_assert_uint_eq(buf[i], 0xA5); /* nothing past the frame */

    /* Zero capacity may come with a NULL buffer. */
    ck_assert_int_eq(dl_serialize(&msg, NULL, 0), DL_ERR_BUFFER_TOO_SMALL);
    dl_data empty = {1, 2, 0, NULL};
    ck_assert_int_eq(dl_serialize(&empty, buf, 9), DL_ERR_BUFFER_TOO_SMALL);
    ck_assert_int_eq(dl_serialize(&empty, buf, 10), 10);
}
END_TEST

START_TEST(append_grows)
{
    dl_buf b = {0}; /* zero-initialised works as well as dl_buf_init */
    uint8_t text[300];
    size_t want_len = 0;

    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (uint8_t)('A' + i % 26);
    for (uint32_t i = 0; i < 2000; i++) {
        dl_data msg = {i, (uint16_t)(i * 3), i % sizeof text, text};
        size_t old_cap = b.cap;
        ck_assert_int_eq(dl_serialize_append(&msg, &b), DL_OK);
        want_len += DL_HEADER_SIZE + i % sizeof text;
        ck_assert_uint_eq(b.len, want_len);
        ck_assert_uint_ge(b.cap, b.len);
        ck_assert_uint_ge(b.cap, old_cap);
    }
    ck_assert_uint_gt(b.cap, 64);

    size_t off = 0;
    for (uint32_t i = 0; i < 2000; i++) {
        dl_data got;
        size_t used;
        ck_assert_int_eq(dl_deserialize(b.bytes + off, b.len - off, &used, &got, 1000), DL_OK);
        ck_assert_uint_eq(got.field1, i);
        ck_assert_uint_eq(got.field2, (uint16_t)(i * 3));
        ck_assert_uint_eq(got.field3_len, i % sizeof text);
        if (got.field3_len)
            ck_assert_mem_eq(got.field3, text, got.field3_len);
        dl_data_free(&got);
        off += used;
    }
    ck_assert_uint_eq(off, b.len);
    dl_buf_free(&b);
    ck_assert_ptr_null(b.bytes);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.cap, 0);
}
END_TEST

START_TEST(append_out_of_memory)
{
#ifdef DL_TEST_ALLOC_HOOK
    dl_buf b;
    dl_data msg = {1, 2, 2, (uint8_t *)"hi"};

    dl_buf_init(&b);
    ck_assert_int_eq(dl_serialize_append(&msg, &b), DL_OK);
    /* Grow until the next append has to reallocate, then make that realloc fail. */
    while (b.cap - b.len >= 12)
        ck_assert_int_eq(dl_serialize_append(&msg, &b), DL_OK);
    dl_buf saved = b;
    uint8_t copy[64];
    memcpy(copy, b.bytes, b.len);

    alloc_hook()->fail_after = 0;
    alloc_hook()->armed = 1; /* only around the call: Check allocates in its asserts */
    int rc = dl_serialize_append(&msg, &b);
    alloc_hook()->armed = 0;
    alloc_hook()->fail_after = -1;
    ck_assert_int_eq(rc, DL_ERR_NO_MEMORY);
    ck_assert_ptr_eq(b.bytes, saved.bytes);
    ck_assert_uint_eq(b.len, saved.len);
    ck_assert_uint_eq(b.cap, saved.cap);
    ck_assert_mem_eq(b.bytes, copy, b.len);

    ck_assert_int_eq(dl_serialize_append(&msg, &b), DL_OK); /* and it recovers */
    dl_buf_free(&b);
#endif
}
END_TEST

START_TEST(strerror_names)
{
    static const int codes[] = {
        DL_ERR_TRUNCATED, DL_ERR_TOO_LARGE, DL_ERR_INVALID_UTF8, DL_ERR_BUFFER_TOO_SMALL, DL_ERR_NO_MEMORY,
    };
    static const char *const words[] = {"truncated", "too large", "invalid UTF-8", "buffer too small", "out of memory"};
    const size_t n = sizeof codes / sizeof codes[0];

    for (size_t i = 0; i < n; i++) {
        const char *s = dl_strerror(codes[i]);
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_gt(strlen(s), 0);
        ck_assert_msg(strstr(s, words[i]) != NULL, "dl_strerror(%d) = \"%s\" lacks \"%s\"", codes[i], s, words[i]);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(s, dl_strerror(codes[j]));
        ck_assert_str_ne(s, dl_strerror(DL_OK));
    }
    /* Negative errno values, so that errno's table names them too (wrongly, as -EPERM...
     * -EIO, when they were -1..-5). */
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_lt(codes[i], 0);
        ck_assert_msg(strncmp(strerror(-codes[i]), "Unknown error", 13) != 0,
                      "%d is not a negative errno value", codes[i]);
    }
    ck_assert_int_eq(DL_ERR_TRUNCATED, -EPIPE);
    ck_assert_int_eq(DL_ERR_TOO_LARGE, -EMSGSIZE);
    ck_assert_int_eq(DL_ERR_INVALID_UTF8, -EILSEQ);
    ck_assert_int_eq(DL_ERR_BUFFER_TOO_SMALL, -ENOBUFS);
    ck_assert_int_eq(DL_ERR_NO_MEMORY, -ENOMEM);
    static const int unknown[] = {-1, -5, -6, -100, 1, 2, 12345, -2147483647 - 1};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = dl_strerror(unknown[i]);
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_gt(strlen(s), 0);
        ck_assert_msg(strstr(s, "unknown") != NULL, "dl_strerror(%d) = \"%s\"", unknown[i], s);
    }
}
END_TEST

START_TEST(data_free_null_safe)
{
    dl_data_free(NULL);
    dl_data msg = {1, 2, 3, malloc(3)};
    ck_assert_ptr_nonnull(msg.field3);
    dl_data_free(&msg);
    ck_assert_ptr_null(msg.field3);
    ck_assert_uint_eq(msg.field1, 0);
    ck_assert_uint_eq(msg.field3_len, 0);
    dl_data_free(&msg); /* twice is harmless */
}
END_TEST

static Suite *codec_suite(void)
{
    Suite *s = suite_create("codec");
    TCase *golden = tcase_create("golden");
    TCase *codec = tcase_create("codec");

    tcase_add_test(golden, golden_hi);
    tcase_add_test(golden, golden_empty);
    tcase_add_test(golden, golden_le_order);
    tcase_add_test(golden, golden_non_ascii);
    tcase_add_test(golden, golden_nul_bytes);
    tcase_add_test(golden, golden_64k);
    suite_add_tcase(s, golden);

    tcase_set_timeout(codec, 60);
    tcase_add_test(codec, round_trip_random);
    tcase_add_test(codec, serialize_too_small);
    tcase_add_test(codec, append_grows);
    tcase_add_test(codec, append_out_of_memory);
    tcase_add_test(codec, strerror_names);
    tcase_add_test(codec, data_free_null_safe);
    suite_add_tcase(s, codec);
    return s;
}

int main(void)
{
    return check_run(codec_suite());
}
