/*
 * calloc and big blocks, seen from outside: integration/calloc_child under
 * LD_PRELOAD with various XALLOC_CONF settings.
 *  - calloc returns zeroed memory after dirty frees of the same and nearby
 *    sizes (small, large, huge), splits, shrinking reallocs, malloc_trim,
 *    decay, for every release setting (wrong zeroing is silent corruption);
 *  - a sparse 64 MiB table callocated again costs the pages it touches;
 *  - big blocks freed and allocated in a loop reuse their address space
 *    instead of mapping and unmapping it every cycle;
 *  - big blocks replacing one another (malloc-large) reuse freed pages
 *    instead of releasing them and faulting fresh ones in.
 * Nothing here depends on timing: RSS and system-call counts only.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static void zero_with(const char *conf) {
	struct xrun r;
	XRUN_PROG(&r, "CALLOC_CHILD", conf, 300, "zero");
	xrun_assert_ok(&r);
	cr_assert(strstr(r.out, "callocs checked"), "conf %s: unexpected output: %s", conf ? conf : "(none)", r.out);
	cr_log_info("conf %s: %s", conf ? conf : "(none)", r.out);
	xrun_free(&r);
}

Test(calloc, zero_default, .timeout = 600) { zero_with(NULL); }
Test(calloc, zero_decay_never, .timeout = 600) { zero_with("decay_ms:-1"); }
Test(calloc, zero_decay_at_once, .timeout = 600) { zero_with("decay_ms:0"); }
Test(calloc, zero_decay_1ms, .timeout = 600) { zero_with("decay_ms:1"); }
Test(calloc, zero_purge_free, .timeout = 600) { zero_with("purge:free"); }
Test(calloc, zero_purge_free_at_once, .timeout = 600) { zero_with("purge:free,decay_ms:0"); }
Test(calloc, zero_purge_dontneed_at_once, .timeout = 600) { zero_with("purge:dontneed,decay_ms:0"); }
Test(calloc, zero_no_retain, .timeout = 600) { zero_with("retain:false"); }
Test(calloc, zero_no_retain_at_once, .timeout = 600) { zero_with("retain:false,decay_ms:0"); }
Test(calloc, zero_no_tcache_no_background, .timeout = 600) { zero_with("tcache:false,background_thread:false"); }

static long field(const char *out, const char *key) {
	const char *p = strstr(out, key);
	cr_assert(p, "no '%s' in output: %s", key, out);
	return atol(p + strlen(key));
}

/* The RSS growth, in KiB, that calloc_child's `mode` reports. */
static long child_rss_growth(const char *mode) {
	struct xrun r;
	XRUN_PROG(&r, "CALLOC_CHILD", NULL, 240, mode);
	xrun_assert_ok(&r);
	long grow = field(r.out, "rss growth ");
	xrun_free(&r);
	cr_log_info("calloc_child %s: RSS growth %ld KiB", mode, grow);
	return grow;
}

/* issue 13: a 64 MiB calloc after free, touched once per 64 KiB, grew RSS
 * by 64 MiB (the freed mapping was memset).  1024 touched pages are 4 MiB. */
Test(calloc, sparse_table_costs_touched_pages, .timeout = 300) {
	long grow = child_rss_growth("sparse");
	cr_assert_leq(grow, 12 * 1024, "RSS grew by %ld KiB for 4 MiB of touched pages", grow);
}

/* 400 callocs of 100 000 bytes, two pages of each touched: 3.2 MiB at
 * most.  With the large classes cached (tcache_max 128 KiB) a cache miss
 * filled the bin and memset the whole block: ~44 MiB resident. */
Test(calloc, cached_class_calloc_costs_touched_pages, .timeout = 300) {
	long grow = child_rss_growth("midsparse");
	cr_assert_leq(grow, 6 * 1024, "RSS grew by %ld KiB for 800 touched pages", grow);
}

/* Big blocks of 5..25 MiB freed and allocated 300 times: with their
 * address space kept for reuse the allocator maps a few times, not once or
 * more per cycle (the previous library: hundreds of mmap and munmap calls,
 * 2 and 3 per cycle with decay_ms:0). */
static void reuse_with(const char *conf) {
	struct xrun r;
	XRUN_PROG(&r, "CALLOC_CHILD", conf, 240, "reuse", "300");
	xrun_assert_ok(&r);
	long maps = field(r.out, "mmap "), unmaps = field(r.out, "munmap ");
	cr_log_info("conf %s: 300 cycles: %ld mmap, %ld munmap", conf ? conf : "(none)", maps, unmaps);
	cr_assert_leq(maps, 30, "conf %s: %ld mmap calls for 300 cycles", conf ? conf : "(none)", maps);
	cr_assert_leq(unmaps, 30, "conf %s: %ld munmap calls for 300 cycles", conf ? conf : "(none)", unmaps);
	xrun_free(&r);
}

Test(calloc, big_blocks_reuse_address_space, .timeout = 300) { reuse_with(NULL); }
Test(calloc, big_blocks_reuse_address_space_decay0, .timeout = 300) { reuse_with("decay_ms:0"); }

/* issue 10, malloc-large: blocks of 5..25 MiB replacing one another in 4
 * slots, every page written.  A request that no freed block fits used to
 * fault in fresh pages while the freed ones waited, until the dirty bound
 * released them whole; now the freed pages are moved into the new block
 * (huge.c, gather_dirty) and only the excess over the bound is released.
 * The previous library faulted in about 10% of the pages written here
 * (~40 000 of 156 000 for these 40 steps), this one under 3%.  decay_ms:-1
 * so that only the bounds act, whatever the machine's load. */
Test(calloc, replaced_big_blocks_reuse_freed_pages, .timeout = 300) {
	struct xrun r;
	XRUN_PROG(&r, "CALLOC_CHILD", "decay_ms:-1", 240, "large", "40");
	xrun_assert_ok(&r);
	long faults = field(r.out, "faults "), pages = field(r.out, "pages "), peak = field(r.out, "peak_rss_kib ");
	cr_log_info("40 steps: %ld faults for %ld pages written, peak RSS %ld KiB", faults, pages, peak);
	cr_assert_leq(faults * 100, pages * 8, "%ld page faults for %ld pages written", faults, pages);
	/* 4 live blocks of at most 28 MiB (whole chunks) and the dirty bound's
	 * minimum (96 MiB) */
	cr_assert_leq(peak, (4 * 28 + 96 + 16) * 1024, "peak RSS %ld KiB", peak);
	xrun_free(&r);
}
