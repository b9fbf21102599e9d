/*
 * arena.c -- the bounded arena pool: bins and slabs for small classes, page
 * runs for large classes.
 *
 * Owns: arena creation (lazy, at most narenas), the thread -> arena
 * binding, slab carving and region bitmaps, tcache fill and flush, large
 * allocation, and the purge calls that follow frees.
 *
 * Locking (in this order; never the reverse; the remote stacks take none):
 *   arenas_lock  (creation, binding)
 *   bin->lock    (one per arena and small class: slab lists, bitmaps, bin stats)
 *   arena->lock  (page allocator: see pages.c; large stats)
 *   base lock, pagemap lock
 * A thread waits for at most one bin lock; holding one, it only tries
 * another (slab_steal), never waits for it.  Nothing here calls malloc.
 *
 * Remote frees (issue 10).  A thread that frees another arena's object
 * caches it in its own tcache.  A flush groups objects by owning arena;
 * a group of the thread's own arena goes back to its slabs under the bin
 * lock when a trylock gets it.  Every other group -- another arena's
 * objects, or the own arena's while another thread holds the bin lock --
 * is copied into remote batches (arrays of up to RBATCH_MAX pointers in
 * base memory: no pointer is ever stored in freed user memory) and each
 * batch is pushed onto the bin's lock-free stack with one compare-and-swap.
 * A cache fill first pops one batch of its arena and copies the pointers
 * into the cache: no lock, no bitmap.  So in a producer/consumer program
 * the consumer's flushes and the producer's fills never meet on a lock,
 * and the objects go round without touching their slabs (a flat
 * footprint, as before).  Chosen over per-slab atomic free lists
 * (mimalloc's thread-free lists: they thread the list through the freed
 * objects) and over per-slab sharded bitmaps (a fill would still walk
 * slabs); this keeps the cache-of-arrays design and makes a refill a copy.
 *
 * Bounds and release: a bin holds at most remote_limit(cls) regions in
 * batches (64 KiB, between 16 and 128 regions); a flush beyond it takes
 * the lock as before.  The bound is small because a waiting region pins
 * its whole slab: with 256 KiB per bin, sh8bench's peak RSS rose from 34
 * to 56 MiB; at 64 KiB it stays at the old figure.  Pushing a batch sets slab_pending and kicks the
 * background thread, whose pass (and every forced purge: malloc_trim,
 * arena.<all>.purge) drains all waiting batches into their
 * slabs under the bin lock, keeping the batches' free time for decay -- so
 * memory freed remotely by a process that then goes idle is released on
 * the usual schedule.  Drains run the slab checks (double free, invalid
 * pointer); a repeated free of another thread's object that a fill takes
 * from a batch first is not caught (the thread caches catch only the
 * top-of-bin repeat in any case).
 *
 * Statistics: batches change no bin counter under the lock; the bin's
 * remote.nin / remote.nout count regions pushed and taken (fills and
 * drains), remote_drained the drains (bin lock).  xa_arena_bin_stats
 * reports waiting regions as returned (ndalloc) and regions a fill took as
 * handed out (nmalloc), so curregs = nmalloc - ndalloc = live + cached,
 * exact when no thread runs.  Remote fills are not counted in nfills.
 *
 * Fork: the stacks are lock-free; a child forked while another thread had
 * a batch popped (between the pop and its copy) loses that batch's
 * regions, as it loses the dead threads' cached objects.
 *
 * Remote large frees (2026-12-07).  The same for the cached large classes
 * up to 256 KiB (LREMOTE_NCLASSES), where there is no bin: a flush of a
 * block whose arena is not the flushing thread's pushes it into that
 * arena's remote batches for its class (xa_lremote_t, the same batches
 * and stacks), and a cache fill of the class pops one batch of the
 * thread's arena before it carves a new run.  Before, each block took the
 * owner's arena lock twice, once to be freed into the page allocator and
 * once to be carved again by the next malloc, with both threads on that
 * lock: a producer of 4-64 KiB buffers and its consumer spent 34% of
 * their time in pthread_mutex_lock (bench/README.md, "Large buffers
 * across threads").  A class holds at most LREMOTE_LIMIT_BYTES (512 KiB,
 * at least 2 blocks) in batches, so an arena at most 8 MiB in all, until
 * the next background pass drains them (counted as slack meanwhile);
 * 256 KiB made the 4-64 KiB producer/consumer 10% slower.  Beyond it,
 * and for the thread's own arena, blocks go to the page allocator as
 * before, one lock hold per run of neighbours of one arena instead of one
 * per block.  A fill takes only
 * blocks already freed, never carves extra runs (that was tried and
 * raised b_largebuf's RSS).  A waiting block's run stays RUN_LARGE with
 * rpending set: a second flush of it, or a free, realloc or
 * malloc_usable_size that looks it up, aborts as a double free; a fill
 * clears the mark.  Purge passes drain the batches into the page
 * allocator with their free time (lremote_drain), so the pages decay as
 * usual.  Statistics: a pushed block counts as freed (ndalloc), a block a
 * fill takes as handed out (nmalloc), so curlextents and large.allocated
 * stay live + cached (xa_arena_large_stats corrects the locked counters,
 * which see the page allocator's runs).
 *
 * Own-arena flushes and fills (issue 10).  A flush of the thread's own
 * regions goes back to the slab bitmaps under the bin lock, in one batch
 * (bin_dalloc_batch): per region only a range test against the current
 * bitmap word's regions, one multiply (region index and region-start
 * check at once, xa_sc_magic64) and a test-and-set of its bit in a
 * register holding the word (13 instructions on x86-64); the word is
 * written back when the batch leaves it; free count, free time, bin list
 * moves once per run of regions of one slab (slab_commit), with the slab
 * before the current one kept open too (bins whose regions alternate
 * between two slabs); bin statistics once per batch.  A fill (slab_take)
 * takes whole bitmap words: a word whose free bits are one run (a wholly
 * free word) as consecutive addresses, a store and an add per region;
 * others per region a count-trailing-zeros, a multiply-add and a store.
 * c_glibc 1 20 (the glibc-simple pattern): 75.8M -> 56.3M instructions;
 * the per-region cost of a flush fell from ~112 to ~28 instructions
 * (bench/README.md, "Refill and flush"); then 50.4M -> 45.8M with the
 * word in a register (~28 -> ~18 per region, slab changes included) and
 * the run fill (bench/README.md, "Fill and flush per object").
 * Considered and not done:
 *   - a transfer cache for the own arena too (flush pushes an array, fill
 *     pops it, as the remote batches do): regions in it skip the bitmap,
 *     so the default checks would lose `free(a); free(b); free(a)` across
 *     flushes (today the bitmap catches it when the second copy is
 *     flushed); a per-region mark to keep the check costs what the batched
 *     bitmap update costs now.  And it pins slabs: with a bound that keeps
 *     sh8bench's peak RSS (64 KiB per bin, as for remote batches) it would
 *     carry only 128 of the 1,472 regions a 1,600-block batch flushes.
 *   - larger or adaptive cache capacity (tcache.c): it removes flushes
 *     only for bursts below the capacity (c_glibc 1 20: 56.4M with 128
 *     slots for classes <= 256 B, 53.4M with 256, 51.6M with 512), and
 *     every cached region is memory no other thread can use; left until
 *     peak RSS can be measured on a quiet machine.
 *   - more arenas for glibc-thread (4 threads on 2 CPUs share 2 arenas):
 *     contention shows only when threads run at once, which the loaded
 *     machine of this round does not reproduce (XALLOC_CONF=narenas:4 made
 *     no difference there); left for the quiet machine.
 *
 * Fill slots (2026-12-08).  A bin carves up to BIN_NCUR slabs at once,
 * one per fill slot (b->cur[slot]); a thread fills from its slot's slab,
 * its slot being the one with the fewest threads when it bound to the
 * arena (xa_arena_thread_bind; a->slot_users counts them).
 * When one slab was carved for every thread of the arena, two threads of
 * an arena that run at once on two CPUs got neighbouring regions of the
 * same pages and the program's own accesses to its blocks slowed down
 * (not false sharing of lines: 98% of the blocks of c_glibc_thread 2 in
 * one arena shared a page with the other thread's, 3% a 128-byte pair of
 * lines; bench/README.md, "glibc-thread: threads that share an arena"):
 * 2 threads in one arena took 0.87 s against 0.40 in two arenas, and 0.46
 * with slots.  A slab taken for a slot leaves the nonfull list as the one
 * carved slab did; a carved slab is on no list, is never kept empty or
 * released (slab_commit), and is scanned by the in-slab purge before the
 * listed ones.  A thread alone in its arena uses slot 0 only, as before:
 * the extra carved slabs are only in arenas that more threads share, one
 * partly carved slab per class and slot in use (pages of a new slab that
 * are not carved yet are not resident).  Compaction renames every slot.
 *
 * Empty slabs (issue 10).  A slab that a flush (or a drain, or a single
 * free) leaves wholly free stays in its bin, on the bin's `empty` list,
 * while the arena's kept slabs stay within EMPTY_KEEP_ARENA_BYTES (256
 * KiB, all bins together; EMPTY_KEEP_BYTES, also 256 KiB, bounds one bin,
 * at least one slab).  A fill takes listed partly used slabs first, then
 * one of its bin's kept slabs, then a kept slab of another bin with the
 * same slab size (slab_steal: found through the arena's kept_mask, one
 * bit per bin with kept slabs, instead of reading every bin; a trylock of
 * that bin, class entries and bitmap set anew), and only then a new slab from the page allocator
 * (arena lock).  Before, every emptied slab went back to the page
 * allocator under the arena lock and the next fill made it again: c_glibc
 * 1 20 made 5,471 slabs for 298k malloc/free pairs (~8M of its 56.7M
 * instructions in xa_slab_new, xa_pages_free and slabs_release_pages).
 * Measured (bench/README.md, "Empty slabs kept in the bin"): per-bin
 * budgets alone (callgrind, c_glibc 1 20: 1 slab 56.4M, 64 KiB 53.9M, 256
 * KiB 51.7M, 1 MiB 51.1M) raised peak RSS (glibc-thread 4.1 -> 5.9 MiB at
 * 256 KiB), because a program that moves from class to class (glibc's
 * benchmark cycles through 7 sizes) kept one set of slabs per class where
 * the page allocator had handed the same pages to each class in turn.
 * Sharing kept slabs between classes of one slab size, under one arena
 * budget, keeps peak RSS at the old figures (2.4 / 4.2 / 23.3 MiB) for
 * 52.7M instructions; the arena budget made no difference between 256 KiB
 * and 1 MiB, so the smaller one.
 * The release rules are those of dirty pages: kept slabs stay counted as
 * active pages and in their bin's curslabs (slack, not dirty, in the
 * statistics), a purge pass (background, or on allocator calls without
 * it) gives each back to the page allocator once it has had no free for
 * decay_ms -- stamped with its last free (dirty_ns), so the page purge
 * that follows in the same pass releases it at once -- and reports when
 * the next one is due; forced purges (malloc_trim, arena.<i>.purge, the
 * OOM retry) give them all back; decay_ms:0 keeps none and decay_ms:-1
 * keeps them as it keeps dirty pages.  The idle-cache reclaim frees with
 * the cache's old stamp, so slabs it empties are due at the next pass.
 * Chosen over mimalloc's retire delay (counted in allocator calls, not
 * tied to the decay clock the release targets use) and over keeping them
 * on the partly-used list (fills would spread over empty slabs instead of
 * packing partly used ones).
 *
 * The free time of a flush is read from CLOCK_MONOTONIC_COARSE (a tick,
 * no hardware counter read; xa_now_ns was ~4% of c_glibc 4 in perf): it
 * only stamps dirty_ns and remote batches for decay, so a stamp up to one
 * tick early makes a release up to one tick early.
 */
#include "internal.h"

#include <sched.h>

xa_arena_t *_Atomic xa_arenas[XA_MAX_ARENAS];
_Atomic unsigned xa_narenas_created;
static xa_mutex_t arenas_lock = XA_MUTEX_INITIALIZER;

/* The arena limit: narenas (or one per CPU) from start-up, until
 * mallopt(M_ARENA_MAX) sets arena_limit (opt.narenas keeps showing the
 * start-up value). */
static _Atomic unsigned arena_limit;

static unsigned arena_max(void) {
	unsigned n = atomic_load_explicit(&arena_limit, memory_order_relaxed);
	if (n == 0)
		n = xa_opt.narenas ? (unsigned)xa_opt.narenas : xa_ncpus;
	return XA_MIN(XA_MAX(n, 1u), (unsigned)XA_MAX_ARENAS);
}

unsigned xa_arena_max(void) { return arena_max(); }
void xa_arena_max_set(unsigned n) { atomic_store(&arena_limit, XA_MIN(n, (unsigned)XA_MAX_ARENAS)); }

/* Wholly free slabs a bin keeps for its next fill (see "Empty slabs" at
 * the top): EMPTY_KEEP_BYTES of slab memory per bin, at least one slab. */
#ifndef EMPTY_KEEP_BYTES
#define EMPTY_KEEP_BYTES ((size_t)256 << 10)
#endif
#ifndef EMPTY_KEEP_ARENA_BYTES
#define EMPTY_KEEP_ARENA_BYTES ((size_t)256 << 10)
#endif
#define EMPTY_KEEP_ARENA_PAGES (EMPTY_KEEP_ARENA_BYTES / PAGE)
static uint16_t empty_max(unsigned cls) {
	size_t slab = (size_t)xa_sc[cls].npages * PAGE;
	return (uint16_t)XA_MIN(XA_MAX(EMPTY_KEEP_BYTES / slab, (size_t)1), (size_t)UINT16_MAX);
}

/* Per small class, xa_sc_magic64 of its size: bin_dalloc_batch's region
 * index and region-start check (set with the first arena, before any slab
 * exists). */
static uint64_t region_magic[SC_NSMALL];

/* Per small class, the classes whose slabs have its page count (bit j:
 * class j), itself excluded: the bins slab_steal may take from. */
static uint64_t same_pages_mask[SC_NSMALL];
_Static_assert(SC_NSMALL <= 64, "one bit per small class in a word");

/* arenas_lock held */
static xa_arena_t *arena_create(unsigned ind) {
	if (region_magic[0] == 0)
		for (unsigned i = 0; i < SC_NSMALL; i++) {
			region_magic[i] = xa_sc_magic64(xa_sc[i].size);
			for (unsigned j = 0; j < SC_NSMALL; j++)
				if (j != i && xa_sc[j].npages == xa_sc[i].npages)
					same_pages_mask[i] |= (uint64_t)1 << j;
		}
	size_t sz = sizeof(xa_arena_t) + SC_NSMALL * sizeof(xa_bin_t);
	xa_arena_t *a = xa_base_alloc(sz + 64);
	if (a == NULL)
		return NULL;
	a = (xa_arena_t *)(((uintptr_t)a + 63) & ~(uintptr_t)63);
	a->ind = ind;
	xa_mutex_init(&a->lock);
	for (unsigned i = 0; i < SC_NSMALL; i++) {
		xa_mutex_init(&a->bins[i].lock);
		a->bins[i].empty_max = empty_max(i);
	}
	atomic_store(&a->decay_ms, atomic_load(&xa_decay_default_ms));
	atomic_store_explicit(&xa_arenas[ind], a, memory_order_release);
	atomic_store(&xa_narenas_created, ind + 1);
	return a;
}

xa_arena_t *xa_arena_get(unsigned ind, bool create) {
	if (ind >= XA_MAX_ARENAS)
		return NULL;
	xa_arena_t *a = atomic_load_explicit(&xa_arenas[ind], memory_order_acquire);
	if (a || !create)
		return a;
	xa_mutex_lock(&arenas_lock);
	a = xa_arenas[ind];
	if (a == NULL && ind < arena_max()) {
		/* Arenas are created in order so indices stay dense. */
		for (unsigned i = atomic_load(&xa_narenas_created); i <= ind; i++)
			a = arena_create(i);
	}
	xa_mutex_unlock(&arenas_lock);
	return a;
}

xa_arena_t *xa_arena_choose(uint8_t *slot) {
	xa_mutex_lock(&arenas_lock);
	unsigned n = atomic_load(&xa_narenas_created), best = 0, bestn = UINT_MAX;
	for (unsigned i = 0; i < n; i++) {
		unsigned t = atomic_load(&xa_arenas[i]->nthreads);
		if (t < bestn) {
			bestn = t;
			best = i;
		}
	}
	xa_arena_t *a;
	if ((n == 0 || bestn > 0) && n < arena_max() && (a = arena_create(n)) != NULL)
		best = n;
	a = xa_arenas[best];
	*slot = 0;
	if (a)
		xa_arena_thread_bind(a, slot);
	xa_mutex_unlock(&arenas_lock);
	return a;
}

/*
 * The arena a cache fill of class cls takes its objects from: the thread's
 * own arena while its bin lock is free; when another thread holds it, the
 * arena of the CPU this thread runs on (modulo the arena bound), so threads
 * running at the same time on different CPUs stop contending for the bin
 * (b_threads, 4 threads on 2 CPUs: 1.76x -> 1.12x jemalloc's time).  Going
 * by the CPU only under contention keeps a lone thread's objects in one
 * arena even when it migrates between CPUs (a producer/consumer pair stays
 * flat).  A thread.arena setting always wins.  sched_getcpu is a vDSO call;
 * fills are rare.  *locked: the bin lock of class cls in the returned
 * arena is already held (the trylock that tested it is kept, so an
 * uncontended fill takes the lock once).
 */
xa_arena_t *xa_arena_for_fill(xa_tsd_t *t, unsigned cls, bool *locked) {
	xa_arena_t *a = t->arena;
	*locked = false;
	if (t->arena_pinned || cls >= SC_NSMALL)
		return a;
	if (pthread_mutex_trylock(&a->bins[cls].lock) == 0) {
		*locked = true;
		return a;
	}
	int cpu = sched_getcpu();
	if (cpu < 0)
		return a;
	xa_arena_t *c = xa_arena_get((unsigned)cpu % arena_max(), true);
	return c ? c : a;
}

/* Bind a thread to arena a: *slot gets the fill slot with the fewest
 * bound threads ("Fill slots"; concurrent binds may tie, which costs only
 * balance). */
void xa_arena_thread_bind(xa_arena_t *a, uint8_t *slot) {
	unsigned best = 0, bestn = UINT_MAX;
	for (unsigned k = 0; k < BIN_NCUR; k++) {
		unsigned n = atomic_load_explicit(&a->slot_users[k], memory_order_relaxed);
		if (n < bestn) {
			bestn = n;
			best = k;
		}
	}
	xa_arena_thread_rebind(a, best);
	*slot = (uint8_t)best;
}

/* Bind to arena a in a given slot: xa_arena_thread_bind's second half, and
 * the fork child's surviving thread after xa_arena_postfork_child cleared
 * every count. */
void xa_arena_thread_rebind(xa_arena_t *a, unsigned slot) {
	atomic_fetch_add(&a->nthreads, 1);
	atomic_fetch_add_explicit(&a->slot_users[slot], 1, memory_order_relaxed);
}

void xa_arena_thread_leave(xa_arena_t *a, unsigned slot) {
	if (a) {
		atomic_fetch_sub(&a->nthreads, 1);
		atomic_fetch_sub_explicit(&a->slot_users[slot], 1, memory_order_relaxed);
	}
}

/* ---- purging after frees --------------------------------------------- */

static _Atomic uint64_t arena_purge_check_ns;

/* After pages went dirty: release at once with decay 0, else let the
 * background thread know, or (without it) purge what is due, at most every
 * few milliseconds. */
static void arena_after_dirty(xa_arena_t *a) {
	if (unlikely(xa_opt.slack_max)) {
		xa_decay_slack_enforce(false);
		xa_background_kick();
	}
	int64_t d = atomic_load_explicit(&a->decay_ms, memory_order_relaxed);
	if (d == 0) {
		xa_pages_purge_eager(a);
		return;
	}
	if (d < 0)
		return;
	if (xa_background_enabled() && xa_background_running()) {
		/* Wakes the thread if it went to sleep with nothing to do. */
		xa_background_kick();
		return;
	}
	uint64_t now = xa_now_ns();
	uint64_t next = atomic_load_explicit(&arena_purge_check_ns, memory_order_relaxed);
	if (now < next)
		return;
	uint64_t step = (uint64_t)d * 1000000u / 16;
	if (step > 100000000u)
		step = 100000000u;
	atomic_store_explicit(&arena_purge_check_ns, now + step, memory_order_relaxed);
	if (xa_background_enabled())
		xa_background_kick();
	/* slabs first: kept empty slabs that are due become dirty runs as
	 * old as their last free, which the page purge then releases */
	xa_arenas_purge_slabs(false, NULL);
	unsigned n = atomic_load(&xa_narenas_created);
	for (unsigned i = 0; i < n; i++)
		xa_pages_purge(xa_arenas[i], false);
}

/* After regions went back to partly used slabs: their free pages are
 * released on the decay schedule by the background thread, which must not
 * be asleep with nothing due.  (Without it, they go with the next purge on
 * an allocator call, see arena_after_dirty.) */
static void arena_after_slab_free(xa_arena_t *a) {
	if (atomic_load_explicit(&a->decay_ms, memory_order_relaxed) < 0 || !xa_background_enabled())
		return;
	if (!atomic_load_explicit(&a->slab_pending, memory_order_relaxed))
		atomic_store_explicit(&a->slab_pending, true, memory_order_relaxed);
	xa_background_kick();
}

size_t xa_arenas_purge(bool force) {
	size_t bytes = xa_huge_purge(force) + xa_arenas_purge_slabs(force, NULL);
	if (force) {
		size_t sb = 0;
		xa_tcache_purge_pooled(xa_now_ns(), 0, true, &sb);
		bytes += xa_base_purge() + sb;
	}
	unsigned n = atomic_load(&xa_narenas_created);
	for (unsigned i = 0; i < n; i++)
		bytes += xa_pages_purge(xa_arenas[i], force) * PAGE;
	return bytes;
}

size_t xa_arenas_unmap_free(void) {
	/* Purging first turns every free run into a retained one, so that
	 * neighbours merge and wholly free chunks show as single runs. */
	size_t bytes = xa_arenas_purge(true);
	unsigned n = atomic_load(&xa_narenas_created);
	for (unsigned i = 0; i < n; i++)
		bytes += xa_pages_unmap_free(xa_arenas[i]);
	return bytes + xa_huge_unmap_cached();
}

/* ---- slabs (bin lock held) ------------------------------------------- */

/* Regions of class cls in a slab of np pages: the class's count for its
 * own slab size, more in a grown slab ("Slabs grow in busy bins"). */
static unsigned slab_nregs(unsigned cls, unsigned np) {
	if (likely(np == xa_sc[cls].npages))
		return xa_sc[cls].nregs;
	return XA_MIN(xa_sc_region_index(cls, (size_t)np * PAGE), (unsigned)SLAB_MAXREGS);
}

/* Slab r as class cls with every region free (bitmap bit set = free);
 * nregs: slab_nregs(cls, r->npages). */
static void slab_set_class(xa_run_t *r, unsigned cls, unsigned nregs) {
	r->cls = (uint8_t)cls;
	r->nregs = (uint16_t)nregs;
	r->nfree = r->nregs;
	r->hint = 0;
	/* as if scanned at time 0: a slab whose last free (dirty_ns, kept
	 * from the run's past) is not 0 is scanned when that is old */
	r->scanned = r->dirty_ns == 0;
	memset(r->bitmap, 0, sizeof(r->bitmap));
	for (unsigned i = 0; i < r->nregs / 64; i++)
		r->bitmap[i] = ~(uint64_t)0;
	if (r->nregs % 64)
		r->bitmap[r->nregs / 64] = ((uint64_t)1 << (r->nregs % 64)) - 1;
}

/*
 * Slabs grow in busy bins (issue 10, the spike target).  A bin of a class
 * above SC_GROW_MIN that already has SLAB_GROW_AT slabs makes its new
 * slabs xa_sc_grown_pages long (up to 16 pages: 4 KiB regions 16 to a
 * slab instead of 1, 16 KiB regions 4 instead of 1).  The layout of
 * regions over pages repeats that of the class's slab, so in-slab purging
 * releases the same pages around survivors; what changes is the number of
 * run descriptors.  After a burst the survivors' descriptors stay
 * scattered over every pool block the burst filled and keep them
 * resident (pages.c): b_spike needed ~61,000 descriptors at its peak,
 * 35,000 of them for slabs, 30,000 of those slabs of 1-4 regions (4 KiB
 * blocks: one slab each).  Only busy bins: slabs of several
 * regions for every class above 512 bytes, from the first slab, raised
 * alloc-test's peak RSS by 6-14% (a freed region's pages stay with its
 * class until the slab empties, where a one-region slab went back to the
 * page allocator for any size), growing from 64 slabs sh6bench's by 1%
 * (its 640-1024 byte classes reach ~100 slabs per arena), and a bin with
 * few slabs has few descriptors anyway; from 256, b_spike keeps nearly
 * all of the gain (99.3 MiB at idle against 99.1 from 64).  Classes up to
 * 1 KiB do not grow (SC_GROW_MIN): sh8bench's 640-1024 byte bins reach
 * 256 slabs, and there a region waiting in a remote batch pins its whole
 * slab; b_spike loses ~0.1 MiB of the gain.  Classes up to 256 bytes
 * (SC_GROW_SMALL_MAX) grow to at most 256 regions (the bitmap's bound; 16
 * bytes already has 256 in a page): a program that frees a big structure
 * of small nodes makes a quarter of the slabs and, freeing it in random
 * order, touches a quarter of the descriptors (b_teardown: malloc phase
 * -17%, free phase -16% with the scattered flush loop below; bench/README.md
 * "Random-order frees, second part"); their regions may now straddle
 * pages, which in-slab purging handles.  Measured in
 * bench/README.md ("Spike: slabs grow in busy bins").  The profiler's
 * slabs keep the class's size.
 */
#ifndef SLAB_GROW_AT
#define SLAB_GROW_AT 256
#endif

/* A new slab of class cls with every region free; its pages carry pclass
 * (the class, or PCLASS_SAMPLED for the profiler's slabs).  For the bin's
 * own slabs (pclass == cls: bin lock held, the caller counts it in
 * curslabs) it counts the pages in curpages.  Takes the arena lock. */
xa_run_t *xa_slab_new(xa_arena_t *a, unsigned cls, uint8_t pclass) {
	bool zeroed;
	xa_bin_t *b = pclass == cls ? &a->bins[cls] : NULL;
	unsigned np = xa_sc[cls].npages;
	if (b && unlikely(b->stats.curslabs >= SLAB_GROW_AT))
		np = xa_sc_grown_pages(cls);
	xa_mutex_lock(&a->lock);
	xa_run_t *r = xa_pages_alloc(a, np, 0, &zeroed);
	if (r && b)
		b->stats.curpages += np;
	if (r) {
		r->kind = RUN_SLAB;
		r->sampled = pclass != cls;
		/* the union in xa_run_t may still hold a free run's links */
		r->purged = 0;
		slab_set_class(r, cls, slab_nregs(cls, np));
		xa_run_set_pages(xa_run_chunk(r), r, pclass, true);
	}
	xa_mutex_unlock(&a->lock);
	return r;
}

/* Coarse time of slab frees (set once per flush, not per object): the
 * tick-resolution clock (CLOCK_MONOTONIC_COARSE, a few ms; it only feeds
 * decay, where a stamp a tick early releases a tick early), unless the
 * idle-cache reclaim set an older stamp. */
static _Thread_local uint64_t xa_slab_clock;

static uint64_t slab_free_time(void) { return xa_free_stamp_ns ? xa_free_stamp_ns : xa_now_coarse_ns(); }

/* A bin's kept empty slabs grew or shrank by one (its lock held): nempty,
 * and the arena's kept_mask bit of the bin when it turns to or from zero
 * (slab_steal reads the mask instead of every bin's nempty). */
static void bin_nempty_inc(xa_arena_t *a, xa_bin_t *b) {
	XA_RELAXED_STORE(b->nempty, b->nempty + 1);
	if (b->nempty == 1)
		atomic_fetch_or_explicit(&a->kept_mask, (uint64_t)1 << (b - a->bins), memory_order_relaxed);
}
static void bin_nempty_dec(xa_arena_t *a, xa_bin_t *b) {
	XA_RELAXED_STORE(b->nempty, b->nempty - 1);
	if (b->nempty == 0)
		atomic_fetch_and_explicit(&a->kept_mask, ~((uint64_t)1 << (b - a->bins)), memory_order_relaxed);
}

static void bin_list_push(xa_bin_t *b, xa_run_t *r) { xa_list_push(&b->nonfull, &r->link); }
static void bin_list_remove(xa_bin_t *b, xa_run_t *r) { xa_list_remove(&b->nonfull, &r->link); }
static xa_run_t *bin_list_first(xa_bin_t *b) { return XA_LIST_FIRST(&b->nonfull, xa_run_t, link); }
XA_INLINE bool bin_is_cur(const xa_bin_t *b, const xa_run_t *r) {
	bool c = false;
	for (unsigned k = 0; k < BIN_NCUR; k++)
		c |= b->cur[k] == r;
	return c;
}

/* ---- remote frees: lock-free stacks of batches -------------------------
 * A tagged pointer: the low 48 bits address the top batch (user-space
 * addresses on x86-64 and arm64 fit), the high 16 bits count pushes and
 * pops, so a pop whose `next` went stale while it was preempted (the top
 * was popped, reused and pushed again) fails its compare-and-swap.  Batches
 * are never unmapped, so reading a stale `next` is safe. */
#define RTAG_SHIFT 48
#define RPTR_MASK (((uint64_t)1 << RTAG_SHIFT) - 1)

static xa_rbatch_t *rstack_ptr(uint64_t v) { return (xa_rbatch_t *)(uintptr_t)(v & RPTR_MASK); }

static void rstack_push(_Atomic uint64_t *top, xa_rbatch_t *rb) {
	uint64_t old = atomic_load_explicit(top, memory_order_relaxed), nv;
	do {
		atomic_store_explicit(&rb->next, rstack_ptr(old), memory_order_relaxed);
		nv = (uint64_t)(uintptr_t)rb | (((old >> RTAG_SHIFT) + 1) << RTAG_SHIFT);
	} while (!atomic_compare_exchange_weak_explicit(top, &old, nv, memory_order_release, memory_order_relaxed));
}

static xa_rbatch_t *rstack_pop(_Atomic uint64_t *top) {
	uint64_t old = atomic_load_explicit(top, memory_order_acquire), nv;
	xa_rbatch_t *rb;
	do {
		rb = rstack_ptr(old);
		if (rb == NULL)
			return NULL;
		xa_rbatch_t *next = atomic_load_explicit(&rb->next, memory_order_relaxed);
		nv = (uint64_t)(uintptr_t)next | (((old >> RTAG_SHIFT) + 1) << RTAG_SHIFT);
	} while (!atomic_compare_exchange_weak_explicit(top, &old, nv, memory_order_acquire, memory_order_acquire));
	return rb;
}

/* An empty batch for arena a: recycled, else new from base (NULL when out
 * of memory or at an address the tag would not leave room for). */
static xa_rbatch_t *rbatch_get(xa_arena_t *a) {
	xa_rbatch_t *rb = rstack_pop(&a->rfree);
	if (rb == NULL) {
		rb = xa_base_alloc(sizeof(*rb));
		if (rb && ((uintptr_t)rb & ~(uintptr_t)RPTR_MASK))
			return NULL; /* never used: a few hundred bytes of metadata */
	}
	return rb;
}

/* Large runs waiting in remote batches ("Remote large frees"). */
static bool run_rpending(const xa_run_t *r) { return __atomic_load_n(&r->rpending, __ATOMIC_RELAXED); }
static void run_set_rpending(xa_run_t *r, uint8_t v) { __atomic_store_n(&r->rpending, v, __ATOMIC_RELAXED); }

/* Regions a bin may have waiting in remote batches before flushes into it
 * take its lock instead: bounds the memory they hide from release and
 * from other threads' fills (and the batches' metadata). */
#ifndef REMOTE_LIMIT_BYTES
#define REMOTE_LIMIT_BYTES ((uint64_t)64 << 10)
#endif
#ifndef REMOTE_LIMIT_REGS
#define REMOTE_LIMIT_REGS 128
#endif
static uint64_t remote_limit(unsigned cls) {
	uint64_t n = REMOTE_LIMIT_BYTES / xa_sc[cls].size;
	return XA_MIN(XA_MAX(n, (uint64_t)16), (uint64_t)REMOTE_LIMIT_REGS);
}

/*
 * Push the regions of ptrs[0..*np) that belong to arena a (ptrs[0] does,
 * its chunk is c0) as remote batches of a's bin cls; the others are moved to
 * the front and *np becomes their number.  Returns false, with the regions
 * that could not go moved to the front as well, when the bin has reached
 * its bound or no batch could be had: the caller then takes the lock.
 */
static bool flush_remote(xa_arena_t *a, xa_chunk_t *c0, unsigned cls, void **ptrs, unsigned *np) {
	xa_bin_t *b = &a->bins[cls];
	unsigned n = *np, keep = 0;
	uint64_t pending = atomic_load_explicit(&b->remote.nin, memory_order_relaxed) -
	    atomic_load_explicit(&b->remote.nout, memory_order_relaxed);
	/* nout is read second: pending may wrap when a fill raced, which
	 * only sends this flush to the locked path */
	if (pending + n > remote_limit(cls))
		return false;
	xa_rbatch_t *rb = NULL;
	bool ok = true;
	xa_chunk_t *c = c0;
	/* runs of neighbours in one chunk (a cache bin's neighbours mostly
	 * share one): found with one compare per pointer, then copied (or
	 * moved to the front) whole */
	for (unsigned i = 0, j; i < n; i = j) {
		uintptr_t cbase = (uintptr_t)ptrs[i] & ~(uintptr_t)(CHUNK - 1);
		for (j = i + 1; j < n && ((uintptr_t)ptrs[j] & ~(uintptr_t)(CHUNK - 1)) == cbase; j++)
			;
		if (i > 0)
			c = xa_pagemap_lookup(cbase);
		while (ok && i < j && c->arena == a) {
			if (rb == NULL && (rb = rbatch_get(a)) == NULL) {
				ok = false;
				break;
			}
			unsigned m = XA_MIN(j - i, RBATCH_MAX - rb->n);
			memcpy(rb->ptrs + rb->n, ptrs + i, m * sizeof(void *));
			rb->n += m;
			i += m;
			if (rb->n == RBATCH_MAX) {
				rb->ns = xa_slab_clock;
				atomic_fetch_add_explicit(&b->remote.nin, rb->n, memory_order_relaxed);
				rstack_push(&b->remote.head, rb);
				rb = NULL;
			}
		}
		if (i < j) /* another arena's, or no batch to be had */
			memmove(ptrs + keep, ptrs + i, (j - i) * sizeof(void *));
		keep += j - i;
	}
	if (rb && rb->n) {
		rb->ns = xa_slab_clock;
		atomic_fetch_add_explicit(&b->remote.nin, rb->n, memory_order_relaxed);
		rstack_push(&b->remote.head, rb);
	} else if (rb) {
		rstack_push(&a->rfree, rb);
	}
	*np = keep;
	return ok;
}

/*
 * A cache fill from arena a's remote batches of class cls: one batch's
 * regions (at most max) are copied to out[] with no lock taken.  Returns
 * how many (0: none waiting).  The regions were never returned to their
 * slabs, so no bitmap is touched.
 */
/* Take one batch's objects (at most max) from stack q of arena a into
 * out[]; the rest of the batch goes back.  Returns how many. */
static unsigned rstack_take(xa_arena_t *a, xa_rstack_t *q, void **out, unsigned max) {
	if ((atomic_load_explicit(&q->head, memory_order_relaxed) & RPTR_MASK) == 0)
		return 0;
	xa_rbatch_t *rb = rstack_pop(&q->head);
	if (rb == NULL)
		return 0;
	unsigned n = XA_MIN(rb->n, max);
	rb->n -= n;
	memcpy(out, rb->ptrs + rb->n, n * sizeof(void *));
	atomic_fetch_add_explicit(&q->nout, n, memory_order_relaxed);
	rstack_push(rb->n ? &q->head : &a->rfree, rb);
	return n;
}

unsigned xa_arena_fill_remote(xa_arena_t *a, unsigned cls, void **out, unsigned max) {
	return rstack_take(a, &a->bins[cls].remote, out, max);
}

static unsigned bin_dalloc_batch(xa_arena_t *a, xa_bin_t *b, unsigned cls, void **ptrs, unsigned n,
    xa_list_t *empty);
static void slabs_release_pages(xa_arena_t *a, xa_list_t *empty, bool stamped);
static void lremote_drain(xa_arena_t *a);

/* Return every waiting remote batch of bin cls to its slabs (takes the bin
 * lock, then the arena lock for slabs that became empty).  Called by the
 * purge passes, so regions freed remotely are released like any other. */
static void bin_drain_remote(xa_arena_t *a, unsigned cls) {
	xa_bin_t *b = &a->bins[cls];
	uint64_t clock = xa_slab_clock;
	/* what was pushed before the call: a stream of new pushes does not
	 * keep the caller here */
	uint64_t upto = atomic_load_explicit(&b->remote.nin, memory_order_relaxed);
	while ((atomic_load_explicit(&b->remote.head, memory_order_relaxed) & RPTR_MASK) &&
	    (int64_t)(upto - atomic_load_explicit(&b->remote.nout, memory_order_relaxed)) > 0) {
		xa_list_t empty = {0};
		unsigned nb = 0;
		xa_mutex_lock(&b->lock);
		xa_rbatch_t *rb;
		/* a few batches per lock hold: fills wait on the lock */
		while (nb++ < 8 &&
		    (int64_t)(upto - atomic_load_explicit(&b->remote.nout, memory_order_relaxed)) > 0 &&
		    (rb = rstack_pop(&b->remote.head)) != NULL) {
			xa_slab_clock = rb->ns;
			/* a batch holds only arena a's regions (flush_remote) */
			unsigned left = bin_dalloc_batch(a, b, cls, rb->ptrs, rb->n, &empty);
			xa_assert(left == 0);
			b->remote_drained += rb->n;
			atomic_fetch_add_explicit(&b->remote.nout, rb->n, memory_order_relaxed);
			rb->n = 0;
			rstack_push(&a->rfree, rb);
		}
		xa_mutex_unlock(&b->lock);
		slabs_release_pages(a, &empty, false);
	}
	xa_slab_clock = clock;
}

/* The bin's statistics as the application sees them: regions waiting in
 * remote batches count as returned (ndalloc, not in curregs), regions a
 * fill took from a batch as handed out (nmalloc).  So curregs = nmalloc -
 * ndalloc = regions live or cached, exact when no thread runs. */
void xa_arena_bin_stats(xa_bin_t *b, xa_bin_stats_t *out) {
	xa_mutex_lock(&b->lock);
	*out = b->stats;
	uint64_t drained = b->remote_drained;
	xa_mutex_unlock(&b->lock);
	/* nout, then nin: nin >= nout >= drained */
	uint64_t nout = atomic_load_explicit(&b->remote.nout, memory_order_relaxed);
	uint64_t nin = atomic_load_explicit(&b->remote.nin, memory_order_relaxed);
	out->ndalloc += nin - drained;
	out->nmalloc += nout - drained;
	uint64_t pending = nin - nout;
	out->curregs = out->curregs > pending ? out->curregs - (size_t)pending : 0;
}

/* ---- in-slab purging --------------------------------------------------
 * A slab stays mapped while any of its regions lives, so after a burst a
 * few survivors would pin whole slabs.  Pages of a live slab that hold only
 * free regions are released like dirty pages: once the slab has had no free
 * for decay_ms (dirty_ns holds its last free), the background pass (or a
 * purge / malloc_trim) scans it under the bin lock and MADV_DONTNEEDs those
 * pages, remembering them in run->purged.  Handing a region out again
 * clears the bits of its pages (they fault back in as zero pages).  The
 * pages stay counted as active; arena->slab_purged_pages says how many of
 * them are not resident.
 */
static uint16_t slab_page_mask(const xa_run_t *r, uintptr_t p, size_t size) {
	unsigned p0 = (unsigned)((p - r->addr) >> LG_PAGE);
	unsigned p1 = (unsigned)((p + size - 1 - r->addr) >> LG_PAGE);
	return (uint16_t)((((uint32_t)2 << p1) - 1) & ~(((uint32_t)1 << p0) - 1));
}

static XA_NOINLINE void slab_unpurge(xa_run_t *r, size_t size, void **out, unsigned n) {
	unsigned cleared = 0;
	for (unsigned i = 0; i < n && r->purged; i++) {
		uint16_t m = slab_page_mask(r, (uintptr_t)out[i], size) & r->purged;
		cleared += (unsigned)__builtin_popcount(m);
		r->purged &= (uint16_t)~m;
	}
	if (cleared)
		atomic_fetch_sub_explicit(&xa_run_chunk(r)->arena->slab_purged_pages, cleared, memory_order_relaxed);
}

/* Are regions [first, last] of slab r all free? */
static bool slab_regions_free(const xa_run_t *r, unsigned first, unsigned last) {
	for (unsigned i = first; i <= last; i++)
		if (!(r->bitmap[i / 64] & ((uint64_t)1 << (i % 64))))
			return false;
	return true;
}

/* Release the free pages of one slab (bin lock held); returns pages. */
static unsigned slab_purge_one(xa_run_t *r, size_t size) {
	unsigned released = 0;
	r->scanned = 1;
	for (unsigned j = 0; j < r->npages; j++) {
		if (r->purged & (1u << j))
			continue;
		unsigned first = (unsigned)((size_t)j * PAGE / size);
		unsigned last = (unsigned)(((size_t)(j + 1) * PAGE - 1) / size);
		if (last >= r->nregs)
			last = r->nregs - 1;
		if (first < r->nregs && !slab_regions_free(r, first, last))
			continue;
		if (xa_os_purge_forced((void *)(r->addr + (size_t)j * PAGE), PAGE))
			break; /* madvise failed: still resident, retried next scan */
		r->purged |= (uint16_t)(1u << j);
		released++;
	}
	return released;
}

/* Scan the arena's partly used slabs; returns pages released and lowers
 * *wait to the time until the next slab becomes due. */
static size_t arena_purge_slabs(xa_arena_t *a, bool force, uint64_t now, uint64_t *wait) {
	int64_t decay = xa_decay_cached_ms(atomic_load_explicit(&a->decay_ms, memory_order_relaxed));
	if (decay < 0 && !force)
		return 0;
	size_t released = 0;
	/* kept empty slabs go back to the page allocator once decay_ms old
	 * (the raw setting: with decay_ms:0 at once) */
	int64_t edecay = atomic_load_explicit(&a->decay_ms, memory_order_relaxed);
	xa_list_t gone = {0};
	lremote_drain(a);
	for (unsigned i = 0; i < SC_NSMALL; i++) {
		xa_bin_t *b = &a->bins[i];
		size_t size = xa_sc[i].size;
		if (atomic_load_explicit(&b->remote.head, memory_order_relaxed) & RPTR_MASK)
			bin_drain_remote(a, i);
		xa_mutex_lock(&b->lock);
		for (xa_run_t *r = XA_LIST_FIRST(&b->empty, xa_run_t, link), *next; r; r = next) {
			next = XA_LIST_NEXT(r, xa_run_t, link);
			if (force || edecay == 0 || (edecay > 0 && xa_decay_due(edecay, r->dirty_ns, now))) {
				xa_list_remove(&b->empty, &r->link);
				bin_nempty_dec(a, b);
				atomic_fetch_sub_explicit(&a->empty_pages, r->npages, memory_order_relaxed);
				b->stats.curslabs--;
				b->stats.curpages -= r->npages;
				xa_list_push(&gone, &r->link);
			} else if (edecay > 0) {
				uint64_t w = xa_decay_wait_ns(edecay, r->dirty_ns, now);
				if (w < *wait)
					*wait = w;
			}
		}
		/* the carved slabs (k < BIN_NCUR), then the listed ones */
		for (unsigned k = 0; k <= BIN_NCUR; k++) {
			xa_run_t *r = k < BIN_NCUR ? b->cur[k] : bin_list_first(b);
			for (; r; r = k < BIN_NCUR ? NULL : XA_LIST_NEXT(r, xa_run_t, link)) {
				if (r->nfree == 0 || r->scanned) {
					/* nothing freed since the last scan */
				} else if (!force && !xa_decay_due(decay, r->dirty_ns, now)) {
					uint64_t w = xa_decay_wait_ns(decay, r->dirty_ns, now);
					if (w < *wait)
						*wait = w;
				} else {
					released += slab_purge_one(r, size);
				}
			}
		}
		xa_mutex_unlock(&b->lock);
	}
	/* as old as their last free: the page purge that follows releases
	 * those already due */
	slabs_release_pages(a, &gone, true);
	if (released)
		atomic_fetch_add_explicit(&a->slab_purged_pages, released, memory_order_relaxed);
	return released;
}

/* arena.<i>.purge: one arena's slabs (kept empty ones, free pages of partly
 * used ones), then its page runs, all at once. */
size_t xa_arena_purge_all(xa_arena_t *a) {
	uint64_t w = UINT64_MAX;
	size_t pages = arena_purge_slabs(a, true, xa_now_ns(), &w);
	return (pages + xa_pages_purge(a, true)) * PAGE;
}

size_t xa_arenas_purge_slabs(bool force, uint64_t *wait) {
	uint64_t now = xa_now_ns(), w = UINT64_MAX;
	size_t pages = 0;
	unsigned n = atomic_load(&xa_narenas_created);
	for (unsigned i = 0; i < n; i++)
		pages += arena_purge_slabs(xa_arenas[i], force, now, &w);
	if (wait)
		*wait = w;
	return pages * PAGE;
}

/* n consecutive regions from p (size bytes apart) into out[]: two per
 * 16-byte vector store, eight per loop step (1.4 instructions a region
 * with SSE2 against 2.75 for scalar stores unrolled by four). */
typedef uint64_t xa_v2u64 __attribute__((vector_size(16)));
static void regions_seq(void **out, uintptr_t p, size_t size, unsigned n) {
	void **end = out + n;
	if (n >= 8) {
		xa_v2u64 v0 = {p, p + size}, step = {2 * size, 2 * size};
		xa_v2u64 v1 = v0 + step, v2 = v1 + step, v3 = v2 + step, step8 = step * 4;
		void **end8 = out + (n & ~7u);
		for (; out < end8; out += 8) {
			memcpy(out, &v0, 16);
			memcpy(out + 2, &v1, 16);
			memcpy(out + 4, &v2, 16);
			memcpy(out + 6, &v3, 16);
			v0 += step8;
			v1 += step8;
			v2 += step8;
			v3 += step8;
		}
		p += (n & ~7u) * size;
	}
	for (; out < end; out++, p += size)
		*out = (void *)p;
}

/* Take up to n regions from slab r into out[], lowest first.  A word
 * whose free bits are one contiguous run (a wholly free word, the tail
 * word of a fresh slab) is handed out as consecutive addresses: a store
 * and an add per region; other words a count-trailing-zeros, a
 * multiply-add and a store per region. */
static unsigned slab_take(xa_run_t *r, unsigned cls, void **out, unsigned n) {
	void **o = out, **end = out + n;
	const size_t size = xa_sc[cls].size;
	unsigned w = r->hint;
	for (; w < SLAB_BITMAP_WORDS && o < end; w++) {
		uint64_t bits = r->bitmap[w];
		if (bits == 0)
			continue;
		uintptr_t wbase = r->addr + (uintptr_t)w * 64 * size;
		unsigned s = (unsigned)__builtin_ctzll(bits);
		if (((bits >> s) & ((bits >> s) + 1)) == 0) {
			/* bits s .. s + cnt - 1 */
			uint64_t t = bits >> s;
			unsigned cnt = t == ~(uint64_t)0 ? 64 : (unsigned)__builtin_ctzll(~t);
			unsigned m = XA_MIN(cnt, (unsigned)(end - o));
			regions_seq(o, wbase + (uintptr_t)s * size, size, m);
			o += m;
			if (m < cnt) {
				r->bitmap[w] = bits & (~(uint64_t)0 << (s + m));
				break; /* n taken; word w keeps free regions */
			}
			r->bitmap[w] = 0;
			continue;
		}
		do {
			*o++ = (void *)(wbase + (uintptr_t)__builtin_ctzll(bits) * size);
			bits &= bits - 1;
		} while (bits && o < end);
		r->bitmap[w] = bits;
		if (bits)
			break; /* n taken; word w keeps free regions */
	}
	r->hint = (uint16_t)w;
	unsigned got = (unsigned)(o - out);
	r->nfree = (uint16_t)(r->nfree - got);
	if (unlikely(r->purged))
		slab_unpurge(r, size, out, got);
	return got;
}

/* Set up r, a slab taken out of another bin, as an empty slab of class
 * cls (same page count).  Its pages keep their run entries; only their
 * class entries change (free() reads them without a lock, as it does
 * while xa_slab_new writes them). */
static void slab_reinit(xa_run_t *r, unsigned cls) {
	if (r->purged) {
		atomic_fetch_sub_explicit(&xa_run_chunk(r)->arena->slab_purged_pages,
		    (size_t)__builtin_popcount(r->purged), memory_order_relaxed);
		r->purged = 0; /* released pages fault back in as zero pages */
	}
	slab_set_class(r, cls, slab_nregs(cls, r->npages));
	xa_chunk_t *c = xa_run_chunk(r);
	size_t p0 = (r->addr - c->addr) >> LG_PAGE;
	for (size_t i = 0; i < r->npages; i++)
		c->pclass[p0 + i] = PCLASS_ENTRY(cls, p0);
}

/* A kept empty slab of another bin of arena a with the page count of class
 * cls (or its grown count), for a fill of cls that would otherwise make a
 * new slab (bin cls's lock held; the other bin's lock only tried: never
 * waited for while holding one).  Classes share kept slabs this way, so keeping them does
 * not make a program that moves from class to class take new pages. */
static xa_run_t *slab_steal(xa_arena_t *a, unsigned cls) {
	unsigned np = xa_sc[cls].npages;
	if (atomic_load_explicit(&a->empty_pages, memory_order_relaxed) < np)
		return NULL;
	/* bins with kept slabs and this page count (a racy read: a stale bit
	 * costs a trylock or a missed slab, never a wrong one) */
	uint64_t m = atomic_load_explicit(&a->kept_mask, memory_order_relaxed) & same_pages_mask[cls];
	for (; m; m &= m - 1) {
		xa_bin_t *o = &a->bins[__builtin_ctzll(m)];
		if (pthread_mutex_trylock(&o->lock) != 0)
			continue;
		xa_run_t *r = XA_LIST_FIRST(&o->empty, xa_run_t, link);
		/* a grown slab only for a class that grows its slabs alike */
		if (r && r->npages != np && r->npages != xa_sc_grown_pages(cls))
			r = NULL;
		if (r) {
			xa_list_remove(&o->empty, &r->link);
			bin_nempty_dec(a, o);
			o->stats.curslabs--;
			o->stats.curpages -= r->npages;
			atomic_fetch_sub_explicit(&a->empty_pages, r->npages, memory_order_relaxed);
		}
		xa_mutex_unlock(&o->lock);
		if (r) {
			a->bins[cls].stats.curpages += r->npages;
			slab_reinit(r, cls);
			return r;
		}
	}
	return NULL;
}

unsigned xa_arena_fill_small(xa_arena_t *a, unsigned cls, void **out, unsigned n, uint64_t nrequests, bool locked,
    unsigned slot) {
	xa_bin_t *b = &a->bins[cls];
	unsigned got = 0;
	xa_assert(slot < BIN_NCUR);
	if (!locked)
		xa_mutex_lock(&b->lock);
	while (got < n) {
		xa_run_t *r = b->cur[slot];
		if (r == NULL || r->nfree == 0) {
			r = bin_list_first(b);
			if (r) {
				bin_list_remove(b, r);
			} else if ((r = XA_LIST_FIRST(&b->empty, xa_run_t, link)) != NULL) {
				/* a kept empty slab: no page allocator work */
				xa_list_remove(&b->empty, &r->link);
				bin_nempty_dec(a, b);
				atomic_fetch_sub_explicit(&a->empty_pages, r->npages, memory_order_relaxed);
			} else {
				r = slab_steal(a, cls);
				if (r == NULL)
					r = xa_slab_new(a, cls, (uint8_t)cls);
				if (r == NULL)
					break;
				b->stats.curslabs++;
				b->stats.nslabs_total++;
			}
			b->cur[slot] = r;
		}
		got += slab_take(r, cls, out + got, n - got);
	}
	b->stats.curregs += got;
	if (config_stats) { /* event counters; curregs is always kept */
		b->stats.nmalloc += got;
		b->stats.nfills++;
		b->stats.nrequests += nrequests;
	}
	xa_mutex_unlock(&b->lock);
	return got;
}

/*
 * Returning regions to their slabs (bin lock held), in batches: a flush
 * hands over up to a cache bin's worth of regions, and neighbours in a bin
 * mostly share a slab (a fill took them from one).  So the per-region work
 * is only the checks and the bitmap bit -- a range test against the
 * current slab, the region index by a multiply, "is it a region start",
 * "is it already free" (test and set of its bit: a region twice in the
 * batch is caught by its second test) -- and the slab's bookkeeping (free
 * count, free time, hint, list moves, bin statistics) is done once per run
 * of regions of one slab (slab_commit).  A pointer leaves the range test
 * for the pagemap and run lookup only when it is in another slab.
 */

/* Slabs that became wholly free in a batch: listed through run->link
 * (they are on no bin list); their pages go back after the bin lock is
 * dropped. */
static void empty_push(xa_list_t *list, xa_run_t *r) { xa_list_push(list, &r->link); }

/* k regions were just freed into slab r (the caller counts them in the bin
 * statistics), at time clock.  A slab that became wholly free
 * joins the bin's kept empty slabs while there are fewer than keep_max;
 * else it is detached from the bin and returned (NULL otherwise).  Inlined
 * into the flush loop's slab change (c_shbench 0 1 4 20000: -0.8%). */
XA_INLINE xa_run_t *slab_commit(xa_arena_t *a, xa_bin_t *b, xa_run_t *r, unsigned k, unsigned keep_max,
    uint64_t clock) {
	unsigned old = r->nfree;
	r->nfree = (uint16_t)(old + k);
	/* dirty_ns: the newest free (a reclaimed cache frees with an old
	 * stamp, which must not make other recent frees look old); freed
	 * since the last in-slab purge scan. */
	if (clock > r->dirty_ns)
		r->dirty_ns = clock;
	r->scanned = 0;
	r->hint = 0; /* cheaper than tracking the lowest word freed: a fill
	             * skips at most SLAB_BITMAP_WORDS - 1 empty words */
	if (bin_is_cur(b, r))
		return NULL;
	if (r->nfree == r->nregs) {
		if (old) /* a slab with no free region is on no list */
			bin_list_remove(b, r);
		if (b->nempty < keep_max && atomic_load_explicit(&a->empty_pages, memory_order_relaxed) + r->npages <=
		        EMPTY_KEEP_ARENA_PAGES) {
			xa_list_push(&b->empty, &r->link);
			bin_nempty_inc(a, b);
			atomic_fetch_add_explicit(&a->empty_pages, r->npages, memory_order_relaxed);
			return NULL;
		}
		b->stats.curslabs--;
		b->stats.curpages -= r->npages;
		return r;
	}
	if (old == 0)
		bin_list_push(b, r);
	return NULL;
}

/* The 128-bit product a * b: returns the high half, *lo the low half (one
 * mul on x86-64, where GCC's __int128 code would keep them in memory). */
static inline uint64_t mul_wide(uint64_t a, uint64_t b, uint64_t *lo) {
#if defined(__x86_64__)
	uint64_t hi;
	__asm__("mulq %3" : "=a"(*lo), "=d"(hi) : "a"(a), "r"(b) : "cc");
	return hi;
#else
	unsigned __int128 p = (unsigned __int128)a * b;
	*lo = (uint64_t)p;
	return (uint64_t)(p >> 64);
#endif
}

/* Set bit j (mod 64) of *w; returns its old value.  On x86-64 one bts,
 * whose carry flag is the old bit. */
static inline bool bit_test_set(uint64_t *w, uint64_t j) {
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
	bool old;
	__asm__("btsq %2, %0" : "+r"(*w), "=@ccc"(old) : "r"(j));
	return old;
#else
	uint64_t bit = (uint64_t)1 << (j % 64);
	bool old = (*w & bit) != 0;
	*w |= bit;
	return old;
#endif
}

#define SWAP(x, y)                                                            \
	do {                                                                  \
		__typeof__(x) t_ = (x);                                       \
		(x) = (y);                                                    \
		(y) = t_;                                                     \
	} while (0)

/* How far ahead bin_dalloc_batch prefetches a run descriptor, in objects:
 * a flush whose objects each sit in another slab (frees in random order:
 * b_teardown) spends ~126 instructions per object and waits on the
 * descriptor's first load, so the descriptor of the object this far ahead
 * is fetched while the current ones are processed. */
#ifndef FLUSH_PREFETCH_AHEAD
#define FLUSH_PREFETCH_AHEAD 6
#endif
#define FLUSH_RING 8 /* a power of two above FLUSH_PREFETCH_AHEAD */

/* Prefetch the run descriptor of ptr (both of its cache lines), if ptr is
 * in a chunk of arena a, and return it (NULL otherwise: the caller looks
 * the pointer up the slow way); cheap and harmless for any pointer
 * (foreign ones read the empty chunk descriptor). */
static inline xa_run_t *flush_prefetch(const xa_arena_t *a, const void *ptr) {
	uintptr_t q = (uintptr_t)ptr;
	const xa_chunk_t *c = xa_pagemap_lookup_fast(q);
	if (c->kind != CHUNK_ARENA || c->arena != a)
		return NULL;
	uint32_t name = __atomic_load_n(&c->prun[(q - c->addr) >> LG_PAGE], __ATOMIC_RELAXED);
	if (name == 0)
		return NULL;
	char *d = xa_pool_deref(name);
	__builtin_prefetch(d);
	__builtin_prefetch(d + sizeof(xa_run_t) - 1);
	return (xa_run_t *)d;
}

/* The descriptors flush_prefetch found, by object index mod FLUSH_RING,
 * with their pointers (an entry serves only its own pointer). */
typedef struct {
	uintptr_t p[FLUSH_RING];
	xa_run_t *r[FLUSH_RING];
} flush_ring_t;

/* Prefetch the descriptor of ptrs[i + FLUSH_PREFETCH_AHEAD] into the ring. */
static inline void ring_ahead(flush_ring_t *g, const xa_arena_t *a, void *const *ptrs, unsigned i, unsigned n) {
	if (i + FLUSH_PREFETCH_AHEAD < n) {
		unsigned k = (i + FLUSH_PREFETCH_AHEAD) % FLUSH_RING;
		g->p[k] = (uintptr_t)ptrs[i + FLUSH_PREFETCH_AHEAD];
		g->r[k] = flush_prefetch(a, ptrs[i + FLUSH_PREFETCH_AHEAD]);
	}
}

/* The run of p = ptrs[i] if p is in a chunk of arena a (NULL if its page
 * names no run: the caller's check reports it); *other: p is another
 * arena's. */
static inline xa_run_t *ring_run(const flush_ring_t *g, const xa_arena_t *a, uintptr_t p, unsigned i,
    bool *other) {
	*other = false;
	if (g->p[i % FLUSH_RING] == p && g->r[i % FLUSH_RING])
		return g->r[i % FLUSH_RING];
	xa_chunk_t *c = xa_pagemap_lookup(p);
	if (c->arena != a) {
		*other = true;
		return NULL;
	}
	return xa_chunk_run_at(c, p);
}

/*
 * Frees in random order (a program tearing down a big structure: b_teardown,
 * mstress) hand a flush regions that each sit in another slab, so
 * bin_dalloc_batch's open slabs only cost there: every region paid for
 * opening its slab and its word and for committing the slab opened two
 * regions before (~130 instructions per region, most of them moves of
 * its many live values).  A batch whose first pointers are scattered
 * (FLUSH_SCATTER_PROBE of them, at most FLUSH_SCATTER_NEAR in the page of
 * the one before) takes this loop instead: per region the descriptor (from
 * the prefetch ring), the same checks, its bit set in the bitmap and a
 * commit of one region.  Same contract as bin_dalloc_batch.
 */
#define FLUSH_SCATTER_PROBE 16
#define FLUSH_SCATTER_NEAR 2
bool xa_arena_batch_scattered(void *const *ptrs, unsigned n) {
	if (n <= FLUSH_SCATTER_PROBE)
		return false;
	unsigned near = 0;
	for (unsigned j = 0; j < FLUSH_SCATTER_PROBE; j++)
		near += (((uintptr_t)ptrs[j] ^ (uintptr_t)ptrs[j + 1]) >> LG_PAGE) == 0;
	return near <= FLUSH_SCATTER_NEAR;
}

static XA_NOINLINE unsigned bin_dalloc_scattered(xa_arena_t *a, xa_bin_t *b, unsigned cls, void **ptrs,
    unsigned n, xa_list_t *empty, unsigned keep_max, uint64_t clock) {
	const size_t size = xa_sc[cls].size;
	const uint64_t magic = region_magic[cls];
	flush_ring_t ring = {{0}, {0}};
	unsigned keep = 0;
	for (unsigned j = 0; j < FLUSH_PREFETCH_AHEAD && j < n; j++) {
		ring.p[j] = (uintptr_t)ptrs[j];
		ring.r[j] = flush_prefetch(a, ptrs[j]);
	}
	for (unsigned i = 0; i < n; i++) {
		ring_ahead(&ring, a, ptrs, i, n);
		void *ptr = ptrs[i];
		uintptr_t p = (uintptr_t)ptr;
		bool other;
		xa_run_t *r = ring_run(&ring, a, p, i, &other);
		if (other) {
			ptrs[keep++] = ptr;
			continue;
		}
		xa_check(r && r->kind == RUN_SLAB && r->cls == cls, "free of invalid pointer", ptr, 0);
		uintptr_t soff = p - r->addr;
		xa_check(soff < (uintptr_t)r->nregs * size, "free of invalid pointer", ptr, 0);
		uint64_t lo, hi = mul_wide(soff, magic, &lo);
		xa_check(lo < magic, "free of invalid pointer", ptr, 0);
		uint64_t w = r->bitmap[hi / 64];
		xa_check(!bit_test_set(&w, hi), "double free of", ptr, size);
		r->bitmap[hi / 64] = w;
		if ((r = slab_commit(a, b, r, 1, keep_max, clock)) != NULL)
			empty_push(empty, r);
	}
	if (config_stats)
		b->stats.ndalloc += n - keep;
	b->stats.curregs -= n - keep;
	return keep;
}

/*
 * Return the regions of ptrs[0..n) that belong to arena a to their slabs
 * of bin b (class cls; bin lock held).  The others are moved to the front;
 * returns their number.  Slabs that became wholly free are pushed on
 * *empty.  Aborts on a pointer that is not a region of class cls or whose
 * region is already free.
 *
 * The loop works on one bitmap word at a time, held in a register (acc):
 * per region a range test against the word's regions [wbase, wbase +
 * wlen) (which is also the "same slab" test), one multiply by the class's
 * magic whose high half is the region's bit in the word and whose low half
 * says whether it is a region start (Lemire's divisibility test, as on the
 * free fast path: offsets < 2^16, classes <= 2^14 bytes), and a
 * test-and-set of the bit in acc (a region twice in the batch fails its
 * second test).  acc goes back to the bitmap when a region falls outside
 * the word.  Two slabs are open at a time, the current one and the one
 * before it, and committed (slab_commit) when a third one pushes the
 * older out or at the end: a cache bin whose objects alternate between
 * two slabs (a burst freed half and refilled, as sh6bench does: 44% of
 * its slab changes went back to the slab before) costs no lookup and no
 * commit per change.
 */
static unsigned bin_dalloc_batch(xa_arena_t *a, xa_bin_t *b, unsigned cls, void **ptrs, unsigned n,
    xa_list_t *empty) {
	const size_t size = xa_sc[cls].size;
	const uint64_t magic = region_magic[cls];
	const uintptr_t wspan = (uintptr_t)64 * size; /* bytes of one bitmap word's regions */
	xa_run_t *r = NULL, *r2 = NULL; /* the open slabs: current, previous */
	/* their regions: [base, base + len), [base2, base2 + len2) */
	uintptr_t base = 0, len = 0, base2 = 0, len2 = 0;
	uintptr_t wbase = 0, wlen = 0; /* the regions of r's bitmap word wi (held in acc) */
	uint64_t acc = 0;
	/* regions freed into r before ptrs[start] (k), into r2 (k2) */
	unsigned wi = 0, keep = 0, start = 0, k = 0, k2 = 0;
	/* decay_ms:0 releases at once: no slab is kept empty */
	unsigned keep_max = atomic_load_explicit(&a->decay_ms, memory_order_relaxed) == 0 ? 0 : b->empty_max;
	uint64_t clock = xa_slab_clock;
	if (xa_arena_batch_scattered(ptrs, n))
		return bin_dalloc_scattered(a, b, cls, ptrs, n, empty, keep_max, clock);
	flush_ring_t ring = {{0}, {0}};
	for (void **pp = ptrs, **end = ptrs + n; pp < end; pp++) {
		uintptr_t off = (uintptr_t)*pp - wbase;
		if (unlikely(off >= wlen)) {
			uintptr_t p = off + wbase;
			unsigned i = (unsigned)(pp - ptrs);
			uintptr_t soff = p - base;
			if (r)
				r->bitmap[wi] = acc;
			if (soff >= len) {
				/* another slab: the previous one, or a third */
				if (r)
					k += i - start;
				start = i;
				if (p - base2 < len2) {
					SWAP(r, r2);
					SWAP(base, base2);
					SWAP(len, len2);
					SWAP(k, k2);
					soff = p - base;
					goto word;
				}
				if (r) {
					if (r2 && (r2 = slab_commit(a, b, r2, k2, keep_max, clock)) != NULL)
						empty_push(empty, r2);
					r2 = r;
					base2 = base;
					len2 = len;
					k2 = k;
				}
				ring_ahead(&ring, a, ptrs, i, n);
				bool other;
				r = ring_run(&ring, a, p, i, &other);
				if (other) {
					base = len = wbase = wlen = 0;
					ptrs[keep++] = *pp;
					continue;
				}
				xa_check(r && r->kind == RUN_SLAB && r->cls == cls, "free of invalid pointer", *pp, 0);
				base = r->addr;
				len = (uintptr_t)r->nregs * size;
				soff = p - base;
				xa_check(soff < len, "free of invalid pointer", *pp, 0);
				k = 0;
			}
		word:
			wi = (unsigned)(mul_wide(soff, magic, &off) / 64);
			wbase = base + wi * wspan;
			wlen = XA_MIN(wspan, len - wi * wspan);
			acc = r->bitmap[wi];
			off = p - wbase;
		}
		/* off < 2^16: the high half of off * magic is off / size, the
		 * low half is below magic iff size divides off */
		uint64_t lo, hi = mul_wide(off, magic, &lo);
		xa_check(lo < magic, "free of invalid pointer", *pp, 0);
		xa_check(!bit_test_set(&acc, hi), "double free of", *pp, size);
	}
	if (r) {
		r->bitmap[wi] = acc;
		if ((r = slab_commit(a, b, r, k + n - start, keep_max, clock)) != NULL)
			empty_push(empty, r);
	}
	if (r2 && (r2 = slab_commit(a, b, r2, k2, keep_max, clock)) != NULL)
		empty_push(empty, r2);
	/* the bin's counts once per batch */
	if (config_stats)
		b->stats.ndalloc += n - keep;
	b->stats.curregs -= n - keep;
	return keep;
}

/* Give the pages of slabs that became empty back to the page allocator
 * (no purge: the callers' passes purge after).  stamped: the pages became
 * unused at the slab's last free (dirty_ns), not now -- kept empty slabs
 * released by a purge pass keep their age. */
static void slabs_release_pages(xa_arena_t *a, xa_list_t *empty, bool stamped) {
	if (xa_list_empty(empty))
		return;
	for (xa_run_t *r = XA_LIST_FIRST(empty, xa_run_t, link); r; r = XA_LIST_NEXT(r, xa_run_t, link)) {
		if (r->purged) {
			atomic_fetch_sub_explicit(&a->slab_purged_pages,
			    (size_t)__builtin_popcount(r->purged), memory_order_relaxed);
			r->purged = 0;
		}
	}
	uint64_t stamp = xa_free_stamp_ns;
	xa_mutex_lock(&a->lock);
	xa_run_t *r;
	while ((r = XA_LIST_FIRST(empty, xa_run_t, link)) != NULL) {
		xa_list_remove(empty, &r->link); /* xa_pages_free links it anew */
		if (stamped)
			xa_free_stamp_ns = r->dirty_ns;
		xa_pages_free(a, r);
	}
	xa_mutex_unlock(&a->lock);
	xa_free_stamp_ns = stamp;
}

static void slabs_release(xa_arena_t *a, xa_list_t *empty) {
	if (xa_list_empty(empty))
		return;
	slabs_release_pages(a, empty, false);
	arena_after_dirty(a);
}

void xa_arena_flush_small(xa_arena_t *home, unsigned cls, void **ptrs, unsigned n) {
	xa_slab_clock = slab_free_time();
	while (n) {
		xa_chunk_t *c0 = xa_pagemap_lookup((uintptr_t)ptrs[0]);
		xa_arena_t *a = c0->arena;
		xa_bin_t *b = &a->bins[cls];
		/* Another arena's regions, or the home bin while another
		 * thread holds its lock: remote batches, no lock. */
		if (a != home || pthread_mutex_trylock(&b->lock) != 0) {
			bool ok = flush_remote(a, c0, cls, ptrs, &n);
			arena_after_slab_free(a);
			if (ok)
				continue;
			/* over the bound or out of batches: the lock (ptrs[0]
			 * may now be another arena's: the loop skips those) */
			xa_mutex_lock(&b->lock);
		}
		xa_list_t empty = {0};
		unsigned keep = bin_dalloc_batch(a, b, cls, ptrs, n, &empty);
		if (config_stats)
			b->stats.nflushes++;
		xa_mutex_unlock(&b->lock);
		if (!xa_list_empty(&empty))
			slabs_release(a, &empty);
		else
			arena_after_slab_free(a);
		n = keep;
	}
}

void *xa_arena_malloc_small(xa_arena_t *a, unsigned cls, bool zero, unsigned slot) {
	void *p;
	if (xa_arena_fill_small(a, cls, &p, 1, 1, false, slot) == 0)
		return NULL;
	if (zero)
		memset(p, 0, xa_sc[cls].size);
	return p;
}

void xa_arena_free_small_one(xa_chunk_t *c, void *ptr) {
	xa_arena_t *a = c->arena;
	unsigned cls;
	xa_run_t *r0 = xa_chunk_run_at(c, (uintptr_t)ptr);
	xa_check(r0 && r0->kind == RUN_SLAB, "free of invalid pointer", ptr, 0);
	cls = r0->cls;
	xa_bin_t *b = &a->bins[cls];
	xa_slab_clock = slab_free_time();
	xa_list_t empty = {0};
	xa_mutex_lock(&b->lock);
	bin_dalloc_batch(a, b, cls, &ptr, 1, &empty);
	xa_mutex_unlock(&b->lock);
	if (!xa_list_empty(&empty))
		slabs_release(a, &empty);
	else
		arena_after_slab_free(a);
}

/* ---- large ----------------------------------------------------------- */

void *xa_arena_malloc_large(xa_arena_t *a, size_t usize, size_t align, bool zero) {
	unsigned cls = xa_sc_size2class(usize);
	size_t npages = usize >> LG_PAGE;
	size_t align_pages = align > PAGE ? align >> LG_PAGE : 0;
	bool zeroed;
	xa_mutex_lock(&a->lock);
	xa_run_t *r = xa_pages_alloc(a, npages, align_pages, &zeroed);
	if (r) {
		r->kind = RUN_LARGE;
		r->cls = (uint8_t)cls;
		r->usize = usize;
		run_set_rpending(r, 0);
		xa_run_set_pages(xa_run_chunk(r), r, PCLASS_LARGE(cls, usize), false);
		a->stats.large_nmalloc++;
		a->stats.large_cur++;
		a->stats.large_allocated += usize;
		a->lstats_nmalloc[cls - SC_NSMALL]++;
		a->lstats_cur[cls - SC_NSMALL]++;
	}
	xa_mutex_unlock(&a->lock);
	if (r == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	if (zero && zeroed)
		xa_zero_known(usize);
	else if (zero)
		xa_zero_fill((void *)r->addr, usize);
	return (void *)r->addr;
}

/* A run of the page allocator given back, arena lock held: the counters
 * of a free unless the application freed it earlier through a remote
 * batch (drained). */
static void large_free_locked(xa_arena_t *a, xa_run_t *r, bool drained) {
	unsigned cls = r->cls;
	a->stats.large_cur--;
	a->stats.large_allocated -= r->usize;
	a->lstats_cur[cls - SC_NSMALL]--;
	if (!drained) {
		a->stats.large_ndalloc++;
		a->lstats_ndalloc[cls - SC_NSMALL]++;
	}
	xa_pages_free(a, r);
}

void xa_arena_free_large(xa_chunk_t *c, xa_run_t *r) {
	xa_arena_t *a = c->arena;
	/* The background thread starts on the first kick after pages went
	 * dirty, and pthread_create allocates (the new thread's DTV): started
	 * after the pages are freed, that allocation could take them at once,
	 * and a second free(p) of this run would then meet a live slab instead
	 * of the free run that makes it a detected double free.  So start it
	 * while the run is still allocated. */
	if (unlikely(!xa_background_running()))
		xa_background_kick();
	xa_mutex_lock(&a->lock);
	large_free_locked(a, r, false);
	xa_mutex_unlock(&a->lock);
	arena_after_dirty(a);
}

/* ---- remote large frees ----------------------------------------------
 * (see "Remote large frees" at the top) */

#ifndef LREMOTE_LIMIT_BYTES
#define LREMOTE_LIMIT_BYTES ((uint64_t)512 << 10)
#endif
/* Blocks of class cls an arena may have waiting: LREMOTE_LIMIT_BYTES, at
 * least 2 (a flush of a full large bin hands over half of it). */
static uint64_t lremote_limit(unsigned cls) {
	return XA_MAX(LREMOTE_LIMIT_BYTES / xa_sc_size[cls], (uint64_t)2);
}
static xa_lremote_t *lremote_of(xa_arena_t *a, unsigned cls) {
	unsigned j = cls - SC_NSMALL;
	return j < LREMOTE_NCLASSES ? &a->lremote[j] : NULL;
}
bool xa_run_rpending(const xa_run_t *r) { return run_rpending(r); }

static xa_run_t *large_run_of(void *ptr, xa_chunk_t **cp) {
	xa_chunk_t *c = xa_pagemap_lookup((uintptr_t)ptr);
	xa_run_t *r = xa_chunk_run_at(c, (uintptr_t)ptr);
	xa_check(r && r->kind == RUN_LARGE && r->addr == (uintptr_t)ptr && !run_rpending(r),
	    "double free or invalid pointer", ptr, 0);
	*cp = c;
	return r;
}

static void lremote_push(xa_arena_t *a, xa_lremote_t *q, xa_rbatch_t *rb) {
	rb->ns = slab_free_time();
	atomic_fetch_add_explicit(&q->s.nin, rb->n, memory_order_relaxed);
	rstack_push(&q->s.head, rb);
	arena_after_slab_free(a); /* the background pass drains it */
}

/*
 * Flush ptrs[0..n) (blocks of large class cls, from a thread cache whose
 * thread allocates from home): other arenas' blocks go into remote batches
 * while their class has room, the rest back to the page allocator, one
 * lock hold per run of neighbours of one arena.
 */
void xa_arena_flush_large(xa_arena_t *home, unsigned cls, void **ptrs, unsigned n) {
	unsigned nlocal = 0;
	xa_arena_t *ra = NULL;
	xa_lremote_t *q = NULL;
	xa_rbatch_t *rb = NULL;
	uint64_t room = 0;
	for (unsigned i = 0; i < n; i++) {
		xa_chunk_t *c;
		xa_run_t *r = large_run_of(ptrs[i], &c);
		xa_arena_t *a = c->arena;
		if (a != home && lremote_of(a, cls) != NULL) {
			if (a != ra) {
				if (rb && rb->n)
					lremote_push(ra, q, rb);
				else if (rb)
					rstack_push(&ra->rfree, rb);
				ra = a;
				q = lremote_of(a, cls);
				uint64_t pending = atomic_load_explicit(&q->s.nin, memory_order_relaxed) -
				    atomic_load_explicit(&q->s.nout, memory_order_relaxed);
				/* nout read second: a racing fill may make pending
				 * wrap, which only sends blocks to the lock */
				room = lremote_limit(cls) > pending ? lremote_limit(cls) - pending : 0;
				rb = room ? rbatch_get(a) : NULL;
			}
			if (rb && rb->n < room && rb->n < RBATCH_MAX) {
				run_set_rpending(r, 1);
				rb->ptrs[rb->n++] = ptrs[i];
				continue;
			}
		}
		ptrs[nlocal++] = ptrs[i];
	}
	if (rb && rb->n)
		lremote_push(ra, q, rb);
	else if (rb)
		rstack_push(&ra->rfree, rb);
	/* the rest: neighbours of one arena under one hold of its lock */
	for (unsigned i = 0, j; i < nlocal; i = j) {
		xa_chunk_t *c = xa_pagemap_lookup((uintptr_t)ptrs[i]);
		xa_arena_t *a = c->arena;
		if (unlikely(!xa_background_running()))
			xa_background_kick(); /* see xa_arena_free_large */
		xa_mutex_lock(&a->lock);
		for (j = i; j < nlocal; j++) {
			c = xa_pagemap_lookup((uintptr_t)ptrs[j]);
			if (c->arena != a)
				break;
			/* checked above; the runs cannot change: they are the
			 * caller's until freed here */
			large_free_locked(a, xa_chunk_run_at(c, (uintptr_t)ptrs[j]), false);
		}
		xa_mutex_unlock(&a->lock);
		arena_after_dirty(a);
	}
}

/* A cache fill of large class cls from arena a's remote batches: one
 * batch's blocks (at most max) into out[], no lock.  Returns how many. */
unsigned xa_arena_fill_remote_large(xa_arena_t *a, unsigned cls, void **out, unsigned max) {
	xa_lremote_t *q = lremote_of(a, cls);
	unsigned n = q ? rstack_take(a, &q->s, out, max) : 0;
	for (unsigned i = 0; i < n; i++) {
		xa_chunk_t *c = xa_pagemap_lookup((uintptr_t)out[i]);
		run_set_rpending(xa_chunk_run_at(c, (uintptr_t)out[i]), 0);
	}
	return n;
}

/* Give every block waiting in arena a's remote batches back to the page
 * allocator, each batch with its free time (the decay ages it from
 * there).  Called by the purge passes. */
static void lremote_drain(xa_arena_t *a) {
	uint64_t stamp = xa_free_stamp_ns;
	for (unsigned j = 0; j < LREMOTE_NCLASSES; j++) {
		xa_lremote_t *q = &a->lremote[j];
		/* only what was pushed before: a stream of pushes does not keep
		 * the caller here */
		uint64_t upto = atomic_load_explicit(&q->s.nin, memory_order_relaxed);
		xa_rbatch_t *rb;
		while ((atomic_load_explicit(&q->s.head, memory_order_relaxed) & RPTR_MASK) &&
		    (int64_t)(upto - atomic_load_explicit(&q->s.nout, memory_order_relaxed)) > 0 &&
		    (rb = rstack_pop(&q->s.head)) != NULL) {
			xa_free_stamp_ns = rb->ns;
			xa_mutex_lock(&a->lock);
			for (unsigned i = 0; i < rb->n; i++) {
				xa_chunk_t *c = xa_pagemap_lookup((uintptr_t)rb->ptrs[i]);
				xa_run_t *r = xa_chunk_run_at(c, (uintptr_t)rb->ptrs[i]);
				run_set_rpending(r, 0);
				large_free_locked(a, r, true);
			}
			/* both under the lock: the statistics read them there */
			q->drained += rb->n;
			atomic_fetch_add_explicit(&q->s.nout, rb->n, memory_order_relaxed);
			xa_mutex_unlock(&a->lock);
			rb->n = 0;
			rstack_push(&a->rfree, rb);
		}
	}
	xa_free_stamp_ns = stamp;
}

/* The large statistics as the application sees them (arena lock held):
 * blocks waiting in remote batches count as freed, blocks a fill took
 * from a batch as allocated (the locked counters see neither: to the
 * page allocator those blocks stay allocated until a drain). */
size_t xa_arena_large_stats(xa_arena_t *a, xa_arena_stats_t *st, uint64_t *lnmalloc, uint64_t *lndalloc,
    size_t *lcur) {
	size_t bytes = 0;
	for (unsigned j = 0; j < LREMOTE_NCLASSES; j++) {
		xa_lremote_t *q = &a->lremote[j];
		uint64_t nout = atomic_load_explicit(&q->s.nout, memory_order_relaxed);
		uint64_t nin = atomic_load_explicit(&q->s.nin, memory_order_relaxed);
		/* nin read second: pending >= 0 when no fill races */
		uint64_t pending = nin > nout ? nin - nout : 0;
		uint64_t fills = nout - q->drained;
		pending = XA_MIN(pending, (uint64_t)lcur[j]);
		lnmalloc[j] += fills;
		lndalloc[j] += nin;
		lcur[j] -= pending;
		st->large_nmalloc += fills;
		st->large_ndalloc += nin;
		st->large_cur -= pending;
		st->large_allocated -= pending * xa_sc_size[SC_NSMALL + j];
		bytes += pending * xa_sc_size[SC_NSMALL + j];
	}
	return bytes;
}

/* Objects waiting in stack q (racy: nout read first, 0 if a fill raced). */
static uint64_t rstack_waiting(const xa_rstack_t *q) {
	uint64_t nout = atomic_load_explicit(&q->nout, memory_order_relaxed);
	uint64_t nin = atomic_load_explicit(&q->nin, memory_order_relaxed);
	return nin > nout ? nin - nout : 0;
}

/* Bytes of everything waiting in arena a's remote batches (racy). */
size_t xa_arena_remote_bytes(xa_arena_t *a) {
	size_t bytes = xa_arena_remote_small_bytes(a);
	for (unsigned j = 0; j < LREMOTE_NCLASSES; j++)
		bytes += (size_t)rstack_waiting(&a->lremote[j].s) * xa_sc_size[SC_NSMALL + j];
	return bytes;
}

/* Everything waiting in arena a's remote batches back to its slabs and
 * page runs (the slack budget: decay.c). */
void xa_arena_drain_remote(xa_arena_t *a) {
	lremote_drain(a);
	for (unsigned i = 0; i < SC_NSMALL; i++)
		if (atomic_load_explicit(&a->bins[i].remote.head, memory_order_relaxed) & RPTR_MASK)
			bin_drain_remote(a, i);
}

/* Bytes of small regions waiting in arena a's remote batches (racy). */
size_t xa_arena_remote_small_bytes(xa_arena_t *a) {
	size_t bytes = 0;
	for (unsigned i = 0; i < SC_NSMALL; i++)
		bytes += (size_t)rstack_waiting(&a->bins[i].remote) * xa_sc[i].size;
	return bytes;
}

bool xa_arena_ralloc_large_inplace(xa_chunk_t *c, xa_run_t *r, size_t usize) {
	xa_arena_t *a = c->arena;
	size_t np = usize >> LG_PAGE;
	unsigned ncls = xa_sc_size2class(usize);
	bool fail = false, shrink = np < r->npages;
	xa_mutex_lock(&a->lock);
	if (np > r->npages)
		fail = xa_pages_grow(a, r, np);
	else if (np < r->npages)
		xa_pages_shrink(a, r, np);
	if (!fail) {
		unsigned ocls = r->cls;
		a->stats.large_allocated += usize - r->usize;
		a->lstats_cur[ocls - SC_NSMALL]--;
		a->lstats_ndalloc[ocls - SC_NSMALL]++;
		a->lstats_cur[ncls - SC_NSMALL]++;
		a->lstats_nmalloc[ncls - SC_NSMALL]++;
		r->cls = (uint8_t)ncls;
		r->usize = usize;
		c->pclass[(r->addr - c->addr) >> LG_PAGE] = PCLASS_LARGE(ncls, usize);
	}
	xa_mutex_unlock(&a->lock);
	if (!fail && shrink)
		arena_after_dirty(a);
	return fail;
}

/* ---- fork ------------------------------------------------------------ */

void xa_arena_prefork(void) {
	xa_mutex_lock(&arenas_lock);
	unsigned n = atomic_load(&xa_narenas_created);
	for (unsigned i = 0; i < n; i++) {
		xa_arena_t *a = xa_arenas[i];
		for (unsigned j = 0; j < SC_NSMALL; j++)
			xa_mutex_lock(&a->bins[j].lock);
		xa_mutex_lock(&a->lock);
	}
}

void xa_arena_postfork_parent(void) {
	unsigned n = atomic_load(&xa_narenas_created);
	for (unsigned i = 0; i < n; i++) {
		xa_arena_t *a = xa_arenas[i];
		xa_mutex_unlock(&a->lock);
		for (unsigned j = 0; j < SC_NSMALL; j++)
			xa_mutex_unlock(&a->bins[j].lock);
	}
	xa_mutex_unlock(&arenas_lock);
}

void xa_arena_postfork_child(void) {
	unsigned n = atomic_load(&xa_narenas_created);
	for (unsigned i = 0; i < n; i++) {
		xa_arena_t *a = xa_arenas[i];
		xa_mutex_init(&a->lock);
		for (unsigned j = 0; j < SC_NSMALL; j++)
			xa_mutex_init(&a->bins[j].lock);
		/* Only this thread survives: the others' bindings are gone
		 * (tsd.c binds it again). */
		atomic_store(&a->nthreads, 0);
		for (unsigned k = 0; k < BIN_NCUR; k++)
			atomic_store(&a->slot_users[k], 0);
	}
	xa_mutex_init(&arenas_lock);
}
