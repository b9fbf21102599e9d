/*
 * Initialisation paths: allocation from a constructor before main (and from
 * a destructor after it), from a dlopen'ed module's constructor, and a check
 * that the preload really replaces malloc.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"

Test(init, preload_replaces_malloc, .timeout = 30) {
	const char *lib = env_path("XALLOC_LIB");
	const char *base = strrchr(lib, '/');
	base = base ? base + 1 : lib;
	struct xrun r;
	XRUN(&r, NULL, 20, "whoami");
	xrun_assert_ok(&r);
	cr_assert(strstr(r.out, base), "malloc in the preloaded child comes from %s, not %s", r.out, base);
	xrun_free(&r);
}

Test(init, malloc_in_constructor_before_main, .timeout = 30) {
	struct xrun r;
	XRUN(&r, NULL, 20, "init");
	xrun_assert_ok(&r);
	cr_assert(strstr(r.out, "init ok"), "unexpected output: %s", r.out);
	cr_assert_str_empty(r.err, "unexpected stderr: %s", r.err);
	xrun_free(&r);
}

Test(init, dlopen_module_allocating_in_constructor, .timeout = 60) {
	const char *mod = env_path("XDLMOD");
	struct xrun r;
	XRUN(&r, NULL, 30, "dlopen", mod);
	xrun_assert_ok(&r);
	cr_assert(strstr(r.out, "dlopen ok"), "unexpected output: %s", r.out);
	cr_assert_str_empty(r.err, "unexpected stderr: %s", r.err);
	xrun_free(&r);
}

Test(init, cxx_new_delete_mixed_with_malloc_free, .timeout = 60) {
	/* operator new/delete of libstdc++ (plain, array, sized, over-aligned)
     * go through the preloaded malloc; blocks cross between new/free and
     * malloc/delete. */
	struct xrun r;
	XRUN(&r, NULL, 30, "cxx-free");
	xrun_assert_ok(&r);
	cr_assert(strstr(r.out, "cxx-free ok"), "unexpected output: %s", r.out);
	xrun_free(&r);
}
