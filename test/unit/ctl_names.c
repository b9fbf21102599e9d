/* ctl_names.c -- print every xallocctl name with its type, access and doc
 * string, one per line (tab-separated), for man/gen_ctl_sections.py.  Link
 * with the test build of the library (src/libxalloc_test.la); used by
 * unit/man_generated.sh. */
#include <stdio.h>

void xa_ctl_names(void (*fn)(void *, const char *, const char *, const char *, const char *), void *arg);

static void print_name(void *arg, const char *name, const char *type, const char *rw, const char *doc) {
	(void)arg;
	printf("%s\t%s\t%s\t%s\n", name, type, rw, doc);
}

int main(void) {
	xa_ctl_names(print_name, NULL);
	return 0;
}
