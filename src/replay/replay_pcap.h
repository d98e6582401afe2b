/*
 * replay_pcap.h: dpix's own reader of classic pcap files, over a file image
 * in memory (replay.c maps the file). No I/O here, so the unit tests and the
 * fuzz harness drive it on byte arrays and compare it with libpcap.
 *
 * It takes only what it reads exactly as libpcap 1.10 does: version 2.4,
 * either byte order, micro- or nanosecond magic, and the link types replay
 * decodes. Anything else (pcapng, other magics or versions, other link
 * types, a file too short for its header) is "not mine" and goes to
 * libpcap, whose messages the user then sees unchanged.
 */
#ifndef DPIX_REPLAY_PCAP_H
#define DPIX_REPLAY_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/cursor.h"

#define REPLAY_PCAP_NOT_MINE (-1)
#define REPLAY_PCAP_ERR_MAX 128

struct replay_pcap {
	struct cursor rest; /* the records not read yet */
	size_t size;	    /* of the whole image */
	const uint8_t *image;
	size_t ahead;	  /* bytes of the image prefetched so far */
	uint32_t snaplen; /* the header's, adjusted as libpcap does */
	int dlt;	  /* link type as a DLT_* value */
	bool big_endian;
	bool nsec;
	char err[REPLAY_PCAP_ERR_MAX]; /* after replay_pcap_next() returned -1 */
};

/* One record; data borrows caplen bytes of the image. Timestamps as
 * libpcap gives them in microsecond precision: nanoseconds divided by 1000,
 * 32-bit fields sign-extended in a file of the host's byte order and not in
 * the other (libpcap's byte swap is unsigned). */
struct replay_pcap_rec {
	const uint8_t *data;
	uint32_t caplen;
	uint32_t len;
	int64_t sec;
	int64_t usec;
};

/* Start reading the image (borrowed until the last replay_pcap_next()):
 * 0, or REPLAY_PCAP_NOT_MINE if libpcap should read it instead. */
int replay_pcap_open(struct replay_pcap *r, const uint8_t *image, size_t size);

/* The next record: 1, 0 at the end of the file, or -1 for a damaged record
 * (r->err holds libpcap's message for the same damage). */
int replay_pcap_next(struct replay_pcap *r, struct replay_pcap_rec *rec);

/* Bytes of the image read so far. */
static inline size_t replay_pcap_offset(const struct replay_pcap *r)
{
	return r->size - cur_left(&r->rest);
}

#endif
