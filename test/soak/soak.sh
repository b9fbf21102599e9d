#!/usr/bin/env bash
# soak.sh: real programs under LD_PRELOAD=$XALLOC_LIB, each checked against
# its own run without the preload, each under a hang detector.
#
#   stressng  stress-ng's malloc stressor, SOAK_STRESS_RUNS times (30; 5
#             with --quick): XALLOC_CONF=decay_ms:0 stress-ng --malloc 2
#             --malloc-bytes 256M --timeout 2s must exit 0 and report a
#             successful run, as it does without the preload (issue 13: a
#             fork child spun for ever in free in 4 of 47 runs)
#   sqlite    sqlite3 CLI on a generated database (SOAK_SQLITE_ROWS rows,
#             300,000; 100,000 with --quick; two indexes): aggregates,
#             index lookups, a join, GROUP BY, ORDER BY ... LIMIT, a
#             delete + VACUUM -> the same output
#   rg        ripgrep with 4 threads over a generated tree (3,000 files)
#             and /usr/include: matches, counts, case-insensitive and
#             file lists -> the same output once sorted
#   build     make -j2 of a generated C project (50 files) with make, gcc,
#             cc1, as and ld all preloaded -> the same object files and the
#             same program output
#   redis     test/hardening/redis.sh (redis-server + redis-benchmark on a
#             free 127.0.0.1 port, data set digest equal) with
#             REDIS_N=100000 requests per test
#
#   detector  the hang detector itself: a preloaded `sleep 60` with a 2 s
#             limit must be reported (with its stack) and killed
#
#   soak.sh [--quick] [PART...]     (default: every part; --quick:
#                                    detector stressng sqlite rg, smaller)
#
# Any process still running at its time limit is a failure: every process
# of its group is reported with its stack (gdb -batch -p PID -ex 'thread
# apply all bt') and then killed, so a hang is never silent.  A missing tool
# makes the script exit 77 (automake: SKIP) with one line saying which.
# Environment: XALLOC_LIB (required), TEST_SRCDIR (test/ in the sources).
set -u
lib=${XALLOC_LIB:?XALLOC_LIB must name libxalloc.so}
[ -r "$lib" ] || { echo "soak: FAIL: XALLOC_LIB=$lib does not exist" >&2; exit 1; }
srcdir=${TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
unset LD_PRELOAD XALLOC_CONF
export LC_ALL=C TZ=UTC

quick=0
if [ "${1:-}" = --quick ]; then
    quick=1
    shift
fi
parts=("$@")
if [ ${#parts[@]} = 0 ]; then
    if [ $quick = 1 ]; then parts=(detector stressng sqlite rg); else parts=(detector stressng sqlite rg build redis); fi
fi

# tools per part; any missing one -> skip (77) with a line
declare -A tools=([detector]="setsid pgrep" [stressng]="stress-ng" [sqlite]="sqlite3" [rg]="rg python3" [build]="make gcc python3"
    [redis]="redis-server redis-cli redis-benchmark python3")
for p in "${parts[@]}"; do
    [ -n "${tools[$p]+x}" ] || { echo "soak: unknown part '$p' (detector stressng sqlite rg build redis)" >&2; exit 2; }
    for t in ${tools[$p]}; do
        command -v "$t" >/dev/null 2>&1 ||
            { echo "soak: SKIP: $t is not installed (needed by part $p; CI installs it, see .ci/run)"; exit 77; }
    done
done
command -v gdb >/dev/null 2>&1 || echo "soak: note: gdb is not installed: a hang will be reported without stacks"

work=$(mktemp -d "${TMPDIR:-/tmp}/xalloc-soak.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "soak: PASS: $*"; }
bad() { fail=$((fail + 1)); echo "soak: FAIL: $*"; }

# Print the stacks of every process in group $1 (gdb batch mode).
dump_group() {
    local pg=$1 p
    for p in $(pgrep -g "$pg" 2>/dev/null); do
        echo "soak: HANG: pid $p: $(tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null | cut -c1-200)"
        if command -v gdb >/dev/null 2>&1; then
            timeout 60 gdb -q -batch -p "$p" -ex 'thread apply all bt' 2>&1 |
                grep -E '^(Thread|#)' | head -150 | sed 's/^/soak:   /'
        fi
    done
}

# limited SECS LOG CMD...: run CMD (in a process group of its own) with its
# output in LOG; returns its exit status, or 124 after reporting stacks and
# killing the group when it outlives SECS.
limited() {
    local secs=$1 log=$2
    shift 2
    setsid "$@" > "$log" 2>&1 &
    local pid=$! t=0 rc
    while kill -0 "$pid" 2>/dev/null; do
        # the group may outlive its leader: look for the leader only
        if [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = Z ]; then break; fi
        if [ $t -ge $((secs * 10)) ]; then
            echo "soak: HANG: '$*' still running after ${secs}s"
            dump_group "$pid"
            kill -KILL -- "-$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            return 124
        fi
        sleep 0.1
        t=$((t + 1))
    done
    wait "$pid"
    rc=$?
    # children left behind in the group (a stress-ng worker that did not
    # end) are a hang too
    sleep 0.2
    if pgrep -g "$pid" >/dev/null 2>&1; then
        echo "soak: HANG: '$*' ended but left processes behind"
        dump_group "$pid"
        kill -KILL -- "-$pid" 2>/dev/null
        return 124
    fi
    return $rc
}

pre() { env LD_PRELOAD="$lib" "$@"; }

# The preload must really be in effect in the programs themselves.
mapped() { env LD_PRELOAD="$lib" cat /proc/self/maps | grep -c "$(basename "$lib")"; }
[ "$(mapped)" -gt 0 ] || { echo "soak: FAIL: LD_PRELOAD=$lib does not load" >&2; exit 1; }

# ------------------------------------------------------------------ detector
# The hang detector itself: a preloaded process that outlives a 2 s limit
# must be reported (with its stack when gdb can attach) and killed.
part_detector() {
    local out rc
    out=$(limited 2 "$work/det.log" env LD_PRELOAD="$lib" sleep 60)
    rc=$?
    if [ $rc = 124 ] && grep -q "HANG: pid" <<< "$out"; then
        ok "detector: a process past its limit is reported and killed"
        echo "$out" | head -4
        # stacks need gdb and ptrace; say so when they are missing
        grep -q "#0 " <<< "$out" ||
            echo "soak: note: no stack in the report (gdb missing, or ptrace not permitted here)"
    else
        bad "detector: exit $rc, report:"
        echo "$out" | head -20
    fi
}

# ------------------------------------------------------------------ stressng
part_stressng() {
    local runs=${SOAK_STRESS_RUNS:-$([ $quick = 1 ] && echo 5 || echo 30)} i rc hangs=0 fails=0
    local cmd=(stress-ng --malloc 2 --malloc-bytes 256M --timeout 2s --metrics-brief)
    limited 120 "$work/sn.native" "${cmd[@]}"
    rc=$?
    if [ $rc != 0 ] || ! grep -q "successful run completed" "$work/sn.native"; then
        bad "stressng: without the preload: exit $rc"
        sed 's/^/      /' "$work/sn.native" | tail -5
        return
    fi
    for i in $(seq "$runs"); do
        limited 60 "$work/sn.$i" env LD_PRELOAD="$lib" XALLOC_CONF=decay_ms:0 "${cmd[@]}"
        rc=$?
        if [ $rc = 124 ]; then
            hangs=$((hangs + 1))
        elif [ $rc != 0 ] || ! grep -q "successful run completed" "$work/sn.$i"; then
            fails=$((fails + 1))
            echo "soak: stressng run $i: exit $rc"
            tail -5 "$work/sn.$i" | sed 's/^/      /'
        fi
    done
    if [ $hangs = 0 ] && [ $fails = 0 ]; then
        ok "stressng: $runs runs of XALLOC_CONF=decay_ms:0 ${cmd[*]}, no hang"
    else
        bad "stressng: $hangs of $runs runs hung, $fails failed"
    fi
}

# -------------------------------------------------------------------- sqlite
part_sqlite() {
    local rows=${SOAK_SQLITE_ROWS:-$([ $quick = 1 ] && echo 100000 || echo 300000)}
    cat > "$work/q.sql" <<EOF
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, name TEXT, v REAL, pad TEXT);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $rows)
INSERT INTO t SELECT i, (i * 7919) % 10007, 'n' || ((i * 104729) % 50021),
    ((i * 31337) % 100003) / 7.0, printf('%0*d', 1 + i % 300, i) FROM c;
CREATE INDEX t_k ON t(k);
CREATE INDEX t_name ON t(name, v);
CREATE TABLE g(k INTEGER PRIMARY KEY, label TEXT);
WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 10006)
INSERT INTO g SELECT i, 'group-' || (i % 97) FROM c;
SELECT count(*), sum(k), printf('%.3f', sum(v)), sum(length(pad)) FROM t;
SELECT k, count(*), printf('%.3f', avg(v)) FROM t WHERE k BETWEEN 100 AND 140 GROUP BY k;
SELECT name, count(*) FROM t GROUP BY name ORDER BY count(*) DESC, name LIMIT 20;
SELECT g.label, count(*), max(t.id) FROM t JOIN g ON g.k = t.k GROUP BY g.label ORDER BY g.label;
SELECT id, name, printf('%.3f', v) FROM t WHERE name = 'n4242' ORDER BY v;
SELECT id FROM t ORDER BY pad DESC, id LIMIT 10;
SELECT group_concat(name, ',') FROM (SELECT name FROM t WHERE k = 77 ORDER BY id);
DELETE FROM t WHERE id % 3 = 0;
VACUUM;
SELECT count(*), sum(k) FROM t;
PRAGMA integrity_check;
EOF
    local label rc
    for label in native xalloc; do
        rm -f "$work/$label.db"
        if [ $label = native ]; then
            limited 600 "$work/sq.$label" sqlite3 "$work/$label.db" ".read $work/q.sql"
        else
            limited 600 "$work/sq.$label" env LD_PRELOAD="$lib" sqlite3 "$work/$label.db" ".read $work/q.sql"
        fi
        rc=$?
        [ $rc = 0 ] || { bad "sqlite: $label: exit $rc"; tail -5 "$work/sq.$label"; return; }
    done
    if cmp -s "$work/sq.native" "$work/sq.xalloc" && grep -qx ok "$work/sq.xalloc"; then
        ok "sqlite: $rows rows, 2 indexes, $(wc -l < "$work/sq.xalloc") lines of query output identical"
    else
        bad "sqlite: output differs under xalloc"
        diff "$work/sq.native" "$work/sq.xalloc" | head -20
    fi
}

# ------------------------------------------------------------------------ rg
part_rg() {
    local nfiles=$([ $quick = 1 ] && echo 1000 || echo 3000)
    python3 - "$work/tree" "$nfiles" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
words = ["alpha", "beta", "gamma", "delta", "malloc", "free", "realloc", "thread", "arena", "slab",
         "Cache", "PAGE", "chunk", "fork", "child", "parent", "xalloc", "Error", "warning", "idle"]
x = 12345
for i in range(n):
    d = os.path.join(root, "d%02d" % (i % 37), "e%d" % (i % 5))
    os.makedirs(d, exist_ok=True)
    lines = []
    for j in range(40 + i % 200):
        x = (x * 1103515245 + 12345) & 0x7fffffff
        lines.append(" ".join(words[(x >> k) % len(words)] for k in range(0, 24, 3)) + " %d" % (x % 1000))
    with open(os.path.join(d, "f%05d.txt" % i), "w") as f:
        f.write("\n".join(lines) + "\n")
PY
    local label rc fails=0 q
    # one search per entry, split on spaces (no pattern holds one)
    local -a queries=("-n malloc.*free" "-c -i error" "-l fork\\s+child" "-n -w PAGE|chunk\\s[0-9]{3}" "--files")
    set -f
    for q in "${queries[@]}"; do
        for label in native xalloc; do
            # -j4: several search threads; output order varies, so sort
            if [ $label = native ]; then
                limited 300 "$work/rg.$label" rg -j4 --no-config $q "$work/tree" /usr/include
            else
                limited 300 "$work/rg.$label" env LD_PRELOAD="$lib" rg -j4 --no-config $q "$work/tree" /usr/include
            fi
            rc=$?
            # rg exits 1 when nothing matched: both runs must agree
            echo "exit $rc" >> "$work/rg.$label"
            [ $rc != 124 ] || fails=$((fails + 1))
            sort "$work/rg.$label" > "$work/rg.$label.sorted"
        done
        if ! cmp -s "$work/rg.native.sorted" "$work/rg.xalloc.sorted"; then
            fails=$((fails + 1))
            echo "soak: rg $q: output differs under xalloc"
            diff "$work/rg.native.sorted" "$work/rg.xalloc.sorted" | head -10
        elif [ "$(wc -l < "$work/rg.xalloc.sorted")" -lt 10 ]; then
            fails=$((fails + 1))
            echo "soak: rg $q: only $(wc -l < "$work/rg.xalloc.sorted") lines: the search found nothing"
        fi
    done
    set +f
    if [ $fails = 0 ]; then
        ok "rg: ${#queries[@]} searches (-j4) over $nfiles generated files and /usr/include, sorted output identical"
    else
        bad "rg: $fails of ${#queries[@]} searches differ or hung"
    fi
}

# --------------------------------------------------------------------- build
part_build() {
    local n=50 label rc
    python3 - "$work/proj" "$n" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
os.makedirs(root, exist_ok=True)
decls = []
for i in range(n):
    with open(os.path.join(root, "m%02d.c" % i), "w") as f:
        f.write("#include <stdio.h>\n#include <string.h>\n#include <stdlib.h>\n")
        f.write("struct s%d { int a[%d]; const char *name; };\n" % (i, 4 + i % 13))
        for j in range(60):
            f.write("static unsigned long f%d_%d(unsigned long x) {\n" % (i, j))
            f.write("    unsigned long r = x * %dUL + %d;\n" % (2 * j + 3, i))
            f.write("    for (int k = 0; k < %d; k++) r = (r << 3) ^ (r >> 5) ^ (unsigned long)k;\n" % (3 + j % 7))
            f.write("    return r %% %dUL;\n}\n" % (1000003 + j))
        f.write("unsigned long mod%d(unsigned long x) {\n    unsigned long acc = x;\n" % i)
        for j in range(60):
            f.write("    acc += f%d_%d(acc);\n" % (i, j))
        f.write("    char buf[64]; snprintf(buf, sizeof buf, \"%%lu\", acc);\n    return acc + strlen(buf);\n}\n")
    decls.append("unsigned long mod%d(unsigned long);" % i)
with open(os.path.join(root, "main.c"), "w") as f:
    f.write("#include <stdio.h>\n" + "\n".join(decls) + "\n")
    f.write("int main(void) {\n    unsigned long x = 1;\n")
    for i in range(n):
        f.write("    x = mod%d(x); printf(\"%%d %%lu\\n\", %d, x);\n" % (i, i))
    f.write("    return 0;\n}\n")
objs = " ".join("m%02d.o" % i for i in range(n)) + " main.o"
with open(os.path.join(root, "Makefile"), "w") as f:
    f.write("CFLAGS = -O2 -Wall\nprog: %s\n\t$(CC) -o $@ $^\n%%.o: %%.c\n\t$(CC) $(CFLAGS) -c $<\n" % objs)
PY
    for label in native xalloc; do
        cp -r "$work/proj" "$work/proj.$label"
        if [ $label = native ]; then
            limited 900 "$work/build.$label" make -C "$work/proj.$label" -j2 CC=gcc
        else
            # exported: make, gcc, cc1, as, collect2 and ld all run preloaded
            limited 900 "$work/build.$label" env LD_PRELOAD="$lib" make -C "$work/proj.$label" -j2 CC=gcc
        fi
        rc=$?
        [ $rc = 0 ] || { bad "build: $label: make exit $rc"; tail -10 "$work/build.$label"; return; }
        (cd "$work/proj.$label" && sha256sum *.o > ../objs.$label && ./prog > ../out.$label)
    done
    if cmp -s "$work/objs.native" "$work/objs.xalloc" && cmp -s "$work/out.native" "$work/out.xalloc" &&
        [ "$(wc -l < "$work/out.xalloc")" = $n ]; then
        ok "build: make -j2 of $((n + 1)) generated C files, identical objects and program output"
    else
        bad "build: objects or program output differ under xalloc"
        diff "$work/objs.native" "$work/objs.xalloc" | head -5
    fi
}

# --------------------------------------------------------------------- redis
part_redis() {
    local rc
    limited 900 "$work/redis.log" env XALLOC_LIB="$lib" REDIS_N="${REDIS_N:-100000}" bash "$srcdir/hardening/redis.sh"
    rc=$?
    sed 's/^/      /' "$work/redis.log" | grep -v '^      redis: .*: "' | tail -8
    if [ $rc = 0 ] && grep -q "redis: 1 passed, 0 failed" "$work/redis.log"; then
        ok "redis: data set digest identical, redis-benchmark (${REDIS_N:-100000} requests per test) clean"
    else
        bad "redis: exit $rc"
        tail -20 "$work/redis.log"
    fi
}

t0=$SECONDS
for p in "${parts[@]}"; do
    s=$SECONDS
    "part_$p"
    echo "soak: ($p: $((SECONDS - s)) s)"
done
echo "soak: $pass passed, $fail failed ($((SECONDS - t0)) s, library $lib)"
[ $fail = 0 ]
