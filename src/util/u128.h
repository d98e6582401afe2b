/*
 * u128.h: addresses as 128-bit numbers (IPv4 as ::ffff:a.b.c.d), ordered as
 * memcmp orders their bytes, compared in one step. unsigned __int128: GCC
 * and Clang on 64-bit targets.
 */
#ifndef DPIX_U128_H
#define DPIX_U128_H

#include <stdint.h>

typedef unsigned __int128 u128;

/* The 16 bytes of an address, big-endian, as one number. */
static inline u128 load128(const uint8_t a[16])
{
	u128 v = 0;

	for (int i = 0; i < 16; i++)
		v = v << 8 | a[i];
	return v;
}

#endif
