/* datalayer/utf8.c: strict UTF-8 validation, as strict as Rust's String::from_utf8.
 *
 * Well-formed sequences (Unicode Table 3-7):
 *   first byte   second    third     fourth
 *   00..7F
 *   C2..DF       80..BF
 *   E0           A0..BF    80..BF             (A0: no overlong 3-byte forms)
 *   E1..EC       80..BF    80..BF
 *   ED           80..9F    80..BF             (9F: no surrogates D800..DFFF)
 *   EE..EF       80..BF    80..BF
 *   F0           90..BF    80..BF    80..BF   (90: no overlong 4-byte forms)
 *   F1..F3       80..BF    80..BF    80..BF
 *   F4           80..8F    80..BF    80..BF   (8F: nothing above U+10FFFF)
 * Everything else is ill-formed: C0, C1 and F5..FF never appear, a continuation byte
 * 80..BF never starts a sequence, and a sequence cut short by the end is invalid. */
#include "data.h"

#include <string.h>

#define ASCII_MASK UINT64_C(0x8080808080808080)

static int is_cont(uint8_t b)
{
    return (b & 0xC0) == 0x80;
}

int dl_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t b = s[i];
        uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        size_t n;                     /* sequence length */

        if (b < 0x80) {
            /* ASCII fast path: test 8 bytes at once while 8 whole bytes remain (never
             * reading past len).  memcpy keeps the load legal at any alignment and
             * compiles to a single load. */
            uint64_t w;
            i++;
            while (len - i >= 8) {
                memcpy(&w, s + i, 8);
                if (w & ASCII_MASK)
                    break;
                i += 8;
            }
            continue;
        }

        if (b >= 0xC2 && b <= 0xDF) {
            n = 2;
        } else if (b >= 0xE0 && b <= 0xEF) {
            n = 3;
            if (b == 0xE0)
                lo = 0xA0;
            else if (b == 0xED)
                hi = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            n = 4;
            if (b == 0xF0)
                lo = 0x90;
            else if (b == 0xF4)
                hi = 0x8F;
        } else {
            return 0; /* 80..BF stray continuation, C0, C1, F5..FF */
        }

        if (len - i < n)
            return 0; /* truncated */
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k < n; k++)
            if (!is_cont(s[i + k]))
                return 0;
        i += n;
    }
    return 1;
}
