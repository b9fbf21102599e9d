/*
 * Out of memory under RLIMIT_AS (VmSize + 256 MiB): 1 MiB, 64 KiB and 32 B
 * blocks until NULL with errno ENOMEM, calloc/realloc(NULL)/posix_memalign
 * failing cleanly, the same amount fitting again after freeing, 2 MiB-aligned
 * posix_memalign until ENOMEM (twice), and realloc failing under the limit
 * leaving the old block intact.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"

Test(oom, rlimit_as_exhaustion_and_recovery, .timeout = 120) {
	struct xrun r;
	XRUN(&r, NULL, 90, "oom", "256");
	xrun_assert_ok(&r);
	cr_assert(strstr(r.out, "oom: ok"), "unexpected output: %s", r.out);
	xrun_free(&r);
}

Test(oom, without_tcache, .timeout = 120) {
	struct xrun r;
	XRUN(&r, "tcache:false", 90, "oom", "256");
	xrun_assert_ok(&r);
	cr_assert(strstr(r.out, "oom: ok"), "unexpected output: %s", r.out);
	xrun_free(&r);
}
