/* tests/fuzz/reference.h: slow, obviously correct reference implementations that the
 * fuzz targets hold the data layer to.  Written from docs/protocol.md and the Unicode
 * Standard, not from datalayer/: they share no code and no tables with it.
 *
 * Header-only (static functions) so that each target is one translation unit plus the
 * data layer. */
#ifndef WAKEFUL_TESTS_FUZZ_REFERENCE_H
#define WAKEFUL_TESTS_FUZZ_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

#include "data.h"

/* Strict UTF-8 by the definition, one code point at a time:
 *   - the lead byte's high bits give the length: 0xxxxxxx 1, 110xxxxx 2, 1110xxxx 3,
 *     11110xxx 4; anything else (10xxxxxx, 11111xxx) cannot start a character;
 *   - every following byte must be 10xxxxxx, and all of them must be there;
 *   - the decoded value must need that many bytes (no overlong form), must not be a
 *     UTF-16 surrogate (U+D800..U+DFFF), and must be at most U+10FFFF.
 * No fast paths, no range tables. */
static inline int ref_utf8_valid(const uint8_t *s, size_t len)
{
    static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t i = 0;

    while (i < len) {
        uint8_t b = s[i];
        size_t n;
        uint32_t cp;

        if ((b & 0x80) == 0x00) {
            n = 1;
            cp = b;
        } else if ((b & 0xE0) == 0xC0) {
            n = 2;
            cp = b & 0x1F;
        } else if ((b & 0xF0) == 0xE0) {
            n = 3;
            cp = b & 0x0F;
        } else if ((b & 0xF8) == 0xF0) {
            n = 4;
            cp = b & 0x07;
        } else {
            return 0;
        }
        if (n > len - i)
            return 0;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (n > 1 && cp < min_for_len[n])
            return 0; /* overlong */
        if (cp >= 0xD800 && cp <= 0xDFFF)
            return 0; /* surrogate */
        if (cp > 0x10FFFF)
            return 0;
        i += n;
    }
    return 1;
}

static inline uint32_t ref_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* What docs/protocol.md says the first frame of buf[0..len) is: DL_OK with *frame_size
 * set, or DL_ERR_TRUNCATED (fewer than 10 bytes, or fewer than 10 + n when n is within
 * the limit), DL_ERR_TOO_LARGE (n over max_field3, known as soon as the header is in),
 * DL_ERR_INVALID_UTF8 (a complete field3 that is not UTF-8). */
static inline int ref_first_frame(const uint8_t *buf, size_t len, uint32_t max_field3, size_t *frame_size)
{
    uint32_t n;

    if (len < DL_HEADER_SIZE)
        return DL_ERR_TRUNCATED;
    n = ref_u32le(buf + 6);
    if (n > max_field3)
        return DL_ERR_TOO_LARGE;
    if (len - DL_HEADER_SIZE < n)
        return DL_ERR_TRUNCATED;
    if (!ref_utf8_valid(buf + DL_HEADER_SIZE, n))
        return DL_ERR_INVALID_UTF8;
    *frame_size = DL_HEADER_SIZE + (size_t)n;
    return DL_OK;
}

#endif
