#!/usr/bin/env python3
"""Accuracy of xalloc's heap profiler (bench/b_prof under LD_PRELOAD).

  bench/prof_accuracy.py [--runs N] [--lg L] [--mib M] [--xalloc LIB] [--bin B_PROF]

Each run writes a final dump (prof_final:true) and prints the true live bytes
of its three sites.  The estimate of a site is what pprof computes from the
dump: every line's bytes times 1 / (1 - exp(-(bytes/count) / T)), summed over
the lines whose first frame is a return address inside the site's function.
Prints the per-run relative errors and their mean over the runs.
"""
import argparse, glob, math, os, statistics, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--runs", type=int, default=20)
ap.add_argument("--lg", type=int, default=19, help="lg_prof_sample (default 19)")
ap.add_argument("--mib", type=int, default=200)
ap.add_argument("--xalloc", default=os.environ.get("XALLOC_LIB", "/work/main/build/src/.libs/libxalloc.so"))
ap.add_argument("--bin", default=os.path.join(here, "b_prof"))
a = ap.parse_args()

SITES = ["site_a", "site_b", "site_c", "site_transient"]


def parse_dump(path):
    lines = open(path).read().split("\n")
    per = int(lines[0].rsplit("/", 1)[1])
    out = []
    for l in lines[1:]:
        if l.startswith("MAPPED_LIBRARIES"):
            break
        if not l or l.startswith("#"):
            continue
        counts, stack = l.split(" @ ")
        n1, rest = counts.split(":", 1)
        s1 = rest.split("[")[0]
        n1, s1 = int(n1), int(s1)
        frames = [int(x, 16) for x in stack.split()]
        out.append((n1, s1, frames))
    return per, out


errs = {s: [] for s in SITES[:3]}
ests = {s: [] for s in SITES}
for run in range(a.runs):
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, LD_PRELOAD=a.xalloc,
                   XALLOC_CONF="prof:true,lg_prof_sample:%d,prof_final:true,prof_prefix:%s/p" % (a.lg, d))
        r = subprocess.run([a.bin, str(a.mib), str(run + 1)], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("b_prof failed: %s" % r.stderr)
        truth, addr = {}, {}
        for l in r.stdout.split("\n"):
            if l:
                name, ad, b = l.split()
                truth[name], addr[name] = int(b), int(ad, 16)
        dumps = glob.glob(d + "/p.*.f.heap")
        if len(dumps) != 1:
            sys.exit("expected one final dump, found %s" % dumps)
        per, entries = parse_dump(dumps[0])
        starts = sorted((addr[s], s) for s in SITES)
        est = {s: 0.0 for s in SITES}
        for n1, s1, frames in entries:
            if n1 == 0 or not frames:
                continue
            f0 = frames[0]
            site = None
            for st, s in starts:  # the sites are tiny: the call is near the start
                if st <= f0 < st + 128:
                    site = s
            if site is None:
                continue
            est[site] += s1 / (1 - math.exp(-(s1 / n1) / per))
        line = []
        for s in SITES[:3]:
            e = est[s] / truth[s] - 1
            errs[s].append(e)
            line.append("%s %+.1f%%" % (s, 100 * e))
        for s in SITES:
            ests[s].append(est[s])
        line.append("transient %.2f MiB" % (est["site_transient"] / 2**20))
        print("run %2d: %s" % (run + 1, ", ".join(line)), flush=True)

print()
print("lg_prof_sample %d, %d MiB live, %d runs (T = %d KiB)" % (a.lg, a.mib, a.runs, 2 ** a.lg // 1024))
for s in SITES[:3]:
    e = errs[s]
    print("  %s: mean error %+.2f%%, worst single run %+.1f%%, sd %.1f%%" % (
        s, 100 * statistics.mean(e), 100 * max(e, key=abs), 100 * (statistics.stdev(e) if len(e) > 1 else 0)))
print("  transient: mean estimate %.2f MiB live" % (statistics.mean(ests["site_transient"]) / 2**20))
