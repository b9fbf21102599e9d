#!/usr/bin/env python3
"""xalloc timing benchmarks: run every benchmark under every allocator,
interleaved, and print a Markdown table of medians and xalloc/peer ratios.

  bench/run.py [--repeats N] [--only name,...] [--allocs xalloc,glibc,...]
               [--lib NAME=PATH ...] [--xalloc PATH] [--bindir DIR]
               [--markdown FILE] [--json FILE] [--timeout S] [--spread] [--verbose]

For each benchmark, each repeat runs every allocator once, in an order that
rotates from one repeat to the next.  Wall time is measured around
fork/exec/wait4 (time.perf_counter); peak RSS is the benchmark's own
ru_maxrss from wait4, collected through the tiny b_launch helper (forking
straight from Python would add the interpreter's ~10 MiB to ru_maxrss).
A benchmark that exits non-zero, dies of a signal or times out is reported
loudly; its remaining repeats under that allocator are skipped and the
runner exits with status 1.  --lib NAME=PATH adds another library as a
peer (e.g. --lib xalloc-base=/work/baseline/libxalloc.so).
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchcommon as bc  # noqa: E402

# (row name, program, arguments) -- the timing benchmarks 1-6
BENCHMARKS = [
    ("b_small", "b_small", []),
    ("b_mixed", "b_mixed", []),
    ("b_larson", "b_larson", []),
    ("b_prodcons", "b_prodcons", []),
    # many producers / many consumers: 4 + 4 threads on one queue
    ("b_prodcons-4x4", "b_prodcons", ["4000000", "4", "4"]),
    ("b_realloc", "b_realloc", []),
    ("b_threads-1", "b_threads", ["1"]),
    ("b_threads-2", "b_threads", ["2"]),
    ("b_threads-4", "b_threads", ["4"]),
    # a big structure built, then freed in random order (a hash table torn down)
    ("b_teardown", "b_teardown", []),
]


def select(only):
    if not only:
        return BENCHMARKS
    want = [w.strip() for w in only.split(",") if w.strip()]
    out = []
    for row in BENCHMARKS:
        name, prog, _ = row
        for w in want:
            w2 = w if w.startswith("b_") else "b_" + w
            if w2 in (name, prog):
                out.append(row)
                break
    unknown = [w for w in want
               if not any((w if w.startswith("b_") else "b_" + w) in (r[0], r[1])
                          for r in BENCHMARKS)]
    if unknown:
        sys.exit("unknown benchmark(s): %s (known: %s)" % (
            ", ".join(unknown), ", ".join(r[0] for r in BENCHMARKS)))
    return out


def fmt_time(xs, spread):
    m = bc.median(xs)
    if m is None:
        return "FAIL"
    s = "%.3f" % m
    if spread and len(xs) > 1 and m > 0:
        s += " ±%.0f%%" % (50.0 * (max(xs) - min(xs)) / m)
    return s


def fmt_rss(xs):
    m = bc.median(xs)
    return "FAIL" if m is None else "%.1f" % (m / 1048576.0)


def fmt_ratio(r):
    return "—" if r is None else "%.2f" % r


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5, help="repeats per benchmark (default 5)")
    ap.add_argument("--only", default="", help="comma-separated benchmarks, e.g. small,threads")
    ap.add_argument("--allocs", default=",".join(bc.ALL_ALLOCS),
                    help="comma-separated allocators (default: %(default)s)")
    ap.add_argument("--lib", action="append", default=[], metavar="NAME=PATH",
                    help="one more allocator library to preload, as a peer")
    ap.add_argument("--xalloc", default=bc.xalloc_default(),
                    help="path of libxalloc.so (default: $XALLOC_LIB or %s)" % bc.DEFAULT_XALLOC)
    ap.add_argument("--bindir", default=None,
                    help="directory with the benchmark binaries (default %s; "
                         "missing ones are built into bench/.bin)" % bc.DEFAULT_BINDIR)
    ap.add_argument("--markdown", metavar="FILE", help="also write the report to FILE")
    ap.add_argument("--json", metavar="FILE", help="write all raw measurements to FILE")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="kill a single run after this many seconds (default 120)")
    ap.add_argument("--metric", choices=("wall", "cpu"), default="wall",
                    help="time measure: wall clock (default) or CPU time (user + "
                         "system, from wait4); CPU time is the one to use on a "
                         "loaded machine, where waiting for a core inflates wall time")
    ap.add_argument("--spread", action="store_true",
                    help="show ±half-range/median next to median times")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every run")
    a = ap.parse_args()
    if a.repeats < 1:
        sys.exit("--repeats must be >= 1")

    benches = select(a.only)
    allocs = bc.resolve_allocs(a.allocs.split(","), a.xalloc)
    for spec in a.lib:
        name, _, path = spec.partition("=")
        if not name or not path or not os.path.exists(path):
            sys.exit("--lib wants NAME=PATH of an existing library, not %r" % spec)
        allocs.append((name, os.path.abspath(path)))
    names = [n for n, _ in allocs]
    progs = bc.locate_programs(sorted({b[1] for b in benches}) + ["b_launch"], a.bindir)

    ref = "xalloc" if "xalloc" in names else None
    if ref is None:
        if "glibc" in names and len(names) > 1:
            ref = "glibc"
            bc.log("NOTE: xalloc not available; ratios are relative to glibc instead")
        else:
            bc.log("NOTE: xalloc not available; no ratios")
    peers = [n for n in names if n != ref] if ref else []

    # data[bench][alloc] = {"time": [...], "rss": [...], "fail": str|None}
    data = {b[0]: {n: {"time": [], "rss": [], "fail": None} for n in names} for b in benches}
    failures = []
    total = len(benches) * a.repeats * len(allocs)
    done = 0
    for bname, prog, args in benches:
        for r in range(a.repeats):
            k = r % len(allocs)
            order = allocs[k:] + allocs[:k]
            for aname, lib in order:
                done += 1
                cell = data[bname][aname]
                if cell["fail"]:
                    continue
                res = bc.run_program(progs[prog], args, lib, a.timeout, progs["b_launch"])
                if not res.ok:
                    msg = "BENCHMARK FAILED: %s under %s (repeat %d)\n%s" % (
                        bname, aname, r + 1, res.describe_failure())
                    bc.loud(msg)
                    cell["fail"] = res.describe_failure()
                    failures.append(msg)
                    continue
                if a.metric == "cpu" and res.cpu is None:
                    bc.loud("no CPU time from b_launch for %s" % bname)
                    return 1
                cell["time"].append(res.cpu if a.metric == "cpu" else res.time)
                cell["rss"].append(res.maxrss)
                if a.verbose:
                    bc.log("[%d/%d] %-12s %-9s %.3f s  %.1f MiB%s" % (
                        done, total, bname, aname, res.time, res.maxrss / 1048576.0,
                        ("  | " + res.stdout.strip()) if res.stdout.strip() else ""))
            if not a.verbose:
                bc.log("[%d/%d] %s repeat %d/%d done" % (done, total, bname, r + 1, a.repeats))

    # ---- report ----
    header = ["benchmark"]
    for n in names:
        header += ["%s time s" % n, "%s RSS MiB" % n]
    for p in peers:
        header += ["%s/%s time" % (ref, p), "%s/%s RSS" % (ref, p)]
    rows = []
    tr = {p: [] for p in peers}
    rr = {p: [] for p in peers}
    for bname, _, _ in benches:
        row = [bname]
        for n in names:
            c = data[bname][n]
            row += [fmt_time(c["time"], a.spread), fmt_rss(c["rss"])]
        rt = bc.median(data[bname][ref]["time"]) if ref else None
        rm = bc.median(data[bname][ref]["rss"]) if ref else None
        for p in peers:
            pt = bc.median(data[bname][p]["time"])
            pm = bc.median(data[bname][p]["rss"])
            t = rt / pt if rt and pt else None
            m = rm / pm if rm and pm else None
            tr[p].append(t)
            rr[p].append(m)
            row += [fmt_ratio(t), fmt_ratio(m)]
        rows.append(row)
    partial = [p for p in peers if any(x is None for x in tr[p] + rr[p])]
    if peers:
        g = ["**geomean**"] + [""] * (2 * len(names))
        for p in peers:
            g += ["**%s**" % fmt_ratio(bc.geomean(tr[p])), "**%s**" % fmt_ratio(bc.geomean(rr[p]))]
        rows.append(g)

    extra = ["- Repeats: %d (interleaved, rotating allocator order); "
             "medians of %s time and of peak RSS (ru_maxrss)"
             % (a.repeats, "CPU (user + system)" if a.metric == "cpu" else "wall")]
    for n, lib in allocs:
        extra.append("- %s: %s" % (n, lib or "(no LD_PRELOAD)"))
    if ref:
        extra.append("- Ratios: %s / peer (< 1 means %s is faster / smaller); "
                     "geomean over the rows above" % (ref, ref))
    if partial:
        extra.append("- NOTE: geomeans vs %s leave out rows with failed runs"
                     % ", ".join(partial))
    report = "\n".join(["## xalloc timing benchmarks", ""] + bc.machine_lines(extra) + [""]
                       + [bc.md_table(header, rows)])
    if failures:
        report += "\n\nFAILURES:\n" + "\n".join("- " + f.replace("\n", "\n  ") for f in failures)
    print(report)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(report + "\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": bc.machine_info(), "repeats": a.repeats,
                       "allocators": dict(allocs), "data": data}, f, indent=1)
    if failures:
        bc.loud("%d benchmark run(s) FAILED -- see above" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
