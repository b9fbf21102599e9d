/*
 * Heap misuse, seen from outside: each class of misuse, done by
 * integration/misuse_child under LD_PRELOAD=$XALLOC_LIB, must stop the
 * process with SIGABRT and exactly one line on stderr:
 *   "xalloc: double free of 0x... (size N)"   or
 *   "xalloc: free of invalid pointer 0x..."
 * Also: with check_free:true (no thread cache) every case is caught at the
 * misuse itself; a wild overflow into neighbouring objects leaves the heap
 * working (metadata is out of line).
 *
 * What the default build catches at once and what only at the next cache
 * flush is in man/xalloc.3 (HARDENING): only a repeat free of a small block
 * that is deeper in the thread cache than its top ("double-small-later")
 * waits for the flush.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

/* Run `misuse_child mode` with the preload and conf; 30 s deadline (a
 * misuse that loops instead of aborting fails here). */
static void run(struct xrun *r, const char *mode, const char *conf) {
	XRUN_PROG(r, "MISUSE_CHILD", conf, 30, mode);
	cr_assert(!r->timed_out, "misuse_child %s: timed out (a loop instead of an abort?)", mode);
}

/* The misuse must end in SIGABRT with exactly one line starting `want`
 * followed by a hex address. */
static void expect_abort(const char *mode, const char *conf, const char *want) {
	struct xrun r;
	run(&r, mode, conf);
	cr_assert(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT,
	    "%s (conf %s): expected SIGABRT, got status 0x%x\nstdout: %s\nstderr: %s", mode, conf ? conf : "-",
	    r.status, r.out, r.err);
	cr_assert(strncmp(r.err, want, strlen(want)) == 0, "%s (conf %s): stderr does not start with '%s':\n%s", mode,
	    conf ? conf : "-", want, r.err);
	cr_assert(strncmp(r.err + strlen(want), " 0x", 3) == 0, "%s: no address after the message: %s", mode, r.err);
	char *nl = strchr(r.err, '\n');
	cr_assert(nl && nl[1] == 0, "%s (conf %s): want exactly one line on stderr, got:\n%s", mode, conf ? conf : "-",
	    r.err);
	cr_assert(strstr(r.out, "survived") == NULL);
	xrun_free(&r);
}

#define DOUBLE "xalloc: double free of"
#define INVALID "xalloc: free of invalid pointer"

/* ---- caught at the misuse, default settings ---- */

Test(misuse, double_free_small_immediate, .timeout = 60) {
	struct xrun r;
	expect_abort("double-small", NULL, DOUBLE);
	run(&r, "double-small", NULL);
	cr_assert(strstr(r.err, "(size 48)"), "the size is named: %s", r.err);
	xrun_free(&r);
}

Test(misuse, double_free_large_cached, .timeout = 60) { expect_abort("double-large", NULL, DOUBLE); }

Test(misuse, double_free_large_uncached, .timeout = 60) {
	expect_abort("double-large-uncached", NULL, DOUBLE);
	/* the first free of the process starts the background thread, whose
     * creation allocates: it must not take the pages being freed */
	expect_abort("double-large-fresh", NULL, DOUBLE);
	expect_abort("double-large-fresh", "tcache:false", DOUBLE);
}

Test(misuse, double_free_huge, .timeout = 60) {
	/* a huge block kept in the mapping cache says "double free"; one
     * already unmapped is unknown to the pagemap: "invalid pointer" */
	struct xrun r;
	run(&r, "double-huge", NULL);
	cr_assert(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT, "status 0x%x %s", r.status, r.err);
	cr_assert(strncmp(r.err, DOUBLE, strlen(DOUBLE)) == 0 || strncmp(r.err, INVALID, strlen(INVALID)) == 0, "%s",
	    r.err);
	xrun_free(&r);
}

Test(misuse, foreign_pointers, .timeout = 120) {
	expect_abort("stack", NULL, INVALID);
	expect_abort("global", NULL, INVALID);
	expect_abort("mmap", NULL, INVALID);
	expect_abort("glibc", NULL, INVALID);
}

Test(misuse, interior_and_misaligned, .timeout = 120) {
	/* 16-aligned interior pointers of small blocks: the thread cache
     * would keep them and hand them out again (overlapping objects) */
	expect_abort("interior-small-256", NULL, INVALID);
	expect_abort("interior-slab-page", NULL, INVALID);
	struct xrun r;
	run(&r, "interior-small-later", NULL);
	cr_assert(strstr(r.out, "queued") == NULL, "caught at the free itself: %s", r.out);
	xrun_free(&r);
	expect_abort("interior-small-later", NULL, INVALID);
	expect_abort("interior-large", NULL, INVALID);
	expect_abort("interior-large-16", NULL, INVALID);
	expect_abort("interior-huge", NULL, INVALID);
	expect_abort("misaligned-small", NULL, INVALID);
	expect_abort("misaligned-large", NULL, INVALID);
}

Test(misuse, realloc_and_usable_size_check_too, .timeout = 60) {
	expect_abort("realloc-stack", NULL, INVALID);
	expect_abort("realloc-interior", NULL, INVALID);
	expect_abort("usable-stack", NULL, INVALID);
}

/* ---- caught at the next flush of the thread cache, default settings ---- */

Test(misuse, double_free_deeper_in_cache_at_flush, .timeout = 60) {
	struct xrun r;
	run(&r, "double-small-later", NULL);
	cr_assert(strstr(r.out, "queued"), "the misuse itself returns (cached): %s", r.out);
	xrun_free(&r);
	expect_abort("double-small-later", NULL, DOUBLE);
}


/* ---- check_free:true: everything at the misuse itself ---- */

Test(misuse, check_free_catches_everything_at_once, .timeout = 240) {
	const char *c = "check_free:true";
	expect_abort("double-small", c, DOUBLE);
	expect_abort("double-large", c, DOUBLE);
	expect_abort("double-large-uncached", c, DOUBLE);
	expect_abort("interior-small", c, INVALID);
	expect_abort("misaligned-small", c, INVALID);
	expect_abort("stack", c, INVALID);
	/* the repeat that the default cache only sees at flush time: */
	struct xrun r;
	run(&r, "double-small-later", c);
	cr_assert(strstr(r.out, "queued") == NULL, "check_free: the second free must not return: %s", r.out);
	xrun_free(&r);
	expect_abort("double-small-later", c, DOUBLE);
}

Test(misuse, tcache_false_also_immediate, .timeout = 60) {
	struct xrun r;
	run(&r, "double-small-later", "tcache:false");
	cr_assert(strstr(r.out, "queued") == NULL, "%s", r.out);
	xrun_free(&r);
	expect_abort("double-small-later", "tcache:false", DOUBLE);
}

/* ---- overflow does not reach the metadata ---- */

Test(misuse, overflow_into_neighbours_keeps_heap_working, .timeout = 120) {
	/* With decay_ms:0 frees purge far more often (madvise, then a page
     * fault on reuse): the random workload after the smash takes 60,000
     * steps when the machine allows, stops at 5 s but never before 10,000
     * steps, which still reuse every smashed region (~0.3 s alone; ~6 s
     * at a load of 30 on 2 cores). */
	const char *confs[] = {NULL, "tcache:false", "narenas:1,decay_ms:0"};
	for (unsigned i = 0; i < sizeof confs / sizeof confs[0]; i++) {
		struct xrun r;
		run(&r, "overflow:60000:10000:5", confs[i]);
		cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
		    "overflow (conf %s): status 0x%x\nstdout: %s\nstderr: %s", confs[i] ? confs[i] : "-", r.status,
		    r.out, r.err);
		cr_assert(strstr(r.out, "overflow ok"), "%s", r.out);
		cr_assert_str_empty(r.err, "overflow: unexpected stderr: %s", r.err);
		xrun_free(&r);
	}
}
