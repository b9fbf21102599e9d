/*
 * pages.c -- the page allocator: runs of pages inside an arena's chunks.
 *
 * Owns: chunk mapping/unmapping, the free-run sets by state (dirty, lazy,
 * retained), splitting and coalescing, the decay list and purging.
 *
 * Invariants
 *  - Every page of a chunk belongs to exactly one run.  A free run has one
 *    state; neighbouring free runs of the same state are always merged, so a
 *    chunk's free space is a few runs, not many.
 *  - chunk->prun[] points at a run from its first and last page (free and
 *    large runs) or from every page (slabs); every other entry is NULL.
 *  - Dirty runs are on the arena's decay list in order of insertion (a
 *    merge keeps the older time, see decay.h); purging scans it for runs
 *    that are due.
 *  - arena->stats.npages[state] counts the free pages of each state and
 *    active_pages the pages of slabs and large runs; their sum is the
 *    arena's mapped chunks * CHUNK_NPAGES.
 *
 * Metadata (issue 10, the spike target).  After a burst is freed, what
 * stays resident of the page allocator's metadata is set by the burst's
 * peak, not by what survives: the survivors' descriptors are scattered over
 * every pool block the burst filled (b_spike: 11,000 live descriptors pin
 * 72 blocks of 64 KiB; 10,000 pin 47 since 2026-12-07), and every chunk the
 * burst mapped keeps its page -> run array.  So both are kept small rather
 * than moved:
 *  - run descriptors come from an indexed pool (base.c, "Indexed pools"),
 *    so a prun entry is the descriptor's 32-bit name (block number and
 *    offset; one table load to follow it): 4 KiB per chunk instead of 8
 *    (and the arrays now live in pool blocks, so those of unmapped chunks
 *    are purged like other empty blocks);
 *  - a descriptor is 80 bytes instead of 104: it no longer stores its
 *    chunk (xa_run_chunk finds it through the page map: one more load on
 *    paths that hold a lock anyway), npages is 16 bits, and a slab keeps
 *    a "scanned" flag instead of the time of its last purge scan;
 *  - busy bins make slabs of several regions for the classes above 1
 *    KiB (arena.c, "Slabs grow in busy bins"): a burst of 4 KiB blocks
 *    needs one descriptor per 16 blocks instead of one per block.
 * Measured in bench/README.md ("Spike: where the memory is").  And the
 * survivors' descriptors are moved together once the process idles
 * ("Compaction", at the end of this file), so the blocks the burst filled
 * go back too.
 *
 * Locking: arena->lock for everything here.  Purging takes runs off the sets
 * (marking them RUN_PURGING so no neighbour merges into them), drops the lock
 * for madvise, and re-takes it to put them back: system calls are never made
 * with the lock held, except mmap/munmap of whole chunks.
 */
#include "internal.h"

/* When the calling thread frees memory that has been unused for a while
 * already (the idle-cache reclaim), the time it went unused; 0: now. */
_Thread_local uint64_t xa_free_stamp_ns;

/* Run descriptors: an indexed pool, so that prun entries are 32-bit names
 * (see the header); 65535 blocks of 64 KiB hold 48 million descriptors. */
static xa_pool_t run_pool = {.size = sizeof(xa_run_t), .indexed = true};
static xa_pool_t chunk_pool = {.size = sizeof(xa_chunk_t)};
static xa_pool_t prun_pool = {.size = sizeof(uint32_t) * CHUNK_NPAGES};

XA_INLINE void prun_set(xa_chunk_t *c, size_t page, const xa_run_t *r) { c->prun[page] = xa_pool_ref(r); }

/*
 * Run descriptors of an arena come and go with every carve and merge: a
 * large malloc that cuts a free run takes one, the free that merges it
 * back gives one.  From the pool, each took and released the pool's lock
 * (base_lock, shared by every arena, nested in the arena lock) and its
 * block bitmaps: ~130 instructions per descriptor, half of them the lock,
 * 4 lock pairs per large malloc+free instead of 2 (bench/README.md,
 * "Run descriptors kept by the arena").  So an arena keeps up to
 * RUN_STASH (16) free descriptors under its own lock, last freed first
 * out, and the pool sees only what overflows or runs short.  A kept
 * descriptor is as free as one in the pool (no prun entry names it), so
 * the lock-free readers' rules are unchanged; 16 of them are 1.3 KiB per
 * arena, against the spike's ~10,000 live ones.
 */
static xa_run_t *run_get(xa_arena_t *a) {
	if (a->nrun_stash) {
		xa_run_t *r = a->run_stash[--a->nrun_stash];
		memset(r, 0, sizeof *r); /* as the pool gives them */
		return r;
	}
	return xa_pool_get(&run_pool);
}

static void run_put(xa_arena_t *a, xa_run_t *r) {
	if (a->nrun_stash < RUN_STASH)
		a->run_stash[a->nrun_stash++] = r;
	else
		xa_pool_put(&run_pool, r);
}

static unsigned bucket_of(size_t npages) {
	if (npages <= 16)
		return (unsigned)npages - 1;
	unsigned lg = 63 - (unsigned)__builtin_clzl(npages);
	unsigned sub = (unsigned)(npages >> (lg - 2)) & 3;
	return 16 + 4 * (lg - 4) + sub;
}

XA_INLINE size_t run_page(const xa_run_t *r) {
	return (r->addr & CHUNK_MASK) >> LG_PAGE;
}

/* Append at the tail: the list is in order of insertion, which is nearly
 * the order of dirty_ns (a merge may carry an older time), so purging scans
 * the list rather than stopping at the first run not yet due.  (Inserting
 * in exact order made frees quadratic when many runs merged.) */
static void dirty_append(xa_arena_t *a, xa_run_t *r) {
	xa_link_init(&r->dlink);
	xa_list_append(&a->dirty, &r->dlink);
}

static void dirty_remove(xa_arena_t *a, xa_run_t *r) { xa_list_remove(&a->dirty, &r->dlink); }

static void avail_insert(xa_arena_t *a, xa_run_t *r) {
	unsigned b = bucket_of(r->npages);
	r->kind = RUN_FREE;
	xa_list_push(&a->avail[r->state][b], &r->link);
	a->avail_mask[r->state] |= (uint64_t)1 << b;
	a->stats.npages[r->state] += r->npages;
	if (r->state == PS_DIRTY)
		dirty_append(a, r);
	xa_chunk_t *c = xa_run_chunk(r);
	size_t p0 = run_page(r);
	prun_set(c, p0, r);
	prun_set(c, p0 + r->npages - 1, r);
}

static void avail_remove(xa_arena_t *a, xa_run_t *r) {
	unsigned b = bucket_of(r->npages);
	xa_list_remove(&a->avail[r->state][b], &r->link);
	if (xa_list_empty(&a->avail[r->state][b]))
		a->avail_mask[r->state] &= ~((uint64_t)1 << b);
	a->stats.npages[r->state] -= r->npages;
	if (r->state == PS_DIRTY)
		dirty_remove(a, r);
}

static void chunk_unmap(xa_arena_t *a, xa_chunk_t *c, xa_run_t *r) {
	avail_remove(a, r);
	xa_chunk_t **pp = &a->chunks;
	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	xa_pagemap_clear(c->addr, CHUNK);
	xa_os_unmap((void *)c->addr, CHUNK);
	a->stats.mapped_chunks--;
	run_put(a, r);
	xa_pool_put(&prun_pool, c->prun);
	xa_pool_put(&chunk_pool, c);
}

/*
 * Put a free run (kind not yet RUN_FREE, state set) into the sets, merging
 * with same-state neighbours.  The run's pages must have no prun entries
 * except possibly its first and last.
 */
static void run_release(xa_arena_t *a, xa_run_t *r) {
	xa_chunk_t *c = xa_run_chunk(r);
	size_t p0 = run_page(r);
	if (p0 > 0) {
		xa_run_t *l = xa_chunk_run(c, p0 - 1);
		if (l && l->kind == RUN_FREE && l->state == r->state) {
			avail_remove(a, l);
			if (l->npages > 1)
				prun_set(c, p0 - 1, NULL);
			prun_set(c, p0, NULL);
			l->npages += r->npages;
			l->zeroed &= r->zeroed;
			if (r->dirty_ns < l->dirty_ns)
				l->dirty_ns = r->dirty_ns;
			run_put(a, r);
			r = l;
			p0 = run_page(r);
		}
	}
	size_t pe = p0 + r->npages;
	if (pe < CHUNK_NPAGES) {
		xa_run_t *n = xa_chunk_run(c, pe);
		if (n && n->kind == RUN_FREE && n->state == r->state) {
			avail_remove(a, n);
			if (r->npages > 1)
				prun_set(c, pe - 1, NULL);
			if (n->npages > 1)
				prun_set(c, pe, NULL);
			r->npages += n->npages;
			r->zeroed &= n->zeroed;
			if (n->dirty_ns < r->dirty_ns)
				r->dirty_ns = n->dirty_ns;
			run_put(a, n);
		}
	}
	avail_insert(a, r);
	if (r->npages == CHUNK_NPAGES && r->state == PS_RETAINED && !xa_opt.retain)
		chunk_unmap(a, c, r);
}

static xa_chunk_t *chunk_new(xa_arena_t *a) {
	xa_chunk_t *c = xa_pool_get(&chunk_pool);
	if (c == NULL)
		return NULL;
	c->prun = xa_pool_get(&prun_pool);
	xa_run_t *r = run_get(a);
	void *mem = c->prun && r ? xa_os_map(CHUNK, CHUNK) : NULL;
	if (mem == NULL) {
		int e = errno;
		if (r)
			run_put(a, r);
		if (c->prun)
			xa_pool_put(&prun_pool, c->prun);
		xa_pool_put(&chunk_pool, c);
		errno = e ? e : ENOMEM;
		return NULL;
	}
	memset(c->pclass, PCLASS_NONE, sizeof(c->pclass));
	c->kind = CHUNK_ARENA;
	c->arena = a;
	c->addr = (uintptr_t)mem;
	if (xa_pagemap_set(c->addr, CHUNK, c)) {
		xa_os_unmap(mem, CHUNK);
		run_put(a, r);
		xa_pool_put(&prun_pool, c->prun);
		xa_pool_put(&chunk_pool, c);
		errno = ENOMEM;
		return NULL;
	}
	c->next = a->chunks;
	a->chunks = c;
	a->stats.mapped_chunks++;
	r->addr = c->addr;
	r->npages = CHUNK_NPAGES;
	r->state = PS_RETAINED;
	r->zeroed = 1;
	avail_insert(a, r);
	return c;
}

/* Pages from r's start to its first address aligned to al pages. */
static size_t align_off(const xa_run_t *r, size_t al) {
	if (al <= 1)
		return 0;
	uintptr_t a = al * PAGE;
	return (((r->addr + a - 1) & ~(a - 1)) - r->addr) >> LG_PAGE;
}

/*
 * Find a free run in state s that holds n pages at an address aligned to
 * al pages (al 1: any); NULL if none.  The runs of a bucket differ in size
 * (above 16 pages) and in alignment, so not every run of the first bucket
 * that could hold n pages does: at most AVAIL_SCAN runs of each bucket are
 * tried, from the bucket of n up, and the last bucket that has runs is
 * searched to its end.  The first run of a bucket whose runs all have
 * n + al - 1 pages or more fits, so the search usually ends there at the
 * latest.  (A scan of the whole first list took 85% of the time of
 * aligned_alloc(64 KiB, 1..100 KB) in a loop, 20 us a call: the carves
 * left thousands of runs just too small in the bucket the request needed,
 * bench/README.md "Aligned large runs".)
 * An aligned request is placed in a run that holds it aligned, not only
 * in runs of n + al - 1 pages, so the carves leave fewer and smaller
 * pieces.
 */
#define AVAIL_SCAN 8
static xa_run_t *avail_find(xa_arena_t *a, unsigned s, size_t n, size_t al) {
	uint64_t m = a->avail_mask[s] & (~(uint64_t)0 << bucket_of(n));
	while (m) {
		unsigned b = (unsigned)__builtin_ctzll(m);
		m &= m - 1;
		/* the last bucket with runs is searched to its end: a run that
		 * fits is never missed */
		unsigned limit = m ? AVAIL_SCAN : UINT_MAX, k = 0;
		for (xa_run_t *r = XA_LIST_FIRST(&a->avail[s][b], xa_run_t, link); r && k < limit;
		     r = XA_LIST_NEXT(r, xa_run_t, link), k++)
			if (align_off(r, al) + n <= r->npages)
				return r;
	}
	return NULL;
}

/* Cut [off, off+n) pages of free run r (already removed from the sets)
 * out as the result; the pieces before and after go back as free runs of
 * r's state.  Returns the piece, or NULL (r reinserted) if out of metadata. */
static xa_run_t *run_carve(xa_arena_t *a, xa_run_t *r, size_t off, size_t n) {
	xa_chunk_t *c = xa_run_chunk(r);
	size_t p0 = run_page(r), total = r->npages;
	xa_run_t *head = NULL, *tail = NULL;
	if (off) {
		head = run_get(a);
		if (!head)
			goto oom;
	}
	if (off + n < total) {
		tail = run_get(a);
		if (!tail)
			goto oom;
	}
	prun_set(c, p0, NULL);
	prun_set(c, p0 + total - 1, NULL);
	if (head) {
		*head = *r;
		head->npages = (uint16_t)off;
		xa_link_init(&head->link);
		avail_insert(a, head);
	}
	if (tail) {
		*tail = *r;
		tail->addr = r->addr + (off + n) * PAGE;
		tail->npages = (uint16_t)(total - off - n);
		xa_link_init(&tail->link);
		avail_insert(a, tail);
	}
	r->addr += off * PAGE;
	r->npages = (uint16_t)n;
	return r;
oom:
	if (head)
		run_put(a, head);
	avail_insert(a, r);
	return NULL;
}

xa_run_t *xa_pages_alloc(xa_arena_t *a, size_t n, size_t align_pages, bool *zeroed) {
	size_t want = n + (align_pages > 1 ? align_pages - 1 : 0);
	if (want > CHUNK_NPAGES) {
		errno = ENOMEM;
		return NULL;
	}
	xa_run_t *r = NULL;
	for (unsigned s = 0; s < PS_NSTATES && !r; s++)
		r = avail_find(a, s, n, align_pages);
	if (r == NULL) {
		if (chunk_new(a) == NULL)
			return NULL;
		r = avail_find(a, PS_RETAINED, n, align_pages);
		xa_assert(r != NULL);
	}
	avail_remove(a, r);
	r = run_carve(a, r, align_off(r, align_pages), n);
	if (r == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	*zeroed = r->zeroed;
	r->zeroed = 0;
	r->dirty_ns = 0;
	r->kind = RUN_LARGE;
	XA_RELAXED_STORE(a->stats.active_pages, a->stats.active_pages + n); /* read racily by peak.c */
	return r;
}

void xa_run_set_pages(xa_chunk_t *c, xa_run_t *r, uint8_t cls, bool all) {
	size_t p0 = run_page(r);
	if (all) {
		for (size_t i = 0; i < r->npages; i++) {
			prun_set(c, p0 + i, r);
			c->pclass[p0 + i] = PCLASS_ENTRY(cls, p0);
		}
	} else {
		prun_set(c, p0, r);
		prun_set(c, p0 + r->npages - 1, r);
		c->pclass[p0] = cls;
	}
}

void xa_pages_free(xa_arena_t *a, xa_run_t *r) {
	xa_chunk_t *c = xa_run_chunk(r);
	size_t p0 = run_page(r);
	if (r->kind == RUN_SLAB) {
		for (size_t i = 0; i < r->npages; i++) {
			prun_set(c, p0 + i, NULL);
			c->pclass[p0 + i] = PCLASS_NONE;
		}
	} else {
		c->pclass[p0] = PCLASS_NONE;
	}
	XA_RELAXED_STORE(a->stats.active_pages, a->stats.active_pages - r->npages);
	r->state = PS_DIRTY;
	r->zeroed = 0;
	r->sampled = 0;
	r->dirty_ns = xa_free_time();
	run_release(a, r);
}

bool xa_pages_grow(xa_arena_t *a, xa_run_t *r, size_t npages) {
	xa_chunk_t *c = xa_run_chunk(r);
	size_t p0 = run_page(r), pe = p0 + r->npages, need = npages - r->npages;
	if (pe >= CHUNK_NPAGES)
		return true;
	xa_run_t *n = xa_chunk_run(c, pe);
	if (!n || n->kind != RUN_FREE || n->npages < need)
		return true;
	avail_remove(a, n);
	n = run_carve(a, n, 0, need);
	if (n == NULL)
		return true;
	prun_set(c, pe - 1, r->npages > 1 ? NULL : r);
	prun_set(c, pe, NULL);
	r->npages = (uint16_t)npages;
	prun_set(c, p0 + npages - 1, r);
	prun_set(c, p0, r);
	XA_RELAXED_STORE(a->stats.active_pages, a->stats.active_pages + need); /* read racily by peak.c */
	run_put(a, n);
	return false;
}

void xa_pages_shrink(xa_arena_t *a, xa_run_t *r, size_t npages) {
	xa_chunk_t *c = xa_run_chunk(r);
	size_t p0 = run_page(r), cut = r->npages - npages;
	if (cut == 0)
		return;
	xa_run_t *t = run_get(a);
	if (t == NULL)
		return; /* keep the pages: correct, just not trimmed */
	prun_set(c, p0 + r->npages - 1, NULL);
	r->npages = (uint16_t)npages;
	prun_set(c, p0 + npages - 1, r);
	prun_set(c, p0, r);
	t->addr = r->addr + npages * PAGE;
	t->npages = (uint16_t)cut;
	t->state = PS_DIRTY;
	t->zeroed = 0;
	t->dirty_ns = xa_now_ns();
	XA_RELAXED_STORE(a->stats.active_pages, a->stats.active_pages - cut);
	run_release(a, t);
}

/*
 * Purging.  Modes: due (age >= decay), force (every dirty and lazy run),
 * or down to keep_pages dirty pages (oldest first, for the slack budget).
 */
#define PURGE_BATCH 32

static size_t pages_purge(xa_arena_t *a, bool force, size_t keep_pages) {
	size_t released = 0;
	for (;;) {
		xa_run_t *batch[PURGE_BATCH];
		unsigned nb = 0;
		xa_mutex_lock(&a->lock);
		uint64_t now = xa_now_ns();
		int64_t decay = atomic_load_explicit(&a->decay_ms, memory_order_relaxed);
		for (xa_run_t *r = XA_LIST_FIRST(&a->dirty, xa_run_t, dlink), *next; r && nb < PURGE_BATCH; r = next) {
			next = XA_LIST_NEXT(r, xa_run_t, dlink);
			if (!force && !xa_decay_due(decay, r->dirty_ns, now) &&
			    a->stats.npages[PS_DIRTY] <= keep_pages)
				continue;
			avail_remove(a, r);
			r->kind = RUN_PURGING;
			batch[nb++] = r;
		}
		if (force && xa_purge_policy == XA_PURGE_DONTNEED) {
			/* A forced release also takes back what MADV_FREE left. */
			while (nb < PURGE_BATCH && a->avail_mask[PS_LAZY]) {
				xa_run_t *r = XA_LIST_FIRST(&a->avail[PS_LAZY][__builtin_ctzl(a->avail_mask[PS_LAZY])], xa_run_t, link);
				avail_remove(a, r);
				r->kind = RUN_PURGING;
				batch[nb++] = r;
			}
		}
		unsigned policy = atomic_load_explicit(&xa_purge_policy, memory_order_relaxed);
		if (nb)
			a->stats.npurge_calls++;
		xa_mutex_unlock(&a->lock);
		if (nb == 0)
			break;
		/* A failed madvise leaves the run in its state (still resident):
		 * not released, not counted; it is tried again once decay_ms
		 * has passed again (at the next forced purge if sooner), and
		 * this call stops so that it does not spin on it. */
		bool failed[PURGE_BATCH], any_failed = false;
		for (unsigned i = 0; i < nb; i++) {
			xa_run_t *r = batch[i];
			void *p = (void *)r->addr;
			size_t sz = (size_t)r->npages * PAGE;
			int res;
			if (policy == XA_PURGE_FREE && r->state == PS_DIRTY)
				res = xa_os_purge_lazy(p, sz);
			else
				res = xa_os_purge_forced(p, sz) ? XA_PURGE_FAILED : XA_PURGED_FORCED;
			failed[i] = res == XA_PURGE_FAILED;
			any_failed |= failed[i];
			if (failed[i])
				continue;
			r->state = res == XA_PURGED_LAZY ? PS_LAZY : PS_RETAINED;
			r->zeroed = r->state == PS_RETAINED;
			released += r->npages;
		}
		uint64_t now_after = any_failed ? xa_now_ns() : 0;
		xa_mutex_lock(&a->lock);
		for (unsigned i = 0; i < nb; i++) {
			a->stats.nmadvise++;
			if (failed[i])
				batch[i]->dirty_ns = now_after;
			else
				a->stats.npurged_pages += batch[i]->npages;
			run_release(a, batch[i]);
		}
		xa_mutex_unlock(&a->lock);
		if (any_failed)
			break;
	}
	return released;
}

size_t xa_pages_purge(xa_arena_t *a, bool force) { return pages_purge(a, force, SIZE_MAX); }

/* decay_ms:0, after pages went dirty (see decay.h): purge in batches, and
 * leave the remainder to the background thread's next pass.  The dirty
 * count is read without the lock: a stale value only moves a purge to the
 * next free or pass. */
void xa_pages_purge_eager(xa_arena_t *a) {
	if (!xa_background_enabled() || !xa_background_running() ||
	    XA_RELAXED_LOAD(a->stats.npages[PS_DIRTY]) >= XA_DECAY0_BATCH_PAGES)
		xa_pages_purge(a, false);
	xa_background_kick_soon();
}

size_t xa_pages_purge_to(xa_arena_t *a, size_t target_bytes) {
	return pages_purge(a, false, target_bytes / PAGE);
}

uint64_t xa_pages_next_due(xa_arena_t *a, uint64_t now) {
	xa_mutex_lock(&a->lock);
	uint64_t r = UINT64_MAX, oldest = UINT64_MAX;
	for (xa_run_t *d = XA_LIST_FIRST(&a->dirty, xa_run_t, dlink); d; d = XA_LIST_NEXT(d, xa_run_t, dlink))
		if (d->dirty_ns < oldest)
			oldest = d->dirty_ns;
	if (oldest != UINT64_MAX)
		r = xa_decay_wait_ns(atomic_load_explicit(&a->decay_ms, memory_order_relaxed), oldest, now);
	xa_mutex_unlock(&a->lock);
	return r;
}

size_t xa_pages_unmap_free(xa_arena_t *a) {
	size_t bytes = 0;
	xa_mutex_lock(&a->lock);
	xa_chunk_t *c = a->chunks;
	while (c) {
		xa_chunk_t *next = c->next;
		xa_run_t *r = xa_chunk_run(c, 0);
		if (r && r->kind == RUN_FREE && r->npages == CHUNK_NPAGES) {
			chunk_unmap(a, c, r);
			bytes += CHUNK;
		}
		c = next;
	}
	xa_mutex_unlock(&a->lock);
	return bytes;
}

/*
 * Compaction.  After a burst is freed its survivors' descriptors are
 * scattered over every pool block the burst filled (b_spike: 10,300 live
 * descriptors, 0.8 MiB, pinned 49 blocks, 3.0 MiB).  When at least
 * COMPACT_MIN_SPARE blocks could be emptied, the background thread stops
 * the world (idle.c: every thread asleep, none inside a slow path) and,
 * one arena at a time, takes its bin and arena locks and lets the pool
 * move that arena's descriptors from its highest-numbered blocks into free
 * slots of its lowest (base.c), fixing each reference to a moved one:
 *  - its prun entries (every page of a slab; first and last of the others);
 *  - its place on a list: a free run's size bucket (link) and, if dirty,
 *    the decay list (dlink); a slab's bin list (link); bin->cur[].
 * Nothing else points at a descriptor between calls: thread caches and
 * remote batches hold objects, the page entries the fast paths read are
 * in the chunk descriptor, which never moves.  Not moved: runs being
 * purged (a pass holds them across its madvise), wholly free slabs (a
 * flush or purge may hold them on a list of its own between two locks),
 * sampled slabs and runs (the profiler's lists), and the arenas' stashed
 * free descriptors, which go back to the pool first.  A stop fails while
 * any thread is busy; it is retried after COMPACT_RETRY_MIN_NS, doubling
 * to COMPACT_RETRY_MAX_NS.  What a pass could not empty (blocks held by
 * descriptors it may not move) raises the threshold of the next automatic
 * pass, so an idle process is not stopped again for nothing.  A stop
 * moves at most COMPACT_MAX_MOVES descriptors (about 0.1 us each: 3.5
 * ms), so a thread that wakes meanwhile waits no longer than that in its
 * next slow path.
 */
#define COMPACT_MIN_SPARE 8 /* blocks of 64 KiB: 512 KiB of metadata */
/* at most this many moves per stop (a few ms), the rest at the next pass */
#define COMPACT_MAX_MOVES 32768
#define COMPACT_RETRY_MIN_NS ((uint64_t)100 * 1000000)
#define COMPACT_RETRY_MAX_NS ((uint64_t)10 * 1000000000)

static _Atomic uint64_t compact_passes, compact_moved, compact_failed;
static _Atomic bool compact_requested;
static uint64_t compact_retry_ns, compact_next_ns; /* background thread's */
/* spare blocks the last pass left (descriptors it may not move): the next
 * automatic pass waits until COMPACT_MIN_SPARE more could be emptied */
static size_t compact_floor;

void xa_pages_compact_stats(uint64_t *passes, uint64_t *moved, uint64_t *failed) {
	*passes = atomic_load(&compact_passes);
	*moved = atomic_load(&compact_moved);
	*failed = atomic_load(&compact_failed);
}

void xa_pages_compact_request(void) { atomic_store(&compact_requested, true); }

/* The arena whose descriptors a compaction pass moves (its locks held). */
static xa_arena_t *compact_arena;

/* A live slot of the pool is a run of compact_arena iff the page entry of
 * its first page names it (that arena's lock held): a descriptor in
 * another arena's stash, or being set up under another arena's lock, may
 * hold any address, but no page entry names it. */
static bool run_movable(const void *obj) {
	const xa_run_t *r = obj;
	const xa_chunk_t *c = xa_pagemap_lookup(r->addr);
	if (c == NULL || c->kind != CHUNK_ARENA || c->arena != compact_arena || xa_chunk_run(c, run_page(r)) != r)
		return false;
	switch (r->kind) {
	case RUN_FREE:
		return true;
	case RUN_LARGE:
		return !r->sampled;
	case RUN_SLAB:
		return !r->sampled && r->nfree < r->nregs;
	default:
		return false;
	}
}

static void prun_rename(xa_chunk_t *c, size_t page, uint32_t from, uint32_t to) {
	if (c->prun[page] == from)
		__atomic_store_n(&c->prun[page], to, __ATOMIC_RELEASE);
}

static void run_moved(void *from, void *to) {
	xa_run_t *o = from, *r = to;
	xa_chunk_t *c = xa_run_chunk(r);
	xa_arena_t *a = c->arena;
	uint32_t oname = xa_pool_ref(o), nname = xa_pool_ref(r);
	size_t p0 = run_page(r), pl = p0 + r->npages - 1;
	if (r->kind == RUN_SLAB) {
		for (size_t p = p0; p <= pl; p++)
			prun_rename(c, p, oname, nname);
		xa_bin_t *b = &a->bins[r->cls];
		xa_list_moved(&b->nonfull, &o->link, &r->link);
		for (unsigned k = 0; k < BIN_NCUR; k++)
			if (b->cur[k] == o)
				b->cur[k] = r;
		return;
	}
	prun_rename(c, p0, oname, nname);
	prun_rename(c, pl, oname, nname);
	if (r->kind == RUN_FREE) {
		xa_list_moved(&a->avail[r->state][bucket_of(r->npages)], &o->link, &r->link);
		if (r->state == PS_DIRTY)
			xa_list_moved(&a->dirty, &o->dlink, &r->dlink);
	}
}

/* The world is stopped.  Every arena's stash back to the pool first (its
 * slots then count as free, not as live slots to skip).  Then one arena
 * at a time (the pool is shared, but a descriptor's references are all
 * its arena's): its bin locks and its lock, which also keep out the
 * callers that take them without entering a slow path (ctl purges,
 * statistics), and move. */
static size_t pages_compact(void) {
	unsigned n = atomic_load(&xa_narenas_created);
	size_t moved = 0;
	for (unsigned i = 0; i < n; i++) {
		xa_arena_t *a = xa_arenas[i];
		xa_mutex_lock(&a->lock);
		while (a->nrun_stash)
			xa_pool_put(&run_pool, a->run_stash[--a->nrun_stash]);
		xa_mutex_unlock(&a->lock);
	}
	for (unsigned i = 0; i < n && moved < COMPACT_MAX_MOVES; i++) {
		xa_arena_t *a = xa_arenas[i];
		for (unsigned j = 0; j < SC_NSMALL; j++)
			xa_mutex_lock(&a->bins[j].lock);
		xa_mutex_lock(&a->lock);
		compact_arena = a;
		moved += xa_pool_compact(&run_pool, run_movable, run_moved, COMPACT_MAX_MOVES - moved);
		compact_arena = NULL;
		xa_mutex_unlock(&a->lock);
		for (unsigned j = SC_NSMALL; j-- > 0;)
			xa_mutex_unlock(&a->bins[j].lock);
	}
	return moved;
}

size_t xa_pages_compact_now(void) {
	if (!xa_idle_stop_world()) {
		atomic_fetch_add(&compact_failed, 1);
		return SIZE_MAX;
	}
	size_t moved = pages_compact();
	xa_idle_start_world();
	atomic_fetch_add(&compact_passes, 1);
	atomic_fetch_add(&compact_moved, moved);
	return moved;
}

uint64_t xa_pages_compact_maybe(uint64_t now) {
	bool req = atomic_load(&compact_requested);
	if (!xa_opt.compact && !req)
		return UINT64_MAX;
	if (!req && now < compact_next_ns)
		return compact_next_ns - now;
	size_t spare = xa_pool_spare_blocks(&run_pool);
	if (spare < compact_floor)
		compact_floor = spare;
	if (!req && spare < compact_floor + COMPACT_MIN_SPARE) {
		compact_retry_ns = 0;
		return UINT64_MAX;
	}
	size_t moved = xa_pages_compact_now();
	if (moved == SIZE_MAX) {
		compact_retry_ns = compact_retry_ns ? XA_MIN(compact_retry_ns * 2, COMPACT_RETRY_MAX_NS)
		                                    : COMPACT_RETRY_MIN_NS;
		compact_next_ns = now + compact_retry_ns;
		return req ? COMPACT_RETRY_MIN_NS / 10 : compact_retry_ns;
	}
	atomic_store(&compact_requested, false);
	compact_retry_ns = 0;
	compact_next_ns = 0;
	/* more to move: the next pass soon */
	if (moved == COMPACT_MAX_MOVES)
		return COMPACT_RETRY_MIN_NS;
	compact_floor = xa_pool_spare_blocks(&run_pool);
	return UINT64_MAX;
}
