/*
 * Address space: 128 threads (256 KiB stacks) each holding a 1 KiB block at a
 * barrier must add less than 64 MiB of VmSize beyond their stacks.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"

Test(vm, threads_do_not_reserve_address_space, .timeout = 60) {
	struct xrun r;
	XRUN(&r, NULL, 30, "vm");
	xrun_assert_ok(&r);
	cr_assert(strstr(r.out, "vm: VmSize"), "unexpected output: %s", r.out);
	xrun_free(&r);
}
