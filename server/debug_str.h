/* server/debug_str.h: a UTF-8 string written exactly as Rust's `{:?}` writes a `str`.
 *
 * The book's server prints each message with `println!("received message: {:?}", message)`,
 * so field3 appears quoted and escaped the way Rust's Debug for str does it: `\0`, `\t`,
 * `\r`, `\n`, `\\`, `\"` (a single quote stays as it is), and `\u{hex}` (lower case, no
 * leading zeros) for every character that Rust does not consider printable (controls,
 * format characters such as U+00AD and U+FEFF, separators such as U+2028, private use,
 * unassigned code points) and for every Grapheme_Extend character (U+0301 ...), wherever it
 * stands.  Everything else (letters, CJK, emoji, U+00A1 ...) is copied byte for byte.
 *
 * The input is meant to be well-formed UTF-8 (the data layer rejects anything else before a
 * frame is printed).  Should a malformed sequence get here all the same, nothing is read
 * past len, and each byte that does not start a well-formed sequence is written as U+FFFD,
 * as Rust's String::from_utf8_lossy would have made it.
 *
 * Thread-safe: no state, the table is constant. */
#ifndef WAKEFUL_SERVER_DEBUG_STR_H
#define WAKEFUL_SERVER_DEBUG_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The longest output for one character: `\u{10ffff}`. */
#define DEBUG_STR_CHAR_MAX 10

/* Writes the len bytes at s to f as Rust's `{:?}` does, quotes included, with
 * putc_unlocked: the caller holds f's lock (flockfile), so that a line put together from
 * several calls is not cut by another thread's output.  Write errors are f's (ferror). */
void debug_str_write(FILE *f, const uint8_t *s, size_t len);

/* Like snprintf: writes at most cap - 1 bytes of the escaped form of s (quotes included)
 * to out and a terminating NUL (nothing at all when cap is 0; out may then be NULL).
 * Returns the length of the whole escaped form, not counting the NUL, so a return
 * >= cap means the output was cut.  The escaped form is at most 2 + 10 * len bytes. */
size_t debug_str_escape(const uint8_t *s, size_t len, char *out, size_t cap);

/* Whether Debug writes code point cp as `\u{hex}`: true for the characters Rust's
 * is_printable rejects and for Grapheme_Extend ones.  False for the six that have a
 * short escape (\0 \t \r \n \\ \") and for anything above U+10FFFF or a surrogate (which
 * cannot be in a str). */
bool debug_str_escapes(uint32_t cp);

#endif
