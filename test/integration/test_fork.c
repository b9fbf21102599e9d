/*
 * fork() while other threads allocate: the child must be able to allocate
 * (no lock left held by a thread that does not exist in the child), also in
 * a pthread_atfork child handler.  A deadlock shows as a timeout.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* "fork: N children ok (of M)": N, checked against the minimum */
static int forks_done(const struct xrun *r, const char *prefix, int min) {
	const char *p = strstr(r->out, prefix);
	cr_assert(p, "unexpected output: %s", r->out);
	int n = atoi(p + strlen(prefix));
	cr_assert_geq(n, min, "only %d forks: %s", n, r->out);
	return n;
}

/*
 * The work is proportionate to the machine: up to 50 forks, but after 40 s
 * no new one once 10 children have passed (each child checks the parent's
 * blocks, allocates ~60 MB in 10,000 blocks and in two threads, while the
 * parent's 4 threads go on allocating: ~0.1 s each on 2 idle cores, more
 * than 1 s at a load of 30).  xchild kills a child still running after
 * 20 s (a deadlock) and fails.
 */
Test(fork, fifty_forks_while_four_threads_allocate, .timeout = 180) {
	struct xrun r;
	XRUN(&r, NULL, 150, "fork", "50", "20", "40", "10");
	xrun_assert_ok(&r);
	forks_done(&r, "fork: ", 10);
	xrun_free(&r);
}

Test(fork, with_tcache_off_and_one_arena, .timeout = 180) {
	struct xrun r;
	XRUN(&r, "tcache:false,narenas:1", 150, "fork", "20", "20", "40", "10");
	xrun_assert_ok(&r);
	forks_done(&r, "fork: ", 10);
	xrun_free(&r);
}

/*
 * Fork and the idle-cache reclaim (src/idle.c; issue 13): a fork child
 * must never wait for a reclaim of its cache by a background thread that
 * does not exist in the child.  Run by integration/xfork.
 */
Test(fork, while_the_forking_threads_cache_is_claimed, .timeout = 120) {
	/* the background thread is held (XALLOC_TEST_IDLE_HOLD) after claiming
     * the idle thread's cache; the thread wakes and forks: fork() waits for
     * the claim to end, the child allocates */
	struct xrun r;
	XRUN_PROG(&r, "XFORK", "decay_ms:20", 90, "claim");
	xrun_assert_ok(&r);
	cr_assert(strstr(r.out, "claim: plain fork"), "unexpected output: %s", r.out);
	xrun_free(&r);
}

Test(fork, raw_fork_system_call_while_claimed, .timeout = 120) {
	/* a fork that runs no atfork handler: the child finds its cache
     * claimed by a thread of its parent and takes it back (empty) */
	struct xrun r;
	XRUN_PROG(&r, "XFORK", "decay_ms:20", 90, "claim", "raw");
	xrun_assert_ok(&r);
	cr_assert(strstr(r.out, "claim: raw fork"), "unexpected output: %s", r.out);
	xrun_free(&r);
}

Test(fork, storm_with_idle_threads_decay_1ms, .timeout = 300) {
	/* Up to 1500 forks from a thread that idles ~1-3 ms before each, while
     * 3 threads idle with full caches: the idle reclaim runs all the time;
     * every child must finish within 10 s.  The race wants many forks, so
     * the storm makes all 1500 when the machine allows (~10 s on 2 idle
     * cores); on a loaded one it stops after 60 s, but never before 200. */
	struct xrun r;
	XRUN_PROG(&r, "XFORK", "decay_ms:1", 280, "storm", "1500", "3", "60", "200");
	xrun_assert_ok(&r);
	int n = forks_done(&r, "storm: ", 200);
	cr_log_info("storm: %d forks", n);
	xrun_free(&r);
}

Test(fork, storm_while_the_world_is_stopped_for_compactions, .timeout = 300) {
	/* The same storm while a thread asks for a descriptor compaction every
	 * ms (src/idle.c, "Stopping the world"; about 1000 stops in the
	 * storm): the forking thread is claimed between forks, and its fork
	 * must wait for the restart and never leave its child waiting for a
	 * mover the child does not have.  Every child must finish within 10
	 * s.  (The child's reset of the stop flag, for a fork by a thread
	 * outside the registry, is not reached here: this forker is
	 * registered.) */
	struct xrun r;
	XRUN_PROG(&r, "XFORK", "decay_ms:1", 280, "storm", "1500", "3", "60", "200", "compact");
	xrun_assert_ok(&r);
	int n = forks_done(&r, "storm: ", 200);
	const char *p = strstr(r.out, "compaction passes ");
	cr_assert(p, "no compaction count:\n%s", r.out);
	long passes = atol(p + strlen("compaction passes "));
	cr_log_info("storm with compactions: %d forks, %ld compaction passes", n, passes);
	cr_assert_geq(passes, 1, "no compaction pass during the storm:\n%s", r.out);
	xrun_free(&r);
}

Test(fork, child_reclaims_the_forking_threads_idle_cache, .timeout = 120) {
	/* the child's thread state must carry the child's tid, or the idle
     * check reads /proc/self/task/<parent's tid> and never reclaims */
	struct xrun r;
	XRUN_PROG(&r, "XFORK", "decay_ms:200", 90, "idle");
	xrun_assert_ok(&r);
	const char *b = strstr(r.out, "child_tcache_before "), *a = strstr(r.out, "child_tcache_after ");
	cr_assert(b && a, "unexpected output: %s", r.out);
	long before = atol(b + 20), after = atol(a + 19);
	cr_assert_gt(before, 16 * 1024, "the child's cache held only %ld bytes to begin with", before);
	cr_assert_lt(after, before / 8, "the child's idle cache kept %ld of %ld bytes after 3 s", after, before);
	xrun_free(&r);
}

/*
 * The child's arena bindings: only the forking thread survives, and it
 * stays bound (tsd.c's fork child handler binds it again after arena.c's
 * clears every count).  Lost, the first thread to exit in the child would
 * wrap its arena's count to 2^32 - 1: stats.arenas.<i>.nthreads would
 * report it and the least-loaded arena choice would never pick the arena.
 */
Test(fork, child_keeps_the_forking_threads_arena_binding, .timeout = 60) {
	struct xrun r;
	XRUN_PROG(&r, "XFORK", NULL, 40, "bound");
	xrun_assert_ok(&r);
	cr_assert(strstr(r.out, "bound: ok"), "unexpected output: %s", r.out);
	xrun_free(&r);
}
