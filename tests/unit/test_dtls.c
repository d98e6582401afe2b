/* test_dtls.c: the DTLS ClientHello dissector on real and hostile datagrams. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "dissect/dissect.h"

/* ndpi/dtls_old_version.pcapng frame 1 (peer corpus): OpenSSL's
 * pre-standard DTLS version 0x0100, no extensions. */
static const uint8_t hello_0100[] = {
	0x16, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x56, 0x01, 0x00, 0x00, 0x4a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x4a, 0x01, 0x00, 0x5e, 0xe9, 0xea, 0x22, 0x62, 0xf7, 0x9f, 0x37, 0x6b,
	0x50, 0x16, 0x7f, 0x06, 0x17, 0xd3, 0x42, 0x6e, 0x3a, 0x52, 0xf6, 0x3f,
	0x66, 0xb6, 0xaf, 0xe3, 0x4a, 0x07, 0x36, 0x86, 0x3d, 0xea, 0xa5, 0x20,
	0x03, 0xc2, 0x29, 0xbe, 0x15, 0xd6, 0x20, 0x51, 0x5e, 0xef, 0x0e, 0xca,
	0x0a, 0xaf, 0xdb, 0xc9, 0x38, 0xe0, 0x08, 0xfe, 0xe8, 0xf2, 0x1a, 0x81,
	0xa5, 0x72, 0x06, 0xfd, 0x37, 0x5b, 0x6b, 0xd8, 0x00, 0x00, 0x02, 0x00,
	0x35, 0x01, 0x00,
};

/* ndpi/dtls.pcap frame 1: record 1.0 (0xfeff), hello 1.2 (0xfefd), 12
 * cipher suites, extensions without server_name. */
static const uint8_t hello_12[] = {
	0x16, 0xfe, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x8e, 0x01, 0x00, 0x00, 0x82, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x82, 0xfe, 0xfd, 0xce, 0xb0, 0x6d, 0x2a, 0x04, 0xcb, 0x2a, 0x15, 0x17,
	0xc2, 0xe2, 0x66, 0xed, 0x6d, 0xb6, 0x93, 0x6e, 0x6e, 0x7a, 0x57, 0x72,
	0xaa, 0xcd, 0xd0, 0xe2, 0xdb, 0xd0, 0x68, 0xce, 0x26, 0x73, 0x7e, 0x00,
	0x00, 0x00, 0x18, 0xc0, 0x2b, 0xc0, 0x2f, 0xcc, 0xa9, 0xcc, 0xa8, 0xc0,
	0x09, 0xc0, 0x13, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x9c, 0x00, 0x2f, 0x00,
	0x35, 0x00, 0x0a, 0x01, 0x00, 0x00, 0x40, 0xff, 0x01, 0x00, 0x01, 0x00,
	0x00, 0x17, 0x00, 0x00, 0x00, 0x23, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x14,
	0x00, 0x12, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03, 0x08, 0x05,
	0x05, 0x01, 0x08, 0x06, 0x06, 0x01, 0x02, 0x01, 0x00, 0x0e, 0x00, 0x05,
	0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, 0x00,
	0x0a, 0x00, 0x08, 0x00, 0x06, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18,
};

static enum dpix_answer probe(const uint8_t *p, size_t n, int dir, struct dpix_facts *f)
{
	struct dpix_input in = { .transport = DPIX_UDP, .dir = (uint8_t)dir };

	in.data[dir] = p;
	in.len[dir] = n;
	memset(f, 0xa5, sizeof(*f));
	return dissect_dtls.probe(&in, f);
}

/* A whole DTLS 1.2 hello naming sni, built field by field. */
static size_t build(uint8_t *b, const char *sni, uint32_t frag_len_delta)
{
	size_t n = strlen(sni), ext = n ? 9 + n : 0;
	size_t body = 2 + 32 + 1 + 1 + 2 + 2 + 1 + 1 + 2 + ext, i = 0;
	uint32_t flen = (uint32_t)body - frag_len_delta;

	b[i++] = 22, b[i++] = 0xfe, b[i++] = 0xfd;           /* handshake, DTLS 1.2 */
	memset(b + i, 0, 8), i += 8;                          /* epoch, sequence */
	b[i++] = (uint8_t)((12 + flen) >> 8), b[i++] = (uint8_t)(12 + flen);
	b[i++] = 1;                                           /* ClientHello */
	b[i++] = 0, b[i++] = (uint8_t)(body >> 8), b[i++] = (uint8_t)body;
	b[i++] = 0, b[i++] = 0;                               /* message_seq */
	b[i++] = 0, b[i++] = 0, b[i++] = 0;                   /* fragment_offset */
	b[i++] = 0, b[i++] = (uint8_t)(flen >> 8), b[i++] = (uint8_t)flen;
	b[i++] = 0xfe, b[i++] = 0xfd;                         /* client_version */
	memset(b + i, 0x22, 32), i += 32;                     /* random */
	b[i++] = 0;                                           /* session_id */
	b[i++] = 0;                                           /* cookie */
	b[i++] = 0, b[i++] = 2, b[i++] = 0xc0, b[i++] = 0x2b; /* one suite */
	b[i++] = 1, b[i++] = 0;                               /* null compression */
	b[i++] = (uint8_t)(ext >> 8), b[i++] = (uint8_t)ext;  /* extensions */
	if (n) {
		b[i++] = 0, b[i++] = 0, b[i++] = 0, b[i++] = (uint8_t)(5 + n);
		b[i++] = 0, b[i++] = (uint8_t)(3 + n), b[i++] = 0, b[i++] = 0, b[i++] = (uint8_t)n;
		memcpy(b + i, sni, n), i += n;
	}
	return i - frag_len_delta;
}

static void test_real_hellos(void **state)
{
	(void)state;
	struct dpix_facts f;

	assert_int_equal(probe(hello_0100, sizeof(hello_0100), 0, &f), DPIX_MATCH);
	assert_int_equal(f.sni_len, 0);
	assert_int_equal(probe(hello_12, sizeof(hello_12), 0, &f), DPIX_MATCH);
	assert_int_equal(f.sni_len, 0);
}

static void test_sni(void **state)
{
	(void)state;
	uint8_t b[512];
	size_t n = build(b, "turn-rbx1.openrainbow.com", 0);
	struct dpix_facts f;

	assert_int_equal(probe(b, n, 0, &f), DPIX_MATCH);
	assert_int_equal(f.sni_len, 25);
	assert_string_equal(f.sni, "turn-rbx1.openrainbow.com");
}

static void test_first_fragment(void **state)
{
	(void)state;
	uint8_t b[512];
	/* Only the first 20 body bytes in this datagram: DTLS, no name. */
	size_t n = build(b, "a.example", 0);
	size_t body = n - 25;
	uint32_t cut = (uint32_t)body - 20;
	struct dpix_facts f;

	n = build(b, "a.example", cut);
	assert_int_equal(probe(b, n, 0, &f), DPIX_MATCH);
	assert_int_equal(f.sni_len, 0);
}

static void test_hostile(void **state)
{
	(void)state;
	uint8_t b[512];
	size_t n = build(b, "x.example", 0);
	struct dpix_facts f;

	/* Every truncation of the datagram: the record outruns it. */
	for (size_t k = 0; k < n; k++)
		assert_int_equal(probe(b, k, 0, &f), DPIX_NOT_MINE);
	/* The server's datagram is never read as a client hello: it is whole
	 * records, DTLS without a name. */
	assert_int_equal(probe(b, n, 1, &f), DPIX_MATCH);
	assert_int_equal(f.sni_len, 0);
	n = build(b, "x.example", 0);
	b[2] = 0x01; /* version 0xfe01 */
	assert_int_equal(probe(b, n, 0, &f), DPIX_NOT_MINE);
	n = build(b, "x.example", 0);
	b[15] = 0, b[16] = 0x10; /* hello length 16: its fragment is longer */
	assert_int_equal(probe(b, n, 0, &f), DPIX_NOT_MINE);
	n = build(b, "x.example", 0);
	b[21] = 1; /* fragment_offset 1: not a first fragment */
	assert_int_equal(probe(b, n, 0, &f), DPIX_NOT_MINE);
	n = build(b, "x.example", 0);
	b[n - 10] = 0xff; /* server_name list length past its extension */
	assert_int_equal(probe(b, n, 0, &f), DPIX_NOT_MINE);
	/* A TLS (TCP) hello's record header is not DTLS. */
	static const uint8_t tls[] = { 0x16, 0x03, 0x01, 0x00, 0x30, 0x01, 0x00, 0x00, 0x2c };
	assert_int_equal(probe(tls, sizeof(tls), 0, &f), DPIX_NOT_MINE);
	/* A STUN Binding request. */
	static const uint8_t stun[] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42,
		                        1,    2,    3,    4,    5,    6,    7,    8,
		                        9,    10,   11,   12 };
	assert_int_equal(probe(stun, sizeof(stun), 0, &f), DPIX_NOT_MINE);
	assert_int_equal(probe(b, 0, 0, &f), DPIX_NOT_MINE);
}

/* Records without a client hello: a session picked up late, a server's
 * flight seen alone. Whole records filling the datagram, or not mine. */
static void test_records(void **state)
{
	(void)state;
	/* Application data, epoch 1, 8 bytes; then an alert, 2 bytes. */
	static const uint8_t rec[] = {
		23, 0xfe, 0xfd, 0x00, 0x01, 0, 0, 0, 0, 0, 0x05, 0x00, 0x08,
		1,  2,    3,    4,    5,    6, 7, 8,
		21, 0xfe, 0xfd, 0x00, 0x01, 0, 0, 0, 0, 0, 0x06, 0x00, 0x02,
		9,  10,
	};
	uint8_t b[sizeof(rec)];
	struct dpix_facts f;

	assert_int_equal(probe(rec, sizeof(rec), 0, &f), DPIX_MATCH);
	assert_int_equal(f.sni_len, 0);
	assert_int_equal(probe(rec, sizeof(rec), 1, &f), DPIX_MATCH);
	assert_int_equal(probe(rec, 21, 1, &f), DPIX_MATCH); /* the first alone */
	/* Every other cut leaves a record short: not mine. */
	for (size_t k = 0; k < sizeof(rec); k++)
		if (k != 21)
			assert_int_equal(probe(rec, k, 1, &f), DPIX_NOT_MINE);
	memcpy(b, rec, sizeof(b));
	b[21] = 24; /* second record type 24 */
	assert_int_equal(probe(b, sizeof(b), 1, &f), DPIX_NOT_MINE);
	b[21] = 19;
	assert_int_equal(probe(b, sizeof(b), 1, &f), DPIX_NOT_MINE);
	memcpy(b, rec, sizeof(b));
	b[23] = 0x03; /* version 0xfe03 */
	assert_int_equal(probe(b, sizeof(b), 1, &f), DPIX_NOT_MINE);
	memcpy(b, rec, sizeof(b));
	b[12] = 0x09; /* first record one byte longer: the second is cut */
	assert_int_equal(probe(b, sizeof(b), 1, &f), DPIX_NOT_MINE);
	memcpy(b, rec, sizeof(b));
	b[1] = 0x03, b[2] = 0x03; /* a TLS 1.2 record header is not DTLS */
	assert_int_equal(probe(b, sizeof(b), 1, &f), DPIX_NOT_MINE);
	/* An empty record is not mine. */
	static const uint8_t empty[] = { 23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0 };
	assert_int_equal(probe(empty, sizeof(empty), 1, &f), DPIX_NOT_MINE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_hellos),
		cmocka_unit_test(test_sni),
		cmocka_unit_test(test_first_fragment),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_records),
	};

	return cmocka_run_group_tests_name("dtls", tests, NULL, NULL);
}
