#!/usr/bin/env bash
# redis-server under LD_PRELOAD=libxalloc.so, on loopback only, bounded:
#  1. a deterministic data set (60,000 commands through redis-cli --pipe:
#     strings of many sizes, appends that grow values through the size
#     classes, lists, hashes, sets, deletes) -> DEBUG DIGEST must equal the
#     digest of the same run without the preload;
#  2. redis-benchmark, 127.0.0.1, a fixed request count (REDIS_N, default
#     20000 per test) -> exit 0, no error line;
#  3. the server stays up (PING) and really had libxalloc mapped.
# Needs redis-server and redis-tools (Debian); without them: exit 77 (SKIP).  Part of `make check-long`.
#   XALLOC_LIB=/tmp/tb/src/.libs/libxalloc.so bash test/hardening/redis.sh
set -u
lib=${XALLOC_LIB:?XALLOC_LIB must name libxalloc.so}
N=${REDIS_N:-20000}
for p in redis-server redis-cli redis-benchmark; do
    command -v $p >/dev/null || { echo "redis: SKIP: $p missing (apt-get install redis-server redis-tools)"; exit 77; }
done
work=$(mktemp -d /tmp/xalloc-redis.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# the deterministic workload, in redis protocol
python3 - > "$work/cmds" <<'PY'
import sys
out = sys.stdout
def cmd(*a):
    out.write("*%d\r\n" % len(a))
    for x in a:
        x = str(x)
        out.write("$%d\r\n%s\r\n" % (len(x.encode()), x))
for i in range(20000):
    cmd("SET", "k:%d" % i, "v" * (1 + (i * 7919) % 3000))
for i in range(0, 20000, 3):
    cmd("APPEND", "k:%d" % i, "x" * (i % 200))
for i in range(0, 20000, 5):
    cmd("DEL", "k:%d" % i)
for i in range(10000):
    cmd("RPUSH", "l:%d" % (i % 50), "item-%d-%s" % (i, "y" * (i % 100)))
    cmd("HSET", "h:%d" % (i % 100), "f%d" % i, "z" * (i % 300))
    if i % 2:
        cmd("SADD", "s:%d" % (i % 20), "m%d" % i)
for i in range(0, 50, 2):
    cmd("LTRIM", "l:%d" % i, 10, 100)
PY

# run LABEL PRELOAD -> digest in $work/LABEL.digest
run() {
    local label=$1 pre=$2 port
    port=$(free_port)
    env ${pre:+LD_PRELOAD=$pre} redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
        --enable-debug-command local --dir "$work" --logfile "$work/$label.log" &
    pid=$!
    for _ in $(seq 100); do redis-cli -h 127.0.0.1 -p "$port" PING >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -h 127.0.0.1 -p "$port" PING | grep -q PONG || { echo "redis: FAIL: $label server did not start" >&2; cat "$work/$label.log" >&2; exit 1; }
    if [ -n "$pre" ] && ! grep -q "$(basename "$pre")" /proc/$pid/maps; then
        echo "redis: FAIL: libxalloc not mapped into redis-server" >&2; exit 1
    fi
    timeout 120 redis-cli -h 127.0.0.1 -p "$port" --pipe < "$work/cmds" > "$work/$label.pipe" 2>&1 \
        || { echo "redis: FAIL: $label: --pipe failed" >&2; cat "$work/$label.pipe" >&2; exit 1; }
    grep -q "errors: 0," "$work/$label.pipe" || { echo "redis: FAIL: $label: pipe errors" >&2; cat "$work/$label.pipe" >&2; exit 1; }
    redis-cli -h 127.0.0.1 -p "$port" DEBUG DIGEST > "$work/$label.digest"
    redis-cli -h 127.0.0.1 -p "$port" DBSIZE >> "$work/$label.digest"
    timeout 300 redis-benchmark -h 127.0.0.1 -p "$port" -n "$N" -c 20 -P 4 -d 200 -r 100000 -q --csv \
        -t set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,lrange_100,mset > "$work/$label.bench" 2>&1
    local rc=$?
    if [ $rc != 0 ] || grep -qi "error" "$work/$label.bench"; then
        echo "redis: FAIL: $label: redis-benchmark exit $rc" >&2; cat "$work/$label.bench" >&2; exit 1
    fi
    redis-cli -h 127.0.0.1 -p "$port" PING | grep -q PONG || { echo "redis: FAIL: $label: server died" >&2; exit 1; }
    redis-cli -h 127.0.0.1 -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1
    wait "$pid"; local src=$?
    pid=
    [ $src = 0 ] || { echo "redis: FAIL: $label: server exit status $src" >&2; tail -20 "$work/$label.log" >&2; exit 1; }
    echo "redis: $label: digest $(head -1 "$work/$label.digest"), $(tail -1 "$work/$label.digest") keys"
    sed "s/^/redis: $label: /" "$work/$label.bench"
}
run native ""
run xalloc "$lib"
if ! cmp -s "$work/native.digest" "$work/xalloc.digest"; then
    echo "redis: FAIL: data set differs under xalloc" >&2; exit 1
fi
echo "redis: 1 passed, 0 failed"
