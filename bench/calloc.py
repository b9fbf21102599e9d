#!/usr/bin/env python3
"""calloc and big-block benchmarks (issue 13 section 2, issue 10 malloc-large),
side by side with the peers, interleaved, medians of several repeats.

  bench/calloc.py [--repeats N] [--only sparse,dense,mid,mlarge,hugechurn,stressng]
                  [--allocs xalloc,glibc,...] [--xalloc PATH] [--bindir DIR]
                  [--stress-seconds S] [--stress-metric real|cpu]
                  [--extra NAME=LIB ...]

Rows:
  sparse    b_calloc sparse: calloc(64 MiB), one byte per 64 KiB, free; x20
  dense     b_calloc dense: rounds of 16 x calloc(8 MiB) fully written after
            freeing the previous round
  mid       b_calloc mid: 64 KiB .. 4 MiB callocs, fully written
  mlarge    b_mlarge: 5..25 MiB blocks malloc'd, touched, freed (4 live)
  hugechurn b_hugechurn 100000: stress-ng's malloc stressor pattern replayed
            for a fixed number of steps (~32 000 live blocks < 128 MiB,
            first word written, malloc_trim every 8 steps); CPU time
  stressng  stress-ng --malloc 2 --malloc-bytes 256M --timeout S
            --metrics-brief: bogo ops/s (real time; with --stress-metric
            cpu: bogo ops per second of user+sys CPU time of the whole
            process tree, start-up and tear-down included, for a loaded
            machine), and the peak of the summed RSS of its processes
            (polled every 50 ms)
For b_calloc rows the time is the program's own (its calloc/touch/free
loop) and the RSS its own peak statm sample while blocks were live; for
mlarge wall time and ru_maxrss (through b_launch).
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchcommon as bc  # noqa: E402

ROWS = [
    ("sparse", "b_calloc", ["sparse"]),
    ("dense", "b_calloc", ["dense"]),
    ("mid", "b_calloc", ["mid"]),
    ("mlarge", "b_mlarge", []),
    ("hugechurn", "b_hugechurn", ["100000"]),
    ("stressng", None, []),
]


def run_stressng(lib, seconds, metric="real"):
    """Returns (bogo ops/s, peak summed RSS bytes) or raises; metric cpu:
    bogo ops per CPU second (user+sys of stress-ng's processes, the last
    /proc/PID/stat sample of each: stress-ng's own usr+sys column, and
    wait4, sometimes miss the workers' children)."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if lib:
        env["LD_PRELOAD"] = lib
    cmd = ["stress-ng", "--malloc", "2", "--malloc-bytes", "256M", "--timeout",
           "%ds" % seconds, "--metrics-brief"]
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True, text=True)
    peak = 0
    page = os.sysconf("SC_PAGE_SIZE")
    tick = os.sysconf("SC_CLK_TCK")
    cpu = {}
    while p.poll() is None:
        total = 0
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                if os.getpgid(int(d)) != p.pid:
                    continue
                with open("/proc/%s/statm" % d) as f:
                    total += int(f.read().split()[1]) * page
                with open("/proc/%s/stat" % d) as f:
                    st = f.read().rsplit(")", 1)[1].split()
                    cpu[d] = max(cpu.get(d, 0), int(st[11]) + int(st[12]))  # utime, stime
            except (OSError, ValueError, IndexError):
                continue
        peak = max(peak, total)
        time.sleep(0.05)
    out = p.stdout.read()
    if p.returncode != 0:
        raise RuntimeError("stress-ng exited %d:\n%s" % (p.returncode, out[-2000:]))
    for line in out.splitlines():
        m = re.search(r"\]\s+malloc\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", line)
        if m:
            if metric == "cpu":
                secs = sum(cpu.values()) / tick
                if not secs:
                    raise RuntimeError("no CPU time measured for stress-ng")
                return float(m.group(1)) / secs, peak
            return float(m.group(5)), peak
    raise RuntimeError("no malloc metrics line in stress-ng output:\n%s" % out[-2000:])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--allocs", default=",".join(bc.ALL_ALLOCS))
    ap.add_argument("--xalloc", default=bc.xalloc_default())
    ap.add_argument("--bindir", default=None)
    ap.add_argument("--stress-seconds", type=int, default=30)
    ap.add_argument("--stress-metric", choices=["real", "cpu"], default="real",
                    help="stressng row: bogo ops per second of real time or of CPU time")
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=LIB",
                    help="another library to compare, e.g. before=/work/baseline/libxalloc.so")
    a = ap.parse_args()
    rows = [r for r in ROWS if not a.only or r[0] in a.only.split(",")]
    allocs = bc.resolve_allocs(a.allocs.split(","), a.xalloc)
    for e in a.extra:
        name, _, lib = e.partition("=")
        allocs.append((name, os.path.abspath(lib)))
    names = [n for n, _ in allocs]
    progs = bc.locate_programs(sorted({r[1] for r in rows if r[1]}) + ["b_launch"], a.bindir)
    if any(r[0] == "stressng" for r in rows) and not shutil.which("stress-ng"):
        sys.exit("stress-ng not found (Debian package stress-ng)")
    data = {r[0]: {n: {"t": [], "m": []} for n in names} for r in rows}
    failed = False
    for rname, prog, args in rows:
        for rep in range(a.repeats):
            k = rep % len(allocs)
            for aname, lib in allocs[k:] + allocs[:k]:
                cell = data[rname][aname]
                try:
                    if prog is None:
                        ops, peak = run_stressng(lib, a.stress_seconds, a.stress_metric)
                        cell["t"].append(ops)
                        cell["m"].append(peak)
                        bc.log("%-8s %-9s %.0f bogo ops/s  %.1f MiB" % (rname, aname, ops, peak / 2**20))
                        continue
                    res = bc.run_program(progs[prog], args, lib, a.timeout, progs["b_launch"])
                    if not res.ok:
                        raise RuntimeError(res.describe_failure())
                    m = re.search(r"time_ms ([\d.]+) peak_rss_kb (\d+)", res.stdout)
                    if m:
                        cell["t"].append(float(m.group(1)) / 1000.0)
                        cell["m"].append(int(m.group(2)) * 1024)
                    else:
                        cell["t"].append(res.time)
                        cell["m"].append(res.maxrss)
                    bc.log("%-8s %-9s %.3f s  %.1f MiB" % (rname, aname, cell["t"][-1], cell["m"][-1] / 2**20))
                except RuntimeError as e:
                    bc.loud("FAILED: %s under %s\n%s" % (rname, aname, e))
                    failed = True
    header = ["row"]
    for n in names:
        header += ["%s %s" % (n, "time s / ops/s"), "%s RSS MiB" % n]
    peers = [n for n in names if n != "xalloc"] if "xalloc" in names else []
    for p in peers:
        header += ["x/%s time" % p, "x/%s RSS" % p]
    out = []
    for rname, _, _ in rows:
        row = [rname]
        for n in names:
            t, m = bc.median(data[rname][n]["t"]), bc.median(data[rname][n]["m"])
            row += ["—" if t is None else ("%.0f" % t if rname == "stressng" else "%.3f" % t),
                    "—" if m is None else "%.1f" % (m / 2**20)]
        xt, xm = bc.median(data[rname]["xalloc"]["t"]) if peers else None, \
            bc.median(data[rname]["xalloc"]["m"]) if peers else None
        for p in peers:
            pt, pm = bc.median(data[rname][p]["t"]), bc.median(data[rname][p]["m"])
            # for stress-ng the first number is a rate: show xalloc/peer ops
            row += ["—" if not (xt and pt) else "%.2f" % (xt / pt),
                    "—" if not (xm and pm) else "%.2f" % (xm / pm)]
        out.append(row)
    extra = ["- Repeats: %d, interleaved (rotating order); medians" % a.repeats,
             "- stressng: bogo ops/s (%s; higher is better; the ratio is xalloc/peer "
             "ops/s), RSS = peak of the summed RSS of stress-ng's processes"
             % ("per CPU second, user+sys" if a.stress_metric == "cpu" else "real time")]
    for n, lib in allocs:
        extra.append("- %s: %s" % (n, lib or "(no LD_PRELOAD)"))
    print("\n".join(["## calloc and big blocks", ""] + bc.machine_lines(extra) + [""]
                    + [bc.md_table(header, out)]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
