/*
 * decay.c -- the release rate in force.  The arithmetic itself is inline in
 * decay.h (pure, unit-tested); this file holds the process-wide settings
 * that can change at run time (arenas.decay_ms, the purge policy) so that
 * readers on hot paths see them with a relaxed load.
 */
#include "internal.h"

_Atomic int64_t xa_decay_default_ms = 1000;
_Atomic unsigned xa_purge_policy = XA_PURGE_DONTNEED;

void xa_decay_boot(void) {
	atomic_store(&xa_decay_default_ms, xa_opt.decay_ms);
	atomic_store(&xa_purge_policy, xa_opt.purge);
}
