/* tests/fuzz/fuzz_decoder.c: libFuzzer target for the frame decoder.
 *
 * Input layout (so that one input fixes everything, and a crash file replays exactly):
 *   byte 0      control: bits 0-2 pick max_field3 from LIMITS, bits 3-4 pick how the
 *               stream is cut into pieces (SPLIT_*), bits 5-7 are mixed into the seed;
 *   byte 1      seed of the piece sizes (a xorshift generator; see next_piece);
 *   bytes 2..   the byte stream: zero or more frames, possibly cut short or bad.
 * Shorter inputs are padded with zeros for the two control bytes and an empty stream.
 *
 * Three decoders read the stream, frame after frame (at most MAX_FRAMES):
 *   1. dl_deserialize, one shot, on the rest of the stream;
 *   2. the incremental decoder, fed the same bytes in pieces of sizes drawn from the seed
 *      (zero-length pieces included), each piece in its own exact-size heap block so that
 *      AddressSanitizer stops any read past a piece;
 *   3. ref_first_frame (reference.h), straight from docs/protocol.md.
 * They must agree on every frame: status, bytes consumed, field1, field2 and field3.
 * On top, the decoder's own contract (data.h) is checked on every call: NEED_MORE consumes
 * the whole piece and *need is exactly the least number of bytes that can still finish
 * the frame; COMPLETE and errors are sticky and consume nothing more; finish() says
 * TRUNCATED inside a frame and OK between frames; a decoded frame re-encodes to the very
 * bytes it came from. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small limits make "too large" reachable by short inputs; 65536 is the server's default.
 * Nothing larger: an accepted length is allocated at once, and a 4 GiB limit would only
 * make the fuzzer report its own malloc limit. */
static const uint32_t LIMITS[8] = {0, 1, 2, 9, 16, 255, 4096, DL_DEFAULT_MAX_FIELD3};

enum { SPLIT_BYTES = 0, SPLIT_SMALL = 1, SPLIT_MIXED = 2, SPLIT_WHOLE = 3 };

/* Bounds the work per input: a stream of empty frames (10 bytes each) would otherwise
 * decode size / 10 frames. */
#define MAX_FRAMES 64

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "fuzz_decoder: %s:%d: check failed: %s: ", __FILE__, __LINE__, \
                    #cond);                                                                \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

typedef struct expected {
    int status;       /* DL_OK or a dl_error */
    size_t start;     /* stream offset of the frame */
    size_t size;      /* DL_OK: the frame's size; an error: how many bytes of the frame
                       * it takes to see it (10 for a bad length, 10 + n for bad UTF-8,
                       * SIZE_MAX for a frame the stream cuts short) */
    dl_data msg;      /* the one-shot decoder's message (owned) */
} expected;

static uint32_t next_rand(uint32_t *s)
{
    /* xorshift32; the state is never 0 (seeded with | 1). */
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

static size_t next_piece(int mode, uint32_t *seed, int *zero_run, size_t left)
{
    size_t n;

    switch (mode) {
    case SPLIT_BYTES:
        n = 1;
        break;
    case SPLIT_SMALL:
        n = 1 + next_rand(seed) % 16;
        break;
    case SPLIT_MIXED:
        n = next_rand(seed) % 67; /* 0..66: empty pieces, and pieces that span a header */
        break;
    default:
        n = left;
        break;
    }
    if (n == 0 && *zero_run >= 2)
        n = 1; /* never more than two empty pieces in a row: the loop always advances */
    *zero_run = n == 0 ? *zero_run + 1 : 0;
    return n < left ? n : left;
}

static void check_same_msg(const dl_data *got, const dl_data *want, size_t frame_no)
{
    CHECK(got->field1 == want->field1, "frame %zu: field1 %u vs %u", frame_no, got->field1,
          want->field1);
    CHECK(got->field2 == want->field2, "frame %zu: field2", frame_no);
    CHECK(got->field3_len == want->field3_len, "frame %zu: field3_len %u vs %u", frame_no,
          got->field3_len, want->field3_len);
    if (want->field3_len == 0) {
        CHECK(got->field3 == NULL && want->field3 == NULL, "frame %zu: empty field3 allocated",
              frame_no);
    } else {
        CHECK(got->field3 != NULL && memcmp(got->field3, want->field3, want->field3_len) == 0,
              "frame %zu: field3 differs", frame_no);
    }
}

/* Decodes the stream one shot, frame after frame, checking each against the reference;
 * fills exp[] and returns how many entries it holds.  The last entry is an error, or the
 * stream ended exactly after a frame (*clean_end = 1). */
static size_t decode_one_shot(const uint8_t *s, size_t len, uint32_t max, expected *exp,
                              int *clean_end)
{
    size_t pos = 0, count = 0;

    *clean_end = 0;
    while (count < MAX_FRAMES) {
        expected *e = &exp[count];
        size_t used = (size_t)-1, ref_size = 0;
        int ref;

        if (pos == len) {
            *clean_end = 1;
            break;
        }
        memset(e, 0, sizeof *e);
        e->start = pos;
        e->status = dl_deserialize(s + pos, len - pos, &used, &e->msg, max);
        ref = ref_first_frame(s + pos, len - pos, max, &ref_size);
        count++;
        CHECK(e->status == ref, "frame at %zu: dl_deserialize %d (%s), reference %d (%s)", pos,
              e->status, dl_strerror(e->status), ref, dl_strerror(ref));
        if (e->status != DL_OK) {
            CHECK(e->msg.field3 == NULL && e->msg.field3_len == 0,
                  "failed dl_deserialize left a message behind");
            if (e->status == DL_ERR_TOO_LARGE)
                e->size = DL_HEADER_SIZE;
            else if (e->status == DL_ERR_INVALID_UTF8)
                e->size = DL_HEADER_SIZE + (size_t)ref_u32le(s + pos + 6);
            else
                e->size = SIZE_MAX; /* cut short: the frame never ends in this stream */
            break;
        }
        CHECK(used == ref_size, "frame at %zu: consumed %zu, frame is %zu bytes", pos, used,
              ref_size);
        e->size = used;

        /* The message is the frame's bytes, and encodes back to them. */
        {
            const uint8_t *f = s + pos;
            uint8_t *again = malloc(used);
            CHECK(again != NULL, "malloc");
            CHECK(e->msg.field1 == ref_u32le(f), "field1");
            CHECK(e->msg.field2 == (uint16_t)(f[4] | f[5] << 8), "field2");
            CHECK(e->msg.field3_len == used - DL_HEADER_SIZE, "field3_len");
            CHECK(dl_encoded_size(&e->msg) == used, "dl_encoded_size");
            CHECK(dl_serialize(&e->msg, again, used) == (long)used, "dl_serialize size");
            CHECK(memcmp(again, f, used) == 0, "re-encoded frame differs");
            if (used > 0)
                CHECK(dl_serialize(&e->msg, again, used - 1) == DL_ERR_BUFFER_TOO_SMALL,
                      "dl_serialize into a buffer one byte short");
            free(again);
        }
        pos += used;
    }
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t ctl = size > 0 ? data[0] : 0;
    uint32_t max = LIMITS[ctl & 7];
    int mode = (ctl >> 3) & 3;
    uint32_t seed = ((uint32_t)(size > 1 ? data[1] : 0) << 8 | (uint32_t)(ctl >> 5) << 16 | 1u) ^
                    (uint32_t)size;
    const uint8_t *stream = size > 2 ? data + 2 : data + size;
    size_t len = size > 2 ? size - 2 : 0;
    expected exp[MAX_FRAMES];
    int clean_end;
    size_t nexp, frame = 0, pos = 0;
    dl_decoder d;
    int last = DL_DECODE_NEED_MORE;
    size_t frame_start = 0;
    int zero_run = 0;

    if (seed == 0)
        seed = 1;
    nexp = decode_one_shot(stream, len, max, exp, &clean_end);

    /* The incremental decoder, piece by piece, each piece in its own exact-size block. */
    dl_decoder_init(&d, max);
    CHECK(dl_decoder_finish(&d) == DL_OK, "fresh decoder does not finish clean");
    while (frame < nexp) {
        size_t n = next_piece(mode, &seed, &zero_run, len - pos);
        size_t off = 0;
        uint8_t *piece = malloc(n > 0 ? n : 1);
        CHECK(piece != NULL, "malloc");
        if (n > 0)
            memcpy(piece, stream + pos, n);

        /* One piece may end a frame and start the next ones. */
        while (frame < nexp) {
            size_t used = (size_t)-1, need = (size_t)-1;
            size_t in_frame;
            const expected *e = &exp[frame];

            last = dl_decoder_feed(&d, piece + off, n - off, &used, &need);
            CHECK(used <= n - off, "consumed %zu of a %zu-byte piece", used, n - off);
            off += used;
            in_frame = pos + off - frame_start; /* bytes of this frame fed so far */

            if (last == DL_DECODE_NEED_MORE) {
                size_t least;
                CHECK(off == n, "NEED_MORE left %zu bytes of the piece unconsumed", n - off);
                CHECK(in_frame < e->size,
                      "incremental wants more after %zu bytes where the one-shot decoder "
                      "saw a %s frame of %zu", in_frame, dl_strerror(e->status), e->size);
                if (in_frame < DL_HEADER_SIZE)
                    least = DL_HEADER_SIZE - in_frame;
                else
                    least = DL_HEADER_SIZE + ref_u32le(stream + frame_start + 6) - in_frame;
                CHECK(need == least, "need %zu, least bytes to finish the frame %zu", need, least);
                CHECK(dl_decoder_finish(&d) == (in_frame == 0 ? DL_OK : DL_ERR_TRUNCATED),
                      "finish inside a frame (%zu bytes in)", in_frame);
                break; /* next piece */
            }

            if (last == DL_DECODE_COMPLETE) {
                dl_data got;
                size_t again = (size_t)-1;
                CHECK(e->status == DL_OK, "incremental completed a frame the one-shot "
                      "decoder called %s", dl_strerror(e->status));
                CHECK(in_frame == e->size, "frame %zu completed after %zu bytes, not %zu", frame,
                      in_frame, e->size);
                CHECK(dl_decoder_finish(&d) == DL_OK, "finish on a complete frame");
                /* A completed decoder consumes nothing and answers COMPLETE again. */
                CHECK(dl_decoder_feed(&d, piece + off, n - off, &again, NULL) ==
                          DL_DECODE_COMPLETE && again == 0,
                      "feeding a complete decoder");
                CHECK(dl_decoder_take(&d, &got) == DL_OK, "take");
                check_same_msg(&got, &e->msg, frame);
                dl_data_free(&got);
                CHECK(dl_decoder_take(&d, &got) == DL_ERR_TRUNCATED && got.field3 == NULL,
                      "second take");
                frame++;
                frame_start = pos + off;
                continue; /* the rest of the piece belongs to the next frame */
            }

            /* An error: the same as the one-shot decoder's, and sticky. */
            CHECK(last < 0, "feed returned %d", last);
            CHECK(last == e->status, "frame %zu: incremental %d (%s), one-shot %d (%s)", frame,
                  last, dl_strerror(last), e->status, dl_strerror(e->status));
            CHECK(dl_decoder_finish(&d) == last, "finish after an error");
            {
                size_t again = (size_t)-1;
                CHECK(dl_decoder_feed(&d, piece + off, n - off, &again, NULL) == last &&
                          again == 0,
                      "feeding a failed decoder");
            }
            /* The error shows as soon as it can be known (a bad length once the header
             * is in, bad UTF-8 once field3 is complete), and nothing past that point has
             * been taken from the caller. */
            CHECK(in_frame <= e->size, "error %s after %zu bytes, knowable after %zu",
                  dl_strerror(last), in_frame, e->size);
            frame = nexp; /* done */
        }
        free(piece);
        pos += n;
        if (pos == len && last == DL_DECODE_NEED_MORE)
            break; /* the stream ended inside a frame */
    }

    /* End of input: truncated inside a frame, clean between frames. */
    if (frame < nexp) {
        CHECK(exp[frame].status == DL_ERR_TRUNCATED, "input ended, one-shot said %s",
              dl_strerror(exp[frame].status));
        CHECK(dl_decoder_finish(&d) == DL_ERR_TRUNCATED, "finish at the end of a cut frame");
    } else if (clean_end) {
        CHECK(dl_decoder_finish(&d) == DL_OK, "finish between frames");
    }
    dl_decoder_free(&d);

    for (size_t i = 0; i < nexp; i++)
        dl_data_free(&exp[i].msg);
    return 0;
}
