#!/usr/bin/env python3
"""Instructions per malloc+free pair on thread-cache hits, under callgrind.

  bench/instr.py [--xalloc PATH] [--allocs xalloc,jemalloc,...]
                 [--conf XALLOC_CONF] [--n1 N] [--n2 N] [--bindir DIR]

Runs b_instr (pairs: malloc then free at once; batch: 64 mallocs then 64
frees) under `valgrind --tool=callgrind` at two lengths, n1 and n2 pairs,
for each allocator (LD_PRELOAD; glibc without), and prints

    (Ir(n2) - Ir(n1)) / (n2 - n1)

per mode: start-up, warm-up and the first cache fills cancel out, and what
is left is the steady-state cost of one pair, including the benchmark
loop's own few instructions (the same for every allocator) and the
amortised slow paths (refills, flushes, periodic events).  Callgrind counts
are deterministic, so one run per length is enough.  The sizes are a fixed
mix of 16..512 bytes (see b_instr.c).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchcommon as bc  # noqa: E402


def total_ir(prog, mode, n, lib, conf):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if lib:
        env["LD_PRELOAD"] = lib
    if conf is not None:
        env["XALLOC_CONF"] = conf
    else:
        env.pop("XALLOC_CONF", None)
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                            prog, mode, str(n)], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("callgrind run failed (%s %s %d):\n%s" % (lib, mode, n, r.stderr[-2000:]))
        m = re.search(r"Collected\s*:\s*(\d+)", r.stderr)
        if not m:
            with open(out) as f:
                for line in f:
                    if line.startswith("summary:") or line.startswith("totals:"):
                        return int(line.split()[1])
            sys.exit("no total in callgrind output")
        return int(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--xalloc", default=bc.xalloc_default())
    ap.add_argument("--allocs", default="xalloc,jemalloc,tcmalloc,mimalloc,glibc")
    ap.add_argument("--conf", default=None, help="XALLOC_CONF for xalloc")
    ap.add_argument("--n1", type=int, default=200000)
    ap.add_argument("--n2", type=int, default=1200000)
    ap.add_argument("--bindir", default=None)
    args = ap.parse_args()
    if subprocess.run(["valgrind", "--version"], capture_output=True).returncode != 0:
        sys.exit("valgrind is not installed")
    prog = bc.locate_programs(["b_instr"], args.bindir)["b_instr"]
    allocs = bc.resolve_allocs(args.allocs.split(","), args.xalloc)
    res = {}
    for name, lib in allocs:
        conf = args.conf if name == "xalloc" else None
        row = []
        for mode in ("pairs", "batch"):
            a = total_ir(prog, mode, args.n1, lib, conf)
            b = total_ir(prog, mode, args.n2, lib, conf)
            row.append((b - a) / (args.n2 - args.n1))
        res[name] = row
        bc.log("%s: %.1f %.1f" % (name, row[0], row[1]))
    print("| allocator | pairs Ir/pair | 64-deep batches Ir/pair | mean |")
    print("|:--|--:|--:|--:|")
    for name, _ in allocs:
        p, b = res[name]
        print("| %s | %.1f | %.1f | %.1f |" % (name, p, b, (p + b) / 2))
    peers = [sum(res[n]) / 2 for n in ("jemalloc", "tcmalloc") if n in res]
    if "xalloc" in res and peers:
        x = sum(res["xalloc"]) / 2
        print("\nxalloc / best of jemalloc and tcmalloc (mean of both modes): %.2f" % (x / min(peers)))


if __name__ == "__main__":
    main()
