/*
 * http.c -- the live endpoint: one server thread answering
 *   /                   an HTML index of the rest
 *   /metrics            Prometheus text exposition (stats_print "P")
 *   /stats, /stats.json the text report, JSON
 *   /debug/pprof/heap   the heap profile as profile.proto (go tool pprof);
 *                       ?debug=1: the legacy heap_v2 text (google-pprof,
 *                       jeprof); ?seconds=N (1..60): the change over N s
 * on 127.0.0.1:PORT, [::1]:PORT or unix:/path (option http; off by default).
 *
 * Owns: the option's address parsing, the listening socket, the thread and
 * the socket I/O (the network calls live here, not in os.c, which manages
 * memory and /proc); the request parser is http_parse.c.
 *
 * Letting no one in:
 *  - only loopback addresses, unless http_public:true; anything else is
 *    refused at start with one line;
 *  - a unix socket is made 0600 and a peer whose uid (SO_PEERCRED) is not
 *    the process's effective uid gets 403 and nothing else;
 *  - one connection at a time, each bounded in time (http_timeout_ms from
 *    accept to the last byte written, every wait a poll with the time left)
 *    and in size (a request head is at most XA_HTTP_HEAD_MAX bytes: longer
 *    is answered 431); garbage is answered 400 at its first bad byte;
 *  - under AT_SECURE (setuid/setgid) the endpoint never starts.
 * A slow client therefore holds the server for at most http_timeout_ms and
 * the program never: the server is a thread of its own, blocking every
 * signal, and it answers on non-blocking sockets.
 *
 * Locks and memory: an answer is built first, complete, into an in-memory
 * file (xa_os_memfd) by the statistics printer or the profiler, which take
 * their locks and release them; then it is written out (sendfile) with no
 * lock held.  So no allocator lock is ever held while the network is
 * waited on, and nothing is built in the application heap: the printers
 * format into stack buffers and write(2) them to the memfd.
 *
 * Lifetime: started by the library constructor (after bootstrap, when libc
 * is ready to create threads); it never keeps the process alive (see
 * http_main).  A fork child does not serve: its copy of
 * the listening socket is closed (so the address is free once the parent
 * exits) and the thread does not exist there.  A child that execs a
 * program starts afresh from XALLOC_CONF (and finds the address taken
 * while the parent serves: one line, no endpoint).  The unix socket file
 * is removed at exit by the process that created it.
 */
#include "internal.h"
#include "http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* include/xalloc.h's, defined in stats.c */
void xalloc_stats_print(void (*write_cb)(void *, const char *), void *cbopaque, const char *opts);

static int http_fd = -1;       /* listening socket */
static int http_body = -1;     /* memfd the answers are built in */
static int http_wake[2] = {-1, -1}; /* a byte: a thread exited */
static pid_t http_owner;       /* process that created the unix socket */
static _Atomic bool http_on;   /* the thread runs (in this process) */
static char http_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static char http_req[XA_HTTP_HEAD_MAX]; /* the server thread's only */

bool xa_http_running(void) { return atomic_load_explicit(&http_on, memory_order_relaxed); }

/* ---- the address ------------------------------------------------------------ */

typedef struct {
	int family;
	socklen_t len;
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
		struct sockaddr_un un;
	} u;
	bool loopback;
} addr_t;

/* Parse the option's value; returns true on error (with a message worded
 * like conf.c's, which cannot check this STRING option's syntax). */
static bool http_parse_addr(const char *v, addr_t *a) {
	memset(a, 0, sizeof(*a));
	if (strncmp(v, "unix:", 5) == 0) {
		const char *p = v + 5;
		size_t l = strlen(p);
		if (l == 0 || p[0] != '/' || l >= sizeof(a->u.un.sun_path)) {
			xa_message("XALLOC_CONF: invalid value '%s' for option 'http' (unix:/absolute/path, under %zu "
				   "bytes); endpoint off",
			    v, sizeof(a->u.un.sun_path));
			return true;
		}
		a->family = AF_UNIX;
		a->u.un.sun_family = AF_UNIX;
		memcpy(a->u.un.sun_path, p, l + 1);
		a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + l + 1);
		a->loopback = true;
		return false;
	}
	char host[64];
	const char *colon = strrchr(v, ':');
	int64_t port;
	if (colon == NULL || (size_t)(colon - v) >= sizeof(host) || xa_parse_int(colon + 1, strlen(colon + 1), &port) ||
	    port < 0 || port > 65535) {
		xa_message("XALLOC_CONF: invalid value '%s' for option 'http' (127.0.0.1:PORT, [::1]:PORT, "
			   "localhost:PORT or unix:/path); endpoint off",
		    v);
		return true;
	}
	size_t hl = (size_t)(colon - v);
	memcpy(host, v, hl);
	host[hl] = '\0';
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		memmove(host, host + 1, hl - 1);
	}
	if (strcmp(host, "localhost") == 0)
		xa_snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &a->u.in4.sin_addr) == 1) {
		a->family = AF_INET;
		a->u.in4.sin_family = AF_INET;
		a->u.in4.sin_port = htons((uint16_t)port);
		a->len = sizeof(a->u.in4);
		a->loopback = (ntohl(a->u.in4.sin_addr.s_addr) >> 24) == 127;
	} else if (inet_pton(AF_INET6, host, &a->u.in6.sin6_addr) == 1) {
		a->family = AF_INET6;
		a->u.in6.sin6_family = AF_INET6;
		a->u.in6.sin6_port = htons((uint16_t)port);
		a->len = sizeof(a->u.in6);
		a->loopback = memcmp(&a->u.in6.sin6_addr, &in6addr_loopback, sizeof(in6addr_loopback)) == 0;
	} else {
		xa_message("XALLOC_CONF: invalid value '%s' for option 'http' ('%s' is not a numeric address; "
			   "names other than localhost are not resolved); endpoint off",
		    v, host);
		return true;
	}
	return false;
}

/* A unix socket file left by a process that is gone (ours: same owner,
 * nobody accepting) is removed; anything else is left alone. */
static bool http_unix_stale(const addr_t *a) {
	struct stat st;
	if (lstat(a->u.un.sun_path, &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_uid != geteuid())
		return false;
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return false;
	bool stale = connect(s, &a->u.sa, a->len) != 0 && errno == ECONNREFUSED;
	close(s);
	return stale && unlink(a->u.un.sun_path) == 0;
}

/* Returns the listening socket or -1 (with a message). */
static int http_listen(const addr_t *a, const char *what) {
	int s = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0) {
		xa_message("http: cannot create a socket (errno %d); endpoint off", errno);
		return -1;
	}
	if (a->family != AF_UNIX) {
		int one = 1;
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	}
	int r = bind(s, &a->u.sa, a->len);
	if (r != 0 && errno == EADDRINUSE && a->family == AF_UNIX && http_unix_stale(a))
		r = bind(s, &a->u.sa, a->len);
	if (r != 0) {
		int e = errno;
		xa_message("http: cannot listen on %s (%s, errno %d); endpoint off", what,
		    e == EADDRINUSE ? "address in use" : e == EACCES ? "permission denied" : "bind failed", e);
		close(s);
		return -1;
	}
	if (a->family == AF_UNIX) {
		/* Before listen(): nobody can have connected yet. */
		if (chmod(a->u.un.sun_path, 0600) != 0) {
			xa_message("http: cannot make %s private (errno %d); endpoint off", a->u.un.sun_path, errno);
			unlink(a->u.un.sun_path);
			close(s);
			return -1;
		}
		memcpy(http_path, a->u.un.sun_path, sizeof(http_path));
		http_owner = getpid();
	}
	if (listen(s, 16) != 0) {
		xa_message("http: listen on %s failed (errno %d); endpoint off", what, errno);
		close(s);
		return -1;
	}
	return s;
}

/* ---- one connection ------------------------------------------------------- */

/* Milliseconds left before the deadline (0 when past). */
static int ms_left(uint64_t deadline) {
	uint64_t now = xa_now_ns();
	return now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
}

/* Wait until c is readable/writable; false on timeout or error. */
static bool wait_fd(int c, short ev, uint64_t deadline) {
	for (;;) {
		int ms = ms_left(deadline);
		if (ms == 0)
			return false;
		struct pollfd p = {.fd = c, .events = ev};
		int r = poll(&p, 1, ms);
		if (r > 0)
			return (p.revents & (ev | POLLHUP)) != 0 && !(p.revents & (POLLERR | POLLNVAL));
		if (r < 0 && errno != EINTR)
			return false;
	}
}

static bool send_all(int c, const char *b, size_t n, uint64_t deadline) {
	while (n) {
		ssize_t r = send(c, b, n, MSG_NOSIGNAL);
		if (r > 0) {
			b += r;
			n -= (size_t)r;
		} else if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!wait_fd(c, POLLOUT, deadline))
				return false;
		} else {
			return false;
		}
	}
	return true;
}

static const char *reason(int status) {
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/* Write the head, then the body: len bytes of the memfd (or text). */
static void respond(int c, int status, const char *ctype, const char *text, size_t len, bool head_only,
    uint64_t deadline) {
	char h[512];
	int n = xa_snprintf(h, sizeof(h),
	    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n"
	    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n",
	    status, reason(status), ctype, len);
	if (!send_all(c, h, (size_t)n, deadline) || head_only || len == 0)
		return;
	if (text) {
		send_all(c, text, len, deadline);
		return;
	}
	off_t off = 0;
	while ((size_t)off < len) {
		ssize_t r = sendfile(c, http_body, &off, len - (size_t)off);
		if (r > 0)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!wait_fd(c, POLLOUT, deadline))
				return;
		} else {
			return;
		}
	}
}

static void error_page(int c, int status, const char *msg, uint64_t deadline) {
	char b[256];
	int n = xa_snprintf(b, sizeof(b), "%d %s%s%s\n", status, reason(status), msg ? ": " : "", msg ? msg : "");
	respond(c, status, "text/plain; charset=utf-8", b, (size_t)n, false, deadline);
}

static void body_write(void *opaque, const char *s) {
	(void)opaque;
	xa_os_write_all(http_body, s, strlen(s));
}

static const char http_index[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>xalloc</title></head><body>\n"
    "<h1>xalloc</h1>\n<p>Memory statistics and heap profiles of this process.</p>\n<ul>\n"
    "<li><a href=\"/metrics\">/metrics</a>: Prometheus text exposition</li>\n"
    "<li><a href=\"/stats\">/stats</a>: the statistics report</li>\n"
    "<li><a href=\"/stats.json\">/stats.json</a>: the same as JSON</li>\n"
    "<li><a href=\"/debug/pprof/heap\">/debug/pprof/heap</a>: heap profile (profile.proto: "
    "<code>go tool pprof http://HOST/debug/pprof/heap</code>); "
    "<a href=\"/debug/pprof/heap?debug=1\">?debug=1</a>: legacy text (google-pprof, jeprof); "
    "?seconds=N (1..60): what changed over N seconds; "
    "needs XALLOC_CONF=prof:true</li>\n</ul>\n</body></html>\n";

/* ?seconds=N: the server answers no one else meanwhile, so N is small. */
#define HTTP_DELTA_MAX_S 60

static bool path_is(const xa_http_req_t *r, const char *p) {
	return r->path_len == strlen(p) && memcmp(r->path, p, r->path_len) == 0;
}

/* Build the answer to r into the memfd and send it. */
static void http_route(int c, const xa_http_req_t *r, uint64_t deadline) {
	/* (deadline is a copy: ?seconds=N extends it for this answer) */
	bool head = r->method == XA_HTTP_HEAD;
	if (path_is(r, "/")) {
		respond(c, 200, "text/html; charset=utf-8", http_index, sizeof(http_index) - 1, head, deadline);
		return;
	}
	const char *stats = NULL, *ctype = "text/plain; charset=utf-8";
	if (path_is(r, "/metrics")) {
		stats = "P";
		ctype = "text/plain; version=0.0.4; charset=utf-8";
	} else if (path_is(r, "/stats")) {
		stats = "";
	} else if (path_is(r, "/stats.json")) {
		stats = "J";
		ctype = "application/json";
	} else if (!path_is(r, "/debug/pprof/heap")) {
		error_page(c, 404, "see / for what is served", deadline);
		return;
	}
	if (http_body < 0 || xa_os_memfd_reset(http_body)) {
		error_page(c, 500, "no buffer for the answer", deadline);
		return;
	}
	if (stats) {
		xalloc_stats_print(body_write, NULL, stats);
	} else {
		const char *v;
		size_t vl;
		bool legacy = xa_http_query_get(r->query, r->query_len, "debug", &v, &vl) && vl == 1 && v[0] != '0';
		int64_t secs = 0;
		if (xa_http_query_get(r->query, r->query_len, "seconds", &v, &vl) &&
		    (xa_parse_int(v, vl, &secs) || secs < 1 || secs > HTTP_DELTA_MAX_S || legacy)) {
			error_page(c, 400, "seconds=N takes 1 to 60, and not with debug=1", deadline);
			return;
		}
		/* the deadline covers the wait (the client knows it asked) */
		deadline += (uint64_t)secs * 1000000000u;
		int e = xa_prof_dump_fd(http_body, !legacy, (unsigned)secs);
		if (e == ENOENT) {
			error_page(c, 404, "heap profiling is off: start the program with XALLOC_CONF=prof:true", deadline);
			return;
		}
		if (e) {
			error_page(c, 500, "the heap profile could not be written", deadline);
			return;
		}
		ctype = legacy ? "text/plain; charset=utf-8" : "application/octet-stream";
	}
	off_t len = lseek(http_body, 0, SEEK_END);
	if (len < 0) {
		error_page(c, 500, "no buffer for the answer", deadline);
		return;
	}
	respond(c, 200, ctype, NULL, (size_t)len, head, deadline);
	xa_os_memfd_reset(http_body); /* give the answer's pages back */
}

static void http_serve(int c) {
	uint64_t deadline = xa_now_ns() + xa_opt.http_timeout_ms * 1000000u;
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	if (getsockname(c, (struct sockaddr *)&peer, &pl) == 0 && peer.ss_family == AF_UNIX) {
		struct ucred cred;
		socklen_t cl = sizeof(cred);
		if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0 || cred.uid != geteuid()) {
			error_page(c, 403, "only the process's own user is served", deadline);
			return;
		}
	}
	size_t len = 0;
	xa_http_req_t req;
	int status = 0, r = 0;
	while ((r = xa_http_parse(http_req, len, &req, &status)) == 0) {
		if (!wait_fd(c, POLLIN, deadline)) {
			error_page(c, 408, "the request did not arrive in time", deadline);
			return;
		}
		ssize_t n = recv(c, http_req + len, sizeof(http_req) - len, 0);
		if (n == 0)
			return; /* closed before a whole request */
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return;
		}
		len += (size_t)n;
	}
	if (r < 0) {
		error_page(c, status, status == 431 ? "the request head is limited to 8 KiB" : NULL, deadline);
		return;
	}
	http_route(c, &req, deadline);
}

/* Tell the client we are done, and read (and drop) what it still sends
 * for a moment: closing a socket with unread input resets the connection,
 * which can destroy our answer (a 431 or 403) before the client reads it.
 * Bounded: 250 ms and 1 MiB. */
static void http_linger(int c) {
	shutdown(c, SHUT_WR);
	uint64_t deadline = xa_now_ns() + 250000000u;
	size_t total = 0;
	while (total < ((size_t)1 << 20) && wait_fd(c, POLLIN, deadline)) {
		ssize_t n = recv(c, http_req, sizeof(http_req), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			break;
		if (n > 0)
			total += (size_t)n;
	}
}

void xa_http_thread_exited(void) {
	if (xa_http_running() && http_wake[1] >= 0) {
		char b = 1;
		ssize_t r = write(http_wake[1], &b, 1); /* full pipe: already woken */
		(void)r;
	}
}

/*
 * Like the background thread (background.c), the server must not keep the
 * process alive once the program's threads are gone (a main thread that
 * called pthread_exit).  When the background thread runs it does the
 * check, counting this thread as internal; otherwise, after a thread exit
 * wakes it, the server looks at once and then at growing intervals for
 * 2 s.  Idle, it sleeps in poll with no timeout.
 */
static void *http_main(void *arg) {
	(void)arg;
	uint64_t watch_until = 0;
	int watch_ms = 1;
	for (;;) {
		struct pollfd p[2] = {{.fd = http_fd, .events = POLLIN}, {.fd = http_wake[0], .events = POLLIN}};
		int r = poll(p, 2, watch_until ? watch_ms : -1);
		if (r < 0)
			continue;
		if (p[1].revents & POLLIN) {
			char b[64];
			while (read(http_wake[0], b, sizeof(b)) > 0)
				;
			watch_until = xa_now_ns() + 2000000000u;
			watch_ms = 1;
		}
		if (watch_until) {
			if (!xa_background_running() && xa_os_only_thread(1))
				exit(0);
			watch_ms = watch_ms < 500 ? watch_ms * 2 : 500;
			if (xa_now_ns() >= watch_until)
				watch_until = 0;
		}
		if (!(p[0].revents & POLLIN))
			continue;
		int c = accept4(http_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				struct timespec ts = {0, 100000000}; /* do not spin */
				nanosleep(&ts, NULL);
			}
			continue;
		}
		http_serve(c);
		http_linger(c);
		close(c);
	}
	return NULL;
}

void xa_http_boot(void) {
	if (xa_opt.http[0] == '\0' || xa_http_running())
		return;
	if (xa_os_secure()) {
		xa_message("http: endpoint off in a setuid/setgid process");
		return;
	}
	addr_t a;
	if (http_parse_addr(xa_opt.http, &a))
		return;
	if (!a.loopback && !xa_opt.http_public) {
		xa_message("http: %s is not a loopback address: refused (the endpoint has no authentication; "
			   "http_public:true serves it anyway); endpoint off",
		    xa_opt.http);
		return;
	}
	http_body = xa_os_memfd("xalloc-http");
	if (http_body < 0) {
		xa_message("http: cannot create the answer buffer (errno %d); endpoint off", errno);
		return;
	}
	if (pipe2(http_wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		xa_message("http: cannot create a pipe (errno %d); endpoint off", errno);
		close(http_body);
		http_body = -1;
		return;
	}
	http_fd = http_listen(&a, xa_opt.http);
	if (http_fd < 0) {
		close(http_body);
		close(http_wake[0]);
		close(http_wake[1]);
		http_body = http_wake[0] = http_wake[1] = -1;
		return;
	}
	/* Counted before it runs: the background thread's last-thread check
	 * must never see it as an application thread. */
	atomic_store(&http_on, true);
	int err = xa_thread_start(http_main, 256 << 10);
	if (err != 0) {
		atomic_store(&http_on, false);
		xa_message("http: cannot start the server thread (errno %d); endpoint off", err);
		xa_http_atexit();
		close(http_fd);
		close(http_body);
		close(http_wake[0]);
		close(http_wake[1]);
		http_fd = http_body = http_wake[0] = http_wake[1] = -1;
	}
}

void xa_http_atexit(void) {
	if (http_path[0] && http_owner == getpid())
		unlink(http_path);
	http_path[0] = '\0';
}

void xa_http_postfork_child(void) {
	if (!xa_http_running())
		return;
	atomic_store(&http_on, false);
	close(http_fd);
	close(http_body);
	close(http_wake[0]);
	close(http_wake[1]);
	http_fd = http_body = http_wake[0] = http_wake[1] = -1;
	http_path[0] = '\0';
}
