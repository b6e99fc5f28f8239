#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus: tests/fuzz/corpus/{decoder,utf8}/.

    python3 tests/fuzz/make_corpus.py        (run from anywhere; rewrites both folders)

The files are committed; this script documents how they were made and remakes them.
Decoder inputs are two control bytes (see fuzz_decoder.c: byte 0 picks the length limit
and the way the stream is cut into pieces, byte 1 seeds the piece sizes) followed by the
byte stream.  UTF-8 inputs are the string itself.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import frames  # noqa: E402  (tests/lib: the frame encoder the Python tests share)

# fuzz_decoder.c: LIMITS = {0, 1, 2, 9, 16, 255, 4096, 65536}; split modes 0..3.
LIMIT = {0: 0, 1: 1, 2: 2, 9: 3, 16: 4, 255: 5, 4096: 6, 65536: 7}
BYTES, SMALL, MIXED, WHOLE = 0, 1, 2, 3


def ctl(limit=65536, split=MIXED, seed=0x5A):
    return bytes([LIMIT[limit] | split << 3, seed])


def frame(text=b"hi", f1=1, f2=2, length=None):
    """frames.encode with this corpus's defaults: {1, 2, "hi"}, docs/protocol.md's example."""
    return frames.encode(text, f1, f2, length)


GOOD = frame(b"Hello, server! 1", 1, 1)

DECODER = {
    # valid frames
    "valid-hi": ctl() + frame(),
    "valid-hi-bytewise": ctl(split=BYTES) + frame(),
    "valid-empty": ctl(split=WHOLE) + frame(b"", 0, 0),
    "valid-le-order": ctl(split=SMALL) + frame(b"LE", 0xDEADBEEF, 0xBEEF),
    "valid-multibyte": ctl(split=BYTES) + frame("h\u00e9llo w\u00f6rld \u2713 \U0001f980"),
    "valid-nul-bom": ctl() + frame(b"a\x00b\xef\xbb\xbfc"),
    "valid-max-codepoint": ctl(split=SMALL) + frame(b"a\xf4\x8f\xbf\xbfb", 7, 65535),
    "valid-at-limit-16": ctl(limit=16, split=BYTES) + frame(b"x" * 16),
    "valid-at-limit-0": ctl(limit=0, split=WHOLE) + frame(b""),
    "valid-book-message": ctl(split=SMALL, seed=3) + GOOD,
    "valid-two-frames": ctl(split=MIXED, seed=9) + frame(b"one") + frame("tw\u00f6", 2, 3),
    "valid-three-empty": ctl(split=BYTES) + frame(b"", 0, 0) * 3,
    "valid-then-garbage": ctl() + frame(b"ok") + b"\xff\xff\xff",
    "valid-long-ascii": ctl(limit=4096, split=MIXED, seed=77) + frame(b"abcdefgh" * 100),
    # cut short
    "cut-header-1": ctl(split=BYTES) + b"\x01",
    "cut-header-9": ctl(split=SMALL) + frame()[:9],
    "cut-body": ctl(split=MIXED) + GOOD[:-1],
    "cut-second-frame": ctl(split=SMALL) + frame() + frame(b"more")[:12],
    "cut-inside-char": ctl(split=BYTES) + frame("\u2713")[:-1],
    # lengths over the limit
    "len-ffffffff": ctl() + frame(b"", length=0xFFFFFFFF),
    "len-ffffffff-with-body": ctl(split=SMALL) + frame(b"abc", length=0xFFFFFFFF),
    "len-max-plus-1": ctl(limit=65536) + frame(b"", length=65537),
    "len-16-plus-1": ctl(limit=16, split=BYTES) + frame(b"x" * 17),
    "len-limit-0-plus-1": ctl(limit=0) + frame(b"x"),
    "len-after-good": ctl(limit=255, split=MIXED) + frame() + frame(b"", length=256),
    # invalid UTF-8
    "utf8-overlong-2": ctl() + frame(b"\xc0\xaf"),
    "utf8-overlong-3": ctl(split=BYTES) + frame(b"\xe0\x80\xaf"),
    "utf8-overlong-4": ctl() + frame(b"\xf0\x80\x80\xaf"),
    "utf8-surrogate": ctl(split=SMALL) + frame(b"a\xed\xa0\x80b"),
    "utf8-cesu-pair": ctl() + frame(b"\xed\xa0\xbd\xed\xb2\xa9"),
    "utf8-above-10ffff": ctl() + frame(b"\xf4\x90\x80\x80"),
    "utf8-f5": ctl(split=BYTES) + frame(b"\xf5\x80\x80\x80"),
    "utf8-ff": ctl() + frame(b"abc\xff"),
    "utf8-stray-continuation": ctl() + frame(b"\x80"),
    "utf8-truncated-at-end": ctl(split=SMALL) + frame(b"ok\xe2\x82"),
    "utf8-cut-by-ascii": ctl() + frame(b"\xe2\x82a"),
    "utf8-bad-second-frame": ctl(split=MIXED) + frame(b"fine") + frame(b"\xc1\xbf"),
    # odd inputs
    "garbage": ctl(split=MIXED, seed=200) + bytes(range(256))[::7],
    "zeros": ctl(split=BYTES) + bytes(25),
    "only-control": ctl(),
    "empty": b"",
}

UTF8 = {
    "empty": b"",
    "ascii": b"Hello, server! 1",
    "ascii-long": b"0123456789abcdef" * 8 + b"x",
    "nul": b"\x00",
    "bom": b"\xef\xbb\xbf",
    "u0080": b"\xc2\x80",
    "u07ff": b"\xdf\xbf",
    "u0800": b"\xe0\xa0\x80",
    "ud7ff": b"\xed\x9f\xbf",
    "ue000": b"\xee\x80\x80",
    "uffff": b"\xef\xbf\xbf",
    "u10000": b"\xf0\x90\x80\x80",
    "u10ffff": b"\xf4\x8f\xbf\xbf",
    "mixed": "h\u00e9llo w\u00f6rld \u2713 \U0001f980 and some ascii after".encode(),
    "ascii-then-multibyte": b"abcdefgh" * 3 + "\u00e9".encode(),
    "overlong-c0": b"\xc0\xaf",
    "overlong-c1": b"\xc1\xbf",
    "overlong-e0": b"\xe0\x80\xaf",
    "overlong-e0-9f": b"\xe0\x9f\xbf",
    "overlong-f0": b"\xf0\x80\x80\xaf",
    "overlong-f0-8f": b"\xf0\x8f\xbf\xbf",
    "surrogate-d800": b"\xed\xa0\x80",
    "surrogate-dfff": b"\xed\xbf\xbf",
    "cesu-pair": b"\xed\xa0\xbd\xed\xb2\xa9",
    "above-10ffff": b"\xf4\x90\x80\x80",
    "f5": b"\xf5\x80\x80\x80",
    "f8": b"\xf8\x88\x80\x80\x80",
    "fe-ff": b"\xfe\xff",
    "stray-80": b"a\x80b",
    "stray-bf-after-ascii": b"abcdefgh\xbf",
    "truncated-2": b"\xc3",
    "truncated-3": b"\xe2\x82",
    "truncated-4": b"\xf0\x9f\xa6",
    "cut-by-ascii": b"\xe2\x82a",
    "cut-by-lead": b"\xe2\xe2\x82\xac",
    "invalid-after-8-ascii": b"abcdefgh\xff",
    "invalid-at-byte-15": b"abcdefghijklmno\xc0",
}


def write(folder, files):
    path = os.path.join(HERE, "corpus", folder)
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        os.unlink(os.path.join(path, name))
    for name, data in files.items():
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("decoder", DECODER)
    write("utf8", UTF8)
    print(f"{len(DECODER)} decoder inputs, {len(UTF8)} UTF-8 inputs")
