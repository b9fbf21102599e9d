/*
 * fuzz_http.c -- libFuzzer harness for the http endpoint's request parser
 * (src/http_parse.c, a pure function), built and run by fuzz/http.sh.
 *
 * For any input it checks the contract of src/http.h: the result is one
 * of -1/0/1; an error carries one of the documented statuses; "need more"
 * only below the size limit; a complete head lies within the input and
 * the limit, with a target that starts with '/' and has no control bytes
 * or spaces, and a method GET or HEAD; the parse is deterministic; the
 * prefix property (every shorter prefix of a complete head is "need
 * more"); query lookups stay inside the query.  ASan checks every access.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define CHECK(c) \
	do { \
		if (!(c)) \
			__builtin_trap(); \
	} while (0)

static void check_query(const xa_http_req_t *r, const char *key) {
	const char *v;
	size_t vl;
	if (xa_http_query_get(r->query, r->query_len, key, &v, &vl)) {
		CHECK(r->query != NULL);
		CHECK(v >= r->query && v + vl <= r->query + r->query_len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	/* a copy of exactly size bytes: ASan sees any read past the end */
	char *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	xa_http_req_t r, r2;
	int st, st2;
	int res = xa_http_parse(buf, size, &r, &st);
	CHECK(res >= -1 && res <= 1);
	CHECK(xa_http_parse(buf, size, &r2, &st2) == res && st2 == st);
	if (res == -1)
		CHECK(st == 400 || st == 405 || st == 414 || st == 431 || st == 505);
	if (res == 0)
		CHECK(size < XA_HTTP_HEAD_MAX);
	if (res == 1) {
		CHECK(r.head_len > 0 && r.head_len <= size && r.head_len <= XA_HTTP_HEAD_MAX);
		CHECK(r.method == XA_HTTP_GET || r.method == XA_HTTP_HEAD);
		CHECK(r.minor == 0 || r.minor == 1);
		CHECK(r.path >= buf && r.path + r.path_len <= buf + r.head_len);
		CHECK(r.path_len >= 1 && r.path[0] == '/');
		for (size_t i = 0; i < r.path_len; i++)
			CHECK((unsigned char)r.path[i] > 0x20 && (unsigned char)r.path[i] < 0x7f && r.path[i] != '?');
		if (r.query)
			CHECK(r.query == r.path + r.path_len + 1 && r.query + r.query_len <= buf + r.head_len);
		CHECK(r.nheaders <= XA_HTTP_HEADERS_MAX);
		check_query(&r, "debug");
		check_query(&r, "seconds");
		/* prefix property, on a few prefixes */
		size_t cuts[] = {0, 1, r.head_len / 3, r.head_len / 2, r.head_len - 2, r.head_len - 1};
		for (unsigned i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
			if (cuts[i] >= r.head_len)
				continue;
			CHECK(xa_http_parse(buf, cuts[i], &r2, &st2) == 0);
		}
	}
	free(buf);
	return 0;
}
