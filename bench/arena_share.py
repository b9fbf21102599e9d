#!/usr/bin/env python3
"""Threads that share an arena: c_glibc_thread with one arena per thread or
one for two, its blocks spread over cache lines or not.

  bench/arena_share.py [--repeats N] [--bindir DIR] [--xalloc LIB]

Rows (CPU time, user + system, of the whole run; medians and min-max of N
interleaved repeats, the order of the rows rotating from one repeat to the
next):

  - `c_glibc_thread 2 20000000 1 ROUND` for ROUND 1, 64, 128 and 256 (every
    size rounded up to a multiple of ROUND), under XALLOC_CONF=narenas:1
    (both threads fill from one arena's slabs) and narenas:2 (one each);
  - the same with ROUND 1 and both threads pinned to CPU 0 (taskset), where
    the two threads never run at the same time;
  - mimalloc on ROUND 1;
  - `c_glibc_thread 4` (the classic.py row) under the default arena count,
    narenas:4, and mimalloc.

bench/README.md, "glibc-thread: threads that share an arena", has the
figures and what they show.  A run that fails exits 1.
"""
import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchcommon as bc  # noqa: E402
from cpu_compare import median, run_once  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--bindir", default=None)
    ap.add_argument("--xalloc", default=bc.DEFAULT_XALLOC)
    ap.add_argument("--iterations", default="20000000",
                    help="per thread, for the 2-thread rows (20000000)")
    a = ap.parse_args()
    prog = bc.locate_programs(["c_glibc_thread"], a.bindir)["c_glibc_thread"]
    mi = bc.PEER_LIBS["mimalloc"]
    taskset = shutil.which("taskset")
    rows = []  # (label, argv, lib, XALLOC_CONF or None, pinned)
    for rnd in ("1", "64", "128", "256"):
        for na in ("narenas:1", "narenas:2"):
            rows.append(("2 threads, round %s, %s" % (rnd, na),
                         ["2", a.iterations, "1", rnd], a.xalloc, na, False))
    if taskset:
        for na in ("narenas:1", "narenas:2"):
            rows.append(("2 threads, round 1, %s, one CPU" % na,
                         ["2", a.iterations, "1", "1"], a.xalloc, na, True))
    else:
        bc.log("taskset not found: the one-CPU rows are left out")
    if os.path.exists(mi):
        rows.append(("2 threads, round 1, mimalloc", ["2", a.iterations, "1", "1"], mi, None, False))
    rows.append(("4 threads (classic.py row), default", ["4"], a.xalloc, None, False))
    rows.append(("4 threads (classic.py row), narenas:4", ["4"], a.xalloc, "narenas:4", False))
    if os.path.exists(mi):
        rows.append(("4 threads (classic.py row), mimalloc", ["4"], mi, None, False))

    times = {r[0]: [] for r in rows}
    for i in range(a.repeats):
        k = i % len(rows)
        for label, args, lib, conf, pinned in rows[k:] + rows[:k]:
            if pinned:
                path, argv = taskset, ["taskset", "-c", "0", prog] + args
            else:
                path, argv = prog, [prog] + args
            env = {"XALLOC_CONF": conf} if conf else {}
            status, t = run_once(path, argv, lib, env)
            if status != 0:
                print("%s: failed (wait status %d)" % (label, status), file=sys.stderr)
                return 1
            times[label].append(t)
        bc.log("repeat %d of %d done" % (i + 1, a.repeats))
    print("c_glibc_thread, %d interleaved repeats, CPU time (user + system) in s" % a.repeats)
    print("xalloc: %s" % a.xalloc)
    print()
    print("| row | median | min | max |")
    print("|:--|--:|--:|--:|")
    for label, *_ in rows:
        v = times[label]
        print("| %s | %.3f | %.3f | %.3f |" % (label, median(v), min(v), max(v)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
