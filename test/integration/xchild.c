/*
 * xchild: the program the integration tests run under LD_PRELOAD of the real
 * library.  Plain C, standard malloc API only, no Criterion.
 *
 *   xchild MODE [ARGS...]
 *
 * Modes (see usage()):  whoami stress prodcons churn fork oom conf vm init
 * dlopen pages cxx-free.  Exit status 0 means every check passed; a failed check prints
 * "xchild: FAIL: ..." on stderr and exits 1.
 *
 * If XCHILD_EXPECT is set, malloc must come from a shared object whose path
 * contains that string (the harness sets it to the library's file name), else
 * exit 99: a test whose preload silently did not happen must not pass.
 *
 * Every mode also exercises allocation before main (constructor below) and
 * after it (destructor).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILD_NAME "xchild"
#include "child.h"

#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)

/* ------------------------------------------------------------- utilities */

/* A failed check after which the mode can usefully go on: reported now,
 * exit status 1 at the end (see soft_failures). */
static int soft_failures;
static void soft_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void soft_fail(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	fputs("xchild: FAIL: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	soft_failures++;
}

static void sleep_ms(long ms) { sleep_us(ms * 1000); }

static uint64_t mix64(uint64_t x) {
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

#define STEP 0x9E3779B97F4A7C15ULL

static uint64_t block_key(const void *p, size_t n, uint64_t salt) {
	return mix64((uint64_t)(uintptr_t)p ^ ((uint64_t)n << 40) ^ salt);
}

/* Pattern: word i = key + i*STEP, tail bytes from the next word.  p must be
 * 8-aligned (everything malloc returns is). */
static void pat_fill(void *p, size_t n, uint64_t key) {
	uint64_t *w = p;
	size_t nw = n / 8;
	for (size_t i = 0; i < nw; i++)
		w[i] = key + i * STEP;
	uint64_t t = key + nw * STEP;
	unsigned char *b = (unsigned char *)p + nw * 8;
	for (size_t j = 0; j < n % 8; j++)
		b[j] = (unsigned char)(t >> (8 * j));
}

/* First bad offset, or (size_t)-1. */
static size_t pat_check(const void *p, size_t n, uint64_t key) {
	const uint64_t *w = p;
	size_t nw = n / 8;
	for (size_t i = 0; i < nw; i++)
		if (w[i] != key + i * STEP) {
			const unsigned char *b = (const unsigned char *)&w[i];
			uint64_t want = key + i * STEP;
			for (size_t j = 0; j < 8; j++)
				if (b[j] != (unsigned char)(want >> (8 * j)))
					return i * 8 + j;
		}
	uint64_t t = key + nw * STEP;
	const unsigned char *b = (const unsigned char *)p + nw * 8;
	for (size_t j = 0; j < n % 8; j++)
		if (b[j] != (unsigned char)(t >> (8 * j)))
			return nw * 8 + j;
	return (size_t)-1;
}

static size_t first_nonzero(const void *p, size_t n) {
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return i;
	return (size_t)-1;
}

/* Resident set size in bytes, from /proc/self/statm. */
static size_t rss_bytes(void) {
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		fail("cannot open /proc/self/statm");
	unsigned long size, res;
	if (fscanf(f, "%lu %lu", &size, &res) != 2)
		fail("cannot parse /proc/self/statm");
	fclose(f);
	return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

/* A "Name:   N kB" field of /proc/self/status, in bytes. */
static size_t status_field(const char *name) {
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		fail("cannot open /proc/self/status");
	char line[256];
	size_t len = strlen(name), v = 0;
	int found = 0;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, name, len) == 0 && line[len] == ':') {
			v = strtoull(line + len + 1, NULL, 10) * 1024;
			found = 1;
			break;
		}
	fclose(f);
	if (!found)
		fail("no %s in /proc/self/status", name);
	return v;
}

static size_t arg_size(int argc, char **argv, int i, size_t def) {
	return argc > i ? (size_t)strtoull(argv[i], NULL, 0) : def;
}

/* Which object does malloc come from? */
static const char *malloc_owner(void) {
	Dl_info info;
	void *(*volatile m)(size_t) = malloc;
	if (!dladdr((void *)m, &info) || !info.dli_fname)
		return "?";
	return info.dli_fname;
}

/* --------------------------------------------- before main / after main */

enum { NEARLY = 8 };
static void *early_p[NEARLY];
static size_t early_n[NEARLY];
static int early_state; /* 1: ok; negative: which check failed */

__attribute__((constructor(101))) static void early_init(void) {
	static const size_t sz[NEARLY] = {1, 100, 5000, 100000, 4 * MiB + 1, 24, 700, 33000};
	for (int i = 0; i < NEARLY; i++) {
		early_n[i] = sz[i];
		early_p[i] = malloc(sz[i]);
		if (!early_p[i]) {
			early_state = -1 - i;
			return;
		}
		pat_fill(early_p[i], sz[i], block_key(early_p[i], sz[i], 7));
	}
	/* calloc, realloc and aligned allocation before main, too */
	unsigned char *c = calloc(1000, 10);
	if (!c || first_nonzero(c, 10000) != (size_t)-1) {
		early_state = -20;
		return;
	}
	free(c);
	void *old = early_p[1];
	early_p[1] = realloc(early_p[1], 3000);
	if (!early_p[1] || pat_check(early_p[1], 100, block_key(old, 100, 7)) != (size_t)-1) {
		early_state = -21;
		return;
	}
	early_n[1] = 3000;
	pat_fill(early_p[1], 3000, block_key(early_p[1], 3000, 7));
	void *a = NULL;
	if (posix_memalign(&a, 4096, 5000) || ((uintptr_t)a & 4095)) {
		early_state = -22;
		return;
	}
	free(a);
	/* free a few right here */
	free(early_p[5]);
	early_p[5] = NULL;
	free(early_p[6]);
	early_p[6] = NULL;
	early_state = 1;
}

__attribute__((destructor)) static void late_fini(void) {
	/* allocation after main returned must still work */
	for (int i = 0; i < 100; i++) {
		void *p = malloc((size_t)(i * 1000 + 1));
		if (!p) {
			(void)!write(2, "xchild: FAIL: malloc in destructor\n", 35);
			_exit(1);
		}
		memset(p, i, (size_t)(i * 1000 + 1));
		free(p);
	}
}

static int mode_init(int argc, char **argv) {
	if (early_state != 1)
		fail("allocation in constructor failed (state %d)", early_state);
	for (int i = 0; i < NEARLY; i++) {
		if (!early_p[i])
			continue;
		size_t bad = pat_check(early_p[i], early_n[i], block_key(early_p[i], early_n[i], 7));
		if (bad != (size_t)-1)
			fail("block %d (%zu bytes) from constructor corrupted at %zu", i, early_n[i], bad);
		if (malloc_usable_size(early_p[i]) < early_n[i])
			fail("block %d from constructor: usable size %zu < %zu", i, malloc_usable_size(early_p[i]),
			    early_n[i]);
		free(early_p[i]);
	}
	printf("init ok\n");
	return 0;
}

/* ------------------------------------------------------------ mode whoami */

static int mode_whoami(int argc, char **argv) {
	printf("%s\n", malloc_owner());
	return 0;
}

/* ------------------------------------------------------------ mode stress */

enum { NSLOT = 8192 };

struct slot {
	pthread_mutex_t m;
	unsigned char *p;
	size_t n, u;
	uint64_t key;
};

static struct slot slots[NSLOT];
static double stress_end;
static atomic_ulong stress_ops;

static size_t stress_size(uint64_t r) {
	unsigned pct = (unsigned)(r % 100);
	r >>= 8;
	if (pct < 85)
		return 1 + r % 256;
	if (pct < 95)
		return 257 + r % (16 * KiB);
	if (pct < 99)
		return 16 * KiB + r % (240 * KiB);
	return 256 * KiB + r % (768 * KiB + 1);
}

static void slot_check(const struct slot *s, const char *when) {
	size_t u = malloc_usable_size(s->p);
	if (u != s->u)
		fail("%s: block %p of %zu bytes: usable size changed %zu -> %zu", when, (void *)s->p, s->n, s->u, u);
	size_t bad = pat_check(s->p, s->u, s->key);
	if (bad != (size_t)-1)
		fail("%s: block %p (requested %zu, usable %zu) corrupted at offset %zu", when, (void *)s->p, s->n, s->u,
		    bad);
}

static void slot_set(struct slot *s, unsigned char *p, size_t n, uint64_t salt) {
	s->p = p;
	s->n = n;
	s->u = malloc_usable_size(p);
	if (s->u < n)
		fail("usable size %zu < requested %zu", s->u, n);
	if ((uintptr_t)p & 15)
		fail("block %p of %zu bytes not 16-aligned", (void *)p, n);
	s->key = block_key(p, n, salt);
	pat_fill(p, s->u, s->key);
}

static void *stress_worker(void *arg) {
	uint64_t seed = mix64((uintptr_t)arg + 1) | 1;
	unsigned long ops = 0;
	for (;;) {
		if ((ops & 255) == 0 && now() > stress_end)
			break;
		ops++;
		uint64_t r = rnd_next(&seed);
		struct slot *s = &slots[(r >> 40) % NSLOT];
		unsigned op = (unsigned)(r % 20);
		size_t n = stress_size(rnd_next(&seed));
		if (op == 0) {
			/* realloc in place of the slot's block */
			pthread_mutex_lock(&s->m);
			if (s->p) {
				slot_check(s, "before realloc");
				size_t keep = s->u < n ? s->u : n;
				unsigned char *q = realloc(s->p, n);
				if (!q)
					fail("realloc(%zu) failed", n);
				/* the first min(old usable, n) bytes are kept */
				size_t bad = pat_check(q, keep, s->key);
				if (bad != (size_t)-1)
					fail("realloc %zu -> %zu lost byte %zu", s->n, n, bad);
				slot_set(s, q, n, 1);
			}
			pthread_mutex_unlock(&s->m);
			continue;
		}
		unsigned char *p;
		if (op == 1) {
			p = calloc(1, n);
			if (!p)
				fail("calloc(1, %zu) failed", n);
			size_t bad = first_nonzero(p, n);
			if (bad != (size_t)-1)
				fail("calloc(1, %zu) = %p: byte %zu not zero", n, (void *)p, bad);
		} else if (op == 2) {
			size_t a = (size_t)16 << (r >> 20) % 9; /* 16 .. 4096 */
			if ((r >> 30) % 16 == 0)
				a = 64 * KiB;
			void *v = NULL;
			int rc = posix_memalign(&v, a, n);
			if (rc)
				fail("posix_memalign(%zu, %zu) = %d", a, n, rc);
			if ((uintptr_t)v & (a - 1))
				fail("posix_memalign(%zu, %zu) = %p misaligned", a, n, v);
			p = v;
		} else {
			p = malloc(n);
			if (!p)
				fail("malloc(%zu) failed", n);
		}
		struct slot fresh;
		slot_set(&fresh, p, n, 1);
		pthread_mutex_lock(&s->m);
		struct slot old = *s;
		s->p = fresh.p;
		s->n = fresh.n;
		s->u = fresh.u;
		s->key = fresh.key;
		pthread_mutex_unlock(&s->m);
		if (old.p) {
			slot_check(&old, "before free");
			free(old.p);
		}
	}
	atomic_fetch_add(&stress_ops, ops);
	return NULL;
}

static int mode_stress(int argc, char **argv) {
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	int nthreads = (int)arg_size(argc, argv, 2, 4);
	for (int i = 0; i < NSLOT; i++)
		pthread_mutex_init(&slots[i].m, NULL);
	stress_end = now() + secs;
	pthread_t t[64];
	if (nthreads > 64)
		nthreads = 64;
	for (long i = 0; i < nthreads; i++)
		if (pthread_create(&t[i], NULL, stress_worker, (void *)i))
			fail("pthread_create");
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	int live = 0;
	for (int i = 0; i < NSLOT; i++)
		if (slots[i].p) {
			slot_check(&slots[i], "at end");
			free(slots[i].p);
			slots[i].p = NULL;
			live++;
		}
	printf("stress: %d threads, %lu ops, %d live at end\n", nthreads, (unsigned long)atomic_load(&stress_ops),
	    live);
	return 0;
}

/* ---------------------------------------------------------- mode prodcons */

enum { RING = 4096 };
static _Atomic(unsigned char *) ring[RING];
static atomic_size_t ring_head, ring_tail; /* head: next to write; tail: next to read */
static size_t pc_total;
static size_t pc_rss_base;

struct msg_hdr {
	size_t seq, n;
};

static void *producer(void *arg) {
	uint64_t seed = 12345;
	for (size_t i = 0; i < pc_total; i++) {
		uint64_t r = rnd_next(&seed);
		size_t n = (r % 1000 == 0) ? 4096 + (r >> 16) % (60 * KiB) : 32 + (r >> 16) % 480;
		unsigned char *p = malloc(n);
		if (!p)
			fail("producer: malloc(%zu) failed", n);
		struct msg_hdr h = {i, n};
		memcpy(p, &h, sizeof h);
		pat_fill(p + 16, n - 16, block_key(NULL, n, i));
		size_t head = atomic_load_explicit(&ring_head, memory_order_relaxed);
		unsigned spins = 0;
		while (head - atomic_load_explicit(&ring_tail, memory_order_acquire) >= RING)
			if (++spins % 64 == 0)
				sched_yield();
		atomic_store_explicit(&ring[head % RING], p, memory_order_relaxed);
		atomic_store_explicit(&ring_head, head + 1, memory_order_release);
	}
	return NULL;
}

static void *consumer(void *arg) {
	for (size_t i = 0; i < pc_total; i++) {
		size_t tail = atomic_load_explicit(&ring_tail, memory_order_relaxed);
		unsigned spins = 0;
		while (atomic_load_explicit(&ring_head, memory_order_acquire) == tail)
			if (++spins % 64 == 0)
				sched_yield();
		unsigned char *p = atomic_load_explicit(&ring[tail % RING], memory_order_relaxed);
		atomic_store_explicit(&ring_tail, tail + 1, memory_order_release);
		struct msg_hdr h;
		memcpy(&h, p, sizeof h);
		if (h.seq != i)
			fail("consumer: message %zu has sequence number %zu", i, h.seq);
		size_t bad = pat_check(p + 16, h.n - 16, block_key(NULL, h.n, i));
		if (bad != (size_t)-1)
			fail("consumer: message %zu (%zu bytes) corrupted at %zu", i, h.n, bad + 16);
		free(p);
		if (i + 1 == pc_total / 10)
			pc_rss_base = rss_bytes();
	}
	return NULL;
}

static int mode_prodcons(int argc, char **argv) {
	pc_total = arg_size(argc, argv, 1, 10000000);
	pthread_t a, b;
	double t0 = now();
	if (pthread_create(&b, NULL, consumer, NULL) || pthread_create(&a, NULL, producer, NULL))
		fail("pthread_create");
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	size_t end = rss_bytes();
	size_t limit = pc_rss_base + pc_rss_base / 10 + 2 * MiB;
	printf("prodcons: %zu messages in %.2fs, RSS after 10%%: %zu KiB, at end: %zu KiB, limit %zu KiB\n", pc_total,
	    now() - t0, pc_rss_base / 1024, end / 1024, limit / 1024);
	if (end > limit)
		fail("RSS grew from %zu KiB (after 10%% of the messages) to %zu KiB (limit %zu KiB)",
		    pc_rss_base / 1024, end / 1024, limit / 1024);
	return 0;
}

/* ------------------------------------------------------------- mode churn */

static const size_t churn_sizes[] = {24, 200, 3000, 40000, 300000};
#define NCHURN (sizeof churn_sizes / sizeof churn_sizes[0])

struct churn_arg {
	void *keep[2];
	int ok;
};

static void *churn_thread(void *v) {
	struct churn_arg *a = v;
	void *p[NCHURN];
	for (size_t i = 0; i < NCHURN; i++) {
		p[i] = malloc(churn_sizes[i]);
		if (!p[i])
			return NULL;
		pat_fill(p[i], churn_sizes[i], block_key(p[i], churn_sizes[i], 3));
	}
	/* free three here, hand two to the main thread */
	for (size_t i = 0; i < NCHURN; i++)
		if (pat_check(p[i], churn_sizes[i], block_key(p[i], churn_sizes[i], 3)) != (size_t)-1)
			return NULL;
	free(p[0]);
	free(p[2]);
	free(p[4]);
	a->keep[0] = p[1];
	a->keep[1] = p[3];
	a->ok = 1;
	return NULL;
}

static int mode_churn(int argc, char **argv) {
	size_t total = arg_size(argc, argv, 1, 100000);
	size_t mark = total / 20; /* 5000 of 100000 */
	enum { BATCH = 4 };
	size_t base = 0;
	double t0 = now();
	for (size_t done = 0; done < total; done += BATCH) {
		pthread_t t[BATCH];
		struct churn_arg a[BATCH];
		memset(a, 0, sizeof a);
		for (int i = 0; i < BATCH; i++) {
			int rc = pthread_create(&t[i], NULL, churn_thread, &a[i]);
			if (rc)
				fail("pthread_create #%zu: %s", done + (size_t)i, strerror(rc));
		}
		for (int i = 0; i < BATCH; i++) {
			pthread_join(t[i], NULL);
			if (!a[i].ok)
				fail("thread #%zu failed to allocate or saw a corrupted block", done + (size_t)i);
			if (pat_check(a[i].keep[0], churn_sizes[1], block_key(a[i].keep[0], churn_sizes[1], 3)) !=
				(size_t)-1 ||
			    pat_check(a[i].keep[1], churn_sizes[3], block_key(a[i].keep[1], churn_sizes[3], 3)) !=
				(size_t)-1)
				fail("block left by exited thread #%zu corrupted", done + (size_t)i);
			free(a[i].keep[0]);
			free(a[i].keep[1]);
		}
		if (done + BATCH == mark || (done < mark && done + BATCH > mark))
			base = rss_bytes();
	}
	size_t end = rss_bytes();
	printf("churn: %zu threads in %.2fs, RSS after %zu: %zu KiB, at end: %zu KiB\n", total, now() - t0, mark,
	    base / 1024, end / 1024);
	if (end > base + 8 * MiB)
		fail("RSS grew from %zu KiB (after %zu threads) to %zu KiB after %zu threads", base / 1024, mark,
		    end / 1024, total);
	return 0;
}

/* -------------------------------------------------------------- mode fork */

enum { FSLOT = 1024 };
static _Atomic(unsigned char *) fslot[FSLOT];
static atomic_int fork_stop;
static volatile int atfork_child_ok;

/* Block layout for fork mode: [size_t n][pattern over n - 16 bytes]. */
static unsigned char *fblock(size_t n, uint64_t salt) {
	unsigned char *p = malloc(n);
	if (!p)
		fail("malloc(%zu) failed", n);
	memcpy(p, &n, sizeof n);
	pat_fill(p + 16, n - 16, block_key(p, n, salt));
	return p;
}

static void fblock_check(unsigned char *p, uint64_t salt, const char *who) {
	size_t n;
	memcpy(&n, p, sizeof n);
	if (n < 16 || n > 4 * MiB)
		fail("%s: block %p has a bad header (%zu)", who, (void *)p, n);
	size_t bad = pat_check(p + 16, n - 16, block_key(p, n, salt));
	if (bad != (size_t)-1)
		fail("%s: block %p (%zu bytes) corrupted at %zu", who, (void *)p, n, bad + 16);
}

static size_t fsize(uint64_t r) { return (r % 50 == 0) ? 16 + (r >> 8) % (512 * KiB) : 16 + (r >> 8) % 2048; }

static void *hammer(void *arg) {
	uint64_t seed = mix64((uintptr_t)arg + 99) | 1;
	while (!atomic_load_explicit(&fork_stop, memory_order_relaxed)) {
		uint64_t r = rnd_next(&seed);
		unsigned char *p = fblock(fsize(r), 5);
		unsigned char *old = atomic_exchange(&fslot[(r >> 32) % FSLOT], p);
		if (old) {
			fblock_check(old, 5, "parent thread");
			free(old);
		}
	}
	return NULL;
}

static void atfork_prepare(void) {
	void *p = malloc(100);
	if (!p)
		fail("malloc in atfork prepare handler");
	free(p);
}

static void atfork_child(void) {
	unsigned char *p = malloc(1000);
	if (!p)
		return;
	memset(p, 0x4c, 1000);
	p = realloc(p, 100000);
	if (!p)
		return;
	for (int i = 0; i < 1000; i++)
		if (p[i] != 0x4c)
			return;
	void *q = calloc(10, 100);
	if (!q || first_nonzero(q, 1000) != (size_t)-1)
		return;
	free(q);
	free(p);
	atfork_child_ok = 1;
}

static void *child_thread(void *arg) {
	uint64_t seed = mix64((uintptr_t)arg) | 1;
	unsigned char *keep[64] = {0};
	for (int i = 0; i < 3000; i++) {
		uint64_t r = rnd_next(&seed);
		int k = (int)(r >> 50) % 64;
		if (keep[k]) {
			fblock_check(keep[k], 6, "child's thread");
			free(keep[k]);
		}
		keep[k] = fblock(fsize(r), 6);
	}
	for (int k = 0; k < 64; k++)
		if (keep[k])
			free(keep[k]);
	return NULL;
}

static void fork_child_work(int round) {
	if (!atfork_child_ok)
		fail("child %d: malloc in the pthread_atfork child handler failed", round);
	/* blocks the parent's threads left: check and free them */
	for (int i = 0; i < FSLOT; i++) {
		unsigned char *p = atomic_exchange(&fslot[i], NULL);
		if (p) {
			fblock_check(p, 5, "child (parent's block)");
			free(p);
		}
	}
	/* lots of malloc/free in the child's only thread */
	uint64_t seed = mix64((uint64_t)round + 1000) | 1;
	unsigned char *keep[256] = {0};
	for (int i = 0; i < 10000; i++) {
		uint64_t r = rnd_next(&seed);
		int k = (int)(r >> 48) % 256;
		if (keep[k]) {
			fblock_check(keep[k], 6, "child");
			free(keep[k]);
		}
		keep[k] = fblock(fsize(r), 6);
	}
	/* and in new threads of the child */
	pthread_t t[2];
	for (long i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, child_thread, (void *)i))
			fail("child %d: pthread_create", round);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (int k = 0; k < 256; k++)
		free(keep[k]);
}

static int mode_fork(int argc, char **argv) {
	int nforks = (int)arg_size(argc, argv, 1, 50);
	double deadline_s = argc > 2 ? atof(argv[2]) : 20.0;
	/* after secs (0: no limit) stop early, but not before min_forks */
	double secs = argc > 3 ? atof(argv[3]) : 0;
	int min_forks = argc > 4 ? atoi(argv[4]) : nforks;
	if (min_forks < 0 || min_forks > nforks)
		fail("fork: MIN_FORKS must be 0..FORKS");
	double until = now() + secs;
	int done = 0;
	if (pthread_atfork(atfork_prepare, NULL, atfork_child))
		fail("pthread_atfork");
	pthread_t t[4];
	for (long i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, hammer, (void *)i))
			fail("pthread_create");
	int failed = 0;
	for (int round = 0; round < nforks && !failed; round++) {
		if (round >= min_forks && secs > 0 && now() > until)
			break;
		sleep_ms(3);
		fflush(stdout);
		fflush(stderr);
		pid_t pid = fork();
		if (pid < 0)
			fail("fork: %s", strerror(errno));
		if (pid == 0) {
			fork_child_work(round);
			exit(0);
		}
		int status = wait_deadline(pid, deadline_s);
		if (status == -1) {
			fprintf(stderr, "xchild: FAIL: fork child %d did not finish within %.0fs (deadlock?)\n", round,
			    deadline_s);
			failed = 1;
		} else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			fprintf(stderr, "xchild: FAIL: fork child %d: %s\n", round, describe(status));
			failed = 1;
		} else {
			done = round + 1;
		}
	}
	atomic_store(&fork_stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	if (failed)
		_exit(1);
	for (int i = 0; i < FSLOT; i++) {
		unsigned char *p = atomic_exchange(&fslot[i], NULL);
		if (p) {
			fblock_check(p, 5, "parent at end");
			free(p);
		}
	}
	printf("fork: %d children ok (of %d)\n", done, nforks);
	return 0;
}

/* --------------------------------------------------------------- mode oom */

static void **oom_arr;
static size_t oom_cap, oom_limit;
/* What a failed posix_memalign must leave in *memptr. */
#define OOM_SENTINEL ((void *)(uintptr_t)0x5e17)

/* Allocate n-byte blocks until malloc fails; returns the count. */
static size_t fill_until_null(size_t start, size_t n, const char *what) {
	size_t i = start;
	for (;;) {
		if (i >= oom_cap)
			fail("%s: more than %zu allocations fit under the limit", what, oom_cap);
		if ((i - start) * n > oom_limit)
			fail("%s: %zu bytes allocated, more than RLIMIT_AS (%zu) allows", what, (i - start) * n,
			    oom_limit);
		errno = 0;
		unsigned char *p = malloc(n);
		if (!p) {
			if (errno != ENOMEM)
				fail("%s: malloc(%zu) returned NULL with errno %d, not ENOMEM", what, n, errno);
			break;
		}
		p[0] = 1;
		p[n - 1] = 2;
		oom_arr[i++] = p;
	}
	return i - start;
}

static void free_range(size_t from, size_t to) {
	for (size_t i = from; i < to; i++) {
		free(oom_arr[i]);
		oom_arr[i] = NULL;
	}
}

/* Limit the address space to what is mapped now plus headroom, after
 * warming up the allocator and stdio. */
static void oom_setup(size_t headroom) {
	oom_cap = headroom / 32 + 100000;
	oom_arr = mmap(NULL, oom_cap * sizeof(void *), PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (oom_arr == MAP_FAILED)
		fail("mmap of the pointer array");
	/* warm up the allocator (and stdio) before measuring */
	printf("oom: start\n");
	fflush(stdout);
	free(malloc(100));
	free(malloc(100000));
	free(malloc(3 * MiB));

	size_t vm = status_field("VmSize");
	oom_limit = vm + headroom;
	struct rlimit rl = {vm + headroom, vm + headroom};
	if (setrlimit(RLIMIT_AS, &rl))
		fail("setrlimit: %s", strerror(errno));
}

/* 1. 1 MiB, 64 KiB, 32 B blocks until NULL; calloc, realloc(NULL) and
 * aligned requests fail cleanly too.  Returns how many 1 MiB blocks fit. */
static size_t oom_exhaust(size_t headroom) {
	size_t n1 = fill_until_null(0, 1 * MiB, "1 MiB blocks");
	size_t n2 = fill_until_null(n1, 64 * KiB, "64 KiB blocks");
	size_t n3 = fill_until_null(n1 + n2, 32, "32 B blocks");
	if (n1 < 128)
		fail("only %zu 1 MiB blocks fit in %zu MiB of address space", n1, headroom / MiB);
	errno = 0;
	if (calloc(1, 1 * MiB) != NULL || errno != ENOMEM)
		fail("calloc(1 MiB) under exhaustion: not NULL/ENOMEM (errno %d)", errno);
	errno = 0;
	if (realloc(NULL, 2 * MiB) != NULL || errno != ENOMEM)
		fail("realloc(NULL, 2 MiB) under exhaustion: not NULL/ENOMEM (errno %d)", errno);
	void *ap = OOM_SENTINEL;
	int rc = posix_memalign(&ap, 2 * MiB, 1 * MiB);
	if (rc != ENOMEM || ap != OOM_SENTINEL)
		fail("posix_memalign under exhaustion = %d (want ENOMEM), memptr %s", rc,
		    ap == OOM_SENTINEL ? "untouched" : "changed");
	free_range(0, n1 + n2 + n3);

	return n1;
}

/* 2. after freeing everything the same amount fits again, as 1 MiB and as
 * 32 B blocks. */
static void oom_refill(size_t n1) {
	size_t n1b = fill_until_null(0, 1 * MiB, "1 MiB blocks, again");
	printf("oom: after freeing: 1 MiB x %zu\n", n1b);
	if (n1b + 2 < n1)
		soft_fail("after freeing everything only %zu 1 MiB blocks fit again (first time %zu)", n1b, n1);
	free_range(0, n1b);
	size_t n3b = fill_until_null(0, 32, "32 B blocks, again");
	free_range(0, n3b);
	printf("oom: then 32 B x %zu (%zu MiB)\n", n3b, n3b * 32 / MiB);
	if (n3b < n1 * (MiB / 32) / 2)
		soft_fail(
		    "after freeing everything only %zu 32 B blocks (%zu MiB) fit, though %zu MiB fit as 1 MiB blocks",
		    n3b, n3b * 32 / MiB, n1);
}

/* 3. posix_memalign with 2 MiB alignment until ENOMEM, twice. */
static void oom_aligned(void) {
	size_t na[2];
	for (int round = 0; round < 2; round++) {
		size_t i = 0;
		for (;;) {
			if (i >= oom_cap)
				fail("too many aligned blocks");
			void *p = OOM_SENTINEL;
			int rc = posix_memalign(&p, 2 * MiB, 1 * MiB);
			if (rc) {
				if (rc != ENOMEM)
					fail("posix_memalign(2 MiB, 1 MiB) = %d under the limit, want ENOMEM", rc);
				if (p != OOM_SENTINEL)
					fail("failed posix_memalign changed *memptr");
				break;
			}
			if ((uintptr_t)p & (2 * MiB - 1))
				fail("posix_memalign(2 MiB) = %p misaligned", p);
			((char *)p)[0] = 1;
			oom_arr[i++] = p;
		}
		na[round] = i;
		free_range(0, i);
	}
	printf("oom: 2 MiB-aligned blocks: %zu, then %zu\n", na[0], na[1]);
	if (na[0] < 32 || na[1] + 2 < na[0])
		soft_fail("2 MiB-aligned 1 MiB blocks: %zu fit, then %zu", na[0], na[1]);
}

/* 4. a huge block (above any chunk size) fits again, too. */
static void oom_huge(size_t n1) {
	{
		const size_t hs[] = {8 * MiB, 64 * MiB};
		for (size_t k = 0; k < 2; k++) {
			errno = 0;
			unsigned char *h = malloc(hs[k]);
			if (!h) {
				soft_fail(
				    "after freeing everything, malloc(%zu MiB) = NULL (errno %d) with ~%zu MiB free",
				    hs[k] / MiB, errno, n1);
				continue;
			}
			memset(h, 0x33, hs[k]);
			free(h);
		}
	}
}

/* 5a. with the address space refilled, realloc of big and small to ever
 * smaller targets: each either fails with ENOMEM leaving the old block
 * intact, or succeeds keeping the content.  Returns how many failed. */
static int oom_realloc_under_limit(unsigned char **big, size_t bign, unsigned char **small, size_t smalln) {
	const size_t targets[] = {64 * MiB, 32 * MiB, 8 * MiB, 5 * MiB, 2 * MiB};
	int nfailed = 0;
	for (size_t k = 0; k < sizeof targets / sizeof targets[0]; k++) {
		unsigned char **pp[2] = {big, small};
		size_t pn[2] = {bign, smalln};
		uint64_t pk[2] = {0xb16, 0x5a11};
		for (int j = 0; j < 2; j++) {
			errno = 0;
			unsigned char *q = realloc(*pp[j], targets[k]);
			if (q && targets[k] >= 32 * MiB)
				fail("realloc(%zu -> %zu) succeeded with the address space exhausted", pn[j],
				    targets[k]);
			if (q) {
				/* it may fit in place; then the content must have moved with it */
				if (pat_check(q, pn[j] < targets[k] ? pn[j] : targets[k], pk[j]) != (size_t)-1)
					fail("realloc(%zu -> %zu) under the limit succeeded but lost data", pn[j],
					    targets[k]);
				if (targets[k] < pn[j]) {
					/* shrunk: restore the old size for the next round */
					q = realloc(q, pn[j]);
					if (!q)
						fail("realloc back to %zu failed", pn[j]);
					pat_fill(q, pn[j], pk[j]);
				} else {
					q = realloc(q, pn[j]);
					if (!q)
						fail("shrinking realloc failed under the limit");
				}
				*pp[j] = q;
				continue;
			}
			if (errno != ENOMEM)
				fail("realloc(%zu -> %zu) under the limit: NULL with errno %d", pn[j], targets[k],
				    errno);
			size_t bad = pat_check(*pp[j], pn[j], pk[j]);
			if (bad != (size_t)-1)
				fail("failed realloc(%zu -> %zu) damaged the old block at %zu", pn[j], targets[k], bad);
			if (malloc_usable_size(*pp[j]) < pn[j])
				fail("failed realloc(%zu -> %zu) shrank the old block", pn[j], targets[k]);
			nfailed++;
		}
	}
	return nfailed;
}

/* 5. realloc failing under the limit leaves the old block intact; with
 * the fillers gone, growing works again and keeps the content. */
static void oom_realloc(void) {
	size_t bign = 3 * MiB + 5, smalln = 1000;
	unsigned char *big = malloc(bign), *small = malloc(smalln);
	if (!big || !small)
		fail("after freeing everything, malloc(%zu) = %p, malloc(%zu) = %p", bign, (void *)big, smalln,
		    (void *)small);
	pat_fill(big, bign, 0xb16);
	pat_fill(small, smalln, 0x5a11);
	size_t nf = fill_until_null(0, 1 * MiB, "fillers");
	nf += fill_until_null(nf, 64 * KiB, "fillers");
	int nfailed = oom_realloc_under_limit(&big, bign, &small, smalln);
	printf("oom: %d reallocs failed under the limit, old blocks intact\n", nfailed);
	free_range(0, nf);
	errno = 0;
	unsigned char *q = realloc(big, 64 * MiB);
	if (!q) {
		soft_fail("realloc(%zu -> 64 MiB) after freeing the fillers = NULL (errno %d)", bign, errno);
		if (pat_check(big, bign, 0xb16) != (size_t)-1)
			fail("failed realloc to 64 MiB damaged the old block");
		q = big;
	} else {
		if (pat_check(q, bign, 0xb16) != (size_t)-1)
			fail("realloc to 64 MiB lost data");
		memset(q + bign, 0, 64 * MiB - bign);
	}
	free(q);
	q = realloc(small, 20 * KiB);
	if (!q || pat_check(q, smalln, 0x5a11) != (size_t)-1)
		fail("small block damaged, or cannot grow it to 20 KiB");
	free(q);
}

static int mode_oom(int argc, char **argv) {
	size_t headroom = arg_size(argc, argv, 1, 256) * MiB;
	oom_setup(headroom);
	size_t n1 = oom_exhaust(headroom);
	oom_refill(n1);
	oom_aligned();
	oom_huge(n1);
	oom_realloc();
	if (soft_failures)
		return 1;
	printf("oom: ok\n");
	return 0;
}

/* -------------------------------------------------------------- mode conf */

static void *conf_thread(void *arg) {
	unsigned char *keep[128] = {0};
	uint64_t seed = mix64((uintptr_t)arg + 5) | 1;
	for (int i = 0; i < 50000; i++) {
		uint64_t r = rnd_next(&seed);
		int k = (int)((r >> 40) % 128);
		if (keep[k]) {
			fblock_check(keep[k], 8, "conf");
			free(keep[k]);
		}
		keep[k] = fblock(fsize(r), 8);
	}
	for (int k = 0; k < 128; k++)
		free(keep[k]);
	return NULL;
}

/* ---- pages: threads of one arena fill from pages of their own ---------- */

#define PG_THREADS 3
#define PG_ROUNDS 8
#define PG_PER 40
#define PG_SIZE 48
static void *pg_blocks[PG_THREADS][PG_ROUNDS * PG_PER];
static _Atomic unsigned pg_turn, pg_done;

static void pg_wait(_Atomic unsigned *v, unsigned want) {
	while (atomic_load(v) < want) {
		struct timespec ts = {0, 100000};
		nanosleep(&ts, NULL);
	}
}

static void *pg_worker(void *arg) {
	unsigned id = (unsigned)(uintptr_t)arg;
	for (unsigned r = 0; r < PG_ROUNDS; r++) {
		pg_wait(&pg_turn, r * PG_THREADS + id);
		for (unsigned i = 0; i < PG_PER; i++) {
			unsigned char *p = malloc(PG_SIZE);
			if (p == NULL)
				fail("malloc(%d) returned NULL", PG_SIZE);
			memset(p, (int)id + 1, PG_SIZE);
			pg_blocks[id][r * PG_PER + i] = p;
		}
		atomic_fetch_add(&pg_turn, 1);
	}
	/* every thread stays until all have allocated */
	atomic_fetch_add(&pg_done, 1);
	pg_wait(&pg_done, PG_THREADS);
	for (unsigned i = 0; i < PG_ROUNDS * PG_PER; i++) {
		unsigned char *p = pg_blocks[id][i];
		if (p[0] != id + 1 || p[PG_SIZE - 1] != id + 1)
			fail("a block of thread %u was overwritten", id);
		free(p);
	}
	return NULL;
}

static int pg_cmp(const void *a, const void *b) {
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

/* PG_THREADS threads, alive together, allocate PG_PER blocks each in
 * turns, PG_ROUNDS times; then no page may hold blocks of two of them.
 * Run with XALLOC_CONF=narenas:1 so that they share an arena: each must
 * fill from slabs of its own (src/arena.c, "Fill slots"). */
static int mode_pages(int argc, char **argv) {
	(void)argc;
	(void)argv;
	pthread_t th[PG_THREADS];
	for (unsigned i = 0; i < PG_THREADS; i++)
		if (pthread_create(&th[i], NULL, pg_worker, (void *)(uintptr_t)i) != 0)
			fail("pthread_create failed");
	for (unsigned i = 0; i < PG_THREADS; i++)
		pthread_join(th[i], NULL);
	enum { N = PG_THREADS * PG_ROUNDS * PG_PER };
	static uintptr_t key[N]; /* page << 2 | thread */
	unsigned n = 0;
	for (unsigned t = 0; t < PG_THREADS; t++)
		for (unsigned i = 0; i < PG_ROUNDS * PG_PER; i++)
			key[n++] = ((uintptr_t)pg_blocks[t][i] >> 12) << 2 | t;
	qsort(key, n, sizeof *key, pg_cmp);
	unsigned pages = 0, shared = 0;
	for (unsigned i = 0; i < n;) {
		unsigned j = i, mixed = 0;
		while (j < n && key[j] >> 2 == key[i] >> 2)
			mixed |= (key[j++] & 3) != (key[i] & 3);
		pages++;
		shared += mixed;
		i = j;
	}
	printf("pages: %u pages, %u with blocks of two threads\n", pages, shared);
	if (shared)
		fail("%u of %u pages hold blocks of two threads of one arena", shared, pages);
	return 0;
}

static int mode_conf(int argc, char **argv) {
	pthread_t t[3];
	for (long i = 0; i < 3; i++)
		if (pthread_create(&t[i], NULL, conf_thread, (void *)i))
			fail("pthread_create");
	conf_thread((void *)9);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	printf("conf ok\n");
	return 0;
}

/* ---------------------------------------------------------------- mode vm */

enum { VM_THREADS = 128 };
#define VM_STACK (256 * KiB)
static pthread_barrier_t vm_barrier;

static void *vm_thread(void *arg) {
	unsigned char *p = malloc(1024);
	if (!p)
		fail("malloc(1 KiB) in thread");
	memset(p, 0x1b, 1024);
	pthread_barrier_wait(&vm_barrier); /* all allocated: main measures */
	pthread_barrier_wait(&vm_barrier); /* main done */
	for (int i = 0; i < 1024; i++)
		if (p[i] != 0x1b)
			fail("thread's block corrupted");
	free(p);
	return NULL;
}

static int mode_vm(int argc, char **argv) {
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	if (pthread_attr_setstacksize(&attr, VM_STACK))
		fail("pthread_attr_setstacksize");
	size_t guard = 0;
	pthread_attr_getguardsize(&attr, &guard);
	/* warm up: the main thread's allocator state, and one thread */
	free(malloc(1024));
	pthread_barrier_init(&vm_barrier, NULL, 2);
	pthread_t t0;
	if (pthread_create(&t0, &attr, vm_thread, NULL))
		fail("pthread_create");
	pthread_barrier_wait(&vm_barrier);
	pthread_barrier_wait(&vm_barrier);
	pthread_join(t0, NULL);
	pthread_barrier_destroy(&vm_barrier);

	size_t before = status_field("VmSize");
	pthread_barrier_init(&vm_barrier, NULL, VM_THREADS + 1);
	pthread_t t[VM_THREADS];
	for (int i = 0; i < VM_THREADS; i++) {
		int rc = pthread_create(&t[i], &attr, vm_thread, NULL);
		if (rc)
			fail("pthread_create #%d: %s", i, strerror(rc));
	}
	pthread_barrier_wait(&vm_barrier);
	size_t during = status_field("VmSize");
	size_t rss = status_field("VmRSS");
	pthread_barrier_wait(&vm_barrier);
	for (int i = 0; i < VM_THREADS; i++)
		pthread_join(t[i], NULL);
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t stacks = (size_t)VM_THREADS * (VM_STACK + guard + pg);
	size_t grown = during > before ? during - before : 0;
	size_t extra = grown > stacks ? grown - stacks : 0;
	printf("vm: VmSize %zu KiB -> %zu KiB with %d threads; stacks %zu KiB; beyond stacks %zu KiB; VmRSS %zu KiB\n",
	    before / 1024, during / 1024, VM_THREADS, stacks / 1024, extra / 1024, rss / 1024);
	if (extra >= 64 * MiB)
		fail("%d threads with 1 KiB each added %zu KiB of address space beyond their stacks (limit 64 MiB)",
		    VM_THREADS, extra / 1024);
	return 0;
}

/* ------------------------------------------------------------ mode dlopen */

static int dlopen_once(const char *path, int round) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		fail("dlopen(%s): %s", path, dlerror());
	int (*check)(void) = (int (*)(void))dlsym(h, "dlmod_check");
	void *(*alloc)(size_t) = (void *(*)(size_t))dlsym(h, "dlmod_alloc");
	void (*release)(void *) = (void (*)(void *))dlsym(h, "dlmod_free");
	const char *(*owner)(void) = (const char *(*)(void))dlsym(h, "dlmod_malloc_owner");
	if (!check || !alloc || !release || !owner)
		fail("dlsym: %s", dlerror());
	int rc = check();
	if (rc)
		fail("round %d: dlmod_check() = %d (constructor allocation lost or broken)", round, rc);
	const char *o = owner();
	if (strcmp(o, malloc_owner()) != 0)
		fail("the module's malloc comes from %s, the program's from %s", o, malloc_owner());
	/* blocks cross between the module and the program both ways */
	unsigned char *a = alloc(5000);
	if (!a)
		fail("dlmod_alloc");
	memset(a, 7, 5000);
	a = realloc(a, 50000);
	if (!a)
		fail("realloc of a module block");
	free(a);
	unsigned char *b = malloc(70000);
	if (!b)
		fail("malloc");
	memset(b, 8, 70000);
	release(b);
	if (dlclose(h))
		fail("dlclose: %s", dlerror());
	return 0;
}

static void *dlopen_thread(void *arg) {
	dlopen_once(arg, 100);
	return NULL;
}

static int mode_dlopen(int argc, char **argv) {
	if (argc < 2)
		fail("usage: xchild dlopen PATH");
	for (int round = 0; round < 3; round++)
		dlopen_once(argv[1], round);
	pthread_t t;
	if (pthread_create(&t, NULL, dlopen_thread, argv[1]))
		fail("pthread_create");
	pthread_join(t, NULL);
	printf("dlopen ok: malloc from %s\n", malloc_owner());
	return 0;
}

/* ---------------------------------------------------------- mode cxx-free */

/* libstdc++'s operator new/delete sit on malloc/free: blocks from new are
 * xalloc's, and may be released with free (and malloc'ed ones with delete),
 * including the over-aligned and sized variants.  Plain C: libstdc++ is
 * dlopen'ed and its operators called through their mangled names. */
static int mode_cxx_free(int argc, char **argv) {
	void *h = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL);
	if (!h)
		fail("dlopen(libstdc++.so.6): %s", dlerror());
	void *(*op_new)(size_t) = (void *(*)(size_t))dlsym(h, "_Znwm");
	void *(*op_new_arr)(size_t) = (void *(*)(size_t))dlsym(h, "_Znam");
	void (*op_del)(void *) = (void (*)(void *))dlsym(h, "_ZdlPv");
	void (*op_del_arr)(void *) = (void (*)(void *))dlsym(h, "_ZdaPv");
	void (*op_del_sized)(void *, size_t) = (void (*)(void *, size_t))dlsym(h, "_ZdlPvm");
	void *(*op_new_al)(size_t, size_t) = (void *(*)(size_t, size_t))dlsym(h, "_ZnwmSt11align_val_t");
	void (*op_del_al)(void *, size_t) = (void (*)(void *, size_t))dlsym(h, "_ZdlPvSt11align_val_t");
	void (*op_del_sized_al)(void *, size_t, size_t) =
	    (void (*)(void *, size_t, size_t))dlsym(h, "_ZdlPvmSt11align_val_t");
	if (!op_new || !op_new_arr || !op_del || !op_del_arr || !op_del_sized || !op_new_al || !op_del_al ||
	    !op_del_sized_al)
		fail("libstdc++ operators not found: %s", dlerror());
	static const size_t sz[] = {1, 8, 24, 100, 1000, 4096, 5000, 70000, 300000, 2 * MiB + 1, 9 * MiB};
	for (int round = 0; round < 40; round++)
		for (size_t k = 0; k < sizeof sz / sizeof sz[0]; k++) {
			size_t n = sz[k];
			unsigned char *p = op_new(n);
			if (malloc_usable_size(p) < n)
				fail("operator new(%zu): malloc_usable_size %zu", n, malloc_usable_size(p));
			pat_fill(p, n, 1);
			p = realloc(p, n + 100); /* new'ed block through realloc, then free */
			if (!p || pat_check(p, n, 1) != (size_t)-1)
				fail("realloc of an operator new block (%zu) lost data", n);
			free(p);
			p = malloc(n);
			if (!p)
				fail("malloc(%zu)", n);
			memset(p, 2, n);
			op_del(p);
			p = op_new_arr(n);
			memset(p, 3, n);
			op_del_arr(p);
			p = op_new(n);
			memset(p, 4, n);
			op_del_sized(p, n);
			for (size_t a = 32; a <= 64 * KiB; a *= 8) {
				p = op_new_al(n, a);
				if ((uintptr_t)p & (a - 1))
					fail("operator new(%zu, align_val_t(%zu)) = %p misaligned", n, a, (void *)p);
				if (malloc_usable_size(p) < n)
					fail("aligned operator new(%zu): usable %zu", n, malloc_usable_size(p));
				memset(p, 5, n);
				if (a == 32)
					op_del_al(p, a);
				else if (a == 256)
					op_del_sized_al(p, n, a);
				else
					free(p);
			}
		}
	printf("cxx-free ok\n");
	return 0;
}

/* -------------------------------------------------------------------- main */

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} modes[] = {
    {"whoami", mode_whoami, "print the file that malloc comes from"},
    {"init", mode_init, "check the blocks allocated in a constructor before main"},
    {"stress", mode_stress, "[SECONDS [THREADS]]: random malloc/calloc/realloc/posix_memalign, cross-thread free"},
    {"prodcons", mode_prodcons, "[MESSAGES]: producer/consumer, RSS must stay flat"},
    {"churn", mode_churn, "[THREADS]: create and join threads 4 at a time, RSS must stay flat"},
    {"fork", mode_fork, "[FORKS [DEADLINE_S [SECS MIN_FORKS]]]: fork while 4 threads allocate"},
    {"oom", mode_oom, "[HEADROOM_MIB]: exhaust RLIMIT_AS, recover"},
    {"conf", mode_conf, "a little work in 4 threads (for XALLOC_CONF checks)"},
    {"vm", mode_vm, "address space used by 128 threads"},
    {"dlopen", mode_dlopen, "PATH: dlopen a module that allocates in its constructor"},
    {"pages", mode_pages, "threads of one arena allocate in turns: no page holds blocks of two (narenas:1)"},
    {"cxx-free", mode_cxx_free, "libstdc++ operator new/delete (plain, array, sized, aligned) mixed with malloc/free"},
};

static void usage(void) {
	fprintf(stderr, "usage: xchild MODE [ARGS]\n");
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
		fprintf(stderr, "  %-9s %s\n", modes[i].name, modes[i].help);
}

int main(int argc, char **argv) {
	if (argc < 2) {
		usage();
		return 2;
	}
	const char *expect = getenv("XCHILD_EXPECT");
	if (expect && *expect && !strstr(malloc_owner(), expect)) {
		fprintf(stderr, "xchild: malloc comes from %s, not from %s: LD_PRELOAD did not take effect\n",
		    malloc_owner(), expect);
		return 99;
	}
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
		if (strcmp(argv[1], modes[i].name) == 0)
			return modes[i].fn(argc - 1, argv + 1);
	usage();
	return 2;
}
