/*
 * test_stun.c: the STUN/TURN dissector (dissect_stun.probe).
 *
 * Messages are written out byte by byte with a comment per field; the
 * FINGERPRINT values were computed with python3:
 *   zlib.crc32(message up to the FINGERPRINT attribute) ^ 0x5354554e
 * Every probe gets its bytes copied into a buffer of exactly their size, so
 * that AddressSanitizer sees any read past them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dissect/dissect.h"

extern const struct dissector dissect_stun;

#define SCRATCH_LEN 4096

/* --- probing ------------------------------------------------------------ */

static enum dpix_answer probe_in(struct dpix_input *in, const uint8_t *p, size_t n,
				    struct dpix_facts *f)
{
	static uint8_t scratch[SCRATCH_LEN];
	uint8_t *copy = malloc(n ? n : 1);
	enum dpix_answer a;

	assert_non_null(copy);
	if (n)
		memcpy(copy, p, n);
	in->data[in->dir] = n ? copy : NULL;
	in->len[in->dir] = n;
	in->scratch = scratch;
	in->scratch_len = sizeof(scratch);
	memset(f, 0, sizeof(*f));
	a = dissect_stun.probe(in, f);
	free(copy);
	return a;
}

static enum dpix_answer probe_udp_ports(const uint8_t *p, size_t n, uint16_t cport,
					   uint16_t sport, struct dpix_facts *f)
{
	struct dpix_input in = { .transport = DPIX_UDP,
				    .client_port = cport,
				    .server_port = sport };

	return probe_in(&in, p, n, f);
}

/* UDP without a port hint. */
static enum dpix_answer probe_udp(const uint8_t *p, size_t n, struct dpix_facts *f)
{
	return probe_udp_ports(p, n, 50000, 40000, f);
}

static enum dpix_answer probe_tcp(const uint8_t *p, size_t n, struct dpix_facts *f)
{
	struct dpix_input in = { .transport = DPIX_TCP,
				    .client_port = 50000,
				    .server_port = 40000 };

	return probe_in(&in, p, n, f);
}

/* --- messages ------------------------------------------------------------ */

/* A Binding request with SOFTWARE and a FINGERPRINT. */
static const uint8_t binding[] = {
	0x00, 0x01,		/* type: Binding request */
	0x00, 0x10,		/* length: 16 (two 8-byte attributes) */
	0x21, 0x12, 0xa4, 0x42, /* magic cookie */
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, /* transaction id */
	0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22,		/* SOFTWARE */
	0x00, 0x04,		/* length 4 */
	'd', 'p', 'i', 'x',	/* value */
	0x80, 0x28,		/* FINGERPRINT */
	0x00, 0x04,		/* length 4 */
	0x35, 0x2f, 0x3c, 0x26, /* crc32(bytes 0..27) ^ 0x5354554e */
};

/* The same with FINGERPRINT first (correct for that place), then SOFTWARE. */
static const uint8_t fp_not_last[] = {
	0x00, 0x01,		/* type: Binding request */
	0x00, 0x10,		/* length: 16 */
	0x21, 0x12, 0xa4, 0x42, /* magic cookie */
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, /* transaction id */
	0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x28,		/* FINGERPRINT */
	0x00, 0x04,		/* length 4 */
	0x0c, 0xb7, 0x78, 0xe1, /* crc32(bytes 0..19) ^ 0x5354554e */
	0x80, 0x22,		/* SOFTWARE */
	0x00, 0x04,		/* length 4 */
	'd', 'p', 'i', 'x',	/* value */
};

/* A TURN Allocate request (RFC 8656 7.1). */
static const uint8_t allocate[] = {
	0x00, 0x03,		/* type: Allocate request */
	0x00, 0x10,		/* length: 16 */
	0x21, 0x12, 0xa4, 0x42, /* magic cookie */
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* transaction id */
	0x09, 0x0a, 0x0b, 0x0c,
	0x00, 0x19,		/* REQUESTED-TRANSPORT */
	0x00, 0x04,		/* length 4 */
	0x11, 0x00, 0x00, 0x00, /* protocol 17 (UDP), RFFU */
	0x00, 0x0d,		/* LIFETIME */
	0x00, 0x04,		/* length 4 */
	0x00, 0x00, 0x02, 0x58, /* 600 seconds */
};

/* A TURN ChannelBind request (RFC 8656 11.1). */
static const uint8_t channel_bind[] = {
	0x00, 0x09,		/* type: ChannelBind request */
	0x00, 0x14,		/* length: 20 */
	0x21, 0x12, 0xa4, 0x42, /* magic cookie */
	0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, /* transaction id */
	0x19, 0x1a, 0x1b, 0x1c,
	0x00, 0x0c,		/* CHANNEL-NUMBER */
	0x00, 0x04,		/* length 4 */
	0x40, 0x00, 0x00, 0x00, /* channel 0x4000, RFFU */
	0x00, 0x12,		/* XOR-PEER-ADDRESS */
	0x00, 0x08,		/* length 8 */
	0x00, 0x01,		/* reserved, family IPv4 */
	0x21, 0x13,		/* port 1 ^ 0x2112 */
	0xe1, 0xba, 0xa5, 0x43, /* 192.168.1.1 ^ cookie */
};

/* ChannelData on channel 0x4001 with 5 bytes of data and 3 of padding. */
static const uint8_t channel_data[] = {
	0x40, 0x01,		      /* channel number */
	0x00, 0x05,		      /* length 5 */
	'h', 'e', 'l', 'l', 'o',      /* data */
	0x00, 0x00, 0x00,	      /* padding to 4 */
};

/* Classic STUN (RFC 3489) Binding request: no cookie, 16-byte transaction id. */
static const uint8_t classic[] = {
	0x00, 0x01,		/* type: Binding request */
	0x00, 0x08,		/* length: 8 */
	0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, /* transaction id */
	0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0,
	0x00, 0x03,		/* CHANGE-REQUEST */
	0x00, 0x04,		/* length 4 */
	0x00, 0x00, 0x00, 0x06, /* change IP and port */
};

/*
 * Real payloads: /work/shared/peer-pcaps/ndpi/stun.pcap, TCP port 41588 ->
 * 42000, RFC 4571 framed (a 2-byte length before each message). Frames 3
 * and 4 are the client's first two segments (ICE Binding requests with
 * USERNAME, PRIORITY, ICE-CONTROLLED, MS-* attributes, MESSAGE-INTEGRITY,
 * FINGERPRINT); frame 7 is a Binding request the other way.
 */
static const uint8_t pcap_frame3[] = {
	0x00, 0x68, 0x00, 0x01, 0x00, 0x54, 0x21, 0x12, 0xa4, 0x42, 0xf3, 0x43, 0x94, 0x53,
	0xb6, 0x98, 0xfb, 0x29, 0x50, 0xbb, 0x06, 0xed, 0x00, 0x06, 0x00, 0x09, 0x2f, 0x70,
	0x49, 0x30, 0x3a, 0x54, 0x6f, 0x45, 0x64, 0x00, 0x00, 0x00, 0x00, 0x24, 0x00, 0x04,
	0x6e, 0x6b, 0xfc, 0xff, 0x80, 0x29, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04,
	0xc2, 0xd1, 0x80, 0x54, 0x00, 0x01, 0x32, 0x00, 0x00, 0x00, 0x80, 0x70, 0x00, 0x04,
	0x00, 0x00, 0x00, 0x03, 0x00, 0x08, 0x00, 0x14, 0xfe, 0x92, 0x87, 0x6a, 0xd4, 0x6d,
	0x7b, 0x79, 0x7d, 0x42, 0xeb, 0x8d, 0x79, 0xa8, 0x05, 0xfa, 0xf3, 0x1d, 0x72, 0xd1,
	0x80, 0x28, 0x00, 0x04, 0x02, 0x00, 0xfc, 0x47,
};

static const uint8_t pcap_frame4[] = {
	0x00, 0x68, 0x00, 0x01, 0x00, 0x54, 0x21, 0x12, 0xa4, 0x42, 0xf3, 0x43, 0x94, 0x53,
	0xb6, 0x98, 0xfb, 0x29, 0x50, 0xbb, 0x06, 0xed, 0x00, 0x06, 0x00, 0x0c, 0x2f, 0x70,
	0x49, 0x30, 0x3a, 0x54, 0x6f, 0x45, 0x64, 0x00, 0x00, 0x00, 0x00, 0x24, 0x00, 0x04,
	0x6e, 0x6b, 0xfc, 0xff, 0x80, 0x29, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04,
	0xc2, 0xd1, 0x80, 0x54, 0x00, 0x04, 0x32, 0x00, 0x00, 0x00, 0x80, 0x70, 0x00, 0x04,
	0x00, 0x00, 0x00, 0x03, 0x00, 0x08, 0x00, 0x14, 0x4d, 0xc2, 0xb9, 0x3f, 0xa6, 0x49,
	0x09, 0xed, 0xfd, 0x70, 0x9b, 0x13, 0x28, 0x5e, 0x36, 0x0d, 0xda, 0x13, 0x81, 0x40,
	0x80, 0x28, 0x00, 0x04, 0x2e, 0x75, 0x51, 0xc7,
};

static const uint8_t pcap_frame7[] = {
	0x00, 0x70, 0x00, 0x01, 0x00, 0x5c, 0x21, 0x12, 0xa4, 0x42, 0xdd, 0x09, 0xbf, 0x5c,
	0xf7, 0xbb, 0xe4, 0x7c, 0x27, 0xbe, 0x63, 0xab, 0x00, 0x06, 0x00, 0x09, 0x54, 0x6f,
	0x45, 0x64, 0x3a, 0x2f, 0x70, 0x49, 0x30, 0x00, 0x00, 0x00, 0x80, 0x37, 0x00, 0x04,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x65, 0xfe, 0xff, 0x80, 0x2a,
	0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x51, 0x13, 0x80, 0x54, 0x00, 0x01,
	0x31, 0x00, 0x00, 0x00, 0x80, 0x70, 0x00, 0x04, 0x00, 0x00, 0x00, 0x03, 0x00, 0x08,
	0x00, 0x14, 0x24, 0xbd, 0x08, 0xb5, 0xb5, 0x5b, 0x61, 0xd3, 0x9b, 0x8e, 0x89, 0x7c,
	0x03, 0xed, 0x5c, 0x62, 0xce, 0xba, 0x65, 0xa1, 0x80, 0x28, 0x00, 0x04, 0x09, 0x35,
	0x57, 0x96,
};

/* Not STUN. */
static const uint8_t tls_hello[] = {
	0x16, 0x03, 0x01, 0x00, 0x2f, /* record: handshake, TLS 1.0, 47 */
	0x01, 0x00, 0x00, 0x2b,	      /* ClientHello, 43 */
	0x03, 0x03,		      /* TLS 1.2 */
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
	0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b,
	0x1c, 0x1d, 0x1e, 0x1f, /* random */
	0x00,			/* session id: empty */
	0x00, 0x02, 0x13, 0x01, /* cipher suites: TLS_AES_128_GCM_SHA256 */
	0x01, 0x00,		/* compression: null */
};

static const char http_get[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";

static const uint8_t dns_query[] = {
	0x12, 0x34, /* id */
	0x01, 0x00, /* flags: RD */
	0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 1 question */
	0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'c', 'o', 'm', 0x00, /* name */
	0x00, 0x01, 0x00, 0x01, /* A, IN */
};

/* --- helpers --------------------------------------------------------------- */

struct buf {
	uint8_t b[512];
	size_t n;
};

static void cat(struct buf *b, const uint8_t *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->b));
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

/* An RFC 4571 frame around a message. */
static void cat_framed(struct buf *b, const uint8_t *p, size_t n)
{
	const uint8_t len[2] = { (uint8_t)(n >> 8), (uint8_t)n };

	cat(b, len, 2);
	cat(b, p, n);
}

/* --- tests ------------------------------------------------------------------- */

static void test_binding_udp(void **state)
{
	struct dpix_facts f;

	(void)state;
	assert_int_equal(probe_udp(binding, sizeof(binding), &f), DPIX_MATCH_MORE);
	assert_int_equal(f.stun_method, 0x001);
	assert_false(f.flags & FACT_TURN);
}

static void test_binding_tcp(void **state)
{
	struct dpix_facts f;

	(void)state;
	assert_int_equal(probe_tcp(binding, sizeof(binding), &f), DPIX_MATCH);
	assert_int_equal(f.stun_method, 0x001);
	assert_false(f.flags & FACT_TURN);
}

static void test_bad_fingerprint(void **state)
{
	struct dpix_facts f;
	uint8_t m[sizeof(binding)];

	(void)state;
	memcpy(m, binding, sizeof(m));
	m[sizeof(m) - 1] ^= 0x01;
	assert_int_equal(probe_udp(m, sizeof(m), &f), DPIX_NOT_MINE);
	assert_int_equal(probe_tcp(m, sizeof(m), &f), DPIX_NOT_MINE);
	/* A change in the covered bytes breaks it as well. */
	memcpy(m, binding, sizeof(m));
	m[24] = 'X';
	assert_int_equal(probe_udp(m, sizeof(m), &f), DPIX_NOT_MINE);
}

static void test_fingerprint_not_last(void **state)
{
	struct dpix_facts f;

	(void)state;
	assert_int_equal(probe_udp(fp_not_last, sizeof(fp_not_last), &f), DPIX_NOT_MINE);
	assert_int_equal(probe_tcp(fp_not_last, sizeof(fp_not_last), &f), DPIX_NOT_MINE);
}

static void test_fingerprint_wrong_length(void **state)
{
	struct dpix_facts f;
	uint8_t m[sizeof(binding)];

	(void)state;
	memcpy(m, binding, sizeof(m));
	m[31] = 0x03; /* FINGERPRINT length 3 (the padding then fills to 4) */
	assert_int_equal(probe_udp(m, sizeof(m), &f), DPIX_NOT_MINE);
}

static void test_allocate(void **state)
{
	struct dpix_facts f;

	(void)state;
	assert_int_equal(probe_udp(allocate, sizeof(allocate), &f), DPIX_MATCH_MORE);
	assert_int_equal(f.stun_method, 0x003);
	assert_true(f.flags & FACT_TURN);
	assert_int_equal(probe_tcp(allocate, sizeof(allocate), &f), DPIX_MATCH);
	assert_int_equal(f.stun_method, 0x003);
	assert_true(f.flags & FACT_TURN);
}

static void test_channel_bind(void **state)
{
	struct dpix_facts f;

	(void)state;
	assert_int_equal(probe_udp(channel_bind, sizeof(channel_bind), &f), DPIX_MATCH_MORE);
	assert_int_equal(f.stun_method, 0x009);
	assert_true(f.flags & FACT_TURN);
}

static void test_method_bits(void **state)
{
	struct dpix_facts f;
	uint8_t m[sizeof(allocate)];

	(void)state;
	/* Allocate success response 0x0103: class bits are not method bits. */
	memcpy(m, allocate, sizeof(m));
	m[0] = 0x01;
	assert_int_equal(probe_udp(m, sizeof(m), &f), DPIX_MATCH_MORE);
	assert_int_equal(f.stun_method, 0x003);
	/* Send indication 0x0016. */
	m[0] = 0x00;
	m[1] = 0x16;
	assert_int_equal(probe_udp(m, sizeof(m), &f), DPIX_MATCH_MORE);
	assert_int_equal(f.stun_method, 0x006);
	assert_true(f.flags & FACT_TURN);
	/* Any other method is STUN too (GOOG-PING, WhatsApp's), not TURN. */
	m[1] = 0x05;
	assert_int_equal(probe_udp(m, sizeof(m), &f), DPIX_MATCH_MORE);
	assert_int_equal(f.stun_method, 0x005);
	assert_false(f.flags & FACT_TURN);
	m[0] = 0x08;
	m[1] = 0x01; /* WhatsApp's 0x0801: method 0x201, class response */
	assert_int_equal(probe_tcp(m, sizeof(m), &f), DPIX_MATCH);
	assert_int_equal(f.stun_method, 0x201);
	assert_false(f.flags & FACT_TURN);
	/* Top bits of the type set. */
	m[0] = 0x80;
	m[1] = 0x01;
	assert_int_equal(probe_udp(m, sizeof(m), &f), DPIX_NOT_MINE);
	assert_int_equal(probe_tcp(m, sizeof(m), &f), DPIX_NOT_MINE);
}

static void test_length_not_multiple_of_4(void **state)
{
	struct dpix_facts f;
	struct buf b = { .n = 0 };
	const uint8_t one = 0;

	(void)state;
	cat(&b, allocate, sizeof(allocate));
	cat(&b, &one, 1);
	b.b[3] = 0x11; /* 17: covers the extra byte */
	assert_int_equal(probe_udp(b.b, b.n, &f), DPIX_NOT_MINE);
	assert_int_equal(probe_tcp(b.b, b.n, &f), DPIX_NOT_MINE);
	/* Decided as soon as the length is there. */
	assert_int_equal(probe_tcp(b.b, 4, &f), DPIX_NOT_MINE);
}

/* MS-TURN (Teams) pads no attribute: a 10-byte value, the next at once. */
static const uint8_t ms_turn[] = {
	0x00, 0x03,		/* type: Allocate request */
	0x00, 0x16,		/* length: 22 */
	0x21, 0x12, 0xa4, 0x42, /* magic cookie */
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* transaction id */
	0x09, 0x0a, 0x0b, 0x0c,
	0x00, 0x15,		/* REALM (MS-TURN) */
	0x00, 0x0a,		/* length 10, no padding follows */
	'"', 'r', 't', 'c', 'm', 'e', 'd', 'i', 'a', '"',
	0x00, 0x0f,		/* MS magic cookie attribute */
	0x00, 0x04,		/* length 4 */
	0x72, 0xc6, 0x4b, 0xc6,
};

/* WhatsApp pads all but the last attribute: length 14. */
static const uint8_t last_unpadded[] = {
	0x00, 0x03,		/* type: Allocate request */
	0x00, 0x0e,		/* length: 14 */
	0x21, 0x12, 0xa4, 0x42, /* magic cookie */
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* transaction id */
	0x09, 0x0a, 0x0b, 0x0c,
	0x00, 0x0d,		/* LIFETIME */
	0x00, 0x04,		/* length 4 */
	0x00, 0x00, 0x02, 0x58,
	0x40, 0x00,		/* WhatsApp's attribute */
	0x00, 0x02,		/* length 2, unpadded */
	0x01, 0x00,
};

static void test_unpadded_attributes(void **state)
{
	struct dpix_facts f;
	uint8_t m[sizeof(ms_turn)];

	(void)state;
	assert_int_equal(probe_udp(ms_turn, sizeof(ms_turn), &f), DPIX_MATCH_MORE);
	assert_int_equal(f.stun_method, 0x003);
	assert_true(f.flags & FACT_TURN);
	assert_int_equal(probe_udp(last_unpadded, sizeof(last_unpadded), &f), DPIX_MATCH_MORE);
	/* On TCP the length must be a multiple of 4: it frames the stream. */
	assert_int_equal(probe_tcp(ms_turn, sizeof(ms_turn), &f), DPIX_NOT_MINE);
	assert_int_equal(probe_tcp(last_unpadded, sizeof(last_unpadded), &f), DPIX_NOT_MINE);
	/* Neither walk ends at the message's end: one byte too long. */
	memcpy(m, ms_turn, sizeof(m));
	m[23] = 0x0b;
	assert_int_equal(probe_udp(m, sizeof(m), &f), DPIX_NOT_MINE);
	/* A datagram shorter than the length still is not mine. */
	assert_int_equal(probe_udp(ms_turn, sizeof(ms_turn) - 1, &f), DPIX_NOT_MINE);
}

static void test_length_vs_datagram(void **state)
{
	struct dpix_facts f;
	struct buf b = { .n = 0 };
	const uint8_t zeros[4] = { 0 };

	(void)state;
	/* Four bytes more than the length says. */
	cat(&b, allocate, sizeof(allocate));
	cat(&b, zeros, sizeof(zeros));
	assert_int_equal(probe_udp(b.b, b.n, &f), DPIX_NOT_MINE);
	/* Four bytes fewer. */
	assert_int_equal(probe_udp(allocate, sizeof(allocate) - 4, &f), DPIX_NOT_MINE);
	/* A datagram too short for a header does not grow: not mine. */
	assert_int_equal(probe_udp(binding, 6, &f), DPIX_NOT_MINE);
	/* A header alone that claims attributes. */
	assert_int_equal(probe_udp(allocate, 20, &f), DPIX_NOT_MINE);
	/* Even with a port hint (no classic reading of a cookie message). */
	assert_int_equal(probe_udp_ports(b.b, b.n, 50000, 3478, &f), DPIX_NOT_MINE);
}

static void test_attribute_past_message(void **state)
{
	struct dpix_facts f;
	uint8_t m[sizeof(allocate)];

	(void)state;
	memcpy(m, allocate, sizeof(m));
	m[31] = 0x08; /* LIFETIME length 8, only 4 left */
	assert_int_equal(probe_udp(m, sizeof(m), &f), DPIX_NOT_MINE);
	assert_int_equal(probe_tcp(m, sizeof(m), &f), DPIX_NOT_MINE);
	/* Padding running past: length 5 needs 8 bytes, 4 are there. */
	memcpy(m, allocate, sizeof(m));
	m[31] = 0x05;
	assert_int_equal(probe_udp(m, sizeof(m), &f), DPIX_NOT_MINE);
	/* The message ends after LIFETIME's header, before its value. */
	memcpy(m, allocate, sizeof(m));
	m[3] = 0x0c; /* message length 12 */
	assert_int_equal(probe_udp(m, 32, &f), DPIX_NOT_MINE);
}

static void test_wrong_cookie(void **state)
{
	struct dpix_facts f;
	uint8_t m[sizeof(binding)];

	(void)state;
	memcpy(m, binding, sizeof(m));
	m[7] = 0x43;
	assert_int_equal(probe_udp(m, sizeof(m), &f), DPIX_NOT_MINE);
	assert_int_equal(probe_tcp(m, sizeof(m), &f), DPIX_NOT_MINE);
	/* On TCP the cookie decides as soon as its 8 bytes are there. */
	assert_int_equal(probe_tcp(m, 8, &f), DPIX_NOT_MINE);
	m[7] = 0x42;
	m[4] = 0x00;
	assert_int_equal(probe_tcp(m, 5, &f), DPIX_NOT_MINE);
}

static void test_tcp_every_prefix(void **state)
{
	struct dpix_facts f;
	struct buf framed = { .n = 0 };

	(void)state;
	for (size_t n = 0; n < sizeof(binding); n++)
		assert_int_equal(probe_tcp(binding, n, &f), DPIX_NEED_MORE);
	assert_int_equal(probe_tcp(binding, sizeof(binding), &f), DPIX_MATCH);
	for (size_t n = 0; n < sizeof(allocate); n++)
		assert_int_equal(probe_tcp(allocate, n, &f), DPIX_NEED_MORE);
	cat_framed(&framed, allocate, sizeof(allocate));
	for (size_t n = 0; n < framed.n; n++)
		assert_int_equal(probe_tcp(framed.b, n, &f), DPIX_NEED_MORE);
	assert_int_equal(probe_tcp(framed.b, framed.n, &f), DPIX_MATCH);
}

static void test_tcp_two_messages(void **state)
{
	struct dpix_facts f;
	struct buf b = { .n = 0 };

	(void)state;
	cat(&b, binding, sizeof(binding));
	cat(&b, allocate, sizeof(allocate));
	assert_int_equal(probe_tcp(b.b, b.n, &f), DPIX_MATCH);
	assert_int_equal(f.stun_method, 0x001); /* the first message's */
	assert_true(f.flags & FACT_TURN);	/* the second is TURN */
	/* The second cut anywhere still matches on the first. */
	for (size_t n = sizeof(binding); n < b.n; n++)
		assert_int_equal(probe_tcp(b.b, n, &f), DPIX_MATCH);
	/* A broken second message spoils it. */
	b.b[sizeof(binding) + 7] ^= 0xff; /* its cookie */
	assert_int_equal(probe_tcp(b.b, b.n, &f), DPIX_NOT_MINE);
}

static void test_tcp_then_channel_data(void **state)
{
	struct dpix_facts f;
	struct buf b = { .n = 0 };

	(void)state;
	cat(&b, channel_bind, sizeof(channel_bind));
	cat(&b, channel_data, sizeof(channel_data));
	cat(&b, binding, sizeof(binding));
	assert_int_equal(probe_tcp(b.b, b.n, &f), DPIX_MATCH);
	assert_int_equal(f.stun_method, 0x009);
	/* A channel number out of range after it. */
	b.b[sizeof(channel_bind)] = 0x50;
	assert_int_equal(probe_tcp(b.b, b.n, &f), DPIX_NOT_MINE);
}

static void test_tcp_split(void **state)
{
	struct dpix_facts f;
	struct buf stream = { .n = 0 };
	const size_t first_seg = 13;

	(void)state;
	/* The stream as reassembled: after the first segment, then both. */
	cat(&stream, allocate, first_seg);
	assert_int_equal(probe_tcp(stream.b, stream.n, &f), DPIX_NEED_MORE);
	cat(&stream, allocate + first_seg, sizeof(allocate) - first_seg);
	assert_int_equal(probe_tcp(stream.b, stream.n, &f), DPIX_MATCH);
	assert_int_equal(f.stun_method, 0x003);
	assert_true(f.flags & FACT_TURN);
}

static void test_tcp_rfc4571(void **state)
{
	struct dpix_facts f;
	struct buf b = { .n = 0 };

	(void)state;
	cat_framed(&b, binding, sizeof(binding));
	assert_int_equal(probe_tcp(b.b, b.n, &f), DPIX_MATCH);
	assert_int_equal(f.stun_method, 0x001);
	cat_framed(&b, allocate, sizeof(allocate));
	assert_int_equal(probe_tcp(b.b, b.n, &f), DPIX_MATCH);
	assert_true(f.flags & FACT_TURN);
	/* A frame length that disagrees with the message. */
	b.n = 0;
	cat_framed(&b, binding, sizeof(binding));
	b.b[1] += 4;
	assert_int_equal(probe_tcp(b.b, b.n, &f), DPIX_NOT_MINE);
	/* A second frame that is not STUN. */
	b.n = 0;
	cat_framed(&b, binding, sizeof(binding));
	cat_framed(&b, (const uint8_t *)http_get, 20);
	assert_int_equal(probe_tcp(b.b, b.n, &f), DPIX_NOT_MINE);
}

static void test_channel_data_udp(void **state)
{
	struct dpix_facts f;

	(void)state;
	assert_int_equal(probe_udp_ports(channel_data, sizeof(channel_data), 50000, 3478, &f),
			 DPIX_MATCH_MORE);
	assert_true(f.flags & FACT_TURN);
	/* Without the padding, and the hint on the client side. */
	assert_int_equal(probe_udp_ports(channel_data, 9, 19302, 50000, &f), DPIX_MATCH_MORE);
	assert_true(f.flags & FACT_TURN);
	/* Shorter than its length. */
	assert_int_equal(probe_udp_ports(channel_data, 8, 50000, 3478, &f), DPIX_NOT_MINE);
}

static void test_channel_data_bad(void **state)
{
	struct dpix_facts f;
	struct buf b = { .n = 0 };
	const uint8_t pad[4] = { 0 };
	uint8_t m[sizeof(channel_data)];

	(void)state;
	/* No port hint. */
	assert_int_equal(probe_udp(channel_data, sizeof(channel_data), &f), DPIX_NOT_MINE);
	/* Over TCP, alone. */
	assert_int_equal(probe_tcp(channel_data, sizeof(channel_data), &f), DPIX_NOT_MINE);
	/* More than 3 bytes of padding. */
	cat(&b, channel_data, sizeof(channel_data));
	cat(&b, pad, sizeof(pad));
	assert_int_equal(probe_udp_ports(b.b, b.n, 50000, 3478, &f), DPIX_NOT_MINE);
	/* Channel 0x5001 is out of range. */
	memcpy(m, channel_data, sizeof(m));
	m[0] = 0x50;
	assert_int_equal(probe_udp_ports(m, sizeof(m), 50000, 3478, &f), DPIX_NOT_MINE);
}

static void test_classic(void **state)
{
	struct dpix_facts f;
	uint8_t m[sizeof(classic)];

	(void)state;
	assert_int_equal(probe_udp_ports(classic, sizeof(classic), 50000, 3478, &f),
			 DPIX_MATCH_MORE);
	assert_int_equal(f.stun_method, 0x001);
	assert_int_equal(probe_udp_ports(classic, sizeof(classic), 3479, 50000, &f),
			 DPIX_MATCH_MORE);
	/* No hint, or only a TURN one. */
	assert_int_equal(probe_udp(classic, sizeof(classic), &f), DPIX_NOT_MINE);
	assert_int_equal(probe_udp_ports(classic, sizeof(classic), 50000, 19302, &f),
			 DPIX_NOT_MINE);
	/* Not on TCP. */
	assert_int_equal(probe_tcp(classic, sizeof(classic), &f), DPIX_NOT_MINE);
	/* Length not the datagram's. */
	assert_int_equal(probe_udp_ports(classic, sizeof(classic) - 4, 50000, 3478, &f),
			 DPIX_NOT_MINE);
	/* Not a classic type. */
	memcpy(m, classic, sizeof(m));
	m[1] = 0x03;
	assert_int_equal(probe_udp_ports(m, sizeof(m), 50000, 3478, &f), DPIX_NOT_MINE);
}

static void test_empty(void **state)
{
	struct dpix_facts f;

	(void)state;
	assert_int_equal(probe_udp(NULL, 0, &f), DPIX_NEED_MORE);
	assert_int_equal(probe_tcp(NULL, 0, &f), DPIX_NEED_MORE);
}

static void test_not_stun(void **state)
{
	struct dpix_facts f;

	(void)state;
	assert_int_equal(probe_tcp(tls_hello, sizeof(tls_hello), &f), DPIX_NOT_MINE);
	assert_int_equal(probe_tcp((const uint8_t *)http_get, strlen(http_get), &f),
			 DPIX_NOT_MINE);
	assert_int_equal(probe_tcp((const uint8_t *)http_get, 1, &f), DPIX_NOT_MINE);
	assert_int_equal(probe_udp(dns_query, sizeof(dns_query), &f), DPIX_NOT_MINE);
	assert_int_equal(probe_udp_ports(dns_query, sizeof(dns_query), 50000, 3478, &f),
			 DPIX_NOT_MINE);
	assert_int_equal(probe_tcp(dns_query, sizeof(dns_query), &f), DPIX_NOT_MINE);
}

static void test_pcap_payloads(void **state)
{
	struct dpix_facts f;
	struct buf b = { .n = 0 };

	(void)state;
	assert_int_equal(probe_tcp(pcap_frame3, sizeof(pcap_frame3), &f), DPIX_MATCH);
	assert_int_equal(f.stun_method, 0x001);
	assert_false(f.flags & FACT_TURN);
	assert_int_equal(probe_tcp(pcap_frame7, sizeof(pcap_frame7), &f), DPIX_MATCH);
	cat(&b, pcap_frame3, sizeof(pcap_frame3));
	cat(&b, pcap_frame4, sizeof(pcap_frame4));
	assert_int_equal(probe_tcp(b.b, b.n, &f), DPIX_MATCH);
	/* Unframed, the message inside is a valid UDP datagram. */
	assert_int_equal(probe_udp(pcap_frame3 + 2, sizeof(pcap_frame3) - 2, &f),
			 DPIX_MATCH_MORE);
	/* Their real FINGERPRINTs check out: spoil one and it fails. */
	b.n = 0;
	cat(&b, pcap_frame3, sizeof(pcap_frame3));
	b.b[b.n - 1] ^= 0x80;
	assert_int_equal(probe_tcp(b.b, b.n, &f), DPIX_NOT_MINE);
}

/* --- what follows STUN on a UDP flow (through dissect_run) ------------- */

/* A DTLS 1.2 ClientHello naming sni (RFC 6347 4.2.2), at most 64 bytes of name. */
static size_t dtls_hello(uint8_t *b, const char *sni)
{
	size_t n = strlen(sni), ext = 9 + n, body = 2 + 32 + 1 + 1 + 2 + 2 + 1 + 1 + 2 + ext;
	size_t i = 0;

	b[i++] = 22, b[i++] = 0xfe, b[i++] = 0xfd;	     /* handshake, DTLS 1.2 */
	memset(b + i, 0, 8), i += 8;			     /* epoch, sequence */
	b[i++] = 0, b[i++] = (uint8_t)(12 + body);	     /* record length */
	b[i++] = 1, b[i++] = 0, b[i++] = 0, b[i++] = (uint8_t)body; /* ClientHello */
	memset(b + i, 0, 5), i += 5;			     /* message_seq, offset */
	b[i++] = 0, b[i++] = 0, b[i++] = (uint8_t)body;	     /* fragment_length */
	b[i++] = 0xfe, b[i++] = 0xfd;			     /* client_version */
	memset(b + i, 0x22, 32), i += 32;		     /* random */
	b[i++] = 0, b[i++] = 0;				     /* session_id, cookie */
	b[i++] = 0, b[i++] = 2, b[i++] = 0xc0, b[i++] = 0x2b; /* one suite */
	b[i++] = 1, b[i++] = 0;				     /* null compression */
	b[i++] = 0, b[i++] = (uint8_t)ext;		     /* extensions */
	b[i++] = 0, b[i++] = 0, b[i++] = 0, b[i++] = (uint8_t)(5 + n); /* server_name */
	b[i++] = 0, b[i++] = (uint8_t)(3 + n), b[i++] = 0, b[i++] = 0, b[i++] = (uint8_t)n;
	memcpy(b + i, sni, n);
	return i + n;
}

/* A flow's datagrams one by one, as the pipeline gives them. */
struct udp_flow {
	uint32_t cand;
	struct dpix_facts facts;
};

static void flow_start(struct udp_flow *u)
{
	u->cand = dissect_candidates(DPIX_UDP);
	memset(&u->facts, 0, sizeof(u->facts));
}

static enum dpix_answer flow_datagram(struct udp_flow *u, int dir, const uint8_t *p, size_t n)
{
	struct dpix_input in = { .transport = DPIX_UDP, .dir = (uint8_t)dir,
				    .client_port = 50000, .server_port = 3478 };

	in.data[dir] = p;
	in.len[dir] = n;
	return dissect_run(&u->cand, &in, 1, &u->facts);
}

static void test_followups(void **state)
{
	static const uint8_t rtp[12] = { 0x80, 0x60, 0x00, 0x01 };
	struct udp_flow u;
	struct buf b = { .n = 0 };
	uint8_t hello[128];
	size_t hn = dtls_hello(hello, "media.example");

	(void)state;
	/* ICE: Binding, Binding, then the DTLS handshake: a DTLS flow that
	 * keeps its STUN facts. */
	flow_start(&u);
	assert_int_equal(flow_datagram(&u, 0, binding, sizeof(binding)), DPIX_MATCH_MORE);
	assert_int_equal(u.facts.app, APP_STUN);
	assert_int_equal(flow_datagram(&u, 1, binding, sizeof(binding)), DPIX_MATCH_MORE);
	assert_int_equal(flow_datagram(&u, 0, hello, hn), DPIX_MATCH);
	assert_int_equal(u.facts.app, APP_DTLS);
	assert_string_equal(u.facts.sni, "media.example");
	assert_int_equal(u.facts.stun_method, 0x001);
	assert_true(u.facts.flags & FACT_STUN);

	/* STUN then RTP: STUN, and nothing more to learn. */
	flow_start(&u);
	flow_datagram(&u, 0, binding, sizeof(binding));
	assert_int_equal(flow_datagram(&u, 0, rtp, sizeof(rtp)), DPIX_MATCH);
	assert_int_equal(u.facts.app, APP_STUN);

	/* A DTLS-looking datagram that is not DTLS ends it the same way. */
	flow_start(&u);
	flow_datagram(&u, 0, binding, sizeof(binding));
	hello[12] ^= 0x01; /* record length one off */
	assert_int_equal(flow_datagram(&u, 0, hello, hn), DPIX_MATCH);
	assert_int_equal(u.facts.app, APP_STUN);
	assert_int_equal(u.facts.sni_len, 0);
	hello[12] ^= 0x01;

	/* TURN: Allocate, then ChannelData relaying DTLS. */
	flow_start(&u);
	assert_int_equal(flow_datagram(&u, 0, allocate, sizeof(allocate)), DPIX_MATCH_MORE);
	assert_int_equal(flow_datagram(&u, 0, channel_data, sizeof(channel_data)),
			 DPIX_MATCH_MORE); /* 5 bytes that are not DTLS */
	b.b[0] = 0x40, b.b[1] = 0x01, b.b[2] = 0, b.b[3] = (uint8_t)hn;
	b.n = 4;
	cat(&b, hello, hn);
	while (b.n % 4)
		b.b[b.n++] = 0;
	assert_int_equal(flow_datagram(&u, 0, b.b, b.n), DPIX_MATCH);
	assert_int_equal(u.facts.app, APP_STUN);
	assert_true(u.facts.flags & FACT_TURN);
	assert_true(u.facts.flags & FACT_TURN_DTLS);
	assert_string_equal(u.facts.sni, "media.example");
	assert_int_equal(u.facts.stun_method, 0x003);

	/* TURN: a Send indication whose DATA is DTLS. */
	flow_start(&u);
	b.n = 0;
	b.b[b.n++] = 0x00, b.b[b.n++] = 0x16;			 /* Send indication */
	b.b[b.n++] = 0, b.b[b.n++] = (uint8_t)(4 + (hn + 3) / 4 * 4); /* length */
	cat(&b, allocate + 4, 16);				 /* cookie, txid */
	b.b[b.n++] = 0x00, b.b[b.n++] = 0x13;			 /* DATA */
	b.b[b.n++] = 0, b.b[b.n++] = (uint8_t)hn;
	cat(&b, hello, hn);
	while (b.n % 4)
		b.b[b.n++] = 0;
	assert_int_equal(flow_datagram(&u, 0, b.b, b.n), DPIX_MATCH);
	assert_int_equal(u.facts.app, APP_STUN);
	assert_true(u.facts.flags & FACT_TURN_DTLS);
	assert_int_equal(u.facts.stun_method, 0x006);
	/* Its DATA one byte shorter (91 to 90, the padding still ends at 92):
	 * the indication is still sound but relays no DTLS. */
	assert_int_equal(hn, 91);
	flow_start(&u);
	b.b[23] -= 1;
	assert_int_equal(flow_datagram(&u, 0, b.b, b.n), DPIX_MATCH_MORE);
	assert_false(u.facts.flags & FACT_TURN_DTLS);
}

/* Every byte changed to a few values, every length: never a crash. */
static void test_hostile(void **state)
{
	static const uint8_t vals[] = { 0x00, 0x01, 0x03, 0x40, 0x7f, 0x80, 0xff };
	const uint8_t *msgs[] = { binding, channel_bind, pcap_frame3 };
	const size_t lens[] = { sizeof(binding), sizeof(channel_bind), sizeof(pcap_frame3) };
	struct dpix_facts f;
	uint8_t m[sizeof(pcap_frame3)];

	(void)state;
	for (size_t k = 0; k < 3; k++)
		for (size_t i = 0; i < lens[k]; i++)
			for (size_t v = 0; v < sizeof(vals); v++) {
				memcpy(m, msgs[k], lens[k]);
				m[i] = vals[v];
				for (size_t n = 0; n <= lens[k]; n += (n < 24 ? 1 : 7)) {
					probe_tcp(m, n, &f);
					probe_udp_ports(m, n, 3478, 3478, &f);
				}
			}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_binding_udp),
		cmocka_unit_test(test_binding_tcp),
		cmocka_unit_test(test_bad_fingerprint),
		cmocka_unit_test(test_fingerprint_not_last),
		cmocka_unit_test(test_fingerprint_wrong_length),
		cmocka_unit_test(test_allocate),
		cmocka_unit_test(test_channel_bind),
		cmocka_unit_test(test_method_bits),
		cmocka_unit_test(test_length_not_multiple_of_4),
		cmocka_unit_test(test_unpadded_attributes),
		cmocka_unit_test(test_followups),
		cmocka_unit_test(test_length_vs_datagram),
		cmocka_unit_test(test_attribute_past_message),
		cmocka_unit_test(test_wrong_cookie),
		cmocka_unit_test(test_tcp_every_prefix),
		cmocka_unit_test(test_tcp_two_messages),
		cmocka_unit_test(test_tcp_then_channel_data),
		cmocka_unit_test(test_tcp_split),
		cmocka_unit_test(test_tcp_rfc4571),
		cmocka_unit_test(test_channel_data_udp),
		cmocka_unit_test(test_channel_data_bad),
		cmocka_unit_test(test_classic),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_not_stun),
		cmocka_unit_test(test_pcap_payloads),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests_name("stun", tests, NULL, NULL);
}
