#!/usr/bin/env bash
# Race checking: build the prefixed allocator (xt_malloc, ...) with clang
# -fsanitize=thread and run the multithreaded workload tsan_stress.c (cross-
# thread frees, realloc, aligned, thread exit with full caches, statistics
# and malloc_trim from another thread, the background thread).  Any
# ThreadSanitizer report fails.  Part of `make check-long`; by hand:
#   XALLOC_LIB=/tmp/tb/src/.libs/libxalloc.so bash test/hardening/tsan.sh [rounds threads]
# Needs clang and libclang-rt-14-dev; without them: exit 77 (SKIP).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top_src=$(cd "$here/../.." && pwd)
lib=${XALLOC_LIB:?XALLOC_LIB must name src/.libs/libxalloc.so of a build}
top_build=$(cd "$(dirname "$lib")/../.." && pwd)
out=${TSAN_OUT:-$PWD/tsan-out}
CLANG=${CLANG:-clang}
command -v "$CLANG" >/dev/null || { echo "tsan: SKIP: $CLANG missing (apt-get install clang libclang-rt-14-dev)"; exit 77; }
mkdir -p "$out/obj" || exit 99
echo 'int main(void) { return 0; }' > "$out/probe.c"
"$CLANG" -fsanitize=thread "$out/probe.c" -o "$out/probe" 2>/dev/null || {
    echo "tsan: SKIP: $CLANG cannot link -fsanitize=thread (apt-get install libclang-rt-14-dev)"; exit 77; }
srcs=$(sed -n '/^XA_SOURCES = /,/^$/p' "$top_src/src/Makefile.am" | tr ' \t\\' '\n\n\n' | grep '\.c$')
flags=(-O1 -g -std=gnu11 -D_GNU_SOURCE -DXALLOC_PREFIX=xt_ -DXALLOC_TEST_BUILD=1
       -ftls-model=initial-exec -fno-builtin-malloc -fno-omit-frame-pointer
       -I"$top_src/include" -I"$top_build/include" -I"$top_src/src" -I"$top_build/src" -I"$top_src/test")
objs=()
for f in $srcs; do
    o="$out/obj/${f%.c}.o"
    "$CLANG" "${flags[@]}" -fsanitize=thread -c "$top_src/src/$f" -o "$o" 2>"$o.err" || {
        # GNU-C-only file (clang rejects it): gcc -fsanitize=thread uses the
        # same runtime ABI family but not the same library, so fail loudly.
        echo "tsan: note: clang rejects src/$f; built with gcc without instrumentation" >&2
        gcc "${flags[@]}" -c "$top_src/src/$f" -o "$o" || exit 99; }
    objs+=("$o")
done
"$CLANG" "${flags[@]}" -fsanitize=thread "$here/tsan_stress.c" "${objs[@]}" -lpthread -o "$out/tsan_stress" || exit 99
# Gate: idle-cache reclaim and descriptor compaction off (decay_ms:-1,
# compact:false, no malloc_trim or compaction request from the stress
# threads).  Both (src/idle.c) act on other threads after checking through
# /proc that they sleep in the kernel; that ordering goes through the
# scheduler, which ThreadSanitizer cannot see, so with them on TSan
# reports the owners' accesses against the background thread's.  That
# second run is printed for information only.
export TSAN_OPTIONS="halt_on_error=0 exitcode=66 report_signal_unsafe=0 history_size=4"
XALLOC_CONF=decay_ms:-1,compact:false timeout 900 "$out/tsan_stress" "${1:-6}" "${2:-4}" 0 > "$out/tsan.log" 2>&1
rc=$?
nrep=$(grep -c "WARNING: ThreadSanitizer" "$out/tsan.log")
tail -3 "$out/tsan.log"
timeout 900 "$out/tsan_stress" "${1:-6}" "${2:-4}" 1 > "$out/tsan-reclaim.log" 2>&1
echo "tsan: with idle reclaim (info): exit $?, $(grep -c "WARNING: ThreadSanitizer" "$out/tsan-reclaim.log") reports," \
    "$(grep -A12 "WARNING: ThreadSanitizer" "$out/tsan-reclaim.log" | grep -c -E "idle_visit|xa_idle|flush_n") frames in idle.c/flush_n ($out/tsan-reclaim.log)"
if [ $rc != 0 ] || [ "$nrep" != 0 ]; then
    grep -A30 "WARNING: ThreadSanitizer" "$out/tsan.log" | head -150 >&2
    echo "tsan: FAIL: exit $rc, $nrep reports (full log: $out/tsan.log)" >&2
    echo "tsan: 0 passed, 1 failed"
    exit 1
fi
echo "tsan: 1 passed, 0 failed"
