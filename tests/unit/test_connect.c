/*
 * test_connect.c: the HTTP CONNECT dissector, through its descriptor, and
 * the budget logic of dissect_run() that decides when "need more" turns
 * into "not mine".
 *
 * Every expected host, port and answer below is written out by hand from
 * the request bytes; nothing is derived from the code under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "dissect/dissect.h"

/* Garbage the probe must overwrite or clear on a match. */
static void facts_dirty(struct dpix_facts *f)
{
	memset(f, 0xa5, sizeof(*f));
}

static enum dpix_answer probe_bytes(const void *p, size_t n, struct dpix_facts *f)
{
	struct dpix_input in = { .transport = DPIX_TCP, .client_port = 40000,
	                            .server_port = 3128 };

	in.data[0] = p;
	in.len[0] = n;
	return dissect_connect.probe(&in, f);
}

static enum dpix_answer probe_str(const char *s, struct dpix_facts *f)
{
	return probe_bytes(s, strlen(s), f);
}

/* A CONNECT whose line is s: a match with host and port exactly as given. */
static void assert_target(const char *s, const char *host, uint16_t port)
{
	struct dpix_facts f;

	facts_dirty(&f);
	assert_int_equal(probe_str(s, &f), DPIX_MATCH_MORE);
	assert_int_equal(f.connect_host_len, strlen(host));
	assert_string_equal(f.connect_host, host);
	assert_int_equal(f.connect_port, port);
}

/* Still a CONNECT, but with no target recorded: no rule can match it. */
static void assert_no_target(const char *s)
{
	struct dpix_facts f;

	facts_dirty(&f);
	assert_int_equal(probe_str(s, &f), DPIX_MATCH_MORE);
	assert_int_equal(f.connect_host_len, 0);
	assert_int_equal(f.connect_port, 0);
}

static void assert_not_mine(const char *s)
{
	struct dpix_facts f;

	facts_dirty(&f);
	assert_int_equal(probe_str(s, &f), DPIX_NOT_MINE);
}

static const char turn_req[] =
	"CONNECT turn-rbx1.openrainbow.com:443 HTTP/1.1\r\n"
	"Host: turn-rbx1.openrainbow.com:443\r\n"
	"User-Agent: Rainbow/2.0\r\n"
	"\r\n";

/* The request line alone, CRLF included: 8 + 29 + 9 + 2 = 48 bytes. */
#define TURN_LINE_LEN 48

/* --- requests that match ---------------------------------------------- */

static void test_descriptor(void **state)
{
	(void)state;
	assert_string_equal(dissect_connect.name, "connect");
	assert_int_equal(dissect_connect.app, APP_CONNECT);
	assert_int_equal(dissect_connect.transports, DPIX_TCP);
	assert_non_null(dissect_connect.probe);
}

static void test_turn_http11(void **state)
{
	(void)state;
	assert_target(turn_req, "turn-rbx1.openrainbow.com", 443);
	assert_int_equal((const char *)memchr(turn_req, '\n', sizeof(turn_req)) - turn_req + 1,
	                 TURN_LINE_LEN);
}

static void test_http10(void **state)
{
	(void)state;
	assert_target("CONNECT web.openrainbow.com:443 HTTP/1.0\r\n\r\n", "web.openrainbow.com",
	              443);
}

static void test_bare_lf(void **state)
{
	(void)state;
	assert_target("CONNECT web.openrainbow.com:8443 HTTP/1.1\nHost: x\n\n",
	              "web.openrainbow.com", 8443);
}

static void test_line_only(void **state)
{
	(void)state;
	/* The line end is all that is needed; headers may come later. */
	assert_target("CONNECT a.example.com:443 HTTP/1.1\r\n", "a.example.com", 443);
	/* Underscores and digits are host characters. */
	assert_target("CONNECT _sip_.x-1.example:5061 HTTP/1.1\r\n", "_sip_.x-1.example", 5061);
}

static void test_ipv4_literal(void **state)
{
	(void)state;
	assert_target("CONNECT 192.0.2.7:3478 HTTP/1.1\r\n\r\n", "192.0.2.7", 3478);
}

static void test_ipv6_literal(void **state)
{
	(void)state;
	assert_target("CONNECT [2001:db8::1]:443 HTTP/1.1\r\n\r\n", "2001:db8::1", 443);
	assert_target("CONNECT [::ffff:192.0.2.7]:3478 HTTP/1.1\r\n", "::ffff:192.0.2.7", 3478);
}

static void test_port_bounds(void **state)
{
	(void)state;
	assert_target("CONNECT h.example:1 HTTP/1.1\r\n", "h.example", 1);
	assert_target("CONNECT h.example:65535 HTTP/1.1\r\n", "h.example", 65535);
}

static void test_pipelined_bytes_ignored(void **state)
{
	(void)state;
	/* Whatever follows the header (TLS already, garbage) is not looked at. */
	static const char req[] = "CONNECT web.openrainbow.com:443 HTTP/1.1\r\n"
	                          "Host: web.openrainbow.com:443\r\n\r\n"
	                          "\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00\x80\xff\x00";
	struct dpix_facts f;

	facts_dirty(&f);
	assert_int_equal(probe_bytes(req, sizeof(req) - 1, &f), DPIX_MATCH_MORE);
	assert_string_equal(f.connect_host, "web.openrainbow.com");
	assert_int_equal(f.connect_host_len, 19);
	assert_int_equal(f.connect_port, 443);
}

/* --- partial requests ------------------------------------------------- */

static void test_every_prefix_needs_more(void **state)
{
	(void)state;
	struct dpix_facts f;

	for (size_t n = 0; n < TURN_LINE_LEN; n++) {
		facts_dirty(&f);
		/* cmocka prints the failing length on a mismatch. */
		if (probe_bytes(turn_req, n, &f) != DPIX_NEED_MORE)
			fail_msg("prefix of %zu bytes: expected need-more", n);
	}
	facts_dirty(&f);
	assert_int_equal(probe_bytes(turn_req, TURN_LINE_LEN, &f), DPIX_MATCH_MORE);
}

static void test_no_bytes_yet(void **state)
{
	(void)state;
	struct dpix_input in = { .transport = DPIX_TCP };
	struct dpix_facts f;

	/* A stream with nothing yet has no buffer at all. */
	facts_dirty(&f);
	in.data[0] = NULL;
	in.len[0] = 0;
	assert_int_equal(dissect_connect.probe(&in, &f), DPIX_NEED_MORE);
}

static void test_split_at_every_byte(void **state)
{
	(void)state;
	/* Two segments cut at every position: the first alone never answers;
	 * the stream (both together) always matches. */
	size_t total = sizeof(turn_req) - 1;
	struct dpix_facts f;

	for (size_t cut = 1; cut < total; cut++) {
		enum dpix_answer a;

		facts_dirty(&f);
		a = probe_bytes(turn_req, cut, &f);
		if (a != (cut < TURN_LINE_LEN ? DPIX_NEED_MORE : DPIX_MATCH_MORE))
			fail_msg("first segment of %zu bytes: answer %d", cut, (int)a);
		facts_dirty(&f);
		assert_int_equal(probe_bytes(turn_req, total, &f), DPIX_MATCH_MORE);
		assert_string_equal(f.connect_host, "turn-rbx1.openrainbow.com");
		assert_int_equal(f.connect_port, 443);
	}
}

static void test_growing_prefixes(void **state)
{
	(void)state;
	/* One byte per segment: need-more until the LF, then a match. */
	struct dpix_facts f;
	size_t n;
	enum dpix_answer a = DPIX_NEED_MORE;

	for (n = 1; n <= sizeof(turn_req) - 1 && a == DPIX_NEED_MORE; n++) {
		facts_dirty(&f);
		a = probe_bytes(turn_req, n, &f);
	}
	assert_int_equal(a, DPIX_MATCH_MORE);
	assert_int_equal(n - 1, TURN_LINE_LEN);
	assert_string_equal(f.connect_host, "turn-rbx1.openrainbow.com");
	assert_int_equal(f.connect_host_len, 25);
	assert_int_equal(f.connect_port, 443);
}

/* --- not a CONNECT ---------------------------------------------------- */

static void test_other_methods(void **state)
{
	(void)state;
	assert_not_mine("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
	assert_not_mine("G");
	assert_not_mine("POST /x HTTP/1.1\r\n");
	assert_not_mine("connect a.example.com:443 HTTP/1.1\r\n");
	assert_not_mine("Connect a.example.com:443 HTTP/1.1\r\n");
	assert_not_mine("CONNECTX a.example.com:443 HTTP/1.1\r\n");
	assert_not_mine("CONNECTX");
	assert_not_mine("CONNECT\ta.example.com:443 HTTP/1.1\r\n");
	assert_not_mine("\x16\x03\x01\x00\x05");
}

static void test_bad_bytes_in_line(void **state)
{
	(void)state;
	static const char nul[] = "CONNECT a.exa\0mple.com:443 HTTP/1.1\r\n";
	struct dpix_facts f;

	assert_not_mine("CONNECT a.exa\x01mple.com:443 HTTP/1.1\r\n");
	assert_not_mine("CONNECT a.example.com:443\tHTTP/1.1\r\n");
	assert_not_mine("CONNECT a.exa\x80mple.com:443 HTTP/1.1\r\n");
	assert_not_mine("CONNECT a.example.com:443 HTTP/1.1\x7f\r\n");
	assert_not_mine("CONNECT a.exa\x7fmple.com:443 HTTP/1.1\r\n");
	/* Decided on the bad byte, before any line end arrives. */
	assert_not_mine("CONNECT a.exa\x80");
	assert_not_mine("CONNECT \x1b");
	facts_dirty(&f);
	assert_int_equal(probe_bytes(nul, sizeof(nul) - 1, &f), DPIX_NOT_MINE);
}

/* "CONNECT " + n times 'a' + tail, in buf. */
static size_t long_line(char *buf, size_t n, const char *tail)
{
	size_t t = strlen(tail);

	memcpy(buf, "CONNECT ", 8);
	memset(buf + 8, 'a', n);
	memcpy(buf + 8 + n, tail, t);
	return 8 + n + t;
}

static void test_line_too_long(void **state)
{
	(void)state;
	static char buf[6000];
	struct dpix_facts f;
	size_t len;

	/* 4095 bytes without a line end: may still end at the next byte. */
	len = long_line(buf, 4087, "");
	assert_int_equal(len, 4095);
	assert_int_equal(probe_bytes(buf, len, &f), DPIX_NEED_MORE);
	/* 4096 bytes without a line end: not mine. */
	len = long_line(buf, 4088, "");
	assert_int_equal(len, 4096);
	assert_int_equal(probe_bytes(buf, len, &f), DPIX_NOT_MINE);
	/* 5000 bytes, the LF only at byte 4500. */
	len = long_line(buf, 4492, "\n");
	assert_int_equal(len, 4501);
	assert_int_equal(probe_bytes(buf, len, &f), DPIX_NOT_MINE);
	/* A line of exactly 4096 bytes with its CRLF: a CONNECT, its host far
	 * too long to keep. 8 + 4073 + ":443 HTTP/1.1\r\n" (15) = 4096. */
	len = long_line(buf, 4073, ":443 HTTP/1.1\r\n");
	assert_int_equal(len, 4096);
	facts_dirty(&f);
	assert_int_equal(probe_bytes(buf, len, &f), DPIX_MATCH_MORE);
	assert_int_equal(f.connect_host_len, 0);
	/* One byte more and the LF is byte 4097. */
	len = long_line(buf, 4074, ":443 HTTP/1.1\r\n");
	assert_int_equal(len, 4097);
	assert_int_equal(probe_bytes(buf, len, &f), DPIX_NOT_MINE);
}

static void test_bad_version(void **state)
{
	(void)state;
	assert_not_mine("CONNECT a.example.com:443 HTTP/2.0\r\n");
	assert_not_mine("CONNECT a.example.com:443 HTTP/1.2\r\n");
	assert_not_mine("CONNECT a.example.com:443 HTTP/1.x\r\n");
	assert_not_mine("CONNECT a.example.com:443 http/1.1\r\n");
	assert_not_mine("CONNECT a.example.com:443\r\n");
	assert_not_mine("CONNECT a.example.com:443 HTTP/1.1 \r\n");
	assert_not_mine("CONNECT HTTP/1.1\r\n");
}

/* --- a CONNECT without a usable target -------------------------------- */

static void test_no_port(void **state)
{
	(void)state;
	assert_no_target("CONNECT a.example.com HTTP/1.1\r\n\r\n");
	assert_no_target("CONNECT a.example.com: HTTP/1.1\r\n");
}

static void test_bad_ports(void **state)
{
	(void)state;
	assert_no_target("CONNECT a.example.com:0 HTTP/1.1\r\n");
	assert_no_target("CONNECT a.example.com:65536 HTTP/1.1\r\n");
	assert_no_target("CONNECT a.example.com:99999 HTTP/1.1\r\n");
	assert_no_target("CONNECT a.example.com:100000 HTTP/1.1\r\n");
	assert_no_target("CONNECT a.example.com:+443 HTTP/1.1\r\n");
	assert_no_target("CONNECT a.example.com:-443 HTTP/1.1\r\n");
	assert_no_target("CONNECT a.example.com:44a HTTP/1.1\r\n");
	assert_no_target("CONNECT a.example.com:https HTTP/1.1\r\n");
	assert_no_target("CONNECT a.example.com:0x1bb HTTP/1.1\r\n");
}

static void test_bad_hosts(void **state)
{
	(void)state;
	assert_no_target("CONNECT :443 HTTP/1.1\r\n");
	assert_no_target("CONNECT a b.example.com:443 HTTP/1.1\r\n");
	assert_no_target("CONNECT / HTTP/1.1\r\n");
	assert_no_target("CONNECT a.example.com/x:443 HTTP/1.1\r\n");
	assert_no_target("CONNECT http://a.example.com:443 HTTP/1.1\r\n");
	assert_no_target("CONNECT user@a.example.com:443 HTTP/1.1\r\n");
}

static void test_bad_ipv6(void **state)
{
	(void)state;
	assert_no_target("CONNECT []:443 HTTP/1.1\r\n");
	assert_no_target("CONNECT [2001:db8::1]443 HTTP/1.1\r\n");
	assert_no_target("CONNECT [2001:db8::1]: HTTP/1.1\r\n");
	assert_no_target("CONNECT [2001:db8::1 HTTP/1.1\r\n");
	assert_no_target("CONNECT [2001:db8::1]:0 HTTP/1.1\r\n");
	assert_no_target("CONNECT [2001:db8::g]:443 HTTP/1.1\r\n");
	assert_no_target("CONNECT 2001:db8::1:443 HTTP/1.1\r\n");
}

static void test_host_length(void **state)
{
	(void)state;
	static char buf[600];
	struct dpix_facts f;
	size_t len;

	/* 255 characters: the most a facts field holds. */
	len = long_line(buf, 255, ":443 HTTP/1.1\r\n");
	facts_dirty(&f);
	assert_int_equal(probe_bytes(buf, len, &f), DPIX_MATCH_MORE);
	assert_int_equal(f.connect_host_len, 255);
	assert_int_equal(strlen(f.connect_host), 255);
	assert_memory_equal(f.connect_host, buf + 8, 255);
	assert_int_equal(f.connect_port, 443);
	/* 256: a CONNECT, no target kept. */
	len = long_line(buf, 256, ":443 HTTP/1.1\r\n");
	facts_dirty(&f);
	assert_int_equal(probe_bytes(buf, len, &f), DPIX_MATCH_MORE);
	assert_int_equal(f.connect_host_len, 0);
	assert_int_equal(f.connect_port, 0);
}

/* --- dissect_run(): budgets --------------------------------------------- */

/* The bit of a dissector in a candidate mask. */
static uint32_t bit_of(const struct dissector *d)
{
	for (unsigned i = 0; i < dissect_count(); i++)
		if (dissect_at(i) == d)
			return 1u << i;
	fail_msg("dissector %s is not in the table", d->name);
	return 0;
}

static const char partial[] = "CONNECT turn-rbx1.openrainbow.com:443 HTT";

static void run_input(struct dpix_input *in, const char *s)
{
	memset(in, 0, sizeof(*in));
	in->transport = DPIX_TCP;
	in->data[0] = (const uint8_t *)s;
	in->len[0] = strlen(s);
}

static void test_candidates(void **state)
{
	(void)state;
	uint32_t tcp = dissect_candidates(DPIX_TCP);

	assert_true(tcp & bit_of(&dissect_connect));
	assert_true(tcp & bit_of(&dissect_tls));
	/* CONNECT is TCP only. */
	assert_false(dissect_candidates(DPIX_UDP) & bit_of(&dissect_connect));
}

static void test_run_partial_within_budget(void **state)
{
	(void)state;
	uint32_t cand = dissect_candidates(DPIX_TCP);
	struct dpix_input in;
	struct dpix_facts f;

	run_input(&in, partial);
	memset(&f, 0, sizeof(f));
	assert_int_equal(dissect_run(&cand, &in, (uint16_t)(dissect_connect.max_segs - 1), &f),
	                 DPIX_NEED_MORE);
	/* Only a match changes the facts. */
	assert_int_equal(f.connect_host_len, 0);
	assert_int_equal(f.connect_port, 0);
	assert_int_equal(f.app, APP_UNKNOWN);
	/* CONNECT still waits; TLS has said no to 'C'. */
	assert_true(cand & bit_of(&dissect_connect));
	assert_false(cand & bit_of(&dissect_tls));
}

static void test_run_partial_out_of_segments(void **state)
{
	(void)state;
	uint32_t cand = dissect_candidates(DPIX_TCP);
	struct dpix_input in;
	struct dpix_facts f;

	run_input(&in, partial);
	memset(&f, 0, sizeof(f));
	assert_int_equal(dissect_run(&cand, &in, dissect_connect.max_segs, &f), DPIX_NOT_MINE);
	assert_false(cand & bit_of(&dissect_connect));
	assert_int_equal(cand, 0);

	/* More segments than the budget: the same. */
	cand = dissect_candidates(DPIX_TCP);
	assert_int_equal(dissect_run(&cand, &in, (uint16_t)(dissect_connect.max_segs + 5), &f),
	                 DPIX_NOT_MINE);
	assert_false(cand & bit_of(&dissect_connect));
}

static void test_run_partial_closed(void **state)
{
	(void)state;
	uint32_t cand = dissect_candidates(DPIX_TCP);
	struct dpix_input in;
	struct dpix_facts f;

	run_input(&in, partial);
	in.closed[0] = true;
	memset(&f, 0, sizeof(f));
	assert_int_equal(dissect_run(&cand, &in, 1, &f), DPIX_NOT_MINE);
	assert_int_equal(cand, 0);
}

static void test_run_closed_without_bytes(void **state)
{
	(void)state;
	uint32_t cand = dissect_candidates(DPIX_TCP);
	struct dpix_input in = { .transport = DPIX_TCP };
	struct dpix_facts f;

	/* The client closed without sending anything (no buffer at all). */
	in.closed[0] = true;
	memset(&f, 0, sizeof(f));
	assert_int_equal(dissect_run(&cand, &in, 0, &f), DPIX_NOT_MINE);
	assert_int_equal(cand, 0);
}

static void test_run_match(void **state)
{
	(void)state;
	uint32_t cand = dissect_candidates(DPIX_TCP);
	struct dpix_input in;
	struct dpix_facts f;

	run_input(&in, turn_req);
	memset(&f, 0, sizeof(f));
	/* A complete line answers even on the last segment of the budget: a
	 * CONNECT, more facts to come from the proxy. */
	assert_int_equal(dissect_run(&cand, &in, dissect_connect.max_segs, &f), DPIX_MATCH_MORE);
	assert_int_equal(f.app, APP_CONNECT);
	assert_string_equal(f.connect_host, "turn-rbx1.openrainbow.com");
	assert_int_equal(f.connect_port, 443);
	assert_string_equal(app_proto_name(f.app), "connect");
}

static void test_run_not_http(void **state)
{
	(void)state;
	uint32_t cand = dissect_candidates(DPIX_TCP);
	struct dpix_input in;
	struct dpix_facts f;

	run_input(&in, "GET / HTTP/1.1\r\n\r\n");
	memset(&f, 0, sizeof(f));
	/* Not a CONNECT: the connect dissector says no, the HTTP one matches. */
	assert_int_equal(dissect_connect.probe(&in, &f), DPIX_NOT_MINE);
	assert_int_equal(dissect_run(&cand, &in, 1, &f), DPIX_MATCH);
	assert_int_equal(f.app, APP_HTTP);
	assert_int_equal(cand, 1u << 1); /* the table's second entry: http */
}

/* --- the proxy's answer and the tunnel ------------------------------- */

static const char req_turn[] = "CONNECT turn-rbx1.openrainbow.com:443 HTTP/1.1\r\n"
                               "Host: turn-rbx1.openrainbow.com:443\r\n\r\n";

/* A minimal TLS ClientHello (one record) naming sni, as a client sends it
 * first inside a tunnel. */
static size_t hello(uint8_t *b, const char *sni)
{
	size_t n = strlen(sni), body = 2 + 32 + 1 + 4 + 2 + 2 + (9 + n), i = 0;

	b[i++] = 0x16, b[i++] = 3, b[i++] = 1;               /* handshake, TLS 1.0 record */
	b[i++] = (uint8_t)((body + 4) >> 8), b[i++] = (uint8_t)(body + 4);
	b[i++] = 1, b[i++] = 0;                              /* ClientHello, length[3] */
	b[i++] = (uint8_t)(body >> 8), b[i++] = (uint8_t)body;
	b[i++] = 3, b[i++] = 3;                              /* legacy version 1.2 */
	memset(b + i, 0x11, 32), i += 32;                    /* random */
	b[i++] = 0;                                          /* no session id */
	b[i++] = 0, b[i++] = 2, b[i++] = 0x13, b[i++] = 0x01; /* one cipher suite */
	b[i++] = 1, b[i++] = 0;                              /* null compression */
	b[i++] = 0, b[i++] = (uint8_t)(9 + n);               /* extensions length */
	b[i++] = 0, b[i++] = 0;                              /* server_name */
	b[i++] = 0, b[i++] = (uint8_t)(5 + n);
	b[i++] = 0, b[i++] = (uint8_t)(3 + n);               /* list length */
	b[i++] = 0, b[i++] = 0, b[i++] = (uint8_t)n;         /* host_name, length */
	memcpy(b + i, sni, n), i += n;
	return i;
}

/* Client bytes = request + tunnel, proxy bytes = rsp; closed: both ended. */
static enum dpix_answer probe_both(const char *rsp, const uint8_t *tun, size_t tlen,
                                      bool closed, struct dpix_facts *f)
{
	static uint8_t cli[4096], scratch[16384];
	struct dpix_input in = { .transport = DPIX_TCP, .client_port = 40000,
	                            .server_port = 3128, .scratch = scratch,
	                            .scratch_len = sizeof(scratch) };
	size_t rn = strlen(req_turn);

	memcpy(cli, req_turn, rn);
	if (tlen)
		memcpy(cli + rn, tun, tlen);
	in.data[0] = cli;
	in.len[0] = rn + tlen;
	in.data[1] = (const uint8_t *)rsp;
	in.len[1] = rsp ? strlen(rsp) : 0;
	in.closed[0] = in.closed[1] = closed;
	memset(f, 0, sizeof(*f));
	return dissect_connect.probe(&in, f);
}

static void test_refused_403(void **state)
{
	(void)state;
	struct dpix_facts f;

	assert_int_equal(probe_both("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
	                            NULL, 0, false, &f),
	                 DPIX_MATCH);
	assert_int_equal(f.connect_status, 403);
	assert_int_equal(f.tunnel, TUNNEL_NONE);
}

static void test_status_waits_for_header(void **state)
{
	(void)state;
	struct dpix_facts f;

	/* No proxy bytes yet, then a partial status line, then a whole line
	 * without the blank line: all still waiting. */
	assert_int_equal(probe_both(NULL, NULL, 0, false, &f), DPIX_MATCH_MORE);
	assert_int_equal(probe_both("HTTP/1.1 2", NULL, 0, false, &f), DPIX_MATCH_MORE);
	assert_int_equal(probe_both("HTTP/1.1 200 OK\r\n", NULL, 0, false, &f),
	                 DPIX_MATCH_MORE);
	assert_int_equal(f.connect_status, 200);
	/* A proxy that closes mid-line ends the questions. */
	assert_int_equal(probe_both("HTTP/1.1 2", NULL, 0, true, &f), DPIX_MATCH);
}

static void test_proxy_not_http(void **state)
{
	(void)state;
	struct dpix_facts f;

	assert_int_equal(probe_both("SSH-2.0-x\r\n", NULL, 0, false, &f), DPIX_MATCH);
	assert_int_equal(f.connect_status, 0);
	assert_int_equal(probe_both("HTTP/1.1 20x OK\r\n\r\n", NULL, 0, false, &f), DPIX_MATCH);
	assert_int_equal(f.connect_status, 0);
}

static void test_tunnel_tls_same_host(void **state)
{
	(void)state;
	uint8_t h[256];
	size_t n = hello(h, "turn-rbx1.openrainbow.com");
	struct dpix_facts f;

	/* The hello's first bytes: waiting; the whole hello: TLS, not fronted. */
	assert_int_equal(probe_both("HTTP/1.1 200 Connection established\r\n\r\n", h, 20,
	                            false, &f),
	                 DPIX_MATCH_MORE);
	assert_int_equal(probe_both("HTTP/1.1 200 Connection established\r\n\r\n", h, n,
	                            false, &f),
	                 DPIX_MATCH);
	assert_int_equal(f.connect_status, 200);
	assert_int_equal(f.tunnel, TUNNEL_TLS);
	assert_string_equal(f.sni, "turn-rbx1.openrainbow.com");
	assert_false(f.flags & FACT_FRONTING);
	/* Case and a trailing dot do not make another host. */
	n = hello(h, "TURN-RBX1.openrainbow.com.");
	probe_both("HTTP/1.0 200 OK\n\n", h, n, false, &f);
	assert_false(f.flags & FACT_FRONTING);
}

static void test_tunnel_fronting(void **state)
{
	(void)state;
	uint8_t h[256];
	size_t n = hello(h, "www.example.com");
	struct dpix_facts f;

	assert_int_equal(probe_both("HTTP/1.1 200 OK\r\n\r\n", h, n, false, &f), DPIX_MATCH);
	assert_int_equal(f.tunnel, TUNNEL_TLS);
	assert_string_equal(f.sni, "www.example.com");
	assert_true(f.flags & FACT_FRONTING);
}

static void test_tunnel_unknown(void **state)
{
	(void)state;
	static const uint8_t junk[] = "\x01\x02\x03\x04 binary";
	struct dpix_facts f;

	assert_int_equal(probe_both("HTTP/1.1 200 OK\r\n\r\n", junk, sizeof(junk) - 1, false, &f),
	                 DPIX_MATCH);
	assert_int_equal(f.tunnel, TUNNEL_UNKNOWN);
	assert_int_equal(f.sni_len, 0);
	/* An empty tunnel that ends: nothing carried. */
	assert_int_equal(probe_both("HTTP/1.1 200 OK\r\n\r\n", NULL, 0, true, &f), DPIX_MATCH);
	assert_int_equal(f.tunnel, TUNNEL_NONE);
}

/* Through a CONNECT to port 80: plain HTTP, and a ws:// upgrade whose
 * 101 comes back after the proxy's 200 (RFC 6455 1.3's key and accept). */
static void test_tunnel_http_websocket(void **state)
{
	(void)state;
	static const char get[] = "GET /x HTTP/1.1\r\nHost: web.openrainbow.com\r\n\r\n";
	static const char ws[] = "GET /chat HTTP/1.1\r\nHost: web.openrainbow.com\r\n"
	                         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                         "Sec-WebSocket-Version: 13\r\n\r\n";
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	static const char ok_101[] = "HTTP/1.1 200 Connection established\r\n\r\n"
	                             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                             "Connection: Upgrade\r\n"
	                             "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
	struct dpix_facts f;

	assert_int_equal(probe_both(ok, (const uint8_t *)get, sizeof(get) - 1, false, &f),
	                 DPIX_MATCH);
	assert_int_equal(f.tunnel, TUNNEL_HTTP);
	assert_string_equal(f.http_host, "web.openrainbow.com");
	/* The upgrade waits for the server's 101, then checks its accept. */
	assert_int_equal(probe_both(ok, (const uint8_t *)ws, sizeof(ws) - 1, false, &f),
	                 DPIX_MATCH_MORE);
	assert_int_equal(f.tunnel, TUNNEL_WEBSOCKET);
	assert_false(f.flags & FACT_WS_ACCEPT_OK);
	assert_int_equal(probe_both(ok_101, (const uint8_t *)ws, sizeof(ws) - 1, false, &f),
	                 DPIX_MATCH);
	assert_int_equal(f.tunnel, TUNNEL_WEBSOCKET);
	assert_true(f.flags & FACT_WS_ACCEPT_OK);
	assert_int_equal(f.app, APP_UNKNOWN); /* the descriptor's app is set by dissect_run */
}

/* The forwarder's question (dissect_connect_tunnel): only the client's
 * first bytes in a tunnel it opened to facts->connect_host. */
static enum dpix_answer tunnel_alone(const uint8_t *p, size_t n, bool closed,
                                     struct dpix_facts *f)
{
	static uint8_t scratch[16384];
	struct dpix_input in = { .transport = DPIX_TCP, .server_port = 443,
	                            .data = { p, (const uint8_t *)"ignored" },
	                            .len = { n, 7 }, .closed = { closed, false },
	                            .scratch = scratch, .scratch_len = sizeof(scratch) };

	memset(f, 0, sizeof(*f));
	assert_true(facts_set_host(f->connect_host, &f->connect_host_len,
	                           (const uint8_t *)"turn-rbx1.openrainbow.com", 25));
	return dissect_connect_tunnel(&in, f);
}

static void test_tunnel_alone(void **state)
{
	(void)state;
	static const uint8_t stun[20] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3,
	                                  4,    5,    6,    7,    8,    9,    10,   11,   12 };
	static const char get[] = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";
	static uint8_t junk[16384];
	uint8_t h[256];
	size_t n = hello(h, "turn-rbx1.openrainbow.com");
	struct dpix_facts f;

	/* Nothing yet: wait; nothing ever: none. */
	assert_int_equal(tunnel_alone(NULL, 0, false, &f), DPIX_MATCH_MORE);
	assert_int_equal(tunnel_alone(NULL, 0, true, &f), DPIX_MATCH);
	assert_int_equal(f.tunnel, TUNNEL_NONE);
	/* A hello, in part then whole; its name against the target. */
	assert_int_equal(tunnel_alone(h, 20, false, &f), DPIX_MATCH_MORE);
	assert_int_equal(tunnel_alone(h, n, false, &f), DPIX_MATCH);
	assert_int_equal(f.tunnel, TUNNEL_TLS);
	assert_string_equal(f.sni, "turn-rbx1.openrainbow.com");
	assert_false(f.flags & FACT_FRONTING);
	n = hello(h, "www.example.com");
	assert_int_equal(tunnel_alone(h, n, false, &f), DPIX_MATCH);
	assert_true(f.flags & FACT_FRONTING);
	/* STUN, HTTP, bytes of nothing known (as many as a peek holds). */
	assert_int_equal(tunnel_alone(stun, sizeof(stun), false, &f), DPIX_MATCH);
	assert_int_equal(f.tunnel, TUNNEL_TURN);
	assert_int_equal(tunnel_alone((const uint8_t *)get, sizeof(get) - 1, false, &f),
	                 DPIX_MATCH);
	assert_int_equal(f.tunnel, TUNNEL_HTTP);
	memset(junk, 0xe5, sizeof(junk));
	assert_int_equal(tunnel_alone(junk, sizeof(junk), false, &f), DPIX_MATCH);
	assert_int_equal(f.tunnel, TUNNEL_UNKNOWN);
	/* A hello cut short by the client's end: TLS by its start, no name. */
	assert_int_equal(tunnel_alone(h, 20, true, &f), DPIX_MATCH);
	assert_int_equal(f.tunnel, TUNNEL_TLS);
	assert_int_equal(f.sni_len, 0);
}

static void test_request_header_too_long(void **state)
{
	(void)state;
	static uint8_t big[8300];
	struct dpix_input in = { .transport = DPIX_TCP };
	struct dpix_facts f;
	size_t rn = strlen(req_turn) - 2; /* without the blank line */

	memcpy(big, req_turn, rn);
	memset(big + rn, 'x', sizeof(big) - rn);
	in.data[0] = big;
	in.len[0] = sizeof(big);
	memset(&f, 0, sizeof(f));
	assert_int_equal(dissect_connect.probe(&in, &f), DPIX_MATCH);
	assert_string_equal(f.connect_host, "turn-rbx1.openrainbow.com");
	assert_int_equal(f.connect_status, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_403),
		cmocka_unit_test(test_status_waits_for_header),
		cmocka_unit_test(test_proxy_not_http),
		cmocka_unit_test(test_tunnel_tls_same_host),
		cmocka_unit_test(test_tunnel_fronting),
		cmocka_unit_test(test_tunnel_alone),
		cmocka_unit_test(test_tunnel_unknown),
		cmocka_unit_test(test_tunnel_http_websocket),
		cmocka_unit_test(test_request_header_too_long),
		cmocka_unit_test(test_descriptor),
		cmocka_unit_test(test_turn_http11),
		cmocka_unit_test(test_http10),
		cmocka_unit_test(test_bare_lf),
		cmocka_unit_test(test_line_only),
		cmocka_unit_test(test_ipv4_literal),
		cmocka_unit_test(test_ipv6_literal),
		cmocka_unit_test(test_port_bounds),
		cmocka_unit_test(test_pipelined_bytes_ignored),
		cmocka_unit_test(test_every_prefix_needs_more),
		cmocka_unit_test(test_no_bytes_yet),
		cmocka_unit_test(test_split_at_every_byte),
		cmocka_unit_test(test_growing_prefixes),
		cmocka_unit_test(test_other_methods),
		cmocka_unit_test(test_bad_bytes_in_line),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_no_port),
		cmocka_unit_test(test_bad_ports),
		cmocka_unit_test(test_bad_hosts),
		cmocka_unit_test(test_bad_ipv6),
		cmocka_unit_test(test_host_length),
		cmocka_unit_test(test_candidates),
		cmocka_unit_test(test_run_partial_within_budget),
		cmocka_unit_test(test_run_partial_out_of_segments),
		cmocka_unit_test(test_run_partial_closed),
		cmocka_unit_test(test_run_closed_without_bytes),
		cmocka_unit_test(test_run_match),
		cmocka_unit_test(test_run_not_http),
	};

	return cmocka_run_group_tests_name("connect", tests, NULL, NULL);
}
