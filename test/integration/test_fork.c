/*
 * fork() while other threads allocate: the child must be able to allocate
 * (no lock left held by a thread that does not exist in the child), also in
 * a pthread_atfork child handler.  A deadlock shows as a timeout.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"

Test(fork, fifty_forks_while_four_threads_allocate, .timeout = 180)
{
    /* xchild waits up to 20 s for each child and kills it (exit 1) if it
     * hangs; the whole run is killed after 150 s. */
    struct xrun r;
    XRUN(&r, NULL, 150, "fork", "50", "20");
    xrun_assert_ok(&r);
    cr_assert(strstr(r.out, "fork: 50 children ok"), "unexpected output: %s", r.out);
    xrun_free(&r);
}

Test(fork, with_tcache_off_and_one_arena, .timeout = 180)
{
    struct xrun r;
    XRUN(&r, "tcache:false,narenas:1", 150, "fork", "20", "20");
    xrun_assert_ok(&r);
    cr_assert(strstr(r.out, "fork: 20 children ok"), "unexpected output: %s", r.out);
    xrun_free(&r);
}
