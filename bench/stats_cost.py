#!/usr/bin/env python3
"""The cost of statistics: the timing benchmarks under two xalloc builds,
side by side and interleaved, e.g. the default build and one configured with
--disable-stats (which drops the per-bin and per-arena event counters; the
byte counts that stats.* need are always kept).

  bench/stats_cost.py --base NOSTATS.so --test STATS.so [--repeats N]
                      [--only small,mixed,...] [--bindir DIR]

Each repeat runs every benchmark under both libraries, in an order that
alternates from one repeat to the next; the report gives per benchmark the
median times and test/base - 1 (positive: the statistics cost time), and
the geometric mean over benchmarks.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchcommon as bc  # noqa: E402
import run  # noqa: E402  (the benchmark list)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="libxalloc.so built with --disable-stats")
    ap.add_argument("--test", required=True, help="libxalloc.so with statistics (default build)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--only", default="")
    ap.add_argument("--bindir", default=None)
    args = ap.parse_args()
    rows = run.select(args.only)
    progs = bc.locate_programs(sorted({r[1] for r in rows} | {"b_launch"}), args.bindir)
    libs = [("base", os.path.abspath(args.base)), ("test", os.path.abspath(args.test))]
    times = {(name, which): [] for name, _, _ in rows for which, _ in libs}
    for rep in range(args.repeats):
        order = libs if rep % 2 == 0 else libs[::-1]
        for name, prog, pargs in rows:
            for which, lib in order:
                res = bc.run_program(progs[prog], pargs, lib, launcher=progs["b_launch"])
                if not res.ok:
                    sys.exit("%s under %s failed: %s" % (name, lib, res.describe_failure()))
                times[(name, which)].append(res.time)
        bc.log("repeat %d/%d done" % (rep + 1, args.repeats))
    out = [("benchmark", "no stats (s)", "stats (s)", "cost")]
    ratios = []
    for name, _, _ in rows:
        b = bc.median(times[(name, "base")])
        t = bc.median(times[(name, "test")])
        ratios.append(t / b)
        out.append((name, "%.3f" % b, "%.3f" % t, "%+.1f%%" % (100 * (t / b - 1))))
    out.append(("geomean", "", "", "%+.1f%%" % (100 * (bc.geomean(ratios) - 1))))
    print(bc.md_table(out[0], out[1:]))


if __name__ == "__main__":
    main()
