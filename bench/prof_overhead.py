#!/usr/bin/env python3
"""Cost of heap profiling on the timing suite (the programs of bench/run.py).

  bench/prof_overhead.py [--repeats N] [--only small,...] [--xalloc LIB]
                         [--noprof LIB] [--conf CONF] [--bindir DIR]

Runs every benchmark of run.py under LD_PRELOAD=LIB with XALLOC_CONF unset
("off") and with XALLOC_CONF=CONF (default prof:true: sampling at the
default rate, "prof"), and, with --noprof, under a library configured with
--disable-prof ("compiled out").  The variants of one benchmark run
back to back in an order that rotates every repeat; the table gives median
CPU times (user+sys of the benchmark; --wall for wall time), prof/off and off/compiled-out ratios and their geometric means.
"""
import argparse, math, os, statistics, subprocess, sys, time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import run as runpy  # noqa: E402  (its BENCHMARKS table)
import benchcommon as bc  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--repeats", type=int, default=7)
ap.add_argument("--only", default="")
ap.add_argument("--xalloc", default=bc.xalloc_default())
ap.add_argument("--noprof", default=None, help="libxalloc.so built with --disable-prof")
ap.add_argument("--conf", default="prof:true")
ap.add_argument("--bindir", default=None)
ap.add_argument("--wall", action="store_true", help="compare wall time instead of CPU time")
a = ap.parse_args()

benches = runpy.select(a.only)
progs = bc.locate_programs(sorted({b[1] for b in benches}), a.bindir)
variants = [("off", a.xalloc, None), ("prof", a.xalloc, a.conf)]
if a.noprof:
    variants.append(("compiled out", a.noprof, None))


def once(prog, args, lib, conf):
    env = dict(os.environ, LD_PRELOAD=lib)
    env.pop("XALLOC_CONF", None)
    if conf:
        env["XALLOC_CONF"] = conf
    t0 = time.perf_counter()
    p = subprocess.Popen([prog] + args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    t = time.perf_counter() - t0
    p.returncode = status
    if status != 0:
        sys.exit("%s %s failed (%s): status %d" % (prog, args, conf, status))
    # CPU time (user + system) resists other load on the machine better
    # than wall time; --wall selects wall time.
    return t if a.wall else ru.ru_utime + ru.ru_stime


times = {b[0]: {v[0]: [] for v in variants} for b in benches}
for rep in range(a.repeats):
    for name, prog, args in benches:
        order = variants[rep % len(variants):] + variants[:rep % len(variants)]
        for vname, lib, conf in order:
            times[name][vname].append(once(progs[prog], args, lib, conf))
    bc.log("repeat %d/%d done" % (rep + 1, a.repeats))

hdr = ["benchmark"] + ["%s (s)" % v[0] for v in variants] + ["prof/off"]
if a.noprof:
    hdr.append("off/compiled out")
rows, r1, r2 = [], [], []
for name, _, _ in benches:
    med = {v: statistics.median(times[name][v]) for v in times[name]}
    row = [name] + ["%.3f" % med[v[0]] for v in variants]
    r1.append(med["prof"] / med["off"])
    row.append("%.3f" % r1[-1])
    if a.noprof:
        r2.append(med["off"] / med["compiled out"])
        row.append("%.3f" % r2[-1])
    rows.append(row)
geo = lambda xs: math.exp(sum(math.log(x) for x in xs) / len(xs))
last = ["geomean"] + [""] * len(variants) + ["%.3f" % geo(r1)]
if a.noprof:
    last.append("%.3f" % geo(r2))
rows.append(last)
print("\n".join(bc.machine_lines(["- %d repeats, medians of %s time; prof = XALLOC_CONF=%s" % (
    a.repeats, "wall" if a.wall else "CPU (user+sys)", a.conf)])))
print()
print(bc.md_table(hdr, rows))
