# lib.sh -- shared by the diagnostics script tests (test/diag/*.sh): the
# library under test, a scratch directory, a C compiler for small
# children, and check/fail helpers.  Each test sources it.
set -u
lib=${XALLOC_LIB:?XALLOC_LIB not set (run through make check)}
launcher=${XALLOC_LAUNCHER:-}
work=$(mktemp -d /tmp/xalloc-diag.XXXXXX)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
# finish: the exit status automake expects
finish() { [ "$failures" = 0 ] && exit 0; echo "$failures failure(s)"; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || { echo "SKIP: $1 is not installed${2:+ ($2)}"; exit 77; }; }
# Build a small C program from stdin: cc_child NAME [flags...]
cc_child() {
	local name=$1; shift
	${CC:-gcc} -O1 -fno-builtin -o "$work/$name" -x c - "$@" || { echo "cannot compile $name"; exit 99; }
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Run under the preload with XALLOC_CONF=$1: under CONF CMD...
under() { local c=$1; shift; env LD_PRELOAD="$lib" XALLOC_CONF="$c" "$@"; }
