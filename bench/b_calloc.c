/*
 * b_calloc.c -- calloc of big blocks that were used and freed before.
 *
 *   b_calloc sparse [MiB=64] [rounds=20] [stride=65536]
 *       calloc one MiB-sized table, check and touch one byte per stride,
 *       free it; rounds times.  A sparse table (hash map, bitmap) should
 *       cost the pages it touches, not its size.
 *   b_calloc dense [blocks=16] [MiB=8] [rounds=10]
 *       rounds of: free the previous round's blocks, calloc blocks x MiB,
 *       write every byte (after checking one word per 256 bytes is zero).
 *   b_calloc mid [blocks=64] [rounds=200] [seed=1]
 *       the same with random sizes from 64 KiB to 4 MiB (log-uniform),
 *       every byte written.
 *
 * Prints one line: "<mode> time_ms T peak_rss_kb R" where T is the time of
 * the calloc/touch/free loop and R the largest /proc/self/statm RSS seen
 * while blocks were live (read after each round's touches).  A non-zero
 * byte from calloc prints a diagnostic and exits with status 2.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "c_common.h"

static long peak_kb;

static void sample_rss(void) {
	FILE *f = fopen("/proc/self/statm", "r");
	long size, res;
	if (f && fscanf(f, "%ld %ld", &size, &res) == 2) {
		long kb = res * (sysconf(_SC_PAGESIZE) / 1024);
		if (kb > peak_kb)
			peak_kb = kb;
	}
	if (f)
		fclose(f);
}

static double now_ms(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void fail(const char *what, size_t size, size_t off) {
	fprintf(stderr, "b_calloc: %s (block of %zu bytes, offset %zu)\n", what, size, off);
	exit(2);
}

static unsigned char *get(size_t size) {
	unsigned char *p = calloc(1, size);
	if (p == NULL)
		fail("calloc returned NULL", size, 0);
	return p;
}

/* Check one word per 256 bytes is zero, then write every byte. */
static void dense_touch(unsigned char *p, size_t size, unsigned char v) {
	for (size_t i = 0; i + sizeof(uint64_t) <= size; i += 256) {
		uint64_t w;
		memcpy(&w, p + i, sizeof w);
		if (w != 0)
			fail("calloc memory not zero", size, i);
	}
	if (p[size - 1] != 0)
		fail("calloc memory not zero", size, size - 1);
	memset(p, v, size);
}

static uint64_t rng = 1;

int main(int argc, char **argv) {
	const char *usage = "sparse [MiB=64] [rounds=20] [stride=65536] | dense [blocks=16] [MiB=8] [rounds=10] | "
			    "mid [blocks=64] [rounds=200] [seed=1]";
	if (argc < 2 || (strcmp(argv[1], "sparse") && strcmp(argv[1], "dense") && strcmp(argv[1], "mid"))) {
		fprintf(stderr,
		    "usage: b_calloc sparse [MiB=64] [rounds=20] [stride=65536]\n"
		    "       b_calloc dense [blocks=16] [MiB=8] [rounds=10]\n"
		    "       b_calloc mid [blocks=64] [rounds=200] [seed=1]\n");
		return 1;
	}
	double t0 = now_ms();
	if (!strcmp(argv[1], "sparse")) {
		size_t size = (size_t)c_arg(argc, argv, 2, 64, usage) << 20;
		long rounds = (long)c_arg(argc, argv, 3, 20, usage);
		size_t stride = (size_t)c_arg(argc, argv, 4, 65536, usage);
		for (long r = 0; r < rounds; r++) {
			unsigned char *p = get(size);
			for (size_t i = 0; i < size; i += stride) {
				if (p[i] != 0)
					fail("calloc memory not zero", size, i);
				p[i] = (unsigned char)(r + 1);
			}
			if (p[size - 1] != 0)
				fail("calloc memory not zero", size, size - 1);
			sample_rss();
			free(p);
		}
	} else if (!strcmp(argv[1], "dense")) {
		long blocks = (long)c_arg(argc, argv, 2, 16, usage);
		size_t size = (size_t)c_arg(argc, argv, 3, 8, usage) << 20;
		long rounds = (long)c_arg(argc, argv, 4, 10, usage);
		unsigned char **p = calloc((size_t)blocks, sizeof *p);
		for (long r = 0; r < rounds; r++) {
			for (long i = 0; i < blocks; i++)
				free(p[i]);
			for (long i = 0; i < blocks; i++) {
				p[i] = get(size);
				dense_touch(p[i], size, (unsigned char)(r + 1));
			}
			sample_rss();
		}
		for (long i = 0; i < blocks; i++)
			free(p[i]);
		free(p);
	} else {
		long blocks = (long)c_arg(argc, argv, 2, 64, usage);
		long rounds = (long)c_arg(argc, argv, 3, 200, usage);
		rng = (uint64_t)c_arg(argc, argv, 4, 1, usage) * 0x9e3779b97f4a7c15u | 1;
		unsigned char **p = calloc((size_t)blocks, sizeof *p);
		size_t *sz = calloc((size_t)blocks, sizeof *sz);
		for (long r = 0; r < rounds; r++) {
			/* replace a quarter of the blocks each round */
			for (long k = 0; k < blocks / 4; k++) {
				long i = (long)(c_xorshift(&rng) % (uint64_t)blocks);
				free(p[i]);
				/* 64 KiB .. 4 MiB, about log-uniform */
				size_t base = (size_t)1 << (16 + c_xorshift(&rng) % 6);
				sz[i] = (base + (size_t)(c_xorshift(&rng) % base)) & ~(size_t)15;
				p[i] = get(sz[i]);
				dense_touch(p[i], sz[i], (unsigned char)(r + 1));
			}
			if (r % 16 == 0)
				sample_rss();
		}
		for (long i = 0; i < blocks; i++)
			free(p[i]);
		free(p);
		free(sz);
	}
	printf("%s time_ms %.1f peak_rss_kb %ld\n", argv[1], now_ms() - t0, peak_kb);
	return 0;
}
