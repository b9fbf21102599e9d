#!/usr/bin/env bash
# Fuzz the http endpoint's request parser (src/http_parse.c, pure) with
# libFuzzer for FUZZ_HTTP_SECONDS (default 20) in `make check`; the
# harness (fuzz_http.c) checks the contract of src/http.h.  A seed corpus
# of real requests is written first.  Needs clang + libclang-rt-14-dev:
# without them it says which is missing and exits 77 (SKIP), like
# fuzz/run.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top_src=$(cd "$here/../.." && pwd)
out=${FUZZ_OUT:-$PWD/fuzz-http-out}
secs=${FUZZ_HTTP_SECONDS:-20}
CLANG=${CLANG:-clang}
if ! command -v "$CLANG" >/dev/null; then
    echo "fuzz_http: SKIP: $CLANG missing (apt-get install clang libclang-rt-14-dev)"
    exit 77
fi
mkdir -p "$out/corpus" || exit 99
"$CLANG" -O1 -g -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$top_src/src" "$here/fuzz_http.c" "$top_src/src/http_parse.c" -o "$out/fuzz_http" ||
    { echo "fuzz_http: SKIP: $CLANG cannot build a -fsanitize=fuzzer harness (apt-get install libclang-rt-14-dev)"; exit 77; }
printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1:6060\r\n\r\n' > "$out/corpus/seed-index"
printf 'GET /debug/pprof/heap?debug=1&seconds=5 HTTP/1.1\r\nHost: x\r\nUser-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n' > "$out/corpus/seed-pprof"
printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\nX-Prometheus-Scrape-Timeout-Seconds: 1\r\n\r\n' > "$out/corpus/seed-prom"
printf 'HEAD /stats.json HTTP/1.0\n\n' > "$out/corpus/seed-lf"
echo "fuzz_http: running $out/fuzz_http for ${secs}s"
cd "$out" || exit 99
./fuzz_http -max_total_time="$secs" -max_len=9000 -timeout=10 -print_final_stats=1 corpus > fuzz.log 2>&1
rc=$?
tail -8 fuzz.log
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' fuzz.log)
if [ "$rc" != 0 ] || ls crash-* leak-* timeout-* oom-* >/dev/null 2>&1; then
    echo "fuzz_http: FAIL: exit $rc; see $out/fuzz.log and the crash-* inputs" >&2
    exit 1
fi
if [ -z "$runs" ] || [ "$runs" -lt 1000 ]; then
    echo "fuzz_http: FAIL: only ${runs:-0} inputs executed" >&2
    exit 1
fi
echo "fuzz_http: $runs inputs, no failure"
echo "fuzz_http: 1 passed, 0 failed"
exit 0
