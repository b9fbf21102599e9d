/*
 * pagemap.c -- pointer -> chunk descriptor, O(1) and lock-free for readers.
 *
 * A two-level radix tree keyed by the chunk number (address >> LG_CHUNK) of
 * the 47-bit user address space: a static first level of 2^PAGEMAP_L1_BITS
 * pointers (in .bss: only the touched pages become resident) and second-level
 * leaves of 2^PAGEMAP_L2_BITS descriptors from base, each covering 32 GiB.
 * Leaves are never freed, so a reader that loaded a leaf pointer can always
 * read it.  Writers (mapping and unmapping chunks) serialise on one lock;
 * entries are published with release stores after the descriptor is
 * complete, so a reader that finds a descriptor sees it initialised.
 */
#include "internal.h"

_Atomic(xa_chunk_t **) xa_pagemap_l1[(size_t)1 << PAGEMAP_L1_BITS];
static xa_mutex_t pagemap_lock = XA_MUTEX_INITIALIZER;

#define L2_MASK (((uintptr_t)1 << PAGEMAP_L2_BITS) - 1)

bool xa_pagemap_set(uintptr_t addr, size_t size, xa_chunk_t *chunk) {
	xa_assert((addr & CHUNK_MASK) == 0);
	xa_mutex_lock(&pagemap_lock);
	for (uintptr_t a = addr; a < addr + size; a += CHUNK) {
		uintptr_t i1 = a >> (LG_CHUNK + PAGEMAP_L2_BITS);
		if (i1 >= ((uintptr_t)1 << PAGEMAP_L1_BITS)) {
			xa_mutex_unlock(&pagemap_lock);
			return true;
		}
		xa_chunk_t **l2 = atomic_load_explicit(&xa_pagemap_l1[i1], memory_order_relaxed);
		if (l2 == NULL) {
			l2 = xa_base_alloc(sizeof(xa_chunk_t *) << PAGEMAP_L2_BITS);
			if (l2 == NULL) {
				xa_mutex_unlock(&pagemap_lock);
				if (a > addr)
					xa_pagemap_clear(addr, a - addr);
				return true;
			}
			atomic_store_explicit(&xa_pagemap_l1[i1], l2, memory_order_release);
		}
		__atomic_store_n(&l2[(a >> LG_CHUNK) & L2_MASK], chunk, __ATOMIC_RELEASE);
	}
	xa_mutex_unlock(&pagemap_lock);
	return false;
}

void xa_pagemap_clear(uintptr_t addr, size_t size) {
	xa_mutex_lock(&pagemap_lock);
	for (uintptr_t a = addr; a < addr + size; a += CHUNK) {
		xa_chunk_t **l2 = atomic_load_explicit(
		    &xa_pagemap_l1[a >> (LG_CHUNK + PAGEMAP_L2_BITS)], memory_order_relaxed);
		if (l2)
			__atomic_store_n(&l2[(a >> LG_CHUNK) & L2_MASK], NULL, __ATOMIC_RELEASE);
	}
	xa_mutex_unlock(&pagemap_lock);
}

void xa_pagemap_prefork(void) { xa_mutex_lock(&pagemap_lock); }
void xa_pagemap_postfork_parent(void) { xa_mutex_unlock(&pagemap_lock); }
void xa_pagemap_postfork_child(void) { xa_mutex_init(&pagemap_lock); }
