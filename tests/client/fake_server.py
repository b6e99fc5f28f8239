#!/usr/bin/env python3
"""A stand-in for wakeful-server that misbehaves on purpose, for wakeful-client's tests.

    fake_server.py MODE [EXPECT]

Listens on 127.0.0.1, port 0, prints "listening on 127.0.0.1:PORT" on stdout, then serves
every connection in its own thread: reads one Data frame (u32 field1, u16 field2, u32 len,
len bytes, little-endian), then, by MODE:

    hello   replies "Hello, client!" and closes (a well-behaved server, without the sleep)
    strict  checks the frame against EXPECT, then as hello; a bad frame gets "BAD FRAME: why"
            EXPECT: "book" (field3 == "Hello, server! {field1}", field2 == field1 & 0xffff,
            every field1 seen once), "message:TEXT", or "payload:B" (B bytes, a..z repeated)
    wrong   replies "Goodbye, client" (wrong text) and closes
    long    replies "Hello, client!" eight times (longer than any right reply)
    close   closes without replying
    rst     resets the connection (SO_LINGER 0) without replying
    silent  never replies; holds the connection until the client closes it

Standard library only.  Stops on SIGTERM/SIGKILL (the tests kill it by PID).
"""
import socket
import struct
import sys
import threading

HELLO = b"Hello, client!"


def read_exact(conn, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(min(65536, n - len(buf)))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


class Checker:
    def __init__(self, expect):
        self.expect = expect or "book"
        self.seen = set()
        self.lock = threading.Lock()
        if self.expect.startswith("payload:"):
            n = int(self.expect.split(":", 1)[1])
            self.payload = bytes(ord("a") + i % 26 for i in range(n))

    def check(self, field1, field2, field3):
        """Returns None when the frame is right, else why it is not."""
        e = self.expect
        if e == "book":
            if field2 != field1 & 0xFFFF:
                return "field2 %d is not field1 %d as u16" % (field2, field1)
            want = ("Hello, server! %d" % field1).encode()
            if field3 != want:
                return "field3 %r, expected %r" % (field3[:64], want)
            with self.lock:
                if field1 in self.seen:
                    return "field1 %d sent twice" % field1
                self.seen.add(field1)
            return None
        if e.startswith("message:"):
            want = e.split(":", 1)[1].encode()
            return None if field3 == want else "field3 %r, expected %r" % (field3[:64], want)
        if e.startswith("payload:"):
            if field3 != self.payload:
                return "payload of %d bytes differs from the expected %d" % (
                    len(field3), len(self.payload))
            return None
        return "unknown EXPECT %r" % e


def serve(conn, mode, checker):
    try:
        head = read_exact(conn, 10)
        if head is None:
            return
        field1, field2, n = struct.unpack("<IHI", head)
        field3 = read_exact(conn, n)
        if field3 is None:
            return
        if mode == "hello":
            conn.sendall(HELLO)
        elif mode == "strict":
            why = checker.check(field1, field2, field3)
            conn.sendall(HELLO if why is None else ("BAD FRAME: " + why).encode())
            if why is not None:
                print("bad frame:", why, file=sys.stderr, flush=True)
        elif mode == "wrong":
            conn.sendall(b"Goodbye, client")
        elif mode == "long":
            conn.sendall(HELLO * 8)
        elif mode == "close":
            pass
        elif mode == "rst":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif mode == "silent":
            conn.settimeout(60)
            while conn.recv(4096):
                pass
    except OSError:
        pass
    finally:
        conn.close()


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    mode = sys.argv[1]
    if mode not in ("hello", "strict", "wrong", "long", "close", "rst", "silent"):
        print("fake_server.py: unknown mode %r" % mode, file=sys.stderr)
        sys.exit(2)
    checker = Checker(sys.argv[2] if len(sys.argv) > 2 else None)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4096)
    print("listening on 127.0.0.1:%d (fake, %s)" % (lsock.getsockname()[1], mode), flush=True)
    while True:
        conn, _ = lsock.accept()
        threading.Thread(target=serve, args=(conn, mode, checker), daemon=True).start()


if __name__ == "__main__":
    main()
