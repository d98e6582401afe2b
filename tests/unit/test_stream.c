/*
 * test_stream.c: bounded in-order reassembly of one TCP direction.
 *
 * Most tests use a 64-byte window so that every byte can be written out;
 * the growth tests use the default 16 KiB. Expected contents are literal
 * strings or a byte pattern written independently of the code under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "stream/stream.h"

/* What the block for a buffer of cap bytes costs: data plus have-bitmap. */
#define BLOCK(cap) ((size_t)(cap) + ((size_t)(cap) + 7) / 8)

static bool add(struct stream_dir *sd, struct stream_config *cfg, uint32_t seq,
                const char *s)
{
	return stream_add(sd, cfg, seq, (const uint8_t *)s, strlen(s));
}

/* The contiguous prefix is exactly the string expect. */
static void assert_data(const struct stream_dir *sd, const char *expect)
{
	size_t len = 99999;
	const uint8_t *p = stream_data(sd, &len);

	assert_int_equal(len, strlen(expect));
	if (len)
		assert_memory_equal(p, expect, len);
}

/* A byte pattern that differs at every offset within a few hundred bytes. */
static uint8_t pat(size_t i)
{
	return (uint8_t)(i * 7 + i / 251);
}

/* --- configuration -------------------------------------------------- */

static void test_config_init(void **state)
{
	(void)state;
	struct stream_config cfg;

	memset(&cfg, 0xff, sizeof(cfg));
	stream_config_init(&cfg, 0, 0);
	assert_int_equal(cfg.window, 16384);
	assert_int_equal(cfg.memcap, (size_t)64 << 20);
	assert_int_equal(cfg.used, 0);
	assert_int_equal(cfg.gaps, 0);
	assert_int_equal(cfg.memcap_hits, 0);
	assert_int_equal(cfg.overlaps, 0);
	stream_config_init(&cfg, 64, 1000);
	assert_int_equal(cfg.window, 64);
	assert_int_equal(cfg.memcap, 1000);
	stream_config_init(&cfg, (1u << 20) + 1, 0);
	assert_int_equal(cfg.window, 1u << 20);
}

/* --- in order and out of order -------------------------------------- */

static void test_in_order(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir sd = { 0 };

	stream_config_init(&cfg, 64, 0);
	stream_syn(&sd, 999);
	assert_int_equal(sd.base, 1000);
	assert_true(add(&sd, &cfg, 1000, "abcd"));
	assert_int_equal(sd.contig, 4);
	assert_true(add(&sd, &cfg, 1004, "efgh"));
	assert_true(add(&sd, &cfg, 1008, "i"));
	assert_data(&sd, "abcdefghi");
	assert_int_equal(sd.hi, 9);
	assert_int_equal(sd.segs, 3);
	assert_int_equal(sd.flags, STREAM_BASE_SET);
	assert_int_equal(cfg.overlaps, 0);
	/* The first buffer is the whole 64-byte window (smaller than 2048). */
	assert_int_equal(sd.cap, 64);
	assert_int_equal(cfg.used, BLOCK(64));
	stream_free(&sd, &cfg);
	assert_int_equal(cfg.used, 0);
}

static void test_out_of_order(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir sd = { 0 };

	stream_config_init(&cfg, 64, 0);
	stream_syn(&sd, 999);
	/* bytes 4..7 first: held, nothing contiguous yet */
	assert_false(add(&sd, &cfg, 1004, "efgh"));
	assert_int_equal(sd.contig, 0);
	assert_int_equal(sd.hi, 8);
	assert_data(&sd, "");
	/* bytes 10..11: a second island */
	assert_false(add(&sd, &cfg, 1010, "kl"));
	assert_int_equal(sd.contig, 0);
	assert_int_equal(sd.hi, 12);
	/* bytes 0..3 fill the first hole: contig runs to the next hole at 8 */
	assert_true(add(&sd, &cfg, 1000, "abcd"));
	assert_int_equal(sd.contig, 8);
	assert_data(&sd, "abcdefgh");
	/* byte 8 alone: still a hole at 9 */
	assert_true(add(&sd, &cfg, 1008, "i"));
	assert_int_equal(sd.contig, 9);
	/* byte 9 closes it: contig jumps over the held island */
	assert_true(add(&sd, &cfg, 1009, "j"));
	assert_int_equal(sd.contig, 12);
	assert_int_equal(sd.hi, 12);
	assert_data(&sd, "abcdefghijkl");
	/* and in-order appending works again after that */
	assert_true(add(&sd, &cfg, 1012, "mn"));
	assert_data(&sd, "abcdefghijklmn");
	assert_int_equal(cfg.overlaps, 0);
	assert_int_equal(sd.flags, STREAM_BASE_SET);
	stream_free(&sd, &cfg);
	assert_int_equal(cfg.used, 0);
}

/* --- overlaps ------------------------------------------------------- */

static void test_retransmission_first_copy_wins(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir sd = { 0 };

	stream_config_init(&cfg, 64, 0);
	stream_syn(&sd, 99);
	assert_true(add(&sd, &cfg, 100, "abcd"));
	/* same bytes again */
	assert_false(add(&sd, &cfg, 100, "abcd"));
	assert_int_equal(cfg.overlaps, 1);
	/* same range, different bytes: the first copy stays */
	assert_false(add(&sd, &cfg, 100, "WXYZ"));
	assert_int_equal(cfg.overlaps, 2);
	assert_data(&sd, "abcd");
	/* a held (not yet contiguous) range retransmitted with other bytes */
	assert_false(add(&sd, &cfg, 106, "gh"));
	assert_false(add(&sd, &cfg, 106, "GH"));
	assert_int_equal(cfg.overlaps, 3);
	assert_true(add(&sd, &cfg, 104, "ef"));
	assert_data(&sd, "abcdefgh");
	assert_int_equal(cfg.overlaps, 3);
	stream_free(&sd, &cfg);
}

static void test_partial_overlaps(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir sd = { 0 };

	stream_config_init(&cfg, 64, 0);
	stream_syn(&sd, 0xffff); /* base 0x10000 */
	assert_int_equal(sd.base, 0x10000);
	/* [0,4) "abcd" and [8,12) "ijkl" */
	assert_true(add(&sd, &cfg, 0x10000, "abcd"));
	assert_false(add(&sd, &cfg, 0x10008, "ijkl"));
	/* [2,10) overlaps both: only the new middle [4,8) is taken */
	assert_true(add(&sd, &cfg, 0x10002, "CDefghIJ"));
	assert_int_equal(cfg.overlaps, 1);
	assert_data(&sd, "abcdefghijkl");
	/* overlap at the front only: [10,14) "KLmn" */
	assert_true(add(&sd, &cfg, 0x1000a, "KLmn"));
	assert_int_equal(cfg.overlaps, 2);
	assert_data(&sd, "abcdefghijklmn");
	/* overlap at the back only: hold [16,20) "qrst", then [14,18) "opQR" */
	assert_false(add(&sd, &cfg, 0x10010, "qrst"));
	assert_true(add(&sd, &cfg, 0x1000e, "opQR"));
	assert_int_equal(cfg.overlaps, 3);
	assert_data(&sd, "abcdefghijklmnopqrst");
	/* a segment wholly inside held data */
	assert_false(add(&sd, &cfg, 0x10005, "F"));
	assert_int_equal(cfg.overlaps, 4);
	assert_data(&sd, "abcdefghijklmnopqrst");
	stream_free(&sd, &cfg);
}

/* --- sequence numbers ----------------------------------------------- */

static void test_wraparound(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir sd = { 0 };

	stream_config_init(&cfg, 64, 0);
	stream_syn(&sd, 0xffffffefu);
	assert_int_equal(sd.base, 0xfffffff0u);
	/* 16 bytes up to 0xffffffff */
	assert_true(add(&sd, &cfg, 0xfffffff0u, "0123456789abcdef"));
	assert_int_equal(sd.contig, 16);
	/* after the wrap, out of order: bytes 24..27 at seq 8, then 16..23 at 0 */
	assert_false(add(&sd, &cfg, 0x00000008u, "WXYZ"));
	assert_int_equal(sd.contig, 16);
	assert_true(add(&sd, &cfg, 0x00000000u, "wrapped!"));
	assert_data(&sd, "0123456789abcdefwrapped!WXYZ");
	/* a segment straddling the wrap, retransmitted */
	assert_false(add(&sd, &cfg, 0xfffffffeu, "EFwr"));
	assert_int_equal(cfg.overlaps, 1);
	assert_data(&sd, "0123456789abcdefwrapped!WXYZ");
	stream_free(&sd, &cfg);
}

static void test_syn_isn_wraps(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir sd = { 0 };

	stream_config_init(&cfg, 64, 0);
	/* ISN 0xffffffff: data starts at sequence 0 */
	stream_syn(&sd, 0xffffffffu);
	assert_int_equal(sd.base, 0);
	assert_true(add(&sd, &cfg, 0, "x"));
	assert_data(&sd, "x");
	stream_free(&sd, &cfg);
}

static void test_before_base_trimmed(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir sd = { 0 };

	stream_config_init(&cfg, 64, 0);
	stream_syn(&sd, 999); /* base 1000 */
	/* wholly before the base (ends exactly at it): nothing kept */
	assert_false(add(&sd, &cfg, 990, "0123456789"));
	assert_int_equal(sd.contig, 0);
	assert_int_equal(sd.hi, 0);
	assert_int_equal(cfg.used, 0);
	/* starts 4 bytes before: "xxxx" dropped, "abcd" kept */
	assert_true(add(&sd, &cfg, 996, "xxxxabcd"));
	assert_data(&sd, "abcd");
	/* a SYN's own sequence number with data: the first byte is trimmed */
	assert_true(add(&sd, &cfg, 999, "Sabcdef"));
	assert_data(&sd, "abcdef");
	assert_int_equal(cfg.overlaps, 1);
	stream_free(&sd, &cfg);
}

static void test_midstream(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir sd = { 0 };

	stream_config_init(&cfg, 64, 0);
	/* no SYN: the first segment is byte 0 */
	assert_int_equal(sd.flags, 0);
	assert_true(add(&sd, &cfg, 123456789, "hello"));
	assert_int_equal(sd.base, 123456789);
	assert_true(sd.flags & STREAM_BASE_SET);
	assert_data(&sd, "hello");
	/* earlier bytes arriving later are before the base now */
	assert_false(add(&sd, &cfg, 123456784, "early"));
	assert_data(&sd, "hello");
	assert_true(add(&sd, &cfg, 123456794, " world"));
	assert_data(&sd, "hello world");
	/* a SYN seen now does not move the base */
	stream_syn(&sd, 5);
	assert_int_equal(sd.base, 123456789);
	stream_free(&sd, &cfg);
}

static void test_syn_with_payload(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir sd = { 0 };

	stream_config_init(&cfg, 64, 0);
	/* SYN isn 5000 carrying "GET /": the caller adds the payload at isn + 1 */
	stream_syn(&sd, 5000);
	assert_int_equal(sd.base, 5001);
	assert_true(add(&sd, &cfg, 5001, "GET /"));
	assert_data(&sd, "GET /");
	/* the SYN retransmitted, with its payload */
	stream_syn(&sd, 5000);
	assert_false(add(&sd, &cfg, 5001, "GET /"));
	assert_int_equal(sd.base, 5001);
	/* a second SYN with another ISN does not move the base */
	stream_syn(&sd, 9000);
	assert_int_equal(sd.base, 5001);
	assert_true(add(&sd, &cfg, 5006, " HTTP"));
	assert_data(&sd, "GET / HTTP");
	stream_free(&sd, &cfg);
}

/* --- the window ----------------------------------------------------- */

static void test_window_full(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir sd = { 0 };
	uint8_t big[100];
	size_t len;
	const uint8_t *p;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = pat(i);
	stream_config_init(&cfg, 64, 0);
	stream_syn(&sd, 0);
	/* 60 bytes, then 10 of which only 4 fit */
	assert_true(stream_add(&sd, &cfg, 1, big, 60));
	assert_false(sd.flags & STREAM_FULL);
	assert_true(stream_add(&sd, &cfg, 61, big + 60, 10));
	assert_int_equal(sd.contig, 64);
	assert_int_equal(sd.hi, 64);
	assert_true(sd.flags & STREAM_FULL);
	p = stream_data(&sd, &len);
	assert_int_equal(len, 64);
	assert_memory_equal(p, big, 64);
	/* past the window after it filled: dropped, and no gap */
	assert_false(stream_add(&sd, &cfg, 65, big, 10));
	assert_int_equal(cfg.gaps, 0);
	assert_false(sd.flags & STREAM_GAP);
	assert_int_equal(sd.cap, 64);
	assert_int_equal(cfg.used, BLOCK(64));
	stream_free(&sd, &cfg);

	/* one 100-byte segment: the first 64 bytes kept */
	stream_syn(&sd, 0);
	assert_true(stream_add(&sd, &cfg, 1, big, 100));
	p = stream_data(&sd, &len);
	assert_int_equal(len, 64);
	assert_memory_equal(p, big, 64);
	assert_true(sd.flags & STREAM_FULL);
	stream_free(&sd, &cfg);

	/* filled out of order: held tail [32,64) first, then [0,32) */
	stream_syn(&sd, 0);
	assert_false(stream_add(&sd, &cfg, 33, big + 32, 40));
	assert_false(sd.flags & STREAM_FULL);
	assert_true(stream_add(&sd, &cfg, 1, big, 32));
	p = stream_data(&sd, &len);
	assert_int_equal(len, 64);
	assert_memory_equal(p, big, 64);
	assert_true(sd.flags & STREAM_FULL);
	stream_free(&sd, &cfg);
	assert_int_equal(cfg.used, 0);
}

static void test_gap(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir sd = { 0 };

	stream_config_init(&cfg, 64, 0);
	stream_syn(&sd, 0);
	assert_true(add(&sd, &cfg, 1, "abcd"));
	assert_false(add(&sd, &cfg, 11, "held"));
	/* starts at offset 64 (the window) with [4,10) missing: stop */
	assert_false(add(&sd, &cfg, 65, "beyond"));
	assert_true(sd.flags & STREAM_GAP);
	assert_int_equal(cfg.gaps, 1);
	/* further segments are ignored, even one that fills the hole */
	assert_false(add(&sd, &cfg, 80, "further"));
	assert_false(add(&sd, &cfg, 5, "efghij"));
	assert_int_equal(cfg.gaps, 1);
	assert_int_equal(sd.contig, 4);
	assert_data(&sd, "abcd");
	assert_int_equal(cfg.overlaps, 0);
	stream_free(&sd, &cfg);

	/* a second direction stopping counts once more */
	stream_syn(&sd, 0);
	assert_false(add(&sd, &cfg, 1000, "far"));
	assert_true(sd.flags & STREAM_GAP);
	assert_int_equal(cfg.gaps, 2);
	assert_int_equal(sd.contig, 0);
	stream_free(&sd, &cfg);
	assert_int_equal(cfg.used, 0);
}

static void test_gap_boundary(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir sd = { 0 };

	stream_config_init(&cfg, 64, 0);
	stream_syn(&sd, 0);
	/* starts at offset 63, the last byte of the window: kept, not a gap */
	assert_false(add(&sd, &cfg, 64, "zzz"));
	assert_false(sd.flags & STREAM_GAP);
	assert_int_equal(sd.hi, 64);
	assert_int_equal(cfg.gaps, 0);
	stream_free(&sd, &cfg);
}

/* --- memory --------------------------------------------------------- */

static void test_memcap_first_buffer(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir sd = { 0 };

	/* default window: the first buffer is 2048 + 256 bytes, memcap 1000 */
	stream_config_init(&cfg, 0, 1000);
	assert_false(add(&sd, &cfg, 1, "data"));
	assert_true(sd.flags & STREAM_MEMCAP);
	assert_int_equal(cfg.memcap_hits, 1);
	assert_int_equal(cfg.used, 0);
	assert_null(sd.buf);
	assert_int_equal(sd.contig, 0);
	/* the direction is stopped: no more attempts, no more hits */
	assert_false(add(&sd, &cfg, 5, "more"));
	assert_int_equal(cfg.memcap_hits, 1);
	stream_free(&sd, &cfg);
	assert_int_equal(cfg.used, 0);

	/* window 64: a 72-byte block; memcap 71 refuses it, 72 takes it */
	stream_config_init(&cfg, 64, 71);
	assert_false(add(&sd, &cfg, 1, "x"));
	assert_true(sd.flags & STREAM_MEMCAP);
	stream_free(&sd, &cfg);
	stream_config_init(&cfg, 64, 72);
	assert_true(add(&sd, &cfg, 1, "x"));
	assert_false(sd.flags & STREAM_MEMCAP);
	assert_int_equal(cfg.used, 72);
	stream_free(&sd, &cfg);
	assert_int_equal(cfg.used, 0);
}

static void test_memcap_shared(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir a = { 0 }, b = { 0 };

	/* room for exactly one 2048-byte block */
	stream_config_init(&cfg, 0, BLOCK(2048));
	assert_true(add(&a, &cfg, 1, "client"));
	assert_int_equal(cfg.used, BLOCK(2048));
	assert_false(add(&b, &cfg, 1, "server"));
	assert_true(b.flags & STREAM_MEMCAP);
	assert_false(a.flags & STREAM_MEMCAP);
	assert_int_equal(cfg.memcap_hits, 1);
	/* growing a past 2048 would exceed it too: a stops, keeps its data */
	assert_false(add(&a, &cfg, 3001, "far"));
	assert_true(a.flags & STREAM_MEMCAP);
	assert_int_equal(cfg.memcap_hits, 2);
	assert_data(&a, "client");
	assert_int_equal(a.cap, 2048);
	assert_int_equal(cfg.used, BLOCK(2048));
	stream_free(&a, &cfg);
	stream_free(&b, &cfg);
	assert_int_equal(cfg.used, 0);
}

static void test_used_returns_to_zero(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir d[3] = { { 0 }, { 0 }, { 0 } };
	static uint8_t buf[5000];

	stream_config_init(&cfg, 0, 0);
	/* three directions with 0, 2048-byte and 8192-byte buffers */
	assert_true(stream_add(&d[1], &cfg, 7, buf, 100));
	assert_true(stream_add(&d[2], &cfg, 7, buf, 5000));
	assert_int_equal(d[1].cap, 2048);
	assert_int_equal(d[2].cap, 8192);
	assert_int_equal(cfg.used, BLOCK(2048) + BLOCK(8192));
	for (int i = 0; i < 3; i++)
		stream_free(&d[i], &cfg);
	assert_int_equal(cfg.used, 0);
	/* a freed direction is empty and can start over */
	assert_null(d[2].buf);
	assert_int_equal(d[2].cap, 0);
	assert_int_equal(d[2].contig, 0);
	assert_int_equal(d[2].flags, 0);
	assert_true(stream_add(&d[2], &cfg, 1, buf, 10));
	assert_int_equal(d[2].base, 1);
	stream_free(&d[2], &cfg);
	/* freeing twice is harmless */
	stream_free(&d[2], &cfg);
	assert_int_equal(cfg.used, 0);
}

static void test_zero_length(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir sd = { 0 };

	stream_config_init(&cfg, 64, 0);
	/* before anything: does not set the base or take memory */
	assert_false(stream_add(&sd, &cfg, 500, NULL, 0));
	assert_int_equal(sd.flags, 0);
	assert_int_equal(sd.segs, 0);
	assert_null(sd.buf);
	assert_int_equal(cfg.used, 0);
	assert_true(add(&sd, &cfg, 1000, "ab"));
	/* after: at the next byte, in the past, and far past the window */
	assert_false(stream_add(&sd, &cfg, 1002, NULL, 0));
	assert_false(stream_add(&sd, &cfg, 1000, NULL, 0));
	assert_false(stream_add(&sd, &cfg, 5000, NULL, 0));
	assert_int_equal(sd.segs, 1);
	assert_int_equal(sd.flags, STREAM_BASE_SET);
	assert_int_equal(sd.hi, 2);
	assert_int_equal(cfg.gaps, 0);
	assert_int_equal(cfg.overlaps, 0);
	assert_data(&sd, "ab");
	stream_free(&sd, &cfg);
}

static void test_fin(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir sd = { 0 };

	stream_config_init(&cfg, 64, 0);
	assert_true(add(&sd, &cfg, 1, "by"));
	assert_false(add(&sd, &cfg, 4, "!"));
	stream_fin(&sd);
	assert_true(sd.flags & STREAM_FIN);
	/* a late retransmission still fills the hole: FIN does not stop */
	assert_true(add(&sd, &cfg, 3, "e"));
	assert_data(&sd, "bye!");
	assert_int_equal(sd.flags, STREAM_BASE_SET | STREAM_FIN);
	stream_free(&sd, &cfg);
}

/* --- growth --------------------------------------------------------- */

static void test_growth_reverse(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir sd = { 0 };
	static uint8_t src[10000];
	size_t len;
	const uint8_t *p;

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = pat(i);
	stream_config_init(&cfg, 16384, 0);
	stream_syn(&sd, 0x7ffffff0u);
	/* segments 9 .. 1 (bytes 9000..1) first: nothing contiguous */
	for (int k = 9; k >= 1; k--) {
		assert_false(stream_add(&sd, &cfg, 0x7ffffff1u + (uint32_t)k * 1000,
		                        src + k * 1000, 1000));
		assert_int_equal(sd.contig, 0);
		assert_int_equal(sd.hi, 10000);
	}
	assert_int_equal(sd.cap, 16384);
	/* segment 0 completes it */
	assert_true(stream_add(&sd, &cfg, 0x7ffffff1u, src, 1000));
	p = stream_data(&sd, &len);
	assert_int_equal(len, 10000);
	assert_memory_equal(p, src, 10000);
	assert_int_equal(cfg.overlaps, 0);
	assert_int_equal(sd.segs, 10);
	assert_int_equal(cfg.used, BLOCK(16384));
	stream_free(&sd, &cfg);
	assert_int_equal(cfg.used, 0);
}

static void test_growth_forward(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir sd = { 0 };
	static uint8_t src[10000];
	/* buffer size after each 1000-byte in-order segment */
	static const uint32_t caps[10] = { 2048, 2048, 4096, 4096, 8192,
		                           8192, 8192, 8192, 16384, 16384 };
	size_t len;
	const uint8_t *p;

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = pat(i);
	stream_config_init(&cfg, 16384, 0);
	for (uint32_t k = 0; k < 10; k++) {
		assert_true(stream_add(&sd, &cfg, 100 + k * 1000, src + k * 1000, 1000));
		assert_int_equal(sd.contig, (k + 1) * 1000);
		assert_int_equal(sd.cap, caps[k]);
		assert_int_equal(cfg.used, BLOCK(caps[k]));
	}
	p = stream_data(&sd, &len);
	assert_int_equal(len, 10000);
	assert_memory_equal(p, src, 10000);
	stream_free(&sd, &cfg);
	assert_int_equal(cfg.used, 0);
}

static void test_growth_keeps_held_bytes(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir sd = { 0 };
	static uint8_t src[4000];
	size_t len;
	const uint8_t *p;

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = pat(i);
	stream_config_init(&cfg, 16384, 0);
	stream_syn(&sd, 0);
	/* [0,100) contiguous, [1000,1100) held, in a 2048-byte buffer */
	assert_true(stream_add(&sd, &cfg, 1, src, 100));
	assert_false(stream_add(&sd, &cfg, 1001, src + 1000, 100));
	assert_int_equal(sd.cap, 2048);
	/* [3000,3100) needs 4096: the buffer and its have-bitmap move */
	assert_false(stream_add(&sd, &cfg, 3001, src + 3000, 100));
	assert_int_equal(sd.cap, 4096);
	/* filling [100,1000) must reach through the held bytes to 1100 */
	assert_true(stream_add(&sd, &cfg, 101, src + 100, 900));
	assert_int_equal(sd.contig, 1100);
	/* a retransmission of held bytes is still seen as one */
	assert_false(stream_add(&sd, &cfg, 3001, src, 10));
	assert_int_equal(cfg.overlaps, 1);
	assert_true(stream_add(&sd, &cfg, 1101, src + 1100, 1900));
	p = stream_data(&sd, &len);
	assert_int_equal(len, 3100);
	assert_memory_equal(p, src, 3100);
	stream_free(&sd, &cfg);
	assert_int_equal(cfg.used, 0);
}

/* In-order segments of 1 to 19 bytes start and end at every bit of the
 * have map's bytes (set a whole byte at a time in between): each byte
 * must be marked exactly once, so a retransmission of any segment, or
 * of any single byte, is an overlap and changes nothing, and a segment
 * just past the end is new. */
static void test_in_order_every_bit(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir sd = { 0 };
	static uint8_t src[256], junk[256];
	uint32_t off[20], n = 0, end = 0;
	size_t len;
	const uint8_t *p;

	for (size_t i = 0; i < sizeof(src); i++) {
		src[i] = pat(i);
		junk[i] = (uint8_t)~pat(i);
	}
	stream_config_init(&cfg, 16384, 0);
	stream_syn(&sd, 0);
	for (uint32_t l = 1; l < 20; l++) {
		off[n++] = end;
		assert_true(stream_add(&sd, &cfg, 1 + end, src + end, l));
		end += l;
		assert_int_equal(sd.contig, end);
	}
	assert_int_equal(end, 190);
	for (uint32_t k = 0; k < n; k++) {
		uint32_t l = k + 1;

		assert_false(stream_add(&sd, &cfg, 1 + off[k], junk + off[k], l));
		assert_int_equal(cfg.overlaps, k + 1);
	}
	for (uint32_t i = 0; i < end; i++)
		assert_false(stream_add(&sd, &cfg, 1 + i, junk + i, 1));
	assert_int_equal(cfg.overlaps, n + end);
	assert_int_equal(sd.contig, 190);
	assert_true(stream_add(&sd, &cfg, 1 + end, src + end, 1));
	p = stream_data(&sd, &len);
	assert_int_equal(len, 191);
	assert_memory_equal(p, src, 191);
	stream_free(&sd, &cfg);
	assert_int_equal(cfg.used, 0);
}

static void test_odd_window(void **state)
{
	(void)state;
	struct stream_config cfg;
	struct stream_dir sd = { 0 };
	static uint8_t src[3000];
	size_t len;
	const uint8_t *p;

	/* a window that is neither a power of two nor a multiple of 8 */
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = pat(i);
	stream_config_init(&cfg, 2501, 0);
	assert_true(stream_add(&sd, &cfg, 0, src, 2000));
	assert_int_equal(sd.cap, 2048);
	assert_true(stream_add(&sd, &cfg, 2000, src + 2000, 1000));
	assert_int_equal(sd.cap, 2501);
	assert_int_equal(cfg.used, BLOCK(2501));
	p = stream_data(&sd, &len);
	assert_int_equal(len, 2501);
	assert_memory_equal(p, src, 2501);
	assert_true(sd.flags & STREAM_FULL);
	stream_free(&sd, &cfg);
	assert_int_equal(cfg.used, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_init),
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_retransmission_first_copy_wins),
		cmocka_unit_test(test_partial_overlaps),
		cmocka_unit_test(test_wraparound),
		cmocka_unit_test(test_syn_isn_wraps),
		cmocka_unit_test(test_before_base_trimmed),
		cmocka_unit_test(test_midstream),
		cmocka_unit_test(test_syn_with_payload),
		cmocka_unit_test(test_window_full),
		cmocka_unit_test(test_gap),
		cmocka_unit_test(test_gap_boundary),
		cmocka_unit_test(test_memcap_first_buffer),
		cmocka_unit_test(test_memcap_shared),
		cmocka_unit_test(test_used_returns_to_zero),
		cmocka_unit_test(test_zero_length),
		cmocka_unit_test(test_fin),
		cmocka_unit_test(test_growth_reverse),
		cmocka_unit_test(test_growth_forward),
		cmocka_unit_test(test_growth_keeps_held_bytes),
		cmocka_unit_test(test_in_order_every_bit),
		cmocka_unit_test(test_odd_window),
	};

	return cmocka_run_group_tests_name("stream", tests, NULL, NULL);
}
