#!/bin/bash
# programs.sh: run real, unmodified programs with and without
# LD_PRELOAD=$XALLOC_LIB and require identical stdout, stderr and exit status.
#
#   python3  test/integration/alloc_heavy.py (threads, dicts, lists, strings,
#            sqlite3 module); also with XALLOC_CONF=tcache:false, narenas:1
#   perl     hash/regex/string heavy script
#   sqlite3  CLI: a table with 20,000 rows, index, aggregates, join
#   git      init, add, commit, log --stat, fsck, gc in a fresh directory
#   bash     a loop building arrays, associative arrays and strings
#   cxx_prog test/integration/cxx_prog.cpp (std::string/map/vector/thread);
#            also with XALLOC_CONF=tcache:false, narenas:1
#
# A missing program is a failure, not a skip.  Environment (set by make check):
#   XALLOC_LIB  the library to preload      CXX_PROG  the built cxx_prog
#   TEST_SRCDIR test/ in the source tree
# Run one case by name: programs.sh python3 git ...
set -u

srcdir=${TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
pass=0
fail=0
failed_names=()

die() { echo "programs.sh: $*" >&2; exit 1; }

[ -n "${XALLOC_LIB:-}" ] || die "XALLOC_LIB is not set"
[ -r "$XALLOC_LIB" ] || die "XALLOC_LIB=$XALLOC_LIB does not exist"
[ -n "${CXX_PROG:-}" ] || die "CXX_PROG is not set"

unset LD_PRELOAD XALLOC_CONF
export LC_ALL=C TZ=UTC PYTHONHASHSEED=0 PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/xalloc-programs.XXXXXX") || die "mktemp"
trap 'rm -rf "$TMP"' EXIT
export HOME=$TMP/home
mkdir -p "$HOME"

# Run each program for at most this long (exit status 124 when it is killed).
LIMIT=${PROGRAMS_TIMEOUT:-180}

ok() { pass=$((pass + 1)); echo "PASS: $1"; }
bad() {
    fail=$((fail + 1))
    failed_names+=("$1")
    echo "FAIL: $1"
    shift
    [ $# -gt 0 ] && printf '      %s\n' "$@"
}

# A program that is not installed is skipped (one line); the script then
# exits 77 (SKIP) unless something failed: a skip is never a pass.
skip=0
need() {
    command -v "$1" >/dev/null 2>&1 || { skip=$((skip + 1)); echo "SKIP: $1 missing (apt-get install $1; CI installs it)"; return 1; }
}

# The preload must really be in effect: the library has to show up in the
# process's own memory map.
check_mapped() { # name, command that prints a count of libxalloc lines in its own /proc/self/maps
    local name=$1
    shift
    local n
    n=$(env LD_PRELOAD="$XALLOC_LIB" "$@" 2>"$TMP/mapped.err")
    if [ "${n:-0}" -gt 0 ] 2>/dev/null; then
        return 0
    fi
    bad "$name: preload" "libxalloc not in the process map of: $*" "$(head -c 2000 "$TMP/mapped.err")"
    return 1
}

# Same, for any dynamically linked program: the dynamic loader reports
# running the library's initialisers.
check_loaded() { # name, command (cheap to run)
    local name=$1
    shift
    local n
    n=$(env LD_PRELOAD="$XALLOC_LIB" LD_DEBUG=libs "$@" 2>&1 >/dev/null | grep -c "calling init: .*$(basename "$XALLOC_LIB")")
    [ "${n:-0}" -gt 0 ] && return 0
    bad "$name: preload" "the dynamic loader did not initialise $XALLOC_LIB in: $*"
    return 1
}

# compare NAME CONF FUNC [ARGS]: FUNC runs the program, prefixing the real
# program with "${RUN[@]}" (empty for the reference run, env LD_PRELOAD=...
# for the xalloc run).  CONF is an XALLOC_CONF value or "".
compare() {
    local name=$1 conf=$2 fn=$3
    shift 3
    local d=$TMP/$(echo "$name" | tr -c 'A-Za-z0-9_\n-' '_')
    mkdir -p "$d/ref" "$d/x"
    RUN=(timeout "$LIMIT" env)
    (cd "$d/ref" && "$fn" "$@") >"$d/ref.out" 2>"$d/ref.err"
    local rc_ref=$?
    if [ -n "$conf" ]; then
        RUN=(timeout "$LIMIT" env LD_PRELOAD="$XALLOC_LIB" XALLOC_CONF="$conf")
    else
        RUN=(timeout "$LIMIT" env LD_PRELOAD="$XALLOC_LIB")
    fi
    local t0=$(date +%s%N)
    (cd "$d/x" && "$fn" "$@") >"$d/x.out" 2>"$d/x.err"
    local rc_x=$?
    local ms=$((($(date +%s%N) - t0) / 1000000))
    local why=()
    [ "$rc_ref" -eq 0 ] || why+=("reference run (no preload) exited $rc_ref: $(head -c 1000 "$d/ref.err")")
    [ "$rc_x" -eq "$rc_ref" ] || why+=("exit status $rc_x under xalloc, $rc_ref without")
    [ "$rc_x" -ne 124 ] || why+=("timed out after ${LIMIT}s under xalloc")
    [ -s "$d/ref.out" ] || why+=("the reference run printed nothing")
    cmp -s "$d/ref.out" "$d/x.out" || why+=("stdout differs:" "$(diff "$d/ref.out" "$d/x.out" | head -20)")
    cmp -s "$d/ref.err" "$d/x.err" || why+=("stderr differs:" "$(diff "$d/ref.err" "$d/x.err" | head -20)")
    if [ ${#why[@]} -eq 0 ]; then
        ok "$name (${ms} ms under xalloc, $(wc -l <"$d/x.out") lines of output)"
    else
        bad "$name" "${why[@]}"
    fi
}

# ------------------------------------------------------------------ python3

PYTHON=${PYTHON:-python3}
run_python() { "${RUN[@]}" "$PYTHON" "$srcdir/integration/alloc_heavy.py" "$@"; }

case_python3() {
    need "$PYTHON" || return
    check_mapped python3 "$PYTHON" -c 'print(open("/proc/self/maps").read().count("libxalloc"))' || return
    compare "python3" "" run_python
    compare "python3 tcache:false" "tcache:false" run_python
    compare "python3 narenas:1" "narenas:1" run_python
}

# --------------------------------------------------------------------- perl

run_perl() {
    "${RUN[@]}" perl -e '
        use strict; use warnings; use Digest::MD5 qw(md5_hex);
        my (%h, @a, $s);
        for my $i (1 .. 200000) {
            my $k = "key" . ($i * 7919 % 50021);
            $h{$k} .= chr(65 + $i % 26);
            push @a, "x" x ($i % 37) if $i % 3 == 0;
        }
        for my $k (sort keys %h) { $s .= $k . "=" . length($h{$k}) . ";" }
        my @m = ($s =~ /key(\d+)=(\d+);/g);
        my %cnt; $cnt{$_}++ for @m;
        my $t = join ",", map { "$_:$cnt{$_}" } sort { $a <=> $b } keys %cnt;
        (my $u = $s) =~ s/key(\d)(\d*)/K$2$1/g;
        my @sp = split /;/, $u;
        my %rev = reverse %h;
        print scalar(keys %h), " ", scalar(@a), " ", length($s), " ", scalar(@m), "\n";
        print md5_hex($s), " ", md5_hex($t), " ", md5_hex(join "|", sort @sp), "\n";
        print scalar(keys %rev), " ", md5_hex(join "", sort values %h), "\n";
        delete $h{$_} for grep { /7$/ } keys %h;
        print scalar(keys %h), "\n";
    '
}

case_perl() {
    need perl || return
    check_mapped perl perl -e 'open(my $f, "<", "/proc/self/maps") or die; my $n = grep { /libxalloc/ } <$f>; print "$n\n"' || return
    compare "perl" "" run_perl
}

# ------------------------------------------------------------------ sqlite3

run_sqlite3() {
    "${RUN[@]}" sqlite3 "$PWD/t.db" <<'SQL'
PRAGMA journal_mode=WAL;
CREATE TABLE item (id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, price REAL, blob BLOB);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO item (grp, name, price, blob)
  SELECT i % 37, 'name-' || (i * 7919 % 20011) || '-' || substr('abcdefghijklmnopqrstuvwxyz', i % 26 + 1),
         (i * 31 % 1000) / 10.0, zeroblob(i % 700)
  FROM n;
CREATE INDEX item_grp ON item(grp, price);
CREATE TABLE grp (id INTEGER PRIMARY KEY, label TEXT);
WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < 36)
INSERT INTO grp SELECT i, 'group ' || i FROM g;
SELECT count(*), sum(price), round(avg(price), 4), min(name), max(name), sum(length(blob)) FROM item;
SELECT g.label, count(*), round(sum(i.price), 2), max(length(i.name))
  FROM item i JOIN grp g ON g.id = i.grp GROUP BY g.label ORDER BY g.label;
SELECT grp, group_concat(id, ',') FROM (SELECT grp, id FROM item WHERE price > 99 ORDER BY id) GROUP BY grp ORDER BY grp LIMIT 5;
UPDATE item SET name = upper(name) || name WHERE id % 3 = 0;
DELETE FROM item WHERE id % 5 = 0;
VACUUM;
SELECT count(*), sum(length(name)) FROM item;
PRAGMA integrity_check;
SQL
}

case_sqlite3() {
    need sqlite3 || return
    check_loaded sqlite3 sqlite3 --version || return
    compare "sqlite3" "" run_sqlite3
}

# ---------------------------------------------------------------------- git

run_git() {
    export GIT_AUTHOR_NAME=Test GIT_AUTHOR_EMAIL=test@example.invalid \
        GIT_COMMITTER_NAME=Test GIT_COMMITTER_EMAIL=test@example.invalid \
        GIT_AUTHOR_DATE='2024-01-01T00:00:00Z' GIT_COMMITTER_DATE='2024-01-01T00:00:00Z' \
        GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
    local g=("${RUN[@]}" git -c gc.autoDetach=false -c init.defaultBranch=main -c core.autocrlf=false)
    "${g[@]}" init -q repo || return 1
    cd repo || return 1
    local i
    for i in $(seq 1 200); do
        mkdir -p "dir$((i % 10))"
        seq "$i" $((i * 50)) >"dir$((i % 10))/file$i.txt"
    done
    "${g[@]}" add -A || return 1
    "${g[@]}" commit -q -m "first commit" || return 1
    for i in $(seq 1 200 | awk 'NR % 3 == 0'); do
        echo "change $i" >>"dir$((i % 10))/file$i.txt"
    done
    rm -f dir1/file1*.txt
    "${g[@]}" add -A || return 1
    "${g[@]}" commit -q -m "second commit" || return 1
    "${g[@]}" log --stat
    "${g[@]}" diff --stat HEAD~1 HEAD
    "${g[@]}" gc -q || return 1
    "${g[@]}" fsck --full --strict 2>&1
    "${g[@]}" count-objects -v | grep -e '^count' -e '^in-pack' -e '^packs'
    "${g[@]}" rev-parse HEAD HEAD~1
}

case_git() {
    need git || return
    check_loaded git git --version || return
    compare "git" "" run_git
}

# --------------------------------------------------------------------- bash

run_bash() {
    "${RUN[@]}" bash -c '
        declare -a arr=()
        declare -A h=()
        s=""
        for ((i = 0; i < 30000; i++)); do
            arr+=("item$((i * 7 % 1000))")
            s+="${i: -1}"
            h["k$((i % 997))"]+="x"
        done
        for ((i = 0; i < 5000; i++)); do unset "arr[$((i * 3))]"; done
        t="${s//5/five}"
        u=$(printf "%s\n" "${!h[@]}" | wc -l)
        echo "${#arr[@]} ${#s} ${#t} ${#h[@]} $u"
        echo "${arr[*]:100:5}" "${h[k5]:0:10}"
        cnt=0; for v in "${arr[@]}"; do [[ $v == *99* ]] && ((cnt++)); done; echo "$cnt"
        x=$(for i in {1..2000}; do echo "line $i"; done | tail -1); echo "$x"
    '
}

case_bash() {
    need bash || return
    check_mapped bash bash -c 'n=0; while read -r l; do [[ $l == *libxalloc* ]] && ((n++)); done </proc/$$/maps; echo $n' || return
    compare "bash" "" run_bash
}

# -------------------------------------------------------------- C++ program

run_cxx() { "${RUN[@]}" "$CXX_PROG"; }

case_cxx() {
    [ -x "$CXX_PROG" ] || { bad "cxx_prog" "CXX_PROG=$CXX_PROG is not an executable"; return; }
    check_loaded cxx_prog "$CXX_PROG" || return
    compare "cxx_prog" "" run_cxx
    compare "cxx_prog tcache:false" "tcache:false" run_cxx
    compare "cxx_prog narenas:1" "narenas:1" run_cxx
    compare "cxx_prog narenas:1,tcache:false" "narenas:1,tcache:false" run_cxx
}

# --------------------------------------------------------------------- main

all=(python3 perl sqlite3 git bash cxx)
[ $# -gt 0 ] && all=("$@")
for c in "${all[@]}"; do
    case $c in
        python3 | perl | sqlite3 | git | bash | cxx) "case_$c" ;;
        *) die "unknown case $c (one of: python3 perl sqlite3 git bash cxx)" ;;
    esac
done

echo "programs: $pass passed, $fail failed, $skip skipped"
if [ "$fail" -gt 0 ]; then
    echo "failed: ${failed_names[*]}"
    exit 1
fi
[ "$skip" -gt 0 ] && exit 77
exit 0
