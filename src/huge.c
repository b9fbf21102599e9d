/*
 * huge.c -- allocations above the largest large class: one mapping each.
 *
 * Owns: mapping, unmapping and resizing huge allocations and their
 * descriptors (kind CHUNK_HUGE, registered in the pagemap for every chunk
 * granule they cover), and the huge statistics.  A freed huge allocation is
 * unmapped at once: its pages leave RSS and its address space goes back.
 * realloc uses mremap, so growing a huge buffer never copies.
 *
 * Locking: huge_lock protects the list of live huge allocations and the
 * counters; mmap/munmap/mremap happen outside it.
 */
#include "internal.h"

static xa_mutex_t huge_lock = XA_MUTEX_INITIALIZER;
static xa_chunk_t *huge_list;
static xa_pool_t huge_pool = {sizeof(xa_chunk_t), NULL, 0, 0};
static size_t huge_allocated, huge_mapped, huge_cur;
static uint64_t huge_nmalloc, huge_ndalloc;

void xa_huge_stats(size_t *allocated, size_t *mapped, size_t *cur, uint64_t *nmalloc, uint64_t *ndalloc) {
	xa_mutex_lock(&huge_lock);
	*allocated = huge_allocated;
	*mapped = huge_mapped;
	*cur = huge_cur;
	*nmalloc = huge_nmalloc;
	*ndalloc = huge_ndalloc;
	xa_mutex_unlock(&huge_lock);
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
	(void)zero; /* fresh anonymous pages are zero */
	if (align < CHUNK)
		align = CHUNK;
	xa_chunk_t *d = xa_pool_get(&huge_pool);
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
	xa_pagemap_clear(d->addr, d->mapped);
	xa_os_unmap((void *)d->addr, d->mapped);
	xa_pool_put(&huge_pool, d);
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
