#!/usr/bin/env python3
"""The runtime's examples, run as their users would run them.

    test_examples.py counting COUNTING
    test_examples.py sleeps SLEEPS
    test_examples.py echo ECHO_SERVER
    test_examples.py echo_valgrind ECHO_SERVER    (exit 77, skipped, without valgrind)

echo: 200 concurrent connections each echo small messages and every tenth a 1 MiB one, read
back while it is being sent (the server echoes as it reads, and holds back when we do not
read); a connection resets mid-stream; one stays open and idle; then SIGINT must stop the
server with exit status 0 within a bounded time.  echo_valgrind: the same, smaller, under
valgrind, which must report no error and no leak.  Every wait is bounded; loopback only,
port 0."""
import asyncio
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

SKIP = 77


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def run_counting(exe):
    p = subprocess.run([exe], capture_output=True, text=True, timeout=30)
    print(p.stdout, end="")
    if p.returncode != 0 or "Result: 4" not in p.stdout:
        fail(f"counting: status {p.returncode}, stderr {p.stderr!r}")
    if p.stdout.count("CountingFuture is done!") != 2:
        fail("counting: both futures should finish")


def run_sleeps(exe):
    t0 = time.monotonic()
    p = subprocess.run([exe, "10000", "300"], capture_output=True, text=True, timeout=60)
    took = time.monotonic() - t0
    print(p.stdout, end="")
    if p.returncode != 0:
        fail(f"sleeps: status {p.returncode}, stderr {p.stderr!r}")
    if "10000 of 10000 tasks done" not in p.stdout or "(0 woke early)" not in p.stdout:
        fail("sleeps: not every task finished on time")
    if took < 0.3:
        fail(f"sleeps: {took:.3f} s is shorter than one sleep")


def payload(n, seed):
    # Not one repeated byte: a misordered or duplicated chunk must show.
    block = bytes((i * 7 + seed) & 0xFF for i in range(251))
    return (block * (n // len(block) + 1))[:n]


async def echo(port, messages, deadline):
    """Sends each message and reads it back exactly, writing and reading at once."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), deadline)
    try:
        for msg in messages:
            async def send():
                writer.write(msg)
                await writer.drain()

            got, _ = await asyncio.wait_for(
                asyncio.gather(reader.readexactly(len(msg)), send()), deadline)
            if got != msg:
                raise AssertionError(f"echo of {len(msg)} bytes differs")
        writer.write_eof()
        rest = await asyncio.wait_for(reader.read(), deadline)
        if rest != b"":
            raise AssertionError("bytes after EOF")
    finally:
        writer.close()


def reset_mid_stream(port):
    """Sends 256 KiB without reading the echo, then resets the connection."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setblocking(False)
    data = payload(256 * 1024, 3)
    sent = 0
    end = time.monotonic() + 5
    while sent < len(data) and time.monotonic() < end:
        try:
            sent += s.send(data[sent:])
        except BlockingIOError:
            time.sleep(0.01)  # the server holds back: our receive buffer is full
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()  # RST
    return sent


def start(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = ""
    end = time.monotonic() + 60
    # The first line names the port; bounded by the server's own startup.
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    while time.monotonic() < end and not line:
        if sel.select(timeout=1):
            line = p.stdout.readline()
            break
        if p.poll() is not None:
            break
    sel.close()
    if not line.startswith("listening on 127.0.0.1:"):
        p.kill()
        out, err = p.communicate(timeout=30)
        fail(f"no 'listening on' line: {line!r} {out!r} {err!r}")
    return p, int(line.strip().rsplit(":", 1)[1])


def run_echo(exe, conns, big_every, big_size, valgrind=None):
    cmd = [exe, "0"]
    stop_timeout = 10
    if valgrind:
        cmd = [valgrind, "-q", "--leak-check=full", "--show-leak-kinds=all",
               "--errors-for-leak-kinds=all", "--error-exitcode=3"] + cmd
        stop_timeout = 60
    p, port = start(cmd)
    try:
        async def all_clients():
            tasks = []
            for i in range(conns):
                msgs = [payload(1 + (i * 37) % 700, i), payload(64, i + 1), b"x"]
                if i % big_every == 0:
                    msgs.append(payload(big_size, i + 2))
                tasks.append(echo(port, msgs, 60))
            await asyncio.gather(*tasks)

        t0 = time.monotonic()
        asyncio.run(all_clients())
        print(f"{conns} concurrent connections echoed in {time.monotonic() - t0:.2f} s")
        sent = reset_mid_stream(port)
        print(f"a connection reset after sending {sent} bytes")
        # The server lives on: one more echo after the reset.
        asyncio.run(echo(port, [payload(1000, 9)], 30))
        # One connection stays open and idle through the stop: its task is dropped.
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        idle.sendall(b"ping")
        if idle.recv(4) != b"ping":
            fail("idle connection: no echo")
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        try:
            out, err = p.communicate(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate(timeout=30)
            fail(f"no exit within {stop_timeout} s of SIGINT: {out!r} {err!r}")
        print(out, end="")
        print(f"stopped {time.monotonic() - t0:.2f} s after SIGINT, status {p.returncode}")
        if err:
            print(err, end="", file=sys.stderr)
        if p.returncode != 0:
            fail(f"status {p.returncode} after SIGINT (3: valgrind found errors or leaks)")
        if "SIGINT: stopping" not in out:
            fail("no stop line")
        if valgrind and err.strip():
            fail("valgrind reported something")
        idle.settimeout(10)
        if idle.recv(1) != b"":
            fail("the idle connection was not closed by the stop")
        idle.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate(timeout=30)


def main():
    if len(sys.argv) != 3:
        fail(__doc__)
    case, exe = sys.argv[1], sys.argv[2]
    if case == "counting":
        run_counting(exe)
    elif case == "sleeps":
        run_sleeps(exe)
    elif case == "echo":
        run_echo(exe, conns=200, big_every=10, big_size=1 << 20)
    elif case == "echo_valgrind":
        vg = shutil.which("valgrind")
        if not vg:
            print("valgrind is not installed: skipped (install valgrind to run this test)")
            sys.exit(SKIP)
        run_echo(exe, conns=20, big_every=10, big_size=1 << 20, valgrind=vg)
    else:
        fail(f"unknown case {case}")
    print("ok")


if __name__ == "__main__":
    main()
