/*
 * test_sip.c: the SIP plugin (plugins/sip/sip.c), loaded the way dpix
 * loads it and asked through the host: its probe straight from the
 * dissector table, and dissect_run() with the built-ins, which shows that
 * it claims TLS to port 5061 before the TLS dissector does, and not TLS to
 * port 443. Every input is copied into a heap block of exactly its size,
 * so that AddressSanitizer sees a read past it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "dissect/dissect.h"
#include "plugin/plugin.h"

#define SIP_PLUGIN SIP_BUILDDIR LT_OBJDIR "sip.so"
#define SCRATCH_LEN 16384

static const struct dissector *sip;
static uint8_t *scratch;

/* The TLS ClientHello of test_tls.c: SNI web.openrainbow.com. */
static const uint8_t hello[80] = {
	0x16, 0x03, 0x01, 0x00, 0x4b, 0x01, 0x00, 0x00, 0x47, 0x03, 0x03, 0x5a, 0x5a, 0x5a,
	0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
	0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
	0x5a, 0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x18,
	0x00, 0x16, 0x00, 0x00, 0x13, 'w',  'e',  'b',  '.',  'o',  'p',  'e',  'n',  'r',
	'a',  'i',  'n',  'b',  'o',  'w',  '.',  'c',  'o',  'm',
};

static int setup(void **state)
{
	struct plugin_error err;

	(void)state;
	if (plugin_load(SIP_PLUGIN, &err) < 0) {
		print_error("%s\n", err.msg);
		return -1;
	}
	for (unsigned i = 0; i < dissect_count(); i++)
		if (!strcmp(dissect_at(i)->name, "sip"))
			sip = dissect_at(i);
	scratch = malloc(SCRATCH_LEN);
	return sip && scratch ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	plugin_unload_all();
	free(scratch);
	return 0;
}

/* The client's first bytes of a flow to server_port. */
static void input(struct dpix_input *in, uint8_t transport, uint16_t server_port, const void *p,
		  size_t n)
{
	uint8_t *copy = n ? malloc(n) : NULL;

	if (n) {
		assert_non_null(copy);
		memcpy(copy, p, n);
	}
	memset(in, 0, sizeof(*in));
	in->transport = transport;
	in->client_port = 40000;
	in->server_port = server_port;
	in->data[0] = copy;
	in->len[0] = n;
	in->scratch = scratch;
	in->scratch_len = SCRATCH_LEN;
}

static enum dpix_answer probe(uint8_t transport, uint16_t port, const void *p, size_t n,
			      struct dpix_facts *f)
{
	struct dpix_input in;
	enum dpix_answer a;

	input(&in, transport, port, p, n);
	memset(f, 0, sizeof(*f));
	a = sip->probe(&in, f);
	free((void *)in.data[0]);
	return a;
}

static enum dpix_answer probe_str(uint8_t transport, const char *s, struct dpix_facts *f)
{
	return probe(transport, 5060, s, strlen(s), f);
}

/* What dissect_run() decides with every dissector in play. */
static enum dpix_answer run(uint16_t port, const void *p, size_t n, struct dpix_facts *f)
{
	uint32_t cand = dissect_candidates(DPIX_TCP);
	struct dpix_input in;
	enum dpix_answer a;

	input(&in, DPIX_TCP, port, p, n);
	memset(f, 0, sizeof(*f));
	a = dissect_run(&cand, &in, 1, f);
	free((void *)in.data[0]);
	return a;
}

static const char register_udp[] = "REGISTER sip:pbx.example.com SIP/2.0\r\n"
				   "Via: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bK776asdhds\r\n"
				   "To: <sip:1001@pbx.example.com>\r\n\r\n";

static void test_descriptor(void **state)
{
	(void)state;
	assert_ptr_equal(dissect_at(0), sip); /* before the built-ins */
	assert_string_equal(app_proto_name(sip->app), "sip");
	assert_int_equal(sip->transports, DPIX_TCP | DPIX_UDP);
}

static void test_register_udp(void **state)
{
	struct dpix_facts f;

	(void)state;
	assert_int_equal(probe_str(DPIX_UDP, register_udp, &f), DPIX_MATCH);
	assert_string_equal(f.app_host, "pbx.example.com");
	assert_int_equal(f.app_host_len, strlen("pbx.example.com"));
}

/* An INVITE over TCP, every cut of it: need more until the start line's
 * CRLF, then a match; through dissect_run the flow is "sip". */
static void test_invite_tcp_split(void **state)
{
	static const char invite[] = "INVITE sip:alice@pbx.example.com:5060;transport=tcp "
				     "SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.2\r\n\r\n";
	size_t line = strstr(invite, "\r\n") + 2 - invite;
	struct dpix_facts f;

	(void)state;
	for (size_t n = 1; n < sizeof(invite); n++) {
		enum dpix_answer a = probe(DPIX_TCP, 5060, invite, n, &f);

		if (a != (n < line ? DPIX_NEED_MORE : DPIX_MATCH))
			fail_msg("cut at %zu: answer %d", n, a);
	}
	assert_string_equal(f.app_host, "pbx.example.com");
	assert_int_equal(run(5060, invite, 20, &f), DPIX_NEED_MORE);
	assert_int_equal(run(5060, invite, sizeof(invite) - 1, &f), DPIX_MATCH);
	assert_string_equal(app_proto_name(f.app), "sip");
}

static void test_status_line(void **state)
{
	struct dpix_facts f;

	(void)state;
	assert_int_equal(probe_str(DPIX_UDP, "SIP/2.0 200 OK\r\n\r\n", &f), DPIX_MATCH);
	assert_int_equal(f.app_host_len, 0);
	assert_int_equal(probe_str(DPIX_TCP, "SIP/2.0 180 ", &f), DPIX_MATCH);
	assert_int_equal(probe_str(DPIX_TCP, "SIP/2.0 18", &f), DPIX_NEED_MORE);
	assert_int_equal(probe_str(DPIX_UDP, "SIP/2.0 18", &f), DPIX_NOT_MINE);
	assert_int_equal(probe_str(DPIX_UDP, "SIP/2.0 700 No\r\n", &f), DPIX_NOT_MINE);
	assert_int_equal(probe_str(DPIX_UDP, "SIP/2.0 2x0 No\r\n", &f), DPIX_NOT_MINE);
	assert_int_equal(probe_str(DPIX_UDP, "SIP/2.0 2000 OK\r\n", &f), DPIX_NOT_MINE);
	assert_int_equal(probe_str(DPIX_UDP, "SIP/3.0 200 OK\r\n", &f), DPIX_NOT_MINE);
}

static void test_truncated(void **state)
{
	struct dpix_input in;
	struct dpix_facts f;

	(void)state;
	assert_int_equal(probe_str(DPIX_TCP, "REGI", &f), DPIX_NEED_MORE);
	assert_int_equal(probe_str(DPIX_TCP, "REGISTER sip", &f), DPIX_NEED_MORE);
	assert_int_equal(probe_str(DPIX_TCP, "REGISTER sips:pbx SIP/2.0\r", &f), DPIX_NEED_MORE);
	/* A datagram is a whole message: cut short, it is not SIP. */
	assert_int_equal(probe_str(DPIX_UDP, "REGI", &f), DPIX_NOT_MINE);
	assert_int_equal(probe_str(DPIX_UDP, "REGISTER sip:pbx SIP/2.0", &f), DPIX_NOT_MINE);
	/* Nor is a stream that ends there. */
	input(&in, DPIX_TCP, 5060, "REGI", 4);
	in.closed[0] = true;
	assert_int_equal(sip->probe(&in, &f), DPIX_NOT_MINE);
	free((void *)in.data[0]);
	/* No bytes yet: the server may speak first. */
	assert_int_equal(probe(DPIX_TCP, 5060, NULL, 0, &f), DPIX_NEED_MORE);
}

static void test_garbage(void **state)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\n",
		"OPTIONS * HTTP/1.1\r\n",
		"INVITE http://pbx.example.com SIP/2.0\r\n",
		"INVITE sip:pbx.example.com HTTP/1.1\r\n",
		"INVITE sip: SIP/2.0\r\n",
		"INVITE sip:a b SIP/2.0\r\n",
		"INVITE sip:a\tb SIP/2.0\r\n",
		"invite sip:pbx.example.com SIP/2.0\r\n",
		"INVITES sip:pbx.example.com SIP/2.0\r\n",
		"INVITE  sip:pbx.example.com SIP/2.0\r\n",
		"INVITE sip:pbx.example.com SIP/2.0\n",
		"\x00\x01\x02",
		"SUBSCRIBEX",
	};
	struct dpix_facts f;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = i == 11 ? 3 : strlen(bad[i]);

		if (probe(DPIX_TCP, 5060, bad[i], n, &f) != DPIX_NOT_MINE)
			fail_msg("not refused over TCP: %s", bad[i]);
		if (probe(DPIX_UDP, 5060, bad[i], n, &f) != DPIX_NOT_MINE)
			fail_msg("not refused over UDP: %s", bad[i]);
	}
}

/* 64 KiB without an end: refused, not waited for. */
static void test_hostile_line(void **state)
{
	size_t n = 65536;
	char *p = malloc(n);
	struct dpix_facts f;

	(void)state;
	assert_non_null(p);
	memcpy(p, "INVITE sip:", 11);
	memset(p + 11, 'a', n - 11);
	assert_int_equal(probe(DPIX_TCP, 5060, p, n, &f), DPIX_NOT_MINE);
	assert_int_equal(probe(DPIX_TCP, 5060, p, 11 + 2048, &f), DPIX_NEED_MORE);
	assert_int_equal(probe(DPIX_TCP, 5060, p, 11 + 2049, &f), DPIX_NOT_MINE);
	memset(p, 'A', n);
	assert_int_equal(probe(DPIX_TCP, 5060, p, n, &f), DPIX_NOT_MINE);
	free(p);
}

static void test_uri_hosts(void **state)
{
	struct dpix_facts f;

	(void)state;
	assert_int_equal(probe_str(DPIX_UDP, "OPTIONS sips:[2001:db8::1]:5061 SIP/2.0\r\n", &f),
			 DPIX_MATCH);
	assert_string_equal(f.app_host, "2001:db8::1");
	assert_int_equal(probe_str(DPIX_UDP, "BYE SIP:bob@192.0.2.7;transport=udp SIP/2.0\r\n", &f),
			 DPIX_MATCH);
	assert_string_equal(f.app_host, "192.0.2.7");
	assert_int_equal(probe_str(DPIX_UDP, "ACK sip:u:pw@h.example?x=1 SIP/2.0\r\n", &f),
			 DPIX_MATCH);
	assert_string_equal(f.app_host, "h.example");
	/* A host that is no name is left out; the line is still SIP. */
	assert_int_equal(probe_str(DPIX_UDP, "ACK sip:bob@ SIP/2.0\r\n", &f), DPIX_MATCH);
	assert_int_equal(f.app_host_len, 0);
	assert_int_equal(probe_str(DPIX_UDP, "ACK sip:[2001:db8::1 SIP/2.0\r\n", &f), DPIX_MATCH);
	assert_int_equal(f.app_host_len, 0);
}

/* SIP over TLS: a ClientHello to 5061 is SIP, with the hello's facts. */
static void test_tls_5061(void **state)
{
	struct dpix_facts f;

	(void)state;
	assert_int_equal(probe(DPIX_TCP, 5061, hello, sizeof(hello), &f), DPIX_MATCH);
	assert_string_equal(f.sni, "web.openrainbow.com");
	/* Cut short: TLS once its record and handshake headers are in (the
	 * host's TLS parser), with the SNI to come; before that, need more. */
	assert_int_equal(probe(DPIX_TCP, 5061, hello, 40, &f), DPIX_MATCH_MORE);
	assert_int_equal(f.sni_len, 0);
	assert_int_equal(probe(DPIX_TCP, 5061, hello, 8, &f), DPIX_NEED_MORE);
	assert_int_equal(run(5061, hello, sizeof(hello), &f), DPIX_MATCH);
	assert_string_equal(app_proto_name(f.app), "sip");
	assert_string_equal(f.sni, "web.openrainbow.com");
	assert_true(f.ja4[0] != '\0');
}

/* ... and to 443 it is the TLS dissector's. */
static void test_tls_443(void **state)
{
	struct dpix_facts f;

	(void)state;
	assert_int_equal(probe(DPIX_TCP, 443, hello, sizeof(hello), &f), DPIX_NOT_MINE);
	assert_int_equal(run(443, hello, sizeof(hello), &f), DPIX_MATCH);
	assert_int_equal(f.app, APP_TLS);
	assert_string_equal(f.sni, "web.openrainbow.com");
	/* Over UDP a 0x16 byte is not SIP either (DTLS is not read here). */
	assert_int_equal(probe(DPIX_UDP, 5061, hello, sizeof(hello), &f), DPIX_NOT_MINE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptor),   cmocka_unit_test(test_register_udp),
		cmocka_unit_test(test_invite_tcp_split), cmocka_unit_test(test_status_line),
		cmocka_unit_test(test_truncated),    cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_hostile_line), cmocka_unit_test(test_uri_hosts),
		cmocka_unit_test(test_tls_5061),     cmocka_unit_test(test_tls_443),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
