/*
 * decay.h -- the release-rate arithmetic (pure: no locks, no system calls).
 *
 * Model: every dirty run remembers when it became dirty.  With decay_ms = D
 * (> 0), a run is due for release once its age reaches D, so a burst of
 * freed memory is fully released within D ms of becoming unused; runs freed
 * again before then are reused without any system call.  When dirty runs
 * merge, the merged run keeps the OLDER time, so the bound holds for every
 * page (at the price of releasing a recently freed neighbour early).
 * D = 0 releases at once; D < 0 never releases (except on demand).
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

#endif
