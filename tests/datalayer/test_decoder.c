/* tests/datalayer/test_decoder.c: the incremental decoder and dl_deserialize: splits,
 * truncation at every offset, the length limit, back-to-back frames, guard pages. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "../check_run.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Encodes a message into a fresh malloc'd buffer. */
static uint8_t *encode(uint32_t f1, uint16_t f2, const char *text, size_t len, size_t *size)
{
    dl_data msg = {f1, f2, (uint32_t)len, (uint8_t *)text};
    uint8_t *buf = malloc(dl_encoded_size(&msg));

    ck_assert_ptr_nonnull(buf);
    *size = (size_t)dl_serialize(&msg, buf, dl_encoded_size(&msg));
    ck_assert_uint_eq(*size, DL_HEADER_SIZE + len);
    return buf;
}

static void assert_msg_eq(const dl_data *got, uint32_t f1, uint16_t f2, const char *text, size_t len)
{
    ck_assert_uint_eq(got->field1, f1);
    ck_assert_uint_eq(got->field2, f2);
    ck_assert_uint_eq(got->field3_len, len);
    if (len > 0)
        ck_assert_mem_eq(got->field3, text, len);
    else
        ck_assert_ptr_null(got->field3);
}

/* Feeds frame[0..size) in pieces: whole (r NULL, step 0), step bytes at a time, or in
 * random pieces from r.  Every piece before the last must answer NEED_MORE with all of it
 * consumed; the last must complete exactly at the end. */
static void decode_pieces(const uint8_t *frame, size_t size, size_t step, rng *r, dl_data *out)
{
    dl_decoder d;
    size_t off = 0;
    int rc = DL_DECODE_NEED_MORE;

    dl_decoder_init(&d, DL_DEFAULT_MAX_FIELD3);
    while (off < size) {
        size_t n = size - off;
        if (r != NULL)
            n = 1 + (size_t)rng_below(r, n < 24 ? n : 24);
        else if (step > 0 && step < n)
            n = step;
        size_t used = 99, need = 0;
        rc = dl_decoder_feed(&d, frame + off, n, &used, &need);
        ck_assert_uint_eq(used, n);
        off += used;
        if (off < size) {
            ck_assert_int_eq(rc, DL_DECODE_NEED_MORE);
            ck_assert_uint_ge(need, 1);
            ck_assert_uint_le(need, size - off);
            ck_assert_int_eq(dl_decoder_finish(&d), DL_ERR_TRUNCATED);
        }
    }
    ck_assert_int_eq(rc, DL_DECODE_COMPLETE);
    ck_assert_int_eq(dl_decoder_finish(&d), DL_OK);
    ck_assert_int_eq(dl_decoder_take(&d, out), DL_OK);
    ck_assert_int_eq(dl_decoder_finish(&d), DL_OK); /* ready for the next, none begun */
    dl_decoder_free(&d);
}

static const struct {
    uint32_t f1;
    uint16_t f2;
    const char *text;
} samples[] = {
    {1, 2, "hi"},
    {0, 0, ""},
    {0xDEADBEEFu, 0xBEEF, "h\xC3\xA9llo w\xC3\xB6rld \xE2\x9C\x93 \xF0\x9F\xA6\x80"},
    {7, 65535, "a\xF4\x8F\xBF\xBF" "b"},
    {UINT32_MAX, 1, "the quick brown fox jumps over the lazy dog, 0123456789"},
};

START_TEST(splits_agree)
{
    const char *text = samples[_i].text;
    size_t len = strlen(text), size;
    uint8_t *frame = encode(samples[_i].f1, samples[_i].f2, text, len, &size);
    rng r;
    dl_data got;

    decode_pieces(frame, size, 0, NULL, &got); /* whole */
    assert_msg_eq(&got, samples[_i].f1, samples[_i].f2, text, len);
    dl_data_free(&got);
    for (size_t step = 1; step <= 11; step++) {
        decode_pieces(frame, size, step, NULL, &got);
        assert_msg_eq(&got, samples[_i].f1, samples[_i].f2, text, len);
        dl_data_free(&got);
    }
    rng_seed(&r, 0x5EED0003u + (uint64_t)_i);
    for (int k = 0; k < 500; k++) {
        decode_pieces(frame, size, 0, &r, &got);
        assert_msg_eq(&got, samples[_i].f1, samples[_i].f2, text, len);
        dl_data_free(&got);
    }
    free(frame);
}
END_TEST

START_TEST(cut_at_every_offset)
{
    const char *text = samples[_i].text;
    size_t len = strlen(text), size;
    uint8_t *frame = encode(samples[_i].f1, samples[_i].f2, text, len, &size);

    for (size_t cut = 0; cut < size; cut++) {
        dl_decoder d;
        dl_data got;
        size_t used = 99, need = 0;
        size_t missing = size - cut;

        dl_decoder_init(&d, DL_DEFAULT_MAX_FIELD3);
        ck_assert_int_eq(dl_decoder_feed(&d, frame, cut, &used, &need), DL_DECODE_NEED_MORE);
        ck_assert_uint_eq(used, cut);
        ck_assert_uint_ge(need, 1);
        ck_assert_uint_le(need, missing);
        /* The least that can finish it: the rest of the header while the length is
         * unknown (it may be 0), then the rest of field3. */
        ck_assert_uint_eq(need, cut < DL_HEADER_SIZE ? DL_HEADER_SIZE - cut : missing);
        ck_assert_int_eq(dl_decoder_finish(&d), cut == 0 ? DL_OK : DL_ERR_TRUNCATED);
        ck_assert_int_eq(dl_decoder_take(&d, &got), DL_ERR_TRUNCATED);
        ck_assert_ptr_null(got.field3);

        /* Feeding exactly `need` bytes at a time never overshoots and finishes it. */
        size_t off = cut;
        int rc = DL_DECODE_NEED_MORE;
        while (rc == DL_DECODE_NEED_MORE) {
            ck_assert_uint_le(off + need, size);
            rc = dl_decoder_feed(&d, frame + off, need, &used, &need);
            off += used;
        }
        ck_assert_int_eq(rc, DL_DECODE_COMPLETE);
        ck_assert_uint_eq(off, size);
        ck_assert_int_eq(dl_decoder_take(&d, &got), DL_OK);
        assert_msg_eq(&got, samples[_i].f1, samples[_i].f2, text, len);
        dl_data_free(&got);
        dl_decoder_free(&d);

        memset(&got, 0x5A, sizeof got);
        ck_assert_int_eq(dl_deserialize(frame, cut, &used, &got, DL_DEFAULT_MAX_FIELD3), DL_ERR_TRUNCATED);
        ck_assert_ptr_null(got.field3);
    }
    free(frame);
}
END_TEST

/* A header announcing `n` bytes of field3. */
static void header(uint8_t *h, uint32_t n)
{
    memset(h, 0x11, 6);
    h[6] = (uint8_t)n;
    h[7] = (uint8_t)(n >> 8);
    h[8] = (uint8_t)(n >> 16);
    h[9] = (uint8_t)(n >> 24);
}

/* Arm the allocation counter only around calls into the data layer: Check allocates
 * inside its assertions. */
static void arm(void)
{
    alloc_hook()->armed = 1;
}

static long disarm(void)
{
    alloc_hook()->armed = 0;
    return alloc_hook()->mallocs + alloc_hook()->reallocs;
}

START_TEST(too_large_at_header)
{
    uint8_t buf[DL_HEADER_SIZE + 100];
    dl_decoder d;
    dl_data out;
    size_t used = 99, need = 99;
    int rc;
    long allocs = disarm();

    header(buf, 0xFFFFFFFFu);
    memset(buf + DL_HEADER_SIZE, 'x', 100);

    /* Just the header: rejected right then, nothing allocated. */
    dl_decoder_init(&d, DL_DEFAULT_MAX_FIELD3);
    arm();
    rc = dl_decoder_feed(&d, buf, DL_HEADER_SIZE, &used, &need);
    ck_assert_int_eq(disarm(), allocs);
    ck_assert_int_eq(rc, DL_ERR_TOO_LARGE);
    ck_assert_uint_le(used, DL_HEADER_SIZE);
    ck_assert_ptr_null(d.msg.field3);
    ck_assert_int_eq(dl_decoder_finish(&d), DL_ERR_TOO_LARGE);
    /* A failed decoder stays failed and consumes nothing. */
    ck_assert_int_eq(dl_decoder_feed(&d, buf + DL_HEADER_SIZE, 100, &used, &need), DL_ERR_TOO_LARGE);
    ck_assert_uint_eq(used, 0);
    ck_assert_int_eq(dl_decoder_take(&d, &out), DL_ERR_TRUNCATED);
    dl_decoder_free(&d);

    /* With body bytes behind it in the same call: still nothing past the header taken. */
    dl_decoder_init(&d, DL_DEFAULT_MAX_FIELD3);
    arm();
    rc = dl_decoder_feed(&d, buf, sizeof buf, &used, NULL);
    ck_assert_int_eq(disarm(), allocs);
    ck_assert_int_eq(rc, DL_ERR_TOO_LARGE);
    ck_assert_uint_eq(used, DL_HEADER_SIZE);
    ck_assert_ptr_null(d.msg.field3);
    dl_decoder_free(&d);

    /* One byte at a time: need-more up to the 10th byte, then the error. */
    dl_decoder_init(&d, DL_DEFAULT_MAX_FIELD3);
    for (size_t i = 0; i < DL_HEADER_SIZE - 1; i++)
        ck_assert_int_eq(dl_decoder_feed(&d, buf + i, 1, NULL, NULL), DL_DECODE_NEED_MORE);
    arm();
    rc = dl_decoder_feed(&d, buf + DL_HEADER_SIZE - 1, 1, &used, NULL);
    ck_assert_int_eq(disarm(), allocs);
    ck_assert_int_eq(rc, DL_ERR_TOO_LARGE);
    ck_assert_uint_eq(used, 1);
    ck_assert_ptr_null(d.msg.field3);
    dl_decoder_free(&d);

    arm();
    rc = dl_deserialize(buf, sizeof buf, &used, &out, DL_DEFAULT_MAX_FIELD3);
    ck_assert_int_eq(disarm(), allocs);
    ck_assert_int_eq(rc, DL_ERR_TOO_LARGE);
    ck_assert_ptr_null(out.field3);

#ifdef DL_TEST_ALLOC_HOOK
    /* The counter is live: the same call with a sane length does allocate. */
    header(buf, 100);
    arm();
    rc = dl_deserialize(buf, sizeof buf, &used, &out, DL_DEFAULT_MAX_FIELD3);
    ck_assert_int_eq(disarm(), allocs + 1);
    ck_assert_int_eq(rc, DL_OK);
    dl_data_free(&out);
#endif
}
END_TEST

START_TEST(limit_boundary)
{
    static const uint32_t maxes[] = {0, 1, 16, 1000, DL_DEFAULT_MAX_FIELD3};
    uint32_t max = maxes[_i];
    uint8_t *buf = malloc(DL_HEADER_SIZE + (size_t)max + 1);
    dl_data out;
    size_t used;

    ck_assert_ptr_nonnull(buf);
    memset(buf + DL_HEADER_SIZE, 'm', (size_t)max + 1);

    header(buf, max); /* exactly the maximum: accepted */
    ck_assert_int_eq(dl_deserialize(buf, DL_HEADER_SIZE + max, &used, &out, max), DL_OK);
    ck_assert_uint_eq(used, DL_HEADER_SIZE + max);
    ck_assert_uint_eq(out.field3_len, max);
    dl_data_free(&out);

    header(buf, max + 1); /* one more: rejected, even with every byte present */
    ck_assert_int_eq(dl_deserialize(buf, DL_HEADER_SIZE + max + 1, &used, &out, max), DL_ERR_TOO_LARGE);
    ck_assert_ptr_null(out.field3);

    dl_decoder d;
    dl_decoder_init(&d, max);
    ck_assert_int_eq(dl_decoder_feed(&d, buf, DL_HEADER_SIZE, &used, NULL), DL_ERR_TOO_LARGE);
    ck_assert_ptr_null(d.msg.field3);
    dl_decoder_free(&d);
    free(buf);
}
END_TEST

START_TEST(allocates_once_exact)
{
#ifdef DL_TEST_ALLOC_HOOK
    static const size_t lens[] = {0, 1, 2, 9, 10, 11, 100, 5000};
    for (size_t k = 0; k < NELEM(lens); k++) {
        size_t size, used;
        char *text = malloc(lens[k] + 1);
        ck_assert_ptr_nonnull(text);
        memset(text, 'e', lens[k]);
        uint8_t *frame = encode(9, 9, text, lens[k], &size);
        dl_decoder d;
        int rc = DL_DECODE_NEED_MORE;

        dl_decoder_init(&d, DL_DEFAULT_MAX_FIELD3);
        long before = disarm();
        arm();
        for (size_t i = 0; i < size && rc == DL_DECODE_NEED_MORE; i++)
            rc = dl_decoder_feed(&d, frame + i, 1, &used, NULL);
        long after = disarm();
        ck_assert_int_eq(rc, DL_DECODE_COMPLETE);
        /* One malloc of exactly field3_len bytes, none for an empty field3. */
        ck_assert_int_eq(after - before, lens[k] == 0 ? 0 : 1);
        if (lens[k] > 0)
            ck_assert_uint_eq(alloc_hook()->last_malloc_size, lens[k]);
        dl_data out;
        ck_assert_int_eq(dl_decoder_take(&d, &out), DL_OK);
        ck_assert_uint_eq(out.field3_len, lens[k]);
        dl_data_free(&out);
        dl_decoder_free(&d);
        free(frame);
        free(text);
    }
#endif
}
END_TEST

START_TEST(out_of_memory)
{
#ifdef DL_TEST_ALLOC_HOOK
    size_t size, used = 99;
    uint8_t *frame = encode(5, 6, "payload", 7, &size);
    dl_decoder d;
    dl_data out;
    int rc;

    dl_decoder_init(&d, DL_DEFAULT_MAX_FIELD3);
    alloc_hook()->fail_after = 0;
    arm();
    rc = dl_decoder_feed(&d, frame, size, &used, NULL);
    disarm();
    ck_assert_int_eq(rc, DL_ERR_NO_MEMORY);
    ck_assert_uint_le(used, DL_HEADER_SIZE);
    ck_assert_ptr_null(d.msg.field3);
    ck_assert_int_eq(dl_decoder_finish(&d), DL_ERR_NO_MEMORY);
    ck_assert_int_eq(dl_decoder_feed(&d, frame, size, &used, NULL), DL_ERR_NO_MEMORY);
    ck_assert_uint_eq(used, 0);
    dl_decoder_free(&d);

    alloc_hook()->fail_after = 0;
    arm();
    rc = dl_deserialize(frame, size, &used, &out, DL_DEFAULT_MAX_FIELD3);
    disarm();
    ck_assert_int_eq(rc, DL_ERR_NO_MEMORY);
    ck_assert_ptr_null(out.field3);

    /* An empty field3 needs no memory, so it decodes even when malloc would fail. */
    uint8_t empty[DL_HEADER_SIZE];
    header(empty, 0);
    alloc_hook()->fail_after = 0;
    arm();
    rc = dl_deserialize(empty, sizeof empty, &used, &out, DL_DEFAULT_MAX_FIELD3);
    disarm();
    alloc_hook()->fail_after = -1;
    ck_assert_int_eq(rc, DL_OK);
    free(frame);
#endif
}
END_TEST

START_TEST(back_to_back)
{
    size_t s1, s2;
    uint8_t *f1 = encode(1, 2, "first", 5, &s1);
    uint8_t *f2 = encode(3, 4, "second \xE2\x9C\x93", 10, &s2);
    uint8_t *buf = malloc(s1 + s2);
    dl_data out;
    size_t used = 0, need;

    ck_assert_ptr_nonnull(buf);
    memcpy(buf, f1, s1);
    memcpy(buf + s1, f2, s2);

    ck_assert_int_eq(dl_deserialize(buf, s1 + s2, &used, &out, 100), DL_OK);
    ck_assert_uint_eq(used, s1); /* points exactly at the second frame */
    assert_msg_eq(&out, 1, 2, "first", 5);
    dl_data_free(&out);
    ck_assert_int_eq(dl_deserialize(buf + used, s1 + s2 - used, &used, &out, 100), DL_OK);
    ck_assert_uint_eq(used, s2);
    assert_msg_eq(&out, 3, 4, "second \xE2\x9C\x93", 10);
    dl_data_free(&out);

    /* The same through one decoder. */
    dl_decoder d;
    dl_decoder_init(&d, 100);
    ck_assert_int_eq(dl_decoder_feed(&d, buf, s1 + s2, &used, &need), DL_DECODE_COMPLETE);
    ck_assert_uint_eq(used, s1);
    /* Completed and not yet taken: consumes nothing, answers complete again. */
    ck_assert_int_eq(dl_decoder_feed(&d, buf + s1, s2, &used, &need), DL_DECODE_COMPLETE);
    ck_assert_uint_eq(used, 0);
    ck_assert_int_eq(dl_decoder_take(&d, &out), DL_OK);
    assert_msg_eq(&out, 1, 2, "first", 5);
    dl_data_free(&out);
    ck_assert_int_eq(dl_decoder_feed(&d, buf + s1, s2, &used, &need), DL_DECODE_COMPLETE);
    ck_assert_uint_eq(used, s2);
    ck_assert_int_eq(dl_decoder_take(&d, &out), DL_OK);
    assert_msg_eq(&out, 3, 4, "second \xE2\x9C\x93", 10);
    dl_data_free(&out);
    ck_assert_int_eq(dl_decoder_take(&d, &out), DL_ERR_TRUNCATED);
    ck_assert_int_eq(dl_decoder_finish(&d), DL_OK);
    dl_decoder_free(&d);
    free(buf);
    free(f1);
    free(f2);
}
END_TEST

START_TEST(three_frames_random_splits)
{
    static const char *texts[3] = {"one", "", "thr\xC3\xA9\xC3\xA9 \xF0\x9F\xA6\x80"};
    dl_buf all = {0};
    rng r;

    for (uint32_t k = 0; k < 3; k++) {
        dl_data msg = {k + 10, (uint16_t)(k + 20), (uint32_t)strlen(texts[k]), (uint8_t *)texts[k]};
        ck_assert_int_eq(dl_serialize_append(&msg, &all), DL_OK);
    }
    rng_seed(&r, 0x5EED0004u);
    for (int iter = 0; iter < 2000; iter++) {
        dl_decoder d;
        size_t off = 0, got = 0;

        dl_decoder_init(&d, 64);
        while (off < all.len) {
            size_t piece = 1 + (size_t)rng_below(&r, all.len - off < 16 ? all.len - off : 16);
            /* Feed the piece; on each completed frame take it and re-feed the rest. */
            while (piece > 0) {
                size_t used = 99;
                int rc = dl_decoder_feed(&d, all.bytes + off, piece, &used, NULL);
                off += used;
                piece -= used;
                if (rc == DL_DECODE_NEED_MORE) {
                    ck_assert_uint_eq(piece, 0);
                    continue;
                }
                ck_assert_int_eq(rc, DL_DECODE_COMPLETE);
                dl_data out;
                ck_assert_int_eq(dl_decoder_take(&d, &out), DL_OK);
                ck_assert_uint_lt(got, 3);
                assert_msg_eq(&out, (uint32_t)got + 10, (uint16_t)(got + 20), texts[got], strlen(texts[got]));
                dl_data_free(&out);
                got++;
            }
        }
        ck_assert_uint_eq(got, 3);
        ck_assert_int_eq(dl_decoder_finish(&d), DL_OK);
        dl_decoder_free(&d);
    }
    dl_buf_free(&all);
}
END_TEST

START_TEST(fresh_decoder)
{
    dl_decoder d;
    dl_data out;
    size_t used = 99, need = 0;

    dl_decoder_init(&d, 10);
    ck_assert_ptr_null(d.msg.field3);
    ck_assert_int_eq(dl_decoder_finish(&d), DL_OK); /* nothing fed: a clean end */
    ck_assert_int_eq(dl_decoder_feed(&d, NULL, 0, &used, &need), DL_DECODE_NEED_MORE);
    ck_assert_uint_eq(used, 0);
    ck_assert_uint_eq(need, DL_HEADER_SIZE);
    memset(&out, 0x5A, sizeof out);
    ck_assert_int_eq(dl_decoder_take(&d, &out), DL_ERR_TRUNCATED);
    ck_assert_ptr_null(out.field3);
    dl_decoder_free(&d);
    dl_decoder_free(&d); /* harmless twice */

    uint8_t h[DL_HEADER_SIZE];
    header(h, 3);
    dl_decoder_init(&d, 10);
    ck_assert_int_eq(dl_decoder_feed(&d, h, sizeof h, &used, &need), DL_DECODE_NEED_MORE);
    ck_assert_uint_eq(need, 3);
    ck_assert_int_eq(dl_decoder_feed(&d, (const uint8_t *)"ab", 2, NULL, &need), DL_DECODE_NEED_MORE);
    ck_assert_uint_eq(need, 1);
    ck_assert_int_eq(dl_decoder_feed(&d, NULL, 0, &used, &need), DL_DECODE_NEED_MORE);
    ck_assert_uint_eq(need, 1);
    ck_assert_int_eq(dl_decoder_finish(&d), DL_ERR_TRUNCATED);
    dl_decoder_free(&d); /* frees the partial field3: no leak under valgrind/ASan */
}
END_TEST

START_TEST(invalid_utf8_fails_and_stays)
{
    size_t size, used;
    uint8_t *frame = encode(1, 1, "ok\xED\xA0\x80", 5, &size);
    dl_decoder d;

    dl_decoder_init(&d, 100);
    ck_assert_int_eq(dl_decoder_feed(&d, frame, size, &used, NULL), DL_ERR_INVALID_UTF8);
    ck_assert_ptr_null(d.msg.field3); /* dropped at once */
    ck_assert_int_eq(dl_decoder_finish(&d), DL_ERR_INVALID_UTF8);
    ck_assert_int_eq(dl_decoder_feed(&d, frame, size, &used, NULL), DL_ERR_INVALID_UTF8);
    ck_assert_uint_eq(used, 0);
    dl_decoder_free(&d);

    /* A character split across feeds is judged as a whole, not per piece. */
    free(frame);
    frame = encode(1, 1, "\xF0\x9F\xA6\x80", 4, &size);
    dl_decoder_init(&d, 100);
    for (size_t i = 0; i + 1 < size; i++)
        ck_assert_int_eq(dl_decoder_feed(&d, frame + i, 1, &used, NULL), DL_DECODE_NEED_MORE);
    ck_assert_int_eq(dl_decoder_feed(&d, frame + size - 1, 1, &used, NULL), DL_DECODE_COMPLETE);
    dl_decoder_free(&d);
    free(frame);
}
END_TEST

START_TEST(guard_page)
{
    uint8_t *end = guard_page_alloc();
    const char *text = samples[2].text;
    size_t len = strlen(text), size;
    uint8_t *frame = encode(samples[2].f1, samples[2].f2, text, len, &size);
    dl_data out;
    size_t used;

    ck_assert_ptr_nonnull(end);
    /* The whole frame ends at the boundary: any read past it faults. */
    memcpy(end - size, frame, size);
    ck_assert_int_eq(dl_deserialize(end - size, size, &used, &out, 100), DL_OK);
    ck_assert_uint_eq(used, size);
    assert_msg_eq(&out, samples[2].f1, samples[2].f2, text, len);
    dl_data_free(&out);

    for (size_t cut = 0; cut < size; cut++) {
        /* The frame's first `cut` bytes, ending at the boundary. */
        memcpy(end - cut, frame, cut);
        ck_assert_int_eq(dl_deserialize(end - cut, cut, &used, &out, 100), DL_ERR_TRUNCATED);
        dl_decoder d;
        dl_decoder_init(&d, 100);
        ck_assert_int_eq(dl_decoder_feed(&d, end - cut, cut, &used, NULL), DL_DECODE_NEED_MORE);
        ck_assert_uint_eq(used, cut);
        dl_decoder_free(&d);
    }

    /* A frame whose field3 ends in a truncated character, at the boundary. */
    size_t bad_size;
    uint8_t *bad = encode(1, 2, "abc\xE2\x82", 5, &bad_size);
    memcpy(end - bad_size, bad, bad_size);
    ck_assert_int_eq(dl_deserialize(end - bad_size, bad_size, &used, &out, 100), DL_ERR_INVALID_UTF8);

    /* A header alone at the boundary. */
    header(end - DL_HEADER_SIZE, 0);
    ck_assert_int_eq(dl_deserialize(end - DL_HEADER_SIZE, DL_HEADER_SIZE, &used, &out, 100), DL_OK);
    ck_assert_uint_eq(used, DL_HEADER_SIZE);
    header(end - DL_HEADER_SIZE, 101);
    ck_assert_int_eq(dl_deserialize(end - DL_HEADER_SIZE, DL_HEADER_SIZE, &used, &out, 100), DL_ERR_TOO_LARGE);

    free(bad);
    free(frame);
    guard_page_free(end);
}
END_TEST

static Suite *decoder_suite(void)
{
    Suite *s = suite_create("decoder");
    TCase *feed = tcase_create("feed");
    TCase *limits = tcase_create("limits");

    tcase_set_timeout(feed, 60);
    tcase_add_loop_test(feed, splits_agree, 0, (int)NELEM(samples));
    tcase_add_loop_test(feed, cut_at_every_offset, 0, (int)NELEM(samples));
    tcase_add_test(feed, back_to_back);
    tcase_add_test(feed, three_frames_random_splits);
    tcase_add_test(feed, fresh_decoder);
    tcase_add_test(feed, invalid_utf8_fails_and_stays);
    tcase_add_test(feed, guard_page);
    suite_add_tcase(s, feed);

    tcase_add_test(limits, too_large_at_header);
    tcase_add_loop_test(limits, limit_boundary, 0, 5);
    tcase_add_test(limits, allocates_once_exact);
    tcase_add_test(limits, out_of_memory);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    return check_run(decoder_suite());
}
