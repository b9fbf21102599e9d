/*
 * huge.c -- allocations above the largest large class: their own mappings.
 *
 * Owns: mapping, unmapping and resizing huge allocations and their
 * descriptors (kind CHUNK_HUGE, registered in the pagemap for every chunk
 * granule they cover), the cache of freed huge mappings, and the huge
 * statistics.  realloc uses mremap, so growing a huge buffer never copies.
 *
 * Mappings are whole chunks: a block of usize bytes (a page multiple) owns
 * CHUNK_CEIL(usize) bytes of address space (d->mapped); the pages past usize
 * are never touched by the allocator, and realloc grows into them without a
 * system call.  Whole-chunk sizes also keep the kernel's top-down placement
 * chunk-aligned, so a new mapping usually takes a single mmap.
 *
 * The cache.  A freed mapping is kept for reuse in one of the page states
 * of types.h (d->hstate):
 *   dirty     resident, holding what the program left; released by decay
 *   lazy      released with MADV_FREE (purge:free): may keep old contents
 *   retained  released with MADV_DONTNEED: unbacked, reads as zero
 * A request takes the smallest dirty mapping that is large enough, else
 * the smallest lazy one, else the smallest retained one (ties: the lowest
 * address): warm pages first, since a page fault costs about ten times a
 * memset of the page.  If that is larger, the block takes its front chunks
 * and the rest stays cached as its own entry, in the same state: a dirty
 * rest always (issue 10: before, only past a quarter of the request, so
 * up to a quarter of resident chunks sat unusable in the live block while
 * the next request faulted in others; malloc-large 30 800 -> 28 800
 * faults), a clean one only past a quarter (splitting those too saved
 * another 1 000 faults -- the clean extra comes back dirty with the block
 * and is faulted in by whoever takes it as warm -- but made stress-ng's
 * pattern 7-16% slower and 5% larger; bench/README.md).  The rest of a
 * join (below) is cached in the least clean state of the pieces it
 * overlaps, not the join's.
 * A freed or purged entry merges at once with the cached
 * neighbours in its state; entries in different states are joined only
 * when no single one fits (pieces of earlier splits that follow each
 * other), so a block nearly always lies inside one kernel mapping, as
 * mremap requires.
 *
 * The cache's structure (decision, issue 13).  Programs with thousands of
 * live big blocks (stress-ng's malloc stressor: ~30 000 live blocks of up
 * to 128 MiB) free ranges that sit between live ones and cannot merge, so
 * the cache holds about as many entries as there are live blocks.  A linear
 * list made every lookup O(entries): it had to be capped (64 entries), and
 * past the cap freed ranges were unmapped and new blocks mapped again (0.26
 * mmap+munmap per stress-ng op against jemalloc's 0.0007).  Each entry is
 * now in three ordered sets (tree.h: intrusive treaps whose nodes live in
 * the descriptors, base memory, so no operation allocates):
 *   by address                 neighbours to merge: O(log n)
 *   by (state, size, address)  best fit per state: O(log n)
 *   by (clean, freed_ns, addr) the oldest dirty (decay, the dirty bounds)
 *                              and the oldest clean one (the keep bounds)
 * plus the list (iteration only: statistics, unmapping everything).  The
 * entry cap is gone: clean entries are bounded by the live huge blocks plus
 * HUGE_KEEP_NMAX, so metadata stays proportional to what is live.
 * (Considered: size-class buckets like the arenas' free runs -- no address
 * order for merging; a pairing heap -- no ordered neighbour queries.)  calloc needs no zeroing from a retained or a
 * fresh mapping; from a dirty or lazy one xa_zero_fill chooses between
 * memset and MADV_DONTNEED (zero.c).
 *
 * Release.  Dirty entries are purged once decay_ms old (at once with
 * decay_ms:0, and at once when larger than HUGE_DIRTY_MAX / 4):
 * purge:dontneed makes them retained (unmapped instead with retain:false),
 * purge:free lazy.  A forced purge (malloc_trim, the slack budget) takes
 * every dirty entry, and with purge:dontneed every lazy one too.
 * Bounds: dirty bytes at most the live huge bytes, but at least
 * HUGE_DIRTY_MIN and at most HUGE_DIRTY_MAX, in at most HUGE_DIRTY_NMAX
 * entries: freed memory kept warm never exceeds what is live, so the peak
 * stays lean (b_mlarge: 320 -> 138 MiB, bench/README.md), while a fault
 * costs ten memsets, so warm reuse matters.  Past the byte bound only the
 * excess is purged, from the end of the oldest dirty entry (issue 10: a
 * free between two replacements briefly lowers the live bytes; purging the
 * whole oldest entry there released up to 70 MiB that the next malloc
 * faulted in again); past the entry bound the oldest entry is purged whole.
 * HUGE_DIRTY_MIN is 96 MiB (was 64): once dirty pages can be moved into any
 * block (below), the floor is the warm pool a program with few live huge
 * bytes churns through; malloc-large, whose live huge bytes swing between
 * ~20 and ~100 MiB, released and faulted in again 50 MiB at 64 MiB (41 000
 * faults, peak RSS 112 MiB) and fewer pages than tcmalloc's at 96 MiB
 * (30 800, tcmalloc 36 200; peak 124 MiB, as before this change).
 *
 * Moving dirty pages (decision, issue 10).  A request that no dirty entry
 * fits used to take retained (or fresh) pages, which all fault in, while
 * the dirty ones waited for the bound or decay to release them: blocks of
 * 5..25 MiB replacing one another (malloc-large) faulted in ~4x their peak
 * RSS.  Now the retained part of such a block (all of it, what follows
 * the dirty part of a warm extension, or the retained pieces of a join:
 * up to HUGE_COLD_NMAX ranges) is filled with the pages of cached
 * dirty entries, moved with mremap(MREMAP_FIXED) into it (gather_dirty):
 * page tables move, no page is faulted, zeroed or copied (20 MiB: ~0.5 ms
 * against ~100 ms to fault it in here), and each source range is mapped
 * again empty and cached as retained, so the address space stays ours
 * (if another mapping took the hole meanwhile, the range is dropped).  The
 * smallest dirty entry that covers what is left goes first, else the
 * largest; at most HUGE_GATHER_NMAX entries per block.  Not for calloc:
 * retained pages are known zero, moved ones would need a memset.  RSS is
 * unchanged by a move (the pages were resident and stay so), and the
 * bounds and decay above still decide how many dirty pages are kept, so
 * the release targets hold; a block made of moved pieces may span several
 * kernel mappings, where mremap refuses it and realloc copies (as for a
 * joined block below).  Considered: raising the dirty bound (the previous
 * session: 256 MiB made b_mlarge 2x faster at 1.7x the peak RSS) -- a
 * freed block smaller than the next request stays useless however long
 * it is kept; MREMAP_DONTUNMAP (one call instead of two, but it left the
 * source in a mapping that no longer merges with its neighbours).
 * Lazy and retained bytes (address space, no RSS) at most HUGE_KEEP_RATIO
 * times the live huge mapped bytes but at least HUGE_KEEP_MIN, in at most
 * HUGE_KEEP_NMAX entries more than there are live huge blocks (past them
 * the oldest is unmapped); retained bytes are reported in stats.retained
 * and stats.mapped.  Running out of memory unmaps every entry
 * (xa_huge_unmap_cached).  The ratio: with random sizes, the free ranges
 * between live blocks add up to about the live bytes, and reservations
 * ahead add more; a bound of 1x unmapped and remapped ranges all the time
 * in stress-ng (tens of munmaps per second), 4x leaves them alone.  A program that allocates and frees big
 * blocks in a loop therefore makes one madvise per cycle at most, and no
 * mmap or munmap.  When nothing cached fits, a new mapping reserves ahead:
 * half the live huge mapped bytes (at most HUGE_RESERVE_MAX), the part past
 * the block cached as retained, so a growing heap of big blocks maps
 * rarely (address space only; the exact size is mapped when that fails;
 * HUGE_RESERVE_MAX 16 GiB: stress-ng's 2 TiB of live address space took
 * 2 700 mmaps per 100 000 ops with a 1 GiB cap, 760 with 16 GiB).
 *
 * Statistics: cached entries count in stats.dirty / lazy / retained by
 * state, and in stats.mapped.  An entry taken off the list for its madvise
 * still counts as dirty (huge_inflight), so the totals stay exact.  The
 * pagemap entries of a cached mapping stay, pointing at its descriptor of
 * kind CHUNK_HUGE_CACHED, so a free of a freed block is a double free.
 *
 * Locking: huge_lock protects both lists, the three trees and the counters.
 * mmap, munmap, mremap, madvise and mincore-free work happen outside it; a
 * split re-points pagemap entries under it (pagemap and base come after
 * huge in the lock order, and the flat map is reserved: nothing allocates).
 */
#include "internal.h"

static xa_mutex_t huge_lock = XA_MUTEX_INITIALIZER;
static xa_list_t huge_list;
static xa_pool_t huge_pool = {.size = sizeof(xa_chunk_t)};
static size_t huge_allocated, huge_mapped, huge_cur;
static uint64_t huge_nmalloc, huge_ndalloc;
static xa_list_t huge_cache; /* every cached entry, most recent first */
static xa_tree_t cache_addr; /* by address */
static xa_tree_t cache_fit;  /* by (state, size, address) */
static xa_tree_t cache_age;  /* by (clean, freed_ns, address) */
static size_t cache_bytes[PS_NSTATES], cache_n[PS_NSTATES];
static uint64_t huge_ngathered; /* bytes moved by gather_dirty */
static size_t huge_inflight; /* off the cache for a madvise or a move; counted dirty */
#define FIT_SHIFT 58
#define FIT_KEY(state, size) (((uint64_t)(state) << FIT_SHIFT) | (uint64_t)(size))
#define AGE_CLEAN ((uint64_t)1 << 63)
#define NODE_OWNER(n, field) ((xa_chunk_t *)(void *)((char *)(n) - offsetof(xa_chunk_t, field)))
#define HUGE_DIRTY_MIN ((size_t)96 << 20)
#define HUGE_DIRTY_MAX ((size_t)256 << 20)
#define HUGE_DIRTY_NMAX 16
#define HUGE_KEEP_MIN ((size_t)1 << 30)
#define HUGE_KEEP_RATIO 4 /* clean bytes per live mapped byte */
#define HUGE_RESERVE_MAX ((size_t)16 << 30)
#define HUGE_KEEP_NMAX 64 /* clean entries beyond one per live block */
#define HUGE_JOIN_NMAX 64 /* joining walks every entry */
#define HUGE_ALIGN_SCAN 64 /* entries tried per state for align > CHUNK */
#define HUGE_GATHER_NMAX 8 /* dirty entries moved into one block */
#define HUGE_COLD_NMAX 4   /* retained ranges of one block filled by moves */

/* The retained (unbacked) ranges of a block taken from the cache, as
 * offsets into it: where gather_dirty may move dirty pages. */
typedef struct {
	size_t off[HUGE_COLD_NMAX], len[HUGE_COLD_NMAX];
	unsigned n;
} cold_t;

static void cold_add(cold_t *c, size_t off, size_t len) {
	if (c->n > 0 && c->off[c->n - 1] + c->len[c->n - 1] == off)
		c->len[c->n - 1] += len;
	else if (c->n < HUGE_COLD_NMAX) {
		c->off[c->n] = off;
		c->len[c->n++] = len;
	} /* past the last range: those pages fault in, as before issue 10 */
}

size_t xa_huge_cached_bytes(void) {
	xa_mutex_lock(&huge_lock);
	size_t r = cache_bytes[PS_DIRTY];
	xa_mutex_unlock(&huge_lock);
	return r;
}

void xa_huge_cache_bytes(size_t bytes[PS_NSTATES]) {
	xa_mutex_lock(&huge_lock);
	for (unsigned s = 0; s < PS_NSTATES; s++)
		bytes[s] = cache_bytes[s];
	bytes[PS_DIRTY] += huge_inflight;
	xa_mutex_unlock(&huge_lock);
}

/* The cached entry starting at addr, or (end) ending there; huge_lock held. */
static xa_chunk_t *cache_at(uintptr_t addr, bool end) {
	if (!end) {
		xa_tnode_t *n = xa_tree_ceil(&cache_addr, addr, 0);
		return n && n->hi == addr ? NODE_OWNER(n, haddr) : NULL;
	}
	xa_tnode_t *n = xa_tree_floor(&cache_addr, addr - 1, UINT64_MAX);
	xa_chunk_t *d = n ? NODE_OWNER(n, haddr) : NULL;
	return d && d->addr + d->mapped == addr ? d : NULL;
}

/* The next cached entry in address order after d; huge_lock held. */
static xa_chunk_t *cache_addr_next(xa_chunk_t *d) {
	xa_tnode_t *n = d ? xa_tree_next(&cache_addr, &d->haddr) : xa_tree_ceil(&cache_addr, 0, 0);
	return n ? NODE_OWNER(n, haddr) : NULL;
}

static void cache_remove(xa_chunk_t *d);

/* Merge n (off the list, following d in the address space) into d.  The
 * older release time is kept, so decay still bounds every page. */
static void merge_into(xa_chunk_t *d, xa_chunk_t *n) {
	d->mapped += n->mapped;
	if (n->freed_ns < d->freed_ns)
		d->freed_ns = n->freed_ns;
	xa_pagemap_set(n->addr, n->mapped, d); /* existing granules: cannot fail */
	xa_pool_put(&huge_pool, n);
}

/* Cache d (off the list) in state, merged with its neighbours in the same
 * state, so released address space stays in few large entries (a free of
 * a block merged this way is still reported, see alloc.c bad_pointer);
 * huge_lock held. */
static void cache_push(xa_chunk_t *d, unsigned state) {
	xa_chunk_t *n = cache_at(d->addr + d->mapped, false);
	if (n && n->hstate == state) {
		cache_remove(n);
		merge_into(d, n);
	}
	xa_chunk_t *l = cache_at(d->addr, true);
	if (l && l->hstate == state) {
		cache_remove(l);
		merge_into(l, d);
		d = l;
	}
	d->kind = CHUNK_HUGE_CACHED;
	d->hstate = (uint8_t)state;
	xa_list_push(&huge_cache, &d->hlink);
	d->haddr.hi = d->addr;
	d->haddr.lo = 0;
	xa_tree_insert(&cache_addr, &d->haddr);
	d->hfit.hi = FIT_KEY(state, d->mapped);
	d->hfit.lo = d->addr;
	xa_tree_insert(&cache_fit, &d->hfit);
	d->hage.hi = (state == PS_DIRTY ? 0 : AGE_CLEAN) | d->freed_ns;
	d->hage.lo = d->addr;
	xa_tree_insert(&cache_age, &d->hage);
	cache_bytes[state] += d->mapped;
	cache_n[state]++;
}

/* huge_lock held */
static void cache_remove(xa_chunk_t *d) {
	xa_list_remove(&huge_cache, &d->hlink);
	xa_tree_remove(&cache_addr, &d->haddr);
	xa_tree_remove(&cache_fit, &d->hfit);
	xa_tree_remove(&cache_age, &d->hage);
	cache_bytes[d->hstate] -= d->mapped;
	cache_n[d->hstate]--;
}

/* The longest cached entry, dirty or (clean) lazy or retained; huge_lock
 * held. */
static xa_chunk_t *cache_oldest(bool clean) {
	xa_tnode_t *n = xa_tree_ceil(&cache_age, clean ? AGE_CLEAN : 0, 0);
	if (n == NULL || (n->hi >= AGE_CLEAN) != clean)
		return NULL;
	return NODE_OWNER(n, hage);
}

static void huge_unmap(xa_chunk_t *d) {
	xa_pagemap_clear(d->addr, d->mapped);
	xa_os_unmap((void *)d->addr, d->mapped);
	xa_pool_put(&huge_pool, d);
}

/* Release an entry taken off the cache (counted in huge_inflight): purge
 * its pages and put it back as lazy or retained, or unmap it. */
static void entry_release(xa_chunk_t *d) {
	unsigned policy = atomic_load_explicit(&xa_purge_policy, memory_order_relaxed);
	void *p = (void *)d->addr;
	int state = -1; /* -1: unmap */
	if (d->hstate == PS_DIRTY && policy == XA_PURGE_FREE) {
		/* a failed madvise leaves the pages resident: unmap them then */
		int res = xa_os_purge_lazy(p, d->mapped);
		if (res != XA_PURGE_FAILED)
			state = res == XA_PURGED_LAZY ? PS_LAZY : PS_RETAINED;
	} else if (xa_opt.retain && !xa_os_purge_forced(p, d->mapped))
		state = PS_RETAINED; /* only when the kernel did zero it */
	xa_mutex_lock(&huge_lock);
	huge_inflight -= d->mapped;
	if (state >= 0)
		cache_push(d, (unsigned)state);
	xa_mutex_unlock(&huge_lock);
	if (state < 0)
		huge_unmap(d);
}

/* Enforce the bounds: purge the oldest dirty entries past the dirty bound,
 * unmap the oldest clean ones past the keep bound. */
static void cache_trim(void) {
	for (;;) {
		xa_mutex_lock(&huge_lock);
		xa_chunk_t *v = NULL;
		bool purge = false;
		size_t dirty_max = XA_MIN(HUGE_DIRTY_MAX, XA_MAX(HUGE_DIRTY_MIN, huge_allocated)), excess = 0;
		if (cache_bytes[PS_DIRTY] > dirty_max || cache_n[PS_DIRTY] > HUGE_DIRTY_NMAX) {
			v = cache_oldest(false);
			purge = true;
			if (cache_n[PS_DIRTY] <= HUGE_DIRTY_NMAX)
				excess = CHUNK_CEIL(cache_bytes[PS_DIRTY] - dirty_max);
		} else if (cache_bytes[PS_LAZY] + cache_bytes[PS_RETAINED] > XA_MAX(HUGE_KEEP_MIN, HUGE_KEEP_RATIO * huge_mapped) ||
		           cache_n[PS_LAZY] + cache_n[PS_RETAINED] > HUGE_KEEP_NMAX + huge_cur) {
			v = cache_oldest(true);
		}
		if (v) {
			cache_remove(v);
			/* Past the byte bound only: purge just the excess, the
			 * entry's end (next to a retained rest it merges with). */
			xa_chunk_t *t = purge && excess && excess < v->mapped ? xa_pool_get(&huge_pool) : NULL;
			if (t) {
				memset(t->pclass, PCLASS_NONE, sizeof(t->pclass));
				t->kind = CHUNK_HUGE_CACHED;
				t->hstate = PS_DIRTY;
				t->addr = v->addr + v->mapped - excess;
				t->mapped = excess;
				t->freed_ns = v->freed_ns;
				xa_pagemap_set(t->addr, t->mapped, t); /* existing granules: cannot fail */
				v->mapped -= excess;
				cache_push(v, PS_DIRTY);
				v = t;
			}
			if (purge)
				huge_inflight += v->mapped;
		}
		xa_mutex_unlock(&huge_lock);
		if (v == NULL)
			return;
		if (purge)
			entry_release(v);
		else
			huge_unmap(v);
	}
}


/* No single entry fits: join entries that follow each other in the address
 * space (pieces of earlier splits) into one of at least need bytes.  The
 * result is known zero only if every piece was (its state is the least
 * clean of theirs).  Returns it, off the cache, or NULL; *cold gets the
 * retained pieces within need (issue 10: before, a join of a retained and
 * a dirty piece counted as dirty, and its retained pages all faulted in
 * while dirty ones waited elsewhere), *rest_state the least clean state
 * of the pieces past need.  huge_lock held.
 * A joined block may span two kernel mappings; then mremap refuses it and
 * realloc copies instead (alloc.c), which is correct, only slower. */
static xa_chunk_t *cache_join(size_t need, size_t align, cold_t *cold, unsigned *rest_state) {
	for (xa_chunk_t *d = cache_addr_next(NULL); d; d = cache_addr_next(d)) {
		if ((d->addr & (align - 1)) != 0 || cache_at(d->addr, true) != NULL)
			continue; /* not aligned, or not the first of its group */
		size_t total = d->mapped;
		xa_chunk_t *e = d;
		while (total < need && (e = cache_at(d->addr + total, false)) != NULL)
			total += e->mapped;
		if (total < need)
			continue;
		/* absorb the pieces after d, up to total */
		uintptr_t end = d->addr + total;
		unsigned state = d->hstate, rest = PS_NSTATES;
		cache_remove(d);
		if (d->hstate == PS_RETAINED)
			cold_add(cold, 0, XA_MIN(d->mapped, need));
		if (d->mapped > need)
			rest = d->hstate;
		while (d->addr + d->mapped < end) {
			e = cache_at(d->addr + d->mapped, false);
			cache_remove(e);
			if (e->hstate < state)
				state = e->hstate;
			if (e->hstate == PS_RETAINED && d->mapped < need)
				cold_add(cold, d->mapped, XA_MIN(e->mapped, need - d->mapped));
			if (d->mapped + e->mapped > need && e->hstate < rest)
				rest = e->hstate;
			d->mapped += e->mapped;
			if (e->freed_ns > d->freed_ns)
				d->freed_ns = e->freed_ns;
			/* re-pointing existing granules cannot fail */
			xa_pagemap_set(e->addr, e->mapped, d);
			xa_pool_put(&huge_pool, e);
		}
		d->hstate = (uint8_t)state;
		*rest_state = rest;
		return d;
	}
	return NULL;
}

/* No dirty entry fits need: the largest dirty one (aligned) followed by a
 * clean entry with which it reaches need, joined, off the cache; *clean:
 * the clean neighbour's state (the state of what lies past the dirty
 * part).  The block is then warm for the dirty part and faults in only the
 * rest, where taking a clean entry would fault in all of it (b_mlarge:
 * blocks of 5-25 MiB replacing each other).  huge_lock held. */
static xa_chunk_t *cache_extend_dirty(size_t need, size_t align, unsigned *clean, size_t *dirty_len) {
	xa_chunk_t *best = NULL, *bn = NULL;
	for (xa_tnode_t *t = xa_tree_ceil(&cache_fit, FIT_KEY(PS_DIRTY, 0), 0); t && t->hi >> FIT_SHIFT == PS_DIRTY;
	     t = xa_tree_next(&cache_fit, t)) { /* at most HUGE_DIRTY_NMAX + 1 */
		xa_chunk_t *d = NODE_OWNER(t, hfit);
		xa_chunk_t *n = cache_at(d->addr + d->mapped, false);
		if (d->mapped < need && (d->addr & (align - 1)) == 0 && n && n->hstate != PS_DIRTY &&
		    d->mapped + n->mapped >= need)
			best = d, bn = n; /* ascending sizes: the last is the largest */
	}
	if (best == NULL)
		return NULL;
	cache_remove(best);
	cache_remove(bn);
	*clean = bn->hstate;
	*dirty_len = best->mapped;
	best->mapped += bn->mapped;
	xa_pagemap_set(bn->addr, bn->mapped, best); /* existing granules: cannot fail */
	xa_pool_put(&huge_pool, bn);
	return best;
}

/* Take a cached mapping of at least need bytes (a chunk multiple) aligned
 * to align, splitting off a dirty rest, or a clean one of more than a
 * quarter of need.
 * *state: the state it was cached in (the least clean one of a join);
 * *cold: its retained ranges (unbacked, so dirty pages may be moved
 * there). */
static xa_chunk_t *cache_take(size_t need, size_t align, unsigned *state, cold_t *cold) {
	xa_mutex_lock(&huge_lock);
	xa_chunk_t *best = NULL;
	unsigned rest_state = PS_NSTATES; /* the rest's state, if not best's */
	for (unsigned s = 0; s < PS_NSTATES && best == NULL; s++) {
		/* the smallest entry of state s that is large enough (and
		 * aligned: every entry is chunk-aligned, so the first one fits
		 * unless align > CHUNK) */
		xa_tnode_t *n = xa_tree_ceil(&cache_fit, FIT_KEY(s, need), 0);
		for (unsigned k = 0; n && n->hi >> FIT_SHIFT == s && k < HUGE_ALIGN_SCAN; k++) {
			xa_chunk_t *d = NODE_OWNER(n, hfit);
			if ((d->addr & (align - 1)) == 0) {
				best = d;
				break;
			}
			n = xa_tree_next(&cache_fit, n);
		}
	}
	size_t ncached = cache_n[PS_DIRTY] + cache_n[PS_LAZY] + cache_n[PS_RETAINED];
	xa_chunk_t *warm = NULL;
	size_t dirty_len = 0;
	if ((best == NULL || best->hstate != PS_DIRTY) && cache_n[PS_DIRTY] > 0)
		warm = cache_extend_dirty(need, align, &rest_state, &dirty_len);
	if (warm)
		best = warm;
	else if (best)
		cache_remove(best);
	else if (ncached <= HUGE_JOIN_NMAX)
		best = cache_join(need, align, cold, &rest_state);
	if (best) {
		*state = best->hstate;
		if (warm && rest_state == PS_RETAINED)
			cold_add(cold, dirty_len, need - dirty_len);
		else if (!warm && best->hstate == PS_RETAINED)
			cold_add(cold, 0, need);
		if (rest_state == PS_NSTATES)
			rest_state = best->hstate;
		/* A dirty rest is always split off (issue 10): it holds
		 * resident pages the block could not use while it lives, so
		 * the next request faulted in others.  A clean one only when
		 * more than a quarter of need: splitting those too saved
		 * malloc-large another 1 000 faults but made stress-ng's
		 * pattern (b_hugechurn) 7-16% slower and 5% larger. */
		size_t slack = rest_state == PS_DIRTY ? 0 : need / 4;
		xa_chunk_t *rest = best->mapped - need > slack ? xa_pool_get(&huge_pool) : NULL;
		if (rest) {
			memset(rest->pclass, PCLASS_NONE, sizeof(rest->pclass));
			rest->kind = CHUNK_HUGE_CACHED;
			rest->addr = best->addr + need;
			rest->mapped = best->mapped - need;
			rest->freed_ns = best->freed_ns;
			if (xa_pagemap_set(rest->addr, rest->mapped, rest)) {
				xa_pool_put(&huge_pool, rest); /* keep it whole */
			} else {
				best->mapped = need;
				cache_push(rest, rest_state);
			}
		}
	}
	xa_mutex_unlock(&huge_lock);
	return best;
}

/* Move the pages of cached dirty entries into [dst, dst + len), a block
 * being handed out whose pages there are unbacked (retained or fresh),
 * filling it from the front; returns the bytes moved (a chunk multiple).
 * Each entry taken is the smallest dirty one that covers what is left, else
 * the largest; it is off the cache (counted in huge_inflight) while its
 * pages move, the part moved comes back as retained (mapped again, empty),
 * the rest as dirty with its release time.  At most HUGE_GATHER_NMAX
 * entries per block.  Called without huge_lock. */
static size_t gather_dirty(uintptr_t dst, size_t len) {
	size_t done = 0;
	for (unsigned k = 0; k < HUGE_GATHER_NMAX && done < len; k++) {
		size_t want = len - done;
		xa_mutex_lock(&huge_lock);
		xa_tnode_t *t = xa_tree_ceil(&cache_fit, FIT_KEY(PS_DIRTY, want), 0);
		if (t == NULL || t->hi >> FIT_SHIFT != PS_DIRTY)
			t = xa_tree_floor(&cache_fit, FIT_KEY(PS_DIRTY + 1, 0) - 1, UINT64_MAX);
		xa_chunk_t *e = t && t->hi >> FIT_SHIFT == PS_DIRTY ? NODE_OWNER(t, hfit) : NULL;
		xa_chunk_t *rest = NULL;
		if (e && e->mapped > want && (rest = xa_pool_get(&huge_pool)) == NULL)
			e = NULL; /* no descriptor for the part left behind */
		if (e) {
			cache_remove(e);
			huge_inflight += e->mapped;
		}
		xa_mutex_unlock(&huge_lock);
		if (e == NULL)
			break;
		size_t n = XA_MIN(e->mapped, want);
		int r = xa_os_move_pages((void *)e->addr, (void *)(dst + done), n);
		uint64_t now = r == XA_MOVE_FAILED ? 0 : xa_now_ns();
		xa_mutex_lock(&huge_lock);
		huge_inflight -= e->mapped;
		if (r == XA_MOVE_FAILED) { /* e.g. e spans two kernel mappings */
			if (rest)
				xa_pool_put(&huge_pool, rest);
			cache_push(e, PS_DIRTY);
			xa_mutex_unlock(&huge_lock);
			break;
		}
		if (rest) {
			memset(rest->pclass, PCLASS_NONE, sizeof(rest->pclass));
			rest->kind = CHUNK_HUGE_CACHED;
			rest->addr = e->addr + n;
			rest->mapped = e->mapped - n;
			rest->freed_ns = e->freed_ns;
			xa_pagemap_set(rest->addr, rest->mapped, rest); /* existing granules: cannot fail */
			e->mapped = n;
			cache_push(rest, PS_DIRTY);
		}
		if (r == XA_MOVED) {
			e->freed_ns = now;
			cache_push(e, PS_RETAINED);
		} else { /* the hole is someone else's now */
			xa_pagemap_clear(e->addr, n);
			xa_pool_put(&huge_pool, e);
		}
		huge_ngathered += n;
		xa_mutex_unlock(&huge_lock);
		done += n;
	}
	return done;
}

size_t xa_huge_purge(bool force) {
	size_t bytes = 0;
	for (;;) {
		xa_mutex_lock(&huge_lock);
		int64_t decay = atomic_load(&xa_decay_default_ms);
		unsigned policy = atomic_load_explicit(&xa_purge_policy, memory_order_relaxed);
		uint64_t now = xa_now_ns();
		xa_chunk_t *v = cache_oldest(false);
		if (v && !force && !xa_decay_due(decay, v->freed_ns, now))
			v = NULL;
		if (v == NULL && force && policy == XA_PURGE_DONTNEED) {
			/* A forced release also takes back what MADV_FREE left. */
			xa_tnode_t *n = xa_tree_ceil(&cache_fit, FIT_KEY(PS_LAZY, 0), 0);
			if (n && n->hi >> FIT_SHIFT == PS_LAZY)
				v = NODE_OWNER(n, hfit);
		}
		if (v) {
			cache_remove(v);
			huge_inflight += v->mapped;
		}
		xa_mutex_unlock(&huge_lock);
		if (v == NULL)
			break;
		bytes += v->mapped;
		entry_release(v);
	}
	cache_trim();
	return bytes;
}

size_t xa_huge_unmap_cached(void) {
	size_t bytes = 0;
	for (;;) {
		xa_mutex_lock(&huge_lock);
		xa_chunk_t *d = XA_LIST_FIRST(&huge_cache, xa_chunk_t, hlink);
		if (d)
			cache_remove(d);
		xa_mutex_unlock(&huge_lock);
		if (d == NULL)
			return bytes;
		bytes += d->mapped;
		huge_unmap(d);
	}
}

uint64_t xa_huge_next_due(uint64_t now) {
	uint64_t r = UINT64_MAX;
	xa_mutex_lock(&huge_lock);
	xa_chunk_t *d = cache_oldest(false); /* the wait grows with freed_ns */
	if (d)
		r = xa_decay_wait_ns(atomic_load(&xa_decay_default_ms), d->freed_ns, now);
	xa_mutex_unlock(&huge_lock);
	return r;
}

uint64_t xa_huge_moved(void) {
	xa_mutex_lock(&huge_lock);
	uint64_t r = huge_ngathered;
	xa_mutex_unlock(&huge_lock);
	return r;
}

size_t xa_huge_mapped_now(void) { return XA_RELAXED_LOAD(huge_mapped); }

void xa_huge_stats(size_t *allocated, size_t *mapped, size_t *cur, uint64_t *nmalloc, uint64_t *ndalloc) {
	xa_mutex_lock(&huge_lock);
	*allocated = huge_allocated;
	*mapped = huge_mapped;
	*cur = huge_cur;
	*nmalloc = huge_nmalloc;
	*ndalloc = huge_ndalloc;
	xa_mutex_unlock(&huge_lock);
}

/* Resident bytes (mincore) of live and of cached huge mappings, for the
 * RSS reconciliation in stats.c.  mincore runs under huge_lock: it neither
 * allocates nor blocks on another lock. */
void xa_huge_resident(size_t *live, size_t *cached) {
	size_t l = 0, c = 0;
	xa_mutex_lock(&huge_lock);
	for (xa_chunk_t *d = XA_LIST_FIRST(&huge_list, xa_chunk_t, hlink); d; d = XA_LIST_NEXT(d, xa_chunk_t, hlink)) {
		ssize_t n = xa_os_resident_pages((void *)d->addr, d->mapped);
		l += n > 0 ? (size_t)n * PAGE : 0;
	}
	for (xa_chunk_t *d = XA_LIST_FIRST(&huge_cache, xa_chunk_t, hlink); d; d = XA_LIST_NEXT(d, xa_chunk_t, hlink)) {
		if (d->hstate == PS_RETAINED)
			continue; /* unbacked */
		ssize_t n = xa_os_resident_pages((void *)d->addr, d->mapped);
		c += n > 0 ? (size_t)n * PAGE : 0;
	}
	xa_mutex_unlock(&huge_lock);
	*live = l;
	*cached = c;
}

static void huge_link(xa_chunk_t *d) {
	xa_mutex_lock(&huge_lock);
	d->kind = CHUNK_HUGE;
	xa_list_push(&huge_list, &d->hlink);
	huge_allocated += d->size;
	XA_RELAXED_STORE(huge_mapped, huge_mapped + d->mapped); /* read racily by peak.c */
	huge_cur++;
	huge_nmalloc++;
	xa_mutex_unlock(&huge_lock);
}

static void huge_unlink(xa_chunk_t *d) {
	xa_mutex_lock(&huge_lock);
	xa_list_remove(&huge_list, &d->hlink);
	huge_allocated -= d->size;
	XA_RELAXED_STORE(huge_mapped, huge_mapped - d->mapped);
	huge_cur--;
	huge_ndalloc++;
	xa_mutex_unlock(&huge_lock);
}

/* The part of a reservation past the block: cached as retained (never
 * touched, so it reads as zero), or unmapped without metadata for it. */
static void reserve_rest(uintptr_t addr, size_t size) {
	xa_chunk_t *r = xa_pool_get(&huge_pool);
	if (r) {
		memset(r->pclass, PCLASS_NONE, sizeof(r->pclass));
		r->kind = CHUNK_HUGE_CACHED;
		r->addr = addr;
		r->mapped = size;
		r->freed_ns = xa_now_ns();
		if (xa_pagemap_set(addr, size, r) == false) {
			xa_mutex_lock(&huge_lock);
			cache_push(r, PS_RETAINED);
			xa_mutex_unlock(&huge_lock);
			return;
		}
		xa_pool_put(&huge_pool, r);
	}
	xa_os_unmap((void *)addr, size);
}

void *xa_huge_malloc(size_t usize, size_t align, bool zero) {
	if (align < CHUNK)
		align = CHUNK;
	size_t need = CHUNK_CEIL(usize);
	unsigned state;
	cold_t cold = {.n = 0};
	xa_chunk_t *d = cache_take(need, align, &state, &cold);
	if (d) {
		/* Unbacked pages would all fault in: move dirty pages there
		 * instead (not for calloc: retained pages need no zeroing). */
		for (unsigned k = 0; k < cold.n && !zero; k++)
			gather_dirty(d->addr + cold.off[k], cold.len[k]);
		d->size = usize;
		d->sampled = 0;
		huge_link(d);
		if (zero && state == PS_RETAINED)
			xa_zero_known(usize);
		else if (zero)
			xa_zero_fill((void *)d->addr, usize);
		return (void *)d->addr;
	}
	d = xa_pool_get(&huge_pool);
	if (d == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	/* Nothing cached fits: reserve ahead in proportion to what is live,
	 * as retained address space the next requests are carved from. */
	xa_mutex_lock(&huge_lock);
	size_t want = CHUNK_CEIL(XA_MIN(HUGE_RESERVE_MAX, huge_mapped / 2));
	xa_mutex_unlock(&huge_lock);
	if (want < need || align != CHUNK)
		want = need;
	void *p = xa_os_map(want, align);
	if (p == NULL && want > need) {
		want = need; /* under an address-space limit: just the block */
		p = xa_os_map(need, align);
	}
	if (p == NULL) {
		xa_pool_put(&huge_pool, d);
		errno = ENOMEM;
		return NULL;
	}
	if (want > need)
		reserve_rest((uintptr_t)p + need, want - need);
	memset(d->pclass, PCLASS_NONE, sizeof(d->pclass));
	d->kind = CHUNK_HUGE;
	d->addr = (uintptr_t)p;
	d->size = usize;
	d->mapped = need;
	d->sampled = 0;
	if (xa_pagemap_set(d->addr, need, d)) {
		xa_os_unmap(p, need);
		xa_pool_put(&huge_pool, d);
		errno = ENOMEM;
		return NULL;
	}
	if (!zero)
		gather_dirty(d->addr, need); /* as above */
	huge_link(d);
	if (zero)
		xa_zero_known(usize); /* fresh from the kernel */
	return p;
}

/* Cache a freed mapping (not linked anywhere): dirty, or released at once. */
static void cache_freed(xa_chunk_t *d) {
	d->freed_ns = xa_now_ns();
	bool at_once = atomic_load(&xa_decay_default_ms) == 0 || d->mapped > HUGE_DIRTY_MAX / 4;
	xa_mutex_lock(&huge_lock);
	if (at_once) {
		d->kind = CHUNK_HUGE_CACHED; /* a second free is a double free */
		d->hstate = PS_DIRTY;
		huge_inflight += d->mapped;
	} else {
		cache_push(d, PS_DIRTY);
	}
	xa_mutex_unlock(&huge_lock);
	if (at_once)
		entry_release(d);
	cache_trim();
	if (!at_once)
		xa_background_kick();
}

void xa_huge_free(xa_chunk_t *d) {
	huge_unlink(d);
	cache_freed(d);
}

/* Resize to usize (page multiple, > SC_LARGE_MAX).  Returns the new address,
 * or NULL with the old allocation intact (*gone false) or, when metadata
 * ran out after the pages moved, lost (*gone true). */
void *xa_huge_realloc(xa_chunk_t *d, size_t usize, bool *gone) {
	size_t old = d->mapped, need = CHUNK_CEIL(usize);
	*gone = false;
	huge_unlink(d);
	if (need == old) {
		d->size = usize;
		huge_link(d);
		return (void *)d->addr;
	}
	if (need < old) {
		/* The cut-off chunks go to the cache like a freed block (they
		 * hold old contents: dirty), or are unmapped without metadata. */
		xa_chunk_t *t = xa_pool_get(&huge_pool);
		if (t) {
			memset(t->pclass, PCLASS_NONE, sizeof(t->pclass));
			t->kind = CHUNK_HUGE_CACHED;
			t->addr = d->addr + need;
			t->mapped = old - need;
		}
		if (t && xa_pagemap_set(t->addr, t->mapped, t) == false) {
			cache_freed(t);
		} else {
			if (t)
				xa_pool_put(&huge_pool, t);
			xa_pagemap_clear(d->addr + need, old - need);
			xa_os_unmap((void *)(d->addr + need), old - need);
		}
		d->size = usize;
		d->mapped = need;
		huge_link(d);
		return (void *)d->addr;
	}
	if (xa_os_grow_inplace((void *)d->addr, old, need)) {
		if (xa_pagemap_set(d->addr, need, d) == false) {
			d->size = usize;
			d->mapped = need;
			huge_link(d);
			return (void *)d->addr;
		}
		/* No metadata for the new granules: shrink back in place. */
		xa_os_grow_inplace((void *)d->addr, need, old);
		huge_link(d);
		errno = ENOMEM;
		return NULL;
	}
	uintptr_t oaddr = d->addr;
	void *p = xa_os_remap((void *)oaddr, old, need, CHUNK);
	if (p == NULL) {
		huge_link(d);
		errno = ENOMEM;
		return NULL;
	}
	/* The old range is gone (mremap moved it); publish the new one. */
	xa_pagemap_clear(oaddr, old);
	d->addr = (uintptr_t)p;
	d->size = usize;
	d->mapped = need;
	if (xa_pagemap_set(d->addr, need, d)) {
		xa_os_unmap(p, need);
		xa_pool_put(&huge_pool, d);
		*gone = true;
		errno = ENOMEM;
		return NULL; /* cannot happen without metadata exhaustion */
	}
	huge_link(d);
	return p;
}

bool xa_huge_cache_entry(uintptr_t addr, size_t *size, unsigned *state) {
	xa_mutex_lock(&huge_lock);
	xa_chunk_t *d = cache_at(addr, false);
	if (d) {
		*size = d->mapped;
		*state = d->hstate;
	}
	xa_mutex_unlock(&huge_lock);
	return d != NULL;
}

static size_t check_fail(const char *what) {
	static const char pre[] = "xa_huge_cache_check: ";
	xa_os_write_all(2, pre, sizeof(pre) - 1);
	xa_os_write_all(2, what, strlen(what));
	xa_os_write_all(2, "\n", 1);
	return SIZE_MAX;
}

size_t xa_huge_cache_check(void) {
	size_t r = 0, bytes[PS_NSTATES] = {0}, n[PS_NSTATES] = {0};
	xa_mutex_lock(&huge_lock);
	size_t listed = 0;
	for (xa_chunk_t *d = XA_LIST_FIRST(&huge_cache, xa_chunk_t, hlink); d; d = XA_LIST_NEXT(d, xa_chunk_t, hlink))
		listed++;
	xa_chunk_t *prev = NULL;
	for (xa_chunk_t *d = cache_addr_next(NULL); d && r == 0; prev = d, d = cache_addr_next(d)) {
		if (d->kind != CHUNK_HUGE_CACHED || d->hstate >= PS_NSTATES || d->mapped == 0 ||
		    ((d->addr | d->mapped) & CHUNK_MASK) != 0)
			r = check_fail("bad entry");
		else if (prev && prev->addr + prev->mapped > d->addr)
			r = check_fail("entries overlap");
		else if (prev && prev->addr + prev->mapped == d->addr && prev->hstate == d->hstate)
			r = check_fail("neighbours in one state not merged");
		else if (d->hfit.hi != FIT_KEY(d->hstate, d->mapped) || d->hfit.lo != d->addr ||
		         d->hage.hi != ((d->hstate == PS_DIRTY ? 0 : AGE_CLEAN) | d->freed_ns) || d->haddr.hi != d->addr)
			r = check_fail("stale key");
		else if (xa_pagemap_lookup(d->addr) != d || xa_pagemap_lookup(d->addr + d->mapped - CHUNK) != d)
			r = check_fail("pagemap does not point at the entry");
		bytes[d->hstate] += d->mapped;
		n[d->hstate]++;
	}
	size_t total = n[PS_DIRTY] + n[PS_LAZY] + n[PS_RETAINED];
	if (r == 0 && (total != listed || cache_addr.n != total || cache_fit.n != total || cache_age.n != total))
		r = check_fail("trees, list and counters disagree");
	for (unsigned s = 0; s < PS_NSTATES && r == 0; s++)
		if (bytes[s] != cache_bytes[s] || n[s] != cache_n[s])
			r = check_fail("byte or entry counters wrong");
	/* fit order: by state, then size; age order: dirty first, then age */
	xa_tnode_t *p = NULL;
	for (xa_tnode_t *t = xa_tree_ceil(&cache_fit, 0, 0); t && r == 0; p = t, t = xa_tree_next(&cache_fit, t))
		if (p && !xa_tree_below(p, t->hi, t->lo))
			r = check_fail("fit tree out of order");
	p = NULL;
	for (xa_tnode_t *t = xa_tree_ceil(&cache_age, 0, 0); t && r == 0; p = t, t = xa_tree_next(&cache_age, t))
		if (p && !xa_tree_below(p, t->hi, t->lo))
			r = check_fail("age tree out of order");
	xa_mutex_unlock(&huge_lock);
	return r ? r : total;
}

void xa_huge_prefork(void) { xa_mutex_lock(&huge_lock); }
void xa_huge_postfork_parent(void) { xa_mutex_unlock(&huge_lock); }
void xa_huge_postfork_child(void) { xa_mutex_init(&huge_lock); }
