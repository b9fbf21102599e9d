/*
 * xrelease: child program for test_release.c (memory given back to the OS).
 * Runs under LD_PRELOAD=libxalloc.so.  Prints "key value" lines that the
 * test parses; exits non-zero on an internal failure.
 *
 *   spike MIB          allocate MIB of mixed 1..64 KiB blocks, free them;
 *                      then poll RSS every 50 ms for 3 s without calling the
 *                      allocator: prints "base", "peak", and "t_ms rss" rows
 *   trim MIB           as spike but calls malloc_trim(0) right after the
 *                      frees: prints "trim_ret", "before", "after"
 *   lazyfree MIB       allocate/free, then print LazyFree from smaps_rollup
 *   threads MIB        allocate/free, sleep 1.5 s, print the thread count
 *   fork MIB           allocate/free in the parent, fork; the child does a
 *                      spike and reports its RSS after 2.5 s idle
 *   survivors MIB      a spike first, then 2 s idle (the background thread
 *                      has released it and sleeps with nothing due); then
 *                      MIB of 1200-byte blocks (multi-page slabs), keeping
 *                      those that start in a page whose number is a
 *                      multiple of 4: every slab keeps a block, so the
 *                      frees only leave slabs partly used (and fill the
 *                      thread's cache); about half the pages hold no
 *                      survivor.  Prints "held" (RSS with all blocks),
 *                      "kept", then "t_ms rss" rows every 50 ms without
 *                      an allocator call until RSS is 32 MiB below held
 *                      ("released_ms T") or for 30 s
 *   threads_rss N B    N threads (128 KiB stacks) each malloc B bytes
 *                      (default 1024; 0: none) and wait; prints
 *                      "rss_added" (kB of RSS the live threads added)
 *   main_exit MIB      a spike (the background thread starts), then the
 *                      main thread prints "done" and calls pthread_exit:
 *                      the process must end with status 0 (glibc's
 *                      last-thread exit) although the background thread
 *                      is still there
 *   smallfree ROUNDS   ROUNDS times: malloc 4096 blocks of 64..512 B
 *                      (whole slabs), then free them all, so that slabs
 *                      empty in every round; prints "pid N" (the main
 *                      thread's id, for strace -f output)
 *   meta RUNS          RUNS blocks of 20 KiB (large runs, left untouched):
 *                      prints "chunks" (4 MiB chunks they added) and
 *                      "meta_per_run" (bytes of resident metadata they
 *                      added per run, from the ctl's
 *                      stats.metadata_resident, found with dlsym)
 *   burstmeta N SIZE   N blocks of SIZE bytes (default 4096), one byte
 *                      written in each; every 20th is kept, the others
 *                      freed, then malloc_trim(0): prints "kept" and
 *                      "meta_per_kept" (bytes of resident metadata the
 *                      burst left, per kept block, from
 *                      stats.metadata_resident)
 *   compact N          N blocks of 20 KiB (large runs: a descriptor
 *                      each), 64 bytes written in each; every 20th is
 *                      kept, then malloc_trim(0); then ctl "compact" and
 *                      a sleeping wait for stats.compact.passes to move,
 *                      and malloc_trim(0) again.  Checks the survivors
 *                      (contents, malloc_usable_size), allocates a new
 *                      burst between them, reallocs them and frees all.
 *                      Prints "kept", "bad" (failed checks), "moved"
 *                      (stats.compact.moved's change), "meta_before" and
 *                      "meta_after" (stats.metadata_resident around the
 *                      compaction)
 *   compactauto N      the burst of "compact", then idle (no allocator
 *                      call but a statistics read every 50 ms) until
 *                      stats.metadata_resident is 768 KiB below its
 *                      value after the trim, for at most 20 s: prints
 *                      "kept", "bad", "meta_before", "meta_after" and
 *                      "waited_ms"
 *   compactstress S    4 threads malloc, check and free blocks of
 *                      1..3000 B and 16..48 KiB over 2048 slots each,
 *                      sleeping 1 ms every 64 operations, while the
 *                      main thread asks for a compaction every 5 ms, for
 *                      S seconds.  Prints "bad" (blocks whose first or
 *                      last byte or usable size was wrong), "passes" and
 *                      "moved" (the stats.compact.* changes)
 *   exited_stacks N    N threads, all alive at once, each grow their
 *                      cache bins (bursts of 1500 blocks of 16..1024 B)
 *                      and exit; then 3 s without an allocator call and
 *                      malloc_trim(0).  Prints "idle_per_thread" and
 *                      "trim_per_thread": bytes of resident metadata
 *                      (stats.metadata_resident) left per exited thread
 *                      after the idle time and after the trim
 *   trimloop N         a program that calls malloc_trim(0) after every
 *                      operation (a free, or a malloc of 1..64 KiB with
 *                      every page written, over 1024 slots), for N
 *                      operations or, when N is negative, until
 *                      stats.trim.skipped moves (checked every 1000) or
 *                      -N operations.  Prints "ops", "calls", "skipped"
 *                      (the two statistics' change), "ret1" (calls that
 *                      returned 1) and "madvise" (stats.os.madvise's
 *                      change).  Then it frees its blocks, allocates
 *                      and frees 32 MiB of 64 KiB blocks (every page
 *                      written), waits 1.1 s without an allocator call
 *                      and calls malloc_trim(0) once more: prints
 *                      "held" (RSS before that call, kB), "last_ret"
 *                      and "last_after" (RSS after it)
 *   fork_thread MIB    a second thread forks; the child does a spike and
 *                      its only thread returns from its start routine; the
 *                      parent waits up to 10 s and prints "child_status"
 *                      (the exit status, or -1 if the child did not end)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <malloc.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <pthread.h>
#include <dlfcn.h>

#define CHILD_NAME "xrelease"
#include "child.h"

static long rss_kb(void) {
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, res = 0;
	if (!f || fscanf(f, "%ld %ld", &pages, &res) != 2)
		exit(90);
	fclose(f);
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static long smaps_kb(const char *field) {
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	long v = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, field, strlen(field)) == 0)
			v = atol(line + strlen(field));
	fclose(f);
	return v;
}

static int nthreads(void) {
	DIR *d = opendir("/proc/self/task");
	int n = 0;
	struct dirent *e;
	if (!d)
		exit(91);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void sleep_ms(long ms) {
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

#define MAXB 200000
static void *blocks[MAXB];

/* Allocate mib MiB of 1..64 KiB blocks (touching every byte), free them all. */
static void spike(long mib) {
	size_t total = (size_t)mib << 20, got = 0;
	unsigned seed = 12345;
	int n = 0;
	while (got < total && n < MAXB) {
		seed = seed * 1103515245u + 12345u;
		size_t sz = 1024 + (seed >> 8) % (63 * 1024);
		char *p = malloc(sz);
		if (!p)
			exit(92);
		memset(p, 0x5c, sz);
		blocks[n++] = p;
		got += sz;
	}
	printf("full %ld\n", rss_kb());
	for (int i = 0; i < n; i++)
		free(blocks[i]);
}

static long fork_thread_mib;
static int fork_thread_status = -2;

static void *fork_thread(void *arg) {
	(void)arg;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		spike(fork_thread_mib); /* starts the child's background thread */
		sleep_ms(200);
		fflush(stdout);
		return NULL; /* the child's last thread ends here */
	}
	if (pid < 0)
		exit(94);
	int st = wait_deadline(pid, 10);
	fork_thread_status = st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return NULL;
}

typedef int ctl_fn(const char *, void *, size_t *, void *, size_t);

/* stats.NAME after a new epoch, through xallocctl; exits 96 without it */
static size_t ctl_stat(const char *name) {
	ctl_fn *ctl = (ctl_fn *)dlsym(RTLD_DEFAULT, "xallocctl");
	uint64_t epoch = 1;
	size_t v = 0, len = sizeof v;
	if (!ctl || ctl("epoch", NULL, NULL, &epoch, sizeof epoch) != 0 || ctl(name, &v, &len, NULL, 0) != 0)
		exit(96);
	return v;
}

static void meta(long runs) {
	if (runs > MAXB)
		runs = MAXB;
	size_t m0 = ctl_stat("stats.metadata_resident"), c0 = ctl_stat("stats.mapped");
	for (long i = 0; i < runs; i++)
		if (!(blocks[i] = malloc(20 << 10)))
			exit(92);
	size_t m1 = ctl_stat("stats.metadata_resident"), c1 = ctl_stat("stats.mapped");
	printf("chunks %zu\nmeta_per_run %zu\n", (c1 - c0) >> 22, (m1 - m0) / (size_t)runs);
	for (long i = 0; i < runs; i++)
		free(blocks[i]);
}

/* blocks[0..n) of size bytes, the first `mark` bytes of block i set to
 * i & 0x7f; every 20th kept, the others freed, then malloc_trim(0).
 * Returns the number kept. */
static long burst_keep(long n, size_t size, size_t mark) {
	for (long i = 0; i < n; i++) {
		if (!(blocks[i] = malloc(size)))
			exit(92);
		memset(blocks[i], (int)(i & 0x7f), mark);
	}
	long kept = 0;
	for (long i = 0; i < n; i++) {
		if (i % 20 == 0) {
			kept++;
			continue;
		}
		free(blocks[i]);
		blocks[i] = NULL;
	}
	malloc_trim(0);
	return kept;
}

/* Survivors of burst_keep (every 20th of blocks[0..n)) whose first 64
 * bytes changed, or whose usable size is not usize (0: not checked). */
static long survivors_bad(long n, size_t usize) {
	long bad = 0;
	for (long i = 0; i < n; i += 20) {
		unsigned char *b = blocks[i];
		for (int j = 0; j < 64; j++)
			bad += b[j] != (unsigned char)(i & 0x7f);
		bad += usize && malloc_usable_size(b) != usize;
	}
	return bad;
}

/* Free blocks[0..n) and clear them. */
static void free_blocks(long n) {
	for (long i = 0; i < n; i++) {
		free(blocks[i]);
		blocks[i] = NULL;
	}
}

/* burstmeta: what a burst's survivors keep of its metadata (issue 10, the
 * spike target): run descriptors stay resident in every pool block that
 * holds a live one. */
static void burstmeta(long n, size_t size) {
	if (n > MAXB)
		n = MAXB;
	size_t m0 = ctl_stat("stats.metadata_resident");
	long kept = burst_keep(n, size, 1);
	size_t m1 = ctl_stat("stats.metadata_resident");
	printf("kept %ld\nmeta_per_kept %zu\n", kept, m1 > m0 ? (m1 - m0) / (size_t)kept : 0);
	for (long i = 0; i < n; i++)
		free(blocks[i]);
}

/* Ask for a compaction (ctl "compact") and wait, sleeping, until
 * stats.compact.passes passes p0; exits 97 after 20 s without one. */
static void compact_wait(size_t p0) {
	ctl_fn *ctl = (ctl_fn *)dlsym(RTLD_DEFAULT, "xallocctl");
	if (!ctl || ctl("compact", NULL, NULL, NULL, 0) != 0)
		exit(96);
	for (int i = 0; ctl_stat("stats.compact.passes") <= p0; i++) {
		if (i == 1000)
			exit(97);
		sleep_ms(20);
	}
}

/* compact N: see the header. */
static void compactmeta(long n) {
	const size_t size = 20 << 10;
	if (n > MAXB)
		n = MAXB;
	size_t mv0 = ctl_stat("stats.compact.moved");
	long kept = burst_keep(n, size, 64);
	size_t m1 = ctl_stat("stats.metadata_resident");
	compact_wait(ctl_stat("stats.compact.passes"));
	malloc_trim(0); /* releases the emptied pool blocks */
	size_t m2 = ctl_stat("stats.metadata_resident");
	/* the survivors are intact, and every pointer is still known */
	long bad = survivors_bad(n, size);
	/* a new burst, resized and freed with the survivors: the moved
	 * descriptors still work as lists, page entries and free runs */
	for (long i = 1; i < n; i += 2) {
		if (blocks[i])
			continue;
		if (!(blocks[i] = malloc(size + (size_t)(i % 3) * 4096)))
			exit(92);
		memset(blocks[i], 0x33, 64);
	}
	for (long i = 0; i < n; i += 20)
		if (!(blocks[i] = realloc(blocks[i], size * 2)))
			exit(92);
	bad += survivors_bad(n, 0);
	free_blocks(n);
	printf("kept %ld\nbad %ld\nmoved %zu\nmeta_before %zu\nmeta_after %zu\n", kept, bad,
	    ctl_stat("stats.compact.moved") - mv0, m1, m2);
}

/* compactauto N: see the header. */
static void compactauto(long n) {
	const size_t size = 20 << 10;
	if (n > MAXB)
		n = MAXB;
	long kept = burst_keep(n, size, 64);
	size_t m1 = ctl_stat("stats.metadata_resident"), m2 = m1;
	long waited = 0;
	/* idle: no allocator call but the statistics, every 50 ms */
	while (waited < 20000 && m2 + (768 << 10) > m1) {
		sleep_ms(50);
		waited += 50;
		m2 = ctl_stat("stats.metadata_resident");
	}
	long bad = survivors_bad(n, size);
	free_blocks(n);
	printf("kept %ld\nbad %ld\nmeta_before %zu\nmeta_after %zu\nwaited_ms %ld\n", kept, bad, m1, m2, waited);
}

/* compactstress SECONDS: see the header. */
enum { CS_THREADS = 4, CS_SLOTS = 2048 };
static volatile int cs_stop;
static void *cs_worker(void *arg) {
	uintptr_t id = (uintptr_t)arg;
	static __thread unsigned char *v[CS_SLOTS];
	static __thread size_t vs[CS_SLOTS];
	uint64_t s = 0x9e3779b97f4a7c15ull * (id + 1);
	long bad = 0;
	for (long ops = 0; !cs_stop; ops++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		size_t k = (size_t)(s >> 33) % CS_SLOTS;
		if (v[k]) {
			unsigned char tag = (unsigned char)(k ^ id);
			bad += v[k][0] != tag || v[k][vs[k] - 1] != tag || malloc_usable_size(v[k]) < vs[k];
			free(v[k]);
			v[k] = NULL;
		} else {
			/* small classes, one-page slabs and large runs */
			size_t sz = (s >> 20) % 4 == 0 ? 16384 + (size_t)(s >> 40) % 32768 : 1 + (size_t)(s >> 40) % 3000;
			if (!(v[k] = malloc(sz)))
				exit(92);
			vs[k] = sz;
			v[k][0] = v[k][sz - 1] = (unsigned char)(k ^ id);
		}
		if (ops % 64 == 0)
			sleep_ms(1); /* asleep now and then, so that a stop can be made */
	}
	for (size_t k = 0; k < CS_SLOTS; k++) {
		if (v[k]) {
			unsigned char tag = (unsigned char)(k ^ id);
			bad += v[k][0] != tag || v[k][vs[k] - 1] != tag;
			free(v[k]);
		}
	}
	return (void *)bad;
}

static void compactstress(long seconds) {
	size_t p0 = ctl_stat("stats.compact.passes"), mv0 = ctl_stat("stats.compact.moved");
	pthread_t th[CS_THREADS];
	for (uintptr_t i = 0; i < CS_THREADS; i++)
		if (pthread_create(&th[i], NULL, cs_worker, (void *)i) != 0)
			exit(95);
	ctl_fn *ctl = (ctl_fn *)dlsym(RTLD_DEFAULT, "xallocctl");
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (!ctl || ctl("compact", NULL, NULL, NULL, 0) != 0)
			exit(96);
		sleep_ms(5);
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while (t1.tv_sec - t0.tv_sec < seconds);
	cs_stop = 1;
	long bad = 0;
	for (int i = 0; i < CS_THREADS; i++) {
		void *r;
		pthread_join(th[i], &r);
		bad += (long)r;
	}
	printf("bad %ld\npasses %zu\nmoved %zu\n", bad, ctl_stat("stats.compact.passes") - p0,
	    ctl_stat("stats.compact.moved") - mv0);
}

/* trimloop: see the header. */
static void trimloop(long arg) {
	enum { SLOTS = 1024 };
	static unsigned char *v[SLOTS];
	long n = arg < 0 ? -arg : arg;
	uint64_t s = 88;
	size_t c0 = ctl_stat("stats.trim.calls"), k0 = ctl_stat("stats.trim.skipped");
	size_t m0 = ctl_stat("stats.os.madvise");
	long ops = 0, ret1 = 0;
	while (ops < n) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		size_t k = (size_t)(s >> 33) % SLOTS;
		if (v[k]) {
			free(v[k]);
			v[k] = NULL;
		} else {
			size_t sz = 1 + (size_t)(s >> 17) % 65536;
			if (!(v[k] = malloc(sz)))
				exit(92);
			for (size_t j = 0; j < sz; j += 4096)
				v[k][j] = 1;
		}
		ret1 += malloc_trim(0) == 1;
		ops++;
		if (arg < 0 && ops % 1000 == 0 && ctl_stat("stats.trim.skipped") != k0)
			break;
	}
	size_t c1 = ctl_stat("stats.trim.calls"), k1 = ctl_stat("stats.trim.skipped");
	size_t m1 = ctl_stat("stats.os.madvise");
	printf("ops %ld\ncalls %zu\nskipped %zu\nret1 %ld\nmadvise %zu\n", ops, c1 - c0, k1 - k0, ret1, m1 - m0);
	for (size_t k = 0; k < SLOTS; k++)
		free(v[k]);
	enum { NB = 512 }; /* 32 MiB of 64 KiB blocks */
	static char *b[NB];
	for (int i = 0; i < NB; i++) {
		if (!(b[i] = malloc(64 << 10)))
			exit(92);
		for (size_t j = 0; j < (64 << 10); j += 4096)
			b[i][j] = 1;
	}
	for (int i = 0; i < NB; i++)
		free(b[i]);
	sleep_ms(1100);
	long held = rss_kb();
	int r = malloc_trim(0);
	printf("held %ld\nlast_ret %d\nlast_after %ld\n", held, r, rss_kb());
}

/* exited_stacks: see the header. */
static pthread_barrier_t es_bar;

static void *es_thread(void *arg) {
	(void)arg;
	static _Thread_local void *p[1500];
	for (int r = 0; r < 2; r++)
		for (size_t s = 16; s <= 1024; s += 48) {
			for (int i = 0; i < 1500; i++)
				if ((p[i] = malloc(s)) == NULL)
					exit(92);
			for (int i = 0; i < 1500; i++)
				free(p[i]);
		}
	pthread_barrier_wait(&es_bar);
	return NULL;
}

static void exited_stacks(unsigned n) {
	enum { MAXT = 256 };
	pthread_t th[MAXT];
	if (n > MAXT)
		n = MAXT;
	size_t m0 = ctl_stat("stats.metadata_resident");
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128 << 10);
	pthread_barrier_init(&es_bar, NULL, n);
	for (unsigned i = 0; i < n; i++)
		if (pthread_create(&th[i], &attr, es_thread, NULL) != 0)
			exit(93);
	for (unsigned i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	sleep(3);
	size_t m1 = ctl_stat("stats.metadata_resident");
	malloc_trim(0);
	size_t m2 = ctl_stat("stats.metadata_resident");
	printf("idle_per_thread %zu\ntrim_per_thread %zu\n", m1 > m0 ? (m1 - m0) / n : 0, m2 > m0 ? (m2 - m0) / n : 0);
}

/* threads_rss: N threads each holding one block of tr_bytes (0: none). */
static pthread_barrier_t tr_alive, tr_go;
static size_t tr_bytes;

static void *tr_thread(void *arg) {
	(void)arg;
	void *p = tr_bytes ? malloc(tr_bytes) : NULL;
	if (tr_bytes && !p)
		exit(92);
	if (p)
		memset(p, 1, tr_bytes);
	pthread_barrier_wait(&tr_alive);
	pthread_barrier_wait(&tr_go);
	free(p);
	return NULL;
}

static void threads_rss(unsigned n, size_t bytes) {
	enum { MAXT = 256 };
	pthread_t th[MAXT];
	if (n > MAXT)
		n = MAXT;
	tr_bytes = bytes;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128 << 10);
	pthread_barrier_init(&tr_alive, NULL, n + 1);
	pthread_barrier_init(&tr_go, NULL, n + 1);
	long before = rss_kb();
	for (unsigned i = 0; i < n; i++)
		if (pthread_create(&th[i], &attr, tr_thread, NULL) != 0)
			exit(93);
	pthread_barrier_wait(&tr_alive);
	long after = rss_kb();
	printf("rss_added %ld\n", after - before);
	pthread_barrier_wait(&tr_go);
	for (unsigned i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	long mib = atol(argv[2]);
	/* the stdio buffers exist before the baseline */
	printf("start\n");
	fflush(stdout);
	long base = rss_kb();
	printf("base %ld\n", base);
	if (strcmp(argv[1], "spike") == 0) {
		spike(mib);
		printf("peak %ld\n", rss_kb());
		for (int t = 0; t <= 3000; t += 50) {
			printf("%d %ld\n", t, rss_kb());
			sleep_ms(50);
		}
	} else if (strcmp(argv[1], "trim") == 0) {
		spike(mib);
		printf("before %ld\n", rss_kb());
		int r = malloc_trim(0);
		printf("trim_ret %d\nafter %ld\n", r, rss_kb());
	} else if (strcmp(argv[1], "lazyfree") == 0) {
		spike(mib);
		sleep_ms(100);
		printf("lazyfree %ld\nrss %ld\n", smaps_kb("LazyFree:"), rss_kb());
	} else if (strcmp(argv[1], "threads") == 0) {
		printf("threads_before %d\n", nthreads());
		spike(mib);
		sleep_ms(1500);
		printf("threads_after %d\n", nthreads());
	} else if (strcmp(argv[1], "fork") == 0) {
		spike(mib);
		sleep_ms(100);
		printf("parent_threads %d\n", nthreads());
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			long cbase = rss_kb();
			printf("child_");
			spike(mib);
			long cpeak = rss_kb();
			sleep_ms(2500);
			printf("child_base %ld\nchild_peak %ld\nchild_after %ld\nchild_threads %d\n", cbase, cpeak,
			    rss_kb(), nthreads());
			fflush(stdout);
			_exit(0);
		}
		int st = wait_deadline(pid, 60);
		if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return 93;
	} else if (strcmp(argv[1], "survivors") == 0) {
		spike(mib);
		sleep_ms(2000);
		size_t n = ((size_t)mib << 20) / 1200, kept = 0;
		if (n > MAXB)
			n = MAXB;
		for (size_t i = 0; i < n; i++) {
			blocks[i] = malloc(1200);
			if (!blocks[i])
				exit(92);
			memset(blocks[i], 0x3a, 1200);
		}
		long held_kb = rss_kb();
		printf("held %ld\n", held_kb);
		for (size_t i = 0; i < n; i++) {
			if (((uintptr_t)blocks[i] >> 12) % 4 == 0) {
				kept++;
			} else {
				free(blocks[i]);
				blocks[i] = NULL;
			}
		}
		printf("kept %zu of %zu\n", kept, n);
		/* sample until RSS is 32 MiB below "held" (0 ms is always
		 * printed), for at most 30 s: the release's timing depends on
		 * the machine's load, its happening does not */
		for (int t = 0; t <= 30000; t += 50) {
			long rss = rss_kb();
			printf("%d %ld\n", t, rss);
			if (t > 0 && rss < held_kb - 32 * 1024) {
				printf("released_ms %d\n", t);
				break;
			}
			sleep_ms(50);
		}
		for (size_t i = 0; i < n; i++)
			free(blocks[i]);
	} else if (strcmp(argv[1], "threads_rss") == 0) {
		threads_rss((unsigned)mib, argc > 3 ? (size_t)atol(argv[3]) : 1024);
	} else if (strcmp(argv[1], "main_exit") == 0) {
		spike(mib);
		sleep_ms(200);
		printf("threads %d\ndone\n", nthreads());
		fflush(stdout);
		pthread_exit(NULL);
	} else if (strcmp(argv[1], "smallfree") == 0) {
		static char *v[4096];
		for (long r = 0; r < mib; r++) {
			for (int i = 0; i < 4096; i++) {
				v[i] = malloc(64 + (size_t)(i % 4) * 128);
				if (!v[i])
					exit(92);
				v[i][0] = (char)i;
			}
			for (int i = 0; i < 4096; i++)
				free(v[i]);
		}
		printf("pid %ld\n", (long)getpid());
	} else if (strcmp(argv[1], "meta") == 0) {
		meta(mib);
	} else if (strcmp(argv[1], "burstmeta") == 0) {
		burstmeta(mib, argc > 3 ? (size_t)atol(argv[3]) : 4096);
	} else if (strcmp(argv[1], "compact") == 0) {
		compactmeta(mib);
	} else if (strcmp(argv[1], "compactauto") == 0) {
		compactauto(mib);
	} else if (strcmp(argv[1], "compactstress") == 0) {
		compactstress(mib);
	} else if (strcmp(argv[1], "trimloop") == 0) {
		trimloop(mib);
	} else if (strcmp(argv[1], "exited_stacks") == 0) {
		exited_stacks((unsigned)mib);
	} else if (strcmp(argv[1], "fork_thread") == 0) {
		spike(mib);
		fork_thread_mib = mib;
		pthread_t th;
		if (pthread_create(&th, NULL, fork_thread, NULL) != 0 || pthread_join(th, NULL) != 0)
			return 95;
		printf("child_status %d\n", fork_thread_status);
	} else {
		return 2;
	}
	printf("done\n");
	return 0;
}
