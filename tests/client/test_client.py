#!/usr/bin/env python3
"""Integration tests for wakeful-client (loopback only, port 0, every wait bounded).

    test_client.py CLIENT SERVER CASE

CLIENT is build/client/wakeful-client, SERVER build/server/wakeful-server (the cases that
need it exit 77, "skipped", while it is not built).  WAKEFUL_TEST_SERVER=PATH overrides
SERVER: a server that does not print "listening on HOST:PORT" (a reference peer such as
tokio-server) is started as `PATH --port P --workers 3 --sleep-ms S` on a free port.
The server stand-in is fake_server.py, next to this file.  Standard library only; every
process a case starts is killed in a finally block.
"""
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fake_server.py")
KINDS = ("refused", "reset", "timed_out", "wrong_reply", "other")
LATENCY = ("min", "p50", "p90", "p99", "max")


class Skip(Exception):
    pass


def check(cond, what, *context):
    if not cond:
        msg = "FAILED: " + what
        for c in context:
            msg += "\n---\n" + str(c)
        raise AssertionError(msg)


class Ctx:
    def __init__(self, client, server):
        self.client = client
        self.server = server
        self.procs = []
        self.files = []

    # ---- processes -------------------------------------------------------------------

    def run_client(self, args, timeout=60, limit_nofile=None):
        """Runs the client to completion; returns (rc, stdout, stderr, seconds)."""
        preexec = None
        if limit_nofile is not None:
            def preexec():
                resource.setrlimit(resource.RLIMIT_NOFILE, (limit_nofile, limit_nofile))
        t0 = time.monotonic()
        p = subprocess.run([self.client] + args, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout,
                           preexec_fn=preexec)
        dt = time.monotonic() - t0
        print("$ wakeful-client %s  -> rc %d in %.2f s" % (" ".join(args), p.returncode, dt))
        if p.stdout:
            print(p.stdout[:2000].rstrip())
        if p.stderr:
            print("[stderr] " + p.stderr[:2000].rstrip())
        return p.returncode, p.stdout, p.stderr, dt

    def spawn(self, argv, **kw):
        out = tempfile.TemporaryFile(mode="w+")
        self.files.append(out)
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             **kw)
        self.procs.append(p)
        return p, out

    def wait_listening(self, p, out, what, timeout=10.0):
        """Reads the port from the first 'listening on HOST:PORT' line of p's output."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out.seek(0)
            m = re.search(r"listening on (\S+):(\d+)", out.read())
            if m:
                return int(m.group(2))
            if p.poll() is not None:
                out.seek(0)
                raise AssertionError("%s exited with %s before listening:\n%s"
                                     % (what, p.returncode, out.read()))
            time.sleep(0.02)
        raise AssertionError("%s did not say 'listening on' within %.0f s" % (what, timeout))

    def start_server(self, sleep_ms, workers=3):
        """Starts the real server; returns (proc, port)."""
        server = os.environ.get("WAKEFUL_TEST_SERVER") or self.server
        if not server or not os.access(server, os.X_OK):
            raise Skip("server not built: %s" % server)
        if os.path.basename(server) == "wakeful-server":
            p, out = self.spawn([server, "-p", "0", "--workers", str(workers),
                                 "--sleep-ms", str(sleep_ms)])
            return p, self.wait_listening(p, out, "wakeful-server")
        # A reference peer: no listening line, so pick a port and wait until it accepts.
        port = free_port()
        p, out = self.spawn([server, "--port", str(port), "--workers", str(workers),
                             "--sleep-ms", str(sleep_ms)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return p, port
            except OSError:
                time.sleep(0.05)
        raise AssertionError("%s did not listen on %d" % (server, port))

    def start_fake(self, mode, expect=None):
        argv = [sys.executable, FAKE, mode] + ([expect] if expect else [])
        p, out = self.spawn(argv)
        return p, self.wait_listening(p, out, "fake_server.py " + mode)

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for f in self.files:
            f.close()


def free_port():
    """A port nobody listens on: bound once by us, then released."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def parse_json(out, n):
    """Checks the --json summary: parses with `python3 -m json.tool`, has the documented
    fields, and its counts add up.  Returns it as a dict."""
    tool = subprocess.run([sys.executable, "-m", "json.tool"], input=out, capture_output=True,
                          text=True, timeout=30)
    check(tool.returncode == 0, "json.tool parses the output", out, tool.stderr)
    check(out.count("\n") == 1 and out.endswith("\n"), "one JSON object on one line", out)
    d = json.loads(out)
    for k in ("requests", "ok", "failed", "failures", "wall_s", "rps", "latency_ms",
              "concurrency", "threads", "cpu_s", "executor"):
        check(k in d, "field %r present" % k, out)
    for k in KINDS:
        check(isinstance(d["failures"].get(k), int), "failures.%s is a count" % k, out)
    for k in LATENCY:
        check(k in d["latency_ms"], "latency_ms.%s present" % k, out)
    check(d["requests"] == n, "requests == %d" % n, out)
    check(d["ok"] + d["failed"] == d["requests"], "ok + failed == requests", out)
    check(sum(d["failures"].values()) == d["failed"], "failures add up to failed", out)
    check(d["wall_s"] > 0, "wall_s > 0", out)
    if d["ok"] > 0:
        lat = [d["latency_ms"][k] for k in LATENCY]
        check(lat == sorted(lat) and lat[0] > 0, "min <= p50 <= p90 <= p99 <= max", out)
        check(abs(d["rps"] - d["ok"] / d["wall_s"]) <= 0.01 * d["rps"] + 0.1,
              "rps == ok / wall_s", out)
    else:
        check(all(d["latency_ms"][k] is None for k in LATENCY), "latency null when no ok", out)
    return d


# ---- the cases ---------------------------------------------------------------------------

def case_server_100_json(c):
    """100 requests against the server: 100 ok, exit 0, the JSON parses and adds up."""
    _, port = c.start_server(sleep_ms=100)
    rc, out, err, _ = c.run_client(["-p", str(port), "-n", "100", "--json"])
    check(rc == 0, "exit 0", err)
    d = parse_json(out, 100)
    check(d["ok"] == 100 and d["failed"] == 0, "100 ok", out)
    check(d["concurrency"] == 100 and d["threads"] == min(os.cpu_count() or 1, 8),
          "defaults: c = n, one thread per CPU (at most 8)", out)
    check(d["latency_ms"]["min"] >= 100, "latency includes the server's 100 ms", out)
    check(err == "", "nothing on stderr when it is not a terminal (no progress line)", err)


def case_server_100_text(c):
    """The human summary: ok/failed lines, failures by kind, wall time, rate, latency."""
    _, port = c.start_server(sleep_ms=50)
    rc, out, err, _ = c.run_client(["-p", str(port), "-n", "100"])
    check(rc == 0, "exit 0", err)
    check(re.search(r"^ok\s+100$", out, re.M), "ok 100", out)
    check(re.search(r"^failed\s+0 \(refused 0, reset 0, timed out 0, wrong reply 0, other 0\)$",
                    out, re.M), "failed 0 with kinds", out)
    for word in ("wall time", "requests/s", "p50", "p90", "p99", "max"):
        check(word in out, "summary shows %r" % word, out)


def case_concurrency_1(c):
    """-c 1: one request at a time, all correct."""
    _, port = c.start_server(sleep_ms=5)
    rc, out, err, _ = c.run_client(["-p", str(port), "-n", "60", "-c", "1", "--json"])
    check(rc == 0, "exit 0", err)
    d = parse_json(out, 60)
    check(d["ok"] == 60 and d["concurrency"] == 1, "60 ok at concurrency 1", out)
    check(d["wall_s"] >= 60 * 0.005, "one at a time: at least 60 x 5 ms", out)


def case_concurrency_100(c):
    """-c 100 over 300 requests of 100 ms each: all ok, in three waves (>= 0.3 s)."""
    _, port = c.start_server(sleep_ms=100)
    rc, out, err, _ = c.run_client(["-p", str(port), "-n", "300", "-c", "100", "--json"])
    check(rc == 0, "exit 0", err)
    d = parse_json(out, 300)
    check(d["ok"] == 300 and d["concurrency"] == 100, "300 ok at concurrency 100", out)
    check(d["wall_s"] >= 0.29, "at most 100 in flight: three waves of 100 ms", out)
    check(d["wall_s"] < 10, "but in parallel: well under 300 x 100 ms", out)


def case_threads_2(c):
    """-t 2: two executor threads share the requests and the lanes."""
    _, port = c.start_server(sleep_ms=50)
    rc, out, err, _ = c.run_client(["-p", str(port), "-n", "200", "-c", "50", "-t", "2",
                                    "--json"])
    check(rc == 0, "exit 0", err)
    d = parse_json(out, 200)
    check(d["ok"] == 200 and d["threads"] == 2, "200 ok on two threads", out)


def case_refused(c):
    """A port nobody listens on: every request refused, exit 1, quickly."""
    port = free_port()
    rc, out, err, dt = c.run_client(["-p", str(port), "-n", "100", "--json"])
    check(rc == 1, "exit 1", err)
    d = parse_json(out, 100)
    check(d["failures"]["refused"] == 100, "100 refused", out)
    check(dt < 5, "quickly (%.2f s)" % dt)


def case_server_killed(c):
    """The server killed mid-run: the failures are counted and the client exits 1 within its
    timeout instead of hanging."""
    server, port = c.start_server(sleep_ms=1000)
    t0 = time.monotonic()
    p = subprocess.Popen([c.client, "-p", str(port), "-n", "200", "--timeout-ms", "3000",
                          "--json"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    c.procs.append(p)
    time.sleep(0.3)
    server.kill()
    try:
        out, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError("the client hung after the server was killed")
    dt = time.monotonic() - t0
    print("client rc %d in %.2f s\n%s%s" % (p.returncode, dt, out, err))
    check(p.returncode == 1, "exit 1", err)
    d = parse_json(out, 200)
    check(d["failed"] == 200, "every request failed (none can finish its 1 s sleep)", out)
    check(d["failures"]["wrong_reply"] == 0, "a dead server is not a wrong reply", out)
    check(dt < 3.0 + 2.0, "within the 3 s timeout plus slack (%.2f s)" % dt)


def case_wrong_reply(c):
    """A stand-in that answers the wrong text: counted as wrong reply."""
    _, port = c.start_fake("wrong")
    rc, out, err, _ = c.run_client(["-p", str(port), "-n", "20", "--json"])
    check(rc == 1, "exit 1", err)
    d = parse_json(out, 20)
    check(d["failures"]["wrong_reply"] == 20, "20 wrong replies", out)


def case_long_reply(c):
    """A reply longer than the client's 32-byte buffer: wrong reply, not a crash."""
    _, port = c.start_fake("long")
    rc, out, err, _ = c.run_client(["-p", str(port), "-n", "20", "--json"])
    check(rc == 1, "exit 1", err)
    d = parse_json(out, 20)
    check(d["failures"]["wrong_reply"] == 20, "20 wrong replies", out)


def case_no_reply(c):
    """Closed without a reply, or reset: both count as reset."""
    for mode in ("close", "rst"):
        p, port = c.start_fake(mode)
        rc, out, err, _ = c.run_client(["-p", str(port), "-n", "20", "--json"])
        check(rc == 1, "exit 1 (%s)" % mode, err)
        d = parse_json(out, 20)
        check(d["failures"]["reset"] == 20, "20 reset (%s)" % mode, out)
        p.kill()


def case_timeout(c):
    """A server that never answers: every request times out at --timeout-ms."""
    _, port = c.start_fake("silent")
    rc, out, err, dt = c.run_client(["-p", str(port), "-n", "10", "--timeout-ms", "300",
                                     "--json"])
    check(rc == 1, "exit 1", err)
    d = parse_json(out, 10)
    check(d["failures"]["timed_out"] == 10, "10 timed out", out)
    check(0.29 <= d["wall_s"] < 3, "after about 300 ms (%.3f s)" % d["wall_s"], out)


def case_frames(c):
    """The frames on the wire: the book's message, --message, --payload-bytes (the large
    one goes out as an inline header plus the shared body)."""
    runs = [
        ("book", ["-n", "50", "-c", "10"]),
        ("book", ["-n", "40", "-t", "2"]),
        ("message:hi there", ["-n", "20", "--message", "hi there"]),
        ("message:", ["-n", "5", "--message", ""]),
        ("payload:0", ["-n", "5", "--payload-bytes", "0"]),
        ("payload:54", ["-n", "5", "--payload-bytes", "54"]),
        ("payload:55", ["-n", "5", "--payload-bytes", "55"]),
        ("payload:60000", ["-n", "10", "--payload-bytes", "60000"]),
        ("payload:3000000", ["-n", "3", "--payload-bytes", "3000000"]),
    ]
    for expect, args in runs:
        p, port = c.start_fake("strict", expect)
        rc, out, err, _ = c.run_client(["-p", str(port), "--json"] + args)
        n = int(args[args.index("-n") + 1])
        check(rc == 0, "exit 0 for %s" % expect, out, err)
        d = parse_json(out, n)
        check(d["ok"] == n, "%d ok for %s" % (n, expect), out)
        p.kill()


def case_verbose(c):
    """-v prints each reply as the book does, in request order; failures as Error: lines."""
    _, port = c.start_fake("hello")
    rc, out, err, _ = c.run_client(["-p", str(port), "-n", "5", "-v"])
    check(rc == 0, "exit 0", err)
    lines = out.splitlines()
    check(lines[0] == "Waiting for result...", "the book's first line", out)
    check(lines[1:6] == ["Result: Hello, client!"] * 5, "five Result lines", out)
    rc, out, err, _ = c.run_client(["-p", str(free_port()), "-n", "3", "-v"])
    check(rc == 1, "exit 1", err)
    check(out.splitlines()[1:4] == ["Error: Connection refused"] * 3, "three Error lines", out)
    rc, out, err, _ = c.run_client(["-p", str(port), "-n", "3", "-v", "--json"])
    check(rc == 0, "exit 0 with --json", err)
    parse_json(out, 3)
    check("Result: Hello, client!" in err, "with --json the replies go to stderr", err)


def case_quiet(c):
    _, port = c.start_fake("hello")
    rc, out, err, _ = c.run_client(["-p", str(port), "-n", "5", "-q"])
    check(rc == 0 and out == "" and err == "", "-q prints nothing", out, err)


def case_bad_flags(c):
    """A bad flag: exit 2, a one-line reason and the usage on stderr, nothing on stdout."""
    bad = [["--bogus"], ["-x"], ["-n"], ["-n", "0"], ["-n", "abc"], ["-n", "-5"],
           ["-c", "0"], ["-t", "0"], ["-p", "70000"], ["-p", "0"], ["-H", "a:0"],
           ["-H", "[::1"], ["-H", ""], ["--timeout-ms", "x"], ["--timeout-ms", "5s"],
           ["--message", "a", "--payload-bytes", "3"], ["-v", "-q"], ["stray"],
           ["--payload-bytes", "99999999999"], ["-R", "100"], ["--bind", "nohost"]]
    for args in bad:
        rc, out, err, _ = c.run_client(args, timeout=10)
        check(rc == 2, "exit 2 for %s" % args, out, err)
        check(out == "", "nothing on stdout for %s" % args, out)
        first = err.splitlines()[0] if err else ""
        check(first.startswith("wakeful-client: "), "a reason first for %s" % args, err)
        check("usage: wakeful-client" in err, "then the usage for %s" % args, err)
    rc, out, err, _ = c.run_client(["--help"], timeout=10)
    check(rc == 0 and out.startswith("usage: wakeful-client") and err == "", "--help", out, err)
    for flag in ("--requests", "--concurrency", "--threads", "--payload-bytes", "--json"):
        check(flag in out, "--help names %s" % flag, out)
    rc, out, err, _ = c.run_client(["--version"], timeout=10)
    check(rc == 0 and out == "wakeful-client 0.1.0\n", "--version", out, err)


def case_fd_limit(c):
    """A concurrency that cannot fit in the descriptors: said before starting, exit 2."""
    port = free_port()
    rc, out, err, dt = c.run_client(["-p", str(port), "-n", "1000"], limit_nofile=200)
    check(rc == 2, "exit 2", out, err)
    check("RLIMIT_NOFILE" in err and "200" in err, "names the limit", err)
    m = re.search(r"use -c (\d+) or less", err)
    check(m is not None, "names the largest usable -c", err)
    check(out == "", "no summary: the run did not start", out)
    # And that suggestion works.
    rc, out, err, _ = c.run_client(["-p", str(port), "-n", "1000", "-c", m.group(1), "--json"],
                                   limit_nofile=200)
    check(rc == 1, "runs (every request refused: nobody listens)", out, err)
    d = parse_json(out, 1000)
    check(d["failures"]["refused"] == 1000, "1000 refused, none failed for descriptors", out)


# ---- run shapes, units, targets, Ctrl-C, histogram (issue 12) ----------------------------

def case_duration(c):
    """-d 2s: issues requests for 2 s, then waits for those in flight (bounded by the
    timeout): ends within D + timeout, and the JSON says it ran for a duration."""
    _, port = c.start_server(sleep_ms=0)
    rc, out, err, dt = c.run_client(["-p", str(port), "-d", "2s", "-c", "8", "--timeout-ms",
                                     "2000", "--json"], timeout=30)
    check(rc == 0, "exit 0", out, err)
    d = json.loads(out)
    parse_json(out, d["requests"])
    check(d["requests"] > 100 and d["failed"] == 0, "requests went out, all ok", out)
    check(d["duration_s"] == 2.0, "duration_s 2", out)
    check(2.0 <= dt < 2.0 + 2.0 + 1.5, "ends within D + timeout (%.2f s)" % dt)
    check(1.95 <= d["wall_s"] < 4.0, "wall_s about 2 s (%.3f)" % d["wall_s"], out)


def case_rate_count(c):
    """-R 2000 -d 2s issues 4,000 requests +-2 %, and reports achieved_rps near 2,000."""
    _, port = c.start_server(sleep_ms=0)
    rc, out, err, _ = c.run_client(["-p", str(port), "-R", "2k", "-d", "2s", "--json"],
                                   timeout=30)
    check(rc == 0, "exit 0", out, err)
    d = json.loads(out)
    parse_json(out, d["requests"])
    check(abs(d["requests"] - 4000) <= 80, "4000 +- 2 %% requests (%d)" % d["requests"], out)
    check(abs(d["achieved_rps"] - 2000) <= 40, "achieved_rps 2000 +- 2 %", out)
    check(d["target_rps"] == 2000, "target_rps", out)
    for k in ("min", "mean", "stdev", "p50", "p75", "p90", "p99", "p99_9", "p99_99", "max"):
        check(k in d["latency_ms"] and k in d["latency_uncorrected_ms"],
              "latency_ms and latency_uncorrected_ms have %s" % k, out)
    for key in ("latency_ms", "latency_uncorrected_ms"):
        lat = [d[key][k] for k in ("min", "p50", "p75", "p90", "p99", "p99_9", "p99_99", "max")]
        check(lat == sorted(lat), "%s in order" % key, out)
    check(d["latency_ms"]["p50"] >= d["latency_uncorrected_ms"]["p50"],
          "corrected (from the due time) is never below uncorrected", out)
    check(isinstance(d["behind_ms"], (int, float)), "behind_ms is a number under -R", out)


def case_stall(c):
    """Coordinated omission: under -R 1000 with -c 20 (well below rate x stall = 1,000), a
    server stopped for 1 s shows a corrected p99 >= 0.5 s, while the uncorrected p99, from
    the actual sends, does not; the summary says the client fell behind."""
    server, port = c.start_server(sleep_ms=0)
    p = subprocess.Popen([c.client, "-p", str(port), "-R", "1000", "-d", "3s", "-c", "20",
                          "--json"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    c.procs.append(p)
    time.sleep(1.0)
    server.send_signal(signal.SIGSTOP)
    time.sleep(1.0)
    server.send_signal(signal.SIGCONT)
    out, err = p.communicate(timeout=30)
    print(out, err)
    check(p.returncode == 0, "exit 0", out, err)
    d = json.loads(out)
    check(d["latency_ms"]["p99"] >= 500, "corrected p99 >= 500 ms", out)
    check(d["latency_uncorrected_ms"]["p99"] < 500, "uncorrected p99 < 500 ms", out)
    check(d["fell_behind"] is True and d["behind_ms"] >= 500, "fell behind, by >= 0.5 s", out)


def run_interrupted(c, args):
    p = subprocess.Popen([c.client] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    c.procs.append(p)
    time.sleep(1.0)
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    dt = time.monotonic() - t0
    print("$ wakeful-client %s, SIGINT after 1 s -> rc %d %.2f s later\n%s%s"
          % (" ".join(args), p.returncode, dt, out, err))
    return p.returncode, out, err, dt


def case_interrupt(c):
    """Ctrl-C: the summary of what ran, a line with 'interrupted', exit 130; within the 1 s
    grace for requests in flight.  A second SIGINT exits at once."""
    _, port = c.start_server(sleep_ms=5000)
    # Every request sleeps 5 s: none ends within the grace, all are dropped after 1 s.
    rc, out, err, dt = run_interrupted(c, ["-p", str(port), "-d", "30s", "-c", "50"])
    check(rc == 130, "exit 130", out, err)
    check(re.search(r"^failed\s+0 \(refused 0", out, re.M), "the failed line", out)
    check(re.search(r"^interrupted.*", out, re.M), "a line saying interrupted", out)
    check(dt < 3.0, "within the 1 s grace plus slack (%.2f s)" % dt)
    _, port2 = c.start_server(sleep_ms=0)
    rc, out, err, dt = run_interrupted(c, ["-p", str(port2), "-R", "500", "-d", "30s", "--json"])
    check(rc == 130, "exit 130 with --json", out, err)
    d = json.loads(out)
    check(d["interrupted"] is True, "interrupted: true", out)
    check(400 <= d["requests"] <= 700, "about 1 s of 500/s ran (%d)" % d["requests"], out)
    check(d["failed"] == 0, "none failed", out)
    # Twice: exits at once, 130, without a summary.
    p = subprocess.Popen([c.client, "-p", str(port), "-d", "30s", "-c", "10"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    c.procs.append(p)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    time.sleep(0.1)
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=10)
    check(p.returncode == 130 and time.monotonic() - t0 < 0.8, "second SIGINT: at once, 130",
          out, err)


def case_units(c):
    """-n 10k is 10,000 requests; -c 64 with units too."""
    _, port = c.start_server(sleep_ms=0)
    rc, out, err, _ = c.run_client(["-p", str(port), "-n", "10k", "-c", "0.064k", "--json"])
    check(rc == 0, "exit 0", out, err)
    d = parse_json(out, 10000)
    check(d["ok"] == 10000 and d["concurrency"] == 64, "10k requests at concurrency 64", out)


def case_bad_units(c):
    """Bad units and unknown hosts: exit 2 with a clear message, nothing on stdout."""
    for args, words in [(["-n", "10x"], ["--requests", "10x", "not a count"]),
                        (["-n", "1.5"], ["--requests", "not a count"]),
                        (["-d", "5parsecs"], ["--duration", "5parsecs", "not a duration"]),
                        (["-d", "0s"], ["--duration", "out of range"]),
                        (["-R", "fast", "-d", "1s"], ["--rate", "fast", "not a count"]),
                        (["-c", "1q"], ["--concurrency", "1q"])]:
        rc, out, err, _ = c.run_client(args, timeout=10)
        check(rc == 2 and out == "", "exit 2, no stdout for %s" % args, out, err)
        for w in words:
            check(w in err.splitlines()[0], "the message names %r for %s" % (w, args), err)
    for args in (["-H", "no-such-host.invalid", "-n", "1"],
                 ["-H", "127.0.0.1,no-such-host.invalid:80", "-n", "1"]):
        rc, out, err, dt = c.run_client(args, timeout=30)
        check(rc == 2 and out == "", "unknown host: exit 2 for %s" % args, out, err)
        check("cannot resolve host 'no-such-host.invalid'" in err, "names the host", err)
        check(dt < 10, "within the lookup's bound (%.2f s)" % dt)


def case_localhost(c):
    """-H localhost: resolved once before the run (the runtime's resolver answers
    127.0.0.1, then ::1), and HOST:PORT."""
    _, port = c.start_server(sleep_ms=0)
    rc, out, err, _ = c.run_client(["-H", "localhost", "-p", str(port), "-n", "200", "-c",
                                    "20", "--json"])
    check(rc == 0, "exit 0", out, err)
    d = parse_json(out, 200)
    check(d["ok"] == 200 and d["host"] == "localhost" and d["port"] == port,
          "200 ok, host as given", out)
    rc, out, err, _ = c.run_client(["-H", "localhost:%d" % port, "-n", "20"])
    check(rc == 0 and "to localhost:%d" % port in out, "HOST:PORT", out, err)


def case_two_targets(c):
    """Two targets (-H twice, and HOST:PORT,HOST:PORT): round-robin, counts per target; the
    JSON host/port are the first target's."""
    _, p1 = c.start_server(sleep_ms=0)
    _, p2 = c.start_server(sleep_ms=0)
    for hargs in (["-H", "127.0.0.1:%d" % p1, "-H", "127.0.0.1:%d" % p2],
                  ["-H", "127.0.0.1:%d,[::ffff:127.0.0.1]:%d" % (p1, p2)]):
        rc, out, err, _ = c.run_client(hargs + ["-n", "1000", "-c", "50", "--json"])
        check(rc == 0, "exit 0", out, err)
        d = parse_json(out, 1000)
        check(d["port"] == p1 and d["host"] == "127.0.0.1", "host/port: the first target", out)
        t = d["targets"]
        check(len(t) == 2 and [x["port"] for x in t] == [p1, p2], "two targets in order", out)
        check(t[0]["ok"] == 500 and t[1]["ok"] == 500, "500 each (round-robin)", out)
    free = free_port()
    rc, out, err, _ = c.run_client(["-H", "127.0.0.1:%d" % p1, "-H", "127.0.0.1:%d" % free,
                                    "-n", "100"])
    check(rc == 1, "exit 1: half refused", out, err)
    check(re.search(r"^target\s+127\.0\.0\.1:%d: ok 50, failed 0$" % p1, out, re.M) and
          re.search(r"^target\s+127\.0\.0\.1:%d: ok 0, failed 50$" % free, out, re.M),
          "per-target lines", out)
    check(re.search(r"^\s+connection refused: 50 \(ECONNREFUSED\)$", out, re.M),
          "the cause under the failed line", out)


def case_errors(c):
    """The JSON errors list: errno name, strerror text, count, kind; the failures object
    keeps its five kinds exactly."""
    rc, out, err, _ = c.run_client(["-p", str(free_port()), "-n", "40", "--json"])
    check(rc == 1, "exit 1", out, err)
    d = parse_json(out, 40)
    check(sorted(d["failures"]) == sorted(KINDS), "exactly the five kinds", out)
    check(d["errors"] == [{"errno": "ECONNREFUSED", "message": "Connection refused",
                           "count": 40, "kind": "refused"}], "one cause, named", out)
    _, port = c.start_fake("wrong")
    rc, out, err, _ = c.run_client(["-p", str(port), "-n", "5", "--json"])
    d = parse_json(out, 5)
    check(d["errors"] == [{"errno": None, "message": "wrong reply", "count": 5,
                           "kind": "wrong_reply"}], "our own causes have no errno", out)


def case_histogram(c):
    """--histogram FILE: HdrHistogram's .hgrm text; its total count is the ok count and its
    percentiles agree with the summary's."""
    _, port = c.start_server(sleep_ms=0)
    path = os.path.join(tempfile.mkdtemp(), "lat.hgrm")
    rc, out, err, _ = c.run_client(["-p", str(port), "-R", "1000", "-n", "2000",
                                    "--histogram", path, "--json"])
    check(rc == 0, "exit 0", out, err)
    d = parse_json(out, 2000)
    text = open(path).read()
    lines = text.splitlines()
    check(lines[0].split() == ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"],
          "the .hgrm header", text[:500])
    rows = []
    for ln in lines[1:]:
        f = ln.split()
        if len(f) >= 3 and not ln.startswith("#"):
            rows.append((float(f[0]), float(f[1]), int(f[2])))
    check(len(rows) > 10, "rows", text[:500])
    check(all(rows[i][0] <= rows[i + 1][0] and rows[i][1] <= rows[i + 1][1]
              for i in range(len(rows) - 1)), "values and percentiles rise", text[:2000])
    check(rows[-1][2] == d["ok"], "total count == ok", text[-800:])
    m = re.search(r"#\[Mean\s*=\s*([0-9.]+)", text)
    check(m and abs(float(m.group(1)) - d["latency_ms"]["mean"]) < 0.01 + 0.01 * float(m.group(1)),
          "the footer's mean is the corrected mean (ms)", text[-800:], out)
    check(abs(rows[-1][0] - d["latency_ms"]["max"]) <= 0.01 * d["latency_ms"]["max"] + 0.001,
          "the 100 % row is the max", text[-800:], out)


def case_verbose_stream(c):
    """-v under -d: every outcome printed as it ends (order not kept)."""
    _, port = c.start_fake("hello")
    rc, out, err, _ = c.run_client(["-p", str(port), "-d", "300ms", "-c", "2", "-v", "--json"])
    check(rc == 0, "exit 0", out, err)
    d = json.loads(out)
    lines = err.splitlines()
    check(lines[0] == "Waiting for result...", "the book's first line", err[:300])
    check(lines[1:].count("Result: Hello, client!") == d["ok"] and d["ok"] > 0,
          "one Result line per request", err[:300], out)


def case_memory_flat(c):
    """Memory is flat: a -d 6s run at full speed peaks (VmHWM, the JSON's max_rss_kb) at
    most 10 % above a -d 2s run's.  Closed loop and -R both; under -R with a -c, since the
    memory follows the requests in flight (one task each), and without a cap a stall of
    the shared machine lets them pile up, in a short run as in a long one.  One thread: with
    two, the peak varies by +-200 KiB from run to run whatever the duration (which thread's
    allocator arena takes what), which is noise for this comparison, not growth."""
    _, port = c.start_server(sleep_ms=0)
    for extra in (["-c", "32", "-t", "1"], ["-R", "3000", "-c", "64", "-t", "1"]):
        rss = []
        for dur in ("2s", "6s"):
            rc, out, err, _ = c.run_client(["-p", str(port), "-d", dur, "--json"] + extra,
                                           timeout=60)
            check(rc == 0, "exit 0", out, err)
            d = json.loads(out)
            rss.append(d["max_rss_kb"])
        print("peak RSS %s: -d 2s %d KiB, -d 6s %d KiB" % (extra, rss[0], rss[1]))
        check(rss[1] <= 1.10 * rss[0], "-d 6s peak <= 1.10 x -d 2s peak (%s)" % rss)


def case_bind(c):
    """--bind: connections come from the addresses given (127.0.0.2 and 127.0.0.3 are this
    machine's loopback too), round-robin; an address this machine does not have is said
    before the run, exit 2."""
    _, port = c.start_server(sleep_ms=0)
    rc, out, err, _ = c.run_client(["-p", str(port), "-n", "200", "-c", "20", "--bind",
                                    "127.0.0.2,127.0.0.3", "--json"])
    check(rc == 0, "exit 0", out, err)
    d = parse_json(out, 200)
    check(d["ok"] == 200, "200 ok through the bound addresses", out)
    rc, out, err, _ = c.run_client(["-p", str(port), "-n", "5", "--bind", "192.0.2.1"])
    check(rc == 2 and out == "", "exit 2 for an address not here", out, err)
    check("--bind" in err and "192.0.2.1" in err and "not an address of this machine" in err,
          "names the address", err)


def case_address_fallback(c):
    """A name's addresses are tried in order: localhost is 127.0.0.1, then ::1; with the
    server on ::1 only, the first request is refused on 127.0.0.1 and goes on to ::1, and
    the later ones start with ::1 (the address that answered).  Skipped without IPv6."""
    server = os.environ.get("WAKEFUL_TEST_SERVER") or c.server
    if os.path.basename(server) != "wakeful-server" or not os.access(server, os.X_OK):
        raise Skip("needs wakeful-server (-b)")
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM).bind(("::1", 0))
    except OSError:
        raise Skip("no IPv6 loopback")
    p, out = c.spawn([server, "-b", "::1", "-p", "0", "--workers", "1", "--sleep-ms", "0"])
    port = c.wait_listening(p, out, "wakeful-server on ::1")
    rc, out, err, _ = c.run_client(["-H", "localhost", "-p", str(port), "-n", "100", "-c", "10",
                                    "--json"])
    check(rc == 0, "exit 0: every request reached ::1", out, err)
    d = parse_json(out, 100)
    check(d["ok"] == 100 and d["errors"] == [], "100 ok, no failure counted", out)


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in CASES:
        print("usage: test_client.py CLIENT SERVER CASE\ncases: " + " ".join(sorted(CASES)),
              file=sys.stderr)
        return 2
    c = Ctx(os.path.abspath(sys.argv[1]), sys.argv[2])
    try:
        CASES[sys.argv[3]](c)
    except Skip as e:
        print("SKIP:", e)
        return SKIP
    except AssertionError as e:
        print(e)
        return 1
    finally:
        c.cleanup()
    print("ok")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
