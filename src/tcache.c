/*
 * tcache.c -- thread caches: set-up, fill, flush and the incremental GC.
 *
 * Owns: the size of each cache bin, the stack block of each thread (from a
 * base pool, recycled when threads exit), the fill-count adaptation and the
 * GC that returns objects a thread has not been using.
 *
 * GC: every TCACHE_GC_INTERVAL bytes a thread allocates, one bin is visited.
 * Objects that stayed unused since the last visit (the bin's low-water
 * mark) are three-quarters flushed back to their slabs and the bin's fill
 * count is halved; a bin that ran empty gets a larger fill count.  So a
 * thread's cache follows what it actually uses, and a cache that goes idle
 * drains as soon as the thread allocates anything at all.
 *
 * Locking: none of its own; fill and flush take the bin or arena locks.
 */
#include "internal.h"

unsigned xa_tcache_nbins;
uint16_t xa_tcache_amask[SC_NCLASSES];
static uint16_t tcache_cap[SC_NCLASSES];
static size_t tcache_slots;
static xa_pool_t stacks_pool;

static uint16_t tcache_cap_for(unsigned cls) {
	size_t s = xa_sc_size[cls];
	if (cls >= SC_NSMALL)
		return 8;
	if (s <= 256)
		return 128;
	if (s <= 1024)
		return 64;
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
	xa_tcache_nbins = n;
	tcache_slots = 0;
	for (unsigned i = 0; i < n; i++) {
		tcache_cap[i] = tcache_cap_for(i);
		tcache_slots += tcache_cap[i] + 1; /* + the NULL sentinel */
		xa_tcache_amask[i] = (uint16_t)(i < SC_NSMALL ? QUANTUM - 1 : PAGE_MASK);
	}
	stacks_pool.size = XA_MAX(tcache_slots, 1) * sizeof(void *);
}

size_t xa_tcache_meta_bytes(void) { return (stacks_pool.nused + stacks_pool.nfree) * stacks_pool.size; }

bool xa_tcache_init(xa_tsd_t *t) {
	if (xa_tcache_nbins == 0)
		return false;
	void **block = xa_pool_get(&stacks_pool);
	if (block == NULL)
		return true;
	XA_RELAXED_STORE(t->stacks, block);
	for (unsigned i = 0; i < xa_tcache_nbins; i++) {
		xa_cbin_t *b = &t->bins[i];
		/* slot 0 of each stack's area: a NULL sentinel at stack[-1]
		 * for the free fast path's top-of-stack compare (the pool
		 * reuses block[0] as its link, so it is set on every init) */
		block[0] = NULL;
		b->off = (uint32_t)(block + 1 - t->stacks);
		block += tcache_cap[i] + 1;
		b->cap = tcache_cap[i];
		b->ncached = 0;
		b->low_water = 0;
		b->nfill = (uint16_t)XA_MAX(b->cap / 8, 1);
	}
	t->nbins = xa_tcache_nbins;
	return false;
}

void xa_tcache_destroy(xa_tsd_t *t) {
	if (t->stacks == NULL)
		return;
	xa_tcache_flush_all(t);
	t->nbins = 0;
	xa_pool_put(&stacks_pool, t->stacks);
	XA_RELAXED_STORE(t->stacks, NULL);
	for (unsigned i = 0; i < SC_NCLASSES; i++) {
		t->bins[i].off = 0;
		t->bins[i].cap = 0;
	}
}

void *xa_tcache_fill(xa_tsd_t *t, unsigned cls) {
	xa_cbin_t *b = &t->bins[cls];
	xa_assert(b->ncached == 0);
	if (cls >= SC_NSMALL)
		return xa_arena_malloc_large(t->arena, xa_sc_size[cls], 0, false);
	void **stack = xa_cbin_stack(t, b);
	unsigned got = xa_arena_fill_small(xa_arena_for_fill(t, cls), cls, stack, b->nfill, b->nrequests + 1);
	b->nrequests = 0;
	if (got == 0)
		return NULL;
	got--;
	XA_RELAXED_STORE(b->ncached, (uint16_t)got);
	b->low_water = (uint16_t)got;
	return stack[got];
}

/* Flush the oldest objects of a bin, keeping `keep` of the newest. */
void xa_tcache_flush_bin(xa_tsd_t *t, unsigned cls, unsigned keep) {
	xa_cbin_t *b = &t->bins[cls];
	unsigned n = b->ncached;
	if (keep >= n)
		return;
	unsigned k = n - keep;
	if (cls < SC_NSMALL)
		xa_arena_flush_small(cls, xa_cbin_stack(t, b), k);
	else
		xa_arena_flush_large(xa_cbin_stack(t, b), k);
	memmove(xa_cbin_stack(t, b), xa_cbin_stack(t, b) + k, keep * sizeof(void *));
	XA_RELAXED_STORE(b->ncached, (uint16_t)keep);
	if (b->low_water > keep)
		b->low_water = (uint16_t)keep;
}

void xa_tcache_flush_n(xa_tsd_t *t, unsigned nbins) {
	for (unsigned i = 0; i < nbins; i++) {
		xa_tcache_flush_bin(t, i, 0);
		t->bins[i].low_water = 0;
	}
}

void xa_tcache_flush_all(xa_tsd_t *t) { xa_tcache_flush_n(t, t->nbins); }

void xa_tcache_gc_step(xa_tsd_t *t) {
	if (t->nbins == 0)
		return;
	/* Visit a few bins per event so a full round is quick. */
	for (unsigned v = 0; v < 4; v++) {
		unsigned i = t->gc_bin;
		t->gc_bin = (uint8_t)((i + 1) % t->nbins);
		xa_cbin_t *b = &t->bins[i];
		if (b->low_water > 0) {
			unsigned drop = b->low_water - b->low_water / 4;
			xa_tcache_flush_bin(t, i, b->ncached - drop);
			if (b->nfill > 1)
				b->nfill /= 2;
		} else if (b->ncached == 0 && b->nfill < b->cap / 2) {
			b->nfill *= 2;
		}
		b->low_water = b->ncached;
	}
}

size_t xa_tcache_bytes(xa_tsd_t *t) {
	/* t->stacks is read by statistics threads while the owner sets or
	 * clears it (thread start and exit): relaxed on both sides. */
	return xa_tcache_bytes_n(t, XA_RELAXED_LOAD(t->stacks) ? xa_tcache_nbins : 0);
}

size_t xa_tcache_bytes_n(xa_tsd_t *t, unsigned n) {
	size_t bytes = 0;
	for (unsigned i = 0; i < n; i++)
		bytes += (size_t)XA_RELAXED_LOAD(t->bins[i].ncached) * xa_sc_size[i];
	return bytes;
}
