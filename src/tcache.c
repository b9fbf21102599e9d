/*
 * tcache.c -- thread caches: set-up, fill, flush and the incremental GC.
 *
 * Owns: the capacity of each cache bin (adaptive: "Capacity" below), the
 * stack block of each thread (from two base pools, small and big,
 * recycled when threads exit), the fill-count adaptation
 * and the GC that returns objects a thread has not been using.  A bin points into the block only while the thread owns it:
 * xa_tcache_destroy moves every head to the static no-stack slot before
 * the block goes back to the pool.
 *
 * GC: every TCACHE_GC_INTERVAL bytes a thread allocates, one bin is visited.
 * Objects that stayed unused since the last visit (the bin's low-water
 * mark, which the malloc fast path lowers TCACHE_LW_STEP slots at a time:
 * tcache.h, xa_cbin_lw_step) are three-quarters flushed back to their
 * slabs and the bin's fill count is halved, and a grown bin left at most
 * half full has its capacity halved; a bin that ran empty gets a larger
 * fill count.  So a
 * thread's cache follows what it actually uses, and a cache that goes idle
 * drains as soon as the thread allocates anything at all.
 * A bin being drained is not idle: when it holds fewer objects than the
 * visit before left in it (gc_seen), the low water is what the drain has
 * not reached yet, and the drain will take GC_DRAIN_VISITS (2) times the
 * difference over the next visits, so that much of the low water stays.
 * Before, a burst of mallocs that emptied a grown bin over several visits
 * lost three quarters of what was left at each visit, and fetched it back
 * from the slabs a moment later: in sh6bench's allocation phase (20 000
 * blocks per round) fills served 20-45% of each class's mallocs
 * (bench/README.md, "The GC and a draining bin").  A bin whose count
 * stays put or grows is treated as before, so idle objects still go
 * within a visit or two.
 *
 * Fill: first one remote batch of the thread's arena (regions other
 * threads freed, copied with no lock: arena.c, "Remote frees"), else the
 * slabs of the arena xa_arena_for_fill picks.  Flush: xa_arena_flush_small
 * with the thread's arena as home (its regions go to their slabs, others
 * as remote batches).
 *
 * Locking: none of its own; fill and flush take the bin or arena locks.
 */
#include "internal.h"

unsigned xa_tcache_nbins;
uint32_t xa_tcache_fmagic[SC_NCLASSES];
uint16_t xa_tcache_binoff[TCACHE_NBINOFF];
void *xa_tcache_noslot[2] XA_HIDDEN;
/* The checked free fast path indexes bins[] by the page entry's class byte
 * as a signed char (see xa_tcache_free). */
_Static_assert(SC_NCLASSES < 128 && (int8_t)PCLASS_NONE == -1 && (int8_t)PCLASS_SAMPLED == -2,
    "classes are non-negative as signed chars; the two markers are -1 and -2");
_Static_assert(offsetof(xa_tsd_t, bins) == offsetof(xa_tsd_t, nocache) + 2 * sizeof(xa_cbin_t),
    "nocache[] sits right below bins[]");
/*
 * Capacity.  A bin starts with cap_min slots in use and may grow to
 * cap_max (the slots reserved for it in the block): a free that finds the
 * bin full doubles its capacity instead of flushing, if the thread has
 * allocated at least as many objects of the class since the bin last
 * overflowed as the growth adds (t->grow_credit, counted from the bin's
 * nrequests: the thread reuses what it frees, in bursts larger than the
 * bin; a thread that only frees, a consumer of another thread's blocks,
 * never grows: xmalloc-test's consumers held 2 MiB each and doubled its
 * peak RSS without a condition, and with "any fill since the last
 * overflow" b_prodcons 4x4 took 7.7 MiB instead of 5.0), and
 * while the thread's grown capacity, sum of (cap - cap_min) * size over
 * its bins, stays within TCACHE_GROW_BYTES (8 MiB); the cache GC halves
 * it again (down to cap_min) when a visit leaves the bin at most half
 * full.  The largest capacities, 4096 objects up to 256 bytes and 1024
 * up to 1 KiB, and the bound were 2048, 512 and 4 MiB (tcmalloc's default
 * bound of a thread cache) until 2026-12-07: sh6bench's rounds of 20 000
 * blocks hold ~2300 blocks of its two most used classes, ~800 of each
 * class from 640 to 1024 bytes and ~4.5 MB in all per thread, so every
 * round overflowed those bins and flushed and refilled the excess
 * (c_shbench 0 1 20: 119.3M -> 107.2M instructions; raising only the
 * bound to 8 MiB had saved nothing, since the bins were full first).
 * Growth needs the thread to allocate what it frees, so the larger bound
 * is reached only by a thread that reuses that much within the GC's
 * window; the GC and the idle reclaim give it back as before
 * (bench/README.md, "Larger grown bins").  So a thread whose bursts
 * of one class outgrow the minimum (glibc-simple: 1600 blocks of one size
 * allocated and freed; sh6bench: 20 000 blocks of mixed sizes per thread)
 * stops paying a flush and a fill per object, and a thread that does not
 * keeps the small caches (tcmalloc's per-class lists grow in the same slow
 * start; jemalloc's are fixed).  Shrinking flushes nothing (the GC visit
 * already did).  Measured in bench/README.md
 * ("Adaptive cache capacity").
 */
static uint16_t tcache_cap_min[SC_NCLASSES];
/*
 * Large blocks.  Classes up to tcache_max (default 128 KiB since
 * 2026-12-07, 32 KiB before) are cached: a bin of 16-32 KiB blocks starts
 * with 8, a bin of a larger class with at most TCACHE_LARGE_BIN_BYTES
 * (256 KiB: 4 blocks of 40-64 KiB, 2 of 80-128 KiB).  Such a bin grows as
 * the small ones do (Capacity), doubling up to TCACHE_LARGE_CAP_MAX (16)
 * blocks within TCACHE_LARGE_BIN_MAX_BYTES (2 MiB), when it overflows
 * after the thread took at least its capacity of blocks from it since its
 * last overflow (nrequests, which large bins use for nothing else), while
 * the thread's large bins have grown by at most TCACHE_LARGE_GROW_BYTES (4
 * MiB) in all, within its grown bound (8 MiB, shared with the small bins);
 * the GC halves it when a visit leaves it at most half full.  A thread
 * that churns buffers of several sizes (bench/b_largebuf: 64 buffers of
 * 33-128 KiB, one freed and one allocated per step) keeps about the same
 * number of blocks cached, but each bin's count wanders; with 2-4 blocks
 * per bin, 24% of its mallocs found their bin empty and went to the page
 * allocator (~1300 instructions and the arena lock per block, allocated
 * and freed), 5.8% with the grown bins and the allocation events spaced
 * out for such a churn (alloc.c, alloc_event), 2.2% once an empty bin
 * could borrow from the next class's (alloc.c, alloc_raw).  The thread's bound is a
 * trade of memory for time: on b_largebuf with every page written, 2 or
 * 4 MiB, or only the shared 8 MiB, gave 11% / 5.8% / 1.6% of mallocs to the page allocator and a
 * peak RSS of 38 / 42 / 47 MB (33.8 with no growth; mimalloc 46.5 at
 * about the time of 4 MiB; bench/README.md, "Large buffers, second
 * part").  4 MiB is also tcmalloc's default bound of a whole thread
 * cache.  Before 2026-12-07, a
 * program that mallocs and frees 33-128 KiB buffers (I/O, serialisation:
 * bench/b_largebuf) went through the page allocator under the arena lock
 * twice per buffer, ~1700 instructions and a contended lock, and took
 * 0.94 s where glibc took 0.54 and mimalloc 0.09 (bench/README.md,
 * "Large buffers").  A cached class's blocks have the class's size, not
 * their pages, so that any of them serves any request of the class; the
 * rounding is at most 25% of a block's address space, and pages a program
 * does not touch stay absent.  realloc keeps large blocks at their exact
 * pages and out of the cache (alloc.c, realloc_impl).
 */
/*
 * Two block layouts (Capacity): a thread starts on a small block, each bin
 * with the slots of its minimum capacity (2536 slots and the trailing one,
 * 20 KiB); the first time one of its bins may grow, its bins move to a big
 * block, each with the slots of its largest capacity (57 968 slots, 453
 * KiB of address space, resident as the bins use it; 228 KiB before the
 * larger capacities), and the small block goes back to its pool.  So threads that never
 * overflow a bin reserve what they did before (test_vm: 128 threads
 * holding 1 KiB each).  t->stacks holds the block with its layout in
 * bit 0 (1: big), read in one load (stacks_block).
 */
static uint16_t tcache_cap_max[2][SC_NCLASSES];
static uint32_t tcache_slot0[2][SC_NCLASSES]; /* a bin's first slot in the block */
static size_t tcache_slots[2];
static xa_pool_t stacks_pool[2];

static uint16_t tcache_cap_for(unsigned cls, bool max) {
	size_t s = xa_sc_size[cls];
	if (cls >= SC_NSMALL) {
		/* large classes: 8 blocks up to 32 KiB, then at most
		 * TCACHE_LARGE_BIN_BYTES of blocks (tcache.h) */
		unsigned c = 8;
		while (s > 32768 && c > 1 && (size_t)c * s > TCACHE_LARGE_BIN_BYTES)
			c /= 2;
		/* grown: up to TCACHE_LARGE_CAP_MAX blocks within
		 * TCACHE_LARGE_BIN_MAX_BYTES, a power-of-two multiple of c so
		 * that halving comes back to c */
		while (max && 2 * c <= TCACHE_LARGE_CAP_MAX && 2 * c * s <= TCACHE_LARGE_BIN_MAX_BYTES)
			c *= 2;
		return (uint16_t)c;
	}
	/* Classes above 1 KiB keep a fixed capacity: the patterns that need
	 * growth (glibc-simple, sh6bench) use blocks up to 1 KiB, a flush or
	 * fill per object costs little beside what a program does with 1 KiB
	 * or more, and a grown bin of 16 KiB blocks would hold a megabyte. */
	if (s <= 256)
		return max ? 4096 : 128;
	if (s <= 1024)
		return max ? 1024 : 64;
	if (s <= 4096)
		return 32;
	return 16;
}

void xa_tcache_boot(void) {
	unsigned n = 0;
	if (xa_opt.tcache && xa_opt.tcache_max >= QUANTUM) {
		n = xa_sc_size2class(xa_opt.tcache_max);
		if (n >= SC_HUGE)
			n = SC_NCLASSES;
		else if (xa_sc_size[n] > xa_opt.tcache_max)
			; /* tcache_max between classes: exclude the larger one */
		else
			n++;
	}
	/* junk and zero need every allocation to take the slow path. */
	if (xa_opt.junk || xa_opt.zero || xa_opt.check_free)
		n = 0;
	for (unsigned k = 0; k < 2; k++) {
		tcache_slots[k] = 0;
		for (unsigned i = 0; i < n; i++) {
			tcache_cap_min[i] = tcache_cap_for(i, false);
			tcache_cap_max[k][i] = tcache_cap_for(i, k == 1);
			/* positions are compared by their low 16 bits: a
			 * stack and its sentinel must span less than 64 KiB */
			xa_assert((tcache_cap_max[k][i] + 1u) * sizeof(void *) < 65536u);
			tcache_slot0[k][i] = tcache_slots[k] + 1; /* after the NULL sentinel */
			tcache_slots[k] += tcache_cap_max[k][i] + 1;
		}
		/* the slots and the trailing slot (the last bin's full
		 * position); a large pool; not a multiple of the page: consecutive
		 * blocks put a bin at different page offsets, so a bin
		 * straddles a page boundary in some threads, not in all */
		stacks_pool[k].size = XA_MAX(((tcache_slots[k] + 1) * sizeof(void *) + 15) & ~(size_t)15, 2 * PAGE);
	}
	xa_tcache_nbins = n;
	for (unsigned i = 0; i < SC_NCLASSES; i++) {
		uint32_t d = i < SC_NSMALL ? xa_sc_size[i] : PAGE;
		xa_tcache_fmagic[i] = UINT32_MAX / d + 1; /* ceil(2^32 / d) for any d >= 2 */
	}
	for (unsigned i = 0; i < SC_NLOOKUP; i++)
		xa_tcache_binoff[i] = (uint16_t)(xa_sc_lookup[i] * sizeof(xa_cbin_t));
	/* 1 KiB steps above SC_LOOKUP_MAX: every size of a step must have
	 * the class of its top (classes there are multiples of 1 KiB) */
	for (size_t top = SC_LOOKUP_MAX + 1024; top <= TCACHE_LOOKUP2_MAX; top += 1024) {
		unsigned c = xa_sc_size2class(top);
		if (xa_sc_size2class(top - 1023) != c || TCACHE_LOOKUP2_IDX(top) != TCACHE_LOOKUP2_IDX(top - 1023))
			xa_fatal("size classes between 4 and 128 KiB are not multiples of 1 KiB", NULL, 0);
		xa_tcache_binoff[TCACHE_LOOKUP2_IDX(top)] = (uint16_t)(c * sizeof(xa_cbin_t));
	}
}

/* The block of t's stacks and its layout (*big), from one load. */
static void **stacks_block(const xa_tsd_t *t, unsigned *big) {
	uintptr_t w = (uintptr_t)XA_RELAXED_LOAD(t->stacks);
	*big = (unsigned)(w & 1);
	return (void **)(w & ~(uintptr_t)1);
}

void **xa_tcache_block(const xa_tsd_t *t, unsigned *nslots) {
	unsigned big;
	void **block = stacks_block(t, &big);
	*nslots = (unsigned)tcache_slots[big];
	return block;
}

size_t xa_tcache_meta_bytes(void) {
	size_t bytes = 0;
	for (unsigned k = 0; k < 2; k++) {
		xa_pool_t *p = &stacks_pool[k];
		bytes += (p->nused + p->nfree) * p->size;
	}
	return bytes;
}

/* A bin without a stack (see xa_cbin_t): every free misses, malloc and
 * statistics read it as empty. */
static void cbin_nostack(xa_cbin_t *b) {
	void **h = XA_NOCACHE_HEAD;
	XA_RELAXED_STORE(b->fmagic, 0);
	XA_RELAXED_STORE(b->cap, 0);
	XA_RELAXED_STORE(b->full, XA_POS16(h));
	b->lw = XA_POS16(h);
	XA_OWNER_STORE(b->head, h);
	XA_RELAXED_STORE(b->base, XA_POS16(h));
}

static void bins_nostack(xa_tsd_t *t) {
	for (unsigned i = 0; i < 2; i++)
		cbin_nostack(&t->nocache[i]);
	for (unsigned i = 0; i < SC_NCLASSES; i++)
		cbin_nostack(&t->bins[i]);
}

/*
 * A bin is set up on first use (its first fill or cached free:
 * xa_tcache_bin_on, from the slow paths), not at cache set-up: until then
 * it has no stack (cbin_nostack: both fast paths miss on it).  Setting it
 * up writes its NULL sentinel, its bounds and, in checked builds, its
 * free magic; bin_on records the bins set up.  So a thread touches the
 * pages of its stack block that the classes it uses need, not the whole
 * block (b_threads128, 128 threads holding 1 KiB each: 4.4 MB of RSS
 * added with bins set up at cache set-up, bench/README.md).  The block is
 * not zeroed when taken from the pool: the slots' contents do not matter
 * below a bin's head, and the sentinel is written at set-up.
 */

/* Write the free magics of the bins set up: the class magics when on, 0
 * when off.  Relaxed stores: the reclaimer turns a sleeping owner's cache
 * off, and the owner's free fast path may read them racily (either value
 * is safe: 0 only sends the free to the slow path). */
static void bin_magics(xa_tsd_t *t, bool on) {
	if (!config_check)
		return;
	for (unsigned i = 0; i < xa_tcache_nbins; i++)
		if (xa_tcache_bin_is_on(t, i))
			XA_RELAXED_STORE(t->bins[i].fmagic, on ? xa_tcache_fmagic[i] : 0);
}

void xa_tcache_bin_on(xa_tsd_t *t, unsigned cls) {
	if (t->stacks == NULL || cls >= xa_tcache_nbins || xa_tcache_bin_is_on(t, cls))
		return;
	xa_cbin_t *b = &t->bins[cls];
	unsigned big;
	void **base = stacks_block(t, &big) + tcache_slot0[big][cls];
	base[-1] = NULL; /* the sentinel below the stack */
	XA_RELAXED_STORE(b->cap, tcache_cap_min[cls]);
	XA_RELAXED_STORE(b->full, XA_POS16(base + tcache_cap_min[cls]));
	XA_RELAXED_STORE(b->base, XA_POS16(base));
	b->lw = XA_POS16(base);
	b->size = xa_sc_size[cls];
	if (cls < SC_NSMALL) {
		t->grow_credit[cls] = -(int32_t)XA_MIN(b->nrequests, (uint32_t)INT32_MAX / 2);
		t->nfill[cls] = (uint16_t)XA_MAX(b->cap / 8, 1);
		t->gc_seen[cls] = 0;
	}
	XA_OWNER_STORE(b->head, base);
	if (config_check)
		XA_RELAXED_STORE(b->fmagic, xa_tcache_fmagic[cls]);
	t->bin_on[cls / 64] |= (uint64_t)1 << (cls % 64);
}

bool xa_tcache_init(xa_tsd_t *t) {
	bins_nostack(t);
	if (xa_tcache_nbins == 0)
		return false;
	/* not zeroed: bins are set up on first use (see above) */
	void **block = xa_pool_get_part(&stacks_pool[0], 0);
	if (block == NULL)
		return true;
	XA_RELAXED_STORE(t->stacks, block);
	t->bin_on[0] = t->bin_on[1] = 0;
	t->cache_grown = 0;
	t->nbins = xa_tcache_nbins;
	return false;
}

/* Make every free fast path of t miss (nbins 0, every bin's magic 0); the
 * owner's next slow path restores them with xa_tcache_recache. */
void xa_tcache_uncache(xa_tsd_t *t) {
	XA_RELAXED_STORE(t->nbins, 0);
	if (t->stacks != NULL)
		bin_magics(t, false);
}

void xa_tcache_recache(xa_tsd_t *t) {
	if (t->stacks == NULL)
		return;
	bin_magics(t, true);
	t->nbins = xa_tcache_nbins;
}

void xa_tcache_destroy(xa_tsd_t *t) {
	if (t->stacks == NULL)
		return;
	xa_tcache_flush_all(t);
	xa_tcache_uncache(t);
	t->bin_on[0] = t->bin_on[1] = 0;
	/* The bins leave the block before it goes back to the pool (this
	 * thread's frees would push into another thread's stacks).  Stats
	 * threads may read a bin half reset: xa_tcache_bytes_n clamps. */
	unsigned big;
	void **block = stacks_block(t, &big);
	XA_RELAXED_STORE(t->stacks, NULL);
	bins_nostack(t);
	xa_pool_put(&stacks_pool[big], block);
}

/* Give back an idle thread's cache block: every bin back to its minimum
 * capacity, then every page wholly inside the block purged.  The bins must
 * be empty and the magics off (uncached): the idle reclaim after its
 * flush, with the owner waiting on the claim.  Nothing in the block then
 * needs to survive: the slots above each head are garbage and the
 * sentinels below each base are NULL, which is what purged pages read as
 * (the pages come back as the owner touches them).  Purging only the grown
 * slots, as before, left the pages under each bin's minimum capacity
 * resident: about 300 KiB per thread with a big block (a page of slots and,
 * then, one of slot magics per bin used),
 * 1.2 MiB of b_spike's idle RSS with its four threads.  The pages a block
 * shares with its neighbours in the pool (small blocks are not page
 * multiples) stay.  Not at thread exit: a block goes back to its pool for
 * the next thread, and the madvise calls at every exit cost larson, whose
 * threads come and go, 0.1 s of system time in 0.5 s (3042 madvise calls,
 * when they were two per grown bin). */
static void bin_set_cap(xa_tsd_t *t, unsigned cls, unsigned cap);

void xa_tcache_trim(xa_tsd_t *t) {
	unsigned big;
	void **block = stacks_block(t, &big);
	if (block == NULL)
		return;
	if (big)
		for (unsigned i = 0; i < xa_tcache_nbins; i++)
			if (xa_tcache_bin_is_on(t, i) && t->bins[i].cap > tcache_cap_min[i])
				bin_set_cap(t, i, tcache_cap_min[i]);
	xa_pool_purge_obj(&stacks_pool[big], block, 0);
}

/* The stack blocks of exited threads wait on their pool's free list for
 * the next thread; once one has waited decay_ms (force: at once, for
 * malloc_trim), its pages go back to the OS (base.c, xa_pool_purge_free:
 * all but the first page).  Returns the time until the
 * next block is due (UINT64_MAX: none). */
uint64_t xa_tcache_purge_pooled(uint64_t now, int64_t decay_ms, bool force, size_t *bytes) {
	uint64_t wait = UINT64_MAX;
	if (decay_ms < 0 && !force)
		return wait;
	uint64_t age = force ? 0 : (uint64_t)decay_ms * 1000000u;
	size_t b = 0;
	for (unsigned k = 0; k < 2; k++)
		if (stacks_pool[k].size)
			b += xa_pool_purge_free(&stacks_pool[k], now, age, &wait);
	if (bytes)
		*bytes = b;
	return wait;
}

/* Move the bins of t (on a small block) to a big block, keeping their
 * objects, low water and capacity; the small block goes back to its pool.  False when no big block can be had. */
static bool stacks_move_big(xa_tsd_t *t) {
	void **nb = xa_pool_get_part(&stacks_pool[1], 0);
	if (nb == NULL)
		return false;
	unsigned big;
	void **ob = stacks_block(t, &big);
	xa_assert(!big);
	for (unsigned i = 0; i < xa_tcache_nbins; i++) {
		if (!xa_tcache_bin_is_on(t, i))
			continue;
		xa_cbin_t *b = &t->bins[i];
		unsigned n = xa_cbin_ncached(b), lw = xa_cbin_low_water(b), cap = b->cap;
		void **from = xa_cbin_base(b), **to = nb + tcache_slot0[1][i];
		to[-1] = NULL;
		memcpy(to, from, n * sizeof(void *));
		XA_RELAXED_STORE(b->base, XA_POS16(to));
		XA_RELAXED_STORE(b->full, XA_POS16(to + cap));
		b->lw = XA_POS16(to + lw);
		XA_OWNER_STORE(b->head, to + n);
	}
	XA_RELAXED_STORE(t->stacks, (void **)((uintptr_t)nb | 1));
	xa_pool_put(&stacks_pool[0], ob);
	return true;
}

/* Set a bin's capacity (its objects fit: ncached <= cap), keeping the
 * thread's grown bytes in step.  The caller is a slow path of the owner
 * with its cache on. */
static void bin_set_cap(xa_tsd_t *t, unsigned cls, unsigned cap) {
	xa_cbin_t *b = &t->bins[cls];
	unsigned old = b->cap;
	void **base = xa_cbin_base(b);
	xa_assert(xa_cbin_ncached(b) <= cap && cap <= tcache_cap_max[(uintptr_t)t->stacks & 1][cls]);
	t->cache_grown += ((size_t)cap - old) * b->size;
	if (cls < SC_NSMALL && t->nfill[cls] > cap / 2)
		t->nfill[cls] = (uint16_t)(cap / 2); /* a fill must fit (cap >= 16 here) */
	XA_RELAXED_STORE(b->cap, (uint16_t)cap);
	XA_RELAXED_STORE(b->full, XA_POS16(base + cap));
}

/* The grown capacity of t's large bins, in bytes. */
static size_t large_grown(const xa_tsd_t *t) {
	size_t bytes = 0;
	for (unsigned i = SC_NSMALL; i < xa_tcache_nbins; i++)
		bytes += (size_t)(t->bins[i].cap - XA_MIN(t->bins[i].cap, tcache_cap_min[i])) * xa_sc_size[i];
	return bytes;
}

bool xa_tcache_grow(xa_tsd_t *t, unsigned cls) {
	xa_cbin_t *b = &t->bins[cls];
	unsigned cap = b->cap;
	bool large = cls >= SC_NSMALL;
	/* mallocs of the class since the bin last overflowed: a small bin
	 * keeps them in its growth credit plus nrequests (which restarts at
	 * every fill); a large bin in nrequests alone, which it uses for
	 * nothing else (without statistics it stays 0: no reuse test) */
	int64_t allocs = !large ? (int64_t)t->grow_credit[cls] + b->nrequests
	                        : config_stats ? (int64_t)b->nrequests : (int64_t)cap;
	size_t add = (size_t)cap * b->size; /* every max is a power-of-two multiple of its min */
	if (large)
		b->nrequests = 0;
	if (allocs < cap || cap >= tcache_cap_max[1][cls] || t->cache_grown + add > TCACHE_GROW_BYTES ||
	    (large && large_grown(t) + add > TCACHE_LARGE_GROW_BYTES) ||
	    (!((uintptr_t)t->stacks & 1) && !stacks_move_big(t))) {
		/* the bin flushes: count allocations from now on (nrequests
		 * restarts at every fill, so it stays far below 2^31) */
		if (!large)
			t->grow_credit[cls] = -(int32_t)XA_MIN(b->nrequests, (uint32_t)INT32_MAX / 2);
		return false;
	}
	if (!large)
		t->grow_credit[cls] = (int32_t)XA_MAX(allocs - cap - b->nrequests, (int64_t)INT32_MIN / 2); /* consumed */
	bin_set_cap(t, cls, 2 * cap);
	return true;
}

void *xa_tcache_fill(xa_tsd_t *t, unsigned cls) {
	xa_cbin_t *b = &t->bins[cls];
	xa_assert(xa_cbin_ncached(b) == 0);
	void **base = b->head;
	if (cls >= SC_NSMALL) {
		/* blocks other threads freed to this arena, else a new run
		 * (one at a time: a fetched block nobody asked for would be
		 * a large amount of memory kept) */
		unsigned n = xa_arena_fill_remote_large(t->arena, cls, base, b->cap);
		if (n == 0)
			return xa_arena_malloc_large(t->arena, xa_sc_size[cls], 0, false);
		n--;
		XA_OWNER_STORE(b->head, base + n);
		b->lw = XA_POS16(base);
		return base[n];
	}
	/* Regions other threads freed back to this arena come first: one
	 * batch copied with no lock and no bitmap work (arena.c). */
	unsigned got = xa_arena_fill_remote(t->arena, cls, base, b->cap);
	if (got == 0) {
		bool locked;
		xa_arena_t *a = xa_arena_for_fill(t, cls, &locked);
		if (a != t->arena)
			got = xa_arena_fill_remote(a, cls, base, b->cap);
		if (got == 0) {
			got = xa_arena_fill_small(a, cls, base, t->nfill[cls], b->nrequests + 1, locked, t->fill_slot);
			/* merged into the bin's statistics; the growth credit
			 * keeps counting (without statistics, nrequests stays
			 * 0: fills count what they fetched) */
			t->grow_credit[cls] = (int32_t)XA_MIN((int64_t)t->grow_credit[cls] +
			    (config_stats ? b->nrequests : got), (int64_t)INT32_MAX / 2);
			b->nrequests = 0;
			if (got == 0)
				return NULL;
			/* A bin that runs dry again before the GC has seen it
			 * is in a burst of allocations: fetch more next time
			 * (the GC halves nfill again once objects sit unused),
			 * so a burst of n objects costs O(log n) fills, not
			 * n / nfill. */
			if (t->nfill[cls] < b->cap / 2)
				t->nfill[cls] *= 2;
		}
	}
	got--;
	XA_OWNER_STORE(b->head, base + got);
	/* The bin was empty: its low water since the GC's last visit is 0
	 * (base), not what the fill left, so the next visit does not flush
	 * three quarters of the objects just fetched (and halve nfill) while
	 * the bin is in use.  The malloc fast path then meets lw only at the
	 * empty position: no new-low-water stores until the GC's visit. */
	b->lw = XA_POS16(base);
	return base[got];
}

/* Flush the oldest objects of a bin, keeping `keep` of the newest. */
void xa_tcache_flush_bin(xa_tsd_t *t, unsigned cls, unsigned keep) {
	xa_cbin_t *b = &t->bins[cls];
	unsigned n = xa_cbin_ncached(b);
	if (keep >= n)
		return;
	unsigned k = n - keep;
	void **base = b->head - n;
	unsigned lw = xa_cbin_low_water(b);
	if (cls < SC_NSMALL)
		xa_arena_flush_small(t->arena, cls, base, k);
	else
		xa_arena_flush_large(t->arena, cls, base, k);
	memmove(base, base + k, keep * sizeof(void *));
	XA_OWNER_STORE(b->head, base + keep);
	b->lw = XA_POS16(base + XA_MIN(lw, keep));
}

void xa_tcache_flush_n(xa_tsd_t *t, unsigned nbins) {
	for (unsigned i = 0; i < nbins; i++) {
		xa_tcache_flush_bin(t, i, 0);
	}
}

void xa_tcache_flush_all(xa_tsd_t *t) { xa_tcache_flush_n(t, t->nbins); }

void xa_tcache_gc_step(xa_tsd_t *t) {
	/* Read once: the idle reclaimer may set nbins to 0 while this slow
	 * path runs (idle.c, step 3, a claim it then abandons because the
	 * owner woke); the bins stay the owner's, only nbins may change. */
	unsigned n = XA_RELAXED_LOAD(t->nbins);
	if (n == 0)
		return;
	/* One bin per event, as in jemalloc: a bin's low water then spans
	 * n events (n * 64 KiB of allocation).  Four bins per event made the
	 * window a quarter of that, short enough that a bin whose count only
	 * wanders (random churn: b_threads) showed a low water at most visits
	 * and lost three quarters of it, to fetch it back from the slabs soon
	 * after: 1862 GC flushes per 300k b_threads ops (273 now, with the
	 * fill's low water below), and b_threads 1 ran 1.13x the CPU time
	 * (bench/README.md, 2026-12-07). */
	unsigned i = t->gc_bin;
	t->gc_bin = (uint8_t)((i + 1) % n);
	xa_cbin_t *b = &t->bins[i];
	unsigned lw = xa_cbin_low_water(b);
	if (i >= SC_NSMALL) {
		/* large classes: no fill count, no drain */
		if (lw > 0)
			xa_tcache_flush_bin(t, i, xa_cbin_ncached(b) - (lw - lw / 4));
		if (b->cap > tcache_cap_min[i] && xa_cbin_ncached(b) <= b->cap / 2u)
			bin_set_cap(t, i, b->cap / 2u);
		b->lw = XA_POS16(b->head);
		return;
	}
	/* What the bin's drain since the last visit would take over the next
	 * GC_DRAIN_VISITS visits is not unused: it stays ("GC" above). */
	unsigned now = xa_cbin_ncached(b), seen = t->gc_seen[i];
	unsigned need = seen > now ? GC_DRAIN_VISITS * (seen - now) : 0;
	if (lw > need) {
		lw -= need;
		unsigned drop = lw - lw / 4;
		xa_tcache_flush_bin(t, i, now - drop);
		if (t->nfill[i] > 1)
			t->nfill[i] /= 2;
		/* a grown bin at most half full gives half back (Capacity) */
		if (b->cap > tcache_cap_min[i] && xa_cbin_ncached(b) <= b->cap / 2u)
			bin_set_cap(t, i, b->cap / 2u);
	} else if (now == 0 && t->nfill[i] < b->cap / 2) {
		t->nfill[i] *= 2;
	}
	b->lw = XA_POS16(b->head);
	t->gc_seen[i] = (uint16_t)xa_cbin_ncached(b);
}

size_t xa_tcache_bytes(xa_tsd_t *t) {
	/* t->stacks is read by statistics threads while the owner sets or
	 * clears it (thread start and exit): relaxed on both sides. */
	return xa_tcache_bytes_n(t, XA_RELAXED_LOAD(t->stacks) ? xa_tcache_nbins : 0);
}

size_t xa_tcache_bytes_n(xa_tsd_t *t, unsigned n) {
	size_t bytes = 0;
	for (unsigned i = 0; i < n; i++) {
		/* a racy read of a bin being reset (xa_tcache_destroy) may
		 * not add up: such a bin is empty */
		unsigned k = xa_cbin_ncached(&t->bins[i]);
		if (k <= XA_RELAXED_LOAD(t->bins[i].cap))
			bytes += (size_t)k * xa_sc_size[i];
	}
	return bytes;
}
