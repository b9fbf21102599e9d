/*
 * os.h -- the contract with the kernel.  os.c is the only file that
 * includes <sys/mman.h> or names a file under /proc: its readers are named
 * for what they return.  Every function preserves errno
 * unless it says it sets it, and none allocates.
 */
#ifndef XA_OS_H
#define XA_OS_H

/* Map size bytes (a multiple of PAGE) aligned to align (a power of two
 * >= PAGE), read/write, private anonymous.  NULL on failure, errno kept
 * as the kernel set it (ENOMEM). */
void *xa_os_map(size_t size, size_t align);
void xa_os_unmap(void *addr, size_t size);
/* Reserve size bytes read/write with MAP_NORESERVE: pages are backed only
 * when written (reads of untouched pages give zero).  NULL on failure. */
void *xa_os_reserve_zero(size_t size);
/* Forced purge: the pages read as zero afterwards and leave RSS at once.
 * Returns true on error (madvise failed: the pages are still resident and
 * must not be counted as released). */
bool xa_os_purge_forced(void *addr, size_t size);
/* Lazy purge (MADV_FREE): the kernel reclaims the pages only under memory
 * pressure.  Falls back to the forced purge, once and silently, where
 * MADV_FREE is unsupported.  Returns XA_PURGED_LAZY, XA_PURGED_FORCED, or
 * XA_PURGE_FAILED when neither madvise worked. */
enum { XA_PURGED_LAZY, XA_PURGED_FORCED, XA_PURGE_FAILED };
int xa_os_purge_lazy(void *addr, size_t size);
/* Grow or move a mapping (mremap), keeping align.  NULL on failure. */
void *xa_os_remap(void *addr, size_t old_size, size_t new_size, size_t align);
/* Try to grow a mapping in place; true on success. */
bool xa_os_grow_inplace(void *addr, size_t old_size, size_t new_size);
/* Move the pages of [src, src+size) to [dst, dst+size) (both ours, page
 * aligned, src inside one kernel mapping) without copying or faulting them
 * (mremap with MREMAP_FIXED replaces dst), then map src again, empty (it
 * reads as zero).  XA_MOVED; XA_MOVED_SRC_LOST when src could not be mapped
 * again (another mapping took the hole: src is no longer ours); or
 * XA_MOVE_FAILED with nothing changed. */
enum { XA_MOVED, XA_MOVED_SRC_LOST, XA_MOVE_FAILED };
int xa_os_move_pages(void *src, void *dst, size_t size);
/* Memory system calls made so far (mmap, munmap, madvise, mremap). */
void xa_os_counts(uint64_t *mmaps, uint64_t *munmaps, uint64_t *madvises, uint64_t *mremaps);
/* Count resident pages in [addr, addr+size) with mincore; -1 on error. */
ssize_t xa_os_resident_pages(void *addr, size_t size);
/* Resident set size of the process, in bytes (from /proc/self/statm). */
size_t xa_os_rss(void);
/* Number of mappings (lines of /proc/self/maps) and vm.max_map_count. */
size_t xa_os_map_count(void);
size_t xa_os_max_map_count(void);
/* Sum of a field ("LazyFree:", "Rss:", ...) of /proc/self/smaps_rollup, bytes. */
size_t xa_os_smaps_field(const char *field);
/* A thread's scheduler state (the State letter of its status: 'S' asleep,
 * 'R' running, ...) and its context switches so far (voluntary and not);
 * false when unreadable (the thread is gone). */
bool xa_os_thread_sched(pid_t tid, char *state, uint64_t *switches);
/* The kernel's high-water mark of the RSS (VmHWM), bytes; 0 if unknown. */
uint64_t xa_os_rss_hwm(void);
/* Restart that mark from the current RSS (clear_refs); true on error. */
bool xa_os_rss_hwm_reset(void);
/* The kernel's name of the process (comm: as ps and core_pattern's %e show
 * it), NUL-terminated without the newline; its length, or -1. */
ssize_t xa_os_comm(char *buf, size_t n);
/* Copy the process's memory map (/proc/self/maps) to fd; true on error. */
bool xa_os_copy_maps(int fd);
/* The calling thread and the other internal ones are all that is left
 * (internal: how many threads of the allocator's own, the caller included,
 * are running; /proc/self/stat). */
bool xa_os_only_thread(unsigned internal);
unsigned xa_os_ncpus(void);
bool xa_os_secure(void); /* AT_SECURE: setuid/setgid */
char **xa_os_environ(void);
/* write(2) until done (EINTR retried); errno kept.  True on error. */
bool xa_os_write_all(int fd, const char *buf, size_t len);
/* Map a whole file read-only (the profiler reads ELF symbol tables);
 * NULL on failure.  Unmap with xa_os_unmap(p, *size). */
void *xa_os_map_file(const char *path, size_t *size);
/* An anonymous in-memory file (memfd_create; close-on-exec), or -1: the
 * buffer the http endpoint builds an answer in, so that no response is
 * built in the application heap and none while a socket is waited on. */
int xa_os_memfd(const char *name);
/* Empty it again for the next answer; true on error. */
bool xa_os_memfd_reset(int fd);
/* Create a file for writing: O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600.
 * Returns fd or -1. */
int xa_os_create_file(const char *path);
XA_NORETURN void xa_os_abort(void);
pid_t xa_os_gettid(void);

#endif
