/*
 * xfork: fork and the idle-cache reclaim (src/idle.c), run by test_fork.c
 * under LD_PRELOAD of the library.  Plain C, standard malloc API, plus
 * xallocctl found with dlsym (the `idle` mode).
 *
 *   xfork claim [raw]   deterministic: the background thread is held (the
 *                       XALLOC_TEST_IDLE_HOLD hook) at the start of the
 *                       flush of an idle thread's cache; that thread is
 *                       woken and forks (raw: with a bare fork system call,
 *                       which runs no pthread_atfork handler).  The child
 *                       must allocate and exit within 10 s.  Without raw,
 *                       fork() must also have waited for the claim to end.
 *   xfork storm N [T [SECS [MIN]]]
 *                       N forks from one thread while T threads (default
 *                       3) go idle with full caches over and over; each
 *                       child allocates and exits, 10 s deadline each.
 *                       After SECS seconds (default: none) the storm stops
 *                       early, but never before MIN forks (default N): a
 *                       slow machine makes fewer forks, a quick one all N
 *                       With a fifth argument "compact": first a burst
 *                       of 16384 blocks of 20000 B of which every 20th
 *                       is kept, then a thread asks for a descriptor
 *                       compaction (xallocctl "compact") every ms during
 *                       the storm; prints "compaction passes N"
 *   xfork idle          the forking thread's cache in the child is
 *                       reclaimed when the child idles: prints
 *                       "child_tcache_before B" and "child_tcache_after A"
 *   xfork bound         a thread other than main forks; in the child, the
 *                       threads bound to arenas (stats.arenas.<i>.nthreads
 *                       summed) must be 1 (the forking thread), 2 while a
 *                       new thread runs, 1 after it exits, and the new
 *                       thread's exit must not wrap a count; prints
 *                       "bound: ok"
 *
 * Exit 0: every check passed; "xfork: FAIL: ..." on stderr and exit 1 if
 * not; 99 if malloc does not come from XCHILD_EXPECT (no preload).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILD_NAME "xfork"
#include "child.h"

/* Fill the calling thread's cache: allocate n blocks of mixed small sizes,
 * write them, free them all. */
static void fill_cache(unsigned n, uint64_t seed) {
	void *p[512];
	if (n > 512)
		n = 512;
	seed |= 1;
	for (unsigned i = 0; i < n; i++) {
		size_t sz = 16 + rnd_next(&seed) % 2048;
		p[i] = malloc(sz);
		if (!p[i])
			fail("malloc(%zu)", sz);
		memset(p[i], (int)i, sz);
	}
	for (unsigned i = 0; i < n; i++)
		free(p[i]);
}

/* What a child does: allocate, check, free; exit 0 (no stdio, no atexit). */
static void child_work(uint64_t seed) {
	unsigned char *keep[64] = {0};
	seed |= 1;
	for (int i = 0; i < 2000; i++) {
		uint64_t r = rnd_next(&seed);
		int k = (int)(r >> 58);
		if (keep[k]) {
			size_t n = (size_t)keep[k][0] * 16 + 1;
			for (size_t j = 1; j < n; j++)
				if (keep[k][j] != (unsigned char)k)
					_exit(3);
			free(keep[k]);
		}
		unsigned m = (unsigned)(r % 200);
		keep[k] = malloc((size_t)m * 16 + 1);
		if (!keep[k])
			_exit(2);
		keep[k][0] = (unsigned char)m;
		memset(keep[k] + 1, k, (size_t)m * 16);
	}
	for (int k = 0; k < 64; k++)
		free(keep[k]);
}

/* ------------------------------------------------------------ mode claim */

static int go_pipe[2];
static atomic_int owner_tid, released, owner_done;
static int owner_raw, owner_status = -2;
static double owner_fork_secs;

static void *claim_owner(void *arg) {
	(void)arg;
	fill_cache(400, 77);
	atomic_store(&owner_tid, (int)syscall(SYS_gettid));
	char c;
	/* idle, asleep in the kernel, cache full: the background thread claims
     * it and is held before flushing */
	while (read(go_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	double t0 = now();
	pid_t pid = owner_raw ? (pid_t)syscall(SYS_fork) : fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		/* a plain fork() must have waited for the claim to end */
		if (!owner_raw && !atomic_load(&released))
			_exit(4);
		child_work(5);
		_exit(0);
	}
	owner_fork_secs = now() - t0;
	owner_status = wait_deadline(pid, 10);
	atomic_store(&owner_done, 1);
	return NULL;
}

static int mode_claim(int argc, char **argv, char **full_argv) {
	int hold_r, release_w;
	const char *fds = getenv("XFORK_HOLD_FDS");
	if (!fds) {
		/* set up the hook's pipes and run again: the library reads
         * XALLOC_TEST_IDLE_HOLD when it starts */
		int n[2], r[2];
		if (pipe(n) || pipe(r))
			fail("pipe: %s", strerror(errno));
		char v[64];
		snprintf(v, sizeof v, "%d,%d", n[1], r[0]);
		setenv("XALLOC_TEST_IDLE_HOLD", v, 1);
		snprintf(v, sizeof v, "%d,%d", n[0], r[1]);
		setenv("XFORK_HOLD_FDS", v, 1);
		execv("/proc/self/exe", full_argv);
		fail("execv: %s", strerror(errno));
	}
	if (sscanf(fds, "%d,%d", &hold_r, &release_w) != 2)
		fail("XFORK_HOLD_FDS=%s", fds);
	owner_raw = argc > 1 && strcmp(argv[1], "raw") == 0;
	if (pipe(go_pipe))
		fail("pipe: %s", strerror(errno));
	/* dirty pages start the background thread */
	for (int i = 0; i < 8; i++)
		free(malloc(1 << 20));
	pthread_t th;
	if (pthread_create(&th, NULL, claim_owner, NULL))
		fail("pthread_create");
	/* From here until the release: system calls only, no allocator call
     * (this thread may be claimed too, and the reclaimer is held). */
	int tid = 0, held = 0;
	double until = now() + 20;
	while (!held) {
		struct pollfd pf = {hold_r, POLLIN, 0};
		int ms = (int)((until - now()) * 1000);
		if (ms <= 0 || poll(&pf, 1, ms) <= 0)
			fail("the background thread never stopped at an idle flush in 20 s "
			     "(a library without the XALLOC_TEST_IDLE_HOLD hook?)");
		if (read(hold_r, &tid, sizeof tid) != (ssize_t)sizeof tid)
			fail("read from the hold pipe");
		if (tid != 0 && tid == atomic_load(&owner_tid))
			held = 1;
		else if (write(release_w, "r", 1) != 1) /* someone else: let it go */
			fail("write to the release pipe");
	}
	/* the owner's cache is claimed and not yet flushed: wake it, it forks */
	if (write(go_pipe[1], "g", 1) != 1)
		fail("write to the go pipe");
	sleep_us(500000);
	atomic_store(&released, 1);
	if (write(release_w, "r", 1) != 1)
		fail("write to the release pipe");
	/* answer any later hold until the owner is done */
	while (!atomic_load(&owner_done)) {
		struct pollfd pf = {hold_r, POLLIN, 0};
		if (poll(&pf, 1, 20) > 0 && read(hold_r, &tid, sizeof tid) == (ssize_t)sizeof tid)
			if (write(release_w, "r", 1) != 1)
				fail("write to the release pipe");
	}
	/* No more holds: with the release pipe's only write end closed, the
	 * hook's read returns 0 at once.  Else the background thread may
	 * claim this thread's cache (idle in the poll above, with something
	 * cached) and stop at the hook, and the printf below (stdout's
	 * buffer: malloc) would wait for that claim to end for ever. */
	close(release_w);
	pthread_join(th, NULL);
	if (owner_status != 0)
		fail("the child of a thread forking while its cache was claimed: %s%s", describe(owner_status),
		    owner_status != -1 && WIFEXITED(owner_status) && WEXITSTATUS(owner_status) == 4
			? " (fork() did not wait for the reclaim of its cache)"
			: "");
	printf("claim: %s fork %.3f s after wake-up, child ok\n", owner_raw ? "raw" : "plain", owner_fork_secs);
	return 0;
}

/* ------------------------------------------------------------ mode storm */

static atomic_int storm_stop;

static void *storm_idler(void *arg) {
	uint64_t seed = (uintptr_t)arg * 7919 + 13;
	while (!atomic_load_explicit(&storm_stop, memory_order_relaxed)) {
		fill_cache(64 + (unsigned)(rnd_next(&seed) % 256), rnd_next(&seed));
		sleep_us(500 + (long)(rnd_next(&seed) % 4000));
	}
	return NULL;
}

static int storm_n, storm_min, storm_done, storm_failed;
static double storm_secs;

typedef int (*ctl_fn)(const char *, void *, size_t *, void *, size_t);

/* storm ... compact: a burst's survivors for the compactions to move,
 * then a compaction request every millisecond until the storm ends */
static void *storm_compactor(void *arg) {
	ctl_fn ctl = (ctl_fn)arg;
	while (!atomic_load_explicit(&storm_stop, memory_order_relaxed)) {
		if (ctl("compact", NULL, NULL, NULL, 0) != 0)
			fail("xallocctl(\"compact\") failed");
		sleep_us(1000);
	}
	return NULL;
}

static void storm_burst(void) {
	enum { N = 16384 };
	static void *b[N];
	for (int i = 0; i < N; i++)
		if (!(b[i] = malloc(20000)))
			fail("malloc");
	for (int i = 0; i < N; i++)
		if (i % 20)
			free(b[i]);
}

static void *storm_forker(void *arg) {
	(void)arg;
	uint64_t seed = 4242;
	double until = now() + storm_secs;
	for (int i = 0; i < storm_n; i++) {
		if (i >= storm_min && storm_secs > 0 && now() > until)
			break;
		fill_cache(32 + (unsigned)(rnd_next(&seed) % 128), rnd_next(&seed));
		/* idle long enough (decay_ms:1) to be a reclaim candidate */
		sleep_us(1000 + (long)(rnd_next(&seed) % 2000));
		pid_t pid = fork();
		if (pid < 0)
			fail("fork %d: %s", i, strerror(errno));
		if (pid == 0) {
			child_work((uint64_t)i);
			_exit(0);
		}
		int st = wait_deadline(pid, 10);
		if (st != 0) {
			fprintf(stderr, "xfork: FAIL: storm child %d of %d: %s\n", i, storm_n, describe(st));
			storm_failed = 1;
			break;
		}
		storm_done = i + 1;
	}
	return NULL;
}

static int mode_storm(int argc, char **argv) {
	storm_n = argc > 1 ? atoi(argv[1]) : 1000;
	int nidle = argc > 2 ? atoi(argv[2]) : 3;
	storm_secs = argc > 3 ? atof(argv[3]) : 0;
	storm_min = argc > 4 ? atoi(argv[4]) : storm_n;
	bool compact = argc > 5 && strcmp(argv[5], "compact") == 0;
	if (storm_n <= 0 || nidle < 0 || nidle > 64 || storm_min < 0 || storm_min > storm_n)
		fail("usage: xfork storm N [IDLE_THREADS <= 64 [SECONDS [MIN_FORKS <= N [compact]]]]");
	ctl_fn ctl = NULL;
	pthread_t c;
	if (compact) {
		if (!(ctl = (ctl_fn)dlsym(RTLD_DEFAULT, "xallocctl")))
			fail("no xallocctl");
		storm_burst();
	}
	/* the forking thread first: the registry lists newest first, so the
     * idle pass visits the idle threads before it */
	pthread_t f, t[64];
	if (pthread_create(&f, NULL, storm_forker, NULL))
		fail("pthread_create");
	for (long i = 0; i < nidle; i++)
		if (pthread_create(&t[i], NULL, storm_idler, (void *)i))
			fail("pthread_create");
	if (compact && pthread_create(&c, NULL, storm_compactor, (void *)ctl))
		fail("pthread_create");
	double t0 = now();
	pthread_join(f, NULL);
	atomic_store(&storm_stop, 1);
	for (int i = 0; i < nidle; i++)
		pthread_join(t[i], NULL);
	uint64_t passes = 0, epoch = 1;
	if (compact) {
		pthread_join(c, NULL);
		size_t len = sizeof passes;
		if (ctl("epoch", NULL, NULL, &epoch, sizeof epoch) || ctl("stats.compact.passes", &passes, &len, NULL, 0))
			fail("stats.compact.passes");
	}
	if (storm_failed)
		return 1;
	printf("storm: %d forks (of %d) with %d idle threads in %.1f s, every child ok\n", storm_done, storm_n, nidle,
	    now() - t0);
	if (compact)
		printf("compaction passes %llu\n", (unsigned long long)passes);
	return 0;
}

/* ------------------------------------------------------------- mode idle */

static size_t tcache_bytes(ctl_fn ctl) {
	uint64_t e = 1;
	size_t v = 0, len = sizeof v;
	if (ctl("epoch", NULL, NULL, &e, sizeof e) || ctl("stats.tcache", &v, &len, NULL, 0))
		fail("xallocctl epoch / stats.tcache");
	return v;
}

static int mode_idle(void) {
	ctl_fn ctl = (ctl_fn)dlsym(RTLD_DEFAULT, "xallocctl");
	if (!ctl)
		fail("xallocctl not found");
	fill_cache(512, 99);
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		/* dirty pages start the child's background thread; the cache the
         * child inherited stays */
		free(malloc(4 << 20));
		size_t before = tcache_bytes(ctl);
		sleep_us(3000000);
		size_t after = tcache_bytes(ctl);
		printf("child_tcache_before %zu\nchild_tcache_after %zu\n", before, after);
		fflush(stdout);
		_exit(0);
	}
	int st = wait_deadline(pid, 20);
	if (st != 0)
		fail("child: %s", describe(st));
	printf("idle: done\n");
	return 0;
}

/* Threads bound to an arena, over every arena (statistics refreshed). */
static uint64_t bound_threads(ctl_fn ctl) {
	uint64_t e = 1, sum = 0;
	unsigned n = 0;
	size_t len = sizeof n;
	if (ctl("epoch", NULL, NULL, &e, sizeof e) || ctl("arenas.narenas", &n, &len, NULL, 0))
		fail("xallocctl epoch / arenas.narenas failed");
	for (unsigned i = 0; i < n; i++) {
		char name[64];
		uint64_t v = 0;
		unsigned u = 0;
		snprintf(name, sizeof name, "stats.arenas.%u.nthreads", i);
		len = sizeof v;
		if (ctl(name, &v, &len, NULL, 0) != 0) {
			len = sizeof u; /* an unsigned value wants its exact size */
			if (ctl(name, &u, &len, NULL, 0) != 0)
				fail("xallocctl %s failed", name);
			v = u;
		}
		if (v > 1000)
			fail("%s reads %llu: a count wrapped below zero", name, (unsigned long long)v);
		sum += v;
	}
	return sum;
}

static void *bound_worker(void *arg) {
	void *volatile p = malloc(100);
	free(p);
	*(uint64_t *)arg = bound_threads((ctl_fn)dlsym(RTLD_DEFAULT, "xallocctl"));
	return NULL;
}

static void *bound_forker(void *arg) {
	(void)arg;
	free(malloc(64));
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		ctl_fn ctl = (ctl_fn)dlsym(RTLD_DEFAULT, "xallocctl");
		if (!ctl)
			fail("xallocctl not found");
		uint64_t first = bound_threads(ctl), during = 0;
		pthread_t th;
		if (pthread_create(&th, NULL, bound_worker, &during) || pthread_join(th, NULL))
			fail("pthread_create / join in the child");
		uint64_t after = bound_threads(ctl);
		printf("child: bound %llu, with a new thread %llu, after it %llu\n", (unsigned long long)first,
		    (unsigned long long)during, (unsigned long long)after);
		if (first != 1 || during != 2 || after != 1)
			fail("threads bound to arenas in the child: %llu, %llu, %llu (want 1, 2, 1)",
			    (unsigned long long)first, (unsigned long long)during, (unsigned long long)after);
		fflush(stdout);
		_exit(0);
	}
	int st = wait_deadline(pid, 20);
	if (st != 0)
		fail("child: %s", describe(st));
	return NULL;
}

static int mode_bound(void) {
	pthread_t th;
	free(malloc(64)); /* the main thread is bound too */
	if (pthread_create(&th, NULL, bound_forker, NULL) || pthread_join(th, NULL))
		fail("pthread_create / join");
	printf("bound: ok\n");
	return 0;
}

int main(int argc, char **argv) {
	const char *expect = getenv("XCHILD_EXPECT");
	Dl_info di;
	if (expect && *expect &&
	    !(dladdr((void *)(uintptr_t)dlsym(RTLD_DEFAULT, "malloc"), &di) && di.dli_fname &&
		strstr(di.dli_fname, expect))) {
		fprintf(stderr, "xfork: malloc does not come from %s: LD_PRELOAD did not take effect\n", expect);
		return 99;
	}
	if (argc >= 2 && strcmp(argv[1], "claim") == 0)
		return mode_claim(argc - 1, argv + 1, argv);
	if (argc >= 2 && strcmp(argv[1], "storm") == 0)
		return mode_storm(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "idle") == 0)
		return mode_idle();
	if (argc >= 2 && strcmp(argv[1], "bound") == 0)
		return mode_bound();
	fprintf(stderr, "usage: xfork claim [raw] | storm N [IDLE_THREADS [SECONDS [MIN_FORKS]]] | idle | bound\n");
	return 2;
}
