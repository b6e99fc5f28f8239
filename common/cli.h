/* common/cli.h: small helpers the two programs share (flag values, descriptor limit).
 * Not part of libwakeful: program-level code only. */
#ifndef WAKEFUL_COMMON_CLI_H
#define WAKEFUL_COMMON_CLI_H

#include <stdint.h>
#include <sys/resource.h>

/* Parses a decimal unsigned integer in [min, max] (no sign, no trailing junk).
 * Returns 0 or -EINVAL (not a number) / -ERANGE (out of range). */
int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Raises the RLIMIT_NOFILE soft limit to the hard limit.  Returns the soft limit now in
 * force (which may be unchanged when raising failed). */
rlim_t cli_raise_nofile_limit(void);

#endif
