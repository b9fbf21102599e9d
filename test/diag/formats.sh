#!/usr/bin/env bash
# Report formats from the environment: stats_print_opts (J JSON, P
# Prometheus, section letters) for the exit report, and the launcher's
# --stats=json|prometheus|text.
. "$(dirname "$0")/lib.sh"
need python3
out=$(under stats_print:true,stats_print_opts:J /bin/true 2>&1)
if printf '%s' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)["xalloc"]
assert d["program"] == "true", d["program"]
assert d["pid"] > 0
s = d["stats"]
for k in ("allocated", "peak.allocated", "peak.active", "peak.resident", "process.rss"):
    assert k in s, k
assert s["peak.allocated"] >= s["allocated"]
' 2>&1; then pass "stats_print_opts:J parses as JSON with pid, program and peaks"
else fail "stats_print_opts:J: not JSON with pid/program/peaks: $(printf '%s' "$out" | head -c 300)"; fi
out=$(under stats_print:true,stats_print_opts:P /bin/true 2>&1)
printf '%s\n' "$out" | grep -q '^xalloc_peak_allocated_bytes [0-9]' || fail "stats_print_opts:P: no xalloc_peak_allocated_bytes: $(printf '%s' "$out" | head -c 300)"
printf '%s\n' "$out" | grep -q '^xalloc_process_info{pid="[0-9]*",program="true"} 1' || fail "stats_print_opts:P: no xalloc_process_info"
if command -v promtool >/dev/null; then
	printf '%s\n' "$out" | promtool check metrics >/dev/null 2>"$work/prom.err" || { grep -qi error "$work/prom.err" && fail "promtool: $(head -c 300 "$work/prom.err")"; }
fi
# omit letters apply: no bins in "P" with b
out=$(under stats_print:true,stats_print_opts:Pb /bin/true 2>&1)
printf '%s\n' "$out" | grep -q '^xalloc_bin_' && fail "stats_print_opts:Pb still prints bins"
[ "$failures" = 0 ] && pass "stats_print_opts:P and omit letters"
if [ -n "$launcher" ]; then
	out=$("$launcher" --stats=json -- /bin/true 2>&1)
	printf '%s' "$out" | python3 -c 'import json,sys; json.load(sys.stdin)' 2>/dev/null || fail "launcher --stats=json: not JSON: $(printf '%s' "$out" | head -c 200)"
	out=$("$launcher" --stats=prometheus -- /bin/true 2>&1)
	printf '%s\n' "$out" | grep -q '^xalloc_allocated_bytes ' || fail "launcher --stats=prometheus"
	out=$("$launcher" --stats=text -- /bin/true 2>&1)
	printf '%s\n' "$out" | grep -q '^verdict: ' || fail "launcher --stats=text"
	"$launcher" --stats=xml -- /bin/true >/dev/null 2>&1 && fail "launcher --stats=xml accepted"
	[ "$failures" = 0 ] && pass "launcher --stats=json|prometheus|text"
fi
finish
