/*
 * sizeclass.h -- the size-class table and the inline size <-> class maps.
 *
 * One source of truth for sizes.  Classes are spaced geometrically, four per
 * doubling (internal waste <= 25%), after eight 16-byte steps:
 *   16 32 48 64 80 96 112 128 | 160 192 224 256 | 320 384 448 512 | ...
 * Classes up to SC_SMALL_MAX are "small": regions of slabs.  Classes above it
 * up to SC_LARGE_MAX (one chunk) are "large": page runs, and every large class
 * is a multiple of the page size.  Anything bigger is "huge" (own mapping,
 * page-granular usable size, class index SC_HUGE).
 *
 * The tables are filled by xa_sc_boot() from pure arithmetic (unit-tested in
 * test/unit/test_internals.c) before the first allocation.
 */
#ifndef XA_SIZECLASS_H
#define XA_SIZECLASS_H

#define SC_NSMALL 36
#define SC_NCLASSES 68
#define SC_HUGE SC_NCLASSES
#define SC_SMALL_MAX ((size_t)16384)
#define SC_LARGE_MAX CHUNK
#define SC_LOOKUP_MAX ((size_t)4096)
#define SC_NLOOKUP (SC_LOOKUP_MAX / QUANTUM + 1)

typedef struct {
	uint32_t size;   /* class size in bytes */
	uint16_t npages; /* small: pages per slab; large: size / PAGE */
	uint16_t nregs;  /* small: regions per slab */
	uint32_t recip;  /* small: ceil(2^32 / size), for offset -> index */
} xa_sc_info_t;

extern xa_sc_info_t xa_sc[SC_NCLASSES] XA_HIDDEN;
extern uint32_t xa_sc_size[SC_NCLASSES + 1] XA_HIDDEN; /* [SC_HUGE] = 0 */
extern uint8_t xa_sc_lookup[SC_NLOOKUP] XA_HIDDEN;

/*
 * Small classes for aligned requests (tcache.h, xa_tcache_aligned): every
 * region of a class whose size is a multiple of align (align <= PAGE) is
 * aligned, as slabs start on a page.  For lg_align in (4, LG_PAGE], entry
 * xa_sc_aligned_row[lg_align] + ((size + align - 1) >> lg_align) is the
 * smallest small class that is a multiple of align and holds size (at
 * least align); 0 where there is none, and before xa_sc_boot (class 0, 16
 * bytes, is never one).
 */
#define SC_ALIGNED_ENTRIES 1040 /* sum over lg 5..12 of (16 KiB >> lg) + 1 */
extern uint16_t xa_sc_aligned_row[LG_PAGE + 1] XA_HIDDEN;
extern uint8_t xa_sc_aligned[SC_ALIGNED_ENTRIES] XA_HIDDEN;

void xa_sc_boot(void);
/* Pure computation behind the tables (testable without the tables). */
size_t xa_sc_compute_size(unsigned cls);
unsigned xa_sc_compute_class(size_t size);

XA_INLINE unsigned xa_sc_size2class(size_t size) {
	if (likely(size <= SC_LOOKUP_MAX))
		return xa_sc_lookup[(size + QUANTUM - 1) >> 4];
	if (unlikely(size > SC_LARGE_MAX))
		return SC_HUGE;
	unsigned lg = 63 - (unsigned)__builtin_clzl(size - 1);
	size_t delta = (size_t)1 << (lg - 2);
	unsigned i = (unsigned)((size - ((size_t)1 << lg) + delta - 1) >> (lg - 2));
	return 8 + (lg - 7) * 4 + (i - 1);
}

/* Pages of a grown slab of class cls (arena.c, "Slabs grow in busy bins"):
 * for classes above SC_GROW_MIN, the largest multiple of the class's slab
 * within SLAB_MAXPAGES (the same layout of regions over pages, repeated);
 * for classes up to SC_GROW_SMALL_MAX, the largest multiple holding at most
 * SLAB_MAXREGS regions (64 bytes: 4 pages, 256 regions); the class's slab
 * otherwise. */
#define SC_GROW_MIN ((size_t)1024)
#define SC_GROW_SMALL_MAX ((size_t)256)
XA_INLINE unsigned xa_sc_grown_pages(unsigned cls) {
	unsigned np = xa_sc[cls].npages;
	if (xa_sc[cls].size > SC_GROW_MIN)
		return np * (SLAB_MAXPAGES / np);
	if (xa_sc[cls].size <= SC_GROW_SMALL_MAX) {
		unsigned k = (unsigned)(((size_t)SLAB_MAXREGS * xa_sc[cls].size) / ((size_t)np * PAGE));
		k = XA_MIN(k, SLAB_MAXPAGES / np);
		return k ? np * k : np;
	}
	return np;
}

/* Region index of byte offset off in a slab of class cls (exact for slab
 * offsets below 2^32 / size, which every slab satisfies). */
XA_INLINE unsigned xa_sc_region_index(unsigned cls, size_t off) {
	return (unsigned)(((uint64_t)off * xa_sc[cls].recip) >> 32);
}

/* ceil(2^64 / size), for size >= 2: for an offset off < 2^16 (every slab
 * offset), the high half of the 128-bit product off * magic is off / size,
 * and its low half is below magic exactly when size divides off (Lemire,
 * Kaser, Kurz, 2019, as xa_tcache_fmagic with 64 bits: 64 >= 16 + 14).
 * One multiply gives the flush both the region index and the region-start
 * check (arena.c, bin_dalloc_batch). */
XA_INLINE uint64_t xa_sc_magic64(size_t size) { return UINT64_MAX / size + 1; }

#endif
