#!/usr/bin/env python3
"""bench/summarize_runtime.py RAW [A B]: the table of scripts/bench-runtime.sh.

RAW holds one line per run, `runtime=NAME run=N bench=NAME key=value ...`.
Prints median (min-max) per benchmark and metric for runtimes A and B (default wakeful and
tokio), and A/B.  bench/ab-runtime.sh names two wakeful builds `before` and `after`; a
runtime named tokio runs tokio-micro's benchmarks, any other wakeful-micro's.
"""
import statistics
import sys
from collections import defaultdict

# (label, wakeful bench, tokio bench, metric, decimals, scale, better)
ROWS = [
    ("(a) spawn + await 1,000,000 tasks", "spawn", "spawn", "tasks_per_s", 2, 1e-6, "M tasks/s"),
    ("", "spawn", "spawn", "ns_per_task", 0, 1, "ns/task"),
    ("", "spawn", "spawn", "spawn_phase_s", 3, 1, "spawn phase s"),
    ("", "spawn", "spawn", "await_phase_s", 3, 1, "await phase s"),
    ("", "spawn", "spawn", "minor_faults", 0, 1, "minor page faults"),
    ("(b) ping-pong, 2 tasks, 1 executor", "pingpong", "pingpong-notify", "round_trips_per_s", 2, 1e-6,
     "M round trips/s (tokio: Notify)"),
    ("", "pingpong", "pingpong-notify", "ns_per_round_trip", 1, 1, "ns/round trip (tokio: Notify)"),
    ("", "pingpong", "pingpong-mpsc", "round_trips_per_s", 2, 1e-6, "M round trips/s (tokio: mpsc)"),
    ("(c) thread -> task -> thread, 100,000", "xthread", "xthread", "p50_us", 2, 1, "median µs"),
    ("", "xthread", "xthread", "p90_us", 2, 1, "p90 µs"),
    ("", "xthread", "xthread", "p99_us", 2, 1, "p99 µs"),
    ("", "xthread", "xthread", "min_us", 2, 1, "min µs"),
    ("", "xthread", "xthread", "cpu_s", 2, 1, "process CPU s"),
    ("(d) 100,000 tasks in a 10 s sleep", "sleepers", "sleepers", "bytes_per_task", 0, 1, "bytes/task (RSS)"),
    ("", "sleepers", "sleepers", "future_bytes", 0, 1, "future bytes"),
    ("", "sleepers", "sleepers", "rss_before_kb", 0, 1, "RSS before KB"),
    ("", "sleepers", "sleepers", "rss_sleeping_kb", 0, 1, "RSS sleeping KB"),
    ("", "sleepers", "sleepers", "rss_after_abort_kb", 0, 1, "RSS after cancel KB"),
    ("", "sleepers", "sleepers", "spawn_and_poll_s", 3, 1, "spawn + first poll s"),
    ("", "sleepers", "sleepers", "abort_and_join_s", 3, 1, "cancel + join s"),
]


def main(path, a="wakeful", b="tokio"):
    runs = defaultdict(list)  # (runtime, bench) -> [dict]
    errors = 0
    for line in open(path):
        if line.startswith("#"):
            continue
        if " ERROR " in line:
            errors += 1
            continue
        kv = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if "bench" in kv and "runtime" in kv:
            runs[(kv["runtime"], kv["bench"])].append(kv)

    def vals(rt, wb, tb, key, scale):
        bench = tb if rt == "tokio" else wb
        return [float(r[key]) * scale for r in runs.get((rt, bench), []) if key in r]

    def title(rt):
        return "tokio 1.24" if rt == "tokio" else rt

    def cell(v, dec):
        if not v:
            return "–"
        m, lo, hi = statistics.median(v), min(v), max(v)
        return f"{m:,.{dec}f} ({lo:,.{dec}f}–{hi:,.{dec}f})" if lo != hi else f"{m:,.{dec}f}"

    def paired(wb, key):
        """Median over rounds of a/b within the round: two builds that ran back to back
        shared the machine's load, so on a busy machine this is steadier than the ratio
        of the two medians."""
        rb = {r["run"]: float(r[key]) for r in runs.get((b, wb), []) if key in r}
        q = [float(r[key]) / rb[r["run"]] for r in runs.get((a, wb), [])
             if key in r and rb.get(r["run"])]
        return f"{statistics.median(q):.2f}" if q else "–"

    builds = "tokio" not in (a, b)  # two wakeful builds: add the paired ratio
    n = max((len(v) for (rt, _), v in runs.items() if rt in (a, b)), default=0)
    print(f"median (min–max) of {n} runs each, interleaved\n")
    if builds:
        print(f"| benchmark | figure | {a} | {b} | {a}/{b} | {a}/{b} paired by round |")
        print("|---|---|---|---|---|---|")
    else:
        print(f"| benchmark | figure | {title(a)} | {title(b)} | {a}/{b} |")
        print("|---|---|---|---|---|")
    for label, wb, tb, key, dec, scale, what in ROWS:
        if "tokio" not in (a, b) and tb == "pingpong-mpsc":
            continue  # the same wakeful runs as the Notify row
        w, t = vals(a, wb, tb, key, scale), vals(b, wb, tb, key, scale)
        if not w and not t:
            continue
        r = f"{statistics.median(w) / statistics.median(t):.2f}" if w and t and statistics.median(t) else "–"
        p = f" {paired(wb, key)} |" if builds else ""
        print(f"| {label} | {what} | {cell(w, dec)} | {cell(t, dec)} | {r} |{p}")
    mine = [r for (rt, _), v in runs.items() if rt in (a, b) for r in v]
    oth = [float(r.get("other_cpu_s", 0)) for r in mine]
    quiet_no = sum(1 for r in mine if r.get("quiet") == "no")
    if oth:
        print(f"\nother_cpu_s: median {statistics.median(oth):.2f}, max {max(oth):.2f}; "
              f"{quiet_no} runs started without a quiet machine; {errors} errors")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 4):
        sys.exit("usage: summarize_runtime.py RAW [A B]")
    main(*sys.argv[1:])
