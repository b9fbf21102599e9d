#!/usr/bin/env python3
"""One command under several libraries, interleaved: CPU time medians.

  bench/cpu_compare.py [--repeats N] [--bindir DIR] --cmd "PROG ARGS" LIB ...

LIB is a path to preload, or `none` for the system allocator.  Each repeat
runs the command once under every library, the order rotating from one
repeat to the next, so drifts of a noisy machine hit all of them alike.
The time is the child's user + system CPU time from wait4 (microseconds,
where /usr/bin/time rounds to 10 ms), so two builds that differ by 1-2% can
be told apart with 15-21 repeats on the 2-core machine.  Prints, per
library, the median, its ratio to the first library's median and the
quartiles.  Made for comparisons of builds of xalloc on one pattern (the
free check's magic, bench/README.md); run.py and classic.py compare
allocators over the whole suites.

A run that exits non-zero or dies of a signal is reported and the script
exits 1.
"""
import argparse
import os
import shlex
import sys


def run_once(path, argv, lib, env_extra=None, quiet=False):
    """Run argv (path: the executable) with lib preloaded (`none`: nothing)
    and env_extra added to the environment, stdout (and with quiet, stderr)
    to /dev/null.  Returns (wait status, user + system CPU seconds)."""
    env = dict(os.environ)
    env.update(env_extra or {})
    env.pop("LD_PRELOAD", None)
    if lib != "none":
        env["LD_PRELOAD"] = lib
    pid = os.fork()
    if pid == 0:
        try:
            fd = os.open(os.devnull, os.O_WRONLY)
            os.dup2(fd, 1)
            if quiet:
                os.dup2(fd, 2)
            os.execve(path, argv, env)
        except BaseException:
            pass
        os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    return status, ru.ru_utime + ru.ru_stime


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def quantile(xs, q):
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--bindir", default=".", help="directory of the benchmark programs")
    ap.add_argument("--cmd", required=True, help='the program and its arguments, e.g. "b_threads 1 30000000"')
    ap.add_argument("libs", nargs="+", help="libraries to preload (`none`: no preload)")
    a = ap.parse_args()
    argv = shlex.split(a.cmd)
    path = argv[0] if "/" in argv[0] else os.path.join(a.bindir, argv[0])
    times = {lib: [] for lib in a.libs}
    failed = False
    for r in range(a.repeats):
        k = r % len(a.libs)
        for lib in a.libs[k:] + a.libs[:k]:
            status, t = run_once(path, argv, lib)
            if status != 0:
                print("FAILED: %s under %s: wait status %#x" % (a.cmd, lib, status), file=sys.stderr)
                failed = True
            times[lib].append(t)
    print("%s, %d interleaved repeats, CPU time (user + system) in s" % (a.cmd, a.repeats))
    first = None
    for lib in a.libs:
        xs = times[lib]
        med = median(xs)
        first = first or med
        print("%-50s median %.4f  (%.3f)  quartiles %.4f %.4f" % (lib, med, med / first, quantile(xs, 0.25),
                                                                  quantile(xs, 0.75)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
