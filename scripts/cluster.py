#!/usr/bin/env python3
"""A simulated cluster of wakeful-server hosts behind HAProxy, on this one machine.

    cluster.py [options] up | down | status | steady | rolling | crash | hung | scaleout | all

scripts/cluster.sh builds wakeful, installs HAProxy when it is missing and runs this; the
meson tests in tests/cluster run it with --check (exit 0 pass, 1 fail, 77 skipped).

Hosts.  Each host is a network namespace this script creates, joined to a bridge in the
root namespace by a veth pair, with its own address in 198.18.0.0/15 (RFC 2544's
benchmarking range; a /24 of it that `ip route get` shows this machine does not already
route).  Each runs one wakeful-server on HOST:7878 with its agent on 7879 and its metrics
on 9100.  HAProxy runs in the root namespace on the bridge's address, with the
configuration contrib/haproxy/wakeful.cfg (only the lines marked "cluster.sh:" are
rewritten), its admin socket in the state folder.  wakeful-client drives it from the root
namespace.  Nothing outside these namespaces and loopback is ever contacted.  Where
namespaces cannot be made (no CAP_SYS_ADMIN, a container that forbids them), the hosts
are loopback addresses 127.0.0.2 ... N+1 instead, and the script says so.

Cleanup.  Every namespace, link and process is written to STATE/state.json the moment it
is made; `down` (and the end of every scenario, and SIGINT/SIGTERM/SIGHUP) stops the
processes by their recorded PID (after checking /proc/PID/cmdline still names the program
started) and removes the namespaces and links.

Each scenario prints one summary line ("cluster SCENARIO: PASS ...") and one JSON object.
"""

import argparse
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG_TEMPLATE = os.path.join(REPO, "contrib", "haproxy", "wakeful.cfg")
BACKEND = "wakeful_hosts"
SKIP = 77

# The HAProxy timing the template sets (contrib/haproxy/wakeful.cfg, default-server line);
# the scenarios' bounds are computed from these, read back from the template at start.
PORT, AGENT_PORT, METRICS_PORT = 7878, 7879, 9100
# Scheduling slack added to every timing bound: HAProxy, the hosts and the client share
# two cores with whatever else runs, so a check can start a few hundred ms late.
SLACK_S = 0.75


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Skip(Exception):
    """The environment cannot run this (not root, no HAProxy, a missing server flag)."""


class Interrupted(Exception):
    pass


def run(cmd, check=True, **kw):
    """Runs a short command (ip, haproxy -c); raises on failure when check is set."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=30, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def wait_until(pred, timeout, step=0.05):
    """Polls pred() until it returns a true value or timeout seconds pass; returns the value
    (or None).  Every wait in this script goes through here, so none is unbounded."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(step)


# ---- the template's timing -------------------------------------------------------------

def template_timing():
    """Reads inter, fastinter, downinter, rise, fall, agent-inter, slowstart and timeout
    check from the template, in seconds, so the bounds follow the documented file."""
    text = open(CFG_TEMPLATE).read()
    m = re.search(r"^\s*default-server\s+(.*)$", text, re.M)
    words = m.group(1).split()

    def after(key):
        return words[words.index(key) + 1]

    def secs(v):
        if v.endswith("ms"):
            return float(v[:-2]) / 1000
        if v.endswith("s"):
            return float(v[:-1])
        return float(v) / 1000
    t = {k: secs(after(k)) for k in ("inter", "fastinter", "downinter", "agent-inter",
                                     "slowstart")}
    t["rise"] = int(after("rise"))
    t["fall"] = int(after("fall"))
    t["timeout_check"] = secs(re.search(r"^\s*timeout check\s+(\S+)", text, re.M).group(1))
    return argparse.Namespace(**{k.replace("-", "_"): v for k, v in t.items()})


# ---- capabilities of the built programs --------------------------------------------------

def help_text(exe):
    return run([exe, "--help"], check=False).stdout


class Caps:
    def __init__(self, server, client):
        s, c = help_text(server), help_text(client)
        self.agent = "--agent-port" in s
        self.metrics = "--metrics" in s
        self.grace = "--drain-grace-ms" in s
        self.rate = "--rate" in c and "--duration" in c

    def as_dict(self):
        return {"server_agent_port": self.agent, "server_metrics": self.metrics,
                "server_drain_grace": self.grace, "client_rate_duration": self.rate}


# ---- state: everything made, recorded before it is made ----------------------------------

class State:
    def __init__(self, folder):
        self.folder = folder
        self.path = os.path.join(folder, "state.json")
        self.d = {"netns": [], "links": [], "pids": [], "mode": None}
        if os.path.exists(self.path):
            with open(self.path) as f:
                self.d = json.load(f)

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.d, f, indent=1)
        os.replace(tmp, self.path)

    def add(self, kind, item):
        self.d[kind].append(item)
        self.save()

    def drop_pid(self, pid):
        self.d["pids"] = [p for p in self.d["pids"] if p["pid"] != pid]
        self.save()


def pid_is(pid, exe):
    """True while PID is alive and still the program we started (not a reused PID)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except OSError:
        return False
    # argv[1] too: a program that is a script runs as `python3 PATH ...`.
    names = {os.path.basename(a.decode(errors="replace")) for a in argv[:2]}
    return os.path.basename(exe) in names


def stop_pid(pid, exe, sig=signal.SIGTERM, grace=5.0, popen=None):
    """Stops one recorded process by PID: sig, then SIGKILL after grace seconds."""
    if not pid_is(pid, exe):
        return
    try:
        os.kill(pid, sig)
        if sig != signal.SIGKILL:
            os.kill(pid, signal.SIGCONT)  # a host a scenario stopped must see the signal
    except ProcessLookupError:
        return
    gone = wait_until(lambda: not pid_is(pid, exe) or (popen and popen.poll() is not None),
                      grace)
    if not gone:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        wait_until(lambda: not pid_is(pid, exe) or (popen and popen.poll() is not None), 5)
    if popen:
        try:
            popen.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass


def teardown(state, popens=None):
    """Stops every recorded process and removes every recorded namespace and link; safe to
    run twice and on a half-made cluster."""
    popens = popens or {}
    for p in list(state.d["pids"]):
        stop_pid(p["pid"], p["exe"], popen=popens.get(p["pid"]))
        state.drop_pid(p["pid"])
    for ns in list(state.d["netns"]):
        run(["ip", "netns", "del", ns], check=False)
        state.d["netns"].remove(ns)
        state.save()
    for link in list(state.d["links"]):
        if run(["ip", "link", "show", link], check=False).returncode == 0:
            run(["ip", "link", "del", link], check=False)
        state.d["links"].remove(link)
        state.save()


# ---- addresses -----------------------------------------------------------------------------

def default_route_dev():
    r = run(["ip", "-o", "route", "show", "default"], check=False).stdout.split()
    return r[r.index("dev") + 1] if "dev" in r else None


def pick_subnet(tag):
    """A /24 of 198.18.0.0/15 that this machine does not route already: `ip route get`
    must either fail (no route at all) or go by the default route, and no address on the
    machine may lie in it.  Tries up to 32 candidates (bounded)."""
    used = run(["ip", "-o", "-4", "addr", "show"], check=False).stdout
    dflt = default_route_dev()
    for k in range(32):
        n = (tag + k) % 512
        third = n % 256
        net = f"198.{18 + n // 256}.{third}"
        if f" {net}." in used:
            continue
        r = run(["ip", "route", "get", f"{net}.11"], check=False)
        if r.returncode != 0:
            return net  # unreachable: nothing routes it
        words = r.stdout.split()
        dev = words[words.index("dev") + 1] if "dev" in words else None
        if "via" in words and dev == dflt:
            return net  # only the default route covers it
    raise RuntimeError("no free /24 in 198.18.0.0/15 (every candidate is routed here)")


# ---- HAProxy -------------------------------------------------------------------------------

def haproxy_config(path_sock, bind, hosts, slot, caps, sleep_ms, read_timeout_ms):
    """The template with its "cluster.sh:" lines rewritten for this cluster.  Without the
    server's --metrics the health check falls back to a connect check on the service
    port, and without --agent-port the agent check is left out (reported in the JSON)."""
    out = []
    in_servers = False
    timeout = read_timeout_ms + sleep_ms + 1000
    for line in open(CFG_TEMPLATE).read().splitlines():
        s = line.strip()
        if "cluster.sh: servers begin" in s:
            in_servers = True
            out.append(line)
            for h in hosts:
                out.append(f"    server {h.name} {h.addr}:{PORT}")
            out.append(f"    server {slot.name} {slot.addr}:{PORT} disabled")
            continue
        if "cluster.sh: servers end" in s:
            in_servers = False
        if in_servers:
            continue
        if s.startswith("stats socket"):
            line = f"    stats socket {path_sock} mode 600 level admin"
        elif s.startswith("bind "):
            line = f"    bind {bind}"
        elif s.startswith("timeout client") or s.startswith("timeout server"):
            line = f"    {' '.join(s.split()[:2])} {timeout}ms"
        elif s.startswith("default-server"):
            if not caps.metrics:
                line = line.replace(f" port {METRICS_PORT}", "")
            if not caps.agent:
                line = re.sub(r" agent-check agent-port \d+ agent-inter \S+", "", line)
        elif not caps.metrics and (s.startswith("option httpchk") or s.startswith("http-check")):
            continue
        out.append(line)
    return "\n".join(out) + "\n"


class Admin:
    """HAProxy's runtime API on its stats socket: one command per connection."""

    def __init__(self, path):
        self.path = path

    def cmd(self, line, timeout=2.0):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.path)
            s.sendall(line.encode() + b"\n")
            chunks = []
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:  # bounded: HAProxy closes after one answer
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks).decode()
        finally:
            s.close()

    def stat(self):
        """show stat for the backend's servers: {name: row dict}."""
        text = self.cmd("show stat")
        lines = [x for x in text.splitlines() if x]
        head = lines[0].lstrip("# ").split(",")
        rows = {}
        for x in lines[1:]:
            r = dict(zip(head, x.split(",")))
            if r.get("pxname") == BACKEND and r.get("svname") not in ("BACKEND", "FRONTEND"):
                rows[r["svname"]] = r
        return rows


def cpu_ticks(pid, which=(11, 12)):
    """utime + stime of a process (all its threads), in clock ticks, from /proc/PID/stat
    (fields 14 and 15; which=(11,) for utime alone, (12,) for stime)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in which)


def metrics(addr):
    """GET /metrics from a host: {name or name{labels}: value}; None if it does not answer."""
    try:
        with urllib.request.urlopen(f"http://{addr}:{METRICS_PORT}/metrics", timeout=1.0) as r:
            text = r.read().decode()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            try:
                out[k] = float(v)
            except ValueError:
                pass
    return out


# ---- the cluster ---------------------------------------------------------------------------

class Host:
    def __init__(self, i, addr, ns):
        self.i, self.name, self.addr, self.ns = i, f"h{i}", addr, ns
        self.pid = None


class Cluster:
    def __init__(self, args, state, caps):
        self.a, self.state, self.caps = args, state, caps
        self.popens = {}
        self.hosts = []
        self.haproxy_pid = None
        self.t = template_timing()
        self.tag = os.getpid() % 512

    # -- network --
    def make_net(self, n_all):
        """Makes the bridge and n_all namespaces (the last is the scale-out slot's host,
        made later by add_host); falls back to loopback when namespaces are not allowed."""
        d = self.state.d
        probe = f"wakeful-probe-{os.getpid()}"
        ok = run(["ip", "netns", "add", probe], check=False)
        if ok.returncode == 0:
            run(["ip", "netns", "del", probe], check=False)
        if self.a.loopback or ok.returncode != 0:
            if ok.returncode != 0:
                log("cluster: network namespaces are not permitted here "
                    f"({ok.stderr.strip()}); falling back to loopback addresses 127.0.0.2..")
            else:
                log("cluster: --loopback: hosts are loopback addresses 127.0.0.2..")
            d["mode"] = "loopback"
            d["front"] = "127.0.0.1"
            d["addrs"] = [f"127.0.0.{i + 1}" for i in range(1, n_all + 1)]
            self.state.save()
            return
        net = pick_subnet(self.tag)
        d["mode"] = "netns"
        d["front"] = f"{net}.1"
        d["addrs"] = [f"{net}.{10 + i}" for i in range(1, n_all + 1)]
        d["bridge"] = br = f"wkb{self.tag:03x}"
        self.state.save()
        self.state.add("links", br)
        run(["ip", "link", "add", br, "type", "bridge"])
        run(["ip", "addr", "add", f"{net}.1/24", "dev", br])
        run(["ip", "link", "set", br, "up"])
        log(f"cluster: bridge {br} {net}.1/24 (198.18.0.0/15, not routed by this machine)")

    def make_host_net(self, i):
        d = self.state.d
        addr = d["addrs"][i - 1]
        if d["mode"] == "loopback":
            return Host(i, addr, None)
        ns = f"wakeful-{self.tag:03x}-h{i}"
        outer, inner = f"wk{self.tag:03x}h{i}", f"wk{self.tag:03x}n{i}"
        self.state.add("netns", ns)
        run(["ip", "netns", "add", ns])
        self.state.add("links", outer)
        run(["ip", "link", "add", outer, "type", "veth", "peer", "name", inner])
        run(["ip", "link", "set", inner, "netns", ns])
        run(["ip", "link", "set", outer, "master", d["bridge"], "up"])
        run(["ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", inner])
        run(["ip", "-n", ns, "link", "set", inner, "up"])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
        return Host(i, addr, ns)

    # -- processes --
    def spawn(self, role, argv, log_name):
        """Starts one process in its own session (a Ctrl-C at the terminal reaches only this
        script, which then stops everything by PID) and records it."""
        out = open(os.path.join(self.state.folder, log_name), "ab")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                             start_new_session=True)
        out.close()
        # `ip netns exec` execs the program, so this PID becomes the server's own.
        exe = argv[4] if argv[:3] == ["ip", "netns", "exec"] else argv[0]
        self.state.add("pids", {"pid": p.pid, "exe": exe, "role": role})
        self.popens[p.pid] = p
        return p

    def server_argv(self, h):
        a = self.a
        argv = [a.server, "-b", h.addr, "-p", str(PORT), "-w", str(a.workers),
                "--sleep-ms", str(a.sleep_ms), "--read-timeout-ms", str(a.read_timeout_ms),
                "--drain-ms", str(a.drain_ms)]
        if self.caps.agent:
            argv += ["--agent-port", str(AGENT_PORT)]
        if self.caps.grace:
            argv += ["--drain-grace-ms", str(a.drain_grace_ms)]
        if self.caps.metrics:
            argv += ["--metrics", f"{h.addr}:{METRICS_PORT}"]
        if h.ns:
            argv = ["ip", "netns", "exec", h.ns] + argv
        return argv

    def start_server(self, h):
        logf = os.path.join(self.state.folder, f"{h.name}.log")
        mark = os.path.getsize(logf) if os.path.exists(logf) else 0
        p = self.spawn(h.name, self.server_argv(h), f"{h.name}.log")
        h.pid = p.pid

        def ready():
            if p.poll() is not None:
                raise RuntimeError(f"{h.name}: wakeful-server exited {p.returncode}: "
                                   + tail(logf))
            with open(logf, "rb") as f:
                f.seek(mark)
                text = f.read().decode(errors="replace")
            return "listening on" in text and (not self.caps.metrics or "metrics on" in text)
        if not wait_until(ready, 10):
            raise RuntimeError(f"{h.name}: not listening within 10 s: " + tail(logf))

    def add_host(self, i):
        h = self.make_host_net(i)
        self.hosts.append(h)
        self.start_server(h)
        return h

    def host(self, name):
        return next(h for h in self.hosts if h.name == name)

    def start_haproxy(self, n):
        d = self.state.d
        slot_addr = d["addrs"][n]
        sock = os.path.join(self.state.folder, "admin.sock")
        if d["mode"] == "netns":
            bind_port = PORT
        else:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))  # a free loopback port (released just before haproxy binds it)
            bind_port = s.getsockname()[1]
            s.close()
        d["front_port"] = bind_port
        self.state.save()
        cfg = haproxy_config(sock, f"{d['front']}:{bind_port}", self.hosts,
                             Host(n + 1, slot_addr, None), self.caps, self.a.sleep_ms,
                             self.a.read_timeout_ms)
        cfg_path = os.path.join(self.state.folder, "haproxy.cfg")
        with open(cfg_path, "w") as f:
            f.write(cfg)
        run(["haproxy", "-c", "-q", "-f", cfg_path])
        p = self.spawn("haproxy", [shutil.which("haproxy"), "-db", "-f", cfg_path], "haproxy.log")
        self.haproxy_pid = p.pid
        self.admin = Admin(sock)

        def up():
            if p.poll() is not None:
                raise RuntimeError("haproxy exited: " + tail(os.path.join(self.state.folder,
                                                                           "haproxy.log")))
            try:
                st = self.admin.stat()
            except OSError:
                return False
            return all(st.get(h.name, {}).get("status", "").startswith("UP") for h in self.hosts)
        if not wait_until(up, 10):
            raise RuntimeError("haproxy: not every host UP within 10 s: "
                               + json.dumps(self.status()))

    def up(self, n):
        self.make_net(n + 1)
        for i in range(1, n + 1):
            self.add_host(i)
        self.start_haproxy(n)
        d = self.state.d
        log(f"cluster: {n} hosts ({d['mode']}): "
            + ", ".join(f"{h.name} {h.addr}:{PORT}" for h in self.hosts)
            + f"; haproxy on {d['front']}:{d['front_port']}, admin socket "
            + os.path.join(self.state.folder, "admin.sock"))

    def front(self):
        return self.state.d["front"], self.state.d["front_port"]

    def status(self):
        try:
            st = self.admin.stat()
        except OSError as e:
            return {"error": str(e)}
        return {k: {f: v.get(f) for f in ("status", "weight", "scur", "stot", "check_status",
                                          "agent_status")} for k, v in st.items()}

    def counts(self):
        """Per host: HAProxy's sessions total (stot) and, with --metrics, the server's own
        wakeful_accepted_total."""
        st = self.admin.stat()
        out = {}
        for h in self.hosts:
            m = metrics(h.addr) if self.caps.metrics else None
            out[h.name] = {"stot": int(st[h.name]["stot"]), "scur": int(st[h.name]["scur"]),
                           "accepted": int(m["wakeful_accepted_total"]) if m else None}
        return out

    def server_state(self, name):
        return self.admin.stat().get(name, {}).get("status", "")

    def in_rotation(self, name):
        r = self.admin.stat().get(name, {})
        return r.get("status", "").startswith("UP") and int(r.get("weight") or 0) > 0


def tail(path, n=6):
    try:
        with open(path, errors="replace") as f:
            return " | ".join(f.read().splitlines()[-n:])
    except OSError:
        return "(no log)"


# ---- load ----------------------------------------------------------------------------------

class Load:
    """wakeful-client against one address for `seconds`: with the client's -R/-d, one
    open-loop run at `rate`; without them, back-to-back closed-loop runs (-n/-c) until the
    time is up, their counts summed."""

    def __init__(self, cl, host, port, rate, seconds, label):
        self.cl, self.host, self.port = cl, host, port
        self.rate, self.seconds, self.label = rate, seconds, label
        self.result = None
        self.error = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.t0 = time.monotonic()
        self.thread.start()
        return self

    def _run(self):
        try:
            if self.cl.caps.rate:
                out = self._client_stdout(["-R", str(self.rate), "-d", f"{self.seconds}s",
                                           "-c", str(self.cl.a.max_in_flight)])
                self.result = json.loads(out.strip().splitlines()[-1])
            else:
                self.result = self._closed_loop()
        except Exception as e:  # reported by join()
            self.error = e

    def _client_stdout(self, extra):
        a = self.cl.a
        argv = [a.client, "-H", self.host, "-p", str(self.port), "--json",
                "--timeout-ms", str(a.client_timeout_ms)] + extra
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        self.cl.state.add("pids", {"pid": p.pid, "exe": a.client, "role": "client"})
        try:
            out, _ = p.communicate(timeout=self.seconds + a.client_timeout_ms / 1000 + 30)
        except subprocess.TimeoutExpired:
            stop_pid(p.pid, a.client, popen=p)
            raise RuntimeError(f"{self.label}: wakeful-client did not finish in time")
        finally:
            self.cl.state.drop_pid(p.pid)
        return out.decode()

    def _closed_loop(self):
        a = self.cl.a
        tot = {"requests": 0, "ok": 0, "failed": 0,
               "failures": {k: 0 for k in ("refused", "reset", "timed_out", "wrong_reply",
                                           "other")},
               "latency_ms": {"p99": 0.0, "max": 0.0}, "runs": 0, "mode": "closed-loop -n/-c"}
        end = self.t0 + self.seconds
        while time.monotonic() < end and not self.stop.is_set():
            out = self._client_stdout(["-n", str(a.batch), "-c", str(a.concurrency)])
            r = json.loads(out.strip().splitlines()[-1])
            tot["runs"] += 1
            for k in ("requests", "ok", "failed"):
                tot[k] += r[k]
            for k, v in r["failures"].items():
                tot["failures"][k] = tot["failures"].get(k, 0) + v
            for k in ("p99", "max"):  # the worst batch's: an upper bound, not a percentile
                tot["latency_ms"][k] = max(tot["latency_ms"][k], r["latency_ms"].get(k, 0))
        tot["wall_s"] = time.monotonic() - self.t0
        tot["rps"] = tot["requests"] / tot["wall_s"] if tot["wall_s"] else 0
        return tot

    def join(self):
        self.thread.join(self.seconds + self.cl.a.client_timeout_ms / 1000 + 60)
        if self.thread.is_alive():
            raise RuntimeError(f"{self.label}: load did not finish")
        if self.error:
            raise self.error
        return self.result


def rate_of(load_result, seconds, rate):
    """Requests per second the load ran at: the -R target, or the closed loop's measured rate."""
    if load_result and load_result.get("mode") == "closed-loop -n/-c":
        return load_result["rps"]
    return rate


def brief(r):
    """The figures of a client result that the scenario JSON keeps."""
    if r is None:
        return None
    keep = {k: r.get(k) for k in ("requests", "ok", "failed", "failures", "wall_s", "rps",
                                  "achieved_rps", "mode", "runs")}
    lat = r.get("latency_ms", {})
    keep["latency_ms"] = {k: lat.get(k) for k in ("p50", "p99", "max") if k in lat}
    return {k: v for k, v in keep.items() if v is not None}


# ---- scenarios -----------------------------------------------------------------------------

class Result:
    def __init__(self, name):
        self.name = name
        self.checks = []
        self.data = {"scenario": name}

    def check(self, what, ok, detail=""):
        self.checks.append({"check": what, "ok": bool(ok), "detail": detail})
        log(f"  [{'ok' if ok else 'FAIL'}] {what}{': ' + detail if detail else ''}")

    @property
    def passed(self):
        return all(c["ok"] for c in self.checks)


def per_host_delta(c0, c1, key):
    if any(c1[h][key] is None for h in c1):
        return None
    return {h: c1[h][key] - c0.get(h, {key: 0})[key] for h in c1}


def spread(deltas):
    """Largest relative deviation from an even share, in percent."""
    vals = list(deltas.values())
    even = sum(vals) / len(vals)
    return 100.0 * max(abs(v - even) for v in vals) / even if even else float("inf")


def scenario_steady(cl, res):
    a, n = cl.a, len(cl.hosts)
    host, port = cl.front()
    # HAProxy's CPU while idle (its checks, its timers), to subtract from the loaded figure.
    hz = os.sysconf("SC_CLK_TCK")
    i0, ti0 = cpu_ticks(cl.haproxy_pid), time.monotonic()
    time.sleep(2)
    idle_per_s = (cpu_ticks(cl.haproxy_pid) - i0) / hz / (time.monotonic() - ti0)
    c0 = cl.counts()
    sys0 = cpu_ticks(cl.haproxy_pid, (12,))
    cpu0, tc0 = cpu_ticks(cl.haproxy_pid), time.monotonic()
    r = Load(cl, host, port, a.rate, a.duration, "steady").start().join()
    cpu1, tc1 = cpu_ticks(cl.haproxy_pid), time.monotonic()
    sys1 = cpu_ticks(cl.haproxy_pid, (12,))
    c1 = cl.counts()
    res.data["through_haproxy"] = brief(r)
    res.check("0 failures through HAProxy", r["failed"] == 0,
              f"{r['ok']} ok of {r['requests']}, failures {r['failures']}")
    key = "accepted" if cl.caps.metrics else "stot"
    d = per_host_delta(c0, c1, key)
    res.data["per_host"] = {"source": "wakeful_accepted_total" if key == "accepted"
                            else "haproxy show stat stot", "connections": d,
                            "haproxy_stot": per_host_delta(c0, c1, "stot")}
    sp = spread(d)
    res.data["per_host"]["max_deviation_pct"] = round(sp, 3)
    res.check(f"connections per host within 2 % of even ({n} hosts)", sp <= 2.0,
              f"{d}, max deviation {sp:.2f} %")
    cpu_s = (cpu1 - cpu0) / hz
    net_s = max(cpu_s - idle_per_s * (tc1 - tc0), 0.0)
    res.data["haproxy_cpu_us_per_request"] = round(cpu_s * 1e6 / max(r["requests"], 1), 2)
    res.data["haproxy_cpu_us_per_request_net_of_idle"] = round(
        net_s * 1e6 / max(r["requests"], 1), 2)
    res.data["haproxy_idle_cpu_ms_per_s"] = round(idle_per_s * 1000, 2)
    # In the kernel (connect, accept, and on this one machine the TCP work of the hosts'
    # side of the veth pairs that runs in HAProxy's system calls) against in HAProxy.
    res.data["haproxy_sys_share"] = round((sys1 - sys0) / max(cpu1 - cpu0, 1), 3)
    # The same load straight to one host, for the figures (not judged beyond 0 failures).
    direct = Load(cl, cl.hosts[0].addr, PORT, a.rate, a.direct_s, "direct").start().join()
    res.data["direct_to_h1"] = brief(direct)
    res.check("0 failures direct to h1", direct["failed"] == 0, f"failures {direct['failures']}")
    # Closed-loop capacity through HAProxy and direct (figures only).
    cap = {}
    for label, (hh, pp) in (("haproxy", (host, port)), ("direct_h1", (cl.hosts[0].addr, PORT))):
        ld = Load(cl, hh, pp, 0, a.duration, label)
        ld.t0 = time.monotonic()
        out = ld._client_stdout(["-n", str(a.capacity_n), "-c", str(a.capacity_c)])
        cap[label] = brief(json.loads(out.strip().splitlines()[-1]))
    res.data["capacity_closed_loop"] = {"n": a.capacity_n, "c": a.capacity_c, **cap}
    lat_h = r.get("latency_ms", {}).get("p99")
    lat_d = direct.get("latency_ms", {}).get("p99")
    ratios = {}
    if lat_h and lat_d:
        ratios["p99_haproxy_over_direct"] = round(lat_h / lat_d, 3)
    if cap["haproxy"].get("rps") and cap["direct_h1"].get("rps"):
        ratios["capacity_rps_haproxy_over_direct"] = round(
            cap["haproxy"]["rps"] / cap["direct_h1"]["rps"], 3)
        ratios["capacity_p99_haproxy_over_direct"] = round(
            cap["haproxy"]["latency_ms"]["p99"] / max(cap["direct_h1"]["latency_ms"]["p99"],
                                                       1e-9), 3)
    res.data["ratios"] = ratios
    return (f"{r['ok']}/{r['requests']} ok through HAProxy, per host {d} "
            f"(max dev {sp:.2f} %), HAProxy {res.data['haproxy_cpu_us_per_request']} us CPU "
            f"per request, ratios {ratios}")


def wait_state(cl, name, pred, timeout):
    t0 = time.monotonic()
    ok = wait_until(lambda: pred(cl.admin.stat().get(name, {})), timeout, step=0.02)
    return (time.monotonic() - t0) if ok else None


def scenario_rolling(cl, res):
    a, t = cl.a, cl.t
    host, port = cl.front()
    per_host_s = a.drain_grace_ms / 1000 + 4  # grace, exit, rise checks and the agent
    seconds = int(len(cl.hosts) * per_host_s + 4)
    load = Load(cl, host, port, a.rate, seconds, "rolling").start()
    time.sleep(2)
    steps = []
    for h in list(cl.hosts):
        step = {"host": h.name}
        old = cl.popens.get(h.pid)
        t0 = time.monotonic()
        os.kill(h.pid, signal.SIGTERM)
        step["drain_seen_s"] = wait_state(cl, h.name, lambda r: "DRAIN" in r.get("status", "")
                                          or r.get("weight") == "0", a.drain_grace_ms / 1000 + 2)
        exit_bound = (a.drain_grace_ms + a.drain_ms) / 1000 + 5
        gone = wait_until(lambda: old.poll() is not None, exit_bound)
        step["exit_s"] = round(time.monotonic() - t0, 3)
        step["exit_status"] = old.returncode if gone else None
        cl.state.drop_pid(h.pid)
        if not gone:
            res.check(f"{h.name} exits after SIGTERM within {exit_bound:.1f} s", False)
            break
        stot0 = int(cl.admin.stat()[h.name]["stot"])
        cl.start_server(h)
        t1 = time.monotonic()
        bound = t.downinter + t.rise * t.inter + t.agent_inter + SLACK_S
        back = wait_until(lambda: cl.in_rotation(h.name), bound + 5, step=0.02)
        step["back_in_rotation_s"] = round(time.monotonic() - t1, 3) if back else None
        got = wait_until(lambda: int(cl.admin.stat()[h.name]["stot"]) > stot0, 5, step=0.05)
        step["took_connections_again"] = bool(got)
        steps.append(step)
        res.check(f"{h.name}: agent drain seen by HAProxy, exit 0, back in rotation",
                  step["drain_seen_s"] is not None and step["exit_status"] == 0 and back
                  and got, json.dumps(step))
    r = load.join()
    res.data["steps"] = steps
    res.data["load"] = brief(r)
    res.check("0 failed requests across the rolling restart", r["failed"] == 0,
              f"{r['ok']} ok of {r['requests']}, failures {r['failures']}")
    final = {h.name: cl.in_rotation(h.name) for h in cl.hosts}
    res.data["final_in_rotation"] = final
    res.check("every host back in rotation at the end", all(final.values()), json.dumps(final))
    return f"{r['ok']}/{r['requests']} ok, failed {r['failed']}, steps {len(steps)}"


def scenario_crash(cl, res):
    a, t = cl.a, cl.t
    host, port = cl.front()
    victim = cl.hosts[1]
    seconds = 14
    load = Load(cl, host, port, a.rate, seconds, "crash").start()
    time.sleep(3)
    # In flight on the victim at the kill: what the server had open (its metrics) or, if
    # larger, what HAProxy had connected to it (scur also counts connections the kernel
    # had completed that the server had not accepted yet), plus what HAProxy handed it
    # between those reads and the kill: its stot delta over the window, read just after
    # the kill, or the rate times the window if that is larger.
    st0 = cl.admin.stat()[victim.name]
    m = metrics(victim.addr) if cl.caps.metrics else None
    t_read = time.monotonic()
    os.kill(victim.pid, signal.SIGKILL)
    t_kill = time.monotonic()
    st1 = cl.admin.stat()[victim.name]
    old = cl.popens.get(victim.pid)
    wait_until(lambda: old.poll() is not None, 5)
    cl.state.drop_pid(victim.pid)
    open_now = int(m["wakeful_open_connections"]) if m else None
    scur = int(st0.get("scur") or 0)
    handed = int(st1["stot"]) - int(st0["stot"])
    down_s = wait_state(cl, victim.name, lambda r: r.get("status", "").startswith("DOWN"), 10)
    time.sleep(1.0)
    cl.start_server(victim)
    t_start = time.monotonic()
    rejoin_bound = t.rise * t.inter + t.agent_inter
    back = wait_until(lambda: cl.in_rotation(victim.name), rejoin_bound + 5, step=0.02)
    rejoin_s = time.monotonic() - t_start if back else None
    r = load.join()
    rate = rate_of(r, seconds, a.rate)
    in_flight = max(open_now or 0, scur)
    window = max(handed, math.ceil(rate * (t_kill - t_read)))
    bound = in_flight + window
    res.data.update({
        "victim": victim.name, "load": brief(r),
        "open_connections_before_kill": open_now, "haproxy_scur_before_kill": scur,
        "haproxy_handed_read_to_kill": handed,
        "read_to_kill_ms": round((t_kill - t_read) * 1000, 3), "rate": rate,
        "failure_bound": bound, "marked_down_s": down_s and round(down_s, 3),
        "rejoin_s": rejoin_s and round(rejoin_s, 3),
        "rejoin_bound_s": rejoin_bound})
    res.check("failures at most what was in flight on the killed host",
              r["failed"] <= bound,
              f"failed {r['failed']} {r['failures']}, bound {bound} = in flight "
              f"max(wakeful_open_connections {open_now}, haproxy scur {scur}) + handed in "
              f"the window max(stot delta {handed}, rate {rate:.0f}/s x "
              f"{1000 * (t_kill - t_read):.2f} ms)")
    res.check("no request refused (new ones redispatched to the others)",
              r["failures"].get("refused", 0) == 0, f"refused {r['failures'].get('refused')}")
    res.check("killed host marked DOWN", down_s is not None, f"after {down_s} s")
    res.check(f"rejoins within rise x inter + agent-inter = {rejoin_bound:.1f} s "
              f"(+{SLACK_S} s slack)", rejoin_s is not None and rejoin_s <= rejoin_bound + SLACK_S,
              f"{rejoin_s} s")
    return (f"{r['ok']}/{r['requests']} ok, failed {r['failed']} (bound {bound}), "
            f"rejoined in {rejoin_s and round(rejoin_s, 2)} s")


def scenario_hung(cl, res):
    a, t = cl.a, cl.t
    host, port = cl.front()
    victim = cl.hosts[1]
    timeout_server = (a.read_timeout_ms + a.sleep_ms + 1000) / 1000
    detect_bound = t.inter + t.timeout_check + (t.fall - 1) * (t.fastinter + t.timeout_check)
    seconds = int(3 + detect_bound + timeout_server + 6)
    load = Load(cl, host, port, a.rate, seconds, "hung").start()
    time.sleep(3)
    c0 = cl.counts()
    os.kill(victim.pid, signal.SIGSTOP)
    t_stop = time.monotonic()
    down = wait_until(lambda: cl.server_state(victim.name).startswith("DOWN"),
                      detect_bound + 5, step=0.02)
    down_s = time.monotonic() - t_stop if down else None
    c1 = cl.counts()
    # Keep it stopped until what HAProxy sent it has run into `timeout server`.
    time.sleep(timeout_server + 0.5)
    os.kill(victim.pid, signal.SIGCONT)
    t_cont = time.monotonic()
    back = wait_until(lambda: cl.in_rotation(victim.name),
                      t.downinter + t.rise * t.inter + t.agent_inter + 5, step=0.02)
    back_s = time.monotonic() - t_cont if back else None
    r = load.join()
    # What was on it when it stopped (scur) plus what HAProxy handed it until DOWN.
    stuck = c0[victim.name]["scur"] + c1[victim.name]["stot"] - c0[victim.name]["stot"]
    res.data.update({"victim": victim.name, "load": brief(r), "marked_down_s": down_s,
                     "detect_bound_s": detect_bound, "sent_to_hung_host": stuck,
                     "back_after_sigcont_s": back_s, "timeout_server_s": timeout_server})
    res.check(f"marked DOWN within inter + fall x timeout check + (fall-1) x fastinter = "
              f"{detect_bound:.1f} s (+{SLACK_S} s slack)",
              down_s is not None and down_s <= detect_bound + SLACK_S, f"{down_s} s")
    res.check("the requests stuck on it fail (counted), and only those",
              1 <= r["failed"] <= stuck,
              f"failed {r['failed']} {r['failures']}, HAProxy sent it {stuck} while stopped")
    res.check("stuck requests fail by timeout or reset, nothing refused",
              r["failures"].get("refused", 0) == 0 and r["failures"].get("wrong_reply", 0) == 0,
              json.dumps(r["failures"]))
    res.check("SIGCONT brings it back into rotation", back_s is not None, f"{back_s} s")
    return (f"{r['ok']}/{r['requests']} ok, failed {r['failed']} (sent to the hung host "
            f"{stuck}), down after {down_s and round(down_s, 2)} s")


def scenario_scaleout(cl, res):
    a, t = cl.a, cl.t
    host, port = cl.front()
    n = len(cl.hosts)
    seconds = 12
    load = Load(cl, host, port, a.rate, seconds, "scaleout").start()
    time.sleep(3)
    h = cl.add_host(n + 1)
    before = int(cl.admin.stat()[h.name]["stot"])
    answer = cl.admin.cmd(f"set server {BACKEND}/{h.name} state ready").strip()
    t_ready = time.monotonic()
    first = wait_until(lambda: int(cl.admin.stat()[h.name]["stot"]) > before,
                       t.inter + 5, step=0.01)
    first_s = time.monotonic() - t_ready if first else None
    r = load.join()
    c = cl.counts()
    res.data.update({"new_host": h.name, "admin_answer": answer, "load": brief(r),
                     "first_connection_s": first_s, "per_host_stot": {
                         k: v["stot"] for k, v in c.items()}})
    res.check(f"{h.name} takes connections within one check interval ({t.inter:.1f} s, "
              f"+{SLACK_S} s slack)", first_s is not None and first_s <= t.inter + SLACK_S,
              f"{first_s} s")
    res.check("0 failures while scaling out", r["failed"] == 0,
              f"{r['ok']} ok of {r['requests']}, failures {r['failures']}")
    return f"{r['ok']}/{r['requests']} ok, {h.name} first connection after {first_s} s"


# What a scenario cannot run without, checked in `--help` before any cluster is made.
NEEDS = {
    "rolling": [("agent", "wakeful-server --agent-port (HAProxy must read `drain` before the "
                 "listener closes)"),
                ("grace", "wakeful-server --drain-grace-ms (keep accepting while the agent "
                 "says drain)")],
    "hung": [("metrics", "wakeful-server --metrics (a health check the process itself must "
              "answer: a SIGSTOPped host's kernel still completes a plain connect check)")],
}

SCENARIOS = {"steady": scenario_steady, "rolling": scenario_rolling, "crash": scenario_crash,
             "hung": scenario_hung, "scaleout": scenario_scaleout}


# ---- main ----------------------------------------------------------------------------------

def preflight(args):
    if os.geteuid() != 0:
        raise Skip("the cluster scenarios need root (network namespaces, a bridge); "
                   "run as root, e.g. sudo scripts/cluster.sh")
    for prog in ("ip", "haproxy"):
        if not shutil.which(prog):
            raise Skip(f"`{prog}` is not installed (scripts/cluster.sh installs "
                       f"{'iproute2' if prog == 'ip' else 'haproxy'})")
    for exe in (args.server, args.client):
        if not os.access(exe, os.X_OK):
            raise Skip(f"{exe} is not built")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["up", "down", "status", "all"] + list(SCENARIOS))
    ap.add_argument("--server", default=os.path.join(REPO, "build", "server", "wakeful-server"))
    ap.add_argument("--client", default=os.path.join(REPO, "build", "client", "wakeful-client"))
    ap.add_argument("--state", help="state folder (default: a new one per scenario run; "
                    "/tmp/wakeful-cluster for up/down/status)")
    ap.add_argument("--hosts", type=int, default=3)
    ap.add_argument("--loopback", action="store_true", help="hosts on 127.0.0.2.. instead "
                    "of network namespaces")
    ap.add_argument("--rate", type=int, default=400, help="requests/s under -R (default 400)")
    ap.add_argument("--duration", type=int, default=10, help="steady load, seconds")
    ap.add_argument("--direct-s", type=int, default=5)
    ap.add_argument("--capacity-n", type=int, default=6000)
    ap.add_argument("--capacity-c", type=int, default=32)
    ap.add_argument("--concurrency", type=int, default=8, help="closed loop (no -R): -c")
    ap.add_argument("--batch", type=int, default=200, help="closed loop (no -R): -n per run")
    ap.add_argument("--max-in-flight", type=int, default=2000, help="-c under -R")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sleep-ms", type=int, default=None,
                    help="hosts' --sleep-ms (default 0 for steady, 20 otherwise)")
    ap.add_argument("--read-timeout-ms", type=int, default=2000)
    ap.add_argument("--drain-ms", type=int, default=3000)
    ap.add_argument("--drain-grace-ms", type=int, default=2500,
                    help="must exceed 2 x agent-inter (1 s in the template)")
    ap.add_argument("--client-timeout-ms", type=int, default=10000)
    ap.add_argument("--check", action="store_true",
                    help="exit 77 when the environment cannot run it (meson's skip)")
    args = ap.parse_args()

    def on_signal(signum, _frame):
        # The first signal ends the scenario (its `finally` removes the cluster); later
        # ones (cluster.sh's trap forwards a Ctrl-C the terminal already sent) must not
        # interrupt that cleanup.
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, lambda n, f: log(f"cluster: {signal.Signals(n).name} during "
                                              "cleanup: ignored, cleaning up"))
        raise Interrupted(signal.Signals(signum).name)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    if args.command in ("down", "status"):
        folder = args.state or "/tmp/wakeful-cluster"
        if not os.path.exists(os.path.join(folder, "state.json")):
            print(f"cluster {args.command}: nothing recorded in {folder}")
            return 0
        st = State(folder)
        if args.command == "status":
            print(json.dumps(st.d, indent=1))
            return 0
        teardown(st)
        left = {k: st.d[k] for k in ("netns", "links", "pids")}
        if not any(left.values()):
            os.remove(st.path)  # the logs and the config stay for reading
        print(f"cluster down: stopped and removed what {folder}/state.json recorded")
        print(json.dumps({"down": folder, "left": left}))
        return 0 if not any(left.values()) else 1

    try:
        preflight(args)
    except Skip as e:
        print(f"SKIP: {e}")
        return SKIP if args.check else 1

    caps = Caps(args.server, args.client)
    names = list(SCENARIOS) if args.command == "all" else [args.command]
    if args.command == "up":
        folder = args.state or "/tmp/wakeful-cluster"
        if os.path.exists(os.path.join(folder, "state.json")):
            print(f"cluster up: {folder} already holds a cluster; run `down` first")
            return 1
        os.makedirs(folder, exist_ok=True)
        if args.sleep_ms is None:
            args.sleep_ms = 20
        st = State(folder)
        cl = Cluster(args, st, caps)
        try:
            cl.up(args.hosts)
        except BaseException:
            teardown(st, cl.popens)
            raise
        print(f"cluster up: {args.hosts} hosts, haproxy {cl.front()[0]}:{cl.front()[1]}, "
              f"state {folder}")
        print(json.dumps({"up": folder, "front": cl.front(), "status": cl.status(),
                          "caps": caps.as_dict()}))
        return 0

    rc = 0
    for name in names:
        a = argparse.Namespace(**vars(args))
        if a.sleep_ms is None:
            a.sleep_ms = 0 if name == "steady" else 20
        folder = args.state or tempfile.mkdtemp(prefix=f"wakeful-cluster-{name}-")
        os.makedirs(folder, exist_ok=True)
        st = State(folder)
        cl = Cluster(a, st, caps)
        res = Result(name)
        res.data["caps"] = caps.as_dict()
        t0 = time.monotonic()
        summary = ""
        missing = [why for cap, why in NEEDS.get(name, []) if not getattr(caps, cap)]
        skipped = ("needs " + "; ".join(missing) + ", missing from its --help") if missing \
            else None
        try:
            if skipped:
                raise Skip(skipped)
            cl.up(a.hosts)
            res.data["mode"] = st.d["mode"]
            res.data["hosts"] = {h.name: h.addr for h in cl.hosts}
            res.data["settings"] = {"rate": a.rate, "sleep_ms": a.sleep_ms,
                                    "read_timeout_ms": a.read_timeout_ms,
                                    "drain_grace_ms": a.drain_grace_ms,
                                    "load": "-R/-d" if caps.rate else
                                    f"closed loop -n {a.batch} -c {a.concurrency} (no -R/-d)",
                                    "haproxy_timing": vars(cl.t)}
            summary = SCENARIOS[name](cl, res)
            res.data["final_status"] = cl.status()
        except Skip as e:
            skipped = str(e)
        except Interrupted as e:
            res.check("not interrupted", False, str(e))
            rc = 130
        except Exception as e:
            res.check("ran to the end", False, f"{type(e).__name__}: {e}")
        finally:
            teardown(st, cl.popens)
        res.data["seconds"] = round(time.monotonic() - t0, 2)
        if skipped:
            print(f"cluster {name}: SKIP: {skipped}")
            print(json.dumps({**res.data, "skipped": skipped}))
            if not args.state:
                shutil.rmtree(folder, ignore_errors=True)
            if len(names) == 1:
                return SKIP if args.check else 1
            continue
        if not res.passed:
            for f in ("haproxy.log", "h1.log", "h2.log"):
                log(f"  {f}: {tail(os.path.join(folder, f))}")
        res.data["pass"] = res.passed
        res.data["checks"] = res.checks
        verdict = "INTERRUPTED" if rc == 130 else "PASS" if res.passed else "FAIL"
        print(f"cluster {name}: {verdict} ({res.data['seconds']} s) "
              f"{summary}")
        print(json.dumps(res.data))
        sys.stdout.flush()
        if not res.passed and rc == 0:
            rc = 1
        if rc == 130:
            break
        if not args.state:
            shutil.rmtree(folder, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
