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
 * The reservation starts with an empty chunk descriptor (page entries all
 * PCLASS_NONE) in its first page; the array follows.  Entries hold
 * (descriptor - base), so a zero entry means the empty descriptor: the free
 * fast path adds the entry to the base it already holds in a register, never
 * tests for NULL, and a pointer that is not ours reads PCLASS_NONE and goes
 * to the slow path, which reports it.
 *
 * The map is reserved when the first chunk is registered.  Until then
 * xa_pagemap_base points at a static empty descriptor followed by one zero
 * word and the mask is 0, so every lookup reads that word.  Publication:
 * the base is stored before the mask (release); readers load the mask first
 * (acquire), so a reader that uses the full mask also uses the real map.  Writers (mapping and unmapping chunks) serialise on one lock;
 * entries are published with release stores after the descriptor is
 * complete, so a reader that finds a descriptor sees it initialised.
 */
#include "internal.h"

#define PAGEMAP_ENTRIES ((uintptr_t)1 << (LG_VADDR - LG_CHUNK))

_Static_assert(sizeof(xa_chunk_t) <= PAGEMAP_HDR, "the empty descriptor fits the map's header");
static const struct {
	union {
		xa_chunk_t d;
		char bytes[PAGEMAP_HDR];
	} hdr;
	uintptr_t entry0;
} pagemap_static = {.hdr.d.pclass = {[0 ... CHUNK_NPAGES - 1] = PCLASS_NONE}};
const char *xa_pagemap_base = (const char *)&pagemap_static;
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
	char *base = xa_os_reserve_zero(PAGEMAP_HDR + PAGEMAP_ENTRIES * sizeof(uintptr_t));
	if (base == NULL)
		return true;
	memset(((xa_chunk_t *)(void *)base)->pclass, PCLASS_NONE, sizeof(((xa_chunk_t *)0)->pclass));
	__atomic_store_n(&pagemap_ntouched, pagemap_ntouched + 1, __ATOMIC_RELAXED); /* that page */
	__atomic_store_n(&xa_pagemap_base, base, __ATOMIC_RELEASE);
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
	uintptr_t *map = (uintptr_t *)(uintptr_t)(xa_pagemap_base + PAGEMAP_HDR);
	uintptr_t v = (uintptr_t)chunk - (uintptr_t)xa_pagemap_base;
	for (uintptr_t a = addr; a < addr + size; a += CHUNK) {
		size_t mp = (a >> LG_CHUNK) * sizeof(uintptr_t) / PAGE;
		if (!(pagemap_touched[mp / 64] & ((uint64_t)1 << (mp % 64)))) {
			pagemap_touched[mp / 64] |= (uint64_t)1 << (mp % 64);
			__atomic_store_n(&pagemap_ntouched, pagemap_ntouched + 1, __ATOMIC_RELAXED);
		}
		__atomic_store_n(&map[a >> LG_CHUNK], v, __ATOMIC_RELEASE);
	}
	xa_mutex_unlock(&pagemap_lock);
	return false;
}

void xa_pagemap_clear(uintptr_t addr, size_t size) {
	xa_mutex_lock(&pagemap_lock);
	uintptr_t *map = (uintptr_t *)(uintptr_t)(xa_pagemap_base + PAGEMAP_HDR);
	if (xa_pagemap_mask)
		for (uintptr_t a = addr; a < addr + size; a += CHUNK)
			__atomic_store_n(&map[(a >> LG_CHUNK) & xa_pagemap_mask], 0, __ATOMIC_RELEASE);
	xa_mutex_unlock(&pagemap_lock);
}

void xa_pagemap_prefork(void) { xa_mutex_lock(&pagemap_lock); }
void xa_pagemap_postfork_parent(void) { xa_mutex_unlock(&pagemap_lock); }
void xa_pagemap_postfork_child(void) { xa_mutex_init(&pagemap_lock); }
