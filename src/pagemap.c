/*
 * pagemap.c -- pointer -> chunk descriptor, O(1) and lock-free for readers.
 *
 * Every mapping that holds user memory starts on a CHUNK (4 MiB) boundary,
 * so the chunk number (address >> LG_CHUNK, 25 bits for the 47-bit user
 * address space) indexes one flat array of 2^25 words (256 MiB of address
 * space reserved with MAP_NORESERVE: only the pages written become
 * resident, one 4 KiB page per 2 GiB of mapped address range; reads of
 * untouched pages give zero).  One dependent load reaches a descriptor.
 *
 * Entries hold (descriptor - &xa_chunk_empty), so a zero entry means the
 * static empty descriptor, whose page entries are all PCLASS_NONE: the free
 * fast path never tests for NULL, and a pointer that is not ours reads
 * PCLASS_NONE and goes to the slow path, which reports it.
 *
 * The map is reserved when the first chunk is registered.  Until then
 * xa_pagemap_map points at a one-word static zero array and the mask is 0,
 * so every lookup reads word 0 (the empty descriptor).  Publication: the
 * map pointer is stored before the mask (release); readers load the mask
 * first (acquire), so a reader that uses the full mask also uses the real
 * map.  Writers (mapping and unmapping chunks) serialise on one lock;
 * entries are published with release stores after the descriptor is
 * complete, so a reader that finds a descriptor sees it initialised.
 */
#include "internal.h"

#define PAGEMAP_ENTRIES ((uintptr_t)1 << (LG_VADDR - LG_CHUNK))

const xa_chunk_t xa_chunk_empty = {.pclass = {[0 ... CHUNK_NPAGES - 1] = PCLASS_NONE}};
static uintptr_t pagemap_none[1];
uintptr_t *xa_pagemap_map = pagemap_none;
uintptr_t xa_pagemap_mask;
static xa_mutex_t pagemap_lock = XA_MUTEX_INITIALIZER;
/* Pages of the map ever written (they stay resident): counted as metadata
 * so the statistics still add up to the kernel's RSS. */
#define MAP_PAGES (PAGEMAP_ENTRIES * sizeof(uintptr_t) / PAGE)
static uint64_t pagemap_touched[MAP_PAGES / 64];
static size_t pagemap_ntouched;

size_t xa_pagemap_bytes(void) { return __atomic_load_n(&pagemap_ntouched, __ATOMIC_RELAXED) * PAGE; }

/* pagemap_lock held.  Returns true on error. */
static bool pagemap_reserve(void) {
	if (xa_pagemap_mask)
		return false;
	uintptr_t *map = xa_os_reserve_zero(PAGEMAP_ENTRIES * sizeof(uintptr_t));
	if (map == NULL)
		return true;
	__atomic_store_n(&xa_pagemap_map, map, __ATOMIC_RELEASE);
	__atomic_store_n(&xa_pagemap_mask, PAGEMAP_ENTRIES - 1, __ATOMIC_RELEASE);
	return false;
}

bool xa_pagemap_set(uintptr_t addr, size_t size, xa_chunk_t *chunk) {
	xa_assert((addr & CHUNK_MASK) == 0);
	if (((addr + size - 1) >> LG_VADDR) != 0)
		return true;
	xa_mutex_lock(&pagemap_lock);
	if (pagemap_reserve()) {
		xa_mutex_unlock(&pagemap_lock);
		return true;
	}
	uintptr_t v = (uintptr_t)chunk - (uintptr_t)&xa_chunk_empty;
	for (uintptr_t a = addr; a < addr + size; a += CHUNK) {
		size_t mp = (a >> LG_CHUNK) * sizeof(uintptr_t) / PAGE;
		if (!(pagemap_touched[mp / 64] & ((uint64_t)1 << (mp % 64)))) {
			pagemap_touched[mp / 64] |= (uint64_t)1 << (mp % 64);
			__atomic_store_n(&pagemap_ntouched, pagemap_ntouched + 1, __ATOMIC_RELAXED);
		}
		__atomic_store_n(&xa_pagemap_map[a >> LG_CHUNK], v, __ATOMIC_RELEASE);
	}
	xa_mutex_unlock(&pagemap_lock);
	return false;
}

void xa_pagemap_clear(uintptr_t addr, size_t size) {
	xa_mutex_lock(&pagemap_lock);
	if (xa_pagemap_mask)
		for (uintptr_t a = addr; a < addr + size; a += CHUNK)
			__atomic_store_n(&xa_pagemap_map[(a >> LG_CHUNK) & xa_pagemap_mask], 0, __ATOMIC_RELEASE);
	xa_mutex_unlock(&pagemap_lock);
}

void xa_pagemap_prefork(void) { xa_mutex_lock(&pagemap_lock); }
void xa_pagemap_postfork_parent(void) { xa_mutex_unlock(&pagemap_lock); }
void xa_pagemap_postfork_child(void) { xa_mutex_init(&pagemap_lock); }
