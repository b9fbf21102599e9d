/*
 * stats.c -- statistics: merging the counters into a snapshot, and output.
 * (Being extended by the ctl/stats work: see ctl.c.)
 */
#include "internal.h"

void xa_huge_stats(size_t *allocated, size_t *mapped, size_t *cur, uint64_t *nmalloc, uint64_t *ndalloc);

typedef struct {
	uint64_t allocated, active, mapped, dirty, lazy, retained, tcache, metadata, huge_mapped;
	size_t nhuge;
} basic_stats_t;

static void stats_basic(basic_stats_t *s) {
	memset(s, 0, sizeof(*s));
	uint64_t a, d, tc;
	xa_tsd_totals(&a, &d, &tc);
	s->allocated = a - d;
	s->tcache = tc;
	unsigned n = atomic_load(&xa_narenas_created);
	for (unsigned i = 0; i < n; i++) {
		xa_arena_t *ar = xa_arenas[i];
		xa_mutex_lock(&ar->lock);
		s->active += ar->stats.active_pages * PAGE;
		s->dirty += ar->stats.npages[PS_DIRTY] * PAGE;
		s->lazy += ar->stats.npages[PS_LAZY] * PAGE;
		s->retained += ar->stats.npages[PS_RETAINED] * PAGE;
		s->mapped += ar->stats.mapped_chunks * CHUNK;
		xa_mutex_unlock(&ar->lock);
	}
	size_t ha, hm, hc;
	uint64_t hn, hd;
	xa_huge_stats(&ha, &hm, &hc, &hn, &hd);
	s->active += hm;
	s->mapped += hm;
	s->huge_mapped = hm;
	s->nhuge = hc;
	s->metadata = xa_base_mapped();
}

void xa_mallinfo_fill(size_t *arena, size_t *ordblks, size_t *hblks, size_t *hblkhd,
    size_t *uordblks, size_t *fordblks, size_t *keepcost) {
	if (!xa_initialized())
		return;
	basic_stats_t s;
	stats_basic(&s);
	*arena = s.mapped - s.huge_mapped;
	*ordblks = 0;
	*hblks = s.nhuge;
	*hblkhd = s.huge_mapped;
	*uordblks = s.allocated;
	*fordblks = s.mapped - s.retained > s.allocated ? s.mapped - s.retained - s.allocated : 0;
	*keepcost = s.dirty;
}

void xa_stats_print_default(void) {
	basic_stats_t s;
	stats_basic(&s);
	char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32];
	xa_message("allocated %s, active %s, mapped %s, dirty %s, retained %s, tcache %s",
	    xa_fmt_bytes(b1, 32, s.allocated), xa_fmt_bytes(b2, 32, s.active),
	    xa_fmt_bytes(b3, 32, s.mapped), xa_fmt_bytes(b4, 32, s.dirty),
	    xa_fmt_bytes(b5, 32, s.retained), xa_fmt_bytes(b6, 32, s.tcache));
}

void xa_stats_atexit(void) {
	if (xa_opt.stats_print)
		xa_stats_print_default();
}
