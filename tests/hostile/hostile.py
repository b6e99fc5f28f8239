#!/usr/bin/env python3
"""Hostile clients against wakeful-server, with a steady stream of good requests.

    hostile.py --server PATH [--duration S] [--soak] [options]

Starts its own wakeful-server on 127.0.0.1 port 0 (3 workers, --sleep-ms 50, a short
--read-timeout-ms, RLIMIT_NOFILE lowered to --nofile), then:

  1. warm-up (--warmup s): good requests, hostile connections and one connection burst,
     so that first-touch allocations are made; then quiet until the server's descriptor
     count is back at its startup value; RSS measured ("before");
  2. the run (--duration s): a steady stream of good requests (--good-concurrency in
     flight at once) while --hostile-threads threads open misbehaving connections of every
     kind, picked at random, and --bursts bursts of --burst connections at once go past
     the server's descriptor limit;
  3. quiet again: descriptors back to the baseline, RSS ("after") within 10 % of before
     (the server runs with glibc's per-thread malloc cache off for this, see --glibc-tcache);
     CPU idle (at most --idle-ticks clock ticks over 2 s, measured from 2 s after the load
     stopped);
  4. SIGTERM: exit status 0 and the shutdown summary.

Every good request must get exactly "Hello, client!" and EOF (lost: 0).  The only
failures allowed are connection attempts refused, reset or timed out while a burst holds
the server's descriptors; they are counted separately.  Hostile connections are checked
too: none that sent a bad frame may get a reply, and the server must close the ones it
should close within a bound.

With --soak, RSS is also sampled every --rss-interval s during the run, and a growth trend
(every sample >= the one before and the last over the first by 10 %) fails.

With --metrics, the server also serves its Prometheus metrics (--metrics 127.0.0.1:0), and
a scraper scrapes them every --scrape-interval s throughout the warm-up and the run: every
scrape must answer 200 with a whole body within --scrape-bound s, however hard the hostile
load presses on the server, its counters must never go down, and after the run the replies
counted there must cover the good requests answered.

Prints the figures at the end (and, with --json PATH, writes them as JSON).  Exit status 0
when everything passed, 1 otherwise.  Loopback only; every loop and wait is bounded; the
server and the burst processes are killed on every way out (and die with this process,
PR_SET_PDEATHSIG).  Python 3 standard library only.
"""
import argparse
import ctypes
import errno
import json
import os
import random
import re
import resource
import select
import selectors
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

# How much longer a connection made during a burst may wait to be closed (see
# Hostile.expect): the kernel's last SYN-ACK retransmission comes 31 s after the first.
BURST_CLOSE_BOUND = 35.0
TICK = os.sysconf("SC_CLK_TCK")
LISTEN_RE = re.compile(r"^listening on (\S+):(\d+) \((\d+) workers\)$")
METRICS_RE = re.compile(r"^metrics on (\S+):(\d+)$")
# Counters a scrape must never see go down.
SCRAPE_COUNTERS = ("wakeful_accepted_total", "wakeful_replies_total",
                   "wakeful_bad_frames_total", "wakeful_timeouts_total",
                   "wakeful_resets_total", "wakeful_request_duration_seconds_count")
TOTAL_RE = re.compile(
    r"^total: connections (\d+), replies (\d+), bad frames (\d+), "
    r"timeouts (\d+), resets (\d+)")
TOTAL_FIELDS = ("connections", "replies", "bad_frames", "timeouts", "resets")
ACCEPTOR_RE = re.compile(
    r"^acceptor: accepted (\d+), dropped (\d+) .*pauses (\d+) at the limit \+ (\d+) out of "
    r"descriptors")
ACCEPTOR_FIELDS = ("accepted", "dropped", "pauses_at_limit", "pauses_out_of_fds")

KINDS = ("slow", "cut", "len_ffffffff", "len_max_plus_1", "garbage", "bad_utf8",
         "reset", "half_close", "silent")
# Valid field3 texts for good requests: ASCII, multi-byte, NUL, a BOM, the largest code
# point.
TEXTS = [
    "Hello, server! {i}",
    "h\u00e9llo w\u00f6rld \u2713 \U0001f980 {i}",
    "nul\u0000inside {i}",
    "\ufeffbom {i}",
    "\U0010ffff{i}",
    "",
]
# Invalid UTF-8 for the bad_utf8 kind (docs/protocol.md's list).
BAD_UTF8 = [b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf", b"\xed\xa0\x80",
            b"\xed\xa0\xbd\xed\xb2\xa9", b"\xf4\x90\x80\x80", b"\xf5", b"\xff", b"\x80",
            b"ok\xe2\x82", b"\xe2\x82a", b"\xc1\xbf"]


def now():
    return time.monotonic()


def log(*args):
    print(*args, flush=True)


frame = frames.encode


def first_frame_valid(data, max_frame):
    """The reference: does data begin with a whole, valid frame (docs/protocol.md)?"""
    if len(data) < 10:
        return False
    n = struct.unpack_from("<I", data, 6)[0]
    if n > max_frame or len(data) < 10 + n:
        return False
    try:
        data[10:10 + n].decode("utf-8", errors="strict")  # strict: as Rust's from_utf8
    except UnicodeDecodeError:
        return False
    return True


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent():
    """In a child before exec: SIGKILL when the parent goes away (PR_SET_PDEATHSIG)."""
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)


def server_side_state(server_port, client_port):
    """The TCP state (the hex code of /proc/net/tcp: 01 established, 03 SYN_RECV, ...) of the
    server's end of the loopback connection from client_port, or None when the kernel holds
    no such socket (not even a half-made one)."""
    want_local, want_rem = f":{server_port:04X}", f":{client_port:04X}"
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[1].endswith(want_local) and parts[2].endswith(want_rem):
                    return parts[3]
    except OSError:
        pass
    return None


def reset_close(s):
    """Closes s with an RST: SO_LINGER on, 0 s."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


# ---- the server -----------------------------------------------------------------------

class Server:
    def __init__(self, binary, args, nofile, env=None):
        self.dir = tempfile.TemporaryDirectory(prefix="wk-hostile-")
        self.out_path = os.path.join(self.dir.name, "stdout")
        self.err_path = os.path.join(self.dir.name, "stderr")
        self.args = [binary, "-p", "0", *args]

        def setup():
            die_with_parent()
            # Soft and hard: the server raises its soft limit to the hard one at start.
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, preexec_fn=setup,
                                         env=env)
        self.pid = self.proc.pid
        deadline = now() + 20
        while True:
            out = self.read(self.out_path)
            if "\n" in out:
                m = LISTEN_RE.match(out.split("\n", 1)[0])
                if not m:
                    raise RuntimeError(f"unexpected first line {out!r}")
                self.port = int(m.group(2))
                self.metrics_port = None
                if "--metrics" in args:
                    # The same write as the listening line (server/main.c).
                    m = METRICS_RE.match(out.split("\n")[1])
                    if not m:
                        raise RuntimeError(f"no 'metrics on' second line: {out!r}")
                    self.metrics_port = int(m.group(2))
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: "
                                   f"{self.read(self.err_path)!r}")
            if now() > deadline:
                raise RuntimeError("no 'listening on' line within 20 s")
            time.sleep(0.02)

    @staticmethod
    def read(path):
        with open(path, "r", errors="replace") as f:
            return f.read()

    def stderr(self):
        return self.read(self.err_path)

    def alive(self):
        return self.proc.poll() is None

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def rss_kb(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return -1

    def cpu_ticks(self):
        with open(f"/proc/{self.pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return int(rest[11]) + int(rest[12])

    def wait_fds(self, want, timeout):
        """Polls the descriptor count until it is want (at most timeout s); returns it."""
        deadline = now() + timeout
        n = self.fd_count()
        while n != want and now() < deadline:
            time.sleep(0.05)
            n = self.fd_count()
        return n

    def stop(self, timeout=30.0):
        """SIGTERM, then the exit status and the summary's total line (or None)."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, None
        total = None
        for line in self.stderr().splitlines():
            m = TOTAL_RE.match(line)
            if m:
                total = dict(zip(TOTAL_FIELDS, map(int, m.groups())))
            m = ACCEPTOR_RE.match(line)
            if m and total is not None:
                total.update(zip(ACCEPTOR_FIELDS, map(int, m.groups())))
        return rc, total

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.dir.cleanup()


# ---- the metrics scraper ----------------------------------------------------------------

def scrape(port, timeout):
    """GET /metrics on 127.0.0.1:port: {sample name: value summed over labels}.  Raises
    on anything but a 200 with a whole body and a clean close."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.settimeout(timeout)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: hostile\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200 "):
        raise RuntimeError(f"status {head[:40]!r}")
    m = re.search(rb"\r\nContent-Length: (\d+)", head)
    if not m or int(m.group(1)) != len(body):
        raise RuntimeError(f"{len(body)} bytes of body, Content-Length {m and m.group(1)}")
    values = {}
    for line in body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, v = line.rpartition(" ")
        name = name_labels.split("{", 1)[0]
        values[name] = values.get(name, 0.0) + float(v)
    return values


class Scraper(threading.Thread):
    """Scrapes /metrics every `interval` s until stopped; keeps the latencies, the
    failures and the last figures."""

    def __init__(self, port, interval, bound):
        super().__init__(name="scraper", daemon=True)
        self.port, self.interval, self.bound = port, interval, bound
        self.stop_flag = threading.Event()
        self.latencies = []
        self.failures = []
        self.last = None

    def run(self):
        while not self.stop_flag.is_set():
            t0 = now()
            try:
                v = scrape(self.port, self.bound)
                took = now() - t0
                self.latencies.append(took)
                if took > self.bound:
                    self.failures.append(f"a scrape took {took:.2f} s")
                if self.last is not None:
                    for k in SCRAPE_COUNTERS:
                        if v.get(k, 0) < self.last.get(k, 0):
                            self.failures.append(f"{k} went down: {self.last[k]} -> {v[k]}")
                self.last = v
            except Exception as e:  # noqa: BLE001  (any failure is the finding)
                self.failures.append(f"scrape failed after {now() - t0:.2f} s: {e!r}")
            self.stop_flag.wait(max(0.0, self.interval - (now() - t0)))


# ---- shared bookkeeping ---------------------------------------------------------------

class Book:
    """Counters shared by the load threads (one lock; updates are rare next to I/O)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.bursts = []          # [start, end] monotonic; end None while running
        self.good = dict(sent=0, answered=0, burst_refused=0, lost=0)
        self.good_latency_max = 0.0
        self.lost_examples = []
        # opened: connected; checked: the server did what it must (or, for kinds with
        # nothing to see, the misbehaviour was carried out); unjudged: cut short by the end
        # of the run; connect_failed: never connected (allowed only during a burst).
        # late: waited past close_bound because it was made during a burst (see expect).
        # kernel_dropped: of those, half-open: the kernel kept no server end (see expect).
        self.hostile = {k: dict(opened=0, checked=0, unjudged=0, connect_failed=0, late=0,
                                kernel_dropped=0)
                        for k in KINDS}
        self.violations = []
        self.burst_stats = []

    def in_burst(self, t0, t1, grace=3.0):
        with self.lock:
            for b in self.bursts:
                end = b[1] if b[1] is not None else float("inf")
                if t0 <= end + grace and t1 >= b[0]:
                    return True
        return False

    def violation(self, what):
        with self.lock:
            self.violations.append(what)
        log(f"VIOLATION: {what}")


# ---- good requests ----------------------------------------------------------------------

class GoodRequest:
    __slots__ = ("sock", "buf", "off", "got", "state", "t0", "deadline", "err")

    def __init__(self, payload, timeout):
        self.sock = None
        self.buf = payload
        self.off = 0
        self.got = b""
        self.state = "connect"
        self.t0 = now()
        self.deadline = self.t0 + timeout
        self.err = None


class GoodLoad(threading.Thread):
    """A steady stream of good requests, `concurrency` in flight, in one selector loop."""

    def __init__(self, addr, concurrency, timeout, max_frame, book, seed):
        super().__init__(name="good-load", daemon=True)
        self.addr = addr
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_frame = max_frame
        self.book = book
        self.rng = random.Random(seed)
        self.stop_flag = threading.Event()
        self.counter = 0

    def payload(self):
        self.counter += 1
        r = self.rng.random()
        if r < 0.02:
            text = b"m" * self.max_frame  # exactly at the limit: accepted
        elif r < 0.10:
            text = ("x\u00e9" * self.rng.randrange(1, 500)).encode()
        else:
            text = self.rng.choice(TEXTS).format(i=self.counter).encode()
        return frame(text, self.rng.getrandbits(32), self.rng.getrandbits(16))

    def start_one(self, sel):
        req = GoodRequest(self.payload(), self.timeout)
        with self.book.lock:
            self.book.good["sent"] += 1
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        except OSError as e:
            req.err = f"socket: {errno.errorcode.get(e.errno, e.errno)}"
            self.finish(req, sel)
            return None
        s.setblocking(False)
        req.sock = s
        rc = s.connect_ex(self.addr)
        if rc not in (0, errno.EINPROGRESS):
            req.err = f"connect: {errno.errorcode.get(rc, rc)}"
            self.finish(req, sel)
            return None
        sel.register(s, selectors.EVENT_WRITE, req)
        return req

    def finish(self, req, sel):
        if req.sock is not None:
            try:
                sel.unregister(req.sock)
            except (KeyError, ValueError):
                pass
            req.sock.close()
        t1 = now()
        book = self.book
        ok = req.err is None and req.got == REPLY
        # Refused, reset or timed out while connecting, during a burst: allowed, counted
        # apart.  Everything else that is not the reply is a lost request.
        excused = (not ok and req.state == "connect"
                   and req.err is not None and book.in_burst(req.t0, t1))
        with book.lock:
            if ok:
                book.good["answered"] += 1
                book.good_latency_max = max(book.good_latency_max, t1 - req.t0)
            elif excused:
                book.good["burst_refused"] += 1
            else:
                book.good["lost"] += 1
                if len(book.lost_examples) < 10:
                    book.lost_examples.append(
                        f"{req.state}: {req.err or 'reply ' + repr(req.got[:40])} "
                        f"after {t1 - req.t0:.2f} s")

    def step(self, req, sel):
        s = req.sock
        try:
            if req.state == "connect":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    req.err = f"connect: {errno.errorcode.get(err, err)}"
                    return True
                req.state = "send"
            if req.state == "send":
                while req.off < len(req.buf):
                    try:
                        req.off += s.send(req.buf[req.off:])
                    except BlockingIOError:
                        return False
                req.state = "read"
                sel.modify(s, selectors.EVENT_READ, req)
                return False
            if req.state == "read":
                for _ in range(4):  # bounded per readiness
                    try:
                        chunk = s.recv(4096)
                    except BlockingIOError:
                        return False
                    if not chunk:
                        if req.got != REPLY:
                            req.err = "EOF before the whole reply"
                        return True
                    req.got += chunk
                    if len(req.got) > len(REPLY) or not REPLY.startswith(req.got):
                        req.err = "wrong reply"
                        return True
                return False
        except OSError as e:
            req.err = f"{req.state}: {errno.errorcode.get(e.errno, e.errno)}"
            return True
        return False

    def run(self):
        sel = selectors.DefaultSelector()
        inflight = set()
        try:
            while True:
                stopping = self.stop_flag.is_set()
                while not stopping and len(inflight) < self.concurrency:
                    req = self.start_one(sel)
                    if req is not None:
                        inflight.add(req)
                if stopping and not inflight:
                    break
                for key, _ in sel.select(timeout=0.05):
                    req = key.data
                    if self.step(req, sel):
                        inflight.discard(req)
                        self.finish(req, sel)
                t = now()
                for req in [r for r in inflight if t > r.deadline]:
                    req.err = f"timeout in {req.state} after {t - req.t0:.1f} s"
                    inflight.discard(req)
                    self.finish(req, sel)
        finally:
            for req in inflight:
                req.sock.close()
            sel.close()


# ---- hostile connections ----------------------------------------------------------------

class Hostile(threading.Thread):
    """Opens one misbehaving connection after another, of a kind picked at random, and
    checks what the server does with it."""

    def __init__(self, addr, opts, book, seed, stop_flag):
        super().__init__(name=f"hostile-{seed}", daemon=True)
        self.addr = addr
        self.o = opts
        self.book = book
        self.rng = random.Random(seed)
        self.stop_flag = stop_flag
        # How long the server may take to close a connection it must close: its read
        # timeout, plus generous slack for a loaded machine or a sanitizer build.
        self.close_bound = opts.read_timeout_ms / 1000.0 * 4 + 6.0

    def good_frame(self):
        text = self.rng.choice(TEXTS).format(i=self.rng.randrange(10**6)).encode()
        return frame(text, self.rng.getrandbits(32), self.rng.getrandbits(16))

    def connect(self, kind):
        t0 = now()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(10.0)
        try:
            s.connect(self.addr)
        except OSError as e:
            s.close()
            with self.book.lock:
                self.book.hostile[kind]["connect_failed"] += 1
            if not self.book.in_burst(t0, now()):
                self.book.violation(f"{kind}: connect failed outside a burst: {e!r}")
            return None
        with self.book.lock:
            self.book.hostile[kind]["opened"] += 1
        return s

    def expect(self, s, kind, want_reply, what):
        """Reads to EOF (bounded): the reply iff want_reply, else nothing (None: either);
        then EOF or a reset.  Records a violation otherwise.

        A connection made during a burst may sit in the kernel, not yet accepted, for longer
        than close_bound: while the server is out of descriptors its accept queue stays
        full, the kernel drops the handshake's last ACK (and, with TCP_DEFER_ACCEPT, the
        ACK after the deferral too) and retransmits its SYN-ACK 1, 2, 4, 8 and 16 s later.
        Such a connection gets BURST_CLOSE_BOUND more seconds (counted as "late"); the
        server must still close it.  Unless the kernel gave up on it: with SYN cookies (the
        burst overflows the SYN queue) or after its last retransmission it keeps no state
        for the server's end, and a peer that sends nothing is never told (half-open).  The
        server cannot close what it never had: when /proc/net/tcp shows no server end for
        this connection, it is counted as "dropped by the kernel", not as a violation."""
        t_start = now()
        deadline = t_start + self.close_bound
        got, how = b"", "timeout"
        extended = False
        try:
            while True:
                while now() < deadline:
                    s.settimeout(max(0.01, deadline - now()))
                    try:
                        chunk = s.recv(4096)
                    except socket.timeout:
                        break
                    if not chunk:
                        how = "eof"
                        break
                    got += chunk
                    if len(got) > 64:
                        break
                if (how == "timeout" and not got and not extended
                        and self.book.in_burst(t_start, now())):
                    extended = True
                    deadline = now() + BURST_CLOSE_BOUND
                    continue
                break
        except (ConnectionResetError, BrokenPipeError):
            how = "reset"
        if how == "timeout" and not got and extended:
            try:
                client_port = s.getsockname()[1]
            except OSError:
                client_port = None
            if client_port and server_side_state(self.addr[1], client_port) is None:
                with self.book.lock:
                    self.book.hostile[kind]["late"] += 1
                    self.book.hostile[kind]["kernel_dropped"] += 1
                return
        if extended:
            with self.book.lock:
                self.book.hostile[kind]["late"] += 1
        want = REPLY if want_reply else b""
        if want_reply is None and got == REPLY:
            want = REPLY  # either answer is right (see k_slow)
        if got != want or how == "timeout":
            self.book.violation(f"{kind} ({what}): got {got[:40]!r} then {how}"
                                f"{' (waited past a burst)' if extended else ''}, "
                                f"expected {want!r} then EOF")
        else:
            with self.book.lock:
                self.book.hostile[kind]["checked"] += 1

    def run(self):
        while not self.stop_flag.is_set():
            kind = self.rng.choice(KINDS)
            try:
                getattr(self, "k_" + kind)(kind)
            except Exception as e:  # a bug in this tool, not in the server: report it
                self.book.violation(f"{kind}: tool error {e!r}")
            # A short pause keeps a thread from monopolising a core of a 2-core machine.
            self.stop_flag.wait(self.rng.uniform(0.0, 0.02))

    # One byte at a time with pauses, past the read timeout: the server must cut it off.
    # Except during a burst: the server's read deadline starts when it accepts, and a
    # connection that waited in the listen backlog (the server out of descriptors) while
    # its bytes trickled into the kernel's buffer may be whole by then, and answered.
    def k_slow(self, kind):
        t0 = now()
        s = self.connect(kind)
        if s is None:
            return
        try:
            data = self.good_frame() + b"x" * 8  # longer than the timeout lets through
            pause = max(0.05, self.o.read_timeout_ms / 1000.0 / 5)
            deadline = now() + self.close_bound
            for b in data:
                if now() > deadline or self.stop_flag.is_set():
                    break
                try:
                    s.send(bytes([b]))
                except (BrokenPipeError, ConnectionResetError):
                    break
                r, _, _ = select.select([s], [], [], pause)
                if r:
                    break  # the server closed (or, wrongly, replied): expect() tells
            if self.stop_flag.is_set() and not select.select([s], [], [], 0)[0]:
                with self.book.lock:  # cut short by the end of the run: nothing to judge
                    self.book.hostile[kind]["unjudged"] += 1
                return
            self.expect(s, kind, None if self.book.in_burst(t0, now()) else False,
                        "trickled past the read timeout")
        finally:
            s.close()

    # A frame cut short, then closed.
    def k_cut(self, kind):
        s = self.connect(kind)
        if s is None:
            return
        try:
            data = self.good_frame()
            s.sendall(data[:self.rng.randrange(1, len(data))])
            time.sleep(self.rng.uniform(0, 0.05))
            with self.book.lock:
                self.book.hostile[kind]["checked"] += 1
        except OSError:
            pass
        finally:
            s.close()

    def k_len_ffffffff(self, kind):
        self.bad_length(kind, 0xFFFFFFFF)

    def k_len_max_plus_1(self, kind):
        self.bad_length(kind, self.o.max_frame + 1)

    def bad_length(self, kind, n):
        self.send_and_expect(kind, frame(b"", length=n) + os.urandom(self.rng.randrange(0, 64)),
                             False, f"length {n:#x}")

    # Random bytes, then a half-close: a reply only if they happen to start with a whole
    # valid frame.
    def k_garbage(self, kind):
        data = os.urandom(self.rng.randrange(1, 300))
        if self.rng.random() < 0.5:  # a plausible length, so the body is read too
            data = data[:6] + struct.pack("<I", self.rng.randrange(0, 64)) + data[10:]
        self.send_and_expect(kind, data, first_frame_valid(data, self.o.max_frame), "garbage",
                             shut_wr=True)

    def k_bad_utf8(self, kind):
        bad = self.rng.choice(BAD_UTF8)
        text = b"abc"[:self.rng.randrange(0, 4)] + bad
        self.send_and_expect(kind, frame(text), False, f"invalid UTF-8 {bad!r}")

    # A reset (SO_LINGER 0) at a random point: before sending, inside the frame, or after
    # it while the server sleeps on it.
    def k_reset(self, kind):
        s = self.connect(kind)
        if s is None:
            return
        try:
            data = self.good_frame()
            cut = self.rng.randrange(0, len(data) + 1)
            if cut:
                s.sendall(data[:cut])
            time.sleep(self.rng.uniform(0, 0.08))
        except OSError:
            pass
        with self.book.lock:
            self.book.hostile[kind]["checked"] += 1
        reset_close(s)

    # shutdown(SHUT_WR) at a random point: before the frame is whole there is no reply;
    # after it, the server answers (a half-closed peer can still read).
    def k_half_close(self, kind):
        data = self.good_frame()
        cut = self.rng.randrange(0, len(data) + 1)
        self.send_and_expect(kind, data[:cut], cut == len(data),
                             f"half-closed after {cut} of {len(data)}", shut_wr=True)

    # Connects and never sends: the server must close it at its read timeout.
    def k_silent(self, kind):
        self.send_and_expect(kind, b"", False, "silent")

    def send_and_expect(self, kind, data, want_reply, what, shut_wr=False):
        """Connects, sends data (if any; then shutdown(SHUT_WR) with shut_wr) and judges
        what comes back with expect().  A server that closes first is not an error here:
        expect() judges it."""
        s = self.connect(kind)
        if s is None:
            return
        try:
            try:
                if data:
                    s.sendall(data)
                if shut_wr:
                    s.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.expect(s, kind, want_reply, what)
        finally:
            s.close()


# ---- the connection burst ----------------------------------------------------------------

def burst_child(host, port, count, hold):
    """Runs in its own process: opens `count` connections at once (non-blocking connects),
    holds them `hold` s, resets them all, and prints one JSON line of what happened."""
    raise_nofile()
    addr = (host, port)
    ep = select.epoll()
    socks = {}
    st = dict(issued=0, established=0, failed={}, client_out_of_fds=0, pending=0)
    t0 = now()
    try:
        for _ in range(count):
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE):
                    st["client_out_of_fds"] += 1
                    break
                raise
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            rc = s.connect_ex(addr)
            st["issued"] += 1
            if rc not in (0, errno.EINPROGRESS):
                name = errno.errorcode.get(rc, str(rc))
                st["failed"][name] = st["failed"].get(name, 0) + 1
                s.close()
                continue
            socks[s.fileno()] = s
            ep.register(s.fileno(), select.EPOLLOUT)
        st["open_s"] = round(now() - t0, 3)
        deadline = now() + hold
        waiting = set(socks)
        while waiting and now() < deadline:
            for fd, ev in ep.poll(max(0.0, deadline - now()), 4096):
                if fd not in waiting:
                    continue
                waiting.discard(fd)
                ep.unregister(fd)
                err = socks[fd].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    name = errno.errorcode.get(err, str(err))
                    st["failed"][name] = st["failed"].get(name, 0) + 1
                else:
                    st["established"] += 1
        st["pending"] = len(waiting)
        rest = deadline - now()
        if rest > 0:
            time.sleep(rest)
    finally:
        for s in socks.values():
            s.close()  # SO_LINGER 0: a reset for every established one
        ep.close()
    st["held_s"] = round(now() - t0, 3)
    print(json.dumps(st), flush=True)


def run_burst(addr, count, hold, book, procs=2):
    """count connections at once from `procs` processes (each needs its own descriptors);
    records the burst's window and the children's figures in book."""
    me = os.path.abspath(__file__)
    share = [count // procs + (1 if i < count % procs else 0) for i in range(procs)]
    with book.lock:
        window = [now(), None]
        book.bursts.append(window)
    children = []
    try:
        for n in share:
            children.append(subprocess.Popen(
                [sys.executable, me, "--burst-child", str(n), "--host", addr[0],
                 "--port", str(addr[1]), "--hold", str(hold)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=die_with_parent))
        total = dict(issued=0, established=0, pending=0, client_out_of_fds=0, failed={})
        for c in children:
            try:
                out, err = c.communicate(timeout=hold + 60)
            except subprocess.TimeoutExpired:
                c.kill()
                out, err = c.communicate()
            if c.returncode != 0:
                book.violation(f"burst process failed ({c.returncode}): {err[-500:]!r}")
                continue
            st = json.loads(out.decode().strip().splitlines()[-1])
            for k in ("issued", "established", "pending", "client_out_of_fds"):
                total[k] += st[k]
            for k, v in st["failed"].items():
                total["failed"][k] = total["failed"].get(k, 0) + v
    finally:
        for c in children:
            if c.poll() is None:
                c.kill()
                c.wait()
        with book.lock:
            window[1] = now()
    with book.lock:
        book.burst_stats.append(total)
    return total


# ---- the run ----------------------------------------------------------------------------

class Run:
    def __init__(self, o):
        self.o = o
        self.book = Book()
        self.failures = []
        self.figures = {}
        self.scrapes = []   # one Scraper per load() with --metrics

    def fail(self, what):
        self.failures.append(what)
        log(f"FAIL: {what}")

    def load(self, srv, seconds, bursts, seed, rss_samples=None):
        """Good load + hostile threads for `seconds`, with `bursts` bursts spread over the
        middle of the window; returns when every thread has stopped (bounded)."""
        addr = ("127.0.0.1", srv.port)
        o = self.o
        good = GoodLoad(addr, o.good_concurrency, o.good_timeout, o.max_frame, self.book,
                        seed)
        stop = threading.Event()
        hostiles = [Hostile(addr, o, self.book, seed * 100 + i, stop)
                    for i in range(o.hostile_threads)]
        scraper = None
        if srv.metrics_port is not None:
            scraper = Scraper(srv.metrics_port, o.scrape_interval, o.scrape_bound)
            scraper.start()
        good.start()
        for h in hostiles:
            h.start()
        t0 = now()
        end = t0 + seconds
        burst_at = [t0 + seconds * (i + 1) / (bursts + 1) * 0.8 for i in range(bursts)]
        next_sample = t0
        try:
            while now() < end:
                if rss_samples is not None and now() >= next_sample:
                    rss_samples.append((round(now() - t0, 1), srv.rss_kb()))
                    next_sample += o.rss_interval
                if burst_at and now() >= burst_at[0]:
                    burst_at.pop(0)
                    st = run_burst(addr, o.burst, o.burst_hold, self.book)
                    log(f"burst of {o.burst}: {json.dumps(st)}")
                    continue
                if not srv.alive():
                    self.fail(f"server died during the load (status {srv.proc.returncode})")
                    break
                time.sleep(min(0.1, max(0.0, end - now())))
        finally:
            stop.set()
            good.stop_flag.set()
            limit = now() + o.good_timeout + 15
            for t in hostiles + [good]:
                t.join(timeout=max(0.1, limit - now()))
                if t.is_alive():
                    self.fail(f"thread {t.name} did not stop")
            if scraper is not None:
                scraper.stop_flag.set()
                scraper.join(timeout=o.scrape_bound + 5)
                self.scrapes.append(scraper)
                for f in scraper.failures[:5]:
                    self.fail(f"metrics: {f}")
                if scraper.is_alive():
                    self.fail("the scraper did not stop")
        if rss_samples is not None:
            rss_samples.append((round(now() - t0, 1), srv.rss_kb()))
        return now()

    def quiet(self, srv, baseline, what):
        """Waits for the descriptor count to return to baseline; returns it."""
        n = srv.wait_fds(baseline, timeout=self.o.read_timeout_ms / 1000.0 + 10)
        if n != baseline:
            self.fail(f"{what}: {n} open descriptors, baseline {baseline}")
        return n

    def main(self):
        o = self.o
        fig = self.figures
        seed = o.seed if o.seed is not None else int(time.time()) % 100000
        fig["seed"] = seed
        log(f"hostile: seed {seed}; client RLIMIT_NOFILE {raise_nofile()}")
        args = ["-w", str(o.workers), "--sleep-ms", str(o.sleep_ms),
                "--read-timeout-ms", str(o.read_timeout_ms), "--max-frame", str(o.max_frame),
                *o.server_arg]
        if o.metrics:
            args += ["--metrics", "127.0.0.1:0"]
        # glibc's per-thread cache (tcache) keeps up to 7 freed chunks of each size class
        # for reuse, wherever in the heap they lie, and nothing can flush it: after hostile
        # frames of many sizes, the pages those chunks pin make RSS differ by 100-300 kB
        # between two quiet moments (measured: docs/reliability.md).  The RSS comparison is
        # there to catch memory the server keeps, so it runs the server without that cache
        # unless --glibc-tcache is given.
        env, env_note = None, ""
        if not o.glibc_tcache:
            env = dict(os.environ)
            tun = env.get("GLIBC_TUNABLES", "")
            env["GLIBC_TUNABLES"] = (tun + ":" if tun else "") + "glibc.malloc.tcache_count=0"
            env_note = f"GLIBC_TUNABLES={env['GLIBC_TUNABLES']} "
        srv = Server(o.server, args, o.nofile, env)
        fig["server_command"] = env_note + f"prlimit --nofile={o.nofile} " + " ".join(
            [os.path.basename(o.server), "-p", "0", *args])
        try:
            base = srv.fd_count()
            fig["fd_baseline"] = base
            log(f"server pid {srv.pid} port {srv.port}: {base} descriptors, "
                f"{srv.rss_kb()} kB RSS at start")

            # 1. warm-up, then quiet: the "before" figures.
            self.load(srv, o.warmup, 1 if o.burst else 0, seed + 1)
            self.quiet(srv, base, "after the warm-up")
            rss_before = srv.rss_kb()
            fig["rss_before_kb"] = rss_before
            with self.book.lock:
                warm = dict(self.book.good)
                self.book.bursts.clear()
                fig["warmup_bursts"] = self.book.burst_stats
                self.book.burst_stats = []
            log(f"warm-up done: good {warm}; {rss_before} kB RSS")

            # 2. the run.
            samples = [] if o.soak else None
            t_start = now()
            t_stop = self.load(srv, o.duration, o.bursts if o.burst else 0, seed + 2,
                               samples)
            fig["load_s"] = round(t_stop - t_start, 1)
            fig["alive_after_load"] = srv.alive()
            if not srv.alive():
                self.fail("server not running after the load")
                return

            # 3. quiet: descriptors, idle CPU, RSS.
            fds = self.quiet(srv, base, "after the run")
            fig["fd_after"] = fds
            time.sleep(max(0.0, t_stop + 2.0 - now()))
            c0 = srv.cpu_ticks()
            time.sleep(2.0)
            idle = srv.cpu_ticks() - c0
            fig["idle_ticks_2s"] = idle
            if idle > o.idle_ticks:
                self.fail(f"{idle} clock ticks in the 2 s from 2 s after the load stopped "
                          f"(at most {o.idle_ticks})")
            rss_after = srv.rss_kb()
            fig["rss_after_kb"] = rss_after
            growth = (rss_after - rss_before) / rss_before * 100.0
            fig["rss_growth_pct"] = round(growth, 1)
            if growth > 10.0:
                if o.sanitized:
                    log(f"note: RSS grew {growth:.1f} % (not judged: a sanitizer build "
                        f"keeps freed memory in quarantine)")
                else:
                    self.fail(f"RSS {rss_after} kB after, {rss_before} kB before "
                              f"(+{growth:.1f} %, at most 10 %)")
            if samples is not None:
                fig["rss_samples_kb"] = samples
                values = [v for _, v in samples]
                rising = all(b >= a for a, b in zip(values, values[1:]))
                if len(values) >= 3 and rising and values[-1] > values[0] * 1.10:
                    if o.sanitized:
                        log("note: RSS rose steadily (not judged under a sanitizer)")
                    else:
                        self.fail(f"RSS grows through the run: {values}")

            # The metrics after the run: every answered good request is in the replies.
            if o.metrics:
                try:
                    v = scrape(srv.metrics_port, o.scrape_bound)
                    fig["metrics_after"] = {k: v.get(k) for k in SCRAPE_COUNTERS}
                    if v.get("wakeful_replies_total", 0) < self.book.good["answered"]:
                        self.fail(f"metrics: replies {v.get('wakeful_replies_total')} < "
                                  f"answered {self.book.good['answered']}")
                    if (v.get("wakeful_request_duration_seconds_count") !=
                            v.get("wakeful_replies_total")):
                        self.fail(f"metrics: the histogram counts "
                                  f"{v.get('wakeful_request_duration_seconds_count')} "
                                  f"replies, wakeful_replies_total "
                                  f"{v.get('wakeful_replies_total')}")
                    if v.get("wakeful_open_connections") != 0:
                        self.fail(f"metrics: {v.get('wakeful_open_connections')} open "
                                  f"connections when quiet")
                except Exception as e:  # noqa: BLE001
                    self.fail(f"metrics: the scrape after the run failed: {e!r}")
                lat = sorted(x for s in self.scrapes for x in s.latencies)
                if lat:
                    fig["scrapes"] = {"count": len(lat),
                                      "p50_ms": round(lat[len(lat) // 2] * 1000, 1),
                                      "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 1),
                                      "max_ms": round(lat[-1] * 1000, 1)}

            # 4. SIGTERM.
            rc, total = srv.stop()
            fig["exit_status"] = rc
            fig["server_summary"] = total
            if rc != 0:
                self.fail(f"server exit status {rc} after SIGTERM: "
                          f"{srv.stderr()[-1500:]!r}")
            if total is None:
                self.fail("no shutdown summary")
            elif total["replies"] < self.book.good["answered"]:
                self.fail(f"summary replies {total['replies']} < answered "
                          f"{self.book.good['answered']}")
            elif "metrics_after" in fig:
                # Nothing came in between: the quiet scrape and the summary agree.
                m = fig["metrics_after"]
                for k, name in (("replies", "wakeful_replies_total"),
                                ("bad_frames", "wakeful_bad_frames_total"),
                                ("timeouts", "wakeful_timeouts_total"),
                                ("resets", "wakeful_resets_total"),
                                ("accepted", "wakeful_accepted_total")):
                    if total.get(k) != m.get(name):
                        self.fail(f"metrics: {name} {m.get(name)}, summary {k} "
                                  f"{total.get(k)}")
        finally:
            srv.kill()

    def judge(self):
        b = self.book
        fig = self.figures
        fig["good"] = dict(b.good)
        fig["good_latency_max_s"] = round(b.good_latency_max, 2)
        fig["hostile"] = b.hostile
        fig["bursts"] = b.burst_stats
        fig["violations"] = b.violations[:20]
        fig["violation_count"] = len(b.violations)
        g = b.good
        if g["lost"]:
            self.fail(f"{g['lost']} good requests lost, e.g. {b.lost_examples}")
        if g["answered"] + g["burst_refused"] + g["lost"] != g["sent"]:
            self.fail(f"good requests do not add up: {g}")
        if g["answered"] == 0:
            self.fail("no good request answered")
        if b.violations:
            self.fail(f"{len(b.violations)} hostile connections handled wrongly")
        for k, v in b.hostile.items():
            if v["checked"] + v["unjudged"] > v["opened"]:
                self.fail(f"{k}: counts do not add up: {v}")
            if v["opened"] == 0 and self.o.duration >= 10:
                self.fail(f"no hostile connection of kind {k} was opened")

    def report(self):
        f = self.figures
        o = self.o
        log("")
        log(f"==== {'soak' if o.soak else 'hostile'} figures ====")
        log(f"server: {f.get('server_command')}")
        log(f"load held: {f.get('load_s')} s (after {o.warmup} s of warm-up), "
            f"{o.good_concurrency} good requests in flight, {o.hostile_threads} hostile "
            f"threads, {o.bursts if o.burst else 0} burst(s) of {o.burst} connections")
        g = f.get("good", {})
        log(f"good requests: sent {g.get('sent')}, answered {g.get('answered')} "
            f"(exactly 'Hello, client!'), lost {g.get('lost')}; refused during bursts "
            f"(counted apart) {g.get('burst_refused')}; slowest {f.get('good_latency_max_s')} s")
        h = f.get("hostile", {})
        total_opened = sum(v["opened"] for v in h.values())
        log(f"hostile connections opened: {total_opened}")
        for k, v in h.items():
            log(f"  {k:15s} opened {v['opened']:6d}, checked {v['checked']:6d}, "
                f"unjudged (run ended) {v['unjudged']}, connect failed {v['connect_failed']}, "
                f"closed late after a burst {v['late']} (of which half-open, dropped by the "
                f"kernel: {v['kernel_dropped']})")
        for i, bst in enumerate(f.get("bursts", [])):
            log(f"  burst {i + 1}: {bst['issued']} connections at once, {bst['established']} "
                f"established, {bst['pending']} still waiting (SYN dropped: server out of "
                f"descriptors/backlog), failed {bst['failed']}")
        log(f"violations: {f.get('violation_count')}")
        log(f"server running after the load: {f.get('alive_after_load')}; exit status "
            f"after SIGTERM: {f.get('exit_status')}")
        log(f"descriptors: baseline {f.get('fd_baseline')}, after {f.get('fd_after')}")
        log(f"RSS: before {f.get('rss_before_kb')} kB, after {f.get('rss_after_kb')} kB "
            f"({f.get('rss_growth_pct')} %)")
        if "rss_samples_kb" in f:
            log("RSS samples (s, kB): " + ", ".join(f"{t}:{v}" for t, v in
                                                     f["rss_samples_kb"]))
        log(f"CPU in 2 s, from 2 s after the load stopped: {f.get('idle_ticks_2s')} ticks")
        if "scrapes" in f:
            log(f"metrics: {f['scrapes']['count']} scrapes during the load, p50 "
                f"{f['scrapes']['p50_ms']} ms, p99 {f['scrapes']['p99_ms']} ms, max "
                f"{f['scrapes']['max_ms']} ms; after the run {f.get('metrics_after')}")
        log(f"server summary: {f.get('server_summary')}")
        log(f"result: {'PASS' if not self.failures else 'FAIL'}")
        for x in self.failures:
            log(f"  - {x}")
        if o.json:
            f["failures"] = self.failures
            with open(o.json, "w") as out:
                json.dump(f, out, indent=1)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--server", help="the wakeful-server binary")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of load (20)")
    p.add_argument("--warmup", type=float, default=4.0, help="seconds of warm-up (4)")
    p.add_argument("--soak", action="store_true", help="sample RSS, judge its trend")
    p.add_argument("--rss-interval", type=float, default=5.0)
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--sleep-ms", type=int, default=50)
    p.add_argument("--read-timeout-ms", type=int, default=1000)
    p.add_argument("--max-frame", type=int, default=65536)
    p.add_argument("--nofile", type=int, default=4096,
                   help="the server's RLIMIT_NOFILE, soft and hard (4096)")
    p.add_argument("--server-arg", action="append", default=[],
                   help="one more server argument (repeatable; use --server-arg=-x)")
    p.add_argument("--good-concurrency", type=int, default=16)
    p.add_argument("--good-timeout", type=float, default=30.0)
    p.add_argument("--hostile-threads", type=int, default=8)
    p.add_argument("--burst", type=int, default=20000, help="connections per burst")
    p.add_argument("--bursts", type=int, default=1, help="bursts during the run")
    p.add_argument("--burst-hold", type=float, default=2.5)
    p.add_argument("--idle-ticks", type=int, default=2)
    p.add_argument("--sanitized", action="store_true",
                   help="the server is a sanitizer build: RSS is reported, not judged")
    p.add_argument("--glibc-tcache", action="store_true",
                   help="leave glibc's per-thread malloc cache on in the server (RSS then "
                        "varies by a few hundred kB between quiet moments)")
    p.add_argument("--metrics", action="store_true",
                   help="run the server with --metrics 127.0.0.1:0 and scrape it through "
                        "the load")
    p.add_argument("--scrape-interval", type=float, default=0.5)
    p.add_argument("--scrape-bound", type=float, default=3.0,
                   help="seconds a scrape may take under the load (3)")
    p.add_argument("--seed", type=int)
    p.add_argument("--json", help="also write the figures here")
    # Internal: one process of a burst.
    p.add_argument("--burst-child", type=int, help=argparse.SUPPRESS)
    p.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--hold", type=float, default=2.5, help=argparse.SUPPRESS)
    o = p.parse_args(argv)
    if o.burst_child is None and not o.server:
        p.error("--server is required")
    return o


def _interrupted(signum, frame_):
    raise KeyboardInterrupt()


def main(argv):
    o = parse_args(argv)
    if o.burst_child is not None:
        burst_child(o.host, o.port, o.burst_child, o.hold)
        return 0
    # meson (or a user) stopping the test must not leave the server behind: turn SIGTERM
    # into an exception so the finally blocks run; PR_SET_PDEATHSIG covers SIGKILL.
    signal.signal(signal.SIGTERM, _interrupted)
    run = Run(o)
    t0 = now()
    try:
        run.main()
    except KeyboardInterrupt:
        run.fail("interrupted")
    except Exception as e:
        run.fail(f"error: {e!r}")
    run.judge()
    run.figures["wall_s"] = round(now() - t0, 1)
    run.report()
    return 0 if not run.failures else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
