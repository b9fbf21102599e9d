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
