/*
 * xt.h: the standard entry points of the test build of xalloc
 * (src/libxalloc_test.la, compiled with -DXALLOC_PREFIX=xt_).
 *
 * Same signatures as glibc's, with an xt_ prefix, so that a unit test calls
 * xalloc while Criterion (and the rest of the process) keeps glibc's malloc.
 */
#ifndef XALLOC_TEST_XT_H
#define XALLOC_TEST_XT_H

#include <stddef.h>
#include <malloc.h> /* struct mallinfo, struct mallinfo2, M_* constants */

#ifdef __cplusplus
extern "C" {
#endif

void *xt_malloc(size_t size);
void xt_free(void *ptr);
void *xt_calloc(size_t nmemb, size_t size);
void *xt_realloc(void *ptr, size_t size);
void *xt_reallocarray(void *ptr, size_t nmemb, size_t size);
int xt_posix_memalign(void **memptr, size_t alignment, size_t size);
void *xt_aligned_alloc(size_t alignment, size_t size);
void *xt_memalign(size_t alignment, size_t size);
void *xt_valloc(size_t size);
void *xt_pvalloc(size_t size);
size_t xt_malloc_usable_size(void *ptr);
void xt_free_sized(void *ptr, size_t size);
void xt_free_aligned_sized(void *ptr, size_t alignment, size_t size);
int xt_malloc_trim(size_t pad);
int xt_mallopt(int param, int value);
struct mallinfo xt_mallinfo(void);
struct mallinfo2 xt_mallinfo2(void);
void xt_malloc_stats(void);

#ifdef __cplusplus
}
#endif

#endif
