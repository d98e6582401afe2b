/*
 * test_cursor.c: the bounds-checked reader every parser goes through.
 *
 * For each reader: the value it returns (byte order checked against bytes
 * written out by hand), a read of exactly what remains, and a read one byte
 * short, which must fail with CUR_SHORT and leave the cursor where it was.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "util/cursor.h"

/* Distinct bytes so that any byte-order mistake shows in the value. */
static const uint8_t bytes8[8] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };

/* The cursor still points at p with len bytes left. */
static void assert_at(const struct cursor *c, const uint8_t *p, size_t len)
{
	assert_ptr_equal(cur_ptr(c), p);
	assert_int_equal(cur_left(c), len);
}

/* --- construction ----------------------------------------------------- */

static void test_make(void **state)
{
	(void)state;
	struct cursor c = cur_make(bytes8, 8);

	assert_at(&c, bytes8, 8);
	c = cur_make(bytes8, 0);
	assert_at(&c, bytes8, 0);
}

static void test_make_null_is_empty(void **state)
{
	(void)state;
	struct cursor c = cur_make(NULL, 5);
	uint8_t v8 = 0xaa;
	uint16_t v16 = 0xaaaa;
	uint32_t v32 = 0xaaaaaaaa;
	const uint8_t *p = bytes8;
	struct cursor sub = cur_make(bytes8, 3);

	assert_int_equal(cur_left(&c), 0);
	assert_null(cur_ptr(&c));
	/* Nothing can be read from it, and the outputs are untouched. */
	assert_int_equal(cur_u8(&c, &v8), CUR_SHORT);
	assert_int_equal(cur_u16be(&c, &v16), CUR_SHORT);
	assert_int_equal(cur_u32be(&c, &v32), CUR_SHORT);
	assert_int_equal(cur_skip(&c, 1), CUR_SHORT);
	assert_int_equal(cur_bytes(&c, 1, &p), CUR_SHORT);
	assert_int_equal(cur_sub(&c, 1, &sub), CUR_SHORT);
	assert_int_equal(cur_peek_u8(&c, 0, &v8), CUR_SHORT);
	assert_int_equal(cur_find(&c, "a", 1), -1);
	assert_int_equal(v8, 0xaa);
	assert_int_equal(v16, 0xaaaa);
	assert_int_equal(v32, 0xaaaaaaaa);
	assert_ptr_equal(p, bytes8);
	assert_at(&sub, bytes8, 3);
	assert_at(&c, NULL, 0);
}

/*
 * Zero-length operations on the empty cursor cur_make(NULL, n) gives must
 * succeed and leave it empty. They must also not compute NULL + 0, which is
 * undefined in C: run under UBSan, this test catches that.
 */
static void test_make_null_zero_length_ops(void **state)
{
	(void)state;
	struct cursor c = cur_make(NULL, 5);
	struct cursor sub = cur_make(bytes8, 3);
	const uint8_t *p = bytes8;

	assert_int_equal(cur_skip(&c, 0), 0);
	assert_at(&c, NULL, 0);
	assert_int_equal(cur_copy(&c, NULL, 0), 0);
	assert_at(&c, NULL, 0);
	assert_int_equal(cur_bytes(&c, 0, &p), 0);
	assert_null(p);
	assert_at(&c, NULL, 0);
	assert_int_equal(cur_sub(&c, 0, &sub), 0);
	assert_at(&sub, NULL, 0);
	assert_at(&c, NULL, 0);
}

/* --- fixed-size readers ----------------------------------------------- */

static void test_u8(void **state)
{
	(void)state;
	struct cursor c = cur_make(bytes8, 2);
	uint8_t v = 0;

	assert_int_equal(cur_u8(&c, &v), 0);
	assert_int_equal(v, 0x01);
	assert_at(&c, bytes8 + 1, 1);
	/* Exactly the last byte. */
	assert_int_equal(cur_u8(&c, &v), 0);
	assert_int_equal(v, 0x02);
	assert_at(&c, bytes8 + 2, 0);
	/* Nothing left: fails, value and cursor unchanged. */
	v = 0x55;
	assert_int_equal(cur_u8(&c, &v), CUR_SHORT);
	assert_int_equal(v, 0x55);
	assert_at(&c, bytes8 + 2, 0);
}

static void test_u16be(void **state)
{
	(void)state;
	struct cursor c = cur_make(bytes8, 2);
	uint16_t v = 0;

	/* 01 02 big-endian */
	assert_int_equal(cur_u16be(&c, &v), 0);
	assert_int_equal(v, 0x0102);
	assert_at(&c, bytes8 + 2, 0);

	/* One byte short. */
	c = cur_make(bytes8, 1);
	v = 0x5555;
	assert_int_equal(cur_u16be(&c, &v), CUR_SHORT);
	assert_int_equal(v, 0x5555);
	assert_at(&c, bytes8, 1);
}

static void test_u16be_high_bit(void **state)
{
	(void)state;
	/* A set top bit must not sign-extend. */
	static const uint8_t b[] = { 0xff, 0xfe };
	struct cursor c = cur_make(b, sizeof(b));
	uint16_t v = 0;

	assert_int_equal(cur_u16be(&c, &v), 0);
	assert_int_equal(v, 0xfffe);
}

static void test_u16le(void **state)
{
	(void)state;
	struct cursor c = cur_make(bytes8, 2);
	uint16_t v = 0;

	/* 01 02 little-endian */
	assert_int_equal(cur_u16le(&c, &v), 0);
	assert_int_equal(v, 0x0201);
	assert_at(&c, bytes8 + 2, 0);

	c = cur_make(bytes8, 1);
	v = 0x5555;
	assert_int_equal(cur_u16le(&c, &v), CUR_SHORT);
	assert_int_equal(v, 0x5555);
	assert_at(&c, bytes8, 1);
}

static void test_u24be(void **state)
{
	(void)state;
	struct cursor c = cur_make(bytes8, 3);
	uint32_t v = 0;

	/* 01 02 03 */
	assert_int_equal(cur_u24be(&c, &v), 0);
	assert_int_equal(v, 0x010203);
	assert_at(&c, bytes8 + 3, 0);

	c = cur_make(bytes8, 2);
	v = 0x55555555;
	assert_int_equal(cur_u24be(&c, &v), CUR_SHORT);
	assert_int_equal(v, 0x55555555);
	assert_at(&c, bytes8, 2);
}

static void test_u24be_high_bit(void **state)
{
	(void)state;
	static const uint8_t b[] = { 0xff, 0x80, 0x01 };
	struct cursor c = cur_make(b, sizeof(b));
	uint32_t v = 0;

	assert_int_equal(cur_u24be(&c, &v), 0);
	assert_int_equal(v, 0xff8001);
}

static void test_u32be(void **state)
{
	(void)state;
	struct cursor c = cur_make(bytes8, 4);
	uint32_t v = 0;

	/* 01 02 03 04 */
	assert_int_equal(cur_u32be(&c, &v), 0);
	assert_int_equal(v, 0x01020304);
	assert_at(&c, bytes8 + 4, 0);

	c = cur_make(bytes8, 3);
	v = 0x55555555;
	assert_int_equal(cur_u32be(&c, &v), CUR_SHORT);
	assert_int_equal(v, 0x55555555);
	assert_at(&c, bytes8, 3);
}

static void test_u32le(void **state)
{
	(void)state;
	struct cursor c = cur_make(bytes8, 4);
	uint32_t v = 0;

	/* 01 02 03 04 little-endian */
	assert_int_equal(cur_u32le(&c, &v), 0);
	assert_int_equal(v, 0x04030201);
	assert_at(&c, bytes8 + 4, 0);

	c = cur_make(bytes8, 3);
	v = 0x55555555;
	assert_int_equal(cur_u32le(&c, &v), CUR_SHORT);
	assert_int_equal(v, 0x55555555);
	assert_at(&c, bytes8, 3);
}

static void test_u32_high_bit(void **state)
{
	(void)state;
	static const uint8_t b[] = { 0x80, 0xff, 0x00, 0xfe };
	struct cursor c = cur_make(b, sizeof(b));
	uint32_t v = 0;

	assert_int_equal(cur_u32be(&c, &v), 0);
	assert_int_equal(v, 0x80ff00feu);
	c = cur_make(b, sizeof(b));
	assert_int_equal(cur_u32le(&c, &v), 0);
	assert_int_equal(v, 0xfe00ff80u);
}

static void test_sequential_reads(void **state)
{
	(void)state;
	/* u8 | u16be | u16le | u24be | u32be, 12 bytes in all */
	static const uint8_t b[] = {
		0x11,                   /* u8 */
		0x22, 0x33,             /* u16be */
		0x44, 0x55,             /* u16le */
		0x66, 0x77, 0x88,       /* u24be */
		0x99, 0xaa, 0xbb, 0xcc, /* u32be */
	};
	struct cursor c = cur_make(b, sizeof(b));
	uint8_t a8;
	uint16_t a16, b16;
	uint32_t a24, a32;

	assert_int_equal(cur_u8(&c, &a8), 0);
	assert_int_equal(cur_u16be(&c, &a16), 0);
	assert_int_equal(cur_u16le(&c, &b16), 0);
	assert_int_equal(cur_u24be(&c, &a24), 0);
	assert_int_equal(cur_u32be(&c, &a32), 0);
	assert_int_equal(a8, 0x11);
	assert_int_equal(a16, 0x2233);
	assert_int_equal(b16, 0x5544);
	assert_int_equal(a24, 0x667788);
	assert_int_equal(a32, 0x99aabbccu);
	assert_at(&c, b + 12, 0);
}

/* --- skip, copy, bytes, sub ------------------------------------------- */

static void test_skip(void **state)
{
	(void)state;
	struct cursor c = cur_make(bytes8, 8);

	/* Zero bytes: succeeds, nothing moves. */
	assert_int_equal(cur_skip(&c, 0), 0);
	assert_at(&c, bytes8, 8);
	assert_int_equal(cur_skip(&c, 3), 0);
	assert_at(&c, bytes8 + 3, 5);
	/* One more than remains. */
	assert_int_equal(cur_skip(&c, 6), CUR_SHORT);
	assert_at(&c, bytes8 + 3, 5);
	/* Huge values do not wrap. */
	assert_int_equal(cur_skip(&c, SIZE_MAX), CUR_SHORT);
	assert_at(&c, bytes8 + 3, 5);
	/* Exactly what remains. */
	assert_int_equal(cur_skip(&c, 5), 0);
	assert_at(&c, bytes8 + 8, 0);
	/* Zero on an empty cursor is still fine. */
	assert_int_equal(cur_skip(&c, 0), 0);
	assert_at(&c, bytes8 + 8, 0);
	assert_int_equal(cur_skip(&c, 1), CUR_SHORT);
	assert_at(&c, bytes8 + 8, 0);
}

static void test_copy(void **state)
{
	(void)state;
	struct cursor c = cur_make(bytes8, 8);
	uint8_t out[8];
	static const uint8_t expect[8] = { 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xee };

	memset(out, 0xee, sizeof(out));
	assert_int_equal(cur_skip(&c, 1), 0);
	/* Zero bytes: nothing written, nothing moved (dst may be NULL). */
	assert_int_equal(cur_copy(&c, NULL, 0), 0);
	assert_at(&c, bytes8 + 1, 7);
	/* One more than remains. */
	assert_int_equal(cur_copy(&c, out, 8), CUR_SHORT);
	assert_at(&c, bytes8 + 1, 7);
	assert_int_equal(out[0], 0xee);
	/* Exactly what remains. */
	assert_int_equal(cur_copy(&c, out, 7), 0);
	assert_memory_equal(out, expect, 8);
	assert_at(&c, bytes8 + 8, 0);
}

static void test_bytes(void **state)
{
	(void)state;
	struct cursor c = cur_make(bytes8, 8);
	const uint8_t *p = NULL;

	assert_int_equal(cur_bytes(&c, 2, &p), 0);
	assert_ptr_equal(p, bytes8);
	assert_at(&c, bytes8 + 2, 6);
	/* One short: p keeps its old value. */
	assert_int_equal(cur_bytes(&c, 7, &p), CUR_SHORT);
	assert_ptr_equal(p, bytes8);
	assert_at(&c, bytes8 + 2, 6);
	/* Exactly what remains. */
	assert_int_equal(cur_bytes(&c, 6, &p), 0);
	assert_ptr_equal(p, bytes8 + 2);
	assert_at(&c, bytes8 + 8, 0);
}

static void test_sub(void **state)
{
	(void)state;
	struct cursor c = cur_make(bytes8, 8);
	struct cursor sub;
	uint8_t v;

	assert_int_equal(cur_skip(&c, 1), 0);
	assert_int_equal(cur_sub(&c, 3, &sub), 0);
	/* The sub-cursor covers bytes 1..3 and the parent steps over them. */
	assert_at(&sub, bytes8 + 1, 3);
	assert_at(&c, bytes8 + 4, 4);
	/* The sub-cursor cannot read past its own end into the parent's bytes. */
	assert_int_equal(cur_skip(&sub, 2), 0);
	assert_int_equal(cur_u8(&sub, &v), 0);
	assert_int_equal(v, 0x04);
	assert_int_equal(cur_u8(&sub, &v), CUR_SHORT);
	assert_int_equal(cur_peek_u8(&sub, 0, &v), CUR_SHORT);
	assert_at(&sub, bytes8 + 4, 0);
	/* Reading the sub-cursor did not move the parent. */
	assert_at(&c, bytes8 + 4, 4);
}

static void test_sub_bounds(void **state)
{
	(void)state;
	struct cursor c = cur_make(bytes8, 4);
	struct cursor sub = cur_make(bytes8 + 7, 1);

	/* One more than remains: fails, neither cursor moves. */
	assert_int_equal(cur_sub(&c, 5, &sub), CUR_SHORT);
	assert_at(&c, bytes8, 4);
	assert_at(&sub, bytes8 + 7, 1);
	assert_int_equal(cur_sub(&c, SIZE_MAX, &sub), CUR_SHORT);
	assert_at(&c, bytes8, 4);
	/* Zero length: an empty sub at the current position. */
	assert_int_equal(cur_sub(&c, 0, &sub), 0);
	assert_at(&sub, bytes8, 0);
	assert_at(&c, bytes8, 4);
	/* Exactly what remains: the parent ends empty. */
	assert_int_equal(cur_sub(&c, 4, &sub), 0);
	assert_at(&sub, bytes8, 4);
	assert_at(&c, bytes8 + 4, 0);
	/* From an empty parent only a zero-length sub works. */
	assert_int_equal(cur_sub(&c, 1, &sub), CUR_SHORT);
	assert_at(&sub, bytes8, 4);
	assert_int_equal(cur_sub(&c, 0, &sub), 0);
	assert_int_equal(cur_left(&sub), 0);
}

/* --- peek and find ---------------------------------------------------- */

static void test_peek(void **state)
{
	(void)state;
	struct cursor c = cur_make(bytes8, 4);
	uint8_t v = 0;

	assert_int_equal(cur_peek_u8(&c, 0, &v), 0);
	assert_int_equal(v, 0x01);
	assert_int_equal(cur_peek_u8(&c, 3, &v), 0);
	assert_int_equal(v, 0x04);
	/* Peeking does not consume. */
	assert_at(&c, bytes8, 4);
	/* off == len is one past the end. */
	v = 0x55;
	assert_int_equal(cur_peek_u8(&c, 4, &v), CUR_SHORT);
	assert_int_equal(cur_peek_u8(&c, SIZE_MAX, &v), CUR_SHORT);
	assert_int_equal(v, 0x55);
	assert_at(&c, bytes8, 4);
}

static void test_find(void **state)
{
	(void)state;
	static const uint8_t text[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	/* Without the terminating NUL: 27 bytes. */
	struct cursor c = cur_make(text, sizeof(text) - 1);

	assert_int_equal(cur_left(&c), 27);
	/* First occurrence. */
	assert_int_equal(cur_find(&c, "\r\n", 2), 14);
	assert_int_equal(cur_find(&c, "GET", 3), 0);
	/* At the very end. */
	assert_int_equal(cur_find(&c, "\r\n\r\n", 4), 23);
	assert_int_equal(cur_find(&c, "\n", 1), 15);
	/* Absent. */
	assert_int_equal(cur_find(&c, "POST", 4), -1);
	/* Present only past the cursor's end: not found. */
	struct cursor part = cur_make(text, 25);
	assert_int_equal(cur_find(&part, "\r\n\r\n", 4), -1);
	assert_int_equal(cur_find(&part, "\r\n", 2), 14);
	/* An empty needle is never found. */
	assert_int_equal(cur_find(&c, "", 0), -1);
	/* find does not consume. */
	assert_at(&c, text, 27);
}

static void test_find_edges(void **state)
{
	(void)state;
	static const uint8_t b[] = { 'a', 'b', 'c' };
	struct cursor c = cur_make(b, sizeof(b));
	struct cursor empty = cur_make(b, 0);

	/* Needle longer than the input, even if the input is its prefix. */
	assert_int_equal(cur_find(&c, "abcd", 4), -1);
	/* Needle equal to the whole input. */
	assert_int_equal(cur_find(&c, "abc", 3), 0);
	/* Last byte. */
	assert_int_equal(cur_find(&c, "c", 1), 2);
	assert_int_equal(cur_find(&c, "bc", 2), 1);
	/* A needle that would straddle the end. */
	assert_int_equal(cur_find(&c, "cd", 2), -1);
	/* Empty input. */
	assert_int_equal(cur_find(&empty, "a", 1), -1);
	/* Found relative to the current position, not the start. */
	assert_int_equal(cur_skip(&c, 1), 0);
	assert_int_equal(cur_find(&c, "a", 1), -1);
	assert_int_equal(cur_find(&c, "c", 1), 1);
	/* Binary needle with a NUL in it. */
	static const uint8_t bin[] = { 0x00, 0x01, 0x00, 0x00, 0x02 };
	struct cursor cb = cur_make(bin, sizeof(bin));
	static const uint8_t nul2[] = { 0x00, 0x00 };
	assert_int_equal(cur_find(&cb, nul2, 2), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_make),
		cmocka_unit_test(test_make_null_is_empty),
		cmocka_unit_test(test_u8),
		cmocka_unit_test(test_u16be),
		cmocka_unit_test(test_u16be_high_bit),
		cmocka_unit_test(test_u16le),
		cmocka_unit_test(test_u24be),
		cmocka_unit_test(test_u24be_high_bit),
		cmocka_unit_test(test_u32be),
		cmocka_unit_test(test_u32le),
		cmocka_unit_test(test_u32_high_bit),
		cmocka_unit_test(test_sequential_reads),
		cmocka_unit_test(test_skip),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_sub),
		cmocka_unit_test(test_sub_bounds),
		cmocka_unit_test(test_peek),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_find_edges),
		cmocka_unit_test(test_make_null_zero_length_ops),
	};

	return cmocka_run_group_tests_name("cursor", tests, NULL, NULL);
}
