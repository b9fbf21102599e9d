/*
 * c_shbench -- the sh6bench and sh8bench patterns: threads allocate and
 * free large batches of mixed small sizes; in sh8bench mode part of each
 * batch is freed by another thread.
 *
 * Usage: c_shbench [cross=0] [threads=4] [rounds=40] [batch=20000] [seed=1]
 *
 * Each thread, `rounds` times: allocates `batch` blocks whose sizes cycle
 * through a mixed small range (8..1000 B, 3 in 4 under 200 B), stamping
 * each; frees every other block in allocation order and allocates those
 * slots again; then frees all blocks in reverse order.
 * With cross=1 (sh8bench), the thread instead hands the second half of
 * each batch, just before the final frees, to the next thread (ring order)
 * through a mailbox; each thread frees what it receives.  A corrupted
 * block exits with status 2.  Prints a checksum.
 */
#include "c_common.h"


static const char *prog = "c_shbench";
static unsigned long long rounds, batch;
static unsigned threads, cross;

typedef struct parcel {
	struct parcel *next;
	size_t n;
	unsigned char **p;
} parcel_t;

typedef struct {
	pthread_mutex_t mu;
	parcel_t *head;
	unsigned len;
	uint64_t seed, sum;
	unsigned id;
} targ_t;

static targ_t *ta;

static size_t size_at(crng_t *r) {
	uint64_t x = crng_below(r, 8);
	return x < 6 ? (size_t)crng_range(r, 8, 200) : (size_t)crng_range(r, 201, 1000);
}

/* A block starts with its size and half of a tag derived from size and
 * address; blocks over 8 bytes also end with a tag byte. */
static uint64_t check_free(unsigned char *p) {
	uint32_t n, h;
	memcpy(&n, p, 4);
	memcpy(&h, p + 4, 4);
	uint64_t t = ctag(n, (uintptr_t)p);
	if (n < 8 || n > 1000 || h != (uint32_t)(t >> 32) || (n > 8 && p[n - 1] != (unsigned char)t))
		cfail(prog, "block corrupted");
	free(p);
	return n;
}

static unsigned char *make(crng_t *r) {
	uint32_t n = (uint32_t)size_at(r);
	unsigned char *p = cmalloc(prog, n);
	uint64_t t = ctag(n, (uintptr_t)p);
	uint32_t h = (uint32_t)(t >> 32);
	memcpy(p, &n, 4);
	memcpy(p + 4, &h, 4);
	if (n > 8)
		p[n - 1] = (unsigned char)t;
	return p;
}

static uint64_t drain(targ_t *t) {
	pthread_mutex_lock(&t->mu);
	parcel_t *q = t->head;
	t->head = NULL;
	t->len = 0;
	pthread_mutex_unlock(&t->mu);
	uint64_t sum = 0;
	while (q) {
		parcel_t *nx = q->next;
		for (size_t i = 0; i < q->n; i++)
			sum += check_free(q->p[i]);
		free(q->p);
		free(q);
		q = nx;
	}
	return sum;
}

static void *worker(void *arg) {
	targ_t *t = arg;
	crng_t r;
	crng_seed(&r, t->seed);
	uint64_t sum = 0;
	unsigned char **p = cmalloc(prog, batch * sizeof *p);
	for (unsigned long long k = 0; k < rounds; k++) {
		for (size_t i = 0; i < batch; i++)
			p[i] = make(&r);
		for (size_t i = 0; i < batch; i += 2) {
			sum += check_free(p[i]);
			p[i] = make(&r);
		}
		size_t keep = batch;
		if (cross) {
			keep = batch / 2;
			parcel_t *q = cmalloc(prog, sizeof *q);
			q->n = batch - keep;
			q->p = cmalloc(prog, q->n * sizeof *q->p);
			memcpy(q->p, p + keep, q->n * sizeof *q->p);
			targ_t *to = &ta[(t->id + 1) % threads];
			pthread_mutex_lock(&to->mu);
			q->next = to->head;
			to->head = q;
			to->len++;
			pthread_mutex_unlock(&to->mu);
		}
		for (size_t i = keep; i-- > 0;)
			sum += check_free(p[i]);
		if (cross)
			sum += drain(t);
	}
	free(p);
	t->sum = sum;
	return NULL;
}

int main(int argc, char **argv) {
	const char *u = "[cross=0] [threads=4] [rounds=40] [batch=20000] [seed=1]";
	cross = (unsigned)c_arg(argc, argv, 1, 0, u);
	threads = (unsigned)c_arg(argc, argv, 2, 4, u);
	rounds = c_arg(argc, argv, 3, 40, u);
	batch = c_arg(argc, argv, 4, 20000, u);
	uint64_t seed = c_arg(argc, argv, 5, 1, u);
	if (!threads || batch < 2 || cross > 1)
		cfail(prog, "need cross 0 or 1, threads >= 1 and batch >= 2");
	ta = cmalloc(prog, threads * sizeof *ta);
	for (unsigned i = 0; i < threads; i++) {
		pthread_mutex_init(&ta[i].mu, NULL);
		ta[i].head = NULL;
		ta[i].len = 0;
		ta[i].seed = seed * 1000 + i;
		ta[i].id = i;
	}
	crun_threads(prog, threads, worker, ta, sizeof *ta);
	uint64_t sum = 0;
	for (unsigned i = 0; i < threads; i++)
		sum += ta[i].sum + drain(&ta[i]);
	free(ta);
	printf("%llu\n", (unsigned long long)sum);
	return 0;
}
