/* stream-t.h: the first bytes of one direction of a TCP flow, in order. */
#ifndef DPIX_STREAM_T_H
#define DPIX_STREAM_T_H

#include <stddef.h>
#include <stdint.h>

#define STREAM_BASE_SET 0x01 /* base is known (SYN or first segment seen) */
#define STREAM_GAP 0x02	     /* a segment began past the window with a hole before it */
#define STREAM_MEMCAP 0x04   /* the shared stream memory cap refused a buffer */
#define STREAM_FIN 0x08	     /* the sender closed this direction */
#define STREAM_FULL 0x10     /* the window is filled */

#define STREAM_STOPPED (STREAM_GAP | STREAM_MEMCAP)

/*
 * Bytes [0, contig) of the direction are in buf, in sequence order. Bytes
 * past contig that arrived early are held in buf with their bit set in
 * have. Memory grows by doubling up to the window, never beyond.
 */
struct stream_dir {
	uint8_t *buf; /* cap bytes, then the have bitmap (cap / 8 bytes) */
	uint32_t cap;
	uint32_t contig;
	uint32_t hi;   /* end of the furthest byte written */
	uint32_t base; /* sequence number of byte 0 */
	uint16_t segs; /* payload segments seen, for packet budgets */
	uint8_t flags;
};

/* Shared by every stream of one flow table. */
struct stream_config {
	uint32_t window; /* bytes kept per direction, default 16 KiB */
	size_t memcap;	 /* bytes all stream buffers may hold together */
	size_t used;
	uint64_t gaps; /* directions stopped by a gap */
	uint64_t memcap_hits;
	uint64_t overlaps; /* segments that repeated bytes we had (first copy kept) */
};

#define STREAM_DEFAULT_WINDOW 16384u
#define STREAM_MAX_WINDOW (1u << 20)
#define STREAM_DEFAULT_MEMCAP ((size_t)64 << 20)

#endif
