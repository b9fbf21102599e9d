/*
 * alloc.c -- the allocation and free slow paths and the internal API behind
 * the standard entry points (override.c holds the exported names and the
 * inline fast paths).
 *
 * Owns: request validation (sizes near SIZE_MAX, alignments), routing by
 * size (tcache / small / large / huge), the allocation event (cache GC and
 * the profiler's sampling point), pointer validation on free, realloc
 * policy, and the opt-in junk/zero fills.  calloc passes `zero` down: the
 * layer that hands the memory out zeroes it (zero.c for large and huge
 * blocks, which skips pages known to read as zero).
 *
 * Locking: none of its own; the layers below take theirs.
 *
 * Misuse that is detected here stops the process with one line:
 *   "xalloc: free of invalid pointer 0x..."  (not from xalloc, interior)
 *   "xalloc: double free of 0x... (size N)"
 */
#include "internal.h"

#define JUNK_ALLOC 0xa5
#define JUNK_FREE 0x5a

/* Requests above this fail with ENOMEM (as glibc: nothing can be larger
 * than PTRDIFF_MAX, and page rounding must not overflow). */
#define XA_REQ_MAX ((size_t)PTRDIFF_MAX - 2 * CHUNK)
/* Pseudo class for alloc_raw: a large run that bypasses the thread cache,
 * of exactly its pages (an alignment above a page, or a realloc). */
#define SC_NLARGE_ALIGNED (SC_HUGE + 1)

/*
 * Usable size of a request of class cls.  Small classes and the large
 * classes kept in thread caches use the class size (a cache bin holds one
 * size); larger requests get exactly the pages they need: the rounding of a
 * class would be resident slack, since freed pages are reused warm.
 */
XA_INLINE size_t usize_of(size_t size, unsigned cls) {
	if (likely(cls < SC_NSMALL || cls < xa_tcache_nbins))
		return xa_sc_size[cls];
	return PAGE_CEIL(size);
}

XA_INLINE xa_tsd_t *tsd_get(void) {
	xa_tsd_t *t = &xa_tsd_tls;
	if (likely(t->state == TSD_NOMINAL))
		return t;
	return xa_tsd_boot();
}

/*
 * The allocation event: one GC step, the profiler's sampling point, the
 * peak publication, a due statistics export.  The next one is
 * TCACHE_GC_INTERVAL (64 KiB) of allocation on, so that a thread of small
 * blocks reaches it after many mallocs.  A block of 64 KiB or more crossed
 * it at every malloc, and a thread churning such buffers took the slow
 * path and the event (~150 instructions, an atomic add on the shared
 * peak counter) at every one: b_largebuf spent a third of its allocator
 * time there (bench/README.md, "Large buffers, second part").  So when the
 * allocation that reached the event is larger than TCACHE_GC_INTERVAL /
 * EVENT_STRETCH and the thread's live bytes are not growing (they grew by
 * less than half an interval since its last publication: a churn, not a
 * build-up), the next event is EVENT_STRETCH such blocks on, at most
 * EVENT_STRETCH_MAX bytes.  The sampling point is unchanged (prof_event
 * lowers next_event to it); the GC visits a bin per event as before, so
 * it follows such a thread per allocation rather than per byte; and a
 * growing thread publishes its live bytes every 64 KiB as before, so the
 * peak misses at most one stretched interval, at the start of a build-up
 * that follows a churn (peak.c, "Accuracy").
 */
static XA_NOINLINE void alloc_event(xa_tsd_t *t, size_t usize) {
	uint64_t step = TCACHE_GC_INTERVAL;
	int64_t grown = (int64_t)(t->allocated - t->deallocated) - t->peak_pub;
	if (usize > TCACHE_GC_INTERVAL / EVENT_STRETCH && grown < (int64_t)(TCACHE_GC_INTERVAL / 2))
		step = XA_MIN((uint64_t)usize * EVENT_STRETCH, EVENT_STRETCH_MAX);
	xa_tcache_gc_step(t);
	t->next_event = t->allocated + step;
	if (config_prof)
		xa_prof_event(t); /* may lower next_event to the sampling point */
	xa_peak_publish(t);
	if (unlikely(atomic_load_explicit(&xa_report_pending, memory_order_relaxed) ||
	             xa_report_due()))
		xa_report_poll(false);
}

/* Count usable bytes for a thread; threads without a registered state
 * (purgatory, bootstrap) count into the totals directly. */
XA_INLINE void count_alloc(xa_tsd_t *t, size_t usize) {
	if (likely(t->state == TSD_NOMINAL)) {
		XA_RELAXED_STORE(t->allocated, t->allocated + usize);
		if (unlikely(t->allocated >= t->next_event))
			alloc_event(t, usize);
	} else {
		xa_tsd_count_unregistered(usize, 0);
	}
}

XA_INLINE void count_dalloc(xa_tsd_t *t, size_t usize) {
	if (likely(t->state == TSD_NOMINAL)) {
		XA_RELAXED_STORE(t->deallocated, t->deallocated + usize);
	} else {
		xa_tsd_count_unregistered(0, usize);
	}
}

/*
 * Out of memory (mmap failed, usually RLIMIT_AS or overcommit): give back
 * every wholly free chunk and cached huge mapping, whatever retain says, and
 * the calling thread's cache, so the caller can retry once.  No lock is
 * held here.  Returns true if anything was released.
 */
static XA_COLD bool oom_reclaim(xa_tsd_t *t) {
	if (t->state == TSD_NOMINAL)
		xa_tcache_flush_all(t);
	return xa_arenas_unmap_free() > 0;
}

static void *alloc_raw(xa_tsd_t *t, size_t *usize, unsigned cls, size_t align, bool zero);

/* Allocate usize bytes of class cls (usize already the class size, or the
 * page-rounded size for huge), aligned to align (0 = natural). */
static void *alloc_impl(xa_tsd_t *t, size_t usize, unsigned cls, size_t align, bool zero) {
	void *p = NULL;
	/* The sampling point is an allocation event (next_event <= prof_next). */
	if (config_prof && unlikely(t->allocated + usize >= t->next_event) && xa_prof_due(t, usize))
		p = xa_prof_alloc(t, usize, cls, align, zero);
	if (likely(p == NULL))
		p = alloc_raw(t, &usize, cls, align, zero);
	if (unlikely(p == NULL) && oom_reclaim(t))
		p = alloc_raw(t, &usize, cls, align, zero);
	if (unlikely(p == NULL)) {
		errno = ENOMEM;
		return NULL;
	}
	count_alloc(t, usize);
	if (unlikely(xa_opt.junk) && !zero)
		memset(p, JUNK_ALLOC, usize);
	else if (unlikely(xa_opt.zero) && !zero)
		memset(p, 0, usize);
	return p;
}

/*
 * An aligned large request (alignment above a page) from the thread's
 * cache, when the block on top of its class's bin happens to be aligned:
 * aligned runs of a cached class have the class's size, so their frees
 * fill that bin, and a program that allocates all its buffers aligned gets
 * back the blocks it freed.  Else NULL, and the request takes the arena
 * lock (b_aligned: 15% of its time in pthread_mutex_lock before,
 * bench/README.md "Aligned large runs").
 */
static void *aligned_cached(xa_tsd_t *t, size_t usize, size_t align) {
	unsigned cls = xa_sc_size2class(usize);
	if (cls >= t->nbins || xa_sc_size[cls] != usize || !xa_tcache_bin_is_on(t, cls))
		return NULL;
	xa_cbin_t *b = &t->bins[cls];
	if (xa_cbin_ncached(b) == 0 || ((uintptr_t)b->head[-1] & (align - 1)))
		return NULL;
	if (config_stats)
		b->nrequests++;
	return xa_cbin_pop(b);
}

/*
 * A large class's empty bin borrows from the next class's bin (its blocks
 * are at most 25% larger: four classes per doubling), and *usize becomes
 * that class's size, which the allocation counts and its free gives back
 * (the block keeps its class: it returns to that bin).  A thread churning
 * buffers of several sizes holds about as many blocks as it uses, spread
 * over the bins at random, so one bin runs dry while its neighbour holds
 * some: b_largebuf took 5.8% of its mallocs from the page allocator, 2.2%
 * with the neighbour (bench/README.md, "Large buffers, second part").
 * Not for calloc (its miss takes the arena's zeroing path) nor for small
 * classes (a fill serves many mallocs).
 */
static void *alloc_raw(xa_tsd_t *t, size_t *usize, unsigned cls, size_t align, bool zero) {
	void *p;
	if (cls < t->nbins) {
		xa_cbin_t *b = &t->bins[cls];
		xa_tcache_bin_need(t, cls);
		if (xa_cbin_ncached(b)) {
			p = xa_cbin_pop(b);
		} else if (zero && cls >= SC_NSMALL) {
			/* a calloc that misses the cache: the arena zeroes only
			 * what is not known to be zero (zero.c), so untouched
			 * fresh pages stay absent */
			p = xa_arena_malloc_large(t->arena, *usize, 0, true);
			zero = false;
		} else if (cls >= SC_NSMALL && cls + 1 < t->nbins && xa_cbin_ncached(&t->bins[cls + 1])) {
			p = xa_cbin_pop(&t->bins[cls + 1]);
			*usize = xa_sc_size[cls + 1];
		} else {
			p = xa_tcache_fill(t, cls);
		}
		if (config_stats)
			b->nrequests++;
		if (p && zero)
			memset(p, 0, *usize);
	} else if (cls < SC_NSMALL) {
		p = xa_arena_malloc_small(t->arena, cls, zero, t->fill_slot);
	} else if (cls < SC_HUGE || cls == SC_NLARGE_ALIGNED) {
		p = align > PAGE && !zero ? aligned_cached(t, *usize, align) : NULL;
		if (p == NULL)
			p = xa_arena_malloc_large(t->arena, *usize, align, zero);
	} else {
		p = xa_huge_malloc(*usize, align, zero);
	}
	return p;
}

XA_INLINE bool boot(void) {
	if (likely(xa_initialized()))
		return false;
	return xa_init_slow();
}

void *xa_malloc_slow(size_t size) {
	if (unlikely(boot()))
		return NULL;
	if (unlikely(size > XA_REQ_MAX)) {
		errno = ENOMEM;
		return NULL;
	}
	xa_tsd_t *t = tsd_get();
	unsigned cls = xa_sc_size2class(size);
	size_t usize = usize_of(size, cls);
	xa_tsd_enter(t);
	void *p = alloc_impl(t, usize, cls, 0, false);
	xa_tsd_leave(t);
	return p;
}

/* malloc of SC_LOOKUP_MAX < size: a cache hit for classes up to
 * TCACHE_LOOKUP2_MAX (1-in-25 of alloc-test's blocks, the 4-16 KiB ones,
 * went through the whole slow path before), the slow path above. */
void *xa_malloc_mid(size_t size) {
	if (likely(size <= TCACHE_LOOKUP2_MAX))
		return xa_tcache_malloc_bin(size, xa_tcache_binoff[TCACHE_LOOKUP2_IDX(size)]);
	return xa_malloc_slow(size);
}

void *xa_malloc(size_t size) {
	return xa_tcache_malloc(size);
}

void *xa_calloc(size_t n, size_t size) {
	size_t total;
	if (unlikely(__builtin_mul_overflow(n, size, &total) || total > XA_REQ_MAX)) {
		errno = ENOMEM;
		return NULL;
	}
	if (unlikely(boot()))
		return NULL;
	xa_tsd_t *t = tsd_get();
	unsigned cls = xa_sc_size2class(total);
	size_t usize = usize_of(total, cls);
	xa_tsd_enter(t);
	void *p = alloc_impl(t, usize, cls, 0, true);
	xa_tsd_leave(t);
	return p;
}

/* The class to use for size bytes aligned to align (a power of two > 16):
 * a small class whose size is a multiple of align (its regions are then
 * aligned, slabs being page-aligned), else a large or huge run. */
static void *aligned_impl(xa_tsd_t *t, size_t align, size_t size, bool zero) {
	if (align <= QUANTUM) {
		unsigned cls = xa_sc_size2class(size);
		size_t usize = usize_of(size, cls);
		return alloc_impl(t, usize, cls, 0, zero);
	}
	if (size > XA_REQ_MAX || align > XA_REQ_MAX / 2 || size + align > XA_REQ_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	if (align <= PAGE && size <= SC_SMALL_MAX) {
		size_t want = (size + align - 1) & ~(align - 1);
		for (unsigned cls = xa_sc_size2class(want); cls < SC_NSMALL; cls++)
			if (xa_sc_size[cls] % align == 0)
				return alloc_impl(t, xa_sc_size[cls], cls, 0, zero);
	}
	size_t need = PAGE_CEIL(size > SC_SMALL_MAX ? size : SC_SMALL_MAX + 1);
	unsigned cls = xa_sc_size2class(need);
	if (cls < SC_HUGE) {
		size_t usize = usize_of(need, cls);
		if (align <= PAGE)
			return alloc_impl(t, usize, cls, 0, zero);
		/* Aligned large runs skip the cache (their alignment is special). */
		if (usize + align - PAGE <= CHUNK)
			return alloc_impl(t, usize, SC_NLARGE_ALIGNED, align, zero);
	}
	size_t usize = PAGE_CEIL(size);
	if (usize <= SC_LARGE_MAX)
		usize = SC_LARGE_MAX + PAGE;
	return alloc_impl(t, usize, SC_HUGE, align, zero);
}

void *xa_aligned(size_t align, size_t size) {
	if (unlikely(boot()))
		return NULL;
	xa_tsd_t *t = tsd_get();
	xa_tsd_enter(t);
	void *p = aligned_impl(t, align, size, false);
	xa_tsd_leave(t);
	return p;
}

/* ---- free ------------------------------------------------------------ */

XA_COLD static void bad_pointer(const void *ptr, xa_chunk_t *c) {
	/* A chunk-aligned pointer into a cached huge mapping: a block freed
	 * already (cached entries merge, so it need not start the entry). */
	if (c && c->kind == CHUNK_HUGE_CACHED && ((uintptr_t)ptr & CHUNK_MASK) == 0)
		xa_fatal("double free of", ptr, 0);
	if (c && c->kind == CHUNK_ARENA && ((uintptr_t)ptr & PAGE_MASK) == 0) {
		/* A page-aligned pointer inside a free run: a large block freed
		 * twice (its run may have merged with a free neighbour, so look
		 * back for the run that covers the page; interior prun entries
		 * are NULL). */
		uintptr_t p = (uintptr_t)ptr;
		for (size_t i = ((p - c->addr) >> LG_PAGE) + 1; i-- > 0;) {
			xa_run_t *r = xa_chunk_run(c, i);
			if (r == NULL)
				continue;
			if (r->kind == RUN_FREE && r->addr <= p && p < r->addr + (size_t)r->npages * PAGE)
				xa_fatal("double free of", ptr, 0);
			/* or freed already and waiting in a remote batch */
			if (r->kind == RUN_LARGE && r->addr == p && xa_run_rpending(r))
				xa_fatal("double free of", ptr, 0);
			break;
		}
	}
	xa_fatal("free of invalid pointer", ptr, 0);
}

/* Find what ptr is: returns its chunk and, for arena chunks, its run;
 * aborts on a pointer xalloc did not return. */
XA_INLINE xa_chunk_t *lookup(const void *ptr, xa_run_t **runp) {
	uintptr_t p = (uintptr_t)ptr;
	xa_chunk_t *c = xa_pagemap_lookup(p);
	if (unlikely(c == NULL))
		bad_pointer(ptr, NULL);
	if (c->kind != CHUNK_ARENA) {
		if (unlikely(p != c->addr || c->kind != CHUNK_HUGE))
			bad_pointer(ptr, c);
		*runp = NULL;
		return c;
	}
	xa_run_t *r = xa_chunk_run_at(c, p);
	if (unlikely(r == NULL ||
	        (r->kind != RUN_SLAB && (r->kind != RUN_LARGE || r->addr != p || xa_run_rpending(r)))))
		bad_pointer(ptr, c);
	if (unlikely((p & (QUANTUM - 1)) != 0))
		bad_pointer(ptr, c);
	*runp = r;
	return c;
}

static size_t run_usize(xa_run_t *r) {
	return r->kind == RUN_SLAB ? xa_sc_size[r->cls] : r->usize;
}

/* Checks before a free goes into the thread cache, where the slab bitmap
 * cannot see it until the next flush: the pointer starts a region of its
 * slab, and it is not the object cached last (free(p); free(p)).  A
 * repeat further down the stack is caught when the bin is flushed. */
XA_INLINE void check_cached_free(xa_cbin_t *b, xa_run_t *r, void *ptr, size_t usize) {
	if (r->kind == RUN_SLAB) {
		size_t off = (uintptr_t)ptr - r->addr;
		unsigned idx = xa_sc_region_index(r->cls, off);
		xa_check((size_t)idx * xa_sc[r->cls].size == off && idx < r->nregs,
		    "free of invalid pointer", ptr, 0);
	}
	xa_check(b->head[-1] != ptr, "double free of", ptr, usize); /* base[-1] is NULL */
}

static void free_impl(xa_tsd_t *t, void *ptr, bool cache_large) {
	xa_run_t *r;
	xa_chunk_t *c = lookup(ptr, &r);
	if (c->kind == CHUNK_HUGE) {
		count_dalloc(t, c->size);
		if (config_prof && unlikely(c->sampled))
			xa_prof_free_sampled(c, NULL, ptr, c->size);
		if (unlikely(xa_opt.junk))
			memset(ptr, JUNK_FREE, XA_MIN(c->size, (size_t)4096));
		xa_huge_free(c);
		return;
	}
	unsigned cls = r->cls;
	size_t usize = run_usize(r);
	count_dalloc(t, usize);
	if (unlikely(xa_opt.junk))
		memset(ptr, JUNK_FREE, usize);
	if (config_prof && unlikely(r->sampled)) {
		xa_prof_free_sampled(c, r, ptr, usize);
		return;
	}
	if (cls < t->nbins && (r->kind == RUN_SLAB || (cache_large && r->usize == xa_sc_size[cls]))) {
		xa_cbin_t *b = &t->bins[cls];
		xa_tcache_bin_need(t, cls);
		check_cached_free(b, r, ptr, usize);
		if (xa_cbin_full(b) && !xa_tcache_grow(t, cls))
			xa_tcache_flush_bin(t, cls, b->cap / 2);
		xa_cbin_push(b, ptr);
		return;
	}
	if (r->kind == RUN_SLAB)
		xa_arena_free_small_one(c, ptr);
	else
		xa_arena_free_large(c, r);
}

void xa_free_slow(void *ptr) {
	if (ptr == NULL)
		return;
	if (unlikely(!xa_initialized()))
		bad_pointer(ptr, NULL); /* nothing can be ours yet */
	xa_tsd_t *t = tsd_get();
	xa_tsd_enter(t);
	free_impl(t, ptr, true);
	if (t->state == TSD_NOMINAL)
		xa_peak_publish_free(t);
	xa_tsd_leave(t);
}

void xa_free(void *ptr) {
	xa_tcache_free(ptr);
}

void xa_free_sized(void *ptr, size_t size) {
	(void)size;
	xa_free(ptr);
}

/* Entered like a slow path: lookup reads the run descriptor without a
 * lock, and a world stop (idle.c) may be moving it. */
size_t xa_usable_size(const void *ptr) {
	if (ptr == NULL || !xa_initialized())
		return 0;
	xa_tsd_t *t = tsd_get();
	xa_tsd_enter(t);
	xa_run_t *r;
	xa_chunk_t *c = lookup(ptr, &r);
	size_t n = c->kind == CHUNK_HUGE ? c->size : run_usize(r);
	xa_tsd_leave(t);
	return n;
}

/* ---- realloc --------------------------------------------------------- */

/* libc's memcpy under another name, so that GCC does not expand it: for a
 * copy it knows is at most 4 KiB (realloc_small) it emits `rep movsq`,
 * whose start-up costs more than libc's vector copy at the sizes realloc
 * moves (c_mstress: 75% of xa_realloc's cpu-clock samples were on that
 * instruction and the store before it). */
extern void *xa_libc_memcpy(void *restrict dst, const void *restrict src, size_t n) __asm__("memcpy");

static void *realloc_impl(xa_tsd_t *t, void *ptr, size_t size);

/*
 * realloc of a block of a small class to a small size, on the fast paths:
 * the class comes from the block's page entry and the block is checked as
 * the free fast path checks it (a region start of its slab), so the run
 * descriptor is never read -- in a program that resizes blocks picked at
 * random among many, that read was a cache miss of its own (c_mstress:
 * three quarters of realloc's time).  A move is xa_tcache_malloc, memcpy
 * and xa_tcache_free, each with its own checks and accounting.  Returns
 * false, having done nothing, for anything else: not a small class, a
 * sampled block, a pointer that is not ours or not a region start (the
 * slow path then validates it, and aborts on misuse).
 */
static bool realloc_small(void *ptr, size_t size, void **out) {
	uintptr_t p = (uintptr_t)ptr;
	const char *base;
	uintptr_t eo = xa_pagemap_entry_fast(p, &base);
	unsigned e = *(const uint16_t *)(base + eo);
	unsigned cls = PCLASS_OF(e);
	uint32_t x = (uint32_t)PCLASS_SLAB_OFF(e, p);
	if (cls >= SC_NSMALL) /* and PCLASS_NONE, PCLASS_SAMPLED */
		return false;
	uint32_t m = xa_tcache_fmagic[cls];
	if ((uint32_t)(x * m) >= m)
		return false;
	size_t old = xa_sc_size[cls];
	size_t usize = xa_sc_size[xa_sc_size2class(size)];
	/* same rule as realloc_impl: the same class, or a shrink to no less
	 * than half, keeps the block */
	if (usize <= old && usize * 2 >= old) {
		*out = ptr;
		return true;
	}
	void *q = xa_tcache_malloc(size);
	if (q != NULL) {
		xa_libc_memcpy(q, ptr, XA_MIN(old, size));
		xa_tcache_free(ptr);
	}
	*out = q; /* NULL: errno is ENOMEM, the old block untouched */
	return true;
}

void *xa_realloc(void *ptr, size_t size) {
	if (ptr == NULL)
		return xa_malloc(size);
	if (size == 0) {
		/* glibc: realloc(p, 0) frees p and returns NULL. */
		xa_free(ptr);
		return NULL;
	}
	if (unlikely(size > XA_REQ_MAX)) {
		errno = ENOMEM;
		return NULL;
	}
	void *q;
	if (size <= SC_LOOKUP_MAX && realloc_small(ptr, size, &q))
		return q;
	xa_tsd_t *t = tsd_get();
	xa_tsd_enter(t);
	q = realloc_impl(t, ptr, size);
	xa_tsd_leave(t);
	return q;
}

static void *realloc_impl(xa_tsd_t *t, void *ptr, size_t size) {
	xa_run_t *r;
	xa_chunk_t *c = lookup(ptr, &r);
	size_t old = c->kind == CHUNK_HUGE ? c->size : run_usize(r);
	unsigned ncls = xa_sc_size2class(size);
	/* A large block resized by realloc has exactly its pages and stays
	 * out of the thread cache, whatever tcache_max says: a buffer grown
	 * step by step then grows in place whenever the pages after it are
	 * free, and the block it outgrows goes back to the arena, where its
	 * pages merge with their neighbours, instead of waiting in a bin for
	 * a malloc of its class (bench/README.md, "Large buffers": with the
	 * cache's class-sized blocks b_realloc's peak RSS rose 27%). */
	bool large = ncls >= SC_NSMALL && ncls < SC_HUGE;
	size_t usize = large ? PAGE_CEIL(size) : usize_of(size, ncls);

	if (c->kind == CHUNK_HUGE) {
		if (ncls == SC_HUGE) {
			bool gone;
			void *q = xa_huge_realloc(c, usize, &gone);
			if (q == NULL && !gone && oom_reclaim(t))
				q = xa_huge_realloc(c, usize, &gone);
			if (q) {
				if (config_prof && unlikely(c->sampled))
					xa_prof_moved(ptr, q, usize);
				count_dalloc(t, old);
				count_alloc(t, usize);
				return q;
			}
			if (gone)
				return NULL;
			/* mremap refused (e.g. the program changed the protection
			 * of part of the block): allocate, copy and free below. */
		}
	} else if (r->kind == RUN_SLAB) {
		/* Same class, or a shrink to no less than half: keep it. */
		if (usize <= old && usize * 2 >= old)
			return ptr;
	} else if (ncls >= SC_NSMALL && ncls < SC_HUGE) {
		if (usize == old)
			return ptr;
		if (!xa_arena_ralloc_large_inplace(c, r, usize)) {
			if (config_prof && unlikely(r->sampled))
				xa_prof_resized(c, r, usize); /* restores PCLASS_SAMPLED */
			count_dalloc(t, old);
			count_alloc(t, usize);
			return ptr;
		}
	}
	void *q = alloc_impl(t, usize, large ? SC_NLARGE_ALIGNED : ncls, 0, false);
	if (q == NULL)
		return NULL; /* the old block is untouched */
	memcpy(q, ptr, XA_MIN(old, size));
	free_impl(t, ptr, false);
	return q;
}

/* ---- release on demand ------------------------------------------------ */

size_t xa_release_all(void) {
	if (!xa_initialized())
		return 0;
	xa_tsd_t *t = &xa_tsd_tls;
	if (t->state == TSD_NOMINAL) {
		xa_tsd_enter(t);
		xa_tcache_flush_all(t);
		xa_tsd_leave(t);
	}
	/* Caches of other threads, if they are asleep (see idle.c). */
	xa_idle_reclaim(xa_now_ns(), 0);
	return xa_arenas_purge(true);
}
