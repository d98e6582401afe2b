/*
 * test_tls.c: the TLS ClientHello dissector (dissect_tls.probe).
 *
 * The hellos are assembled here, byte block by byte block, by a few small
 * builders; the first test checks the builders against a hello written out
 * in full by hand, so the other tests can trust them. Every probe gets a
 * scratch buffer allocated at exactly scratch_len bytes, so that AddressSanitizer
 * sees any write past it.
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

#define SCRATCH_LEN 16384

/* --- byte builders ---------------------------------------------------- */

struct hb {
	uint8_t b[24000];
	size_t n;
};

/*
 * Builders come from a static pool, reused round robin, so that a failing
 * test (which leaves by longjmp) leaks nothing; no test holds more than a
 * handful at once.
 */
#define HB_POOL 64

static struct hb *hb_new(void)
{
	static struct hb pool[HB_POOL];
	static unsigned next;
	struct hb *h = &pool[next++ % HB_POOL];

	memset(h, 0, sizeof(*h));
	return h;
}

static void put8(struct hb *h, unsigned v)
{
	assert_true(h->n + 1 <= sizeof(h->b));
	h->b[h->n++] = (uint8_t)v;
}

static void put16(struct hb *h, unsigned v)
{
	put8(h, (v >> 8) & 0xff);
	put8(h, v & 0xff);
}

static void put24(struct hb *h, unsigned v)
{
	put8(h, (v >> 16) & 0xff);
	put16(h, v & 0xffff);
}

static void putn(struct hb *h, const void *p, size_t n)
{
	assert_true(h->n + n <= sizeof(h->b));
	if (n)
		memcpy(h->b + h->n, p, n);
	h->n += n;
}

static void putfill(struct hb *h, uint8_t byte, size_t n)
{
	assert_true(h->n + n <= sizeof(h->b));
	memset(h->b + h->n, byte, n);
	h->n += n;
}

/*
 * The ClientHello body up to the extensions:
 *   legacy_version[2]=03 03  random[32]  session_id<0..32>
 *   cipher_suites<2..>  compression<1..>
 * sid_len and cs_len are written as given (even when illegal); the suite
 * bytes are TLS_AES_128_GCM_SHA256 (13 01) repeated, cut to cs_len.
 */
static void body_start(struct hb *h, size_t sid_len, size_t cs_len)
{
	put16(h, 0x0303);           /* legacy_version: TLS 1.2 */
	putfill(h, 0x5a, 32);       /* random */
	put8(h, (unsigned)sid_len); /* session id length ... */
	putfill(h, 0x11, sid_len);  /* ... and bytes */
	put16(h, (unsigned)cs_len); /* cipher suites length ... */
	for (size_t i = 0; i < cs_len; i++)
		put8(h, i % 2 ? 0x01 : 0x13);
	put8(h, 1);                 /* compression methods: 1 byte ... */
	put8(h, 0);                 /* ... null */
}

/* One extension: type[2] length[2] data. */
static void put_ext(struct hb *exts, unsigned type, const void *data, size_t n)
{
	put16(exts, type);
	put16(exts, (unsigned)n);
	putn(exts, data, n);
}

/* One server_name_list entry: name_type[1] length[2] name. */
static void sni_entry(struct hb *list, unsigned type, const void *name, size_t n)
{
	put8(list, type);
	put16(list, (unsigned)n);
	putn(list, name, n);
}

/* A server_name extension around a list: type 0, length, list length, list. */
static void put_sni_list(struct hb *exts, const struct hb *list)
{
	put16(exts, 0x0000);                   /* server_name */
	put16(exts, (unsigned)(list->n + 2));  /* extension length */
	put16(exts, (unsigned)list->n);        /* server_name_list length */
	putn(exts, list->b, list->n);
}

/* A server_name extension with one host_name. */
static void put_sni(struct hb *exts, const void *name, size_t n)
{
	struct hb *list = hb_new();

	sni_entry(list, 0, name, n);
	put_sni_list(exts, list);
}

/* The handshake message: type[1]=1 length[3] body, with the body's
 * extensions block (length[2] + exts) when exts is not NULL. */
static void client_hello(struct hb *hs, size_t sid_len, const struct hb *exts)
{
	struct hb *body = hb_new();

	body_start(body, sid_len, 2);
	if (exts) {
		put16(body, (unsigned)exts->n);
		putn(body, exts->b, exts->n);
	}
	put8(hs, 1);                     /* client_hello */
	put24(hs, (unsigned)body->n);    /* handshake length */
	putn(hs, body->b, body->n);
}

/* A record: type[1] version[2]=03 01 length[2] fragment. */
static void put_record(struct hb *out, unsigned type, const uint8_t *p, size_t n)
{
	put8(out, type);
	put16(out, 0x0301);
	put16(out, (unsigned)n);
	putn(out, p, n);
}

/* The handshake message cut into records of the given fragment sizes; the
 * sizes must add up to the message. */
static void records(struct hb *out, const struct hb *hs, const size_t *frag, size_t nfrag)
{
	size_t off = 0;

	for (size_t i = 0; i < nfrag; i++) {
		put_record(out, 22, hs->b + off, frag[i]);
		off += frag[i];
	}
	assert_int_equal(off, hs->n);
}

/* --- probing ---------------------------------------------------------- */

static enum dpix_answer probe_scratch(const uint8_t *p, size_t n, size_t scratch_len,
                                         struct dpix_facts *f)
{
	struct dpix_input in = { .transport = DPIX_TCP, .client_port = 40000,
	                            .server_port = 443 };
	enum dpix_answer a;
	uint8_t *scratch = malloc(scratch_len ? scratch_len : 1);

	assert_non_null(scratch);
	in.data[0] = p;
	in.len[0] = n;
	in.scratch = scratch;
	in.scratch_len = scratch_len;
	memset(f, 0xa5, sizeof(*f)); /* whatever was there must not show */
	a = dissect_tls.probe(&in, f);
	free(scratch);
	return a;
}

static enum dpix_answer probe(const uint8_t *p, size_t n, struct dpix_facts *f)
{
	return probe_scratch(p, n, SCRATCH_LEN, f);
}

static void assert_sni(const struct hb *h, const char *sni)
{
	struct dpix_facts f;

	assert_int_equal(probe(h->b, h->n, &f), DPIX_MATCH);
	assert_int_equal(f.sni_len, strlen(sni));
	assert_string_equal(f.sni, sni);
}

static void assert_no_sni(const struct hb *h)
{
	struct dpix_facts f;

	assert_int_equal(probe(h->b, h->n, &f), DPIX_MATCH);
	assert_int_equal(f.sni_len, 0);
}

static void assert_not_mine(const struct hb *h)
{
	struct dpix_facts f;

	assert_int_equal(probe(h->b, h->n, &f), DPIX_NOT_MINE);
}

/* Bytes of the record and handshake headers: after them it is TLS. */
#define HEADERS_LEN 9

/* Every strict prefix needs more until the headers are in, then is TLS
 * with more to come and no SNI yet; the whole matches with sni. */
static void assert_prefixes(const struct hb *h, const char *sni)
{
	struct dpix_facts f;

	for (size_t n = 0; n < h->n; n++) {
		enum dpix_answer a = probe(h->b, n, &f);
		enum dpix_answer want = n < HEADERS_LEN ? DPIX_NEED_MORE : DPIX_MATCH_MORE;

		if (a != want)
			fail_msg("prefix of %zu of %zu bytes: answer %d, expected %d", n, h->n, (int)a,
			         (int)want);
		if (a == DPIX_MATCH_MORE && f.sni_len != 0)
			fail_msg("prefix of %zu of %zu bytes has an SNI", n, h->n);
	}
	assert_sni(h, sni);
}

/* A single-record hello with the given extensions block. */
static struct hb *one_record(const struct hb *exts)
{
	struct hb *hs = hb_new(), *out = hb_new();

	client_hello(hs, 0, exts);
	put_record(out, 22, hs->b, hs->n);
	return out;
}

/* A single-record hello whose body is given whole. */
static struct hb *one_record_body(const struct hb *body)
{
	struct hb *hs = hb_new(), *out = hb_new();

	put8(hs, 1);
	put24(hs, (unsigned)body->n);
	putn(hs, body->b, body->n);
	put_record(out, 22, hs->b, hs->n);
	return out;
}

/* A single-record hello with one server_name of the given bytes. */
static struct hb *hello_with_name(const void *name, size_t n)
{
	struct hb *exts = hb_new(), *out;

	put_sni(exts, name, n);
	out = one_record(exts);
	return out;
}

/* --- the hand-written hello ------------------------------------------- */

static const uint8_t minimal_hello[80] = {
	0x16, 0x03, 0x01, 0x00, 0x4b,  /* record: handshake, TLS 1.0, 75 bytes */
	0x01, 0x00, 0x00, 0x47,        /* handshake: client_hello, 71 bytes */
	0x03, 0x03,                    /* legacy_version: TLS 1.2 */
	0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, /* random[32] */
	0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
	0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
	0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
	0x00,                          /* session id: empty */
	0x00, 0x02, 0x13, 0x01,        /* cipher suites: TLS_AES_128_GCM_SHA256 */
	0x01, 0x00,                    /* compression: null */
	0x00, 0x1c,                    /* extensions: 28 bytes */
	0x00, 0x00, 0x00, 0x18,        /* server_name, 24 bytes */
	0x00, 0x16,                    /* server_name_list: 22 bytes */
	0x00, 0x00, 0x13,              /* host_name, 19 bytes: */
	'w', 'e', 'b', '.', 'o', 'p', 'e', 'n', 'r', 'a',
	'i', 'n', 'b', 'o', 'w', '.', 'c', 'o', 'm',
};

static void test_descriptor(void **state)
{
	(void)state;
	assert_string_equal(dissect_tls.name, "tls");
	assert_int_equal(dissect_tls.app, APP_TLS);
	assert_int_equal(dissect_tls.transports, DPIX_TCP);
}

static void test_minimal_sni(void **state)
{
	(void)state;
	struct dpix_facts f;
	struct hb *h;

	assert_int_equal(probe(minimal_hello, sizeof(minimal_hello), &f), DPIX_MATCH);
	assert_int_equal(f.sni_len, 19);
	assert_string_equal(f.sni, "web.openrainbow.com");

	/* The builders make exactly these bytes. */
	h = hello_with_name("web.openrainbow.com", 19);
	assert_int_equal(h->n, sizeof(minimal_hello));
	assert_memory_equal(h->b, minimal_hello, sizeof(minimal_hello));
}

static void test_no_extensions(void **state)
{
	(void)state;
	struct hb *h = one_record(NULL);

	/* 5 + 4 + 41: a body of exactly the fixed fields. */
	assert_int_equal(h->n, 50);
	assert_no_sni(h);
}

static void test_empty_extensions_block(void **state)
{
	(void)state;
	struct hb *exts = hb_new(), *h = one_record(exts);

	assert_int_equal(h->n, 52);
	assert_no_sni(h);
}

static void test_sni_other_type_first(void **state)
{
	(void)state;
	struct hb *list = hb_new(), *exts = hb_new(), *h;

	sni_entry(list, 1, "not.a.host.name", 15); /* an unknown name_type */
	sni_entry(list, 0, "web.openrainbow.com", 19);
	put_sni_list(exts, list);
	h = one_record(exts);
	assert_sni(h, "web.openrainbow.com");
}

static void test_sni_two_host_names(void **state)
{
	(void)state;
	struct hb *list = hb_new(), *exts = hb_new(), *h;

	sni_entry(list, 0, "first.example.com", 17);
	sni_entry(list, 0, "second.example.com", 18);
	put_sni_list(exts, list);
	h = one_record(exts);
	assert_sni(h, "first.example.com");
}

static void test_grease_and_unknown_skipped(void **state)
{
	(void)state;
	static const uint8_t one0[1] = { 0x00 };
	static const uint8_t versions[5] = { 0x04, 0x03, 0x04, 0x03, 0x03 };
	struct hb *exts = hb_new(), *h;

	put_ext(exts, 0x0a0a, NULL, 0);         /* GREASE, empty */
	put_ext(exts, 0x1a1a, one0, 1);         /* GREASE, one byte */
	put_ext(exts, 0xff01, one0, 1);         /* renegotiation_info */
	put_ext(exts, 0x002b, versions, 5);     /* supported_versions 1.3, 1.2 */
	put_ext(exts, 0xfe0d, one0, 1);         /* an extension nobody knows */
	put_sni(exts, "turn-rbx1.openrainbow.com", 25);
	put_ext(exts, 0x4a4a, NULL, 0);         /* GREASE after the SNI */
	h = one_record(exts);
	assert_sni(h, "turn-rbx1.openrainbow.com");
}

/* --- partial and spanning hellos -------------------------------------- */

/* A hello like a browser's: 32-byte session id, SNI, some extensions. */
static void browser_hello(struct hb *hs, const char *sni, size_t pad)
{
	static const uint8_t groups[6] = { 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17 };
	struct hb *exts = hb_new();

	put_ext(exts, 0x2a2a, NULL, 0);       /* GREASE */
	put_sni(exts, sni, strlen(sni));
	put_ext(exts, 0x000a, groups, 6);     /* supported_groups x25519, p256 */
	if (pad) {
		struct hb *ks = hb_new();

		putfill(ks, 0x77, pad);
		put_ext(exts, 0x0033, ks->b, ks->n); /* key_share-like bulk */
	}
	client_hello(hs, 32, exts);
}

static void test_every_prefix_single_record(void **state)
{
	(void)state;
	struct hb *hs = hb_new(), *h = hb_new();

	browser_hello(hs, "web.openrainbow.com", 0);
	put_record(h, 22, hs->b, hs->n);
	assert_prefixes(h, "web.openrainbow.com");
}

/* Segments at the record boundaries: more to come until the last is in. */
static void assert_segments(const struct hb *h, const size_t *frag, size_t nfrag,
                            const char *sni)
{
	struct dpix_facts f;
	size_t end = 0;

	for (size_t i = 0; i + 1 < nfrag; i++) {
		end += 5 + frag[i];
		assert_int_equal(probe(h->b, end, &f), DPIX_MATCH_MORE);
	}
	end += 5 + frag[nfrag - 1];
	assert_int_equal(end, h->n);
	assert_sni(h, sni);
}

static void test_two_records(void **state)
{
	(void)state;
	struct hb *hs = hb_new(), *h = hb_new();
	size_t frag[2];

	browser_hello(hs, "web.openrainbow.com", 0);
	/* Cut inside the random: the header stays in the first record. */
	frag[0] = 20;
	frag[1] = hs->n - 20;
	records(h, hs, frag, 2);
	assert_int_equal(h->n, hs->n + 10);
	assert_segments(h, frag, 2, "web.openrainbow.com");
	assert_prefixes(h, "web.openrainbow.com");
}

static void test_three_records(void **state)
{
	(void)state;
	struct hb *hs = hb_new(), *h = hb_new();
	size_t frag[3];

	browser_hello(hs, "turn-rbx1.openrainbow.com", 0);
	/* Cut inside the session id, then inside the server name. */
	frag[0] = 50;
	frag[1] = 60;
	frag[2] = hs->n - 110;
	records(h, hs, frag, 3);
	assert_segments(h, frag, 3, "turn-rbx1.openrainbow.com");
	assert_prefixes(h, "turn-rbx1.openrainbow.com");
}

static void test_big_hello(void **state)
{
	(void)state;
	struct hb *hs = hb_new(), *one = hb_new(), *two = hb_new();
	size_t frag[2] = { 1200, 600 };
	struct dpix_facts f;

	/*
	 * Body: 41 fixed + 32 session id + 2 extensions length + 4 GREASE
	 * + 28 SNI (19 characters) + 10 supported_groups + 4 + pad = 1796.
	 */
	browser_hello(hs, "web.openrainbow.com", 1796 - 121);
	assert_int_equal(hs->n, 1800);

	/* In one record, over two TCP segments of 1448 and 357 bytes. */
	put_record(one, 22, hs->b, hs->n);
	assert_int_equal(one->n, 1805);
	assert_int_equal(probe(one->b, 1448, &f), DPIX_MATCH_MORE);
	assert_sni(one, "web.openrainbow.com");

	/* In two records of 1200 and 600 bytes. */
	records(two, hs, frag, 2);
	assert_int_equal(two->n, 1810);
	assert_segments(two, frag, 2, "web.openrainbow.com");
	assert_int_equal(probe(two->b, 1448, &f), DPIX_MATCH_MORE);
	assert_prefixes(two, "web.openrainbow.com");
}

static void test_scratch_too_small(void **state)
{
	(void)state;
	struct hb *hs = hb_new(), *one = hb_new(), *two = hb_new();
	size_t frag[2] = { 1200, 600 };
	struct dpix_facts f;

	browser_hello(hs, "web.openrainbow.com", 1796 - 121);
	assert_int_equal(hs->n, 1800);

	/* One record, 1805 bytes: a window of 1805 holds it, 1804 cannot. */
	put_record(one, 22, hs->b, hs->n);
	assert_int_equal(probe_scratch(one->b, one->n, 1805, &f), DPIX_MATCH);
	assert_int_equal(f.sni_len, 19);
	assert_string_equal(f.sni, "web.openrainbow.com");
	assert_int_equal(probe_scratch(one->b, 1804, 1804, &f), DPIX_MATCH);
	assert_int_equal(f.sni_len, 0);
	assert_int_equal(probe_scratch(one->b, 512, 512, &f), DPIX_MATCH);
	assert_int_equal(f.sni_len, 0);
	/* Decided on the handshake header alone. */
	assert_int_equal(probe_scratch(one->b, 9, 1804, &f), DPIX_MATCH);
	assert_int_equal(f.sni_len, 0);

	/* Two records, 1810 bytes: a window of 1810 holds them. */
	records(two, hs, frag, 2);
	assert_int_equal(probe_scratch(two->b, two->n, 1810, &f), DPIX_MATCH);
	assert_int_equal(f.sni_len, 19);
	assert_string_equal(f.sni, "web.openrainbow.com");
	assert_int_equal(probe_scratch(two->b, 1205, 1804, &f), DPIX_MATCH);
	assert_int_equal(f.sni_len, 0);
}

static void test_records_overflow_window(void **state)
{
	(void)state;
	/*
	 * The 1800-byte hello alone would fit a window of 1809 bytes, but in
	 * two records it takes 1810: the stream stops at 1809 and the second
	 * record never completes. The header promises "a hello that cannot fit
	 * in the stream window is TLS without an SNI"; waiting for bytes that
	 * cannot come ends, through the budget, as "not TLS".
	 */
	struct hb *hs = hb_new(), *two = hb_new();
	size_t frag[2] = { 1200, 600 };
	struct dpix_facts f;

	browser_hello(hs, "web.openrainbow.com", 1796 - 121);
	records(two, hs, frag, 2);
	assert_int_equal(two->n, 1810);
	/* The window is full: all the stream will ever hold. */
	assert_int_equal(probe_scratch(two->b, 1809, 1809, &f), DPIX_MATCH);
	assert_int_equal(f.sni_len, 0);
	assert_int_equal(probe_scratch(two->b, 1805, 1805, &f), DPIX_MATCH);
	assert_int_equal(f.sni_len, 0);
}

static void test_other_record_between_fragments(void **state)
{
	(void)state;
	static const uint8_t ccs[1] = { 0x01 };
	struct hb *hs = hb_new(), *h = hb_new();

	browser_hello(hs, "web.openrainbow.com", 0);
	put_record(h, 22, hs->b, 40);
	put_record(h, 0x14, ccs, 1); /* change_cipher_spec */
	put_record(h, 22, hs->b + 40, hs->n - 40);
	assert_not_mine(h);
	/* Decided as soon as its type byte is seen. */
	{
		struct dpix_facts f;

		assert_int_equal(probe(h->b, 5 + 40 + 1, &f), DPIX_NOT_MINE);
	}
}

static void test_bad_version_between_fragments(void **state)
{
	(void)state;
	struct hb *hs = hb_new(), *h = hb_new();

	browser_hello(hs, "web.openrainbow.com", 0);
	put_record(h, 22, hs->b, 40);
	put8(h, 22);
	put16(h, 0x0305);                 /* version 3.5 */
	put16(h, (unsigned)(hs->n - 40));
	putn(h, hs->b + 40, hs->n - 40);
	assert_not_mine(h);
}

/* --- not a ClientHello: record layer ---------------------------------- */

static void test_not_handshake_record(void **state)
{
	(void)state;
	uint8_t b[sizeof(minimal_hello)];
	struct dpix_facts f;

	memcpy(b, minimal_hello, sizeof(b));
	b[0] = 0x17; /* application data */
	assert_int_equal(probe(b, sizeof(b), &f), DPIX_NOT_MINE);
	assert_int_equal(probe(b, 1, &f), DPIX_NOT_MINE);
	b[0] = 0x15; /* alert */
	assert_int_equal(probe(b, sizeof(b), &f), DPIX_NOT_MINE);
	b[0] = 'C';
	assert_int_equal(probe(b, sizeof(b), &f), DPIX_NOT_MINE);
}

static void test_sslv2_hello(void **state)
{
	(void)state;
	/* An SSLv2-framed hello: 2-byte length with the high bit, msg type 1,
	 * version 3.1, cipher specs length 21, session id 0, challenge 16. */
	static const uint8_t v2[48] = {
		0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10,
		0x00, 0x00, 0x39, 0x00, 0x00, 0x38, 0x00, 0x00, 0x35, 0x00, 0x00, 0x16,
		0x00, 0x00, 0x13, 0x00, 0x00, 0x0a, 0x07, 0x00, 0xc0,
		0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
		0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
	};
	struct dpix_facts f;

	assert_int_equal(probe(v2, sizeof(v2), &f), DPIX_NOT_MINE);
	assert_int_equal(probe(v2, 3, &f), DPIX_NOT_MINE);
}

static void test_record_version(void **state)
{
	(void)state;
	uint8_t b[sizeof(minimal_hello)];
	struct dpix_facts f;

	memcpy(b, minimal_hello, sizeof(b));
	b[1] = 0x02, b[2] = 0x00; /* 2.0 */
	assert_int_equal(probe(b, sizeof(b), &f), DPIX_NOT_MINE);
	b[1] = 0x03, b[2] = 0x05; /* 3.5 */
	assert_int_equal(probe(b, sizeof(b), &f), DPIX_NOT_MINE);
	assert_int_equal(probe(b, 3, &f), DPIX_NOT_MINE);
	b[1] = 0x04, b[2] = 0x01; /* 4.1 */
	assert_int_equal(probe(b, sizeof(b), &f), DPIX_NOT_MINE);
	/* 3.0 through 3.4 are all TLS record versions seen in the wild. */
	b[1] = 0x03, b[2] = 0x00;
	assert_int_equal(probe(b, sizeof(b), &f), DPIX_MATCH);
	assert_string_equal(f.sni, "web.openrainbow.com");
	b[2] = 0x04;
	assert_int_equal(probe(b, sizeof(b), &f), DPIX_MATCH);
	assert_string_equal(f.sni, "web.openrainbow.com");
}

static void test_record_length(void **state)
{
	(void)state;
	uint8_t b[sizeof(minimal_hello)];
	struct dpix_facts f;

	memcpy(b, minimal_hello, sizeof(b));
	b[3] = 0x00, b[4] = 0x00; /* 0 */
	assert_int_equal(probe(b, sizeof(b), &f), DPIX_NOT_MINE);
	assert_int_equal(probe(b, 5, &f), DPIX_NOT_MINE);
	b[3] = 0x48, b[4] = 0x01; /* 18433 = 16384 + 2048 + 1 */
	assert_int_equal(probe(b, sizeof(b), &f), DPIX_NOT_MINE);
	b[3] = 0xff, b[4] = 0xff; /* 65535 */
	assert_int_equal(probe(b, sizeof(b), &f), DPIX_NOT_MINE);
	/* 18432 is allowed: only the first 9 bytes, TLS waiting for the rest. */
	b[3] = 0x48, b[4] = 0x00;
	assert_int_equal(probe(b, 9, &f), DPIX_MATCH_MORE);
}

/* --- not a ClientHello: handshake and body ---------------------------- */

static void test_server_hello(void **state)
{
	(void)state;
	uint8_t b[sizeof(minimal_hello)];
	struct dpix_facts f;

	memcpy(b, minimal_hello, sizeof(b));
	b[5] = 0x02; /* server_hello */
	assert_int_equal(probe(b, sizeof(b), &f), DPIX_NOT_MINE);
	assert_int_equal(probe(b, 6, &f), DPIX_NOT_MINE);
	b[5] = 0x00; /* hello_request */
	assert_int_equal(probe(b, sizeof(b), &f), DPIX_NOT_MINE);
}

/* --- TLS without the client's hello ---------------------------------- */

/* Both directions given; midstream as the pipeline would set it. */
static enum dpix_answer probe_both(const struct hb *cli, const struct hb *srv, bool midstream,
                                      struct dpix_facts *f)
{
	struct dpix_input in = { .transport = DPIX_TCP, .client_port = 40000,
	                            .server_port = 443, .midstream = midstream };
	uint8_t *scratch = malloc(SCRATCH_LEN);
	enum dpix_answer a;

	assert_non_null(scratch);
	in.data[0] = cli->b;
	in.len[0] = cli->n;
	in.data[1] = srv->b;
	in.len[1] = srv->n;
	in.scratch = scratch;
	in.scratch_len = SCRATCH_LEN;
	memset(f, 0xa5, sizeof(*f));
	a = dissect_tls.probe(&in, f);
	free(scratch);
	return a;
}

static void test_midstream_records(void **state)
{
	static const uint8_t ct[40] = { 0x5a };
	struct hb *app = hb_new(), *none = hb_new(), *bad = hb_new();
	struct dpix_facts f;

	(void)state;
	put_record(app, 23, ct, sizeof(ct)); /* application data */
	put_record(app, 21, ct, 26);	      /* alert */
	/* Only on a flow picked up mid-stream; from either side; no facts. */
	assert_int_equal(probe_both(app, none, true, &f), DPIX_MATCH);
	assert_int_equal(f.sni_len, 0);
	assert_int_equal(f.ja4[0], '\0');
	assert_int_equal(probe_both(none, app, true, &f), DPIX_MATCH);
	assert_int_equal(probe_both(app, none, false, &f), DPIX_NOT_MINE);
	/* One whole record at least: before, a sound prefix needs more. */
	for (size_t n = 0; n < 5 + sizeof(ct); n++) {
		struct hb *p = hb_new();

		putn(p, app->b, n);
		assert_int_equal(probe_both(p, none, true, &f), DPIX_NEED_MORE);
	}
	/* A partial record after whole ones is fine. */
	app->n -= 3;
	assert_int_equal(probe_both(app, none, true, &f), DPIX_MATCH);
	/* Headers that cannot be TLS, in any record: not mine, once neither
	 * side can still turn out TLS (a capture may start mid-record on one
	 * side only). */
	memcpy(bad->b, app->b, app->n);
	bad->n = app->n;
	bad->b[45] = 0x18; /* second record: type 24 */
	assert_int_equal(probe_both(bad, bad, true, &f), DPIX_NOT_MINE);
	assert_int_equal(probe_both(bad, none, true, &f), DPIX_NEED_MORE);
	bad->b[45] = 0x15;
	bad->b[47] = 0x05; /* version 3.5 */
	assert_int_equal(probe_both(bad, bad, true, &f), DPIX_NOT_MINE);
	bad->b[47] = 0x03;
	bad->b[48] = 0x00, bad->b[49] = 0x00; /* empty record */
	assert_int_equal(probe_both(bad, bad, true, &f), DPIX_NOT_MINE);
	bad->b[48] = 0x00, bad->b[49] = 0x1a;
	assert_int_equal(probe_both(bad, bad, true, &f), DPIX_MATCH);
	bad->b[0] = 0x13; /* first record: type 19 */
	assert_int_equal(probe_both(bad, bad, true, &f), DPIX_NOT_MINE);
	/* One side not TLS, the other TLS: the records decide. */
	assert_int_equal(probe_both(bad, app, true, &f), DPIX_MATCH);
}

static void test_hello_cut_short(void **state)
{
	const struct hb *cli = one_record(hb_new());
	struct hb *part = hb_new();
	struct dpix_facts f;

	(void)state;
	/* The client's next segment was lost, or the budget ran out: TLS. */
	putn(part, cli->b, cli->n - 10);
	assert_int_equal(probe(part->b, part->n, &f), DPIX_MATCH_MORE);
	assert_int_equal(f.sni_len, 0);
	assert_int_equal(f.ja4[0], '\0');
	assert_int_equal(f.tls_version, 0);
	/* The client's side unseen (asymmetric routing): the server's
	 * ServerHello says TLS; not when the client's bytes are not TLS, nor
	 * for another first message from the server. */
	{
		struct hb *none = hb_new(), *srv = hb_new(), *sh = hb_new();

		put8(sh, 2); /* server_hello */
		put24(sh, 38);
		putfill(sh, 0x03, 38);
		put_record(srv, 22, sh->b, sh->n);
		assert_int_equal(probe_both(none, srv, false, &f), DPIX_MATCH);
		assert_int_equal(f.sni_len, 0);
		assert_int_equal(probe_both(part, srv, false, &f), DPIX_MATCH_MORE);
		none->b[0] = 'G';
		none->n = 1;
		assert_int_equal(probe_both(none, srv, false, &f), DPIX_NOT_MINE);
		none->n = 0;
		srv->b[5] = 11; /* certificate */
		assert_int_equal(probe_both(none, srv, false, &f), DPIX_NEED_MORE);
	}
	/* Headers that are not a hello's stay not mine, however short. */
	part->b[5] = 2; /* server_hello */
	assert_int_equal(probe(part->b, part->n, &f), DPIX_NOT_MINE);
	assert_int_equal(probe(part->b, HEADERS_LEN, &f), DPIX_NOT_MINE);
}

static void test_handshake_too_short(void **state)
{
	(void)state;
	/* A handshake length of 37, with 37 bytes of body that follow. */
	struct hb *h = hb_new();
	struct dpix_facts f;

	put8(h, 22);
	put16(h, 0x0301);
	put16(h, 41);       /* record: 4 + 37 */
	put8(h, 1);
	put24(h, 37);       /* handshake length 37 */
	putfill(h, 0x03, 37);
	assert_int_equal(probe(h->b, h->n, &f), DPIX_NOT_MINE);
	assert_int_equal(probe(h->b, 9, &f), DPIX_NOT_MINE);
}

static void test_record_shorter_than_handshake_header(void **state)
{
	(void)state;
	/* A 3-byte record cannot even hold the handshake header. */
	static const uint8_t b[8] = { 0x16, 0x03, 0x01, 0x00, 0x03, 0x01, 0x00, 0x00 };
	struct dpix_facts f;

	assert_int_equal(probe(b, sizeof(b), &f), DPIX_NOT_MINE);
}

static void test_session_id_33(void **state)
{
	(void)state;
	struct hb *body = hb_new(), *h;

	body_start(body, 33, 2);
	h = one_record_body(body);
	assert_not_mine(h);
}

static void test_cipher_suites_length(void **state)
{
	(void)state;
	struct hb *body = hb_new(), *h;

	body_start(body, 0, 3); /* odd */
	h = one_record_body(body);
	assert_not_mine(h);
	body->n = 0;
	body_start(body, 0, 0); /* none */
	h = one_record_body(body);
	assert_not_mine(h);
	body->n = 0;
	body_start(body, 0, 4); /* two suites: fine */
	h = one_record_body(body);
	assert_no_sni(h);
}

static void test_no_compression_methods(void **state)
{
	(void)state;
	struct hb *body = hb_new(), *h;

	body_start(body, 0, 2);
	body->b[body->n - 2] = 0; /* compression methods length 0 ... */
	body->n--;                /* ... and no method byte */
	putfill(body, 0, 1);      /* one stray byte so the length stays >= 41 */
	h = one_record_body(body);
	assert_not_mine(h);
}

/* A hello whose extensions block has the length field elen over exts. */
static struct hb *hello_ext_len(const struct hb *exts, unsigned elen, size_t trailing)
{
	struct hb *body = hb_new(), *h;

	body_start(body, 0, 2);
	put16(body, elen);
	putn(body, exts->b, exts->n);
	putfill(body, 0xee, trailing);
	h = one_record_body(body);
	return h;
}

static void test_extensions_length_mismatch(void **state)
{
	(void)state;
	struct hb *exts = hb_new(), *h;

	put_sni(exts, "web.openrainbow.com", 19);
	assert_int_equal(exts->n, 28);
	h = hello_ext_len(exts, 28, 0);  /* right */
	assert_sni(h, "web.openrainbow.com");
	h = hello_ext_len(exts, 29, 0);  /* longer than what is left */
	assert_not_mine(h);
	h = hello_ext_len(exts, 27, 0);  /* shorter: one byte left over */
	assert_not_mine(h);
	h = hello_ext_len(exts, 28, 3);  /* right, then trailing bytes */
	assert_not_mine(h);
}

static void test_extension_runs_past_block(void **state)
{
	(void)state;
	static const uint8_t four[4] = { 1, 2, 3, 4 };
	struct hb *exts = hb_new(), *h;

	put_sni(exts, "web.openrainbow.com", 19);
	put16(exts, 0x0017);     /* extended_master_secret ... */
	put16(exts, 10);         /* ... claiming 10 bytes ... */
	putn(exts, four, 4);     /* ... of which 4 are there */
	h = one_record(exts);
	assert_not_mine(h);

	/* A lone type byte where an extension header should be. */
	exts->n = 28;
	put8(exts, 0x00);
	h = one_record(exts);
	assert_not_mine(h);
}

static void test_sni_list_length_mismatch(void **state)
{
	(void)state;
	struct hb *exts = hb_new(), *h;

	/* server_name, 24 bytes, list claims 23 (should be 22). */
	put_sni(exts, "web.openrainbow.com", 19);
	exts->b[4] = 0x00, exts->b[5] = 0x17;
	h = one_record(exts);
	assert_not_mine(h);
	/* ... list claims 21. */
	exts->b[5] = 0x15;
	h = one_record(exts);
	assert_not_mine(h);
	/* List right, name length 20 running past it. */
	exts->b[5] = 0x16;
	exts->b[8] = 0x14;
	h = one_record(exts);
	assert_not_mine(h);
	/* Name length 18: one byte of the list left, too short for an entry. */
	exts->b[8] = 0x12;
	h = one_record(exts);
	assert_not_mine(h);
	/* List right, one byte after it inside the extension (length 25). */
	exts->b[8] = 0x13;
	exts->b[3] = 0x19;
	put8(exts, 0x00);
	h = one_record(exts);
	assert_not_mine(h);
	/* An empty server_name extension (as a server sends it). */
	exts->n = 0;
	put_ext(exts, 0x0000, NULL, 0);
	h = one_record(exts);
	assert_not_mine(h);
}

/* --- names that are not kept ------------------------------------------ */

static void test_sni_bad_characters(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"web openrainbow.com",   /* space */
		"web\x01openrainbow.com", /* control byte */
		"web\topenrainbow.com",  /* tab */
		"web\x80openrainbow.com", /* non-ASCII */
		"web\x7fopenrainbow.com", /* DEL */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hb *h = hello_with_name(bad[i], 19);

		assert_no_sni(h);
	}
	/* A NUL inside the name. */
	{
		struct hb *h = hello_with_name("web\0openrainbow.com", 19);

		assert_no_sni(h);
	}
}

static void test_sni_length_limits(void **state)
{
	(void)state;
	char name[300];
	struct dpix_facts f;
	struct hb *h;

	memset(name, 'a', sizeof(name));
	h = hello_with_name(name, 255);
	assert_int_equal(probe(h->b, h->n, &f), DPIX_MATCH);
	assert_int_equal(f.sni_len, 255);
	assert_int_equal(strlen(f.sni), 255);
	assert_memory_equal(f.sni, name, 255);
	h = hello_with_name(name, 256);
	assert_no_sni(h);
	h = hello_with_name(name, 0);
	assert_no_sni(h);
}

static void test_empty_name_then_host(void **state)
{
	(void)state;
	/* A zero-length host_name is skipped, not taken as "the first". */
	struct hb *list = hb_new(), *exts = hb_new(), *h;

	sni_entry(list, 0, "", 0);
	sni_entry(list, 0, "web.openrainbow.com", 19);
	put_sni_list(exts, list);
	h = one_record(exts);
	assert_sni(h, "web.openrainbow.com");
}

/* --- ALPN, versions, ECH, duplicates ----------------------------------- */

/* An ALPN extension (16) over the given names. */
static void put_alpn(struct hb *exts, const char *const *names, size_t n)
{
	struct hb *list = hb_new();

	for (size_t i = 0; i < n; i++) {
		put8(list, (unsigned)strlen(names[i]));
		putn(list, names[i], strlen(names[i]));
	}
	put16(exts, 0x0010);
	put16(exts, (unsigned)(list->n + 2));
	put16(exts, (unsigned)list->n);
	putn(exts, list->b, list->n);
}

/* A uint16 list extension: type, length, list length (1 or 2 bytes), values. */
static void put_u16_ext(struct hb *exts, unsigned type, size_t lenlen, const uint16_t *v, size_t n)
{
	put16(exts, type);
	put16(exts, (unsigned)(lenlen + 2 * n));
	if (lenlen == 1)
		put8(exts, (unsigned)(2 * n));
	else
		put16(exts, (unsigned)(2 * n));
	for (size_t i = 0; i < n; i++)
		put16(exts, v[i]);
}

/* Probe into facts that hold ff bytes, not a5: FACT_ECH is set in them. */
static enum dpix_answer probe_ff(const struct hb *h, struct dpix_facts *f)
{
	struct dpix_input in = { .transport = DPIX_TCP, .client_port = 40000,
	                            .server_port = 443 };
	static uint8_t scratch[SCRATCH_LEN];

	in.data[0] = h->b;
	in.len[0] = h->n;
	in.scratch = scratch;
	in.scratch_len = sizeof(scratch);
	memset(f, 0xff, sizeof(*f));
	return dissect_tls.probe(&in, f);
}

static void test_alpn_list(void **state)
{
	(void)state;
	static const char *const names[] = { "h2", "http/1.1" };
	struct hb *exts = hb_new(), *h;
	struct dpix_facts f;

	put_sni(exts, "web.openrainbow.com", 19);
	put_alpn(exts, names, 2);
	h = one_record(exts);
	assert_int_equal(probe(h->b, h->n, &f), DPIX_MATCH);
	assert_string_equal(f.alpn, "h2,http/1.1");
	assert_string_equal(f.sni, "web.openrainbow.com");

	/* No ALPN: an empty string, whatever was there before. */
	h = hello_with_name("web.openrainbow.com", 19);
	assert_int_equal(probe_ff(h, &f), DPIX_MATCH);
	assert_string_equal(f.alpn, "");
}

static void test_alpn_unprintable_skipped(void **state)
{
	(void)state;
	static const char *const names[] = { "h\x01x", "a,b", "sp ace", "h2", "\x80", "h3" };
	struct hb *exts = hb_new(), *h;
	struct dpix_facts f;

	put_alpn(exts, names, 6);
	h = one_record(exts);
	assert_int_equal(probe(h->b, h->n, &f), DPIX_MATCH);
	assert_string_equal(f.alpn, "h2,h3");
	/* JA4 still takes the first name, "h\x01x": both ends alphanumeric. */
	assert_memory_equal(f.ja4 + 8, "hx", 2);
}

static void test_alpn_truncated(void **state)
{
	(void)state;
	char a30[31], b32[33], b33[34];
	const char *names[3];
	struct hb *exts = hb_new(), *h;
	struct dpix_facts f;

	memset(a30, 'a', 30), a30[30] = '\0';
	memset(b32, 'b', 32), b32[32] = '\0';
	memset(b33, 'b', 33), b33[33] = '\0';
	/* 30 + "," + 32 = 63 = ALPN_MAX: fits exactly; a third name does not. */
	names[0] = a30, names[1] = b32, names[2] = "c";
	put_alpn(exts, names, 3);
	h = one_record(exts);
	assert_int_equal(probe(h->b, h->n, &f), DPIX_MATCH);
	assert_int_equal(strlen(f.alpn), ALPN_MAX);
	assert_memory_equal(f.alpn, a30, 30);
	assert_int_equal(f.alpn[30], ',');
	assert_memory_equal(f.alpn + 31, b32, 32);

	/* 30 + "," + 33 = 64: the list ends after the first name, and a
	 * shorter name after the one that did not fit is not taken either. */
	exts->n = 0;
	names[1] = b33;
	put_alpn(exts, names, 3);
	h = one_record(exts);
	assert_int_equal(probe(h->b, h->n, &f), DPIX_MATCH);
	assert_string_equal(f.alpn, a30);
}

static void test_alpn_malformed(void **state)
{
	(void)state;
	static const char *const names[] = { "h2", "http/1.1" };
	static const uint8_t empty_list[2] = { 0x00, 0x00 };
	static const uint8_t one_byte[1] = { 0x00 };
	static const uint8_t empty_name[4] = { 0x00, 0x02, 0x00, 0x00 };
	static const uint8_t name_past[5] = { 0x00, 0x03, 0x03, 'h', '2' };
	struct hb *exts = hb_new(), *h;

	put_sni(exts, "web.openrainbow.com", 19);
	put_alpn(exts, names, 2); /* list length at byte 28 + 4 */
	h = one_record(exts);
	assert_sni(h, "web.openrainbow.com"); /* as built: fine */
	exts->b[28 + 5] = 13;                 /* list claims 13 of 12 bytes */
	h = one_record(exts);
	assert_not_mine(h);
	exts->b[28 + 5] = 11; /* list claims 11: one byte left over */
	h = one_record(exts);
	assert_not_mine(h);
	exts->b[28 + 5] = 12;
	exts->b[28 + 9] = 9; /* second name runs past the list */
	h = one_record(exts);
	assert_not_mine(h);

	exts->n = 0;
	put_ext(exts, 0x0010, empty_list, 2);
	assert_not_mine(one_record(exts));
	exts->n = 0;
	put_ext(exts, 0x0010, one_byte, 1);
	assert_not_mine(one_record(exts));
	exts->n = 0;
	put_ext(exts, 0x0010, NULL, 0);
	assert_not_mine(one_record(exts));
	exts->n = 0;
	put_ext(exts, 0x0010, empty_name, 4);
	assert_not_mine(one_record(exts));
	exts->n = 0;
	put_ext(exts, 0x0010, name_past, 5);
	assert_not_mine(one_record(exts));
}

static void test_supported_versions_grease(void **state)
{
	(void)state;
	static const uint16_t v[4] = { 0xfafa, 0x0304, 0x0303, 0x1a1a };
	struct hb *exts = hb_new(), *h;
	struct dpix_facts f;

	put_u16_ext(exts, 0x002b, 1, v, 4);
	h = one_record(exts);
	assert_int_equal(probe(h->b, h->n, &f), DPIX_MATCH);
	assert_int_equal(f.tls_version, 0x0304);
	assert_memory_equal(f.ja4, "t13i", 4);

	/* Only GREASE offered: the legacy version stands. */
	exts->n = 0;
	put_u16_ext(exts, 0x002b, 1, v, 1);
	h = one_record(exts);
	assert_int_equal(probe(h->b, h->n, &f), DPIX_MATCH);
	assert_int_equal(f.tls_version, 0x0303);
}

static void test_supported_versions_malformed(void **state)
{
	(void)state;
	static const uint8_t odd[4] = { 0x03, 0x03, 0x04, 0x03 };
	static const uint8_t longer[3] = { 0x04, 0x03, 0x04 };
	static const uint8_t shorter[4] = { 0x02, 0x03, 0x04, 0x03 };
	static const uint8_t none[1] = { 0x00 };
	struct hb *exts = hb_new();

	put_ext(exts, 0x002b, odd, 4);
	assert_not_mine(one_record(exts));
	exts->n = 0;
	put_ext(exts, 0x002b, longer, 3);
	assert_not_mine(one_record(exts));
	exts->n = 0;
	put_ext(exts, 0x002b, shorter, 4);
	assert_not_mine(one_record(exts));
	exts->n = 0;
	put_ext(exts, 0x002b, none, 1);
	assert_not_mine(one_record(exts));
}

static void test_legacy_version(void **state)
{
	(void)state;
	struct hb *body = hb_new(), *h;
	struct dpix_facts f;

	h = hello_with_name("web.openrainbow.com", 19);
	assert_int_equal(probe_ff(h, &f), DPIX_MATCH);
	assert_int_equal(f.tls_version, 0x0303);

	body_start(body, 0, 2);
	body->b[1] = 0x01; /* legacy_version 3.1 */
	h = one_record_body(body);
	assert_int_equal(probe(h->b, h->n, &f), DPIX_MATCH);
	assert_int_equal(f.tls_version, 0x0301);
	assert_memory_equal(f.ja4, "t10i", 4);
}

static void test_ech_flag(void **state)
{
	(void)state;
	static const uint8_t ech[4] = { 0x00, 0x00, 0x01, 0x00 };
	struct hb *exts = hb_new(), *h;
	struct dpix_facts f;

	put_sni(exts, "public.example.com", 18);
	put_ext(exts, 0xfe0d, ech, 4);
	h = one_record(exts);
	assert_int_equal(probe(h->b, h->n, &f), DPIX_MATCH);
	assert_true(f.flags & FACT_ECH);
	assert_string_equal(f.sni, "public.example.com"); /* the outer SNI stays */
	assert_int_equal(f.flags & ~FACT_ECH, 0xa5 & ~FACT_ECH); /* others untouched */

	/* Without it the flag is cleared, whatever was there. */
	h = hello_with_name("web.openrainbow.com", 19);
	assert_int_equal(probe_ff(h, &f), DPIX_MATCH);
	assert_false(f.flags & FACT_ECH);
	assert_int_equal(f.flags, 0xff & ~FACT_ECH);
}

static void test_duplicate_extension(void **state)
{
	(void)state;
	static const char *const names[] = { "h2" };
	struct hb *exts = hb_new(), *h;

	put_sni(exts, "web.openrainbow.com", 19);
	put_ext(exts, 0x0017, NULL, 0);
	put_ext(exts, 0x0017, NULL, 0);
	assert_not_mine(one_record(exts));

	exts->n = 0;
	put_sni(exts, "web.openrainbow.com", 19);
	put_sni(exts, "other.example.com", 17);
	assert_not_mine(one_record(exts));

	exts->n = 0;
	put_alpn(exts, names, 1);
	put_ext(exts, 0x0a0a, NULL, 0);
	put_alpn(exts, names, 1);
	assert_not_mine(one_record(exts));

	exts->n = 0; /* the same GREASE value twice is a duplicate too */
	put_ext(exts, 0x0a0a, NULL, 0);
	put_ext(exts, 0x0a0a, NULL, 0);
	assert_not_mine(one_record(exts));

	/* Two different GREASE values, as browsers send: fine. */
	exts->n = 0;
	put_ext(exts, 0x0a0a, NULL, 0);
	put_ext(exts, 0x1a1a, NULL, 0);
	h = one_record(exts);
	assert_no_sni(h);
}

/* --- JA4 ---------------------------------------------------------------- */

/* A hello with the given cipher suites and extensions block. */
static struct hb *hello_ciphers(const uint16_t *cs, size_t nc, const struct hb *exts)
{
	struct hb *body = hb_new();

	put16(body, 0x0303);
	putfill(body, 0x5a, 32);
	put8(body, 32);
	putfill(body, 0x11, 32);
	put16(body, (unsigned)(2 * nc));
	for (size_t i = 0; i < nc; i++)
		put16(body, cs[i]);
	put8(body, 1);
	put8(body, 0);
	put16(body, (unsigned)exts->n);
	putn(body, exts->b, exts->n);
	return one_record_body(body);
}

/*
 * The example of JA4.md ("t13d1516h2_8daaf6152771_e5627efa2ab1"), built as
 * Chrome sends it: GREASE first in the suites and around the extensions.
 * The hashes, checked with python3:
 *   sha256(b"002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,"
 *          b"c030,cca8,cca9").hexdigest()[:12] == "8daaf6152771"
 *   sha256(b"0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,"
 *          b"4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601")
 *          .hexdigest()[:12] == "e5627efa2ab1"
 * and without signature_algorithms (13 gone from the list, no "_"):
 *   sha256(b"0005,000a,000b,0012,0015,0017,001b,0023,002b,002d,0033,4469,"
 *          b"ff01").hexdigest()[:12] == "bebfbbe173b2"
 */
static struct hb *ja4_example(bool sigalgs, const char *alpn)
{
	static const uint16_t cs[16] = { 0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f,
	                                 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
	                                 0x009c, 0x009d, 0x002f, 0x0035 };
	static const uint16_t sig[8] = { 0x0403, 0x0804, 0x0401, 0x0503,
	                                 0x0805, 0x0501, 0x0806, 0x0601 };
	static const uint16_t sv[3] = { 0x2a2a, 0x0304, 0x0303 };
	static const uint16_t plain[] = { 0x0017, 0xff01, 0x000a, 0x000b, 0x0023 };
	static const uint16_t more[] = { 0x0012, 0x0033, 0x002d };
	const char *names[2] = { alpn, "http/1.1" };
	struct hb *exts = hb_new();

	put_ext(exts, 0x1a1a, NULL, 0);
	put_sni(exts, "www.example.com", 15);
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		put_ext(exts, plain[i], NULL, 0);
	put_alpn(exts, names, 2);
	put_ext(exts, 0x0005, NULL, 0);
	if (sigalgs)
		put_u16_ext(exts, 0x000d, 2, sig, 8);
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
		put_ext(exts, more[i], NULL, 0);
	put_u16_ext(exts, 0x002b, 1, sv, 3);
	put_ext(exts, 0x001b, NULL, 0);
	put_ext(exts, 0x4469, NULL, 0);
	put_ext(exts, 0x3a3a, NULL, 0);
	put_ext(exts, 0x0015, NULL, 0);
	return hello_ciphers(cs, 16, exts);
}

static void test_ja4_spec_example(void **state)
{
	(void)state;
	struct dpix_facts f;
	struct hb *h = ja4_example(true, "h2");

	assert_int_equal(probe(h->b, h->n, &f), DPIX_MATCH);
	assert_string_equal(f.ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
	assert_int_equal(f.tls_version, 0x0304);
	assert_string_equal(f.alpn, "h2,http/1.1");

	h = ja4_example(false, "h2");
	assert_int_equal(probe(h->b, h->n, &f), DPIX_MATCH);
	assert_string_equal(f.ja4, "t13d1515h2_8daaf6152771_bebfbbe173b2");

	/* A first ALPN name ending in a non-alphanumeric: the first and last
	 * hex digits of the name, "h2-" = 68 32 2d -> "6d". */
	h = ja4_example(true, "h2-");
	assert_int_equal(probe(h->b, h->n, &f), DPIX_MATCH);
	assert_string_equal(f.ja4, "t13d15166d_8daaf6152771_e5627efa2ab1");
	assert_string_equal(f.alpn, "h2-,http/1.1");
}

static void test_ja4_no_extensions(void **state)
{
	(void)state;
	struct dpix_facts f;
	struct hb *h = one_record(NULL), *exts = hb_new();

	/* sha256(b"1301").hexdigest()[:12] == "0f2cb44170f4"; no extension
	 * left to list: twelve zeros. */
	assert_int_equal(probe(h->b, h->n, &f), DPIX_MATCH);
	assert_string_equal(f.ja4, "t12i010000_0f2cb44170f4_000000000000");

	/* Only SNI and ALPN: counted in ja4_a, still nothing to hash. */
	put_sni(exts, "web.openrainbow.com", 19);
	{
		static const char *const names[] = { "h2" };

		put_alpn(exts, names, 1);
	}
	h = one_record(exts);
	assert_int_equal(probe(h->b, h->n, &f), DPIX_MATCH);
	assert_string_equal(f.ja4, "t12d0102h2_0f2cb44170f4_000000000000");
}

/*
 * Cipher lists sorted on both sides of the insertion sort's limit (64:
 * longer lists go to qsort), given in descending order:
 *   sha256(",".join("%04x" % i for i in range(1, n + 1)))[:12]
 * is 87a6b9f8d896 for n = 64, 39881aa06506 for 65, 23fcf16c6918 for 100.
 */
static void test_ja4_long_cipher_lists(void **state)
{
	static const struct {
		size_t n;
		const char *ja4;
	} cases[] = {
		{ 64, "t12i640000_87a6b9f8d896_000000000000" },
		{ 65, "t12i650000_39881aa06506_000000000000" },
		{ 100, "t12i990000_23fcf16c6918_000000000000" },
	};
	uint16_t cs[100];
	struct dpix_facts f;

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct hb *exts = hb_new(), *h;

		for (size_t i = 0; i < cases[k].n; i++)
			cs[i] = (uint16_t)(cases[k].n - i);
		h = hello_ciphers(cs, cases[k].n, exts);
		assert_int_equal(probe(h->b, h->n, &f), DPIX_MATCH);
		assert_string_equal(f.ja4, cases[k].ja4);
	}
}

/* Hex text to bytes; the whole string must decode. */
static struct hb *from_hex(const char *hex)
{
	struct hb *h = hb_new();

	assert_int_equal(strlen(hex) % 2, 0);
	for (size_t i = 0; hex[i]; i += 2) {
		char two[3] = { hex[i], hex[i + 1], '\0' };
		char *end;

		put8(h, (unsigned)strtoul(two, &end, 16));
		assert_true(*end == '\0');
	}
	return h;
}

/*
 * The hello of pcaps/tls-sni.pcap (openssl s_client, no ALPN), from
 *   tshark -r pcaps/tls-sni.pcap -Y tls.handshake.type==1 -T fields -e tcp.payload
 * tshark 4.0 (Debian 12) has no tls.handshake.ja4 field, so the expected
 * value comes from an independent python3 reading of the same bytes:
 *   ciphers 1302,1303,1301,00ff -> sha256(b"00ff,1301,1302,1303")[:12]
 *     == "16476d049b0b"
 *   extensions 0000,000b,000a,0023,0016,0017,000d,002b,002d,0033 (10);
 *   sha256(b"000a,000b,000d,0016,0017,0023,002b,002d,0033_0403,0503,0603,"
 *          b"0807,0808,0809,080a,080b,0804,0805,0806,0401,0501,0601")[:12]
 *     == "78f1d400d464"
 */
static const char tls_sni_hello[] =
	"16030100f8010000f40303cf8fc01600ade3b696af06a3cff75f95115b727ca452ddf00790759a3dd8dd5e"
	"205849bc600ede38f8d6fe9b84077b5f88940f6ff3003446b86a07b3f1277d5633000813021303130100ff"
	"010000a30000001800160000137765622e6f70656e7261696e626f772e636f6d000b000403000102000a00"
	"160014001d0017001e0019001801000101010201030104002300000016000000170000000d001e001c0403"
	"05030603080708080809080a080b080408050806040105010601002b0003020304002d0002010100330026"
	"0024001d00209e5539ff94012aab7368a9f893601dafc4e67af594c3d8f29d8a77afd3af6935";

static void test_ja4_tls_sni_pcap(void **state)
{
	(void)state;
	struct hb *h = from_hex(tls_sni_hello);
	struct dpix_facts f;

	assert_int_equal(h->n, 253);
	assert_int_equal(probe(h->b, h->n, &f), DPIX_MATCH);
	assert_string_equal(f.sni, "web.openrainbow.com");
	assert_string_equal(f.alpn, "");
	assert_int_equal(f.tls_version, 0x0304);
	assert_false(f.flags & FACT_ECH);
	assert_string_equal(f.ja4, "t13d041000_16476d049b0b_78f1d400d464");
}

/*
 * A real Chrome hello: frame 4 of /work/shared/peer-pcaps/ndpi/chrome.pcap
 * (nDPI's test capture; 443-chrome.pcap holds one server segment and no
 * hello). Its JA4 is the very example of JA4.md, worked out above
 * (ja4_example): t13d1516h2_8daaf6152771_e5627efa2ab1. It has GREASE in
 * the suites, the extensions, supported_versions and supported_groups.
 */
static const char chrome_hello[] =
	"1603010200010001fc0303d77aa0f252cff8ff81a9c82edc42621f8c80d83b0322361c96ae2f2bda7849ce"
	"207094dfde2fae965e90337a4b4c5c840b86caabaca5ab87a6e290440145ae762900209a9a130313011302"
	"cca9cca8c02bc02fc02cc030c013c014009c009d002f0035010001934a4a000000000013001100000e7777"
	"772e6969742e636e722e697400170000ff01000100000a000a00086a6a001d00170018000b000201000023"
	"00000010000e000c02683208687474702f312e31000500050100000000000d001200100403080404010503"
	"0805050108060601001200000033002b00296a6a000100001d00203af18d95cb86205f04c0a3e2b8c68b90"
	"26c6a90ef630fe20a68d31ea2525b648002d00020101002b000b0a6a6a0304030303020301001b00030200"
	"024469000500030268326a6a000100001500c5000000000000000000000000000000000000000000000000"
	"00000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	"00000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	"00000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	"00000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	"00";

static void test_ja4_chrome_pcap(void **state)
{
	(void)state;
	struct hb *h = from_hex(chrome_hello);
	struct dpix_facts f;

	assert_int_equal(h->n, 517);
	assert_int_equal(probe(h->b, h->n, &f), DPIX_MATCH);
	assert_string_equal(f.sni, "www.iit.cnr.it");
	assert_string_equal(f.alpn, "h2,http/1.1");
	assert_int_equal(f.tls_version, 0x0304);
	assert_string_equal(f.ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1");
}

/* --- through dissect_run() ------------------------------------------- */

static enum dpix_answer run(uint32_t *cand, const uint8_t *p, size_t n, bool closed,
                               struct dpix_facts *f)
{
	struct dpix_input in = { .transport = DPIX_TCP, .client_port = 40000,
	                            .server_port = 443 };
	enum dpix_answer a;
	uint8_t *scratch = malloc(SCRATCH_LEN);

	assert_non_null(scratch);
	in.data[0] = p;
	in.len[0] = n;
	in.closed[0] = closed;
	in.scratch = scratch;
	in.scratch_len = SCRATCH_LEN;
	a = dissect_run(cand, &in, 1, f);
	free(scratch);
	return a;
}

static void test_run_match(void **state)
{
	(void)state;
	uint32_t cand = dissect_candidates(DPIX_TCP);
	struct dpix_facts f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(run(&cand, minimal_hello, sizeof(minimal_hello), false, &f),
	                 DPIX_MATCH);
	assert_int_equal(f.app, APP_TLS);
	assert_int_equal(f.sni_len, 19);
	assert_string_equal(f.sni, "web.openrainbow.com");
	assert_string_equal(app_proto_name(f.app), "tls");

	/* Another flow (fresh facts): a partial hello on a closed stream is
	 * TLS without an SNI, decided at once; short of the headers it is not
	 * mine. */
	memset(&f, 0, sizeof(f));
	cand = dissect_candidates(DPIX_TCP);
	assert_int_equal(run(&cand, minimal_hello, 40, true, &f), DPIX_MATCH);
	assert_int_equal(f.app, APP_TLS);
	assert_int_equal(f.sni_len, 0);
	memset(&f, 0, sizeof(f));
	cand = dissect_candidates(DPIX_TCP);
	assert_int_equal(run(&cand, minimal_hello, HEADERS_LEN - 1, true, &f), DPIX_NOT_MINE);
	assert_int_equal(cand, 0);
}

/* A flow picked up mid-stream whose "client" closed without a byte: the
 * other side may still show TLS records, so only both sides closing ends
 * the wait; on a flow seen from its SYN the client's close does. */
static void test_run_closed_midstream(void **state)
{
	static const uint8_t alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28 };
	struct dpix_input in = { .transport = DPIX_TCP, .client_port = 40000,
	                            .server_port = 443, .midstream = true };
	uint8_t scratch[64];
	struct dpix_facts f;
	uint32_t cand;

	(void)state;
	in.scratch = scratch;
	in.scratch_len = sizeof(scratch);
	in.closed[0] = true;
	memset(&f, 0, sizeof(f));
	cand = dissect_candidates(DPIX_TCP);
	assert_int_equal(dissect_run(&cand, &in, 0, &f), DPIX_NEED_MORE);
	in.data[1] = alert;
	in.len[1] = sizeof(alert);
	assert_int_equal(dissect_run(&cand, &in, 0, &f), DPIX_MATCH);
	assert_int_equal(f.app, APP_TLS);

	in.data[1] = NULL;
	in.len[1] = 0;
	in.closed[1] = true;
	memset(&f, 0, sizeof(f));
	cand = dissect_candidates(DPIX_TCP);
	assert_int_equal(dissect_run(&cand, &in, 0, &f), DPIX_NOT_MINE);

	in.closed[1] = false;
	in.midstream = false;
	cand = dissect_candidates(DPIX_TCP);
	assert_int_equal(dissect_run(&cand, &in, 0, &f), DPIX_NOT_MINE);
}

/* The push hint comes from the server's port (either, mid-stream). */
static enum push_service push_of(uint16_t cport, uint16_t sport, bool midstream)
{
	struct dpix_input in = { .transport = DPIX_TCP, .client_port = cport,
	                            .server_port = sport, .midstream = midstream };
	uint8_t scratch[SCRATCH_LEN];
	struct dpix_facts f;

	in.data[0] = minimal_hello;
	in.len[0] = sizeof(minimal_hello);
	in.scratch = scratch;
	in.scratch_len = sizeof(scratch);
	memset(&f, 0xa5, sizeof(f));
	assert_int_equal(dissect_tls.probe(&in, &f), DPIX_MATCH);
	return (enum push_service)f.push;
}

static void test_push_hint(void **state)
{
	(void)state;
	assert_int_equal(push_of(50000, 5223, false), PUSH_APNS);
	assert_int_equal(push_of(50000, 2197, false), PUSH_APNS);
	assert_int_equal(push_of(50000, 5228, false), PUSH_FCM);
	assert_int_equal(push_of(50000, 5230, false), PUSH_FCM);
	assert_int_equal(push_of(50000, 5231, false), PUSH_NONE);
	assert_int_equal(push_of(50000, 5227, false), PUSH_NONE);
	assert_int_equal(push_of(50000, 443, false), PUSH_NONE); /* only an SNI tells */
	assert_int_equal(push_of(5223, 50000, false), PUSH_NONE);
	assert_int_equal(push_of(5223, 50000, true), PUSH_APNS);
}

/* The bit of a dissector in a candidate mask. */
static uint32_t bit_of(const struct dissector *d)
{
	for (unsigned i = 0; i < dissect_count(); i++)
		if (dissect_at(i) == d)
			return 1u << i;
	fail_msg("dissector %s is not in the table", d->name);
	return 0;
}

/* Facts as a flow has them before any dissector spoke. */
static void facts_before(struct dpix_facts *f)
{
	memset(f, 0, sizeof(*f));
	memcpy(f->sni, "before.example", 15);
	f->sni_len = 14;
}

static void test_run_facts_only_on_match(void **state)
{
	(void)state;
	static const uint8_t four[4] = { 1, 2, 3, 4 };
	struct hb *exts = hb_new(), *h;
	struct dpix_facts f, was;
	uint32_t cand;

	/* The SNI parses, then an extension runs past the block. */
	put_sni(exts, "web.openrainbow.com", 19);
	put16(exts, 0x0017);
	put16(exts, 10);
	putn(exts, four, 4);
	h = one_record(exts);
	facts_before(&f);
	was = f;
	cand = dissect_candidates(DPIX_TCP);
	assert_int_equal(run(&cand, h->b, h->n, false, &f), DPIX_NOT_MINE);
	assert_memory_equal(&f, &was, sizeof(f));

	/* Need more: nothing changes either. */
	cand = dissect_candidates(DPIX_TCP);
	assert_int_equal(run(&cand, minimal_hello, HEADERS_LEN - 1, false, &f), DPIX_NEED_MORE);
	assert_memory_equal(&f, &was, sizeof(f));
	assert_true(cand & bit_of(&dissect_tls));
	assert_false(cand & bit_of(&dissect_connect)); /* 0x16 is not 'C' */

	/* A hello cut short is TLS, and none of the old TLS facts stay. */
	assert_int_equal(run(&cand, minimal_hello, 60, false, &f), DPIX_MATCH_MORE);
	assert_int_equal(f.app, APP_TLS);
	assert_int_equal(f.sni_len, 0);
	assert_int_equal(cand, bit_of(&dissect_tls));
	f = was;
	cand = dissect_candidates(DPIX_TCP);

	/* A match replaces them. */
	assert_int_equal(run(&cand, minimal_hello, sizeof(minimal_hello), false, &f),
	                 DPIX_MATCH);
	assert_int_equal(f.app, APP_TLS);
	assert_int_equal(f.sni_len, 19);
	assert_string_equal(f.sni, "web.openrainbow.com");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptor),
		cmocka_unit_test(test_minimal_sni),
		cmocka_unit_test(test_no_extensions),
		cmocka_unit_test(test_empty_extensions_block),
		cmocka_unit_test(test_sni_other_type_first),
		cmocka_unit_test(test_sni_two_host_names),
		cmocka_unit_test(test_grease_and_unknown_skipped),
		cmocka_unit_test(test_every_prefix_single_record),
		cmocka_unit_test(test_two_records),
		cmocka_unit_test(test_three_records),
		cmocka_unit_test(test_big_hello),
		cmocka_unit_test(test_scratch_too_small),
		cmocka_unit_test(test_records_overflow_window),
		cmocka_unit_test(test_other_record_between_fragments),
		cmocka_unit_test(test_bad_version_between_fragments),
		cmocka_unit_test(test_not_handshake_record),
		cmocka_unit_test(test_sslv2_hello),
		cmocka_unit_test(test_record_version),
		cmocka_unit_test(test_record_length),
		cmocka_unit_test(test_server_hello),
		cmocka_unit_test(test_midstream_records),
		cmocka_unit_test(test_hello_cut_short),
		cmocka_unit_test(test_handshake_too_short),
		cmocka_unit_test(test_record_shorter_than_handshake_header),
		cmocka_unit_test(test_session_id_33),
		cmocka_unit_test(test_cipher_suites_length),
		cmocka_unit_test(test_no_compression_methods),
		cmocka_unit_test(test_extensions_length_mismatch),
		cmocka_unit_test(test_extension_runs_past_block),
		cmocka_unit_test(test_sni_list_length_mismatch),
		cmocka_unit_test(test_sni_bad_characters),
		cmocka_unit_test(test_sni_length_limits),
		cmocka_unit_test(test_empty_name_then_host),
		cmocka_unit_test(test_alpn_list),
		cmocka_unit_test(test_alpn_unprintable_skipped),
		cmocka_unit_test(test_alpn_truncated),
		cmocka_unit_test(test_alpn_malformed),
		cmocka_unit_test(test_supported_versions_grease),
		cmocka_unit_test(test_supported_versions_malformed),
		cmocka_unit_test(test_legacy_version),
		cmocka_unit_test(test_ech_flag),
		cmocka_unit_test(test_duplicate_extension),
		cmocka_unit_test(test_ja4_spec_example),
		cmocka_unit_test(test_ja4_no_extensions),
		cmocka_unit_test(test_ja4_long_cipher_lists),
		cmocka_unit_test(test_ja4_tls_sni_pcap),
		cmocka_unit_test(test_ja4_chrome_pcap),
		cmocka_unit_test(test_run_match),
		cmocka_unit_test(test_run_closed_midstream),
		cmocka_unit_test(test_push_hint),
		cmocka_unit_test(test_run_facts_only_on_match),
	};

	return cmocka_run_group_tests_name("tls", tests, NULL, NULL);
}
