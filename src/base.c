/*
 * base.c -- metadata memory for the allocator's own structures.
 *
 * Owns: a bump allocator over blocks mapped from the OS, and fixed-size
 * pools with free lists on top of it (run descriptors, chunk descriptors,
 * thread-cache stacks).  Never calls malloc.  Metadata is never returned to
 * the OS (it is small and recycled through the pools); it is counted in
 * stats.metadata.
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

void *xa_pool_get(xa_pool_t *pool) {
	xa_mutex_lock(&base_lock);
	void *r = pool->free;
	if (r) {
		pool->free = *(void **)r;
		pool->nfree--;
	} else {
		r = base_alloc_locked(pool->size);
	}
	if (r)
		pool->nused++;
	xa_mutex_unlock(&base_lock);
	if (r)
		memset(r, 0, pool->size);
	return r;
}

void xa_pool_put(xa_pool_t *pool, void *obj) {
	xa_mutex_lock(&base_lock);
	*(void **)obj = pool->free;
	pool->free = obj;
	pool->nfree++;
	pool->nused--;
	xa_mutex_unlock(&base_lock);
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

void xa_base_prefork(void) { xa_mutex_lock(&base_lock); }
void xa_base_postfork_parent(void) { xa_mutex_unlock(&base_lock); }
void xa_base_postfork_child(void) { xa_mutex_init(&base_lock); }
