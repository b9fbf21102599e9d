#!/usr/bin/env bash
# Build the libFuzzer harness (test/fuzz/fuzz_alloc.c) against a clang
# build of the prefixed allocator (xt_malloc, ...; -DXALLOC_PREFIX=xt_,
# compiled with -fsanitize=fuzzer-no-link,address so the fuzzer sees the
# allocator's coverage and ASan checks its metadata accesses), then fuzz for
# FUZZ_SECONDS (default 45).  Run by `make check` (test/Makefile.am); by hand:
#
#   XALLOC_LIB=/tmp/tb/src/.libs/libxalloc.so FUZZ_SECONDS=3600 \
#       bash test/fuzz/run.sh            # an hour; corpus kept in fuzz-out/
#
# clang and libclang-rt-14-dev are required: without them this test says
# which is missing and exits 77 (SKIP, never counted as a pass).  A crash leaves crash-* in fuzz-out/ and
# fails the test; reproduce with `fuzz-out/fuzz_alloc fuzz-out/crash-...`.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top_src=$(cd "$here/../.." && pwd)
lib=${XALLOC_LIB:?XALLOC_LIB must name src/.libs/libxalloc.so of a build}
top_build=$(cd "$(dirname "$lib")/../.." && pwd)
out=${FUZZ_OUT:-$PWD/fuzz-out}
secs=${FUZZ_SECONDS:-45}
CLANG=${CLANG:-clang}

if ! command -v "$CLANG" >/dev/null; then
    echo "fuzz: SKIP: $CLANG missing (apt-get install clang libclang-rt-14-dev)"
    exit 77
fi
mkdir -p "$out/obj" "$out/corpus" || exit 99
# libFuzzer's runtime comes in a separate package
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' > "$out/probe.c"
"$CLANG" -fsanitize=fuzzer "$out/probe.c" -o "$out/probe" 2>/dev/null || {
    echo "fuzz: SKIP: $CLANG cannot link -fsanitize=fuzzer (apt-get install libclang-rt-14-dev)"; exit 77; }

# The allocator's sources: the XA_SOURCES list of src/Makefile.am.
srcs=$(sed -n '/^XA_SOURCES = /,/^$/p' "$top_src/src/Makefile.am" | tr ' \t\\' '\n\n\n' | grep '\.c$')
[ -n "$srcs" ] || { echo "fuzz: FAIL: cannot read XA_SOURCES" >&2; exit 99; }

flags=(-O1 -g -std=gnu11 -D_GNU_SOURCE -DXALLOC_PREFIX=xt_ -DXALLOC_TEST_BUILD=1
       -ftls-model=initial-exec -fno-builtin-malloc -fno-omit-frame-pointer
       -I"$top_src/include" -I"$top_build/include" -I"$top_src/src" -I"$top_build/src" -I"$top_src/test")
objs=()
for f in $srcs; do
    o="$out/obj/${f%.c}.o"
    # rebuilt when its source, config.h or any header / .def of src/ changed
    if [ ! -e "$o" ] || [ "$top_src/src/$f" -nt "$o" ] || [ "$top_build/src/config.h" -nt "$o" ] ||
       [ -n "$(find "$top_src/src" \( -name '*.h' -o -name '*.def' \) -newer "$o" -print -quit)" ]; then
        # A file clang rejects (GNU C only) is built by gcc without
        # coverage or ASan, with a note: the fuzzer still calls into it.
        "$CLANG" "${flags[@]}" -fsanitize=fuzzer-no-link,address -c "$top_src/src/$f" -o "$o" 2>"$o.err" || {
            echo "fuzz: note: clang rejects src/$f (see $o.err); built with gcc, no coverage" >&2
            gcc "${flags[@]}" -c "$top_src/src/$f" -o "$o" || {
                echo "fuzz: FAIL: cannot compile src/$f" >&2; exit 99; }; }
    fi
    objs+=("$o")
done
"$CLANG" "${flags[@]}" -fsanitize=fuzzer,address "$here/fuzz_alloc.c" "${objs[@]}" -lpthread -lm \
    -o "$out/fuzz_alloc" || { echo "fuzz: FAIL: cannot link the harness (libclang-rt-14-dev missing?)" >&2; exit 99; }

echo "fuzz: running $out/fuzz_alloc for ${secs}s"
cd "$out" || exit 99
ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
./fuzz_alloc -max_total_time="$secs" -max_len=4096 -timeout=30 -rss_limit_mb=6000 \
    -print_final_stats=1 corpus > fuzz.log 2>&1
rc=$?
tail -25 fuzz.log
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' fuzz.log)
if [ "$rc" != 0 ] || ls crash-* leak-* timeout-* oom-* >/dev/null 2>&1; then
    echo "fuzz: FAIL: exit $rc; see $out/fuzz.log and the crash-* inputs" >&2
    exit 1
fi
# The harness must have run: the whole corpus replayed (INITED) and inputs
# executed.  No minimum count: on a loaded machine replaying the kept
# corpus alone can take most of FUZZ_SECONDS (524 inputs in 52 s at load 25).
if [ -z "$runs" ] || [ "$runs" -lt 1 ] || ! grep -q 'INITED' fuzz.log; then
    echo "fuzz: FAIL: the harness did not run the corpus (${runs:-0} inputs executed)" >&2
    exit 1
fi
echo "fuzz: $runs inputs, no failure"
echo "fuzz: 1 passed, 0 failed"
exit 0
