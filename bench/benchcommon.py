"""Shared helpers for bench/run.py and bench/release.py (python3 stdlib only)."""

import datetime
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BINDIR = os.path.normpath(os.path.join(BENCH_DIR, "..", "build", "bench"))
FALLBACK_BINDIR = os.path.join(BENCH_DIR, ".bin")
DEFAULT_XALLOC = os.path.normpath(
    os.path.join(BENCH_DIR, "..", "build", "src", ".libs", "libxalloc.so"))

LIBDIR = "/usr/lib/x86_64-linux-gnu"
PEER_LIBS = {
    "glibc": None,  # no preload
    "jemalloc": os.path.join(LIBDIR, "libjemalloc.so.2"),
    "tcmalloc": os.path.join(LIBDIR, "libtcmalloc_minimal.so.4"),
    "mimalloc": os.path.join(LIBDIR, "libmimalloc.so.2"),
}
ALL_ALLOCS = ["xalloc", "glibc", "jemalloc", "tcmalloc", "mimalloc"]
PROGRAMS = ["b_small", "b_mixed", "b_larson", "b_prodcons", "b_realloc",
            "b_threads", "b_spike", "b_threads128", "b_churn", "b_launch"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def loud(msg):
    bar = "!" * 72
    print("\n%s\n!!! %s\n%s" % (bar, msg.replace("\n", "\n!!! "), bar),
          file=sys.stderr, flush=True)


def xalloc_default():
    return os.environ.get("XALLOC_LIB") or DEFAULT_XALLOC


def resolve_allocs(names, xalloc_path):
    """Return [(name, lib_path_or_None)] for the allocators that are present."""
    out = []
    for name in names:
        name = name.strip()
        if not name:
            continue
        if name == "xalloc":
            path = os.path.abspath(xalloc_path)
        elif name in PEER_LIBS:
            path = PEER_LIBS[name]
        else:
            sys.exit("unknown allocator %r (known: %s)" % (name, ", ".join(ALL_ALLOCS)))
        if path is not None and not os.path.exists(path):
            log("NOTE: skipping %s: library %s not found" % (name, path))
            continue
        out.append((name, path))
    if not out:
        sys.exit("no allocator available")
    return out


def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        libc = "unknown"
    try:
        mem_kb = 0
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_kb = int(line.split()[1])
        mem = "%.1f GiB" % (mem_kb / 1048576.0)
    except (OSError, ValueError):
        mem = "unknown"
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "nproc": usable,
        "cpu": cpu,
        "kernel": "%s %s" % (platform.system(), platform.release()),
        "libc": libc,
        "mem": mem,
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "host": platform.node(),
    }


def machine_lines(extra=None):
    m = machine_info()
    lines = [
        "- Machine: nproc=%s, CPU: %s, RAM: %s" % (m["nproc"], m["cpu"], m["mem"]),
        "- Kernel: %s, libc: %s" % (m["kernel"], m["libc"]),
        "- Date: %s" % m["date"],
    ]
    if extra:
        lines += extra
    return lines


def _is_elf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def locate_programs(names, bindir=None):
    """Map program name -> executable path.

    Look in bindir (default ../build/bench next to this script); anything not
    found there (or not a real ELF executable, e.g. a libtool wrapper) is
    compiled with $CC (default gcc) into bench/.bin/ and rebuilt whenever its
    source is newer.
    """
    bindir = os.path.abspath(bindir or DEFAULT_BINDIR)
    found, missing = {}, []
    for n in names:
        p = os.path.join(bindir, n)
        if os.path.isfile(p) and os.access(p, os.X_OK) and _is_elf(p):
            found[n] = p
        else:
            missing.append(n)
    if found:
        log("using benchmark binaries from %s" % bindir)
    if missing:
        log("building %s with %s into %s" % (
            ", ".join(missing), os.environ.get("CC", "gcc"), FALLBACK_BINDIR))
        os.makedirs(FALLBACK_BINDIR, exist_ok=True)
        cc = shlex.split(os.environ.get("CC", "gcc"))
        cflags = shlex.split(os.environ.get("BENCH_CFLAGS", "-std=c11 -O2 -Wall"))
        for n in missing:
            src = os.path.join(BENCH_DIR, n + ".c")
            out = os.path.join(FALLBACK_BINDIR, n)
            if not os.path.exists(src):
                sys.exit("cannot find %s" % src)
            if (not os.path.exists(out)
                    or os.path.getmtime(out) < os.path.getmtime(src)):
                cmd = cc + cflags + ["-pthread", "-o", out, src]
                r = subprocess.run(cmd)
                if r.returncode != 0:
                    sys.exit("build failed: %s" % " ".join(cmd))
            found[n] = out
    return found


class RunResult:
    __slots__ = ("ok", "time", "cpu", "maxrss", "rc", "sig", "stdout", "stderr",
                 "timed_out", "cmd")

    def describe_failure(self):
        if self.timed_out:
            what = "timed out (killed)"
        elif self.sig:
            try:
                name = signal.Signals(self.sig).name
            except ValueError:
                name = str(self.sig)
            what = "killed by signal %s" % name
        else:
            what = "exit status %d" % self.rc
        tail = self.stderr.strip().splitlines()[-8:]
        s = "%s: %s" % (self.cmd, what)
        if tail:
            s += "\nstderr:\n  " + "\n  ".join(tail)
        return s


def run_program(path, args, preload, timeout=300.0, launcher=None):
    """Run `path args` with LD_PRELOAD=preload (None: no preload).

    fork/exec from Python; wall time is time.perf_counter() around
    fork..wait4.  Peak RSS: Linux carries the pre-exec image's peak RSS into
    ru_maxrss, so a child forked straight from Python never reports less than
    the interpreter (~10 MiB).  Therefore, when `launcher` (the b_launch
    helper) is given, Python fork/execs the helper, which forks/execs the
    benchmark from a ~1 MiB image, reaps it with wait4 and reports its
    ru_maxrss and exit status on fd 3.  Without a launcher the benchmark is
    exec'd directly and ru_maxrss comes from Python's os.wait4 (inflated).
    Returns a RunResult; maxrss is in bytes."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    argv = [path] + [str(a) for a in args]
    if launcher:
        exec_path = launcher
        exec_argv = [launcher, "3", preload or "-"] + argv
    else:
        exec_path = path
        exec_argv = argv
        if preload:
            env["LD_PRELOAD"] = preload
    res = RunResult()
    res.cpu = None
    res.cmd = ("LD_PRELOAD=%s " % preload if preload else "") + " ".join(
        shlex.quote(a) for a in argv)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.TemporaryFile() as rep:
        devnull = os.open(os.devnull, os.O_RDONLY)
        sys.stdout.flush()
        sys.stderr.flush()
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # child
            try:
                os.setsid()  # own process group, so a timeout kills everything
                os.dup2(devnull, 0)
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                os.dup2(rep.fileno(), 3)
                os.execve(exec_path, exec_argv, env)
            except BaseException:
                pass
            os._exit(127)
        os.close(devnull)
        lock = threading.Lock()
        st = {"done": False, "kills": 0, "timers": []}

        def kill():
            # launcher: SIGTERM makes it SIGKILL and reap the benchmark (no
            # orphan); if that does not work within 5 s the whole process
            # group is SIGKILLed.  Direct exec: SIGKILL the group at once.
            with lock:
                if st["done"]:
                    return
                st["kills"] += 1
                try:
                    if launcher and st["kills"] == 1:
                        os.kill(pid, signal.SIGTERM)
                        t2 = threading.Timer(5.0, kill)
                        t2.daemon = True
                        st["timers"].append(t2)
                        t2.start()
                    else:
                        os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

        if timeout:
            t = threading.Timer(timeout, kill)
            t.daemon = True
            st["timers"].append(t)
            t.start()
        try:
            while True:
                try:
                    _, status, ru = os.wait4(pid, 0)
                    break
                except InterruptedError:
                    continue
        except BaseException:  # e.g. Ctrl-C: do not leave the benchmark running
            with lock:
                st["done"] = True
                for t in st["timers"]:
                    t.cancel()
            try:
                os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
            raise
        t1 = time.perf_counter()
        with lock:
            st["done"] = True
            for t in st["timers"]:
                t.cancel()
            killed = st["kills"] > 0
        if killed:  # the benchmark may outlive a SIGKILLed launcher
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for f in (out, err, rep):
            f.seek(0)
        res.stdout = out.read().decode("utf-8", "replace")
        res.stderr = err.read().decode("utf-8", "replace")
        report = rep.read().decode("utf-8", "replace").split()
    res.time = t1 - t0
    res.timed_out = bool(killed)
    res.sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    res.rc = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
    res.maxrss = ru.ru_maxrss * 1024  # Linux: KiB
    if launcher and not res.timed_out and res.sig == 0:
        if res.rc == 0 and len(report) >= 6 and report[0] in ("exit", "signal"):
            code = int(report[1])
            res.rc, res.sig = (code, 0) if report[0] == "exit" else (-1, code)
            res.maxrss = int(report[3]) * 1024
            if len(report) >= 8 and report[6] == "cpu_ns":
                res.cpu = int(report[7]) / 1e9
        else:
            res.stderr += "\n(b_launch helper failed with status %d)" % res.rc
            res.rc = res.rc or 125
    res.ok = not res.timed_out and res.sig == 0 and res.rc == 0
    return res


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    if n == 0:
        return None
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def geomean(xs):
    import math
    xs = [x for x in xs if x is not None and x > 0]
    if not xs:
        return None
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def md_table(header, rows, align=None):
    """Render a Markdown table; align is a list of 'l'/'r'."""
    cols = len(header)
    align = align or (["l"] + ["r"] * (cols - 1))
    cells = [list(map(str, header))] + [[str(c) for c in r] for r in rows]
    width = [max(len(r[i]) for r in cells) for i in range(cols)]

    def fmt(r):
        out = []
        for i, c in enumerate(r):
            out.append(c.ljust(width[i]) if align[i] == "l" else c.rjust(width[i]))
        return "| " + " | ".join(out) + " |"

    sep = "|" + "|".join(
        (":" + "-" * (width[i] + 1)) if align[i] == "l" else ("-" * (width[i] + 1) + ":")
        for i in range(cols)) + "|"
    return "\n".join([fmt(cells[0]), sep] + [fmt(r) for r in cells[1:]])
