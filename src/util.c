/*
 * util.c -- allocation-free formatting, messages and parsing.
 *
 * Owns: the formatter (xa_snprintf: the subset of printf the allocator
 * needs), the one buffered writer (xa_writer_t: a caller's stack buffer
 * flushed to a sink callback; every report, dump and statistics output goes
 * through it), one-line messages (xa_message, xa_fatal; to report.c's
 * private stderr), errno names without strerror, byte amounts in words,
 * integer and size parsing, the monotonic clock, and starting the
 * allocator's own threads (background, http), which share their set-up.
 *
 * The allocator cannot use stdio: printf may call malloc, and messages are
 * often printed while the heap is in a bad state.  Everything here works on
 * caller-provided buffers and write(2).  Locking: none (xa_message writes
 * one line with one write(2)).
 */
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

typedef struct {
	char *buf;
	size_t n, len;
} fmt_out_t;

static void out_c(fmt_out_t *o, char c) {
	if (o->len + 1 < o->n)
		o->buf[o->len] = c;
	o->len++;
}

static void out_pad(fmt_out_t *o, const char *s, size_t len, int width, bool left, char pad) {
	int padn = width > (int)len ? width - (int)len : 0;
	if (!left)
		while (padn-- > 0)
			out_c(o, pad);
	for (size_t i = 0; i < len; i++)
		out_c(o, s[i]);
	if (left)
		while (padn-- > 0)
			out_c(o, ' ');
}

static size_t fmt_u64(char *tmp, uint64_t v, unsigned base) {
	char rev[24];
	size_t n = 0;
	do {
		unsigned d = (unsigned)(v % base);
		rev[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	for (size_t i = 0; i < n; i++)
		tmp[i] = rev[n - 1 - i];
	return n;
}

int xa_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap) {
	fmt_out_t o = {buf, n, 0};
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			out_c(&o, *p);
			continue;
		}
		p++;
		bool left = false;
		char pad = ' ';
		int width = 0, prec = -1;
		for (;; p++) {
			if (*p == '-')
				left = true;
			else if (*p == '0')
				pad = '0';
			else
				break;
		}
		if (*p == '*') {
			width = va_arg(ap, int);
			p++;
		}
		while (*p >= '0' && *p <= '9')
			width = width * 10 + (*p++ - '0');
		if (*p == '.') {
			p++;
			prec = 0;
			if (*p == '*') {
				prec = va_arg(ap, int);
				p++;
			}
			while (*p >= '0' && *p <= '9')
				prec = prec * 10 + (*p++ - '0');
		}
		int lng = 0;
		bool z = false;
		while (*p == 'l') {
			lng++;
			p++;
		}
		if (*p == 'z') {
			z = true;
			p++;
		}
		char tmp[40];
		size_t len;
		switch (*p) {
		case 'd': {
			int64_t v = z ? (int64_t)va_arg(ap, ssize_t)
			    : lng ? (int64_t)va_arg(ap, long long) : (int64_t)va_arg(ap, int);
			bool neg = v < 0;
			uint64_t u = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
			len = 0;
			if (neg)
				tmp[len++] = '-';
			len += fmt_u64(tmp + len, u, 10);
			out_pad(&o, tmp, len, width, left, pad);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = z ? (uint64_t)va_arg(ap, size_t)
			    : lng ? (uint64_t)va_arg(ap, unsigned long long) : (uint64_t)va_arg(ap, unsigned);
			len = fmt_u64(tmp, v, *p == 'x' ? 16 : 10);
			out_pad(&o, tmp, len, width, left, pad);
			break;
		}
		case 'p': {
			uintptr_t v = (uintptr_t)va_arg(ap, void *);
			tmp[0] = '0';
			tmp[1] = 'x';
			len = 2 + fmt_u64(tmp + 2, v, 16);
			out_pad(&o, tmp, len, width, left, ' ');
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			size_t sl = strlen(s);
			if (prec >= 0 && (size_t)prec < sl)
				sl = (size_t)prec;
			out_pad(&o, s, sl, width, left, ' ');
			break;
		}
		case 'c':
			tmp[0] = (char)va_arg(ap, int);
			out_pad(&o, tmp, 1, width, left, ' ');
			break;
		case '%':
			out_c(&o, '%');
			break;
		case '\0':
			p--;
			break;
		default:
			out_c(&o, '%');
			out_c(&o, *p);
		}
	}
	if (n)
		buf[o.len < n ? o.len : n - 1] = '\0';
	return (int)o.len;
}

int xa_snprintf(char *buf, size_t n, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	int r = xa_vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return r;
}

void xa_wflush(xa_writer_t *w) {
	if (w->len) {
		w->buf[w->len] = '\0';
		w->sink(w->opaque, w->buf);
		w->len = 0;
	}
}

void xa_wprintf(xa_writer_t *w, const char *fmt, ...) {
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = xa_vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	size_t l = n < 0 ? 0 : XA_MIN((size_t)n, sizeof(line) - 1);
	if (w->len + l + 1 > sizeof(w->buf)) /* + 1: the NUL of the chunk */
		xa_wflush(w);
	memcpy(w->buf + w->len, line, l);
	w->len += l;
}

void xa_fd_sink(void *opaque, const char *text) {
	xa_fd_sink_t *s = opaque;
	if (!s->err && xa_os_write_all(s->fd, text, strlen(text)))
		s->err = true;
}

void xa_message(const char *fmt, ...) {
	char buf[512];
	size_t off = (size_t)xa_snprintf(buf, sizeof(buf), "xalloc: ");
	va_list ap;
	va_start(ap, fmt);
	xa_vsnprintf(buf + off, sizeof(buf) - off - 1, fmt, ap);
	va_end(ap);
	size_t len = strlen(buf);
	buf[len++] = '\n';
	xa_os_write_all(xa_report_fd(), buf, len);
}

/* The errors creating or writing a file can meet, as words: strerror() may
 * allocate (locale) and is not async-signal-safe. */
static const struct {
	int err;
	const char *text;
} err_text[] = {
	{EEXIST, "file exists"},
	{EACCES, "permission denied"},
	{EPERM, "operation not permitted"},
	{ENOENT, "no such directory"}, /* O_CREAT: a missing directory on the path */
	{ENOTDIR, "a component of the path is not a directory"},
	{ELOOP, "is a symbolic link"},   /* O_NOFOLLOW */
	{EISDIR, "is a directory"},
	{EROFS, "read-only file system"},
	{ENOSPC, "no space left on device"},
	{EDQUOT, "disk quota exceeded"},
	{EFBIG, "file too large"},
	{ENAMETOOLONG, "name too long"},
	{EMFILE, "too many open files"},
	{ENFILE, "too many open files in the system"},
	{EIO, "input/output error"},
	{ENOMEM, "out of memory"},
	{EINVAL, "invalid argument"},
};

const char *xa_strerror(int err, char *buf, size_t n) {
	for (size_t i = 0; i < XA_ARRAY_LEN(err_text); i++)
		if (err_text[i].err == err)
			return err_text[i].text;
	xa_snprintf(buf, n, "errno %d", err);
	return buf;
}

XA_NORETURN void xa_fatal(const char *msg, const void *ptr, size_t size) {
	if (size)
		xa_message("%s %p (size %zu)", msg, ptr, size);
	else
		xa_message("%s %p", msg, ptr);
	xa_os_abort();
}

XA_NORETURN void xa_assert_fail(const char *expr, const char *file, int line) {
	xa_message("assertion failed: %s (%s:%d)", expr, file, line);
	xa_os_abort();
}

const char *xa_fmt_bytes(char *buf, size_t n, uint64_t bytes) {
	static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	unsigned u = 0;
	uint64_t whole = bytes, frac = 0;
	while (whole >= 1024 && u + 1 < XA_ARRAY_LEN(units)) {
		frac = (whole % 1024) * 10 / 1024;
		whole /= 1024;
		u++;
	}
	if (u == 0)
		xa_snprintf(buf, n, "%llu B", (unsigned long long)bytes);
	else
		xa_snprintf(buf, n, "%llu.%llu %s", (unsigned long long)whole,
		    (unsigned long long)frac, units[u]);
	return buf;
}

bool xa_parse_int(const char *s, size_t len, int64_t *out) {
	size_t i = 0;
	bool neg = false;
	if (len == 0)
		return true;
	if (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == len)
		return true;
	uint64_t v = 0;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return true;
		if (v > (uint64_t)INT64_MAX / 10)
			return true;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > (uint64_t)INT64_MAX)
			return true;
	}
	*out = neg ? -(int64_t)v : (int64_t)v;
	return false;
}

bool xa_parse_size(const char *s, size_t len, uint64_t *out) {
	size_t i = 0;
	uint64_t v = 0;
	if (len == 0)
		return true;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > UINT64_MAX / 10)
			return true;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (i == 0)
		return true;
	unsigned shift = 0;
	if (i < len) {
		switch (s[i]) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		case 't': case 'T': shift = 40; break;
		case 'b': case 'B': shift = 0; break;
		default: return true;
		}
		i++;
		/* accept "KiB", "KB", "k" */
		if (shift && i < len && s[i] == 'i')
			i++;
		if (shift && i < len && (s[i] == 'B' || s[i] == 'b'))
			i++;
		if (i != len)
			return true;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return true;
	*out = v << shift;
	return false;
}

uint64_t xa_now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU time of the calling thread (a system call, not the vDSO). */
uint64_t xa_thread_cpu_ns(void) {
	struct timespec ts = {0, 0};
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0; /* then a call is charged for its pages only */
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The monotonic clock at tick resolution (a few ms): no hardware counter
 * read, for time stamps that only feed decay (arena.c, flushes). */
uint64_t xa_now_coarse_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int xa_thread_start(void *(*fn)(void *), size_t stack) {
	/* The new thread inherits the mask: the program's signals (its
	 * handlers, SIGINT, a dump signal) are never delivered to it. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, stack);
	pthread_t th;
	int err = pthread_create(&th, &attr, fn, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}
