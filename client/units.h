/* client/units.h: numbers and durations on the command line, with units.
 *
 * Counts (-n, -c, -R): a decimal number with an optional decimal suffix, k (10^3),
 * M (10^6) or G (10^9): "4000", "10k", "1.5M".  The result must be a whole number.
 * Durations (-d): a decimal number with a unit, us, ms, s, m or h; a bare number is
 * seconds: "500ms", "30s", "2m", "1.5". Flags whose names end in -ms keep taking a bare
 * number of milliseconds and do not come here.  Pure functions: no allocation, no locale. */
#ifndef WAKEFUL_CLIENT_UNITS_H
#define WAKEFUL_CLIENT_UNITS_H

#include <stdint.h>

/* Parses a count in [min, max].  Returns 0, -EINVAL (not a count, a bad suffix or a
 * fraction that does not come out whole) or -ERANGE (out of [min, max]). */
int cl_parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Parses a duration into nanoseconds in [min_ns, max_ns].  Returns 0, -EINVAL (not a
 * duration, or an unknown unit) or -ERANGE. */
int cl_parse_duration(const char *s, uint64_t min_ns, uint64_t max_ns, uint64_t *out_ns);

#endif
