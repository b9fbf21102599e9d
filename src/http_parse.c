/*
 * http_parse.c -- the request parser of the live endpoint (see http.h for
 * the contract).
 *
 * Owns: nothing but the function.  It is pure: no system call, no global
 * state, no allocation, bounded work (one pass over at most
 * XA_HTTP_HEAD_MAX bytes, whatever the input), so the server thread can run
 * it on bytes from anyone and the fuzzer can run it alone.
 *
 * Each complete line is checked in full; the incomplete last line only for
 * bytes that no continuation could make valid (a control character, a
 * method that is not upper-case letters, an over-long target), which keeps
 * the prefix property of http.h and still rejects garbage at its first
 * byte instead of waiting for the size or time limit.
 */
#include "http.h"

#include <string.h>

#define METHOD_MAX 16
#define TARGET_MAX 2048

static bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }

/* RFC 9110 tchar */
static bool is_tchar(unsigned char c) {
	if ((c >= 'a' && c <= 'z') || is_upper(c) || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A byte that may appear inside a line (before its CR LF). */
static bool is_text(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

/* Bytes of the line that may be wrong whatever follows: returns 0 or the
 * status.  line[0, n) holds no '\n'; a final '\r' may still be followed
 * by '\n'. */
static int check_partial(const char *line, size_t n, bool first) {
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c == '\r' && i + 1 == n)
			break;
		if (!is_text(c))
			return 400;
	}
	if (first) {
		size_t m = 0;
		while (m < n && line[m] != ' ') {
			if (!is_upper((unsigned char)line[m]) || m >= METHOD_MAX)
				return 400;
			m++;
		}
		if (m < n && m == 0)
			return 400;
		if (m < n) {
			size_t t = m + 1, e = t;
			while (e < n && line[e] != ' ')
				e++;
			if (e > t && line[t] != '/')
				return 400;
			if (e - t > TARGET_MAX)
				return 414;
		}
	} else if (n > 0) {
		if (line[0] == ' ' || line[0] == '\t')
			return 400; /* obsolete line folding */
		for (size_t i = 0; i < n && line[i] != ':'; i++)
			if (!is_tchar((unsigned char)line[i]) && !(line[i] == '\r' && i + 1 == n))
				return 400;
	}
	return 0;
}

static int parse_request_line(const char *l, size_t n, xa_http_req_t *req) {
	int st = check_partial(l, n, true);
	if (st)
		return st;
	if (n > 0 && l[n - 1] == '\r')
		n--;
	const char *sp1 = memchr(l, ' ', n);
	if (sp1 == NULL)
		return 400;
	size_t ml = (size_t)(sp1 - l);
	const char *t = sp1 + 1;
	const char *sp2 = memchr(t, ' ', n - ml - 1);
	if (sp2 == NULL || sp2 == t)
		return 400;
	size_t tl = (size_t)(sp2 - t);
	const char *v = sp2 + 1;
	size_t vl = n - ml - 1 - tl - 1;
	for (size_t i = 0; i < tl; i++)
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
			return 400;
	if (vl != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' || v[7] < '0' ||
	    v[7] > '9')
		return 400;
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
		return 505;
	if (ml == 3 && memcmp(l, "GET", 3) == 0)
		req->method = XA_HTTP_GET;
	else if (ml == 4 && memcmp(l, "HEAD", 4) == 0)
		req->method = XA_HTTP_HEAD;
	else
		return 405;
	req->minor = v[7] - '0';
	const char *q = memchr(t, '?', tl);
	req->path = t;
	req->path_len = q ? (size_t)(q - t) : tl;
	if (q) {
		req->query = q + 1;
		req->query_len = tl - req->path_len - 1;
	}
	return 0;
}

static int parse_header_line(const char *l, size_t n) {
	int st = check_partial(l, n, false);
	if (st)
		return st;
	if (n > 0 && l[n - 1] == '\r')
		n--;
	const char *colon = memchr(l, ':', n);
	if (colon == NULL || colon == l)
		return 400;
	for (const char *p = colon + 1; p < l + n; p++)
		if (!is_text((unsigned char)*p))
			return 400;
	return 0;
}

int xa_http_parse(const char *buf, size_t len, xa_http_req_t *req, int *status) {
	memset(req, 0, sizeof(*req));
	*status = 0;
	size_t lim = len < XA_HTTP_HEAD_MAX ? len : XA_HTTP_HEAD_MAX;
	size_t pos = 0;
	bool first = true;
	while (pos < lim) {
		const char *nl = memchr(buf + pos, '\n', lim - pos);
		if (nl == NULL) {
			int st = check_partial(buf + pos, lim - pos, first);
			if (st) {
				*status = st;
				return -1;
			}
			break;
		}
		size_t n = (size_t)(nl - (buf + pos));
		const char *l = buf + pos;
		pos += n + 1;
		int st;
		if (first) {
			st = parse_request_line(l, n, req);
			first = false;
		} else if (n == 0 || (n == 1 && l[0] == '\r')) {
			req->head_len = pos;
			return 1;
		} else if (++req->nheaders > XA_HTTP_HEADERS_MAX) {
			st = 431;
		} else {
			st = parse_header_line(l, n);
		}
		if (st) {
			*status = st;
			return -1;
		}
	}
	if (len >= XA_HTTP_HEAD_MAX) {
		*status = 431; /* no end of the head within the limit */
		return -1;
	}
	return 0;
}

bool xa_http_query_get(const char *query, size_t qlen, const char *key, const char **val, size_t *vlen) {
	size_t kl = strlen(key);
	const char *p = query, *end = query ? query + qlen : NULL;
	while (p && p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(e - p));
		const char *ke = eq ? eq : e;
		if ((size_t)(ke - p) == kl && memcmp(p, key, kl) == 0) {
			*val = eq ? eq + 1 : e;
			*vlen = (size_t)(e - *val);
			return true;
		}
		p = amp ? amp + 1 : end;
	}
	return false;
}
