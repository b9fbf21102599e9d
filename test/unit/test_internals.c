/*
 * Pure logic and internal invariants, on the test build's internals:
 * size classes, decay arithmetic, option parsing, page-state accounting,
 * batched slab frees, and the idle-thread cache reclaim protocol.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "xt.h"

Test(sizeclass, table_is_geometric_and_bounded) {
	xt_free(xt_malloc(1)); /* bootstrap */
	for (unsigned c = 1; c < SC_NCLASSES; c++) {
		size_t prev = xa_sc_size[c - 1], s = xa_sc_size[c];
		cr_assert_gt(s, prev);
		cr_assert_eq(s % QUANTUM, 0);
		/* at most 25% internal waste for a request one byte over prev
         * (below 128 bytes the 16-byte alignment quantum bounds it) */
		if (s > 128)
			cr_assert_leq((s - (prev + 1)) * 4, prev + 1, "class %u (%zu) after %zu wastes too much", c, s,
			    prev);
		else
			cr_assert_eq(s - prev, QUANTUM);
		if (c >= SC_NSMALL)
			cr_assert_eq(s % PAGE, 0, "large class %zu not page-granular", s);
	}
	cr_assert_eq(xa_sc_size[SC_NSMALL - 1], SC_SMALL_MAX);
	cr_assert_eq(xa_sc_size[SC_NCLASSES - 1], SC_LARGE_MAX);
}

/* The aligned-request table (sizeclass.h, xa_sc_aligned): each entry is the
 * smallest small class that is a multiple of the alignment and holds the
 * entry's number of alignments (at least one); every such request has one. */
Test(sizeclass, aligned_table_is_the_smallest_aligned_class) {
	xt_free(xt_malloc(1));
	for (unsigned lg = 5; lg <= LG_PAGE; lg++) {
		size_t a = (size_t)1 << lg;
		for (size_t k = 0; k <= SC_SMALL_MAX >> lg; k++) {
			unsigned cls = xa_sc_aligned[xa_sc_aligned_row[lg] + k];
			size_t want = (k ? k : 1) * a;
			cr_assert(cls > 0 && cls < SC_NSMALL, "align %zu, %zu aligns: class %u", a, k, cls);
			cr_assert_eq(xa_sc_size[cls] % a, 0, "align %zu: class size %u", a, xa_sc_size[cls]);
			cr_assert_geq(xa_sc_size[cls], want);
			for (unsigned c = 1; c < cls; c++)
				cr_assert(xa_sc_size[c] < want || xa_sc_size[c] % a != 0,
				    "align %zu, %zu aligns: class %u (%u B) is smaller than %u", a, k, c,
				    xa_sc_size[c], cls);
		}
	}
}

Test(sizeclass, lookup_matches_computation) {
	xt_free(xt_malloc(1));
	for (size_t s = 0; s <= SC_LARGE_MAX + 1; s += (s < 70000 ? 1 : 4093)) {
		unsigned c = xa_sc_size2class(s);
		cr_assert_eq(c, xa_sc_compute_class(s ? s : 1), "size %zu", s);
	}
	cr_assert_eq(xa_sc_size2class(SC_LARGE_MAX + 1), SC_HUGE);
}

Test(sizeclass, region_index_is_exact) {
	xt_free(xt_malloc(1));
	for (unsigned c = 0; c < SC_NSMALL; c++) {
		size_t size = xa_sc[c].size;
		cr_assert_geq(xa_sc[c].nregs, 1);
		cr_assert_leq((size_t)xa_sc[c].nregs * size, (size_t)xa_sc[c].npages * PAGE);
		for (size_t i = 0; i < xa_sc[c].nregs; i++) {
			cr_assert_eq(xa_sc_region_index(c, i * size), i, "class %zu region %zu", size, i);
			if (size > 1)
				cr_assert_eq(xa_sc_region_index(c, i * size + size - 1), i);
		}
	}
}

/* The flush's region test (sizeclass.h, xa_sc_magic64): for every offset
 * in a slab of up to SLAB_MAXPAGES pages, the high half of off * magic is
 * the region index and the low half is below magic exactly at region
 * starts. */
Test(sizeclass, magic64_index_and_start_are_exact) {
	xt_free(xt_malloc(1));
	for (unsigned c = 0; c < SC_NSMALL; c++) {
		uint64_t size = xa_sc[c].size, m = xa_sc_magic64(size);
		for (uint64_t off = 0; off < (uint64_t)SLAB_MAXPAGES * PAGE; off++) {
			unsigned __int128 p = (unsigned __int128)off * m;
			uint64_t hi = (uint64_t)(p >> 64), lo = (uint64_t)p;
			if (hi != off / size || (lo < m) != (off % size == 0))
				cr_assert_fail("class %u (size %llu), offset %llu: index %llu, start %d", c,
				    (unsigned long long)size, (unsigned long long)off, (unsigned long long)hi, lo < m);
		}
	}
}

/* The free fast path's region-start test (tcache.h): off * magic (mod 2^32)
 * < magic exactly when off is a multiple of the class size, for every
 * offset inside a slab of up to SLAB_MAXPAGES pages; and every slab page's
 * entry carries its class and its index in the slab. */
Test(tcache, region_start_check_is_exact) {
	xt_free(xt_malloc(1));
	for (unsigned c = 0; c < SC_NCLASSES; c++) {
		uint32_t d = c < SC_NSMALL ? xa_sc_size[c] : PAGE, m = xa_tcache_fmagic[c];
		if (c < SC_NSMALL)
			cr_assert_leq(xa_sc[c].npages, SLAB_MAXPAGES);
		for (uint32_t off = 0; off < (uint32_t)SLAB_MAXPAGES * PAGE; off++)
			cr_assert_eq(off * m < m, off % d == 0, "class %u (size %u), offset %u", c, d, off);
	}
	/* 1280-byte class (5-page slabs): every page's entry holds bits 12-15
     * of its slab's start, so the fast path's offset is p - start; check
     * every object of a few slabs, in every page of them */
	enum { N80 = 200, SZ = 1280 };
	void *ps[N80];
	unsigned e = 0, later = 0;
	for (int i = 0; i < N80; i++)
		ps[i] = xt_malloc(SZ);
	for (int i = 0; i < N80; i++) {
		uintptr_t a = (uintptr_t)ps[i];
		xa_chunk_t *ch = xa_pagemap_lookup(a);
		cr_assert_not_null(ch);
		uintptr_t pg = (a - ch->addr) >> LG_PAGE;
		e = ch->pclass[pg];
		cr_assert_eq(PCLASS_OF(e), xa_sc_size2class(SZ));
		uintptr_t slab = a - PCLASS_SLAB_OFF(e, a);
		cr_assert_eq(slab, xa_chunk_run(ch, pg)->addr, "the entry's start bits lead to the slab start (%#lx)",
		    (unsigned long)a);
		cr_assert_eq((a - slab) % SZ, 0);
		later += slab != (a & ~(uintptr_t)PAGE_MASK);
	}
	cr_assert_gt(later, 0, "objects on later pages of their slabs were checked");
	for (int i = 0; i < N80; i++)
		xt_free(ps[i]);
	void *p = xt_malloc(80);
	cr_assert_eq(xa_pagemap_lookup((uintptr_t)&e), NULL, "a stack address is not ours");
	xt_free(p);
}

Test(decay, arithmetic) {
	uint64_t ms = 1000000;
	cr_assert(!xa_decay_due(1000, 0, 999 * ms));
	cr_assert(xa_decay_due(1000, 0, 1000 * ms));
	cr_assert(xa_decay_due(0, 5, 5));
	cr_assert(!xa_decay_due(-1, 0, UINT64_MAX / 2));
	cr_assert_eq(xa_decay_wait_ns(1000, 0, 400 * ms), 600 * ms);
	cr_assert_eq(xa_decay_wait_ns(1000, 0, 4000 * ms), 0);
	cr_assert_eq(xa_decay_wait_ns(-1, 0, 0), UINT64_MAX);
	cr_assert_eq(xa_decay_slack_budget(0, 12345), UINT64_MAX);
	cr_assert_eq(xa_decay_slack_budget(64 << 20, 1), (uint64_t)64 << 20);
	cr_assert_eq(xa_decay_slack_budget(25 | XA_SLACK_PCT, 1000), 250);
	cr_assert_eq(xa_decay_slack_budget(150 | XA_SLACK_PCT, 1001), 1501);
}

/* malloc_trim's budget (decay.h): admitted while the virtual clock is at
 * most a burst ahead; a call moves it by (CPU time + 1 us per released
 * page) * 100 / pct from the later of itself and now, by at most a burst. */
Test(decay, trim_budget) {
	const uint64_t ms = 1000000, s = 1000 * ms;
	cr_assert(xa_trim_admit(0, 10 * s));
	cr_assert(xa_trim_admit(11 * s, 10 * s));
	cr_assert(!xa_trim_admit(11 * s + 1, 10 * s));
	/* 1 ms of CPU at 5%: 20 ms of the clock; at 50%: 2 ms */
	cr_assert_eq(xa_trim_charge(0, 10 * s, ms, 0, 5), 10 * s + 20 * ms);
	cr_assert_eq(xa_trim_charge(0, 10 * s, ms, 0, 50), 10 * s + 2 * ms);
	/* 1 MiB released: 256 pages, 256 us more */
	cr_assert_eq(xa_trim_charge(0, 10 * s, ms, 1 << 20, 5), 10 * s + 20 * (ms + 256000));
	/* a clock already ahead moves on from where it is */
	cr_assert_eq(xa_trim_charge(12 * s, 10 * s, ms, 0, 5), 12 * s + 20 * ms);
	/* one call moves it by one burst at most, whatever it cost */
	cr_assert_eq(xa_trim_charge(0, 10 * s, 60 * ms, 0, 5), 11 * s);
	cr_assert_eq(xa_trim_charge(0, 10 * s, 0, (uint64_t)1 << 40, 5), 11 * s);
	cr_assert_eq(xa_trim_charge(0, 10 * s, UINT64_MAX, UINT64_MAX, 1), 11 * s);
	/* so a single call, however big, leaves the next one admitted */
	cr_assert(xa_trim_admit(xa_trim_charge(0, 10 * s, 5 * s, 0, 5), 10 * s));
	/* a call every ms for a second, each of 300 us of CPU at 5%: each
	 * moves the clock 6 ms, so it runs 5 ms further ahead per call, a
	 * burst (1 s) ahead after 200 calls; from then on one call in six
	 * is admitted.  In all, 6 ms per admitted call cannot exceed the
	 * second plus the burst: 333 calls. */
	uint64_t tat = 0, now = 10 * s;
	int admitted = 0;
	for (int i = 0; i < 1000; i++, now += ms)
		if (xa_trim_admit(tat, now)) {
			tat = xa_trim_charge(tat, now, 300000, 0, 5);
			admitted++;
		}
	cr_assert_leq(admitted, 334, "%d calls admitted", admitted);
	cr_assert_geq(admitted, 320, "only %d calls admitted", admitted);
}

/* decay_ms:0 holds pages of partly used slabs and idle caches a little
 * (decay.h); other settings apply as they are. */
Test(decay, cached_delay) {
	cr_assert_eq(xa_decay_cached_ms(0), XA_DECAY0_CACHED_MS);
	cr_assert_gt(XA_DECAY0_CACHED_MS, XA_DECAY0_DELAY_MS);
	cr_assert_eq(xa_decay_cached_ms(1), 1);
	cr_assert_eq(xa_decay_cached_ms(1000), 1000);
	cr_assert_eq(xa_decay_cached_ms(-1), -1);
}

Test(conf, parse_values_and_errors) {
	xa_opts_t o;
	xa_conf_defaults(&o);
	cr_assert_eq(o.decay_ms, 1000);
	cr_assert(o.retain && o.background_thread && o.tcache);
	cr_assert_eq(xa_conf_parse(&o, "test", "decay_ms:-1,purge:free,slack_max:25%,tcache_max:4K,narenas:3"), 0);
	cr_assert_eq(o.decay_ms, -1);
	cr_assert_eq(o.purge, XA_PURGE_FREE);
	cr_assert_eq(o.slack_max, 25 | XA_SLACK_PCT);
	cr_assert_eq(o.tcache_max, 4096);
	cr_assert_eq(o.narenas, 3);
	cr_assert_eq(xa_conf_parse(&o, "test", "slack_max:64MiB"), 0);
	cr_assert_eq(o.slack_max, (uint64_t)64 << 20);
	/* each bad item counts once and keeps the previous value */
	cr_assert_eq(xa_conf_parse(&o, "test", "decay_ms:-2,purge:x,narenas:999,foo:1,bar,,"), 5);
	cr_assert_eq(o.decay_ms, -1);
	cr_assert_eq(o.purge, XA_PURGE_FREE);
	cr_assert_eq(o.narenas, 3);
}

/* Every page of every chunk is in exactly one state. */
static void check_page_accounting(void) {
	unsigned n = atomic_load(&xa_narenas_created);
	for (unsigned i = 0; i < n; i++) {
		xa_arena_t *a = xa_arenas[i];
		xa_mutex_lock(&a->lock);
		size_t sum = a->stats.active_pages + a->stats.npages[PS_DIRTY] + a->stats.npages[PS_LAZY] +
		    a->stats.npages[PS_RETAINED];
		size_t mapped = a->stats.mapped_chunks * CHUNK_NPAGES;
		xa_mutex_unlock(&a->lock);
		cr_assert_eq(sum, mapped, "arena %u: states add up to %zu pages, mapped %zu", i, sum, mapped);
	}
}

/*
 * Run descriptors kept by the arena (pages.c, run_get): a churn of large
 * blocks that carves and merges runs leaves at most RUN_STASH of them kept,
 * at least one, and none that a chunk's page -> run array still names (a
 * kept descriptor must be as free as one in the pool); the pages still add
 * up.
 */
Test(pages, kept_run_descriptors_are_free) {
	xt_free(xt_malloc(1));
	xa_arena_t *a = xa_tsd_tls.arena;
	enum { N = 32 };
	void *p[N] = {0};
	uint64_t x = 12345;
	for (unsigned k = 0; k < 2000; k++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		unsigned i = (unsigned)(x >> 33) % N;
		xt_free(p[i]);
		p[i] = xt_malloc(140000 + (size_t)(x >> 40) % 800000);
		cr_assert_not_null(p[i]);
	}
	for (unsigned i = 0; i < N; i++)
		xt_free(p[i]);
	xa_mutex_lock(&a->lock);
	unsigned n = a->nrun_stash;
	bool named = false;
	for (xa_chunk_t *c = a->chunks; c; c = c->next)
		for (size_t pg = 0; pg < CHUNK_NPAGES; pg++)
			for (unsigned k = 0; k < n && c->prun[pg]; k++)
				named |= xa_chunk_run(c, pg) == a->run_stash[k];
	xa_mutex_unlock(&a->lock);
	cr_assert(n >= 1 && n <= RUN_STASH, "%u run descriptors kept", n);
	cr_assert(!named, "a kept run descriptor is still named by a page -> run entry");
	check_page_accounting();
}

/*
 * In-slab purging: regions freed with an old time stamp (an idle thread's
 * reclaimed cache) into a slab that has been scanned since that time must
 * still make the slab's free pages releasable.
 */
static unsigned region_of(void *p, size_t size) {
	xa_chunk_t *c = xa_pagemap_lookup((uintptr_t)p);
	xa_run_t *r = xa_chunk_run_at(c, (uintptr_t)p);
	return (unsigned)(((uintptr_t)p - r->addr) / size);
}

Test(slabs, frees_stamped_before_the_last_scan_are_released) {
	xt_free(xt_malloc(1));
	xa_arena_t *a = xa_tsd_tls.arena;
	atomic_store(&a->decay_ms, 50);
	unsigned cls = xa_sc_size2class(1200);
	size_t size = xa_sc[cls].size;
	unsigned nregs = (unsigned)(xa_sc[cls].npages * PAGE / size);
	cr_assert_gt(xa_sc[cls].npages, 2, "want a slab of several pages");
	enum { N = 640 };
	static void *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = xa_arena_malloc_small(a, cls, false, 0);
		cr_assert_not_null(p[i]);
		memset(p[i], 1, size);
	}
	/* 1: free each slab's last region; once due, a scan visits the slabs */
	for (int i = 0; i < N; i++)
		if (region_of(p[i], size) == nregs - 1) {
			xa_arena_free_small_one(xa_pagemap_lookup((uintptr_t)p[i]), p[i]);
			p[i] = NULL;
		}
	usleep(80 * 1000);
	uint64_t w;
	xa_arenas_purge_slabs(false, &w);
	/* 2: free all but each slab's first region, as a reclaimed cache
     * would: stamped 10 s ago, before that scan */
	xa_free_stamp_ns = xa_now_ns() - 10000000000ull;
	for (int i = 0; i < N; i++)
		if (p[i] && region_of(p[i], size) != 0) {
			xa_arena_free_small_one(xa_pagemap_lookup((uintptr_t)p[i]), p[i]);
			p[i] = NULL;
		}
	xa_free_stamp_ns = 0;
	size_t got = xa_arenas_purge_slabs(false, &w);
	/* every slab but the first page of each is free now */
	size_t want = (size_t)(N / nregs - 2) * (xa_sc[cls].npages - 1) * PAGE;
	cr_assert_geq(got, want, "old-stamped frees after a scan: %zu bytes released, want %zu", got, want);
	for (int i = 0; i < N; i++)
		if (p[i])
			xa_arena_free_small_one(xa_pagemap_lookup((uintptr_t)p[i]), p[i]);
}

/*
 * Batched flushes (arena.c, bin_dalloc_batch): regions of many slabs, in a
 * shuffled order, go back in one call; full slabs that get some regions
 * back must join the bin's list, slabs whose every region comes back in
 * one batch must be kept empty up to the bin's bound and released beyond
 * it (the bound is set to one more here), and the bin's counts must follow.  Then a
 * fill of as many regions as went back to the kept slabs must need no new
 * slab and hand out no region twice and no live one.
 */
/* r is one of bin b's carved slabs (one per fill slot). */
static bool bin_cur(const xa_bin_t *b, const xa_run_t *r) {
	for (unsigned k = 0; k < BIN_NCUR; k++)
		if (b->cur[k] == r)
			return true;
	return false;
}

static int ptr_cmp(const void *a, const void *b) {
	uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
	return x < y ? -1 : x > y;
}

Test(slabs, batched_flush_keeps_lists_and_counts) {
	xt_free(xt_malloc(1));
	xa_arena_t *a = xa_tsd_tls.arena;
	unsigned cls = xa_sc_size2class(96);
	size_t size = xa_sc[cls].size;
	unsigned nregs = xa_sc[cls].nregs;
	xa_bin_t *b = &a->bins[cls];
	enum { NS = 12 };
	unsigned n = NS * nregs;
	void **p = calloc(n, sizeof *p), **back = calloc(n, sizeof *p), **again = calloc(n, sizeof *p);
	cr_assert(p && back && again);
	for (unsigned i = 0; i < n; i++)
		cr_assert_not_null(p[i] = xa_arena_malloc_small(a, cls, false, 0));
	/* whole slabs: those whose first region is p[k * nregs] with k even
     * go back entirely, odd ones keep their first region */
	qsort(p, n, sizeof *p, ptr_cmp);
	xa_bin_stats_t s0;
	xa_arena_bin_stats(b, &s0);
	/* back[0..nseq): whole slabs in address order (each released by one
     * run of the batch); back[nseq..nback): shuffled (a fixed permutation),
     * so neighbours are mostly in other slabs */
	unsigned nback = 0, nwhole = 0, nseq = 0;
	void **mix = calloc(n, sizeof *mix);
	unsigned nmix = 0;
	for (unsigned i = 0; i < n;) {
		xa_chunk_t *c = xa_pagemap_lookup((uintptr_t)p[i]);
		xa_run_t *r = xa_chunk_run_at(c, (uintptr_t)p[i]);
		unsigned j = i;
		while (j < n && (uintptr_t)p[j] >= r->addr && (uintptr_t)p[j] < r->addr + (uintptr_t)nregs * size)
			j++;
		/* slabs this test filled completely, and not the bin's current one */
		bool whole = j - i == nregs && !bin_cur(b, r) && r->nfree == 0;
		unsigned w = whole ? nwhole++ : 1;
		for (unsigned k = i; k < j; k++) {
			if (w % 4 == 0)
				back[nseq++] = p[k];
			else if (w % 2 == 0 || k != i)
				mix[nmix++] = p[k];
			else
				continue;
			p[k] = NULL;
		}
		i = j;
	}
	cr_assert_geq(nwhole, 4, "want several full slabs");
	for (unsigned i = nmix - 1; i > 0; i--) {
		unsigned j = (unsigned)((i * 2654435761u) % (i + 1));
		void *t = mix[i];
		mix[i] = mix[j];
		mix[j] = t;
	}
	memcpy(back + nseq, mix, nmix * sizeof *mix);
	nback = nseq + nmix;
	free(mix);
	void **flushed = calloc(nback, sizeof *flushed);
	memcpy(flushed, back, nback * sizeof *back);
	xa_mutex_lock(&a->lock);
	size_t active0 = a->stats.active_pages;
	xa_mutex_unlock(&a->lock);
	unsigned nempty0 = b->nempty, emax = b->empty_max;
	b->empty_max = (uint16_t)(nempty0 + 1);
	xa_arena_flush_small(a, cls, back, nback);
	b->empty_max = (uint16_t)emax;
	unsigned emptied = (nwhole + 1) / 2, kept = b->nempty - nempty0, gone = emptied - 1;
	cr_assert_eq(kept, 1, "slabs kept empty: %u, want 1", kept);
	xa_mutex_lock(&a->lock);
	size_t active1 = a->stats.active_pages;
	xa_mutex_unlock(&a->lock);
	cr_assert_eq(active0 - active1, (size_t)gone * xa_sc[cls].npages,
	    "pages given back: %zu, want those of %u slabs", active0 - active1, gone);
	xa_bin_stats_t s1;
	xa_arena_bin_stats(b, &s1);
	cr_assert_eq(s0.curregs - s1.curregs, nback, "curregs fell by %zu, %u went back", s0.curregs - s1.curregs,
	    nback);
	cr_assert_eq(s0.curslabs - s1.curslabs, gone, "slabs released: %zu, want %u", s0.curslabs - s1.curslabs, gone);
	/* the regions left in slabs come back, each once, without a new slab */
	unsigned want = nback - (nwhole + 1) / 2 * nregs, got = 0;
	while (got < want) {
		unsigned k = xa_arena_fill_small(a, cls, again + got, want - got, 0, false, 0);
		cr_assert_gt(k, 0);
		got += k;
	}
	xa_bin_stats_t s2;
	xa_arena_bin_stats(b, &s2);
	cr_assert_eq(s2.nslabs_total, s1.nslabs_total, "a fill made a new slab while %u regions were free", want);
	qsort(again, got, sizeof *again, ptr_cmp);
	for (unsigned i = 1; i < got; i++)
		cr_assert_neq(again[i], again[i - 1], "region %p handed out twice", again[i]);
	unsigned nlive = 0;
	for (unsigned i = 0; i < n; i++)
		if (p[i])
			flushed[nlive++] = p[i]; /* p[] is sorted */
	for (unsigned i = 0; i < got; i++)
		cr_assert_null(bsearch(&again[i], flushed, nlive, sizeof *flushed, ptr_cmp),
		    "fill handed out %p, which is live", again[i]);
	for (unsigned i = 0; i < got; i++)
		xa_arena_free_small_one(xa_pagemap_lookup((uintptr_t)again[i]), again[i]);
	for (unsigned i = 0; i < n; i++)
		if (p[i])
			xa_arena_free_small_one(xa_pagemap_lookup((uintptr_t)p[i]), p[i]);
	free(p);
	free(back);
	free(again);
	free(flushed);
}

/*
 * Empty slabs (arena.c): a flush that empties a slab keeps it in the bin,
 * still active, and the next fill takes it instead of making a new slab;
 * a purge releases it once it is decay_ms old (the background pass is told
 * when), and a forced purge (malloc_trim) at once.  Only statistics and
 * page counts are read, so the test also runs on the code before kept
 * slabs (where it fails: the flush gives the pages back).
 */
static size_t active_pages(xa_arena_t *a) {
	xa_mutex_lock(&a->lock);
	size_t n = a->stats.active_pages;
	xa_mutex_unlock(&a->lock);
	return n;
}

/* Regions a fill of bin b can take before it needs another slab (the
 * carved slabs' and the listed ones'). */
static unsigned bin_free_regions(xa_bin_t *b) {
	unsigned n = 0;
	xa_mutex_lock(&b->lock);
	for (unsigned k = 0; k < BIN_NCUR; k++)
		if (b->cur[k])
			n += b->cur[k]->nfree;
	for (xa_run_t *r = XA_LIST_FIRST(&b->nonfull, xa_run_t, link); r; r = XA_LIST_NEXT(r, xa_run_t, link))
		n += r->nfree;
	xa_mutex_unlock(&b->lock);
	return n;
}

/* Fill p[0..n) with regions of class cls from arena a, sorted by address;
 * returns the index of the first of nregs regions that make up one whole
 * slab this call filled (not the bin's current one). */
static unsigned fill_find_whole_slab(xa_arena_t *a, unsigned cls, void **p, unsigned n) {
	unsigned nregs = xa_sc[cls].nregs;
	for (unsigned i = 0; i < n; i++)
		cr_assert_not_null(p[i] = xa_arena_malloc_small(a, cls, false, 0));
	qsort(p, n, sizeof *p, ptr_cmp);
	for (unsigned i = 0; i + nregs <= n; i++) {
		xa_chunk_t *c = xa_pagemap_lookup((uintptr_t)p[i]);
		xa_run_t *r = xa_chunk_run_at(c, (uintptr_t)p[i]);
		if ((uintptr_t)p[i] == r->addr && !bin_cur(&a->bins[cls], r) && r->nfree == 0 &&
		    (uintptr_t)p[i + nregs - 1] == r->addr + (uintptr_t)(nregs - 1) * xa_sc[cls].size)
			return i;
	}
	cr_assert_fail("want a full slab");
	return n;
}

Test(slabs, emptied_slab_is_kept_for_the_next_fill_and_purged) {
	xt_free(xt_malloc(1));
	xa_arena_t *a = xa_tsd_tls.arena;
	atomic_store(&a->decay_ms, 10000);
	unsigned cls = xa_sc_size2class(256);
	unsigned nregs = xa_sc[cls].nregs, npages = xa_sc[cls].npages;
	xa_bin_t *b = &a->bins[cls];
	enum { NS = 4 };
	unsigned n = NS * nregs;
	void **p = calloc(n, sizeof *p);
	cr_assert_not_null(p);
	unsigned first = fill_find_whole_slab(a, cls, p, n);
	xa_arenas_purge_slabs(true, NULL); /* no slab kept from before */
	xa_bin_stats_t s0, s1, s2, s3;
	xa_arena_bin_stats(b, &s0);
	size_t act0 = active_pages(a);
	/* 1: the flush empties the slab: kept, still active */
	void **back = calloc(nregs, sizeof *back);
	memcpy(back, p + first, nregs * sizeof *back);
	xa_arena_flush_small(a, cls, back, nregs);
	for (unsigned i = first; i < first + nregs; i++)
		p[i] = NULL;
	xa_arena_bin_stats(b, &s1);
	cr_assert_eq(active_pages(a), act0, "the flush gave %zu pages back, want 0 (slab kept)",
	    act0 - active_pages(a));
	cr_assert_eq(s1.curslabs, s0.curslabs, "curslabs %zu -> %zu: the emptied slab still counts", s0.curslabs,
	    s1.curslabs);
	/* 2: a fill that needs one more slab takes the kept one */
	unsigned want = bin_free_regions(b) + nregs, got = 0;
	void **again = calloc(want, sizeof *again);
	while (got < want) {
		unsigned k = xa_arena_fill_small(a, cls, again + got, want - got, 0, false, 0);
		cr_assert_gt(k, 0);
		got += k;
	}
	xa_arena_bin_stats(b, &s2);
	cr_assert_eq(s2.nslabs_total, s1.nslabs_total, "the fill made %llu new slabs, want 0 (the kept one)",
	    (unsigned long long)(s2.nslabs_total - s1.nslabs_total));
	cr_assert_eq(active_pages(a), act0);
	/* 3: empty it again (after one more region moved the bin to a new
	 * current slab); a purge before decay_ms keeps it and says when it is
	 * due, a purge after releases it */
	void *extra;
	cr_assert_eq(xa_arena_fill_small(a, cls, &extra, 1, 0, false, 0), 1);
	qsort(again, got, sizeof *again, ptr_cmp);
	xa_arena_flush_small(a, cls, again, got);
	free(again);
	cr_assert_eq(active_pages(a), act0 + npages);
	uint64_t w = UINT64_MAX;
	xa_arenas_purge_slabs(false, &w);
	cr_assert_eq(active_pages(a), act0 + npages, "a purge released a kept slab before decay_ms");
	cr_assert_leq(w, 10000ull * 1000000, "the purge pass was not told when the kept slab is due");
	atomic_store(&a->decay_ms, 50);
	usleep(80 * 1000);
	xa_arenas_purge_slabs(false, &w);
	xa_arena_bin_stats(b, &s3);
	cr_assert_eq(active_pages(a), act0, "a due kept slab was not released");
	cr_assert_eq(s3.curslabs, s0.curslabs, "curslabs %zu, want %zu", s3.curslabs, s0.curslabs);
	/* 4: a forced purge (malloc_trim) releases kept slabs at once */
	atomic_store(&a->decay_ms, 10000);
	xa_arena_free_small_one(xa_pagemap_lookup((uintptr_t)extra), extra);
	for (unsigned i = 0; i < n; i++)
		if (p[i])
			xa_arena_free_small_one(xa_pagemap_lookup((uintptr_t)p[i]), p[i]);
	xa_bin_stats_t s4;
	xa_arena_bin_stats(b, &s4);
	cr_assert_eq(s4.curregs, 0);
	xa_arenas_purge_slabs(true, NULL);
	xa_bin_stats_t s5;
	xa_arena_bin_stats(b, &s5);
	cr_assert_leq(s5.curslabs, 1, "a forced purge left %zu slabs (only the current one may stay)", s5.curslabs);
	free(p);
	free(back);
}

/* A slab kept empty by one class serves a fill of another class with the
 * same slab size: no new pages (on the code before kept slabs the flush
 * gives a page back and the fill takes one). */
Test(slabs, kept_empty_slab_serves_another_class) {
	xt_free(xt_malloc(1));
	xa_arena_t *a = xa_tsd_tls.arena;
	atomic_store(&a->decay_ms, 10000);
	unsigned ca = xa_sc_size2class(256), cb = xa_sc_size2class(128);
	cr_assert_eq(xa_sc[ca].npages, xa_sc[cb].npages, "want two classes with slabs of one size");
	unsigned nregs = xa_sc[ca].nregs, n = 4 * nregs;
	void **p = calloc(n, sizeof *p);
	cr_assert_not_null(p);
	unsigned first = fill_find_whole_slab(a, ca, p, n);
	xa_arenas_purge_slabs(true, NULL); /* no slab kept from before */
	cr_assert_eq(atomic_load(&a->kept_mask), 0, "kept_mask %#llx with no kept slab",
	    (unsigned long long)atomic_load(&a->kept_mask));
	xa_arena_flush_small(a, ca, p + first, nregs);
	for (unsigned i = first; i < first + nregs; i++)
		p[i] = NULL;
	cr_assert_eq(atomic_load(&a->kept_mask), (uint64_t)1 << ca, "kept_mask %#llx, want bin %u's bit",
	    (unsigned long long)atomic_load(&a->kept_mask), ca);
	size_t act1 = active_pages(a);
	xa_bin_t *bb = &a->bins[cb];
	xa_bin_stats_t s0, s1;
	xa_arena_bin_stats(bb, &s0);
	unsigned want = bin_free_regions(bb) + 1;
	void **q = calloc(want, sizeof *q);
	for (unsigned got = 0; got < want;) {
		unsigned k = xa_arena_fill_small(a, cb, q + got, want - got, 0, false, 0);
		cr_assert_gt(k, 0);
		got += k;
	}
	xa_arena_bin_stats(bb, &s1);
	cr_assert_eq(s1.nslabs_total, s0.nslabs_total + 1, "the fill needed one more slab");
	cr_assert_eq(active_pages(a), act1, "the fill took %zu new pages, want 0 (the other class's kept slab)",
	    active_pages(a) - act1);
	cr_assert_eq(atomic_load(&a->kept_mask), 0, "kept_mask %#llx after the only kept slab was taken",
	    (unsigned long long)atomic_load(&a->kept_mask));
	for (unsigned i = 0; i < want; i++)
		memset(q[i], 7, xa_sc[cb].size);
	xa_arena_flush_small(a, cb, q, want);
	for (unsigned i = 0; i < n; i++)
		if (p[i])
			xa_arena_free_small_one(xa_pagemap_lookup((uintptr_t)p[i]), p[i]);
	free(p);
	free(q);
}

/*
 * Flushes whose regions jump between slabs and between bitmap words
 * (bin_dalloc_batch keeps one word in a register and two slabs open): the
 * 48-byte class has 85 regions per slab, two bitmap words, the second
 * partly used.  Three whole slabs A, B, C: A and B come back alternating
 * (A0 B0 A1 B1 ..., each slab's regions high word first, then low), C's
 * even regions in between, every third step.  Each slab's bitmap must then
 * say exactly which regions are free, its free count must match, the
 * bin's curregs must fall by the batch, and a fill must hand out C's freed
 * regions and nothing live.
 */
static unsigned fill_find_whole_slabs(xa_arena_t *a, unsigned cls, void **p, unsigned n, unsigned *first,
    unsigned nslabs) {
	unsigned nregs = xa_sc[cls].nregs, found = 0;
	for (unsigned i = 0; i < n; i++)
		cr_assert_not_null(p[i] = xa_arena_malloc_small(a, cls, false, 0));
	qsort(p, n, sizeof *p, ptr_cmp);
	for (unsigned i = 0; i + nregs <= n && found < nslabs; i++) {
		xa_chunk_t *c = xa_pagemap_lookup((uintptr_t)p[i]);
		xa_run_t *r = xa_chunk_run_at(c, (uintptr_t)p[i]);
		if ((uintptr_t)p[i] == r->addr && !bin_cur(&a->bins[cls], r) && r->nfree == 0 &&
		    (uintptr_t)p[i + nregs - 1] == r->addr + (uintptr_t)(nregs - 1) * xa_sc[cls].size) {
			first[found++] = i;
			i += nregs - 1;
		}
	}
	cr_assert_eq(found, nslabs, "want %u full slabs", nslabs);
	return found;
}

static size_t bin_slabs(xa_bin_t *b, void **p, unsigned n, size_t *npages);

static xa_run_t *run_of(void *p) {
	xa_chunk_t *c = xa_pagemap_lookup((uintptr_t)p);
	return xa_chunk_run_at(c, (uintptr_t)p);
}

Test(slabs, flush_jumping_between_slabs_and_words) {
	xt_free(xt_malloc(1));
	xa_arena_t *a = xa_tsd_tls.arena;
	atomic_store(&a->decay_ms, 10000);
	unsigned cls = xa_sc_size2class(48);
	unsigned nregs = xa_sc[cls].nregs;
	cr_assert_gt(nregs, 64, "want a class with two bitmap words");
	xa_bin_t *b = &a->bins[cls];
	unsigned n = 8 * nregs, first[3];
	void **p = calloc(n, sizeof *p), **batch = calloc(3 * nregs, sizeof *batch);
	cr_assert(p && batch);
	fill_find_whole_slabs(a, cls, p, n, first, 3);
	void **A = p + first[0], **B = p + first[1], **C = p + first[2];
	xa_run_t *ra = run_of(A[0]), *rb = run_of(B[0]), *rc = run_of(C[0]);
	unsigned nb = 0;
	for (unsigned k = 0; k < nregs; k++) {
		unsigned i = (k + 64) % nregs; /* high word first */
		batch[nb++] = A[i];
		batch[nb++] = B[i];
		if (k % 3 == 0)
			for (unsigned j = k; j < k + 3 && j < nregs; j++)
				if (j % 2 == 0)
					batch[nb++] = C[j];
	}
	xa_bin_stats_t s0, s1;
	xa_arena_bin_stats(b, &s0);
	uint16_t emax = b->empty_max;
	b->empty_max = (uint16_t)(b->nempty + 2); /* keep A and B: their runs stay readable */
	xa_arena_flush_small(a, cls, batch, nb);
	b->empty_max = emax;
	xa_arena_bin_stats(b, &s1);
	cr_assert_eq(s0.curregs - s1.curregs, nb, "curregs fell by %zu, %u went back", s0.curregs - s1.curregs, nb);
	xa_run_t *rs[3] = {ra, rb, rc};
	for (unsigned s = 0; s < 3; s++) {
		xa_run_t *r = rs[s];
		cr_assert_eq(r->kind, RUN_SLAB);
		unsigned bits = 0;
		for (unsigned w = 0; w < SLAB_BITMAP_WORDS; w++)
			bits += (unsigned)__builtin_popcountll(r->bitmap[w]);
		unsigned want = s < 2 ? nregs : (nregs + 1) / 2;
		cr_assert_eq(r->nfree, want, "slab %u: nfree %u, want %u", s, r->nfree, want);
		cr_assert_eq(bits, want, "slab %u: %u bits free, want %u", s, bits, want);
		for (unsigned i = 0; i < nregs; i++) {
			bool fr = (r->bitmap[i / 64] >> (i % 64)) & 1;
			cr_assert_eq(fr, s < 2 || i % 2 == 0, "slab %u region %u: free %d", s, i, fr);
		}
	}
	for (unsigned i = 0; i < nregs; i++) {
		A[i] = B[i] = NULL;
		if (i % 2 == 0)
			C[i] = NULL;
	}
	/* a fill hands out free regions only, each once */
	unsigned want = bin_free_regions(b), got = 0;
	void **again = calloc(want, sizeof *again);
	while (got < want) {
		unsigned k = xa_arena_fill_small(a, cls, again + got, want - got, 0, false, 0);
		cr_assert_gt(k, 0);
		got += k;
	}
	qsort(again, got, sizeof *again, ptr_cmp);
	for (unsigned i = 1; i < got; i++)
		cr_assert_neq(again[i], again[i - 1], "region %p handed out twice", again[i]);
	for (unsigned i = 0; i < n; i++)
		if (p[i])
			cr_assert_null(bsearch(&p[i], again, got, sizeof *again, ptr_cmp), "fill handed out live %p", p[i]);
	xa_arena_flush_small(a, cls, again, got);
	for (unsigned i = 0; i < n; i++)
		if (p[i])
			xa_arena_free_small_one(xa_pagemap_lookup((uintptr_t)p[i]), p[i]);
	free(again);
	free(p);
	free(batch);
}

/* The flush's checks abort whatever order the batch comes in: a region
 * twice in a batch after a step to another slab and back (the two-slab
 * swap), or after a step to another bitmap word and back; a region freed
 * by an earlier flush; a pointer inside a region (not its start). */
static void flush_misuse(int mode) {
	xt_free(xt_malloc(1));
	xa_arena_t *a = xa_tsd_tls.arena;
	unsigned cls = xa_sc_size2class(48);
	unsigned nregs = xa_sc[cls].nregs, n = 8 * nregs, first[2];
	void **p = calloc(n, sizeof *p);
	fill_find_whole_slabs(a, cls, p, n, first, 2);
	void **A = p + first[0], **B = p + first[1];
	void *batch[4];
	unsigned nb = 0;
	switch (mode) {
	case 0: /* A B A: the second A0 after the swap back */
		batch[nb++] = A[0], batch[nb++] = B[0], batch[nb++] = A[1], batch[nb++] = A[0];
		break;
	case 1: /* word 0, word 1, word 0 */
		batch[nb++] = A[3], batch[nb++] = A[70], batch[nb++] = A[3];
		break;
	case 2: /* freed before */
		batch[0] = A[5];
		xa_arena_flush_small(a, cls, batch, 1);
		batch[nb++] = A[6], batch[nb++] = A[70], batch[nb++] = A[5];
		break;
	default: /* interior, in the current word */
		batch[nb++] = A[9], batch[nb++] = (char *)A[10] + 16;
		break;
	}
	xa_arena_flush_small(a, cls, batch, nb);
}

Test(slabs, flush_aborts_on_a_repeat_after_another_slab, .signal = SIGABRT) { flush_misuse(0); }
Test(slabs, flush_aborts_on_a_repeat_after_another_word, .signal = SIGABRT) { flush_misuse(1); }
Test(slabs, flush_aborts_on_a_region_already_free, .signal = SIGABRT) { flush_misuse(2); }
Test(slabs, flush_aborts_on_an_interior_pointer, .signal = SIGABRT) { flush_misuse(3); }

/*
 * Frees in random order: a batch whose neighbours sit in other pages takes
 * the per-region loop (arena.c, bin_dalloc_scattered).  40 slabs of the
 * 48-byte class are filled; two regions in three come back in a stride
 * order (97 regions apart: another slab or page at every step), then the
 * rest the same way.  After each flush every region's bit must say whether
 * it is free, each slab's free count must match its bitmap, curregs must
 * fall by the batch; after the first, a fill must hand out the freed
 * regions, each once and none live; after the second, every slab the test
 * emptied is kept (within the bin's bound) or gone, and curslabs and
 * curpages count exactly the bin's slabs.
 */
static void stride_order(void **out, void *const *in, unsigned m) {
	for (unsigned k = 0; k < m; k++)
		out[k] = in[(size_t)k * 97 % m]; /* 97 is prime, m is not a multiple */
}

static void check_slab_bits(void **p, unsigned n, bool (*is_free)(unsigned)) {
	for (unsigned i = 0; i < n; i++) {
		xa_run_t *r = run_of(p[i]);
		unsigned idx = (unsigned)(((uintptr_t)p[i] - r->addr) / xa_sc[r->cls].size);
		bool fr = (r->bitmap[idx / 64] >> (idx % 64)) & 1;
		cr_assert_eq(fr, is_free(i), "region %u (%p): free %d, want %d", i, p[i], fr, is_free(i));
		unsigned bits = 0;
		for (unsigned w = 0; w < SLAB_BITMAP_WORDS; w++)
			bits += (unsigned)__builtin_popcountll(r->bitmap[w]);
		cr_assert_eq(bits, r->nfree, "slab %p: %u bits free, nfree %u", (void *)r->addr, bits, r->nfree);
	}
}

static bool third_kept(unsigned i) { return i % 3 != 0; }

Test(slabs, scattered_flush_frees_each_region_once) {
	xt_free(xt_malloc(1));
	xa_arena_t *a = xa_tsd_tls.arena;
	atomic_store(&a->decay_ms, 10000);
	unsigned cls = xa_sc_size2class(48);
	xa_bin_t *b = &a->bins[cls];
	unsigned n = 40 * xa_sc[cls].nregs;
	cr_assert_neq(n % 97, 0);
	void **p = calloc(n, sizeof *p), **batch = calloc(n, sizeof *p), **sel = calloc(n, sizeof *p);
	cr_assert(p && batch && sel);
	for (unsigned i = 0; i < n; i++)
		cr_assert_not_null(p[i] = xa_arena_malloc_small(a, cls, false, 0));
	qsort(p, n, sizeof *p, ptr_cmp);
	/* every region the bin had free before is in b->cur[0]: fill it up so
	 * the bitmaps hold only this test's regions */
	unsigned m = 0;
	for (unsigned i = 0; i < n; i++)
		if (third_kept(i))
			sel[m++] = p[i];
	cr_assert_neq(m % 97, 0);
	stride_order(batch, sel, m);
	cr_assert(xa_arena_batch_scattered(batch, m), "the batch must take the scattered loop");
	xa_bin_stats_t s0, s1, s2;
	xa_arena_bin_stats(b, &s0);
	xa_arena_flush_small(a, cls, batch, m);
	xa_arena_bin_stats(b, &s1);
	cr_assert_eq(s0.curregs - s1.curregs, m, "curregs fell by %zu, %u went back", s0.curregs - s1.curregs, m);
	check_slab_bits(p, n, third_kept);
	/* a fill hands the freed regions out, each once, nothing live */
	void **again = calloc(m, sizeof *again);
	unsigned got = 0;
	while (got < m) {
		unsigned k = xa_arena_fill_small(a, cls, again + got, m - got, 0, false, 0);
		cr_assert_gt(k, 0);
		got += k;
	}
	qsort(again, got, sizeof *again, ptr_cmp);
	qsort(sel, m, sizeof *sel, ptr_cmp);
	for (unsigned i = 0; i < got; i++) {
		cr_assert(i == 0 || again[i] != again[i - 1], "region %p handed out twice", again[i]);
		cr_assert_not_null(bsearch(&again[i], sel, m, sizeof *sel, ptr_cmp),
		    "fill handed out %p, which the flush did not free", again[i]);
	}
	/* all of them back, scattered again: the slabs empty */
	stride_order(batch, again, got);
	xa_arena_flush_small(a, cls, batch, got);
	unsigned r3 = 0;
	for (unsigned i = 0; i < n; i++)
		if (!third_kept(i))
			sel[r3++] = p[i];
	cr_assert_neq(r3 % 97, 0);
	stride_order(batch, sel, r3);
	cr_assert(xa_arena_batch_scattered(batch, r3));
	/* the slabs this flush empties: every slab of p but the current one */
	unsigned emptied = 0;
	for (unsigned i = 0; i < n; i++)
		emptied += (i == 0 || run_of(p[i]) != run_of(p[i - 1])) && !bin_cur(b, run_of(p[i]));
	unsigned nempty1 = b->nempty;
	xa_arena_bin_stats(b, &s1);
	xa_arena_flush_small(a, cls, batch, r3);
	xa_arena_bin_stats(b, &s2);
	cr_assert_eq(s1.curregs - s2.curregs, r3, "curregs fell by %zu, %u went back", s1.curregs - s2.curregs, r3);
	cr_assert_eq(s1.curslabs - s2.curslabs + (b->nempty - nempty1), emptied,
	    "slabs released %zu and kept %u, want %u emptied", s1.curslabs - s2.curslabs, b->nempty - nempty1, emptied);
	cr_assert_geq(emptied, 38);
	size_t np, ns = bin_slabs(b, NULL, 0, &np);
	cr_assert_eq(s2.curslabs, ns, "curslabs %zu, the bin has %zu slabs", s2.curslabs, ns);
	cr_assert_eq(s2.curpages, np, "curpages %zu, the bin's slabs have %zu pages", s2.curpages, np);
	cr_assert_leq(b->nempty, b->empty_max);
	free(again);
	free(p);
	free(batch);
	free(sel);
}

/* The scattered loop's checks: a region twice in the batch, a region freed
 * by an earlier flush, a pointer inside a region. */
static void scattered_misuse(int mode) {
	xt_free(xt_malloc(1));
	xa_arena_t *a = xa_tsd_tls.arena;
	unsigned cls = xa_sc_size2class(48);
	unsigned n = 40 * xa_sc[cls].nregs;
	void **p = calloc(n, sizeof *p), **batch = calloc(n, sizeof *p);
	for (unsigned i = 0; i < n; i++)
		cr_assert_not_null(p[i] = xa_arena_malloc_small(a, cls, false, 0));
	qsort(p, n, sizeof *p, ptr_cmp);
	unsigned m = 64;
	for (unsigned k = 0; k < m; k++)
		batch[k] = p[k * 97 % n];
	switch (mode) {
	case 0: /* a repeat, far from the first */
		batch[m++] = batch[3];
		break;
	case 1: /* freed before */
		xa_arena_flush_small(a, cls, batch + 40, 1);
		break;
	default: /* interior */
		batch[50] = (char *)batch[50] + 16;
		break;
	}
	cr_assert(xa_arena_batch_scattered(batch, m));
	xa_arena_flush_small(a, cls, batch, m);
}

Test(slabs, scattered_flush_aborts_on_a_repeat, .signal = SIGABRT) { scattered_misuse(0); }
Test(slabs, scattered_flush_aborts_on_a_region_already_free, .signal = SIGABRT) { scattered_misuse(1); }
Test(slabs, scattered_flush_aborts_on_an_interior_pointer, .signal = SIGABRT) { scattered_misuse(2); }

/*
 * A flush whose first region is another arena's goes to that arena's remote
 * batches (arena.c, flush_remote), which copies runs of one chunk at a time:
 * runs of the other arena (one crossing a batch boundary) interleaved with
 * runs of the home arena.  The other arena's regions must all be waiting in
 * its batches, each once, and the home arena's must be back in their slabs.
 */
static int cmp_ptr(const void *x, const void *y) {
	uintptr_t a = (uintptr_t) * (void *const *)x, b = (uintptr_t) * (void *const *)y;
	return a < b ? -1 : a > b;
}

/* Fill from arena a's remote batches of cls (fill: the small or the large
 * version) until none is left, step objects at a time, into out[]; they
 * must be want[0..n), each once, in any order (both arrays end sorted). */
static unsigned take_all_waiting(unsigned (*fill)(xa_arena_t *, unsigned, void **, unsigned), xa_arena_t *a,
    unsigned cls, void **out, unsigned step, void **want, unsigned n) {
	unsigned got = 0, k;
	while ((k = fill(a, cls, out + got, step)) != 0)
		got += k;
	cr_assert_eq(got, n, "batches held %u objects, want %u", got, n);
	qsort(out, got, sizeof *out, cmp_ptr);
	qsort(want, n, sizeof *want, cmp_ptr);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(out[i], want[i], "waiting object %u: %p, want %p", i, out[i], want[i]);
	return got;
}

Test(remote, flush_copies_runs_by_arena) {
	xt_free(xt_malloc(1));
	/* No background pass may drain the batches between the flush and the
	 * fills below (a flush that pushes a batch kicks the thread; under
	 * load a pass once drained all 90 first): passes off, and one already
	 * under way given time to end. */
	xa_background_set(false);
	usleep(100000);
	xa_arena_max_set(4);
	xa_arena_t *a0 = xa_tsd_tls.arena, *a1 = xa_arena_get((a0->ind + 1) % 4, true);
	cr_assert(a1 && a1 != a0);
	unsigned cls = xa_sc_size2class(64);
	enum { N1 = 90, N0 = 30 };
	void *p1[N1], *p0[N0], *mix[N1 + N0], *back[N1 + 64];
	for (unsigned got = 0; got < N1;)
		got += xa_arena_fill_small(a1, cls, p1 + got, N1 - got, 0, false, 0);
	for (unsigned got = 0; got < N0;)
		got += xa_arena_fill_small(a0, cls, p0 + got, N0 - got, 0, false, 0);
	/* runs: 5 of a1, 3 of a0, 70 of a1 (across a 64-pointer batch), 1 of
	 * a0, 10 of a1, 26 of a0, 5 of a1 */
	static const int runs[][2] = {{1, 5}, {0, 3}, {1, 70}, {0, 1}, {1, 10}, {0, 26}, {1, 5}};
	unsigned n = 0, i1 = 0, i0 = 0;
	for (unsigned r = 0; r < sizeof runs / sizeof runs[0]; r++)
		for (int k = 0; k < runs[r][1]; k++)
			mix[n++] = runs[r][0] ? p1[i1++] : p0[i0++];
	cr_assert(n == N1 + N0 && i1 == N1 && i0 == N0);
	xa_bin_t *b0 = &a0->bins[cls], *b1 = &a1->bins[cls];
	xa_bin_stats_t s0, s1;
	xa_arena_bin_stats(b0, &s0);
	uint64_t nin = atomic_load(&b1->remote.nin);
	xa_arena_flush_small(a0, cls, mix, n);
	cr_assert_eq(atomic_load(&b1->remote.nin) - nin, N1, "%llu of a1's regions waiting, want %d",
	    (unsigned long long)(atomic_load(&b1->remote.nin) - nin), N1);
	xa_arena_bin_stats(b0, &s1);
	cr_assert_eq(s0.curregs - s1.curregs, N0, "home curregs fell by %zu, want %d", s0.curregs - s1.curregs, N0);
	unsigned got = take_all_waiting(xa_arena_fill_remote, a1, cls, back, 64, p1, N1);
	xa_arena_flush_small(a1, cls, back, got);
}

/*
 * Remote large frees (arena.c, "Remote large frees"): a flush from a thread
 * of arena a0 puts a1's blocks of a cached large class into a1's remote
 * batches (marked waiting, counted as freed), frees a0's own under a0's
 * lock; a fill of a1 takes the waiting blocks back, each once, unmarked; a
 * purge gives what waits to the page allocator.  The counters the
 * statistics report follow every step.
 */
static size_t large_cur_reported(xa_arena_t *a, unsigned cls, uint64_t *nmalloc, uint64_t *ndalloc) {
	uint64_t lnm[SC_NCLASSES - SC_NSMALL], lnd[SC_NCLASSES - SC_NSMALL];
	size_t lcur[SC_NCLASSES - SC_NSMALL];
	xa_mutex_lock(&a->lock);
	xa_arena_stats_t st = a->stats;
	for (unsigned j = 0; j < SC_NCLASSES - SC_NSMALL; j++) {
		lnm[j] = a->lstats_nmalloc[j];
		lnd[j] = a->lstats_ndalloc[j];
		lcur[j] = a->lstats_cur[j];
	}
	xa_arena_large_stats(a, &st, lnm, lnd, lcur);
	xa_mutex_unlock(&a->lock);
	*nmalloc = lnm[cls - SC_NSMALL];
	*ndalloc = lnd[cls - SC_NSMALL];
	return lcur[cls - SC_NSMALL];
}

static bool large_waiting(void *p) {
	xa_chunk_t *c = xa_pagemap_lookup((uintptr_t)p);
	return xa_run_rpending(xa_chunk_run_at(c, (uintptr_t)p));
}

enum { LR_N1 = 6, LR_N0 = 2 };
static void lremote_setup(xa_arena_t **a0p, xa_arena_t **a1p, unsigned *clsp, void **p1, void **p0) {
	xt_free(xt_malloc(1));
	xa_background_set(false); /* no pass may drain the batches (see above) */
	usleep(100000);
	xa_arena_max_set(4);
	xa_arena_t *a0 = xa_tsd_tls.arena, *a1 = xa_arena_get((a0->ind + 1) % 4, true);
	cr_assert(a1 && a1 != a0);
	/* nor a purge on an allocator call (the fallback without the
	 * background thread): decay off, so only forced purges drain */
	atomic_store(&a0->decay_ms, -1);
	atomic_store(&a1->decay_ms, -1);
	size_t size = 32 << 10;
	unsigned cls = xa_sc_size2class(size);
	cr_assert_eq(xa_sc_size[cls], size);
	for (int i = 0; i < LR_N1; i++)
		cr_assert_not_null(p1[i] = xa_arena_malloc_large(a1, size, 0, false));
	for (int i = 0; i < LR_N0; i++)
		cr_assert_not_null(p0[i] = xa_arena_malloc_large(a0, size, 0, false));
	*a0p = a0;
	*a1p = a1;
	*clsp = cls;
}

Test(remote, large_blocks_go_to_their_arena_and_come_back) {
	xa_arena_t *a0, *a1;
	unsigned cls;
	void *p1[LR_N1], *p0[LR_N0], *mix[LR_N1 + LR_N0], *back[64];
	uint64_t nm, nd, nm0, nd0;
	lremote_setup(&a0, &a1, &cls, p1, p0);
	size_t c1 = large_cur_reported(a1, cls, &nm0, &nd0);
	uint64_t nm00, nd00;
	size_t c0 = large_cur_reported(a0, cls, &nm00, &nd00);
	/* a1, a0, a1 x5: a batch is pushed when the arena changes */
	mix[0] = p1[0];
	mix[1] = p0[0];
	mix[2] = p0[1];
	for (int i = 1; i < LR_N1; i++)
		mix[2 + i] = p1[i];
	xa_arena_flush_large(a0, cls, mix, LR_N1 + LR_N0);
	for (int i = 0; i < LR_N1; i++)
		cr_assert(large_waiting(p1[i]), "a1's block %d not marked waiting", i);
	/* a1: six blocks freed, none given back to its page allocator */
	cr_assert_eq(large_cur_reported(a1, cls, &nm, &nd), c1 - LR_N1, "a1 reports %zu live, want %zu",
	    large_cur_reported(a1, cls, &nm, &nd), c1 - LR_N1);
	cr_assert_eq(nd - nd0, LR_N1);
	cr_assert_eq(nm, nm0);
	xa_mutex_lock(&a1->lock);
	size_t runs = a1->lstats_cur[cls - SC_NSMALL];
	xa_mutex_unlock(&a1->lock);
	cr_assert_eq(runs, c1, "a1's page allocator has %zu runs of the class, want %zu", runs, c1);
	/* a0: its own two freed at once */
	cr_assert_eq(large_cur_reported(a0, cls, &nm, &nd), c0 - LR_N0);
	cr_assert_eq(nd - nd00, LR_N0);
	/* a fill of a1 takes them back, each once */
	unsigned got = take_all_waiting(xa_arena_fill_remote_large, a1, cls, back, 4, p1, LR_N1);
	for (unsigned i = 0; i < got; i++)
		cr_assert(!large_waiting(back[i]), "a block handed out is still marked waiting");
	cr_assert_eq(large_cur_reported(a1, cls, &nm, &nd), c1);
	cr_assert_eq(nm - nm0, LR_N1, "fills counted %llu allocations, want %d", (unsigned long long)(nm - nm0),
	    LR_N1);
	/* again, and this time a purge drains them to the page allocator */
	xa_arena_flush_large(a0, cls, back, got);
	xa_arena_purge_all(a1);
	xa_mutex_lock(&a1->lock);
	runs = a1->lstats_cur[cls - SC_NSMALL];
	xa_mutex_unlock(&a1->lock);
	cr_assert_eq(runs, c1 - LR_N1, "after the purge a1 has %zu runs of the class, want %zu", runs, c1 - LR_N1);
	cr_assert_eq(large_cur_reported(a1, cls, &nm, &nd), c1 - LR_N1);
	cr_assert_eq(nd - nd0, 2 * LR_N1, "frees counted %llu, want %d", (unsigned long long)(nd - nd0), 2 * LR_N1);
	cr_assert_eq(xa_arena_fill_remote_large(a1, cls, back, 4), 0, "a drained batch was filled from");
	check_page_accounting();
}

/*
 * The same through the allocator's entry points: a producer (this thread,
 * arena a0) mallocs 32 KiB blocks that a consumer thread on arena a1 frees.
 * The consumer's cache flushes go to a0's remote batches and the
 * producer's cache fills take them, so far fewer runs are made than
 * blocks allocated; when everything is freed, the statistics report no
 * block of the class live, and a purge leaves no run of it.
 */
static void *_Atomic lr_slot[8];
static _Atomic int lr_done;
static xa_arena_t *lr_a1;
static void *lr_consumer(void *arg) {
	(void)arg;
	xt_free(xt_malloc(1));
	xa_tsd_t *t = &xa_tsd_tls;
	if (t->arena != lr_a1) { /* as thread.arena does */
		uint8_t old = t->fill_slot;
		xa_arena_thread_bind(lr_a1, &t->fill_slot);
		xa_arena_thread_leave(t->arena, old);
		t->arena = lr_a1;
		t->arena_pinned = 1;
	}
	for (;;) {
		/* done read before the pass: every block stored before it was
		 * set is then seen by the pass (read after, a block stored
		 * behind the pass was left in its slot) */
		bool any = false, done = atomic_load(&lr_done);
		for (int i = 0; i < 8; i++) {
			void *p = atomic_exchange(&lr_slot[i], NULL);
			if (p) {
				cr_assert_eq(((unsigned char *)p)[100], (unsigned char)(uintptr_t)p);
				xt_free(p);
				any = true;
			}
		}
		if (!any && done)
			break;
	}
	return NULL; /* the thread's exit flushes its cache */
}

Test(remote, large_blocks_between_threads) {
	xt_free(xt_malloc(1));
	xa_background_set(false);
	usleep(100000);
	xa_arena_max_set(4);
	xa_arena_t *a0 = xa_tsd_tls.arena;
	lr_a1 = xa_arena_get((a0->ind + 1) % 4, true);
	cr_assert(lr_a1 && lr_a1 != a0);
	atomic_store(&a0->decay_ms, -1); /* batches drained only by the purge below */
	size_t size = 32 << 10;
	unsigned cls = xa_sc_size2class(size);
	xa_rstack_t *q = &a0->lremote[cls - SC_NSMALL].s;
	uint64_t nm0, nd0;
	size_t c0 = large_cur_reported(a0, cls, &nm0, &nd0);
	xa_mutex_lock(&a0->lock);
	uint64_t runs0 = a0->lstats_nmalloc[cls - SC_NSMALL];
	xa_mutex_unlock(&a0->lock);
	uint64_t in0 = atomic_load(&q->nin), out0 = atomic_load(&q->nout);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, lr_consumer, NULL), 0);
	enum { N = 20000 };
	for (unsigned i = 0; i < N; i++) {
		unsigned char *p = xt_malloc(size);
		cr_assert_not_null(p);
		p[100] = (unsigned char)(uintptr_t)p;
		for (;;) {
			void *expect = NULL;
			if (atomic_compare_exchange_strong(&lr_slot[i % 8], &expect, p))
				break;
			sched_yield();
		}
	}
	atomic_store(&lr_done, 1);
	pthread_join(th, NULL);
	xa_tcache_flush_all(&xa_tsd_tls);
	uint64_t nm, nd;
	xa_mutex_lock(&a0->lock);
	uint64_t runs = a0->lstats_nmalloc[cls - SC_NSMALL] - runs0;
	xa_mutex_unlock(&a0->lock);
	uint64_t pushed = atomic_load(&q->nin) - in0, taken = atomic_load(&q->nout) - out0;
	cr_assert_gt(pushed, N / 2, "%llu of %d blocks went through remote batches", (unsigned long long)pushed, N);
	cr_assert_gt(taken, N / 4, "fills took %llu blocks from the batches", (unsigned long long)taken);
	cr_assert_lt(runs, N / 4, "%llu runs made for %d blocks", (unsigned long long)runs, N);
	cr_assert_eq(large_cur_reported(a0, cls, &nm, &nd), c0, "%zu blocks of the class reported live, want %zu",
	    large_cur_reported(a0, cls, &nm, &nd), c0);
	/* counted as they leave the page allocator or a batch, for the
	 * application or a cache: a fill may have fetched a few more */
	cr_assert(nm - nm0 >= N && nm - nm0 <= N + 64, "allocations counted %llu, want %d",
	    (unsigned long long)(nm - nm0), N);
	cr_assert_eq(nd - nd0, nm - nm0, "frees counted %llu, allocations %llu", (unsigned long long)(nd - nd0),
	    (unsigned long long)(nm - nm0));
	xa_arena_purge_all(a0);
	xa_mutex_lock(&a0->lock);
	size_t left = a0->lstats_cur[cls - SC_NSMALL];
	xa_mutex_unlock(&a0->lock);
	cr_assert_eq(left, c0, "after the purge %zu runs of the class, want %zu", left, c0);
	cr_assert_eq(atomic_load(&q->nin), atomic_load(&q->nout), "blocks still waiting after the purge");
	check_page_accounting();
}

/* A block flushed again while it waits in a remote batch is a double free:
 * the flush's check, and the slow path's (malloc_usable_size, realloc,
 * free with the cache off) abort. */
static void lremote_repeat(int how) {
	xa_arena_t *a0, *a1;
	unsigned cls;
	void *p1[LR_N1], *p0[LR_N0];
	lremote_setup(&a0, &a1, &cls, p1, p0);
	xa_arena_flush_large(a0, cls, p1, 2);
	cr_assert(large_waiting(p1[1]));
	void *again[2] = {p1[3], p1[1]};
	if (how == 0)
		xa_arena_flush_large(a0, cls, again, 2);
	else
		xt_malloc_usable_size(p1[1]);
}
Test(remote, large_block_flushed_while_waiting_aborts, .signal = SIGABRT) { lremote_repeat(0); }
Test(remote, large_block_looked_up_while_waiting_aborts, .signal = SIGABRT) { lremote_repeat(1); }

Test(pages, states_add_up_and_purge_retains) {
	void *p[64];
	xt_free(xt_malloc(1));
	check_page_accounting();
	for (int i = 0; i < 64; i++)
		p[i] = xt_malloc(100000 + (size_t)i * 1000);
	check_page_accounting();
	xa_arena_t *a = xa_tsd_tls.arena;
	xa_mutex_lock(&a->lock);
	size_t retained0 = a->stats.npages[PS_RETAINED];
	xa_mutex_unlock(&a->lock);
	for (int i = 0; i < 64; i++)
		xt_free(p[i]);
	check_page_accounting();
	xa_mutex_lock(&a->lock);
	size_t dirty = a->stats.npages[PS_DIRTY];
	xa_mutex_unlock(&a->lock);
	cr_assert_gt(dirty, 64 * 24, "freed large runs did not become dirty (%zu pages)", dirty);
	cr_assert_gt(xa_arenas_purge(true), 0);
	check_page_accounting();
	xa_mutex_lock(&a->lock);
	cr_assert_eq(a->stats.npages[PS_DIRTY], 0);
	cr_assert_geq(a->stats.npages[PS_RETAINED], retained0 + 64 * 24);
	xa_mutex_unlock(&a->lock);
}

/* ---- huge cache: states, accounting, known-zero reuse ------------------ */

static void huge_cache(size_t b[PS_NSTATES]) { xa_huge_cache_bytes(b); }

static int all_zero(const unsigned char *p, size_t n) {
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

Test(huge, cache_states_add_up_and_retained_reuse_is_known_zero) {
	xt_free(xt_malloc(1));
	atomic_store(&xa_decay_default_ms, -1); /* nothing released behind our back */
	size_t b[PS_NSTATES], sizes[3] = {(size_t)8 << 20, (size_t)12 << 20, (size_t)20 << 20}, total = 0;
	void *p[3];
	for (int i = 0; i < 3; i++) {
		p[i] = xt_malloc(sizes[i]);
		cr_assert_not_null(p[i]);
		memset(p[i], 0xa5, sizes[i]);
		total += CHUNK_CEIL(sizes[i]);
	}
	for (int i = 0; i < 3; i++)
		xt_free(p[i]);
	huge_cache(b);
	cr_assert_eq(b[PS_DIRTY], total, "freed huge mappings: %zu dirty, want %zu", b[PS_DIRTY], total);
	cr_assert_eq(b[PS_RETAINED] + b[PS_LAZY], 0);
	cr_assert_geq(xa_huge_purge(true), total);
	huge_cache(b);
	cr_assert_eq(b[PS_DIRTY], 0);
	cr_assert_eq(b[PS_RETAINED], total, "after a forced purge: %zu retained, want %zu", b[PS_RETAINED], total);
	size_t live, cached;
	xa_huge_resident(&live, &cached);
	cr_assert_eq(cached, 0, "retained huge mappings still resident: %zu", cached);

	/* Reusing a retained mapping: calloc does no zeroing at all. */
	uint64_t k0, m0, z0, k1, m1, z1;
	xa_zero_stats(&k0, &m0, &z0);
	unsigned char *q = xt_calloc(1, sizes[1]);
	cr_assert_not_null(q);
	xa_zero_stats(&k1, &m1, &z1);
	cr_assert_eq(k1 - k0, sizes[1], "known-zero bytes %llu, want %zu", (unsigned long long)(k1 - k0), sizes[1]);
	cr_assert_eq(m1, m0);
	cr_assert_eq(z1, z0);
	cr_assert(all_zero(q, sizes[1]));
	huge_cache(b);
	cr_assert_eq(b[PS_RETAINED], total - CHUNK_CEIL(sizes[1]));
	memset(q, 0x5a, sizes[1]);
	xt_free(q);

	/* Dirty and fully resident: memset, never counted as known zero. */
	xa_zero_stats(&k0, &m0, &z0);
	q = xt_calloc(1, sizes[1]);
	xa_zero_stats(&k1, &m1, &z1);
	cr_assert_eq(k1, k0);
	cr_assert_eq(m1 - m0, sizes[1], "resident dirty block: memset %llu bytes", (unsigned long long)(m1 - m0));
	cr_assert(all_zero(q, sizes[1]));
	xt_free(q);

	/* MADV_FREE'd (lazy) pages may keep their contents: never known zero. */
	atomic_store(&xa_purge_policy, XA_PURGE_FREE);
	q = xt_malloc(sizes[0]);
	memset(q, 0xa5, sizes[0]);
	xt_free(q);
	xa_huge_purge(true);
	huge_cache(b);
	cr_assert_geq(b[PS_LAZY], CHUNK_CEIL(sizes[0]), "purge:free did not leave the mapping lazy");
	xa_zero_stats(&k0, &m0, &z0);
	q = xt_calloc(1, sizes[0]);
	xa_zero_stats(&k1, &m1, &z1);
	cr_assert_eq(k1, k0, "a lazy mapping was taken as known zero");
	cr_assert(all_zero(q, sizes[0]));
	xt_free(q);
	atomic_store(&xa_purge_policy, XA_PURGE_DONTNEED);

	/* Everything unmapped on demand (out of memory path). */
	cr_assert_gt(xa_huge_unmap_cached(), 0);
	huge_cache(b);
	cr_assert_eq(b[PS_DIRTY] + b[PS_LAZY] + b[PS_RETAINED], 0);
}

Test(pages, retained_run_reuse_is_known_zero_dirty_is_not) {
	xt_free(xt_malloc(1));
	xa_arena_t *a = xa_tsd_tls.arena;
	atomic_store(&a->decay_ms, -1);
	size_t size = (size_t)1 << 20; /* a large run, above tcache_max */
	unsigned char *p = xt_malloc(size);
	memset(p, 0xa5, size);
	xt_free(p);
	uint64_t k0, m0, z0, k1, m1, z1;
	xa_zero_stats(&k0, &m0, &z0);
	unsigned char *q = xt_calloc(1, size); /* the dirty run again */
	xa_zero_stats(&k1, &m1, &z1);
	cr_assert_eq(k1, k0, "a dirty run was taken as known zero");
	cr_assert(all_zero(q, size));
	memset(q, 0xa5, size);
	xt_free(q);
	xa_arenas_purge(true);
	check_page_accounting();
	xa_zero_stats(&k0, &m0, &z0);
	q = xt_calloc(1, size); /* retained now */
	xa_zero_stats(&k1, &m1, &z1);
	cr_assert_eq(k1 - k0, size, "a retained run was zeroed again");
	cr_assert_eq(m1, m0);
	cr_assert(all_zero(q, size));
	xt_free(q);
	check_page_accounting();
}

/* ---- idle-thread cache reclaim ----------------------------------------- */

static int wake_pipe[2], ready_pipe[2];
static xa_tsd_t *idle_tsd;

/* Leaves 200 objects of 1000 bytes in the calling thread's cache. */
static void fill_own_cache(void) {
	void *p[200];
	for (int i = 0; i < 200; i++)
		p[i] = xt_malloc(1000);
	for (int i = 0; i < 200; i++)
		xt_free(p[i]);
	idle_tsd = &xa_tsd_tls;
}

static void *idle_thread(void *arg) {
	(void)arg;
	void *p[200];
	fill_own_cache();
	char c = 'r';
	cr_assert_eq(write(ready_pipe[1], &c, 1), 1);
	/* Sleep in the kernel: the reclaim may run now. */
	cr_assert_eq(read(wake_pipe[0], &c, 1), 1);
	/* The cache works again after the reclaim. */
	for (int i = 0; i < 200; i++)
		p[i] = xt_malloc(1000);
	for (int i = 0; i < 200; i++) {
		memset(p[i], i, 1000);
		xt_free(p[i]);
	}
	return (void *)(uintptr_t)(xa_tsd_tls.nbins == xa_tcache_nbins && xa_tcache_bytes(&xa_tsd_tls) > 0);
}

/* Starts fn in a thread (pipes set up) and waits until it says it is ready. */
static pthread_t start_idle_thread(void *(*fn)(void *)) {
	xt_free(xt_malloc(1));
	cr_assert_eq(pipe(wake_pipe), 0);
	cr_assert_eq(pipe(ready_pipe), 0);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, fn, NULL), 0);
	char c;
	cr_assert_eq(read(ready_pipe[0], &c, 1), 1);
	return th;
}

Test(idle, reclaims_cache_of_sleeping_thread) {
	pthread_t th = start_idle_thread(idle_thread);
	size_t before = xa_tcache_bytes(idle_tsd);
	cr_assert_gt(before, 10000, "the thread's cache holds only %zu bytes", before);
	/* Give it time to block in read(2). */
	usleep(100000);
	xa_idle_reclaim(xa_now_ns(), 0);
	cr_assert_eq(xa_tcache_bytes_n(idle_tsd, xa_tcache_nbins), 0, "the sleeping thread's cache was not reclaimed");
	cr_assert_eq(write(wake_pipe[1], "w", 1), 1);
	void *ok;
	cr_assert_eq(pthread_join(th, &ok), 0);
	cr_assert(ok, "the thread's cache did not come back after the reclaim");
}

/* A thread asleep inside a fast path (a signal handler that blocks after
 * interrupting malloc or free) is busy: its mark equals the counter that
 * path will advance (XA_FAST_MARK, tcache.h), so the reclaimer must leave
 * its cache alone.  Simulated by setting the mark as such a path would. */
static int marked_kind;

static void *marked_thread(void *arg) {
	(void)arg;
	fill_own_cache();
	if (marked_kind == 0)
		xa_tsd_tls.amark = xa_tsd_tls.allocated;
	else
		xa_tsd_tls.dmark = xa_tsd_tls.deallocated;
	char c = 'r';
	cr_assert_eq(write(ready_pipe[1], &c, 1), 1);
	cr_assert_eq(read(wake_pipe[0], &c, 1), 1);
	xa_tsd_tls.amark = xa_tsd_tls.dmark = XA_MARK_NONE;
	return NULL;
}

/* A thread that only allocated (its free counter still 0) is not busy. */
static void *alloc_only_thread(void *arg) {
	(void)arg;
	for (int i = 0; i < 3; i++)
		(void)xt_malloc(1000); /* leaked on purpose: the fill leaves the rest cached */
	idle_tsd = &xa_tsd_tls;
	char c = 'r';
	cr_assert_eq(write(ready_pipe[1], &c, 1), 1);
	cr_assert_eq(read(wake_pipe[0], &c, 1), 1);
	return NULL;
}

Test(idle, reclaims_thread_that_never_freed) {
	pthread_t th = start_idle_thread(alloc_only_thread);
	cr_assert_eq(idle_tsd->deallocated, 0);
	cr_assert_gt(xa_tcache_bytes(idle_tsd), 0, "the fill left nothing cached");
	usleep(100000);
	xa_idle_reclaim(xa_now_ns(), 0);
	cr_assert_eq(xa_tcache_bytes_n(idle_tsd, xa_tcache_nbins), 0, "an allocate-only thread was seen busy");
	cr_assert_eq(write(wake_pipe[1], "w", 1), 1);
	cr_assert_eq(pthread_join(th, NULL), 0);
}

Test(idle, skips_thread_asleep_inside_a_fast_path) {
	for (marked_kind = 0; marked_kind < 2; marked_kind++) {
		pthread_t th = start_idle_thread(marked_thread);
		size_t before = xa_tcache_bytes(idle_tsd);
		cr_assert_gt(before, 10000);
		usleep(100000);
		xa_idle_reclaim(xa_now_ns(), 0);
		cr_assert_eq(xa_tcache_bytes(idle_tsd), before, "a cache was reclaimed under a %s fast path",
		    marked_kind ? "free" : "malloc");
		cr_assert_eq(write(wake_pipe[1], "w", 1), 1);
		cr_assert_eq(pthread_join(th, NULL), 0);
	}
}

Test(idle, leaves_running_threads_alone) {
	/* The calling thread itself is never reclaimed (it is running). */
	void *p[100];
	for (int i = 0; i < 100; i++)
		p[i] = xt_malloc(1000);
	for (int i = 0; i < 100; i++)
		xt_free(p[i]);
	size_t before = xa_tcache_bytes(&xa_tsd_tls);
	cr_assert_gt(before, 0);
	xa_idle_reclaim(xa_now_ns(), 0);
	cr_assert_eq(xa_tcache_bytes(&xa_tsd_tls), before);
}

/* dump_signal values (report.c): names with or without SIG, any case,
 * numbers, RTMIN+n; signals a handler must not take are refused. */
#include <signal.h>
Test(report, parse_signal) {
	cr_assert_eq(xa_report_parse_signal("USR2"), SIGUSR2);
	cr_assert_eq(xa_report_parse_signal("SIGUSR2"), SIGUSR2);
	cr_assert_eq(xa_report_parse_signal("usr1"), SIGUSR1);
	cr_assert_eq(xa_report_parse_signal("12"), 12);
	cr_assert_eq(xa_report_parse_signal("HUP"), SIGHUP);
	cr_assert_eq(xa_report_parse_signal("RTMIN+2"), SIGRTMIN + 2);
	const char *bad[] = {"", "FOO", "KILL", "SIGSTOP", "SEGV", "9", "0", "-12", "65", "99999", "USR2x", "RTMIN+99",
	    "CHLD", "33", "SIGUSR2SIGUSR2SIGUSR2"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(xa_report_parse_signal(bad[i]), 0, "'%s' accepted", bad[i]);
}

/*
 * The incremental GC (tcache.c): one bin per event, and a fill leaves the
 * bin's low water at 0 (it was empty), so the next visit keeps what the
 * fill fetched; a visit after a round in which those objects sat unused
 * flushes three quarters of them.  Run on a fresh thread: its bins have
 * seen no GC yet, and 48-byte requests use one bin only.
 */
/* Runs fn(arg) on a new thread (a cache with no history) and fails the
 * test with the message it returns, if any. */
static void on_fresh_thread(void *(*fn)(void *), void *arg) {
	pthread_t th;
	void *err;
	cr_assert_eq(pthread_create(&th, NULL, fn, arg), 0);
	cr_assert_eq(pthread_join(th, &err), 0);
	cr_assert_null(err, "%s", (const char *)err);
}

static void *gc_thread(void *arg) {
	(void)arg;
	xa_tsd_t *t = &xa_tsd_tls;
	unsigned cls = xa_sc_size2class(48);
	void *p = xt_malloc(48); /* the bin's first fill */
	xa_cbin_t *b = &t->bins[cls];
	unsigned n = xa_cbin_ncached(b);
	if (n < 4 || t->nbins < 8)
		return (void *)"the fill left fewer than 4 objects (or no cache)";
	if (xa_cbin_low_water(b) != 0)
		return (void *)"a fill left the low water above 0";
	/* one visit per event: gc_bin moves by one bin */
	t->gc_bin = (uint8_t)cls;
	xa_tcache_gc_step(t);
	if (t->gc_bin != (cls + 1) % t->nbins)
		return (void *)"a GC event visited more than one bin";
	if (xa_cbin_ncached(b) != n)
		return (void *)"the visit after the fill flushed the objects just fetched";
	/* unused for a whole round: three quarters go */
	t->gc_bin = (uint8_t)cls;
	xa_tcache_gc_step(t);
	if (xa_cbin_ncached(b) != n / 4)
		return (void *)"the next visit did not flush 3/4 of the unused objects";
	xt_free(p);
	return NULL;
}

Test(tcache, gc_visits_one_bin_and_keeps_a_fresh_fill) {
	xt_free(xt_malloc(1));
	on_fresh_thread(gc_thread, NULL);
}

/*
 * The GC and a draining bin (tcache.c, "GC"): a visit keeps the part of
 * the low water that the bin's drain since the previous visit would take
 * over the next GC_DRAIN_VISITS visits, and flushes three quarters of the
 * rest; a bin that did not drain loses three quarters of its low water as
 * before.  Before, the draining bin lost three quarters of everything
 * below its low water (here 600 of 800 objects, 200 left).  On a fresh
 * thread, with no allocation event during the test.
 */
static void *drain_thread(void *arg) {
	(void)arg;
	xa_tsd_t *t = &xa_tsd_tls;
	enum { N = 1000, D = 200 };
	static void *p[N];
	unsigned cls = xa_sc_size2class(48);
	xa_cbin_t *b = &t->bins[cls];
	xt_free(xt_malloc(48)); /* the cache set up (a new thread's next_event is 0) */
	uint64_t ev = t->next_event;
	t->next_event = UINT64_MAX / 2;
	for (unsigned i = 0; i < N; i++)
		p[i] = xt_malloc(48);
	for (unsigned i = 0; i < N; i++)
		xt_free(p[i]);
	if (xa_cbin_ncached(b) < N || t->nbins <= cls)
		return (void *)"1000 frees did not leave 1000 objects in the bin (or no cache)";
	xa_tcache_flush_bin(t, cls, N);
	/* what a visit leaves: low water at the head, N objects seen */
	b->lw = XA_POS16(b->head);
	t->gc_seen[cls] = N;
	for (unsigned i = 0; i < D; i++)
		p[i] = xt_malloc(48);
	unsigned now = xa_cbin_ncached(b), lw = xa_cbin_low_water(b);
	if (now != N - D || lw > now || lw + TCACHE_LW_STEP <= now)
		return (void *)"the drain did not leave N - D objects and a low water just below";
	t->gc_bin = (uint8_t)cls;
	xa_tcache_gc_step(t);
	unsigned rest = lw - GC_DRAIN_VISITS * D;
	if (xa_cbin_ncached(b) != now - (rest - rest / 4) || xa_cbin_ncached(b) <= now / 2)
		return (void *)"a visit to a draining bin did not keep what the drain would take";
	if (t->gc_seen[cls] != xa_cbin_ncached(b))
		return (void *)"the visit did not record what it left";
	/* no drain since: three quarters of the (whole) low water go */
	now = xa_cbin_ncached(b);
	t->gc_bin = (uint8_t)cls;
	xa_tcache_gc_step(t);
	if (xa_cbin_ncached(b) != now / 4)
		return (void *)"a visit to a bin that did not drain kept more than a quarter";
	t->next_event = ev;
	for (unsigned i = 0; i < D; i++)
		xt_free(p[i]);
	return NULL;
}

Test(tcache, gc_keeps_what_a_draining_bin_will_use) {
	xt_free(xt_malloc(1));
	on_fresh_thread(drain_thread, NULL);
}

/*
 * The malloc fast path's low-water branch (tcache.h, xa_cbin_lw_step):
 * after a GC visit (lw = head), the first pop lowers lw by TCACHE_LW_STEP
 * slots at once, so the next TCACHE_LW_STEP - 1 pops do not take the cold
 * branch; the GC then reads a low water up to TCACHE_LW_STEP - 1 below the
 * true one, and lw never goes below the stack's base.  Before, every pop
 * of a draining bin lowered lw by one slot (the low water read n - 1 here).
 */
static void *lw_step_thread(void *arg) {
	(void)arg;
	xa_tsd_t *t = &xa_tsd_tls;
	unsigned cls = xa_sc_size2class(48);
	enum { N = TCACHE_LW_STEP + 4 };
	void *p[N];
	for (unsigned i = 0; i < N; i++)
		p[i] = xt_malloc(48);
	for (unsigned i = 0; i < N; i++)
		xt_free(p[i]);
	xa_cbin_t *b = &t->bins[cls];
	if (xa_cbin_ncached(b) < N || t->nbins <= cls)
		return (void *)"the frees did not fill the bin (or no cache)";
	xa_tcache_flush_bin(t, cls, N); /* exactly N objects: what the fills left over goes */
	unsigned n = xa_cbin_ncached(b);
	if (n != N)
		return (void *)"the flush did not leave N objects";
	b->lw = XA_POS16(b->head); /* what a GC visit leaves */
	p[0] = xt_malloc(48);
	if (xa_cbin_low_water(b) != n - TCACHE_LW_STEP)
		return (void *)"one pop after a visit did not lower the low water by TCACHE_LW_STEP";
	uint16_t lw = b->lw;
	for (unsigned i = 1; i < TCACHE_LW_STEP; i++)
		p[i] = xt_malloc(48);
	if (b->lw != lw || xa_cbin_ncached(b) != n - TCACHE_LW_STEP)
		return (void *)"pops above the stepped low water moved it";
	/* 4 left, fewer than TCACHE_LW_STEP: the next step stops at the base */
	p[TCACHE_LW_STEP] = xt_malloc(48);
	if (xa_cbin_low_water(b) != 0 || b->lw != b->base)
		return (void *)"the low water went past the base (or stayed above it)";
	for (unsigned i = 0; i <= TCACHE_LW_STEP; i++)
		xt_free(p[i]);
	return NULL;
}

Test(tcache, low_water_steps_down_several_slots_at_once) {
	xt_free(xt_malloc(1));
	on_fresh_thread(lw_step_thread, NULL);
}

/*
 * Bins set up on first use (tcache.c): a thread's bins carry the class's
 * free magic only where the bin was used (bin_on), 0 everywhere else, and
 * bins it did not use have no stack -- also when the stack block was
 * another, exited thread's, which used other classes.  A bin with a magic
 * not in bin_on would take fast-path frees that the idle reclaim (which
 * clears only the bins in bin_on) cannot stop.
 */
/* Bins of t (the two nocache bins included) whose free magic is not 0. */
static unsigned magics_nonzero(xa_tsd_t *t) {
	unsigned nonzero = 0;
	for (unsigned k = 0; k < 2; k++)
		nonzero += t->nocache[k].fmagic != 0;
	for (unsigned i = 0; i < SC_NCLASSES; i++)
		nonzero += t->bins[i].fmagic != 0;
	return nonzero;
}

static unsigned magic_mismatch(xa_tsd_t *t, unsigned *nused) {
	unsigned bad = 0, want = 0;
	*nused = 0;
	for (unsigned i = 0; i < t->nbins; i++) {
		xa_cbin_t *b = &t->bins[i];
		bool on = (t->bin_on[i / 64] >> (i % 64)) & 1;
		*nused += on;
		if (!on) {
			bad += b->cap != 0; /* a bin not set up has no stack */
			continue;
		}
		void **base = b->head - xa_cbin_ncached(b);
		bad += base[-1] != NULL; /* the sentinel */
		want++;
		bad += b->fmagic != xa_tcache_fmagic[i];
	}
	/* no magic anywhere else (bins not set up, the nocache bins) */
	unsigned nonzero = magics_nonzero(t);
	return bad + (nonzero > want ? nonzero - want : want - nonzero);
}

static void *magic_blocks[3];
static unsigned magic_nblocks;

static void *magic_thread(void *arg) {
	size_t size = (size_t)(uintptr_t)arg;
	void *p[8];
	for (int i = 0; i < 8; i++)
		p[i] = xt_malloc(size);
	for (int i = 0; i < 8; i++)
		xt_free(p[i]);
	unsigned nused, bad = magic_mismatch(&xa_tsd_tls, &nused);
	unsigned nslots;
	magic_blocks[magic_nblocks++] = xa_tcache_block(&xa_tsd_tls, &nslots);
	return (void *)(uintptr_t)(bad * 1000 + nused);
}

Test(tcache, free_magics_only_on_bins_in_use) {
	/* one thread uses 48-byte blocks and exits; the next (most likely
	 * on the same pooled block) uses 3000-byte blocks */
	size_t sizes[] = {48, 3000, 200};
	for (unsigned k = 0; k < 3; k++) {
		pthread_t th;
		void *ret;
		cr_assert_eq(pthread_create(&th, NULL, magic_thread, (void *)(uintptr_t)sizes[k]), 0);
		pthread_join(th, &ret);
		unsigned v = (unsigned)(uintptr_t)ret;
		cr_assert_eq(v / 1000, 0, "size %zu: %u bins whose magic does not match bin_on", sizes[k], v / 1000);
		cr_assert_eq(v % 1000, 1, "size %zu: %u bins with magics on, want 1", sizes[k], v % 1000);
	}
	cr_log_info("blocks %p %p %p", magic_blocks[0], magic_blocks[1], magic_blocks[2]);
}

/*
 * Adaptive capacity (tcache.c, "Capacity"): a burst of frees larger than a
 * bin's minimum capacity (128 objects up to 256 bytes), in a thread whose
 * fills fetched as many, doubles the bin's
 * capacity instead of flushing, up to 4096 objects (1024 above 256 bytes) and within the thread's
 * bound TCACHE_GROW_BYTES of grown capacity, the bins' free magics
 * unchanged; GC visits that find the objects unused shrink it back to the
 * minimum.  On a fresh thread.  Fails on the code before
 * (fixed capacity: 128 objects cached at most).
 */
static unsigned grown_sum(xa_tsd_t *t) {
	size_t sum = 0;
	for (unsigned i = 0; i < t->nbins && i < SC_NSMALL; i++) {
		xa_cbin_t *b = &t->bins[i];
		size_t s = xa_sc_size[i];
		unsigned min = s <= 256 ? 128 : s <= 1024 ? 64 : s <= 4096 ? 32 : 16;
		if (b->cap > min)
			sum += (size_t)(b->cap - min) * b->size;
	}
	return sum == t->cache_grown;
}

static void *grow_thread(void *arg) {
	(void)arg;
	xa_tsd_t *t = &xa_tsd_tls;
	enum { N = 1000, M = 4000 };
	static void *p[M];
	unsigned cls = xa_sc_size2class(64), nused;
	xa_cbin_t *b = &t->bins[cls];
	for (unsigned i = 0; i < N; i++)
		p[i] = xt_malloc(64);
	for (unsigned i = 0; i < N; i++)
		xt_free(p[i]);
	if (b->cap != 1024 || xa_cbin_ncached(b) < N)
		return (void *)"1000 frees of 64 bytes: the bin did not grow to 1024 and keep them all";
	if (!grown_sum(t) || t->cache_grown != (1024 - 128) * 64)
		return (void *)"grown bytes do not match the capacities";
	if (magic_mismatch(t, &nused))
		return (void *)"free magics wrong after the bin grew";
	/* the bound: 4000 blocks of every class up to 1 KiB would grow 10 MB
	 * of capacity; no GC visit meanwhile (no allocation event) */
	uint64_t ev = t->next_event;
	t->next_event = UINT64_MAX / 2;
	for (unsigned s = 16; s <= 1024; s += 16) {
		unsigned c = xa_sc_size2class(s);
		if (xa_sc_size[c] != s)
			continue;
		for (unsigned i = 0; i < M; i++)
			p[i] = xt_malloc(s);
		for (unsigned i = 0; i < M; i++)
			xt_free(p[i]);
	}
	t->next_event = ev;
	/* a refused doubling would have added at most 2048 * 256 (or
	 * 512 * 1024) bytes */
	if (t->cache_grown > TCACHE_GROW_BYTES || t->cache_grown + 2048 * 256 <= TCACHE_GROW_BYTES || !grown_sum(t))
		return (void *)"grown capacity not within its bound (or not near it)";
	if (t->bins[xa_sc_size2class(256)].cap != 4096 || t->bins[xa_sc_size2class(512)].cap != 1024)
		return (void *)"bins of 256 and 512 bytes did not grow to 4096 and 1024 objects";
	if (t->bins[xa_sc_size2class(1024)].cap == 1024)
		return (void *)"the last bin reached its largest capacity past the bound";
	if (magic_mismatch(t, &nused))
		return (void *)"free magics wrong after the bins grew";
	/* the idle reclaim's switch (off, then on again) covers grown bins */
	xa_tcache_uncache(t);
	unsigned nonzero = magics_nonzero(t);
	xa_tcache_recache(t);
	if (nonzero || magic_mismatch(t, &nused))
		return (void *)"turning the cache off and on left magics behind or wrong";
	/* unused: each visit flushes 3/4 of the low water and halves a bin
	 * left at most half full, down to 128 */
	for (unsigned v = 0; v < 8; v++) {
		t->gc_bin = (uint8_t)cls;
		xa_tcache_gc_step(t);
	}
	if (b->cap != 128)
		return (void *)"GC visits did not shrink the unused bin to its minimum";
	if (!grown_sum(t) || magic_mismatch(t, &nused))
		return (void *)"grown bytes or free magics wrong after shrinking";
	/* the idle reclaim's trim: every bin back to its minimum, grown
	 * pages purged (magics read 0) */
	if (t->cache_grown == 0)
		return (void *)"no grown bin left to trim";
	xa_tcache_flush_all(t);
	xa_tcache_uncache(t);
	xa_tcache_trim(t);
	/* every page wholly inside the block is purged, slots and magics
	 * alike, not only the grown ones (the pages under each bin's minimum
	 * capacity stayed resident before) */
	unsigned nslots;
	uintptr_t blk = (uintptr_t)xa_tcache_block(t, &nslots);
	uintptr_t lo = PAGE_CEIL(blk), hi = (blk + nslots * sizeof(void *)) & ~PAGE_MASK;
	ssize_t res_slots = xa_os_resident_pages((void *)lo, hi - lo);
	if (hi <= lo || res_slots != 0)
		return (void *)"trim left pages of the idle cache block resident";
	nonzero = magics_nonzero(t);
	xa_tcache_recache(t);
	if (t->cache_grown != 0 || t->bins[xa_sc_size2class(256)].cap != 128 || nonzero || magic_mismatch(t, &nused))
		return (void *)"trim left grown capacity or magics behind";
	for (unsigned i = 0; i < 2000; i++)
		p[i] = xt_malloc(256); /* the trimmed bins work */
	for (unsigned i = 0; i < 2000; i++)
		xt_free(p[i]);
	if (magic_mismatch(t, &nused))
		return (void *)"free magics wrong after growing again";
	return NULL;
}

Test(tcache, capacity_grows_with_bursts_within_bound_and_shrinks) {
	xt_free(xt_malloc(1));
	on_fresh_thread(grow_thread, NULL);
}

/*
 * Large blocks in the thread cache (tcache.c, "Large blocks"): with the
 * default tcache_max (128 KiB) a freed 64 KiB block waits in its bin and
 * the next malloc of that size gets it back with no arena work; a bin of
 * a class above 32 KiB holds at most TCACHE_LARGE_BIN_BYTES of blocks (4 of
 * 64 KiB, 2 of 128 KiB), the rest goes back to the arena.  A large block
 * that realloc moves or resizes has exactly its pages (not its class's
 * size) and is not cached when freed.  Fails on the library before
 * (tcache_max 32 KiB: the 64 KiB block went back to the arena).
 */
static void *large_cache_thread(void *arg) {
	(void)arg;
	xa_tsd_t *t = &xa_tsd_tls;
	enum { N = 8 };
	void *p[N];
	xt_free(xt_malloc(48)); /* the cache set up */
	unsigned c64 = xa_sc_size2class(65536), c128 = xa_sc_size2class(131072);
	if (t->nbins <= c128)
		return (void *)"classes up to 128 KiB are not cached by default";
	p[0] = xt_malloc(65536);
	xt_free(p[0]);
	if (xa_cbin_ncached(&t->bins[c64]) != 1)
		return (void *)"a freed 64 KiB block is not in its bin";
	void *q = xt_malloc(65536);
	if (q != p[0] || xa_cbin_ncached(&t->bins[c64]) != 0)
		return (void *)"malloc of 64 KiB did not take the cached block";
	xt_free(q);
	/* a bin starts with TCACHE_LARGE_BIN_BYTES of blocks; the frees
	 * below fill it (it may grow: large_bins_grow_with_reuse) */
	for (unsigned i = 0; i < N; i++)
		p[i] = xt_malloc(131072);
	if (t->bins[c128].cap != TCACHE_LARGE_BIN_BYTES / 131072)
		return (void *)"the 128 KiB bin does not start with TCACHE_LARGE_BIN_BYTES of blocks";
	for (unsigned i = 0; i < N; i++)
		xt_free(p[i]);
	if (xa_cbin_ncached(&t->bins[c128]) < TCACHE_LARGE_BIN_BYTES / 131072)
		return (void *)"the 128 KiB bin does not hold its blocks";
	for (unsigned i = 0; i < N; i++)
		p[i] = xt_malloc(65536);
	if (t->bins[c64].cap != TCACHE_LARGE_BIN_BYTES / 65536)
		return (void *)"the 64 KiB bin does not start with TCACHE_LARGE_BIN_BYTES of blocks";
	for (unsigned i = 0; i < N; i++)
		xt_free(p[i]);
	if (xa_cbin_ncached(&t->bins[c64]) < TCACHE_LARGE_BIN_BYTES / 65536)
		return (void *)"the 64 KiB bin does not hold its blocks";
	/* realloc below needs an empty 128 KiB bin */
	xa_tcache_flush_bin(t, c128, 0);
	/* realloc: exact pages, and neither the block it leaves nor the one
	 * it gives enters a cache bin when freed (the 128 KiB bin emptied
	 * first, so that a push would not find it full) */
	unsigned c56 = xa_sc_size2class(50000);
	unsigned before = xa_cbin_ncached(&t->bins[c56]), before128 = xa_cbin_ncached(&t->bins[c128]);
	if (before128 != 0)
		return (void *)"the 128 KiB bin is not empty after taking its blocks";
	char *r = xt_malloc(100);
	r = xt_realloc(r, 50000);
	if (r == NULL || xt_malloc_usable_size(r) != PAGE_CEIL(50000))
		return (void *)"realloc to 50000 bytes did not give exactly its pages";
	char *r2 = xt_realloc(r, 120000); /* moves or grows: either way */
	if (r2 == NULL || xt_malloc_usable_size(r2) != PAGE_CEIL(120000))
		return (void *)"realloc to 120000 bytes did not give exactly its pages";
	xt_free(r2);
	if (xa_cbin_ncached(&t->bins[c56]) != before || xa_cbin_ncached(&t->bins[c128]) != before128)
		return (void *)"a block resized by realloc went into a cache bin";
	return NULL;
}

Test(tcache, large_blocks_up_to_128k_are_cached) {
	xt_free(xt_malloc(1));
	on_fresh_thread(large_cache_thread, NULL);
}

/*
 * Bins of large classes grow (tcache.c, "Large blocks"): a thread that
 * reuses 128 KiB blocks in rounds of 16 gets a bin of 16 after a few
 * rounds, and then a round takes no block from the arena; the grown bytes
 * are counted in cache_grown; GC visits of the unused bin shrink it back
 * to its 2 blocks; a thread's large bins grow by TCACHE_LARGE_GROW_BYTES
 * in all; a thread that only frees such blocks does not grow its bin.
 * Fails on the library before (a 128 KiB bin held 2 blocks: every
 * round took 14 blocks from the arena).
 */
static uint64_t arena_large_nmalloc(xa_arena_t *a) {
	xa_mutex_lock(&a->lock);
	uint64_t n = a->stats.large_nmalloc;
	xa_mutex_unlock(&a->lock);
	return n;
}

static void *large_grow_thread(void *arg) {
	void **given = arg;
	xa_tsd_t *t = &xa_tsd_tls;
	enum { R = 16 };
	void *p[R];
	xt_free(xt_malloc(48)); /* the cache set up */
	unsigned c = xa_sc_size2class(131072);
	xa_cbin_t *b = &t->bins[c];
	if (given) {
		/* a consumer: frees 16 blocks another thread allocated */
		for (unsigned i = 0; i < R; i++)
			xt_free(given[i]);
		if (b->cap != TCACHE_LARGE_BIN_BYTES / 131072 || t->cache_grown != 0)
			return (void *)"a thread that only frees grew its large bin";
		return NULL;
	}
	for (unsigned round = 0; round < 5; round++) {
		for (unsigned i = 0; i < R; i++)
			p[i] = xt_malloc(131072);
		for (unsigned i = 0; i < R; i++)
			xt_free(p[i]);
	}
	if (b->cap != R || xa_cbin_ncached(b) != R)
		return (void *)"the 128 KiB bin did not grow to 16 blocks";
	if (t->cache_grown != (size_t)(R - TCACHE_LARGE_BIN_BYTES / 131072) * 131072)
		return (void *)"the large bin's growth is not in cache_grown";
	uint64_t before = arena_large_nmalloc(t->arena);
	for (unsigned i = 0; i < R; i++)
		p[i] = xt_malloc(131072);
	uint64_t after = arena_large_nmalloc(t->arena);
	for (unsigned i = 0; i < R; i++)
		xt_free(p[i]);
	if (after != before)
		return (void *)"a round of 16 blocks took blocks from the arena";
	/* unused: each visit flushes 3/4 of the low water and halves a bin
	 * left at most half full, down to its minimum */
	for (unsigned v = 0; v < 8; v++) {
		t->gc_bin = (uint8_t)c;
		xa_tcache_gc_step(t);
	}
	if (b->cap != TCACHE_LARGE_BIN_BYTES / 131072 || t->cache_grown != 0)
		return (void *)"GC visits did not shrink the unused large bin to its minimum";
	/* the thread's large bins grow by TCACHE_LARGE_GROW_BYTES in all:
	 * growing the 128, 112 and 96 KiB bins as far as they may (each
	 * with enough mallocs counted) takes the first two to 16 blocks
	 * (3.3 MiB) and leaves the third short of it.  Called directly: GC
	 * visits in rounds of mallocs would halve a bin left empty. */
	size_t sz[3] = {131072, 114688, 98304};
	size_t grown = 0;
	for (unsigned k = 0; k < 3; k++) {
		xt_free(xt_malloc(sz[k])); /* the bin set up */
		xa_cbin_t *bk = &t->bins[xa_sc_size2class(sz[k])];
		for (unsigned g = 0; g < 8; g++) {
			bk->nrequests = 1000;
			if (!xa_tcache_grow(t, xa_sc_size2class(sz[k])))
				break;
		}
		grown += (size_t)(bk->cap - TCACHE_LARGE_BIN_BYTES / sz[0]) * sz[k];
		if (k < 2 && bk->cap != R)
			return (void *)"the 128 and 112 KiB bins did not both grow to 16 blocks";
	}
	if (t->bins[xa_sc_size2class(sz[2])].cap >= R || grown > TCACHE_LARGE_GROW_BYTES || grown != t->cache_grown)
		return (void *)"the large bins grew beyond TCACHE_LARGE_GROW_BYTES";
	return NULL;
}

Test(tcache, large_bins_grow_with_reuse) {
	xt_free(xt_malloc(1));
	on_fresh_thread(large_grow_thread, NULL);
	static void *p[16];
	for (unsigned i = 0; i < 16; i++)
		p[i] = xt_malloc(131072);
	on_fresh_thread(large_grow_thread, p);
}

/*
 * A large class's empty bin borrows a block from the next class's bin
 * (alloc.c, alloc_raw): with the 112 KiB bin empty and a 128 KiB block
 * cached, malloc(100000) gets that block, with its usable size, counted
 * as 128 KiB allocated, and its free puts it back in the 128 KiB bin; a
 * calloc that misses does not borrow.  Fails on the library before (the
 * malloc went to the page allocator).
 */
static void *borrow_thread(void *arg) {
	(void)arg;
	xa_tsd_t *t = &xa_tsd_tls;
	xt_free(xt_malloc(48)); /* the cache set up */
	unsigned c112 = xa_sc_size2class(100000), c128 = xa_sc_size2class(131072);
	if (c128 != c112 + 1 || xa_sc_size[c128] != 131072)
		return (void *)"100000 and 131072 are not in neighbouring classes";
	void *a = xt_malloc(131072);
	xt_free(a);
	if (xa_cbin_ncached(&t->bins[c128]) != 1 || xa_cbin_ncached(&t->bins[c112]) != 0)
		return (void *)"want one cached 128 KiB block and an empty 112 KiB bin";
	uint64_t before = t->allocated;
	void *q = xt_malloc(100000);
	if (q != a || xt_malloc_usable_size(q) != 131072 || t->allocated - before != 131072)
		return (void *)"malloc(100000) did not borrow the 128 KiB block, with its size counted";
	uint64_t freed = t->deallocated;
	xt_free(q);
	if (xa_cbin_ncached(&t->bins[c128]) != 1 || t->deallocated - freed != 131072)
		return (void *)"the borrowed block did not go back to the 128 KiB bin";
	void *z = xt_calloc(1, 100000);
	if (z == NULL || z == a || xa_cbin_ncached(&t->bins[c128]) != 1)
		return (void *)"a calloc that missed borrowed from the next bin";
	xt_free(z);
	return NULL;
}

Test(tcache, an_empty_large_bin_borrows_from_the_next) {
	xt_free(xt_malloc(1));
	on_fresh_thread(borrow_thread, NULL);
}

/*
 * The allocation event of a thread churning large blocks (alloc.c,
 * alloc_event): with its live bytes steady, the next event is 8 blocks
 * on, not 64 KiB; once it builds up, it publishes its live bytes every
 * 64 KiB again.  Fails on the library before (every event set the next
 * one 64 KiB on, so each malloc of 100 kB took the slow path).
 */
static void *event_thread(void *arg) {
	(void)arg;
	xa_tsd_t *t = &xa_tsd_tls;
	enum { S = 64, SZ = 100000 };
	void *p[S], *q[S];
	for (unsigned i = 0; i < S; i++)
		p[i] = xt_malloc(SZ);
	uint64_t gap = 0;
	for (unsigned k = 0; k < 4000; k++) {
		xt_free(p[k % S]);
		p[k % S] = xt_malloc(SZ);
		gap = XA_MAX(gap, t->next_event - t->allocated);
	}
	if (gap < 4 * TCACHE_GC_INTERVAL || gap > EVENT_STRETCH_MAX)
		return (void *)"a churn of 100 kB blocks did not space its events by several blocks";
	/* a build-up: after at most one stretched interval, 64 KiB again */
	for (unsigned i = 0; i < S; i++)
		q[i] = xt_malloc(SZ);
	int64_t unpublished = (int64_t)(t->allocated - t->deallocated) - t->peak_pub;
	uint64_t next = t->next_event - t->allocated;
	for (unsigned i = 0; i < S; i++)
		xt_free(p[i]), xt_free(q[i]);
	if (next > TCACHE_GC_INTERVAL || unpublished < 0 || unpublished >= (int64_t)TCACHE_GC_INTERVAL)
		return (void *)"a thread building up large blocks did not publish every 64 KiB";
	return NULL;
}

Test(tcache, large_churn_spaces_allocation_events) {
	xt_free(xt_malloc(1));
	on_fresh_thread(event_thread, NULL);
}

/* A thread that frees blocks it did not allocate (a consumer) gets no
 * growth credit: its bin stays at the minimum and flushes (fails with
 * growth on every overflow: such caches held 2 MiB per consumer thread in
 * xmalloc-test). */
static void *consumer_thread(void *arg) {
	void **p = arg;
	xa_tsd_t *t = &xa_tsd_tls;
	for (unsigned i = 0; i < 1000; i++)
		xt_free(p[i]);
	xa_cbin_t *b = &t->bins[xa_sc_size2class(64)];
	if (b->cap != 128 || xa_cbin_ncached(b) > 128 || t->cache_grown != 0)
		return (void *)"a thread that only frees grew its bin";
	return NULL;
}

Test(tcache, capacity_does_not_grow_in_a_thread_that_only_frees) {
	static void *p[1000];
	for (unsigned i = 0; i < 1000; i++)
		p[i] = xt_malloc(64);
	on_fresh_thread(consumer_thread, p);
}

static void slab_seen(xa_run_t *r, xa_run_t **seen, size_t max, size_t *ns, size_t *npages) {
	for (size_t k = 0; k < *ns; k++)
		if (seen[k] == r)
			return;
	cr_assert_lt(*ns, max);
	seen[(*ns)++] = r;
	*npages += r->npages;
}

/* The slabs of bin b (lock taken): those its lists hold (the current one,
 * partly used, kept empty) and those of the n regions in p (full slabs are
 * on no list).  Returns their number; *npages: their pages. */
static size_t bin_slabs(xa_bin_t *b, void **p, unsigned n, size_t *npages) {
	enum { MAX = 4096 };
	static xa_run_t *seen[MAX];
	size_t ns = 0;
	*npages = 0;
	xa_mutex_lock(&b->lock);
	for (unsigned k = 0; k < BIN_NCUR; k++)
		if (b->cur[k])
			slab_seen(b->cur[k], seen, MAX, &ns, npages);
	for (xa_run_t *r = XA_LIST_FIRST(&b->nonfull, xa_run_t, link); r; r = XA_LIST_NEXT(r, xa_run_t, link))
		slab_seen(r, seen, MAX, &ns, npages);
	for (xa_run_t *r = XA_LIST_FIRST(&b->empty, xa_run_t, link); r; r = XA_LIST_NEXT(r, xa_run_t, link))
		slab_seen(r, seen, MAX, &ns, npages);
	for (unsigned i = 0; i < n; i++) {
		if (!p[i])
			continue;
		xa_chunk_t *c = xa_pagemap_lookup((uintptr_t)p[i]);
		slab_seen(xa_chunk_run_at(c, (uintptr_t)p[i]), seen, MAX, &ns, npages);
	}
	xa_mutex_unlock(&b->lock);
	return ns;
}

/*
 * Slabs grow in busy bins (arena.c, issue 10 spike target): the 4 KiB
 * class has one-region slabs of one page, and a bin that already has 256
 * slabs makes slabs of 16 pages (16 regions, at multiples of 4 KiB from
 * the start).  The bin's page count (curpages, behind small.active) stays
 * the sum over its slabs while slabs of both sizes fill, empty, are kept
 * and released.  On an arena of its own (no other thread's slabs).  Fails
 * on the code before (every slab one page).
 */
Test(slabs, busy_bin_grows_its_slabs_and_counts_their_pages) {
	xt_free(xt_malloc(1));
	unsigned ind = atomic_load(&xa_narenas_created);
	xa_arena_max_set(ind + 1);
	xa_arena_t *a = xa_arena_get(ind, true);
	cr_assert_not_null(a);
	unsigned cls = xa_sc_size2class(4096);
	cr_assert_eq(xa_sc[cls].npages, 1);
	cr_assert_eq(xa_sc_grown_pages(cls), 16);
	xa_bin_t *b = &a->bins[cls];
	enum { N = 800 };
	static void *p[N];
	for (int i = 0; i < N; i++)
		cr_assert_not_null(p[i] = xa_arena_malloc_small(a, cls, false, 0));
	unsigned small = 0, grown = 0;
	for (int i = 0; i < N; i++) {
		xa_chunk_t *c = xa_pagemap_lookup((uintptr_t)p[i]);
		xa_run_t *r = xa_chunk_run_at(c, (uintptr_t)p[i]);
		cr_assert(r && r->kind == RUN_SLAB && r->cls == cls);
		cr_assert_eq(((uintptr_t)p[i] - r->addr) % 4096, 0);
		if (r->npages == 1) {
			small++;
		} else {
			cr_assert_eq(r->npages, 16, "a slab of %u pages", (unsigned)r->npages);
			cr_assert_eq(r->nregs, 16);
			grown++;
		}
	}
	cr_assert_eq(small, 256, "%u blocks in one-page slabs, want 256 (then the bin grows its slabs)", small);
	size_t ns, np;
	xa_bin_stats_t s;
	ns = bin_slabs(b, p, N, &np);
	xa_arena_bin_stats(b, &s);
	cr_assert_eq(s.curslabs, ns, "curslabs %zu, the bin has %zu slabs", s.curslabs, ns);
	cr_assert_eq(s.curpages, np, "curpages %zu, the bin's slabs have %zu pages", s.curpages, np);
	/* free every other block, then the rest: slabs partly used, emptied,
	 * kept (the arena's budget) or released */
	for (int k = 0; k < 2; k++) {
		for (int i = k; i < N; i += 2) {
			xa_arena_free_small_one(xa_pagemap_lookup((uintptr_t)p[i]), p[i]);
			p[i] = NULL;
		}
		ns = bin_slabs(b, p, N, &np);
		xa_arena_bin_stats(b, &s);
		cr_assert_eq(s.curslabs, ns, "after frees %d: curslabs %zu, the bin has %zu slabs", k, s.curslabs, ns);
		cr_assert_eq(s.curpages, np, "after frees %d: curpages %zu, the bin's slabs have %zu pages", k,
		    s.curpages, np);
	}
	xa_arenas_purge_slabs(true, NULL);
	ns = bin_slabs(b, p, N, &np);
	xa_arena_bin_stats(b, &s);
	cr_assert_eq(s.curpages, np, "after a forced purge: curpages %zu, slabs' pages %zu", s.curpages, np);
}

/* Small classes grow their slabs too, up to 256 regions (64 bytes: 4
 * pages), once the bin has 256 slabs: the same counts must hold.  Fails on
 * the code before (64-byte slabs stayed one page). */
Test(slabs, busy_small_bin_grows_to_256_regions) {
	xt_free(xt_malloc(1));
	unsigned ind = atomic_load(&xa_narenas_created);
	xa_arena_max_set(ind + 1);
	xa_arena_t *a = xa_arena_get(ind, true);
	cr_assert_not_null(a);
	unsigned cls = xa_sc_size2class(64);
	cr_assert_eq(xa_sc[cls].npages, 1);
	cr_assert_eq(xa_sc_grown_pages(cls), 4);
	cr_assert_eq(xa_sc_grown_pages(xa_sc_size2class(16)), 1, "256 regions of 16 bytes fill a page");
	cr_assert_eq(xa_sc_grown_pages(xa_sc_size2class(48)), 3);
	cr_assert_eq(xa_sc_grown_pages(xa_sc_size2class(512)), xa_sc[xa_sc_size2class(512)].npages);
	xa_bin_t *b = &a->bins[cls];
	enum { N = 256 * 64 + 2048 };
	static void *p[N];
	for (int i = 0; i < N; i++)
		cr_assert_not_null(p[i] = xa_arena_malloc_small(a, cls, false, 0));
	unsigned small = 0, grown = 0;
	for (int i = 0; i < N; i++) {
		xa_run_t *r = run_of(p[i]);
		cr_assert(r && r->kind == RUN_SLAB && r->cls == cls);
		cr_assert_eq(((uintptr_t)p[i] - r->addr) % 64, 0);
		if (r->npages == 1) {
			small++;
		} else {
			cr_assert_eq(r->npages, 4, "a slab of %u pages", (unsigned)r->npages);
			cr_assert_eq(r->nregs, 256);
			grown++;
		}
	}
	cr_assert_eq(small, 256 * 64, "%u blocks in one-page slabs, want 256 slabs' worth", small);
	cr_assert_eq(grown, 2048);
	size_t np, ns = bin_slabs(b, p, N, &np);
	xa_bin_stats_t s;
	xa_arena_bin_stats(b, &s);
	cr_assert_eq(s.curslabs, ns, "curslabs %zu, the bin has %zu slabs", s.curslabs, ns);
	cr_assert_eq(s.curpages, np, "curpages %zu, the bin's slabs have %zu pages", s.curpages, np);
	for (int i = 0; i < N; i++)
		xa_arena_free_small_one(xa_pagemap_lookup((uintptr_t)p[i]), p[i]);
	xa_arena_bin_stats(b, &s);
	cr_assert_eq(s.curregs, 0);
	ns = bin_slabs(b, NULL, 0, &np);
	cr_assert_eq(s.curslabs, ns, "after frees: curslabs %zu, the bin has %zu slabs", s.curslabs, ns);
	cr_assert_eq(s.curpages, np, "after frees: curpages %zu, the bin's slabs have %zu pages", s.curpages, np);
}

/* Small pools purge the pages of partly used blocks that hold only free
 * objects (base.c, xa_base_purge): a burst of 2000 objects of 80 bytes,
 * one in 200 kept, leaves a few live objects per 64 KiB block; after a
 * purge pass only the pages holding a live object (and each block's
 * header page) stay resident, the live objects keep their contents, and
 * the purged slots are handed out again, zeroed.  The previous library
 * purged only wholly empty blocks, so every page stayed (fails the
 * resident check). */
static xa_pool_t test_pool = {.size = 80};

Test(base, partly_used_pool_blocks_release_free_pages) {
	enum { N = 2000, KEEP = 200 };
	static unsigned char *obj[N];
	for (unsigned i = 0; i < N; i++) {
		obj[i] = xa_pool_get(&test_pool);
		cr_assert_not_null(obj[i]);
		memset(obj[i], 0xA5, test_pool.size);
		obj[i][0] = (unsigned char)i;
	}
	for (unsigned i = 0; i < N; i++)
		if (i % KEEP != 0) {
			xa_pool_put(&test_pool, obj[i]);
			obj[i] = NULL;
		}
	xa_base_purge();
	/* every page of the blocks: resident only if it holds a kept object
	 * or a block header */
	size_t resident = 0, needed = 0;
	for (unsigned i = 0; i < N; i += KEEP) {
		uintptr_t blk = (uintptr_t)obj[i] & ~(uintptr_t)0xffff;
		for (uintptr_t pg = blk; pg < blk + 0x10000; pg += PAGE) {
			bool seen = false;
			for (unsigned j = 0; j < i; j += KEEP)
				seen |= ((uintptr_t)obj[j] & ~(uintptr_t)0xffff) == blk;
			if (seen)
				continue; /* block counted already */
			ssize_t r = xa_os_resident_pages((void *)pg, PAGE);
			cr_assert_geq(r, 0);
			resident += (size_t)r;
			bool has = pg == blk;
			for (unsigned j = 0; j < N; j += KEEP)
				has |= (uintptr_t)obj[j] < pg + PAGE && (uintptr_t)obj[j] + test_pool.size > pg;
			needed += has;
		}
	}
	cr_assert_eq(resident, needed, "%zu pages of the pool's blocks resident, %zu hold a kept object or a header",
	    resident, needed);
	for (unsigned i = 0; i < N; i += KEEP) {
		cr_assert_eq(obj[i][0], (unsigned char)i, "a kept object lost its contents");
		cr_assert_eq(obj[i][test_pool.size - 1], 0xA5, "a kept object lost its contents");
	}
	/* the purged slots come back, zeroed, lowest first */
	for (unsigned i = 0; i < N; i++)
		if (obj[i] == NULL) {
			obj[i] = xa_pool_get(&test_pool);
			cr_assert_not_null(obj[i]);
			for (size_t k = 0; k < test_pool.size; k++)
				cr_assert_eq(obj[i][k], 0, "a pool object was not handed out zeroed");
			memset(obj[i], 0x5A, test_pool.size);
		}
	for (unsigned i = 0; i < N; i++)
		xa_pool_put(&test_pool, obj[i]);
}

/*
 * Run descriptor compaction (pages.c, "Compaction") keeps every invariant
 * of the page allocator.  check_runs walks each chunk of the arena by its
 * page -> run entries and checks that every run is named from its first
 * page (and its last, or every page of a slab), that a free run is on its
 * state's bucket lists and, when dirty, on the decay list, that a slab is
 * on its bin's lists as its free count says, that every list is well
 * linked and holds exactly the runs the walk found (no element left
 * behind at a descriptor's old place).  Returns the runs found.
 */
static bool on_list(const xa_list_t *l, const xa_link_t *k) {
	for (const xa_link_t *e = l->first; e; e = e->next)
		if (e == k)
			return true;
	return false;
}

static size_t list_len_checked(const xa_list_t *l) {
	size_t n = 0;
	for (const xa_link_t *e = l->first; e; e = e->next, n++)
		cr_assert(e->next ? e->next->prev == e : l->first->prev == e, "list %p: element %zu badly linked",
		    (void *)l, n);
	return n;
}

static size_t check_runs(xa_arena_t *a) {
	for (unsigned j = 0; j < SC_NSMALL; j++)
		xa_mutex_lock(&a->bins[j].lock);
	xa_mutex_lock(&a->lock);
	size_t runs = 0, nfree = 0, ndirty = 0, nlisted = 0;
	for (xa_chunk_t *c = a->chunks; c; c = c->next) {
		for (size_t p = 0; p < CHUNK_NPAGES; runs++) {
			xa_run_t *r = xa_chunk_run(c, p);
			cr_assert(r, "chunk %#lx: page %zu names no run", (unsigned long)c->addr, p);
			cr_assert_eq(r->addr, c->addr + p * PAGE, "page %zu names a run elsewhere", p);
			size_t last = p + r->npages - 1;
			cr_assert(r->npages >= 1 && last < CHUNK_NPAGES);
			if (r->kind == RUN_SLAB) {
				for (size_t q = p; q <= last; q++)
					cr_assert_eq(xa_chunk_run(c, q), r, "slab page %zu not named", q);
				xa_bin_t *b = &a->bins[r->cls];
				bool listed = on_list(&b->nonfull, &r->link), kept = on_list(&b->empty, &r->link);
				if (!r->sampled && r->nfree == 0)
					cr_assert(!listed && !kept, "a full slab is on a list");
				else if (!r->sampled && r->nfree < r->nregs)
					cr_assert(listed || bin_cur(b, r), "a partly used slab is on no list");
				cr_assert(!bin_cur(b, r) || (!listed && !kept), "a carved slab is on a list");
				nlisted += listed;
			} else {
				cr_assert_eq(xa_chunk_run(c, last), r, "last page of a run not named");
				if (r->kind == RUN_FREE) {
					bool found = false;
					for (unsigned k = 0; k < LARGE_NBUCKETS && !found; k++)
						found = on_list(&a->avail[r->state][k], &r->link);
					cr_assert(found, "a free run is on no bucket list");
					nfree++;
					if (r->state == PS_DIRTY) {
						cr_assert(on_list(&a->dirty, &r->dlink), "a dirty run is off the decay list");
						ndirty++;
					}
				} else {
					cr_assert_eq(r->kind, RUN_LARGE);
				}
			}
			p = last + 1;
		}
	}
	size_t lfree = 0, lnonfull = 0;
	for (unsigned s = 0; s < PS_NSTATES; s++)
		for (unsigned k = 0; k < LARGE_NBUCKETS; k++)
			lfree += list_len_checked(&a->avail[s][k]);
	for (unsigned j = 0; j < SC_NSMALL; j++) {
		lnonfull += list_len_checked(&a->bins[j].nonfull);
		list_len_checked(&a->bins[j].empty);
	}
	size_t ldirty = list_len_checked(&a->dirty);
	xa_mutex_unlock(&a->lock);
	for (unsigned j = SC_NSMALL; j-- > 0;)
		xa_mutex_unlock(&a->bins[j].lock);
	cr_assert_eq(lfree, nfree, "bucket lists hold %zu runs, the chunks %zu free runs", lfree, nfree);
	cr_assert_eq(ldirty, ndirty, "the decay list holds %zu runs, the chunks %zu dirty ones", ldirty, ndirty);
	cr_assert_eq(lnonfull, nlisted, "bin lists hold %zu slabs, %zu found on them", lnonfull, nlisted);
	return runs;
}

static unsigned char mark_of(size_t i) { return (unsigned char)(i * 37 + 11); }

Test(compact, moved_descriptors_keep_every_invariant) {
	xt_free(xt_malloc(1));
	xa_background_set(false); /* the test is the mover */
	xa_tsd_t *t = &xa_tsd_tls;
	xa_arena_t *a = t->arena;
	enum { NL = 6000, NS = 30000 };
	static unsigned char *lg[NL], *sm[NS];
	static const size_t ssz[] = {48, 200, 1000, 3000, 9000};
	for (size_t i = 0; i < NL; i++) {
		cr_assert_not_null(lg[i] = xt_malloc(20000 + (i % 7) * 4096));
		lg[i][0] = mark_of(i);
	}
	for (size_t i = 0; i < NS; i++) {
		cr_assert_not_null(sm[i] = xt_malloc(ssz[i % 5]));
		sm[i][0] = mark_of(i);
	}
	for (size_t i = 0; i < NL; i++)
		if (i % 20) {
			xt_free(lg[i]);
			lg[i] = NULL;
		}
	for (size_t i = 0; i < NS; i++)
		if (i % 20) {
			xt_free(sm[i]);
			sm[i] = NULL;
		}
	xa_tcache_flush_all(t);
	xa_arena_purge_all(a);
	/* and some dirty free runs, on the decay list (decay_ms: 1 s) */
	for (size_t i = 0; i < NL; i += 40) {
		xt_free(lg[i]);
		lg[i] = NULL;
	}
	xa_tcache_flush_all(t);
	xa_mutex_lock(&a->lock);
	size_t dirty = a->stats.npages[PS_DIRTY];
	xa_mutex_unlock(&a->lock);
	cr_assert_gt(dirty, 0, "no dirty pages to move");
	size_t runs0 = check_runs(a);
	size_t moved = xa_pages_compact_now();
	cr_assert_neq(moved, SIZE_MAX, "the world could not be stopped");
	cr_log_info("compaction: %zu of %zu runs moved", moved, runs0);
	cr_assert_geq(moved, 300, "only %zu descriptors moved", moved);
	cr_assert_eq(check_runs(a), runs0, "the runs changed");
	for (size_t i = 20; i < NL; i += 40) {
		cr_assert_eq(lg[i][0], mark_of(i));
		cr_assert_geq(xt_malloc_usable_size(lg[i]), 20000 + (i % 7) * 4096);
	}
	for (size_t i = 0; i < NS; i += 20) {
		cr_assert_eq(sm[i][0], mark_of(i));
		cr_assert_eq(xt_malloc_usable_size(sm[i]), xa_sc_size[xa_sc_size2class(ssz[i % 5])]);
	}
	/* the moved descriptors serve new allocations, frees and merges */
	for (size_t i = 1; i < NS; i += 3)
		cr_assert_not_null(sm[i] = xt_malloc(ssz[i % 5]));
	for (size_t i = 1; i < NL; i += 3)
		cr_assert_not_null(lg[i] = xt_malloc(30000));
	check_runs(a);
	for (size_t i = 0; i < NL; i++)
		xt_free(lg[i]);
	for (size_t i = 0; i < NS; i++)
		xt_free(sm[i]);
	xa_tcache_flush_all(t);
	xa_arena_purge_all(a);
	check_runs(a);
	check_page_accounting();
}
