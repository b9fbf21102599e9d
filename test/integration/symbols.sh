#!/bin/bash
# The shared library exports exactly the documented interface: the standard
# entry points, the glibc extras and the xallocctl API (include/xalloc.h).
# Everything else is built with hidden visibility.
lib=${XALLOC_LIB:?XALLOC_LIB is not set}
command -v nm >/dev/null || { echo "symbols: SKIP: nm missing (apt-get install binutils)"; exit 77; }
expected="aligned_alloc calloc free free_aligned_sized free_sized mallinfo mallinfo2
malloc malloc_stats malloc_trim malloc_usable_size mallopt memalign posix_memalign
pvalloc realloc reallocarray valloc xalloc_stats_print xallocctl xallocctl_bymib
xallocctl_nametomib"
want=$(printf '%s\n' $expected | sort)
have=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sort)
if [ "$want" = "$have" ]; then
  echo "symbols: 1 passed, 0 failed"
  exit 0
fi
echo "exported symbols differ from the documented list (< expected, > exported):"
diff <(printf '%s\n' "$want") <(printf '%s\n' "$have") 2>/dev/null ||
  { printf '%s\n' "$want" > /tmp/xa_sym_want.$$; printf '%s\n' "$have" > /tmp/xa_sym_have.$$;
    diff /tmp/xa_sym_want.$$ /tmp/xa_sym_have.$$; rm -f /tmp/xa_sym_want.$$ /tmp/xa_sym_have.$$; }
echo "symbols: 0 passed, 1 failed"
exit 1
