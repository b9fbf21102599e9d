/*
 * b_interleave -- no allocator involved: what it costs two threads to write
 * blocks that are interleaved in memory (bench/README.md, "glibc-thread:
 * threads that share an arena").
 *
 * Usage: b_interleave [granule=256] [iterations=40000000]
 *
 * Two threads each own 1,024 blocks of 16 bytes (16 KiB).  The blocks of
 * both lie in one 4 MiB buffer, in alternate runs of `granule` bytes:
 * thread 0's first granule, thread 1's first, thread 0's second, ... (a
 * granule of 64 puts 4 blocks of one thread in a cache line and none of
 * the other's; 4096, a page each).  Each iteration picks a block of its
 * thread at random (xorshift), reads its first byte and writes its first
 * and last.  Time it with /usr/bin/time or cpu_compare.py (`none` as the
 * library): the difference between granules is what the memory system
 * charges for the two threads' blocks sharing pages or lines.  Prints a
 * checksum.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBLOCKS 1024
#define BLOCK 16
#define BUF ((size_t)4 << 20)

static unsigned char *buf;
static size_t granule;
static unsigned long long iterations;

typedef struct {
	unsigned id;
	uint64_t sum;
} targ_t;

static void *worker(void *arg) {
	targ_t *a = arg;
	unsigned char *blk[NBLOCKS];
	for (size_t k = 0; k < NBLOCKS; k++) {
		size_t off = k * BLOCK;
		blk[k] = buf + (2 * (off / granule) + a->id) * granule + off % granule;
	}
	uint64_t x = 88172645463325252ull + a->id, s = 0;
	for (unsigned long long i = 0; i < iterations; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		unsigned char *b = blk[x % NBLOCKS];
		s += b[0];
		b[0] = (unsigned char)x;
		b[BLOCK - 1] = (unsigned char)(x >> 8);
	}
	a->sum = s;
	return NULL;
}

int main(int argc, char **argv) {
	granule = argc > 1 ? strtoul(argv[1], NULL, 0) : 256;
	iterations = argc > 2 ? strtoull(argv[2], NULL, 0) : 40000000ull;
	if (granule < BLOCK || granule % BLOCK || 2 * (size_t)NBLOCKS * BLOCK > BUF) {
		fprintf(stderr, "b_interleave: granule must be a multiple of %d\n", BLOCK);
		return 2;
	}
	buf = aligned_alloc(4096, BUF);
	if (buf == NULL) {
		fprintf(stderr, "b_interleave: out of memory\n");
		return 2;
	}
	memset(buf, 0, BUF);
	pthread_t th[2];
	targ_t ta[2] = {{0, 0}, {1, 0}};
	for (unsigned i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, worker, &ta[i]) != 0) {
			fprintf(stderr, "b_interleave: pthread_create failed\n");
			return 2;
		}
	for (unsigned i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	printf("%llu\n", (unsigned long long)(ta[0].sum + ta[1].sum));
	free(buf);
	return 0;
}
