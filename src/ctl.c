/*
 * ctl.c -- the xallocctl namespace: a static tree of named and indexed
 * nodes, like a filesystem.
 *
 * Owns: the tree, name <-> mib translation, the argument checks (ENOENT,
 * EINVAL, EPERM) and the leaf handlers.  The opt.* subtree is generated
 * from options.def and the stats.* subtrees from the tables in stats.h, so
 * adding an option or a statistic is one row.
 *
 * A mib is the path of child positions from the root; at an indexed node
 * (arena.<i>, stats.arenas.<i>, arenas.bin.<i>, ...) the component is the
 * index itself, so a caller can translate a name once and vary the index.
 *
 * Conventions (as mallctl): oldp/oldlenp read, newp/newlen write; *oldlenp
 * and newlen must equal the size of the value's type (EINVAL otherwise);
 * writing a read-only name is EPERM; action names ("arena.<i>.purge",
 * "thread.tcache.flush", "release") take neither.  The write is validated
 * before anything is read or changed, so a failed call changes nothing.
 *
 * Locking: ctl_lock protects the ctl snapshot (stats.*, epoch) and the
 * formatted option strings.  It is outermost: taken with no other allocator
 * lock held, and held during a refresh (which takes the others one at a
 * time, see stats.c) and while one value is copied out.  Nothing called
 * under it allocates or calls back into user code.
 *
 * Adding a name: a named handler (CTL/CTL_RO/CTL_THREAD below) and a LEAF
 * row in the one initializer of the tree (the handler, the value's type,
 * access and doc string); a statistic: a row in the tables of stats.h.
 * The doc string is the name's xalloc(3) entry: man/gen_ctl_sections.py
 * writes the CONTROL NAMESPACE from the tree (markup: *bold*, ~italic~),
 * and test/unit/man_generated.sh fails when the committed page differs.
 */
#include "internal.h"

#include "stats.h"

enum { T_VOID, T_BOOL, T_UNSIGNED, T_SIZE, T_U64, T_SSIZE, T_STR };
enum { RO = 1, WO = 2, RW = 3, ACT = 0 };

#define CTL_MAXDEPTH 8

/* One call: where the leaf was found, and the caller's arguments. */
typedef struct {
	size_t idx[CTL_MAXDEPTH]; /* the index components met on the way */
	unsigned pos;             /* the leaf's position among its siblings */
	void *oldp;
	size_t *oldlenp;
	void *newp;
	size_t newlen;
} ctl_call_t;

typedef struct ctl_node_s ctl_node_t;
typedef int ctl_fn_t(const ctl_node_t *n, ctl_call_t *c);

struct ctl_node_s {
	const char *name;        /* "<i>" for the template child of an indexed node */
	const ctl_node_t *kids;  /* named children, or the one template child */
	unsigned nkids;          /* named children; 0 with kids: indexed */
	bool (*ivalid)(size_t i); /* indexed: is i in range */
	ctl_fn_t *fn;            /* leaf */
	uint8_t type, rw;
	const char *doc;         /* leaf: its xalloc(3) entry */
};

static xa_mutex_t ctl_lock = XA_MUTEX_INITIALIZER;
static xa_snap_t *ctl_snap; /* from base, under ctl_lock */

static size_t type_size(unsigned t) {
	switch (t) {
	case T_BOOL:
		return sizeof(bool);
	case T_UNSIGNED:
		return sizeof(unsigned);
	case T_SIZE:
		return sizeof(size_t);
	case T_U64:
		return sizeof(uint64_t);
	case T_SSIZE:
		return sizeof(ssize_t);
	case T_STR:
		return sizeof(const char *);
	}
	return 0;
}

/* ---- argument checks ---------------------------------------------------- */

/* Before anything happens: is the requested access allowed? */
static int io_check(const ctl_node_t *n, const ctl_call_t *c) {
	bool wants_write = c->newp != NULL || c->newlen != 0;
	bool wants_read = c->oldp != NULL || c->oldlenp != NULL;
	if (n->rw == ACT)
		return wants_write || wants_read ? EINVAL : 0;
	if (wants_write) {
		if (!(n->rw & WO))
			return EPERM;
		if (c->newp == NULL || c->newlen != type_size(n->type))
			return EINVAL;
	}
	if (wants_read) {
		if (!(n->rw & RO))
			return EPERM;
		if (c->oldp == NULL || c->oldlenp == NULL || *c->oldlenp != type_size(n->type))
			return EINVAL;
	}
	return 0;
}

static void io_read(ctl_call_t *c, const void *v, size_t size) {
	if (c->oldp != NULL)
		memcpy(c->oldp, v, size);
}

#define READ_AS(c, T, expr)                            \
	do {                                           \
		T v_ = (T)(expr);                      \
		io_read((c), &v_, sizeof(v_));         \
	} while (0)
#define WRITING(c) ((c)->newp != NULL)
#define NEWVAL(c, T) (*(T const *)(c)->newp)

/* The handler of a leaf: ctl_<path with '_' for '.'>. */
#define CTL(name) static int ctl_##name(const ctl_node_t *n, ctl_call_t *c)
/* A read-only leaf whose value is one expression (c->idx in scope). */
#define CTL_RO(name, T, expr)                  \
	CTL(name) {                            \
		READ_AS(c, T, expr);           \
		return 0;                      \
	}

/* ---- version, config --------------------------------------------------- */

static const char ctl_prefix[] = XA_STRINGIFY(XALLOC_PREFIX);

CTL_RO(version, const char *, PACKAGE_VERSION)
CTL_RO(config_debug, bool, config_debug)
CTL_RO(config_stats, bool, config_stats)
CTL_RO(config_prof, bool, config_prof)
CTL_RO(config_prefix, const char *, ctl_prefix)
CTL_RO(config_page, size_t, PAGE)
CTL_RO(config_chunk, size_t, CHUNK)

/* ---- opt.* from options.def ------------------------------------------- */

/* ENUM and SLACK values read as strings, formatted once (options are
 * fixed after start-up).  The C type of each opt.* value is OPT_CT_* below;
 * man/gen_ctl_sections.py prints the same type in OPTIONS. */
static char opt_str[XA_OPTI_COUNT][48];
static bool opt_str_ready;

/* opt.<name>: the opt children are the rows of options.def in order, so
 * the leaf's position is the row. */
CTL(opt) {
	const xa_opt_desc_t *d = &xa_opt_table[c->pos];
	const char *base = (const char *)&xa_opt + d->offset;
	switch (d->type) {
	case XA_OPT_T_BOOL:
		READ_AS(c, bool, *(const bool *)base);
		break;
	case XA_OPT_T_INT:
		READ_AS(c, ssize_t, *(const int64_t *)base);
		break;
	case XA_OPT_T_UNSIGNED: /* small counts (narenas, lg_prof_sample) */
		READ_AS(c, unsigned, *(const uint64_t *)base);
		break;
	case XA_OPT_T_SIZE:
		READ_AS(c, size_t, *(const uint64_t *)base);
		break;
	case XA_OPT_T_STRING:
		READ_AS(c, const char *, base);
		break;
	default: /* ENUM, SLACK */
		xa_mutex_lock(&ctl_lock);
		if (!opt_str_ready) {
			for (unsigned i = 0; i < XA_OPTI_COUNT; i++)
				xa_opt_format(&xa_opt, &xa_opt_table[i], opt_str[i], sizeof(opt_str[i]));
			opt_str_ready = true;
		}
		xa_mutex_unlock(&ctl_lock);
		READ_AS(c, const char *, opt_str[c->pos]);
		break;
	}
	return 0;
}

#define OPT_CT_BOOL T_BOOL
#define OPT_CT_INT T_SSIZE
#define OPT_CT_UNSIGNED T_UNSIGNED
#define OPT_CT_SIZE T_SIZE
#define OPT_CT_SLACK T_STR
#define OPT_CT_ENUM T_STR
#define OPT_CT_STRING T_STR
static const ctl_node_t opt_kids[] = {
#define XA_OPT(nm, ty, def, min, max, choices, text) \
	{.name = #nm, .fn = ctl_opt, .type = OPT_CT_##ty, .rw = RO, .doc = "The option *" #nm "* in force (see OPTIONS)."},
#include "options.def"
#undef XA_OPT
};

/* ---- thread.* ---------------------------------------------------------- */

typedef int ctl_thread_fn_t(xa_tsd_t *t, ctl_call_t *c);

/* The calling thread's cache and arena, entered like an allocator slow
 * path: the background thread may be reclaiming the cache of this thread
 * (idle.c), and until xa_tsd_enter has waited for it and restored nbins,
 * nbins reads 0 and the stacks are not ours to touch. */
static int in_thread(ctl_call_t *c, ctl_thread_fn_t *fn) {
	xa_tsd_t *t = xa_tsd_boot();
	/* exiting threads too: no cache to race for, but a world stop's
	 * gate (idle.c) */
	xa_tsd_enter(t);
	int err = fn(t, c);
	xa_tsd_leave(t);
	return err;
}

/* A thread.* leaf: ctl_thread_<name> runs thread_<name>(t, c) entered. */
#define CTL_THREAD(name)                                                         \
	static ctl_thread_fn_t thread_##name;                                    \
	CTL(thread_##name) { return in_thread(c, thread_##name); }                \
	static int thread_##name(xa_tsd_t *t, ctl_call_t *c)

CTL_THREAD(allocated) {
	READ_AS(c, uint64_t, XA_RELAXED_LOAD(t->allocated));
	return 0;
}

CTL_THREAD(deallocated) {
	READ_AS(c, uint64_t, XA_RELAXED_LOAD(t->deallocated));
	return 0;
}

CTL_THREAD(arena) {
	unsigned cur = t->arena ? t->arena->ind : 0;
	if (WRITING(c)) {
		unsigned ind = NEWVAL(c, unsigned);
		if (ind >= xa_arena_max())
			return EINVAL;
		xa_arena_t *a = xa_arena_get(ind, true);
		if (a == NULL)
			return EAGAIN;
		io_read(c, &cur, sizeof(cur));
		if (a != t->arena) {
			uint8_t old = t->fill_slot;
			xa_arena_thread_bind(a, &t->fill_slot);
			xa_arena_thread_leave(t->arena, old);
			t->arena = a;
			t->arena_pinned = 1;
		}
		return 0;
	}
	READ_AS(c, unsigned, cur);
	return 0;
}

CTL_THREAD(tcache_flush) {
	xa_tcache_flush_all(t);
	return 0;
}

CTL_THREAD(tcache_enabled) {
	bool cur = t->nbins != 0;
	if (WRITING(c)) {
		bool want = NEWVAL(c, bool);
		if (want && !cur && (xa_tcache_nbins == 0 || xa_tcache_init(t)))
			return EAGAIN; /* tcache:false, or no metadata memory */
		if (!want && cur)
			xa_tcache_destroy(t);
	}
	READ_AS(c, bool, cur);
	return 0;
}

/* ---- arenas.*, arena.<i>.*, background_thread, release ------------------ */

static bool valid_bin(size_t i) { return i < SC_NSMALL; }
static bool valid_lextent(size_t i) { return i < SC_NCLASSES - SC_NSMALL; }
static bool valid_arena(size_t i) { return i == XA_ARENAS_ALL || i < atomic_load(&xa_narenas_created); }
/* arena.<i>: any index below arenas.narenas, created or not, so that a loop
 * over arenas.narenas works (as jemalloc's arena.<i>.purge). */
static bool valid_arena_slot(size_t i) { return i == XA_ARENAS_ALL || i < xa_arena_max(); }

CTL_RO(arenas_narenas, unsigned, xa_arena_max())
CTL_RO(arenas_ncreated, unsigned, atomic_load(&xa_narenas_created))
CTL_RO(arenas_nbins, unsigned, SC_NSMALL)
CTL_RO(arenas_nlextents, unsigned, SC_NCLASSES - SC_NSMALL)
CTL_RO(arenas_tcache_max, size_t, xa_opt.tcache ? xa_opt.tcache_max : 0)
CTL_RO(arenas_bin_size, size_t, xa_sc[c->idx[0]].size)
CTL_RO(arenas_bin_nregs, unsigned, xa_sc[c->idx[0]].nregs)
CTL_RO(arenas_bin_slab_size, size_t, (size_t)xa_sc[c->idx[0]].npages * PAGE)
CTL_RO(arenas_lextent_size, size_t, xa_sc[SC_NSMALL + c->idx[0]].size)

/* Writes are validated by the option's own row (options.def). */
CTL(arenas_decay_ms) {
	if (WRITING(c) && !xa_opt_accepts(XA_OPTI_decay_ms, NEWVAL(c, ssize_t)))
		return EINVAL;
	READ_AS(c, ssize_t, atomic_load(&xa_decay_default_ms));
	if (WRITING(c))
		atomic_store(&xa_decay_default_ms, (int64_t)NEWVAL(c, ssize_t));
	return 0;
}

/* The names are the choices of the option purge (XA_PURGE_* order). */
CTL(arenas_purge_policy) {
	int p = -1;
	if (WRITING(c) && (NEWVAL(c, const char *) == NULL ||
	    (p = xa_opt_choice_index(XA_OPTI_purge, NEWVAL(c, const char *))) < 0))
		return EINVAL;
	READ_AS(c, const char *, xa_opt_choice_name(XA_OPTI_purge, atomic_load(&xa_purge_policy)));
	if (WRITING(c))
		atomic_store(&xa_purge_policy, (unsigned)p);
	return 0;
}

/* arena.<i>: the arena, or NULL for 4096 and for one not created yet. */
static xa_arena_t *ctl_arena(const ctl_call_t *c) {
	return c->idx[0] == XA_ARENAS_ALL ? NULL : xa_arena_get((unsigned)c->idx[0], false);
}

/* Everything dirty now; nothing to do in an arena not created yet. */
CTL(arena_purge) {
	xa_arena_t *a = ctl_arena(c);
	if (a)
		xa_arena_purge_all(a);
	else if (c->idx[0] == XA_ARENAS_ALL)
		xa_arenas_purge(true);
	return 0;
}

CTL(arena_decay_ms) {
	xa_arena_t *a = ctl_arena(c);
	if (c->idx[0] != XA_ARENAS_ALL && a == NULL)
		return ENOENT; /* an arena not created yet has none */
	int64_t cur = a ? atomic_load(&a->decay_ms) : atomic_load(&xa_decay_default_ms);
	if (!WRITING(c)) {
		READ_AS(c, ssize_t, cur);
		return 0;
	}
	ssize_t v = NEWVAL(c, ssize_t);
	if (!xa_opt_accepts(XA_OPTI_decay_ms, v))
		return EINVAL;
	READ_AS(c, ssize_t, cur);
	if (a) {
		atomic_store(&a->decay_ms, (int64_t)v);
	} else {
		unsigned nc = atomic_load(&xa_narenas_created);
		for (unsigned k = 0; k < nc; k++)
			atomic_store(&xa_arenas[k]->decay_ms, (int64_t)v);
	}
	if (v >= 0)
		xa_background_kick();
	return 0;
}

CTL(background_thread) {
	bool cur = xa_background_enabled();
	if (WRITING(c)) {
		if (!xa_opt.background_thread && NEWVAL(c, bool))
			return EAGAIN; /* background_thread:false at start-up */
		if (xa_background_set(NEWVAL(c, bool)))
			return EAGAIN;
	}
	READ_AS(c, bool, cur);
	return 0;
}

CTL(release) {
	xa_release_all();
	return 0;
}

/* The background thread does it, at its next pass (it alone stops the
 * world: pages.c, "Compaction"). */
CTL(compact) {
	if (!xa_background_enabled())
		return EAGAIN;
	xa_pages_compact_request();
	xa_background_kick(); /* starts it if it has not started yet */
	return 0;
}

/* ---- epoch and stats.* ------------------------------------------------- */

void xa_ctl_postfork_child(void) { xa_mutex_init(&ctl_lock); }

/* ctl_lock held.  Returns true on error. */
static bool snap_ready(bool refresh) {
	if (ctl_snap == NULL) {
		ctl_snap = xa_base_alloc(sizeof(xa_snap_t));
		if (ctl_snap == NULL)
			return true;
		refresh = true;
	}
	if (refresh)
		xa_stats_refresh(ctl_snap);
	return false;
}

/* Takes ctl_lock with the snapshot in place; false (lock not held) when
 * there is no memory for it. */
static bool snap_lock(bool refresh) {
	xa_mutex_lock(&ctl_lock);
	if (!snap_ready(refresh))
		return true;
	xa_mutex_unlock(&ctl_lock);
	return false;
}

CTL(epoch) {
	if (!snap_lock(WRITING(c)))
		return EAGAIN;
	READ_AS(c, uint64_t, ctl_snap->epoch);
	xa_mutex_unlock(&ctl_lock);
	return 0;
}

#define KIND_T_B T_SIZE
#define KIND_T_N T_SIZE
#define KIND_T_P T_SIZE
#define KIND_T_C T_U64
#define KIND_T_M T_SIZE

static void read_kind(ctl_call_t *c, unsigned type, uint64_t v) {
	if (type == T_U64)
		READ_AS(c, uint64_t, v);
	else
		READ_AS(c, size_t, v);
}

/* The rows of each table as values, in table order (stats.h). */
#define X(name, kind, expr, doc) +1
enum { NSG = 0 XA_STATS_GLOBAL(X), NSA = 0 XA_STATS_ARENA(X), NSB = 0 XA_STATS_BIN(X),
	NSL = 0 XA_STATS_LEXTENT(X) };
#undef X
#define X(name, kind, expr, doc) out[k++] = (uint64_t)(expr);
static void vals_global(const xa_snap_t *s, uint64_t *out) {
	unsigned k = 0;
	XA_STATS_GLOBAL(X)
}
static void vals_arena(const xa_snap_arena_t *sa, uint64_t *out) {
	unsigned k = 0;
	XA_STATS_ARENA(X)
}
static void vals_bin(const xa_bin_stats_t *b, uint64_t *out) {
	unsigned k = 0;
	XA_STATS_BIN(X)
}
static void vals_lextent(const xa_snap_arena_t *sa, size_t j, uint64_t *out) {
	unsigned k = 0;
	XA_STATS_LEXTENT(X)
}
#undef X

/* ctl_lock held: the arena snapshot for index i, or NULL. */
static const xa_snap_arena_t *snap_arena(size_t i) {
	if (i == XA_ARENAS_ALL)
		return &ctl_snap->all;
	if (i < ctl_snap->narenas && ctl_snap->arenas[i] && ctl_snap->arenas[i]->present)
		return ctl_snap->arenas[i];
	return NULL;
}

/* A statistic: the table rows come first among their siblings, so the
 * leaf's position is its row.  stats.arenas.<i>.*: ENOENT for an arena
 * created after the last epoch. */
static int stats_read(const ctl_node_t *n, ctl_call_t *c, unsigned table) {
	uint64_t v[NSG + NSA + NSB + NSL];
	if (!snap_lock(false))
		return EAGAIN;
	const xa_snap_arena_t *sa = table == 0 ? NULL : snap_arena(c->idx[0]);
	if (table != 0 && sa == NULL) {
		xa_mutex_unlock(&ctl_lock);
		return ENOENT;
	}
	switch (table) {
	case 0:
		vals_global(ctl_snap, v);
		break;
	case 1:
		vals_arena(sa, v);
		break;
	case 2:
		vals_bin(&sa->bins[c->idx[1]], v);
		break;
	default:
		vals_lextent(sa, c->idx[1], v);
		break;
	}
	read_kind(c, n->type, v[c->pos]);
	xa_mutex_unlock(&ctl_lock);
	return 0;
}
CTL(stats) { return stats_read(n, c, 0); }
CTL(stats_arenas) { return stats_read(n, c, 1); }
CTL(stats_arenas_bins) { return stats_read(n, c, 2); }
CTL(stats_arenas_lextents) { return stats_read(n, c, 3); }

CTL(stats_arenas_decay_ms) {
	if (!snap_lock(false))
		return EAGAIN;
	const xa_snap_arena_t *sa = snap_arena(c->idx[0]);
	if (sa != NULL)
		READ_AS(c, ssize_t, sa->decay_ms);
	xa_mutex_unlock(&ctl_lock);
	return sa ? 0 : ENOENT;
}

CTL(stats_peak_reset) {
	xa_peak_reset();
	return 0;
}

/* ---- prof.*, thread.prof.active (src/prof.c) ----------------------------- */

/* A boolean switch of prof.c: read the old value, then write. */
#define CTL_PROF_SWITCH(name, get, set)                                            \
	CTL(name) {                                                                \
		bool cur = get();                                                  \
		int err = WRITING(c) ? set(NEWVAL(c, bool)) : 0;                   \
		if (err == 0)                                                      \
			READ_AS(c, bool, cur);                                     \
		return err;                                                        \
	}
CTL_PROF_SWITCH(prof_active, xa_prof_active_get, xa_prof_active_set)
CTL_PROF_SWITCH(prof_gdump, xa_prof_gdump_get, xa_prof_gdump_set)
CTL_PROF_SWITCH(thread_prof_active, xa_prof_thread_active_get, xa_prof_thread_active_set)

/* A file name, or NULL (or no value) for the default. */
CTL(prof_dump) { return xa_prof_dump(WRITING(c) ? NEWVAL(c, const char *) : NULL); }

/* Optionally a new lg_sample, validated by the option's row. */
CTL(prof_reset) {
	if (WRITING(c) && (NEWVAL(c, size_t) > INT64_MAX ||
	    !xa_opt_accepts(XA_OPTI_lg_prof_sample, (int64_t)NEWVAL(c, size_t))))
		return EINVAL;
	return xa_prof_reset(WRITING(c) ? (int)NEWVAL(c, size_t) : -1);
}

CTL_RO(prof_lg_sample, size_t, xa_prof_lg_sample_get())
CTL_RO(prof_interval, uint64_t, xa_prof_interval_get())

#define CTL_PROF_STAT(field)                   \
	CTL(prof_stats_##field) {              \
		xa_prof_stats_t st;            \
		xa_prof_stats(&st);            \
		READ_AS(c, uint64_t, st.field); \
		return 0;                      \
	}
CTL_PROF_STAT(nsamples)
CTL_PROF_STAT(nlive)
CTL_PROF_STAT(nstacks)
CTL_PROF_STAT(meta_bytes)
CTL_PROF_STAT(slab_bytes)
CTL_PROF_STAT(time_ns)
CTL_PROF_STAT(ndumps)

/* ---- the tree ------------------------------------------------------------ */

/* One initializer: inner nodes hold their children as compound literals. */
#define LEAF(nm, handler, t, access, text) \
	{.name = nm, .fn = ctl_##handler, .type = t, .rw = access, .doc = text}
#define NAMED(nm, ...)                                             \
	{.name = nm, .kids = (const ctl_node_t[]){__VA_ARGS__},     \
	    .nkids = XA_ARRAY_LEN(((const ctl_node_t[]){__VA_ARGS__}))}
/* An indexed node: valid(i) says whether i is in range; the children are
 * those of every index. */
#define INDEXED(nm, valid, ...) \
	{.name = nm, .ivalid = valid, .kids = (const ctl_node_t[]){NAMED("<i>", __VA_ARGS__)}}

/* The entry of a statistic: the row's doc and what its kind implies. */
#define KIND_DOC_B "."
#define KIND_DOC_N "."
#define KIND_DOC_C "."
#define KIND_DOC_P " (pages)."
#define KIND_DOC_M ", in milliseconds (Prometheus: seconds)."
#define STATS_LEAF(name, kind, expr, doc) LEAF(#name, stats, KIND_T_##kind, RO, doc KIND_DOC_##kind),
#define STATS_ALEAF(name, kind, expr, doc) LEAF(#name, stats_arenas, KIND_T_##kind, RO, doc KIND_DOC_##kind),
#define STATS_BLEAF(name, kind, expr, doc) \
	LEAF(#name, stats_arenas_bins, KIND_T_##kind, RO, doc KIND_DOC_##kind),
#define STATS_LLEAF(name, kind, expr, doc) \
	LEAF(#name, stats_arenas_lextents, KIND_T_##kind, RO, doc KIND_DOC_##kind),

static const ctl_node_t root = NAMED("",
    LEAF("version", version, T_STR, RO, "The library version, e.g. \"0.1.0\"."),
    LEAF("epoch", epoch, T_U64, RW,
	"Writing any value refreshes the statistics snapshot that every *stats.** name reads; reading returns "
	"the snapshot number. Without a write the values stay those of the previous refresh (the first stats "
	"read refreshes once)."),
    LEAF("background_thread", background_thread, T_BOOL, RW,
	"Whether the background thread releases freed memory of idle processes (when off, releases happen on "
	"allocator calls). Writing false then true switches it off and on again; writing true fails with "
	"EAGAIN only when the process started with *background_thread:false*. *opt.background_thread* keeps "
	"the start-up value."),
    LEAF("release", release, T_VOID, ACT,
	"Action: flush the calling thread's cache and release every unused page of every arena and the huge "
	"cache now (as *malloc_trim*(0), without its time budget)."),
    LEAF("compact", compact, T_VOID, ACT,
	"Action: ask the background thread to move the live run descriptors together now, as it does by "
	"itself when their pool has 512 KiB or more to gain (*opt.compact*): it stops every thread at its "
	"next slow path, once all of them are idle, and the next purge releases the emptied metadata pages. "
	"Returns at once; *stats.compact.passes* counts the passes done. EAGAIN when the background "
	"thread is off."),
    NAMED("config",
	LEAF("debug", config_debug, T_BOOL, RO, "Built with *--enable-debug* (internal assertions)."),
	LEAF("stats", config_stats, T_BOOL, RO,
	    "Statistics counters compiled in (*--disable-stats* turns the per-bin and per-arena event "
	    "counters off; byte counts stay)."),
	LEAF("prof", config_prof, T_BOOL, RO, "Heap profiling compiled in."),
	LEAF("prefix", config_prefix, T_STR, RO,
	    "The symbol prefix of the standard entry points (\"\" when xalloc replaces malloc)."),
	LEAF("page", config_page, T_SIZE, RO, "Page size in bytes (4096)."),
	LEAF("chunk", config_chunk, T_SIZE, RO,
	    "Chunk size in bytes: arenas map memory in chunks of this size; larger allocations are "
	    "\"huge\".")),
    {.name = "opt", .kids = opt_kids, .nkids = XA_OPTI_COUNT},
    NAMED("thread",
	NAMED("prof",
	    LEAF("active", thread_prof_active, T_BOOL, RW,
		"Sampling on or off for the calling thread only (default on).")),
	LEAF("allocated", thread_allocated, T_U64, RO,
	    "Usable bytes allocated by the calling thread since it started (always counted)."),
	LEAF("deallocated", thread_deallocated, T_U64, RO, "Usable bytes freed by the calling thread."),
	LEAF("arena", thread_arena, T_UNSIGNED, RW,
	    "The calling thread's arena. Writing an index below *arenas.narenas* binds the thread to that "
	    "arena (creating it if needed); EINVAL otherwise."),
	NAMED("tcache",
	    LEAF("flush", thread_tcache_flush, T_VOID, ACT,
		"Action: return every object in the calling thread's cache to its arena."),
	    LEAF("enabled", thread_tcache_enabled, T_BOOL, RW,
		"Whether the calling thread uses a thread cache. Writing false flushes and disables it; "
		"writing true re-enables it (EAGAIN under *tcache:false*)."))),
    NAMED("arenas",
	LEAF("narenas", arenas_narenas, T_UNSIGNED, RO,
	    "The maximum number of arenas: *narenas*, or one per CPU, until mallopt(M_ARENA_MAX) sets another "
	    "(*opt.narenas* keeps showing the start-up value)."),
	LEAF("ncreated", arenas_ncreated, T_UNSIGNED, RO,
	    "Arenas created so far (they are created lazily); valid arena indices are below this."),
	LEAF("nbins", arenas_nbins, T_UNSIGNED, RO, "Number of small size classes (bins)."),
	LEAF("nlextents", arenas_nlextents, T_UNSIGNED, RO, "Number of large size classes."),
	LEAF("decay_ms", arenas_decay_ms, T_SSIZE, RW,
	    "Default release time for arenas created later and for cached huge mappings, {range:decay_ms}. "
	    "Existing arenas keep theirs: see *arena.<i>.decay_ms*."),
	LEAF("purge_policy", arenas_purge_policy, T_STR, RW,
	    "How pages are released: \"dontneed\" (MADV_DONTNEED: RSS drops at once, pages become "
	    "retained) or \"free\" (MADV_FREE: lazy). Writing another string is EINVAL."),
	LEAF("tcache_max", arenas_tcache_max, T_SIZE, RO,
	    "Largest size cached by thread caches (0 without caches)."),
	INDEXED("bin", valid_bin,
	    LEAF("size", arenas_bin_size, T_SIZE, RO, "Size in bytes of small class ~i~."),
	    LEAF("nregs", arenas_bin_nregs, T_UNSIGNED, RO,
	        "Regions per slab of small class ~i~ (of its first slabs: see slab_size)."),
	    LEAF("slab_size", arenas_bin_slab_size, T_SIZE, RO,
	        "Bytes per slab of small class ~i~; a bin that has 256 slabs makes larger ones: for "
	        "classes above 1 KiB the same layout repeated, up to 64 KiB; for classes up to 256 "
	        "bytes, up to 256 regions (64 bytes: 16 KiB).")),
	INDEXED("lextent", valid_lextent,
	    LEAF("size", arenas_lextent_size, T_SIZE, RO, "Size in bytes of large class ~i~."))),
    INDEXED("arena", valid_arena_slot,
	LEAF("purge", arena_purge, T_VOID, ACT,
	    "Action: release every dirty page of arena ~i~ now; with ~i~ = 4096 (XALLOC_ARENAS_ALL), of "
	    "every arena and the cached huge mappings. An arena below *arenas.narenas* not created yet has "
	    "nothing to release: success, so a loop over *arenas.narenas* works."),
	LEAF("decay_ms", arena_decay_ms, T_SSIZE, RW,
	    "Release time of arena ~i~ in ms: dirty pages are released within this time of becoming "
	    "unused; 0 at once, -1 never. With ~i~ = 4096 reading gives the default and writing sets every "
	    "existing arena. ENOENT for an arena not created yet (it will start with *arenas.decay_ms*).")),
    NAMED("stats",
	XA_STATS_GLOBAL(STATS_LEAF)
	INDEXED("arenas", valid_arena,
	    XA_STATS_ARENA(STATS_ALEAF)
	    LEAF("decay_ms", stats_arenas_decay_ms, T_SSIZE, RO,
		"Release time of the arena (for 4096: the largest)."),
	    INDEXED("bins", valid_bin, XA_STATS_BIN(STATS_BLEAF)),
	    INDEXED("lextents", valid_lextent, XA_STATS_LEXTENT(STATS_LLEAF))),
	LEAF("peak.reset", stats_peak_reset, T_VOID, ACT,
	    "Action: start the high-water marks (*stats.peak.**) over from the current values; the "
	    "resident mark by writing 5 to /proc/self/clear_refs (where that is refused, it is sampled from "
	    "the RSS from then on). See PEAKS.")),
    NAMED("prof",
	LEAF("active", prof_active, T_BOOL, RW,
	    "Sampling on or off in every thread, at run time.  Writing true fails with ENOENT when "
	    "profiling is compiled out."),
	LEAF("dump", prof_dump, T_STR, WO,
	    "Write a heap profile to the given file, or with a NULL value (or no value) to "
	    "~<prof_prefix>.<pid>.<seq>.heap~. The file is created with O_EXCL|O_NOFOLLOW and mode 0600: an "
	    "existing file fails with EEXIST."),
	LEAF("reset", prof_reset, T_SIZE, WO,
	    "Forget every sample (live and cumulative); with a value, also set *lg_sample* "
	    "({range:lg_prof_sample}, EINVAL otherwise).  Objects sampled before keep working; their frees "
	    "are no longer counted."),
	LEAF("lg_sample", prof_lg_sample, T_SIZE, RO,
	    "The sampling rate in force, as lg of the mean interval in bytes."),
	LEAF("interval", prof_interval, T_U64, RO,
	    "Bytes between interval dumps (2^*lg_prof_interval*), 0 when off."),
	LEAF("gdump", prof_gdump, T_BOOL, RW, "High-water-mark dumps on or off."),
	NAMED("stats",
	    LEAF("nsamples", prof_stats_nsamples, T_U64, RO, "Samples taken since start or the last reset."),
	    LEAF("nlive", prof_stats_nlive, T_U64, RO, "Sampled objects not yet freed."),
	    LEAF("nstacks", prof_stats_nstacks, T_U64, RO, "Distinct call stacks stored."),
	    LEAF("metadata", prof_stats_meta_bytes, T_U64, RO,
		"Bytes of metadata the profiler took: its hash tables (including the smaller ones outgrown), "
		"stack records and per-arena slab bins."),
	    LEAF("slab_bytes", prof_stats_slab_bytes, T_U64, RO,
		"Bytes of the slabs that hold sampled small objects."),
	    LEAF("time_ns", prof_stats_time_ns, T_U64, RO,
		"Nanoseconds spent sampling (placement, unwinding, recording), freeing sampled objects and "
		"writing dumps, over all threads."),
	    LEAF("ndumps", prof_stats_ndumps, T_U64, RO, "Heap profiles written."))));

static bool node_indexed(const ctl_node_t *n) { return n->fn == NULL && n->ivalid != NULL; }

/* ---- lookup --------------------------------------------------------------- */

/* Resolve a mib to its leaf; the indices met on the way and the leaf's
 * position go to c. */
static int ctl_resolve(const size_t *mib, size_t miblen, const ctl_node_t **leaf, ctl_call_t *c) {
	const ctl_node_t *n = &root;
	unsigned nidx = 0;
	if (mib == NULL || miblen == 0 || miblen > CTL_MAXDEPTH)
		return ENOENT;
	for (size_t d = 0; d < miblen; d++) {
		if (n->fn != NULL)
			return ENOENT; /* path continues past a leaf */
		if (node_indexed(n)) {
			if (!n->ivalid(mib[d]))
				return ENOENT;
			c->idx[nidx++] = mib[d];
			n = &n->kids[0];
		} else {
			if (mib[d] >= n->nkids)
				return ENOENT;
			c->pos = (unsigned)mib[d];
			n = &n->kids[mib[d]];
		}
	}
	if (n->fn == NULL)
		return ENOENT; /* an inner node */
	*leaf = n;
	return 0;
}

static int ctl_name2mib(const char *name, size_t *mib, size_t *miblen) {
	const ctl_node_t *n = &root;
	size_t d = 0;
	const char *p = name;
	if (name == NULL)
		return EINVAL;
	while (*p != '\0') {
		if (n->fn != NULL || d == CTL_MAXDEPTH)
			return ENOENT;
		if (node_indexed(n)) {
			size_t v = 0;
			const char *q = p;
			while (*q >= '0' && *q <= '9') {
				if (v > (SIZE_MAX - 9) / 10)
					return ENOENT;
				v = v * 10 + (size_t)(*q - '0');
				q++;
			}
			if (q == p || (*q != '.' && *q != '\0') || !n->ivalid(v))
				return ENOENT;
			mib[d++] = v;
			n = &n->kids[0];
			p = q;
		} else {
			unsigned nk = n->nkids, k;
			const ctl_node_t *kid = NULL;
			size_t len = 0;
			for (k = 0; k < nk; k++) {
				kid = &n->kids[k];
				len = strlen(kid->name);
				if (strncmp(p, kid->name, len) == 0 && (p[len] == '.' || p[len] == '\0'))
					break;
			}
			if (k == nk)
				return ENOENT;
			mib[d++] = k;
			n = kid;
			p += len;
		}
		if (*p == '.') {
			p++;
			if (*p == '\0')
				return ENOENT;
		}
	}
	if (d == 0)
		return ENOENT;
	*miblen = d;
	return 0;
}

static int ctl_call(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp, size_t newlen) {
	if (!xa_initialized() && xa_init_slow())
		return EAGAIN;
	const ctl_node_t *leaf;
	ctl_call_t c = {.oldp = oldp, .oldlenp = oldlenp, .newp = newp, .newlen = newlen};
	int err = ctl_resolve(mib, miblen, &leaf, &c);
	if (err)
		return err;
	err = io_check(leaf, &c);
	if (err)
		return err;
	return leaf->fn(leaf, &c);
}

XA_EXPORT int xallocctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen) {
	size_t mib[CTL_MAXDEPTH], miblen;
	int err = ctl_name2mib(name, mib, &miblen);
	if (err)
		return err;
	return ctl_call(mib, miblen, oldp, oldlenp, newp, newlen);
}

XA_EXPORT int xallocctl_nametomib(const char *name, size_t *mibp, size_t *miblenp) {
	size_t mib[CTL_MAXDEPTH], miblen;
	if (mibp == NULL || miblenp == NULL)
		return EINVAL;
	int err = ctl_name2mib(name, mib, &miblen);
	if (err)
		return err;
	/* As mallctlnametomib: *miblenp in, the capacity; out, the length. */
	if (*miblenp < miblen)
		return EINVAL;
	memcpy(mibp, mib, miblen * sizeof(size_t));
	*miblenp = miblen;
	return 0;
}

XA_EXPORT int xallocctl_bymib(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
    size_t newlen) {
	return ctl_call(mib, miblen, oldp, oldlenp, newp, newlen);
}

/* ---- the list of names (tests, man page check) --------------------------- */

static const char *const type_names[] = {"void", "bool", "unsigned", "size_t", "uint64_t", "ssize_t",
    "const char *"};
static const char *const rw_names[] = {"-", "r-", "-w", "rw"};

/* depth: index components met so far (names them <i>, then <j>). */
static void names_walk(const ctl_node_t *n, char *buf, size_t len, unsigned depth,
    xa_ctl_name_fn *fn, void *arg) {
	if (n->fn != NULL) {
		fn(arg, buf, type_names[n->type], rw_names[n->rw], n->doc);
		return;
	}
	if (node_indexed(n)) {
		xa_snprintf(buf + len, 256 - len, ".%s", depth == 0 ? "<i>" : "<j>");
		names_walk(&n->kids[0], buf, strlen(buf), depth + 1, fn, arg);
		buf[len] = '\0';
		return;
	}
	for (unsigned k = 0; k < n->nkids; k++) {
		const ctl_node_t *kid = &n->kids[k];
		xa_snprintf(buf + len, 256 - len, "%s%s", len ? "." : "", kid->name);
		names_walk(kid, buf, strlen(buf), depth, fn, arg);
		buf[len] = '\0';
	}
}

void xa_ctl_names(xa_ctl_name_fn *fn, void *arg) {
	char buf[256] = "";
	names_walk(&root, buf, 0, 0, fn, arg);
}
