/*
 * sizeclass.c -- builds the class tables (see sizeclass.h for the scheme).
 *
 * Slab geometry: for each small class, the smallest slab of 1..16 pages
 * whose tail waste is at most 1/32 of the slab; otherwise the least
 * wasteful one.  Classes up to 512 bytes also want at least 8 regions per
 * slab (fewer slab refills).  Larger classes get the smallest slab on
 * purpose: a slab stays resident while any of its regions lives, so a few
 * survivors of a burst pin at most a few pages each (measured with
 * bench/b_spike: 64 KiB slabs for the 4-16 KiB classes kept ~80 MiB more
 * resident after a 1.5 GiB burst with 5% survivors, at the 2026-11-22
 * checkpoint).  A bin that already has many slabs makes larger ones, the
 * same layout repeated (xa_sc_grown_pages, arena.c "Slabs grow in busy
 * bins"): in-slab purging keeps survivors from pinning more pages, and a
 * burst needs fewer run descriptors.  Regions are capped at SLAB_MAXREGS
 * so the free bitmap has a fixed size.
 */
#include "internal.h"

xa_sc_info_t xa_sc[SC_NCLASSES];
uint32_t xa_sc_size[SC_NCLASSES + 1];
uint8_t xa_sc_lookup[SC_NLOOKUP];
uint16_t xa_sc_aligned_row[LG_PAGE + 1];
uint8_t xa_sc_aligned[SC_ALIGNED_ENTRIES];

size_t xa_sc_compute_size(unsigned cls) {
	if (cls < 8)
		return (size_t)(cls + 1) * QUANTUM;
	unsigned g = (cls - 8) / 4, i = (cls - 8) % 4 + 1;
	unsigned lg = 7 + g;
	return ((size_t)1 << lg) + (size_t)i * ((size_t)1 << (lg - 2));
}

unsigned xa_sc_compute_class(size_t size) {
	for (unsigned c = 0; c < SC_NCLASSES; c++)
		if (xa_sc_compute_size(c) >= size)
			return c;
	return SC_HUGE;
}

static void sc_slab_geometry(size_t size, uint16_t *npages, uint16_t *nregs) {
	unsigned best = 1;
	size_t best_waste = SIZE_MAX;
	for (unsigned np = 1; np <= SLAB_MAXPAGES; np++) {
		size_t slab = np * PAGE, n = slab / size;
		if (n == 0)
			continue;
		if (n > SLAB_MAXREGS)
			break;
		size_t waste = slab - n * size;
		bool enough = size > 512 || n >= 8;
		if (waste * 32 <= slab && enough) {
			best = np;
			break;
		}
		/* compare waste as a share of the slab */
		if (best_waste == SIZE_MAX || waste * best * PAGE < best_waste * slab) {
			best = np;
			best_waste = waste;
		}
	}
	*npages = (uint16_t)best;
	size_t n = best * PAGE / size;
	*nregs = (uint16_t)(n > SLAB_MAXREGS ? SLAB_MAXREGS : n);
}

void xa_sc_boot(void) {
	for (unsigned c = 0; c < SC_NCLASSES; c++) {
		size_t s = xa_sc_compute_size(c);
		xa_sc[c].size = (uint32_t)s;
		xa_sc_size[c] = (uint32_t)s;
		if (c < SC_NSMALL) {
			sc_slab_geometry(s, &xa_sc[c].npages, &xa_sc[c].nregs);
			xa_sc[c].recip = (uint32_t)((((uint64_t)1 << 32) + s - 1) / s);
		} else {
			xa_sc[c].npages = (uint16_t)(s / PAGE);
			xa_sc[c].nregs = 1;
			xa_sc[c].recip = 0;
		}
	}
	xa_sc_size[SC_HUGE] = 0;
	unsigned c = 0;
	for (size_t i = 0; i < SC_NLOOKUP; i++) {
		size_t s = i * QUANTUM;
		while (xa_sc_compute_size(c) < s)
			c++;
		xa_sc_lookup[i] = (uint8_t)c;
	}
	unsigned off = 0;
	for (unsigned lg = 5; lg <= LG_PAGE; lg++) {
		size_t align = (size_t)1 << lg, n = (SC_SMALL_MAX >> lg) + 1;
		xa_sc_aligned_row[lg] = (uint16_t)off;
		xa_assert(off + n <= SC_ALIGNED_ENTRIES);
		for (size_t k = 0; k < n; k++) {
			size_t want = (k ? k : 1) * align;
			uint8_t cls = 0;
			for (unsigned c2 = xa_sc_size2class(want); c2 < SC_NSMALL; c2++)
				if (xa_sc_size[c2] % align == 0) {
					cls = (uint8_t)c2;
					break;
				}
			xa_sc_aligned[off + k] = cls;
		}
		off += (unsigned)n;
	}
}
