/*
 * stats.h -- shared between ctl.c (the namespace), stats.c (the snapshot)
 * and stats_print.c (the output).  Not installed.
 *
 * The statistics are read through a snapshot: xa_stats_refresh() copies
 * every counter into an xa_snap_t (taking each lock briefly, one at a time),
 * then derives the totals.  ctl reads stats.* from its own snapshot, which
 * only an `epoch` write (or the first stats read) refreshes; the printer
 * fills a private snapshot, so the user's write callback never runs with an
 * allocator lock held.
 *
 * Definitions (all in bytes unless the name says pages; see xalloc(3)):
 *   allocated  usable bytes of the objects the application holds:
 *              sum over threads of allocated - deallocated (tcache.h)
 *   tcache     bytes of free objects sitting in thread caches
 *   remote     bytes freed by threads of other arenas, waiting in remote
 *              batches for their arena's next cache fill or a purge
 *   active     pages of slabs and large runs, plus live huge mappings
 *   dirty      free resident pages awaiting release, plus dirty cached
 *              huge mappings
 *   lazy       pages released with MADV_FREE (resident until reclaimed),
 *              arena runs and cached huge mappings
 *   retained   address space kept but unbacked (arena runs and cached
 *              huge mappings)
 *   metadata   base memory mapped for the allocator's own structures
 *   mapped     = active + dirty + lazy + retained + metadata
 *   resident   pages of those mappings that are in RAM (mincore)
 * Invariants: allocated + tcache + remote <= active (exact when no thread
 *   runs);
 *   active <= mapped; resident <= mapped; dirty + lazy + retained <= mapped.
 */
#ifndef XA_STATS_H
#define XA_STATS_H

#define XA_STRINGIFY2(x) #x
#define XA_STRINGIFY(x) XA_STRINGIFY2(x)

/* The "all arenas" index of arena.<i>.* and stats.arenas.<i>.*. */
#define XA_ARENAS_ALL 4096
/* Refreshes remembered for the growth (leak candidate) verdict. */
#define XA_SNAP_HISTORY 8

typedef struct {
	bool present;
	unsigned nthreads;
	int64_t decay_ms;
	xa_arena_stats_t a;
	uint64_t lnmalloc[SC_NCLASSES - SC_NSMALL], lndalloc[SC_NCLASSES - SC_NSMALL];
	size_t lcur[SC_NCLASSES - SC_NSMALL];
	xa_bin_stats_t bins[SC_NSMALL];
	/* derived */
	size_t resident;        /* mincore over the arena's chunks */
	size_t slab_purged;     /* free pages of live slabs already released */
	size_t small_allocated; /* curregs * size (live and cached objects) */
	size_t small_active;    /* the bins' curpages * PAGE */
	size_t remote;          /* bytes waiting in its remote batches */
	uint64_t small_nmalloc, small_ndalloc, small_nrequests;
	uint64_t next_due_ns; /* until the oldest dirty run is released */
} xa_snap_arena_t;

typedef struct {
	uint64_t epoch;
	uint64_t time_ns;
	/* totals */
	size_t allocated, active, metadata, resident, mapped, retained, dirty, lazy, tcache;
	size_t remote;      /* waiting in remote batches (xa_snap_arena_t) */
	size_t slack;       /* active - allocated - tcache - remote: rounding, free regions */
	size_t reclaimable; /* dirty + tcache + remote: what a purge and flush return now */
	uint64_t thread_allocated, thread_deallocated;
	size_t nthreads;
	/* huge */
	size_t huge_allocated, huge_mapped, huge_cur, huge_cached;
	size_t huge_state[PS_NSTATES]; /* huge_cached by page state */
	size_t huge_resident, huge_cached_resident;
	uint64_t huge_nmalloc, huge_ndalloc, huge_moved;
	/* calloc zeroing of large and huge blocks (zero.c), memory syscalls */
	uint64_t zero_known, zero_memset, zero_kernel;
	uint64_t os_mmap, os_munmap, os_madvise, os_mremap;
	uint64_t trim_calls, trim_skipped;
	/* process: the kernel's view */
	size_t rss, lazyfree_resident, not_heap, map_count, max_map_count;
	size_t metadata_allocated, metadata_resident;
	/* release */
	int64_t decay_ms;      /* default */
	unsigned purge_policy; /* XA_PURGE_* */
	bool bg_enabled, bg_running;
	uint64_t bg_runs, bg_wakeups;
	uint64_t compact_passes, compact_moved, compact_failed;
	uint64_t next_due_ns; /* min over arenas; UINT64_MAX if nothing dirty */
	int64_t max_decay_ms; /* largest decay among arenas holding dirty pages */
	/* arenas */
	unsigned narenas; /* created */
	xa_snap_arena_t *arenas[XA_MAX_ARENAS]; /* from base, on first use */
	xa_snap_arena_t all;                   /* merged */
	/* high-water marks since start or stats.peak.reset (peak.c), and the
	 * times (xa_now_ns) they were reached */
	size_t peak_allocated, peak_active, peak_resident;
	uint64_t peak_allocated_ns, peak_active_ns, peak_resident_ns, start_ns;
	/* whose statistics these are */
	int pid;
	char prog[32];
	/* growth history: allocated at the last refreshes, oldest first */
	unsigned nhist;
	size_t hist[XA_SNAP_HISTORY];
} xa_snap_t;

/*
 * The statistics tables: one row per value, feeding the ctl names
 * (stats.<name>, stats.arenas.<i>.<name>, ...), the JSON keys, the
 * Prometheus metrics and the man page check.  Kinds: B bytes (size_t,
 * gauge), N a count (size_t, gauge), P pages (size_t, gauge), C an event
 * counter (uint64_t, monotonic), M milliseconds (size_t; Prometheus: the
 * name without "_ms" plus "_seconds", in seconds).
 * X(name, kind, expression over s (xa_snap_t) / sa (xa_snap_arena_t) /
 *   b (xa_bin_stats_t) / j (large class index, sa), doc)
 */
#define XA_PEAK_MS(s, ns) ((ns) > (s)->start_ns ? ((ns) - (s)->start_ns) / 1000000u : 0)
#define XA_STATS_GLOBAL(X)                                                                         \
	X(allocated, B, s->allocated, "bytes the application holds (usable sizes)")                  \
	X(active, B, s->active, "bytes of pages holding live or cached objects, and live huge mappings") \
	X(metadata, B, s->metadata, "bytes mapped for the allocator's own metadata")                  \
	X(metadata_resident, B, s->metadata_resident, "resident bytes of the metadata mappings (mincore)") \
	X(resident, B, s->resident, "bytes of xalloc's mappings resident in RAM (mincore)")           \
	X(mapped, B, s->mapped, "bytes mapped: active + dirty + lazy + retained + metadata")           \
	X(retained, B, s->retained, "bytes of address space kept unbacked for reuse")                 \
	X(dirty, B, s->dirty, "freed resident bytes awaiting release, incl. cached huge mappings")    \
	X(lazy, B, s->lazy, "bytes released with MADV_FREE (resident until the kernel reclaims them)") \
	X(tcache, B, s->tcache, "bytes of free objects held in thread caches")                        \
	X(remote, B, s->remote, "bytes freed by threads of other arenas, waiting in remote batches for their arena's next cache fill or a purge") \
	X(slack, B, s->slack, "active - allocated - tcache - remote: size-class rounding and free slab regions") \
	X(slab_purged, B, s->all.slab_purged, "part of slack already released: free pages of partly used slabs") \
	X(reclaimable, B, s->reclaimable, "dirty + tcache + remote: what a purge and cache flush return now") \
	X(nthreads, N, s->nthreads, "threads with allocator state")                                  \
	X(peak.allocated, B, s->peak_allocated, "high-water mark of allocated since start or stats.peak.reset (sampled: see xalloc(3))") \
	X(peak.allocated_at_ms, M, XA_PEAK_MS(s, s->peak_allocated_ns), "time from start to the allocated peak") \
	X(peak.active, B, s->peak_active, "high-water mark of active since start or stats.peak.reset") \
	X(peak.active_at_ms, M, XA_PEAK_MS(s, s->peak_active_ns), "time from start to the active peak") \
	X(peak.resident, B, s->peak_resident, "high-water mark of the process RSS since start or stats.peak.reset (the kernel's VmHWM)") \
	X(peak.resident_at_ms, M, XA_PEAK_MS(s, s->peak_resident_ns), "time from start to when the RSS peak was first seen") \
	X(process.rss, B, s->rss, "resident set size of the process (/proc/self/statm)")             \
	X(process.not_heap, B, s->not_heap, "rss - resident: stacks, code, file and foreign mappings") \
	X(process.lazyfree, B, s->lazyfree_resident, "MADV_FREE'd bytes still resident (smaps LazyFree)") \
	X(process.mappings, N, s->map_count, "mappings of the process (/proc/self/maps lines)")      \
	X(process.mappings_max, N, s->max_map_count, "the vm.max_map_count limit")                    \
	X(huge.allocated, B, s->huge_allocated, "usable bytes of live huge allocations")             \
	X(huge.mapped, B, s->huge_mapped, "bytes mapped for live huge allocations")                  \
	X(huge.cached, B, s->huge_cached, "bytes of freed huge mappings kept for reuse (dirty + lazy + retained)") \
	X(huge.dirty, B, s->huge_state[PS_DIRTY], "cached huge bytes still resident, awaiting release (in dirty)") \
	X(huge.retained, B, s->huge_state[PS_RETAINED], "cached huge bytes released with MADV_DONTNEED: address space only (in retained)") \
	X(huge.resident, B, s->huge_resident + s->huge_cached_resident, "resident bytes of huge mappings") \
	X(huge.curhuge, N, s->huge_cur, "live huge allocations")                                     \
	X(huge.nmalloc, C, s->huge_nmalloc, "huge allocations made")                                 \
	X(huge.ndalloc, C, s->huge_ndalloc, "huge allocations freed")                                \
	X(huge.moved, C, s->huge_moved, "bytes of cached dirty pages moved (mremap) into new huge blocks instead of fresh pages faulted in") \
	X(zero.known, C, s->zero_known, "bytes of large and huge callocs already zero (fresh or retained pages): no work") \
	X(zero.memset, C, s->zero_memset, "bytes of large and huge callocs zeroed with memset")      \
	X(zero.kernel, C, s->zero_kernel, "bytes of large and huge callocs zeroed by MADV_DONTNEED (mostly absent pages)") \
	X(os.mmap, C, s->os_mmap, "mmap calls made by the allocator")                                \
	X(os.munmap, C, s->os_munmap, "munmap calls made by the allocator")                          \
	X(os.madvise, C, s->os_madvise, "madvise calls made by the allocator")                       \
	X(os.mremap, C, s->os_mremap, "mremap calls made by the allocator")                          \
	X(trim.calls, C, s->trim_calls, "malloc_trim calls")                                          \
	X(trim.skipped, C, s->trim_skipped, "malloc_trim calls that returned at once: over the trim_budget_pct budget, or trim_budget_pct:0") \
	X(background_thread.num_runs, C, s->bg_runs, "purge passes of the background thread")        \
	X(background_thread.num_wakeups, C, s->bg_wakeups, "wake-ups of the background thread")      \
	X(compact.passes, C, s->compact_passes, "world stops in which the background thread moved live run descriptors together (option compact)") \
	X(compact.moved, C, s->compact_moved, "run descriptors moved by those passes")               \
	X(compact.failed, C, s->compact_failed, "compaction attempts given up because a thread was not idle (retried later)")

#define XA_STATS_ARENA(X)                                                                          \
	X(nthreads, N, sa->nthreads, "threads bound to the arena")                                   \
	X(pactive, P, sa->a.active_pages, "pages of slabs and large runs")                            \
	X(pdirty, P, sa->a.npages[PS_DIRTY], "free resident pages awaiting release")                  \
	X(plazy, P, sa->a.npages[PS_LAZY], "pages released with MADV_FREE")                           \
	X(pretained, P, sa->a.npages[PS_RETAINED], "free unbacked pages")                             \
	X(mapped, B, sa->a.mapped_chunks * CHUNK, "bytes of the arena's chunks")                      \
	X(resident, B, sa->resident, "resident bytes of the arena's chunks (mincore)")               \
	X(remote, B, sa->remote, "bytes freed by threads of other arenas, waiting in its remote batches") \
	X(small.allocated, B, sa->small_allocated, "bytes of slab regions in use (live or cached)")  \
	X(small.active, B, sa->small_active, "bytes of slabs")                                       \
	X(small.purged, B, sa->slab_purged, "bytes of slab pages released while the slab lives on")  \
	X(small.nmalloc, C, sa->small_nmalloc, "regions handed out of slabs")                        \
	X(small.ndalloc, C, sa->small_ndalloc, "regions returned to slabs")                          \
	X(small.nrequests, C, sa->small_nrequests, "small allocation requests (incl. cache hits, merged at fills)") \
	X(large.allocated, B, sa->a.large_allocated, "usable bytes of large blocks live or in thread caches") \
	X(large.curlextents, N, sa->a.large_cur, "large blocks live or in thread caches")             \
	X(large.nmalloc, C, sa->a.large_nmalloc, "large blocks handed out (to the application or a thread cache)") \
	X(large.ndalloc, C, sa->a.large_ndalloc, "large blocks returned (by the application or a thread cache)") \
	X(npurge, C, sa->a.npurge_calls, "purge passes that released pages")                         \
	X(nmadvise, C, sa->a.nmadvise, "madvise calls")                                              \
	X(purged, C, sa->a.npurged_pages, "pages released")

#define XA_STATS_BIN(X)                                                                            \
	X(nmalloc, C, b->nmalloc, "regions handed out of slabs")                                     \
	X(ndalloc, C, b->ndalloc, "regions returned to slabs")                                       \
	X(nrequests, C, b->nrequests, "allocation requests (incl. thread-cache hits)")               \
	X(nfills, C, b->nfills, "thread-cache fills")                                                \
	X(nflushes, C, b->nflushes, "thread-cache flushes")                                          \
	X(nslabs, C, b->nslabs_total, "slabs created")                                               \
	X(curregs, N, b->curregs, "regions in use (live or in a thread cache)")                      \
	X(curslabs, N, b->curslabs, "slabs in use, or wholly free and kept for the next fill")

#define XA_STATS_LEXTENT(X)                                                                        \
	X(nmalloc, C, sa->lnmalloc[j], "blocks of the class handed out (to the application or a cache)") \
	X(ndalloc, C, sa->lndalloc[j], "blocks of the class returned (by the application or a cache)") \
	X(curlextents, N, sa->lcur[j], "blocks of the class live or in thread caches")

/* stats.c */
/* Fill s from the live counters (no lock held by the caller; takes them
 * one at a time).  Returns true on error (out of metadata memory). */
bool xa_stats_refresh(xa_snap_t *s);

/* peak.c: the peak figures into s (after its totals and rss are set). */
void xa_peak_snapshot(xa_snap_t *s);

/* stats_print.c */
/* The printer behind xalloc_stats_print (s already refreshed). */
void xa_stats_print_snap(const xa_snap_t *s, void (*write_cb)(void *, const char *), void *cbopaque,
    const char *opts);

#endif
