#!/bin/bash
# decay0_syscalls.sh: with decay_ms:0, freeing small objects must not make a
# system call per free.  xrelease smallfree empties whole slabs in every
# round (4096 frees); strace counts the madvise calls made by the main
# thread (the one freeing).  Purging at once would madvise each emptied
# slab, i.e. at least once per round; batched purging (decay.h) does it
# when an arena has gathered 1 MiB of dirty pages, which reuse of the
# freed slabs keeps from happening here, and leaves the rest to the
# background thread.  The RSS side of decay_ms:0 (memory goes back at
# once) is test_release's decay0_releases_at_once.
#
# Environment (set by make check): XALLOC_LIB, XRELEASE.
# Needs strace; without it the test is skipped (status 77).
set -u
command -v strace >/dev/null 2>&1 || { echo "decay0_syscalls.sh: SKIP: strace is not installed"; exit 77; }
[ -r "${XALLOC_LIB:-}" ] || { echo "decay0_syscalls.sh: XALLOC_LIB is not set"; exit 1; }
[ -x "${XRELEASE:-}" ] || { echo "decay0_syscalls.sh: XRELEASE is not set"; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/xalloc-decay0.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
ROUNDS=400
status=0

# strace itself must work here (ptrace may be forbidden in a container)
if ! strace -f -qq -e trace=madvise -o "$TMP/probe" true 2>"$TMP/probe.err"; then
    echo "decay0_syscalls.sh: SKIP: strace cannot trace here: $(head -1 "$TMP/probe.err")"
    exit 77
fi

run() { # conf -> sets main_calls, all_calls
    unset LD_PRELOAD
    strace -f -qq -e trace=madvise -o "$TMP/trace" \
        env LD_PRELOAD="$XALLOC_LIB" XALLOC_CONF="$1" "$XRELEASE" smallfree "$ROUNDS" >"$TMP/out" 2>"$TMP/err" || {
        echo "FAIL: xrelease smallfree under $1 failed:"; cat "$TMP/err"; exit 1; }
    grep -q '^done$' "$TMP/out" || { echo "FAIL: xrelease did not finish under $1"; exit 1; }
    local pid
    pid=$(sed -n 's/^pid //p' "$TMP/out")
    main_calls=$(grep -c "^$pid  *madvise(" "$TMP/trace")
    all_calls=$(grep -c "madvise(" "$TMP/trace")
}

run decay_ms:0
echo "decay_ms:0: $ROUNDS rounds of 4096 small frees: main thread madvise calls $main_calls, all threads $all_calls"
# one call per 20 rounds (81920 frees) at most; purging at once makes >= 1 per round
if [ "$main_calls" -gt $((ROUNDS / 20)) ]; then
    echo "FAIL: decay_ms:0 made $main_calls madvise calls from the freeing thread in $ROUNDS rounds"
    status=1
fi
# the control: the same count must be visible when the free path does purge
# (slack_max:1 forces a purge of the dirty pages on every free that makes some)
run decay_ms:-1,slack_max:1
echo "control (slack_max:1): main thread madvise calls $main_calls"
if [ "$main_calls" -lt "$ROUNDS" ]; then
    echo "FAIL: the control saw only $main_calls madvise calls: the count does not work"
    status=1
fi
[ $status = 0 ] && echo "PASS"
exit $status
