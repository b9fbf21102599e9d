/*
 * b_larson -- larson-style server simulation.
 *
 * Usage: b_larson [threads] [slots] [rounds] [generations] [seed]
 *
 * `threads` independent chains run concurrently.  Each chain owns an array
 * of `slots` blocks.  A thread of the chain performs `rounds` replacements
 * (pick a random slot, check and free its block, malloc a new block of
 * random size 8..1024 and stamp it), then creates a NEW detached thread,
 * hands it the array and exits.  The successor therefore frees blocks that
 * were allocated by a thread that no longer exists.  After `generations`
 * threads per chain, the main thread checks and frees whatever is left.
 * A corrupted block or a NULL from malloc exits with status 2.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local void *volatile sink; /* per thread: no shared cache line */

static unsigned long long nslots, nrounds, ngens;

static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static unsigned chains_done;
static pthread_attr_t detached;

struct chain {
    unsigned char **slot;
    uint32_t *size;
    uint64_t rng;
    unsigned long long gen;
    unsigned id;
};

static inline uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static inline uint64_t tag_of(size_t n, uint64_t k)
{
    uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ull ^ (k + 0x632BE59BD9B4E019ull);
    h ^= h >> 29;
    return h * 0xBF58476D1CE4E5B9ull;
}

static void fail(const char *what, const struct chain *c, size_t n, const void *p)
{
    fprintf(stderr, "b_larson: %s (chain %u, generation %llu, size %zu, ptr %p)\n",
            what, c->id, c->gen, n, p);
    exit(2);
}

static inline void stamp(unsigned char *p, size_t n, uint64_t h)
{
    memcpy(p, &h, 8);
    if (n > 8)
        p[n - 1] = (unsigned char)(h >> 56) ^ 0xA5;
}

static inline int stamp_ok(const unsigned char *p, size_t n, uint64_t h)
{
    uint64_t g;
    memcpy(&g, p, 8);
    return g == h && (n <= 8 || p[n - 1] == ((unsigned char)(h >> 56) ^ 0xA5));
}

static void *worker(void *arg)
{
    struct chain *c = arg;
    uint64_t rng = c->rng; /* local copy: no false sharing between chains */
    for (unsigned long long r = 0; r < nrounds; r++) {
        uint64_t x = rnd(&rng);
        size_t i = (size_t)(x % nslots);
        unsigned char *p = c->slot[i];
        if (p) {
            size_t n = c->size[i];
            if (!stamp_ok(p, n, tag_of(n, i)))
                fail("block corrupted", c, n, p);
            free(p);
        }
        size_t n = 8 + (size_t)((x >> 32) % 1017);
        p = malloc(n);
        if (!p)
            fail("malloc returned NULL", c, n, NULL);
        sink = p;
        stamp(p, n, tag_of(n, i));
        c->slot[i] = p;
        c->size[i] = (uint32_t)n;
    }
    c->rng = rng;
    c->gen++;
    if (c->gen < ngens) {
        pthread_t t;
        int e = pthread_create(&t, &detached, worker, c);
        if (e) {
            fprintf(stderr, "b_larson: pthread_create failed: %s\n", strerror(e));
            exit(2);
        }
    } else {
        pthread_mutex_lock(&done_mu);
        chains_done++;
        pthread_cond_signal(&done_cv);
        pthread_mutex_unlock(&done_mu);
    }
    return NULL;
}

static unsigned long long arg(int argc, char **argv, int i, unsigned long long def)
{
    if (argc <= i)
        return def;
    char *end;
    unsigned long long v = strtoull(argv[i], &end, 0);
    if (*end || end == argv[i]) {
        fprintf(stderr, "usage: %s [threads] [slots] [rounds] [generations] [seed]\n",
                argv[0]);
        exit(64);
    }
    return v;
}

int main(int argc, char **argv)
{
    unsigned nthreads = (unsigned)arg(argc, argv, 1, 2);
    nslots = arg(argc, argv, 2, 1000);
    nrounds = arg(argc, argv, 3, 30000);
    ngens = arg(argc, argv, 4, 600);
    uint64_t seed = arg(argc, argv, 5, 1);
    if (nthreads == 0 || nslots == 0 || ngens == 0) {
        fprintf(stderr, "b_larson: threads, slots and generations must be > 0\n");
        return 64;
    }

    pthread_attr_init(&detached);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);

    struct chain *ch = calloc(nthreads, sizeof *ch);
    if (!ch)
        return 2;
    for (unsigned t = 0; t < nthreads; t++) {
        ch[t].slot = calloc(nslots, sizeof *ch[t].slot);
        ch[t].size = calloc(nslots, sizeof *ch[t].size);
        if (!ch[t].slot || !ch[t].size) {
            fprintf(stderr, "b_larson: cannot allocate slot arrays\n");
            return 2;
        }
        ch[t].rng = (seed + 1) * 0x9E3779B97F4A7C15ull ^ (t + 1) * 0xD1B54A32D192ED03ull;
        if (!ch[t].rng)
            ch[t].rng = 1;
        ch[t].id = t;
    }
    for (unsigned t = 0; t < nthreads; t++) {
        pthread_t th;
        int e = pthread_create(&th, &detached, worker, &ch[t]);
        if (e) {
            fprintf(stderr, "b_larson: pthread_create failed: %s\n", strerror(e));
            return 2;
        }
    }
    pthread_mutex_lock(&done_mu);
    while (chains_done < nthreads)
        pthread_cond_wait(&done_cv, &done_mu);
    pthread_mutex_unlock(&done_mu);

    /* the main thread frees what the last generation left behind */
    for (unsigned t = 0; t < nthreads; t++) {
        for (size_t i = 0; i < nslots; i++) {
            unsigned char *p = ch[t].slot[i];
            if (!p)
                continue;
            size_t n = ch[t].size[i];
            if (!stamp_ok(p, n, tag_of(n, i)))
                fail("block corrupted at final check", &ch[t], n, p);
            free(p);
        }
        free(ch[t].slot);
        free(ch[t].size);
    }
    free(ch);
    return 0;
}
