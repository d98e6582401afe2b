/* sort.h: qsort for arrays that may be empty. */
#ifndef DPIX_SORT_H
#define DPIX_SORT_H

#include <stdlib.h>

/* qsort(3) wants a valid pointer even for 0 elements; an empty array here
 * is often NULL, and there is nothing to sort under 2 elements anyway. */
static inline void sort_n(void *v, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(v, n, size, cmp);
}

#endif
