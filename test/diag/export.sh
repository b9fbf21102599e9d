#!/usr/bin/env bash
# Periodic export: stats_interval_ms rewrites stats_file atomically in the
# stats_print_opts format; Debian's prometheus-node-exporter (textfile
# collector) serves it: /metrics shows xalloc's metrics.
. "$(dirname "$0")/lib.sh"
need prometheus-node-exporter "Debian package prometheus-node-exporter"
need curl
need python3
cc_child grow <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void) {
	/* 1 MiB more every 20 ms for 4 s: the file must follow */
	for (int i = 0; i < 200; i++) {
		memset(malloc(1 << 20), 1, 1 << 20);
		usleep(20000);
	}
	return 0;
}
C
# Reads xalloc_allocated_bytes from file $1 every 0.1 s, $2 times, into vals.
sample_allocated() {
	vals=()
	for i in $(seq "$2"); do
		sleep 0.1
		[ -s "$1" ] || continue
		v=$(sed -n 's/^xalloc_allocated_bytes //p' "$1")
		[ -n "$v" ] && vals+=("$v")
	done
}
dir="$work/textfile"
mkdir "$dir"
env LD_PRELOAD="$lib" XALLOC_CONF="stats_interval_ms:100,stats_print_opts:P,stats_file:$dir/xalloc.prom" "$work/grow" 2>"$work/grow.err" &
gpid=$!
# the file appears, and it grows while the program runs
sample_allocated "$dir/xalloc.prom" 40
[ "${#vals[@]}" -ge 5 ] || fail "stats_interval_ms:100: file missing or unreadable (${#vals[@]} reads): $(ls -a "$dir") $(head -c 300 "$work/grow.err")"
[ "${#vals[@]}" -ge 2 ] && [ "${vals[-1]}" -gt "${vals[0]}" ] || fail "stats_interval_ms: allocated did not move: ${vals[*]:-none}"
ls -a "$dir" | grep -q '\.tmp\.' && echo "note: a temporary file was seen (a write in progress)"
port=$(free_port)
prometheus-node-exporter --web.listen-address=127.0.0.1:$port --collector.disable-defaults --collector.textfile \
	--collector.textfile.directory="$dir" > "$work/ne.log" 2>&1 &
nepid=$!
ok=0
for i in $(seq 100); do
	if curl -sf "http://127.0.0.1:$port/metrics" > "$work/metrics" 2>/dev/null && grep -q '^xalloc_allocated_bytes' "$work/metrics"; then ok=1; break; fi
	sleep 0.1
done
if [ $ok = 1 ]; then
	grep -q '^xalloc_peak_allocated_bytes [0-9]' "$work/metrics" || fail "node_exporter: no xalloc_peak_allocated_bytes"
	grep -q '^xalloc_process_info{.*program="grow"' "$work/metrics" || fail "node_exporter: no xalloc_process_info"
	grep -q 'node_textfile_scrape_error 0' "$work/metrics" || fail "node_exporter: textfile scrape error: $(grep textfile "$work/metrics" | head -5)"
	[ "$failures" = 0 ] && pass "node_exporter serves xalloc's metrics: $(grep '^xalloc_allocated_bytes' "$work/metrics")"
else
	fail "node_exporter: no xalloc metrics on /metrics: $(head -c 500 "$work/ne.log")"
fi
kill $nepid 2>/dev/null; wait $nepid 2>/dev/null
wait $gpid || fail "the program failed"
# the final state is written at exit: >= 200 MiB allocated
v=$(sed -n 's/^xalloc_allocated_bytes //p' "$dir/xalloc.prom")
[ "${v:-0}" -ge $((200 << 20)) ] || fail "final export: allocated ${v:-none} < 200 MiB"
ls -a "$dir" | grep -q '\.tmp\.' && fail "temporary files left: $(ls -a "$dir")"
# Without the background thread the exports come from allocation events
# (alloc.c alloc_event, report.c xa_report_due, which reads the clock only
# when an export is scheduled): the file must still follow the program.
dir2="$work/textfile2"
mkdir "$dir2"
env LD_PRELOAD="$lib" XALLOC_CONF="background_thread:false,stats_interval_ms:100,stats_print_opts:P,stats_file:$dir2/xalloc.prom" \
	"$work/grow" 2>"$work/grow2.err" &
gpid=$!
sample_allocated "$dir2/xalloc.prom" 30
wait $gpid || fail "the program failed (background_thread:false)"
if [ "${#vals[@]}" -ge 5 ] && [ "${vals[-1]}" -gt "${vals[0]}" ]; then
	pass "background_thread:false: the allocation events export too (${vals[0]} .. ${vals[-1]} bytes)"
else
	fail "background_thread:false, stats_interval_ms:100: the file did not follow the program: ${vals[*]:-none} $(head -c 300 "$work/grow2.err")"
fi
# stats_interval_ms without stats_file: one warning
out=$(env LD_PRELOAD="$lib" XALLOC_CONF=stats_interval_ms:100 /bin/true 2>&1)
[ "$(printf '%s\n' "$out" | grep -c stats_interval_ms)" = 1 ] || fail "stats_interval_ms without stats_file: want one warning: $out"
finish
