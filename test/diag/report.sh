#!/usr/bin/env bash
# Reports that always arrive and say whose they are (xalloc(3), REPORTS):
#  - coreutils sort closes stderr in its exit handler: its report still
#    arrives (the private duplicate of fd 2), starting with pid and name;
#  - a shell wrapper running python3 and /bin/true: one report per
#    process, each naming its pid and program;
#  - stats_file with %p/%e; without %p, several processes: the first
#    takes the name, the others <name>.<pid>;
#  - verdict first; one arena: its table printed once.
. "$(dirname "$0")/lib.sh"
need sort
py=/usr/bin/python3
[ -x $py ] || { echo "SKIP: /usr/bin/python3 is not installed"; exit 77; }
seq 1 200000 | awk '{ print ($1 * 7919) % 200003 }' > "$work/big.txt"

# 1. sort under the launcher
if [ -n "$launcher" ]; then
	out=$("$launcher" --stats -- sort "$work/big.txt" -o "$work/sorted" 2>&1)
else
	out=$(under stats_print:true sort "$work/big.txt" -o "$work/sorted" 2>&1)
fi
first=$(printf '%s\n' "$out" | head -n 1)
case "$first" in
"___ xalloc statistics: pid "[0-9]*" (sort)"*) pass "sort: report arrives: $first" ;;
*) fail "sort: no report, or it does not start with pid and name: $(printf '%s' "$out" | head -c 300)" ;;
esac
printf '%s\n' "$out" | sed -n 2p | grep -q '^verdict: ' || fail "sort: the verdict is not the second line"
printf '%s\n' "$out" | grep -q 'peaks: live data peaked at' || fail "sort: no peak line"
cmp -s "$work/sorted" <(sort "$work/big.txt") || fail "sort: output differs"

# 2. a wrapper script running python3 and /bin/true
cat > "$work/wrap.sh" <<'SH'
#!/bin/bash
PY -c 'import os; print("py", os.getpid())'
/bin/true
echo "sh $$"
SH
sed -i "s|^PY|$py|" "$work/wrap.sh"
chmod +x "$work/wrap.sh"
out=$(under stats_print:true,stats_print_opts:gmabl "$work/wrap.sh" 2> "$work/wrap.err")
pypid=$(printf '%s\n' "$out" | sed -n 's/^py //p')
shpid=$(printf '%s\n' "$out" | sed -n 's/^sh //p')
grep -q "^___ xalloc statistics: pid $pypid (python3" "$work/wrap.err" || fail "wrapper: no report naming python3 pid $pypid: $(head -c 400 "$work/wrap.err")"
grep -q "^___ xalloc statistics: pid $shpid (wrap.sh)" "$work/wrap.err" || fail "wrapper: no report naming the shell pid $shpid"
grep -q "^___ xalloc statistics: pid [0-9]* (true)" "$work/wrap.err" || fail "wrapper: no report naming true"
n=$(grep -c '^___ xalloc statistics: pid' "$work/wrap.err")
[ "$n" = 3 ] || fail "wrapper: $n reports, want 3"
[ "$failures" = 0 ] && pass "wrapper: 3 reports naming python3 ($pypid), true and the shell ($shpid)"

# 3. stats_file with %p and %e, and without %p
under "stats_print:true,stats_file:$work/r.%e.%p.txt" "$work/wrap.sh" > "$work/wrap.out" 2> "$work/wrap.err2"
pypid=$(sed -n 's/^py //p' "$work/wrap.out")
[ -s "$work/r.python3.$pypid.txt" ] || fail "stats_file %e.%p: no $work/r.python3.$pypid.txt: $(ls "$work")"
[ -s "$work/r.true."*.txt ] || fail "stats_file %e.%p: no report of true"
[ -s "$work/r.wrap.sh."*.txt ] || fail "stats_file %e.%p: no report of the shell"
[ -s "$work/wrap.err2" ] && fail "stats_file %e.%p: stderr not empty: $(head -c 300 "$work/wrap.err2")"
under "stats_print:true,stats_file:$work/one.txt" "$work/wrap.sh" > "$work/wrap.out" 2> "$work/wrap.err3"
pypid=$(sed -n 's/^py //p' "$work/wrap.out")
n=$(ls "$work"/one.txt "$work"/one.txt.[0-9]* 2>/dev/null | wc -l)
[ "$n" = 3 ] || fail "stats_file without %p: $n files, want 3 (one.txt and one.txt.<pid>): $(ls "$work")"
[ -s "$work/wrap.err3" ] && fail "stats_file without %p: messages on stderr: $(head -c 300 "$work/wrap.err3")"
grep -l "pid $pypid (python3" "$work"/one.txt* >/dev/null || fail "stats_file without %p: python3's report missing"
under "stats_print:true,stats_file:$work/pct%%.txt" /bin/true
[ -s "$work/pct%.txt" ] || fail "stats_file: %% is not a percent sign"
[ "$failures" = 0 ] && pass "stats_file: %p %e %%, one file per process without %p"

# 3b. a program that closes every descriptor above 2 (our duplicate
# among them) and reuses the numbers: the report falls back to fd 2 and
# never lands in the program's own files
cc_child closeall <<'C'
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
	for (int fd = 3; fd < 4096; fd++)
		close(fd);
	/* take every low number again, up to past the duplicate's */
	int last = -1;
	for (int i = 0; i < 1000; i++)
		if ((last = open(argv[1], O_WRONLY | O_APPEND)) < 0)
			break;
	free(malloc(100));
	return last < 0;
}
C
: > "$work/own"
out=$(under stats_print:true "$work/closeall" "$work/own" 2>&1)
printf '%s\n' "$out" | grep -q '^___ xalloc statistics: pid [0-9]* (closeall)' || fail "closeall: no report on fd 2: $(printf '%s' "$out" | head -c 300)"
[ -s "$work/own" ] && fail "closeall: the report went into the program's file"
[ "$failures" = 0 ] && pass "a program closing all descriptors: report on fd 2, not in its files"

# 4. one arena: the merged table is not printed twice
out=$(under stats_print:true,narenas:1 /bin/true 2>&1)
printf '%s\n' "$out" | grep -q '^arena 0:' && fail "one arena: 'arena 0' printed besides 'all arenas'"
printf '%s\n' "$out" | grep -q '^all arenas' || fail "one arena: no arena table"
finish
