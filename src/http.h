/*
 * http.h -- the live endpoint's request parser (http_parse.c, a pure
 * function: no system calls, no allocation, no global state, so that it can
 * be fuzzed alone: test/fuzz/fuzz_http.c) and what http.c exports.
 *
 * The parser reads the head of one HTTP/1.x request (request line and
 * header lines) from a byte buffer that may hold only its beginning.  It
 * accepts only what the endpoint needs: GET or HEAD, an origin-form target
 * ("/path?query"), HTTP/1.0 or 1.1, header lines "name: value".  Lines end
 * with CRLF or a bare LF; the head ends with an empty line.  Bodies are
 * not read (GET and HEAD have none).
 *
 * Prefix property (checked by the fuzzer): if a buffer parses as complete
 * (> 0), every shorter prefix of it parses as "need more" (0), never as an
 * error: errors are reported only for bytes no continuation can repair.
 */
#ifndef XA_HTTP_H
#define XA_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define XA_HTTP_HEAD_MAX 8192 /* bytes of a request head we read at most */
#define XA_HTTP_HEADERS_MAX 64

enum { XA_HTTP_GET = 1, XA_HTTP_HEAD = 2 };

typedef struct {
	int method;        /* XA_HTTP_GET or XA_HTTP_HEAD */
	int minor;         /* HTTP/1.<minor> */
	const char *path;  /* points into the buffer; starts with '/' */
	size_t path_len;   /* up to '?' or the end of the target */
	const char *query; /* after '?' (NULL if none) */
	size_t query_len;
	unsigned nheaders;
	size_t head_len;   /* bytes of the head, including the empty line */
} xa_http_req_t;

/* Parse the head in buf[0, len).  Returns 1 when it is complete (req
 * filled), 0 when more bytes are needed, -1 when it is malformed (*status:
 * the HTTP status to answer: 400, 405, 414, 431 or 505). */
int xa_http_parse(const char *buf, size_t len, xa_http_req_t *req, int *status);

/* The value of key in a query string "a=1&b=2" (no percent-decoding: the
 * endpoint's parameters are plain numbers and words).  Returns true if
 * found; *val and *vlen then point into the query (vlen 0 for "a" or "a="). */
bool xa_http_query_get(const char *query, size_t qlen, const char *key, const char **val, size_t *vlen);

/* http.c: start the endpoint if the http option asks for it (from the
 * library constructor), remove its unix socket at exit, and forget it in a
 * fork child (which does not serve; see the man page).  */
void xa_http_boot(void);
void xa_http_atexit(void);
void xa_http_postfork_child(void);
/* The server thread exists (background.c counts it as the allocator's). */
bool xa_http_running(void);
/* A thread with allocator state is exiting (tsd.c): when the background
 * thread is not there to notice, the server checks whether only it is
 * left and then ends the process as glibc would (exit(0)). */
void xa_http_thread_exited(void);

#endif
