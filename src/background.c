/*
 * background.c -- the one background thread that releases memory of idle
 * processes.
 *
 * Without it nothing is released once a program stops calling the
 * allocator.  The thread is created lazily, the first time pages become
 * dirty with a positive decay time; each pass (bg_pass) releases what the
 * release schedule (decay.[ch], including the slack budget) says is due,
 * then it sleeps until the oldest remaining dirty run is due, or
 * indefinitely when there is none (a kick wakes it).  With decay_ms:0 it
 * also purges what frees left below the batch size (decay.h):
 * xa_background_kick_soon wakes it from a longer timed sleep, so those
 * pages go within one pass interval.  It never allocates; it blocks every
 * signal; it is detached and ends the process when it is the last thread
 * left (see xa_background_thread_exited), so it does not keep the process
 * alive; if pthread_create fails, releases fall back to allocator calls
 * (see arena.c), and the failure is not retried for a while.  After fork
 * the child has no background thread and recreates it lazily.
 *
 * Owns: the thread's life (lazy start, the run-time switch of the
 * background_thread ctl: bg_enabled; opt.background_thread keeps the
 * start-up value), its sleep and wake-ups, and the order of a pass.
 *
 * It also does report.c's work (xa_report_poll): a dump requested by
 * dump_signal and the periodic export (stats_interval_ms), which bound its
 * sleep; xa_background_wake wakes it for those whatever it waits for.
 *
 * Locking: bg_lock protects the state and the condition variable; it is
 * never held while purging or writing a report.
 */
#include "internal.h"
#include "http.h"

#include <signal.h>
#include <stdlib.h>
#include <time.h>

enum { BG_OFF = 0, BG_STARTING, BG_RUNNING, BG_FAILED };

static xa_mutex_t bg_lock = XA_MUTEX_INITIALIZER;
static pthread_cond_t bg_cond = PTHREAD_COND_INITIALIZER;
static _Atomic int bg_state;
static _Atomic bool bg_enabled = true;
static _Atomic bool bg_sleeping_forever;
/* While the thread sleeps with a timeout: when it will wake (xa_now_ns
 * clock); 0 while it is awake or sleeping forever. */
static _Atomic uint64_t bg_wake_ns;
static bool bg_kicked;
static uint64_t bg_failed_ns;
static _Atomic uint64_t bg_wakeups, bg_runs;

void xa_background_stats(uint64_t *wakeups, uint64_t *runs) {
	*wakeups = atomic_load(&bg_wakeups);
	*runs = atomic_load(&bg_runs);
}

bool xa_background_running(void) { return atomic_load_explicit(&bg_state, memory_order_acquire) == BG_RUNNING; }

/*
 * One pass, in an order where each step's leftovers are seen by the next:
 * idle caches are flushed first (that frees regions and whole slabs), then
 * cached huge mappings, the slack budget, partly used slabs and the page
 * runs are purged, and last the metadata blocks the merges emptied.
 * Returns the time until something becomes due (UINT64_MAX: nothing).
 */
static uint64_t bg_pass(uint64_t now) {
	unsigned n = atomic_load(&xa_narenas_created);
	/* Cleared before the scans: a free after this point sets it again
	 * and is seen by the check before sleeping. */
	for (unsigned i = 0; i < n; i++)
		atomic_store_explicit(&xa_arenas[i]->slab_pending, false, memory_order_relaxed);
	int64_t decay = xa_decay_cached_ms(atomic_load(&xa_decay_default_ms));
	uint64_t wait = xa_idle_reclaim(now, decay);
	/* exited threads' cache stacks, on the same schedule */
	uint64_t sw = xa_tcache_purge_pooled(now, decay, false, NULL);
	wait = XA_MIN(wait, sw);
	xa_huge_purge(false);
	xa_decay_slack_enforce(true);
	uint64_t w;
	xa_arenas_purge_slabs(false, &w);
	wait = XA_MIN(wait, w);
	for (unsigned i = 0; i < n; i++) {
		xa_arena_t *a = xa_arenas[i];
		xa_pages_purge(a, false);
		uint64_t due = xa_pages_next_due(a, xa_now_ns()); /* XA_MIN evaluates twice */
		wait = XA_MIN(wait, due);
	}
	/* after the purges: a stop finds fewer runs being purged */
	uint64_t cw = xa_pages_compact_maybe(xa_now_ns());
	wait = XA_MIN(wait, cw);
	xa_base_purge();
	uint64_t hdue = xa_huge_next_due(xa_now_ns());
	return XA_MIN(wait, hdue);
}

/* Is there work the last pass did not see?  Called after announcing the
 * sleep (bg_sleeping_forever, then a fence): a free that made pages dirty
 * before it is seen here, one after it sees the flag and kicks. */
static bool bg_work_pending(void) {
	unsigned n = atomic_load(&xa_narenas_created);
	for (unsigned i = 0; i < n; i++) {
		xa_arena_t *a = xa_arenas[i];
		if (atomic_load_explicit(&a->decay_ms, memory_order_relaxed) < 0)
			continue;
		if (XA_RELAXED_LOAD(a->stats.npages[PS_DIRTY]) != 0 ||
		    atomic_load_explicit(&a->slab_pending, memory_order_relaxed))
			return true;
	}
	return xa_huge_cached_bytes() != 0 && atomic_load(&xa_decay_default_ms) >= 0;
}

/* Does an arena purging at once (decay_ms:0) have dirty pages left? */
static bool bg_dirty_pending(void) {
	unsigned n = atomic_load(&xa_narenas_created);
	for (unsigned i = 0; i < n; i++) {
		xa_arena_t *a = xa_arenas[i];
		if (atomic_load_explicit(&a->decay_ms, memory_order_relaxed) == 0 &&
		    XA_RELAXED_LOAD(a->stats.npages[PS_DIRTY]) != 0)
			return true;
	}
	return false;
}

/* Batch the work: passes start at least decay_ms / 8 (1..100 ms) apart,
 * so that a busy process with many slabs becoming due one after the other,
 * or freeing into partly used slabs all the time (each such free kicks a
 * sleeping thread), does not make the thread scan bins (under their locks)
 * all the time.  Releases then come at most decay_ms * 9/8 after the
 * memory went unused. */
static uint64_t bg_floor_ns(void) {
	int64_t dms = atomic_load(&xa_decay_default_ms);
	/* decay_ms:0 batches its purges over XA_DECAY0_DELAY_MS (decay.h) */
	uint64_t floor_ns = dms > 0 ? (uint64_t)dms * 1000000u / 8 : XA_DECAY0_DELAY_MS * 1000000u;
	if (floor_ns > 100000000u)
		floor_ns = 100000000u;
	if (floor_ns < 1000000u)
		floor_ns = 1000000u;
	return floor_ns;
}

/*
 * The thread must not keep the process alive.  glibc ends a process with
 * exit(0) when its last thread returns or calls pthread_exit; with this
 * thread still there that never happens (a program whose main thread
 * calls pthread_exit, a fork child whose only thread finishes).  So after
 * a thread with allocator state exits, the thread checks at once and then
 * at growing intervals (no closer than the pass interval) for 2 s whether
 * it is the only one left, and then does what glibc would have done.
 */
static _Atomic bool bg_exit_seen;

void xa_background_thread_exited(void) {
	if (atomic_load_explicit(&bg_state, memory_order_acquire) != BG_RUNNING)
		return;
	atomic_store(&bg_exit_seen, true);
	xa_mutex_lock(&bg_lock);
	bg_kicked = true;
	pthread_cond_signal(&bg_cond);
	xa_mutex_unlock(&bg_lock);
}

static void *bg_main(void *arg) {
	(void)arg;
	uint64_t last = 0, watch_until = 0, watch_step = 0;
	for (;;) {
		if (atomic_exchange(&bg_exit_seen, false)) {
			watch_until = xa_now_ns() + 2000000000u;
			watch_step = 1000000;
		}
		if (watch_until) {
			if (xa_os_only_thread(xa_http_running() ? 2 : 1))
				exit(0);
			if (xa_now_ns() >= watch_until)
				watch_until = 0;
		}
		uint64_t floor_ns = bg_floor_ns(), now = xa_now_ns();
		if (last != 0 && now - last < floor_ns) {
			/* woken early by a kick: wait out the interval */
			uint64_t d = floor_ns - (now - last);
			struct timespec ts = {(time_t)(d / 1000000000u), (long)(d % 1000000000u)};
			while (nanosleep(&ts, &ts) != 0)
				;
			now = xa_now_ns();
		}
		last = now;
		atomic_fetch_add(&bg_runs, 1);
		uint64_t wait = atomic_load(&bg_enabled) ? bg_pass(now) : UINT64_MAX;
		/* signal dumps, periodic export (report.c) */
		wait = XA_MIN(wait, xa_report_poll(true));
		if (watch_until) {
			wait = XA_MIN(wait, watch_step);
			watch_step *= 2;
		}
		if (wait < floor_ns)
			wait = floor_ns;
		xa_mutex_lock(&bg_lock);
		if (!bg_kicked) {
			if (wait == UINT64_MAX) {
				atomic_store(&bg_sleeping_forever, true);
				atomic_thread_fence(memory_order_seq_cst);
				if (!atomic_load(&bg_enabled) || !bg_work_pending())
					pthread_cond_wait(&bg_cond, &bg_lock);
				atomic_store(&bg_sleeping_forever, false);
			} else {
				/* Wake a little after the due time so the run is due. */
				wait += 1000000;
				/* Pairs with xa_background_kick_soon: dirty pages made
				 * before the store are seen here, later ones see it. */
				atomic_store(&bg_wake_ns, xa_now_ns() + wait);
				atomic_thread_fence(memory_order_seq_cst);
				if (wait > floor_ns && bg_dirty_pending()) {
					wait = floor_ns;
					atomic_store(&bg_wake_ns, xa_now_ns() + wait);
				}
				struct timespec ts;
				clock_gettime(CLOCK_MONOTONIC, &ts);
				uint64_t ns = (uint64_t)ts.tv_nsec + wait % 1000000000u;
				ts.tv_sec += (time_t)(wait / 1000000000u + ns / 1000000000u);
				ts.tv_nsec = (long)(ns % 1000000000u);
				pthread_cond_timedwait(&bg_cond, &bg_lock, &ts);
				atomic_store(&bg_wake_ns, 0);
			}
		}
		bg_kicked = false;
		xa_mutex_unlock(&bg_lock);
		atomic_fetch_add(&bg_wakeups, 1);
	}
	return NULL;
}

static void bg_start(void) {
	int expect = BG_OFF;
	if (!atomic_compare_exchange_strong(&bg_state, &expect, BG_STARTING)) {
		if (expect != BG_FAILED)
			return;
		/* Retry a failed start at most once a second. */
		uint64_t now = xa_now_ns();
		if (now - bg_failed_ns < 1000000000u ||
		    !atomic_compare_exchange_strong(&bg_state, &expect, BG_STARTING))
			return;
	}
	/* The condition variable waits on CLOCK_MONOTONIC. */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	xa_mutex_lock(&bg_lock);
	pthread_cond_init(&bg_cond, &ca);
	xa_mutex_unlock(&bg_lock);
	pthread_condattr_destroy(&ca);

	if (xa_thread_start(bg_main, 64 << 10) == 0) {
		atomic_store_explicit(&bg_state, BG_RUNNING, memory_order_release);
	} else {
		bg_failed_ns = xa_now_ns();
		atomic_store(&bg_state, BG_FAILED);
	}
}

/* Is the thread running?  If not, start it (when it is off or a start
 * failed a while ago) and return false: a new thread starts with a pass. */
static bool bg_running_or_start(void) {
	int s = atomic_load_explicit(&bg_state, memory_order_acquire);
	if (s == BG_RUNNING)
		return true;
	if (s == BG_OFF || s == BG_FAILED)
		bg_start();
	return false;
}

static void bg_signal(void) {
	xa_mutex_lock(&bg_lock);
	bg_kicked = true;
	pthread_cond_signal(&bg_cond);
	xa_mutex_unlock(&bg_lock);
}

void xa_background_kick(void) {
	if (!xa_opt.background_thread || !atomic_load_explicit(&bg_enabled, memory_order_relaxed))
		return;
	if (!bg_running_or_start())
		return;
	/* Pairs with the fence in bg_main: either the thread sees the work
	 * the caller made, or the caller sees it going to sleep. */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&bg_sleeping_forever, memory_order_relaxed))
		bg_signal();
}

void xa_background_wake(void) {
	if (xa_opt.background_thread && bg_running_or_start())
		bg_signal();
}

/* decay_ms:0 left dirty pages for the thread (pages.c): also wake it from
 * a timed sleep that would end later than one pass interval from now, so
 * they go within about XA_DECAY0_DELAY_MS. */
void xa_background_kick_soon(void) {
	if (!xa_opt.background_thread || !atomic_load_explicit(&bg_enabled, memory_order_relaxed) ||
	    atomic_load_explicit(&bg_state, memory_order_acquire) != BG_RUNNING) {
		xa_background_kick();
		return;
	}
	atomic_thread_fence(memory_order_seq_cst);
	uint64_t w = atomic_load_explicit(&bg_wake_ns, memory_order_relaxed);
	if (atomic_load_explicit(&bg_sleeping_forever, memory_order_relaxed) ||
	    (w != 0 && w > xa_now_ns() + bg_floor_ns()))
		bg_signal();
}

/* The run-time switch (ctl "background_thread").  opt.background_thread
 * keeps the start-up value: with it false the thread never runs, and
 * writing true is refused by the caller. */
bool xa_background_set(bool enable) {
	atomic_store(&bg_enabled, enable);
	if (enable)
		xa_background_kick();
	return false;
}

bool xa_background_enabled(void) {
	return xa_opt.background_thread && atomic_load_explicit(&bg_enabled, memory_order_relaxed);
}

void xa_background_prefork(void) { xa_mutex_lock(&bg_lock); }
void xa_background_postfork_parent(void) { xa_mutex_unlock(&bg_lock); }
void xa_background_postfork_child(void) {
	xa_mutex_init(&bg_lock);
	pthread_cond_init(&bg_cond, NULL);
	bg_kicked = false;
	atomic_store(&bg_sleeping_forever, false);
	atomic_store(&bg_wake_ns, 0);
	atomic_store(&bg_exit_seen, false);
	atomic_store(&bg_state, BG_OFF);
}
