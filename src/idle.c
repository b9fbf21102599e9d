/*
 * idle.c -- giving back the caches of threads that stopped allocating.
 *
 * A thread's cache is normally touched only by its owner, without locks:
 * that is what makes the fast paths fast, and why another thread cannot
 * simply flush it.  Caches drain incrementally while their owner allocates
 * (tcache.c's GC), but a pool thread that goes idle would keep its cache for
 * ever.  The background thread reclaims such a cache with this protocol:
 *
 *  1. Eligible: the owner's allocated/deallocated counters have not moved
 *     for decay_ms, and its cache holds something.
 *  2. The owner must be blocked in the kernel: its status in /proc
 *     (xa_os_thread_sched) says State S (interruptible sleep, in a system
 *     call), it is not busy (below), and we note its context-switch
 *     count.  A sleeping task's earlier stores are visible: the kernel puts
 *     a full barrier between setting the sleep state and switching away.
 *  3. We set reclaim = 1 and make the owner's fast paths miss (next_event
 *     = 0 for malloc; for free nbins = 0 and every bin's magic 0, see
 *     xa_tcache_uncache), then a full fence, then read the status again.
 *     If the owner still sleeps, is not busy, and its context-switch count
 *     has not moved, it has not run since step 2: it will see our stores
 *     when it next runs, and until we finish it waits in xa_tsd_enter.  We
 *     flush its bins.  Otherwise it may be running old fast-path code on
 *     its bins: we touch nothing.
 *  4. reclaim = 2: the owner's next slow path (every fast path now misses
 *     into one) restores nbins and next_event and clears the flag.
 *
 * Busy.  A thread that sleeps inside the allocator may hold bin state in
 * registers (a slow path blocked on a lock; a fast path interrupted by a
 * signal handler that then blocks), so step 3 must not flush under it.
 * Slow paths set in_slow (xa_tsd_enter / xa_tsd_leave).  The fast paths
 * store no flag of their own: each stores one busy mark instead, the value
 * of the counter it will advance (amark = allocated for malloc, dmark =
 * deallocated for free), before it reads any bin field, and its last store
 * is that counter, advanced by the class size (never 0).  Counters only
 * grow, so mark == counter holds exactly from the mark to the commit: a
 * path that has not marked yet has read nothing; after its commit it
 * writes nothing more.  A miss resets the mark (XA_MARK_NONE) before its
 * slow path.  So "busy" = in_slow || amark == allocated || dmark ==
 * deallocated, read while the owner sleeps (stable and visible then);
 * compiler fences keep the mark first and the commit last, and an
 * interrupted thread stops on an instruction boundary.  One store per call
 * instead of two (enter, leave); the marks never give a false "busy" after
 * a completed call, so an idle cache is always reclaimed.  As with the
 * flag before, a handler that itself calls the allocator after
 * interrupting it is outside the guarantee (neither is async-signal-safe).
 *
 * Steps 1-3 run under the registry lock (tsd.c), so the thread cannot exit
 * underneath; the flush itself runs after the lock is dropped, and the
 * thread still cannot exit, since its exit hook waits in xa_tsd_enter while
 * reclaim == 1.  Nothing here allocates.
 *
 * Fork.  Invariant: no thread ever waits on a reclaimer that does not
 * exist.  A fork child has no background thread, so it must not inherit a
 * claim (reclaim == 1) it would wait on for ever.  Three guards:
 *  - The prepare handler's first step, before any allocator lock, is
 *    xa_tsd_enter on the forking thread: it sets in_slow (so no claim can
 *    succeed from then on: step 3 rechecks busy and the switch count)
 *    and waits until a claim already made is finished.  The reclaimer is
 *    never blocked by the forking thread then: it holds no allocator lock
 *    yet (a lock held by another forking thread is released when that
 *    fork is done).  The registry lock and the others come after.
 *  - The child handler clears the claim state of the forking thread
 *    (restores nbins/next_event, reclaim = 0) and refreshes its tid (the
 *    parent's tid names no thread of the child, so its cache would never
 *    be reclaimed there).  Other threads' states are dropped from the
 *    registry (tsd.c); their caches are abandoned, not flushed: a thread
 *    may have been in the middle of a fast path or of a reclaim when the
 *    address space was copied, so their contents are not known to be
 *    consistent.  A leak of at most one cache per dead thread, never a
 *    double use.
 *  - xa_idle_owner_wait never spins on a claim made in another process
 *    (reclaim_pid != getpid(): a fork that ran no handlers, e.g. a raw
 *    fork system call): the reclaimer is gone and may have stopped half-way
 *    through a bin, so the owner takes its cache back empty, abandoning
 *    the objects (a bounded leak; nothing can be handed out twice).  With
 *    the reclaimer alive the wait lasts one flush: the owner holds no lock
 *    the flush needs (claims happen only while it is not busy).  The fork
 *    handlers leave the busy marks alone: a fork from a handler that
 *    interrupted a fast path keeps that path marked in the child.
 *
 * Stopping the world (run descriptor compaction, pages.c).  Moving a run
 * descriptor needs every reader of the old copy gone.  The readers that
 * hold no lock (the free slow path's lookup, realloc, malloc_usable_size,
 * a flush's descriptor before it takes the lock) all run inside
 * xa_tsd_enter / xa_tsd_leave; the fast paths read only the chunk's page
 * entries, which never move.  So the background thread, and only it,
 * stops the world as follows (xa_idle_stop_world):
 *  - Unregistered threads (booting, or past their exit hook) count
 *    themselves into a gate in xa_tsd_enter (stw_inside, seq_cst, against
 *    the closing store of stw_gate: a Dekker pair), so the mover closes
 *    the gate and waits for the count to drain (a bounded wait: it gives
 *    up and reopens after STW_GATE_SPINS yields).
 *  - Every registered thread is claimed as in steps 2-3 above, without
 *    touching its cache: asleep in the kernel, not busy, its
 *    context-switch count unchanged across reclaim = 1 and a full fence.
 *    Its fast paths go on (they read no descriptor); its next slow path
 *    waits in xa_tsd_enter.  A thread that is not asleep and idle fails
 *    the stop, which is retried later.  A thread that registers during a
 *    stop claims itself at birth, under the registry lock (tsd.c).
 * xa_idle_start_world gives every claimed thread back its reclaim value
 * (0, or 2 when an idle reclaim had emptied its cache) and opens the
 * gate.  The registry lock is not held across the stop: the mover takes
 * the arena and bin locks in between, which other paths take before the
 * registry lock.  Fork: the prepare handler waits out a claim like any
 * slow path (not the gate: it holds no descriptor) and takes the locks
 * the mover holds while it moves, so a fork never copies a move half
 * done; the child, which has no mover, opens the gate and clears the stop
 * flag (a stop can be under way: its claims made, its locks not yet
 * taken).
 *
 * Test hook: XALLOC_TEST_IDLE_HOLD="W,R" (two file descriptors, ignored
 * in setuid processes) makes the background thread write the claimed
 * thread's tid to W and wait for a byte on R before each flush, so a test
 * can fork while a cache is claimed (test/integration/test_fork.c).
 */
#include "internal.h"

#include <sched.h>
#include <unistd.h>

/* World stops (see "Stopping the world" above). */
static _Atomic unsigned stw_gate;   /* closed (1) while a stop runs */
static _Atomic unsigned stw_inside; /* unregistered threads past the gate */
static _Atomic bool stw_active;     /* a stop is being made or held */
#define STW_GATE_SPINS 2000
#define STW_CLAIMED 1
#define STW_PREV2 2

void xa_stw_gate_enter(xa_tsd_t *t) {
	if (t->stw_in) { /* nested (an allocation from inside one) */
		t->stw_in++;
		return;
	}
	for (;;) {
		atomic_fetch_add(&stw_inside, 1);
		if (!atomic_load(&stw_gate))
			break;
		atomic_fetch_sub(&stw_inside, 1);
		while (atomic_load_explicit(&stw_gate, memory_order_relaxed))
			sched_yield();
	}
	t->stw_in = 1;
}

void xa_stw_gate_leave(xa_tsd_t *t) {
	if (--t->stw_in == 0)
		atomic_fetch_sub(&stw_inside, 1);
}

/* Gives the owner its cache back once the claim is over (or abandoned). */
void xa_idle_owner_wait(xa_tsd_t *t) {
	pid_t self = 0;
	while (atomic_load_explicit(&t->reclaim, memory_order_acquire) == 1) {
		if (self == 0)
			self = getpid();
		if (t->reclaim_pid != self) {
			/* claimed in the parent process: no one will finish;
			 * the bins may be half flushed, so drop them all */
			for (unsigned i = 0; i < SC_NCLASSES; i++)
				xa_cbin_drop(&t->bins[i]);
			atomic_store_explicit(&t->reclaim, 2, memory_order_relaxed);
			break;
		}
		sched_yield();
	}
	if (atomic_load_explicit(&t->reclaim, memory_order_acquire) == 2) {
		xa_tcache_recache(t);
		t->next_event = t->allocated + TCACHE_GC_INTERVAL;
		atomic_store_explicit(&t->reclaim, 0, memory_order_release);
	}
}

void xa_idle_prefork(void) {
	xa_tsd_t *t = &xa_tsd_tls;
	t->fork_in_slow = t->in_slow;
	/* not the gate: the locks taken next are held by a world stop's
	 * mover for as long as the stop lasts */
	xa_tsd_enter_claims(t);
}

void xa_idle_postfork_parent(void) {
	xa_tsd_t *t = &xa_tsd_tls;
	atomic_signal_fence(memory_order_seq_cst);
	t->in_slow = t->fork_in_slow;
}

void xa_idle_postfork_child(void) {
	xa_tsd_t *t = &xa_tsd_tls;
	if (t->state == TSD_NOMINAL)
		t->tid = xa_os_gettid();
	/* After the prepare handler's wait this is at most 2 (restored here);
	 * a 1 would be abandoned by the pid check. */
	xa_idle_owner_wait(t);
	/* no stop is running (the locks are ours); the forking thread's own
	 * place in the gate is all that can be counted */
	atomic_store(&stw_gate, 0);
	atomic_store(&stw_inside, t->stw_in ? 1u : 0u);
	/* a stop whose claims were made but whose locks the prepare handler
	 * got first: the child has no mover, so no newborn may wait for one */
	atomic_store(&stw_active, false);
	atomic_signal_fence(memory_order_seq_cst);
	t->in_slow = t->fork_in_slow;
}

static int hold_w = -1, hold_r = -1;

void xa_idle_test_hold_init(const char *spec) {
	if (spec == NULL)
		return;
	int v[2] = {0, 0}, k = 0;
	for (const char *p = spec; *p && k < 2; p++) {
		if (*p >= '0' && *p <= '9' && v[k] < 100000)
			v[k] = v[k] * 10 + (*p - '0');
		else if (*p == ',')
			k++;
		else
			return;
	}
	if (k == 1) {
		hold_w = v[0];
		hold_r = v[1];
	}
}

static void idle_test_hold(const xa_tsd_t *t) {
	int32_t tid = (int32_t)t->tid;
	char c;
	if (write(hold_w, &tid, sizeof(tid)) == (ssize_t)sizeof(tid))
		while (read(hold_r, &c, 1) < 0 && errno == EINTR)
			;
}

/* Is t inside the allocator: a slow path (in_slow) or a fast path (its busy
 * mark equals the counter it will advance; see XA_FAST_MARK in tcache.h)?
 * Racy reads of the owner's plain stores; meaningful while it sleeps. */
static bool owner_busy(xa_tsd_t *t) {
	return XA_RELAXED_LOAD(t->in_slow) ||
	    XA_RELAXED_LOAD(t->amark) == XA_RELAXED_LOAD(t->allocated) ||
	    XA_RELAXED_LOAD(t->dmark) == XA_RELAXED_LOAD(t->deallocated);
}

/* Steps 2-3's test: t is asleep in the kernel (State S) and inside no
 * allocator path; *sw is its context-switch count. */
static bool owner_asleep(xa_tsd_t *t, uint64_t *sw) {
	char st;
	return xa_os_thread_sched(t->tid, &st, sw) && st == 'S' && !owner_busy(t);
}

#define IDLE_BATCH 64

typedef struct {
	uint64_t now, decay_ns, next;
	xa_tsd_t *claimed[IDLE_BATCH];
	unsigned nclaimed;
} idle_pass_t;

static void idle_visit(xa_tsd_t *t, void *arg) {
	idle_pass_t *ps = arg;
	if (t == &xa_tsd_tls || t->state != TSD_NOMINAL || atomic_load(&t->reclaim) != 0 ||
	    ps->nclaimed == IDLE_BATCH)
		return;
	uint64_t a = XA_RELAXED_LOAD(t->allocated), d = XA_RELAXED_LOAD(t->deallocated);
	if (a != t->seen_alloc || d != t->seen_dealloc || t->seen_ns == 0) {
		t->seen_alloc = a;
		t->seen_dealloc = d;
		t->seen_ns = ps->now;
	}
	if (xa_tcache_bytes(t) == 0)
		return;
	uint64_t due = t->seen_ns + ps->decay_ns;
	if (ps->now < due) {
		if (due - ps->now < ps->next)
			ps->next = due - ps->now;
		return;
	}
	uint64_t sw1, sw2;
	if (!owner_asleep(t, &sw1))
		goto later;
	t->reclaim_pid = getpid();
	atomic_store(&t->reclaim, 1);
	xa_tcache_uncache(t);
	XA_RELAXED_STORE(t->next_event, 0);
	atomic_thread_fence(memory_order_seq_cst);
	if (!owner_asleep(t, &sw2) || sw2 != sw1) {
		atomic_store(&t->reclaim, 2);
		goto later;
	}
	/* Claimed: flushed after the registry lock is dropped (a flush may
	 * need it, e.g. for the slack budget); the owner cannot exit
	 * meanwhile, its exit hook waits while reclaim == 1. */
	ps->claimed[ps->nclaimed++] = t;
	return;
later:
	/* Try again in a while. */
	if (ps->decay_ns / 4 + 1000000 < ps->next)
		ps->next = ps->decay_ns / 4 + 1000000;
}

uint64_t xa_idle_reclaim(uint64_t now, int64_t decay_ms) {
	if (decay_ms < 0 || xa_tcache_nbins == 0)
		return UINT64_MAX;
	idle_pass_t ps = {.now = now, .decay_ns = (uint64_t)decay_ms * 1000000u, .next = UINT64_MAX};
	xa_tsd_foreach(idle_visit, &ps);
	for (unsigned i = 0; i < ps.nclaimed; i++) {
		xa_tsd_t *t = ps.claimed[i];
		if (hold_w >= 0)
			idle_test_hold(t);
		/* The objects have sat unused since the owner's last call at
		 * the latest: the pages they free are due at once. */
		xa_free_stamp_ns = t->seen_ns;
		xa_tcache_flush_n(t, xa_tcache_nbins);
		xa_free_stamp_ns = 0;
		/* an idle thread needs no grown capacity: its pages go too */
		xa_tcache_trim(t);
		atomic_store(&t->reclaim, 2);
	}
	if (ps.nclaimed == IDLE_BATCH && ps.next > 1000000)
		ps.next = 1000000; /* more to do */
	return ps.next;
}

/* ---- world stops (see "Stopping the world" at the top) ---- */

bool xa_idle_stop_active(void) { return atomic_load(&stw_active); }

/* Claim a thread that registers while a stop is active (tsd.c, registry
 * lock held): its first slow path waits for the restart. */
void xa_idle_claim_newborn(xa_tsd_t *t) {
	t->reclaim_pid = getpid();
	t->stw_claim = STW_CLAIMED;
	atomic_store(&t->reclaim, 1);
}

static void stw_claim(xa_tsd_t *t, void *arg) {
	bool *ok = arg;
	if (!*ok || t == &xa_tsd_tls)
		return;
	uint8_t prev = atomic_load(&t->reclaim);
	uint64_t sw1, sw2;
	if (prev == 1 || !owner_asleep(t, &sw1)) {
		*ok = false;
		return;
	}
	t->reclaim_pid = getpid();
	t->stw_claim = STW_CLAIMED | (prev == 2 ? STW_PREV2 : 0);
	atomic_store(&t->reclaim, 1);
	atomic_thread_fence(memory_order_seq_cst);
	/* claimed from here on, failed or not: xa_idle_start_world releases */
	if (!owner_asleep(t, &sw2) || sw2 != sw1)
		*ok = false;
}

static void stw_release(xa_tsd_t *t, void *arg) {
	(void)arg;
	if (!(t->stw_claim & STW_CLAIMED))
		return;
	uint8_t v = (t->stw_claim & STW_PREV2) ? 2 : 0;
	t->stw_claim = 0;
	atomic_store_explicit(&t->reclaim, v, memory_order_release);
}

void xa_idle_start_world(void) {
	atomic_store(&stw_active, false);
	xa_tsd_foreach(stw_release, NULL);
	atomic_store(&stw_gate, 0);
}

bool xa_idle_stop_world(void) {
	atomic_store(&stw_gate, 1);
	for (unsigned i = 0; atomic_load(&stw_inside) != 0; i++) {
		if (i == STW_GATE_SPINS) {
			atomic_store(&stw_gate, 0);
			return false;
		}
		sched_yield();
	}
	atomic_store(&stw_active, true);
	bool ok = true;
	xa_tsd_foreach(stw_claim, &ok);
	if (!ok)
		xa_idle_start_world();
	return ok;
}
