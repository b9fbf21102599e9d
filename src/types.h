/*
 * types.h -- the core structures, with their invariants and locking.
 *
 * Glossary
 *   page     4 KiB, the unit of the page allocator.
 *   chunk    a CHUNK-aligned 4 MiB mapping owned by one arena, cut into runs.
 *            Its descriptor (xa_chunk_t) lives in base memory, out of line:
 *            user memory holds no allocator metadata at all.
 *   run      a contiguous range of pages inside one chunk: a slab (small
 *            objects of one class), a large allocation, or free pages.
 *   slab     a run carved into equal regions of one small size class; a
 *            bitmap in its descriptor says which regions are free.
 *   huge     an allocation above the largest large class: its own mapping,
 *            with a chunk descriptor of kind CHUNK_HUGE.
 *   bin      per arena and small class: the slabs with free regions, one lock.
 *   arena    bins + a page allocator (one lock); threads are spread over a
 *            bounded pool of arenas, created lazily.
 *   tcache   per thread, per class: a bounded stack of free objects; the
 *            fast paths touch nothing else.
 *   tsd      the thread's state (TLS): tcache, byte counters, arena binding.
 *
 * Page states (every page of every chunk is in exactly one):
 *   active    part of a slab or a large run (holds live or cached objects)
 *   dirty     free and resident; reusable at once; released by decay
 *   lazy      free, given back with MADV_FREE; the kernel may reclaim it
 *   retained  free and unbacked (MADV_DONTNEED'd or never touched); address
 *             space kept for reuse
 *   mapped = active + dirty + lazy + retained, per arena, in pages.
 */
#ifndef XA_TYPES_H
#define XA_TYPES_H

#include "tree.h"
#include "list.h"

typedef struct xa_run_s xa_run_t;
typedef struct xa_chunk_s xa_chunk_t;
typedef struct xa_bin_s xa_bin_t;
typedef struct xa_arena_s xa_arena_t;
typedef struct xa_tsd_s xa_tsd_t;
typedef struct xa_pool_s xa_pool_t;
typedef struct xa_rbatch_s xa_rbatch_t;

/* Locks are plain pthread mutexes: they never allocate, and the fork
 * handlers re-initialise them in the child. */
typedef pthread_mutex_t xa_mutex_t;
#define XA_MUTEX_INITIALIZER PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
XA_INLINE void xa_mutex_init(xa_mutex_t *m) {
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
}
XA_INLINE void xa_mutex_lock(xa_mutex_t *m) { pthread_mutex_lock(m); }
XA_INLINE void xa_mutex_unlock(xa_mutex_t *m) { pthread_mutex_unlock(m); }

/* Fixed-size object pool on base memory (see base.c).  Initialise with
 * {size}; the rest starts zero. */
struct xa_pool_s {
	size_t size;
	/* small pools only: objects have 32-bit names (base.c, "Indexed
	 * pools": xa_pool_ref / xa_pool_deref) */
	bool indexed;
	void *free; /* large objects: singly linked through the first word */
	size_t nfree, nused;
	xa_list_t partial, empty; /* small objects: blocks (see base.c) */
};

enum { RUN_FREE = 0, RUN_SLAB = 1, RUN_LARGE = 2, RUN_PURGING = 3 };
enum { PS_DIRTY = 0, PS_LAZY = 1, PS_RETAINED = 2, PS_NSTATES = 3 };

/* pclass values that are not a size class */
#define PCLASS_NONE 0xff /* page not the start of an allocation */

#define SLAB_MAXREGS 256 /* the 16-byte class in one page */
#define SLAB_MAXPAGES 16 /* slab offsets fit 16 bits (PCLASS_SLAB_OFF) */
#define SLAB_BITMAP_WORDS (SLAB_MAXREGS / 64)

/*
 * A run.  Protected by its arena's lock, except the slab fields (nfree,
 * bitmap, links in the bin) which are protected by the bin's lock.
 * Free runs: first and last page of the run point at it in chunk->prun.
 * Large runs: the same.  Slabs: every page points at it.  All other
 * prun entries are 0 (none).  Descriptors come from an indexed pool
 * (pages.c), so a prun entry is the descriptor's 32-bit name
 * (xa_chunk_run).
 */
struct xa_run_s {
	uintptr_t addr;  /* its chunk: xa_run_chunk (the page map), not stored */
	uint16_t npages; /* at most CHUNK_NPAGES */
	uint8_t kind;    /* RUN_* */
	uint8_t state;   /* PS_* for free runs */
	uint8_t cls;     /* size class of a slab or large run */
	uint8_t zeroed;  /* free run: all pages known to read as zero (fresh
	                  * from mmap, or MADV_DONTNEED'd and untouched since) */
	uint8_t sampled; /* slab of profiled objects / sampled large run */
	union {
		/* slabs: no region freed since the last in-slab purge scan
		 * (arena.c); here rather than a time in the slab fields: 80
		 * bytes, not 88 */
		uint8_t scanned;
		/* large runs: waiting in a remote batch (arena.c, "Remote
		 * large frees"): freed by the application, not yet given back
		 * to the page allocator or handed out again.  Written with
		 * relaxed atomics: a flush tests it without the arena lock. */
		uint8_t rpending;
	};
	/* free runs: size-bucket list of their state set; slabs: bin list */
	xa_link_t link;
	/* free runs: when it became dirty; slabs: time of the last free */
	uint64_t dirty_ns;
	/* Kind-specific fields share storage: descriptors are the bulk of the
	 * metadata, and it stays resident (80 bytes instead of 176). */
	union {
		/* dirty free runs: the arena's decay list, oldest first (set
		 * with xa_link_init first: the storage was a slab's) */
		xa_link_t dlink;
		size_t usize; /* large: usable size (may be below npages*PAGE) */
		struct { /* slabs */
			uint16_t nfree, nregs;
			uint16_t hint; /* lowest bitmap word that may have a free bit */
			/* pages released while the slab lives on (bit i = page i;
			 * see arena.c, in-slab purging) */
			uint16_t purged;
			uint64_t bitmap[SLAB_BITMAP_WORDS]; /* 1 = free region */
		};
	};
};

enum { CHUNK_ARENA = 1, CHUNK_HUGE = 2, CHUNK_HUGE_CACHED = 3 };

/*
 * Chunk descriptor.  pclass[] comes first so the free fast path reads one
 * entry at a fixed offset.  Low byte (PCLASS_OF): the size class of the
 * allocation on that page (every page of a slab, the first page of a large
 * run), PCLASS_NONE otherwise.  Bits 12-15 (slab pages only): bits 12-15
 * of the slab's start address (its first page's index in the chunk, mod
 * 16), so the high byte is the start's address byte 1.  The free fast path
 * gets the offset from the slab start with one 16-bit subtract, (p - start)
 * mod 2^16 (exact: slabs are at most 16 pages), and checks that it is a
 * multiple of the class size (a region start) without the run descriptor
 * (tcache.h, xa_tcache_free).  Large runs keep bits 12-15 zero: their
 * offset is then p mod 2^16, whose multiples of PAGE are exactly the page
 * starts, as for a run start.  For huge descriptors pclass is all
 * PCLASS_NONE so frees go to the slow path.
 */
#define PCLASS_OF(e) ((unsigned)(e) & 0xff)
#define PCLASS_START_BITS 0xf000u /* slabs have at most 16 pages */
/* The entry of every page of a slab of class cls whose first page is page0
 * (index in the chunk, which is CHUNK-aligned). */
#define PCLASS_ENTRY(cls, page0) ((uint16_t)((cls) | (((unsigned)(page0) & 0xf) << LG_PAGE)))
/* The offset of address p from the start of the slab whose page entry is e. */
#define PCLASS_SLAB_OFF(e, p) ((uint32_t)(uint16_t)((uintptr_t)(p) - ((e) & PCLASS_START_BITS)))
struct xa_chunk_s {
	uint16_t pclass[CHUNK_NPAGES];
	uint8_t kind;
	xa_arena_t *arena;
	uintptr_t addr;
	/* arena chunks */
	uint32_t *prun; /* CHUNK_NPAGES run offsets (xa_chunk_run), from base */
	xa_chunk_t *next; /* arena's chunk list */
	size_t free_pages; /* pages in free runs (any state) */
	/* huge */
	size_t size;   /* usable size */
	size_t mapped; /* bytes mapped */
	uint8_t sampled;
	uint8_t hstate; /* cached huge: PS_DIRTY, PS_LAZY or PS_RETAINED */
	xa_link_t hlink;           /* live huge allocations, or the cache */
	uint64_t freed_ns;         /* cached huge: when it was freed */
	xa_tnode_t haddr, hfit, hage; /* cached huge: huge.c's three orders */
};

/* Per-bin statistics; protected by the bin lock. */
typedef struct {
	uint64_t nmalloc;   /* regions handed out of slabs */
	uint64_t ndalloc;   /* regions returned to slabs */
	uint64_t nrequests; /* malloc calls served (incl. tcache hits, merged) */
	uint64_t nfills, nflushes;
	uint64_t nslabs_total; /* slabs ever created */
	size_t curregs;        /* regions not free in slabs (live or cached) */
	size_t curslabs;
	size_t curpages; /* their pages (slabs of a busy bin are larger) */
} xa_bin_stats_t;

/*
 * A remote batch: regions of one class and arena freed by a thread cache
 * that does not own them (arena.c, "Remote frees").  An array of pointers
 * in base memory, never in user memory.  Linked into a bin's remote stack
 * (regions waiting for a fill or a drain) or an arena's stack of empty
 * batches; batches are never returned to base, so a stale `next` read by a
 * lock-free pop is harmless (the stacks' tags catch it).
 */
#define RBATCH_MAX 64
/* A stack of remote batches (a bin's, or an arena's for a large class).
 * head: tagged pointer (low 48 bits: top batch, high 16: a counter bumped
 * by every push and pop, against ABA).  nin: objects pushed; nout: objects
 * taken by fills or drained; pending = nin - nout. */
typedef struct {
	_Atomic uint64_t head;
	_Atomic uint64_t nin, nout;
} xa_rstack_t;
struct xa_rbatch_s {
	xa_rbatch_t *_Atomic next;
	uint64_t ns; /* when the regions were freed (drains keep the decay age) */
	uint32_t n;
	void *ptrs[RBATCH_MAX];
};

/* Fill slots per bin (arena.c, "Fill slots"). */
#define BIN_NCUR 4

struct xa_bin_s {
	xa_mutex_t lock;
	/* Slabs being carved, one per fill slot (arena.c, "Fill slots"),
	 * NULL if none */
	xa_run_t *cur[BIN_NCUR];
	xa_list_t nonfull; /* other slabs with free regions (link) */
	/* Wholly free slabs kept for the next fill (link; arena.c, "Empty
	 * slabs"): at most empty_max, counted in stats.curslabs and active
	 * pages; released on the decay schedule and by forced purges. */
	xa_list_t empty;
	uint16_t nempty, empty_max;
	xa_bin_stats_t stats;
	uint64_t remote_drained; /* regions drained from remote batches to slabs */
	/* Remote frees, lock-free (own cache line: written by other threads);
	 * counted in regions */
	xa_rstack_t remote __attribute__((aligned(64)));
} __attribute__((aligned(64)));

/*
 * Remote frees of one cached large class of an arena (arena.c, "Remote
 * large frees"): the stack, counted in blocks, and the blocks drains gave
 * back to the page allocator (arena lock).
 */
#define LREMOTE_NCLASSES 16 /* the large classes up to 256 KiB */
typedef struct {
	xa_rstack_t s;
	uint64_t drained;
} xa_lremote_t;

/* Per-arena page statistics; protected by the arena lock. */
typedef struct {
	size_t npages[PS_NSTATES]; /* free pages by state */
	size_t active_pages;       /* slab + large pages */
	size_t mapped_chunks;
	uint64_t npurge_calls, npurged_pages, nmadvise;
	uint64_t large_nmalloc, large_ndalloc;
	size_t large_allocated; /* usable bytes of live large runs */
	size_t large_cur;       /* live large runs */
} xa_arena_stats_t;

#define LARGE_NBUCKETS 48 /* free-run size buckets per state */
#ifndef RUN_STASH
#define RUN_STASH 16 /* free run descriptors an arena keeps (pages.c) */
#endif

struct xa_arena_s {
	unsigned ind;
	_Atomic unsigned nthreads;
	_Atomic unsigned slot_users[BIN_NCUR]; /* bound threads per fill slot */
	xa_mutex_t lock; /* page allocator, large stats, chunk list */
	xa_chunk_t *chunks;
	/* free runs by state and size bucket; mask of non-empty buckets */
	xa_list_t avail[PS_NSTATES][LARGE_NBUCKETS]; /* (link) */
	uint64_t avail_mask[PS_NSTATES];
	/* dirty runs, oldest first (for decay; dlink) */
	xa_list_t dirty;
	/* free run descriptors kept for the next carve (pages.c, run_get;
	 * under lock) */
	unsigned nrun_stash;
	xa_run_t *run_stash[RUN_STASH];
	_Atomic int64_t decay_ms;
	/* pages of live slabs released by in-slab purging (arena.c); part of
	 * active_pages but not resident */
	_Atomic size_t slab_purged_pages;
	/* pages of the wholly free slabs the bins keep (arena.c, "Empty
	 * slabs"); bounded by EMPTY_KEEP_ARENA_BYTES; written under bin locks */
	_Atomic size_t empty_pages;
	/* bit i: bin i keeps empty slabs (nempty > 0); set and cleared under
	 * that bin's lock, read racily by slab_steal */
	_Atomic uint64_t kept_mask;
	/* regions were freed into partly used slabs since the background
	 * thread's last pass began (it sleeps only when no arena has this) */
	_Atomic bool slab_pending;
	/* empty remote batches (tagged pointer, as xa_bin_t.remote.head) */
	_Atomic uint64_t rfree;
	xa_arena_stats_t stats;
	/* per large class allocation counts (merged for stats) */
	uint64_t lstats_nmalloc[64], lstats_ndalloc[64];
	size_t lstats_cur[64];
	/* per cached large class (cls - SC_NSMALL): blocks other threads
	 * freed, waiting for a fill or a drain (written by other threads) */
	xa_lremote_t lremote[LREMOTE_NCLASSES] __attribute__((aligned(64)));
	xa_bin_t bins[]; /* one per small class */
};

#endif /* XA_TYPES_H */
