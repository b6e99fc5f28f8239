/* tests/datalayer/helpers.c: PRNG, reference UTF-8 and guard pages for the tests. */
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

void rng_seed(rng *r, uint64_t seed)
{
    r->s = seed ? seed : UINT64_C(0x9E3779B97F4A7C15);
}

uint64_t rng_next(rng *r)
{
    uint64_t x = r->s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    r->s = x;
    return x;
}

uint64_t rng_below(rng *r, uint64_t n)
{
    return rng_next(r) % n;
}

size_t ref_utf8_encode(uint32_t cp, uint8_t *out)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

static uint32_t rand_cp(rng *r, size_t room)
{
    for (;;) {
        uint32_t cp;
        switch (rng_below(r, room >= 4 ? 4 : room)) {
        case 0:
            cp = (uint32_t)rng_below(r, 0x80);
            break;
        case 1:
            cp = 0x80 + (uint32_t)rng_below(r, 0x800 - 0x80);
            break;
        case 2:
            cp = 0x800 + (uint32_t)rng_below(r, 0x10000 - 0x800);
            if (cp >= 0xD800 && cp <= 0xDFFF)
                continue;
            break;
        default:
            cp = 0x10000 + (uint32_t)rng_below(r, 0x110000 - 0x10000);
            break;
        }
        return cp;
    }
}

void rand_utf8(rng *r, uint8_t *out, size_t len)
{
    size_t i = 0;
    while (i < len)
        i += ref_utf8_encode(rand_cp(r, len - i), out + i);
}

uint8_t *guard_page_alloc(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) {
        perror("mmap");
        return NULL;
    }
    if (mprotect(p + page, page, PROT_NONE) != 0) {
        perror("mprotect");
        munmap(p, 2 * page);
        return NULL;
    }
    return p + page;
}

void guard_page_free(uint8_t *end)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    munmap(end - page, 2 * page);
}
