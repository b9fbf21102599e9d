/*
 * tcache.h -- per-thread caches: the structures and the inline fast paths.
 *
 * A cache bin is a bounded stack of free objects of one size class, kept in
 * an array (no pointers inside user memory).  The fast paths below take no
 * lock and no atomic read-modify-write: malloc pops, free pushes.  A miss
 * (empty on malloc, full on free, not initialised, tcache off, an event due)
 * falls into one noinline slow path in alloc.c.
 *
 * Thread byte counters: allocated/deallocated count usable bytes and are
 * always on; other threads read them (stats) with relaxed loads, so the owner
 * writes them with relaxed stores (the same single mov on x86-64).
 * next_event is the value of `allocated` at which the slow path must run
 * once: the incremental cache GC tick and the profiler's sampling point
 * share this one threshold check.
 */
#ifndef XA_TCACHE_H
#define XA_TCACHE_H

typedef struct {
	uint32_t off;       /* the stack is t->stacks + off: cap slots, objects
	                       at [0, ncached); stack[-1] is a NULL sentinel
	                       (never written) */
	uint16_t ncached;
	uint16_t cap;
	uint16_t nfill;     /* how many to fetch on the next miss */
	uint16_t low_water; /* min ncached since the last GC visit */
	/* allocations since the last merge into the bin stats: kept in the
	 * bin's own 16 bytes, as a separate array cost the malloc fast path
	 * an extra cache line (b_mixed +4.4% against --disable-stats) */
	uint32_t nrequests;
} xa_cbin_t; /* 16 bytes: the fast path indexes bins with a shift */

enum { TSD_UNINIT = 0, TSD_INITIALIZING, TSD_NOMINAL, TSD_PURGATORY };

struct xa_tsd_s {
	/* fast-path fields first */
	uint64_t allocated;
	uint64_t deallocated;
	uint64_t next_event;
	unsigned nbins; /* cached classes are [0, nbins); 0 = no cache in use */
	uint8_t state;
	uint8_t in_prof;   /* the profiler is running on this thread */
	uint8_t prof_off;  /* thread.prof.active == false */
	uint8_t gc_bin;    /* next bin the incremental GC visits */
	uint8_t arena_pinned; /* thread.arena was set: fill from t->arena */
	xa_arena_t *arena;
	xa_tsd_t *next, *prev; /* registry of live threads */
	void **stacks;         /* one block holding every bin's stack */
	uint64_t last_active_ns; /* when the cache GC last ran */
	uint64_t prof_next;    /* allocated value of the next sample */
	uint64_t prof_prng;    /* the sampler's PRNG state */
	uint64_t prof_acc;     /* allocated at the last interval accounting */
	uint64_t prof_gc_next; /* the GC point while next_event = prof_next */
	uint32_t prof_epoch;   /* xa_prof_epoch when prof_next was drawn */
	pid_t tid;
	/* idle-cache reclaim (idle.c): in_slow is written by the owner only;
	 * reclaim by the background thread (1: reclaiming, 2: owner must
	 * restore nbins/next_event); seen_* belong to the background thread;
	 * reclaim_pid is the process whose background thread set reclaim = 1
	 * (a fork child has no such thread); fork_in_slow keeps in_slow
	 * across the fork handlers */
	uint8_t in_slow;
	_Atomic uint8_t reclaim;
	uint8_t fork_in_slow;
	pid_t reclaim_pid;
	uint64_t seen_alloc, seen_dealloc, seen_ns;
	xa_cbin_t bins[SC_NCLASSES];
};

XA_INLINE void **xa_cbin_stack(const xa_tsd_t *t, const xa_cbin_t *b) { return t->stacks + b->off; }

#define XA_RELAXED_STORE(lv, v) __atomic_store_n(&(lv), (v), __ATOMIC_RELAXED)
/* Stores of the owner's counters on the fast paths.  Other threads read
 * them only racily (statistics, idle reclaim: see idle.c for why that is
 * safe), so a plain store is enough; under ThreadSanitizer they are relaxed
 * atomics so that the reads are not reported.  (GCC treats even a relaxed
 * atomic store as opaque and recomputes TLS addresses around it.) */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) /* clang's spelling */
#define XA_TSAN_BUILD 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || defined(XA_TSAN_BUILD)
#define XA_OWNER_STORE(lv, v) XA_RELAXED_STORE(lv, v)
#else
#define XA_OWNER_STORE(lv, v) ((lv) = (v))
#endif
#define XA_RELAXED_LOAD(lv) __atomic_load_n(&(lv), __ATOMIC_RELAXED)

/* Bytes of allocation between incremental GC visits. */
#define TCACHE_GC_INTERVAL ((uint64_t)64 << 10)

extern __thread xa_tsd_t xa_tsd_tls __attribute__((tls_model("initial-exec")));
extern unsigned xa_tcache_nbins; /* classes <= tcache_max, 0 if tcache off */
/* Per class: the alignment every object start has, minus one (15 for
 * slab classes, PAGE_MASK for large ones); the free fast path's check. */
extern uint16_t xa_tcache_amask[SC_NCLASSES];

/* The fast paths mark the thread as busy with its cache (the same flag the
 * slow paths set), with plain stores and compiler barriers only: the
 * background thread reclaims a cache only while its owner sleeps in the
 * kernel, and a sleeping thread's stores are visible; a thread that sleeps
 * in the middle of a fast path (a signal handler that blocks after
 * interrupting malloc, or a sanitizer runtime) is seen busy and skipped.
 * See idle.c. */
#define XA_FAST_ENTER(t)                                                      \
	do {                                                                  \
		(t)->in_slow = 1;                                             \
		atomic_signal_fence(memory_order_seq_cst);                    \
	} while (0)
#define XA_FAST_LEAVE(t)                                                      \
	do {                                                                  \
		atomic_signal_fence(memory_order_seq_cst);                    \
		(t)->in_slow = 0;                                             \
	} while (0)

/* Returns true and the object in *out on a hit; false on a miss (the caller
 * then takes the slow path). */
XA_INLINE bool xa_tcache_malloc_fast(size_t size, void **out) {
	if (likely(size <= SC_LOOKUP_MAX)) {
		xa_tsd_t *t = &xa_tsd_tls;
		XA_FAST_ENTER(t);
		unsigned cls = xa_sc_lookup[(size + QUANTUM - 1) >> 4];
		xa_cbin_t *b = &t->bins[cls];
		uint64_t a = t->allocated + xa_sc_size[cls];
		unsigned n = b->ncached;
		if (likely(n != 0 && a < t->next_event)) {
			n--;
			*out = xa_cbin_stack(t, b)[n];
			XA_OWNER_STORE(b->ncached, (uint16_t)n);
			if (unlikely(n < b->low_water))
				b->low_water = (uint16_t)n;
			XA_OWNER_STORE(t->allocated, a);
			if (config_stats)
				b->nrequests++;
			XA_FAST_LEAVE(t);
			return true;
		}
		XA_FAST_LEAVE(t);
	}
	return false;
}

/* Returns false on a miss. */
XA_INLINE bool xa_tcache_free_fast(void *ptr) {
	xa_chunk_t *c = xa_pagemap_lookup((uintptr_t)ptr);
	if (likely(c != NULL)) {
		xa_tsd_t *t = &xa_tsd_tls;
		XA_FAST_ENTER(t);
		unsigned cls = c->pclass[((uintptr_t)ptr >> LG_PAGE) & (CHUNK_NPAGES - 1)];
		if (likely(cls < t->nbins)) {
			xa_cbin_t *b = &t->bins[cls];
			uint16_t n = b->ncached;
			/* Default checks (config_check): a pointer not aligned
			 * like its class (16 bytes small, a page large), or
			 * equal to the last object cached (free(p); free(p)),
			 * goes to the slow path, which aborts.
			 * stack[-1] is a NULL sentinel (tcache.c), so the
			 * top compare needs no n != 0 test. */
			if (config_check && unlikely((((uintptr_t)ptr & xa_tcache_amask[cls]) != 0) |
			                             (xa_cbin_stack(t, b)[n - 1] == ptr))) {
				XA_FAST_LEAVE(t);
				return false;
			}
			if (likely(n != b->cap)) {
				xa_cbin_stack(t, b)[n] = ptr;
				XA_OWNER_STORE(b->ncached, (uint16_t)(n + 1));
				XA_OWNER_STORE(t->deallocated, t->deallocated + xa_sc_size[cls]);
				XA_FAST_LEAVE(t);
				return true;
			}
		}
		XA_FAST_LEAVE(t);
	}
	return false;
}

/* idle.c: owner side of the idle-cache reclaim protocol */
void xa_idle_owner_wait(xa_tsd_t *t);
/* Mark the calling thread as inside an allocator slow path (which may touch
 * its cache bins) and wait out a reclaim of its cache, if one is running. */
XA_INLINE void xa_tsd_enter(xa_tsd_t *t) {
	t->in_slow = 1;
	atomic_signal_fence(memory_order_seq_cst);
	if (unlikely(atomic_load_explicit(&t->reclaim, memory_order_acquire)))
		xa_idle_owner_wait(t);
}
XA_INLINE void xa_tsd_leave(xa_tsd_t *t) {
	atomic_signal_fence(memory_order_seq_cst);
	t->in_slow = 0;
}
/* Background side: reclaim caches of threads idle for decay_ms.  Returns
 * ns until the next thread may become eligible (UINT64_MAX: none). */
uint64_t xa_idle_reclaim(uint64_t now, int64_t decay_ms);
/* Fork handlers (init.c): the forking thread waits out any claim on its
 * cache before the first lock is taken; the child clears the claim state
 * and refreshes the thread id. */
void xa_idle_prefork(void);
void xa_idle_postfork_parent(void);
void xa_idle_postfork_child(void);
/* Test hook (XALLOC_TEST_IDLE_HOLD="W,R", read by conf.c): hold the
 * background thread before each idle flush until a byte arrives on fd R,
 * after writing the claimed thread's tid (4 bytes) to fd W. */
void xa_idle_test_hold_init(const char *spec);

/* tcache.c */
/* Set up the calling thread's cache (stacks from base).  Returns true on
 * error (the thread then runs without a cache). */
bool xa_tcache_init(xa_tsd_t *t);
void xa_tcache_destroy(xa_tsd_t *t);
/* Refill bin cls from the thread's arena; returns an object or NULL. */
void *xa_tcache_fill(xa_tsd_t *t, unsigned cls);
/* Make room in a full bin: flush the older half. */
void xa_tcache_flush_bin(xa_tsd_t *t, unsigned cls, unsigned keep);
/* Flush every bin of the calling thread. */
void xa_tcache_flush_all(xa_tsd_t *t);
/* Flush / count the first n bins (n may exceed t->nbins during a reclaim). */
void xa_tcache_flush_n(xa_tsd_t *t, unsigned n);
size_t xa_tcache_bytes_n(xa_tsd_t *t, unsigned n);
/* One step of the incremental GC (called on the allocation event). */
void xa_tcache_gc_step(xa_tsd_t *t);
void xa_tcache_boot(void);
/* Bytes cached by a thread (read racily by stats). */
size_t xa_tcache_bytes(xa_tsd_t *t);
/* Thread-cache block pool statistics. */
size_t xa_tcache_meta_bytes(void);

#endif
