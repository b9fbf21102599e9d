#!/usr/bin/env bash
# Python's own regression tests under LD_PRELOAD=libxalloc.so, compared with
# the same run on glibc's malloc: the same modules must pass (the allocator
# must not turn a pass into a failure, a crash or a hang).  Uses Debian's
# /usr/bin/python3.11 and its test suite (apt-get install python3.11
# libpython3.11-testsuite).  Part of `make check-long`; by hand:
#
#   XALLOC_LIB=/tmp/tb/src/.libs/libxalloc.so bash test/hardening/python_suite.sh [module ...]
#
# PY_CONF: an XALLOC_CONF for the xalloc run (e.g. tcache:false).
set -u
PY=${PY:-/usr/bin/python3.11}
lib=${XALLOC_LIB:?XALLOC_LIB must name libxalloc.so}
[ -x "$PY" ] || { echo "python_suite: SKIP: $PY missing (apt-get install python3.11 libpython3.11-testsuite)"; exit 77; }
"$PY" -c 'import test.test_dict' 2>/dev/null || { echo "python_suite: SKIP: no test suite (apt-get install libpython3.11-testsuite)"; exit 77; }

mods=("$@")
if [ ${#mods[@]} = 0 ]; then
    # allocation-heavy modules
    mods=(test_dict test_list test_set test_bytes test_unicode test_json test_re
          test_threading test_gc test_pickle test_collections test_tuple
          test_deque test_heapq test_array test_bisect test_string test_unicodedata
          test_long test_float test_struct test_memoryview test_weakref test_itertools
          test_functools test_zlib test_hashlib test_io test_ordered_dict)
fi
work=$(mktemp -d /tmp/xalloc-pytest.XXXXXX)
trap 'rm -rf "$work"' EXIT

# One run: -j2 workers (they inherit LD_PRELOAD), result per module.
run() { # label preload conf
    local label=$1 pre=$2 conf=$3
    ( cd "$work" && env ${pre:+LD_PRELOAD=$pre} ${conf:+XALLOC_CONF=$conf} \
        timeout 1500 "$PY" -m test -j2 --timeout 600 "${mods[@]}" ) > "$work/$label.log" 2>&1
    echo $? > "$work/$label.rc"
    # "0:00:01 load avg: ... [ 3/30] test_x passed" / "... failed" / "crashed"
    grep -oE '\] (test_[a-z0-9_]+) (passed|failed|crashed|skipped|resource denied|timed out|interrupted)[^(]*' \
        "$work/$label.log" | sed 's/^\] //; s/ -- running:.*//; s/ *$//' | sort > "$work/$label.res"
}
run glibc "" ""
run xalloc "$lib" "${PY_CONF:-}"
# The preload really happened: python's malloc resolves to xalloc's.
env LD_PRELOAD="$lib" "$PY" -c 'import ctypes,sys; sys.exit(0 if ctypes.CDLL(None).xallocctl else 1)' \
    || { echo "python_suite: FAIL: libxalloc.so was not loaded into python" >&2; exit 1; }

n=$(wc -l < "$work/glibc.res")
echo "python_suite: ${#mods[@]} modules; glibc exit $(cat "$work/glibc.rc"), xalloc exit $(cat "$work/xalloc.rc")"
if ! diff -u "$work/glibc.res" "$work/xalloc.res"; then
    echo "python_suite: FAIL: results differ (above: - glibc, + xalloc)" >&2
    tail -60 "$work/xalloc.log" >&2
    echo "python_suite: 0 passed, 1 failed"
    exit 1
fi
if [ "$n" -lt "${#mods[@]}" ]; then
    echo "python_suite: FAIL: only $n of ${#mods[@]} module results found" >&2
    tail -30 "$work/glibc.log" >&2
    exit 1
fi
if [ "$(cat "$work/glibc.rc")" != "$(cat "$work/xalloc.rc")" ]; then
    echo "python_suite: FAIL: exit status differs" >&2; exit 1
fi
grep -c ' passed' "$work/xalloc.res" | sed 's/^/python_suite: modules passing under both: /'
grep -v ' passed' "$work/xalloc.res" | sed 's/^/python_suite: same result under both (not a pass): /'
echo "python_suite: 1 passed, 0 failed"
