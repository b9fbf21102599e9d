#!/usr/bin/env python3
"""The classic allocator benchmark patterns (bench/c_*.c, see README.md),
run under every allocator, interleaved, with a Markdown report.

  bench/classic.py [--repeats N] [--only name,...] [--allocs xalloc,glibc,...]
                   [--lib NAME=PATH ...] [--xalloc PATH] [--bindir DIR]
                   [--metric wall|cpu] [--markdown FILE] [--json FILE]
                   [--timeout S] [--verbose] [--from-json FILE]

Each repeat runs every benchmark once under every allocator; the allocator
order rotates from one repeat to the next, and each benchmark's runs of a
repeat are done back to back, so slow drifts in machine load hit every
allocator alike.  Time is the median of wall time (or of user + system CPU
time with --metric cpu, the better measure on a loaded machine) and memory
the median of peak RSS (ru_maxrss, through the b_launch helper).

The report gives, per benchmark, each allocator's median time and peak RSS,
the ratio of each to glibc's, the geometric means of those ratios, xalloc's
time and RSS against each peer (geomean), and xalloc's worst time ratio to
the fastest peer of each benchmark.  --lib NAME=PATH adds another library
(e.g. --lib xalloc-base=/work/baseline/libxalloc.so), treated as a peer.
A benchmark that fails (status, signal, timeout) is reported loudly and
the runner exits with status 1.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchcommon as bc  # noqa: E402

# (row name, program, arguments): defaults sized for ~0.5-3 s under glibc
BENCHMARKS = [
    ("cfrac", "c_cfrac", []),
    ("espresso", "c_espresso", []),
    ("alloc-test", "c_alloc_test", []),
    ("larson", "c_larson", []),
    ("sh6bench", "c_shbench", ["0"]),
    ("sh8bench", "c_shbench", ["1"]),
    ("xmalloc-test", "c_xmalloc_test", []),
    ("cache-scratch", "c_cache_scratch", []),
    ("mstress", "c_mstress", []),
    ("glibc-simple", "c_glibc", ["1"]),
    ("glibc-thread", "c_glibc_thread", ["4"]),
    ("malloc-large", "c_malloc_large", []),
    ("churn", "b_churn", ["2000000"]),
    # not one of the twelve: the glibc-simple pattern in 4 threads (the
    # glibc-thread row ran this until 2026-12-07, bench/README.md)
    ("glibc-simple-4t", "c_glibc", ["4"]),
]


def ratio(a, b):
    return a / b if a and b else None


def f2(x):
    return "—" if x is None else "%.2f" % x


def report(a, benches, allocs, data, failures, done):
    names = [n for n, _ in allocs]
    med = {b: {n: (bc.median(data[b][n]["time"]), bc.median(data[b][n]["rss"]))
               for n in names} for b in data}
    peers = [n for n in names if n != "xalloc"]
    has_x = "xalloc" in names

    # table 1: medians and ratios to glibc
    header = ["benchmark"] + ["%s s" % n for n in names] + ["%s MiB" % n for n in names]
    rows = []
    for b, _, _ in benches:
        rows.append([b] + ["%.3f" % med[b][n][0] if med[b][n][0] else "FAIL" for n in names]
                    + ["%.1f" % (med[b][n][1] / 1048576.0) if med[b][n][1] else "FAIL"
                       for n in names])
    t1 = bc.md_table(header, rows)

    header = ["benchmark"] + ["%s time" % n for n in names if n != "glibc"] + \
             ["%s RSS" % n for n in names if n != "glibc"]
    rows = []
    gt = {n: [] for n in names}
    gr = {n: [] for n in names}
    for b, _, _ in benches:
        g = med[b]["glibc"]
        row = [b]
        for n in names:
            gt[n].append(ratio(med[b][n][0], g[0]))
            gr[n].append(ratio(med[b][n][1], g[1]))
        row += [f2(gt[n][-1]) for n in names if n != "glibc"]
        row += [f2(gr[n][-1]) for n in names if n != "glibc"]
        rows.append(row)
    rows.append(["**geomean**"] + ["**%s**" % f2(bc.geomean(gt[n])) for n in names if n != "glibc"]
                + ["**%s**" % f2(bc.geomean(gr[n])) for n in names if n != "glibc"])
    t2 = bc.md_table(header, rows)

    summary = []
    cpu = {n: bc.geomean([ratio(bc.median([c for c in data[b][n]["cpu"] if c]),
                                bc.median([c for c in data[b]["glibc"]["cpu"] if c]))
                          for b, _, _ in benches]) for n in names if n != "glibc"}
    summary.append("- CPU time (user + system) geomean ratio to glibc: " + ", ".join(
        "%s %s" % (n, f2(cpu[n])) for n in cpu))
    if has_x:
        for p in peers:
            tt = [ratio(med[b]["xalloc"][0], med[b][p][0]) for b, _, _ in benches]
            rr = [ratio(med[b]["xalloc"][1], med[b][p][1]) for b, _, _ in benches]
            summary.append("- xalloc / %s: time geomean %s, peak RSS geomean %s"
                           % (p, f2(bc.geomean(tt)), f2(bc.geomean(rr))))
        worst = []
        for b, _, _ in benches:
            pt = [(med[b][p][0], p) for p in peers if med[b][p][0] and not p.startswith("xalloc")]
            if not pt or not med[b]["xalloc"][0]:
                continue
            best, who = min(pt)
            worst.append((med[b]["xalloc"][0] / best, b, who))
        if worst:
            worst.sort(reverse=True)
            summary.append("- xalloc / fastest peer, worst three: " + ", ".join(
                "%s %.2f (vs %s)" % (b, x, who) for x, b, who in worst[:3]))

    extra = ["- Repeats: %d, interleaved (allocator order rotates per repeat); medians of %s "
             "time and of peak RSS (ru_maxrss)" % (
                 done, "CPU (user + system)" if a.metric == "cpu" else "wall")]
    for n, lib in allocs:
        extra.append("- %s: %s" % (n, lib or "(no LD_PRELOAD)"))
    text = "\n".join(
        ["## Classic benchmark patterns", ""] + bc.machine_lines(extra)
        + ["", "Medians:", "", t1, "", "Ratios to glibc (< 1: faster / smaller than glibc):", "",
           t2, ""] + summary)
    if failures:
        text += "\n\nFAILURES:\n" + "\n".join("- " + f.replace("\n", "\n  ") for f in failures)
    if done == a.repeats:
        print(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text + "\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": bc.machine_info(), "repeats": done, "metric": a.metric,
                       "allocators": dict(allocs), "data": data}, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5, help="repeats (default 5)")
    ap.add_argument("--only", default="", help="comma-separated benchmark names")
    ap.add_argument("--allocs", default=",".join(bc.ALL_ALLOCS),
                    help="comma-separated allocators (default: %(default)s)")
    ap.add_argument("--lib", action="append", default=[], metavar="NAME=PATH",
                    help="one more allocator library to preload, as a peer")
    ap.add_argument("--xalloc", default=bc.xalloc_default(), help="path of libxalloc.so")
    ap.add_argument("--bindir", default=None, help="directory with the benchmark binaries")
    ap.add_argument("--metric", choices=("wall", "cpu"), default="wall")
    ap.add_argument("--markdown", metavar="FILE", help="also write the report to FILE")
    ap.add_argument("--json", metavar="FILE", help="write all raw measurements to FILE")
    ap.add_argument("--timeout", type=float, default=180.0, help="per-run limit, s")
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument("--from-json", metavar="FILE",
                    help="do not run: report the runs saved by --json (with --metric)")
    a = ap.parse_args()
    if a.repeats < 1:
        sys.exit("--repeats must be >= 1")
    if a.from_json:
        with open(a.from_json) as f:
            saved = json.load(f)
        allocs = list(saved["allocators"].items())
        data = saved["data"]
        for cells in data.values():
            for c in cells.values():
                c["time"] = c[a.metric]
        benches = [b for b in BENCHMARKS if b[0] in data]
        a.repeats = saved["repeats"]
        a.json = None
        report(a, benches, allocs, data, [], a.repeats)
        return 0

    benches = BENCHMARKS
    if a.only:
        want = [w.strip() for w in a.only.split(",") if w.strip()]
        known = [b[0] for b in BENCHMARKS]
        bad = [w for w in want if w not in known]
        if bad:
            sys.exit("unknown benchmark(s) %s (known: %s)" % (", ".join(bad), ", ".join(known)))
        benches = [b for b in BENCHMARKS if b[0] in want]
    allocs = bc.resolve_allocs(a.allocs.split(","), a.xalloc)
    for spec in a.lib:
        name, _, path = spec.partition("=")
        if not name or not path or not os.path.exists(path):
            sys.exit("--lib wants NAME=PATH of an existing library, not %r" % spec)
        allocs.append((name, os.path.abspath(path)))
    names = [n for n, _ in allocs]
    if "glibc" not in names:
        sys.exit("glibc must be among the allocators: every ratio is to glibc")
    progs = bc.locate_programs(sorted({b[1] for b in benches}) + ["b_launch"], a.bindir)

    data = {b[0]: {n: {"time": [], "rss": [], "wall": [], "cpu": [], "fail": None} for n in names} for b in benches}
    failures = []
    for r in range(a.repeats):
        k = r % len(allocs)
        order = allocs[k:] + allocs[:k]
        for bname, prog, args in benches:
            for aname, lib in order:
                cell = data[bname][aname]
                if cell["fail"]:
                    continue
                res = bc.run_program(progs[prog], args, lib, a.timeout, progs["b_launch"])
                if not res.ok:
                    msg = "BENCHMARK FAILED: %s under %s (repeat %d)\n%s" % (
                        bname, aname, r + 1, res.describe_failure())
                    bc.loud(msg)
                    cell["fail"] = msg
                    failures.append(msg)
                    continue
                if a.metric == "cpu" and res.cpu is None:
                    sys.exit("b_launch gave no CPU time")
                cell["time"].append(res.cpu if a.metric == "cpu" else res.time)
                cell["rss"].append(res.maxrss)
                cell["wall"].append(res.time)
                cell["cpu"].append(res.cpu)
                if a.verbose:
                    bc.log("%-14s %-12s %.3f s %.1f MiB" % (
                        bname, aname, cell["time"][-1], res.maxrss / 1048576.0))
        bc.log("repeat %d/%d done" % (r + 1, a.repeats))
        # the report so far: a run cut short still leaves its figures
        report(a, benches, allocs, data, failures, r + 1)

    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
