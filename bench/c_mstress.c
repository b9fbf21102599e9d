/*
 * c_mstress -- mstress pattern: live sets that grow and shrink in waves,
 * with part of the frees done by other threads.
 *
 * Usage: c_mstress [threads=4] [phases=250] [max_live=20000] [seed=1]
 *
 * Each thread keeps a live set of up to `max_live` blocks (sizes mostly
 * 16..512 B, 1 in 16 up to 8 KiB, 1 in 512 of 64..256 KiB).  A phase
 * picks a random target size, then grows the set to it (malloc, stamp) or
 * shrinks it down to it (random victims).  Of the victims, one in four is
 * not freed but put in a shared transfer pool; at the start of each phase
 * a thread takes the whole pool and frees it, so those blocks die in a
 * thread other than their allocator.  One block in eight is resized with
 * realloc during a phase.  A corrupted block exits with status 2.
 */
#include <stddef.h>

#include "c_common.h"

static const char *prog = "c_mstress";
static unsigned long long phases, max_live;

typedef struct xfer {
	struct xfer *next;
	size_t n;
	unsigned char *p[256];
} xfer_t;

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static xfer_t *pool;

typedef struct {
	uint64_t seed, sum;
} targ_t;

static size_t pick(crng_t *r) {
	uint64_t x = crng_below(r, 512);
	if (x == 0)
		return (size_t)crng_range(r, 65536, 262144);
	if (x < 32)
		return (size_t)crng_range(r, 513, 8192);
	return (size_t)crng_range(r, 16, 512);
}

static unsigned char *make(size_t n) {
	unsigned char *p = cmalloc(prog, n);
	uint32_t n32 = (uint32_t)n;
	cstamp(p, n, ctag(n, (uintptr_t)p));
	memcpy(p + 8, &n32, 4);
	return p;
}

static uint64_t check(unsigned char *p) {
	uint32_t n;
	memcpy(&n, p + 8, 4);
	if (n < 16 || n > 262144 || !ccheck(p, n, ctag(n, (uintptr_t)p)))
		cfail(prog, "block corrupted");
	return n;
}

static uint64_t free_pool(void) {
	pthread_mutex_lock(&pool_mu);
	xfer_t *x = pool;
	pool = NULL;
	pthread_mutex_unlock(&pool_mu);
	uint64_t sum = 0;
	while (x) {
		xfer_t *nx = x->next;
		for (size_t i = 0; i < x->n; i++) {
			sum += check(x->p[i]);
			free(x->p[i]);
		}
		free(x);
		x = nx;
	}
	return sum;
}

static void *worker(void *arg) {
	targ_t *t = arg;
	crng_t r;
	crng_seed(&r, t->seed);
	unsigned char **live = cmalloc(prog, max_live * sizeof *live);
	size_t n = 0;
	uint64_t sum = 0;
	xfer_t *out = NULL;
	for (unsigned long long ph = 0; ph < phases; ph++) {
		sum += free_pool();
		size_t target = (size_t)crng_below(&r, max_live + 1);
		while (n < target) {
			live[n] = make(pick(&r));
			if (crng_below(&r, 8) == 0) { /* resize it, keep the stamp valid */
				size_t m = pick(&r);
				check(live[n]);
				unsigned char *q = realloc(live[n], m);
				if (!q)
					cfail(prog, "realloc returned NULL");
				uint32_t m32 = (uint32_t)m;
				cstamp(q, m, ctag(m, (uintptr_t)q));
				memcpy(q + 8, &m32, 4);
				live[n] = q;
			}
			n++;
		}
		while (n > target) {
			size_t i = (size_t)crng_below(&r, n);
			unsigned char *p = live[i];
			live[i] = live[--n];
			sum += check(p);
			if (crng_below(&r, 4) == 0) {
				if (!out) {
					out = cmalloc(prog, sizeof *out);
					out->n = 0;
				}
				out->p[out->n++] = p;
				if (out->n == 256) {
					pthread_mutex_lock(&pool_mu);
					out->next = pool;
					pool = out;
					pthread_mutex_unlock(&pool_mu);
					out = NULL;
				}
			} else {
				free(p);
			}
		}
	}
	while (n > 0) {
		sum += check(live[--n]);
		free(live[n]);
	}
	if (out) {
		for (size_t i = 0; i < out->n; i++)
			free(out->p[i]);
		free(out);
	}
	free(live);
	t->sum = sum;
	return NULL;
}

int main(int argc, char **argv) {
	const char *u = "[threads=4] [phases=250] [max_live=20000] [seed=1]";
	unsigned threads = (unsigned)c_arg(argc, argv, 1, 4, u);
	phases = c_arg(argc, argv, 2, 250, u);
	max_live = c_arg(argc, argv, 3, 20000, u);
	uint64_t seed = c_arg(argc, argv, 4, 1, u);
	if (!threads || !max_live)
		cfail(prog, "need threads and max_live >= 1");
	targ_t *ta = cmalloc(prog, threads * sizeof *ta);
	for (unsigned i = 0; i < threads; i++)
		ta[i].seed = seed * 1000 + i;
	uint64_t sum = crun_threads_sum(prog, threads, worker, ta, sizeof *ta, offsetof(targ_t, sum));
	sum += free_pool();
	free(ta);
	printf("%llu\n", (unsigned long long)sum);
	return 0;
}
