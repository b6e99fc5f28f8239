#!/usr/bin/env python3
"""Integration tests for wakeful-server: test_server.py SERVER CASE

Each case starts its own server on 127.0.0.1 port 0 (-p 0), reads the "listening on" line,
talks to it over loopback, and always kills it (try/finally).  Every wait is bounded; a
case fails by assertion or by timeout, never by hanging.  Exit 0 = pass, 1 = fail,
77 = skipped (meson's convention).  Python standard library only.
"""
import errno
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import frames  # noqa: E402  (tests/lib: the frame encoder the Python tests share)

REPLY = frames.REPLY
TICK = os.sysconf("SC_CLK_TCK")
LISTEN_RE = re.compile(r"^listening on (\S+):(\d+) \((\d+) workers\)$")
AGENT_RE = re.compile(r"^agent on (\S+):(\d+)$", re.M)
WORKER_RE = re.compile(
    r"^worker (\d+): connections (\d+), replies (\d+), bad frames (\d+), "
    r"timeouts (\d+), resets (\d+)")
TOTAL_RE = re.compile(
    r"^total: connections (\d+), replies (\d+), bad frames (\d+), "
    r"timeouts (\d+), resets (\d+)")
FIELDS = ("connections", "replies", "bad_frames", "timeouts", "resets")


class Skip(Exception):
    pass


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def log(*args):
    print(*args, flush=True)


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


frame = frames.encode


# ---- the server process ---------------------------------------------------------------

class Server:
    """wakeful-server -p 0 ARGS, stdout and stderr into files (never a pipe that could
    fill up and block the server)."""

    def __init__(self, binary, *args, preexec_fn=None, bind_host="127.0.0.1", env=None):
        self.dir = tempfile.TemporaryDirectory(prefix="wk-server-test-")
        self.out_path = os.path.join(self.dir.name, "stdout")
        self.err_path = os.path.join(self.dir.name, "stderr")
        self.args = [binary, "-p", "0", *args]
        self.host = bind_host
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, preexec_fn=preexec_fn,
                                         env=env)
        self.pid = self.proc.pid
        self.port = None
        self.workers = None
        self.agent_port = None
        self.returncode = None
        self._wait_listening()

    def stdout(self):
        with open(self.out_path, "r", errors="replace") as f:
            return f.read()

    def stderr(self):
        with open(self.err_path, "r", errors="replace") as f:
            return f.read()

    def _wait_listening(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.stdout()
            if "\n" in out:
                first = out.split("\n", 1)[0]
                m = LISTEN_RE.match(first)
                check(m, f"first stdout line is not 'listening on': {first!r}")
                self.port = int(m.group(2))
                self.workers = int(m.group(3))
                self.listen_host = m.group(1)
                if "--agent-port" in self.args:
                    self._wait_agent_line(deadline)
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited ({self.proc.returncode}) before "
                                     f"listening: {self.stderr()!r}")
            time.sleep(0.01)
        raise AssertionError("no 'listening on' line within 10 s")

    def _wait_agent_line(self, deadline):
        """The "agent on HOST:PORT" line, wherever it is among the startup lines."""
        while time.monotonic() < deadline:
            m = AGENT_RE.search(self.stdout())
            if m:
                self.agent_port = int(m.group(2))
                return
            time.sleep(0.01)
        raise AssertionError(f"no 'agent on' line: {self.stdout()!r}")

    def addr(self):
        return (self.host, self.port)

    def agent_addr(self):
        return (self.host, self.agent_port)

    def send_signal(self, sig):
        os.kill(self.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Sends sig, waits for the exit; returns (returncode, stderr)."""
        if self.proc.poll() is None and sig:
            self.proc.send_signal(sig)
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"server did not exit within {timeout} s of {sig!r}")
        return self.returncode, self.stderr()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.dir.cleanup()

    def cpu_ticks(self):
        with open(f"/proc/{self.pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return int(rest[11]) + int(rest[12])  # utime, stime: fields 14 and 15

    def fd_count(self):
        if self.proc.poll() is not None:  # gone (or a zombie, whose fd list is empty)
            raise AssertionError(f"server exited ({self.proc.returncode}) unexpectedly: "
                                 f"{self.stderr()[-3000:]!r}")
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def wait_connections(self, n, timeout=5.0):
        """Waits (SIGUSR1 reports, bounded) until the workers have taken n connections."""
        deadline = time.monotonic() + timeout
        while True:
            (_, total), text = self.counters()
            if total is not None and total["connections"] >= n:
                return total
            check(time.monotonic() < deadline,
                  f"only {total and total['connections']} of {n} connections taken in "
                  f"{timeout} s")
            time.sleep(0.05)

    def wait_fds(self, want, timeout=3.0):
        deadline = time.monotonic() + timeout
        n = self.fd_count()
        while n != want and time.monotonic() < deadline:
            time.sleep(0.02)
            n = self.fd_count()
        check(n == want, f"open descriptors {n}, expected baseline {want}")

    def worker_waits(self):
        """{thread name: what it sleeps in} for the worker threads ("wk-worker-N"): the
        kernel function from wchan, or else the syscall number; None when unreadable."""
        waits = {}
        for tid in os.listdir(f"/proc/{self.pid}/task"):
            base = f"/proc/{self.pid}/task/{tid}"
            try:
                with open(base + "/comm") as f:
                    name = f.read().strip()
                if not name.startswith("wk-worker"):
                    continue
                with open(base + "/wchan") as f:
                    wchan = f.read().strip()
                if wchan in ("", "0"):
                    with open(base + "/syscall") as f:
                        wchan = "syscall " + f.read().split()[0]
                waits[name] = wchan
            except OSError:
                waits[name] = None
        return waits

    def counters(self):
        """SIGUSR1, then the report's lines: {worker id: {field: n}}, and parks per worker."""
        before = len(self.stderr())
        self.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            text = self.stderr()[before:]
            if "acceptor:" in text:
                return parse_report(text), text
            time.sleep(0.01)
        raise AssertionError("no SIGUSR1 report within 5 s")


def parse_report(text):
    workers, total = {}, None
    for line in text.splitlines():
        m = WORKER_RE.match(line)
        if m:
            workers[int(m.group(1))] = dict(zip(FIELDS, map(int, m.groups()[1:])))
        m = TOTAL_RE.match(line)
        if m:
            total = dict(zip(FIELDS, map(int, m.groups())))
    return workers, total


def stop_and_summary(srv, expect_workers=None):
    rc, err = srv.stop()
    check(rc == 0, f"exit status {rc}, stderr: {err[-2000:]!r}")
    summary = err[err.rfind("shutdown summary"):] if "shutdown summary" in err else ""
    workers, total = parse_report(summary)
    check(total is not None, f"no summary in stderr: {err[-2000:]!r}")
    if expect_workers is not None:
        check(sorted(workers) == list(range(1, expect_workers + 1)),
              f"summary workers {sorted(workers)}")
    return workers, total


# ---- clients --------------------------------------------------------------------------

def connect(addr, timeout=5.0):
    family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(addr)
    return s


def read_to_eof(s, timeout=5.0):
    """Everything the peer sends until EOF: (bytes, how) with how 'eof', 'reset' or
    'timeout'."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data, "eof"
            data += chunk
    except ConnectionResetError:
        return data, "reset"
    except socket.timeout:
        return data, "timeout"


def request(addr, payload=b"Hello, server! 1", timeout=10.0):
    s = connect(addr)
    try:
        s.sendall(frame(payload))
        data, how = read_to_eof(s, timeout)
    finally:
        s.close()
    return data, how


def good_request(addr, what="request"):
    data, how = request(addr)
    check(data == REPLY and how == "eof", f"{what}: got {data!r} then {how}")


def reset(s):
    """Closes s with an RST (SO_LINGER on, 0 s)."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def many(addr, n, payload=b"Hello, server! 1", deadline_s=30.0):
    """Opens n connections and sends each a frame as fast as possible, then collects every
    reply concurrently.  Returns a list of (reply, how, t_sent, t_done)."""
    socks, sent = [], []
    try:
        send_frames(addr, n, socks, sent, payload)
        return collect(socks, sent, deadline_s)
    finally:
        for s in socks:
            s.close()


def send_frames(addr, n, socks, sent, payload=b"Hello, server! 1"):
    """Opens n connections, sends each a frame, and appends to socks (non-blocking from
    then on) and sent (when its frame went out): the caller's lists, so that the caller
    closes whatever was opened even if this fails half-way."""
    for _ in range(n):
        s = connect(addr)
        socks.append(s)
        s.sendall(frame(payload))
        sent.append(time.monotonic())
        s.setblocking(False)


def collect(socks, sent, deadline_s):
    sel = selectors.DefaultSelector()
    results = [None] * len(socks)
    bufs = [b""] * len(socks)
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, i)
    pending = len(socks)
    deadline = time.monotonic() + deadline_s
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=max(0.0, deadline - time.monotonic())):
            i = key.data
            try:
                chunk = key.fileobj.recv(4096)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                chunk, how = None, "reset"
            else:
                how = "eof"
            if chunk:
                bufs[i] += chunk
                continue
            results[i] = (bufs[i], how, sent[i], time.monotonic())
            sel.unregister(key.fileobj)
            pending -= 1
    sel.close()
    for i, r in enumerate(results):
        if r is None:
            results[i] = (bufs[i], "timeout", sent[i], time.monotonic())
    return results


def check_all_replied(results, what):
    bad = [(r[0], r[1]) for r in results if r[0] != REPLY or r[1] != "eof"]
    check(not bad, f"{what}: {len(bad)} of {len(results)} without a proper reply, "
                   f"e.g. {bad[:3]}")


# ---- cases ----------------------------------------------------------------------------

def case_good(binary):
    srv = Server(binary, "--sleep-ms", "100")
    try:
        t = time.monotonic()
        data, how = request(srv.addr())
        dt = time.monotonic() - t
        check(data == REPLY, f"reply {data!r}")
        check(how == "eof", f"after the reply: {how}")
        check(dt >= 0.1, f"replied after {dt:.3f} s, before --sleep-ms 100")
        workers, total = stop_and_summary(srv, 3)
        check(total["replies"] == 1 and total["connections"] == 1, f"total {total}")
    finally:
        srv.kill()


def case_round_robin(binary):
    srv = Server(binary, "--workers", "3", "--sleep-ms", "0")
    try:
        for i in range(300):
            good_request(srv.addr(), f"request {i}")
        workers, total = stop_and_summary(srv, 3)
        for wid, c in workers.items():
            check(c["connections"] == 100 and c["replies"] == 100,
                  f"worker {wid}: {c}, expected 100 each")
        check(total["replies"] == 300, f"total {total}")
    finally:
        srv.kill()


def serve_mix(binary, nworkers):
    """nworkers x 3 sequential requests, then nworkers x 20 concurrent ones."""
    srv = Server(binary, "--workers", str(nworkers), "--sleep-ms", "50")
    try:
        check(srv.workers == nworkers, f"listening line says {srv.workers} workers")
        for i in range(3 * nworkers):
            good_request(srv.addr(), f"sequential request {i}")
        t = time.monotonic()
        results = many(srv.addr(), 20 * nworkers)
        check_all_replied(results, "concurrent requests")
        dt = time.monotonic() - t
        check(dt < 3.0, f"{20 * nworkers} concurrent requests took {dt:.2f} s")
        workers, total = stop_and_summary(srv, nworkers)
        for wid, c in workers.items():
            check(c["replies"] == 23, f"worker {wid}: {c}, expected 23")
        check(total["replies"] == 23 * nworkers, f"total {total}")
    finally:
        srv.kill()


def case_workers_1(binary):
    serve_mix(binary, 1)


def case_workers_8(binary):
    serve_mix(binary, 8)


def case_idle_cpu(binary):
    srv = Server(binary)
    try:
        good_request(srv.addr())  # the first wakes every path once, then all is quiet
        time.sleep(0.3)
        t0 = srv.cpu_ticks()
        time.sleep(2.0)
        used = srv.cpu_ticks() - t0
        log(f"idle 2 s: {used} ticks")
        check(used <= 1, f"idle server used {used} ticks in 2 s (at most 1 allowed)")
    finally:
        srv.kill()


def case_sleeping_cpu(binary):
    """1,000 connections, each has sent its frame and waits out --sleep-ms 2000: the
    server holds them without spending CPU (no busy polling), then answers them all."""
    raise_nofile()
    srv = Server(binary, "--sleep-ms", "2000")
    socks, sent = [], []
    try:
        send_frames(srv.addr(), 1000, socks, sent)
        first, last = sent[0], sent[-1]
        log(f"1000 frames sent in {last - first:.3f} s")
        check(last - first < 1.4, "sending 1000 frames took too long to leave a window")
        # The window: every frame is in and asleep, no reply is due yet.
        time.sleep(max(0.0, last + 0.3 - time.monotonic()))
        t0, w0 = srv.cpu_ticks(), time.monotonic()
        time.sleep(max(0.0, first + 1.9 - time.monotonic()))
        used, window = srv.cpu_ticks() - t0, time.monotonic() - w0
        log(f"holding 1000 sleeping connections for {window:.2f} s: {used} ticks")
        check(used <= 5, f"{used} ticks while 1000 connections slept (at most 5)")
        results = collect(socks, sent, 10.0)
        check_all_replied(results, "sleeping connections")
        late = max(r[3] - r[2] for r in results)
        check(late < 2.0 + 2.0, f"slowest reply {late:.2f} s after its frame")
    finally:
        for s in socks:
            s.close()
        srv.kill()


# -- bad inputs: each handled, then a good request succeeds and the descriptors are back

def bad_input(binary, args, action, counter):
    srv = Server(binary, *args)
    try:
        base = srv.fd_count()
        action(srv)
        good_request(srv.addr(), "good request after the bad one")
        srv.wait_fds(base)
        workers, total = stop_and_summary(srv)
        check(total["replies"] >= 1, f"total {total}")
        if counter is not None:
            check(total[counter] == 1, f"expected {counter} 1, total {total}")
        check(total["connections"] == 2, f"expected 2 connections, total {total}")
    finally:
        srv.kill()


def expect_no_reply(s, what, timeout=5.0):
    data, how = read_to_eof(s, timeout)
    check(data == b"" and how in ("eof", "reset"), f"{what}: got {data!r} then {how}")


def case_bad_truncated(binary):
    def action(srv):
        s = connect(srv.addr())
        s.sendall(frame(b"0123456789" * 2)[:15])  # the header and 5 of 20 bytes
        s.shutdown(socket.SHUT_WR)
        expect_no_reply(s, "frame cut short")
        s.close()
    bad_input(binary, ["--sleep-ms", "0"], action, "bad_frames")


def case_bad_length_max(binary):
    def action(srv):
        s = connect(srv.addr())
        s.sendall(frame(b"", length=0xFFFFFFFF))
        expect_no_reply(s, "length 0xFFFFFFFF")
        s.close()
    bad_input(binary, ["--sleep-ms", "0"], action, "bad_frames")


def case_bad_too_large(binary):
    def action(srv):
        # Exactly --max-frame is fine...
        data, how = request(srv.addr(), b"x" * 1000)
        check(data == REPLY, f"a frame of exactly --max-frame: {data!r} {how}")
        # ...one more byte is not.
        s = connect(srv.addr())
        s.sendall(frame(b"x" * 1001))
        expect_no_reply(s, "length max-frame + 1")
        s.close()
    srv_args = ["--sleep-ms", "0", "--max-frame", "1000"]
    srv = Server(binary, *srv_args)
    try:
        base = srv.fd_count()
        action(srv)
        good_request(srv.addr(), "good request after the bad one")
        srv.wait_fds(base)
        workers, total = stop_and_summary(srv)
        check(total["bad_frames"] == 1 and total["replies"] == 2, f"total {total}")
    finally:
        srv.kill()


def case_bad_utf8(binary):
    def action(srv):
        s = connect(srv.addr())
        s.sendall(frame(b"ok \xc3\x28 \xed\xa0\x80"))  # bad continuation, a surrogate
        expect_no_reply(s, "invalid UTF-8")
        s.close()
    bad_input(binary, ["--sleep-ms", "0"], action, "bad_frames")


def case_bad_silent(binary):
    def action(srv):
        s = connect(srv.addr())
        t = time.monotonic()
        expect_no_reply(s, "silent peer", timeout=5.0)
        dt = time.monotonic() - t
        check(0.25 <= dt <= 3.0, f"silent peer closed after {dt:.3f} s "
                                 f"(--read-timeout-ms 300)")
        s.close()
    bad_input(binary, ["--sleep-ms", "0", "--read-timeout-ms", "300"], action, "timeouts")


def case_bad_trickle(binary):
    """A peer sending a byte every 100 ms: the read timeout is a deadline for the whole
    frame, not an idle timeout, so it is cut off at 500 ms all the same."""
    def action(srv):
        s = connect(srv.addr())
        t = time.monotonic()
        data = frame(b"y" * 50)
        closed = False
        for b in data:
            try:
                s.send(bytes([b]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.1)
            if time.monotonic() - t > 3.0:
                break
        if not closed:
            expect_no_reply(s, "trickling peer")
        dt = time.monotonic() - t
        check(dt <= 3.0, f"trickling peer still connected after {dt:.2f} s")
        s.close()
    bad_input(binary, ["--sleep-ms", "0", "--read-timeout-ms", "500"], action, "timeouts")


def case_bad_reset(binary):
    def action(srv):
        s = connect(srv.addr())
        s.sendall(frame(b"z" * 40)[:20])
        time.sleep(0.1)  # the server has read the partial frame and waits for the rest
        reset(s)
    bad_input(binary, ["--sleep-ms", "0"], action, "resets")


def case_bad_close_before_reply(binary):
    def action(srv):
        s = connect(srv.addr())
        s.sendall(frame())
        s.close()  # while the server sleeps on it
        time.sleep(0.5)
    srv = Server(binary, "--sleep-ms", "300")
    try:
        base = srv.fd_count()
        action(srv)
        good_request(srv.addr(), "good request after the bad one")
        srv.wait_fds(base)
        workers, total = stop_and_summary(srv)
        # The reply to a closed peer may still be accepted by the kernel (a reply) or fail
        # (a reset): either way the connection is closed and counted once.
        check(total["connections"] == 2 and total["replies"] + total["resets"] == 2,
              f"total {total}")
    finally:
        srv.kill()


def case_frames(binary):
    """Frames that are fine however they arrive: byte by byte, split large, empty field3,
    exactly 65536 bytes, half-closed after sending."""
    srv = Server(binary, "--sleep-ms", "0")
    try:
        s = connect(srv.addr())
        for b in frame(b"split into single bytes"):
            s.send(bytes([b]))
            time.sleep(0.002)
        data, how = read_to_eof(s)
        s.close()
        check(data == REPLY, f"byte by byte: {data!r} {how}")
        big = frame("é".encode() * 32768)  # 65536 bytes of two-byte characters
        s = connect(srv.addr())
        s.sendall(big[:7])
        time.sleep(0.05)
        s.sendall(big[7:40001])  # splits a two-byte character
        time.sleep(0.05)
        s.sendall(big[40001:])
        data, how = read_to_eof(s)
        s.close()
        check(data == REPLY, f"65536-byte frame in pieces: {data!r} {how}")
        data, how = request(srv.addr(), b"")
        check(data == REPLY, f"empty field3: {data!r} {how}")
        s = connect(srv.addr())
        s.sendall(frame())
        s.shutdown(socket.SHUT_WR)
        data, how = read_to_eof(s)
        s.close()
        check(data == REPLY, f"half-closed after the frame: {data!r} {how}")
        workers, total = stop_and_summary(srv)
        check(total["replies"] == 4, f"total {total}")
    finally:
        srv.kill()


def case_reset_storm(binary):
    """200 connect-and-reset, then 300 good requests: all answered, by every worker."""
    raise_nofile()
    srv = Server(binary, "--workers", "3", "--sleep-ms", "100")
    try:
        base = srv.fd_count()
        for _ in range(200):
            reset(connect(srv.addr()))
        results = many(srv.addr(), 300)
        check_all_replied(results, "good requests after 200 resets")
        srv.wait_fds(base)
        workers, total = stop_and_summary(srv, 3)
        for wid, c in workers.items():
            check(c["replies"] > 0, f"worker {wid} answered nothing: {c}")
        check(total["replies"] == 300, f"total {total}")
        check(total["resets"] + total["bad_frames"] + total["timeouts"]
              == total["connections"] - 300, f"total {total}")
    finally:
        srv.kill()


def case_burst_parked(binary):
    """2,000 connections in a burst while every worker is parked: all answered within
    --sleep-ms + 1 s of their frame (a lost unpark would leave some waiting)."""
    raise_nofile()
    srv = Server(binary, "--workers", "3", "--sleep-ms", "1000")
    try:
        time.sleep(0.5)
        # Parked = asleep on the condition variable (a futex), not in epoll_wait.
        waits = srv.worker_waits()
        check(len(waits) == 3, f"worker threads: {waits}")
        if all(w is not None for w in waits.values()):
            futex = {"syscall 202", "syscall 98"}  # x86_64, aarch64
            check(all("futex" in w or w in futex for w in waits.values()),
                  f"workers not parked before the burst: {waits}")
        else:
            log(f"cannot see where the workers sleep ({waits}); burst anyway")
        results = many(srv.addr(), 2000)
        check_all_replied(results, "burst")
        late = max(r[3] - r[2] for r in results)
        log(f"2000 in a burst: slowest reply {late:.3f} s after its frame")
        check(late <= 2.0, f"slowest reply {late:.3f} s after its frame (> sleep + 1 s)")
        workers, total = stop_and_summary(srv, 3)
        check(total["replies"] == 2000, f"total {total}")
    finally:
        srv.kill()


def case_sigterm_drain(binary):
    """SIGTERM with 100 requests in flight: all 100 get their reply, exit status 0."""
    srv = Server(binary, "--workers", "3", "--sleep-ms", "1500")
    socks, sent = [], []
    try:
        send_frames(srv.addr(), 100, socks, sent)
        srv.wait_connections(100)  # all accepted, read and asleep
        t = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        try:
            connect(srv.addr(), timeout=2).close()
            refused = False
        except (ConnectionRefusedError, socket.timeout):
            refused = True
        check(refused, "a new connection was accepted after SIGTERM")
        results = collect(socks, sent, 10.0)
        check_all_replied(results, "requests in flight at SIGTERM")
        workers, total = stop_and_summary(srv, 3)
        dt = time.monotonic() - t
        check(total["replies"] == 100, f"total {total}")
        check(dt < 5.0, f"exit {dt:.2f} s after SIGTERM")
    finally:
        for s in socks:
            s.close()
        srv.kill()


def case_drain_deadline(binary):
    """Requests that would outlast --drain-ms are cut off at the deadline: the server
    exits 0 about drain-ms after SIGTERM, the clients see EOF without a reply."""
    srv = Server(binary, "--sleep-ms", "10000", "--drain-ms", "300")
    socks, sent = [], []
    try:
        send_frames(srv.addr(), 10, socks, sent)
        srv.wait_connections(10)
        time.sleep(0.1)  # and read (cancelled either way, asleep or not)
        t = time.monotonic()
        workers, total = stop_and_summary(srv)
        dt = time.monotonic() - t
        check(0.25 <= dt <= 2.5, f"exit {dt:.2f} s after SIGTERM with --drain-ms 300")
        results = collect(socks, sent, 5.0)
        check(all(r[0] == b"" and r[1] in ("eof", "reset") for r in results),
              f"cut-off clients saw {[(r[0], r[1]) for r in results][:3]}")
        err = srv.stderr()
        check(re.search(r"^total: .*cancelled 10$", err, re.M), f"summary: {err!r}")
    finally:
        for s in socks:
            s.close()
        srv.kill()


def case_sigusr1(binary):
    srv = Server(binary, "--workers", "2", "--sleep-ms", "0")
    try:
        good_request(srv.addr())
        (workers, total), text = srv.counters()
        check(sorted(workers) == [1, 2] and total["replies"] == 1, f"report: {text!r}")
        check("executor: spawned" in text and "acceptor:" in text, f"report: {text!r}")
        good_request(srv.addr(), "request after SIGUSR1")
        workers, total = stop_and_summary(srv, 2)
        check(total["replies"] == 2, f"total {total}")
    finally:
        srv.kill()


def case_max_connections(binary):
    """At --max-connections the server stops accepting; the next connection waits in the
    backlog and is served as soon as one closes."""
    srv = Server(binary, "--max-connections", "5", "--sleep-ms", "0",
                 "--read-timeout-ms", "20000")
    held = []
    try:
        base = srv.fd_count()
        for _ in range(5):
            held.append(connect(srv.addr()))
        srv.wait_fds(base + 5)
        s = connect(srv.addr())  # completes in the backlog
        s.sendall(frame())
        data, how = read_to_eof(s, timeout=0.7)
        check(how == "timeout" and data == b"", f"served past the limit: {data!r} {how}")
        check(srv.fd_count() == base + 5, "accepted past --max-connections")
        held.pop().close()
        data, how = read_to_eof(s, timeout=3.0)
        s.close()
        check(data == REPLY and how == "eof", f"after a close: {data!r} {how}")
        for h in held:
            h.close()
        held = []
        srv.wait_fds(base)
        good_request(srv.addr())
    finally:
        for h in held:
            h.close()
        srv.kill()


def case_emfile(binary):
    """Out of descriptors (RLIMIT_NOFILE 40, --max-connections above it): accept fails with
    EMFILE; the server neither spins nor stops, its agent port still answers, and it serves
    again once descriptors free."""
    raise_nofile()

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))

    srv = Server(binary, "--workers", "1", "--max-connections", "1000", "--sleep-ms", "0",
                 "--read-timeout-ms", "20000", "--agent-port", "0", preexec_fn=low_limit)
    held = []
    try:
        base = srv.fd_count()
        for _ in range(60):
            held.append(connect(srv.addr()))
        srv.wait_fds(40)  # every descriptor in use, the rest wait in the backlog
        t0 = srv.cpu_ticks()
        time.sleep(1.5)
        used = srv.cpu_ticks() - t0
        log(f"out of descriptors for 1.5 s: {used} ticks")
        check(used <= 3, f"{used} ticks in 1.5 s while out of descriptors (spinning?)")
        check("pausing accepts" in srv.stderr(), f"no EMFILE note: {srv.stderr()!r}")
        # The agent answers even now (its reserve descriptor), and does not spin.
        check(agent_says(srv) == {"up", "ready"}, "agent while out of descriptors")
        check(agent_says(srv) == {"up", "ready"}, "agent again while out of descriptors")
        t0 = srv.cpu_ticks()
        time.sleep(0.5)
        used = srv.cpu_ticks() - t0
        check(used <= 2, f"{used} ticks in 0.5 s after the agent was asked (spinning?)")
        for h in held:
            h.close()
        held = []
        t = time.monotonic()
        good_request(srv.addr(), "request once descriptors are free")
        log(f"served {time.monotonic() - t:.3f} s after the descriptors came back")
        srv.wait_fds(base, timeout=5.0)
        rc, err = srv.stop()
        check(rc == 0, f"exit status {rc}")
    finally:
        for h in held:
            h.close()
        srv.kill()


def case_ipv6(binary):
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        raise Skip("no IPv6 loopback")
    srv = Server(binary, "-b", "::1", "--sleep-ms", "0", bind_host="::1")
    try:
        check(srv.listen_host == "[::1]", f"listening line host {srv.listen_host!r}")
        good_request(srv.addr())
    finally:
        srv.kill()


def case_verbose(binary):
    # Defer-accept off: a peer that resets before sending anything must reach the worker
    # (with it on, the kernel drops such a peer before accept and there is nothing to log).
    srv = Server(binary, "-v", "--workers", "2", "--sleep-ms", "0", "--defer-accept-ms", "0")
    try:
        good_request(srv.addr())
        s = connect(srv.addr())
        s.sendall(frame(b"\xff"))
        expect_no_reply(s, "invalid UTF-8")
        s.close()
        reset(connect(srv.addr()))
        s = connect(srv.addr())
        s.sendall(frame(b'quote " backslash \\ newline \n'))
        read_to_eof(s)
        s.close()
        time.sleep(0.3)
        stop_and_summary(srv, 2)
        out = srv.stdout()
        check(re.search(r"^worker 1 received connection from 127\.0\.0\.1:\d+$", out, re.M),
              f"stdout: {out!r}")
        check('received message: Data { field1: 1, field2: 1, field3: "Hello, server! 1" }'
              in out, f"stdout: {out!r}")
        check('field3: "quote \\" backslash \\\\ newline \\n" }' in out, f"stdout: {out!r}")
        check(re.search(r"^worker 2: 127\.0\.0\.1:\d+: invalid UTF-8", out, re.M | re.I),
              f"stdout: {out!r}")
        check(re.search(r"^worker 1: 127\.0\.0\.1:\d+: .*(reset|closed)", out, re.M),
              f"stdout: {out!r}")
    finally:
        srv.kill()


def case_bad_flag(binary):
    for args in (["--bogus"], ["-x"], ["--workers", "0"], ["--workers", "257"],
                 ["-w", "two"], ["-p", "65536"], ["--bind", "localhost"],
                 ["--sleep-ms", "-1"], ["--read-timeout-ms", "0"], ["--workers"],
                 ["--max-connections", "0"], ["--max-frame", "1e3"], ["stray"],
                 ["--defer-accept-ms", "-5"], ["--defer-accept-ms", "3600001"],
                 ["--drain-grace-ms", "-1"], ["--drain-grace-ms", "86400001"],
                 ["--agent-port", "65536"], ["--agent-port"], ["--reuseport=1"]):
        r = subprocess.run([binary, *args], capture_output=True, timeout=10)
        err = r.stderr.decode(errors="replace")
        check(r.returncode == 2, f"{args}: exit {r.returncode}, expected 2")
        check(err.startswith("wakeful-server: ") and "usage:" in err,
              f"{args}: stderr {err[:300]!r}")
        check(r.stdout == b"", f"{args}: stdout {r.stdout!r}")
    r = subprocess.run([binary, "--help"], capture_output=True, timeout=10)
    out = r.stdout.decode()
    check(r.returncode == 0, f"--help: exit {r.returncode}")
    for flag in ("-w, --workers", "-b, --bind", "-p, --port", "--sleep-ms", "--max-frame",
                 "--read-timeout-ms", "--max-connections", "--drain-ms", "-v, --verbose",
                 "-q, --quiet", "-h, --help", "--version", "EMFILE", "--drain-grace-ms",
                 "--agent-port", "--reuseport", "tcp_migrate_req", "SIGHUP", "lingering"):
        check(flag in out, f"--help does not document {flag}")
    r = subprocess.run([binary, "--version"], capture_output=True, timeout=10)
    check(r.returncode == 0 and r.stdout == b"wakeful-server 0.1.0\n",
          f"--version: {r.returncode} {r.stdout!r}")


# -- shutdown without loss, the lingering close, the agent port, SIGHUP, SO_REUSEPORT

def accept_queue(port):
    """Connections waiting in the accept queue of the listener on 127.0.0.1:port (for a
    listening socket, /proc/net/tcp's rx_queue is the accept queue's length), or None."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[1].endswith(f":{port:04X}") and parts[3] == "0A":
                return int(parts[4].split(":")[1], 16)
    return None


def case_sigterm_queued(binary):
    """SIGTERM while 150 connections that sent their frame still wait in the accept queue
    behind --max-connections 50: the server accepts them as slots free up before it closes
    the listener, so all 200 get their reply, and it exits 0."""
    raise_nofile()
    srv = Server(binary, "--max-connections", "50", "--sleep-ms", "300")
    socks, sent = [], []
    try:
        send_frames(srv.addr(), 200, socks, sent)
        srv.wait_connections(50)
        deadline = time.monotonic() + 5
        while accept_queue(srv.port) != 150 and time.monotonic() < deadline:
            time.sleep(0.02)
        queued = accept_queue(srv.port)
        (_, total), _ = srv.counters()
        check(queued == 150 and total["connections"] == 50,
              f"before SIGTERM: {total['connections']} taken, {queued} queued (want 50, 150)")
        t = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        results = collect(socks, sent, 15.0)
        check_all_replied(results, "connections accepted or queued at SIGTERM")
        workers, total = stop_and_summary(srv)
        dt = time.monotonic() - t
        log(f"200 replies, exit {dt:.2f} s after SIGTERM")
        check(total["replies"] == 200, f"total {total}")
    finally:
        for s in socks:
            s.close()
        srv.kill()


def case_linger(binary):
    """A client that sends 100 KB more after its frame (during the sleep, or together with
    the frame) reads exactly the reply, then EOF: the server's close lingers, reading and
    discarding, instead of resetting over the unread input."""
    srv = Server(binary, "--sleep-ms", "300")
    try:
        extra = b"x" * (100 * 1024)
        for how in ("during the sleep", "with the frame"):
            s = connect(srv.addr())
            errors = []

            def send_more():
                try:
                    if how == "during the sleep":
                        s.sendall(frame())
                        time.sleep(0.1)
                        s.sendall(extra)
                    else:
                        s.sendall(frame() + extra)
                except OSError as e:
                    errors.append(e)

            sender = threading.Thread(target=send_more)
            sender.start()
            data, end = read_to_eof(s, timeout=10.0)
            sender.join(timeout=10.0)
            s.close()
            check(data == REPLY and end == "eof",
                  f"100 KB more {how}: got {data!r} then {end} (expected the reply, then EOF)")
            check(not errors, f"100 KB more {how}: sending failed: {errors}")
        good_request(srv.addr(), "a plain request after the lingering ones")
        workers, total = stop_and_summary(srv)
        check(total["replies"] == 3 and total["connections"] == 3, f"total {total}")
    finally:
        srv.kill()


AGENT_WORDS = {"up", "down", "stopped", "fail", "ready", "drain", "maint"}


def agent_says(srv, send=None):
    """One agent-check as HAProxy's configuration manual ("agent-check") describes it:
    connect, read one ASCII line of words delimited by spaces, tabs or commas, ended by
    '\r' and/or '\n'.  Returns the set of words; checks that the server then closes
    cleanly (EOF, no reset) and sent nothing else.  send: what HAProxy's "agent-send"
    would write first."""
    s = connect(srv.agent_addr())
    try:
        if send is not None:
            s.sendall(send)
        data, how = read_to_eof(s, timeout=5.0)
    finally:
        s.close()
    check(how == "eof", f"agent: {data!r} then {how}")
    check(data.endswith(b"\n") and data.count(b"\n") == 1 and data.isascii(),
          f"agent: not one ASCII line: {data!r}")
    words = set(w for w in re.split(r"[ \t,]+", data.decode().strip("\r\n")) if w)
    check(words and words <= AGENT_WORDS, f"agent: words {words} from {data!r}")
    return words


def refused(addr):
    try:
        connect(addr, timeout=2).close()
        return False
    except (ConnectionRefusedError, socket.timeout):
        return True


def case_agent(binary):
    """--agent-port: "up ready" while serving, to every connection, also one that writes
    first (agent-send); a hundred at once; a client that connects and never reads does not
    hold anything up."""
    srv = Server(binary, "--agent-port", "0", "--sleep-ms", "0")
    try:
        check(agent_says(srv) == {"up", "ready"}, "agent before SIGTERM")
        check(agent_says(srv, send=b"wakeful\n") == {"up", "ready"}, "agent with agent-send")
        idle = connect(srv.agent_addr())  # never reads
        socks = [connect(srv.agent_addr()) for _ in range(100)]
        for s in socks:
            data, how = read_to_eof(s)
            check(data == b"up ready\n" and how == "eof", f"agent burst: {data!r} {how}")
            s.close()
        good_request(srv.addr(), "request while an agent client sits idle")
        idle.close()
        workers, total = stop_and_summary(srv)
        check(total["replies"] == 1, f"total {total}")
    finally:
        srv.kill()


def case_drain_grace(binary):
    """--drain-grace-ms: after SIGTERM the server goes on accepting and serving for the
    grace period while the agent says "drain"; then the listener closes, the agent says
    "down" while what was accepted finishes, and it exits 0."""
    srv = Server(binary, "--agent-port", "0", "--drain-grace-ms", "2000", "--sleep-ms", "3000")
    socks, sent = [], []
    try:
        check(agent_says(srv) == {"up", "ready"}, "agent before SIGTERM")
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        check(agent_says(srv) == {"drain"}, "agent during the grace period")
        send_frames(srv.addr(), 1, socks, sent)  # accepted during the grace period
        time.sleep(max(0.0, t0 + 1.0 - time.monotonic()))
        send_frames(srv.addr(), 1, socks, sent)  # its reply is due 1 s after the grace
        check(agent_says(srv) == {"drain"}, "agent late in the grace period")
        time.sleep(max(0.0, t0 + 2.5 - time.monotonic()))
        check(refused(srv.addr()), "the listener is still open after the grace period")
        check(agent_says(srv) == {"down"}, "agent once the listener is closed")
        results = collect(socks, sent, 10.0)
        check_all_replied(results, "requests accepted during the grace period")
        workers, total = stop_and_summary(srv)
        check(total["replies"] == 2, f"total {total}")
    finally:
        for s in socks:
            s.close()
        srv.kill()


def case_drain_grace_second_signal(binary):
    """A second SIGTERM during the grace period ends it at once: the listener closes and
    the server exits 0 long before the 20 s grace period."""
    srv = Server(binary, "--agent-port", "0", "--drain-grace-ms", "20000", "--sleep-ms", "0")
    try:
        srv.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        check(agent_says(srv) == {"drain"}, "agent during the grace period")
        good_request(srv.addr(), "request during the grace period")
        t = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        rc, err = srv.stop(sig=0, timeout=5.0)
        dt = time.monotonic() - t
        check(rc == 0, f"exit status {rc}: {err[-2000:]!r}")
        check(dt < 3.0, f"exit {dt:.2f} s after the second SIGTERM")
        check("grace period ended" in err, f"stderr: {err!r}")
        workers, total = parse_report(err[err.rfind("shutdown summary"):])
        check(total is not None and total["replies"] == 1, f"summary: {err!r}")
    finally:
        srv.kill()


def case_second_signal_drain(binary):
    """During the drain (no grace period) a second SIGTERM, and a SIGINT, change nothing:
    the requests in flight are all answered and the exit status is 0."""
    srv = Server(binary, "--sleep-ms", "1500")
    socks, sent = [], []
    try:
        send_frames(srv.addr(), 20, socks, sent)
        srv.wait_connections(20)
        srv.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        srv.send_signal(signal.SIGTERM)
        srv.send_signal(signal.SIGINT)
        results = collect(socks, sent, 10.0)
        check_all_replied(results, "requests in flight at the first SIGTERM")
        workers, total = stop_and_summary(srv)
        check(total["replies"] == 20, f"total {total}")
    finally:
        for s in socks:
            s.close()
        srv.kill()


def case_sighup(binary):
    """SIGHUP does not kill: it prints the counters, as SIGUSR1 does, and serving goes on."""
    srv = Server(binary, "--sleep-ms", "0")
    try:
        good_request(srv.addr())
        before = len(srv.stderr())
        srv.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "acceptor:" not in srv.stderr()[before:] and time.monotonic() < deadline:
            time.sleep(0.01)
        text = srv.stderr()[before:]
        check("wakeful-server: counters" in text and "acceptor:" in text,
              f"no report after SIGHUP: {text!r}")
        workers, total = parse_report(text)
        check(total is not None and total["replies"] == 1, f"report: {text!r}")
        good_request(srv.addr(), "request after SIGHUP")
        workers, total = stop_and_summary(srv)
        check(total["replies"] == 2, f"total {total}")
    finally:
        srv.kill()


def in_new_netns(binary, case):
    """Runs CASE again in a network namespace of its own (unshare -n), where it may set
    sysctls; raises Skip where namespaces are not allowed."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        raise Skip("needs unshare(1) and ip(8) to make a network namespace")
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10)
    if probe.returncode != 0:
        raise Skip("cannot make a network namespace here (unshare -n: "
                   f"{probe.stderr.decode(errors='replace').strip()}); needs root or "
                   "CAP_SYS_ADMIN")
    env = dict(os.environ, WK_TEST_IN_NETNS="1")
    r = subprocess.run(["unshare", "-n", sys.executable, os.path.abspath(__file__), binary,
                        case], env=env, timeout=120)
    if r.returncode == 77:
        raise Skip("skipped inside the namespace")
    check(r.returncode == 0, f"{case} in its network namespace: exit {r.returncode}")


def case_reuseport(binary):
    """--reuseport: two servers on one port both serve; one SIGTERMed under a steady load
    while the other runs on loses nothing (net.ipv4.tcp_migrate_req=1 hands what the
    stopping one's listener still held to its sibling).  In a network namespace of its
    own, so that it can set the sysctl."""
    if os.environ.get("WK_TEST_IN_NETNS") != "1":
        in_new_netns(binary, "reuseport")
        return
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, timeout=10)
    with open("/proc/sys/net/ipv4/tcp_migrate_req", "w") as f:
        f.write("1\n")
    raise_nofile()
    a = Server(binary, "--reuseport", "-w", "2", "--sleep-ms", "20")
    b = None
    try:
        b = Server(binary, "--reuseport", "-w", "2", "--sleep-ms", "20", "-p", str(a.port))
        check(b.port == a.port, f"second instance on port {b.port}, not {a.port}")
        for i in range(100):
            good_request(a.addr(), f"request {i}")
        (_, ta), _ = a.counters()
        (_, tb), _ = b.counters()
        log(f"100 requests: {ta['replies']} by the first instance, {tb['replies']} by the "
            f"second")
        check(ta["replies"] > 0 and tb["replies"] > 0 and
              ta["replies"] + tb["replies"] == 100, "both instances serve")

        # A steady load from 8 clients; the first instance stops 1 s into it.
        ok, failed, stop = [0], [], threading.Event()
        lock = threading.Lock()

        def client():
            while not stop.is_set():
                try:
                    data, how = request(a.addr(), timeout=10.0)
                    good = data == REPLY and how == "eof"
                except OSError as e:
                    good, data, how = False, b"", repr(e)
                with lock:
                    if good:
                        ok[0] += 1
                    else:
                        failed.append((data, how))

        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        _, total_a = stop_and_summary(a)
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join(timeout=20)
        _, total_b = stop_and_summary(b)
        log(f"load: {ok[0]} answered, {len(failed)} lost; replies: first instance "
            f"{total_a['replies']}, second {total_b['replies']}")
        check(not failed, f"{len(failed)} requests lost, e.g. {failed[:3]}")
        check(total_a["replies"] + total_b["replies"] == 100 + ok[0],
              f"replies {total_a['replies']} + {total_b['replies']} != {100 + ok[0]}")
        check(total_b["replies"] > tb["replies"], "the second instance served the load")
    finally:
        a.kill()
        if b is not None:
            b.kill()


CASES = {name[len("case_"):].replace("_", "-"): fn
         for name, fn in globals().items() if name.startswith("case_")}


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in CASES:
        print(f"usage: {sys.argv[0]} SERVER CASE\ncases: {' '.join(CASES)}", file=sys.stderr)
        return 2
    binary, name = os.path.abspath(sys.argv[1]), sys.argv[2]
    try:
        CASES[name](binary)
    except Skip as e:
        log(f"SKIP {name}: {e}")
        return 77
    except AssertionError as e:
        log(f"FAIL {name}: {e}")
        return 1
    log(f"PASS {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
