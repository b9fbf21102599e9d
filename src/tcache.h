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

/*
 * A cache bin: 32 bytes, so the fast paths index bins with one shift.
 * The stack grows upwards: objects are [base, head), base = head - ncached;
 * base[-1] is a NULL sentinel (never written), so the free path's compare
 * with the top object (head[-1]) needs no emptiness test.  Positions are
 * compared by their low 16 bits (every stack is far below 64 KiB), as in
 * jemalloc's cache_bin: `lw` is the lowest head position since the GC last
 * visited the bin (the low-water mark), and it is never below base, so the
 * malloc fast path's single compare head != lw covers both "empty" and "a
 * new low water": either case falls into a cold inline branch, which tells
 * them apart by the top slot (NULL only for the sentinel: empty, a miss)
 * and else pops and lowers lw, by up to TCACHE_LW_STEP slots at once
 * (xa_cbin_lw_step).  `full` is where head stands when the stack
 * holds cap objects.
 *
 * Free check (checked builds): fmagic is the free fast path's magic for
 * the region test (see xa_tcache_free): the class's magic while the bin
 * has a stack and the thread's cache is on, 0 otherwise (a bin not set up,
 * the two nocache[] bins, every bin while the cache is off:
 * xa_tcache_uncache).  A 0 magic fails the test for every offset, so the
 * same compare also says "this class is cached".  It sits in the bin,
 * on the line the path reads head from; until 2026-12-07 it was one word
 * per stack slot in a parallel array (read at head + a constant, 0 at the
 * full position, so it was also the "bin full" test), which saved the
 * head == full compare but put a second cache line on every free: it
 * missed L1 on a third of b_threads' frees (bench/README.md, "The free
 * check's magic in the bin").  A bin without a stack
 * (a class above tcache_max, a thread without a cache, the two nocache[]
 * bins, every bin of a new thread: the TLS image) has head at
 * XA_NOCACHE_HEAD, a static all-zero area whose slot below head is NULL,
 * magic 0: free misses, and with
 * lw = full = POS16(head), cap 0 it reads as empty for malloc and stats
 * (xa_tcache_init sets those; a new thread's TLS image has them 0, and
 * its next_event 0 keeps malloc off the bins until then).
 */
typedef struct {
	void **head;        /* next free slot */
	/* usable bytes of the class, counted per hit (64 bits: the free path
	 * adds it to its counter straight from memory) */
	uint64_t size;
	/* the free check's magic (checked builds; "Free check" above) */
	uint32_t fmagic;
	/* allocations since the last merge into the bin stats: kept in the
	 * bin itself, as a separate array cost the malloc fast path an extra
	 * cache line (b_mixed +4.4% against --disable-stats) */
	uint32_t nrequests;
	uint16_t base;      /* low 16 bits of the stack's first slot */
	uint16_t lw;        /* low 16 bits of the low-water position */
	uint16_t full;      /* low 16 bits of base + cap */
	uint16_t cap;       /* adaptive: tcache.c, "Capacity" */
} xa_cbin_t;

/* The head of a bin without a stack: slot 1 of a static zero area, so
 * head[-1] is NULL. */
extern void *xa_tcache_noslot[2] XA_HIDDEN;
#define XA_NOCACHE_HEAD (&xa_tcache_noslot[1])

enum { TSD_UNINIT = 0, TSD_INITIALIZING, TSD_NOMINAL, TSD_PURGATORY };

struct xa_tsd_s {
	/* fast-path fields first */
	uint64_t allocated;
	uint64_t deallocated;
	uint64_t next_event;
	/* busy marks of the fast paths (idle.c; XA_FAST_MARK below) */
	uint64_t amark, dmark;
	unsigned nbins; /* cached classes are [0, nbins); 0 = no cache in use */
	uint8_t state;
	uint8_t in_prof;   /* the profiler is running on this thread */
	uint8_t prof_off;  /* thread.prof.active == false */
	uint8_t gc_bin;    /* next bin the incremental GC visits */
	uint8_t arena_pinned; /* thread.arena was set: fill from t->arena */
	uint8_t fill_slot;    /* which of a bin's carved slabs its fills take
	                       * (arena.c, "Fill slots") */
	xa_arena_t *arena;
	xa_link_t link;        /* registry of live threads (tsd.c) */
	/* one block holding every bin's stack; bit 0: the big layout
	 * (tcache.c, "Capacity") */
	void **stacks;
	/* bins set up (stack bounds, sentinel, free magic; tcache.c: on
	 * first use): bit i of bin_on[i / 64] */
	uint64_t bin_on[2];
	/* per small class, allocations since its bin last overflowed, minus
	 * what growth consumed, except those still in the bin's nrequests:
	 * what it may grow by (tcache.c, "Capacity") */
	int32_t grow_credit[SC_NSMALL];
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
	/* world stops (idle.c, "Stopping the world"): stw_in, owner only:
	 * slow paths of this thread, while unregistered, counted in the
	 * gate; stw_claim, under the registry lock: claimed by a stop
	 * (STW_CLAIMED), and whether reclaim was 2 before (STW_PREV2) */
	uint8_t stw_in;
	pid_t reclaim_pid;
	uint8_t stw_claim;
	uint64_t seen_alloc, seen_dealloc, seen_ns;
	/* Two bins that never have a stack (head XA_NOCACHE_HEAD: every
	 * free misses), right below bins[]: the checked free fast path
	 * indexes bins[] with the page entry's class byte as a signed char,
	 * so PCLASS_NONE (0xff) and PCLASS_SAMPLED (0xfe) land here; see
	 * xa_tcache_free. */
	xa_cbin_t nocache[2];
	xa_cbin_t bins[SC_NCLASSES];
	/* per small class, how many objects to fetch on its next miss (slow
	 * paths only, so not in the bin; larger classes fill one at a time) */
	uint16_t nfill[SC_NSMALL];
	/* per small class, the objects its bin held when the GC last left it
	 * (tcache.c, "GC": the bin's drain since then).  With nfill cut to
	 * the small classes the thread's TLS is as large as before: 136
	 * bytes more put a page more of every thread's static TLS in use
	 * (b_threads128: +0.5 MiB for 128 threads). */
	uint16_t gc_seen[SC_NSMALL];
	/* after the bins: a field before them moves their offset, and the
	 * fast paths' address arithmetic with it (one more instruction) */
	int64_t peak_pub; /* allocated - deallocated last published (peak.c) */
	/* sum of (cap - cap_min) * size over the bins (tcache.c, Capacity) */
	size_t cache_grown;
};


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

#define XA_POS16(p) ((uint16_t)(uintptr_t)(p))
/* Objects in the bin (read racily by statistics: head is stored with
 * XA_OWNER_STORE). */
XA_INLINE unsigned xa_cbin_ncached(const xa_cbin_t *b) {
	void **h = XA_RELAXED_LOAD(b->head);
	/* base changes only when the bin is set up or loses its stack
	 * (relaxed stores); cap and full also change as the capacity adapts,
	 * so the count does not use them */
	return (unsigned)(uint16_t)(XA_POS16(h) - XA_RELAXED_LOAD(b->base)) / sizeof(void *);
}
XA_INLINE void **xa_cbin_base(const xa_cbin_t *b) { return b->head - xa_cbin_ncached(b); }
/* The low-water mark as a count of objects. */
XA_INLINE unsigned xa_cbin_low_water(const xa_cbin_t *b) {
	return xa_cbin_ncached(b) - (unsigned)(uint16_t)(XA_POS16(b->head) - b->lw) / sizeof(void *);
}
/* Pop / push for the slow paths (the fast paths below do the same inline). */
XA_INLINE void *xa_cbin_pop(xa_cbin_t *b) {
	void **h = b->head - 1;
	XA_OWNER_STORE(b->head, h);
	if (XA_POS16(h + 1) == b->lw)
		b->lw = XA_POS16(h); /* a new low water (lw <= head always) */
	return *h;
}
XA_INLINE void xa_cbin_push(xa_cbin_t *b, void *ptr) {
	void **h = b->head;
	*h = ptr;
	XA_OWNER_STORE(b->head, h + 1);
}
XA_INLINE bool xa_cbin_full(const xa_cbin_t *b) { return XA_POS16(b->head) == b->full; }
/* Forget every object in the bin (they are leaked): base is stored in the
 * bin and a flush never changes it, so this is right even for a bin whose
 * flush stopped half-way (idle.c, a fork during a reclaim). */
XA_INLINE void xa_cbin_drop(xa_cbin_t *b) {
	void **base = xa_cbin_base(b);
	XA_OWNER_STORE(b->head, base);
	b->lw = XA_POS16(base);
}

/* Bound of a thread's grown cache capacity (tcache.c, "Capacity"). */
#ifndef TCACHE_GROW_BYTES
#define TCACHE_GROW_BYTES ((size_t)8 << 20)
#endif
/* A bin of a large class above 32 KiB holds at most this many bytes of
 * blocks: 4 of 64 KiB, 2 of 80-128 KiB (tcache.c, "Large blocks"). */
#define TCACHE_LARGE_BIN_BYTES ((size_t)256 << 10)
/* A bin of a large class may grow to TCACHE_LARGE_CAP_MAX blocks, at
 * most TCACHE_LARGE_BIN_MAX_BYTES of them, and a thread's large bins by
 * TCACHE_LARGE_GROW_BYTES in all (tcache.c, "Large blocks"). */
#ifndef TCACHE_LARGE_CAP_MAX
#define TCACHE_LARGE_CAP_MAX 16u
#endif
#define TCACHE_LARGE_BIN_MAX_BYTES ((size_t)2 << 20)
#ifndef TCACHE_LARGE_GROW_BYTES
#define TCACHE_LARGE_GROW_BYTES ((size_t)4 << 20)
#endif
/* Bytes of allocation between incremental GC visits. */
#define TCACHE_GC_INTERVAL ((uint64_t)64 << 10)
/* A thread churning large blocks reaches its next event EVENT_STRETCH
 * blocks on, at most EVENT_STRETCH_MAX bytes (alloc.c, alloc_event). */
#ifndef EVENT_STRETCH
#define EVENT_STRETCH 8u
#endif
#define EVENT_STRETCH_MAX ((uint64_t)1 << 20)
/* A GC visit keeps what the bin's drain since the last visit would take
 * over this many more visits (tcache.c, "GC"). */
#ifndef GC_DRAIN_VISITS
#define GC_DRAIN_VISITS 2
#endif

extern __thread xa_tsd_t xa_tsd_tls __attribute__((tls_model("initial-exec")));
extern unsigned xa_tcache_nbins; /* classes <= tcache_max, 0 if tcache off */
/* Per class: ceil(2^32 / d), d the class size for slab classes and PAGE for
 * large ones.  The free fast path's region-start check: for an offset
 * off < 2^16 (slabs have at most 16 pages), off is a multiple of d iff
 * off * magic (mod 2^32) < magic (Lemire, Kaser, Kurz, "Faster remainder by
 * direct computation", 2019: exact for N-bit off and F-bit magic when
 * F >= N + log2(d); here 32 >= 16 + 14): one multiply instead of a
 * division. */
extern uint32_t xa_tcache_fmagic[SC_NCLASSES];

/* Bytes-to-bin table for the malloc fast path: for a request of n <= 4096
 * bytes, xa_tcache_binoff[(n + 15) >> 4] is the byte offset of its class's
 * bin in xa_tsd_t.bins (class * sizeof(xa_cbin_t)), so the fast path adds
 * it to the thread pointer without a shift (tcache.c fills it at boot; all
 * zero before, which names bin 0 of a thread whose next_event is 0). */
/* Sizes above SC_LOOKUP_MAX, up to TCACHE_LOOKUP2_MAX, by 1 KiB steps:
 * entry TCACHE_LOOKUP2_IDX(n) is the bin of the class of ceil(n / 1 KiB)
 * KiB (see xa_tcache_malloc). */
#define TCACHE_LOOKUP2_MAX ((size_t)131072)
#define TCACHE_LOOKUP2_IDX(n) (SC_NLOOKUP + (((n) - 1) >> 10) - SC_LOOKUP_MAX / 1024)
#define TCACHE_NBINOFF (SC_NLOOKUP + (TCACHE_LOOKUP2_MAX - SC_LOOKUP_MAX) / 1024)
extern uint16_t xa_tcache_binoff[TCACHE_NBINOFF] XA_HIDDEN;

/*
 * The calling thread's state, for the fast paths.  By default a flat
 * pointer; the empty asm makes the compiler compute it once into a
 * register, so every field is one plain (register + offset) access.  With
 * -DXA_SEG_FS (x86-64 GCC, not under ThreadSanitizer) the thread pointer
 * stays in %fs and the fast paths address fields as %fs:offset(reg), with
 * reg the initial-exec offset from the GOT: one instruction less per call
 * (71.9 instead of 74.9 per malloc+free pair, bench/instr.py) but no
 * faster in time on the reference machine (quiet, 5 interleaved repeats:
 * b_instr pairs 1.03-1.08x the flat build's CPU time, batches equal), so
 * it is not the default (bench/README.md).
 * XA_TSD_FLAT gives the flat pointer to the same state, for cold code.
 */
#if defined(__x86_64__) && defined(__SEG_FS) && !defined(__SANITIZE_THREAD__) &&              \
    !defined(XA_TSAN_BUILD) && !defined(__clang__) && defined(XA_SEG_FS)
#define XA_TSD_SEG __seg_fs
XA_INLINE XA_TSD_SEG xa_tsd_t *xa_tsd_fast(void) {
	uintptr_t off;
	__asm__("movq xa_tsd_tls@gottpoff(%%rip), %0" : "=r"(off));
	return (XA_TSD_SEG xa_tsd_t *)off;
}
#define XA_TSD_FLAT(t, field) (&xa_tsd_tls.field)
#else
#define XA_TSD_SEG
XA_INLINE xa_tsd_t *xa_tsd_fast(void) {
	xa_tsd_t *t = &xa_tsd_tls;
	__asm__("" : "+r"(t));
	return t;
}
#define XA_TSD_FLAT(t, field) (&(t)->field)
#endif
typedef XA_TSD_SEG xa_tsd_t xa_tsd_fast_t;
/* x *= m (32 bits) with m read from memory: the free path's region test
 * uses the magic twice, and GCC would spend a register load on it. */
#if defined(__x86_64__)
#define XA_MUL_MEM32(x, m) __asm__("imull %1, %0" : "+r"(x) : "m"(m))
#else
#define XA_MUL_MEM32(x, m) ((x) *= (m))
#endif
typedef XA_TSD_SEG xa_cbin_t xa_cbin_fast_t;
/* The free fast path's reads of the page entry at base + eo (types.h):
 * cls = its class byte, signed, and x = PCLASS_SLAB_OFF(entry, p), the
 * offset of p from its slab's start.  On x86-64 three instructions, both
 * loads addressing the entry as (base, eo): the low 16 bits of p
 * zero-extended, minus the entry's high byte (the start's address byte 1)
 * from the register's second byte (%ch and the like: partial
 * registers are not renamed on the AMD cores this is measured on; on
 * recent Intel cores reading the full register after it costs one merge
 * micro-op), then the class byte (written last: it may reuse base's or
 * eo's register).  The C form needs three more (entry load apart from the
 * class byte, mask p, mask the entry; and GCC adds base + eo first).
 * base and eo are held in legacy registers ("R"): an instruction that
 * names %ch and the like cannot take the REX prefix r8-r15 would need,
 * and where the path is inlined into a larger function (realloc) GCC
 * would otherwise pick them. */
#if defined(__x86_64__)
#define XA_ENTRY_READ(cls, x, p, base, eo)                                     \
	__asm__("movzwl %w2, %k0\n\tsubb 1(%3,%4), %h0\n\tmovsbq (%3,%4), %1"   \
	        : "=&Q"(x), "=r"(cls)                                         \
	        : "r"(p), "R"(base), "R"(eo), "m"(*(const uint16_t *)((base) + (eo))))
#else
#define XA_ENTRY_READ(cls, x, p, base, eo)                                     \
	do {                                                                  \
		unsigned e_ = *(const uint16_t *)((base) + (eo));             \
		(cls) = (int8_t)PCLASS_OF(e_);                                \
		(x) = PCLASS_SLAB_OFF(e_, (p));                               \
	} while (0)
#endif

/*
 * Busy marks for the idle-cache reclaim (see idle.c): a fast path stores
 * the counter it will advance (allocated for malloc, deallocated for free)
 * into amark / dmark before it reads any bin field, and its last store is
 * that counter, advanced by the class size (> 0).  So mark == counter
 * exactly while a fast path is between its first read and its commit; a
 * miss resets the mark to XA_MARK_NONE before the slow path (which marks
 * itself with in_slow).  One store per call; a compiler fence after the
 * mark and before the commit keeps the order (an interrupted thread stops
 * at an instruction boundary, and a sleeping thread's stores are visible).
 */
#define XA_MARK_NONE UINT64_MAX
#define XA_FAST_MARK(lv, v)                                                   \
	do {                                                                  \
		XA_OWNER_STORE(lv, v);                                        \
		atomic_signal_fence(memory_order_seq_cst);                    \
	} while (0)
#define XA_FAST_COMMIT(lv, v)                                                 \
	do {                                                                  \
		atomic_signal_fence(memory_order_seq_cst);                    \
		XA_OWNER_STORE(lv, v);                                        \
	} while (0)

void *xa_malloc_slow(size_t size);
void xa_free_slow(void *ptr);
void *xa_aligned(size_t align, size_t size); /* alloc.c */

#ifndef TCACHE_LW_STEP
#define TCACHE_LW_STEP 16
#endif
/* The malloc fast path met lw above an empty stack (head h): a new low
 * water.  lw goes down by up to TCACHE_LW_STEP slots at once, not one, so a
 * bin being drained after the GC's visit takes this cold branch once per
 * TCACHE_LW_STEP pops instead of at every pop (a mispredicted branch each
 * time the pops of different bins interleave); the low water the GC reads
 * is then up to TCACHE_LW_STEP - 1 objects low, and it flushes that many
 * fewer.  Never below base. */
XA_INLINE uint16_t xa_cbin_lw_step(const xa_cbin_fast_t *b, void **h) {
	unsigned n = (unsigned)(uint16_t)(XA_POS16(h) - b->base) / sizeof(void *);
	return (uint16_t)(XA_POS16(h) - XA_MIN(n, TCACHE_LW_STEP) * sizeof(void *));
}
/* malloc: a pop from the class's bin, else the slow path.  Two tests: the
 * allocation event (bytes counter against next_event, which is 0 for a
 * thread without a cache or under reclaim) and head != lw (empty or a new
 * low water, see xa_cbin_t).  boff: the bin's offset in bins[]. */
XA_INLINE void *xa_tcache_malloc_bin(size_t size, uintptr_t boff) {
	xa_tsd_fast_t *t = xa_tsd_fast();
	uint64_t a0 = t->allocated;
	XA_FAST_MARK(t->amark, a0);
	xa_cbin_fast_t *b = (xa_cbin_fast_t *)((XA_TSD_SEG char *)t->bins + boff);
	uint64_t a = a0 + b->size;
	__asm__("" : "+r"(a));
	void **h = b->head;
	if (likely(a < t->next_event)) {
		if (unlikely(XA_POS16(h) == b->lw)) {
			/* empty (the top slot is base[-1], the NULL
			 * sentinel), or a new low water (cold, inline) */
			if (h[-1] == NULL)
				goto miss;
			b->lw = xa_cbin_lw_step(b, h);
		}
		void *p = h[-1];
		__asm__("" : "+a"(p));
		XA_OWNER_STORE(b->head, h - 1);
		if (config_stats)
			b->nrequests++;
		XA_FAST_COMMIT(t->allocated, a);
		return p;
	}
miss:
	XA_OWNER_STORE(t->amark, XA_MARK_NONE);
	return xa_malloc_slow(size);
}

/* Sizes above SC_LOOKUP_MAX, up to TCACHE_LOOKUP2_MAX (alloc.c): the same
 * pop, the bin found by 1 KiB steps (xa_tcache_binoff's second part). */
void *xa_malloc_mid(size_t size);

/* The bin of a size up to SC_LOOKUP_MAX is found by 16-byte steps; larger
 * sizes take xa_malloc_mid, a tail call, so this path stays as short as
 * before that existed. */
XA_INLINE void *xa_tcache_malloc(size_t size) {
	if (likely(size <= SC_LOOKUP_MAX))
		return xa_tcache_malloc_bin(size, xa_tcache_binoff[(size + QUANTUM - 1) >> 4]);
	return xa_malloc_mid(size);
}

/* An aligned request (align a power of two): up to 16 KiB with align up to
 * a page, the pop of the smallest class whose size is a multiple of align
 * (its regions are all aligned: xa_sc_aligned), as malloc; else, or before
 * the tables are set up, the slow path. */
XA_INLINE void *xa_tcache_aligned(size_t align, size_t size) {
	if (align <= QUANTUM)
		return xa_tcache_malloc(size);
	if (likely(align <= PAGE && size <= SC_SMALL_MAX)) {
		unsigned lg = (unsigned)__builtin_ctzl(align);
		unsigned cls = xa_sc_aligned[xa_sc_aligned_row[lg] + ((size + align - 1) >> lg)];
		if (likely(cls != 0))
			return xa_tcache_malloc_bin(xa_sc_size[cls], cls * sizeof(xa_cbin_t));
	}
	return xa_aligned(align, size);
}

/* free: a push onto the bin of the pointer's class, else the slow path.
 * The chunk descriptor is one load from the flat pagemap (an empty
 * descriptor, all PCLASS_NONE, for memory that is not ours), its page
 * entry one more.
 *
 * Default checks (config_check): a pointer that does not start a region of
 * its slab (or a large run: off must be 0), or that equals the object
 * cached last (free(p); free(p)), goes to the slow path, which aborts.
 * The region test is Lemire's divisibility test, off * magic < magic
 * (off < 2^16), with the bin's magic (see xa_cbin_t, "Free check"), so the
 * same compare is also the "is this class cached" test: the magic is 0 in
 * bins without a stack (classes above tcache_max, threads without a
 * cache, PCLASS_NONE / PCLASS_SAMPLED, whose low bytes read as -1 and -2
 * and index the two nocache[] bins just below bins[]) and in every bin of
 * a cache under reclaim.  Then head == full (the bin is full) and the
 * repeat test.  Without the checks the class test is cls < nbins. */
XA_INLINE void xa_tcache_free(void *ptr) {
	uintptr_t p = (uintptr_t)ptr;
	const char *base;
	uintptr_t eo = xa_pagemap_entry_fast(p, &base);
	intptr_t cls;
	uint32_t x = 0;
	if (config_check) {
		XA_ENTRY_READ(cls, x, p, base, eo);
		__asm__("" : "+r"(x));
	} else
		cls = *(const uint8_t *)(base + eo);
	xa_tsd_fast_t *t = xa_tsd_fast();
	uint64_t d = t->deallocated;
	XA_FAST_MARK(t->dmark, d);
	xa_cbin_fast_t *b;
	if (config_check) {
		b = (xa_cbin_fast_t *)((XA_TSD_SEG char *)t->bins + cls * (intptr_t)sizeof(xa_cbin_t));
		__asm__("" : "+r"(b));
		void **h = b->head;
		XA_MUL_MEM32(x, b->fmagic);
		if (unlikely(x >= b->fmagic || XA_POS16(h) == b->full || h[-1] == ptr))
			goto miss;
		*h = ptr;
		XA_OWNER_STORE(b->head, h + 1);
	} else {
		__asm__("" : "+r"(cls)); /* one register for the test and the index */
		if (unlikely((uintptr_t)cls >= t->nbins))
			goto miss;
		b = &t->bins[cls];
		__asm__("" : "+r"(b));
		void **h = b->head;
		if (unlikely(XA_POS16(h) == b->full))
			goto miss;
		*h = ptr;
		XA_OWNER_STORE(b->head, h + 1);
	}
	XA_FAST_COMMIT(t->deallocated, d + b->size);
	return;
miss:
	XA_OWNER_STORE(t->dmark, XA_MARK_NONE);
	xa_free_slow(ptr);
}

/* idle.c: owner side of the idle-cache reclaim protocol */
void xa_idle_owner_wait(xa_tsd_t *t);
/* Mark the calling thread as inside an allocator slow path (which may touch
 * its cache bins) and wait out a reclaim of its cache, if one is running. */
/* idle.c: the gate of unregistered threads (world stops) */
void xa_stw_gate_enter(xa_tsd_t *t);
void xa_stw_gate_leave(xa_tsd_t *t);
/* Mark the calling thread as inside an allocator slow path (which may touch
 * its cache bins and read run descriptors) and wait out a reclaim of its
 * cache or a world stop, if one is running (xa_tsd_enter_claims: that
 * much; the fork prepare handler stops there).  A thread outside the
 * registry (booting, or past its exit hook) passes the world-stop gate
 * too. */
XA_INLINE void xa_tsd_enter_claims(xa_tsd_t *t) {
	t->in_slow = 1;
	atomic_signal_fence(memory_order_seq_cst);
	if (unlikely(atomic_load_explicit(&t->reclaim, memory_order_acquire)))
		xa_idle_owner_wait(t);
}
XA_INLINE void xa_tsd_enter(xa_tsd_t *t) {
	xa_tsd_enter_claims(t);
	if (unlikely(t->state != TSD_NOMINAL))
		xa_stw_gate_enter(t);
}
XA_INLINE void xa_tsd_leave(xa_tsd_t *t) {
	atomic_signal_fence(memory_order_seq_cst);
	if (unlikely(t->stw_in))
		xa_stw_gate_leave(t);
	t->in_slow = 0;
}
/* Background side: reclaim caches of threads idle for decay_ms.  Returns
 * ns until the next thread may become eligible (UINT64_MAX: none). */
uint64_t xa_idle_reclaim(uint64_t now, int64_t decay_ms);
/* World stops for run descriptor compaction (idle.c, "Stopping the
 * world"; background thread only): false if some thread is not idle
 * (nothing is held then); xa_idle_start_world ends a stop. */
bool xa_idle_stop_world(void);
void xa_idle_start_world(void);
/* tsd.c, registry lock held: a stop is active; claim a new thread */
bool xa_idle_stop_active(void);
void xa_idle_claim_newborn(xa_tsd_t *t);
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
/* Turn t's cache off for the free fast path (nbins 0, bin magics 0: used
 * by the idle reclaimer on a sleeping owner) and back on (by the owner). */
void xa_tcache_uncache(xa_tsd_t *t);
/* Set bin cls up if not yet (its first fill or cached free: tcache.c, "on
 * first use"); owner only, cache on. */
void xa_tcache_bin_on(xa_tsd_t *t, unsigned cls);
/* Slots of a stack block (the sentinels included; the tests' layout view). */
/* t's block of stacks (no layout bit) and its number of slots. */
void **xa_tcache_block(const xa_tsd_t *t, unsigned *nslots);
/* Is bin cls set up? */
XA_INLINE bool xa_tcache_bin_is_on(const xa_tsd_t *t, unsigned cls) { return (t->bin_on[cls / 64] >> (cls % 64)) & 1; }
XA_INLINE void xa_tcache_bin_need(xa_tsd_t *t, unsigned cls) {
	if (unlikely(!xa_tcache_bin_is_on(t, cls)))
		xa_tcache_bin_on(t, cls);
}
void xa_tcache_recache(xa_tsd_t *t);
/* Refill bin cls from the thread's arena; returns an object or NULL. */
void *xa_tcache_fill(xa_tsd_t *t, unsigned cls);
/* Make room in a full bin: flush the older half. */
void xa_tcache_flush_bin(xa_tsd_t *t, unsigned cls, unsigned keep);
/* A full bin's capacity doubles if the thread's bound allows (tcache.c,
 * "Capacity"); false: it stays full. */
bool xa_tcache_grow(xa_tsd_t *t, unsigned cls);
/* Empty, uncached bins back to their minimum capacity, grown pages purged. */
void xa_tcache_trim(xa_tsd_t *t);
/* Release the pages of exited threads' stack blocks that have waited in
 * their pool for decay_ms (force: all, now); returns the time until the
 * next is due. */
uint64_t xa_tcache_purge_pooled(uint64_t now, int64_t decay_ms, bool force, size_t *bytes);
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
