/*
 * remote_child -- cross-thread frees under LD_PRELOAD of the library: every
 * object is allocated by a producer thread and freed by a consumer thread,
 * so it goes back through the remote path (arena.c, "Remote frees").
 *
 * Usage: remote_child PRODUCERS CONSUMERS MESSAGES [large [MAX_WAITING]]
 *
 * With "large", the messages are 20-100 KB blocks of three cached large
 * classes instead (arena.c, "Remote large frees"), stamped at both ends
 * and in their first 256 bytes; the statistics checked after are those
 * of the large classes (curlextents 0, nmalloc - ndalloc = curlextents)
 * and stats.remote (0).  With MAX_WAITING (bytes), stats.remote must also
 * fall to at most that within 3 s of the last thread's exit, before any
 * purge of the child's own (the slack budget: slack_max).
 *
 * Fails (exit 2, one line on stderr) when
 *   - malloc hands out an address that is still live (a region handed out
 *     twice): every live address is kept in a locked open-addressing set;
 *   - a message's contents changed between producer and consumer;
 *   - after every thread has exited (their caches flushed), the main
 *     thread's cache is flushed and a forced purge (malloc_trim) has run,
 *     a bin of the sizes used here still counts regions (curregs != 0: a
 *     miscount) or more slabs than arenas (each keeps the slab it carves
 *     from: more means regions lost on the way back), or nmalloc - ndalloc
 *     != curregs for a bin.
 * The main thread allocates none of these sizes itself (no stdio before
 * the checks).  Prints "remote: ok ..." on success.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);
static mallctl_fn ctl;

/* sizes of classes 48, 80, 112, 192, 224 (16-byte steps to 128, then 4 per
 * doubling): none is used by the main thread or by libc internals here */
static const size_t small_sizes[] = {40, 72, 100, 180, 220};
/* classes 24, 40 and 112 KiB: cached (tcache_max 128 KiB), remote batches */
static const size_t large_sizes[] = {20000, 40000, 100000};
static const size_t *sizes = small_sizes;
static size_t NSIZES = sizeof small_sizes / sizeof small_sizes[0];
static int large;

static void die(const char *msg, uintptr_t v) {
	char buf[160];
	int n = snprintf(buf, sizeof buf, "remote_child: %s (%#lx)\n", msg, (unsigned long)v);
	if (write(2, buf, (size_t)n) < 0)
		_exit(3);
	_exit(2);
}

/* ---- the live set: addresses of objects between malloc and free ---- */
#define SET_BITS 20
#define SET_SIZE ((size_t)1 << SET_BITS)
static uintptr_t *set; /* 0 empty, 1 tombstone */
static pthread_mutex_t set_mu = PTHREAD_MUTEX_INITIALIZER;

static size_t slot_of(uintptr_t p) { return (size_t)((p >> 4) * 0x9E3779B97F4A7C15ull >> (64 - SET_BITS)); }

static void set_add(uintptr_t p) {
	pthread_mutex_lock(&set_mu);
	size_t i = slot_of(p), tomb = SIZE_MAX;
	for (;; i = (i + 1) & (SET_SIZE - 1)) {
		if (set[i] == p)
			die("malloc returned an address that is still live", p);
		if (set[i] == 1 && tomb == SIZE_MAX)
			tomb = i;
		if (set[i] == 0)
			break;
	}
	set[tomb != SIZE_MAX ? tomb : i] = p;
	pthread_mutex_unlock(&set_mu);
}

static void set_del(uintptr_t p) {
	pthread_mutex_lock(&set_mu);
	size_t i = slot_of(p);
	for (; set[i] != p; i = (i + 1) & (SET_SIZE - 1))
		if (set[i] == 0)
			die("freeing an address that is not live", p);
	set[i] = 1;
	pthread_mutex_unlock(&set_mu);
}

/* ---- a bounded queue ---- */
#define QCAP 4096
static void *q[QCAP];
static size_t qhead, qcount;
static unsigned producers_left;
static pthread_mutex_t qmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qnot_full = PTHREAD_COND_INITIALIZER, qnot_empty = PTHREAD_COND_INITIALIZER;

static unsigned long long nmsgs, nprod;

struct msg {
	uint64_t seq;
	uint32_t size, check;
};

static uint32_t check_of(uint64_t seq, uint32_t size) { return (uint32_t)((seq * 0x9E3779B97F4A7C15ull) >> 32) ^ size; }

static void *producer(void *arg) {
	uint64_t id = (uintptr_t)arg, s = id * 7919 + 1;
	void *batch[64];
	unsigned nb = 0;
	for (unsigned long long seq = id; seq < nmsgs; seq += nprod) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		size_t n = sizes[(s >> 33) % NSIZES];
		struct msg *m = malloc(n);
		if (m == NULL)
			die("malloc failed", n);
		set_add((uintptr_t)m);
		m->seq = seq;
		m->size = (uint32_t)n;
		m->check = check_of(seq, (uint32_t)n);
		size_t len = n - sizeof *m;
		memset(m + 1, (int)(seq & 0xff), large && len > 256 ? 256 : len);
		((unsigned char *)(m + 1))[len - 1] = (unsigned char)(seq & 0xff);
		batch[nb++] = m;
		/* bursts of varying length: fills and flushes of every size */
		if (nb == 64 || (s >> 40) % 16 == 0) {
			pthread_mutex_lock(&qmu);
			for (unsigned i = 0; i < nb; i++) {
				while (qcount == QCAP)
					pthread_cond_wait(&qnot_full, &qmu);
				q[(qhead + qcount++) % QCAP] = batch[i];
			}
			pthread_cond_broadcast(&qnot_empty);
			pthread_mutex_unlock(&qmu);
			nb = 0;
		}
	}
	pthread_mutex_lock(&qmu);
	for (unsigned i = 0; i < nb; i++) {
		while (qcount == QCAP)
			pthread_cond_wait(&qnot_full, &qmu);
		q[(qhead + qcount++) % QCAP] = batch[i];
	}
	producers_left--;
	pthread_cond_broadcast(&qnot_empty);
	pthread_mutex_unlock(&qmu);
	return NULL;
}

static unsigned long long recv_count;

static void *consumer(void *arg) {
	(void)arg;
	unsigned long long cnt = 0;
	for (;;) {
		void *got[32];
		size_t n = 0;
		pthread_mutex_lock(&qmu);
		while (qcount == 0 && producers_left)
			pthread_cond_wait(&qnot_empty, &qmu);
		while (n < 32 && qcount) {
			got[n++] = q[qhead];
			qhead = (qhead + 1) % QCAP;
			qcount--;
		}
		pthread_cond_broadcast(&qnot_full);
		pthread_mutex_unlock(&qmu);
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++) {
			struct msg *m = got[i];
			unsigned char *pl = (unsigned char *)(m + 1), b = (unsigned char)(m->seq & 0xff);
			size_t len = m->size - sizeof *m;
			if (m->check != check_of(m->seq, m->size) || pl[0] != b || pl[len - 1] != b)
				die("message corrupted (a region shared by two live objects?)", (uintptr_t)m);
			set_del((uintptr_t)m);
			free(m);
			cnt++;
		}
	}
	__atomic_fetch_add(&recv_count, cnt, __ATOMIC_RELAXED);
	return NULL;
}

static uint64_t ctl_u64(const char *name) {
	uint64_t v = 0;
	size_t vl = sizeof v;
	if (ctl(name, &v, &vl, NULL, 0) == 0)
		return v;
	unsigned u = 0; /* an unsigned value wants its exact size */
	vl = sizeof u;
	if (ctl(name, &u, &vl, NULL, 0) != 0)
		die("xallocctl failed", 0);
	return u;
}

int main(int argc, char **argv) {
	if (argc != 4 && !((argc == 5 || argc == 6) && strcmp(argv[4], "large") == 0))
		die("usage: remote_child PRODUCERS CONSUMERS MESSAGES [large [MAX_WAITING]]", 0);
	if (argc >= 5) {
		large = 1;
		sizes = large_sizes;
		NSIZES = sizeof large_sizes / sizeof large_sizes[0];
	}
	ctl = (mallctl_fn)dlsym(RTLD_DEFAULT, "xallocctl");
	if (ctl == NULL)
		die("xallocctl not found: not run under the library?", 0);
	nprod = strtoull(argv[1], NULL, 0);
	unsigned ncons = (unsigned)strtoul(argv[2], NULL, 0);
	nmsgs = strtoull(argv[3], NULL, 0);
	set = calloc(SET_SIZE, sizeof *set); /* large: no small bin touched */
	pthread_t *th = calloc(nprod + ncons, sizeof *th);
	if (set == NULL || th == NULL || nprod == 0 || ncons == 0)
		die("setup failed", 0);
	producers_left = (unsigned)nprod;
	for (unsigned i = 0; i < ncons; i++)
		if (pthread_create(&th[nprod + i], NULL, consumer, NULL))
			die("pthread_create failed", i);
	for (unsigned i = 0; i < nprod; i++)
		if (pthread_create(&th[i], NULL, producer, (void *)(uintptr_t)i))
			die("pthread_create failed", i);
	for (unsigned i = 0; i < nprod + ncons; i++)
		pthread_join(th[i], NULL);
	if (recv_count != nmsgs)
		die("messages lost in the queue", recv_count);
	if (argc == 6) {
		uint64_t max = strtoull(argv[5], NULL, 0), w = 0;
		for (int i = 0; i < 300; i++) {
			uint64_t e = 1;
			if (ctl("epoch", NULL, NULL, &e, sizeof e) != 0)
				die("epoch failed", 0);
			if ((w = ctl_u64("stats.remote")) <= max)
				break;
			usleep(10000);
		}
		if (w > max)
			die("bytes waiting in remote batches above the bound 3 s after the last free", w);
	}

	/* every worker's cache was flushed at its exit; now the main thread's,
     * then a forced purge (which drains remote batches into slabs) */
	if (ctl("thread.tcache.flush", NULL, NULL, NULL, 0) != 0)
		die("thread.tcache.flush failed", 0);
	malloc_trim(0);
	uint64_t e = 1;
	if (ctl("epoch", NULL, NULL, &e, sizeof e) != 0)
		die("epoch failed", 0);
	if (large) {
		if (ctl_u64("stats.remote") != 0)
			die("bytes still waiting in remote batches after a purge", ctl_u64("stats.remote"));
		for (unsigned k = 0; k < NSIZES; k++) {
			char name[96];
			unsigned j = 0;
			for (;; j++) { /* the large class of sizes[k] */
				snprintf(name, sizeof name, "arenas.lextent.%u.size", j);
				if (ctl_u64(name) >= sizes[k])
					break;
			}
			uint64_t v[3];
			static const char *const rows[] = {"nmalloc", "ndalloc", "curlextents"};
			for (unsigned r = 0; r < 3; r++) {
				snprintf(name, sizeof name, "stats.arenas.4096.lextents.%u.%s", j, rows[r]);
				v[r] = ctl_u64(name);
			}
			if (v[0] < nmsgs / NSIZES / 2)
				die("large statistics count too few allocations", j);
			if (v[0] - v[1] != v[2])
				die("large statistics do not add up: nmalloc - ndalloc != curlextents", j);
			if (v[2] != 0)
				die("large blocks still counted in use after every free", j);
		}
		printf("remote: ok, %llu large messages, %llu producers, %u consumers\n", nmsgs, nprod, ncons);
		return 0;
	}
	uint64_t narenas = ctl_u64("arenas.narenas");
	static const unsigned bins[] = {2, 4, 6, 9, 10}; /* the classes of sizes[] */
	for (unsigned k = 0; k < NSIZES; k++) {
		char name[96];
		uint64_t v[4];
		static const char *const rows[] = {"nmalloc", "ndalloc", "curregs", "curslabs"};
		for (unsigned r = 0; r < 4; r++) {
			snprintf(name, sizeof name, "stats.arenas.4096.bins.%u.%s", bins[k], rows[r]);
			v[r] = ctl_u64(name);
		}
		if (v[0] < nmsgs / NSIZES / 2)
			die("bin statistics count too few allocations", bins[k]);
		if (v[0] - v[1] != v[2])
			die("bin statistics do not add up: nmalloc - ndalloc != curregs", bins[k]);
		if (v[2] != 0)
			die("regions still counted in use after every free", bins[k]);
		/* each arena keeps the slabs it carves from, even when empty:
		 * one per fill slot in use (BIN_NCUR = 4 slots per bin,
		 * src/arena.c "Fill slots") */
		if (v[3] > narenas * 4)
			die("slabs still in use after every free and a purge: regions lost", bins[k]);
	}
	printf("remote: ok, %llu messages, %llu producers, %u consumers\n", nmsgs, nprod, ncons);
	return 0;
}
