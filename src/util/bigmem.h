/* bigmem.h: ask for huge pages under a big lookup table. */
#ifndef DPIX_BIGMEM_H
#define DPIX_BIGMEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#define BIGMEM_HUGE ((size_t)2 << 20)

/*
 * A table of millions of entries, probed at random, costs a TLB miss per
 * probe on 4 KiB pages; on 2 MiB pages it fits the TLB. Advise the 2 MiB
 * aligned part of [p, p + len) (where the kernel has transparent huge
 * pages on madvise): best before the pages are first touched. Only a hint:
 * nothing changes where the kernel says no.
 */
static inline void bigmem_advise(void *p, size_t len)
{
#ifdef MADV_HUGEPAGE
	uintptr_t lo = ((uintptr_t)p + BIGMEM_HUGE - 1) & ~(uintptr_t)(BIGMEM_HUGE - 1);
	uintptr_t hi = ((uintptr_t)p + len) & ~(uintptr_t)(BIGMEM_HUGE - 1);

	if (len >= 2 * BIGMEM_HUGE && hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
	(void)p;
	(void)len;
#endif
}

#endif
