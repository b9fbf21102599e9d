/*
 * b_spike -- "give memory back": RSS over time after an allocation spike.
 *
 * Usage: b_spike [idle_seconds] [total_MiB] [threads] [keep_percent]
 *                [interval_ms] [seed]
 *        defaults:   10           1536         4          5
 *                     100           1
 *
 * A sampler thread is started first; every `interval_ms` it reads
 * /proc/self/statm (pread on a descriptor opened before the spike) and
 * records (time, RSS, live bytes, phase) into static arrays.  It never
 * calls the allocator or stdio.
 *
 * Spike: `threads` workers together allocate about `total_MiB` of blocks
 * (about 80% of the bytes in blocks of 16 B .. 64 KiB, log-uniform, 20% in
 * blocks of 256 KiB .. 4 MiB), writing every byte.  Each block is kept alive
 * with probability `keep_percent`%; the workers then check and free all the
 * other blocks, in allocation order, and block on a barrier.
 *
 * Idle: from the moment the last worker is done, NO thread calls the
 * allocator for `idle_seconds` (the main thread sleeps, the workers wait on
 * a barrier, the sampler only does read/nanosleep).  Then the sampler is
 * stopped, the workers check and free the kept blocks and exit.
 *
 * Output (stdout, written at the very end from a static buffer with
 * write(2)):
 *   # t_ms rss_bytes live_bytes phase
 *   # idle_start_ms <ms> idle_ms <ms> allocated_bytes <n> live_bytes <n>
 *   <t_ms> <rss_bytes> <live_bytes> <spike|idle>      (one line per sample)
 * t_ms counts from the sampler start.  live_bytes is the sum of requested
 * sizes of blocks currently allocated by the workers.
 * A corrupted block, a NULL from malloc or a system error exits with 2.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "c_common.h"

#define MAXT 64
#define MAXS 65536

static _Thread_local void *volatile sink; /* per thread: no shared cache line */

/* ---- configuration ---- */
static unsigned nthreads;
static unsigned keep_pct;
static uint64_t budget_per_thread;
static uint64_t seed;

/* ---- shared state ---- */
static atomic_llong live_bytes;
static atomic_ullong alloc_bytes;
static atomic_int phase_idle;
static atomic_int stop_sampler;
static pthread_barrier_t done_bar, release_bar;
static struct timespec t0;

/* ---- samples (static: the sampler never allocates) ---- */
static uint32_t s_ms[MAXS];
static uint64_t s_rss[MAXS];
static int64_t s_live[MAXS];
static uint8_t s_phase[MAXS];
static size_t nsamples;
static int statm_fd = -1;
static long page_size;
static long interval_ms;
static int sampler_error;

struct worker {
	unsigned char **p;
	uint32_t *n;
	unsigned char *keep;
	size_t cap, cnt;
	uint64_t rng;
	unsigned id;
};
static struct worker wk[MAXT];

static void fail(const char *what, unsigned id, size_t n, const void *p) {
	fprintf(stderr, "b_spike: %s (thread %u, size %zu, ptr %p)\n", what, id, n, p);
	exit(2);
}

static inline unsigned char fillbyte(size_t i, unsigned id) { return (unsigned char)(i * 131 + id * 17 + 1); }

static long long ms_since_t0(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)(ts.tv_sec - t0.tv_sec) * 1000 + (ts.tv_nsec - t0.tv_nsec) / 1000000;
}

static uint64_t read_rss(void) {
	char buf[256];
	ssize_t r = pread(statm_fd, buf, sizeof buf - 1, 0);
	if (r <= 0)
		return 0;
	buf[r] = 0;
	const char *q = buf;
	while (*q && *q != ' ')
		q++; /* skip size */
	while (*q == ' ')
		q++;
	uint64_t pages = 0;
	while (*q >= '0' && *q <= '9')
		pages = pages * 10 + (uint64_t)(*q++ - '0');
	return pages * (uint64_t)page_size;
}

static void *sampler(void *arg) {
	(void)arg;
	struct timespec next = t0;
	for (;;) {
		if (nsamples < MAXS) {
			long long t = ms_since_t0();
			s_ms[nsamples] = (uint32_t)(t < 0 ? 0 : t);
			s_rss[nsamples] = read_rss();
			if (!s_rss[nsamples])
				sampler_error = 1;
			s_live[nsamples] = atomic_load(&live_bytes);
			s_phase[nsamples] = (uint8_t)atomic_load(&phase_idle);
			nsamples++;
		}
		if (atomic_load(&stop_sampler))
			break;
		next.tv_nsec += interval_ms * 1000000L;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
	}
	return NULL;
}

static size_t pick_size(struct worker *w, uint64_t total, uint64_t large) {
	uint64_t r = c_rnd(&w->rng);
	if (large * 5 < total) {
		/* 256 KiB .. 4 MiB, log-uniform over the 4 octaves */
		unsigned e = 18 + (unsigned)(r % 4);
		return ((size_t)1 << e) + (size_t)((r >> 8) & (((uint64_t)1 << e) - 1));
	}
	/* 16 B .. 64 KiB, log-uniform over 12 octaves */
	unsigned e = 4 + (unsigned)(r % 12);
	return ((size_t)1 << e) + (size_t)((r >> 8) & (((uint64_t)1 << e) - 1));
}

static void *worker(void *arg) {
	struct worker *w = arg;
	struct worker me = *w; /* work on a private copy: no false sharing */
	uint64_t total = 0, large = 0;
	while (total < budget_per_thread && me.cnt < me.cap) {
		size_t n = pick_size(&me, total, large);
		unsigned char *p = malloc(n);
		if (!p)
			fail("malloc returned NULL", w->id, n, NULL);
		sink = p;
		size_t i = me.cnt++;
		memset(p, fillbyte(i, me.id), n);
		c_stamp(p, n, c_tag(n, i));
		me.p[i] = p;
		me.n[i] = (uint32_t)n;
		me.keep[i] = (c_rnd(&me.rng) % 100) < keep_pct;
		total += n;
		if (n >= (256u << 10))
			large += n;
		atomic_fetch_add(&live_bytes, (long long)n);
	}
	w->cnt = me.cnt;
	w->rng = me.rng;
	atomic_fetch_add(&alloc_bytes, total);
	for (size_t i = 0; i < w->cnt; i++) {
		if (w->keep[i])
			continue;
		size_t n = w->n[i];
		unsigned char *p = w->p[i];
		if (!c_stamp_ok(p, n, c_tag(n, i)) || p[8 + (n - 9) / 2] != fillbyte(i, w->id))
			fail("block corrupted before free", w->id, n, p);
		free(p);
		atomic_fetch_sub(&live_bytes, (long long)n);
	}

	pthread_barrier_wait(&done_bar);    /* spike over */
	pthread_barrier_wait(&release_bar); /* idle over */

	for (size_t i = 0; i < w->cnt; i++) {
		if (!w->keep[i])
			continue;
		size_t n = w->n[i];
		unsigned char *p = w->p[i];
		if (!c_stamp_ok(p, n, c_tag(n, i)))
			fail("kept block corrupted", w->id, n, p);
		unsigned char b = fillbyte(i, w->id);
		for (size_t j = 8; j + 1 < n; j += 509)
			if (p[j] != b)
				fail("kept block payload corrupted", w->id, n, p);
		free(p);
		atomic_fetch_sub(&live_bytes, (long long)n);
	}
	return NULL;
}

/* ---- output without the allocator ---- */
static char out[MAXS * 64 + 512];
static size_t outlen;

static void put_str(const char *s) {
	while (*s && outlen < sizeof out)
		out[outlen++] = *s++;
}

static void put_u64(uint64_t v) {
	char tmp[24];
	int k = 0;
	do {
		tmp[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (k && outlen < sizeof out)
		out[outlen++] = tmp[--k];
}

int main(int argc, char **argv) {
	const char *usage = "[idle_seconds] [total_MiB] [threads] [keep_percent] [interval_ms] [seed]";
	double idle_s = 10.0;
	if (argc > 1) {
		char *end;
		idle_s = strtod(argv[1], &end);
		if (*end || end == argv[1] || idle_s < 0) {
			fprintf(stderr, "usage: %s %s\n", argv[0], usage);
			return 64;
		}
	}
	uint64_t total_mib = c_arg(argc, argv, 2, 1536, usage);
	nthreads = (unsigned)c_arg(argc, argv, 3, 4, usage);
	keep_pct = (unsigned)c_arg(argc, argv, 4, 5, usage);
	interval_ms = (long)c_arg(argc, argv, 5, 100, usage);
	seed = c_arg(argc, argv, 6, 1, usage);
	if (!nthreads || nthreads > MAXT || keep_pct > 100 || interval_ms <= 0) {
		fprintf(stderr,
		    "b_spike: need 1 <= threads <= %d, keep_percent <= 100, "
		    "interval_ms > 0\n",
		    MAXT);
		return 64;
	}
	budget_per_thread = (total_mib << 20) / nthreads;
	page_size = sysconf(_SC_PAGESIZE);
	statm_fd = open("/proc/self/statm", O_RDONLY);
	if (statm_fd < 0) {
		perror("b_spike: /proc/self/statm");
		return 2;
	}

	/* bookkeeping arrays are allocated before the sampler starts */
	for (unsigned t = 0; t < nthreads; t++) {
		struct worker *w = &wk[t];
		w->cap = (size_t)(budget_per_thread / 2048) + 1024;
		w->p = malloc(w->cap * sizeof *w->p);
		w->n = malloc(w->cap * sizeof *w->n);
		w->keep = malloc(w->cap);
		if (!w->p || !w->n || !w->keep)
			fail("cannot allocate bookkeeping arrays", t, w->cap, NULL);
		w->rng = (seed + 1) * 0x9E3779B97F4A7C15ull ^ (t + 1) * 0xD1B54A32D192ED03ull;
		if (!w->rng)
			w->rng = 1;
		w->id = t;
	}
	pthread_barrier_init(&done_bar, NULL, nthreads + 1);
	pthread_barrier_init(&release_bar, NULL, nthreads + 1);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_t samp, th[MAXT];
	if (pthread_create(&samp, NULL, sampler, NULL))
		fail("pthread_create (sampler) failed", 0, 0, NULL);
	for (unsigned t = 0; t < nthreads; t++)
		if (pthread_create(&th[t], NULL, worker, &wk[t]))
			fail("pthread_create failed", t, 0, NULL);

	pthread_barrier_wait(&done_bar);
	/* ---- idle: no allocator calls from here until release ---- */
	struct timespec idle_start;
	clock_gettime(CLOCK_MONOTONIC, &idle_start);
	atomic_store(&phase_idle, 1);
	long long idle_start_ms = ms_since_t0();
	struct timespec idle_end = idle_start;
	long long idle_ns = (long long)(idle_s * 1e9);
	idle_end.tv_sec += (time_t)(idle_ns / 1000000000LL);
	idle_end.tv_nsec += (long)(idle_ns % 1000000000LL);
	if (idle_end.tv_nsec >= 1000000000L) {
		idle_end.tv_nsec -= 1000000000L;
		idle_end.tv_sec++;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &idle_end, NULL) == EINTR)
		;
	atomic_store(&stop_sampler, 1);
	pthread_join(samp, NULL);
	/* ---- idle over ---- */
	pthread_barrier_wait(&release_bar);
	for (unsigned t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
	if (atomic_load(&live_bytes) != 0)
		fail("live byte accounting is off", 0, 0, NULL);
	if (sampler_error)
		fail("could not read /proc/self/statm", 0, 0, NULL);

	/* live bytes during idle = value recorded in the first idle sample */
	int64_t live_idle = 0;
	for (size_t k = 0; k < nsamples; k++)
		if (s_phase[k]) {
			live_idle = s_live[k];
			break;
		}
	put_str("# t_ms rss_bytes live_bytes phase\n# idle_start_ms ");
	put_u64((uint64_t)idle_start_ms);
	put_str(" idle_ms ");
	put_u64((uint64_t)(idle_ns / 1000000));
	put_str(" allocated_bytes ");
	put_u64(atomic_load(&alloc_bytes));
	put_str(" live_bytes ");
	put_u64((uint64_t)live_idle);
	put_str("\n");
	for (size_t k = 0; k < nsamples; k++) {
		put_u64(s_ms[k]);
		put_str(" ");
		put_u64(s_rss[k]);
		put_str(" ");
		put_u64((uint64_t)(s_live[k] < 0 ? 0 : s_live[k]));
		put_str(s_phase[k] ? " idle\n" : " spike\n");
	}
	for (size_t off = 0; off < outlen;) {
		ssize_t w = write(1, out + off, outlen - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return 2;
		}
		off += (size_t)w;
	}
	for (unsigned t = 0; t < nthreads; t++) {
		free(wk[t].p);
		free(wk[t].n);
		free(wk[t].keep);
	}
	return 0;
}
