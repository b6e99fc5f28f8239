#!/usr/bin/env python3
"""bench/summarize.py CSV: the table of scripts/bench.sh from its raw rows.

Medians (min-max) per pass, server and workload; the ratio wakeful/peer of the medians;
then every target of issue 6, met or missed and by how much.  Rows with an error (the
server did not start, the loader printed nothing) are left out and counted.
"""
import csv
import statistics
import sys
from collections import defaultdict

REQUESTS = {"W1": 4000, "W2": 50000, "W3": 15000}
NAMES = {"W1": "W1 book", "W2": "W2 throughput", "W3": "W3 scale", "W4": "W4 idle"}
# (key, label, decimals); derived keys are computed in derive()
FIGURES = [
    ("wall_s", "wall s", 2),
    ("srv_cpu_s", "server CPU s", 2),
    ("srv_us_req", "server CPU µs/request", 1),
    ("p99_ms", "p99 ms", 1),
    ("rps", "requests/s", 0),
    ("srv_rss_mb", "server peak RSS MB", 1),
    ("failed", "failures", 0),
    ("load_us_req", "loader CPU µs/request", 1),
    ("other_cpu_s", "other_cpu_s (foreign)", 2),
]
W4_FIGURES = {"srv_cpu_s", "srv_rss_mb", "other_cpu_s"}


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def derive(r):
    d = {k: num(r.get(k)) for k in
         ("wall_s", "rps", "p99_ms", "failed", "srv_cpu_s", "load_cpu_s", "other_cpu_s")}
    rss = num(r.get("srv_rss_kb"))
    d["srv_rss_mb"] = rss / 1024 if rss is not None else None
    n = REQUESTS.get(r["workload"])
    d["srv_us_req"] = d["srv_cpu_s"] * 1e6 / n if n and d["srv_cpu_s"] is not None else None
    d["load_us_req"] = d["load_cpu_s"] * 1e6 / n if n and d["load_cpu_s"] is not None else None
    return d


def main(path):
    data = defaultdict(lambda: defaultdict(list))  # (pass, server, wl) -> key -> [values]
    errors = defaultdict(int)
    quiet_no = 0
    with open(path) as f:
        for r in csv.DictReader(f):
            key = (r["pass"], r["server"], r["workload"])
            if r.get("error"):
                errors[key] += 1
                continue
            if r.get("quiet") == "no":
                quiet_no += 1
            for k, v in derive(r).items():
                if v is not None:
                    data[key][k].append(v)

    def med(p, s, w, k):
        v = data.get((p, s, w), {}).get(k)
        return statistics.median(v) if v else None

    def cell(p, s, w, k, dec):
        v = data.get((p, s, w), {}).get(k)
        if not v:
            return "–"
        m, lo, hi = statistics.median(v), min(v), max(v)
        return f"{m:.{dec}f} ({lo:.{dec}f}–{hi:.{dec}f})" if lo != hi else f"{m:.{dec}f}"

    def ratio(a, b):
        if a is None or b is None or b == 0:
            return "–"
        return f"{a / b:.2f}"

    runs = max((len(v.get("srv_cpu_s", [])) for v in data.values()), default=0)
    print(f"Pass 1: loader tokio-load, --workers 3; median (min–max) of {runs} rounds\n")
    peers = [s for s in ("tokio", "libuv", "floor")
             if any(k[0] == "1" and k[1] == s for k in data)]
    head = "| workload | figure | wakeful | " + " | ".join(peers) + " | " + \
        " | ".join(f"wakeful/{p}" for p in peers) + " |"
    print(head)
    print("|" + "---|" * (3 + 2 * len(peers)))
    for w in ("W1", "W2", "W3", "W4"):
        if not any(k[0] == "1" and k[2] == w for k in data):
            continue
        for k, label, dec in FIGURES:
            if w == "W4" and k not in W4_FIGURES:
                continue
            if k == "load_us_req":
                continue  # the loader is the same program for everyone in pass 1
            cells = [cell("1", s, w, k, dec) for s in ["wakeful"] + peers]
            ratios = [ratio(med("1", "wakeful", w, k), med("1", p, w, k)) for p in peers]
            if k == "other_cpu_s":
                ratios = ["" for _ in peers]
            print(f"| {NAMES[w]} | {label} | " + " | ".join(cells + ratios) + " |")

    if any(k[0] == "2" for k in data):
        print("\nPass 2: loader wakeful-client (bench/wakeful-load.sh); median (min–max)\n")
        print("| workload | figure | wakeful-server | tokio-server | wakeful/tokio |")
        print("|---|---|---|---|---|")
        for w in ("W1", "W2", "W3"):
            if not any(k[0] == "2" and k[2] == w for k in data):
                continue
            for k, label, dec in FIGURES:
                print(f"| {NAMES[w]} | {label} | {cell('2', 'wakeful', w, k, dec)} | "
                      f"{cell('2', 'tokio', w, k, dec)} | "
                      f"{'' if k == 'other_cpu_s' else ratio(med('2', 'wakeful', w, k), med('2', 'tokio', w, k))} |")
        print("\nLoaders against tokio-server (pass 1 tokio-load vs pass 2 wakeful-client)\n")
        print("| workload | figure | tokio-load | wakeful-client | wakeful-client/tokio-load |")
        print("|---|---|---|---|---|")
        for w in ("W1", "W2", "W3"):
            for k, label, dec in (("rps", "requests/s", 0), ("load_us_req", "loader CPU µs/request", 1),
                                  ("p99_ms", "p99 ms", 1), ("wall_s", "wall s", 2)):
                a, b = med("1", "tokio", w, k), med("2", "tokio", w, k)
                if a is None and b is None:
                    continue
                print(f"| {NAMES[w]} | {label} | {cell('1', 'tokio', w, k, dec)} | "
                      f"{cell('2', 'tokio', w, k, dec)} | {ratio(b, a)} |")

    # ---- targets (issue 6) ----
    print("\nTargets (medians; 'by' = how far from the bound)\n")

    def target(name, value, bound, cmp):
        if value is None or bound is None:
            print(f"- {name}: not measured")
            return
        ok = value <= bound if cmp == "le" else value >= bound
        if bound:
            off = (value / bound - 1) * 100
            by = f"{off:+.1f}% of the bound"
        else:
            by = f"{value - bound:+.2f}"
        print(f"- {name}: {value:.4g} vs bound {bound:.4g} -> {'MET' if ok else 'MISSED'} ({by})")

    def allmax(p, s, w, k):
        v = data.get((p, s, w), {}).get(k)
        return max(v) if v else None

    t = lambda w, k: med("1", "tokio", w, k)
    wk = lambda w, k: med("1", "wakeful", w, k)
    lu = lambda w, k: med("1", "libuv", w, k)
    mul = lambda x, f: x * f if x is not None else None
    target("W1 wall s <= tokio", wk("W1", "wall_s"), t("W1", "wall_s"), "le")
    target("W1 server CPU s <= 0.75 x tokio", wk("W1", "srv_cpu_s"), mul(t("W1", "srv_cpu_s"), 0.75), "le")
    target("W1 wakeful-client -> wakeful-server wall s <= 1.10", med("2", "wakeful", "W1", "wall_s"), 1.10, "le")
    target("W2 server CPU us/request <= 0.8 x tokio", wk("W2", "srv_us_req"), mul(t("W2", "srv_us_req"), 0.8), "le")
    target("W2 requests/s >= tokio", wk("W2", "rps"), t("W2", "rps"), "ge")
    target("W3 failures = 0 (worst round)", allmax("1", "wakeful", "W3", "failed"), 0, "le")
    target("W3 server peak RSS <= 0.5 x libuv", wk("W3", "srv_rss_mb"), mul(lu("W3", "srv_rss_mb"), 0.5), "le")
    target("W3 server CPU s <= tokio", wk("W3", "srv_cpu_s"), t("W3", "srv_cpu_s"), "le")
    target("W4 server CPU s = 0.00 (worst round)", allmax("1", "wakeful", "W4", "srv_cpu_s"), 0, "le")
    target("W2 wakeful-client -> tokio-server requests/s >= tokio-load's",
           med("2", "tokio", "W2", "rps"), t("W2", "rps"), "ge")
    target("W2 wakeful-client CPU us/request <= tokio-load's",
           med("2", "tokio", "W2", "load_us_req"), t("W2", "load_us_req"), "le")

    others = [v for d in data.values() for v in d.get("other_cpu_s", [])]
    print(f"\nContamination: other_cpu_s median {statistics.median(others):.2f}, max {max(others):.2f}"
          f" over {len(others)} rows; {quiet_no} rows started without a quiet machine"
          if others else "")
    if errors:
        print("Rows with errors (left out): " +
              ", ".join(f"pass {p} {s} {w}: {n}" for (p, s, w), n in sorted(errors.items())))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: summarize.py BENCH.csv")
    main(sys.argv[1])
