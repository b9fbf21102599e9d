/*
 * b_realloc -- realloc growth.
 *
 * Usage: b_realloc [rounds] [buffers] [max_bytes] [string_rounds] [seed]
 *
 * Part 1: `rounds` times, `buffers` buffers are grown concurrently
 *         (interleaved, so none of them simply sits at the top of the heap)
 *         from 16 bytes to `max_bytes` (default 1 MiB) by small random
 *         increments: each step adds 1 .. size/16+32 bytes (so ~6% at most
 *         for large sizes, a few dozen bytes for small ones); a small
 *         unrelated malloc is kept alive between buffers every few steps.
 *         Every new byte is written with a position-dependent pattern;
 *         after each realloc the first byte, the last old byte and a random
 *         old byte are checked; at full size the whole buffer is checked.
 * Part 2: `string_rounds` times, a 15-character C string is repeatedly
 *         doubled (realloc to 2*len+1, then append a copy of itself) up to
 *         `max_bytes`, then checked.
 * Any mismatch (or NULL) exits with status 2.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_common.h"

#define MAXBUF 256

static void *volatile sink;
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static void fail(const char *what, unsigned long long r, size_t n, const void *p) {
	fprintf(stderr, "b_realloc: %s (round %llu, size %zu, ptr %p)\n", what, r, n, p);
	exit(2);
}

static inline unsigned char pat(size_t i, unsigned k) { return (unsigned char)((i >> 3) + i * 7 + k * 29); }

int main(int argc, char **argv) {
	const char *usage = "[rounds] [buffers] [max_bytes] [string_rounds] [seed]";
	unsigned long long rounds = c_arg(argc, argv, 1, 24, usage);
	unsigned nbuf = (unsigned)c_arg(argc, argv, 2, 8, usage);
	size_t maxb = (size_t)c_arg(argc, argv, 3, 1 << 20, usage);
	unsigned long long srounds = c_arg(argc, argv, 4, 400, usage);
	uint64_t seed = c_arg(argc, argv, 5, 1, usage);
	rng ^= seed * 0xD1B54A32D192ED03ull;
	if (!rng)
		rng = 1;
	if (nbuf == 0 || nbuf > MAXBUF || maxb < 32) {
		fprintf(stderr, "b_realloc: need 1 <= buffers <= %d and max_bytes >= 32\n", MAXBUF);
		return 64;
	}

	static unsigned char *buf[MAXBUF];
	static size_t len[MAXBUF];
	static void *spacer[MAXBUF];

	for (unsigned long long r = 0; r < rounds; r++) {
		unsigned active = nbuf;
		for (unsigned k = 0; k < nbuf; k++) {
			buf[k] = NULL;
			len[k] = 0;
			spacer[k] = NULL;
		}
		unsigned long long step = 0;
		while (active) {
			for (unsigned k = 0; k < nbuf; k++) {
				size_t old = len[k];
				if (old == maxb)
					continue;
				size_t nw = old ? old + 1 + (size_t)(c_rnd(&rng) % (old / 16 + 32)) : 16;
				if (nw > maxb)
					nw = maxb;
				unsigned char *p = realloc(buf[k], nw);
				if (!p)
					fail("realloc returned NULL", r, nw, NULL);
				sink = p;
				if (old) {
					size_t j = (size_t)(c_rnd(&rng) % old);
					if (p[0] != pat(0, k) || p[old - 1] != pat(old - 1, k) || p[j] != pat(j, k))
						fail("realloc lost contents", r, nw, p);
				}
				for (size_t i = old; i < nw; i++)
					p[i] = pat(i, k);
				buf[k] = p;
				len[k] = nw;
				if (nw == maxb) {
					for (size_t i = 0; i < nw; i++)
						if (p[i] != pat(i, k))
							fail("full-size buffer corrupted", r, nw, p);
					free(p);
					buf[k] = NULL;
					active--;
				}
				/* occasionally pin a small block between the buffers */
				if ((++step & 15) == 0) {
					free(spacer[k]);
					spacer[k] = malloc(16 + (size_t)(c_rnd(&rng) % 200));
					if (!spacer[k])
						fail("malloc returned NULL", r, 0, NULL);
					memset(spacer[k], 0x5A, 16);
				}
			}
		}
		for (unsigned k = 0; k < nbuf; k++)
			free(spacer[k]);
	}

	static const char alpha[] = "abcdefghijklmno";
	for (unsigned long long r = 0; r < srounds; r++) {
		size_t n = 15;
		char *s = malloc(n + 1);
		if (!s)
			fail("malloc returned NULL", r, n + 1, NULL);
		memcpy(s, alpha, n + 1);
		while (2 * n + 1 <= maxb) {
			char *t = realloc(s, 2 * n + 1);
			if (!t)
				fail("realloc returned NULL", r, 2 * n + 1, NULL);
			sink = t;
			if (t[0] != 'a' || t[n - 1] != alpha[(n - 1) % 15] || t[n] != 0)
				fail("string realloc lost contents", r, 2 * n + 1, t);
			memcpy(t + n, t, n);
			n *= 2;
			t[n] = 0;
			s = t;
		}
		for (size_t i = 0; i < n; i += 509)
			if (s[i] != alpha[i % 15])
				fail("string corrupted", r, n, s);
		if (strlen(s) != n)
			fail("string length wrong", r, n, s);
		free(s);
	}
	return 0;
}
