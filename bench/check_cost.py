#!/usr/bin/env python3
"""The cost of the default checks: a checked and an unchecked build of
xalloc, side by side and interleaved, on allocation microbenchmarks,
single-thread classic patterns and whole programs.

  bench/check_cost.py --checked LIB --unchecked LIB [--repeats N]
                      [--only micro,classic,programs] [--bindir DIR]
                      [--instructions]

The unchecked library is the same source configured with
CPPFLAGS=-DXALLOC_CHECK=0, which drops the free fast path's region test
and top-of-bin repeat test (src/tcache.h); nothing else differs.  The
three groups:

  micro     bench/run.py's single-thread rows (b_small, b_mixed,
            b_realloc, b_threads 1, b_teardown): a malloc/free loop with
            little work of its own between calls, the worst case.
  classic   the classic patterns in one thread (cfrac, espresso,
            glibc-simple, sh6bench, mstress): single-thread runs repeat to
            about 1%, where the 4-thread rows of classic.py swing by 10%
            on 2 shared cores.
  programs  whole programs: Python (PYTHONMALLOC=malloc, so every object
            goes through malloc) serialising, parsing, sorting and
            indexing 2,000 records with json, and the sqlite3 shell
            inserting, indexing and querying 150,000 rows in memory (skipped
            with a note when sqlite3 is not installed).

Each repeat runs every row under both libraries, the order alternating
from one repeat to the next; the time is the child's user + system CPU
time from wait4.  The report gives per row the two medians, checked /
unchecked - 1 (positive: the checks cost time) and the quartiles' spread,
and per group the geometric mean.  --instructions adds, per row, the
instruction counts of one run under callgrind (deterministic; slow: a
minute or two per row), with the background thread off.

A run that exits non-zero or dies of a signal is reported and the script
exits 1.
"""

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchcommon as bc  # noqa: E402
from cpu_compare import median, quantile, run_once  # noqa: E402

PY_WORK = r"""
import json, random, sys
r = random.Random(1)
data = [{"id": i, "name": "item%d" % i, "tags": [str(r.random()) for _ in range(5)],
         "v": r.random()} for i in range(2000)]
tot = 0
for k in range(int(sys.argv[1])):
    s = json.dumps(data)
    d = json.loads(s)
    d.sort(key=lambda x: x["v"])
    tot += len(s) + sum(len(x["tags"]) for x in d)
    tot += len({x["name"]: x for x in d})
print(tot)
"""

SQL_WORK = """
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, payload TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150000)
INSERT INTO t SELECT i, 'name' || (i * 7919 % 150000), i % 97, printf('%.*c', 20 + i % 200, 'x') FROM n;
CREATE INDEX t_name ON t(name);
CREATE INDEX t_grp ON t(grp, name);
SELECT grp, count(*), sum(length(payload)), max(name) FROM t GROUP BY grp ORDER BY 3 DESC LIMIT 3;
SELECT count(*) FROM t a JOIN t b ON a.name = b.name WHERE a.grp < 20;
UPDATE t SET payload = payload || payload WHERE grp % 3 = 0;
DELETE FROM t WHERE grp % 5 = 0;
SELECT count(*), sum(length(payload)) FROM t;
"""

# (group, row name, argv, extra environment); argv[0] without a slash is a
# benchmark program found in --bindir
ROWS = [
    ("micro", "b_small", ["b_small"], {}),
    ("micro", "b_mixed", ["b_mixed"], {}),
    ("micro", "b_realloc", ["b_realloc"], {}),
    ("micro", "b_threads 1", ["b_threads", "1"], {}),
    ("micro", "b_teardown", ["b_teardown"], {}),
    ("classic", "cfrac", ["c_cfrac"], {}),
    ("classic", "espresso", ["c_espresso"], {}),
    ("classic", "glibc-simple", ["c_glibc", "1"], {}),
    ("classic", "sh6bench 1 thread", ["c_shbench", "0", "1", "300"], {}),
    ("classic", "mstress 1 thread", ["c_mstress", "1", "1500"], {}),
    ("programs", "python json", ["@python", "@pywork", "100"], {"PYTHONMALLOC": "malloc"}),
    ("programs", "sqlite3", ["@sqlite3", "-init", "@sqlwork", ":memory:", ".quit"], {}),
]


def instructions(argv, env_extra, lib):
    env = dict(os.environ)
    env.update(env_extra)
    env["LD_PRELOAD"] = lib
    env["XALLOC_CONF"] = "background_thread:false"
    with tempfile.NamedTemporaryFile(prefix="check_cost_cg") as out:
        r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out.name] + argv,
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in r.stderr.splitlines():
            if "Collected :" in line:
                return int(line.split(":")[-1].strip())
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checked", required=True, help="libxalloc.so of the default build")
    ap.add_argument("--unchecked", required=True, help="libxalloc.so built with CPPFLAGS=-DXALLOC_CHECK=0")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--only", default="micro,classic,programs", help="groups: micro,classic,programs")
    ap.add_argument("--bindir", default=None)
    ap.add_argument("--instructions", action="store_true", help="also count instructions (callgrind)")
    a = ap.parse_args()
    groups = [g.strip() for g in a.only.split(",") if g.strip()]
    bad = set(groups) - {"micro", "classic", "programs"}
    if bad:
        sys.exit("check_cost.py: unknown group(s): %s" % ", ".join(sorted(bad)))
    libs = [("checked", os.path.abspath(a.checked)), ("unchecked", os.path.abspath(a.unchecked))]
    for _, lib in libs:
        if not os.path.exists(lib):
            sys.exit("check_cost.py: no such library: %s" % lib)

    tmp = tempfile.mkdtemp(prefix="check_cost")
    subst = {"@python": sys.executable, "@pywork": os.path.join(tmp, "pywork.py"),
             "@sqlwork": os.path.join(tmp, "work.sql"), "@sqlite3": shutil.which("sqlite3")}
    with open(subst["@pywork"], "w") as f:
        f.write(PY_WORK)
    with open(subst["@sqlwork"], "w") as f:
        f.write(SQL_WORK)

    rows = []
    notes = []
    progs = sorted({argv[0] for g, _, argv, _ in ROWS if g in groups and not argv[0].startswith("@")})
    found = bc.locate_programs(progs, a.bindir) if progs else {}
    for g, name, argv, env in ROWS:
        if g not in groups:
            continue
        if "@sqlite3" in argv and not subst["@sqlite3"]:
            notes.append("%s: skipped, sqlite3 is not installed (apt-get install sqlite3)" % name)
            continue
        full = [subst.get(x, found.get(x, x)) for x in argv]
        rows.append((g, name, full, env))

    times = {(name, w): [] for _, name, _, _ in rows for w, _ in libs}
    failed = False
    for rep in range(a.repeats):
        order = libs if rep % 2 == 0 else libs[::-1]
        for g, name, argv, env in rows:
            for w, lib in order:
                status, t = run_once(argv[0], argv, lib, env, quiet=True)
                if status != 0:
                    print("FAILED: %s under %s: wait status %#x" % (name, w, status), file=sys.stderr)
                    failed = True
                times[(name, w)].append(t)
        print("[repeat %d/%d done]" % (rep + 1, a.repeats), file=sys.stderr)

    icount = {}
    if a.instructions:
        for g, name, argv, env in rows:
            for w, lib in libs:
                icount[(name, w)] = instructions(argv, env, lib)

    print("## The default checks' cost (checked / unchecked build)\n")
    print("- checked: %s\n- unchecked: %s" % (libs[0][1], libs[1][1]))
    print("- %d interleaved repeats; medians of CPU time (user + system, wait4)\n" % a.repeats)
    hdr = "| group | row | checked s | unchecked s | cost | checked quartiles | unchecked quartiles |"
    sep = "|:--|:--|--:|--:|--:|--:|--:|"
    if a.instructions:
        hdr += " instructions cost |"
        sep += "--:|"
    print(hdr)
    print(sep)
    per_group = {}
    for g, name, _, _ in rows:
        c, u = times[(name, "checked")], times[(name, "unchecked")]
        mc, mu = median(c), median(u)
        cost = mc / mu - 1 if mu else float("nan")
        per_group.setdefault(g, []).append(mc / mu if mu else float("nan"))
        line = "| %s | %s | %.4f | %.4f | %+.1f%% | %.4f-%.4f | %.4f-%.4f |" % (
            g, name, mc, mu, 100 * cost, quantile(c, 0.25), quantile(c, 0.75), quantile(u, 0.25),
            quantile(u, 0.75))
        if a.instructions:
            ic, iu = icount.get((name, "checked")), icount.get((name, "unchecked"))
            line += " %s |" % ("%+.2f%%" % (100 * (ic / iu - 1)) if ic and iu else "—")
        print(line)
    print()
    for g in groups:
        xs = per_group.get(g)
        if xs:
            gm = math.exp(sum(math.log(x) for x in xs) / len(xs))
            print("- %s: geomean cost %+.1f%% over %d rows" % (g, 100 * (gm - 1), len(xs)))
    for n in notes:
        print("- " + n)
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
