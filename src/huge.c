/*
 * huge.c -- allocations above the largest large class: one mapping each.
 *
 * Owns: mapping, unmapping and resizing huge allocations and their
 * descriptors (kind CHUNK_HUGE, registered in the pagemap for every chunk
 * granule they cover), the cache of freed huge mappings, and the huge
 * statistics.  realloc uses mremap, so growing a huge buffer never copies.
 *
 * The cache: a freed huge mapping is kept (resident: it counts as dirty)
 * and handed to the next huge request of about its size, saving the mmap,
 * munmap and page faults of a program that repeatedly allocates big
 * buffers.  Cached mappings follow the release rate like dirty pages: they
 * are unmapped once decay_ms old (at once with decay_ms:0), on purge and
 * malloc_trim, and when the cache would exceed HUGE_CACHE_MAX.  Their
 * pagemap entries stay, pointing at a descriptor whose kind says cached, so
 * a free of a cached (already freed) mapping is reported as a double free.
 *
 * Locking: huge_lock protects both lists and the counters; mmap, munmap and
 * mremap happen outside it.
 */
#include "internal.h"

static xa_mutex_t huge_lock = XA_MUTEX_INITIALIZER;
static xa_chunk_t *huge_list;
static xa_pool_t huge_pool = {.size = sizeof(xa_chunk_t)};
static size_t huge_allocated, huge_mapped, huge_cur;
static uint64_t huge_nmalloc, huge_ndalloc;
static xa_chunk_t *huge_cache; /* most recently freed first */
static size_t huge_cached, huge_ncached;
#define HUGE_CACHE_MAX ((size_t)256 << 20)
#define HUGE_CACHE_NMAX 16

size_t xa_huge_cached_bytes(void) {
	xa_mutex_lock(&huge_lock);
	size_t r = huge_cached;
	xa_mutex_unlock(&huge_lock);
	return r;
}

/* huge_lock held */
static void cache_remove(xa_chunk_t *d) {
	if (d->hprev)
		d->hprev->hnext = d->hnext;
	else
		huge_cache = d->hnext;
	if (d->hnext)
		d->hnext->hprev = d->hprev;
	d->hnext = d->hprev = NULL;
	huge_cached -= d->mapped;
	huge_ncached--;
}

static void huge_unmap(xa_chunk_t *d) {
	xa_pagemap_clear(d->addr, d->mapped);
	xa_os_unmap((void *)d->addr, d->mapped);
	xa_pool_put(&huge_pool, d);
}

/* Take a cached mapping for usize bytes aligned to align: at least usize and
 * at most a quarter more (the excess is unmapped). */
static xa_chunk_t *cache_take(size_t usize, size_t align) {
	xa_chunk_t *d;
	xa_mutex_lock(&huge_lock);
	for (d = huge_cache; d; d = d->hnext)
		if (d->mapped >= usize && d->mapped - usize <= usize / 4 && (d->addr & (align - 1)) == 0)
			break;
	if (d)
		cache_remove(d);
	xa_mutex_unlock(&huge_lock);
	if (d && d->mapped > usize) {
		xa_pagemap_clear(d->addr + CHUNK_CEIL(usize), CHUNK_CEIL(d->mapped) - CHUNK_CEIL(usize));
		xa_os_unmap((void *)(d->addr + usize), d->mapped - usize);
		d->mapped = usize;
	}
	return d;
}

size_t xa_huge_purge(bool force) {
	size_t bytes = 0;
	for (;;) {
		xa_chunk_t *victim = NULL;
		xa_mutex_lock(&huge_lock);
		int64_t decay = atomic_load(&xa_decay_default_ms);
		uint64_t now = xa_now_ns();
		/* the oldest is at the tail */
		xa_chunk_t *d = huge_cache;
		while (d && d->hnext)
			d = d->hnext;
		if (d && (force || xa_decay_due(decay, d->freed_ns, now))) {
			victim = d;
			cache_remove(d);
		}
		xa_mutex_unlock(&huge_lock);
		if (!victim)
			break;
		bytes += victim->mapped;
		huge_unmap(victim);
	}
	return bytes;
}

uint64_t xa_huge_next_due(uint64_t now) {
	uint64_t r = UINT64_MAX;
	xa_mutex_lock(&huge_lock);
	for (xa_chunk_t *d = huge_cache; d; d = d->hnext) {
		uint64_t w = xa_decay_wait_ns(atomic_load(&xa_decay_default_ms), d->freed_ns, now);
		if (w < r)
			r = w;
	}
	xa_mutex_unlock(&huge_lock);
	return r;
}

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
	for (xa_chunk_t *d = huge_list; d; d = d->hnext) {
		ssize_t n = xa_os_resident_pages((void *)d->addr, d->mapped);
		l += n > 0 ? (size_t)n * PAGE : 0;
	}
	for (xa_chunk_t *d = huge_cache; d; d = d->hnext) {
		ssize_t n = xa_os_resident_pages((void *)d->addr, d->mapped);
		c += n > 0 ? (size_t)n * PAGE : 0;
	}
	xa_mutex_unlock(&huge_lock);
	*live = l;
	*cached = c;
}

static void huge_link(xa_chunk_t *d) {
	xa_mutex_lock(&huge_lock);
	d->hprev = NULL;
	d->hnext = huge_list;
	if (huge_list)
		huge_list->hprev = d;
	huge_list = d;
	huge_allocated += d->size;
	huge_mapped += d->mapped;
	huge_cur++;
	huge_nmalloc++;
	xa_mutex_unlock(&huge_lock);
}

static void huge_unlink(xa_chunk_t *d) {
	xa_mutex_lock(&huge_lock);
	if (d->hprev)
		d->hprev->hnext = d->hnext;
	else
		huge_list = d->hnext;
	if (d->hnext)
		d->hnext->hprev = d->hprev;
	huge_allocated -= d->size;
	huge_mapped -= d->mapped;
	huge_cur--;
	huge_ndalloc++;
	xa_mutex_unlock(&huge_lock);
}

void *xa_huge_malloc(size_t usize, size_t align, bool zero) {
	if (align < CHUNK)
		align = CHUNK;
	xa_chunk_t *d = cache_take(usize, align);
	if (d) {
		d->kind = CHUNK_HUGE;
		d->size = usize;
		huge_link(d);
		if (zero)
			memset((void *)d->addr, 0, usize);
		return (void *)d->addr;
	}
	d = xa_pool_get(&huge_pool);
	if (d == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = xa_os_map(usize, align);
	if (p == NULL) {
		xa_pool_put(&huge_pool, d);
		errno = ENOMEM;
		return NULL;
	}
	memset(d->pclass, PCLASS_NONE, sizeof(d->pclass));
	d->kind = CHUNK_HUGE;
	d->addr = (uintptr_t)p;
	d->size = usize;
	d->mapped = usize;
	if (xa_pagemap_set(d->addr, usize, d)) {
		xa_os_unmap(p, usize);
		xa_pool_put(&huge_pool, d);
		errno = ENOMEM;
		return NULL;
	}
	huge_link(d);
	return p;
}

void xa_huge_free(xa_chunk_t *d) {
	huge_unlink(d);
	int64_t decay = atomic_load(&xa_decay_default_ms);
	xa_chunk_t *evict = NULL;
	bool keep = decay != 0 && d->mapped <= HUGE_CACHE_MAX / 4;
	if (keep) {
		xa_mutex_lock(&huge_lock);
		d->kind = CHUNK_HUGE_CACHED;
		d->freed_ns = xa_now_ns();
		d->hprev = NULL;
		d->hnext = huge_cache;
		if (huge_cache)
			huge_cache->hprev = d;
		huge_cache = d;
		huge_cached += d->mapped;
		huge_ncached++;
		if (huge_cached > HUGE_CACHE_MAX || huge_ncached > HUGE_CACHE_NMAX) {
			evict = huge_cache;
			while (evict->hnext)
				evict = evict->hnext;
			cache_remove(evict);
		}
		xa_mutex_unlock(&huge_lock);
		if (evict)
			huge_unmap(evict);
		xa_background_kick();
		return;
	}
	huge_unmap(d);
}

/* Resize to usize (page multiple, > SC_LARGE_MAX).  Returns the new address,
 * or NULL with the old allocation intact. */
void *xa_huge_realloc(xa_chunk_t *d, size_t usize) {
	size_t old = d->mapped;
	if (usize == old)
		return (void *)d->addr;
	huge_unlink(d);
	if (usize < old) {
		xa_pagemap_clear(d->addr + CHUNK_CEIL(usize), CHUNK_CEIL(old) - CHUNK_CEIL(usize));
		xa_os_unmap((void *)(d->addr + usize), old - usize);
		d->size = d->mapped = usize;
		huge_link(d);
		return (void *)d->addr;
	}
	if (xa_os_grow_inplace((void *)d->addr, old, usize)) {
		if (xa_pagemap_set(d->addr, usize, d) == false) {
			d->size = d->mapped = usize;
			huge_link(d);
			return (void *)d->addr;
		}
		/* No metadata for the new granules: shrink back in place. */
		xa_os_grow_inplace((void *)d->addr, usize, old);
		huge_link(d);
		errno = ENOMEM;
		return NULL;
	}
	uintptr_t oaddr = d->addr;
	void *p = xa_os_remap((void *)oaddr, old, usize, CHUNK);
	if (p == NULL) {
		huge_link(d);
		errno = ENOMEM;
		return NULL;
	}
	/* The old range is gone (mremap moved it); publish the new one. */
	xa_pagemap_clear(oaddr, old);
	d->addr = (uintptr_t)p;
	d->size = d->mapped = usize;
	if (xa_pagemap_set(d->addr, usize, d)) {
		xa_os_unmap(p, usize);
		xa_pool_put(&huge_pool, d);
		errno = ENOMEM;
		return NULL; /* cannot happen without metadata exhaustion */
	}
	huge_link(d);
	return p;
}

void xa_huge_prefork(void) { xa_mutex_lock(&huge_lock); }
void xa_huge_postfork_parent(void) { xa_mutex_unlock(&huge_lock); }
void xa_huge_postfork_child(void) { xa_mutex_init(&huge_lock); }
