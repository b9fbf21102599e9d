/*
 * zero.c -- zeroing the pages of a calloc'd large or huge block.
 *
 * Owns: the choice between memset and letting the kernel zero the pages
 * (MADV_DONTNEED in place), and the zeroing statistics.  Callers that know
 * the memory reads as zero (pages fresh from mmap, or released with
 * MADV_DONTNEED and not touched since: retained runs and retained huge
 * mappings) skip zeroing and only count it (xa_zero_known).
 *
 * The choice, measured (bench/README.md, "calloc"): on the 2-core test
 * machine (no transparent huge pages) one 4 KiB page costs about 155 ns to
 * memset when resident, 1700-2300 ns when memset must first fault it in,
 * 350 ns to MADV_DONTNEED when resident, 3 ns per page for mincore, and a
 * later touch of a released page costs a fault (1700 ns).  A freed block
 * with a share f of its pages resident, reused by a program that touches
 * about as much of it as before (u = f), costs per page
 *     memset:  155 + (1 - f) * 1700        (and every page becomes resident)
 *     kernel:  f * 350 + u * 1700 = f * 2050
 * which break even at f = 0.49.  So a block of at least ZERO_KERNEL_MIN
 * whose pages are less than half resident is given to the kernel, and the
 * rest is memset.  A mostly resident block is warm: memset keeps it so and
 * costs no faults (16 x calloc(8 MiB) reused densely: 150 ns a page against
 * jemalloc's release-and-fault 2000 ns); a mostly absent one (a sparse
 * table freed and callocated again) stays absent instead of being faulted
 * in whole.  Below ZERO_KERNEL_MIN (64 pages) the two system calls cost
 * more than a memset of pages that are in practice always resident.
 * Both branches leave every byte zero: the residency count only steers the
 * cost (a page swapped out counts as absent and is zeroed by the kernel).
 *
 * Blocks are page-aligned and whole pages (large runs and huge mappings), so
 * there are no partial pages to memset around the released range.
 *
 * Locking: none; the counters are relaxed atomics (calloc of large blocks
 * only, never on a fast path).
 */
#include "internal.h"

#define ZERO_KERNEL_MIN ((size_t)256 << 10)

static _Atomic uint64_t zero_known, zero_memset, zero_kernel;

void xa_zero_known(size_t size) { atomic_fetch_add_explicit(&zero_known, size, memory_order_relaxed); }

/* True if fewer than half of the pages of [p, p+size) are resident. */
static bool mostly_absent(void *p, size_t size) {
	ssize_t resident = xa_os_resident_pages(p, size);
	return resident >= 0 && (size_t)resident * 2 < size / PAGE;
}

void xa_zero_fill(void *p, size_t size) {
	xa_assert(((uintptr_t)p & PAGE_MASK) == 0 && (size & PAGE_MASK) == 0);
	if (size >= ZERO_KERNEL_MIN && mostly_absent(p, size) && !xa_os_purge_forced(p, size)) {
		atomic_fetch_add_explicit(&zero_kernel, size, memory_order_relaxed);
		return;
	}
	memset(p, 0, size);
	atomic_fetch_add_explicit(&zero_memset, size, memory_order_relaxed);
}

void xa_zero_stats(uint64_t *known, uint64_t *memset_bytes, uint64_t *kernel) {
	*known = atomic_load_explicit(&zero_known, memory_order_relaxed);
	*memset_bytes = atomic_load_explicit(&zero_memset, memory_order_relaxed);
	*kernel = atomic_load_explicit(&zero_kernel, memory_order_relaxed);
}
