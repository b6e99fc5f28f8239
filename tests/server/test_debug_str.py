#!/usr/bin/env python3
"""wakeful-server -v prints field3 as Rust's {:?} does: test_debug_str.py SERVER

Starts SERVER -v -p 0 --sleep-ms 0 (loopback, port 0), sends one frame whose field3 holds
each kind of character Rust's Debug for str treats specially, and compares the
"received message:" line on stdout byte for byte with what rustc 1.95.0 printed for
`println!("received message: {:?}", data)` with the same Data.  Every wait is bounded;
the server is stopped by its PID on the way out.  Exit 0 = pass, 1 = fail.
"""
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

FIELD1, FIELD2 = 0xDEADBEEF, 0xBEEF
FIELD3 = ("a'\"\\\t\r\n\0\x01\x7f\x85\x9b\xa0\xa1\xad\u200b\u2028\ufeff\uffff\ue000"
          "\u0301e\u0301\U0001f600\u4e2d\u0378\U000e0001\U0010ffffz")
# rustc 1.95.0's output for the same Data { field1, field2, field3 }.
EXPECTED = ('received message: Data { field1: 3735928559, field2: 48879, field3: '
            '"a\'\\"\\\\\\t\\r\\n\\0\\u{1}\\u{7f}\\u{85}\\u{9b}\\u{a0}\u00a1\\u{ad}'
            '\\u{200b}\\u{2028}\\u{feff}\\u{ffff}\\u{e000}\\u{301}e\\u{301}'
            '\U0001f600\u4e2d\\u{378}\\u{e0001}\\u{10ffff}z" }\n').encode()
REPLY = b"Hello, client!"


def wait_for(path, pred, timeout, proc):
    """Polls the file at path until pred(its bytes) is true; returns the bytes, or raises
    after timeout seconds (or at once when the server has exited)."""
    deadline = time.monotonic() + timeout
    while True:
        with open(path, "rb") as f:
            data = f.read()
        if pred(data):
            return data
        if proc.poll() is not None:
            raise AssertionError(f"server exited ({proc.returncode}); stdout {data!r}")
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout} s; stdout so far {data!r}")
        time.sleep(0.01)


def main():
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} SERVER", file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="wk-debug-str-") as d:
        out_path, err_path = os.path.join(d, "stdout"), os.path.join(d, "stderr")
        # Files, not pipes: a pipe nobody reads could fill up and block the server.
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen([binary, "-v", "-p", "0", "--sleep-ms", "0"],
                                    stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        try:
            first = wait_for(out_path, lambda b: b"\n" in b, 10, proc).split(b"\n")[0]
            words = first.decode().split()
            if words[:2] != ["listening", "on"]:
                raise AssertionError(f"first line {first!r}")
            port = int(words[2].rsplit(":", 1)[1])

            payload = FIELD3.encode()
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(struct.pack("<IHI", FIELD1, FIELD2, len(payload)) + payload)
                reply = b""
                while True:  # to EOF, each recv bounded by the 5 s timeout
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
            if reply != REPLY:
                raise AssertionError(f"reply {reply!r}")

            data = wait_for(out_path, lambda b: b"received message:" in b
                            and b.endswith(b"\n"), 5, proc)
            lines = [l + b"\n" for l in data.split(b"\n") if l.startswith(b"received")]
            if lines != [EXPECTED]:
                raise AssertionError(f"got\n  {lines!r}\nwant\n  {[EXPECTED]!r}")
        except AssertionError as e:
            print(f"FAIL debug-str: {e}", flush=True)
            return 1
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    print("PASS debug-str", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
