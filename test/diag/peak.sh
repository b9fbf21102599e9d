#!/usr/bin/env bash
# Peaks: a program that holds 200 MiB, frees down to 1 MiB and exits
# reports a peak >= 200 MiB at exit (text and JSON) and through
# xallocctl (stats.peak.*); stats.peak.reset starts over; the peak is
# also right with 4 threads; prof_peak_step dumps heap profiles on the way up.
. "$(dirname "$0")/lib.sh"
need python3
cc_child peak -ldl -lpthread <<'C'
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
typedef int ctl_t(const char *, void *, size_t *, void *, size_t);
static ctl_t *ctl;
static size_t get(const char *name) {
	uint64_t e = 1;
	size_t v = 0, len = sizeof(v), el = sizeof(e);
	if (ctl("epoch", &e, &el, &e, sizeof(e)) != 0 || ctl(name, &v, &len, NULL, 0) != 0) {
		printf("ctl %s failed\n", name);
		exit(3);
	}
	return v;
}
enum { BLK = 64 << 10 };
static void *worker(void *arg) {
	/* 4 threads x 50 MiB of small and large blocks, then free */
	size_t n = (50u << 20) / 1000;
	char **p = malloc(n * sizeof(*p));
	for (size_t i = 0; i < n; i++)
		memset(p[i] = malloc(1000), 1, 1000);
	pthread_barrier_wait(arg);
	pthread_barrier_wait(arg);
	for (size_t i = 0; i < n; i++)
		free(p[i]);
	free(p);
	return NULL;
}
int main(int argc, char **argv) {
	ctl = (ctl_t *)dlsym(RTLD_DEFAULT, "xallocctl");
	if (!ctl) { printf("no xallocctl\n"); return 2; }
	size_t n = (200u << 20) / BLK;
	char **p = malloc(n * sizeof(*p));
	for (size_t i = 0; i < n; i++)
		memset(p[i] = malloc(BLK), 1, BLK);
	for (size_t i = 16; i < n; i++)
		free(p[i]);
	printf("peak.allocated %zu\n", get("stats.peak.allocated"));
	printf("peak.active %zu\n", get("stats.peak.active"));
	printf("peak.resident %zu\n", get("stats.peak.resident"));
	printf("peak.allocated_at_ms %zu\n", get("stats.peak.allocated_at_ms"));
	printf("allocated %zu\n", get("stats.allocated"));
	if (ctl("stats.peak.reset", NULL, NULL, NULL, 0) != 0) { printf("reset failed\n"); return 4; }
	printf("after_reset %zu\n", get("stats.peak.allocated"));
	printf("after_reset_resident %zu\n", get("stats.peak.resident"));
	/* 4 threads at once: 200 MiB more, all live at the barrier */
	pthread_t th[4];
	pthread_barrier_t b;
	pthread_barrier_init(&b, NULL, 5);
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, worker, &b);
	pthread_barrier_wait(&b);
	pthread_barrier_wait(&b);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	printf("threads_peak %zu\n", get("stats.peak.allocated"));
	printf("threads_now %zu\n", get("stats.allocated"));
	return 0;
}
C
under stats_print:true,stats_print_opts:J "$work/peak" > "$work/out" 2> "$work/err"
rc=$?
[ $rc = 0 ] || fail "peak child exit $rc: $(cat "$work/out") $(head -c 300 "$work/err")"
v() { sed -n "s/^$1 //p" "$work/out"; }
MiB=1048576
if [ $rc = 0 ]; then
	[ "$(v peak.allocated)" -ge $((200 * MiB)) ] || fail "ctl peak.allocated $(v peak.allocated) < 200 MiB"
	[ "$(v peak.allocated)" -le $((202 * MiB)) ] || fail "ctl peak.allocated $(v peak.allocated) > 202 MiB"
	[ "$(v peak.active)" -ge $((200 * MiB)) ] || fail "ctl peak.active $(v peak.active) < 200 MiB"
	[ "$(v peak.resident)" -ge $((200 * MiB)) ] || fail "ctl peak.resident $(v peak.resident) < 200 MiB"
	[ "$(v allocated)" -le $((2 * MiB)) ] || fail "allocated at the end $(v allocated) > 2 MiB"
	[ "$(v after_reset)" -le $((2 * MiB)) ] || fail "peak after reset $(v after_reset) > 2 MiB"
	tp=$(v threads_peak)
	[ "$tp" -ge $((199 * MiB)) ] && [ "$tp" -le $((210 * MiB)) ] || fail "4 threads: peak $tp not within [199, 210] MiB"
	[ "$failures" = 0 ] && pass "ctl: peak $(v peak.allocated) at $(v peak.allocated_at_ms) ms, after reset $(v after_reset), 4 threads $tp"
fi
python3 - "$work/err" <<'PY' || fail "exit report (JSON) lacks the peak"
import json, sys
s = json.load(open(sys.argv[1]))["xalloc"]["stats"]
assert s["peak.allocated"] >= 200 << 20, s["peak.allocated"]
assert s["allocated"] <= 2 << 20, s["allocated"]
PY
out=$(under stats_print:true "$work/peak" 2>&1 >/dev/null)
printf '%s\n' "$out" | grep -Eq '^peaks: live data peaked at 2[0-9][0-9]\.[0-9] MiB at t=[0-9.]+ s' || fail "text report: no 'peaked at 2xx MiB at t=' line: $(printf '%s\n' "$out" | head -4)"
[ "$failures" = 0 ] && pass "exit report: peak >= 200 MiB in JSON and text"
# the heap at its worst: a profile each 64 MiB of new peak
under "prof:true,lg_prof_sample:16,prof_peak_step:64M,prof_prefix:$work/pk.%e" "$work/peak" >/dev/null 2>"$work/err"
n=$(ls "$work"/pk.peak.*.p*.heap 2>/dev/null | wc -l)
[ "$n" -ge 3 ] && [ "$n" -le 6 ] || fail "prof_peak_step:64M: $n peak profiles, want 3 (64, 128, 192 MiB) to 6: $(ls "$work") $(head -c 300 "$work/err")"
last=$(ls -t "$work"/pk.peak.*.p*.heap 2>/dev/null | head -1)
[ -n "$last" ] && head -1 "$last" | grep -q '^heap profile: ' || fail "peak profile is not a heap profile"
[ "$failures" = 0 ] && pass "prof_peak_step: $n profiles at the peaks"
finish
