/*
 * b_threads -- thread scalability of small-object churn.
 *
 * Usage: b_threads [threads] [ops_per_thread] [live_per_thread] [seed]
 *
 * Each thread fills a private live set of `live_per_thread` blocks
 * (16..512 bytes), then `ops_per_thread` times picks a random live block,
 * checks and frees it and replaces it with a new one.  The work per thread
 * is fixed, so with perfect scaling the run time stays constant while the
 * thread count is <= the number of cores.  All threads start together
 * (barrier).  A corrupted block or a NULL from malloc exits with status 2.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local void *volatile sink; /* per thread: no shared cache line */
static unsigned long long ops, live;
static uint64_t seed;
static pthread_barrier_t start;

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

static void fail(const char *what, unsigned id, size_t n, const void *p)
{
    fprintf(stderr, "b_threads: %s (thread %u, size %zu, ptr %p)\n", what, id, n, p);
    exit(2);
}

static inline void stamp(unsigned char *p, size_t n, uint64_t h)
{
    memcpy(p, &h, 8);
    p[n - 1] = (unsigned char)(h >> 56) ^ 0xA5;
}

static inline int stamp_ok(const unsigned char *p, size_t n, uint64_t h)
{
    uint64_t g;
    memcpy(&g, p, 8);
    return g == h && p[n - 1] == ((unsigned char)(h >> 56) ^ 0xA5);
}

static void *worker(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    uint64_t s = (seed + 1) * 0x9E3779B97F4A7C15ull ^ (id + 1) * 0xD1B54A32D192ED03ull;
    if (!s)
        s = 1;
    unsigned char **p = malloc(live * sizeof *p);
    uint16_t *n = malloc(live * sizeof *n);
    if (!p || !n)
        fail("malloc of live set failed", id, 0, NULL);
    uint64_t salt = (uint64_t)id << 40;
    pthread_barrier_wait(&start);
    for (size_t i = 0; i < live; i++) {
        size_t sz = 16 + (size_t)(rnd(&s) % 497);
        p[i] = malloc(sz);
        if (!p[i])
            fail("malloc returned NULL", id, sz, NULL);
        stamp(p[i], sz, tag_of(sz, salt + i));
        n[i] = (uint16_t)sz;
    }
    for (unsigned long long k = 0; k < ops; k++) {
        uint64_t x = rnd(&s);
        size_t i = (size_t)(x % live);
        if (!stamp_ok(p[i], n[i], tag_of(n[i], salt + i)))
            fail("block corrupted", id, n[i], p[i]);
        free(p[i]);
        size_t sz = 16 + (size_t)((x >> 32) % 497);
        unsigned char *q = malloc(sz);
        if (!q)
            fail("malloc returned NULL", id, sz, NULL);
        sink = q;
        stamp(q, sz, tag_of(sz, salt + i));
        p[i] = q;
        n[i] = (uint16_t)sz;
    }
    for (size_t i = 0; i < live; i++) {
        if (!stamp_ok(p[i], n[i], tag_of(n[i], salt + i)))
            fail("block corrupted at final check", id, n[i], p[i]);
        free(p[i]);
    }
    free(p);
    free(n);
    return NULL;
}

static unsigned long long arg(int argc, char **argv, int i, unsigned long long def)
{
    if (argc <= i)
        return def;
    char *end;
    unsigned long long v = strtoull(argv[i], &end, 0);
    if (*end || end == argv[i]) {
        fprintf(stderr, "usage: %s [threads] [ops_per_thread] [live_per_thread] [seed]\n",
                argv[0]);
        exit(64);
    }
    return v;
}

int main(int argc, char **argv)
{
    unsigned nt = (unsigned)arg(argc, argv, 1, 1);
    ops = arg(argc, argv, 2, 12000000);
    live = arg(argc, argv, 3, 2000);
    seed = arg(argc, argv, 4, 1);
    if (!nt || !live) {
        fprintf(stderr, "b_threads: threads and live_per_thread must be > 0\n");
        return 64;
    }
    pthread_t *th = malloc(nt * sizeof *th);
    if (!th)
        return 2;
    pthread_barrier_init(&start, NULL, nt);
    for (unsigned i = 0; i < nt; i++)
        if (pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i))
            fail("pthread_create failed", i, 0, NULL);
    for (unsigned i = 0; i < nt; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    free(th);
    return 0;
}
