/*
 * os.c -- the OS layer: mmap/munmap/madvise/mremap/mincore and /proc.
 *
 * Owns: every system call that manages memory or reads the process's
 * description from the kernel.  Nothing else includes <sys/mman.h>.
 * Invariants: errno is preserved by every function that does not document
 * setting it; no function allocates or takes an allocator lock.
 */
#include "internal.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MADV_FREE
#define MADV_FREE 8
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

extern char **environ;

static _Atomic bool os_madv_free_broken;

/* Memory system calls made (stats.os.*): how often the allocator goes to
 * the kernel, e.g. to show that big blocks are reused, not remapped. */
static _Atomic uint64_t os_nmmap, os_nmunmap, os_nmadvise, os_nmremap;
#define OS_COUNT(c) atomic_fetch_add_explicit(&(c), 1, memory_order_relaxed)

void xa_os_counts(uint64_t *mmaps, uint64_t *munmaps, uint64_t *madvises, uint64_t *mremaps) {
	*mmaps = atomic_load_explicit(&os_nmmap, memory_order_relaxed);
	*munmaps = atomic_load_explicit(&os_nmunmap, memory_order_relaxed);
	*madvises = atomic_load_explicit(&os_nmadvise, memory_order_relaxed);
	*mremaps = atomic_load_explicit(&os_nmremap, memory_order_relaxed);
}

static void *os_mmap(void *addr, size_t size, int prot, int flags) {
	OS_COUNT(os_nmmap);
	return mmap(addr, size, prot, flags, -1, 0);
}

static int os_munmap(void *addr, size_t size) {
	OS_COUNT(os_nmunmap);
	return munmap(addr, size);
}

static int os_madvise(void *addr, size_t size, int advice) {
	OS_COUNT(os_nmadvise);
	return madvise(addr, size, advice);
}

void *xa_os_map(size_t size, size_t align) {
	void *p = os_mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	if (p == MAP_FAILED)
		return NULL;
	if (((uintptr_t)p & (align - 1)) == 0)
		return p;
	/* Misaligned: map size + align and trim both ends. */
	int e = errno;
	os_munmap(p, size);
	if (size + align < size) {
		errno = ENOMEM;
		return NULL;
	}
	char *q = os_mmap(NULL, size + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
	if (q == MAP_FAILED)
		return NULL;
	uintptr_t a = ((uintptr_t)q + align - 1) & ~(uintptr_t)(align - 1);
	size_t lead = a - (uintptr_t)q, trail = align - lead;
	if (lead)
		os_munmap(q, lead);
	if (trail)
		os_munmap((char *)a + size, trail);
	errno = e;
	return (void *)a;
}

void *xa_os_reserve_zero(size_t size) {
	int e = errno;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	errno = e;
	return p == MAP_FAILED ? NULL : p;
}

void xa_os_unmap(void *addr, size_t size) {
	int e = errno;
	if (os_munmap(addr, size) != 0) {
		char eb[24];
		xa_message("munmap(%p, %zu) failed: %s", addr, size, xa_strerror(errno, eb, sizeof(eb)));
	}
	errno = e;
}

bool xa_os_purge_forced(void *addr, size_t size) {
	int e = errno;
	bool err = os_madvise(addr, size, MADV_DONTNEED) != 0;
	errno = e;
	return err;
}

int xa_os_purge_lazy(void *addr, size_t size) {
	int e = errno;
	if (!atomic_load_explicit(&os_madv_free_broken, memory_order_relaxed)) {
		if (os_madvise(addr, size, MADV_FREE) == 0) {
			errno = e;
			return XA_PURGED_LAZY;
		}
		if (errno == EINVAL || errno == ENOSYS)
			atomic_store(&os_madv_free_broken, true);
	}
	int r = os_madvise(addr, size, MADV_DONTNEED) == 0 ? XA_PURGED_FORCED : XA_PURGE_FAILED;
	errno = e;
	return r;
}

bool xa_os_grow_inplace(void *addr, size_t old_size, size_t new_size) {
	int e = errno;
	OS_COUNT(os_nmremap);
	void *p = mremap(addr, old_size, new_size, 0);
	errno = e;
	return p != MAP_FAILED;
}

int xa_os_move_pages(void *src, void *dst, size_t size) {
	int e = errno;
	OS_COUNT(os_nmremap);
	if (mremap(src, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, dst) == MAP_FAILED) {
		errno = e;
		return XA_MOVE_FAILED;
	}
	/* src is a hole now: map it again, but never over a mapping that
	 * another thread placed there meanwhile (a kernel older than 4.17
	 * ignores the flag and may place the mapping elsewhere). */
	void *p = os_mmap(src, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE);
	int r = XA_MOVED;
	if (p != src) {
		if (p != MAP_FAILED)
			os_munmap(p, size);
		r = XA_MOVED_SRC_LOST;
	}
	errno = e;
	return r;
}

void *xa_os_remap(void *addr, size_t old_size, size_t new_size, size_t align) {
	int e = errno;
	/* Reserve an aligned destination, then move the pages there. */
	char *dst = os_mmap(NULL, new_size + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
	if (dst == MAP_FAILED)
		return NULL;
	uintptr_t a = ((uintptr_t)dst + align - 1) & ~(uintptr_t)(align - 1);
	OS_COUNT(os_nmremap);
	void *p = mremap(addr, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)a);
	if (p == MAP_FAILED) {
		int e2 = errno;
		os_munmap(dst, new_size + align);
		errno = e2;
		return NULL;
	}
	/* mremap replaced [a, a+new_size); drop the rest of the reservation. */
	if (a > (uintptr_t)dst)
		os_munmap(dst, a - (uintptr_t)dst);
	size_t tail = (uintptr_t)dst + new_size + align - (a + new_size);
	if (tail)
		os_munmap((char *)a + new_size, tail);
	errno = e;
	return p;
}

ssize_t xa_os_resident_pages(void *addr, size_t size) {
	int e = errno;
	unsigned char vec[1024];
	ssize_t total = 0;
	char *p = addr;
	size_t left = size / PAGE;
	while (left) {
		size_t n = left < sizeof(vec) ? left : sizeof(vec);
		if (mincore(p, n * PAGE, vec) != 0) {
			errno = e;
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			total += vec[i] & 1;
		p += n * PAGE;
		left -= n;
	}
	errno = e;
	return total;
}

/* ---- the kernel's files about this process -----------------------------
 * Every path under /proc is built here, and each reader is named for what
 * it returns; the callers never see a path or the files' formats.  Stack
 * buffers only: these run inside the allocator (under no lock of ours). */

/* Read a small file into buf (NUL-terminated); returns bytes or -1. */
static ssize_t os_read_file(const char *path, char *buf, size_t n) {
	int e = errno;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		errno = e;
		return -1;
	}
	size_t len = 0;
	while (len + 1 < n) {
		ssize_t r = read(fd, buf + len, n - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	close(fd);
	errno = e;
	return (ssize_t)len;
}

/* Copy a file (a /proc file of any length) to fd through a stack buffer.
 * Returns true on a read or write error. */
static bool os_copy_file(const char *path, int fd) {
	int e = errno;
	int in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		errno = e;
		return true;
	}
	char buf[4096];
	bool err = false;
	for (;;) {
		ssize_t r = read(in, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0;
			break;
		}
		for (ssize_t off = 0; off < r && !err;) {
			ssize_t w = write(fd, buf + off, (size_t)(r - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				err = true;
			else
				off += w;
		}
		if (err)
			break;
	}
	close(in);
	errno = e;
	return err;
}

/* Write s to an existing file; 0 or -1. */
static int os_write_file(const char *path, const char *s) {
	int e = errno;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		errno = e;
		return -1;
	}
	size_t len = strlen(s);
	ssize_t r = write(fd, s, len);
	close(fd);
	errno = e;
	return r == (ssize_t)len ? 0 : -1;
}

/* The number after `field` at the start of a line of buf (as the kernel
 * prints "VmHWM:   1234 kB") into *v; false (and *v = 0) when absent. */
static bool os_field(const char *buf, const char *field, uint64_t *v) {
	size_t fl = strlen(field);
	*v = 0;
	for (const char *p = buf; *p; p++) {
		if ((p == buf || p[-1] == '\n') && strncmp(p, field, fl) == 0) {
			p += fl;
			while (*p == ' ' || *p == '\t')
				p++;
			while (*p >= '0' && *p <= '9')
				*v = *v * 10 + (uint64_t)(*p++ - '0');
			return true;
		}
	}
	return false;
}

bool xa_os_thread_sched(pid_t tid, char *state, uint64_t *switches) {
	char path[64], buf[2048];
	xa_snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	if (os_read_file(path, buf, sizeof(buf)) <= 0)
		return false;
	*state = 0;
	int found = 0;
	for (const char *p = buf; *p; p++) {
		if ((p == buf || p[-1] == '\n') && strncmp(p, "State:", 6) == 0) {
			const char *q = p + 6;
			while (*q == ' ' || *q == '\t')
				q++;
			*state = *q;
			found++;
			break;
		}
	}
	uint64_t vol, invol;
	found += os_field(buf, "voluntary_ctxt_switches:", &vol);
	found += os_field(buf, "nonvoluntary_ctxt_switches:", &invol);
	*switches = vol + invol;
	return found == 3;
}

uint64_t xa_os_rss_hwm(void) {
	char buf[2048];
	if (os_read_file("/proc/self/status", buf, sizeof(buf)) <= 0)
		return 0;
	uint64_t kb;
	os_field(buf, "VmHWM:", &kb);
	return kb * 1024;
}

bool xa_os_rss_hwm_reset(void) { return os_write_file("/proc/self/clear_refs", "5") != 0; }

ssize_t xa_os_comm(char *buf, size_t n) {
	ssize_t l = os_read_file("/proc/self/comm", buf, n);
	if (l > 0 && buf[l - 1] == '\n')
		buf[--l] = '\0';
	return l > 0 ? l : -1;
}

bool xa_os_copy_maps(int fd) { return os_copy_file("/proc/self/maps", fd); }

/* Is the calling thread the only live thread of the process?  True when
 * /proc/self/stat counts one thread, or two of which the other is the
 * thread-group leader that has already exited (a zombie until the whole
 * group ends). */
bool xa_os_only_thread(unsigned internal) {
	char buf[512];
	if (os_read_file("/proc/self/stat", buf, sizeof(buf)) <= 0)
		return false;
	const char *p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ')
		return false;
	char state = p[2];
	/* fields after the command: 3 = state ... 20 = num_threads */
	unsigned field = 2;
	long n = -1;
	for (const char *q = p + 1; *q; q++) {
		if (*q == ' ' && ++field == 20) {
			n = strtol(q + 1, NULL, 10);
			break;
		}
	}
	/* internal: the allocator's own threads (background, http), which do
	 * not keep the process alive; a main thread that called pthread_exit
	 * stays listed as a zombie. */
	if (n == (long)internal)
		return true;
	return n == (long)internal + 1 && state == 'Z' && xa_os_gettid() != getpid();
}

size_t xa_os_rss(void) {
	char buf[128];
	if (os_read_file("/proc/self/statm", buf, sizeof(buf)) <= 0)
		return 0;
	const char *p = buf;
	while (*p && *p != ' ')
		p++;
	while (*p == ' ')
		p++;
	size_t pages = 0;
	while (*p >= '0' && *p <= '9')
		pages = pages * 10 + (size_t)(*p++ - '0');
	return pages * PAGE;
}

/* Count lines of a /proc file without buffering all of it. */
size_t xa_os_map_count(void) {
	int e = errno;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		errno = e;
		return 0;
	}
	char buf[4096];
	size_t lines = 0;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			lines += buf[i] == '\n';
	}
	close(fd);
	errno = e;
	return lines;
}

size_t xa_os_max_map_count(void) {
	char buf[64];
	if (os_read_file("/proc/sys/vm/max_map_count", buf, sizeof(buf)) <= 0)
		return 65530;
	size_t v = 0;
	for (const char *p = buf; *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (size_t)(*p - '0');
	return v;
}

size_t xa_os_smaps_field(const char *field) {
	char buf[4096];
	if (os_read_file("/proc/self/smaps_rollup", buf, sizeof(buf)) <= 0)
		return 0;
	uint64_t kb;
	os_field(buf, field, &kb);
	return (size_t)kb * 1024;
}

unsigned xa_os_ncpus(void) {
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		int n = CPU_COUNT(&set);
		if (n > 0)
			return (unsigned)n;
	}
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

bool xa_os_secure(void) { return getauxval(AT_SECURE) != 0; }

char **xa_os_environ(void) { return environ; }

bool xa_os_write_all(int fd, const char *buf, size_t len) {
	int e = errno;
	while (len) {
		ssize_t r = write(fd, buf, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		buf += r;
		len -= (size_t)r;
	}
	errno = e;
	return len != 0;
}

void *xa_os_map_file(const char *path, size_t *size) {
	int e = errno;
	void *p = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		off_t end = lseek(fd, 0, SEEK_END);
		if (end > 0) {
			p = mmap(NULL, (size_t)end, PROT_READ, MAP_PRIVATE, fd, 0);
			if (p == MAP_FAILED)
				p = NULL;
			else
				*size = (size_t)end;
		}
		close(fd);
	}
	errno = e;
	return p;
}

int xa_os_memfd(const char *name) {
	int e = errno;
	int fd = (int)syscall(SYS_memfd_create, name, 1u /* MFD_CLOEXEC */);
	if (fd < 0) {
		/* kernels before 3.17: an unlinked file in /tmp */
		char path[64];
		xa_snprintf(path, sizeof(path), "/tmp/.xalloc-%d-%llu", (int)getpid(), (unsigned long long)xa_now_ns());
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			unlink(path);
	}
	errno = e;
	return fd;
}

bool xa_os_memfd_reset(int fd) {
	return ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0;
}

int xa_os_create_file(const char *path) {
	return open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
}

XA_NORETURN void xa_os_abort(void) {
	/* abort() may run atexit-like machinery in some libcs; raise first. */
	signal(SIGABRT, SIG_DFL);
	raise(SIGABRT);
	abort();
}

pid_t xa_os_gettid(void) { return (pid_t)syscall(SYS_gettid); }
