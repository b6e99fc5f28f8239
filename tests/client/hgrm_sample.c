/* tests/client/hgrm_sample.c: writes a synthetic latency distribution as .hgrm on stdout,
 * through client/histogram.c, for the plotting script's smoke test (test_plot.py).
 *
 *   hgrm_sample MEAN_US TAIL_PER_MILLE SEED
 *
 * COUNT = 100,000 values: exponential with mean MEAN_US microseconds, of which
 * TAIL_PER_MILLE per thousand are replaced by a Pareto tail (alpha 1.5) starting at 10
 * times the mean.  Values in the file are milliseconds.  Exit 0, or 2 on bad arguments,
 * 1 when writing fails. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "histogram.h"

#define COUNT 100000

static uint64_t state;

static double unit(void) /* (0, 1], xorshift64* */
{
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return ((double)((state * UINT64_C(2685821657736338717)) >> 11) + 1.0) / 9007199254740992.0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: hgrm_sample MEAN_US TAIL_PER_MILLE SEED\n");
        return 2;
    }
    double mean_ns = atof(argv[1]) * 1e3;
    int tail = atoi(argv[2]);
    state = strtoull(argv[3], NULL, 10) * UINT64_C(0x9E3779B97F4A7C15) + 1;
    if (!(mean_ns > 0) || tail < 0 || tail > 1000) {
        fprintf(stderr, "hgrm_sample: MEAN_US > 0, TAIL_PER_MILLE 0..1000\n");
        return 2;
    }
    hist h;
    if (hist_init(&h) != 0) {
        fprintf(stderr, "hgrm_sample: out of memory\n");
        return 1;
    }
    for (int i = 0; i < COUNT; i++) {
        double x = -mean_ns * log(unit());
        if (unit() * 1000 < tail)
            x = 10 * mean_ns * pow(unit(), -1.0 / 1.5);
        hist_record(&h, (uint64_t)x);
    }
    int rc = hist_write_hgrm(&h, stdout, 1e6);
    hist_free(&h);
    return rc == 0 ? 0 : 1;
}
