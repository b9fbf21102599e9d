/*
 * b_churn -- long steady-state churn: does RSS creep (fragmentation)?
 *
 * Usage: b_churn [steps] [window] [min_size] [max_size] [seed]
 *        defaults: 30000000  200000     16        4096       1
 *
 * A FIFO window of `window` live objects (sizes uniform random in
 * min_size..max_size) is filled; then `steps` times the oldest object is
 * checked and freed and a new one is allocated and stamped (header word,
 * last byte, and one byte per 4 KiB page in between, so every page of the
 * object is resident).  RSS (from /proc/self/statm) is read after 10% of
 * the steps and at the end.
 *
 * Prints one line: "<rss_at_10pct_bytes> <rss_end_bytes> <ratio_end_over_10pct>"
 * A corrupted object or a NULL from malloc exits with status 2.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "c_common.h"

static void *volatile sink;
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static void fail(const char *what, unsigned long long i, size_t n, const void *p) {
	fprintf(stderr, "b_churn: %s (step %llu, size %zu, ptr %p)\n", what, i, n, p);
	exit(2);
}

static inline void stamp(unsigned char *p, size_t n, uint64_t h) {
	memcpy(p, &h, 8);
	for (size_t j = 4096; j < n - 1; j += 4096)
		p[j] = (unsigned char)h;
	p[n - 1] = (unsigned char)(h >> 56) ^ 0xA5;
}

static uint64_t read_rss(void) {
	char buf[256];
	int fd = open("/proc/self/statm", O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t r = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (r <= 0)
		return 0;
	buf[r] = 0;
	const char *q = buf;
	while (*q && *q != ' ')
		q++;
	while (*q == ' ')
		q++;
	uint64_t pages = 0;
	while (*q >= '0' && *q <= '9')
		pages = pages * 10 + (uint64_t)(*q++ - '0');
	return pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

int main(int argc, char **argv) {
	const char *usage = "[steps] [window] [min_size] [max_size] [seed]";
	unsigned long long steps = c_arg(argc, argv, 1, 30000000, usage);
	size_t window = (size_t)c_arg(argc, argv, 2, 200000, usage);
	size_t lo = (size_t)c_arg(argc, argv, 3, 16, usage);
	size_t hi = (size_t)c_arg(argc, argv, 4, 4096, usage);
	uint64_t seed = c_arg(argc, argv, 5, 1, usage);
	rng ^= seed * 0xD1B54A32D192ED03ull;
	if (!rng)
		rng = 1;
	if (!window || lo < 16 || hi < lo || hi > UINT32_MAX) {
		fprintf(stderr, "b_churn: need window > 0 and 16 <= min_size <= max_size\n");
		return 64;
	}
	size_t span = hi - lo + 1;

	unsigned char **p = malloc(window * sizeof *p);
	uint32_t *n = malloc(window * sizeof *n);
	if (!p || !n)
		fail("cannot allocate window", 0, window, NULL);
	for (size_t i = 0; i < window; i++) {
		size_t sz = lo + (size_t)(c_rnd(&rng) % span);
		p[i] = malloc(sz);
		if (!p[i])
			fail("malloc returned NULL", 0, sz, NULL);
		stamp(p[i], sz, c_tag(sz, i));
		n[i] = (uint32_t)sz;
	}
	unsigned long long mark = steps / 10;
	uint64_t rss10 = read_rss();
	size_t head = 0; /* oldest */
	uint64_t gen = window;
	for (unsigned long long s = 0; s < steps; s++) {
		if (s == mark)
			rss10 = read_rss();
		if (!c_stamp_ok(p[head], n[head], c_tag(n[head], gen - window)))
			fail("object corrupted", s, n[head], p[head]);
		free(p[head]);
		size_t sz = lo + (size_t)(c_rnd(&rng) % span);
		unsigned char *q = malloc(sz);
		if (!q)
			fail("malloc returned NULL", s, sz, NULL);
		sink = q;
		stamp(q, sz, c_tag(sz, gen));
		gen++;
		p[head] = q;
		n[head] = (uint32_t)sz;
		if (++head == window)
			head = 0;
	}
	uint64_t rss_end = read_rss();
	for (size_t k = 0; k < window; k++) {
		/* after the loop, slot head is the oldest again */
		size_t i = (head + k) % window;
		if (!c_stamp_ok(p[i], n[i], c_tag(n[i], gen - window + k)))
			fail("object corrupted at final check", steps, n[i], p[i]);
		free(p[i]);
	}
	free(p);
	free(n);
	printf("%llu %llu %.4f\n", (unsigned long long)rss10, (unsigned long long)rss_end,
	    rss10 ? (double)rss_end / (double)rss10 : 0.0);
	return 0;
}
