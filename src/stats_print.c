/*
 * stats_print.c -- formatting a statistics snapshot: the human report
 * (which opens with "where the memory is" and a verdict), JSON and the
 * Prometheus text exposition format.
 *
 * Owns: the output only; every number comes from an xa_snap_t filled by
 * stats.c, and every name from the tables in stats.h, so the three formats
 * and the ctl namespace cannot disagree.
 *
 * No allocation: text is built by util.c's buffered writer (a fixed stack
 * buffer) and handed to the caller's callback a buffer at a time.  No lock
 * is held here (the caller, stats.c, holds only print_lock), so the
 * callback may call malloc.
 *
 * opts letters: J JSON, P Prometheus; omit sections: g general (version,
 * config, options), s the summary (verdict, peaks, "where the memory is"),
 * m merged arenas, a per-arena, b bins, l large classes.
 *
 * Every output says whose statistics they are (pid and program name from
 * the snapshot): the text report's first line, JSON's pid/program keys,
 * Prometheus' xalloc_process_info.  The text report puts the verdict and
 * the one-screen summary first and the tables after; with one arena the
 * merged table is that arena's and is printed once.
 *
 * API for other outputs (the exit report, an HTTP endpoint): refresh a
 * snapshot and call xa_stats_print_snap, or call xalloc_stats_print with a
 * writer callback; neither allocates.
 */
#include "internal.h"

#include "stats.h"

typedef struct {
	bool general, summary, merged, arenas, bins, large;
} sections_t;

static sections_t parse_opts(const char *o) {
	sections_t s = {true, true, true, true, true, true};
	for (; *o; o++) {
		switch (*o) {
		case 'g': s.general = false; break;
		case 's': s.summary = false; break;
		case 'm': s.merged = false; break;
		case 'a': s.arenas = false; break;
		case 'b': s.bins = false; break;
		case 'l': s.large = false; break;
		}
	}
	return s;
}

#define B(buf, v) xa_fmt_bytes(buf, sizeof(buf), (v))

/* Integer percentage of part in whole (0 when whole is 0). */
static unsigned pct(uint64_t part, uint64_t whole) {
	return whole ? (unsigned)(part >= whole ? 100 : part * 100 / whole) : 0;
}

/* "in <= 1 s" etc.: when the dirty pages will have been released. */
static void release_eta(const xa_snap_t *s, char *buf, size_t n) {
	if (s->dirty == 0) {
		xa_snprintf(buf, n, "none");
		return;
	}
	if (s->max_decay_ms < 0) {
		xa_snprintf(buf, n, "never by itself (decay_ms:-1); malloc_trim(0) or arena.%u.purge releases it",
		    XA_ARENAS_ALL);
		return;
	}
	int64_t ms = s->max_decay_ms;
	const char *how = s->bg_enabled ? "by the background thread" : "at allocator calls";
	if (ms >= 1000 && ms % 1000 == 0)
		xa_snprintf(buf, n, "released in <= %lld s %s", (long long)(ms / 1000), how);
	else
		xa_snprintf(buf, n, "released in <= %lld ms %s", (long long)ms, how);
}

/* The one plain-language line.  Exposed for the JSON output too. */
static void verdict(const xa_snap_t *s, char *out, size_t n) {
	char r[32], l[32], x[32], eta[160];
	/* Live data growing at every one of the last refreshes? */
	if (s->nhist >= 4) {
		bool grow = true;
		for (unsigned i = 1; i < s->nhist; i++)
			if (s->hist[i] <= s->hist[i - 1])
				grow = false;
		size_t g = s->hist[s->nhist - 1] - s->hist[0];
		if (grow && g >= ((size_t)1 << 20) && g >= s->hist[0] / 10) {
			xa_snprintf(out, n,
			    "live data grew at each of the last %u snapshots (%s -> %s): leak candidate; "
			    "run with XALLOC_CONF=prof:true,prof_leak:true to see the call sites holding it",
			    s->nhist, B(r, s->hist[0]), B(l, s->hist[s->nhist - 1]));
			return;
		}
	}
	B(r, s->rss);
	B(l, s->allocated);
	uint64_t extra = s->rss > s->allocated ? s->rss - s->allocated : 0;
	if (s->rss < 2 * (uint64_t)s->allocated + ((uint64_t)16 << 20) || extra == 0) {
		xa_snprintf(out, n, "RSS %s, live %s: nothing unusual", r, l);
		return;
	}
	/* The biggest contributor to the gap. */
	size_t dirty_res = s->dirty, lazy_res = XA_MIN(s->lazyfree_resident, s->lazy);
	size_t pinned = s->slack > s->all.slab_purged ? s->slack - s->all.slab_purged : 0;
	size_t c[6] = {dirty_res, lazy_res, pinned, s->tcache, s->not_heap, s->remote};
	unsigned best = 0;
	for (unsigned i = 1; i < 6; i++)
		if (c[i] > c[best])
			best = i;
	B(x, c[best]);
	switch (best) {
	case 0:
		release_eta(s, eta, sizeof(eta));
		xa_snprintf(out, n, "RSS %s, live %s: %s freed pages awaiting release, %s; not a leak", r, l, x, eta);
		break;
	case 1:
		xa_snprintf(out, n,
		    "RSS %s, live %s: %s lazily freed (MADV_FREE) pages the kernel reclaims under memory pressure; not a leak",
		    r, l, x);
		break;
	case 2:
		xa_snprintf(out, n,
		    "RSS %s, live %s: %s pinned by live objects in partly used pages (fragmentation); not a leak", r, l, x);
		break;
	case 3:
		xa_snprintf(out, n,
		    "RSS %s, live %s: %s in thread caches (thread.tcache.flush or malloc_trim returns it); not a leak", r, l,
		    x);
		break;
	case 4:
		xa_snprintf(out, n,
		    "RSS %s, live %s: %s is not the heap (stacks, code, file mappings, other allocators' mmaps)", r, l, x);
		break;
	default:
		xa_snprintf(out, n,
		    "RSS %s, live %s: %s freed by other threads, waiting for its arena's next cache fill (a purge or "
		    "malloc_trim returns it); not a leak",
		    r, l, x);
		break;
	}
}

static bool map_count_near(const xa_snap_t *s) {
	return s->max_map_count && s->map_count >= s->max_map_count / 10 * 8;
}

/* ---- human ---------------------------------------------------------- */

static void print_summary(xa_writer_t *e, const xa_snap_t *s) {
	char a[32], b[32], eta[160];
	xa_wprintf(e, "Where the memory is\n");
	xa_wprintf(e, "  resident set (RSS, from the kernel)      %12s\n", B(a, s->rss));
	xa_wprintf(e, "    in xalloc's mappings (mincore)         %12s  %3u%%\n", B(a, s->resident), pct(s->resident, s->rss));
	xa_wprintf(e, "    not the heap (stacks, code, files,     %12s  %3u%%\n", B(a, s->not_heap), pct(s->not_heap, s->rss));
	xa_wprintf(e, "      other allocators' mmaps)\n");
	xa_wprintf(e, "  the heap's bytes, by state\n");
	xa_wprintf(e, "    live application data                  %12s\n", B(a, s->allocated));
	xa_wprintf(e, "    size-class rounding and slab slack     %12s\n", B(a, s->slack));
	xa_wprintf(e, "      of which released (free slab pages)  %12s\n", B(a, s->all.slab_purged));
	xa_wprintf(e, "    thread caches                          %12s\n", B(a, s->tcache));
	xa_wprintf(e, "    freed by other threads, waiting        %12s\n", B(a, s->remote));
	release_eta(s, eta, sizeof(eta));
	xa_wprintf(e, "    freed, awaiting release                %12s  (%s)\n", B(a, s->dirty), eta);
	xa_wprintf(e, "    lazily freed (MADV_FREE)               %12s  (%s still resident)\n", B(a, s->lazy),
	    B(b, XA_MIN(s->lazyfree_resident, s->lazy)));
	xa_wprintf(e, "    metadata                               %12s  (%s mapped)\n", B(a, s->metadata_resident),
	    B(b, s->metadata));
	xa_wprintf(e, "  virtual: mapped %s", B(a, s->mapped));
	xa_wprintf(e, ", retained (unbacked, reusable) %s\n", B(a, s->retained));
	xa_wprintf(e, "  a purge plus thread-cache flush would return now: %s;", B(a, s->reclaimable));
	xa_wprintf(e, " pinned by live objects in partly used pages: %s\n",
	    B(a, s->slack > s->all.slab_purged ? s->slack - s->all.slab_purged : 0));
	xa_wprintf(e, "  mappings: %zu of vm.max_map_count %zu%s\n", s->map_count, s->max_map_count,
	    map_count_near(s) ? "  WARNING: near the limit (mmap will fail)" : "");
}

/* "12.3 s" from a time in ns since start. */
static const char *fmt_t(char *buf, size_t n, const xa_snap_t *s, uint64_t ns) {
	uint64_t ms = XA_PEAK_MS(s, ns);
	xa_snprintf(buf, n, "%llu.%llu s", (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000 / 100));
	return buf;
}

/* The verdict and the peaks: the first lines of the report. */
static void print_verdict(xa_writer_t *e, const xa_snap_t *s) {
	char a[32], b[32], t1[32], t2[32], v[400];
	verdict(s, v, sizeof(v));
	xa_wprintf(e, "verdict: %s\n", v);
	xa_wprintf(e, "peaks: live data peaked at %s at t=%s (now %s); active %s at t=%s\n", B(a, s->peak_allocated),
	    fmt_t(t1, sizeof(t1), s, s->peak_allocated_ns), B(b, s->allocated), B(a, s->peak_active),
	    fmt_t(t2, sizeof(t2), s, s->peak_active_ns));
	xa_wprintf(e, "       RSS peaked at %s (first seen at t=%s; now %s)\n", B(a, s->peak_resident),
	    fmt_t(t1, sizeof(t1), s, s->peak_resident_ns), B(b, s->rss));
}

static void print_general(xa_writer_t *e, const xa_snap_t *s) {
	char buf[XA_OPT_STRLEN];
	xa_wprintf(e, "version: %s  config: debug=%d stats=%d prof=%d prefix=\"%s\"\n", PACKAGE_VERSION, config_debug,
	    config_stats, config_prof, XA_STRINGIFY(XALLOC_PREFIX));
	xa_wprintf(e, "options:");
	for (unsigned i = 0; i < xa_opt_count; i++) {
		xa_opt_format(&xa_opt, &xa_opt_table[i], buf, sizeof(buf));
		xa_wprintf(e, " %s:%s", xa_opt_table[i].name, buf);
	}
	xa_wprintf(e, "\nthreads %zu, arenas %u, background thread %s (%llu runs), decay_ms %lld, purge %s\n", s->nthreads,
	    s->narenas, s->bg_running ? "running" : s->bg_enabled ? "enabled" : "off", (unsigned long long)s->bg_runs,
	    (long long)s->decay_ms, xa_opt_choice_name(XA_OPTI_purge, s->purge_policy));
	xa_wprintf(e, "totals:");
#define X(name, kind, expr, doc) xa_wprintf(e, " " #name "=%llu", (unsigned long long)(expr));
	XA_STATS_GLOBAL(X)
#undef X
	xa_wprintf(e, "\n");
}

static void print_arena(xa_writer_t *e, const xa_snap_arena_t *sa, const char *title, sections_t sec) {
	char a[32];
	xa_wprintf(e, "\n%s:", title);
#define X(name, kind, expr, doc) xa_wprintf(e, " " #name "=%llu", (unsigned long long)(expr));
	XA_STATS_ARENA(X)
#undef X
	xa_wprintf(e, "\n");
	if (sec.bins) {
		xa_wprintf(e, "  %8s %6s %10s %12s %12s %14s %10s %8s %8s\n", "bin", "size", "curregs", "nmalloc", "ndalloc",
		    "nrequests", "curslabs", "nslabs", "util%");
		for (unsigned i = 0; i < SC_NSMALL; i++) {
			const xa_bin_stats_t *b = &sa->bins[i];
			if (b->nmalloc == 0 && b->curregs == 0)
				continue;
			size_t cap = b->curpages * PAGE / xa_sc[i].size; /* slabs differ in size */
			xa_wprintf(e, "  %8u %6u %10zu %12llu %12llu %14llu %10zu %8llu %7u%%\n", i, xa_sc[i].size, b->curregs,
			    (unsigned long long)b->nmalloc, (unsigned long long)b->ndalloc,
			    (unsigned long long)b->nrequests, b->curslabs, (unsigned long long)b->nslabs_total,
			    pct(b->curregs, cap));
		}
	}
	if (sec.large) {
		bool head = false;
		for (unsigned j = 0; j < SC_NCLASSES - SC_NSMALL; j++) {
			if (sa->lnmalloc[j] == 0)
				continue;
			if (!head) {
				xa_wprintf(e, "  %8s %10s %12s %12s %10s\n", "large", "size", "nmalloc", "ndalloc", "cur");
				head = true;
			}
			xa_wprintf(e, "  %8u %10s %12llu %12llu %10zu\n", j, B(a, xa_sc[SC_NSMALL + j].size),
			    (unsigned long long)sa->lnmalloc[j], (unsigned long long)sa->lndalloc[j], sa->lcur[j]);
		}
	}
}

static unsigned arenas_present(const xa_snap_t *s) {
	unsigned n = 0;
	for (unsigned i = 0; i < s->narenas; i++)
		n += s->arenas[i] != NULL;
	return n;
}

/* Verdict and one-screen summary first, the detail tables after. */
static void print_human(xa_writer_t *e, const xa_snap_t *s, sections_t sec) {
	char t[32];
	xa_wprintf(e, "___ xalloc statistics: pid %d (%s), t=%s ___\n", s->pid, s->prog, fmt_t(t, sizeof(t), s, s->time_ns));
	if (sec.summary) {
		print_verdict(e, s);
		print_summary(e, s);
	}
	if (sec.general)
		print_general(e, s);
	/* With one arena the merged table is that arena's: print it once. */
	bool one = arenas_present(s) == 1;
	if (sec.merged)
		print_arena(e, &s->all, one ? "all arenas (= arena 0, the only one)" : "all arenas", sec);
	if (sec.arenas && !(one && sec.merged)) {
		for (unsigned i = 0; i < s->narenas; i++) {
			char title[32];
			if (s->arenas[i] == NULL)
				continue;
			xa_snprintf(title, sizeof(title), "arena %u", i);
			print_arena(e, s->arenas[i], title, sec);
		}
	}
	xa_wprintf(e, "--- end of xalloc statistics ---\n");
}

/* ---- JSON ----------------------------------------------------------- */

/* A JSON string: escapes quotes, backslashes and control characters. */
static void emit_jstr(xa_writer_t *e, const char *str) {
	xa_wprintf(e, "\"");
	for (const char *p = str; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\')
			xa_wprintf(e, "\\%c", c);
		else if (c < 0x20)
			xa_wprintf(e, "\\u%04x", c);
		else
			xa_wprintf(e, "%c", c);
	}
	xa_wprintf(e, "\"");
}

static void json_arena(xa_writer_t *e, const xa_snap_arena_t *sa, sections_t sec) {
	const char *sep = "";
	xa_wprintf(e, "{\"decay_ms\":%lld", (long long)sa->decay_ms);
#define X(name, kind, expr, doc) xa_wprintf(e, ",\"" #name "\":%llu", (unsigned long long)(expr));
	XA_STATS_ARENA(X)
#undef X
	if (sec.bins) {
		xa_wprintf(e, ",\"bins\":[");
		for (unsigned i = 0; i < SC_NSMALL; i++) {
			const xa_bin_stats_t *b = &sa->bins[i];
			xa_wprintf(e, "%s{\"size\":%u", sep, xa_sc[i].size);
#define X(name, kind, expr, doc) xa_wprintf(e, ",\"" #name "\":%llu", (unsigned long long)(expr));
			XA_STATS_BIN(X)
#undef X
			xa_wprintf(e, "}");
			sep = ",";
		}
		xa_wprintf(e, "]");
	}
	if (sec.large) {
		sep = "";
		xa_wprintf(e, ",\"lextents\":[");
		for (unsigned j = 0; j < SC_NCLASSES - SC_NSMALL; j++) {
			xa_wprintf(e, "%s{\"size\":%u", sep, xa_sc[SC_NSMALL + j].size);
#define X(name, kind, expr, doc) xa_wprintf(e, ",\"" #name "\":%llu", (unsigned long long)(expr));
			XA_STATS_LEXTENT(X)
#undef X
			xa_wprintf(e, "}");
			sep = ",";
		}
		xa_wprintf(e, "]");
	}
	xa_wprintf(e, "}");
}

static void print_json(xa_writer_t *e, const xa_snap_t *s, sections_t sec) {
	char buf[XA_OPT_STRLEN], v[400];
	xa_wprintf(e, "{\"xalloc\":{\"version\":\"%s\",\"pid\":%d,\"program\":", PACKAGE_VERSION, s->pid);
	emit_jstr(e, s->prog);
	xa_wprintf(e, ",\"uptime_ms\":%llu", (unsigned long long)XA_PEAK_MS(s, s->time_ns));
	if (sec.general) {
		xa_wprintf(e, ",\"config\":{\"debug\":%s,\"stats\":%s,\"prof\":%s,\"prefix\":\"%s\"}",
		    config_debug ? "true" : "false", config_stats ? "true" : "false", config_prof ? "true" : "false",
		    XA_STRINGIFY(XALLOC_PREFIX));
		xa_wprintf(e, ",\"opt\":{");
		for (unsigned i = 0; i < xa_opt_count; i++) {
			const xa_opt_desc_t *d = &xa_opt_table[i];
			xa_opt_format(&xa_opt, d, buf, sizeof(buf));
			xa_wprintf(e, "%s\"%s\":", i ? "," : "", d->name);
			if (d->type == XA_OPT_T_BOOL || d->type == XA_OPT_T_INT || d->type == XA_OPT_T_UNSIGNED ||
			    d->type == XA_OPT_T_SIZE)
				xa_wprintf(e, "%s", buf);
			else
				emit_jstr(e, buf);
		}
		xa_wprintf(e, "}");
	}
	xa_wprintf(e, ",\"stats\":{\"epoch\":%llu", (unsigned long long)s->epoch);
#define X(name, kind, expr, doc) xa_wprintf(e, ",\"" #name "\":%llu", (unsigned long long)(expr));
	XA_STATS_GLOBAL(X)
#undef X
	xa_wprintf(e, ",\"decay_ms\":%lld,\"purge\":\"%s\",\"background_thread\":%s", (long long)s->decay_ms,
	    xa_opt_choice_name(XA_OPTI_purge, s->purge_policy), s->bg_enabled ? "true" : "false");
	xa_wprintf(e, ",\"map_count_near_limit\":%s", map_count_near(s) ? "true" : "false");
	if (sec.summary) {
		verdict(s, v, sizeof(v));
		xa_wprintf(e, ",\"verdict\":");
		emit_jstr(e, v);
	}
	xa_wprintf(e, ",\"arenas\":{");
	const char *sep = "";
	if (sec.merged) {
		xa_wprintf(e, "\"all\":");
		json_arena(e, &s->all, sec);
		sep = ",";
	}
	if (sec.arenas) {
		for (unsigned i = 0; i < s->narenas; i++) {
			if (s->arenas[i] == NULL)
				continue;
			xa_wprintf(e, "%s\"%u\":", sep, i);
			json_arena(e, s->arenas[i], sec);
			sep = ",";
		}
	}
	xa_wprintf(e, "}}}}\n");
}

/* ---- Prometheus ----------------------------------------------------- */

/* Metric name from a dotted stats name: xalloc_<a_b>[_bytes|_pages|_total]. */
static void prom_name(char *out, size_t n, const char *prefix, const char *name, char kind) {
	size_t l = (size_t)xa_snprintf(out, n, "%s", prefix);
	for (const char *p = name; *p && l + 1 < n; p++)
		out[l++] = *p == '.' ? '_' : *p;
	out[l] = '\0';
	if (kind == 'M' && l >= 3 && strcmp(out + l - 3, "_ms") == 0)
		out[l -= 3] = '\0'; /* Prometheus wants base units: seconds */
	const char *suf = kind == 'B' ? "_bytes" : kind == 'P' ? "_pages" : kind == 'C' ? "_total" : kind == 'M' ? "_seconds" : "";
	xa_snprintf(out + l, n - l, "%s", suf);
}

static void prom_head(xa_writer_t *e, const char *m, char kind, const char *doc) {
	xa_wprintf(e, "# HELP %s %s\n# TYPE %s %s\n", m, doc, m, kind == 'C' ? "counter" : "gauge");
}

static void print_prom(xa_writer_t *e, const xa_snap_t *s, sections_t sec) {
	char m[128];
	/* Whose: the program name as a label value (\\, " and newline escaped;
	 * whoami already replaced control characters). */
	xa_wprintf(e, "# HELP xalloc_process_info the process these statistics are about\n"
	        "# TYPE xalloc_process_info gauge\nxalloc_process_info{pid=\"%d\",program=\"", s->pid);
	for (const char *p = s->prog; *p; p++)
		xa_wprintf(e, *p == '\\' || *p == '"' ? "\\%c" : "%c", *p);
	xa_wprintf(e, "\"} 1\n");
#define X(name, kind, expr, doc)                                                        \
	prom_name(m, sizeof(m), "xalloc_", #name, #kind[0]);                            \
	prom_head(e, m, #kind[0], doc);                                                 \
	if (#kind[0] == 'M')                                                            \
		xa_wprintf(e, "%s %llu.%03llu\n", m, (unsigned long long)(expr) / 1000,     \
		    (unsigned long long)(expr) % 1000);                                 \
	else                                                                            \
		xa_wprintf(e, "%s %llu\n", m, (unsigned long long)(expr));
	XA_STATS_GLOBAL(X)
#undef X
	xa_wprintf(e, "# HELP xalloc_epoch statistics snapshot number\n# TYPE xalloc_epoch gauge\nxalloc_epoch %llu\n",
	    (unsigned long long)s->epoch);
	if (sec.arenas || sec.merged) {
		/* One family per field, one sample per arena (label arena="i" or "all"). */
		const xa_snap_arena_t *sa;
#define X(name, kind, expr, doc)                                                           \
	prom_name(m, sizeof(m), "xalloc_arena_", #name, #kind[0]);                         \
	prom_head(e, m, #kind[0], doc);                                                    \
	if (sec.merged) {                                                                  \
		sa = &s->all;                                                              \
		xa_wprintf(e, "%s{arena=\"all\"} %llu\n", m, (unsigned long long)(expr));        \
	}                                                                                  \
	for (unsigned i = 0; sec.arenas && i < s->narenas; i++) {                          \
		if ((sa = s->arenas[i]) == NULL)                                           \
			continue;                                                          \
		xa_wprintf(e, "%s{arena=\"%u\"} %llu\n", m, i, (unsigned long long)(expr));      \
	}
		XA_STATS_ARENA(X)
#undef X
	}
	if (sec.bins) {
		/* Merged over arenas: one sample per size class. */
		const xa_bin_stats_t *b;
#define X(name, kind, expr, doc)                                                               \
	prom_name(m, sizeof(m), "xalloc_bin_", #name, #kind[0]);                               \
	prom_head(e, m, #kind[0], doc);                                                        \
	for (unsigned i = 0; i < SC_NSMALL; i++) {                                             \
		b = &s->all.bins[i];                                                           \
		xa_wprintf(e, "%s{size=\"%u\"} %llu\n", m, xa_sc[i].size, (unsigned long long)(expr)); \
	}
		XA_STATS_BIN(X)
#undef X
	}
	if (sec.large) {
		const xa_snap_arena_t *sa = &s->all;
#define X(name, kind, expr, doc)                                                                          \
	prom_name(m, sizeof(m), "xalloc_lextent_", #name, #kind[0]);                                      \
	prom_head(e, m, #kind[0], doc);                                                                   \
	for (unsigned j = 0; j < SC_NCLASSES - SC_NSMALL; j++)                                            \
		xa_wprintf(e, "%s{size=\"%u\"} %llu\n", m, xa_sc[SC_NSMALL + j].size, (unsigned long long)(expr));
		XA_STATS_LEXTENT(X)
#undef X
	}
}

void xa_stats_print_snap(const xa_snap_t *s, void (*write_cb)(void *, const char *), void *cbopaque,
    const char *opts) {
	xa_writer_t e = {.sink = write_cb, .opaque = cbopaque};
	sections_t sec = parse_opts(opts);
	if (strchr(opts, 'J'))
		print_json(&e, s, sec);
	else if (strchr(opts, 'P'))
		print_prom(&e, s, sec);
	else
		print_human(&e, s, sec);
	xa_wflush(&e);
}
