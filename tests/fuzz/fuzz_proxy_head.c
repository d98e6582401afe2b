/*
 * fuzz_proxy_head.c: libFuzzer harness for the forwarder's request head
 * parser (src/proxy/proxy_head.c). The input is a client's first bytes,
 * copied into a heap block of exactly their size (a read past it is an
 * ASan error), parsed whole and at every 61st prefix.
 *
 * Checked (abort() with a message on a violation):
 *   - the answer is PROXY_HEAD_OK, PROXY_HEAD_MORE, 400, 431 or 505, and
 *     MORE only while fewer than PROXY_HEAD_MAX bytes were seen;
 *   - OK: head_len is within the input and PROXY_HEAD_MAX and ends with
 *     CRLF CRLF; a CONNECT names a port; the host is a string of its
 *     length; the Proxy-Authorization value lies inside the head;
 *   - a prefix's answer other than MORE is the whole input's answer too
 *     (more bytes never turn a refusal into a head, or change a head).
 * Seeds: the CONNECT requests cut from pcaps/ (run-fuzz.sh).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy.h"

#define FAIL(...)                                                 \
	do {                                                      \
		fprintf(stderr, "fuzz_proxy_head: " __VA_ARGS__); \
		abort();                                          \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check(const uint8_t *p, size_t n, struct proxy_request *r)
{
	const char *why = NULL;
	int rc = proxy_head_parse(p, n, r, &why);

	if (rc != PROXY_HEAD_OK && rc != PROXY_HEAD_MORE && rc != 400 && rc != 431 && rc != 505)
		FAIL("answer %d\n", rc);
	if (rc == PROXY_HEAD_MORE && n >= PROXY_HEAD_MAX)
		FAIL("more after %zu bytes\n", n);
	if (rc >= 400 && (!why || !*why))
		FAIL("refused without a reason\n");
	if (rc != PROXY_HEAD_OK)
		return rc;
	if (r->head_len < 4 || r->head_len > n || r->head_len > PROXY_HEAD_MAX ||
	    memcmp(p + r->head_len - 4, "\r\n\r\n", 4) != 0)
		FAIL("head_len %zu of %zu\n", r->head_len, n);
	if (r->method == PROXY_CONNECT && (!r->req.connect_host_len || !r->req.connect_port ||
					   strlen(r->req.connect_host) != r->req.connect_host_len))
		FAIL("CONNECT target\n");
	if (r->method == PROXY_ABSOLUTE && strlen(r->req.http_host) != r->req.http_host_len)
		FAIL("absolute host\n");
	if (r->auth && (r->auth < p || r->auth + r->auth_len > p + r->head_len))
		FAIL("Proxy-Authorization outside the head\n");
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *p = malloc(size ? size : 1);
	struct proxy_request whole, part;
	int rc;

	if (!p)
		return 0;
	if (size)
		memcpy(p, data, size);
	rc = check(p, size, &whole);
	for (size_t n = 0; n < size; n += 61) {
		int prc = check(p, n, &part);

		if (prc == PROXY_HEAD_MORE)
			continue;
		if (prc != rc)
			FAIL("prefix of %zu: %d, whole: %d\n", n, prc, rc);
		if (rc == PROXY_HEAD_OK && part.head_len != whole.head_len)
			FAIL("prefix of %zu: head of %zu, whole: %zu\n", n, part.head_len,
			     whole.head_len);
	}
	free(p);
	return 0;
}
