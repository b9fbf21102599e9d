/*
 * internal.h -- what every xalloc source file includes.
 *
 * Owns: compiler helpers (likely/unlikely, inline, export), the assertion
 * tiers, the build-time feature constants (config_*), the fixed geometry
 * (page, chunk, pagemap), and the cross-file prototypes grouped by the file
 * that defines them.  Cross-file internals are named xa_<module>_<verb> and
 * are hidden (the library is built with -fvisibility=hidden); only XA_EXPORT
 * functions leave the shared object.
 *
 * Nothing declared here may allocate through malloc: the allocator never
 * calls itself.  "returns true on error" is written beside the prototypes
 * that follow that convention.
 */
#ifndef XA_INTERNAL_H
#define XA_INTERNAL_H

#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/* ---- compiler helpers ---------------------------------------------- */
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define XA_INLINE static inline __attribute__((always_inline))
#define XA_NOINLINE __attribute__((noinline))
#define XA_COLD __attribute__((cold, noinline))
#define XA_EXPORT __attribute__((visibility("default")))
/* On the extern declarations the fast paths read: the compiler then
 * addresses them PC-relative instead of through the GOT. */
#define XA_HIDDEN __attribute__((visibility("hidden")))
#define XA_NORETURN __attribute__((noreturn))
#define XA_CONCAT2(a, b) a##b
#define XA_CONCAT(a, b) XA_CONCAT2(a, b)
/* The standard entry points carry the configured prefix (empty by default). */
#define XA_SYM(name) XA_CONCAT(XALLOC_PREFIX, name)
#define XA_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* Both evaluate an argument twice: pass values, not calls or racy loads. */
#define XA_MIN(a, b) ((a) < (b) ? (a) : (b))
#define XA_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---- build-time features: both branches always compile ------------- */
static const bool config_debug = XALLOC_DEBUG;
static const bool config_stats = XALLOC_STATS;
static const bool config_prof = XALLOC_PROF;
#ifdef XALLOC_TEST_BUILD
static const bool config_test = true;
#else
static const bool config_test = false;
#endif
/* Default free checks in the cache paths (misaligned pointers, an immediate
 * repeat of the last free); build with -DXALLOC_CHECK=0 to measure their
 * cost (bench/compare.py). */
#ifndef XALLOC_CHECK
#define XALLOC_CHECK 1
#endif
static const bool config_check = XALLOC_CHECK;

/* ---- assertion tiers ------------------------------------------------
 * xa_check:  always on; cheap metadata checks whose failure means heap
 *            corruption or misuse.  Prints one line and aborts, without
 *            allocating or taking a lock.
 * xa_assert: --enable-debug only (internal invariants).
 */
XA_NORETURN void xa_fatal(const char *msg, const void *ptr, size_t size);
#define xa_check(cond, msg, ptr, size)                                        \
	do {                                                                  \
		if (unlikely(!(cond)))                                        \
			xa_fatal((msg), (const void *)(ptr), (size));         \
	} while (0)
XA_NORETURN void xa_assert_fail(const char *expr, const char *file, int line);
#define xa_assert(e)                                                          \
	do {                                                                  \
		if (config_debug && unlikely(!(e)))                           \
			xa_assert_fail(#e, __FILE__, __LINE__);               \
	} while (0)

/* ---- geometry --------------------------------------------------------
 * Pages are 4 KiB (checked at start-up).  The arenas carve memory out of
 * chunks: CHUNK-sized, CHUNK-aligned mappings.  Allocations larger than a
 * chunk ("huge") get their own CHUNK-aligned mapping.  Every mapping that
 * holds user memory starts on a CHUNK boundary, so the pagemap can key on
 * the chunk number.
 */
#define LG_PAGE 12
#define PAGE ((size_t)1 << LG_PAGE)
#define PAGE_MASK (PAGE - 1)
#define LG_CHUNK 22
#define CHUNK ((size_t)1 << LG_CHUNK)
#define CHUNK_MASK (CHUNK - 1)
#define CHUNK_NPAGES (CHUNK >> LG_PAGE)
#define PAGE_CEIL(s) (((s) + PAGE_MASK) & ~PAGE_MASK)
#define CHUNK_CEIL(s) (((s) + CHUNK_MASK) & ~CHUNK_MASK)
#define QUANTUM 16
/* User addresses above 2^47 are never ours (the kernel only hands them
 * out on request). */
#define LG_VADDR 47
#define XA_MAX_ARENAS 256

#include "types.h"

/* ---- util.c: allocation-free formatting and messages ---------------- */
/* A tiny snprintf: %s %d %u %ld %lu %zu %zd %llu %lld %x %lx %zx %p %c %%,
 * with optional width, '-' and '0' flags and precision for %s.
 * Always NUL-terminates; returns the length it would have written. */
int xa_snprintf(char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int xa_vsnprintf(char *buf, size_t n, const char *fmt, __builtin_va_list ap);
/* The one buffered writer (stats_print.c, prof_dump.c, report.c):
 * xa_wprintf formats without allocating (at most 511 bytes a call) into
 * buf, and whenever buf would overflow, and at xa_wflush, hands the text
 * to sink(opaque, text) as one NUL-terminated chunk shorter than buf. */
typedef struct {
	void (*sink)(void *opaque, const char *text);
	void *opaque;
	size_t len;
	char buf[2048];
} xa_writer_t;
void xa_wprintf(xa_writer_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xa_wflush(xa_writer_t *w);
/* A sink writing to a file descriptor; err is set once a write failed. */
typedef struct {
	int fd;
	bool err;
} xa_fd_sink_t;
void xa_fd_sink(void *opaque, const char *text);
/* One line "xalloc: <formatted>\n" to stderr with write(2). */
void xa_message(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* errno as words ("file exists", "permission denied"), without allocating;
 * an unknown number is formatted into buf as "errno N". */
const char *xa_strerror(int err, char *buf, size_t n);
/* Human-readable byte count ("1.5 MiB") into buf. */
const char *xa_fmt_bytes(char *buf, size_t n, uint64_t bytes);
/* Parse an unsigned size with optional K/M/G/T suffix (binary).  Returns
 * true on error. */
bool xa_parse_size(const char *s, size_t len, uint64_t *out);
/* Parse a signed decimal.  Returns true on error. */
bool xa_parse_int(const char *s, size_t len, int64_t *out);
/* Monotonic time in nanoseconds. */
uint64_t xa_now_ns(void);
uint64_t xa_now_coarse_ns(void); /* tick resolution, cheaper */
uint64_t xa_thread_cpu_ns(void);  /* CPU time of the calling thread */
/* Start one of the allocator's own threads: detached, every signal
 * blocked, the given stack size.  Returns 0 or pthread_create's error. */
int xa_thread_start(void *(*fn)(void *), size_t stack);

/* ---- os.c: the only code that talks to the kernel (see os.h) --------- */
#include "os.h"

/* ---- base.c: metadata memory, never from malloc ---------------------- */
/* Zeroed, 16-byte aligned metadata; NULL on out of memory. */
void *xa_base_alloc(size_t size);
/* Fixed-size object pools built on base, with a free list. */
void *xa_pool_get(xa_pool_t *pool);
/* xa_pool_get that zeroes only the first zero_bytes of a large pool's
 * object: the caller keeps the rest zero whenever it puts one back. */
void *xa_pool_get_part(xa_pool_t *pool, size_t zero_bytes);
void xa_pool_put(xa_pool_t *pool, void *obj);
/* Large pools: release the pages of objects free for min_age_ns (base.c). */
size_t xa_pool_purge_free(xa_pool_t *pool, uint64_t now, uint64_t min_age_ns, uint64_t *wait);
/* Large pools: release the pages of one object past its first keep bytes;
 * (size_t)-1 on failure. */
size_t xa_pool_purge_obj(const xa_pool_t *pool, void *obj, size_t keep);
/* Objects of indexed pools (.indexed) by 32-bit name: block number << 16 |
 * offset in the block; 0 names nothing.  Blocks are never unmapped. */
#define XA_POOL_LG_BLOCK 16
#define XA_POOL_MAX_BLOCKS ((size_t)1 << (32 - XA_POOL_LG_BLOCK))
extern char *xa_pool_blocks[XA_POOL_MAX_BLOCKS] XA_HIDDEN;
uint32_t xa_pool_ref(const void *obj);
XA_INLINE void *xa_pool_deref(uint32_t name) {
	return name ? __atomic_load_n(&xa_pool_blocks[name >> XA_POOL_LG_BLOCK], __ATOMIC_RELAXED) +
	        (name & (((uint32_t)1 << XA_POOL_LG_BLOCK) - 1))
	            : NULL;
}
/* Indexed pools: blocks that moving live objects together would empty;
 * move them (base.c, compaction; the caller has stopped the world and
 * fixes every reference to an object in moved).  Returns objects moved. */
size_t xa_pool_spare_blocks(const xa_pool_t *pool);
size_t xa_pool_compact(xa_pool_t *pool, bool (*movable)(const void *obj), void (*moved)(void *from, void *to),
    size_t max);
size_t xa_base_mapped(void);    /* bytes mapped for metadata */
/* Release the pages of empty pool blocks; returns bytes. */
size_t xa_base_purge(void);
size_t xa_base_allocated(void); /* bytes handed out (incl. pooled free) */
size_t xa_base_resident(void);  /* resident bytes of metadata (mincore) */
void xa_base_prefork(void);
void xa_base_postfork_parent(void);
void xa_base_postfork_child(void);

/* ---- conf.c + options.def ------------------------------------------- */
#include "conf.h"

/* ---- sizeclass.c ----------------------------------------------------- */
#include "sizeclass.h"

/* ---- pagemap.c: chunk number -> chunk descriptor, lock-free reads ----
 * xa_pagemap_base points at an empty chunk descriptor (all PCLASS_NONE),
 * followed PAGEMAP_HDR bytes later by a flat array indexed by
 * (address >> LG_CHUNK) & xa_pagemap_mask, whose entries are descriptor
 * addresses minus the base: an entry never written reads as 0, i.e. the
 * empty descriptor, so the free fast path reads a descriptor with one load
 * and no NULL test (see pagemap.c). */
#define PAGEMAP_HDR PAGE
extern const char *xa_pagemap_base XA_HIDDEN;
extern uintptr_t xa_pagemap_mask XA_HIDDEN;
/* Returns true on error (out of memory for the map). */
bool xa_pagemap_set(uintptr_t addr, size_t size, xa_chunk_t *chunk);
void xa_pagemap_clear(uintptr_t addr, size_t size);
/* Resident bytes of the map (pages ever written). */
size_t xa_pagemap_bytes(void);
void xa_pagemap_prefork(void);
void xa_pagemap_postfork_parent(void);
void xa_pagemap_postfork_child(void);
/* Never NULL: the empty descriptor for memory that is not ours.  Addresses
 * with bits at or above LG_VADDR alias their low bits here (they are never
 * user memory on Linux); xa_pagemap_lookup rejects them. */
XA_INLINE const xa_chunk_t *xa_pagemap_lookup_fast(uintptr_t a) {
	/* mask first (acquire): then the base is at least as new */
	uintptr_t mask = __atomic_load_n(&xa_pagemap_mask, __ATOMIC_ACQUIRE);
	const char *base = __atomic_load_n(&xa_pagemap_base, __ATOMIC_RELAXED);
	const uintptr_t *map = (const uintptr_t *)(base + PAGEMAP_HDR);
	return (const xa_chunk_t *)(base + map[(a >> LG_CHUNK) & mask]);
}
/* The same lookup down to the page entry, kept as a base and an offset
 * (the entry is at *basep + the result), so the free fast path addresses
 * the entry as (base, offset) without adding them. */
XA_INLINE uintptr_t xa_pagemap_entry_fast(uintptr_t a, const char **basep) {
	uintptr_t mask = __atomic_load_n(&xa_pagemap_mask, __ATOMIC_ACQUIRE);
	const char *base = __atomic_load_n(&xa_pagemap_base, __ATOMIC_RELAXED);
	const uintptr_t *map = (const uintptr_t *)(base + PAGEMAP_HDR);
	*basep = base;
	return map[(a >> LG_CHUNK) & mask] + ((a >> LG_PAGE) & (CHUNK_NPAGES - 1)) * sizeof(uint16_t);
}
/* The descriptor of the chunk holding a, NULL if it is not ours. */
XA_INLINE xa_chunk_t *xa_pagemap_lookup(uintptr_t a) {
	uintptr_t mask = __atomic_load_n(&xa_pagemap_mask, __ATOMIC_ACQUIRE);
	const char *base = __atomic_load_n(&xa_pagemap_base, __ATOMIC_RELAXED);
	uintptr_t off = ((const uintptr_t *)(base + PAGEMAP_HDR))[(a >> LG_CHUNK) & mask];
	if (unlikely(off == 0 || (a >> LG_VADDR) != 0))
		return NULL;
	return (xa_chunk_t *)(uintptr_t)(base + off);
}

/* ---- decay.c: the release schedule (decay.h: its pure arithmetic) ---- */
#include "decay.h"

/* ---- pages.c: page runs inside chunks; dirty/lazy/retained sets ------ */
/* All take arena->lock held unless said otherwise. */
xa_run_t *xa_pages_alloc(xa_arena_t *arena, size_t npages, size_t align_pages, bool *zeroed);
void xa_pages_free(xa_arena_t *arena, xa_run_t *run);
/* Try to grow/shrink a large run in place.  Returns true on failure. */
bool xa_pages_grow(xa_arena_t *arena, xa_run_t *run, size_t npages);
void xa_pages_shrink(xa_arena_t *arena, xa_run_t *run, size_t npages);
/* The time memory freed by this thread went unused (0: now); set by the
 * idle-cache reclaim so the pages it frees are as old as the cache. */
extern _Thread_local uint64_t xa_free_stamp_ns;
/* When memory freed now went unused: the stamp if set, else now. */
XA_INLINE uint64_t xa_free_time(void) { return xa_free_stamp_ns ? xa_free_stamp_ns : xa_now_ns(); }
/* Release dirty pages whose age exceeds the arena's decay time (all of
 * them when force).  Called with the lock NOT held; returns pages released
 * (a run whose madvise failed is not released and ends the call). */
size_t xa_pages_purge(xa_arena_t *arena, bool force);
void xa_pages_purge_eager(xa_arena_t *arena);
/* Nanoseconds until the oldest dirty run is due, or UINT64_MAX if none. */
uint64_t xa_pages_next_due(xa_arena_t *arena, uint64_t now);
/* Release the oldest dirty pages of this arena until its dirty bytes are at
 * most target.  Lock NOT held.  Returns pages released. */
size_t xa_pages_purge_to(xa_arena_t *arena, size_t target_bytes);
void xa_run_set_pages(xa_chunk_t *chunk, xa_run_t *run, uint8_t cls, bool all);
/* Run descriptors live in an indexed pool: chunk->prun[] holds their
 * 32-bit names (0: no run), half the size of pointers. */
_Static_assert(CHUNK_NPAGES <= UINT16_MAX, "xa_run_t.npages is 16 bits");
/* Descriptors are most of the metadata a burst leaves resident (pages.c). */
_Static_assert(sizeof(xa_run_t) <= 80, "xa_run_t grew past 80 bytes");
/* A run's chunk: not stored in the descriptor (8 bytes of each), found
 * through the page map (the run's chunk is registered while it exists). */
XA_INLINE xa_chunk_t *xa_run_chunk(const xa_run_t *r) { return xa_pagemap_lookup(r->addr); }
/* A relaxed load (a plain one on x86): lock-free readers (lookup in a
 * slow path) race with the writers, and so does a compaction's rename
 * (pages.c), ordered against them by the world stop, which the thread
 * sanitizer cannot see. */
XA_INLINE xa_run_t *xa_chunk_run(const xa_chunk_t *c, size_t page) {
	return (xa_run_t *)xa_pool_deref(__atomic_load_n(&c->prun[page], __ATOMIC_RELAXED));
}
/* The run entry of the page holding address p of chunk c. */
XA_INLINE xa_run_t *xa_chunk_run_at(const xa_chunk_t *c, uintptr_t p) {
	return xa_chunk_run(c, (p - c->addr) >> LG_PAGE);
}
/* Unmap the arena's wholly free chunks (lock NOT held); returns bytes. */
size_t xa_pages_unmap_free(xa_arena_t *arena);
/* Run descriptor compaction (pages.c, "Compaction"): the background
 * thread's step (returns ns until it wants to run again, UINT64_MAX:
 * not before new work), a request for one (ctl), and its counters. */
uint64_t xa_pages_compact_maybe(uint64_t now);
/* One stop and pass now, by the caller (the background thread, or a test
 * with it off): descriptors moved, SIZE_MAX if a thread was not idle. */
size_t xa_pages_compact_now(void);
void xa_pages_compact_request(void);
void xa_pages_compact_stats(uint64_t *passes, uint64_t *moved, uint64_t *failed);

/* ---- arena.c: bounded pool, bins, slabs, large ----------------------- */
extern xa_arena_t *_Atomic xa_arenas[XA_MAX_ARENAS];
extern _Atomic unsigned xa_narenas_created;
xa_arena_t *xa_arena_get(unsigned ind, bool create);
xa_arena_t *xa_arena_choose(uint8_t *slot);
/* At most this many arenas (narenas, or one per CPU; mallopt(M_ARENA_MAX)
 * sets a new limit for the threads that start from then on). */
unsigned xa_arena_max(void);
void xa_arena_max_set(unsigned n);
/* *locked: the returned arena's bin lock for cls is held already. */
xa_arena_t *xa_arena_for_fill(xa_tsd_t *t, unsigned cls, bool *locked);
/* A new slab, all regions free, pages marked pclass (arena lock taken). */
xa_run_t *xa_slab_new(xa_arena_t *arena, unsigned cls, uint8_t pclass);
void xa_arena_thread_bind(xa_arena_t *arena, uint8_t *slot);
void xa_arena_thread_rebind(xa_arena_t *arena, unsigned slot);
void xa_arena_thread_leave(xa_arena_t *arena, unsigned slot);
/* Fill up to n regions of class cls into out[]; returns how many. */
unsigned xa_arena_fill_small(xa_arena_t *arena, unsigned cls, void **out, unsigned n, uint64_t nrequests, bool locked,
    unsigned slot);
/* Fill up to max regions from arena's remote batches of class cls, no
 * lock; returns how many (0: none waiting). */
unsigned xa_arena_fill_remote(xa_arena_t *arena, unsigned cls, void **out, unsigned max);
/* Return regions of small class cls owned by possibly several arenas: to
 * their slabs under the bin lock when home owns them and the lock is free,
 * else as remote batches (arena.c, "Remote frees"). */
void xa_arena_flush_small(xa_arena_t *home, unsigned cls, void **ptrs, unsigned n);
/* Does a flush of ptrs[0..n) take the loop for regions freed in random
 * order (arena.c, bin_dalloc_scattered)?  For tests. */
bool xa_arena_batch_scattered(void *const *ptrs, unsigned n);
/* Bytes of small regions (all objects) waiting in an arena's remote
 * batches; racy. */
size_t xa_arena_remote_small_bytes(xa_arena_t *arena);
size_t xa_arena_remote_bytes(xa_arena_t *arena);
/* Return everything waiting in an arena's remote batches (no lock held). */
void xa_arena_drain_remote(xa_arena_t *arena);
/* A bin's statistics (bin lock taken), remote batches accounted. */
void xa_arena_bin_stats(xa_bin_t *bin, xa_bin_stats_t *out);
void *xa_arena_malloc_small(xa_arena_t *arena, unsigned cls, bool zero, unsigned slot);
void *xa_arena_malloc_large(xa_arena_t *arena, size_t usize, size_t align, bool zero);
void xa_arena_free_large(xa_chunk_t *chunk, xa_run_t *run);
/* Return blocks of cached large class cls (a thread cache's flush; the
 * thread allocates from home): other arenas' into their remote batches,
 * the rest to the page allocator (arena.c, "Remote large frees"). */
void xa_arena_flush_large(xa_arena_t *home, unsigned cls, void **ptrs, unsigned n);
/* Fill up to max blocks of large class cls from arena's remote batches,
 * no lock; returns how many. */
unsigned xa_arena_fill_remote_large(xa_arena_t *arena, unsigned cls, void **out, unsigned max);
/* Is the large run waiting in a remote batch (freed)? */
bool xa_run_rpending(const xa_run_t *run);
/* Adjust an arena's large statistics (copied under its lock, still held)
 * for the blocks in remote batches; returns their bytes. */
size_t xa_arena_large_stats(xa_arena_t *arena, xa_arena_stats_t *st, uint64_t *lnmalloc, uint64_t *lndalloc,
    size_t *lcur);
void xa_arena_free_small_one(xa_chunk_t *chunk, void *ptr);
/* Resize a large allocation in place; returns true if it could not. */
bool xa_arena_ralloc_large_inplace(xa_chunk_t *chunk, xa_run_t *run, size_t usize);
void xa_arena_prefork(void);
void xa_arena_postfork_parent(void);
void xa_arena_postfork_child(void);
/* Purge every arena and the huge cache (force: everything dirty; else:
 * what is due).  Returns bytes released. */
size_t xa_arenas_purge(bool force);
/* Out of address space: release everything unused, then unmap every
 * wholly free chunk and cached huge mapping, whatever retain says.  Lock
 * NOT held.  Returns bytes released or unmapped. */
size_t xa_arenas_unmap_free(void);
/* In-slab purging (arena.c): release pages of live slabs that hold only
 * free regions, in slabs due under decay (all when force), and give kept
 * empty slabs that are due back to the page allocator.  Bin locks
 * taken one at a time.  *wait (if not NULL): ns until the next is due. */
size_t xa_arenas_purge_slabs(bool force, uint64_t *wait);
size_t xa_arena_purge_all(xa_arena_t *arena); /* arena.<i>.purge */

/* ---- zero.c: zeroing calloc'd large and huge blocks ------------------ */
/* Zero [p, p+size) (page-aligned, whole pages): memset, or MADV_DONTNEED
 * when most of its pages are absent (see zero.c for the measurements). */
void xa_zero_fill(void *p, size_t size);
/* Count size bytes handed to calloc already known to be zero. */
void xa_zero_known(size_t size);
void xa_zero_stats(uint64_t *known, uint64_t *memset_bytes, uint64_t *kernel);

/* ---- huge.c: allocations larger than a chunk, one mapping each ------- */
void *xa_huge_malloc(size_t usize, size_t align, bool zero);
void xa_huge_free(xa_chunk_t *desc);
/* NULL: failed with the block intact, or (*gone) lost after the pages
 * moved and metadata ran out. */
void *xa_huge_realloc(xa_chunk_t *desc, size_t usize, bool *gone);
/* Release cached (freed) huge mappings that are due, or all when force
 * (see huge.c: retained, lazy or unmapped); returns bytes released.  xa_huge_next_due: ns until the next is due. */
size_t xa_huge_purge(bool force);
uint64_t xa_huge_next_due(uint64_t now);
/* Freed huge mappings kept for reuse and still resident (dirty): bytes. */
size_t xa_huge_cached_bytes(void);
/* Bytes of the huge cache by state (PS_DIRTY, PS_LAZY, PS_RETAINED). */
void xa_huge_cache_bytes(size_t bytes[PS_NSTATES]);
/* Unmap every cached huge mapping, whatever its state (out of memory). */
size_t xa_huge_unmap_cached(void);
size_t xa_huge_mapped_now(void); /* racy read, for peak.c */
uint64_t xa_huge_moved(void); /* bytes of dirty pages moved into new blocks */
void xa_huge_stats(size_t *allocated, size_t *mapped, size_t *cur, uint64_t *nmalloc, uint64_t *ndalloc);
/* Resident bytes of live and cached huge mappings (mincore). */
void xa_huge_resident(size_t *live, size_t *cached);
/* For tests: the cached entry starting at addr (its size and state), and
 * a check of every invariant of the cache (returns its number of entries,
 * or SIZE_MAX and a line on stderr if one is broken). */
bool xa_huge_cache_entry(uintptr_t addr, size_t *size, unsigned *state);
size_t xa_huge_cache_check(void);
void xa_huge_prefork(void);
void xa_huge_postfork_parent(void);
void xa_huge_postfork_child(void);

/* ---- tcache.c / tcache.h: per-thread caches --------------------------- */
#include "tcache.h"

/* ---- tsd.c: thread state ---------------------------------------------- */
/* The calling thread's state, initialised if needed; never NULL. */
xa_tsd_t *xa_tsd_boot(void);
void xa_tsd_prefork(void);
void xa_tsd_postfork_parent(void);
void xa_tsd_postfork_child(void);
/* Merged per-thread counters: every live thread plus exited ones. */
void xa_tsd_totals(uint64_t *allocated, uint64_t *deallocated, uint64_t *tcache_bytes);
/* Visit every registered live thread state, registry lock held. */
void xa_tsd_foreach(void (*fn)(xa_tsd_t *, void *), void *arg);
size_t xa_tsd_count(void);
/* The pthread key whose destructor runs at thread exit; true on error. */
bool xa_tsd_key_create(void);
/* Count the allocations and frees of a thread without registered state
 * (starting or exiting) into the exited-thread totals. */
void xa_tsd_count_unregistered(uint64_t alloc, uint64_t dealloc);

/* ---- init.c: bootstrap and fork -------------------------------------- */
extern _Atomic int xa_init_state; /* 0 none, 1 in progress, 2 done */
XA_INLINE bool xa_initialized(void) {
	return likely(atomic_load_explicit(&xa_init_state, memory_order_acquire) == 2);
}
/* Returns true on error. */
bool xa_init_slow(void);
extern unsigned xa_ncpus;

/* ---- alloc.c: internal allocation API (used by override.c) ----------- */
void *xa_malloc(size_t size);
void *xa_calloc(size_t n, size_t size);
void *xa_realloc(void *ptr, size_t size);
void *xa_aligned(size_t align, size_t size);
void xa_free(void *ptr);
size_t xa_usable_size(const void *ptr);
void xa_free_sized(void *ptr, size_t size);
/* Slow paths behind the inline fast paths of override.c. */
void *xa_malloc_slow(size_t size);
void xa_free_slow(void *ptr);
/* Release all unused memory now: the caller's thread cache, the caches of
 * threads asleep in the kernel (idle.c, at once), every arena's dirty
 * pages and the cached huge mappings.  Returns bytes released. */
size_t xa_release_all(void);
/* malloc_trim: xa_release_all within the trim_budget_pct budget (decay.c);
 * 1 if it released memory. */
int xa_decay_trim(void);
void xa_decay_trim_counts(uint64_t *calls, uint64_t *skipped);

/* ---- background.c: the purging thread -------------------------------- */
/* Note that there is something to purge (cheap; starts the thread lazily). */
void xa_background_kick(void);
void xa_background_kick_soon(void);
/* Wake the thread now whatever it is waiting for (start it if enabled
 * and not running): a signal dump or periodic export is due. */
void xa_background_wake(void);
/* A thread with allocator state is exiting (tsd.c): the background thread
 * checks whether it is left alone, and then ends the process as glibc
 * would (exit(0)). */
void xa_background_thread_exited(void);
bool xa_background_running(void);
/* Enable/disable at run time (xa_opt.background_thread keeps the start-up
 * value).  Returns true on error. */
bool xa_background_set(bool enable);
/* Started with background_thread:true and not switched off since. */
bool xa_background_enabled(void);
void xa_background_prefork(void);
void xa_background_postfork_parent(void);
void xa_background_postfork_child(void);
/* For the statistics: wake-ups and purge passes so far. */
void xa_background_stats(uint64_t *wakeups, uint64_t *runs);

/* ---- peak.c: high-water marks (see there for the accuracy) ---------- */
extern uint64_t xa_start_ns; /* xa_now_ns() at initialisation */
void xa_peak_boot(void);
/* Publish the thread's change of live bytes (slow paths only). */
void xa_peak_publish(xa_tsd_t *t);
/* The same after a slow free, once PEAK_FREE_BATCH bytes of frees are
 * unpublished: with the thread caches off every free is a slow path, and an
 * atomic add per free on one shared line would make threads contend. */
#define PEAK_FREE_BATCH ((int64_t)64 << 10)
XA_INLINE void xa_peak_publish_free(xa_tsd_t *t) {
	if (unlikely((int64_t)(t->allocated - t->deallocated) - t->peak_pub <= -PEAK_FREE_BATCH))
		xa_peak_publish(t);
}
void xa_peak_unregistered(uint64_t alloc, uint64_t dealloc);
/* Sample the resident high-water mark (now: 0 to read the clock). */
void xa_peak_sample_resident(uint64_t now);
void xa_peak_reset(void);
void xa_peak_postfork_child(void);

/* ---- stats.c / ctl.c (the snapshot's prototypes: stats.h) ------------ */
void xa_stats_print_default(void); /* malloc_stats(), stats_print at exit */
/* mallinfo/mallinfo2 (override.c), filled from xalloc's own counters (see
 * stats.c for the definitions). */
void xa_mallinfo_fill(size_t *arena, size_t *ordblks, size_t *hblks, size_t *hblkhd,
    size_t *uordblks, size_t *fordblks, size_t *keepcost);
/* ctl.c: the child after fork re-initialises ctl_lock. */
void xa_ctl_postfork_child(void);
/* ctl.c: walk every name (indexed components as "<i>", "<j>"); used by the
 * unit tests and by man/gen_ctl_sections.py (through test/unit/ctl_names).
 * type: "bool", "unsigned", "size_t", "uint64_t", "ssize_t", "const char *",
 * "void"; rw: "r-", "rw", "-w", "-" (action); doc: the entry's text in the
 * markup of man/gen_ctl_sections.py (*bold*, ~italic~). */
typedef void xa_ctl_name_fn(void *arg, const char *name, const char *type, const char *rw, const char *doc);
void xa_ctl_names(xa_ctl_name_fn *fn, void *arg);

/* ---- report.c: reports that arrive, dumps on a signal, periodic export -- */
/* The pid and program name (no allocation). */
void xa_report_whoami(int *pid, char *prog, size_t n);
/* At initialisation (no allocation): the private stderr duplicate, the
 * parsed dump_signal. */
void xa_report_boot(void);
/* From the library constructor: install the signal handler, start the
 * background thread for the periodic export. */
void xa_report_start(void);
void xa_report_atexit(void);
/* The descriptor reports and messages go to (a private duplicate of the
 * stderr the process started with, or 2). */
int xa_report_fd(void);
/* A signal dump is waiting (set by the handler). */
extern _Atomic bool xa_report_pending;
/* Do what is due: a pending signal dump, the periodic export (from the
 * background thread when bg is true, else from an allocator slow path
 * when no background thread runs).  No lock held.  Returns ns until the
 * next periodic export (UINT64_MAX: none). */
uint64_t xa_report_poll(bool bg);
/* A periodic export is due now (reads the clock only when one is scheduled). */
bool xa_report_due(void);
/* prof_prefix with %p, %e and %% expanded. */
void xa_report_expand_prefix(char *out, size_t n);
/* dump_signal's value as a signal number; 0 if invalid or unusable. */
int xa_report_parse_signal(const char *v);
/* Child after fork: re-initialise the ctl and printer locks (outermost,
 * not taken by the prefork handler; a snapshot a parent thread was filling
 * is simply refreshed again). */
void xa_stats_postfork_child(void);

/* ---- prof.c, prof_dump.c: sampled heap profiling ---------------------
 * Sampling shares the allocation event: tsd->next_event is at most
 * tsd->prof_next while the thread samples, so the fast path pays nothing
 * extra.  Sampled objects carry PCLASS_SAMPLED in pclass[] (small: in
 * profiled slabs; large: the run's first page) or desc->sampled (huge), so
 * their free takes the slow path, which calls xa_prof_free_sampled. */
#define PCLASS_SAMPLED 0xfe
/* The same byte on the first page of a large run whose size is not its
 * class's (exactly its pages: above tcache_max, or resized by realloc):
 * such a block must not enter a cache bin, whose blocks all have the class
 * size, so its free takes the slow path, which reads the run descriptor
 * (r->sampled tells the two cases apart). */
#define PCLASS_SLOW PCLASS_SAMPLED
/* The class byte of a large run of class cls and usize bytes. */
#define PCLASS_LARGE(cls, usize) ((usize) == xa_sc_size[cls] ? (uint8_t)(cls) : (uint8_t)PCLASS_SLOW)
extern _Atomic uint32_t xa_prof_epoch; /* changes with active / rate */
void xa_prof_thread_sync(xa_tsd_t *t); /* after an epoch change */
/* An allocation of usize bytes now must be sampled (called only when the
 * allocation event is due). */
XA_INLINE bool xa_prof_due(xa_tsd_t *t, size_t usize) {
	if (t->in_prof || t->state != TSD_NOMINAL)
		return false;
	if (unlikely(t->prof_epoch != atomic_load_explicit(&xa_prof_epoch, memory_order_relaxed)))
		xa_prof_thread_sync(t);
	return t->allocated + usize >= t->prof_next;
}
void xa_prof_boot(void);        /* after the options are read */
void xa_prof_thread_init(xa_tsd_t *t);
/* On the allocation event: (re)draw the sampling point, lower next_event
 * to it; interval and gdump dumps. */
void xa_prof_event(xa_tsd_t *t);
/* Allocate a sampled object (cls as alloc.c: small, large, the aligned
 * large pseudo-class, or SC_HUGE) and record it.  NULL if out of memory
 * (the caller then allocates normally). */
void *xa_prof_alloc(xa_tsd_t *t, size_t usize, unsigned cls, size_t align, bool zero);
/* Free of a sampled object: drops its record; for arena objects (run !=
 * NULL) also returns the memory.  Huge: clears desc->sampled only (the
 * caller frees the mapping). */
void xa_prof_free_sampled(xa_chunk_t *c, xa_run_t *r, void *ptr, size_t usize);
/* A sampled huge object moved or changed size (realloc). */
void xa_prof_moved(void *old, void *ptr, size_t usize);
/* A sampled large run was resized in place (which rewrote its pclass). */
void xa_prof_resized(xa_chunk_t *c, xa_run_t *r, size_t usize);
void xa_prof_atexit(void);
/* Live bytes passed the last peak dump by prof_peak_step: dump
 * <prefix>.<pid>.<seq>.p<n>.heap (no lock held by the caller). */
void xa_prof_dump_peak(void);
void xa_prof_prefork(void);
void xa_prof_postfork_parent(void);
void xa_prof_postfork_child(void);
/* For the ctl (see the man page, HEAP PROFILING).  Setters return 0 or an
 * errno value. */
bool xa_prof_active_get(void);
int xa_prof_active_set(bool on);
bool xa_prof_thread_active_get(void);
int xa_prof_thread_active_set(bool on);
unsigned xa_prof_lg_sample_get(void);
/* Bytes between interval dumps (2^lg_prof_interval), 0 when off. */
uint64_t xa_prof_interval_get(void);
bool xa_prof_gdump_get(void);
int xa_prof_gdump_set(bool on);
/* Dump to path, or to <prefix>.<pid>.<seq>.heap when path is NULL. */
int xa_prof_dump(const char *path);
/* A heap profile to an open file (pprof: profile.proto, else the legacy
 * text), whatever prof_format says; pprof with seconds > 0: the change
 * over that many seconds (the caller sleeps meanwhile).  0, an errno, or
 * ENOENT when profiling was never on. */
int xa_prof_dump_fd(int fd, bool pprof, unsigned seconds);
/* Forget every sample; lg >= 0 also sets a new lg_sample (EINVAL outside
 * the range of the option lg_prof_sample). */
int xa_prof_reset(int lg);
typedef struct {
	uint64_t nsamples;   /* samples taken since start or reset */
	uint64_t nlive;      /* sampled objects still live */
	uint64_t nstacks;    /* distinct stacks stored */
	uint64_t meta_bytes; /* profiler metadata (tables, stacks) */
	uint64_t slab_bytes; /* bytes of profiled slabs (hold small samples) */
	uint64_t time_ns;    /* time spent sampling, freeing samples, dumping */
	uint64_t ndumps;     /* heap profiles written */
} xa_prof_stats_t;
void xa_prof_stats(xa_prof_stats_t *st);

#endif /* XA_INTERNAL_H */
