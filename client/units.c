/* client/units.c: see units.h. */
#include "units.h"

#include <errno.h>
#include <string.h>

/* Fraction digits kept: nine, enough for nanoseconds of a second. */
#define MAX_FRACTION_DIGITS 9

/* Reads "DIGITS[.DIGITS]" from *s as mantissa / 10^scale.  Returns 0 or -EINVAL/-ERANGE and
 * leaves *s after the number. */
static int parse_decimal(const char **s, uint64_t *mantissa, unsigned *scale)
{
    const char *p = *s;
    uint64_t m = 0;
    unsigned digits = 0, sc = 0;
    int range = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++)
        if (__builtin_mul_overflow(m, 10, &m) || __builtin_add_overflow(m, (uint64_t)(*p - '0'), &m))
            range = 1;
    if (*p == '.') {
        p++;
        for (; *p >= '0' && *p <= '9'; p++, digits++) {
            if (sc == MAX_FRACTION_DIGITS) /* further digits are below a nanosecond */
                continue;
            if (__builtin_mul_overflow(m, 10, &m) ||
                __builtin_add_overflow(m, (uint64_t)(*p - '0'), &m))
                range = 1;
            sc++;
        }
    }
    if (digits == 0)
        return -EINVAL;
    *s = p;
    *mantissa = m;
    *scale = sc;
    return range ? -ERANGE : 0;
}

static uint64_t pow10u(unsigned n)
{
    uint64_t r = 1;
    while (n-- > 0)
        r *= 10;
    return r;
}

/* mantissa / 10^scale * unit, exactly when whole (*exact 1), else rounded down. */
static int scale_value(uint64_t mantissa, unsigned scale, uint64_t unit, uint64_t *out, int *exact)
{
    uint64_t div = pow10u(scale), v;
    if (__builtin_mul_overflow(mantissa, unit, &v)) {
        /* Large values: divide first (the fraction is then below the unit's resolution). */
        uint64_t whole = mantissa / div, frac = mantissa % div;
        if (__builtin_mul_overflow(whole, unit, &v))
            return -ERANGE;
        uint64_t part = frac * (unit / div > 0 ? unit / div : 0);
        if (__builtin_add_overflow(v, part, &v))
            return -ERANGE;
        *out = v;
        *exact = 0;
        return 0;
    }
    *exact = v % div == 0;
    *out = v / div;
    return 0;
}

/* A suffix and what it multiplies by. */
struct unit {
    const char *name;
    uint64_t factor;
};

/* "DIGITS[.DIGITS]UNIT" with UNIT one of units (the empty name: no suffix), in [min, max].
 * whole: the value must come out a whole number (a count), else it is rounded down (a
 * duration in ns).  Returns 0, -EINVAL (not such a number) or -ERANGE. */
static int parse_with_units(const char *s, const struct unit *units, size_t nunits, int whole,
                            uint64_t min, uint64_t max, uint64_t *out)
{
    if (s == NULL)
        return -EINVAL;
    uint64_t m;
    unsigned sc;
    int rc = parse_decimal(&s, &m, &sc);
    if (rc == -EINVAL)
        return rc;
    uint64_t unit = 0;
    for (size_t i = 0; i < nunits; i++)
        if (strcmp(s, units[i].name) == 0)
            unit = units[i].factor;
    if (unit == 0)
        return -EINVAL;
    if (rc < 0)
        return rc;
    uint64_t v;
    int exact;
    if (scale_value(m, sc, unit, &v, &exact) < 0)
        return -ERANGE;
    if (whole && !exact)
        return -EINVAL; /* "1.5" requests is not a count */
    if (v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

int cl_parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    static const struct unit units[] = {
        {"", 1}, {"k", 1000}, {"K", 1000}, {"M", 1000000}, {"G", 1000000000},
    };
    return parse_with_units(s, units, sizeof units / sizeof units[0], 1, min, max, out);
}

int cl_parse_duration(const char *s, uint64_t min_ns, uint64_t max_ns, uint64_t *out_ns)
{
    static const struct unit units[] = {
        {"", 1000000000ull},  {"s", 1000000000ull},    {"ms", 1000000ull},
        {"us", 1000ull},      {"m", 60000000000ull},   {"h", 3600000000000ull},
    };
    return parse_with_units(s, units, sizeof units / sizeof units[0], 0, min_ns, max_ns, out_ns);
}
