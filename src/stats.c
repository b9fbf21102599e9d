/*
 * stats.c -- statistics: merging the counters into a snapshot, the RSS
 * reconciliation, and the entry points that print (the formatting itself is
 * in stats_print.c).
 *
 * Owns: xa_stats_refresh (see stats.h for every definition and invariant),
 * mallinfo, malloc_stats, xalloc_stats_print (the exit, signal and periodic
 * reports are report.c's).
 *
 * Locking: the refresh takes the tsd registry lock, then each arena's bin
 * locks and arena lock in turn, then huge_lock, never two at once, and never
 * calls anything that may allocate.  mincore runs under the arena lock (a
 * system call that neither allocates nor sleeps on a lock).  The printer's
 * snapshot is protected by print_lock, which is held while the user's
 * callback runs but no allocator lock is: the callback may call malloc.
 */
#include "internal.h"

#include "stats.h"

#include <unistd.h>

/* Copy one arena's counters into sa (bin locks, then the arena lock). */
static void stats_arena(xa_arena_t *ar, xa_snap_arena_t *sa, uint64_t now) {
	memset(sa, 0, sizeof(*sa));
	sa->present = true;
	sa->nthreads = atomic_load(&ar->nthreads);
	sa->decay_ms = atomic_load(&ar->decay_ms);
	for (unsigned i = 0; i < SC_NSMALL; i++) {
		xa_bin_t *b = &ar->bins[i];
		xa_arena_bin_stats(b, &sa->bins[i]);
		sa->small_allocated += sa->bins[i].curregs * (size_t)xa_sc[i].size;
		sa->small_active += sa->bins[i].curpages * PAGE;
		sa->small_nmalloc += sa->bins[i].nmalloc;
		sa->small_ndalloc += sa->bins[i].ndalloc;
		sa->small_nrequests += sa->bins[i].nrequests;
	}
	sa->remote = xa_arena_remote_small_bytes(ar);
	xa_mutex_lock(&ar->lock);
	sa->a = ar->stats;
	memcpy(sa->lnmalloc, ar->lstats_nmalloc, sizeof(sa->lnmalloc));
	memcpy(sa->lndalloc, ar->lstats_ndalloc, sizeof(sa->lndalloc));
	memcpy(sa->lcur, ar->lstats_cur, sizeof(sa->lcur));
	sa->remote += xa_arena_large_stats(ar, &sa->a, sa->lnmalloc, sa->lndalloc, sa->lcur);
	for (xa_chunk_t *c = ar->chunks; c; c = c->next) {
		ssize_t n = xa_os_resident_pages((void *)c->addr, CHUNK);
		if (n > 0)
			sa->resident += (size_t)n * PAGE;
	}
	sa->slab_purged = atomic_load_explicit(&ar->slab_purged_pages, memory_order_relaxed) * PAGE;
	sa->next_due_ns = UINT64_MAX;
	xa_run_t *oldest = XA_LIST_FIRST(&ar->dirty, xa_run_t, dlink);
	if (oldest)
		sa->next_due_ns = xa_decay_wait_ns(sa->decay_ms, oldest->dirty_ns, now);
	xa_mutex_unlock(&ar->lock);
}

static void stats_merge(xa_snap_arena_t *m, const xa_snap_arena_t *sa) {
	m->present = true;
	m->nthreads += sa->nthreads;
	if (sa->decay_ms > m->decay_ms)
		m->decay_ms = sa->decay_ms;
	for (unsigned s = 0; s < PS_NSTATES; s++)
		m->a.npages[s] += sa->a.npages[s];
	m->a.active_pages += sa->a.active_pages;
	m->slab_purged += sa->slab_purged;
	m->a.mapped_chunks += sa->a.mapped_chunks;
	m->a.npurge_calls += sa->a.npurge_calls;
	m->a.npurged_pages += sa->a.npurged_pages;
	m->a.nmadvise += sa->a.nmadvise;
	m->a.large_nmalloc += sa->a.large_nmalloc;
	m->a.large_ndalloc += sa->a.large_ndalloc;
	m->a.large_allocated += sa->a.large_allocated;
	m->a.large_cur += sa->a.large_cur;
	for (unsigned i = 0; i < SC_NCLASSES - SC_NSMALL; i++) {
		m->lnmalloc[i] += sa->lnmalloc[i];
		m->lndalloc[i] += sa->lndalloc[i];
		m->lcur[i] += sa->lcur[i];
	}
	for (unsigned i = 0; i < SC_NSMALL; i++) {
		xa_bin_stats_t *d = &m->bins[i];
		const xa_bin_stats_t *b = &sa->bins[i];
		d->nmalloc += b->nmalloc;
		d->ndalloc += b->ndalloc;
		d->nrequests += b->nrequests;
		d->nfills += b->nfills;
		d->nflushes += b->nflushes;
		d->nslabs_total += b->nslabs_total;
		d->curregs += b->curregs;
		d->curslabs += b->curslabs;
		d->curpages += b->curpages;
	}
	m->resident += sa->resident;
	m->small_allocated += sa->small_allocated;
	m->remote += sa->remote;
	m->small_active += sa->small_active;
	m->small_nmalloc += sa->small_nmalloc;
	m->small_ndalloc += sa->small_ndalloc;
	m->small_nrequests += sa->small_nrequests;
	if (sa->next_due_ns < m->next_due_ns)
		m->next_due_ns = sa->next_due_ns;
}

bool xa_stats_refresh(xa_snap_t *s) {
	bool err = false;
	uint64_t now = xa_now_ns();
	s->epoch++;
	s->time_ns = now;
	/* Arenas first, then the thread counters: see stats.h on exactness. */
	unsigned n = atomic_load(&xa_narenas_created);
	memset(&s->all, 0, sizeof(s->all));
	s->all.next_due_ns = UINT64_MAX;
	s->all.decay_ms = -1;
	s->max_decay_ms = -1;
	for (unsigned i = 0; i < n; i++) {
		xa_arena_t *ar = atomic_load_explicit(&xa_arenas[i], memory_order_acquire);
		if (ar == NULL)
			continue;
		if (s->arenas[i] == NULL) {
			s->arenas[i] = xa_base_alloc(sizeof(xa_snap_arena_t));
			if (s->arenas[i] == NULL) {
				err = true;
				n = i;
				break;
			}
		}
		stats_arena(ar, s->arenas[i], now);
		if (s->arenas[i]->a.npages[PS_DIRTY] && s->arenas[i]->decay_ms > s->max_decay_ms)
			s->max_decay_ms = s->arenas[i]->decay_ms;
		stats_merge(&s->all, s->arenas[i]);
	}
	s->narenas = n;
	uint64_t hn, hd;
	xa_huge_stats(&s->huge_allocated, &s->huge_mapped, &s->huge_cur, &hn, &hd);
	s->huge_nmalloc = hn;
	s->huge_ndalloc = hd;
	s->huge_moved = xa_huge_moved();
	xa_huge_cache_bytes(s->huge_state);
	s->huge_cached = s->huge_state[PS_DIRTY] + s->huge_state[PS_LAZY] + s->huge_state[PS_RETAINED];
	xa_zero_stats(&s->zero_known, &s->zero_memset, &s->zero_kernel);
	xa_os_counts(&s->os_mmap, &s->os_munmap, &s->os_madvise, &s->os_mremap);
	xa_decay_trim_counts(&s->trim_calls, &s->trim_skipped);
	xa_huge_resident(&s->huge_resident, &s->huge_cached_resident);
	uint64_t hdue = xa_huge_next_due(now);
	size_t pagemap_bytes = xa_pagemap_bytes(); /* touched pages of the map */
	s->metadata = xa_base_mapped() + pagemap_bytes;
	s->metadata_allocated = xa_base_allocated() + pagemap_bytes;
	/* read once: XA_MIN evaluates its arguments twice, and base memory
	 * grows while other threads run (a second read above s->metadata
	 * made resident > mapped in 2 of 240 snapshots of test_ctl's
	 * invariants_under_threads under load) */
	size_t base_res = xa_base_resident() + pagemap_bytes;
	s->metadata_resident = XA_MIN(base_res, s->metadata);
	uint64_t ta, td, tc;
	xa_tsd_totals(&ta, &td, &tc);
	s->thread_allocated = ta;
	s->thread_deallocated = td;
	s->nthreads = xa_tsd_count();
	s->allocated = ta >= td ? (size_t)(ta - td) : 0;
	s->tcache = tc;

	const xa_snap_arena_t *m = &s->all;
	s->active = m->a.active_pages * PAGE + s->huge_mapped;
	s->dirty = m->a.npages[PS_DIRTY] * PAGE + s->huge_state[PS_DIRTY];
	s->lazy = m->a.npages[PS_LAZY] * PAGE + s->huge_state[PS_LAZY];
	s->retained = m->a.npages[PS_RETAINED] * PAGE + s->huge_state[PS_RETAINED];
	s->mapped = m->a.mapped_chunks * CHUNK + s->huge_mapped + s->huge_cached + s->metadata;
	s->resident = m->resident + s->huge_resident + s->huge_cached_resident + s->metadata_resident;
	size_t used = s->allocated + s->tcache;
	s->remote = m->remote;
	used += s->remote;
	s->slack = s->active > used ? s->active - used : 0;
	s->reclaimable = s->dirty + s->tcache + s->remote;
	s->next_due_ns = XA_MIN(m->next_due_ns, hdue);
	s->decay_ms = atomic_load(&xa_decay_default_ms);
	if (s->huge_state[PS_DIRTY] && s->decay_ms > s->max_decay_ms)
		s->max_decay_ms = s->decay_ms;
	s->purge_policy = atomic_load(&xa_purge_policy);

	/* The kernel's view. */
	s->rss = xa_os_rss();
	s->lazyfree_resident = s->lazy ? xa_os_smaps_field("LazyFree:") : 0;
	s->not_heap = s->rss > s->resident ? s->rss - s->resident : 0;
	s->map_count = xa_os_map_count();
	s->max_map_count = xa_os_max_map_count();
	xa_peak_snapshot(s);
	xa_report_whoami(&s->pid, s->prog, sizeof(s->prog));
	s->bg_enabled = xa_background_enabled();
	s->bg_running = xa_background_running();
	xa_background_stats(&s->bg_wakeups, &s->bg_runs);
	xa_pages_compact_stats(&s->compact_passes, &s->compact_moved, &s->compact_failed);

	if (s->nhist == XA_SNAP_HISTORY) {
		memmove(s->hist, s->hist + 1, (XA_SNAP_HISTORY - 1) * sizeof(s->hist[0]));
		s->nhist--;
	}
	s->hist[s->nhist++] = s->allocated;
	return err;
}

/* ---- mallinfo, malloc_stats, exit ------------------------------------ */

static xa_mutex_t print_lock = XA_MUTEX_INITIALIZER;
static xa_snap_t *print_snap; /* from base, protected by print_lock */
static _Atomic pid_t print_owner;   /* thread printing, 0 if none */

void xa_mallinfo_fill(size_t *arena, size_t *ordblks, size_t *hblks, size_t *hblkhd,
    size_t *uordblks, size_t *fordblks, size_t *keepcost) {
	if (!xa_initialized())
		return;
	/* Cheap: counters only (no mincore, no /proc). */
	uint64_t a, d, tc;
	xa_tsd_totals(&a, &d, &tc);
	size_t mapped = 0, retained = 0, dirty = 0;
	unsigned n = atomic_load(&xa_narenas_created);
	for (unsigned i = 0; i < n; i++) {
		xa_arena_t *ar = xa_arenas[i];
		xa_mutex_lock(&ar->lock);
		mapped += ar->stats.mapped_chunks * CHUNK;
		retained += ar->stats.npages[PS_RETAINED] * PAGE;
		dirty += ar->stats.npages[PS_DIRTY] * PAGE;
		xa_mutex_unlock(&ar->lock);
	}
	size_t ha, hm, hc;
	uint64_t hn, hd;
	xa_huge_stats(&ha, &hm, &hc, &hn, &hd);
	size_t allocated = a >= d ? (size_t)(a - d) : 0;
	*arena = mapped;
	*ordblks = 0;
	*hblks = hc;
	*hblkhd = hm;
	*uordblks = allocated;
	size_t total = mapped + hm - retained;
	*fordblks = total > allocated ? total - allocated : 0;
	*keepcost = dirty;
}

static void stats_write_stderr(void *opaque, const char *s) {
	(void)opaque;
	xa_os_write_all(xa_report_fd(), s, strlen(s));
}

XA_EXPORT void xalloc_stats_print(void (*write_cb)(void *, const char *), void *cbopaque, const char *opts) {
	if (!xa_initialized() && xa_init_slow())
		return;
	if (write_cb == NULL) {
		write_cb = stats_write_stderr;
		cbopaque = NULL;
	}
	/* A callback that prints statistics itself would deadlock: refuse. */
	pid_t self = xa_os_gettid();
	if (pthread_mutex_trylock(&print_lock) != 0) {
		if (atomic_load(&print_owner) == self) {
			write_cb(cbopaque, "xalloc: xalloc_stats_print called from its own callback\n");
			return;
		}
		xa_mutex_lock(&print_lock);
	}
	atomic_store(&print_owner, self);
	if (print_snap == NULL)
		print_snap = xa_base_alloc(sizeof(xa_snap_t));
	if (print_snap == NULL) {
		atomic_store(&print_owner, 0);
		xa_mutex_unlock(&print_lock);
		write_cb(cbopaque, "xalloc: statistics unavailable (out of metadata memory)\n");
		return;
	}
	xa_stats_refresh(print_snap);
	xa_stats_print_snap(print_snap, write_cb, cbopaque, opts ? opts : "");
	atomic_store(&print_owner, 0);
	xa_mutex_unlock(&print_lock);
}

void xa_stats_postfork_child(void) {
	xa_mutex_init(&print_lock);
	atomic_store(&print_owner, 0);
	xa_ctl_postfork_child();
}

void xa_stats_print_default(void) {
	xalloc_stats_print(NULL, NULL, "");
}
