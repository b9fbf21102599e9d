#!/usr/bin/env bash
# The http endpoint (src/http.c) under a running program: the index, the
# text and JSON reports, /metrics through `promtool check metrics`, errors
# (404, 405), requests that are garbage, huge (1 MiB head), slow (nothing
# sent; a byte every 200 ms): each gets an error or a closed connection
# within http_timeout_ms, the program runs on meanwhile and the endpoint
# keeps serving; a non-loopback address is refused with one line; a unix
# socket is 0600, serves its owner and gives 403 to another uid
# (SO_PEERCRED; that part needs root and is reported as skipped without).
# Fails against a library without the endpoint (nothing answers).
. "$(dirname "$0")/common.sh"
need curl python3 promtool

port=$(free_port)
start_child "http:127.0.0.1:$port,http_timeout_ms:1500" 8
url=http://127.0.0.1:$port
wait_http "$url/"

# the index lists every endpoint
idx=$(curl -sf "$url/") || fail "GET / failed"
for p in /metrics /stats /stats.json /debug/pprof/heap; do
    grep -q "href=\"$p\"" <<<"$idx" || fail "the index does not link $p"
done
curl -sf "$url/stats" | grep -q '^___ xalloc statistics: pid [0-9]* (' || fail "/stats is not the report (first line: pid and program)"
curl -sf "$url/stats.json" | python3 -c '
import json, sys
d = json.load(sys.stdin)["xalloc"]
assert d["stats"]["allocated"] >= 8 << 20, d["stats"]["allocated"]
' || fail "/stats.json does not parse or misses the 8 MiB the child holds"
curl -sf "$url/metrics" > "$work/metrics" || fail "GET /metrics failed"
promtool check metrics < "$work/metrics" || fail "promtool check metrics rejects /metrics"
awk '$1 == "xalloc_allocated_bytes" && $2 >= 8388608 { ok = 1 } END { exit !ok }' "$work/metrics" ||
    fail "xalloc_allocated_bytes is not >= 8 MiB"
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "$url/nope")" = 404 ] || fail "unknown path is not 404"
[ "$(code -X POST "$url/")" = 405 ] || fail "POST is not 405"
[ "$(code "$url/debug/pprof/heap")" = 404 ] || fail "heap profile without prof:true is not 404"
[ "$(code -I "$url/metrics")" = 200 ] || fail "HEAD /metrics is not 200"
echo "$name: index, /stats, /stats.json, /metrics (promtool), 404, 405, HEAD: ok"

# Bad clients, one after the other and one slow client while another asks.
python3 - "$port" "$beat" <<'PY' || fail "bad requests (see above)"
import os, socket, sys, threading, time
port, beat = int(sys.argv[1]), sys.argv[2]
def rounds():
    try:
        return int(open(beat).read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    return s
def answer(s, limit=20.0):
    """the status code, or 'closed' if the server closed without one"""
    s.settimeout(limit)
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except (ConnectionResetError, BrokenPipeError):
        pass
    s.close()
    if data.startswith(b"HTTP/1.1 "):
        return int(data[9:12])
    return "closed"
def check(label, got, allowed):
    print(f"{label}: {got}")
    if got not in allowed:
        print(f"FAIL: {label}: expected one of {allowed}", file=sys.stderr)
        sys.exit(1)

# garbage, at its first bad byte
s = conn(); s.sendall(bytes(range(256)) * 4); check("garbage", answer(s), (400, "closed"))
s = conn(); s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"); check("TLS hello", answer(s), (400, "closed"))
s = conn(); s.sendall(b"GET / HTTP/1.1\r\nHost x\r\n\r\n"); check("header without colon", answer(s), (400,))
s = conn(); s.sendall(b"GET / HTTP/2.0\r\n\r\n"); check("HTTP/2.0", answer(s), (505,))
s = conn(); s.sendall(b"GET nothing HTTP/1.1\r\n\r\n"); check("target not /...", answer(s), (400,))
# 1 MiB head: answered 431 (or cut) after 8 KiB
s = conn()
try:
    s.sendall(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")
except (ConnectionResetError, BrokenPipeError):
    pass
check("1 MiB head", answer(s), (431, "closed"))
# slow: nothing sent; another client meanwhile; the program runs on
t0 = time.time(); r0 = rounds()
slow = conn()
res = {}
def other():
    o = conn(); o.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"); res["other"] = answer(o)
th = threading.Thread(target=other); time.sleep(0.2); th.start()
check("silent client", answer(slow), (408, "closed"))
dt = time.time() - t0
th.join(30)
check("client behind the silent one", res.get("other"), (200,))
r1 = rounds()
print(f"silent client cut after {dt:.1f} s; the program did {r1 - r0} rounds meanwhile")
if dt > 10:
    print("FAIL: the silent client held the server more than 10 s (http_timeout_ms:1500)", file=sys.stderr); sys.exit(1)
if r1 <= r0:
    print("FAIL: the program made no progress while a client stalled", file=sys.stderr); sys.exit(1)
# slowloris: a byte every 200 ms never completes the head
s = conn(); t0 = time.time(); got = None
try:
    for c in b"GET / HTTP/1.1\r\nX-Slow: " + b"z" * 100:
        s.send(bytes([c])); time.sleep(0.2)
        if time.time() - t0 > 12: break
except (ConnectionResetError, BrokenPipeError):
    got = "closed"
got = got or answer(s)
check("byte-a-second client", got, (408, "closed"))
if time.time() - t0 > 12:
    print("FAIL: the trickling client was not cut", file=sys.stderr); sys.exit(1)
# many clients that connect and close at once
for _ in range(50):
    c = conn(); c.close()
PY
kill -0 "$child" 2>/dev/null || fail "the program died"
curl -sf --max-time 10 "$url/metrics" | promtool check metrics || fail "/metrics not served after the bad requests"
echo "$name: garbage, 1 MiB head, silent and trickling clients: error or close; program and endpoint run on: ok"
stop_child

# a non-loopback address is refused with one line, unless http_public:true
p2=$(free_port)
env LD_PRELOAD="$lib" XALLOC_CONF="http:0.0.0.0:$p2" "$HTTP_CHILD" 0 "$work/b2" 0 > "$work/pub.out" 2>&1 </dev/null
grep -c 'http: 0.0.0.0:.* is not a loopback address: refused' "$work/pub.out" | grep -qx 1 ||
    { cat "$work/pub.out" >&2; fail "0.0.0.0 not refused with one line"; }
start_child "http:0.0.0.0:$p2,http_public:true" 0
wait_http "http://127.0.0.1:$p2/"
stop_child
echo "$name: 0.0.0.0 refused without http_public:true, served with it: ok"

# fork: the child does not serve and does not keep the address once the
# parent is gone (its copy of the listening socket is closed)
p3=$(free_port)
start_child "http:127.0.0.1:$p3" 0 60 fork
wait_http "http://127.0.0.1:$p3/"
for _ in $(seq 100); do fpid=$(sed -n 's/^forked //p' "$child_out"); [ -n "$fpid" ] && break; sleep 0.1; done
[ -n "$fpid" ] && kill -0 "$fpid" 2>/dev/null || fail "no forked child"
extra_pids="${extra_pids:-} $fpid"
n=$(ls -l /proc/"$fpid"/fd 2>/dev/null | grep -c 'socket:')
stop_child
kill -0 "$fpid" 2>/dev/null || fail "the forked child is gone too early"
[ "$n" = 0 ] || fail "the forked child holds $n sockets (the listening socket was not closed)"
got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$p3/")
[ "$got" = 000 ] || fail "something still answers on the parent's port after it exited: $got"
start_child "http:127.0.0.1:$p3" 0
wait_http "http://127.0.0.1:$p3/"
stop_child
kill "$fpid" 2>/dev/null
echo "$name: a fork child holds no socket of the endpoint; the port is free after the parent exits: ok"

# the endpoint's thread does not keep a process alive whose main thread
# called pthread_exit, with or without the background thread
for bg in true false; do
    timeout 20 env LD_PRELOAD="$lib" XALLOC_CONF="http:127.0.0.1:$(free_port),background_thread:$bg" \
        "$HTTP_CHILD" 0 "$work/b4" 1 pexit > "$work/pexit.out" 2>&1 < /dev/null
    rc=$?
    [ "$rc" = 0 ] || { cat "$work/pexit.out" >&2; fail "pthread_exit from main, background_thread:$bg: exit $rc (124: kept alive)"; }
done
echo "$name: main's pthread_exit ends the process with the endpoint on (background thread on and off): ok"

# unix socket: 0600, served to its owner, 403 to another uid
sock=$work/x.sock
start_child "http:unix:$sock" 0
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ "$(stat -c %a "$sock")" = 600 ] || fail "the unix socket is not 0600 ($(stat -c %a "$sock"))"
curl -sf --unix-socket "$sock" http://x/metrics | promtool check metrics || fail "/metrics over the unix socket"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    chmod 0711 "$work"; chmod 0666 "$sock" # let "nobody" reach the socket: only SO_PEERCRED stops it now
    got=$(setpriv --reuid=65534 --regid=65534 --clear-groups curl -s -o /dev/null -w '%{http_code}' \
        --unix-socket "$sock" http://x/metrics)
    [ "$got" = 403 ] || fail "another uid got $got, not 403"
    echo "$name: unix socket 0600, owner served, another uid 403: ok"
else
    echo "$name: unix socket 0600, owner served: ok (another uid: skipped, needs root and setpriv)"
fi
kill -9 "$child"; wait "$child" 2>/dev/null; child=; exec 9>&-
# the socket file a killed process left is taken over
start_child "http:unix:$sock" 0
for _ in $(seq 100); do curl -sf --unix-socket "$sock" http://x/ -o /dev/null && break; sleep 0.1; done
curl -sf --unix-socket "$sock" http://x/ -o /dev/null || fail "stale socket file not replaced"
stop_child
[ -e "$sock" ] && fail "the socket file is left after exit"
echo "$name: stale socket replaced, removed at exit: ok"
echo "$name: 1 passed, 0 failed"
