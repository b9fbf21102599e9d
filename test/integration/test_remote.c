/*
 * Cross-thread frees (arena.c, "Remote frees"): integration/remote_child
 * under LD_PRELOAD of the real library.  Every object is allocated by one
 * thread and freed by another; the child fails if a region is handed out
 * twice (a live-address set), a message changes, or, after every thread
 * has exited and a purge, the bin statistics do not add up or regions
 * never made it back to their slabs.  The same with blocks of cached large
 * classes ("Remote large frees").
 */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"

static void run_mode(const char *conf, const char *prod, const char *cons, const char *msgs, const char *mode,
    const char *maxw) {
	struct xrun r;
	if (maxw)
		XRUN_PROG(&r, "XREMOTE", conf, 100, prod, cons, msgs, mode, maxw);
	else if (mode)
		XRUN_PROG(&r, "XREMOTE", conf, 100, prod, cons, msgs, mode);
	else
		XRUN_PROG(&r, "XREMOTE", conf, 100, prod, cons, msgs);
	xrun_assert_ok(&r);
	cr_assert(strstr(r.out, "remote: ok"), "unexpected output: %s", r.out);
	cr_assert_str_empty(r.err, "XALLOC_CONF=%s: unexpected stderr: %s", conf ? conf : "", r.err);
	xrun_free(&r);
}
static void run(const char *conf, const char *prod, const char *cons, const char *msgs) {
	run_mode(conf, prod, cons, msgs, NULL, NULL);
}

Test(remote, one_producer_one_consumer, .timeout = 120) { run(NULL, "1", "1", "400000"); }

Test(remote, many_producers_many_consumers, .timeout = 120) { run(NULL, "4", "4", "400000"); }

/* one arena: producers and consumers share it, so flushes meet a held bin
 * lock and go remote on the home arena too; no background thread: only
 * fills and the forced purge take the batches */
Test(remote, one_arena_no_background, .timeout = 120) { run("narenas:1,background_thread:false", "3", "5", "300000"); }

/* many arenas, eager release (decay_ms:0) */
Test(remote, many_arenas_decay0, .timeout = 120) { run("narenas:8,decay_ms:0", "6", "2", "300000"); }

/* Blocks of cached large classes (20-100 KB) across threads: remote large
 * batches (arena.c, "Remote large frees"), with the same checks and the
 * large statistics; the same four set-ups. */
Test(remote, large_one_producer_one_consumer, .timeout = 120) { run_mode(NULL, "1", "1", "60000", "large", NULL); }
Test(remote, large_many_producers_many_consumers, .timeout = 120) { run_mode(NULL, "4", "4", "60000", "large", NULL); }
Test(remote, large_one_arena_no_background, .timeout = 120) {
	run_mode("narenas:1,background_thread:false", "3", "5", "40000", "large", NULL);
}
Test(remote, large_many_arenas_decay0, .timeout = 120) { run_mode("narenas:8,decay_ms:0", "6", "2", "40000", "large", NULL); }

/* The slack budget counts what waits in remote batches and drains it: with
 * slack_max:1M and no decay (so no purge pass drains them), what 4
 * consumers leave waiting falls to at most 1 MiB within 3 s. */
Test(remote, large_waiting_bytes_within_slack_max, .timeout = 120) {
	run_mode("slack_max:1M,decay_ms:-1", "4", "4", "40000", "large", "1048576");
}
