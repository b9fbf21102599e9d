/*
 * ctl.c -- the xallocctl namespace: a static tree of named and indexed
 * nodes, like a filesystem.
 *
 * Owns: the tree, name <-> mib translation, the argument checks (ENOENT,
 * EINVAL, EPERM) and the leaf handlers.  The opt.* subtree is generated
 * from options.def and the stats.* subtrees from the tables in ctl.h, so
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
 * Adding a name: a LEAF row in the right children array below (a handler,
 * its arg, the value's type, access and doc string); a statistic: a row in
 * the tables of ctl.h.  The doc string is the name's xalloc(3) entry:
 * man/gen_ctl_sections.py writes the CONTROL NAMESPACE from the tree
 * (markup: *bold*, ~italic~), and test/unit/man_generated.sh fails when the
 * committed page differs.
 */
#include "internal.h"

#include "ctl.h"

enum { T_VOID, T_BOOL, T_UNSIGNED, T_SIZE, T_U64, T_SSIZE, T_STR };
enum { RO = 1, WO = 2, RW = 3, ACT = 0 };

typedef struct {
	void *oldp;
	size_t *oldlenp;
	void *newp;
	size_t newlen;
} ctl_io_t;

typedef struct ctl_node_s ctl_node_t;
/* idx: the index components met on the way, in order. */
typedef int ctl_fn_t(const ctl_node_t *n, const size_t *idx, ctl_io_t *io);

struct ctl_node_s {
	const char *name;        /* "<i>" for the template child of an indexed node */
	const ctl_node_t *kids;  /* named children, or the one template child */
	unsigned nkids;          /* named children; 0 with kids: indexed */
	bool (*ivalid)(const size_t *idx, size_t i); /* indexed: is i in range */
	ctl_fn_t *fn;            /* leaf */
	unsigned arg;
	uint8_t type, rw;
	const char *doc;         /* leaf: its xalloc(3) entry (see DOC MARKUP) */
};

#define CTL_MAXDEPTH 8

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
static int io_check(const ctl_node_t *n, const ctl_io_t *io) {
	bool wants_write = io->newp != NULL || io->newlen != 0;
	bool wants_read = io->oldp != NULL || io->oldlenp != NULL;
	if (n->rw == ACT)
		return wants_write || wants_read ? EINVAL : 0;
	if (wants_write) {
		if (!(n->rw & WO))
			return EPERM;
		if (io->newp == NULL || io->newlen != type_size(n->type))
			return EINVAL;
	}
	if (wants_read) {
		if (!(n->rw & RO))
			return EPERM;
		if (io->oldp == NULL || io->oldlenp == NULL || *io->oldlenp != type_size(n->type))
			return EINVAL;
	}
	return 0;
}

static void io_read(ctl_io_t *io, const void *v, size_t size) {
	if (io->oldp != NULL)
		memcpy(io->oldp, v, size);
}

#define READ_AS(io, T, expr)                           \
	do {                                           \
		T v_ = (T)(expr);                      \
		io_read((io), &v_, sizeof(v_));        \
	} while (0)
#define WRITING(io) ((io)->newp != NULL)
#define NEWVAL(io, T) (*(const T *)(io)->newp)

/* ---- version, config --------------------------------------------------- */

static int fn_version(const ctl_node_t *n, const size_t *idx, ctl_io_t *io) {
	READ_AS(io, const char *, PACKAGE_VERSION);
	return 0;
}

static const char ctl_prefix[] = XA_STRINGIFY(XALLOC_PREFIX);

static int fn_config(const ctl_node_t *n, const size_t *idx, ctl_io_t *io) {
	switch (n->arg) {
	case 0:
		READ_AS(io, bool, config_debug);
		break;
	case 1:
		READ_AS(io, bool, config_stats);
		break;
	case 2:
		READ_AS(io, bool, config_prof);
		break;
	case 3:
		READ_AS(io, const char *, ctl_prefix);
		break;
	case 4:
		READ_AS(io, size_t, PAGE);
		break;
	case 5:
		READ_AS(io, size_t, CHUNK);
		break;
	}
	return 0;
}

/* ---- opt.* from options.def ------------------------------------------- */

enum {
#define XA_OPT(name, type, def, min, max, choices, doc) OPTI_##name,
#include "options.def"
#undef XA_OPT
	OPTI_COUNT
};
/* ENUM and SLACK values read as strings, formatted once (options are
 * fixed after start-up).  The C type of each opt.* value is OPT_CT_* below;
 * man/gen_ctl_sections.py prints the same type in OPTIONS. */
static char opt_str[OPTI_COUNT][48];
static bool opt_str_ready;

static int fn_opt(const ctl_node_t *n, const size_t *idx, ctl_io_t *io) {
	const xa_opt_desc_t *d = &xa_opt_table[n->arg];
	const char *base = (const char *)&xa_opt + d->offset;
	switch (d->type) {
	case XA_OPT_T_BOOL:
		READ_AS(io, bool, *(const bool *)base);
		break;
	case XA_OPT_T_INT:
		READ_AS(io, ssize_t, *(const int64_t *)base);
		break;
	case XA_OPT_T_UNSIGNED: /* small counts (narenas, lg_prof_sample) */
		READ_AS(io, unsigned, *(const uint64_t *)base);
		break;
	case XA_OPT_T_SIZE:
		READ_AS(io, size_t, *(const uint64_t *)base);
		break;
	case XA_OPT_T_STRING:
		READ_AS(io, const char *, base);
		break;
	default: /* ENUM, SLACK */
		xa_mutex_lock(&ctl_lock);
		if (!opt_str_ready) {
			for (unsigned i = 0; i < OPTI_COUNT; i++)
				xa_opt_format(&xa_opt, &xa_opt_table[i], opt_str[i], sizeof(opt_str[i]));
			opt_str_ready = true;
		}
		xa_mutex_unlock(&ctl_lock);
		READ_AS(io, const char *, opt_str[n->arg]);
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
#define XA_OPT(name, type, def, min, max, choices, doc) \
	{#name, NULL, 0, NULL, fn_opt, OPTI_##name, OPT_CT_##type, RO, "The option *" #name "* in force (see OPTIONS)."},
#include "options.def"
#undef XA_OPT
};

/* Run-time writes of a setting that is also an option are validated by the
 * option's own row of options.def, so the two ranges cannot drift apart. */
static bool opt_row_accepts(unsigned opti, int64_t v) {
	const xa_opt_desc_t *d = &xa_opt_table[opti];
	return v >= d->min && (v < 0 || (uint64_t)v <= d->max);
}

/* ENUM option: the index of the choice named s, or -1. */
static int opt_row_choice(unsigned opti, const char *s) {
	char buf[32];
	for (unsigned i = 0; i < 8; i++) {
		const char *name = xa_opt_enum_name(&xa_opt_table[opti], i, buf, sizeof(buf));
		if (name[0] >= '0' && name[0] <= '9')
			return -1; /* past the last choice: formatted as a number */
		if (strcmp(name, s) == 0)
			return (int)i;
	}
	return -1;
}

/* ---- thread.* ---------------------------------------------------------- */

static int fn_thread_locked(const ctl_node_t *n, xa_tsd_t *t, ctl_io_t *io);

/* The calling thread's cache and arena, entered like an allocator slow
 * path: the background thread may be reclaiming the cache of this thread
 * (idle.c), and until xa_tsd_enter has waited for it and restored nbins,
 * nbins reads 0 and the stacks are not ours to touch. */
static int fn_thread(const ctl_node_t *n, const size_t *idx, ctl_io_t *io) {
	xa_tsd_t *t = xa_tsd_boot();
	if (t->state != TSD_NOMINAL) /* exiting: no cache to race for */
		return fn_thread_locked(n, t, io);
	xa_tsd_enter(t);
	int err = fn_thread_locked(n, t, io);
	xa_tsd_leave(t);
	return err;
}

static int fn_thread_locked(const ctl_node_t *n, xa_tsd_t *t, ctl_io_t *io) {
	switch (n->arg) {
	case 0:
		READ_AS(io, uint64_t, XA_RELAXED_LOAD(t->allocated));
		break;
	case 1:
		READ_AS(io, uint64_t, XA_RELAXED_LOAD(t->deallocated));
		break;
	case 2: { /* arena */
		unsigned cur = t->arena ? t->arena->ind : 0;
		if (WRITING(io)) {
			unsigned ind = NEWVAL(io, unsigned);
			if (ind >= xa_stats_arena_max())
				return EINVAL;
			xa_arena_t *a = xa_arena_get(ind, true);
			if (a == NULL)
				return EAGAIN;
			io_read(io, &cur, sizeof(cur));
			if (a != t->arena) {
				atomic_fetch_add(&a->nthreads, 1);
				xa_arena_thread_leave(t->arena);
				t->arena = a;
				t->arena_pinned = 1;
			}
			return 0;
		}
		READ_AS(io, unsigned, cur);
		break;
	}
	case 3: /* tcache.flush */
		xa_tcache_flush_all(t);
		break;
	case 4: { /* tcache.enabled */
		bool cur = t->nbins != 0;
		if (WRITING(io)) {
			bool want = NEWVAL(io, bool);
			if (want && !cur && (xa_tcache_nbins == 0 || xa_tcache_init(t)))
				return EAGAIN; /* tcache:false, or no metadata memory */
			if (!want && cur)
				xa_tcache_destroy(t);
		}
		READ_AS(io, bool, cur);
		break;
	}
	}
	return 0;
}

/* ---- arenas.*, arena.<i>.*, background_thread, release ------------------ */

static bool valid_bin(const size_t *idx, size_t i) { return i < SC_NSMALL; }
static bool valid_lextent(const size_t *idx, size_t i) { return i < SC_NCLASSES - SC_NSMALL; }
static bool valid_arena(const size_t *idx, size_t i) {
	return i == XA_ARENAS_ALL || i < atomic_load(&xa_narenas_created);
}
/* arena.<i>: any index below arenas.narenas, created or not, so that a loop
 * over arenas.narenas works (as jemalloc's arena.<i>.purge). */
static bool valid_arena_slot(const size_t *idx, size_t i) {
	return i == XA_ARENAS_ALL || i < xa_stats_arena_max();
}

static int fn_arenas(const ctl_node_t *n, const size_t *idx, ctl_io_t *io) {
	switch (n->arg) {
	case 0:
		READ_AS(io, unsigned, xa_stats_arena_max());
		break;
	case 1:
		READ_AS(io, unsigned, atomic_load(&xa_narenas_created));
		break;
	case 2:
		READ_AS(io, unsigned, SC_NSMALL);
		break;
	case 3:
		READ_AS(io, unsigned, SC_NCLASSES - SC_NSMALL);
		break;
	case 4: /* decay_ms */
		if (WRITING(io)) {
			ssize_t v = NEWVAL(io, ssize_t);
			if (!opt_row_accepts(OPTI_decay_ms, v))
				return EINVAL;
			READ_AS(io, ssize_t, atomic_load(&xa_decay_default_ms));
			atomic_store(&xa_decay_default_ms, (int64_t)v);
			return 0;
		}
		READ_AS(io, ssize_t, atomic_load(&xa_decay_default_ms));
		break;
	case 5: { /* purge_policy */
		/* XA_PURGE_* order, which is the order of the option's choices */
		static const char *const names[] = {"dontneed", "free"};
		unsigned cur = atomic_load(&xa_purge_policy);
		if (WRITING(io)) {
			const char *v = NEWVAL(io, const char *);
			int p = v ? opt_row_choice(OPTI_purge, v) : -1;
			if (p < 0)
				return EINVAL;
			READ_AS(io, const char *, names[cur & 1]);
			atomic_store(&xa_purge_policy, (unsigned)p);
			return 0;
		}
		READ_AS(io, const char *, names[cur & 1]);
		break;
	}
	case 6:
		READ_AS(io, size_t, xa_opt.tcache ? xa_opt.tcache_max : 0);
		break;
	case 10: /* bin.<i>.size */
		READ_AS(io, size_t, xa_sc[idx[0]].size);
		break;
	case 11:
		READ_AS(io, unsigned, xa_sc[idx[0]].nregs);
		break;
	case 12:
		READ_AS(io, size_t, (size_t)xa_sc[idx[0]].npages * PAGE);
		break;
	case 13: /* lextent.<i>.size */
		READ_AS(io, size_t, xa_sc[SC_NSMALL + idx[0]].size);
		break;
	}
	return 0;
}

static int fn_arena(const ctl_node_t *n, const size_t *idx, ctl_io_t *io) {
	size_t i = idx[0];
	xa_arena_t *a = i == XA_ARENAS_ALL ? NULL : xa_arena_get((unsigned)i, false);
	switch (n->arg) {
	case 0: /* purge: everything dirty now; nothing to do in an arena not
		 * created yet */
		if (a)
			xa_pages_purge(a, true);
		else if (i == XA_ARENAS_ALL)
			xa_arenas_purge(true);
		break;
	case 1: { /* decay_ms: an arena not created yet has none */
		if (i != XA_ARENAS_ALL && a == NULL)
			return ENOENT;
		int64_t cur = a ? atomic_load(&a->decay_ms) : atomic_load(&xa_decay_default_ms);
		if (WRITING(io)) {
			ssize_t v = NEWVAL(io, ssize_t);
			if (!opt_row_accepts(OPTI_decay_ms, v))
				return EINVAL;
			READ_AS(io, ssize_t, cur);
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
		READ_AS(io, ssize_t, cur);
		break;
	}
	}
	return 0;
}

static int fn_background(const ctl_node_t *n, const size_t *idx, ctl_io_t *io) {
	bool cur = xa_background_enabled();
	if (WRITING(io)) {
		if (!xa_opt.background_thread && NEWVAL(io, bool))
			return EAGAIN; /* background_thread:false at start-up */
		if (xa_background_set(NEWVAL(io, bool)))
			return EAGAIN;
	}
	READ_AS(io, bool, cur);
	return 0;
}

static int fn_release(const ctl_node_t *n, const size_t *idx, ctl_io_t *io) {
	xa_release_all();
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

static int fn_epoch(const ctl_node_t *n, const size_t *idx, ctl_io_t *io) {
	xa_mutex_lock(&ctl_lock);
	if (snap_ready(WRITING(io))) {
		xa_mutex_unlock(&ctl_lock);
		return EAGAIN;
	}
	READ_AS(io, uint64_t, ctl_snap->epoch);
	xa_mutex_unlock(&ctl_lock);
	return 0;
}

#define KIND_T_B T_SIZE
#define KIND_T_N T_SIZE
#define KIND_T_P T_SIZE
#define KIND_T_C T_U64
#define KIND_T_M T_SIZE

static void read_kind(ctl_io_t *io, unsigned type, uint64_t v) {
	if (type == T_U64)
		READ_AS(io, uint64_t, v);
	else
		READ_AS(io, size_t, v);
}

/* The rows of each table as values, in table order (ctl.h). */
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

static const ctl_node_t stats_global_leaves[NSG], stats_arena_leaves[NSA], stats_bin_leaves[NSB],
    stats_lextent_leaves[NSL];

static int fn_stats(const ctl_node_t *n, const size_t *idx, ctl_io_t *io) {
	uint64_t v[NSG];
	xa_mutex_lock(&ctl_lock);
	if (snap_ready(false)) {
		xa_mutex_unlock(&ctl_lock);
		return EAGAIN;
	}
	vals_global(ctl_snap, v);
	read_kind(io, n->type, v[n - stats_global_leaves]);
	xa_mutex_unlock(&ctl_lock);
	return 0;
}

/* ctl_lock held: the arena snapshot for index i, or NULL. */
static const xa_snap_arena_t *snap_arena(size_t i) {
	if (i == XA_ARENAS_ALL)
		return &ctl_snap->all;
	if (i < ctl_snap->narenas && ctl_snap->arenas[i] && ctl_snap->arenas[i]->present)
		return ctl_snap->arenas[i];
	return NULL;
}

/* stats.arenas.<i>.{<arena row>, bins.<j>.<bin row>, lextents.<j>.<row>} */
static int fn_stats_arena(const ctl_node_t *n, const size_t *idx, ctl_io_t *io) {
	uint64_t v[NSA + NSB + NSL], r = 0;
	xa_mutex_lock(&ctl_lock);
	if (snap_ready(false)) {
		xa_mutex_unlock(&ctl_lock);
		return EAGAIN;
	}
	const xa_snap_arena_t *sa = snap_arena(idx[0]);
	if (sa == NULL) {
		xa_mutex_unlock(&ctl_lock);
		return ENOENT; /* created after the last epoch */
	}
	if (n >= stats_arena_leaves && n < stats_arena_leaves + NSA) {
		vals_arena(sa, v);
		r = v[n - stats_arena_leaves];
	} else if (n >= stats_bin_leaves && n < stats_bin_leaves + NSB) {
		vals_bin(&sa->bins[idx[1]], v);
		r = v[n - stats_bin_leaves];
	} else {
		vals_lextent(sa, idx[1], v);
		r = v[n - stats_lextent_leaves];
	}
	read_kind(io, n->type, r);
	xa_mutex_unlock(&ctl_lock);
	return 0;
}

static int fn_stats_arena_decay(const ctl_node_t *n, const size_t *idx, ctl_io_t *io) {
	xa_mutex_lock(&ctl_lock);
	if (snap_ready(false)) {
		xa_mutex_unlock(&ctl_lock);
		return EAGAIN;
	}
	const xa_snap_arena_t *sa = snap_arena(idx[0]);
	if (sa != NULL)
		READ_AS(io, ssize_t, sa->decay_ms);
	xa_mutex_unlock(&ctl_lock);
	return sa ? 0 : ENOENT;
}

/* ---- prof.*, thread.prof.active (src/prof.c) ----------------------------- */

static int fn_prof(const ctl_node_t *n, const size_t *idx, ctl_io_t *io) {
	int err = 0;
	xa_prof_stats_t st;
	if (n->arg >= 10 && n->arg < 20)
		xa_prof_stats(&st);
	switch (n->arg) {
	case 0: { /* prof.active */
		bool cur = xa_prof_active_get();
		if (WRITING(io) && (err = xa_prof_active_set(NEWVAL(io, bool))) != 0)
			return err;
		READ_AS(io, bool, cur);
		break;
	}
	case 1: /* prof.dump: a file name, or NULL (or no value) for the default */
		return xa_prof_dump(WRITING(io) ? NEWVAL(io, const char *) : NULL);
	case 2: /* prof.reset: optionally a new lg_sample */
		if (WRITING(io) && (NEWVAL(io, size_t) > INT64_MAX ||
		    !opt_row_accepts(OPTI_lg_prof_sample, (int64_t)NEWVAL(io, size_t))))
			return EINVAL;
		return xa_prof_reset(WRITING(io) ? (int)NEWVAL(io, size_t) : -1);
	case 3:
		READ_AS(io, size_t, xa_prof_lg_sample_get());
		break;
	case 4:
		READ_AS(io, uint64_t, xa_prof_interval_get());
		break;
	case 5: { /* prof.gdump */
		bool cur = xa_prof_gdump_get();
		if (WRITING(io) && (err = xa_prof_gdump_set(NEWVAL(io, bool))) != 0)
			return err;
		READ_AS(io, bool, cur);
		break;
	}
	case 10: READ_AS(io, uint64_t, st.nsamples); break;
	case 11: READ_AS(io, uint64_t, st.nlive); break;
	case 12: READ_AS(io, uint64_t, st.nstacks); break;
	case 13: READ_AS(io, uint64_t, st.meta_bytes); break;
	case 14: READ_AS(io, uint64_t, st.slab_bytes); break;
	case 15: READ_AS(io, uint64_t, st.time_ns); break;
	case 16: READ_AS(io, uint64_t, st.ndumps); break;
	case 20: { /* thread.prof.active */
		bool cur = xa_prof_thread_active_get();
		if (WRITING(io) && (err = xa_prof_thread_active_set(NEWVAL(io, bool))) != 0)
			return err;
		READ_AS(io, bool, cur);
		break;
	}
	}
	return 0;
}

/* ---- the tree ------------------------------------------------------------ */

#define LEAF(nm, fn, arg, type, rw, doc) {nm, NULL, 0, NULL, fn, arg, type, rw, doc}
#define NAMED(nm, kids) {nm, kids, XA_ARRAY_LEN(kids), NULL, NULL, 0, 0, 0}
#define INDEXED(nm, kid, valid) {nm, kid, 0, valid, NULL, 0, 0, 0}

static const ctl_node_t config_kids[] = {
	LEAF("debug", fn_config, 0, T_BOOL, RO,
	    "Built with *--enable-debug* (internal assertions)."),
	LEAF("stats", fn_config, 1, T_BOOL, RO,
	    "Statistics counters compiled in (*--disable-stats* turns the per-bin and per-arena event counters off; byte counts stay)."),
	LEAF("prof", fn_config, 2, T_BOOL, RO,
	    "Heap profiling compiled in."),
	LEAF("prefix", fn_config, 3, T_STR, RO,
	    "The symbol prefix of the standard entry points (\"\" when xalloc replaces malloc)."),
	LEAF("page", fn_config, 4, T_SIZE, RO,
	    "Page size in bytes (4096)."),
	LEAF("chunk", fn_config, 5, T_SIZE, RO,
	    "Chunk size in bytes: arenas map memory in chunks of this size; larger allocations are \"huge\"."),
};

static const ctl_node_t tcache_kids[] = {
	LEAF("flush", fn_thread, 3, T_VOID, ACT,
	    "Action: return every object in the calling thread's cache to its arena."),
	LEAF("enabled", fn_thread, 4, T_BOOL, RW,
	    "Whether the calling thread uses a thread cache. Writing false flushes and disables it; writing true re-enables it (EAGAIN under *tcache:false*)."),
};
static const ctl_node_t thread_prof_kids[] = {
	LEAF("active", fn_prof, 20, T_BOOL, RW,
	    "Sampling on or off for the calling thread only (default on)."),
};
static const ctl_node_t thread_kids[] = {
	NAMED("prof", thread_prof_kids),
	LEAF("allocated", fn_thread, 0, T_U64, RO,
	    "Usable bytes allocated by the calling thread since it started (always counted)."),
	LEAF("deallocated", fn_thread, 1, T_U64, RO,
	    "Usable bytes freed by the calling thread."),
	LEAF("arena", fn_thread, 2, T_UNSIGNED, RW,
	    "The calling thread's arena. Writing an index below *arenas.narenas* binds the thread to that arena (creating it if needed); EINVAL otherwise."),
	NAMED("tcache", tcache_kids),
};

static const ctl_node_t arenas_bin_leaves[] = {
	LEAF("size", fn_arenas, 10, T_SIZE, RO,
	    "Size in bytes of small class ~i~."),
	LEAF("nregs", fn_arenas, 11, T_UNSIGNED, RO,
	    "Regions per slab of small class ~i~."),
	LEAF("slab_size", fn_arenas, 12, T_SIZE, RO,
	    "Bytes per slab of small class ~i~."),
};
static const ctl_node_t arenas_bin_i[] = {NAMED("<i>", arenas_bin_leaves)};
static const ctl_node_t arenas_lextent_leaves[] = {
	LEAF("size", fn_arenas, 13, T_SIZE, RO,
	    "Size in bytes of large class ~i~."),
};
static const ctl_node_t arenas_lextent_i[] = {NAMED("<i>", arenas_lextent_leaves)};
static const ctl_node_t arenas_kids[] = {
	LEAF("narenas", fn_arenas, 0, T_UNSIGNED, RO,
	    "The maximum number of arenas (*narenas*, or one per CPU)."),
	LEAF("ncreated", fn_arenas, 1, T_UNSIGNED, RO,
	    "Arenas created so far (they are created lazily); valid arena indices are below this."),
	LEAF("nbins", fn_arenas, 2, T_UNSIGNED, RO,
	    "Number of small size classes (bins)."),
	LEAF("nlextents", fn_arenas, 3, T_UNSIGNED, RO,
	    "Number of large size classes."),
	LEAF("decay_ms", fn_arenas, 4, T_SSIZE, RW,
	    "Default release time for arenas created later and for cached huge mappings, -1 to 3600000. Existing arenas keep theirs: see *arena.<i>.decay_ms*."),
	LEAF("purge_policy", fn_arenas, 5, T_STR, RW,
	    "How pages are released: \"dontneed\" (MADV_DONTNEED: RSS drops at once, pages become retained) or \"free\" (MADV_FREE: lazy). Writing another string is EINVAL."),
	LEAF("tcache_max", fn_arenas, 6, T_SIZE, RO,
	    "Largest size cached by thread caches (0 without caches)."),
	INDEXED("bin", arenas_bin_i, valid_bin),
	INDEXED("lextent", arenas_lextent_i, valid_lextent),
};

static const ctl_node_t arena_leaves[] = {
	LEAF("purge", fn_arena, 0, T_VOID, ACT,
	    "Action: release every dirty page of arena ~i~ now; with ~i~ = 4096 (XALLOC_ARENAS_ALL), of every arena and the cached huge mappings. An arena below *arenas.narenas* not created yet has nothing to release: success, so a loop over *arenas.narenas* works."),
	LEAF("decay_ms", fn_arena, 1, T_SSIZE, RW,
	    "Release time of arena ~i~ in ms: dirty pages are released within this time of becoming unused; 0 at once, -1 never. With ~i~ = 4096 reading gives the default and writing sets every existing arena. ENOENT for an arena not created yet (it will start with *arenas.decay_ms*)."),
};
static const ctl_node_t arena_i[] = {NAMED("<i>", arena_leaves)};


/* The entry of a statistic: the row's doc and what its kind implies. */
#define KIND_DOC_B "."
#define KIND_DOC_N "."
#define KIND_DOC_C "."
#define KIND_DOC_P " (pages)."
#define KIND_DOC_M ", in milliseconds (Prometheus: seconds)."
#define STATS_LEAF(name, kind, expr, doc) LEAF(#name, fn_stats, 0, KIND_T_##kind, RO, doc KIND_DOC_##kind),
#define STATS_ALEAF(name, kind, expr, doc) LEAF(#name, fn_stats_arena, 0, KIND_T_##kind, RO, doc KIND_DOC_##kind),
static const ctl_node_t stats_global_leaves[NSG] = {XA_STATS_GLOBAL(STATS_LEAF)};
static const ctl_node_t stats_arena_leaves[NSA] = {XA_STATS_ARENA(STATS_ALEAF)};
static const ctl_node_t stats_bin_leaves[NSB] = {XA_STATS_BIN(STATS_ALEAF)};
static const ctl_node_t stats_lextent_leaves[NSL] = {XA_STATS_LEXTENT(STATS_ALEAF)};

static const ctl_node_t stats_bin_j[] = {NAMED("<j>", stats_bin_leaves)};
static const ctl_node_t stats_lextent_j[] = {NAMED("<j>", stats_lextent_leaves)};
static const ctl_node_t stats_arena_extra[] = {
	LEAF("decay_ms", fn_stats_arena_decay, 0, T_SSIZE, RO,
	    "Release time of the arena (for 4096: the largest)."),
	INDEXED("bins", stats_bin_j, valid_bin),
	INDEXED("lextents", stats_lextent_j, valid_lextent),
};
/* stats.arenas.<i>: the table rows, then the extras (a lookup searches
 * two arrays: see node_kid). */
static const ctl_node_t stats_arena_i[] = {
	{"<i>", stats_arena_leaves, NSA, NULL, NULL, 1 /* + extras */, 0, 0},
};

static int fn_peak_reset(const ctl_node_t *n, const size_t *idx, ctl_io_t *io) {
	xa_peak_reset();
	return 0;
}

static const ctl_node_t stats_kids_extra[] = {
	INDEXED("arenas", stats_arena_i, valid_arena),
	LEAF("peak.reset", fn_peak_reset, 0, T_VOID, ACT,
	    "Action: start the high-water marks (*stats.peak.**) over from the current values; the resident mark by writing 5 to /proc/self/clear_refs (where that is refused, it is sampled from the RSS from then on). See PEAKS."),
};
static const ctl_node_t stats_node[] = {
	{"stats", stats_global_leaves, NSG, NULL, NULL, 2 /* + extras */, 0, 0},
};

static const ctl_node_t prof_stats_kids[] = {
	LEAF("nsamples", fn_prof, 10, T_U64, RO,
	    "Samples taken since start or the last reset."),
	LEAF("nlive", fn_prof, 11, T_U64, RO,
	    "Sampled objects not yet freed."),
	LEAF("nstacks", fn_prof, 12, T_U64, RO,
	    "Distinct call stacks stored."),
	LEAF("metadata", fn_prof, 13, T_U64, RO,
	    "Bytes of metadata the profiler took: its hash tables (including the smaller ones outgrown), stack records and per-arena slab bins."),
	LEAF("slab_bytes", fn_prof, 14, T_U64, RO,
	    "Bytes of the slabs that hold sampled small objects."),
	LEAF("time_ns", fn_prof, 15, T_U64, RO,
	    "Nanoseconds spent sampling (placement, unwinding, recording), freeing sampled objects and writing dumps, over all threads."),
	LEAF("ndumps", fn_prof, 16, T_U64, RO,
	    "Heap profiles written."),
};
static const ctl_node_t prof_kids[] = {
	LEAF("active", fn_prof, 0, T_BOOL, RW,
	    "Sampling on or off in every thread, at run time.  Writing true fails with ENOENT when profiling is compiled out."),
	LEAF("dump", fn_prof, 1, T_STR, WO,
	    "Write a heap profile to the given file, or with a NULL value (or no value) to ~<prof_prefix>.<pid>.<seq>.heap~. The file is created with O_EXCL|O_NOFOLLOW and mode 0600: an existing file fails with EEXIST."),
	LEAF("reset", fn_prof, 2, T_SIZE, WO,
	    "Forget every sample (live and cumulative); with a value, also set *lg_sample* (0 to 40, EINVAL otherwise).  Objects sampled before keep working; their frees are no longer counted."),
	LEAF("lg_sample", fn_prof, 3, T_SIZE, RO,
	    "The sampling rate in force, as lg of the mean interval in bytes."),
	LEAF("interval", fn_prof, 4, T_U64, RO,
	    "Bytes between interval dumps (2^*lg_prof_interval*), 0 when off."),
	LEAF("gdump", fn_prof, 5, T_BOOL, RW,
	    "High-water-mark dumps on or off."),
	NAMED("stats", prof_stats_kids),
};

static const ctl_node_t root_kids[] = {
	LEAF("version", fn_version, 0, T_STR, RO,
	    "The library version, e.g. \"0.1.0\"."),
	LEAF("epoch", fn_epoch, 0, T_U64, RW,
	    "Writing any value refreshes the statistics snapshot that every *stats.** name reads; reading returns the snapshot number. Without a write the values stay those of the previous refresh (the first stats read refreshes once)."),
	LEAF("background_thread", fn_background, 0, T_BOOL, RW,
	    "Whether the background thread releases freed memory of idle processes (when off, releases happen on allocator calls). Writing false then true switches it off and on again; writing true fails with EAGAIN only when the process started with *background_thread:false*. *opt.background_thread* keeps the start-up value."),
	LEAF("release", fn_release, 0, T_VOID, ACT,
	    "Action: flush the calling thread's cache and release every unused page of every arena and the huge cache now (as *malloc_trim*(0))."),
	NAMED("config", config_kids),
	{"opt", opt_kids, OPTI_COUNT, NULL, NULL, 0, 0, 0},
	NAMED("thread", thread_kids),
	NAMED("arenas", arenas_kids),
	INDEXED("arena", arena_i, valid_arena_slot),
	stats_node[0],
	NAMED("prof", prof_kids),
};
static const ctl_node_t root = NAMED("", root_kids);

/* Named children of a node: kids[0..nkids), then for the two nodes that
 * join a generated table with hand-written entries, the extras. */
static unsigned node_nkids(const ctl_node_t *n) {
	if (n->fn == NULL && n->arg == 1)
		return n->nkids + XA_ARRAY_LEN(stats_arena_extra);
	if (n->fn == NULL && n->arg == 2)
		return n->nkids + XA_ARRAY_LEN(stats_kids_extra);
	return n->nkids;
}
static const ctl_node_t *node_kid(const ctl_node_t *n, unsigned k) {
	if (k < n->nkids)
		return &n->kids[k];
	k -= n->nkids;
	if (n->arg == 1)
		return &stats_arena_extra[k];
	return &stats_kids_extra[k];
}
static bool node_indexed(const ctl_node_t *n) { return n->fn == NULL && n->ivalid != NULL; }

/* ---- lookup --------------------------------------------------------------- */

/* Resolve a mib to its leaf; indices met on the way go to idx[]. */
static int ctl_resolve(const size_t *mib, size_t miblen, const ctl_node_t **leaf, size_t *idx) {
	const ctl_node_t *n = &root;
	unsigned nidx = 0;
	if (mib == NULL || miblen == 0 || miblen > CTL_MAXDEPTH)
		return ENOENT;
	for (size_t d = 0; d < miblen; d++) {
		if (n->fn != NULL)
			return ENOENT; /* path continues past a leaf */
		if (node_indexed(n)) {
			if (!n->ivalid(idx, mib[d]))
				return ENOENT;
			idx[nidx++] = mib[d];
			n = &n->kids[0];
		} else {
			if (mib[d] >= node_nkids(n))
				return ENOENT;
			n = node_kid(n, (unsigned)mib[d]);
		}
	}
	if (n->fn == NULL)
		return ENOENT; /* an inner node */
	*leaf = n;
	return 0;
}

static int ctl_name2mib(const char *name, size_t *mib, size_t *miblen) {
	const ctl_node_t *n = &root;
	size_t d = 0, idx[CTL_MAXDEPTH];
	unsigned nidx = 0;
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
			if (q == p || (*q != '.' && *q != '\0') || !n->ivalid(idx, v))
				return ENOENT;
			idx[nidx++] = v;
			mib[d++] = v;
			n = &n->kids[0];
			p = q;
		} else {
			unsigned nk = node_nkids(n), k;
			const ctl_node_t *kid = NULL;
			size_t len = 0;
			for (k = 0; k < nk; k++) {
				kid = node_kid(n, k);
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
	size_t idx[CTL_MAXDEPTH];
	int err = ctl_resolve(mib, miblen, &leaf, idx);
	if (err)
		return err;
	ctl_io_t io = {oldp, oldlenp, newp, newlen};
	err = io_check(leaf, &io);
	if (err)
		return err;
	return leaf->fn(leaf, idx, &io);
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
	unsigned nk = node_nkids(n);
	for (unsigned k = 0; k < nk; k++) {
		const ctl_node_t *kid = node_kid(n, k);
		xa_snprintf(buf + len, 256 - len, "%s%s", len ? "." : "", kid->name);
		names_walk(kid, buf, strlen(buf), depth, fn, arg);
		buf[len] = '\0';
	}
}

void xa_ctl_names(xa_ctl_name_fn *fn, void *arg) {
	char buf[256] = "";
	names_walk(&root, buf, 0, 0, fn, arg);
}
