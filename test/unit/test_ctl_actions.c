/*
 * xallocctl actions and run-time switches whose effect is not just a value:
 *  - background_thread written false then true (the process started with
 *    it on) is accepted, and opt.background_thread keeps the start-up value;
 *    mallopt(M_ARENA_MAX) sets arenas.narenas and leaves opt.narenas alone;
 *  - arena.<i>.purge over every index below arenas.narenas succeeds, also
 *    for arenas not created yet (the jemalloc idiom); arena.<i>.decay_ms of
 *    such an arena is ENOENT, an index at arenas.narenas is ENOENT;
 *  - thread.tcache.enabled read and written by a thread whose cache the
 *    background thread has just reclaimed (src/idle.c) sees the real state;
 *  - a thread whose cache was switched off by thread.tcache.enabled no
 *    longer touches its old stack block once another thread's cache has
 *    it (the bins must leave the block, see xa_tcache_destroy: a bin still
 *    pointing into it would push into the other thread's stack).
 */
#include <semaphore.h>
#include <criterion/criterion.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

int xallocctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);

TestSuite(ctl_actions, .timeout = 120);

static bool read_bool(const char *name) {
	bool v;
	size_t l = sizeof(v);
	cr_assert_eq(xallocctl(name, &v, &l, NULL, 0), 0, "%s", name);
	return v;
}

static int write_bool(const char *name, bool v) { return xallocctl(name, NULL, NULL, &v, sizeof(v)); }

Test(ctl_actions, background_thread_off_then_on) {
	xt_free(xt_malloc(1 << 20)); /* initialise; dirty pages start the thread */
	cr_assert(read_bool("opt.background_thread"), "the test needs the default background_thread:true");
	cr_assert(read_bool("background_thread"));
	cr_assert_eq(write_bool("background_thread", false), 0);
	cr_assert_not(read_bool("background_thread"));
	cr_assert(read_bool("opt.background_thread"), "opt.background_thread must keep the start-up value");
	cr_assert_eq(write_bool("background_thread", true), 0, "switching the background thread back on failed");
	cr_assert(read_bool("background_thread"));
	cr_assert(read_bool("opt.background_thread"));
	/* off, memory freed, release on allocator calls still works */
	cr_assert_eq(write_bool("background_thread", false), 0);
	void *p = xt_malloc(1 << 20);
	xt_free(p);
	cr_assert_eq(xallocctl("arena.4096.purge", NULL, NULL, NULL, 0), 0);
	cr_assert_eq(write_bool("background_thread", true), 0);
}

Test(ctl_actions, arena_purge_loop_over_narenas) {
	xt_free(xt_malloc(100));
	unsigned opt_before, opt_after;
	size_t l = sizeof(unsigned);
	cr_assert_eq(xallocctl("opt.narenas", &opt_before, &l, NULL, 0), 0);
	cr_assert_neq(opt_before, 8, "the test needs a start-up narenas other than 8");
	/* more arena slots than arenas: at most a few are created by now */
	cr_assert_eq(xt_mallopt(M_ARENA_MAX, 8), 1);
	/* the run-time limit is arena.c's; opt.* keeps the start-up value */
	cr_assert_eq(xallocctl("opt.narenas", &opt_after, &l, NULL, 0), 0);
	cr_assert_eq(opt_after, opt_before, "mallopt(M_ARENA_MAX) changed opt.narenas: %u -> %u", opt_before,
	    opt_after);
	unsigned narenas, ncreated;
	cr_assert_eq(xallocctl("arenas.narenas", &narenas, &l, NULL, 0), 0);
	cr_assert_eq(xallocctl("arenas.ncreated", &ncreated, &l, NULL, 0), 0);
	cr_assert_eq(narenas, 8);
	cr_assert_lt(ncreated, narenas, "every arena slot already has an arena: the test would prove nothing");
	char nm[64];
	for (unsigned i = 0; i < narenas; i++) {
		snprintf(nm, sizeof(nm), "arena.%u.purge", i);
		cr_assert_eq(xallocctl(nm, NULL, NULL, NULL, 0), 0, "%s (ncreated %u)", nm, ncreated);
	}
	/* purging does not create arenas */
	unsigned after;
	cr_assert_eq(xallocctl("arenas.ncreated", &after, &l, NULL, 0), 0);
	cr_assert_eq(after, ncreated);
	/* an arena not created yet has no decay time of its own */
	ssize_t d;
	l = sizeof(d);
	snprintf(nm, sizeof(nm), "arena.%u.decay_ms", narenas - 1);
	cr_assert_eq(xallocctl(nm, &d, &l, NULL, 0), ENOENT, "%s", nm);
	/* beyond arenas.narenas: still unknown */
	snprintf(nm, sizeof(nm), "arena.%u.purge", narenas);
	cr_assert_eq(xallocctl(nm, NULL, NULL, NULL, 0), ENOENT, "%s", nm);
	cr_assert_eq(xallocctl("arena.4096.purge", NULL, NULL, NULL, 0), 0);
}

/* ---- thread.tcache.enabled around an idle-cache reclaim --------------- */

static int wake_pipe[2];

static size_t stats_tcache(void) {
	uint64_t e = 1;
	size_t v, l = sizeof(v);
	cr_assert_eq(xallocctl("epoch", NULL, NULL, &e, sizeof(e)), 0);
	cr_assert_eq(xallocctl("stats.tcache", &v, &l, NULL, 0), 0);
	return v;
}

struct worker_result {
	bool enabled_after_reclaim;
	bool enabled_after_disable;
	bool enabled_after_malloc;
};

static void *worker(void *arg) {
	struct worker_result *res = arg;
	void *p[200];
	for (int i = 0; i < 200; i++)
		p[i] = xt_malloc(64);
	for (int i = 0; i < 200; i++)
		xt_free(p[i]); /* into this thread's cache */
	char c;
	/* Blocked in read(2): the background thread sees the thread sleeping
     * in the kernel and reclaims its cache. */
	if (read(wake_pipe[0], &c, 1) != 1)
		return NULL;
	/* The first allocator call after the reclaim is this one. */
	res->enabled_after_reclaim = read_bool("thread.tcache.enabled");
	write_bool("thread.tcache.enabled", false);
	res->enabled_after_disable = read_bool("thread.tcache.enabled");
	xt_free(xt_malloc(64));
	res->enabled_after_malloc = read_bool("thread.tcache.enabled");
	return NULL;
}

Test(ctl_actions, tcache_enabled_after_idle_reclaim) {
	xt_free(xt_malloc(100));
	/* This thread holds nothing in a cache: stats.tcache is the worker's. */
	cr_assert_eq(write_bool("thread.tcache.enabled", false), 0);
	ssize_t dms = 20;
	cr_assert_eq(xallocctl("arenas.decay_ms", NULL, NULL, &dms, sizeof(dms)), 0);
	cr_assert_eq(xallocctl("arena.4096.decay_ms", NULL, NULL, &dms, sizeof(dms)), 0);
	cr_assert_eq(pipe(wake_pipe), 0);
	struct worker_result res = {0};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, worker, &res), 0);
	/* Wait (hang detectors: 60 s each) until the worker filled its cache,
     * then until the background thread reclaimed it. */
	bool filled = false, reclaimed = false;
	for (int i = 0; i < 6000 && !reclaimed; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
		/* dirty pages keep the background thread passing */
		xt_free(xt_malloc(256 << 10));
		size_t cached = stats_tcache();
		if (filled)
			reclaimed = cached == 0;
		else if ((filled = cached > 0))
			i = 0;
	}
	cr_assert(reclaimed, "the idle worker's cache was never reclaimed (stats.tcache %zu)", stats_tcache());
	cr_assert_eq(write(wake_pipe[1], "x", 1), 1);
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert(res.enabled_after_reclaim, "thread.tcache.enabled read false right after an idle reclaim");
	cr_assert_not(res.enabled_after_disable);
	cr_assert_not(res.enabled_after_malloc, "the cache came back after thread.tcache.enabled=false");
}

/* ---- thread.tcache.enabled=false, then the stack block reused --------- */

/* A switches its cache off (its stack block goes back to the pool), B
 * starts and gets that block.  If A's bins still pointed into it, A's free
 * would push into B's stack (its bins still set up) and A's next
 * malloc would pop an object B's cache also holds: one block handed out
 * twice.  Each step waits for the previous one (semaphores). */
enum { REUSE_SIZE = 64, REUSE_GOT = 300 };
static sem_t reuse_sem[5];
static void *reuse_a_holds;

static void *reuse_thread_a(void *arg) {
	(void)arg;
	xt_free(xt_malloc(REUSE_SIZE));
	cr_assert_eq(write_bool("thread.tcache.enabled", false), 0);
	sem_post(&reuse_sem[0]); /* block back in the pool */
	sem_wait(&reuse_sem[1]); /* B has its cache */
	xt_free(xt_malloc(REUSE_SIZE));
	sem_post(&reuse_sem[2]);
	sem_wait(&reuse_sem[3]); /* B filled its bin */
	reuse_a_holds = xt_malloc(REUSE_SIZE);
	sem_post(&reuse_sem[4]);
	return NULL;
}

static void *reuse_thread_b(void *arg) {
	void **got = arg;
	xt_free(xt_malloc(16)); /* the cache: A's old block */
	sem_post(&reuse_sem[1]);
	sem_wait(&reuse_sem[2]);
	got[0] = xt_malloc(REUSE_SIZE); /* a fill */
	sem_post(&reuse_sem[3]);
	sem_wait(&reuse_sem[4]);
	for (int i = 1; i < REUSE_GOT; i++)
		got[i] = xt_malloc(REUSE_SIZE);
	return NULL;
}

Test(ctl_actions, tcache_off_then_block_reused) {
	xt_free(xt_malloc(100));
	for (int i = 0; i < 5; i++)
		cr_assert_eq(sem_init(&reuse_sem[i], 0, 0), 0);
	pthread_t a, b;
	static void *got[REUSE_GOT];
	cr_assert_eq(pthread_create(&a, NULL, reuse_thread_a, NULL), 0);
	sem_wait(&reuse_sem[0]);
	cr_assert_eq(pthread_create(&b, NULL, reuse_thread_b, got), 0);
	cr_assert_eq(pthread_join(a, NULL), 0);
	cr_assert_eq(pthread_join(b, NULL), 0);
	for (int i = 0; i < REUSE_GOT; i++)
		cr_assert_neq(got[i], reuse_a_holds, "one block handed to two threads (%p)", got[i]);
	for (int i = 0; i < REUSE_GOT; i++)
		xt_free(got[i]);
	xt_free(reuse_a_holds);
}
