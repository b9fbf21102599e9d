/*
 * fault_shim.so: preloaded before libxalloc.so by faults.sh.  Makes the
 * system calls xalloc depends on fail on demand:
 *   FAULT_PTHREAD=1   pthread_create always fails with EAGAIN
 *   FAULT_MADVISE=1   madvise always fails with EAGAIN
 *   mmap: fails with ENOMEM while xshim_mmap_fail(1) is in force (the
 *         child toggles it through dlsym); munmap/mremap fail too if
 *         FAULT_MREMAP=1 (mremap only).
 * The memory calls go straight to syscall(2); nothing here allocates
 * except dlsym in the load-time constructor.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static int fail_mmap;
static int (*real_pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

/* Resolved once at load time: dlsym may allocate, which must not happen
 * inside an allocator call. */
__attribute__((constructor)) static void shim_init(void) {
	real_pthread_create =
	    (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *))dlsym(RTLD_NEXT, "pthread_create");
}
static long nfail;

void xshim_mmap_fail(int on) { __atomic_store_n(&fail_mmap, on, __ATOMIC_SEQ_CST); }
long xshim_nfailed(void) { return __atomic_load_n(&nfail, __ATOMIC_SEQ_CST); }

static int env_on(const char *name) {
	/* getenv does not allocate */
	const char *v = getenv(name);
	return v && *v == '1';
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
	if (__atomic_load_n(&fail_mmap, __ATOMIC_SEQ_CST) && (flags & MAP_ANONYMOUS)) {
		__atomic_add_fetch(&nfail, 1, __ATOMIC_SEQ_CST);
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

void *mremap(void *old, size_t olen, size_t nlen, int flags, ...) {
	void *newaddr = NULL;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		newaddr = va_arg(ap, void *);
		va_end(ap);
	}
	if (__atomic_load_n(&fail_mmap, __ATOMIC_SEQ_CST) && nlen > olen) {
		__atomic_add_fetch(&nfail, 1, __ATOMIC_SEQ_CST);
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return (void *)syscall(SYS_mremap, old, olen, nlen, flags, newaddr);
}

int madvise(void *addr, size_t len, int advice) {
	if (env_on("FAULT_MADVISE")) {
		errno = EAGAIN;
		return -1;
	}
	return (int)syscall(SYS_madvise, addr, len, advice);
}

int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
	if (env_on("FAULT_PTHREAD"))
		return EAGAIN;
	return real_pthread_create(th, attr, fn, arg);
}
