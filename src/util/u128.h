/*
 * u128.h: addresses as 128-bit numbers (IPv4 as ::ffff:a.b.c.d), ordered as
 * memcmp orders their bytes, compared in one step. unsigned __int128: GCC
 * and Clang on 64-bit targets.
 */
#ifndef DPIX_U128_H
#define DPIX_U128_H

#include <stdint.h>
#include <string.h>

typedef unsigned __int128 u128;

static inline uint64_t load64be(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/* The 16 bytes of an address, big-endian, as one number: two loads. */
static inline u128 load128(const uint8_t a[16])
{
	return (u128)load64be(a) << 64 | load64be(a + 8);
}

#endif
