/*
 * decay.c -- the release schedule in force: when freed memory goes back.
 *
 * Owns: the process-wide settings that can change at run time
 * (arenas.decay_ms, the purge policy), kept as atomics so that readers on
 * hot paths see them with a relaxed load, and the slack policy below.  The
 * arithmetic itself is inline in decay.h (pure, unit-tested); what is
 * released when is decided here and in decay.h, the releasing is done by
 * the owners of the memory (pages.c, huge.c through xa_huge_purge).
 *
 * The malloc_trim budget (option trim_budget_pct, decay.h): malloc_trim is
 * xa_release_all, but its calls share P% of the time, charged with their
 * CPU time and the page faults their releases will cost; over it, a call
 * returns 0 at once and the memory waits for the decay schedule.  The
 * explicit releases (the ctl actions) are not budgeted.
 *
 * The slack policy (option slack_max).  Decay bounds how LONG freed memory
 * stays resident; slack_max bounds how MUCH: freed-but-resident bytes --
 * dirty pages, cached huge mappings, objects in thread caches and objects
 * waiting in remote batches (stats.remote) -- may not exceed a size or a
 * share of the live bytes (xa_decay_slack_budget).  Past it, the remote
 * batches are drained into their slabs and runs first, then cached huge
 * mappings go, then each arena's oldest dirty pages (each arena gives up
 * its share of the excess), whatever their decay time.
 * It runs on every background pass (the frees that make pages dirty wake
 * the thread when slack_max is set) and on those frees themselves, where a
 * cheap comparison with the last computed budget decides whether to act:
 * the budget depends on the live bytes, whose sum takes the registry lock,
 * so it is recomputed at most every 10 ms.
 *
 * Locking: none of its own.  xa_decay_slack_enforce takes, one at a time,
 * the registry lock (tsd.c), huge_lock and each arena's lock (through the
 * purge calls); it is called with no allocator lock held.
 */
#include "internal.h"

_Atomic int64_t xa_decay_default_ms = 1000;
_Atomic unsigned xa_purge_policy = XA_PURGE_DONTNEED;

void xa_decay_boot(void) {
	atomic_store(&xa_decay_default_ms, xa_opt.decay_ms);
	atomic_store(&xa_purge_policy, xa_opt.purge);
}

/* ---- the malloc_trim budget (decay.h) ---------------------------------- */

static _Atomic uint64_t trim_tat, trim_ran, trim_skipped;

/* A skipped call is one relaxed load, a coarse clock read (the clock's
 * few ms of lag do not matter against a one-second burst) and one atomic
 * add: 9 ns a call in a loop of 10 M calls, where glibc's own malloc_trim
 * takes ~120 ns on an empty heap. */
int xa_decay_trim(void) {
	if (!xa_initialized())
		return 0;
	unsigned pct = xa_opt.trim_budget_pct;
	if (pct >= 100) {
		atomic_fetch_add_explicit(&trim_ran, 1, memory_order_relaxed);
		return xa_release_all() > 0;
	}
	uint64_t now = xa_now_coarse_ns();
	if (pct == 0 || !xa_trim_admit(atomic_load_explicit(&trim_tat, memory_order_relaxed), now)) {
		atomic_fetch_add_explicit(&trim_skipped, 1, memory_order_relaxed);
		return 0;
	}
	atomic_fetch_add_explicit(&trim_ran, 1, memory_order_relaxed);
	uint64_t c0 = xa_thread_cpu_ns();
	size_t bytes = xa_release_all();
	uint64_t cost = xa_thread_cpu_ns() - c0;
	uint64_t tat = atomic_load_explicit(&trim_tat, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(&trim_tat, &tat, xa_trim_charge(tat, now, cost, bytes, pct),
	                                              memory_order_relaxed, memory_order_relaxed))
		;
	return bytes > 0;
}

void xa_decay_trim_counts(uint64_t *calls, uint64_t *skipped) {
	*skipped = atomic_load_explicit(&trim_skipped, memory_order_relaxed);
	*calls = atomic_load_explicit(&trim_ran, memory_order_relaxed) + *skipped;
}

/* ---- the slack policy --------------------------------------------------- */

size_t xa_decay_slack_enforce(bool always) {
	uint64_t opt = xa_opt.slack_max;
	if (opt == 0 || !xa_initialized())
		return 0;
	/* The budget depends on the live bytes, which take the registry lock
	 * to sum: it is recomputed at most every 10 ms, and in between a free
	 * only compares the (racy, relaxed) dirty counters with it. */
	static _Atomic uint64_t budget_cached, budget_ns;
	unsigned n = atomic_load(&xa_narenas_created);
	uint64_t now = xa_now_ns();
	if (!always) {
		size_t quick = xa_huge_cached_bytes();
		for (unsigned i = 0; i < n; i++)
			quick += XA_RELAXED_LOAD(xa_arenas[i]->stats.npages[PS_DIRTY]) * PAGE;
		if (quick <= atomic_load_explicit(&budget_cached, memory_order_relaxed) &&
		    now - atomic_load_explicit(&budget_ns, memory_order_relaxed) < 10000000)
			return 0;
	}
	uint64_t a, d, tc;
	xa_tsd_totals(&a, &d, &tc);
	uint64_t budget = xa_decay_slack_budget(opt, a - d);
	atomic_store_explicit(&budget_cached, budget, memory_order_relaxed);
	atomic_store_explicit(&budget_ns, now, memory_order_relaxed);
	size_t dirty[XA_MAX_ARENAS], fixed = tc + xa_huge_cached_bytes(), total = fixed, remote = 0;
	for (unsigned i = 0; i < n; i++) {
		dirty[i] = XA_RELAXED_LOAD(xa_arenas[i]->stats.npages[PS_DIRTY]) * PAGE;
		remote += xa_arena_remote_bytes(xa_arenas[i]);
		total += dirty[i];
	}
	if (total + remote <= budget)
		return 0;
	if (remote) {
		/* objects other threads freed, waiting for their arena: back to
		 * its slabs and runs, where the purge below reaches them */
		total = fixed;
		for (unsigned i = 0; i < n; i++) {
			xa_arena_drain_remote(xa_arenas[i]);
			dirty[i] = XA_RELAXED_LOAD(xa_arenas[i]->stats.npages[PS_DIRTY]) * PAGE;
			total += dirty[i];
		}
		if (total <= budget)
			return 0;
	}
	size_t released = 0, excess = total - budget;
	if (xa_huge_cached_bytes()) {
		size_t r = xa_huge_purge(true);
		released += r;
		excess = r >= excess ? 0 : excess - r;
	}
	size_t arena_dirty = total - tc - released;
	for (unsigned i = 0; i < n && excess; i++) {
		/* each arena gives up its share of the excess, oldest first */
		size_t share = arena_dirty ? (size_t)((double)excess * dirty[i] / arena_dirty) + PAGE : 0;
		size_t target = dirty[i] > share ? dirty[i] - share : 0;
		released += xa_pages_purge_to(xa_arenas[i], target) * PAGE;
	}
	return released;
}
