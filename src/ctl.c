/*
 * ctl.c -- the xallocctl namespace.  (Being written: see issue 4.)
 */
#include "internal.h"

XA_EXPORT int xallocctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen) {
	(void)name; (void)oldp; (void)oldlenp; (void)newp; (void)newlen;
	return ENOENT;
}

XA_EXPORT int xallocctl_nametomib(const char *name, size_t *mibp, size_t *miblenp) {
	(void)name; (void)mibp; (void)miblenp;
	return ENOENT;
}

XA_EXPORT int xallocctl_bymib(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp, size_t newlen) {
	(void)mib; (void)miblen; (void)oldp; (void)oldlenp; (void)newp; (void)newlen;
	return ENOENT;
}

XA_EXPORT void xalloc_stats_print(void (*write_cb)(void *, const char *), void *cbopaque, const char *opts) {
	(void)write_cb; (void)cbopaque; (void)opts;
	xa_stats_print_default();
}
