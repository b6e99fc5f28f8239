#!/usr/bin/env python3
"""Smoke test of scripts/plot.py, headless (Agg).

    test_plot.py PLOT_PY HGRM_SAMPLE BENCH_CSV

HGRM_SAMPLE (tests/client/hgrm_sample.c) writes .hgrm files through client/histogram.c;
the test draws them and BENCH_CSV, checks each PNG (a real PNG, of a readable size, with
the series' colours in it) and checks the figures plot.py says it drew against the inputs,
read here independently.  Exits 77 (meson's "skipped") when no python3 can import
matplotlib: it never installs anything.  Standard library only.
"""
import csv
import os
import statistics
import struct
import subprocess
import sys
import tempfile

SKIP = 77
SYSTEM_PYTHON = "/usr/bin/python3"
# matplotlib's first two default colours: the first and second series of a chart.
C0, C1 = (0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E)


def die(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def python_with_matplotlib():
    for py in (sys.executable, SYSTEM_PYTHON):
        if py and os.access(py, os.X_OK) and subprocess.run(
                [py, "-c", "import matplotlib"], stderr=subprocess.DEVNULL).returncode == 0:
            return py
    return None


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        die("%s is not a PNG" % path)
    return struct.unpack(">II", head[16:24])


def has_colours(py, path, colours):
    """True when every colour (r, g, b) covers at least 200 pixels of the image."""
    code = ("import sys, matplotlib.image as m\n"
            "a = (m.imread(sys.argv[1])[:, :, :3] * 255).round().astype(int)\n"
            "for c in sys.argv[2:]:\n"
            "    r, g, b = (int(x) for x in c.split(','))\n"
            "    print(int(((a[:, :, 0] == r) & (a[:, :, 1] == g) & (a[:, :, 2] == b)).sum()))\n")
    out = subprocess.run([py, "-c", code, path] + ["%d,%d,%d" % c for c in colours],
                         capture_output=True, text=True, check=True).stdout.split()
    return all(int(n) >= 200 for n in out), out


def check_png(py, path, colours):
    w, h = png_size(path)
    if w < 800 or h < 500:
        die("%s is only %dx%d" % (path, w, h))
    ok, counts = has_colours(py, path, colours)
    if not ok:
        die("%s lacks a series colour (pixels per colour: %s)" % (path, counts))


def run(py, plot, *args):
    env = dict(os.environ, MPLBACKEND="Agg", WAKEFUL_PLOT_NO_INSTALL="1")
    return subprocess.run([py, plot] + list(args), capture_output=True, text=True, env=env,
                          timeout=90)


def hgrm_value_at(path, pct):
    """The first row's value at or above percentile pct (0..1), read independently."""
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and not line.startswith("#") and parts[0] != "Value":
                if float(parts[1]) >= pct:
                    return float(parts[0])
    die("%s has no row at %g" % (path, pct))


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        sys.exit(2)
    plot, sample, bench_csv = sys.argv[1:]
    py = python_with_matplotlib()
    if py is None:
        print("SKIP: matplotlib is not importable by %s nor %s; install python3-matplotlib "
              "(apt-get install python3-matplotlib) to run this test" % (sys.executable, SYSTEM_PYTHON))
        sys.exit(SKIP)

    with tempfile.TemporaryDirectory(prefix="wk-plot-") as tmp:
        files = {}
        for name, args in (("fast", ("200", "5", "1")), ("slow", ("900", "20", "2"))):
            path = os.path.join(tmp, name + ".hgrm")
            with open(path, "w") as f:
                subprocess.run([sample] + list(args), stdout=f, check=True, timeout=30)
            files[name] = path

        # Latency curves, linear and log.
        for extra in ([], ["--log-y"]):
            out = os.path.join(tmp, "latency.png")
            r = run(py, plot, "latency", out, *extra, *("%s=%s" % kv for kv in files.items()))
            if r.returncode != 0:
                die("latency %s: exit %d: %s" % (extra, r.returncode, r.stderr))
            check_png(py, out, [C0, C1])
            lines = r.stdout.splitlines()
            for name, path in files.items():
                line = next((l for l in lines if l.startswith(name + ":")), None)
                if line is None:
                    die("no line for %s in %r" % (name, r.stdout))
                if "count 100000," not in line:
                    die("wrong count: " + line)
                want = "p99 %.3f," % hgrm_value_at(path, 0.99)
                if want not in line:
                    die("%s: want %s in %r" % (name, want, line))
            os.remove(out)

        # Bench bars: the default loader (tokio-load loaded the most servers), then the other.
        with open(bench_csv, newline="") as f:
            rows = [r for r in csv.DictReader(f) if not r["error"]]
        for loader_args, loader in (([], "tokio-load"), (["--loader", "wakeful-client"], "wakeful-client")):
            out = os.path.join(tmp, "bench.png")
            r = run(py, plot, "bench", out, bench_csv, *loader_args)
            if r.returncode != 0:
                die("bench %s: exit %d: %s" % (loader_args, r.returncode, r.stderr))
            check_png(py, out, [C0, C1])
            mine = [x for x in rows if x["loader"] == loader and x["workload"] in ("W1", "W2", "W3")]
            want_lines = set()
            for key in {(x["server"], x["workload"]) for x in mine}:
                rps = [float(x["rps"]) for x in mine if (x["server"], x["workload"]) == key]
                cpu = [float(x["srv_cpu_s"]) * 1e6 / (float(x["rps"]) * float(x["wall_s"]))
                       for x in mine if (x["server"], x["workload"]) == key]
                want_lines.add("%s %s rps median %.0f over %d rounds"
                               % (key[1], key[0], statistics.median(rps), len(rps)))
                want_lines.add("%s %s cpu_us median %.1f over %d rounds"
                               % (key[1], key[0], statistics.median(cpu), len(cpu)))
            got = {l.split(" (")[0] for l in r.stdout.splitlines()}
            if got != want_lines:
                die("bench %s: drew %s, want %s" % (loader, sorted(got), sorted(want_lines)))
            if "W4" in r.stdout:
                die("bench drew W4: " + r.stdout)

        # Bad input: usage errors exit 2, unreadable files 1, and neither writes a PNG.
        out = os.path.join(tmp, "never.png")
        for args, code in ((["latency", out, "no-equals-sign"], 2),
                           (["latency", out, "a=" + os.path.join(tmp, "missing.hgrm")], 1),
                           (["latency", out, "a=" + bench_csv], 1),
                           (["bench", out, files["fast"]], 1),
                           (["frobnicate", out], 2)):
            r = run(py, plot, *args)
            if r.returncode != code or os.path.exists(out):
                die("%s: exit %d (want %d), stderr %r" % (args, r.returncode, code, r.stderr))
    print("ok: latency and bench charts drawn and checked with %s" % py)


if __name__ == "__main__":
    main()
