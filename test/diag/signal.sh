#!/usr/bin/env bash
# dump_signal: kill -USR2 makes an idle process write its report to
# stats_file (%p) and, with profiling on, a heap profile to prof_prefix;
# without a background thread the next allocations do it; a handler the
# program installs wins; an invalid signal gives one warning.
. "$(dirname "$0")/lib.sh"
cc_child idle <<'C'
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static volatile sig_atomic_t got;
static void mine(int s) { got = 1; }
int main(int argc, char **argv) {
	int busy = argc > 1 && strcmp(argv[1], "busy") == 0;
	if (argc > 1 && strcmp(argv[1], "own") == 0)
		signal(SIGUSR2, mine);
	static char *keep[256];
	for (int i = 0; i < 256; i++)
		memset(keep[i] = malloc(40000), 7, 40000);
	printf("ready\n");
	fflush(stdout);
	for (int i = 0; i < 3000 && !got; i++) {
		usleep(10000);
		if (busy) /* allocation events: 64 KiB each */
			for (int j = 0; j < 4; j++)
				free(malloc(32768));
	}
	printf(got ? "own handler ran\n" : "done\n");
	return 0;
}
C
# Start the child, wait for "ready", send the signal, wait for files.
# run_dump NAME CONF ARG: sets pid; waits up to 20 s for $work/NAME.*
run_dump() {
	local name=$1 conf=$2 arg=${3:-}
	rm -f "$work/$name".*
	env LD_PRELOAD="$lib" XALLOC_CONF="$conf" "$work/idle" $arg > "$work/$name.out" 2> "$work/$name.err" &
	pid=$!
	for i in $(seq 200); do grep -q ready "$work/$name.out" 2>/dev/null && break; sleep 0.1; done
	kill -USR2 $pid
}
wait_files() { # pattern...: up to 20 s
	for i in $(seq 200); do
		local all=1
		for f in "$@"; do [ -s "$f" ] || all=0; done
		[ $all = 1 ] && return 0
		sleep 0.1
	done
	return 1
}
run_dump sig "dump_signal:USR2,prof:true,lg_prof_sample:12,stats_file:$work/sig.%p.txt,prof_prefix:$work/sig.%p"
if wait_files "$work/sig.$pid.txt" && wait_files "$work"/sig.$pid.$pid.*.heap; then
	head -1 "$work/sig.$pid.txt" | grep -q "^___ xalloc statistics: pid $pid (idle)" || fail "USR2: report does not name pid $pid: $(head -1 "$work/sig.$pid.txt")"
	head -1 "$work"/sig.$pid.$pid.*.heap | grep -q "heap profile:" || fail "USR2: not a heap profile"
	kill -0 $pid 2>/dev/null || fail "USR2: the program died"
	pass "kill -USR2: report and heap profile written, program runs on"
else
	fail "kill -USR2: files missing: $(ls "$work") $(head -c 300 "$work/sig.err")"
fi
kill $pid 2>/dev/null; wait $pid 2>/dev/null
# a second signal replaces the report (the file holds the latest)
# no background thread: the next allocation events do it
run_dump nobg "dump_signal:SIGUSR2,background_thread:false,stats_file:$work/nobg.%p.txt" busy
wait_files "$work/nobg.$pid.txt" && pass "background_thread:false: written at the next allocations" \
	|| fail "background_thread:false: no report: $(ls "$work") $(head -c 300 "$work/nobg.err")"
kill $pid 2>/dev/null; wait $pid 2>/dev/null
# numbers are accepted; the report goes to stderr without stats_file
run_dump num "dump_signal:12"
for i in $(seq 200); do grep -q "^___ xalloc statistics: pid $pid" "$work/num.err" && break; sleep 0.1; done
grep -q "^___ xalloc statistics: pid $pid (idle)" "$work/num.err" && pass "dump_signal:12 -> report on stderr" \
	|| fail "dump_signal:12: no report on stderr: $(head -c 300 "$work/num.err")"
kill $pid 2>/dev/null; wait $pid 2>/dev/null
# the program's own handler wins
run_dump own "dump_signal:USR2,stats_file:$work/own.%p.txt" own
wait $pid
grep -q "own handler ran" "$work/own.out" || fail "own handler: did not run: $(cat "$work/own.out")"
[ -e "$work/own.$pid.txt" ] && fail "own handler: xalloc dumped anyway"
[ "$failures" = 0 ] && pass "the program's own handler wins"
# invalid values: one warning, the program runs
for bad in FOO KILL SEGV 0 99999 ""x; do
	out=$(under "dump_signal:$bad" /bin/true 2>&1); rc=$?
	n=$(printf '%s\n' "$out" | grep -c 'dump_signal')
	[ $rc = 0 ] && [ "$n" = 1 ] || fail "dump_signal:$bad: exit $rc, want one warning line: $out"
done
[ "$failures" = 0 ] && pass "invalid signals: one warning each"
finish
