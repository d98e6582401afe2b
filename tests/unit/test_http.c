/*
 * test_http.c: the HTTP/1.x and WebSocket handshake dissector, through its
 * descriptor's probe.
 *
 * Expected hosts, flags and answers are written out by hand from the
 * request bytes; the RFC 6455 1.3 example key and accept value are quoted
 * from the RFC, and the two captures are from suricata-verify
 * (websocket/basic_websockets.pcap, http2-keywords2/input.pcap), extracted
 * with tshark -q -z follow,tcp,raw,0.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissect/dissect.h"

extern const struct dissector dissect_http;

/* Garbage the probe must overwrite or clear on a match. */
static void facts_dirty(struct dpix_facts *f)
{
	memset(f, 0xa5, sizeof(*f));
}

static enum dpix_answer probe2(const void *c, size_t cn, const void *s, size_t sn, bool sclosed,
				  struct dpix_facts *f)
{
	struct dpix_input in = { .transport = DPIX_TCP,
				    .client_port = 40000,
				    .server_port = 80 };

	in.data[0] = c;
	in.len[0] = cn;
	in.data[1] = s;
	in.len[1] = sn;
	in.closed[1] = sclosed;
	in.dir = sn > 0;
	return dissect_http.probe(&in, f);
}

static enum dpix_answer probe_str(const char *s, struct dpix_facts *f)
{
	return probe2(s, strlen(s), NULL, 0, false, f);
}

static void assert_not_mine(const char *s)
{
	struct dpix_facts f;

	facts_dirty(&f);
	assert_int_equal(probe_str(s, &f), DPIX_NOT_MINE);
}

/* A plain HTTP match with this host ("" for none) and these flags. */
static void assert_http(const char *s, const char *host, uint8_t flags)
{
	struct dpix_facts f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(probe_str(s, &f), DPIX_MATCH);
	assert_int_equal(f.app, APP_HTTP);
	assert_int_equal(f.http_host_len, strlen(host));
	if (*host)
		assert_string_equal(f.http_host, host);
	assert_int_equal(f.flags, flags);
}

/* Every proper prefix of s is need-more. */
static void assert_prefixes_need_more(const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++) {
		struct dpix_facts f;
		char *copy = malloc(i ? i : 1); /* exact size: ASan sees overreads */

		assert_non_null(copy);
		memcpy(copy, s, i);
		memset(&f, 0, sizeof(f));
		assert_int_equal(probe2(copy, i, NULL, 0, false, &f), DPIX_NEED_MORE);
		free(copy);
	}
}

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = strlen(h) / 2;

	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

/* RFC 6455 1.2/1.3: the example handshake. */
static const char ws_req[] = "GET /chat HTTP/1.1\r\n"
			     "Host: server.example.com\r\n"
			     "Upgrade: websocket\r\n"
			     "Connection: Upgrade\r\n"
			     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			     "Origin: http://example.com\r\n"
			     "Sec-WebSocket-Protocol: chat, superchat\r\n"
			     "Sec-WebSocket-Version: 13\r\n"
			     "\r\n";

static const char ws_resp[] = "HTTP/1.1 101 Switching Protocols\r\n"
			      "Upgrade: websocket\r\n"
			      "Connection: Upgrade\r\n"
			      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
			      "Sec-WebSocket-Protocol: chat\r\n"
			      "\r\n";

/* Client alone, then client + server with the facts of the first answer. */
static enum dpix_answer ws_exchange(const char *req, const char *resp, struct dpix_facts *f)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(probe_str(req, f), DPIX_MATCH_MORE);
	assert_int_equal(f->app, APP_WEBSOCKET);
	assert_int_equal(f->flags & FACT_WS_ACCEPT_OK, 0);
	return probe2(req, strlen(req), resp, strlen(resp), false, f);
}

static void test_ws_rfc_example(void **state)
{
	struct dpix_facts f;

	(void)state;
	assert_int_equal(ws_exchange(ws_req, ws_resp, &f), DPIX_MATCH);
	assert_int_equal(f.app, APP_WEBSOCKET);
	assert_int_equal(f.flags, FACT_WS_ACCEPT_OK);
	assert_string_equal(f.http_host, "server.example.com");
}

/* The server's header arriving byte by byte: match-more until complete. */
static void test_ws_response_prefixes(void **state)
{
	size_t n = strlen(ws_resp);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		struct dpix_facts f;

		memset(&f, 0, sizeof(f));
		assert_int_equal(probe2(ws_req, strlen(ws_req), ws_resp, i, false, &f),
				 DPIX_MATCH_MORE);
		assert_int_equal(f.app, APP_WEBSOCKET);
		assert_int_equal(f.flags & FACT_WS_ACCEPT_OK, 0);
	}
}

/* The server closing before its header is complete: a match, no flag. */
static void test_ws_response_closed_early(void **state)
{
	struct dpix_facts f;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(probe2(ws_req, strlen(ws_req), ws_resp, 20, true, &f), DPIX_MATCH);
	assert_int_equal(f.app, APP_WEBSOCKET);
	assert_int_equal(f.flags & FACT_WS_ACCEPT_OK, 0);
}

static void test_ws_wrong_accept(void **state)
{
	static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\n"
				   "Upgrade: websocket\r\n"
				   "Connection: Upgrade\r\n"
				   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOp=\r\n"
				   "\r\n";
	struct dpix_facts f;

	(void)state;
	assert_int_equal(ws_exchange(ws_req, resp, &f), DPIX_MATCH);
	assert_int_equal(f.app, APP_WEBSOCKET);
	assert_int_equal(f.flags & FACT_WS_ACCEPT_OK, 0);
}

/* Right accept value, but not a 101: no flag. */
static void test_ws_not_101(void **state)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\n"
				   "Upgrade: websocket\r\n"
				   "Connection: Upgrade\r\n"
				   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
				   "\r\n";
	static const char garbage[] = "\x16\x03\x03\x00\x10garbage\r\n\r\n";
	struct dpix_facts f;

	(void)state;
	assert_int_equal(ws_exchange(ws_req, resp, &f), DPIX_MATCH);
	assert_int_equal(f.flags & FACT_WS_ACCEPT_OK, 0);
	assert_int_equal(ws_exchange(ws_req, garbage, &f), DPIX_MATCH);
	assert_int_equal(f.app, APP_WEBSOCKET);
	assert_int_equal(f.flags & FACT_WS_ACCEPT_OK, 0);
}

/* Two accept fields: no flag, whichever is right. */
static void test_ws_two_accepts(void **state)
{
	static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\n"
				   "Upgrade: websocket\r\n"
				   "Connection: Upgrade\r\n"
				   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
				   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
				   "\r\n";
	struct dpix_facts f;

	(void)state;
	assert_int_equal(ws_exchange(ws_req, resp, &f), DPIX_MATCH);
	assert_int_equal(f.flags & FACT_WS_ACCEPT_OK, 0);
}

/* A key that is not base64 of exactly 16 bytes: plain HTTP. */
static void test_ws_bad_key(void **state)
{
	(void)state;
	/* 15 bytes */
	assert_http("GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
		    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n"
		    "Sec-WebSocket-Version: 13\r\n\r\n",
		    "h", 0);
	/* 17 bytes */
	assert_http("GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
		    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ0=\r\n"
		    "Sec-WebSocket-Version: 13\r\n\r\n",
		    "h", 0);
	/* 24 characters, not base64 */
	assert_http("GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
		    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub2*jZQ==\r\n"
		    "Sec-WebSocket-Version: 13\r\n\r\n",
		    "h", 0);
	/* no key */
	assert_http("GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
		    "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
		    "h", 0);
	/* version 8 */
	assert_http("GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
		    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		    "Sec-WebSocket-Version: 8\r\n\r\n",
		    "h", 0);
	/* no Connection: upgrade */
	assert_http("GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
		    "Connection: keep-alive\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		    "Sec-WebSocket-Version: 13\r\n\r\n",
		    "h", 0);
	/* POST */
	assert_http("POST /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
		    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		    "Sec-WebSocket-Version: 13\r\n\r\n",
		    "h", 0);
}

/* Connection as a list, any case, odd spacing; Upgrade in any case. */
static void test_ws_token_lists(void **state)
{
	static const char *const reqs[] = {
		/* Each request is several literals: parenthesized, one element. */
		("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\n"
		 "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
		 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"),
		("GET / HTTP/1.1\r\nhost: h\r\nconnection:keep-alive ,\tupgrade \r\n"
		 "upgrade: WebSocket\r\nsec-websocket-version:13\r\n"
		 "SEC-WEBSOCKET-KEY:   dGhlIHNhbXBsZSBub25jZQ==  \r\n\r\n"),
		("GET / HTTP/1.1\nHost: h\nConnection: UPGRADE\nUpgrade: WEBSOCKET\n"
		 "Sec-WebSocket-Version: 13\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n\n"),
	};

	(void)state;
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		struct dpix_facts f;

		assert_int_equal(ws_exchange(reqs[i], ws_resp, &f), DPIX_MATCH);
		assert_int_equal(f.app, APP_WEBSOCKET);
		assert_int_equal(f.flags, FACT_WS_ACCEPT_OK);
		assert_string_equal(f.http_host, "h");
	}
	/* "upgrades" is not the token "upgrade". */
	assert_http("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrades\r\n"
		    "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
		    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
		    "h", 0);
}

static void test_h2c_upgrade(void **state)
{
	(void)state;
	assert_http("GET / HTTP/1.1\r\nHost: server.example.com\r\n"
		    "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
		    "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
		    "server.example.com", 0);
}

static void test_plain_get(void **state)
{
	(void)state;
	assert_http("GET /index.html HTTP/1.1\r\nHost: www.example.com:8080\r\n"
		    "User-Agent: t\r\n\r\n",
		    "www.example.com", 0);
	assert_http("HEAD / HTTP/1.0\r\nHost: example.com\r\n\r\n", "example.com", 0);
	assert_http("POST /x HTTP/1.1\r\nHost:  [2001:db8::1]:443 \r\n"
		    "Content-Length: 3\r\n\r\nabc",
		    "2001:db8::1", 0);
	assert_http("OPTIONS * HTTP/1.1\nHost: a.b\n\n", "a.b", 0);
	/* no Host, or one that is not a host name: no host recorded */
	assert_http("GET / HTTP/1.0\r\n\r\n", "", 0);
	assert_http("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "", 0);
	assert_http("GET / HTTP/1.1\r\nHost: a.com:80x\r\n\r\n", "", 0);
	assert_http("GET / HTTP/1.1\r\nHost:\r\n\r\n", "", 0);
}

static void test_all_methods(void **state)
{
	static const char *const m[] = { "GET",	   "HEAD",    "POST",  "PUT",
					 "DELETE", "OPTIONS", "PATCH", "TRACE" };
	char buf[128];

	(void)state;
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		snprintf(buf, sizeof(buf), "%s /a HTTP/1.1\r\nHost: h.example\r\n\r\n", m[i]);
		assert_http(buf, "h.example", 0);
	}
	assert_not_mine("get / HTTP/1.1\r\n\r\n");
	assert_not_mine("FOO / HTTP/1.1\r\n\r\n");
	assert_not_mine("PROPFIND / HTTP/1.1\r\n\r\n");
}

static void test_proxy_get(void **state)
{
	(void)state;
	assert_http("GET http://example.org:8080/path?q=1 HTTP/1.1\r\n"
		    "Host: example.org:8080\r\nProxy-Connection: keep-alive\r\n\r\n",
		    "example.org", FACT_PROXY_GET);
	/* the target's authority wins over Host (RFC 9112 3.2.2) */
	assert_http("GET HTTP://target.example HTTP/1.1\r\nHost: other.example\r\n\r\n",
		    "target.example", FACT_PROXY_GET);
	/* userinfo: still a proxy request, with no host to trust */
	assert_http("GET http://good.example@evil.example/ HTTP/1.1\r\n"
		    "Host: good.example\r\n\r\n",
		    "", FACT_PROXY_GET);
}

static void test_prefixes(void **state)
{
	static const char req[] = "GET /index.html HTTP/1.1\r\nHost: www.example.com\r\n"
				  "Accept: */*\r\n\r\n";

	(void)state;
	assert_prefixes_need_more(req);
	assert_http(req, "www.example.com", 0);
	assert_prefixes_need_more(ws_req);
	assert_prefixes_need_more("POST / HTTP/1.0\nHost: x\n\n");
}

static void test_zero_length(void **state)
{
	struct dpix_facts f;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(probe2(NULL, 0, NULL, 0, false, &f), DPIX_NEED_MORE);
}

static void test_connect_not_mine(void **state)
{
	(void)state;
	assert_not_mine("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
	assert_not_mine("CONNECT ");
	assert_not_mine("CONN");
	assert_not_mine("C");
}

static void test_duplicate_host(void **state)
{
	(void)state;
	assert_not_mine("GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n");
	assert_not_mine("GET / HTTP/1.1\r\nHost: a.example\r\nhOST: a.example\r\n\r\n");
}

static void test_malformed(void **state)
{
	(void)state;
	/* obs-fold */
	assert_not_mine("GET / HTTP/1.1\r\nHost: a.example\r\nX-A: 1\r\n 2\r\n\r\n");
	assert_not_mine("GET / HTTP/1.1\r\nX-A: 1\r\n\tHost: b\r\n\r\n");
	assert_not_mine("GET / HTTP/1.1\r\n X");
	/* whitespace before the colon, no colon, empty name */
	assert_not_mine("GET / HTTP/1.1\r\nHost : a.example\r\n\r\n");
	assert_not_mine("GET / HTTP/1.1\r\nHost a.example\r\n\r\n");
	assert_not_mine("GET / HTTP/1.1\r\n: a\r\n\r\n");
	/* control bytes in a value, bare CR */
	assert_not_mine("GET / HTTP/1.1\r\nX: a\x01\r\n\r\n");
	assert_not_mine("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n");
	/* request line: control or non-ASCII bytes, bad version, shape */
	assert_not_mine("GET /\x01 HTTP/1.1\r\n\r\n");
	assert_not_mine("GET /\xc3\xa9 HTTP/1.1\r\n\r\n");
	assert_not_mine("GET /\x7f");
	assert_not_mine("GET / HTTP/2.0\r\n\r\n");
	assert_not_mine("GET / HTTP/1.2\r\n\r\n");
	assert_not_mine("GET / HTTP/1.1x\r\n\r\n");
	assert_not_mine("GET / HTTP/1.\r\n\r\n");
	assert_not_mine("GET  / HTTP/1.1\r\n\r\n");
	assert_not_mine("GET /\r\n\r\n");
	assert_not_mine("GET / x HTTP/1.1\r\n\r\n");
	assert_not_mine("\r\nGET / HTTP/1.1\r\n\r\n");
}

static void test_binary(void **state)
{
	static const uint8_t tls[] = { 0x16, 0x03, 0x01, 0x00, 0x2f, 0x01,
				       0x00, 0x00, 0x2b, 0x03, 0x03 };
	static const uint8_t bin[] = { 0x00, 0xff, 0x47, 0x45, 0x54, 0x20 };
	static const uint8_t nul_in_line[] = { 'G', 'E', 'T', ' ', '/', 0x00 };
	struct dpix_facts f;

	(void)state;
	facts_dirty(&f);
	assert_int_equal(probe2(tls, sizeof(tls), NULL, 0, false, &f), DPIX_NOT_MINE);
	assert_int_equal(probe2(tls, 1, NULL, 0, false, &f), DPIX_NOT_MINE);
	assert_int_equal(probe2(bin, sizeof(bin), NULL, 0, false, &f), DPIX_NOT_MINE);
	assert_int_equal(probe2(nul_in_line, sizeof(nul_in_line), NULL, 0, false, &f),
			 DPIX_NOT_MINE);
	assert_not_mine("SSH-2.0-OpenSSH_9.6\r\n");
}

/* A request of exactly total bytes (total >= 64), header included. */
static char *sized_request(size_t total)
{
	static const char start[] = "GET / HTTP/1.1\r\nHost: a.example\r\nX-Pad: ";
	static const char end[] = "\r\n\r\n";
	size_t s = sizeof(start) - 1, e = sizeof(end) - 1;
	char *buf = malloc(total + 1);

	assert_non_null(buf);
	memcpy(buf, start, s);
	memset(buf + s, 'p', total - s - e);
	memcpy(buf + total - e, end, e + 1);
	assert_int_equal(strlen(buf), total);
	return buf;
}

static void test_head_limit(void **state)
{
	char *ok = sized_request(8192), *big = sized_request(8193);
	struct dpix_facts f;

	(void)state;
	assert_http(ok, "a.example", 0);
	assert_not_mine(big);
	/* 8192 bytes seen, none of them the end: no end can come in time */
	memset(&f, 0, sizeof(f));
	assert_int_equal(probe2(big, 8192, NULL, 0, false, &f), DPIX_NOT_MINE);
	assert_int_equal(probe2(big, 8191, NULL, 0, false, &f), DPIX_NEED_MORE);
	free(ok);
	free(big);
}

/* n header fields, then the end; the segments are cut every 97 bytes. */
static void fields_in_segments(unsigned n, enum dpix_answer last)
{
	char *buf = malloc(64 + (size_t)n * 16);
	size_t len = 0, cut;
	struct dpix_facts f;

	assert_non_null(buf);
	len += (size_t)sprintf(buf, "GET / HTTP/1.1\r\n");
	for (unsigned i = 0; i < n; i++)
		len += (size_t)sprintf(buf + len, "X-F%u: %u\r\n", i, i);
	len += (size_t)sprintf(buf + len, "\r\n");
	for (cut = 97; cut < len; cut += 97) {
		enum dpix_answer a;

		memset(&f, 0, sizeof(f));
		a = probe2(buf, cut, NULL, 0, false, &f);
		if (a == DPIX_NOT_MINE) {
			assert_int_equal(last, DPIX_NOT_MINE);
			break;
		}
		assert_int_equal(a, DPIX_NEED_MORE);
	}
	memset(&f, 0, sizeof(f));
	assert_int_equal(probe2(buf, len, NULL, 0, false, &f), last);
	free(buf);
}

static void test_field_count(void **state)
{
	(void)state;
	fields_in_segments(100, DPIX_MATCH);
	fields_in_segments(101, DPIX_NOT_MINE);
}

/* suricata-verify websocket/basic_websockets.pcap, stream 0. */
static const char pcap_ws_client[] =
    "474554202f7365727669636520485454502f312e310d0a486f73743a20776562736f636b"
    "657473746573742e636f6d0d0a436f6e6e656374696f6e3a20557067726164650d0a5072"
    "61676d613a206e6f2d63616368650d0a43616368652d436f6e74726f6c3a206e6f2d6361"
    "6368650d0a557365722d4167656e743a204d6f7a696c6c612f352e30202857696e646f77"
    "73204e542031302e303b2057696e36343b2078363429204170706c655765624b69742f35"
    "33372e333620284b48544d4c2c206c696b65204765636b6f29204368726f6d652f38382e"
    "302e343332342e313530205361666172692f3533372e3336204564672f38382e302e3730"
    "352e36380d0a557067726164653a20776562736f636b65740d0a4f726967696e3a206874"
    "7470733a2f2f776562736f636b657473746573742e636f6d0d0a5365632d576562536f63"
    "6b65742d56657273696f6e3a2031330d0a4163636570742d456e636f64696e673a20677a"
    "69702c206465666c6174652c2062720d0a4163636570742d4c616e67756167653a20656e"
    "2d55532c656e3b713d302e390d0a436f6f6b69653a205f5f75746d613d32343533393835"
    "33302e313333363231313236362e313639393539333934352e313639393539333934352e"
    "313639393539333934352e313b205f5f75746d633d3234353339383533303b205f5f7574"
    "6d7a3d3234353339383533302e313639393539333934352e312e312e75746d6373723d28"
    "646972656374297c75746d63636e3d28646972656374297c75746d636d643d286e6f6e65"
    "293b205f77735f746573745f73657373696f6e3d4241683743446f506332567a63326c76"
    "626c39705a456b694a54557a596a426a59574e6d4e6a6c6d4e324d784e7a426d4d444269"
    "4f5441794e57597a4d6a466b596d4e6b426a6f475255593643474e705a476b4554763843"
    "416a6f4b59585a7958323537426a73495353494c5347567362473868426a734756412533"
    "442533442d2d383136393436303165666533656632343535306165623466633433343061"
    "326432343866303834633b205f5f75746d743d313b205f5f75746d623d32343533393835"
    "33302e342e31302e313639393539333934350d0a5365632d576562536f636b65742d4b65"
    "793a20644d506872765264486b534179583356712f4f6655673d3d0d0a5365632d576562"
    "536f636b65742d457874656e73696f6e733a207065726d6573736167652d6465666c6174"
    "653b20636c69656e745f6d61785f77696e646f775f626974730d0a0d0a";

static const char pcap_ws_server[] =
    "485454502f312e312031303120537769746368696e672050726f746f636f6c730d0a4461"
    "74653a204672692c203130204e6f7620323032332030353a35363a313020474d540d0a43"
    "6f6e6e656374696f6e3a20757067726164650d0a557067726164653a20576562536f636b"
    "65740d0a5365632d576562536f636b65742d4163636570743a204a473742686c42466234"
    "35506a4376643667326a3174383673556f3d0d0a0d0a810a636f6e6e65637465642c";

/* suricata-verify http2-keywords2/input.pcap, stream 0: an h2c upgrade. */
static const char pcap_h2c_client[] =
    "474554202f726f626f74732e74787420485454502f312e310d0a486f73743a206e676874"
    "7470322e6f72670d0a557365722d4167656e743a206375726c2f372e36312e300d0a4163"
    "636570743a202a2f2a0d0a436f6e6e656374696f6e3a20557067726164652c2048545450"
    "322d53657474696e67730d0a557067726164653a206832630d0a48545450322d53657474"
    "696e67733a2041414d414141426b414152414141414141414941414141410d0a0d0a";

static const char pcap_h2c_server[] =
    "485454502f312e312031303120537769746368696e672050726f746f636f6c730d0a436f"
    "6e6e656374696f6e3a20557067726164650d0a557067726164653a206832630d0a0d0a00"
    "0012040000000000000300000064000400100000000100002000";

static void pcap_exchange(const char *chex, const char *shex, struct dpix_facts *f,
			  enum dpix_answer first, enum dpix_answer second)
{
	static uint8_t c[2048], s[2048];
	size_t cn = unhex(chex, c, sizeof(c)), sn = unhex(shex, s, sizeof(s));

	memset(f, 0, sizeof(*f));
	assert_int_equal(probe2(c, cn, NULL, 0, false, f), first);
	assert_int_equal(probe2(c, cn, s, sn, false, f), second);
}

static void test_pcap_websocket(void **state)
{
	struct dpix_facts f;

	(void)state;
	pcap_exchange(pcap_ws_client, pcap_ws_server, &f, DPIX_MATCH_MORE, DPIX_MATCH);
	assert_int_equal(f.app, APP_WEBSOCKET);
	assert_int_equal(f.flags, FACT_WS_ACCEPT_OK);
	assert_string_equal(f.http_host, "websocketstest.com");
}

static void test_pcap_h2c(void **state)
{
	struct dpix_facts f;

	(void)state;
	pcap_exchange(pcap_h2c_client, pcap_h2c_server, &f, DPIX_MATCH, DPIX_MATCH);
	assert_int_equal(f.app, APP_HTTP);
	assert_int_equal(f.flags, 0);
	assert_string_equal(f.http_host, "nghttp2.org");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ws_rfc_example),
		cmocka_unit_test(test_ws_response_prefixes),
		cmocka_unit_test(test_ws_response_closed_early),
		cmocka_unit_test(test_ws_wrong_accept),
		cmocka_unit_test(test_ws_not_101),
		cmocka_unit_test(test_ws_two_accepts),
		cmocka_unit_test(test_ws_bad_key),
		cmocka_unit_test(test_ws_token_lists),
		cmocka_unit_test(test_h2c_upgrade),
		cmocka_unit_test(test_plain_get),
		cmocka_unit_test(test_all_methods),
		cmocka_unit_test(test_proxy_get),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_zero_length),
		cmocka_unit_test(test_connect_not_mine),
		cmocka_unit_test(test_duplicate_host),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_head_limit),
		cmocka_unit_test(test_field_count),
		cmocka_unit_test(test_pcap_websocket),
		cmocka_unit_test(test_pcap_h2c),
	};

	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
