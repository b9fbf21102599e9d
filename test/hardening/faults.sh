#!/usr/bin/env bash
# Fault injection with a preloaded shim (fault_shim.c) in front of
# libxalloc.so: pthread_create failing (the background thread cannot
# start), madvise failing (purges do nothing), anonymous mmap/mremap
# refused for a while (NULL + ENOMEM, live blocks intact, full recovery
# afterwards: small, large, huge, aligned, calloc, realloc); and under
# RLIMIT_AS, address space freed as small blocks must be reusable for huge,
# aligned and large requests (the out-of-memory recovery).  The children
# are built here with gcc.  Run by `make check`; by hand:
#   XALLOC_LIB=/tmp/tb/src/.libs/libxalloc.so bash test/hardening/faults.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
lib=${XALLOC_LIB:?XALLOC_LIB must name libxalloc.so}
work=$(mktemp -d /tmp/xalloc-faults.XXXXXX)
trap 'rm -rf "$work"' EXIT
gcc -O1 -shared -fPIC -o "$work/fault_shim.so" "$here/fault_shim.c" -ldl || exit 99
gcc -O1 -fno-builtin -o "$work/fault_child" "$here/fault_child.c" -ldl || exit 99
pass=0 fail=0
run() { # name env... -- mode
    local name=$1; shift
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
    local out rc
    out=$(env "${envs[@]}" LD_PRELOAD="$work/fault_shim.so $lib" timeout 300 "$work/fault_child" "$@" 2>&1)
    rc=$?
    # allowed on stderr: nothing but xalloc's own one-line notices
    if [ $rc = 0 ] && ! echo "$out" | grep -v -e '^xalloc: ' -e ' ok' | grep -q .; then
        pass=$((pass + 1)); echo "faults: ok: $name: $(echo "$out" | tail -1)"
    else
        fail=$((fail + 1)); echo "faults: FAIL: $name (exit $rc):"; echo "$out" | tail -20
    fi
}
run pthread_create-fails FAULT_PTHREAD=1 -- work
run pthread_create-fails-decay0 FAULT_PTHREAD=1 XALLOC_CONF=background_thread:true,decay_ms:100 -- work
run madvise-fails-dontneed FAULT_MADVISE=1 XALLOC_CONF=decay_ms:0 -- work
run madvise-fails-free FAULT_MADVISE=1 XALLOC_CONF=decay_ms:0,purge:free -- work
run madvise-fails-not-counted FAULT_MADVISE=1 XALLOC_CONF=decay_ms:-1 -- purgefail
run madvise-fails-not-counted-free FAULT_MADVISE=1 XALLOC_CONF=decay_ms:-1,purge:free -- purgefail
run mmap-fails XALLOC_CONF= -- mmapfail
run mmap-fails-narenas1 XALLOC_CONF=narenas:1 -- mmapfail
run mmap-fails-tcache-off XALLOC_CONF=tcache:false -- mmapfail
run mmap-fails-noretain XALLOC_CONF=retain:false,decay_ms:0 -- mmapfail
run aslimit-recovery XALLOC_CONF= -- aslimit
run aslimit-recovery-narenas1-decay-never XALLOC_CONF=narenas:1,decay_ms:-1 -- aslimit
echo "faults: $pass passed, $fail failed"
[ $fail = 0 ]
