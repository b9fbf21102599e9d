#!/usr/bin/env python3
"""What decay_ms:0 costs: allocation-heavy Python programs under xalloc with
decay_ms:0 and with its default, against jemalloc with
dirty_decay_ms:0,muzzy_decay_ms:0 and with its default (and glibc).

  bench/decay0.py [--repeats N] [--xalloc PATH] [--lib NAME=PATH ...]
                  [--strace] [--markdown FILE]

Workloads: test/integration/alloc_heavy.py (threads, dicts, lists, strings,
big buffers, sqlite3) and bench/py_churn.py (medium-sized buffers replaced
at random by two threads).  Each repeat runs every workload under every
configuration, the order rotating per repeat; the report gives medians of
wall time, CPU time (user + system) and peak RSS, and xalloc decay_ms:0
against jemalloc decay 0.  --lib NAME=PATH adds another xalloc build, run
with decay_ms:0 (e.g. the previous library).  --strace adds one run per
configuration under `strace -f -c` and reports its madvise calls.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchcommon as bc  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = [
    ("alloc_heavy", [os.path.join(HERE, "..", "test", "integration", "alloc_heavy.py"), "25"]),
    ("py_churn", [os.path.join(HERE, "py_churn.py"), "20000"]),
]
JE_ZERO = "dirty_decay_ms:0,muzzy_decay_ms:0"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--xalloc", default=bc.xalloc_default())
    ap.add_argument("--lib", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--python", default=sys.executable, help="the interpreter to run")
    ap.add_argument("--strace", action="store_true", help="also count madvise calls")
    ap.add_argument("--markdown", metavar="FILE")
    ap.add_argument("--timeout", type=float, default=300.0)
    a = ap.parse_args()

    je = bc.PEER_LIBS["jemalloc"]
    x = os.path.abspath(a.xalloc)
    # (name, preload, extra environment)
    configs = [
        ("xalloc decay_ms:0", x, {"XALLOC_CONF": "decay_ms:0"}),
        ("xalloc default", x, {}),
        ("jemalloc decay 0", je, {"MALLOC_CONF": JE_ZERO}),
        ("jemalloc default", je, {}),
        ("glibc", None, {}),
    ]
    for spec in a.lib:
        name, _, path = spec.partition("=")
        if not name or not os.path.exists(path):
            sys.exit("--lib wants NAME=PATH of an existing library, not %r" % spec)
        configs.append(("%s decay_ms:0" % name, os.path.abspath(path), {"XALLOC_CONF": "decay_ms:0"}))
    for _, lib, _ in configs:
        if lib and not os.path.exists(lib):
            sys.exit("missing library %s" % lib)
    launcher = bc.locate_programs(["b_launch"], None)["b_launch"]

    res = {(w, c[0]): {"wall": [], "cpu": [], "rss": []} for w, _ in WORKLOADS for c in configs}
    saved = {k: os.environ.get(k) for k in ("XALLOC_CONF", "MALLOC_CONF")}
    for r in range(a.repeats):
        k = r % len(configs)
        order = configs[k:] + configs[:k]
        for w, args in WORKLOADS:
            for name, lib, env in order:
                for key in saved:
                    os.environ.pop(key, None)
                os.environ.update(env)
                out = bc.run_program(a.python, args, lib, a.timeout, launcher)
                if not out.ok:
                    sys.exit("FAILED: %s under %s:\n%s" % (w, name, out.describe_failure()))
                cell = res[(w, name)]
                cell["wall"].append(out.time)
                cell["cpu"].append(out.cpu)
                cell["rss"].append(out.maxrss)
        bc.log("repeat %d/%d done" % (r + 1, a.repeats))
    for key, v in saved.items():
        os.environ.pop(key, None)
        if v is not None:
            os.environ[key] = v

    madv = {}
    if a.strace:
        for w, args in WORKLOADS:
            for name, lib, env in configs:
                with tempfile.NamedTemporaryFile() as f:
                    e = dict(os.environ)
                    e.update(env)
                    cmd = ["strace", "-f", "-c", "-o", f.name, "env"]
                    if lib:
                        cmd.append("LD_PRELOAD=" + lib)
                    subprocess.run(cmd + [a.python] + args, env=e, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, check=True)
                    m = re.search(rb"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?madvise$",
                                  f.read(), re.M)
                    madv[(w, name)] = int(m.group(1)) if m else 0

    header = ["workload", "configuration", "wall s", "CPU s", "peak RSS MiB"]
    if a.strace:
        header.append("madvise calls")
    rows = []
    for w, _ in WORKLOADS:
        for name, _, _ in configs:
            c = res[(w, name)]
            row = [w, name, "%.2f" % bc.median(c["wall"]), "%.2f" % bc.median(c["cpu"]),
                   "%.1f" % (bc.median(c["rss"]) / 1048576.0)]
            if a.strace:
                row.append(str(madv[(w, name)]))
            rows.append(row)
    lines = []
    for w, _ in WORKLOADS:
        xw = bc.median(res[(w, "xalloc decay_ms:0")]["wall"])
        xc = bc.median(res[(w, "xalloc decay_ms:0")]["cpu"])
        jw = bc.median(res[(w, "jemalloc decay 0")]["wall"])
        jc = bc.median(res[(w, "jemalloc decay 0")]["cpu"])
        dw = bc.median(res[(w, "xalloc default")]["wall"])
        lines.append("- %s: xalloc decay_ms:0 / jemalloc decay 0: wall %.2f, CPU %.2f; "
                     "xalloc decay_ms:0 / xalloc default: wall %.2f" % (w, xw / jw, xc / jc, xw / dw))
    extra = ["- Repeats: %d, interleaved (configuration order rotates per repeat); medians"
             % a.repeats, "- xalloc: %s; python: %s" % (x, a.python)]
    text = "\n".join(["## decay_ms:0 against jemalloc's decay 0", ""] + bc.machine_lines(extra)
                     + ["", bc.md_table(header, rows), ""] + lines)
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
