/* tests/fuzz/fuzz_utf8.c: libFuzzer target for dl_utf8_valid.
 *
 * The whole input is the string.  dl_utf8_valid must agree with ref_utf8_valid
 * (reference.h, the definition decoded one code point at a time) on:
 *   - the input, copied into an exact-size heap block, so that AddressSanitizer stops a
 *     read past the end (the validator reads 8 bytes at a time on its ASCII path);
 *   - the same bytes at every start alignment 1..7 within a block that still ends exactly
 *     at the last byte (the 8-byte loads must not depend on alignment);
 *   - every prefix cut inside the last 4 bytes (a sequence cut short by the end) and the
 *     input behind a 7-byte ASCII run (which moves where the fast path stops).
 * Validity also has to compose: when both halves of a split at a character boundary are
 * valid, so is the whole. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Longer inputs add nothing the validator's loops have not seen, and cost time. */
#define MAX_LEN 4096

static void check_one(const uint8_t *s, size_t len, const char *what)
{
    int got = dl_utf8_valid(s, len);
    int want = ref_utf8_valid(s, len);

    if (got != want) {
        fprintf(stderr, "fuzz_utf8: %s: dl_utf8_valid %d, reference %d, %zu bytes:", what, got,
                want, len);
        for (size_t i = 0; i < len && i < 64; i++)
            fprintf(stderr, " %02X", s[i]);
        fputc('\n', stderr);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len = size < MAX_LEN ? size : MAX_LEN;
    uint8_t *buf = malloc(len + 8);

    if (buf == NULL)
        abort();

    /* Exact size, then every alignment, each ending at the end of the block. */
    for (size_t shift = 0; shift < 8; shift++) {
        uint8_t *block = malloc(len + shift > 0 ? len + shift : 1);
        if (block == NULL)
            abort();
        memcpy(block + shift, data, len);
        check_one(block + shift, len, shift == 0 ? "input" : "shifted input");
        free(block);
    }

    /* Prefixes ending inside the last character. */
    for (size_t cut = 1; cut <= 4 && cut <= len; cut++) {
        uint8_t *block = malloc(len - cut > 0 ? len - cut : 1);
        if (block == NULL)
            abort();
        memcpy(block, data, len - cut);
        check_one(block, len - cut, "prefix");
        free(block);
    }

    /* Behind seven ASCII bytes. */
    memset(buf, 'a', 7);
    memcpy(buf + 7, data, len);
    check_one(buf, len + 7, "after ASCII");

    /* Composition at the first character boundary past the middle. */
    if (len > 1 && ref_utf8_valid(data, len)) {
        size_t mid = len / 2;
        while (mid < len && (data[mid] & 0xC0) == 0x80)
            mid++;
        if (!dl_utf8_valid(data, mid) || !dl_utf8_valid(data + mid, len - mid)) {
            fprintf(stderr, "fuzz_utf8: a valid string split at a boundary (%zu) is not two "
                    "valid halves\n", mid);
            abort();
        }
    }
    free(buf);
    return 0;
}
