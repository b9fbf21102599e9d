/*
 * c_xmalloc_test -- xmalloc-test pattern: producer threads allocate
 * batches of blocks, consumer threads free them (every block crosses
 * threads, in batches).
 *
 * Usage: c_xmalloc_test [producers=2] [consumers=2] [batches=100000]
 *                       [batch=64] [seed=1]
 *
 * Producers together make `batches` batches of `batch` blocks (16..256 B,
 * stamped) and push each batch on a shared stack (mutex + condition
 * variable, at most 64 batches queued); consumers pop batches, check and
 * free every block and the batch.  Block and batch counts must match at
 * the end.  A corrupted block or a lost batch exits with status 2.
 */
#include "c_common.h"

static const char *prog = "c_xmalloc_test";
static unsigned long long nbatches, bsize;

typedef struct batch {
	struct batch *next;
	unsigned char *p[];
} batch_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;
static batch_t *stack;
static unsigned depth;
static unsigned long long produced, consumed;

typedef struct {
	uint64_t seed, sum;
} targ_t;

static void *producer(void *arg) {
	targ_t *t = arg;
	crng_t r;
	crng_seed(&r, t->seed);
	for (;;) {
		pthread_mutex_lock(&mu);
		if (produced == nbatches) {
			pthread_mutex_unlock(&mu);
			break;
		}
		produced++;
		pthread_mutex_unlock(&mu);
		batch_t *b = cmalloc(prog, sizeof *b + bsize * sizeof b->p[0]);
		for (size_t i = 0; i < bsize; i++) {
			uint32_t n = (uint32_t)crng_range(&r, 16, 256);
			unsigned char *p = cmalloc(prog, n);
			cstamp(p, n, ctag(n, (uintptr_t)p));
			memcpy(p + 8, &n, 4);
			b->p[i] = p;
			t->sum += n;
		}
		pthread_mutex_lock(&mu);
		while (depth >= 64)
			pthread_cond_wait(&not_full, &mu);
		b->next = stack;
		stack = b;
		depth++;
		pthread_cond_signal(&not_empty);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

static void *consumer(void *arg) {
	targ_t *t = arg;
	for (;;) {
		pthread_mutex_lock(&mu);
		while (!stack && consumed < nbatches)
			pthread_cond_wait(&not_empty, &mu);
		if (!stack) {
			pthread_mutex_unlock(&mu);
			break;
		}
		batch_t *b = stack;
		stack = b->next;
		depth--;
		if (++consumed == nbatches)
			pthread_cond_broadcast(&not_empty);
		pthread_cond_signal(&not_full);
		pthread_mutex_unlock(&mu);
		for (size_t i = 0; i < bsize; i++) {
			uint32_t n;
			memcpy(&n, b->p[i] + 8, 4);
			if (n < 16 || n > 256 || !ccheck(b->p[i], n, ctag(n, (uintptr_t)b->p[i])))
				cfail(prog, "block corrupted");
			t->sum += n;
			free(b->p[i]);
		}
		free(b);
	}
	return NULL;
}

static unsigned nprod;
static targ_t *ta;

static void *role(void *arg) {
	targ_t *t = arg;
	return (unsigned)(t - ta) < nprod ? producer(t) : consumer(t);
}

int main(int argc, char **argv) {
	const char *u = "[producers=2] [consumers=2] [batches=100000] [batch=64] [seed=1]";
	nprod = (unsigned)c_arg(argc, argv, 1, 2, u);
	unsigned ncons = (unsigned)c_arg(argc, argv, 2, 2, u);
	nbatches = c_arg(argc, argv, 3, 100000, u);
	bsize = c_arg(argc, argv, 4, 64, u);
	uint64_t seed = c_arg(argc, argv, 5, 1, u);
	if (!nprod || !ncons || !bsize)
		cfail(prog, "need producers, consumers and batch >= 1");
	ta = cmalloc(prog, (nprod + ncons) * sizeof *ta);
	for (unsigned i = 0; i < nprod + ncons; i++) {
		ta[i].seed = seed * 1000 + i;
		ta[i].sum = 0;
	}
	crun_threads(prog, nprod + ncons, role, ta, sizeof *ta);
	uint64_t made = 0, freed = 0;
	for (unsigned i = 0; i < nprod + ncons; i++)
		*(i < nprod ? &made : &freed) += ta[i].sum;
	if (made != freed || consumed != nbatches || stack)
		cfail(prog, "lost blocks: bytes made and freed differ");
	free(ta);
	printf("%llu\n", (unsigned long long)made);
	return 0;
}
