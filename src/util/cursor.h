/*
 * cursor.h: the one way dpix reads wire bytes.
 *
 * A cursor is a view (pointer, remaining length) over bytes we do not trust.
 * Every read checks what remains first and fails without moving when the
 * bytes run short, so a parser never reads past its input and never needs a
 * cast onto packet memory. Lengths are size_t and compared against what
 * remains, never added to a pointer first.
 *
 * Convention: readers return 0 on success and CUR_SHORT (-1) when fewer
 * bytes remain than asked for; on failure the cursor is unchanged.
 */
#ifndef DPIX_CURSOR_H
#define DPIX_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CUR_SHORT (-1)

struct cursor {
	const uint8_t *p;
	size_t len;
};

static inline struct cursor cur_make(const uint8_t *p, size_t len)
{
	struct cursor c = { p, p ? len : 0 };
	return c;
}

static inline size_t cur_left(const struct cursor *c)
{
	return c->len;
}

/* Pointer to the next unread byte; valid for cur_left() bytes. */
static inline const uint8_t *cur_ptr(const struct cursor *c)
{
	return c->p;
}

static inline int cur_skip(struct cursor *c, size_t n)
{
	if (n > c->len)
		return CUR_SHORT;
	if (n == 0)
		return 0; /* an empty cursor may hold NULL: no NULL + 0 */
	c->p += n;
	c->len -= n;
	return 0;
}

static inline int cur_u8(struct cursor *c, uint8_t *v)
{
	if (c->len < 1)
		return CUR_SHORT;
	*v = c->p[0];
	return cur_skip(c, 1);
}

static inline int cur_u16be(struct cursor *c, uint16_t *v)
{
	if (c->len < 2)
		return CUR_SHORT;
	*v = (uint16_t)((unsigned)c->p[0] << 8 | c->p[1]);
	return cur_skip(c, 2);
}

static inline int cur_u16le(struct cursor *c, uint16_t *v)
{
	if (c->len < 2)
		return CUR_SHORT;
	*v = (uint16_t)((unsigned)c->p[1] << 8 | c->p[0]);
	return cur_skip(c, 2);
}

static inline int cur_u24be(struct cursor *c, uint32_t *v)
{
	if (c->len < 3)
		return CUR_SHORT;
	*v = (uint32_t)c->p[0] << 16 | (uint32_t)c->p[1] << 8 | c->p[2];
	return cur_skip(c, 3);
}

static inline int cur_u32be(struct cursor *c, uint32_t *v)
{
	if (c->len < 4)
		return CUR_SHORT;
	*v = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 | (uint32_t)c->p[2] << 8 | c->p[3];
	return cur_skip(c, 4);
}

static inline int cur_u32le(struct cursor *c, uint32_t *v)
{
	if (c->len < 4)
		return CUR_SHORT;
	*v = (uint32_t)c->p[3] << 24 | (uint32_t)c->p[2] << 16 | (uint32_t)c->p[1] << 8 | c->p[0];
	return cur_skip(c, 4);
}

/* Copy n bytes out. */
static inline int cur_copy(struct cursor *c, void *dst, size_t n)
{
	if (n > c->len)
		return CUR_SHORT;
	if (n)
		memcpy(dst, c->p, n);
	return cur_skip(c, n);
}

/* Borrow the next n bytes as a pointer (valid as long as the input is). */
static inline int cur_bytes(struct cursor *c, size_t n, const uint8_t **out)
{
	if (n > c->len)
		return CUR_SHORT;
	*out = c->p;
	return cur_skip(c, n);
}

/* Split off the next n bytes as a cursor of their own and step over them. */
static inline int cur_sub(struct cursor *c, size_t n, struct cursor *sub)
{
	if (n > c->len)
		return CUR_SHORT;
	*sub = cur_make(c->p, n);
	return cur_skip(c, n);
}

/* Look at a byte ahead without consuming; off counts from the cursor. */
static inline int cur_peek_u8(const struct cursor *c, size_t off, uint8_t *v)
{
	if (off >= c->len)
		return CUR_SHORT;
	*v = c->p[off];
	return 0;
}

/* Position of the first occurrence of needle, or -1; for text protocols. */
static inline ptrdiff_t cur_find(const struct cursor *c, const void *needle, size_t nlen)
{
	const uint8_t *hit;

	if (nlen == 0 || nlen > c->len)
		return -1;
	hit = memmem(c->p, c->len, needle, nlen);
	return hit ? hit - c->p : -1;
}

#endif
