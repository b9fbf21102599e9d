#!/bin/bash
# man_generated.sh -- the tables of man/xalloc.3 are what the code says.
#
# The OPTIONS, CONTROL NAMESPACE and profiler control-name entries of the
# manual are generated (man/gen_ctl_sections.py) from src/options.def and
# from the doc strings of the ctl tree (src/ctl.c, and the stats tables of
# src/stats.h); the ctl tree is read through unit/ctl_names, linked with the
# test build.  This test regenerates the page into a temporary file and
# fails, showing the diff, when the committed page differs: a row changed
# in the code without rerunning the generator, or an entry edited by hand.
# To fix: python3 man/gen_ctl_sections.py <(BUILD/test/unit/ctl_names)
set -u
command -v python3 >/dev/null || { echo "SKIP: python3 missing (needed to run man/gen_ctl_sections.py)"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
top=${TEST_SRCDIR:-$here/..}/..
names=${CTL_NAMES:-./unit/ctl_names}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
"$names" >"$tmp/names" || { echo "FAIL: $names did not run"; exit 1; }
python3 "$top/man/gen_ctl_sections.py" "$tmp/names" "$top/man/xalloc.3" "$tmp/xalloc.3" || exit 1
if ! diff -u "$top/man/xalloc.3" "$tmp/xalloc.3"; then
    echo "FAIL: man/xalloc.3 differs from what man/gen_ctl_sections.py makes of the code (diff above)"
    exit 1
fi
echo "PASS: man/xalloc.3 is what the generator makes of the code ($(wc -l <"$tmp/names") ctl names)"
