#!/usr/bin/python3
"""wakeful-server's --metrics endpoint, systemd notifications and log lines:
test_metrics.py SERVER CASE

Run with Debian's /usr/bin/python3, which Debian's python3-prometheus-client serves: the
metrics are parsed with prometheus_client.parser.text_string_to_metric_families (the
reference parser of the text format), and the counters checked against the requests the
test sent.  Without the module the metrics cases are skipped (exit 77) with a message.
Each case starts its own server (127.0.0.1, port 0, --metrics 127.0.0.1:0) and kills it on
the way out; every wait is bounded.  Exit 0 = pass, 1 = fail, 77 = skipped.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server import (REPLY, Server, Skip, check, connect, frame,  # noqa: E402
                         good_request, log, read_to_eof, request)

METRICS_RE = re.compile(r"^metrics on (\S+):(\d+)$")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# The endpoint's limits (server/metrics_http.h).
MAX_CONNS = 16
DEADLINE_S = 5.0
HEAD_MAX = 8192
# RFC 3339 UTC with milliseconds, then the level: the diagnostic lines (server/log.h).
LOG_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn|info)"
                    r"( worker=\d+)?( conn=\d+)?: ")


def parser():
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        raise Skip(f"{sys.executable} has no prometheus_client (Debian: apt-get install "
                   "python3-prometheus-client)")
    return text_string_to_metric_families


class MetricsServer(Server):
    """A Server started with --metrics; reads the "metrics on" line, which must be the
    second stdout line, right after the listening line."""

    def __init__(self, binary, *args, metrics="127.0.0.1:0", **kw):
        super().__init__(binary, "--metrics", metrics, *args, **kw)
        lines = self.stdout().split("\n")
        check(len(lines) >= 3, f"no second stdout line: {self.stdout()!r}")
        m = METRICS_RE.match(lines[1])
        check(m, f"second stdout line is not 'metrics on': {lines[1]!r}")
        host = m.group(1)
        self.metrics_host = host[1:-1] if host.startswith("[") else host
        self.metrics_port = int(m.group(2))

    def maddr(self):
        return (self.metrics_host, self.metrics_port)


def http(addr, raw, timeout=5.0):
    """Sends raw bytes, reads to EOF: (status, {header: value}, body, how)."""
    s = connect(addr, timeout)
    try:
        s.sendall(raw)
        data, how = read_to_eof(s, timeout)
    finally:
        s.close()
    head, sep, body = data.partition(b"\r\n\r\n")
    check(sep, f"no complete response head ({how}): {data[:300]!r}")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    check(lines[0].startswith("HTTP/1.1 "), f"status line {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body, how


def get(addr, path="/metrics", method="GET"):
    return http(addr, f"{method} {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: test\r\n\r\n"
                .encode())


def scrape(srv, parse):
    """GET /metrics, checked as an exposition: {(name, ((label, value), ...)): value} and
    the families' types by name."""
    status, headers, body, how = get(srv.maddr())
    check(status == 200, f"status {status}: {body[:300]!r}")
    check(headers.get("content-type") == CONTENT_TYPE, f"headers {headers}")
    check(headers.get("connection") == "close", f"headers {headers}")
    check(int(headers.get("content-length", -1)) == len(body),
          f"Content-Length {headers.get('content-length')} for {len(body)} bytes")
    check(how == "eof", f"the response ended with {how}, not a clean close")
    text = body.decode("utf-8")
    check(text.endswith("\n"), "the last line does not end with a newline")
    samples, types = {}, {}
    for fam in parse(text):
        types[fam.name] = fam.type
        for s in fam.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            check(key not in samples, f"sample {key} twice")
            samples[key] = s.value
    return samples, types


def value(samples, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    check(key in samples, f"no sample {name}{labels or ''}")
    return samples[key]


def per_worker(samples, name):
    """{worker: value} of a per-worker family."""
    return {int(dict(k[1])["worker"]): v for k, v in samples.items() if k[0] == name}


def wait_for(what, fn, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        r = fn()
        if r:
            return r
        check(time.monotonic() < deadline, f"{what}: not within {timeout} s")
        time.sleep(0.02)


# ---- cases -------------------------------------------------------------------------------

def case_metrics_counters(binary):
    """N good requests, B bad frames: the counters, the histogram, the gauges."""
    parse = parser()
    srv = MetricsServer(binary, "-w", "3", "--sleep-ms", "0")
    try:
        samples, types = scrape(srv, parse)
        check(sum(per_worker(samples, "wakeful_replies_total").values()) == 0, "replies at 0")
        check(value(samples, "wakeful_request_duration_seconds_count") == 0, "count at 0")
        n, bad = 30, 4
        for i in range(n):
            good_request(srv.addr(), f"request {i}")
        for i in range(bad):
            data, how = request(srv.addr(), payload=b"\xff\xfe bad utf-8")
            check(data == b"", f"bad frame {i} got {data!r}")
        # The bad frames' counters move after the client saw the close: wait for them.
        wait_for("bad frames counted", lambda: sum(per_worker(
            scrape(srv, parse)[0], "wakeful_bad_frames_total").values()) == bad)
        samples, types = scrape(srv, parse)

        replies = per_worker(samples, "wakeful_replies_total")
        check(sorted(replies) == [1, 2, 3], f"replies per worker {replies}")
        check(sum(replies.values()) == n, f"replies {replies}, sent {n}")
        check(all(v == n // 3 for v in replies.values()), f"round-robin: {replies}")
        check(sum(per_worker(samples, "wakeful_bad_frames_total").values()) == bad,
              "bad frames")
        check(sum(per_worker(samples, "wakeful_timeouts_total").values()) == 0, "timeouts")
        check(sum(per_worker(samples, "wakeful_resets_total").values()) == 0, "resets")
        check(sum(per_worker(samples, "wakeful_connections_total").values()) == n + bad,
              "connections")
        check(sum(per_worker(samples, "wakeful_parks_total").values()) >= 3, "parks")
        check(value(samples, "wakeful_accepted_total") >= n + bad, "accepted")
        check(value(samples, "wakeful_dropped_total") == 0, "dropped")
        check(value(samples, "wakeful_open_connections") == 0, "open connections")
        check(value(samples, "wakeful_draining") == 0, "draining")
        phases = {dict(k[1])["phase"]: v for k, v in samples.items()
                  if k[0] == "wakeful_shutdown_phase"}
        check(phases == {"up": 1, "grace": 0, "closing": 0, "draining": 0, "done": 0},
              f"phases {phases}")

        name = "wakeful_request_duration_seconds"
        check(types.get(name) == "histogram", f"{name} is {types.get(name)}")
        check(value(samples, name + "_count") == n, f"{name}_count")
        check(value(samples, name + "_bucket", le="+Inf") == n, f"{name} +Inf")
        total = value(samples, name + "_sum")
        check(0 < total < n * 0.5, f"{name}_sum {total} for {n} replies with no sleep")
        buckets = sorted((float(dict(k[1])["le"]), v) for k, v in samples.items()
                         if k[0] == name + "_bucket")
        check(len(buckets) >= 10, f"buckets {buckets}")
        check(all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), "not cumulative")
        check(value(samples, name + "_bucket", le="1") == n, "a request over 1 s")

        for counter in ("wakeful_accepted", "wakeful_replies", "wakeful_bad_frames",
                        "wakeful_timeouts", "wakeful_resets", "wakeful_parks",
                        "wakeful_dropped", "process_cpu_seconds"):
            check(types.get(counter) == "counter", f"{counter} is {types.get(counter)}")
        for gauge in ("wakeful_open_connections", "wakeful_draining",
                      "process_resident_memory_bytes", "process_open_fds",
                      "process_max_fds", "process_start_time_seconds"):
            check(types.get(gauge) == "gauge", f"{gauge} is {types.get(gauge)}")
        check(0 < value(samples, "process_resident_memory_bytes") < 1 << 30, "rss")
        fds = value(samples, "process_open_fds")
        check(abs(fds - srv.fd_count()) <= 2, f"open fds {fds}, /proc says {srv.fd_count()}")
        start = value(samples, "process_start_time_seconds")
        check(time.time() - 60 < start <= time.time(), f"start time {start}")
        check(value(samples, "process_cpu_seconds_total") > 0, "cpu")

        # One more request moves the counters by one; so does one that sends more than its
        # frame (its reply is followed by a lingering close, and counted before it).
        good_request(srv.addr())
        s = connect(srv.addr())
        s.sendall(frame() + b"x" * 1000)
        data, how = read_to_eof(s)
        s.close()
        check(data == REPLY and how == "eof", f"with extra bytes: {data!r} {how}")
        after = wait_for("the lingering reply counted", lambda: (lambda a: a if sum(
            per_worker(a, "wakeful_replies_total").values()) == n + 2 else None)(
            scrape(srv, parse)[0]))
        check(value(after, name + "_count") == n + 2, "count n + 2")
    finally:
        srv.kill()


def case_metrics_http(binary):
    """404, 405, 400 for garbage and for an oversized head, HEAD, a query string."""
    parse = parser()
    srv = MetricsServer(binary, "--sleep-ms", "0")
    try:
        a = srv.maddr()
        status, headers, body, _ = get(a, "/metrics?name[]=wakeful_draining")
        check(status == 200 and b"wakeful_draining 0" in body, f"query: {status}")
        status, headers, body, _ = get(a, "/")
        check(status == 404, f"/: {status}")
        check(int(headers["content-length"]) == len(body), "404 length")
        status, _, _, _ = get(a, "/metrics/extra")
        check(status == 404, f"/metrics/extra: {status}")
        status, headers, _, _ = get(a, "/metrics", "POST")
        check(status == 405 and headers.get("allow") == "GET, HEAD", f"POST: {status}")
        status, headers, body, _ = get(a, "/metrics", "HEAD")
        check(status == 200 and body == b"" and int(headers["content-length"]) > 1000,
              f"HEAD: {status} {headers} {body[:100]!r}")
        check(headers.get("content-type") == CONTENT_TYPE, "HEAD content type")

        for garbage in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # TLS
                        b"GET /metrics\r\n\r\n",                          # HTTP/0.9
                        b"GET /metrics HTTP/1.1\r\nNo colon here\r\n\r\n",
                        b"\r\n\r\n",
                        b"GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n"):
            t0 = time.monotonic()
            status, headers, _, how = http(a, garbage)
            check(status == 400, f"{garbage!r}: {status}")
            check(headers.get("connection") == "close" and how == "eof",
                  f"{garbage!r}: {headers} {how}")
            check(time.monotonic() - t0 < 2, f"{garbage!r}: 400 took too long")
        # Garbage with no line end is refused before the deadline too.
        t0 = time.monotonic()
        status, _, _, _ = http(a, b"\x00\x01\x02")
        check(status == 400 and time.monotonic() - t0 < 2, "binary garbage")

        # A head over 8 KiB: 400 once the limit is reached, even though it never ends.
        big = b"GET /metrics HTTP/1.1\r\nX-Filler: " + b"a" * (HEAD_MAX + 100)
        s = connect(a)
        try:
            try:
                s.sendall(big)
            except (BrokenPipeError, ConnectionResetError):
                pass
            data, how = read_to_eof(s, 5)
        finally:
            s.close()
        check(data.startswith(b"HTTP/1.1 400 "), f"oversized head: {data[:100]!r} {how}")

        # Exactly at the limit and complete: served.
        pad = HEAD_MAX - len(b"GET /metrics HTTP/1.1\r\nX: \r\n\r\n")
        status, _, _, _ = http(a, b"GET /metrics HTTP/1.1\r\nX: " + b"b" * pad + b"\r\n\r\n")
        check(status == 200, f"a head of exactly {HEAD_MAX} bytes: {status}")

        # A request sent in pieces, and a body after the head (read and discarded, the
        # response still arrives whole, then a clean EOF).
        s = connect(a)
        try:
            for piece in (b"GE", b"T /metr", b"ics HTTP/1.1\r", b"\nHost: x\r\n", b"\r\n"):
                s.sendall(piece)
                time.sleep(0.05)
            data, how = read_to_eof(s)
        finally:
            s.close()
        check(data.startswith(b"HTTP/1.1 200 ") and how == "eof", f"in pieces: {how}")
        status, _, body, how = http(a, b"GET /metrics HTTP/1.1\r\nContent-Length: 70000\r\n"
                                       b"\r\n" + b"x" * 70000)
        check(status == 200 and how == "eof", f"with a body: {status} {how}")

        samples, _ = scrape(srv, parse)
        check(value(samples, "wakeful_metrics_rejected_total") == 0, "nothing rejected")
        check(value(samples, "wakeful_metrics_bad_requests_total") == 7,
              f"bad requests {value(samples, 'wakeful_metrics_bad_requests_total')}, sent 7")
        # The server itself saw none of this.
        check(value(samples, "wakeful_accepted_total") == 0, "the main port was touched")
        good_request(srv.addr())
    finally:
        srv.kill()


def case_metrics_slow_client(binary):
    """A silent client and a trickling one are closed at the deadline; a scrape meanwhile
    answers at once; the workers serve meanwhile."""
    parse = parser()
    srv = MetricsServer(binary, "--sleep-ms", "0")
    try:
        silent = connect(srv.maddr())
        trickle = connect(srv.maddr())
        t0 = time.monotonic()
        trickle.sendall(b"GET /metr")
        for _ in range(3):
            t1 = time.monotonic()
            samples, _ = scrape(srv, parse)
            check(time.monotonic() - t1 < 1.0, "a scrape waited for the slow clients")
            good_request(srv.addr())
            trickle.sendall(b"i")
            time.sleep(0.3)
        data, how = read_to_eof(silent, DEADLINE_S + 3)
        took = time.monotonic() - t0
        check(data == b"" and how in ("eof", "reset"), f"silent client: {data!r} {how}")
        check(DEADLINE_S - 0.5 < took < DEADLINE_S + 2,
              f"silent client closed after {took:.2f} s")
        data, how = read_to_eof(trickle, 3)
        check(data == b"" and how in ("eof", "reset"), f"trickling client: {data!r} {how}")
        silent.close()
        trickle.close()
        samples, _ = scrape(srv, parse)
        check(value(samples, "wakeful_metrics_timeouts_total") == 2, "2 timeouts")
        check(sum(per_worker(samples, "wakeful_replies_total").values()) == 3, "3 replies")
    finally:
        srv.kill()


def case_metrics_cap(binary):
    """More clients than the cap: those past it are closed at once; the others are served
    once they speak; the endpoint recovers."""
    parse = parser()
    srv = MetricsServer(binary)
    try:
        held = [connect(srv.maddr()) for _ in range(MAX_CONNS)]
        time.sleep(0.3)  # let the metrics thread accept them all
        extra = [connect(srv.maddr()) for _ in range(4)]
        t0 = time.monotonic()
        for s in extra:
            data, how = read_to_eof(s, 3)
            check(data == b"" and how in ("eof", "reset"), f"over the cap: {data!r} {how}")
        check(time.monotonic() - t0 < 2, "over the cap, not closed at once")
        # The held ones are still served when they ask.
        for s in held[:4]:
            s.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
            data, how = read_to_eof(s, 5)
            check(data.startswith(b"HTTP/1.1 200 ") and how == "eof", f"held: {data[:40]!r}")
        for s in held + extra:
            s.close()
        # The endpoint sees the held ones' EOF a moment later: until then a scrape is one
        # more connection over the cap, closed at once.  Count those.
        turned_away = 0

        def try_scrape():
            nonlocal turned_away
            try:
                return scrape(srv, parse)[0]
            except AssertionError:
                turned_away += 1
                return None
        samples = wait_for("a scrape after the cap", try_scrape)
        check(value(samples, "wakeful_metrics_rejected_total") == 4 + turned_away,
              f"rejected {value(samples, 'wakeful_metrics_rejected_total')}, expected "
              f"4 + {turned_away}")
        check(value(samples, "wakeful_metrics_timeouts_total") == 0, "timeouts")
        good_request(srv.addr())
    finally:
        srv.kill()


def phase(samples):
    """The phase wakeful_shutdown_phase says the server is in."""
    on = [dict(k[1])["phase"] for k, v in samples.items()
          if k[0] == "wakeful_shutdown_phase" and v == 1]
    check(len(on) == 1, f"phases on: {on}")
    return on[0]


def case_metrics_drain(binary):
    """Through the grace period and the drain the endpoint still answers, with
    wakeful_draining 1 and the phase; it closes after the drain; the exit status is 0."""
    parse = parser()
    srv = MetricsServer(binary, "--sleep-ms", "2500", "--drain-ms", "5000",
                        "--drain-grace-ms", "1000")
    try:
        clients = []
        for _ in range(5):
            s = connect(srv.addr())
            s.sendall(frame())
            clients.append(s)
        wait_for("5 open", lambda: value(scrape(srv, parse)[0],
                                         "wakeful_open_connections") == 5)
        check(phase(scrape(srv, parse)[0]) == "up", "phase before SIGTERM")
        srv.send_signal(signal.SIGTERM)
        samples = wait_for("draining", lambda: (lambda s: s if value(
            s, "wakeful_draining") == 1 else None)(scrape(srv, parse)[0]), 3)
        check(phase(samples) == "grace", f"phase {phase(samples)} right after SIGTERM")
        check(value(samples, "wakeful_open_connections") == 5, "open during the grace")
        samples = wait_for("the drain phase", lambda: (lambda s: s if phase(
            s) == "draining" else None)(scrape(srv, parse)[0]), 3)
        check(value(samples, "wakeful_draining") == 1, "draining during the drain")
        check(value(samples, "wakeful_open_connections") == 5, "open during the drain")
        for s in clients:
            data, how = read_to_eof(s, 5)
            check(data == REPLY and how == "eof", f"in flight: {data!r} {how}")
            s.close()
        rc, err = srv.stop()
        check(rc == 0, f"exit {rc}: {err[-1000:]!r}")
        try:
            connect(srv.maddr(), 1).close()
            raise AssertionError("the metrics port still accepts after exit")
        except OSError:
            pass
        check("shutdown summary" in err, "no summary")
    finally:
        srv.kill()


def case_metrics_flags(binary):
    """--metrics values, a port already taken, --help, off by default, IPv6."""
    for bad in ("127.0.0.1", "127.0.0.1:", ":9100", "::1:9100", "localhost:9100",
                "127.0.0.1:65536", "[::1]"):
        r = subprocess.run([binary, "-p", "0", "--metrics", bad], capture_output=True,
                           timeout=10)
        check(r.returncode == 2, f"--metrics {bad}: exit {r.returncode}")
        check(b"--metrics" in r.stderr and b"usage:" in r.stderr, f"{bad}: {r.stderr[:200]!r}")
        check(r.stdout == b"", f"{bad}: stdout {r.stdout!r}")
    r = subprocess.run([binary, "--help"], capture_output=True, timeout=10)
    check(b"--metrics ADDR:PORT" in r.stdout and b"NOTIFY_SOCKET" in r.stdout, "--help")

    # Off by default: one stdout line, and the server listens on one TCP port only.
    srv = Server(binary)
    try:
        time.sleep(0.2)
        check(srv.stdout().count("\n") == 1, f"stdout {srv.stdout()!r}")
        inodes = {os.stat(f"/proc/{srv.pid}/fd/{fd}").st_ino
                  for fd in os.listdir(f"/proc/{srv.pid}/fd")
                  if os.readlink(f"/proc/{srv.pid}/fd/{fd}").startswith("socket:")}
        listening = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                for line in f.readlines()[1:]:
                    cols = line.split()
                    if cols[3] == "0A" and int(cols[9]) in inodes:
                        listening += 1
        check(listening == 1, f"{listening} listening sockets without --metrics")
    finally:
        srv.kill()

    # With the agent port too: listening, metrics, agent, in that order (one write).
    parse = parser()
    srv = MetricsServer(binary, "--agent-port", "0")
    try:
        lines = srv.stdout().split("\n")
        check(re.match(r"^agent on 127\.0\.0\.1:\d+$", lines[2]), f"third line {lines[2]!r}")
        scrape(srv, parse)
    finally:
        srv.kill()

    # A port already taken: exit 1, one diagnostic line, nothing on stdout.
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        r = subprocess.run([binary, "-p", "0", "--metrics", f"127.0.0.1:{port}"],
                           capture_output=True, timeout=10)
        err = r.stderr.decode()
        check(r.returncode == 1, f"taken port: exit {r.returncode}: {err!r}")
        check(r.stdout == b"", f"taken port: stdout {r.stdout!r}")
        check(LOG_RE.match(err) and "error" in err and f"127.0.0.1:{port}" in err
              and "in use" in err.lower(), f"taken port: {err!r}")
    finally:
        taken.close()

    # IPv6, where the machine has it.
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
    except OSError:
        log("no IPv6 loopback: [::1] not tried")
        return
    parse = parser()
    srv = MetricsServer(binary, metrics="[::1]:0")
    try:
        check(srv.stdout().split("\n")[1].startswith("metrics on [::1]:"), "IPv6 line")
        scrape(srv, parse)
    finally:
        srv.kill()


# ---- systemd and the log ------------------------------------------------------------------

class FakeSystemd:
    """An AF_UNIX datagram socket standing in for systemd's notification socket."""

    def __init__(self, abstract=False):
        self.dir = tempfile.TemporaryDirectory(prefix="wk-notify-")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"wk-notify-test-{os.getpid()}-{time.monotonic_ns()}"
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            path = os.path.join(self.dir.name, "notify")
            self.sock.bind(path)
            self.env = path
        self.sock.settimeout(0.1)
        self.got = []

    def receive(self, pred, timeout=5.0):
        """Reads datagrams until one satisfies pred; returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            self.got.append((time.monotonic(), msg))
            if pred(msg):
                return msg
        raise AssertionError(f"no such notification within {timeout} s; got {self.got}")

    def close(self):
        self.sock.close()
        self.dir.cleanup()


def fields(msg):
    return dict(line.split("=", 1) for line in msg.split("\n") if "=" in line)


def server_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM")}
    env.update(extra)
    return env


def case_notify(binary):
    """READY=1 and STATUS= once listening, WATCHDOG=1 at half $WATCHDOG_USEC, STOPPING=1
    on SIGTERM, a last STATUS=; over a path and over an abstract socket."""
    for abstract in (False, True):
        sd = FakeSystemd(abstract)
        env = server_env(NOTIFY_SOCKET=sd.env, WATCHDOG_USEC="400000")
        srv = None
        try:
            t0 = time.monotonic()
            srv = Server(binary, "--sleep-ms", "1000", env=env)
            ready = fields(sd.receive(lambda m: "READY=1" in m))
            check(ready.get("STATUS", "").startswith(f"listening on 127.0.0.1:{srv.port} "),
                  f"READY's STATUS: {ready}")
            # Watchdog: every 200 ms (half of 400 ms); count them for a second.
            sd.receive(lambda m: m == "WATCHDOG=1")
            t1 = time.monotonic()
            n = 0
            while time.monotonic() - t1 < 1.0:
                sd.receive(lambda m: m == "WATCHDOG=1", 1.0)
                n += 1
            check(3 <= n <= 7, f"{n} watchdog pings in a second at a 200 ms period")
            s = connect(srv.addr())
            s.sendall(frame())
            time.sleep(0.05)
            srv.send_signal(signal.SIGTERM)
            stopping = fields(sd.receive(lambda m: "STOPPING=1" in m))
            check("draining" in stopping.get("STATUS", ""), f"STOPPING's STATUS {stopping}")
            data, how = read_to_eof(s)
            check(data == REPLY, f"in flight across the stop: {data!r} {how}")
            s.close()
            last = sd.receive(lambda m: m.startswith("STATUS="))
            # The heartbeats go on through the drain (the request's 1 s sleep).
            i_stop = next(i for i, (_, m) in enumerate(sd.got) if "STOPPING=1" in m)
            during = sum(1 for _, m in sd.got[i_stop:] if m == "WATCHDOG=1")
            check(during >= 3, f"{during} watchdog pings during a 1 s drain")
            rc, err = srv.stop()
            check(rc == 0, f"exit {rc}")
            check(not re.search(r"^\S+ error", err, re.M), f"stderr {err!r}")
            log(f"{'abstract' if abstract else 'path'}: ready after "
                f"{sd.got[0][0] - t0:.3f} s, {n} pings/s, {during} during the drain, "
                f"last {last!r}")
        finally:
            if srv is not None:
                srv.kill()
            sd.close()

    # $WATCHDOG_PID naming another process: no pings (the request is not ours).
    sd = FakeSystemd()
    srv = None
    try:
        env = server_env(NOTIFY_SOCKET=sd.env, WATCHDOG_USEC="100000", WATCHDOG_PID="1")
        srv = Server(binary, env=env)
        sd.receive(lambda m: "READY=1" in m)
        try:
            sd.receive(lambda m: "WATCHDOG" in m, 0.5)
            raise AssertionError("WATCHDOG=1 sent for another process's watchdog")
        except AssertionError as e:
            if "within" not in str(e):
                raise
    finally:
        if srv is not None:
            srv.kill()
        sd.close()

    # An unreachable $NOTIFY_SOCKET is a warning, not a failure.
    srv = Server(binary, env=server_env(NOTIFY_SOCKET="/nonexistent/notify"))
    try:
        good_request(srv.addr())
        rc, err = srv.stop()
        check(rc == 0, f"exit {rc}")
        check(re.search(r"^\S+Z warn: cannot tell systemd", err, re.M), f"stderr {err!r}")
    finally:
        srv.kill()


def case_log_lines(binary):
    """Diagnostics carry an RFC 3339 time and a level (or, under journald, a syslog
    priority and no time); the lines scripts parse keep their exact text."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        r = subprocess.run([binary, "-p", str(port)], capture_output=True, timeout=10,
                           env=server_env())
        err = r.stderr.decode()
        check(r.returncode == 1, f"exit {r.returncode}")
        check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z error: cannot listen on "
                           rf"127\.0\.0\.1:{port}: .*\n", err), f"stderr {err!r}")
        # Under journald: $JOURNAL_STREAM names stderr's device and inode.
        with tempfile.TemporaryFile() as f:
            st = os.fstat(f.fileno())
            r = subprocess.run([binary, "-p", str(port)], stdout=subprocess.DEVNULL, stderr=f,
                               timeout=10,
                               env=server_env(JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}"))
            f.seek(0)
            err = f.read().decode()
        check(r.returncode == 1, f"journal: exit {r.returncode}")
        check(re.fullmatch(rf"<3>error: cannot listen on 127\.0\.0\.1:{port}: .*\n", err),
              f"journal: stderr {err!r}")
    finally:
        taken.close()

    # A running server: the drain note is a log line; the summary keeps its text.
    srv = Server(binary, "--sleep-ms", "0", env=server_env())
    try:
        good_request(srv.addr())
        rc, err = srv.stop()
        check(rc == 0, f"exit {rc}")
        lines = err.splitlines()
        check(re.match(r"^\S+Z info: Terminated: draining \(at most 5000 ms\)$", lines[0]),
              f"first stderr line {lines[0]!r}")
        check(lines[1] == "wakeful-server: shutdown summary", f"summary header {lines[1]!r}")
        check(lines[-1].startswith("acceptor: accepted 1, dropped 0"), f"last {lines[-1]!r}")
    finally:
        srv.kill()


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
