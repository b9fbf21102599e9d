/*
 * base.c -- metadata memory for the allocator's own structures.
 *
 * Owns: a bump allocator over blocks mapped from the OS, and fixed-size
 * pools with free lists on top of it (run descriptors, chunk descriptors,
 * thread-cache stacks).  Never calls malloc.  Metadata is never unmapped
 * (it is small and recycled through the pools); it is counted in
 * stats.metadata, and the pages of empty pool blocks are released (below).
 *
 * Pools of small objects (run and chunk descriptors: their number follows
 * the heap's peak) are carved from 64 KiB blocks, each with its own free
 * map; a pool keeps its blocks with free objects on a partial list and a
 * block whose objects are all free again on an empty list (list.h), whose
 * pages but the header's the purge passes (background thread, malloc_trim)
 * release, as they release the pages of partly used blocks that hold only
 * free objects (a block's free objects are bits in its header, handed out
 * lowest first).  So a burst's metadata goes back to the OS with the
 * burst, unless its survivors are spread over every page.  Larger
 * objects (the thread caches' stack blocks: objects up to 4 KiB, e.g. a
 * chunk's page -> run array, are small) use one free list
 * per pool, linked through an object's first word; the second word is
 * the time the purge passes first saw it on the list, and once it has
 * been there for the caller's delay, xa_pool_purge_free releases every
 * page wholly inside the object but its first (with both words).  So
 * the stack blocks of threads that have exited go back to the OS after
 * the decay time (200 threads that grew their caches and exited held 64
 * MB before), while a block a new thread takes soon after an exit
 * (larson's threads come and go) is reused warm, with no system call.
 *
 * Indexed pools.  A small-object pool with .indexed set numbers its
 * blocks (1, 2, ... in xa_pool_blocks[]), so each object has a 32-bit
 * name: block number << 16 | offset in the 64 KiB block (xa_pool_ref;
 * xa_pool_deref is one table load and an add).  The run descriptors are
 * named this way in every chunk's page -> run array (pages.c): half the
 * size of pointers.  Blocks are recycled and purged as in the other pools
 * and never unmapped, so a name read by a racing reader always points at
 * readable memory.  (A reservation of address space with offsets from its
 * base was tried first: it fails under a tight RLIMIT_AS.)
 *
 * Locking: one mutex, base_lock, for the bump pointer and every pool.
 * Memory from base is zeroed when first handed out; pooled objects are
 * zeroed again by xa_pool_get.
 */
#include "internal.h"

#define BASE_BLOCK_MIN ((size_t)256 << 10)

static xa_mutex_t base_lock = XA_MUTEX_INITIALIZER;
static char *base_cur, *base_end;
static size_t base_mapped_bytes, base_allocated_bytes;

/* Every mapping made here, so stats can count the resident pages (mincore)
 * of metadata.  Blocks grow with the total, so there are few; past the
 * table's end the mappings are still used, just counted as mapped. */
#define BASE_MAPS_MAX 256
static struct {
	char *addr;
	size_t size;
} base_maps[BASE_MAPS_MAX];
static unsigned base_nmaps;
static size_t base_untracked_bytes;

static void base_track(char *p, size_t size) {
	if (base_nmaps < BASE_MAPS_MAX) {
		base_maps[base_nmaps].addr = p;
		base_maps[base_nmaps].size = size;
		base_nmaps++;
	} else {
		base_untracked_bytes += size;
	}
}

static void *base_alloc_locked(size_t size) {
	size = (size + 15) & ~(size_t)15;
	if ((size_t)(base_end - base_cur) < size) {
		size_t block = XA_MAX(BASE_BLOCK_MIN, PAGE_CEIL(size));
		/* Grow blocks with the total so the number of mappings stays small. */
		if (block < base_mapped_bytes / 4)
			block = PAGE_CEIL(base_mapped_bytes / 4);
		char *p = xa_os_map(block, PAGE);
		if (p == NULL)
			return NULL;
		base_cur = p;
		base_end = p + block;
		base_mapped_bytes += block;
		base_track(p, block);
	}
	void *r = base_cur;
	base_cur += size;
	base_allocated_bytes += size;
	return r;
}

void *xa_base_alloc(size_t size) {
	xa_mutex_lock(&base_lock);
	void *r = base_alloc_locked(size);
	xa_mutex_unlock(&base_lock);
	return r;
}

/* ---- block pools ------------------------------------------------------ */
#define POOL_BLOCK ((size_t)1 << XA_POOL_LG_BLOCK)
#define POOL_REGION ((size_t)2 << 20)
#define POOL_SMALL_MAX ((size_t)4096)

/* Free objects of a block are bits of freemap (not a list through the
 * objects), so the pages of a partly used block that hold only free
 * objects can be purged (xa_base_purge) without losing track of them;
 * objects are handed out lowest slot first, which packs the live ones at
 * the start of the block.  Small pools' objects are at least
 * POOL_MIN_SIZE bytes, so a block has at most POOL_MAP_WORDS * 64. */
#define POOL_MIN_SIZE 64
#define POOL_MAP_WORDS (POOL_BLOCK / POOL_MIN_SIZE / 64)
typedef struct pool_block_s {
	xa_link_t link; /* on the pool's partial or empty list, or (full) none */
	uint32_t nfree;   /* free objects among the carved ones */
	uint32_t ncarved; /* slots [0, ncarved) have been handed out once */
	uint32_t cap;
	uint32_t idx; /* indexed pools: the block's number in xa_pool_blocks */
	const xa_pool_t *pool; /* its pool (compaction walks the numbered blocks) */
	uint8_t full, purged;
	uint8_t dirty;     /* an object was freed since the last page scan */
	uint16_t pgpurged; /* pages (bit i: page i) purged while partly used */
	uint64_t freemap[POOL_MAP_WORDS]; /* bit i: carved slot i is free */
} pool_block_t;
#define POOL_HDR 192
_Static_assert(sizeof(pool_block_t) <= POOL_HDR, "the block header fits");
_Static_assert(POOL_BLOCK / PAGE <= 16, "pgpurged has a bit per page");

static char *region_cur, *region_end;

static pool_block_t *blist_first(xa_list_t *l) { return XA_LIST_FIRST(l, pool_block_t, link); }

/* Blocks of indexed pools by number (0: none), see "Indexed pools". */
char *xa_pool_blocks[XA_POOL_MAX_BLOCKS];
static uint32_t pool_nindexed;

uint32_t xa_pool_ref(const void *obj) {
	if (obj == NULL)
		return 0;
	uintptr_t o = (uintptr_t)obj;
	const pool_block_t *b = (const pool_block_t *)(o & ~(uintptr_t)(POOL_BLOCK - 1));
	return b->idx << XA_POOL_LG_BLOCK | (uint32_t)(o & (POOL_BLOCK - 1));
}

static pool_block_t *block_new(xa_pool_t *pool) {
	uint32_t idx = 0;
	if (pool->indexed) {
		if (pool_nindexed + 1 >= XA_POOL_MAX_BLOCKS)
			return NULL; /* out of indexed metadata */
		idx = pool_nindexed + 1;
	}
	if (region_cur == region_end) {
		char *p = xa_os_map(POOL_REGION, POOL_BLOCK);
		if (p == NULL)
			return NULL;
		region_cur = p;
		region_end = p + POOL_REGION;
		base_mapped_bytes += POOL_REGION;
		base_track(p, POOL_REGION);
	}
	pool_block_t *b = (pool_block_t *)region_cur;
	region_cur += POOL_BLOCK;
	b->cap = (uint32_t)((POOL_BLOCK - POOL_HDR) / pool->size);
	b->pool = pool;
	if (idx) {
		/* published before any reference to the block's objects */
		b->idx = idx;
		__atomic_store_n(&xa_pool_blocks[idx], (char *)b, __ATOMIC_RELEASE);
		pool_nindexed = idx;
	}
	return b;
}

/* Pages p0..p1 of a block, as pgpurged bits. */
static uint16_t page_bits(unsigned p0, unsigned p1) {
	return (uint16_t)((((unsigned)2 << p1) - 1) & ~((1u << p0) - 1));
}

/* The pages of block b that object i overlaps, as pgpurged bits. */
static uint16_t block_obj_pages(const xa_pool_t *pool, size_t i) {
	size_t lo = POOL_HDR + i * pool->size, hi = lo + pool->size - 1;
	return page_bits((unsigned)(lo / PAGE), (unsigned)(hi / PAGE));
}

static void *block_take(xa_pool_t *pool, pool_block_t *b);

static void *block_get(xa_pool_t *pool) {
	pool_block_t *b = blist_first(&pool->partial);
	if (b == NULL) {
		b = blist_first(&pool->empty);
		if (b) {
			xa_list_remove(&pool->empty, &b->link);
			/* not purged yet: its pages past the carving point
			 * hold an earlier use's objects, for the next scan */
			b->dirty = !b->purged;
			b->purged = 0;
		} else if ((b = block_new(pool)) == NULL) {
			return NULL;
		}
		xa_list_push(&pool->partial, &b->link);
	}
	return block_take(pool, b);
}

/* An object of block b, which is on pool's partial list. */
static void *block_take(xa_pool_t *pool, pool_block_t *b) {
	size_t i;
	if (b->nfree) {
		unsigned w = 0;
		while (b->freemap[w] == 0)
			w++;
		i = (size_t)w * 64 + (unsigned)__builtin_ctzll(b->freemap[w]);
		b->freemap[w] &= b->freemap[w] - 1;
		b->nfree--;
	} else {
		i = b->ncarved++;
	}
	if (b->pgpurged)
		b->pgpurged &= (uint16_t)~block_obj_pages(pool, i);
	if (b->nfree == 0 && b->ncarved == b->cap) {
		xa_list_remove(&pool->partial, &b->link);
		b->full = 1;
	}
	base_allocated_bytes += pool->size;
	return (char *)b + POOL_HDR + i * pool->size;
}

static void block_put(xa_pool_t *pool, void *obj) {
	pool_block_t *b = (pool_block_t *)((uintptr_t)obj & ~(uintptr_t)(POOL_BLOCK - 1));
	size_t i = ((uintptr_t)obj - (uintptr_t)b - POOL_HDR) / pool->size;
	uint64_t bit = (uint64_t)1 << (i % 64);
	xa_assert(i < b->ncarved && !(b->freemap[i / 64] & bit));
	b->freemap[i / 64] |= bit;
	b->nfree++;
	b->dirty = 1;
	base_allocated_bytes -= pool->size;
	if (b->full) {
		b->full = 0;
		xa_list_push(&pool->partial, &b->link);
	}
	if (b->nfree == b->ncarved) {
		/* every object is free: recarve from scratch next time */
		xa_list_remove(&pool->partial, &b->link);
		memset(b->freemap, 0, sizeof(b->freemap));
		b->nfree = b->ncarved = 0;
		b->pgpurged = 0;
		b->dirty = 0;
		xa_list_push(&pool->empty, &b->link);
	}
}

/* Pages 1.. of a partly used block that hold no live object: objects
 * free in freemap, or never carved since the block was last (re)started
 * (such pages may still hold an earlier use's data).  Page 0 holds the
 * header. */
static uint16_t block_free_pages(const xa_pool_t *pool, const pool_block_t *b) {
	uint16_t pages = 0;
	for (unsigned p = 1; p < POOL_BLOCK / PAGE; p++) {
		size_t lo = (size_t)p * PAGE - POOL_HDR, hi = lo + PAGE - 1;
		size_t s0 = lo / pool->size, s1 = hi / pool->size;
		if (s1 >= b->cap)
			s1 = b->cap - 1;
		bool live = false;
		for (size_t i = s0; i <= s1 && i < b->ncarved && !live; i++)
			live = !(b->freemap[i / 64] & ((uint64_t)1 << (i % 64)));
		if (!live)
			pages |= (uint16_t)(1u << p);
	}
	return pages;
}

static xa_pool_t *purgeable_pools[8];
static unsigned npurgeable;

/* Release what the small pools do not use: the pages (but the header's)
 * of empty blocks, and, in partly used blocks freed into since the last
 * pass, the pages that hold only free objects (a burst's descriptors that
 * mostly died leave a few live ones per block: b_exited's 127 live run
 * descriptors held 60 blocks of 64 KiB).  Under base_lock: an object
 * handed out meanwhile must not be in a page being purged; at most
 * PURGE_PARTIAL_MAX partly used blocks per call, so a pass holds the lock
 * for a bounded time. */
#define PURGE_PARTIAL_MAX 32
size_t xa_base_purge(void) {
	size_t bytes = 0;
	unsigned scanned = 0;
	xa_mutex_lock(&base_lock);
	for (unsigned i = 0; i < npurgeable; i++) {
		xa_pool_t *pool = purgeable_pools[i];
		for (pool_block_t *b = blist_first(&pool->empty); b; b = XA_LIST_NEXT(b, pool_block_t, link))
			if (!b->purged) {
				if (xa_os_purge_forced((char *)b + PAGE, POOL_BLOCK - PAGE))
					continue; /* still resident: not counted, retried */
				b->purged = 1;
				bytes += POOL_BLOCK - PAGE;
			}
		for (pool_block_t *b = blist_first(&pool->partial); b && scanned < PURGE_PARTIAL_MAX;
		    b = XA_LIST_NEXT(b, pool_block_t, link)) {
			if (!b->dirty || (size_t)(b->nfree + b->cap - b->ncarved) * pool->size < PAGE)
				continue; /* nothing freed since the last scan, or no page's worth free */
			scanned++;
			b->dirty = 0;
			uint16_t todo = (uint16_t)(block_free_pages(pool, b) & ~b->pgpurged);
			while (todo) {
				/* one madvise per run of consecutive pages */
				unsigned p = (unsigned)__builtin_ctz(todo), q = p;
				while (q + 1 < POOL_BLOCK / PAGE && (todo >> (q + 1) & 1))
					q++;
				uint16_t run = page_bits(p, q);
				todo &= (uint16_t)~run;
				if (xa_os_purge_forced((char *)b + (size_t)p * PAGE, (size_t)(q - p + 1) * PAGE) == 0) {
					b->pgpurged |= run;
					bytes += (size_t)(q - p + 1) * PAGE;
				}
			}
		}
	}
	xa_mutex_unlock(&base_lock);
	return bytes;
}

/* ---- compaction of indexed pools -------------------------------------
 * (run descriptors: pages.c, "Compaction", which stops the world first)
 * Two fingers over the pool's blocks in number order: objects of the
 * highest-numbered block with live objects move into the free slots of
 * the lowest-numbered ones, until the fingers meet.  Blocks whose objects
 * all moved go to the empty list, and the next purge releases their
 * pages.  Blocks holding no live object are neither source nor target.
 * Under base_lock; the callbacks must not use a pool. */
static uint32_t block_live(const pool_block_t *b) { return b->ncarved - b->nfree; }
/* Numbered blocks of another indexed pool count as empty here. */
static uint32_t block_live_in(const xa_pool_t *pool, const pool_block_t *b) {
	return b->pool == pool ? block_live(b) : 0;
}
static uint32_t block_room(const pool_block_t *b) { return b->nfree + (b->cap - b->ncarved); }
static pool_block_t *block_num(uint32_t i) { return (pool_block_t *)xa_pool_blocks[i]; }

size_t xa_pool_spare_blocks(const xa_pool_t *pool) {
	xa_assert(pool->indexed);
	xa_mutex_lock(&base_lock);
	size_t inuse = 0, cap = 0, live = 0;
	for (uint32_t i = 1; i <= pool_nindexed; i++) {
		const pool_block_t *b = block_num(i);
		if (block_live_in(pool, b)) {
			inuse++;
			cap = b->cap;
			live += block_live(b);
		}
	}
	xa_mutex_unlock(&base_lock);
	return inuse && cap ? inuse - (live + cap - 1) / cap : 0;
}

size_t xa_pool_compact(xa_pool_t *pool, bool (*movable)(const void *obj), void (*moved)(void *from, void *to),
    size_t max) {
	xa_assert(pool->indexed);
	size_t nmoved = 0;
	xa_mutex_lock(&base_lock);
	uint32_t lo = 1, hi = pool_nindexed;
	for (; lo < hi && nmoved < max; hi--) {
		pool_block_t *s = block_num(hi);
		if (s->pool != pool)
			continue;
		for (uint32_t i = 0; i < s->ncarved && lo < hi && nmoved < max; i++) {
			if (s->freemap[i / 64] & ((uint64_t)1 << (i % 64)))
				continue;
			char *from = (char *)s + POOL_HDR + (size_t)i * pool->size;
			if (!movable(from))
				continue;
			while (lo < hi && (block_live_in(pool, block_num(lo)) == 0 || block_room(block_num(lo)) == 0))
				lo++;
			if (lo == hi)
				break;
			char *to = block_take(pool, block_num(lo));
			memcpy(to, from, pool->size);
			moved(from, to);
			block_put(pool, from); /* the last one empties s: ncarved = 0 */
			nmoved++;
		}
	}
	xa_mutex_unlock(&base_lock);
	return nmoved;
}

void *xa_pool_get(xa_pool_t *pool) {
	xa_mutex_lock(&base_lock);
	if (pool->size <= POOL_SMALL_MAX) {
		xa_assert(pool->size >= POOL_MIN_SIZE);
		if (xa_list_empty(&pool->partial) && xa_list_empty(&pool->empty) && npurgeable < XA_ARRAY_LEN(purgeable_pools)) {
			bool known = false;
			for (unsigned i = 0; i < npurgeable; i++)
				known |= purgeable_pools[i] == pool;
			if (!known)
				purgeable_pools[npurgeable++] = pool;
		}
		void *r = block_get(pool);
		if (r)
			pool->nused++;
		xa_mutex_unlock(&base_lock);
		if (r)
			memset(r, 0, pool->size);
		return r;
	}
	xa_mutex_unlock(&base_lock);
	return xa_pool_get_part(pool, pool->size);
}

void *xa_pool_get_part(xa_pool_t *pool, size_t zero_bytes) {
	xa_assert(pool->size > POOL_SMALL_MAX && zero_bytes <= pool->size);
	xa_mutex_lock(&base_lock);
	void *r = pool->free;
	if (r) {
		pool->free = *(void **)r;
		pool->nfree--;
	} else {
		r = base_alloc_locked(pool->size); /* fresh mapping: zero */
	}
	if (r)
		pool->nused++;
	xa_mutex_unlock(&base_lock);
	if (r)
		memset(r, 0, zero_bytes);
	return r;
}

void xa_pool_put(xa_pool_t *pool, void *obj) {
	xa_mutex_lock(&base_lock);
	if (pool->size <= POOL_SMALL_MAX) {
		block_put(pool, obj);
		pool->nused--;
		xa_mutex_unlock(&base_lock);
		return;
	}
	*(void **)obj = pool->free;
	((uint64_t *)obj)[1] = 0; /* not seen on the free list yet */
	pool->free = obj;
	pool->nfree++;
	pool->nused--;
	xa_mutex_unlock(&base_lock);
}

/* Large pools: release the pages wholly inside obj past its first keep
 * bytes.  Returns the bytes released, (size_t)-1 if the madvise failed. */
size_t xa_pool_purge_obj(const xa_pool_t *pool, void *obj, size_t keep) {
	size_t bytes = 0;
	uintptr_t lo = PAGE_CEIL((uintptr_t)obj + keep), hi = ((uintptr_t)obj + pool->size) & ~PAGE_MASK;
	if (hi > lo) {
		if (xa_os_purge_forced((void *)lo, hi - lo))
			return (size_t)-1;
		bytes += hi - lo;
	}
	return bytes;
}

/* Large pools: purge the objects on the free list that were first seen
 * there at least min_age_ns before now (see the header).  Due objects are
 * taken off the list (up to 64 at a time) under base_lock and purged
 * without it, so descriptor allocations never wait on the madvise calls
 * (a get meanwhile finds the warm objects, or carves a new one); then
 * they go back at the tail, so that warm objects are reused first.
 * Returns the bytes released; lowers *wait to the time until the next
 * object becomes due.  A fork while objects are off the list leaves them
 * out of the child's pool: address space the child never reuses, no
 * more. */
#define POOL_FREE_PURGED UINT64_MAX
size_t xa_pool_purge_free(xa_pool_t *pool, uint64_t now, uint64_t min_age_ns, uint64_t *wait) {
	xa_assert(pool->size > POOL_SMALL_MAX);
	size_t bytes = 0;
	if (now == 0 || now == POOL_FREE_PURGED)
		now = 1;
	for (;;) {
		void *batch[64];
		unsigned nb = 0;
		bool more = false, failed = false;
		xa_mutex_lock(&base_lock);
		for (void **link = &pool->free; *link;) {
			uint64_t *w = *link;
			if (w[1] != POOL_FREE_PURGED) {
				if (w[1] == 0 || w[1] > now)
					w[1] = now; /* first seen (or a clock that went back) */
				uint64_t age = now - w[1];
				if (age >= min_age_ns) {
					if (nb == XA_ARRAY_LEN(batch)) {
						more = true;
						break;
					}
					*link = *(void **)w; /* off the list while purged */
					pool->nfree--;
					batch[nb++] = w;
					continue;
				}
				if (min_age_ns - age < *wait)
					*wait = min_age_ns - age;
			}
			link = (void **)w;
		}
		xa_mutex_unlock(&base_lock);
		for (unsigned k = 0; k < nb; k++) {
			uint64_t *w = batch[k];
			size_t got = xa_pool_purge_obj(pool, w, 2 * sizeof(uint64_t));
			/* a failed madvise: retried once it is due again (not
			 * in this call: a forced purge would retry at once) */
			bool ok = got != (size_t)-1;
			if (ok)
				bytes += got;
			w[1] = ok ? POOL_FREE_PURGED : now;
			failed |= !ok;
		}
		if (nb) {
			xa_mutex_lock(&base_lock);
			void **tail = &pool->free;
			while (*tail)
				tail = (void **)*tail;
			for (unsigned k = 0; k < nb; k++) {
				*tail = batch[k];
				tail = (void **)batch[k];
			}
			*tail = NULL;
			pool->nfree += nb;
			xa_mutex_unlock(&base_lock);
		}
		if (!more || failed)
			return bytes;
	}
}

size_t xa_base_mapped(void) {
	xa_mutex_lock(&base_lock);
	size_t r = base_mapped_bytes;
	xa_mutex_unlock(&base_lock);
	return r;
}

size_t xa_base_allocated(void) {
	xa_mutex_lock(&base_lock);
	size_t r = base_allocated_bytes;
	xa_mutex_unlock(&base_lock);
	return r;
}

/* Resident bytes of metadata: mincore over every base mapping, one entry
 * at a time read under the lock, mincore without it (base mappings are
 * never unmapped).  Untracked mappings count whole. */
size_t xa_base_resident(void) {
	size_t bytes = 0;
	for (unsigned i = 0;; i++) {
		xa_mutex_lock(&base_lock);
		if (i >= base_nmaps) {
			bytes += base_untracked_bytes;
			xa_mutex_unlock(&base_lock);
			return bytes;
		}
		char *addr = base_maps[i].addr;
		size_t size = base_maps[i].size;
		xa_mutex_unlock(&base_lock);
		ssize_t pg = xa_os_resident_pages(addr, size);
		bytes += pg < 0 ? size : (size_t)pg * PAGE;
	}
}

void xa_base_prefork(void) { xa_mutex_lock(&base_lock); }
void xa_base_postfork_parent(void) { xa_mutex_unlock(&base_lock); }
void xa_base_postfork_child(void) { xa_mutex_init(&base_lock); }
