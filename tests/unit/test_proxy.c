/*
 * test_proxy.c: the forwarder's request head parser, its upstream
 * address guard and the transparent mode's first-bytes sniffer. Expected
 * answers are written out by hand from the bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxy/proxy.h"

static int parse(const char *s, struct proxy_request *r)
{
	const char *why;

	return proxy_head_parse((const uint8_t *)s, strlen(s), r, &why);
}

static void test_connect_ok(void **state)
{
	struct proxy_request r;
	const char *s = "CONNECT turn-rbx1.openrainbow.com:443 HTTP/1.1\r\n"
			"Host: turn-rbx1.openrainbow.com:443\r\n"
			"Proxy-Authorization: Basic dTpw\r\n\r\n\x16\x03\x01";

	(void)state;
	assert_int_equal(parse(s, &r), PROXY_HEAD_OK);
	assert_int_equal(r.method, PROXY_CONNECT);
	assert_int_equal(r.minor, 1);
	assert_int_equal(r.head_len, strlen(s) - 3);
	assert_int_equal(r.req.app, APP_CONNECT);
	assert_int_equal(r.req.connect_host_len, 25);
	assert_memory_equal(r.req.connect_host, "turn-rbx1.openrainbow.com", 25);
	assert_int_equal(r.req.connect_port, 443);
	assert_int_equal(r.auth_len, 10);
	assert_memory_equal(r.auth, "Basic dTpw", 10);
}

static void test_connect_v6_and_10(void **state)
{
	struct proxy_request r;

	(void)state;
	assert_int_equal(parse("CONNECT [2001:db8::1]:8443 HTTP/1.0\r\n\r\n", &r), PROXY_HEAD_OK);
	assert_int_equal(r.minor, 0);
	assert_int_equal(r.req.connect_host_len, 11);
	assert_string_equal(r.req.connect_host, "2001:db8::1");
	assert_int_equal(r.req.connect_port, 8443);
	assert_null(r.auth);
}

static void test_truncated(void **state)
{
	static const char full[] = "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n";
	struct proxy_request r;
	const char *why;

	(void)state;
	/* Every proper prefix asks for more. */
	for (size_t n = 0; n < sizeof(full) - 1; n++)
		assert_int_equal(proxy_head_parse((const uint8_t *)full, n, &r, &why),
				 PROXY_HEAD_MORE);
	assert_int_equal(proxy_head_parse((const uint8_t *)full, sizeof(full) - 1, &r, &why),
			 PROXY_HEAD_OK);
}

static void test_bad_targets(void **state)
{
	static const char *const bad[] = {
		"CONNECT a.example HTTP/1.1\r\n\r\n",	     /* no port */
		"CONNECT a.example:0 HTTP/1.1\r\n\r\n",	     /* port 0 */
		"CONNECT a.example:65536 HTTP/1.1\r\n\r\n",  /* too big */
		"CONNECT a.example:44x HTTP/1.1\r\n\r\n",    /* not digits */
		"CONNECT a.example:-1 HTTP/1.1\r\n\r\n",     /* sign */
		"CONNECT a.example:443443 HTTP/1.1\r\n\r\n", /* six digits */
		"CONNECT [2001:db8::1:443 HTTP/1.1\r\n\r\n", /* no bracket */
		"CONNECT 2001:db8::1:443 HTTP/1.1\r\n\r\n",  /* v6 without brackets */
		"CONNECT a_b@c:443 HTTP/1.1\r\n\r\n",	     /* userinfo */
		"CONNECT / HTTP/1.1\r\n\r\n",
		"CONNECT  a.example:443 HTTP/1.1\r\n\r\n", /* two spaces */
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",	   /* origin-form to a proxy */
		"connect a.example:443 HTTP/1.1\r\n\r\n",  /* methods are case-sensitive */
		"\r\n\r\n",
	};
	struct proxy_request r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i], &r);

		if (rc != 400)
			fail_msg("%s: %d, expected 400", bad[i], rc);
	}
}

static void test_hostile_heads(void **state)
{
	static const char *const bad[] = {
		/* obs-fold */
		"CONNECT a.example:443 HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n",
		"CONNECT a.example:443 HTTP/1.1\r\nX-A: 1\r\n\tfolded\r\n\r\n",
		/* two Host fields, in any case */
		"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example\r\nhost: b.example\r\n\r\n",
		/* smuggling forms */
		"CONNECT a.example:443 HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
		"CONNECT a.example:443 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET http://a.example/ HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: "
		"chunked\r\n\r\n",
		"GET http://a.example/ HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		"GET http://a.example/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"CONNECT a.example:443 HTTP/1.1\r\nHost : a.example\r\n\r\n",
		"CONNECT a.example:443 HTTP/1.1\r\n: empty\r\n\r\n",
		"CONNECT a.example:443 HTTP/1.1\r\nno colon\r\n\r\n",
		/* bare LF, bare CR, NUL, DEL */
		"CONNECT a.example:443 HTTP/1.1\nHost: a\r\n\r\n",
		"CONNECT a.example:443 HTTP/1.1\r\nX: a\rb\r\n\r\n",
		"CONNECT a.example:443 HTTP/1.1\r\nX: \x7f\r\n\r\n",
		"CONNECT a.example:443 HTTP/1.1\r\nProxy-Authorization: a\r\n"
		"Proxy-Authorization: b\r\n\r\n",
	};
	struct proxy_request r;
	const char *why;
	static const uint8_t nul[] = "CONNECT a.example:443 HTTP/1.1\r\nX: \0\r\n\r\n";

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i], &r);

		if (rc != 400)
			fail_msg("%s: %d, expected 400", bad[i], rc);
	}
	assert_int_equal(proxy_head_parse(nul, sizeof(nul) - 1, &r, &why), 400);
	/* Refused before the head is whole: a TLS hello sent to the proxy. */
	assert_int_equal(proxy_head_parse((const uint8_t *)"\x16\x03\x01\x02", 4, &r, &why), 400);
}

static void test_versions(void **state)
{
	struct proxy_request r;

	(void)state;
	assert_int_equal(parse("CONNECT a.example:443 HTTP/2.0\r\n\r\n", &r), 505);
	assert_int_equal(parse("CONNECT a.example:443 HTTP/1.2\r\n\r\n", &r), 505);
	assert_int_equal(parse("CONNECT a.example:443 HTTX/1.1\r\n\r\n", &r), 400);
}

static void test_oversized(void **state)
{
	size_t n = PROXY_HEAD_MAX + 100;
	char *big = malloc(n + 1);
	struct proxy_request r;
	const char *why;
	size_t off;
	char many[64 * 8 + 200];

	(void)state;
	assert_non_null(big);
	off = (size_t)snprintf(big, n, "CONNECT a.example:443 HTTP/1.1\r\nX-Big: ");
	memset(big + off, 'a', n - off);
	assert_int_equal(proxy_head_parse((const uint8_t *)big, n, &r, &why), 431);
	/* Exactly at the bound with no end yet: too large as well. */
	assert_int_equal(proxy_head_parse((const uint8_t *)big, PROXY_HEAD_MAX, &r, &why), 431);
	free(big);
	off = (size_t)snprintf(many, sizeof(many), "CONNECT a.example:443 HTTP/1.1\r\n");
	for (int i = 0; i < PROXY_HEADERS_MAX; i++)
		off += (size_t)snprintf(many + off, sizeof(many) - off, "X%d: 1\r\n", i % 10);
	snprintf(many + off, sizeof(many) - off, "\r\n");
	assert_int_equal(parse(many, &r), PROXY_HEAD_OK);
	snprintf(many + off, sizeof(many) - off, "Y: 1\r\n\r\n");
	assert_int_equal(parse(many, &r), 431);
}

static void test_absolute(void **state)
{
	struct proxy_request r;

	(void)state;
	assert_int_equal(
	    parse("GET http://www.example.com/x HTTP/1.1\r\nHost: www.example.com\r\n\r\n", &r),
	    PROXY_HEAD_OK);
	assert_int_equal(r.method, PROXY_ABSOLUTE);
	assert_int_equal(r.req.app, APP_HTTP);
	assert_string_equal(r.req.http_host, "www.example.com");
	assert_true(r.req.flags & FACT_PROXY_GET);
	assert_int_equal(parse("GET ftp://www.example.com/ HTTP/1.1\r\n\r\n", &r), 400);
}

static struct sockaddr_storage sa(const char *text, unsigned port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &in.sin_addr) == 1)
		memcpy(&ss, &in, sizeof(in));
	else if (inet_pton(AF_INET6, text, &in6.sin6_addr) == 1)
		memcpy(&ss, &in6, sizeof(in6));
	else
		fail_msg("bad test address %s", text);
	return ss;
}

static enum proxy_addr_kind cls(const char *text, unsigned port, const struct proxy_config *c)
{
	struct sockaddr_storage ss = sa(text, port);

	return proxy_addr_class((const struct sockaddr *)&ss, c);
}

static void test_guard(void **state)
{
	struct proxy_config c = { 0 };

	(void)state;
	assert_int_equal(cls("127.0.0.1", 22, NULL), ADDR_LOOPBACK);
	assert_int_equal(cls("127.255.0.9", 443, NULL), ADDR_LOOPBACK);
	assert_int_equal(cls("::1", 443, NULL), ADDR_LOOPBACK);
	assert_int_equal(cls("::ffff:127.0.0.1", 443, NULL), ADDR_LOOPBACK);
	assert_int_equal(cls("10.1.2.3", 443, NULL), ADDR_PRIVATE);
	assert_int_equal(cls("172.16.0.1", 443, NULL), ADDR_PRIVATE);
	assert_int_equal(cls("172.31.255.255", 443, NULL), ADDR_PRIVATE);
	assert_int_equal(cls("172.32.0.1", 443, NULL), ADDR_PUBLIC);
	assert_int_equal(cls("172.15.0.1", 443, NULL), ADDR_PUBLIC);
	assert_int_equal(cls("192.168.1.1", 443, NULL), ADDR_PRIVATE);
	assert_int_equal(cls("::ffff:192.168.1.1", 443, NULL), ADDR_PRIVATE);
	assert_int_equal(cls("fd00::1", 443, NULL), ADDR_PRIVATE);
	assert_int_equal(cls("fc00::1", 443, NULL), ADDR_PRIVATE);
	assert_int_equal(cls("169.254.169.254", 80, NULL), ADDR_LINK_LOCAL);
	assert_int_equal(cls("fe80::1", 443, NULL), ADDR_LINK_LOCAL);
	assert_int_equal(cls("febf::1", 443, NULL), ADDR_LINK_LOCAL);
	assert_int_equal(cls("fec0::1", 443, NULL), ADDR_PUBLIC);
	assert_int_equal(cls("0.0.0.0", 443, NULL), ADDR_UNSPECIFIED);
	assert_int_equal(cls("0.1.2.3", 443, NULL), ADDR_UNSPECIFIED);
	assert_int_equal(cls("::", 443, NULL), ADDR_UNSPECIFIED);
	assert_int_equal(cls("224.0.0.1", 443, NULL), ADDR_MULTICAST);
	assert_int_equal(cls("239.255.255.250", 1900, NULL), ADDR_MULTICAST);
	assert_int_equal(cls("255.255.255.255", 443, NULL), ADDR_MULTICAST);
	assert_int_equal(cls("ff02::1", 443, NULL), ADDR_MULTICAST);
	assert_int_equal(cls("198.18.2.2", 443, NULL), ADDR_PUBLIC);
	assert_int_equal(cls("2001:db8::1", 443, NULL), ADDR_PUBLIC);
	/* Carrier-grade NAT, and IPv6 forms carrying an IPv4 address. */
	assert_int_equal(cls("100.64.0.1", 443, NULL), ADDR_PRIVATE);
	assert_int_equal(cls("100.127.255.255", 443, NULL), ADDR_PRIVATE);
	assert_int_equal(cls("100.128.0.1", 443, NULL), ADDR_PUBLIC);
	assert_int_equal(cls("64:ff9b::a00:1", 443, NULL), ADDR_PRIVATE);
	assert_int_equal(cls("64:ff9b::7f00:1", 443, NULL), ADDR_LOOPBACK);
	assert_int_equal(cls("64:ff9b::c612:202", 443, NULL), ADDR_PUBLIC);
	assert_int_equal(cls("2002:a00:1::1", 443, NULL), ADDR_PRIVATE);
	assert_int_equal(cls("2002:a9fe:a9fe::", 443, NULL), ADDR_LINK_LOCAL);
	assert_int_equal(cls("::10.0.0.1", 443, NULL), ADDR_PRIVATE);
	assert_int_equal(cls("::2", 443, NULL), ADDR_PUBLIC);
	/* The proxy's own listeners, exact or wildcard. */
	assert_int_equal(proxy_parse_endpoint("198.18.1.1:3128", &c.listen[0]), 0);
	assert_int_equal(proxy_parse_endpoint("[::]:8080", &c.listen[1]), 0);
	c.nlisten = 2;
	assert_int_equal(cls("198.18.1.1", 3128, &c), ADDR_LISTENER);
	assert_int_equal(cls("198.18.1.1", 443, &c), ADDR_LISTENER); /* any port of its own host */
	assert_int_equal(cls("203.0.113.7", 8080, &c), ADDR_LISTENER);
}

static void test_endpoints(void **state)
{
	struct proxy_endpoint e;
	struct proxy_config c = { 0 };

	(void)state;
	assert_int_equal(proxy_parse_endpoint("0.0.0.0:3128", &e), 0);
	assert_int_equal(e.ss.ss_family, AF_INET);
	assert_int_equal(proxy_parse_endpoint("[::1]:3128", &e), 0);
	assert_int_equal(e.ss.ss_family, AF_INET6);
	assert_int_equal(proxy_parse_endpoint("::1:3128", &e), -1);
	assert_int_equal(proxy_parse_endpoint("1.2.3.4", &e), -1);
	assert_int_equal(proxy_parse_endpoint("1.2.3.4:0", &e), -1);
	assert_int_equal(proxy_parse_endpoint("1.2.3.4:65536", &e), -1);
	assert_int_equal(proxy_parse_endpoint("proxy.example:3128", &e), -1);
	assert_int_equal(proxy_parse_parent("squid.example:3129", &c), 0);
	assert_string_equal(c.parent_host, "squid.example");
	assert_string_equal(c.parent_port, "3129");
	assert_int_equal(proxy_parse_parent("squid.example", &c), -1);
}

/* A TLS 1.3-style ClientHello record naming sni (none if NULL). */
static size_t hello(uint8_t *b, const char *sni)
{
	size_t n = strlen(sni ? sni : ""), ext = sni ? 9 + n : 0,
	       body = 2 + 32 + 1 + 4 + 2 + 2 + ext;
	size_t i = 0;

	b[i++] = 0x16, b[i++] = 3, b[i++] = 1;
	b[i++] = (uint8_t)((body + 4) >> 8), b[i++] = (uint8_t)(body + 4);
	b[i++] = 1, b[i++] = 0, b[i++] = (uint8_t)(body >> 8), b[i++] = (uint8_t)body;
	b[i++] = 3, b[i++] = 3;
	memset(b + i, 0x42, 32), i += 32;
	b[i++] = 0;					   /* session id */
	b[i++] = 0, b[i++] = 2, b[i++] = 0x13, b[i++] = 1; /* one suite */
	b[i++] = 1, b[i++] = 0;				   /* compression: null */
	b[i++] = (uint8_t)(ext >> 8), b[i++] = (uint8_t)ext;
	if (sni) {
		b[i++] = 0, b[i++] = 0, b[i++] = (uint8_t)((n + 5) >> 8), b[i++] = (uint8_t)(n + 5);
		b[i++] = (uint8_t)((n + 3) >> 8), b[i++] = (uint8_t)(n + 3), b[i++] = 0;
		b[i++] = (uint8_t)(n >> 8), b[i++] = (uint8_t)n;
		memcpy(b + i, sni, n), i += n;
	}
	return i;
}

static void test_sniff(void **state)
{
	struct sockaddr_storage orig = { 0 };
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(443) };
	struct proxy_request r;
	enum proxy_sniffed kind;
	uint8_t b[512];
	size_t n = hello(b, "turn-rbx1.openrainbow.com");
	static const char get[] = "GET /x HTTP/1.1\r\nHost: turn-a.openrainbow.com:80\r\n\r\n";

	(void)state;
	inet_pton(AF_INET, "198.18.2.2", &in.sin_addr);
	memcpy(&orig, &in, sizeof(in));
	/* The SNI, and the original port. */
	assert_int_equal(proxy_sniff(b, n, false, &orig, &r, &kind), PROXY_HEAD_OK);
	assert_int_equal(kind, SNIFF_TLS);
	assert_int_equal(r.method, PROXY_CONNECT);
	assert_int_equal(r.req.connect_port, 443);
	assert_int_equal(r.req.connect_host_len, strlen("turn-rbx1.openrainbow.com"));
	assert_memory_equal(r.req.connect_host, "turn-rbx1.openrainbow.com",
			    r.req.connect_host_len);
	/* Every prefix of the hello is "more", never a guess... */
	for (size_t k = 0; k < n; k++)
		assert_int_equal(proxy_sniff(b, k, false, &orig, &r, &kind), PROXY_HEAD_MORE);
	/* ...until the bytes are final: then the address decides. */
	assert_int_equal(proxy_sniff(b, 20, true, &orig, &r, &kind), PROXY_HEAD_OK);
	assert_memory_equal(r.req.connect_host, "198.18.2.2", r.req.connect_host_len);
	/* A hello without a name: the address. */
	n = hello(b, NULL);
	assert_int_equal(proxy_sniff(b, n, false, &orig, &r, &kind), PROXY_HEAD_OK);
	assert_int_equal(kind, SNIFF_TLS);
	assert_int_equal(r.req.connect_host_len, strlen("198.18.2.2"));
	/* Plain HTTP: the Host without its port. */
	in.sin_port = htons(80);
	memcpy(&orig, &in, sizeof(in));
	assert_int_equal(
	    proxy_sniff((const uint8_t *)get, sizeof(get) - 1, false, &orig, &r, &kind),
	    PROXY_HEAD_OK);
	assert_int_equal(kind, SNIFF_HTTP);
	assert_int_equal(r.req.connect_port, 80);
	assert_memory_equal(r.req.connect_host, "turn-a.openrainbow.com", r.req.connect_host_len);
	assert_int_equal(proxy_sniff((const uint8_t *)get, 20, false, &orig, &r, &kind),
			 PROXY_HEAD_MORE);
	/* Neither: the address at once. */
	assert_int_equal(proxy_sniff((const uint8_t *)"\x00\x01junk", 6, false, &orig, &r, &kind),
			 PROXY_HEAD_OK);
	assert_int_equal(kind, SNIFF_OTHER);
	assert_memory_equal(r.req.connect_host, "198.18.2.2", r.req.connect_host_len);
	/* Nothing at all, final (a silent client at the timeout). */
	assert_int_equal(proxy_sniff(b, 0, true, &orig, &r, &kind), PROXY_HEAD_OK);
	assert_memory_equal(r.req.connect_host, "198.18.2.2", r.req.connect_host_len);
}

/* A file of these bytes and mode; its path in a static buffer. */
static const char *auth_file(const char *text, size_t n, mode_t mode)
{
	static char path[] = "/tmp/dpix-auth-XXXXXX";
	int fd;

	strcpy(path, "/tmp/dpix-auth-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static int read_auth(const char *text, size_t n, mode_t mode, struct proxy_config *c, char *err)
{
	const char *path = auth_file(text, n, mode);
	int rc;

	memset(c, 0, sizeof(*c));
	rc = proxy_read_parent_auth(path, c, err, 256);
	unlink(path);
	return rc;
}

static void test_parent_auth(void **state)
{
	struct proxy_config c;
	char err[256], big[600];

	(void)state;
	/* RFC 7617's example, with and without a line end. */
	assert_int_equal(read_auth("Aladdin:open sesame\n", 20, 0600, &c, err), 0);
	assert_string_equal(c.parent_auth, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
	assert_int_equal(read_auth("e2e:secret\r\n", 12, 0400, &c, err), 0);
	assert_string_equal(c.parent_auth, "Basic ZTJlOnNlY3JldA==");
	/* Readable by others, not user:password, a control byte, too long. */
	assert_int_equal(read_auth("e2e:secret\n", 11, 0644, &c, err), -1);
	assert_non_null(strstr(err, "group or others may read it"));
	assert_string_equal(c.parent_auth, "");
	assert_int_equal(read_auth("nocolon\n", 8, 0600, &c, err), -1);
	assert_non_null(strstr(err, "expected one line user:password"));
	assert_int_equal(read_auth(":pw\n", 4, 0600, &c, err), -1);
	assert_int_equal(read_auth("", 0, 0600, &c, err), -1);
	assert_int_equal(read_auth("a:b\nc:d\n", 8, 0600, &c, err), -1);
	assert_non_null(strstr(err, ":1:4: control character"));
	memset(big, 'a', sizeof(big));
	big[1] = ':';
	assert_int_equal(read_auth(big, 378, 0600, &c, err), 0);
	assert_int_equal(strlen(c.parent_auth), 6 + 504);
	assert_int_equal(read_auth(big, 379, 0600, &c, err), -1);
	assert_non_null(strstr(err, "longer than 378 bytes"));
	assert_int_equal(read_auth(big, sizeof(big), 0600, &c, err), -1);
	/* No file, a directory. */
	assert_int_equal(proxy_read_parent_auth("/nonexistent/auth", &c, err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/auth: No such file or directory");
	assert_int_equal(proxy_read_parent_auth("/tmp", &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_ok),    cmocka_unit_test(test_connect_v6_and_10),
		cmocka_unit_test(test_truncated),     cmocka_unit_test(test_bad_targets),
		cmocka_unit_test(test_hostile_heads), cmocka_unit_test(test_versions),
		cmocka_unit_test(test_oversized),     cmocka_unit_test(test_absolute),
		cmocka_unit_test(test_guard),	      cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_sniff),	      cmocka_unit_test(test_parent_auth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
