#!/usr/bin/env python3
"""Compare two builds of libxalloc.so (or one build under two XALLOC_CONF
settings) on the timing benchmarks, interleaved, medians.

  bench/compare.py --a PATH --b PATH [--conf-a S] [--conf-b S]
                   [--repeats N] [--only name,...] [--bindir DIR]
                   [--markdown FILE]

Each repeat runs every benchmark once under A and once under B, the order
alternating from one repeat to the next, so slow drifts of a noisy machine
hit both sides alike.  Prints a Markdown table: median wall time of A and
B, and B/A - 1 in percent (positive: B is slower), then the geometric mean
of the ratios.  Used for "Cost of the default checks" in README.md:

  A = a build with -DXALLOC_CHECK=0 (CPPFLAGS at configure time),
  B = the normal build.

A benchmark that fails (non-zero exit, signal, timeout) is reported and the
script exits 1.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchcommon as bc  # noqa: E402
from run import BENCHMARKS  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--a", required=True, help="libxalloc.so of build A (baseline)")
    ap.add_argument("--b", required=True, help="libxalloc.so of build B")
    ap.add_argument("--conf-a", default=None, help="XALLOC_CONF for A")
    ap.add_argument("--conf-b", default=None, help="XALLOC_CONF for B")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--only", default=None)
    ap.add_argument("--bindir", default=None)
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()

    benches = BENCHMARKS
    if args.only:
        want = args.only.split(",")
        benches = [b for b in BENCHMARKS if b[0] in want or b[1] in want]
        if not benches:
            sys.exit("no benchmark matches %s" % args.only)
    progs = bc.locate_programs(sorted({b[1] for b in benches}) + ["b_launch"], args.bindir)
    launcher = progs.get("b_launch")
    sides = [("A", os.path.abspath(args.a), args.conf_a), ("B", os.path.abspath(args.b), args.conf_b)]
    for _, lib, _ in sides:
        if not os.path.exists(lib):
            sys.exit("no such library: %s" % lib)

    times = {(b[0], s[0]): [] for b in benches for s in sides}
    failed = False
    saved_conf = os.environ.get("XALLOC_CONF")
    for rep in range(args.repeats):
        order = sides if rep % 2 == 0 else sides[::-1]
        for name, prog, pargs in benches:
            for label, lib, conf in order:
                if conf is None:
                    os.environ.pop("XALLOC_CONF", None)
                else:
                    os.environ["XALLOC_CONF"] = conf
                r = bc.run_program(progs[prog], pargs, lib, args.timeout, launcher)
                if not r.ok:
                    bc.loud("%s under %s: %s" % (name, label, r.describe_failure()))
                    failed = True
                    continue
                times[(name, label)].append(r.time)
        bc.log("repeat %d/%d done" % (rep + 1, args.repeats))
    if saved_conf is None:
        os.environ.pop("XALLOC_CONF", None)
    else:
        os.environ["XALLOC_CONF"] = saved_conf

    rows, ratios = [], []
    for name, _, _ in benches:
        a, b = times[(name, "A")], times[(name, "B")]
        if not a or not b:
            rows.append([name, "-", "-", "-"])
            continue
        ma, mb = bc.median(a), bc.median(b)
        ratios.append(mb / ma)
        rows.append([name, "%.3f s" % ma, "%.3f s" % mb, "%+.1f%%" % (100 * (mb / ma - 1))])
    if ratios:
        rows.append(["geometric mean", "", "", "%+.1f%%" % (100 * (bc.geomean(ratios) - 1))])
    head = "A: %s%s; B: %s%s; %d repeats, medians" % (
        args.a, " XALLOC_CONF=" + args.conf_a if args.conf_a else "",
        args.b, " XALLOC_CONF=" + args.conf_b if args.conf_b else "", args.repeats)
    out = head + "\n\n" + bc.md_table(["benchmark", "A", "B", "B vs A"], rows, ["l", "r", "r", "r"])
    print(out)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(out + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
