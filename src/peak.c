/*
 * peak.c -- high-water marks of live (allocated), active and resident bytes
 * since start or since stats.peak.reset, with the time each was reached,
 * and the heap profile at the peak (prof_peak_step).
 *
 * Owns: the global live-byte counter fed by the threads' slow paths, the
 * three maxima and their times, the peak-profile trigger.
 *
 * Live bytes are the sum over threads of allocated - deallocated, which the
 * fast paths keep per thread with plain stores.  Summing them takes the
 * registry lock, far too costly for every allocation, so each thread
 * publishes the change of its own live bytes since its last publication
 * into one global atomic counter at its slow-path points only:
 *   - the allocation event: every 64 KiB allocated by the thread, whatever
 *     the sizes (a large or huge allocation crosses it at once); the same
 *     tick as the cache GC and the profiler, so nothing on the fast path.
 *     A thread whose live bytes stay level while it allocates blocks
 *     above 8 KiB (a churn of buffers) reaches it every 8 such blocks, at
 *     most 1 MiB on (alloc.c, alloc_event); a thread whose live bytes grow
 *     is back to 64 KiB after one such interval,
 *   - a free that is not a thread-cache hit (cache flushes, uncached large
 *     and huge frees), once the thread's unpublished frees reach 64 KiB,
 *   - thread exit.
 * The allocated peak is the maximum of that counter at those points.
 * Accuracy: at any point the counter differs from the exact live bytes by
 * the threads' unpublished changes: less than 64 KiB of allocations per
 * thread (less than 1 MiB in the first interval of a build-up that
 * follows a churn of large blocks, see above), and less than 64 KiB of
 * frees per thread plus the bytes freed into its cache since its last
 * slow path (at most its cache's contents).  So, with T threads and C =
 * stats.tcache at the peak,
 *   exact peak - 64 KiB * T  <=  stats.peak.allocated
 *                            <=  exact peak + 64 KiB * T + C,
 * with 1 MiB in place of 64 KiB on the left for a thread whose build-up
 * to the peak began within 1 MiB of a churn of blocks above 8 KiB.
 * Every statistics refresh also raises the maxima to the exact values of
 * its snapshot, so a peak is never below a figure a snapshot showed.
 *
 * Active bytes (pages of slabs and large runs, live huge mappings) can only
 * grow when live bytes do, so they are summed (racy relaxed loads, one per
 * arena) when a publication raises the counter.  Resident bytes are the
 * kernel's own high-water mark of the process RSS (VmHWM in
 * /proc/self/status: exact); a reset writes "5" to /proc/self/clear_refs,
 * and where that is refused the mark is sampled from the RSS instead.  Its
 * time is the time of the sample that first saw it: samples are taken at
 * each statistics refresh, each background/diagnostics tick, and whenever
 * the live peak has grown by max(4 MiB, 1/32) since the last sample.
 *
 * Locking: none; atomics only (the maxima are raised with CAS loops).
 * Nothing here allocates; the kernel's figures come from os.c (stack
 * buffers: xa_os_rss_hwm, xa_os_rss_hwm_reset, xa_os_rss).
 */
#include "internal.h"

#include "stats.h"

static _Atomic int64_t peak_live;    /* sum of the published changes */
static _Atomic int64_t peak_alloc;   /* max of peak_live (or snapshot) */
static _Atomic uint64_t peak_alloc_ns;
static _Atomic uint64_t peak_active, peak_active_ns;
static _Atomic uint64_t peak_rss, peak_rss_ns; /* sampled max (fallback) */
static _Atomic uint64_t peak_hwm_seen;         /* VmHWM at the last sample */
static _Atomic bool peak_hwm_ok = true;        /* VmHWM follows our resets */
static _Atomic int64_t peak_sampled_live;      /* live at the last RSS sample */
static _Atomic int64_t peak_prof_last;         /* live at the last peak dump */
uint64_t xa_start_ns;

/* Raise *max to v (and its time to now); true if this call raised it. */
static bool raise_max(_Atomic uint64_t *max, _Atomic uint64_t *when, uint64_t v, uint64_t now) {
	uint64_t cur = atomic_load_explicit(max, memory_order_relaxed);
	while (v > cur) {
		if (atomic_compare_exchange_weak_explicit(max, &cur, v, memory_order_relaxed,
		        memory_order_relaxed)) {
			atomic_store_explicit(when, now ? now : xa_now_ns(), memory_order_relaxed);
			return true;
		}
	}
	return false;
}

/* Active bytes now: racy sums (counters kept under the arena locks). */
static uint64_t active_now(void) {
	unsigned n = atomic_load_explicit(&xa_narenas_created, memory_order_acquire);
	uint64_t pages = 0;
	for (unsigned i = 0; i < n; i++) {
		xa_arena_t *a = atomic_load_explicit(&xa_arenas[i], memory_order_acquire);
		if (a)
			pages += XA_RELAXED_LOAD(a->stats.active_pages);
	}
	return pages * PAGE + xa_huge_mapped_now();
}

void xa_peak_sample_resident(uint64_t now) {
	if (!now)
		now = xa_now_ns();
	if (atomic_load_explicit(&peak_hwm_ok, memory_order_relaxed)) {
		uint64_t hwm = xa_os_rss_hwm();
		if (hwm) {
			raise_max(&peak_hwm_seen, &peak_rss_ns, hwm, now);
			return;
		}
		atomic_store(&peak_hwm_ok, false);
	}
	raise_max(&peak_rss, &peak_rss_ns, xa_os_rss(), now);
}

static XA_NOINLINE void peak_raised(xa_tsd_t *t, int64_t live) {
	uint64_t now = xa_now_ns();
	raise_max(&peak_active, &peak_active_ns, active_now(), now);
	int64_t last = atomic_load_explicit(&peak_sampled_live, memory_order_relaxed);
	int64_t step = XA_MAX((int64_t)4 << 20, live / 32);
	if (live >= last + step &&
	    atomic_compare_exchange_strong_explicit(&peak_sampled_live, &last, live, memory_order_relaxed,
	        memory_order_relaxed))
		xa_peak_sample_resident(now);
	int64_t pstep = (int64_t)xa_opt.prof_peak_step;
	if (config_prof && pstep > 0 && t != NULL && !t->in_prof) {
		int64_t pl = atomic_load_explicit(&peak_prof_last, memory_order_relaxed);
		if (live >= pl + pstep &&
		    atomic_compare_exchange_strong_explicit(&peak_prof_last, &pl, live, memory_order_relaxed,
		        memory_order_relaxed))
			xa_prof_dump_peak();
	}
}

static void peak_add(xa_tsd_t *t, int64_t d) {
	int64_t g = atomic_fetch_add_explicit(&peak_live, d, memory_order_relaxed) + d;
	if (d > 0 && g > atomic_load_explicit(&peak_alloc, memory_order_relaxed)) {
		int64_t cur = atomic_load_explicit(&peak_alloc, memory_order_relaxed);
		bool raised = false;
		while (g > cur && !(raised = atomic_compare_exchange_weak_explicit(&peak_alloc, &cur, g,
		                        memory_order_relaxed, memory_order_relaxed)))
			;
		if (raised) {
			atomic_store_explicit(&peak_alloc_ns, xa_now_ns(), memory_order_relaxed);
			peak_raised(t, g);
		}
	}
}

void xa_peak_publish(xa_tsd_t *t) {
	int64_t live = (int64_t)(t->allocated - t->deallocated);
	int64_t d = live - t->peak_pub;
	if (d == 0)
		return;
	t->peak_pub = live;
	peak_add(t, d);
}

void xa_peak_unregistered(uint64_t alloc, uint64_t dealloc) {
	peak_add(NULL, (int64_t)(alloc - dealloc));
}

void xa_peak_snapshot(xa_snap_t *s) {
	uint64_t now = s->time_ns;
	/* A snapshot's exact figures count as samples. */
	int64_t cur = atomic_load(&peak_alloc);
	while ((int64_t)s->allocated > cur &&
	       !atomic_compare_exchange_weak(&peak_alloc, &cur, (int64_t)s->allocated))
		;
	if ((int64_t)s->allocated > cur)
		atomic_store(&peak_alloc_ns, now);
	raise_max(&peak_active, &peak_active_ns, s->active, now);
	xa_peak_sample_resident(now);
	if (!atomic_load(&peak_hwm_ok)) /* the sampled fallback: this RSS is a sample */
		raise_max(&peak_rss, &peak_rss_ns, s->rss, now);
	int64_t pa = atomic_load(&peak_alloc); /* once: XA_MAX evaluates twice */
	s->peak_allocated = (size_t)XA_MAX(pa, (int64_t)0);
	s->peak_allocated_ns = atomic_load(&peak_alloc_ns);
	s->peak_active = atomic_load(&peak_active);
	s->peak_active_ns = atomic_load(&peak_active_ns);
	s->peak_resident = atomic_load(&peak_hwm_ok) ? atomic_load(&peak_hwm_seen) : atomic_load(&peak_rss);
	if (s->peak_resident < s->rss)
		s->peak_resident = s->rss;
	s->peak_resident_ns = atomic_load(&peak_rss_ns);
	s->start_ns = xa_start_ns;
}

void xa_peak_reset(void) {
	uint64_t now = xa_now_ns();
	int64_t live = atomic_load(&peak_live);
	atomic_store(&peak_alloc, XA_MAX(live, (int64_t)0));
	atomic_store(&peak_alloc_ns, now);
	atomic_store(&peak_active, active_now());
	atomic_store(&peak_active_ns, now);
	atomic_store(&peak_sampled_live, live);
	atomic_store(&peak_prof_last, live);
	/* The kernel's mark restarts from the current RSS. */
	bool ok = !xa_os_rss_hwm_reset();
	uint64_t rss = xa_os_rss();
	if (!ok)
		atomic_store(&peak_hwm_ok, false);
	atomic_store(&peak_hwm_seen, ok ? xa_os_rss_hwm() : 0);
	atomic_store(&peak_rss, rss);
	atomic_store(&peak_rss_ns, now);
}

void xa_peak_boot(void) { xa_start_ns = xa_now_ns(); }

/* The only thread left in the child: recount from the exact totals. */
void xa_peak_postfork_child(void) {
	uint64_t a, d, c;
	xa_tsd_totals(&a, &d, &c);
	xa_tsd_t *t = &xa_tsd_tls;
	int64_t unpublished = t->state == TSD_NOMINAL ? (int64_t)(t->allocated - t->deallocated) - t->peak_pub : 0;
	atomic_store(&peak_live, (int64_t)(a - d) - unpublished);
}
