/* tests/datalayer/helpers.h: shared by the data layer tests. */
#ifndef WAKEFUL_TESTS_DATALAYER_HELPERS_H
#define WAKEFUL_TESTS_DATALAYER_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "data.h"

/* xorshift64: a fixed seed makes every run see the same "random" inputs. */
typedef struct rng {
    uint64_t s;
} rng;

void rng_seed(rng *r, uint64_t seed);
uint64_t rng_next(rng *r);
/* Uniform enough in [0, n); n > 0. */
uint64_t rng_below(rng *r, uint64_t n);

/* Reference encoder, written independently of the validator: writes cp (any value up to
 * 0x10FFFF, surrogates included) in 1..4 bytes into out and returns the byte count. */
size_t ref_utf8_encode(uint32_t cp, uint8_t *out);

/* The reference validator, ref_utf8_valid, is the fuzz targets' (decoding code points the
 * slow and obvious way): one reference for both. */
#include "../fuzz/reference.h"

/* Fills out with random well-formed UTF-8 (ASCII, 2-, 3- and 4-byte characters) of
 * exactly len bytes. */
void rand_utf8(rng *r, uint8_t *out, size_t len);

/* Two pages, the second PROT_NONE; returns a pointer to the first byte of the second
 * (so that buf - n .. buf is readable and buf[0] faults).  guard_page_free undoes it. */
uint8_t *guard_page_alloc(void);
void guard_page_free(uint8_t *end);

/* Allocation hooks (alloc_hook.c), live when linked with -Wl,--wrap=malloc,--wrap=realloc
 * (DL_TEST_ALLOC_HOOK defined).  While armed (and only then, because Check itself
 * allocates inside every assertion) they count malloc/realloc calls and remember the
 * last size malloc was asked for; fail_after makes the call after that many further
 * armed calls fail (-1: never).  Arm just around the call under test. */
typedef struct alloc_stats {
    int armed;
    long mallocs;
    long reallocs;
    size_t last_malloc_size;
    long fail_after;
} alloc_stats;
alloc_stats *alloc_hook(void);

#endif
