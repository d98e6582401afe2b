/* vec.h: room for one more element in a growable array. */
#ifndef DPIX_VEC_H
#define DPIX_VEC_H

#include <stdint.h>
#include <stdlib.h>

/*
 * The array v (n elements of elem bytes, room for *cap) with room for at
 * least n + 1, doubling from 8: v itself if it has room, else its new
 * place, *cap updated. NULL (out of memory, or a size that would
 * overflow) leaves v and *cap as they were.
 */
static inline void *vec_room(void *v, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;

	if (n < *cap)
		return v;
	ncap = *cap ? *cap * 2 : 8;
	if (ncap < *cap || ncap > SIZE_MAX / elem || !(v = realloc(v, ncap * elem)))
		return NULL;
	*cap = ncap;
	return v;
}

#endif
