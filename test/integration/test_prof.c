/*
 * test_prof.c -- heap profiling end to end: integration/prof_child under
 * LD_PRELOAD=$XALLOC_LIB writes dumps that google-pprof (Debian package
 * google-perftools) must read and attribute correctly, prints the
 * prof_leak report, dumps on gdump/interval triggers, while threads
 * allocate and across fork, and is switched on at run time through the
 * ctl.  Without google-pprof the tests that need it are skipped and the
 * program exits 77 (SKIP), never counted as a pass (xt_skip.h).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "xt_skip.h"

/* Run argv with the preload (if preload) and XALLOC_CONF=conf (if not NULL),
 * killing it after timeout_s. */
static void prun(struct xrun *r, const char *conf, int preload, int timeout_s, char *const argv[]) {
	struct xrun_opt o = {.preload = preload, .conf = conf, .timeout_s = timeout_s};
	xrun_spawn(r, &o, (const char *const *)argv);
}

static const char *child_path(void) {
	const char *p = env_path("PROF_CHILD");
	cr_assert(access(p, X_OK) == 0, "prof_child not found at %s", p);
	return p;
}

static char *make_dir(void) {
	char *d = strdup("/tmp/xa_prof_testXXXXXX");
	cr_assert_not_null(mkdtemp(d));
	return d;
}

static void rm_dir(char *d) {
	DIR *dd = opendir(d);
	struct dirent *e;
	while (dd && (e = readdir(dd)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", d, e->d_name);
		unlink(p);
	}
	if (dd)
		closedir(dd);
	rmdir(d);
	free(d);
}

/* Files in dir whose name contains sub; the first one's path in first. */
static int count_files(const char *dir, const char *sub, char *first, size_t n) {
	DIR *dd = opendir(dir);
	struct dirent *e;
	int c = 0;
	while (dd && (e = readdir(dd)) != NULL) {
		if (strstr(e->d_name, sub) == NULL)
			continue;
		if (c++ == 0 && first)
			snprintf(first, n, "%s/%s", dir, e->d_name);
	}
	if (dd)
		closedir(dd);
	return c;
}

static char *slurp_path(const char *path) {
	int fd = open(path, O_RDONLY);
	cr_assert(fd >= 0, "cannot open %s", path);
	size_t cap = 1 << 16, len = 0;
	char *b = malloc(cap);
	ssize_t r;
	while ((r = read(fd, b + len, cap - len - 1)) > 0) {
		len += (size_t)r;
		if (cap - len < 4096)
			b = realloc(b, cap *= 2);
	}
	b[len] = 0;
	close(fd);
	return b;
}

/* A dump is well formed: header, stack lines, maps. */
static void assert_dump(const char *path) {
	char *s = slurp_path(path);
	unsigned long long a, b, c, d, per;
	cr_assert_eq(sscanf(s, "heap profile: %llu: %llu [%llu: %llu] @ heap_v2/%llu", &a, &b, &c, &d, &per), 5,
	    "%s: bad header: %.80s", path, s);
	cr_assert_not_null(strstr(s, "\nMAPPED_LIBRARIES:\n"), "%s: no maps", path);
	free(s);
}

/* The flat share (percent) google-pprof --text gives fn, or -1. */
static double pprof_share(const char *text, const char *fn) {
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		double flat, pct;
		char name[256];
		if (sscanf(l, " %lf %lf%% %*f%% %*f %*f%% %255s", &flat, &pct, name) == 3 && strcmp(name, fn) == 0)
			return pct;
	}
	return -1;
}

/* The first function google-pprof --text lists. */
static void pprof_top(const char *text, char *name, size_t n) {
	const char *l = strstr(text, "Total:");
	cr_assert_not_null(l, "no Total line in pprof output:\n%s", text);
	l = strchr(l, '\n') + 1;
	char buf[256] = "";
	sscanf(l, " %*f %*f%% %*f%% %*f %*f%% %255s", buf);
	snprintf(name, n, "%s", buf);
}

static char *pprof_text(const char *base, const char *dump) {
	struct xrun r;
	char basearg[4200];
	char *argv[8];
	int i = 0;
	argv[i++] = "google-pprof";
	argv[i++] = "--text";
	if (base) {
		snprintf(basearg, sizeof(basearg), "--base=%s", base);
		argv[i++] = basearg;
	}
	argv[i++] = (char *)child_path();
	argv[i++] = (char *)dump;
	argv[i] = NULL;
	prun(&r, NULL, 0, 120, argv);
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
	    "google-pprof failed (status %d; install google-perftools):\n%s", r.status, r.err);
	free(r.err);
	return r.out; /* the caller frees it */
}

Test(prof, sites_attributed_by_google_pprof, .timeout = 240) {
	XT_REQUIRE("google-pprof", "google-perftools");
	char *dir = make_dir();
	char conf[512];
	snprintf(conf, sizeof(conf), "prof:true,lg_prof_sample:14,prof_final:true,prof_leak:true,prof_prefix:%s/p",
	    dir);
	struct xrun r;
	char *argv[] = {(char *)child_path(), "sites", "160", NULL};
	prun(&r, conf, 1, 120, argv);
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "child failed: %s", r.err);
	unsigned long long ta, tb, tc;
	cr_assert_eq(sscanf(r.out, "true: site_a %llu site_b %llu site_c %llu", &ta, &tb, &tc), 3);
	double tot = (double)(ta + tb + tc);

	/* prof_leak: the built-in report on stderr */
	cr_assert_not_null(strstr(r.err, "xalloc: prof_leak:"), "no leak report:\n%s", r.err);
	cr_assert_not_null(strstr(r.err, "#1 est."), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "#3 est."), "%s", r.err);
	unsigned p10;
	const char *l1 = strstr(r.err, "#1 est.");
	cr_assert_eq(sscanf(strchr(l1, '(') + 1, "%u", &p10), 1);
	cr_assert(p10 >= 54 && p10 <= 66, "leak report top share %u%%:\n%s", p10, r.err);
	cr_assert_not_null(strstr(r.err, "by age: <1s"), "%s", r.err);

	/* prof_final: the dump, read by google-pprof */
	char dump[4096];
	cr_assert_eq(count_files(dir, ".f.heap", dump, sizeof(dump)), 1);
	assert_dump(dump);
	char *text = pprof_text(NULL, dump);
	char top[256];
	pprof_top(text, top, sizeof(top));
	cr_assert_str_eq(top, "site_a", "top function is %s:\n%s", top, text);
	double sa = pprof_share(text, "site_a"), sb = pprof_share(text, "site_b"), sc = pprof_share(text, "site_c");
	double wa = 100 * ta / tot, wb = 100 * tb / tot, wc = 100 * tc / tot;
	cr_log_info("shares: site_a %.1f%% (true %.1f) site_b %.1f%% (%.1f) site_c %.1f%% (%.1f)", sa, wa, sb, wb, sc,
	    wc);
	cr_assert(sa > wa * 0.9 && sa < wa * 1.1, "site_a %.1f%% vs %.1f%%\n%s", sa, wa, text);
	cr_assert(sb > wb * 0.9 && sb < wb * 1.1, "site_b %.1f%% vs %.1f%%\n%s", sb, wb, text);
	cr_assert(sc > wc * 0.85 && sc < wc * 1.15, "site_c %.1f%% vs %.1f%%\n%s", sc, wc, text);
	/* the transient site freed everything */
	double st = pprof_share(text, "transient");
	cr_assert(st < 0.5, "transient shows %.1f%% live\n%s", st, text);
	free(text);
	xrun_free(&r);
	rm_dir(dir);
}

Test(prof, google_pprof_base_diff, .timeout = 180) {
	XT_REQUIRE("google-pprof", "google-perftools");
	char *dir = make_dir();
	struct xrun r;
	char *argv[] = {(char *)child_path(), "diff", dir, NULL};
	/* (also the libgcc unwinder: the other tests use frame pointers) */
	prun(&r, "prof:true,lg_prof_sample:16,prof_unwind:libgcc", 1, 60, argv);
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "child failed: %s", r.err);
	char a[4200], b[4200];
	snprintf(a, sizeof(a), "%s/a.heap", dir);
	snprintf(b, sizeof(b), "%s/b.heap", dir);
	char *text = pprof_text(a, b);
	char top[256];
	pprof_top(text, top, sizeof(top));
	cr_assert_str_eq(top, "site_b", "growth between dumps should be site_b:\n%s", text);
	double sa = pprof_share(text, "site_a");
	cr_assert(sa < 5, "site_a did not grow, yet shows %.1f%%\n%s", sa, text);
	free(text);
	xrun_free(&r);
	rm_dir(dir);
}

Test(prof, dumps_while_four_threads_allocate, .timeout = 120) {
	char *dir = make_dir();
	struct xrun r;
	char *argv[] = {(char *)child_path(), "threads", dir, "20", NULL};
	prun(&r, "prof:true,lg_prof_sample:12", 1, 90, argv);
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "child failed (%d): %s %s", r.status, r.out,
	    r.err);
	char first[4200];
	cr_assert_eq(count_files(dir, "t.", first, sizeof(first)), 20);
	for (int i = 0; i < 20; i++) {
		char p[4200];
		snprintf(p, sizeof(p), "%s/t.%d.heap", dir, i);
		assert_dump(p);
	}
	xrun_free(&r);
	rm_dir(dir);
}

Test(prof, fork_while_profiling, .timeout = 180) {
	char *dir = make_dir();
	struct xrun r;
	char *argv[] = {(char *)child_path(), "fork", dir, "20", NULL};
	prun(&r, "prof:true,lg_prof_sample:12", 1, 150, argv);
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "child failed (%d): %s %s", r.status, r.out,
	    r.err);
	cr_assert_not_null(strstr(r.out, "fork: 20 children ok"), "%s", r.out);
	cr_assert_eq(count_files(dir, "child.", NULL, 0), 20);
	char p[4200];
	snprintf(p, sizeof(p), "%s/child.7.heap", dir);
	assert_dump(p);
	xrun_free(&r);
	rm_dir(dir);
}

Test(prof, gdump_and_interval_dumps, .timeout = 120) {
	char *dir = make_dir();
	char conf[512];
	struct xrun r;
	char *argv[] = {(char *)child_path(), "grow", "5", NULL};
	snprintf(conf, sizeof(conf), "prof:true,prof_gdump:true,prof_prefix:%s/g", dir);
	prun(&r, conf, 1, 60, argv);
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	char first[4200];
	int nu = count_files(dir, ".u", first, sizeof(first));
	cr_assert(nu >= 3 && nu <= 12, "%d gdump files", nu);
	assert_dump(first);
	xrun_free(&r);

	/* 5 x 8 MiB = 40 MiB allocated at one dump per 4 MiB: about 10 */
	snprintf(conf, sizeof(conf), "prof:true,lg_prof_interval:22,prof_prefix:%s/i", dir);
	prun(&r, conf, 1, 60, argv);
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	int ni = count_files(dir, "i.", first, sizeof(first));
	cr_assert(ni >= 8 && ni <= 12, "%d interval files", ni);
	assert_dump(first);
	xrun_free(&r);
	rm_dir(dir);
}

Test(prof, activated_at_run_time_through_ctl, .timeout = 60) {
	char *dir = make_dir();
	struct xrun r;
	char *argv[] = {(char *)child_path(), "active", dir, NULL};
	prun(&r, "lg_prof_sample:16", 1, 50, argv);
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s %s", r.out, r.err);
	unsigned long long n, ns, meta, nd;
	int d;
	cr_assert_eq(
	    sscanf(r.out, "dump %d nsamples %llu nstacks %llu metadata %llu ndumps %llu", &d, &n, &ns, &meta, &nd), 5,
	    "%s", r.out);
	/* 64 MiB in ~1800 objects of mixed sizes at T = 64 KiB: the ~90 objects
	 * of 100 KiB-1 MiB are nearly all sampled, ~25% of the ~640 medium
	 * ones, few small ones: ~240 expected */
	cr_assert(n > 140 && n < 400, "nsamples %llu for 64 MiB at 64 KiB", n);
	cr_assert_geq(ns, 1);
	cr_assert_gt(meta, 0);
	cr_assert_eq(nd, 1);
	char p[4200];
	snprintf(p, sizeof(p), "%s/active.heap", dir);
	assert_dump(p);
	xrun_free(&r);
	rm_dir(dir);
}

Test(prof, bad_option_values_warn, .timeout = 60) {
	const char *bad[] = {"prof:true,lg_prof_sample:99", "prof:maybe", "lg_prof_interval:-7",
	    "prof:true,prof_leak:2"};
	const char *name[] = {"lg_prof_sample", "prof", "lg_prof_interval", "prof_leak"};
	for (unsigned i = 0; i < 4; i++) {
		struct xrun r;
		char *argv[] = {(char *)child_path(), "grow", "1", NULL};
		prun(&r, bad[i], 1, 30, argv);
		cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s: %s", bad[i], r.err);
		cr_assert_not_null(strstr(r.err, name[i]), "%s: no warning naming %s: '%s'", bad[i], name[i], r.err);
		cr_assert_eq(count_lines(r.err), 1, "%s: '%s'", bad[i], r.err);
		xrun_free(&r);
	}
}

Test(prof, unwritable_prefix_reported_once, .timeout = 60) {
	struct xrun r;
	char *argv[] = {(char *)child_path(), "grow", "3", NULL};
	prun(&r, "prof:true,lg_prof_interval:20,prof_prefix:/nonexistent/dir/x", 1, 30, argv);
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	cr_assert_eq(count_lines(r.err), 1, "'%s'", r.err);
	cr_assert_not_null(strstr(r.err, "heap profile /nonexistent/dir/x."), "'%s'", r.err);
	cr_assert_not_null(strstr(r.err, ": cannot create: no such directory; profiling continues"), "'%s'", r.err);
	xrun_free(&r);
}
