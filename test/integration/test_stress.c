/*
 * Multithreaded stress, producer/consumer and thread churn, each run by
 * xchild under LD_PRELOAD of the real library.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"

Test(stress, four_threads_cross_thread_free, .timeout = 120) {
	/* 4 threads, random sizes (mostly small, 1% up to 1 MiB), malloc/calloc/
     * realloc/posix_memalign, blocks handed between threads through shared
     * slots, a pattern over every usable byte checked before each free. */
	struct xrun r;
	XRUN(&r, NULL, 60, "stress", "2", "4");
	xrun_assert_ok(&r);
	cr_assert(strstr(r.out, "stress: 4 threads"), "unexpected output: %s", r.out);
	xrun_free(&r);
}

Test(stress, sixteen_threads_on_two_cores, .timeout = 120) {
	/* more threads than cores: preemption inside the allocator */
	struct xrun r;
	XRUN(&r, NULL, 60, "stress", "1.5", "16");
	xrun_assert_ok(&r);
	xrun_free(&r);
}

/*
 * Threads that share an arena fill from slabs of their own (src/arena.c,
 * "Fill slots"): three threads of one arena allocate 40 blocks of 48 bytes
 * each in turns, 8 times; no page may hold blocks of two of them.  With
 * one carved slab per bin, every page of the turns held all three
 * threads' blocks, and two threads running at once on two CPUs paid for
 * it in every access to their blocks (bench/README.md, "glibc-thread:
 * threads that share an arena").
 */
Test(stress, threads_of_one_arena_fill_from_their_own_pages, .timeout = 60) {
	struct xrun r;
	XRUN(&r, "narenas:1", 30, "pages");
	xrun_assert_ok(&r);
	cr_assert(strstr(r.out, "pages: "), "unexpected output: %s", r.out);
	xrun_free(&r);
}

Test(stress, producer_consumer_rss_stays_flat, .timeout = 120) {
	/* 10 million messages malloc'ed in one thread, freed in another: RSS at
     * the end within 10% + 2 MiB of RSS after the first 10%. */
	struct xrun r;
	XRUN(&r, NULL, 90, "prodcons", "10000000");
	xrun_assert_ok(&r);
	cr_assert(strstr(r.out, "prodcons: 10000000 messages"), "unexpected output: %s", r.out);
	xrun_free(&r);
}

Test(stress, thread_churn_rss_stays_flat, .timeout = 150) {
	/* 100,000 threads, 4 at a time, each allocating 5 blocks (24 B .. 300 KB),
     * freeing 3 and handing 2 to the main thread: RSS at the end at most
     * 8 MiB above RSS after the first 5,000. */
	struct xrun r;
	XRUN(&r, NULL, 120, "churn", "100000");
	xrun_assert_ok(&r);
	cr_assert(strstr(r.out, "churn: 100000 threads"), "unexpected output: %s", r.out);
	xrun_free(&r);
}

Test(stress, with_conf_variants, .timeout = 120) {
	/* the same stress with the thread caches off and with a single arena */
	const char *confs[] = {"tcache:false", "narenas:1", "narenas:1,tcache:false"};
	for (size_t i = 0; i < sizeof confs / sizeof confs[0]; i++) {
		struct xrun r;
		XRUN(&r, confs[i], 60, "stress", "1", "4");
		xrun_assert_ok(&r);
		cr_assert_str_empty(r.err, "XALLOC_CONF=%s: unexpected stderr: %s", confs[i], r.err);
		xrun_free(&r);
	}
}
