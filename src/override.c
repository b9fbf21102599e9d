/*
 * override.c -- the exported standard names (with the configured prefix,
 * empty by default) and the glibc extras, with the inline fast paths.
 *
 * Semantics follow glibc: malloc(0) returns a unique pointer; failures
 * return NULL with errno ENOMEM; posix_memalign returns EINVAL for an
 * alignment that is not a power of two multiple of sizeof(void *);
 * aligned_alloc fails with EINVAL for a non-power-of-two alignment (glibc
 * 2.38); memalign rounds such an alignment up to a power of two (glibc);
 * realloc(p, 0) frees p and returns NULL; a failed realloc leaves the old
 * block intact.
 */
#include "internal.h"

#include <malloc.h>
#include <stdlib.h>

XA_EXPORT void *XA_SYM(malloc)(size_t size) { return xa_tcache_malloc(size); }

XA_EXPORT void XA_SYM(free)(void *ptr) { xa_tcache_free(ptr); }

XA_EXPORT void *XA_SYM(calloc)(size_t n, size_t size) { return xa_calloc(n, size); }

XA_EXPORT void *XA_SYM(realloc)(void *ptr, size_t size) { return xa_realloc(ptr, size); }

XA_EXPORT void *XA_SYM(reallocarray)(void *ptr, size_t n, size_t size) {
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return xa_realloc(ptr, total);
}

static bool is_pow2(size_t a) { return a && (a & (a - 1)) == 0; }

XA_EXPORT int XA_SYM(posix_memalign)(void **memptr, size_t align, size_t size) {
	if (!is_pow2(align) || align % sizeof(void *) != 0)
		return EINVAL;
	int e = errno;
	void *p = xa_tcache_aligned(align, size);
	if (p == NULL) {
		errno = e;
		return ENOMEM;
	}
	*memptr = p;
	return 0;
}

XA_EXPORT void *XA_SYM(aligned_alloc)(size_t align, size_t size) {
	if (!is_pow2(align)) {
		errno = EINVAL;
		return NULL;
	}
	return xa_tcache_aligned(align, size);
}

XA_EXPORT void *XA_SYM(memalign)(size_t align, size_t size) {
	if (align > ((size_t)1 << 62)) {
		errno = EINVAL;
		return NULL;
	}
	if (!is_pow2(align)) {
		/* glibc rounds a non-power-of-two alignment up */
		size_t a = 1;
		while (a < align)
			a <<= 1;
		align = a;
	}
	return xa_tcache_aligned(align, size);
}

XA_EXPORT void *XA_SYM(valloc)(size_t size) { return xa_tcache_aligned(PAGE, size); }

XA_EXPORT void *XA_SYM(pvalloc)(size_t size) {
	if (size > SIZE_MAX - PAGE) {
		errno = ENOMEM;
		return NULL;
	}
	return xa_aligned(PAGE, PAGE_CEIL(size ? size : 1));
}

XA_EXPORT size_t XA_SYM(malloc_usable_size)(void *ptr) { return xa_usable_size(ptr); }

XA_EXPORT void XA_SYM(free_sized)(void *ptr, size_t size) { xa_free_sized(ptr, size); }

XA_EXPORT void XA_SYM(free_aligned_sized)(void *ptr, size_t align, size_t size) {
	(void)align;
	xa_free_sized(ptr, size);
}

/* ---- glibc extras ----------------------------------------------------- */

XA_EXPORT int XA_SYM(malloc_trim)(size_t pad) {
	(void)pad;
	return xa_decay_trim(); /* xa_release_all within trim_budget_pct */
}

XA_EXPORT int XA_SYM(mallopt)(int param, int value) {
	switch (param) {
	case M_ARENA_MAX:
		/* Bounds the arenas of threads that start from now on. */
		if (value < 1)
			return 0;
		if (!xa_initialized() && xa_init_slow())
			return 0;
		xa_arena_max_set((unsigned)value);
		return 1;
	default:
		/* M_PERTURB included: filling would need every thread cache
		 * off (the fast paths do not fill), which is decided once at
		 * start-up; the option junk:true does it.  0 says "not done". */
		return 0;
	}
}

XA_EXPORT struct mallinfo2 XA_SYM(mallinfo2)(void) {
	struct mallinfo2 mi;
	memset(&mi, 0, sizeof(mi));
	xa_mallinfo_fill(&mi.arena, &mi.ordblks, &mi.hblks, &mi.hblkhd, &mi.uordblks, &mi.fordblks,
	    &mi.keepcost);
	return mi;
}

XA_EXPORT struct mallinfo XA_SYM(mallinfo)(void) {
	struct mallinfo2 m2 = XA_SYM(mallinfo2)();
	struct mallinfo mi;
	memset(&mi, 0, sizeof(mi));
	/* glibc truncates to int the same way */
	mi.arena = (int)m2.arena;
	mi.ordblks = (int)m2.ordblks;
	mi.hblks = (int)m2.hblks;
	mi.hblkhd = (int)m2.hblkhd;
	mi.uordblks = (int)m2.uordblks;
	mi.fordblks = (int)m2.fordblks;
	mi.keepcost = (int)m2.keepcost;
	return mi;
}

XA_EXPORT void XA_SYM(malloc_stats)(void) {
	if (!xa_initialized() && xa_init_slow())
		return;
	xa_stats_print_default();
}
