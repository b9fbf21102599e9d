#!/usr/bin/env bash
# Heap profiles from the http endpoint: `go tool pprof -top` (Debian
# golang-go; offline: GOTOOLCHAIN=local GOPROXY=off, HOME and GOCACHE in a
# temp dir) reads /debug/pprof/heap (profile.proto) from a saved file and
# straight from the URL, and names the program's top call sites with their
# true shares of the live bytes (60/30/10%) within +-10% (relative) at
# lg_prof_sample:14; google-pprof reads ?debug=1 (legacy heap_v2 text) with
# the same result; prof_format:pprof makes the final dump a profile.proto
# file go tool pprof reads.  The site functions are static in a program not
# linked with -rdynamic: their names come from its symbol table.
# Fails against a library without the endpoint.
. "$(dirname "$0")/common.sh"
need curl python3 go google-pprof
export HOME=$work/home GOCACHE=$work/gocache GOTOOLCHAIN=local GOPROXY=off GOFLAGS=
mkdir -p "$HOME"

# the shares of the live bytes: "name pct" lines from `pprof -top` output
# (go: flat% in column 2; google-pprof: column 2 too), for the three sites
shares() { awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^site_(big|mid|small)$/) { sub("%", "", $2); print $i, $2 } }'; }
# check SHARES-FILE LABEL: every site within max(10%, 4 standard errors) of
# its true share.  A site of B bytes sampled every 2^14 bytes on average
# gets about B / 2^14 samples, so its estimate has a relative standard
# error of about 1/sqrt(B / 2^14): 5.7% for the 5 MB site, which a fixed
# 10% bound would fail about one run in ten.
check() {
    python3 - "$1" "$2" "$child_out" <<'PY' || fail "$2: shares off (see above)"
import re, sys
got = dict((l.split()[0], float(l.split()[1])) for l in open(sys.argv[1]) if l.strip())
true = dict((k, int(v)) for k, v in re.findall(r"(site_\w+) (\d+)", open(sys.argv[3]).read()))
tot = sum(true.values())
ok = True
for k, v in true.items():
    want = 100.0 * v / tot
    g = got.get(k)
    print(f"{sys.argv[2]}: {k}: {g}% of live bytes, true {want:.1f}%")
    tol = max(0.10, 4.0 / (v / 16384.0) ** 0.5)
    if g is None or abs(g - want) > tol * want:
        ok = False
sys.exit(0 if ok else 1)
PY
}

port=$(free_port)
start_child "http:127.0.0.1:$port,prof:true,lg_prof_sample:14,prof_final:true,prof_format:pprof,prof_prefix:$work/dump" 48
url=http://127.0.0.1:$port
wait_http "$url/"

# a saved profile
curl -sf -o "$work/heap.pb" "$url/debug/pprof/heap" || fail "GET /debug/pprof/heap"
go tool pprof -top "$work/heap.pb" > "$work/file.top" 2> "$work/file.err" || { cat "$work/file.err" >&2; fail "go tool pprof cannot read the saved profile"; }
grep -q '^Type: inuse_space' "$work/file.top" || fail "not an inuse_space profile"
shares < "$work/file.top" > "$work/file.shares"
check "$work/file.shares" "go tool pprof -top FILE"
# the first row is the largest site
awk '/flat%/ { getline; print $NF; exit }' "$work/file.top" | grep -qx site_big || { cat "$work/file.top" >&2; fail "site_big is not the top entry"; }
go tool pprof -sample_index=inuse_objects -top "$work/heap.pb" | grep -q site_big || fail "no inuse_objects samples"

# straight from the URL
go tool pprof -top "$url/debug/pprof/heap" > "$work/url.top" 2> "$work/url.err" || { cat "$work/url.err" >&2; fail "go tool pprof cannot fetch the URL"; }
shares < "$work/url.top" > "$work/url.shares"
check "$work/url.shares" "go tool pprof -top URL"

# ?debug=1: the legacy text, read by google-pprof with the program
curl -sf -o "$work/heap.txt" "$url/debug/pprof/heap?debug=1" || fail "GET ?debug=1"
head -1 "$work/heap.txt" | grep -q '^heap profile: .* @ heap_v2/16384$' || fail "?debug=1 is not a heap_v2 profile"
google-pprof --text "$HTTP_CHILD" "$work/heap.txt" > "$work/legacy.top" 2> "$work/legacy.err" || { cat "$work/legacy.err" >&2; fail "google-pprof cannot read ?debug=1"; }
awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^site_(big|mid|small)$/) { sub("%", "", $2); print $i, $2 } }' "$work/legacy.top" > "$work/legacy.shares"
check "$work/legacy.shares" "google-pprof --text ?debug=1"

[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/debug/pprof/heap?seconds=0")" = 400 ] || fail "seconds=0 not 400"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/debug/pprof/heap?seconds=2&debug=1")" = 400 ] ||
    fail "seconds with debug=1 not 400"

# prof_format:pprof: the final dump at exit is profile.proto
stop_child
f=$(ls "$work"/dump.*.f.heap.pb 2>/dev/null | head -1)
[ -n "$f" ] || { ls "$work" >&2; fail "no final dump <prefix>.<pid>.<seq>.f.heap.pb"; }
go tool pprof -top "$f" > "$work/final.top" 2>&1 || { cat "$work/final.top" >&2; fail "go tool pprof cannot read $f"; }
shares < "$work/final.top" > "$work/final.shares"
check "$work/final.shares" "go tool pprof -top $(basename "$f")"

# ?seconds=N: a delta profile names the site that grew during the window
# and not the ones that only hold their memory
start_child "http:127.0.0.1:$port,prof:true,lg_prof_sample:14" 16 300 grow
wait_http "$url/"
go tool pprof -seconds 2 -top "$url/debug/pprof/heap" > "$work/delta.top" 2> "$work/delta.err" ||
    { cat "$work/delta.err" >&2; fail "go tool pprof -seconds 2 URL"; }
awk '/flat%/ { getline; print $NF; exit }' "$work/delta.top" | grep -qx site_grow ||
    { cat "$work/delta.top" >&2; fail "the delta profile's top entry is not site_grow"; }
grep -q site_big "$work/delta.top" && { cat "$work/delta.top" >&2; fail "the delta profile shows site_big, which did not change"; }
grep -q '^Duration: 2s' "$work/delta.top" || { cat "$work/delta.top" >&2; fail "no Duration: 2s"; }
stop_child
echo "$name: ?seconds=2 delta: site_grow on top, site_big absent: ok"
echo "$name: 1 passed, 0 failed"
