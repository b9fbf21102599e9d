# Shared by the http endpoint tests (test/http/*.sh; see test/README).
# Sourced; sets $work (a temp dir removed at exit) and provides:
#   need TOOL...          exit 77 (automake SKIP) with one line if missing
#   free_port             a free TCP port on 127.0.0.1
#   start_child CONF MIB [SECONDS [MODE]]   run $HTTP_CHILD under the preload
#                         with XALLOC_CONF=CONF in the background; sets
#                         $child (pid), $child_out, $beat.  SECONDS (the
#                         child's longest life) defaults to 600: the child
#                         is ended by stop_child or at exit, never by its
#                         own clock while a slow (loaded) step still needs
#                         it
#   stop_child            end it normally (EOF on its stdin) and wait
#   wait_http URL         until URL answers (20 s), else FAIL
#   fail MSG              one line, exit 1
set -u
name=$(basename "$0" .sh)
lib=${XALLOC_LIB:?XALLOC_LIB must name src/.libs/libxalloc.so of a build}
HTTP_CHILD=${HTTP_CHILD:-$(cd "$(dirname "$lib")/../.." && pwd)/test/integration/http_child}
work=$(mktemp -d "${TMPDIR:-/tmp}/xa-$name.XXXXXX")
child=
cleanup() {
    [ -n "$child" ] && kill "$child" 2>/dev/null && wait "$child" 2>/dev/null
    [ -n "${extra_pids:-}" ] && kill $extra_pids 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "$name: FAIL: $*" >&2; [ -f "${child_out:-/nonexistent}" ] && sed "s/^/  child: /" "$child_out" >&2; exit 1; }
need() {
    for t in "$@"; do
        command -v "$t" >/dev/null || { echo "$name: SKIP: $t not installed"; exit 77; }
    done
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_child() {
    child_out=$work/child.out
    beat=$work/beat
    # stdin: a fifo held open by fd 9 here, closed by stop_child
    rm -f "$work/stdin"; mkfifo "$work/stdin"
    env LD_PRELOAD="$lib" XALLOC_CONF="$1" "$HTTP_CHILD" "$2" "$beat" "${3:-600}" ${4:-} \
        > "$child_out" 2>&1 < "$work/stdin" &
    child=$!
    exec 9> "$work/stdin"
    for _ in $(seq 200); do grep -q '^ready' "$child_out" 2>/dev/null && return 0; sleep 0.1; done
    fail "the child did not start"
}
stop_child() {
    exec 9>&-
    wait "$child" 2>/dev/null
    child=
}
wait_http() {
    for _ in $(seq 200); do curl -sf -o /dev/null --max-time 5 "$1" && return 0; sleep 0.1; done
    fail "no answer from $1 (is the endpoint there?)"
}
