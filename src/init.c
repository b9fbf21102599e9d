/*
 * init.c -- bootstrap on the first call from anywhere, fork handlers, and
 * the exit hook.
 *
 * The first allocation (from a constructor, ld.so, libpthread, libstdc++,
 * ...) runs xa_init_slow: options, size classes, the thread-state key,
 * arena 0.  Nothing in that sequence allocates, so a nested call cannot
 * happen during it; if it ever did, the nested call fails cleanly (ENOMEM)
 * instead of deadlocking.  Steps that may allocate through libc
 * (pthread_atfork) run after the state is published, outside any lock.
 *
 * Fork: the prepare handler takes every allocator lock in the global order
 * (background, prof, tsd, arenas/bins/arena, huge, pagemap, base), so the
 * child starts with consistent metadata; the child re-initialises the locks
 * (only the forking thread exists there) and recreates the background
 * thread lazily.  Before taking the first lock the forking thread waits out
 * any idle reclaim of its own cache (idle.c): the reclaimer may need those
 * locks, and the child would have no reclaimer to wait for.  The http
 * endpoint (http.c) starts from the constructor and does not serve in a
 * fork child.
 */
#include "internal.h"
#include "http.h"

#include <unistd.h>

_Atomic int xa_init_state;
unsigned xa_ncpus = 1;
static xa_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t init_owner;

static void xa_prefork(void) {
	if (!xa_initialized())
		return;
	/* Before any lock: a reclaim of this thread's cache may need them. */
	xa_idle_prefork();
	xa_background_prefork();
	xa_prof_prefork();
	xa_tsd_prefork();
	xa_arena_prefork();
	xa_huge_prefork();
	xa_pagemap_prefork();
	xa_base_prefork();
}

static void xa_postfork_parent(void) {
	if (!xa_initialized())
		return;
	xa_base_postfork_parent();
	xa_pagemap_postfork_parent();
	xa_huge_postfork_parent();
	xa_arena_postfork_parent();
	xa_tsd_postfork_parent();
	xa_prof_postfork_parent();
	xa_background_postfork_parent();
	xa_idle_postfork_parent();
}

static void xa_postfork_child(void) {
	if (!xa_initialized())
		return;
	xa_base_postfork_child();
	xa_pagemap_postfork_child();
	xa_huge_postfork_child();
	xa_arena_postfork_child();
	xa_tsd_postfork_child();
	xa_prof_postfork_child();
	xa_background_postfork_child();
	xa_stats_postfork_child();
	xa_idle_postfork_child();
	xa_http_postfork_child();
	xa_peak_postfork_child();
}

bool xa_init_slow(void) {
	if (xa_initialized())
		return false;
	pid_t self = xa_os_gettid();
	if (atomic_load(&xa_init_state) == 1 && init_owner == self) {
		errno = ENOMEM; /* re-entered during bootstrap */
		return true;
	}
	xa_mutex_lock(&init_lock);
	if (xa_initialized()) {
		xa_mutex_unlock(&init_lock);
		return false;
	}
	init_owner = self;
	atomic_store(&xa_init_state, 1);
	long ps = sysconf(_SC_PAGESIZE);
	if (ps != (long)PAGE) {
		xa_message("unsupported page size %ld (built for %zu)", ps, PAGE);
		xa_os_abort();
	}
	xa_conf_init();
	xa_peak_boot();
	xa_report_boot();
	xa_sc_boot();
	xa_ncpus = xa_os_ncpus();
	xa_decay_boot();
	xa_tcache_boot();
	xa_prof_boot();
	xa_tsd_key_create();
	if (xa_arena_get(0, true) == NULL) {
		atomic_store(&xa_init_state, 0);
		init_owner = 0;
		xa_mutex_unlock(&init_lock);
		errno = ENOMEM;
		return true;
	}
	atomic_store_explicit(&xa_init_state, 2, memory_order_release);
	init_owner = 0;
	xa_mutex_unlock(&init_lock);
	/* May allocate: after publication, outside the lock. */
	pthread_atfork(xa_prefork, xa_postfork_parent, xa_postfork_child);
	return false;
}

__attribute__((constructor)) static void xa_ctor(void) {
	/* Threads start here, not in xa_init_slow: the first allocation may
	 * come before libc can create them (the http endpoint's; the
	 * background thread for dump_signal and stats_interval_ms). */
	if (!xa_init_slow()) {
		xa_http_boot();
		xa_report_start();
	}
}

__attribute__((destructor)) static void xa_dtor(void) {
	if (!xa_initialized())
		return;
	xa_prof_atexit();
	xa_report_atexit();
	xa_http_atexit();
}
