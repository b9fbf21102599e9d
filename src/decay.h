/*
 * decay.h -- the release-rate arithmetic (pure: no locks, no system calls).
 *
 * Model: every dirty run remembers when it became dirty.  With decay_ms = D
 * (> 0), a run is due for release once its age reaches D, so a burst of
 * freed memory is fully released within D ms of becoming unused; runs freed
 * again before then are reused without any system call.  When dirty runs
 * merge, the merged run keeps the OLDER time, so the bound holds for every
 * page (at the price of releasing a recently freed neighbour early).
 * D < 0 never releases (except on demand).
 *
 * D = 0 means "as soon as possible", not "one system call per free": a free
 * that leaves at least XA_DECAY0_BATCH_PAGES dirty pages in its arena
 * purges them at once (adjacent runs have merged by then, so one madvise
 * covers many frees); the rest is purged by the background thread, whose
 * passes are XA_DECAY0_DELAY_MS apart at most (without a running
 * background thread every such free purges at once).  Memory that is still
 * held by live structures -- free pages inside partly used slabs, the
 * caches of idle threads -- waits XA_DECAY0_CACHED_MS: a busy slab's pages
 * would otherwise be released and faulted in again all the time, and a
 * thread that waits on a lock for a few ms (a Python thread waiting for the
 * GIL) would lose its cache at every background pass.
 */
#ifndef XA_DECAY_H
#define XA_DECAY_H

/* True if a run dirty since dirty_ns is due at now under decay_ms. */
static inline bool xa_decay_due(int64_t decay_ms, uint64_t dirty_ns, uint64_t now) {
	if (decay_ms < 0)
		return false;
	return now >= dirty_ns && now - dirty_ns >= (uint64_t)decay_ms * 1000000u;
}

/* Nanoseconds from now until a run dirty since dirty_ns is due
 * (0 if due now; UINT64_MAX if never). */
static inline uint64_t xa_decay_wait_ns(int64_t decay_ms, uint64_t dirty_ns, uint64_t now) {
	if (decay_ms < 0)
		return UINT64_MAX;
	uint64_t due = dirty_ns + (uint64_t)decay_ms * 1000000u;
	return due > now ? due - now : 0;
}

/*
 * The malloc_trim budget (option trim_budget_pct = P, 1..99).  A program
 * may call malloc_trim after every few operations (stress-ng's malloc
 * stressor does, some servers after every request): each call flushes the
 * caller's cache and releases every free page, which the program faults
 * in again at once, so the calls can take most of its time.  So calls
 * share a budget of P% of the time, kept as a virtual clock tat (ns, on
 * the monotonic clock): a call is admitted while tat <= now +
 * XA_TRIM_BURST_NS, and an admitted call moves tat to max(tat, now) +
 * charge * 100 / P.  The charge is the call's CPU time (its walk, the
 * flush, the madvise calls) plus XA_TRIM_PAGE_NS for each page it
 * released: what faulting that page in again costs a program that reuses
 * it (the larger part: stress-ng's malloc stressor, 2 cores, 2026-12-07:
 * the calls took 0.2 s of CPU, the faults after them 1.9 s).  Over any
 * long interval the charged time stays within P% of it, after a burst of
 * P% of XA_TRIM_BURST_NS.
 */
#define XA_TRIM_BURST_NS 1000000000ull
#define XA_TRIM_PAGE_NS 1000u /* a page fault and the zeroing of 4 KiB */

static inline bool xa_trim_admit(uint64_t tat, uint64_t now) { return tat <= now + XA_TRIM_BURST_NS; }

/* The new tat after a call admitted at now that took cpu_ns and released
 * bytes, under a budget of pct% (1..99).  One call moves tat by at most
 * XA_TRIM_BURST_NS, so the call after a single big release is admitted at
 * once: only runs of calls are held back. */
static inline uint64_t xa_trim_charge(uint64_t tat, uint64_t now, uint64_t cpu_ns, uint64_t bytes, unsigned pct) {
	uint64_t pages = bytes >> LG_PAGE, advance = XA_TRIM_BURST_NS;
	if (pages < XA_TRIM_BURST_NS / XA_TRIM_PAGE_NS && cpu_ns < XA_TRIM_BURST_NS) {
		uint64_t charge = cpu_ns + pages * XA_TRIM_PAGE_NS; /* < 2 s */
		if (charge * 100 / pct < advance)
			advance = charge * 100 / pct;
	}
	return (tat > now ? tat : now) + advance;
}

#define XA_DECAY0_BATCH_PAGES 256u /* 1 MiB of 4 KiB pages, per arena */
#define XA_DECAY0_DELAY_MS 10u
#define XA_DECAY0_CACHED_MS 100

/* The delay applied to free pages of partly used slabs and to the caches
 * of idle threads. */
static inline int64_t xa_decay_cached_ms(int64_t decay_ms) {
	return decay_ms == 0 ? XA_DECAY0_CACHED_MS : decay_ms;
}

/* The slack budget in bytes given the option value and the live bytes. */
static inline uint64_t xa_decay_slack_budget(uint64_t opt, uint64_t live) {
	if (opt == 0)
		return UINT64_MAX;
	if (opt & XA_SLACK_PCT)
		return live / 100 * (opt & ~XA_SLACK_PCT) + live % 100 * (opt & ~XA_SLACK_PCT) / 100;
	return opt;
}

extern _Atomic int64_t xa_decay_default_ms;
extern _Atomic unsigned xa_purge_policy;
void xa_decay_boot(void);
/* Enforce slack_max now (rate-limited unless always; see decay.c);
 * returns bytes released.  No allocator lock held. */
size_t xa_decay_slack_enforce(bool always);

#endif
