#!/usr/bin/env python3
"""scripts/plot.py: wakeful's charts, written as PNG files (no display needed).

  scripts/plot.py latency OUT.png NAME=FILE.hgrm [NAME=FILE.hgrm ...] [--unit ms] [--log-y]
                  [--title T]
      HdrHistogram-style percentile curves, one per NAME, on one chart: x is the percentile
      on a log scale of 1/(1-p) (ticks 0%, 90%, 99%, 99.9%, ...), y the latency.  FILE is
      HdrHistogram's percentile-distribution text (.hgrm), e.g. hist_write_hgrm's output
      (client/histogram.h) or Java's outputPercentileDistribution; its values are taken to
      be in --unit (default ms, what hist_write_hgrm writes with unit_scale 1e6).
  scripts/plot.py bench OUT.png bench/results/bench-XXXX.csv [--loader NAME] [--title T]
      For W1, W2 and W3 side by side, each server's (wakeful, tokio, libuv, floor, when
      present) throughput in requests/s and server CPU per request in microseconds, as
      bars: the median over the rounds, with a whisker from the lowest to the highest round.
      Only one loader's rows are drawn (different loaders are different experiments): by
      default the one that loaded the most servers, else --loader.

Each command also prints what it drew, one line per curve or bar, on stdout.

matplotlib comes from Debian's python3-matplotlib, which serves /usr/bin/python3: under
another python3 without matplotlib the script runs itself again under /usr/bin/python3, and
when that lacks it too and we are root it installs python3-matplotlib with apt-get
(WAKEFUL_PLOT_NO_INSTALL=1 forbids that).  Exit status: 0 done, 1 an input could not be
read or had nothing to draw, 2 bad usage (argparse's).
"""
import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys

SYSTEM_PYTHON = "/usr/bin/python3"
REEXEC_MARK = "WAKEFUL_PLOT_REEXEC"


def fail(msg):
    print("plot.py: " + msg, file=sys.stderr)
    sys.exit(1)


def apt_install_matplotlib():
    """Installs python3-matplotlib with apt-get; True when apt-get succeeded."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print("plot.py: matplotlib is missing; installing python3-matplotlib with apt-get",
          file=sys.stderr)
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "python3-matplotlib"]
    # apt-get's own output goes to stderr: stdout is this script's report.
    if subprocess.run(cmd, env=env, stdout=sys.stderr).returncode == 0:
        return True
    # A fresh machine may have no package lists yet.
    subprocess.run(["apt-get", "update"], env=env, stdout=sys.stderr)
    return subprocess.run(cmd, env=env, stdout=sys.stderr).returncode == 0


def load_matplotlib():
    """Returns pyplot with the file-only Agg backend, getting matplotlib as the docstring
    says, or exits with a message saying how to get it."""
    try:
        import matplotlib
    except ImportError:
        matplotlib = None
    if matplotlib is None:
        here = os.path.realpath(sys.executable or "")
        system = os.path.realpath(SYSTEM_PYTHON)
        if here != system and os.access(SYSTEM_PYTHON, os.X_OK) and not os.environ.get(REEXEC_MARK):
            # Debian's package serves Debian's interpreter only (pyenv, venvs miss it).
            os.environ[REEXEC_MARK] = "1"
            os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
        can_install = (os.geteuid() == 0 and shutil.which("apt-get")
                       and here == system and not os.environ.get("WAKEFUL_PLOT_NO_INSTALL"))
        if can_install and apt_install_matplotlib():
            try:
                import matplotlib
            except ImportError:
                matplotlib = None
        if matplotlib is None:
            fail("matplotlib is not importable by %s%s; install it: apt-get install "
                 "python3-matplotlib (Debian's, for %s) or pip install matplotlib"
                 % (sys.executable, "" if here == system else " nor " + SYSTEM_PYTHON,
                    SYSTEM_PYTHON))
    # Files only: no display, whatever MPLBACKEND says.
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


# ---- latency: .hgrm percentile curves ----

def read_hgrm(path):
    """Rows (value, percentile 0..1, total count) of an .hgrm file, in file order, and the
    footer's Max (None when absent).  Raises ValueError on a file with no rows."""
    rows, fmax = [], None
    with open(path) as f:
        for line in f:
            s = line.strip()
            if s.startswith("#[Max"):
                try:
                    fmax = float(s.split("=")[1].split(",")[0])
                except (IndexError, ValueError):
                    pass
                continue
            parts = s.split()
            if len(parts) < 3 or s.startswith("#"):
                continue
            try:
                rows.append((float(parts[0]), float(parts[1]), int(parts[2])))
            except ValueError:
                continue  # the header
    if not rows:
        raise ValueError("no percentile rows")
    return rows, fmax


PERCENTILE_TICKS = [(1, "0%"), (10, "90%"), (100, "99%"), (1e3, "99.9%"), (1e4, "99.99%"),
                    (1e5, "99.999%"), (1e6, "99.9999%"), (1e7, "99.99999%")]


def short(v):
    """A value for a legend: 3 significant digits, but no exponent below an hour in ms."""
    return "%.0f" % v if v >= 1000 else "%.3g" % v


def value_at(rows, pct):
    """The first row's value at or above percentile pct (0..1): what the file says pct is."""
    for v, p, _ in rows:
        if p >= pct:
            return v
    return rows[-1][0]


def read_series(args):
    """[(name, rows, footer max)] from the NAME=FILE arguments; exits on a bad one."""
    series = []
    for spec in args.series:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            # argparse's convention: usage errors exit 2.
            print("plot.py: %r is not NAME=FILE.hgrm" % spec, file=sys.stderr)
            sys.exit(2)
        try:
            rows, fmax = read_hgrm(path)
        except (OSError, ValueError) as e:
            fail("%s: %s" % (path, e))
        series.append((name, rows, fmax))
    return series


def cmd_latency(args, series, plt):
    fig, ax = plt.subplots(figsize=(10, 6), dpi=100)
    right = 10.0
    for name, rows, fmax in series:
        # 1/(1-p) is infinite at p = 1: the 100 % row is the max, said in the legend.
        pts = [(1.0 / (1.0 - p), v) for v, p, _ in rows if p < 1.0]
        if args.log_y:
            pts = [(x, v) for x, v in pts if v > 0]  # 0 has no place on a log scale
        top = fmax if fmax is not None else rows[-1][0]
        label = "%s (p50 %s, p99 %s, max %s %s)" % (
            name, short(value_at(rows, 0.5)), short(value_at(rows, 0.99)), short(top), args.unit)
        if pts:
            # Straight segments between the rows, as HdrHistogram's own plotter draws them.
            ax.plot([x for x, _ in pts], [y for _, y in pts], label=label, linewidth=1.6)
            right = max(right, pts[-1][0])
        print("%s: %d rows, count %d, p50 %.3f, p99 %.3f, p99.9 %.3f, max %.3f %s"
              % (name, len(rows), rows[-1][2], value_at(rows, 0.5), value_at(rows, 0.99),
                 value_at(rows, 0.999), top, args.unit))
    ax.set_xscale("log")
    right *= 1.5  # a little room after the last row
    ticks = [t for t in PERCENTILE_TICKS if t[0] <= right]
    ax.set_xticks([t for t, _ in ticks])
    ax.set_xticklabels([label for _, label in ticks])
    ax.minorticks_off()
    ax.set_xlim(1, right)
    if args.log_y:
        # A tail of seconds over a median of microseconds: only a log scale shows both.
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    ax.set_xlabel("percentile")
    ax.set_ylabel("latency (%s)" % args.unit)
    ax.set_title(args.title or "Latency by percentile")
    ax.grid(True, which="major", alpha=0.35)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(args.out)


# ---- bench: grouped bars from bench/results/*.csv ----

WORKLOADS = ["W1", "W2", "W3"]
SERVER_ORDER = ["wakeful", "tokio", "libuv", "floor"]
COLORS = {"wakeful": "#1f77b4", "tokio": "#ff7f0e", "libuv": "#2ca02c", "floor": "#7f7f7f"}


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def read_bench(path, loader):
    """{(server, workload): {"rps": [...], "cpu_us": [...]}} over the chosen loader's rows
    without an error, and the loader.  CPU per request is srv_cpu_s over the requests the
    row made, rps * wall_s (the CSV has no request count of its own)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    need = {"loader", "server", "workload", "wall_s", "rps", "srv_cpu_s"}
    if not rows or not need <= set(rows[0]):
        raise ValueError("not a bench CSV (needs columns %s)" % ", ".join(sorted(need)))
    rows = [r for r in rows if not r.get("error") and r["workload"] in WORKLOADS]
    if loader is None:
        servers_by_loader = {}
        for r in rows:
            servers_by_loader.setdefault(r["loader"], set()).add(r["server"])
        if not servers_by_loader:
            raise ValueError("no rows for %s without an error" % "/".join(WORKLOADS))
        # Python's max keeps the first of equals: file order breaks ties.
        loader = max(servers_by_loader, key=lambda k: len(servers_by_loader[k]))
    data = {}
    for r in rows:
        if r["loader"] != loader:
            continue
        rps, wall, cpu = num(r["rps"]), num(r["wall_s"]), num(r["srv_cpu_s"])
        if rps is None or wall is None or rps <= 0 or wall <= 0:
            continue
        d = data.setdefault((r["server"], r["workload"]), {"rps": [], "cpu_us": []})
        d["rps"].append(rps)
        if cpu is not None:
            d["cpu_us"].append(cpu * 1e6 / (rps * wall))
    if not data:
        raise ValueError("no usable rows for loader %s" % loader)
    return data, loader


def load_bench(args):
    try:
        return read_bench(args.csv, args.loader)
    except (OSError, ValueError, KeyError) as e:
        fail("%s: %s" % (args.csv, e))


def cmd_bench(args, bench, plt):
    data, loader = bench
    present = {s for s, _ in data}
    servers = [s for s in SERVER_ORDER if s in present] + sorted(present - set(SERVER_ORDER))
    workloads = [w for w in WORKLOADS if any((s, w) in data for s in servers)]

    metrics = [("rps", "requests/s", "%.0f"), ("cpu_us", "server CPU µs/request", "%.1f")]
    fig, axes = plt.subplots(len(metrics), len(workloads), squeeze=False,
                             figsize=(max(4.2 * len(workloads), 9), 7.8), dpi=100)
    width = 0.8 / len(servers)
    for col, w in enumerate(workloads):
        for row, (key, label, fmt) in enumerate(metrics):
            ax = axes[row][col]
            for i, s in enumerate(servers):
                vals = data.get((s, w), {}).get(key, [])
                if not vals:
                    continue
                med = statistics.median(vals)
                x = i * width
                ax.bar(x, med, width * 0.9, color=COLORS.get(s, "#9467bd"),
                       label=s if (row, col) == (0, 0) else None,
                       yerr=[[med - min(vals)], [max(vals) - med]], capsize=3,
                       error_kw={"elinewidth": 1, "ecolor": "#333333"})
                ax.annotate(fmt % med, (x, max(vals)), xytext=(0, 3), textcoords="offset points",
                            ha="center", va="bottom", fontsize=8)
                print("%s %s %s median %s over %d rounds (min %s, max %s)"
                      % (w, s, key, fmt % med, len(vals), fmt % min(vals), fmt % max(vals)))
            ax.set_xticks([i * width for i in range(len(servers))])
            ax.set_xticklabels(servers, fontsize=9)
            ax.set_ylim(0, ax.get_ylim()[1] * 1.12)  # room for the labels
            ax.grid(True, axis="y", alpha=0.35)
            if row == 0:
                ax.set_title(w)
            if col == 0:
                ax.set_ylabel(label)
    # Below the charts: above them it would collide with a long title on a narrow figure.
    fig.legend(loc="lower center", ncol=len(servers), fontsize=9)
    fig.suptitle(args.title or "%s (loader %s; median of rounds, whiskers min-max)"
                 % (os.path.basename(args.csv), loader), x=0.02, ha="left", fontsize=11)
    fig.tight_layout(rect=(0, 0.04, 1, 0.95))
    fig.savefig(args.out)


def main():
    ap = argparse.ArgumentParser(prog="plot.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    lat = sub.add_parser("latency", help="percentile curves from .hgrm files")
    lat.add_argument("out", metavar="OUT.png")
    lat.add_argument("series", nargs="+", metavar="NAME=FILE.hgrm")
    lat.add_argument("--unit", default="ms", help="the unit of the files' values (default ms)")
    lat.add_argument("--log-y", action="store_true", help="latency on a log scale (long tails)")
    lat.add_argument("--title")
    ben = sub.add_parser("bench", help="throughput and CPU/request bars from a bench CSV")
    ben.add_argument("out", metavar="OUT.png")
    ben.add_argument("csv", metavar="CSV")
    ben.add_argument("--loader", help="the loader whose rows to draw (default: the one that "
                     "loaded the most servers)")
    ben.add_argument("--title")
    args = ap.parse_args()
    # Inputs first: a bad argument or file needs no matplotlib (and installs none).
    if args.cmd == "latency":
        series = read_series(args)
        cmd_latency(args, series, load_matplotlib())
    else:
        bench = load_bench(args)
        cmd_bench(args, bench, load_matplotlib())


if __name__ == "__main__":
    main()
